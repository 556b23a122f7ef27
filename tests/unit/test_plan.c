/* plan: canonical bytes and hash stability (pure logic, no database). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "plan.h"
#include "unit.h"

static struct migration mk(const char *version, const char *name, const char *sql)
{
	struct migration m;
	memset(&m, 0, sizeof m);
	m.version = (char *)version;
	m.name = (char *)name;
	m.up_path = (char *)"/nowhere/up.sql";
	m.up_sql = (char *)sql;
	m.transactional = 1;
	migration_checksum(sql, strlen(sql), m.checksum);
	return m;
}

/* history builds a history the plan may own (rows "version:checksum", status applied) */
static struct history history(size_t n, const char *const *rows)
{
	struct history h = { xcalloc(n ? n : 1, sizeof *h.v), n, 1 };
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(rows[i], ':');
		h.v[i].version = xstrndup(rows[i], (size_t)(colon - rows[i]));
		h.v[i].checksum = xstrdup(colon + 1);
		h.v[i].status = xstrdup("applied");
		h.v[i].name = xstrdup("x");
	}
	return h;
}

struct fixture {
	struct migration v[3];
	struct migration_set set;
	struct cfg_target t;
	struct cfg_skip skip;
	struct cfg_env env;
	struct cfg_project p;
};

static void fixture(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	f->v[0] = mk("0001", "create_app", "CREATE SCHEMA app;\n");
	f->v[1] = mk("0002", "add_trade", "CREATE TABLE app.trade (id int);\n");
	f->v[2] = mk("0003", "seed_ref", "INSERT INTO ref.x VALUES (1);\n");
	f->set.v = f->v;
	f->set.n = 3;
	f->t.name = (char *)"t1";
	f->skip.version = (char *)"0003";
	f->skip.reason = (char *)"the \"DBA\" does it/by hand";
	f->env.name = (char *)"qa";
	f->env.skips = &f->skip;
	f->env.nskips = 1;
	f->p.name = (char *)"proj";
}

/* bytes_of builds the plan of the fixture against a history and serialises it */
static char *bytes_of(const struct fixture *f, size_t nrows, const char *const *rows, const char *sysid)
{
	struct plan pl;
	plan_init(&pl, &f->p, &f->env, NULL, 1);
	snprintf(pl.env_sha256, sizeof pl.env_sha256, "aa");
	struct history h = history(nrows, rows);
	CU_ASSERT_EQUAL(plan_target_build(&pl.targets[0], &f->t, sysid, "db", &h, &f->set, &f->env, 0), 0);
	CU_ASSERT_EQUAL(h.v, NULL); /* taken over */
	char *bytes = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL(plan_bytes(&pl, &bytes, &len), 0);
	CU_ASSERT_EQUAL(len, bytes ? strlen(bytes) : 0);
	plan_release(&pl);
	return bytes;
}

static char *hash_of(const char *bytes)
{
	char hex[65];
	plan_hash(bytes, strlen(bytes), hex);
	return xstrdup(hex);
}

static void test_hash_is_sha256(void)
{
	char hex[65];
	plan_hash("abc", 3, hex);
	CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_same_input_same_bytes(void)
{
	struct fixture f;
	fixture(&f);
	const char *rows[] = { "0001:abc" };
	char *a = bytes_of(&f, 1, rows, "42");
	char *b = bytes_of(&f, 1, rows, "42");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, b);
	/* the shape docs/plan.md promises: compact, sorted, one trailing line feed */
	const char *head = "{\"env\":\"qa\",\"env_sha256\":\"aa\",\"padctl_plan\":2,\"pipeline\":null,";
	CU_ASSERT_EQUAL(strncmp(a, head, strlen(head)), 0);
	CU_ASSERT(strchr(a, '\n') == a + strlen(a) - 1);
	CU_ASSERT_PTR_NULL(strstr(a, ": "));
	CU_ASSERT_PTR_NOT_NULL(
		strstr(a, "\"history\":[{\"checksum\":\"abc\",\"status\":\"applied\",\"version\":\"0001\"}]"));
	/* 0001 applied: 0002 to apply, 0003 skipped with its reason (quotes escaped, slash not) */
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "{\"action\":\"apply\",\"down_sha256\":null,\"name\":\"add_trade\","
					 "\"transactional\":true,\"up_sha256\":\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"action\":\"skip\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"reason\":\"the \\\"DBA\\\" does it/by hand\""));
	CU_ASSERT_PTR_NULL(strstr(a, "create_app"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"backfills\":[],\"backups\":[],\"dbname\":\"db\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"lint\":[]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"seeds\":[]"));
	/* the canonical form of canonical bytes is themselves */
	char *c = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL(plan_canonical(a, strlen(a), &c, &n), 0);
	CU_ASSERT_STRING_EQUAL(c, a);
	free(a);
	free(b);
	free(c);
}

static void test_key_order_irrelevant(void)
{
	const char *x = "{\"b\": [1, {\"d\": \"caf\xc3\xa9\", \"c\": null}],\n \"a\": true, \"e\": \"a/b\\u001f\\n\"}";
	const char *y = "{\"e\":\"a\\/b\\u001F\\n\",\"a\":true,\"b\":[1,{\"c\":null,\"d\":\"caf\\u00e9\"}]}";
	char *cx = NULL, *cy = NULL;
	size_t nx = 0, ny = 0;
	CU_ASSERT_EQUAL_FATAL(plan_canonical(x, strlen(x), &cx, &nx), 0);
	CU_ASSERT_EQUAL_FATAL(plan_canonical(y, strlen(y), &cy, &ny), 0);
	CU_ASSERT_STRING_EQUAL(cx, cy);
	CU_ASSERT_STRING_EQUAL(cx,
			       "{\"a\":true,\"b\":[1,{\"c\":null,\"d\":\"caf\xc3\xa9\"}],\"e\":\"a/b\\u001F\\n\"}\n");
	CU_ASSERT_EQUAL(nx, strlen(cx));
	free(cx);
	free(cy);
	/* what has no single canonical form is refused */
	char *bad = NULL;
	size_t nb = 0;
	CU_ASSERT_EQUAL(plan_canonical("{\"a\":1.5}", 9, &bad, &nb), -1);
	err_clear();
	CU_ASSERT_EQUAL(plan_canonical("{\"a\":1,\"a\":2}", 13, &bad, &nb), -1);
	err_clear();
	CU_ASSERT_EQUAL(plan_canonical("{\"a\":", 5, &bad, &nb), -1);
	err_clear();
	CU_ASSERT_PTR_NULL(bad);
}

static void test_changes_move_the_hash(void)
{
	struct fixture f;
	fixture(&f);
	const char *rows[] = { "0001:abc" };
	const char *other[] = { "0001:abd" };
	const char *more[] = { "0000:fff", "0001:abc" };
	char *base = bytes_of(&f, 1, rows, "42");
	char *h0 = hash_of(base);
	char *b1 = bytes_of(&f, 1, other, "42"); /* a history checksum */
	char *b2 = bytes_of(&f, 2, more, "42"); /* a history row more */
	char *b3 = bytes_of(&f, 1, rows, "43"); /* another server */
	f.v[1] = mk("0002", "add_trade", "CREATE TABLE app.trade (id bigint);\n"); /* a changed up.sql */
	char *b4 = bytes_of(&f, 1, rows, "42");
	char *h1 = hash_of(b1), *h2 = hash_of(b2), *h3 = hash_of(b3), *h4 = hash_of(b4);
	CU_ASSERT_STRING_NOT_EQUAL(h0, h1);
	CU_ASSERT_STRING_NOT_EQUAL(h0, h2);
	CU_ASSERT_STRING_NOT_EQUAL(h0, h3);
	CU_ASSERT_STRING_NOT_EQUAL(h0, h4);
	/* the difference is named by target and version */
	char *d = plan_diff(base, b4, 10);
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "targets[t1].migrations[0002].up_sha256: was \""));
	free(d);
	d = plan_diff(base, b2, 10);
	CU_ASSERT_STRING_EQUAL(d, "targets[t1].history[0000]: new since the plan");
	free(d);
	d = plan_diff(base, base, 10);
	CU_ASSERT_STRING_EQUAL(d, "");
	free(d);
	char *all[] = { base, h0, b1, b2, b3, b4, h1, h2, h3, h4 };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]);
}

static void test_down_file_moves_the_hash(void)
{
	struct fixture f;
	fixture(&f);
	char *dir = unit_tmpdir();
	char *down = xstrfmt("%s/down.sql", dir);
	f.v[1].down_path = down;
	/* the checksum of down.sql comes from the load (migrations_load), normalised as up.sql's */
	const char *texts[] = { "DROP TABLE app.trade;\n", "DROP TABLE app.trade;\r\n", "DROP TABLE IF EXISTS app.trade;\n" };
	char *bytes[3];
	const char *rows[] = { "0001:abc" };
	for (int i = 0; i < 3; i++) {
		migration_checksum(texts[i], strlen(texts[i]), f.v[1].down_sha256);
		bytes[i] = bytes_of(&f, 1, rows, "42");
	}
	char *a = bytes[0], *b = bytes[1], *c = bytes[2];
	CU_ASSERT_PTR_NULL(strstr(a, "\"down_sha256\":null,\"name\":\"add_trade\""));
	/* CRLF is the same file, as for up.sql */
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT_STRING_NOT_EQUAL(a, c);
	free(a);
	free(b);
	free(c);
	free(down);
	unit_rmrf(dir);
	free(dir);
}

/* plan_bytes writes the canonical bytes itself: they must be exactly what
 * jansson's canonical form of them is, escapes included */
static void test_bytes_are_canonical(void)
{
	struct fixture f;
	fixture(&f);
	f.v[1].name = (char *)"q\"b\\s/\x01\x08\x09\x0a\x0c\x0d\x1f\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	f.skip.reason = (char *)"tab\there\r\n\x1b[31m";
	const char *rows[] = { "0001:a\"b" };
	char *a = bytes_of(&f, 1, rows, "4\\2");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	char *c = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL_FATAL(plan_canonical(a, strlen(a), &c, &n), 0);
	CU_ASSERT_STRING_EQUAL(a, c);
	CU_ASSERT_EQUAL(n, strlen(a));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\\u0001\\b\\t\\n\\f\\r\\u001F\x7f"));
	free(a);
	free(c);
}

static void test_not_utf8_is_refused(void)
{
	struct fixture f;
	fixture(&f);
	f.v[1].name = (char *)"caf\xe9";
	struct plan pl;
	plan_init(&pl, &f.p, &f.env, NULL, 1);
	struct history h = history(0, NULL);
	CU_ASSERT_EQUAL(plan_target_build(&pl.targets[0], &f.t, "42", "db", &h, &f.set, &f.env, 0), 0);
	char *bytes = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL(plan_bytes(&pl, &bytes, &len), -1);
	CU_ASSERT_PTR_NULL(bytes);
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "caf\\xe9"));
	err_clear();
	plan_release(&pl);
}

static void test_body_hint(void)
{
	const char *h = "4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8e";
	char good[128], out[65];
	snprintf(good, sizeof good, "padctl plan body 1\n%s\n", h);
	CU_ASSERT_EQUAL(plan_body_hint_parse(good, strlen(good), out), 0);
	CU_ASSERT_STRING_EQUAL(out, h);
	/* anything but exactly that is no hint, and says nothing */
	const char *bad[] = {
		"",
		"padctl plan body 1\n",
		"padctl plan body 2\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8e\n",
		"padctl plan body 1\n4AA06D93D0DF06648EB042B5BEACA85BFF7D48EADAF70A4512D06C1348446C8E\n",
		"padctl plan body 1\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8\n",
		"padctl plan body 1\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8ee\n",
		"padctl plan body 1\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8e",
		"padctl plan body 1\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8e\n\n",
		"padctl plan body 1\r\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c\n",
		"padctl plan body 1\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8g\n",
		"padctl plan body 1\n4aa06d93d0df06648eb042b5beaca85bff7d48eadaf70a4512d06c1348446c8 \n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(out, 'x', sizeof out);
		CU_ASSERT_EQUAL(plan_body_hint_parse(bad[i], strlen(bad[i]), out), -1);
		CU_ASSERT_EQUAL(out[0], '\0');
		CU_ASSERT_FALSE(err_pending());
	}
	/* a NUL inside the right length is refused too */
	char nul[128];
	memcpy(nul, good, strlen(good));
	nul[30] = '\0';
	CU_ASSERT_EQUAL(plan_body_hint_parse(nul, strlen(good), out), -1);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "hash is sha256", test_hash_is_sha256 },
		{ "same input, same bytes", test_same_input_same_bytes },
		{ "key order is irrelevant", test_key_order_irrelevant },
		{ "a changed file or history moves the hash", test_changes_move_the_hash },
		{ "down.sql is covered", test_down_file_moves_the_hash },
		{ "the bytes are their own canonical form", test_bytes_are_canonical },
		{ "a name that is not UTF-8 is refused", test_not_utf8_is_refused },
		{ "the body hint is exactly a header and a hash", test_body_hint },
		{ NULL, NULL },
	};
	return unit_run("plan", tests);
}

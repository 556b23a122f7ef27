/* backfills/<name>.yml (config/backfill.c): a complete file, the defaults,
 * and malformed, hostile and edge-case files, each refused with
 * file:line:col, a message naming what is wrong and a hint. */
#include "unit.h"
#include "backfill.h"
#include "buf.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static char *const owned[] = { "app", "padealing" };

static int load(const char *text, struct cfg_backfill *b)
{
	unit_write(dir, "bf.yml", text);
	char *path = xstrfmt("%s/bf.yml", dir);
	int rc = config_parse_backfill(path, "bf", owned, 2, b);
	free(path);
	return rc;
}

#define OK_HEAD "source: {table: legacy.pad, key: id}\ntargets: [app.req]\n"

static void expect_fail_at(const char *text, const char *pos, const char *word, const char *hint, int line)
{
	struct cfg_backfill b;
	int rc = load(text, &b);
	const char *m = err_message();
	char *where = xstrfmt("bf.yml:%s: ", pos);
	int ok = rc == -1 && m && err_exit_status() == EXIT_USAGE && strstr(m, where) && strstr(m, word) &&
		 (!hint || (err_hint() && strstr(err_hint(), hint)));
	if (!ok)
		fprintf(stderr, "\n  line %d: expected [%s] [%s] hint [%s]\n  got: %s\n  hint: %s\n", line, where, word,
			hint ? hint : "", m ? m : "(no error)", err_hint() ? err_hint() : "(none)");
	CU_ASSERT_TRUE(ok);
	if (rc == 0)
		config_backfill_release(&b);
	free(where);
	err_clear();
}
#define EXPECT_FAIL(text, pos, word, hint) expect_fail_at(text, pos, word, hint, __LINE__)

static void test_complete(void)
{
	struct cfg_backfill b;
	int rc = load("description: move it\n"
		      "source:\n  table: legacy.pad\n  key: id\n"
		      "targets: [app.req, padealing.audit_log]\n"
		      "batch_size: 250\nstatement_timeout: 5\npause_ms: 20\n"
		      "prechecks:\n  - name: employee exists\n    sql: SELECT 1, 'x' WHERE false\n"
		      "sql: |\n  INSERT INTO app.req SELECT 1\n  RETURNING 1 AS source_id\n",
		      &b);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(b.name, "bf");
	CU_ASSERT_STRING_EQUAL(b.source_table, "legacy.pad");
	CU_ASSERT_STRING_EQUAL(b.source_key, "id");
	CU_ASSERT_EQUAL(b.ntargets, 2);
	CU_ASSERT_STRING_EQUAL(b.targets[1], "padealing.audit_log");
	CU_ASSERT_EQUAL(b.batch_size, 250);
	CU_ASSERT_EQUAL(b.statement_timeout, 5);
	CU_ASSERT_EQUAL(b.pause_ms, 20);
	CU_ASSERT_EQUAL(b.nchecks, 1);
	CU_ASSERT_STRING_EQUAL(b.checks[0].name, "employee exists");
	CU_ASSERT_EQUAL(b.checks[0].line, 11);
	CU_ASSERT_EQUAL(b.sql_line, 13); /* the block's first line, not the `|` */
	CU_ASSERT_PTR_NOT_NULL(strstr(b.sql, "RETURNING"));
	config_backfill_release(&b);
	CU_ASSERT_FALSE(err_pending());
}

static void test_defaults(void)
{
	struct cfg_backfill b;
	int rc = load(OK_HEAD "sql: SELECT 1\n", &b);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(b.batch_size, 1000);
	CU_ASSERT_EQUAL(b.statement_timeout, 60);
	CU_ASSERT_EQUAL(b.pause_ms, 0);
	CU_ASSERT_EQUAL(b.nchecks, 0);
	CU_ASSERT_PTR_NULL(b.description);
	CU_ASSERT_EQUAL(b.sql_line, 3);
	config_backfill_release(&b);
}

static void test_malformed(void)
{
	EXPECT_FAIL("targets: [app.req]\nsql: SELECT 1\n", "1:1", "source", "source:");
	EXPECT_FAIL("source: {table: legacy.pad}\ntargets: [app.req]\nsql: SELECT 1\n", "1:9", "key", "key: id");
	EXPECT_FAIL(OK_HEAD, "1:1", "sql", "sql: |");
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nbatch: 10\n", "4:1", "batch", "batch_size");
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nbatch_size: 0\n", "4:13", "batch_size", NULL);
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nbatch_size: 100001\n", "4:13", "batch_size", NULL);
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nstatement_timeout: -1\n", "4:20", "statement_timeout", NULL);
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\npause_ms: soon\n", "4:11", "pause_ms", NULL);
	EXPECT_FAIL(OK_HEAD "sql: \"   \"\n", "3:6", "blank", NULL);
	EXPECT_FAIL(OK_HEAD "sql: [SELECT 1]\n", "3:6", "sql", NULL);
	EXPECT_FAIL("source: {table: pad, key: id}\ntargets: [app.req]\nsql: SELECT 1\n", "1:17",
		    "invalid source table", "schema.table");
	EXPECT_FAIL("source: {table: a.b.c, key: id}\ntargets: [app.req]\nsql: SELECT 1\n", "1:17",
		    "invalid source table", NULL);
	EXPECT_FAIL("source: {table: legacy.pad, key: \"id; DROP TABLE x\"}\ntargets: [app.req]\nsql: SELECT 1\n",
		    "1:34", "invalid source key", NULL);
	EXPECT_FAIL("source: {table: legacy.pad, key: id}\ntargets: []\nsql: SELECT 1\n", "2:10", "empty", NULL);
	EXPECT_FAIL("source: {table: legacy.pad, key: id}\ntargets: [app.req, app.req]\nsql: SELECT 1\n", "2:20",
		    "app.req", NULL);
	EXPECT_FAIL("source: {table: legacy.pad, key: id}\ntargets: [\"app.\\\"x\\\"\"]\nsql: SELECT 1\n", "2:11",
		    "invalid target table", "schema.table");
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nprechecks: {name: x}\n", "4:12", "prechecks", NULL);
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nprechecks:\n  - name: x\n", "5:5", "sql", NULL);
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nprechecks:\n  - sql: SELECT 1\n    nmae: x\n", "6:5", "nmae", NULL);
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nprechecks:\n  - name: \"a\\nb\"\n    sql: SELECT 1\n", "5:11",
		    "control character", NULL);
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\nsql: SELECT 2\n", "4:1", "sql", NULL);
	EXPECT_FAIL("- a\n- b\n", "1:1", "mapping", NULL);
}

/* a backfill writes: a target outside the owned schemas (the protected
 * reference schema above all) is refused before anything runs */
static void test_targets_owned(void)
{
	EXPECT_FAIL("source: {table: legacy.pad, key: id}\ntargets: [app.req, bo_airflow.oracle_employee]\n"
		    "sql: SELECT 1\n",
		    "2:10", "not in a schema the project owns", "owned");
	EXPECT_FAIL("source: {table: legacy.pad, key: id}\ntargets: [application.req]\nsql: SELECT 1\n", "2:10",
		    "not in a schema the project owns", NULL);
}

static void test_hostile(void)
{
	/* aliases are references, not copies: a "billion laughs" stays small */
	struct buf t = BUF_INIT;
	buf_adds(&t, OK_HEAD "sql: SELECT 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 12; i++)
		buf_addf(&t, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1,
			 i - 1, i - 1, i - 1, i - 1, i - 1);
	EXPECT_FAIL(buf_str(&t), "4:1", "a0", NULL);
	buf_release(&t);
	/* deep nesting is refused while reading */
	struct buf d = BUF_INIT;
	buf_adds(&d, OK_HEAD "sql: SELECT 1\nprechecks: ");
	for (int i = 0; i < 200; i++)
		buf_adds(&d, "[");
	struct cfg_backfill b;
	unit_write(dir, "bf.yml", buf_str(&d));
	char *path = xstrfmt("%s/bf.yml", dir);
	CU_ASSERT_EQUAL(config_parse_backfill(path, "bf", owned, 2, &b), -1);
	CU_ASSERT_PTR_NOT_NULL(err_message());
	err_clear();
	free(path);
	buf_release(&d);
	/* a secret-looking key is not accepted either */
	EXPECT_FAIL(OK_HEAD "sql: SELECT 1\npassword: x\n", "4:1", "password", NULL);
	/* not UTF-8 / binary junk */
	EXPECT_FAIL("\xff\xfe\x00junk", "1:1", "", NULL);
}

static void test_load_by_name(void)
{
	struct cfg_project p;
	memset(&p, 0, sizeof p);
	p.backfills_dir = dir;
	p.owned = (char **)owned;
	p.nowned = 2;
	struct cfg_backfill b;
	CU_ASSERT_EQUAL(config_load_backfill(&p, "../etc/passwd", &b), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "invalid backfill name"));
	err_clear();
	CU_ASSERT_EQUAL(config_load_backfill(&p, "nope", &b), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "unknown backfill \"nope\""));
	err_clear();
	unit_write(dir, "good.yml", OK_HEAD "sql: SELECT 1\n");
	CU_ASSERT_EQUAL_FATAL(config_load_backfill(&p, "good", &b), 0);
	CU_ASSERT_STRING_EQUAL(b.name, "good");
	config_backfill_release(&b);
}

static void test_qualified(void)
{
	CU_ASSERT_TRUE(backfill_qualified_ok("a.b"));
	CU_ASSERT_TRUE(backfill_qualified_ok("padealing.pad_request"));
	CU_ASSERT_FALSE(backfill_qualified_ok("a"));
	CU_ASSERT_FALSE(backfill_qualified_ok(".b"));
	CU_ASSERT_FALSE(backfill_qualified_ok("a."));
	CU_ASSERT_FALSE(backfill_qualified_ok("a.b.c"));
	CU_ASSERT_FALSE(backfill_qualified_ok("1a.b"));
	CU_ASSERT_FALSE(backfill_qualified_ok("a.b c"));
	CU_ASSERT_FALSE(backfill_qualified_ok("a.\"b\""));
	CU_ASSERT_FALSE(backfill_qualified_ok(NULL));
}

int main(void)
{
	dir = unit_tmpdir();
	static const struct unit_test tests[] = {
		{ "a complete file", test_complete },	  { "defaults", test_defaults },
		{ "malformed files", test_malformed },	  { "targets only in owned schemas", test_targets_owned },
		{ "hostile files", test_hostile },	  { "loading by name", test_load_by_name },
		{ "schema.table names", test_qualified }, { NULL, NULL },
	};
	int rc = unit_run("backfill", tests);
	unit_rmrf(dir);
	free(dir);
	return rc;
}

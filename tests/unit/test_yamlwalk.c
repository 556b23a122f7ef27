/* The YAML walker on its own, with a table of its own: required keys, types,
 * ranges, defaults, nested mappings, setters, secrets, unknown keys with the
 * hint, and the markdown reference made from the same table. */
#include "unit.h"
#include "buf.h"
#include "log.h"
#include "yamlwalk.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct thing {
	char *name;
	int count;
	int flag;
	char *color;
	char **tags;
	size_t ntags;
	int port;
	char *mode;
	char *custom;
	int done_ran;
};

static const char *const colors[] = { "red", "green", NULL };

static int tag_ok(const char *s)
{
	return s[0] != '-';
}

/* set_custom is called with a NULL value when the key is absent: it applies its default. */
static int set_custom(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		      const yaml_node_t *v, void *obj)
{
	struct thing *t = obj;
	(void)map;
	(void)k;
	if (!v) {
		t->custom = xstrdup(fl->dflt);
		return 0;
	}
	return yw_str(w->doc, v, "\"custom\"", &t->custom);
}

static int thing_done(struct yw_walk *w, const yaml_node_t *map, void *obj)
{
	struct thing *t = obj;
	t->done_ran = 1;
	if (t->count == 7)
		return yw_err(w->doc, map, "count 7 is unlucky");
	return 0;
}

static const struct yw_field inner_fields[] = {
	{ .key = "port",
	  .type = YW_INT,
	  .lo = 1,
	  .hi = 65535,
	  .off = offsetof(struct thing, port),
	  .what = "\"inner.port\"",
	  .doc_type = "integer 1-65535",
	  .doc_default = "`5`",
	  .help = "a port" },
	{ .key = "mode",
	  .type = YW_STRING,
	  .off = offsetof(struct thing, mode),
	  .dflt = "fast",
	  .doc_type = "string",
	  .help = "a mode" },
};
static const struct yw_table inner_table = YW_TABLE(inner_fields, NULL);

static const struct yw_field thing_fields[] = {
	{ .key = "secret", .type = YW_SECRET, .hint = "use secret_env" },
	{ .key = "name",
	  .type = YW_STRING,
	  .required = 1,
	  .off = offsetof(struct thing, name),
	  .hint = "add `name: NAME`",
	  .doc_type = "string",
	  .help = "the name" },
	{ .key = "count",
	  .type = YW_INT,
	  .lo = 1,
	  .hi = 10,
	  .off = offsetof(struct thing, count),
	  .doc_type = "integer 1-10",
	  .help = "how many" },
	{ .key = "flag", .type = YW_BOOL, .off = offsetof(struct thing, flag), .doc_type = "bool", .help = "a flag" },
	{ .key = "color",
	  .type = YW_ENUM,
	  .choices = colors,
	  .dflt = "red",
	  .off = offsetof(struct thing, color),
	  .doc_type = "`red` or `green`",
	  .doc_default = "`red`",
	  .help = "a color" },
	{ .key = "tags",
	  .type = YW_NAMES,
	  .check = tag_ok,
	  .item = "tag",
	  .hint = "a tag does not start with -",
	  .off = offsetof(struct thing, tags),
	  .off_n = offsetof(struct thing, ntags),
	  .doc_type = "list of tags",
	  .help = "tags" },
	{ .key = "inner", .type = YW_MAP, .sub = &inner_table },
	{ .key = "custom", .type = YW_FN, .fn = set_custom, .dflt = "dflt" },
	{ .key = "later", .type = YW_LATER },
};
static const struct yw_table thing_table = YW_TABLE(thing_fields, thing_done);

static char *dir;

static void thing_release(struct thing *t)
{
	free(t->name);
	free(t->color);
	for (size_t i = 0; i < t->ntags; i++)
		free(t->tags[i]);
	free(t->tags);
	free(t->mode);
	free(t->custom);
	memset(t, 0, sizeof *t);
}

/* walk writes text to thing.yml, loads and walks it into *t. */
static int walk(const char *text, struct thing *t)
{
	unit_write(dir, "thing.yml", text);
	char *path = xstrfmt("%s/thing.yml", dir);
	struct yw_doc d;
	struct yw_walk w = { &d, NULL };
	memset(t, 0, sizeof *t);
	int rc = yw_load(&d, path, &thing_table);
	if (!rc)
		rc = yw_walk_map(&w, yw_root(&d), &thing_table, "thing.yml", t);
	yw_release(&d);
	free(path);
	return rc;
}

/* expect_fail walks text, expects an error holding pos (after "thing.yml:"),
 * word and hint (when not NULL), and that forbid appears nowhere. */
static void expect_fail_at(const char *text, const char *pos, const char *word, const char *hint, const char *forbid,
			   int line)
{
	struct thing t;
	int rc = walk(text, &t);
	thing_release(&t);
	const char *m = err_message();
	char *where = xstrfmt("thing.yml:%s: ", pos);
	int ok = rc == -1 && m && err_exit_status() == EXIT_USAGE && strstr(m, where) && strstr(m, word) &&
		 (!hint || (err_hint() && strstr(err_hint(), hint))) &&
		 (!forbid || (!strstr(m, forbid) && !(err_hint() && strstr(err_hint(), forbid))));
	if (!ok)
		fprintf(stderr, "\n  line %d: expected [%s] [%s] hint [%s]\n  got: %s\n  hint: %s\n", line, where, word,
			hint ? hint : "", m ? m : "(no error)", err_hint() ? err_hint() : "(none)");
	CU_ASSERT_TRUE(ok);
	free(where);
	err_clear();
}
#define EXPECT_FAIL(text, pos, word, hint) expect_fail_at(text, pos, word, hint, NULL, __LINE__)

static void test_values_and_defaults(void)
{
	struct thing t;
	int rc = walk("name: a\ncount: 3\nflag: yes\ntags: [x, y]\ninner: {port: 80}\nlater: whatever\n", &t);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(t.name, "a");
	CU_ASSERT_EQUAL(t.count, 3);
	CU_ASSERT_EQUAL(t.flag, 1);
	CU_ASSERT_STRING_EQUAL(t.color, "red");
	CU_ASSERT_EQUAL_FATAL(t.ntags, 2);
	CU_ASSERT_STRING_EQUAL(t.tags[1], "y");
	CU_ASSERT_EQUAL(t.port, 80);
	CU_ASSERT_STRING_EQUAL(t.mode, "fast");
	CU_ASSERT_STRING_EQUAL(t.custom, "dflt");
	CU_ASSERT_EQUAL(t.done_ran, 1);
	thing_release(&t);

	rc = walk("name: b\ncolor: green\ncustom: mine\n", &t);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(t.color, "green");
	CU_ASSERT_STRING_EQUAL(t.custom, "mine");
	CU_ASSERT_PTR_NULL(t.mode); /* a nested mapping that is absent is not walked */
	thing_release(&t);
}

static void test_required(void)
{
	EXPECT_FAIL("count: 3\n", "1:1", "missing key \"name\" in thing.yml", "add `name: NAME`");
	EXPECT_FAIL("name: ''\n", "1:7", "expected a non-empty string for \"name\"", NULL);
	EXPECT_FAIL("name:\n", "1:6", "expected a string for \"name\", found an empty value", NULL);
}

static void test_types_and_ranges(void)
{
	EXPECT_FAIL("name: a\ncount: 11\n", "2:8", "\"count\" 11 is out of range", "from 1 to 10");
	EXPECT_FAIL("name: a\ncount: 0\n", "2:8", "out of range", "from 1 to 10");
	EXPECT_FAIL("name: a\ncount: three\n", "2:8", "expected an integer for \"count\", found \"three\"", NULL);
	EXPECT_FAIL("name: a\ncount: [1]\n", "2:8", "expected an integer for \"count\", found a list", NULL);
	EXPECT_FAIL("name: a\nflag: maybe\n", "2:7", "expected a boolean for \"flag\"", "true or false");
	EXPECT_FAIL("name: a\ncolor: blue\n", "2:8", "invalid \"color\" \"blue\"", "expected one of: red, green");
	EXPECT_FAIL("name: a\ntags: [x, -y]\n", "2:11", "invalid tag \"-y\" in \"tags\"", "does not start with -");
	EXPECT_FAIL("name: a\ntags: [x, x]\n", "2:11", "duplicate tag \"x\" in \"tags\"", NULL);
	EXPECT_FAIL("name: a\ntags: x\n", "2:7", "expected a list for \"tags\"", NULL);
	EXPECT_FAIL("name: a\ncount: 7\n", "1:1", "count 7 is unlucky", NULL);
}

static void test_nested(void)
{
	EXPECT_FAIL("name: a\ninner: {port: 0}\n", "2:15", "\"inner.port\" 0 is out of range", "from 1 to 65535");
	EXPECT_FAIL("name: a\ninner: [1]\n", "2:8", "expected a mapping for \"inner\", found a list", NULL);
	EXPECT_FAIL("name: a\ninner:\n  port: 1\n  speed: 2\n", "4:3", "unknown key \"speed\" in \"inner\"",
		    "valid keys: port, mode");
}

static void test_unknown_duplicate_secret(void)
{
	/* the hint lists the table's keys in table order, secrets left out */
	EXPECT_FAIL("name: a\nnmae: b\n", "2:1", "unknown key \"nmae\" in thing.yml",
		    "valid keys: name, count, flag, color, tags, inner, custom, later");
	EXPECT_FAIL("name: a\ncount: 1\nname: b\n", "3:1", "duplicate key \"name\" in thing.yml",
		    "remove or rename one of them");
	EXPECT_FAIL("[1]: a\n", "1:1", "expected a string as a key in thing.yml", NULL);
	/* a secret is refused before anything else, and its value never shown */
	expect_fail_at("nmae: a\nsecret: hunter2\n", "2:1", "plaintext secret \"secret\" in thing.yml refused",
		       "use secret_env", "hunter2", __LINE__);
}

static void test_load_rules(void)
{
	EXPECT_FAIL("", "1:1", "empty file", "name, count, flag, color, tags, inner, custom, later");
	EXPECT_FAIL("- a\n", "1:1", "expected a mapping at the top of the file, found a list",
		    "expected the keys name");
	EXPECT_FAIL("name: a\n---\nname: b\n", "2:1", "a second YAML document", "one document");
	EXPECT_FAIL("name: a\n\tcount: 1\n", "2:1", "invalid YAML", "tabs");
	struct buf deep = BUF_INIT;
	buf_adds(&deep, "name: ");
	for (int i = 0; i < YW_MAX_DEPTH + 1; i++)
		buf_adds(&deep, "[");
	for (int i = 0; i < YW_MAX_DEPTH + 1; i++)
		buf_adds(&deep, "]");
	buf_adds(&deep, "\n");
	EXPECT_FAIL(buf_str(&deep), "1:70", "nested deeper than 64 levels", NULL);
	buf_release(&deep);
	/* an alias is a reference: a walk through it reads the anchored node */
	struct thing t;
	CU_ASSERT_EQUAL_FATAL(walk("name: &n a\ninner: {mode: *n}\n", &t), 0);
	CU_ASSERT_STRING_EQUAL(t.mode, "a");
	thing_release(&t);
}

static void test_markdown(void)
{
	struct buf b = BUF_INIT;
	yw_table_markdown(&thing_table, &b);
	const char *s = buf_str(&b);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "| key | type | default | meaning |\n|-----|------|---------|---------|\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "| `name` | string | required | the name |\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "| `count` | integer 1-10 | none | how many |\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "| `color` | `red` or `green` | `red` | a color |\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "| `inner.port` | integer 1-65535 | `5` | a port |\n"));
	/* secrets and keys without help text are not rows */
	CU_ASSERT_PTR_NULL(strstr(s, "secret"));
	CU_ASSERT_PTR_NULL(strstr(s, "custom"));
	buf_release(&b);
}

int main(void)
{
	dir = unit_tmpdir();
	static const struct unit_test tests[] = {
		{ "values and defaults", test_values_and_defaults },
		{ "required keys", test_required },
		{ "types and ranges", test_types_and_ranges },
		{ "nested mappings", test_nested },
		{ "unknown and duplicate keys, secrets", test_unknown_duplicate_secret },
		{ "load rules", test_load_rules },
		{ "markdown reference", test_markdown },
		{ NULL, NULL },
	};
	int rc = unit_run("yamlwalk", tests);
	unit_rmrf(dir);
	free(dir);
	return rc;
}

/* catalog: the pure parts of drift: normalisation of definitions, the diff
 * of two snapshots (missing, extra, changed; the baseline's scope), and the
 * cache file's text format (round trip; malformed and hostile input). */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "unit.h"

static void add(struct catalog *c, const char *kind, const char *name, const char *def)
{
	catalog_add(c, "app", kind, name, def);
}

static void test_normalise(void)
{
	char *v =
		catalog_normalise("view", " SELECT a.id,\n    a.status\n   FROM app.account a\n  WHERE ( a.id > 1 );");
	CU_ASSERT_STRING_EQUAL(v, "SELECT a.id, a.status FROM app.account a WHERE a.id > 1");
	free(v);
	/* the parenthesised form one server version prints, the bare one of another */
	char *p1 = catalog_normalise("view", " SELECT t.x\n   FROM app.t\n  WHERE ((t.a > 1) AND (t.b < 2));");
	char *p2 = catalog_normalise("view", "SELECT t.x FROM app.t WHERE t.a > 1 AND t.b < 2");
	CU_ASSERT_STRING_EQUAL(p1, p2);
	free(p1);
	free(p2);
	/* a real change stays one */
	char *c1 = catalog_normalise("view", "SELECT t.x FROM app.t WHERE t.a > 1");
	char *c2 = catalog_normalise("view", "SELECT t.x FROM app.t WHERE t.a > 2");
	CU_ASSERT_STRING_NOT_EQUAL(c1, c2);
	free(c1);
	free(c2);
	/* text the parser cannot read keeps the white-space normalisation */
	char *u = catalog_normalise("view", "SELEKT  x\n FROM ( t )");
	CU_ASSERT_STRING_EQUAL(u, "SELEKT x FROM (t)");
	free(u);
	/* pg_get_viewdef of two versions: the same view in other white space */
	char *a = catalog_normalise("materialized view", "SELECT x\n FROM t;");
	char *b = catalog_normalise("materialized view", " SELECT x FROM t");
	CU_ASSERT_STRING_EQUAL(a, b);
	free(a);
	free(b);
	char *f = catalog_normalise(
		"function", "CREATE FUNCTION f()\n  RETURNS int\n LANGUAGE sql\nAS $function$\n SELECT  1\n$function$");
	CU_ASSERT_STRING_EQUAL(f, "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $function$ SELECT 1 $function$");
	free(f);
	/* other kinds are kept as they are: a default's white space is data */
	char *c = catalog_normalise("column", "text default 'a  b'");
	CU_ASSERT_STRING_EQUAL(c, "text default 'a  b'");
	free(c);
	char *e = catalog_normalise("view", "");
	CU_ASSERT_STRING_EQUAL(e, "");
	free(e);
}

static int same_normalised(const char *kind, const char *a, const char *b)
{
	char *x = catalog_normalise(kind, a), *y = catalog_normalise(kind, b);
	int same = strcmp(x, y) == 0;
	free(x);
	free(y);
	return same;
}

#define FN(lang, body) \
	"CREATE OR REPLACE FUNCTION app.f()\n RETURNS text\n LANGUAGE " lang "\nAS $function$" body "$function$\n"

/* white space is normalised between tokens only: inside a string constant
 * or a quoted name, of a view or of a function's code, it is data */
static void test_normalise_literals(void)
{
	/* PL/pgSQL and SQL code: indentation and line breaks are not drift */
	CU_ASSERT(same_normalised("function", FN("plpgsql", "\nBEGIN\n    RETURN 'a  b';\nEND\n"),
				  FN("plpgsql", " BEGIN RETURN 'a  b'; END ")));
	CU_ASSERT(same_normalised("procedure", FN("sql", "\n  SELECT 1;\n  SELECT   2\n"),
				  FN("sql", "SELECT 1; SELECT 2")));
	/* ... a string constant edited in the body is */
	CU_ASSERT(!same_normalised("function", FN("plpgsql", " BEGIN RETURN 'a  b'; END "),
				   FN("plpgsql", " BEGIN RETURN 'a b'; END ")));
	CU_ASSERT(!same_normalised("function", FN("sql", " SELECT E'x\\t  y' "), FN("sql", " SELECT E'x\\t y' ")));
	CU_ASSERT(!same_normalised("function", FN("plpgsql", " BEGIN EXECUTE $q$SELECT  1$q$; END "),
				   FN("plpgsql", " BEGIN EXECUTE $q$SELECT 1$q$; END ")));
	CU_ASSERT(
		!same_normalised("function", FN("sql", " SELECT 1 AS \"a  b\" "), FN("sql", " SELECT 1 AS \"a b\" ")));
	CU_ASSERT(!same_normalised("function", FN("sql", " SELECT U&'a  b' "), FN("sql", " SELECT U&'a b' ")));
	/* a setting of the function is a string constant of its header */
	CU_ASSERT(!same_normalised("function", FN("sql SET search_path TO 'app,  public'", " SELECT 1 "),
				   FN("sql SET search_path TO 'app, public'", " SELECT 1 ")));
	/* a line comment ends at its newline: code after it is not in it */
	CU_ASSERT(
		!same_normalised("function", FN("sql", " SELECT 1 -- one\n+ 1 "), FN("sql", " SELECT 1 -- one + 1 ")));
	CU_ASSERT(same_normalised("function", FN("sql", " SELECT 1 -- one  two\n "),
				  FN("sql", " SELECT 1 -- one two\n")));
	/* in another language white space may be code (Python's indentation): kept */
	CU_ASSERT(!same_normalised("function", FN("plpython3u", "\nif x:\n    return 1\n"),
				   FN("plpython3u", "\nif x:\n  return 1\n")));
	/* code the scanner refuses is compared as it is (the header around it normalised) */
	char *u = catalog_normalise("function", FN("plpgsql", " BEGIN  RETURN 'x; END "));
	CU_ASSERT_STRING_EQUAL(u, "CREATE OR REPLACE FUNCTION app.f() RETURNS text LANGUAGE plpgsql AS "
				  "$function$ BEGIN  RETURN 'x; END $function$");
	free(u);
	/* views: the literal and the quoted name survive, the layout does not matter */
	CU_ASSERT(!same_normalised("view", " SELECT 'a  b'::text AS x;", " SELECT 'a b'::text AS x;"));
	CU_ASSERT(!same_normalised("view", " SELECT 1 AS \"a  b\";", " SELECT 1 AS \"a b\";"));
	CU_ASSERT(same_normalised("view", " SELECT 'a  b'::text AS x\n  FROM t\n WHERE ( t.y > 1 );",
				  "SELECT 'a  b'::text AS x FROM t WHERE t.y > 1"));
	char *w = catalog_normalise("view", "SELEKT  'a  b'\n FROM ( t )");
	CU_ASSERT_STRING_EQUAL(w, "SELEKT 'a  b' FROM (t)");
	free(w);
}

static void test_diff(void)
{
	struct catalog want, have;
	memset(&want, 0, sizeof want);
	memset(&have, 0, sizeof have);
	add(&want, "table", "app.account", "");
	add(&want, "column", "app.account.id", "bigint not null");
	add(&want, "column", "app.account.status", "text not null default 'new'::text");
	add(&want, "index", "app.account_status_idx", "CREATE INDEX account_status_idx ON app.account (status)");
	add(&want, "function", "app.answer()", "SELECT 42");
	add(&have, "function", "app.answer()", "SELECT 43");
	add(&have, "column", "app.account.note", "text");
	add(&have, "column", "app.account.status", "text not null default 'open'::text");
	add(&have, "column", "app.account.id", "bigint not null");
	add(&have, "table", "app.account", "");
	catalog_sort(&want);
	catalog_sort(&have);
	struct cat_diff d;
	catalog_diff(&want, &have, NULL, &d);
	CU_ASSERT_EQUAL_FATAL(d.n, 4);
	/* sorted by kind, then name */
	CU_ASSERT_EQUAL(d.v[0].change, CAT_EXTRA);
	CU_ASSERT_STRING_EQUAL(d.v[0].name, "app.account.note");
	CU_ASSERT_PTR_NULL(d.v[0].expected);
	CU_ASSERT_STRING_EQUAL(d.v[0].actual, "text");
	CU_ASSERT_EQUAL(d.v[1].change, CAT_CHANGED);
	CU_ASSERT_STRING_EQUAL(d.v[1].name, "app.account.status");
	CU_ASSERT_STRING_EQUAL(d.v[1].expected, "text not null default 'new'::text");
	CU_ASSERT_STRING_EQUAL(d.v[1].actual, "text not null default 'open'::text");
	CU_ASSERT_EQUAL(d.v[2].change, CAT_CHANGED);
	CU_ASSERT_STRING_EQUAL(d.v[2].kind, "function");
	CU_ASSERT_EQUAL(d.v[3].change, CAT_MISSING);
	CU_ASSERT_STRING_EQUAL(d.v[3].kind, "index");
	CU_ASSERT_PTR_NULL(d.v[3].actual);
	CU_ASSERT_STRING_EQUAL(cat_change_name(d.v[3].change), "missing");
	cat_diff_release(&d);

	/* a catalog against itself: nothing */
	catalog_diff(&want, &want, NULL, &d);
	CU_ASSERT_EQUAL(d.n, 0);
	cat_diff_release(&d);
	/* against an empty one: everything is missing, or extra the other way */
	struct catalog none;
	memset(&none, 0, sizeof none);
	catalog_diff(&want, &none, NULL, &d);
	CU_ASSERT_EQUAL(d.n, want.n);
	for (size_t i = 0; i < d.n; i++)
		CU_ASSERT_EQUAL(d.v[i].change, CAT_MISSING);
	cat_diff_release(&d);
	catalog_diff(&none, &want, NULL, &d);
	CU_ASSERT_EQUAL(d.n, want.n);
	for (size_t i = 0; i < d.n; i++)
		CU_ASSERT_EQUAL(d.v[i].change, CAT_EXTRA);
	cat_diff_release(&d);
	catalog_release(&want);
	catalog_release(&have);
}

/* a baselined target: only what changed between the two replays is compared */
static void test_baseline_scope(void)
{
	struct catalog base, after, target, only;
	memset(&base, 0, sizeof base);
	memset(&after, 0, sizeof after);
	memset(&target, 0, sizeof target);
	add(&base, "table", "app.trade", "");
	add(&base, "column", "app.trade.id", "bigint");
	add(&base, "column", "app.trade.old", "text");
	add(&after, "table", "app.trade", "");
	add(&after, "column", "app.trade.id", "bigint");
	add(&after, "column", "app.trade.note", "text"); /* added after the baseline */
	/* app.trade.old dropped after the baseline */
	/* the target: extra columns on a table the history before the baseline made, note missing, old still there */
	add(&target, "table", "app.trade", "");
	add(&target, "column", "app.trade.id", "integer");
	add(&target, "column", "app.trade.legacy", "text");
	add(&target, "column", "app.trade.old", "text");
	catalog_sort(&base);
	catalog_sort(&after);
	catalog_sort(&target);
	catalog_changed(&base, &after, &only);
	CU_ASSERT_EQUAL(only.n, 2);
	CU_ASSERT_PTR_NOT_NULL(catalog_find(&only, "column", "app.trade.note"));
	CU_ASSERT_PTR_NOT_NULL(catalog_find(&only, "column", "app.trade.old"));
	CU_ASSERT_PTR_NULL(catalog_find(&only, "column", "app.trade.id"));
	struct cat_diff d;
	catalog_diff(&after, &target, &only, &d);
	CU_ASSERT_EQUAL_FATAL(d.n, 2);
	CU_ASSERT_EQUAL(d.v[0].change, CAT_MISSING);
	CU_ASSERT_STRING_EQUAL(d.v[0].name, "app.trade.note");
	CU_ASSERT_EQUAL(d.v[1].change, CAT_EXTRA);
	CU_ASSERT_STRING_EQUAL(d.v[1].name, "app.trade.old");
	cat_diff_release(&d);
	catalog_release(&base);
	catalog_release(&after);
	catalog_release(&target);
	catalog_release(&only);
}

static void test_sort_dedup(void)
{
	struct catalog c;
	memset(&c, 0, sizeof c);
	add(&c, "index", "app.b", "x");
	add(&c, "column", "app.a.z", "int");
	add(&c, "index", "app.a", "y");
	add(&c, "column", "app.a.z", "int");
	catalog_sort(&c);
	CU_ASSERT_EQUAL_FATAL(c.n, 3);
	CU_ASSERT_STRING_EQUAL(c.v[0].kind, "column");
	CU_ASSERT_STRING_EQUAL(c.v[1].name, "app.a");
	CU_ASSERT_STRING_EQUAL(c.v[2].name, "app.b");
	CU_ASSERT_PTR_NULL(catalog_find(&c, "index", "app.c"));
	CU_ASSERT_STRING_EQUAL(catalog_find(&c, "index", "app.b")->def, "x");
	catalog_release(&c);
	CU_ASSERT_PTR_NULL(catalog_find(&c, "index", "app.b"));
}

static void test_serialise_round_trip(void)
{
	struct catalog c, back;
	memset(&c, 0, sizeof c);
	catalog_add(&c, "app", "function", "app.\"we\tird\"()", "CREATE FUNCTION\\x\n\ttab");
	catalog_add(&c, "app", "column", "app.t.\"a\\b\"", "");
	catalog_add(&c, "", "schema", "app", "");
	catalog_sort(&c);
	struct buf b = BUF_INIT;
	catalog_serialise(&c, &b);
	CU_ASSERT_EQUAL(catalog_parse(b.s, b.len, "x.catalog", &back), 0);
	CU_ASSERT_EQUAL_FATAL(back.n, c.n);
	for (size_t i = 0; i < c.n; i++) {
		CU_ASSERT_STRING_EQUAL(back.v[i].schema, c.v[i].schema);
		CU_ASSERT_STRING_EQUAL(back.v[i].kind, c.v[i].kind);
		CU_ASSERT_STRING_EQUAL(back.v[i].name, c.v[i].name);
		CU_ASSERT_STRING_EQUAL(back.v[i].def, c.v[i].def);
	}
	/* one object a line, whatever its text holds */
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += b.s[i] == '\n';
	CU_ASSERT_EQUAL(lines, c.n);
	struct cat_diff d;
	catalog_diff(&c, &back, NULL, &d);
	CU_ASSERT_EQUAL(d.n, 0);
	cat_diff_release(&d);
	buf_release(&b);
	catalog_release(&c);
	catalog_release(&back);
	CU_ASSERT_EQUAL(catalog_parse("", 0, "empty", &back), 0);
	CU_ASSERT_EQUAL(back.n, 0);
	catalog_release(&back);
}

static void test_parse_malformed(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "app\tcolumn\tapp.t.a\ttext", "does not end with a newline" },
		{ "app\tcolumn\tapp.t.a\n", "four tab-separated fields" },
		{ "app\tcolumn\tapp.t.a\ttext\textra\n", "four tab-separated fields" },
		{ "app\tcolumn\tapp.t.a\tbad \\q escape\n", "a backslash not followed by" },
		{ "app\tcolumn\tapp.t.a\ttrailing \\\n", "a backslash not followed by" },
		{ "app\t\tapp.t.a\ttext\n", "without a kind or a name" },
		{ "app\tcolumn\t\ttext\n", "without a kind or a name" },
		{ "app\tcolumn\tapp.t.a\ttext\n\n", "four tab-separated fields" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct catalog c;
		CU_ASSERT_EQUAL(catalog_parse(bad[i].text, strlen(bad[i].text), "k.catalog", &c), -1);
		CU_ASSERT_PTR_NOT_NULL(err_message());
		if (err_message())
			CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), bad[i].msg));
		CU_ASSERT_EQUAL(c.n, 0);
		err_clear();
	}
	/* a NUL byte inside a field */
	const char nul[] = "app\tcol\0umn\tapp.t.a\ttext\n";
	struct catalog c;
	CU_ASSERT_EQUAL(catalog_parse(nul, sizeof nul - 1, "k.catalog", &c), -1);
	err_clear();
	/* the line of the error is named */
	const char *two = "app\tcolumn\tapp.t.a\ttext\napp\tcolumn\n";
	CU_ASSERT_EQUAL(catalog_parse(two, strlen(two), "k.catalog", &c), -1);
	CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), "k.catalog:2:") : NULL);
	err_clear();
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "normalise", test_normalise },
		{ "white space inside string constants and quoted names is kept", test_normalise_literals },
		{ "diff", test_diff },
		{ "baseline scope", test_baseline_scope },
		{ "sort and dedup", test_sort_dedup },
		{ "serialise round trip", test_serialise_round_trip },
		{ "parse malformed", test_parse_malformed },
		{ NULL, NULL },
	};
	return unit_run("catalog", tests);
}

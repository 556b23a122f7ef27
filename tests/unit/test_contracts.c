/* Contracts without a server: type names normalised as format_type() writes
 * them; contract files read with every error at file:line:col (unknown keys,
 * wrong types, bad names and patterns, anchors and aliases, non-UTF-8, a
 * huge file); and the comparison with a catalog given as rows, every finding
 * at once with its line. The comparison against a real catalog is in
 * tests/cli/781_contracts.sh. */
#include "unit.h"
#include "buf.h"
#include "confine.h"
#include "contracts.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_types(void)
{
	static const char *const cases[][2] = {
		{ "int4", "integer" },
		{ "INTEGER", "integer" },
		{ "int", "integer" },
		{ "int8", "bigint" },
		{ "int2", "smallint" },
		{ "varchar(64)", "character varying(64)" },
		{ "character varying ( 64 )", "character varying(64)" },
		{ "varchar", "character varying" },
		{ "char(3)", "character(3)" },
		{ "char", "character(1)" },
		{ "bpchar(2)", "character(2)" },
		{ "timestamptz", "timestamp with time zone" },
		{ "timestamp", "timestamp without time zone" },
		{ "timestamp(3)", "timestamp(3) without time zone" },
		{ "timestamptz(3)", "timestamp(3) with time zone" },
		{ "timestamp(3) with time zone", "timestamp(3) with time zone" },
		{ "timetz", "time with time zone" },
		{ "time", "time without time zone" },
		{ "decimal(18, 6)", "numeric(18,6)" },
		{ "numeric", "numeric" },
		{ "bool", "boolean" },
		{ "float8", "double precision" },
		{ "float4", "real" },
		{ "int[]", "integer[]" },
		{ "text []", "text[]" },
		{ "interval", "interval" },
		{ "jsonb", "jsonb" },
		{ "  Text ", "text" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = contract_type_normalise(cases[i][0]);
		if (!got || strcmp(got, cases[i][1]) != 0)
			fprintf(stderr, "\n  %s: expected %s, got %s\n", cases[i][0], cases[i][1], got ? got : "NULL");
		CU_ASSERT_TRUE(got && strcmp(got, cases[i][1]) == 0);
		free(got);
	}
	CU_ASSERT_PTR_NULL(contract_type_normalise(""));
	CU_ASSERT_PTR_NULL(contract_type_normalise("int; DROP TABLE x"));
	CU_ASSERT_PTR_NULL(contract_type_normalise("int\n"));
	/* the name is at most 200 bytes once normalised, so a normalised name
	 * normalises to itself: varchar(...) of 197 bytes would grow to 207 as
	 * character varying(...), which a second pass refused (fuzz_contracts) */
	struct buf b = BUF_INIT;
	buf_adds(&b, "varchar(");
	while (b.len < 196)
		buf_addch(&b, '1');
	buf_addch(&b, ')');
	CU_ASSERT_PTR_NULL(contract_type_normalise(buf_str(&b)));
	buf_release(&b);
	buf_adds(&b, "varchar(");
	while (b.len < 189)
		buf_addch(&b, '1');
	buf_addch(&b, ')');
	char *once = contract_type_normalise(buf_str(&b)), *twice = once ? contract_type_normalise(once) : NULL;
	CU_ASSERT_PTR_NOT_NULL(once);
	CU_ASSERT_TRUE(once && twice && strcmp(once, twice) == 0);
	free(once);
	free(twice);
	buf_release(&b);
}

static char *dir;

/* load writes text to <dir>/<name> and loads it */
static int load(const char *name, const char *text, size_t len, struct contract *c)
{
	char *path = xstrfmt("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fwrite(text, 1, len, f);
	fclose(f);
	int rc = contract_load(path, c);
	free(path);
	return rc;
}

static void expect_fail_at(const char *name, const char *text, size_t len, const char *pos, const char *word, int line)
{
	struct contract c;
	int rc = load(name, text, len, &c);
	const char *m = err_message();
	char *where = xstrfmt("%s:%s", name, pos);
	int ok = rc == -1 && m && err_exit_status() == EXIT_USAGE && strstr(m, where) && strstr(m, word);
	if (!ok)
		fprintf(stderr, "\n  line %d: expected [%s] [%s]\n  got: %s\n", line, where, word,
			m ? m : "(no error)");
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(c.ntables, 0);
	free(where);
	err_clear();
}
#define EXPECT_FAIL(text, pos, word) expect_fail_at("s.yml", text, strlen(text), pos, word, __LINE__)

static void test_load(void)
{
	struct contract c;
	const char *text = "tables:\n"
			   "  emp:\n"
			   "    columns:\n"
			   "      id: {type: int8, nullable: false}\n"
			   "      name: varchar(64)\n"
			   "      any:\n"
			   "  other:\n"
			   "absent: [emp.email, v3_*]\n";
	CU_ASSERT_EQUAL_FATAL(load("bo_airflow.yml", text, strlen(text), &c), 0);
	CU_ASSERT_STRING_EQUAL(c.schema, "bo_airflow");
	CU_ASSERT_EQUAL_FATAL(c.ntables, 2);
	CU_ASSERT_EQUAL_FATAL(c.tables[0].ncols, 3);
	CU_ASSERT_STRING_EQUAL(c.tables[0].cols[0].type, "bigint");
	CU_ASSERT_EQUAL(c.tables[0].cols[0].nullable, 0);
	CU_ASSERT_EQUAL(c.tables[0].cols[0].line, 4);
	CU_ASSERT_STRING_EQUAL(c.tables[0].cols[1].type, "character varying(64)");
	CU_ASSERT_EQUAL(c.tables[0].cols[1].nullable, -1);
	CU_ASSERT_EQUAL(c.tables[0].cols[1].type_line, 5);
	CU_ASSERT_EQUAL(c.tables[0].cols[1].type_col, 13);
	CU_ASSERT_PTR_NULL(c.tables[0].cols[2].type);
	CU_ASSERT_EQUAL(c.tables[1].ncols, 0);
	CU_ASSERT_EQUAL_FATAL(c.nabsent, 2);
	CU_ASSERT_STRING_EQUAL(c.absent[0].table, "emp");
	CU_ASSERT_STRING_EQUAL(c.absent[0].column, "email");
	CU_ASSERT_STRING_EQUAL(c.absent[1].table, "v3_*");
	CU_ASSERT_PTR_NULL(c.absent[1].column);
	CU_ASSERT_EQUAL(c.absent[1].line, 8);
	contract_release(&c);
}

static void test_malformed(void)
{
	EXPECT_FAIL("tables: {}\nschema: x\n", "2:1", "unknown key \"schema\"");
	EXPECT_FAIL("tables:\n  t:\n    colums: {a: int}\n", "3:5", "unknown key \"colums\"");
	EXPECT_FAIL("tables:\n  t:\n    columns:\n      a: {type: int, nulable: true}\n",
		    "4:", "unknown key \"nulable\"");
	EXPECT_FAIL("tables: [a, b]\n", "1:9", "expected a mapping");
	EXPECT_FAIL("tables:\n  t: 3\n", "2:6", "expected a mapping");
	EXPECT_FAIL("tables:\n  t:\n    columns: [a]\n", "3:14", "expected a mapping");
	EXPECT_FAIL("tables:\n  t:\n    columns:\n      a: [int]\n", "4:10", "expected a type or a mapping");
	EXPECT_FAIL("tables:\n  t:\n    columns:\n      a: {type: int, nullable: maybe}\n", "4:", "nullable");
	EXPECT_FAIL("tables:\n  t:\n    columns:\n      a: \"int; drop table t\"\n", "4:10", "is not a type name");
	EXPECT_FAIL("tables:\n  \"Bad Name\":\n", "2:3", "not a plain identifier");
	EXPECT_FAIL("tables:\n  t:\n  t:\n", "3:3", "t");
	/* a column said twice in one table, however its type is written */
	EXPECT_FAIL("tables:\n  t:\n    columns:\n      a: int\n      a: text\n", "5:7", "\"a\"");
	EXPECT_FAIL("tables:\n  t:\n    columns: {a: int, b: int, a: {type: int}}\n", "3:", "\"a\"");
	EXPECT_FAIL("tables:\n  t:\n    columns:\n      a:\n      a:\n", "5:7", "\"a\"");
	EXPECT_FAIL("absent: emp.email\n", "1:9", "expected a list");
	EXPECT_FAIL("absent: [a.b.c]\n", "1:10", "is not a table or table.column name");
	EXPECT_FAIL("absent: [\"a b\"]\n", "1:10", "is not a table or table.column name");
	EXPECT_FAIL("absent: [{a: b}]\n", "1:10", "expected");
	EXPECT_FAIL("- a\n- b\n", "1:1", "expected a mapping at the top");
	EXPECT_FAIL("tables: {a: 1\n", "2:1", "invalid YAML");
	/* an alias is a reference, never a copy: a column map used twice is read twice, no more */
	struct contract c;
	const char *alias = "tables:\n  a: &cols\n    columns: {id: int}\n  b: *cols\n";
	CU_ASSERT_EQUAL(load("s.yml", alias, strlen(alias), &c), 0);
	CU_ASSERT_EQUAL(c.ntables, 2);
	CU_ASSERT_EQUAL(c.tables[1].ncols, 1);
	contract_release(&c);
	/* a billion laughs stays small: nine levels of nine aliases */
	struct buf b = BUF_INIT;
	buf_adds(&b, "x0: &a0 [int]\n");
	for (int i = 1; i < 9; i++)
		buf_addf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1,
			 i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	buf_adds(&b, "tables: {}\n");
	expect_fail_at("s.yml", b.s, b.len, "1:1", "unknown key \"x0\"", __LINE__);
	buf_release(&b);
	/* not UTF-8 */
	const char latin1[] = "tables:\n  t:\n    columns: {caf\xe9: int}\n";
	expect_fail_at("s.yml", latin1, sizeof latin1 - 1, "3:", "", __LINE__);
	/* huge: past the walker's limit */
	size_t big = 5u * 1024 * 1024;
	char *huge = xmalloc(big);
	memset(huge, '#', big);
	huge[big - 1] = '\n';
	struct contract h;
	CU_ASSERT_EQUAL(load("s.yml", huge, big, &h), -1);
	CU_ASSERT_PTR_NOT_NULL(err_message());
	CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), "s.yml") : NULL);
	err_clear();
	free(huge);
	/* the file name must be a schema */
	const char ok[] = "tables: {}\n";
	CU_ASSERT_EQUAL(load("not-a-schema.yml", ok, sizeof ok - 1, &c), -1);
	CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), "not-a-schema.yml") : NULL);
	err_clear();
}

struct seen {
	struct buf text;
	int n;
};

static void collect(void *ctx, const struct contract *c, int line, int col, const char *text)
{
	struct seen *s = ctx;
	buf_addf(&s->text, "%s.yml:%d:%d: %s\n", c->schema, line, col, text);
	s->n++;
}

static void test_compare(void)
{
	struct contract c;
	const char *text = "tables:\n"
			   "  oracle_employee:\n"
			   "    columns:\n"
			   "      id: {type: int8, nullable: false}\n"
			   "      email: varchar(255)\n"
			   "      surname: varchar(64)\n"
			   "      forename: {type: varchar(100), nullable: false}\n"
			   "  oracle_portfolio_group:\n"
			   "absent: [oracle_employee.full_name, v3_*]\n";
	CU_ASSERT_EQUAL_FATAL(load("bo_airflow.yml", text, strlen(text), &c), 0);
	const struct contract_catalog_row rows[] = {
		{ "oracle_employee", "id", "bigint", "t" },
		{ "oracle_employee", "forename", "character varying(100)", "f" },
		{ "oracle_employee", "surname", "character varying(100)", "t" },
		{ "oracle_employee", "full_name", "text", "f" },
		{ "v3_orders", "id", "integer", "t" },
		{ "v3_orders", "qty", "integer", "t" },
		{ "v4_orders", "id", "integer", "t" },
	};
	struct seen s = { BUF_INIT, 0 };
	int n = contract_compare(&c, 1, rows, sizeof rows / sizeof rows[0], collect, &s);
	const char *want[] = {
		"bo_airflow.yml:5:7: column bo_airflow.oracle_employee.email does not exist",
		"bo_airflow.yml:6:16: column bo_airflow.oracle_employee.surname is character varying(100), the contract "
		"says character varying(64)",
		"bo_airflow.yml:7:7: column bo_airflow.oracle_employee.forename is nullable, the contract says NOT NULL",
		"bo_airflow.yml:8:3: table bo_airflow.oracle_portfolio_group does not exist",
		"bo_airflow.yml:9:10: column bo_airflow.oracle_employee.full_name exists, the contract says it must not",
		"bo_airflow.yml:9:37: table bo_airflow.v3_orders exists, the contract says it must not (v3_*)",
	};
	CU_ASSERT_EQUAL(n, 6);
	CU_ASSERT_EQUAL(s.n, 6);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (!strstr(buf_str(&s.text), want[i]))
			fprintf(stderr, "\n  missing: %s\n  got:\n%s", want[i], buf_str(&s.text));
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&s.text), want[i]));
	}
	CU_ASSERT_PTR_NULL(strstr(buf_str(&s.text), "v4_orders"));
	buf_release(&s.text);
	/* no schema at all: one finding */
	struct seen s2 = { BUF_INIT, 0 };
	CU_ASSERT_EQUAL(contract_compare(&c, 0, NULL, 0, collect, &s2), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&s2.text), "schema \"bo_airflow\" does not exist"));
	buf_release(&s2.text);
	contract_release(&c);
}

static void test_list(void)
{
	unit_write(dir, "contracts/b.yml", "tables: {}\n");
	unit_write(dir, "contracts/a.yml", "tables: {}\n");
	unit_write(dir, "contracts/notes.txt", "x\n");
	unit_write(dir, "contracts/.hidden.yml", "x\n");
	char *cdir = xstrfmt("%s/contracts", dir);
	char **paths;
	size_t n;
	CU_ASSERT_EQUAL(contracts_list(cdir, &paths, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(paths[0], "/a.yml"));
	CU_ASSERT_PTR_NOT_NULL(strstr(paths[1], "/b.yml"));
	contracts_list_free(paths, n);
	char *none = xstrfmt("%s/nothing", dir);
	CU_ASSERT_EQUAL(contracts_list(none, &paths, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	free(none);
	free(cdir);
}

/* what contracts_list takes from a directory (docs/contracts.md: files not
 * ending in .yml and hidden files are ignored): dot-files, .yaml and .yml.bak
 * are not listed; a symlink is listed by its own name; a directory named
 * x.yml is listed and then refused by contract_load naming it, never
 * skipped silently (a contract the check would not see) */
static void test_list_entries(void)
{
	char *cdir = xstrfmt("%s/entries", dir);
	unit_write(cdir, "c.yml", "tables: {}\n");
	unit_write(cdir, ".yml", "x\n");
	unit_write(cdir, "..yml", "x\n");
	unit_write(cdir, ".git/config.yml", "x\n");
	unit_write(cdir, "d.yaml", "tables: {}\n");
	unit_write(cdir, "e.yml.bak", "tables: {}\n");
	unit_write(cdir, "yml", "x\n");
	unit_write(cdir, "x.yml/inner.yml", "tables: {}\n");
	char *target = xstrfmt("%s/c.yml", cdir), *link = xstrfmt("%s/linked.yml", cdir);
	CU_ASSERT_EQUAL_FATAL(symlink(target, link), 0);
	char *dangling = xstrfmt("%s/gone.yml", cdir), *nowhere = xstrfmt("%s/no-such-file", cdir);
	CU_ASSERT_EQUAL_FATAL(symlink(nowhere, dangling), 0);
	char **paths;
	size_t n;
	CU_ASSERT_EQUAL(contracts_list(cdir, &paths, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	const char *want[] = { "/c.yml", "/gone.yml", "/linked.yml", "/x.yml" };
	for (size_t i = 0; i < n; i++) {
		size_t pl = strlen(paths[i]), wl = strlen(want[i]);
		CU_ASSERT_TRUE(pl > wl && strcmp(paths[i] + pl - wl, want[i]) == 0);
	}
	struct contract c;
	/* the symlink is read through, its schema its own name */
	CU_ASSERT_EQUAL(contract_load(paths[2], &c), 0);
	CU_ASSERT_STRING_EQUAL(c.schema, "linked");
	contract_release(&c);
	/* a dangling symlink and a directory are refused, naming the file */
	for (size_t i = 1; i < n; i += 2) {
		CU_ASSERT_EQUAL(contract_load(paths[i], &c), -1);
		CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
		CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), want[i]) : NULL);
		CU_ASSERT_EQUAL(c.ntables, 0);
		CU_ASSERT_PTR_NULL(c.path);
		err_clear();
	}
	contracts_list_free(paths, n);
	free(target);
	free(link);
	free(dangling);
	free(nowhere);
	free(cdir);
}

/* stderr_of_load runs contract_load on path and returns what it wrote to stderr (caller frees) */
static char *stderr_of_load(const char *path, int *rc)
{
	unit_stderr_start();
	struct contract c;
	*rc = contract_load(path, &c);
	if (*rc == 0)
		contract_release(&c);
	return unit_stderr_end();
}

/* a contract file that a symlink leads out of the project is read with the
 * warning a migration file would have (confine.h); one inside it reads quietly */
static void test_symlink_out(void)
{
	char *root = xstrfmt("%s/proj", dir), *outside = xstrfmt("%s/outside", dir);
	unit_write(root, "contracts/inside.yml", "tables: {}\n");
	unit_write(outside, "elsewhere.yml", "tables: {}\n");
	char *out_link = xstrfmt("%s/contracts/out.yml", root), *in_link = xstrfmt("%s/contracts/in.yml", root);
	CU_ASSERT_EQUAL_FATAL(symlink("../../outside/elsewhere.yml", out_link), 0);
	CU_ASSERT_EQUAL_FATAL(symlink("inside.yml", in_link), 0);
	confine_set_root(root);
	int rc;
	char *w = stderr_of_load(out_link, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(w, "symlink leading out of the project"));
	CU_ASSERT_PTR_NOT_NULL(strstr(w, "out.yml"));
	free(w);
	w = stderr_of_load(in_link, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(w, "");
	free(w);
	confine_set_root(NULL);
	free(out_link);
	free(in_link);
	free(root);
	free(outside);
}

int main(void)
{
	dir = unit_tmpdir();
	static const struct unit_test tests[] = {
		{ "type names normalised", test_types },
		{ "a contract file", test_load },
		{ "malformed and hostile files", test_malformed },
		{ "every finding at once, with lines", test_compare },
		{ "the contract files of a directory", test_list },
		{ "dot-files, symlinks, a directory named x.yml", test_list_entries },
		{ "a symlink out of the project warns", test_symlink_out },
		{ NULL, NULL },
	};
	int rc = unit_run("contracts", tests);
	unit_rmrf(dir);
	free(dir);
	return rc;
}

/* migrations: files on disk, checksums, versions, and the state of each
 * migration against a target's history (pure logic, no database). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "confine.h"
#include "log.h"
#include "migrations.h"
#include "sql.h"
#include "unit.h"

static void test_version_cmp(void)
{
	CU_ASSERT(version_cmp("2", "10") < 0);
	CU_ASSERT(version_cmp("0017", "17") == 0);
	CU_ASSERT(version_cmp("0", "000") == 0);
	CU_ASSERT(version_cmp("20260120185800", "20260120185801") < 0);
	CU_ASSERT(version_cmp("99999999999999999999", "100000000000000000000") < 0);
	CU_ASSERT(version_valid("0001"));
	CU_ASSERT(!version_valid(""));
	CU_ASSERT(!version_valid("1a"));
	CU_ASSERT(!version_valid("-1"));
}

static void test_checksum_line_endings(void)
{
	char a[65], b[65], c[65], d[65];
	const char *lf = "CREATE TABLE t (id int);\nSELECT 1;\n";
	const char *crlf = "CREATE TABLE t (id int);\r\nSELECT 1;\r\n";
	const char *cr = "CREATE TABLE t (id int);\rSELECT 1;\r";
	const char *other = "CREATE TABLE t (id bigint);\nSELECT 1;\n";
	migration_checksum(lf, strlen(lf), a);
	migration_checksum(crlf, strlen(crlf), b);
	migration_checksum(cr, strlen(cr), c);
	migration_checksum(other, strlen(other), d);
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT_STRING_EQUAL(a, c);
	CU_ASSERT_STRING_NOT_EQUAL(a, d);
	CU_ASSERT_EQUAL(strlen(a), 64);
	char e[65];
	migration_checksum("", 0, e);
	CU_ASSERT_STRING_EQUAL(e, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static const char *msg(void)
{
	return err_message() ? err_message() : "";
}

static void test_load_sorted(void)
{
	char *dir = unit_tmpdir();
	unit_write(dir, "10_ten/up.sql", "SELECT 10;\n");
	unit_write(dir, "0002_two/up.sql", "SELECT 2;\n");
	unit_write(dir, "0002_two/down.sql", "SELECT 0;\n");
	unit_write(dir, "0002_two/verify.sql", "SELECT true;\n");
	unit_write(dir, "0003_three/up.sql", "CREATE INDEX CONCURRENTLY i ON t (x);\n");
	unit_write(dir, "0003_three/meta.yml", "transactional: false\n");
	unit_write(dir, "README.md", "not a migration\n");
	unit_write(dir, ".hidden/up.sql", "SELECT 1;\n");
	struct migration_set set;
	CU_ASSERT_EQUAL_FATAL(migrations_load(dir, &set), 0);
	CU_ASSERT_EQUAL_FATAL(set.n, 3);
	CU_ASSERT_STRING_EQUAL(set.v[0].version, "0002");
	CU_ASSERT_STRING_EQUAL(set.v[0].name, "two");
	CU_ASSERT_PTR_NOT_NULL(set.v[0].down_path);
	CU_ASSERT_PTR_NOT_NULL(set.v[0].verify_path);
	CU_ASSERT_TRUE(set.v[0].transactional);
	CU_ASSERT_STRING_EQUAL(set.v[1].version, "0003");
	CU_ASSERT_FALSE(set.v[1].transactional);
	CU_ASSERT_PTR_NULL(set.v[1].down_path);
	CU_ASSERT_STRING_EQUAL(set.v[2].version, "10");
	CU_ASSERT_PTR_NOT_NULL(migrations_find(&set, "3"));
	CU_ASSERT_PTR_NULL(migrations_find(&set, "4"));
	migrations_release(&set);
	unit_rmrf(dir);
	free(dir);
}

/* a full load reads down.sql and verify.sql beside up.sql (plan records their
 * checksums), relative to the migrations directory; links, to a file or to a
 * migration's directory, are read through their targets as before */
static void test_load_side_files_and_links(void)
{
	char *dir = unit_tmpdir(), *out = unit_tmpdir();
	unit_write(dir, "0001_a/up.sql", "SELECT 1;\n");
	unit_write(dir, "0001_a/down.sql", "SELECT 0;\r\n");
	unit_write(dir, "0001_a/verify.sql", "SELECT true;\n");
	unit_write(dir, "0002_b/up.sql", "SELECT 2;\n");
	unit_write(out, "c/up.sql", "SELECT 3;\n");
	unit_write(out, "c/down.sql", "SELECT 30;\n");
	unit_write(out, "d.sql", "SELECT 4;\n");
	unit_write(out, "e.sql", "SELECT 40;\n");
	unit_write(dir, "0004_d/verify.sql", "SELECT false;\n");
	char *from = xstrfmt("%s/0003_c", dir), *to = xstrfmt("%s/c", out);
	CU_ASSERT_EQUAL_FATAL(symlink(to, from), 0);
	free(from);
	free(to);
	from = xstrfmt("%s/0004_d/up.sql", dir), to = xstrfmt("%s/d.sql", out);
	CU_ASSERT_EQUAL_FATAL(symlink(to, from), 0);
	free(from);
	free(to);
	from = xstrfmt("%s/0004_d/down.sql", dir), to = xstrfmt("%s/e.sql", out);
	CU_ASSERT_EQUAL_FATAL(symlink(to, from), 0);
	free(from);
	free(to);
	char sum[65];
	for (int confined = 0; confined < 2; confined++) {
		/* with the project root set, the files are opened relative to the directory */
		confine_set_root(confined ? dir : NULL);
		struct migration_set set;
		CU_ASSERT_EQUAL_FATAL(migrations_load(dir, &set), 0);
		CU_ASSERT_EQUAL_FATAL(set.n, 4);
		migration_checksum("SELECT 0;\n", 10, sum);
		CU_ASSERT_STRING_EQUAL(set.v[0].down_sha256, sum);
		migration_checksum("SELECT true;\n", 13, sum);
		CU_ASSERT_STRING_EQUAL(set.v[0].verify_sha256, sum);
		CU_ASSERT_STRING_EQUAL(set.v[1].down_sha256, "");
		CU_ASSERT_STRING_EQUAL(set.v[1].verify_sha256, "");
		CU_ASSERT_PTR_NULL(set.v[1].down_path);
		CU_ASSERT_STRING_EQUAL(set.v[2].up_sql, "SELECT 3;\n");
		migration_checksum("SELECT 30;\n", 11, sum);
		CU_ASSERT_STRING_EQUAL(set.v[2].down_sha256, sum);
		CU_ASSERT_PTR_NOT_NULL(set.v[2].down_path);
		CU_ASSERT_STRING_EQUAL(set.v[3].up_sql, "SELECT 4;\n");
		migration_checksum("SELECT 40;\n", 11, sum);
		CU_ASSERT_STRING_EQUAL(set.v[3].down_sha256, sum);
		migration_checksum("SELECT false;\n", 14, sum);
		CU_ASSERT_STRING_EQUAL(set.v[3].verify_sha256, sum);
		/* status's brief load leaves them empty */
		migrations_release(&set);
		CU_ASSERT_EQUAL_FATAL(migrations_load_brief(dir, NULL, NULL, &set), 0);
		CU_ASSERT_STRING_EQUAL(set.v[0].down_sha256, "");
		migrations_release(&set);
	}
	confine_set_root(NULL);
	unit_rmrf(dir);
	unit_rmrf(out);
	free(dir);
	free(out);
}

static void expect_load_error(const char *const *files, const char *want1, const char *want2)
{
	char *dir = unit_tmpdir();
	for (const char *const *f = files; *f; f += 2)
		unit_write(dir, f[0], f[1]);
	struct migration_set set;
	CU_ASSERT_EQUAL(migrations_load(dir, &set), -1);
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), want1));
	if (want2)
		CU_ASSERT_PTR_NOT_NULL(strstr(msg(), want2));
	if (!strstr(msg(), want1) || (want2 && !strstr(msg(), want2)))
		fprintf(stderr, "got: %s\n", msg());
	migrations_release(&set);
	err_clear();
	unit_rmrf(dir);
	free(dir);
}

static void test_load_errors(void)
{
	const char *dup[] = { "0001_a/up.sql", "SELECT 1;", "1_b/up.sql", "SELECT 2;", NULL };
	expect_load_error(dup, "duplicate migration version", NULL);
	const char *noup[] = { "0001_a/down.sql", "SELECT 1;", NULL };
	expect_load_error(noup, "has no up.sql", "0001_a");
	const char *empty[] = { "0001_a/up.sql", "  \n\t\n", NULL };
	expect_load_error(empty, "is empty", "0001_a/up.sql");
	const char *comments[] = { "0001_a/up.sql", "-- nothing yet\n/* still nothing */\n", NULL };
	expect_load_error(comments, "is empty", "0001_a/up.sql");
	const char *badname[] = { "create_table/up.sql", "SELECT 1;", NULL };
	expect_load_error(badname, "not named <version>_<name>", "create_table");
	const char *noname[] = { "0001_/up.sql", "SELECT 1;", NULL };
	expect_load_error(noname, "not named <version>_<name>", NULL);
	const char *badmeta[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml", "transactional: maybe\n", NULL };
	expect_load_error(badmeta, "meta.yml:1:16", "expected a boolean");
	const char *unkmeta[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml", "transactional: true\nfoo: 1\n",
				  NULL };
	expect_load_error(unkmeta, "meta.yml:2:1", "unknown key \"foo\"");
	const char *notyaml[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml", "transactional: [\n", NULL };
	expect_load_error(notyaml, "meta.yml:", "invalid YAML");
	const char *listmeta[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml", "- a\n- b\n", NULL };
	expect_load_error(listmeta, "expected a mapping", NULL);
	const char *dupmeta[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml",
				  "transactional: false\ntransactional: true\n", NULL };
	expect_load_error(dupmeta, "meta.yml:2:1", "duplicate key \"transactional\"");
	const char *twodocs[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml",
				  "transactional: false\n---\ntransactional: true\n", NULL };
	expect_load_error(twodocs, "meta.yml:2:1", "a second YAML document");
	const char *aliasmeta[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml",
				    "a: &a [x, x, x]\nb: &b [*a, *a, *a]\ntransactional: *b\n", NULL };
	expect_load_error(aliasmeta, "meta.yml:1:1", "unknown key \"a\"");
	/* a reason of blanks is none: refused as a blank allow comment is */
	const char *blankdestr[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml", "destructive: \" \"\n", NULL };
	expect_load_error(blankdestr, "0001_a/meta.yml:1:14", "found only blanks");
	const char *blankallow[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml",
				     "transactional: true\nlint:\n  allow:\n    ban-truncate: \"  \\t\"\n", NULL };
	expect_load_error(blankallow, "0001_a/meta.yml:4:19", "rule \"ban-truncate\"");
	const char *txctl[] = { "0001_a/up.sql", "CREATE TABLE app.half (i int); COMMIT; SELECT no_such_fn();\n",
				NULL };
	expect_load_error(txctl, "0001_a/up.sql:1: transaction control", NULL);
	const char *txctl2[] = { "0001_a/up.sql", "CREATE TABLE t (i int);\n\nSAVEPOINT s;\n", NULL };
	expect_load_error(txctl2, "0001_a/up.sql:3: transaction control", NULL);
	const char *latin1[] = { "0001_a/up.sql", "SELECT 1;\nSELECT 'caf\xe9';\n", NULL };
	expect_load_error(latin1, "0001_a/up.sql\" is not valid UTF-8 at byte offset 21 (line 2)", NULL);
	const char *nul[] = { "0001_a/up.sql", "SELECT 1;", NULL };
	(void)nul;
}

static void test_load_meta_limits(void)
{
	/* outside a transaction, transaction control is the author's business */
	char *dir = unit_tmpdir();
	unit_write(dir, "0001_a/up.sql", "CREATE TABLE t (i int);\nCOMMIT;\n");
	unit_write(dir, "0001_a/meta.yml", "# built in parts\ntransactional: false\n");
	struct migration_set set;
	CU_ASSERT_EQUAL(migrations_load(dir, &set), 0);
	CU_ASSERT_EQUAL(set.n, 1);
	migrations_release(&set);
	unit_rmrf(dir);
	free(dir);
	/* a meta.yml is a few bytes: a huge one is refused before it is parsed */
	struct buf big = BUF_INIT;
	buf_adds(&big, "transactional: false\n");
	while (big.len < 5 * 1024 * 1024)
		buf_adds(&big, "# padding padding padding padding padding padding padding padding\n");
	const char *huge[] = { "0001_a/up.sql", "SELECT 1;", "0001_a/meta.yml", buf_str(&big), NULL };
	expect_load_error(huge, "meta.yml", "more than the");
	buf_release(&big);
}

static void test_missing_dir_is_empty(void)
{
	struct migration_set set;
	CU_ASSERT_EQUAL(migrations_load("/nonexistent/padctl/migrations", &set), 0);
	CU_ASSERT_EQUAL(set.n, 0);
	migrations_release(&set);
}

static struct migration mk(const char *version, const char *sql)
{
	struct migration m;
	memset(&m, 0, sizeof m);
	m.version = (char *)version;
	m.name = (char *)"m";
	m.up_sql = (char *)sql;
	m.transactional = 1;
	migration_checksum(sql, strlen(sql), m.checksum);
	return m;
}

static struct history_row row(const char *version, const char *checksum, const char *status)
{
	struct history_row r;
	memset(&r, 0, sizeof r);
	r.version = (char *)version;
	r.name = (char *)"m";
	r.checksum = (char *)checksum;
	r.status = (char *)status;
	return r;
}

static void test_plan_states(void)
{
	struct migration v[6] = { mk("1", "SELECT 1;"), mk("2", "SELECT 2;"), mk("3", "SELECT 3;"),
				  mk("4", "SELECT 4;"), mk("5", "SELECT 5;"), mk("6", "SELECT 6;") };
	struct migration_set set = { v, 6 };
	char changed[65];
	migration_checksum("SELECT 'changed';", 17, changed);
	struct history_row rows[] = {
		row("0004", v[3].checksum, "applied"),   /* newest applied: 2 and 3 are out of order */
		row("1", v[0].checksum, "baselined"),
		row("0005", changed, "applied"),        /* mismatch */
		row("9", "abc", "applied"),              /* orphan: no file */
	};
	struct history h = { rows, 4, 1 };
	struct cfg_skip skip = { (char *)"0003", (char *)"redundant here", 7 };
	struct cfg_env env;
	memset(&env, 0, sizeof env);
	env.skips = &skip;
	env.nskips = 1;
	struct mig_plan plan;
	mig_plan_build(&set, &h, &env, &plan);
	CU_ASSERT_EQUAL_FATAL(plan.n, 6);
	CU_ASSERT_EQUAL(plan.v[0].state, MIG_BASELINED);
	CU_ASSERT_EQUAL(plan.v[1].state, MIG_OUT_OF_ORDER);
	CU_ASSERT_EQUAL(plan.v[2].state, MIG_TO_SKIP);
	CU_ASSERT_STRING_EQUAL(plan.v[2].skip_reason, "redundant here");
	CU_ASSERT_EQUAL(plan.v[3].state, MIG_APPLIED);
	CU_ASSERT_EQUAL(plan.v[4].state, MIG_MISMATCH);
	/* the orphan 9 counts as applied: 6 is older than it */
	CU_ASSERT_EQUAL(plan.v[5].state, MIG_OUT_OF_ORDER);
	CU_ASSERT_EQUAL(plan.counts[MIG_OUT_OF_ORDER], 2);
	CU_ASSERT_EQUAL(plan.counts[MIG_PENDING], 0);
	CU_ASSERT_EQUAL(plan.counts[MIG_MISMATCH], 1);
	CU_ASSERT_EQUAL_FATAL(plan.norphans, 1);
	CU_ASSERT_STRING_EQUAL(plan.orphans[0]->version, "9");
	mig_plan_release(&plan);
}

static void test_plan_skipped_rows_do_not_make_out_of_order(void)
{
	struct migration v[2] = { mk("1", "SELECT 1;"), mk("2", "SELECT 2;") };
	struct migration_set set = { v, 2 };
	struct history_row rows[] = { row("2", v[1].checksum, "skipped") };
	struct history h = { rows, 1, 1 };
	struct mig_plan plan;
	mig_plan_build(&set, &h, NULL, &plan);
	CU_ASSERT_EQUAL(plan.v[0].state, MIG_PENDING);
	CU_ASSERT_EQUAL(plan.v[1].state, MIG_SKIPPED);
	mig_plan_release(&plan);
}

static void test_plan_rolled_back_rows_are_pending(void)
{
	struct migration v[3] = { mk("1", "SELECT 1;"), mk("2", "SELECT 2;"), mk("3", "SELECT 3;") };
	struct migration_set set = { v, 3 };
	char changed[65];
	migration_checksum("SELECT 'changed';", 17, changed);
	/* a rolled-back row neither applies its version, nor makes older ones out of
	 * order, nor counts as a mismatch or an orphan */
	struct history_row rows[] = { row("1", v[0].checksum, "applied"), row("3", changed, "rolled_back"),
				      row("2", v[1].checksum, "rolled_back"), row("7", "abc", "rolled_back") };
	struct history h = { rows, 4, 1 };
	struct mig_plan plan;
	mig_plan_build(&set, &h, NULL, &plan);
	CU_ASSERT_EQUAL(plan.v[0].state, MIG_APPLIED);
	CU_ASSERT_EQUAL(plan.v[1].state, MIG_PENDING);
	CU_ASSERT_PTR_NULL(plan.v[1].h);
	CU_ASSERT_EQUAL(plan.v[2].state, MIG_PENDING);
	CU_ASSERT_EQUAL(plan.counts[MIG_PENDING], 2);
	CU_ASSERT_EQUAL(plan.counts[MIG_MISMATCH], 0);
	CU_ASSERT_EQUAL(plan.norphans, 0);
	mig_plan_release(&plan);
}

static void test_plan_empty(void)
{
	struct migration_set set = { NULL, 0 };
	struct history h = { NULL, 0, 0 };
	struct mig_plan plan;
	mig_plan_build(&set, &h, NULL, &plan);
	CU_ASSERT_EQUAL(plan.n, 0);
	CU_ASSERT_EQUAL(plan.norphans, 0);
	mig_plan_release(&plan);
}

static void test_read_text_file_rejects_binary(void)
{
	char *dir = unit_tmpdir();
	char *path = xstrfmt("%s/bin.sql", dir);
	FILE *f = fopen(path, "wb");
	fwrite("SELECT\0 1;", 1, 10, f);
	fclose(f);
	char *text = NULL;
	CU_ASSERT_EQUAL(read_text_file(path, &text, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "NUL byte"));
	err_clear();
	CU_ASSERT_EQUAL(read_text_file("/nonexistent/x.sql", &text, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "/nonexistent/x.sql"));
	err_clear();
	free(path);
	unit_rmrf(dir);
	free(dir);
}

static void test_sql_blank(void)
{
	const char *a = "  -- c\n/* x /* nested */ y */\n\tSELECT 1;";
	CU_ASSERT_EQUAL(sql_skip_blank(a, strlen(a)), strlen(a) - strlen("SELECT 1;"));
	CU_ASSERT_TRUE(sql_is_blank("", 0));
	CU_ASSERT_TRUE(sql_is_blank("-- only\n-- comments", 20));
	CU_ASSERT_FALSE(sql_is_blank("/* unterminated", 15));
	CU_ASSERT_FALSE(sql_is_blank("- 1", 3));
	CU_ASSERT_FALSE(sql_is_blank("/", 1));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "version compare", test_version_cmp },
		{ "checksum ignores line endings", test_checksum_line_endings },
		{ "load sorts numerically, reads meta.yml", test_load_sorted },
		{ "load errors name the path", test_load_errors },
		{ "missing migrations dir is empty", test_missing_dir_is_empty },
		{ "meta.yml: size cap; transaction control outside a transaction", test_load_meta_limits },
		{ "plan states", test_plan_states },
		{ "skipped rows do not make out of order", test_plan_skipped_rows_do_not_make_out_of_order },
		{ "rolled-back rows are pending again", test_plan_rolled_back_rows_are_pending },
		{ "plan of nothing", test_plan_empty },
		{ "down.sql and verify.sql read with up.sql, links too", test_load_side_files_and_links },
		{ "read_text_file rejects binary", test_read_text_file_rejects_binary },
		{ "white space and comments", test_sql_blank },
		{ NULL, NULL },
	};
	return unit_run("migrations", tests);
}

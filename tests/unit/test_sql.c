/* sql: statement classification with PostgreSQL's parser, and fs reads. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "sql.h"
#include "unit.h"

static int kind(const char *s)
{
	return sql_stmt_kind(s, strlen(s));
}

static void test_tx_control(void)
{
	const char *tx[] = { "BEGIN", "begin transaction isolation level serializable", "START TRANSACTION READ WRITE",
			     "COMMIT", "end", "ROLLBACK", "abort", "SAVEPOINT a", "RELEASE SAVEPOINT a",
			     "ROLLBACK TO SAVEPOINT a", "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'",
			     "-- a comment\n/* and /* nested */ one */\n  Commit", NULL };
	for (const char *const *s = tx; *s; s++)
		CU_ASSERT_EQUAL(kind(*s), SQL_KIND_TX_CONTROL);
	const char *other[] = { "SELECT 'COMMIT'", "CREATE TABLE begin_log (i int)", "PREPARE q AS SELECT 1",
				"DO $$ BEGIN PERFORM 1; END $$", "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS "
				"$$ BEGIN COMMIT; END $$", "startx", "", "-- only a comment", "BEGIN garbage garbage", NULL };
	for (const char *const *s = other; *s; s++)
		CU_ASSERT_EQUAL(kind(*s), SQL_KIND_OTHER);
}

static int wraps(const char *s)
{
	return sql_stmt_wrappable(s, strlen(s));
}

/* what the guard runs in a transaction of its own outside a migration's */
static void test_wrappable(void)
{
	const char *yes[] = { "SELECT app.fill()", "-- fill\n  insert into app.t values (1)", "UPDATE app.t SET a = 1",
			      "DELETE FROM app.t", "MERGE INTO app.t USING app.s ON true WHEN MATCHED THEN DELETE",
			      "WITH x AS (DELETE FROM app.t RETURNING *) SELECT count(*) FROM x", "VALUES (1)",
			      "TABLE app.t", "COPY app.t FROM STDIN", "EXECUTE q(1)", "EXPLAIN ANALYZE SELECT 1",
			      "DO $$ BEGIN EXECUTE 'INSERT INTO ref.t VALUES (1)'; END $$",
			      "DO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$",
			      "do $b$ declare n int; begin perform 1; end $b$", NULL };
	for (const char *const *s = yes; *s; s++) {
		if (!wraps(*s))
			fprintf(stderr, "not wrappable: %s\n", *s);
		CU_ASSERT_TRUE(wraps(*s));
	}
	const char *no[] = { "CALL app.backfill()", "CREATE INDEX CONCURRENTLY i ON app.t (a)", "VACUUM app.t",
			     "LOCK TABLE app.t", "DECLARE c CURSOR FOR SELECT 1", "BEGIN", "COMMIT",
			     "SET search_path = app", "ALTER TABLE app.t ADD COLUMN b int", "(SELECT 1)",
			     "selectx 1", "select_it()", "DO $$ BEGIN FOR i IN 1..3 LOOP PERFORM 1; COMMIT; END LOOP; END $$",
			     "DO $$ BEGIN PERFORM 1; Rollback; END $$", "DO $$ BEGIN CALL app.batches(); END $$",
			     "DO $$ BEGIN EXECUTE 'call app.batches()'; END $$",
			     "DO LANGUAGE plperl $$ spi_exec_query('INSERT INTO t VALUES (1)'); spi_commit(); $$",
			     "do $b$ declare committed int; begin perform 1; end $b$", "DO $$ BEGIN PERFORM 1; END $$; SELECT 1",
			     "DO 'garbage", "", "-- only a comment", "DO", NULL };
	for (const char *const *s = no; *s; s++) {
		if (wraps(*s))
			fprintf(stderr, "wrappable: %s\n", *s);
		CU_ASSERT_FALSE(wraps(*s));
	}
}

static void test_settings(void)
{
	CU_ASSERT_EQUAL(kind("SET default_transaction_read_only = off"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("set session default_transaction_read_only to false"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET transaction_read_only = off"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET TRANSACTION READ WRITE"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("RESET default_transaction_read_only"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET ROLE app_owner"), SQL_KIND_SET_ROLE);
	CU_ASSERT_EQUAL(kind("RESET ROLE"), SQL_KIND_SET_ROLE);
	CU_ASSERT_EQUAL(kind("SET SESSION AUTHORIZATION app"), SQL_KIND_SET_ROLE);
	CU_ASSERT_EQUAL(kind("SET search_path TO app, public"), SQL_KIND_SET_OTHER);
	CU_ASSERT_EQUAL(kind("SET LOCAL lock_timeout = '1s'"), SQL_KIND_SET_OTHER);
	CU_ASSERT_EQUAL(kind("RESET ALL"), SQL_KIND_SET_OTHER);
	CU_ASSERT_EQUAL(kind("SELECT set_config('search_path', '', false)"), SQL_KIND_OTHER);
}

static void test_fs_read_refuses(void)
{
	char *text = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL(fs_read_file("/dev/zero", 1024, &text, &len), -1);
	CU_ASSERT_PTR_NULL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "not a regular file"));
	err_clear();
	CU_ASSERT_EQUAL(fs_read_file("/nonexistent/padctl", 1024, &text, &len), 1);
	CU_ASSERT_FALSE(err_pending());
	char *dir = unit_tmpdir();
	unit_write(dir, "f.sql", "0123456789");
	char *path = xstrfmt("%s/f.sql", dir);
	CU_ASSERT_EQUAL(fs_read_file(path, 5, &text, &len), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "more than"));
	err_clear();
	CU_ASSERT_EQUAL(fs_read_file(path, 10, &text, &len), 0);
	CU_ASSERT_EQUAL(len, 10);
	CU_ASSERT_STRING_EQUAL(text, "0123456789");
	free(text);
	CU_ASSERT_EQUAL(fs_write_atomic(path, "new", 3, 0600), 0);
	CU_ASSERT_EQUAL(fs_read_file(path, 10, &text, &len), 0);
	CU_ASSERT_STRING_EQUAL(text, "new");
	free(text);
	free(path);
	unit_rmrf(dir);
	free(dir);
}

static void test_find_kind(void)
{
	int line = 0;
	const char *half = "CREATE TABLE app.half (i int);\nCOMMIT;\nSELECT no_such_fn();\n";
	CU_ASSERT_EQUAL(sql_find_kind(half, strlen(half), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 2);
	const char *sp = "-- head\nCREATE TABLE t (i int);\n\n  /* c */ savepoint a;\n";
	CU_ASSERT_EQUAL(sql_find_kind(sp, strlen(sp), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 4);
	const char *begin = "BEGIN;\nCREATE TABLE t (i int);\n";
	CU_ASSERT_EQUAL(sql_find_kind(begin, strlen(begin), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 1);
	/* PL/pgSQL bodies say BEGIN, END and COMMIT; they are not statements of the file */
	const char *body = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  PERFORM 1;\nEND;\n$$;\n"
			   "DO $$ BEGIN PERFORM 1; END $$;\nCREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; "
			   "END $$;\nSELECT 'commit';\nCREATE TABLE begin_log (i int);\n";
	CU_ASSERT_EQUAL(sql_find_kind(body, strlen(body), SQL_KIND_TX_CONTROL, &line), 0);
	const char *atomic = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nEND;\nSET search_path = app;\n";
	CU_ASSERT_EQUAL(sql_find_kind(atomic, strlen(atomic), SQL_KIND_TX_CONTROL, &line), 0);
	const char *syntax = "COMMIT; SELEC 1;";
	CU_ASSERT_EQUAL(sql_find_kind(syntax, strlen(syntax), SQL_KIND_TX_CONTROL, &line), 0);
}

static void test_created_indexes(void)
{
	const char *sql = "CREATE TABLE app.t (i int);\n"
			  "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_i_idx ON app.t (i);\n"
			  "-- an index\ncreate unique index u_idx on t (i);\n"
			  "CREATE INDEX ON app.t (i);\n"
			  "SELECT 'CREATE INDEX x ON y (z)';\n"
			  "CREATE INDEX CONCURRENTLY \"Odd Name\" ON \"My Schema\".\"T\" (i);\n";
	struct sql_index *v;
	size_t n;
	sql_created_indexes(sql, strlen(sql), &v, &n);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_STRING_EQUAL(v[0].table_schema, "app");
	CU_ASSERT_STRING_EQUAL(v[0].table, "t");
	CU_ASSERT_STRING_EQUAL(v[0].name, "t_i_idx");
	CU_ASSERT_TRUE(v[0].concurrent);
	CU_ASSERT_TRUE(v[0].if_not_exists);
	CU_ASSERT_EQUAL(v[0].line, 2);
	CU_ASSERT_PTR_NULL(v[1].table_schema);
	CU_ASSERT_STRING_EQUAL(v[1].name, "u_idx");
	CU_ASSERT_FALSE(v[1].concurrent);
	CU_ASSERT_EQUAL(v[1].line, 4);
	CU_ASSERT_PTR_NULL(v[2].name);
	CU_ASSERT_STRING_EQUAL(v[3].table_schema, "My Schema");
	CU_ASSERT_STRING_EQUAL(v[3].table, "T");
	CU_ASSERT_STRING_EQUAL(v[3].name, "Odd Name");
	sql_indexes_free(v, n);
	sql_created_indexes("SELECT 1;", 9, &v, &n);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(v);
}

/* a pg_dump file: COPY data is not SQL (a data line "COMMIT;" is a row), and
 * what follows "\." is read as statements again, in bounded memory */
static void test_copy_data_is_skipped(void)
{
	const char *dump = "SET statement_timeout = 0;\n"
			   "COPY app.t (i, s) FROM stdin;\n"
			   "1\tCOMMIT;\n"
			   "2\tCREATE INDEX x ON y (z);\n"
			   "\\.\n"
			   "CREATE INDEX CONCURRENTLY t_s ON app.t (s);\n"
			   "COMMIT;\n";
	int line = 0;
	CU_ASSERT_EQUAL(sql_find_kind(dump, strlen(dump), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 7);
	struct sql_index *v = NULL;
	size_t n = 0;
	sql_created_indexes(dump, strlen(dump), &v, &n);
	CU_ASSERT_EQUAL(n, 1);
	if (n == 1) {
		CU_ASSERT_STRING_EQUAL(v[0].name, "t_s");
		CU_ASSERT_EQUAL(v[0].line, 6);
		CU_ASSERT_TRUE(v[0].concurrent);
	}
	sql_indexes_free(v, n);
}

/* a statement right after COPY data or a \restrict line follows no semicolon:
 * the quick look for words of interest must not miss it */
static void test_find_kind_after_copy_data(void)
{
	int line = 0;
	const char *lf = "CREATE TABLE app.c (t text);\nCOPY app.c (t) FROM stdin;\nx\n\\.\nCOMMIT;\nSELECT 1;\n";
	CU_ASSERT_EQUAL(sql_find_kind(lf, strlen(lf), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 5);
	const char *crlf = "CREATE TABLE app.c (t text);\r\nCOPY app.c (t) FROM stdin;\r\nx\r\n\\.\r\nBEGIN;\r\n";
	CU_ASSERT_EQUAL(sql_find_kind(crlf, strlen(crlf), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 5);
	const char *restrict_line = "\\restrict abc\nCOMMIT;\n";
	CU_ASSERT_EQUAL(sql_find_kind(restrict_line, strlen(restrict_line), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 2);
	const char *unrestrict = "SELECT 1;\n\\unrestrict abc\n  ROLLBACK;\n";
	CU_ASSERT_EQUAL(sql_find_kind(unrestrict, strlen(unrestrict), SQL_KIND_TX_CONTROL, &line), 1);
	CU_ASSERT_EQUAL(line, 3);
	const char *ro = "COPY app.c (t) FROM stdin;\nx\n\\.\nSET default_transaction_read_only = off;\n";
	CU_ASSERT_EQUAL(sql_find_kind(ro, strlen(ro), SQL_KIND_SET_READ_ONLY, &line), 1);
	CU_ASSERT_EQUAL(line, 4);
}

static void test_utf8(void)
{
	const char ok[] = "SELECT 'h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80';";
	CU_ASSERT_EQUAL(utf8_invalid_at(ok, strlen(ok)), strlen(ok));
	CU_ASSERT_EQUAL(utf8_invalid_at("ab\xe9" "cd", 5), 2);          /* latin-1 */
	CU_ASSERT_EQUAL(utf8_invalid_at("a\xc0\xaf" "b", 4), 1);        /* overlong */
	CU_ASSERT_EQUAL(utf8_invalid_at("a\xed\xa0\x80", 4), 1);    /* surrogate */
	CU_ASSERT_EQUAL(utf8_invalid_at("a\xf4\x90\x80\x80", 5), 1); /* past U+10FFFF */
	CU_ASSERT_EQUAL(utf8_invalid_at("ab\xe2\x82", 4), 2);        /* cut short */
	CU_ASSERT_EQUAL(utf8_invalid_at("\x80", 1), 0);
	/* long ASCII runs are skipped in words: a bad byte is found at every offset */
	char text[40];
	for (size_t at = 0; at < 32; at++) {
		memset(text, 'a', 32);
		text[at] = '\xe9';
		CU_ASSERT_EQUAL(utf8_invalid_at(text, 32), at);
		text[at] = 'a';
		memcpy(text + at, "\xc3\xa9", 2);
		CU_ASSERT_EQUAL(utf8_invalid_at(text, 32), at + 2 <= 32 ? 32 : at);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "transaction control is found by the parser", test_tx_control },
		{ "settings and roles are told apart", test_settings },
		{ "what runs the same inside a transaction block", test_wrappable },
		{ "fs reads regular files only, within a cap", test_fs_read_refuses },
		{ "transaction control is found in a file, with its line", test_find_kind },
		{ "CREATE INDEX statements are listed", test_created_indexes },
		{ "COPY data is neither a statement nor an index", test_copy_data_is_skipped },
		{ "a statement after COPY data or a \\restrict line is found", test_find_kind_after_copy_data },
		{ "UTF-8 validation", test_utf8 },
		{ NULL, NULL },
	};
	return unit_run("sql", tests);
}

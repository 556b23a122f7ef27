/* db: libpq wrapper against the real test cluster: errors name file:line of
 * the failing statement, deferred statements travel with the next one, a
 * read-only (dry-run) connection refuses writes, password sources. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "unit.h"

static struct db *connect_test(int read_only)
{
	struct db_params p;
	memset(&p, 0, sizeof p);
	char *host = xstrdup(unit_pg_env("PGHOST") ? unit_pg_env("PGHOST") : "127.0.0.1");
	p.host = host;
	const char *port = unit_pg_env("PGPORT");
	p.port = port ? (int)strtol(port, NULL, 10) : 0;
	char *user = xstrdup(unit_pg_env("PGUSER") ? unit_pg_env("PGUSER") : "postgres");
	p.user = user;
	p.dbname = "postgres";
	p.sslmode = "disable";
	p.application_name = "padctl test_db";
	p.read_only = read_only;
	struct db *db = NULL;
	int rc = db_connect(&p, "the test cluster", &db);
	free(user);
	free(host);
	if (rc) {
		err_print();
		err_clear();
	}
	return db;
}

static const char *msg(void)
{
	return err_message() ? err_message() : "";
}

static void test_error_names_line_of_statement(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	/* a runtime error (no position) in the second statement, which starts on line 4 */
	const char *sql = "CREATE TEMP TABLE t1 (id int);\n\n-- a comment\nSELECT 1/0\n  FROM t1;\n";
	CU_ASSERT_EQUAL(db_exec(db, sql, "mig/up.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "mig/up.sql:4: division by zero"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_detail(), "22012"));
	err_clear();
	/* a syntax error: the server's position picks the line inside the statement */
	const char *bad = "SELECT 1;\nSELECT 2,\n  3\n  FRMO x;\n";
	CU_ASSERT_EQUAL(db_exec(db, bad, "b.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "b.sql:4: syntax error"));
	if (!strstr(msg(), "b.sql:4:"))
		fprintf(stderr, "got: %s\n", msg());
	err_clear();
	/* multi-byte text before the error must not shift the line */
	const char *mb = "SELECT 'é€𝄞';\nSELECT 'ü' || ;\n";
	CU_ASSERT_EQUAL(db_exec(db, mb, "mb.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "mb.sql:2:"));
	err_clear();
	db_close(db);
}

static void test_deferred_travel_with_next(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	db_defer(db, "BEGIN");
	CU_ASSERT_EQUAL(PQtransactionStatus(db->conn), PQTRANS_IDLE);
	CU_ASSERT_EQUAL(db_exec(db, "CREATE TEMP TABLE d1 (id int)", NULL), 0);
	CU_ASSERT_EQUAL(PQtransactionStatus(db->conn), PQTRANS_INTRANS);
	db_defer(db, "INSERT INTO d1 VALUES (7)");
	CU_ASSERT_EQUAL(db_exec(db, "COMMIT", NULL), 0);
	char *v = NULL;
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT sum(id) FROM d1", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "7");
	free(v);
	/* a syntax error after a deferred prefix still names the right line */
	db_defer(db, "BEGIN");
	CU_ASSERT_EQUAL(db_exec(db, "SELECT 1;\n\nSELEC 2;\n", "x.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "x.sql:3:"));
	if (!strstr(msg(), "x.sql:3:"))
		fprintf(stderr, "got: %s\n", msg());
	err_clear();
	db_exec(db, "ROLLBACK", NULL);
	/* db_query flushes what is deferred first */
	db_defer(db, "CREATE TEMP TABLE d2 (id int)");
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT to_regclass('pg_temp.d2') IS NOT NULL", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "t");
	free(v);
	char *lit = db_literal(db, "it's");
	CU_ASSERT_STRING_EQUAL(lit, "'it''s'");
	free(lit);
	db_close(db);
}

static void test_read_only_refuses_writes(void)
{
	struct db *db = connect_test(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	CU_ASSERT_EQUAL(db_exec(db, "CREATE TABLE public.ro_should_not_exist (id int)", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "read-only"));
	CU_ASSERT_PTR_NOT_NULL(err_hint() ? strstr(err_hint(), "dry run") : NULL);
	err_clear();
	char *v = NULL;
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT 40 + 2", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "42");
	free(v);
	db_close(db);
	db = connect_test(0);
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT to_regclass('public.ro_should_not_exist')", 0, NULL, &v), 0);
	CU_ASSERT_PTR_NULL(v);
	db_close(db);
}

static void test_connect_failure_names_target(void)
{
	struct db_params p;
	memset(&p, 0, sizeof p);
	p.host = "127.0.0.1";
	p.port = 1;
	p.dbname = "x";
	p.connect_timeout = 2;
	struct db *db = NULL;
	CU_ASSERT_EQUAL(db_connect(&p, "target \"nowhere\"", &db), -1);
	CU_ASSERT_PTR_NULL(db);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "cannot connect to target \"nowhere\""));
	CU_ASSERT_PTR_NOT_NULL(err_hint());
	err_clear();
}

static void test_plpgsql_error_maps_to_file_line(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	/* a DO block starting on line 9; the misspelled role is on line 41 (the body's line 33) */
	struct buf b = BUF_INIT;
	for (int i = 1; i <= 8; i++)
		buf_addf(&b, "-- line %d\n", i);
	buf_adds(&b, "DO $$\nBEGIN\n");
	for (int i = 11; i <= 40; i++)
		buf_addf(&b, "  PERFORM %d;\n", i);
	buf_adds(&b, "  GRANT SELECT ON pg_class TO no_such_role_h3db;\nEND\n$$;\n");
	CU_ASSERT_EQUAL(db_exec(db, buf_str(&b), "up.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "up.sql:41: role \"no_such_role_h3db\" does not exist"));
	CU_ASSERT_PTR_NOT_NULL(err_detail() ? strstr(err_detail(), "inline_code_block line 33") : NULL);
	if (!strstr(msg(), "up.sql:41:"))
		fprintf(stderr, "got: %s\n%s\n", msg(), err_detail() ? err_detail() : "");
	err_clear();
	buf_release(&b);

	/* a function defined in the file (body from line 2) fails when a later statement calls it */
	const char *fn = "CREATE FUNCTION pg_temp.h3f(x int) RETURNS int LANGUAGE plpgsql AS $body$\n"
			 "BEGIN\n"
			 "  IF x > 1 THEN\n"
			 "    RETURN x / 0;\n"
			 "  END IF;\n"
			 "  RETURN x;\n"
			 "END\n"
			 "$body$;\n"
			 "SELECT 1;\n"
			 "SELECT pg_temp.h3f(5);\n";
	CU_ASSERT_EQUAL(db_exec(db, fn, "f.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "f.sql:4: division by zero"));
	if (!strstr(msg(), "f.sql:4:"))
		fprintf(stderr, "got: %s\n", msg());
	err_clear();

	/* an error in a COPY data row names that row's line */
	const char *cp = "CREATE TEMP TABLE cbad (id int);\nCOPY cbad FROM stdin;\n1\n2\nthree\n\\.\n";
	CU_ASSERT_EQUAL(db_exec(db, cp, "c.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "c.sql:5: invalid input syntax for type integer"));
	if (!strstr(msg(), "c.sql:5:"))
		fprintf(stderr, "got: %s\n", msg());
	err_clear();
	db_close(db);
}

static void test_copy_from_stdin_inline_data(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	/* as pg_dump writes it: tabs, \N for NULL, escaped characters, then statements after \. */
	const char *sql = "\\restrict abcDEF123\n"
			  "SET client_encoding = 'UTF8';\n"
			  "CREATE TEMP TABLE cp (id int, s text, n text);\n"
			  "\n"
			  "COPY cp (id, s, n) FROM stdin;\n"
			  "1\ttab\\there\t\\N\n"
			  "2\tback\\\\slash\\nnew line\t\xc3\xa9\xe2\x82\xac\n"
			  "3\t\\\\N\t;\n"
			  "\\.\n"
			  "\n"
			  "CREATE TEMP TABLE after_copy AS SELECT count(*) AS n FROM cp;\n"
			  "COPY cp FROM STDIN;\n"
			  "4\tx\ty\n"
			  "\\.\n"
			  "\\unrestrict abcDEF123\n";
	int rc = db_exec(db, sql, "dump.sql");
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "got: %s\n", msg());
	err_clear();
	char *v = NULL;
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT string_agg(id || '=' || coalesce(s, 'NULL') || '|' || coalesce(n, 'NULL'), ',' ORDER BY id) FROM cp", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v ? v : "", "1=tab\there|NULL,2=back\\slash\nnew line|\xc3\xa9\xe2\x82\xac,3=\\N|;,4=x|y");
	free(v);
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT n FROM after_copy", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v ? v : "", "3");
	free(v);

	/* a syntax error after COPY data: named at its line, nothing runs */
	const char *late = "CREATE TEMP TABLE cp2 (i int);\nCOPY cp2 FROM stdin;\n1\n\\.\nSELEC 1;\n";
	CU_ASSERT_EQUAL(db_exec(db, late, "late.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "late.sql:5: syntax error at or near \"SELEC\""));
	err_clear();
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT to_regclass('pg_temp.cp2') IS NULL", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v ? v : "", "t");
	free(v);
	/* psql commands other than pg_dump's \restrict are refused at their line */
	CU_ASSERT_EQUAL(db_exec(db, "SELECT 1;\n\\connect other\nSELECT 2;\n", "meta.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "meta.sql:2: psql command \\connect is not supported"));
	err_clear();

	/* COPY FROM STDIN without inline data (no file) fails with a message, never an empty one */
	CU_ASSERT_EQUAL(db_exec(db, "COPY cp FROM stdin", NULL), -1);
	CU_ASSERT(strlen(msg()) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "COPY"));
	err_clear();
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT 1", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v ? v : "", "1");
	free(v);
	/* COPY TO STDOUT is drained, not an error with no message */
	CU_ASSERT_EQUAL(db_exec(db, "COPY cp TO STDOUT;\nSELECT 1;\n", "out.sql"), 0);
	err_clear();
	db_close(db);
}

static void test_notices_name_file_and_line(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	int level = log_level_get();
	log_setup(LOG_NORMAL);
	const char *sql = "SELECT 1;\n\nDO $$BEGIN RAISE NOTICE 'hello %', 42; END$$;\n"
			  "DO $$\nBEGIN\n  RAISE WARNING 'careful';\nEND$$;\n";
	unit_stderr_start();
	int rc = db_exec(db, sql, "n.sql");
	char *out = unit_stderr_end();
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "n.sql:3: NOTICE: hello 42\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "n.sql:6: WARNING: careful\n"));
	if (!strstr(out, "n.sql:3: NOTICE: hello 42\n") || !strstr(out, "n.sql:6: WARNING: careful"))
		fprintf(stderr, "got: %s\n", out);
	free(out);
	/* -q hides them */
	log_setup(LOG_QUIET);
	unit_stderr_start();
	rc = db_exec(db, sql, "n.sql");
	out = unit_stderr_end();
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NULL(strstr(out, "NOTICE"));
	CU_ASSERT_PTR_NULL(strstr(out, "WARNING"));
	free(out);
	log_setup(level);
	db_close(db);
}

/* later_commit sends what waits with COMMIT as padctl's tx_commit does: 0 committed */
static int later_commit(struct db *db)
{
	PGresult *res = NULL;
	if (db_exec_last(db, "COMMIT", &res)) {
		CU_ASSERT_PTR_NULL(res);
		db_drop_deferred(db);
		PQclear(PQexec(db->conn, "ROLLBACK"));
		return -1;
	}
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
	PQclear(res);
	return ok ? 0 : 1;
}

static void test_exec_later_one_message(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	int level = log_level_get();
	log_setup(LOG_NORMAL);
	char *v = NULL;

	/* queued, then run in the message that carries COMMIT: one transaction */
	db_defer(db, "RESET ALL; BEGIN");
	db->guard = DB_GUARD_TX_CONTROL;
	CU_ASSERT_EQUAL(db_exec_later(db, "CREATE TABLE public.later_a (t text);\n"
					  "INSERT INTO public.later_a VALUES ('caf\xc3\xa9 \xe2\x82\xac');\n"
					  "CREATE TABLE public.later_b AS SELECT statement_timestamp() = "
					  "transaction_timestamp() AS same;\n",
					  "ok.sql"),
			0);
	CU_ASSERT(db_queued(db));
	CU_ASSERT_EQUAL(PQtransactionStatus(db->conn), PQTRANS_IDLE); /* nothing sent yet */
	db_defer(db, "INSERT INTO public.later_a VALUES ('after')");
	CU_ASSERT_EQUAL(later_commit(db), 0);
	db->guard = 0;
	CU_ASSERT(!db_queued(db));
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT string_agg(t, ',' ORDER BY t) || (SELECT same::text FROM "
					   "public.later_b) FROM public.later_a", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "after,caf\xc3\xa9 \xe2\x82\xac" "true");
	if (!v || strcmp(v, "after,caf\xc3\xa9 \xe2\x82\xac" "true") != 0)
		fprintf(stderr, "got: %s\n", v ? v : "(null)");
	free(v);

	/* an error with a position in the 2nd statement (after multibyte text): its line */
	db_defer(db, "BEGIN");
	CU_ASSERT_EQUAL(db_exec_later(db, "CREATE TABLE public.later_c (t text DEFAULT '\xc3\xa9\xc3\xa9');\n\n"
					  "SELECT t,\n  no_such_column\n  FROM public.later_c;\n"
					  "CREATE TABLE public.later_d (i int);\n",
					  "pos.sql"),
			0);
	CU_ASSERT_EQUAL(later_commit(db), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "pos.sql:4: column \"no_such_column\" does not exist"));
	if (!strstr(msg(), "pos.sql:4:"))
		fprintf(stderr, "got: %s\n", msg());
	err_clear();
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT to_regclass('public.later_c') IS NULL", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "t");
	free(v);

	/* a runtime error (no position) in the 2nd of 3, reported by the next db_exec */
	db_defer(db, "BEGIN");
	CU_ASSERT_EQUAL(db_exec_later(db, "SELECT 1;\n-- two\nSELECT 1 / (i - 1) FROM generate_series(1, 1) i;\n"
					  "SELECT 3;\n",
					  "rt.sql"),
			0);
	CU_ASSERT_EQUAL(db_exec(db, "SELECT 4", NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "rt.sql:3: division by zero"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_detail(), "SQLSTATE 22012"));
	err_clear();
	CU_ASSERT_EQUAL(PQtransactionStatus(db->conn), PQTRANS_INERROR);
	PQclear(PQexec(db->conn, "ROLLBACK"));

	/* notices of each statement, and a function an earlier statement defined */
	db_defer(db, "BEGIN");
	const char *nsql = "DROP TABLE IF EXISTS public.later_none1;\n"
			   "DROP TABLE IF EXISTS public.later_none2;\n"
			   "CREATE FUNCTION pg_temp.later_f() RETURNS int LANGUAGE plpgsql AS $$\n"
			   "BEGIN\n"
			   "  RAISE NOTICE 'in the body';\n"
			   "  RETURN 1 / 0;\n"
			   "END $$;\n"
			   "SELECT pg_temp.later_f();\n";
	CU_ASSERT_EQUAL(db_exec_later(db, nsql, "n.sql"), 0);
	unit_stderr_start();
	int rc = later_commit(db);
	char *out = unit_stderr_end();
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "n.sql:1: NOTICE: table \"later_none1\" does not exist, skipping"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "n.sql:2: NOTICE: table \"later_none2\" does not exist, skipping"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "n.sql:5: NOTICE: in the body"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "n.sql:6: division by zero"));
	if (!strstr(out, "n.sql:2: NOTICE") || !strstr(msg(), "n.sql:6:"))
		fprintf(stderr, "got: %s\n%s\n", out, msg());
	free(out);
	err_clear();

	/* what cannot wait runs at once, as db_exec */
	static const char *const now[] = {
		"CREATE TEMP TABLE later_cp (i int);\nCOPY later_cp FROM stdin;\n1\n\\.\n",
		"SET LOCAL standard_conforming_strings = on;\nSELECT 1;\n",
		"SET NAMES 'UTF8';\nSELECT 1;\n",
		"-- nothing but a comment\n",
	};
	for (size_t i = 0; i < sizeof now / sizeof now[0]; i++) {
		db_defer(db, "BEGIN");
		CU_ASSERT_EQUAL(db_exec_later(db, now[i], "now.sql"), 0);
		CU_ASSERT(!db_queued(db));
		CU_ASSERT_EQUAL(db_exec(db, "ROLLBACK", NULL), 0);
	}
	/* a syntax error is reported at once, before anything of the file is queued */
	CU_ASSERT_EQUAL(db_exec_later(db, "SELECT 1;\nSELEC 2;\n", "syn.sql"), -1);
	CU_ASSERT(!db_queued(db));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "syn.sql:2:"));
	err_clear();
	/* the guard refuses before anything is queued or sent */
	db_defer(db, "BEGIN");
	db->guard = DB_GUARD_TX_CONTROL;
	CU_ASSERT_EQUAL(db_exec_later(db, "SELECT 1;\nCOMMIT;\n", "g.sql"), -1);
	CU_ASSERT(!db_queued(db));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "g.sql:2: transaction control is not allowed here"));
	if (!strstr(msg(), "g.sql:2: transaction control"))
		fprintf(stderr, "got: %s\n", msg());
	err_clear();
	db->guard = 0;
	db_drop_deferred(db);
	CU_ASSERT_EQUAL(PQtransactionStatus(db->conn), PQTRANS_IDLE);
	CU_ASSERT_EQUAL(db_exec(db, "DROP TABLE public.later_a, public.later_b", NULL), 0);
	log_setup(level);
	db_close(db);
}

static void test_literal_fails_on_bad_text(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	char *lit = db_literal(db, "bad \xff byte");
	CU_ASSERT_PTR_NULL(lit);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "could not quote"));
	free(lit);
	err_clear();
	db_close(db);
}

/* big texts are cut into chunks (about 1 MiB) that are parsed one at a time */
static void test_big_text_in_chunks(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	struct buf b = BUF_INIT;
	buf_adds(&b, "CREATE TABLE public.h3_chunks (i int);\n");
	int lines = 1;
	while (b.len < ((size_t)1 << 20) - 3000) {
		buf_addf(&b, "INSERT INTO public.h3_chunks VALUES (%d);\n", lines);
		lines++;
	}
	/* a SQL-standard function body (semicolons inside) across the first cut */
	buf_adds(&b, "CREATE FUNCTION pg_temp.h3_atomic() RETURNS int LANGUAGE sql BEGIN ATOMIC\n");
	lines++;
	for (int i = 0; i < 300; i++) {
		buf_addf(&b, "  SELECT %d;\n", i);
		lines++;
	}
	buf_adds(&b, "  SELECT 7;\nEND;\nSELECT pg_temp.h3_atomic();\n");
	lines += 3;
	const size_t good_len = b.len;
	/* a syntax error near the end: nothing runs */
	buf_adds(&b, "SELECT 1;\nSELEC 2;\n");
	CU_ASSERT_EQUAL(db_exec(db, buf_str(&b), "big.sql"), -1);
	char *want = xstrfmt("big.sql:%d: syntax error", lines + 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), want));
	if (!strstr(msg(), want))
		fprintf(stderr, "want %s, got: %s\n", want, msg());
	free(want);
	err_clear();
	char *v = NULL;
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT to_regclass('public.h3_chunks') IS NULL", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v ? v : "", "t");
	free(v);
	/* without it, everything runs */
	b.len = good_len;
	b.s[b.len] = '\0';
	CU_ASSERT_EQUAL(db_exec(db, buf_str(&b), "big.sql"), 0);
	if (err_pending())
		fprintf(stderr, "got: %s\n", msg());
	err_clear();
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT count(*) FROM public.h3_chunks", 0, NULL, &v), 0);
	char *n = xstrfmt("%d", lines - 305);
	CU_ASSERT_STRING_EQUAL(v ? v : "", n);
	free(n);
	free(v);
	/* CRLF line ends, no final semicolon, a trailing comment */
	CU_ASSERT_EQUAL(db_exec(db, "SELECT 1;\r\nSELECT ';' AS \"a;b\", $x$;$x$ -- done;\r\n", "crlf.sql"), 0);
	CU_ASSERT_EQUAL(db_exec(db, "SELECT 1;\r\nSELECT 1/0 -- end", "crlf.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "crlf.sql:2: division by zero"));
	err_clear();
	/* a runtime error far into the text names its line */
	buf_reset(&b);
	for (int i = 0; i < 60000; i++)
		buf_addf(&b, "SELECT %d;\n", i);
	buf_adds(&b, "SELECT 1/0;\n");
	CU_ASSERT_EQUAL(db_exec(db, buf_str(&b), "far.sql"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "far.sql:60001: division by zero"));
	err_clear();
	db_exec(db, "DROP TABLE public.h3_chunks", NULL);
	buf_release(&b);
	db_close(db);
}

static void test_guard_refuses_before_sending(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	db->guard = DB_GUARD_TX_CONTROL;
	/* a COMMIT past the first chunk: refused at its line, nothing before it ran */
	struct buf b = BUF_INIT;
	buf_adds(&b, "CREATE TABLE public.h3_guard (i int);\n");
	int lines = 1;
	while (b.len < ((size_t)3 << 20)) {
		buf_adds(&b, "INSERT INTO public.h3_guard VALUES (1);\n");
		lines++;
	}
	buf_adds(&b, "COMMIT;\n");
	CU_ASSERT_EQUAL(db_exec(db, buf_str(&b), "g.sql"), -1);
	char *want = xstrfmt("g.sql:%d: transaction control is not allowed here", lines + 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), want));
	if (!strstr(msg(), want))
		fprintf(stderr, "want %s, got: %s\n", want, msg());
	free(want);
	err_clear();
	db->guard = 0;
	char *v = NULL;
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT to_regclass('public.h3_guard') IS NULL", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v ? v : "", "t");
	free(v);
	buf_release(&b);
	db_close(db);
}

/* count_result is db->on_result: the COMMITs the server answered */
static void count_result(void *arg, size_t k, PGresult *res)
{
	(void)k;
	if (PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0)
		(*(int *)arg)++;
}

static void test_queue_several_files(void)
{
	struct db *db = connect_test(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	int level = log_level_get();
	log_setup(LOG_QUIET);
	char *v = NULL;
	int commits = 0;
	db->on_result = count_result;
	db->on_result_arg = &commits;
	db->guard = DB_GUARD_TX_CONTROL;

	/* three transactions in one message; the second file fails at its line 3: the first stays */
	db_defer(db, "BEGIN");
	CU_ASSERT_EQUAL(db_queue(db, "CREATE TABLE public.q_one (i int);\n", "one.sql"), 0);
	db_defer(db, "COMMIT");
	long before = db_deferred_count(db);
	CU_ASSERT_EQUAL(before, 4); /* BEGIN, the statement and its separator, COMMIT */
	size_t mark = db->deferred.len;
	db_defer(db, "BEGIN; SELECT 1");
	CU_ASSERT_EQUAL(db_deferred_count(db), 6);
	db_deferred_undo(db, mark);
	CU_ASSERT_EQUAL(db_deferred_count(db), before);
	/* what cannot wait is not queued, and says so without an error */
	CU_ASSERT_EQUAL(db_queue(db, "COPY public.q_one FROM STDIN;\n1\n\\.\n", "copy.sql"), 1);
	CU_ASSERT(!err_pending());
	CU_ASSERT_EQUAL(db_queue(db, "COMMIT;\n", "tx.sql"), -1);
	CU_ASSERT(err_pending());
	err_clear();
	db_defer(db, "BEGIN");
	CU_ASSERT_EQUAL(db_queue(db, "CREATE TABLE public.q_two (i int);\n\nSELECT 1 / 0;\n", "two.sql"), 0);
	db_defer(db, "COMMIT; BEGIN");
	CU_ASSERT_EQUAL(db_queue(db, "CREATE TABLE public.q_three (i int);\n", "three.sql"), 0);
	PGresult *res = NULL;
	CU_ASSERT_EQUAL(db_exec_last(db, "COMMIT", &res), -1);
	CU_ASSERT_PTR_NULL(res);
	CU_ASSERT_EQUAL(db->failed_file, 1);
	CU_ASSERT_EQUAL(commits, 1);
	CU_ASSERT(err_pending());
	if (err_pending()) {
		CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "two.sql:3: division by zero"));
		if (!strstr(err_message(), "two.sql:3: division by zero"))
			fprintf(stderr, "got: %s\n", err_message());
	}
	err_clear();
	PQclear(PQexec(db->conn, "ROLLBACK"));
	db->guard = 0;
	db->on_result = NULL;
	CU_ASSERT_EQUAL(db_query_value(db, "SELECT (to_regclass('public.q_one') IS NOT NULL)::text || "
					   "(to_regclass('public.q_two') IS NULL)::text || "
					   "(to_regclass('public.q_three') IS NULL)::text", 0, NULL, &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "truetruetrue");
	free(v);
	PQclear(PQexec(db->conn, "DROP TABLE IF EXISTS public.q_one"));
	log_setup(level);
	db_close(db);
}

int main(void)
{
	if (!unit_pg_env("PGPORT")) {
		fprintf(stderr, "test_db needs the test cluster (PADCTL_TEST_PG_ENV)\n");
		return 1;
	}
	static const struct unit_test tests[] = {
		{ "errors name the line of the failing statement", test_error_names_line_of_statement },
		{ "deferred statements travel with the next one", test_deferred_travel_with_next },
		{ "db_exec_later: a file in the message that carries COMMIT", test_exec_later_one_message },
		{ "db_queue: several files, each its own transaction, in one message", test_queue_several_files },
		{ "a read-only connection refuses writes", test_read_only_refuses_writes },
		{ "a failed connection names the target", test_connect_failure_names_target },
		{ "PL/pgSQL errors name the line in the file", test_plpgsql_error_maps_to_file_line },
		{ "COPY FROM STDIN with inline data", test_copy_from_stdin_inline_data },
		{ "notices name the file and line", test_notices_name_file_and_line },
		{ "db_literal fails on text it cannot quote", test_literal_fails_on_bad_text },
		{ "big texts run chunk by chunk", test_big_text_in_chunks },
		{ "the guard refuses before anything is sent", test_guard_refuses_before_sending },
		{ NULL, NULL },
	};
	return unit_run("db", tests);
}

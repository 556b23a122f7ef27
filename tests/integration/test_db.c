/* db: libpq wrapper against the real test cluster: errors name file:line of
 * the failing statement, deferred statements travel with the next one, a
 * read-only (dry-run) connection refuses writes, password sources. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "trust.h"
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

static void test_password_sources(void)
{
	struct cfg_target t;
	memset(&t, 0, sizeof t);
	t.name = (char *)"qa";
	char *pw = NULL;
	t.db.password_env = (char *)"PADCTL_TEST_UNSET_PASSWORD_VAR";
	unsetenv("PADCTL_TEST_UNSET_PASSWORD_VAR");
	CU_ASSERT_EQUAL(db_resolve_password(&t, &pw), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "PADCTL_TEST_UNSET_PASSWORD_VAR"));
	err_clear();
	setenv("PADCTL_TEST_UNSET_PASSWORD_VAR", "s3cret", 1);
	CU_ASSERT_EQUAL(db_resolve_password(&t, &pw), 0);
	CU_ASSERT_STRING_EQUAL(pw, "s3cret");
	free(pw);
	unsetenv("PADCTL_TEST_UNSET_PASSWORD_VAR");
	t.db.password_env = NULL;
	/* a project's command runs only once trusted (trust.h), in a trust file of this test's own */
	char *conf = unit_tmpdir();
	setenv("XDG_CONFIG_HOME", conf, 1);
	t.db.trust_root = conf;
	t.db.trust_env = (char *)"qa";
	t.db.password_command = (char *)"printf 'from-command\\n'";
	CU_ASSERT_EQUAL(db_resolve_password(&t, &pw), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "it is not trusted"));
	CU_ASSERT_PTR_NOT_NULL(err_hint() ? strstr(err_hint(), "padctl trust qa") : NULL);
	CU_ASSERT_PTR_NULL(pw);
	err_clear();
	CU_ASSERT_EQUAL(trust_set(conf, t.db.password_command, 1), 0);
	CU_ASSERT_EQUAL(trust_set(conf, "echo leaked-secret; exit 3", 1), 0);
	CU_ASSERT_EQUAL(db_resolve_password(&t, &pw), 0);
	CU_ASSERT_STRING_EQUAL(pw, "from-command");
	free(pw);
	/* a failing command: its output (maybe a secret) is never shown */
	t.db.password_command = (char *)"echo leaked-secret; exit 3";
	CU_ASSERT_EQUAL(db_resolve_password(&t, &pw), -1);
	CU_ASSERT_PTR_NULL(strstr(msg(), "leaked-secret"));
	CU_ASSERT_PTR_NULL(err_detail() ? strstr(err_detail(), "leaked-secret") : NULL);
	CU_ASSERT_PTR_NOT_NULL(err_detail() ? strstr(err_detail(), "status 3") : NULL);
	err_clear();
	t.db.password_command = NULL;
	CU_ASSERT_EQUAL(db_resolve_password(&t, &pw), 0);
	CU_ASSERT_PTR_NULL(pw);
	unsetenv("XDG_CONFIG_HOME");
	unit_rmrf(conf);
	free(conf);
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
		{ "a read-only connection refuses writes", test_read_only_refuses_writes },
		{ "a failed connection names the target", test_connect_failure_names_target },
		{ "password sources", test_password_sources },
		{ NULL, NULL },
	};
	return unit_run("db", tests);
}

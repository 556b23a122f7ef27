/* target: endpoint resolution and the three ways to open a target, against
 * the real test cluster: a direct target connects with its application_name
 * and read-only setting, an SSH target is refused before any connection,
 * open_write locks, pins and creates the ledger, open_read checks the pin
 * without writing, and the password sources (env, trusted command). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "ledger.h"
#include "log.h"
#include "target.h"
#include "trust.h"
#include "unit.h"

#define DBNAME "padctl_test_target"
#define DBNAME2 "padctl_test_target_other"

static const char *msg(void)
{
	return err_message() ? err_message() : "";
}

/* direct_target points t at dbname of the test cluster (the strings are the caller's) */
static void direct_target(struct cfg_target *t, const char *name, const char *dbname)
{
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	t->db.host = xstrdup(unit_pg_env("PGHOST") ? unit_pg_env("PGHOST") : "127.0.0.1");
	const char *port = unit_pg_env("PGPORT");
	t->db.port = port ? (int)strtol(port, NULL, 10) : 5432;
	t->db.user = xstrdup(unit_pg_env("PGUSER") ? unit_pg_env("PGUSER") : "postgres");
	t->db.dbname = xstrdup(dbname);
	t->db.sslmode = xstrdup("disable");
	t->db.connect_timeout = 10;
}

static void target_free(struct cfg_target *t)
{
	free(t->name);
	free(t->db.host);
	free(t->db.user);
	free(t->db.dbname);
	free(t->db.sslmode);
	memset(t, 0, sizeof *t);
}

static void admin_exec(const char *sql)
{
	struct cfg_target t;
	struct cfg_project p = { 0 };
	struct db *db = NULL;
	direct_target(&t, "admin", "postgres");
	CU_ASSERT_EQUAL_FATAL(target_connect(&p, &t, "test", NULL, 0, &db), 0);
	CU_ASSERT_EQUAL(db_exec(db, sql, NULL), 0);
	db_close(db);
	target_free(&t);
}

static char *value(struct db *db, const char *sql)
{
	char *v = NULL;
	CU_ASSERT_EQUAL(db_query_value(db, sql, 0, NULL, &v), 0);
	return v ? v : xstrdup("");
}

static void test_connect_direct(void)
{
	struct cfg_target t;
	struct cfg_project p = { 0 };
	struct db *db = NULL;
	direct_target(&t, "qa", "postgres");
	CU_ASSERT_EQUAL_FATAL(target_connect(&p, &t, "history", NULL, 1, &db), 0);
	char *v = value(db, "SELECT current_setting('application_name')");
	CU_ASSERT_STRING_EQUAL(v, "padctl history");
	free(v);
	v = value(db, "SELECT current_setting('default_transaction_read_only')");
	CU_ASSERT_STRING_EQUAL(v, "on");
	free(v);
	CU_ASSERT_PTR_NOT_NULL(strstr(db->label, "target \"qa\""));
	db_close(db);
	db = NULL;
	/* writing, with a run id: the ledger's application_name */
	CU_ASSERT_EQUAL_FATAL(target_connect(&p, &t, "deploy", "r-123", 0, &db), 0);
	v = value(db, "SELECT current_setting('application_name')");
	CU_ASSERT_PTR_NOT_NULL(strstr(v, "padctl deploy r-123"));
	free(v);
	v = value(db, "SELECT current_setting('default_transaction_read_only')");
	CU_ASSERT_STRING_EQUAL(v, "off");
	free(v);
	db_close(db);
	/* a server that is not there: the error names the target */
	db = NULL;
	t.db.port = 1;
	t.db.connect_timeout = 2;
	CU_ASSERT_EQUAL(target_connect(&p, &t, "status", NULL, 1, &db), -1);
	CU_ASSERT_PTR_NULL(db);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "cannot connect to target \"qa\""));
	err_clear();
	target_free(&t);
}

static void test_ssh_refused(void)
{
	struct cfg_target t;
	struct cfg_project p = { 0 };
	struct cfg_ssh ssh;
	memset(&ssh, 0, sizeof ssh);
	ssh.host = (char *)"bastion.example";
	direct_target(&t, "prod", "postgres");
	t.ssh = &ssh;
	struct db *db = NULL;
	/* database.host would answer, but a target behind SSH is never reached directly */
	CU_ASSERT_EQUAL(target_connect(&p, &t, "status", NULL, 1, &db), -1);
	CU_ASSERT_PTR_NULL(db);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "has an ssh section without tunnel: true or tools: remote"));
	err_clear();
	CU_ASSERT_EQUAL(target_open_read(&p, "prod", &t, "deploy", "r-1", &db), -1);
	CU_ASSERT_PTR_NULL(db);
	err_clear();
	/* with a tunnel to a host that is not there, still never directly */
	ssh.tunnel = 1;
	ssh.port = 22;
	ssh.known_hosts = (char *)"/nonexistent/known_hosts";
	CU_ASSERT_EQUAL(target_connect(&p, &t, "status", NULL, 1, &db), -1);
	CU_ASSERT_PTR_NULL(db);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "known_hosts file \"/nonexistent/known_hosts\": it does not exist"));
	err_clear();
	t.ssh = NULL;
	target_free(&t);
}

static void test_open_write_and_read(void)
{
	admin_exec("DROP DATABASE IF EXISTS " DBNAME " WITH (FORCE)");
	admin_exec("DROP DATABASE IF EXISTS " DBNAME2 " WITH (FORCE)");
	admin_exec("CREATE DATABASE " DBNAME);
	admin_exec("CREATE DATABASE " DBNAME2);
	char *root = unit_tmpdir();
	struct cfg_project p = { 0 };
	p.root = root;
	p.name = (char *)"targettest";
	struct cfg_target t;
	direct_target(&t, "db1", DBNAME);
	struct db *db = NULL, *other = NULL;

	/* reading an unpinned target pins nothing and writes nothing */
	CU_ASSERT_EQUAL_FATAL(target_open_read(&p, "qa", &t, "deploy", "r-read", &db), 0);
	char *v = value(db, "SELECT to_regnamespace('padctl') IS NULL");
	CU_ASSERT_STRING_EQUAL(v, "t");
	free(v);
	db_close(db);
	db = NULL;
	char *kt = xstrfmt("%s/known_targets", root);
	CU_ASSERT_NOT_EQUAL(access(kt, F_OK), 0);

	/* writing: the lock, the pin and the ledger */
	CU_ASSERT_EQUAL_FATAL(target_open_write(&p, "qa", &t, "deploy", "r-write", 0, &db), 0);
	CU_ASSERT_EQUAL(access(kt, F_OK), 0);
	v = value(db, "SELECT to_regnamespace('padctl') IS NOT NULL");
	CU_ASSERT_STRING_EQUAL(v, "t");
	free(v);
	/* a second writer finds the lock taken (lock_ms 0: no wait) */
	CU_ASSERT_EQUAL(target_open_write(&p, "qa", &t, "deploy", "r-second", 0, &other), -1);
	CU_ASSERT_PTR_NULL(other);
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_LOCKED);
	err_clear();
	/* a reader does not need the lock */
	CU_ASSERT_EQUAL(target_open_read(&p, "qa", &t, "deploy", "r-read2", &other), 0);
	db_close(other);
	other = NULL;
	db_close(db);
	db = NULL;

	/* the same env/target pointing at another database: refused, read or write */
	free(t.db.dbname);
	t.db.dbname = xstrdup(DBNAME2);
	CU_ASSERT_EQUAL(target_open_read(&p, "qa", &t, "deploy", "r-wrong", &db), -1);
	CU_ASSERT_PTR_NULL(db);
	CU_ASSERT_PTR_NOT_NULL(err_message());
	err_clear();
	CU_ASSERT_EQUAL(target_open_write(&p, "qa", &t, "deploy", "r-wrong", 0, &db), -1);
	CU_ASSERT_PTR_NULL(db);
	err_clear();
	/* and nothing was written there */
	struct cfg_target t2;
	direct_target(&t2, "db2", DBNAME2);
	CU_ASSERT_EQUAL_FATAL(target_connect(&p, &t2, "test", NULL, 1, &db), 0);
	v = value(db, "SELECT to_regnamespace('padctl') IS NULL");
	CU_ASSERT_STRING_EQUAL(v, "t");
	free(v);
	db_close(db);
	target_free(&t2);

	target_free(&t);
	free(kt);
	unit_rmrf(root);
	free(root);
	admin_exec("DROP DATABASE IF EXISTS " DBNAME " WITH (FORCE)");
	admin_exec("DROP DATABASE IF EXISTS " DBNAME2 " WITH (FORCE)");
}

static void test_password_sources(void)
{
	struct cfg_target t;
	memset(&t, 0, sizeof t);
	t.name = (char *)"qa";
	char *pw = NULL;
	t.db.password_env = (char *)"PADCTL_TEST_UNSET_PASSWORD_VAR";
	unsetenv("PADCTL_TEST_UNSET_PASSWORD_VAR");
	CU_ASSERT_EQUAL(target_password(&t, &pw), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "PADCTL_TEST_UNSET_PASSWORD_VAR"));
	err_clear();
	setenv("PADCTL_TEST_UNSET_PASSWORD_VAR", "s3cret", 1);
	CU_ASSERT_EQUAL(target_password(&t, &pw), 0);
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
	CU_ASSERT_EQUAL(target_password(&t, &pw), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg(), "it is not trusted"));
	CU_ASSERT_PTR_NOT_NULL(err_hint() ? strstr(err_hint(), "padctl trust qa") : NULL);
	CU_ASSERT_PTR_NULL(pw);
	err_clear();
	CU_ASSERT_EQUAL(trust_set(conf, t.db.password_command, 1), 0);
	CU_ASSERT_EQUAL(trust_set(conf, "echo leaked-secret; exit 3", 1), 0);
	CU_ASSERT_EQUAL(target_password(&t, &pw), 0);
	CU_ASSERT_STRING_EQUAL(pw, "from-command");
	free(pw);
	/* a failing command: its output (maybe a secret) is never shown */
	t.db.password_command = (char *)"echo leaked-secret; exit 3";
	CU_ASSERT_EQUAL(target_password(&t, &pw), -1);
	CU_ASSERT_PTR_NULL(strstr(msg(), "leaked-secret"));
	CU_ASSERT_PTR_NULL(err_detail() ? strstr(err_detail(), "leaked-secret") : NULL);
	CU_ASSERT_PTR_NOT_NULL(err_detail() ? strstr(err_detail(), "status 3") : NULL);
	err_clear();
	t.db.password_command = NULL;
	CU_ASSERT_EQUAL(target_password(&t, &pw), 0);
	CU_ASSERT_PTR_NULL(pw);
	unsetenv("XDG_CONFIG_HOME");
	unit_rmrf(conf);
	free(conf);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "connect to a direct target", test_connect_direct },
		{ "an SSH target is refused", test_ssh_refused },
		{ "open for writing and for reading", test_open_write_and_read },
		{ "password sources", test_password_sources },
		{ NULL, NULL },
	};
	return unit_run("target", tests);
}

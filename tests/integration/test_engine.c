/* engine: the engine's promises, through pipeline_run on the real test
 * cluster, with the bundled plugins of the build and the engine_probe test
 * plugin (tests/plugins/engine_probe, one promise per `mode`):
 * transactions (a migration and its history row commit together, an ignored
 * error fails the commit, an open transaction fails its step), guards
 * (transaction control inside tx_begin, the dry run's read-only
 * transaction), the lifetime of config answers, the session reset between
 * migrations and before ledger writes, and error scopes (what the ledger
 * records per step and per target, and the command's first error).
 *
 * Each test builds a project in a temp dir whose env points at databases it
 * creates and drops, and calls pipeline_run as `padctl deploy` does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"
#include "target.h"
#include "unit.h"

#define DB1 "padctl_test_engine"
#define DB2 "padctl_test_engine_b"
#define ROLE "padctl_test_engine_role"

/* the project of the running test (unit_tmpdir) */
static char *root;

/* what the last deploy left in the command's error scope (err_clear'ed after) */
static char *last_msg;
static char *last_detail;

static struct cfg_target *direct(const char *dbname)
{
	struct cfg_target *t = xcalloc(1, sizeof *t);
	t->name = xstrdup("probe");
	t->db.host = xstrdup(unit_pg_env("PGHOST") ? unit_pg_env("PGHOST") : "127.0.0.1");
	const char *port = unit_pg_env("PGPORT");
	t->db.port = port ? (int)strtol(port, NULL, 10) : 5432;
	t->db.user = xstrdup(unit_pg_env("PGUSER") ? unit_pg_env("PGUSER") : "postgres");
	t->db.dbname = xstrdup(dbname);
	t->db.sslmode = xstrdup("disable");
	t->db.connect_timeout = 10;
	return t;
}

static void direct_free(struct cfg_target *t)
{
	free(t->name);
	free(t->db.host);
	free(t->db.user);
	free(t->db.dbname);
	free(t->db.sslmode);
	free(t);
}

/* on runs sql on dbname outside the engine (the test's own look at the server) */
static void on(const char *dbname, const char *sql)
{
	struct cfg_target *t = direct(dbname);
	struct cfg_project p = { 0 };
	struct db *db = NULL;
	CU_ASSERT_EQUAL_FATAL(target_connect(&p, t, "test", NULL, 0, &db), 0);
	if (db_exec(db, sql, NULL)) {
		fprintf(stderr, "setup statement failed: %s: %s\n", sql, err_message());
		err_clear();
		CU_FAIL("setup statement failed");
	}
	db_close(db);
	direct_free(t);
}

/* q returns the one value sql gives on dbname, "(null)" for SQL NULL; the caller frees it */
static char *q(const char *dbname, const char *sql)
{
	struct cfg_target *t = direct(dbname);
	struct cfg_project p = { 0 };
	struct db *db = NULL;
	char *v = NULL;
	CU_ASSERT_EQUAL_FATAL(target_connect(&p, t, "test", NULL, 1, &db), 0);
	if (db_query_value(db, sql, 0, NULL, &v)) {
		fprintf(stderr, "query failed: %s: %s\n", sql, err_message());
		err_clear();
		CU_FAIL("query failed");
		v = xstrdup("(error)");
	}
	db_close(db);
	direct_free(t);
	return v ? v : xstrdup("(null)");
}

#define ASSERT_Q(dbname, sql, want) \
	do { \
		char *got_ = q(dbname, sql); \
		if (strcmp(got_, want) != 0) \
			fprintf(stderr, "%s:%d: %s: want \"%s\", got \"%s\"\n", __FILE__, __LINE__, sql, want, got_); \
		CU_ASSERT_STRING_EQUAL(got_, want); \
		free(got_); \
	} while (0)

static int contains(const char *s, const char *part)
{
	return s && strstr(s, part) != NULL;
}

/* fresh_dbs recreates both databases, each with an empty public.probe */
static void fresh_dbs(void)
{
	on("postgres", "DROP DATABASE IF EXISTS " DB1 " WITH (FORCE)");
	on("postgres", "DROP DATABASE IF EXISTS " DB2 " WITH (FORCE)");
	on("postgres", "CREATE DATABASE " DB1);
	on("postgres", "CREATE DATABASE " DB2);
	on(DB1, "CREATE TABLE public.probe (i int)");
	on(DB2, "CREATE TABLE public.probe (i int)");
}

/* pipeline writes pipelines/standard.yml with steps (YAML list items, one per line) */
static void pipeline(const char *steps)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "steps:\n%son_failure: stop\n", steps);
	unit_write(root, "pipelines/standard.yml", buf_str(&b));
	buf_release(&b);
}

/* project writes a project: owned schemas app and app2, protected ref, env
 * "test" with target t1 on DB1 (and t2 on DB2 when two), pipeline standard
 * made of steps (the YAML list items, one per line) */
static void project(const char *steps, int two)
{
	fresh_dbs();
	root = unit_tmpdir();
	unit_write(root, "padctl.yml", "project: engine\nschemas:\n  owned: [app, app2]\n  protected: [ref]\n");
	/* unit_pg_env's answers are borrowed until its next call */
	char *host = xstrdup(unit_pg_env("PGHOST") ? unit_pg_env("PGHOST") : "127.0.0.1");
	char *port = xstrdup(unit_pg_env("PGPORT") ? unit_pg_env("PGPORT") : "5432");
	char *user = xstrdup(unit_pg_env("PGUSER") ? unit_pg_env("PGUSER") : "postgres");
	struct buf b = BUF_INIT;
	buf_addf(&b, "tier: nonprod\npipeline: standard\ntargets:\n");
	for (int i = 0; i < (two ? 2 : 1); i++)
		buf_addf(&b,
			 "  t%d:\n    database:\n      host: %s\n      port: %s\n      dbname: %s\n"
			 "      user: %s\n",
			 i + 1, host, port, i ? DB2 : DB1, user);
	unit_write(root, "envs/test.yml", buf_str(&b));
	free(host);
	free(port);
	free(user);
	buf_release(&b);
	unit_write(root, "migrations/.keep", "");
	pipeline(steps);
}

/* migration adds migrations/<dir>/up.sql (and a meta.yml when meta is set) */
static void migration(const char *dir, const char *up, const char *meta)
{
	char *rel = xstrfmt("migrations/%s/up.sql", dir);
	unit_write(root, rel, up);
	free(rel);
	if (meta) {
		rel = xstrfmt("migrations/%s/meta.yml", dir);
		unit_write(root, rel, meta);
		free(rel);
	}
}

/* deploy runs `padctl deploy test` (dry_run: --dry-run) in the project;
 * returns pipeline_run's result and keeps the command's error in last_msg
 * and last_detail, then clears it */
static int deploy(int dry_run)
{
	free(last_msg);
	free(last_detail);
	last_msg = last_detail = NULL;
	CU_ASSERT_FALSE(err_pending());
	struct cfg_project p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	memset(&p, 0, sizeof p);
	memset(&env, 0, sizeof env);
	memset(&pl, 0, sizeof pl);
	int rc = config_load_project(root, &p);
	if (!rc)
		rc = config_load_env(&p, "test", &env);
	if (!rc)
		rc = config_load_pipeline(&p, env.pipeline, &env, &pl);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	const char *build = getenv("PADCTL_PLUGIN_BUILD_DIR");
	const char *tests = getenv("PADCTL_TEST_PLUGIN_DIR");
	CU_ASSERT_PTR_NOT_NULL_FATAL(build);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tests);
	char *probe = xstrfmt("%s/engine_probe", tests);
	const char *dirs[] = { build, probe };
	struct plugin_registry reg;
	memset(&reg, 0, sizeof reg);
	CU_ASSERT_EQUAL_FATAL(plugin_registry_load_dirs(&reg, dirs, 2), 0);
	CU_ASSERT_PTR_NOT_NULL(plugin_find(&reg, "migrate"));
	CU_ASSERT_PTR_NOT_NULL(plugin_find(&reg, "engine_probe"));
	struct run_opts o = { .command = "deploy", .dry_run = dry_run, .lock_timeout_ms = 10000 };
	rc = pipeline_run(&p, &env, &pl, &reg, &o);
	if (err_pending()) {
		last_msg = xstrdup(err_message());
		last_detail = err_detail() ? xstrdup(err_detail()) : xstrdup("");
	}
	err_clear();
	plugin_registry_release(&reg);
	free(probe);
	config_pipeline_release(&pl);
	config_env_release(&env);
	config_project_release(&p);
	return rc;
}

static void done(void)
{
	unit_rmrf(root);
	free(root);
	root = NULL;
	free(last_msg);
	free(last_detail);
	last_msg = last_detail = NULL;
	on("postgres", "DROP DATABASE IF EXISTS " DB1 " WITH (FORCE)");
	on("postgres", "DROP DATABASE IF EXISTS " DB2 " WITH (FORCE)");
}

/* ---- transactions */

/* the bundled migrate step: each migration commits with its history row; the
 * failing one leaves neither its table nor a row */
static void test_migration_and_row_commit_together(void)
{
	project("  - migrate\n", 0);
	migration("0001_first", "CREATE SCHEMA app;\nCREATE TABLE app.a (i int);\n", NULL);
	migration("0002_second", "CREATE TABLE app.b (i int);\nSELECT no_such_function_0002();\n", NULL);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT(contains(last_msg, "no_such_function_0002"));
	ASSERT_Q(DB1, "SELECT string_agg(version || ':' || status, ',' ORDER BY version) FROM padctl.migrations",
		 "0001:applied");
	ASSERT_Q(DB1, "SELECT to_regclass('app.a') IS NOT NULL", "t");
	ASSERT_Q(DB1, "SELECT to_regclass('app.b') IS NULL", "t");
	done();
}

/* a plugin's own transaction: the history row it records inside commits and
 * rolls back with the plugin's table */
static void test_history_row_follows_transaction(void)
{
	project("  - engine_probe: {mode: record, then: rollback}\n", 0);
	migration("0001_rec", "SELECT 1;\n", NULL);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT(contains(last_msg, "rolled back on purpose"));
	ASSERT_Q(DB1, "SELECT count(*) FROM padctl.migrations", "0");
	ASSERT_Q(DB1, "SELECT to_regclass('public.rec_t') IS NULL", "t");

	pipeline("  - engine_probe: {mode: record, then: commit}\n");
	CU_ASSERT_EQUAL(deploy(0), 0);
	CU_ASSERT_PTR_NULL(last_msg);
	ASSERT_Q(DB1, "SELECT string_agg(version || ':' || status, ',') FROM padctl.migrations", "0001:applied");
	ASSERT_Q(DB1, "SELECT to_regclass('public.rec_t') IS NOT NULL", "t");
	done();
}

/* tx_commit after a failed statement the plugin ignored: the commit fails,
 * the insert before the failure is gone, the step and the run are failed */
static void test_commit_after_ignored_error(void)
{
	project("  - engine_probe: {mode: commit_ignored}\n", 0);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT(contains(last_msg, "no_such_function_in_probe"));
	CU_ASSERT(contains(last_detail, "went on after this error and committed"));
	CU_ASSERT(!contains(last_msg, "said committed") && !contains(last_detail, "said committed"));
	ASSERT_Q(DB1, "SELECT count(*) FROM public.probe", "0");
	ASSERT_Q(DB1, "SELECT status FROM padctl.run_steps", "failed");
	ASSERT_Q(DB1, "SELECT status FROM padctl.runs", "failed");
	done();
}

/* a plugin that returns with its transaction open fails its step, and the
 * transaction is rolled back, not committed by the ledger writes after it */
static void test_open_transaction_fails_step(void)
{
	project("  - engine_probe: {mode: leave_open}\n", 0);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT(contains(last_msg, "left a transaction open on target \"t1\"; it was rolled back"));
	ASSERT_Q(DB1, "SELECT count(*) FROM public.probe", "0");
	ASSERT_Q(DB1, "SELECT status FROM padctl.run_steps", "failed");
	ASSERT_Q(DB1, "SELECT status FROM padctl.runs", "failed");
	done();
}

/* ---- guards */

/* COMMIT through sql_exec while the host holds the plugin's transaction is
 * refused before it is sent: had it reached the server, the table would be
 * committed */
static void test_commit_refused_inside_tx(void)
{
	project("  - engine_probe: {mode: tx_escape}\n", 0);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT(contains(last_msg, "transaction control is not allowed here"));
	ASSERT_Q(DB1, "SELECT to_regclass('public.tx_half') IS NULL", "t");
	ASSERT_Q(DB1, "SELECT status FROM padctl.runs", "failed");
	done();
}

/* in a dry run nothing gets written, whatever a plugin sends to leave the
 * read-only transaction first, and the ledger stays as it was (the bundled
 * migrate step runs no SQL in a dry run: cli/323 covers its side) */
static void test_dry_run_holds(void)
{
	project("  - engine_probe: {mode: ok}\n", 0);
	CU_ASSERT_EQUAL(deploy(0), 0); /* a ledger to leave untouched */
	char *runs = q(DB1, "SELECT count(*) || '/' || max(id) FROM padctl.runs");
	char *steps = q(DB1, "SELECT count(*) FROM padctl.run_steps");
	/* the attempt, a second one sent after it, and the first error: the
	 * guard's refusal (nothing sent) or the server's */
	static const char *const escapes[][3] = {
		{ "SET default_transaction_read_only = off", NULL, "read-only mode is not allowed here" },
		{ "BEGIN READ WRITE", NULL, "transaction control is not allowed here" },
		{ "SELECT set_config('transaction_read_only', 'off', false)", NULL,
		  "transaction read-write mode must be set before any query" },
		{ "COMMIT", "SET default_transaction_read_only = off", "transaction control is not allowed here" },
		{ "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "BEGIN READ WRITE",
		  "read-only mode is not allowed here" },
		{ "SELECT set_config('default_transaction_read_only', 'off', false)", "RESET ALL",
		  "cannot execute INSERT in a read-only transaction" },
	};
	for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "  - engine_probe: {mode: dry_escape, sql: \"%s\"", escapes[i][0]);
		if (escapes[i][1])
			buf_addf(&b, ", then: \"%s\"", escapes[i][1]);
		buf_adds(&b, "}\n");
		pipeline(buf_str(&b));
		buf_release(&b);
		/* the plugin ignores its failures; the host's error fails the step */
		CU_ASSERT_EQUAL(deploy(1), -1);
		if (!contains(last_msg, escapes[i][2]))
			fprintf(stderr, "dry run against %s: want \"%s\", got \"%s\"\n", escapes[i][0], escapes[i][2],
				last_msg ? last_msg : "(none)");
		CU_ASSERT(contains(last_msg, escapes[i][2]));
		ASSERT_Q(DB1, "SELECT count(*) FROM public.probe", "0");
		ASSERT_Q(DB1, "SELECT to_regclass('public.escaped') IS NULL", "t");
		ASSERT_Q(DB1, "SELECT count(*) FROM padctl.meta WHERE key = 'escaped'", "0");
		ASSERT_Q(DB1, "SELECT count(*) || '/' || max(id) FROM padctl.runs", runs);
		ASSERT_Q(DB1, "SELECT count(*) FROM padctl.run_steps", steps);
	}
	free(runs);
	free(steps);
	done();
}

/* ---- lifetimes */

/* config() and config_list() answers asked in run are checked in close (the
 * plugin fails the step when one changed or two share storage); under the
 * sanitizer a freed answer would abort the test */
static void test_config_answers_live_until_step_ends(void)
{
	project("  - engine_probe: {mode: config}\n", 0);
	CU_ASSERT_EQUAL(deploy(0), 0);
	if (last_msg)
		fprintf(stderr, "config probe: %s\n", last_msg);
	CU_ASSERT_PTR_NULL(last_msg);
	ASSERT_Q(DB1, "SELECT status FROM padctl.run_steps", "ok");
	done();
}

/* ---- session reset */

/* search_path and the role a migration sets stay inside it: the next
 * migration creates its unqualified table in public as the connecting role,
 * and the history row of a non-transactional migration that switched to a
 * role with no rights on the ledger is still written; the same for a step
 * that leaves them behind: the ledger writes after it succeed and the next
 * step starts as padctl connected */
static void test_session_reset(void)
{
	project("  - migrate\n", 0);
	on("postgres", "DROP ROLE IF EXISTS " ROLE);
	on("postgres", "CREATE ROLE " ROLE " NOLOGIN");
	migration("0001_path",
		  "CREATE SCHEMA app;\nGRANT USAGE, CREATE ON SCHEMA app TO " ROLE ";\n"
		  "SET search_path TO app;\n",
		  NULL);
	migration("0002_unqualified", "CREATE TABLE t2 (i int);\n", NULL);
	migration("0003_role", "SET ROLE " ROLE ";\nCREATE TABLE app.by_role (i int);\n", NULL);
	migration("0004_after_role", "CREATE TABLE app.after_role (i int);\n", NULL);
	migration("0005_last", "SET ROLE " ROLE ";\nSET search_path TO app;\n", "transactional: false\n");
	CU_ASSERT_EQUAL(deploy(0), 0);
	if (last_msg)
		fprintf(stderr, "session reset: %s\n%s\n", last_msg, last_detail);
	CU_ASSERT_PTR_NULL(last_msg);
	ASSERT_Q(DB1, "SELECT to_regclass('public.t2') IS NOT NULL AND to_regclass('app.t2') IS NULL", "t");
	ASSERT_Q(DB1, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.by_role'::regclass", ROLE);
	char *owner = q(DB1, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.after_role'::regclass");
	char *me = q(DB1, "SELECT current_user");
	CU_ASSERT_STRING_EQUAL(owner, me);
	free(owner);
	free(me);
	ASSERT_Q(DB1, "SELECT count(*) FROM padctl.migrations WHERE status = 'applied'", "5");
	ASSERT_Q(DB1, "SELECT status || ':' || coalesce(error, '') FROM padctl.runs", "ok:");
	ASSERT_Q(DB1, "SELECT string_agg(status, ',') FROM padctl.run_steps", "ok");

	/* a step that leaves a role and a search_path behind: the ledger rows
	 * after it are written and the next step starts clean */
	pipeline("  - engine_probe: {mode: session, sql: \"SET ROLE " ROLE "; SET search_path TO app\"}\n"
		 "  - engine_probe: {mode: clean}\n");
	CU_ASSERT_EQUAL(deploy(0), 0);
	if (last_msg)
		fprintf(stderr, "session reset between steps: %s\n%s\n", last_msg, last_detail);
	CU_ASSERT_PTR_NULL(last_msg);
	ASSERT_Q(DB1,
		 "SELECT string_agg(r.status || ':' || coalesce(r.error, ''), ',' ORDER BY r.started_at) "
		 "FROM padctl.runs r",
		 "ok:,ok:");
	ASSERT_Q(DB1, "SELECT string_agg(status, ',' ORDER BY started_at, seq) FROM padctl.run_steps", "ok,ok,ok");
	done();
	on("postgres", "DROP ROLE IF EXISTS " ROLE);
}

/* ---- error scopes */

/* the failed step's error is what run_steps.error and runs.error record, and
 * the command's error; the step before it recorded none */
static void test_step_error_recorded(void)
{
	project("  - engine_probe: {mode: ok}\n  - engine_probe: {mode: fail}\n", 0);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(last_msg);
	CU_ASSERT(contains(last_msg, "probe failure on t1"));
	ASSERT_Q(DB1, "SELECT status || ':' || coalesce(error, '(none)') FROM padctl.run_steps WHERE seq = 1",
		 "ok:(none)");
	ASSERT_Q(DB1, "SELECT status FROM padctl.run_steps WHERE seq = 2", "failed");
	ASSERT_Q(DB1, "SELECT error FROM padctl.run_steps WHERE seq = 2", last_msg);
	ASSERT_Q(DB1, "SELECT error FROM padctl.runs", last_msg);
	done();
}

/* in one step, the first error wins: the failed statement's, with the
 * plugin's own words as a detail; that is what the ledger records too */
static void test_first_error_wins(void)
{
	project("  - engine_probe: {mode: host_then_fail}\n", 0);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(last_msg);
	CU_ASSERT(contains(last_msg, "no_such_function_first"));
	CU_ASSERT(!contains(last_msg, "own words"));
	CU_ASSERT(contains(last_detail, "the plugin's own words come second"));
	ASSERT_Q(DB1, "SELECT error FROM padctl.run_steps", last_msg);
	ASSERT_Q(DB1, "SELECT error FROM padctl.runs", last_msg);
	done();
}

/* targets have scopes of their own: an error t1's step had and cleared (a
 * retry) is not t2's, t2's failure is what t2's ledger and the command
 * record, and t1 stays recorded as ok; an error t1 leaves behind without
 * failing is not t2's either, and stays the command's first; a failure on
 * t1 stops the rollout before t2 is touched and is the command's error */
static void test_target_scopes(void)
{
	project("  - engine_probe: {mode: fail_on, target: t2}\n", 1);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(last_msg);
	CU_ASSERT(contains(last_msg, "probe failure on t2"));
	CU_ASSERT(!contains(last_msg, "no_such_function_cleared") &&
		  !contains(last_detail, "no_such_function_cleared"));
	ASSERT_Q(DB1, "SELECT status || ':' || coalesce(error, '(none)') FROM padctl.runs", "ok:(none)");
	ASSERT_Q(DB1, "SELECT status || ':' || coalesce(error, '(none)') FROM padctl.run_steps", "ok:(none)");
	ASSERT_Q(DB2, "SELECT error FROM padctl.runs", last_msg);
	ASSERT_Q(DB2, "SELECT error FROM padctl.run_steps", last_msg);

	/* t1's step succeeds but its own ledger row cannot be written (the
	 * plugin spoiled padctl.run_steps): that error stays t1's, the rollout
	 * goes on (today a failed ledger write does not fail the step), t2's
	 * scope starts empty and records t2's own failure, and the command's
	 * error is the first one, t1's */
	unit_rmrf(root);
	free(root);
	project("  - engine_probe: {mode: spoil_on, target: t1}\n", 1);
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT(contains(last_msg, "engine_probe_spoiled"));
	char *t2 = q(DB2, "SELECT error FROM padctl.runs");
	CU_ASSERT(contains(t2, "probe failure on t2"));
	CU_ASSERT(!contains(t2, "spoiled"));
	free(t2);
	ASSERT_Q(DB2, "SELECT count(*) FROM padctl.run_steps WHERE error LIKE '%spoiled%'", "0");

	fresh_dbs();
	pipeline("  - engine_probe: {mode: fail_on, target: t1}\n");
	CU_ASSERT_EQUAL(deploy(0), -1);
	CU_ASSERT(contains(last_msg, "probe failure on t1"));
	CU_ASSERT(contains(last_detail, "targets after \"t1\" were not touched"));
	ASSERT_Q(DB1, "SELECT error FROM padctl.runs", last_msg);
	ASSERT_Q(DB2, "SELECT to_regnamespace('padctl') IS NULL", "t");
	done();
}

int main(void)
{
	if (!unit_pg_env("PGPORT")) {
		fprintf(stderr, "test_engine needs the test cluster (PADCTL_TEST_PG_ENV)\n");
		return 1;
	}
	log_setup(LOG_QUIET);
	static const struct unit_test tests[] = {
		{ "a migration and its history row commit together", test_migration_and_row_commit_together },
		{ "a history row follows the plugin's transaction", test_history_row_follows_transaction },
		{ "tx_commit after an ignored error fails, nothing left", test_commit_after_ignored_error },
		{ "a transaction left open fails the step and rolls back", test_open_transaction_fails_step },
		{ "COMMIT inside tx_begin is refused before it is sent", test_commit_refused_inside_tx },
		{ "a dry run writes nothing, the ledger untouched", test_dry_run_holds },
		{ "config answers live until the step ends", test_config_answers_live_until_step_ends },
		{ "SET search_path and SET ROLE stay in their migration", test_session_reset },
		{ "a failed step's error is what the ledger records", test_step_error_recorded },
		{ "the first error of a step wins", test_first_error_wins },
		{ "each target has its own error scope", test_target_scopes },
		{ NULL, NULL },
	};
	return unit_run("engine", tests);
}

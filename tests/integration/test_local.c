/* The managed local cluster against the real PostgreSQL server binaries:
 * initdb, pg_ctl, scram authentication, fixtures. Each test owns its own
 * project directory and cluster and stops it at the end. */
#include "buf.h"
#include "local.h"
#include "log.h"
#include "unit.h"

#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *tmp;
static struct cfg_project proj;

/* project_open makes a fresh project; reachable: whether the `postgres` user
 * may enter it (mkdtemp makes 0700 directories). */
static void project_open(int reachable)
{
	tmp = unit_tmpdir();
	chmod(tmp, reachable ? 0755 : 0700);
	char *root = xstrfmt("%s/proj", tmp);
	unit_write(tmp, "proj/padctl.yml", "project: localtest\nschemas:\n  owned: [app]\n");
	memset(&proj, 0, sizeof proj);
	proj.root = root;
	err_clear();
}

static char *slurp_line(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char line[4096];
	char *res = NULL;
	if (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		res = xstrdup(line);
	}
	fclose(f);
	return res;
}

static char *data_dir(void)
{
	char *locfile = xstrfmt("%s/.padctl/pg/location", proj.root);
	char *loc = slurp_line(locfile);
	free(locfile);
	char *d = loc ? xstrfmt("%s/data", loc) : xstrfmt("%s/.padctl/pg/data", proj.root);
	free(loc);
	return d;
}

static long server_pid(void)
{
	char *d = data_dir();
	char *pf = xstrfmt("%s/postmaster.pid", d);
	char *line = slurp_line(pf);
	long pid = line ? strtol(line, NULL, 10) : 0;
	free(line);
	free(pf);
	free(d);
	return pid;
}

/* project_close stops the cluster and removes everything, whatever the test
 * did; also run at exit in case a fatal assertion skipped it. */
static void project_close(void)
{
	if (!proj.root)
		return;
	if (local_stop(&proj)) {
		fprintf(stderr, "test cleanup: %s\n", err_message());
		err_clear();
	}
	char *locfile = xstrfmt("%s/.padctl/pg/location", proj.root);
	char *loc = slurp_line(locfile);
	if (loc && strncmp(loc, "/var/lib/padctl/clusters/", 25) == 0)
		unit_rmrf(loc);
	free(loc);
	free(locfile);
	unit_rmrf(tmp);
	free(proj.root);
	proj.root = NULL;
	free(tmp);
	tmp = NULL;
	err_clear();
}

static PGconn *connect_as(const struct local_conn *c, const char *dbname, const char *password)
{
	char port[16];
	snprintf(port, sizeof port, "%d", c->port);
	const char *kw[] = { "host", "port", "user", "password", "dbname", "connect_timeout", NULL };
	const char *val[] = { c->host, port, c->user, password, dbname, "10", NULL };
	return PQconnectdbParams(kw, val, 0);
}

static char *query_value(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	char *v = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = xstrdup(PQgetvalue(res, 0, 0));
	else
		fprintf(stderr, "query failed: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return v;
}

static int database_exists(const struct local_conn *c, const char *name)
{
	PGconn *conn = connect_as(c, "postgres", c->password);
	if (PQstatus(conn) != CONNECTION_OK) {
		PQfinish(conn);
		return -1;
	}
	const char *params[] = { name };
	PGresult *res = PQexecParams(conn, "SELECT count(*) FROM pg_database WHERE datname = $1", 1, NULL, params, NULL,
				     NULL, 0);
	int n = PQresultStatus(res) == PGRES_TUPLES_OK ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);
	PQfinish(conn);
	return n;
}

/* pid_gone waits a little: pg_ctl returns once postmaster.pid is removed,
 * a moment before the process has exited and been reaped. */
static int pid_gone(long pid)
{
	for (int i = 0; i < 500; i++) {
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			return 1;
		usleep(10000);
	}
	return 0;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void test_create_and_connect(void)
{
	struct local_conn c;
	project_open(1);
	int rc = local_ensure(&proj, &c);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc) {
		err_print();
		goto out;
	}
	CU_ASSERT_STRING_EQUAL(c.host, "127.0.0.1");
	CU_ASSERT_STRING_EQUAL(c.user, "padctl");
	CU_ASSERT(c.port > 1024 && c.port < 65536);
	CU_ASSERT_EQUAL(strlen(c.password), 64);
	CU_ASSERT_EQUAL(strspn(c.password, "0123456789abcdef"), 64);

	char *pw = xstrfmt("%s/.padctl/pg/password", proj.root);
	struct stat st;
	CU_ASSERT_EQUAL(stat(pw, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	free(pw);
	char *gi = xstrfmt("%s/.padctl/.gitignore", proj.root);
	char *gitignore = slurp_line(gi);
	CU_ASSERT_PTR_NOT_NULL(gitignore);
	if (gitignore)
		CU_ASSERT_STRING_EQUAL(gitignore, "*");
	free(gitignore);
	free(gi);
	/* a reachable project keeps its data inside .padctl */
	char *loc = xstrfmt("%s/.padctl/pg/location", proj.root);
	CU_ASSERT_NOT_EQUAL(access(loc, F_OK), 0);
	free(loc);
	char *d = data_dir();
	if (geteuid() == 0) {
		CU_ASSERT_EQUAL(stat(d, &st), 0);
		CU_ASSERT_NOT_EQUAL(st.st_uid, 0); /* owned by postgres, not root */
	}
	free(d);

	PGconn *conn = connect_as(&c, "postgres", c.password);
	CU_ASSERT_EQUAL(PQstatus(conn), CONNECTION_OK);
	if (PQstatus(conn) == CONNECTION_OK) {
		char *who = query_value(conn, "SELECT current_user || ' ' || rolsuper FROM pg_roles WHERE rolname = current_user");
		CU_ASSERT_PTR_NOT_NULL(who);
		if (who)
			CU_ASSERT_STRING_EQUAL(who, "padctl true");
		free(who);
		char *enc = query_value(conn, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'postgres'");
		if (enc)
			CU_ASSERT_STRING_EQUAL(enc, "UTF8");
		free(enc);
		char *listen = query_value(conn, "SHOW listen_addresses");
		if (listen)
			CU_ASSERT_STRING_EQUAL(listen, "127.0.0.1");
		free(listen);
	} else {
		fprintf(stderr, "%s", PQerrorMessage(conn));
	}
	PQfinish(conn);
	local_conn_release(&c);
out:
	project_close();
}

static void test_reuse(void)
{
	struct local_conn a, b;
	memset(&b, 0, sizeof b);
	project_open(1);
	if (local_ensure(&proj, &a)) {
		err_print();
		CU_FAIL("local_ensure failed");
		goto out;
	}
	long pid = server_pid();
	CU_ASSERT(pid > 0);
	char *d = data_dir();
	char *ver = xstrfmt("%s/PG_VERSION", d);
	struct stat st1, st2;
	CU_ASSERT_EQUAL(stat(ver, &st1), 0);

	double t0 = now_us();
	int rc = local_ensure(&proj, &b);
	double took = now_us() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	fprintf(stderr, "\n  second local_ensure took %.0f us\n", took);
	/* the running path spawns nothing; generous bound for sanitizer builds */
	CU_ASSERT(took < 50000);
	CU_ASSERT_EQUAL(b.port, a.port);
	if (b.password)
		CU_ASSERT_STRING_EQUAL(b.password, a.password);
	CU_ASSERT_EQUAL(server_pid(), pid);
	CU_ASSERT_EQUAL(stat(ver, &st2), 0);
	CU_ASSERT_EQUAL(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);
	CU_ASSERT_EQUAL(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);

	int exists = 0, running = 0, port = 0;
	CU_ASSERT_EQUAL(local_status(&proj, &exists, &running, &port), 0);
	CU_ASSERT(exists);
	CU_ASSERT(running);
	CU_ASSERT_EQUAL(port, a.port);
	free(ver);
	free(d);
	local_conn_release(&a);
	local_conn_release(&b);
out:
	project_close();
}

static void test_database_and_fixtures(void)
{
	struct local_conn c;
	project_open(1);
	if (local_ensure(&proj, &c)) {
		err_print();
		CU_FAIL("local_ensure failed");
		goto out;
	}
	unit_write(tmp, "proj/fixtures/01_schema.sql",
		   "-- the app schema\nCREATE SCHEMA app;\nCREATE TABLE app.person (id int PRIMARY KEY, name text);\n");
	unit_write(tmp, "proj/fixtures/02_data.sql",
		   "INSERT INTO app.person VALUES (1, 'Zoë'), (2, 'Ann');\n"
		   "DO $$ BEGIN PERFORM 1; END $$;\n");
	/* what pg_dump writes: settings, a table, its rows as COPY data, a constraint */
	unit_write(tmp, "proj/fixtures/03_dump.sql",
		   "--\n-- PostgreSQL database dump\n--\n\n"
		   "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n"
		   "SELECT pg_catalog.set_config('search_path', '', false);\n\n"
		   "CREATE TABLE app.city (\n    id integer NOT NULL,\n    name text\n);\n\n"
		   "COPY app.city (id, name) FROM stdin;\n1\tZ\xc3\xbcrich\n2\tBern; not a statement\n3\t\\N\n\\.\n\n"
		   "ALTER TABLE ONLY app.city\n    ADD CONSTRAINT city_pkey PRIMARY KEY (id);\n");
	char *f1 = xstrfmt("%s/fixtures/01_schema.sql", proj.root);
	char *f2 = xstrfmt("%s/fixtures/02_data.sql", proj.root);
	char *f3 = xstrfmt("%s/fixtures/03_dump.sql", proj.root);
	char *fixtures[] = { f1, f2, f3 };
	int rc = local_ensure_database(&c, "app db", fixtures, 3);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		err_print();
	CU_ASSERT_EQUAL(database_exists(&c, "app db"), 1);
	PGconn *conn = connect_as(&c, "app db", c.password);
	CU_ASSERT_EQUAL(PQstatus(conn), CONNECTION_OK);
	char *n = query_value(conn, "SELECT count(*) || ' ' || max(name) FROM app.person");
	CU_ASSERT_PTR_NOT_NULL(n);
	if (n)
		CU_ASSERT_STRING_EQUAL(n, "2 Zoë");
	free(n);
	n = query_value(conn, "SELECT count(*) || ' ' || count(name) || ' ' || min(name) FROM app.city");
	CU_ASSERT_PTR_NOT_NULL(n);
	if (n)
		CU_ASSERT_STRING_EQUAL(n, "3 2 Bern; not a statement");
	free(n);

	/* an existing database is left as it is: fixtures are not loaded twice */
	CU_ASSERT_EQUAL(local_ensure_database(&c, "app db", fixtures, 3), 0);
	n = query_value(conn, "SELECT count(*) FROM app.person");
	if (n)
		CU_ASSERT_STRING_EQUAL(n, "2");
	free(n);
	PQfinish(conn);

	/* no fixtures: just the database */
	CU_ASSERT_EQUAL(local_ensure_database(&c, "empty", NULL, 0), 0);
	CU_ASSERT_EQUAL(database_exists(&c, "empty"), 1);
	free(f1);
	free(f2);
	free(f3);
	local_conn_release(&c);
out:
	project_close();
}

static void expect_fixture_error(const struct local_conn *c, const char *dbname, const char *rel, const char *text,
				 int line, const char *detail)
{
	char *path = xstrfmt("%s/%s", proj.root, rel);
	char *ok = xstrfmt("%s/fixtures/ok.sql", proj.root);
	unit_write(proj.root, "fixtures/ok.sql", "CREATE TABLE good (x int);\n");
	if (text)
		unit_write(proj.root, rel, text);
	char *fixtures[] = { ok, path };
	err_clear();
	CU_ASSERT_EQUAL(local_ensure_database(c, dbname, fixtures, 2), -1);
	const char *msg = err_message();
	CU_ASSERT_PTR_NOT_NULL(msg);
	if (log_level_get() >= LOG_VERBOSE)
		err_print();
	if (msg) {
		char *want = line ? xstrfmt("%s:%d:", path, line) : xstrdup(path);
		if (!strstr(msg, want))
			fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", msg, want);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
		free(want);
	}
	if (detail) {
		const char *d = err_detail() ? err_detail() : "";
		if (!strstr(d, detail))
			fprintf(stderr, "\n  detail \"%s\" lacks \"%s\"\n", d, detail);
		CU_ASSERT_PTR_NOT_NULL(strstr(d, detail));
	}
	err_clear();
	/* nothing half-made is left behind */
	CU_ASSERT_EQUAL(database_exists(c, dbname), 0);
	free(ok);
	free(path);
}

static void test_broken_fixtures(void)
{
	struct local_conn c;
	project_open(1);
	if (local_ensure(&proj, &c)) {
		err_print();
		CU_FAIL("local_ensure failed");
		goto out;
	}
	/* a syntax error: the server's position gives the line */
	expect_fixture_error(&c, "syntax", "fixtures/syntax.sql",
			     "CREATE TABLE a (x int);\n\nINSERT INTO a VALUES (1);\nSELEC oops;\n", 4, NULL);
	/* a runtime error without a position: the failing statement's line */
	expect_fixture_error(&c, "runtime", "fixtures/dup.sql",
			     "CREATE TABLE b (x int PRIMARY KEY);\nINSERT INTO b VALUES (1);\n\n-- again\nINSERT INTO b\n  VALUES (1);\n",
			     5, "SQLSTATE 23505");
	/* a position inside a later statement, after multi-byte characters */
	expect_fixture_error(&c, "position", "fixtures/pos.sql",
			     "SELECT 1;\nSELECT 'äöü',\n  'ß',\n  no_such_column\n  FROM (SELECT 1) s;\n", 4, NULL);
	/* inside a DO block: the body's line, and the server's CONTEXT */
	expect_fixture_error(&c, "doblock", "fixtures/do.sql",
			     "CREATE TABLE d (x int);\nDO $$\nBEGIN\n  PERFORM 1;\n  RAISE EXCEPTION 'boom';\nEND $$;\n", 5,
			     "context: PL/pgSQL function inline_code_block line 4 at RAISE");
	/* a bad row of COPY data: the row's line */
	expect_fixture_error(&c, "copyrow", "fixtures/copy.sql",
			     "CREATE TABLE cp (id int, name text);\nCOPY cp (id, name) FROM stdin;\n1\tone\nx\ttwo\n\\.\n"
			     "SELECT 1;\n",
			     4, "context: COPY cp, line 2");
	/* a psql command is refused before anything runs */
	expect_fixture_error(&c, "meta", "fixtures/meta.sql", "CREATE TABLE m (x int);\n\\connect other\n", 2,
			     NULL);
	/* a missing file */
	expect_fixture_error(&c, "missing", "fixtures/nope.sql", NULL, 0, NULL);

	/* after the failures the same database name can be created cleanly */
	char *ok = xstrfmt("%s/fixtures/ok.sql", proj.root);
	char *fixtures[] = { ok };
	CU_ASSERT_EQUAL(local_ensure_database(&c, "syntax", fixtures, 1), 0);
	CU_ASSERT_EQUAL(database_exists(&c, "syntax"), 1);
	free(ok);
	local_conn_release(&c);
out:
	project_close();
}

static void test_stop_and_restart(void)
{
	struct local_conn c, d;
	memset(&d, 0, sizeof d);
	project_open(1);
	if (local_ensure(&proj, &c)) {
		err_print();
		CU_FAIL("local_ensure failed");
		goto out;
	}
	long pid = server_pid();
	CU_ASSERT(pid > 0);
	CU_ASSERT_EQUAL(local_stop(&proj), 0);
	CU_ASSERT(pid_gone(pid));
	int exists = 0, running = 1, port = -1;
	CU_ASSERT_EQUAL(local_status(&proj, &exists, &running, &port), 0);
	CU_ASSERT(exists);
	CU_ASSERT(!running);
	CU_ASSERT_EQUAL(port, 0);
	/* stopping a stopped cluster is fine */
	CU_ASSERT_EQUAL(local_stop(&proj), 0);

	int rc = local_ensure(&proj, &d);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc) {
		err_print();
		goto done;
	}
	long pid2 = server_pid();
	CU_ASSERT(pid2 > 0 && pid2 != pid);
	CU_ASSERT_EQUAL(kill((pid_t)pid2, 0), 0);
	CU_ASSERT_EQUAL(d.port, c.port); /* the remembered port was still free */
	CU_ASSERT_STRING_EQUAL(d.password, c.password);
	PGconn *conn = connect_as(&d, "postgres", d.password);
	CU_ASSERT_EQUAL(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);
done:
	local_conn_release(&c);
	local_conn_release(&d);
out:
	project_close();
}

static void test_wrong_password_refused(void)
{
	struct local_conn c;
	project_open(1);
	if (local_ensure(&proj, &c)) {
		err_print();
		CU_FAIL("local_ensure failed");
		goto out;
	}
	PGconn *conn = connect_as(&c, "postgres", "not-the-password");
	CU_ASSERT_EQUAL(PQstatus(conn), CONNECTION_BAD);
	CU_ASSERT_PTR_NOT_NULL(strstr(PQerrorMessage(conn), "password authentication failed"));
	PQfinish(conn);
	conn = connect_as(&c, "postgres", "");
	CU_ASSERT_EQUAL(PQstatus(conn), CONNECTION_BAD);
	PQfinish(conn);
	conn = connect_as(&c, "postgres", c.password);
	CU_ASSERT_EQUAL(PQstatus(conn), CONNECTION_OK);
	if (PQstatus(conn) == CONNECTION_OK) {
		char *m = query_value(conn, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'padctl'");
		if (m)
			CU_ASSERT_STRING_EQUAL(m, "t");
		free(m);
	}
	PQfinish(conn);
	local_conn_release(&c);
out:
	project_close();
}

/* As root, a project the `postgres` user cannot enter keeps its cluster under
 * /var/lib/padctl/clusters and says where in .padctl/pg/location. */
static void test_unreachable_project(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "\n  (not root: nothing to relocate)\n");
		return;
	}
	struct local_conn c;
	project_open(0);
	int rc = local_ensure(&proj, &c);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc) {
		err_print();
		goto out;
	}
	char *locfile = xstrfmt("%s/.padctl/pg/location", proj.root);
	char *loc = slurp_line(locfile);
	CU_ASSERT_PTR_NOT_NULL(loc);
	if (loc)
		CU_ASSERT_EQUAL(strncmp(loc, "/var/lib/padctl/clusters/", 25), 0);
	CU_ASSERT(loc && strlen(loc) == 25 + 16);
	long pid = server_pid();
	CU_ASSERT(pid > 0);
	PGconn *conn = connect_as(&c, "postgres", c.password);
	CU_ASSERT_EQUAL(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);

	/* later runs find it through the location file */
	struct local_conn again;
	CU_ASSERT_EQUAL(local_ensure(&proj, &again), 0);
	CU_ASSERT_EQUAL(again.port, c.port);
	CU_ASSERT_EQUAL(server_pid(), pid);
	local_conn_release(&again);
	CU_ASSERT_EQUAL(local_stop(&proj), 0);
	CU_ASSERT(pid_gone(pid));
	free(loc);
	free(locfile);
	local_conn_release(&c);
out:
	project_close();
}

static void test_bindir(void)
{
	char *dir = NULL;
	CU_ASSERT_EQUAL(local_bindir(&dir), 0);
	CU_ASSERT_PTR_NOT_NULL(dir);
	if (dir) {
		char *initdb = xstrfmt("%s/initdb", dir);
		CU_ASSERT_EQUAL(access(initdb, X_OK), 0);
		free(initdb);
		CU_ASSERT_EQUAL(strncmp(dir, "/usr/lib/postgresql/", 20), 0);
	}
	free(dir);
	setenv("PADCTL_PG_BINDIR", "/nonexistent/bin", 1);
	dir = NULL;
	err_clear();
	CU_ASSERT_EQUAL(local_bindir(&dir), -1);
	CU_ASSERT_PTR_NULL(dir);
	CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), "/nonexistent/bin") : NULL);
	CU_ASSERT_PTR_NOT_NULL(err_hint());
	err_clear();

	/* a usable bindir whose path the shell would interpret is refused:
	 * initdb and pg_ctl run the server binary next to them through sh */
	char *real = NULL;
	unsetenv("PADCTL_PG_BINDIR");
	CU_ASSERT_EQUAL(local_bindir(&real), 0);
	char *t = unit_tmpdir();
	char *odd = xstrfmt("%s/bin$(touch ran)`id`", t);
	CU_ASSERT_EQUAL(mkdir(odd, 0755), 0);
	const char *tools[] = { "initdb", "pg_ctl" };
	for (size_t i = 0; real && i < 2; i++) {
		char *from = xstrfmt("%s/%s", real, tools[i]);
		char *to = xstrfmt("%s/%s", odd, tools[i]);
		CU_ASSERT_EQUAL(symlink(from, to), 0);
		free(from);
		free(to);
	}
	setenv("PADCTL_PG_BINDIR", odd, 1);
	dir = NULL;
	CU_ASSERT_EQUAL(local_bindir(&dir), -1);
	CU_ASSERT_PTR_NULL(dir);
	CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), "the shell would interpret") : NULL);
	err_clear();
	unsetenv("PADCTL_PG_BINDIR");
	unit_rmrf(t);
	free(t);
	free(odd);
	free(real);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "bindir", test_bindir },
		{ "create and connect", test_create_and_connect },
		{ "reuse a running cluster", test_reuse },
		{ "database and fixtures", test_database_and_fixtures },
		{ "broken fixtures", test_broken_fixtures },
		{ "stop and restart", test_stop_and_restart },
		{ "wrong password refused", test_wrong_password_refused },
		{ "unreachable project", test_unreachable_project },
		{ NULL, NULL },
	};
	const char *v = getenv("PADCTL_TEST_VERBOSE");
	log_setup(v && *v ? LOG_VERBOSE : LOG_NORMAL);
	atexit(project_close);
	return unit_run("local", tests);
}

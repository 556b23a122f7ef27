/* ledger: reading the history the way status does (the query sent first, the
 * answer read later) gives the same rows as the server would format them,
 * and a target without a ledger reads as an empty history. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "ledger.h"
#include "log.h"
#include "unit.h"

#define DBNAME "padctl_test_ledger_read"

static struct db *connect_to(const char *dbname)
{
	struct db_params p;
	memset(&p, 0, sizeof p);
	p.host = unit_pg_env("PGHOST") ? unit_pg_env("PGHOST") : "127.0.0.1";
	char *host = xstrdup(p.host);
	p.host = host;
	const char *port = unit_pg_env("PGPORT");
	p.port = port ? (int)strtol(port, NULL, 10) : 0;
	char *user = xstrdup(unit_pg_env("PGUSER") ? unit_pg_env("PGUSER") : "postgres");
	p.user = user;
	p.dbname = dbname;
	p.sslmode = "disable";
	p.application_name = "padctl test_ledger_read";
	struct db *db = NULL;
	if (db_connect(&p, "the test cluster", &db)) {
		err_print();
		err_clear();
	}
	free(user);
	free(host);
	return db;
}

static struct db *fresh_db(void)
{
	struct db *admin = connect_to("postgres");
	CU_ASSERT_PTR_NOT_NULL_FATAL(admin);
	CU_ASSERT_EQUAL(db_exec(admin, "DROP DATABASE IF EXISTS " DBNAME " WITH (FORCE)", NULL), 0);
	CU_ASSERT_EQUAL(db_exec(admin, "CREATE DATABASE " DBNAME, NULL), 0);
	db_close(admin);
	return connect_to(DBNAME);
}

static void drop_db(void)
{
	struct db *admin = connect_to("postgres");
	if (admin)
		db_exec(admin, "DROP DATABASE IF EXISTS " DBNAME " WITH (FORCE)", NULL);
	db_close(admin);
}

static void test_no_ledger(void)
{
	struct db *db = fresh_db();
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	struct history h;
	CU_ASSERT_EQUAL(ledger_history_send(db, NULL, 0), 0);
	CU_ASSERT_EQUAL(ledger_history_recv(db, &h), 0);
	CU_ASSERT_FALSE(h.exists);
	CU_ASSERT_EQUAL(h.n, 0);
	CU_ASSERT_FALSE(err_pending());
	/* the connection is idle again and usable */
	CU_ASSERT_EQUAL(db_exec(db, "SELECT 1", NULL), 0);
	/* a statement in front, in the same message: its result comes first */
	CU_ASSERT_EQUAL(ledger_history_send(db, "SELECT 41 + 1", 1), 0);
	PGresult *first = PQgetResult(db->conn);
	CU_ASSERT_EQUAL(PQresultStatus(first), PGRES_TUPLES_OK);
	CU_ASSERT_STRING_EQUAL(PQgetvalue(first, 0, 0), "42");
	PQclear(first);
	CU_ASSERT_EQUAL(ledger_history_recv(db, &h), 0);
	CU_ASSERT_FALSE(h.exists);
	CU_ASSERT_FALSE(err_pending());
	CU_ASSERT_EQUAL(db_exec(db, "SELECT 1", NULL), 0);
	history_release(&h);
	db_close(db);
}

static void test_rows_as_the_server_formats_them(void)
{
	struct db *db = fresh_db();
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	CU_ASSERT_EQUAL_FATAL(ledger_ensure(db), 0);
	CU_ASSERT_EQUAL(ledger_history_add(db, "1", "one", "c1", "applied", NULL, "run-1", 12.5), 0);
	CU_ASSERT_EQUAL(ledger_history_add(db, "2", "two", "c2", "skipped", "not here", NULL, 0), 0);
	CU_ASSERT_EQUAL(ledger_history_add(db, "3", "three", "c3", "applied", NULL, "run-1", 1), 0);
	/* a second's last microsecond, another time zone, and now */
	CU_ASSERT_EQUAL(db_exec(db,
				"UPDATE padctl.migrations SET applied_at = '2026-02-28 23:59:59.999999+00' "
				"WHERE version = '1';"
				"UPDATE padctl.migrations SET applied_at = '1999-12-31 12:00:00.5-05' WHERE version = '2'",
				NULL),
			0);
	struct history h;
	CU_ASSERT_EQUAL(ledger_history_send(db, "SELECT 1", 0), 0);
	PQclear(PQgetResult(db->conn));
	CU_ASSERT_EQUAL_FATAL(ledger_history_recv(db, &h), 0);
	CU_ASSERT_TRUE(h.exists);
	CU_ASSERT_EQUAL_FATAL(h.n, 3);
	for (size_t i = 0; i < h.n; i++) {
		const struct history_row *r = &h.v[i];
		const char *params[] = { r->version };
		char *want = NULL;
		CU_ASSERT_EQUAL(db_query_value(db,
					       "SELECT to_char(applied_at AT TIME ZONE 'UTC', "
					       "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM padctl.migrations WHERE version = $1",
					       1, params, &want),
				0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(want);
		CU_ASSERT_STRING_EQUAL(r->applied_at, want);
		if (strcmp(r->version, "1") == 0) {
			CU_ASSERT_STRING_EQUAL(r->applied_at, "2026-02-28T23:59:59Z");
			CU_ASSERT_STRING_EQUAL(r->name, "one");
			CU_ASSERT_STRING_EQUAL(r->run_id, "run-1");
			CU_ASSERT_DOUBLE_EQUAL(r->duration_ms, 12.5, 0.001);
			CU_ASSERT_PTR_NULL(r->reason);
		} else if (strcmp(r->version, "2") == 0) {
			CU_ASSERT_STRING_EQUAL(r->applied_at, "1999-12-31T17:00:00Z");
			CU_ASSERT_STRING_EQUAL(r->status, "skipped");
			CU_ASSERT_STRING_EQUAL(r->reason, "not here");
			CU_ASSERT_PTR_NULL(r->run_id);
		}
		free(want);
	}
	history_release(&h);
	/* brief: the same rows without when, by whom and in which run */
	CU_ASSERT_EQUAL(ledger_history_send(db, NULL, 1), 0);
	CU_ASSERT_EQUAL_FATAL(ledger_history_recv(db, &h), 0);
	CU_ASSERT_EQUAL_FATAL(h.n, 3);
	for (size_t i = 0; i < h.n; i++) {
		CU_ASSERT_PTR_NULL(h.v[i].applied_at);
		CU_ASSERT_PTR_NULL(h.v[i].applied_by);
		CU_ASSERT_PTR_NULL(h.v[i].run_id);
		CU_ASSERT_PTR_NOT_NULL(h.v[i].checksum);
		CU_ASSERT_PTR_NOT_NULL(h.v[i].status);
		if (strcmp(h.v[i].version, "2") == 0)
			CU_ASSERT_STRING_EQUAL(h.v[i].reason, "not here");
	}
	history_release(&h);
	/* the one-call form reads the same */
	CU_ASSERT_EQUAL(ledger_history(db, &h), 0);
	CU_ASSERT_EQUAL(h.n, 3);
	history_release(&h);
	db_close(db);
	drop_db();
}

int main(void)
{
	if (!unit_pg_env("PGPORT")) {
		fprintf(stderr, "test_ledger_read needs the test cluster (PADCTL_TEST_PG_ENV)\n");
		return 1;
	}
	static const struct unit_test tests[] = {
		{ "no ledger reads as an empty history", test_no_ledger },
		{ "rows read as the server formats them", test_rows_as_the_server_formats_them },
		{ NULL, NULL },
	};
	return unit_run("ledger_read", tests);
}

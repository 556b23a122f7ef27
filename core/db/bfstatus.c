#include "bfstatus.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

const char bf_history_sql[] = "SELECT backfill, dry_run, retry_failed, rows_done, rows_failed, rows_written, batches "
			      "FROM padctl.backfill_runs WHERE run_id = $1 ORDER BY backfill";

int bf_have_tables(struct db *db, int *have)
{
	char *v = NULL;
	*have = 0;
	if (db_query_value(db, "SELECT to_regclass('padctl.backfill_runs') IS NOT NULL", 0, NULL, &v))
		return -1;
	*have = v && !strcmp(v, "t");
	free(v);
	return 0;
}

static long long num(PGresult *res, int c)
{
	return strtoll(PQgetvalue(res, 0, c), NULL, 10);
}

int bf_status_read(struct db *db, const struct cfg_backfill *b, long max_failures, struct bf_status *st)
{
	memset(st, 0, sizeof *st);
	int have;
	if (bf_have_tables(db, &have))
		return -1;
	const char *dot = strchr(b->source_table, '.');
	char *table = xstrfmt("\"%.*s\".\"%s\"", (int)(dot - b->source_table), b->source_table, dot + 1);
	char *sql;
	if (have)
		sql = xstrfmt("SELECT (SELECT count(*) FROM %s), "
			      "(SELECT count(DISTINCT source_id) FROM padctl.migration_mapping WHERE source_table = $1), "
			      "(SELECT count(*) FROM padctl.backfill_failures WHERE source_table = $1), "
			      "(SELECT count(*) FROM padctl.migration_mapping WHERE source_table = $1)",
			      table);
	else
		sql = xstrfmt("SELECT (SELECT count(*) FROM %s), 0, 0, 0 WHERE $1::text IS NOT NULL", table);
	free(table);
	const char *p[] = { b->source_table };
	PGresult *res;
	int rc = db_query(db, sql, 1, p, &res);
	free(sql);
	if (rc)
		return fail_detail("reading the progress of backfill \"%s\"", b->name);
	st->total = num(res, 0);
	st->done = num(res, 1);
	st->failed = num(res, 2);
	st->written = num(res, 3);
	PQclear(res);
	if (!have)
		return 0;
	const char *pn[] = { b->name };
	if (db_query(db,
		     "SELECT b.run_id, to_char(b.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
		     "b.finished_at IS NOT NULL, b.dry_run, b.retry_failed, b.rows_done, b.rows_failed, b.rows_written, "
		     "b.batches, round(extract(epoch FROM (b.finished_at - b.started_at)) * 1000)::bigint, r.status "
		     "FROM padctl.backfill_runs b JOIN padctl.runs r ON r.id = b.run_id WHERE b.backfill = $1 "
		     "ORDER BY b.started_at DESC LIMIT 10",
		     1, pn, &st->runs))
		return fail_detail("reading the runs of backfill \"%s\"", b->name);
	char lim[32];
	snprintf(lim, sizeof lim, "%ld", max_failures);
	const char *pf[] = { b->source_table, lim };
	if (db_query(db,
		     "SELECT source_id, sqlstate, error, attempts, run_id, "
		     "to_char(failed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
		     "FROM padctl.backfill_failures WHERE source_table = $1 ORDER BY source_id LIMIT $2::bigint",
		     2, pf, &st->failures))
		return fail_detail("reading the failures of backfill \"%s\"", b->name);
	return 0;
}

void bf_status_release(struct bf_status *st)
{
	PQclear(st->runs);
	PQclear(st->failures);
	memset(st, 0, sizeof *st);
}

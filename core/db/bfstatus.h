/* bfstatus: what a target's ledger says about a backfill (padctl backfill
 * --status, padctl history): its progress, its recorded failures and runs.
 * Read-only; a ledger without the backfill tables reads as nothing done. */
#ifndef PADCTL_BFSTATUS_H
#define PADCTL_BFSTATUS_H

#include <libpq-fe.h>

#include "backfill.h"
#include "db.h"

struct bf_status {
	long long total; /* source rows */
	long long done; /* source rows with a mapping */
	long long failed; /* recorded failures */
	long long written; /* target rows mapped */
	PGresult *runs; /* run_id, started_at, finished (t/f), dry_run, retry_failed, rows_done,
			    * rows_failed, rows_written, batches, duration_ms (NULL when unfinished), runs.status */
	PGresult *failures; /* source_id, sqlstate, error, attempts, run_id, failed_at */
};

/* bf_status_read fills st for backfill b on db (at most max_failures failure rows). */
int bf_status_read(struct db *db, const struct cfg_backfill *b, long max_failures, struct bf_status *st);
void bf_status_release(struct bf_status *st);

/* bf_history_sql is the query of one run's backfills ($1 the run id): backfill, dry_run,
 * retry_failed, rows_done, rows_failed, rows_written, batches; use it when bf_have_tables. */
extern const char bf_history_sql[];
/* bf_have_tables sets *have when the ledger has the backfill tables. */
int bf_have_tables(struct db *db, int *have);

#endif

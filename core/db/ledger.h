/* ledger: what padctl keeps in each target's `padctl` schema: migration
 * history, runs and their steps, plans. Also the per-target advisory lock. */
#ifndef PADCTL_LEDGER_H
#define PADCTL_LEDGER_H

#include "db.h"
#include "migrations.h"

/* the lock's two keys: 'padc' and 1, per database */
#define LEDGER_LOCK_K1 "1885430883"
#define LEDGER_LOCK_K2 "1"
/* LEDGER_LOCK_HOLDER_SQL is a scalar subquery describing the lock's holder (NULL when free). */
#define LEDGER_LOCK_HOLDER_SQL \
	"(SELECT format('%s (database user %s from %s, backend pid %s, connected %s)', a.application_name, " \
	"a.usename, coalesce(host(a.client_addr), 'local socket'), a.pid, " \
	"to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')) " \
	"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid " \
	"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = " LEDGER_LOCK_K1 "::oid " \
	"AND l.objid = " LEDGER_LOCK_K2 "::oid AND l.objsubid = 2 " \
	"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1)"

/* ledger_exists sets *exists when the target has a padctl ledger. */
int ledger_exists(struct db *db, int *exists);
/* ledger_ensure creates or upgrades the ledger schema (call it holding the
 * lock): the schema steps the ledger has not had run in order, in one
 * transaction, and ledger_version becomes their count. A ledger newer than
 * this padctl, or with a version it cannot read, fails with EXIT_USAGE
 * ("upgrade padctl") before anything is written. */
int ledger_ensure(struct db *db);
/* ledger_check refuses, as ledger_ensure does, a ledger this padctl cannot
 * read (EXIT_USAGE); it writes nothing. A target without a ledger passes. */
int ledger_check(struct db *db);
/* ledger_schema_version is the number of schema steps this padctl knows. */
int ledger_schema_version(void);
/* ledger_version_parse reads a stored ledger_version (a decimal count of
 * steps); -1 when it is not one. */
int ledger_version_parse(const char *stored, int *version);
/* ledger_upgrade_sql returns the SQL of steps from+1 .. the newest, in order,
 * then the stamp of the new version (newly allocated; NULL when from is
 * already the newest or out of range). No BEGIN/COMMIT: the caller wraps it. */
char *ledger_upgrade_sql(int from);
/* ledger_close_interrupted marks runs (and their steps) still `running` as
 * `interrupted`; call it holding the lock, which every live run holds, so
 * such a run's padctl is gone. target only names the log lines. */
int ledger_close_interrupted(struct db *db, const char *target);
/* ledger_repair_add accepts new_checksum for an applied migration whose
 * ledger checksum is old_checksum and records who, why and the run in
 * padctl.repairs. */
int ledger_repair_add(struct db *db, const char *run_id, const char *version, const char *old_checksum,
		      const char *new_checksum, const char *reason);
/* ledger_lock takes the target's session-level advisory lock, polling for up
 * to timeout_ms; on time-out it fails with EXIT_LOCKED naming the holder. A
 * session lock on an idle connection never blocks CREATE INDEX CONCURRENTLY,
 * and the poll holds no snapshot while it waits, so neither side deadlocks. */
int ledger_lock(struct db *db, const char *target, long timeout_ms);
/* ledger_unlock releases the lock (closing the connection does too). */
int ledger_unlock(struct db *db);
/* ledger_lock_holder describes who holds the lock ("" when nobody); newly allocated. */
int ledger_lock_holder(struct db *db, char **holder);
/* ledger_history reads padctl.migrations (an empty history when there is no ledger). */
int ledger_history(struct db *db, struct history *h);
/* ledger_history_send sends the same query without waiting for the answer,
 * so the caller can work while the server does; ledger_history_recv then
 * reads it. Nothing else may use the connection in between. first, when not
 * NULL, is one statement without parameters sent in the same message ahead
 * of the history: the caller takes its result with PQgetResult before
 * calling ledger_history_recv. */
/* brief is a set of flags (1 is LEDGER_HISTORY_BRIEF, so a true value still
 * means brief). LEDGER_HISTORY_BRIEF leaves applied_at, applied_by and run_id
 * NULL (and duration_ms 0): enough for a plan, and a third of the server's
 * work for a long history. LEDGER_HISTORY_APPLIED returns the rows in the
 * order they were applied (ORDER BY LEDGER_APPLIED_ORDER), as drift replays
 * them; otherwise in no particular order. */
#define LEDGER_HISTORY_BRIEF 1
#define LEDGER_HISTORY_APPLIED 2
#define LEDGER_APPLIED_ORDER "applied_at, length(version), version"
int ledger_history_send(struct db *db, const char *first, int brief);
int ledger_history_recv(struct db *db, struct history *h);
/* ledger_history_add inserts one history row (replacing a `rolled_back` row of the version). */
int ledger_history_add(struct db *db, const char *version, const char *name, const char *checksum,
		       const char *status, const char *reason, const char *run_id, double duration_ms);
/* ledger_history_sql returns the INSERT of one history row with its values
 * quoted in, for sending together with other statements (newly allocated);
 * NULL after fail() when a value cannot be quoted. duration_ms < 0: the
 * server's time from the arrival of the message carrying the INSERT to it
 * (the migration's statements travel in the same message). */
char *ledger_history_sql(struct db *db, const char *version, const char *name, const char *checksum,
			 const char *status, const char *reason, const char *run_id, double duration_ms);
/* ledger_history_sql_since is ledger_history_sql for a migration that
 * follows another (version since) in the same message: duration_ms < 0 is
 * the server's time since that one's history row (its applied_at). */
char *ledger_history_sql_since(struct db *db, const char *version, const char *name, const char *checksum,
			       const char *status, const char *reason, const char *run_id, double duration_ms,
			       const char *since);
/* ledger_run_start records a run on this target. */
int ledger_run_start(struct db *db, const char *run_id, const char *env, const char *target, const char *command,
		     const char *pipeline, int dry_run);
/* ledger_run_finish sets a run's end, status and error (NULL when none). */
int ledger_run_finish(struct db *db, const char *run_id, const char *status, const char *error);
/* ledger_run_rollback_of records that rollback run run_id undoes run undone. */
int ledger_run_rollback_of(struct db *db, const char *run_id, const char *undone);
int ledger_step_start(struct db *db, const char *run_id, int seq, const char *step, const char *phase);
int ledger_step_finish(struct db *db, const char *run_id, int seq, const char *status, const char *error);
/* ledger_plan_add records a plan (id, env, hash, body): the row in
 * padctl.plans, the body in padctl.plan_bodies unless it holds that hash. */
int ledger_plan_add(struct db *db, const char *id, const char *env, const char *hash, const char *body);
/* ledger_plan_add_current is ledger_plan_add without the lock, on a session
 * that may be read-only: in a read-write transaction of its own, committed
 * without waiting for the server's log flush (see plan_store), and only when
 * the ledger is this padctl's version. With body NULL the body is not sent,
 * and the row goes in only if padctl.plan_bodies holds hash. 0 recorded, 1
 * not recorded because the ledger is older or newer (the caller takes the
 * locked way, which upgrades it or refuses), 2 (body NULL) not recorded
 * because the ledger does not hold the body or is of another version (the
 * caller sends it), -1 after fail() (a missing ledger is an error: the
 * caller knows from the history that there is one). */
int ledger_plan_add_current(struct db *db, const char *id, const char *env, const char *hash, const char *body);

/* ledger_plan_tables sets *exists when db has a ledger and *bodies when it
 * has padctl.plan_bodies (ledger step 13). */
int ledger_plan_tables(struct db *db, int *exists, int *bodies);
/* ledger_plan_body_sql is the select-list expression of a padctl.plans row's
 * body (the table named plans), bodies as ledger_plan_tables set it; NULL
 * when the row names a body padctl.plan_bodies does not hold. */
const char *ledger_plan_body_sql(int bodies);
/* ledger_plan_no_body fails about plan id whose body (hash) is missing; -1. */
int ledger_plan_no_body(struct db *db, const char *id, const char *hash);
/* ledger_plan_get reads plan id (each newly allocated); 1 when there is no such plan. */
int ledger_plan_get(struct db *db, const char *id, char **env, char **hash, char **body);

/* ledger_new_run_id returns a new sortable run id like 20261121-131500-3f2a. */
char *ledger_new_run_id(void);
/* ledger_actor returns "user@host" of whoever runs padctl (static storage). */
const char *ledger_actor(void);
/* ledger_app_name builds the application_name that shows a lock's holder. */
char *ledger_app_name(const char *command, const char *run_id);

#endif

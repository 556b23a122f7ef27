/* inspect: a read-only look at one target (reachable?, identity, history
 * against the migration files, lock holder), shared by status, plan and doctor. */
#ifndef PADCTL_INSPECT_H
#define PADCTL_INSPECT_H

#include "config.h"
#include "db.h"
#include "migrations.h"
#include "plan.h"

struct inspection {
	const struct cfg_target *t;
	const struct cfg_project *p; /* borrowed from inspect_start */
	const struct cfg_env *env;
	int pending;          /* the history is asked for, not read yet */
	char *system_id;      /* the server's identity, for known_targets */
	char *dbname;
	int lock_held;
	int reachable;
	char *error;          /* why it is not reachable, or the identity problem */
	char *server_version;
	char *search_path, *current_user; /* the session's, as its first query found them */
	int server_version_num;
	char *identity_error; /* a known_targets mismatch */
	char *lock_holder;    /* "" when free */
	int allow_ooo; /* plan out-of-order migrations too (plan --allow-out-of-order) */
	int plan_failed; /* building the plan failed (a file); the error is left recorded */
	struct plan_target plan; /* the target's part of a plan, with its history (when reachable) */
	struct db *db;        /* kept open when keep_db was asked */
	char *extra; /* inspect_start_async's extra_sql: the value of the extra expression (NULL for SQL NULL) */
	struct db_pending *connecting; /* inspect_start_async: connecting, the queries not sent yet */
	int brief;           /* the flags of ledger_history_send */
	const char *command; /* for the connection's application_name, borrowed */
	int piped; /* the facts, the history and the extra went as one pipeline, not all read yet */
	char *extra_sql; /* inspect_start_async: the extra to send once connected (NULL: none) */
};

/* inspect_target looks at t read-only; an unreachable target is not an error
 * (ins->reachable is 0 and ins->error says why). ins->plan is built with
 * plan_target_build (allow_ooo as there). */
int inspect_target(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
		   const struct migration_set *set, const char *command, int keep_db, int allow_ooo,
		   struct inspection *ins);
/* inspect_start and inspect_finish are inspect_target in two halves: start
 * connects and sends the queries, finish reads the answers and compares them
 * with set, so the caller can read the migration files while the server
 * works. p, env and t must outlive inspect_finish; inspect_release without
 * inspect_finish simply drops the connection. brief reads the history
 * without applied_at, applied_by and run_id (ledger_history_send's flags:
 * LEDGER_HISTORY_APPLIED also orders it as it was applied). */
void inspect_start(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
		   const char *command, int brief, struct inspection *ins);
void inspect_finish(struct inspection *ins, const struct migration_set *set, int keep_db);
/* inspect_start_async is inspect_start that does not wait for the server to
 * accept the connection: the caller reads files meanwhile and calls
 * inspect_pump now and then, which moves the connection on as far as it can
 * without waiting and sends the queries once it is up; inspect_finish
 * completes what is left. Plan and status use it: their first query leaves
 * before most migration files are read, where inspect_start waits for the
 * server's start (a new backend process) first. extra_sql (NULL: none) is one
 * more SQL expression (no parameters), computed after the history, which the
 * server sends first: the caller compares the history with the files while
 * the server computes the expression (status --drift's fingerprint, costly
 * on a new backend). Its value is ins->extra after inspect_finish (NULL, as
 * for SQL NULL, when the server could not compute it: the caller asks
 * again). */
void inspect_start_async(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
			 const char *command, int brief, const char *extra_sql, struct inspection *ins);
void inspect_pump(struct inspection *ins);
/* inspect_all is n inspections; inspect_pump_all, a migrations_tick's fn,
 * pumps each of them (plan and status, while they read the files) */
struct inspect_all {
	struct inspection *v;
	size_t n;
};
void inspect_pump_all(void *arg);
void inspect_release(struct inspection *ins);

#endif

/* target: opening a target's connection the one way every command does it.
 *
 * Endpoint resolution comes first: the target's configuration says how it is
 * reached (the managed local cluster, which is started and its database
 * created with its fixtures on the way; a direct connection, with the
 * password from password_env, a trusted password_command or a pgpass file;
 * SSH, refused until the tunnel exists) and db.h connects to what it
 * resolves to. Then the three ways in: target_connect (only connected),
 * target_open_read and target_open_write.
 *
 * A writing command (deploy, baseline, plan recording, repair) gets a session
 * that holds the target's advisory lock, talks to the pinned server and has a
 * ledger at the schema version this padctl knows; runs left `running` by a
 * padctl that died are closed as `interrupted` on the way in. */
#ifndef PADCTL_TARGET_H
#define PADCTL_TARGET_H

#include "config.h"
#include "db.h"

/* target_connect resolves how t is reached and connects (read_only: the
 * session's default_transaction_read_only=on), nothing more: no identity
 * check, no lock. application_name is "padctl COMMAND" without a run_id, else
 * ledger_app_name's. For commands that only look (history, doctor) and for
 * inspect, which checks the identity with the facts it reads in one round
 * trip. On failure *out is NULL. */
int target_connect(const struct cfg_project *p, const struct cfg_target *t, const char *command,
		   const char *run_id, int read_only, struct db **out);

/* target_connect_start is target_connect (without a run_id) that does not
 * wait for the server: *pending is set, to be finished with db_connect_step
 * (db.h), or, when libpq cannot start without waiting, *db is connected
 * already. The endpoint is resolved here (a managed cluster started, a
 * tunnel opened, a password_command run), as by target_connect. */
int target_connect_start(const struct cfg_project *p, const struct cfg_target *t, const char *command,
			 int read_only, struct db_pending **pending, struct db **db);

/* target_password runs password_env / password_command; *password is NULL
 * when libpq should look it up itself (passfile, ~/.pgpass). A project's
 * password_command runs only once the user trusted it (trust.h), else
 * EXIT_USAGE; its output is never shown. */
int target_password(const struct cfg_target *t, char **password);

/* target_open_write connects to t (application_name names command and
 * run_id), takes the advisory lock (waiting up to lock_ms, EXIT_LOCKED after),
 * checks the server's identity against known_targets (pinning it on a first
 * write), creates or upgrades the ledger (refusing one newer than this padctl
 * with EXIT_USAGE, before writing anything), and closes as `interrupted` the
 * runs that a dead padctl left `running`. After SIGINT/SIGTERM (sig.h) it
 * refuses at once. On failure nothing was written and
 * *out is NULL; on success *out is the caller's (db_close releases the lock). */
int target_open_write(const struct cfg_project *p, const char *env, const struct cfg_target *t,
		      const char *command, const char *run_id, long lock_ms, struct db **out);

/* target_may_write_unlocked tells whether a write that needs neither the
 * lock nor a ledger brought up to date (plan's row, which goes only into a
 * ledger of this padctl's version: ledger_plan_add_current) may go through
 * db, a read-only connection to t whose identity inspect read (sysid,
 * dbname) and checked: 1 when known_targets pins t to that server (or t is
 * managed), 0 when the write must go through target_promote_write (a first
 * write pins the target under the lock), -1 after SIGINT/SIGTERM, refused
 * as target_open_write refuses. */
int target_may_write_unlocked(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			      const char *command, const char *sysid, const char *dbname);

/* target_promote_write makes db, a connection to t that target_connect
 * opened read-only (inspect.h) and whose identity was checked, what
 * target_open_write returns: the session reset and writable, named for
 * command and run_id, the lock taken, identity and ledger checked as there.
 * Saves plan the server process of a second connection. On failure db stays
 * the caller's to close. */
int target_promote_write(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			 const char *command, const char *run_id, long lock_ms, struct db *db);

/* target_open_read connects read-only (default_transaction_read_only=on),
 * checks the server's identity without pinning and refuses a ledger this
 * padctl cannot read, as a write would: for dry runs. */
int target_open_read(const struct cfg_project *p, const char *env, const struct cfg_target *t,
		     const char *command, const char *run_id, struct db **out);

#endif

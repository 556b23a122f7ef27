/* backups: the backups of the owned schemas padctl keeps. The backup step
 * writes one per run and target through the "backups" service (services.h,
 * padctl/plugin.h documents its contract) as <backups.dir>/<env>/<target>/
 * <run id>.dump, recorded in the target's padctl.backups; `padctl backups`
 * lists them and checks them again; a restore finds a run's backup and
 * re-checks it through the same service before using it.
 *
 * A backup counts only when verified (pg_restore --list read it). Retention
 * (backups.keep per target) deletes older files and marks their rows
 * pruned, never the backup of the current run nor that of the newest run
 * whose migrations are still applied (what a rollback would restore).
 */
#ifndef PADCTL_BACKUPS_H
#define PADCTL_BACKUPS_H

#include <libpq-fe.h>

#include "db.h"

/* backups_service_v1 returns the "backups" service, version 1. */
const void *backups_service_v1(void);

/* backups_dir_make makes <base>/<env>/<target> to write a backup into and
 * sets *dir to it (newly allocated). base and its missing parents are made
 * 0700; base must be a directory, not a symbolic link, and not writable by
 * others; <env> and <target> are made as services_private_dir does (0700,
 * never through a link). A base under <root>/.padctl gets the .gitignore
 * padctl keeps there. */
int backups_dir_make(const char *root, const char *base, const char *env, const char *target, char **dir);

/* backups_path returns where the backup of run_id on env's target lives
 * under base (newly allocated). */
char *backups_path(const char *base, const char *env, const char *target, const char *run_id);

/* backups_have_table sets *have when the target's ledger has padctl.backups
 * (a ledger an older padctl made has not: nothing is recorded then). */
int backups_have_table(struct db *db, int *have);

/* backups_list reads the backups recorded for target, newest first, or only
 * run_id's when it is not NULL. Columns: 0 run id, 1 path (NULL: nothing
 * was dumped), 2 size, 3 sha256, 4 verified (t/f), 5 pruned (t/f),
 * 6 schemas (comma-separated), 7 pg_dump version, 8 started_at and
 * 9 finished_at (ISO 8601, UTC), 10 pruned_at, 11 the run's status, 12 the
 * run's env, 13 the SSH host the file is on ("user@host:port"; NULL: on
 * this machine). The caller PQclears *res. */
int backups_list(struct db *db, const char *target, const char *run_id, PGresult **res);

/* backups_file_check fails, saying what differs, unless the file at path
 * is a regular file (not a link) of size bytes whose SHA-256 is sha256;
 * the file is read once. */
int backups_file_check(const char *path, const char *size, const char *sha256);

/* backups_restore_list runs `pg_restore --list` of PostgreSQL major (the
 * target's) on the file at path, as the tools service picks and checks the
 * binary; it fails with pg_restore's own words when that cannot read it. */
int backups_restore_list(int major, const char *path);

/* backups_remote_discard removes the file of a backup kept on the SSH host
 * that was never committed (services_step_end); a failure is a warning. */
struct svc_step;
struct padctl_artifact;
void backups_remote_discard(struct svc_step *s, struct padctl_artifact *a);

#endif

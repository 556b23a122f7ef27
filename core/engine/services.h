/* services: what the host offers a plugin beyond the flat host table, found
 * by name and version through host->service() (padctl/plugin.h documents
 * each service's contract):
 *
 *   "tools" 1      pg_dump, pg_restore and psql against the step's target: the
 *                  binary of the server's major version, host/port/user/dbname
 *                  as arguments, the password in a private temporary pgpass
 *                  file (PGPASSFILE), a minimal environment, a time limit,
 *                  cancellation (core/base/proc.h runs the child)
 *   "artifacts" 1  files a step makes under .padctl/artifacts/<env>/<target>/,
 *                  hashed while written, recorded in padctl.artifacts
 *   "ledger" 1     typed records: padctl.rollbacks, padctl.seeds
 *   "seeds" 1      the files of the env's seed sets (confined to the project)
 *                  and the checksums the target's ledger holds for them
 *   "backups" 1    the run's backup file under backups.dir, its record in
 *                  padctl.backups, retention, and finding and re-checking
 *                  a run's backup later (backups.h)
 *   "lint" 1       the protected-schema rule over SQL that is not a migration
 *                  (seed files), with the step's target (schema/lint.h)
 *   "drift" 1      the step's target compared with a replay of its history
 *                  on a scratch database (drift.h)
 *   "backfill" 1   a backfills/<name>.yml and its records: migration_mapping,
 *                  backfill_failures, backfill_runs (svc_backfill.c)
 *
 * The engine owns the step; a service reaches what it needs of it through
 * struct svc_step, which the engine (pipeline.c) fills and hands over with
 * svc_step_of(). Approvals are not a service: they stay inside the host.
 */
#ifndef PADCTL_SERVICES_H
#define PADCTL_SERVICES_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "db.h"
#include "hash.h"

struct padctl_step;

/* struct padctl_artifact is the SDK's opaque file handle: an artifact, or
 * (backup set) the run's backup, which only the backups service commits. */
struct padctl_artifact {
	char *name;
	char *path;
	int fd; /* open until commit */
	struct hash_sha256 sha;
	uint64_t size;
	char hex[65]; /* "" until commit */
	int committed;
	int backup; /* made by the backups service */
	char *tool_version; /* `TOOL --version` of the last tool run into it, or NULL */
	double started; /* backups: when it was created (seconds since the epoch) */
	dev_t dev; /* backups: the committed file's identity, checked by mark_verified */
	ino_t ino;
	struct timespec mtime;
	int remote; /* backups: the file is on the target's SSH host (ssh.backups_dir); path is its path there */
};
struct cfg_project;

/* struct padctl_rows is what the SDK's opaque rows are: a query's result. */
struct padctl_rows {
	PGresult *res;
};

/* What the services know of one step. The engine sets the first block each
 * time svc_step_of() is called; the second belongs to the services and is
 * released by services_step_end(). */
struct svc_step {
	struct db *db;
	const char *root; /* the project directory */
	const char *contracts_dir; /* paths.contracts */
	char *const *owned;        /* schemas.owned */
	size_t nowned;
	int owned_later;           /* preflight with migrations pending: owned schemas' contracts wait for postflight */
	const char *env;
	const char *target;
	const struct cfg_target *tcfg; /* the target's configuration (tools: remote runs on its SSH host) */
	const char *run_id;
	const char *plugin; /* the step's plugin, for messages */
	int dry_run;
	int pending; /* migrations the run's plan applies on the target (skips not counted) */
	const char *backups_dir; /* backups.dir, absolute */
	int backups_keep; /* backups.keep */
	/* ledger_write runs a record's SQL on the step's connection as the
	 * role padctl connected as: inside a transaction the plugin has open it
	 * travels with the plugin's next statement and commits with it. */
	int (*ledger_write)(struct padctl_step *st, const char *sql);
	const struct cfg_project *project;
	const struct cfg_env *env_cfg;

	const char *phase; /* the step's phase (a rollback's strategy), or NULL */
	json_t **drift_report; /* where the drift service leaves its result (validate --json); NULL: nowhere */

	struct padctl_artifact **arts; /* the artifacts the step created */
	size_t narts;
	char **strs; /* strings handed out, freed at the step's end */
	size_t nstrs;
	char **inputs; /* files the backups service verified: pg_restore may read them */
	size_t ninputs;
	struct svc_backfill *backfill; /* the "backfill" service's state (svc_backfill.c) */
	char **remote_inputs; /* of inputs, those on the SSH host (a kept backup): pg_restore runs there */
	size_t nremote_inputs;
	struct remote *remote; /* the step's session to its SSH host (services_remote) */
};

/* svc_step_of returns st's view for the services (defined by the engine). */
struct svc_step *svc_step_of(struct padctl_step *st);
/* pipeline_tx_service_v1 returns the "tx" service, version 1 (defined by the
 * engine, which holds the step's transaction). */
const void *pipeline_tx_service_v1(void);
/* pipeline_tx_service_v2 returns the "tx" service, version 2. */
const void *pipeline_tx_service_v2(void);

/* svc_backfill_v1 is the "backfill" service; svc_backfill_end frees its state of a step. */
struct svc_backfill;
extern const struct padctl_backfill_v1 svc_backfill_v1;
void svc_backfill_end(struct svc_step *s);

/* services_lookup returns the service name at exactly version, or NULL. */
const void *services_lookup(const char *name, uint32_t version);

/* services_remote sets *r to the step's session to its target's SSH host,
 * opened at the first call and closed by services_step_end: the tools and
 * backups services share it, so one step logs in once. The step's calls
 * follow each other, so the session is never idle for long. */
struct remote;
int services_remote(struct svc_step *s, struct remote **r);

/* services_step_end removes the artifacts the step created but did not
 * commit and frees what the services kept for the step. */
void services_step_end(struct svc_step *s);

/* SERVICES_PG_ROOT is where Debian's postgresql-client-<major> installs
 * the client tools: <root>/<major>/bin/<tool>. */
#define SERVICES_PG_ROOT "/usr/lib/postgresql"

/* services_pg_root returns where the client tools are looked for:
 * PADCTL_PG_CLIENT_ROOT when it is set to an absolute path (laid out like
 * SERVICES_PG_ROOT), else SERVICES_PG_ROOT. Borrowed. */
const char *services_pg_root(void);

/* services_tool_check runs `bin --version` and fails, naming both versions
 * and the Debian package to install, unless it is PostgreSQL major's tool;
 * *version is then what it printed (newly allocated). */
int services_tool_check(const char *bin, const char *tool, int major, char **version);

/* services_tool_version_parse reads the major version out of a client
 * tool's `--version` output ("pg_dump (PostgreSQL) 15.4 ..."); -1 when
 * there is none. */
int services_tool_version_parse(const char *out, int *major);

/* services_private_dir makes path (0700) if missing and refuses anything but
 * a real directory in its place: nothing is written through a link. */
int services_private_dir(const char *path);

/* services_refused fails (and returns non-zero) when the step may not
 * `what` ("create a backup"): in a dry run, or once padctl was told to stop. */
int services_refused(struct svc_step *s, const char *what);

/* services_project_dot makes the project's .padctl directory dot (0700,
 * as services_private_dir) with a .gitignore that keeps it out of git. */
int services_project_dot(const char *dot);

/* services_file_sha256 hashes the file at path (never through a link) as it
 * is on disk now: hex SHA-256 and size. */
int services_file_sha256(const char *path, char hex[65], uint64_t *size);

/* services_artifact_open creates path (taking it over: freed by the step's
 * end) as a new 0600 file, never through a link nor over an existing file,
 * registered for removal until committed, and hands it to the step as
 * artifact name. */
int services_artifact_open(struct svc_step *s, const char *name, char *path, struct padctl_artifact **a);

/* services_artifact_own says whether a is one of the step's handles. */
int services_artifact_own(struct svc_step *s, const struct padctl_artifact *a);

/* services_tool_path sets *path (newly allocated) to root/<major>/bin/tool
 * when that is an executable file; otherwise it fails naming the server's
 * version, the versions installed under root, and the package to install. */
int services_tool_path(const char *root, int major, const char *tool, char **path);

/* services_pgpass_line returns the password-file line that matches any
 * host, port, database and user with password (':' and '\' escaped as
 * libpq reads them), newline-ended; newly allocated. */
char *services_pgpass_line(const char *password);

/* services_tool_args_refused returns NULL when args (NULL-ended) may be
 * given to tool, else why not (newly allocated). is_input(ctx, arg) says
 * whether a bare argument is an input file the step may name (pg_restore's
 * archive); NULL: none may be. Connection options and options writing to a
 * file of their own are refused, including getopt_long's abbreviations. */
char *services_tool_args_refused(const char *tool, const char *const *args, int (*is_input)(void *ctx, const char *arg),
				 void *ctx);

/* services_dump_schemas runs the pg_dump of db's server version against db
 * (password in a private file, no shell) for the schema-only, owner- and
 * privilege-free DDL of the n schemas, appended to out. */
int services_dump_schemas(struct db *db, const char *const *schemas, size_t n, struct buf *out);

#endif

/* padctl/plugin.h — the public plugin SDK. This is the only header a padctl
 * plugin includes; it depends on nothing but the C standard library.
 *
 * A plugin is a shared object that exports exactly one function,
 * padctl_plugin_entry(), returning a descriptor (struct padctl_plugin). The
 * host checks, in this order: the entry symbol exists, `abi` equals the host's
 * PADCTL_PLUGIN_ABI, `size` is at least what that ABI needs, `name` is unique
 * among loaded plugins, `kind` is known, and `run` is set. Any refusal names
 * the file and the reason.
 *
 * For each step of a pipeline on each target the host calls open (optional),
 * then run, then close (optional). plan and lint are to call check (optional, no side
 * effects) instead of run. Everything a plugin needs it asks the host for
 * through struct padctl_host; memory the host hands out is freed by the host
 * (rows_free), memory the plugin allocates is freed by the plugin.
 *
 * Both structs are append-only: new members go at the end, and `size` tells
 * how much of a struct the other side knows: PADCTL_HOST_HAS(host, member)
 * says whether a host offers a member appended after the plugin was built.
 *
 * ABI 2 (from ABI 1): config_list, service and the services below were
 * added; an ABI 1 plugin is refused and must be rebuilt (nothing it used
 * moved). What every step uses stays in the flat table; what only some kinds
 * of step use is a service, found by name and version with service(), so
 * adding one never shifts the table.
 */
#ifndef PADCTL_PLUGIN_H
#define PADCTL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PADCTL_PLUGIN_ABI is the ABI version this header describes. */
#define PADCTL_PLUGIN_ABI 2

#if defined(__GNUC__)
#define PADCTL_EXPORT __attribute__((visibility("default")))
#define PADCTL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PADCTL_EXPORT
#define PADCTL_PRINTF(f, a)
#endif

/* The kinds of step a plugin can implement. */
enum padctl_kind {
	PADCTL_KIND_BACKUP = 1,
	PADCTL_KIND_MIGRATE = 2,
	PADCTL_KIND_VALIDATE = 3,
	PADCTL_KIND_SEED = 4,
	PADCTL_KIND_ROLLBACK = 5,
	PADCTL_KIND_BACKFILL = 6,
};

/* Types of a declared option. */
enum padctl_opt_type {
	PADCTL_OPT_STRING = 1,
	PADCTL_OPT_BOOL = 2,    /* true/false/yes/no/on/off */
	PADCTL_OPT_INT = 3,     /* a decimal integer */
};

/* One option a step accepts in a pipeline file; plan rejects unknown keys,
 * missing required ones and values of the wrong type before any database is
 * touched. An array of these ends with an entry whose name is NULL. */
struct padctl_option {
	const char *name;
	int type;               /* enum padctl_opt_type */
	int required;
	const char *help;
};

/* Log levels for padctl_host.log. */
enum padctl_log_level {
	PADCTL_LOG_ERROR = 0,
	PADCTL_LOG_WARN = 1,
	PADCTL_LOG_INFO = 2,
	PADCTL_LOG_DEBUG = 3,
};

/* One migration the host hands to a migrate step, in the order to apply. */
struct padctl_migration {
	const char *version;     /* "0001" */
	const char *name;        /* "create_pad_request" */
	const char *dir;         /* absolute path of the migration directory */
	const char *up_path;     /* absolute path of up.sql */
	const char *up_sql;      /* contents of up.sql */
	const char *checksum;    /* hex SHA-256 of up.sql, line endings normalised */
	int transactional;       /* 0 when meta.yml says transactional: false */
	const char *skip_reason; /* non-NULL: the env skips it; record, never apply */
	const char *down_path;   /* absolute path of down.sql, NULL when missing */
	const char *verify_path; /* absolute path of verify.sql, NULL when missing */
};

struct padctl_step; /* opaque: one step on one target, owned by the host */
struct padctl_rows; /* opaque: a query result, owned by the host */
struct padctl_artifact; /* opaque: a file the host made for the step, owned by the host */

/* padctl_output_fn receives a tool's output as it comes, in chunks; return 0
 * to go on, -1 to stop the tool (after recording an error with fail). */
typedef int (*padctl_output_fn)(void *ctx, const void *data, size_t n);

/* The services the host offers a plugin. Every function takes the step handle
 * the plugin was given. Functions returning int return 0 on success and -1 on
 * failure, after recording the error (the first error of a run wins). */
struct padctl_host {
	uint32_t abi;
	uint32_t size;

	/* env, target, phase and run_id describe the step; phase is NULL when
	 * the pipeline gave none (`- validate: preflight` gives "preflight"). */
	const char *(*env)(struct padctl_step *st);
	const char *(*target)(struct padctl_step *st);
	const char *(*phase)(struct padctl_step *st);
	const char *(*run_id)(struct padctl_step *st);
	/* dry_run is non-zero in a dry run: the step runs inside a read-only
	 * transaction the host always rolls back, transaction control and
	 * changes of the read-only settings are refused, and remote execution
	 * is refused, whatever the plugin does. */
	int (*dry_run)(struct padctl_step *st);

	/* log prints a line attributed to the step. */
	void (*log)(struct padctl_step *st, int level, const char *fmt, ...) PADCTL_PRINTF(3, 4);
	/* progress reports done of total units (total 0: unknown) with a label. */
	void (*progress)(struct padctl_step *st, uint64_t done, uint64_t total, const char *label);
	/* fail records the step's error (if it is the first) with an optional
	 * hint saying what to do; returns -1 so `return host->fail(...)` works. */
	int (*fail)(struct padctl_step *st, const char *hint, const char *fmt, ...) PADCTL_PRINTF(3, 4);

	/* option returns a declared option's value as written, or NULL. */
	const char *(*option)(struct padctl_step *st, const char *name);
	/* config looks up a project or env setting: "project", "env.tier",
	 * "schemas.owned" and "schemas.protected" (comma-separated), "target.dbname",
	 * "drift" ("true" when padctl.yml configures drift checks, else "false").
	 * Every string the host hands a plugin (env, target, phase, run_id,
	 * option, config, the members of a migration) stays valid and unchanged
	 * until the step ends; no two answers share storage. */
	const char *(*config)(struct padctl_step *st, const char *key);

	/* sql_exec runs one or more statements on the step's target. origin
	 * names the file the SQL came from (or NULL): an error then names
	 * origin:line of the failing statement, the server's NOTICEs are shown
	 * as origin:line (unless -q), and a COPY ... FROM STDIN takes the data
	 * lines that follow it in sql, up to a line "\." (as psql reads a
	 * file). Without an origin, sql goes to the server as one message, and
	 * its NOTICEs (like those of sql_query) are shown as "[target plugin]".
	 * Outside a transaction, an origin other than the previous call's
	 * starts a migration: the host first resets the session (RESET SESSION
	 * AUTHORIZATION, RESET ROLE, RESET ALL), as it does at tx_begin, before
	 * each step and before every ledger write. While the host holds a
	 * transaction (and in a dry run) transaction control is refused before
	 * anything is sent; in a dry run changes of the read-only settings too.
	 * Any error a host call records fails the step, even if the plugin then
	 * returns 0. */
	int (*sql_exec)(struct padctl_step *st, const char *sql, const char *origin);
	/* sql_query runs one statement with text parameters $1..$n and hands
	 * back its rows; free them with rows_free. */
	int (*sql_query)(struct padctl_step *st, const char *sql, int nparams,
			 const char *const *params, struct padctl_rows **rows);
	int (*rows_count)(const struct padctl_rows *rows);
	/* rows_value returns row r, column c as text, NULL for SQL NULL. */
	const char *(*rows_value)(const struct padctl_rows *rows, int r, int c);
	void (*rows_free)(struct padctl_rows *rows);

	/* migration_count and migration_at give, for a migrate step, the
	 * migrations it is to apply (or record as skipped), in order; for any
	 * other step, the migrations this run has applied so far. */
	size_t (*migration_count)(struct padctl_step *st);
	const struct padctl_migration *(*migration_at)(struct padctl_step *st, size_t i);
	/* history_record writes the migration's history row on the step's
	 * connection, inside the transaction the plugin has open (if any), so
	 * the row commits or rolls back with the migration, as the role padctl
	 * connected as. status is "applied" or "skipped"; reason may be NULL.
	 * m must be a pointer migration_at of this migrate step returned, each
	 * recorded at most once (once committed); anything else fails. */
	int (*history_record)(struct padctl_step *st, const struct padctl_migration *m,
			      const char *status, const char *reason, double duration_ms);
	/* read_file reads a file the project holds (a migration's verify.sql,
	 * say); free the text with free_text. */
	int (*read_file)(struct padctl_step *st, const char *path, char **text);
	void (*free_text)(char *text);

	/* tx_begin, tx_commit and tx_rollback bracket a transaction on the
	 * step's connection; tx_begin starts a migration (the session is reset
	 * first, and lock_timeout set to lock_timeout_ms when that is not 0, for
	 * the session). The host sends BEGIN and the history row together with the
	 * neighbouring statements, so a migration costs no extra round trips;
	 * an error in them is reported by the call that sent them. tx_commit
	 * fails (and rolls back) when a statement of the transaction failed
	 * before it, or when the server does not answer COMMIT. In a dry run
	 * the transaction is a savepoint inside the host's read-only one. */
	int (*tx_begin)(struct padctl_step *st);
	int (*tx_commit)(struct padctl_step *st);
	void (*tx_rollback)(struct padctl_step *st);

	/* cancelled is non-zero once padctl was told to stop (SIGINT, SIGTERM):
	 * stop at the next safe point (between migrations, between batches)
	 * and return a failure. The host already cancelled the statement in
	 * flight; from then on it refuses tx_begin, tx_commit (the transaction
	 * is rolled back) and sql_exec of a file (origin set). */
	int (*cancelled)(struct padctl_step *st);

	/* sql_indexes lists the CREATE INDEX statements of sql as PostgreSQL's
	 * parser reads them, one row each, in order: 0 the table's schema (NULL
	 * when the statement leaves it unqualified: an index lives in its
	 * table's schema, so resolve it on the server), 1 the table, 2 the index
	 * name (NULL when the statement names none), 3 "t" for CONCURRENTLY
	 * else "f", 4 "t" for IF NOT EXISTS else "f", 5 the statement's line.
	 * Free with rows_free. */
	int (*sql_indexes)(struct padctl_step *st, const char *sql, struct padctl_rows **rows);
	/* error_sqlstate returns the SQLSTATE of the recorded error when a
	 * statement failed on the server ("55P03"), else NULL. */
	const char *(*error_sqlstate)(struct padctl_step *st);
	/* error_clear forgets the recorded error, for a plugin that retries. */
	void (*error_clear)(struct padctl_step *st);
	/* lock_timeout_ms is how long a migration statement may wait for a
	 * lock (migrations.lock_timeout of the env or project); 0: no limit. */
	long (*lock_timeout_ms)(struct padctl_step *st);

	/* ---- ABI 2 */

	/* config_list returns a list setting as an array of *n strings
	 * ("schemas.owned", "schemas.protected", "seeds": the env's seed
	 * sets), NULL for an unknown key. The array and its strings stay valid
	 * and unchanged until the step ends. */
	const char *const *(*config_list)(struct padctl_step *st, const char *key, size_t *n);
	/* service returns the service `name` at exactly `version`, or NULL when
	 * this host does not offer it (then the plugin fails with a clear
	 * message or does without). The struct is constant and lives as long as
	 * the host; check its `size` with PADCTL_SERVICE_HAS before using a
	 * member appended in a later revision of the same version. */
	const void *(*service)(struct padctl_step *st, const char *name, uint32_t version);
};

/* PADCTL_HOST_HAS is non-zero when the host table h is large enough to hold
 * member (and it is set): use it before calling a member added after ABI 2. */
#define PADCTL_HOST_HAS(h, member) \
	((h)->size >= offsetof(struct padctl_host, member) + sizeof((h)->member) && (h)->member != NULL)
/* PADCTL_SERVICE_HAS is the same test for a service struct of type type. */
#define PADCTL_SERVICE_HAS(svc, type, member) \
	((svc)->size >= offsetof(type, member) + sizeof((svc)->member) && (svc)->member != NULL)

/* ---- services (host->service(st, name, version)) -------------------------
 *
 * Each service is a constant struct that opens with its version and size.
 * Every function takes the step handle; int functions return 0 or -1 after
 * recording the error. A service that changes anything refuses to work in a
 * dry run and once the run was cancelled. */

/* "tools", version 1: run a PostgreSQL client tool against the step's
 * target. The host picks the binary whose major version matches the
 * server's, passes host, port, user and database itself (they are never
 * the plugin's to choose), hands the password to the tool through a private
 * temporary password file it removes afterwards, runs the tool without a
 * shell, with a minimal environment, stdin closed, and a time limit, and
 * stops it when padctl is told to stop. Refused in a dry run. */
#define PADCTL_TOOLS_V1 1
struct padctl_tools_v1 {
	uint32_t version; /* 1 */
	uint32_t size; /* sizeof(struct padctl_tools_v1) as the host knows it */
	/* run runs tool ("pg_dump", "pg_restore" or "psql") with args (a
	 * NULL-ended list of options, each passed as one argument as it is:
	 * nothing is quoted because nothing goes through a shell). Connection
	 * options (-h, -p, -U, -d, -W and their long forms) are refused; so is a
	 * bare argument, except pg_restore's input, which must be the path of an
	 * artifact of this step or of a backup "backups" verify handed it.
	 * stdout goes to out(ctx, ...) as it comes (out NULL: discarded); stderr is kept (its last 64 KiB) and shown
	 * when the tool fails, and with -v when it succeeds. timeout_ms 0 means the host's limit (one hour); the
	 * tool is killed when it runs longer. A non-zero exit fails. */
	int (*run)(struct padctl_step *st, const char *tool, const char *const *args, long timeout_ms,
		   padctl_output_fn out, void *ctx);
	/* run_to_artifact is run with stdout written into artifact a (see
	 * "artifacts"), whose size and SHA-256 the host computes as it writes. */
	int (*run_to_artifact)(struct padctl_step *st, const char *tool, const char *const *args, long timeout_ms,
			       struct padctl_artifact *a);
	/* server_major returns the target server's major version (16), or -1. */
	int (*server_major)(struct padctl_step *st);
};

/* "artifacts", version 1: files the host makes for a step (a dump, say),
 * under a directory the host decides (.padctl/artifacts/<env>/<target>/ of
 * the project, directories 0700, files 0600, named <run id>-<name>), and
 * their record in the target's ledger (padctl.artifacts). A handle stays
 * valid until the step ends; an artifact not committed by then is removed. */
#define PADCTL_ARTIFACTS_V1 1
struct padctl_artifacts_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* create makes a new empty file for the step; name is 1 to 64
	 * characters of [A-Za-z0-9._-] not starting with a dot, unique within
	 * the run and target. Refused in a dry run. */
	int (*create)(struct padctl_step *st, const char *name, struct padctl_artifact **a);
	/* write appends n bytes (until commit). */
	int (*write)(struct padctl_step *st, struct padctl_artifact *a, const void *data, size_t n);
	/* path returns the file's absolute path (to hand to a tool, say). */
	const char *(*path)(struct padctl_step *st, const struct padctl_artifact *a);
	/* commit closes the file (after fsync) and records it in the ledger
	 * against the run and the target with its size and SHA-256, not yet
	 * verified. Inside a transaction the plugin has open, the record
	 * commits or rolls back with it. */
	int (*commit)(struct padctl_step *st, struct padctl_artifact *a);
	/* mark_verified records that the plugin's verification of a committed
	 * artifact passed; the host first checks that the file still has the
	 * size and SHA-256 it committed. Call it only after checking. */
	int (*mark_verified)(struct padctl_step *st, struct padctl_artifact *a);
	/* sha256 and bytes describe a committed artifact ("" and 0 before). */
	const char *(*sha256)(struct padctl_step *st, const struct padctl_artifact *a);
	uint64_t (*bytes)(struct padctl_step *st, const struct padctl_artifact *a);
	/* find lists the artifacts recorded for run_id (NULL: this run) on the
	 * step's target, oldest first, one row each: 0 name, 1 path, 2 size,
	 * 3 sha256, 4 verified ("t"/"f"), 5 created_at. Free with rows_free. */
	int (*find)(struct padctl_step *st, const char *run_id, struct padctl_rows **rows);
};

/* "ledger", version 1: typed records a plugin writes in the target's
 * ledger, on the step's connection: inside a transaction the plugin has
 * open they commit or roll back with it. There are no free-form tables.
 * Refused in a dry run. */
#define PADCTL_LEDGER_V1 1
struct padctl_ledger_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* migration_rolled_back records that the migration `version` was
	 * rolled back by this run (padctl.rollbacks) and, in the same
	 * statement, marks its history row rolled_back when it is applied:
	 * the migration is pending again. */
	int (*migration_rolled_back)(struct padctl_step *st, const char *version);
	/* seed_applied records that file of seed set `set`, with checksum
	 * (hex SHA-256), was applied by this run (padctl.seeds). */
	int (*seed_applied)(struct padctl_step *st, const char *set, const char *file, const char *checksum);
};

/* "seeds", version 1: the files of the env's seed sets, and what the
 * target's ledger knows of them. A set is the directory <paths.seeds>/<set>
 * of one of the env's `seeds` (config_list "seeds" lists them in order); its
 * seed files are its *.sql files other than teardown.sql, in byte order of
 * their names. The set's directory and its files must stay inside the
 * project (or inside paths.seeds when that is configured outside it) once
 * every symlink is resolved: anything else is refused, never read. */
#define PADCTL_SEEDS_V1 1
struct padctl_seeds_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* files lists the seed files of set, one row each, in order: 0 the
	 * file's name ("001_users.sql"), 1 its path relative to the project
	 * (the origin to give sql_exec, so errors name it), 2 the hex SHA-256
	 * of its content, 3 the checksum the target's ledger holds for it (the
	 * last one applied and not forgotten) or NULL. Fails for a set the env
	 * does not list and for a missing directory (naming the env file's
	 * line). Works in a dry run. Free with rows_free. */
	int (*files)(struct padctl_step *st, const char *set, struct padctl_rows **rows);
	/* read reads seed file `file` (a name files listed) of set into *text
	 * (free it with free_text); it fails when the content no longer has
	 * the SHA-256 files reported, so what runs is what gets recorded. */
	int (*read)(struct padctl_step *st, const char *set, const char *file, const char *sha256, char **text);
	/* teardown reads set's teardown.sql into *text (free with free_text)
	 * and its path relative to the project into *origin (valid until the
	 * step ends); *text is NULL when the set has none. */
	int (*teardown)(struct padctl_step *st, const char *set, char **text, const char **origin);
	/* forget marks every record of set on the target as forgotten by this
	 * run (kept for the record), so the next seed applies each file again.
	 * Inside a transaction the plugin has open it commits or rolls back
	 * with it. Refused in a dry run. */
	int (*forget)(struct padctl_step *st, const char *set);
};

/* "backups", version 1: the verified backups of the owned schemas, one per
 * run and target, as files <backups.dir>/<env>/<target>/<run id>.dump of the
 * project (directories 0700, files 0600) recorded in the target's ledger
 * (padctl.backups), and how a later step (a restore) finds and re-checks
 * one. A backup handle is a struct padctl_artifact: tools' run_to_artifact
 * writes into it (hashing as it writes) and artifacts' path, sha256 and
 * bytes describe it; it is committed and verified only through this
 * service. create, commit, commit_none, mark_verified and prune are
 * refused in a dry run; pending, find and verify only read. */
#define PADCTL_BACKUPS_V1 1
struct padctl_backups_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* pending returns how many migrations this run's plan applies on the
	 * step's target (migrations it only records as skipped do not count):
	 * 0 means the run changes nothing there. */
	int (*pending)(struct padctl_step *st);
	/* create makes the run's backup file, empty, and returns its handle;
	 * one per run and target. */
	int (*create)(struct padctl_step *st, struct padctl_artifact **a);
	/* commit closes the file (after fsync) and records the backup: run,
	 * target, path, size and SHA-256 (computed while it was written), the
	 * version of the pg_dump the host ran into it, schemas (NULL-ended: what
	 * the dump holds), when create and commit were called; not yet verified. */
	int (*commit)(struct padctl_step *st, struct padctl_artifact *a, const char *const *schemas);
	/* commit_none records a backup without a file, verified: none of the
	 * owned schemas existed, so restoring it means dropping them. */
	int (*commit_none)(struct padctl_step *st);
	/* mark_verified records that the plugin's check of a committed backup
	 * (pg_restore --list) passed; the host first checks that the file still
	 * has the size it committed (the SHA-256 is the one computed while it
	 * was written: the file is not read again). */
	int (*mark_verified)(struct padctl_step *st, struct padctl_artifact *a);
	/* prune applies backups.keep on the step's target: beyond the newest
	 * `keep` backups, files are deleted and their records marked pruned,
	 * except the backups a rollback may still need (docs/backups.md). */
	int (*prune)(struct padctl_step *st);
	/* find returns the backup of run_id (NULL: this run) on the step's
	 * target, zero or one row: 0 run id, 1 path (NULL: a commit_none
	 * backup), 2 size, 3 sha256, 4 verified ("t"/"f"), 5 pruned ("t"/"f"),
	 * 6 schemas (comma-separated), 7 pg_dump version, 8 started_at,
	 * 9 finished_at. Free with rows_free. */
	int (*find)(struct padctl_step *st, const char *run_id, struct padctl_rows **rows);
	/* verify checks the backup of run_id on the step's target before it is
	 * used: recorded, verified, not pruned, and the file has its recorded
	 * size and SHA-256 now (read again); otherwise it fails saying what is
	 * wrong. *path is then the file (NULL for a commit_none backup), valid
	 * until the step ends, and tools' run accepts it as pg_restore's input. */
	int (*verify)(struct padctl_step *st, const char *run_id, const char **path);
};

/* "lint", version 1: lint of SQL that is not a migration, such as a seed
 * file, with PostgreSQL's parser (docs/lint.md): the protected-schema rule
 * alone, with the project's protected schemas and the step's target (its
 * search_path and server version). Allowed in a dry run. */
#define PADCTL_LINT_V1 1
struct padctl_lint_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* protected_sql checks len bytes of text (file names it in messages):
	 * 0 when no statement creates, alters, drops, grants on, comments on or
	 * writes an object in a protected schema; otherwise the step's error
	 * names FILE:LINE:COL of each such statement and -1 is returned. */
	int (*protected_sql)(struct padctl_step *st, const char *file, const char *text, size_t len);
};

/* "contracts", version 1: the contracts of the project
 * (`<paths.contracts>/<schema>.yml`, docs/contracts.md) checked against the
 * step's target. Read-only: allowed in a dry run. */
#define PADCTL_CONTRACTS_V1 1
struct padctl_contracts_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* check loads every contract file and compares it with the target's
	 * catalog; each finding goes to finding(ctx, file, line, col, text),
	 * file relative to the project root and line:col where the contract
	 * says what the target breaks. Returns the number of contract files
	 * checked (0: none), or -1 with the error recorded (a file that does not
	 * load, named at its file:line:col; a failed query). */
	int (*check)(struct padctl_step *st,
		     void (*finding)(void *ctx, const char *file, int line, int col, const char *text), void *ctx);
};

/* "drift", version 1: the step's target compared with a replay of its
 * history. The host replays, on a scratch database, exactly the migrations
 * the target's history says are applied (a cached replay when the history
 * did not change) and compares the catalogs of the owned schemas; a
 * baselined target compares only what came after its baseline. It logs a
 * summary line itself. Works in a dry run (it changes nothing on the
 * target); fails when the project configures no drift (padctl.yml `drift:`). */
#define PADCTL_DRIFT_V1 1
struct padctl_drift_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* check lists every difference, one row each: 0 "missing" (the
	 * replay has it, the target not), "extra" (the target has it, the
	 * replay not) or "changed", 1 the object's kind ("column", "index",
	 * "function", ...), 2 its schema-qualified name, 3 the replay's
	 * definition (NULL when extra), 4 the target's (NULL when missing).
	 * No rows: no drift. Free with rows_free. */
	int (*check)(struct padctl_step *st, struct padctl_rows **rows);
};

/* "backfill", version 1: a data migration (backfills/<name>.yml) and its
 * records in the target's ledger: padctl.migration_mapping (which target
 * rows each source row became), padctl.backfill_failures (source rows that
 * failed, with the server's error) and padctl.backfill_runs (each run's
 * counts). The plugin runs the batches; the host owns the file, the ledger
 * tables and the SQL that reads and writes them. Records written while the
 * plugin has a transaction open commit or roll back with it. Writing
 * records is refused in a dry run of the engine (deploy --dry-run). */
#define PADCTL_BACKFILL_V1 1
struct padctl_backfill_check {
	const char *name;
	const char *sql; /* $1 bigint[] -> source_id, reason */
	int line; /* of the SQL in the file */
};
struct padctl_backfill_def {
	const char *name;
	const char *file; /* absolute path of backfills/<name>.yml */
	const char *source_table; /* schema.table */
	const char *source_key;
	const char *const *targets; /* schema.table, each in an owned schema */
	size_t ntargets;
	const char *sql; /* $1 bigint[] -> source_id, target_table, target_id */
	int sql_line;
	const struct padctl_backfill_check *checks;
	size_t nchecks;
	long batch_size;
	long statement_timeout_ms; /* 0: none */
	long pause_ms;
};
struct padctl_backfill_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	/* load reads backfills/<name>.yml of the project into *def (valid until
	 * the step ends); a bad file fails naming file:line:col. */
	int (*load)(struct padctl_step *st, const char *name, const struct padctl_backfill_def **def);
	/* start records this run of the backfill (dry_run: the plugin rolls
	 * every batch back; retry_failed: only recorded failures are tried) and
	 * counts the source rows: *total, *todo (no mapping and, unless
	 * retry_failed, no recorded failure; with retry_failed: the recorded
	 * failures) and *failed (recorded failures). */
	int (*start)(struct padctl_step *st, const struct padctl_backfill_def *def, int dry_run, int retry_failed,
		     uint64_t *total, uint64_t *todo, uint64_t *failed);
	/* next_keys returns, in key order, the next n keys greater than after
	 * (NULL: from the first), two columns: the key as text, and "t" when
	 * it is still to do as start counted it ("f": done, or failed before).
	 * The next read starts after the last key returned; no row: the end. A
	 * keyset read, never an OFFSET. With retry_failed only recorded
	 * failures are returned. Free with rows_free. */
	int (*next_keys)(struct padctl_step *st, const struct padctl_backfill_def *def, const char *after, long n,
			 struct padctl_rows **rows);
	/* mapped records the rows the batch SQL returned (columns source_id,
	 * target_table, target_id, in that order and with those names; each
	 * target_table one of def->targets) in padctl.migration_mapping, and
	 * forgets recorded failures of those source rows. Call it inside the
	 * batch's transaction. */
	int (*mapped)(struct padctl_step *st, const struct padctl_backfill_def *def, const struct padctl_rows *rows);
	/* failed records source row source_id as failed with reason; reason
	 * NULL takes the step's recorded error (the server's message, SQLSTATE
	 * and detail) and then forgets it, so the step goes on. */
	int (*failed)(struct padctl_step *st, const struct padctl_backfill_def *def, const char *source_id,
		      const char *reason);
	/* counts records this run's counts so far (finished: the run ended):
	 * source rows done and failed, target rows written, batches. */
	int (*counts)(struct padctl_step *st, const struct padctl_backfill_def *def, uint64_t done, uint64_t failed,
		      uint64_t written, uint64_t batches, int finished);
	/* error_text returns the step's recorded error as failed() would record
	 * it (message, SQLSTATE, the server's detail), or NULL when there is
	 * none: for a dry run, which reports a failing row without recording
	 * it. Valid until the next call or the step's end. */
	const char *(*error_text)(struct padctl_step *st);

	/* Appended (check with PADCTL_SERVICE_HAS): */
	/* isolate runs the batch SQL on keys (a bigint[] literal, like $1)
	 * inside the plugin's open transaction, on the server, in one statement:
	 * split in `parts` parts, each in a subtransaction; a part the server
	 * fails for its data (SQLSTATE class 22, 23, P0, 54) is split in halves
	 * down to single rows. *rows (for mapped): source_id, target_table,
	 * target_id of the parts that succeeded; *failures: source_id, sqlstate,
	 * error of each row that failed alone. Any other error, or a statement
	 * timeout, fails the call (the transaction is then aborted). Free both
	 * with rows_free. */
	int (*isolate)(struct padctl_step *st, const struct padctl_backfill_def *def, const char *keys, long parts,
		       struct padctl_rows **rows, struct padctl_rows **failures);
	/* failed_as is failed() with the SQLSTATE that goes with reason (an
	 * isolated row's, from isolate). */
	int (*failed_as)(struct padctl_step *st, const struct padctl_backfill_def *def, const char *source_id,
			 const char *sqlstate, const char *reason);
	/* run_mapped runs the batch SQL on keys (a bigint[] literal, like $1)
	 * inside the plugin's open transaction and records what it returned as
	 * mapped() would, in the same statement, on the server: the rows do not
	 * travel to the client and back. *summary, three columns: "target",
	 * a target table and the rows written to it, for each target table
	 * written; "missing", a key of keys the batch SQL wrote nothing for,
	 * NULL. A NULL target_id or target_table and a source_id not in keys
	 * fail the call as mapped() would; a target_table not among the
	 * targets and a NULL source_id fail the statement with a data error
	 * (SQLSTATE 22P02, 23502), so that the plugin isolates the batch and
	 * mapped() names the row; any statement the server fails fails the
	 * call with the server's error (the plugin then rolls back). Returns 1, having run nothing,
	 * when the batch SQL cannot be run this way (its columns are not
	 * integers and text, or it could not be described): the plugin then
	 * uses sql_query and mapped(). Free *summary with rows_free. */
	int (*run_mapped)(struct padctl_step *st, const struct padctl_backfill_def *def, const char *keys,
			  struct padctl_rows **summary);
};

/* "tx", version 1: a transaction in one round trip. exec_later is
 * sql_exec of a file (origin set) inside the transaction the plugin opened
 * with tx_begin (not in a dry run), where the host may hold the text back
 * and send it in the message that carries BEGIN, the history row, the
 * guard's check and COMMIT: a migration of several statements then costs
 * one round trip instead of one per statement. Its failure is reported by
 * the call that sends it (tx_commit, or an earlier sql_exec or sql_query)
 * exactly as sql_exec reports it (origin:line of the failing statement,
 * error_sqlstate), and tx_commit then rolls the transaction back. The host
 * runs the text at once, as sql_exec, when it cannot hold it back (outside
 * a transaction, in a dry run, COPY, texts over 1 MiB, ...). history_record
 * of a migration whose text waits measures its duration on the server. */
#define PADCTL_TX_V1 1
struct padctl_tx_v1 {
	uint32_t version; /* 1 */
	uint32_t size;
	int (*exec_later)(struct padctl_step *st, const char *sql, const char *origin);
};

/* "tx", version 2: version 1 and several transactional migrations in one
 * round trip. apply(st, first, count, &applied, ms) applies migrations
 * first .. first + count - 1 (migration_at's numbering) in order, each in
 * its own transaction exactly as a plugin would with tx_begin, exec_later
 * of its up.sql, history_record "applied" and tx_commit (the session reset,
 * lock_timeout, the history row, the protected-schema check per migration),
 * as many as the host sends in one message: it stops before a migration
 * that is skipped, not transactional or already recorded, after 64
 * migrations or about 1 MiB of SQL, and where a text cannot wait (see
 * version 1). *applied: how many committed (each recorded, as tx_commit
 * records it); ms[i] (count slots, the caller's): migration first + i's
 * duration as its history row records it, measured on the server (from the
 * end of the migration before it in the message, or from the message's
 * arrival). Returns 0 when the migrations it took all committed (*applied
 * may be less than count: call it again for the rest); -1 when migration
 * first + *applied failed, recorded as tx_commit would record it (its
 * origin:line, error_sqlstate), rolled back, and nothing after it ran; 1,
 * having run nothing, when migration first cannot go this way (apply it
 * with version 1's calls) or in a dry run. Refused once the run was
 * cancelled. */
#define PADCTL_TX_V2 2
struct padctl_tx_v2 {
	uint32_t version; /* 2 */
	uint32_t size;
	int (*exec_later)(struct padctl_step *st, const char *sql, const char *origin);
	int (*apply)(struct padctl_step *st, size_t first, size_t count, size_t *applied, double *ms);
};

/* The descriptor a plugin's entry function returns. */
struct padctl_plugin {
	uint32_t abi;           /* PADCTL_PLUGIN_ABI */
	uint32_t size;          /* sizeof(struct padctl_plugin) */
	const char *name;       /* unique; the name pipelines use */
	const char *version;
	int kind;               /* enum padctl_kind */
	const char *summary;    /* one line for `padctl plugins` */
	const struct padctl_option *options; /* NULL or ended by {NULL} */
	const char *const *phases;           /* accepted phases, NULL-ended; NULL: none */

	/* open prepares per-step state (optional). */
	int (*open)(const struct padctl_host *host, struct padctl_step *st, void **state);
	/* check validates without side effects, for plan (optional). */
	int (*check)(const struct padctl_host *host, struct padctl_step *st, void *state);
	/* run does the step's work (required). */
	int (*run)(const struct padctl_host *host, struct padctl_step *st, void *state);
	/* close frees per-step state (optional); called whenever open succeeded. */
	void (*close)(const struct padctl_host *host, struct padctl_step *st, void *state);
};

/* The one symbol a plugin exports. */
#define PADCTL_PLUGIN_ENTRY_SYMBOL "padctl_plugin_entry"
PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void);

#ifdef __cplusplus
}
#endif
#endif

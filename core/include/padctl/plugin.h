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
 * how much of a struct the other side knows.
 */
#ifndef PADCTL_PLUGIN_H
#define PADCTL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PADCTL_PLUGIN_ABI is the ABI version this header describes. */
#define PADCTL_PLUGIN_ABI 1

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
	/* dry_run is non-zero in a dry run: the connection is read-only and
	 * remote execution is refused, whatever the plugin does. */
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
	 * "schemas.owned" and "schemas.protected" (comma-separated), "target.dbname". */
	const char *(*config)(struct padctl_step *st, const char *key);

	/* sql_exec runs one or more statements on the step's target. origin
	 * names the file the SQL came from (or NULL): an error then names
	 * origin:line of the failing statement, the server's NOTICEs are shown
	 * as origin:line (unless -q), and a COPY ... FROM STDIN takes the data
	 * lines that follow it in sql, up to a line "\." (as psql reads a
	 * file). Without an origin, sql goes to the server as one message. */
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
	 * the row commits or rolls back with the migration. status is
	 * "applied" or "skipped"; reason may be NULL. */
	int (*history_record)(struct padctl_step *st, const struct padctl_migration *m,
			      const char *status, const char *reason, double duration_ms);
	/* read_file reads a file the project holds (a migration's verify.sql,
	 * say); free the text with free_text. */
	int (*read_file)(struct padctl_step *st, const char *path, char **text);
	void (*free_text)(char *text);

	/* tx_begin, tx_commit and tx_rollback bracket a transaction on the
	 * step's connection. The host sends BEGIN and the history row together
	 * with the neighbouring statements, so a migration costs no extra
	 * round trips; an error in them is reported by the call that sent them. */
	int (*tx_begin)(struct padctl_step *st);
	int (*tx_commit)(struct padctl_step *st);
	void (*tx_rollback)(struct padctl_step *st);
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

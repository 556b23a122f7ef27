/* fakehost: an in-memory struct padctl_host for plugin unit tests.
 *
 * Header-only (the test CMake builds only unit.c as support). A test fills a
 * struct fakehost, calls fakehost_init, and hands fakehost_step(fh) and
 * &fh->host to a plugin's callbacks. Log lines, progress, the first error and
 * its hint, and history records are captured for assertions. There is no
 * database here: sql_exec and sql_query fail with "no database in the fake
 * host" (anything that talks SQL is tested against a real PostgreSQL), and
 * read_file serves the texts of fh->files instead of the disk.
 * config_list splits fh->config's comma-separated value of the key; service
 * answers through fh->service (NULL: no service is offered).
 */
#ifndef PADCTL_FAKEHOST_H
#define PADCTL_FAKEHOST_H

#include <padctl/plugin.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct fakehost {
	struct padctl_host host;

	/* set by the test */
	const char *env;                 /* default "qa" */
	const char *target;              /* default "qa" */
	const char *phase;               /* NULL: none */
	const char *run_id;              /* default "run-1" */
	int dry_run;
	int cancelled;                   /* what host->cancelled() answers */
	const char *const *options;      /* name, value, name, value, ..., NULL */
	const char *const *config;       /* key, value, ..., NULL */
	const struct padctl_migration *migrations;
	size_t nmigrations;
	const char *const *files;        /* path, text, ..., NULL: what read_file finds */
	const void *(*service)(const char *name, uint32_t version); /* NULL: none offered */

	/* captured */
	struct buf log;                  /* "info: text\n" per line */
	char *error;                     /* the first fail() message */
	char *hint;                      /* its hint, or NULL */
	int nfail;                       /* fail() calls, including ignored ones */
	int nprogress;
	uint64_t progress_done, progress_total;
	struct buf history;              /* "version status reason duration\n" per record */
	int nsql;                        /* sql_exec / sql_query calls */
	int nservice; /* service() calls */

	/* config_list's answers, kept until fakehost_release */
	char **lists[16];
	size_t nlists;
};

static inline struct fakehost *fakehost_of(struct padctl_step *st)
{
	return (struct fakehost *)(void *)st;
}

/* fakehost_step returns the step handle to pass to the plugin. */
static inline struct padctl_step *fakehost_step(struct fakehost *fh)
{
	return (struct padctl_step *)(void *)fh;
}

static inline const char *fakehost_lookup(const char *const *kv, const char *key)
{
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
		if (strcmp(kv[i], key) == 0)
			return kv[i + 1];
	return NULL;
}

static inline const char *fakehost_env(struct padctl_step *st)
{
	return fakehost_of(st)->env ? fakehost_of(st)->env : "qa";
}

static inline const char *fakehost_target(struct padctl_step *st)
{
	return fakehost_of(st)->target ? fakehost_of(st)->target : "qa";
}

static inline const char *fakehost_phase(struct padctl_step *st)
{
	return fakehost_of(st)->phase;
}

static inline const char *fakehost_run_id(struct padctl_step *st)
{
	return fakehost_of(st)->run_id ? fakehost_of(st)->run_id : "run-1";
}

static inline int fakehost_dry_run(struct padctl_step *st)
{
	return fakehost_of(st)->dry_run;
}

static inline void fakehost_log(struct padctl_step *st, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void fakehost_log(struct padctl_step *st, int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct fakehost *fh = fakehost_of(st);
	va_list ap;
	buf_addf(&fh->log, "%s: ", level >= 0 && level <= 3 ? names[level] : "?");
	va_start(ap, fmt);
	buf_vaddf(&fh->log, fmt, ap);
	va_end(ap);
	buf_addch(&fh->log, '\n');
}

static inline void fakehost_progress(struct padctl_step *st, uint64_t done, uint64_t total, const char *label)
{
	struct fakehost *fh = fakehost_of(st);
	(void)label;
	fh->nprogress++;
	fh->progress_done = done;
	fh->progress_total = total;
}

static inline int fakehost_fail(struct padctl_step *st, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int fakehost_fail(struct padctl_step *st, const char *hint, const char *fmt, ...)
{
	struct fakehost *fh = fakehost_of(st);
	fh->nfail++;
	if (fh->error)
		return -1;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	fh->error = buf_detach(&b);
	fh->hint = hint ? xstrdup(hint) : NULL;
	return -1;
}

static inline const char *fakehost_option(struct padctl_step *st, const char *name)
{
	return fakehost_lookup(fakehost_of(st)->options, name);
}

static inline const char *fakehost_config(struct padctl_step *st, const char *key)
{
	return fakehost_lookup(fakehost_of(st)->config, key);
}

static inline int fakehost_sql_exec(struct padctl_step *st, const char *sql, const char *origin)
{
	(void)sql;
	(void)origin;
	fakehost_of(st)->nsql++;
	return fakehost_fail(st, "test SQL against the test cluster", "no database in the fake host");
}

static inline int fakehost_sql_query(struct padctl_step *st, const char *sql, int nparams,
				     const char *const *params, struct padctl_rows **rows)
{
	(void)sql;
	(void)nparams;
	(void)params;
	*rows = NULL;
	fakehost_of(st)->nsql++;
	return fakehost_fail(st, "test SQL against the test cluster", "no database in the fake host");
}

static inline int fakehost_rows_count(const struct padctl_rows *rows)
{
	(void)rows;
	return 0;
}

static inline const char *fakehost_rows_value(const struct padctl_rows *rows, int r, int c)
{
	(void)rows;
	(void)r;
	(void)c;
	return NULL;
}

static inline void fakehost_rows_free(struct padctl_rows *rows)
{
	(void)rows;
}

static inline size_t fakehost_migration_count(struct padctl_step *st)
{
	return fakehost_of(st)->nmigrations;
}

static inline const struct padctl_migration *fakehost_migration_at(struct padctl_step *st, size_t i)
{
	struct fakehost *fh = fakehost_of(st);
	return i < fh->nmigrations ? &fh->migrations[i] : NULL;
}

static inline int fakehost_history_record(struct padctl_step *st, const struct padctl_migration *m,
					  const char *status, const char *reason, double duration_ms)
{
	struct fakehost *fh = fakehost_of(st);
	if (strcmp(status, "applied") != 0 && strcmp(status, "skipped") != 0)
		return fakehost_fail(st, "use \"applied\" or \"skipped\"", "unknown history status \"%s\"", status);
	buf_addf(&fh->history, "%s %s %s %.0f\n", m->version, status, reason ? reason : "-", duration_ms);
	return 0;
}

static inline int fakehost_read_file(struct padctl_step *st, const char *path, char **text)
{
	const char *t = fakehost_lookup(fakehost_of(st)->files, path);
	*text = NULL;
	if (!t)
		return fakehost_fail(st, "give the fake host the file in fh->files",
				     "cannot read \"%s\": no such file", path);
	*text = xstrdup(t);
	return 0;
}

static inline void fakehost_free_text(char *text)
{
	free(text);
}

static inline int fakehost_tx_begin(struct padctl_step *st)
{
	buf_adds(&fakehost_of(st)->history, "BEGIN\n");
	return 0;
}

static inline int fakehost_tx_commit(struct padctl_step *st)
{
	buf_adds(&fakehost_of(st)->history, "COMMIT\n");
	return 0;
}

static inline void fakehost_tx_rollback(struct padctl_step *st)
{
	buf_adds(&fakehost_of(st)->history, "ROLLBACK\n");
}

static inline int fakehost_cancelled(struct padctl_step *st)
{
	return fakehost_of(st)->cancelled;
}

static inline int fakehost_sql_indexes(struct padctl_step *st, const char *sql, struct padctl_rows **rows)
{
	(void)sql;
	*rows = NULL;
	return fakehost_fail(st, "test index handling against the test cluster", "no parser in the fake host");
}

static inline const char *fakehost_error_sqlstate(struct padctl_step *st)
{
	(void)st;
	return NULL;
}

static inline void fakehost_error_clear(struct padctl_step *st)
{
	struct fakehost *fh = fakehost_of(st);
	free(fh->error);
	free(fh->hint);
	fh->error = fh->hint = NULL;
}

static inline long fakehost_lock_timeout_ms(struct padctl_step *st)
{
	(void)st;
	return 5000;
}

static inline const char *const *fakehost_config_list(struct padctl_step *st, const char *key, size_t *n)
{
	struct fakehost *fh = fakehost_of(st);
	const char *v = fakehost_lookup(fh->config, key);
	*n = 0;
	if (!v || fh->nlists == sizeof fh->lists / sizeof fh->lists[0])
		return NULL;
	size_t count = *v ? 1 : 0;
	for (const char *p = v; *p; p++)
		count += *p == ',';
	char **list = xcalloc(count + 1, sizeof *list);
	const char *p = v;
	for (size_t i = 0; i < count; i++) {
		size_t len = strcspn(p, ",");
		list[i] = xmalloc(len + 1);
		memcpy(list[i], p, len);
		list[i][len] = '\0';
		p += len + (p[len] == ',');
	}
	fh->lists[fh->nlists++] = list;
	*n = count;
	return (const char *const *)list;
}

static inline const void *fakehost_service(struct padctl_step *st, const char *name, uint32_t version)
{
	struct fakehost *fh = fakehost_of(st);
	fh->nservice++;
	return fh->service ? fh->service(name, version) : NULL;
}

/* A member appended to struct padctl_host must be implemented here too. */
_Static_assert(offsetof(struct padctl_host, service) + sizeof(void (*)(void)) == sizeof(struct padctl_host),
	       "struct padctl_host grew: implement the new members in tests/unit/fakehost.h");

/* fakehost_init fills fh->host and clears what is captured; set the inputs
 * (env, options, ...) before or after, they are read at call time. */
static inline void fakehost_init(struct fakehost *fh)
{
	struct padctl_host *h = &fh->host;
	memset(h, 0, sizeof *h);
	h->abi = PADCTL_PLUGIN_ABI;
	h->size = sizeof *h;
	h->env = fakehost_env;
	h->target = fakehost_target;
	h->phase = fakehost_phase;
	h->run_id = fakehost_run_id;
	h->dry_run = fakehost_dry_run;
	h->log = fakehost_log;
	h->progress = fakehost_progress;
	h->fail = fakehost_fail;
	h->option = fakehost_option;
	h->config = fakehost_config;
	h->sql_exec = fakehost_sql_exec;
	h->sql_query = fakehost_sql_query;
	h->rows_count = fakehost_rows_count;
	h->rows_value = fakehost_rows_value;
	h->rows_free = fakehost_rows_free;
	h->migration_count = fakehost_migration_count;
	h->migration_at = fakehost_migration_at;
	h->history_record = fakehost_history_record;
	h->read_file = fakehost_read_file;
	h->free_text = fakehost_free_text;
	h->tx_begin = fakehost_tx_begin;
	h->tx_commit = fakehost_tx_commit;
	h->tx_rollback = fakehost_tx_rollback;
	h->cancelled = fakehost_cancelled;
	h->sql_indexes = fakehost_sql_indexes;
	h->error_sqlstate = fakehost_error_sqlstate;
	h->error_clear = fakehost_error_clear;
	h->lock_timeout_ms = fakehost_lock_timeout_ms;
	h->config_list = fakehost_config_list;
	h->service = fakehost_service;
	buf_init(&fh->log);
	buf_init(&fh->history);
	fh->error = fh->hint = NULL;
	fh->nfail = fh->nprogress = fh->nsql = fh->nservice = 0;
	fh->nlists = 0;
	fh->progress_done = fh->progress_total = 0;
}

/* fakehost_release frees what the fake host captured. */
static inline void fakehost_release(struct fakehost *fh)
{
	buf_release(&fh->log);
	buf_release(&fh->history);
	free(fh->error);
	free(fh->hint);
	fh->error = fh->hint = NULL;
	for (size_t i = 0; i < fh->nlists; i++) {
		for (size_t k = 0; fh->lists[i][k]; k++)
			free(fh->lists[i][k]);
		free(fh->lists[i]);
	}
	fh->nlists = 0;
}

#endif

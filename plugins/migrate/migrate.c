/* migrate: applies the pending migrations the host hands over, in order.
 * A transactional migration runs in one transaction together with its history
 * row, so a crash leaves it fully applied or not at all. A non-transactional
 * one (meta.yml `transactional: false`, e.g. CREATE INDEX CONCURRENTLY) runs
 * alone, statement by statement. Consecutive transactional migrations go to
 * the host together ("tx" service, version 2), which sends several of them,
 * each its own transaction, in one message; a host without it gets them one
 * by one.
 *
 * Indexes: only the indexes a migration's own CREATE INDEX statements name are
 * ever touched, only in owned schemas, and never one another session is
 * building. Before a non-transactional migration an invalid one of them (a
 * killed earlier build) is dropped so the migration builds it again; after
 * the migration every one of them must be valid before the history row is
 * written; when it fails, the invalid ones its concurrent builds left are
 * dropped and reported.
 *
 * Locks: every migration runs with lock_timeout (migrations.lock_timeout), so
 * a migration waiting behind a long transaction never queues the
 * application's queries behind it for long; a migration that timed out on a
 * lock is retried a few times, then fails naming the sessions holding locks. */
#include <padctl/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOCK_TRIES 3

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* the index a CREATE INDEX statement names, found on the server: it lives in
 * its table's schema ($1 NULL: the table as the search_path finds it).
 * Columns: qualified name, schema, valid, on the named table, being built by
 * another session (a progress row we cannot read counts as one: better to
 * leave an index than to drop someone's build). */
static const char resolve_sql[] =
	"WITH t AS (SELECT CASE WHEN $1::text IS NULL THEN to_regclass(quote_ident($2)) "
	"ELSE to_regclass(quote_ident($1) || '.' || quote_ident($2)) END AS oid) "
	"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, i.indisvalid, "
	"i.indrelid = t.oid, "
	"EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.pid <> pg_backend_pid() AND p.datname = current_database() "
	"AND (p.index_relid = c.oid OR p.index_relid IS NULL)) "
	"FROM t JOIN pg_class tc ON tc.oid = t.oid "
	"JOIN pg_class c ON c.relnamespace = tc.relnamespace AND c.relname = $3 "
	"JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_namespace n ON n.oid = c.relnamespace";

/* sessions holding relation locks in this database: once the lock wait has
 * timed out nobody is waiting any more, so pg_blocking_pids cannot say; the
 * holders of locks on relations the migration's text mentions ($1) come
 * first, then the strongest locks */
static const char blockers_sql[] =
	"SELECT a.pid::text, coalesce(a.usename::text, '?'), coalesce(a.application_name, ''), "
	"coalesce(a.state, '?'), coalesce(to_char(a.query_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '?'), l.mode, "
	"coalesce(l.relation::regclass::text, '?') "
	"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid LEFT JOIN pg_class c ON c.oid = l.relation "
	"WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid() "
	"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
	"ORDER BY coalesce(strpos(lower($1), lower(c.relname)) > 0, false) DESC, "
	"array_position(ARRAY['AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', "
	"'ShareLock', 'ShareUpdateExclusiveLock', 'RowExclusiveLock', 'RowShareLock', 'AccessShareLock'], "
	"l.mode::text), a.query_start LIMIT 3";

struct ctx {
	const struct padctl_host *h;
	struct padctl_step *st;
	char *owned;              /* ",a,b," : schemas.owned */
	int has_index_api;        /* the host offers sql_indexes (a newer host) */
	int has_lock_api;
	const struct padctl_tx_v1 *tx; /* the "tx" service: a migration's transaction in one round trip */
	const struct padctl_tx_v2 *tx2; /* its version 2: several migrations in one round trip */
	double *ms;                     /* tx2's durations, one per migration */
};

static int owned(const struct ctx *c, const char *schema)
{
	size_t n = strlen(schema);
	for (const char *p = c->owned; p && (p = strstr(p, schema)); p++)
		if (p > c->owned && p[-1] == ',' && p[n] == ',')
			return 1;
	return 0;
}

enum { FIX_BEFORE, FIX_FAILED, VERIFY };

/* indexes handles the indexes the migration names: FIX_BEFORE drops invalid
 * ones (all CREATE INDEX statements), FIX_FAILED drops invalid ones its
 * concurrent builds left, VERIFY fails unless every one is valid. */
static int indexes(struct ctx *c, const struct padctl_migration *m, const char *label, int what)
{
	const struct padctl_host *h = c->h;
	struct padctl_rows *named = NULL;
	if (!c->has_index_api)
		return 0;
	if (h->sql_indexes(c->st, m->up_sql, &named))
		return -1;
	int rc = 0;
	for (int i = 0; i < h->rows_count(named) && rc == 0; i++) {
		const char *p[3] = { h->rows_value(named, i, 0), h->rows_value(named, i, 1), h->rows_value(named, i, 2) };
		int concurrent = strcmp(h->rows_value(named, i, 3), "t") == 0;
		if (!p[2] && what == FIX_FAILED && concurrent)
			h->log(c->st, PADCTL_LOG_WARN,
			       "the CREATE INDEX CONCURRENTLY at %s:%s names no index: an invalid index its build may "
			       "have left is not dropped (name the index so padctl can tell it is this migration's)",
			       m->up_path, h->rows_value(named, i, 5));
		if (!p[2] || (what == FIX_FAILED && !concurrent))
			continue;
		struct padctl_rows *found = NULL;
		if (h->sql_query(c->st, resolve_sql, 3, p, &found)) {
			rc = -1;
			break;
		}
		if (h->rows_count(found) == 1 && strcmp(h->rows_value(found, 0, 2), "f") == 0) {
			const char *idx = h->rows_value(found, 0, 0), *schema = h->rows_value(found, 0, 1);
			int on_table = strcmp(h->rows_value(found, 0, 3), "t") == 0;
			int building = strcmp(h->rows_value(found, 0, 4), "t") == 0;
			const char *line = h->rows_value(named, i, 5);
			if (what == VERIFY) {
				rc = h->fail(c->st,
					     building ? "another session is building it: deploy again once it is done"
						      : "drop it (DROP INDEX CONCURRENTLY) or fix what made its build fail, "
							"then deploy again",
					     "migration %s: index %s (%s:%s) is not valid, so the migration is not "
					     "recorded as applied", label, idx, m->up_path, line);
			} else if (!on_table || !owned(c, schema) || building) {
				h->log(c->st, PADCTL_LOG_WARN, "index %s named at %s:%s is invalid; left in place: %s",
				       idx, m->up_path, line,
				       building ? "another session is building it"
				       : !on_table ? "it belongs to another table than the statement names"
						   : "its schema is not in schemas.owned");
			} else {
				size_t n = strlen(idx) + 48;
				char *sql = malloc(n);
				if (!sql) {
					rc = h->fail(c->st, NULL, "out of memory");
				} else {
					h->log(c->st, PADCTL_LOG_WARN, "index %s named at %s:%s is invalid (%s); dropping it",
					       idx, m->up_path, line,
					       what == FIX_BEFORE ? "left by an earlier build" : "left by this failure");
					snprintf(sql, n, "DROP INDEX CONCURRENTLY IF EXISTS %s", idx);
					if (h->sql_exec(c->st, sql, NULL) == 0)
						h->log(c->st, PADCTL_LOG_INFO, "dropped invalid index %s", idx);
					else if (what == FIX_BEFORE)
						rc = -1;
					else
						h->log(c->st, PADCTL_LOG_WARN, "could not drop invalid index %s; the next deploy "
						       "drops it before it runs the migration again", idx);
					free(sql);
				}
			}
		}
		h->rows_free(found);
	}
	h->rows_free(named);
	return rc;
}

static int set_lock_timeout(struct ctx *c, int local)
{
	if (!c->has_lock_api)
		return 0;
	char sql[80];
	snprintf(sql, sizeof sql, "SET %slock_timeout = %ld", local ? "LOCAL " : "", c->h->lock_timeout_ms(c->st));
	return c->h->sql_exec(c->st, sql, NULL);
}

static int apply_transactional(struct ctx *c, const struct padctl_migration *m, double t0)
{
	const struct padctl_host *h = c->h;
	struct padctl_step *st = c->st;
	/* tx_begin's session reset sets lock_timeout (when not 0) in the message that carries BEGIN: a
	 * SET LOCAL of the same value would cost a round trip per migration. With the "tx" service the
	 * statements wait for that message too, and so do the history row, the guard's check and
	 * COMMIT: one round trip, and an error of the text is reported by tx_commit. */
	if (h->tx_begin(st) || (c->has_lock_api && h->lock_timeout_ms(st) == 0 && set_lock_timeout(c, 1)) ||
	    (c->tx ? c->tx->exec_later(st, m->up_sql, m->up_path) : h->sql_exec(st, m->up_sql, m->up_path)) ||
	    h->history_record(st, m, "applied", NULL, now_ms() - t0) || h->tx_commit(st)) {
		h->tx_rollback(st);
		return -1;
	}
	return 0;
}

static int apply_alone(struct ctx *c, const struct padctl_migration *m, const char *label, double t0)
{
	const struct padctl_host *h = c->h;
	struct padctl_step *st = c->st;
	if (set_lock_timeout(c, 0))
		return -1;
	int rc = indexes(c, m, label, FIX_BEFORE);
	if (!rc) {
		rc = h->sql_exec(st, m->up_sql, m->up_path);
		if (rc)
			indexes(c, m, label, FIX_FAILED);
		else
			rc = indexes(c, m, label, VERIFY);
	}
	if (!rc)
		rc = h->history_record(st, m, "applied", NULL, now_ms() - t0);
	if (c->has_lock_api && h->sql_exec(st, "RESET lock_timeout", NULL))
		rc = -1;
	return rc;
}

static int lock_timed_out(const struct ctx *c)
{
	const char *state = c->has_lock_api ? c->h->error_sqlstate(c->st) : NULL;
	return state && strcmp(state, "55P03") == 0;
}

/* name_blockers adds the sessions holding locks to the recorded error */
static void name_blockers(struct ctx *c, const struct padctl_migration *m)
{
	const struct padctl_host *h = c->h;
	struct padctl_rows *r = NULL;
	/* a huge data migration is not worth sending back for a hint */
	const char *text[1] = { strlen(m->up_sql) < 1024 * 1024 ? m->up_sql : "" };
	if (h->sql_query(c->st, blockers_sql, 1, text, &r))
		return;
	if (h->rows_count(r) > 0)
		h->fail(c->st, NULL, "sessions holding locks in the database when the last try gave up, those on "
				     "relations the migration mentions first (the blocker is most likely among them):");
	for (int i = 0; i < h->rows_count(r); i++)
		h->fail(c->st, NULL,
			"lock holder: pid %s (user %s, application_name \"%s\", state %s, query started %s) "
			"holds %s on %s",
			h->rows_value(r, i, 0), h->rows_value(r, i, 1), h->rows_value(r, i, 2), h->rows_value(r, i, 3),
			h->rows_value(r, i, 4), h->rows_value(r, i, 5), h->rows_value(r, i, 6));
	if (h->rows_count(r) == 0)
		h->fail(c->st, NULL, "no session holds a lock in this database any more");
	h->rows_free(r);
}

/* wait_to_retry is what follows a lock timeout of migration m (number i of n) on its attempt'th
 * try: a pause before the next try (0), or, after the last, the sessions holding locks named and
 * the failure recorded (-1) */
static int wait_to_retry(struct ctx *c, const struct padctl_migration *m, const char *label, size_t i, size_t n,
			 int attempt)
{
	const struct padctl_host *h = c->h;
	long ms = h->lock_timeout_ms(c->st);
	if (attempt == LOCK_TRIES) {
		name_blockers(c, m);
		h->fail(c->st, NULL, "migration %s waited %d times for a lock, %ld ms each (migrations.lock_timeout)",
			label, LOCK_TRIES, ms);
		return -1;
	}
	long backoff = 500L * attempt;
	h->log(c->st, PADCTL_LOG_WARN,
	       "[%zu/%zu] %s: could not get a lock within %ld ms (attempt %d of %d); retrying in %ld ms", i + 1, n,
	       label, ms, attempt, LOCK_TRIES, backoff);
	h->error_clear(c->st);
	sleep_ms(backoff);
	return 0;
}

static int apply(struct ctx *c, const struct padctl_migration *m, const char *label, size_t i, size_t n)
{
	const struct padctl_host *h = c->h;
	for (int attempt = 1;; attempt++) {
		double t0 = now_ms();
		int rc = m->transactional ? apply_transactional(c, m, t0) : apply_alone(c, m, label, t0);
		if (rc == 0) {
			h->log(c->st, PADCTL_LOG_INFO, "[%zu/%zu] applied %s in %.0f ms", i + 1, n, label, now_ms() - t0);
			return 0;
		}
		if (!lock_timed_out(c) || wait_to_retry(c, m, label, i, n, attempt))
			return -1;
	}
}

/* apply_many applies migrations i, i + 1, ... as far as the host takes them into one message (the
 * "tx" service, version 2), retrying the first one not applied after a lock timeout as apply does.
 * *done: how many were applied. 1: the host cannot take migration i (apply it alone). */
static int apply_many(struct ctx *c, size_t i, size_t n, size_t *done)
{
	const struct padctl_host *h = c->h;
	*done = 0;
	for (int attempt = 1;; attempt++) {
		size_t got = 0, at = i + *done;
		int rc = c->tx2->apply(c->st, at, n - at, &got, c->ms);
		for (size_t j = 0; j < got; j++) {
			const struct padctl_migration *m = h->migration_at(c->st, at + j);
			char label[160];
			snprintf(label, sizeof label, "%s_%s", m->version, m->name);
			h->progress(c->st, at + j, n, label);
			h->log(c->st, PADCTL_LOG_INFO, "[%zu/%zu] applied %s in %.0f ms", at + j + 1, n, label, c->ms[j]);
		}
		*done += got;
		if (got > 0)
			attempt = 1; /* the tries count for the migration that waited */
		if (rc > 0 && *done > 0)
			return 0; /* the rest is the caller's to try again */
		if (rc >= 0 || !lock_timed_out(c))
			return rc;
		const struct padctl_migration *m = h->migration_at(c->st, i + *done);
		char label[160];
		snprintf(label, sizeof label, "%s_%s", m->version, m->name);
		if (wait_to_retry(c, m, label, i + *done, n, attempt))
			return -1;
	}
}

static int migrate_run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	size_t n = h->migration_count(st);
	int dry = h->dry_run(st);
	if (n == 0) {
		h->log(st, PADCTL_LOG_INFO, "nothing to migrate: the target is up to date");
		return 0;
	}
	struct ctx c = { h, st, NULL, 0, 0, NULL, NULL, NULL };
	c.has_index_api = h->size >= offsetof(struct padctl_host, sql_indexes) + sizeof h->sql_indexes;
	c.has_lock_api = h->size >= offsetof(struct padctl_host, lock_timeout_ms) + sizeof h->lock_timeout_ms;
	c.tx = h->service(st, "tx", PADCTL_TX_V1);
	if (c.tx && !PADCTL_SERVICE_HAS(c.tx, struct padctl_tx_v1, exec_later))
		c.tx = NULL;
	/* a host without version 2 (older), or a dry run: one migration at a time */
	c.tx2 = dry ? NULL : h->service(st, "tx", PADCTL_TX_V2);
	if (c.tx2 && !PADCTL_SERVICE_HAS(c.tx2, struct padctl_tx_v2, apply))
		c.tx2 = NULL;
	if (c.tx2 && !(c.ms = malloc(n * sizeof *c.ms)))
		return h->fail(st, NULL, "out of memory");
	const char *own = h->config(st, "schemas.owned");
	size_t olen = own ? strlen(own) : 0;
	c.owned = malloc(olen + 3);
	if (!c.owned) {
		free(c.ms);
		return h->fail(st, NULL, "out of memory");
	}
	snprintf(c.owned, olen + 3, ",%s,", own ? own : "");
	h->log(st, PADCTL_LOG_INFO, "%zu migration%s to %s", n, n == 1 ? "" : "s", dry ? "consider (dry run)" : "apply");
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct padctl_migration *m = h->migration_at(st, i);
		char label[160];
		snprintf(label, sizeof label, "%s_%s", m->version, m->name);
		h->progress(st, i, n, label);
		if (m->skip_reason) {
			h->log(st, PADCTL_LOG_INFO, "[%zu/%zu] %s: %sskipped in this env: %s", i + 1, n, label,
			       dry ? "would be recorded as " : "", m->skip_reason);
			if (!dry && h->history_record(st, m, "skipped", m->skip_reason, 0))
				rc = -1;
			continue;
		}
		if (dry) {
			h->log(st, PADCTL_LOG_INFO, "[%zu/%zu] %s would run%s:\n%s", i + 1, n, label,
			       m->transactional ? " in a transaction" : " outside a transaction (transactional: false)",
			       m->up_sql);
			continue;
		}
		size_t done = 0;
		int many = m->transactional && c.tx2 ? apply_many(&c, i, n, &done) : 1;
		if (many == 0) {
			i += done - 1; /* migrations i .. i + done - 1 are applied: the loop goes on with the next */
			continue;
		}
		if (many < 0 && done > 0) {
			/* the migrations before the failing one are applied */
			i += done;
			m = h->migration_at(st, i);
			snprintf(label, sizeof label, "%s_%s", m->version, m->name);
		}
		if (many < 0 || (many > 0 && apply(&c, m, label, i, n)))
			rc = h->fail(st,
				     lock_timed_out(&c)
					     ? "deploy again when the blocking session is done, or end it "
					       "(pg_terminate_backend) or raise migrations.lock_timeout"
				     : m->transactional
					     ? "the migration was rolled back: fix it and deploy again"
					     : "statements before the failing one stayed applied: make the migration "
					       "idempotent (IF NOT EXISTS) and deploy again",
				     "migration %s did not apply", label);
	}
	free(c.owned);
	free(c.ms);
	if (rc == 0)
		h->progress(st, n, n, "done");
	return rc;
}

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "migrate",
	.version = "1.0.0",
	.kind = PADCTL_KIND_MIGRATE,
	.summary = "apply pending versioned SQL migrations, each atomically with its history row",
	.options = NULL,
	.phases = NULL,
	.run = migrate_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

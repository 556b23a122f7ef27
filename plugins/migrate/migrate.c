/* migrate: applies the pending migrations the host hands over, in order.
 * A transactional migration runs in one transaction together with its history
 * row, so a crash leaves it fully applied or not at all. A non-transactional
 * one (meta.yml `transactional: false`, e.g. CREATE INDEX CONCURRENTLY) runs
 * alone, statement by statement; an index its failure leaves invalid is
 * reported and dropped. */
#include <padctl/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const char invalid_indexes_sql[] =
	"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i "
	"JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE NOT i.indisvalid ORDER BY 1";

static int list_contains(const struct padctl_host *h, const struct padctl_rows *rows, const char *name)
{
	for (int i = 0; rows && i < h->rows_count(rows); i++)
		if (strcmp(h->rows_value(rows, i, 0), name) == 0)
			return 1;
	return 0;
}

/* drop what a failed concurrent build left behind: invalid indexes that were not there before */
static void drop_new_invalid(const struct padctl_host *h, struct padctl_step *st, const struct padctl_rows *before)
{
	struct padctl_rows *after = NULL;
	if (h->sql_query(st, invalid_indexes_sql, 0, NULL, &after))
		return;
	for (int i = 0; i < h->rows_count(after); i++) {
		const char *idx = h->rows_value(after, i, 0);
		if (list_contains(h, before, idx))
			continue;
		h->log(st, PADCTL_LOG_WARN, "index %s was left invalid by the failed migration; dropping it", idx);
		size_t n = strlen(idx) + 64;
		char *sql = malloc(n);
		if (!sql)
			break;
		snprintf(sql, n, "DROP INDEX CONCURRENTLY IF EXISTS %s", idx);
		if (h->sql_exec(st, sql, NULL) == 0)
			h->log(st, PADCTL_LOG_INFO, "dropped invalid index %s", idx);
		free(sql);
	}
	h->rows_free(after);
}

static int apply_transactional(const struct padctl_host *h, struct padctl_step *st, const struct padctl_migration *m,
			       double t0)
{
	if (h->tx_begin(st) || h->sql_exec(st, m->up_sql, m->up_path) ||
	    h->history_record(st, m, "applied", NULL, now_ms() - t0) || h->tx_commit(st)) {
		h->tx_rollback(st);
		return -1;
	}
	return 0;
}

static int apply_alone(const struct padctl_host *h, struct padctl_step *st, const struct padctl_migration *m,
		       double t0)
{
	struct padctl_rows *before = NULL;
	if (h->sql_query(st, invalid_indexes_sql, 0, NULL, &before))
		return -1;
	for (int i = 0; i < h->rows_count(before); i++)
		h->log(st, PADCTL_LOG_WARN, "index %s is invalid already (left by an earlier failure?)",
		       h->rows_value(before, i, 0));
	int rc = h->sql_exec(st, m->up_sql, m->up_path);
	if (rc)
		drop_new_invalid(h, st, before);
	else
		rc = h->history_record(st, m, "applied", NULL, now_ms() - t0);
	h->rows_free(before);
	return rc;
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
	h->log(st, PADCTL_LOG_INFO, "%zu migration%s to %s", n, n == 1 ? "" : "s", dry ? "consider (dry run)" : "apply");
	for (size_t i = 0; i < n; i++) {
		const struct padctl_migration *m = h->migration_at(st, i);
		char label[160];
		snprintf(label, sizeof label, "%s_%s", m->version, m->name);
		h->progress(st, i, n, label);
		if (m->skip_reason) {
			h->log(st, PADCTL_LOG_INFO, "[%zu/%zu] %s: %sskipped in this env: %s", i + 1, n, label,
			       dry ? "would be recorded as " : "", m->skip_reason);
			if (!dry && h->history_record(st, m, "skipped", m->skip_reason, 0))
				return -1;
			continue;
		}
		if (dry) {
			h->log(st, PADCTL_LOG_INFO, "[%zu/%zu] %s would run%s:\n%s", i + 1, n, label,
			       m->transactional ? " in a transaction" : " outside a transaction (transactional: false)",
			       m->up_sql);
			continue;
		}
		double t0 = now_ms();
		int rc = m->transactional ? apply_transactional(h, st, m, t0) : apply_alone(h, st, m, t0);
		if (rc)
			return h->fail(st, m->transactional ? "the migration was rolled back: fix it and deploy again"
							    : "statements before the failing one stayed applied: make the "
							      "migration idempotent (IF NOT EXISTS) and deploy again",
				       "migration %s did not apply", label);
		h->log(st, PADCTL_LOG_INFO, "[%zu/%zu] applied %s in %.0f ms", i + 1, n, label, now_ms() - t0);
	}
	h->progress(st, n, n, "done");
	return 0;
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

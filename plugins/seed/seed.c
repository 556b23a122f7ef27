/* seed: applies the env's seed sets (docs/plugins/seed.md).
 *
 * Each set is applied in one transaction: its pending files in file-name
 * order, each with its ledger record, so a failing file leaves neither its
 * set's data nor any record of it behind. A file whose checksum the target's
 * ledger already holds is not run again; a changed file is (seeds are
 * written to be idempotent). The host finds the files, keeps them inside the
 * project and says what the ledger holds (the "seeds" service); this step
 * only decides what to run. Each file that would run is first read by
 * lint for the protected schemas (the "lint" service): a seed that writes
 * one is refused before anything of its set runs, in a dry run too. With
 * the option teardown, the set's teardown.sql runs instead and the set's
 * records are forgotten, in one transaction. */
#include <padctl/plugin.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct seed_ctx {
	const struct padctl_host *h;
	struct padctl_step *st;
	const struct padctl_seeds_v1 *seeds;
	const struct padctl_ledger_v1 *ledger;
	const struct padctl_lint_v1 *lint;
};

static int pending(const struct padctl_host *h, const struct padctl_rows *rows, int r)
{
	const char *have = h->rows_value(rows, r, 3);
	return !have || strcmp(have, h->rows_value(rows, r, 2)) != 0;
}

/* read_pending reads every pending file of set into texts (one per row,
 * NULL for the others) and has lint read each for writes to the protected
 * schemas, before any of them runs: 0 when none writes one. What runs is
 * what lint read: the files are not read again. */
static int read_pending(struct seed_ctx *c, const char *set, const struct padctl_rows *rows, char **texts)
{
	const struct padctl_host *h = c->h;
	int n = h->rows_count(rows), rc = 0;
	for (int r = 0; r < n && !rc; r++) {
		if (!pending(h, rows, r))
			continue;
		rc = c->seeds->read(c->st, set, h->rows_value(rows, r, 0), h->rows_value(rows, r, 2), &texts[r]);
		if (!rc)
			rc = c->lint->protected_sql(c->st, h->rows_value(rows, r, 1), texts[r], strlen(texts[r]));
	}
	return rc;
}

static void free_texts(const struct padctl_host *h, char **texts, int n)
{
	for (int r = 0; texts && r < n; r++)
		h->free_text(texts[r]);
	free(texts);
}

/* apply_set runs the pending files of set in one transaction */
static int apply_set(struct seed_ctx *c, const char *set)
{
	const struct padctl_host *h = c->h;
	struct padctl_step *st = c->st;
	struct padctl_rows *rows = NULL;
	if (c->seeds->files(st, set, &rows))
		return -1;
	int n = h->rows_count(rows), todo = 0;
	for (int r = 0; r < n; r++)
		todo += pending(h, rows, r);
	if (!todo) {
		h->log(st, PADCTL_LOG_INFO, "seed set %s: %d file%s, all applied already", set, n, n == 1 ? "" : "s");
		h->rows_free(rows);
		return 0;
	}
	char **texts = calloc((size_t)n, sizeof *texts);
	if (!texts) {
		h->rows_free(rows);
		return h->fail(st, NULL, "out of memory reading seed set %s", set);
	}
	if (read_pending(c, set, rows, texts)) {
		free_texts(h, texts, n);
		h->rows_free(rows);
		return -1;
	}
	if (h->dry_run(st)) {
		for (int r = 0; r < n; r++)
			if (pending(h, rows, r))
				h->log(st, PADCTL_LOG_INFO, "seed set %s: would apply %s (%s)", set,
				       h->rows_value(rows, r, 1),
				       h->rows_value(rows, r, 3) ? "changed since it was applied" : "new");
		free_texts(h, texts, n);
		h->rows_free(rows);
		return 0;
	}
	int rc = h->tx_begin(st), done = 0;
	for (int r = 0; r < n && !rc; r++) {
		if (!pending(h, rows, r))
			continue;
		if (h->cancelled(st)) {
			rc = h->fail(st, "seed again to apply the set", "stopped before seed file %s",
				     h->rows_value(rows, r, 1));
			break;
		}
		const char *name = h->rows_value(rows, r, 0), *origin = h->rows_value(rows, r, 1);
		const char *sha = h->rows_value(rows, r, 2);
		rc = h->sql_exec(st, texts[r], origin);
		if (!rc)
			rc = c->ledger->seed_applied(st, set, name, sha);
		done += !rc;
	}
	if (!rc)
		rc = h->tx_commit(st);
	else
		h->tx_rollback(st);
	if (rc) {
		h->log(st, PADCTL_LOG_WARN,
		       "seed set %s was rolled back as a whole: none of its %d pending file%s is "
		       "applied or recorded",
		       set, todo, todo == 1 ? "" : "s");
	} else {
		for (int r = 0; r < n; r++)
			if (pending(h, rows, r))
				h->log(st, PADCTL_LOG_INFO, "seed set %s: applied %s", set, h->rows_value(rows, r, 1));
		h->log(st, PADCTL_LOG_INFO, "seed set %s: %d file%s applied, %d already applied", set, done,
		       done == 1 ? "" : "s", n - todo);
	}
	free_texts(h, texts, n);
	h->rows_free(rows);
	return rc;
}

/* teardown runs set's teardown.sql and forgets its records, in one transaction */
static int teardown(struct seed_ctx *c, const char *set)
{
	const struct padctl_host *h = c->h;
	struct padctl_step *st = c->st;
	char *text = NULL;
	const char *origin = NULL;
	if (c->seeds->teardown(st, set, &text, &origin))
		return -1;
	if (text && c->lint->protected_sql(st, origin, text, strlen(text))) {
		h->free_text(text);
		return -1;
	}
	if (!text)
		h->log(st, PADCTL_LOG_WARN, "seed set %s has no teardown.sql: only its records are forgotten", set);
	if (h->dry_run(st)) {
		if (text)
			h->log(st, PADCTL_LOG_INFO, "seed set %s: would run %s and forget the set's records", set,
			       origin);
		else
			h->log(st, PADCTL_LOG_INFO, "seed set %s: would forget the set's records", set);
		h->free_text(text);
		return 0;
	}
	int had = text != NULL;
	int rc = h->tx_begin(st);
	if (!rc && text)
		rc = h->sql_exec(st, text, origin);
	if (!rc)
		rc = c->seeds->forget(st, set);
	if (!rc)
		rc = h->tx_commit(st);
	else
		h->tx_rollback(st);
	h->free_text(text);
	if (!rc)
		h->log(st, PADCTL_LOG_INFO, "seed set %s: %s%sits records forgotten (the next seed applies it again)",
		       set, had ? origin : "", had ? " run, " : "");
	return rc;
}

static int seed_run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	struct seed_ctx c = { h, st, NULL, NULL, NULL };
	c.seeds = h->service(st, "seeds", PADCTL_SEEDS_V1);
	c.ledger = h->service(st, "ledger", PADCTL_LEDGER_V1);
	c.lint = h->service(st, "lint", PADCTL_LINT_V1);
	if (!c.seeds || !c.ledger || !c.lint)
		return h->fail(st, "upgrade padctl", "this padctl offers no \"seeds\", \"ledger\" or \"lint\" service");
	const char *only = h->option(st, "set"), *down = h->option(st, "teardown");
	if (only && down)
		return h->fail(st, "give one of them", "the options set and teardown exclude each other");
	if (down)
		return teardown(&c, down);
	size_t n = 0;
	const char *const *sets = h->config_list(st, "seeds", &n);
	if (only) {
		size_t i = 0;
		while (i < n && strcmp(sets[i], only) != 0)
			i++;
		if (i == n)
			return h->fail(st, "list it under `seeds:` in the env's file, or name one of its seed sets",
				       "seed set \"%s\" is not one of the seed sets of env \"%s\"", only, h->env(st));
		return apply_set(&c, only);
	}
	if (!n)
		h->log(st, PADCTL_LOG_INFO, "env %s has no seed sets", h->env(st));
	for (size_t i = 0; i < n; i++)
		if (apply_set(&c, sets[i]))
			return -1;
	return 0;
}

static const struct padctl_option options[] = {
	{ "set", PADCTL_OPT_STRING, 0, "apply only this one of the env's seed sets" },
	{ "teardown", PADCTL_OPT_STRING, 0, "run this seed set's teardown.sql and forget its records instead" },
	{ NULL, 0, 0, NULL },
};

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "seed",
	.version = "1.0.0",
	.kind = PADCTL_KIND_SEED,
	.summary = "apply the env's seed sets: each set in one transaction, each file once per checksum",
	.options = options,
	.run = seed_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

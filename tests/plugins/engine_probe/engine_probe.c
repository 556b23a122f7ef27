/* engine_probe: a migrate-kind test plugin for tests/integration/test_engine.c.
 * Option `mode` picks what it does to the host, one engine promise each:
 *   ok              nothing; succeeds
 *   fail            fails with "probe failure on <target>"
 *   fail_on         fails like `fail` on target option `target`; on any other
 *                   target a statement fails, the plugin clears the error
 *                   (error_clear, as a retry would) and succeeds
 *   spoil_on        on target option `target`, adds a check constraint to the ledger's
 *                   padctl.run_steps that refuses status 'ok' (so recording this very
 *                   step fails after it succeeded) and succeeds; fails like `fail` elsewhere
 *   host_then_fail  a statement fails, then the plugin fails with its own text
 *   commit_ignored  a statement fails inside its transaction, the plugin commits anyway
 *   leave_open      opens a transaction, inserts, returns success without closing it
 *   record          creates public.rec_t and records the first migration as applied in one
 *                   transaction, then commits (option `then` = commit) or rolls back (rollback)
 *   tx_escape       sends COMMIT through sql_exec inside its own transaction
 *   dry_escape      sends option `sql`, then option `then`, then writes (the ledger's
 *                   padctl.meta first, public.probe, public.escaped); ignores every failure
 *   session         sends option `sql` outside a transaction (a SET ROLE, say) and succeeds
 *   clean           fails unless the session is as padctl connected (no role set, the
 *                   default search_path)
 *   config          asks config() and config_list() several times in run and checks, in
 *                   close, that every answer is still the same and no two share storage
 */
#include <padctl/plugin.h>

#include <stdlib.h>
#include <string.h>

static const struct padctl_option options[] = {
	{ "mode", PADCTL_OPT_STRING, 1, "what to do" },
	{ "sql", PADCTL_OPT_STRING, 0, "dry_escape: the first escape attempt" },
	{ "then", PADCTL_OPT_STRING, 0, "dry_escape: the second attempt; record: commit or rollback" },
	{ "target", PADCTL_OPT_STRING, 0, "fail_on: the target to fail on" },
	{ NULL, 0, 0, NULL },
};

/* what mode config keeps from run to close */
#define NANS 8
struct answers {
	const char *s[NANS]; /* config() answers */
	const char *const *list[2]; /* config_list("schemas.owned"), config_list("schemas.protected") */
	size_t nlist[2];
};

static int open_(const struct padctl_host *h, struct padctl_step *st, void **state)
{
	(void)h;
	(void)st;
	*state = calloc(1, sizeof(struct answers));
	return *state ? 0 : -1;
}

static int fail_here(const struct padctl_host *h, struct padctl_step *st)
{
	return h->fail(st, "the probe fails on purpose", "probe failure on %s", h->target(st));
}

static int commit_ignored(const struct padctl_host *h, struct padctl_step *st)
{
	if (h->tx_begin(st) || h->sql_exec(st, "INSERT INTO public.probe VALUES (1)", NULL))
		return -1;
	(void)h->sql_exec(st, "SELECT no_such_function_in_probe()", NULL);
	if (h->tx_commit(st) == 0)
		return h->fail(st, NULL, "tx_commit said committed");
	return -1;
}

static int leave_open(const struct padctl_host *h, struct padctl_step *st)
{
	if (h->tx_begin(st) || h->sql_exec(st, "INSERT INTO public.probe VALUES (2)", NULL))
		return -1;
	return 0;
}

static int record(const struct padctl_host *h, struct padctl_step *st)
{
	if (h->migration_count(st) == 0)
		return h->fail(st, NULL, "the probe needs a pending migration");
	const struct padctl_migration *m = h->migration_at(st, 0);
	if (h->tx_begin(st) || h->sql_exec(st, "CREATE TABLE public.rec_t (i int)", NULL) ||
	    h->history_record(st, m, "applied", NULL, 1.0))
		return -1;
	const char *then = h->option(st, "then");
	if (then && strcmp(then, "rollback") == 0) {
		h->tx_rollback(st);
		return h->fail(st, NULL, "rolled back on purpose");
	}
	return h->tx_commit(st);
}

static int tx_escape(const struct padctl_host *h, struct padctl_step *st)
{
	if (h->tx_begin(st) || h->sql_exec(st, "CREATE TABLE public.tx_half (i int)", NULL))
		return -1;
	if (h->sql_exec(st, "COMMIT", NULL) == 0) {
		(void)h->tx_commit(st);
		return 0;
	}
	h->tx_rollback(st);
	return -1;
}

static int dry_escape(const struct padctl_host *h, struct padctl_step *st)
{
	const char *const attempt[] = { h->option(st, "sql"),
					h->option(st, "then"),
					"INSERT INTO padctl.meta VALUES ('escaped', 'yes')",
					"INSERT INTO public.probe VALUES (3)",
					"CREATE TABLE public.escaped (i int)",
					"COMMIT" };
	for (size_t i = 0; i < sizeof attempt / sizeof attempt[0]; i++)
		if (attempt[i])
			(void)h->sql_exec(st, attempt[i], NULL);
	return 0;
}

static int config_ask(const struct padctl_host *h, struct padctl_step *st, struct answers *a)
{
	static const char *const keys[NANS] = { "schemas.owned", "schemas.protected", "env.tier", "project",
						"target.dbname", "schemas.owned",     "env",	  "target" };
	for (size_t i = 0; i < NANS; i++)
		a->s[i] = h->config(st, keys[i]);
	a->list[0] = h->config_list(st, "schemas.owned", &a->nlist[0]);
	a->list[1] = h->config_list(st, "schemas.protected", &a->nlist[1]);
	/* more host calls in between: they must not reuse the answers' storage */
	struct padctl_rows *rows = NULL;
	if (h->sql_query(st, "SELECT 'app,app2', 'ref'", 0, NULL, &rows))
		return -1;
	h->rows_free(rows);
	(void)h->config(st, "schemas.owned");
	(void)h->config_list(st, "schemas.owned", &a->nlist[0]);
	return 0;
}

static int same(const char *got, const char *want)
{
	return got && strcmp(got, want) == 0;
}

/* config_check runs in close, the last moment the step's strings are promised */
static void config_check(const struct padctl_host *h, struct padctl_step *st, const struct answers *a)
{
	const char *const want[NANS] = { "app,app2", "ref", "nonprod", "engine", NULL, "app,app2", "test", "t1" };
	for (size_t i = 0; i < NANS; i++)
		if (!a->s[i] || (want[i] && !same(a->s[i], want[i]))) {
			h->fail(st, NULL, "config answer %zu changed: \"%s\"", i, a->s[i] ? a->s[i] : "(null)");
			return;
		}
	/* the joined answers: schemas.owned twice, schemas.protected */
	if (a->s[0] == a->s[5] || a->s[0] == a->s[1] || a->s[1] == a->s[5]) {
		h->fail(st, NULL, "config answers share storage");
		return;
	}
	if (!a->list[0] || a->nlist[0] != 2 || !same(a->list[0][0], "app") || !same(a->list[0][1], "app2") ||
	    !a->list[1] || a->nlist[1] != 1 || !same(a->list[1][0], "ref")) {
		h->fail(st, NULL, "config_list answers changed");
		return;
	}
	if (a->list[0][0] == a->s[0] || a->list[1][0] == a->s[1])
		h->fail(st, NULL, "config_list and config share storage");
}

static int clean(const struct padctl_host *h, struct padctl_step *st)
{
	struct padctl_rows *rows = NULL;
	if (h->sql_query(st,
			 "SELECT current_user = session_user, current_setting('search_path') = "
			 "(SELECT boot_val FROM pg_settings WHERE name = 'search_path')",
			 0, NULL, &rows))
		return -1;
	int ok = strcmp(h->rows_value(rows, 0, 0), "t") == 0 && strcmp(h->rows_value(rows, 0, 1), "t") == 0;
	h->rows_free(rows);
	return ok ? 0 : h->fail(st, NULL, "the step started with the session another step left");
}

static int run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	const char *mode = h->option(st, "mode");
	if (strcmp(mode, "ok") == 0)
		return 0;
	if (strcmp(mode, "fail") == 0)
		return fail_here(h, st);
	if (strcmp(mode, "fail_on") == 0) {
		const char *on = h->option(st, "target");
		if (on && strcmp(on, h->target(st)) == 0)
			return fail_here(h, st);
		if (h->sql_exec(st, "SELECT no_such_function_cleared()", NULL) == 0)
			return h->fail(st, NULL, "the failing statement succeeded");
		h->error_clear(st);
		return 0;
	}
	if (strcmp(mode, "spoil_on") == 0) {
		const char *on = h->option(st, "target");
		if (!on || strcmp(on, h->target(st)) != 0)
			return fail_here(h, st);
		return h->sql_exec(st,
				   "ALTER TABLE padctl.run_steps ADD CONSTRAINT engine_probe_spoiled "
				   "CHECK (status <> 'ok') NOT VALID",
				   NULL);
	}
	if (strcmp(mode, "host_then_fail") == 0) {
		(void)h->sql_exec(st, "SELECT no_such_function_first()", NULL);
		return h->fail(st, NULL, "the plugin's own words come second");
	}
	if (strcmp(mode, "commit_ignored") == 0)
		return commit_ignored(h, st);
	if (strcmp(mode, "leave_open") == 0)
		return leave_open(h, st);
	if (strcmp(mode, "record") == 0)
		return record(h, st);
	if (strcmp(mode, "tx_escape") == 0)
		return tx_escape(h, st);
	if (strcmp(mode, "dry_escape") == 0)
		return dry_escape(h, st);
	if (strcmp(mode, "config") == 0)
		return config_ask(h, st, state);
	if (strcmp(mode, "session") == 0)
		return h->option(st, "sql") ? h->sql_exec(st, h->option(st, "sql"), NULL) : 0;
	if (strcmp(mode, "clean") == 0)
		return clean(h, st);
	return h->fail(st, NULL, "unknown mode \"%s\"", mode);
}

static void close_(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	if (strcmp(h->option(st, "mode"), "config") == 0)
		config_check(h, st, state);
	free(state);
}

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "engine_probe",
	.version = "0.0.1",
	.kind = PADCTL_KIND_MIGRATE,
	.summary = "test plugin: one engine promise per mode",
	.options = options,
	.open = open_,
	.run = run,
	.close = close_,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

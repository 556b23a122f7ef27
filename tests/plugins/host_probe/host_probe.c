/* host_probe: a migrate-kind test plugin that misuses the host on purpose,
 * one way per `mode`, to show that the host holds its promises whatever a
 * plugin does:
 *   ignore_commit  a statement fails inside its transaction, the plugin goes on and commits
 *   ignore_all     the same, ignoring the commit's answer too and returning success
 *   config         two config() answers must not alias each other
 *   forge          history_record of a migration the host did not hand out
 *   twice          history_record of the same migration twice
 *   tx_escape      sends COMMIT through sql_exec inside its own transaction
 *   dry_escape     runs option `sql` and then option `then` (attempts to leave the dry run's read-only
 *                  transaction), ignores its failure, then tries to write
 *   wait_cancel    polls cancelled() in a loop of short statements until told to stop
 */
#include <padctl/plugin.h>

#include <string.h>

static const struct padctl_option options[] = {
	{ "mode", PADCTL_OPT_STRING, 1, "what to try" },
	{ "sql", PADCTL_OPT_STRING, 0, "the escape attempt of dry_escape" },
	{ "via", PADCTL_OPT_STRING, 0, "dry_escape: exec (default) or query" },
	{ "then", PADCTL_OPT_STRING, 0, "dry_escape: a second attempt, sent on its own after sql" },
	{ NULL, 0, 0, NULL },
};

static int ignore_error_then_commit(const struct padctl_host *h, struct padctl_step *st, int check_commit)
{
	if (h->tx_begin(st) || h->sql_exec(st, "INSERT INTO public.probe VALUES (1)", NULL))
		return -1;
	(void)h->sql_exec(st, "SELECT no_such_function_in_probe()", NULL);
	int rc = h->tx_commit(st);
	return check_commit ? rc : 0;
}

static int config_alias(const struct padctl_host *h, struct padctl_step *st)
{
	const char *owned = h->config(st, "schemas.owned");
	const char *protected_ = h->config(st, "schemas.protected");
	const char *tier = h->config(st, "env.tier");
	const char *owned2 = h->config(st, "schemas.owned");
	h->log(st, PADCTL_LOG_INFO, "config: owned=%s protected=%s tier=%s", owned, protected_, tier);
	if (!owned || !protected_ || !owned2 || strcmp(owned, "app,app2") != 0 || strcmp(protected_, "ref") != 0 ||
	    strcmp(owned2, "app,app2") != 0)
		return h->fail(st, NULL, "config answers alias each other: owned=%s protected=%s", owned ? owned : "-",
			       protected_ ? protected_ : "-");
	return 0;
}

static int forge(const struct padctl_host *h, struct padctl_step *st)
{
	if (h->migration_count(st) == 0)
		return h->fail(st, NULL, "the probe needs a pending migration");
	struct padctl_migration fake = *h->migration_at(st, 0);
	fake.version = "9999";
	return h->history_record(st, &fake, "applied", NULL, 0);
}

static int twice(const struct padctl_host *h, struct padctl_step *st)
{
	if (h->migration_count(st) == 0)
		return h->fail(st, NULL, "the probe needs a pending migration");
	const struct padctl_migration *m = h->migration_at(st, 0);
	if (h->history_record(st, m, "skipped", "probe", 0))
		return -1;
	return h->history_record(st, m, "skipped", "probe again", 0);
}

static int dry_escape(const struct padctl_host *h, struct padctl_step *st)
{
	const char *sql = h->option(st, "sql");
	const char *via = h->option(st, "via");
	int query = via && strcmp(via, "query") == 0;
	h->log(st, PADCTL_LOG_INFO, "trying to leave the read-only transaction with: %s", sql ? sql : "-");
	const char *const attempt[] = { sql, h->option(st, "then"), "COMMIT", "CREATE TABLE public.escaped (i int)",
					"COMMIT" };
	for (size_t i = 0; i < sizeof attempt / sizeof attempt[0]; i++) {
		if (!attempt[i])
			continue;
		if (query) {
			struct padctl_rows *rows = NULL;
			if (h->sql_query(st, attempt[i], 0, NULL, &rows) == 0)
				h->rows_free(rows);
		} else {
			(void)h->sql_exec(st, attempt[i], NULL);
		}
	}
	return 0;
}

/* tx_escape: COMMIT through sql_exec while the host holds the plugin's
 * transaction must be refused before it is sent, so the table rolls back */
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

static int wait_cancel(const struct padctl_host *h, struct padctl_step *st)
{
	h->log(st, PADCTL_LOG_INFO, "waiting to be cancelled");
	while (!h->cancelled(st)) {
		struct padctl_rows *rows = NULL;
		if (h->sql_query(st, "SELECT pg_sleep(0.05)", 0, NULL, &rows))
			break;
		h->rows_free(rows);
	}
	return h->fail(st, NULL, "cancelled, as asked");
}

static int run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const char *mode = h->option(st, "mode");
	if (strcmp(mode, "ignore_commit") == 0)
		return ignore_error_then_commit(h, st, 1);
	if (strcmp(mode, "ignore_all") == 0)
		return ignore_error_then_commit(h, st, 0);
	if (strcmp(mode, "config") == 0)
		return config_alias(h, st);
	if (strcmp(mode, "forge") == 0)
		return forge(h, st);
	if (strcmp(mode, "twice") == 0)
		return twice(h, st);
	if (strcmp(mode, "dry_escape") == 0)
		return dry_escape(h, st);
	if (strcmp(mode, "tx_escape") == 0)
		return tx_escape(h, st);
	if (strcmp(mode, "wait_cancel") == 0)
		return wait_cancel(h, st);
	return h->fail(st, NULL, "unknown mode \"%s\"", mode);
}

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "host_probe",
	.version = "0.0.1",
	.kind = PADCTL_KIND_MIGRATE,
	.summary = "test plugin: misuses the host on purpose",
	.options = options,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

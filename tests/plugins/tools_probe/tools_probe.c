/* tools_probe: the first local use of the SDK services (ABI 2). A backup-kind
 * test plugin, one job per `mode`:
 *   dump    pg_dump --format=custom of the owned schemas (config_list) through
 *           "tools" into an "artifacts" file, committed, then verified with
 *           pg_restore --list through "tools" and marked verified; logs the
 *           artifact's path, size and SHA-256 and what find() lists
 *   fail    the same dump of a schema that does not exist (--strict-names):
 *           pg_dump fails, the artifact is never committed
 *   psql    psql --command=`sql` through "tools", its output logged, with the
 *           time limit `timeout_ms` (0: the host's)
 *   ledger  "ledger" records: a rollback, a seed file recorded inside a
 *           transaction that is rolled back (it must vanish), one outside
 */
#include <padctl/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct padctl_option options[] = {
	{ "mode", PADCTL_OPT_STRING, 1, "dump, fail, psql or ledger" },
	{ "sql", PADCTL_OPT_STRING, 0, "psql: the command" },
	{ "timeout_ms", PADCTL_OPT_INT, 0, "psql: the time limit" },
	{ NULL, 0, 0, NULL },
};

/* collect keeps a tool's output (up to 64 KiB) for the plugin to check. */
struct collect {
	char text[65536];
	size_t len;
};

static int collect(void *ctx, const void *data, size_t n)
{
	struct collect *c = ctx;
	size_t room = sizeof c->text - 1 - c->len;
	if (n > room)
		n = room;
	memcpy(c->text + c->len, data, n);
	c->len += n;
	c->text[c->len] = '\0';
	return 0;
}

static int dump(const struct padctl_host *h, struct padctl_step *st, int broken)
{
	const struct padctl_tools_v1 *tools = h->service(st, "tools", PADCTL_TOOLS_V1);
	const struct padctl_artifacts_v1 *arts = h->service(st, "artifacts", PADCTL_ARTIFACTS_V1);
	if (!tools || !arts)
		return h->fail(st, "run it on a padctl of plugin ABI 2 or later",
			       "the host offers no tools or artifacts service");
	size_t n = 0;
	const char *const *owned = h->config_list(st, "schemas.owned", &n);
	if (!owned || n == 0)
		return h->fail(st, "list schemas.owned in padctl.yml", "no owned schemas to dump");
	if (broken)
		n = 1;
	/* "--format=custom", "--strict-names", one "--schema=NAME" each, NULL */
	const char **args = calloc(n + 3, sizeof *args);
	char **schema = calloc(n, sizeof *schema);
	if (!args || !schema) {
		free(args);
		free(schema);
		return h->fail(st, NULL, "out of memory");
	}
	size_t k = 0;
	args[k++] = "--format=custom";
	args[k++] = "--strict-names";
	for (size_t i = 0; i < n; i++) {
		const char *name = broken ? "no_such_schema" : owned[i];
		size_t len = strlen("--schema=") + strlen(name) + 1;
		schema[i] = malloc(len);
		if (schema[i]) {
			snprintf(schema[i], len, "--schema=%s", name);
			args[k++] = schema[i];
		}
	}
	int rc = 0;
	struct padctl_artifact *a = NULL;
	struct collect *list = calloc(1, sizeof *list);
	if (!list)
		rc = h->fail(st, NULL, "out of memory");
	if (!rc)
		rc = arts->create(st, "owned.dump", &a);
	if (!rc)
		rc = tools->run_to_artifact(st, "pg_dump", args, 0, a);
	if (!rc)
		rc = arts->commit(st, a);
	if (!rc) {
		const char *const restore[] = { "--list", arts->path(st, a), NULL };
		rc = tools->run(st, "pg_restore", restore, 0, collect, list);
	}
	/* the plugin's own verification: the archive lists a table of the owned schema */
	if (!rc) {
		char want[256];
		snprintf(want, sizeof want, "TABLE %s ", owned[0]);
		if (!strstr(list->text, want))
			rc = h->fail(st, NULL, "the dump's table of contents has no \"%s\"", want);
	}
	if (!rc)
		rc = arts->mark_verified(st, a);
	if (!rc)
		h->log(st, PADCTL_LOG_INFO, "artifact %s bytes %llu sha256 %s", arts->path(st, a),
		       (unsigned long long)arts->bytes(st, a), arts->sha256(st, a));
	struct padctl_rows *rows = NULL;
	if (!rc && !(rc = arts->find(st, NULL, &rows))) {
		for (int r = 0; r < h->rows_count(rows); r++)
			h->log(st, PADCTL_LOG_INFO, "found %s verified=%s size=%s", h->rows_value(rows, r, 0),
			       h->rows_value(rows, r, 4), h->rows_value(rows, r, 2));
		h->rows_free(rows);
	}
	for (size_t i = 0; i < n; i++)
		free(schema[i]);
	free(schema);
	free(args);
	free(list);
	return rc;
}

static int psql(const struct padctl_host *h, struct padctl_step *st)
{
	const struct padctl_tools_v1 *tools = h->service(st, "tools", PADCTL_TOOLS_V1);
	if (!tools)
		return h->fail(st, NULL, "the host offers no tools service");
	const char *sql = h->option(st, "sql");
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "--command=%s", sql ? sql : "SELECT 1");
	const char *const args[] = { "--tuples-only", "--no-align", cmd, NULL };
	struct collect *out = calloc(1, sizeof *out);
	if (!out)
		return h->fail(st, NULL, "out of memory");
	const char *t = h->option(st, "timeout_ms");
	int rc = tools->run(st, "psql", args, t ? strtol(t, NULL, 10) : 0, collect, out);
	if (!rc)
		h->log(st, PADCTL_LOG_INFO, "psql said: %s", out->text);
	free(out);
	return rc;
}

static int ledger(const struct padctl_host *h, struct padctl_step *st)
{
	const struct padctl_ledger_v1 *l = h->service(st, "ledger", PADCTL_LEDGER_V1);
	if (!l)
		return h->fail(st, NULL, "the host offers no ledger service");
	static const char sum[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	/* a version never applied: a record of an applied one would make it pending again */
	if (l->migration_rolled_back(st, "0999"))
		return -1;
	if (h->tx_begin(st) || l->seed_applied(st, "base", "gone.sql", sum))
		return -1;
	h->tx_rollback(st);
	return l->seed_applied(st, "base", "kept.sql", sum);
}

static int run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const char *mode = h->option(st, "mode");
	if (strcmp(mode, "dump") == 0)
		return dump(h, st, 0);
	if (strcmp(mode, "fail") == 0)
		return dump(h, st, 1);
	if (strcmp(mode, "psql") == 0)
		return psql(h, st);
	if (strcmp(mode, "ledger") == 0)
		return ledger(h, st);
	return h->fail(st, "use dump, fail, psql or ledger", "unknown mode \"%s\"", mode);
}

static const struct padctl_plugin desc = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "tools_probe",
	.version = "1",
	.kind = PADCTL_KIND_BACKUP,
	.summary = "test plugin: the tools, artifacts and ledger services",
	.options = options,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

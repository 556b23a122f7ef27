/* lint_probe: the "lint" service as a seed plugin would use it: checks the
 * text of option `sql` as if it were the seed file `file` (default
 * seeds/probe.sql) and logs "lint: clean" when nothing touches a protected
 * schema; the service's error fails the step otherwise. */
#include <padctl/plugin.h>

#include <string.h>

static const struct padctl_option options[] = {
	{ "sql", PADCTL_OPT_STRING, 1, "the SQL to check" },
	{ "file", PADCTL_OPT_STRING, 0, "the name in messages" },
	{ NULL, 0, 0, NULL },
};

static int probe_run(const struct padctl_host *host, struct padctl_step *st, void *state)
{
	(void)state;
	const struct padctl_lint_v1 *lint = host->service(st, "lint", PADCTL_LINT_V1);
	if (!lint)
		return host->fail(st, "use a padctl with the lint service", "no \"lint\" service version 1");
	const char *sql = host->option(st, "sql");
	const char *file = host->option(st, "file");
	if (lint->protected_sql(st, file ? file : "seeds/probe.sql", sql, strlen(sql)))
		return -1;
	host->log(st, PADCTL_LOG_INFO, "lint: clean");
	return 0;
}

static const struct padctl_plugin desc = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "lint_probe",
	.version = "1.0.0",
	.kind = PADCTL_KIND_VALIDATE,
	.summary = "checks option sql with the lint service",
	.options = options,
	.run = probe_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

/* hello: a complete minimal padctl plugin. It is a validate step that logs
 * the target it runs on and the server version the target reports.
 *
 * Build:  cc -shared -fPIC -fvisibility=hidden -I/usr/local/include hello.c -o hello.so
 * Use:    PADCTL_PLUGIN_PATH=$PWD padctl plugins
 *         and `- hello` as a step in pipelines/<name>.yml
 */
#include <padctl/plugin.h>

#include <stddef.h>

static int hello_run(const struct padctl_host *host, struct padctl_step *st, void *state)
{
	struct padctl_rows *rows;
	(void)state;

	host->log(st, PADCTL_LOG_INFO, "hello from target \"%s\" of env \"%s\"", host->target(st), host->env(st));
	/* On failure the host has recorded the error already: just pass it on. */
	if (host->sql_query(st, "SELECT version()", 0, NULL, &rows))
		return -1;
	if (host->rows_count(rows) != 1) {
		host->rows_free(rows);
		return host->fail(st, "check that the target is a PostgreSQL server",
				  "\"SELECT version()\" returned no row on \"%s\"", host->target(st));
	}
	host->log(st, PADCTL_LOG_INFO, "server: %s", host->rows_value(rows, 0, 0));
	host->rows_free(rows); /* the host allocated the rows, so the host frees them */
	return 0;
}

static const struct padctl_plugin hello = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "hello",
	.version = "1.0.0",
	.kind = PADCTL_KIND_VALIDATE,
	.summary = "log the target and its PostgreSQL version",
	.run = hello_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &hello;
}

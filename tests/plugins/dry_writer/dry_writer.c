/* dry_writer: a validate-kind test plugin that tries to write whatever the
 * run mode, to show that the host, not the plugin, makes a dry run harmless. */
#include <padctl/plugin.h>

static int run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	h->log(st, PADCTL_LOG_INFO, "dry_writer: dry run is %s; writing anyway", h->dry_run(st) ? "on" : "off");
	return h->sql_exec(st, "CREATE TABLE IF NOT EXISTS public.dry_writer_was_here (id int)", NULL);
}

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "dry_writer",
	.version = "0.0.1",
	.kind = PADCTL_KIND_VALIDATE,
	.summary = "test plugin: writes even in a dry run",
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

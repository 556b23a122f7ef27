/* no_version: a valid plugin that gives no version string (doctor and
 * `padctl plugins` must show it without printing a NULL). */
#include <padctl/plugin.h>

#include <stddef.h>

static int run(const struct padctl_host *host, struct padctl_step *st, void *state)
{
	(void)host;
	(void)st;
	(void)state;
	return 0;
}

static const struct padctl_plugin desc = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "no_version",
	.version = NULL,
	.kind = PADCTL_KIND_VALIDATE,
	.summary = "a plugin without a version",
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

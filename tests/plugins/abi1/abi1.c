/* abi1: a plugin built against ABI 1 (before config_list and service), which
 * this padctl refuses: it must be rebuilt. */
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
	.abi = 1,
	.size = sizeof(struct padctl_plugin),
	.name = "abi1",
	.version = "1",
	.kind = PADCTL_KIND_VALIDATE,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

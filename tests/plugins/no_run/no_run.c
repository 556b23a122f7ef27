/* no_run: run is NULL. */
#include <padctl/plugin.h>

#include <stddef.h>

static const struct padctl_plugin desc = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "no_run",
	.version = "1",
	.kind = PADCTL_KIND_VALIDATE,
	.run = NULL,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

/* small_size: claims a descriptor of 8 bytes. */
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
	.size = 8,
	.name = "small_size",
	.version = "1",
	.kind = PADCTL_KIND_VALIDATE,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

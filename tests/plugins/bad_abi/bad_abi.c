/* bad_abi: built for a plugin ABI that does not exist. */
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
	.abi = 999,
	.size = sizeof(struct padctl_plugin),
	.name = "bad_abi",
	.version = "1",
	.kind = PADCTL_KIND_VALIDATE,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

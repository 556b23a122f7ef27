/* bad_kind: a kind the host does not know. */
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
	.name = "bad_kind",
	.version = "1",
	.kind = 99,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

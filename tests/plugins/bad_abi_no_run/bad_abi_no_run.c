/* bad_abi_no_run: wrong ABI and no run; the ABI is the reason reported. */
#include <padctl/plugin.h>

#include <stddef.h>

static const struct padctl_plugin desc = {
	.abi = 7,
	.size = sizeof(struct padctl_plugin),
	.name = "bad_abi_no_run",
	.version = "1",
	.kind = PADCTL_KIND_VALIDATE,
	.run = NULL,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

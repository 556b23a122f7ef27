/* null_entry: exports the entry function, which returns NULL. */
#include <padctl/plugin.h>

#include <stddef.h>

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return NULL;
}

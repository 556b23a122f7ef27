/* no_symbol: exports a function, but not padctl_plugin_entry. */
#include <padctl/plugin.h>

PADCTL_EXPORT int padctl_plugin_entry_typo(void);

PADCTL_EXPORT int padctl_plugin_entry_typo(void)
{
	return 1;
}

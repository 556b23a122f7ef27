/* plugin: the dlopen loader and registry of step plugins (see padctl/plugin.h).
 *
 * Plugins are loaded from, in order: the build tree's plugins/ folder next to
 * the running binary (a developer build), else the install's libdir
 * (PADCTL_PLUGIN_DIR), then each folder of $PADCTL_PLUGIN_PATH (colon-
 * separated). Every *.so file there is tried; a refused file is kept in the
 * registry with the reason, so `padctl plugins` and `doctor` can show it.
 */
#ifndef PADCTL_PLUGIN_LOADER_H
#define PADCTL_PLUGIN_LOADER_H

#include <stddef.h>

#include <padctl/plugin.h>

struct plugin_entry {
	char *path;
	void *handle;
	const struct padctl_plugin *desc;
};

struct plugin_refusal {
	char *path;
	char *reason;   /* "abi 7, host speaks 1: rebuild the plugin against this padctl's padctl/plugin.h" */
};

struct plugin_registry {
	struct plugin_entry *plugins;
	size_t nplugins;
	struct plugin_refusal *refused;
	size_t nrefused;
};

/* plugin_registry_load loads every plugin of the search path into r.
 * Refusals are not errors (they are listed in r->refused). */
int plugin_registry_load(struct plugin_registry *r);
/* plugin_registry_load_dirs loads the plugins of the given folders only (tests). */
int plugin_registry_load_dirs(struct plugin_registry *r, const char *const *dirs, size_t ndirs);
/* plugin_load_file tries one file and adds it to r->plugins or r->refused. */
void plugin_load_file(struct plugin_registry *r, const char *path);
/* plugin_find returns the loaded plugin of that name, or NULL. */
const struct plugin_entry *plugin_find(const struct plugin_registry *r, const char *name);
/* plugin_registry_release dlcloses and frees everything. */
void plugin_registry_release(struct plugin_registry *r);
/* plugin_kind_name returns "backup", "migrate", ... or NULL for an unknown kind. */
const char *plugin_kind_name(int kind);
/* plugin_search_path fills dirs (caller frees each and the array). */
void plugin_search_path(char ***dirs, size_t *ndirs);
/* plugin_host_abi returns PADCTL_PLUGIN_ABI (what this host speaks). */
int plugin_host_abi(void);

#endif

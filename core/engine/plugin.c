#include "plugin.h"
#include "buf.h"
#include "log.h"
#include "name.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PADCTL_PLUGIN_DIR
#define PADCTL_PLUGIN_DIR "/usr/local/lib/padctl"
#endif

/* What the descriptor of this ABI needs: everything up to and including
 * close (ABI 2 left the descriptor as ABI 1 had it; the host table grew). A
 * larger size from a plugin of the same ABI is fine (members appended since),
 * a smaller one means we would read past the plugin's descriptor. An ABI 1
 * plugin is refused by the abi check before its size is read: it was built
 * against a host table without config_list and service. */
#define PLUGIN_DESC_SIZE (offsetof(struct padctl_plugin, close) + sizeof(void (*)(void)))

static const char *const kind_names[] = {
	[PADCTL_KIND_BACKUP] = "backup",
	[PADCTL_KIND_MIGRATE] = "migrate",
	[PADCTL_KIND_VALIDATE] = "validate",
	[PADCTL_KIND_SEED] = "seed",
	[PADCTL_KIND_ROLLBACK] = "rollback",
	[PADCTL_KIND_BACKFILL] = "backfill",
};

typedef const struct padctl_plugin *(*entry_fn)(void);

const char *plugin_kind_name(int kind)
{
	if (kind < 0 || (size_t)kind >= sizeof kind_names / sizeof kind_names[0])
		return NULL;
	return kind_names[kind];
}

int plugin_host_abi(void)
{
	return PADCTL_PLUGIN_ABI;
}

static void kind_list(struct buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
		if (!kind_names[i])
			continue;
		buf_addf(b, "%s%s", n++ ? ", " : "", kind_names[i]);
	}
}

static void refuse(struct plugin_registry *r, const char *path, char *reason)
{
	r->refused = xrealloc(r->refused, (r->nrefused + 1) * sizeof *r->refused);
	r->refused[r->nrefused].path = xstrdup(path);
	r->refused[r->nrefused].reason = reason;
	r->nrefused++;
	log_verbose("plugin \"%s\" refused: %s", path, reason);
}

const struct plugin_entry *plugin_find(const struct plugin_registry *r, const char *name)
{
	for (size_t i = 0; i < r->nplugins; i++)
		if (strcmp(r->plugins[i].desc->name, name) == 0)
			return &r->plugins[i];
	return NULL;
}

/* check returns NULL when the descriptor is acceptable, else the reason (the
 * caller's). The order is the one padctl/plugin.h promises: a descriptor of
 * another ABI may have any layout past abi and size, so nothing else is read
 * before those two pass. */
static char *check(const struct plugin_registry *r, const struct padctl_plugin *d)
{
	if (d->abi != PADCTL_PLUGIN_ABI)
		return xstrfmt("built for plugin ABI %u, this padctl speaks ABI %d: "
			       "rebuild it against this padctl's padctl/plugin.h",
			       (unsigned)d->abi, PADCTL_PLUGIN_ABI);
	if (d->size < PLUGIN_DESC_SIZE)
		return xstrfmt("descriptor size %u is smaller than the %zu bytes plugin ABI %d needs: "
			       "set size = sizeof(struct padctl_plugin) and rebuild against this padctl's padctl/plugin.h",
			       (unsigned)d->size, PLUGIN_DESC_SIZE, PADCTL_PLUGIN_ABI);
	if (!d->name || !*d->name)
		return xstrfmt("the descriptor has no name: set name to a unique word of [a-z0-9_-]");
	if (!name_valid(NAME_PLUGIN, d->name))
		return xstrfmt("invalid plugin name \"%s\": use 1 to %d characters of [a-z0-9_-]",
			       d->name, (int)name_max(NAME_PLUGIN));
	const struct plugin_entry *other = plugin_find(r, d->name);
	if (other)
		return xstrfmt("duplicate plugin name \"%s\", already provided by \"%s\" (the first one found wins): "
			       "rename one of them or remove one from the plugin path",
			       d->name, other->path);
	if (!plugin_kind_name(d->kind)) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "plugin \"%s\" has unknown kind %d: use one of ", d->name, d->kind);
		kind_list(&b);
		return buf_detach(&b);
	}
	if (!d->run)
		return xstrfmt("plugin \"%s\" has no run function: run is required", d->name);
	return NULL;
}

void plugin_load_file(struct plugin_registry *r, const char *path)
{
	/* Without a slash dlopen would search the system library path instead
	 * of opening the file that was named. */
	char *open_path = strchr(path, '/') ? xstrdup(path) : xstrfmt("./%s", path);
	dlerror();
	void *handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
	free(open_path);
	if (!handle) {
		const char *e = dlerror();
		refuse(r, path, xstrfmt("cannot be loaded: %s", e ? e : "unknown dlopen error"));
		return;
	}

	dlerror();
	void *sym = dlsym(handle, PADCTL_PLUGIN_ENTRY_SYMBOL);
	if (!sym) {
		refuse(r, path, xstrfmt("does not export \"%s\": define it with PADCTL_EXPORT "
					"(plugins are built with -fvisibility=hidden)", PADCTL_PLUGIN_ENTRY_SYMBOL));
		dlclose(handle);
		return;
	}
	/* POSIX guarantees a data pointer from dlsym converts to a function pointer. */
	entry_fn entry;
	memcpy(&entry, &sym, sizeof entry);

	const struct padctl_plugin *d = entry();
	if (!d) {
		refuse(r, path, xstrfmt("%s() returned NULL: return the address of a static descriptor",
					PADCTL_PLUGIN_ENTRY_SYMBOL));
		dlclose(handle);
		return;
	}

	char *reason = check(r, d);
	if (reason) {
		refuse(r, path, reason);
		dlclose(handle);
		return;
	}

	r->plugins = xrealloc(r->plugins, (r->nplugins + 1) * sizeof *r->plugins);
	r->plugins[r->nplugins].path = xstrdup(path);
	r->plugins[r->nplugins].handle = handle;
	r->plugins[r->nplugins].desc = d;
	r->nplugins++;
	log_verbose("plugin \"%s\" %s loaded from \"%s\"", d->name, d->version ? d->version : "", path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_so_suffix(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".so") == 0;
}

/* load_dir loads dir's *.so files in byte order of their names, so which of
 * two plugins of one name wins does not depend on the file system. */
static void load_dir(struct plugin_registry *r, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		/* a folder of the path that does not exist is normal (no install,
		 * a stale PADCTL_PLUGIN_PATH entry); one we cannot read is not */
		if (errno != ENOENT)
			refuse(r, dir, xstrfmt("cannot read the plugin folder: %s", strerror(errno)));
		return;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!has_so_suffix(de->d_name))
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *path = xstrfmt("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			plugin_load_file(r, path);
		free(path);
		free(names[i]);
	}
	free(names);
}

int plugin_registry_load_dirs(struct plugin_registry *r, const char *const *dirs, size_t ndirs)
{
	/* The same folder twice in the path (say PADCTL_PLUGIN_PATH repeating
	 * the libdir) would refuse every plugin of it as its own duplicate. */
	char **seen = xcalloc(ndirs ? ndirs : 1, sizeof *seen);
	size_t nseen = 0;
	for (size_t i = 0; i < ndirs; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		char *real = realpath(dirs[i], NULL);
		int dup = 0;
		for (size_t j = 0; real && j < nseen; j++)
			dup |= strcmp(seen[j], real) == 0;
		if (dup) {
			free(real);
			continue;
		}
		if (real)
			seen[nseen++] = real;
		load_dir(r, dirs[i]);
	}
	for (size_t j = 0; j < nseen; j++)
		free(seen[j]);
	free(seen);
	return 0;
}

/* exe_plugin_dir returns the plugins folder next to the running binary, or
 * NULL when there is none (an installed binary). */
static char *exe_plugin_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	char *dir = xstrfmt("%s/plugins", exe);
	struct stat st;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return dir;
	free(dir);
	return NULL;
}

void plugin_search_path(char ***dirs, size_t *ndirs)
{
	char **v = NULL;
	size_t n = 0;
	char *first = exe_plugin_dir();
	v = xrealloc(v, (n + 1) * sizeof *v);
	v[n++] = first ? first : xstrdup(PADCTL_PLUGIN_DIR);

	const char *env = getenv("PADCTL_PLUGIN_PATH");
	for (const char *p = env; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (len) {
			v = xrealloc(v, (n + 1) * sizeof *v);
			v[n++] = xstrndup(p, len);
		}
		p = colon ? colon + 1 : p + len;
	}
	*dirs = v;
	*ndirs = n;
}

int plugin_registry_load(struct plugin_registry *r)
{
	char **dirs;
	size_t n;
	plugin_search_path(&dirs, &n);
	int rc = plugin_registry_load_dirs(r, (const char *const *)dirs, n);
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	return rc;
}

void plugin_registry_release(struct plugin_registry *r)
{
	for (size_t i = 0; i < r->nplugins; i++) {
		free(r->plugins[i].path);
		dlclose(r->plugins[i].handle);
	}
	for (size_t i = 0; i < r->nrefused; i++) {
		free(r->refused[i].path);
		free(r->refused[i].reason);
	}
	free(r->plugins);
	free(r->refused);
	memset(r, 0, sizeof *r);
}

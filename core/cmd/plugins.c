/* padctl plugins: the plugins of the search path, and the files refused. */
#include "cmd.h"
#include "buf.h"
#include "log.h"
#include "plugin.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const opt_type_names[] = {
	[PADCTL_OPT_STRING] = "string",
	[PADCTL_OPT_BOOL] = "bool",
	[PADCTL_OPT_INT] = "int",
};

static const char *opt_type_name(int type)
{
	if (type < 0 || (size_t)type >= sizeof opt_type_names / sizeof opt_type_names[0] || !opt_type_names[type])
		return "unknown";
	return opt_type_names[type];
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static int dir_exists(const char *dir)
{
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static json_t *plugin_json(const struct plugin_entry *e)
{
	const struct padctl_plugin *d = e->desc;
	json_t *opts = json_array();
	for (const struct padctl_option *o = d->options; o && o->name; o++)
		json_array_append_new(opts, json_pack("{s:s, s:s, s:b}", "name", o->name, "type",
						      opt_type_name(o->type), "required", o->required != 0));
	json_t *phases = json_array();
	for (const char *const *ph = d->phases; ph && *ph; ph++)
		json_array_append_new(phases, json_string(*ph));
	return json_pack("{s:s, s:s, s:s?, s:i, s:s, s:s?, s:o, s:o}", "name", d->name, "kind",
			 plugin_kind_name(d->kind), "version", d->version, "abi", (int)d->abi, "path", e->path,
			 "summary", d->summary, "options", opts, "phases", phases);
}

static int print_json(const struct plugin_registry *r, char **dirs, size_t ndirs)
{
	json_t *plugins = json_array(), *refused = json_array(), *path = json_array();
	for (size_t i = 0; i < r->nplugins; i++)
		json_array_append_new(plugins, plugin_json(&r->plugins[i]));
	for (size_t i = 0; i < r->nrefused; i++)
		json_array_append_new(refused, json_pack("{s:s, s:s}", "path", r->refused[i].path, "reason",
							 r->refused[i].reason));
	for (size_t i = 0; i < ndirs; i++)
		json_array_append_new(path, json_pack("{s:s, s:b}", "dir", dirs[i], "exists", dir_exists(dirs[i])));
	json_t *root = json_pack("{s:o, s:o, s:i, s:o}", "plugins", plugins, "refused", refused, "host_abi",
				 plugin_host_abi(), "search_path", path);
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(root);
	if (!text)
		return fail("cannot encode the plugin list as JSON");
	puts(text);
	free(text);
	return 0;
}

static void print_table(const struct plugin_registry *r, char **dirs, size_t ndirs, int verbose)
{
	static const char *const head[] = { "NAME", "KIND", "VERSION", "ABI", "PATH", "SUMMARY" };
	enum { NCOL = sizeof head / sizeof head[0] };
	size_t width[NCOL];
	for (size_t c = 0; c < NCOL; c++)
		width[c] = strlen(head[c]);
	char abi[16];
	for (size_t i = 0; i < r->nplugins; i++) {
		const struct padctl_plugin *d = r->plugins[i].desc;
		snprintf(abi, sizeof abi, "%u", (unsigned)d->abi);
		const char *cell[NCOL] = { d->name, plugin_kind_name(d->kind), or_dash(d->version), abi,
					   r->plugins[i].path, or_dash(d->summary) };
		for (size_t c = 0; c < NCOL; c++)
			if (strlen(cell[c]) > width[c])
				width[c] = strlen(cell[c]);
	}

	if (r->nplugins) {
		for (size_t c = 0; c + 1 < NCOL; c++)
			printf("%-*s  ", (int)width[c], head[c]);
		printf("%s\n", head[NCOL - 1]);
	} else {
		printf("no plugins found\n");
	}
	for (size_t i = 0; i < r->nplugins; i++) {
		const struct padctl_plugin *d = r->plugins[i].desc;
		snprintf(abi, sizeof abi, "%u", (unsigned)d->abi);
		const char *cell[NCOL] = { d->name, plugin_kind_name(d->kind), or_dash(d->version), abi,
					   r->plugins[i].path, or_dash(d->summary) };
		for (size_t c = 0; c + 1 < NCOL; c++)
			printf("%-*s  ", (int)width[c], cell[c]);
		printf("%s\n", cell[NCOL - 1]);
		if (!verbose)
			continue;
		for (const struct padctl_option *o = d->options; o && o->name; o++)
			printf("    option %s (%s%s)%s%s\n", o->name, opt_type_name(o->type),
			       o->required ? ", required" : "", o->help ? ": " : "", o->help ? o->help : "");
	}

	if (r->nrefused) {
		printf("\nrefused:\n");
		for (size_t i = 0; i < r->nrefused; i++)
			printf("  %s: %s\n", r->refused[i].path, r->refused[i].reason);
	}

	/* Without plugins the search path is the first thing to look at. */
	if (verbose || !r->nplugins) {
		printf("\nsearch path (host plugin ABI %d):\n", plugin_host_abi());
		for (size_t i = 0; i < ndirs; i++)
			printf("  %s%s\n", dirs[i], dir_exists(dirs[i]) ? "" : " (not found)");
	}
}

int cmd_plugins(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, NULL, pos, 0, 0, &npos, "(no arguments)"))
		return -1;

	char **dirs;
	size_t ndirs;
	plugin_search_path(&dirs, &ndirs);
	struct plugin_registry r = { 0 };
	int rc = plugin_registry_load_dirs(&r, (const char *const *)dirs, ndirs);
	if (!rc) {
		if (ctx->json)
			rc = print_json(&r, dirs, ndirs);
		else
			print_table(&r, dirs, ndirs, ctx->verbosity >= LOG_VERBOSE);
	}
	plugin_registry_release(&r);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	return rc;
}

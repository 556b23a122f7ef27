/* backup_probe: the "backups" service as a later step (a restore, say) uses
 * it. A validate-kind test plugin; `run` names the run whose backup to use
 * (absent: this run's):
 *   find     log the recorded backup's row
 *   verify   verify the backup (recorded, verified, not pruned, the file
 *            unchanged), log its path, and run pg_restore --list on it
 *            through "tools" (which accepts a path verify returned)
 *   restore  pg_restore --list on `path` without verifying first: refused
 */
#include <padctl/plugin.h>

#include <stdio.h>
#include <string.h>

static const struct padctl_option options[] = {
	{ "mode", PADCTL_OPT_STRING, 1, "find, verify or restore" },
	{ "run", PADCTL_OPT_STRING, 0, "the run whose backup (default: this run's)" },
	{ "path", PADCTL_OPT_STRING, 0, "restore: the file" },
	{ NULL, 0, 0, NULL },
};

static int count(void *ctx, const void *data, size_t n)
{
	size_t *lines = ctx;
	const char *d = data;
	for (size_t i = 0; i < n; i++)
		*lines += d[i] == '\n';
	return 0;
}

static int run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const struct padctl_backups_v1 *bk = h->service(st, "backups", PADCTL_BACKUPS_V1);
	const struct padctl_tools_v1 *tools = h->service(st, "tools", PADCTL_TOOLS_V1);
	if (!bk || !tools)
		return h->fail(st, NULL, "no backups or tools service");
	const char *mode = h->option(st, "mode");
	const char *runid = h->option(st, "run");
	if (strcmp(mode, "find") == 0) {
		struct padctl_rows *rows;
		if (bk->find(st, runid, &rows))
			return -1;
		h->log(st, PADCTL_LOG_INFO, "found %d", h->rows_count(rows));
		for (int r = 0; r < h->rows_count(rows); r++) {
			const char *v[10];
			for (int c = 0; c < 10; c++)
				v[c] = h->rows_value(rows, r, c) ? h->rows_value(rows, r, c) : "NULL";
			h->log(st, PADCTL_LOG_INFO,
			       "row run=%s path=%s size=%s sha256=%s verified=%s pruned=%s "
			       "schemas=%s",
			       v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
		}
		h->rows_free(rows);
		return 0;
	}
	if (strcmp(mode, "verify") == 0) {
		const char *path = NULL;
		if (bk->verify(st, runid, &path))
			return -1;
		h->log(st, PADCTL_LOG_INFO, "verified path=%s", path ? path : "NULL");
		if (!path)
			return 0;
		size_t lines = 0;
		const char *const args[] = { "--list", path, NULL };
		if (tools->run(st, "pg_restore", args, 0, count, &lines))
			return -1;
		h->log(st, PADCTL_LOG_INFO, "pg_restore listed %zu lines", lines);
		return 0;
	}
	if (strcmp(mode, "restore") == 0) {
		const char *const args[] = { "--list", h->option(st, "path"), NULL };
		return tools->run(st, "pg_restore", args, 0, NULL, NULL);
	}
	return h->fail(st, NULL, "unknown mode \"%s\"", mode);
}

static const struct padctl_plugin desc = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "backup_probe",
	.version = "1",
	.kind = PADCTL_KIND_VALIDATE,
	.summary = "test plugin: the backups service from a later step",
	.options = options,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

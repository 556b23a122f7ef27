/* seeds_probe: what the "seeds" service promises a plugin, one job per mode
 * (a seed-kind test plugin, run with `- seeds_probe: {mode: M, set: S}`):
 *   list      logs each row files() gives for set: name, origin, sha, ledger
 *   changed   files(), then appends a line to the first file (its path is
 *             the project root + origin), then read() with the listed
 *             checksum: must fail (what runs is what is recorded)
 *   names     read() of names that are no seed files of the set: "../x",
 *             "teardown.sql", ".hidden", "", each must fail; logs "refused"
 *   forget    forget() of set (in a dry run it must be refused)
 *   notlisted files() of a set the env does not list: must fail
 */
#include <padctl/plugin.h>

#include <stdio.h>
#include <string.h>

static const struct padctl_option options[] = {
	{ "mode", PADCTL_OPT_STRING, 1, "list, changed, names, forget or notlisted" },
	{ "set", PADCTL_OPT_STRING, 1, "the seed set" },
	{ NULL, 0, 0, NULL },
};

static int probe_run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const struct padctl_seeds_v1 *seeds = h->service(st, "seeds", PADCTL_SEEDS_V1);
	if (!seeds || !PADCTL_SERVICE_HAS(seeds, struct padctl_seeds_v1, forget))
		return h->fail(st, NULL, "the host offers no seeds service");
	const char *mode = h->option(st, "mode"), *set = h->option(st, "set");
	struct padctl_rows *rows = NULL;
	if (strcmp(mode, "list") == 0 || strcmp(mode, "notlisted") == 0) {
		if (seeds->files(st, set, &rows))
			return -1;
		for (int r = 0; r < h->rows_count(rows); r++) {
			const char *have = h->rows_value(rows, r, 3);
			h->log(st, PADCTL_LOG_INFO, "row %d: %s %s %s %s", r, h->rows_value(rows, r, 0),
			       h->rows_value(rows, r, 1), h->rows_value(rows, r, 2), have ? have : "(none)");
		}
		h->rows_free(rows);
		return 0;
	}
	if (strcmp(mode, "changed") == 0) {
		if (seeds->files(st, set, &rows))
			return -1;
		if (h->rows_count(rows) < 1) {
			h->rows_free(rows);
			return h->fail(st, NULL, "no seed file in set %s", set);
		}
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", h->config(st, "project.root"), h->rows_value(rows, 0, 1));
		FILE *f = fopen(path, "a");
		if (!f) {
			h->rows_free(rows);
			return h->fail(st, NULL, "cannot open %s", path);
		}
		fputs("-- changed by seeds_probe\n", f);
		fclose(f);
		char *text = NULL;
		int rc = seeds->read(st, set, h->rows_value(rows, 0, 0), h->rows_value(rows, 0, 2), &text);
		h->free_text(text);
		h->rows_free(rows);
		if (rc == 0)
			return h->fail(st, NULL, "read() of a changed file succeeded");
		return -1; /* the host's error is the step's */
	}
	if (strcmp(mode, "names") == 0) {
		const char *bad[] = { "../x.sql", "teardown.sql", ".hidden.sql", "", "a/b.sql", NULL };
		for (int i = 0; bad[i]; i++) {
			char *text = NULL;
			if (seeds->read(st, set, bad[i], "0", &text) == 0) {
				h->free_text(text);
				return h->fail(st, NULL, "read() of \"%s\" succeeded", bad[i]);
			}
			h->error_clear(st);
			h->log(st, PADCTL_LOG_INFO, "refused \"%s\"", bad[i]);
		}
		return 0;
	}
	if (strcmp(mode, "forget") == 0)
		return seeds->forget(st, set);
	return h->fail(st, NULL, "unknown mode %s", mode);
}

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "seeds_probe",
	.version = "1.0.0",
	.kind = PADCTL_KIND_SEED,
	.summary = "test plugin: the seeds service",
	.options = options,
	.run = probe_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

/* padctl backfill ENV NAME: a data migration (docs/backfill.md). The run
 * goes through the engine like a deploy (lock, identity, ledger, run record)
 * as a one-step pipeline whose step is the backfill plugin; --status only
 * reads the ledger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "bfstatus.h"
#include "buf.h"
#include "cmd.h"
#include "identity.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"
#include "target.h"

static int whole_number(const char *opt, const char *v, long lo, long hi)
{
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || !*v || *end || n < lo || n > hi) {
		fail("option \"--%s\" takes a number from %ld to %ld, not \"%s\"", opt, lo, hi, v ? v : "");
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

static int target_status(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			 const struct cfg_backfill *b)
{
	struct db *db = NULL;
	if (target_connect(p, t, "backfill", NULL, 1, &db))
		return -1;
	if (identity_check(p, env, t, db, 0)) {
		db_close(db);
		return -1;
	}
	struct bf_status st;
	int rc = bf_status_read(db, b, 50, &st);
	if (!rc) {
		long long left = st.total - st.done - st.failed;
		printf("target %s: backfill %s (%s)\n", t->name, b->name, b->source_table);
		printf("  source rows %lld: done %lld (%.1f%%), failed %lld, left %lld; target rows written %lld\n",
		       st.total, st.done, st.total ? 100.0 * (double)st.done / (double)st.total : 100.0, st.failed,
		       left < 0 ? 0 : left, st.written);
		for (int i = 0; st.runs && i < PQntuples(st.runs); i++) {
			char *f[11];
			for (int c = 0; c < 11; c++)
				f[c] = xstrprintable(PQgetisnull(st.runs, i, c) ? NULL : PQgetvalue(st.runs, i, c));
			printf("  run %s  %s  %-11s %s%sdone %s, failed %s, written %s, %s batches, %s ms\n", f[0],
			       f[1], f[10], !strcmp(f[3], "t") ? "dry run, " : "", !strcmp(f[4], "t") ? "retry, " : "",
			       f[5], f[6], f[7], f[8], *f[9] ? f[9] : "-");
			for (int c = 0; c < 11; c++)
				free(f[c]);
		}
		int nf = st.failures ? PQntuples(st.failures) : 0;
		if (nf)
			printf("  failures%s:\n", st.failed > nf ? " (the first 50)" : "");
		for (int i = 0; i < nf; i++) {
			char *f[6];
			for (int c = 0; c < 6; c++)
				f[c] = xstrprintable(PQgetisnull(st.failures, i, c) ? NULL
										    : PQgetvalue(st.failures, i, c));
			printf("    %s=%s  %s  %s  (%s attempt%s, last in run %s)\n", b->source_key, f[0],
			       *f[1] ? f[1] : "-", f[2], f[3], strcmp(f[3], "1") ? "s" : "", f[4]);
			for (int c = 0; c < 6; c++)
				free(f[c]);
		}
	}
	bf_status_release(&st);
	db_close(db);
	return rc;
}

int cmd_backfill(struct cmd_ctx *ctx, int argc, char **argv)
{
	int dry_run = 0, status = 0, retry = 0;
	const char *target = NULL, *limit = NULL, *batch = NULL, *lock_timeout = "10";
	const struct cmd_opt opts[] = {
		{ "dry-run", 0, &dry_run, NULL },
		{ "limit", 1, NULL, &limit },
		{ "batch", 1, NULL, &batch },
		{ "target", 1, NULL, &target },
		{ "status", 0, &status, NULL },
		{ "retry-failed", 0, &retry, NULL },
		{ "lock-timeout", 1, NULL, &lock_timeout },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[2];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 2, 2, &npos,
		      "ENV NAME [--dry-run] [--limit N] [--batch N] [--target T] [--status] [--retry-failed] "
		      "[--lock-timeout SECONDS]"))
		return -1;
	if (limit && whole_number("limit", limit, 1, 9223372036854775807L))
		return -1;
	if (batch && whole_number("batch", batch, 1, BACKFILL_BATCH_MAX))
		return -1;
	if (status && (dry_run || retry || limit || batch)) {
		fail("--status only reads: it takes no --dry-run, --retry-failed, --limit or --batch");
		return fail_status(EXIT_USAGE);
	}
	struct run_opts o = { .command = "backfill", .only_target = target, .lock_timeout_ms = 10000 };
	o.records_dry_run = dry_run; /* every batch is rolled back: the run is a dry run in the history */
	if (cmd_seconds("lock-timeout", lock_timeout, &o.lock_timeout_ms))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	/* the file is read here first so that a bad one fails before any database is touched */
	struct cfg_backfill b;
	if (config_load_backfill(p, pos[1], &b)) {
		cmd_env_release(&env, NULL);
		return -1;
	}
	int rc = 0;
	if (status) {
		const struct cfg_target **targets = NULL;
		size_t n = 0;
		rc = pipeline_targets(&env, NULL, target, &targets, &n);
		for (size_t i = 0; !rc && i < n; i++)
			rc = target_status(p, env.name, targets[i], &b);
		free(targets);
		config_backfill_release(&b);
		cmd_env_release(&env, NULL);
		return rc;
	}
	if (strcmp(env.tier, "prod") == 0 && !dry_run) {
		fail("env \"%s\" is prod-tier: a backfill there needs an approved plan", env.name);
		fail_detail("plan approvals are not implemented in this version of padctl yet, so prod backfills are "
			    "refused");
		fail_hint("use `padctl backfill %s %s --dry-run` to see what it would do", env.name, pos[1]);
		rc = fail_status(EXIT_APPROVAL);
	}
	/* a one-step pipeline: the backfill plugin, its name as the phase, the options as step options */
	struct cfg_option sopts[4];
	size_t nopts = 0;
	if (limit)
		sopts[nopts++] = (struct cfg_option){ "limit", (char *)limit, 0, 0 };
	if (batch)
		sopts[nopts++] = (struct cfg_option){ "batch", (char *)batch, 0, 0 };
	if (dry_run)
		sopts[nopts++] = (struct cfg_option){ "dry_run", "true", 0, 0 };
	if (retry)
		sopts[nopts++] = (struct cfg_option){ "retry_failed", "true", 0, 0 };
	struct cfg_step step = { "backfill", (char *)pos[1], sopts, nopts, 0, 0 };
	struct cfg_pipeline pl;
	memset(&pl, 0, sizeof pl);
	pl.name = "backfill";
	pl.steps = &step;
	pl.nsteps = 1;
	pl.on_failure = "stop";
	struct plugin_registry reg;
	memset(&reg, 0, sizeof reg);
	if (!rc)
		rc = plugin_registry_load(&reg);
	for (size_t i = 0; i < reg.nrefused; i++)
		log_warn("plugin \"%s\" was refused: %s", reg.refused[i].path, reg.refused[i].reason);
	const struct plugin_entry *e = rc ? NULL : plugin_find(&reg, "backfill");
	if (!rc && (!e || e->desc->kind != PADCTL_KIND_BACKFILL)) {
		fail("no backfill plugin is installed");
		fail_hint("`padctl plugins` lists what is installed; the backfill plugin ships with padctl");
		rc = fail_status(EXIT_USAGE);
	}
	if (!rc)
		rc = pipeline_run(p, &env, &pl, &reg, &o);
	plugin_registry_release(&reg);
	config_backfill_release(&b);
	cmd_env_release(&env, NULL);
	return rc;
}

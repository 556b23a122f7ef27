/* padctl seed: the env's seed sets without a deploy (docs/seed.md). It runs
 * through the engine like a deploy (same lock, identity check, run record),
 * with a pipeline of one seed step made from the env's own pipeline: its
 * name, file and stage order, never its other steps. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "name.h"
#include "pipeline.h"
#include "plugin.h"

/* check_set refuses, before anything connects, a set name that is not a name
 * or not one of the env's seed sets */
static int check_set(const struct cfg_env *env, const char *opt, const char *set)
{
	if (!name_valid(NAME_WORD, set)) {
		char *shown = xstrprintable(set);
		fail("invalid seed set \"%s\" for --%s", shown, opt);
		free(shown);
		fail_hint("a seed set is a directory name under paths.seeds: ASCII letters, digits, _ and -");
		return fail_status(EXIT_USAGE);
	}
	for (size_t i = 0; i < env->nseeds; i++)
		if (strcmp(env->seeds[i], set) == 0)
			return 0;
	fail("seed set \"%s\" is not one of the seed sets of env \"%s\"", set, env->name);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < env->nseeds; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", env->seeds[i]);
	fail_detail("%s lists %s", env->file, env->nseeds ? buf_str(&b) : "no seed sets");
	buf_release(&b);
	fail_hint("name one of them, or add it to `seeds:` in %s", env->file);
	return fail_status(EXIT_USAGE);
}

int cmd_seed(struct cmd_ctx *ctx, int argc, char **argv)
{
	int dry_run = 0;
	const char *target = NULL, *set = NULL, *down = NULL, *lock_timeout = "10";
	const struct cmd_opt opts[] = {
		{ "dry-run", 0, &dry_run, NULL },
		{ "target", 1, NULL, &target },
		{ "set", 1, NULL, &set },
		{ "teardown", 1, NULL, &down },
		{ "lock-timeout", 1, NULL, &lock_timeout },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos,
		      "ENV [--set S | --teardown S] [--dry-run] [--target T] [--lock-timeout SECONDS]"))
		return -1;
	if (set && down) {
		fail("--set and --teardown exclude each other");
		fail_hint("seed one set with --set, or tear one down with --teardown");
		return fail_status(EXIT_USAGE);
	}
	struct run_opts o = { .command = "seed", .dry_run = dry_run, .only_target = target, .lock_timeout_ms = 10000 };
	if (cmd_seconds("lock-timeout", lock_timeout, &o.lock_timeout_ms))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (cmd_env(ctx, pos[0], &p, &env, &pl))
		return -1;
	int rc = 0;
	if ((set && check_set(&env, "set", set)) || (down && check_set(&env, "teardown", down)))
		rc = -1;
	if (!rc && strcmp(env.tier, "prod") == 0 && !dry_run) {
		fail("env \"%s\" is prod-tier: seeding it needs a plan approved with `padctl approve`", env.name);
		fail_detail("plan approvals are not implemented in this version of padctl yet, so prod seeds are "
			    "refused like prod deploys");
		fail_hint("use `padctl seed %s --dry-run` to see what would be applied", env.name);
		rc = fail_status(EXIT_APPROVAL);
	}
	struct plugin_registry reg;
	memset(&reg, 0, sizeof reg);
	if (!rc)
		rc = plugin_registry_load(&reg);
	for (size_t i = 0; !rc && i < reg.nrefused; i++)
		log_warn("plugin \"%s\" was refused: %s", reg.refused[i].path, reg.refused[i].reason);
	int have = 0;
	for (size_t i = 0; !rc && i < reg.nplugins; i++)
		have |= strcmp(reg.plugins[i].desc->name, "seed") == 0 && reg.plugins[i].desc->kind == PADCTL_KIND_SEED;
	if (!rc && !have) {
		fail("no seed plugin is installed, so env \"%s\" was not seeded", env.name);
		rc = fail_hint("`padctl plugins` lists what is installed; the seed plugin comes with padctl");
	}
	if (!rc && !env.nseeds && !down) {
		/* nothing to do: no connection, no run record */
		log_info("env %s lists no seed sets (`seeds:` in %s): nothing to apply", env.name, env.file);
		plugin_registry_release(&reg);
		cmd_env_release(&env, &pl);
		return 0;
	}
	/* one seed step; stages give the rollout order, approvals are the
	 * prod refusal above; a failed set is rolled back by its own
	 * transaction, so there is nothing for on_failure to undo */
	struct cfg_option opt = { down ? "teardown" : "set", (char *)(down ? down : set), 0, 0 };
	struct cfg_step step = { "seed", NULL, set || down ? &opt : NULL, set || down ? 1 : 0, 0, 0 };
	struct cfg_stage *stages = pl.nstages ? xcalloc(pl.nstages, sizeof *stages) : NULL;
	for (size_t i = 0; i < pl.nstages; i++) {
		stages[i] = pl.stages[i];
		stages[i].approval = 0;
	}
	struct cfg_pipeline seed_pl = { pl.name, pl.file, &step, 1, "stop", stages, pl.nstages, 0, NULL, 0 };
	if (!rc)
		rc = pipeline_run(p, &env, &seed_pl, &reg, &o);
	free(stages);
	plugin_registry_release(&reg);
	cmd_env_release(&env, &pl);
	return rc;
}

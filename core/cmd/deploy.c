#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"
#include "rollout.h"

int cmd_deploy(struct cmd_ctx *ctx, int argc, char **argv)
{
	int dry_run = 0, allow_ooo = 0;
	const char *target = NULL, *plan = NULL, *lock_timeout = "10";
	const struct cmd_opt opts[] = {
		{ "dry-run", 0, &dry_run, NULL },
		{ "target", 1, NULL, &target },
		{ "plan", 1, NULL, &plan },
		{ "lock-timeout", 1, NULL, &lock_timeout },
		{ "allow-out-of-order", 0, &allow_ooo, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos,
		      "ENV [--dry-run] [--target T] [--plan ID] "
		      "[--lock-timeout SECONDS] [--allow-out-of-order]"))
		return -1;
	struct run_opts o = { .command = "deploy",
			      .dry_run = dry_run,
			      .only_target = target,
			      .lock_timeout_ms = 10000,
			      .allow_out_of_order = allow_ooo,
			      .plan_id = plan };
	if (cmd_seconds("lock-timeout", lock_timeout, &o.lock_timeout_ms))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (cmd_env(ctx, pos[0], &p, &env, &pl))
		return -1;
	int rc = 0;
	/* an env whose pipeline asks for approvals (every prod env) deploys only
	 * a signed plan with its approvals, stage by stage (rollout.h); a dry run
	 * changes nothing and runs as anywhere else */
	int staged = !dry_run && pl.signers;
	if (strcmp(env.tier, "prod") == 0 && !dry_run && !pl.signers) {
		fail("env \"%s\" is prod-tier: a deploy needs a plan approved with `padctl approve`, but pipeline \"%s\" "
		     "has no `approvals:` section",
		     env.name, pl.name);
		fail_hint("add `approvals: {required: N, signers: FILE}` to %s (see docs/approve.md)", pl.file);
		rc = fail_status(EXIT_APPROVAL);
	} else if (staged && !plan) {
		fail("env \"%s\" deploys only an approved plan: pipeline \"%s\" asks for %d approval%s (%s)", env.name,
		     pl.name, pl.approvals_required, pl.approvals_required == 1 ? "" : "s", pl.file);
		fail_detail("nothing was changed");
		fail_hint("`padctl plan %s --key KEY` records a signed plan, `padctl approve PLAN --key KEY` approves it, "
			  "`padctl deploy %s --plan PLAN` rolls it out (`--dry-run` shows what a deploy would do)",
			  env.name, env.name);
		rc = fail_status(EXIT_APPROVAL);
	}
	struct plugin_registry reg;
	memset(&reg, 0, sizeof reg);
	if (!rc)
		rc = plugin_registry_load(&reg);
	for (size_t i = 0; !rc && i < reg.nrefused; i++)
		log_warn("plugin \"%s\" was refused: %s", reg.refused[i].path, reg.refused[i].reason);
	if (!rc)
		rc = staged ? rollout_deploy(p, &env, &pl, &reg, &o) : pipeline_run(p, &env, &pl, &reg, &o);
	plugin_registry_release(&reg);
	cmd_env_release(&env, &pl);
	return rc;
}

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"

int cmd_rollback(struct cmd_ctx *ctx, int argc, char **argv)
{
	int restore = 0, dry_run = 0;
	const char *run = NULL, *to = NULL, *target = NULL, *lock_timeout = "10", *plan = NULL;
	const struct cmd_opt opts[] = {
		{ "plan", 1, NULL, &plan },
		{ "run", 1, NULL, &run },
		{ "to", 1, NULL, &to },
		{ "restore", 0, &restore, NULL },
		{ "target", 1, NULL, &target },
		{ "dry-run", 0, &dry_run, NULL },
		{ "lock-timeout", 1, NULL, &lock_timeout },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos,
		      "ENV [--run ID | --to VERSION | --plan ID] [--restore] [--target T] [--dry-run] "
		      "[--lock-timeout SECONDS]"))
		return -1;
	struct rollback_opts o = { run, to, restore, target, dry_run, 10000 };
	if (cmd_seconds("lock-timeout", lock_timeout, &o.lock_timeout_ms))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	int rc = 0;
	/* a prod rollback runs an approved rollback plan (approve.c), which says what to undo */
	char *plan_run = NULL, *plan_to = NULL;
	int approved = 0;
	if (plan && (run || to || target)) {
		fail("--plan says what to undo on every target: --run, --to and --target do not go with it");
		rc = fail_status(EXIT_USAGE);
	} else if (plan) {
		rc = rollback_plan_check(ctx, pos[0], plan, &plan_run, &plan_to);
		o.run_id = plan_run;
		o.to = plan_to;
		approved = !rc && !dry_run;
	}
	if (!rc && !plan && strcmp(env.tier, "prod") == 0 && !dry_run) {
		fail("env \"%s\" is prod-tier: a rollback needs an approved rollback plan", env.name);
		fail_detail("nothing was changed");
		fail_hint("`padctl plan %s --rollback [--run ID | --to VERSION] --key KEY`, `padctl approve PLAN --key "
			  "KEY`, then `padctl rollback %s --plan PLAN`; `--dry-run` shows what a rollback would run",
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
		rc = pipeline_rollback(p, &env, &reg, &o);
	if (approved)
		rollback_plan_done(ctx, pos[0], plan, rc != 0);
	free(plan_run);
	free(plan_to);
	plugin_registry_release(&reg);
	cmd_env_release(&env, NULL);
	return rc;
}

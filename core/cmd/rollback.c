#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"

int cmd_rollback(struct cmd_ctx *ctx, int argc, char **argv)
{
	int restore = 0, dry_run = 0;
	const char *run = NULL, *to = NULL, *target = NULL, *lock_timeout = "10";
	const struct cmd_opt opts[] = {
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
		      "ENV [--run ID | --to VERSION] [--restore] [--target T] [--dry-run] [--lock-timeout SECONDS]"))
		return -1;
	struct rollback_opts o = { run, to, restore, target, dry_run, 10000 };
	if (cmd_seconds("lock-timeout", lock_timeout, &o.lock_timeout_ms))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	int rc = 0;
	/* like deploy: a prod change needs an approval, and approvals do not exist yet */
	if (strcmp(env.tier, "prod") == 0 && !dry_run) {
		fail("env \"%s\" is prod-tier: a rollback needs an approval, and approvals are not implemented in this "
		     "version of padctl yet",
		     env.name);
		fail_detail("so prod rollbacks are refused; nothing was changed");
		fail_hint("use `padctl rollback %s --dry-run` to see what a rollback would run", env.name);
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
	plugin_registry_release(&reg);
	cmd_env_release(&env, NULL);
	return rc;
}

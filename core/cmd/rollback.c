#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"

int cmd_rollback(struct cmd_ctx *ctx, int argc, char **argv)
{
	int restore = 0;
	const char *run = NULL, *to = NULL;
	const struct cmd_opt opts[] = {
		{ "run", 1, NULL, &run },
		{ "to", 1, NULL, &to },
		{ "restore", 0, &restore, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--run ID] [--to VERSION] [--restore]"))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	struct plugin_registry reg;
	memset(&reg, 0, sizeof reg);
	int rc = plugin_registry_load(&reg);
	int have = 0;
	for (size_t i = 0; i < reg.nplugins; i++)
		have |= reg.plugins[i].desc->kind == PADCTL_KIND_ROLLBACK;
	if (!rc) {
		fail("no rollback strategy is installed, so env \"%s\" was not rolled back", env.name);
		fail_detail(have ? "rollback strategies are installed, but this padctl cannot drive them yet"
				 : "rollback strategies (down, restore) are plugins of kind rollback; none was found "
				   "(`padctl plugins` lists what is installed)");
		fail_hint("nothing was changed; to undo a migration by hand, run its down.sql and delete its row from "
			  "padctl.migrations in one transaction");
		rc = -1;
	}
	plugin_registry_release(&reg);
	cmd_env_release(&env, NULL);
	return rc;
}

/* padctl trust ENV [--revoke]: agree to run the env's password_command (trust.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "trust.h"

int cmd_trust(struct cmd_ctx *ctx, int argc, char **argv)
{
	int revoke = 0;
	const struct cmd_opt opts[] = {
		{ "revoke", 0, &revoke, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--revoke]"))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	int rc = 0, n = 0;
	for (size_t i = 0; i < env.ntargets && !rc; i++) {
		const struct cfg_target *t = &env.targets[i];
		if (!t->db.password_command)
			continue;
		n++;
		rc = trust_set(p->root, t->db.password_command, !revoke);
		if (rc)
			break;
		char *cmd = xstrprintable(t->db.password_command), *tname = xstrprintable(t->name),
		     *file = xstrprintable(env.file);
		printf("%s password_command of target %s (%s:%d): %s\n", revoke ? "untrusted" : "trusted", tname, file,
		       t->db.password_command_line, cmd);
		free(cmd);
		free(tname);
		free(file);
	}
	if (!rc && !n)
		printf("env %s has no password_command: nothing to %s\n", env.name, revoke ? "revoke" : "trust");
	if (!rc && n) {
		char *file = trust_file(), *pfile = xstrprintable(file), *root = xstrprintable(p->root);
		printf("recorded in %s for project %s\n", pfile, root);
		free(file);
		free(pfile);
		free(root);
	}
	cmd_env_release(&env, NULL);
	return rc;
}

#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

int cmd_env(struct cmd_ctx *ctx, const char *name, const struct cfg_project **p, struct cfg_env *env,
	    struct cfg_pipeline *pl)
{
	memset(env, 0, sizeof *env);
	if (pl)
		memset(pl, 0, sizeof *pl);
	if (cmd_project(ctx, p))
		return -1;
	if (config_load_env(*p, name, env))
		return fail_status(EXIT_USAGE);
	if (pl && config_load_pipeline(*p, env->pipeline, env, pl)) {
		fail_detail("env \"%s\" uses pipeline \"%s\" (%s:%d)", env->name, env->pipeline, env->file,
			    env->pipeline_line);
		config_env_release(env);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

void cmd_env_release(struct cfg_env *env, struct cfg_pipeline *pl)
{
	config_env_release(env);
	if (pl)
		config_pipeline_release(pl);
}

int cmd_seconds(const char *opt, const char *value, long *ms)
{
	char *end;
	double s = strtod(value, &end);
	if (!*value || *end || s < 0 || s > 86400) {
		fail("option \"--%s\" takes seconds (0 to 86400), not \"%s\"", opt, value);
		return fail_status(EXIT_USAGE);
	}
	*ms = (long)(s * 1000.0);
	return 0;
}

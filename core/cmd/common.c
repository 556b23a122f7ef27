#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#include "cmd.h"
#include "confine.h"
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
	errno = 0;
	double s = strtod(value, &end);
	/* NaN compares false with everything, so test for the accepted range, not against it */
	if (!*value || *end || errno == ERANGE || !isfinite(s) || !(s >= 0 && s <= 86400)) {
		fail("option \"--%s\" takes seconds (0 to 86400), not \"%s\"", opt, value);
		return fail_status(EXIT_USAGE);
	}
	*ms = (long)(s * 1000.0);
	return 0;
}

int cmd_project(struct cmd_ctx *ctx, const struct cfg_project **p)
{
	if (!ctx->have_project) {
		char *root = NULL;
		if (config_find_root(ctx->dir_opt, &root))
			return fail_status(EXIT_USAGE);
		int rc = config_load_project(root, &ctx->project);
		free(root);
		if (rc)
			return fail_status(EXIT_USAGE);
		ctx->have_project = 1;
		confine_set_root(ctx->project.root);
	}
	*p = &ctx->project;
	return 0;
}

static const struct cmd_opt *find_opt(const struct cmd_opt *opts, const char *name, size_t len)
{
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
			return opts;
	return NULL;
}

static int usage_error(const char *cmd, const char *usage_line, const struct cmd_opt *opts)
{
	struct buf b = BUF_INIT;
	for (const struct cmd_opt *o = opts; o && o->name; o++)
		buf_addf(&b, "%s--%s%s", b.len ? ", " : "", o->name, o->has_arg ? " VALUE" : "");
	fail_detail("usage: padctl %s %s", cmd, usage_line);
	if (b.len)
		fail_detail("options: %s", buf_str(&b));
	buf_release(&b);
	return fail_status(EXIT_USAGE);
}

int cmd_parse(int argc, char **argv, const struct cmd_opt *opts, const char **pos, int min_pos, int max_pos,
	      int *npos, const char *usage_line)
{
	const char *cmd = argv[0];
	int n = 0, only_pos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
				printf("usage: padctl %s %s\n", cmd, usage_line);
				for (const struct cmd_opt *o = opts; o && o->name; o++)
					printf("  --%s%s\n", o->name, o->has_arg ? " VALUE" : "");
				exit(0);
			}
			if (a[1] != '-') {
				fail("unknown option \"%s\" for \"%s\"", a, cmd);
				return usage_error(cmd, usage_line, opts);
			}
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct cmd_opt *o = find_opt(opts, name, len);
			if (!o) {
				fail("unknown option \"--%.*s\" for \"%s\"", (int)len, name, cmd);
				return usage_error(cmd, usage_line, opts);
			}
			if (!o->has_arg) {
				if (eq) {
					fail("option \"--%s\" of \"%s\" takes no value", o->name, cmd);
					return usage_error(cmd, usage_line, opts);
				}
				*o->flag = 1;
				continue;
			}
			if (eq) {
				*o->value = eq + 1;
			} else if (i + 1 < argc) {
				*o->value = argv[++i];
			} else {
				fail("option \"--%s\" of \"%s\" needs a value", o->name, cmd);
				return usage_error(cmd, usage_line, opts);
			}
			continue;
		}
		if (n >= max_pos) {
			fail("unexpected argument \"%s\" for \"%s\"", a, cmd);
			return usage_error(cmd, usage_line, opts);
		}
		pos[n++] = a;
	}
	if (n < min_pos) {
		fail("\"%s\" needs more arguments", cmd);
		return usage_error(cmd, usage_line, opts);
	}
	*npos = n;
	return 0;
}


/* padctl: command table and dispatch (git style). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"

struct command {
	const char *name;
	cmd_fn fn;
	const char *args;
	const char *summary;
};

static const struct command commands[] = {
	{ "init", cmd_init, "", "scaffold a project (padctl.yml, envs/, pipelines/, migrations/)" },
	{ "new", cmd_new, "NAME", "scaffold the next migration directory" },
	{ "envs", cmd_envs, "", "environments and their targets" },
	{ "status", cmd_status, "ENV", "per target: reachable, applied / pending / skipped migrations, lock holder" },
	{ "plan", cmd_plan, "ENV", "what a deploy would do, with the SQL; recorded with an id and a hash" },
	{ "deploy", cmd_deploy, "ENV [--dry-run] [--target T]", "run the env's pipeline" },
	{ "rollback", cmd_rollback, "ENV", "undo the last deploy" },
	{ "history", cmd_history, "ENV", "deploy and rollback records" },
	{ "baseline", cmd_baseline, "ENV VERSION", "adopt an existing database: mark history up to VERSION applied" },
	{ "plugins", cmd_plugins, "", "plugins found, with kind, version and ABI" },
	{ "doctor", cmd_doctor, "[ENV]", "installation and connectivity check, with the fix for each problem" },
	{ "local", cmd_local, "start|stop|status", "the managed local PostgreSQL cluster" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: padctl [-C DIR] [--json] [-q|-v] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %-30s %s\n", commands[i].name, commands[i].args, commands[i].summary);
	fprintf(f, "\nRun `padctl COMMAND --help` for a command's options. Docs: docs/<command>.md\n");
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

int main(int argc, char **argv)
{
	struct cmd_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.verbosity = LOG_NORMAL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-C") == 0 && i + 1 < argc)
			ctx.dir_opt = argv[++i];
		else if (strncmp(a, "-C", 2) == 0 && a[2])
			ctx.dir_opt = a + 2;
		else if (strcmp(a, "--json") == 0)
			ctx.json = 1;
		else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
			ctx.verbosity = LOG_QUIET;
		else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
			ctx.verbosity = LOG_VERBOSE;
		else if (strcmp(a, "--version") == 0) {
			printf("padctl %s\n", PADCTL_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			log_setup(ctx.verbosity);
			fail("unknown option \"%s\"", a);
			fail_hint("global options are -C DIR, --json, -q, -v; command options go after the command");
			fail_status(EXIT_USAGE);
			err_print();
			return EXIT_USAGE;
		}
	}
	log_setup(ctx.verbosity);
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const struct command *c = NULL;
	for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
		if (strcmp(commands[k].name, argv[i]) == 0)
			c = &commands[k];
	int rc;
	if (!c) {
		fail("unknown command \"%s\"", argv[i]);
		fail_hint("run `padctl --help` for the list of commands");
		rc = fail_status(EXIT_USAGE);
	} else {
		rc = c->fn(&ctx, argc - i, argv + i);
	}
	if (ctx.have_project)
		config_project_release(&ctx.project);
	if (rc && !err_pending())
		fail("\"%s\" failed", argv[i]);
	if (err_pending()) {
		int status = err_exit_status();
		err_print();
		err_clear();
		return status ? status : EXIT_STEP;
	}
	return 0;
}

/* padctl: command table and dispatch (git style). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "sig.h"

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
	{ "approve", cmd_approve, "PLAN --key KEY [--stage S]", "sign a prod plan (or one stage of it) as an approver" },
	{ "deploy", cmd_deploy, "ENV [--dry-run] [--target T]", "run the env's pipeline" },
	{ "rollback", cmd_rollback, "ENV", "undo the last deploy" },
	{ "seed", cmd_seed, "ENV [--set S] [--teardown S]", "apply the env's seed sets without a deploy" },
	{ "history", cmd_history, "ENV", "deploy and rollback records" },
	{ "backups", cmd_backups, "ENV [--verify]", "per target, the backups taken, verified and kept" },
	{ "validate", cmd_validate, "ENV [--target T]",
	  "the pipeline's preflight validate steps alone (privileges, drift)" },
	{ "baseline", cmd_baseline, "ENV VERSION", "adopt an existing database: mark history up to VERSION applied" },
	{ "repair", cmd_repair, "ENV VERSION... --reason TEXT",
	  "accept the new checksum of an applied migration whose file was reformatted" },
	{ "backfill", cmd_backfill, "ENV NAME [--dry-run] [--limit N] [--status] [--retry-failed]",
	  "run a data migration (backfills/NAME.yml) in resumable batches" },
	{ "plugins", cmd_plugins, "", "plugins found, with kind, version and ABI" },
	{ "doctor", cmd_doctor, "[ENV]", "installation and connectivity check, with the fix for each problem" },
	{ "local", cmd_local, "start|stop|status", "the managed local PostgreSQL cluster" },
	{ "trust", cmd_trust, "ENV [--revoke]", "allow the env's password_command to run (it comes from the project)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: padctl [-C DIR] [--json] [-q|-v] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %-30s %s\n", commands[i].name, commands[i].args, commands[i].summary);
	fprintf(f, "\nRun `padctl COMMAND --help` for a command's options. Docs: docs/<command>.md\n");
}

static int run(int argc, char **argv)
{
	struct cmd_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.verbosity = LOG_NORMAL;
	sig_init();
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

/* stdout_check fails when what the command printed did not reach its
 * destination (a full disk, /dev/full, a closed pipe): exiting 0 would claim
 * output that does not exist. Checked once at exit, as git does. */
static int stdout_checked;

static int stdout_check(int rc)
{
	stdout_checked = 1;
	errno = 0;
	int bad = fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	if (fclose(stdout) != 0 && !bad) {
		bad = 1;
		e = errno;
	}
	if (!bad)
		return rc;
	fprintf(stderr, "%serror:%s could not write to standard output: %s\n", log_color() ? "\033[1;31m" : "",
		log_color() ? "\033[0m" : "", e ? strerror(e) : "write error");
	return rc ? rc : EXIT_STEP;
}

/* stdout_at_exit covers the paths that call exit() themselves (`--help` of a command) */
static void stdout_at_exit(void)
{
	if (!stdout_checked && stdout_check(0))
		_exit(EXIT_STEP);
}

int main(int argc, char **argv)
{
	atexit(stdout_at_exit);
	return stdout_check(run(argc, argv));
}

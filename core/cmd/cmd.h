/* cmd: what every command gets, and the helpers they share. Each command lives
 * in core/cmd/<name>.c and is listed in main.c's command table. Commands are
 * not part of the library: only main.c, core/cmd/ and the unit tests of these
 * helpers include this header (docs/internals.md). */
#ifndef PADCTL_CMD_H
#define PADCTL_CMD_H

#include "config.h"

struct cmd_ctx {
	const char *dir_opt;   /* -C DIR */
	int json;              /* --json */
	int verbosity;         /* LOG_QUIET / LOG_NORMAL / LOG_VERBOSE */
	struct cfg_project project;
	int have_project;
};

/* cmd_project loads the project (once) and returns it; errors are EXIT_USAGE. */
int cmd_project(struct cmd_ctx *ctx, const struct cfg_project **p);

/* An option a command accepts. has_arg: 0 flag (sets *flag = 1), 1 value (sets *value). */
struct cmd_opt {
	const char *name;      /* "dry-run" for --dry-run */
	int has_arg;
	int *flag;
	const char **value;
};

/* cmd_parse parses argv (argv[0] is the command name) against opts: unknown
 * options, missing values and too few / too many positional arguments are
 * usage errors (exit 2) naming the command. Positional arguments go to pos[]
 * (borrowed from argv). "--opt=value" and "--opt value" both work; "--" ends options. */
int cmd_parse(int argc, char **argv, const struct cmd_opt *opts, const char **pos, int min_pos, int max_pos,
	      int *npos, const char *usage);

/* cmd_env loads the project, the named env and its pipeline (pl may be NULL
 * when the command needs no pipeline). Release with cmd_env_release. */
int cmd_env(struct cmd_ctx *ctx, const char *name, const struct cfg_project **p, struct cfg_env *env,
	    struct cfg_pipeline *pl);
void cmd_env_release(struct cfg_env *env, struct cfg_pipeline *pl);
/* cmd_seconds parses a --lock-timeout style value ("30", "2.5") into milliseconds. */
int cmd_seconds(const char *opt, const char *value, long *ms);

typedef int (*cmd_fn)(struct cmd_ctx *ctx, int argc, char **argv);

int cmd_init(struct cmd_ctx *, int, char **);
int cmd_new(struct cmd_ctx *, int, char **);
int cmd_envs(struct cmd_ctx *, int, char **);
int cmd_status(struct cmd_ctx *, int, char **);
int cmd_plan(struct cmd_ctx *, int, char **);
int cmd_deploy(struct cmd_ctx *, int, char **);
int cmd_history(struct cmd_ctx *, int, char **);
int cmd_backups(struct cmd_ctx *, int, char **);
int cmd_baseline(struct cmd_ctx *, int, char **);
int cmd_repair(struct cmd_ctx *, int, char **);
int cmd_rollback(struct cmd_ctx *, int, char **);
int cmd_seed(struct cmd_ctx *, int, char **);
int cmd_plugins(struct cmd_ctx *, int, char **);
int cmd_doctor(struct cmd_ctx *, int, char **);
int cmd_local(struct cmd_ctx *, int, char **);
int cmd_trust(struct cmd_ctx *, int, char **);
int cmd_validate(struct cmd_ctx *, int, char **);
int cmd_backfill(struct cmd_ctx *, int, char **);
int cmd_approve(struct cmd_ctx *, int, char **);
/* `plan show ID` and `plan verify ID` (argv[0] is "show" or "verify") */
int cmd_plan_audit(struct cmd_ctx *, int, char **);
/* history_plans adds the env's plans with their signatures and stage records
 * (as recorded) to `padctl history`: printed, or into doc (a json_t object)
 * as "plans" when doc is non-NULL; nothing when the env keeps none. */
/* Rollback plans (approve.c): plan_rollback is `plan ENV --rollback`;
 * rollback_plan_check checks rollback plan id of env (signed, approved, still
 * holding) and says what it undoes (*run or *to, newly allocated, or both
 * NULL: the newest run); rollback_plan_done records its outcome. */
int plan_rollback(struct cmd_ctx *ctx, const char *envname, const char *key, const char *run, const char *to,
		  const char *out);
int rollback_plan_check(struct cmd_ctx *ctx, const char *envname, const char *id, char **run, char **to);
void rollback_plan_done(struct cmd_ctx *ctx, const char *envname, const char *id, int failed);
int history_plans(const struct cfg_project *p, const struct cfg_env *env, long limit, void *doc);

#endif

/* config: the project, environment and pipeline YAML files, loaded with libyaml
 * into validated structs. Every error names file:line:col and what was expected.
 * All paths in the structs are absolute; all strings are owned by the struct.
 * Errors are config errors (exit status 2). YAML anchors and aliases work; an
 * error inside an aliased node names the line where the anchor is.
 */
#ifndef PADCTL_CONFIG_H
#define PADCTL_CONFIG_H

#include <stddef.h>

/* One `RULE: value` entry of padctl.yml's lint.rules (value a severity) or
 * of a meta.yml's lint.allow (value the reason); the rule names are checked
 * by lint (lint.h), which owns the rule table. */
struct cfg_lint_allow {
	char *rule;
	char *value;
	int line, col;
};
struct cfg_database;

struct cfg_project {
	char *root;            /* absolute project directory */
	char *file;            /* root/padctl.yml */
	char *name;            /* `project:` */
	char **owned;          /* schemas.owned */
	size_t nowned;
	char **protected_schemas; /* schemas.protected */
	size_t nprotected;
	char *migrations_dir;  /* absolute; default root/migrations */
	char *seeds_dir;
	char *contracts_dir;
	char *backfills_dir;
	int lock_timeout;      /* migrations.lock_timeout in seconds (default 5; 0: wait without limit) */
	char **seeds_prod; /* seeds.allow_in_prod: the seed sets a prod-tier env may list */
	size_t nseeds_prod;
	char *backups_dir;     /* backups.dir, absolute; default root/.padctl/backups */
	int backups_keep;      /* backups.keep: backups kept per target (default 10) */
	struct cfg_lint_allow *lint_rules; /* lint.rules: severities by rule ("error", "warning", "off") */
	size_t nlint_rules;
	int guard;             /* migrations.guard: check the protected schemas before each commit (default 1) */
	int drift; /* padctl.yml has `drift:`: drift checks may run */
	struct cfg_database *drift_scratch; /* drift.scratch as a server; NULL: the managed local cluster */
	int drift_keep; /* drift.keep: replays kept (default 4) */
};

struct cfg_ssh {
	char *host;
	int port;              /* default 22 */
	char *user;            /* NULL: the local user name */
	char *identity;        /* ~ expanded; NULL: use the agent */
	char *passphrase_env;  /* env var holding the identity's passphrase */
	char *known_hosts;     /* ~ expanded; default ~/.ssh/known_hosts */
	int tunnel;            /* bool */
	char *tools;           /* "local" (default) or "remote" */
	int line;
	char *backups_dir;     /* absolute path on the SSH host: backups stay there; NULL: streamed back */
};

struct cfg_database {
	int managed;           /* padctl runs a private cluster under .padctl/ */
	char *host;            /* default 127.0.0.1 (unmanaged); NULL when managed */
	int port;              /* default 5432; 0 when managed (the cluster picks it) */
	char *dbname;          /* default: project name */
	char *user;            /* default: $USER */
	char *password_env;    /* name of the env var holding the password */
	char *password_command;/* shell command printing the password; runs only once trusted (trust.h) */
	char *trust_root;      /* with password_command: the project root it came from */
	char *trust_env;       /* with password_command: the env whose file holds it */
	int password_command_line; /* with password_command: its line in that file */
	char *passfile;        /* a pgpass file (~ expanded) */
	char *sslmode;         /* default "prefer" */
	int connect_timeout;   /* seconds, default 10 */
	char **fixtures;       /* managed only: SQL files (absolute) loaded once when the database is created;
				* not checked for existence here (the managed-cluster code reports a missing one) */
	size_t nfixtures;
	int line;
};

struct cfg_target {
	char *name;
	struct cfg_database db;
	struct cfg_ssh *ssh;   /* NULL when not configured */
	int line;              /* where the target is defined in the env file */
};

struct cfg_skip {
	char *version;
	char *reason;
	int line;
};

struct cfg_env {
	char *name;
	char *file;            /* absolute path of envs/<name>.yml */
	char *tier;            /* "nonprod" (default) or "prod" */
	char *pipeline;        /* default "standard" ("prod" when tier is prod) */
	int pipeline_line;     /* line of `pipeline:`; 0 when defaulted */
	struct cfg_target *targets;
	size_t ntargets;
	struct cfg_skip *skips;
	size_t nskips;
	char **seeds;
	size_t nseeds;
	char *ledger;          /* target holding env-wide records; default the first target (always set) */
	int lock_timeout;      /* migrations.lock_timeout in seconds; the project's unless the env sets it */
	int *seed_lines; /* per seeds[i]: its line in the env file */
	int rollback_restore;  /* rollback.restore: automatic rollback may restore (default: not prod) */
};

struct cfg_option {
	char *key;
	char *value;           /* scalars only, as written */
	int line;
	int col;
};

struct cfg_step {
	char *plugin;          /* `- migrate` or `- validate: preflight` -> "validate" */
	char *phase;           /* "preflight", or NULL */
	struct cfg_option *opts; /* `- migrate: {allow_out_of_order: true}` */
	size_t nopts;
	int line;
	int col;
};

struct cfg_stage {
	char *name;
	char **targets;
	size_t ntargets;
	int approval;
	int line;
};

struct cfg_pipeline {
	char *name;
	char *file;
	struct cfg_step *steps;
	size_t nsteps;
	char *on_failure;      /* "rollback" (default) or "stop" */
	struct cfg_stage *stages; /* none: one implicit stage with every target */
	size_t nstages;
	int approvals_required;/* 0 when no approvals section */
	char *signers;         /* absolute path of the allowed_signers file */
	int approvals_valid_for; /* hours an approval counts after it was signed; 0: no limit */
};

/* config_find_root finds the project directory: dir_opt (-C), else
 * $PADCTL_PROJECT, else the current directory or its nearest parent holding
 * padctl.yml. Sets *root to a newly allocated absolute path. */
int config_find_root(const char *dir_opt, char **root);

/* config_load_project reads root/padctl.yml. */
int config_load_project(const char *root, struct cfg_project *p);
/* config_project_release frees what config_load_project allocated. */
void config_project_release(struct cfg_project *p);

/* config_list_envs sets *names to the sorted env names found in envs/ (caller frees each and the array). */
int config_list_envs(const struct cfg_project *p, char ***names, size_t *n);

/* config_load_env reads envs/<name>.yml; an unknown env is an error listing the
 * known ones, and so is a pipeline that pipelines/ does not have. */
int config_load_env(const struct cfg_project *p, const char *name, struct cfg_env *e);
/* config_env_release frees what config_load_env allocated. */
void config_env_release(struct cfg_env *e);
/* config_env_target returns the named target or NULL. */
const struct cfg_target *config_env_target(const struct cfg_env *e, const char *name);
/* config_env_skip returns the skip entry for a version or NULL; versions compare
 * by number, so "17" matches a skip written as "0017". */
const struct cfg_skip *config_env_skip(const struct cfg_env *e, const char *version);

/* config_load_pipeline reads pipelines/<name>.yml and checks stage targets against env (may be NULL). */
int config_load_pipeline(const struct cfg_project *p, const char *name, const struct cfg_env *env,
			 struct cfg_pipeline *pl);
/* config_pipeline_release frees what config_load_pipeline allocated. */
void config_pipeline_release(struct cfg_pipeline *pl);

/* config_bool reads a YAML-style boolean (true/false, yes/no, on/off, any
 * case) into *value; returns -1 for anything else. */
int config_bool(const char *text, int *value);

/* A migration's meta.yml. */
struct cfg_meta {
	int transactional;      /* default 1 */
	char *destructive;      /* `destructive: "reason"`, or NULL */
	struct cfg_lint_allow *allow; /* lint.allow: rule -> reason */
	size_t nallow;
};

/* config_read_meta reads meta.yml into m (set m->transactional to the
 * default first); free with config_meta_release. */
int config_read_meta(const char *path, struct cfg_meta *m);
void config_meta_release(struct cfg_meta *m);
void config_lint_allow_free(struct cfg_lint_allow *v, size_t n);

/* config_load_meta reads a migration's meta.yml with the rules of every other
 * config file (one document, a mapping, no duplicate keys, size cap,
 * file:line:col errors); sets *transactional when the file says. */
int config_load_meta(const char *path, int *transactional);

/* config_key_table_name returns the name of the i-th key table (from 0:
 * "padctl.yml", "env", "target", "database", "ssh", "pipeline", "stage", "meta.yml", "backfill.yml"),
 * NULL past the last. config_key_table_markdown appends the named table's key
 * reference, as docs/config.md shows it (-1 for an unknown name). The tables
 * are the ones the loaders walk, so the reference cannot drift from them. */
struct buf;
const char *config_key_table_name(size_t i);
int config_key_table_markdown(const char *name, struct buf *out);

/* config_expand_home returns path (newly allocated) with a leading ~/ replaced
 * by $HOME and a leading ~user/ by that user's home directory; NULL when
 * ~user names no user (and for a NULL path). */
char *config_expand_home(const char *path);

#endif

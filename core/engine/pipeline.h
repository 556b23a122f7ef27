/* pipeline: the engine. Runs an env's pipeline, step by step, on each of the
 * env's targets (stage by stage), with the host services table plugins use,
 * the per-target lock, the ledger records and the failure policy. */
#ifndef PADCTL_PIPELINE_H
#define PADCTL_PIPELINE_H

#include <jansson.h>

#include "config.h"
#include "migrations.h"
#include "plugin.h"

struct run_opts {
	const char *command;       /* "deploy" */
	int dry_run;
	const char *only_target;   /* --target, or NULL */
	long lock_timeout_ms;
	int allow_out_of_order;
	const char *plan_id; /* deploy --plan: run this stored plan only if it still holds; NULL: build one */
	/* validate: run only the steps of this plugin kind (0: every step) and,
	 * when only_phase is set, of that phase (a step without a phase runs
	 * in every phase); a pipeline with no such step is a usage error */
	int only_kind;
	const char *only_phase;
	int keep_going; /* go on to the next target after a failed one (the run still fails) */
	struct run_report *report; /* NULL, or what each target's run found */
	/* the run writes (it is not dry_run) but changes nothing it is about: it
	 * is recorded in padctl.runs as a dry run (backfill --dry-run) */
	int records_dry_run;
};

/* What a run found on each target, for a command that reports it as a whole
 * (validate --json): filled by pipeline_run when run_opts.report is set. */
struct run_report_target {
	char *target;
	int ran; /* the target was reached (it was not left out by a failure before it) */
	int ok;
	char *error; /* the target's error (its first line), or NULL */
	json_t *drift; /* the drift service's last result on the target (drift_json), or NULL */
};
struct run_report {
	struct run_report_target *v;
	size_t n;
};
/* run_report_release frees what pipeline_run put in r. */
void run_report_release(struct run_report *r);
/* One stage of a staged rollout (rollout.h): what pipeline_run_stage adds. */
struct stage_opts {
	const unsigned char *skip; /* per target in rollout order: 1 = not run now, its recorded part of the plan stands */
	const char *run_id; /* the run's id */
};

/* A resolved step: its config and the plugin that runs it (NULL when not installed). */
struct resolved_step {
	const struct cfg_step *cfg;
	const struct plugin_entry *plugin;
};

/* pipeline_resolve finds each step's plugin and checks its phase and options
 * against what the plugin declares, before any database is touched. A step
 * whose plugin is not installed is an error in a prod-tier env and a warning
 * (the step is skipped) elsewhere. *steps is the caller's (free()). */
int pipeline_resolve(const struct cfg_pipeline *pl, const struct cfg_env *env, const struct plugin_registry *reg,
		     struct resolved_step **steps);

/* pipeline_targets lists the env's targets in rollout order (stage by stage),
 * restricted to only (when non-NULL); *out is the caller's (free()). */
int pipeline_targets(const struct cfg_env *env, const struct cfg_pipeline *pl, const char *only,
		     const struct cfg_target ***out, size_t *n);

/* pipeline_check_gates refuses (EXIT_APPROVAL) a run of command (deploy,
 * repair: the messages name it) in an env whose pipeline asks for approvals
 * or a stage gate, whatever the env's tier, as long as padctl cannot check
 * them: refused, never silently ignored. A dry run changes nothing and is let
 * through with a warning. */
int pipeline_check_gates(const struct cfg_pipeline *pl, const struct cfg_env *env, const char *command,
			 int dry_run);

/* pipeline_run runs the pipeline on every target in order and stops at the
 * first failure, after applying the on_failure policy. */
int pipeline_run(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
		 const struct plugin_registry *reg, const struct run_opts *o);
/* pipeline_run_stage is pipeline_run of stored plan o->plan_id on the
 * targets so->skip leaves, as run so->run_id, once the caller checked the
 * approvals and the stage gate; a failure also rolls back every other
 * target this run changed (the stage as a whole). */
int pipeline_run_stage(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
		       const struct plugin_registry *reg, const struct run_opts *o, const struct stage_opts *so);

/* What `padctl rollback` undoes, and how. */
struct rollback_opts {
	const char *run_id;        /* --run: that run's migrations still applied; NULL: the newest run's */
	const char *to;            /* --to: every applied migration newer than this version, across runs */
	int restore;               /* --restore: restore from the backup where down cannot undo */
	const char *only_target;   /* --target, or NULL */
	int dry_run;               /* print the down SQL, change nothing */
	long lock_timeout_ms;
};

/* pipeline_rollback undoes, on each target of the env, the newest run that
 * still has migrations applied (or o's run, or everything newer than o's
 * version) with the rollback plugin's strategies, as a rollback run of its
 * own under the target's lock. A run later runs built on is refused
 * (EXIT_USAGE) naming them. Stops at the first target that fails. */
int pipeline_rollback(const struct cfg_project *p, const struct cfg_env *env, const struct plugin_registry *reg,
		      const struct rollback_opts *o);

/* pipeline_check_migrations refuses checksum mismatches and (unless allowed)
 * out-of-order migrations of a target's plan, listing each. */
int pipeline_check_migrations(const struct mig_plan *plan, const char *target, int allow_out_of_order);

struct db;
struct plan_target;
/* pipeline_check_steps calls check() of each step's plugin that has one, for
 * `padctl plan` on target t (db open, pt its part of the plan): open, check,
 * close, each step in its own error scope, under the dry run's guards in a
 * READ ONLY transaction rolled back afterwards. The first failing check is
 * the error. */
int pipeline_check_steps(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
			 const struct resolved_step *steps, const struct cfg_target *t, struct db *db,
			 const struct plan_target *pt, const char *run_id);

#endif

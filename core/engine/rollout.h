/* rollout: `padctl deploy ENV --plan ID` for an env whose pipeline asks for
 * approvals (every prod env): a signed, approved plan rolled out stage by
 * stage, resumable, with every stage and target recorded in the env's
 * ledger target (approvals.h). docs/deploy.md describes the rules. */
#ifndef PADCTL_ROLLOUT_H
#define PADCTL_ROLLOUT_H

#include "config.h"
#include "pipeline.h"
#include "plugin.h"

/* rollout_deploy checks plan o->plan_id's signatures and approvals now
 * (EXIT_APPROVAL while some are missing), re-derives every target of the
 * stages not done yet and refuses any change since it was signed, then runs
 * those stages in order: each waits for its own gate approval when it has
 * `approval: true` (EXIT_APPROVAL, nothing of it touched), and a failure
 * rolls back every target of its stage that the run changed and stops. */
int rollout_deploy(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
		   const struct plugin_registry *reg, const struct run_opts *o);

#endif

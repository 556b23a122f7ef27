#include "rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "buf.h"
#include "inspect.h"
#include "ledger.h"
#include "log.h"
#include "plan.h"
#include "target.h"

/* the one stage of a pipeline without `stages` */
#define ALL_STAGE "all"

struct stage {
	const char *name;
	int approval;
	int done;
};

static const struct cfg_target *ledger_target(const struct cfg_env *env)
{
	return env->ledger ? config_env_target(env, env->ledger) : &env->targets[0];
}

/* record appends a stage record to the ledger target; a failure to record is
 * reported as a warning (the deploy's own outcome stays the error) */
static void record(const struct cfg_project *p, const struct cfg_env *env, const char *plan_id, const char *stage,
		   const char *target, const char *run_id, const char *event, const char *detail)
{
	struct err_scope e;
	err_scope_push(&e);
	struct db *db = NULL;
	int rc = target_open_write(p, env->name, ledger_target(env), "deploy", run_id, 30000, &db);
	if (!rc)
		rc = plan_stage_add(db, plan_id, stage, target, run_id, event, detail);
	db_close(db);
	if (rc)
		log_warn("could not record \"%s\" of stage \"%s\" of plan %s in the ledger: %s", event, stage, plan_id,
			 err_message() ? err_message() : "?");
	err_scope_pop(&e, ERR_DISCARD);
}

/* target_outcome reads what run_id did on target t (its run row, backup and
 * any rollback run of it) and records it as the target's stage record */
static void target_outcome(const struct cfg_project *p, const struct cfg_env *env, const char *plan_id,
			   const char *stage, const struct cfg_target *t, const char *run_id)
{
	struct err_scope e;
	err_scope_push(&e);
	struct db *db = NULL;
	PGresult *res = NULL;
	const char *params[] = { run_id, t->name };
	int rc = target_connect(p, t, "deploy", NULL, 1, &db);
	if (!rc)
		rc = db_query(
			db,
			"SELECT r.status, to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
			"to_char(r.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), r.error, "
			"(SELECT coalesce(b.path, '(nothing to dump)') FROM padctl.backups b WHERE b.run_id = r.id "
			" AND b.target = $2), "
			"(SELECT string_agg(x.id || ' ' || x.status, ', ') FROM padctl.runs x WHERE x.rollback_of = r.id), "
			"(SELECT count(*) FROM padctl.migrations m WHERE m.run_id = r.id) "
			"FROM padctl.runs r WHERE r.id = $1",
			2, params, &res);
	char *event = NULL, *detail = NULL;
	if (!rc && PQntuples(res) == 1) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "started %s, finished %s, %s migration row%s", PQgetvalue(res, 0, 1),
			 PQgetisnull(res, 0, 2) ? "-" : PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 6),
			 strcmp(PQgetvalue(res, 0, 6), "1") == 0 ? "" : "s");
		if (!PQgetisnull(res, 0, 4))
			buf_addf(&b, ", backup %s", PQgetvalue(res, 0, 4));
		if (!PQgetisnull(res, 0, 5))
			buf_addf(&b, ", rolled back by run %s", PQgetvalue(res, 0, 5));
		if (!PQgetisnull(res, 0, 3))
			buf_addf(&b, ", error: %s", PQgetvalue(res, 0, 3));
		event = xstrdup(PQgetvalue(res, 0, 0));
		detail = buf_detach(&b);
	}
	PQclear(res);
	db_close(db);
	err_scope_pop(&e, ERR_DISCARD);
	record(p, env, plan_id, stage, t->name, run_id, event ? event : "not run", detail);
	free(event);
	free(detail);
}

static void list_names(struct buf *b, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_addf(b, "%s%s", i ? ", " : "", v[i]);
	if (!n)
		buf_adds(b, "nobody else in allowed_signers");
}

/* missing refuses with EXIT_APPROVAL: how many approvals are missing and who may give them */
static int missing(const struct plan_record *r, const struct tally *t, int need, const char *stage)
{
	size_t have = t->napprovers;
	if (stage)
		fail("stage \"%s\" of plan %s waits for its approval: nothing of it was touched", stage, r->id);
	else
		fail("plan %s has %zu of the %d approval%s it needs: %zu missing", r->id, have, need,
		     need == 1 ? "" : "s", (size_t)need - have);
	for (size_t i = 0; i < r->nsigs; i++)
		if (t->notes[i] && *t->notes[i]) {
			char *who = xstrprintable(r->sigs[i].principal);
			char *at = xstrprintable(r->sigs[i].signed_at);
			fail_detail("the %s by %s signed %s does not count: %s", r->sigs[i].action, who, at,
				    t->notes[i]);
			free(who);
			free(at);
		}
	struct buf b = BUF_INIT;
	list_names(&b, t->may_approve, t->nmay);
	fail_hint("who may approve: %s (`padctl approve %s%s%s --key KEY`)", buf_str(&b), r->id,
		  stage ? " --stage " : "", stage ? stage : "");
	buf_release(&b);
	return fail_status(EXIT_APPROVAL);
}

/* precheck re-derives, read-only, every target not skipped and compares the
 * plan with the recorded one before any stage runs */
static int precheck(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
		    const struct cfg_target **targets, size_t n, const unsigned char *skip, const struct plan_record *r)
{
	struct migration_set set = { NULL, 0 };
	int rc = migrations_load(p->migrations_dir, &set);
	struct plan plan;
	plan_init(&plan, p, env, pl, n);
	if (!rc)
		rc = plan_digest_files(&plan, env, pl);
	for (size_t i = 0; !rc && i < n; i++) {
		if (skip[i])
			continue;
		struct inspection ins;
		inspect_target(p, env, targets[i], &set, "deploy", 0, 0, &ins);
		if (!ins.reachable) {
			fail("target \"%s\" is not reachable: nothing was changed", targets[i]->name);
			rc = fail_detail("%s", ins.error);
		} else if (ins.identity_error) {
			fail("target \"%s\": identity mismatch: nothing was changed", targets[i]->name);
			rc = fail_detail("%s", ins.identity_error);
		} else if (ins.plan_failed) {
			rc = err_pending() ? -1
					   : fail("could not re-derive the plan for target \"%s\"", targets[i]->name);
		} else {
			plan.targets[i] = ins.plan;
			memset(&ins.plan, 0, sizeof ins.plan);
		}
		inspect_release(&ins);
	}
	char *bytes = NULL;
	size_t len = 0;
	if (!rc)
		rc = plan_bytes(&plan, &bytes, &len);
	if (!rc)
		rc = plan_keep_stored(r->body, skip, n, &bytes, &len);
	if (!rc) {
		char hash[65];
		plan_hash(bytes, len, hash);
		if (strcmp(hash, r->hash) != 0) {
			fail("plan %s no longer matches what the deploy would do: nothing was changed", r->id);
			fail_detail("signed hash sha256:%s, re-derived now sha256:%s", r->hash, hash);
			char *diff = plan_diff(r->body, bytes, 20);
			for (char *line = diff, *next; line && *line; line = next) {
				next = strchr(line, '\n');
				if (next)
					*next++ = '\0';
				fail_detail("%s", line);
			}
			free(diff);
			rc = fail_hint("what a plan covers changed after it was signed: review it, record a new plan with "
				       "`padctl plan %s --key KEY` and have it approved",
				       env->name);
		}
	}
	free(bytes);
	plan_release(&plan);
	migrations_release(&set);
	return rc;
}

int rollout_deploy(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
		   const struct plugin_registry *reg, const struct run_opts *o)
{
	if (o->only_target) {
		fail("--target cannot go with a plan of env \"%s\": an approved plan is rolled out as a whole, stage by "
		     "stage",
		     env->name);
		return fail_status(EXIT_USAGE);
	}
	struct plan_record r;
	if (plan_record_load(p, env, o->plan_id, &r))
		return -1;
	long valid_for = pl->approvals_valid_for * 3600L;
	struct tally t;
	int rc = approvals_tally(pl->signers, &r, NULL, valid_for, &t);
	if (!rc && !t.body_ok) {
		fail("plan %s in the ledger does not match its own hash: nothing was changed", r.id);
		rc = fail_hint("someone edited padctl.plans or padctl.plan_bodies; `padctl plan verify %s` shows "
			       "what holds",
			       r.id);
	} else if (!rc && !t.requester) {
		fail("plan %s cannot be deployed: %s", r.id, t.request_why);
		fail_hint("record a signed plan with `padctl plan %s --key KEY` and have it approved", env->name);
		rc = fail_status(EXIT_APPROVAL);
	} else if (!rc && (int)t.napprovers < pl->approvals_required) {
		rc = missing(&r, &t, pl->approvals_required, NULL);
	}
	if (!rc) {
		struct buf b = BUF_INIT;
		list_names(&b, t.approvers, t.napprovers);
		log_info("plan %s: requested by %s, approved by %s", r.id, t.requester, buf_str(&b));
		buf_release(&b);
	}
	tally_release(&t, r.nsigs);
	/* the stages, and which are done */
	size_t nst = pl->nstages ? pl->nstages : 1;
	struct stage *st = xcalloc(nst, sizeof *st);
	for (size_t s = 0; s < nst; s++) {
		st[s].name = pl->nstages ? pl->stages[s].name : ALL_STAGE;
		st[s].approval = pl->nstages ? pl->stages[s].approval : 0;
		for (size_t k = 0; k < r.nstages; k++)
			if (!r.stages[k].target && strcmp(r.stages[k].stage, st[s].name) == 0 &&
			    strcmp(r.stages[k].event, "done") == 0)
				st[s].done = 1;
	}
	size_t first = 0;
	while (first < nst && st[first].done)
		first++;
	if (!rc && first == nst) {
		fail("plan %s was deployed to every stage already: a plan runs once", r.id);
		fail_hint("`padctl plan show %s` shows its rollout; record a new plan for new changes", r.id);
		rc = fail_status(EXIT_USAGE);
	}
	const struct cfg_target **targets = NULL;
	size_t n = 0;
	if (!rc)
		rc = pipeline_targets(env, pl, NULL, &targets, &n);
	/* which stage each target is in (rollout order follows the stages) */
	size_t *stage_of = xcalloc(n ? n : 1, sizeof *stage_of);
	for (size_t i = 0; i < n && pl->nstages; i++)
		for (size_t s = 0; s < pl->nstages; s++)
			for (size_t k = 0; k < pl->stages[s].ntargets; k++)
				if (strcmp(pl->stages[s].targets[k], targets[i]->name) == 0)
					stage_of[i] = s;
	unsigned char *skip = xcalloc(n ? n : 1, 1);
	for (size_t i = 0; i < n; i++)
		skip[i] = st[stage_of[i]].done;
	if (!rc && first > 0)
		log_info("plan %s: resuming at stage \"%s\" (stage%s before it done)", r.id, st[first].name,
			 first == 1 ? "" : "s");
	if (!rc)
		rc = precheck(p, env, pl, targets, n, skip, &r);
	for (size_t s = first; !rc && s < nst; s++) {
		if (st[s].approval) {
			struct tally g;
			rc = approvals_tally(pl->signers, &r, st[s].name, valid_for, &g);
			if (!rc && g.napprovers < 1) {
				rc = missing(&r, &g, 1, st[s].name);
				for (size_t d = 0; d < s; d++)
					fail_detail("stage \"%s\" is deployed", st[d].name);
			} else if (!rc) {
				log_info("stage \"%s\": gate approved by %s", st[s].name, g.approvers[0]);
			}
			tally_release(&g, r.nsigs);
			if (rc)
				break;
		}
		char *run_id = ledger_new_run_id();
		struct buf names = BUF_INIT;
		for (size_t i = 0; i < n; i++) {
			skip[i] = stage_of[i] != s;
			if (!skip[i])
				buf_addf(&names, "%s%s", names.len ? ", " : "", targets[i]->name);
		}
		log_info("plan %s: stage \"%s\" (%s), run %s", r.id, st[s].name, buf_str(&names), run_id);
		record(p, env, r.id, st[s].name, NULL, run_id, "started", buf_str(&names));
		buf_release(&names);
		struct stage_opts so = { skip, run_id };
		rc = pipeline_run_stage(p, env, pl, reg, o, &so);
		char *why = rc && err_message() ? xstrdup(err_message()) : NULL;
		for (size_t i = 0; i < n; i++)
			if (!skip[i])
				target_outcome(p, env, r.id, st[s].name, targets[i], run_id);
		record(p, env, r.id, st[s].name, NULL, run_id, rc ? "failed" : "done", why);
		free(why);
		if (rc) {
			fail_detail(
				"stage \"%s\" failed (run %s) and the rollout stopped; with on_failure: rollback, every "
				"target of the stage that the run changed is rolled back (the lines above say what was)",
				st[s].name, run_id);
			for (size_t d = 0; d < s; d++)
				fail_detail("stage \"%s\" stays deployed", st[d].name);
			fail_hint("fix the cause and record a new plan (`padctl plan %s --key KEY`): this one no longer "
				  "matches the targets; `padctl plan show %s` shows what happened",
				  env->name, r.id);
		} else {
			log_info("plan %s: stage \"%s\" done", r.id, st[s].name);
			st[s].done = 1;
		}
		free(run_id);
	}
	if (!rc)
		log_info("plan %s: every stage deployed", r.id);
	free(skip);
	free(stage_of);
	free(targets);
	free(st);
	plan_record_release(&r);
	return rc;
}

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "drift.h"
#include "inspect.h"
#include "ledger.h"
#include "log.h"
#include "pipeline.h"

static json_t *target_json(const struct inspection *ins)
{
	json_t *o = json_object();
	json_object_set_new(o, "target", json_string(ins->t->name));
	json_object_set_new(o, "reachable", json_boolean(ins->reachable));
	if (ins->error)
		json_object_set_new(o, "error", json_string(ins->error));
	if (ins->identity_error)
		json_object_set_new(o, "identity_error", json_string(ins->identity_error));
	if (!ins->reachable)
		return o;
	json_object_set_new(o, "server_version", json_string(ins->server_version));
	json_object_set_new(o, "ledger", json_boolean(ins->plan.history.exists));
	json_object_set_new(o, "lock_holder", *ins->lock_holder ? json_string(ins->lock_holder) : json_null());
	json_t *counts = json_object();
	for (int s = 0; s <= MIG_MISMATCH; s++)
		json_object_set_new(counts, mig_state_name(s), json_integer((json_int_t)ins->plan.mig.counts[s]));
	json_object_set_new(o, "counts", counts);
	json_t *migs = json_array();
	for (size_t i = 0; i < ins->plan.mig.n; i++) {
		const struct mig_status *s = &ins->plan.mig.v[i];
		json_t *m = json_object();
		json_object_set_new(m, "version", json_string(s->m->version));
		json_object_set_new(m, "name", json_string(s->m->name));
		json_object_set_new(m, "state", json_string(mig_state_name(s->state)));
		json_object_set_new(m, "checksum", json_string(s->m->checksum));
		if (s->h) {
			json_object_set_new(m, "applied_at", json_string(s->h->applied_at));
			json_object_set_new(m, "applied_by", json_string(s->h->applied_by));
			if (s->h->run_id)
				json_object_set_new(m, "run_id", json_string(s->h->run_id));
			if (s->h->reason)
				json_object_set_new(m, "reason", json_string(s->h->reason));
			if (s->state == MIG_MISMATCH)
				json_object_set_new(m, "applied_checksum", json_string(s->h->checksum));
		} else if (s->skip_reason) {
			json_object_set_new(m, "reason", json_string(s->skip_reason));
		}
		json_array_append_new(migs, m);
	}
	json_object_set_new(o, "migrations", migs);
	json_t *orphans = json_array();
	for (size_t i = 0; i < ins->plan.mig.norphans; i++)
		json_array_append_new(orphans, json_string(ins->plan.mig.orphans[i]->version));
	json_object_set_new(o, "unknown_applied", orphans);
	return o;
}

/* target_text prints one target; every name and text from the file system or
 * the server goes through buf_add_printable, so none can forge a line. */
static void target_text(const struct inspection *ins, int verbose)
{
	struct buf b = BUF_INIT;
	if (!ins->reachable) {
		buf_addf(&b, "target %s: UNREACHABLE\n  ", ins->t->name);
		buf_add_printable_lines(&b, ins->error);
		buf_addch(&b, '\n');
		fputs(buf_str(&b), stdout);
		buf_release(&b);
		return;
	}
	const size_t *c = ins->plan.mig.counts;
	buf_addf(&b, "target %s: reachable, PostgreSQL ", ins->t->name);
	buf_add_printable(&b, ins->server_version);
	buf_addf(&b, "%s\n", ins->plan.history.exists ? "" : " (no padctl ledger yet)");
	if (ins->identity_error) {
		buf_adds(&b, "  IDENTITY MISMATCH: ");
		buf_add_printable_lines(&b, ins->identity_error);
		buf_addch(&b, '\n');
	}
	buf_addf(&b, "  applied %zu, baselined %zu, skipped %zu, pending %zu, to skip %zu, out of order %zu, "
		     "checksum mismatch %zu\n",
		 c[MIG_APPLIED], c[MIG_BASELINED], c[MIG_SKIPPED], c[MIG_PENDING], c[MIG_TO_SKIP], c[MIG_OUT_OF_ORDER],
		 c[MIG_MISMATCH]);
	buf_adds(&b, "  lock: ");
	buf_add_printable(&b, *ins->lock_holder ? ins->lock_holder : "free");
	buf_addch(&b, '\n');
	for (size_t i = 0; i < ins->plan.mig.n; i++) {
		const struct mig_status *s = &ins->plan.mig.v[i];
		if (!verbose && (s->state == MIG_APPLIED || s->state == MIG_BASELINED))
			continue;
		const char *reason = s->h && s->h->reason ? s->h->reason : s->skip_reason;
		buf_addf(&b, "  %-17s ", mig_state_name(s->state));
		buf_add_printable(&b, s->m->version);
		buf_addch(&b, '_');
		buf_add_printable(&b, s->m->name);
		if (reason) {
			buf_adds(&b, " (");
			buf_add_printable(&b, reason);
			buf_addch(&b, ')');
		}
		buf_addch(&b, '\n');
	}
	for (size_t i = 0; i < ins->plan.mig.norphans; i++) {
		buf_addf(&b, "  %-17s ", "unknown");
		buf_add_printable(&b, ins->plan.mig.orphans[i]->version);
		buf_addch(&b, '_');
		buf_add_printable(&b, ins->plan.mig.orphans[i]->name);
		buf_adds(&b, " (in the target's history, no migration file)\n");
	}
	fputs(buf_str(&b), stdout);
	buf_release(&b);
}

/* status --drift: one drift line per reachable target (and a line per
 * difference); a failed check is a line too, not the end of status */
static int drift_status(const struct cfg_project *p, struct inspection *ins, json_t *tj)
{
	struct drift_result r;
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = drift_check_known(p, ins->t->name, ins->db, ins->extra, &ins->plan.history, &r);
	char *why = rc && err_message() ? xstrprintable(err_message()) : NULL;
	err_scope_pop(&scope, ERR_DISCARD);
	int found = rc || r.diff.n;
	if (tj) {
		json_t *d = rc ? json_object() : drift_json(&r);
		if (rc)
			json_object_set_new(d, "error", json_string(why ? why : "unknown"));
		json_object_set_new(tj, "drift", d);
	} else {
		struct buf b = BUF_INIT;
		if (rc) {
			buf_addf(&b, "  drift: could not check: %s\n", why ? why : "unknown");
		} else {
			char *sum = drift_summary(&r);
			buf_addf(&b, "  drift: %s\n", sum);
			free(sum);
			for (size_t i = 0; i < r.diff.n; i++) {
				char *line = drift_finding(&r.diff.v[i]);
				buf_addf(&b, "    %s\n", line);
				free(line);
			}
		}
		fputs(buf_str(&b), stdout);
		buf_release(&b);
	}
	free(why);
	drift_result_release(&r);
	return found;
}

int cmd_status(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *target = NULL;
	int want_drift = 0;
	const struct cmd_opt opts[] = { { "target", 1, NULL, &target },
					{ "drift", 0, &want_drift, NULL },
					{ NULL, 0, NULL, NULL } };
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--target T] [--drift]"))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	struct migration_set set;
	const struct cfg_target **targets = NULL;
	size_t n = 0;
	int rc = pipeline_targets(&env, NULL, target, &targets, &n);
	/* connect to every target and ask for its history first: the servers
	 * answer while the migration files are read and checksummed, and the
	 * connections come up meanwhile too (inspect_start_async, moved on every
	 * few files, as plan does). Only the JSON shows when and by whom each
	 * migration was applied. */
	struct inspection *ins = xcalloc(n ? n : 1, sizeof *ins);
	/* with --drift the target's catalog fingerprint travels with status's
	 * own first query, and the history comes in the order it was applied:
	 * the server computes both while the files are read, and a target
	 * that compared clean needs no further query */
	int fp = want_drift && p->drift;
	int flags = (ctx->json ? 0 : LEDGER_HISTORY_BRIEF) | (fp ? LEDGER_HISTORY_APPLIED : 0);
	for (size_t i = 0; !rc && i < n; i++) {
		char *fp_sql = fp ? drift_fingerprint_sql(p, targets[i]->name) : NULL;
		inspect_start_async(p, &env, targets[i], "status", flags, fp_sql, &ins[i]);
		free(fp_sql);
	}
	struct inspect_all pump = { ins, n };
	struct migrations_tick tick = { inspect_pump_all, &pump };
	/* up.sql files that did not change since status last read them are not
	 * read again (.padctl/status-sums, as plan's .padctl/sums: sumcache.h) */
	if (!rc) {
		char *sums_path = xstrfmt("%s/.padctl/status-sums", p->root);
		rc = migrations_load_brief(p->migrations_dir, sums_path, &tick, &set);
		free(sums_path);
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			inspect_release(&ins[i]);
		free(ins);
		free(targets);
		cmd_env_release(&env, NULL);
		return -1;
	}
	int problems = 0;
	json_t *out = ctx->json ? json_object() : NULL, *arr = ctx->json ? json_array() : NULL;
	if (!rc && !ctx->json) {
		char *dir = xstrprintable(p->migrations_dir);
		printf("env %s (tier %s, pipeline %s): %zu migration%s in %s\n", env.name, env.tier, env.pipeline,
		       set.n, set.n == 1 ? "" : "s", dir);
		free(dir);
	}
	for (size_t i = 0; !rc && i < n; i++) {
		inspect_finish(&ins[i], &set, want_drift);
		int bad = !ins[i].reachable || ins[i].identity_error || ins[i].plan.mig.counts[MIG_MISMATCH];
		json_t *tj = ctx->json ? target_json(&ins[i]) : NULL;
		if (!ctx->json)
			target_text(&ins[i], ctx->verbosity >= LOG_VERBOSE);
		/* a target is counted once, with a checksum mismatch and drift */
		if (want_drift && ins[i].reachable && ins[i].db && drift_status(p, &ins[i], tj))
			bad = 1;
		problems += bad;
		if (tj)
			json_array_append_new(arr, tj);
		inspect_release(&ins[i]);
	}
	free(ins);
	if (out && !rc) {
		json_object_set_new(out, "env", json_string(env.name));
		json_object_set_new(out, "tier", json_string(env.tier));
		json_object_set_new(out, "migrations", json_integer((json_int_t)set.n));
		json_object_set_new(out, "targets", arr);
		arr = NULL;
		char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
	}
	json_decref(arr);
	json_decref(out);
	if (!rc && problems) {
		fail("env \"%s\": %d target%s need%s attention", env.name, problems, problems == 1 ? "" : "s",
		     problems == 1 ? "s" : "");
		fail_hint("see the status above: unreachable targets, identity or checksum mismatches%s",
			  want_drift ? ", drift" : "");
		rc = -1;
	}
	free(targets);
	migrations_release(&set);
	cmd_env_release(&env, NULL);
	return rc;
}

/* padctl approve, padctl plan show, padctl plan verify: the approvals of a
 * signed plan and its audit trail (docs/approve.md, docs/plan.md). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "migrations.h"
#include "plan.h"
#include "sign.h"
#include "target.h"
#include "fs.h"
#include "inspect.h"
#include "pipeline.h"
#include "ledger.h"

/* the env a plan id is looked up in when --env is not given */
#define DEFAULT_ENV "prod"

static void print_esc(const char *prefix, const char *s, const char *suffix)
{
	char *shown = xstrprintable(s ? s : "");
	printf("%s%s%s", prefix, shown, suffix);
	free(shown);
}

/* print_body shows what the plan does per target, from its recorded body */
static void print_body(const char *body)
{
	json_t *doc = json_loads(body, 0, NULL);
	size_t i, k;
	json_t *t, *m;
	if (json_is_string(json_object_get(doc, "kind"))) {
		json_t *what = json_object_get(doc, "rollback");
		const char *run = json_string_value(json_object_get(what, "run"));
		const char *to = json_string_value(json_object_get(what, "to"));
		print_esc("  ", json_string_value(json_object_get(doc, "kind")), " plan: undoes ");
		if (run)
			print_esc("run ", run, " on every target\n");
		else if (to)
			print_esc("every migration applied after ", to, " on every target\n");
		else
			printf("the newest run that still has migrations applied, on each target\n");
		json_decref(doc);
		return;
	}
	json_array_foreach (json_object_get(doc, "targets"), i, t) {
		json_t *migs = json_object_get(t, "migrations");
		print_esc("  target ", json_string_value(json_object_get(t, "target")), "");
		printf(": %zu migration%s\n", json_array_size(migs), json_array_size(migs) == 1 ? "" : "s");
		json_array_foreach (migs, k, m) {
			print_esc("    ", json_string_value(json_object_get(m, "action")), " ");
			print_esc("", json_string_value(json_object_get(m, "version")), "_");
			print_esc("", json_string_value(json_object_get(m, "name")), "");
			print_esc("  sha256:", json_string_value(json_object_get(m, "up_sha256")), "\n");
		}
		json_t *lint = json_object_get(t, "lint");
		json_array_foreach (lint, k, m) {
			char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
			print_esc("    lint: ", s, "\n");
			free(s);
		}
	}
	json_decref(doc);
}

static int env_pipeline(struct cmd_ctx *ctx, const char *name, const struct cfg_project **p, struct cfg_env *env,
			struct cfg_pipeline *pl)
{
	if (cmd_env(ctx, name, p, env, pl))
		return -1;
	if (!pl->signers) {
		fail("env \"%s\": pipeline \"%s\" has no `approvals:` section, so its plans are not approved",
		     env->name, pl->name);
		fail_hint("add `approvals: {required: N, signers: FILE}` to %s", pl->file);
		cmd_env_release(env, pl);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

static const struct cfg_stage *find_stage(const struct cfg_pipeline *pl, const char *name)
{
	for (size_t i = 0; i < pl->nstages; i++)
		if (strcmp(pl->stages[i].name, name) == 0)
			return &pl->stages[i];
	return NULL;
}

int cmd_approve(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *key = NULL, *stage = NULL, *comment = NULL, *envname = DEFAULT_ENV;
	int withdraw = 0;
	const struct cmd_opt opts[] = {
		{ "key", 1, NULL, &key },     { "stage", 1, NULL, &stage },	  { "comment", 1, NULL, &comment },
		{ "env", 1, NULL, &envname }, { "withdraw", 0, &withdraw, NULL }, { NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	const char *usage = "PLAN --key KEY [--stage S] [--comment TEXT] [--withdraw] [--env ENV]";
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, usage))
		return -1;
	if (plan_id_check(pos[0]) || sign_comment_check(comment))
		return -1;
	if (!key) {
		fail("approve: --key KEY is required (your private key, or your public key with the private half in the "
		     "ssh-agent)");
		return fail_status(EXIT_USAGE);
	}
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (env_pipeline(ctx, envname, &p, &env, &pl))
		return -1;
	int rc = 0;
	const struct cfg_stage *st = stage ? find_stage(&pl, stage) : NULL;
	if (stage && (!st || !st->approval)) {
		char *shown = xstrprintable(stage);
		fail("pipeline \"%s\" has no stage \"%s\" with `approval: true`", pl.name, shown);
		free(shown);
		fail_hint("--stage names a stage gate of %s; without --stage the plan as a whole is approved", pl.file);
		rc = fail_status(EXIT_USAGE);
	}
	struct plan_record r;
	memset(&r, 0, sizeof r);
	struct tally t;
	memset(&t, 0, sizeof t);
	if (!rc)
		rc = plan_record_load(p, &env, pos[0], &r);
	if (!rc)
		rc = approvals_tally(pl.signers, &r, stage, pl.approvals_valid_for * 3600L, &t);
	if (!rc && !t.body_ok) {
		fail("plan \"%s\" in the ledger does not match its own hash: it cannot be approved", r.id);
		rc = fail_hint("someone edited padctl.plans or padctl.plan_bodies; `padctl plan verify %s` shows "
			       "what holds",
			       r.id);
	}
	if (!rc && !t.requester) {
		fail("plan \"%s\" cannot be approved: %s", r.id, t.request_why);
		fail_hint("record a signed plan with `padctl plan %s --key KEY`", env.name);
		rc = fail_status(EXIT_APPROVAL);
	}
	if (!rc) {
		printf("plan %s for env %s\nhash sha256:%s\n", r.id, r.env, r.hash);
		print_esc("requested by ", t.requester, "");
		printf(" at %s\n", r.sigs ? r.sigs[0].signed_at : "?");
		print_body(r.body);
	}
	char now[32];
	sign_now(now);
	struct sign_fields f = { withdraw ? "withdraw" : "approve", env.name, r.id, r.hash, stage, now, comment };
	char *msg = rc ? NULL : sign_message(&f);
	char *sig = NULL;
	struct sign_check c;
	memset(&c, 0, sizeof c);
	if (!rc)
		rc = sign_create(key, msg, &sig);
	if (!rc)
		rc = sign_verify(pl.signers, NULL, msg, sig, &c);
	if (!rc && !c.valid) {
		fail("the key %s cannot approve plans of env \"%s\": %s", key, env.name,
		     c.why ? c.why : "it does not verify");
		fail_detail("approvers are the keys of %s (approvals.signers of %s)", pl.signers, pl.file);
		rc = fail_status(EXIT_APPROVAL);
	}
	if (!rc && strcmp(c.principal, t.requester) == 0) {
		fail("%s requested plan %s and cannot %s it", c.principal, r.id,
		     withdraw ? "withdraw an approval of" : "approve");
		fail_hint("an approval must come from someone other than the requester");
		rc = fail_status(EXIT_APPROVAL);
	}
	if (!rc)
		rc = plan_sig_add(p, &env, &f, c.principal, c.fingerprint, sig, NULL);
	if (!rc) {
		int counted = 0;
		for (size_t i = 0; i < t.napprovers; i++)
			counted |= strcmp(t.approvers[i], c.principal) == 0;
		size_t now_n = t.napprovers + (withdraw ? (counted ? (size_t)-1 : 0) : (counted ? 0 : 1));
		int need = stage ? 1 : pl.approvals_required;
		printf("\n%s plan %s%s%s as %s (key %s)\n", withdraw ? "withdrew the approval of" : "approved", r.id,
		       stage ? ", stage " : "", stage ? stage : "", c.principal, c.fingerprint ? c.fingerprint : "?");
		if (!withdraw && counted)
			printf("%s had approved it already: each principal counts once\n", c.principal);
		printf("%zu of %d approval%s%s%s\n", now_n, need, need == 1 ? "" : "s", stage ? " for stage " : "",
		       stage ? stage : "");
	}
	free(msg);
	free(sig);
	sign_check_release(&c);
	tally_release(&t, r.nsigs);
	plan_record_release(&r);
	cmd_env_release(&env, &pl);
	return rc;
}

/* ---- plan show / plan verify */

static json_t *jstr(const char *s)
{
	json_t *v = s ? json_string(s) : json_null();
	if (!v) {
		char *shown = xstrprintable(s);
		v = json_string(shown);
		free(shown);
	}
	return v ? v : json_null();
}

/* sql_ok tells whether a recorded migration's SQL still hashes to its recorded checksum */
static int sql_ok(const struct sql_row *s)
{
	char sum[65];
	migration_checksum(s->sql, strlen(s->sql), sum);
	return strcmp(sum, s->up_sha256) == 0;
}

static int show(const struct cfg_pipeline *pl, const struct plan_record *r, int json)
{
	struct tally whole;
	if (approvals_tally(pl->signers, r, NULL, pl->approvals_valid_for * 3600L, &whole))
		return -1;
	json_t *doc = json_object();
	json_object_set_new(doc, "id", jstr(r->id));
	json_object_set_new(doc, "env", jstr(r->env));
	json_object_set_new(doc, "hash", jstr(r->hash));
	json_object_set_new(doc, "hash_matches_body", json_boolean(whole.body_ok));
	json_object_set_new(doc, "recorded_at", jstr(r->created_at));
	json_object_set_new(doc, "recorded_by", jstr(r->created_by));
	json_object_set_new(doc, "requester", jstr(whole.requester));
	json_object_set_new(doc, "approvals_required", json_integer(pl->approvals_required));
	json_object_set_new(doc, "approvals_counted", json_integer((json_int_t)whole.napprovers));
	json_t *sigs = json_array();
	for (size_t i = 0; i < r->nsigs; i++) {
		const struct sig_row *s = &r->sigs[i];
		/* a stage's rows count against that stage's gate */
		struct tally gate;
		const char *note = whole.notes[i];
		int have_gate = 0;
		if (s->stage && strcmp(s->action, "request") != 0) {
			if (approvals_tally(pl->signers, r, s->stage, pl->approvals_valid_for * 3600L, &gate) == 0) {
				note = gate.notes[i];
				have_gate = 1;
			}
		}
		json_t *o = json_object();
		json_object_set_new(o, "action", jstr(s->action));
		json_object_set_new(o, "stage", jstr(s->stage));
		json_object_set_new(o, "principal", jstr(s->principal));
		json_object_set_new(o, "fingerprint", jstr(s->fingerprint));
		json_object_set_new(o, "signed_at", jstr(s->signed_at));
		json_object_set_new(o, "recorded_at", jstr(s->recorded_at));
		json_object_set_new(o, "comment", jstr(s->comment));
		json_object_set_new(o, "verifies_now", json_boolean(whole.checks[i].valid));
		json_object_set_new(o, "note", jstr(*note ? note : whole.checks[i].valid ? NULL : whole.checks[i].why));
		json_object_set_new(o, "signature", jstr(s->signature));
		json_array_append_new(sigs, o);
		if (have_gate)
			tally_release(&gate, r->nsigs);
	}
	json_object_set_new(doc, "signatures", sigs);
	json_t *stages = json_array();
	for (size_t i = 0; i < r->nstages; i++) {
		const struct stage_row *s = &r->stages[i];
		json_t *o = json_object();
		json_object_set_new(o, "stage", jstr(s->stage));
		json_object_set_new(o, "target", jstr(s->target));
		json_object_set_new(o, "run_id", jstr(s->run_id));
		json_object_set_new(o, "event", jstr(s->event));
		json_object_set_new(o, "detail", jstr(s->detail));
		json_object_set_new(o, "at", jstr(s->at));
		json_array_append_new(stages, o);
	}
	json_object_set_new(doc, "stages", stages);
	json_t *sql = json_array();
	for (size_t i = 0; i < r->nsql; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "version", jstr(r->sql[i].version));
		json_object_set_new(o, "name", jstr(r->sql[i].name));
		json_object_set_new(o, "up_sha256", jstr(r->sql[i].up_sha256));
		json_object_set_new(o, "sha256_matches", json_boolean(sql_ok(&r->sql[i])));
		json_object_set_new(o, "sql", jstr(r->sql[i].sql));
		json_array_append_new(sql, o);
	}
	json_object_set_new(doc, "sql", sql);
	json_t *body = json_loads(r->body, 0, NULL);
	json_object_set_new(doc, "plan", body ? body : json_null());
	if (json) {
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (s)
			puts(s);
		free(s);
	} else {
		printf("plan %s for env %s\nhash sha256:%s (%s)\n", r->id, r->env, r->hash,
		       whole.body_ok ? "the recorded body matches it" : "THE RECORDED BODY DOES NOT MATCH IT");
		printf("recorded %s by %s\n", r->created_at, r->created_by);
		printf("requested by %s\n", whole.requester ? whole.requester : "(nobody: no valid request signature)");
		printf("approvals: %zu of %d counted\n", whole.napprovers, pl->approvals_required);
		for (size_t i = 0; i < r->nsigs; i++) {
			json_t *o = json_array_get(sigs, i);
			const struct sig_row *s = &r->sigs[i];
			print_esc("  ", s->action, "");
			if (s->stage)
				print_esc(" stage ", s->stage, "");
			print_esc(" by ", s->principal, "");
			print_esc(" key ", s->fingerprint, "");
			print_esc(" at ", s->signed_at, "");
			printf(" verifies now: %s", whole.checks[i].valid ? "yes" : "no");
			const char *note = json_string_value(json_object_get(o, "note"));
			if (note && *note)
				print_esc(" (", note, ")");
			if (s->comment && *s->comment)
				print_esc(" comment: ", s->comment, "");
			printf("\n");
		}
		printf("what it does:\n");
		print_body(r->body);
		if (r->nstages)
			printf("rollout:\n");
		for (size_t i = 0; i < r->nstages; i++) {
			const struct stage_row *s = &r->stages[i];
			print_esc("  ", s->at, " stage ");
			print_esc("", s->stage, "");
			if (s->target)
				print_esc(" target ", s->target, "");
			print_esc(": ", s->event, "");
			if (s->run_id)
				print_esc(" (run ", s->run_id, ")");
			if (s->detail && *s->detail)
				print_esc(": ", s->detail, "");
			printf("\n");
		}
		for (size_t i = 0; i < r->nsql; i++) {
			print_esc("\n-- ", r->sql[i].version, "_");
			print_esc("", r->sql[i].name, "");
			printf(" sha256:%s%s\n", r->sql[i].up_sha256,
			       sql_ok(&r->sql[i]) ? "" : " (DOES NOT MATCH ITS SQL)");
			size_t n = strlen(r->sql[i].sql);
			printf("%s%s", r->sql[i].sql, n && r->sql[i].sql[n - 1] == '\n' ? "" : "\n");
		}
	}
	json_decref(doc);
	tally_release(&whole, r->nsigs);
	return 0;
}

/* verify checks the plan from the ledger alone: the body against its hash,
 * each signature against the key it carries and its recorded fingerprint,
 * each recorded SQL against its checksum */
static int verify(const struct plan_record *r, int json)
{
	int bad = 0;
	char own[65];
	plan_hash(r->body, strlen(r->body), own);
	int body_ok = strcmp(own, r->hash) == 0;
	bad += !body_ok;
	json_t *doc = json_object();
	json_t *rows = json_array();
	if (!json)
		printf("plan %s: body %s its hash sha256:%s\n", r->id, body_ok ? "matches" : "DOES NOT MATCH", r->hash);
	int requests = 0;
	for (size_t i = 0; i < r->nsigs; i++) {
		const struct sig_row *s = &r->sigs[i];
		struct sign_fields f;
		plan_record_fields(r, i, &f);
		char *msg = sign_message(&f);
		struct sign_check c;
		int rc = sign_check_self(msg, s->signature, &c);
		free(msg);
		if (rc) {
			json_decref(rows);
			json_decref(doc);
			return -1;
		}
		const char *why = c.valid ? NULL : c.why;
		if (c.valid && (!c.fingerprint || !s->fingerprint || strcmp(c.fingerprint, s->fingerprint) != 0))
			why = "signed by another key than the recorded fingerprint";
		requests += strcmp(s->action, "request") == 0;
		bad += why != NULL;
		json_t *o = json_object();
		json_object_set_new(o, "seq", jstr(s->seq));
		json_object_set_new(o, "action", jstr(s->action));
		json_object_set_new(o, "principal", jstr(s->principal));
		json_object_set_new(o, "fingerprint", jstr(s->fingerprint));
		json_object_set_new(o, "valid", json_boolean(!why));
		json_object_set_new(o, "why", jstr(why));
		json_array_append_new(rows, o);
		if (!json) {
			print_esc("  ", s->action, "");
			if (s->stage)
				print_esc(" stage ", s->stage, "");
			print_esc(" by ", s->principal, "");
			print_esc(" key ", s->fingerprint, ": ");
			if (why)
				print_esc("DOES NOT VERIFY: ", why, "\n");
			else
				printf("good signature\n");
		}
		sign_check_release(&c);
	}
	if (!requests) {
		bad++;
		if (!json)
			printf("  no request signature: the plan was not signed by its requester\n");
	}
	for (size_t i = 0; i < r->nsql; i++) {
		int ok = sql_ok(&r->sql[i]);
		bad += !ok;
		if (!json && !ok)
			print_esc("  recorded SQL of ", r->sql[i].version, " DOES NOT MATCH its checksum\n");
	}
	json_object_set_new(doc, "id", jstr(r->id));
	json_object_set_new(doc, "hash_matches_body", json_boolean(body_ok));
	json_object_set_new(doc, "signatures", rows);
	json_object_set_new(doc, "ok", json_boolean(!bad));
	if (json) {
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (s)
			puts(s);
		free(s);
	}
	json_decref(doc);
	if (bad) {
		fail("plan %s does not verify: %d problem%s (listed above)", r->id, bad, bad == 1 ? "" : "s");
		return fail_hint("the ledger of this plan was altered or a signature is forged: do not deploy it");
	}
	if (!json)
		printf("plan %s verifies: body, %zu signature%s and recorded SQL\n", r->id, r->nsigs,
		       r->nsigs == 1 ? "" : "s");
	return 0;
}

int cmd_plan_audit(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *envname = DEFAULT_ENV;
	const struct cmd_opt opts[] = {
		{ "env", 1, NULL, &envname },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	int is_show = strcmp(argv[0], "show") == 0;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ID [--env ENV]"))
		return -1;
	if (plan_id_check(pos[0]))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (env_pipeline(ctx, envname, &p, &env, &pl))
		return -1;
	struct plan_record r;
	int rc = plan_record_load(p, &env, pos[0], &r);
	if (!rc)
		rc = is_show ? show(&pl, &r, ctx->json) : verify(&r, ctx->json);
	if (!rc || r.id)
		plan_record_release(&r);
	cmd_env_release(&env, &pl);
	return rc;
}

/* ---- padctl history: the plans */

int history_plans(const struct cfg_project *p, const struct cfg_env *env, long limit, void *doc)
{
	const struct cfg_target *lt = env->ledger ? config_env_target(env, env->ledger) : &env->targets[0];
	struct db *db = NULL;
	PGresult *res = NULL;
	char lim[32];
	snprintf(lim, sizeof lim, "%ld", limit);
	const char *params[] = { lim };
	int exists = 0;
	int rc = target_connect(p, lt, "history", NULL, 1, &db);
	if (!rc)
		rc = ledger_exists(db, &exists);
	char *have = NULL;
	/* a ledger an older padctl made has no plan records (history never upgrades a ledger) */
	if (!rc && exists)
		rc = db_query_value(db, "SELECT to_regclass('padctl.plan_signatures') IS NOT NULL", 0, NULL, &have);
	exists = exists && have && have[0] == 't';
	free(have);
	if (!rc && exists)
		rc = db_query(db,
			      "SELECT id FROM padctl.plans WHERE "
			      "(id IN (SELECT plan_id FROM padctl.plan_signatures) OR id IN (SELECT plan_id FROM "
			      "padctl.plan_stages)) ORDER BY created_at DESC, id DESC LIMIT $1::int",
			      1, params, &res);
	db_close(db);
	if (rc || !exists) {
		PQclear(res);
		return rc;
	}
	json_t *plans = json_array();
	int nrows = PQntuples(res);
	if (!doc && nrows)
		printf("\nplans of env %s (signatures as recorded: `padctl plan show ID` verifies them now)\n",
		       env->name);
	for (int i = 0; !rc && i < nrows; i++) {
		struct plan_record r;
		rc = plan_record_load(p, env, PQgetvalue(res, i, 0), &r);
		if (rc)
			break;
		json_t *o = json_object();
		json_object_set_new(o, "id", jstr(r.id));
		json_object_set_new(o, "hash", jstr(r.hash));
		json_object_set_new(o, "recorded_at", jstr(r.created_at));
		json_object_set_new(o, "recorded_by", jstr(r.created_by));
		json_t *sigs = json_array();
		struct buf line = BUF_INIT;
		buf_addf(&line, "  plan %s recorded %s", r.id, r.created_at);
		for (size_t k = 0; k < r.nsigs; k++) {
			const struct sig_row *s = &r.sigs[k];
			json_t *x = json_object();
			json_object_set_new(x, "action", jstr(s->action));
			json_object_set_new(x, "stage", jstr(s->stage));
			json_object_set_new(x, "principal", jstr(s->principal));
			json_object_set_new(x, "fingerprint", jstr(s->fingerprint));
			json_object_set_new(x, "signed_at", jstr(s->signed_at));
			json_object_set_new(x, "comment", jstr(s->comment));
			json_array_append_new(sigs, x);
			struct buf one = BUF_INIT;
			buf_addf(&one, "%s%s%s by %s (key %s) at %s", s->action, s->stage ? " stage " : "",
				 s->stage ? s->stage : "", s->principal, s->fingerprint ? s->fingerprint : "?",
				 s->signed_at);
			if (s->comment && *s->comment)
				buf_addf(&one, ": %s", s->comment);
			buf_adds(&line, "\n    ");
			buf_add_printable(&line, buf_str(&one));
			buf_release(&one);
		}
		json_object_set_new(o, "signatures", sigs);
		json_t *stages = json_array();
		for (size_t k = 0; k < r.nstages; k++) {
			const struct stage_row *s = &r.stages[k];
			json_t *x = json_object();
			json_object_set_new(x, "stage", jstr(s->stage));
			json_object_set_new(x, "target", jstr(s->target));
			json_object_set_new(x, "run_id", jstr(s->run_id));
			json_object_set_new(x, "event", jstr(s->event));
			json_object_set_new(x, "detail", jstr(s->detail));
			json_object_set_new(x, "at", jstr(s->at));
			json_array_append_new(stages, x);
			struct buf one = BUF_INIT;
			buf_addf(&one, "%s stage %s%s%s: %s%s%s", s->at, s->stage, s->target ? " target " : "",
				 s->target ? s->target : "", s->event, s->detail && *s->detail ? ": " : "",
				 s->detail ? s->detail : "");
			buf_adds(&line, "\n    ");
			buf_add_printable(&line, buf_str(&one));
			buf_release(&one);
		}
		json_object_set_new(o, "stages", stages);
		json_array_append_new(plans, o);
		if (!doc)
			printf("%s\n", buf_str(&line));
		buf_release(&line);
		plan_record_release(&r);
	}
	PQclear(res);
	if (doc)
		json_object_set_new((json_t *)doc, "plans", plans);
	else
		json_decref(plans);
	return rc;
}

/* ---- rollback plans: `plan ENV --rollback`, `rollback ENV --plan ID` */

/* rollback_body derives the canonical bytes of a rollback plan of env: the
 * deploy plan's facts (files, identities, histories) plus "kind":"rollback",
 * what to undo ({"run", "to"}) and per target the down.sql checksum of every
 * migration its history holds, so the plan no longer holds once anything a
 * rollback depends on changed */
static int rollback_body(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
			 const char *run, const char *to, char **bytes, size_t *len)
{
	*bytes = NULL;
	*len = 0;
	struct migration_set set = { NULL, 0 };
	const struct cfg_target **targets = NULL;
	size_t n = 0;
	int rc = migrations_load(p->migrations_dir, &set);
	if (!rc)
		rc = pipeline_targets(env, pl, NULL, &targets, &n);
	struct plan plan;
	plan_init(&plan, p, env, pl, n);
	if (!rc)
		rc = plan_digest_files(&plan, env, pl);
	json_t *downs = json_array();
	for (size_t i = 0; !rc && i < n; i++) {
		struct inspection ins;
		inspect_target(p, env, targets[i], &set, "plan", 0, 0, &ins);
		if (!ins.reachable) {
			fail("could not plan a rollback of target \"%s\": it is not reachable", targets[i]->name);
			rc = fail_detail("%s", ins.error);
		} else if (ins.identity_error) {
			fail("could not plan a rollback of target \"%s\": identity mismatch", targets[i]->name);
			rc = fail_detail("%s", ins.identity_error);
		} else if (ins.plan_failed) {
			rc = err_pending() ? -1 : fail("could not read target \"%s\"", targets[i]->name);
		} else {
			plan.targets[i] = ins.plan;
			memset(&ins.plan, 0, sizeof ins.plan);
			json_t *d = json_object();
			const struct history *h = &plan.targets[i].history;
			for (size_t k = 0; !rc && k < h->n; k++) {
				const struct migration *m = migrations_find(&set, h->v[k].version);
				char sum[65] = "";
				char *text = NULL;
				size_t tl = 0;
				if (m && m->down_path && read_text_file(m->down_path, &text, &tl) == 0)
					migration_checksum(text, tl, sum);
				free(text);
				json_object_set_new(d, h->v[k].version, *sum ? json_string(sum) : json_null());
			}
			json_array_append_new(downs, d);
		}
		inspect_release(&ins);
	}
	char *base = NULL;
	size_t blen = 0;
	if (!rc)
		rc = plan_bytes(&plan, &base, &blen);
	json_t *doc = rc ? NULL : json_loads(base, 0, NULL);
	if (doc) {
		json_object_set_new(doc, "kind", json_string("rollback"));
		json_object_set_new(doc, "rollback", json_pack("{s:o, s:o}", "run", jstr(run), "to", jstr(to)));
		size_t i;
		json_t *t;
		json_array_foreach (json_object_get(doc, "targets"), i, t)
			json_object_set(t, "down_sha256", json_array_get(downs, i));
		char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		rc = text ? plan_canonical(text, strlen(text), bytes, len) : fail("could not build the rollback plan");
		free(text);
	} else if (!rc) {
		rc = fail("could not build the rollback plan");
	}
	json_decref(doc);
	json_decref(downs);
	free(base);
	plan_release(&plan);
	free(targets);
	migrations_release(&set);
	return rc;
}

int plan_rollback(struct cmd_ctx *ctx, const char *envname, const char *key, const char *run, const char *to,
		  const char *out)
{
	if (run && to) {
		fail("--run and --to cannot go together");
		return fail_status(EXIT_USAGE);
	}
	if (run && plan_id_check(run)) {
		err_clear();
		char *shown = xstrprintable(run);
		fail("\"%s\" is not a run id", shown);
		free(shown);
		return fail_status(EXIT_USAGE);
	}
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (env_pipeline(ctx, envname, &p, &env, &pl))
		return -1;
	int rc = 0;
	if (!key) {
		fail("a rollback plan must be signed: give --key KEY");
		rc = fail_status(EXIT_USAGE);
	}
	char *bytes = NULL;
	size_t len = 0;
	if (!rc)
		rc = rollback_body(p, &env, &pl, run, to, &bytes, &len);
	char hash[65] = "";
	char *id = ledger_new_run_id();
	char now[32];
	sign_now(now);
	struct sign_fields f = { "request", env.name, id, hash, NULL, now, NULL };
	char *msg = NULL, *sig = NULL;
	struct sign_check c;
	memset(&c, 0, sizeof c);
	if (!rc) {
		plan_hash(bytes, len, hash);
		msg = sign_message(&f);
		rc = sign_create(key, msg, &sig);
	}
	if (!rc)
		rc = sign_verify(pl.signers, NULL, msg, sig, &c);
	if (!rc && !c.valid) {
		fail("the key %s cannot request a plan of env \"%s\": %s", key, env.name, c.why ? c.why : "?");
		rc = fail_status(EXIT_APPROVAL);
	}
	if (!rc)
		rc = plan_store(p, &env, id, hash, bytes, NULL, NULL);
	if (!rc)
		rc = plan_sig_add(p, &env, &f, c.principal, c.fingerprint, sig, NULL);
	if (!rc && out && fs_write_atomic(out, bytes, len, 0644))
		rc = fail_detail("the plan %s was recorded; only writing the file failed", id);
	if (!rc) {
		printf("rollback plan %s for env %s: undo %s%s\n", id, env.name,
		       run  ? "run "
		       : to ? "every migration after "
			    : "the newest run with migrations applied",
		       run  ? run
		       : to ? to
			    : "");
		printf("\nrecorded plan %s (hash sha256:%s)\n", id, hash);
		printf("requested by %s (key %s); approve with `padctl approve %s --key KEY`, then `padctl rollback %s "
		       "--plan %s`\n",
		       c.principal, c.fingerprint ? c.fingerprint : "?", id, env.name, id);
	}
	sign_check_release(&c);
	free(msg);
	free(sig);
	free(id);
	free(bytes);
	cmd_env_release(&env, &pl);
	return rc;
}

int rollback_plan_check(struct cmd_ctx *ctx, const char *envname, const char *id, char **run, char **to)
{
	*run = *to = NULL;
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (env_pipeline(ctx, envname, &p, &env, &pl))
		return -1;
	struct plan_record r;
	struct tally t;
	memset(&t, 0, sizeof t);
	int rc = plan_record_load(p, &env, id, &r);
	json_t *body = rc ? NULL : json_loads(r.body, 0, NULL);
	if (!rc &&
	    strcmp(json_string_value(json_object_get(body, "kind")) ? json_string_value(json_object_get(body, "kind"))
								    : "",
		   "rollback") != 0) {
		fail("plan %s is not a rollback plan", id);
		fail_hint("`padctl plan %s --rollback [--run ID | --to VERSION] --key KEY` records one", env.name);
		rc = fail_status(EXIT_USAGE);
	}
	for (size_t k = 0; !rc && k < r.nstages; k++)
		if (strcmp(r.stages[k].event, "done") == 0) {
			fail("rollback plan %s was carried out already: a plan runs once", id);
			rc = fail_status(EXIT_USAGE);
		}
	if (!rc)
		rc = approvals_tally(pl.signers, &r, NULL, pl.approvals_valid_for * 3600L, &t);
	if (!rc && !t.body_ok) {
		fail("plan %s in the ledger does not match its own hash: nothing was changed", id);
		rc = -1;
	} else if (!rc && !t.requester) {
		fail("plan %s cannot be carried out: %s", id, t.request_why);
		rc = fail_status(EXIT_APPROVAL);
	} else if (!rc && (int)t.napprovers < pl.approvals_required) {
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < t.nmay; i++)
			buf_addf(&b, "%s%s", i ? ", " : "", t.may_approve[i]);
		fail("rollback plan %s has %zu of the %d approvals it needs: %zu missing", id, t.napprovers,
		     pl.approvals_required, (size_t)pl.approvals_required - t.napprovers);
		fail_hint("who may approve: %s (`padctl approve %s --key KEY`)", b.len ? buf_str(&b) : "nobody else",
			  id);
		buf_release(&b);
		rc = fail_status(EXIT_APPROVAL);
	}
	const json_t *what = json_object_get(body, "rollback");
	char *now = NULL;
	size_t nlen = 0;
	if (!rc)
		rc = rollback_body(p, &env, &pl, json_string_value(json_object_get(what, "run")),
				   json_string_value(json_object_get(what, "to")), &now, &nlen);
	if (!rc) {
		char hash[65];
		plan_hash(now, nlen, hash);
		if (strcmp(hash, r.hash) != 0) {
			fail("rollback plan %s no longer matches the targets: nothing was changed", id);
			char *diff = plan_diff(r.body, now, 20);
			for (char *line = diff, *next; line && *line; line = next) {
				next = strchr(line, '\n');
				if (next)
					*next++ = '\0';
				fail_detail("%s", line);
			}
			free(diff);
			rc = fail_hint("record a new rollback plan and have it approved");
		}
	}
	if (!rc) {
		const char *rv = json_string_value(json_object_get(what, "run"));
		const char *tv = json_string_value(json_object_get(what, "to"));
		*run = rv ? xstrdup(rv) : NULL;
		*to = tv ? xstrdup(tv) : NULL;
		log_info("rollback plan %s: requested by %s, approved, holds", id, t.requester);
	}
	free(now);
	json_decref(body);
	tally_release(&t, r.nsigs);
	if (r.id)
		plan_record_release(&r);
	cmd_env_release(&env, &pl);
	return rc;
}

void rollback_plan_done(struct cmd_ctx *ctx, const char *envname, const char *id, int failed)
{
	struct err_scope e;
	err_scope_push(&e);
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, envname, &p, &env, NULL) == 0) {
		struct db *db = NULL;
		const struct cfg_target *lt = env.ledger ? config_env_target(&env, env.ledger) : &env.targets[0];
		if (target_open_write(p, env.name, lt, "rollback", id, 30000, &db) == 0)
			plan_stage_add(db, id, "rollback", NULL, NULL, failed ? "failed" : "done", NULL);
		db_close(db);
		cmd_env_release(&env, NULL);
	}
	if (err_pending())
		log_warn("could not record the outcome of rollback plan %s: %s", id, err_message());
	err_scope_pop(&e, ERR_DISCARD);
}

#include "approvals.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "ledger.h"
#include "log.h"
#include "plan.h"
#include "target.h"

int plan_id_check(const char *id)
{
	/* YYYYMMDD-HHMMSS-xxxxxxxx */
	static const char shape[] = "dddddddd-dddddd-xxxxxxxx";
	int ok = id && strlen(id) == sizeof shape - 1;
	for (size_t i = 0; ok && shape[i]; i++) {
		unsigned char c = (unsigned char)id[i];
		if (shape[i] == 'd')
			ok = c >= '0' && c <= '9';
		else if (shape[i] == 'x')
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
		else
			ok = c == (unsigned char)shape[i];
	}
	if (ok)
		return 0;
	char *shown = xstrprintable(id ? id : "");
	fail("\"%s\" is not a plan id", shown);
	free(shown);
	fail_hint("a plan id looks like 20261122-071500-1a2b3c4d: `padctl plan ENV` prints it, `padctl history ENV` "
		  "lists them");
	return fail_status(EXIT_USAGE);
}

static char *col(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

#define TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int plan_record_load(const struct cfg_project *p, const struct cfg_env *env, const char *id, struct plan_record *r)
{
	memset(r, 0, sizeof *r);
	if (plan_id_check(id))
		return -1;
	const struct cfg_target *lt = plan_ledger_target(env);
	struct db *db = NULL;
	int rc = target_open_read(p, env->name, lt, "plan", NULL, &db);
	int exists = 0, bodies = 0;
	if (!rc)
		rc = ledger_plan_tables(db, &exists, &bodies);
	PGresult *res = NULL;
	const char *params[] = { id };
	if (!rc && exists) {
		char *sql = xstrfmt("SELECT id, env, hash, %s, " TS("created_at") ", created_by, "
				    "to_regclass('padctl.plan_signatures') IS NOT NULL FROM padctl.plans WHERE id = $1",
				    ledger_plan_body_sql(bodies));
		rc = db_query(db, sql, 1, params, &res);
		free(sql);
	}
	if (!rc && (!exists || PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1), env->name) != 0)) {
		if (exists && PQntuples(res) == 1)
			fail("plan \"%s\" was made for env \"%s\", not \"%s\"", id, PQgetvalue(res, 0, 1), env->name);
		else
			fail("there is no plan \"%s\" in the ledger of target \"%s\"", id, lt->name);
		fail_hint("`padctl plan %s` records a plan and prints its id", env->name);
		rc = fail_status(EXIT_USAGE);
	}
	if (!rc && PQgetisnull(res, 0, 3))
		rc = ledger_plan_no_body(db, id, PQgetvalue(res, 0, 2));
	int have_sigs = 0;
	if (!rc) {
		r->id = col(res, 0, 0);
		r->env = col(res, 0, 1);
		r->hash = col(res, 0, 2);
		r->body = col(res, 0, 3);
		r->created_at = col(res, 0, 4);
		r->created_by = col(res, 0, 5);
		have_sigs = PQgetvalue(res, 0, 6)[0] == 't';
	}
	PQclear(res);
	res = NULL;
	if (!rc && have_sigs)
		rc = db_query(
			db,
			"SELECT seq, action, stage, principal, fingerprint, signed_at, comment, signature, " TS(
				"recorded_at") ", recorded_by FROM padctl.plan_signatures WHERE plan_id = $1 ORDER BY seq",
			1, params, &res);
	if (!rc && have_sigs) {
		r->nsigs = (size_t)PQntuples(res);
		r->sigs = xcalloc(r->nsigs ? r->nsigs : 1, sizeof *r->sigs);
		for (size_t i = 0; i < r->nsigs; i++) {
			struct sig_row *s = &r->sigs[i];
			int k = (int)i;
			s->seq = col(res, k, 0);
			s->action = col(res, k, 1);
			s->stage = col(res, k, 2);
			s->principal = col(res, k, 3);
			s->fingerprint = col(res, k, 4);
			s->signed_at = col(res, k, 5);
			s->comment = col(res, k, 6);
			s->signature = col(res, k, 7);
			s->recorded_at = col(res, k, 8);
			s->recorded_by = col(res, k, 9);
		}
		PQclear(res);
		res = NULL;
		rc = db_query(db,
			      "SELECT seq, stage, target, run_id, event, detail, " TS(
				      "at") ", recorded_by "
					    "FROM padctl.plan_stages WHERE plan_id = $1 ORDER BY seq",
			      1, params, &res);
		if (!rc) {
			r->nstages = (size_t)PQntuples(res);
			r->stages = xcalloc(r->nstages ? r->nstages : 1, sizeof *r->stages);
			for (size_t i = 0; i < r->nstages; i++) {
				struct stage_row *s = &r->stages[i];
				int k = (int)i;
				s->seq = col(res, k, 0);
				s->stage = col(res, k, 1);
				s->target = col(res, k, 2);
				s->run_id = col(res, k, 3);
				s->event = col(res, k, 4);
				s->detail = col(res, k, 5);
				s->at = col(res, k, 6);
				s->recorded_by = col(res, k, 7);
			}
		}
		PQclear(res);
		res = NULL;
		if (!rc)
			rc = db_query(db,
				      "SELECT version, name, up_sha256, sql FROM padctl.plan_sql WHERE plan_id = $1 "
				      "ORDER BY version",
				      1, params, &res);
		if (!rc) {
			r->nsql = (size_t)PQntuples(res);
			r->sql = xcalloc(r->nsql ? r->nsql : 1, sizeof *r->sql);
			for (size_t i = 0; i < r->nsql; i++) {
				r->sql[i].version = col(res, (int)i, 0);
				r->sql[i].name = col(res, (int)i, 1);
				r->sql[i].up_sha256 = col(res, (int)i, 2);
				r->sql[i].sql = col(res, (int)i, 3);
			}
		}
	}
	PQclear(res);
	db_close(db);
	if (rc)
		plan_record_release(r);
	return rc;
}

void plan_record_release(struct plan_record *r)
{
	free(r->id);
	free(r->env);
	free(r->hash);
	free(r->body);
	free(r->created_at);
	free(r->created_by);
	for (size_t i = 0; i < r->nsigs; i++) {
		struct sig_row *s = &r->sigs[i];
		free(s->seq);
		free(s->action);
		free(s->stage);
		free(s->principal);
		free(s->fingerprint);
		free(s->signed_at);
		free(s->comment);
		free(s->signature);
		free(s->recorded_at);
		free(s->recorded_by);
	}
	free(r->sigs);
	for (size_t i = 0; i < r->nstages; i++) {
		struct stage_row *s = &r->stages[i];
		free(s->seq);
		free(s->stage);
		free(s->target);
		free(s->run_id);
		free(s->event);
		free(s->detail);
		free(s->at);
		free(s->recorded_by);
	}
	free(r->stages);
	for (size_t i = 0; i < r->nsql; i++) {
		free(r->sql[i].version);
		free(r->sql[i].name);
		free(r->sql[i].up_sha256);
		free(r->sql[i].sql);
	}
	free(r->sql);
	memset(r, 0, sizeof *r);
}

int plan_sig_add(const struct cfg_project *p, const struct cfg_env *env, const struct sign_fields *f,
		 const char *principal, const char *fingerprint, const char *signature, const struct plan *pl)
{
	const struct cfg_target *lt = plan_ledger_target(env);
	struct db *db = NULL;
	int rc = target_open_write(p, env->name, lt, "approve", f->plan, 10000, &db);
	PGresult *res = NULL;
	if (!rc)
		rc = db_query(db, "BEGIN", 0, NULL, &res);
	PQclear(res);
	res = NULL;
	if (!rc) {
		const char *params[] = { f->plan, f->action,  f->stage,	 principal,	fingerprint,
					 f->time, f->comment, signature, ledger_actor() };
		rc = db_query(db,
			      "INSERT INTO padctl.plan_signatures (plan_id, action, stage, principal, fingerprint, "
			      "signed_at, comment, signature, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			      9, params, &res);
		PQclear(res);
		res = NULL;
	}
	for (size_t i = 0; !rc && pl && i < pl->ntargets; i++)
		for (size_t k = 0; !rc && k < pl->targets[i].ntodo; k++) {
			const struct plan_mig *pm = &pl->targets[i].todo[k];
			if (pm->skip_reason)
				continue;
			const char *params[] = { f->plan, pm->m->version, pm->m->name, pm->m->checksum, pm->m->up_sql };
			rc = db_query(db,
				      "INSERT INTO padctl.plan_sql (plan_id, version, name, up_sha256, sql) "
				      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (plan_id, version) DO NOTHING",
				      5, params, &res);
			PQclear(res);
			res = NULL;
		}
	if (db) {
		rc = db_query(db, rc ? "ROLLBACK" : "COMMIT", 0, NULL, &res) || rc ? -1 : 0;
		PQclear(res);
		ledger_unlock(db);
	}
	db_close(db);
	if (rc)
		fail_detail("the signature was not recorded (plans are kept in the ledger of target \"%s\")", lt->name);
	return rc;
}

int plan_stage_add(struct db *db, const char *plan_id, const char *stage, const char *target, const char *run_id,
		   const char *event, const char *detail)
{
	const char *params[] = { plan_id, stage, target, run_id, event, detail, ledger_actor() };
	PGresult *res = NULL;
	int rc = db_query(db,
			  "INSERT INTO padctl.plan_stages (plan_id, stage, target, run_id, event, detail, recorded_by) "
			  "VALUES ($1, $2, $3, $4, $5, $6, $7)",
			  7, params, &res);
	PQclear(res);
	return rc;
}

void plan_record_fields(const struct plan_record *r, size_t i, struct sign_fields *f)
{
	const struct sig_row *s = &r->sigs[i];
	f->action = s->action;
	f->env = r->env;
	f->plan = r->id;
	f->hash = r->hash;
	f->stage = s->stage;
	f->time = s->signed_at;
	f->comment = s->comment;
}

static int same_stage(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int listed(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int approvals_tally(const char *allowed, const struct plan_record *r, const char *stage, long valid_for,
		    struct tally *t)
{
	memset(t, 0, sizeof *t);
	size_t n = r->nsigs;
	t->checks = xcalloc(n ? n : 1, sizeof *t->checks);
	t->notes = xcalloc(n ? n : 1, sizeof *t->notes);
	t->approvers = xcalloc(n + 1, sizeof *t->approvers);
	char own[65];
	plan_hash(r->body, strlen(r->body), own);
	t->body_ok = strcmp(own, r->hash) == 0;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct sign_fields f;
		plan_record_fields(r, i, &f);
		char *msg = sign_message(&f);
		rc = sign_verify(allowed, r->sigs[i].principal, msg, r->sigs[i].signature, &t->checks[i]);
		free(msg);
	}
	/* the request: the first request row */
	for (size_t i = 0; !rc && i < n && !t->requester && !t->request_why; i++) {
		if (strcmp(r->sigs[i].action, "request") != 0)
			continue;
		if (t->checks[i].valid)
			t->requester = xstrdup(t->checks[i].principal);
		else
			t->request_why = xstrfmt("the requester's signature (%s) does not verify now: %s",
						 r->sigs[i].principal, t->checks[i].why ? t->checks[i].why : "?");
	}
	if (!rc && !t->requester && !t->request_why)
		t->request_why =
			xstrdup("the plan was recorded without a signature (`padctl plan ENV --key KEY` signs it)");
	time_t now = time(NULL);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct sig_row *s = &r->sigs[i];
		if (strcmp(s->action, "request") == 0 || !same_stage(s->stage, stage)) {
			t->notes[i] = xstrdup("");
			continue;
		}
		const char *why = NULL;
		if (!t->body_ok)
			why = "the plan's recorded body does not match its hash";
		else if (!t->checks[i].valid)
			why = "the signature does not verify against allowed_signers now";
		else if (t->requester && strcmp(t->checks[i].principal, t->requester) == 0)
			why = "signed by the requester, who cannot approve their own plan";
		long long at = sign_time_parse(s->signed_at);
		if (!why && strcmp(s->action, "approve") == 0 && valid_for > 0 &&
		    (at < 0 || (long long)now - at > valid_for))
			why = "expired (approvals.valid_for)";
		t->notes[i] = xstrdup(why ? why : "");
		if (why)
			continue;
		const char *who = t->checks[i].principal;
		if (strcmp(s->action, "withdraw") == 0) {
			for (size_t k = 0; k < t->napprovers; k++)
				if (strcmp(t->approvers[k], who) == 0) {
					free(t->approvers[k]);
					t->approvers[k] = t->approvers[--t->napprovers];
					t->approvers[t->napprovers] = NULL;
					break;
				}
		} else if (!listed(t->approvers, t->napprovers, who)) {
			t->approvers[t->napprovers++] = xstrdup(who);
		}
	}
	/* who could still approve: listed, not the requester, not counted yet */
	char *text = NULL;
	size_t len = 0;
	char **all = NULL;
	size_t nall = 0;
	if (!rc && fs_read_text_if(allowed, &text, &len) == 0 && text) {
		sign_principals(text, len, &all, &nall);
		t->may_approve = xcalloc(nall + 1, sizeof *t->may_approve);
		for (size_t i = 0; i < nall; i++)
			if ((!t->requester || strcmp(all[i], t->requester) != 0) &&
			    !listed(t->approvers, t->napprovers, all[i]))
				t->may_approve[t->nmay++] = xstrdup(all[i]);
		sign_principals_free(all, nall);
	}
	free(text);
	return rc;
}

void tally_release(struct tally *t, size_t nrows)
{
	free(t->requester);
	free(t->request_why);
	for (size_t i = 0; i < t->napprovers; i++)
		free(t->approvers[i]);
	free(t->approvers);
	for (size_t i = 0; i < t->nmay; i++)
		free(t->may_approve[i]);
	free(t->may_approve);
	for (size_t i = 0; t->checks && i < nrows; i++)
		sign_check_release(&t->checks[i]);
	free(t->checks);
	for (size_t i = 0; t->notes && i < nrows; i++)
		free(t->notes[i]);
	free(t->notes);
	memset(t, 0, sizeof *t);
}

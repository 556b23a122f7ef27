/* approvals: the signed records of a plan in the env's ledger target (the
 * requester's signature, approvals, withdrawals, stage and target records)
 * and how they count.
 *
 * Every record is appended (padctl.plan_signatures, padctl.plan_stages,
 * ledger step 7); none is ever updated or deleted. Signatures are checked
 * again each time they count (approvals_tally), against the pipeline's
 * allowed_signers file as it is then: a signer removed from it no longer
 * counts, whatever the ledger says. */
#ifndef PADCTL_APPROVALS_H
#define PADCTL_APPROVALS_H

#include <stddef.h>

#include "config.h"
#include "db.h"
#include "plan.h"
#include "sign.h"

struct sig_row {
	char *seq, *action, *stage, *principal, *fingerprint, *signed_at, *comment, *signature, *recorded_at,
		*recorded_by;
};

struct stage_row {
	char *seq, *stage, *target, *run_id, *event, *detail, *at, *recorded_by;
};

struct sql_row {
	char *version, *name, *up_sha256, *sql;
};

/* One plan as the ledger holds it. */
struct plan_record {
	char *id, *env, *hash, *body, *created_at, *created_by;
	struct sig_row *sigs;
	size_t nsigs;
	struct stage_row *stages;
	size_t nstages;
	struct sql_row *sql; /* the SQL recorded with a signed request */
	size_t nsql;
};

/* plan_id_check refuses (EXIT_USAGE) what cannot be a plan id
 * (YYYYMMDD-HHMMSS-xxxxxxxx, as ledger_new_run_id makes them). */
int plan_id_check(const char *id);

/* plan_record_load reads plan id with its records from the env's ledger
 * target, read-only. Unknown id or another env's plan: EXIT_USAGE. */
int plan_record_load(const struct cfg_project *p, const struct cfg_env *env, const char *id, struct plan_record *r);
void plan_record_release(struct plan_record *r);

/* plan_sig_add appends a signature record (f's fields, principal and the
 * key's fingerprint as sign_verify found them) to the env's ledger target;
 * with pl (the request), in the same transaction, the SQL of every migration
 * the plan applies (padctl.plan_sql), so the ledger alone shows it. */
int plan_sig_add(const struct cfg_project *p, const struct cfg_env *env, const struct sign_fields *f,
		 const char *principal, const char *fingerprint, const char *signature, const struct plan *pl);

/* plan_stage_add appends a stage record (target NULL: the stage as a whole)
 * on db, an open connection to the env's ledger target. */
int plan_stage_add(struct db *db, const char *plan_id, const char *stage, const char *target, const char *run_id,
		   const char *event, const char *detail);

/* plan_record_fields rebuilds the signed fields of row i of r */
void plan_record_fields(const struct plan_record *r, size_t i, struct sign_fields *f);

/* What counts for a plan, or for one stage gate of it. */
struct tally {
	int body_ok; /* the stored body hashes to the stored hash */
	char *requester; /* the requester's principal when the request verifies now, else NULL */
	char *request_why; /* why the request does not verify */
	char **approvers; /* the principals that count, each once */
	size_t napprovers;
	char **may_approve; /* principals of allowed_signers that could still approve */
	size_t nmay;
	struct sign_check *checks; /* per row of r->sigs: verified against allowed_signers now */
	char **notes; /* per row: why it does not count ("" when it counts or is not for this gate) */
};

/* approvals_tally verifies every signature row of r against allowed (the
 * pipeline's allowed_signers file) now, and counts the approvals of stage
 * (NULL: of the plan as a whole): valid, by a principal other than the
 * requester, not withdrawn later by that principal, not older than
 * valid_for seconds (0: no limit); each principal once. -1 only when
 * ssh-keygen cannot be run. */
int approvals_tally(const char *allowed, const struct plan_record *r, const char *stage, long valid_for,
		    struct tally *t);
void tally_release(struct tally *t, size_t nrows);

#endif

/* guard: the protected-schema guard at run time. Lint reads a migration's
 * text; dynamic SQL (EXECUTE in a DO block, a function the migration calls)
 * it cannot see. The guard looks at what the server did instead:
 *
 * - inside a migration's transaction, a check sent in the same message as
 *   COMMIT (no round trip of its own; after SET CONSTRAINTS ALL IMMEDIATE,
 *   so deferred triggers have run) fails the commit when the transaction
 *   wrote rows to a table of a protected schema (pg_stat_xact_*), or changed
 *   its catalog: a catalog row of the schema, its relations, columns,
 *   constraints, indexes, triggers, rules, policies, sequences, functions,
 *   types or privileges written by this transaction (its xmin is ours), or
 *   objects gone since the step began (the count of what depends on the
 *   schema and its relations, taken once per step);
 * - outside a transaction (`transactional: false`) nothing is ours once a
 *   statement has committed, so a fingerprint of the catalog rows themselves
 *   is compared after each statement.
 *
 * The checks live in temporary functions (pg_temp, created once per
 * connection), so their plans are cached like a prepared statement's. Both
 * checks go through a fast one first (pg_temp.padctl_guard_fast, written
 * when the state is taken): it counts, with TID scans, the catalog rows the
 * full check reads still visible where they were with the xmins they had,
 * and the pg_depend rows that tie objects to the schema, and hands over to
 * the full check only when a count differs (guard.c says why that is sound),
 * which also keeps the attribution and the messages as they were. */
#ifndef PADCTL_GUARD_H
#define PADCTL_GUARD_H

#include "db.h"

#include <libpq-fe.h>
#include <stddef.h>

struct guard {
	struct db *db;
	char *const *names; /* the protected schemas, borrowed */
	size_t nnames;
	char *schemas; /* the protected schemas as an SQL array literal; NULL: the guard is off */
	int created; /* the function exists on the connection */
	char *base; /* the state at the start of the step (transactional check) */
	char *listing; /* the objects at the start, one per line: what a failure names as dropped */
	char *content; /* the catalog fingerprint before the statement (outside a transaction) */
	char *check_sql; /* the statement sent before COMMIT */
	const char *what; /* "migration 0016_x" in messages, borrowed */
};

/* guard_init prepares g for the n protected schemas (n 0: the guard stays
 * off). guard_release frees what it holds. */
void guard_init(struct guard *g, struct db *db, char *const *schemas, size_t n);
void guard_release(struct guard *g);

/* guard_step_start forgets the state of an earlier step: the next
 * guard_tx_sql takes it anew. */
void guard_step_start(struct guard *g);

/* guard_tx_sql returns the statement to send in front of COMMIT (borrowed,
 * valid until the next call), after taking the step's starting state when
 * it has none (one round trip per step, outside any transaction: call it
 * before BEGIN is queued). NULL with an error recorded when that failed;
 * "" when the guard is off. */
const char *guard_tx_sql(struct guard *g, struct db *db);

/* guard_counting_sql returns the statement to send where a migration's
 * text ends, before the session is reset for its history row: it fails
 * (as the guard's refusal, guard_commit_failed) when the migration left
 * track_counts off, which hides its writes from the check. "" when the
 * guard is off. */
const char *guard_counting_sql(const struct guard *g);

/* guard_commit_failed tells whether res (the answer to the message that
 * carried guard_tx_sql and COMMIT) is the guard's refusal, and if so records
 * the error naming the schemas and objects: 1, else 0. */
int guard_commit_failed(struct guard *g, PGresult *res);

/* guard_alone_begin takes the catalog fingerprint before a file runs outside
 * a transaction and sets db->after_statement to compare it after each
 * statement; guard_alone_end clears it. */
int guard_alone_begin(struct guard *g, struct db *db);
void guard_alone_end(struct guard *g, struct db *db);

#endif

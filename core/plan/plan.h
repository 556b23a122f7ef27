/* plan: what a run will do, per target, as one object.
 *
 * A plan is built from the env, its pipeline, the migration files and each
 * target's identity and applied history. `status` shows it, `plan` prints,
 * hashes and records it, and the engine runs it: `deploy` builds it under
 * each target's lock, `deploy --plan ID` re-derives it under every target's
 * lock and runs only when its hash equals the recorded one.
 *
 * Canonical bytes (what is hashed, stored in padctl.plans.body and written
 * by `plan --out`): the plan as one JSON object, UTF-8, with
 *   - object keys sorted by their bytes (strcmp), each key once;
 *   - no white space outside strings: `,` and `:` with nothing around them;
 *   - strings with `"` and `\` escaped by a backslash, the bytes below 0x20
 *     as \b \f \n \r \t where those exist and as \u00XX (upper-case hex)
 *     otherwise; every other character, `/`, DEL and non-ASCII included, as
 *     its own UTF-8 bytes (no other \u escapes);
 *   - numbers only as integers (no fractions, no exponents), true, false, null;
 *   - one line feed (0x0a) after the closing brace, nothing else after it.
 * The hash is the lower-case hex SHA-256 of those bytes, trailing line feed
 * included, so `sha256sum FILE` of a `plan --out FILE` prints it.
 *
 * The document, format 2 (`"padctl_plan":2`):
 *   {"env", "env_sha256", "padctl_plan", "pipeline", "pipeline_sha256",
 *    "project", "targets": [per target, in rollout order:
 *      {"target", "system_id", "dbname"  the server's identity,
 *       "history": [{"version", "checksum", "status"}]  applied history, by version,
 *       "migrations": [{"version", "name", "action" ("apply" or "skip"),
 *                       "reason" (skip only), "transactional", "up_sha256",
 *                       "down_sha256", "verify_sha256" (null: no file)}],
 *       "backups": [], "seeds": [], "lint": [], "backfills": []}]}
 * "backups", "seeds", "lint" and "backfills" are always empty arrays in
 * format 2: they hold what later versions plan for those. File paths and the
 * SQL itself are left out on purpose: the checksums cover the SQL, and a
 * path would make the hash depend on where the project is checked out.
 * Whether a target already has a ledger is left out too (a deploy creates
 * it under the lock before re-deriving the plan).
 */
#ifndef PADCTL_PLAN_H
#define PADCTL_PLAN_H

#include <stddef.h>

#include "config.h"
#include "db.h"
#include "migrations.h"

/* the value of "padctl_plan" in the canonical bytes */
#define PLAN_FORMAT 2

/* One migration a run handles on a target. */
struct plan_mig {
	const struct migration *m; /* borrowed from the migration set */
	const char *skip_reason; /* non-NULL: recorded as skipped, not run (borrowed from the env) */
	char down_sha256[65]; /* "" when there is no down.sql, or the set was loaded brief */
	char verify_sha256[65]; /* "" when there is no verify.sql, or the set was loaded brief */
};

/* One target's part of a plan. */
struct plan_target {
	const struct cfg_target *t;
	char *system_id; /* the server's identity at plan time (NULL: not read) */
	char *dbname;
	struct history history; /* the applied history at plan time (owned) */
	struct mig_plan mig; /* every migration's state against history: what status shows */
	struct plan_mig *todo; /* what a run does, in order */
	size_t ntodo;
};

struct plan {
	const char *project; /* names, borrowed from the configuration */
	const char *env;
	const char *pipeline; /* NULL when built without a pipeline (status) */
	char env_sha256[65]; /* "" until plan_digest_files */
	char pipeline_sha256[65];
	struct plan_target *targets; /* ntargets slots, filled by plan_target_build */
	size_t ntargets;
};

/* plan_init starts an empty plan for ntargets targets (zeroed slots); it
 * reads nothing. pipeline may be NULL. */
void plan_init(struct plan *pl, const struct cfg_project *p, const struct cfg_env *env,
	       const struct cfg_pipeline *pipeline, size_t ntargets);
/* plan_digest_files records the SHA-256 of the env file and the pipeline file. */
int plan_digest_files(struct plan *pl, const struct cfg_env *env, const struct cfg_pipeline *pipeline);
/* plan_read_target reads a target's identity and its history in one round
 * trip (an empty history when the target has no ledger yet). */
int plan_read_target(struct db *db, char **system_id, char **dbname, struct history *h);
/* plan_target_build fills pt for target t: it takes over *h (left empty) and
 * copies system_id and dbname (either may be NULL), compares set with the
 * history and the env's skip list, and lists the migrations a run handles:
 * pending ones, the env's skips, and out-of-order ones when allow_ooo. It
 * reads down.sql and verify.sql for their checksums when the set has their
 * paths (migrations_load; a brief set reads nothing). */
int plan_target_build(struct plan_target *pt, const struct cfg_target *t, const char *system_id, const char *dbname,
		      struct history *h, const struct migration_set *set, const struct cfg_env *env, int allow_ooo);
void plan_target_release(struct plan_target *pt);
void plan_release(struct plan *pl);

/* plan_bytes serialises the plan to its canonical bytes (newly allocated,
 * NUL-terminated; *len without the NUL). A name that is not UTF-8 fails with
 * EXIT_USAGE naming it. Every target slot must have been built. */
int plan_bytes(const struct plan *pl, char **bytes, size_t *len);
/* plan_canonical re-serialises any JSON text (an object or array) to the
 * canonical bytes above; it refuses invalid JSON, duplicate keys and
 * non-integer numbers. For checking a stored or signed plan. */
int plan_canonical(const char *text, size_t len, char **bytes, size_t *out_len);
/* plan_hash writes the lower-case hex SHA-256 of bytes; a failing OpenSSL
 * stops padctl (a plan's hash names it for approval: never one made of garbage). */
void plan_hash(const char *bytes, size_t len, char hex[65]);
/* plan_diff describes how canonical plan b differs from a, one line per
 * difference ("targets[t1].migrations[0002].up_sha256: ... -> ..."), at most
 * max lines; newly allocated, "" when they are equal. */
char *plan_diff(const char *a, const char *b, int max);

/* plan_keep_stored replaces, in the canonical bytes *bytes of a re-derived
 * plan, the part of each target i with skip[i] set by its part in stored:
 * for a staged rollout, whose targets of other stages are not re-derived
 * (what this plan's earlier stages changed there is no change). */
int plan_keep_stored(const char *stored, const unsigned char *skip, size_t n, char **bytes, size_t *len);

/* plan_ledger_target is the target whose ledger keeps the env's plans and
 * approvals (`ledger:`, default the first target). */
const struct cfg_target *plan_ledger_target(const struct cfg_env *env);

/* plan_store records a plan (its canonical bytes and their hash) as id in
 * the padctl.plans table of the env's ledger target, opened for writing as a
 * deploy opens it. With *open set (a read-only connection to that target,
 * opened by inspect_target: its identity checked), that connection is made
 * writable instead (target_promote_write) and taken over: it is closed, and
 * *open set to NULL, whatever happens. When that connection found a ledger
 * (seen: ledger_seen) and known_targets pins the target to the server it
 * reached, the row goes in without the lock and without the rest of the
 * opening (ledger_plan_add_current), unless the ledger is not this padctl's
 * version: a plan is one INSERT, which needs neither, and does not wait
 * behind a deploy that holds the lock. The body goes into
 * padctl.plan_bodies unless the ledger holds its hash; on that connection it
 * is not even sent when the body hint (.padctl/plan-body.*) names it. */
int plan_store(const struct cfg_project *p, const struct cfg_env *env, const char *id, const char *hash,
	       const char *bytes, struct db **open, const struct plan_target *seen);
/* plan_body_hint_parse reads a body hint (.padctl/plan-body.*: a header and
 * a SHA-256 in lowercase hex) into hash; -1, hash empty, when text is not
 * exactly one. */
int plan_body_hint_parse(const char *text, size_t len, char hash[65]);
/* plan_load reads plan id from the env's ledger target (read-only): its
 * stored bytes and hash, both newly allocated. An unknown id, or a plan
 * recorded for another env, fails with EXIT_USAGE. */
int plan_load(const struct cfg_project *p, const struct cfg_env *env, const char *id, char **bytes, char **hash);

#endif

/* drift: does a target's catalog still match what its history says was
 * applied to it?
 *
 * drift_check replays, on a scratch database, exactly the migrations the
 * target's padctl.migrations says are applied or baselined (in the order
 * they were applied; skipped and rolled-back ones are not run), each file
 * checked against the checksum its history row recorded, and compares the
 * catalog of the owned schemas (catalog.h) of the scratch with the target's.
 *
 * The scratch server is the project's managed local cluster
 * (`drift: {scratch: local}`) or a configured server (`drift: {scratch:
 * {host: ...}}`). Before the replay, the protected schemas the migrations may
 * reference (foreign keys to a read-only schema) are copied from the target
 * with `pg_dump --schema-only --no-owner --no-privileges` (the pg_dump of the
 * target's major version), so the scratch sees what the target's migrations
 * saw.
 *
 * The replay is cached by a key, the SHA-256 of: the target's PostgreSQL
 * major version (the catalogs are its printing), the owned schemas, the
 * protected schemas' catalog on the target (kept per target in
 * .padctl/drift/<who>.protected with the fingerprint of those schemas it was
 * read after, and read again only when the target's differs), and every
 * history row (status, version, checksum) in order. The scratch database is
 * padctl_drift_<first 24 hex digits of the key>, built under a temporary
 * name and renamed when complete; its catalog is kept in
 * .padctl/drift/<key>.catalog, so a check with nothing new neither replays
 * nor connects to the scratch server. That file records the major version
 * of the scratch server that made it: a replay made on another one than
 * the target's is compared with a warning, never recorded clean, and
 * replayed again once the scratch server has moved. The drift.keep most recently used
 * replays are kept; older ones (file and database) are removed.
 *
 * A target that compared clean is recorded with a fingerprint of the row
 * versions of the catalog rows its snapshot reads
 * (.padctl/drift/<key>.<target>.clean); while the fingerprint is the same,
 * nothing in its owned schemas' catalog changed, and the check ends there
 * (one cheap query instead of the snapshot). Any DDL, GRANT or CREATE OR
 * REPLACE writes new row versions, so the next check reads the catalog.
 *
 * The statement that computes the fingerprint also reads the server's quiet
 * key (identity, timeline, WAL position, database, snapshot) and counts the
 * rows of the catalogs the fingerprint reads, kept with the fingerprint per
 * target (.padctl/drift/quiet.<hash>): while the key is the same, nothing
 * was written on the server; while no catalog row is newer than the kept
 * snapshot and there are as many, no catalog row changed; either way the
 * statement answers with the kept fingerprint instead of computing it
 * (drift.c, the quiet key).
 *
 * A baselined target (history rows `baselined`, migrations padctl did not
 * run) compares only the objects the migrations after the baseline created,
 * changed or dropped: the scratch is snapshotted after the baselined
 * migrations and again after the rest, and only what differs between the two
 * is compared.
 */
#ifndef PADCTL_DRIFT_H
#define PADCTL_DRIFT_H

#include <jansson.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "db.h"

struct drift_result {
	struct catalog expected; /* the replay's catalog of the owned schemas */
	struct catalog actual; /* the target's */
	struct catalog only; /* baselined: the objects compared; else empty */
	struct cat_diff diff;
	int cached; /* the replay was reused */
	int unchanged; /* the target's catalog had not changed since it compared clean with this
				  * replay (its fingerprint): nothing was read or compared again */
	size_t replayed; /* migrations the replay ran (applied and baselined) */
	char *baseline; /* the newest baselined version, or NULL */
	char *scratch; /* the scratch database's name */
	int scratch_major; /* the PostgreSQL major version the replay was made on */
	int target_major; /* the target's */
	char key[65];
};

/* drift_check compares the target open on db (reached for messages as
 * target) with a replay of its history, into r (initialised here). A
 * project without `drift:` in padctl.yml fails with EXIT_USAGE saying how
 * to configure it. Finding drift is not a failure: read r->diff. */
int drift_check(const struct cfg_project *p, const char *target, struct db *db, struct drift_result *r);
/* drift_check_known is drift_check with what a caller had the server
 * compute in a message it sends anyway (status sends both with its own
 * first query), so a target that compared clean with a cached replay costs
 * no query of its own:
 * - known_fp, the value of drift_fingerprint_sql's expression on db (NULL:
 *   read it);
 * - known_history, the target's history in the order it was applied
 *   (ledger_history_send with LEDGER_HISTORY_APPLIED; brief is enough; NULL:
 *   read it). When the target is not known clean, the check reads the
 *   history again itself. */
struct history;
int drift_check_known(const struct cfg_project *p, const char *target, struct db *db, const char *known_fp,
		      const struct history *known_history, struct drift_result *r);
/* drift_fingerprint_sql returns, as one SQL expression without parameters
 * (newly allocated), target's quiet key, the count of the catalog's rows
 * ("-N" instead when the rows changed and N checks since have been
 * fingerprinted without counting them) and the fingerprint of p's owned
 * schemas (and, after " protected ", of its protected ones); or, when a key
 * is kept for target, "quiet" and the kept fingerprint (the same key),
 * "same", the new key, the kept count and fingerprint (the same rows), or
 * "changed"; its value goes to drift_check_known as known_fp ("changed":
 * the check asks for the fingerprint itself). */
char *drift_fingerprint_sql(const struct cfg_project *p, const char *target);
/* DRIFT_VERSION is the version of what a replay and a snapshot hold, in the
 * cache key and in every file drift keeps: a padctl that replays other rows
 * of a history or reads the catalog differently must not trust another's
 * replay or record of a clean target.
 * 2: rolled-back migrations are not replayed. 3: search_path pinned while
 * the catalog is read (a replay whose last migration set it printed names
 * without their schema). 4: the fingerprint reads the columns of views and
 * materialized views. 5: privileges on columns. 6: white space inside
 * string constants and quoted names of views and function bodies kept.
 * 7: a trigger's enabled state, an index's validity, a table's parents and
 * partition bound; the fingerprint reads pg_index and pg_inherits.
 * 8: aggregates' definitions, a column's collation with its schema, the
 * state of a constraint's own triggers, row level security, policies,
 * rules, views' options; privileges listed in order; the fingerprint reads
 * composite types' attributes, pg_policy, and the owned schemas' operator
 * classes, operators, text search configurations and dictionaries and
 * collations (a rename of one changes what an index or a constraint prints). */
#define DRIFT_VERSION "8"
/* drift_quiet_parse reads the file that keeps a target's quiet key, the
 * count of the catalog rows and the fingerprint ("padctl drift quiet "
 * DRIFT_VERSION " rows", the key, the count, the fingerprint: four lines,
 * nothing else); 0 and q filled, or -1 and q empty. */
struct drift_quiet {
	char *key; /* system identifier|timeline|WAL position|database oid|snapshot */
	char *rows; /* the catalog rows counted with the fingerprint (digits), or "-N" */
	char *value; /* the fingerprint */
	char *ident; /* the key's system identifier|timeline|database oid */
	uint64_t xmin; /* the snapshot's xmin (with its epoch) */
	unsigned misses; /* rows "-N": the rows changed, and N checks were fingerprinted without
				  * counting them since; 0 with a count */
};
int drift_quiet_parse(const char *text, size_t len, struct drift_quiet *q);
void drift_quiet_release(struct drift_quiet *q);
void drift_result_release(struct drift_result *r);

/* drift_summary returns a one-line summary ("no drift (...)", "3
 * differences (...)"), newly allocated. */
char *drift_summary(const struct drift_result *r);
/* drift_finding returns one difference as a line, printable, newly allocated. */
char *drift_finding(const struct cat_change *c);
/* drift_json returns r as a JSON object (a new reference). */
json_t *drift_json(const struct drift_result *r);

#endif

#include "ledger.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "log.h"
#include "sig.h"

#define LOCK_K1 LEDGER_LOCK_K1
#define LOCK_K2 LEDGER_LOCK_K2
/* The ledger's schema as numbered steps, applied in order, each exactly once:
 * padctl.meta's ledger_version is the number of steps a ledger has had. A
 * step is only ever appended, never edited (a released padctl may have run
 * it), and is idempotent, so a ledger stamped back by an older padctl heals.
 * Version 1 is the schema padctl had before steps existed. */
static const char *const ledger_steps[] = {
	/* 1: history, runs and their steps, plans */
	"CREATE SCHEMA IF NOT EXISTS padctl;\n"
	"CREATE TABLE IF NOT EXISTS padctl.meta (key text PRIMARY KEY, value text NOT NULL);\n"
	"CREATE TABLE IF NOT EXISTS padctl.migrations (\n"
	"  version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,\n"
	"  status text NOT NULL CHECK (status IN ('applied', 'skipped', 'baselined')),\n"
	"  reason text, applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n"
	"  applied_by text NOT NULL, run_id text, duration_ms double precision);\n"
	"CREATE TABLE IF NOT EXISTS padctl.runs (\n"
	"  id text PRIMARY KEY, env text NOT NULL, target text NOT NULL, command text NOT NULL,\n"
	"  pipeline text, dry_run boolean NOT NULL DEFAULT false,\n"
	"  started_at timestamptz NOT NULL DEFAULT clock_timestamp(), finished_at timestamptz,\n"
	"  status text NOT NULL DEFAULT 'running', error text, run_by text NOT NULL, padctl_version text);\n"
	"CREATE TABLE IF NOT EXISTS padctl.run_steps (\n"
	"  run_id text NOT NULL REFERENCES padctl.runs (id), seq integer NOT NULL, step text NOT NULL,\n"
	"  phase text, started_at timestamptz NOT NULL DEFAULT clock_timestamp(), finished_at timestamptz,\n"
	"  status text NOT NULL DEFAULT 'running', error text, PRIMARY KEY (run_id, seq));\n"
	"CREATE TABLE IF NOT EXISTS padctl.plans (\n"
	"  id text PRIMARY KEY, env text NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n"
	"  created_by text NOT NULL, hash text NOT NULL, body text NOT NULL);\n",
	/* 2: accepted checksums of applied migrations (padctl repair) */
	"CREATE TABLE IF NOT EXISTS padctl.repairs (\n"
	"  run_id text NOT NULL REFERENCES padctl.runs (id), version text NOT NULL,\n"
	"  old_checksum text NOT NULL, new_checksum text NOT NULL, reason text NOT NULL,\n"
	"  repaired_at timestamptz NOT NULL DEFAULT clock_timestamp(), repaired_by text NOT NULL,\n"
	"  PRIMARY KEY (run_id, version));\n",
	/* 3: what plugins record through the SDK services: artifacts (files a
	 * step made, e.g. a dump), migrations rolled back, seed files applied */
	"CREATE TABLE IF NOT EXISTS padctl.artifacts (\n"
	"  run_id text NOT NULL REFERENCES padctl.runs (id), target text NOT NULL, name text NOT NULL,\n"
	"  path text NOT NULL, size bigint NOT NULL, sha256 text NOT NULL,\n"
	"  created_at timestamptz NOT NULL DEFAULT clock_timestamp(), verified boolean NOT NULL DEFAULT false,\n"
	"  PRIMARY KEY (run_id, target, name));\n"
	"CREATE TABLE IF NOT EXISTS padctl.rollbacks (\n"
	"  run_id text NOT NULL REFERENCES padctl.runs (id), version text NOT NULL,\n"
	"  rolled_back_at timestamptz NOT NULL DEFAULT clock_timestamp(), rolled_back_by text NOT NULL,\n"
	"  PRIMARY KEY (run_id, version));\n"
	"CREATE TABLE IF NOT EXISTS padctl.seeds (\n"
	"  run_id text NOT NULL REFERENCES padctl.runs (id), seed_set text NOT NULL, file text NOT NULL,\n"
	"  checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n"
	"  applied_by text NOT NULL, PRIMARY KEY (run_id, seed_set, file));\n",
	/* 4: seeds: a teardown (padctl seed --teardown) forgets a set's records,
	 * keeping them for the record: the next seed applies every file again */
	"ALTER TABLE padctl.seeds ADD COLUMN IF NOT EXISTS forgotten_by text REFERENCES padctl.runs (id);\n"
	"ALTER TABLE padctl.seeds ADD COLUMN IF NOT EXISTS forgotten_at timestamptz;\n"
	"CREATE INDEX IF NOT EXISTS seeds_set_file_idx ON padctl.seeds (seed_set, file) WHERE forgotten_by IS NULL;\n",
	/* 5: backups of the owned schemas (the backup step, the backups service,
	 * `padctl backups`): one per run and target; path NULL when no owned
	 * schema existed to dump; pruned_at set when retention deleted the file */
	"CREATE TABLE IF NOT EXISTS padctl.backups (\n"
	"  run_id text NOT NULL REFERENCES padctl.runs (id), target text NOT NULL, path text,\n"
	"  size bigint NOT NULL DEFAULT 0, sha256 text, tool_version text, schemas text[] NOT NULL,\n"
	"  started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n"
	"  verified boolean NOT NULL DEFAULT false, verified_at timestamptz, pruned_at timestamptz,\n"
	"  created_by text NOT NULL, PRIMARY KEY (run_id, target));\n",
	/* 6: rollback: a migration a rollback undid keeps its history row as
	 * `rolled_back` (pending again: the next deploy replaces the row); a
	 * rollback run names the run it undid; each padctl.rollbacks row names
	 * the run that had applied the migration and the strategy that undid it */
	"ALTER TABLE padctl.migrations DROP CONSTRAINT IF EXISTS migrations_status_check;\n"
	"ALTER TABLE padctl.migrations ADD CONSTRAINT migrations_status_check\n"
	"  CHECK (status IN ('applied', 'skipped', 'baselined', 'rolled_back'));\n"
	"ALTER TABLE padctl.runs ADD COLUMN IF NOT EXISTS rollback_of text;\n"
	"ALTER TABLE padctl.rollbacks ADD COLUMN IF NOT EXISTS undone_run text,\n"
	"  ADD COLUMN IF NOT EXISTS strategy text;\n",
	/* 7: backfills (padctl backfill, the backfill service): which target rows
	 * each source row became (a re-run skips a source row that has any),
	 * the source rows that failed with the server's error, and each run's
	 * counts, updated in every batch's transaction */
	"CREATE TABLE IF NOT EXISTS padctl.migration_mapping (\n"
	"  source_table text NOT NULL, source_id bigint NOT NULL, target_table text NOT NULL,\n"
	"  target_id bigint NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now(),\n"
	"  PRIMARY KEY (source_table, source_id, target_table, target_id));\n"
	"CREATE TABLE IF NOT EXISTS padctl.backfill_failures (\n"
	"  source_table text NOT NULL, source_id bigint NOT NULL, backfill text NOT NULL, run_id text NOT NULL,\n"
	"  sqlstate text, error text NOT NULL, attempts integer NOT NULL DEFAULT 1,\n"
	"  first_failed_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n"
	"  failed_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (source_table, source_id));\n"
	"CREATE TABLE IF NOT EXISTS padctl.backfill_runs (\n"
	"  run_id text NOT NULL REFERENCES padctl.runs (id), backfill text NOT NULL, target text NOT NULL,\n"
	"  source_table text NOT NULL, dry_run boolean NOT NULL, retry_failed boolean NOT NULL,\n"
	"  started_at timestamptz NOT NULL DEFAULT clock_timestamp(), finished_at timestamptz,\n"
	"  rows_total bigint NOT NULL DEFAULT 0, rows_done bigint NOT NULL DEFAULT 0,\n"
	"  rows_failed bigint NOT NULL DEFAULT 0, rows_written bigint NOT NULL DEFAULT 0,\n"
	"  batches bigint NOT NULL DEFAULT 0, PRIMARY KEY (run_id, backfill));\n",
	/* 8: staged prod rollout: the signatures on a plan (its
	 * requester's, approvals, withdrawals) and the stage and target records
	 * of its rollout, in the env's ledger target. Append-only: padctl never
	 * updates or deletes a row (a withdrawal is a row of its own). */
	"CREATE TABLE IF NOT EXISTS padctl.plan_signatures (\n"
	"  seq bigserial PRIMARY KEY, plan_id text NOT NULL REFERENCES padctl.plans (id),\n"
	"  action text NOT NULL CHECK (action IN ('request', 'approve', 'withdraw')), stage text,\n"
	"  principal text NOT NULL, fingerprint text, signed_at text NOT NULL, comment text,\n"
	"  signature text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n"
	"  recorded_by text NOT NULL);\n"
	"CREATE TABLE IF NOT EXISTS padctl.plan_stages (\n"
	"  seq bigserial PRIMARY KEY, plan_id text NOT NULL REFERENCES padctl.plans (id), stage text NOT NULL,\n"
	"  target text, run_id text, event text NOT NULL, detail text,\n"
	"  at timestamptz NOT NULL DEFAULT clock_timestamp(), recorded_by text NOT NULL);\n"
	"CREATE TABLE IF NOT EXISTS padctl.plan_sql (\n"
	"  plan_id text NOT NULL REFERENCES padctl.plans (id), version text NOT NULL, name text NOT NULL,\n"
	"  up_sha256 text NOT NULL, sql text NOT NULL, PRIMARY KEY (plan_id, version));\n",
	/* 9: a plan's body is kept uncompressed: pglz took about 8 ms of the
	 * server's time to record the plan of 1,000 migrations and saved a
	 * third of its size (the SHA-256 digests in it do not compress);
	 * rows recorded before keep their form */
	"ALTER TABLE padctl.plans ALTER COLUMN body SET STORAGE EXTERNAL;\n",
	/* 10: a backup kept on the target's SSH host (ssh.backups_dir): host is
	 * where its path is ("user@host:port"); NULL: a file on the machine
	 * that ran padctl */
	"ALTER TABLE padctl.backups ADD COLUMN IF NOT EXISTS host text;\n",
	/* 11: a backfill's mapping as one row per source row (its target
	 * tables and ids as two arrays) instead of one per target row: a
	 * legacy row of the reference backfill wrote 4-5 mapping rows with a
	 * primary key of two texts and two bigints, a quarter of its batch's
	 * time (bench/README.md, backfill). padctl.migration_mapping stays,
	 * as a view with its columns; rows recorded before move over. */
	"CREATE TABLE IF NOT EXISTS padctl.backfill_mapping (\n"
	"  source_table text COLLATE \"C\" NOT NULL, source_id bigint NOT NULL,\n"
	"  target_tables text[] NOT NULL, target_ids bigint[] NOT NULL,\n"
	"  migrated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source_table, source_id),\n"
	"  CHECK (cardinality(target_tables) = cardinality(target_ids)));\n"
	"DO $padctl$ BEGIN\n"
	"  IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"             WHERE n.nspname = 'padctl' AND c.relname = 'migration_mapping' AND c.relkind = 'r') THEN\n"
	"    INSERT INTO padctl.backfill_mapping\n"
	"      SELECT source_table, source_id, array_agg(target_table ORDER BY target_table, target_id),\n"
	"             array_agg(target_id ORDER BY target_table, target_id), min(migrated_at)\n"
	"      FROM padctl.migration_mapping GROUP BY source_table, source_id\n"
	"      ON CONFLICT (source_table, source_id) DO NOTHING;\n"
	"    DROP TABLE padctl.migration_mapping;\n"
	"  END IF;\n"
	"END $padctl$;\n"
	/* (not again once step 12 narrowed the table: steps run again from
	 * an older recorded version) */
	"DO $padctl$ BEGIN\n"
	"  IF to_regclass('padctl.backfill_tables') IS NULL THEN\n"
	"    CREATE OR REPLACE VIEW padctl.migration_mapping AS\n"
	"      SELECT m.source_table::text AS source_table, m.source_id, u.target_table, u.target_id, m.migrated_at\n"
	"      FROM padctl.backfill_mapping m CROSS JOIN LATERAL unnest(m.target_tables, m.target_ids)\n"
	"        AS u(target_table, target_id);\n"
	"  END IF;\n"
	"END $padctl$;\n"
	/* isolating a batch's failing rows on the server: the batch SQL on
	 * `parts` parts of keys, each in a subtransaction; a part that fails for
	 * its data (SQLSTATE class 22, 23, P0, 54) is split in halves down to
	 * single rows, which come back with their SQLSTATE and error instead of
	 * target rows. One statement instead of a transaction and round trips
	 * per part (the backfill service's isolate). Any other error, and a
	 * statement timeout, ends the call. */
	"CREATE OR REPLACE FUNCTION padctl.backfill_isolate(batch_sql text, keys bigint[], parts integer)\n"
	"RETURNS TABLE (source_id bigint, target_table text, target_id bigint, err_state text, err_text text)\n"
	"LANGUAGE plpgsql AS $padctl$\n"
	"DECLARE\n"
	"  n integer := coalesce(cardinality(keys), 0);\n"
	"  np integer := least(greatest(parts, 1), n);\n"
	"  lo integer; hi integer; part bigint[]; r record;\n"
	"  s bigint[]; t text[]; i bigint[]; st text; msg text; det text;\n"
	"BEGIN\n"
	"  FOR k IN 0 .. np - 1 LOOP\n"
	"    lo := n * k / np + 1;\n"
	"    hi := n * (k + 1) / np;\n"
	"    part := keys[lo:hi];\n"
	"    s := '{}'; t := '{}'; i := '{}';\n"
	"    BEGIN\n"
	"      FOR r IN EXECUTE batch_sql USING part LOOP\n"
	"        s := s || r.source_id::bigint; t := t || r.target_table::text; i := i || r.target_id::bigint;\n"
	"      END LOOP;\n"
	"    EXCEPTION WHEN others THEN\n"
	"      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;\n"
	"      IF left(st, 2) NOT IN ('22', '23', 'P0', '54') THEN\n"
	"        RAISE;\n"
	"      END IF;\n"
	"      IF hi = lo THEN\n"
	"        RETURN QUERY SELECT keys[lo], NULL::text, NULL::bigint, st,\n"
	"          msg || coalesce(' (' || nullif(det, '') || ')', '');\n"
	"      ELSE\n"
	"        RETURN QUERY SELECT * FROM padctl.backfill_isolate(batch_sql, part, 2);\n"
	"      END IF;\n"
	"      CONTINUE;\n"
	"    END;\n"
	"    RETURN QUERY SELECT u.s, u.t, u.i, NULL::text, NULL::text FROM unnest(s, t, i) AS u(s, t, i);\n"
	"  END LOOP;\n"
	"END\n"
	"$padctl$;\n",
	/* 12: a narrower mapping row: the source table and the target tables
	 * as small ids (padctl.backfill_tables) instead of their names in
	 * every row. A row of the reference backfill took about 390 bytes with
	 * its index entry, now about 180: fewer bytes written, logged and
	 * checkpointed per source row (bench/README.md, backfill).
	 * padctl.migration_mapping keeps its columns; rows recorded before, in
	 * either earlier layout, move over. */
	"CREATE TABLE IF NOT EXISTS padctl.backfill_tables (\n"
	"  id smallint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE);\n"
	"DO $padctl$ BEGIN\n"
	"  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('padctl.backfill_mapping')\n"
	"             AND attname = 'source_table' AND NOT attisdropped) THEN\n"
	"    DROP VIEW IF EXISTS padctl.migration_mapping;\n"
	"    ALTER TABLE padctl.backfill_mapping RENAME TO backfill_mapping_names;\n"
	"    ALTER INDEX IF EXISTS padctl.backfill_mapping_pkey RENAME TO backfill_mapping_names_pkey;\n"
	"  ELSIF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"                WHERE n.nspname = 'padctl' AND c.relname = 'migration_mapping' AND c.relkind = 'r') THEN\n"
	"    ALTER TABLE padctl.migration_mapping RENAME TO backfill_mapping_rows;\n"
	"  END IF;\n"
	"END $padctl$;\n"
	"CREATE TABLE IF NOT EXISTS padctl.backfill_mapping (\n"
	"  source smallint NOT NULL, source_id bigint NOT NULL, targets smallint[] NOT NULL,\n"
	"  target_ids bigint[] NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now(),\n"
	"  PRIMARY KEY (source, source_id), CHECK (cardinality(targets) = cardinality(target_ids)));\n"
	"DO $padctl$ BEGIN\n"
	"  IF to_regclass('padctl.backfill_mapping_names') IS NOT NULL THEN\n"
	"    INSERT INTO padctl.backfill_tables (name)\n"
	"      SELECT DISTINCT n FROM padctl.backfill_mapping_names o,\n"
	"        unnest(o.target_tables || o.source_table::text) AS n\n"
	"      WHERE NOT EXISTS (SELECT 1 FROM padctl.backfill_tables t WHERE t.name = n);\n"
	"    INSERT INTO padctl.backfill_mapping\n"
	"      SELECT s.id, o.source_id, ARRAY(SELECT t.id FROM unnest(o.target_tables) WITH ORDINALITY AS u(n, i)\n"
	"                                      JOIN padctl.backfill_tables t ON t.name = u.n ORDER BY u.i),\n"
	"             o.target_ids, o.migrated_at\n"
	"      FROM padctl.backfill_mapping_names o JOIN padctl.backfill_tables s ON s.name = o.source_table\n"
	"      ON CONFLICT DO NOTHING;\n"
	"    DROP TABLE padctl.backfill_mapping_names;\n"
	"  END IF;\n"
	"  IF to_regclass('padctl.backfill_mapping_rows') IS NOT NULL THEN\n"
	"    INSERT INTO padctl.backfill_tables (name)\n"
	"      SELECT DISTINCT n FROM padctl.backfill_mapping_rows o,\n"
	"        LATERAL (VALUES (o.source_table), (o.target_table)) AS v(n)\n"
	"      WHERE NOT EXISTS (SELECT 1 FROM padctl.backfill_tables t WHERE t.name = n);\n"
	"    INSERT INTO padctl.backfill_mapping\n"
	"      SELECT s.id, o.source_id, array_agg(t.id ORDER BY o.target_table, o.target_id),\n"
	"             array_agg(o.target_id ORDER BY o.target_table, o.target_id), min(o.migrated_at)\n"
	"      FROM padctl.backfill_mapping_rows o JOIN padctl.backfill_tables s ON s.name = o.source_table\n"
	"        JOIN padctl.backfill_tables t ON t.name = o.target_table\n"
	"      GROUP BY s.id, o.source_id ON CONFLICT DO NOTHING;\n"
	"    DROP TABLE padctl.backfill_mapping_rows;\n"
	"  END IF;\n"
	"END $padctl$;\n"
	"CREATE OR REPLACE VIEW padctl.migration_mapping AS\n"
	"  SELECT s.name AS source_table, m.source_id, t.name AS target_table, u.target_id, m.migrated_at\n"
	"  FROM padctl.backfill_mapping m JOIN padctl.backfill_tables s ON s.id = m.source\n"
	"    CROSS JOIN LATERAL unnest(m.targets, m.target_ids) AS u(target, target_id)\n"
	"    JOIN padctl.backfill_tables t ON t.id = u.target;\n",
	/* 13: a plan's body once per hash. A plan's body is its canonical bytes
	 * (a thousand pending migrations make ~300 KB, mostly SHA-256 digests),
	 * and planning an unchanged set again (CI, a new request after a
	 * rejected one) makes the same bytes: the new row names them by hash.
	 * Bodies recorded before stay in their rows (plans.body); a row without
	 * one has its body here. Uncompressed, as plans.body (docs/plan.md). */
	"CREATE TABLE IF NOT EXISTS padctl.plan_bodies (\n"
	"  hash text PRIMARY KEY, body text NOT NULL, stored_at timestamptz NOT NULL DEFAULT clock_timestamp());\n"
	"ALTER TABLE padctl.plan_bodies ALTER COLUMN body SET STORAGE EXTERNAL;\n"
	"ALTER TABLE padctl.plans ALTER COLUMN body DROP NOT NULL;\n",
};

#define NSTEPS ((int)(sizeof ledger_steps / sizeof ledger_steps[0]))

int ledger_schema_version(void)
{
	return NSTEPS;
}

int ledger_version_parse(const char *stored, int *version)
{
	if (!stored || !*stored || *stored < '0' || *stored > '9')
		return -1;
	char *end;
	long v = strtol(stored, &end, 10);
	if (*end || v < 0 || v > 1000000)
		return -1;
	*version = (int)v;
	return 0;
}

char *ledger_upgrade_sql(int from)
{
	if (from < 0 || from >= NSTEPS)
		return NULL;
	struct buf b = BUF_INIT;
	for (int i = from; i < NSTEPS; i++)
		buf_adds(&b, ledger_steps[i]);
	buf_addf(&b,
		 "INSERT INTO padctl.meta VALUES ('ledger_version', '%d')\n"
		 "  ON CONFLICT (key) DO UPDATE SET value = excluded.value;\n",
		 NSTEPS);
	return buf_detach(&b);
}

int ledger_exists(struct db *db, int *exists)
{
	int bodies;
	return ledger_plan_tables(db, exists, &bodies);
}

/* read_version sets *from to the ledger's ledger_version (0 without one) and
 * refuses a version this padctl cannot read or one newer than it knows. */
static int read_version(struct db *db, int *from)
{
	char *v = NULL;
	if (db_query_value(db, "SELECT to_regclass('padctl.meta') IS NOT NULL", 0, NULL, &v))
		return -1;
	int have_meta = v && strcmp(v, "t") == 0;
	free(v);
	v = NULL;
	if (have_meta &&
	    db_query_value(db, "SELECT value FROM padctl.meta WHERE key = 'ledger_version'", 0, NULL, &v))
		return -1;
	*from = 0;
	if (v && *v && ledger_version_parse(v, from)) {
		fail("the ledger on %s has version \"%s\", which this padctl does not understand", db->label, v);
		fail_detail("padctl.meta's ledger_version should be a number of schema steps; this padctl knows %d",
			    NSTEPS);
		fail_hint("nothing was changed; check who edited padctl.meta, or upgrade padctl");
		free(v);
		return fail_status(EXIT_USAGE);
	}
	free(v);
	if (*from > NSTEPS) {
		fail("the ledger on %s is version %d, newer than this padctl (%s) knows: upgrade padctl", db->label,
		     *from, PADCTL_VERSION);
		fail_detail("this padctl writes ledger version %d; a newer padctl upgraded the ledger to %d", NSTEPS,
			    *from);
		fail_hint("nothing was changed; install the padctl version the rest of the team uses");
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

int ledger_check(struct db *db)
{
	int from;
	return read_version(db, &from);
}

int ledger_ensure(struct db *db)
{
	int from;
	if (read_version(db, &from))
		return -1;
	if (from == NSTEPS)
		return 0;
	char *steps = ledger_upgrade_sql(from);
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "BEGIN;\n");
	buf_adds(&sql, steps);
	buf_adds(&sql, "COMMIT;");
	free(steps);
	int rc = db_exec(db, buf_str(&sql), NULL);
	buf_release(&sql);
	if (rc) {
		db_exec(db, "ROLLBACK", NULL);
		fail_hint("padctl keeps its records in the schema \"padctl\": the user needs CREATE on the database, "
			  "or a DBA can create the schema and grant it");
	} else if (from) {
		log_info("upgraded the ledger on %s from version %d to %d", db->label, from, NSTEPS);
	}
	return rc;
}

int ledger_close_interrupted(struct db *db, const char *target)
{
	/* the caller holds the lock, and every padctl run holds it for its whole
	 * life: a run still `running` belongs to a padctl that is gone. When it
	 * ended is unknown, so finished_at stays empty (history shows no duration). */
	PGresult *res;
	if (db_query(db,
		     "WITH dead AS (UPDATE padctl.runs SET status = 'interrupted', "
		     "error = coalesce(error, 'padctl ended without finishing the run (killed, or its connection was "
		     "lost)') WHERE status = 'running' RETURNING id, target), "
		     "steps AS (UPDATE padctl.run_steps SET status = 'interrupted' WHERE status = 'running' RETURNING 1) "
		     "SELECT id, target FROM dead ORDER BY id",
		     0, NULL, &res))
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		log_info("[%s] run %s (target %s) was left running by a padctl that is gone; marked interrupted",
			 target, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return 0;
}

int ledger_lock_holder(struct db *db, char **holder)
{
	if (db_query_value(db, "SELECT " LEDGER_LOCK_HOLDER_SQL, 0, NULL, holder))
		return -1;
	if (!*holder)
		*holder = xstrdup("");
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int ledger_lock(struct db *db, const char *target, long timeout_ms)
{
	long start = now_ms();
	int announced = 0;
	for (;;) {
		char *v = NULL;
		if (db_query_value(db, "SELECT pg_try_advisory_lock(" LOCK_K1 ", " LOCK_K2 ")", 0, NULL, &v))
			return -1;
		int got = v && strcmp(v, "t") == 0;
		free(v);
		if (got)
			return 0;
		char *holder = NULL;
		if (ledger_lock_holder(db, &holder))
			return -1;
		long waited = now_ms() - start;
		if (sig_cancelled()) {
			free(holder);
			fail("%s: stopped waiting for the lock of target \"%s\"", sig_cancelled_name(), target);
			return fail_detail("nothing was changed");
		}
		if (waited >= timeout_ms) {
			fail("target \"%s\" is locked by another padctl run", target);
			fail_detail("held by %s", *holder ? holder : "a session that just ended");
			fail_hint("wait for that run to finish (or use --lock-timeout SECONDS to wait longer); "
				  "a killed padctl releases the lock when its connection closes");
			free(holder);
			return fail_status(EXIT_LOCKED);
		}
		if (!announced) {
			log_info("target \"%s\" is locked by %s; waiting up to %.1f s", target,
				 *holder ? holder : "another run", timeout_ms / 1000.0);
			announced = 1;
		}
		free(holder);
		long left = timeout_ms - waited;
		struct timespec ts = { 0, (left < 200 ? left : 200) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

int ledger_unlock(struct db *db)
{
	return db_exec(db, "SELECT pg_advisory_unlock(" LOCK_K1 ", " LOCK_K2 ")", NULL);
}

static char *dup_or_null(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

static void put_digits(char *p, int v, int n)
{
	while (n--) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* seconds since the epoch as 2026-11-21T13:15:00Z, formatted here because
 * to_char(... AT TIME ZONE 'UTC') costs the server a time zone load and a
 * few milliseconds per thousand rows, and status reads every row */
static char *utc_stamp(const char *epoch)
{
	char *end;
	errno = 0;
	long long secs = strtoll(epoch, &end, 10);
	time_t t = (time_t)secs;
	struct tm tm;
	if (errno || end == epoch || *end || !gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return xstrdup(epoch);
	char *s = xstrdup("YYYY-MM-DDTHH:MI:SSZ");
	put_digits(s, tm.tm_year + 1900, 4);
	put_digits(s + 5, tm.tm_mon + 1, 2);
	put_digits(s + 8, tm.tm_mday, 2);
	put_digits(s + 11, tm.tm_hour, 2);
	put_digits(s + 14, tm.tm_min, 2);
	put_digits(s + 17, tm.tm_sec, 2);
	return s;
}

static int history_failed(struct db *db, const char *msg)
{
	fail("cannot read the migration history (padctl.migrations) on %s", db->label);
	fail_detail("%s", msg);
	return fail_hint("the database user needs SELECT on the padctl schema's tables");
}

#define HISTORY_COLUMNS "SELECT version, name, checksum, status, reason, "
#define HISTORY_FROM " FROM padctl.migrations"
/* the full rows, and the columns a plan needs (the others NULL, in place) */
static const char history_full[] = HISTORY_COLUMNS
	"floor(date_part('epoch', applied_at))::bigint, applied_by, run_id, coalesce(duration_ms, 0)" HISTORY_FROM;
static const char history_brief[] = HISTORY_COLUMNS "NULL, NULL, NULL, 0" HISTORY_FROM;

int ledger_history_send(struct db *db, const char *first, int brief)
{
	if (db_flush(db))
		return -1;
	/* one round trip: a target without a ledger answers undefined_table (42P01) */
	const char *sql = brief & LEDGER_HISTORY_BRIEF ? history_brief : history_full;
	char *ordered = brief & LEDGER_HISTORY_APPLIED ? xstrfmt("%s ORDER BY " LEDGER_APPLIED_ORDER, sql) : NULL;
	if (ordered)
		sql = ordered;
	int sent;
	if (first) {
		char *both = xstrfmt("%s;\n%s", first, sql);
		sent = PQsendQuery(db->conn, both);
		free(both);
	} else {
		sent = PQsendQueryParams(db->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	}
	free(ordered);
	if (!sent)
		return history_failed(db, PQerrorMessage(db->conn));
	return 0;
}

int ledger_history(struct db *db, struct history *h)
{
	memset(h, 0, sizeof *h);
	return ledger_history_send(db, NULL, 0) ? -1 : ledger_history_recv(db, h);
}

int ledger_history_recv(struct db *db, struct history *h)
{
	memset(h, 0, sizeof *h);
	PGresult *res = PQgetResult(db->conn);
	/* read up to the end of the answer, so the connection is idle again */
	for (PGresult *more; (more = PQgetResult(db->conn));)
		PQclear(more);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		/* a missing ledger is no error on a connection with no transaction of the caller's: idle, or
		 * in a pipeline (inspect's), whose implicit transaction ends at its Sync */
		int missing = code && (strcmp(code, "42P01") == 0 || strcmp(code, "3F000") == 0) &&
			      (PQtransactionStatus(db->conn) == PQTRANS_IDLE ||
			       PQpipelineStatus(db->conn) != PQ_PIPELINE_OFF);
		if (!missing)
			history_failed(db, msg ? msg : PQerrorMessage(db->conn));
		PQclear(res);
		return missing ? 0 : -1;
	}
	h->exists = 1;
	int n = PQntuples(res);
	h->v = xcalloc(n ? (size_t)n : 1, sizeof *h->v);
	for (int i = 0; i < n; i++) {
		struct history_row *r = &h->v[i];
		r->version = dup_or_null(res, i, 0);
		r->name = dup_or_null(res, i, 1);
		r->checksum = dup_or_null(res, i, 2);
		r->status = dup_or_null(res, i, 3);
		r->reason = dup_or_null(res, i, 4);
		r->applied_at = PQgetisnull(res, i, 5) ? NULL : utc_stamp(PQgetvalue(res, i, 5));
		r->applied_by = dup_or_null(res, i, 6);
		r->run_id = dup_or_null(res, i, 7);
		r->duration_ms = strtod(PQgetvalue(res, i, 8), NULL);
	}
	h->n = (size_t)n;
	PQclear(res);
	return 0;
}

static int exec_params(struct db *db, const char *sql, int n, const char *const *params)
{
	PGresult *res;
	if (db_query(db, sql, n, params, &res))
		return -1;
	PQclear(res);
	return 0;
}

int ledger_history_add(struct db *db, const char *version, const char *name, const char *checksum,
		       const char *status, const char *reason, const char *run_id, double duration_ms)
{
	char dur[32];
	snprintf(dur, sizeof dur, "%.3f", duration_ms);
	const char *p[] = { version, name, checksum, status, reason, ledger_actor(), run_id, dur };
	/* a rolled-back migration is pending again: its new row replaces the old one */
	if (exec_params(db, "DELETE FROM padctl.migrations WHERE version = $1 AND status = 'rolled_back'", 1, p))
		return -1;
	return exec_params(db,
			   "INSERT INTO padctl.migrations (version, name, checksum, status, reason, applied_by, "
			   "run_id, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			   8, p);
}

char *ledger_history_sql(struct db *db, const char *version, const char *name, const char *checksum,
			 const char *status, const char *reason, const char *run_id, double duration_ms)
{
	return ledger_history_sql_since(db, version, name, checksum, status, reason, run_id, duration_ms, NULL);
}

char *ledger_history_sql_since(struct db *db, const char *version, const char *name, const char *checksum,
			       const char *status, const char *reason, const char *run_id, double duration_ms,
			       const char *since)
{
	const char *v[] = { version, name, checksum, status, reason, ledger_actor(), run_id };
	/* a rolled-back migration is pending again: its new row replaces the old one */
	char *ver = db_literal(db, version);
	if (!ver)
		return NULL;
	struct buf b = BUF_INIT;
	buf_addf(&b, "DELETE FROM padctl.migrations WHERE version = %s AND status = 'rolled_back'; ", ver);
	free(ver);
	buf_adds(&b, "INSERT INTO padctl.migrations (version, name, checksum, status, reason, applied_by, run_id, "
		     "duration_ms) VALUES (");
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *lit = v[i] ? db_literal(db, v[i]) : xstrdup("NULL");
		if (!lit) {
			buf_release(&b);
			return NULL;
		}
		buf_addf(&b, "%s, ", lit);
		free(lit);
	}
	if (duration_ms < 0 && since) {
		/* the row of the migration before, inserted by this message: applied_at is its clock */
		char *prev = db_literal(db, since);
		if (!prev) {
			buf_release(&b);
			return NULL;
		}
		buf_addf(&b, "1000 * extract(epoch FROM clock_timestamp() - coalesce((SELECT applied_at FROM "
			     "padctl.migrations WHERE version = %s), statement_timestamp())))", prev);
		free(prev);
	} else if (duration_ms < 0)
		buf_adds(&b, "1000 * extract(epoch FROM clock_timestamp() - statement_timestamp()))");
	else
		buf_addf(&b, "%.3f)", duration_ms);
	return buf_detach(&b);
}

int ledger_run_start(struct db *db, const char *run_id, const char *env, const char *target, const char *command,
		     const char *pipeline, int dry_run)
{
	const char *p[] = { run_id, env, target, command, pipeline, dry_run ? "t" : "f", ledger_actor(),
			    PADCTL_VERSION };
	return exec_params(db,
			   "INSERT INTO padctl.runs (id, env, target, command, pipeline, dry_run, run_by, "
			   "padctl_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			   8, p);
}

int ledger_run_finish(struct db *db, const char *run_id, const char *status, const char *error)
{
	const char *p[] = { run_id, status, error };
	return exec_params(db,
			   "UPDATE padctl.runs SET finished_at = clock_timestamp(), status = $2, error = $3 "
			   "WHERE id = $1",
			   3, p);
}

int ledger_run_rollback_of(struct db *db, const char *run_id, const char *undone)
{
	const char *p[] = { run_id, undone };
	return exec_params(db, "UPDATE padctl.runs SET rollback_of = $2 WHERE id = $1", 2, p);
}

int ledger_step_start(struct db *db, const char *run_id, int seq, const char *step, const char *phase)
{
	char s[16];
	snprintf(s, sizeof s, "%d", seq);
	const char *p[] = { run_id, s, step, phase };
	return exec_params(db, "INSERT INTO padctl.run_steps (run_id, seq, step, phase) VALUES ($1, $2, $3, $4)", 4,
			   p);
}

int ledger_step_finish(struct db *db, const char *run_id, int seq, const char *status, const char *error)
{
	char s[16];
	snprintf(s, sizeof s, "%d", seq);
	const char *p[] = { run_id, s, status, error };
	return exec_params(db,
			   "UPDATE padctl.run_steps SET finished_at = clock_timestamp(), status = $3, error = $4 "
			   "WHERE run_id = $1 AND seq = $2",
			   4, p);
}

int ledger_plan_add(struct db *db, const char *id, const char *env, const char *hash, const char *body)
{
	const char *p[] = { id, env, ledger_actor(), hash, body };
	/* the body once per hash (ledger step 13); a body already there is kept as it is: if someone
	 * edited it, every plan naming it fails its hash check, the new one too */
	return exec_params(db,
			   "WITH b AS (INSERT INTO padctl.plan_bodies (hash, body) VALUES ($4, $5) ON CONFLICT (hash) "
			   "DO NOTHING) INSERT INTO padctl.plans (id, env, created_by, hash) VALUES ($1, $2, $3, $4)",
			   5, p);
}

/* the four statements of ledger_plan_add_current, sent as one pipeline */
#define PLAN_ADD_STEPS 4

int ledger_plan_add_current(struct db *db, const char *id, const char *env, const char *hash, const char *body)
{
	char version[16];
	snprintf(version, sizeof version, "%d", NSTEPS);
	const char *full[] = { id, env, ledger_actor(), hash, version, body };
	/* one round trip (a plan over an SSH tunnel to prod pays each one): the
	 * transaction, the row and the COMMIT as one pipeline. The row reads the
	 * version in the same statement, under the same snapshot: an upgrade by
	 * another padctl is seen whole or not at all. The server skips what
	 * follows an error, up to the Sync. Without the body, the row goes in
	 * only if padctl.plan_bodies holds its hash, in the same statement. */
	static const char with_body[] =
		"WITH v AS (SELECT FROM padctl.meta WHERE key = 'ledger_version' AND value = $5), "
		"b AS (INSERT INTO padctl.plan_bodies (hash, body) SELECT $4, $6 FROM v ON CONFLICT (hash) DO NOTHING) "
		"INSERT INTO padctl.plans (id, env, created_by, hash) SELECT $1, $2, $3, $4 FROM v";
	static const char row_only[] =
		"INSERT INTO padctl.plans (id, env, created_by, hash) SELECT $1, $2, $3, $4 FROM padctl.meta "
		"WHERE key = 'ledger_version' AND value = $5 AND EXISTS (SELECT FROM padctl.plan_bodies WHERE hash = $4)";
	const char *insert = body ? with_body : row_only;
	const char *const sql[PLAN_ADD_STEPS] = {
		"BEGIN READ WRITE",
		"SET LOCAL synchronous_commit = off",
		insert,
		"COMMIT",
	};
	PGconn *c = db->conn;
	int piped = PQenterPipelineMode(c), sent = piped;
	for (int i = 0; sent && i < PLAN_ADD_STEPS; i++)
		sent = PQsendQueryParams(c, sql[i], i == 2 ? (body ? 6 : 5) : 0, NULL, i == 2 ? full : NULL, NULL,
					 NULL, 0);
	sent = sent && PQpipelineSync(c);
	char *why = sent ? NULL : xstrdup(PQerrorMessage(c));
	int added = 0, older = 0;
	/* each statement's result and its NULL, then the Sync's; after an error, PGRES_PIPELINE_ABORTED */
	for (int i = 0; sent && i <= PLAN_ADD_STEPS; i++) {
		PGresult *res = PQgetResult(c);
		ExecStatusType st = PQresultStatus(res);
		if (!res) {
			if (!why)
				why = xstrdup(PQerrorMessage(c));
			break;
		}
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* no padctl.plan_bodies: a ledger older than step 13, which the locked way upgrades */
		if (i == 2 && code && strcmp(code, "42P01") == 0)
			older = 1;
		else if (i < PLAN_ADD_STEPS && st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED && !why) {
			const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			why = xstrdup(msg ? msg : PQresultErrorMessage(res));
		}
		if (i == 2 && st == PGRES_COMMAND_OK)
			added = strcmp(PQcmdTuples(res), "1") == 0;
		PQclear(res);
		if (i < PLAN_ADD_STEPS)
			PQclear(PQgetResult(c)); /* the NULL after each statement's result */
	}
	if (piped && !PQexitPipelineMode(c) && !why)
		why = xstrdup(PQerrorMessage(c));
	/* a failed statement leaves the BEGIN's transaction aborted, not ended */
	if (PQtransactionStatus(c) == PQTRANS_INERROR || PQtransactionStatus(c) == PQTRANS_INTRANS)
		db_exec(db, "ROLLBACK", NULL);
	if (why) {
		size_t len = strlen(why);
		while (len && why[len - 1] == '\n')
			len--;
		fail("could not record the plan in the ledger on %s", db->label);
		fail_detail("%.*s", (int)len, why);
		free(why);
		return -1;
	}
	if (added)
		return 0;
	return older || body ? 1 : 2;
}

int ledger_plan_tables(struct db *db, int *exists, int *bodies)
{
	*exists = *bodies = 0;
	PGresult *res;
	if (db_query(db,
		     "SELECT to_regclass('padctl.migrations') IS NOT NULL, to_regclass('padctl.plan_bodies') IS NOT NULL",
		     0, NULL, &res))
		return -1;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	*bodies = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	return 0;
}

const char *ledger_plan_body_sql(int bodies)
{
	return bodies ? "coalesce(body, (SELECT b.body FROM padctl.plan_bodies b WHERE b.hash = plans.hash))" : "body";
}

int ledger_plan_no_body(struct db *db, const char *id, const char *hash)
{
	fail("plan \"%s\" has no body in the ledger on %s", id, db->label);
	fail_detail("its row names the body sha256:%s, which padctl.plan_bodies does not hold", hash);
	return fail_hint("someone deleted it: restore padctl.plan_bodies from a backup of the ledger, or record a new "
			 "plan");
}

int ledger_plan_get(struct db *db, const char *id, char **env, char **hash, char **body)
{
	*env = *hash = *body = NULL;
	int exists = 0, bodies = 0;
	if (ledger_plan_tables(db, &exists, &bodies))
		return -1;
	if (!exists)
		return 1;
	PGresult *res;
	const char *p[] = { id };
	char *sql = xstrfmt("SELECT env, hash, %s FROM padctl.plans WHERE id = $1", ledger_plan_body_sql(bodies));
	int rc = db_query(db, sql, 1, p, &res);
	free(sql);
	if (rc)
		return -1;
	int found = PQntuples(res) == 1;
	if (found && PQgetisnull(res, 0, 2)) {
		ledger_plan_no_body(db, id, PQgetvalue(res, 0, 1));
		PQclear(res);
		return -1;
	}
	if (found) {
		*env = xstrdup(PQgetvalue(res, 0, 0));
		*hash = xstrdup(PQgetvalue(res, 0, 1));
		*body = xstrdup(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return found ? 0 : 1;
}

int ledger_repair_add(struct db *db, const char *run_id, const char *version, const char *old_checksum,
		      const char *new_checksum, const char *reason)
{
	const char *p[] = { run_id, version, old_checksum, new_checksum, reason, ledger_actor() };
	return exec_params(db,
			   "WITH m AS (UPDATE padctl.migrations SET checksum = $4 WHERE version = $2 AND checksum = $3 "
			   "RETURNING version) "
			   "INSERT INTO padctl.repairs (run_id, version, old_checksum, new_checksum, reason, repaired_by) "
			   "SELECT $1, version, $3, $4, $5, $6 FROM m",
			   6, p);
}

char *ledger_new_run_id(void)
{
	unsigned char r[4] = { 0, 0, 0, 0 };
	/* the kernel's generator first: seeding OpenSSL's costs a command that
	 * needs no other randomness (plan) more than all its SQL */
	if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r && RAND_bytes(r, sizeof r) != 1) {
		unsigned pid = (unsigned)getpid();
		for (int i = 0; i < 4; i++)
			r[i] = (unsigned char)(pid >> (8 * i));
	}
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	char ts[32];
	strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
	char hex[2 * sizeof r + 1];
	hash_hex(r, sizeof r, hex);
	return xstrfmt("%s-%s", ts, hex);
}

const char *ledger_actor(void)
{
	static char actor[256];
	if (!actor[0]) {
		const char *user = getenv("USER");
		struct passwd *pw = getpwuid(getuid());
		if (pw && pw->pw_name)
			user = pw->pw_name;
		char host[128] = "localhost";
		gethostname(host, sizeof host - 1);
		host[sizeof host - 1] = '\0';
		snprintf(actor, sizeof actor, "%s@%s", user ? user : "unknown", host);
	}
	return actor;
}

char *ledger_app_name(const char *command, const char *run_id)
{
	/* application_name keeps 63 bytes: the run id first, the actor after */
	char *s = xstrfmt("padctl %s %s %s", command, run_id, ledger_actor());
	if (strlen(s) > 63)
		s[63] = '\0';
	return s;
}

#!/usr/bin/env bash
# drift: a target that compared clean is re-checked by one fingerprint query
# of its catalog rows. Every kind of hand-made change the comparison reports
# must change that fingerprint, above all the changes that write one catalog
# row and nothing else (SET NOT NULL, a replaced default, ALTER SEQUENCE,
# RENAME VALUE, VALIDATE CONSTRAINT, ...), and an index rebuilt under its old
# name. Each is made after a clean check, must be reported, and is undone.
# Also: status --drift reads the history in the order it was applied with
# its own first query, and reaches the same cache as validate.
. "$(dirname "$0")/lib.sh"

new_project driftfp
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE DOMAIN app.email AS text CHECK (VALUE LIKE '%@%');
CREATE SEQUENCE app.ticket_seq START 100;
CREATE TABLE app.owner (id bigint PRIMARY KEY);
CREATE TABLE app.account (id bigint PRIMARY KEY, code varchar(10), status text NOT NULL DEFAULT 'new', note text,
  owner_id bigint REFERENCES app.owner (id), mood app.mood, mail app.email);
CREATE INDEX account_status_idx ON app.account (status);
CREATE VIEW app.active AS SELECT id, status FROM app.account WHERE status <> 'closed';
CREATE MATERIALIZED VIEW app.counts AS SELECT status, count(*) AS n FROM app.account GROUP BY status;
CREATE INDEX counts_status_idx ON app.counts (status);
CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 42 \$\$;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RETURN NEW; END \$\$;
CREATE TRIGGER account_touch BEFORE UPDATE ON app.account FOR EACH ROW EXECUTE FUNCTION app.touch();"
add_migration 0002 add_check "ALTER TABLE app.account ADD CONSTRAINT account_status_set CHECK (status <> '') NOT VALID;"

group "a clean deploy"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 2 migrations)"
ok "deploy: no drift"

drift_changed "column: SET NOT NULL (pg_attribute only)" \
	"ALTER TABLE app.account ALTER COLUMN note SET NOT NULL" \
	"ALTER TABLE app.account ALTER COLUMN note DROP NOT NULL" \
	"drift: changed column app.account.note"
drift_changed "column: a wider varchar, no rewrite (pg_attribute only)" \
	"ALTER TABLE app.account ALTER COLUMN code TYPE varchar(20)" \
	"ALTER TABLE app.account ALTER COLUMN code TYPE varchar(10)" \
	"drift: changed column app.account.code"
drift_changed "column: a default replaced (pg_attrdef only)" \
	"ALTER TABLE app.account ALTER COLUMN status SET DEFAULT 'open'" \
	"ALTER TABLE app.account ALTER COLUMN status SET DEFAULT 'new'" \
	"drift: changed column app.account.status"
drift_changed "column: a default dropped" \
	"ALTER TABLE app.account ALTER COLUMN status DROP DEFAULT" \
	"ALTER TABLE app.account ALTER COLUMN status SET DEFAULT 'new'" \
	"drift: changed column app.account.status"
drift_changed "column: renamed" \
	"ALTER TABLE app.account RENAME COLUMN note TO remark" \
	"ALTER TABLE app.account RENAME COLUMN remark TO note" \
	"drift: extra column app.account.remark"
drift_changed "index: rebuilt under its name on another column" \
	"DROP INDEX app.account_status_idx; CREATE INDEX account_status_idx ON app.account (code)" \
	"DROP INDEX app.account_status_idx; CREATE INDEX account_status_idx ON app.account (status)" \
	"drift: changed index app.account_status_idx"
drift_changed "index: made unique under its name" \
	"DROP INDEX app.account_status_idx; CREATE UNIQUE INDEX account_status_idx ON app.account (status)" \
	"DROP INDEX app.account_status_idx; CREATE INDEX account_status_idx ON app.account (status)" \
	"drift: changed index app.account_status_idx"
drift_changed "constraint: VALIDATE (pg_constraint only)" \
	"ALTER TABLE app.account VALIDATE CONSTRAINT account_status_set" \
	"ALTER TABLE app.account DROP CONSTRAINT account_status_set;
	 ALTER TABLE app.account ADD CONSTRAINT account_status_set CHECK (status <> '') NOT VALID" \
	"drift: changed constraint app.account.account_status_set"
drift_changed "constraint: renamed" \
	"ALTER TABLE app.account RENAME CONSTRAINT account_status_set TO status_set" \
	"ALTER TABLE app.account RENAME CONSTRAINT status_set TO account_status_set" \
	"drift: extra constraint app.account.status_set"
drift_changed "foreign key: made deferrable" \
	"ALTER TABLE app.account ALTER CONSTRAINT account_owner_id_fkey DEFERRABLE" \
	"ALTER TABLE app.account ALTER CONSTRAINT account_owner_id_fkey NOT DEFERRABLE" \
	"drift: changed constraint app.account.account_owner_id_fkey"
drift_changed "sequence: ALTER SEQUENCE (pg_sequence only)" \
	"ALTER SEQUENCE app.ticket_seq INCREMENT BY 5" \
	"ALTER SEQUENCE app.ticket_seq INCREMENT BY 1" \
	"drift: changed sequence app.ticket_seq"
drift_changed "view: CREATE OR REPLACE (pg_rewrite)" \
	"CREATE OR REPLACE VIEW app.active AS SELECT id, status FROM app.account WHERE status <> 'gone'" \
	"CREATE OR REPLACE VIEW app.active AS SELECT id, status FROM app.account WHERE status <> 'closed'" \
	"drift: changed view app.active"
drift_changed "view: a column renamed (the view's pg_attribute only)" \
	"ALTER TABLE app.active RENAME COLUMN status TO state" \
	"ALTER TABLE app.active RENAME COLUMN state TO status" \
	"drift: changed view app.active"
drift_changed "materialized view: a column renamed (its pg_attribute only)" \
	"ALTER MATERIALIZED VIEW app.counts RENAME COLUMN n TO total" \
	"ALTER MATERIALIZED VIEW app.counts RENAME COLUMN total TO n" \
	"drift: changed materialized view app.counts"
drift_changed "index on a materialized view: its column renamed" \
	"ALTER MATERIALIZED VIEW app.counts RENAME COLUMN status TO state" \
	"ALTER MATERIALIZED VIEW app.counts RENAME COLUMN state TO status" \
	"drift: changed index app.counts_status_idx"
drift_changed "function: CREATE OR REPLACE (pg_proc only)" \
	"CREATE OR REPLACE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 43 \$\$" \
	"CREATE OR REPLACE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 42 \$\$" \
	"drift: changed function app.answer()"
drift_changed "trigger: recreated under its name for another event (pg_trigger)" \
	"DROP TRIGGER account_touch ON app.account;
	 CREATE TRIGGER account_touch BEFORE INSERT ON app.account FOR EACH ROW EXECUTE FUNCTION app.touch()" \
	"DROP TRIGGER account_touch ON app.account;
	 CREATE TRIGGER account_touch BEFORE UPDATE ON app.account FOR EACH ROW EXECUTE FUNCTION app.touch()" \
	"drift: changed trigger app.account.account_touch"
drift_changed "enum: RENAME VALUE (pg_enum only)" \
	"ALTER TYPE app.mood RENAME VALUE 'sad' TO 'blue'" \
	"ALTER TYPE app.mood RENAME VALUE 'blue' TO 'sad'" \
	"drift: changed enum app.mood"
drift_changed "domain: a default (pg_type only)" \
	"ALTER DOMAIN app.email SET DEFAULT 'x@y'" \
	"ALTER DOMAIN app.email DROP DEFAULT" \
	"drift: changed domain app.email"
drift_changed "domain: a constraint" \
	"ALTER DOMAIN app.email ADD CONSTRAINT email_len CHECK (length(VALUE) < 100)" \
	"ALTER DOMAIN app.email DROP CONSTRAINT email_len" \
	"drift: changed domain app.email"
drift_changed "privileges: on the schema (pg_namespace)" \
	"GRANT USAGE ON SCHEMA app TO PUBLIC" \
	"REVOKE USAGE ON SCHEMA app FROM PUBLIC" \
	"drift: extra privileges schema app"
drift_changed "privileges: on a function (pg_proc)" \
	"REVOKE EXECUTE ON FUNCTION app.answer() FROM PUBLIC" \
	"GRANT EXECUTE ON FUNCTION app.answer() TO PUBLIC" \
	"privileges app.answer()"
drift_changed "table: created by hand" \
	"CREATE TABLE app.extra (id int)" \
	"DROP TABLE app.extra" \
	"drift: extra table app.extra"

group "status --drift: the history in applied order with status's own query, the same cache as validate"
drift_known_clean
# a no-op update moves 0001's history row behind 0002's in the table: only
# an ordered read gives the applied order (and the cache key) back
psql_q "UPDATE padctl.migrations SET checksum = checksum WHERE version = '0001'" >/dev/null
[ "$(psql_q "SELECT string_agg(version, ' ') FROM padctl.migrations")" = "0002 0001" ] ||
	fail_now "the history rows did not change places: $(psql_q "SELECT string_agg(version, ' ') FROM padctl.migrations")"
pc -v status test --drift
assert_rc 0
assert_out_contains "drift: no drift (against a replay of 2 migrations, cached)"
assert_err_contains "has not changed since it last compared clean"
assert_err_not_contains "replayed"
pc --json status test --drift
assert_rc 0
assert_eq "True True False" "$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)["targets"][0]["drift"]
print(d["cached"], d["unchanged"], d["drift"])')" "status --json --drift"
psql_q "ALTER SEQUENCE app.ticket_seq INCREMENT BY 5" >/dev/null
pc status test --drift
assert_rc 1
assert_out_contains "drift: 1 difference (against a replay of 2 migrations, cached)"
assert_out_contains "changed sequence app.ticket_seq"
psql_q "ALTER SEQUENCE app.ticket_seq INCREMENT BY 1" >/dev/null
pc validate test
assert_rc 0
ok "status --drift: unchanged target known clean from its first query; a change is read in full"

group "status --drift while a session holds the deploy lock (status asks who, then drift reads its answer)"
hold_deploy_lock drift-lock-holder
pc -v status test --drift
assert_rc 0
assert_out_not_contains "lock: free"
assert_out_contains "drift: no drift (against a replay of 2 migrations, cached)"
assert_err_contains "has not changed since it last compared clean"
release_deploy_lock drift-lock-holder
ok "status --drift: the lock holder and the drift line"

group "pg_index is in the fingerprint (validity): what changes only it and is not printed (CLUSTER ON) costs one full comparison"
drift_known_clean
psql_q "ALTER TABLE app.account CLUSTER ON account_status_idx" >/dev/null
[ "$(psql_q "SELECT indisclustered FROM pg_index WHERE indexrelid = 'app.account_status_idx'::regclass")" = t ] ||
	fail_now "CLUSTER ON did not mark the index"
pc -v validate test
assert_rc 0
assert_err_not_contains "has not changed since"
assert_err_contains "drift: no drift (against a replay of 2 migrations, cached)"
drift_known_clean
psql_q "ALTER TABLE app.account SET WITHOUT CLUSTER" >/dev/null
pc validate test
assert_rc 0
ok "CLUSTER ON: a changed fingerprint, a full comparison that finds nothing, known clean again"

drift_changed "enum: ADD VALUE (pg_enum only; cannot be undone, so last)" \
	"ALTER TYPE app.mood ADD VALUE 'meh'" \
	"" \
	"drift: changed enum app.mood"
finish

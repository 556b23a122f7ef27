#!/usr/bin/env bash
# drift: the target's catalog against a replay of its history on a scratch
# database (the shared test cluster as the scratch server). Hand-made
# changes are reported as missing, extra or changed objects by name; a clean
# deploy shows none; a second check reuses the cached replay; --json's shape.
. "$(dirname "$0")/lib.sh"

new_project drift
use_drift_scratch 1
scratch_dbs() { sql_on "$TPG_PORT" postgres "SELECT datname FROM pg_database WHERE datname LIKE 'padctl\_drift\_%' ORDER BY 1"; }

# a protected schema the migrations reference: the scratch gets it from the target
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.employee (id int PRIMARY KEY, name text)" >/dev/null
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'new',
  employee_id int REFERENCES ref.employee (id));
CREATE INDEX account_status_idx ON app.account (status);
CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 42 \$\$;"
add_migration 0002 add_view "CREATE VIEW app.active AS SELECT id, status FROM app.account WHERE status <> 'closed';
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE SEQUENCE app.ticket_seq START 100;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RETURN NEW; END \$\$;
CREATE TRIGGER account_touch BEFORE UPDATE ON app.account FOR EACH ROW EXECUTE FUNCTION app.touch();"

group "a clean deploy checks drift in preflight and postflight and finds none"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 0 migrations)"
assert_err_contains "drift: replayed 2 migrations of target \"t1\" on the scratch database padctl_drift_"
assert_err_contains "drift: no drift (against a replay of 2 migrations)"
assert_eq 1 "$(drift_cache_keys | wc -l)" "drift.keep: 1 keeps one replay"
key=$(drift_cache_keys)
assert_eq "padctl_drift_${key:0:24}" "$(scratch_dbs | grep "${key:0:24}")" "the kept replay's scratch database"
ok "deploy: preflight and postflight drift clean; the replay of the empty history was removed (keep: 1)"

group "validate reuses the cached replay"
pc validate test
assert_rc 0
assert_out_contains "target t1: ok"
assert_err_contains "compared with the cached replay of 2 migrations"
assert_err_not_contains "replayed"
assert_eq "$key" "$(drift_cache_keys)" "same cache key"
ok "validate: no drift, the replay was not run again"

group "status --drift"
pc -v status test --drift
assert_rc 0
assert_out_contains "drift: no drift (against a replay of 2 migrations, cached)"
assert_err_contains "has not changed since it last compared clean"
ok "status --drift: a drift line per target"

group "a clean target that has not changed is not read again; a GRANT is a change"
drift_known_clean
psql_q "GRANT SELECT ON app.account TO PUBLIC" >/dev/null
pc -v validate test
assert_rc 1
assert_err_not_contains "has not changed since"
assert_err_contains "drift: extra privileges app.account (on the target, created by no applied migration)"
psql_q "REVOKE SELECT ON app.account FROM PUBLIC" >/dev/null
pc validate test
assert_rc 0
ok "the catalog fingerprint: unchanged after a clean check, changed by a GRANT, clean again after the REVOKE"

group "hand-made changes on the target"
psql_q "ALTER TABLE app.account ADD COLUMN note text;
DROP INDEX app.account_status_idx;
ALTER TABLE app.account ALTER COLUMN status SET DEFAULT 'open';
CREATE OR REPLACE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 43 \$\$;" >/dev/null
pc validate test
assert_rc 1
assert_out_contains "target t1: FAILED"
assert_err_contains "preflight found 4 problems"
assert_err_contains "drift: extra column app.account.note"
assert_err_contains "drift: missing index app.account_status_idx"
assert_err_contains "drift: changed column app.account.status (expected \"text not null default 'new'::text\", the target has \"text not null default 'open'::text\")"
assert_err_contains "drift: changed function app.answer()"
assert_err_contains "compared with the cached replay"
ok "validate: extra column, missing index, changed default, changed function, each named"

group "status --drift lists them"
pc status test --drift
assert_rc 1
assert_out_contains "drift: 4 differences (against a replay of 2 migrations, cached)"
assert_out_contains "extra column app.account.note: on the target, created by no applied migration (text)"
assert_out_contains "missing index app.account_status_idx"
assert_err_contains "1 target needs attention"
ok "status --drift exits 1 and names each difference"

group "validate --json"
pc --json validate test
assert_rc 1
shape=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = d["targets"][0]
f = t["drift"]["findings"]
print(d["env"], d["ok"], t["target"], t["checked"], t["ok"], t["drift"]["drift"], t["drift"]["cached"],
      t["drift"]["replayed"], t["drift"]["baseline"], len(f))
for x in f:
    print(x["change"], x["kind"], x["name"], x["expected"] is None, x["actual"] is None)
print(sorted(t["drift"]))
print(t["error"].splitlines()[1])')
assert_eq "test False t1 True False True True 2 None 4
extra column app.account.note True False
changed column app.account.status False False
changed function app.answer() False False
missing index app.account_status_idx False True
['baseline', 'cached', 'drift', 'findings', 'key', 'replayed', 'scratch', 'unchanged']
- drift: extra column app.account.note (on the target, created by no applied migration)" "$shape" "the JSON"
ok "validate --json: per target ok, error and the drift findings"

group "a new migration: a new replay, the old one removed"
psql_q "ALTER TABLE app.account DROP COLUMN note; CREATE INDEX account_status_idx ON app.account (status);
ALTER TABLE app.account ALTER COLUMN status SET DEFAULT 'new';
CREATE OR REPLACE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 42 \$\$;" >/dev/null
add_migration 0003 add_note "ALTER TABLE app.account ADD COLUMN note text;"
pc deploy test
assert_rc 0
assert_err_contains "compared with the cached replay of 2 migrations"
assert_err_contains "drift: copied the scratch database padctl_drift_${key:0:24} (the replay of the 2 migrations before the newest run)"
assert_err_contains "replayed 1 migration of target"
assert_err_contains "drift: no drift (against a replay of 3 migrations)"
assert_eq 1 "$(drift_cache_keys | wc -l)" "one replay kept"
[ "$(drift_cache_keys)" != "$key" ] || fail_now "the cache key did not change with the history"
assert_eq "" "$(scratch_dbs | grep "${key:0:24}")" "the old scratch database was dropped"
ok "deploy after undoing the changes: the postflight copies the preflight's replay and runs 0003 on it; clean; the stale replay is gone"

group "a skipped migration is not replayed"
add_migration 0004 skipped_one "CREATE TABLE app.never (id int);"
write_env "$DB" "$TPG_PORT" 'migrations:
  skip:
    "0004": "not here"'
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 3 migrations)"
ok "skipped migration: recorded, not replayed, no drift"
finish

#!/usr/bin/env bash
# drift with `scratch: local`: the replay runs in the project's managed local
# cluster (created on first use), with the protected schema copied from the
# target by pg_dump, and a by-hand change to a view and an enum is found.
. "$(dirname "$0")/lib.sh"

new_project driftlocal
cat >>"$PROJECT/padctl.yml" <<'YML'
drift:
  scratch: local
YML
on_exit cleanup_local

psql_q "CREATE SCHEMA ref; CREATE TYPE ref.kind AS ENUM ('a', 'b'); CREATE TABLE ref.employee (id int PRIMARY KEY, k ref.kind)" >/dev/null
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE TABLE app.account (id bigint PRIMARY KEY, employee_id int REFERENCES ref.employee (id), k ref.kind,
  mood app.mood);
CREATE VIEW app.sad AS SELECT id FROM app.account WHERE mood = 'sad' AND (id > 0 OR id < -10);"

group "deploy with the managed local cluster as scratch"
pc deploy test
assert_rc 0
assert_err_contains "drift: replayed 1 migration of target \"t1\" on the scratch database padctl_drift_"
assert_err_contains "drift: no drift (against a replay of 1 migration)"
pc local status
assert_rc 0
assert_out_contains "running"
ok "the replay ran in the managed local cluster, with ref copied from the target"

group "view and enum changed by hand"
psql_q "CREATE OR REPLACE VIEW app.sad AS SELECT id FROM app.account WHERE mood = 'ok' AND (id > 0 OR id < -10);
ALTER TYPE app.mood ADD VALUE 'glad' BEFORE 'ok';" >/dev/null
pc validate test
assert_rc 1
assert_err_contains "compared with the cached replay of 1 migration"
assert_err_contains "drift: changed view app.sad"
assert_err_contains "drift: changed enum app.mood (expected \"'ok', 'sad'\", the target has \"'glad', 'ok', 'sad'\")"
assert_err_contains "preflight found 2 problems"
ok "validate: the view's new condition and the enum's new first value are changes"
finish

#!/usr/bin/env bash
# drift refuses to replay a history the project's files no longer hold: an
# applied migration whose up.sql changed since it was applied (checksum
# mismatch), or one with no directory in migrations/. status --drift and
# validate say so naming the migration, replay nothing (no scratch database
# is left, no replay is recorded) and report no drift they did not find.
. "$(dirname "$0")/lib.sh"

new_project drifthist
# a scratch server of its own, so the scratch databases counted are this scenario's
start_cluster
scratch_dbs() { sql_on "$CL_PORT" postgres "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE datname LIKE 'padctl\_drift\_%'"; }
cache_files() { ls "$PROJECT/.padctl/drift" 2>/dev/null | grep -c "\.catalog$"; }

add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.a (id int PRIMARY KEY);"
add_migration 0002 add_b "CREATE TABLE app.b (id int REFERENCES app.a (id));"

group "deploy without drift, then turn drift on: nothing is cached yet"
pc deploy test
assert_rc 0
cat >>"$PROJECT/padctl.yml" <<YML
drift:
  keep: 1
  scratch:
    host: $TPG_HOST
    port: $CL_PORT
    user: $TPG_USER
YML
assert_eq 0 "$(cache_files)" "no drift cache before the first check"
ok "two migrations applied, no replay cached"


group "an applied migration's up.sql changed since it was applied"
saved=$(cat "$PROJECT/migrations/0002_add_b/up.sql")
printf '%s\n' "CREATE TABLE app.b (id int REFERENCES app.a (id), note text);" >"$PROJECT/migrations/0002_add_b/up.sql"
pc status test --drift
assert_rc 1
assert_out_contains "checksum mismatch 0002_add_b"
assert_out_contains "drift: could not check: could not check drift: migration 0002_add_b changed since it was applied (checksum mismatch)"
assert_err_contains "env \"test\": 1 target needs attention"
assert_out_not_contains "no drift"
assert_err_not_contains "drift: replaying"
assert_err_not_contains "drift: extra"
assert_err_not_contains "drift: missing"
assert_out_not_contains "extra table"
assert_out_not_contains "missing column"
assert_err_not_contains "drift: replayed"
pc validate test
assert_rc 1
assert_out_contains "target t1: FAILED"
# validate's own check of the files stops it before drift is reached
assert_out_contains "target \"t1\": 1 applied migration changed since it was applied"
assert_err_contains "migrations/0002_add_b/up.sql: checksum "
assert_err_contains "restore its up.sql"
assert_err_not_contains "no drift"
assert_err_not_contains "drift: replaying"
assert_err_not_contains "drift: extra"
assert_err_not_contains "drift: missing"
assert_err_not_contains "drift: changed"
assert_err_not_contains "drift: replayed"
assert_eq 0 "$(cache_files)" "nothing cached after the refused replay"
assert_eq "" "$(scratch_dbs)" "no scratch database on the scratch server"
ok "status --drift and validate: the changed migration named, nothing replayed, no drift reported"

group "the file restored: the replay runs and finds no drift"
printf '%s\n' "$saved" >"$PROJECT/migrations/0002_add_b/up.sql"
pc validate test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 2 migrations)"
ok "validate: clean once the file is as it was applied"

group "an applied migration with no file in the project"
add_migration 0003 add_c "CREATE TABLE app.c (id int);"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 3 migrations)"
# a cached replay of the history as applied stays right without the files:
# drop it (and its scratch database) so that the check must replay
for f in "$PROJECT"/.padctl/drift/*.catalog; do
	k=$(basename "$f" .catalog)
	sql_on "$CL_PORT" postgres "DROP DATABASE IF EXISTS padctl_drift_${k:0:24} WITH (FORCE)" >/dev/null
done
rm -rf "$PROJECT/.padctl/drift"
assert_eq "" "$(scratch_dbs)" "the scratch server emptied"
mv "$PROJECT/migrations/0003_add_c" "$PROJECT/0003_add_c.away"
pc status test --drift
assert_rc 1
assert_out_contains "drift: could not check: could not check drift: migration 0003 is applied on the target but has no file in"
assert_err_contains "env \"test\": 1 target needs attention"
assert_out_not_contains "no drift"
assert_err_not_contains "drift: replaying"
assert_out_not_contains "extra table"
assert_err_not_contains "drift: replayed"
pc validate test
assert_rc 1
assert_out_contains "target t1: FAILED"
assert_err_contains "migration 0003 is applied on the target but has no file in"
assert_err_contains "restore the migration's directory"
assert_err_not_contains "no drift"
assert_err_not_contains "drift: replaying"
assert_err_not_contains "drift: extra table app.c"
assert_err_not_contains "drift: replayed"
assert_eq 0 "$(cache_files)" "nothing cached after the refused replay"
assert_eq "" "$(scratch_dbs)" "no scratch database on the scratch server"
ok "status --drift and validate: the migration without a file named, nothing replayed, no drift reported"
finish

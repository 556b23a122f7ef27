#!/usr/bin/env bash
# drift after `padctl rollback`: a migration a rollback undid keeps its
# history row as rolled_back, and is not in effect: the replay leaves it out
# (as a skipped one), its file may change before it is deployed again, and
# the next deploy's preflight finds no drift.
. "$(dirname "$0")/lib.sh"

new_project driftrb
use_drift_scratch 2
hist() { psql_q "SELECT version || ' ' || status FROM padctl.migrations ORDER BY version" | tr '\n' ' '; }

add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.a (id int PRIMARY KEY);" "DROP SCHEMA app CASCADE;"
add_migration 0002 add_b "CREATE TABLE app.b (id int REFERENCES app.a (id));" "DROP TABLE app.b;"

group "deploy, then roll the newest run back"
pc deploy test
assert_rc 0
add_migration 0003 add_c "CREATE TABLE app.c (id int);" "DROP TABLE app.c;"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 3 migrations)"
pc rollback test
assert_rc 0
assert_eq "0001 applied 0002 applied 0003 rolled_back " "$(hist)" "history after the rollback"
assert_no_table app.c
ok "0003 rolled back: its history row kept as rolled_back"

group "drift leaves the rolled-back migration out"
pc status test --drift
assert_rc 0
assert_out_contains "drift: no drift (against a replay of 2 migrations"
pc validate test
assert_rc 0
assert_out_contains "target t1: ok"
assert_err_not_contains "missing table app.c"
ok "status --drift and validate: a replay of the 2 migrations in effect, no drift"

group "the whole history rolled back: nothing is in effect"
pc rollback test --to 0
assert_rc 0
assert_eq "0001 rolled_back 0002 rolled_back 0003 rolled_back " "$(hist)" "history after the second rollback"
pc validate test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 0 migrations"
ok "validate: nothing replayed, no drift"

group "a rolled-back migration's file may change before it is deployed again"
add_migration 0002 add_b "CREATE TABLE app.b (id int REFERENCES app.a (id), note text);" "DROP TABLE app.b;"
pc validate test
assert_rc 0
assert_err_not_contains "checksum mismatch"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 0 migrations"
assert_err_contains "drift: no drift (against a replay of 3 migrations)"
assert_eq "0001 applied 0002 applied 0003 applied " "$(hist)" "history after the deploy"
pc validate test
assert_rc 0
ok "deploy again: preflight and postflight clean, every migration applied"
finish

#!/usr/bin/env bash
# padctl rollback (issue 9): the newest run with migrations still applied,
# a named run (refused when later runs built on it, naming them), everything
# newer than a version across runs, --dry-run (prints the down SQL, changes
# nothing), prod refused with exit 3, every rollback in history, and a
# rollback killed half-way (SIGKILL) is consistent and finished by running
# padctl rollback again.
. "$(dirname "$0")/lib.sh"

new_project rbcmd
# no lock wait limit: the kill below holds a down.sql on a lock
write_env "$DB" "$TPG_PORT" "migrations:
  lock_timeout: 0"
hist() { psql_q "SELECT version || ' ' || status FROM padctl.migrations ORDER BY version" | tr '\n' ' '; }

add_migration 0001 a "CREATE SCHEMA app; CREATE TABLE app.a (id int);" "DROP SCHEMA app CASCADE;"
add_migration 0002 b "CREATE TABLE app.b (id int);" "DROP TABLE app.b;"
pc deploy test
assert_rc 0
run_a=$(psql_q "SELECT id FROM padctl.runs ORDER BY started_at DESC LIMIT 1")
add_migration 0003 c "CREATE TABLE app.c (id int);" "DROP TABLE app.c;"
pc deploy test
assert_rc 0
run_b=$(psql_q "SELECT id FROM padctl.runs ORDER BY started_at DESC LIMIT 1")
add_migration 0004 d "CREATE TABLE app.d (id int);" "DROP TABLE app.d;"
add_migration 0005 e "CREATE TABLE app.e (id int); INSERT INTO app.e VALUES (1);" "DROP TABLE app.e;"
pc deploy test
assert_rc 0
run_c=$(psql_q "SELECT id FROM padctl.runs ORDER BY started_at DESC LIMIT 1")

group "--run of a run later runs built on is refused, naming them"
pc rollback test --run "$run_a"
assert_rc 2
assert_err_contains "run $run_a on target \"t1\" cannot be rolled back alone: later runs built on it"
assert_err_contains "$run_b"
assert_err_contains "$run_c"
assert_err_contains "--to VERSION"
pc rollback test --run no-such-run
assert_rc 2
assert_err_contains "has no run \"no-such-run\""
assert_eq "0001 applied 0002 applied 0003 applied 0004 applied 0005 applied " "$(hist)" "history"
ok "refused, nothing changed"

group "--dry-run prints the down SQL, newest first, and changes nothing"
runs=$(psql_q "SELECT count(*) FROM padctl.runs")
pc rollback test --dry-run
assert_rc 0
assert_out_contains "rollback of run $run_c would undo 2 migrations, newest first"
assert_out_contains "-- 0005_e: "
assert_out_contains "DROP TABLE app.e;"
assert_out_contains "DROP TABLE app.d;"
before_e=${OUT%%DROP TABLE app.e*}
before_d=${OUT%%DROP TABLE app.d*}
[ "$before_d" != "$OUT" ] && [ "$before_e" != "$OUT" ] && [ ${#before_e} -lt ${#before_d} ] ||
	fail_now "0005 is not printed before 0004"
assert_eq "$runs" "$(psql_q "SELECT count(*) FROM padctl.runs")" "no run recorded"
assert_eq "1" "$(psql_q "SELECT count(*) FROM app.e")" "app.e is there"
ok "dry run: SQL shown, nothing changed"

group "prod refuses a rollback with exit 3, like a deploy"
sed -i 's/^tier: nonprod/tier: prod/' "$PROJECT/envs/test.yml"
pc rollback test
assert_rc 3
assert_err_contains "prod-tier"
pc rollback test --dry-run
assert_rc 0
sed -i 's/^tier: prod/tier: nonprod/' "$PROJECT/envs/test.yml"
assert_eq "0001 applied 0002 applied 0003 applied 0004 applied 0005 applied " "$(hist)" "history"
ok "prod: refused, exit 3; its dry run still works"

group "SIGKILL during a rollback leaves a consistent history; rollback again finishes it"
# hold a lock 0004's down.sql needs, so the rollback stops there after undoing 0005
PGAPPNAME=rb_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	-c "BEGIN; LOCK TABLE app.d IN ACCESS SHARE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
locker=$!
track_pid "$locker"
waiting() { [ "$(psql_q "SELECT count(*) FROM pg_locks WHERE relation = 'app.d'::regclass AND NOT granted")" = 1 ]; }
locked() { [ "$(psql_q "SELECT count(*) FROM pg_locks WHERE relation = 'app.d'::regclass AND granted")" = 1 ]; }
wait_for 30 locked || fail_now "the locker did not take its lock"
pc_bg "$PADCTL_TEST_TMP/rbcmd.$$" rollback test
wait_for 60 waiting || fail_now "the rollback never waited on app.d"
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null
kill "$locker" 2>/dev/null
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rb_locker'" >/dev/null
assert_eq "0001 applied 0002 applied 0003 applied 0004 applied 0005 rolled_back " "$(hist)" "history after the kill"
assert_eq "" "$(psql_q "SELECT to_regclass('app.e')")" "0005 undone with its record"
assert_eq "app.d" "$(psql_q "SELECT to_regclass('app.d')")" "0004 untouched"
pc rollback test
assert_rc 0
assert_err_contains "marked interrupted"
assert_err_contains "rolled back 0004_d (down)"
assert_eq "0001 applied 0002 applied 0003 applied 0004 rolled_back 0005 rolled_back " "$(hist)" "history"
assert_eq "interrupted
ok" "$(psql_q "SELECT status FROM padctl.runs WHERE rollback_of = '$run_c' ORDER BY started_at")" "the two rollback runs"
ok "killed after 0005: 0005 rolled back with its row, 0004 applied; the second rollback undid 0004"

group "--to VERSION undoes every applied migration newer than it, across runs"
pc rollback test --to 0001
assert_rc 0
assert_err_contains "rolled back 0003_c (down), 0002_b (down)"
assert_eq "0001 applied 0002 rolled_back 0003 rolled_back 0004 rolled_back 0005 rolled_back " "$(hist)" "history"
assert_eq "app.a" "$(psql_q "SELECT to_regclass('app.a')")" "0001 stays"
assert_eq "$run_a|down
$run_b|down" "$(psql_q "SELECT undone_run, strategy FROM padctl.rollbacks WHERE version IN ('0002', '0003') ORDER BY version")" "each record names the run that applied it"
pc rollback test --to 0001
assert_rc 0
assert_err_contains "nothing to roll back after 0001"
pc rollback test --to 0042
assert_rc 2
assert_err_contains "knows no migration of that version"
ok "--to: 0003 and 0002 of two runs undone; again: nothing to do"

group "every rollback is in history: which run it undid, each migration, outcome"
pc history test
assert_rc 0
assert_out_contains "rollback of run $run_c: rolled back 0005 (down)"
assert_out_contains "rollback of run $run_c: rolled back 0004 (down)"
assert_out_contains "rolled back by run"
assert_out_contains "interrupted"
pc --json history test
assert_rc 0
assert_out_contains "\"rollback_of\": \"$run_a\""
ok "history shows rollback runs and what they undid"

group "the undone migrations deploy again"
pc deploy test
assert_rc 0
assert_eq "0001 applied 0002 applied 0003 applied 0004 applied 0005 applied " "$(hist)" "history"
ok "redeployed"

group "--to 0 would undo everything padctl applied"
pc rollback test --to 0 --dry-run
assert_rc 0
assert_out_contains "would undo 5 migrations, newest first"
assert_out_contains "-- 0001_a: "
ok "--to 0: all five, newest first"

finish

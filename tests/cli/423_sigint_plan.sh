#!/usr/bin/env bash
# SIGINT while `plan` waits for the ledger target's lock: padctl stops
# waiting, dies of the signal, records no plan, and does not claim that it did.
# (plan takes the lock only to pin a target or to create or upgrade the
# ledger; cli/878 has it record without the lock. Here the pin is removed.)
. "$(dirname "$0")/lib.sh"

new_project sigplan
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0
add_migration 0002 add_t "CREATE TABLE app.t (i int);"

# another session holds padctl's advisory lock of the target
hold_deploy_lock sigplan_holder

group "SIGINT during plan"
sed -i '/^test\/t1 /d' "$PROJECT/known_targets"
pc_bg "$PROJECT/p1" plan test
waiting() { grep -q "waiting up to" "$PROJECT/p1.err"; }
wait_for 60 waiting || { bg_wait "$BG_PID" "$PROJECT/p1" 60; fail_now "plan never waited for the lock"; }
kill -INT "$BG_PID"
bg_wait "$BG_PID" "$PROJECT/p1" 60
assert_rc 130
assert_err_contains "stopped waiting for the lock of target \"t1\""
assert_err_contains "the plan was not recorded"
assert_err_not_contains "the plan is recorded"
assert_out_not_contains "recorded plan"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.plans")" "plans in the ledger"
ok "exit 130, no plan recorded, and the message says so"
release_deploy_lock sigplan_holder

group "SIGINT while plan reads the target: nothing is recorded once it goes on"
# the reading waits behind a session holding ACCESS EXCLUSIVE on the history
mkfifo "$PROJECT/locker.fifo"
PGAPPNAME=sigplan_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	<"$PROJECT/locker.fifo" >"$PROJECT/locker.out" 2>&1 &
track_pid $!
exec {LOCKER}>"$PROJECT/locker.fifo"
printf 'BEGIN;\nLOCK TABLE padctl.migrations IN ACCESS EXCLUSIVE MODE;\n' >&"$LOCKER"
locked() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'sigplan_locker' AND l.granted AND l.mode = 'AccessExclusiveLock'")" != 0 ]
}
wait_for 60 locked || fail_now "the locker never took its lock"
pc_bg "$PROJECT/p2" plan test
reading() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE 'padctl%' AND wait_event_type = 'Lock'")" != 0 ]
}
wait_for 60 reading || { bg_wait "$BG_PID" "$PROJECT/p2" 60; fail_now "plan never waited to read"; }
kill -INT "$BG_PID"
printf 'COMMIT;\n' >&"$LOCKER"
bg_wait "$BG_PID" "$PROJECT/p2" 60
assert_rc 130
assert_out_not_contains "recorded plan"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.plans")" "plans in the ledger"
ok "exit 130, no plan recorded"

finish

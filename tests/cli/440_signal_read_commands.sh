#!/usr/bin/env bash
# SIGTERM and Ctrl-C stop a command that has no safe point to stop at
# (status, plan, history) at once, even while it waits for the server: it
# dies of the signal instead of printing "stopping at a safe point" and
# going on waiting (a service manager's or `timeout`'s SIGTERM must work).
. "$(dirname "$0")/lib.sh"

new_project sigread
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0

waiters() {   # CMD: padctl CMD sessions of this database that wait for a lock
	sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE 'padctl $1%' AND wait_event_type = 'Lock'"
}
# the session of a killed padctl may wait on: a new one is the new run's
waiting() { [ "$(waiters "$1")" -gt "$2" ]; }
locker_holds() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE a.application_name = 'sigread_locker' AND l.relation = 'padctl.runs'::regclass AND l.granted")" != 0 ]
}

# a long transaction holds the ledger's tables: every read of them waits
PGAPPNAME=sigread_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	-c "BEGIN; LOCK TABLE padctl.migrations, padctl.runs IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600);" \
	>/dev/null 2>&1 &
track_pid $!
wait_for 60 locker_holds || fail_now "the locking session did not take its lock"

for cmd in status plan history; do
	for sig in TERM INT; do
		group "SIG$sig while \`$cmd\` waits for the server"
		before=$(waiters "$cmd")
		pc_bg "$PROJECT/$cmd.$sig" "$cmd" test
		pid=$BG_PID
		wait_for 60 waiting "$cmd" "$before" || { kill -9 "$pid"; fail_now "padctl $cmd never waited for the lock"; }
		kill -"$sig" "$pid"
		bg_wait "$pid" "$PROJECT/$cmd.$sig" 60
		[ "$sig" = TERM ] && assert_rc 143 || assert_rc 130
		assert_err_not_contains "stopping at a safe point"
		ok "$cmd dies of SIG$sig while it waits"
	done
done

finish

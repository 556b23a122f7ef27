#!/usr/bin/env bash
# Ctrl-C and SIGTERM: the statement in flight is cancelled on the server (a
# queued ALTER stops blocking the readers queued behind it), the migration is
# rolled back, the run is recorded as cancelled, no temporary file or child
# process is left, padctl dies of the signal, and the next deploy applies.
. "$(dirname "$0")/lib.sh"

new_project sigint
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.t (i int);"
pc deploy test
assert_rc 0

add_migration 0002 alter "ALTER TABLE app.t ADD COLUMN c int;"

padctl_waiting() {   # a padctl session of this database waits for a lock
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE 'padctl %' AND wait_event_type = 'Lock'")" != 0 ]
}
padctl_gone() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE 'padctl %'")" = 0 ]
}
reader_waiting() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = 'sigint_reader' AND wait_event_type = 'Lock'")" != 0 ]
}
locker_holds() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE a.application_name = 'sigint_locker' AND l.relation = 'app.t'::regclass AND l.granted")" != 0 ]
}

group "SIGINT while the migration waits for a lock"
# a long transaction holds ACCESS SHARE on app.t: the ALTER queues behind it
PGAPPNAME=sigint_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	-c "BEGIN; LOCK TABLE app.t IN ACCESS SHARE MODE; SELECT pg_sleep(3600);" >/dev/null 2>&1 &
LOCKER=$!
track_pid "$LOCKER"
wait_for 60 locker_holds || fail_now "the locking session did not take its lock"
pc_bg "$PROJECT/d1" deploy test
PADCTL=$BG_PID
wait_for 60 padctl_waiting || fail_now "padctl never waited for the lock"
# a reader queued behind the ALTER, as an application's SELECT would be
PGAPPNAME=sigint_reader "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	-c "SELECT count(*) FROM app.t" >"$PROJECT/reader.out" 2>&1 &
READER=$!
track_pid "$READER"
wait_for 60 reader_waiting || fail_now "the reader did not queue behind the ALTER"
children=$(pgrep -P "$PADCTL" || true)
kill -INT "$PADCTL"
bg_wait "$PADCTL" "$PROJECT/d1" 60
assert_rc 130
assert_err_contains "canceling statement due to user request"
assert_err_contains "0002_alter/up.sql:1"
ok "padctl died of SIGINT after cancelling its statement"

group "the reader is no longer blocked, although the other lock holder still runs"
wait_for 60 bash -c "! kill -0 $READER 2>/dev/null" || fail_now "the reader stayed blocked after padctl exited"
wait "$READER" || fail_now "the reader failed: $(cat "$PROJECT/reader.out")"
locker_holds || fail_now "the locking session ended: the test proves nothing"
ok "the queued ALTER no longer blocks readers"

group "no padctl session, no temporary file, no child process is left"
wait_for 60 padctl_gone || fail_now "a padctl backend is still in pg_stat_activity"
left=$(find "$PROJECT" -name '*.tmp-*' -o -name '.pwfile-*')
assert_eq "" "$left" "temporary files left in the project"
for c in $children; do
	kill -0 "$c" 2>/dev/null && fail_now "child process $c of padctl is still running"
done
ok "clean: no session, no temp file, no child"

group "the history is consistent: 0002 not applied, the run recorded as cancelled"
assert_eq "0001" "$(psql_q "SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations")" "applied versions"
assert_eq "f" "$(psql_q "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 't' AND column_name = 'c')")" "column c was not added"
assert_eq "cancelled" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "run status"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.runs WHERE status = 'running'")" "runs left running"
ok "history consistent"

group "a second deploy applies normally"
# end the locking session on the server (its backend outlives a killed psql)
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()
	AND application_name = 'sigint_locker'" >/dev/null
wait "$LOCKER" 2>/dev/null
wait_for 60 bash -c "! kill -0 $LOCKER 2>/dev/null"
pc deploy test
assert_rc 0
assert_eq "0001,0002" "$(psql_q "SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations")" "applied versions"
ok "second deploy applied 0002"

group "SIGTERM reaches a plugin through cancelled() and the run is recorded as cancelled"
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/host_probe"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - host_probe: {mode: wait_cancel}
on_failure: stop
P
pc_bg "$PROJECT/d2" deploy test
PADCTL=$BG_PID
wait_for 60 grep -q "waiting to be cancelled" "$PROJECT/d2.err" || fail_now "the probe did not start"
kill -TERM "$PADCTL"
bg_wait "$PADCTL" "$PROJECT/d2" 60
assert_rc 143
assert_eq "cancelled" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "run status"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.runs WHERE status = 'running'")" "runs left running"
ok "SIGTERM: cancelled at a safe point"

finish

#!/usr/bin/env bash
# SIGINT while pg_dump runs (it waits for a table another session locked,
# migrations.lock_timeout 0: no limit): pg_dump is stopped, the unfinished
# backup file and the private password file are removed, nothing is
# recorded as a backup, nothing is migrated, the run is recorded as
# cancelled, padctl dies of the signal; the next deploy backs up and applies.
. "$(dirname "$0")/lib.sh"

new_project bksig
cat >"$PROJECT/pipelines/standard.yml" <<'YML'
steps:
  - backup
  - migrate
on_failure: stop
YML
printf 'migrations:\n  lock_timeout: 0\n' >>"$PROJECT/padctl.yml"
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int); INSERT INTO app.t VALUES (1);"
pc deploy test
assert_rc 0
add_migration 0002 more "CREATE TABLE app.u (i int);"
export TMPDIR=$PADCTL_TEST_TMP/bksig-tmp.$$
mkdir -p "$TMPDIR"
CLI_DIRS+=("$TMPDIR")
BK=$PROJECT/.padctl/backups/test/t1

locker_holds() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE a.application_name = 'bksig_locker' AND l.relation = 'app.t'::regclass AND l.granted")" != 0 ]
}
dump_waiting() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = 'padctl-pg_dump' AND wait_event_type = 'Lock'")" != 0 ]
}
dump_gone() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = 'padctl-pg_dump'")" = 0 ]
}

group "SIGINT while pg_dump waits for a lock"
PGAPPNAME=bksig_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	-c "BEGIN; LOCK TABLE app.t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600);" >/dev/null 2>&1 &
LOCKER=$!
track_pid "$LOCKER"
wait_for 60 locker_holds || fail_now "the locking session did not take its lock"
pc_bg "$PROJECT/d1" deploy test
PADCTL=$BG_PID
wait_for 60 dump_waiting || fail_now "pg_dump never waited for the lock"
RUN=$(psql_q "SELECT id FROM padctl.runs ORDER BY started_at DESC LIMIT 1")
[ -e "$BK/$RUN.dump" ] || fail_now "the backup file of the running dump is not there"
kill -INT "$PADCTL"
bg_wait "$PADCTL" "$PROJECT/d1" 60
assert_rc 130
ok "padctl died of SIGINT"

group "nothing left behind, nothing migrated, nothing recorded as a backup"
wait_for 60 dump_gone || fail_now "pg_dump is still connected after padctl exited"
[ ! -e "$BK/$RUN.dump" ] || fail_now "the unfinished backup file $BK/$RUN.dump is still there"
[ -z "$(ls -A "$TMPDIR")" ] || fail_now "files left in TMPDIR: $(ls -A "$TMPDIR")"
assert_no_table app.u
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.backups WHERE run_id = '$RUN'")" "no backup recorded"
assert_eq cancelled "$(psql_q "SELECT status FROM padctl.runs WHERE id = '$RUN'")" "the run is recorded as cancelled"
ok "clean after SIGINT"

group "the next deploy backs up and applies"
kill "$LOCKER" 2>/dev/null
wait "$LOCKER" 2>/dev/null
sql_on "$TPG_PORT" "$DB" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bksig_locker'" >/dev/null
pc deploy test
assert_rc 0
assert_table_exists app.u
assert_err_contains "backup verified"
ok "deploy after the interruption"

finish

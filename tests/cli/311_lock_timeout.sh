#!/usr/bin/env bash
# migrations.lock_timeout: a migration waits at most that long for a lock
# (set with the BEGIN of a transactional migration; SET/RESET around a
# non-transactional one), is retried a bounded number of times with each retry
# shown, and then fails naming the session that holds the lock.
. "$(dirname "$0")/lib.sh"

new_project locktime
cat >>"$PROJECT/padctl.yml" <<'EOF2'
migrations:
  lock_timeout: 1
EOF2
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.t (id int PRIMARY KEY);
CREATE TABLE app.unrelated (id int PRIMARY KEY);"
pc deploy test
assert_rc 0

# the blocker: a session idle in a transaction holding ACCESS EXCLUSIVE on app.t, fed through a fifo
mkfifo "$PROJECT/blocker.fifo"
PGAPPNAME=cli_blocker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	<"$PROJECT/blocker.fifo" >"$PROJECT/blocker.out" 2>&1 &
track_pid $!
exec {BLOCKER}>"$PROJECT/blocker.fifo"
block() { printf 'BEGIN;\nLOCK TABLE app.t IN ACCESS EXCLUSIVE MODE;\n' >&"$BLOCKER"; }
blocker_pid() {
	psql_q "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'cli_blocker' AND l.granted AND l.mode = 'AccessExclusiveLock'
		AND l.relation = 'app.t'::regclass"
}
has_blocker() { [ -n "$(blocker_pid)" ]; }
column_x() { psql_q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app.t'::regclass AND attname = 'x'"; }

# another session, longer in its transaction, holds as strong a lock on a table the migration does not name
mkfifo "$PROJECT/other.fifo"
PGAPPNAME=cli_other "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	<"$PROJECT/other.fifo" >"$PROJECT/other.out" 2>&1 &
track_pid $!
exec {OTHER}>"$PROJECT/other.fifo"
printf 'BEGIN;\nLOCK TABLE app.unrelated IN ACCESS EXCLUSIVE MODE;\n' >&"$OTHER"
has_other() {
	[ -n "$(psql_q "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'cli_other' AND l.granted AND l.mode = 'AccessExclusiveLock'")" ]
}
wait_for 30 has_other || fail_now "the other session never took its lock"

group "a migration behind an ACCESS EXCLUSIVE lock is retried, then fails naming the holder"
block
wait_for 30 has_blocker || fail_now "the blocker never took its lock"
bpid=$(blocker_pid)
add_migration 0002 add_x "ALTER TABLE app.t ADD COLUMN x int;"
CLI_LAST_CMD="timeout 120 padctl deploy test"
timeout 120 "$PADCTL_BIN" -C "$PROJECT" deploy test >"$PROJECT/d0.out" 2>"$PROJECT/d0.err" </dev/null
RC=$? OUT=$(cat "$PROJECT/d0.out") ERR=$(cat "$PROJECT/d0.err")
sanitizer_check
[ "$RC" != 124 ] || fail_now "the deploy waited for the lock for 120 s (no lock_timeout?)"
assert_rc 1
assert_err_contains "0002_add_x/up.sql:1: canceling statement due to lock timeout"
assert_err_contains "[1/1] 0002_add_x: could not get a lock within 1000 ms (attempt 1 of 3); retrying"
assert_err_contains "(attempt 2 of 3); retrying"
assert_err_not_contains "(attempt 3 of 3)"
assert_err_contains "pid $bpid (user $TPG_USER, application_name \"cli_blocker\", state idle in transaction, query started"
assert_err_contains "holds AccessExclusiveLock on app.t"
first=$(grep -m1 "lock holder:" <<<"$ERR")
assert_contains "$first" "pid $bpid (user" "the first lock holder named (the one on the table the migration names)"
assert_err_contains "migration 0002_add_x waited 3 times for a lock, 1000 ms each (migrations.lock_timeout)"
assert_err_contains "raise migrations.lock_timeout"
assert_eq 0 "$(column_x)" "column x not added"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0002'")" "no history row"
ok "exit 1 after 3 tries, each retry shown; the error names pid $bpid, cli_blocker, idle in transaction"

group "a non-transactional migration gets the same limit"
printf 'transactional: false\n' >"$PROJECT/migrations/0002_add_x/meta.yml"
pc deploy test
assert_rc 1
assert_err_contains "(attempt 2 of 3); retrying"
assert_err_contains "pid $bpid (user $TPG_USER, application_name \"cli_blocker\""
assert_eq 0 "$(column_x)" "column x not added"
rm "$PROJECT/migrations/0002_add_x/meta.yml"
ok "transactional: false: retried and failed the same way"

group "the lock is released during the retries: the migration applies"
pc_bg "$PROJECT/d1" deploy test
retried() { grep -q "attempt 1 of 3" "$PROJECT/d1.err"; }
wait_for 60 retried || { bg_wait "$BG_PID" "$PROJECT/d1" 1; fail_now "no retry was shown"; }
printf 'COMMIT;\n' >&"$BLOCKER"
bg_wait "$BG_PID" "$PROJECT/d1" 60
assert_rc 0
assert_err_contains "applied 0002_add_x"
assert_eq 1 "$(column_x)" "column x added"
ok "the blocker committed after the first timeout; a retry applied 0002"

group "the env's setting wins; 0 waits without a limit; a bad value is refused"
write_env "$DB" "$TPG_PORT" "migrations:
  lock_timeout: 0"
block
wait_for 30 has_blocker || fail_now "the blocker never took its lock again"
add_migration 0003 add_y "ALTER TABLE app.t ADD COLUMN y int;"
pc_bg "$PROJECT/d2" deploy test
# no limit: one statement keeps waiting past the project's 1 s (with it, no wait would last 2 s)
waited_long() {
	[ -n "$(psql_q "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND wait_event_type = 'Lock'
		AND application_name LIKE 'padctl%' AND now() - query_start > interval '2 s'")" ]
}
wait_for 30 waited_long || fail_now "the deploy never waited 2 s for the lock in one statement"
printf 'COMMIT;\n' >&"$BLOCKER"
bg_wait "$BG_PID" "$PROJECT/d2" 60
assert_rc 0
assert_err_not_contains "attempt 1 of 3"
write_env "$DB" "$TPG_PORT" "migrations:
  lock_timeout: -1"
pc status test
assert_rc 2
assert_err_contains "envs/test.yml:11:17: \"migrations.lock_timeout\" (seconds) -1 is out of range"
ok "lock_timeout: 0 in the env waited for the lock and applied 0003; -1 is refused at file:line:col"

finish

#!/usr/bin/env bash
# kill -9 of padctl in the middle of a transactional migration: the migration
# is fully absent (no table, no history row), no advisory lock is left, and
# the next deploy applies it. The migration went to the server whole, with its
# COMMIT (one message); the server notices the dead client during the sleep
# (client_connection_check_interval) and rolls it back.
. "$(dirname "$0")/lib.sh"

new_project sigkill
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
# sleeps only while public.slow_flag exists, so the second run is fast
add_migration 0002 big_table "CREATE TABLE app.big AS SELECT g AS id FROM generate_series(1, 50000) g;
SELECT pg_sleep(CASE WHEN to_regclass('public.slow_flag') IS NOT NULL THEN 5 ELSE 0 END);"
psql_q "CREATE TABLE public.slow_flag ()" >/dev/null
LOG=$PROJECT/deploy1

sleeping_backend() {
	psql_q "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND wait_event = 'PgSleep'
		AND application_name LIKE 'padctl deploy %'"
}
has_sleeper() { [ -n "$(sleeping_backend)" ]; }
backend_gone() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE pid = $1")" = 0 ]; }
advisory_locks() {
	psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
}

group "kill -9 padctl while 0002 runs"
pc_bg "$LOG" deploy test
pid=$BG_PID
wait_for 30 has_sleeper || { bg_wait "$pid" "$LOG" 1; fail_now "0002 never reached pg_sleep"; }
backend=$(sleeping_backend)
assert_eq 1 "$(advisory_locks)" "the running deploy holds its advisory lock"
kill -9 "$pid"
wait "$pid" 2>/dev/null
rc=$?
assert_eq 137 "$rc" "padctl died of SIGKILL"
ok "deploy killed with SIGKILL while 0002 slept (backend $backend)"

group "the server cleans up after the dead client"
wait_for 30 backend_gone "$backend" || fail_now "backend $backend still there 30 s after the kill"
assert_eq 0 "$(advisory_locks)" "advisory locks left"
assert_no_table app.big
assert_eq "0001|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" \
	"history: 0001 only, no row for 0002"
assert_table_exists app.account
ok "no app.big, no history row for 0002, no advisory lock left; 0001 stays applied"

group "status after the kill"
pc status test
assert_rc 0
assert_out_contains "lock: free"
assert_out_contains "applied 1, baselined 0, skipped 0, pending 1"
ok "status: lock free, 0002 pending"

group "the next deploy applies 0002"
psql_q "DROP TABLE public.slow_flag" >/dev/null
pc deploy test --lock-timeout 5
assert_rc 0
assert_err_contains "applied 0002_big_table"
assert_eq 50000 "$(psql_q "SELECT count(*) FROM app.big")" "rows in app.big"
assert_eq "0001|applied
0002|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
assert_eq 0 "$(advisory_locks)" "advisory locks after a clean run"
ok "second deploy applies 0002 exactly once"

finish

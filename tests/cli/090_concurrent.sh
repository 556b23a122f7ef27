#!/usr/bin/env bash
# Two deploys at once on one target: the advisory lock lets one run; the other
# waits and then finds nothing to do, or gives up after --lock-timeout with
# exit 4 naming the holder. Every migration runs exactly once.
. "$(dirname "$0")/lib.sh"

new_project concurrent
psql_q "CREATE TABLE public.apply_log (version text NOT NULL); CREATE TABLE public.slow_flag ()" >/dev/null
add_migration 0001 create_app "CREATE SCHEMA app;
INSERT INTO public.apply_log VALUES ('0001');"
slow_sql() {
	printf "INSERT INTO public.apply_log VALUES ('%s');
CREATE TABLE app.t%s (id int);
SELECT pg_sleep(CASE WHEN to_regclass('public.slow_flag') IS NOT NULL THEN 6 ELSE 0 END);" "$1" "$1"
}
add_migration 0002 slow_one "$(slow_sql 0002)"

has_sleeper() {
	[ -n "$(psql_q "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND wait_event = 'PgSleep'")" ]
}
runs_once() {   # VERSION...: each ran exactly once and has exactly one history row
	local v
	for v in "$@"; do
		assert_eq 1 "$(psql_q "SELECT count(*) FROM public.apply_log WHERE version = '$v'")" "executions of $v"
		assert_eq 1 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '$v' AND status = 'applied'")" \
			"history rows of $v"
	done
}

group "variant 1: the second deploy waits for the lock, then has nothing to do"
pc_bg "$PROJECT/a1" deploy test --lock-timeout 30
pid_a=$BG_PID
wait_for 30 has_sleeper || { bg_wait "$pid_a" "$PROJECT/a1" 1; fail_now "the first deploy never reached pg_sleep"; }
pc_bg "$PROJECT/b1" deploy test --lock-timeout 30
pid_b=$BG_PID
wait_for 20 grep -q "is locked by" "$PROJECT/b1.err" || fail_now "the second deploy did not report waiting for the lock" \
	"its stderr: $(cat "$PROJECT/b1.err")"
bg_wait "$pid_a" "$PROJECT/a1" 30
assert_rc 0
assert_err_contains "applied 0002_slow_one"
bg_wait "$pid_b" "$PROJECT/b1" 40
assert_rc 0
assert_err_contains "is locked by padctl deploy"
assert_err_contains "nothing to migrate"
runs_once 0001 0002
ok "deploy A applied 0001-0002; deploy B waited, then found nothing to migrate; each ran once"

group "variant 2: --lock-timeout 1 gives up with exit 4 naming the holder"
add_migration 0003 slow_two "$(slow_sql 0003)"
pc_bg "$PROJECT/a2" deploy test --lock-timeout 30
pid_a=$BG_PID
wait_for 30 has_sleeper || { bg_wait "$pid_a" "$PROJECT/a2" 1; fail_now "the first deploy never reached pg_sleep"; }
run_a=$(psql_q "SELECT id FROM padctl.runs WHERE status = 'running'")
pc deploy test --lock-timeout 1
assert_rc 4
assert_err_contains 'target "t1" is locked by another padctl run'
assert_err_contains "held by padctl deploy $run_a"
assert_err_contains "--lock-timeout"
bg_wait "$pid_a" "$PROJECT/a2" 30
assert_rc 0
assert_err_contains "applied 0003_slow_two"
runs_once 0001 0002 0003
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.runs WHERE status <> 'ok'")" "runs not ok (the refused one records none)"
ok "deploy with --lock-timeout 1 exits 4 naming \"padctl deploy $run_a\"; 0003 applied once by the holder"

group "status shows the lock free afterwards"
pc status test
assert_rc 0
assert_out_contains "lock: free"
ok "lock free after both runs"

finish

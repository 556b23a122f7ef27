#!/usr/bin/env bash
# A padctl killed mid-migration leaves its run `running` in the ledger; the
# next run that takes the target's lock (which every live run holds for its
# whole life) closes it, and its running step, as `interrupted`, and history
# shows that in text and JSON.
. "$(dirname "$0")/lib.sh"

new_project interrupted
add_migration 0001 create_app "CREATE SCHEMA app;"
add_migration 0002 slow "CREATE TABLE app.slow (i int);
SELECT pg_sleep(CASE WHEN to_regclass('public.slow_flag') IS NOT NULL THEN 60 ELSE 0 END);"
psql_q "CREATE TABLE public.slow_flag ()" >/dev/null
LOG=$PROJECT/deploy1

sleeping_backend() {
	psql_q "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND wait_event = 'PgSleep'
		AND application_name LIKE 'padctl deploy %'"
}
has_sleeper() { [ -n "$(sleeping_backend)" ]; }
backend_gone() { [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE pid = $1")" = 0 ]; }

group "kill -9 padctl while 0002 runs"
pc_bg "$LOG" deploy test
pid=$BG_PID
wait_for 60 has_sleeper || { bg_wait "$pid" "$LOG" 1; fail_now "0002 never reached pg_sleep"; }
backend=$(sleeping_backend)
kill -9 "$pid"
wait "$pid" 2>/dev/null
# the server ends the orphaned backend only when pg_sleep returns; end it now
psql_q "SELECT pg_terminate_backend($backend)" >/dev/null
wait_for 60 backend_gone "$backend" || fail_now "backend $backend still there after pg_terminate_backend"
killed=$(psql_q "SELECT id FROM padctl.runs WHERE status = 'running'")
[ -n "$killed" ] || fail_now "the killed run is not left running: $(psql_q "SELECT id, status FROM padctl.runs")"
assert_eq "migrate|running" "$(psql_q "SELECT step, status FROM padctl.run_steps WHERE run_id = '$killed' AND status = 'running'")" \
	"the killed run's running step"
ok "the killed run $killed is left running, in step migrate"

group "the next deploy closes it as interrupted"
psql_q "DROP TABLE public.slow_flag" >/dev/null
pc deploy test
assert_rc 0
assert_err_contains "run $killed (target t1) was left running by a padctl that is gone; marked interrupted"
assert_eq "interrupted" "$(psql_q "SELECT status FROM padctl.runs WHERE id = '$killed'")" "status of $killed"
assert_eq t "$(psql_q "SELECT finished_at IS NULL AND error LIKE 'padctl ended without finishing%' FROM padctl.runs WHERE id = '$killed'")" \
	"no finished_at (unknown), and the error of $killed"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.run_steps WHERE status = 'running'")" "running steps left"
assert_eq "migrate|interrupted" "$(psql_q "SELECT step, status FROM padctl.run_steps WHERE run_id = '$killed' AND step = 'migrate'")" \
	"the killed run's migrate step"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.runs WHERE status = 'running'")" "runs left running"
assert_eq "0001|applied
0002|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
ok "run $killed and its migrate step are interrupted; 0002 applied once by the new run"

group "history shows interrupted"
pc history test
assert_rc 0
assert_out_matches "$killed +deploy +interrupted "
assert_out_contains "migrate=interrupted"
pc --json history test
assert_rc 0
assert_eq interrupted "$(json_get "[r['status'] for r in d['runs'] if r['id'] == '$killed'][0]")" "JSON status of $killed"
ok "history (text and --json) shows run $killed interrupted"

group "a dry run takes no lock and closes nothing"
psql_q "INSERT INTO padctl.runs (id, env, target, command, run_by) VALUES ('fake-running', 'test', 't1', 'deploy', 'x')" >/dev/null
pc deploy test --dry-run
assert_rc 0
assert_eq running "$(psql_q "SELECT status FROM padctl.runs WHERE id = 'fake-running'")" "a dry run leaves the ledger alone"
ok "deploy --dry-run writes nothing to the ledger"

finish

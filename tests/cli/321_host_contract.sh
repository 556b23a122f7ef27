#!/usr/bin/env bash
# The host's side of the plugin contract holds whatever a plugin does: a
# transaction the server rolled back is never reported committed, an error a
# plugin ignores still fails its step, config() answers do not alias each
# other, and history_record accepts only the migrations the host handed out,
# each once. The host_probe test plugin misuses the host one way per mode.
. "$(dirname "$0")/lib.sh"

new_project hostc
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/host_probe"
sed -i 's/owned: \[app\]/owned: [app, app2]/' "$PROJECT/padctl.yml"
add_migration 0001 create_app "CREATE SCHEMA app;"
psql_q "CREATE TABLE public.probe (i int)" >/dev/null

probe() {   # MODE: a pipeline of the one probe step
	cat >"$PROJECT/pipelines/standard.yml" <<P
steps:
  - host_probe: {mode: $1}
on_failure: stop
P
}

group "tx_commit fails for a transaction the server rolled back (the plugin checks the answer)"
probe ignore_commit
pc deploy test
assert_rc 1
assert_err_contains "went on after this error and committed"
assert_eq 0 "$(psql_q "SELECT count(*) FROM public.probe")" "the insert is gone"
assert_eq "failed" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "run status"
assert_eq "failed" "$(psql_q "SELECT s.status FROM padctl.run_steps s JOIN padctl.runs r ON r.id = s.run_id ORDER BY r.started_at DESC LIMIT 1")" "step status"
assert_err_not_contains "succeeded"
ok "a rolled-back transaction is a failed commit, recorded as failed"

group "an error the plugin ignores is its step's failure even when it returns success"
probe ignore_all
pc deploy test
assert_rc 1
assert_err_contains "went on after this error"
assert_err_not_contains "succeeded"
assert_eq "failed" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "run status"
assert_eq 0 "$(psql_q "SELECT count(*) FROM public.probe")" "the insert is gone"
ok "ignored error: step and run failed"

group "config() answers stay valid and distinct until the step ends"
probe config
pc deploy test
assert_rc 0
assert_err_contains "config: owned=app,app2 protected=ref tier=nonprod"
ok "config answers do not alias"

group "history_record refuses a migration the host did not hand out"
probe forge
pc deploy test
assert_rc 1
assert_err_contains "recorded a migration the host did not hand it"
assert_eq "" "$(psql_q "SELECT version FROM padctl.migrations")" "no history row written"
ok "forged migration refused"

group "history_record refuses the same migration twice"
probe twice
pc deploy test
assert_rc 1
assert_err_contains "recorded migration 0001_create_app twice"
assert_eq "0001|skipped|probe" "$(psql_q "SELECT version, status, reason FROM padctl.migrations")" "one history row, the first"
ok "second record refused"

group "transaction control inside a transactional migration is refused before anything runs"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate
on_failure: stop
P
psql_q "CREATE SCHEMA IF NOT EXISTS app" >/dev/null
add_migration 0002 half "CREATE TABLE app.half (i int);
COMMIT;
SELECT no_such_function_in_half();"
pc deploy test
assert_rc 2
assert_err_contains "0002_half/up.sql:2: transaction control"
assert_no_table app.half
assert_eq "" "$(psql_q "SELECT version FROM padctl.migrations WHERE version = '0002'")" "no history row for 0002"
ok "COMMIT in a transactional migration refused at load, nothing of 0002 left"

group "a plugin's COMMIT inside the host's transaction is refused before it is sent"
rm -rf "$PROJECT/migrations/0002_half"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - host_probe: {mode: tx_escape}
on_failure: stop
P
pc deploy test
assert_rc 1
assert_err_contains "transaction control is not allowed here"
assert_no_table public.tx_half
ok "sql_exec refused COMMIT inside tx_begin; the plugin's table rolled back"

finish

#!/usr/bin/env bash
# Errors are kept per scope (issue 8 item 2): status and doctor report every
# target on its own, an unreachable first one neither hiding nor breaking the
# second; a failed step's own error is what the ledger records for the step
# and the run, and what the user sees.
. "$(dirname "$0")/lib.sh"

new_project errscope
add_migration 0001 create_app "CREATE SCHEMA app;"
add_migration 0002 account "CREATE TABLE app.account (id bigint PRIMARY KEY);"
pc deploy test
assert_rc 0

dead=$(free_port)
cat >"$PROJECT/envs/two.yml" <<EOF
tier: nonprod
pipeline: standard
targets:
  t1:
    database:
      host: $TPG_HOST
      port: $dead
      dbname: $DB
      user: $TPG_USER
  t2:
    database:
      host: $TPG_HOST
      port: $TPG_PORT
      dbname: $DB
      user: $TPG_USER
EOF

group "status over two targets, the first unreachable"
pc status two
assert_rc 1
assert_out_contains "target t1: UNREACHABLE"
assert_out_contains ":$dead"
assert_out_not_contains "target t2: UNREACHABLE"
assert_out_contains "target t2:"
pc --json status two
assert_rc 1
assert_eq "False True" "$(json_get 'd["targets"][0]["reachable"]') $(json_get 'd["targets"][1]["reachable"]')" \
	"t1 unreachable, t2 reachable"
assert_eq "2" "$(json_get 'd["targets"][1]["counts"]["applied"]')" "t2's own history"
assert_eq "None" "$(json_get 'd["targets"][1].get("error")')" "no error carried over from t1"
ok "status shows t1 UNREACHABLE and still reads t2's history, without t1's error"

group "doctor over two targets, the first unreachable"
pc doctor two
assert_rc 1
assert_out_contains "PROBLEM  target two/t1:"
assert_out_contains "ok       target two/t2 answers (PostgreSQL"
assert_err_contains "doctor found 1 problem"
ok "doctor reports t1 as one problem and t2 as answering; exit 1 for the one problem"

group "a failed step's error is the one the ledger records and the user sees"
add_migration 0003 broken "SELECT no_such_column FROM app.account;"
pc deploy test
assert_rc 1
assert_err_contains 'column "no_such_column" does not exist'
msg=$(psql_q "SELECT s.error FROM padctl.run_steps s JOIN padctl.runs r ON r.id = s.run_id WHERE s.status = 'failed'")
[ -n "$msg" ] || fail_now "the failed step recorded no error"
assert_err_contains "error: $msg"
assert_eq "$msg" "$(psql_q "SELECT error FROM padctl.runs WHERE status = 'failed'")" \
	"the run records the step's error"
ok "run_steps.error and runs.error hold the printed error of the failed step"

finish

#!/usr/bin/env bash
# deploy --plan ID runs a recorded plan of a non-prod env once it is
# re-derived under the lock with the same hash (issue 8 item 1); a plan that
# has run no longer holds, an unknown id is a usage error, and a prod-tier
# env whose pipeline has no approvals is refused with exit 3 (cli/860: prod).
. "$(dirname "$0")/lib.sh"

new_project deployplan
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.stored_plan_account (id bigint PRIMARY KEY);" "DROP SCHEMA app CASCADE;"
add_migration 0002 add_trade "CREATE TABLE app.stored_plan_trade (id bigint PRIMARY KEY);" "DROP TABLE app.stored_plan_trade;"

plan_id() { sed -nE 's/^recorded plan ([^ ]+) \(hash sha256:([0-9a-f]{64})\).*/\1/p' <<<"$OUT"; }

group "deploy --plan runs a stored plan"
pc plan test
assert_rc 0
id=$(plan_id)
[ -n "$id" ] || fail_now "no plan id" "got: $OUT"
pc deploy test --plan "$id"
assert_rc 0
assert_err_contains "plan $id: re-derived under the lock"
assert_table_exists app.stored_plan_account
assert_table_exists app.stored_plan_trade
assert_eq "0001|applied
0002|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
ok "deploy --plan $id applied 0001 and 0002"

group "the same plan again no longer holds"
pc deploy test --plan "$id"
assert_rc 1
assert_err_contains "plan \"$id\" no longer matches what the deploy would do: nothing was changed"
assert_err_contains "targets[t1].history"
assert_err_contains "targets[t1].migrations[0001]: in the plan, gone now"
assert_eq 1 "$(psql_q "SELECT count(*) FROM padctl.runs WHERE command = 'deploy'")" "runs recorded"
ok "exit 1 naming the history and the migrations that differ; no run recorded"

group "an unknown plan id"
pc deploy test --plan 20200101-000000-0000
assert_rc 2
assert_err_contains "there is no plan \"20200101-000000-0000\" in the ledger of target \"t1\""
ok "exit 2"

group "a prod-tier env is refused even with a plan"
add_migration 0003 add_note "CREATE TABLE app.stored_plan_note (id int);"
pc plan test
id3=$(plan_id)
sed -i 's/^tier: nonprod/tier: prod/' "$PROJECT/envs/test.yml"
pc deploy test --plan "$id3"
assert_rc 3
assert_err_contains 'has no `approvals:` section'
assert_no_table app.stored_plan_note
ok "exit 3, nothing applied"

finish

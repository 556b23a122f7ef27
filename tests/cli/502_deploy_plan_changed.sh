#!/usr/bin/env bash
# A file changed after planning makes deploy --plan ID refuse with exit 1,
# say what differs, and change nothing (issue 8 item 1).
. "$(dirname "$0")/lib.sh"

new_project planchanged
add_migration 0001 create_app "CREATE SCHEMA app;" "DROP SCHEMA app;"
add_migration 0002 add_trade "CREATE TABLE app.changed_plan_trade (id bigint PRIMARY KEY);"

plan_id() { sed -nE 's/^recorded plan ([^ ]+) \(hash sha256:([0-9a-f]{64})\).*/\1/p' <<<"$OUT"; }
nothing_changed() {
	assert_no_table app.changed_plan_trade
	assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations")" "history rows"
	assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.runs")" "runs"
}

group "an up.sql edited after planning"
pc plan test
assert_rc 0
id=$(plan_id)
up=$PROJECT/migrations/0002_add_trade/up.sql
orig=$(cat "$up")
printf '%s\n' "CREATE TABLE app.changed_plan_trade (id bigint PRIMARY KEY, qty int);" >"$up"
pc deploy test --plan "$id"
assert_rc 1
assert_err_contains "plan \"$id\" no longer matches what the deploy would do: nothing was changed"
assert_err_contains "targets[t1].migrations[0002].up_sha256"
nothing_changed
ok "exit 1 naming migrations[0002].up_sha256; nothing applied, no run recorded"

group "a down.sql added after planning"
printf '%s\n' "$orig" >"$up"
printf '%s\n' "DROP TABLE app.changed_plan_trade;" >"$PROJECT/migrations/0002_add_trade/down.sql"
pc deploy test --plan "$id"
assert_rc 1
assert_err_contains "targets[t1].migrations[0002].down_sha256"
nothing_changed
ok "exit 1 naming down_sha256"

group "the env file changed after planning"
rm "$PROJECT/migrations/0002_add_trade/down.sql"
printf '# a comment\n' >>"$PROJECT/envs/test.yml"
pc deploy test --plan "$id"
assert_rc 1
assert_err_contains "env_sha256"
nothing_changed
ok "exit 1 naming env_sha256"

group "restored, the plan runs"
write_env "$DB"
pc deploy test --plan "$id"
assert_rc 0
assert_table_exists app.changed_plan_trade
ok "with the files as planned, deploy --plan applies them"

finish

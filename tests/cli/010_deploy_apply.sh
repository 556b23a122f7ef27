#!/usr/bin/env bash
# deploy applies pending migrations once, records them, and a re-run is a no-op.
. "$(dirname "$0")/lib.sh"

new_project deploy_apply
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY, name text NOT NULL);" \
	"DROP SCHEMA app CASCADE;" "SELECT to_regclass('app.account') IS NOT NULL;"
add_migration 0002 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY, account_id bigint REFERENCES app.account);" \
	"DROP TABLE app.trade;" "SELECT to_regclass('app.trade') IS NOT NULL;"
add_migration 0003 add_index "CREATE INDEX trade_account_idx ON app.trade (account_id);" \
	"DROP INDEX app.trade_account_idx;" "SELECT to_regclass('app.trade_account_idx') IS NOT NULL;"

group "first deploy applies three migrations"
pc deploy test
assert_rc 0
assert_err_contains "3 migrations to apply"
assert_err_contains "applied 0003_add_index"
assert_table_exists app.account
assert_table_exists app.trade
assert_eq t "$(psql_q "SELECT to_regclass('app.trade_account_idx') IS NOT NULL")" "index app.trade_account_idx exists"
ok "deploy test applies 0001..0003 and the objects exist"

group "padctl.migrations records every migration"
assert_eq "0001|create_app|applied
0002|add_trade|applied
0003|add_index|applied" "$(psql_q "SELECT version, name, status FROM padctl.migrations ORDER BY version")" \
	"history rows"
assert_eq 3 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE checksum ~ '^[0-9a-f]{64}$' AND run_id <> '' AND applied_by LIKE '%@%'")" \
	"rows with a sha256 checksum, a run id and applied_by user@host"
run_id=$(psql_q "SELECT DISTINCT run_id FROM padctl.migrations")
assert_eq 1 "$(printf '%s\n' "$run_id" | wc -l)" "all three rows come from one run"
assert_eq "deploy|ok" "$(psql_q "SELECT command, status FROM padctl.runs WHERE id = '$run_id'")" "the run row"
want=$(sha256sum "$PROJECT/migrations/0002_add_trade/up.sql" | cut -d' ' -f1)
assert_eq "$want" "$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0002'")" "checksum is sha256 of up.sql"
ok "3 applied rows with checksum, run_id and applied_by"

group "history shows the run"
pc history test
assert_rc 0
assert_out_contains "target t1:"
assert_out_contains "$run_id"
assert_out_matches "$run_id +deploy +ok "
assert_out_contains "migrations applied: 3"
ok "history test shows run $run_id ok with 3 migrations"

group "--json history parses"
pc --json history test
assert_rc 0
assert_eq "test" "$(json_get 'd["env"]')" "env in JSON"
assert_eq "$run_id ok 3" "$(json_get '" ".join([d["runs"][0]["id"], d["runs"][0]["status"], str(d["runs"][0]["migrations_applied"])])')" \
	"first run in JSON"
ok "--json history is JSON with the run"

group "status shows 3 applied"
pc status test
assert_rc 0
assert_out_contains "target t1: reachable"
assert_out_contains "applied 3, baselined 0, skipped 0, pending 0"
assert_out_contains "lock: free"
ok "status test: applied 3, nothing pending"

group "a second deploy applies nothing"
before=$(psql_q "SELECT version, checksum, applied_at, run_id FROM padctl.migrations ORDER BY version")
pc deploy test
assert_rc 0
assert_err_contains "nothing to migrate"
assert_err_contains "0 migrations applied"
after=$(psql_q "SELECT version, checksum, applied_at, run_id FROM padctl.migrations ORDER BY version")
assert_eq "$before" "$after" "history rows unchanged by the second deploy"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.runs WHERE command = 'deploy' AND status = 'ok'")" "two ok runs"
ok "re-run deploy: nothing to migrate, history unchanged"

finish

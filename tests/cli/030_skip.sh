#!/usr/bin/env bash
# migrations.skip in the env file: the migration is recorded as skipped with
# its reason and its SQL never runs.
. "$(dirname "$0")/lib.sh"

new_project skip
write_env "$DB" "$TPG_PORT" 'migrations:
  skip:
    "0002": "redundant here"'
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
# would fail if it ran: division by zero, and a table we can look for
add_migration 0002 legacy_fix "CREATE TABLE app.from_skipped (id int);
SELECT 1/0;"
add_migration 0003 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY);"

group "status before the deploy shows the migration to skip"
pc status test
assert_rc 0
assert_out_matches "to skip +0002_legacy_fix \(redundant here\)"
ok "status: 0002 is 'to skip' with the reason"

group "deploy records 0002 as skipped and never runs it"
pc deploy test
assert_rc 0
assert_err_contains "skipped in this env: redundant here"
assert_eq "0001|applied|
0002|skipped|redundant here
0003|applied|" "$(psql_q "SELECT version, status, coalesce(reason, '') FROM padctl.migrations ORDER BY version")" \
	"history rows"
assert_no_table app.from_skipped
assert_table_exists app.trade
ok "0002 recorded skipped (redundant here), its SQL did not run, 0001/0003 applied"

group "status shows skipped"
pc status test
assert_rc 0
assert_out_contains "applied 2, baselined 0, skipped 1, pending 0"
assert_out_matches "skipped +0002_legacy_fix \(redundant here\)"
pc --json status test
assert_eq "skipped|redundant here" \
	"$(json_get '"|".join([[m["state"], m["reason"]] for m in d["targets"][0]["migrations"] if m["version"] == "0002"][0])')" \
	"0002 in --json status"
ok "status: skipped 1, 0002 skipped (redundant here)"

group "a later deploy leaves the skipped migration alone"
pc deploy test
assert_rc 0
assert_err_contains "nothing to migrate"
assert_no_table app.from_skipped
ok "re-deploy: nothing to migrate, 0002 still not run"

finish

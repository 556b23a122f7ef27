#!/usr/bin/env bash
# A pending migration older than the newest applied one is out of order:
# status shows it, deploy refuses it unless --allow-out-of-order.
. "$(dirname "$0")/lib.sh"

new_project ooo
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
add_migration 0003 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY);"

group "deploy 0001 and 0003"
pc deploy test
assert_rc 0
assert_eq "0001
0003" "$(psql_q "SELECT version FROM padctl.migrations ORDER BY version")" "applied versions"
ok "0001 and 0003 applied"

add_migration 0002 late_branch "CREATE TABLE app.late (id int);"

group "status shows 0002 out of order"
pc status test
assert_rc 0
assert_out_contains "pending 0, to skip 0, out of order 1"
assert_out_matches "out of order +0002_late_branch"
ok "status: 0002_late_branch out of order"

group "deploy refuses an out-of-order migration"
pc deploy test
assert_rc 1
assert_err_contains "0002_late_branch is out of order"
assert_err_contains "--allow-out-of-order"
assert_no_table app.late
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0002'")" "no history row for 0002"
ok "deploy exits 1 naming 0002 with the --allow-out-of-order hint; nothing applied"

group "plan refuses it too"
pc plan test
assert_rc 1
assert_err_contains "0002_late_branch is out of order"
ok "plan exits 1 on the out-of-order migration"

group "--allow-out-of-order applies it"
pc deploy test --allow-out-of-order
assert_rc 0
assert_err_contains "applied 0002_late_branch"
assert_table_exists app.late
assert_eq "0001|applied
0002|applied
0003|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history after"
pc status test
assert_rc 0
assert_out_contains "applied 3, baselined 0, skipped 0, pending 0, to skip 0, out of order 0"
ok "deploy --allow-out-of-order applies 0002; status clean"

finish

#!/usr/bin/env bash
# plan records itself in the ledger target's padctl.plans: that target is
# opened like a deploy opens one (lock, identity, ledger), so a ledger target
# pinned to another server is refused and nothing is created there, even when
# plan --target names another target.
. "$(dirname "$0")/lib.sh"

new_project planledger
add_migration 0001 create_app "CREATE SCHEMA app;"
DB2=$(unique_name planledger_t2)
create_db "$TPG_PORT" "$DB2"
cat >"$PROJECT/envs/test.yml" <<YML
tier: nonprod
pipeline: standard
ledger: t1
targets:
  t1:
    database: {host: $TPG_HOST, port: $TPG_PORT, dbname: $DB, user: $TPG_USER}
  t2:
    database: {host: $TPG_HOST, port: $TPG_PORT, dbname: $DB2, user: $TPG_USER}
YML
sysid=$(psql_q "SELECT system_identifier FROM pg_control_system()")
KT=$PROJECT/known_targets
printf '# padctl known_targets: test\n# format 2: test\ntest/t1 1234567 %s\ntest/t2 %s %s\n' "$DB" "$sysid" "$DB2" >"$KT"

group "plan --target t2 with the ledger target t1 pinned to another server"
pc plan test --target t2
assert_rc 1
assert_err_contains "target \"t1\" of env \"test\" is not the server it was first deployed to"
assert_err_contains "pins system identifier 1234567"
assert_eq f "$(psql_q "SELECT to_regnamespace('padctl') IS NOT NULL")" "no padctl schema on t1's database"
assert_eq f "$(sql_on "$TPG_PORT" "$DB2" "SELECT to_regnamespace('padctl') IS NOT NULL")" "no padctl schema on t2's"
ok "plan refused (exit 1) naming the ledger target's pin; no padctl.plans created"

group "with the right pin, plan records in t1's ledger"
sed -i "s/^test\/t1 1234567 /test\/t1 $sysid /" "$KT"
pc plan test --target t2
assert_rc 0
assert_eq 1 "$(psql_q "SELECT count(*) FROM padctl.plans")" "plans in t1's ledger"
ok "plan --target t2 recorded in t1's padctl.plans"

finish

#!/usr/bin/env bash
# The reference project's own checks (issue 11): its contracts are loaded
# and checked (db/contracts/bo_airflow.yml and padealing.yml); the phantom
# column oracle_employee.email, added by hand, fails validate naming the
# contract's line; a migration that alters bo_airflow is refused at plan
# and at deploy, and one doing it through EXECUTE is rolled back by the
# runtime guard.
. "$(dirname "$0")/lib.sh"

reference_project refprot
q() { ref_q "$1"; }
applied() { q "SELECT count(*) FROM padctl.migrations WHERE status = 'applied'"; }

pc deploy local
assert_rc 0

group "both contracts are loaded and hold"
pc validate local
assert_rc 0
assert_err_contains "2 contracts checked: 0 findings"
ok "checked"

group "the phantom column oracle_employee.email, added by hand"
q "ALTER TABLE bo_airflow.oracle_employee ADD COLUMN email text" >/dev/null
pc validate local
assert_rc 1
assert_any_contains "contracts/bo_airflow.yml:55:5: column bo_airflow.oracle_employee.email exists, the contract says it must not"
q "ALTER TABLE bo_airflow.oracle_employee DROP COLUMN email" >/dev/null
ok "named at its line"

n=$(applied)
mig=$PROJECT/db/migrations/9000_full_name
group "a migration that alters bo_airflow: refused at plan and at deploy"
mkdir -p "$mig"
printf '%s\n' "ALTER TABLE bo_airflow.oracle_employee ADD COLUMN full_name text;" >"$mig/up.sql"
pc plan local
assert_rc 2
assert_err_contains "9000_full_name/up.sql:1:1: error protected-schema: alters bo_airflow.oracle_employee"
pc deploy local
assert_rc 2
assert_err_contains "9000_full_name/up.sql:1:1: error protected-schema"
assert_eq "$n" "$(applied)" "nothing applied"
ok "refused"

group "the same through EXECUTE: the runtime guard rolls it back"
printf '%s\n' "DO \$\$ BEGIN EXECUTE 'ALTER TABLE bo_airflow.oracle_employee ADD COLUMN ' || 'full_name text'; END \$\$;" >"$mig/up.sql"
pc deploy local
assert_rc 1
assert_err_contains "9000_full_name/up.sql changed protected schema \"bo_airflow\""
assert_err_contains "column full_name of table bo_airflow.oracle_employee"
assert_eq "$n" "$(applied)" "nothing applied"
assert_eq "0" "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'bo_airflow.oracle_employee'::regclass AND attname = 'full_name'")" "no column left"
ok "rolled back"

finish

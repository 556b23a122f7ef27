#!/usr/bin/env bash
# The reference project deploys to its local env as scripts/setup.sh does
# (`padctl deploy local`, a managed cluster with the bo_airflow fixture), and
# its seed sets come with it: the compliance defaults (common) and the UAT
# people and restricted TSLA (uat), consistent with the fixture. A second
# deploy applies nothing; `padctl seed local --teardown uat` removes the UAT
# rows again. The prod env may list only what padctl.yml allows for prod.
. "$(dirname "$0")/lib.sh"

reference_project seedref
q() { ref_q "$1"; }

group "the first deploy of local applies common and uat"
pc deploy local
assert_rc 0
assert_err_contains "seed set common: 1 file applied"
assert_err_contains "seed set uat: 2 files applied"
# the reference padctl.yml has drift on: postflight compares with a replay
assert_err_contains "validate: drift: no drift (against a replay of 15 migrations)"
assert_eq 7 "$(q "SELECT count(*) FROM padealing.compliance_config")" "compliance defaults"
assert_eq "amartin:employee,bcarter:employee,bcarter:manager,cnguyen:compliance,cnguyen:employee" \
	"$(q "SELECT string_agg(e.user_name || ':' || r.role, ',' ORDER BY e.user_name, r.role)
	FROM padealing.employee_role r JOIN bo_airflow.oracle_employee e ON e.id = r.employee_id
	WHERE e.user_name <> 'dokafor'")" "the employee, her manager, the compliance officer"
assert_eq "1002" "$(q "SELECT manager_id FROM bo_airflow.oracle_employee WHERE user_name = 'amartin'")" \
	"the manager is hers in the fixture"
assert_eq "7004|TSLA|t|1003" "$(q "SELECT security_id, ticker, is_active, added_by_id FROM padealing.restricted_security")" \
	"TSLA restricted by the compliance officer"
assert_eq 3 "$(q "SELECT count(*) FROM padctl.seeds")" "three files recorded"
ok "seeded"

group "a second deploy applies nothing"
pc deploy local
assert_rc 0
assert_err_contains "seed set common: 1 file, all applied already"
assert_err_contains "seed set uat: 2 files, all applied already"
assert_eq 3 "$(q "SELECT count(*) FROM padctl.seeds")" "no new record"
ok "idempotent by the ledger"

group "the seeds are idempotent by themselves"
pc seed local --teardown common --dry-run
assert_rc 0
q "UPDATE padctl.seeds SET forgotten_by = run_id" >/dev/null
pc seed local
assert_rc 0
assert_err_contains "seed set uat: 2 files applied"
assert_eq 7 "$(q "SELECT count(*) FROM padealing.compliance_config")" "no duplicate config"
assert_eq 9 "$(q "SELECT count(*) FROM padealing.employee_role")" "no duplicate role"
assert_eq 1 "$(q "SELECT count(*) FROM padealing.restricted_security")" "no duplicate restriction"
ok "applied again, nothing doubled"

group "after UAT: padctl seed local --teardown uat"
pc seed local --teardown uat
assert_rc 0
assert_eq 0 "$(q "SELECT count(*) FROM padealing.employee_role")" "roles removed"
assert_eq 0 "$(q "SELECT count(*) FROM padealing.restricted_security")" "TSLA no longer restricted"
assert_eq 7 "$(q "SELECT count(*) FROM padealing.compliance_config")" "common untouched"
pc deploy local
assert_rc 0
assert_err_contains "seed set uat: 2 files applied"
ok "torn down, and the next deploy seeds it again"

group "prod lists only sets allowed for prod"
# the env loads (common is allowed); the unknown set is refused before any connection
pc seed prod --set uat
assert_rc 2
assert_err_contains "seed set \"uat\" is not one of the seed sets of env \"prod\""
sed -i 's/^seeds: \[common\]$/seeds: [common, uat]/' "$PROJECT/envs/prod.yml"
pc status prod
assert_rc 2
assert_err_contains "envs/prod.yml:"
assert_err_contains "seed set \"uat\" is not allowed in prod-tier env \"prod\""
ok "uat can never be listed for prod"

finish

#!/usr/bin/env bash
# A dry run predicts the deploy: a ledger this padctl cannot read (a
# ledger_version that is not a number, or one newer than it knows) makes the
# dry run fail as the deploy does, with "upgrade padctl", instead of showing
# what a deploy would apply.
. "$(dirname "$0")/lib.sh"

new_project dryver
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0
add_migration 0002 add_t "CREATE TABLE app.t (i int);"

for v in 999 2abc; do
	group "ledger_version \"$v\": the dry run fails as the deploy does"
	psql_q "UPDATE padctl.meta SET value = '$v' WHERE key = 'ledger_version'" >/dev/null
	pc deploy test
	assert_rc 2
	deploy_err=$(grep -m1 '^error:' <<<"$ERR")
	pc deploy test --dry-run
	assert_rc 2
	assert_eq "$deploy_err" "$(grep -m1 '^error:' <<<"$ERR")" "the dry run's error"
	assert_err_not_contains "dry run done"
	assert_no_table app.t
	assert_eq "$v" "$(psql_q "SELECT value FROM padctl.meta WHERE key = 'ledger_version'")" "ledger_version untouched"
	ok "exit 2 for both, same message, nothing written"
done

group "a target without a ledger still has a dry run"
psql_q "DROP SCHEMA padctl CASCADE; DROP SCHEMA app CASCADE" >/dev/null
pc deploy test --dry-run
assert_rc 0
assert_err_contains "dry run done"
assert_eq f "$(psql_q "SELECT to_regnamespace('padctl') IS NOT NULL")" "no ledger created"
ok "dry run of a fresh target"

finish

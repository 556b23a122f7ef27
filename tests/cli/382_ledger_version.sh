#!/usr/bin/env bash
# The ledger's schema is versioned as numbered steps: a ledger of the first
# version ("1") is upgraded in place, and a ledger newer than this padctl is
# refused by every writing command (exit 2, "upgrade padctl") and not touched.
. "$(dirname "$0")/lib.sh"

new_project ledgerv
add_migration 0001 create_app "CREATE SCHEMA app;"
add_migration 0002 add_t "CREATE TABLE app.t (i int);"

group "a version-1 ledger is upgraded"
pc deploy test
assert_rc 0
newest=$(psql_q "SELECT value FROM padctl.meta WHERE key = 'ledger_version'")
[ "$newest" -ge 2 ] || fail_now "ledger_version is $newest"
psql_q "DROP TABLE padctl.repairs; UPDATE padctl.meta SET value = '1' WHERE key = 'ledger_version'" >/dev/null
pc status test
assert_rc 0
assert_eq 1 "$(psql_q "SELECT value FROM padctl.meta WHERE key = 'ledger_version'")" "status does not write"
pc baseline test 0001
assert_rc 2
assert_eq "$newest" "$(psql_q "SELECT value FROM padctl.meta WHERE key = 'ledger_version'")" "upgraded"
assert_table_exists padctl.repairs
ok "a ledger at version 1 is upgraded to $newest by the next writing command"

snapshot() {
	psql_q "SELECT (SELECT string_agg(id || status, ',' ORDER BY id) FROM padctl.runs),
		(SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations),
		(SELECT count(*) FROM padctl.plans), to_regclass('app.t') IS NOT NULL,
		(SELECT value FROM padctl.meta WHERE key = 'ledger_version')"
}

group "a ledger newer than padctl is refused by every writing command"
psql_q "DELETE FROM padctl.migrations WHERE version = '0002';
	UPDATE padctl.meta SET value = '99' WHERE key = 'ledger_version'" >/dev/null
before=$(snapshot)
for cmd in "deploy test" "baseline test 0002" "plan test" "repair test 0001 --reason x"; do
	# shellcheck disable=SC2086
	pc $cmd
	assert_rc 2
	assert_err_contains "is version 99, newer than this padctl"
	assert_err_contains "upgrade padctl"
	assert_err_contains "this padctl writes ledger version $newest"
	assert_eq "$before" "$(snapshot)" "the ledger after $cmd"
done
ok "deploy, baseline, plan and repair: exit 2 naming versions 99 and $newest, nothing written"

group "a ledger version that is not a number is refused too"
psql_q "UPDATE padctl.meta SET value = 'two' WHERE key = 'ledger_version'" >/dev/null
pc deploy test
assert_rc 2
assert_err_contains "has version \"two\", which this padctl does not understand"
ok "ledger_version 'two': refused"

finish

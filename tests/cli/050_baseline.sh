#!/usr/bin/env bash
# baseline adopts a database that already has the schema: history up to
# VERSION is marked baselined and deploy applies only what comes after.
. "$(dirname "$0")/lib.sh"

new_project baseline
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
add_migration 0002 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY);"
add_migration 0003 add_note "ALTER TABLE app.account ADD COLUMN note text;"

# the database was built by hand (or by an earlier tool): 0001 and 0002 are in it
psql_q "CREATE SCHEMA app; CREATE TABLE app.account (id bigint PRIMARY KEY); CREATE TABLE app.trade (id bigint PRIMARY KEY); INSERT INTO app.account VALUES (1);" >/dev/null

group "deploy without a baseline would re-run history"
pc deploy test --dry-run
assert_rc 0
assert_err_contains "3 migrations to consider"
ok "dry run shows all three as pending before the baseline"

group "baseline to an unknown version"
pc baseline test 0042
assert_rc 2
assert_err_contains 'no migration has version "0042"'
assert_eq f "$(psql_q "SELECT to_regclass('padctl.migrations') IS NOT NULL")" "no ledger created"
ok "baseline test 0042 exits 2 and changes nothing"

group "baseline test 0002"
pc baseline test 0002
assert_rc 0
assert_out_contains "baselined 2 migrations up to 0002"
assert_eq "0001|baselined
0002|baselined" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history rows"
want=$(sha256sum "$PROJECT/migrations/0001_create_app/up.sql" | cut -d' ' -f1)
assert_eq "$want" "$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0001'")" "baselined checksum"
assert_eq "baseline|ok" "$(psql_q "SELECT command, status FROM padctl.runs")" "baseline run recorded"
ok "0001-0002 marked baselined with their checksums"

group "status after the baseline"
pc status test
assert_rc 0
assert_out_contains "applied 0, baselined 2, skipped 0, pending 1"
assert_out_matches "pending +0003_add_note"
ok "status: baselined 2, pending 1"

group "deploy applies only 0003"
pc deploy test
assert_rc 0
assert_err_contains "1 migration to apply"
assert_err_contains "applied 0003_add_note"
assert_eq "0001|baselined
0002|baselined
0003|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history rows"
assert_eq "1|" "$(psql_q "SELECT id, coalesce(note, '') FROM app.account")" "existing data kept, column added"
ok "deploy applies only 0003 and keeps the existing data"

group "baseline again is refused"
before=$(psql_q "SELECT version, status, applied_at FROM padctl.migrations ORDER BY version")
pc baseline test 0003
assert_rc 2
assert_err_contains "already has a migration history"
assert_eq "$before" "$(psql_q "SELECT version, status, applied_at FROM padctl.migrations ORDER BY version")" \
	"history unchanged"
ok "second baseline exits 2, history unchanged"

finish

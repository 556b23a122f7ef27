#!/usr/bin/env bash
# Postflight: a verify.sql returning no rows fails, and verify.sql runs in a
# read-only transaction that is rolled back: it cannot write (issue 6 item 14).
. "$(dirname "$0")/lib.sh"

new_project verifyro

group "a verify.sql returning zero rows fails postflight"
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int);" "" "SELECT true WHERE false;"
pc deploy test
assert_rc 1
assert_any_contains "verify.sql returned no rows"
assert_any_contains "postflight found 1 problem"
ok "zero rows is a failure, not a pass"

group "verify.sql cannot write"
new_project verifyro2
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int);" "" \
	"WITH w AS (INSERT INTO app.t VALUES (42) RETURNING true) SELECT * FROM w;"
pc deploy test
assert_rc 1
assert_any_contains "read-only transaction"
assert_any_contains "verify.sql of migration 0001_create_app failed"
assert_eq 0 "$(psql_q "SELECT count(*) FROM app.t")" "rows written by verify.sql"
ok "a writing verify.sql fails and leaves nothing"

group "verify.sql cannot switch the transaction back to read-write"
new_project verifyro3
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int);" "" \
	"SELECT set_config('transaction_read_only', 'off', true) IS NOT NULL;"
pc deploy test
assert_rc 1
assert_any_contains "verify.sql of migration 0001_create_app failed"
assert_eq "idle" "$(psql_q "SELECT coalesce(max(state), 'idle') FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")" "no session left in a transaction"
ok "read-write mode cannot be turned back on"

group "a good verify.sql passes"
new_project verifyro4
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int);" "" \
	"SELECT count(*) = 0 FROM app.t;"
pc deploy test
assert_rc 0
assert_any_contains "postflight passed: 1 migration verified"
ok "a true row passes"

finish

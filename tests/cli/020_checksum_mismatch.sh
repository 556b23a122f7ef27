#!/usr/bin/env bash
# An applied migration whose up.sql changed is a checksum mismatch: status
# shows it and deploy refuses. A change of line endings alone does not count.
. "$(dirname "$0")/lib.sh"

new_project checksum
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
add_migration 0002 add_note "ALTER TABLE app.account ADD COLUMN note text;"

group "initial deploy"
pc deploy test
assert_rc 0
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE status = 'applied'")" "two applied rows"
ok "deploy applies 0001 and 0002"

up1=$PROJECT/migrations/0001_create_app/up.sql
orig=$(cat "$up1")

group "CRLF line endings alone are not a change"
sed -i 's/$/\r/' "$up1"
grep -q $'\r' "$up1" || fail_now "test setup: sed did not add CR characters to $up1"
pc status test
assert_rc 0
assert_out_contains "checksum mismatch 0"
assert_out_not_contains "checksum mismatch 0001"
pc deploy test
assert_rc 0
assert_err_contains "nothing to migrate"
ok "up.sql rewritten with CRLF: status clean, deploy has nothing to do"

group "a real edit is a checksum mismatch in status"
printf '%s\n' "$orig" >"$up1"
printf '%s\n' "CREATE TABLE app.sneaky (id int);" >>"$up1"
# a new pending migration must not be applied while the mismatch stands
add_migration 0003 add_more "CREATE TABLE app.more (id int);"
pc status test
assert_rc 1
assert_out_contains "checksum mismatch 1"
assert_out_matches "checksum mismatch +0001_create_app"
assert_err_contains "need"
ok "status exits 1 and lists 0001_create_app as checksum mismatch"

group "--json status reports the mismatch"
pc --json status test
assert_rc 1
assert_eq "checksum mismatch" "$(json_get '[m for m in d["targets"][0]["migrations"] if m["version"] == "0001"][0]["state"]')" \
	"state of 0001 in --json status"
assert_eq 1 "$(json_get 'd["targets"][0]["counts"]["checksum mismatch"]')" "mismatch count in JSON"
ok "--json status: 0001 state is checksum mismatch"

group "deploy refuses while a checksum mismatch stands"
before=$(psql_q "SELECT version, checksum, applied_at FROM padctl.migrations ORDER BY version")
pc deploy test
assert_rc 1
assert_err_contains "changed since it was applied"
assert_err_contains "$up1"
assert_err_contains "restore its up.sql"
assert_no_table app.sneaky
assert_no_table app.more
assert_eq "$before" "$(psql_q "SELECT version, checksum, applied_at FROM padctl.migrations ORDER BY version")" \
	"history unchanged by the refused deploy"
ok "deploy exits 1 naming $up1; nothing new applied"

group "restoring the file clears the mismatch"
printf '%s\n' "$orig" >"$up1"
pc deploy test
assert_rc 0
assert_table_exists app.more
assert_no_table app.sneaky
ok "after restoring up.sql, deploy applies the pending 0003"

finish

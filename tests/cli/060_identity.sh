#!/usr/bin/env bash
# The first deploy pins a target's identity (system identifier and database)
# in known_targets; a later run against another database or server is refused
# before anything changes, and the message says how to re-pin.
. "$(dirname "$0")/lib.sh"

new_project identity
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
KT=$PROJECT/known_targets
sysid=$(psql_q "SELECT system_identifier FROM pg_control_system()")

group "a dry run does not pin"
pc deploy test --dry-run
assert_rc 0
[ ! -e "$KT" ] || fail_now "a dry run created known_targets: $(cat "$KT")"
ok "deploy --dry-run leaves no known_targets"

group "first deploy pins the target"
pc deploy test
assert_rc 0
assert_err_contains "pinned test/t1 to system identifier $sysid"
assert_eq "test/t1 $sysid $DB" "$(grep -v '^#' "$KT")" "the known_targets line"
assert_eq 3 "$(grep -n "^test/t1 " "$KT" | cut -d: -f1)" "the pin is line 3 (after the header)"
ok "known_targets pins test/t1 to $sysid $DB"

group "a matching run passes"
pc deploy test
assert_rc 0
assert_eq 1 "$(grep -c '^test/t1 ' "$KT")" "still one pin line"
ok "a second deploy to the same database passes the check and adds no line"

group "same server, another database: refused"
DB2=$(unique_name identity_other)
create_db "$TPG_PORT" "$DB2"
write_env "$DB2"
pc deploy test
assert_rc 1
assert_err_contains "is not the server it was first deployed to"
assert_err_contains "pins system identifier $sysid, database $DB"
assert_err_contains "database $DB2"
assert_err_contains "delete line 3 of $KT"
assert_eq f "$(sql_on "$TPG_PORT" "$DB2" "SELECT to_regnamespace('padctl') IS NOT NULL OR to_regnamespace('app') IS NOT NULL")" \
	"nothing created in $DB2"
pc status test
assert_rc 1
assert_out_contains "IDENTITY MISMATCH"
ok "deploy to $DB2 refused (exit 1) before any change, with the re-pin hint; status flags it"

group "deleting the pin line re-pins"
sed -i '3d' "$KT"
pc deploy test
assert_rc 0
assert_eq "test/t1 $sysid $DB2" "$(grep -v '^#' "$KT")" "the new pin"
assert_eq t "$(sql_on "$TPG_PORT" "$DB2" "SELECT to_regclass('app.account') IS NOT NULL")" "migrated $DB2"
ok "after deleting line 3 deploy proceeds and pins $DB2"

group "another server with a database of the same name: refused"
start_cluster
create_db "$CL_PORT" "$DB2"
sysid2=$(sql_on "$CL_PORT" "$DB2" "SELECT system_identifier FROM pg_control_system()")
[ "$sysid2" != "$sysid" ] || fail_now "test setup: the second cluster has the same system identifier"
write_env "$DB2" "$CL_PORT"
pc deploy test
assert_rc 1
assert_err_contains "is not the server it was first deployed to"
assert_err_contains "the server answering is $sysid2, database $DB2"
assert_eq f "$(sql_on "$CL_PORT" "$DB2" "SELECT to_regnamespace('padctl') IS NOT NULL OR to_regnamespace('app') IS NOT NULL")" \
	"nothing created on the second server"
assert_eq "test/t1 $sysid $DB2" "$(grep -v '^#' "$KT")" "pin unchanged"
ok "deploy to a different cluster (sysid $sysid2) refused, nothing changed there"

finish

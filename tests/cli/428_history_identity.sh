#!/usr/bin/env bash
# history reads a target only once it is the server known_targets pins, as
# status and every other run do: an env file pointed at another database
# does not show that database's runs (or "no runs recorded") as the target's.
. "$(dirname "$0")/lib.sh"

new_project histid
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0
pc history test
assert_rc 0
assert_out_contains "deploy"

group "history of a target whose env file now names another database"
DB2=$(unique_name histid_other)
create_db "$TPG_PORT" "$DB2"
write_env "$DB2"
pc history test
assert_rc 1
assert_err_contains "target \"t1\" of env \"test\" is not the server it was first deployed to"
assert_out_not_contains "no runs recorded"
pc --json history test
assert_rc 1
assert_out_not_contains "\"runs\""
ok "refused, as status and deploy refuse it"

finish

#!/usr/bin/env bash
# known_targets is committed: a checkout that turned its line ends into CRLF
# (git's autocrlf, an editor) still pins the same servers. A carriage return
# is never part of a field (padctl writes it as %0D).
. "$(dirname "$0")/lib.sh"

new_project ktcrlf
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0
pinned=$(grep -c '^test/t1 ' "$PROJECT/known_targets")
assert_eq 1 "$pinned" "one pin line"

group "a CRLF known_targets"
sed -i 's/$/\r/' "$PROJECT/known_targets"
add_migration 0002 add_t "CREATE TABLE app.t (i int);"
pc deploy test
assert_rc 0
assert_table_exists app.t
pc status test
assert_rc 0
ok "deploy and status accept the pin"

group "a CRLF pin of another server is still refused"
sysid=$(psql_q "SELECT system_identifier FROM pg_control_system()")
sed -i "s/ $sysid / 1234 /" "$PROJECT/known_targets"
pc deploy test
assert_rc 1
assert_err_contains "is not the server it was first deployed to"
assert_err_not_contains '\x0d'
ok "refused, and no carriage return in the message"

finish

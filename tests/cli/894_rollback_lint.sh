#!/usr/bin/env bash
# A down.sql is part of its migration: before a rollback runs any of them,
# each down.sql it would run is read by lint for the protected schemas; one
# that writes or changes a protected schema stops the rollback at its
# FILE:LINE:COL before anything is rolled back.
. "$(dirname "$0")/lib.sh"

new_project rblint
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.x (i int); INSERT INTO ref.x VALUES (1)" >/dev/null
hist() { psql_q "SELECT version || ' ' || status FROM padctl.migrations ORDER BY version" | tr '\n' ' '; }
add_migration 0001 a "CREATE SCHEMA app; CREATE TABLE app.a (id int);" "DROP TABLE app.a;
DELETE FROM ref.x;"
add_migration 0002 b "CREATE TABLE app.b (id int);" "DROP TABLE app.b;"
pc deploy test
assert_rc 0

group "a down.sql that writes a protected schema"
pc rollback test
assert_rc 1
assert_err_contains "0001_a/down.sql:2:1: error protected-schema: writes to ref.x in the protected schema \"ref\""
assert_eq "0001 applied 0002 applied " "$(hist)" "nothing rolled back, not even 0002"
assert_eq "t" "$(psql_q "SELECT to_regclass('app.b') IS NOT NULL")" "app.b is still there"
assert_eq "1" "$(psql_q "SELECT count(*) FROM ref.x")" "the protected table untouched"
ok "refused before anything ran"

group "once it leaves the protected schema alone"
printf '%s\n' "DROP TABLE app.a;" >"$PROJECT/migrations/0001_a/down.sql"
pc rollback test
assert_rc 0
assert_eq "0001 rolled_back 0002 rolled_back " "$(hist)" "both rolled back"
ok "rolled back"

finish

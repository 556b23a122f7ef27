#!/usr/bin/env bash
# `padctl validate` lints the pending migrations before any step, as deploy
# does (issue 11: preflight is connectivity, privileges, contracts, lint of
# pending migrations, drift): an error refuses, naming FILE:LINE:COL; a
# warning does not.
. "$(dirname "$0")/lib.sh"

new_project validatelint
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.x (i int)" >/dev/null
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.t (i int);"
pc deploy test
assert_rc 0

group "a pending migration that writes a protected schema"
add_migration 0002 bad "UPDATE ref.x SET i = 1 WHERE i = 0;"
pc validate test
assert_rc 2
assert_err_contains "0002_bad/up.sql:1:1: error protected-schema"
assert_err_contains "the validate was refused before anything ran"
ok "refused"

group "a pending migration with a warning only"
rm -rf "$PROJECT/migrations/0002_bad"
add_migration 0002 idx "CREATE INDEX t_i ON app.t (i);"
pc validate test
assert_rc 0
assert_err_contains "require-concurrent-index-creation"
ok "passed with the warning shown"

finish

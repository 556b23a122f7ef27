#!/usr/bin/env bash
# lint goes on past a statement its parser (PostgreSQL 15's grammar) cannot
# read (docs/lint.md, syntax): a PostgreSQL 17 ALTER COLUMN ... SET EXPRESSION
# is a warning saying it was not checked, and the statements after it are
# still checked, so a DROP TABLE after it is refused in prod and a write to a
# protected schema everywhere.
. "$(dirname "$0")/lib.sh"

new_project lintnewer
add_migration 0001 base "CREATE SCHEMA app; CREATE TABLE app.t (c int, d int); CREATE TABLE app.old (i int);"
pc deploy test
assert_rc 0
sed 's/^tier: nonprod/tier: prod/' "$PROJECT/envs/test.yml" >"$PROJECT/envs/prod.yml"

group "plan: the unreadable statement is a warning, the DROP TABLE after it is checked"
add_migration 0002 newer "ALTER TABLE app.t ALTER COLUMN d SET EXPRESSION AS (c * 2);
DROP TABLE app.old;"
pc plan test
assert_rc 0
assert_out_contains "0002_newer/up.sql:1:1: warning syntax: this statement was not checked, for protected schemas neither: lint's parser (PostgreSQL 15's grammar) cannot read it"
assert_out_contains "(line 1, column 38)"
assert_out_contains "0002_newer/up.sql:2:1: warning ban-drop-table"
ok "a syntax warning at the statement, and the DROP TABLE after it found"

group "prod refuses the DROP TABLE after it"
pc deploy prod --dry-run
assert_rc 2
assert_err_contains "0002_newer/up.sql:2:1: error ban-drop-table"
ok "deploy --dry-run in prod exits 2 naming the DROP TABLE"

group "a write to a protected schema after it is refused in any env"
add_migration 0002 newer "ALTER TABLE app.t ALTER COLUMN d SET EXPRESSION AS (c * 2);
SET search_path = app, ref;
ALTER TABLE app.t ALTER COLUMN d SET EXPRESSION AS (c * 3);
DELETE FROM ref.codes WHERE true;"
pc plan test
assert_rc 2
assert_err_contains "0002_newer/up.sql:4:1: error protected-schema"
ok "plan exits 2 for the DELETE FROM ref.codes after two unreadable statements"

finish

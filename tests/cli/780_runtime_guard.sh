#!/usr/bin/env bash
# The protected-schema guard at run time: dynamic SQL that lint cannot read
# (EXECUTE in a DO block) changes the protected schema "ref" or writes to
# its tables; the check sent with COMMIT refuses it, the migration is rolled
# back and not recorded, and the error names the schema and the objects.
# Outside a transaction the check runs after each statement.
. "$(dirname "$0")/lib.sh"

new_project guard
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.employee (id bigint PRIMARY KEY, name text NOT NULL);
	CREATE INDEX employee_name_idx ON ref.employee (name); INSERT INTO ref.employee VALUES (1, 'a');" >/dev/null
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.t (id int, employee_id bigint);"

history() { psql_q "SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations"; }

group "a normal migration passes, reading the protected schema and referring to it by a foreign key"
add_migration 0002 reads "INSERT INTO app.t SELECT 1, id FROM ref.employee;
CREATE VIEW app.v AS SELECT e.id, e.name FROM ref.employee e;
ALTER TABLE app.t ADD CONSTRAINT t_employee_fk FOREIGN KEY (employee_id) REFERENCES ref.employee (id);"
pc deploy test
assert_rc 0
assert_eq "0001,0002" "$(history)" "history"
ok "deployed"

group "ALTER TABLE through EXECUTE in a DO block: rolled back, not recorded, named"
add_migration 0003 sneaky "CREATE TABLE app.u (id int);
DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.' || 'employee ADD COLUMN full_name text'; END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "0003_sneaky/up.sql changed protected schema \"ref\""
assert_err_contains "column full_name of table ref.employee"
assert_err_contains "rolled back"
assert_eq "0001,0002" "$(history)" "history: 0003 not applied"
assert_eq "f|f" "$(psql_q "SELECT to_regclass('app.u') IS NOT NULL, EXISTS (SELECT FROM pg_attribute
	WHERE attrelid = 'ref.employee'::regclass AND attname = 'full_name')")" "nothing of 0003 is left"
ok "refused"

group "a dropped index and a GRANT are named too"
rm -rf "$PROJECT/migrations/0003_sneaky"
add_migration 0003 sneaky "DO \$\$ BEGIN EXECUTE 'DROP INDEX ref.employee_name_idx';
EXECUTE 'GRANT SELECT ON ref.employee TO PUBLIC'; END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "dropped index ref.employee_name_idx"
assert_err_contains "changed table ref.employee"
assert_eq "t" "$(psql_q "SELECT to_regclass('ref.employee_name_idx') IS NOT NULL")" "the index is back"
ok "refused"

group "a table dropped through dynamic SQL is named once, not column by column"
rm -rf "$PROJECT/migrations/0003_sneaky"
psql_q "CREATE TABLE ref.legacy (id int, note text)" >/dev/null
add_migration 0003 sneaky "DO \$\$ BEGIN EXECUTE 'DROP TABLE ref.legacy'; END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "DETAIL: dropped table ref.legacy"
assert_err_not_contains "column note of table ref.legacy"
assert_eq "t" "$(psql_q "SELECT to_regclass('ref.legacy') IS NOT NULL")" "the table is back"
ok "refused"

group "a write to a protected table through dynamic SQL"
rm -rf "$PROJECT/migrations/0003_sneaky"
add_migration 0003 sneaky "DO \$\$ BEGIN EXECUTE format('UPDATE %I.%I SET name = %L', 'ref', 'employee', 'x'); END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "0003_sneaky/up.sql wrote rows to protected schema \"ref\""
assert_err_contains "tables written: ref.employee"
assert_eq "a" "$(psql_q "SELECT name FROM ref.employee")" "the row is unchanged"
assert_eq "0001,0002" "$(history)" "history"
ok "refused"

group "a function created in the protected schema"
rm -rf "$PROJECT/migrations/0003_sneaky"
add_migration 0003 sneaky "DO \$\$ BEGIN EXECUTE 'CREATE FUNCTION ref.f() RETURNS int LANGUAGE sql AS ''SELECT 1'''; END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "created function ref.f()"
assert_eq "" "$(psql_q "SELECT proname FROM pg_proc WHERE proname = 'f' AND pronamespace = 'ref'::regnamespace")" "gone"
ok "refused"

group "outside a transaction: checked after each statement"
rm -rf "$PROJECT/migrations/0003_sneaky"
add_migration 0003 alone "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_idx ON app.t (id);
DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.employee ALTER COLUMN name DROP NOT NULL'; END \$\$;
CREATE TABLE app.after_it (id int);"
printf 'transactional: false\n' >"$PROJECT/migrations/0003_alone/meta.yml"
pc deploy test
assert_rc 1
assert_err_contains "0003_alone/up.sql:2: the statement changed protected schema \"ref\""
assert_err_contains "changed protected schema \"ref\""
assert_eq "0001,0002" "$(history)" "history: 0003 not applied"
assert_eq "f" "$(psql_q "SELECT to_regclass('app.after_it') IS NOT NULL")" "the statement after it did not run"
ok "refused after the statement"

group "migrations.guard: false turns it off"
psql_q "ALTER TABLE ref.employee ALTER COLUMN name SET NOT NULL" >/dev/null
printf 'migrations:\n  guard: false\n' >>"$PROJECT/padctl.yml"
pc deploy test
assert_rc 0
assert_eq "0001,0002,0003" "$(history)" "history"
ok "applied"

finish

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
# audit_trigger [CONSTRAINT [DEFERRAL]]: app.audit, whose row trigger writes a row to the protected
# ref.employee (a constraint trigger, deferred, when asked); dropped with app.audit and app.audit_ref()
audit_trigger() {
	psql_q "CREATE TABLE app.audit (id int);
	CREATE FUNCTION app.audit_ref() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN INSERT INTO ref.employee VALUES (NEW.id + 100, 'audit'); RETURN NEW; END \$\$;
	CREATE ${1:-} TRIGGER audit_ref AFTER INSERT ON app.audit ${2:-}
	FOR EACH ROW EXECUTE FUNCTION app.audit_ref()" >/dev/null
}

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

group "a deferred trigger's write to a protected table"
rm -rf "$PROJECT/migrations/0003_sneaky"
audit_trigger CONSTRAINT "DEFERRABLE INITIALLY DEFERRED"
add_migration 0003 sneaky "INSERT INTO app.audit VALUES (1);"
pc deploy test
assert_rc 1
assert_err_contains "0003_sneaky/up.sql wrote rows to protected schema \"ref\""
assert_eq "1|0" "$(psql_q "SELECT (SELECT count(*) FROM ref.employee), (SELECT count(*) FROM app.audit)")" \
	"neither row is there"
assert_eq "0001,0002" "$(history)" "history"
psql_q "DROP TABLE app.audit; DROP FUNCTION app.audit_ref()" >/dev/null
ok "refused: the trigger runs before the check, not at COMMIT"

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
# a DO block runs in a transaction of padctl's own, so the change is undone too
assert_err_contains "0003_alone/up.sql:2: the statement changed protected schema \"ref\": it was rolled back"
assert_eq "t" "$(psql_q "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'ref.employee'::regclass
	AND attname = 'name'")" "the change is rolled back"
ok "refused after the statement, and the statement rolled back"

group "outside a transaction: a write to a protected table through dynamic SQL or a trigger"
rm -rf "$PROJECT/migrations/0003_alone"
add_migration 0003 alone "CREATE TABLE app.before_it (id int);
DO \$\$ BEGIN EXECUTE format('UPDATE %I.%I SET name = %L', 'ref', 'employee', 'x'); END \$\$;
CREATE TABLE app.after_it (id int);"
printf 'transactional: false\n' >"$PROJECT/migrations/0003_alone/meta.yml"
pc deploy test
assert_rc 1
assert_err_contains "0003_alone/up.sql:2: the statement wrote rows to protected schema \"ref\": it was rolled back"
assert_err_contains "tables written: ref.employee"
assert_eq "a" "$(psql_q "SELECT name FROM ref.employee")" "the row is unchanged"
assert_eq "t|f" "$(psql_q "SELECT to_regclass('app.before_it') IS NOT NULL, to_regclass('app.after_it') IS NOT NULL")" \
	"the statement before stayed applied, the one after did not run"
assert_eq "0001,0002" "$(history)" "history: 0003 not applied"
# an owned table's trigger that writes to the protected schema, fired by a plain INSERT; and a
# deferred constraint trigger, which fires at COMMIT: the check runs after it
psql_q "DROP TABLE app.before_it" >/dev/null
add_migration 0003 alone "INSERT INTO app.audit VALUES (1);
CREATE TABLE app.after_it (id int);"
for deferred in no yes; do
	if [ $deferred = yes ]; then audit_trigger CONSTRAINT "DEFERRABLE INITIALLY DEFERRED"; else audit_trigger; fi
	pc deploy test
	assert_rc 1
	assert_err_contains "0003_alone/up.sql:1: the statement wrote rows to protected schema \"ref\": it was rolled back"
	assert_eq "1|0" "$(psql_q "SELECT (SELECT count(*) FROM ref.employee), (SELECT count(*) FROM app.audit)")" \
		"neither row is there (deferred trigger: $deferred)"
	psql_q "DROP TABLE app.audit; DROP FUNCTION app.audit_ref()" >/dev/null
done
# a deferred foreign key's error names the statement's line, as it did when the statement committed alone
psql_q "CREATE TABLE app.parent (id int PRIMARY KEY); CREATE TABLE app.child (pid int REFERENCES app.parent
	DEFERRABLE INITIALLY DEFERRED)" >/dev/null
add_migration 0003 alone "CREATE TABLE app.after_it (id int);
INSERT INTO app.child VALUES (7);"
pc deploy test
assert_rc 1
assert_err_contains "0003_alone/up.sql:2: insert or update on table \"child\" violates foreign key constraint"
assert_eq "0" "$(psql_q "SELECT count(*) FROM app.child")" "the row is not there"
psql_q "DROP TABLE app.child, app.parent, app.after_it" >/dev/null
# a function that refuses a transaction block (as some extensions' do) runs on its own, with a warning
psql_q "CREATE TABLE app.log (id int); CREATE FUNCTION app.no_block() RETURNS int LANGUAGE plpgsql AS
	\$\$ BEGIN IF statement_timestamp() <> transaction_timestamp() THEN
	RAISE EXCEPTION 'no_block() cannot run inside a transaction block' USING ERRCODE = '25001'; END IF;
	INSERT INTO app.log VALUES (1); RETURN 1; END \$\$" >/dev/null
add_migration 0003 alone "SELECT app.no_block();"
pc deploy test
assert_rc 0
assert_err_contains "0003_alone/up.sql:1: the statement refuses a transaction block, so it runs on its own"
assert_err_not_contains "cannot run inside a transaction block"
assert_eq "1" "$(psql_q "SELECT count(*) FROM app.log")" "it ran once"
assert_eq "0001,0002,0003" "$(history)" "history: 0003 applied"
psql_q "DELETE FROM padctl.migrations WHERE version = '0003'; DROP TABLE app.log; DROP FUNCTION app.no_block()" >/dev/null
# with track_counts off the check cannot see rows: the statement is refused, not waved through
add_migration 0003 alone "SET track_counts = off;
DO \$\$ BEGIN EXECUTE 'UPDATE ref.employee SET name = ''z'''; END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "0003_alone/up.sql:2: the statement: writes to protected schema \"ref\" could not be checked"
assert_eq "a" "$(psql_q "SELECT name FROM ref.employee")" "the row is unchanged"
# inside the migration's own BEGIN ... COMMIT the check sees that transaction's writes
add_migration 0003 alone "BEGIN;
CREATE TABLE app.in_tx (id int);
DO \$\$ BEGIN EXECUTE 'UPDATE ref.employee SET name = ''y'''; END \$\$;
COMMIT;"
pc deploy test
assert_rc 1
assert_err_contains "0003_alone/up.sql:3: the statement wrote rows to protected schema \"ref\""
assert_err_not_contains "it was rolled back"
assert_eq "a|f" "$(psql_q "SELECT (SELECT name FROM ref.employee), to_regclass('app.in_tx') IS NOT NULL")" \
	"the migration's transaction did not commit"
ok "refused and rolled back, the statements before it kept"

group "outside a transaction: a DO block that commits runs as it is written"
# a batched backfill commits as it goes: BEGIN around it would make its COMMIT fail
rm -rf "$PROJECT/migrations/0003_alone"
add_migration 0003 alone "CREATE TABLE app.batched (id int);
DO \$\$ BEGIN FOR i IN 1..3 LOOP INSERT INTO app.batched VALUES (i); COMMIT; END LOOP; END \$\$;"
printf 'transactional: false\n' >"$PROJECT/migrations/0003_alone/meta.yml"
# and one that calls a procedure that commits
psql_q "CREATE PROCEDURE app.batches() LANGUAGE plpgsql AS
	\$\$ BEGIN FOR i IN 4..5 LOOP INSERT INTO app.batched VALUES (i); COMMIT; END LOOP; END \$\$" >/dev/null
printf 'DO $$ BEGIN CALL app.batches(); END $$;\n' >>"$PROJECT/migrations/0003_alone/up.sql"
pc deploy test
assert_rc 0
assert_eq "5" "$(psql_q "SELECT count(*) FROM app.batched")" "every batch committed"
assert_eq "0001,0002,0003" "$(history)" "history: 0003 applied"
psql_q "DELETE FROM padctl.migrations WHERE version = '0003'; DROP TABLE app.batched; DROP PROCEDURE app.batches()" >/dev/null
ok "applied"
rm -rf "$PROJECT/migrations/0003_alone"
add_migration 0003 alone "DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.employee ALTER COLUMN name DROP NOT NULL'; END \$\$;"

group "migrations.guard: false turns it off"
psql_q "ALTER TABLE ref.employee ALTER COLUMN name SET NOT NULL" >/dev/null
printf 'migrations:\n  guard: false\n' >>"$PROJECT/padctl.yml"
pc deploy test
assert_rc 0
assert_eq "0001,0002,0003" "$(history)" "history"
assert_eq "f" "$(psql_q "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'ref.employee'::regclass
	AND attname = 'name'")" "the protected schema was changed"
ok "applied"

finish

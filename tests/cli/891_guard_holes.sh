#!/usr/bin/env bash
# The runtime guard's blind spots found in review, each refused now:
# - a foreign key into a protected table marks that table's pg_class row
#   (relhastriggers); the guard lets that mark through, but no other change
#   to the same row in the same migration (a GRANT, a rename);
# - writes made after the migration turned track_counts off, which leaves
#   the per-transaction counters the write check reads at zero;
# - a domain's constraint and a composite type's attribute: objects that
#   hang off a protected type, not off a table or the schema;
# - outside a transaction: a changed default, a function's STRICT and
#   COST, a trigger pointed at another function.
. "$(dirname "$0")/lib.sh"

new_project guardholes
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.lookup (id int PRIMARY KEY, name text DEFAULT 'x');
	INSERT INTO ref.lookup VALUES (1, 'a');
	CREATE DOMAIN ref.pos AS int; CREATE TYPE ref.pair AS (a int, b int);
	CREATE FUNCTION ref.f(i int) RETURNS int LANGUAGE sql AS 'SELECT i';
	CREATE FUNCTION ref.tg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
	CREATE FUNCTION ref.tg2() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
	CREATE TRIGGER lookup_tg BEFORE INSERT ON ref.lookup FOR EACH ROW EXECUTE FUNCTION ref.tg();" >/dev/null
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.t (id int, lookup_id int);"
pc deploy test
assert_rc 0

history() { psql_q "SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations"; }
# try NAME SQL [meta]: a migration 0002 that must be refused and leave nothing behind
try() {
	rm -rf "$PROJECT"/migrations/0002_*
	add_migration 0002 "$1" "$2"
	[ -z "${3:-}" ] || printf '%s\n' "$3" >"$PROJECT/migrations/0002_$1/meta.yml"
	pc deploy test
	assert_rc 1
	assert_err_contains "protected schema \"ref\""
	assert_eq "0001" "$(history)" "history: 0002 not recorded"
}

group "a foreign key into a protected table passes alone"
psql_q "CREATE TABLE ref.plain (id int PRIMARY KEY)" >/dev/null
try_pass() {
	rm -rf "$PROJECT"/migrations/0002_*
	add_migration 0002 "$1" "$2"
	pc deploy test
	assert_rc 0
	psql_q "DELETE FROM padctl.migrations WHERE version = '0002'" >/dev/null
}
try_pass fk "ALTER TABLE app.t ADD CONSTRAINT t_plain_fk FOREIGN KEY (lookup_id) REFERENCES ref.plain (id);"
psql_q "ALTER TABLE app.t DROP CONSTRAINT t_plain_fk; DROP TABLE ref.plain; CREATE TABLE ref.plain (id int PRIMARY KEY)" >/dev/null
ok "passed"

group "a foreign key into a protected table does not hide a GRANT on it"
try fkgrant "ALTER TABLE app.t ADD CONSTRAINT t_plain_fk FOREIGN KEY (lookup_id) REFERENCES ref.plain (id);
DO \$\$ BEGIN EXECUTE 'GRANT ALL ON ref.plain TO PUBLIC'; END \$\$;"
assert_err_contains "table ref.plain"
assert_eq "" "$(psql_q "SELECT relacl FROM pg_class WHERE oid = 'ref.plain'::regclass")" "no grant left"
ok "refused"

group "... nor a rename of it"
try fkrename "ALTER TABLE app.t ADD CONSTRAINT t_plain_fk FOREIGN KEY (lookup_id) REFERENCES ref.plain (id);
DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.plain RENAME TO plain2'; END \$\$;"
assert_eq "t" "$(psql_q "SELECT to_regclass('ref.plain') IS NOT NULL")" "the name is back"
ok "refused"

group "a write made with track_counts turned off"
try nocount "SET LOCAL track_counts = off;
DO \$\$ BEGIN EXECUTE 'UPDATE ref.lookup SET name = ''b'''; END \$\$;"
assert_err_contains "track_counts"
assert_eq "a" "$(psql_q "SELECT name FROM ref.lookup")" "the row is unchanged"
ok "refused"

group "a constraint added to a protected domain"
try domain "DO \$\$ BEGIN EXECUTE 'ALTER DOMAIN ref.pos ADD CONSTRAINT pos_check CHECK (VALUE > 0)'; END \$\$;"
assert_err_contains "pos_check"
ok "refused"

group "an attribute added to a protected composite type"
try composite "DO \$\$ BEGIN EXECUTE 'ALTER TYPE ref.pair ADD ATTRIBUTE c int'; END \$\$;"
assert_eq "2" "$(psql_q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'ref.pair'::regclass AND attnum > 0")" "no attribute added"
ok "refused"

alone="transactional: false"
group "outside a transaction: a default changed"
try default "DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.lookup ALTER COLUMN name SET DEFAULT ''y'''; END \$\$;" "$alone"
assert_err_contains "up.sql:1: the statement changed protected schema"
psql_q "ALTER TABLE ref.lookup ALTER COLUMN name SET DEFAULT 'x'" >/dev/null
ok "refused"

group "outside a transaction: a function made STRICT with another COST"
try strict "DO \$\$ BEGIN EXECUTE 'ALTER FUNCTION ref.f(int) STRICT COST 500'; END \$\$;" "$alone"
psql_q "ALTER FUNCTION ref.f(int) CALLED ON NULL INPUT COST 100" >/dev/null
ok "refused"

group "outside a transaction: a trigger pointed at another function"
try trigger "DO \$\$ BEGIN EXECUTE 'CREATE OR REPLACE TRIGGER lookup_tg BEFORE INSERT ON ref.lookup FOR EACH ROW EXECUTE FUNCTION ref.tg2()'; END \$\$;" "$alone"
psql_q "CREATE OR REPLACE TRIGGER lookup_tg BEFORE INSERT ON ref.lookup FOR EACH ROW EXECUTE FUNCTION ref.tg()" >/dev/null
ok "refused"

group "outside a transaction: a foreign key into a protected table passes"
rm -rf "$PROJECT"/migrations/0002_*
add_migration 0002 fkalone "CREATE TABLE app.v (id int, pid int REFERENCES ref.plain (id));"
printf '%s\n' "$alone" >"$PROJECT/migrations/0002_fkalone/meta.yml"
pc deploy test
assert_rc 0
assert_eq "0001,0002" "$(history)" "recorded"
ok "passed"

group "the triggers of a protected table's own foreign key disabled, in and outside a transaction"
psql_q "DELETE FROM padctl.migrations WHERE version = '0002'; DROP TABLE app.v" >/dev/null
psql_q "CREATE TABLE ref.child (id int, lookup_id int REFERENCES ref.lookup (id))" >/dev/null
try fkoff "DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.child DISABLE TRIGGER ALL'; END \$\$;"
assert_eq "0" "$(psql_q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ref.child'::regclass AND tgenabled = 'D'")" "enabled again"
try fkoff "DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.child DISABLE TRIGGER ALL'; END \$\$;" "$alone"
psql_q "ALTER TABLE ref.child ENABLE TRIGGER ALL" >/dev/null
ok "refused"

finish

#!/usr/bin/env bash
# The protected-schema guard's per-migration check (pg_temp.padctl_guard_fast,
# guard.c) counts the catalog rows of the protected schema at the places
# they had when the step began, and hands over to the full check whenever a
# count differs. Every kind of change the full check sees must make it hand
# over, so each one here, made through dynamic SQL lint cannot read, is
# refused and named; migrations that leave the schema alone pass, also after
# a foreign key into it (which the full check allows and which rewrites the
# fast check), and a change another session commits meanwhile is not blamed
# on the migration.
. "$(dirname "$0")/lib.sh"

new_project guardfast
psql_q "CREATE SCHEMA ref;
	CREATE TYPE ref.mood AS ENUM ('ok', 'sad');
	CREATE SEQUENCE ref.seq;
	CREATE TABLE ref.employee (id bigint PRIMARY KEY, name text NOT NULL, mood ref.mood, boss_id bigint);
	CREATE INDEX employee_name_idx ON ref.employee (name);
	CREATE TABLE ref.contact (id bigint PRIMARY KEY, employee_id bigint REFERENCES ref.employee (id), note text);
	CREATE TABLE ref.lookup (id bigint PRIMARY KEY);
	INSERT INTO ref.lookup VALUES (1);
	CREATE FUNCTION ref.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
	CREATE VIEW ref.v AS SELECT id, name FROM ref.employee;
	INSERT INTO ref.employee VALUES (1, 'a', 'ok', NULL);" >/dev/null
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.t (id int, employee_id bigint);"

history() { psql_q "SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations"; }

N=1
# refused NAME SQL NAMED...: a migration running SQL in a DO block after a
# harmless statement is refused naming each NAMED, and leaves nothing behind
refused() {
	local name=$1 sql=$2 v
	shift 2
	N=$((N + 1))
	v=$(printf '%04d' "$N")
	local before
	before=$(history)
	add_migration "$v" "$name" "CREATE TABLE app.t$N (id int);
DO \$\$ BEGIN EXECUTE \$x\$$sql\$x\$; END \$\$;"
	pc deploy test
	assert_rc 1
	assert_err_contains "${v}_$name/up.sql "
	assert_err_contains "protected schema \"${SCHEMA:-ref}\""
	local what
	for what in "$@"; do
		assert_err_contains "$what"
	done
	assert_eq "$before" "$(history)" "history: $v not applied"
	assert_eq "f" "$(psql_q "SELECT to_regclass('app.t$N') IS NOT NULL")" "the migration was rolled back"
	rm -rf "$PROJECT/migrations/${v}_$name"
}
# passes NAME SQL: a migration running SQL passes
passes() {
	N=$((N + 1))
	local v
	v=$(printf '%04d' "$N")
	add_migration "$v" "$1" "$2"
	pc deploy test
	assert_rc 0
	assert_contains "$(history)" "$v" "history: $v applied"
}

# 0002 and 0004 note the version of the fast check (its row in pg_proc, in
# padctl's temporary schema): had the check of 0002 or 0003 handed over to
# the full check, that would have rewritten it
group "migrations that leave the protected schema alone pass, several in one step, through the fast check alone"
fast_version="INSERT INTO app.seen SELECT xmin::text FROM pg_proc WHERE proname = 'padctl_guard_fast' AND pronamespace = pg_my_temp_schema();"
add_migration 0002 reads "CREATE TABLE app.seen (v text); $fast_version
INSERT INTO app.t SELECT 1, id FROM ref.employee;"
add_migration 0003 view "CREATE VIEW app.v AS SELECT e.id, e.name FROM ref.employee e JOIN ref.contact c ON c.employee_id = e.id;"
add_migration 0004 more "CREATE TABLE app.more (id bigint PRIMARY KEY, mood ref.mood DEFAULT 'ok'); CREATE INDEX more_mood ON app.more (mood);
SELECT ref.f(); $fast_version"
pc deploy test
assert_rc 0
assert_eq "0001,0002,0003,0004" "$(history)" "history"
assert_eq "2|1" "$(psql_q "SELECT count(*), count(DISTINCT v) FROM app.seen")" "the fast check was not rewritten"
N=4
ok "deployed"

# the foreign key marks ref.lookup as having triggers (its row in pg_class
# changes): the full check allows that and rewrites the fast check
group "a foreign key into the protected schema passes, and the check after it still sees changes"
add_migration 0005 fk "ALTER TABLE app.t ADD CONSTRAINT t_fk FOREIGN KEY (employee_id) REFERENCES ref.lookup (id);"
add_migration 0006 after_fk "CREATE TABLE app.after_fk (id int);
DO \$\$ BEGIN EXECUTE 'ALTER TABLE ref.employee ALTER COLUMN name DROP NOT NULL'; END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "0006_after_fk/up.sql changed protected schema \"ref\""
assert_err_contains "column name of table ref.employee"
assert_contains "$(history)" "0005" "the foreign key's migration applied"
assert_eq "f" "$(psql_q "SELECT to_regclass('app.after_fk') IS NOT NULL")" "rolled back"
rm -rf "$PROJECT/migrations/0006_after_fk"
N=6
ok "refused after the foreign key"

group "each kind of change through dynamic SQL is refused and named"
refused add_enum_value "ALTER TYPE ref.mood ADD VALUE 'glad'" "type ref.mood"
refused rename_enum_value "ALTER TYPE ref.mood RENAME VALUE 'sad' TO 'blue'" "type ref.mood"
refused grant_table "GRANT SELECT ON ref.employee TO PUBLIC" "changed table ref.employee"
refused grant_column "GRANT UPDATE (name) ON ref.employee TO PUBLIC" "column name of table ref.employee"
refused grant_schema "GRANT USAGE ON SCHEMA ref TO PUBLIC" "changed schema ref"
refused default_privileges "ALTER DEFAULT PRIVILEGES IN SCHEMA ref GRANT SELECT ON TABLES TO PUBLIC" "in schema ref"
refused function_set "ALTER FUNCTION ref.f() SET work_mem = '8MB'" "changed function ref.f()"
refused function_replace "CREATE OR REPLACE FUNCTION ref.f() RETURNS int LANGUAGE sql AS 'SELECT 2'" "changed function ref.f()"
refused new_function "CREATE FUNCTION ref.g() RETURNS int LANGUAGE sql AS 'SELECT 1'" "created function ref.g()"
refused sequence_alter "ALTER SEQUENCE ref.seq INCREMENT BY 5" "sequence ref.seq"
refused sequence_restart "ALTER SEQUENCE ref.seq RESTART WITH 100" "sequence ref.seq"
refused create_index "CREATE INDEX employee_mood_idx ON ref.employee (mood)" "created index ref.employee_mood_idx"
refused drop_and_create_index "DROP INDEX ref.employee_name_idx; CREATE INDEX employee_name2_idx ON ref.employee (name)" \
	"dropped index ref.employee_name_idx" "created index ref.employee_name2_idx"
refused pk_index_options "ALTER INDEX ref.employee_pkey SET (fillfactor = 70)" "changed index ref.employee_pkey"
refused pk_reindex "REINDEX INDEX ref.employee_pkey" "changed index ref.employee_pkey"
refused column_type "ALTER TABLE ref.contact ALTER COLUMN note TYPE varchar(200)" "column note of table ref.contact"
refused column_rename "ALTER TABLE ref.contact RENAME COLUMN note TO remark" "column remark of table ref.contact"
refused column_statistics "ALTER TABLE ref.employee ALTER COLUMN name SET STATISTICS 500" "column name of table ref.employee"
refused add_check "ALTER TABLE ref.employee ADD CONSTRAINT name_len CHECK (length(name) < 100)" \
	"constraint name_len on table ref.employee"
refused drop_constraint "ALTER TABLE ref.contact DROP CONSTRAINT contact_employee_id_fkey" \
	"dropped constraint contact_employee_id_fkey on table ref.contact"
refused self_fk "ALTER TABLE ref.employee ADD CONSTRAINT boss_fk FOREIGN KEY (boss_id) REFERENCES ref.employee (id)" \
	"constraint boss_fk on table ref.employee"
refused create_table "CREATE TABLE ref.newer (id int)" "created table ref.newer"
refused create_view "CREATE VIEW ref.v2 AS SELECT 1 AS one" "created view ref.v2"
refused replace_view "CREATE OR REPLACE VIEW ref.v AS SELECT id, name, 1 AS one FROM ref.employee" "ref.v"
refused create_type "CREATE TYPE ref.pair AS (a int, b int)" "ref.pair"
refused create_statistics "CREATE STATISTICS ref.st ON id, name FROM ref.employee" "statistics object ref.st"
refused rls "ALTER TABLE ref.employee ENABLE ROW LEVEL SECURITY" "changed table ref.employee"
refused policy "CREATE POLICY p ON ref.employee USING (true)" "policy p on table ref.employee"
refused trigger "CREATE FUNCTION app.tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; CREATE TRIGGER tr BEFORE INSERT ON ref.contact FOR EACH ROW EXECUTE FUNCTION app.tf()" \
	"trigger tr on table ref.contact"
refused rule "CREATE RULE r AS ON INSERT TO ref.contact DO INSTEAD NOTHING" "rule r on table ref.contact"
refused truncate "TRUNCATE ref.contact" "changed table ref.contact"
refused set_schema "ALTER TABLE ref.contact SET SCHEMA app" "ref.contact"
refused rename_schema "ALTER SCHEMA ref RENAME TO ref_old" "schema ref"
refused owner "CREATE ROLE guardfast_owner_$$; ALTER TABLE ref.contact OWNER TO guardfast_owner_$$" "changed table ref.contact"
refused reloptions "ALTER TABLE ref.employee SET (fillfactor = 70)" "changed table ref.employee"
refused insert "INSERT INTO ref.contact VALUES (9, 1, 'x')" "tables written: ref.contact"
refused delete "DELETE FROM ref.employee WHERE id = 1" "tables written: ref.employee"
ok "refused"

group "a change another session commits during a migration is not the migration's"
psql_q "CREATE EXTENSION IF NOT EXISTS dblink" >/dev/null
conn="host=$TPG_HOST port=$TPG_PORT user=$TPG_USER dbname=$DB"
N=$((N + 1))
v1=$(printf '%04d' "$N")
add_migration "$v1" other_session "CREATE TABLE app.during (id int);
SELECT dblink_exec('$conn', 'ALTER TABLE ref.employee ADD COLUMN by_others text; CREATE INDEX by_others_idx ON ref.employee (by_others)');"
N=$((N + 1))
v2=$(printf '%04d' "$N")
add_migration "$v2" after_other "CREATE TABLE app.after_other (id int);"
N=$((N + 1))
v3=$(printf '%04d' "$N")
add_migration "$v3" sneaky_later "DO \$\$ BEGIN EXECUTE 'DROP INDEX ref.employee_name_idx'; END \$\$;"
pc deploy test
assert_rc 1
assert_err_contains "${v3}_sneaky_later/up.sql changed protected schema \"ref\""
assert_err_contains "dropped index ref.employee_name_idx"
assert_err_not_contains "${v1}_other_session/up.sql changed"
assert_contains "$(history)" "$v1,$v2" "the other session's change was not blamed on $v1"
assert_eq "t|t|t" "$(psql_q "SELECT to_regclass('app.after_other') IS NOT NULL, to_regclass('ref.by_others_idx') IS NOT NULL,
	to_regclass('ref.employee_name_idx') IS NOT NULL")" \
	"$v2 applied, $v3 rolled back"
rm -rf "$PROJECT/migrations/${v3}_sneaky_later"
ok "not blamed"

group "a protected schema that does not exist yet is looked up by name"
sed -i 's/^  protected: \[ref\]$/  protected: [ref, ghost]/' "$PROJECT/padctl.yml"
grep -q 'protected: \[ref, ghost\]' "$PROJECT/padctl.yml" || fail_now "could not add ghost to schemas.protected"
SCHEMA=ghost refused create_ghost "CREATE SCHEMA ghost" "schema ghost"
passes after_ghost "CREATE TABLE app.after_ghost (id int);"
ok "refused, then a harmless one passes"

finish

#!/usr/bin/env bash
# Session state a migration leaves behind (settings, role) never leaks into
# the next migration or into padctl's ledger writes: the host resets it before
# each migration and each ledger write, so the outcome of a deploy does not
# depend on how the migrations are grouped into runs.
. "$(dirname "$0")/lib.sh"

new_project sess
ROLE=$(unique_name sess_owner)
sql_on "$TPG_PORT" postgres "CREATE ROLE $ROLE NOLOGIN" >/dev/null || die "could not create role $ROLE"
on_exit "for d in \"\$DB\" \"\$DB2\"; do sql_on $TPG_PORT \"\$d\" 'DROP OWNED BY $ROLE'; done; sql_on $TPG_PORT postgres 'DROP ROLE IF EXISTS $ROLE'"
DB2=$(unique_name sess_b)
create_db "$TPG_PORT" "$DB2"

add_migration 0001 baseline "CREATE SCHEMA app;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE app.base (i int);"
add_migration 0002 unqualified "CREATE TABLE t2 (i int);"
add_migration 0003 path "SET search_path TO app, public;"
add_migration 0004 unqualified_again "CREATE TABLE t4 (i int);"
add_migration 0005 role "GRANT USAGE, CREATE ON SCHEMA app TO $ROLE;
SET ROLE $ROLE;
CREATE TABLE app.owned_by_role (i int);"
add_migration 0006 after_role "CREATE TABLE app.after_role (i int);"
add_migration 0007 no_body_check "SET check_function_bodies = false;"

catalog() {   # DB: tables with schema and owner, then functions
	sql_on "$TPG_PORT" "$1" "SELECT n.nspname || '.' || c.relname || ' ' || pg_get_userbyid(c.relowner)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname IN ('app', 'public') ORDER BY 1"
}

group "one deploy: each migration starts from the session padctl connected with"
pc deploy test
assert_rc 0
assert_table_exists public.t2
assert_table_exists public.t4
assert_no_table app.t4
assert_eq "$ROLE" "$(psql_q "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.owned_by_role'::regclass")" "the migration's own SET ROLE holds inside it"
assert_eq "$TPG_USER" "$(psql_q "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.after_role'::regclass")" "the next migration runs as padctl connected"
assert_eq 7 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE status = 'applied'")" "history rows, written despite SET ROLE"
assert_eq "ok" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "run status"
ok "search_path '' , search_path app and SET ROLE stayed in their migration"

group "SET check_function_bodies = false does not carry over to the next migration"
add_migration 0008 broken_function "CREATE FUNCTION app.broken() RETURNS int LANGUAGE sql AS 'SELECT no_such_column FROM no_such_table';"
pc deploy test
assert_rc 1
assert_err_contains "no_such_table"
assert_eq "" "$(psql_q "SELECT version FROM padctl.migrations WHERE version = '0008'")" "0008 not recorded"
ok "the broken function body was checked and refused"
rm -rf "$PROJECT/migrations/0008_broken_function"

group "the same migrations, one deploy each, give the same catalog"
write_env "$DB2"
rm -f "$PROJECT/known_targets"
mkdir -p "$PROJECT/all"
mv "$PROJECT"/migrations/0* "$PROJECT/all/"
for m in "$PROJECT"/all/0*; do
	mv "$m" "$PROJECT/migrations/"
	pc deploy test
	assert_rc 0
done
assert_eq "$(catalog "$DB")" "$(catalog "$DB2")" "tables, schemas and owners after one deploy and after seven"
ok "grouping into runs does not change the outcome"

finish

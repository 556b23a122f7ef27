#!/usr/bin/env bash
# What the server says reaches the user, named by file and line: NOTICEs and
# WARNINGs of migration statements (hidden by -q), errors inside PL/pgSQL
# bodies at the body's line in the file, and a pg_dump baseline with COPY ...
# FROM stdin data deploys as psql would run it.
. "$(dirname "$0")/lib.sh"

new_project servermsg
MIG=$PROJECT/migrations

group "a NOTICE names up.sql:LINE by default"
add_migration 0001 base "CREATE SCHEMA app;
CREATE TABLE app.a (i int);
CREATE VIEW app.v1 AS SELECT * FROM app.a;
CREATE VIEW app.v2 AS SELECT * FROM app.a;

DROP TABLE app.a CASCADE;"
pc deploy test
assert_rc 0
assert_err_contains "$MIG/0001_base/up.sql:6: NOTICE: drop cascades to 2 other objects"
assert_err_contains "DETAIL: drop cascades to view app.v1"
ok "deploy shows the server's NOTICE with the migration's file and line"

group "-q hides notices"
add_migration 0002 again "DROP TABLE IF EXISTS app.nothing_here;
DO \$\$BEGIN RAISE WARNING 'look at this'; END\$\$;"
pc -q deploy test
assert_rc 0
assert_err_not_contains "NOTICE"
assert_err_not_contains "look at this"
ok "-q hides NOTICEs and WARNINGs"

group "an error inside a DO block names the line in the file"
{
	for i in 1 2 3 4 5 6 7 8; do printf -- '-- line %d\n' "$i"; done
	printf 'DO $$\nBEGIN\n'
	for i in $(seq 11 40); do printf '  PERFORM %d;\n' "$i"; done
	printf '  GRANT USAGE ON SCHEMA app TO no_such_role_340;\nEND\n$$;\n'
} >"$PROJECT/up41.sql"
mkdir -p "$MIG/0003_grants"
cp "$PROJECT/up41.sql" "$MIG/0003_grants/up.sql"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0003_grants/up.sql:41: role \"no_such_role_340\" does not exist"
assert_err_contains "PL/pgSQL function inline_code_block line 33"
stored=$(psql_q "SELECT error FROM padctl.runs WHERE status <> 'ok' ORDER BY started_at DESC LIMIT 1")
assert_contains "$stored" "up.sql:41: role" "the run's error in the ledger"
rm -r "$MIG/0003_grants"
ok "a misspelled role on line 41 of a DO block that starts on line 9 is reported at up.sql:41"

group "a pg_dump baseline with COPY data deploys"
SRC=$(unique_name servermsg_src)
create_db "$TPG_PORT" "$SRC"
sql_on "$TPG_PORT" "$SRC" "CREATE SCHEMA shop;
CREATE TABLE shop.item (id int PRIMARY KEY, name text, note text, price numeric);
INSERT INTO shop.item VALUES
  (1, E'tab\there', NULL, 1.5),
  (2, E'back\\\\slash\nnew line', 'caf\u00e9 \u20ac', NULL),
  (3, '\\N', E'carriage\rreturn', 0),
  (4, '', ';', -2);
CREATE FUNCTION shop.total() RETURNS numeric LANGUAGE sql AS \$\$ SELECT sum(price) FROM shop.item \$\$;" >/dev/null ||
	fail_now "could not fill the source database"
mkdir -p "$MIG/0004_baseline"
"$TPG_BIN/pg_dump" -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -n shop "$SRC" >"$MIG/0004_baseline/up.sql" ||
	fail_now "pg_dump failed"
grep -q '^COPY shop.item .* FROM stdin;$' "$MIG/0004_baseline/up.sql" || fail_now "the dump has no COPY block"
pc deploy test
assert_rc 0
want=$(sql_on "$TPG_PORT" "$SRC" "SELECT string_agg(format('%s|%s|%s|%s', id, name, note, price), ',' ORDER BY id) FROM shop.item")
got=$(psql_q "SELECT string_agg(format('%s|%s|%s|%s', id, name, note, price), ',' ORDER BY id) FROM shop.item")
assert_eq "$want" "$got" "rows copied from the dump"
assert_eq "-0.5" "$(psql_q "SELECT shop.total()")" "statements after the COPY data ran"
assert_eq "applied" "$(psql_q "SELECT status FROM padctl.migrations WHERE version = '0004'")" "history row"
ok "a pg_dump -n baseline (tabs, \\N NULLs, escapes, \\restrict lines) deploys"

group "a bad COPY row names its line; never an empty message"
mkdir -p "$MIG/0005_badcopy"
printf 'CREATE TABLE app.n (i int);\nCOPY app.n FROM stdin;\n1\n2\nthree\n\\.\n' >"$MIG/0005_badcopy/up.sql"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0005_badcopy/up.sql:5: invalid input syntax for type integer"
assert_no_table app.n
ok "an error in COPY data names the data line and rolls the migration back"

finish

#!/usr/bin/env bash
# lint asks the connected target (issue 11): a default's volatility comes
# from pg_proc (random() volatile, now() stable, a user function as
# declared), SET NOT NULL is fine once a validated CHECK (col IS NOT NULL)
# exists, and an unqualified name lands where the role's search_path says.
. "$(dirname "$0")/lib.sh"

new_project lintcat
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.t (id bigint PRIMARY KEY, a int, b int);
ALTER TABLE app.t ADD CONSTRAINT b_nn CHECK (b IS NOT NULL);
CREATE FUNCTION app.pick() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1';
CREATE FUNCTION app.fixed() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';"
pc deploy test
assert_rc 0

group "volatility from pg_proc"
add_migration 0002 defaults "ALTER TABLE app.t ADD COLUMN r float8 DEFAULT random();
ALTER TABLE app.t ADD COLUMN c timestamptz DEFAULT now();
ALTER TABLE app.t ADD COLUMN p int DEFAULT app.pick();
ALTER TABLE app.t ADD COLUMN f int DEFAULT app.fixed();"
pc plan test
assert_rc 0
assert_out_contains "0002_defaults/up.sql:1:1: warning adding-field-with-default: the default of column \"r\" calls a volatile function"
assert_out_contains "0002_defaults/up.sql:3:1: warning adding-field-with-default: the default of column \"p\""
assert_out_not_contains "up.sql:2:1: warning adding-field-with-default"
assert_out_not_contains "up.sql:4:1: warning adding-field-with-default"
ok "random() and a VOLATILE function are reported; now() and an IMMUTABLE function are not"

group "SET NOT NULL and a validated CHECK"
rm -r "$PROJECT/migrations/0002_defaults"
add_migration 0002 not_null "ALTER TABLE app.t ALTER COLUMN b SET NOT NULL;
ALTER TABLE app.t ALTER COLUMN a SET NOT NULL;"
pc plan test
assert_rc 0
assert_out_not_contains "up.sql:1:1: warning adding-not-nullable-field"
assert_out_contains "up.sql:2:1: warning adding-not-nullable-field"
ok "b has a validated CHECK (b IS NOT NULL), a has none"

group "the role's default search_path"
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.x (i int); ALTER ROLE CURRENT_USER IN DATABASE \"$DB\" SET search_path = ref, public" >/dev/null
on_exit "\"$PSQL\" -XAtq -h \"$TPG_HOST\" -p \"$TPG_PORT\" -U \"$TPG_USER\" -d postgres -c \"ALTER ROLE CURRENT_USER IN DATABASE \\\"$DB\\\" RESET search_path\""
rm -r "$PROJECT/migrations/0002_not_null"
add_migration 0002 unqualified "INSERT INTO x VALUES (1);"
pc plan test
assert_rc 2
assert_err_contains "up.sql:1:1: error protected-schema: writes to ref.x in the protected schema \"ref\" (unqualified: the role's default search_path puts it there)"
ok "the target's search_path resolves the unqualified name into the protected schema"
finish

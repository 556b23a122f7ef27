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

group "CREATE INDEX on a partitioned table"
rm -r "$PROJECT/migrations/0002_not_null"
psql_q "CREATE TABLE app.parted (a int, b int) PARTITION BY RANGE (a);
CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES FROM (0) TO (100)" >/dev/null
# the hint below is not CONCURRENTLY because the server refuses it there
if refused=$(sql_on "$TPG_PORT" "$DB" "CREATE INDEX CONCURRENTLY parted_c ON app.parted (a)" 2>&1); then
	fail_now "the server built a partitioned index CONCURRENTLY: the rule's hint is out of date"
fi
assert_contains "$refused" "cannot create index on partitioned table" "the server's refusal"
add_migration 0002 parted_index "CREATE INDEX parted_a ON ONLY app.parted (a);
CREATE INDEX parted_b ON app.parted (b);
CREATE INDEX t_a_only ON ONLY app.t (a);"
pc plan test
assert_rc 0
assert_out_not_contains "up.sql:1:1: warning require-concurrent-index-creation"
assert_out_contains "up.sql:2:1: warning require-concurrent-index-creation: CREATE INDEX on a partitioned table builds the index of every partition"
assert_out_contains "create it ON ONLY the parent, then CREATE INDEX CONCURRENTLY on each partition"
assert_out_contains "up.sql:3:1: warning require-concurrent-index-creation: CREATE INDEX without CONCURRENTLY"
ok "ON ONLY a partitioned parent is not reported; recursing is, with a hint the server takes; ONLY on a plain table is"

group "a named concurrent build in an owned schema can run again"
rm -r "$PROJECT/migrations/0002_parted_index"
add_migration 0002 t_a "SET lock_timeout = '3s';
CREATE INDEX CONCURRENTLY t_a ON app.t (a);"
printf 'transactional: false\n' >"$PROJECT/migrations/0002_t_a/meta.yml"
add_migration 0003 t_b "SET lock_timeout = '3s';
CREATE INDEX CONCURRENTLY ON app.t (b);"
printf 'transactional: false\n' >"$PROJECT/migrations/0003_t_b/meta.yml"
pc plan test
assert_rc 0
assert_out_not_contains "0002_t_a/up.sql:2:1: warning non-transactional-not-rerunnable"
assert_out_contains "0003_t_b/up.sql:2:1: warning non-transactional-not-rerunnable"
ok "the migrate step drops t_a's invalid leftover before a run again; an unnamed index's it cannot tell"
rm -r "$PROJECT/migrations/0002_t_a" "$PROJECT/migrations/0003_t_b"

group "the role's default search_path"
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.x (i int); ALTER ROLE CURRENT_USER IN DATABASE \"$DB\" SET search_path = ref, public" >/dev/null
on_exit "\"$PSQL\" -XAtq -h \"$TPG_HOST\" -p \"$TPG_PORT\" -U \"$TPG_USER\" -d postgres -c \"ALTER ROLE CURRENT_USER IN DATABASE \\\"$DB\\\" RESET search_path\""
add_migration 0002 unqualified "INSERT INTO x VALUES (1);"
pc plan test
assert_rc 2
assert_err_contains "up.sql:1:1: error protected-schema: writes to ref.x in the protected schema \"ref\" (unqualified: the role's default search_path puts it there)"
ok "the target's search_path resolves the unqualified name into the protected schema"
finish

#!/usr/bin/env bash
# lint (issue 11): a migration that alters a protected schema is refused at
# plan and at deploy, before anything runs, naming file:line:col and the
# rule; through an unqualified name too, once SET search_path points there.
. "$(dirname "$0")/lib.sh"

new_project lintprot
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.oracle_employee (id int PRIMARY KEY, name text)" >/dev/null
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.people (id bigint PRIMARY KEY);"
add_migration 0002 touch_ref "CREATE TABLE app.log (id int);
-- the reference team did this by hand once
ALTER TABLE ref.oracle_employee ADD COLUMN email text;"

group "plan refuses with the position and the rule"
pc plan test
assert_rc 2
assert_err_contains "0002_touch_ref/up.sql:3:1: error protected-schema: alters ref.oracle_employee in the protected schema \"ref\""
assert_err_contains "refused before anything ran"
assert_out_not_contains "recorded plan"
assert_eq 0 "$(psql_q "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'padctl' AND table_name = 'plans'" )" "no plan table written"
ok "plan exits 2 naming up.sql:3:1 and protected-schema"

group "deploy refuses before any migration runs"
pc deploy test
assert_rc 2
assert_err_contains "up.sql:3:1: error protected-schema"
assert_eq 0 "$(psql_q "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'")" "schema app (migration 0001) not created"
assert_eq 0 "$(psql_q "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ref' AND column_name = 'email'")" "no email column"
pc deploy test --dry-run
assert_rc 2
assert_err_contains "protected-schema"
ok "deploy and deploy --dry-run exit 2; nothing ran"

group "an unqualified name resolved through SET search_path"
rm -r "$PROJECT/migrations/0002_touch_ref"
add_migration 0002 touch_ref "SET search_path = ref, public;
INSERT INTO oracle_employee VALUES (1, 'x');"
pc plan test
assert_rc 2
assert_err_contains "up.sql:2:1: error protected-schema: writes to ref.oracle_employee"
assert_err_contains "search_path set at line 1"
ok "SET search_path = ref makes the INSERT a write to ref"

group "allowing protected-schema is refused"
rm -r "$PROJECT/migrations/0002_touch_ref"
add_migration 0002 touch_ref "CREATE TABLE app.log (id int);"
printf 'lint:\n  allow:\n    protected-schema: "we own it"\n' >"$PROJECT/migrations/0002_touch_ref/meta.yml"
pc plan test
assert_rc 2
assert_err_contains "0002_touch_ref/meta.yml:3:5: protected-schema cannot be allowed"
rm "$PROJECT/migrations/0002_touch_ref/meta.yml"
ok "lint.allow of protected-schema fails naming meta.yml:3:5"

group "a clean set plans and deploys; reading the protected schema is fine"
add_migration 0003 copy_ref "CREATE TABLE app.emp AS SELECT id, name FROM ref.oracle_employee;"
pc plan test
assert_rc 0
assert_out_contains "recorded plan"
pc deploy test
assert_rc 0
assert_table_exists app.emp
ok "plan and deploy pass"
finish

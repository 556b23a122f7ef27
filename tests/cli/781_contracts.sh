#!/usr/bin/env bash
# Contracts (<paths.contracts>/<schema>.yml) checked by validate preflight and
# postflight against the real catalog: a phantom column, a v3_* table an
# absent pattern forbids, a type mismatch and a missing table each fail
# preflight naming the contract file and line, all in one run; nothing is
# migrated then. An owned schema's contract waits for postflight while
# migrations are pending, and postflight catches a migration that breaks it.
# A malformed contract stops the run at its file:line:col.
. "$(dirname "$0")/lib.sh"

new_project contracts
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.employee (id bigint PRIMARY KEY, user_name varchar(64) NOT NULL,
	forename varchar(100) NOT NULL, surname varchar(100) NOT NULL);
	CREATE TABLE ref.contact (employee_id bigint NOT NULL, email varchar(255));" >/dev/null
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.request (id bigint PRIMARY KEY, employee_id bigint NOT NULL);"
mkdir -p "$PROJECT/contracts"
history() { psql_q "SELECT count(*) FROM padctl.migrations"; }

group "a contract that holds passes preflight and postflight"
cat >"$PROJECT/contracts/ref.yml" <<'YML'
tables:
  employee:
    columns:
      id: {type: int8, nullable: false}
      user_name: varchar(64)
      forename: {type: character varying(100), nullable: false}
  contact:
    columns:
      employee_id: bigint
      email:
absent: [employee.email, employee.full_name, v3_*]
YML
cat >"$PROJECT/contracts/app.yml" <<'YML'
tables:
  request:
    columns:
      id: bigint
      employee_id: {type: bigint, nullable: false}
YML
pc deploy test
assert_rc 0
assert_err_contains "the contract of owned schema \"app\" is checked after the migrations (postflight)"
assert_err_contains "2 contracts checked: 0 findings"
assert_eq 1 "$(history)" "applied"
ok "passed"

group "phantom column, forbidden v3_ table, type mismatch, missing table: all at once, with file:line"
psql_q "CREATE TABLE ref.v3_orders (id int); ALTER TABLE ref.employee ADD COLUMN email text;
	ALTER TABLE ref.contact ALTER COLUMN employee_id TYPE integer; DROP TABLE ref.contact;
	CREATE TABLE ref.contact (email varchar(255));" >/dev/null
cat >"$PROJECT/contracts/ref.yml" <<'YML'
tables:
  employee:
    columns:
      id: {type: int8, nullable: false}
      full_name: text
      surname: varchar(64)
  contact:
    columns:
      employee_id: bigint
  portfolio_group:
absent: [employee.email, v3_*]
YML
add_migration 0002 more "CREATE TABLE app.more (id int);"
pc deploy test
assert_rc 1
assert_err_contains "preflight found 6 problems"
assert_err_contains "contracts/ref.yml:5:7: column ref.employee.full_name does not exist"
assert_err_contains "contracts/ref.yml:6:16: column ref.employee.surname is character varying(100), the contract says character varying(64)"
assert_err_contains "contracts/ref.yml:9:7: column ref.contact.employee_id does not exist"
assert_err_contains "contracts/ref.yml:10:3: table ref.portfolio_group does not exist"
assert_err_contains "contracts/ref.yml:11:10: column ref.employee.email exists, the contract says it must not"
assert_err_contains "contracts/ref.yml:11:26: table ref.v3_orders exists, the contract says it must not (v3_*)"
assert_eq 1 "$(history)" "nothing migrated"
ok "refused at preflight"

group "a type mismatch alone"
psql_q "DROP TABLE ref.v3_orders; ALTER TABLE ref.employee DROP COLUMN email;" >/dev/null
cat >"$PROJECT/contracts/ref.yml" <<'YML'
tables:
  employee:
    columns:
      id: integer
YML
pc deploy test
assert_rc 1
assert_err_contains "contracts/ref.yml:4:11: column ref.employee.id is bigint, the contract says integer"
ok "refused"

group "postflight catches a migration that breaks the owned schema's contract"
rm "$PROJECT/contracts/ref.yml"
rm -rf "$PROJECT/migrations/0002_more"
add_migration 0002 breaks "ALTER TABLE app.request DROP COLUMN employee_id;"
pc deploy test
assert_rc 1
assert_err_contains "postflight found 1 problem"
assert_err_contains "contracts/app.yml:5:7: column app.request.employee_id does not exist"
ok "refused at postflight"

group "a malformed contract stops the run at its file:line:col"
rm -rf "$PROJECT/migrations/0002_breaks"
printf 'tables:\n  request:\n    colums: {id: bigint}\n' >"$PROJECT/contracts/app.yml"
pc deploy test
assert_rc 2
assert_err_contains "contracts/app.yml:3:5: unknown key \"colums\""
ok "refused"


group "a schema whose name has capitals is looked up as written"
rm -f "$PROJECT/contracts/app.yml"
psql_q 'CREATE SCHEMA "Cap"; CREATE TABLE "Cap".t (id integer NOT NULL)' >/dev/null
printf "tables:\n  t:\n    columns:\n      id: {type: integer, nullable: false}\n" >"$PROJECT/contracts/Cap.yml"
pc validate test
assert_rc 0
printf 'tables:\n  u: {}\n' >"$PROJECT/contracts/Cap.yml"
pc validate test
assert_rc 1
assert_err_contains "table Cap.u does not exist"
assert_err_not_contains "schema"
ok "checked against \"Cap\""

finish

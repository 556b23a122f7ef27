#!/usr/bin/env bash
# Load refuses what would break a migration's promise before anything runs:
# transaction control in a transactional migration (a COMMIT there made the
# statements before it permanent without a history row), up.sql that is not
# UTF-8 (plan crashed on it), and a meta.yml with duplicate keys or a second
# document (read with the same rules as every other config file).
. "$(dirname "$0")/lib.sh"

new_project loadref
add_migration 0001 create_app "CREATE SCHEMA app;"
add_migration 0002 half "CREATE TABLE app.half (i int); COMMIT; SELECT no_such_fn();"

group "COMMIT in a transactional migration is refused at load"
pc deploy test
assert_rc 2
assert_err_contains "migrations/0002_half/up.sql:1: transaction control"
assert_err_contains "transactional: false"
assert_no_table app.half
assert_eq f "$(psql_q "SELECT to_regnamespace('app') IS NOT NULL")" "0001 did not run either"
pc plan test
assert_rc 2
assert_err_contains "0002_half/up.sql:1: transaction control"
ok "deploy and plan exit 2 naming up.sql:1; nothing ran (no app schema, no app.half)"

group "a SAVEPOINT on a later line is named by its line"
printf 'CREATE TABLE app.half (i int);\n\nSAVEPOINT s1;\nSELECT 1;\n' >"$PROJECT/migrations/0002_half/up.sql"
pc deploy test
assert_rc 2
assert_err_contains "0002_half/up.sql:3: transaction control"
ok "SAVEPOINT refused at up.sql:3"

group "outside a transaction the author may commit"
printf 'CREATE TABLE app.half (i int);\nCOMMIT;\n' >"$PROJECT/migrations/0002_half/up.sql"
printf 'transactional: false\n' >"$PROJECT/migrations/0002_half/meta.yml"
pc deploy test
assert_rc 0
assert_eq "0001|applied
0002|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
ok "transactional: false with a COMMIT deploys"

group "up.sql that is not UTF-8 is refused with its byte offset"
add_migration 0003 latin1 "SELECT 1;"
printf "SELECT 1;\nSELECT 'caf\xe9';\n" >"$PROJECT/migrations/0003_latin1/up.sql"
pc plan test
assert_rc 2
assert_err_contains "0003_latin1/up.sql\" is not valid UTF-8 at byte offset 21 (line 2)"
pc deploy test
assert_rc 2
assert_err_contains "not valid UTF-8 at byte offset 21"
pc status test
assert_rc 2
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.plans")" "no plan recorded"
rm -r "$PROJECT/migrations/0003_latin1"
ok "plan, deploy and status exit 2 naming the byte offset; no plan recorded"

group "plan with a migration directory name that is not UTF-8 fails cleanly"
mkdir "$PROJECT/migrations/0003_caf$(printf '\xe9')"
printf 'SELECT 1;\n' >"$PROJECT/migrations/0003_caf$(printf '\xe9')/up.sql"
pc plan test
assert_rc 2
assert_err_contains "cannot put \"caf\\xe9\" into the plan: it is not valid UTF-8"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.plans")" "no plan recorded"
rm -r "$PROJECT/migrations/0003_caf$(printf '\xe9')"
ok "plan exits 2 (no crash, no plan recorded)"

group "meta.yml: duplicate keys and a second document are refused"
add_migration 0004 meta "SELECT 1;"
printf 'transactional: true\ntransactional: false\n' >"$PROJECT/migrations/0004_meta/meta.yml"
pc deploy test
assert_rc 2
assert_err_contains "0004_meta/meta.yml:2:1: duplicate key \"transactional\""
printf 'transactional: true\n---\ntransactional: false\n' >"$PROJECT/migrations/0004_meta/meta.yml"
pc deploy test
assert_rc 2
assert_err_contains "0004_meta/meta.yml:2:1: a second YAML document"
printf 'transactional: false\n' >"$PROJECT/migrations/0004_meta/meta.yml"
pc deploy test
assert_rc 0
ok "meta.yml duplicate key at 2:1, second document at 2:1; a clean one deploys"

finish

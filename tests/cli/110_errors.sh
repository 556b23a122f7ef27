#!/usr/bin/env bash
# Bad inputs give the right exit status and a message naming the culprit;
# a failing migration names up.sql:LINE and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

new_project errors
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
MIG=$PROJECT/migrations

untouched() {   # the database has no padctl and no app schema
	assert_eq "f|f" "$(psql_q "SELECT to_regnamespace('padctl') IS NOT NULL, to_regnamespace('app') IS NOT NULL")" \
		"padctl/app schemas exist in $DB"
}

group "unknown command"
pc frobnicate
assert_rc 2
assert_err_contains 'unknown command "frobnicate"'
assert_err_contains "padctl --help"
ok "unknown command exits 2"

group "unknown options"
pc --frob status test
assert_rc 2
assert_err_contains 'unknown option "--frob"'
pc status test --frob
assert_rc 2
assert_err_contains 'unknown option "--frob" for "status"'
assert_err_contains "usage: padctl status"
pc deploy test --target
assert_rc 2
assert_err_contains 'option "--target" of "deploy" needs a value'
pc deploy test --lock-timeout soon
assert_rc 2
assert_err_contains 'option "--lock-timeout" takes seconds'
untouched
ok "unknown global/command options and bad option values exit 2"

group "missing env"
cp "$PROJECT/envs/test.yml" "$PROJECT/envs/qa.yml"
pc status prod
assert_rc 2
assert_err_contains 'unknown env "prod"'
assert_err_contains "envs/prod.yml"
assert_err_contains "known envs: qa, test"
pc deploy prod
assert_rc 2
rm "$PROJECT/envs/qa.yml"
ok "unknown env exits 2 and lists the known envs"

group "env file with a YAML syntax error"
cat >"$PROJECT/envs/broken.yml" <<YAML
tier: nonprod
pipeline: standard
targets:
  t1:
    database:
      host: $TPG_HOST
      port: [$TPG_PORT
      dbname: $DB
YAML
pc deploy broken
assert_rc 2
assert_err_contains "$PROJECT/envs/broken.yml:"
grep -Eq "envs/broken\.yml:[0-9]+:[0-9]+: " <<<"$ERR" || fail_now "expected file:line:col in the error" "got: $ERR"
printf 'tier: nonprod\npipeline: standard\ntargets:\n  t1:\n    database:\n      dbname: x\n      colour: red\n' \
	>"$PROJECT/envs/broken.yml"
pc status broken
assert_rc 2
assert_err_contains "$PROJECT/envs/broken.yml:7:7: unknown key \"colour\""
rm "$PROJECT/envs/broken.yml"
untouched
ok "env YAML errors exit 2 with file:line:col"

group "migration directory without up.sql"
mkdir "$MIG/0002_no_up"
pc deploy test
assert_rc 2
assert_err_contains "$MIG/0002_no_up"
assert_err_contains "has no up.sql"
pc status test
assert_rc 2
assert_err_contains "$MIG/0002_no_up"
untouched
rmdir "$MIG/0002_no_up"
ok "a migration without up.sql: exit 2 naming $MIG/0002_no_up"

group "empty or comment-only up.sql"
mkdir "$MIG/0002_blank"
: >"$MIG/0002_blank/up.sql"
pc deploy test
assert_rc 2
assert_err_contains "$MIG/0002_blank/up.sql\" is empty"
printf -- '-- just a comment\n\n/* and a block comment */\n' >"$MIG/0002_blank/up.sql"
pc deploy test
assert_rc 2
assert_err_contains "$MIG/0002_blank/up.sql\" is empty"
untouched
rm -r "$MIG/0002_blank"
ok "empty and comment-only up.sql exit 2"

group "duplicate versions"
add_migration 1 b "CREATE TABLE app.dup (id int);"
pc deploy test
assert_rc 2
assert_err_contains "duplicate migration version"
assert_err_contains "$MIG/0001_create_app"
assert_err_contains "$MIG/1_b"
untouched
rm -r "$MIG/1_b"
ok "0001_create_app and 1_b: duplicate version, exit 2"

group "malformed meta.yml"
printf 'transactional: [nope\n' >"$MIG/0001_create_app/meta.yml"
pc deploy test
assert_rc 2
assert_err_contains "$MIG/0001_create_app/meta.yml:"
printf 'transactionl: false\n' >"$MIG/0001_create_app/meta.yml"
pc deploy test
assert_rc 2
assert_err_contains "$MIG/0001_create_app/meta.yml:1:1: unknown key \"transactionl\""
printf 'transactional: maybe\n' >"$MIG/0001_create_app/meta.yml"
pc deploy test
assert_rc 2
assert_err_contains "$MIG/0001_create_app/meta.yml:1:16: expected a boolean for \"transactional\""
untouched
rm "$MIG/0001_create_app/meta.yml"
ok "malformed meta.yml: exit 2 naming the file"

group "a failing statement names up.sql:LINE and the migration leaves nothing"
add_migration 0002 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY);"
add_migration 0003 broken "CREATE TABLE app.half_done (id int);
INSERT INTO app.half_done VALUES (1);
SELECT no_such_column FROM app.half_done;
CREATE TABLE app.never (id int);"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0003_broken/up.sql:3:"
assert_err_contains 'column "no_such_column" does not exist'
assert_no_table app.half_done
assert_no_table app.never
assert_table_exists app.account
assert_table_exists app.trade
assert_eq "0001|applied
0002|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" \
	"history: the earlier migrations of the run stay, no row for 0003"
assert_eq "deploy|failed" "$(psql_q "SELECT command, status FROM padctl.runs")" "the run is recorded as failed"
assert_eq 0 "$(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" \
	"advisory lock released"
ok "0003 fails at up.sql:3 (exit 1): app.half_done absent, 0001-0002 stay applied"

group "unreachable target"
port=$(free_port)
write_env "$DB" "$port"
pc status test
assert_rc 1
assert_out_contains "target t1: UNREACHABLE"
assert_out_contains "127.0.0.1:$port"
pc deploy test
assert_rc 1
assert_err_contains 'cannot connect to target "t1"'
ok "status of a target on a dead port shows UNREACHABLE and exits 1"

finish

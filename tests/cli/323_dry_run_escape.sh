#!/usr/bin/env bash
# A dry run cannot be switched off from SQL: each step runs in a READ ONLY
# transaction whose snapshot is taken at once and which is always rolled back,
# and the host refuses transaction control and changes of the read-only
# settings before they reach the server.
. "$(dirname "$0")/lib.sh"

new_project dryesc
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/host_probe"
add_migration 0001 create_app "CREATE SCHEMA app;"
add_migration 0002 escape "SET default_transaction_read_only = off;
BEGIN READ WRITE;
CREATE TABLE public.escaped_by_migration (i int);
COMMIT;"
# non-transactional, so load accepts its transaction control (a transactional one is refused at load)
printf 'transactional: false\n' >"$PROJECT/migrations/0002_escape/meta.yml"

group "a migration that tries to leave the read-only session writes nothing in a dry run"
pc deploy test --dry-run
assert_rc 0
assert_no_table public.escaped_by_migration
assert_eq f "$(psql_q "SELECT to_regnamespace('app') IS NOT NULL")" "no app schema"
ok "migration: nothing written"

for sql in "SET default_transaction_read_only = off" \
	"BEGIN READ WRITE" \
	"COMMIT; BEGIN READ WRITE" \
	"ROLLBACK" \
	"SET transaction_read_only = off" \
	"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE" \
	"SELECT set_config('transaction_read_only', 'off', false)" \
	"SELECT set_config('default_transaction_read_only', 'off', false)" \
	"RESET ALL"; do
	group "a plugin's \"$sql\" does not make the dry run write"
	cat >"$PROJECT/pipelines/standard.yml" <<P
steps:
  - host_probe: {mode: dry_escape, sql: "$sql"}
on_failure: stop
P
	pc deploy test --dry-run
	assert_no_table public.escaped
	assert_eq f "$(psql_q "SELECT to_regnamespace('padctl') IS NOT NULL")" "no ledger after a dry run"
	ok "dry run held against: $sql"
done

for sql in "COMMIT" "SET default_transaction_read_only = off" "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"; do
	group "a plugin's \"$sql\" through sql_query does not make the dry run write"
	cat >"$PROJECT/pipelines/standard.yml" <<P
steps:
  - host_probe: {mode: dry_escape, via: query, sql: "$sql"}
on_failure: stop
P
	pc deploy test --dry-run
	assert_rc 1
	assert_no_table public.escaped
	assert_eq f "$(psql_q "SELECT to_regnamespace('padctl') IS NOT NULL")" "no ledger after a dry run"
	ok "dry run held against sql_query: $sql"
done

# the escape a query could make: end the read-only transaction, then turn the setting off, then write
group "COMMIT, then SET default_transaction_read_only = off, then a write, all through sql_query"
cat >"$PROJECT/pipelines/standard.yml" <<P
steps:
  - host_probe: {mode: dry_escape, via: query, sql: "COMMIT"}
  - host_probe: {mode: dry_escape, via: query, sql: "SET default_transaction_read_only = off"}
on_failure: stop
P
pc deploy test --dry-run
assert_no_table public.escaped
ok "no way out through sql_query"

group "transaction control is refused by name before it reaches the server"
cat >"$PROJECT/pipelines/standard.yml" <<P
steps:
  - host_probe: {mode: dry_escape, sql: "BEGIN READ WRITE"}
P
pc deploy test --dry-run
assert_rc 1
assert_err_contains "transaction control is not allowed here"
assert_err_contains "dry run"
ok "refusal names the statement kind and the dry run"

finish

#!/usr/bin/env bash
# deploy --dry-run prints the SQL it would run and changes nothing; a mistyped
# --dryrun is a usage error that changes nothing either.
. "$(dirname "$0")/lib.sh"

new_project dry_run
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.dry_marker_account (id bigint PRIMARY KEY);"
add_migration 0002 add_trade "CREATE TABLE app.dry_marker_trade (id bigint PRIMARY KEY);"

catalog() {
	local dump
	dump=$("$TPG_BIN/pg_dump" --schema-only -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB") ||
		fail_now "pg_dump of $DB failed"
	# newer pg_dump wraps the dump in \restrict KEY with a random key
	grep -v -e '^\\restrict ' -e '^\\unrestrict ' <<<"$dump"
	psql_q "SELECT n.nspname, coalesce(c.relname, '-'), coalesce(c.relkind::text, '-')
		FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2"
	# and the rows padctl would write, if a ledger exists
	if [ "$(psql_q "SELECT to_regclass('padctl.runs') IS NOT NULL")" = t ]; then
		psql_q "SELECT 'runs', id, status FROM padctl.runs ORDER BY id"
		psql_q "SELECT 'migrations', version, status, checksum FROM padctl.migrations ORDER BY version"
	fi
}

group "dry run on a fresh database"
before=$(catalog)
pc deploy test --dry-run
assert_rc 0
assert_err_contains "dry run: nothing will change"
assert_err_contains "2 migrations to consider (dry run)"
assert_err_contains "0001_create_app would run in a transaction"
assert_err_contains "CREATE TABLE app.dry_marker_account (id bigint PRIMARY KEY);"
assert_err_contains "CREATE TABLE app.dry_marker_trade (id bigint PRIMARY KEY);"
after=$(catalog)
assert_eq "$before" "$after" "catalog (pg_dump --schema-only) unchanged by the dry run"
assert_eq f "$(psql_q "SELECT to_regnamespace('padctl') IS NOT NULL")" "no padctl schema"
assert_eq f "$(psql_q "SELECT to_regnamespace('app') IS NOT NULL")" "no app schema"
[ ! -e "$PROJECT/known_targets" ] || fail_now "the dry run wrote known_targets"
ok "deploy --dry-run prints both migrations' SQL, exits 0, catalog identical, no padctl schema"

group "mistyped --dryrun is a usage error"
pc deploy test --dryrun
assert_rc 2
assert_err_contains 'unknown option "--dryrun"'
assert_err_contains "--dry-run"
assert_eq "$before" "$(catalog)" "catalog unchanged by the mistyped run"
[ ! -e "$PROJECT/known_targets" ] || fail_now "the mistyped run wrote known_targets"
pc deploy --dryrun test
assert_rc 2
assert_eq "$before" "$(catalog)" "catalog unchanged (option before the env)"
pc deploy test -n
assert_rc 2
assert_eq "$before" "$(catalog)" "catalog unchanged (unknown short option)"
ok "--dryrun / -n exit 2 and change nothing"

group "dry run with a ledger and one pending migration"
rm -rf "$PROJECT/migrations/0002_add_trade"
pc deploy test
assert_rc 0
add_migration 0002 add_trade "CREATE TABLE app.dry_marker_trade (id bigint PRIMARY KEY);"
before=$(catalog)
pc deploy test --dry-run
assert_rc 0
assert_err_contains "1 migration to consider (dry run)"
assert_err_contains "0002_add_trade would run in a transaction"
assert_err_not_contains "0001_create_app would run"
assert_contains "$before" "dry_marker_account" "the catalog dump after the real deploy"
assert_eq "$before" "$(catalog)" "catalog and ledger rows unchanged"
assert_no_table app.dry_marker_trade
ok "dry run after a deploy: only 0002 shown, nothing written (no run row either)"

finish

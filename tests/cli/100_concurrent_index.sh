#!/usr/bin/env bash
# A non-transactional migration (meta.yml transactional: false) runs
# CREATE INDEX CONCURRENTLY while the deploy holds its lock, without
# deadlocking; a failed concurrent build leaves no invalid index behind.
. "$(dirname "$0")/lib.sh"

new_project cic
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.item (id bigint PRIMARY KEY, code text NOT NULL, qty int NOT NULL);
INSERT INTO app.item SELECT g, 'code' || (g % 500), g FROM generate_series(1, 2000) g;"
add_migration 0002 qty_index "CREATE INDEX CONCURRENTLY item_qty_idx ON app.item (qty);"
printf 'transactional: false\n' >"$PROJECT/migrations/0002_qty_index/meta.yml"

invalid_indexes() {
	psql_q "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1"
}

group "dry run flags it as non-transactional"
pc deploy test --dry-run
assert_rc 0
assert_err_contains "0002_qty_index would run outside a transaction (transactional: false)"
ok "dry run: 0002 would run outside a transaction"

group "CREATE INDEX CONCURRENTLY applies under the deploy lock"
CLI_LAST_CMD="timeout 60 padctl deploy test"
timeout 60 "$PADCTL_BIN" -C "$PROJECT" deploy test >"$PROJECT/d1.out" 2>"$PROJECT/d1.err" </dev/null
RC=$? OUT=$(cat "$PROJECT/d1.out") ERR=$(cat "$PROJECT/d1.err")
sanitizer_check
[ "$RC" != 124 ] || fail_now "deploy with CREATE INDEX CONCURRENTLY did not finish in 60 s (deadlock?)"
assert_rc 0
assert_err_contains "applied 0002_qty_index"
assert_eq "t" "$(psql_q "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = 'app.item_qty_idx'::regclass")" \
	"item_qty_idx is valid"
assert_eq "0001|applied
0002|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
assert_eq "" "$(invalid_indexes)" "invalid indexes"
ok "0002 (CREATE INDEX CONCURRENTLY) applied in one deploy, index valid"

group "a failing concurrent build is cleaned up"
add_migration 0003 unique_code "CREATE UNIQUE INDEX CONCURRENTLY item_code_uq ON app.item (code);"
printf 'transactional: false\n' >"$PROJECT/migrations/0003_unique_code/meta.yml"
CLI_LAST_CMD="timeout 60 padctl deploy test"
timeout 60 "$PADCTL_BIN" -C "$PROJECT" deploy test >"$PROJECT/d2.out" 2>"$PROJECT/d2.err" </dev/null
RC=$? OUT=$(cat "$PROJECT/d2.out") ERR=$(cat "$PROJECT/d2.err")
sanitizer_check
[ "$RC" != 124 ] || fail_now "the failing deploy did not finish in 60 s"
assert_rc 1
assert_err_contains "$PROJECT/migrations/0003_unique_code/up.sql:1: could not create unique index"
assert_err_contains "is duplicated"
assert_err_contains "index app.item_code_uq was left invalid by the failed migration; dropping it"
assert_err_contains "dropped invalid index app.item_code_uq"
assert_eq "" "$(invalid_indexes)" "invalid indexes after the failed build"
assert_eq f "$(psql_q "SELECT to_regclass('app.item_code_uq') IS NOT NULL")" "item_code_uq gone"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0003'")" "no history row for 0003"
assert_eq "failed" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "the run is recorded failed"
ok "failed CREATE UNIQUE INDEX CONCURRENTLY: exit 1, invalid index reported and dropped, no history row"

group "the lock is released after the failure"
pc status test
assert_rc 0
assert_out_contains "lock: free"
assert_out_matches "pending +0003_unique_code"
ok "status: lock free, 0003 still pending"

finish

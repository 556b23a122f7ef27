#!/usr/bin/env bash
# A non-transactional migration (meta.yml transactional: false) runs
# CREATE INDEX CONCURRENTLY while the deploy holds its lock, without
# deadlocking; a failed concurrent build leaves no invalid index behind.
. "$(dirname "$0")/lib.sh"

new_project cic
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.item (id bigint PRIMARY KEY, code text NOT NULL, qty int NOT NULL);
INSERT INTO app.item SELECT g, 'code' || (g % 500), g FROM generate_series(1, 2000) g;"
# two concurrent builds with a pause between them (only while public.slow_flag
# exists) so the test can look at the locks in the middle of the migration
add_migration 0002 qty_index "CREATE INDEX CONCURRENTLY item_qty_idx ON app.item (qty);
SELECT pg_sleep(CASE WHEN to_regclass('public.slow_flag') IS NOT NULL THEN 2 ELSE 0 END);
CREATE INDEX CONCURRENTLY item_code_idx ON app.item (code);"
printf 'transactional: false\n' >"$PROJECT/migrations/0002_qty_index/meta.yml"
psql_q "CREATE TABLE public.slow_flag ()" >/dev/null

sleeping_backend() {
	psql_q "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND wait_event = 'PgSleep'"
}
has_sleeper() { [ -n "$(sleeping_backend)" ]; }

invalid_indexes() {
	psql_q "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1"
}

group "dry run flags it as non-transactional"
pc deploy test --dry-run
assert_rc 0
assert_err_contains "0002_qty_index would run outside a transaction (transactional: false)"
ok "dry run: 0002 would run outside a transaction"

group "CREATE INDEX CONCURRENTLY applies under the deploy lock"
pc_bg "$PROJECT/d1" deploy test
pid=$BG_PID
wait_for 30 has_sleeper || { bg_wait "$pid" "$PROJECT/d1" 1; fail_now "0002 never reached its pause"; }
backend=$(sleeping_backend)
assert_eq "$backend" "$(psql_q "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" \
	"the backend running 0002 holds the deploy's advisory lock"
assert_eq "t" "$(psql_q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.item_qty_idx'::regclass")" \
	"item_qty_idx built (valid) while the lock is held"
bg_wait "$pid" "$PROJECT/d1" 60
assert_rc 0
assert_err_contains "applied 0002_qty_index"
assert_eq "t|t" "$(psql_q "SELECT bool_and(indisvalid), count(*) = 2 FROM pg_index
	WHERE indexrelid IN ('app.item_qty_idx'::regclass, 'app.item_code_idx'::regclass)")" "both indexes valid"
assert_eq "0001|applied
0002|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
assert_eq "" "$(invalid_indexes)" "invalid indexes"
psql_q "DROP TABLE public.slow_flag" >/dev/null
ok "0002 (two CREATE INDEX CONCURRENTLY) applied within 60 s while its session held the lock"

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
assert_err_contains "index app.item_code_uq named at $PROJECT/migrations/0003_unique_code/up.sql:1 is invalid (left by this failure); dropping it"
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

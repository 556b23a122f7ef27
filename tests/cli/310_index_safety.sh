#!/usr/bin/env bash
# migrate touches only the indexes a migration's own CREATE INDEX statements
# name, only in owned schemas, and never one another session is building:
# - concurrent builds of other sessions (in the protected schema and in an
#   owned one) survive a failing non-transactional migration;
# - an invalid index a killed build left behind is dropped before the
#   migration that names it runs again (IF NOT EXISTS would skip it);
# - every index a migration names must be valid before it is recorded.
. "$(dirname "$0")/lib.sh"

new_project idxsafe
add_migration 0001 tables "CREATE SCHEMA app;
CREATE TABLE app.t (id int PRIMARY KEY, code text NOT NULL);
INSERT INTO app.t SELECT g, 'c' || (g % 10) FROM generate_series(1, 200) g;
CREATE TABLE app.other (i int);
INSERT INTO app.other SELECT g FROM generate_series(1, 200) g;"
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.big (i int); INSERT INTO ref.big SELECT g FROM generate_series(1, 200) g" >/dev/null
pc deploy test
assert_rc 0

# holder: a session kept idle in a transaction through a fifo (no snapshot held,
# so only builds on the tables it locks wait for it)
mkfifo "$PROJECT/holder.fifo"
PGAPPNAME=cli_holder "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	<"$PROJECT/holder.fifo" >"$PROJECT/holder.out" 2>&1 &
track_pid $!
exec {HOLDER}>"$PROJECT/holder.fifo"
printf 'BEGIN;\nLOCK TABLE ref.big, app.other IN ROW EXCLUSIVE MODE;\n' >&"$HOLDER"
holder_locks() {
	[ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'cli_holder' AND l.granted AND l.mode = 'RowExclusiveLock'")" = 2 ]
}
wait_for 30 holder_locks || fail_now "the holder session never took its locks"

build() {   # NAME SQL: another session's CREATE INDEX CONCURRENTLY, in the background
	PGAPPNAME=$1 "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
		-c "$2" >"$PROJECT/$1.out" 2>&1 &
	track_pid $!
}
builds_waiting() {
	[ "$(psql_q "SELECT count(*) FROM pg_stat_progress_create_index p JOIN pg_index i ON i.indexrelid = p.index_relid
		WHERE p.datname = current_database() AND NOT i.indisvalid AND p.phase LIKE 'waiting for writers%'")" = 2 ]
}
migration_paused() {
	[ -n "$(psql_q "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND wait_event = 'PgSleep'
		AND application_name LIKE 'padctl%'")" ]
}

group "other sessions' concurrent builds survive a failing migration"
# 0002 pauses until two other sessions' builds show their invalid indexes
# (catalog rows: the progress view would stay frozen inside the DO block), then fails its own build:
# the other builds start while the migration runs, as in production
add_migration 0002 code_key "DO \$\$ BEGIN
  FOR n IN 1..1200 LOOP
    EXIT WHEN (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE NOT i.indisvalid AND c.relname IN ('big_i_idx', 'other_i_idx')) = 2;
    PERFORM pg_sleep(0.05);
  END LOOP;
END \$\$;
CREATE UNIQUE INDEX CONCURRENTLY t_code_key ON app.t (code);"
printf 'transactional: false\n' >"$PROJECT/migrations/0002_code_key/meta.yml"
pc_bg "$PROJECT/d1" deploy test
DEPLOY=$BG_PID
wait_for 30 migration_paused || { bg_wait "$DEPLOY" "$PROJECT/d1" 1; fail_now "0002 never reached its pause"; }
build cli_build_ref "CREATE INDEX CONCURRENTLY big_i_idx ON ref.big (i)"
BUILD_REF=$!
build cli_build_app "CREATE INDEX CONCURRENTLY other_i_idx ON app.other (i)"
BUILD_APP=$!
wait_for 30 builds_waiting || fail_now "the two concurrent builds never reached their wait"
bg_wait "$DEPLOY" "$PROJECT/d1" 120
assert_rc 1
assert_err_contains "0002_code_key/up.sql:8: could not create unique index"
assert_err_contains "dropped invalid index app.t_code_key"
assert_err_not_contains "big_i_idx"
assert_err_not_contains "other_i_idx"
assert_eq f "$(psql_q "SELECT to_regclass('app.t_code_key') IS NOT NULL")" "the migration's own invalid index is dropped"
kill -0 "$BUILD_REF" 2>/dev/null || fail_now "the build in ref died" "$(cat "$PROJECT/cli_build_ref.out")"
kill -0 "$BUILD_APP" 2>/dev/null || fail_now "the build in app died" "$(cat "$PROJECT/cli_build_app.out")"
assert_eq 2 "$(psql_q "SELECT count(*) FROM pg_stat_progress_create_index WHERE datname = current_database()")" "both builds still running"
printf 'COMMIT;\n' >&"$HOLDER"
builds_done() { ! kill -0 "$BUILD_REF" 2>/dev/null && ! kill -0 "$BUILD_APP" 2>/dev/null; }
wait_for 60 builds_done || fail_now "the concurrent builds did not finish once the holder committed"
assert_eq "t|t" "$(psql_q "SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = 'ref.big_i_idx'::regclass),
	(SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.other_i_idx'::regclass)")" "both builds completed valid"
ok "exit 1, only app.t_code_key dropped (and reported); ref.big_i_idx and app.other_i_idx built to the end"

group "an invalid index left by a killed build is dropped before the migration builds it again"
# the earlier failure, as a killed build leaves it: t_code_key exists and is invalid
sql_on "$TPG_PORT" "$DB" "CREATE UNIQUE INDEX CONCURRENTLY t_code_key ON app.t (code)" >/dev/null 2>&1
assert_eq f "$(psql_q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.t_code_key'::regclass")" "set-up: invalid index"
psql_q "UPDATE app.t SET code = 'c' || id" >/dev/null
printf 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_code_key ON app.t (code);\n' \
	>"$PROJECT/migrations/0002_code_key/up.sql"
pc deploy test
assert_rc 0
assert_err_contains "index app.t_code_key named at $PROJECT/migrations/0002_code_key/up.sql:1 is invalid (left by an earlier build); dropping it"
assert_eq t "$(psql_q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.t_code_key'::regclass")" "rebuilt valid"
assert_eq applied "$(psql_q "SELECT status FROM padctl.migrations WHERE version = '0002'")" "0002 recorded"
ok "IF NOT EXISTS no longer records an invalid index: dropped first, rebuilt valid, recorded"

group "an index the migration names must be valid before it is recorded"
# an invalid index of that name on another table is neither dropped nor accepted
psql_q "INSERT INTO app.other VALUES (1)" >/dev/null
sql_on "$TPG_PORT" "$DB" "CREATE UNIQUE INDEX CONCURRENTLY dup_idx ON app.other (i)" >/dev/null 2>&1
assert_eq f "$(psql_q "SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.dup_idx'::regclass")" "set-up: invalid index"
add_migration 0003 dup "CREATE INDEX CONCURRENTLY IF NOT EXISTS dup_idx ON app.t (id);"
printf 'transactional: false\n' >"$PROJECT/migrations/0003_dup/meta.yml"
pc deploy test
assert_rc 1
assert_err_contains "index app.dup_idx named at $PROJECT/migrations/0003_dup/up.sql:1 is invalid; left in place: it belongs to another table"
assert_err_contains "index app.dup_idx ($PROJECT/migrations/0003_dup/up.sql:1) is not valid, so the migration is not recorded as applied"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0003'")" "no history row for 0003"
assert_eq t "$(psql_q "SELECT to_regclass('app.dup_idx') IS NOT NULL")" "the other table's index is left"
ok "exit 1 naming app.dup_idx and up.sql:1; not recorded; the index left alone"

finish

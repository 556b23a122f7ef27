#!/usr/bin/env bash
# on_failure: rollback with the down strategy (issue 9): migration 3 of 5
# fails, migrations 1 and 2 of the run are undone by their down.sql, newest
# first, each with its history row; the owned schema's catalog and data are
# exactly what they were before the run; the rollback is a run of its own,
# linked to the failed one; the rolled-back migrations are pending again and
# the next deploy applies them. A non-transactional down runs like its up; a
# failing down stops; SIGKILL during the automatic rollback leaves each
# migration undone with its row or untouched, and padctl rollback finishes it.
. "$(dirname "$0")/lib.sh"

new_project rbdown
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - validate: preflight
  - migrate
  - validate: postflight
on_failure: rollback
P

# snapshot: the owned schema's catalog (pg_dump --schema-only) and a checksum of each table's rows
snapshot() {
	# \restrict lines carry a random key of each dump
	"$TPG_BIN/pg_dump" -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" --schema-only -n app "$DB" |
		sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' || fail_now "pg_dump failed"
	local t
	for t in $(psql_q "SELECT tablename FROM pg_tables WHERE schemaname = 'app' ORDER BY 1"); do
		printf '%s %s\n' "$t" "$(psql_q "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '')) FROM app.\"$t\" x")"
	done
}

add_migration 0001 base "CREATE SCHEMA app;
CREATE TABLE app.account (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO app.account VALUES (1, 'ann'), (2, 'bob');" "DROP SCHEMA app CASCADE;"
pc deploy test
assert_rc 0
before=$(snapshot)

add_migration 0002 add_email "ALTER TABLE app.account ADD COLUMN email text;
UPDATE app.account SET email = name || '@example.org';
CREATE INDEX account_email ON app.account (email);" "DROP INDEX app.account_email;
ALTER TABLE app.account DROP COLUMN email;"
add_migration 0003 entries "CREATE TABLE app.entry (id bigint PRIMARY KEY, account_id int NOT NULL REFERENCES app.account, amount numeric(12,2));
INSERT INTO app.entry SELECT g, 1 + g % 2, g * 1.5 FROM generate_series(1, 50) g;
UPDATE app.account SET name = upper(name);" "DROP TABLE app.entry;
UPDATE app.account SET name = lower(name);"
add_migration 0004 broken "CREATE TABLE app.half (id int);
SELECT no_such_function();" "DROP TABLE app.half;"
add_migration 0005 later "CREATE TABLE app.later (id int);" "DROP TABLE app.later;"
add_migration 0006 last "CREATE TABLE app.last (id int);" "DROP TABLE app.last;"

group "migration 3 of 5 fails: 2 and 1 of the run are rolled back by down, newest first"
pc deploy test
assert_rc 1
assert_err_contains "0004_broken/up.sql:2"
assert_err_contains "rolled back 0003_entries (down), 0002_add_email (down)"
assert_err_contains "the target is as it was before run"
assert_any_contains "rolled back 0003_entries by its down.sql"
after=$(snapshot)
[ "$before" = "$after" ] || fail_now "the owned schema differs from before the run" "before:
$before" "after:
$after"
ok "catalog (pg_dump --schema-only) and every table's rows equal the pre-run state"

group "the ledger: history rows rolled_back, a rollback run linked to the failed run"
failed=$(psql_q "SELECT id FROM padctl.runs WHERE command = 'deploy' ORDER BY started_at DESC LIMIT 1")
assert_eq "failed" "$(psql_q "SELECT status FROM padctl.runs WHERE id = '$failed'")" "the deploy run"
rb=$(psql_q "SELECT id FROM padctl.runs WHERE rollback_of = '$failed'")
[ -n "$rb" ] || fail_now "no rollback run linked to $failed"
assert_eq "rollback|ok" "$(psql_q "SELECT command, status FROM padctl.runs WHERE id = '$rb'")" "the rollback run"
assert_eq "1|rollback|down|ok" "$(psql_q "SELECT seq, step, phase, status FROM padctl.run_steps WHERE run_id = '$rb'")" "its step"
assert_eq "0001|applied
0002|rolled_back
0003|rolled_back" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
assert_eq "0002|$failed|down
0003|$failed|down" "$(psql_q "SELECT version, undone_run, strategy FROM padctl.rollbacks WHERE run_id = '$rb' ORDER BY version")" "rollback records"
pc history test
assert_out_contains "rollback"
pc status test
assert_rc 0
assert_out_matches "pending +0002_add_email"
ok "each migration's record went with its down.sql; both are pending again"

group "fixed, the next deploy applies the rolled-back migrations again"
printf 'CREATE TABLE app.half (id int);\n' >"$PROJECT/migrations/0004_broken/up.sql"
pc deploy test
assert_rc 0
assert_eq "0001|applied
0002|applied
0003|applied
0004|applied
0005|applied
0006|applied" "$(psql_q "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
assert_eq "50" "$(psql_q "SELECT count(*) FROM app.entry")" "0003 ran again"
ok "rolled_back rows replaced by the new run's"

group "a non-transactional migration's down runs statement by statement, like its up"
add_migration 0007 idx "CREATE INDEX CONCURRENTLY entry_amount ON app.entry (amount);" "DROP INDEX CONCURRENTLY app.entry_amount;"
printf 'transactional: false\n' >"$PROJECT/migrations/0007_idx/meta.yml"
add_migration 0008 bad "SELECT no_such_function();" "SELECT 1;"
pc deploy test
assert_rc 1
assert_err_contains "rolled back 0007_idx (down)"
assert_eq "" "$(psql_q "SELECT to_regclass('app.entry_amount')")" "the index is gone"
assert_eq "rolled_back" "$(psql_q "SELECT status FROM padctl.migrations WHERE version = '0007'")" "0007"
ok "DROP INDEX CONCURRENTLY ran outside a transaction; 0007 is pending again"

group "a failing down.sql stops the strategy; the error says what is still applied"
rm -rf "$PROJECT/migrations/0007_idx" "$PROJECT/migrations/0008_bad"
add_migration 0007 two "CREATE TABLE app.two (id int);" "DROP TABLE app.two;"
add_migration 0008 three "CREATE TABLE app.three (id int);" "DROP TABLE app.no_such_table;"
add_migration 0009 bad "SELECT no_such_function();" "SELECT 1;"
cat >>"$PROJECT/envs/test.yml" <<'Y'
rollback:
  restore: false
Y
pc deploy test
assert_rc 1
assert_err_contains "0009_bad/up.sql:1"
assert_err_contains "failed too"
assert_err_contains "0008_three/down.sql:1"
assert_err_contains "still applied: 0007_two, 0008_three"
assert_eq "0007|applied
0008|applied" "$(psql_q "SELECT version, status FROM padctl.migrations WHERE version IN ('0007', '0008') ORDER BY 1")" "history"
assert_eq "failed" "$(psql_q "SELECT status FROM padctl.runs WHERE command = 'rollback' ORDER BY started_at DESC LIMIT 1")" "the rollback run"
ok "the down that failed left its migration and the older one applied and recorded"

group "SIGKILL during the automatic rollback: consistent, and padctl rollback finishes it"
rm -rf "$PROJECT/migrations/0009_bad"
sed -i '/^rollback:/,$d' "$PROJECT/envs/test.yml"
printf 'migrations:\n  lock_timeout: 0\n' >>"$PROJECT/envs/test.yml"
printf 'DROP TABLE app.three;\n' >"$PROJECT/migrations/0008_three/down.sql"
pc deploy test
assert_rc 0
add_migration 0010 ten "CREATE TABLE app.ten (id int);" "DROP TABLE app.ten;"
add_migration 0011 eleven "CREATE TABLE app.eleven (id int);" "DROP TABLE app.eleven;"
# 0012 waits for the advisory lock the test holds, then fails: the lock lets the
# test take a share lock on app.ten before the rollback's down.sql of 0010 needs it
add_migration 0012 bad "SELECT pg_advisory_xact_lock(720720); SELECT no_such_function();" "SELECT 1;"
PGAPPNAME=rb_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" >/dev/null 2>&1 <<'L' &
SELECT pg_advisory_lock(720720);
SELECT pg_sleep(600);
L
locker=$!
track_pid "$locker"
held() { [ "$(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 720720 AND granted")" = 1 ]; }
wait_for 30 held || fail_now "the locker did not take the advisory lock"
pc_bg "$PADCTL_TEST_TMP/rbdown.$$" deploy test
waits_adv() { [ "$(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 720720 AND NOT granted")" = 1 ]; }
wait_for 60 waits_adv || fail_now "0012 never waited for the advisory lock"
# 0010 and 0011 are applied; lock app.ten, then let 0012 go on and fail
PGAPPNAME=rb_blocker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	-c "BEGIN; LOCK TABLE app.ten IN ACCESS SHARE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
track_pid $!
blocked() { [ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'ten' AND l.granted AND l.mode = 'AccessShareLock'")" = 1 ]; }
wait_for 30 blocked || fail_now "the blocker did not lock app.ten"
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rb_locker'" >/dev/null
waiting() { [ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'ten' AND NOT l.granted")" = 1 ]; }
wait_for 60 waiting || fail_now "the automatic rollback never waited on app.ten"
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rb_blocker'" >/dev/null
assert_eq "0010|applied
0011|rolled_back" "$(psql_q "SELECT version, status FROM padctl.migrations WHERE version IN ('0010', '0011') ORDER BY 1")" "history after the kill"
assert_eq "" "$(psql_q "SELECT to_regclass('app.eleven')")" "0011 undone with its row"
rm -rf "$PROJECT/migrations/0012_bad"
pc rollback test
assert_rc 0
assert_err_contains "marked interrupted"
assert_err_contains "rolled back 0010_ten (down)"
assert_eq "0010|rolled_back
0011|rolled_back" "$(psql_q "SELECT version, status FROM padctl.migrations WHERE version IN ('0010', '0011') ORDER BY 1")" "history"
assert_eq "interrupted" "$(psql_q "SELECT status FROM padctl.runs WHERE command = 'deploy' ORDER BY started_at DESC LIMIT 1")" "the killed deploy"
ok "killed while undoing 0010: 0011 rolled back with its row, 0010 applied; padctl rollback undid 0010"

group "a rollback step in a pipeline is refused before any database is touched"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate
  - rollback: down
P
pc deploy test
assert_rc 2
assert_err_contains "standard.yml:3:5: step \"rollback\" is a rollback strategy, not a pipeline step"
ok "refused with the file and line"

finish

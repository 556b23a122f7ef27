#!/usr/bin/env bash
# Several transactional migrations travel in one message (the "tx" service,
# version 2), each still its own transaction: a failure in the middle of a
# message (an error, the guard's refusal, SIGINT) leaves the ones before it
# applied and recorded, runs none after it and names its file and line; a
# second deploy goes on from there. Each history row measures its own
# migration, the session is reset between migrations, a lock timeout in the
# middle is retried from the migration that waited, and a rollback (the
# command, or on_failure: rollback) undoes what a message committed.
. "$(dirname "$0")/lib.sh"

new_project batch
MIG=$PROJECT/migrations
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.employee (id bigint PRIMARY KEY, name text NOT NULL);
	INSERT INTO ref.employee VALUES (1, 'a');" >/dev/null
hist() { psql_q "SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations WHERE status = 'applied'"; }
tables() { psql_q "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'app'"; }

group "a failure in the middle of a message: the ones before stay, none after runs"
add_migration 0001 a "CREATE SCHEMA app;
CREATE TABLE app.t1 AS SELECT statement_timestamp() AS ts;"
add_migration 0002 b "CREATE TABLE app.t2 AS SELECT statement_timestamp() AS ts;
SET application_name = 'leaked_871';"
add_migration 0003 c "CREATE TABLE app.t3 AS SELECT statement_timestamp() AS ts;
DROP TABLE IF EXISTS app.nothing_here;"
add_migration 0004 d "CREATE TABLE app.t4 AS SELECT statement_timestamp() AS ts, current_setting('application_name') AS app;"
add_migration 0005 e "CREATE TABLE app.t5 AS SELECT statement_timestamp() AS ts;"
add_migration 0006 f "CREATE TABLE app.t6 (i int);

INSERT INTO app.t6 SELECT 1 / (i - 1) FROM generate_series(1, 1) i;"
for v in 7 8 9; do add_migration "000$v" "x$v" "CREATE TABLE app.t$v (i int);"; done
add_migration 0010 x10 "CREATE TABLE app.t10 (i int);"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0006_f/up.sql:3: division by zero"
assert_err_contains "SQLSTATE 22012"
assert_err_contains "migration 0006_f did not apply"
assert_err_contains "$MIG/0003_c/up.sql:2: NOTICE: table \"nothing_here\" does not exist, skipping"
assert_err_contains "[5/10] applied 0005_e in"
assert_err_not_contains "applied 0006_f"
assert_eq "0001,0002,0003,0004,0005" "$(hist)" "history"
assert_eq "t1,t2,t3,t4,t5" "$(tables)" "tables: 0006 rolled back, nothing after it ran"
# statements of one message share its arrival time
assert_eq 1 "$(psql_q "SELECT count(DISTINCT ts) FROM (SELECT ts FROM app.t1 UNION ALL SELECT ts FROM app.t2
	UNION ALL SELECT ts FROM app.t3 UNION ALL SELECT ts FROM app.t4 UNION ALL SELECT ts FROM app.t5) s")" \
	"0001-0005 arrived in one message"
assert_not_contains "$(psql_q "SELECT app FROM app.t4")" leaked_871 "0004's session (reset after 0002)"
ok "0001-0005 applied and recorded, 0006 named at up.sql:3 and rolled back, 0007-0010 never ran"

group "a second deploy after the fix goes on from the failed migration"
add_migration 0006 f "CREATE TABLE app.t6 (i int);

INSERT INTO app.t6 SELECT 1;"
pc deploy test
assert_rc 0
assert_err_contains "[1/5] applied 0006_f in"
assert_err_contains "[5/5] applied 0010_x10 in"
assert_eq "0001,0002,0003,0004,0005,0006,0007,0008,0009,0010" "$(hist)" "history"
assert_eq "t1,t10,t2,t3,t4,t5,t6,t7,t8,t9" "$(tables)" "tables"
ok "0006-0010 applied"

group "each history row measures its own migration"
add_migration 0011 fast1 "CREATE TABLE app.d1 (i int);"
add_migration 0012 slow "SELECT pg_sleep(1);
CREATE TABLE app.d2 (i int);"
add_migration 0013 fast2 "CREATE TABLE app.d3 (i int);"
add_migration 0014 fast3 "CREATE TABLE app.d4 (i int);"
pc deploy test
assert_rc 0
dur() { psql_q "SELECT duration_ms FROM padctl.migrations WHERE version = '$1'"; }
assert_eq t "$(psql_q "SELECT $(dur 0012) >= 1000")" "0012 slept 1 s"
assert_eq t "$(psql_q "SELECT $(dur 0013) < $(dur 0012) AND $(dur 0014) < $(dur 0012)")" \
	"0013 and 0014 recorded shorter than 0012 (not counted from the message's arrival)"
ok "0012 took its second, the fast ones after it their own time"

group "the guard refuses a migration in the middle of a message: it stops there"
add_migration 0015 g1 "CREATE TABLE app.g1 (i int);"
add_migration 0016 g2 "CREATE TABLE app.g2 (i int);
DO \$\$ BEGIN EXECUTE 'INSERT INTO ref.' || 'employee VALUES (2, ''b'')'; END \$\$;"
add_migration 0017 g3 "CREATE TABLE app.g3 (i int);"
pc deploy test
assert_rc 1
assert_err_contains "0016_g2/up.sql wrote rows to protected schema \"ref\""
assert_eq t "$(psql_q "SELECT to_regclass('app.g1') IS NOT NULL AND to_regclass('app.g2') IS NULL
	AND to_regclass('app.g3') IS NULL")" "g1 stays, g2 rolled back, g3 never ran"
assert_eq 1 "$(psql_q "SELECT count(*) FROM ref.employee")" "ref.employee unchanged"
assert_eq "0015" "$(psql_q "SELECT string_agg(version, ',') FROM padctl.migrations WHERE version >= '0015'")" \
	"history: 0015 only"
rm -r "$MIG/0016_g2"
pc deploy test
assert_rc 0
assert_table_exists app.g3
ok "0015 applied, 0016 refused and rolled back, 0017 applied by the next deploy"

group "a lock timeout in the middle of a message is retried from the migration that waited"
cat >>"$PROJECT/padctl.yml" <<'EOF2'
migrations:
  lock_timeout: 1
EOF2
mkfifo "$PROJECT/blocker.fifo"
PGAPPNAME=cli_blocker871 "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	<"$PROJECT/blocker.fifo" >"$PROJECT/blocker.out" 2>&1 &
track_pid $!
exec {BLOCKER}>"$PROJECT/blocker.fifo"
printf 'BEGIN;\nLOCK TABLE app.t1 IN ACCESS EXCLUSIVE MODE;\n' >&"$BLOCKER"
has_blocker() {
	[ -n "$(psql_q "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'cli_blocker871' AND l.granted AND l.mode = 'AccessExclusiveLock'")" ]
}
wait_for 30 has_blocker || fail_now "the blocker never took its lock"
add_migration 0018 l1 "CREATE TABLE app.l1 (i int);"
add_migration 0019 l2 "CREATE TABLE app.l2 (i int);
ALTER TABLE app.t1 ADD COLUMN x int;"
add_migration 0020 l3 "CREATE TABLE app.l3 (i int);"
LOG=$PADCTL_TEST_TMP/batch871.$$
pc_bg "$LOG" deploy test
waited() { grep -q "0019_l2: could not get a lock within 1000 ms (attempt 1 of 3); retrying" "$LOG.err"; }
wait_for 120 waited || fail_now "the deploy never reported the lock timeout of 0019" "$(cat "$LOG.err")"
printf 'COMMIT;\n' >&"$BLOCKER"
exec {BLOCKER}>&-
bg_wait "$BG_PID" "$LOG" 120
assert_rc 0
assert_err_contains "[1/3] applied 0018_l1 in"
assert_eq 1 "$(grep -c "applied 0018_l1" <<<"$ERR")" "0018 applied once"
assert_err_contains "[3/3] applied 0020_l3 in"
assert_eq "0018,0019,0020" "$(psql_q "SELECT string_agg(version, ',' ORDER BY version) FROM padctl.migrations
	WHERE version >= '0018'")" "history"
assert_eq t "$(psql_q "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'app.t1'::regclass
	AND attname = 'x')")" "0019 added its column"
ok "0018 applied once, 0019 waited, was retried and applied with 0020 once the lock was free"

group "a rollback undoes every migration of a run that went in one message"
for v in 21 22 23 24; do
	add_migration "00$v" "r$v" "CREATE TABLE app.r$v AS SELECT statement_timestamp() AS ts;" "DROP TABLE app.r$v;"
done
pc deploy test
assert_rc 0
assert_eq 1 "$(psql_q "SELECT count(DISTINCT ts) FROM (SELECT ts FROM app.r21 UNION ALL SELECT ts FROM app.r22
	UNION ALL SELECT ts FROM app.r23 UNION ALL SELECT ts FROM app.r24) s")" "one message"
pc rollback test
assert_rc 0
assert_eq "" "$(psql_q "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'app'
	AND tablename LIKE 'r%'")" "no table of the run is left"
assert_eq "rolled_back|4" "$(psql_q "SELECT string_agg(DISTINCT status, ','), count(*) FROM padctl.migrations
	WHERE version BETWEEN '0021' AND '0024'")" "the run's history rows"
assert_eq "applied" "$(psql_q "SELECT status FROM padctl.migrations WHERE version = '0020'")" "the run before stays"
ok "0021-0024 rolled back, 0020 stays applied"

group "SIGINT in the middle of a message: the ones before stay, the rest never ran"
add_migration 0028 s28 "CREATE TABLE app.s28 (i int);"
add_migration 0029 s29 "SELECT pg_sleep(3600);
CREATE TABLE app.s29 (i int);"
add_migration 0030 s30 "CREATE TABLE app.s30 (i int);"
sleeping() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE 'padctl %' AND wait_event = 'PgSleep'")" != 0 ]
}
pc_bg "$LOG.int" deploy test
wait_for 120 sleeping || fail_now "padctl never reached 0029's sleep" "$(cat "$LOG.int.err")"
kill -INT "$BG_PID"
bg_wait "$BG_PID" "$LOG.int" 60
assert_rc 130
assert_err_contains "canceling statement due to user request"
assert_err_contains "0029_s29/up.sql:1"
assert_eq "0028" "$(psql_q "SELECT string_agg(version, ',') FROM padctl.migrations WHERE version >= '0028'")" \
	"history: 0028 only"
assert_eq t "$(psql_q "SELECT to_regclass('app.s28') IS NOT NULL AND to_regclass('app.s29') IS NULL
	AND to_regclass('app.s30') IS NULL")" "s28 stays, s29 rolled back, s30 never ran"
rm -r "$MIG/0029_s29"
pc deploy test
assert_rc 0
assert_table_exists app.s30
ok "0028 applied, 0029 cancelled and rolled back, 0030 applied by the next deploy"

group "on_failure: rollback undoes the migrations a failed message committed"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate
on_failure: rollback
P
add_migration 0031 f31 "CREATE TABLE app.f31 (i int);" "DROP TABLE app.f31;"
add_migration 0032 f32 "CREATE TABLE app.f32 (i int);" "DROP TABLE app.f32;"
add_migration 0033 f33 "CREATE TABLE app.f33 (i int);
SELECT 1 / 0;" "DROP TABLE app.f33;"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0033_f33/up.sql:2: division by zero"
assert_err_contains "rolled back 0032_f32 (down), 0031_f31 (down)"
assert_eq "" "$(psql_q "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'app'
	AND tablename LIKE 'f3%'")" "no table of the run is left"
ok "0031 and 0032 committed in the message, then undone by the run's rollback"

finish

#!/usr/bin/env bash
# A transactional migration travels as one message: the session reset, BEGIN,
# every statement of up.sql, the history row, the guard's check and COMMIT.
# What the server says still names the right line of the file (a NOTICE of
# each statement, an error in the middle one, an error inside a function an
# earlier statement of the same file defined), nothing of a failed migration
# stays, and a lock timeout in its second statement is still retried.
. "$(dirname "$0")/lib.sh"

new_project onetrip
MIG=$PROJECT/migrations
TPG_LOG=$(sed -n 's/^PGLOG=//p' "$PADCTL_TEST_PG_ENV")

group "the statements, the history row and COMMIT arrive in one message"
psql_q "ALTER DATABASE \"$DB\" SET log_statement = 'all'" >/dev/null
add_migration 0001 one "CREATE SCHEMA app;
CREATE TABLE app.m (note text DEFAULT 'marker-$DB');
CREATE INDEX m_note ON app.m (note);
CREATE TABLE app.same AS SELECT statement_timestamp() = transaction_timestamp() AS one_message;"
pc deploy test
assert_rc 0
# statements of one message share its arrival time, and so does the transaction that BEGIN in it started
assert_eq t "$(psql_q "SELECT one_message FROM app.same")" "the 4th statement arrived with BEGIN"
assert_eq t "$(psql_q "SELECT duration_ms >= 0 FROM padctl.migrations WHERE version = '0001'")" \
	"the duration measured on the server"
if [ -r "$TPG_LOG" ]; then
	# the server logs a message as one entry: each entry starts with a time stamp
	entries=$(awk -v m="marker-$DB'" '
		/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / { if (e != "" && index(e, m)) { n++; last = e } e = "" }
		{ e = e $0 "\n" }
		END { if (e != "" && index(e, m)) { n++; last = e } printf "%d\n%s", n, last }' "$TPG_LOG")
	assert_eq 1 "$(head -n1 <<<"$entries")" "log entries holding the migration's text"
	for want in "BEGIN;" "CREATE SCHEMA app" "CREATE INDEX m_note" "CREATE TABLE app.same" \
		"INSERT INTO padctl.migrations" "'0001'" "COMMIT"; do
		assert_contains "$entries" "$want" "the one message"
	done
	ok "up.sql, BEGIN, the history row and COMMIT were one message in the server's statement log"
else
	ok "one message by the statements' timestamps (the server log $TPG_LOG is not readable here)"
fi
psql_q "ALTER DATABASE \"$DB\" RESET log_statement" >/dev/null

group "a NOTICE of each statement names its own line"
add_migration 0002 notices "DROP TABLE IF EXISTS app.gone_first;
DROP TABLE IF EXISTS app.gone_second;

DO \$\$
BEGIN
  RAISE NOTICE 'the third says hi';
END
\$\$;"
pc deploy test
assert_rc 0
assert_err_contains "$MIG/0002_notices/up.sql:1: NOTICE: table \"gone_first\" does not exist, skipping"
assert_err_contains "$MIG/0002_notices/up.sql:2: NOTICE: table \"gone_second\" does not exist, skipping"
assert_err_contains "$MIG/0002_notices/up.sql:6: NOTICE: the third says hi"
ok "notices of statements 1, 2 and 3 (inside a DO block) name lines 1, 2 and 6"

group "a runtime error in the 2nd of 3 statements names its line; nothing of the migration stays"
add_migration 0003 broken "CREATE TABLE app.first (i int);
INSERT INTO app.first
  SELECT 1 / (i - 1) FROM generate_series(1, 1) i;
CREATE TABLE app.third (i int);"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0003_broken/up.sql:2: division by zero"
assert_err_contains "SQLSTATE 22012"
assert_err_contains "migration 0003_broken did not apply"
assert_no_table app.first
assert_no_table app.third
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0003'")" "no history row"
rm -r "$MIG/0003_broken"
ok "up.sql:2: division by zero; app.first rolled back, no history row"

group "an error inside a function an earlier statement defined names the body's line"
add_migration 0004 fn "CREATE TABLE app.before_fn (i int);
CREATE FUNCTION app.f() RETURNS int LANGUAGE plpgsql AS \$\$
BEGIN
  PERFORM 1;
  RETURN 1 / 0;
END
\$\$;
SELECT app.f();"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0004_fn/up.sql:5: division by zero"
assert_err_contains "PL/pgSQL function app.f() line 4"
assert_no_table app.before_fn
rm -r "$MIG/0004_fn"
ok "line 4 of app.f's body is up.sql:5"

group "a syntax error only the server sees is named in the file"
# libpg_query reads this as a statement; the server refuses the option when it runs it
add_migration 0005 option "CREATE TABLE app.opt_a (i int);
CREATE TABLE app.opt_b (i int) WITH (no_such_option_870 = 1);"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0005_option/up.sql:2: unrecognized parameter \"no_such_option_870\""
assert_no_table app.opt_a
rm -r "$MIG/0005_option"
ok "an error of the 2nd statement names up.sql:2 and app.opt_a is rolled back"

group "a lock timeout in the 2nd statement is retried, then fails naming its line"
cat >>"$PROJECT/padctl.yml" <<'EOF2'
migrations:
  lock_timeout: 1
EOF2
mkfifo "$PROJECT/blocker.fifo"
PGAPPNAME=cli_blocker870 "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	<"$PROJECT/blocker.fifo" >"$PROJECT/blocker.out" 2>&1 &
track_pid $!
exec {BLOCKER}>"$PROJECT/blocker.fifo"
printf 'BEGIN;\nLOCK TABLE app.m IN ACCESS EXCLUSIVE MODE;\n' >&"$BLOCKER"
has_blocker() {
	[ -n "$(psql_q "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'cli_blocker870' AND l.granted AND l.mode = 'AccessExclusiveLock'")" ]
}
wait_for 30 has_blocker || fail_now "the blocker never took its lock"
add_migration 0006 locked "CREATE TABLE app.lock_first (i int);
ALTER TABLE app.m ADD COLUMN x int;"
pc deploy test
assert_rc 1
assert_err_contains "$MIG/0006_locked/up.sql:2: canceling statement due to lock timeout"
assert_err_contains "0006_locked: could not get a lock within 1000 ms (attempt 1 of 3); retrying"
assert_err_contains "(attempt 2 of 3); retrying"
assert_err_contains "migration 0006_locked waited 3 times for a lock, 1000 ms each"
assert_no_table app.lock_first
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0006'")" "no history row"
printf 'COMMIT;\n' >&"$BLOCKER"
pc deploy test
assert_rc 0
assert_table_exists app.lock_first
ok "up.sql:2 timed out on its lock, was retried 3 times and left nothing; applied once the lock was free"

finish

#!/usr/bin/env bash
# sigkill.sh [ROUNDS]: a SIGKILL storm, run by hand (not part of ctest).
#
# ROUNDS times (default 100): start `padctl deploy` of 20 transactional
# migrations, kill -9 it at a random moment, wait until the server has ended
# its session, and check that no migration is half-applied (a table exists
# exactly when its history row does). When everything is applied the schemas
# are dropped and the storm goes on. At the end one clean deploy must close
# every killed run as `interrupted`: 0 runs and 0 steps are left `running`.
#
# Run it from a build directory, with the suite's PostgreSQL:
#   bash ../tests/harness/pg.sh start "$PWD/testpg"
#   PADCTL_BIN=$PWD/padctl PADCTL_TEST_PG_ENV=$PWD/testpg/env \
#     PADCTL_TEST_TMP=$PWD/testtmp bash ../tests/storm/sigkill.sh 100
#   bash ../tests/harness/pg.sh stop "$PWD/testpg"
# It kills only the padctl processes it started. A round takes about 2 s.
. "$(dirname "$0")/../cli/lib.sh"

ROUNDS=${1:-100}
case $ROUNDS in '' | *[!0-9]*) die "ROUNDS must be a number, not \"$ROUNDS\"" ;; esac
N=20

new_project storm
add_migration 0000 create_app "CREATE SCHEMA app;"
for i in $(seq -w 1 $N); do
	add_migration "00$i" "t$i" "CREATE TABLE app.t$i AS SELECT g AS id FROM generate_series(1, 20000) g;
SELECT pg_sleep(0.08);"
done

sessions() {
	psql_q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND application_name LIKE 'padctl %'"
}
no_sessions() { [ "$(sessions)" = 0 ]; }

has_ledger() { [ "$(psql_q "SELECT to_regclass('padctl.migrations') IS NOT NULL")" = t ]; }
# partial: migrations whose table and history row disagree (must be none)
partial() {
	local hist="SELECT NULL::text WHERE false"
	has_ledger && hist="SELECT version FROM padctl.migrations"
	psql_q "SELECT string_agg(v, ' ') FROM (
		SELECT lpad(i::text, 4, '0') AS v FROM generate_series(1, $N) i
		WHERE (to_regclass('app.t' || lpad(i::text, 2, '0')) IS NOT NULL) <>
		      (lpad(i::text, 4, '0') IN ($hist))) x"
}
applied() {
	if has_ledger; then psql_q "SELECT count(*) FROM padctl.migrations"; else echo 0; fi
}

group "SIGKILL storm, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
	pc_bg "$PROJECT/round" deploy test --lock-timeout 60
	pid=$BG_PID
	# a random moment in the first 2 s of the deploy (it takes about 2.5 s)
	sleep "$((RANDOM % 2)).$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ $? != 137 ] || killed=$((killed + 1))
	wait_for 120 no_sessions || fail_now "round $r: padctl's session still on the server after 120 s"
	bad=$(partial)
	[ -z "$bad" ] || fail_now "round $r: partially applied migrations: $bad"
	if [ "$(applied)" -gt $N ]; then
		psql_q "DROP SCHEMA app CASCADE; DROP SCHEMA padctl CASCADE" >/dev/null
		resets=$((resets + 1))
	fi
	printf 'round %d: %s applied\n' "$r" "$(applied)"
done
ok "$ROUNDS rounds ($killed killed mid-run, $resets full resets): 0 partial migrations"

group "one clean deploy closes every killed run"
pc deploy test --lock-timeout 60
assert_rc 0
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.runs WHERE status = 'running'")" "runs left running"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.run_steps WHERE status = 'running'")" "steps left running"
assert_eq "" "$(partial)" "partial migrations"
ok "0 runs and 0 steps left running; $(psql_q "SELECT count(*) FROM padctl.runs WHERE status = 'interrupted'") runs interrupted since the last reset"

finish

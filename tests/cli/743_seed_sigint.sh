#!/usr/bin/env bash
# Ctrl-C in the middle of a seed set: the statement in flight is cancelled,
# the set's transaction is rolled back as a whole (the file before it too),
# nothing is recorded in padctl.seeds, the run is recorded as cancelled, and
# the next `padctl seed` applies the set.
. "$(dirname "$0")/lib.sh"

new_project seedint
printf '%s\n' "steps:" "  - migrate" "  - seed" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
add_migration 0001 tables "CREATE SCHEMA app; CREATE TABLE app.t (i int PRIMARY KEY);"
write_env "$DB" "$TPG_PORT" "seeds: [slow]"
mkdir -p "$PROJECT/seeds/slow"
printf '%s\n' "INSERT INTO app.t VALUES (1) ON CONFLICT DO NOTHING;" >"$PROJECT/seeds/slow/001_first.sql"
printf '%s\n' "INSERT INTO app.t VALUES (2) ON CONFLICT DO NOTHING;" "SELECT pg_sleep(3600);" \
	>"$PROJECT/seeds/slow/002_sleep.sql"

padctl_sleeping() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE 'padctl %' AND wait_event = 'PgSleep'")" != 0 ]
}

group "SIGINT while the second file of a set runs"
pc_bg "$PROJECT/s1" deploy test
PADCTL=$BG_PID
wait_for 60 padctl_sleeping || fail_now "padctl never reached the sleeping seed file"
kill -INT "$PADCTL"
bg_wait "$PADCTL" "$PROJECT/s1" 60
assert_rc 130
assert_err_contains "seeds/slow/002_sleep.sql:2"
assert_eq 0 "$(psql_q "SELECT count(*) FROM app.t")" "the set's first file was rolled back with it"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.seeds")" "nothing recorded"
assert_eq cancelled "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "the run"
assert_eq 1 "$(psql_q "SELECT count(*) FROM padctl.migrations")" "the migration before it stays applied"
ok "one set, one transaction, also when interrupted"

group "the next seed applies the set"
printf '%s\n' "INSERT INTO app.t VALUES (2) ON CONFLICT DO NOTHING;" >"$PROJECT/seeds/slow/002_sleep.sql"
pc seed test
assert_rc 0
assert_eq 2 "$(psql_q "SELECT count(*) FROM app.t")" "both files"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.seeds")" "both recorded"
ok "finished"

finish

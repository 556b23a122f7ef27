#!/usr/bin/env bash
# A migration retried after a lock timeout starts again from the session
# padctl connected with: what its first try SET (search_path) does not carry
# into the retry, for a non-transactional migration as for a transactional one.
. "$(dirname "$0")/lib.sh"

new_project lockretry
cat >>"$PROJECT/padctl.yml" <<'EOF2'
migrations:
  lock_timeout: 1
EOF2
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.t (id int PRIMARY KEY);"
pc deploy test
assert_rc 0

# the blocker: a session idle in a transaction holding ACCESS EXCLUSIVE on app.t
mkfifo "$PROJECT/blocker.fifo"
PGAPPNAME=cli_blocker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	<"$PROJECT/blocker.fifo" >"$PROJECT/blocker.out" 2>&1 &
track_pid $!
exec {BLOCKER}>"$PROJECT/blocker.fifo"
printf 'BEGIN;\nLOCK TABLE app.t IN ACCESS EXCLUSIVE MODE;\n' >&"$BLOCKER"
has_blocker() {
	[ -n "$(psql_q "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'cli_blocker' AND l.granted AND l.mode = 'AccessExclusiveLock'")" ]
}
wait_for 30 has_blocker || fail_now "the blocker never took its lock"

group "a non-transactional migration's retry does not inherit its first try's search_path"
add_migration 0002 probe "CREATE TABLE IF NOT EXISTS leak_probe (i int);
SET search_path TO app;
ALTER TABLE app.t ADD COLUMN x int;"
printf 'transactional: false\n' >"$PROJECT/migrations/0002_probe/meta.yml"
pc deploy test
assert_rc 1
assert_err_contains "(attempt 2 of 3); retrying"
assert_table_exists public.leak_probe
assert_no_table app.leak_probe
ok "every try created (or found) public.leak_probe, none app.leak_probe"

finish

#!/usr/bin/env bash
# A backup that cannot be taken stops the run before migrate: nothing is
# migrated, no backup file is left, nothing is recorded as a backup. The
# pg_dump must be the server's major version: a missing one and one that
# says it is another version are clear errors naming both versions and the
# Debian package (PADCTL_PG_CLIENT_ROOT points the host at a fake client
# tree); a real pg_dump failure (a table locked by another session past
# migrations.lock_timeout) is one too.
. "$(dirname "$0")/lib.sh"

new_project bkfail
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - backup
  - migrate
on_failure: stop
EOF
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); INSERT INTO app.t VALUES (1);"
pc deploy test
assert_rc 0
add_migration 0002 more "CREATE TABLE app.u (id int);"
MAJOR=$(psql_q "SELECT current_setting('server_version_num')::int / 10000")
BK=$PROJECT/.padctl/backups/test/t1
nothing_migrated() { # after a failed run: 0002 not applied, no backup of the run, no file
	assert_no_table app.u
	assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0002'")" "0002 must not be recorded"
	local run
	run=$(psql_q "SELECT id FROM padctl.runs ORDER BY started_at DESC LIMIT 1")
	assert_eq "1 backup failed" "$(psql_q "SELECT string_agg(seq || ' ' || step || ' ' || status, ',') FROM padctl.run_steps WHERE run_id = '$run'")" \
		"the run stopped at the backup step"
	assert_eq "failed" "$(psql_q "SELECT status FROM padctl.runs WHERE id = '$run'")" "the run failed"
	assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.backups WHERE run_id = '$run'")" "no backup recorded"
	[ ! -e "$BK/$run.dump" ] || fail_now "the failed backup left $BK/$run.dump"
}

FAKE=$(mktemp -d "$PADCTL_TEST_TMP/bkfail-root.XXXXXX") || die "mktemp"
CLI_DIRS+=("$FAKE")

group "no pg_dump of the server's version: a clear error, nothing migrated"
mkdir -p "$FAKE/$((MAJOR - 1))/bin"
printf '#!/bin/sh\necho "pg_dump (PostgreSQL) %s.2"\n' "$((MAJOR - 1))" >"$FAKE/$((MAJOR - 1))/bin/pg_dump"
chmod 755 "$FAKE/$((MAJOR - 1))/bin/pg_dump"
PADCTL_PG_CLIENT_ROOT=$FAKE pc deploy test
assert_rc 1
assert_err_contains "could not find pg_dump for PostgreSQL $MAJOR"
assert_err_contains "pg_dump of version $((MAJOR - 1)) is installed under $FAKE"
assert_err_contains "install the Debian package postgresql-client-$MAJOR"
nothing_migrated
ok "missing pg_dump: error names both versions and the package"

group "a pg_dump that is another version: a clear error, nothing migrated"
mkdir -p "$FAKE/$MAJOR/bin"
printf '#!/bin/sh\necho "pg_dump (PostgreSQL) %s.9 (Debian)"\n' "$((MAJOR - 1))" >"$FAKE/$MAJOR/bin/pg_dump"
chmod 755 "$FAKE/$MAJOR/bin/pg_dump"
PADCTL_PG_CLIENT_ROOT=$FAKE pc deploy test
assert_rc 1
assert_err_contains "pg_dump at \"$FAKE/$MAJOR/bin/pg_dump\" is PostgreSQL $((MAJOR - 1)), but the target's server is PostgreSQL $MAJOR"
assert_err_contains "install the Debian package postgresql-client-$MAJOR"
nothing_migrated
printf '#!/bin/sh\necho "I am not pg_dump"\n' >"$FAKE/$MAJOR/bin/pg_dump"
PADCTL_PG_CLIENT_ROOT=$FAKE pc deploy test
assert_rc 1
assert_err_contains "could not tell which PostgreSQL version pg_dump at \"$FAKE/$MAJOR/bin/pg_dump\" belongs to"
assert_err_contains "I am not pg_dump"
nothing_migrated
ok "mismatched pg_dump: error names both versions and the package"

group "a pg_dump that fails half-way: nothing migrated, no file left"
# the right version, then a partial dump and a failure
printf '#!/bin/sh\ncase "$*" in *--version*) echo "pg_dump (PostgreSQL) %s.1"; exit 0;; esac\nprintf PGDMP-partial\necho "pg_dump: error: simulated failure" >&2\nexit 1\n' "$MAJOR" \
	>"$FAKE/$MAJOR/bin/pg_dump"
PADCTL_PG_CLIENT_ROOT=$FAKE pc deploy test
assert_rc 1
assert_err_contains "pg_dump failed on target \"t1\" (step \"backup\") with exit status 1"
assert_err_contains "simulated failure"
nothing_migrated
ok "failed pg_dump stops the run"

group "a real pg_dump failure: a table locked past migrations.lock_timeout"
printf 'migrations:\n  lock_timeout: 1\n' >>"$PROJECT/padctl.yml"
"$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
	-c "BEGIN; LOCK TABLE app.t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
HOLDER=$!
track_pid "$HOLDER"
wait_for 30 bash -c "[ \"\$('$PSQL' -XAtq -h '$TPG_HOST' -p $TPG_PORT -U '$TPG_USER' -d '$DB' -c \"SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'app.t'::regclass AND granted\")\" = 1 ]" ||
	fail_now "the lock holder did not get its lock"
pc deploy test
assert_rc 1
assert_err_contains "pg_dump failed on target \"t1\" (step \"backup\")"
assert_err_contains "LOCK TABLE app.t IN ACCESS SHARE MODE"
assert_err_contains "the backup failed, so the run stopped before migrate"
nothing_migrated
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()" >/dev/null
ok "real pg_dump failure stops the run"

group "with the lock gone the same deploy backs up and migrates"
pc deploy test
assert_rc 0
assert_table_exists app.u
ok "deploy after the failures"

finish

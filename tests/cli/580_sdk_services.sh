#!/usr/bin/env bash
# The SDK services of plugin ABI 2, through their first local use, the
# tools_probe test plugin: pg_dump of the owned schemas through "tools" into
# an "artifacts" file, verified with pg_restore --list, recorded in the
# ledger; "ledger" records; and what the host promises around them: the
# password reaches the tool only through a private password file (never its
# argv or environment) that is gone afterwards, even after a failure or a
# signal, and a dry run runs no tool.
#
# The target is a private cluster that demands a password (scram) of the
# target's user, so a dump that works proves the password file works.
. "$(dirname "$0")/lib.sh"

new_project sdksvc
export PADCTL_PLUGIN_PATH="$PADCTL_PLUGIN_BUILD_DIR:$PADCTL_TEST_PLUGIN_DIR/tools_probe"
start_cluster
DB2=$(unique_name sdksvc)
SECRET="pw-$$-$RANDOM-never-on-argv"
sql_on "$CL_PORT" postgres "CREATE ROLE sdk_owner LOGIN PASSWORD '$SECRET'" >/dev/null || die "create role"
create_db "$CL_PORT" "$DB2"
sql_on "$CL_PORT" postgres "ALTER DATABASE \"$DB2\" OWNER TO sdk_owner" >/dev/null || die "alter database"
hba=$CL_BASE/data/pg_hba.conf
# in place (cat >), so the file keeps the server user as its owner
{
	printf 'host all sdk_owner 127.0.0.1/32 scram-sha-256\n'
	cat "$hba"
} >"$CL_BASE/hba.new"
cat "$CL_BASE/hba.new" >"$hba"
sql_on "$CL_PORT" postgres "SELECT pg_reload_conf()" >/dev/null || die "reload"
wait_for 10 bash -c "! PGPASSWORD=wrong '$PSQL' -XAtq -h 127.0.0.1 -p $CL_PORT -U sdk_owner -d '$DB2' -c 'SELECT 1'" ||
	die "the private cluster does not ask sdk_owner for a password"

printf '%s\n' "tier: nonprod" "pipeline: standard" "targets:" "  t1:" "    database:" "      host: 127.0.0.1" \
	"      port: $CL_PORT" "      dbname: $DB2" "      user: sdk_owner" "      password_env: SDK_TEST_PASSWORD" \
	>"$PROJECT/envs/test.yml"
export SDK_TEST_PASSWORD=$SECRET
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); INSERT INTO app.t VALUES (1), (2);"
on_target() { sql_on "$CL_PORT" "$DB2" "$1"; }
last_run() { on_target "SELECT id FROM padctl.runs WHERE NOT dry_run ORDER BY started_at DESC LIMIT 1"; }
pipeline() { # MODE: migrate, then the probe
	printf '%s\n' "steps:" "  - migrate" "  - tools_probe: {mode: $1}" "on_failure: stop" \
		>"$PROJECT/pipelines/standard.yml"
}
# every temporary file padctl makes goes under $TMPDIR: a private one shows what is left
export TMPDIR=$PADCTL_TEST_TMP/sdksvc-tmp.$$
mkdir -p "$TMPDIR"
CLI_DIRS+=("$TMPDIR")
tmp_empty() { [ -z "$(ls -A "$TMPDIR")" ]; }
ART=$PROJECT/.padctl/artifacts/test/t1

group "a dry run runs no tool and makes no file"
pipeline psql
pc deploy test --dry-run
assert_rc 1
assert_err_contains "asked to run psql in a dry run: refused"
pipeline dump
pc deploy test --dry-run
assert_rc 1
assert_err_contains "asked to create an artifact in a dry run: refused"
[ ! -e "$ART" ] || fail_now "a dry run made $ART"
tmp_empty || fail_now "a dry run left files in TMPDIR: $(ls -A "$TMPDIR")"
ok "dry run: tools and artifacts refused"

group "psql through tools: the target's database, as the target's user, with the password file"
pipeline "psql, sql: SELECT current_user || '@' || current_database()"
pc deploy test
assert_rc 0
assert_err_contains "psql said: sdk_owner@$DB2"
ok "psql ran against the target"

group "a tool that outlives its time limit is killed"
pipeline "psql, sql: SELECT pg_sleep(600), timeout_ms: 300"
pc deploy test
assert_rc 1
assert_err_contains "did not finish within 300 ms and was killed"
assert_err_contains "step \"tools_probe\" on target \"t1\" ran psql"
tmp_empty || fail_now "files left in TMPDIR: $(ls -A "$TMPDIR")"
ok "timeout: the tool killed, the password file removed"

group "pg_dump through tools into an artifact, verified, recorded"
pipeline dump
pc deploy test
assert_rc 0
run=$(last_run)
file=$ART/$run-owned.dump
[ -f "$file" ] || fail_now "no artifact at $file" "ls: $(ls -laR "$PROJECT/.padctl" 2>&1)"
assert_eq 600 "$(stat -c %a "$file")" "artifact mode"
for d in "$PROJECT/.padctl/artifacts" "$PROJECT/.padctl/artifacts/test" "$ART"; do
	assert_eq 700 "$(stat -c %a "$d")" "mode of $d"
done
sum=$(sha256sum "$file" | cut -d' ' -f1)
size=$(stat -c %s "$file")
assert_eq "t1|owned.dump|$file|$size|$sum|t" \
	"$(on_target "SELECT target, name, path, size, sha256, verified FROM padctl.artifacts WHERE run_id = '$run'")" \
	"the ledger row"
assert_err_contains "artifact $file bytes $size sha256 $sum"
assert_err_contains "found owned.dump verified=t size=$size"
# the archive is a real dump of the owned schema
"$TPG_BIN/pg_restore" --list "$file" | grep -q "TABLE app t " || fail_now "the dump has no app.t"
tmp_empty || fail_now "files left in TMPDIR: $(ls -A "$TMPDIR")"
ok "artifact: mode 0600 in 0700 dirs, sha256sum and size equal the ledger's, verified"

group "the ledger service: typed records inside the plugin's transaction"
pipeline ledger
pc deploy test
assert_rc 0
run=$(last_run)
assert_eq "0999|" "$(on_target "SELECT version, undone_run FROM padctl.rollbacks WHERE run_id = '$run'")" \
	"rollback record (a version never applied: no run undone, no history row changed)"
assert_eq "base|kept.sql" "$(on_target "SELECT seed_set, file FROM padctl.seeds WHERE run_id = '$run'")" \
	"only the seed record outside the rolled-back transaction"
ok "ledger: rollback and seed records; the rolled-back one is gone"

group "a failing pg_dump: its stderr shown, no artifact, no password file"
pipeline fail
pc deploy test
assert_rc 1
assert_err_contains "pg_dump failed on target \"t1\" (step \"tools_probe\") with exit status 1"
assert_err_contains "no matching schemas were found"
run=$(last_run)
[ ! -e "$ART/$run-owned.dump" ] || fail_now "the failed dump's artifact was left"
assert_eq 0 "$(on_target "SELECT count(*) FROM padctl.artifacts WHERE run_id = '$run'")" "no ledger row"
tmp_empty || fail_now "files left in TMPDIR: $(ls -A "$TMPDIR")"
ok "failure: stderr in the error, the uncommitted artifact removed, TMPDIR empty"

group "while pg_dump runs: the password is in the private file only, never argv or environment"
pipeline dump
count_on() { [ "$(sql_on "$CL_PORT" "$DB2" "$1")" = 1 ]; }
# hold a lock pg_dump needs, so the dump waits where we can look at it
PGAPPNAME=sdk_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$CL_PORT" -U "$TPG_USER" -d "$DB2" \
	-c "BEGIN; LOCK TABLE app.t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
track_pid $!
wait_for 30 count_on "SELECT count(*) FROM pg_locks WHERE relation = 'app.t'::regclass AND granted
	AND mode = 'AccessExclusiveLock'" || fail_now "the locker did not take its lock"
pc_bg "$PADCTL_TEST_TMP/sdksvc.$$" deploy test
wait_for 60 count_on "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'padctl-pg_dump'
	AND wait_event_type = 'Lock'" || fail_now "pg_dump did not start waiting for the lock"
dump_pid=$(pgrep -P "$BG_PID" -x pg_dump) || fail_now "no pg_dump child of padctl $BG_PID"
cmdline=$(tr '\0' ' ' <"/proc/$dump_pid/cmdline")
environ=$(tr '\0' '\n' <"/proc/$dump_pid/environ")
assert_not_contains "$cmdline" "$SECRET" "pg_dump's argv"
assert_not_contains "$environ" "$SECRET" "pg_dump's environment"
assert_not_contains "$environ" "PGPASSWORD" "pg_dump's environment"
assert_not_contains "$environ" "SDK_TEST_PASSWORD" "pg_dump's environment"
assert_contains "$cmdline" "--host=127.0.0.1 --port=$CL_PORT --username=sdk_owner --dbname=$DB2" "pg_dump's argv"
passfile=$(sed -n 's/^PGPASSFILE=//p' <<<"$environ")
case $passfile in
"$TMPDIR"/padctl-pgpass-*/pgpass) ;;
*) fail_now "PGPASSFILE is \"$passfile\"" ;;
esac
assert_eq 600 "$(stat -c %a "$passfile")" "password file mode"
assert_eq 700 "$(stat -c %a "$(dirname "$passfile")")" "password file directory mode"
grep -qF "$SECRET" "$passfile" || fail_now "the password file does not hold the password"
ok "argv and environment are clean; PGPASSFILE is 0600 in a 0700 directory"

group "SIGTERM during the dump: the tool stopped, password file and artifact removed"
kill -TERM "$BG_PID"
bg_wait "$BG_PID" "$PADCTL_TEST_TMP/sdksvc.$$" 60
[ "$RC" -ne 0 ] || fail_now "padctl succeeded after SIGTERM"
kill -0 "$dump_pid" 2>/dev/null && fail_now "pg_dump $dump_pid outlived padctl"
tmp_empty || fail_now "files left in TMPDIR: $(ls -A "$TMPDIR")"
run=$(last_run)
[ ! -e "$ART/$run-owned.dump" ] || fail_now "the interrupted dump's artifact was left"
sql_on "$CL_PORT" postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'sdk_locker'" >/dev/null
ok "signal: nothing left behind"

finish

#!/usr/bin/env bash
# ssh.tools: remote: the tools service runs pg_dump / psql on the SSH host
# (a real sshd on a loopback port), connected to database.host:port as that
# host sees it, the password in a 0600 pgpass file created over SFTP and
# removed afterwards (also after a time limit and SIGINT, which stop the
# remote tool), the dump streamed back into the local artifact, verified and
# recorded. A database name full of shell syntax reaches pg_dump as data.
# The target's cluster demands a password (scram), so a dump that works
# proves the remote pgpass works.
# resource-lock: ssh_login_home
# (the SSH user is this user: the scenarios that look for pgpass files left
# in its home directory must not see another scenario's files in flight)
. "$(dirname "$0")/lib.sh"
. "$PADCTL_SOURCE_DIR/tests/harness/sshd.sh"

if ! sshd_available; then
	printf '%s: skipped: no sshd or ssh-keygen (apt-get install openssh-server openssh-client)\n' "$CLI_NAME"
	exit 0
fi
unset SSH_AUTH_SOCK

new_project sshtools
export PADCTL_PLUGIN_PATH="$PADCTL_PLUGIN_BUILD_DIR:$PADCTL_TEST_PLUGIN_DIR/tools_probe"
start_cluster
S=$PROJECT/sshd
sshd_start "$S"
# the SSH host's sessions get a mark libpq reads: a query shows the tool ran there
printf 'SetEnv PGOPTIONS="-c search_path=ran_on_ssh_host"\n' >>"$S/sshd_config"
kill -HUP "$SSHD_PID"
REMOTE_HOME=$(getent passwd "$SSHD_USER" | cut -d: -f6)
[ -d "$REMOTE_HOME" ] || die "no home directory for $SSHD_USER"
pgpass_left() { find "$REMOTE_HOME" -maxdepth 1 -name '.padctl-pgpass-*' -newer "$S/sshd_config" | grep -q .; }

SECRET="pw-$$-$RANDOM-never-on-argv"
# a database name a shell would run: it must reach pg_dump as one argument
DB2="sdk \$(touch pw$$) \`touch pv$$\` 'q' x$$"
sql_on "$CL_PORT" postgres "CREATE ROLE sdk_owner LOGIN PASSWORD '$SECRET'" >/dev/null || die "create role"
sql_on "$CL_PORT" postgres "CREATE DATABASE \"$DB2\" OWNER sdk_owner" >/dev/null || die "create database"
hba=$CL_BASE/data/pg_hba.conf
{
	printf 'host all sdk_owner 127.0.0.1/32 scram-sha-256\n'
	cat "$hba"
} >"$CL_BASE/hba.new"
cat "$CL_BASE/hba.new" >"$hba"
sql_on "$CL_PORT" postgres "SELECT pg_reload_conf()" >/dev/null || die "reload"
wait_for 10 bash -c "! PGPASSWORD=wrong '$PSQL' -XAtq -h 127.0.0.1 -p $CL_PORT -U sdk_owner -d postgres -c 'SELECT 1'" ||
	die "the private cluster does not ask sdk_owner for a password"
export SDK_TEST_PASSWORD=$SECRET
on_target() { "$PSQL" -XAtq -h 127.0.0.1 -p "$CL_PORT" -U "$TPG_USER" -d "$DB2" -c "$1"; }

cat >"$PROJECT/envs/test.yml" <<YAML
targets:
  t1:
    database:
      host: 127.0.0.1
      port: $CL_PORT
      dbname: "$(sed 's/"/\\"/g' <<<"$DB2")"
      user: sdk_owner
      password_env: SDK_TEST_PASSWORD
    ssh:
      host: 127.0.0.1
      port: $SSHD_PORT
      user: $SSHD_USER
      identity: $SSHD_USER_KEY
      known_hosts: $SSHD_KNOWN_HOSTS
      tunnel: true
      tools: remote
YAML
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); INSERT INTO app.t VALUES (1), (2);"
pipeline() {
	printf '%s\n' "steps:" "  - migrate" "  - tools_probe: {mode: $1}" "on_failure: stop" \
		>"$PROJECT/pipelines/standard.yml"
}
ART=$PROJECT/.padctl/artifacts/test/t1

group "psql runs on the SSH host"
pipeline "psql, sql: SELECT current_user || '@' || current_setting('search_path')"
pc deploy test
assert_rc 0
assert_err_contains "psql said: sdk_owner@ran_on_ssh_host"
pgpass_left && fail_now "a pgpass file was left in $REMOTE_HOME"
ok "psql ran on the SSH host with the remote pgpass, which is gone"

group "doctor checks the tools on the SSH host"
pc doctor test
assert_rc 0
assert_out_contains "pg_dump on the ssh host: pg_dump (PostgreSQL) "
assert_out_contains "pg_restore on the ssh host: pg_restore (PostgreSQL) "
ok "doctor finds the server's client tools on the SSH host"

group "pg_dump on the SSH host, streamed back into the artifact"
pipeline dump
pc deploy test
assert_rc 0
run=$(on_target "SELECT id FROM padctl.runs WHERE NOT dry_run ORDER BY started_at DESC LIMIT 1")
file=$ART/$run-owned.dump
[ -f "$file" ] || fail_now "no artifact at $file"
sum=$(sha256sum "$file" | cut -d' ' -f1)
assert_eq "$sum|t" "$(on_target "SELECT sha256, verified FROM padctl.artifacts WHERE run_id = '$run'")" "the ledger row"
"$TPG_BIN/pg_restore" --list "$file" | grep -q "TABLE app t " || fail_now "the dump has no app.t"
pgpass_left && fail_now "a pgpass file was left in $REMOTE_HOME"
for f in "$REMOTE_HOME/pw$$" "$REMOTE_HOME/pv$$" "/pw$$" "/pv$$" "$PWD/pw$$" "$PWD/pv$$"; do
	[ ! -e "$f" ] || fail_now "the database name ran a command ($f)"
done
ok "the remote dump is verified and recorded; the hostile database name stayed data"

group "a remote tool past its time limit is stopped"
pipeline "psql, sql: SELECT pg_sleep(600), timeout_ms: 1500"
pc deploy test
assert_rc 1
assert_err_contains "did not finish within 1 s and was stopped"
remote_psql() { pgrep -f -- "SELECT pg_sleep\(600\)" | while read -r p; do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = psql ] && printf '%s\n' "$p"; done; }
no_remote_psql() { [ -z "$(remote_psql)" ]; }
wait_for 30 no_remote_psql || fail_now "the remote psql still runs: $(remote_psql)"
# a killed client leaves its query to the server until it notices; end it here
on_target "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600)%'" >/dev/null
pgpass_left && fail_now "a pgpass file was left in $REMOTE_HOME"
ok "timeout: the remote tool stopped, the remote pgpass removed"

group "SIGINT during a remote pg_dump"
pipeline dump
count_on() { [ "$(on_target "$1")" = 1 ]; }
PGAPPNAME=sdk_locker "$PSQL" -XAtq -h 127.0.0.1 -p "$CL_PORT" -U "$TPG_USER" -d "$DB2" \
	-c "BEGIN; LOCK TABLE app.t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
track_pid $!
wait_for 30 count_on "SELECT count(*) FROM pg_locks WHERE relation = 'app.t'::regclass AND granted
	AND mode = 'AccessExclusiveLock'" || fail_now "the locker did not take its lock"
pc_bg "$PADCTL_TEST_TMP/sshtools.$$" deploy test
wait_for 60 count_on "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'padctl-pg_dump'
	AND wait_event_type = 'Lock'" || fail_now "the remote pg_dump did not start waiting for the lock"
dump_pid=$(on_target "SELECT pid FROM pg_stat_activity WHERE application_name = 'padctl-pg_dump'")
remote_dump=$(pgrep -f -- "--username=sdk_owner" | while read -r p; do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = pg_dump ] && printf '%s\n' "$p"; done | head -n 1)
[ -n "$remote_dump" ] || fail_now "no pg_dump process of the SSH session found"
assert_not_contains "$(tr '\0' ' ' <"/proc/$remote_dump/cmdline")" "$SECRET" "the remote pg_dump's argv"
pgpass_left || fail_now "no remote pgpass while pg_dump runs"
passfile=$(find "$REMOTE_HOME" -maxdepth 1 -name '.padctl-pgpass-*' -newer "$S/sshd_config" | head -n 1)
assert_eq 600 "$(stat -c %a "$passfile")" "remote pgpass mode"
kill -INT "$BG_PID"
bg_wait "$BG_PID" "$PADCTL_TEST_TMP/sshtools.$$" 60
[ "$RC" -ne 0 ] || fail_now "padctl succeeded after SIGINT"
wait_for 30 bash -c "! kill -0 $remote_dump 2>/dev/null" || fail_now "the remote pg_dump $remote_dump outlived the run"
pgpass_left && fail_now "a pgpass file was left in $REMOTE_HOME after SIGINT"
dump_session_gone() { [ "$(on_target "SELECT count(*) FROM pg_stat_activity WHERE pid = $dump_pid")" = 0 ]; }
wait_for 30 dump_session_gone || fail_now "pg_dump's session still runs"
sql_on "$CL_PORT" postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'sdk_locker'" >/dev/null
ok "SIGINT: the remote pg_dump stopped, no remote pgpass left"

finish

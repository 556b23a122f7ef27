#!/usr/bin/env bash
# The bastion: a network namespace plays a host whose PostgreSQL listens only
# on its own 127.0.0.1 and whose sshd listens on the veth address. padctl
# cannot reach that database directly; through the SSH target it runs status,
# plan, deploy (a migration that fails is rolled back through the tunnel),
# history and doctor. Needs root (ip netns); skipped otherwise.
# resource-lock: ssh_login_home
# (the SSH user is this user: the scenarios that look for pgpass files left
# in its home directory must not see another scenario's files in flight)
. "$(dirname "$0")/lib.sh"
. "$PADCTL_SOURCE_DIR/tests/harness/sshd.sh"
. "$PADCTL_SOURCE_DIR/tests/harness/netns.sh"

if ! sshd_available; then
	printf '%s: skipped: no sshd or ssh-keygen (apt-get install openssh-server openssh-client)\n' "$CLI_NAME"
	exit 0
fi
if ! netns_available; then
	printf '%s: skipped: network namespaces need root and iproute2 (ip netns); CI runs as root and runs this\n' \
		"$CLI_NAME"
	exit 0
fi
unset SSH_AUTH_SOCK

new_project ssh841
netns_create
netns_pg_start
NSDB=qa_db
"$PSQL" -XAtq -h "$NETNS_PG_SOCK" -p "$NETNS_PG_PORT" -U "$TPG_USER" -d postgres -c "CREATE DATABASE $NSDB" >/dev/null ||
	die "cannot create $NSDB in the namespace"
nsql() { "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$NETNS_PG_SOCK" -p "$NETNS_PG_PORT" -U "$TPG_USER" -d "$NSDB" -c "$1"; }
S=$PROJECT/sshd
sshd_start "$S" "$NETNS_ADDR" "$NETNS"

direct_env() {
	cat >"$PROJECT/envs/qa.yml" <<YAML
targets:
  qa:
    database:
      host: 127.0.0.1
      port: $NETNS_PG_PORT
      dbname: $NSDB
      user: $TPG_USER
      connect_timeout: 3
YAML
}
bastion_env() {
	direct_env
	cat >>"$PROJECT/envs/qa.yml" <<YAML
    ssh:
      host: $NETNS_ADDR
      port: $SSHD_PORT
      user: $SSHD_USER
      identity: $SSHD_USER_KEY
      known_hosts: $SSHD_KNOWN_HOSTS
      tunnel: true
YAML
}
cat >"$PROJECT/pipelines/standard.yml" <<'EOF2'
steps:
  - validate: preflight
  - migrate
  - validate: postflight
on_failure: rollback
EOF2

add_migration 0001 init "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY);" "DROP SCHEMA app CASCADE;" \
	"SELECT to_regclass('app.t') IS NOT NULL;"

group "the database is not reachable directly"
direct_env
pc status qa
assert_rc 1
assert_any_contains "UNREACHABLE"
ok "padctl cannot reach the namespace's database directly"

group "status and plan through the bastion"
bastion_env
pc status qa
assert_rc 0
assert_out_contains "pending 1"
pc plan qa
assert_rc 0
assert_out_contains "0001"
ok "status and plan through the SSH target"

group "deploy through the bastion"
pc deploy qa
assert_rc 0
assert_eq t "$(nsql "SELECT to_regclass('app.t') IS NOT NULL")" "app.t exists behind the bastion"
pc history qa
assert_rc 0
assert_out_contains "migrations applied: 1"
ok "deploy and history through the SSH target"

group "identity through the tunnel is the server's"
sysid=$(nsql "SELECT system_identifier FROM pg_control_system()")
assert_contains "$(cat "$PROJECT/known_targets")" "qa/qa $sysid $NSDB" "known_targets"
ok "the pin is the namespace server's system identifier"

group "a failed migration is rolled back through the tunnel"
add_migration 0002 bad "CREATE TABLE app.u (id int); SELECT 1/0;" "DROP TABLE app.u;"
pc deploy qa
assert_rc 1
assert_eq f "$(nsql "SELECT to_regclass('app.u') IS NOT NULL")" "app.u was rolled back"
rm -rf "$PROJECT/migrations/0002_bad"
ok "the failed migration left nothing behind the bastion"

group "backup through the tunnel (tools: local) and on the bastion (tools: remote)"
cat >"$PROJECT/pipelines/standard.yml" <<'EOF2'
steps:
  - validate: preflight
  - backup
  - migrate
  - validate: postflight
on_failure: rollback
EOF2
REMOTE_HOME=$(getent passwd "$SSHD_USER" | cut -d: -f6)
touch "$S/mark"
pgpass_left() { find "$REMOTE_HOME" -maxdepth 1 -name '.padctl-pgpass-*' -newer "$S/mark" | grep -q .; }
backup_of_last_run() {
	nsql "SELECT path || '|' || verified || '|' || coalesce(tool_version, '') FROM padctl.backups ORDER BY started_at DESC LIMIT 1"
}
add_migration 0003 more "CREATE TABLE app.v (id int);" "DROP TABLE app.v;"
pc deploy qa
assert_rc 0
IFS='|' read -r f verified tv <<<"$(backup_of_last_run)"
assert_eq true "$verified" "the local-tools backup is verified"
[ -f "$f" ] || fail_now "no backup file $f"
"$TPG_BIN/pg_restore" --list "$f" | grep -q "TABLE app t " || fail_now "the backup has no app.t"
bastion_env
sed -i 's/^      tunnel: true$/      tunnel: true\n      tools: remote/' "$PROJECT/envs/qa.yml"
grep -q "tools: remote" "$PROJECT/envs/qa.yml" || fail_now "could not set tools: remote"
add_migration 0004 again "CREATE TABLE app.w (id int);" "DROP TABLE app.w;"
pc -v deploy qa
assert_rc 0
assert_err_contains "running /usr/lib/postgresql/"
IFS='|' read -r f2 verified tv <<<"$(backup_of_last_run)"
assert_eq true "$verified" "the remote-tools backup is verified"
[ "$f2" != "$f" ] && [ -f "$f2" ] || fail_now "no new backup file ($f2)"
"$TPG_BIN/pg_restore" --list "$f2" | grep -q "TABLE app v " || fail_now "the remote backup has no app.v"
assert_contains "$tv" "pg_dump (PostgreSQL) " "the remote tool's version recorded"
pgpass_left && fail_now "a pgpass file was left on the bastion"
ok "backups through the bastion: local tools through the tunnel, remote tools on the bastion, both verified"

group "a backup kept on the bastion (ssh.backups_dir), and a failed migration restored from it there"
KEPT="$PROJECT/bastion dumps"
printf '      backups_dir: %s\n' "$KEPT" >>"$PROJECT/envs/qa.yml"
nsql "INSERT INTO app.t VALUES (7)" >/dev/null
add_migration 0005 no_down "ALTER TABLE app.t ADD COLUMN x int; UPDATE app.t SET x = id;"
add_migration 0006 broken "SELECT 1/0;"
pc deploy qa
assert_rc 1
IFS='|' read -r run host f3 <<<"$(nsql "SELECT run_id || '|' || host || '|' || path FROM padctl.backups ORDER BY started_at DESC LIMIT 1")"
assert_eq "$SSHD_USER@$NETNS_ADDR:$SSHD_PORT" "$host" "the ledger says the backup is on the bastion"
assert_eq "$KEPT/qa/qa/$run.dump" "$f3" "its path there"
assert_eq 600 "$(stat -c %a "$f3")" "its mode"
assert_eq "$(sha256sum "$f3" | cut -d' ' -f1)" "$(nsql "SELECT sha256 FROM padctl.backups WHERE run_id = '$run'")" "its checksum"
assert_err_contains "restored the owned schemas from the backup of run $run"
assert_eq "" "$(nsql "SELECT attname FROM pg_attribute WHERE attrelid = 'app.t'::regclass AND attname = 'x'")" "column x is gone"
assert_eq 1 "$(nsql "SELECT count(*) FROM app.t WHERE id = 7")" "the row written before the run is back"
pgpass_left && fail_now "a pgpass file was left on the bastion"
rm -rf "$PROJECT/migrations/0005_no_down" "$PROJECT/migrations/0006_broken"
pc backups qa --verify
assert_rc 0
assert_out_contains "(on the ssh host $SSHD_USER@$NETNS_ADDR:$SSHD_PORT)"
ok "kept on the bastion (0600, recorded with its host), verified there, restored from there"

group "doctor through the bastion"
pc doctor qa
assert_rc 0
assert_out_contains "ssh host key $SSHD_FPR"
assert_out_contains "ssh tunnel"
assert_out_matches "target qa/qa answers"
ok "doctor checks the SSH host, key, login, tunnel and the database"

group "a key change on the bastion is refused"
sshd_keygen "$S/other"
printf '[%s]:%s %s\n' "$NETNS_ADDR" "$SSHD_PORT" "$(cut -d' ' -f1,2 "$S/other.pub")" >"$SSHD_KNOWN_HOSTS"
pc deploy qa
assert_rc 1
assert_any_contains "host key has changed"
assert_any_contains "$SSHD_FPR"
ok "deploy refuses a bastion whose key changed"

finish

#!/usr/bin/env bash
# ssh.backups_dir: with tools: remote the backup stays on the SSH host (a
# real sshd on a loopback port) under DIR/<env>/<target>/<run>.dump, the
# directories 0700 and the file 0600, hashed there (sha256sum) and verified
# there (pg_restore --list), recorded with its host and path. `padctl
# backups` lists where it is and --verify re-checks it there (and fails
# once the file is changed or gone); the rollback's restore strategy runs
# pg_restore there from it; retention deletes it there. A directory full
# of shell syntax stays data. Where it cannot work, the key is refused.
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

new_project sshkept
start_cluster
S=$PROJECT/sshd
sshd_start "$S"
DB2=kept_$$
sql_on "$CL_PORT" postgres "CREATE DATABASE $DB2" >/dev/null || die "create database"
on_target() { "$PSQL" -XAtq -h 127.0.0.1 -p "$CL_PORT" -U "$TPG_USER" -d "$DB2" -c "$1"; }

# a directory a shell would run: spaces, quotes, $() and backticks
MARK=$PROJECT/injected
KEPT="$PROJECT/kept dir 'q' \$(touch $MARK.1) \`touch $MARK.2\` ; touch $MARK.3"
yaml_sq() { printf "'%s'" "$(sed "s/'/''/g" <<<"$1")"; }
env_file() { # TOOLS [BACKUPS_DIR-LINE]
	cat >"$PROJECT/envs/test.yml" <<YAML
targets:
  t1:
    database:
      host: 127.0.0.1
      port: $CL_PORT
      dbname: $DB2
      user: $TPG_USER
    ssh:
      host: 127.0.0.1
      port: $SSHD_PORT
      user: $SSHD_USER
      identity: $SSHD_USER_KEY
      known_hosts: $SSHD_KNOWN_HOSTS
      tunnel: true
      tools: $1
YAML
	[ -z "${2:-}" ] || printf '      %s\n' "$2" >>"$PROJECT/envs/test.yml"
}
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - validate: preflight
  - backup: {always: true}
  - migrate
on_failure: rollback
P
printf 'backups:\n  keep: 2\n' >>"$PROJECT/padctl.yml"
last_run() { on_target "SELECT id FROM padctl.runs WHERE command = 'deploy' AND NOT dry_run ORDER BY started_at DESC LIMIT 1"; }
row() { on_target "SELECT coalesce(host, '-') || '|' || path || '|' || size || '|' || sha256 || '|' || verified || '|' || (pruned_at IS NOT NULL) FROM padctl.backups WHERE run_id = '$1'"; }

group "refused where it cannot work"
env_file local "backups_dir: /srv/padctl"
pc status test
assert_rc 2
assert_err_contains "envs/test.yml:16:"
assert_err_contains "\"ssh.backups_dir\" needs \"ssh.tools: remote\""
for bad in "relative/dir|is not an absolute path" "'~/dumps'|is not an absolute path" \
	"/srv/../etc|has a \"..\" component" "/srv/./x|has a \".\" component" "/|is the root directory" \
	"\"/srv/a\\tb\"|holds a control character"; do
	env_file remote "backups_dir: ${bad%%|*}"
	pc status test
	assert_rc 2
	assert_err_contains "envs/test.yml:16:"
	assert_err_contains "${bad#*|}"
done
ok "tools: local, relative, ~, .., ., / and control characters are refused at file:line"

group "deploy keeps the dump on the SSH host: 0700 directories, a 0600 file, the recorded checksum"
env_file remote "backups_dir: $(yaml_sq "$KEPT")"
add_migration 0001 base "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY, v text);
INSERT INTO app.t SELECT g, 'row ' || g FROM generate_series(1, 200) g;" "DROP SCHEMA app CASCADE;"
pc deploy test
assert_rc 0
pc deploy test
assert_rc 0
assert_err_contains "backup verified: $KEPT/test/t1/"
run1=$(last_run)
file1="$KEPT/test/t1/$run1.dump"
[ -f "$file1" ] || fail_now "no kept backup at $file1"
assert_eq 600 "$(stat -c %a "$file1")" "the kept file's mode"
assert_eq "700 700 700" "$(stat -c %a "$KEPT" "$KEPT/test" "$KEPT/test/t1" | tr '\n' ' ' | sed 's/ $//')" "directory modes"
sum=$(sha256sum "$file1" | cut -d' ' -f1)
size=$(stat -c %s "$file1")
assert_eq "$SSHD_USER@127.0.0.1:$SSHD_PORT|$file1|$size|$sum|true|false" "$(row "$run1")" "the ledger row"
"$TPG_BIN/pg_restore" --list "$file1" | grep -q "TABLE app t " || fail_now "the kept dump has no app.t"
[ -z "$(ls "$PROJECT/.padctl/backups/test/t1" 2>/dev/null)" ] || fail_now "a backup was written on this machine too"
for m in "$MARK.1" "$MARK.2" "$MARK.3"; do [ ! -e "$m" ] || fail_now "the directory ran a command ($m)"; done
[ -z "$(find "$(getent passwd "$SSHD_USER" | cut -d: -f6)" -maxdepth 1 -name '.padctl-pgpass-*' -newer "$S/sshd_config")" ] ||
	fail_now "a remote pgpass file was left"
ok "kept on the SSH host, 0600 in 0700 directories, recorded with host and checksum; the hostile directory stayed data"

group "padctl backups lists where it is; --verify re-checks it there"
pc backups test --verify
assert_rc 0
assert_out_contains "$run1"
assert_out_contains "(on the ssh host $SSHD_USER@127.0.0.1:$SSHD_PORT)"
assert_out_contains "file present"
assert_out_contains "check: ok"
pc backups test --json
assert_rc 0
assert_out_contains "\"host\": \"$SSHD_USER@127.0.0.1:$SSHD_PORT\""
pc doctor test
assert_rc 0
assert_out_contains "backups kept on the ssh host in $KEPT"
ok "listed with its host; --verify passes; doctor checks the directory there"

group "--verify fails once the kept file is changed, and when it is gone"
cp -p "$file1" "$PROJECT/saved.dump"
printf 'X' | dd of="$file1" bs=1 seek=100 conv=notrunc status=none
pc backups test --verify
assert_rc 1
assert_out_contains "changed since it was written"
assert_err_contains "failed verification"
mv "$file1" "$PROJECT/gone.dump"
pc backups test --verify
assert_rc 1
assert_out_contains "file missing"
assert_out_contains "is missing on the ssh host"
cp -p "$PROJECT/saved.dump" "$file1"
pc backups test --verify
assert_rc 0
ok "a changed kept file and a missing one fail --verify; put back, it passes"

group "a failed migration is restored from the kept dump (pg_restore on the SSH host)"
on_target "INSERT INTO app.t VALUES (1000, 'written after the first deploy')" >/dev/null
before=$(on_target "SELECT count(*) || ' ' || md5(string_agg(id || v, ',' ORDER BY id)) FROM app.t")
add_migration 0002 no_down "ALTER TABLE app.t ADD COLUMN w int; UPDATE app.t SET v = upper(v);"
add_migration 0003 broken "CREATE TABLE app.u (id int); SELECT 1/0;"
pc deploy test
assert_rc 1
run2=$(last_run)
assert_err_contains "restoring the owned schemas from the backup of run $run2"
assert_err_contains "restored the owned schemas from the backup of run $run2"
assert_eq "$before" "$(on_target "SELECT count(*) || ' ' || md5(string_agg(id || v, ',' ORDER BY id)) FROM app.t")" "app.t"
assert_eq "" "$(on_target "SELECT attname FROM pg_attribute WHERE attrelid = 'app.t'::regclass AND attname = 'w'")" "column w"
assert_eq "0001 applied 0002 rolled_back " "$(on_target "SELECT version || ' ' || status FROM padctl.migrations ORDER BY version" | tr '\n' ' ')" "history"
rm -rf "$PROJECT/migrations/0002_no_down" "$PROJECT/migrations/0003_broken"
ok "restored from the dump kept on the SSH host"

group "a restore refuses a kept dump that changed, and one that is gone"
add_migration 0002 no_down "ALTER TABLE app.t ADD COLUMN w int;"
pc deploy test
assert_rc 0
run3=$(last_run)
file3="$KEPT/test/t1/$run3.dump"
printf 'X' | dd of="$file3" bs=1 seek=100 conv=notrunc status=none
pc rollback test --restore
assert_rc 1
assert_err_contains "changed since it was written"
hist_now() { on_target "SELECT version || ' ' || status FROM padctl.migrations ORDER BY version" | tr '\n' ' '; }
assert_eq "0001 applied 0002 applied " "$(hist_now)" "nothing was rolled back"
rm -f "$file3"
pc rollback test --restore
assert_rc 1
assert_err_contains "is missing on the ssh host"
assert_eq "0001 applied 0002 applied " "$(hist_now)" "nothing was rolled back"
ok "a changed or missing kept dump is refused before anything changes"

group "retention deletes kept dumps on the SSH host"
pc deploy test
assert_rc 0
pc deploy test
assert_rc 0
pc deploy test
assert_rc 0
# run3's file was removed above; its record stays (the newest run with applied migrations is never pruned)
kept=$(on_target "SELECT string_agg(run_id || '.dump', ' ' ORDER BY run_id) FROM padctl.backups
	WHERE pruned_at IS NULL AND path IS NOT NULL AND run_id <> '$run3'")
on_disk=$(find "$KEPT/test/t1" -name '*.dump' -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')
assert_eq "$kept" "$on_disk" "kept records and files on the SSH host"
assert_eq 2 "$(wc -w <<<"$on_disk")" "files kept (backups.keep: 2)"
[ ! -e "$file1" ] || fail_now "the oldest kept dump $file1 was not pruned"
assert_eq "true" "$(row "$run1" | cut -d'|' -f6)" "its record is pruned"
assert_err_contains "pruned the backup of run"
pc backups test
assert_rc 0
assert_out_contains "deleted"
ok "backups.keep deletes the files on the SSH host and marks their records"

group "a kept dump that fails on the way is removed from the SSH host"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - backup: {always: true, timeout: 2}
  - migrate
on_failure: stop
P
count_on() { [ "$(on_target "$1")" = 1 ]; }
PGAPPNAME=kept_locker "$PSQL" -XAtq -h 127.0.0.1 -p "$CL_PORT" -U "$TPG_USER" -d "$DB2" \
	-c "BEGIN; LOCK TABLE app.t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
track_pid $!
wait_for 30 count_on "SELECT count(*) FROM pg_locks WHERE relation = 'app.t'::regclass AND granted
	AND mode = 'AccessExclusiveLock'" || fail_now "the locker did not take its lock"
before_files=$(find "$KEPT/test/t1" -name '*.dump' | sort)
pc deploy test
assert_rc 1
assert_err_contains "did not finish within 2 s and was stopped"
run4=$(last_run)
assert_eq "$before_files" "$(find "$KEPT/test/t1" -name '*.dump' | sort)" "files on the SSH host"
assert_eq "" "$(on_target "SELECT run_id FROM padctl.backups WHERE run_id = '$run4'")" "no record of the failed backup"
sql_on "$CL_PORT" postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kept_locker'" >/dev/null
ok "pg_dump stopped by its time limit: its file on the SSH host is removed, nothing recorded"

finish

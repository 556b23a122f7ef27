#!/usr/bin/env bash
# The "backups" service as a later step (a restore) uses it, through the
# backup_probe test plugin: find(run) returns the recorded backup, verify(run)
# re-checks it (recorded, verified, not pruned, the file's size and SHA-256
# unchanged) and hands back a path tools' pg_restore accepts; a changed,
# missing, unverified or pruned backup is refused, and pg_restore refuses a
# file nobody verified.
. "$(dirname "$0")/lib.sh"

new_project bksvc
export PADCTL_PLUGIN_PATH="$PADCTL_PLUGIN_BUILD_DIR:$PADCTL_TEST_PLUGIN_DIR/backup_probe"
pipeline() { # the probe's options, after backup and migrate
	printf '%s\n' "steps:" "  - backup" "  - migrate" "  - backup_probe: {$1}" "on_failure: stop" \
		>"$PROJECT/pipelines/standard.yml"
}
probe_only() { # the probe alone
	printf '%s\n' "steps:" "  - backup_probe: {$1}" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
}
last_backup() { psql_q "SELECT run_id FROM padctl.backups ORDER BY started_at DESC LIMIT 1"; }

group "verify of an empty backup (no owned schema existed): no file"
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); INSERT INTO app.t VALUES (1);"
pipeline "mode: verify"
pc deploy test
assert_rc 0
assert_err_contains "verified path=NULL"
ok "empty backup verifies without a file"

group "verify of this run's backup from a later step; pg_restore accepts the path"
add_migration 0002 more "CREATE TABLE app.u (id int);"
pc deploy test
assert_rc 0
R2=$(last_backup)
F2=$PROJECT/.padctl/backups/test/t1/$R2.dump
assert_err_contains "verified path=$F2"
assert_err_contains "pg_restore listed"
ok "verify: path handed out, pg_restore --list ran on it"

group "find another run's backup"
probe_only "mode: find, run: $R2"
pc deploy test
assert_rc 0
SUM=$(sha256sum "$F2" | cut -d' ' -f1)
assert_err_contains "row run=$R2 path=$F2 size=$(stat -c %s "$F2") sha256=$SUM verified=t pruned=f schemas=app"
probe_only "mode: find, run: no-such-run"
pc deploy test
assert_rc 0
assert_err_contains "found 0"
ok "find: the row of run R"

group "find works in a dry run (it only reads)"
probe_only "mode: find, run: $R2"
pc deploy test --dry-run
assert_rc 0
assert_err_contains "row run=$R2"
ok "find in a dry run"

group "verify of another run's backup"
probe_only "mode: verify, run: $R2"
pc deploy test
assert_rc 0
assert_err_contains "verified path=$F2"
ok "verify run R"

group "a changed backup file is refused"
cp "$F2" "$PADCTL_TEST_TMP/bksvc-saved.$$"
CLI_DIRS+=("$PADCTL_TEST_TMP/bksvc-saved.$$")
printf 'x' >>"$F2"
pc deploy test
assert_rc 1
assert_err_contains "backup file \"$F2\" changed since it was written"
assert_err_contains "the backup of run $R2 on target \"t1\" is refused"
# same size, one byte different
cp "$PADCTL_TEST_TMP/bksvc-saved.$$" "$F2"
printf 'Z' | dd of="$F2" bs=1 seek=100 conv=notrunc status=none
pc deploy test
assert_rc 1
assert_err_contains "changed since it was written"
cp "$PADCTL_TEST_TMP/bksvc-saved.$$" "$F2"
pc deploy test
assert_rc 0
ok "tampered file refused, the original accepted again"

group "a missing file, a link in its place, an unknown run"
mv "$F2" "$F2.away"
pc deploy test
assert_rc 1
assert_err_contains "backup file \"$F2\" is missing"
ln -s "$F2.away" "$F2"
pc deploy test
assert_rc 1
assert_err_contains "is not a regular file"
rm -f "$F2"
mv "$F2.away" "$F2"
probe_only "mode: verify, run: 20200101-000000-00000000"
pc deploy test
assert_rc 1
assert_err_contains "no backup of run 20200101-000000-00000000 is recorded on target \"t1\""
ok "missing, link, unknown run: refused"

group "an unverified or pruned backup does not count"
probe_only "mode: verify, run: $R2"
psql_q "UPDATE padctl.backups SET verified = false WHERE run_id = '$R2'" >/dev/null
pc deploy test
assert_rc 1
assert_err_contains "the backup of run $R2 on target \"t1\" was never verified: it does not count"
psql_q "UPDATE padctl.backups SET verified = true, pruned_at = now() WHERE run_id = '$R2'" >/dev/null
pc deploy test
assert_rc 1
assert_err_contains "the backup of run $R2 on target \"t1\" was pruned"
psql_q "UPDATE padctl.backups SET pruned_at = NULL WHERE run_id = '$R2'" >/dev/null
ok "unverified, pruned: refused"

group "pg_restore refuses a file no verify handed out"
probe_only "mode: restore, path: $F2"
pc deploy test
assert_rc 1
assert_err_contains "could not run pg_restore: argument \"$F2\" is not an option"
ok "pg_restore input must be verified"

finish

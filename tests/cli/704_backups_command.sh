#!/usr/bin/env bash
# `padctl backups ENV [--target T] [--verify] [--json]`: per target each
# backup with run, time, size, checksum, verified, pruned and whether the
# file is there; --verify re-checks the SHA-256 and size against the ledger
# and runs pg_restore --list, and exits 1 when one fails (a corrupted, a
# missing, an unreadable file).
. "$(dirname "$0")/lib.sh"

new_project bkcmd
cat >"$PROJECT/pipelines/standard.yml" <<'YML'
steps:
  - backup: {always: true}
  - migrate
on_failure: stop
YML
BK=$PROJECT/.padctl/backups/test/t1

group "a target without a ledger has no backups"
pc backups test
assert_rc 0
assert_out_contains "target t1: no backups recorded"
ok "no ledger"

add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY, v text); INSERT INTO app.t SELECT g, 'row ' || g FROM generate_series(1, 500) g;"
pc deploy test
assert_rc 0
R1=$(psql_q "SELECT run_id FROM padctl.backups ORDER BY started_at DESC LIMIT 1")
add_migration 0002 more "CREATE TABLE app.u (id int);"
pc deploy test
assert_rc 0
R2=$(psql_q "SELECT run_id FROM padctl.backups ORDER BY started_at DESC LIMIT 1")
pc deploy test
assert_rc 0
R3=$(psql_q "SELECT run_id FROM padctl.backups ORDER BY started_at DESC LIMIT 1")
SUM2=$(sha256sum "$BK/$R2.dump" | cut -d' ' -f1)

group "the list: run, time, size, checksum, verified, file"
pc backups test
assert_rc 0
assert_out_contains "target t1:"
assert_out_matches "^  $R2  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z .* sha256 ${SUM2:0:12}  verified  file present$"
assert_out_contains "      $BK/$R2.dump  schemas: app"
assert_out_matches "^  $R1 .* verified  file none$"
assert_out_contains "(nothing dumped: no owned schema existed)"
# newest first
[ "$(grep -oE '^  [0-9]{8}-[0-9a-f-]+' <<<"$OUT" | tr -d ' ' | tr '\n' ' ')" = "$R3 $R2 $R1 " ] || fail_now "not newest first"
ok "list"

group "--json"
pc backups test --json
assert_rc 0
assert_eq 3 "$(json_get 'len(d["backups"])')" "three backups"
assert_eq "$R2 $SUM2 $(stat -c %s "$BK/$R2.dump") True False present app" \
	"$(json_get '" ".join(str(b[k]) for b in d["backups"] if b["run"] == "'"$R2"'" for k in ["run", "sha256", "size", "verified", "pruned", "file", "schemas"])')" \
	"R2's fields"
assert_contains "$(json_get 'd["backups"][0]["pg_dump"]')" "pg_dump (PostgreSQL)" "the pg_dump version"
ok "json"

group "--verify: all good"
pc backups test --verify
assert_rc 0
assert_out_contains "check: ok (sha256 and size match, pg_restore --list reads it)"
ok "verify ok"

group "--verify catches a corrupted file (same size, one byte changed)"
cp "$BK/$R2.dump" "$PADCTL_TEST_TMP/bkcmd-saved.$$"
CLI_DIRS+=("$PADCTL_TEST_TMP/bkcmd-saved.$$")
printf 'Z' | dd of="$BK/$R2.dump" bs=1 seek=200 conv=notrunc status=none
pc backups test --verify
assert_rc 1
assert_out_contains "check: backup file \"$BK/$R2.dump\" changed since it was written: recorded: "
assert_err_contains "1 backup of env \"test\" failed verification"
pc backups test --verify --json
assert_rc 1
assert_eq 1 "$(json_get 'd["failed"]')" "failed count in JSON"
assert_contains "$(json_get '[b["check"] for b in d["backups"] if b["run"] == "'"$R2"'"][0]')" "changed since it was written" "R2's check"
ok "corrupted file caught"

group "--verify: a file pg_restore cannot read, though its checksum matches the ledger"
printf 'not a dump at all\n' >"$BK/$R2.dump"
psql_q "UPDATE padctl.backups SET size = $(stat -c %s "$BK/$R2.dump"), sha256 = '$(sha256sum "$BK/$R2.dump" | cut -d' ' -f1)' WHERE run_id = '$R2'" >/dev/null
pc backups test --verify
assert_rc 1
assert_out_contains "check: pg_restore --list could not read backup file \"$BK/$R2.dump\""
ok "unreadable archive caught"

group "--verify: a missing file"
rm -f "$BK/$R2.dump"
pc backups test --verify --target t1
assert_rc 1
assert_out_contains "file missing"
assert_out_contains "check: backup file \"$BK/$R2.dump\" is missing"
ok "missing file caught"

group "pruned backups are listed as pruned and not checked"
psql_q "UPDATE padctl.backups SET pruned_at = now() WHERE run_id = '$R2'" >/dev/null
pc backups test --verify
assert_rc 0
assert_out_matches "^  $R2 .* pruned  file deleted$"
ok "pruned"

group "usage"
pc backups test --target nope
assert_rc 2
assert_err_contains "env \"test\" has no target \"nope\""
pc backups
assert_rc 2
ok "usage errors"

finish

#!/usr/bin/env bash
# known_targets holds any database name: fields are %-escaped (format 2), a pin
# written by the first format (a name with a space, unescaped) still reads,
# and the file is replaced by a rename, never appended to in place.
. "$(dirname "$0")/lib.sh"

new_project kt
add_migration 0001 create_app "CREATE SCHEMA app;"
DBS="rv two $$"
create_db "$TPG_PORT" "$DBS"
write_env "\"$DBS\""
KT=$PROJECT/known_targets
sysid=$(psql_q "SELECT system_identifier FROM pg_control_system()")
esc=${DBS// /%20}

group "a database named with a space is pinned escaped"
pc deploy test
assert_rc 0
assert_err_contains "pinned test/t1 to system identifier $sysid, database $DBS"
assert_eq "test/t1 $sysid $esc" "$(grep -v '^#' "$KT")" "the pin line"
ok "first deploy pins \"$DBS\" as $esc"

group "every later deploy passes"
ino=$(stat -c %i "$KT")
pc deploy test
assert_rc 0
pc deploy test
assert_rc 0
pc status test
assert_rc 0
assert_eq 1 "$(grep -vc '^#' "$KT")" "still one pin"
ok "second and third deploy and status pass the identity check"

group "a pin of the first format still reads and is rewritten escaped"
printf '# padctl known_targets: the server each target was first deployed to.\n# Commit this file. A line is: <env>/<target> <system_identifier> <database>\ntest/t1 %s %s\n' \
	"$sysid" "$DBS" >"$KT"
pc deploy test
assert_rc 0
write_env "$DB"
pc deploy test --target t1
assert_rc 1
assert_err_contains "pins system identifier $sysid, database $DBS"
ok "an unescaped old pin of \"$DBS\" is honoured"

group "a new pin rewrites the file by rename in format 2"
sed -i 's/^test\/t1 .*//' "$KT"
ino=$(stat -c %i "$KT")
pc deploy test
assert_rc 0
[ "$ino" != "$(stat -c %i "$KT")" ] || fail_now "known_targets was modified in place (same inode $ino)"
assert_contains "$(cat "$KT")" "# format 2:" known_targets
assert_eq "test/t1 $sysid $DB" "$(grep -v '^#' "$KT" | grep .)" "the new pin"
[ -e "$KT.lock" ] || fail_now "no known_targets.lock"
ok "pinning replaced known_targets (new inode) under known_targets.lock"

group "a symlink planted at known_targets.lock is refused"
rm -f "$KT.lock"
ln -s "$PROJECT/victim" "$KT.lock"
sed -i 's/^test\/t1 .*//' "$KT"
pc deploy test
assert_rc 1
assert_err_contains "could not open \"$KT.lock\""
[ ! -e "$PROJECT/victim" ] || fail_now "the lock's symlink target was created"
ok "known_targets.lock as a symlink: refused, nothing created through it"

finish

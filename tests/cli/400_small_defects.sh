#!/usr/bin/env bash
# Small defects of issue 6 item 14 and issue 7 item 9, each reproduced:
# output lost to a full stdout, `new` after a 19-digit version, a NaN lock
# timeout, doctor with a plugin that has no version.
. "$(dirname "$0")/lib.sh"

new_project small
add_migration 0001 create_app "CREATE SCHEMA app;"

group "a full stdout fails the command"
"$PADCTL_BIN" -C "$PROJECT" --json envs >/dev/full 2>"$PROJECT/full.err"
RC=$?
ERR=$(cat "$PROJECT/full.err")
sanitizer_check
assert_rc 1
assert_err_contains "could not write to standard output"
"$PADCTL_BIN" -C "$PROJECT" envs >/dev/full 2>"$PROJECT/full.err"
RC=$?
assert_rc 1
"$PADCTL_BIN" -C "$PROJECT" status --help >/dev/full 2>"$PROJECT/full.err"
RC=$?
assert_rc 1
pc --json envs
assert_rc 0
ok "envs > /dev/full exits 1 and says why"

group "new after a 19-digit version"
mkdir -p "$PROJECT/migrations/9223372036854775807_huge"
printf 'SELECT 1;\n' >"$PROJECT/migrations/9223372036854775807_huge/up.sql"
pc new next_one
assert_rc 0
assert_out_contains "/9223372036854775808_next_one"
[ -d "$PROJECT/migrations/9223372036854775808_next_one" ] || fail_now "9223372036854775808_next_one was not created"
mkdir -p "$PROJECT/migrations/99999999999999999999_all_nines"
printf 'SELECT 1;\n' >"$PROJECT/migrations/99999999999999999999_all_nines/up.sql"
pc new after_nines
assert_rc 0
assert_out_contains "/100000000000000000000_after_nines"
rm -rf "$PROJECT"/migrations/9* "$PROJECT"/migrations/1000*
pc new padded
assert_rc 0
assert_out_contains "/0002_padded"
ok "new counts past any version without overflow, keeping the width"

group "lock timeouts that are not numbers"
for v in nan inf -inf 1e999 -1; do
	pc deploy test --lock-timeout "$v"
	assert_rc 2
	assert_err_contains 'option "--lock-timeout" takes seconds'
done
assert_eq f "$(psql_q "SELECT to_regnamespace('app') IS NOT NULL")" "nothing deployed"
ok "--lock-timeout nan/inf/1e999/-1 exit 2 before anything runs"

group "doctor with a plugin without a version"
PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/no_version" pc doctor
assert_out_contains "plugin no_version (no version)"
assert_out_not_contains "(null)"
ok "doctor shows a plugin without a version"

finish

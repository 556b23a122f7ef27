#!/usr/bin/env bash
# plan calls check() of each step's plugin (issue 11), read-only, on each
# target; deploy calls run() as before.
. "$(dirname "$0")/lib.sh"

new_project plancheck
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/good_one"
printf '%s\n' "steps:" "  - good_one: preflight" "  - migrate" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
add_migration 0001 create_app "CREATE SCHEMA app;"

group "plan calls check"
pc plan test
assert_rc 0
assert_err_contains "check of \"t1\""
assert_err_not_contains "hello target"
assert_out_contains "recorded plan"
ok "good_one's check ran for target t1, its run did not"

group "deploy runs the step"
pc deploy test
assert_rc 0
assert_err_contains "hello target \"t1\""
ok "deploy calls run"
finish

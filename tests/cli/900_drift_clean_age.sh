#!/usr/bin/env bash
# A target's record of having compared clean is trusted for a day: the
# cached answer ("not changed since it last compared clean") rests on a
# fingerprint that does not read everything the full comparison prints
# (docs/drift.md lists what), so once a day the check compares in full
# anyway, and a clean result is kept again for the next day.
. "$(dirname "$0")/lib.sh"

new_project driftage
use_drift_scratch 1
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY);"
pc deploy test
assert_rc 0
pc -v status test --drift
assert_rc 0
assert_err_contains "has not changed since it last compared clean"
clean=$(ls "$PROJECT"/.padctl/drift/*.clean)
[ -f "$clean" ] || fail_now "no clean record in .padctl/drift"

group "a clean record older than a day is not trusted"
touch -d '25 hours ago' "$clean"
pc -v status test --drift
assert_rc 0
assert_err_not_contains "has not changed since it last compared clean"
assert_err_contains "compared clean more than a day ago"
assert_out_contains "drift: no drift"
ok "compared in full"

group "the full comparison keeps a fresh record"
pc -v status test --drift
assert_rc 0
assert_err_contains "has not changed since it last compared clean"
ok "trusted again"

group "a record dated in the future is not trusted either"
touch -d '2 days' "$clean"
pc -v status test --drift
assert_rc 0
assert_err_not_contains "has not changed since it last compared clean"
ok "compared in full"

finish

#!/usr/bin/env bash
# `padctl validate ENV --json` (the issue's form) gives the same document as
# the global `padctl --json validate ENV`; an unknown option is still refused.
. "$(dirname "$0")/lib.sh"

new_project validatejson
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.t (id int);"
pc deploy test
assert_rc 0

group "--json after the command"
pc validate test --json
assert_rc 0
after=$OUT
assert_eq "t1" "$(json_get 'd["targets"][0]["target"]')" "the target"
pc --json validate test
assert_rc 0
assert_eq "$(printf '%s' "$after" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)))')" \
	"$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)))')" "the same keys"
ok "same document"

group "an unknown option is still refused"
pc validate test --jsn
assert_rc 2
assert_err_contains "unknown option \"--jsn\""
ok "refused"

finish

#!/usr/bin/env bash
# The SDK guide's example cannot rot: docs/examples/hello/hello.c is built as
# a test plugin against this padctl's padctl/plugin.h, padctl loads it and
# runs it as a step, and the code docs/sdk.md shows is the file's.
. "$(dirname "$0")/lib.sh"

new_project sdkhello
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/hello"

group "docs/sdk.md shows hello.c as it is"
doc=$(awk '/^## A complete minimal plugin/ { s = 1 } s && /^```c$/ { c = 1; next } c && /^```$/ { exit } c' \
	"$PADCTL_SOURCE_DIR/docs/sdk.md")
file=$(sed -n '/^#include <padctl\/plugin.h>/,$p' "$PADCTL_SOURCE_DIR/docs/examples/hello/hello.c")
[ -n "$doc" ] || fail_now "no code block under \"A complete minimal plugin\" in docs/sdk.md"
[ "$doc" = "$file" ] || fail_now "docs/sdk.md's hello differs from docs/examples/hello/hello.c" \
	"$(diff <(printf '%s\n' "$doc") <(printf '%s\n' "$file"))"
ok "the embedded code equals the file"

group "padctl loads hello and runs it"
pc plugins
assert_rc 0
assert_out_contains "hello"
assert_out_matches "hello +validate +1\.0\.0 +2 "
printf '%s\n' "steps:" "  - hello" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
pc deploy test
assert_rc 0
assert_err_contains "hello from target \"t1\" of env \"test\""
assert_err_contains "server: PostgreSQL"
ok "hello is listed and runs as a step"

finish

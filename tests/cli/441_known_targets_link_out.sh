#!/usr/bin/env bash
# known_targets as a symlink leading out of the project: its pins are read
# with the "symlink leading out of the project" warning (they are shown in
# errors and stored back into the project), a new pin replaces the link with
# a regular file, and the file the link named is left unchanged.
. "$(dirname "$0")/lib.sh"

new_project ktlink
add_migration 0001 create_app "CREATE SCHEMA app;"
OUTSIDE=$(mktemp -d "$PADCTL_TEST_TMP/ktlink_out.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$OUTSIDE")
printf '# padctl known_targets: pins kept elsewhere\n' >"$OUTSIDE/known_targets"
ln -s "$OUTSIDE/known_targets" "$PROJECT/known_targets"

group "a known_targets link out of the project is read with a warning"
pc status test
assert_rc 0
assert_err_contains "known_targets\" is a symlink leading out of the project"
ok "status warns about the link"

group "pinning replaces the link, not the file it names"
pc deploy test
assert_rc 0
assert_err_contains "symlink leading out of the project"
[ -f "$PROJECT/known_targets" ] && [ ! -L "$PROJECT/known_targets" ] ||
	fail_now "known_targets is not a regular file after the pin"
assert_eq "# padctl known_targets: pins kept elsewhere" "$(cat "$OUTSIDE/known_targets")" "the file the link named"
pc status test
assert_rc 0
assert_err_not_contains "symlink leading out"
ok "the pin went into the project; the outside file is unchanged"

finish

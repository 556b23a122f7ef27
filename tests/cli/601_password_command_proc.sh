#!/usr/bin/env bash
# A trusted password_command runs through /bin/sh -c under padctl's child
# process helper: it gets padctl's environment and working directory, a time
# limit with a clear error, and it (with whatever it started) goes when padctl
# is terminated. Its output is never shown.
. "$(dirname "$0")/lib.sh"

new_project pwcmdproc
add_migration 0001 create_app "CREATE SCHEMA app;"
CONF=$(mktemp -d "$PADCTL_TEST_TMP/pwcmdconf.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$CONF")
export XDG_CONFIG_HOME=$CONF
PIDS=$PROJECT/pids

use_command() {
	write_env "$DB" "$TPG_PORT" "      password_command: '$1'"
	pc trust test
	assert_rc 0
}

group "the command sees padctl's environment; its output stays secret"
export PADCTL_TEST_PW_SECRET=hunter2-in-env
# exit 4 when the variable did not arrive, 3 (after printing it) when it did
use_command 'test "$PADCTL_TEST_PW_SECRET" = hunter2-in-env || exit 4; printf %s $PADCTL_TEST_PW_SECRET; exit 3'
pc status test
assert_rc 1
assert_any_contains 'password_command of target "t1" failed'
assert_any_contains "exited with status 3"
assert_not_contains "$OUT$ERR" "hunter2" "the output"
ok "a failing command names its status, never its output"

group "a command that does not finish in time is stopped"
# the grandchild's pid is written first: it must be gone afterwards too
use_command "sleep 300 & echo \$! > $PIDS; wait"
pc status test
assert_rc 1
assert_any_contains 'the password_command of target "t1" did not finish within 30 seconds and was stopped'
assert_not_contains "$OUT$ERR" '/bin/sh' "the output"
pid=$(cat "$PIDS")
[ -n "$pid" ] || fail_now "the command did not record its child's pid"
wait_for 10 sh -c "! kill -0 $pid" || fail_now "the command's child $pid outlived the time limit"
ok "the time limit stops the command and its children"

# sigterm_during LOG ARGS...: start padctl ARGS, SIGTERM it once the command
# runs, and check that padctl failed and the command's child is gone
sigterm_during() {
	local log=$PROJECT/$1 pid
	shift
	rm -f "$PIDS"
	pc_bg "$log" "$@"
	wait_for 20 test -s "$PIDS" || fail_now "the password_command did not start"
	pid=$(cat "$PIDS")
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID" "$log" 20
	[ "$RC" != 0 ] || fail_now "padctl exited 0 after SIGTERM"
	wait_for 10 sh -c "! kill -0 $pid" || fail_now "the command's child $pid outlived padctl"
}

group "SIGTERM during the command leaves no child"
sigterm_during bg status test
ok "padctl's SIGTERM stops the command and what it started"

group "SIGTERM during the command of a deploy (which stops at safe points)"
sigterm_during bg2 deploy test
assert_eq f "$(psql_q "SELECT to_regnamespace('app') IS NOT NULL")" "nothing deployed"
ok "a deploy stops too, with nothing deployed and no child left"

finish

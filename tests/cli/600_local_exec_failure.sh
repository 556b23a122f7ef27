#!/usr/bin/env bash
# initdb and pg_ctl run through the one child-process helper: a server binary
# that cannot be executed is an error that says why, not "exited with status 127".
. "$(dirname "$0")/lib.sh"

PROJECT=$(mktemp -d "$PADCTL_TEST_TMP/local_exec.XXXXXX") || die "mktemp failed"
BIN=$(mktemp -d "$PADCTL_TEST_TMP/local_exec_bin.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$PROJECT" "$BIN")
chmod 755 "$BIN"
mkdir -p "$PROJECT/envs"
printf 'project: localexec\n' >"$PROJECT/padctl.yml"
printf 'tier: nonprod\ntargets:\n  local:\n    database:\n      managed: true\n' >"$PROJECT/envs/local.yml"
# executable files whose interpreter does not exist: execve fails with ENOENT
for tool in initdb pg_ctl; do
	printf '#!/nonexistent/interpreter\n' >"$BIN/$tool"
	chmod 755 "$BIN/$tool"
done

cleanup_exec() {
	local loc
	loc=$(head -n 1 "$PROJECT/.padctl/pg/location" 2>/dev/null)
	case $loc in
	/var/lib/padctl/clusters/?*) rm -rf -- "$loc" ;;
	esac
}
on_exit cleanup_exec

group "an initdb that cannot be executed"
PADCTL_PG_BINDIR=$BIN pc local start
assert_rc 1
assert_err_contains "could not run \"$BIN/initdb\": No such file or directory"
assert_err_not_contains "status 127"
ok "the error names initdb and the reason"

finish

#!/usr/bin/env bash
# A project path holding $(...) or backquotes never reaches a shell: pg_ctl
# runs the server through `sh -c` with the data directory and the log in
# double quotes, so as root padctl keeps such a project's cluster under
# /var/lib/padctl/clusters/<hash>, and as an ordinary user it refuses.
. "$(dirname "$0")/lib.sh"

# a place the server user can reach (and write the marker to, were the command run)
BASE=$(mktemp -d /tmp/padctl-shellpath.XXXXXX) || die "mktemp failed"
CLI_DIRS+=("$BASE")
chmod 0777 "$BASE"
MARK=$BASE/ran

# local_project DIR: a project with a managed local env in DIR
local_project() {
	PROJECT=$1
	mkdir -p "$PROJECT/envs" "$PROJECT/pipelines" "$PROJECT/migrations" || die "cannot create $PROJECT"
	chmod 0755 "$PROJECT"
	printf 'project: shellpath\nschemas:\n  owned: [app]\n' >"$PROJECT/padctl.yml"
	printf 'steps:\n  - migrate\non_failure: stop\n' >"$PROJECT/pipelines/standard.yml"
	printf 'tier: nonprod\npipeline: standard\ntargets:\n  local:\n    database:\n      managed: true\n' \
		>"$PROJECT/envs/local.yml"
	add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int);"
	on_exit "cleanup_local $(printf '%q' "$PROJECT")"
}

check_project() {   # DIR WHAT
	local_project "$1"
	pc deploy local
	[ ! -e "$MARK" ] || fail_now "a command from the project path ran (found $MARK)"
	if [ "$(id -u)" = 0 ]; then
		assert_rc 0
		assert_err_contains "holds a character the shell would interpret"
		loc=$(head -n 1 "$PROJECT/.padctl/pg/location" 2>/dev/null)
		[[ $loc =~ ^/var/lib/padctl/clusters/[0-9a-f]{16}$ ]] ||
			fail_now "the cluster was not relocated to /var/lib/padctl/clusters/<hash> (location: \"$loc\")"
		pc status local
		assert_rc 0
		assert_out_contains "applied 1"
		pc local stop
		assert_rc 0
		[ ! -e "$MARK" ] || fail_now "a command from the project path ran (found $MARK)"
		ok "$2: deployed as root from a relocated cluster, the command never ran"
	else
		assert_rc 1
		assert_err_contains "the project path holds a character the shell would interpret"
		assert_err_contains "rename the project directory"
		ok "$2: refused as an ordinary user, the command never ran"
	fi
}

group "a project under \$(...)"
check_project "$BASE/p\$(touch $MARK)q/proj" '$(touch ...)'

group "a project under backquotes"
check_project "$BASE/p\`touch $MARK\`q/proj" 'backquotes'

group "a project under a double quote and a backslash"
check_project "$BASE/a\"b\\c\"; touch $MARK; \"/proj" 'double quote and backslash'

group "a location file naming some other directory is refused"
local_project "$BASE/plain"
mkdir -p "$PROJECT/.padctl/pg"
printf '%s\n' "$BASE/elsewhere\$(touch $MARK)" >"$PROJECT/.padctl/pg/location"
pc local start
assert_rc 1
assert_err_contains "which is not a directory padctl relocates clusters to"
[ ! -e "$MARK" ] || fail_now "a command from the location file ran (found $MARK)"
[ ! -e "$BASE/elsewhere" ] || fail_now "padctl created the directory the location file names"
ok "a forged .padctl/pg/location is refused"

finish

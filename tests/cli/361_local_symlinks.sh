#!/usr/bin/env bash
# Planted symbolic links are never followed. In the project, links at
# .padctl/pg/password, port, location, lock and .padctl/.gitignore leave their
# targets unchanged. As root, a relocated cluster's directory belongs to the
# server user: links it plants at `log` and `sock` neither give a root file
# away (owner unchanged) nor get it read and printed.
. "$(dirname "$0")/lib.sh"

BASE=$(mktemp -d /tmp/padctl-links.XXXXXX) || die "mktemp failed"
CLI_DIRS+=("$BASE")
chmod 0755 "$BASE"

# a root-owned (or, not root, our own) file outside every project
VICTIM=$BASE/victim
printf 'VICTIM-CONTENT-4711\n' >"$VICTIM"
chmod 0600 "$VICTIM"
VDIR=$BASE/victimdir
mkdir -m 0700 "$VDIR"

victim_unchanged() {   # WHAT
	assert_eq "VICTIM-CONTENT-4711" "$(cat "$VICTIM")" "content of the link target after $1"
	assert_eq "$(id -u) 600" "$(stat -c '%u %a' "$VICTIM")" "owner and mode of the link target after $1"
	assert_eq "$(id -u) 700" "$(stat -c '%u %a' "$VDIR")" "owner and mode of the linked directory after $1"
	assert_not_contains "$OUT$ERR" "VICTIM-CONTENT" "output of $1"
}

# local_project DIR MODE: a project with a managed local env
local_project() {
	PROJECT=$1
	mkdir -p "$PROJECT/envs" "$PROJECT/pipelines" "$PROJECT/migrations" || die "cannot create $PROJECT"
	chmod "$2" "$PROJECT"
	printf 'project: links\nschemas:\n  owned: [app]\n' >"$PROJECT/padctl.yml"
	printf 'steps:\n  - migrate\non_failure: stop\n' >"$PROJECT/pipelines/standard.yml"
	printf 'tier: nonprod\npipeline: standard\ntargets:\n  local:\n    database:\n      managed: true\n' \
		>"$PROJECT/envs/local.yml"
	add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int);"
	on_exit "cleanup_local $(printf '%q' "$PROJECT")"
}

group "links planted in the project before the first start"
# mode 0700 as root: the server user cannot enter, so the cluster is relocated
# and padctl writes .padctl/pg/location as well
local_project "$BASE/proj" 0700
mkdir -p "$PROJECT/.padctl/pg"
for f in pg/password pg/port pg/location .gitignore; do
	ln -s "$VICTIM" "$PROJECT/.padctl/$f"
done
pc local start
assert_rc 0
victim_unchanged "local start with links at password, port, location and .gitignore"
for f in pg/password pg/port .gitignore; do
	[ -f "$PROJECT/.padctl/$f" ] && [ ! -L "$PROJECT/.padctl/$f" ] ||
		fail_now ".padctl/$f is not a regular file after local start"
done
assert_eq 600 "$(stat -c %a "$PROJECT/.padctl/pg/password")" "mode of the password file"
pc deploy local
assert_rc 0
ok "password, port, location and .gitignore: the links are replaced, their target is unchanged"

group "a link at the lock file"
pc local stop
assert_rc 0
rm -f "$PROJECT/.padctl/pg/lock"
ln -s "$VICTIM" "$PROJECT/.padctl/pg/lock"
pc local start
assert_rc 1
assert_err_contains "not a regular file"
victim_unchanged "local start with a link at the lock file"
rm -f "$PROJECT/.padctl/pg/lock"
ok "a link at .padctl/pg/lock is refused, its target unchanged"

if [ "$(id -u)" = 0 ]; then
	CL=$(head -n 1 "$PROJECT/.padctl/pg/location")
	[[ $CL =~ ^/var/lib/padctl/clusters/[0-9a-f]{16}$ ]] || fail_now "the cluster was not relocated (location: \"$CL\")"

	group "a link at the relocated cluster's log"
	pc local stop
	assert_rc 0
	rm -f "$CL/log"
	ln -s "$VICTIM" "$CL/log"
	chown -h postgres: "$CL/log"
	pc local start
	assert_rc 1
	assert_err_contains "is not a regular file"
	victim_unchanged "local start with a link at the log"
	pc deploy local
	assert_rc 1
	victim_unchanged "deploy local with a link at the log"
	rm -f "$CL/log"
	ok "a link at the relocated log is refused: its target keeps its owner and is not printed"

	group "a link at the relocated cluster's socket directory"
	rm -rf "$CL/sock"
	ln -s "$VDIR" "$CL/sock"
	chown -h postgres: "$CL/sock"
	pc local start
	assert_rc 1
	assert_err_contains "is not a directory"
	victim_unchanged "local start with a link at sock"
	rm -f "$CL/sock"
	ok "a link at the relocated sock is refused: its target keeps its owner"

	group "a hard link at the log is not read back"
	pc local start
	assert_rc 0
	pc local stop
	assert_rc 0
	# the server user's own file with a second link: padctl does not read it
	rm -f "$CL/log"
	runuser -u postgres -- sh -c "printf 'VICTIM-CONTENT-4711 via hardlink\n' >'$CL/other' && ln '$CL/other' '$CL/log'" ||
		fail_now "cannot make a hard link as postgres"
	pc local start
	assert_rc 1
	assert_err_contains "is not a regular file"
	assert_not_contains "$OUT$ERR" "VICTIM-CONTENT" "output with a hard-linked log"
	rm -f "$CL/log" "$CL/other"
	pc local start
	assert_rc 0
	ok "a hard-linked log is refused and not printed; without it the cluster starts"
fi

finish

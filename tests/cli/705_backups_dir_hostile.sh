#!/usr/bin/env bash
# Hostile and odd backups.dir / backups.keep values: refused at load with
# padctl.yml:line:col ("..", control characters, the root directory, the
# project root, a list, an unknown key, keep out of range); at backup time a
# link or a file in place of a backup directory, or a directory every user
# may write to, is refused and nothing is migrated; an absolute directory
# outside the project works, its missing parents made 0700.
. "$(dirname "$0")/lib.sh"

new_project bkdir
cat >"$PROJECT/pipelines/standard.yml" <<'YML'
steps:
  - backup
  - migrate
on_failure: stop
YML
BASE_YML=$(cat "$PROJECT/padctl.yml")
set_backups() { printf '%s\n%s\n' "$BASE_YML" "$1" >"$PROJECT/padctl.yml"; }
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); INSERT INTO app.t VALUES (1);"
pc deploy test
assert_rc 0
add_migration 0002 more "CREATE TABLE app.u (id int);"

refused() { # YAML ERR_TEXT
	set_backups "$1"
	pc status test
	assert_rc 2
	assert_err_contains "$2"
}

group "values refused when padctl.yml is read"
refused $'backups:\n  dir: ../outside' 'padctl.yml:6:8: "backups.dir" "../outside" has a ".." component'
refused $'backups:\n  dir: bk/../../x' 'has a ".." component'
refused $'backups:\n  dir: /var/../tmp' 'has a ".." component'
refused $'backups:\n  dir: "bk\\x01x"' '"backups.dir" holds a control character'
refused $'backups:\n  dir: "bk\\nx"' '"backups.dir" holds a control character'
refused $'backups:\n  dir: /' '"backups.dir" "/" is the root directory'
refused $'backups:\n  dir: //' 'is the root directory'
refused $'backups:\n  dir: /./' 'is the root directory'
refused $'backups:\n  dir: .' '"backups.dir" "." is the project root'
refused $'backups:\n  dir: ./' 'is the project root'
refused $'backups:\n  dir: ""' 'backups.dir'
refused $'backups:\n  dir: [a, b]' 'backups.dir'
refused $'backups:\n  dir: ~no_such_user_padctl/bk' 'names no user of this machine'
refused $'backups:\n  keep: 0' 'backups.keep'
refused $'backups:\n  keep: -3' 'backups.keep'
refused $'backups:\n  keep: many' 'backups.keep'
refused $'backups:\n  keep: 100001' 'backups.keep'
refused $'backups:\n  where: bk' 'unknown key "where"'
refused $'backups: [bk]' 'backups'
ok "hostile values refused at load"

not_migrated() {
	assert_no_table app.u
	assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0002'")" "0002 must not be applied"
}
OUTSIDE=$(mktemp -d "$PADCTL_TEST_TMP/bkdir-outside.XXXXXX") || die "mktemp"
CLI_DIRS+=("$OUTSIDE")

group "a symbolic link in place of backups.dir: refused, nothing written through it, nothing migrated"
set_backups $'backups:\n  dir: bk'
ln -s "$OUTSIDE" "$PROJECT/bk"
pc deploy test
assert_rc 1
assert_err_contains "backups.dir \"$PROJECT/bk\" is not a directory (a symbolic link or a file is in its place)"
assert_eq "" "$(ls -A "$OUTSIDE")" "nothing written through the link"
not_migrated
rm "$PROJECT/bk"
ok "link as backups.dir"

group "a link in place of the env or the target directory"
mkdir -p "$PROJECT/bk"
ln -s "$OUTSIDE" "$PROJECT/bk/test"
pc deploy test
assert_rc 1
assert_err_contains "\"$PROJECT/bk/test\" is not a directory (a symbolic link or a file is in its place)"
assert_eq "" "$(ls -A "$OUTSIDE")" "nothing written through the link"
not_migrated
rm "$PROJECT/bk/test"
mkdir -m 700 "$PROJECT/bk/test"
ln -s "$OUTSIDE" "$PROJECT/bk/test/t1"
pc deploy test
assert_rc 1
assert_err_contains "\"$PROJECT/bk/test/t1\" is not a directory"
assert_eq "" "$(ls -A "$OUTSIDE")" "nothing written through the link"
not_migrated
rm "$PROJECT/bk/test/t1"
ok "links below backups.dir"

group "a file in place of backups.dir"
rm -rf "$PROJECT/bk"
printf 'x\n' >"$PROJECT/bk"
pc deploy test
assert_rc 1
assert_err_contains "is not a directory"
not_migrated
rm "$PROJECT/bk"
ok "file as backups.dir"

group "a backups.dir every user may write to"
mkdir -p "$PROJECT/bk"
chmod 777 "$PROJECT/bk"
pc deploy test
assert_rc 1
assert_err_contains "backups.dir \"$PROJECT/bk\" is writable by every user of this machine"
not_migrated
chmod 700 "$PROJECT/bk"
ok "world-writable refused"

group "an absolute directory outside the project, parents made 0700"
set_backups "backups:
  dir: $OUTSIDE/deep/er/bk"
pc deploy test
assert_rc 0
assert_table_exists app.u
RUN=$(psql_q "SELECT run_id FROM padctl.backups ORDER BY started_at DESC LIMIT 1")
F=$OUTSIDE/deep/er/bk/test/t1/$RUN.dump
[ -f "$F" ] || fail_now "no backup at $F"
assert_eq "700 700 700 700 700 600" "$(stat -c %a "$OUTSIDE/deep" "$OUTSIDE/deep/er" "$OUTSIDE/deep/er/bk" "$OUTSIDE/deep/er/bk/test" "$OUTSIDE/deep/er/bk/test/t1" "$F" | tr '\n' ' ' | sed 's/ $//')" \
	"modes of what padctl made"
ok "absolute backups.dir"

finish

#!/usr/bin/env bash
# init scaffolds a project once; new scaffolds numbered migration directories.
. "$(dirname "$0")/lib.sh"

DIR=$(mktemp -d "$PADCTL_TEST_TMP/init.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$DIR")
DIR=$DIR/my-project
mkdir "$DIR"

group "init in an empty directory"
pc_in "$DIR" init
assert_rc 0
assert_out_contains "created padctl project \"my_project\""
for f in padctl.yml envs/local.yml pipelines/standard.yml; do
	[ -s "$DIR/$f" ] || fail_now "init did not create $DIR/$f"
done
[ -d "$DIR/migrations" ] || fail_now "init did not create $DIR/migrations"
assert_contains "$(cat "$DIR/padctl.yml")" "project: my_project" "padctl.yml"
assert_contains "$(cat "$DIR/envs/local.yml")" "managed: true" "envs/local.yml"
assert_contains "$(cat "$DIR/pipelines/standard.yml")" "- migrate" "pipelines/standard.yml"
ok "init creates padctl.yml, envs/local.yml, pipelines/standard.yml, migrations/"

group "the scaffold is a loadable project"
pc_in "$DIR" envs
assert_rc 0
assert_out_contains "local"
ok "padctl envs reads the new project and lists local"

group "init again refuses"
sum_before=$(cat "$DIR/padctl.yml" "$DIR/envs/local.yml" | sha256sum)
pc_in "$DIR" init
assert_rc 2
assert_err_contains "$DIR/padctl.yml\" exists already"
assert_eq "$sum_before" "$(cat "$DIR/padctl.yml" "$DIR/envs/local.yml" | sha256sum)" "files unchanged"
ok "second init exits 2 and changes nothing"

group "new creates the first migration"
pc_in "$DIR" new add_thing
assert_rc 0
assert_out_contains "$DIR/migrations/0001_add_thing"
for f in up.sql down.sql verify.sql; do
	[ -f "$DIR/migrations/0001_add_thing/$f" ] || fail_now "new did not create 0001_add_thing/$f"
done
ok "new add_thing creates 0001_add_thing/{up,down,verify}.sql"

group "new again picks the next version"
pc_in "$DIR" new second_thing
assert_rc 0
assert_out_contains "$DIR/migrations/0002_second_thing"
[ -f "$DIR/migrations/0002_second_thing/up.sql" ] || fail_now "new did not create 0002_second_thing/up.sql"
ok "new second_thing creates 0002_second_thing (right after 0001, whose up.sql is still the template)"

group "new from a subdirectory finds the project"
printf 'CREATE TABLE t3 (id int);\n' >"$DIR/migrations/0002_second_thing/up.sql"
CLI_LAST_CMD="(cd $DIR/migrations && padctl new third)"
(cd "$DIR/migrations" && "$PADCTL_BIN" new third >"$DIR/../new3.out" 2>"$DIR/../new3.err")
RC=$? OUT=$(cat "$DIR/../new3.out") ERR=$(cat "$DIR/../new3.err")
sanitizer_check
assert_rc 0
[ -d "$DIR/migrations/0003_third" ] || fail_now "new from migrations/ did not create 0003_third"
ok "new run inside migrations/ creates 0003_third"

group "invalid names"
ls_before=$(ls "$DIR/migrations")
pc_in "$DIR" new "Bad Name"
assert_rc 2
assert_err_contains 'invalid migration name "Bad Name"'
pc_in "$DIR" new "../escape"
assert_rc 2
pc_in "$DIR" new
assert_rc 2
assert_eq "$ls_before" "$(ls "$DIR/migrations")" "migrations/ unchanged"
ok "new with \"Bad Name\", \"../escape\" or no name exits 2 and creates nothing"

finish

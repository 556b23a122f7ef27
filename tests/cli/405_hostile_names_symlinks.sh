#!/usr/bin/env bash
# Hostile names and planted symlinks (issue 7 item 9): a control character in
# a migration directory name is refused (escaped in the message), names from
# the ledger are escaped in status and history, and files that symlinks lead
# out of the project are read with a warning naming them.
. "$(dirname "$0")/lib.sh"

new_project hostile
add_migration 0001 create_app "CREATE SCHEMA app;" "DROP SCHEMA app;" "SELECT true;"

group "a newline in a migration directory name"
NL_DIR="$PROJECT/migrations/0002_x
ok 0003_forged"
mkdir -p "$NL_DIR"
printf 'SELECT 1;\n' >"$NL_DIR/up.sql"
for c in "status test" "plan test" "deploy test" "new next"; do
	# shellcheck disable=SC2086
	pc $c
	assert_rc 2
	assert_err_contains 'has a control character in its name'
	assert_err_contains '0002_x\x0aok 0003_forged'
	assert_not_contains "$OUT
$ERR" "
ok 0003_forged" "output (a forged line)"
done
rm -rf "$NL_DIR"
ESC_DIR="$PROJECT/migrations/0002_$(printf '\033')[31mred"
mkdir -p "$ESC_DIR"
printf 'SELECT 1;\n' >"$ESC_DIR/up.sql"
pc status test
assert_rc 2
assert_err_contains '0002_\x1b[31mred'
assert_not_contains "$ERR" "$(printf '\033')" "stderr (a raw escape)"
rm -rf "$ESC_DIR"
ok "status, plan, deploy and new refuse it, with the name escaped"

group "names from the ledger are escaped"
pc deploy test
assert_rc 0
psql_q "INSERT INTO padctl.migrations (version, name, checksum, status, applied_by)
        VALUES ('0009', E'gone\nok 0010_forged', 'x', 'applied', 'someone')" >/dev/null
psql_q "UPDATE padctl.runs SET error = E'bad\nrun r-forged ok' WHERE command = 'deploy'" >/dev/null
pc status test
assert_out_contains '0009_gone\x0aok 0010_forged'
assert_out_not_contains "
ok 0010_forged"
pc history test
assert_out_contains 'bad\x0arun r-forged ok'
assert_out_not_contains "
run r-forged ok"
psql_q "DELETE FROM padctl.migrations WHERE version = '0009'" >/dev/null
ok "status and history escape what the ledger holds"

group "symlinks leading out of the project"
OUTSIDE=$(mktemp -d "$PADCTL_TEST_TMP/outside.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$OUTSIDE")
printf 'CREATE TABLE app.linked (i int);\n' >"$OUTSIDE/secret.sql"
printf 'SELECT true;\n' >"$OUTSIDE/verify.sql"
mkdir -p "$PROJECT/migrations/0002_linked"
ln -s "$OUTSIDE/secret.sql" "$PROJECT/migrations/0002_linked/up.sql"
ln -s "$OUTSIDE/verify.sql" "$PROJECT/migrations/0002_linked/verify.sql"
pc plan test
assert_rc 0
assert_err_contains "0002_linked/up.sql\" is a symlink leading out of the project, to \"$OUTSIDE/secret.sql\""
assert_eq 1 "$(grep -c 'up.sql" is a symlink leading out' <<<"$ERR")" "one warning per file"
pc deploy test
assert_rc 0
assert_err_contains "0002_linked/up.sql\" is a symlink leading out of the project"
assert_err_contains "0002_linked/verify.sql\" is a symlink leading out of the project"
assert_table_exists app.linked
# a link that stays inside the project is not reported
mkdir -p "$PROJECT/shared" "$PROJECT/migrations/0003_inside"
printf 'SELECT 1;\n' >"$PROJECT/shared/up.sql"
ln -s ../../shared/up.sql "$PROJECT/migrations/0003_inside/up.sql"
pc status test
assert_err_not_contains "0003_inside"
ok "a file linked out of the project is read with one warning naming its target"

group "a meta.yml linked out of the project"
# what a meta.yml says changes how a migration runs (transactional: false,
# destructive, lint allows): one from outside is read with the same warning
printf 'transactional: false\n' >"$OUTSIDE/meta.yml"
add_migration 0004 linked_meta "CREATE INDEX CONCURRENTLY linked_i ON app.linked (i);"
ln -s "$OUTSIDE/meta.yml" "$PROJECT/migrations/0004_linked_meta/meta.yml"
printf 'transactional: false\n' >"$PROJECT/shared/meta.yml"
add_migration 0005 inside_meta "CREATE INDEX CONCURRENTLY linked_j ON app.linked (i);"
ln -s ../../shared/meta.yml "$PROJECT/migrations/0005_inside_meta/meta.yml"
pc plan test
assert_rc 0
assert_err_contains "0004_linked_meta/meta.yml\" is a symlink leading out of the project, to \"$OUTSIDE/meta.yml\""
assert_eq 1 "$(grep -c 'meta.yml" is a symlink leading out' <<<"$ERR")" "one warning per file"
assert_err_not_contains "0005_inside_meta"
ok "a meta.yml linked out of the project is read with a warning naming its target; one inside is not reported"

finish

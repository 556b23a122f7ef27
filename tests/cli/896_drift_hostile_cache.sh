#!/usr/bin/env bash
# drift: .padctl/drift is a cache, and nothing planted in it may make a
# check fail or reach outside it. A damaged KEY.catalog is a miss (replayed
# again); a KEY.catalog that is a symlink is neither read nor touched
# through (the file it points to keeps its time and bytes); a *.catalog
# whose name is not a key (64 lowercase hex digits) never names a database
# to drop. A replay records the major version of the scratch server that
# made it (the catalog text is that server's printing): one made on another
# major version than the target's is replayed again once the scratch server
# has moved, and compared with a warning naming both versions while it has
# not (forged here: the harness has one PostgreSQL).
. "$(dirname "$0")/lib.sh"

new_project drifthostile
use_drift_scratch 1
D=$PROJECT/.padctl/drift
OUTSIDE=$(mktemp -d "$PADCTL_TEST_TMP/drift-outside.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$OUTSIDE")

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY, note text);"

group "a clean deploy"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
key=$(drift_cache_keys | grep -xE '[0-9a-f]{64}')
assert_eq 1 "$(printf '%s\n' "$key" | grep -c .)" "one replay kept"
ok "deploy: no drift, one replay kept"

group "a damaged KEY.catalog is a miss: replayed again, not an error"
printf 'not\ta catalog\n' >"$D/$key.catalog"
rm -f "$D"/*.clean
pc -v validate test
assert_rc 0
assert_out_contains "target t1: ok"
assert_err_contains "drift: could not use the cached replay $D/$key.catalog"
assert_err_contains "drift: replayed 1 migration of target \"t1\""
pc validate test
assert_rc 0
assert_err_contains "compared with the cached replay of 1 migration"
ok "damaged cache file: logged with -v, replayed, rewritten"

group "a KEY.catalog that is a symlink to a file outside: not followed, not touched"
cp "$D/$key.catalog" "$OUTSIDE/kept.catalog"
touch -d '2001-02-03 04:05:06' "$OUTSIDE/kept.catalog"
before=$(stat -c '%Y %s' "$OUTSIDE/kept.catalog")$(sha256sum <"$OUTSIDE/kept.catalog")
ln -sf "$OUTSIDE/kept.catalog" "$D/$key.catalog"
pc -v validate test
assert_rc 0
assert_err_not_contains "has not changed since"
assert_err_contains "drift: replayed 1 migration of target \"t1\""
assert_eq "$before" "$(stat -c '%Y %s' "$OUTSIDE/kept.catalog")$(sha256sum <"$OUTSIDE/kept.catalog")" \
	"the file the link points to"
[ -f "$D/$key.catalog" ] && [ ! -L "$D/$key.catalog" ] || fail_now "$D/$key.catalog is still a link"
ok "symlinked cache file: replaced by a replay; its target kept its time and bytes"

group "a *.catalog whose name is not a key names no database to drop"
victim=padctl_drift_victimvictimvictimvictim
create_db "$TPG_PORT" "$victim"
planted=victimvictimvictimvictim0000000000000000000000000000000000000000.catalog
printf 'app\tschema\tapp\t\n' >"$D/$planted"
touch -d '2000-01-01' "$D/$planted"
rm -f "$D/$key.catalog"
pc -v validate test
assert_rc 0
assert_err_contains "drift: replayed 1 migration of target \"t1\""
assert_err_not_contains "victim"
assert_eq "$victim" "$(sql_on "$TPG_PORT" postgres "SELECT datname FROM pg_database WHERE datname = '$victim'")" \
	"the database named by the planted file"
[ -f "$D/$planted" ] || fail_now "the planted file was removed"
assert_eq "kept.catalog" "$(ls "$OUTSIDE")" "the directory outside"
ok "a planted name: skipped by the clean-up, its database still there"
group "a replay made on another major version, the scratch server on the target's now: replayed again"
major=$(sql_on "$TPG_PORT" postgres "SELECT current_setting('server_version_num')::int / 10000")
other=$((major - 1))
assert_contains "$(head -n 1 "$D/$key.catalog")" " made on PostgreSQL $major" "the replay's first line"
sed -i "1s/PostgreSQL $major\$/PostgreSQL $other/" "$D/$key.catalog"
rm -f "$D"/*.clean
pc -v validate test
assert_rc 0
assert_err_contains "was made on PostgreSQL $other, the scratch server runs PostgreSQL $major now; replaying again"
assert_err_contains "drift: replayed 1 migration of target \"t1\""
assert_err_not_contains "warning"
assert_contains "$(head -n 1 "$D/$key.catalog")" " made on PostgreSQL $major" "the new replay's first line"
ok "a replay of another major version is not reused once the scratch server runs the target's"

group "a replay made on another major version than the target's: a warning naming both, no clean record"
sed -i "1s/PostgreSQL $major\$/PostgreSQL $other/" "$D/$key.catalog"
rm -f "$D"/*.clean
cp "$PROJECT/padctl.yml" "$OUTSIDE/padctl.yml.kept"
sed -i "s/^    port: $TPG_PORT\$/    port: 1/" "$PROJECT/padctl.yml"
pc -v validate test
assert_rc 0
assert_err_contains "warning: drift: the replay compared with target \"t1\" was made on PostgreSQL $other (the scratch server), the target runs PostgreSQL $major"
assert_err_contains "run the scratch server (drift.scratch) on PostgreSQL $major"
assert_err_contains "could not ask the scratch server its version"
assert_err_contains "compared with the cached replay of 1 migration"
assert_eq "" "$(ls "$D" | grep '\.clean$')" "clean records"
pc -v validate test
assert_rc 0
assert_err_not_contains "has not changed since"
assert_err_contains "warning: drift: the replay compared with target"
mv "$OUTSIDE/padctl.yml.kept" "$PROJECT/padctl.yml"
ok "another major version: compared with a warning every time, never recorded clean"
finish

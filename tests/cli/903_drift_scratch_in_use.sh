#!/usr/bin/env bash
# drift: two checks of one history on one scratch server. A replay is built
# under a name of its own and then given the replay's name
# (padctl_drift_<key>), replacing a database of that name. When that one
# cannot be replaced (another check is connected to it: copying it for a
# later replay, or it named its own meanwhile) it is the same replay (the
# same key), so it stands: the check does not fail, and the copy it built
# goes. Once nobody uses it, the next rebuild replaces it as before.
. "$(dirname "$0")/lib.sh"

new_project driftinuse
use_drift_scratch 2
D=$PROJECT/.padctl/drift

# a history of this test's own, so no other test's replay has its key
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.in_use_probe (id bigint PRIMARY KEY, note text);"

group "a clean deploy replays the history"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
# the replay of the history as it is now (the preflight's, of no
# migration, is kept too): the scratch database a check names
pc -v validate test
assert_rc 0
SCRATCH=$(grep -o 'scratch database padctl_drift_[0-9a-f]*' <<<"$ERR" | head -1 | cut -d' ' -f3)
key=$(drift_cache_keys | grep "^${SCRATCH#padctl_drift_}")
[ -n "$SCRATCH" ] && [ -n "$key" ] || fail_now "no replay kept" "got: $(ls "$D"); $ERR"
scratch_dbs() {
	sql_on "$TPG_PORT" postgres "SELECT datname FROM pg_database WHERE datname LIKE '${SCRATCH}%' ORDER BY 1"
}
assert_eq "$SCRATCH" "$(scratch_dbs)" "the scratch database, named after the replay"
ok "deploy: replayed, the scratch database named"

group "the scratch database in use while the same replay is rebuilt: it stands"
"$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$SCRATCH" -c "SELECT pg_sleep(300)" \
	>/dev/null 2>&1 &
holder=$!
track_pid "$holder"
in_use() { [ -n "$(sql_on "$TPG_PORT" postgres "SELECT 1 FROM pg_stat_activity WHERE datname = '$SCRATCH'")" ]; }
wait_for 30 in_use || fail_now "nobody connected to $SCRATCH"
# the cache lost: the check replays again and names its replay
rm -f "$D/$key.catalog" "$D"/*.clean
pc -v validate test
assert_rc 0
assert_out_contains "target t1: ok"
assert_err_contains "drift: replayed 1 migration of target \"t1\""
assert_err_contains "drift: the scratch database $SCRATCH, the same replay made by another check, is in use"
assert_err_not_contains "error:"
# the copy it built is gone, the one in use is still there
assert_eq "$SCRATCH" "$(scratch_dbs)" "the scratch databases after the rebuild"
[ -f "$D/$key.catalog" ] || fail_now "the replay's catalog was not kept" "got: $(ls "$D")"
pc -v validate test
assert_rc 0
assert_err_contains "compared with the cached replay of 1 migration"
ok "a scratch database in use: the check succeeds, its own copy goes, the cache is kept"

group "once nobody uses it, a rebuild replaces it"
sql_on "$TPG_PORT" postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$SCRATCH'" \
	>/dev/null
unused() { ! in_use; }
wait_for 30 unused || fail_now "$SCRATCH is still in use"
before=$(sql_on "$TPG_PORT" postgres "SELECT oid FROM pg_database WHERE datname = '$SCRATCH'")
rm -f "$D/$key.catalog" "$D"/*.clean
pc -v validate test
assert_rc 0
assert_err_contains "drift: replayed 1 migration of target \"t1\""
assert_err_not_contains "is in use or was named meanwhile"
assert_eq "$SCRATCH" "$(scratch_dbs)" "the scratch databases after the rebuild"
after=$(sql_on "$TPG_PORT" postgres "SELECT oid FROM pg_database WHERE datname = '$SCRATCH'")
[ "$before" != "$after" ] || fail_now "the scratch database was not replaced" "oid $before before and after"
ok "a scratch database nobody uses: replaced by the rebuild"
finish

#!/usr/bin/env bash
# drift: the quiet key. A target that has given out no transaction id,
# finished no transaction and written no WAL since its fingerprint was taken
# answers with that fingerprint, not a new one (status --drift and validate).
# Anything that could change the catalog changes the key: a hand-made change
# is reported; a transaction that only takes an id makes the server count
# the catalog's rows again (and find them as they were: the kept fingerprint,
# no new one); a transaction in progress at a quiet check that commits after
# it is seen. The rows: an index dropped by hand (no row written, one row
# fewer) is reported; a change outside the owned schemas makes the server
# fingerprint again, and compare clean; a transaction in progress at a
# check answered by the rows is seen once it commits. A kept key that is
# damaged or forged is not trusted.
#
# The key is the whole server's (WAL, transaction ids), so the target is a
# cluster of this test's own, which nothing else writes to: no autovacuum, no
# timed checkpoint, wal_level minimal (no standby snapshots in the WAL). A
# read may still prune a page after DDL (WAL of its own), so "quiet" is
# asserted of the checks once the server has settled: settle runs the check
# until it answers quiet (at most 4 times), which an idle server must do.
. "$(dirname "$0")/lib.sh"

start_cluster autovacuum=off checkpoint_timeout=1d wal_level=minimal max_wal_senders=0
PORT=$CL_PORT
CL=$CL_BASE
q() { "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$CL/sock" -p "$PORT" -U "$TPG_USER" -d quiet -c "$1"; }
"$PSQL" -XAtq -h "$CL/sock" -p "$PORT" -U "$TPG_USER" -d postgres -c "CREATE DATABASE quiet" >/dev/null ||
	die "could not create database quiet"

new_project driftquiet
write_env quiet "$PORT"
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'new', note text);
CREATE INDEX account_status_idx ON app.account (status);"

QUIET="has written nothing since its catalog was last fingerprinted"
SAME="has written since its catalog was last fingerprinted, but no catalog row"
CHANGED="has changed a catalog row since its catalog was last fingerprinted: fingerprinting it"
CLEAN="has not changed since it last compared clean"
UNCOUNTED="was fingerprinted without counting its catalog's rows"
quiet_files() { ls "$PROJECT"/.padctl/drift/quiet.* 2>/dev/null; }
# settle: status --drift until it answers quiet (an idle server must, within 4 checks); every check exits 0
settle() {
	local i
	for i in 1 2 3 4; do
		pc -v status test --drift
		assert_rc 0
		case $ERR in *"$QUIET"*) return 0 ;; esac
	done
	fail_now "an idle target never answered quiet" "last check: $ERR"
}

# rows_counted: checks after a write until the key file holds a count of the
# catalog's rows (after a change they are counted again within 5 checks)
rows_counted() {
	local i
	for i in 1 2 3 4 5 6; do
		grep -Eqx "[0-9]+" <<<"$(sed -n 3p "$(quiet_files)")" && return 0
		q "SELECT txid_current()" >/dev/null
		pc status test --drift
	done
	fail_now "the catalog's rows were never counted again" "got: $(cat "$(quiet_files)")"
}

# in_progress K SQL: SQL run in a transaction that stays in progress (it
# waits for advisory lock K, held by another session) until `commit_it K`
in_progress() {
	local k=$1
	"$PSQL" -XAtq -h "$CL/sock" -p "$PORT" -U "$TPG_USER" -d quiet -c "SELECT pg_advisory_lock($k)" \
		-c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
	track_pid $!
	held() { [ -n "$(q "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $k")" ]; }
	wait_for 30 held || fail_now "the holder did not take the lock"
	"$PSQL" -XAtq -h "$CL/sock" -p "$PORT" -U "$TPG_USER" -d quiet -v ON_ERROR_STOP=1 \
		-c "BEGIN; $2; SELECT pg_advisory_xact_lock($k); COMMIT;" >/dev/null 2>&1 &
	track_pid $!
	waiting() { [ -n "$(q "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $k")" ]; }
	wait_for 30 waiting || fail_now "the transaction did not start"
}
commit_it() {
	q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1" >/dev/null
}

group "a clean deploy, then a check that keeps the key, then one that uses it"
pc deploy test
assert_rc 0
pc -v status test --drift
assert_rc 0
assert_out_contains "drift: no drift"
[ "$(quiet_files | wc -l)" = 1 ] || fail_now "expected one quiet key file" "got: $(quiet_files)"
head -1 "$(quiet_files)" | grep -Eqx "padctl drift quiet [0-9]+ rows" || fail_now "the key file has no header" "got: $(cat "$(quiet_files)")"
# the header of this padctl's key files (its version)
header=$(head -1 "$(quiet_files)")
settle
assert_err_contains "$CLEAN"
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
pc -v validate test
assert_rc 0
assert_err_contains "$QUIET"
ok "an idle target answers with the kept fingerprint (status --drift and validate)"

group "a hand-made change is not hidden by the key"
q "ALTER TABLE app.account ADD COLUMN extra int" >/dev/null
pc -v status test --drift
assert_rc 1
assert_err_not_contains "$QUIET"
assert_out_contains "extra column app.account.extra"
# the key kept now is the one after the change: quiet (once settled), and still drift
for i in 1 2 3 4; do
	pc -v status test --drift
	assert_rc 1
	assert_out_contains "extra column app.account.extra"
	# the full comparison after a quiet answer uses that answer: the key is resolved (and said) once
	case $ERR in *"$QUIET"*) assert_eq 1 "$(grep -c "$QUIET" <<<"$ERR")" "quiet answers in one check"; break ;; esac
	[ "$i" != 4 ] || fail_now "an idle target with drift never answered quiet" "last check: $ERR"
done
q "ALTER TABLE app.account DROP COLUMN extra" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_not_contains "$QUIET"
assert_out_contains "drift: no drift"
ok "a column added by hand: reported, and clean again after it is dropped"

group "a transaction that only takes an id, or writes a row: the catalog's rows, as they were"
settle
rows_counted
settle
q "SELECT txid_current()" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_not_contains "$QUIET"
assert_err_contains "$SAME"
assert_err_not_contains "$CHANGED"
assert_err_contains "$CLEAN"
q "INSERT INTO app.account (id) VALUES (1)" >/dev/null
pc -v validate test
assert_rc 0
assert_err_contains "$SAME"
assert_err_contains "$CLEAN"
# the key kept with the rows is the new one: quiet again once the server is idle
settle
ok "a new transaction id or a row written: the catalog's rows are counted, the kept fingerprint stands"

group "the catalog's rows: a drop writes no row, and is one row fewer"
settle
rows_counted
settle
q "SELECT txid_current()" >/dev/null
pc -v status test --drift
assert_err_contains "$SAME"
# DROP INDEX deletes catalog rows and writes none (the table's pg_class row stays as it was)
q "DROP INDEX app.account_status_idx" >/dev/null
pc -v status test --drift
assert_rc 1
assert_err_contains "$CHANGED"
assert_out_contains "missing index app.account_status_idx"
q "CREATE INDEX account_status_idx ON app.account (status)" >/dev/null
pc -v status test --drift
assert_rc 0
assert_out_contains "drift: no drift"
ok "an index dropped by hand after a write: counted, fingerprinted, reported"

group "the catalog's rows: changes outside the owned schemas, one after another"
settle
rows_counted
settle
q "CREATE TABLE public.elsewhere (id int)" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_contains "$CHANGED"
assert_err_contains "$CLEAN"
assert_out_contains "drift: no drift"
assert_eq "-1" "$(sed -n 3p "$(quiet_files)")" "the checks fingerprinted without counting the rows"
# rows that changed are not counted at the next three checks (the fingerprint alone, as without them) ...
for i in 2 3 4; do
	q "ALTER TABLE public.elsewhere ALTER COLUMN id SET STATISTICS $((100 + i))" >/dev/null
	pc -v status test --drift
	assert_rc 0
	assert_err_not_contains "$CHANGED"
	assert_err_contains "$UNCOUNTED"
	assert_err_contains "$CLEAN"
	assert_eq "-$i" "$(sed -n 3p "$(quiet_files)")" "the checks fingerprinted without counting the rows"
done
# ... then counted with the fingerprint, and they answer again
q "DROP TABLE public.elsewhere" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_not_contains "$UNCOUNTED"
assert_err_contains "$CLEAN"
grep -Eqx "[0-9]+" <<<"$(sed -n 3p "$(quiet_files)")" || fail_now "the rows were not counted" "got: $(cat "$(quiet_files)")"
q "SELECT txid_current()" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_contains "$SAME"
# a change in the owned schema while the rows are not counted is still seen (the fingerprint)
q "CREATE TABLE public.elsewhere (id int)" >/dev/null
pc status test --drift
assert_rc 0
q "ALTER TABLE app.account ADD COLUMN extra int" >/dev/null
pc -v status test --drift
assert_rc 1
assert_err_contains "$UNCOUNTED"
assert_out_contains "extra column app.account.extra"
q "ALTER TABLE app.account DROP COLUMN extra; DROP TABLE public.elsewhere" >/dev/null
pc status test --drift
assert_rc 0
ok "changes in another schema: fingerprinted, the rows counted again at the fifth check; a change of the owned schema meanwhile reported"

group "the catalog's rows: a change in progress during a check they answered, committed after it"
settle
rows_counted
settle
in_progress 87202 "ALTER TABLE app.account RENAME COLUMN note TO remark"
# a write after it: the next check is answered by the rows (the rename is not visible yet)
q "SELECT txid_current()" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_contains "$SAME"
assert_out_contains "drift: no drift"
commit_it 87202
renamed() { [ "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app.account'::regclass AND attname = 'remark'")" = 1 ]; }
wait_for 30 renamed || fail_now "the transaction did not commit"
pc -v status test --drift
assert_rc 1
assert_err_contains "$CHANGED"
assert_out_contains "app.account.remark"
q "ALTER TABLE app.account RENAME COLUMN remark TO note" >/dev/null
pc status test --drift
assert_rc 0
ok "a rename in progress at a check the rows answered is seen once it commits"

group "a change in progress during a quiet check, committed after it"
settle
# the change is made (and its WAL written) before the checks; it commits after them
in_progress 87201 "CREATE TABLE app.by_hand (id int)"
settle
assert_out_contains "drift: no drift"
commit_it 87201
committed() { [ "$(q "SELECT to_regclass('app.by_hand') IS NOT NULL")" = t ]; }
wait_for 30 committed || fail_now "the transaction did not commit"
pc -v status test --drift
assert_rc 1
assert_err_not_contains "$QUIET"
assert_out_contains "extra table app.by_hand"
q "DROP TABLE app.by_hand" >/dev/null
pc status test --drift
assert_rc 0
ok "a transaction in progress at a quiet check is seen once it commits"

group "a damaged or forged key file is not trusted"
settle
f=$(quiet_files)
key=$(sed -n 2p "$f")
rows=$(sed -n 3p "$f")
for bad in "garbage" "$header
1'; DROP TABLE app.account; --
$rows
8 1 2
" "$header
$key
$rows
8 1 2
extra line
" "padctl drift quiet 9 rows
$key
$rows
$(sed -n 4p "$f")
" "$header
$key
$rows'
8 1 2
"; do
	printf '%s' "$bad" >"$f"
	pc -v status test --drift
	assert_rc 0
	assert_err_not_contains "$QUIET"
	assert_err_not_contains "$SAME"
	assert_out_contains "drift: no drift"
	[ "$(q "SELECT to_regclass('app.account') IS NOT NULL")" = t ] || fail_now "app.account is gone"
	settle
done
# the current key with a fingerprint that is not the catalog's: the check
# compares in full (never "clean" on a fingerprint that does not match)
printf '%s\n%s\n%s\n8 1 2\n' "$header" "$(sed -n 2p "$f")" "$(sed -n 3p "$f")" >"$f"
pc -v status test --drift
assert_rc 0
assert_err_contains "$QUIET"
assert_err_not_contains "$CLEAN"
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
# a count that is not the catalog's: the rows do not answer, the server fingerprints
rows_counted
settle
printf '%s\n%s\n%s\n%s\n' "$header" "$(sed -n 2p "$f")" "$(($(sed -n 3p "$f") + 1))" "$(sed -n 4p "$f")" >"$f"
q "SELECT txid_current()" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_contains "$CHANGED"
assert_out_contains "drift: no drift"
# an xmin ahead of the server's (a key from elsewhere, or forged): not compared, fingerprinted
rows_counted
settle
k=$(sed -n 2p "$f")
xmin=${k##*|}
xmin=${xmin%%:*}
printf '%s\n%s\n%s\n%s\n' "$header" "${k%|*}|$((xmin + 1000)):$((xmin + 1000)):" "$(sed -n 3p "$f")" \
	"$(sed -n 4p "$f")" >"$f"
q "SELECT txid_current()" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_contains "$CHANGED"
assert_err_contains "$CLEAN"
assert_out_contains "drift: no drift"
ok "a damaged key file: fingerprinted again; a forged fingerprint: compared in full; a forged count or xmin: fingerprinted"
finish

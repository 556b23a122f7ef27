#!/usr/bin/env bash
# drift through `status --drift`, where the target's catalog fingerprint
# travels with status's own first query: after a clean check, each kind of
# hand-made change the issue names (a column added, an index dropped, a
# default changed, a function body edited) and a few that write one catalog
# row only must still be reported, not hidden by the "unchanged" answer; an
# unchanged target stays known clean; validate (which computes the same
# fingerprint in a statement of its own) and status agree on it; a change
# committed by a transaction older than the clean check is seen; a record
# that does not match is compared in full once.
. "$(dirname "$0")/lib.sh"

new_project driftst
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE SEQUENCE app.ticket_seq START 100;
CREATE TABLE app.account (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'new', note text, mood app.mood);
CREATE INDEX account_status_idx ON app.account (status);
CREATE VIEW app.active AS SELECT id, status FROM app.account WHERE status <> 'closed';
CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 42 \$\$;"

group "a clean deploy, then status --drift known clean from its first query"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
pc -v status test --drift
assert_rc 0
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
pc -v status test --drift
assert_rc 0
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
assert_err_contains "has not changed since it last compared clean"
ok "status --drift: no drift after a clean deploy, and the second check ends at the fingerprint"

group "validate and status --drift compute the same fingerprint"
drift_known_clean
pc -v status test --drift
assert_rc 0
assert_err_contains "has not changed since it last compared clean"
ok "the record one writes, the other matches"

# changed NAME DO_SQL FINDING UNDO_SQL: after status --drift ended at the
# fingerprint, DO_SQL by hand must make the next status --drift compare in
# full and report FINDING; after UNDO_SQL it is clean again
changed() {
	group "$1"
	pc -v status test --drift
	assert_rc 0
	assert_err_contains "has not changed since it last compared clean"
	psql_q "$2" >/dev/null
	pc -v status test --drift
	assert_rc 1
	assert_err_not_contains "has not changed since"
	assert_out_contains "$3"
	psql_q "$4" >/dev/null
	pc status test --drift
	assert_rc 0
	assert_out_contains "drift: no drift"
	ok "$1: reported by status --drift after a clean check"
}

changed "a column added by hand" \
	"ALTER TABLE app.account ADD COLUMN extra int" \
	"extra column app.account.extra" \
	"ALTER TABLE app.account DROP COLUMN extra"
changed "an index dropped by hand" \
	"DROP INDEX app.account_status_idx" \
	"missing index app.account_status_idx" \
	"CREATE INDEX account_status_idx ON app.account (status)"
changed "a changed default" \
	"ALTER TABLE app.account ALTER COLUMN status SET DEFAULT 'open'" \
	"changed column app.account.status" \
	"ALTER TABLE app.account ALTER COLUMN status SET DEFAULT 'new'"
changed "a function body edited by hand" \
	"CREATE OR REPLACE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 43 \$\$" \
	"changed function app.answer()" \
	"CREATE OR REPLACE FUNCTION app.answer() RETURNS int LANGUAGE sql AS \$\$ SELECT 42 \$\$"
changed "a column made NOT NULL (pg_attribute only)" \
	"ALTER TABLE app.account ALTER COLUMN note SET NOT NULL" \
	"changed column app.account.note" \
	"ALTER TABLE app.account ALTER COLUMN note DROP NOT NULL"
changed "a sequence altered (pg_sequence only)" \
	"ALTER SEQUENCE app.ticket_seq INCREMENT BY 5" \
	"changed sequence app.ticket_seq" \
	"ALTER SEQUENCE app.ticket_seq INCREMENT BY 1"
changed "a view replaced (pg_rewrite)" \
	"CREATE OR REPLACE VIEW app.active AS SELECT id, status FROM app.account WHERE status <> 'gone'" \
	"changed view app.active" \
	"CREATE OR REPLACE VIEW app.active AS SELECT id, status FROM app.account WHERE status <> 'closed'"
changed "an enum value renamed (pg_enum only)" \
	"ALTER TYPE app.mood RENAME VALUE 'sad' TO 'blue'" \
	"changed enum app.mood" \
	"ALTER TYPE app.mood RENAME VALUE 'blue' TO 'sad'"
changed "a table created by hand" \
	"CREATE TABLE app.extra (id int)" \
	"extra table app.extra" \
	"DROP TABLE app.extra"

group "a change in a transaction that began before the clean check and commits after it"
pc -v status test --drift
assert_rc 0
assert_err_contains "has not changed since it last compared clean"
# a session takes its xid first (its rows' xmin is then older than the
# check's view of the catalog), then waits for an advisory lock another
# session holds before its DDL; the holder ends after the clean check
K=88001
"$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" -c "SELECT pg_advisory_lock($K)" \
	-c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
track_pid $!
holder() { psql_q "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $K"; }
held() { [ -n "$(holder)" ]; }
wait_for 30 held || fail_now "the holder did not take the lock"
"$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" -v ON_ERROR_STOP=1 \
	-c "BEGIN; SELECT txid_current(); SELECT pg_advisory_xact_lock($K);
	    ALTER TABLE app.account ALTER COLUMN note SET NOT NULL; COMMIT;" >/dev/null 2>&1 &
track_pid $!
waiting() { [ -n "$(psql_q "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $K")" ]; }
wait_for 30 waiting || fail_now "the older transaction did not start"
pc -v status test --drift
assert_rc 0
assert_err_contains "has not changed since it last compared clean"
psql_q "SELECT pg_terminate_backend($(holder))" >/dev/null
committed() { [ "$(psql_q "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'app.account'::regclass AND attname = 'note'")" = t ]; }
wait_for 30 committed || fail_now "the older transaction did not commit"
pc -v status test --drift
assert_rc 1
assert_err_not_contains "has not changed since"
assert_out_contains "changed column app.account.note"
psql_q "ALTER TABLE app.account ALTER COLUMN note DROP NOT NULL" >/dev/null
pc status test --drift
assert_rc 0
ok "an older transaction's change is seen (the fingerprint hashes every row, not the newest xmin)"

group "a clean record that does not match (another padctl's, another fingerprint) is compared in full once"
for f in "$PROJECT"/.padctl/drift/*.clean; do
	printf '%s 8 123 456\n' "$(cut -d' ' -f1-4 "$f")" >"$f"
done
pc -v status test --drift
assert_rc 0
assert_err_not_contains "has not changed since"
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
pc -v status test --drift
assert_rc 0
assert_err_contains "has not changed since it last compared clean"
ok "a record that does not match: one full comparison, then known clean again"
finish

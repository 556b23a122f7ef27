#!/usr/bin/env bash
# drift: what a hand change can set that pg_get_*def does not print: a
# trigger disabled (or enabled always), an index left invalid by a DROP
# INDEX CONCURRENTLY that was cancelled after its first transaction, a
# partition detached, attached with another bound, or left "detach pending"
# by a cancelled DETACH ... CONCURRENTLY. Each is made after a check that
# ended at the catalog fingerprint, and must be reported: the snapshot
# prints it and the fingerprint reads the row it is written in (for the
# index and the pending detach, that row alone).
. "$(dirname "$0")/lib.sh"

new_project drifthand
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY, status text);
INSERT INTO app.account VALUES (1, 'new');
CREATE INDEX account_status_idx ON app.account (status);
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RETURN NEW; END \$\$;
CREATE TRIGGER account_touch BEFORE UPDATE ON app.account FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TABLE app.event (id int NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE app.event_2024 PARTITION OF app.event FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.event_2025 PARTITION OF app.event FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- implies the partition's bound: DETACH ... CONCURRENTLY then adds no CHECK of its own
ALTER TABLE app.event_2025 ADD CONSTRAINT event_2025_range CHECK (at >= '2025-01-01' AND at < '2026-01-01');"

group "a clean deploy"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
ok "deploy: no drift"

drift_changed "trigger: disabled (its pg_trigger row only)" \
	"ALTER TABLE app.account DISABLE TRIGGER account_touch" \
	"ALTER TABLE app.account ENABLE TRIGGER account_touch" \
	"drift: changed trigger app.account.account_touch" \
	"EXECUTE FUNCTION app.touch() (disabled)"
drift_changed "trigger: enabled always" \
	"ALTER TABLE app.account ENABLE ALWAYS TRIGGER account_touch" \
	"ALTER TABLE app.account ENABLE TRIGGER account_touch" \
	"EXECUTE FUNCTION app.touch() (enabled always)"
drift_changed "partition: detached" \
	"ALTER TABLE app.event DETACH PARTITION app.event_2025" \
	"ALTER TABLE app.event ATTACH PARTITION app.event_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')" \
	"drift: changed table app.event_2025 (expected \"partition of app.event FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')\", the target has \"\")"
drift_changed "partition: attached again with another bound" \
	"ALTER TABLE app.event DETACH PARTITION app.event_2025;
	 ALTER TABLE app.event ATTACH PARTITION app.event_2025 FOR VALUES FROM ('2025-01-01') TO ('2027-01-01')" \
	"ALTER TABLE app.event DETACH PARTITION app.event_2025;
	 ALTER TABLE app.event ATTACH PARTITION app.event_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')" \
	"the target has \"partition of app.event FOR VALUES FROM ('2025-01-01') TO ('2027-01-01')\""

# cancelled NAME DDL WAIT_SQL: a session holds a lock on TABLE in an open
# transaction, so DDL (run in the background) commits its first transaction
# and then waits; once WAIT_SQL answers t, DDL is cancelled
cancelled() {
	local table=$1 ddl=$2 wait_sql=$3
	PGAPPNAME=drift-holder "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
		-c "BEGIN; SELECT count(*) FROM $table; SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	track_pid $!
	wait_for 60 holder_waits || fail_now "the holding session never started"
	PGAPPNAME=drift-ddl "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" -c "$ddl" >/dev/null 2>&1 &
	local ddl_pid=$!
	track_pid "$ddl_pid"
	wait_for 60 first_done "$wait_sql" || fail_now "$ddl never committed its first transaction"
	psql_q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'drift-ddl'" >/dev/null
	wait "$ddl_pid" 2>/dev/null
	psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'drift-holder'" >/dev/null
	wait_for 60 holder_gone || fail_now "the holding session did not end"
}
holder_waits() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'drift-holder' AND query LIKE '%pg_sleep%'")" = 1 ]
}
holder_gone() { [ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'drift-holder'")" = 0 ]; }
first_done() { [ "$(sql_on "$TPG_PORT" "$DB" "$1")" = t ]; }

group "index: left invalid by a cancelled DROP INDEX CONCURRENTLY (its pg_index row only)"
drift_known_clean
xmin_before=$(psql_q "SELECT xmin FROM pg_class WHERE oid = 'app.account_status_idx'::regclass")
cancelled app.account "DROP INDEX CONCURRENTLY app.account_status_idx" \
	"SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 'app.account_status_idx'::regclass"
assert_eq "false $xmin_before" "$(psql_q "SELECT i.indisvalid || ' ' || c.xmin FROM pg_index i JOIN pg_class c
	ON c.oid = i.indexrelid WHERE c.oid = 'app.account_status_idx'::regclass")" "invalid, its pg_class row as it was"
drift_reported "drift: changed index app.account_status_idx" "USING btree (status) (invalid)"
psql_q "REINDEX INDEX app.account_status_idx" >/dev/null
pc validate test
assert_rc 0
ok "an index left invalid is reported after a clean check; clean again after REINDEX"

group "partition: left \"detach pending\" by a cancelled DETACH PARTITION CONCURRENTLY (its pg_inherits row only)"
drift_known_clean
cancelled app.event "ALTER TABLE app.event DETACH PARTITION app.event_2025 CONCURRENTLY" \
	"SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'app.event_2025'::regclass"
drift_reported "drift: changed table app.event_2025" "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') (detach pending)"
psql_q "ALTER TABLE app.event DETACH PARTITION app.event_2025 FINALIZE;
ALTER TABLE app.event ATTACH PARTITION app.event_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')" >/dev/null
pc validate test
assert_rc 0
ok "a pending detach is reported after a clean check; clean again once finalised and attached"

group "CLUSTER ON (pg_index only, not printed): a full comparison that finds nothing"
drift_known_clean
psql_q "ALTER TABLE app.account CLUSTER ON account_status_idx" >/dev/null
pc -v validate test
assert_rc 0
assert_err_not_contains "has not changed since"
drift_known_clean
ok "CLUSTER ON: compared once in full, clean"
finish

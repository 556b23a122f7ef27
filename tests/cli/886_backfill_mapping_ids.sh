#!/usr/bin/env bash
# padctl.backfill_mapping names its tables by their ids in
# padctl.backfill_tables (a narrower row than one with the names); the view
# padctl.migration_mapping reads as before; mapping rows of the layout
# before (the names as text and text[]) move over and a re-run skips them;
# the engine's dry run, which does not upgrade the ledger, counts on either.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfmapids
psql_q "DELETE FROM backoffice.personal_account_dealing" >/dev/null
bf_generate 1 40 0

group "a mapping row holds table ids, the view their names"
pc backfill test personal_account_dealing --limit 20 --batch 8
assert_rc 0
assert_eq "backoffice.personal_account_dealing
padealing.audit_log
padealing.pad_approval
padealing.pad_execution
padealing.pad_request" "$(psql_q "SELECT name FROM padctl.backfill_tables ORDER BY name")" "the source and the four targets, once each"
assert_eq "20|20" "$(psql_q "SELECT count(*), count(*) FILTER (WHERE source = (SELECT id FROM padctl.backfill_tables
	WHERE name = 'backoffice.personal_account_dealing')) FROM padctl.backfill_mapping")" "one row per source row, by id"
assert_eq "0" "$(psql_q "SELECT count(*) FROM padctl.migration_mapping m LEFT JOIN padealing.audit_log a
	ON a.id = m.target_id WHERE m.target_table = 'padealing.audit_log' AND a.request_id IS DISTINCT FROM m.source_id")" \
	"the view names each audit row's source row"
pc backfill test personal_account_dealing --limit 5 --dry-run
assert_rc 0
assert_eq "5|20" "$(psql_q "SELECT (SELECT count(*) FROM padctl.backfill_tables), (SELECT count(*) FROM padctl.backfill_mapping)")" \
	"a second run adds no table"
ok "20 rows mapped by table id; the view reads them by name"

group "mapping rows of the layout with table names move over"
before=$(psql_q "SELECT string_agg(source_table || ':' || source_id || ':' || target_table || ':' || target_id, ',' ORDER BY source_id, target_table, target_id) FROM padctl.migration_mapping")
# the ledger as the step before the table ids left it
psql_q "CREATE TABLE padctl.old AS SELECT source_table COLLATE \"C\" AS source_table, source_id,
		array_agg(target_table ORDER BY target_table, target_id) AS target_tables,
		array_agg(target_id ORDER BY target_table, target_id) AS target_ids, min(migrated_at) AS migrated_at
		FROM padctl.migration_mapping GROUP BY 1, 2;
	DROP VIEW padctl.migration_mapping; DROP TABLE padctl.backfill_mapping, padctl.backfill_tables;
	ALTER TABLE padctl.old RENAME TO backfill_mapping;
	ALTER TABLE padctl.backfill_mapping ADD PRIMARY KEY (source_table, source_id);
	CREATE VIEW padctl.migration_mapping AS SELECT m.source_table::text AS source_table, m.source_id, u.target_table,
		u.target_id, m.migrated_at FROM padctl.backfill_mapping m
		CROSS JOIN LATERAL unnest(m.target_tables, m.target_ids) AS u(target_table, target_id);
	UPDATE padctl.meta SET value = '11' WHERE key = 'ledger_version'" >/dev/null # before step 12
# the engine's dry run does not upgrade the ledger: it counts through the view
cp "$PROJECT/pipelines/standard.yml" "$PROJECT/standard.yml.keep"
printf 'steps:\n  - migrate\n  - backfill: personal_account_dealing\non_failure: stop\n' >"$PROJECT/pipelines/standard.yml"
pc deploy test --dry-run
assert_rc 0
assert_err_contains "20 of 40 source rows to do"
mv "$PROJECT/standard.yml.keep" "$PROJECT/pipelines/standard.yml"
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "40 source rows in backoffice.personal_account_dealing, 20 to do"
assert_eq "$before" "$(psql_q "SELECT string_agg(source_table || ':' || source_id || ':' || target_table || ':' || target_id, ',' ORDER BY source_id, target_table, target_id)
	FROM padctl.migration_mapping WHERE source_id <= 20")" "the old rows read the same through the view"
assert_eq "source" "$(psql_q "SELECT attname FROM pg_attribute WHERE attrelid = 'padctl.backfill_mapping'::regclass AND attnum = 1")" \
	"the table of ids"
assert_eq "40|40|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(DISTINCT source_id) FROM padctl.migration_mapping),
	(SELECT count(*) FROM (SELECT target_table, target_id FROM padctl.migration_mapping GROUP BY 1, 2 HAVING count(*) > 1) d)")" \
	"every source row once, no target row twice"
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "0 to do"
ok "a dry run counts on the old layout; the rows with names moved over; the run did only the 20 rows left"

finish

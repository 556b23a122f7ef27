#!/usr/bin/env bash
# The reference backfill (db/backfills/personal_account_dealing.yml) on the
# sample of db/fixtures/legacy_personal_account_dealing.sql: --dry-run
# changes nothing, --limit stops after N source rows, every mapping branch
# lands row by row as the seed's table says, the bad rows are recorded as
# failures with their reasons while the rest lands, a second run adds
# nothing, --status and history show it, and --retry-failed after fixing the
# data migrates the fixed rows only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfref

group "--dry-run runs the batches and changes nothing"
pc backfill test personal_account_dealing --dry-run
assert_rc 0
assert_err_contains "16 source rows in backoffice.personal_account_dealing, 16 to do"
assert_err_contains "12 source rows would be done, 4 failed"
assert_err_contains "row id=113 would fail: pre-check"
assert_err_contains "row id=114 would fail: new row for relation \"pad_request\" violates check constraint \"pad_request_quantity_check\""
assert_eq "0|0|0|0|0|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padealing.pad_approval),
	(SELECT count(*) FROM padealing.pad_execution), (SELECT count(*) FROM padealing.audit_log),
	(SELECT count(*) FROM padctl.migration_mapping), (SELECT count(*) FROM padctl.backfill_failures)")" \
	"nothing written, mapped or recorded as failed"
ok "dry run: 12 would land, 4 would fail, nothing changed"

group "--limit 3 stops after 3 source rows"
pc backfill test personal_account_dealing --limit 3 --batch 2
assert_rc 0
assert_eq "101,102,103" "$(psql_q "SELECT string_agg(id::text, ',' ORDER BY id) FROM padealing.pad_request")" "first three ids"
assert_eq "3" "$(psql_q "SELECT count(DISTINCT source_id) FROM padctl.migration_mapping")" "three source rows mapped"
ok "--limit 3 migrated 101, 102, 103 only"

group "the full run: the rest lands, the four bad rows are recorded"
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "9 source rows done, 4 failed"
assert_eq "101,102,103,104,105,106,107,108,109,110,111,112" \
	"$(psql_q "SELECT string_agg(id::text, ',' ORDER BY id) FROM padealing.pad_request")" "requests"
assert_eq "113|pre-check \"the employee exists in bo_airflow.oracle_employee\": employee 9999 does not exist in bo_airflow.oracle_employee
114|23514
115|23502
116|23502" "$(psql_q "SELECT source_id, coalesce(sqlstate, error) FROM padctl.backfill_failures ORDER BY source_id")" \
	"failures with their reasons"
assert_contains "$(psql_q "SELECT error FROM padctl.backfill_failures WHERE source_id = 114")" \
	"pad_request_quantity_check" "the server's error of 114"
ok "12 requests, 4 failures recorded (pre-check, check constraint, two NOT NULLs)"

bf_check_mapping

group "a second run adds nothing"
before=$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padealing.pad_approval),
	(SELECT count(*) FROM padealing.pad_execution), (SELECT count(*) FROM padealing.audit_log), (SELECT count(*) FROM padctl.migration_mapping)")
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "0 to do"
after=$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padealing.pad_approval),
	(SELECT count(*) FROM padealing.pad_execution), (SELECT count(*) FROM padealing.audit_log), (SELECT count(*) FROM padctl.migration_mapping)")
assert_eq "$before" "$after" "row counts after a second run"
assert_eq "0" "$(psql_q "SELECT count(*) FROM (SELECT source_id, target_table, target_id FROM padctl.migration_mapping
	GROUP BY 1, 2, 3 HAVING count(*) > 1) d")" "no duplicate mapping"
ok "idempotent: no new rows, no duplicates ($after)"

group "--status and history"
pc backfill test personal_account_dealing --status
assert_rc 0
assert_out_contains "source rows 16: done 12 (75.0%), failed 4, left 0"
assert_out_contains "id=114  23514"
assert_out_contains "dry run, done 12, failed 4"
pc history test
assert_rc 0
assert_out_contains "backfill personal_account_dealing: done 9, failed 4"
ok "--status shows progress, runs and failures; history shows the run's counts"

group "--retry-failed after fixing the data"
psql_q "UPDATE backoffice.personal_account_dealing SET trade_size = 10 WHERE id = 114;
	UPDATE backoffice.personal_account_dealing SET buysell = 'S' WHERE id = 115" >/dev/null
pc backfill test personal_account_dealing --retry-failed
assert_rc 0
assert_err_contains "4 to retry"
assert_err_contains "2 source rows done, 2 failed"
assert_eq "113,116" "$(psql_q "SELECT string_agg(source_id::text, ',' ORDER BY source_id) FROM padctl.backfill_failures")" "left failed"
assert_eq "2|2" "$(psql_q "SELECT attempts, count(*) FROM padctl.backfill_failures GROUP BY attempts")" "attempts counted"
assert_eq "SELL|10.0000" "$(psql_q "SELECT (SELECT direction FROM padealing.pad_request WHERE id = 115), (SELECT quantity FROM padealing.pad_request WHERE id = 114)")" \
	"fixed rows migrated"
assert_eq "2" "$(psql_q "SELECT count(*) FROM padealing.audit_log WHERE request_id IN (114, 115)")" \
	"one request_submitted entry each"
ok "--retry-failed migrated 114 and 115, 113 and 116 stay recorded"

finish

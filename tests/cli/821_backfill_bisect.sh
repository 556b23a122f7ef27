#!/usr/bin/env bash
# One bad row in a batch of 1,000: the batch fails on the server, is split
# until the bad row stands alone, the bad row is recorded with the server's
# error and its 999 neighbours land. A missing table fails the run at once
# instead of recording every row as failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfbisect
psql_q "DELETE FROM backoffice.personal_account_dealing" >/dev/null
bf_generate 1 1000 0
psql_q "UPDATE backoffice.personal_account_dealing SET trade_size = 0 WHERE id = 617" >/dev/null

group "one bad row among 1,000 in one batch"
pc backfill test personal_account_dealing --batch 1000
assert_rc 0
assert_err_contains "1000 source rows in backoffice.personal_account_dealing, 1000 to do"
assert_err_contains "999 source rows done, 1 failed"
assert_err_contains "row id=617 failed"
assert_eq "999|999" "$(psql_q "SELECT count(*), count(DISTINCT id) FROM padealing.pad_request")" "999 requests"
assert_eq "0" "$(psql_q "SELECT count(*) FROM padealing.pad_request WHERE id = 617")" "617 not migrated"
assert_eq "617|23514" "$(psql_q "SELECT source_id, sqlstate FROM padctl.backfill_failures")" "617 recorded with its SQLSTATE"
assert_contains "$(psql_q "SELECT error FROM padctl.backfill_failures")" "pad_request_quantity_check" "the server's message"
assert_eq "999" "$(psql_q "SELECT count(DISTINCT source_id) FROM padctl.migration_mapping")" "999 source rows mapped"
# the failed batch of 1,000, then quarters down to the single row: ~3 log4(1000) transactions, not 1,000
batches=$(psql_q "SELECT batches FROM padctl.backfill_runs")
[ "$batches" -le 25 ] || fail_now "bisection took $batches transactions"
ok "617 isolated and recorded (23514), 999 neighbours landed in $batches transactions"

group "a server error every row would hit ends the run"
psql_q "ALTER TABLE padealing.audit_log RENAME TO audit_log_gone" >/dev/null
psql_q "UPDATE backoffice.personal_account_dealing SET trade_size = 5 WHERE id = 617" >/dev/null
pc backfill test personal_account_dealing --retry-failed
assert_rc 1
assert_err_contains "audit_log"
assert_err_contains "does not exist"
assert_eq "617" "$(psql_q "SELECT string_agg(source_id::text, ',') FROM padctl.backfill_failures")" "nothing more recorded"
assert_eq "1" "$(psql_q "SELECT attempts FROM padctl.backfill_failures")" "the failure was not counted again"
psql_q "ALTER TABLE padealing.audit_log_gone RENAME TO audit_log" >/dev/null
pc backfill test personal_account_dealing --retry-failed
assert_rc 0
assert_eq "1000|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padctl.backfill_failures)")" "all landed"
ok "42P01 failed the run (nothing recorded as failed); after the fix --retry-failed landed 617"

finish

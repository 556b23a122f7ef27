#!/usr/bin/env bash
# Several bad rows of different kinds in batches of 1,000 (neighbours, the
# first and last of a batch, a check constraint and a value too long): the
# server isolates them in the batch's own transaction (one transaction per
# batch), each is recorded with its own SQLSTATE and error, every neighbour
# lands; --dry-run reports the same failures and records nothing;
# --retry-failed lands them once the data is fixed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfisolate
psql_q "DELETE FROM backoffice.personal_account_dealing" >/dev/null
bf_generate 1 2000 0
# a value too long for pad_request.currency (varchar(3)) needs a wider legacy column
psql_q "ALTER TABLE backoffice.personal_account_dealing ALTER COLUMN currency TYPE text;
	UPDATE backoffice.personal_account_dealing SET trade_size = 0 WHERE id IN (1, 17, 18, 1000, 1001);
	UPDATE backoffice.personal_account_dealing SET currency = 'EURO' WHERE id = 1500" >/dev/null
# the batch SQL (the file's last block) ends with a comment, as SQL in a file may
printf '  -- the end of the batch SQL\n' >>"$PROJECT/backfills/personal_account_dealing.yml"

group "--dry-run reports the isolated rows and records nothing"
pc backfill test personal_account_dealing --batch 1000 --dry-run
assert_rc 0
assert_err_contains "1994 source rows would be done, 6 failed"
for id in 1 17 18 1000 1001 1500; do
	assert_err_contains "row id=$id would fail"
done
assert_eq "0|0|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padctl.backfill_failures),
	(SELECT count(*) FROM padctl.migration_mapping)")" "nothing written"
ok "six failing rows reported, nothing recorded"

group "six bad rows isolated in two batches of 1,000, each with its own error"
pc backfill test personal_account_dealing --batch 1000
assert_rc 0
assert_err_contains "1994 source rows done, 6 failed"
assert_eq "1:23514
17:23514
18:23514
1000:23514
1001:23514
1500:22001" "$(psql_q "SELECT source_id || ':' || sqlstate FROM padctl.backfill_failures ORDER BY source_id")" \
	"each failure with its SQLSTATE"
assert_contains "$(psql_q "SELECT error FROM padctl.backfill_failures WHERE source_id = 17")" "pad_request_quantity_check" \
	"the check's message"
assert_contains "$(psql_q "SELECT error FROM padctl.backfill_failures WHERE source_id = 1500")" "too long" \
	"the value's message"
assert_eq "1994|1994|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request),
	(SELECT count(DISTINCT source_id) FROM padctl.migration_mapping),
	(SELECT count(*) FROM padealing.pad_request WHERE id IN (1, 17, 18, 1000, 1001, 1500))")" "the neighbours landed"
assert_eq "2|1994|6" "$(psql_q "SELECT batches, rows_done, rows_failed FROM padctl.backfill_runs ORDER BY started_at DESC LIMIT 1")" \
	"one transaction per batch"
assert_eq "0" "$(psql_q "SELECT count(*) FROM padealing.audit_log a WHERE NOT EXISTS (SELECT 1 FROM padealing.pad_request r WHERE r.id = a.request_id)")" \
	"no audit row of a failed request"
ok "1, 17, 18, 1000, 1001 (23514) and 1500 (22001) isolated; 1,994 rows landed"

group "--retry-failed after the fix"
psql_q "UPDATE backoffice.personal_account_dealing SET trade_size = 5 WHERE id IN (1, 17, 18, 1000, 1001);
	UPDATE backoffice.personal_account_dealing SET currency = 'EUR' WHERE id = 1500" >/dev/null
pc backfill test personal_account_dealing --retry-failed
assert_rc 0
assert_eq "2000|2000|0" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request),
	(SELECT count(DISTINCT source_id) FROM padctl.migration_mapping), (SELECT count(*) FROM padctl.backfill_failures)")" \
	"all landed"
ok "the six rows landed once fixed"

group "a row that times out: the server cannot isolate it, the batch is split instead"
# a statement timeout ends the server's isolating statement as a whole (it
# is not caught there), so the batch falls back to parts in transactions of
# their own, down to the row
bf_generate 2001 2008 0
psql_q "CREATE FUNCTION padealing.slow_row() RETURNS trigger LANGUAGE plpgsql AS
	\$\$BEGIN IF NEW.id = 2005 THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END\$\$;
	CREATE TRIGGER slow_row BEFORE INSERT ON padealing.pad_request FOR EACH ROW EXECUTE FUNCTION padealing.slow_row()" >/dev/null
sed -i 's/^statement_timeout: .*/statement_timeout: 1/' "$PROJECT/backfills/personal_account_dealing.yml"
pc backfill test personal_account_dealing --batch 8
assert_rc 0
assert_err_contains "7 source rows done, 1 failed"
assert_eq "2005:57014" "$(psql_q "SELECT source_id || ':' || sqlstate FROM padctl.backfill_failures")" "the slow row, timed out"
assert_eq "2007" "$(psql_q "SELECT count(*) FROM padealing.pad_request")" "its 7 neighbours landed"
ok "2005 timed out and was isolated by splitting; its neighbours landed"

finish

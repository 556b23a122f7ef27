#!/usr/bin/env bash
# The keyset read takes the next keys of the source in key order and reads
# the mapping and failure rows of the same key range (not key by key): keys
# done or failed inside a range are skipped, keys of another source with
# the same numbers are not, and gaps in the key space, a key near the top of
# bigint and runs stopped mid-range all leave every source row done or
# failed exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfkeyset
psql_q "DELETE FROM backoffice.personal_account_dealing" >/dev/null
bf_generate 1 60 10
# gaps in the key space, and a key near the top of bigint
psql_q "DELETE FROM backoffice.personal_account_dealing WHERE id % 7 = 3;
	UPDATE backoffice.personal_account_dealing SET id = 9223372036854775000 WHERE id = 58" >/dev/null
total=$(psql_q "SELECT count(*) FROM backoffice.personal_account_dealing")
# the same key numbers done and failed for another source: not this one's
psql_q "INSERT INTO padctl.backfill_tables (name) VALUES ('backoffice.other_source');
	INSERT INTO padctl.backfill_mapping (source, source_id, targets, target_ids)
	SELECT t.id, k, '{}', '{}' FROM padctl.backfill_tables t, generate_series(1, 60) k WHERE t.name = 'backoffice.other_source';
	INSERT INTO padctl.runs (id, env, target, command, status, run_by) VALUES ('887-other', 'test', 't1', 'backfill', 'succeeded', 'test');
	INSERT INTO padctl.backfill_failures (source_table, source_id, backfill, run_id, error)
	SELECT 'backoffice.other_source', k, 'other', '887-other', 'not this source' FROM generate_series(1, 60) k" >/dev/null

# once: every source row of this backfill done (a mapping row) or failed
# (a failure row), neither twice, nothing of another source
once() {
	assert_eq "$total|0|0|0" "$(psql_q "SELECT count(*),
		count(*) FILTER (WHERE (SELECT count(*) FROM padctl.migration_mapping m WHERE m.source_table = 'backoffice.personal_account_dealing'
			AND m.source_id = p.id AND m.target_table = 'padealing.pad_request') + (SELECT count(*) FROM padctl.backfill_failures f
			WHERE f.source_table = 'backoffice.personal_account_dealing' AND f.source_id = p.id) <> 1),
		(SELECT count(*) FROM padealing.pad_request r WHERE NOT EXISTS (SELECT 1 FROM backoffice.personal_account_dealing p2 WHERE p2.id = r.id)),
		(SELECT count(*) FROM (SELECT id FROM padealing.pad_request GROUP BY id HAVING count(*) > 1) d)
		FROM backoffice.personal_account_dealing p")" "$1"
}

group "runs stopped mid-range resume where they stopped"
pc backfill test personal_account_dealing --limit 7 --batch 3
assert_rc 0
assert_err_contains "7 source rows done, 0 failed"
pc backfill test personal_account_dealing --limit 5 --batch 4
assert_rc 0
pc backfill test personal_account_dealing --limit 4 --dry-run
assert_rc 0
pc backfill test personal_account_dealing --batch 4
assert_rc 0
assert_err_contains "this run: 39 rows in batches of 4"
once "after three runs in batches of 3 and 4 every row once"
assert_eq "60|60" "$(psql_q "SELECT (SELECT count(*) FROM padctl.backfill_mapping m JOIN padctl.backfill_tables t ON t.id = m.source
	WHERE t.name = 'backoffice.other_source'), (SELECT count(*) FROM padctl.backfill_failures WHERE source_table = 'backoffice.other_source')")" \
	"the other source's rows untouched"
assert_eq "1" "$(psql_q "SELECT count(*) FROM padealing.pad_request WHERE id = 9223372036854775000")" "the key near the top of bigint done"
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "0 to do"
ok "$total rows in four runs, each once"

group "keys to do between done and failed keys"
# three done rows made to do again (their target rows and mapping rows
# gone), between done rows and failed rows of the same ranges
psql_q "DELETE FROM padealing.audit_log WHERE request_id IN (12, 13, 33);
	DELETE FROM padealing.pad_request WHERE id IN (12, 13, 33);
	DELETE FROM padctl.backfill_mapping WHERE source_id IN (12, 13, 33)
		AND source = (SELECT id FROM padctl.backfill_tables WHERE name = 'backoffice.personal_account_dealing')" >/dev/null
pc backfill test personal_account_dealing --batch 4
assert_rc 0
assert_err_contains ", 3 to do"
assert_err_contains "3 source rows done, 0 failed"
once "the three again, once each"
ok "a range holding done and failed keys gives only the keys to do"

finish

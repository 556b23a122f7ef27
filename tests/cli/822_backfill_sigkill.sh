#!/usr/bin/env bash
# kill -9 of padctl in the middle of a backfill: what committed stays, the
# batch in flight leaves nothing, and the next run resumes after the last
# committed batch: every source row lands exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfkill
psql_q "DELETE FROM backoffice.personal_account_dealing" >/dev/null
bf_generate 1 3000 0
# batches of 100 with a pause between them, so the kill lands mid-run
sed -i 's/^pause_ms: 0 /pause_ms: 200 /; s/^batch_size: [0-9]*/batch_size: 100/' "$PROJECT/backfills/personal_account_dealing.yml"
grep -q '^pause_ms: 200' "$PROJECT/backfills/personal_account_dealing.yml" || fail_now "could not set pause_ms"
LOG=$PROJECT/bf1

mapped() { psql_q "SELECT count(DISTINCT source_id) FROM padctl.migration_mapping"; }
some_mapped() { [ "$(mapped)" -ge 500 ]; }

group "kill -9 padctl mid-run"
pc_bg "$LOG" backfill test personal_account_dealing
pid=$BG_PID
wait_for 120 some_mapped || { bg_wait "$pid" "$LOG" 1; fail_now "no 500 rows mapped in time"; }
kill -9 "$pid"
wait "$pid" 2>/dev/null
assert_eq 137 "$?" "padctl died of SIGKILL"
done_rows=$(mapped)
[ "$done_rows" -lt 3000 ] || fail_now "the run finished before the kill"
ok "killed after $done_rows source rows"

group "what committed is whole, nothing else is there"
assert_eq "$done_rows|$done_rows|$done_rows" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request),
	(SELECT count(*) FROM padealing.audit_log WHERE action_type = 'request_submitted'),
	(SELECT count(*) FROM padctl.migration_mapping WHERE target_table = 'padealing.pad_request')")" \
	"requests, submissions and mappings agree"
assert_eq "0" "$(psql_q "SELECT count(*) FROM padealing.pad_request r WHERE NOT EXISTS (SELECT 1 FROM padctl.migration_mapping m
	WHERE m.source_id = r.id AND m.target_table = 'padealing.pad_request')")" "no request without its mapping"
ok "$done_rows whole source rows, no partial batch"

group "the next run resumes"
pc backfill test personal_account_dealing
assert_rc 0
assert_err_contains "marked interrupted"
assert_err_contains "$((3000 - done_rows)) to do"
assert_eq "3000|3000|3000|3000" "$(psql_q "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(DISTINCT id) FROM padealing.pad_request),
	(SELECT count(*) FROM padealing.audit_log WHERE action_type = 'request_submitted'),
	(SELECT count(*) FROM padctl.migration_mapping WHERE target_table = 'padealing.pad_request')")" "every source row once"
assert_eq "0" "$(psql_q "SELECT count(*) FROM (SELECT request_id, approval_type FROM padealing.pad_approval GROUP BY 1, 2 HAVING count(*) > 1) d")" \
	"no approval twice"
assert_eq "interrupted" "$(psql_q "SELECT r.status FROM padctl.runs r JOIN padctl.backfill_runs b ON b.run_id = r.id ORDER BY r.started_at LIMIT 1")" \
	"the killed run is recorded as interrupted"
ok "resumed after row $done_rows: 3000 source rows exactly once"

finish

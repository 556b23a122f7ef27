#!/usr/bin/env bash
# The mapping rows written on the server, in the batch's own statement
# (the backfill service's run_mapped): one per source row, naming every
# target row the batch wrote; none for a batch that fails, for a row the
# server isolates or for a key the batch SQL wrote nothing for (recorded as
# a failure); a source_id outside the batch ends the run with nothing
# written; and batch SQL whose columns are not plain integers and text
# still runs, its rows recorded by the client as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bfsrvmap
BF=$PROJECT/backfills
psql_q "DELETE FROM backoffice.personal_account_dealing" >/dev/null
bf_generate 1 300 0
psql_q "UPDATE backoffice.personal_account_dealing SET trade_size = 0 WHERE id IN (7, 250)" >/dev/null

# a trigger notes which statement wrote each batch's mapping rows
psql_q "CREATE TABLE public.map_writer (server boolean);
	CREATE FUNCTION public.note_writer() RETURNS trigger LANGUAGE plpgsql AS
	\$\$BEGIN INSERT INTO public.map_writer VALUES (current_query() LIKE '%padctl_backfill_batch(\$1%'); RETURN NULL; END\$\$;
	CREATE TRIGGER note_writer AFTER INSERT ON padctl.backfill_mapping
	FOR EACH STATEMENT EXECUTE FUNCTION public.note_writer()" >/dev/null

group "a mapping row for every target row, written by the batch's statement"
pc backfill test personal_account_dealing --batch 100
assert_rc 0
# batches 1 and 3 hold a bad row: their first statement fails (its mapping
# rows go with it), the server isolates the row and the client records the rest
assert_eq "false,true,false" "$(psql_q "SELECT string_agg(server::text, ',' ORDER BY ctid) FROM public.map_writer")" \
	"the clean batch's mapping rows written by the statement that ran its batch SQL"
assert_err_contains "298 source rows done, 2 failed"
assert_eq "298|0|0" "$(psql_q "SELECT count(*), count(*) FILTER (WHERE cardinality(target_ids) = 0),
	count(*) FILTER (WHERE source_id IN (7, 250)) FROM padctl.migration_mapping m
	JOIN LATERAL (SELECT array_agg(target_id) AS target_ids FROM padctl.migration_mapping x
	WHERE x.source_id = m.source_id) a ON true WHERE m.target_table = 'padealing.pad_request'")" \
	"one pad_request mapping per good source row, none for the isolated rows"
# every row of every target table has exactly one mapping row, and no mapping row names a missing row
assert_eq "0" "$(psql_q "SELECT count(*) FROM (
	SELECT 'padealing.pad_request' t, id, id AS src FROM padealing.pad_request
	UNION ALL SELECT 'padealing.pad_approval', id, request_id FROM padealing.pad_approval
	UNION ALL SELECT 'padealing.pad_execution', id, request_id FROM padealing.pad_execution
	UNION ALL SELECT 'padealing.audit_log', id, request_id FROM padealing.audit_log) w
	FULL JOIN padctl.migration_mapping m ON m.target_table = w.t AND m.target_id = w.id AND m.source_id = w.src
	WHERE w.id IS NULL OR m.target_id IS NULL")" "target rows and mapping rows match one to one"
assert_eq "2|2" "$(psql_q "SELECT count(*), count(*) FILTER (WHERE sqlstate = '23514') FROM padctl.backfill_failures")" \
	"the two bad rows recorded"
ok "298 source rows mapped on the server, the two isolated rows not"

reset_all() {
	psql_q "TRUNCATE public.map_writer,  padctl.backfill_mapping, padctl.backfill_failures;
	TRUNCATE padealing.audit_log, padealing.pad_execution, padealing.pad_approval, padealing.pad_request CASCADE" >/dev/null
}

group "a key the batch SQL writes nothing for is a failure, with no mapping row"
reset_all
cat >"$BF/some.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: |
  SELECT id AS source_id, 'padealing.pad_request' AS target_table, id AS target_id
  FROM backoffice.personal_account_dealing WHERE id = ANY ($1) AND id % 2 = 0
EOF
pc backfill test some --batch 50
assert_rc 0
assert_err_contains "150 source rows done, 150 failed"
assert_eq "150|0|150" "$(psql_q "SELECT (SELECT count(*) FROM padctl.migration_mapping WHERE source_id % 2 = 0),
	(SELECT count(*) FROM padctl.migration_mapping WHERE source_id % 2 = 1),
	(SELECT count(*) FROM padctl.backfill_failures WHERE source_id % 2 = 1 AND error LIKE '%wrote no row%')")" \
	"even keys mapped, odd keys recorded as failures"
ok "the odd keys are failures, the even keys mapped"

group "a source_id outside the batch ends the run, nothing written"
reset_all
cat >"$BF/foreign.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: |
  SELECT id + 1000 AS source_id, 'padealing.pad_request' AS target_table, id AS target_id
  FROM backoffice.personal_account_dealing WHERE id = ANY ($1)
EOF
pc backfill test foreign --batch 50
assert_rc 1
# (any of the first batch's: 1001-1050)
assert_err_contains "foreign.yml:4: the batch SQL of backfill \"foreign\" returned source_id 10"
assert_err_contains ", which is not a key of its batch"
assert_eq "0|0" "$(psql_q "SELECT (SELECT count(*) FROM padctl.migration_mapping), (SELECT count(*) FROM padctl.backfill_failures)")" \
	"nothing mapped, nothing recorded"
ok "source_id 10xx is not a key of the batch: the run ends, its batch rolled back"

group "a NULL target_id ends the run; a table that is not a target is reported by mapped()"
reset_all
cat >"$BF/nulls.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: |
  SELECT id AS source_id, 'padealing.pad_request' AS target_table, CASE WHEN id = 7 THEN NULL ELSE id END AS target_id
  FROM backoffice.personal_account_dealing WHERE id = ANY ($1)
EOF
pc backfill test nulls --batch 50
assert_rc 1
assert_err_contains "nulls.yml:4: the batch SQL of backfill \"nulls\" returned a NULL target_table or target_id for source_id 7"
cat >"$BF/elsewhere.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: |
  SELECT id AS source_id, CASE WHEN id = 9 THEN 'padealing.audit_log' ELSE 'padealing.pad_request' END AS target_table,
         id AS target_id
  FROM backoffice.personal_account_dealing WHERE id = ANY ($1)
EOF
pc backfill test elsewhere --batch 50
assert_rc 1
assert_err_contains "elsewhere.yml:4: the batch SQL of backfill \"elsewhere\" returned the row (9, padealing.audit_log, 9)"
assert_err_contains "target_table must be one of the backfill's targets"
assert_eq "0|0" "$(psql_q "SELECT (SELECT count(*) FROM padctl.migration_mapping), (SELECT count(*) FROM padctl.backfill_failures)")" \
	"nothing mapped, nothing recorded"
ok "a NULL and an undeclared target table: the run ends naming the row, nothing written"

group "columns of other types: recorded by the client, as before"
reset_all
cat >"$BF/numeric.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: |
  SELECT id::numeric AS source_id, 'padealing.pad_request' AS target_table, id::numeric AS target_id
  FROM backoffice.personal_account_dealing WHERE id = ANY ($1)
EOF
pc backfill test numeric --batch 64
assert_rc 0
assert_err_contains "300 source rows done, 0 failed"
assert_eq "false" "$(psql_q "SELECT string_agg(DISTINCT server::text, ',') FROM public.map_writer")" \
	"the mapping rows sent by the client"
assert_eq "300|300" "$(psql_q "SELECT count(*), count(DISTINCT source_id) FROM padctl.migration_mapping WHERE target_table = 'padealing.pad_request'")" \
	"every source row mapped"
pc backfill test numeric
assert_rc 0
assert_err_contains "0 to do"
ok "numeric ids: mapped through mapped(), and a re-run has nothing to do"

group "two backfills of different column types in one pipeline, the second isolating a row"
reset_all
cat >"$BF/divide.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: |
  SELECT id::numeric AS source_id, 'padealing.pad_request' AS target_table,
         (id + 0 * (1 / (id - 55)))::numeric AS target_id
  FROM backoffice.personal_account_dealing WHERE id = ANY ($1)
EOF
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - migrate
  - backfill: {name: some, limit: 10}
  - backfill: divide
on_failure: stop
EOF
pc deploy test
assert_rc 0
assert_err_contains "5 source rows done, 5 failed"
assert_err_contains "289 source rows done, 1 failed"
assert_eq "22012" "$(psql_q "SELECT sqlstate FROM padctl.backfill_failures WHERE source_id = 55")" "row 55 isolated"
printf 'steps:\n  - migrate\non_failure: stop\n' >"$PROJECT/pipelines/standard.yml"
ok "the second backfill's batch function replaced the first's in the same session"

finish

#!/usr/bin/env bash
# padctl backfill's refusals (usage, the file, the batch SQL's contract) and
# a backfill as a pipeline step (`- backfill: NAME`), also in a dry run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/backfill_lib.sh"

bf_reference_project bferr
BF=$PROJECT/backfills

group "usage errors"
pc backfill test
assert_rc 2
pc backfill test personal_account_dealing --batch 0
assert_rc 2
assert_err_contains "--batch"
pc backfill test personal_account_dealing --limit abc
assert_rc 2
assert_err_contains "--limit"
pc backfill test personal_account_dealing --status --dry-run
assert_rc 2
pc backfill test personal_account_dealing --dryrun
assert_rc 2
pc backfill test nope
assert_rc 2
assert_err_contains "unknown backfill \"nope\""
pc backfill test ../x
assert_rc 2
assert_err_contains "invalid backfill name"
ok "bad options, unknown and invalid names: exit 2"

group "a bad file is refused before any database is touched"
printf 'source: {table: legacy.pad, key: id}\ntargets: [bo_airflow.oracle_employee]\nsql: SELECT 1\n' >"$BF/bad.yml"
pc backfill test bad
assert_rc 2
assert_err_contains "bad.yml:2:10: target table \"bo_airflow.oracle_employee\" is not in a schema the project owns"
assert_eq "0" "$(psql_q "SELECT count(*) FROM padctl.runs WHERE command = 'backfill'")" "no run recorded"
ok "a target in the protected schema: refused with file:line:col"

group "the batch SQL's contract"
cat >"$BF/cols.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: |
  SELECT id, 'padealing.pad_request', id FROM backoffice.personal_account_dealing WHERE id = ANY ($1)
EOF
pc backfill test cols
assert_rc 1
assert_err_contains "cols.yml:4: the batch SQL of backfill \"cols\" returns the columns (id, ?column?, id)"
cat >"$BF/other.yml" <<'EOF'
source: {table: backoffice.personal_account_dealing, key: id}
targets: [padealing.pad_request]
sql: SELECT id AS source_id, 'padealing.audit_log' AS target_table, id AS target_id FROM backoffice.personal_account_dealing WHERE id = ANY ($1)
EOF
pc backfill test other
assert_rc 1
assert_err_contains "target_table must be one of the backfill's targets"
assert_eq "0|0" "$(psql_q "SELECT (SELECT count(*) FROM padctl.migration_mapping), (SELECT count(*) FROM padctl.backfill_failures)")" \
	"nothing mapped, nothing recorded as failed"
ok "wrong columns or an undeclared target table fail the run naming file:line"

group "a backfill step in a pipeline"
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - migrate
  - backfill: personal_account_dealing
on_failure: stop
EOF
pc deploy test --dry-run
assert_rc 0
assert_err_contains "16 of 16 source rows to do"
assert_err_contains "a dry run of the engine runs no batch"
assert_eq "0" "$(psql_q "SELECT count(*) FROM padealing.pad_request")" "dry run: nothing"
pc deploy test
assert_rc 0
assert_err_contains "12 source rows done, 4 failed"
assert_eq "12" "$(psql_q "SELECT count(*) FROM padealing.pad_request")" "the step ran"
pc history test
assert_out_contains "backfill personal_account_dealing=ok"
assert_out_contains "backfill personal_account_dealing: done 12, failed 4"
ok "deploy runs the backfill step; deploy --dry-run only counts"

group "prod-tier envs"
write_env "$DB" "$TPG_PORT" ""
sed -i 's/^tier: nonprod/tier: prod/' "$PROJECT/envs/test.yml"
pc backfill test personal_account_dealing
assert_rc 3
assert_err_contains "prod-tier"
ok "a prod backfill without an approved plan is refused (exit 3)"

finish

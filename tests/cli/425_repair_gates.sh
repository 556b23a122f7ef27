#!/usr/bin/env bash
# A repair changes what the ledger accepts, so it is refused (exit 3) in an
# env whose pipeline asks for approvals or a stage gate, whatever the env's
# tier, as a deploy there is: refused, not run without them.
. "$(dirname "$0")/lib.sh"

new_project repgate
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0
old=$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0001'")
printf -- '-- reformatted\nCREATE SCHEMA app;\n' >"$PROJECT/migrations/0001_create_app/up.sql"

group "approvals in a non-prod env's pipeline"
cat >>"$PROJECT/pipelines/standard.yml" <<'EOF2'
approvals:
  required: 2
  signers: signers.txt
EOF2
pc repair test 0001 --reason "reformatted"
assert_rc 3
assert_err_contains "approvals (2 required)"
assert_eq "$old" "$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0001'")" "checksum untouched"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.repairs")" "no repair recorded"
ok "exit 3, nothing recorded"

group "a stage gate in a non-prod env's pipeline"
cat >"$PROJECT/pipelines/standard.yml" <<'EOF2'
steps:
  - migrate
stages:
  - name: first
    targets: [t1]
    approval: true
EOF2
pc repair test 0001 --reason "reformatted"
assert_rc 3
assert_err_contains "stage \"first\""
assert_eq "$old" "$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0001'")" "checksum untouched"
ok "exit 3, nothing recorded"

group "without gates the repair goes through"
cat >"$PROJECT/pipelines/standard.yml" <<'EOF2'
steps:
  - migrate
EOF2
pc repair test 0001 --reason "reformatted"
assert_rc 0
assert_eq 1 "$(psql_q "SELECT count(*) FROM padctl.repairs")" "one repair recorded"
ok "repaired"

finish

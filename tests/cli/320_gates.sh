#!/usr/bin/env bash
# Approvals and stage gates are refused, not ignored: a deploy whose pipeline
# asks for either, without an approved plan, exits 3 whatever the tier,
# before any database is touched (a gate needs an approvals section to be
# approved at all). A dry run changes nothing and still runs. cli/860 runs an
# approved plan.
. "$(dirname "$0")/lib.sh"

new_project gates
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
printf 'alice ssh-ed25519 AAAA\n' >"$PROJECT/allowed_signers"

group "a nonprod pipeline with approvals is refused with exit 3"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate
approvals:
  required: 2
  signers: allowed_signers
P
pc deploy test
assert_rc 3
assert_err_contains "deploys only an approved plan: pipeline \"standard\" asks for 2 approvals"
assert_err_contains "standard.yml"
assert_err_contains "nothing was changed"
assert_no_table app.account
assert_eq f "$(psql_q "SELECT to_regnamespace('padctl') IS NOT NULL")" "no ledger after the refusal"
ok "approvals: refused with exit 3, nothing changed"

group "a dry run of that pipeline still runs and says a deploy needs an approved plan"
pc deploy test --dry-run
assert_rc 0
assert_err_contains "needs an approved plan"
assert_no_table app.account
ok "approvals: the dry run warns"

group "a stage with approval: true is refused with exit 3, naming the stage and its line"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate
stages:
  - name: first
    targets: [t1]
    approval: true
P
pc deploy test
assert_rc 3
assert_err_contains "standard.yml:4:"
assert_err_contains "approval gate before stage \"first\""
assert_no_table app.account
ok "stage gate: refused with exit 3"

group "approval: false is no gate: the deploy runs"
sed -i 's/approval: true/approval: false/' "$PROJECT/pipelines/standard.yml"
pc deploy test
assert_rc 0
assert_table_exists app.account
ok "no gate: deployed"

finish

#!/usr/bin/env bash
# status --drift sends its first queries as one pipeline (the facts, the
# history, then the catalog fingerprint, which the server computes while
# padctl compares the history with the files). The cases where that
# pipeline does not run to its end must still give the whole answer: a
# target with no ledger yet (the history fails, the fingerprint is skipped
# and read afterwards), a target whose deploy lock is held (the holder is
# asked for before the fingerprint is read), and --json.
. "$(dirname "$0")/lib.sh"

new_project driftpipe
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY, note text);"

group "a target with no ledger yet"
pc status test --drift
assert_rc 0
assert_out_contains "(no padctl ledger yet)"
assert_out_contains "pending 1"
assert_out_contains "drift: no drift (against a replay of 0 migrations"
assert_not_contains "$ERR" "pipeline mode" "stderr"
# the connection is usable after the skipped fingerprint: the drift check read it itself
pc -v status test --drift
assert_out_contains "drift: no drift (against a replay of 0 migrations, cached)"
assert_err_contains "has not changed since it last compared clean"
ok "no ledger: the history's error skips the fingerprint, which the check then reads itself"

group "a clean target, known clean from the pipeline's answer"
pc deploy test
assert_rc 0
pc status test --drift
assert_rc 0
pc -v status test --drift
assert_rc 0
assert_out_contains "applied 1,"
assert_out_contains "lock: free"
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
assert_err_contains "has not changed since it last compared clean"
ok "status --drift after a deploy: history, lock and a cached clean check"

group "the deploy lock held by another session"
hold_deploy_lock lock-holder
pc -v status test --drift
assert_rc 0
assert_out_contains "lock: lock-holder (database user"
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
assert_err_contains "has not changed since it last compared clean"
pc --json status test --drift
assert_rc 0
assert_eq "False" "$(json_get 'd["targets"][0]["lock_holder"] is None')" "lock_holder is null"
assert_eq "True" "$(json_get 'd["targets"][0]["drift"]["unchanged"]')" "drift.unchanged"
assert_eq "False" "$(json_get 'd["targets"][0]["drift"]["drift"]')" "drift.drift"
release_deploy_lock lock-holder
ok "a held lock: its holder is named and the fingerprint still comes from the pipeline"

group "a change after the clean check"
psql_q "ALTER TABLE app.account ADD COLUMN added int" >/dev/null
pc status test --drift
assert_rc 1
assert_out_contains "extra column app.account.added"
ok "the pipeline's fingerprint differs after a change, and the change is reported"

finish

#!/usr/bin/env bash
# plan records its row without the ledger lock when the ledger target is
# pinned to the server it reached and its ledger is this padctl's version:
# a deploy holding the lock does not hold plan up. It takes the lock (and
# waits for it) when it must pin the target, and refuses a ledger newer than
# this padctl as before (cli/382); a signal before the write records nothing.
. "$(dirname "$0")/lib.sh"

new_project planunlocked
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0
add_migration 0002 add_t "CREATE TABLE app.t (i int);"
KT=$PROJECT/known_targets
grep -q '^test/t1 ' "$KT" || fail_now "deploy did not pin t1"
pin=$(grep '^test/t1 ' "$KT")

# another session holds padctl's advisory lock of the target, as a deploy does
hold_deploy_lock planunlocked_holder

group "pinned target, current ledger: plan records while the lock is held"
pc plan test
assert_rc 0
assert_err_not_contains "waiting up to"
assert_out_contains "-- apply 0002_add_t"
id=$(sed -n 's/^recorded plan \([^ ]*\) .*/\1/p' <<<"$OUT")
[ -n "$id" ] || fail_now "no plan id in: $OUT"
assert_eq 1 "$(psql_q "SELECT count(*) FROM padctl.plans WHERE id = '$id'")" "the plan's row"
assert_eq "$(sed -n 's/^hash sha256:\(.*\)$/\1/p' <<<"$OUT")" \
	"$(psql_q "SELECT hash FROM padctl.plans WHERE id = '$id'")" "the recorded hash"
assert_eq "$pin" "$(grep '^test/t1 ' "$KT")" "the pin"
ok "exit 0 at once, the plan recorded with its hash, the pin untouched"

group "unpinned target: plan waits for the lock to pin it, and records after it is released"
sed -i '/^test\/t1 /d' "$KT"
pc_bg "$PROJECT/p1" plan test
waiting() { grep -q "waiting up to" "$PROJECT/p1.err"; }
wait_for 60 waiting || { bg_wait "$BG_PID" "$PROJECT/p1" 60; fail_now "plan did not wait for the lock"; }
release_deploy_lock planunlocked_holder
bg_wait "$BG_PID" "$PROJECT/p1" 60
assert_rc 0
assert_eq "$pin" "$(grep '^test/t1 ' "$KT")" "the pin written again"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.plans")" "plans recorded"
ok "waited for the lock, pinned t1 as before, recorded the plan"

group "the plan recorded without the lock deploys"
pc deploy test --plan "$id"
assert_rc 0
assert_table_exists app.t
ok "deploy --plan $id applied 0002"

group "the row refused by the server: the error is the server's, nothing recorded"
psql_q "CREATE FUNCTION app.no_plans() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN RAISE EXCEPTION 'no plans today'; END \$\$;
	CREATE TRIGGER no_plans BEFORE INSERT ON padctl.plans FOR EACH ROW EXECUTE FUNCTION app.no_plans()" >/dev/null
pc plan test
assert_rc 1
assert_err_contains "could not record the plan in the ledger on target"
assert_err_contains "no plans today"
assert_err_contains "the plan was not recorded"
assert_out_not_contains "recorded plan"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.plans")" "plans recorded"
psql_q "DROP TRIGGER no_plans ON padctl.plans" >/dev/null
pc plan test
assert_rc 0
assert_eq 3 "$(psql_q "SELECT count(*) FROM padctl.plans")" "plans recorded"
ok "exit 1 with the trigger's message; the next plan records"

group "a ledger of another version: the locked way, which upgrades or refuses"
psql_q "UPDATE padctl.meta SET value = '99' WHERE key = 'ledger_version'" >/dev/null
pc plan test
assert_rc 2
assert_err_contains "is version 99, newer than this padctl"
assert_err_contains "the plan was not recorded"
assert_eq 3 "$(psql_q "SELECT count(*) FROM padctl.plans")" "plans recorded"
ok "exit 2 naming the version, no row added"

finish

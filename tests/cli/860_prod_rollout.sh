#!/usr/bin/env bash
# Staged prod rollout with signed approvals (issue 12): three prod-tier
# targets (three databases), keys generated here, an allowed_signers file
# with odd lines. A plan is signed by its requester, approved by two other
# principals (each counted once, the requester never), re-derived and
# checked at deploy, rolled out canary first and the main stage behind its
# own gate; a failing main stage is rolled back as a whole and the canary
# stays; a killed rollout resumes; plan verify finds a ledger row altered by
# hand.
. "$(dirname "$0")/lib.sh"

new_project prodroll
CANARY=$DB
EU=$(unique_name prodroll_eu)
US=$(unique_name prodroll_us)
create_db "$TPG_PORT" "$EU"
create_db "$TPG_PORT" "$US"
on() { sql_on "$TPG_PORT" "$1" "$2"; }

KEYS=$PROJECT/keys
mkdir -p "$KEYS"
chmod 700 "$KEYS"
for k in alice bob bob2 carol mallory; do
	ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$KEYS/$k" || die "ssh-keygen failed for $k"
done
signers() {
	{
		printf '# who may request and approve (odd lines on purpose)\n\n   \n'
		printf 'this line is not a key\n'
		printf 'alice@example.com namespaces="padctl" %s\n' "$(cat "$KEYS/alice.pub")"
		printf '"bob@example.com,bobby@example.com" namespaces="padctl" %s\n' "$(cat "$KEYS/bob.pub")"
		printf 'bob@example.com namespaces="padctl" %s\n' "$(cat "$KEYS/bob2.pub")"
		[ "${1:-}" = no-carol ] || printf 'carol@example.com namespaces="padctl" %s\n' "$(cat "$KEYS/carol.pub")"
		printf '"unterminated namespaces="padctl" %s\n' "$(cat "$KEYS/mallory.pub")"
	} >"$PROJECT/pipelines/approvers.allowed_signers"
}
signers
target_yaml() {
	printf '  %s:\n    database:\n      host: %s\n      port: %s\n      dbname: %s\n      user: %s\n' \
		"$1" "$TPG_HOST" "$TPG_PORT" "$2" "$TPG_USER"
}
{
	printf 'tier: prod\npipeline: prod\nledger: prod-canary\ntargets:\n'
	target_yaml prod-canary "$CANARY"
	target_yaml prod-eu "$EU"
	target_yaml prod-us "$US"
} >"$PROJECT/envs/prod.yml"
cat >"$PROJECT/pipelines/prod.yml" <<'EOF'
approvals:
  required: 2
  signers: pipelines/approvers.allowed_signers
  valid_for: 8760
stages:
  - name: canary
    targets: [prod-canary]
  - name: main
    targets: [prod-eu, prod-us]
    approval: true
steps: [backup, migrate]
on_failure: rollback
EOF
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.account (id bigint PRIMARY KEY);" \
	"DROP SCHEMA app CASCADE;"

plan_id() { sed -nE 's/^recorded plan ([^ ]+) \(hash sha256:([0-9a-f]{64})\).*/\1/p' <<<"$OUT"; }
has_app() { on "$1" "SELECT to_regclass('app.account') IS NOT NULL"; }
new_plan() {
	pc plan prod --key "$KEYS/alice"
	assert_rc 0
	ID=$(plan_id)
	[ -n "$ID" ] || fail_now "no plan id" "got: $OUT"
}

group "a prod deploy without a plan is refused"
pc deploy prod
assert_rc 3
assert_err_contains "deploys only an approved plan"
assert_eq f "$(has_app "$CANARY")" "canary untouched"
ok "exit 3, nothing changed"

group "a key allowed_signers does not list cannot request a plan"
pc plan prod --key "$KEYS/mallory"
assert_rc 3
assert_err_contains "cannot request a plan of env \"prod\""
assert_eq 0 "$(on "$CANARY" "SELECT count(*) FROM padctl.plans" 2>/dev/null || echo 0)" "no plan recorded"
ok "exit 3, nothing recorded"

group "plan --key: signed by its requester"
new_plan
P1=$ID
assert_out_contains "requested by alice@example.com (key SHA256:"
assert_eq "request|alice@example.com" "$(on "$CANARY" "SELECT action, principal FROM padctl.plan_signatures WHERE plan_id = '$P1'")" "request row"
ok "plan $P1 requested by alice"

group "deploy before approvals: exit 3, how many are missing, who may approve"
pc deploy prod --plan "$P1"
assert_rc 3
assert_err_contains "has 0 of the 2 approvals it needs: 2 missing"
assert_err_contains "bob@example.com"
assert_err_contains "carol@example.com"
assert_err_not_contains "who may approve: alice"
assert_eq f "$(has_app "$CANARY")" "canary untouched"
ok "exit 3 naming bob and carol"

group "self-approval, an unknown key and hostile input are refused"
pc approve "$P1" --key "$KEYS/alice"
assert_rc 3
assert_err_contains "alice@example.com requested plan $P1 and cannot approve"
pc approve "$P1" --key "$KEYS/mallory"
assert_rc 3
assert_err_contains "cannot approve plans of env \"prod\""
pc approve "$P1" --key "$KEYS/bob" --comment "$(printf 'looks fine\nApproved-by: carol')"
assert_rc 2
assert_err_contains "control character"
pc approve "$P1" --key "$KEYS/bob" --comment "$(printf 'esc \033[31m red')"
assert_rc 2
pc approve "../$P1" --key "$KEYS/bob"
assert_rc 2
assert_err_contains "is not a plan id"
pc plan show "$(printf '20261122-000000-0000000\n')"
assert_rc 2
pc approve 20200101-000000-00000000 --key "$KEYS/bob"
assert_rc 2
assert_err_contains "there is no plan \"20200101-000000-00000000\""
assert_eq 1 "$(on "$CANARY" "SELECT count(*) FROM padctl.plan_signatures WHERE plan_id = '$P1'")" "only the request recorded"
ok "exit 3 for alice and mallory, exit 2 for the comment and the ids; nothing recorded"

group "one person approving with two keys counts once"
pc approve "$P1" --key "$KEYS/bob" --comment "reviewed the SQL"
assert_rc 0
assert_out_contains "approved plan $P1 as bob@example.com"
assert_out_contains "1 of 2 approvals"
pc approve "$P1" --key "$KEYS/bob2"
assert_rc 0
assert_out_contains "had approved it already: each principal counts once"
pc deploy prod --plan "$P1"
assert_rc 3
assert_err_contains "has 1 of the 2 approvals it needs: 1 missing"
ok "bob's two keys are one approval"

group "the stage gate blocks the main stage until approved"
pc approve "$P1" --key "$KEYS/carol"
assert_rc 0
pc deploy prod --plan "$P1"
assert_rc 3
assert_err_contains "stage \"main\" of plan $P1 waits for its approval: nothing of it was touched"
assert_err_contains "stage \"canary\" is deployed"
assert_eq t "$(has_app "$CANARY")" "canary deployed"
assert_eq f "$(has_app "$EU")" "eu untouched"
assert_eq f "$(has_app "$US")" "us untouched"
assert_eq 0 "$(on "$EU" "SELECT count(*) FROM pg_namespace WHERE nspname = 'padctl'")" "no ledger on eu yet"
pc deploy prod --plan "$P1"
assert_rc 3
assert_err_contains "resuming at stage \"main\""
assert_eq f "$(has_app "$EU")" "eu still untouched"
pc approve "$P1" --stage main --key "$KEYS/alice"
assert_rc 3
pc approve "$P1" --stage main --key "$KEYS/carol" --comment "canary looks good"
assert_rc 0
pc deploy prod --plan "$P1"
assert_rc 0
assert_err_contains "stage \"main\": gate approved by carol@example.com"
assert_eq t "$(has_app "$EU")" "eu deployed"
assert_eq t "$(has_app "$US")" "us deployed"
ok "canary first; main only after its gate approval"

group "a fully deployed plan cannot be deployed again"
pc deploy prod --plan "$P1"
assert_rc 2
assert_err_contains "was deployed to every stage already"
ok "exit 2"

group "plan show: requester, approvals, stages, backups, SQL"
pc --json plan show "$P1"
assert_rc 0
assert_eq alice@example.com "$(json_get 'd["requester"]')" "requester"
assert_eq 2 "$(json_get 'd["approvals_counted"]')" "approvals counted"
assert_eq "True" "$(json_get 'all(s["verifies_now"] for s in d["signatures"])')" "all verify now"
assert_eq "reviewed the SQL" "$(json_get '[s["comment"] for s in d["signatures"] if s["principal"] == "bob@example.com"][0]')" "comment"
assert_eq "True" "$(json_get '[s for s in d["stages"] if s["stage"] == "main" and s["target"] is None][-1]["event"] == "done"')" "main done"
assert_contains "$(json_get '[s["detail"] for s in d["stages"] if s["target"] == "prod-eu"][-1]')" "backup " "eu's backup"
assert_contains "$(json_get 'd["sql"][0]["sql"]')" "CREATE TABLE app.account" "the SQL"
pc plan show "$P1"
assert_rc 0
assert_out_contains "requested by alice@example.com"
assert_out_contains "approve by bob@example.com key SHA256:"
assert_out_contains "comment: reviewed the SQL"
assert_out_contains "stage main target prod-us: ok"
ok "show names who, when, which key, the stages and the SQL"

group "plan verify: from the ledger alone; a row altered by hand is found"
pc plan verify "$P1"
assert_rc 0
assert_out_contains "plan $P1 verifies"
on "$CANARY" "UPDATE padctl.plan_signatures SET comment = 'rubber stamp' WHERE plan_id = '$P1' AND principal = 'bob@example.com' AND comment = 'reviewed the SQL'" >/dev/null
pc plan verify "$P1"
assert_rc 1
assert_out_contains "approve by bob@example.com key SHA256:"
assert_out_contains "DOES NOT VERIFY"
on "$CANARY" "UPDATE padctl.plan_signatures SET comment = 'reviewed the SQL' WHERE plan_id = '$P1' AND comment = 'rubber stamp'" >/dev/null
on "$CANARY" "UPDATE padctl.plan_bodies SET body = replace(body, '\"0001\"', '\"0009\"')
	WHERE hash = (SELECT hash FROM padctl.plans WHERE id = '$P1')" >/dev/null
pc plan verify "$P1"
assert_rc 1
assert_out_contains "body DOES NOT MATCH its hash"
ok "an edited comment and an edited body are both found"

group "a migration edited after approval is refused"
add_migration 0002 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY);" "DROP TABLE app.trade;"
new_plan
P2=$ID
pc approve "$P2" --key "$KEYS/bob"
assert_rc 0
# carol signs through the ssh-agent: --key is her public key
eval "$(ssh-agent -s)" >/dev/null || die "cannot start ssh-agent"
track_pid "$SSH_AGENT_PID"
ssh-add -q "$KEYS/carol" 2>/dev/null || die "ssh-add failed"
mv "$KEYS/carol" "$KEYS/carol.private"
pc approve "$P2" --key "$KEYS/carol.pub"
assert_rc 0
assert_out_contains "approved plan $P2 as carol@example.com"
pc approve "$P2" --key "$KEYS/carol.pub" --stage main
assert_rc 0
mv "$KEYS/carol.private" "$KEYS/carol"
# a withdrawal is a record of its own; bob approves again with his other key
pc approve "$P2" --withdraw --key "$KEYS/bob" --comment "wait for the index review"
assert_rc 0
assert_out_contains "withdrew the approval of plan $P2 as bob@example.com"
pc deploy prod --plan "$P2"
assert_rc 3
assert_err_contains "has 1 of the 2 approvals it needs"
pc approve "$P2" --key "$KEYS/bob2"
assert_rc 0
assert_eq "approve approve approve withdraw approve" "$(on "$CANARY" "SELECT string_agg(action, ' ' ORDER BY seq) FROM padctl.plan_signatures WHERE plan_id = '$P2' AND action <> 'request'")" "records appended"
printf 'CREATE TABLE app.trade (id bigint PRIMARY KEY, note text);\n' >"$PROJECT/migrations/0002_add_trade/up.sql"
pc deploy prod --plan "$P2"
assert_rc 1
assert_err_contains "no longer matches what the deploy would do: nothing was changed"
assert_err_contains "migrations[0002].up_sha256"
assert_eq "" "$(on "$CANARY" "SELECT to_regclass('app.trade')")" "nothing applied"
printf 'CREATE TABLE app.trade (id bigint PRIMARY KEY);\n' >"$PROJECT/migrations/0002_add_trade/up.sql"
ok "exit 1 naming the migration"

group "a target's history changed by hand after approval is refused"
on "$US" "INSERT INTO padctl.migrations (version, name, checksum, status, applied_by) VALUES ('0000', 'by_hand', 'x', 'applied', 'someone')" >/dev/null
pc deploy prod --plan "$P2"
assert_rc 1
assert_err_contains "targets[prod-us].history"
assert_eq "" "$(on "$CANARY" "SELECT to_regclass('app.trade')")" "nothing applied"
on "$US" "DELETE FROM padctl.migrations WHERE version = '0000'" >/dev/null
ok "exit 1 naming prod-us's history"

group "a signer removed from allowed_signers no longer counts; forged and truncated signatures never do"
signers no-carol
pc deploy prod --plan "$P2"
assert_rc 3
assert_err_contains "has 1 of the 2 approvals it needs: 1 missing"
assert_err_contains "carol@example.com"
assert_err_contains "does not verify against allowed_signers now"
signers
# bob's signature copied onto a row claiming to be carol's, and one cut short
on "$CANARY" "INSERT INTO padctl.plan_signatures (plan_id, action, stage, principal, fingerprint, signed_at, comment, signature, recorded_by)
  SELECT plan_id, 'approve', NULL, 'carol@example.com', fingerprint, signed_at, comment, signature, 'forger' FROM padctl.plan_signatures
  WHERE plan_id = '$P2' AND principal = 'bob@example.com'" >/dev/null
on "$CANARY" "INSERT INTO padctl.plan_signatures (plan_id, action, stage, principal, fingerprint, signed_at, comment, signature, recorded_by)
  SELECT plan_id, 'approve', NULL, 'bobby@example.com', fingerprint, signed_at, comment, left(signature, 120), 'forger' FROM padctl.plan_signatures
  WHERE plan_id = '$P2' AND principal = 'bob@example.com'" >/dev/null
signers no-carol
pc deploy prod --plan "$P2"
assert_rc 3
assert_err_contains "has 1 of the 2 approvals it needs: 1 missing"
pc plan verify "$P2"
assert_rc 1
assert_out_contains "by bobby@example.com"
signers
ok "exit 3 without carol's key, forged rows never count"

group "a migration failing on prod-us rolls back the main stage; the canary stays"
on "$US" "CREATE TABLE app.trade_conflict (id int)" >/dev/null
add_migration 0003 add_conflict "CREATE TABLE app.trade_conflict (id int);" "DROP TABLE app.trade_conflict;"
new_plan
P3=$ID
pc approve "$P3" --key "$KEYS/bob"
pc approve "$P3" --key "$KEYS/carol"
pc approve "$P3" --key "$KEYS/bob" --stage main
pc deploy prod --plan "$P3"
assert_rc 1
assert_err_contains "stage \"main\" failed"
assert_err_contains "stage \"canary\" stays deployed"
assert_eq "app.trade_conflict" "$(on "$CANARY" "SELECT to_regclass('app.trade_conflict')")" "canary keeps 0003"
assert_eq "" "$(on "$EU" "SELECT to_regclass('app.trade')")" "eu rolled back"
assert_eq "0002|rolled_back
0003|rolled_back" "$(on "$EU" "SELECT version, status FROM padctl.migrations WHERE version >= '0002' ORDER BY 1")" "eu history"
assert_eq "" "$(on "$US" "SELECT to_regclass('app.trade')")" "us rolled back"
pc deploy prod --plan "$P3"
assert_rc 1
assert_err_contains "targets[prod-eu].history"
on "$US" "DROP TABLE app.trade_conflict" >/dev/null
new_plan
P4=$ID
pc approve "$P4" --key "$KEYS/bob"
pc approve "$P4" --key "$KEYS/carol"
pc approve "$P4" --key "$KEYS/carol" --stage main
pc deploy prod --plan "$P4"
assert_rc 0
assert_eq "app.trade_conflict" "$(on "$US" "SELECT to_regclass('app.trade_conflict')")" "us deployed"
assert_eq "app.trade" "$(on "$EU" "SELECT to_regclass('app.trade')")" "eu deployed"
ok "both main targets rolled back, canary deployed; the old plan refused, a new one deploys"

group "SIGKILL during the main stage, then resume"
# 0004 waits on prod-eu for an advisory lock the test holds
add_migration 0004 add_fx "DO \$\$ BEGIN IF current_database() = '$EU' THEN PERFORM pg_advisory_xact_lock(860860); END IF; END \$\$;
CREATE TABLE app.fx (id int);" "DROP TABLE app.fx;"
new_plan
P5=$ID
pc approve "$P5" --key "$KEYS/bob"
pc approve "$P5" --key "$KEYS/carol"
pc approve "$P5" --key "$KEYS/carol" --stage main
PGAPPNAME=pr_locker "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$EU" >/dev/null 2>&1 <<'L' &
SELECT pg_advisory_lock(860860);
SELECT pg_sleep(600);
L
track_pid $!
held() { [ "$(on "$EU" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 860860 AND granted")" = 1 ]; }
wait_for 30 held || fail_now "the locker did not take the advisory lock"
pc_bg "$PADCTL_TEST_TMP/prodroll.$$" deploy prod --plan "$P5"
waits() { [ "$(on "$EU" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 860860 AND NOT granted")" = 1 ]; }
wait_for 120 waits || fail_now "0004 never waited on prod-eu"
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null
# 0004 went whole, with its COMMIT, in one message: released now, the lock would let it commit; the
# server ends the waiting session once it notices padctl is gone (client_connection_check_interval)
eu_deploy_gone() {
	[ "$(on "$EU" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name LIKE 'padctl deploy %'")" = 0 ]
}
wait_for 60 eu_deploy_gone || fail_now "the killed deploy's session on prod-eu is still there"
on "$EU" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pr_locker'" >/dev/null
assert_eq "app.fx" "$(on "$CANARY" "SELECT to_regclass('app.fx')")" "canary done before the kill"
assert_eq "" "$(on "$EU" "SELECT to_regclass('app.fx')")" "eu not applied"
pc deploy prod --plan "$P5"
assert_rc 0
assert_err_contains "resuming at stage \"main\""
assert_eq "app.fx" "$(on "$EU" "SELECT to_regclass('app.fx')")" "eu deployed on resume"
assert_eq "app.fx" "$(on "$US" "SELECT to_regclass('app.fx')")" "us deployed on resume"
ok "the killed rollout resumed at the main stage"

group "history prod lists the plans with their signatures and stages"
pc history prod
assert_rc 0
assert_out_contains "plan $P1 recorded"
assert_out_contains "approve by bob@example.com (key SHA256:"
assert_out_contains "stage main target prod-eu: ok"
pc --json history prod
assert_rc 0
assert_eq alice@example.com "$(json_get '[p for p in d["plans"] if p["id"] == "'"$P1"'"][0]["signatures"][0]["principal"]')" "requester in --json"
ok "history shows who requested, who approved, each stage and target"

group "rollback in prod: a signed, approved rollback plan"
pc rollback prod
assert_rc 3
assert_err_contains "needs an approved rollback plan"
pc plan prod --rollback --key "$KEYS/mallory"
assert_rc 3
pc plan prod --rollback --key "$KEYS/alice"
assert_rc 0
RB=$(plan_id)
[ -n "$RB" ] || fail_now "no rollback plan id" "got: $OUT"
pc rollback prod --plan "$RB"
assert_rc 3
assert_err_contains "has 0 of the 2 approvals it needs"
pc approve "$RB" --key "$KEYS/bob"
assert_rc 0
assert_out_contains "rollback plan: undoes the newest run"
pc approve "$RB" --key "$KEYS/carol"
assert_rc 0
pc rollback prod --plan "$RB"
assert_rc 0
for db in "$CANARY" "$EU" "$US"; do
	assert_eq "" "$(on "$db" "SELECT to_regclass('app.fx')")" "0004 rolled back on $db"
done
pc rollback prod --plan "$RB"
assert_rc 2
assert_err_contains "carried out already"
ok "refused without a plan and without approvals; the approved plan undid 0004 everywhere, once"

group "an approval older than approvals.valid_for does not count"
new_plan
P6=$ID
pc approve "$P6" --key "$KEYS/bob"
assert_rc 0
H6=$(on "$CANARY" "SELECT hash FROM padctl.plans WHERE id = '$P6'")
# carol's genuine signature, made in 2020 (the test holds her key)
printf 'padctl-signature 1\naction: approve\nenv: prod\nplan: %s\nhash: sha256:%s\nstage: -\ntime: 2020-01-01T00:00:00Z\ncomment: \n' \
	"$P6" "$H6" >"$PROJECT/old.msg"
ssh-keygen -q -Y sign -n padctl -f "$KEYS/carol" "$PROJECT/old.msg" || die "ssh-keygen sign failed"
FP=$(ssh-keygen -l -f "$KEYS/carol.pub" | awk '{print $2}')
on "$CANARY" "INSERT INTO padctl.plan_signatures (plan_id, action, stage, principal, fingerprint, signed_at, comment, signature, recorded_by)
  VALUES ('$P6', 'approve', NULL, 'carol@example.com', '$FP', '2020-01-01T00:00:00Z', '', \$sig\$$(cat "$PROJECT/old.msg.sig")\$sig\$, 'test')" >/dev/null
pc plan verify "$P6"
assert_rc 0
pc deploy prod --plan "$P6"
assert_rc 3
assert_err_contains "has 1 of the 2 approvals it needs"
assert_err_contains "expired (approvals.valid_for)"
ok "a genuine 2020 approval verifies but has expired"

group "records are append-only"
assert_eq 0 "$(on "$CANARY" "SELECT n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE schemaname = 'padctl' AND relname = 'plan_stages'")" "no update or delete of stage records"
ok "padctl.plan_stages only grew"

finish

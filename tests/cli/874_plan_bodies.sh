#!/usr/bin/env bash
# A ledger keeps each plan body once (padctl.plan_bodies, by hash): a plan of
# an unchanged set records only its row, and does not send the body again
# when .padctl/plan-body.* names it. The hint decides only what is sent: a
# wrong, damaged or hostile one costs a round trip, never a plan without its
# body. Plans recorded before the table existed keep their bodies in their
# rows; a body edited or deleted by hand is found.
. "$(dirname "$0")/lib.sh"

new_project planbodies
add_migration 0001 create_app "CREATE SCHEMA app;" "DROP SCHEMA app;"
add_migration 0002 add_t "CREATE TABLE app.t (i int);" "DROP TABLE app.t;"
# plan show and plan verify read plans of a pipeline with approvals: alice
# requests, bob approves
KEYS=$PROJECT/keys
mkdir -p "$KEYS"
chmod 700 "$KEYS"
for k in alice bob; do
	ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$KEYS/$k" || die "ssh-keygen failed for $k"
	printf '%s@example.com namespaces="padctl" %s\n' "$k" "$(cat "$KEYS/$k.pub")"
done >"$PROJECT/pipelines/approvers.allowed_signers"
cat >>"$PROJECT/pipelines/standard.yml" <<'EOF'
approvals:
  required: 1
  signers: pipelines/approvers.allowed_signers
EOF
# plan ARGS...: a plan requested by alice; deploy_plan ID: approved by bob, deployed
plan() { pc "$@" plan test --key "$KEYS/alice"; }
deploy_plan() {
	pc approve "$1" --env test --key "$KEYS/bob"
	assert_rc 0
	pc deploy test --plan "$1"
}

plan_id() { sed -n 's/^recorded plan \([^ ]*\) .*/\1/p' <<<"$OUT"; }
plan_hash() { sed -n 's/^recorded plan [^ ]* (hash sha256:\([0-9a-f]*\)).*/\1/p' <<<"$OUT"; }
hints() { find "$PROJECT/.padctl" -maxdepth 1 -name 'plan-body.*' 2>/dev/null; }

group "the first plan stores its body once, and keeps its hash as the hint"
plan
assert_rc 0
ID1=$(plan_id)
H1=$(plan_hash)
[ -n "$ID1" ] && [ -n "$H1" ] || fail_now "no plan id or hash" "got: $OUT"
assert_eq "1|0" "$(psql_q "SELECT count(*), count(body) FROM padctl.plans")" "plan rows, bodies kept in rows"
assert_eq "$H1" "$(psql_q "SELECT encode(sha256(convert_to(body, 'UTF8')), 'hex') FROM padctl.plan_bodies
	WHERE hash = '$H1'")" "the stored body's SHA-256"
HINT=$(hints)
[ "$(wc -l <<<"$HINT")" = 1 ] && [ -f "$HINT" ] || fail_now "no single body hint in .padctl" "got: $HINT"
assert_eq "padctl plan body 1
$H1" "$(cat "$HINT")" "the hint"
assert_eq 600 "$(stat -c %a "$HINT")" "the hint's mode"
ok "one row in padctl.plans without a body, the body in padctl.plan_bodies, the hint 0600"

group "the same set again: the row only, the body not sent"
plan -v
assert_rc 0
ID2=$(plan_id)
assert_eq "$H1" "$(plan_hash)" "the hash"
assert_err_contains "holds the body sha256:$H1 already"
assert_eq "2|1" "$(psql_q "SELECT count(*), (SELECT count(*) FROM padctl.plan_bodies) FROM padctl.plans")" \
	"plan rows, bodies"
pc plan verify "$ID2" --env test
assert_rc 0
assert_out_contains "plan $ID2 verifies"
pc --json plan show "$ID2" --env test
assert_rc 0
assert_eq "$H1" "$(json_get 'd["hash"]')" "plan show's hash"
ok "a second row naming the same body; plan verify and plan show read it"

group "the hint names a body the ledger does not hold: the body is sent"
psql_q "DELETE FROM padctl.plan_signatures; DELETE FROM padctl.plan_sql; DELETE FROM padctl.plan_stages;
	DELETE FROM padctl.plans; DELETE FROM padctl.plan_bodies" >/dev/null
plan -v
assert_rc 0
ID3=$(plan_id)
assert_err_contains "does not hold the body sha256:$H1: sending it"
assert_eq "1|1" "$(psql_q "SELECT count(*), (SELECT count(*) FROM padctl.plan_bodies WHERE hash = '$H1') FROM padctl.plans")" \
	"plan rows, the body"
deploy_plan "$ID3"
assert_rc 0
assert_table_exists app.t
ok "recorded with its body after one more round trip, and it deploys"

group "a damaged or hostile hint is no hint"
add_migration 0003 add_u "CREATE TABLE app.u (i int);" "DROP TABLE app.u;"
n=0
for bad in "" "padctl plan body 1" "padctl plan body 1
${H1^^}" "padctl plan body 2
$H1" "padctl plan body 1
${H1}0" "padctl plan body 1
$H1
$H1" "$(head -c 300 /dev/zero | tr '\0' x)"; do
	printf '%s' "$bad" >"$HINT"
	[ -z "$bad" ] || printf '\n' >>"$HINT"
	plan -v
	assert_rc 0
	assert_err_not_contains "already"
	n=$((n + 1))
done
# a symlink to something endless, a FIFO and a directory in its place
rm -f "$HINT"
ln -s /dev/zero "$HINT"
plan -v
assert_rc 0
assert_err_not_contains "already"
rm -f "$HINT"
mkfifo "$HINT"
plan -v
assert_rc 0
assert_err_not_contains "already"
rm -f "$HINT"
mkdir "$HINT"
plan -v
assert_rc 0
assert_err_not_contains "already"
assert_err_contains "could not keep the plan's hash in $HINT"
rmdir "$HINT"
H4=$(plan_hash)
assert_eq "$((n + 3))" "$(psql_q "SELECT count(*) FROM padctl.plans WHERE hash = '$H4'")" "plans of the new set"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.plans p WHERE NOT EXISTS
	(SELECT FROM padctl.plan_bodies b WHERE b.hash = p.hash)")" "plans without a body"
ok "each recorded with its body sent: $n damaged hints, a link to /dev/zero, a FIFO, a directory"

group "a body deleted by hand: plan show, verify, approve and deploy --plan say so"
plan
assert_rc 0
ID5=$(plan_id)
psql_q "DELETE FROM padctl.plan_bodies WHERE hash = '$H4'" >/dev/null
for cmd in "plan show $ID5 --env test" "plan verify $ID5 --env test" "approve $ID5 --env test --key $KEYS/bob" \
	"deploy test --plan $ID5"; do
	# shellcheck disable=SC2086
	pc $cmd
	assert_rc 1
	assert_err_contains "plan \"$ID5\" has no body in the ledger on target \"t1\""
	assert_err_contains "names the body sha256:$H4, which padctl.plan_bodies does not hold"
done
assert_no_table app.u
ok "each fails naming the plan and the missing body; nothing deployed"

group "a body edited by hand is found, in padctl.plan_bodies as in an older row"
plan -v
assert_rc 0
ID6=$(plan_id)
assert_err_contains "does not hold the body"
psql_q "UPDATE padctl.plan_bodies SET body = replace(body, '\"0003\"', '\"0009\"') WHERE hash = '$H4'" >/dev/null
pc plan verify "$ID6" --env test
assert_rc 1
assert_out_contains "body DOES NOT MATCH its hash"
pc approve "$ID6" --env test --key "$KEYS/bob"
assert_rc 1
assert_err_contains "someone edited padctl.plans or padctl.plan_bodies"
# a row of a ledger before step 13 keeps its body: that one is read, and checked
psql_q "UPDATE padctl.plans SET body = replace(b.body, '\"0009\"', '\"0003\"') FROM padctl.plan_bodies b
	WHERE b.hash = plans.hash AND plans.id = '$ID6'" >/dev/null
pc plan verify "$ID6" --env test
assert_rc 0
psql_q "UPDATE padctl.plans SET body = replace(body, '\"0003\"', '\"0008\"') WHERE id = '$ID6'" >/dev/null
pc plan verify "$ID6" --env test
assert_rc 1
assert_out_contains "body DOES NOT MATCH its hash"
assert_no_table app.u
ok "an edited body fails plan verify and approve, wherever it is kept"

group "a ledger from before padctl.plan_bodies: read as it is, upgraded by the next plan"
psql_q "UPDATE padctl.plan_bodies SET body = replace(body, '\"0009\"', '\"0003\"') WHERE hash = '$H4';
	UPDATE padctl.plans SET body = b.body FROM padctl.plan_bodies b WHERE b.hash = plans.hash;
	DROP TABLE padctl.plan_bodies;
	UPDATE padctl.meta SET value = '12' WHERE key = 'ledger_version'" >/dev/null
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.plans WHERE body IS NULL")" "rows without a body"
old=$(psql_q "SELECT id FROM padctl.plans WHERE body LIKE '%\"0003\"%' ORDER BY created_at LIMIT 1")
[ -n "$old" ] || fail_now "no plan of the set left in the ledger"
pc plan verify "$old" --env test
assert_rc 0
assert_eq 12 "$(psql_q "SELECT value FROM padctl.meta WHERE key = 'ledger_version'")" "the version after a read"
plan -v
assert_rc 0
ID7=$(plan_id)
assert_err_contains "from version 12 to 13"
assert_eq t "$(psql_q "SELECT body IS NULL FROM padctl.plans WHERE id = '$ID7'")" "the new row has no body"
pc plan verify "$old" --env test
assert_rc 0
deploy_plan "$ID7"
assert_rc 0
assert_table_exists app.u
ok "an older plan verifies before and after the upgrade; the new one deploys"

finish

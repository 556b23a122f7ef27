#!/usr/bin/env bash
# plan prints the pending SQL, records the plan in padctl.plans and prints its
# id and hash; the hash is stable while nothing changes and moves when a
# pending migration's file changes.
. "$(dirname "$0")/lib.sh"

new_project plan
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.plan_marker_account (id bigint PRIMARY KEY);" "DROP SCHEMA app CASCADE;"
add_migration 0002 add_trade "CREATE TABLE app.plan_marker_trade (id bigint PRIMARY KEY);" "DROP TABLE app.plan_marker_trade;"

plan_id_hash() {   # from text output: "ID HASH"
	sed -nE 's/^recorded plan ([^ ]+) \(hash sha256:([0-9a-f]{64})\).*/\1 \2/p' <<<"$OUT"
}

group "plan prints the SQL and records the plan"
pc plan test
assert_rc 0
assert_out_contains "CREATE TABLE app.plan_marker_account (id bigint PRIMARY KEY);"
assert_out_contains "CREATE TABLE app.plan_marker_trade (id bigint PRIMARY KEY);"
assert_out_contains "target t1: 2 migrations"
read -r id1 hash1 <<<"$(plan_id_hash)"
[ -n "${hash1:-}" ] || fail_now "no \"recorded plan <id> (hash sha256:<hex>)\" line" "got: $OUT"
assert_eq "test|$hash1" "$(psql_q "SELECT env, hash FROM padctl.plans WHERE id = '$id1'")" "padctl.plans row of $id1"
assert_no_table app.plan_marker_account
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations")" "plan applies nothing"
ok "plan test prints the SQL, \"recorded plan $id1\", row in padctl.plans, nothing applied"

group "a second plan of the same state has the same hash"
pc plan test
assert_rc 0
read -r id2 hash2 <<<"$(plan_id_hash)"
assert_eq "$hash1" "$hash2" "hash of an unchanged plan"
[ "$id1" != "$id2" ] || fail_now "two plans got the same id $id1"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.plans WHERE hash = '$hash1'")" "plans recorded with that hash"
ok "two plans: different ids, same hash"

group "--json plan"
pc --json plan test
assert_rc 0
assert_eq "$hash1" "$(json_get 'd["hash"]')" "hash in JSON"
jid=$(json_get 'd["id"]')
assert_eq "0001 0002" "$(json_get '" ".join(m["version"] for m in d["plan"]["targets"][0]["migrations"])')" \
	"plan.targets[0].migrations versions"
assert_eq "apply" "$(json_get 'd["plan"]["targets"][0]["migrations"][1]["action"]')" "action of 0002"
assert_contains "$(json_get 'd["plan"]["targets"][0]["migrations"][1]["sql"]')" "plan_marker_trade" "sql of 0002"
assert_eq "$hash1" "$(psql_q "SELECT hash FROM padctl.plans WHERE id = '$jid'")" "JSON plan recorded"
ok "--json plan parses with id, hash and plan.targets[0].migrations"

group "--out FILE writes the hashed bytes"
pc plan test --out "$PROJECT/plan.json"
assert_rc 0
read -r id3 hash3 <<<"$(plan_id_hash)"
assert_out_contains "written to $PROJECT/plan.json"
assert_eq "$hash3" "$(sha256sum "$PROJECT/plan.json" | cut -d' ' -f1)" "sha256sum of the file"
assert_eq "$hash1" "$hash3" "hash of the written plan"
OUT=$(cat "$PROJECT/plan.json")
assert_eq 2 "$(json_get 'len(d["targets"][0]["migrations"])')" "migrations in the file"
ok "--out writes the plan whose sha256sum is the printed hash"

group "the hash moves when a pending migration changes"
up2=$PROJECT/migrations/0002_add_trade/up.sql
orig=$(cat "$up2")
printf '%s\n' "CREATE TABLE app.plan_marker_trade (id bigint PRIMARY KEY, qty int);" >"$up2"
pc plan test
assert_rc 0
read -r _ hash4 <<<"$(plan_id_hash)"
[ "$hash4" != "$hash1" ] || fail_now "the plan hash did not change after editing $up2"
printf '%s\n' "DROP TABLE IF EXISTS app.plan_marker_trade;" >"$PROJECT/migrations/0002_add_trade/down.sql"
printf '%s\n' "$orig" >"$up2"
pc plan test
read -r _ hash5 <<<"$(plan_id_hash)"
[ "$hash5" != "$hash1" ] || fail_now "the plan hash did not change after editing down.sql"
printf '%s\n' "DROP TABLE app.plan_marker_trade;" >"$PROJECT/migrations/0002_add_trade/down.sql"
pc plan test
read -r _ hash6 <<<"$(plan_id_hash)"
assert_eq "$hash1" "$hash6" "hash after restoring both files"
ok "editing up.sql or down.sql changes the hash; restoring them brings it back"

group "the hash covers the target's history"
pc deploy test
assert_rc 0
pc plan test
assert_rc 0
assert_out_contains "target t1: 0 migrations"
read -r _ hash7 <<<"$(plan_id_hash)"
[ "$hash7" != "$hash1" ] || fail_now "the plan hash did not change after a deploy"
ok "after a deploy the plan is empty and its hash differs"

finish

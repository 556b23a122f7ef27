#!/usr/bin/env bash
# padctl repair ENV VERSION... --reason TEXT accepts the new checksum of an
# applied migration whose file was reformatted, records who, why, the old and
# new checksum and the run in padctl.repairs, and history shows it. It refuses
# a version that is not applied, one whose checksum already matches, a missing
# --reason, and a prod-tier env (exit 3, until approvals exist).
. "$(dirname "$0")/lib.sh"

new_project repair
add_migration 0001 create_app "CREATE SCHEMA app;"
add_migration 0002 add_t "CREATE TABLE app.t (i int);"
add_migration 0003 add_u "CREATE TABLE app.u (i int);"
pc deploy test
assert_rc 0
old2=$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0002'")
old3=$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0003'")
printf -- '-- reformatted upstream\ncreate table app.t (\n    i int\n);\n' >"$PROJECT/migrations/0002_add_t/up.sql"
printf -- 'CREATE TABLE app.u (i int);  -- same\n' >"$PROJECT/migrations/0003_add_u/up.sql"
add_migration 0004 add_v "CREATE TABLE app.v (i int);"

group "the reformatted files are checksum mismatches"
pc deploy test
assert_rc 1
assert_err_contains "2 applied migrations changed since they were applied"
pc status test
assert_out_contains "checksum mismatch"
ok "deploy refuses, status shows the mismatch"

ledger() { psql_q "SELECT (SELECT string_agg(version || checksum, ',' ORDER BY version) FROM padctl.migrations),
	(SELECT count(*) FROM padctl.runs), (SELECT count(*) FROM padctl.repairs)"; }

group "refusals change nothing"
before=$(ledger)
pc repair test 0002
assert_rc 2
assert_err_contains "repair needs --reason TEXT"
pc repair test 0002 --reason "   "
assert_rc 2
pc repair test 0004 --reason x
assert_rc 2
assert_err_contains "migration 0004_add_v is not applied on target \"t1\""
pc repair test 0001 --reason x
assert_rc 2
assert_err_contains "migration 0001_create_app on target \"t1\" already has the checksum of its file"
pc repair test 0002 0001 --reason x
assert_rc 2
pc repair test 0009 --reason x
assert_rc 2
assert_err_contains "no migration has version \"0009\""
assert_eq "$before" "$(ledger)" "the ledger after the refusals"
ok "no reason, a pending version, a matching one (also with a good one), an unknown one: exit 2, nothing written"

group "prod-tier envs are refused until approvals exist"
sed 's/^tier: nonprod/tier: prod/' "$PROJECT/envs/test.yml" >"$PROJECT/envs/prodlike.yml"
pc repair prodlike 0002 --reason x
assert_rc 3
assert_err_contains "prod-tier: a repair there needs an approval"
assert_eq "$before" "$(ledger)" "the ledger after the prod refusal"
ok "repair on a prod-tier env: exit 3, nothing written"

group "repair accepts both new checksums in one run"
pc repair test 0002 0003 --reason "upstream reformat, same statements"
assert_rc 0
assert_out_contains "target t1: accepted the new checksum of 0002_add_t"
assert_out_contains "target t1: accepted the new checksum of 0003_add_u"
run=$(psql_q "SELECT id FROM padctl.runs WHERE command = 'repair'")
assert_eq "repair|ok" "$(psql_q "SELECT command, status FROM padctl.runs WHERE id = '$run'")" "the repair run"
new2=$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0002'")
[ "$new2" != "$old2" ] || fail_now "0002's checksum did not change"
assert_eq "0002|$old2|$new2|upstream reformat, same statements|t
0003|$old3|$(psql_q "SELECT checksum FROM padctl.migrations WHERE version = '0003'")|upstream reformat, same statements|t" \
	"$(psql_q "SELECT version, old_checksum, new_checksum, reason, repaired_by LIKE '%@%' FROM padctl.repairs WHERE run_id = '$run' ORDER BY version")" \
	"padctl.repairs rows"
ok "padctl.repairs records run $run: old and new checksums, reason, who"

group "deploy goes on; history shows the repair"
pc deploy test
assert_rc 0
assert_err_contains "applied 0004_add_v"
pc history test
assert_rc 0
assert_out_matches "$run +repair +ok "
assert_out_contains "repaired 0002: checksum ${old2:0:12}... -> ${new2:0:12}..."
assert_out_contains "upstream reformat, same statements"
pc --json history test
assert_rc 0
assert_eq "0002 $old2 $new2" "$(json_get "' '.join([[r for r in d['runs'] if r['id'] == '$run'][0]['repairs'][0][k] for k in ('version', 'old_checksum', 'new_checksum')])")" \
	"JSON repairs of $run"
ok "deploy applies 0004; history (text and --json) shows what was repaired"

group "a second repair of the same version is refused"
pc repair test 0002 --reason again
assert_rc 2
assert_err_contains "already has the checksum of its file"
ok "nothing left to repair"

finish

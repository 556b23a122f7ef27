#!/usr/bin/env bash
# `padctl --json plan` refused by lint errors still prints a JSON document
# with the findings that stopped it (nothing recorded: no id, no hash), so a
# program reading the output sees why; the errors still go to stderr and the
# exit status is 2, as without --json.
. "$(dirname "$0")/lib.sh"

new_project planjson
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.x (i int)" >/dev/null
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.t (i int);"
add_migration 0002 bad "INSERT INTO app.t VALUES (1);
UPDATE ref.x SET i = 2 WHERE i = 1;"

group "lint errors: a document with the findings, nothing recorded"
pc --json plan test
assert_rc 2
assert_err_contains "0002_bad/up.sql:2:1: error protected-schema"
assert_eq "False" "$(json_get 'd["recorded"]')" "recorded"
assert_eq "1" "$(json_get 'd["lint"][0]["errors"]')" "errors of the target"
assert_eq "0001 0002" "$(json_get '" ".join(m["version"] for m in d["targets"][0]["migrations"])')" "the migrations"
assert_eq "protected-schema 2 1 error" "$(json_get '" ".join(str(x) for f in d["targets"][0]["migrations"][1]["lint"] for x in (f["rule"], f["line"], f["column"], f["severity"]))')" "the finding"
assert_eq "False" "$(json_get '"id" in d or "hash" in d')" "no id or hash"
assert_eq "" "$(psql_q "SELECT to_regclass('padctl.plans')")" "no ledger, no plan recorded"
ok "findings in JSON"

group "without --json: text errors, no JSON"
pc plan test
assert_rc 2
assert_out_not_contains '"recorded"'
ok "unchanged"

finish

#!/usr/bin/env bash
# drift: the protected schemas' catalog is part of the replay's cache key.
# It is kept per target with the fingerprint of those schemas it was read
# after, and reused while the target's fingerprint is the same; a change to
# a protected schema (a column, a grant) makes the check read it again, and
# the replay with the new copy of the schema; a kept file that is damaged or
# does not match is read again, never trusted.
. "$(dirname "$0")/lib.sh"

new_project driftprot
use_drift_scratch 2
kept() { ls "$PROJECT"/.padctl/drift/*.protected 2>/dev/null; }

psql_q "CREATE SCHEMA ref; CREATE TABLE ref.employee (id int PRIMARY KEY, name text)" >/dev/null
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY, employee_id int REFERENCES ref.employee (id));"

group "the protected schemas' catalog is read once, then kept while their fingerprint is the same"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
[ -n "$(kept)" ] || fail_now "no kept protected catalog in $PROJECT/.padctl/drift"
assert_contains "$(cat "$(kept)")" "employee" "the kept catalog"
pc -v status test --drift
assert_rc 0
assert_out_contains "drift: no drift (against a replay of 1 migration, cached)"
assert_err_contains "the protected schemas' catalog is the one kept in"
assert_err_contains "has not changed since it last compared clean"
pc -v validate test
assert_rc 0
assert_err_contains "the protected schemas' catalog is the one kept in"
ok "status --drift and validate reuse the kept catalog"

group "a column added to a protected table: read again, and a new replay with it"
keys_before=$(ls "$PROJECT"/.padctl/drift/*.catalog)
psql_q "ALTER TABLE ref.employee ADD COLUMN email text" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_not_contains "has not changed since"
assert_err_contains "replayed 1 migration"
assert_out_contains "drift: no drift"
assert_contains "$(cat "$(kept)")" "email" "the kept catalog after the change"
[ "$keys_before" != "$(ls "$PROJECT"/.padctl/drift/*.catalog)" ] || fail_now "no replay under a new key"
pc -v status test --drift
assert_rc 0
assert_err_contains "the protected schemas' catalog is the one kept in"
ok "the change is read, replayed against, and kept"

group "a grant on a protected table is a change too"
line=$(head -1 "$(kept)")
psql_q "GRANT SELECT ON ref.employee TO PUBLIC" >/dev/null
pc -v status test --drift
assert_rc 0
assert_err_not_contains "has not changed since"
assert_out_contains "drift: no drift"
[ "$line" != "$(head -1 "$(kept)")" ] || fail_now "the kept catalog's fingerprint did not change after the grant"
assert_contains "$(cat "$(kept)")" "PUBLIC" "the kept catalog after the grant"
pc -v status test --drift
assert_rc 0
assert_err_contains "the protected schemas' catalog is the one kept in"
ok "a grant: read again"

group "a damaged kept file is read again, not trusted"
f=$(kept)
head -1 "$f" >"$f.new" && printf 'not a catalog line\n' >>"$f.new" && mv "$f.new" "$f"
rm -f "$PROJECT"/.padctl/drift/*.clean
pc -v validate test
assert_rc 0
assert_err_not_contains "the one kept in"
assert_err_contains "drift: no drift (against a replay of 1 migration, cached)"
assert_contains "$(cat "$(kept)")" "email" "the kept catalog read again"
# a kept file whose fingerprint line is another's (hand-edited body: a table that is not there)
f=$(kept)
printf '%s protected 0 0 0\n' "$(head -1 "$f" | cut -d' ' -f1-4)" >"$f"
pc -v validate test
assert_rc 0
assert_err_not_contains "the one kept in"
assert_err_contains "drift: no drift (against a replay of 1 migration, cached)"
assert_contains "$(cat "$(kept)")" "email" "the kept catalog read again"
pc -v status test --drift
assert_rc 0
assert_err_contains "the protected schemas' catalog is the one kept in"
ok "damaged or foreign: read from the target again, and kept anew"
finish

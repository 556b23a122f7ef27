#!/usr/bin/env bash
# drift reads both catalogs with search_path pinned: what the server prints
# (a column's type, a foreign key's table, a view's query, a default's
# sequence) names an object without its schema when the schema is on the
# session's search_path. A last migration that ends with SET search_path
# (left in the scratch's session) and a target role with a search_path of
# its own must not make equal catalogs differ.
. "$(dirname "$0")/lib.sh"

new_project driftsp
use_drift_scratch 2

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE SEQUENCE app.account_seq;
CREATE TABLE app.owner (id bigint PRIMARY KEY);
CREATE TABLE app.account (id bigint PRIMARY KEY DEFAULT nextval('app.account_seq'),
  owner_id bigint REFERENCES app.owner (id), mood app.mood);
CREATE VIEW app.sad AS SELECT a.id, o.id AS owner FROM app.account a JOIN app.owner o ON o.id = a.owner_id
  WHERE a.mood = 'sad';"
add_migration 0002 set_path "CREATE TABLE app.note (id bigint PRIMARY KEY, account_id bigint REFERENCES app.account (id));
SET search_path = app, public;"

group "a last migration that ends with SET search_path"
pc deploy test
assert_rc 0
assert_err_contains "drift: replayed 2 migrations of target \"t1\""
assert_err_contains "drift: no drift (against a replay of 2 migrations)"
assert_err_not_contains "changed column"
pc validate test
assert_rc 0
assert_out_contains "target t1: ok"
ok "deploy: the postflight compares the replay left with search_path = app, public and finds no drift"

group "a target role with a search_path of its own"
psql_q "ALTER ROLE \"$TPG_USER\" IN DATABASE \"$DB\" SET search_path = app, public" >/dev/null
assert_eq "app, public" "$(psql_q "SHOW search_path")" "the role's search_path in the target database"
rm -f "$PROJECT"/.padctl/drift/*.clean
pc -v validate test
assert_rc 0
assert_err_not_contains "has not changed since"
assert_err_contains "drift: no drift (against a replay of 2 migrations, cached)"
rm -f "$PROJECT"/.padctl/drift/*.clean
pc status test --drift
assert_rc 0
assert_out_contains "drift: no drift (against a replay of 2 migrations, cached)"
add_migration 0003 add_flag "ALTER TABLE app.note ADD COLUMN mood app.mood;"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 3 migrations)"
ok "validate, status --drift and a deploy compare in full and find no drift"

group "a real change is still found under that search_path"
psql_q "ALTER TABLE app.note ALTER COLUMN mood TYPE text" >/dev/null
pc validate test
assert_rc 1
assert_err_contains "drift: changed column app.note.mood (expected \"app.mood\", the target has \"text\")"
ok "validate: the changed type named with its schema"

finish

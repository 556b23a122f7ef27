#!/usr/bin/env bash
# drift: a function's or a view's text is compared with its white space
# normalised between tokens only. Re-indenting a PL/pgSQL or SQL body by
# hand is not drift; an edit inside a string constant or a quoted name is,
# even one that changes only white space ('a  b' to 'a b').
. "$(dirname "$0")/lib.sh"

new_project driftlit
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.t (id int PRIMARY KEY);
CREATE FUNCTION app.greet() RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
    RETURN 'a  b';
END
\$\$;
CREATE FUNCTION app.label() RETURNS text LANGUAGE sql AS \$\$ SELECT 'x  y' AS \"col  one\" \$\$;
CREATE VIEW app.v AS SELECT id, 'a  b'::text AS label FROM app.t;"

group "a clean deploy"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
ok "deploy: no drift"

group "a PL/pgSQL and an SQL body re-indented by hand: not drift"
psql_q "CREATE OR REPLACE FUNCTION app.greet() RETURNS text LANGUAGE plpgsql AS \$\$ BEGIN RETURN 'a  b';
      END \$\$;
CREATE OR REPLACE FUNCTION app.label() RETURNS text LANGUAGE sql AS \$\$
  SELECT   'x  y'
    AS \"col  one\"
\$\$;" >/dev/null
pc -v validate test
assert_rc 0
assert_err_not_contains "has not changed since"
assert_out_contains "target t1: ok"
ok "white space between the tokens of a body is normalised"

group "a string constant in a PL/pgSQL body: 'a  b' to 'a b'"
psql_q "CREATE OR REPLACE FUNCTION app.greet() RETURNS text LANGUAGE plpgsql AS \$\$ BEGIN RETURN 'a b'; END \$\$" >/dev/null
pc validate test
assert_rc 1
assert_err_contains "drift: changed function app.greet()"
assert_err_contains "RETURN 'a b';"
ok "a literal's white space edited in a function body is reported"

group "a quoted name in an SQL body: \"col  one\" to \"col one\""
psql_q "CREATE OR REPLACE FUNCTION app.greet() RETURNS text LANGUAGE plpgsql AS \$\$ BEGIN RETURN 'a  b'; END \$\$;
CREATE OR REPLACE FUNCTION app.label() RETURNS text LANGUAGE sql AS \$\$ SELECT 'x  y' AS \"col one\" \$\$" >/dev/null
pc validate test
assert_rc 1
assert_err_contains "drift: changed function app.label()"
assert_err_not_contains "app.greet()"
ok "a quoted name's white space edited in a function body is reported"

group "a string constant in a view: 'a  b' to 'a b'"
psql_q "CREATE OR REPLACE FUNCTION app.label() RETURNS text LANGUAGE sql AS \$\$ SELECT 'x  y' AS \"col  one\" \$\$;
CREATE OR REPLACE VIEW app.v AS SELECT id, 'a b'::text AS label FROM app.t" >/dev/null
pc validate test
assert_rc 1
assert_err_contains "drift: changed view app.v"
assert_err_not_contains "changed function"
psql_q "CREATE OR REPLACE VIEW app.v AS SELECT id, 'a  b'::text AS label FROM app.t" >/dev/null
pc validate test
assert_rc 0
ok "a literal's white space edited in a view is reported; clean again once undone"
finish

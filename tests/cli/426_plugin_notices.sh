#!/usr/bin/env bash
# Server NOTICEs and WARNINGs raised by a plugin's SQL that names no file
# (validate's verify.sql, sent with sql_query) are shown by default, like a
# migration's, attributed to the step; -q hides them; padctl's own
# statements stay quiet.
. "$(dirname "$0")/lib.sh"

new_project pnotice
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE FUNCTION app.noisy() RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
  RAISE NOTICE 'checked from verify';
  RAISE WARNING 'almost empty';
  RETURN true;
END \$\$;" "" "SELECT app.noisy();"

group "a NOTICE and a WARNING from verify.sql"
pc deploy test
assert_rc 0
assert_err_contains "[t1 validate] NOTICE: checked from verify"
assert_err_contains "[t1 validate] WARNING: almost empty"
ok "shown by default, with the target and step"

group "-q hides them"
psql_q "DROP SCHEMA app CASCADE; DROP SCHEMA padctl CASCADE" >/dev/null
pc -q deploy test
assert_rc 0
assert_err_not_contains "checked from verify"
assert_err_not_contains "almost empty"
ok "hidden by -q"

finish

#!/usr/bin/env bash
# With standard_conforming_strings off the server reads 'a\' as an open
# string, so a COMMIT that PostgreSQL's parser in padctl reads inside a
# literal and a comment would run. Where padctl guards what is sent (inside a
# transaction it holds, in a dry run), it refuses to send a statement once the
# server reports the setting off; a migration outside a transaction keeps
# working with it.
. "$(dirname "$0")/lib.sh"

new_project scs
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/host_probe"
add_migration 0001 create_app "CREATE SCHEMA app;"
pc deploy test
assert_rc 0

# PostgreSQL's parser (strings standard): a SELECT of 'a\' then a comment;
# the server with standard_conforming_strings off: SELECT 'a'' -- '; COMMIT; SELECT 1
hidden="SELECT 'a\\' -- ' ; COMMIT ; SELECT 1 -- '"

group "a transactional migration cannot hide a COMMIT behind standard_conforming_strings = off"
add_migration 0002 hidden_commit "CREATE TABLE app.half (i int);
SET standard_conforming_strings = off;
$hidden
;
SELECT no_such_fn();"
pc deploy test
assert_rc 1
assert_err_contains "0002_hidden_commit/up.sql:3: "
assert_err_contains "standard_conforming_strings"
assert_no_table app.half
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.migrations WHERE version = '0002'")" "no history row"
ok "refused at line 3 before it was sent; app.half rolled back"

group "the same through set_config()"
cat >"$PROJECT/migrations/0002_hidden_commit/up.sql" <<SQL
CREATE TABLE app.half (i int);
SELECT set_config('standard_conforming_strings', 'off', false);
$hidden
;
SELECT no_such_fn();
SQL
pc deploy test
assert_rc 1
assert_err_contains "0002_hidden_commit/up.sql:3: "
assert_no_table app.half
ok "refused; app.half rolled back"

group "nor behind a client_encoding whose characters can end in a backslash byte"
# read as SJIS, the bytes of "ぃ" and the backslash after it are two characters: E'ぃ\' ends there
cat >"$PROJECT/migrations/0002_hidden_commit/up.sql" <<SQL
CREATE TABLE app.half (i int);
SET client_encoding = 'SJIS';
SELECT E'ぃ\\' ; COMMIT ; --'
;
SELECT no_such_fn();
SQL
pc deploy test
assert_rc 1
assert_err_contains "0002_hidden_commit/up.sql:3: "
assert_err_contains "client_encoding"
assert_no_table app.half
ok "refused; app.half rolled back"
rm -rf "$PROJECT/migrations/0002_hidden_commit"

group "a dry run cannot be left that way"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - host_probe:
      mode: dry_escape
      sql: "SET standard_conforming_strings = off"
      then: "SELECT 'a\\' -- ' ; COMMIT; SET transaction_read_only = off; CREATE TABLE public.escaped (i int); -- '"
on_failure: stop
P
pc deploy test --dry-run
assert_no_table public.escaped
assert_err_contains "standard_conforming_strings"
ok "nothing written"

group "outside a transaction padctl holds, the setting still works"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate
on_failure: stop
P
add_migration 0003 legacy "SET standard_conforming_strings = off;
CREATE TABLE app.legacy AS SELECT current_setting('standard_conforming_strings') AS s;"
printf 'transactional: false\n' >"$PROJECT/migrations/0003_legacy/meta.yml"
add_migration 0004 next "CREATE TABLE app.next AS SELECT 'back\\slash' AS s;"
pc deploy test
assert_rc 0
assert_eq off "$(psql_q "SELECT s FROM app.legacy")" "the setting inside the migration"
assert_eq 'back\slash' "$(psql_q "SELECT s FROM app.next")" "the next migration reads strings the standard way again"
ok "a non-transactional migration with standard_conforming_strings off applies; the next one starts with it on"

finish

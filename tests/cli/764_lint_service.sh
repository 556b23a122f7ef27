#!/usr/bin/env bash
# The "lint" service (issue 11: lint applies to seed files too): a plugin
# hands it SQL that is not a migration; a write to a protected schema fails
# the step naming FILE:LINE:COL, through the target's search_path too; SQL
# that only reads it passes.
. "$(dirname "$0")/lib.sh"

new_project lintsvc
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/lint_probe"
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.x (i int)" >/dev/null
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (i int);"
pipeline() {
	printf '%s\n' "steps:" "  - migrate" "  - lint_probe: {sql: \"$1\"}" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
}

group "a seed that writes a protected schema fails the step"
pipeline 'INSERT INTO app.t VALUES (1);\nINSERT INTO ref.x VALUES (1);'
pc deploy test
assert_rc 1
assert_err_contains "seeds/probe.sql:2:1: error protected-schema: writes to ref.x in the protected schema \"ref\""
ok "the service names seeds/probe.sql:2:1"

group "a seed that reads it passes"
pipeline 'INSERT INTO app.t SELECT i FROM ref.x;'
pc deploy test
assert_rc 0
assert_err_contains "lint: clean"
ok "reading the protected schema is fine"

group "the service works in a dry run"
pipeline 'SET search_path = ref; UPDATE x SET i = 2 WHERE i = 1;'
pc deploy test --dry-run
assert_rc 1
assert_err_contains "seeds/probe.sql:1:24: error protected-schema: writes to ref.x"
ok "unqualified through SET search_path, in a dry run"
finish

#!/usr/bin/env bash
# The pipeline engine: the host makes a dry run read-only whatever a plugin
# does; a failed step is recorded (run and step rows) and the on_failure
# policy is reported; missing plugins, unknown phases and unknown options are
# refused before any database is touched.
. "$(dirname "$0")/lib.sh"

new_project engine
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/dry_writer"
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - validate: preflight
  - dry_writer
  - migrate
on_failure: rollback
P

group "a dry run stays read-only even for a plugin that writes"
pc deploy test --dry-run
assert_rc 1
assert_any_contains "read-only"
assert_any_contains "dry run"
assert_no_table public.dry_writer_was_here
assert_no_table app.account
assert_eq "" "$(psql_q "SELECT to_regclass('padctl.runs')")" "no ledger after a dry run"
ok "dry run: the writing plugin was refused by the read-only connection, nothing changed"

group "the same plugin writes in a real run"
pc deploy test
assert_rc 0
assert_table_exists public.dry_writer_was_here
assert_table_exists app.account
assert_eq "ok" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "run status"
assert_eq "1|validate|preflight|ok
2|dry_writer||ok
3|migrate||ok" "$(psql_q "SELECT seq, step, coalesce(phase, ''), s.status FROM padctl.run_steps s JOIN padctl.runs r ON r.id = s.run_id ORDER BY r.started_at DESC, seq LIMIT 3")" "step rows"
ok "real run: every step recorded ok"

group "a failed step is recorded, the rollout stops, the policy is reported"
add_migration 0002 broken "CREATE TABLE app.half (id int);
SELECT no_such_function();"
pc deploy test
assert_rc 1
assert_err_contains "0002_broken/up.sql:2"
assert_err_contains "this run applied no migration on target \"t1\" before the failure: nothing to roll back"
assert_no_table app.half
assert_eq "failed" "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "run status"
assert_eq "migrate|failed" "$(psql_q "SELECT step, s.status FROM padctl.run_steps s JOIN padctl.runs r ON r.id = s.run_id WHERE s.status = 'failed'")" "failed step"
err=$(psql_q "SELECT error FROM padctl.runs ORDER BY started_at DESC LIMIT 1")
assert_contains "$err" "no_such_function" "recorded run error"
pc history test
assert_out_contains "failed"
ok "failed run and step recorded with the error; the failed migration left nothing"

group "a migration that fails only at COMMIT (a deferred constraint) is neither recorded nor counted"
rm -rf "$PROJECT/migrations/0002_broken" "$PROJECT/migrations/0002_deferred_fk"
add_migration 0002 deferred_fk "CREATE TABLE app.parent (id int PRIMARY KEY);
CREATE TABLE app.child (parent_id int REFERENCES app.parent DEFERRABLE INITIALLY DEFERRED);
INSERT INTO app.child VALUES (42);"
pc deploy test
assert_rc 1
assert_err_contains "violates foreign key constraint"
assert_err_contains "this run applied no migration"
assert_no_table app.child
assert_eq "" "$(psql_q "SELECT version FROM padctl.migrations WHERE version = '0002'")" "no history row for 0002"
ok "commit-time failure: nothing applied, nothing recorded, nothing counted"

group "the rollback command's dry run names the migration it would undo"
pc rollback test --dry-run
assert_rc 0
assert_out_contains "0001_create_app: no down.sql"
ok "rollback --dry-run: what it would undo, nothing changed"
rm -rf "$PROJECT/migrations/0002_broken" "$PROJECT/migrations/0002_deferred_fk"

group "steps are checked against the plugins before any database is touched"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - validate: midflight
  - migrate
P
pc deploy test
assert_rc 2
assert_err_contains "standard.yml:2:5: step \"validate\" has no phase \"midflight\""
assert_err_contains "preflight, postflight"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate: {batch_size: 10}
P
pc deploy test
assert_rc 2
assert_err_contains "standard.yml:2:15: step \"migrate\" has no option \"batch_size\""
ok "unknown phase and unknown option refused with file:line:col, exit 2"

group "a missing plugin is skipped with a warning outside prod, refused in prod"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - backup_nonexistent
  - migrate
P
pc deploy test
assert_rc 0
assert_err_contains "no plugin named \"backup_nonexistent\" is installed"
sed -i 's/^tier: nonprod/tier: prod/' "$PROJECT/envs/test.yml"
pc deploy test --dry-run
assert_rc 2
assert_err_contains "a prod-tier env never runs with a step missing"
ok "missing plugin: warning in nonprod, refusal in prod"

group "a prod-tier env refuses a real deploy without an approved plan"
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - migrate
P
pc deploy test
assert_rc 3
assert_err_contains "prod-tier"
ok "prod deploy refused with exit 3"

finish

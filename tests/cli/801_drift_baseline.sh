#!/usr/bin/env bash
# drift on a baselined target compares only what the migrations after the
# baseline created, changed or dropped, and says so. Also: drift not
# configured, the drift keys refused when wrong, validate without a validate
# step, and validate going on to every target after one failed.
. "$(dirname "$0")/lib.sh"

new_project driftbase
on_exit drift_drop_scratch
base_yml=$(cat "$PROJECT/padctl.yml")

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);"
add_migration 0002 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY);"
add_migration 0003 add_note "ALTER TABLE app.account ADD COLUMN note text;"

group "drift not configured"
pc validate test
assert_rc 0
assert_out_contains "target t1: ok"
assert_err_not_contains "drift:"
pc status test --drift
assert_rc 1
assert_out_contains "drift: could not check: drift is not configured for project \"driftbase\""
ok "without drift: in padctl.yml, validate runs without drift and status --drift says how to configure it"

group "drift keys refused when wrong"
for bad in "drift: 5|expected a mapping for \"drift\"" \
	"drift: {scratch: remote}|\"drift.scratch\" must be \`local\` or a mapping" \
	"drift: {scratch: {host: h, password: x}}|password" \
	"drift: {scratch: {host: h, managed: true}}|managed" \
	"drift: {keep: 0}|keep" \
	"drift: {kept: 3}|kept"; do
	printf '%s\n%s\n' "$base_yml" "${bad%%|*}" >"$PROJECT/padctl.yml"
	pc validate test
	assert_rc 2
	assert_err_contains "padctl.yml:"
	assert_err_contains "${bad#*|}"
done
ok "a wrong drift key is a configuration error naming padctl.yml:line"

cat >"$PROJECT/padctl.yml" <<YML
$base_yml
drift:
  scratch: {host: $TPG_HOST, port: $TPG_PORT, user: $TPG_USER}
YML

# the database was built by hand before padctl: 0001 and 0002 are in it
psql_q "CREATE SCHEMA app; CREATE TABLE app.account (id bigint PRIMARY KEY); CREATE TABLE app.trade (id bigint PRIMARY KEY);" >/dev/null
pc baseline test 0002
assert_rc 0

group "a baselined target compares what came after its baseline"
pc deploy test
assert_rc 0
assert_err_contains "was baselined at 0002: only the 0 objects the migrations after it created, changed or dropped are compared"
assert_err_contains "was baselined at 0002: only the 1 object the migrations after it created, changed or dropped are compared"
assert_err_contains "drift: no drift (against a replay of 3 migrations; baselined at 0002: only what came after it is compared)"
ok "deploy of 0003 on a baselined target: no drift, and it says what it compared"

group "a hand-made change before the baseline is not compared, one after it is"
psql_q "ALTER TABLE app.trade ADD COLUMN legacy text; ALTER TABLE app.account DROP COLUMN note;" >/dev/null
pc validate test
assert_rc 1
assert_err_contains "drift: missing column app.account.note"
assert_err_not_contains "legacy"
assert_err_contains "preflight found 1 problem:"
pc --json validate test
assert_rc 1
assert_eq "0002 1" "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)["targets"][0]["drift"]; print(d["baseline"], len(d["findings"]))')" "json baseline"
ok "the baselined target reports the dropped column 0003 added, not the column on a table from before the baseline"

group "validate without a validate step"
cat >"$PROJECT/pipelines/bare.yml" <<'YML'
steps:
  - migrate
YML
write_env "$DB" "$TPG_PORT" "pipeline: bare"
sed -i 's/^pipeline: standard$//' "$PROJECT/envs/test.yml"
pc validate test
assert_rc 2
assert_err_contains "pipeline \"bare\" of env \"test\" has no validate step of phase preflight to run"
assert_err_contains "add \`- validate: preflight\`"
ok "validate refuses a pipeline without a preflight validate step"

group "validate checks every target, even after one failed"
second=$(unique_name driftbase2)
create_db "$TPG_PORT" "$second"
cat >"$PROJECT/envs/two.yml" <<YML
tier: nonprod
pipeline: standard
targets:
  t1:
    database: {host: $TPG_HOST, port: $TPG_PORT, dbname: $DB, user: $TPG_USER}
  t2:
    database: {host: $TPG_HOST, port: $TPG_PORT, dbname: $second, user: $TPG_USER}
YML
pc validate two
assert_rc 1
assert_out_contains "target t1: FAILED"
assert_out_contains "target t2: ok"
assert_err_contains "[t2] step 1: validate preflight"
pc validate two --target t2
assert_rc 0
assert_out_contains "target t2: ok"
assert_out_not_contains "target t1"
ok "validate two: t1 fails (drift), t2 is still checked and passes; --target picks one"
finish

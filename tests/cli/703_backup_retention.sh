#!/usr/bin/env bash
# Retention: backups.keep verified backups per target; older files are
# deleted and their rows marked pruned; an unverified backup never counts
# and goes at the next backup; the backup of the newest run whose
# migrations are still applied (what a rollback of it would restore) is
# never pruned, nor the current run's; a row whose path is not a backup file
# padctl wrote is marked pruned but its file is left alone.
. "$(dirname "$0")/lib.sh"

new_project bkkeep
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - backup: {always: true}
  - migrate
on_failure: stop
EOF
printf 'backups:\n  keep: 2\n' >>"$PROJECT/padctl.yml"
BK=$PROJECT/.padctl/backups/test/t1
last_run() { psql_q "SELECT id FROM padctl.runs WHERE NOT dry_run ORDER BY started_at DESC LIMIT 1"; }
deploy_ok() { # sets RUN
	pc deploy test
	assert_rc 0
	RUN=$(last_run)
}
# pruned RUN: t/f as the ledger says
pruned() { psql_q "SELECT pruned_at IS NOT NULL FROM padctl.backups WHERE run_id = '$1'"; }
present() { if [ -f "$BK/$1.dump" ]; then echo yes; else echo no; fi; }

group "three backups, keep 2: the oldest is pruned"
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY); INSERT INTO app.t VALUES (1);"
deploy_ok; R1=$RUN     # empty backup (no schema yet); applies 0001
add_migration 0002 more "CREATE TABLE app.u (id int);"
deploy_ok; R2=$RUN     # backup; applies 0002: the newest run with applied migrations
deploy_ok; R3=$RUN     # nothing to migrate, always: true
assert_eq "t f f" "$(pruned "$R1") $(pruned "$R2") $(pruned "$R3")" "R1 pruned (keep 2)"
assert_err_contains "pruned the backup of run $R1 (backups.keep is 2)"
ok "keep 2 with three backups"

group "the backup a rollback needs is kept beyond keep"
deploy_ok; R4=$RUN
assert_eq "f f f" "$(pruned "$R2") $(pruned "$R3") $(pruned "$R4")" "R2 is needed by the newest run with applied migrations"
assert_eq "yes yes yes" "$(present "$R2") $(present "$R3") $(present "$R4")" "files kept"
ok "R2 kept while its run's migrations are applied"

group "once a newer run applied migrations, the old one goes"
add_migration 0003 third "CREATE TABLE app.v (id int);"
deploy_ok; R5=$RUN     # at its backup R2 was still the one needed, R3 goes
assert_eq "f t f f" "$(pruned "$R2") $(pruned "$R3") $(pruned "$R4") $(pruned "$R5")" "R3 pruned at R5"
assert_eq "no" "$(present "$R3")" "R3's file deleted"
assert_err_contains "pruned the backup of run $R3: deleted $BK/$R3.dump (backups.keep is 2)"
deploy_ok; R6=$RUN     # now R5 is the one needed: R4 and R2 go
assert_eq "t t f f" "$(pruned "$R2") $(pruned "$R4") $(pruned "$R5") $(pruned "$R6")" "R2 and R4 pruned at R6"
assert_eq "no no yes yes" "$(present "$R2") $(present "$R4") $(present "$R5") $(present "$R6")" "files"
assert_eq "2" "$(psql_q "SELECT count(*) FROM padctl.backups WHERE pruned_at IS NULL")" "two backups left"
ok "retention follows the newest run with applied migrations"

group "an unverified backup does not count and goes at the next backup"
psql_q "UPDATE padctl.backups SET verified = false WHERE run_id = '$R6'" >/dev/null
deploy_ok; R7=$RUN
assert_eq "t f f" "$(pruned "$R6") $(pruned "$R5") $(pruned "$R7")" "R6 (unverified) pruned, R5 kept"
ok "unverified backups are pruned"

group "a row naming a file padctl did not write: marked pruned, the file left alone"
printf 'precious\n' >"$PROJECT/precious.txt"
psql_q "INSERT INTO padctl.runs (id, env, target, command, started_at, status, run_by) VALUES ('20000101-000000-00000000', 'test', 't1', 'deploy', '2000-01-01', 'ok', 'x');
        INSERT INTO padctl.backups (run_id, target, path, size, sha256, schemas, started_at, verified, created_by)
        VALUES ('20000101-000000-00000000', 't1', '$PROJECT/precious.txt', 9, 'x', '{app}', '2000-01-01', true, 'x')" >/dev/null
deploy_ok; R8=$RUN
assert_eq "t" "$(pruned 20000101-000000-00000000)" "the forged row is marked pruned"
[ -f "$PROJECT/precious.txt" ] || fail_now "prune deleted a file that is not a backup"
assert_err_contains "which is not a backup file padctl wrote there: left in place"
ok "prune deletes only backup files"

group "a dry run prunes nothing"
N=$(psql_q "SELECT count(*) FROM padctl.backups WHERE pruned_at IS NULL")
pc deploy test --dry-run
assert_rc 0
assert_eq "$N" "$(psql_q "SELECT count(*) FROM padctl.backups WHERE pruned_at IS NULL")" "nothing pruned in a dry run"
ok "dry run"

finish

#!/usr/bin/env bash
# The restore strategy (issue 9): a migration without down.sql fails down;
# restore brings the owned schemas back from the run's verified backup, equal
# in catalog and in every table's rows (objects made after the backup go
# too), and leaves the protected schema and the ledger's own records alone;
# the history is reconciled (rolled_back, strategy restore). A tampered or
# missing backup file is refused before anything changes; without restore
# allowed, down's failure is the end.
. "$(dirname "$0")/lib.sh"

new_project rbrestore
cat >"$PROJECT/pipelines/standard.yml" <<'P'
steps:
  - validate: preflight
  - backup
  - migrate
on_failure: rollback
P
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.codes (code text PRIMARY KEY); INSERT INTO ref.codes VALUES ('a'), ('b')" >/dev/null

# the owned schema's catalog (pg_dump --schema-only, without its random \restrict key) and each table's rows
snapshot() {
	"$TPG_BIN/pg_dump" -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" --schema-only -n app "$DB" |
		sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' || fail_now "pg_dump failed"
	local t
	for t in $(psql_q "SELECT tablename FROM pg_tables WHERE schemaname = 'app' ORDER BY 1"); do
		printf '%s %s\n' "$t" "$(psql_q "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '')) FROM app.\"$t\" x")"
	done
}
refsum() { psql_q "SELECT md5(string_agg(code, ',' ORDER BY code)) FROM ref.codes"; }
hist() { psql_q "SELECT version || ' ' || status FROM padctl.migrations ORDER BY version" | tr '\n' ' '; }

add_migration 0001 base "CREATE SCHEMA app;
CREATE TABLE app.account (id int PRIMARY KEY, name text NOT NULL);
CREATE SEQUENCE app.ticket;
CREATE VIEW app.names AS SELECT name FROM app.account;" "DROP SCHEMA app CASCADE;"
pc deploy test
assert_rc 0
# rows the application wrote after the first deploy: in the next run's backup
psql_q "INSERT INTO app.account SELECT g, 'user ' || g FROM generate_series(1, 500) g; SELECT nextval('app.ticket')" >/dev/null
before=$(snapshot)
ref_before=$(refsum)
row0001=$(psql_q "SELECT version, checksum, status, applied_at, run_id FROM padctl.migrations WHERE version = '0001'")

add_migration 0002 no_down "ALTER TABLE app.account ADD COLUMN email text;
UPDATE app.account SET email = name || '@example.org', name = upper(name);
CREATE TABLE app.audit (id bigserial PRIMARY KEY, note text);
INSERT INTO app.audit (note) SELECT 'n' || g FROM generate_series(1, 100) g;"
add_migration 0003 with_down "CREATE TABLE app.tag (id int);" "DROP TABLE app.tag;"
# not transactional: its first statement stays applied when the second fails, with no history row
add_migration 0004 broken "CREATE TABLE app.stray (id int);
SELECT no_such_function();" "SELECT 1;"
printf 'transactional: false\n' >"$PROJECT/migrations/0004_broken/meta.yml"

group "down stops at a migration without down.sql; restore from the run's backup brings the owned schema back"
pc deploy test
assert_rc 1
failed=$(psql_q "SELECT id FROM padctl.runs WHERE command = 'deploy' ORDER BY started_at DESC LIMIT 1")
assert_err_contains "0004_broken/up.sql:2"
assert_err_contains "rolled back 0003_with_down by its down.sql"
assert_err_contains "migration 0002_no_down has no down.sql"
assert_err_contains "handing over to restore"
assert_err_contains "data written to them after that backup is lost"
assert_err_contains "rolled back 0003_with_down (down), 0002_no_down (restore)"
after=$(snapshot)
[ "$before" = "$after" ] || fail_now "the owned schema differs from the backup" "before:
$before" "after:
$after"
assert_eq "" "$(psql_q "SELECT to_regclass('app.stray')")" "the object made after the backup is gone"
assert_eq "" "$(psql_q "SELECT nspname FROM pg_namespace WHERE nspname LIKE '%padctl_old'")" "no set-aside schema left"
ok "catalog and every table's rows equal the backup; app.stray (not in history) gone too"

group "the protected schema and the ledger are untouched; the history is reconciled"
assert_eq "$ref_before" "$(refsum)" "ref.codes"
assert_eq "$row0001" "$(psql_q "SELECT version, checksum, status, applied_at, run_id FROM padctl.migrations WHERE version = '0001'")" "0001's row"
assert_eq "0001 applied 0002 rolled_back 0003 rolled_back " "$(hist)" "history"
rb=$(psql_q "SELECT id FROM padctl.runs WHERE rollback_of = '$failed'")
assert_eq "1|down|failed
2|restore|ok" "$(psql_q "SELECT seq, phase, status FROM padctl.run_steps WHERE run_id = '$rb' ORDER BY seq")" "the rollback run's steps"
assert_eq "ok" "$(psql_q "SELECT status FROM padctl.runs WHERE id = '$rb'")" "the rollback run"
assert_eq "0002|restore
0003|down" "$(psql_q "SELECT version, strategy FROM padctl.rollbacks WHERE run_id = '$rb' ORDER BY version")" "records"
ok "ref.codes and 0001's ledger row unchanged; 0002 rolled_back by restore, 0003 by down"

group "fixed, the next deploy applies them again"
printf 'CREATE TABLE app.stray (id int);\n' >"$PROJECT/migrations/0004_broken/up.sql"
pc deploy test
assert_rc 0
assert_eq "0001 applied 0002 applied 0003 applied 0004 applied " "$(hist)" "history"
ok "redeployed on the restored schema"

group "a tampered backup is refused before anything changes"
add_migration 0005 also_no_down "CREATE TABLE app.more (id int); INSERT INTO app.more VALUES (1);"
pc deploy test
assert_rc 0
run5=$(psql_q "SELECT id FROM padctl.runs WHERE command = 'deploy' ORDER BY started_at DESC LIMIT 1")
file=$(psql_q "SELECT path FROM padctl.backups WHERE run_id = '$run5'")
[ -f "$file" ] || fail_now "no backup file for run $run5"
state=$(snapshot)
printf 'x' >>"$file"
pc rollback test --restore
assert_rc 1
assert_err_contains "migration 0005_also_no_down has no down.sql"
assert_err_contains "the backup of run $run5 cannot be used"
assert_eq "$state" "$(snapshot)" "the owned schema"
assert_eq "0005 applied" "$(psql_q "SELECT version || ' ' || status FROM padctl.migrations WHERE version = '0005'")" "0005"
ok "tampered file refused; nothing changed"

group "without --restore, down's stop is the end; a missing backup file is refused too"
truncate -s -1 "$file"
pc rollback test
assert_rc 1
assert_err_contains "migration 0005_also_no_down has no down.sql"
assert_err_contains "restore was not allowed"
rm -f "$file"
pc rollback test --restore
assert_rc 1
assert_err_contains "the backup of run $run5 cannot be used"
assert_eq "$state" "$(snapshot)" "the owned schema"
ok "no restore without --restore; a missing file refused"

group "--dry-run --restore says what restore would do"
pc rollback test --restore --dry-run
assert_rc 0
assert_out_contains "0005_also_no_down: no down.sql: down stops here; restore would bring the owned schemas back from the backup of run"
assert_out_contains "$run5 (data written after it is lost)"
ok "dry run"

group "restore refuses to drop an object of the protected schema that depends on an owned one"
psql_q "CREATE VIEW ref.names AS SELECT id FROM app.account" >/dev/null
add_migration 0006 six "CREATE TABLE app.six (id int);"
pc deploy test
assert_rc 0
state=$(snapshot)
pc rollback test --restore
assert_rc 1
assert_err_contains "view ref.names depends on an owned schema's object"
assert_err_contains "restore refused: it would drop 1 object outside the owned schemas"
assert_eq "$state" "$(snapshot)" "the owned schema"
assert_eq "ref.names" "$(psql_q "SELECT to_regclass('ref.names')")" "the view"
ok "refused, naming the view; nothing changed"

group "a restore killed after it set the owned schema aside is put back, then done, by the next one"
psql_q "DROP VIEW ref.names" >/dev/null
# the state a restore killed between setting app aside and pg_restore's commit leaves
psql_q "ALTER SCHEMA app RENAME TO app_padctl_old" >/dev/null
pc rollback test --restore
assert_rc 0
assert_err_contains "schema app_padctl_old was set aside by a restore that did not finish: renaming it back to app"
assert_err_contains "rolled back 0006_six (restore)"
assert_eq "" "$(psql_q "SELECT to_regclass('app.six')")" "0006 undone"
assert_eq "app.account" "$(psql_q "SELECT to_regclass('app.account')")" "app is back"
assert_eq "" "$(psql_q "SELECT nspname FROM pg_namespace WHERE nspname LIKE '%padctl_old'")" "nothing left aside"
assert_eq "$ref_before" "$(refsum)" "ref.codes"
ok "recovered and restored"

finish

#!/usr/bin/env bash
# The backup step in a deploy: a pg_dump --format=custom of the owned
# schemas only, written to backups.dir/<env>/<target>/<run id>.dump
# (directories 0700, the file 0600), its size and SHA-256 recorded as the
# file's own, verified with pg_restore --list, recorded in padctl.backups;
# no backup when the run changes nothing (unless `always: true`); an empty
# record when no owned schema exists yet; a dry run takes none.
. "$(dirname "$0")/lib.sh"

new_project bkdeploy
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - backup
  - migrate
on_failure: stop
EOF
# the protected schema and padctl's ledger must never be in a backup
psql_q "CREATE SCHEMA ref; CREATE TABLE ref.secret_ref_table (id int); INSERT INTO ref.secret_ref_table VALUES (1)" >/dev/null
BK=$PROJECT/.padctl/backups/test/t1
last_backup() { psql_q "SELECT run_id FROM padctl.backups ORDER BY started_at DESC LIMIT 1"; }
nbackups() { psql_q "SELECT count(*) FROM padctl.backups"; }
mode() { stat -c %a "$1"; }

group "first deploy: no owned schema exists yet, an empty backup is recorded"
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY, v text); INSERT INTO app.t VALUES (1, 'one'), (2, 'two');"
pc deploy test
assert_rc 0
assert_err_contains "no owned schema exists yet on target \"t1\": recorded an empty backup"
assert_eq "1|t||{}|0" "$(psql_q "SELECT count(*), bool_and(verified), max(path), max(schemas::text), max(size) FROM padctl.backups")" \
	"one verified backup without a file"
ok "empty backup before the owned schema exists"

group "a deploy with a pending migration backs up first, verified and recorded"
add_migration 0002 add_col "ALTER TABLE app.t ADD COLUMN w int; CREATE INDEX t_v ON app.t (v);"
pc deploy test
assert_rc 0
RUN=$(last_backup)
F=$BK/$RUN.dump
[ -f "$F" ] || fail_now "no backup file $F" "$(ls -laR "$PROJECT/.padctl" 2>&1)"
assert_err_contains "backing up schema app to $F"
assert_err_contains "backup verified: $F"
assert_eq "700 700 700 600" "$(mode "$PROJECT/.padctl/backups") $(mode "$PROJECT/.padctl/backups/test") $(mode "$BK") $(mode "$F")" \
	"directories 0700, the file 0600"
SUM=$(sha256sum "$F" | cut -d' ' -f1)
SIZE=$(stat -c %s "$F")
assert_eq "$F|$SIZE|$SUM|t|{app}|f" \
	"$(psql_q "SELECT path, size, sha256, verified, schemas, pruned_at IS NOT NULL FROM padctl.backups WHERE run_id = '$RUN'")" \
	"the ledger records the file's own size and SHA-256"
assert_contains "$(psql_q "SELECT tool_version FROM padctl.backups WHERE run_id = '$RUN'")" "pg_dump (PostgreSQL) " "tool version"
assert_eq "t" "$(psql_q "SELECT started_at <= finished_at AND verified_at IS NOT NULL FROM padctl.backups WHERE run_id = '$RUN'")" \
	"start, end and verification times"
# the backup was taken before migrate: it has the table without the new column
assert_eq "backup ok" "$(psql_q "SELECT string_agg(step || ' ' || status, ',' ORDER BY seq) FROM padctl.run_steps WHERE run_id = '$RUN' AND seq = 1")" \
	"backup is step 1"
ok "backup taken, verified, recorded; 0700/0600"

group "only the owned schemas are in the dump: no protected schema, no ledger"
LIST=$("$TPG_BIN/pg_restore" --list "$F") || fail_now "pg_restore --list failed on $F"
assert_contains "$LIST" "SCHEMA - app " "the table of contents"
assert_contains "$LIST" "TABLE DATA app t " "the table of contents"
# entries name their schema as a word of its own (the owner, padctl_test, is one too)
ENTRIES=$(grep -v '^;' <<<"$LIST")
assert_not_contains "$ENTRIES" " ref " "the table of contents"
assert_not_contains "$ENTRIES" " padctl " "the table of contents"
assert_not_contains "$ENTRIES" "secret_ref_table" "the table of contents"
assert_not_contains "$ENTRIES" " migrations " "the table of contents"
# the dump was taken before the migration: restoring it gives the old table
SQL=$("$TPG_BIN/pg_restore" --file=- "$F") || fail_now "pg_restore to SQL failed"
assert_not_contains "$SQL" "w integer" "the dump (taken before migrate)"
ok "pg_restore --list shows app only"

group "nothing to change: no backup"
N=$(nbackups)
pc deploy test
assert_rc 0
assert_err_contains "nothing to change on target \"t1\": no backup taken"
assert_eq "$N" "$(nbackups)" "no new backup record"
ok "no pending migration, no backup"

group "a dry run with a pending migration takes no backup and says what it would do"
add_migration 0003 more "CREATE TABLE app.u (id int);"
FILES=$(ls "$BK" | wc -l)
pc deploy test --dry-run
assert_rc 0
assert_err_contains "dry run: would back up schema app with pg_dump --format=custom to $PROJECT/.padctl/backups/test/t1/"
assert_eq "$N" "$(nbackups)" "no backup record in a dry run"
assert_eq "$FILES" "$(ls "$BK" | wc -l)" "no backup file in a dry run"
assert_no_table app.u
ok "dry run: nothing backed up"

group "always: true backs up though nothing changes"
pc deploy test
assert_rc 0
N=$(nbackups)
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - backup: {always: true}
  - migrate
on_failure: stop
EOF
pc deploy test
assert_rc 0
assert_err_not_contains "nothing to change"
assert_eq "$((N + 1))" "$(nbackups)" "a new backup record"
RUN=$(last_backup)
[ -f "$BK/$RUN.dump" ] || fail_now "no backup file for run $RUN"
ok "always: true"

group "the option is checked"
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - backup: {always: maybe}
  - migrate
EOF
pc deploy test
assert_rc 2
assert_err_contains "option \"always\" must be true or false"
ok "always: maybe refused"

group "backups.dir elsewhere (relative to the project root)"
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - backup: {always: true}
  - migrate
EOF
printf 'backups:\n  dir: var/bk\n  keep: 3\n' >>"$PROJECT/padctl.yml"
pc deploy test
assert_rc 0
RUN=$(last_backup)
[ -f "$PROJECT/var/bk/test/t1/$RUN.dump" ] || fail_now "no backup under var/bk" "$(ls -laR "$PROJECT/var" 2>&1)"
assert_eq "700 700 600" "$(mode "$PROJECT/var/bk/test") $(mode "$PROJECT/var/bk/test/t1") $(mode "$PROJECT/var/bk/test/t1/$RUN.dump")" \
	"modes under backups.dir"
ok "backups.dir honoured"

group "a backup step after migrate says it cannot take the target back"
cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - migrate
  - backup
EOF
add_migration 0004 late "CREATE TABLE app.late (id int);"
pc deploy test
assert_rc 0
assert_err_contains "warning: [t1 backup] this run applied 1 migration before the backup step"
assert_table_exists app.late
ok "backup after migrate warns"

finish

#!/usr/bin/env bash
# The seed plugin and `padctl seed`: each of the env's seed sets applied in
# order, its files in name order, in one transaction per set; a file applied
# once per checksum (recorded in padctl.seeds); a changed file applied again;
# a failing file rolls its whole set back and names file:line; --set,
# --dry-run, --teardown; prod refuses sets not allowed for prod.
. "$(dirname "$0")/lib.sh"

new_project seed
printf '%s\n' "steps:" "  - migrate" "  - seed" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
add_migration 0001 tables "CREATE SCHEMA app;
CREATE TABLE app.log (id serial PRIMARY KEY, what text NOT NULL);
CREATE TABLE app.users (id int PRIMARY KEY, name text NOT NULL);"
write_env "$DB" "$TPG_PORT" "seeds: [common, extra]"
mkdir -p "$PROJECT/seeds/common" "$PROJECT/seeds/extra"
printf '%s\n' "INSERT INTO app.log (what) VALUES ('common/001');" \
	"INSERT INTO app.users VALUES (1, 'alice') ON CONFLICT (id) DO NOTHING;" >"$PROJECT/seeds/common/001_users.sql"
printf '%s\n' "INSERT INTO app.log (what) VALUES ('common/002');" \
	"INSERT INTO app.users VALUES (2, 'bob') ON CONFLICT (id) DO NOTHING;" >"$PROJECT/seeds/common/002_more.sql"
printf '%s\n' "INSERT INTO app.log (what) VALUES ('extra/001');" \
	"INSERT INTO app.users VALUES (10, 'uat') ON CONFLICT (id) DO NOTHING;" >"$PROJECT/seeds/extra/001_uat.sql"
printf '%s\n' "INSERT INTO app.log (what) VALUES ('extra/teardown');" \
	"DELETE FROM app.users WHERE id = 10;" >"$PROJECT/seeds/extra/teardown.sql"
printf '%s\n' "this is not sql" >"$PROJECT/seeds/common/notes.txt"

log() { psql_q "SELECT string_agg(what, ',' ORDER BY id) FROM app.log"; }
records() { psql_q "SELECT count(*) FROM padctl.seeds WHERE forgotten_by IS NULL"; }

group "a dry run on a database padctl never touched"
pc seed test --dry-run
assert_rc 0
assert_err_contains "seed set common: would apply seeds/common/001_users.sql (new)"
assert_eq "" "$(psql_q "SELECT to_regclass('padctl.seeds')")" "no ledger made"
ok "dry run without a ledger"

group "a deploy applies the sets in order, their files in name order"
pc deploy test
assert_rc 0
assert_eq "common/001,common/002,extra/001" "$(log)" "what ran, in order"
assert_eq 3 "$(records)" "one record per file"
assert_eq "$(sha256sum <"$PROJECT/seeds/common/001_users.sql" | cut -d' ' -f1)" \
	"$(psql_q "SELECT checksum FROM padctl.seeds WHERE seed_set = 'common' AND file = '001_users.sql'")" "checksum"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.seeds WHERE file = 'teardown.sql' OR file = 'notes.txt'")" \
	"teardown.sql and non-.sql files are not seed files"
assert_err_contains "seed set common: applied seeds/common/001_users.sql"
ok "applied once, recorded with checksums"

group "a second deploy applies nothing"
pc deploy test
assert_rc 0
assert_eq "common/001,common/002,extra/001" "$(log)" "nothing ran again"
assert_eq 3 "$(records)" "no new record"
assert_err_contains "seed set common: 2 files, all applied already"
ok "nothing applied twice"

group "a changed file is applied again, alone"
printf '%s\n' "-- reworded" >>"$PROJECT/seeds/common/002_more.sql"
pc deploy test
assert_rc 0
assert_eq "common/001,common/002,extra/001,common/002" "$(log)" "only the changed file ran"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.seeds WHERE file = '002_more.sql'")" "a second record"
ok "changed file re-applied"

group "a failing file rolls its whole set back and names file:line"
printf '%s\n' "-- touched" >>"$PROJECT/seeds/common/001_users.sql"
printf '%s\n' "INSERT INTO app.log (what) VALUES ('common/003');" "SELECT 1/0;" >"$PROJECT/seeds/common/003_bad.sql"
pc deploy test
assert_rc 1
assert_err_contains "seeds/common/003_bad.sql:2"
assert_err_contains "division by zero"
assert_err_contains "seed set common was rolled back as a whole"
assert_eq "common/001,common/002,extra/001,common/002" "$(log)" "neither 001 nor 003 left anything"
assert_eq 4 "$(records)" "nothing recorded"
assert_eq failed "$(psql_q "SELECT status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" "the run failed"
rm "$PROJECT/seeds/common/003_bad.sql"
ok "one set, one transaction"

group "padctl seed --dry-run says what would run and changes nothing"
printf '%s\n' "-- touched" >>"$PROJECT/seeds/extra/001_uat.sql"
runs=$(psql_q "SELECT count(*) FROM padctl.runs")
pc seed test --dry-run
assert_rc 0
assert_err_contains "seed set common: would apply seeds/common/001_users.sql (changed since it was applied)"
assert_err_contains "seed set extra: would apply seeds/extra/001_uat.sql (changed since it was applied)"
assert_eq "common/001,common/002,extra/001,common/002" "$(log)" "nothing ran"
assert_eq 4 "$(records)" "nothing recorded"
assert_eq "$runs" "$(psql_q "SELECT count(*) FROM padctl.runs")" "no run recorded"
ok "dry run"

# ledger step 4 added the teardown columns: version 3 is the ledger before it
group "a dry run against a ledger from before teardowns (read-only: not upgraded)"
psql_q "ALTER TABLE padctl.seeds DROP COLUMN forgotten_by, DROP COLUMN forgotten_at;
	UPDATE padctl.meta SET value = '3' WHERE key = 'ledger_version'" >/dev/null
pc seed test --dry-run
assert_rc 0
assert_err_contains "seed set extra: would apply seeds/extra/001_uat.sql (changed since it was applied)"
assert_err_contains "seed set common: would apply seeds/common/001_users.sql (changed since it was applied)"
ok "older ledger read"

group "padctl seed --set applies one set, under a run record of its own"
pc seed test --set extra
assert_rc 0
assert_eq "common/001,common/002,extra/001,common/002,extra/001" "$(log)" "only extra ran"
assert_eq "seed ok" "$(psql_q "SELECT command || ' ' || status FROM padctl.runs ORDER BY started_at DESC LIMIT 1")" \
	"recorded as a seed run"
pc seed test
assert_rc 0
assert_eq "common/001,common/002,extra/001,common/002,extra/001,common/001" "$(log)" "then common"
ok "--set"

group "padctl seed --teardown runs teardown.sql and forgets the set"
pc seed test --teardown extra
assert_rc 0
assert_err_contains "seed set extra: seeds/extra/teardown.sql run, its records forgotten"
assert_eq 0 "$(psql_q "SELECT count(*) FROM app.users WHERE id = 10")" "teardown.sql ran"
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.seeds WHERE seed_set = 'extra' AND forgotten_by IS NULL")" \
	"forgotten"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.seeds WHERE seed_set = 'extra'")" "kept for the record"
pc seed test --teardown extra --dry-run
assert_rc 0
assert_err_contains "would run seeds/extra/teardown.sql and forget the set's records"
pc seed test --set extra
assert_rc 0
assert_eq 1 "$(psql_q "SELECT count(*) FROM app.users WHERE id = 10")" "applied again after teardown"
ok "teardown"

group "set names: unknown, hostile and missing are refused"
for bad in ../etc /etc "a/b" ""; do
	pc seed test --set "$bad"
	assert_rc 2
	assert_err_contains "invalid seed set"
done
pc seed test --teardown nope
assert_rc 2
assert_err_contains "seed set \"nope\" is not one of the seed sets of env \"test\""
pc seed test --set common --teardown extra
assert_rc 2
write_env "$DB" "$TPG_PORT" "seeds: [common, ../etc]"
pc seed test
assert_rc 2
assert_err_contains "envs/test.yml:10:"
assert_err_contains "invalid seed set \"../etc\""
write_env "$DB" "$TPG_PORT" "seeds:
  - common
  - missing"
pc seed test
assert_rc 2
assert_err_contains "envs/test.yml:12: seed set \"missing\" of env \"test\" has no directory"
ok "refused before anything runs"

group "symlinks out of the project are refused, never read"
outside=$(mktemp -d "$PADCTL_TEST_TMP/seed-outside.XXXXXX")
CLI_DIRS+=("$outside")
printf '%s\n' "INSERT INTO app.log (what) VALUES ('outside');" >"$outside/001_out.sql"
ln -s "$outside" "$PROJECT/seeds/evil"
write_env "$DB" "$TPG_PORT" "seeds: [common, evil]"
pc seed test --set evil
assert_rc 2
assert_err_contains "envs/test.yml:10: seed set \"evil\" of env \"test\" leads out of the project"
mkdir "$PROJECT/seeds/sneaky"
ln -s "$outside/001_out.sql" "$PROJECT/seeds/sneaky/001_out.sql"
write_env "$DB" "$TPG_PORT" "seeds: [common, sneaky]"
pc seed test --set sneaky
assert_rc 2
assert_err_contains "seed file \"$PROJECT/seeds/sneaky/001_out.sql\" leads out of the project"
assert_not_contains "$(log)" "outside" "nothing from outside ran"
rm "$PROJECT/seeds/sneaky/001_out.sql"
ln -s ../common/001_users.sql "$PROJECT/seeds/sneaky/001_in.sql"
pc seed test --set sneaky
assert_rc 0
ok "links inside the project are followed, links out refused"

group "a prod-tier env may list only the sets padctl.yml allows for prod"
cat >"$PROJECT/envs/prod.yml" <<YML
tier: prod
pipeline: standard
targets:
  p1:
    database:
      host: $TPG_HOST
      port: $TPG_PORT
      dbname: $DB
      user: $TPG_USER
seeds: [common, extra]
YML
pc seed prod --dry-run
assert_rc 2
assert_err_contains "envs/prod.yml:10:9: seed set \"common\" is not allowed in prod-tier env \"prod\""
pc status prod
assert_rc 2
printf '%s\n' "seeds:" "  allow_in_prod: [common]" >>"$PROJECT/padctl.yml"
pc seed prod --dry-run
assert_rc 2
assert_err_contains "envs/prod.yml:10:17: seed set \"extra\" is not allowed in prod-tier env \"prod\""
sed -i 's/^seeds: \[common, extra\]/seeds: [common]/' "$PROJECT/envs/prod.yml"
pc seed prod --dry-run
assert_rc 0
pc seed prod
assert_rc 3
assert_err_contains "prod-tier"
ok "prod refuses sets it does not allow"

finish

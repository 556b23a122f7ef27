#!/usr/bin/env bash
# The "seeds" SDK service, through the seeds_probe test plugin: what files()
# lists (name order, teardown.sql and other files left out, checksums, what
# the ledger holds), read() refuses a file that changed since it was listed
# and names that are no seed file of the set, files() refuses a set the env
# does not list, forget() is refused in a dry run.
. "$(dirname "$0")/lib.sh"

new_project seedsvc
export PADCTL_PLUGIN_PATH="$PADCTL_TEST_PLUGIN_DIR/seeds_probe"
write_env "$DB" "$TPG_PORT" "seeds: [s]"
mkdir -p "$PROJECT/seeds/s" "$PROJECT/seeds/other"
add_migration 0001 app "CREATE SCHEMA app; CREATE TABLE app.t (i int PRIMARY KEY);"
printf '%s\n' "INSERT INTO app.t VALUES (2) ON CONFLICT DO NOTHING;" >"$PROJECT/seeds/s/b.sql"
printf '%s\n' "INSERT INTO app.t VALUES (1) ON CONFLICT DO NOTHING;" >"$PROJECT/seeds/s/A.sql"
printf '%s\n' "DELETE FROM app.t;" >"$PROJECT/seeds/s/teardown.sql"
printf 'x\n' >"$PROJECT/seeds/s/.hidden.sql"
printf 'x\n' >"$PROJECT/seeds/s/readme.md"
probe() { # MODE [dry]
	printf '%s\n' "steps:" "  - migrate" "  - seeds_probe: {mode: $1, set: ${2:-s}}" "on_failure: stop" \
		>"$PROJECT/pipelines/standard.yml"
}
sha() { sha256sum <"$PROJECT/seeds/s/$1" | cut -d' ' -f1; }

group "files(): seed files in byte order of their names, with checksums"
probe list
pc deploy test
assert_rc 0
assert_err_contains "row 0: A.sql seeds/s/A.sql $(sha A.sql) (none)"
assert_err_contains "row 1: b.sql seeds/s/b.sql $(sha b.sql) (none)"
assert_err_not_contains "row 2"
printf '%s\n' "steps:" "  - seed" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
pc deploy test
assert_rc 0
probe list
pc deploy test --dry-run
assert_rc 0
assert_err_contains "row 0: A.sql seeds/s/A.sql $(sha A.sql) $(sha A.sql)"
ok "files() lists what the seed step applies, with the ledger's checksum"

group "read() refuses a file changed since files() listed it"
probe changed
pc deploy test
assert_rc 1
assert_err_contains "seed file \"$PROJECT/seeds/s/A.sql\" changed while padctl ran"
ok "what runs is what is recorded"

group "read() refuses names that are no seed files of the set"
probe names
pc deploy test
assert_rc 0
for n in '../x.sql' 'teardown.sql' '.hidden.sql' '' 'a/b.sql'; do
	assert_err_contains "refused \"$n\""
done
ok "only seed files"

group "files() refuses a set the env does not list; forget() is refused in a dry run"
probe notlisted other
pc deploy test
assert_rc 1
assert_err_contains "seed set \"other\" is not one of the seed sets of env \"test\""
probe forget
pc deploy test --dry-run
assert_rc 1
assert_err_contains "asked to forget a seed set's records in a dry run: refused"
assert_eq 2 "$(psql_q "SELECT count(*) FROM padctl.seeds WHERE forgotten_by IS NULL")" "nothing forgotten"
pc deploy test
assert_rc 0
assert_eq 0 "$(psql_q "SELECT count(*) FROM padctl.seeds WHERE forgotten_by IS NULL")" "forgotten"
ok "the service's refusals"

finish

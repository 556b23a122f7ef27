#!/usr/bin/env bash
# Seed files are SQL files like migrations: COPY ... FROM stdin data, errors at
# file:line (a syntax error too), transaction control refused inside the set's
# transaction. Odd files are refused without being read (a FIFO), paths.seeds
# configured outside the project is followed, --target picks one target and
# the run stops at the first target whose seed fails.
. "$(dirname "$0")/lib.sh"

new_project seededge
printf '%s\n' "steps:" "  - migrate" "  - seed" "on_failure: stop" >"$PROJECT/pipelines/standard.yml"
add_migration 0001 tables "CREATE SCHEMA app; CREATE TABLE app.city (id int PRIMARY KEY, name text NOT NULL);"
DB2=$(unique_name seededge2)
create_db "$TPG_PORT" "$DB2"
envfile() {
	cat >"$PROJECT/envs/test.yml" <<YML
tier: nonprod
pipeline: standard
targets:
  t1:
    database: {host: $TPG_HOST, port: $TPG_PORT, dbname: $DB, user: $TPG_USER}
  t2:
    database: {host: $TPG_HOST, port: $TPG_PORT, dbname: $DB2, user: $TPG_USER}
seeds: [$1]
YML
}
q2() { sql_on "$TPG_PORT" "$DB2" "$1"; }
mkdir -p "$PROJECT/seeds/cities"
envfile cities
printf '%s\n' "-- cities" "CREATE TEMP TABLE c (id int, name text);" "COPY c FROM stdin;" "1	Zürich" "2	Bern" '\.' \
	"INSERT INTO app.city SELECT * FROM c ON CONFLICT (id) DO NOTHING;" >"$PROJECT/seeds/cities/001_copy.sql"

group "COPY ... FROM stdin data in a seed file, on every target in order"
pc deploy test
assert_rc 0
assert_eq "Bern,Zürich" "$(psql_q "SELECT string_agg(name, ',' ORDER BY name) FROM app.city")" "t1"
assert_eq "Bern,Zürich" "$(q2 "SELECT string_agg(name, ',' ORDER BY name) FROM app.city")" "t2"
ok "COPY data loaded"

group "--target seeds one target"
printf '%s\n' "INSERT INTO app.city VALUES (3, 'Basel') ON CONFLICT (id) DO NOTHING;" >"$PROJECT/seeds/cities/002_more.sql"
pc seed test --target t2
assert_rc 0
assert_eq 2 "$(psql_q "SELECT count(*) FROM app.city")" "t1 untouched"
assert_eq 3 "$(q2 "SELECT count(*) FROM app.city")" "t2 seeded"
ok "one target"

group "a syntax error names file:line; the rollout stops at the first failing target"
printf '%s\n' "-- two" "-- comment lines" "INSERT INTO app.city VALUES (4, 'Genf') ON CONFLICT DO NOTHIN;" \
	>"$PROJECT/seeds/cities/003_bad.sql"
pc seed test
assert_rc 1
assert_err_contains "seeds/cities/003_bad.sql:3"
assert_err_contains "targets after \"t1\" were not touched"
assert_eq 2 "$(psql_q "SELECT count(*) FROM app.city")" "t1: 002 rolled back with its set"
rm "$PROJECT/seeds/cities/003_bad.sql"
ok "file:line"

group "transaction control in a seed file is refused before it is sent"
printf '%s\n' "COMMIT;" "INSERT INTO app.city VALUES (5, 'Chur');" >"$PROJECT/seeds/cities/003_commit.sql"
pc seed test --target t1
assert_rc 1
assert_err_contains "seeds/cities/003_commit.sql:1"
assert_eq 0 "$(psql_q "SELECT count(*) FROM app.city WHERE id IN (3, 5)")" "nothing of the set"
rm "$PROJECT/seeds/cities/003_commit.sql"
ok "the set's transaction is padctl's"

group "a FIFO named like a seed file is refused, not read"
mkfifo "$PROJECT/seeds/cities/003_fifo.sql"
pc seed test --target t1
assert_rc 1
assert_err_contains "is not a regular file"
rm "$PROJECT/seeds/cities/003_fifo.sql"
ok "no hang"

group "paths.seeds configured outside the project is followed"
outside=$(mktemp -d "$PADCTL_TEST_TMP/seedpaths.XXXXXX")
CLI_DIRS+=("$outside")
mkdir "$outside/shared"
printf '%s\n' "INSERT INTO app.city VALUES (6, 'Aarau') ON CONFLICT (id) DO NOTHING;" >"$outside/shared/001_x.sql"
printf '%s\n' "paths:" "  seeds: $outside" >>"$PROJECT/padctl.yml"
envfile shared
pc seed test --target t1
assert_rc 0
assert_eq 1 "$(psql_q "SELECT count(*) FROM app.city WHERE id = 6")" "applied from outside by configuration"
assert_err_contains "applied $outside/shared/001_x.sql"
ok "configured, not planted"

group "a set that is a file; an env without seed sets"
printf 'x\n' >"$outside/afile"
envfile afile
pc seed test
assert_rc 2
assert_err_contains "envs/test.yml:8: seed set \"afile\" of env \"test\" has no directory"
assert_err_contains "it is not a directory"
sed -i '/^seeds:/d' "$PROJECT/envs/test.yml"
runs=$(psql_q "SELECT count(*) FROM padctl.runs")
pc seed test
assert_rc 0
assert_err_contains "env test lists no seed sets"
assert_eq "$runs" "$(psql_q "SELECT count(*) FROM padctl.runs")" "no run recorded"
pc deploy test
assert_rc 0
assert_err_contains "[t1 seed] env test has no seed sets"
ok "clear answers"

finish

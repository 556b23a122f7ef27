#!/usr/bin/env bash
# A managed target's fixture made by pg_dump (settings, tables, rows as
# COPY ... FROM stdin data, constraints) loads through the same code as a
# migration (issue 8 item 3); an error in a fixture names file:line, the row's
# line inside COPY data, and the server's CONTEXT, and leaves no database.
. "$(dirname "$0")/lib.sh"

PG_DUMP=$TPG_BIN/pg_dump
[ -x "$PG_DUMP" ] || PG_DUMP=$(command -v pg_dump) || die "pg_dump not found"

group "a pg_dump of a database on the test cluster"
SRC=$(unique_name fixsrc)
create_db "$TPG_PORT" "$SRC"
sql_on "$TPG_PORT" "$SRC" "
CREATE SCHEMA ref;
CREATE TABLE ref.city (id int PRIMARY KEY, name text, note text);
INSERT INTO ref.city VALUES (1, 'Zürich', 'tab	inside'), (2, 'Bern', E'two\nlines'),
  (3, 'Basel; not a statement', NULL);
CREATE INDEX city_name ON ref.city (name);" >/dev/null || die "cannot fill $SRC"
PROJECT=$(mktemp -d "$PADCTL_TEST_TMP/fixdump.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$PROJECT")
mkdir -p "$PROJECT/envs" "$PROJECT/pipelines" "$PROJECT/migrations" "$PROJECT/fixtures"
"$PG_DUMP" --no-owner --no-privileges -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$SRC" \
	>"$PROJECT/fixtures/ref.sql" || die "pg_dump failed"
assert_contains "$(cat "$PROJECT/fixtures/ref.sql")" "COPY ref.city (id, name, note) FROM stdin;" "the dump"
ok "pg_dump wrote COPY data"

printf 'project: fixdump\nschemas:\n  owned: [app]\n' >"$PROJECT/padctl.yml"
printf 'steps:\n  - migrate\non_failure: stop\n' >"$PROJECT/pipelines/standard.yml"
cat >"$PROJECT/envs/local.yml" <<'YAML'
tier: nonprod
pipeline: standard
targets:
  local:
    database:
      managed: true
      fixtures: [fixtures/ref.sql]
YAML
cat >"$PROJECT/envs/broken.yml" <<'YAML'
tier: nonprod
pipeline: standard
targets:
  local:
    database:
      managed: true
      dbname: broken
      fixtures: [fixtures/ref.sql, fixtures/bad.sql]
YAML
# the migration reads what the fixture loaded
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.cities AS SELECT * FROM ref.city;"

on_exit cleanup_local

q() {
	PGPASSWORD=$(cat "$PROJECT/.padctl/pg/password") "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 \
		-p "$(cat "$PROJECT/.padctl/pg/port")" -U padctl -d "$1" -c "$2"
}

group "the dump as a fixture"
pc deploy local
assert_rc 0
assert_err_contains 'loaded 1 fixture file into database "fixdump"'
assert_eq 3 "$(q fixdump 'SELECT count(*) FROM app.cities')" "rows the migration copied"
assert_eq "Zürich|tab	inside" "$(q fixdump 'SELECT name, note FROM ref.city WHERE id = 1')" "a row with a tab"
assert_eq "two
lines" "$(q fixdump 'SELECT note FROM ref.city WHERE id = 2')" "a row with a newline"
assert_eq "t" "$(q fixdump 'SELECT note IS NULL FROM ref.city WHERE id = 3')" "a NULL"
assert_eq "city_name" "$(q fixdump "SELECT indexname FROM pg_indexes WHERE tablename = 'city' AND indexname = 'city_name'")" "the index after the data"
ok "the fixture loaded with its COPY data, and the migration saw it"

group "a bad row in a fixture's COPY data"
cat >"$PROJECT/fixtures/bad.sql" <<'SQL'
CREATE TABLE public.size (id int, label text);
COPY public.size (id, label) FROM stdin;
1	small
two	medium
\.
SQL
pc deploy broken
assert_rc 1
assert_err_contains "fixtures/bad.sql:4: invalid input syntax for type integer"
assert_err_contains 'COPY size, line 2'
assert_err_contains 'it is a fixture of database "broken"'
assert_eq 0 "$(q postgres "SELECT count(*) FROM pg_database WHERE datname = 'broken'")" "databases named broken"
ok "the error names the row's line and the CONTEXT; the database was dropped again"

group "an error inside a DO block of a fixture"
cat >"$PROJECT/fixtures/bad.sql" <<'SQL'
CREATE TABLE public.size (id int, label text);
DO $$
BEGIN
  INSERT INTO public.size VALUES (1, 'small');
  RAISE EXCEPTION 'no sizes today';
END $$;
SQL
pc deploy broken
assert_rc 1
assert_err_contains "fixtures/bad.sql:5: no sizes today"
assert_err_contains "PL/pgSQL function inline_code_block line 4 at RAISE"
ok "the body's line and the CONTEXT"

finish

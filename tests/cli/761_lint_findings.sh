#!/usr/bin/env bash
# lint (issue 11): plan lists findings under each migration (text and
# --json) with the target's server version; a destructive migration is
# refused in a prod-tier env (deploy --dry-run, which prod allows) unless its
# meta.yml declares it; suppression needs a reason; padctl.yml severities.
. "$(dirname "$0")/lib.sh"

new_project lintfind
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint PRIMARY KEY, note varchar(20), amount numeric(10,2));"
pc deploy test
assert_rc 0
add_migration 0002 index_and_drop "CREATE INDEX orders_note ON app.orders (note);
ALTER TABLE app.orders ALTER COLUMN note TYPE varchar(40);
ALTER TABLE app.orders ALTER COLUMN amount TYPE numeric(8,2);"

group "plan lists the findings under the migration"
pc plan test
assert_rc 0
assert_out_contains "-- lint: $PROJECT/migrations/0002_index_and_drop/up.sql:1:1: warning require-concurrent-index-creation"
# the target says the column is varchar(20): widening is binary-coercible, numeric(8,2) narrows
assert_out_not_contains "up.sql:2:1: warning changing-column-type"
assert_out_contains "up.sql:3:1: warning narrowing-column-type"
assert_out_matches "lint: 0 errors, [0-9]+ warnings \(PostgreSQL [0-9]+\.[0-9]+\)"
assert_out_not_contains "assumed PostgreSQL"
ok "findings as SQL comments under the migration; the catalog decides the safe type change"

group "--json carries them"
pc --json plan test
assert_rc 0
res=$(python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
m = d["plan"]["targets"][0]["migrations"][0]
rules = sorted(f["rule"] for f in m["lint"])
print(" ".join(rules), d["lint"][0]["errors"], d["lint"][0]["assumed"] == "")' <<<"$OUT")
assert_eq "changing-column-type narrowing-column-type require-concurrent-index-creation statement-after-access-exclusive 0 True" "$res" "json findings"
ok "--json has file, line, rule and severity per migration"

group "prod tier: a destructive migration is refused without the declaration"
cat >"$PROJECT/envs/prod.yml" <<YML
tier: prod
pipeline: standard
targets:
  t1:
    database:
      host: $TPG_HOST
      port: $TPG_PORT
      dbname: $DB
      user: $TPG_USER
YML
pc deploy prod --dry-run
assert_rc 2
assert_err_contains "up.sql:3:1: error narrowing-column-type"
assert_err_contains "destructive: \"why\""
printf 'destructive: "amounts never exceed 999999.99 (checked in 0002 review)"\n' >"$PROJECT/migrations/0002_index_and_drop/meta.yml"
pc deploy prod --dry-run
assert_rc 0
ok "deploy --dry-run in prod exits 2 naming the rule, passes once meta.yml declares it"

group "suppression per statement needs a reason"
printf -- '-- padctl:allow require-concurrent-index-creation\nCREATE INDEX orders_id2 ON app.orders (id);\n' \
	>"$PROJECT/migrations/0002_index_and_drop/up.sql"
pc plan test
assert_rc 2
assert_err_contains "up.sql:1:4: error lint-allow: \`padctl:allow require-concurrent-index-creation\` gives no reason"
printf -- '-- padctl:allow require-concurrent-index-creation the table has 12 rows\nCREATE INDEX orders_id2 ON app.orders (id);\n' \
	>"$PROJECT/migrations/0002_index_and_drop/up.sql"
pc plan test
assert_rc 0
assert_out_contains "allowed require-concurrent-index-creation: CREATE INDEX without CONCURRENTLY"
assert_out_contains "(allowed: the table has 12 rows)"
ok "an allow comment without a reason is an error; with one the finding is listed as allowed"

group "padctl.yml raises a rule to an error; an unknown rule name is refused"
printf 'lint:\n  rules:\n    require-concurrent-index-creation: error\n    prefer-text-field: warning\n' >>"$PROJECT/padctl.yml"
printf 'CREATE INDEX orders_id3 ON app.orders (id);\n' >"$PROJECT/migrations/0002_index_and_drop/up.sql"
pc deploy test
assert_rc 2
assert_err_contains "error require-concurrent-index-creation"
assert_eq 0 "$(psql_q "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_id3'")" "index not built"
printf 'lint:\n  rules:\n    no-such-rule: error\n' >"$PROJECT/padctl.yml.new"
sed -i '/^lint:/,$d' "$PROJECT/padctl.yml"
cat "$PROJECT/padctl.yml.new" >>"$PROJECT/padctl.yml"
pc plan test
assert_rc 2
assert_err_contains "padctl.yml:7:5: unknown lint rule \"no-such-rule\""
ok "lint.rules severities apply at deploy; unknown names fail with padctl.yml:line:col"
finish

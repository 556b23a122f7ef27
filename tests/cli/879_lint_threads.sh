#!/usr/bin/env bash
# plan and deploy lint a big pending set on two threads (docs/lint.md): with
# more than 32 KiB of pending SQL a second thread takes migrations too, a
# few at a time, and its lookups in pg_proc share the connection. Each migration's
# findings stay under that migration, in order, none lost or doubled.
. "$(dirname "$0")/lib.sh"

new_project lintthreads
add_migration 0001 base "CREATE SCHEMA app; CREATE TABLE app.base (id int);"
pc deploy test
assert_rc 0

N=80
pad=$(printf -- '-- %0600d\n' 0)
for ((i = 2; i <= N + 1; i++)); do
	v=$(printf '%04d' "$i")
	# a volatile default (clock_timestamp(): looked up in pg_proc) is one finding each
	add_migration "$v" "c$v" "$pad
ALTER TABLE app.base ADD COLUMN c$v timestamptz DEFAULT clock_timestamp();"
done
# one does not parse: its finding is its own
add_migration 0070 c0070 "$pad
ALTER TABLE app.base ADD COLUMN c0070 timestamptz DEFAULT clock_timestamp(;"

group "plan: one finding under each of $N migrations, in order"
pc plan test
assert_rc 0
assert_out_contains "lint: 0 errors, $N warnings"
# each "-- apply V_cV" line is followed by the SQL and then its one finding
seq=$(awk '/^-- apply / { v = substr($3, 1, 4) } /^-- lint: / { print v, $3 }' <<<"$OUT")
[ "$(wc -l <<<"$seq")" = "$N" ] || fail_now "expected $N findings, got: $seq"
want=""
for ((i = 2; i <= N + 1; i++)); do
	v=$(printf '%04d' "$i")
	want+="$v $PROJECT/migrations/${v}_c$v/up.sql:2:1:"$'\n'
done
got=$(awk '{ print $1, $2 }' <<<"$seq" | sed -E 's/(up\.sql:[0-9]+:[0-9]+:).*/\1/')
assert_eq "${want%$'\n'}" "$got" "the findings' migrations and places"
assert_contains "$(grep -- '-- lint: .*c0070/up.sql' <<<"$OUT")" "warning syntax" "0070's finding"
# it points at its statement, and says where the parser stopped
assert_contains "$(grep -- '-- lint: .*c0070/up.sql' <<<"$OUT")" "(line 2, column 75)" "0070's finding"
[ "$(grep -c 'adding-field-with-default' <<<"$OUT")" = $((N - 1)) ] || fail_now "volatile defaults: $(grep -c 'adding-field-with-default' <<<"$OUT")"
ok "$N findings, each under its own migration, in order; 0070's is the syntax error"

group "plan --json: the same findings, by migration"
pc --json plan test
assert_rc 0
files=$(jq -r '.plan.targets[0].migrations[] | .lint[] | .file' <<<"$OUT" | sed "s|$PROJECT/migrations/||")
[ "$(wc -l <<<"$files")" = "$N" ] || fail_now "json findings: $files"
paths=$(jq -r '.plan.targets[0].migrations[] | select(.lint | length > 0) | .path' <<<"$OUT" | sed "s|$PROJECT/migrations/||")
assert_eq "$paths" "$files" "each finding's file is its migration's"
ok "--json carries one finding per migration, under the right one"

group "deploy lints the same set under the lock and applies it"
add_migration 0070 c0070 "$pad
ALTER TABLE app.base ADD COLUMN c0070 timestamptz DEFAULT clock_timestamp();"
pc deploy test
assert_rc 0
assert_eq $((N + 1)) "$(psql_q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app.base'::regclass AND attnum > 0")" \
	"app.base's columns"
ok "deploy applied all $N"

finish

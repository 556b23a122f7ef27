#!/usr/bin/env bash
# plan keeps the checksums of down.sql and verify.sql in .padctl/sums, keyed
# by device, inode, size, mtime and ctime, and reads a file again when any of
# them changed: a file rewritten with its old size and its mtime put back is
# noticed (its ctime moved). A file changed in the last two seconds is not
# cached. The cache is only plan's: deploy --plan reads every file and
# refuses a plan whose checksums are not the files' (shown here with a
# forged cache). A missing, torn or hostile cache is ignored and rewritten;
# a down.sql that is removed, a FIFO or a link is treated as without a cache.
. "$(dirname "$0")/lib.sh"

new_project sumcache
MIG=$PROJECT/migrations
SUMS=$PROJECT/.padctl/sums
add_migration 0001 one "CREATE SCHEMA app;" "DROP SCHEMA app;" "SELECT 1;"
add_migration 0002 two "CREATE TABLE app.t (i int);" "DROP TABLE app.t;" "SELECT 2;"

plan_id() { sed -nE 's/^recorded plan ([^ ]+) \(hash sha256:([0-9a-f]{64})\).*/\1/p' <<<"$OUT"; }
# field VERSION KEY: a migration's field in the plan written to $PROJECT/p.json
field() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
m = [m for m in d["targets"][0]["migrations"] if m["version"] == sys.argv[2]][0]
print(m[sys.argv[3]])' "$PROJECT/p.json" "$1" "$2"
}
sum_of() { sha256sum "$1" | cut -d' ' -f1; }
plan_out() {
	pc plan test --out "$PROJECT/p.json"
	assert_rc 0
}
# cached REL: a plan recorded REL in the cache (files are cached once settled)
cached() {
	"$PADCTL_BIN" -C "$PROJECT" plan test >/dev/null 2>&1 && grep -q " $1\$" "$SUMS"
}

group "settled files are cached; the plan is the same with and without the cache"
plan_out
cp "$PROJECT/p.json" "$PROJECT/p0.json"
wait_for 30 cached 0002_two/verify.sql || fail_now "plan did not cache 0002_two/verify.sql" "$(cat "$SUMS" 2>&1)"
assert_eq 4 "$(grep -c ' 000[12]_[a-z]*/\(down\|verify\)\.sql$' "$SUMS")" "cached files"
assert_eq "padctl-sums 1" "$(head -n1 "$SUMS")" "the cache's first line"
assert_eq "root $MIG" "$(sed -n 2p "$SUMS")" "the cache's second line"
assert_eq 600 "$(stat -c %a "$SUMS")" "the cache's mode"
plan_out
cmp -s "$PROJECT/p0.json" "$PROJECT/p.json" || fail_now "the plan from the cache differs" "$(diff "$PROJECT/p0.json" "$PROJECT/p.json")"
ok "4 entries in .padctl/sums (mode 600); the plan's bytes are the same as without them"

group "a cache entry is what plan uses, and deploy --plan refuses a plan that does not match the files"
fake=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
cp "$SUMS" "$PROJECT/sums.good"
sed -i -E "s|^[0-9a-f]{64}( .* 0002_two/verify\.sql)\$|$fake\1|" "$SUMS"
pc plan test --out "$PROJECT/p.json"
assert_rc 0
id=$(plan_id)
assert_eq "$fake" "$(field 0002 verify_sha256)" "verify_sha256 of 0002 from the forged cache"
pc deploy test --plan "$id"
assert_rc 1
assert_err_contains "plan \"$id\" no longer matches what the deploy would do: nothing was changed"
assert_no_table app.t
cp "$PROJECT/sums.good" "$SUMS"
ok "a forged entry shows in the plan; deploy reads the file and refuses the plan, nothing applied"

group "a file rewritten with the same size, inode and mtime is read again"
f=$MIG/0001_one/down.sql
rewrite_in_place "$f" 'DROP SCHEMA xyz;
'
plan_out
assert_eq "$(sum_of "$f")" "$(field 0001 down_sha256)" "down_sha256 of 0001"
ok "the new checksum: the ctime moved"

group "a file replaced by another (rename) is read again"
printf 'SELECT 3;\n' >"$PROJECT/v.new"
touch -r "$MIG/0002_two/verify.sql" "$PROJECT/v.new"
mv "$PROJECT/v.new" "$MIG/0002_two/verify.sql"
plan_out
assert_eq "$(sum_of "$MIG/0002_two/verify.sql")" "$(field 0002 verify_sha256)" "verify_sha256 of 0002"
ok "the new file's checksum"

group "a removed down.sql, a FIFO and a link to outside the project"
wait_for 30 cached 0001_one/down.sql || fail_now "plan did not cache 0001_one/down.sql again"
rm "$MIG/0001_one/down.sql"
plan_out
assert_eq None "$(field 0001 down_sha256)" "down_sha256 of a removed down.sql"
mkfifo "$MIG/0001_one/down.sql"
pc plan test
assert_rc 2
assert_err_contains "not a regular file"
rm "$MIG/0001_one/down.sql"
outside=$(mktemp -d "$PADCTL_TEST_TMP/sumcache-out.XXXXXX")
CLI_DIRS+=("$outside")
printf 'DROP SCHEMA app;\n' >"$outside/down.sql"
ln -s "$outside/down.sql" "$MIG/0001_one/down.sql"
plan_out
assert_eq "$(sum_of "$outside/down.sql")" "$(field 0001 down_sha256)" "down_sha256 through the link"
assert_err_contains "is a symlink leading out of the project"
assert_not_contains "$(cat "$SUMS")" "0001_one/down.sql" "the cache"
rm "$MIG/0001_one/down.sql"
ok "null when removed, a FIFO refused, a link read by its path with the warning and not cached"

group "a torn, foreign or hostile cache is ignored and rewritten"
wait_for 30 cached 0002_two/down.sql || fail_now "plan did not cache 0002_two/down.sql"
good=$(field 0002 down_sha256)
for bad in torn root order garbage; do
	damage_sums "$bad" "$PROJECT/sums.good" "$SUMS"
	plan_out
	assert_eq "$(sum_of "$MIG/0002_two/down.sql")" "$(field 0002 down_sha256)" "down_sha256 of 0002 with a $bad cache"
	assert_eq "padctl-sums 1" "$(head -n1 "$SUMS")" "the cache rewritten after a $bad one"
done
rm -f "$SUMS"
: >"$PROJECT/ref"
ln -s "$PROJECT/ref" "$SUMS"
plan_out
[ -L "$SUMS" ] && fail_now "the link .padctl/sums was written through, not replaced"
assert_eq "" "$(cat "$PROJECT/ref")" "the link's target"
ok "torn, another root, out of order, random bytes: read the files; a link is replaced, not followed"

finish

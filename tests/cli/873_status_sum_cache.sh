#!/usr/bin/env bash
# status keeps the checksums of up.sql in .padctl/status-sums, keyed (as
# plan's .padctl/sums) by device, inode, size, mtime and ctime, and reads a
# file again when any of them changed: an applied migration edited in place
# with its size and mtime put back is still a checksum mismatch (its ctime
# moved), an up.sql emptied after it was cached is still refused, a link is
# read by its path and not cached. The cache is only status's: deploy reads
# every file (shown with a forged entry). A torn, foreign or hostile cache is
# ignored and rewritten, and a link in its place is replaced, not followed.
. "$(dirname "$0")/lib.sh"

new_project statussums
MIG=$PROJECT/migrations
SUMS=$PROJECT/.padctl/status-sums
add_migration 0001 one "CREATE SCHEMA app;"
add_migration 0002 two "CREATE TABLE app.t (i int);"

sum_of() { sha256sum "$1" | cut -d' ' -f1; }
# cached REL: a status recorded REL in the cache (files are cached once settled)
cached() {
	"$PADCTL_BIN" -C "$PROJECT" status test >/dev/null 2>&1 && grep -q " $1\$" "$SUMS"
}
# status_json: the state and checksum of each migration, "VERSION STATE CHECKSUM" lines
status_json() {
	pc --json status test
	json_get '"\n".join("%s %s %s" % (m["version"], m["state"], m["checksum"]) for m in d["targets"][0]["migrations"])'
}

group "settled up.sql files are cached; status says the same with and without the cache"
pc deploy test
assert_rc 0
wait_for 30 cached 0002_two/up.sql || fail_now "status did not cache 0002_two/up.sql" "$(cat "$SUMS" 2>&1)"
assert_eq 2 "$(grep -c ' 000[12]_[a-z]*/up\.sql$' "$SUMS")" "cached files"
assert_eq "padctl-sums 1" "$(head -n1 "$SUMS")" "the cache's first line"
assert_eq "root $MIG" "$(sed -n 2p "$SUMS")" "the cache's second line"
assert_eq 600 "$(stat -c %a "$SUMS")" "the cache's mode"
with=$(status_json)
assert_eq "0001 applied $(sum_of "$MIG/0001_one/up.sql")
0002 applied $(sum_of "$MIG/0002_two/up.sql")" "$with" "status from the cache"
cp "$SUMS" "$PROJECT/sums.good"
rm "$SUMS"
assert_eq "$with" "$(status_json)" "status without the cache"
ok "2 entries in .padctl/status-sums (mode 600); status is the same with and without them"

group "a cache entry is what status shows; deploy reads the file"
wait_for 30 cached 0002_two/up.sql || fail_now "status did not cache 0002_two/up.sql again"
cp "$SUMS" "$PROJECT/sums.good"
fake=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
sed -i -E "s|^[0-9a-f]{64}( .* 0002_two/up\.sql)\$|$fake\1|" "$SUMS"
pc status test
assert_rc 1
assert_out_contains "checksum mismatch 1"
add_migration 0003 three "CREATE TABLE app.u (i int);"
pc deploy test
assert_rc 0
assert_table_exists app.u
cp "$PROJECT/sums.good" "$SUMS"
ok "a forged entry shows in status; deploy checks the files themselves and applies 0003"

group "an applied up.sql rewritten with the same size, inode and mtime is read again"
wait_for 30 cached 0003_three/up.sql || fail_now "status did not cache 0003_three/up.sql"
f=$MIG/0002_two/up.sql
rewrite_in_place "$f" 'CREATE TABLE app.x (i int);
'
pc status test
assert_rc 1
assert_out_contains "checksum mismatch 1"
assert_out_contains "checksum mismatch 0002_two"
printf 'CREATE TABLE app.t (i int);\n' >"$f"
pc status test
assert_rc 0
ok "the edit is a checksum mismatch (the ctime moved); put back, it is applied again"

group "an up.sql emptied after it was cached is refused, a link is read by its path"
wait_for 30 cached 0002_two/up.sql || fail_now "status did not cache 0002_two/up.sql again"
cp "$f" "$PROJECT/two.sql"
printf -- '-- nothing\n' >"$f"
pc status test
assert_rc 2
assert_err_contains "is empty (no SQL statement)"
ln -sf "$PROJECT/two.sql" "$f"
pc status test
assert_rc 0
assert_not_contains "$(cat "$SUMS")" "0002_two/up.sql" "the cache"
rm "$f"
cp "$PROJECT/two.sql" "$f"
ok "the empty file refused as without a cache; through a link: read, and not cached"

group "a torn, foreign or hostile cache is ignored and rewritten"
wait_for 30 cached 0002_two/up.sql || fail_now "status did not cache 0002_two/up.sql again"
cp "$SUMS" "$PROJECT/sums.good"
for bad in torn root order garbage; do
	damage_sums "$bad" "$PROJECT/sums.good" "$SUMS"
	pc status test
	assert_rc 0
	assert_out_contains "applied 3,"
	assert_eq "padctl-sums 1" "$(head -n1 "$SUMS")" "the cache rewritten after a $bad one"
done
rm -f "$SUMS"
: >"$PROJECT/ref"
ln -s "$PROJECT/ref" "$SUMS"
pc status test
assert_rc 0
[ -L "$SUMS" ] && fail_now "the link .padctl/status-sums was written through, not replaced"
assert_eq "" "$(cat "$PROJECT/ref")" "the link's target"
ok "torn, another root, out of order, random bytes: read the files; a link is replaced, not followed"

finish

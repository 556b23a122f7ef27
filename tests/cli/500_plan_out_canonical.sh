#!/usr/bin/env bash
# plan --out writes exactly the bytes that are hashed and stored (issue 8
# item 1): sha256sum of the file is the printed hash, the stored body is the
# same bytes, and the bytes are the canonical form docs/plan.md defines
# (keys sorted, no white space, UTF-8 unescaped, one trailing line feed).
. "$(dirname "$0")/lib.sh"

new_project plancanon
add_migration 0001 create_app "CREATE SCHEMA app;" "DROP SCHEMA app;"
# a name with non-ASCII letters: canonical bytes keep UTF-8 as it is
add_migration 0002 café_naïve "CREATE TABLE app.plan_canon_marker (id int);"
write_env "$DB" "$TPG_PORT" 'migrations:
  skip:
    "0001": created by the "DBA"/ops'

FILE=$PROJECT/out/plan.json
mkdir -p "$PROJECT/out"

group "sha256sum of plan --out is the printed hash"
pc plan test --out "$FILE"
assert_rc 0
id=$(sed -nE 's/^recorded plan ([^ ]+) \(hash sha256:([0-9a-f]{64})\).*/\1/p' <<<"$OUT")
hash=$(sed -nE 's/^recorded plan ([^ ]+) \(hash sha256:([0-9a-f]{64})\).*/\2/p' <<<"$OUT")
[ -n "$hash" ] || fail_now "no \"recorded plan\" line" "got: $OUT"
assert_eq "$hash" "$(sha256sum "$FILE" | cut -d' ' -f1)" "sha256sum of $FILE"
assert_eq "$hash" "$(psql_q "SELECT hash FROM padctl.plans WHERE id = '$id'")" "hash in padctl.plans"
assert_eq "$hash" "$(psql_q "SELECT encode(sha256(convert_to(b.body, 'UTF8')), 'hex') FROM padctl.plans p
	JOIN padctl.plan_bodies b ON b.hash = p.hash WHERE p.id = '$id'")" "SHA-256 of the stored body"
ok "sha256sum FILE, the printed hash, padctl.plans.hash and the stored body's digest agree"

group "the file is in canonical form"
res=$(python3 - "$FILE" <<'PY'
import json, sys
raw = open(sys.argv[1], 'rb').read()
doc = json.loads(raw.decode('utf-8'))
want = (json.dumps(doc, sort_keys=True, separators=(',', ':'), ensure_ascii=False) + '\n').encode('utf-8')
print('same' if raw == want else 'differs:\n%r\n%r' % (raw, want))
PY
)
assert_eq same "$res" "the file against its re-serialisation"
assert_contains "$(cat "$FILE")" '"name":"café_naïve"' "UTF-8 kept as it is"
assert_contains "$(cat "$FILE")" '"reason":"created by the \"DBA\"/ops"' "quotes escaped, slash not"
assert_eq 1 "$(wc -l <"$FILE")" "one line feed, at the end"
OUT=$(cat "$FILE")
assert_eq "2 test t1 skip apply" \
	"$(json_get '" ".join(str(x) for x in [d["padctl_plan"], d["env"], d["targets"][0]["target"], d["targets"][0]["migrations"][0]["action"], d["targets"][0]["migrations"][1]["action"]])')" \
	"format, env, target, actions"
assert_eq "[] [] [] []" "$(json_get '" ".join(json.dumps(d["targets"][0][k]) for k in ["backups", "seeds", "lint", "backfills"])')" \
	"room for backups, seeds, lint, backfills"
ok "keys sorted, compact, UTF-8, trailing line feed; empty arrays for later"

group "--json shows the same hash and the SQL"
pc --json plan test
assert_rc 0
assert_eq "$hash" "$(json_get 'd["hash"]')" "hash in --json"
assert_contains "$(json_get 'd["plan"]["targets"][0]["migrations"][1]["sql"]')" "plan_canon_marker" "sql shown"
ok "--json presents the plan with its SQL; the hash is the same"

finish

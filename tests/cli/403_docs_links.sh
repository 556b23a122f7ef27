#!/usr/bin/env bash
# The documentation survives a clone on a case-insensitive file system (no
# two paths differ only in case: docs/PLUGINS.md and docs/plugins.md did),
# and every relative link in README.md and docs/ names a file that exists.
. "$(dirname "$0")/lib.sh"

SRC=${PADCTL_SOURCE_DIR:?PADCTL_SOURCE_DIR is not set}

group "no two paths differ only in case"
dups=$(cd "$SRC" && find . -path ./build -prune -o -path ./.git -prune -o -print | sort -f | uniq -di)
assert_eq "" "$dups" "paths that differ only in case"
ok "no case-only duplicates"

group "relative links resolve"
broken=$(cd "$SRC" && python3 - README.md docs <<'PY'
import os, re, sys
files = []
for arg in sys.argv[1:]:
    if os.path.isdir(arg):
        for d, _, names in os.walk(arg):
            files += [os.path.join(d, n) for n in names if n.endswith(".md")]
    else:
        files.append(arg)
for f in sorted(files):
    text = open(f, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#")[0]
        if not os.path.exists(os.path.join(os.path.dirname(f), path)):
            print(f"{f}: {target}")
PY
)
assert_eq "" "$broken" "broken relative links"
ok "every relative link names an existing file"

finish

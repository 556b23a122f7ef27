#!/usr/bin/env bash
# bench/guard/check.sh [N [ROUNDS [REV]]]
#
# The guard's per-migration check alone, timed inside the server, which a
# busy machine disturbs far less than a whole deploy: N transactions, each
# creating a table and an index in an owned schema (what a bench/guard
# migration does) and then running the check padctl sends with COMMIT,
# against the reference project's protected schema
# (db/fixtures/bo_airflow.sql). The server adds up clock_timestamp() around
# each call. The check's SQL is read from core/engine/guard.c of this tree
# and, when REV is given, of that git revision too; the two take turns for
# ROUNDS rounds. Prints microseconds per call, and the ratio.
#
#   N       transactions per run (default 300)
#   ROUNDS  runs per version (default 3)
#   REV     a git revision to compare with (e.g. 5cfa812, before the fast check)
#
# Environment: PGBIN (see bench/lib.sh), BENCH_WORK (default bench/work/guard-check).
set -euo pipefail
PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-300}
ROUNDS=${2:-3}
REV=${3:-}
case $N$ROUNDS in
'' | *[!0-9]*)
	printf 'usage: %s [N [ROUNDS [REV]]]\n' "$PROG" >&2
	exit 2
	;;
esac
W=${BENCH_WORK:-$ROOT/bench/work/guard-check}
SUPERUSER=bench_runner
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
command -v python3 >/dev/null || die "python3 not found"
bench_pgbin
bench_workdir
bench_stop_at_exit

# guard_sql SOURCE OUT: the functions guard.c creates, and how padctl calls the check
# (the source goes through the C preprocessor first: its SQL is built with macros)
guard_sql() {
	grep -v '^#include' "$1" | cpp -P - >"$2.i" || die "cpp could not read $1"
	python3 - "$2.i" "$2" "$1" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
def literal(name):
    m = re.search(r"static const char " + name + r"\[\] =\s*(.*?);\n", src, re.S)
    if not m:
        return None
    return "".join(bytes(s, "utf-8").decode("unicode_escape") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
fns = [f for f in (literal("guard_fn"), literal("guard_watch_fn"), literal("guard_counting_fn")) if f]
if not fns:
    sys.exit("no guard_fn in " + sys.argv[3])
with open(sys.argv[2], "w") as out:
    out.write(";\n".join(fns) + ";\n")
    # the fast check takes the state; the old one the schemas and the state
    call = ("pg_temp.padctl_guard_fast(:'base', false)" if "padctl_guard_fast(%s, false)" in src
            else "pg_temp.padctl_guard(ARRAY['bo_airflow']::text[], :'base', false)")
    # where the migration's text ends, padctl also asks whether writes are counted
    if literal("guard_counting_fn"):
        call = "pg_temp.padctl_guard_counting(), " + call
    out.write("-- call: " + call + "\n")
PY
}
guard_sql "$ROOT/core/engine/guard.c" "$W/new.sql"
if [ -n "$REV" ]; then
	git -C "$ROOT" show "$REV:core/engine/guard.c" >"$W/old-guard.c" || die "no core/engine/guard.c at $REV"
	guard_sql "$W/old-guard.c" "$W/old.sql"
fi

bench_cluster_start max_connections=20 autovacuum=off
say "PostgreSQL $PGVER on 127.0.0.1:$PORT"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE guard_template" >/dev/null
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d guard_template -f "$ROOT/db/fixtures/bo_airflow.sql" >/dev/null
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d guard_template -c "CREATE SCHEMA bench" >/dev/null

run() { # SQLFILE: prints microseconds per call
	local call
	call=$(sed -n 's/^-- call: //p' "$1")
	call=${call//:\'base\'/b} # the state, as the function's argument
	PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS guard_check" -c "CREATE DATABASE guard_check TEMPLATE guard_template" >/dev/null
	{
		cat "$1"
		echo "SELECT split_part(pg_temp.padctl_guard(ARRAY['bo_airflow']::text[], NULL, false), E'\\n', 1) AS base \\gset"
		cat <<SQL
CREATE FUNCTION pg_temp.timed(b text) RETURNS void LANGUAGE plpgsql AS \$t\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  PERFORM $call;
  PERFORM set_config('bench.us', (coalesce(nullif(current_setting('bench.us', true), ''), '0')::float8
    + 1e6 * extract(epoch FROM clock_timestamp() - t0))::text, false);
END \$t\$;
SQL
		echo "\\o /dev/null"
		# one call untimed: the first one compiles the functions and plans their queries
		echo "BEGIN; SELECT pg_temp.timed(:'base'); SELECT set_config('bench.us', '0', false); COMMIT;"
		for ((i = 1; i <= N; i++)); do
			echo "BEGIN; CREATE TABLE bench.t$i (id bigint PRIMARY KEY, v text); CREATE INDEX t${i}_v ON bench.t$i (v); SELECT pg_temp.timed(:'base'); COMMIT;"
		done
		echo "\\o"
		echo "SELECT round(current_setting('bench.us')::numeric / $N, 1);"
	} >"$LOGS/run.sql"
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d guard_check -f "$LOGS/run.sql" 2>"$LOGS/run.err" | tail -n 1 ||
		die "the check failed (see $LOGS/run.err)"
}
NEW=() OLD=()
for ((r = 1; r <= ROUNDS; r++)); do
	NEW+=("$(run "$W/new.sql")")
	[ -z "$REV" ] || OLD+=("$(run "$W/old.sql")")
	say "round $r: this tree ${NEW[-1]} us per call${REV:+, $REV ${OLD[-1]} us}"
done
python3 - "${NEW[*]}" "${OLD[*]}" "$REV" "$N" <<'PY' | tee "$W/results.md"
import statistics, sys
new = [float(x) for x in sys.argv[1].split()]
old = [float(x) for x in sys.argv[2].split()]
med = statistics.median
print(f"the check, {sys.argv[4]} calls a run, each after a CREATE TABLE and a CREATE INDEX in its transaction:")
print(f"this tree: median {med(new):.1f} us per call (runs: {', '.join(f'{x:.1f}' for x in new)})")
if old:
    print(f"{sys.argv[3]}: median {med(old):.1f} us per call (runs: {', '.join(f'{x:.1f}' for x in old)}); "
          f"this tree / {sys.argv[3]}: {med(new) / med(old):.2f}x")
PY

#!/usr/bin/env bash
# bench/guard/run.sh [N [REPEATS]]
#
# The cost of the protected-schema guard at run time: padctl deploys the same
# N small migrations (a table and an index each, as bench/migrate) into a
# fresh database holding the reference project's protected schema
# (db/fixtures/bo_airflow.sql), once with the guard on (the default) and once
# with `migrations.guard: false`, REPEATS times each, the two taking turns
# (which goes first alternates). Prints the medians and their ratio (on / off)
# as a Markdown table, then the median of the per-round ratios and the ratio
# of the fastest runs, which a busy machine disturbs less.
#
#   N        migrations (default 1000)
#   REPEATS  deploys per setting (default 3)
#
# Environment: PADCTL_BIN (default build-rel/padctl), BENCH_WORK (default
# bench/work/guard), PGBIN (see bench/lib.sh). Like bench/migrate, the script
# starts its own cluster with the data on disk and fsync on, and stops it.
set -euo pipefail
PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-1000}
REPEATS=${2:-3}
case $N$REPEATS in
'' | *[!0-9]*)
	printf 'usage: %s [N [REPEATS]]\n' "$PROG" >&2
	exit 2
	;;
esac
PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work/guard}
SUPERUSER=bench_runner
say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}
[ -x "$PADCTL_BIN" ] || die "no padctl binary at $PADCTL_BIN (build it, or set PADCTL_BIN)"
command -v python3 >/dev/null || die "python3 not found"
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
bench_pgbin
mkdir -p "$W"
W=$(cd "$W" && pwd)
LOGS=$W/logs
rm -rf -- "$LOGS"
mkdir -p "$LOGS"
cleanup() {
	local rc=$?
	set +e
	bench_cluster_stop
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_cluster_start max_connections=50
say "PostgreSQL $PGVER on 127.0.0.1:$PORT, data on disk, fsync=$("$PSQL" -XAtc 'SHOW fsync')"

# the template: the protected schema as the reference team has it
"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE guard_template" >/dev/null
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d guard_template -f "$ROOT/db/fixtures/bo_airflow.sql" >/dev/null
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d guard_template -c "CREATE SCHEMA bench" >/dev/null

# project: same migrations for both settings, only padctl.yml differs
project() { # DIR GUARD
	mkdir -p "$1/envs" "$1/pipelines"
	printf 'project: bench\nschemas:\n  owned: [bench]\n  protected: [bo_airflow]\npaths:\n  migrations: %s\nmigrations:\n  guard: %s\n' \
		"$W/migrations" "$2" >"$1/padctl.yml"
	printf 'tier: nonprod\npipeline: bench\ntargets:\n  bench:\n    database:\n      host: 127.0.0.1\n      port: %s\n      dbname: guard_bench\n      user: %s\n      sslmode: disable\n' \
		"$PORT" "$SUPERUSER" >"$1/envs/bench.yml"
	printf 'steps: [migrate]\non_failure: stop\n' >"$1/pipelines/bench.yml"
}
say "generating $N migrations under $W"
rm -rf -- "$W/migrations" "$W/on" "$W/off"
for ((i = 1; i <= N; i++)); do
	v=$(printf '%04d' "$i")
	mkdir -p "$W/migrations/${v}_t$i"
	printf 'CREATE TABLE bench.t%s (id bigint primary key, v text);\nCREATE INDEX t%s_v ON bench.t%s (v);\n' "$i" "$i" "$i" \
		>"$W/migrations/${v}_t$i/up.sql"
done
project "$W/on" true
project "$W/off" false

fresh_db() {
	PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS guard_bench WITH (FORCE)" -c "CREATE DATABASE guard_bench TEMPLATE guard_template" >/dev/null
	"$PSQL" -X -q -c CHECKPOINT >/dev/null
}
deploy() { # SETTING ROUND: prints seconds
	fresh_db
	rm -f "$W/$1/known_targets"
	local t0 t1
	t0=$(date +%s.%N)
	"$PADCTL_BIN" -C "$W/$1" deploy bench >"$LOGS/$1-$2.log" 2>&1 || die "deploy ($1, round $2) failed: see $LOGS/$1-$2.log"
	t1=$(date +%s.%N)
	[ "$("$PSQL" -XAt -d guard_bench -c "SELECT count(*) FROM padctl.migrations")" = "$N" ] || die "deploy ($1) applied fewer than $N"
	python3 -c "print(f'{$t1 - $t0:.3f}')"
}
ON=() OFF=()
for ((r = 1; r <= REPEATS; r++)); do
	# the two take turns, and which goes first alternates: a slow phase of a
	# shared machine hits both alike
	if ((r % 2)); then
		ON+=("$(deploy on "$r")")
		OFF+=("$(deploy off "$r")")
	else
		OFF+=("$(deploy off "$r")")
		ON+=("$(deploy on "$r")")
	fi
	say "round $r: guard on ${ON[-1]} s, off ${OFF[-1]} s (load average $(cut -d' ' -f1 /proc/loadavg))"
done
python3 - "${ON[*]}" "${OFF[*]}" "$N" <<'PY' | tee "$W/results.md"
import statistics, sys
on = [float(x) for x in sys.argv[1].split()]
off = [float(x) for x in sys.argv[2].split()]
n = int(sys.argv[3])
mon, moff = statistics.median(on), statistics.median(off)
print("| guard | deploy median (s) | runs (s) | per migration (ms) | vs off |")
print("|---|---:|---|---:|---:|")
print(f"| off (`migrations.guard: false`) | {moff:.3f} | {', '.join(f'{x:.3f}' for x in off)} | {1000 * moff / n:.2f} | 1.00x |")
print(f"| on (default) | {mon:.3f} | {', '.join(f'{x:.3f}' for x in on)} | {1000 * mon / n:.2f} | {mon / moff:.2f}x |")
pairs = [a / b for a, b in zip(on, off)]
print()
print(f"median of the {len(pairs)} per-round ratios (on / off, same round): {statistics.median(pairs):.2f}x; "
      f"fastest on / fastest off: {min(on) / min(off):.2f}x")
PY

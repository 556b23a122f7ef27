#!/usr/bin/env bash
# bench/lint/run.sh [N [ROUNDS]]: the cost of lint in `padctl plan`.
#
# The question (issue 11): with N pending migrations (default 1,000, the set
# bench/migrate generates: a table and an index each), how long does
# `padctl plan` take, which parses every pending migration with PostgreSQL's
# parser and lints it (and records the plan), against `padctl status` on the
# same files and the same empty target? Goal: plan/status <= 2.0.
#
# The commands take turns ROUNDS times (default 30; bench/interleave.py),
# so a busy phase of the shared machine hits both. Prints the medians and the
# ratio; logs go to bench/work-lint/logs/.
#   PADCTL_BIN   the binary (default build-rel/padctl: a release build)
#   PADCTL_BASE_BIN  optional: a padctl built before lint (the commit before
#                the first lint commit); its plan is timed too, to show what
#                lint itself adds to plan (env "base": the same files, its
#                own database)
#   PGBIN        PostgreSQL binaries (default: the newest installed)
#   BENCH_KEEP   1: leave the cluster running
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-1000}
ROUNDS=${2:-30}
case $N$ROUNDS in
'' | *[!0-9]*)
	printf 'usage: %s [N [ROUNDS]]\n' "$PROG" >&2
	exit 2
	;;
esac
PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
[ -x "$PADCTL_BIN" ] || {
	printf '%s: no padctl at %s (build one: cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DPADCTL_TESTS=OFF && cmake --build build-rel -j2)\n' "$PROG" "$PADCTL_BIN" >&2
	exit 1
}
W=${BENCH_WORK:-$ROOT/bench/work-lint}
SUPERUSER=bench_runner

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers
bench_pgbin
bench_workdir

bench_stop_at_exit
bench_cluster_start max_connections=50
say "PostgreSQL $PGVER on 127.0.0.1:$PORT"

# the migration set of bench/migrate/run.sh: a table and an index each
WIDTH=4
[ "$N" -lt 10000 ] || WIDTH=${#N}
ver() { printf "%0${WIDTH}d" "$1"; }
sql_up() { printf 'CREATE TABLE bench.t%s (id bigint primary key, v text);\nCREATE INDEX t%s_v ON bench.t%s (v);\n' "$1" "$1" "$1"; }
sql_down() { printf 'DROP TABLE bench.t%s;\n' "$1"; }

P=$W/padctl
rm -rf -- "$P"
mkdir -p "$P/envs" "$P/pipelines" "$P/migrations"
cat >"$P/padctl.yml" <<YML
project: bench
schemas:
  owned: [bench]
  protected: [ref]
YML
cat >"$P/envs/bench.yml" <<YML
tier: nonprod
pipeline: bench
targets:
  bench:
    database:
      host: 127.0.0.1
      port: $PORT
      dbname: padctl_lint_bench
      user: $SUPERUSER
      sslmode: disable
YML
printf 'steps: [migrate]\non_failure: stop\n' >"$P/pipelines/bench.yml"
# the base build plans env "base": the same files, a database of its own
# (a padctl older than a ledger refuses it, and this one's ledger is newer)
sed 's/dbname: padctl_lint_bench$/dbname: padctl_lint_bench_base/' "$P/envs/bench.yml" >"$P/envs/base.yml"
for ((i = 1; i <= N; i++)); do
	v=$(ver "$i")
	mkdir "$P/migrations/${v}_t$v"
	sql_up "$v" >"$P/migrations/${v}_t$v/up.sql"
	sql_down "$v" >"$P/migrations/${v}_t$v/down.sql"
	printf "SELECT to_regclass('bench.t%s') IS NOT NULL AS ok;\n" "$v" >"$P/migrations/${v}_t$v/verify.sql"
done
"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE padctl_lint_bench" >/dev/null
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d padctl_lint_bench -c "CREATE SCHEMA bench" >/dev/null
if [ -n "${PADCTL_BASE_BIN-}" ]; then
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE padctl_lint_bench_base" >/dev/null
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -d padctl_lint_bench_base -c "CREATE SCHEMA bench" >/dev/null
fi

plan_cmd="$PADCTL_BIN -C $P plan bench"
status_cmd="$PADCTL_BIN -C $P status bench"
# plan of a set planned before records only a row (its body is in the
# ledger, and .padctl/plan-body.* says so: docs/plan.md); the third command
# is plan with its body new to the ledger each time (the body and the hint
# removed before each run, untimed), as the first plan of a changed set
new_body_cmd="sh -c \"'$PSQL' -XAtq -d padctl_lint_bench -c 'DELETE FROM padctl.plan_bodies' && rm -f '$P'/.padctl/plan-body.*\" ;; $plan_cmd"
cmds=("$plan_cmd" "$status_cmd" "$new_body_cmd")
if [ -n "${PADCTL_BASE_BIN-}" ]; then
	cmds+=("$PADCTL_BASE_BIN -C $P plan base")
fi
# one plain run of each first: a failing command makes the numbers meaningless
$plan_cmd >"$LOGS/plan.log" 2>&1 || die "plan failed (see $LOGS/plan.log)"
$status_cmd >"$LOGS/status.log" 2>&1 || die "status failed (see $LOGS/status.log)"
grep -q "^lint: 0 errors" "$LOGS/plan.log" || die "plan printed no lint summary (see $LOGS/plan.log)"
if [ -n "${PADCTL_BASE_BIN-}" ]; then
	"$PADCTL_BASE_BIN" -C "$P" plan base >"$LOGS/plan-base.log" 2>&1 || die "the base build's plan failed (see $LOGS/plan-base.log)"
fi
# plan keeps the checksums of down.sql and verify.sql in .padctl/sums once
# the files are 2 s old (docs/plan.md): time the steady state, where a
# project's files are older than that, not the first seconds of the set
for ((i = 0; i < 60; i++)); do
	[ "$(grep -c '\.sql$' "$P/.padctl/sums" 2>/dev/null)" = "$((2 * N))" ] && break
	sleep 0.5
	$plan_cmd >/dev/null 2>&1 || die "plan failed"
done
say "checksum cache: $(grep -c '\.sql$' "$P/.padctl/sums" 2>/dev/null || echo 0) of $((2 * N)) side files"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$HERE/../interleave.py" "$ROUNDS" "${cmds[@]}" | tee "$LOGS/interleave.txt"
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { awk -v n="$1" 'NR == n { for (i = 1; i <= NF; i++) if ($i == "median") print $(i + 1) }' "$LOGS/interleave.txt"; }
plan_ms=$(median 1)
status_ms=$(median 2)
new_body_ms=$(median 3)
base_ms=$(median 4)
# CPU time of one run (task-clock), less sensitive to a busy machine than wall time
cpu() {
	command -v perf >/dev/null || return 0
	# shellcheck disable=SC2086
	perf stat -r "$ROUNDS" -e task-clock -x, $1 2>&1 >/dev/null | awk -F, '/task-clock/ { printf "%.1f", $1 }'
}
plan_cpu=$(cpu "$plan_cmd")
status_cpu=$(cpu "$status_cmd")
base_cpu=
[ -z "${PADCTL_BASE_BIN-}" ] || base_cpu=$(cpu "$PADCTL_BASE_BIN -C $P plan base")
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
printf '\n| N | measure | plan | status | plan/status |'
[ -z "$base_ms" ] || printf ' plan before lint | lint added / status |'
printf '\n|---:|---|---:|---:|---:|'
[ -z "$base_ms" ] || printf -- '---:|---:|'
printf '\n| %s | wall median (ms) | %s | %s | %s |' "$N" "$plan_ms" "$status_ms" "$(ratio "$plan_ms" "$status_ms")"
[ -z "$base_ms" ] || printf ' %s | %s |' "$base_ms" "$(awk -v a="$plan_ms" -v b="$base_ms" -v s="$status_ms" 'BEGIN { printf "%.2fx", (a - b) / s }')"
printf '\n| %s | wall median (ms), each plan'"'"'s body new to the ledger | %s | %s | %s |' "$N" "$new_body_ms" "$status_ms" \
	"$(ratio "$new_body_ms" "$status_ms")"
[ -z "$base_ms" ] || printf ' | |'
if [ -n "$plan_cpu" ]; then
	printf '\n| %s | CPU (ms, task-clock) | %s | %s | %s |' "$N" "$plan_cpu" "$status_cpu" "$(ratio "$plan_cpu" "$status_cpu")"
	[ -z "$base_cpu" ] || printf ' %s | %s |' "$base_cpu" "$(awk -v a="$plan_cpu" -v b="$base_cpu" -v s="$status_cpu" 'BEGIN { printf "%.2fx", (a - b) / s }')"
fi
printf '\n\nReproduce: %sbench/lint/run.sh %s %s\n' "${PADCTL_BASE_BIN:+PADCTL_BASE_BIN=... }" "$N" "$ROUNDS"

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
# of the fastest runs, which a busy machine disturbs less. Wall time on a
# shared machine moves by 2x between runs, so it also measures CPU: padctl's
# (getrusage) and the server backend's (the postmaster's cutime + cstime
# grow by a backend's CPU time when it exits), and reports the guard's extra
# server CPU per migration, and that time added to the fastest deploy
# without the guard.
#
#   N        migrations (default 1000)
#   REPEATS  deploys per setting (default 3)
#
# Environment: PADCTL_BIN (default build-rel/padctl), BENCH_WORK (default
# bench/work/guard), PGBIN (see bench/lib.sh), BENCH_AUTOVACUUM (default
# off: see bench_cluster_start below). Like bench/migrate, the script
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
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers
[ -x "$PADCTL_BIN" ] || die "no padctl binary at $PADCTL_BIN (build it, or set PADCTL_BIN)"
command -v python3 >/dev/null || die "python3 not found"
bench_pgbin
bench_workdir
bench_stop_at_exit
# Autovacuum is off (BENCH_AUTOVACUUM=on leaves it on): each deploy creates
# 1,000 tables and 2,000 indexes, and a worker woken by that catalog churn
# runs during whichever deploy comes next, guard on or off, and is charged
# to it (the server CPU below is the whole cluster's).
bench_cluster_start max_connections=50 autovacuum=${BENCH_AUTOVACUUM:-off}
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
# children_cpu: CPU seconds of the server's exited children (backends are
# the postmaster's children: when one ends, its CPU time is added to the
# postmaster's cutime and cstime, fields 16 and 17 of /proc/PID/stat)
children_cpu() {
	local pid
	pid=$(head -n 1 "$PGBASE/data/postmaster.pid")
	python3 - "$pid" <<'PY'
import os, sys
f = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK"))
PY
}
deploy() { # SETTING ROUND: prints "wall client_cpu server_cpu" in seconds
	fresh_db
	rm -f "$W/$1/known_targets"
	local s0 s1
	s0=$(children_cpu)
	python3 - "$PADCTL_BIN" "$W/$1" "$LOGS/$1-$2.log" <<'PY' || die "deploy ($1, round $2) failed: see $LOGS/$1-$2.log"
import resource, subprocess, sys, time
t0 = time.monotonic()
with open(sys.argv[3], "w") as log:
    rc = subprocess.call([sys.argv[1], "-C", sys.argv[2], "deploy", "bench"], stdout=log, stderr=log)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[3] + ".times", "w").write(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f}\n")
sys.exit(rc)
PY
	# the backend has exited once padctl has; give the postmaster a moment to reap it
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ "$("$PSQL" -XAt -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'guard_bench'")" = 0 ] && break
		sleep 0.2
	done
	s1=$(children_cpu)
	[ "$("$PSQL" -XAt -d guard_bench -c "SELECT count(*) FROM padctl.migrations")" = "$N" ] || die "deploy ($1) applied fewer than $N"
	printf '%s %s\n' "$(cat "$LOGS/$1-$2.log.times")" "$(python3 -c "print(f'{$s1 - $s0:.3f}')")"
}
ON=() OFF=() ONC=() OFFC=() ONS=() OFFS=()
for ((r = 1; r <= REPEATS; r++)); do
	# the two take turns, and which goes first alternates: a slow phase of a
	# shared machine hits both alike
	if ((r % 2)); then
		read -r a b c <<<"$(deploy on "$r")"
		read -r d e f <<<"$(deploy off "$r")"
	else
		read -r d e f <<<"$(deploy off "$r")"
		read -r a b c <<<"$(deploy on "$r")"
	fi
	ON+=("$a") ONC+=("$b") ONS+=("$c") OFF+=("$d") OFFC+=("$e") OFFS+=("$f")
	say "round $r: guard on ${a} s (client CPU $b s, server CPU $c s), off ${d} s ($e s, $f s) (load average $(cut -d' ' -f1 /proc/loadavg))"
done
python3 - "${ON[*]}" "${OFF[*]}" "${ONS[*]}" "${OFFS[*]}" "${ONC[*]}" "${OFFC[*]}" "$N" <<'PY' | tee "$W/results.md"
import statistics, sys
on, off, ons, offs, onc, offc = ([float(x) for x in a.split()] for a in sys.argv[1:7])
n = int(sys.argv[7])
med = statistics.median
print("| guard | deploy median (s) | runs (s) | server CPU median (s) | padctl CPU median (s) | wall vs off |")
print("|---|---:|---|---:|---:|---:|")
for name, w, sc, cc in (("off (`migrations.guard: false`)", off, offs, offc), ("on (default)", on, ons, onc)):
    print(f"| {name} | {med(w):.3f} | {', '.join(f'{x:.3f}' for x in w)} | {med(sc):.3f} | {med(cc):.3f} | {med(w) / med(off):.2f}x |")
pairs = [a / b for a, b in zip(on, off)]
extra = med(ons) - med(offs)
print()
print(f"median of the {len(pairs)} per-round wall ratios (on / off): {statistics.median(pairs):.2f}x; "
      f"fastest on / fastest off: {min(on) / min(off):.2f}x")
print(f"the guard's server CPU: {1000 * extra / n:.3f} ms per migration ({extra:.3f} s for {n}); added to the "
      f"fastest deploy without it ({min(off):.3f} s): {(min(off) + extra) / min(off):.2f}x")
PY

#!/usr/bin/env bash
# bench/bigmigration/run.sh [SIZE_MB [RUNS]]
#
# One big data migration: an up.sql of SIZE_MB megabytes (10^6 bytes) of
# one-line INSERTs (about 3.4 million rows for 100 MB), deployed with padctl
# into a fresh database, and the same file run with `psql -1 -f` (one
# transaction, the floor) into another fresh database. Reports wall time
# (padctl against psql) and peak RSS (/usr/bin/time -v, "Maximum resident set
# size") of each, as a ratio to the file's size. The goals (issue 7): padctl
# within 1.5x of psql's time, and under 2x the file size in memory.
#
#   SIZE_MB  size of up.sql in MB (default 100; try 5 while developing)
#   RUNS     runs per tool (default 1); psql and padctl take turns
#
# Environment:
#   PADCTL_BIN   padctl binary (default build-rel/padctl of this checkout)
#   BENCH_WORK   scratch directory (default bench/work, gitignored)
#   PGBIN        PostgreSQL binaries (default: the newest
#                /usr/lib/postgresql/<major>/bin); psql is $PGBIN/psql
#   BENCH_KEEP   1: leave the cluster running at the end (says how to stop it)
#   BIG_TIMEOUT  seconds after which a run is stopped and reported as such
#                (default 3600)
#   BENCH_PGHOST, BENCH_PGPORT, BENCH_PGUSER
#                use this server instead of starting a throwaway cluster (the
#                user must be allowed to create databases; the script drops
#                and creates padctl_bigmig and psql_bigmig there, nothing else;
#                BENCH_PGPASSWORD if it needs a password)
#
# Without BENCH_PGPORT the script starts its own cluster on a free loopback
# port (as the `postgres` user when run as root), data on disk, fsync and
# synchronous_commit on, and stops it on exit. It kills nothing it did not
# start.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

SIZE_MB=${1:-100}
RUNS=${2:-1}
case $SIZE_MB$RUNS in
'' | *[!0-9]*)
	printf 'usage: %s [SIZE_MB [RUNS]]\n' "$PROG" >&2
	exit 2
	;;
esac
if [ "$SIZE_MB" -lt 1 ] || [ "$RUNS" -lt 1 ]; then
	printf '%s: SIZE_MB and RUNS must be at least 1\n' "$PROG" >&2
	exit 2
fi

PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work}
BIG_TIMEOUT=${BIG_TIMEOUT:-3600}
SUPERUSER=bench_runner

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers

[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
for t in python3 timeout; do
	command -v "$t" >/dev/null || die "\"$t\" not found"
done
[ -x "$PADCTL_BIN" ] || die "padctl binary \"$PADCTL_BIN\" not found (build it as bench/README.md says, or set PADCTL_BIN)"
bench_pgbin

bench_workdir bigmigration

bench_stop_at_exit

if [ -n "${BENCH_PGPORT-}" ]; then
	export PGHOST=${BENCH_PGHOST:-127.0.0.1} PGPORT=$BENCH_PGPORT PGUSER=${BENCH_PGUSER:-$USER} PGDATABASE=postgres
	unset PGPASSWORD PGSERVICE
	[ -z "${BENCH_PGPASSWORD-}" ] || export PGPASSWORD=$BENCH_PGPASSWORD
	PGVER=$("$PSQL" -XAtc 'SHOW server_version') || die "could not connect to $PGHOST:$PGPORT as $PGUSER"
	SUPERUSER=$PGUSER
	say "using the server at $PGHOST:$PGPORT (PostgreSQL $PGVER)"
else
	bench_cluster_start
	say "PostgreSQL $PGVER on 127.0.0.1:$PORT, data on disk in $PGBASE/data"
fi

# --- the migration ----------------------------------------------------------------

BYTES=$((SIZE_MB * 1000000))
P=$W/padctl
mkdir -p "$P/envs" "$P/pipelines" "$P/migrations/0001_data"
UP=$P/migrations/0001_data/up.sql
say "generating $SIZE_MB MB of one-line INSERTs in $UP"
# about 31 bytes a row, as a data dump of a narrow table; stops at the line that reaches the size
awk -v bytes="$BYTES" 'BEGIN {
	n = 0
	for (i = 1; n < bytes; i++) {
		line = sprintf("INSERT INTO t VALUES (%d);", i)
		print line
		n += length(line) + 1
	}
}' >"$UP"
FILE_BYTES=$(stat -c %s "$UP")
ROWS=$(wc -l <"$UP")
say "$ROWS rows, $FILE_BYTES bytes"

cat >"$P/padctl.yml" <<EOF
project: bigmig
schemas:
  owned: [public]
paths:
  migrations: migrations
EOF
cat >"$P/envs/big.yml" <<EOF
tier: nonprod
pipeline: big
targets:
  big:
    database:
      host: $PGHOST
      port: $PGPORT
      dbname: padctl_bigmig
      user: $PGUSER
      sslmode: disable
EOF
cat >"$P/pipelines/big.yml" <<EOF
steps: [migrate]
on_failure: stop
EOF

# fresh_db NAME: drop and recreate a database holding the empty table t.
fresh_db() {
	PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$1" \
		-c "CREATE TABLE public.t (id int)" >/dev/null
	"$PSQL" -X -q -c CHECKPOINT >/dev/null
}

# run TOOL LOG: the timed command, under /usr/bin/time -v and a time-out.
run() {
	local db=$1_bigmig
	case $1 in
	psql) /usr/bin/time -v -o "$2.time" timeout "$BIG_TIMEOUT" \
		"$PSQL" -X -q -v ON_ERROR_STOP=1 -1 -d "$db" -f "$UP" >"$2" 2>&1 ;;
	padctl) /usr/bin/time -v -o "$2.time" timeout "$BIG_TIMEOUT" \
		"$PADCTL_BIN" -C "$P" deploy big >"$2" 2>&1 ;;
	esac
}

rss_kb() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }

declare -A WALL=() RSS=() FAILED=()
for ((r = 1; r <= RUNS; r++)); do
	for t in psql padctl; do
		[ -z "${FAILED[$t]-}" ] || continue
		fresh_db "${t}_bigmig"
		log=$LOGS/$t-$r.log
		t0=$(date +%s.%N)
		if run "$t" "$log"; then rc=0; else rc=$?; fi
		t1=$(date +%s.%N)
		got=$("$PSQL" -XAt -d "${t}_bigmig" -c 'SELECT count(*) FROM public.t' 2>/dev/null) || got=?
		if [ "$rc" -ne 0 ] || [ "$got" != "$ROWS" ]; then
			[ "$rc" -ne 124 ] || say "$t run $r stopped after BIG_TIMEOUT=$BIG_TIMEOUT s"
			say "$t run $r FAILED (exit $rc, $got of $ROWS rows); last lines of $log:"
			tail -n 15 "$log" | sed 's/^/    /' >&2
			FAILED[$t]="exit $rc, $got of $ROWS rows (log $log)"
			continue
		fi
		dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		kb=$(rss_kb "$log.time")
		WALL[$t]="${WALL[$t]-} $dt"
		RSS[$t]="${RSS[$t]-} $kb"
		say "$t run $r/$RUNS: $dt s, peak RSS $((kb / 1024)) MiB"
	done
done

# --- report --------------------------------------------------------------------------

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
floor=$(printf '%s' "${WALL[psql]-}" | median || true)
{
	printf '\nup.sql: %s bytes, %s one-line INSERTs; %s run(s) per tool; PostgreSQL %s (fsync on); %s cores (%s); %s\n\n' \
		"$FILE_BYTES" "$ROWS" "$RUNS" "$PGVER" "$(nproc)" \
		"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(date -u +%Y-%m-%d)"
	printf '| tool | wall median (s) | runs (s) | vs psql -1 -f | peak RSS median (MiB) | RSS / file size |\n'
	printf '|---|---:|---|---:|---:|---:|\n'
	for t in psql padctl; do
		label=$t
		[ "$t" != psql ] || label='psql -1 -f (floor)'
		med=$(printf '%s' "${WALL[$t]-}" | median || true)
		if [ -z "$med" ]; then
			printf '| %s | failed | %s | | | |\n' "$label" "${FAILED[$t]:-no run}"
			continue
		fi
		kb=$(printf '%s' "${RSS[$t]}" | median)
		ratio=
		[ -z "$floor" ] || ratio=$(awk -v a="$med" -v b="$floor" 'BEGIN { printf "%.2fx", a / b }')
		printf '| %s | %s | %s | %s | %.0f | %.2fx |\n' "$label" "$med" "$(printf '%s' "${WALL[$t]}" | sed 's/^ //; s/ /, /g')" \
			"$ratio" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')" "$(awk -v k="$kb" -v b="$FILE_BYTES" 'BEGIN { print k * 1024 / b }')"
	done
	printf '\nGoals: padctl within 1.50x of psql -1 -f, peak RSS under 2.00x the file size.\n'
	printf 'Reproduce: bench/bigmigration/run.sh %s %s   (logs and /usr/bin/time -v output in %s)\n' \
		"$SIZE_MB" "$RUNS" "${LOGS#"$ROOT"/}"
} | tee "$W/results.md"

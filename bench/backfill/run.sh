#!/usr/bin/env bash
# bench/backfill/run.sh [N [N_SMALL]]
#
# The reference backfill (db/backfills/personal_account_dealing.yml) over N
# generated legacy rows (bench/backfill/generate.sql: deterministic, with the
# mapping's variety), in one run, each on a fresh database of one throwaway
# cluster:
#
#   set-based   the whole mapping as ONE statement (the batch SQL with the
#               batch filter taken out), psql -1: the fastest possible, but
#               neither batched, resumable, idempotent nor failure-isolating
#   padctl      `padctl backfill` (batches of the file's batch_size), the
#               same rows
#   padctl-1%   the same with 1% bad rows (half of them a missing employee,
#               half a trade size of 0), which padctl isolates and records
#   padctl-small  N_SMALL rows, for the memory check (max RSS at two sizes)
#
# It prints rows per second of each, padctl's rate as a ratio to the
# set-based rate (goal: at least 0.9x), and padctl's maximum resident set
# size at N and at N_SMALL (goal: the same, memory flat in the number of
# rows). Results also go to bench/work/backfill/results.md.
#
#   N        legacy rows (default 1000000; try 20000 while developing)
#   N_SMALL  rows of the memory comparison (default N/10)
#
# Environment: PADCTL_BIN (default build-rel/padctl), BENCH_WORK (default
# bench/work), PGBIN, BENCH_BATCH (padctl's --batch; default the file's
# batch_size), BENCH_KEEP=1 (leave the cluster running). The cluster
# is started as bench/lib.sh says (data on disk, fsync on) and stopped on exit.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

N=${1:-1000000}
N_SMALL=${2:-$((N / 10))}
case $N$N_SMALL in
'' | *[!0-9]*)
	printf 'usage: %s [N [N_SMALL]]\n' "$PROG" >&2
	exit 2
	;;
esac
[ "$N_SMALL" -ge 1 ] || N_SMALL=1

PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work}
SUPERUSER=bench_runner

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -x "$PADCTL_BIN" ] || die "padctl binary \"$PADCTL_BIN\" not found (build it as bench/README.md says, or set PADCTL_BIN)"
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
bench_pgbin

mkdir -p "$W"
W=$(cd "$W" && pwd)/backfill
LOGS=$W/logs
rm -rf -- "$W"
mkdir -p "$LOGS"
trap bench_cluster_stop EXIT
# BENCH_PG_SETTINGS: extra server settings (e.g. "log_min_duration_statement=0") for profiling
# shellcheck disable=SC2086
bench_cluster_start ${BENCH_PG_SETTINGS-}
say "PostgreSQL $PGVER on port $PORT; N=$N, N_SMALL=$N_SMALL"

now() { date +%s.%N; }

# project DB: a project (the repository's migrations and backfill) on database DB, deployed
project() {
	local db=$1 dir=$W/$1
	mkdir -p "$dir/envs" "$dir/pipelines" "$dir/backfills"
	cp -r "$ROOT/db/migrations" "$dir/migrations"
	cp "$ROOT/db/backfills/personal_account_dealing.yml" "$dir/backfills/"
	printf 'project: bench\nschemas:\n  owned: [padealing]\n  protected: [bo_airflow]\n' >"$dir/padctl.yml"
	printf 'steps:\n  - migrate\non_failure: stop\n' >"$dir/pipelines/standard.yml"
	printf 'tier: nonprod\ntargets:\n  t1:\n    database:\n      host: 127.0.0.1\n      port: %s\n      dbname: %s\n      user: %s\n' \
		"$PORT" "$db" "$SUPERUSER" >"$dir/envs/bench.yml"
	"$PSQL" -XqAt -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null
	local f
	for f in bo_airflow legacy_personal_account_dealing; do
		"$PSQL" -XqAt -v ON_ERROR_STOP=1 -d "$db" -f "$ROOT/db/fixtures/$f.sql" >/dev/null
	done
	"$PSQL" -XqAt -v ON_ERROR_STOP=1 -d "$db" -c "DELETE FROM backoffice.personal_account_dealing" >/dev/null
	"$PADCTL_BIN" -q -C "$dir" deploy bench >"$LOGS/$db-deploy.log" 2>&1 || die "deploy of $db failed (see $LOGS/$db-deploy.log)"
}

generate() { # DB N BAD_EVERY
	"$PSQL" -XqAt -v ON_ERROR_STOP=1 -d "$1" -v first=1 -v last="$2" -v bad_every="$3" \
		-f "$HERE/generate.sql" >/dev/null
	"$PSQL" -XqAt -v ON_ERROR_STOP=1 -d "$1" -c "VACUUM ANALYZE backoffice.personal_account_dealing" >/dev/null
}

# the set-based statement: the file's batch SQL for every row at once, counting instead of returning
python3 - "$ROOT/db/backfills/personal_account_dealing.yml" >"$W/setbased.sql" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
start = lines.index("sql: |") + 1
body = "\n".join(l[2:] for l in lines[start:] if l.startswith("  ") or not l.strip())
body = re.sub(r"\n\s*WHERE p\.id = ANY \(\$1::bigint\[\]\)\n", "\n", body)
assert "$1" not in body, "the batch filter was not found"
cut = body.index("SELECT id AS source_id")
print(body[:cut] + "SELECT (SELECT count(*) FROM req) AS requests, (SELECT count(*) FROM appr) AS approvals,\n"
      "       (SELECT count(*) FROM exe) AS executions, (SELECT count(*) FROM aud) AS audit;")
PY

say "preparing the databases"
for db in setbased padctl padctl_bad padctl_small; do
	project "$db"
done
generate setbased "$N" 0
generate padctl "$N" 0
generate padctl_bad "$N" 100
generate padctl_small "$N_SMALL" 0
"$PSQL" -XqAt -d postgres -c CHECKPOINT >/dev/null

rate() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
maxrss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

say "set-based: one statement"
t0=$(now)
"$PSQL" -XAt -v ON_ERROR_STOP=1 -1 -d setbased -f "$W/setbased.sql" >"$LOGS/setbased.out" 2>&1 ||
	die "the set-based statement failed (see $LOGS/setbased.out)"
t1=$(now)
set_secs=$(python3 -c "print($t1 - $t0)")
set_rate=$(rate "$N" "$set_secs")
"$PSQL" -XqAt -d postgres -c CHECKPOINT >/dev/null

run_padctl() { # DB -> secs
	local t0 t1
	t0=$(now)
	/usr/bin/time -v "$PADCTL_BIN" -C "$W/$1" backfill bench personal_account_dealing ${BENCH_BATCH:+--batch "$BENCH_BATCH"} \
		>"$LOGS/$1.out" 2>"$LOGS/$1.err" || die "padctl backfill on $1 failed (see $LOGS/$1.err)"
	t1=$(now)
	"$PSQL" -XqAt -d postgres -c CHECKPOINT >/dev/null
	python3 -c "print($t1 - $t0)"
}

say "padctl backfill"
pad_secs=$(run_padctl padctl)
pad_rate=$(rate "$N" "$pad_secs")
say "padctl backfill, 1% bad rows"
bad_secs=$(run_padctl padctl_bad)
bad_rate=$(rate "$N" "$bad_secs")
say "padctl backfill, $N_SMALL rows"
small_secs=$(run_padctl padctl_small)
small_rate=$(rate "$N_SMALL" "$small_secs")

check() { "$PSQL" -XqAt -d "$1" -c "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padealing.audit_log), (SELECT count(*) FROM padctl.backfill_failures)" 2>/dev/null || echo "-"; }
set_rows=$("$PSQL" -XqAt -d setbased -c "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padealing.audit_log), 0")
[ "$set_rows" = "$(check padctl)" ] || die "set-based and padctl wrote different rows: $set_rows against $(check padctl)"

ratio=$(python3 -c "print('%.2f' % ($pad_rate / $set_rate))")
bad_ratio=$(python3 -c "print('%.2f' % ($bad_rate / $set_rate))")
{
	printf '| run | rows | seconds | rows/s | vs set-based | padctl max RSS |\n|---|---:|---:|---:|---:|---:|\n'
	printf '| set-based (one statement, psql -1) | %s | %.2f | %s | 1.00x | |\n' "$N" "$set_secs" "$set_rate"
	printf '| padctl backfill | %s | %.2f | %s | %sx | %s KiB |\n' "$N" "$pad_secs" "$pad_rate" "$ratio" "$(maxrss "$LOGS/padctl.err")"
	printf '| padctl backfill, 1%% bad rows | %s | %.2f | %s | %sx | %s KiB |\n' "$N" "$bad_secs" "$bad_rate" "$bad_ratio" "$(maxrss "$LOGS/padctl_bad.err")"
	printf '| padctl backfill (memory check) | %s | %.2f | %s | | %s KiB |\n' "$N_SMALL" "$small_secs" "$small_rate" "$(maxrss "$LOGS/padctl_small.err")"
	printf '\nrows written (pad_request, audit_log, failures): set-based %s; padctl %s; padctl 1%% bad %s\n' \
		"$set_rows" "$(check padctl)" "$(check padctl_bad)"
} | tee "$W/results.md"

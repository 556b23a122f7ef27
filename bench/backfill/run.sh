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
# batch_size), BENCH_ROUNDS (default 3: rounds of the three runs, in turning
# order, each ratio against the set-based run of its round; medians
# reported), BENCH_AUTOVACUUM (default off, see below), BENCH_KEEP=1 (leave
# the cluster running). Server CPU: the cluster's CPU seconds during a run
# (steadier than wall time on a shared machine); WAL: the write-ahead log it
# wrote (pg_current_wal_lsn() before and after). The cluster is started as
# bench/lib.sh says (data on disk, fsync on) and stopped on exit.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

N=${1:-1000000}
N_SMALL=${2:-$((N / 10))}
ROUNDS=${BENCH_ROUNDS:-3}
case $N$N_SMALL$ROUNDS in
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

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers

[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -x "$PADCTL_BIN" ] || die "padctl binary \"$PADCTL_BIN\" not found (build it as bench/README.md says, or set PADCTL_BIN)"
bench_pgbin

bench_workdir backfill
bench_stop_at_exit
# BENCH_PG_SETTINGS: extra server settings (e.g. "log_min_duration_statement=0") for profiling.
# Autovacuum is off (BENCH_AUTOVACUUM=on leaves it on): both sides insert the
# same rows, but a worker woken by one run's inserts (padctl commits 200
# times at 1M rows, the set-based statement once, at its end) otherwise runs
# during the next run and is charged to it; each database is vacuumed and
# analysed between runs instead, outside the timings.
# shellcheck disable=SC2086
bench_cluster_start autovacuum=${BENCH_AUTOVACUUM:-off} ${BENCH_PG_SETTINGS-}
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

maxrss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
# server_cpu: CPU seconds the cluster has used so far: the postmaster's own
# and its exited children's (a backend's time is added to it when it ends),
# and its live children's (walwriter, checkpointer, ...)
server_cpu() {
	python3 - "$PGBASE/data/postmaster.pid" <<'PY'
import os, sys
tck = os.sysconf("SC_CLK_TCK")
pm = int(open(sys.argv[1]).readline())
def stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()
f = stat(pm)
total = sum(int(x) for x in f[11:15])  # utime stime cutime cstime
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            g = stat(int(d))
        except OSError:
            continue
        if int(g[1]) == pm:
            total += int(g[11]) + int(g[12])
print("%.2f" % (total / tck))
PY
}
# reset DB: the target tables and the backfill's records emptied, for the next round
reset() {
	"$PSQL" -XqAt -v ON_ERROR_STOP=1 -d "$1" -c "SET client_min_messages = warning;
		TRUNCATE padealing.audit_log, padealing.pad_execution, padealing.pad_approval, padealing.pad_request CASCADE;
		TRUNCATE padctl.backfill_mapping, padctl.backfill_failures" -c "VACUUM ANALYZE" >/dev/null
	"$PSQL" -XqAt -d postgres -c CHECKPOINT >/dev/null
}
# wal_bytes: the cluster's write-ahead log position, in bytes
wal_bytes() { "$PSQL" -XqAt -d postgres -c "SELECT pg_current_wal_lsn() - '0/0'"; }
# timed LABEL CMD...: run CMD; append "LABEL wall_seconds server_cpu_seconds wal_bytes" to $W/times
timed() {
	local label=$1 t0 t1 c0 c1 w0 w1
	shift
	w0=$(wal_bytes)
	c0=$(server_cpu)
	t0=$(now)
	"$@"
	t1=$(now)
	c1=$(server_cpu)
	w1=$(wal_bytes)
	printf '%s %s %s %s\n' "$label" "$(python3 -c "print($t1 - $t0)")" "$(python3 -c "print($c1 - $c0)")" \
		"$(python3 -c "print($w1 - $w0)")" >>"$W/times"
	"$PSQL" -XqAt -d postgres -c CHECKPOINT >/dev/null
}
run_setbased() {
	"$PSQL" -XAt -v ON_ERROR_STOP=1 -1 -d setbased -f "$W/setbased.sql" >"$LOGS/setbased.out" 2>&1 ||
		die "the set-based statement failed (see $LOGS/setbased.out)"
}
run_padctl() { # DB
	/usr/bin/time -v "$PADCTL_BIN" -C "$W/$1" backfill bench personal_account_dealing ${BENCH_BATCH:+--batch "$BENCH_BATCH"} \
		>"$LOGS/$1.out" 2>"$LOGS/$1.err" || die "padctl backfill on $1 failed (see $LOGS/$1.err)"
	cp "$LOGS/$1.err" "$LOGS/$1.err.$ROUND"
}
check() { "$PSQL" -XqAt -d "$1" -c "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padealing.audit_log), (SELECT count(*) FROM padctl.backfill_failures)" 2>/dev/null || echo "-"; }

: >"$W/times"
uptime >"$W/load"
for ROUND in $(seq 1 "$ROUNDS"); do
	if [ "$ROUND" -gt 1 ]; then
		for db in setbased padctl padctl_bad; do reset "$db"; done
	fi
	# the order turns each round, so that no run always follows the same one
	case $((ROUND % 3)) in
	1) order="setbased padctl padctl_bad" ;;
	2) order="padctl padctl_bad setbased" ;;
	0) order="padctl_bad setbased padctl" ;;
	esac
	for what in $order; do
		say "round $ROUND of $ROUNDS: $what"
		case $what in
		setbased) timed "$ROUND setbased" run_setbased ;;
		*) timed "$ROUND $what" run_padctl "$what" ;;
		esac
	done
	set_rows=$("$PSQL" -XqAt -d setbased -c "SELECT (SELECT count(*) FROM padealing.pad_request), (SELECT count(*) FROM padealing.audit_log), 0")
	[ "$set_rows" = "$(check padctl)" ] || die "set-based and padctl wrote different rows: $set_rows against $(check padctl)"
	uptime >>"$W/load"
done
say "padctl backfill, $N_SMALL rows (memory check)"
ROUND=small
timed "1 padctl_small" run_padctl padctl_small

python3 - "$W/times" "$N" "$N_SMALL" "$(maxrss "$LOGS/padctl.err")" "$(maxrss "$LOGS/padctl_bad.err")" \
	"$(maxrss "$LOGS/padctl_small.err")" <<'PY' | tee "$W/results.md"
import statistics, sys
times, n, n_small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rss = {"padctl": sys.argv[4], "padctl_bad": sys.argv[5], "padctl_small": sys.argv[6]}
t = {}
for line in open(times):
    r, what, wall, cpu, wal = line.split()
    t.setdefault(what, {})[r] = (float(wall), float(cpu), float(wal))
rounds = sorted(t["setbased"], key=int)
def rate(what, r, i):
    return (n_small if what == "padctl_small" else n) / t[what][r][i]
print("N = %d legacy rows, %d rounds (each ratio against the set-based statement of the same round)\n" % (n, len(rounds)))
print("| run | " + " | ".join("round %s" % r for r in rounds) + " | median |")
print("|---|" + "---:|" * (len(rounds) + 1))
def row(label, f):
    vals = [f(r) for r in rounds]
    print("| %s | %s | **%s** |" % (label, " | ".join(fmt(v) for v in vals), fmt(statistics.median(vals))))
fmt = lambda v: "%.0f" % v
row("set-based: rows/s (wall)", lambda r: rate("setbased", r, 0))
row("padctl: rows/s (wall)", lambda r: rate("padctl", r, 0))
row("padctl, 1% bad rows: rows/s (wall)", lambda r: rate("padctl_bad", r, 0))
fmt = lambda v: "%.2fx" % v
row("padctl / set-based (wall)", lambda r: rate("padctl", r, 0) / rate("setbased", r, 0))
row("padctl, 1% bad / set-based (wall)", lambda r: rate("padctl_bad", r, 0) / rate("setbased", r, 0))
row("padctl / set-based (server CPU)", lambda r: t["setbased"][r][1] / t["padctl"][r][1])
row("padctl, 1% bad / set-based (server CPU)", lambda r: t["setbased"][r][1] / t["padctl_bad"][r][1])
fmt = lambda v: "%.1f" % v
row("set-based: seconds (wall)", lambda r: t["setbased"][r][0])
row("padctl: seconds (wall)", lambda r: t["padctl"][r][0])
row("padctl, 1% bad: seconds (wall)", lambda r: t["padctl_bad"][r][0])
row("set-based: WAL, MB", lambda r: t["setbased"][r][2] / 1e6)
row("padctl: WAL, MB", lambda r: t["padctl"][r][2] / 1e6)
print("\npadctl max RSS: %s KiB at %d rows (1%% bad: %s KiB), %s KiB at %d rows (memory check, %.0f rows/s)"
      % (rss["padctl"], n, rss["padctl_bad"], rss["padctl_small"], n_small, rate("padctl_small", "1", 0)))
PY
printf '\nrows written (pad_request, audit_log, failures): set-based %s; padctl %s; padctl 1%% bad %s\nload (uptime) before and after each round:\n' \
	"$set_rows" "$(check padctl)" "$(check padctl_bad)" | tee -a "$W/results.md"
sed 's/^/    /' "$W/load" | tee -a "$W/results.md"

#!/usr/bin/env bash
# bench/backup/run.sh [SIZE_MB [ROUNDS]]
#
# The backup half of issue 9's benchmark: an owned schema of about SIZE_MB
# megabytes (10^6 bytes of tables and indexes: employees, PA-dealing
# requests with three indexes, an audit log with JSON details), then, taking
# turns ROUNDS times, plain `pg_dump -Fc -n app -f FILE` (the floor) against
# padctl's backup step (`padctl deploy` of a pipeline whose only step is
# `backup: {always: true}`: connect, lock, ledger, the pg_dump of the
# server's version into the backup file hashed as it is written, pg_restore
# --list, the record, retention). Reports the median wall time of each and
# the ratio; the goal is padctl within 1.05x of plain pg_dump. Then a deploy
# with nothing to change (the reference pipeline's plain `backup` step) must
# take no backup: the script checks that and reports its time.
#
#   SIZE_MB  size of the owned schema (default 500; try 20 while developing)
#   ROUNDS   timed rounds, each one plain pg_dump and one padctl backup, in
#            turns after one untimed run of each (default 3)
#
# Environment:
#   PADCTL_BIN   padctl binary (default build-rel/padctl of this checkout; its
#                plugins/ directory must hold backup.so)
#   BENCH_WORK   scratch directory (default bench/work, gitignored)
#   PGBIN        PostgreSQL binaries (default: the newest
#                /usr/lib/postgresql/<major>/bin)
#   BENCH_KEEP   1: leave the cluster running at the end (says how to stop it)
#
# The script starts its own cluster on a free loopback port (as the
# `postgres` user when run as root), data on disk, fsync on, and stops it on
# exit. It kills nothing it did not start.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

SIZE_MB=${1:-500}
ROUNDS=${2:-3}
case $SIZE_MB$ROUNDS in
'' | *[!0-9]*)
	printf 'usage: %s [SIZE_MB [ROUNDS]]\n' "$PROG" >&2
	exit 2
	;;
esac
if [ "$SIZE_MB" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then
	printf '%s: SIZE_MB and ROUNDS must be at least 1\n' "$PROG" >&2
	exit 2
fi

PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work}
SUPERUSER=bench_runner

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers

command -v python3 >/dev/null || die "python3 not found"
[ -x "$PADCTL_BIN" ] || die "padctl binary \"$PADCTL_BIN\" not found (build it as bench/README.md says, or set PADCTL_BIN)"
[ -f "$(dirname "$PADCTL_BIN")/plugins/backup.so" ] ||
	die "no plugins/backup.so next to $PADCTL_BIN (build the plugin_backup target)"
bench_pgbin

bench_workdir backup

bench_stop_at_exit

bench_cluster_start
say "PostgreSQL $PGVER on 127.0.0.1:$PORT, data on disk in $PGBASE/data"
DB=bench_backup
"$PSQL" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null

# --- the owned schema -------------------------------------------------------------

say "generating an owned schema of about $SIZE_MB MB"
bench_backup_schema "$DB" "$SIZE_MB"
say "owned schema: $SCHEMA_BYTES bytes ($ROWS requests, $((2 * ROWS)) audit rows, indexes included)"

# --- the project ------------------------------------------------------------------

P=$W/project
mkdir -p "$P/envs" "$P/pipelines" "$P/migrations/0001_noop"
printf 'SELECT 1;\n' >"$P/migrations/0001_noop/up.sql"
cat >"$P/padctl.yml" <<EOF
project: bench
schemas:
  owned: [app]
  protected: [ref]
backups:
  keep: 1
EOF
cat >"$P/envs/bench.yml" <<EOF
tier: nonprod
pipeline: backup
targets:
  t1:
    database:
      host: 127.0.0.1
      port: $PORT
      dbname: $DB
      user: $SUPERUSER
      sslmode: disable
EOF
printf 'steps:\n  - backup: {always: true}\non_failure: stop\n' >"$P/pipelines/backup.yml"
printf 'steps:\n  - backup\n  - migrate\non_failure: stop\n' >"$P/pipelines/standard.yml"
# apply the one migration first (and pin the target), so later deploys have nothing to change
"$PADCTL_BIN" -C "$P" deploy bench >"$LOGS/first.log" 2>&1 ||
	die "the first padctl deploy failed (see $LOGS/first.log)"
sed -i 's/^pipeline: backup$/pipeline: standard/' "$P/envs/bench.yml"
"$PADCTL_BIN" -C "$P" deploy bench >>"$LOGS/first.log" 2>&1 || die "padctl deploy failed (see $LOGS/first.log)"
sed -i 's/^pipeline: standard$/pipeline: backup/' "$P/envs/bench.yml"

# --- side by side -----------------------------------------------------------------

PLAIN=$W/plain.dump
say "timing: plain pg_dump against padctl's backup step, $ROUNDS rounds in turns (after one untimed run each)"
python3 - "$ROUNDS" "$W/times.txt" \
	"$PGBIN/pg_dump -Fc -n app -f $PLAIN $DB" \
	"$PADCTL_BIN -q -C $P deploy bench" <<'PY'
import shlex, statistics, subprocess, sys, time, os, resource
rounds, out = int(sys.argv[1]), sys.argv[2]
cmds = [shlex.split(c) for c in sys.argv[3:]]
plain = cmds[0][cmds[0].index("-f") + 1]
def run(c):
    if c is cmds[0] and os.path.exists(plain):
        os.unlink(plain)
    u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        sys.exit("failed: %s\n%s" % (" ".join(c), r.stderr.decode(errors="replace")))
    # the client side's CPU (the tool and, for padctl, the pg_dump it ran): what load does not blur
    return t, (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
for c in cmds:
    run(c)
times = [[] for _ in cmds]
cpus = [[] for _ in cmds]
for _ in range(rounds):
    for c, t, u in zip(cmds, times, cpus):
        w, cpu = run(c)
        t.append(w)
        u.append(cpu)
with open(out, "w") as f:
    for c, t, u in zip(cmds, times, cpus):
        f.write("%.3f %.3f %.3f %s\n" % (statistics.median(t), min(t), statistics.median(u),
                                         " ".join("%.3f" % x for x in t)))
PY
read -r PLAIN_MED PLAIN_MIN PLAIN_CPU PLAIN_ALL < <(sed -n 1p "$W/times.txt")
read -r PADCTL_MED PADCTL_MIN PADCTL_CPU PADCTL_ALL < <(sed -n 2p "$W/times.txt")
RUN=$("$PSQL" -XAtq -d "$DB" -c "SELECT run_id FROM padctl.backups WHERE pruned_at IS NULL ORDER BY started_at DESC LIMIT 1")
OURS=$P/.padctl/backups/bench/t1/$RUN.dump
[ -f "$OURS" ] || die "padctl's backup $OURS is not there"
PLAIN_SIZE=$(stat -c %s "$PLAIN")
OURS_SIZE=$(stat -c %s "$OURS")
PLAIN_TOC=$("$PGBIN/pg_restore" --list "$PLAIN" | grep -vc '^;')
OURS_TOC=$("$PGBIN/pg_restore" --list "$OURS" | grep -vc '^;')
[ "$PLAIN_TOC" = "$OURS_TOC" ] || die "the dumps differ: $PLAIN_TOC entries in pg_dump's, $OURS_TOC in padctl's"

# --- nothing to change: no backup -------------------------------------------------

sed -i 's/^pipeline: backup$/pipeline: standard/' "$P/envs/bench.yml"
BEFORE=$("$PSQL" -XAtq -d "$DB" -c "SELECT count(*) FROM padctl.backups")
T0=$(date +%s.%N)
"$PADCTL_BIN" -C "$P" deploy bench >"$LOGS/nothing.log" 2>&1 || die "the deploy with nothing to change failed (see $LOGS/nothing.log)"
T1=$(date +%s.%N)
AFTER=$("$PSQL" -XAtq -d "$DB" -c "SELECT count(*) FROM padctl.backups")
grep -q 'no backup taken' "$LOGS/nothing.log" || die "the deploy with nothing to change did not say it took no backup"
[ "$BEFORE" = "$AFTER" ] || die "the deploy with nothing to change recorded a backup ($BEFORE before, $AFTER after)"
NOTHING_MS=$(python3 -c "print('%.0f' % ((float('$T1') - float('$T0')) * 1000))")

RATIO=$(python3 -c "print('%.3f' % (float('$PADCTL_MED') / float('$PLAIN_MED')))")
RATIO_MIN=$(python3 -c "print('%.3f' % (float('$PADCTL_MIN') / float('$PLAIN_MIN')))")
RATIO_CPU=$(python3 -c "print('%.3f' % (float('$PADCTL_CPU') / float('$PLAIN_CPU')))")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
{
	printf '| measurement | plain pg_dump -Fc -n app | padctl backup step | padctl / plain |\n'
	printf '|---|---:|---:|---:|\n'
	printf '| median of %s rounds | %.2f s | %.2f s | **%.3fx** |\n' "$ROUNDS" "$PLAIN_MED" "$PADCTL_MED" "$RATIO"
	printf '| fastest round | %.2f s | %.2f s | %.3fx |\n' "$PLAIN_MIN" "$PADCTL_MIN" "$RATIO_MIN"
	printf '| client CPU (user+sys, median) | %.2f s | %.2f s | %.3fx |\n' "$PLAIN_CPU" "$PADCTL_CPU" "$RATIO_CPU"
	printf '| dump size | %s bytes | %s bytes | |\n' "$PLAIN_SIZE" "$OURS_SIZE"
	printf '\nOwned schema %s bytes (%s requests, %s audit rows, indexes included), PostgreSQL %s, load average %s.\n' \
		"$SCHEMA_BYTES" "$ROWS" "$((2 * ROWS))" "$PGVER" "$LOAD"
	printf 'All rounds (s): plain %s; padctl %s.\n' "$PLAIN_ALL" "$PADCTL_ALL"
	printf 'Nothing to change: `padctl deploy` with `backup` + `migrate` took %s ms and recorded no backup (%s before, %s after).\n' \
		"$NOTHING_MS" "$BEFORE" "$AFTER"
} | tee "$W/results.md"

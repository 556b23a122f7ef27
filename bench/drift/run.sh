#!/usr/bin/env bash
# bench/drift/run.sh [N [ROUNDS]]
#
# Drift check on a cached scratch against `padctl status`, on the same
# project: N small migrations (a table and an index each, the SQL of
# bench/migrate's generator) deployed to a fresh database, a scratch server
# (the same throwaway cluster) configured with `drift: {scratch: ...}`, one
# untimed `status --drift` to replay the history once (its time is reported),
# then, taking turns ROUNDS times (bench/interleave.py): `padctl status`,
# `padctl status --drift` and `padctl validate` (its preflight: privileges
# and drift) on the idle target, which answer with the fingerprint kept with
# the server's quiet key; then a transaction that takes an id (psql, `SELECT
# txid_current()` in another database: any write on the server changes the
# key) and `padctl status --drift` again, which counts the catalog's rows
# and finds them as they were, as on a busy server; then a change to a
# catalog row outside the owned schema (`ALTER TABLE public.churn ALTER
# COLUMN id SET STATISTICS 100`, which writes a pg_attribute row) and
# `padctl status --drift` again, which must compute the fingerprint, as
# after DDL anywhere in the database (a second interleaved run, with its own
# `padctl status`). Prints a Markdown table of medians and ratios against
# status.
#
#   N        migrations (default 1000)
#   ROUNDS   interleaved rounds (default 50)
#
# Environment: PADCTL_BIN (default build-rel/padctl of this checkout),
# BENCH_WORK (default bench/work), BENCH_KEEP=1 (leave the cluster up), PGBIN.
#
# The script starts its own PostgreSQL cluster on a free loopback port (as the
# `postgres` user when run as root), data on disk, fsync on, and stops it on
# exit; it kills nothing it did not start.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

N=${1:-1000}
ROUNDS=${2:-50}
case $N$ROUNDS in
'' | *[!0-9]*)
	printf 'usage: %s [N [ROUNDS]]\n' "$PROG" >&2
	exit 2
	;;
esac
if [ "$N" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then
	printf '%s: N and ROUNDS must be at least 1\n' "$PROG" >&2
	exit 2
fi

PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work}
SUPERUSER=bench_runner

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers

command -v python3 >/dev/null || die "\"python3\" not found"
[ -x "$PADCTL_BIN" ] || die "padctl binary \"$PADCTL_BIN\" not found (build it, or set PADCTL_BIN)"
bench_pgbin

bench_workdir "" logs-drift

bench_stop_at_exit

bench_cluster_start max_connections=50
say "PostgreSQL $PGVER on 127.0.0.1:$PORT, data on disk in $PGBASE/data"

# --- the project: bench/migrate's migrations, drift on the same cluster ---------

P=$W/drift-project
rm -rf -- "$P"
mkdir -p "$P/envs" "$P/pipelines" "$P/migrations"
cat >"$P/padctl.yml" <<EOF
project: bench
schemas:
  owned: [bench]
drift:
  scratch:
    host: 127.0.0.1
    port: $PORT
    user: $SUPERUSER
    sslmode: disable
EOF
cat >"$P/envs/bench.yml" <<EOF
tier: nonprod
pipeline: bench
targets:
  bench:
    database:
      host: 127.0.0.1
      port: $PORT
      dbname: padctl_bench
      user: $SUPERUSER
      sslmode: disable
EOF
cat >"$P/pipelines/bench.yml" <<EOF
steps:
  - validate: preflight
  - migrate
on_failure: stop
EOF
WIDTH=4
[ "$N" -lt 10000 ] || WIDTH=${#N}
say "generating $N migrations under $P"
for ((i = 1; i <= N; i++)); do
	v=$(printf "%0${WIDTH}d" "$i")
	mkdir "$P/migrations/${v}_t$v"
	printf 'CREATE TABLE bench.t%s (id bigint primary key, v text);\nCREATE INDEX t%s_v ON bench.t%s (v);\n' \
		"$v" "$v" "$v" >"$P/migrations/${v}_t$v/up.sql"
done
mkdir "$P/migrations/0000_schema"
printf 'CREATE SCHEMA bench;\n' >"$P/migrations/0000_schema/up.sql"

"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE padctl_bench" >/dev/null
"$PADCTL_BIN" -C "$P" deploy bench >"$LOGS/deploy.log" 2>&1 || die "deploy failed (see $LOGS/deploy.log)"
say "deployed $N migrations"

# the first drift check replays the history: untimed in the comparison, reported
t0=$(date +%s.%N)
"$PADCTL_BIN" -C "$P" status bench --drift >"$LOGS/replay.out" 2>"$LOGS/replay.err" ||
	die "the first status --drift failed (see $LOGS/replay.*)"
t1=$(date +%s.%N)
replay_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
grep -q "replayed $((N + 1)) migrations" "$LOGS/replay.err" || die "the first check did not replay (see $LOGS/replay.err)"
grep -q "no drift" "$LOGS/replay.out" || die "drift found on a clean deploy (see $LOGS/replay.out)"
say "first status --drift (replay of $((N + 1)) migrations): $replay_s s"
# every later check must use the cache
"$PADCTL_BIN" -C "$P" status bench --drift >"$LOGS/cached.out" 2>"$LOGS/cached.err" || die "status --drift failed"
grep -q "compared with the cached replay" "$LOGS/cached.err" || die "the second check did not use the cache"
"$PADCTL_BIN" -C "$P" validate bench >"$LOGS/validate.out" 2>"$LOGS/validate.err" || die "validate failed"

"$PADCTL_BIN" -v -C "$P" status bench --drift >"$LOGS/quiet.out" 2>"$LOGS/quiet.err" || die "status --drift failed"
grep -q "has written nothing since" "$LOGS/quiet.err" ||
	die "the idle target did not answer with its quiet key (see $LOGS/quiet.err)"
# after the deploy's DDL (and autovacuum's work on the catalogs it grew) the
# rows may have changed since the last count: they are counted again within
# five checks (core/engine/drift.c, QUIET_RETRY), and then answer
for i in 1 2 3 4 5 6; do
	"$PSQL" -XAtq -d postgres -c "SELECT txid_current()" >/dev/null
	"$PADCTL_BIN" -v -C "$P" status bench --drift >"$LOGS/busy.out" 2>"$LOGS/busy.err" || die "status --drift failed"
	! grep -q "has written nothing since" "$LOGS/busy.err" || die "a write on the server did not change the quiet key"
	! grep -q "but no catalog row" "$LOGS/busy.err" || break
	[ "$i" != 6 ] || die "the catalog's rows after a write did not answer (see $LOGS/busy.err)"
done
grep -q "has not changed since it last compared clean" "$LOGS/busy.err" ||
	die "the fingerprint after a write did not match the clean record (see $LOGS/busy.err)"
"$PSQL" -XAtq -v ON_ERROR_STOP=1 -d padctl_bench -c "CREATE TABLE public.churn (id int)" >/dev/null
ddl="$PSQL -XAtq -d padctl_bench -c 'ALTER TABLE public.churn ALTER COLUMN id SET STATISTICS 100'"
eval "$ddl" >/dev/null
"$PADCTL_BIN" -v -C "$P" status bench --drift >"$LOGS/ddl.out" 2>"$LOGS/ddl.err" || die "status --drift failed"
grep -q "has changed a catalog row" "$LOGS/ddl.err" ||
	die "a catalog row written outside the owned schema did not make the server fingerprint (see $LOGS/ddl.err)"
grep -q "has not changed since it last compared clean" "$LOGS/ddl.err" ||
	die "the fingerprint after a change elsewhere did not match the clean record (see $LOGS/ddl.err)"

status="$PADCTL_BIN -C $P status bench"
drift="$PADCTL_BIN -C $P status bench --drift"
validate="$PADCTL_BIN -C $P validate bench"
write="$PSQL -XAtq -d postgres -c 'SELECT txid_current()'"
python3 "$HERE/../interleave.py" "$ROUNDS" "$status" "$drift" "$validate" "$write" "$drift" |
	tee "$LOGS/interleave.txt" >&2
# a catalog that changes before every check (a run of its own: its rows are
# counted again every fifth check, which the first run must not see)
python3 "$HERE/../interleave.py" "$ROUNDS" "$status" "$ddl" "$drift" | tee "$LOGS/interleave-churn.txt" >&2

med() { sed -n "$1p" "$LOGS/interleave.txt" | awk '{ print $2 }'; }
s=$(med 1)
d=$(med 2)
v=$(med 3)
b=$(med 5)
s2=$(sed -n 1p "$LOGS/interleave-churn.txt" | awk '{ print $2 }')
f=$(sed -n 3p "$LOGS/interleave-churn.txt" | awk '{ print $2 }')
{
	printf '\nN=%s migrations (+1 creating the schema), %s interleaved rounds, PostgreSQL %s, %s cores, load %s, %s\n\n' \
		"$N" "$ROUNDS" "$PGVER" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%Y-%m-%d)"
	printf '| command | median (ms) | vs status |\n|---|---:|---:|\n'
	printf '| `padctl status` | %s | 1.00x |\n' "$s"
	printf '| `padctl status --drift` (cached replay; idle target: the quiet key) | %s | %s |\n' "$d" "$(awk -v a="$d" -v b="$s" 'BEGIN { printf "%.2fx", a / b }')"
	printf '| `padctl validate` (preflight: privileges, cached drift; idle target) | %s | %s |\n' "$v" "$(awk -v a="$v" -v b="$s" 'BEGIN { printf "%.2fx", a / b }')"
	printf '| `padctl status --drift` (cached replay; after a write: the catalog'"'"'s rows) | %s | %s |\n' "$b" "$(awk -v a="$b" -v b="$s" 'BEGIN { printf "%.2fx", a / b }')"
	printf '| `padctl status` (second run) | %s | 1.00x |\n' "$s2"
	printf '| `padctl status --drift` (second run; after a catalog row written elsewhere, every time: the fingerprint) | %s | %s |\n' "$f" "$(awk -v a="$f" -v b="$s2" 'BEGIN { printf "%.2fx", a / b }')"
	printf '\nFirst `status --drift` (the replay of %s migrations on a fresh scratch database): %s s.\n' "$((N + 1))" "$replay_s"
	printf 'Reproduce: bench/drift/run.sh %s %s   (logs in %s)\n' "$N" "$ROUNDS" "${LOGS#"$ROOT"/}"
} | tee "$W/results-drift.md"

#!/usr/bin/env bash
# bench/backup/restore.sh [SIZE_MB [ROUNDS]]
#
# padctl's restore against plain pg_restore, side by side in one run. An owned
# schema `app` of about SIZE_MB megabytes on disk (a trades table of
# realistic rows with a primary key and two secondary indexes, and an
# accounts table) is deployed with padctl; then, each round:
#
#   1. `padctl deploy` of a migration without down.sql: the backup step dumps
#      app (pg_dump --format=custom, verified) before it migrates (not timed);
#   2. plain: `DROP SCHEMA app CASCADE` (psql), then `pg_restore
#      --single-transaction --exit-on-error` of that dump into the same
#      database (timed). pg_restore --clean alone cannot do it: it refuses to
#      drop app while app.extra, made after the dump, is in it;
#   3. padctl: `padctl rollback bench --restore`: down stops at the migration
#      without down.sql, restore re-checks the dump's SHA-256, sets app aside,
#      runs pg_restore --single-transaction, drops the old app and marks the
#      migration rolled_back (timed).
#
# Steps 2 and 3 swap places every other round. Reports wall time of each and
# the ratio padctl / plain (the goal: 1.05x).
#
#   SIZE_MB  approximate on-disk size of app (default 500; try 20 while developing)
#   ROUNDS   rounds (default 3)
#
# Environment: PADCTL_BIN (default build-rel/padctl of this checkout, built
# with its plugins), BENCH_WORK (default bench/work), PGBIN, BENCH_KEEP=1
# (leave the cluster running). The script starts its own cluster on a free
# loopback port (as `postgres` when run as root), data on disk, fsync on, and
# stops it on exit; it kills nothing it did not start.
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

[ -x "$PADCTL_BIN" ] || die "padctl binary \"$PADCTL_BIN\" not found (build it as bench/README.md says, or set PADCTL_BIN)"
for p in backup migrate rollback; do
	[ -f "$(dirname "$PADCTL_BIN")/plugins/$p.so" ] || die "plugin $p.so not built next to $PADCTL_BIN"
done
bench_pgbin

bench_workdir restore

bench_stop_at_exit

bench_cluster_start
say "PostgreSQL $PGVER on 127.0.0.1:$PORT, data on disk in $PGBASE/data"
DB=restore_bench
"$PSQL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null

P=$W/project
mkdir -p "$P/envs" "$P/pipelines" "$P/migrations/0001_app"
cat >"$P/padctl.yml" <<EOF
project: restorebench
schemas:
  owned: [app]
EOF
cat >"$P/envs/bench.yml" <<EOF
tier: nonprod
pipeline: bench
targets:
  bench:
    database:
      host: $PGHOST
      port: $PGPORT
      dbname: $DB
      user: $PGUSER
      sslmode: disable
EOF
cat >"$P/pipelines/bench.yml" <<EOF
steps: [backup, migrate]
on_failure: stop
EOF
cat >"$P/migrations/0001_app/up.sql" <<'EOF'
CREATE SCHEMA app;
CREATE TABLE app.account (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, opened date NOT NULL);
CREATE TABLE app.trade (
  id bigint PRIMARY KEY, account_id int NOT NULL REFERENCES app.account, symbol text NOT NULL,
  side char(1) NOT NULL, qty int NOT NULL, price numeric(12,4) NOT NULL, traded_at timestamptz NOT NULL,
  note text);
CREATE INDEX trade_account_time ON app.trade (account_id, traded_at);
CREATE INDEX trade_symbol ON app.trade (symbol);
EOF
pc() { "$PADCTL_BIN" -C "$P" "$@"; }

pc deploy bench >"$LOGS/deploy-0001.log" 2>&1 || die "the first deploy failed (see $LOGS/deploy-0001.log)"
# each round applies it (taking a backup first) and rolls it back again
mkdir -p "$P/migrations/0002_no_down"
printf 'CREATE TABLE app.extra (id int);\n' >"$P/migrations/0002_no_down/up.sql"
# about 200 bytes a trade on disk with its indexes
ROWS=$((SIZE_MB * 1000000 / 200))
say "generating $ROWS trades"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" <<EOF >/dev/null
INSERT INTO app.account SELECT g, 'account ' || g, 'user' || g || '@example.org', date '2015-01-01' + g % 3000
  FROM generate_series(1, 20000) g;
INSERT INTO app.trade SELECT g, 1 + (g::bigint * 7919) % 20000, (ARRAY['AAPL','MSFT','TSLA','NVDA','AMZN','GOOG','META','NFLX'])[1 + g % 8],
  CASE WHEN g % 2 = 0 THEN 'B' ELSE 'S' END, 1 + g % 500, 10 + (g % 100000) / 100.0,
  timestamptz '2020-01-01' + g * interval '7 seconds', CASE WHEN g % 5 = 0 THEN 'manual review ' || g END
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE app.account, app.trade;
CHECKPOINT;
EOF
APP_BYTES=$("$PSQL" -XAt -d "$DB" -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'r'")
say "schema app: $((APP_BYTES / 1000000)) MB on disk"
checksum() { "$PSQL" -XAt -d "$DB" -c "SELECT count(*) || ' ' || md5(string_agg(md5(t::text), '' ORDER BY id)) FROM app.trade t"; }
WANT=$(checksum)

now() { date +%s.%N; }
declare -a PLAIN=() PADCTL=()
for ((r = 1; r <= ROUNDS; r++)); do
	pc deploy bench >"$LOGS/deploy-$r.log" 2>&1 || die "deploy $r failed (see $LOGS/deploy-$r.log)"
	run=$("$PSQL" -XAt -d "$DB" -c "SELECT run_id FROM padctl.backups ORDER BY started_at DESC LIMIT 1")
	dump=$("$PSQL" -XAt -d "$DB" -c "SELECT path FROM padctl.backups WHERE run_id = '$run'")
	[ -f "$dump" ] || die "round $r: no backup file for run $run"
	[ "$r" -gt 1 ] || say "dump: $(($(stat -c %s "$dump") / 1000000)) MB"
	order="plain padctl"
	[ $((r % 2)) -eq 1 ] || order="padctl plain"
	for t in $order; do
		"$PSQL" -X -q -c CHECKPOINT >/dev/null
		t0=$(now)
		case $t in
		plain) { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "DROP SCHEMA app CASCADE" &&
			"$PGBIN/pg_restore" --single-transaction --exit-on-error -d "$DB" "$dump"; } \
			>"$LOGS/plain-$r.log" 2>&1 || die "round $r: pg_restore failed (see $LOGS/plain-$r.log)" ;;
		padctl) pc rollback bench --restore >"$LOGS/padctl-$r.log" 2>&1 || die "round $r: rollback failed (see $LOGS/padctl-$r.log)"
			grep -q "rolled back 0002_no_down (restore)" "$LOGS/padctl-$r.log" ||
				die "round $r: padctl did not restore (see $LOGS/padctl-$r.log)" ;;
		esac
		t1=$(now)
		dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		[ "$(checksum)" = "$WANT" ] || die "round $r: $t restored different rows"
		if [ "$t" = plain ]; then PLAIN+=("$dt"); else PADCTL+=("$dt"); fi
		say "round $r/$ROUNDS: $t $dt s"
	done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mp=$(median "${PLAIN[@]}")
md=$(median "${PADCTL[@]}")
{
	printf '\nschema app: %s MB on disk (%s trades, 3 indexes), dump %s MB; %s round(s); PostgreSQL %s (fsync on); %s cores; load average %s; %s\n\n' \
		"$((APP_BYTES / 1000000))" "$ROWS" "$(($(stat -c %s "$dump") / 1000000))" "$ROUNDS" "$PGVER" "$(nproc)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%Y-%m-%d)"
	printf '| tool | wall median (s) | rounds (s) | vs plain |\n|---|---:|---|---:|\n'
	printf '| DROP SCHEMA app CASCADE; pg_restore --single-transaction (plain) | %s | %s | 1.00x |\n' "$mp" "$(IFS=,; echo "${PLAIN[*]}")"
	printf '| padctl rollback --restore | %s | %s | %s |\n' "$md" "$(IFS=,; echo "${PADCTL[*]}")" \
		"$(awk -v a="$md" -v b="$mp" 'BEGIN { printf "%.3fx", a / b }')"
	printf '\nGoal: padctl within 1.05x of plain pg_restore.\n'
	printf 'Reproduce: bench/backup/restore.sh %s %s   (logs in %s)\n' "$SIZE_MB" "$ROUNDS" "${LOGS#"$ROOT"/}"
} | tee "$W/results.md"

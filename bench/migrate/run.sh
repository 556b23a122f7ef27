#!/usr/bin/env bash
# bench/migrate/run.sh [N [REPEATS]]
#
# Deploys the same N small migrations (a table and an index each) into a fresh
# database with padctl, with psql (one transaction per migration plus a
# tracking-row insert: the floor no migration tool can beat), with Sqitch and
# with dbmate, then times `status` with all N applied for each tool. Prints a
# Markdown table of medians and ratios against the psql floor.
#
#   N        migrations (default 1000)
#   REPEATS  deploys per tool (default 3); the tools take turns, so a slow
#            phase of the machine hits all of them alike
#
# Environment:
#   PADCTL_BIN      padctl binary (default build-rel/padctl of this checkout);
#                   skipped with a message when missing or failing
#   BENCH_WORK      scratch directory (default bench/work, gitignored)
#   STATUS_RUNS     hyperfine runs per status command and round (default 1:
#                   the tools take turns run by run)
#   STATUS_ROUNDS   rounds of status runs, the tools taking turns (default 30)
#   BENCH_TOOLS     subset to run, e.g. "psql dbmate" (default: all four)
#   BENCH_KEEP      1: leave the cluster running at the end (says how to stop it)
#   PGBIN           PostgreSQL binaries of one major version, server and
#                   client (default: the newest /usr/lib/postgresql/<major>/bin).
#                   Every psql the script runs, the floor's and the one Sqitch
#                   spawns per change, is $PGBIN/psql: /usr/bin/psql on Debian
#                   is a Perl wrapper (pg_wrapper) that costs ~37 ms per start
#
# The script starts its own PostgreSQL cluster on a free loopback port (as the
# `postgres` user when run as root), with the data directory on disk and
# fsync / synchronous_commit left ON, so a commit costs what it costs in real
# life. It stops the cluster on exit and kills nothing it did not start.
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
if [ "$N" -lt 1 ] || [ "$REPEATS" -lt 1 ]; then
	printf '%s: N and REPEATS must be at least 1\n' "$PROG" >&2
	exit 2
fi

PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work}
STATUS_RUNS=${STATUS_RUNS:-1}
STATUS_ROUNDS=${STATUS_ROUNDS:-30}
BENCH_TOOLS=${BENCH_TOOLS:-psql padctl dbmate sqitch}
SUPERUSER=bench_runner # not "bench": "$user" in search_path would resolve to the bench schema

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers

for t in hyperfine python3 jq; do
	command -v "$t" >/dev/null || die "\"$t\" not found (apt-get install hyperfine python3 jq)"
done
bench_pgbin

bench_workdir

# --- the cluster -----------------------------------------------------------------

bench_stop_at_exit

bench_cluster_start max_connections=50
# (dbmate's Go driver rejects PGGSSENCMODE, so its commands run without it.)
say "PostgreSQL $PGVER on 127.0.0.1:$PORT, data on disk in $PGBASE/data, fsync=$("$PSQL" -XAtc 'SHOW fsync'), synchronous_commit=$("$PSQL" -XAtc 'SHOW synchronous_commit')"

# fresh_db NAME: drop and recreate a database with an empty `bench` schema.
fresh_db() {
	PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE SCHEMA bench" >/dev/null
	# flush now, so no checkpoint of the previous run's writes lands in the timed one
	"$PSQL" -X -q -c CHECKPOINT >/dev/null
}

# count_tables DB: tables in schema bench.
count_tables() {
	"$PSQL" -XAt -d "$1" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'bench'" 2>/dev/null || echo 0
}

# --- generate the same N migrations for every tool ---------------------------------

WIDTH=4
[ "$N" -lt 10000 ] || WIDTH=${#N}
ver() { printf "%0${WIDTH}d" "$1"; }
sql_up() { printf 'CREATE TABLE bench.t%s (id bigint primary key, v text);\nCREATE INDEX t%s_v ON bench.t%s (v);\n' "$1" "$1" "$1"; }
sql_down() { printf 'DROP TABLE bench.t%s;\n' "$1"; }

generate() {
	local i v
	say "generating $N migrations per tool under $W"
	rm -rf -- "$W/padctl" "$W/sqitch" "$W/dbmate" "$W/psql"

	# padctl project
	mkdir -p "$W/padctl/envs" "$W/padctl/pipelines" "$W/padctl/migrations"
	cat >"$W/padctl/padctl.yml" <<EOF
project: bench
schemas:
  owned: [bench]
paths:
  migrations: migrations
EOF
	cat >"$W/padctl/envs/bench.yml" <<EOF
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
	cat >"$W/padctl/pipelines/bench.yml" <<EOF
steps: [migrate]
on_failure: stop
EOF

	# Sqitch project (what `sqitch init bench --engine pg` and N times
	# `sqitch add` would write, generated directly)
	mkdir -p "$W/sqitch/deploy" "$W/sqitch/revert" "$W/sqitch/verify"
	cat >"$W/sqitch/sqitch.conf" <<EOF
[core]
	engine = pg
	plan_file = sqitch.plan
	top_dir = .
[engine "pg"]
	target = db:pg://$SUPERUSER@127.0.0.1:$PORT/sqitch_bench
	client = $PSQL
[user]
	name = Bench
	email = bench@example.com
EOF
	{
		printf '%%syntax-version=1.0.0\n%%project=bench\n\n'
	} >"$W/sqitch/sqitch.plan"

	mkdir -p "$W/dbmate/db/migrations" "$W/psql"
	{
		printf 'CREATE TABLE IF NOT EXISTS public.tracking (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n'
	} >"$W/psql/floor.sql"

	for ((i = 1; i <= N; i++)); do
		v=$(ver "$i")
		mkdir "$W/padctl/migrations/${v}_t$v"
		sql_up "$v" >"$W/padctl/migrations/${v}_t$v/up.sql"
		sql_down "$v" >"$W/padctl/migrations/${v}_t$v/down.sql"
		printf "SELECT to_regclass('bench.t%s') IS NOT NULL AS ok;\n" "$v" >"$W/padctl/migrations/${v}_t$v/verify.sql"

		printf 't%s 2024-01-01T00:00:00Z Bench <bench@example.com> # table t%s\n' "$v" "$v" >>"$W/sqitch/sqitch.plan"
		{
			printf -- '-- Deploy bench:t%s to pg\n\nBEGIN;\n\n' "$v"
			sql_up "$v"
			printf '\nCOMMIT;\n'
		} >"$W/sqitch/deploy/t$v.sql"
		printf -- '-- Revert bench:t%s from pg\n\nBEGIN;\n\n%s\nCOMMIT;\n' "$v" "$(sql_down "$v")" >"$W/sqitch/revert/t$v.sql"
		printf -- '-- Verify bench:t%s on pg\n\nBEGIN;\n\nSELECT id, v FROM bench.t%s WHERE false;\n\nROLLBACK;\n' "$v" "$v" >"$W/sqitch/verify/t$v.sql"

		{
			printf -- '-- migrate:up\n'
			sql_up "$v"
			printf -- '\n-- migrate:down\n'
			sql_down "$v"
		} >"$W/dbmate/db/migrations/${v}_t$v.sql"

		{
			printf 'BEGIN;\n'
			sql_up "$v"
			printf "INSERT INTO public.tracking (version) VALUES ('%s');\nCOMMIT;\n" "$v"
		} >>"$W/psql/floor.sql"
	done
}

# --- the tools -------------------------------------------------------------------

DBMATE=
find_dbmate() {
	if command -v dbmate >/dev/null; then
		DBMATE=$(command -v dbmate)
	else
		if [ ! -x "$W/npm/node_modules/.bin/dbmate" ] && command -v npm >/dev/null; then
			say "installing dbmate with npm into $W/npm"
			npm install --no-audit --no-fund --prefix "$W/npm" dbmate >"$LOGS/npm.log" 2>&1 || return 1
		fi
		# The npm package's .bin/dbmate is a Node.js launcher (~70 ms of node
		# start-up per call); time the Go binary it launches, as a user of the
		# release binary or the Debian/Homebrew package would run it.
		local b
		for b in "$W"/npm/node_modules/@dbmate/*/bin/dbmate "$W/npm/node_modules/.bin/dbmate"; do
			if [ -x "$b" ] && "$b" --version >/dev/null 2>&1; then
				DBMATE=$b
				break
			fi
		done
	fi
	[ -n "$DBMATE" ] && "$DBMATE" --version >/dev/null 2>&1
}

DBMATE_URL="postgres://$SUPERUSER@127.0.0.1:$PORT/dbmate_bench?sslmode=disable"

# deploy_cmd TOOL: the command a deploy runs (as one shell string, also for hyperfine).
# dbmate: --no-dump-schema, since writing db/schema.sql with pg_dump is not part
# of applying migrations (and needs a pg_dump of the server's version).
deploy_cmd() {
	case $1 in
	psql) printf '%q -X -q -v ON_ERROR_STOP=1 -d psql_bench -f %q' "$PSQL" "$W/psql/floor.sql" ;;
	padctl) printf '%q -C %q deploy bench' "$PADCTL_BIN" "$W/padctl" ;;
	dbmate) printf 'env -u PGGSSENCMODE %q --url %q --migrations-dir %q --no-dump-schema migrate' "$DBMATE" "$DBMATE_URL" "$W/dbmate/db/migrations" ;;
	sqitch) printf 'cd %q && sqitch deploy' "$W/sqitch" ;;
	esac
}
status_cmd() {
	case $1 in
	psql) printf "%q -X -At -d psql_bench -c 'SELECT count(*), max(version) FROM public.tracking'" "$PSQL" ;;
	padctl) printf '%q -C %q status bench' "$PADCTL_BIN" "$W/padctl" ;;
	dbmate) printf 'env -u PGGSSENCMODE %q --url %q --migrations-dir %q status' "$DBMATE" "$DBMATE_URL" "$W/dbmate/db/migrations" ;;
	sqitch) printf 'cd %q && sqitch status' "$W/sqitch" ;;
	esac
}
db_of() { printf '%s_bench' "$1"; }

# applied TOOL: migrations the tool's own bookkeeping says are applied.
applied() {
	local db
	db=$(db_of "$1")
	case $1 in
	psql) "$PSQL" -XAt -d "$db" -c 'SELECT count(*) FROM public.tracking' 2>/dev/null ;;
	dbmate) "$PSQL" -XAt -d "$db" -c 'SELECT count(*) FROM public.schema_migrations' 2>/dev/null ;;
	sqitch) "$PSQL" -XAt -d "$db" -c 'SELECT count(*) FROM sqitch.changes' 2>/dev/null ;;
	padctl) count_tables "$db" ;; # padctl's history layout is its own business
	esac
}

TOOLS=()
declare -A SKIP=()
for t in $BENCH_TOOLS; do
	case $t in
	psql) TOOLS+=(psql) ;;
	padctl)
		TOOLS+=(padctl)
		if [ ! -x "$PADCTL_BIN" ]; then
			SKIP[padctl]="binary \"$PADCTL_BIN\" not found (build it, or set PADCTL_BIN)"
		fi
		;;
	dbmate)
		TOOLS+=(dbmate)
		find_dbmate || SKIP[dbmate]="dbmate not found and npm install failed (see $LOGS/npm.log)"
		;;
	sqitch)
		TOOLS+=(sqitch)
		command -v sqitch >/dev/null || SKIP[sqitch]="sqitch not found (apt-get install sqitch)"
		;;
	*) die "unknown tool \"$t\" in BENCH_TOOLS (known: psql padctl dbmate sqitch)" ;;
	esac
done
for t in "${!SKIP[@]}"; do
	say "skipping $t: ${SKIP[$t]}"
done

generate

# --- deploys -----------------------------------------------------------------------

# One untimed floor run first: a new cluster must still create its WAL
# segments, which would otherwise be charged to whichever tool runs first.
fresh_db warmup_bench
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d warmup_bench -f "$W/psql/floor.sql" >/dev/null ||
	die "the warm-up run of the psql floor failed"
"$PSQL" -X -q -c 'DROP DATABASE warmup_bench' -c 'CHECKPOINT' >/dev/null

declare -A TIMES=()
for ((r = 1; r <= REPEATS; r++)); do
	for t in "${TOOLS[@]}"; do
		[ -z "${SKIP[$t]-}" ] || continue
		db=$(db_of "$t")
		fresh_db "$db"
		log=$LOGS/deploy-$t-$r.log
		cmd=$(deploy_cmd "$t")
		t0=$(date +%s.%N)
		if bash -c "$cmd" >"$log" 2>&1; then rc=0; else rc=$?; fi
		t1=$(date +%s.%N)
		got=$(applied "$t") || got=
		tables=$(count_tables "$db")
		if [ "$rc" -ne 0 ] || [ "${got:-0}" != "$N" ] || [ "$tables" != "$N" ]; then
			say "$t deploy $r FAILED (exit $rc, applied ${got:-?}, tables $tables of $N); last lines of $log:"
			tail -n 15 "$log" | sed 's/^/    /' >&2
			SKIP[$t]="deploy failed (exit $rc, $tables of $N tables; log $log)"
			continue
		fi
		dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
		TIMES[$t]="${TIMES[$t]-} $dt"
		say "$t deploy $r/$REPEATS: ${dt} s"
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# --- status with all N applied -----------------------------------------------------

declare -A STATUS_MS=()
STATUS_TOOLS=()
for t in "${TOOLS[@]}"; do
	[ -z "${SKIP[$t]-}" ] || continue
	# one plain run first: a failing status would make hyperfine's numbers meaningless
	if ! bash -c "$(status_cmd "$t")" >"$LOGS/status-$t.log" 2>&1; then
		say "$t status FAILED; last lines of $LOGS/status-$t.log:"
		tail -n 15 "$LOGS/status-$t.log" | sed 's/^/    /' >&2
		STATUS_MS[$t]=failed
		continue
	fi
	STATUS_TOOLS+=("$t")
	: >"$LOGS/status-$t.times"
done
# STATUS_ROUNDS rounds of STATUS_RUNS runs, the tools taking turns, so that a
# busy phase of the machine does not land on one tool only. By default a
# round is one run (and one warm-up) of each: the machine's speed moves from
# one second to the next, and blocks of runs of one tool land in different
# spells of it (bench/README.md, migrate). The commands run without a shell
# (hyperfine -N: nothing to subtract), except Sqitch's, which needs one to
# change directory and takes ~1 s (at most 5 runs a round).
for ((r = 1; r <= STATUS_ROUNDS; r++)); do
	for t in "${STATUS_TOOLS[@]}"; do
		[ "${STATUS_MS[$t]-}" != failed ] || continue
		runs=$STATUS_RUNS
		shell=(-N)
		if [ "$t" = sqitch ]; then
			[ "$runs" -le 5 ] || runs=5
			shell=()
		fi
		hyperfine --style basic "${shell[@]}" --warmup 1 --runs "$runs" --export-json "$LOGS/status-$t-$r.json" \
			--command-name "$t status" "$(status_cmd "$t")" >"$LOGS/status-$t-$r.hyperfine" 2>&1 ||
			{
				say "$t status: hyperfine failed (see $LOGS/status-$t-$r.hyperfine)"
				STATUS_MS[$t]=failed
				continue
			}
		jq -r '.results[0].times[] * 1000' "$LOGS/status-$t-$r.json" >>"$LOGS/status-$t.times"
	done
done
for t in "${STATUS_TOOLS[@]}"; do
	[ "${STATUS_MS[$t]-}" != failed ] || continue
	STATUS_MS[$t]=$(sort -g "$LOGS/status-$t.times" | awk '{ a[NR] = $1 } END { m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f\n", m }')
	say "$t status: median ${STATUS_MS[$t]} ms over $(wc -l <"$LOGS/status-$t.times") runs"
done

# --- report -------------------------------------------------------------------------

floor=$(printf '%s' "${TIMES[psql]-}" | median || true)
host_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
versions="psql $("$PSQL" --version | awk '{print $3}') ($PSQL)"
for t in "${TOOLS[@]}"; do
	case $t in
	padctl) [ -n "${TIMES[padctl]-}" ] && versions+=", padctl $("$PADCTL_BIN" --version 2>/dev/null | head -n 1 | awk '{print $NF}')" ;;
	dbmate) [ -n "$DBMATE" ] && versions+=", dbmate $("$DBMATE" --version | awk '{print $NF}')" ;;
	sqitch) command -v sqitch >/dev/null && versions+=", sqitch $(sqitch --version | awk '{print $NF}')" ;;
	esac
done
{
	printf '\nN=%s migrations, %s deploy(s) per tool, PostgreSQL %s (fsync on, data on disk), %s cores (%s), %s\n\n' \
		"$N" "$REPEATS" "$PGVER" "$(nproc)" "$host_cpu" "$(date -u +%Y-%m-%d)"
	printf 'Versions: %s\n\n' "$versions"
	printf '| tool | deploy median (s) | deploy runs (s) | vs psql floor | status median (ms) | status vs floor |\n'
	printf '|---|---:|---|---:|---:|---:|\n'
	for t in "${TOOLS[@]}"; do
		med=$(printf '%s' "${TIMES[$t]-}" | median || true)
		if [ -z "$med" ]; then
			printf '| %s | skipped | %s | | | |\n' "$t" "${SKIP[$t]:-no successful run}"
			continue
		fi
		ratio=
		[ -z "$floor" ] || ratio=$(awk -v a="$med" -v b="$floor" 'BEGIN { printf "%.2fx", a / b }')
		runs=$(printf '%s' "${TIMES[$t]}" | sed 's/^ //; s/ /, /g')
		label=$t
		[ "$t" != psql ] || label='psql (floor)'
		sratio=
		case ${STATUS_MS[psql]-}/${STATUS_MS[$t]-} in
		*failed* | /* | */) ;;
		*) sratio=$(awk -v a="${STATUS_MS[$t]}" -v b="${STATUS_MS[psql]}" 'BEGIN { printf "%.2fx", a / b }') ;;
		esac
		printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$med" "$runs" "$ratio" "${STATUS_MS[$t]:-}" "$sratio"
	done
	printf '\nReproduce: bench/migrate/run.sh %s %s   (logs and hyperfine JSON in %s)\n' "$N" "$REPEATS" "${LOGS#"$ROOT"/}"
} | tee "$W/results.md"

#!/usr/bin/env bash
# bench/bigmigration/run.sh [MB [REPEATS]]
#
# One big data migration, deployed by padctl and by `psql -X -q -1 -v
# ON_ERROR_STOP=1 -f FILE` into fresh databases, the two taking turns:
#   inserts  MB of one-line INSERTs (about 30 bytes each)
#   dump     a pg_dump-style file: SETs, CREATE TABLE, MB of COPY FROM stdin
#            data, a primary key
# Prints wall time and peak RSS (/usr/bin/time) of each run, the medians, the
# ratio of padctl's time to psql's and padctl's peak RSS against the file
# size. Goal (issue 7): padctl within 1.5x of psql's time and under 2x the
# file size in memory.
#
#   MB       size of each migration file (default 100)
#   REPEATS  runs per tool and file (default 3)
#
# Environment: PADCTL_BIN (default build-rel/padctl: a release build, e.g.
# cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DPADCTL_SANITIZE=OFF &&
# cmake --build build-rel --target padctl plugin_migrate -j2), BENCH_WORK
# (scratch, default bench/work/bigmigration; the files are generated there,
# 2 x MB, never committed), PGBIN (psql, default /usr/lib/postgresql/15/bin).
# The cluster is the test suite's throwaway one (tests/harness/pg.sh: fsync
# off, data under /dev/shm), started and stopped by this script.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MB=${1:-100}
REPEATS=${2:-3}
case $MB$REPEATS in '' | *[!0-9]*)
	printf 'usage: %s [MB [REPEATS]]\n' "$PROG" >&2
	exit 2
	;;
esac
PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
W=${BENCH_WORK:-$ROOT/bench/work/bigmigration}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}
[ -x "$PADCTL_BIN" ] || die "no padctl at $PADCTL_BIN (see the header for a release build)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

mkdir -p "$W"
bash "$ROOT/tests/harness/pg.sh" start "$W/pg" >/dev/null
trap 'bash "$ROOT/tests/harness/pg.sh" stop "$W/pg" >/dev/null 2>&1' EXIT
PORT=$(sed -n 's/^PGPORT=//p' "$W/pg/env")
PGU=$(sed -n 's/^PGUSER=//p' "$W/pg/env")
q() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$PGU" -d "$1" -c "$2" >/dev/null; }

python3 - "$W" "$MB" <<'PY'
import sys
w, mb = sys.argv[1], int(sys.argv[2]) << 20
with open(w + '/inserts.sql', 'w') as f:
    f.write('CREATE TABLE app.b (id bigint);\n')
    n = i = 0
    while n < mb:
        s = 'INSERT INTO app.b VALUES(%d);\n' % i
        f.write(s); n += len(s); i += 1
with open(w + '/dump.sql', 'w') as f:
    f.write("SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
            "SET standard_conforming_strings = on;\n"
            "SELECT pg_catalog.set_config('search_path', '', false);\n"
            "CREATE TABLE app.dump (id bigint NOT NULL, name text, payload text);\n"
            "COPY app.dump (id, name, payload) FROM stdin;\n")
    n = i = 0
    while n < mb:
        s = '%d\tname %d\tpayload-%d-%s\n' % (i, i, i, 'x' * 40)
        f.write(s); n += len(s); i += 1
    f.write('\\.\n\nALTER TABLE ONLY app.dump ADD CONSTRAINT dump_pkey PRIMARY KEY (id);\n')
PY

project() {   # KIND: a project whose 0002 is the generated file
	local p=$W/p_$1
	rm -rf "$p"
	mkdir -p "$p/envs" "$p/pipelines" "$p/migrations/0001_app" "$p/migrations/0002_big"
	printf 'project: big\nschemas:\n  owned: [app]\n' >"$p/padctl.yml"
	printf 'steps:\n  - migrate\non_failure: stop\n' >"$p/pipelines/standard.yml"
	printf 'tier: nonprod\npipeline: standard\ntargets:\n  t1:\n    database:\n      host: 127.0.0.1\n      port: %s\n      dbname: big\n      user: %s\n' \
		"$PORT" "$PGU" >"$p/envs/test.yml"
	echo 'CREATE SCHEMA app;' >"$p/migrations/0001_app/up.sql"
	ln -f "$W/$1.sql" "$p/migrations/0002_big/up.sql"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for kind in inserts dump; do
	project "$kind"
	size=$(stat -c %s "$W/$kind.sql")
	: >"$W/$kind.padctl" && : >"$W/$kind.psql"
	for ((i = 1; i <= REPEATS; i++)); do
		q postgres 'DROP DATABASE IF EXISTS big' && q postgres 'CREATE DATABASE big'
		rm -f "$W/p_$kind/known_targets"
		/usr/bin/time -f '%e %M' -o "$W/t" "$PADCTL_BIN" -C "$W/p_$kind" -q deploy test >/dev/null ||
			die "padctl failed on $kind"
		cat "$W/t" >>"$W/$kind.padctl"
		q postgres 'DROP DATABASE IF EXISTS big' && q postgres 'CREATE DATABASE big' && q big 'CREATE SCHEMA app'
		/usr/bin/time -f '%e %M' -o "$W/t" "$PGBIN/psql" -X -q -1 -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
			-U "$PGU" -d big -f "$W/$kind.sql" >/dev/null || die "psql failed on $kind"
		cat "$W/t" >>"$W/$kind.psql"
		printf '%s run %d: padctl %s s %s KB, psql %s s %s KB\n' "$kind" "$i" \
			$(tail -n 1 "$W/$kind.padctl") $(tail -n 1 "$W/$kind.psql")
	done
	tp=$(cut -d' ' -f1 "$W/$kind.padctl" | median)
	tq=$(cut -d' ' -f1 "$W/$kind.psql" | median)
	rss=$(cut -d' ' -f2 "$W/$kind.padctl" | sort -n | tail -n 1)
	awk -v k="$kind" -v s="$size" -v tp="$tp" -v tq="$tq" -v r="$rss" 'BEGIN {
		printf "%s (%.0f MB): padctl median %.2f s, psql median %.2f s: %.2fx; padctl peak RSS %.0f MB = %.2fx the file\n",
			k, s / 1048576, tp, tq, tp / tq, r / 1024, r * 1024 / s }'
done

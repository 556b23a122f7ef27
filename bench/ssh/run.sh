#!/usr/bin/env bash
# bench/ssh/run.sh [N [REPEATS]]
#
# The same N small migrations (a table and an index each) deployed into a
# fresh database four ways, taking turns:
#   direct        padctl deploy, libpq straight to the server
#   padctl-tunnel padctl deploy through its own SSH tunnel (ssh: tunnel: true)
#   ssh-L-psql    the psql floor (one transaction per migration plus a
#                 tracking-row insert) through an OpenSSH `ssh -N -L` forward
#   psql          the same psql floor, direct (for reference)
# against a real sshd on a loopback port (tests/harness/sshd.sh) and a
# throwaway cluster with fsync on (bench/lib.sh). Prints medians and the
# ratios the issue asks for: padctl-tunnel / ssh-L-psql and
# padctl-tunnel / direct.
#
#   N        migrations (default 1000)
#   REPEATS  deploys per way (default 3)
# Environment: PADCTL_BIN (default build-rel/padctl), BENCH_WORK (default
# bench/work/ssh), PGBIN, BENCH_PG_SETTINGS (extra server settings, e.g.
# "fsync=off synchronous_commit=off" to measure the transport without the
# disk: say so when you report such numbers).
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-1000}
REPEATS=${2:-3}
case $N$REPEATS in '' | *[!0-9]*)
	printf 'usage: %s [N [REPEATS]]\n' "$PROG" >&2
	exit 2
	;;
esac
PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work/ssh}
SUPERUSER=bench_runner

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers
[ -x "$PADCTL_BIN" ] || die "no padctl at $PADCTL_BIN (build it: see bench/README.md)"
command -v ssh >/dev/null || die "no ssh client (apt-get install openssh-client)"
bench_pgbin
bench_workdir
rm -rf -- "$W/project" "$W/sshd"

SSH_PID=
bench_at_exit() {
	[ -z "$SSH_PID" ] || kill "$SSH_PID" 2>/dev/null
	bash "$ROOT/tests/harness/sshd.sh" stop "$W/sshd" >/dev/null 2>&1
}
bench_stop_at_exit

# shellcheck disable=SC2086
bench_cluster_start max_connections=50 ${BENCH_PG_SETTINGS-}
bash "$ROOT/tests/harness/sshd.sh" start "$W/sshd" || die "could not start sshd"
while IFS='=' read -r k v; do
	case $k in SSHD_*) declare "$k=$v" ;; esac
done <"$W/sshd/env"
say "PostgreSQL $PGVER on 127.0.0.1:$PORT, sshd on 127.0.0.1:$SSHD_PORT"

# the OpenSSH forward, as a user would set it up by hand
LPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh -N -o BatchMode=yes -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=yes \
	-o UserKnownHostsFile="$SSHD_KNOWN_HOSTS" -i "$SSHD_USER_KEY" -p "$SSHD_PORT" \
	-L "127.0.0.1:$LPORT:127.0.0.1:$PORT" "$SSHD_USER@127.0.0.1" 2>"$LOGS/ssh-L.log" &
SSH_PID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$LPORT") 2>/dev/null && break
	sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$LPORT") 2>/dev/null || die "ssh -L did not come up (log: $LOGS/ssh-L.log)"

# the project and the floor's SQL
P=$W/project
mkdir -p "$P/envs" "$P/pipelines" "$P/migrations"
printf 'project: bench\nschemas:\n  owned: [bench]\n' >"$P/padctl.yml"
printf 'steps: [migrate]\non_failure: stop\n' >"$P/pipelines/bench.yml"
env_file() { # NAME DB [ssh]
	{
		printf 'pipeline: bench\ntargets:\n  bench:\n    database:\n'
		printf '      host: 127.0.0.1\n      port: %s\n      dbname: %s\n      user: %s\n      sslmode: disable\n' \
			"$PORT" "$2" "$SUPERUSER"
		if [ "${3-}" = ssh ]; then
			printf '    ssh:\n      host: 127.0.0.1\n      port: %s\n      user: %s\n      identity: %s\n' \
				"$SSHD_PORT" "$SSHD_USER" "$SSHD_USER_KEY"
			printf '      known_hosts: %s\n      tunnel: true\n' "$SSHD_KNOWN_HOSTS"
		fi
	} >"$P/envs/$1.yml"
}
env_file direct bench_direct
env_file tunnel bench_tunnel ssh
printf 'CREATE TABLE IF NOT EXISTS public.tracking (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n' >"$W/floor.sql"
for ((i = 1; i <= N; i++)); do
	v=$(printf '%04d' "$i")
	mkdir "$P/migrations/${v}_t$v"
	printf 'CREATE TABLE bench.t%s (id bigint primary key, v text);\nCREATE INDEX t%s_v ON bench.t%s (v);\n' \
		"$v" "$v" "$v" | tee "$P/migrations/${v}_t$v/up.sql" |
		{ printf 'BEGIN;\n'; cat; printf "INSERT INTO public.tracking (version) VALUES ('%s');\nCOMMIT;\n" "$v"; } >>"$W/floor.sql"
done

fresh_db() {
	PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE SCHEMA bench" >/dev/null
	"$PSQL" -X -q -c CHECKPOINT >/dev/null
}
now() { date +%s.%N; }
declare -A T
run_one() { # WAY REPEAT
	local t0 t1 db
	case $1 in
	direct | padctl-tunnel)
		db=bench_direct
		[ "$1" = direct ] || db=bench_tunnel
		fresh_db "$db"
		rm -f "$P/known_targets"
		t0=$(now)
		"$PADCTL_BIN" -q -C "$P" deploy "$([ "$1" = direct ] && echo direct || echo tunnel)" \
			>"$LOGS/$1.$2.out" 2>&1 || die "padctl $1 failed (log: $LOGS/$1.$2.out)"
		t1=$(now)
		;;
	ssh-L-psql | psql)
		db=bench_floor
		fresh_db "$db"
		local port=$PORT
		[ "$1" = psql ] || port=$LPORT
		t0=$(now)
		"$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -d "$db" -f "$W/floor.sql" \
			>"$LOGS/$1.$2.out" 2>&1 || die "psql $1 failed (log: $LOGS/$1.$2.out)"
		t1=$(now)
		;;
	esac
	[ "$("$PSQL" -XAt -d "$db" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'bench'")" = "$N" ] ||
		die "$1 did not create $N tables"
	T[$1]="${T[$1]-} $(python3 -c "print($t1 - $t0)")"
	say "$1 run $2: $(python3 -c "print(round($t1 - $t0, 3))") s"
}
WAYS="direct padctl-tunnel ssh-L-psql psql"
for ((r = 1; r <= REPEATS; r++)); do
	for w in $WAYS; do run_one "$w" "$r"; done
done
# the fixed cost of a deploy: nothing pending (connect, the SSH handshake and login, the ledger's reads)
declare -A U
for ((r = 1; r <= REPEATS; r++)); do
	for w in direct tunnel; do
		t0=$(now)
		"$PADCTL_BIN" -q -C "$P" deploy "$w" >"$LOGS/uptodate-$w.$r.out" 2>&1 ||
			die "padctl $w with nothing pending failed (log: $LOGS/uptodate-$w.$r.out)"
		t1=$(now)
		U[$w]="${U[$w]-} $(python3 -c "print($t1 - $t0)")"
	done
done
median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
declare -A M
for w in $WAYS; do
	# shellcheck disable=SC2086
	M[$w]=$(median ${T[$w]})
done
ratio() { python3 -c "print('%.2fx' % ($1 / $2))"; }
{
	printf '| way | median of %s deploys of %s migrations |\n|---|---:|\n' "$REPEATS" "$N"
	for w in $WAYS; do printf '| %s | %.3f s |\n' "$w" "${M[$w]}"; done
	printf '\n| ratio | value | goal |\n|---|---:|---:|\n'
	printf '| padctl-tunnel / ssh-L-psql | %s | <= 1.00x |\n' "$(ratio "${M[padctl-tunnel]}" "${M[ssh-L-psql]}")"
	printf '| padctl-tunnel / direct | %s | <= 1.15x |\n' "$(ratio "${M[padctl-tunnel]}" "${M[direct]}")"
	printf '| ssh-L-psql / psql | %s | |\n' "$(ratio "${M[ssh-L-psql]}" "${M[psql]}")"
	# shellcheck disable=SC2086
	UD=$(median ${U[direct]})
	# shellcheck disable=SC2086
	UT=$(median ${U[tunnel]})
	printf '\n| deploy with nothing pending (median of %s) | direct | padctl-tunnel | tunnel - direct |\n' "$REPEATS"
	printf '|---|---:|---:|---:|\n| the fixed cost | %.3f s | %.3f s | %.3f s |\n' "$UD" "$UT" \
		"$(python3 -c "print($UT - $UD)")"
	printf '\nload average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$W/results.md"

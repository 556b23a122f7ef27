#!/usr/bin/env bash
# pg.sh start DIR | pg.sh stop DIR
#
# A throwaway PostgreSQL cluster for the test suite. `start` initialises and
# starts it and writes DIR/env (KEY=VALUE lines: PGHOST, PGPORT, PGUSER,
# PGDATABASE, PGBIN, DATADIR, ...); `stop` stops it and removes what start
# created. Both are idempotent.
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# unprivileged `postgres` user. The data directory lives under /dev/shm (or
# /tmp) so that it is fast and reachable by that user even when DIR's parents
# are not (a checkout under /root with mode 700); DIR/base records where.
set -euo pipefail

SUPERUSER=padctl_test
PROG=${0##*/}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
	printf 'usage: %s start DIR | stop DIR\n' "$PROG" >&2
	exit 2
}

[ $# -eq 2 ] || usage
ACTION=$1
DIR=$2
case $DIR in
/*) ;;
*) DIR=$PWD/$DIR ;;
esac

RUNAS=
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root but there is no \"postgres\" user (apt-get install postgresql creates it)"
	RUNAS=postgres
fi

# as_server runs a command as the user the server runs as.
as_server() {
	if [ -n "$RUNAS" ]; then
		(cd / && runuser -u "$RUNAS" -- "$@")
	else
		"$@"
	fi
}

find_bindir() {
	local best='' best_ver=0 d v
	for d in /usr/lib/postgresql/*/bin; do
		if [ ! -x "$d/initdb" ] || [ ! -x "$d/pg_ctl" ]; then
			continue
		fi
		v=${d%/bin}
		v=${v##*/}
		case $v in
		'' | *[!0-9]*) continue ;;
		esac
		if [ "$v" -gt "$best_ver" ]; then
			best_ver=$v
			best=$d
		fi
	done
	[ -n "$best" ] || die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
	printf '%s\n' "$best"
}

HAVE_PY=
command -v python3 >/dev/null 2>&1 && python3 -c '' 2>/dev/null && HAVE_PY=1

# port_free PORT: can we bind 127.0.0.1:PORT right now?
port_free() {
	if [ -n "$HAVE_PY" ]; then
		python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
	else
		# nothing answers a connect: good enough, start retries on a race
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 1
		fi
		return 0
	fi
}

pick_port() {
	local base=$((20000 + (RANDOM * 32768 + RANDOM) % 40000)) i p
	for ((i = 0; i < 200; i++)); do
		p=$((base + i))
		[ "$p" -lt 65000 ] || p=$((p - 45000))
		if port_free "$p"; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	die "no free loopback port found"
}

# safe_base PATH: only ever remove directories this script created.
safe_base() {
	case $1 in
	/dev/shm/padctl-test-* | /tmp/padctl-test-*) return 0 ;;
	esac
	return 1
}

do_stop() {
	local base='' bindir=''
	if [ ! -e "$DIR" ]; then
		say "nothing to stop: $DIR does not exist"
		return 0
	fi
	[ -f "$DIR/base" ] && base=$(cat "$DIR/base")
	if [ -f "$DIR/env" ]; then
		bindir=$(sed -n 's/^PGBIN=//p' "$DIR/env")
	fi
	[ -n "$bindir" ] || bindir=$(find_bindir)
	if [ -n "$base" ] && [ -f "$base/data/postmaster.pid" ]; then
		local pid
		pid=$(head -n 1 "$base/data/postmaster.pid")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			say "stopping the server (pid $pid, data $base/data)"
			as_server "$bindir/pg_ctl" -D "$base/data" -m fast -w -t 60 stop >/dev/null ||
				die "pg_ctl stop failed for $base/data"
		else
			say "server of $base/data is not running (stale postmaster.pid)"
		fi
	else
		say "no server recorded in $DIR"
	fi
	if [ -n "$base" ] && [ -d "$base" ]; then
		if safe_base "$base"; then
			rm -rf -- "$base"
			say "removed $base"
		else
			say "not removing unexpected recorded data location $base"
		fi
	fi
	rm -rf -- "$DIR"
	say "removed $DIR"
}

do_start() {
	local bindir base reach port attempt sockdir logfile
	if [ -e "$DIR" ]; then
		say "removing stale $DIR"
		do_stop
	fi
	bindir=$(find_bindir)
	mkdir -p "$DIR"

	local shm=/dev/shm
	[ -d "$shm" ] && [ -w "$shm" ] || shm=/tmp
	base=$(mktemp -d "$shm/padctl-test-XXXXXX")
	# record it before anything else can fail, so stop can clean up
	printf '%s\n' "$base" >"$DIR/base"
	chmod 755 "$base"
	mkdir "$base/data"
	chmod 700 "$base/data"

	# Can the server user reach DIR? If a parent directory denies it search
	# permission, the socket and log go next to the data dir instead.
	reach=yes
	if [ -n "$RUNAS" ]; then
		chown "$RUNAS" "$DIR" "$base" "$base/data"
		if ! as_server test -x "$DIR" -a -w "$DIR"; then
			reach=no
			say "user $RUNAS cannot reach $DIR: keeping the socket and log in $base"
		fi
	fi
	if [ "$reach" = yes ]; then
		sockdir=$DIR/sock
		logfile=$DIR/log
	else
		sockdir=$base/sock
		logfile=$base/log
	fi
	mkdir -p "$sockdir"
	: >"$logfile"
	[ -z "$RUNAS" ] || chown "$RUNAS" "$sockdir" "$logfile"

	say "initdb in $base/data${RUNAS:+ as user $RUNAS}"
	if ! as_server "$bindir/initdb" -D "$base/data" -U "$SUPERUSER" -A trust -E UTF8 \
		--locale=C.UTF-8 --no-sync >"$base/initdb.log" 2>&1; then
		cat "$base/initdb.log" >&2
		die "initdb failed"
	fi

	for attempt in 1 2 3 4 5; do
		port=$(pick_port)
		if as_server "$bindir/pg_ctl" -D "$base/data" -l "$logfile" -w -t 60 \
			-o "-p $port -k '$sockdir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
			start >/dev/null 2>&1; then
			break
		fi
		if tail -n 20 "$logfile" | grep -q -e 'could not bind' -e 'already in use' &&
			[ "$attempt" -lt 5 ]; then
			say "port $port was taken meanwhile; retrying"
			continue
		fi
		tail -n 20 "$logfile" >&2 || true
		die "pg_ctl start failed (log: $logfile)"
	done

	cat >"$DIR/env" <<EOF
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=$SUPERUSER
PGDATABASE=postgres
PGBIN=$bindir
DATADIR=$base/data
PGSOCKDIR=$sockdir
PGLOG=$logfile
EOF
	say "started PostgreSQL $("$bindir/postgres" -V | awk '{print $3}') on 127.0.0.1:$port (data $base/data${RUNAS:+, user $RUNAS}); env in $DIR/env"
}

case $ACTION in
start) do_start ;;
stop) do_stop ;;
*) usage ;;
esac

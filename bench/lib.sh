# bench/lib.sh: what the benchmark scripts share. Sourced, not run. The
# caller defines say and die, PROG, LOGS (a directory for logs) and
# SUPERUSER (the cluster's superuser name) first.

# bench_pgbin: PGBIN (default: the newest /usr/lib/postgresql/<major>/bin)
# and PSQL, the real psql binary of that version. /usr/bin/psql on Debian is
# pg_wrapper, a Perl script that costs ~37 ms per start: timing it would
# charge every psql-based tool for Perl. Anything that looks psql up on PATH
# finds the real binary too.
bench_pgbin() {
	if [ -z "${PGBIN-}" ]; then
		PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
		PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
	fi
	PSQL=$PGBIN/psql
	if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ] || [ ! -x "$PSQL" ]; then
		die "no PostgreSQL server and client binaries in \"$PGBIN\" (apt-get install postgresql, or set PGBIN)"
	fi
	if ! head -c 4 "$PSQL" | grep -q ELF; then
		die "\"$PSQL\" is not an executable binary (a wrapper script would add its own start-up to every psql run)"
	fi
	export PATH="$PGBIN:$PATH"
}

# as_server CMD...: run as the server's user (postgres when we are root).
RUNAS=
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=postgres
fi
as_server() {
	if [ -n "$RUNAS" ]; then
		(cd / && runuser -u "$RUNAS" -- "$@")
	else
		"$@"
	fi
}

bench_port_free() {
	python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# bench_cluster_stop: stop the cluster bench_cluster_start started (for the
# EXIT trap); it stops nothing else. BENCH_KEEP=1 leaves it running (to
# profile against it) and says how to stop it.
PGBASE=
PG_STARTED=
bench_cluster_stop() {
	if [ -n "$PG_STARTED" ] && [ "${BENCH_KEEP-}" = 1 ]; then
		say "BENCH_KEEP=1: the cluster stays up (PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=$SUPERUSER);" \
			"stop it with: ${RUNAS:+runuser -u $RUNAS -- }$PGBIN/pg_ctl -D $PGBASE/data stop && rm -rf $PGBASE"
		return
	fi
	if [ -n "$PG_STARTED" ]; then
		as_server "$PGBIN/pg_ctl" -D "$PGBASE/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			say "warning: could not stop the cluster in $PGBASE/data"
		PG_STARTED=
	fi
	case $PGBASE in
	/var/tmp/padctl-bench-*) rm -rf -- "$PGBASE" ;;
	esac
}

# bench_cluster_start [SETTING...]: initdb and start a throwaway cluster on a
# free loopback port, data on disk (/var/tmp, not tmpfs: fsync must cost
# what it costs), fsync and synchronous_commit left on; each SETTING is a
# server option such as max_connections=50. Exports PGHOST, PGPORT, PGUSER,
# PGDATABASE and plain TCP for every libpq client (no SSL or GSSAPI
# negotiation in anybody's numbers); sets PORT and PGVER.
bench_cluster_start() {
	if [ -n "$RUNAS" ]; then
		id "$RUNAS" >/dev/null 2>&1 || die "running as root but there is no \"$RUNAS\" user"
	fi
	local opts="-c listen_addresses=127.0.0.1" s p attempt
	for s in "$@"; do
		opts="$opts -c $s"
	done
	PGBASE=$(mktemp -d /var/tmp/padctl-bench-XXXXXX)
	chmod 755 "$PGBASE"
	mkdir "$PGBASE/data" "$PGBASE/sock"
	chmod 700 "$PGBASE/data"
	[ -z "$RUNAS" ] || chown "$RUNAS" "$PGBASE" "$PGBASE/data" "$PGBASE/sock"
	as_server "$PGBIN/initdb" -D "$PGBASE/data" -U "$SUPERUSER" -A trust -E UTF8 --locale=C.UTF-8 \
		>"$LOGS/initdb.log" 2>&1 || die "initdb failed (see $LOGS/initdb.log)"
	PORT=
	for attempt in 1 2 3 4 5; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		bench_port_free "$p" || continue
		if as_server "$PGBIN/pg_ctl" -D "$PGBASE/data" -l "$PGBASE/log" -w -t 60 \
			-o "-p $p -k $PGBASE/sock $opts" start >/dev/null 2>&1; then
			PORT=$p
			PG_STARTED=1
			break
		fi
		PG_STARTED=1 # pg_ctl may have left a server behind: make the trap try
		tail -n 5 "$PGBASE/log" >&2 || true
		say "start attempt $attempt on port $p failed; retrying"
	done
	[ -n "$PORT" ] || die "could not start PostgreSQL (log: $PGBASE/log)"
	export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=$SUPERUSER PGDATABASE=postgres
	export PGSSLMODE=disable PGGSSENCMODE=disable
	unset PGPASSWORD PGSERVICE
	PGVER=$("$PGBIN/postgres" -V | awk '{print $3}')
}

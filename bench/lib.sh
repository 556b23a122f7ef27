# bench/lib.sh: what the benchmark scripts share. Sourced, not run. The
# caller sets PROG (its name, for messages) before sourcing it, and LOGS (a
# directory for logs: bench_workdir makes it) and SUPERUSER (the cluster's
# superuser name) before starting a cluster.

# say prints a progress line on stderr; die prints an error there and exits 1
say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

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

# bench_workdir [SUB [LOGNAME]]: makes the work directory W absolute and
# LOGS ($W/LOGNAME, default logs) an empty directory. With SUB, W becomes
# $W/SUB and is emptied as a whole (the run's own tree); without it, only
# LOGS is emptied (W keeps what other scripts left there).
bench_workdir() {
	mkdir -p "$W"
	W=$(cd "$W" && pwd)${1:+/$1}
	LOGS=$W/${2:-logs}
	if [ -n "${1-}" ]; then
		rm -rf -- "$W"
	else
		rm -rf -- "$LOGS"
	fi
	mkdir -p "$LOGS"
}

# bench_stop_at_exit: at exit (also after INT or TERM) run the script's
# bench_at_exit if it defines one, then stop the cluster; the script's exit
# status stays.
bench_stop_at_exit() {
	trap bench_exit EXIT
	trap 'exit 130' INT TERM
}
bench_exit() {
	local rc=$?
	set +e
	! declare -F bench_at_exit >/dev/null || bench_at_exit
	bench_cluster_stop
	exit "$rc"
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

# bench_backup_schema DB SIZE_MB: the owned schema of the backup benchmarks
# in database DB (made already): app (employees, PA-dealing requests with
# three indexes, an audit log with JSON details) grown in batches to about
# SIZE_MB MB, and a protected schema ref. Sets SCHEMA_BYTES (the size of
# app's tables, indexes included) and ROWS (the requests; twice as many
# audit rows).
bench_backup_schema() {
	local db=$1 mb=$2 batch=100000 next=1 last
	_bq() { "$PSQL" -XAtq -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
	_bq "CREATE SCHEMA app; CREATE SCHEMA ref;
	CREATE TABLE ref.security (isin char(12) PRIMARY KEY, ticker text NOT NULL);
	INSERT INTO ref.security SELECT lpad(g::text, 12, 'X'), 'T' || g FROM generate_series(1, 5000) g;
	CREATE TABLE app.employee (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL,
	  department text NOT NULL, manager_id int REFERENCES app.employee);
	INSERT INTO app.employee SELECT g, 'Employee ' || g, 'employee' || g || '@example.com',
	  (ARRAY['Equities', 'Fixed Income', 'Compliance', 'Operations', 'Research'])[1 + g % 5],
	  CASE WHEN g > 100 THEN 1 + g % 100 END FROM generate_series(1, 20000) g;
	CREATE TABLE app.pad_request (id bigint PRIMARY KEY, employee_id int NOT NULL REFERENCES app.employee,
	  isin char(12) NOT NULL, ticker text NOT NULL, side text NOT NULL CHECK (side IN ('buy', 'sell')),
	  quantity numeric(18,4) NOT NULL, price numeric(18,6), status text NOT NULL, reason text,
	  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
	CREATE INDEX pad_request_employee ON app.pad_request (employee_id, created_at);
	CREATE INDEX pad_request_ticker ON app.pad_request (ticker);
	CREATE INDEX pad_request_open ON app.pad_request (status) WHERE status <> 'executed';
	CREATE TABLE app.audit_log (id bigint PRIMARY KEY, request_id bigint NOT NULL, action text NOT NULL,
	  actor text NOT NULL, detail jsonb NOT NULL, at timestamptz NOT NULL);
	CREATE INDEX audit_log_request ON app.audit_log (request_id);" >/dev/null
	_bsize() {
		_bq "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		   WHERE n.nspname = 'app' AND c.relkind = 'r'"
	}
	while [ "$(_bsize)" -lt $((mb * 1000000)) ]; do
		last=$((next + batch - 1))
		_bq "INSERT INTO app.pad_request SELECT g, 1 + g % 20000, lpad((1 + g % 5000)::text, 12, 'X'), 'T' || (1 + g % 5000),
		     CASE WHEN g % 3 = 0 THEN 'sell' ELSE 'buy' END, (g % 997) * 10.5, 10 + (g % 5003) / 7.0,
		     (ARRAY['requested', 'approved', 'rejected', 'executed', 'withdrawn'])[1 + g % 5],
		     'pre-clearance: ' || md5(g::text) || ' ' || md5((g * 7)::text),
		     timestamptz '2024-01-01' + g * interval '17 seconds', timestamptz '2024-01-01' + g * interval '19 seconds'
		   FROM generate_series($next, $last) g;
		   INSERT INTO app.audit_log SELECT 2 * g + k, g, (ARRAY['created', 'approved', 'executed'])[1 + (g + k) % 3],
		     'employee' || (1 + g % 20000) || '@example.com',
		     jsonb_build_object('request', g, 'step', k, 'note', md5((g + k)::text), 'ip', '10.0.' || (g % 250) || '.' || k),
		     timestamptz '2024-01-01' + g * interval '17 seconds' + k * interval '1 hour'
		   FROM generate_series($next, $last) g, generate_series(0, 1) k" >/dev/null
		next=$((last + 1))
	done
	_bq "VACUUM ANALYZE" >/dev/null
	SCHEMA_BYTES=$(_bsize)
	ROWS=$((next - 1))
}

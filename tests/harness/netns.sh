# netns.sh: a network namespace that plays a host of its own, for the
# bastion scenarios. Sourced by a CLI scenario after tests/cli/lib.sh.
#
# netns_available: 0 when this process may create network namespaces (root
# and `ip netns` work); the scenario skips with a clear message otherwise.
#
# netns_create: a namespace (unique name) joined to this host by a veth pair
# on a /30 of its own: NETNS, NETNS_HOST_ADDR (this side), NETNS_ADDR (the
# namespace's side). Removed at exit.
#
# netns_pg_start [TLS_NAME]: a PostgreSQL cluster inside the namespace,
# listening only on the namespace's own 127.0.0.1 (so nothing outside
# reaches it over TCP); superuser $TPG_USER with trust auth; run as the
# postgres user when root. With TLS_NAME it serves TLS with a self-signed
# certificate for that name (NETNS_PG_CERT, usable as PGSSLROOTCERT). Sets
# NETNS_PG_PORT and NETNS_PG_SOCK (its socket directory, which setup code on
# this host may use). Stopped at exit.
#
# netns_hosts LINE...: the namespace's /etc/hosts (what `ip netns exec`
# shows its processes), removed at exit.

netns_available() {
	[ "$(id -u)" -eq 0 ] || return 1
	command -v ip >/dev/null 2>&1 || return 1
	local probe
	probe=pcp$$x$RANDOM
	ip netns add "$probe" 2>/dev/null || return 1
	ip netns del "$probe" 2>/dev/null
	return 0
}

netns_create() {
	local id a b i
	id=$(printf '%x%x' "$$" "$RANDOM")
	id=${id:0:9}
	NETNS=pcns$id
	ip netns add "$NETNS" || die "ip netns add $NETNS failed"
	on_exit "ip netns del '$NETNS'"
	ip link add "pch$id" type veth peer name "pcn$id" || die "ip link add veth failed"
	on_exit "ip link del 'pch$id'"
	ip link set "pcn$id" netns "$NETNS" || die "moving the veth end into $NETNS failed"
	# a /30 nobody on this host uses
	for ((i = 0; i < 50; i++)); do
		a=$((RANDOM % 200 + 20))
		b=$(((RANDOM % 64) * 4))
		ip -o addr show | grep -q " 10\.$a\.$b\." || break
	done
	NETNS_HOST_ADDR=10.$a.$b.1
	NETNS_ADDR=10.$a.$b.2
	ip addr add "$NETNS_HOST_ADDR/30" dev "pch$id" || die "ip addr add failed"
	ip link set "pch$id" up || die "ip link set up failed"
	ip netns exec "$NETNS" ip addr add "$NETNS_ADDR/30" dev "pcn$id" || die "ip addr add in $NETNS failed"
	ip netns exec "$NETNS" ip link set "pcn$id" up || die "ip link set up in $NETNS failed"
	ip netns exec "$NETNS" ip link set lo up || die "ip link set lo up in $NETNS failed"
}

netns_hosts() {
	mkdir -p "/etc/netns/$NETNS" || die "cannot create /etc/netns/$NETNS"
	on_exit "rm -rf -- '/etc/netns/$NETNS'"
	printf '%s\n' "$@" >"/etc/netns/$NETNS/hosts"
}

netns_pg_start() {
	local tls=${1:-} base runas=() port i ssl=
	local shm=/dev/shm
	[ -d "$shm" ] && [ -w "$shm" ] || shm=/tmp
	base=$(mktemp -d "$shm/padctl-test-ns-XXXXXX") || die "mktemp failed"
	on_exit "rm -rf -- '$base'"
	mkdir "$base/data" "$base/sock"
	chmod 700 "$base/data"
	chmod 755 "$base"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres "$base" || die "chown postgres $base failed"
		runas=(runuser -u postgres --)
	fi
	(cd / && "${runas[@]}" "$TPG_BIN/initdb" -D "$base/data" -U "$TPG_USER" -A trust -E UTF8 \
		--locale=C.UTF-8 --no-sync >"$base/initdb.log" 2>&1) || die "initdb failed: $(cat "$base/initdb.log")"
	if [ -n "$tls" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
			-subj "/CN=$tls" -addext "subjectAltName=DNS:$tls" \
			-keyout "$base/server.key" -out "$base/server.crt" >/dev/null 2>&1 || die "openssl req failed"
		chmod 600 "$base/server.key"
		[ "$(id -u)" -ne 0 ] || chown postgres "$base/server.key" "$base/server.crt"
		cp "$base/server.crt" "$base/root.crt"
		NETNS_PG_CERT=$base/root.crt
		ssl="-c ssl=on -c ssl_cert_file=$base/server.crt -c ssl_key_file=$base/server.key"
	fi
	on_exit "(cd / && ip netns exec '$NETNS' ${runas[*]} '$TPG_BIN/pg_ctl' -D '$base/data' -m immediate -w -t 30 stop)"
	# any port will do inside the namespace: it has no other servers
	port=$((20000 + RANDOM % 20000))
	(cd / && ip netns exec "$NETNS" "${runas[@]}" "$TPG_BIN/pg_ctl" -D "$base/data" -l "$base/log" -w -t 60 \
		-o "-p $port -k '$base/sock' -c listen_addresses=127.0.0.1 -c fsync=off $ssl" start >/dev/null 2>&1) ||
		die "could not start PostgreSQL in $NETNS (log: $(tail -n 5 "$base/log" 2>/dev/null))"
	NETNS_PG_PORT=$port
	NETNS_PG_SOCK=$base/sock
}

#!/usr/bin/env bash
# A network partition in the middle of a migration: padctl gives up on its
# own (TCP keepalives and tcp_user_timeout on its connection), and the server
# ends the orphaned session and releases the target's lock (the same settings
# server-side, and client_connection_check_interval on the deploy session).
# The server runs in a network namespace reached through a veth pair; the
# partition is the namespace's end of the pair going down, so no packet gets
# through and nobody is told. Needs root (skipped otherwise).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! id postgres >/dev/null 2>&1; then
	ok "skipped: a network namespace needs root, iproute2 and a postgres user"
	finish
fi

NS=padctl385_$$
VA=pc$$a
VB=pc$$b
NET=10.238.$((RANDOM % 250))
ip netns add "$NS" || die "ip netns add $NS failed"
on_exit "ip netns del '$NS'"
ip link add "$VA" type veth peer name "$VB" || die "could not create the veth pair"
on_exit "ip link del '$VA'"
ip link set "$VB" netns "$NS"
ip addr add "$NET.1/30" dev "$VA"
ip link set "$VA" up
ip netns exec "$NS" ip addr add "$NET.2/30" dev "$VB"
ip netns exec "$NS" ip link set "$VB" up
ip netns exec "$NS" ip link set lo up

# a cluster listening only inside the namespace; its Unix socket (a file)
# stays reachable from here whatever happens to the network
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=/tmp
CL=$(mktemp -d "$shm/padctl-test-385-XXXXXX") || die "mktemp failed"
on_exit "rm -rf -- '$CL'"
mkdir "$CL/data" "$CL/sock"
chmod 700 "$CL/data"
chown -R postgres "$CL"
(cd / && runuser -u postgres -- "$TPG_BIN/initdb" -D "$CL/data" -U "$TPG_USER" -A trust -E UTF8 \
	--locale=C.UTF-8 --no-sync >"$CL/initdb.log" 2>&1) || die "initdb failed: $(cat "$CL/initdb.log")"
printf 'host all all %s.0/30 trust\n' "$NET" >>"$CL/data/pg_hba.conf"
PORT=54385
on_exit "(cd / && runuser -u postgres -- '$TPG_BIN/pg_ctl' -D '$CL/data' -m immediate -w -t 30 stop)"
(cd / && ip netns exec "$NS" runuser -u postgres -- "$TPG_BIN/pg_ctl" -D "$CL/data" -l "$CL/log" -w -t 60 \
	-o "-p $PORT -k '$CL/sock' -c listen_addresses=$NET.2 -c fsync=off" start >/dev/null 2>&1) ||
	die "could not start the cluster in $NS (log: $(tail -n 5 "$CL/log" 2>/dev/null))"
sock_q() { "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$CL/sock" -p "$PORT" -U "$TPG_USER" -d "$1" -c "$2"; }
sock_q postgres "CREATE DATABASE part" >/dev/null || die "could not create database part"

new_project partition
write_env part "$PORT"
sed -i "s/host: $TPG_HOST/host: $NET.2/" "$PROJECT/envs/test.yml"
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.settings AS SELECT current_setting('client_connection_check_interval') AS check_interval,
  current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_user_timeout') AS user_timeout,
  CASE WHEN inet_client_addr() IS NOT NULL THEN 'on' END AS tcp;"
add_migration 0002 slow "CREATE TABLE app.slow (i int);
SELECT pg_sleep(CASE WHEN to_regclass('public.slow_flag') IS NOT NULL THEN 600 ELSE 0 END);"
sock_q part "CREATE TABLE public.slow_flag ()" >/dev/null

sleeping() { [ -n "$(sock_q part "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep'")" ]; }
lock_free() { [ "$(sock_q part "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0 ]; }

group "the deploy session carries the keepalive and check settings"
LOG=$PROJECT/deploy1
pc_bg "$LOG" deploy test
pid=$BG_PID
wait_for 60 sleeping || { bg_wait "$pid" "$LOG" 1; fail_now "0002 never reached pg_sleep"; }
backend=$(sock_q part "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
assert_eq "1s|10|30000|on" "$(sock_q part "SELECT * FROM app.settings")" \
	"client_connection_check_interval, tcp_keepalives_idle, tcp_user_timeout and keepalives in the deploy session"
# the backend's own settings are not visible from another session: ask the socket it uses
assert_eq 1 "$(sock_q part "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $backend")" \
	"the deploy holds the target's lock"
ok "deploy (pid $pid), with keepalives and the connection check, sleeps in 0002 on backend $backend holding the lock"

group "partition: padctl gives up, the server releases the lock"
ip netns exec "$NS" ip link set "$VB" down
bg_wait "$pid" "$LOG" 240
[ "$RC" != 0 ] || fail_now "padctl exited 0 across a partition"
wait_for 240 lock_free || fail_now "the lock is still held 240 s after padctl gave up: $(sock_q part "SELECT * FROM pg_stat_activity WHERE pid = $backend")"
assert_eq 0 "$(sock_q part "SELECT count(*) FROM pg_stat_activity WHERE pid = $backend")" "backend $backend is gone"
assert_eq f "$(sock_q part "SELECT to_regclass('app.slow') IS NOT NULL")" "0002 rolled back"
ok "padctl exited $RC on its own; the server ended backend $backend and released the lock"

group "after the partition heals, the next deploy runs"
ip netns exec "$NS" ip link set "$VB" up
sock_q part "DROP TABLE public.slow_flag" >/dev/null
pc deploy test --lock-timeout 30
assert_rc 0
assert_err_contains "marked interrupted"
assert_eq "0001|applied
0002|applied" "$(sock_q part "SELECT version, status FROM padctl.migrations ORDER BY version")" "history"
ok "deploy applies 0002 and closes the partitioned run as interrupted"

finish

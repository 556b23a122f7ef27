#!/usr/bin/env bash
# plan starts connecting to its targets without waiting (inspect_start_async)
# and moves the connections on while it reads the migration files. A target
# that refuses the connection, a database that does not exist and a server
# that never answers (connect_timeout) are reported as before, naming the
# target; a reachable target next to an unreachable one is still planned
# only when all are reachable.
. "$(dirname "$0")/lib.sh"

new_project connoverlap
for i in $(seq -w 1 70); do
	add_migration "00$i" "m$i" "CREATE TABLE app.t$i (i int);" "DROP TABLE app.t$i;" "SELECT $i;"
done
add_migration 0000 schema "CREATE SCHEMA app;"

group "a reachable target: the plan as before"
pc plan test
assert_rc 0
assert_out_contains "target t1: 71 migrations"
ok "71 migrations planned"

group "a closed port"
port=$(free_port)
write_env "$DB" "$port"
pc plan test
assert_rc 1
assert_err_contains "cannot plan for target \"t1\": it is not reachable"
assert_err_contains "cannot connect to target \"t1\" ($TPG_HOST:$port/$DB)"
assert_err_contains "port $port failed: Connection refused"
ok "not reachable, connection refused"

group "a database that does not exist"
write_env "${DB}_none"
pc plan test
assert_rc 1
assert_err_contains "cannot connect to target \"t1\" ($TPG_HOST:$TPG_PORT/${DB}_none)"
assert_err_contains "database \"${DB}_none\" does not exist"
ok "the server's FATAL"

group "a server that never answers: connect_timeout"
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(120)' >"$PROJECT/silent.port" &
track_pid $!
wait_for 10 test -s "$PROJECT/silent.port" || fail_now "the silent listener did not start"
silent=$(cat "$PROJECT/silent.port")
cat >"$PROJECT/envs/test.yml" <<YML
tier: nonprod
pipeline: standard
targets:
  t1:
    database:
      host: 127.0.0.1
      port: $silent
      dbname: $DB
      user: $TPG_USER
      connect_timeout: 1
YML
pc plan test
assert_rc 1
assert_err_contains "cannot plan for target \"t1\": it is not reachable"
assert_err_contains "connection to server at \"127.0.0.1\", port $silent failed: timeout expired"
ok "timeout expired, as libpq says it"

group "two targets, one unreachable"
write_env "$DB" "$TPG_PORT" "  t2:
    database:
      host: $TPG_HOST
      port: $port
      dbname: $DB
      user: $TPG_USER"
pc plan test
assert_rc 1
assert_err_contains "cannot plan for target \"t2\": it is not reachable"
assert_out_not_contains "recorded plan"
write_env "$DB"
pc plan test
assert_rc 0
assert_out_contains "recorded plan"
ok "t2 named, nothing recorded; with t1 alone the plan is recorded"

finish

#!/usr/bin/env bash
# The local env's managed database: deploy starts a private cluster under
# .padctl/, `local status|stop` drive it, and the next use starts it again.
. "$(dirname "$0")/lib.sh"

new_project managed_local
cat >"$PROJECT/envs/local.yml" <<'YAML'
tier: nonprod
pipeline: standard
targets:
  local:
    database:
      managed: true
YAML
add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.account (id bigint PRIMARY KEY);" "DROP SCHEMA app CASCADE;" "SELECT to_regclass('app.account') IS NOT NULL;"
add_migration 0002 add_trade "CREATE TABLE app.trade (id bigint PRIMARY KEY);"

on_exit cleanup_local

local_port() { sed -nE 's/^status: +running on 127\.0\.0\.1:([0-9]+)$/\1/p' <<<"$OUT"; }

group "before first use"
pc local status
assert_rc 0
assert_out_contains "not created"
ok "local status: not created yet"

group "deploy local creates and starts the cluster and migrates it"
pc deploy local
assert_rc 0
assert_err_contains "applied 0002_add_trade"
[ -f "$PROJECT/.padctl/pg/password" ] || fail_now "no $PROJECT/.padctl/pg/password"
assert_eq 600 "$(stat -c %a "$PROJECT/.padctl/pg/password")" "mode of the password file"
ok "deploy local applies 0001-0002 on a private cluster under .padctl/"

group "status local"
pc status local
assert_rc 0
assert_out_contains "target local: reachable"
assert_out_contains "applied 2, baselined 0, skipped 0, pending 0"
ok "status local: applied 2"

group "local status shows it running"
pc local status
assert_rc 0
port=$(local_port)
[ -n "$port" ] || fail_now "local status does not say \"running on 127.0.0.1:PORT\"" "got: $OUT"
assert_out_contains "connection: postgresql://padctl@127.0.0.1:$port/postgres"
pc --json local status
assert_eq "True $port" "$(json_get 'str(d["running"]) + " " + str(d["port"])')" "--json local status"
ok "local status: running on 127.0.0.1:$port"

group "the data really is in the cluster"
pw=$(cat "$PROJECT/.padctl/pg/password")
dbs=$(PGPASSWORD=$pw "$PSQL" -XAtq -h 127.0.0.1 -p "$port" -U padctl -d postgres -c \
	"SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'") ||
	fail_now "cannot connect to the local cluster on port $port"
[ -n "$dbs" ] || fail_now "no application database in the local cluster"
found=
for d in $dbs; do
	if [ "$(PGPASSWORD=$pw "$PSQL" -XAtq -h 127.0.0.1 -p "$port" -U padctl -d "$d" -c \
		"SELECT count(*) FROM padctl.migrations WHERE status = 'applied'" 2>/dev/null)" = 2 ]; then
		found=$d
	fi
done
[ -n "$found" ] || fail_now "no database of the local cluster has 2 applied migrations (databases: $dbs)"
ok "database $found of the local cluster has both migrations recorded"

group "local stop"
pc local stop
assert_rc 0
assert_out_contains "status:     stopped"
pc local status
assert_out_contains "stopped"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	fail_now "something still listens on 127.0.0.1:$port after local stop"
fi
ok "local stop stops it; nothing listens on $port"

group "the next status local starts it again"
pc status local
assert_rc 0
assert_out_contains "target local: reachable"
assert_out_contains "applied 2"
pc local status
[ -n "$(local_port)" ] || fail_now "the cluster is not running after status local" "got: $OUT"
ok "status local restarts the cluster and still sees applied 2"

finish

#!/usr/bin/env bash
# TLS through the tunnel: with sslmode verify-full, libpq checks the server's
# certificate against database.host (the real name), not the tunnel's
# 127.0.0.1. A namespace plays the SSH host, resolving db.qa.internal and
# other.qa.internal to its own loopback, where a PostgreSQL serves TLS with a
# certificate for db.qa.internal only. Needs root (ip netns); skipped otherwise.
. "$(dirname "$0")/lib.sh"
. "$PADCTL_SOURCE_DIR/tests/harness/sshd.sh"
. "$PADCTL_SOURCE_DIR/tests/harness/netns.sh"

if ! sshd_available || ! command -v openssl >/dev/null 2>&1; then
	printf '%s: skipped: no sshd, ssh-keygen or openssl\n' "$CLI_NAME"
	exit 0
fi
if ! netns_available; then
	printf '%s: skipped: network namespaces need root and iproute2 (ip netns); CI runs as root and runs this\n' \
		"$CLI_NAME"
	exit 0
fi
unset SSH_AUTH_SOCK

new_project ssh843
netns_create
netns_hosts "127.0.0.1 localhost db.qa.internal other.qa.internal"
netns_pg_start db.qa.internal
S=$PROJECT/sshd
sshd_start "$S" "$NETNS_ADDR" "$NETNS"
export PGSSLROOTCERT=$NETNS_PG_CERT

tls_env() { # HOST SSLMODE
	cat >"$PROJECT/envs/qa.yml" <<YAML
targets:
  qa:
    database:
      host: $1
      port: $NETNS_PG_PORT
      dbname: postgres
      user: $TPG_USER
      sslmode: $2
    ssh:
      host: $NETNS_ADDR
      port: $SSHD_PORT
      user: $SSHD_USER
      identity: $SSHD_USER_KEY
      known_hosts: $SSHD_KNOWN_HOSTS
      tunnel: true
YAML
}

group "verify-full checks the real host name through the tunnel"
tls_env db.qa.internal verify-full
pc status qa
assert_rc 0
assert_out_contains "reachable"
ok "the certificate for db.qa.internal is accepted for database.host db.qa.internal"

group "a certificate for another name is refused through the tunnel"
tls_env other.qa.internal verify-full
pc status qa
assert_rc 1
assert_any_contains "does not match host name \"other.qa.internal\""
ok "verify-full compares with database.host, never with 127.0.0.1"

finish

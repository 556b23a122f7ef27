#!/usr/bin/env bash
# SSH targets through a real sshd on a loopback port: a target reached through
# padctl's tunnel deploys; the host key is checked against known_hosts (plain,
# hashed, [host]:port) and an unknown, changed or revoked key is refused with
# its fingerprint; a wrong user key and a missing agent are refused naming
# what the server offered and what was tried; the agent and a passphrase from
# passphrase_env log in.
. "$(dirname "$0")/lib.sh"
. "$PADCTL_SOURCE_DIR/tests/harness/sshd.sh"

if ! sshd_available; then
	printf '%s: skipped: no sshd (%s) or ssh-keygen (apt-get install openssh-server openssh-client)\n' \
		"$CLI_NAME" "$SSHD_BIN"
	exit 0
fi

new_project ssh840
S=$PROJECT/sshd
sshd_start "$S"
unset SSH_AUTH_SOCK

# ssh_env [EXTRA_SSH_YAML]: target t1 reaches the shared cluster through the sshd
ssh_env() {
	write_env "$DB" "$TPG_PORT" "    ssh:
      host: 127.0.0.1
      port: $SSHD_PORT
      user: $SSHD_USER
      known_hosts: ${KH:-$SSHD_KNOWN_HOSTS}
      tunnel: true
${1:-      identity: $SSHD_USER_KEY}"
}

add_migration 0001 init "CREATE SCHEMA app; CREATE TABLE app.t (id int);" "DROP SCHEMA app CASCADE;"

group "deploy and status through the tunnel"
ssh_env
pc deploy test
assert_rc 0
assert_table_exists app.t
pc status test
assert_rc 0
assert_out_contains "applied 1"
pc -v history test
assert_rc 0
ok "deploy, status and history through padctl's tunnel"

group "the forwarder ends with padctl"
pc -v status test
assert_rc 0
fpid=$(sed -n 's/.*forwarder pid \([0-9]*\).*/\1/p' <<<"$ERR" | head -n 1)
[ -n "$fpid" ] || fail_now "-v did not name the forwarder's pid"
wait_for 10 bash -c "! kill -0 $fpid" || fail_now "forwarder $fpid outlived padctl"
ok "the tunnel's forwarder is gone when padctl exits"

group "identity pinning through the tunnel"
sysid=$(psql_q "SELECT system_identifier FROM pg_control_system()")
assert_eq "test/t1 $sysid $DB" "$(grep -v '^#' "$PROJECT/known_targets")" "the known_targets line"
ok "the target is pinned to the database server's identity through the tunnel"

group "unknown host key"
: >"$S/empty_kh"
KH=$S/empty_kh ssh_env
pc status test
assert_rc 1
assert_any_contains "host key is not in"
assert_any_contains "$SSHD_FPR"
assert_any_contains "ssh-keyscan -p $SSHD_PORT -t ssh-ed25519 127.0.0.1"
assert_any_contains "ssh-keygen -lF '[127.0.0.1]:$SSHD_PORT'"
ok "an unknown host key is refused with its fingerprint and how to trust it"

group "known_hosts is never written"
assert_eq 0 "$(wc -c <"$S/empty_kh")" "padctl wrote to known_hosts"
ok "padctl does not write known_hosts"

group "a missing known_hosts file"
KH=$S/no_such_kh ssh_env
pc status test
assert_rc 1
assert_any_contains "could not read the known_hosts file \"$S/no_such_kh\": it does not exist"
assert_any_contains "ssh-keyscan"
ok "a missing known_hosts is refused with how to create it"

group "changed host key"
sshd_keygen "$S/other"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$S/other.pub")" >"$S/changed_kh"
KH=$S/changed_kh ssh_env
pc status test
assert_rc 1
assert_any_contains "host key has changed"
assert_any_contains "$SSHD_FPR"
assert_any_contains "line 1"
ok "a changed host key is refused"

group "a key for another port is not this host's"
printf '127.0.0.1 %s\n' "$(cut -d' ' -f1,2 "$SSHD_HOST_PUB")" >"$S/port22_kh"
KH=$S/port22_kh ssh_env
pc status test
assert_rc 1
assert_any_contains "host key is not in"
ok "a plain host entry (port 22) does not vouch for [host]:port"

group "revoked host key"
{ cat "$SSHD_KNOWN_HOSTS"; printf '@revoked * %s\n' "$(cut -d' ' -f1,2 "$SSHD_HOST_PUB")"; } >"$S/revoked_kh"
KH=$S/revoked_kh ssh_env
pc status test
assert_rc 1
assert_any_contains "host key is revoked"
assert_any_contains "line 2"
ok "a revoked key is refused even with a matching line"

group "an unreadable line is an error, not skipped"
{ cat "$SSHD_KNOWN_HOSTS"; printf '@revokd * ssh-ed25519 AAAA\n'; } >"$S/bad_kh"
KH=$S/bad_kh ssh_env
pc status test
assert_rc 1
assert_any_contains "line 2 has a marker other than"
ok "an unknown marker is refused with file:line"

group "hashed known_hosts"
cp "$SSHD_KNOWN_HOSTS" "$S/hashed_kh"
ssh-keygen -q -H -f "$S/hashed_kh" >/dev/null 2>&1 || fail_now "ssh-keygen -H failed"
rm -f "$S/hashed_kh.old"
grep -q '^|1|' "$S/hashed_kh" || fail_now "ssh-keygen -H wrote no hashed line"
KH=$S/hashed_kh ssh_env
pc status test
assert_rc 0
ok "a hashed [host]:port entry is matched"

group "ecdsa and rsa host keys"
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$S/host_ecdsa" </dev/null >/dev/null || fail_now "ssh-keygen ecdsa failed"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$S/host_rsa" </dev/null >/dev/null || fail_now "ssh-keygen rsa failed"
printf 'HostKey %s\nHostKey %s\n' "$S/host_ecdsa" "$S/host_rsa" >>"$S/sshd_config"
kill -HUP "$SSHD_PID"
sshd_up() { (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null; }
sleep_until_restarted() { grep -q "Received SIGHUP" "$S/sshd.log" && sshd_up; }
wait_for 20 sleep_until_restarted || fail_now "sshd did not come back after SIGHUP"
for t in ecdsa rsa; do
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$S/host_$t.pub")" >"$S/${t}_kh"
done
KH=$S/ecdsa_kh ssh_env
pc -v status test
assert_rc 0
assert_err_contains "host key ecdsa-sha2-nistp256 $(ssh-keygen -lf "$S/host_ecdsa.pub" | awk '{print $2}') matches"
# libssh2 1.10 has no rsa-sha2 host key signatures, and OpenSSH 9 makes no ssh-rsa (SHA-1) ones
KH=$S/rsa_kh ssh_env
pc status test
assert_rc 1
assert_any_contains "holds keys of type ssh-rsa for this host, which the handshake did not choose"
assert_any_contains "add the host's ed25519 or ecdsa key"
# libssh2 would choose ecdsa first on its own: the ed25519-only file works because it is asked for first
KH=$SSHD_KNOWN_HOSTS ssh_env
pc -v status test
assert_rc 0
assert_err_contains "host key ssh-ed25519 $SSHD_FPR matches"
ok "a host known by one key type is asked for that type first (ecdsa, ed25519); an rsa-only entry is explained"

group "wrong user key"
sshd_keygen "$S/stranger"
ssh_env "      identity: $S/stranger"
pc status test
assert_rc 1
assert_any_contains "could not log in"
assert_any_contains "the server offers: publickey"
assert_any_contains "padctl tried: publickey with the identity file $S/stranger"
ok "a key the server does not accept is refused with what was offered and tried"

group "no identity and no agent"
ssh_env "      tools: local"
pc status test
assert_rc 1
assert_any_contains "no ssh agent (SSH_AUTH_SOCK is not set) and no ssh.identity"
ssh_env "      passphrase_env: PADCTL_NOPE"
pc status test
assert_rc 2
assert_err_contains '"ssh.passphrase_env" without "ssh.identity"'
ok "without identity or agent the error says so; a passphrase without an identity is refused"

group "agent"
if command -v ssh-agent >/dev/null 2>&1 && command -v ssh-add >/dev/null 2>&1; then
	AGENT_SOCK=$S/agent.sock
	ssh-agent -D -a "$AGENT_SOCK" >/dev/null 2>&1 &
	track_pid $!
	wait_for 10 test -S "$AGENT_SOCK" || fail_now "ssh-agent did not start"
	SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -q "$SSHD_USER_KEY" 2>/dev/null || fail_now "ssh-add failed"
	ssh_env "      tools: local"
	export SSH_AUTH_SOCK=$AGENT_SOCK
	pc status test
	assert_rc 0
	unset SSH_AUTH_SOCK
	ok "the ssh agent logs in"
else
	printf 'skip - agent: no ssh-agent\n'
fi

group "passphrase from passphrase_env"
sshd_keygen "$S/locked" "s3cret pass"
cat "$S/locked.pub" >>"$S/authorized_keys"
ssh_env "      identity: $S/locked
      passphrase_env: PADCTL_TEST_PASSPHRASE"
pc status test
assert_rc 1
assert_any_contains 'environment variable "PADCTL_TEST_PASSPHRASE" is not set'
export PADCTL_TEST_PASSPHRASE="s3cret pass"
pc status test
assert_rc 0
unset PADCTL_TEST_PASSPHRASE
ok "an encrypted identity opens with the passphrase from the named variable"

group "an ssh section that would do nothing is refused"
ssh_env "      identity: $SSHD_USER_KEY"
sed -i '/tunnel: true/d' "$PROJECT/envs/test.yml"
pc status test
assert_rc 1
assert_any_contains "has an ssh section without tunnel: true or tools: remote"
pc deploy test
assert_rc 2
assert_any_contains "has an ssh section without tunnel: true or tools: remote"
ok "ssh without tunnel or remote tools is refused, never bypassed"

group "tools: remote without a tunnel reaches the database directly"
ssh_env "      identity: $SSHD_USER_KEY
      tools: remote"
sed -i '/tunnel: true/d' "$PROJECT/envs/test.yml"
pc -v status test
assert_rc 0
assert_err_not_contains "forwarder pid"
ok "with tunnel: false the database is reached directly; the SSH host is only for the tools"

group "an unreachable database behind the SSH host"
ssh_env
sed -i "s/port: $TPG_PORT/port: 1/" "$PROJECT/envs/test.yml"
pc status test
assert_rc 1
assert_any_contains "could not reach the database at 127.0.0.1:1"
ok "the SSH host's failure to reach the database is named"

group "hostile values are data"
cat >"$PROJECT/envs/test.yml" <<YAML
targets:
  t1:
    database:
      host: "db\$(touch $S/pwned1);x \`touch $S/pwned2\`"
      port: $TPG_PORT
      dbname: "$DB"
      user: "$TPG_USER"
    ssh:
      host: 127.0.0.1
      port: $SSHD_PORT
      user: "x\$(touch $S/pwned3) 'q' \"d\" \`touch $S/pwned4\`"
      identity: $SSHD_USER_KEY
      known_hosts: $SSHD_KNOWN_HOSTS
      tunnel: true
YAML
pc status test
assert_rc 1
assert_any_contains "could not log in"
sed -i "s/^      user: \"x.*/      user: $SSHD_USER/" "$PROJECT/envs/test.yml"
pc status test
assert_rc 1
assert_any_contains "could not reach the database"
for f in pwned1 pwned2 pwned3 pwned4; do
	[ ! -e "$S/$f" ] || fail_now "a config value ran a command ($f)"
done
ok "host and user names with quotes, \$() and backticks run nothing"

group "doctor"
ssh_env
pc doctor test
assert_rc 0
assert_out_contains "ssh host"
assert_out_contains "host key"
assert_out_contains "$SSHD_FPR"
assert_out_contains "tunnel"
KH=$S/empty_kh ssh_env
pc doctor test
assert_rc 1
assert_out_contains "PROBLEM"
assert_out_contains "ssh-keyscan"
ok "doctor checks the SSH host, its key, the login, the tunnel and the database"

finish

# sshd.sh: a real OpenSSH server for the SSH scenarios. Sourced by a CLI
# scenario after tests/cli/lib.sh (it uses die, on_exit, track_pid, free_port).
#
# sshd_start DIR [ADDR [NETNS]]: generate a host key and a user key in DIR,
# write a config of its own (StrictModes no, UsePAM no, public keys only, its
# own AuthorizedKeysFile and PidFile, TCP forwarding allowed), start
# `sshd -D -e` on ADDR (default 127.0.0.1) and a free port (inside network
# namespace NETNS when given), wait until it accepts connections, and write
# the test's own known_hosts. Sets:
#   SSHD_ADDR SSHD_PORT SSHD_PID   where it listens, its pid
#   SSHD_USER                      the user to log in as (the current one)
#   SSHD_USER_KEY                  a private key in its authorized_keys (no passphrase)
#   SSHD_HOST_PUB                  the host's public key file
#   SSHD_KNOWN_HOSTS               a known_hosts holding exactly that key for [ADDR]:PORT
#   SSHD_FPR                       the host key's SHA256 fingerprint as ssh-keygen prints it
# sshd is stopped at exit (its pid only).
#
# Run as a program for C tests: `bash sshd.sh start DIR` starts it (detached)
# and writes those variables to DIR/env as KEY=VALUE lines; `bash sshd.sh
# stop DIR` stops the sshd whose pid DIR/sshd.pid holds.

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}

# sshd_available: 0 when sshd and ssh-keygen exist (else the scenario should skip).
sshd_available() {
	[ -x "$SSHD_BIN" ] && command -v ssh-keygen >/dev/null 2>&1
}

# sshd_keygen FILE [PASSPHRASE]: an ed25519 key pair FILE, FILE.pub.
sshd_keygen() {
	ssh-keygen -q -t ed25519 -N "${2:-}" -C "padctl-test" -f "$1" </dev/null >/dev/null || die "ssh-keygen $1 failed"
}

sshd_start() {
	local dir=$1 addr=${2:-127.0.0.1} ns=${3:-} port attempt i
	mkdir -p "$dir" || die "cannot create $dir"
	chmod 700 "$dir"
	[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
	sshd_keygen "$dir/host_ed25519"
	sshd_keygen "$dir/user_ed25519"
	cp "$dir/user_ed25519.pub" "$dir/authorized_keys"
	SSHD_USER=$(id -un)
	SSHD_ADDR=$addr
	SSHD_USER_KEY=$dir/user_ed25519
	SSHD_HOST_PUB=$dir/host_ed25519.pub
	local run=()
	[ -z "$ns" ] || run=(ip netns exec "$ns")
	for attempt in 1 2 3 4 5; do
		if [ -n "$ns" ]; then
			port=$((20000 + RANDOM % 20000))
		else
			port=$(free_port)
		fi
		cat >"$dir/sshd_config" <<CFG
Port $port
ListenAddress $addr
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
CFG
		"${run[@]}" "$SSHD_BIN" -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 &
		SSHD_PID=$!
		track_pid "$SSHD_PID"
		for ((i = 0; i < 100; i++)); do
			kill -0 "$SSHD_PID" 2>/dev/null || break
			if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
				SSHD_PORT=$port
				printf '[%s]:%s %s\n' "$addr" "$port" "$(cut -d' ' -f1,2 "$SSHD_HOST_PUB")" >"$dir/known_hosts"
				SSHD_KNOWN_HOSTS=$dir/known_hosts
				SSHD_FPR=$(ssh-keygen -lf "$SSHD_HOST_PUB" | awk '{print $2}')
				return 0
			fi
			sleep 0.1
		done
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		grep -q -e 'Address already in use' -e 'Cannot bind' "$dir/sshd.log" || break
	done
	die "sshd did not start on $addr (log: $(tail -n 5 "$dir/sshd.log"))"
}

# ------------------------------------------------------------------ as a program
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	die() {
		printf 'sshd.sh: error: %s\n' "$*" >&2
		exit 1
	}
	track_pid() { :; }
	free_port() {
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
	}
	[ $# -eq 2 ] || die "usage: sshd.sh start DIR | stop DIR"
	case $1 in
	start)
		sshd_available || die "no sshd ($SSHD_BIN) or ssh-keygen"
		sshd_start "$2"
		{
			for v in SSHD_ADDR SSHD_PORT SSHD_PID SSHD_USER SSHD_USER_KEY SSHD_HOST_PUB SSHD_KNOWN_HOSTS SSHD_FPR; do
				printf '%s=%s\n' "$v" "${!v}"
			done
		} >"$2/env"
		;;
	stop)
		[ -f "$2/sshd.pid" ] && kill "$(cat "$2/sshd.pid")" 2>/dev/null
		exit 0
		;;
	*) die "usage: sshd.sh start DIR | stop DIR" ;;
	esac
fi

#!/usr/bin/env bash
# bench/ssh/backup.sh [SIZE_MB [ROUNDS]]
#
# The backup half of issue 10's benchmark: an owned schema of about SIZE_MB
# megabytes (the same tables as bench/backup/run.sh), a real sshd on a
# loopback port (tests/harness/sshd.sh), and, taking turns ROUNDS times:
#
#   padctl-streamed  padctl deploy of a `backup: {always: true}` pipeline,
#                    ssh.tools: remote: pg_dump on the SSH host, the dump
#                    streamed back over libssh2 into the local backup file
#                    (hashed as it is written), pg_restore --list, recorded
#   ssh-pg_dump      ssh HOST pg_dump -Fc -n app ... > FILE (OpenSSH, as a
#                    user would run it by hand): the floor for streamed-back
#   padctl-kept      the same with ssh.backups_dir: the dump stays on the
#                    SSH host (pg_dump --file there), hashed there with
#                    sha256sum, pg_restore --list there, recorded
#   ssh-pg_dump-f    ssh HOST pg_dump -Fc -n app ... -f FILE: the floor for
#                    kept-on-host
#
# Then, once, what hashing a kept dump costs two ways: sha256sum on the SSH
# host (what padctl does) against reading the file back over SFTP (OpenSSH's
# scp, which speaks SFTP) and hashing it here, both over one open OpenSSH
# connection (ControlMaster), so that logging in is not counted.
#
# Prints a Markdown table of medians and the ratios the issue asks for:
# padctl-streamed / ssh-pg_dump (goal <= 1.10x) and padctl-kept /
# ssh-pg_dump-f (for reference). One unattended command; it starts its own
# cluster and sshd and stops them (and nothing else) on exit.
#
#   SIZE_MB  size of the owned schema (default 500; 50-100 while developing)
#   ROUNDS   timed rounds of the four, in turns, after one untimed run of
#            each (default 5)
# Environment: PADCTL_BIN (default build-rel/padctl; plugins/backup.so next
# to it), BENCH_WORK (default bench/work), PGBIN, BENCH_KEEP.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIZE_MB=${1:-500}
ROUNDS=${2:-5}
case $SIZE_MB$ROUNDS in '' | *[!0-9]*)
	printf 'usage: %s [SIZE_MB [ROUNDS]]\n' "$PROG" >&2
	exit 2
	;;
esac
if [ "$SIZE_MB" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then
	printf '%s: SIZE_MB and ROUNDS must be at least 1\n' "$PROG" >&2
	exit 2
fi
PADCTL_BIN=${PADCTL_BIN:-$ROOT/build-rel/padctl}
case $PADCTL_BIN in /*) ;; *) PADCTL_BIN=$ROOT/$PADCTL_BIN ;; esac
W=${BENCH_WORK:-$ROOT/bench/work}
SUPERUSER=bench_runner

# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh" # say, die and the cluster helpers
command -v python3 >/dev/null || die "python3 not found"
command -v ssh >/dev/null && command -v scp >/dev/null || die "no ssh client (apt-get install openssh-client)"
[ -x "$PADCTL_BIN" ] || die "no padctl at $PADCTL_BIN (build it: see bench/README.md)"
[ -f "$(dirname "$PADCTL_BIN")/plugins/backup.so" ] ||
	die "no plugins/backup.so next to $PADCTL_BIN (build the plugin_backup target)"
bench_pgbin
bench_workdir ssh-backup

bench_at_exit() { bash "$ROOT/tests/harness/sshd.sh" stop "$W/sshd" >/dev/null 2>&1; }
bench_stop_at_exit

bench_cluster_start
bash "$ROOT/tests/harness/sshd.sh" start "$W/sshd" || die "could not start sshd"
while IFS='=' read -r k v; do
	case $k in SSHD_*) declare "$k=$v" ;; esac
done <"$W/sshd/env"
say "PostgreSQL $PGVER on 127.0.0.1:$PORT, data on disk in $PGBASE/data; sshd on 127.0.0.1:$SSHD_PORT"
DB=bench_backup
"$PSQL" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null

# --- the owned schema (bench_backup_schema, as bench/backup/run.sh makes it) -------

say "generating an owned schema of about $SIZE_MB MB"
bench_backup_schema "$DB" "$SIZE_MB"
say "owned schema: $SCHEMA_BYTES bytes"

# --- the project: one env streamed back, one kept on the SSH host -------------------

P=$W/project
KEPT=$W/kept # the "SSH host" is this machine: its directory for kept dumps
mkdir -p "$P/envs" "$P/pipelines" "$P/migrations/0001_noop"
printf 'SELECT 1;\n' >"$P/migrations/0001_noop/up.sql"
printf 'project: bench\nschemas:\n  owned: [app]\n  protected: [ref]\nbackups:\n  keep: 1\n' >"$P/padctl.yml"
printf 'steps:\n  - backup: {always: true}\non_failure: stop\n' >"$P/pipelines/backup.yml"
env_file() { # NAME [BACKUPS_DIR]
	{
		# a target of its own per env: retention (backups.keep, per target) must not prune the other's
		printf 'pipeline: backup\ntargets:\n  %s:\n    database:\n' "$1"
		printf '      host: 127.0.0.1\n      port: %s\n      dbname: %s\n      user: %s\n      sslmode: disable\n' \
			"$PORT" "$DB" "$SUPERUSER"
		printf '    ssh:\n      host: 127.0.0.1\n      port: %s\n      user: %s\n      identity: %s\n' \
			"$SSHD_PORT" "$SSHD_USER" "$SSHD_USER_KEY"
		printf '      known_hosts: %s\n      tunnel: false\n      tools: remote\n' "$SSHD_KNOWN_HOSTS"
		[ -z "${2-}" ] || printf '      backups_dir: %s\n' "$2"
	} >"$P/envs/$1.yml"
}
env_file streamed
env_file kept "$KEPT"
for e in streamed kept; do
	"$PADCTL_BIN" -C "$P" deploy "$e" >"$LOGS/first-$e.log" 2>&1 || die "the first padctl deploy $e failed (see $LOGS/first-$e.log)"
done
[ -n "$(find "$KEPT" -name '*.dump')" ] || die "padctl-kept left no dump under $KEPT"

# --- side by side -----------------------------------------------------------------

SSH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$SSHD_KNOWN_HOSTS"
	-i "$SSHD_USER_KEY" -p "$SSHD_PORT" "$SSHD_USER@127.0.0.1")
DUMP="env PGSSLMODE=disable $PGBIN/pg_dump -Fc -n app -h 127.0.0.1 -p $PORT -U $SUPERUSER $DB"
say "timing: 4 ways, $ROUNDS rounds in turns (after one untimed run each)"
python3 - "$ROUNDS" "$W" "$PADCTL_BIN" "$P" "$DUMP" "${SSH[@]}" <<'PY' | tee "$W/results.md"
import os, resource, shlex, statistics, subprocess, sys, time
rounds, w, padctl, proj, dump = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ssh = sys.argv[6:]
plain, plain_f = os.path.join(w, "ssh.dump"), os.path.join(w, "ssh-f.dump")
ways = {
    "padctl-streamed": ([padctl, "-q", "-C", proj, "deploy", "streamed"], None),
    "ssh-pg_dump": (ssh + [dump], plain),
    "padctl-kept": ([padctl, "-q", "-C", proj, "deploy", "kept"], None),
    "ssh-pg_dump-f": (ssh + [dump + " -f " + shlex.quote(plain_f)], None),
}
def run(name):
    argv, out = ways[name]
    for f in (plain, plain_f):
        if os.path.exists(f):
            os.unlink(f)
    u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(out or os.devnull, "wb") as o:
        r = subprocess.run(argv, stdout=o, stderr=subprocess.PIPE)
    t = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        sys.exit("%s failed: %s" % (name, r.stderr.decode(errors="replace")))
    # this side's CPU (padctl and what it runs here; the ssh client): what load blurs least
    cpu[name].append((u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime))
    return t
cpu = {n: [] for n in ways}
for n in ways:
    run(n)
cpu = {n: [] for n in ways}
times = {n: [] for n in ways}
for i in range(rounds):
    for n in ways:
        times[n].append(run(n))
        print("%s round %d: %.3f s" % (n, i + 1, times[n][-1]), file=sys.stderr)
med = {n: statistics.median(t) for n, t in times.items()}
run("ssh-pg_dump")
size = os.path.getsize(plain)
print("| way | median of %d (s) | all rounds (s) | CPU here, median (s) |" % rounds)
print("|---|---:|---|---:|")
for n in ways:
    print("| %s | %.3f | %s | %.3f |" % (n, med[n], " ".join("%.2f" % t for t in times[n]), statistics.median(cpu[n])))
print()
print("| ratio | value | goal |")
print("|---|---:|---:|")
print("| padctl-streamed / ssh-pg_dump | %.3fx | <= 1.10x |" % (med["padctl-streamed"] / med["ssh-pg_dump"]))
print("| padctl-kept / ssh-pg_dump-f | %.3fx | (reference) |" % (med["padctl-kept"] / med["ssh-pg_dump-f"]))
print()
print("dump size: %.1f MB" % (size / 1e6))
# hashing a kept dump: on the host, or read back over SFTP and hashed here;
# both over one OpenSSH master connection, so the log-in is not counted
kept = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(w, "kept")) for f in fs if f.endswith(".dump")][0]
cm = os.path.join(w, "cm.sock")
master = subprocess.Popen(ssh[:1] + ["-N", "-o", "ControlMaster=yes", "-o", "ControlPath=" + cm] + ssh[1:])
for _ in range(300):
    if os.path.exists(cm):
        break
    time.sleep(0.1)
sshm = ssh[:1] + ["-o", "ControlPath=" + cm] + ssh[1:]
def timed(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0
h_remote = statistics.median(timed(sshm + ["sha256sum -- " + shlex.quote(kept)]) for _ in range(3))
# scp speaks SFTP (OpenSSH 9); its port option is -P
scp = ["scp", "-q"] + ["-P" if a == "-p" else a for a in sshm[1:-1]] + [ssh[-1] + ":" + kept, os.path.join(w, "readback.dump")]
def readback():
    t0 = time.perf_counter()
    subprocess.run(scp, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["sha256sum", os.path.join(w, "readback.dump")], check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter() - t0
    os.unlink(os.path.join(w, "readback.dump"))
    return t
h_back = statistics.median(readback() for _ in range(3))
print()
print("| hashing the kept dump (median of 3) | s |")
print("|---|---:|")
print("| sha256sum on the SSH host (what padctl does) | %.3f |" % h_remote)
print("| read back over SFTP (scp) and sha256sum here | %.3f |" % h_back)
master.terminate()
master.wait()
print()
print("load average at the end: %s" % open("/proc/loadavg").read().split()[:3])
PY
say "results in $W/results.md"

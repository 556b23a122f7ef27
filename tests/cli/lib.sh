# lib.sh: shared helpers for the padctl CLI scenarios (tests/cli/[0-9]*.sh).
# Sourced, never run. ctest runs each scenario as `bash FILE` with:
#   PADCTL_BIN          the padctl binary under test
#   PADCTL_TEST_PG_ENV  KEY=VALUE lines of the shared test cluster (tests/harness/pg.sh)
#   PADCTL_TEST_TMP     scratch directory in the build tree
#   PADCTL_SOURCE_DIR   the source tree
# A scenario calls new_project, drives padctl with `pc`, checks with the
# assert_* helpers, marks each group with `ok TEXT`, and ends with `finish`.
# The first failed assertion prints expected and got, and exits 1. The EXIT
# trap kills only the pids the scenario registered, stops clusters it started,
# drops its databases and removes its temp dirs (PADCTL_TEST_KEEP=1 keeps them).

set -u
set -o pipefail

CLI_NAME=cli/$(basename "$0" .sh)
CLI_PASSED=0
CLI_GROUP=
CLI_DBS=()          # "port dbname" of databases to drop at exit
CLI_DIRS=()         # temp dirs to remove at exit
CLI_PIDS=()         # background pids this scenario started
CLI_CLEANUP=()      # extra cleanup commands (eval'd at exit)

die() {
	printf '%s: setup error: %s\n' "$CLI_NAME" "$*" >&2
	exit 1
}

: "${PADCTL_BIN:?PADCTL_BIN is not set (run through ctest)}"
: "${PADCTL_TEST_PG_ENV:?PADCTL_TEST_PG_ENV is not set (run through ctest)}"
: "${PADCTL_TEST_TMP:?PADCTL_TEST_TMP is not set (run through ctest)}"
[ -x "$PADCTL_BIN" ] || die "PADCTL_BIN \"$PADCTL_BIN\" is not an executable"
[ -r "$PADCTL_TEST_PG_ENV" ] || die "cannot read \"$PADCTL_TEST_PG_ENV\" (did the pg/start fixture run?)"

# The env file is read line by line, never sourced: it is data, not code.
TPG_HOST='' TPG_PORT='' TPG_USER='' TPG_BIN='' TPG_DATADIR=''
while IFS='=' read -r k v; do
	case $k in
	PGHOST) TPG_HOST=$v ;;
	PGPORT) TPG_PORT=$v ;;
	PGUSER) TPG_USER=$v ;;
	PGBIN) TPG_BIN=$v ;;
	DATADIR) TPG_DATADIR=$v ;;
	esac
done <"$PADCTL_TEST_PG_ENV"
if [ -z "$TPG_HOST" ] || [ -z "$TPG_PORT" ] || [ -z "$TPG_USER" ]; then die "$PADCTL_TEST_PG_ENV lacks PGHOST/PGPORT/PGUSER"; fi
[ -n "$TPG_BIN" ] && [ -x "$TPG_BIN/psql" ] || TPG_BIN=$(dirname "$(command -v psql)")
PSQL=$TPG_BIN/psql

# padctl must not pick up connection facts from the caller's environment
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PADCTL_PROJECT
export NO_COLOR=1

mkdir -p "$PADCTL_TEST_TMP" || die "cannot create $PADCTL_TEST_TMP"

# ------------------------------------------------------------------ cleanup

cli_cleanup() {
	local rc=$? p entry port db
	trap - EXIT
	for p in "${CLI_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for ((i = ${#CLI_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${CLI_CLEANUP[$i]}" >/dev/null 2>&1
	done
	for entry in "${CLI_DBS[@]}"; do
		port=${entry%% *}
		db=${entry#* }
		"$PSQL" -XAtq -h "$TPG_HOST" -p "$port" -U "$TPG_USER" -d postgres \
			-c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
	done
	if [ "${PADCTL_TEST_KEEP:-0}" = 1 ]; then
		[ ${#CLI_DIRS[@]} -eq 0 ] || printf '%s: kept %s\n' "$CLI_NAME" "${CLI_DIRS[*]}" >&2
	else
		for p in "${CLI_DIRS[@]}"; do
			rm -rf -- "$p"
		done
	fi
	exit "$rc"
}
CLI_MAIN_PID=$$
exec {CLI_REPORT_FD}>&1
trap cli_cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 1' USR1

# track_pid PID: kill -9 it at exit if it still runs.
track_pid() { CLI_PIDS+=("$1"); }

# on_exit CMD: run CMD (a string) at exit, last registered first.
on_exit() { CLI_CLEANUP+=("$1"); }

# ------------------------------------------------------------------ reporting

# group TEXT: names what the next assertions check (printed on failure).
group() { CLI_GROUP=$1; }

# ok TEXT: one passed assertion group.
ok() {
	CLI_PASSED=$((CLI_PASSED + 1))
	printf 'ok - %s\n' "$1"
	CLI_GROUP=
}

# fail_now LINES...: report a failed assertion and end the scenario with exit 1.
# Inside a command substitution the report goes to stderr and the main shell
# is told by SIGUSR1 to exit too (after the substitution returns).
fail_now() {
	{
		printf 'not ok - %s\n' "${CLI_GROUP:-assertion}"
		printf '  %s\n' "$@"
		if [ -n "${CLI_LAST_CMD:-}" ]; then
			printf '  last command: %s (exit %s)\n' "$CLI_LAST_CMD" "${RC:-?}"
			printf '  --- stdout ---\n%s\n  --- stderr ---\n%s\n' "${OUT:-}" "${ERR:-}"
		fi
		printf '%s: %d passed, 1 failed\n' "$CLI_NAME" "$CLI_PASSED"
	} >&"$CLI_REPORT_FD"
	if [ "$BASHPID" != "$CLI_MAIN_PID" ]; then
		kill -USR1 "$CLI_MAIN_PID" 2>/dev/null
	fi
	exit 1
}

# finish: the summary line; call it last.
finish() {
	printf '%s: %d passed, 0 failed\n' "$CLI_NAME" "$CLI_PASSED"
	exit 0
}

# ------------------------------------------------------------------ database

# sql_on PORT DB SQL: run SQL, print unaligned tuples; fails on any error.
sql_on() {
	"$PSQL" -XAtq -v ON_ERROR_STOP=1 -h "$TPG_HOST" -p "$1" -U "$TPG_USER" -d "$2" -c "$3"
}

# drift_drop_scratch: drops the scratch databases of $PROJECT's drift cache
# (their names are the cache files', padctl_drift_<first 24 of the key>).
drift_drop_scratch() {
	local k
	while IFS= read -r k; do
		sql_on "$TPG_PORT" postgres "DROP DATABASE IF EXISTS padctl_drift_${k:0:24} WITH (FORCE)" >/dev/null 2>&1
	done < <(drift_cache_keys)
}

# drift_cache_keys: the keys of the replays $PROJECT keeps (the KEY of each
# KEY.catalog), sorted.
drift_cache_keys() { ls "$PROJECT/.padctl/drift" 2>/dev/null | sed -n 's/\.catalog$//p' | sort; }

# use_drift_scratch KEEP: drift in $PROJECT's padctl.yml with the shared test
# cluster as the scratch server (drift.keep KEEP); its scratch databases go at exit.
use_drift_scratch() {
	cat >>"$PROJECT/padctl.yml" <<YML
drift:
  keep: $1
  scratch:
    host: $TPG_HOST
    port: $TPG_PORT
    user: $TPG_USER
YML
	on_exit drift_drop_scratch
}

# drift_known_clean: `validate test` ends at the catalog fingerprint (the
# target has not changed since it last compared clean)
drift_known_clean() {
	pc -v validate test
	assert_rc 0
	assert_err_contains "has not changed since it last compared clean"
}

# drift_reported FINDING...: the next `validate test` compares in full and
# reports each FINDING
drift_reported() {
	local f
	pc -v validate test
	assert_rc 1
	assert_err_not_contains "has not changed since"
	for f in "$@"; do assert_err_contains "$f"; done
}

# drift_changed NAME DO_SQL UNDO_SQL FINDING...: DO_SQL by hand after a
# check that ended at the fingerprint is reported (each FINDING); with
# DRIFT_FULL=1 again by a full comparison (the clean record and quiet key
# removed); after UNDO_SQL (none: "") the target is clean again
drift_changed() {
	local name=$1 do=$2 undo=$3 f how=
	shift 3
	group "$name"
	drift_known_clean
	psql_q "$do" >/dev/null
	drift_reported "$@"
	if [ "${DRIFT_FULL:-0}" = 1 ]; then
		how=" and by a full comparison"
		rm -f "$PROJECT"/.padctl/drift/*.clean "$PROJECT"/.padctl/drift/quiet.*
		pc validate test
		assert_rc 1
		for f in "$@"; do assert_err_contains "$f"; done
	fi
	if [ -n "$undo" ]; then
		psql_q "$undo" >/dev/null
		pc validate test
		assert_rc 0
	fi
	ok "$name: reported after a clean check$how"
}

# psql_q SQL: sql_on the scenario's database; aborts the scenario on error.
psql_q() {
	local out
	if ! out=$(sql_on "$TPG_PORT" "$DB" "$1" 2>&1); then
		fail_now "psql failed on database $DB: $1" "got: $out"
	fi
	printf '%s\n' "$out"
}

# create_db PORT NAME: create a database and drop it at exit.
create_db() {
	CLI_DBS+=("$1 $2")
	sql_on "$1" postgres "CREATE DATABASE \"$2\"" >/dev/null || die "cannot create database $2 on port $1"
}

# unique_name PREFIX: a database name nobody else uses.
unique_name() {
	local n
	n=$(printf '%s_%s_%s' "$1" "$$" "$RANDOM" | tr 'A-Z-' 'a-z_')
	printf '%s\n' "${n:0:60}"
}

# ------------------------------------------------------------------ project

# write_env [DBNAME [PORT [EXTRA_YAML]]]: (re)write envs/test.yml for target t1.
write_env() {
	local db=${1:-$DB} port=${2:-$TPG_PORT} extra=${3:-}
	cat >"$PROJECT/envs/test.yml" <<EOF
tier: nonprod
pipeline: standard
targets:
  t1:
    database:
      host: $TPG_HOST
      port: $port
      dbname: $db
      user: $TPG_USER
EOF
	[ -z "$extra" ] || printf '%s\n' "$extra" >>"$PROJECT/envs/test.yml"
}

# new_project NAME: a temp project ($PROJECT) with env "test" on a fresh database ($DB).
new_project() {
	local name=$1
	PROJECT=$(mktemp -d "$PADCTL_TEST_TMP/$name.XXXXXX") || die "mktemp failed"
	CLI_DIRS+=("$PROJECT")
	DB=$(unique_name "$name")
	create_db "$TPG_PORT" "$DB"
	mkdir -p "$PROJECT/envs" "$PROJECT/pipelines" "$PROJECT/migrations"
	cat >"$PROJECT/padctl.yml" <<EOF
project: $name
schemas:
  owned: [app]
  protected: [ref]
EOF
	cat >"$PROJECT/pipelines/standard.yml" <<'EOF'
steps:
  - validate: preflight
  - migrate
  - validate: postflight
on_failure: stop
EOF
	write_env "$DB"
}

# reference_project NAME: $PROJECT is a temp copy of the repository's
# reference project (padctl.yml, envs, pipelines, db); its env "local" is a
# managed cluster, stopped and removed at exit (cleanup_local). ref_q SQL
# runs SQL on that cluster's padealing database as padctl.
reference_project() {
	PROJECT=$(mktemp -d "$PADCTL_TEST_TMP/$1.XXXXXX") || die "mktemp failed"
	CLI_DIRS+=("$PROJECT")
	cp -R "$PADCTL_SOURCE_DIR/padctl.yml" "$PADCTL_SOURCE_DIR/envs" "$PADCTL_SOURCE_DIR/pipelines" \
		"$PADCTL_SOURCE_DIR/db" "$PROJECT/" || die "cannot copy the reference project"
	on_exit cleanup_local
}

# cleanup_local [DIR]: stop the managed local cluster of project DIR
# ($PROJECT) by its own pg_ctl, through padctl, and remove a data directory
# padctl relocated outside the project; for on_exit.
cleanup_local() {
	local dir=${1:-$PROJECT} loc
	"$PADCTL_BIN" -C "$dir" local stop >/dev/null 2>&1
	loc=$(head -n 1 "$dir/.padctl/pg/location" 2>/dev/null)
	case $loc in
	/var/lib/padctl/clusters/?*) rm -rf -- "$loc" ;;
	esac
}

ref_q() {
	PGPASSWORD=$(cat "$PROJECT/.padctl/pg/password") "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 \
		-p "$(cat "$PROJECT/.padctl/pg/port")" -U padctl -d padealing -c "$1"
}

# add_migration VERSION NAME UP_SQL [DOWN_SQL] [VERIFY_SQL]: migrations/VERSION_NAME/.
add_migration() {
	local dir=$PROJECT/migrations/$1_$2
	mkdir -p "$dir"
	printf '%s\n' "$3" >"$dir/up.sql"
	[ $# -lt 4 ] || printf '%s\n' "$4" >"$dir/down.sql"
	[ $# -lt 5 ] || printf '%s\n' "$5" >"$dir/verify.sql"
}

# ------------------------------------------------------------------ running padctl

CLI_CAPTURE=
sanitizer_check() {
	if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' <<<"$ERR"; then
		fail_now "padctl reported a sanitizer error"
	fi
}

# pc ARGS...: run padctl -C $PROJECT ARGS; sets OUT, ERR, RC; never aborts.
pc() {
	pc_in "$PROJECT" "$@"
}

# pc_in DIR ARGS...: like pc with another project directory.
pc_in() {
	local dir=$1
	shift
	[ -n "$CLI_CAPTURE" ] || {
		CLI_CAPTURE=$(mktemp -d "$PADCTL_TEST_TMP/capture.XXXXXX") || die "mktemp failed"
		CLI_DIRS+=("$CLI_CAPTURE")
	}
	CLI_LAST_CMD="padctl -C $dir $*"
	"$PADCTL_BIN" -C "$dir" "$@" >"$CLI_CAPTURE/out" 2>"$CLI_CAPTURE/err" </dev/null
	RC=$?
	OUT=$(cat "$CLI_CAPTURE/out")
	ERR=$(cat "$CLI_CAPTURE/err")
	sanitizer_check
}

# pc_bg LOGPREFIX ARGS...: start padctl itself in the background (BG_PID is
# padctl's pid, so it can be killed); output goes to LOGPREFIX.out / .err.
pc_bg() {
	local log=$1
	shift
	"$PADCTL_BIN" -C "$PROJECT" "$@" >"$log.out" 2>"$log.err" </dev/null &
	BG_PID=$!
	track_pid "$BG_PID"
}

# bg_wait PID LOGPREFIX SECONDS: wait (bounded) for a pc_bg run; sets OUT, ERR, RC.
bg_wait() {
	local pid=$1 log=$2 limit=$3 i
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail_now "background padctl (pid $pid, $log) did not finish within $limit s"
	wait "$pid"
	RC=$?
	CLI_LAST_CMD="background padctl (pid $pid, $log)"
	OUT=$(cat "$log.out")
	ERR=$(cat "$log.err")
	sanitizer_check
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# hold_deploy_lock APPNAME: a session named APPNAME takes padctl's deploy
# lock of $DB (the advisory lock a deploy holds) and keeps it until
# release_deploy_lock APPNAME; returns once the lock is taken.
hold_deploy_lock() {
	PGAPPNAME=$1 "$PSQL" -XAtq -h "$TPG_HOST" -p "$TPG_PORT" -U "$TPG_USER" -d "$DB" \
		-c "SELECT pg_advisory_lock(1885430883, 1); SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	track_pid $!
	wait_for 60 deploy_lock_held || fail_now "the session $1 never took the deploy lock"
}
deploy_lock_held() {
	[ "$(sql_on "$TPG_PORT" "$DB" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid = 1885430883 AND objid = 1")" != 0 ]
}
deploy_lock_free() { ! deploy_lock_held; }
release_deploy_lock() {
	sql_on "$TPG_PORT" "$DB" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = '$1' AND pid <> pg_backend_pid()" >/dev/null
	wait_for 60 deploy_lock_free || fail_now "the session $1 kept the deploy lock"
}

# ------------------------------------------------------------------ assertions

assert_rc() {
	[ "$RC" = "$1" ] || fail_now "expected exit status $1, got $RC"
}

assert_contains() {   # HAYSTACK NEEDLE WHAT
	case $1 in
	*"$2"*) ;;
	*) fail_now "expected $3 to contain: $2" "got: $1" ;;
	esac
}

assert_not_contains() {   # HAYSTACK NEEDLE WHAT
	case $1 in
	*"$2"*) fail_now "expected $3 not to contain: $2" "got: $1" ;;
	esac
}

assert_out_contains() { assert_contains "$OUT" "$1" stdout; }
assert_err_contains() { assert_contains "$ERR" "$1" stderr; }
assert_any_contains() { assert_contains "$OUT
$ERR" "$1" "stdout or stderr"; }
assert_out_not_contains() { assert_not_contains "$OUT" "$1" stdout; }
assert_err_not_contains() { assert_not_contains "$ERR" "$1" stderr; }

# assert_out_matches ERE: some line of stdout matches the extended regex.
assert_out_matches() {
	grep -Eq -- "$1" <<<"$OUT" || fail_now "expected a line of stdout to match: $1" "got: $OUT"
}

# assert_eq EXPECTED GOT MSG
assert_eq() {
	[ "$1" = "$2" ] || fail_now "$3" "expected: $1" "got:      $2"
}

# assert_table_exists SCHEMA.TABLE / assert_no_table SCHEMA.TABLE
assert_table_exists() {
	assert_eq t "$(psql_q "SELECT to_regclass('$1') IS NOT NULL")" "table $1 should exist in $DB"
}
assert_no_table() {
	assert_eq f "$(psql_q "SELECT to_regclass('$1') IS NOT NULL")" "table $1 should not exist in $DB"
}

# json_get EXPR: evaluate a python expression over `d` = json.loads($OUT); fails if OUT is not JSON.
json_get() {
	local res
	if ! res=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1" 2>&1); then
		fail_now "stdout is not the expected JSON ($1)" "python: $res"
	fi
	printf '%s\n' "$res"
}

# ------------------------------------------------------------------ extra clusters

# start_cluster [SETTING...]: initdb and start a second small PostgreSQL on a
# free loopback port (as the postgres user when we are root), with the
# server settings given (name=value each, e.g. autovacuum=off); sets CL_PORT
# and CL_BASE and stops and removes it at exit. Superuser is $TPG_USER,
# trust auth; its Unix socket is in $CL_BASE/sock.
start_cluster() {
	local shm=/dev/shm runas=() port opts='' s
	for s in "$@"; do opts+=" -c $s"; done
	[ -d "$shm" ] && [ -w "$shm" ] || shm=/tmp
	CL_BASE=$(mktemp -d "$shm/padctl-test-cli-XXXXXX") || die "mktemp failed"
	on_exit "rm -rf -- '$CL_BASE'"
	mkdir "$CL_BASE/data" "$CL_BASE/sock"
	chmod 700 "$CL_BASE/data"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres "$CL_BASE" || die "chown postgres $CL_BASE failed"
		runas=(runuser -u postgres --)
	fi
	(cd / && "${runas[@]}" "$TPG_BIN/initdb" -D "$CL_BASE/data" -U "$TPG_USER" -A trust -E UTF8 \
		--locale=C.UTF-8 --no-sync >"$CL_BASE/initdb.log" 2>&1) || die "initdb failed: $(cat "$CL_BASE/initdb.log")"
	on_exit "(cd / && ${runas[*]} '$TPG_BIN/pg_ctl' -D '$CL_BASE/data' -m immediate -w -t 30 stop)"
	for _ in 1 2 3 4 5; do
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		if (cd / && "${runas[@]}" "$TPG_BIN/pg_ctl" -D "$CL_BASE/data" -l "$CL_BASE/log" -w -t 60 \
			-o "-p $port -k '$CL_BASE/sock' -c listen_addresses=127.0.0.1 -c fsync=off$opts" start >/dev/null 2>&1); then
			CL_PORT=$port
			return 0
		fi
	done
	die "could not start a second cluster (log: $(tail -n 5 "$CL_BASE/log" 2>/dev/null))"
}

# rewrite_in_place FILE TEXT: write TEXT (FILE's length) into FILE in place
# and put its mtime back: the inode, size and mtime are as before, only the
# ctime moves (what a checksum cache must notice)
rewrite_in_place() {
	local before ref
	before=$(stat -c '%i %s %Y.%y' "$1")
	ref=$(mktemp "$PADCTL_TEST_TMP/mtime.XXXXXX") || die "mktemp failed"
	touch -r "$1" "$ref"
	printf '%s' "$2" >"$1"
	touch -r "$ref" "$1"
	rm -f "$ref"
	assert_eq "$before" "$(stat -c '%i %s %Y.%y' "$1")" "inode, size and mtime of $1"
}

# damage_sums KIND GOOD OUT: write OUT as a damaged copy of the checksum
# cache GOOD (sumcache.h): torn (its end cut), root (another migrations
# directory), order (records out of order) or garbage (random bytes).
damage_sums() {
	case $1 in
	torn) head -c -7 "$2" >"$3" ;;
	root) sed '2s|.*|root /elsewhere|' "$2" >"$3" ;;
	order) { head -n2 "$2"; tail -n +3 "$2" | sort -r -k7; } >"$3" ;;
	garbage) head -c 3000 /dev/urandom >"$3" ;;
	*) die "damage_sums: unknown kind $1" ;;
	esac
}

# free_port: a loopback port nothing listens on right now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

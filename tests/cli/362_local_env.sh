#!/usr/bin/env bash
# The managed cluster does not inherit padctl's environment: a migration runs
# as the cluster superuser and can read the server's environment with
# COPY ... FROM PROGRAM 'env', so secrets padctl was started with
# (PGPASSWORD, PADCTL_*_PASSWORD, cloud keys) must not be there.
. "$(dirname "$0")/lib.sh"

PROJECT=$(mktemp -d "$PADCTL_TEST_TMP/local_env.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$PROJECT")
mkdir -p "$PROJECT/envs"
printf 'project: localenv\n' >"$PROJECT/padctl.yml"
printf 'tier: nonprod\ntargets:\n  local:\n    database:\n      managed: true\n' >"$PROJECT/envs/local.yml"

on_exit cleanup_local

group "initdb and the server start with padctl's secrets in its environment"
export PGPASSWORD=pgpassword-secret-5150 PADCTL_SECRET_TEST=padctl-secret-8086 AWS_SECRET_ACCESS_KEY=aws-secret-6502
pc local start
unset PGPASSWORD PADCTL_SECRET_TEST AWS_SECRET_ACCESS_KEY
assert_rc 0
port=$(cat "$PROJECT/.padctl/pg/port")
ok "local start with secrets in the environment"

group "the server's environment, read from SQL"
envq() {
	PGPASSWORD=$(cat "$PROJECT/.padctl/pg/password") "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
		-U padctl -d postgres -c "CREATE TEMP TABLE e (l text); COPY e FROM PROGRAM 'env'; $1"
}
all=$(envq "SELECT string_agg(l, ' ' ORDER BY l) FROM e") || fail_now "COPY ... FROM PROGRAM 'env' failed"
assert_contains "$all" "PATH=" "the server's environment"
assert_not_contains "$all" "secret" "the server's environment"
assert_not_contains "$all" "PGPASSWORD" "the server's environment"
assert_not_contains "$all" "PADCTL_SECRET_TEST" "the server's environment"
# and a program the server runs does not see them either (it reads what the
# server writes to it first: a program that exits before the server's last
# write makes COPY fail with "could not close pipe to external command: Broken pipe")
out=$(envq "COPY (SELECT 1) TO PROGRAM 'cat >/dev/null; env | grep -c -e PGPASSWORD -e PADCTL_SECRET_TEST -e AWS_SECRET > /dev/null && exit 1 || exit 0'; SELECT 'clean'") ||
	fail_now "a program run by the server sees padctl's secrets"
assert_eq clean "$out" "COPY ... TO PROGRAM"
ok "neither PGPASSWORD nor PADCTL_SECRET_TEST nor AWS_SECRET_ACCESS_KEY reaches the server"

finish

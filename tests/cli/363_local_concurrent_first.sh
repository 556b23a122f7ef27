#!/usr/bin/env bash
# Ten simultaneous first `deploy local` runs on a fresh project with a
# fixture: the cluster is created once, the database is created once and its
# fixture loaded once (under .padctl/pg/lock), and every run succeeds.
. "$(dirname "$0")/lib.sh"

N=10
PROJECT=$(mktemp -d "$PADCTL_TEST_TMP/local_conc.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$PROJECT")
mkdir -p "$PROJECT/envs" "$PROJECT/pipelines" "$PROJECT/migrations" "$PROJECT/fixtures"
printf 'project: localconc\nschemas:\n  owned: [app]\n' >"$PROJECT/padctl.yml"
printf 'steps:\n  - migrate\non_failure: stop\n' >"$PROJECT/pipelines/standard.yml"
cat >"$PROJECT/envs/local.yml" <<'YAML'
tier: nonprod
pipeline: standard
targets:
  local:
    database:
      managed: true
      fixtures: [fixtures/seed.sql]
YAML
# a fixture that would show a second load (rows twice) or a half-loaded
# database (the second table missing when a migration reads it)
cat >"$PROJECT/fixtures/seed.sql" <<'SQL'
CREATE TABLE IF NOT EXISTS public.seed (i int);
INSERT INTO public.seed VALUES (1), (2), (3);
SELECT pg_sleep(0.5);
CREATE TABLE public.seed_done (ok bool);
SQL
add_migration 0001 create_app "CREATE SCHEMA app; CREATE TABLE app.copy AS SELECT * FROM public.seed_done;"

on_exit cleanup_local

group "the cluster runs, the database does not exist yet"
# started first, so the runs below race for the database, not the cluster
pc local start
assert_rc 0
ok "local start"

group "$N simultaneous first deploys"
LOGS=$(mktemp -d "$PADCTL_TEST_TMP/local_conc_logs.XXXXXX") || die "mktemp failed"
CLI_DIRS+=("$LOGS")
pids=()
for ((i = 0; i < N; i++)); do
	pc_bg "$LOGS/run$i" deploy local
	pids+=("$BG_PID")
done
failed=0
for ((i = 0; i < N; i++)); do
	bg_wait "${pids[$i]}" "$LOGS/run$i" 300
	if [ "$RC" != 0 ]; then
		failed=$((failed + 1))
		printf 'run %d exited %s:\n%s\n' "$i" "$RC" "$ERR" >&2
	fi
done
assert_eq 0 "$failed" "failed runs of $N"
ok "all $N first deploys exit 0"

group "the fixture is there exactly once"
port=$(cat "$PROJECT/.padctl/pg/port")
q() {
	PGPASSWORD=$(cat "$PROJECT/.padctl/pg/password") "$PSQL" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
		-U padctl -d localconc -c "$1"
}
assert_eq 3 "$(q 'SELECT count(*) FROM public.seed')" "rows of the fixture table"
assert_eq 1 "$(q "SELECT count(*) FROM padctl.migrations WHERE status = 'applied'")" "applied migrations"
created=$(cat "$LOGS"/run*.err | grep -c 'created database "localconc"')
assert_eq 1 "$created" "runs that created the database"
ok "the database was created and its fixture loaded once"

finish

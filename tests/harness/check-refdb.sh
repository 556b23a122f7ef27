#!/usr/bin/env bash
# check-refdb.sh [--own-cluster]
#
# Checks the reference PA-dealing database content against a real PostgreSQL:
# db/fixtures/bo_airflow.sql, every migration in db/migrations and the seed
# sets in db/seeds. In a scratch database it
#   1. loads the bo_airflow fixture (and checks the phantom columns are absent),
#   2. applies every up.sql in version order, each in its own transaction
#      (psql --single-transaction), except `transactional: false` ones,
#   3. runs every verify.sql and requires it to return exactly one row `t`,
#   4. applies the seed sets common then uat twice (they must be idempotent),
#      then uat's teardown.sql, which must remove exactly what uat added,
#   5. applies every down.sql in reverse order and checks that each one leaves
#      the padealing catalog exactly as it was before its up.sql, and that
#      padealing ends empty,
#   6. applies every up.sql again (up/down/up) and re-runs every verify.sql,
# and checks that the bo_airflow catalog and data never changed. The scratch
# database is dropped at the end, also on failure.
#
# The server comes from the usual libpq variables (PGHOST, PGPORT, PGUSER,
# PGPASSWORD, ...); PGDATABASE names the maintenance database used to create
# the scratch one (default postgres). The user must be allowed to create
# databases. With --own-cluster the script starts a throwaway cluster with
# tests/harness/pg.sh instead and stops it at the end.
#
# Exits 0 when everything holds, 1 with a message naming the migration and
# the step otherwise, 2 on a usage error.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DB_DIR=$ROOT/db
MIG_DIR=$DB_DIR/migrations
FIXTURE=$DB_DIR/fixtures/bo_airflow.sql
SEED_SETS=(common uat)

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
	printf '%s: error: %s\n' "$PROG" "$1" >&2
	shift
	local line
	for line in "$@"; do
		printf '%s: %s\n' "$PROG" "$line" >&2
	done
	exit 1
}

OWN_CLUSTER=
case ${1-} in
'') ;;
--own-cluster) OWN_CLUSTER=1 ;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
*)
	printf 'usage: %s [--own-cluster]\n' "$PROG" >&2
	exit 2
	;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-refdb.XXXXXX")
SCRATCH=
CLUSTER_DIR=
MAINT_DB=${PGDATABASE:-postgres}

cleanup() {
	local rc=$?
	set +e
	if [ -n "$SCRATCH" ]; then
		PGDATABASE=$MAINT_DB psql -X -q -v ON_ERROR_STOP=1 \
			-c "DROP DATABASE IF EXISTS \"$SCRATCH\" WITH (FORCE)" >/dev/null 2>&1 ||
			say "warning: could not drop scratch database \"$SCRATCH\""
	fi
	[ -z "$CLUSTER_DIR" ] || bash "$HERE/pg.sh" stop "$CLUSTER_DIR" >/dev/null
	rm -rf -- "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$OWN_CLUSTER" ]; then
	CLUSTER_DIR=$WORK/pg
	bash "$HERE/pg.sh" start "$CLUSTER_DIR" >/dev/null || die "could not start a throwaway cluster with $HERE/pg.sh"
	set -a
	# shellcheck disable=SC1091
	. "$CLUSTER_DIR/env"
	set +a
	MAINT_DB=$PGDATABASE
	say "started a throwaway cluster on $PGHOST:$PGPORT"
elif [ -z "${PGHOST-}${PGPORT-}${PGSERVICE-}" ]; then
	die "no server given" \
		"hint: set PGHOST/PGPORT/PGUSER for a running server (for example from tests/harness/pg.sh's env file), or pass --own-cluster"
fi

command -v psql >/dev/null || die "psql not found" "hint: apt-get install postgresql-client"
[ -f "$FIXTURE" ] || die "fixture \"$FIXTURE\" is missing"
[ -d "$MIG_DIR" ] || die "migrations directory \"$MIG_DIR\" is missing"

# psql_db: psql against the scratch database, quiet, failing on the first error.
psql_db() {
	PGDATABASE=$SCRATCH psql -X -q -v ON_ERROR_STOP=1 "$@"
}

# --- static checks: layout and the rules migrations must keep -------------

MIGS=()
for d in "$MIG_DIR"/*/; do
	d=${d%/}
	MIGS+=("${d##*/}")
done
[ ${#MIGS[@]} -gt 0 ] || die "no migrations in \"$MIG_DIR\""
# versions sort by their numeric prefix, not as strings
mapfile -t MIGS < <(printf '%s\n' "${MIGS[@]}" | sort -t _ -k 1,1n)

declare -A SEEN_VERSION=()
NONTX=()
for m in "${MIGS[@]}"; do
	[[ $m =~ ^([0-9]{4})_[a-z0-9_]+$ ]] ||
		die "migration directory \"$m\" is not named <4-digit version>_<snake_name>"
	v=${BASH_REMATCH[1]}
	[ -z "${SEEN_VERSION[$v]-}" ] || die "version $v is used by both \"${SEEN_VERSION[$v]}\" and \"$m\""
	SEEN_VERSION[$v]=$m
	for f in up.sql down.sql verify.sql; do
		[ -s "$MIG_DIR/$m/$f" ] || die "migration \"$m\" has no (or an empty) $f"
	done
	for f in up.sql down.sql verify.sql; do
		# padctl wraps each migration in its own transaction
		if grep -n -i -E '^[[:space:]]*(BEGIN|COMMIT|ROLLBACK|START[[:space:]]+TRANSACTION)[[:space:]]*;' \
			"$MIG_DIR/$m/$f" >"$WORK/grep.out"; then
			die "\"$m/$f\" controls transactions itself" "$(cat "$WORK/grep.out")" \
				"hint: remove BEGIN/COMMIT; padctl runs each migration in a transaction"
		fi
		# bo_airflow belongs to another team: migrations never touch it
		if grep -n -i 'bo_airflow\.' "$MIG_DIR/$m/$f" | grep -v -E '^[0-9]+:[[:space:]]*--' |
			grep -v -i -E "COMMENT ON|IS '" >"$WORK/grep.out"; then
			die "\"$m/$f\" refers to the protected schema bo_airflow" "$(cat "$WORK/grep.out")"
		fi
	done
	if [ -f "$MIG_DIR/$m/meta.yml" ] &&
		grep -q -E '^[[:space:]]*transactional:[[:space:]]*(false|no)[[:space:]]*$' "$MIG_DIR/$m/meta.yml"; then
		NONTX+=("$m")
		# only CREATE/DROP INDEX CONCURRENTLY belongs in a non-transactional migration
		if sed -e 's/--.*$//' "$MIG_DIR/$m/up.sql" "$MIG_DIR/$m/down.sql" | tr '\n' ' ' | tr ';' '\n' |
			grep -v -E '^[[:space:]]*$' |
			grep -v -i -E '^[[:space:]]*(CREATE[[:space:]]+(UNIQUE[[:space:]]+)?INDEX[[:space:]]+CONCURRENTLY|DROP[[:space:]]+INDEX[[:space:]]+CONCURRENTLY)' \
			>"$WORK/grep.out"; then
			die "non-transactional migration \"$m\" holds more than concurrent index statements" \
				"$(head -c 300 "$WORK/grep.out")"
		fi
	fi
done
[ ${#NONTX[@]} -le 1 ] || die "more than one non-transactional migration: ${NONTX[*]}"
say "${#MIGS[@]} migrations (${MIGS[0]} .. ${MIGS[${#MIGS[@]} - 1]}), non-transactional: ${NONTX[*]:-none}"

is_nontx() {
	local x
	for x in "${NONTX[@]}"; do
		[ "$x" = "$1" ] && return 0
	done
	return 1
}

# --- the scratch database and the fixture ------------------------------------

SCRATCH=refdb_check_$$_$RANDOM
PGDATABASE=$MAINT_DB psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$SCRATCH\"" >/dev/null ||
	{ SCRATCH=; die "could not create the scratch database" "hint: check PGHOST/PGPORT/PGUSER and that the user may CREATE DATABASE"; }
say "scratch database \"$SCRATCH\" on ${PGHOST:-local socket}:${PGPORT:-5432}"

psql_db --single-transaction -f "$FIXTURE" >"$WORK/out" 2>&1 ||
	die "loading the fixture \"$FIXTURE\" failed" "$(cat "$WORK/out")"

# The phantom columns: the app once relied on them, the real database has none.
phantoms=$(psql_db -At -c "SELECT string_agg(table_name || '.' || column_name, ', ')
	FROM information_schema.columns
	WHERE table_schema = 'bo_airflow'
	  AND ((table_name = 'oracle_employee' AND column_name IN ('email', 'full_name'))
	    OR (table_name = 'oracle_position' AND column_name = 'last_trade_date'))")
[ -z "$phantoms" ] || die "the fixture has columns the real bo_airflow does not: $phantoms"
for t in oracle_employee oracle_bloomberg oracle_position oracle_contact contact currency; do
	n=$(psql_db -At -c "SELECT count(*) FROM bo_airflow.$t") ||
		die "fixture table bo_airflow.$t is missing"
	[ "$n" -gt 0 ] || die "fixture table bo_airflow.$t has no sample rows"
done
say "fixture loaded: bo_airflow with sample data, no phantom columns"

# bo_airflow_fingerprint: catalog and row counts of the protected schema.
BO_FINGERPRINT_SQL="SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
	SELECT c.relname || ' ' || c.relkind::text AS x
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'bo_airflow'
	UNION ALL
	SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
	  FROM information_schema.columns WHERE table_schema = 'bo_airflow'
	UNION ALL
	SELECT conname || ' ' || pg_get_constraintdef(c.oid)
	  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
	 WHERE n.nspname = 'bo_airflow'
	UNION ALL
	SELECT 'rows ' || (SELECT count(*) FROM bo_airflow.oracle_employee)
		|| ' ' || (SELECT count(*) FROM bo_airflow.oracle_bloomberg)
		|| ' ' || (SELECT count(*) FROM bo_airflow.oracle_contact)
		|| ' ' || (SELECT md5(string_agg(e::text, ',' ORDER BY id)) FROM bo_airflow.oracle_employee e)
) s"
BO_BEFORE=$(psql_db -At -c "$BO_FINGERPRINT_SQL") || die "could not fingerprint bo_airflow"

# snapshot FILE: everything in the padealing schema, one sorted line per item,
# so that "down exactly undoes up" is a plain diff.
SNAPSHOT_SQL="SELECT x FROM (
	SELECT 'schema ' || nspname AS x FROM pg_namespace WHERE nspname = 'padealing'
	UNION ALL
	SELECT 'rel ' || c.relname || ' kind=' || c.relkind::text
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'padealing'
	UNION ALL
	SELECT 'col ' || c.relname || '.' || a.attnum || ' ' || a.attname || ' '
		|| format_type(a.atttypid, a.atttypmod)
		|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
		|| coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
		|| CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
		|| coalesce(' comment ' || col_description(c.oid, a.attnum), '')
	  FROM pg_attribute a
	  JOIN pg_class c ON c.oid = a.attrelid
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	 WHERE n.nspname = 'padealing' AND c.relkind IN ('r', 'p', 'v', 'm')
	   AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(c.oid)
		|| CASE WHEN c.convalidated THEN '' ELSE ' not valid' END
	  FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
	 WHERE n.nspname = 'padealing'
	UNION ALL
	SELECT 'idx ' || pg_get_indexdef(i.indexrelid)
		|| CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'padealing'
	UNION ALL
	SELECT 'trg ' || pg_get_triggerdef(t.oid)
	  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'padealing' AND NOT t.tgisinternal
	UNION ALL
	SELECT 'fn ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid))
	  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	 WHERE n.nspname = 'padealing'
	UNION ALL
	SELECT 'type ' || t.typname
	  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
	 WHERE n.nspname = 'padealing' AND t.typtype IN ('e', 'd', 'c')
	   AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
	UNION ALL
	SELECT 'comment schema ' || obj_description(oid, 'pg_namespace')
	  FROM pg_namespace WHERE nspname = 'padealing'
	UNION ALL
	SELECT 'comment rel ' || c.relname || ' ' || obj_description(c.oid, 'pg_class')
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'padealing' AND obj_description(c.oid, 'pg_class') IS NOT NULL
) s ORDER BY x"

snapshot() {
	psql_db -At -c "$SNAPSHOT_SQL" >"$1" || die "could not snapshot the padealing catalog"
}

# apply MIGRATION FILE: run one of its SQL files the way padctl does.
apply() {
	local m=$1 f=$2
	local args=(-f "$MIG_DIR/$m/$f")
	is_nontx "$m" || args=(--single-transaction "${args[@]}")
	psql_db "${args[@]}" >"$WORK/out" 2>&1 ||
		die "$f of migration \"$m\" failed" "$(cat "$WORK/out")"
}

# verify MIGRATION: its verify.sql must return exactly one row, one column, true.
verify() {
	local m=$1 got
	got=$(psql_db -At -f "$MIG_DIR/$m/verify.sql" 2>&1) ||
		die "verify.sql of migration \"$m\" failed" "$got"
	[ "$got" = t ] || die "verify.sql of migration \"$m\" did not return true" "got: ${got:-no rows}"
}

check_bo_airflow() {
	local now
	now=$(psql_db -At -c "$BO_FINGERPRINT_SQL") || die "could not fingerprint bo_airflow"
	[ "$now" = "$BO_BEFORE" ] || die "bo_airflow changed $1 (the protected schema must never be touched)"
}

# --- up, verify ---------------------------------------------------------------

for m in "${MIGS[@]}"; do
	snapshot "$WORK/before.$m"
	# verify.sql must notice the migration's effect is missing
	if got=$(psql_db -At -f "$MIG_DIR/$m/verify.sql" 2>/dev/null) && [ "$got" = t ]; then
		die "verify.sql of migration \"$m\" returns true before up.sql ran" \
			"hint: verify.sql must fail or return false when the migration's effect is missing"
	fi
	apply "$m" up.sql
	verify "$m"
done
check_bo_airflow "after the up migrations"
say "up: ${#MIGS[@]} migrations applied, each verify.sql true (and not true before its up.sql)"

# every verify still holds with all migrations applied
for m in "${MIGS[@]}"; do
	verify "$m"
done
snapshot "$WORK/full.1"

# --- seeds: applied twice, the second run must change nothing -----------------

SEED_COUNT_SQL="SELECT (SELECT count(*) FROM padealing.compliance_config) || ' '
	|| (SELECT count(*) FROM padealing.employee_role) || ' '
	|| (SELECT count(*) FROM padealing.restricted_security)"
seed_files=()
for s in "${SEED_SETS[@]}"; do
	[ -d "$DB_DIR/seeds/$s" ] || die "seed set \"$s\" ($DB_DIR/seeds/$s) is missing"
	for f in "$DB_DIR/seeds/$s"/*.sql; do
		[ -e "$f" ] && [ "${f##*/}" != teardown.sql ] && seed_files+=("$f")
	done
done
[ ${#seed_files[@]} -gt 0 ] || die "no seed files in $DB_DIR/seeds/{$(
	IFS=,
	printf '%s' "${SEED_SETS[*]}"
)}"
for pass in 1 2; do
	for f in "${seed_files[@]}"; do
		psql_db --single-transaction -f "$f" >"$WORK/out" 2>&1 ||
			die "seed file \"${f#"$ROOT"/}\" failed (pass $pass)" "$(cat "$WORK/out")"
	done
	counts[pass]=$(psql_db -At -c "$SEED_COUNT_SQL")
done
[ "${counts[1]}" = "${counts[2]}" ] ||
	die "seeds are not idempotent: row counts after pass 1 \"${counts[1]}\", after pass 2 \"${counts[2]}\""
read -r n_cfg n_roles n_restricted <<<"${counts[1]}"
if [ "$n_cfg" -eq 0 ] || [ "$n_roles" -eq 0 ] || [ "$n_restricted" -eq 0 ]; then
	die "seeds inserted too little (compliance_config/employee_role/restricted_security rows: ${counts[1]})"
fi
# every seeded employee exists in the reference data
orphans=$(psql_db -At -c "SELECT string_agg(DISTINCT r.employee_id::text, ', ')
	FROM padealing.employee_role r
	LEFT JOIN bo_airflow.oracle_employee e ON e.id = r.employee_id WHERE e.id IS NULL")
[ -z "$orphans" ] || die "seeded employee_role rows name employees missing from bo_airflow.oracle_employee: $orphans"
say "seeds: ${#seed_files[@]} files, applied twice, idempotent (config/roles/restricted rows: ${counts[1]})"
# uat's teardown.sql leaves the common set's rows and nothing of uat's
psql_db --single-transaction -f "$DB_DIR/seeds/uat/teardown.sql" >"$WORK/out" 2>&1 ||
	die "seed teardown \"db/seeds/uat/teardown.sql\" failed" "$(cat "$WORK/out")"
after=$(psql_db -At -c "$SEED_COUNT_SQL")
[ "$after" = "$n_cfg 0 0" ] || die "uat's teardown.sql left \"$after\" (config/roles/restricted rows), expected \"$n_cfg 0 0\""
say "seeds: uat's teardown.sql removed its rows (config/roles/restricted rows: $after)"

# the seed data must not block rollback: clean it up as the team did
psql_db --single-transaction -c "DELETE FROM padealing.restricted_security;
	DELETE FROM padealing.employee_role; DELETE FROM padealing.compliance_config;" >/dev/null

# --- down, in reverse, each exactly undoing its up ----------------------------

for ((i = ${#MIGS[@]} - 1; i >= 0; i--)); do
	m=${MIGS[i]}
	apply "$m" down.sql
	snapshot "$WORK/after.$m"
	if ! diff -u "$WORK/before.$m" "$WORK/after.$m" >"$WORK/diff"; then
		die "down.sql of migration \"$m\" does not exactly undo its up.sql (padealing catalog before up vs after down):" \
			"$(cat "$WORK/diff")"
	fi
done
left=$(psql_db -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'padealing'")
[ "$left" = 0 ] || die "padealing still holds $left relations after every down.sql"
left=$(psql_db -At -c "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname = 'padealing'")
[ "$left" = 0 ] || die "padealing still holds $left functions after every down.sql"
check_bo_airflow "after the down migrations"
say "down: ${#MIGS[@]} migrations rolled back in reverse, each exactly undoing its up; padealing is empty"

# --- up again -------------------------------------------------------------------

for m in "${MIGS[@]}"; do
	apply "$m" up.sql
	verify "$m"
done
snapshot "$WORK/full.2"
diff -u "$WORK/full.1" "$WORK/full.2" >"$WORK/diff" ||
	die "up/down/up does not give the same padealing schema as the first up:" "$(cat "$WORK/diff")"
check_bo_airflow "after re-applying the migrations"
say "up again: same schema as the first time, every verify.sql true"
say "ok"

#!/usr/bin/env bash
# drift compares privileges on columns (GRANT SELECT (c) ON ...), as those
# on tables: each grantee's privileges, without the owner's and without
# grantors, one "privileges column app.b.id" object per column that has any.
# A hand-made column GRANT or REVOKE is found by a full comparison and,
# after a clean check, through the fingerprint (attacl is in pg_attribute).
. "$(dirname "$0")/lib.sh"

new_project driftcolacl
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE TABLE app.b (id int PRIMARY KEY, c text, d text);
GRANT SELECT (id) ON app.b TO PUBLIC;
CREATE VIEW app.v AS SELECT id, c FROM app.b;
GRANT SELECT (id) ON app.v TO PUBLIC;"

group "a clean deploy"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
ok "deploy: the migration's column grants compare equal"

# changed NAME DO_SQL FINDING UNDO_SQL: as in cli/803, after a check that
# ended at the fingerprint, then again in full (no clean record)
changed() {
	group "$1"
	pc -v validate test
	assert_rc 0
	assert_err_contains "has not changed since it last compared clean"
	psql_q "$2" >/dev/null
	pc -v validate test
	assert_rc 1
	assert_err_not_contains "has not changed since"
	assert_err_contains "$3"
	rm -f "$PROJECT"/.padctl/drift/*.clean
	pc validate test
	assert_rc 1
	assert_err_contains "$3"
	psql_q "$4" >/dev/null
	pc validate test
	assert_rc 0
	ok "$1: reported after a clean check and by a full comparison"
}

changed "a column grant revoked" \
	"REVOKE SELECT (id) ON app.b FROM PUBLIC" \
	"drift: missing privileges column app.b.id (the migrations create it; the target has none)" \
	"GRANT SELECT (id) ON app.b TO PUBLIC"
changed "a column grant added" \
	"GRANT SELECT (c) ON app.b TO PUBLIC" \
	"drift: extra privileges column app.b.c (on the target, created by no applied migration)" \
	"REVOKE SELECT (c) ON app.b FROM PUBLIC"
changed "a column grant widened" \
	"GRANT UPDATE (id) ON app.b TO PUBLIC" \
	"drift: changed privileges column app.b.id (expected \"PUBLIC SELECT\", the target has \"PUBLIC SELECT, PUBLIC UPDATE\")" \
	"REVOKE UPDATE (id) ON app.b FROM PUBLIC"
changed "a column grant on a view revoked" \
	"REVOKE SELECT (id) ON app.v FROM PUBLIC" \
	"drift: missing privileges column app.v.id" \
	"GRANT SELECT (id) ON app.v TO PUBLIC"
finish

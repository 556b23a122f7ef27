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

DRIFT_FULL=1
drift_changed "a column grant revoked" \
	"REVOKE SELECT (id) ON app.b FROM PUBLIC" \
	"GRANT SELECT (id) ON app.b TO PUBLIC" \
	"drift: missing privileges column app.b.id (the migrations create it; the target has none)"
drift_changed "a column grant added" \
	"GRANT SELECT (c) ON app.b TO PUBLIC" \
	"REVOKE SELECT (c) ON app.b FROM PUBLIC" \
	"drift: extra privileges column app.b.c (on the target, created by no applied migration)"
drift_changed "a column grant widened" \
	"GRANT UPDATE (id) ON app.b TO PUBLIC" \
	"REVOKE UPDATE (id) ON app.b FROM PUBLIC" \
	"drift: changed privileges column app.b.id (expected \"PUBLIC SELECT\", the target has \"PUBLIC SELECT, PUBLIC UPDATE\")"
drift_changed "a column grant on a view revoked" \
	"REVOKE SELECT (id) ON app.v FROM PUBLIC" \
	"GRANT SELECT (id) ON app.v TO PUBLIC" \
	"drift: missing privileges column app.v.id"
finish

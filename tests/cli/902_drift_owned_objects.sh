#!/usr/bin/env bash
# drift: hand changes to objects of the owned schema that other objects
# print by name, and what the comparison used to leave out. Each is made
# after a check that ended at the catalog fingerprint and must be reported
# by that check (the fingerprint reads the row the change writes) and by a
# full comparison (the snapshot prints it):
# - an operator class, an operator, a text search configuration or a
#   collation of the owned schema renamed or moved (an index, a CHECK or a
#   column prints its name), a composite type's field renamed (a view and a
#   CHECK print it);
# - a column's collation swapped for one of the same name in another schema;
# - an aggregate redefined (CREATE OR REPLACE AGGREGATE);
# - a foreign key's own triggers disabled (ALTER TABLE ... DISABLE TRIGGER
#   ALL: the key is no longer enforced);
# - row level security switched off or forced, a policy changed or dropped,
#   a rule added to a table, a view's security_barrier set.
# And the same grants, or a view's options, set again in another order are no
# drift.
. "$(dirname "$0")/lib.sh"

new_project driftowned
use_drift_scratch 1

add_migration 0001 create_app "CREATE SCHEMA app;
CREATE SCHEMA other;
CREATE OPERATOR CLASS app.myint_ops FOR TYPE int4 USING btree AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int4, int4);
CREATE FUNCTION app.inteq(int, int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT \$1 = \$2';
CREATE OPERATOR app.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = app.inteq);
CREATE TEXT SEARCH CONFIGURATION app.cfg (COPY = pg_catalog.simple);
CREATE COLLATION app.c1 FROM \"C\";
CREATE COLLATION other.c1 FROM \"POSIX\";
CREATE TYPE app.pair AS (a int, b int);
CREATE AGGREGATE app.mysum(int) (SFUNC = int4pl, STYPE = int, INITCOND = '0');
CREATE TABLE app.account (id bigint PRIMARY KEY, n int CHECK (n OPERATOR(app.===) n), label text COLLATE app.c1,
  body text, p app.pair CHECK ((p).a IS DISTINCT FROM -1));
CREATE INDEX account_n_idx ON app.account (n app.myint_ops);
CREATE INDEX account_fts_idx ON app.account USING gin (to_tsvector('app.cfg'::regconfig, body));
CREATE VIEW app.pairs AS SELECT id, (p).a AS pa FROM app.account;
CREATE VIEW app.opts WITH (security_barrier = true, check_option = local) AS SELECT id FROM app.account WHERE id > 0;
CREATE TABLE app.child (id int PRIMARY KEY, account_id bigint REFERENCES app.account (id));
CREATE TABLE app.doc (id int PRIMARY KEY, owner name NOT NULL DEFAULT current_user);
ALTER TABLE app.doc ENABLE ROW LEVEL SECURITY;
CREATE POLICY doc_own ON app.doc USING (owner = current_user);
GRANT SELECT ON app.doc TO PUBLIC;
GRANT SELECT ON app.doc TO pg_monitor;"

group "a clean deploy"
pc deploy test
assert_rc 0
assert_err_contains "drift: no drift (against a replay of 1 migration)"
ok "deploy: no drift"

DRIFT_FULL=1
drift_changed "an operator class of the owned schema renamed" \
	"ALTER OPERATOR CLASS app.myint_ops USING btree RENAME TO myint2_ops" \
	"ALTER OPERATOR CLASS app.myint2_ops USING btree RENAME TO myint_ops" \
	"drift: changed index app.account_n_idx" \
	"app.myint2_ops"
drift_changed "an operator of the owned schema moved" \
	"ALTER OPERATOR app.=== (int, int) SET SCHEMA other" \
	"ALTER OPERATOR other.=== (int, int) SET SCHEMA app" \
	"drift: changed constraint app.account.account_n_check" \
	"OPERATOR(other.===)"
drift_changed "a text search configuration of the owned schema renamed" \
	"ALTER TEXT SEARCH CONFIGURATION app.cfg RENAME TO cfg2" \
	"ALTER TEXT SEARCH CONFIGURATION app.cfg2 RENAME TO cfg" \
	"drift: changed index app.account_fts_idx" \
	"app.cfg2"
drift_changed "a composite type's field renamed" \
	"ALTER TYPE app.pair RENAME ATTRIBUTE a TO z" \
	"ALTER TYPE app.pair RENAME ATTRIBUTE z TO a" \
	"drift: changed view app.pairs" \
	"drift: changed constraint app.account.account_p_check"
drift_changed "a collation of the owned schema renamed" \
	"ALTER COLLATION app.c1 RENAME TO c2" \
	"ALTER COLLATION app.c2 RENAME TO c1" \
	"drift: changed column app.account.label" \
	"collate app.c2"
drift_changed "a column's collation swapped for one of the same name in another schema" \
	"ALTER TABLE app.account ALTER COLUMN label TYPE text COLLATE other.c1" \
	"ALTER TABLE app.account ALTER COLUMN label TYPE text COLLATE app.c1" \
	"drift: changed column app.account.label (expected \"text collate app.c1\", the target has \"text collate other.c1\")"
drift_changed "an aggregate redefined" \
	"CREATE OR REPLACE AGGREGATE app.mysum(int) (SFUNC = int4mul, STYPE = int, INITCOND = '1')" \
	"CREATE OR REPLACE AGGREGATE app.mysum(int) (SFUNC = int4pl, STYPE = int, INITCOND = '0')" \
	"drift: changed aggregate app.mysum(integer)" \
	"sfunc int4mul"
drift_changed "a foreign key's triggers disabled" \
	"ALTER TABLE app.child DISABLE TRIGGER ALL" \
	"ALTER TABLE app.child ENABLE TRIGGER ALL" \
	"drift: changed constraint app.child.child_account_id_fkey" \
	"(triggers disabled)"
drift_changed "row level security switched off" \
	"ALTER TABLE app.doc DISABLE ROW LEVEL SECURITY" \
	"ALTER TABLE app.doc ENABLE ROW LEVEL SECURITY" \
	"drift: changed table app.doc (expected \"row level security\", the target has \"\")"
drift_changed "row level security forced" \
	"ALTER TABLE app.doc FORCE ROW LEVEL SECURITY" \
	"ALTER TABLE app.doc NO FORCE ROW LEVEL SECURITY" \
	"the target has \"row level security forced row level security\""
drift_changed "a policy changed" \
	"ALTER POLICY doc_own ON app.doc USING (true)" \
	"ALTER POLICY doc_own ON app.doc USING (owner = current_user)" \
	"drift: changed policy app.doc.doc_own" \
	"for all to PUBLIC using (true)"
drift_changed "a policy dropped" \
	"DROP POLICY doc_own ON app.doc" \
	"CREATE POLICY doc_own ON app.doc USING (owner = current_user)" \
	"drift: missing policy app.doc.doc_own"
drift_changed "a rule added to a table" \
	"CREATE RULE doc_keep AS ON DELETE TO app.doc DO INSTEAD NOTHING" \
	"DROP RULE doc_keep ON app.doc" \
	"drift: extra rule app.doc.doc_keep"
drift_changed "a view's security_barrier set" \
	"ALTER VIEW app.pairs SET (security_barrier = true)" \
	"ALTER VIEW app.pairs RESET (security_barrier)" \
	"drift: extra view options app.pairs"

# reordered NAME DO_SQL CHECK_SQL EXPECT KIND: DO_SQL sets again what the
# migration set, and CHECK_SQL shows the catalog now holds it in another
# order (EXPECT); a full comparison finds no drift, no KIND finding
reordered() {
	group "$1"
	psql_q "$2" >/dev/null
	assert_eq "$4" "$(psql_q "$3")" "the catalog's order changed"
	rm -f "$PROJECT"/.padctl/drift/*.clean "$PROJECT"/.padctl/drift/quiet.*
	pc validate test
	assert_rc 0
	assert_err_not_contains "$5"
	ok "$1: no drift"
}

reordered "the same grants made again in another order" \
	"REVOKE SELECT ON app.doc FROM PUBLIC; GRANT SELECT ON app.doc TO PUBLIC" \
	"SELECT split_part(split_part(array_to_string(relacl, ' '), ' ', 2), '/', 1) FROM pg_class
	 WHERE oid = 'app.doc'::regclass" \
	"pg_monitor=r" "changed privileges"
reordered "a view's options set again in another order" \
	"ALTER VIEW app.opts SET (security_barrier = true)" \
	"SELECT reloptions FROM pg_class WHERE oid = 'app.opts'::regclass" \
	"{check_option=local,security_barrier=true}" "view options"

finish

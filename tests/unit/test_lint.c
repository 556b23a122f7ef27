/* lint: every rule fires on its case and stays quiet on the safe form, the
 * "created in the same migration" exemptions, suppression with a reason,
 * severities, search_path tracking and what a connected target tells. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "fs.h"
#include "lint.h"
#include "log.h"
#include "unit.h"

static char *protected_list[] = { "bo_airflow" };
static char *owned_list[] = { "app" };

static struct cfg_project project(void)
{
	struct cfg_project p;
	memset(&p, 0, sizeof p);
	p.file = "padctl.yml";
	p.protected_schemas = protected_list;
	p.nprotected = 1;
	p.owned = owned_list;
	p.nowned = 1;
	return p;
}

/* run lints sql with o (project() when o->p is NULL) and returns the findings */
static struct lint_result run(const char *sql, struct lint_opts *o)
{
	static struct cfg_project p;
	p = project();
	if (!o->p)
		o->p = &p;
	struct lint_result r;
	memset(&r, 0, sizeof r);
	CU_ASSERT_EQUAL(lint_sql("up.sql", sql, strlen(sql), o, &r), 0);
	return r;
}

static const struct lint_finding *find(const struct lint_result *r, const char *rule)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].rule, rule))
			return &r->v[i];
	return NULL;
}

/* fires: rule reports on sql in a transactional migration (not allowed) */
static int fires_opts(const char *rule, const char *sql, struct lint_opts *o)
{
	struct lint_result r = run(sql, o);
	const struct lint_finding *f = find(&r, rule);
	int hit = f && !f->allowed;
	if (!hit && getenv("LINT_DEBUG")) {
		for (size_t i = 0; i < r.n; i++)
			fprintf(stderr, "  %s: %s\n", r.v[i].rule, r.v[i].reason);
	}
	lint_result_release(&r);
	return hit;
}

static int fires(const char *rule, const char *sql)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	return fires_opts(rule, sql, &o);
}

/* each_fires checks that rule fires (expect 1) or not (0) on each of the
 * NULL-terminated sqls, each followed by suffix (NULL: none), naming on
 * stderr any that does otherwise */
static void each_fires(const char *rule, const char *const *sqls, const char *suffix, int expect)
{
	for (const char *const *s = sqls; *s; s++) {
		char *sql = xstrfmt("%s%s", *s, suffix ? suffix : "");
		int f = fires(rule, sql);
		if (f != expect)
			fprintf(stderr, "%s %s: %s\n", rule, expect ? "did not fire" : "fired", *s);
		CU_ASSERT_EQUAL(f, expect);
		free(sql);
	}
}

static int fires_nontx(const char *rule, const char *sql)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	return fires_opts(rule, sql, &o);
}

static void test_protected(void)
{
	const char *hit[] = {
		"CREATE TABLE bo_airflow.t (i int)",
		"ALTER TABLE bo_airflow.oracle_employee ADD COLUMN email text",
		"DROP TABLE bo_airflow.oracle_employee",
		"DROP SCHEMA bo_airflow CASCADE",
		"GRANT SELECT ON bo_airflow.oracle_employee TO app",
		"GRANT USAGE ON SCHEMA bo_airflow TO app",
		"GRANT SELECT ON ALL TABLES IN SCHEMA bo_airflow TO app",
		"COMMENT ON TABLE bo_airflow.oracle_employee IS 'x'",
		"COMMENT ON COLUMN bo_airflow.oracle_employee.name IS 'x'",
		"COMMENT ON SCHEMA bo_airflow IS 'x'",
		"INSERT INTO bo_airflow.oracle_employee VALUES (1)",
		"UPDATE bo_airflow.oracle_employee SET name = 'x' WHERE id = 1",
		"DELETE FROM bo_airflow.oracle_employee WHERE id = 1",
		"TRUNCATE app.a, bo_airflow.b",
		"COPY bo_airflow.oracle_employee FROM STDIN;\n1\n\\.\n",
		"MERGE INTO bo_airflow.t USING app.s ON true WHEN MATCHED THEN DELETE",
		"CREATE INDEX ON bo_airflow.t (i)",
		"CREATE FUNCTION bo_airflow.f() RETURNS int LANGUAGE sql AS 'select 1'",
		"CREATE VIEW bo_airflow.v AS SELECT 1",
		"ALTER TABLE app.t SET SCHEMA bo_airflow",
		"ALTER SCHEMA bo_airflow RENAME TO x",
		"ALTER SCHEMA bo_airflow OWNER TO x",
		"CREATE TYPE bo_airflow.e AS ENUM ('a')",
		"CREATE SCHEMA bo_airflow",
		"ALTER DEFAULT PRIVILEGES IN SCHEMA bo_airflow GRANT SELECT ON TABLES TO app",
		"SET search_path = bo_airflow, public; ALTER TABLE oracle_employee ADD COLUMN x int",
		"SET LOCAL search_path TO bo_airflow; INSERT INTO t VALUES (1)",
		"SET search_path = \"bo_airflow\"; CREATE TABLE t (i int)",
		"SELECT * INTO bo_airflow.copy FROM app.t",
		"CREATE FOREIGN TABLE bo_airflow.f (i int) SERVER s",
		"IMPORT FOREIGN SCHEMA remote FROM SERVER s INTO bo_airflow",
		"REVOKE SELECT ON bo_airflow.oracle_employee FROM app",
		"ALTER TYPE bo_airflow.e ADD VALUE 'b'",
		"DROP FUNCTION bo_airflow.f(int)",
		"CREATE TRIGGER tr BEFORE INSERT ON bo_airflow.t FOR EACH ROW EXECUTE FUNCTION app.f()",
		NULL,
	};
	each_fires("protected-schema", hit, NULL, 1);
	const char *quiet[] = {
		"CREATE TABLE app.t AS SELECT * FROM bo_airflow.oracle_employee",
		"INSERT INTO app.t SELECT id FROM bo_airflow.oracle_employee",
		"CREATE VIEW app.v AS SELECT * FROM bo_airflow.oracle_employee",
		"COPY bo_airflow.oracle_employee TO STDOUT",
		"SELECT * FROM bo_airflow.oracle_employee",
		"ALTER TABLE oracle_employee ADD COLUMN x int",
		"SET search_path = bo_airflow; RESET search_path; CREATE TABLE t (i int)",
		"SET search_path = bo_airflow; SET search_path = app; CREATE TABLE t (i int)",
		"CREATE TEMP TABLE t (i int); INSERT INTO t VALUES (1)",
		"DROP EXTENSION bo_airflow",
		"SELECT * INTO app.copy FROM bo_airflow.t",
		"CREATE TRIGGER tr BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION bo_airflow.f()",
		NULL,
	};
	each_fires("protected-schema", quiet, NULL, 0);
	/* SET LOCAL ends with its own statement outside a migration transaction */
	CU_ASSERT_FALSE(fires_nontx("protected-schema", "SET LOCAL search_path TO bo_airflow; CREATE TABLE t (i int)"));
	CU_ASSERT_TRUE(fires_nontx("protected-schema", "SET search_path TO bo_airflow; CREATE TABLE t (i int)"));
}

/* statements that change or write a protected schema without naming it where
 * the plain forms do: a statement inside another one (a WITH, EXPLAIN
 * ANALYZE, PREPARE, COPY (query)), objects named with their table (triggers,
 * policies, rules, constraints), a partition or child of a protected table,
 * and the statements that rewrite a relation */
static void test_protected_nested(void)
{
	const char *hit[] = {
		"WITH d AS (DELETE FROM bo_airflow.t RETURNING *) SELECT * FROM d",
		"WITH d AS (UPDATE bo_airflow.t SET a = 1 WHERE b RETURNING *) INSERT INTO app.x SELECT * FROM d",
		"WITH d AS (INSERT INTO bo_airflow.t VALUES (1) RETURNING *) UPDATE app.x SET a = 1 WHERE false",
		"WITH d AS (DELETE FROM bo_airflow.t RETURNING *) DELETE FROM app.x WHERE id IN (SELECT id FROM d)",
		"WITH d AS (DELETE FROM bo_airflow.t RETURNING *) MERGE INTO app.x USING d ON true WHEN MATCHED THEN DELETE",
		"WITH a AS (WITH d AS (DELETE FROM bo_airflow.t RETURNING *) SELECT * FROM d) SELECT * FROM a",
		"EXPLAIN ANALYZE DELETE FROM bo_airflow.t",
		"EXPLAIN (ANALYZE, BUFFERS) UPDATE bo_airflow.t SET a = 1 WHERE b",
		"EXPLAIN ANALYZE CREATE TABLE bo_airflow.x AS SELECT 1",
		"PREPARE p AS DELETE FROM bo_airflow.t WHERE id = $1",
		"COPY (DELETE FROM bo_airflow.t RETURNING *) TO STDOUT",
		"DROP TRIGGER tr ON bo_airflow.t",
		"DROP POLICY p ON bo_airflow.t",
		"DROP RULE r ON bo_airflow.t",
		"SET search_path = bo_airflow; DROP TRIGGER tr ON t",
		"COMMENT ON TRIGGER tr ON bo_airflow.t IS 'x'",
		"COMMENT ON CONSTRAINT c ON bo_airflow.t IS 'x'",
		"COMMENT ON POLICY p ON bo_airflow.t IS 'x'",
		"COMMENT ON RULE r ON bo_airflow.t IS 'x'",
		"COMMENT ON CONSTRAINT c ON DOMAIN bo_airflow.d IS 'x'",
		"SET search_path = bo_airflow; DROP OPERATOR CLASS oc USING btree",
		"CREATE TABLE app.c PARTITION OF bo_airflow.p FOR VALUES IN (1)",
		"CREATE TABLE app.c (i int) INHERITS (bo_airflow.t)",
		"ALTER TABLE app.p ATTACH PARTITION bo_airflow.c FOR VALUES IN (1)",
		"ALTER TABLE app.p DETACH PARTITION bo_airflow.c",
		"ALTER TABLE app.t INHERIT bo_airflow.p",
		"ALTER TABLE app.t NO INHERIT bo_airflow.p",
		"SECURITY LABEL ON TABLE bo_airflow.t IS 'x'",
		"SECURITY LABEL FOR selinux ON COLUMN bo_airflow.t.c IS 'x'",
		"ALTER STATISTICS bo_airflow.s SET STATISTICS 100",
		"CREATE OPERATOR CLASS bo_airflow.oc FOR TYPE int USING btree AS STORAGE int",
		"CREATE OPERATOR FAMILY bo_airflow.of USING btree",
		"ALTER OPERATOR FAMILY bo_airflow.of USING btree ADD OPERATOR 1 < (int, int)",
		"ALTER TYPE bo_airflow.ty SET (SEND = none)",
		"ALTER COLLATION bo_airflow.c REFRESH VERSION",
		"ALTER OPERATOR bo_airflow.=== (int, int) SET (RESTRICT = none)",
		"ALTER TEXT SEARCH DICTIONARY bo_airflow.d (StopWords = english)",
		"ALTER TEXT SEARCH CONFIGURATION bo_airflow.c ALTER MAPPING FOR word WITH simple",
		"CREATE CONVERSION bo_airflow.cv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8",
		"CLUSTER bo_airflow.t USING i",
		"CLUSTER bo_airflow.t",
		"REINDEX TABLE bo_airflow.t",
		"REINDEX INDEX bo_airflow.i",
		"REINDEX SCHEMA bo_airflow",
		"VACUUM FULL bo_airflow.t",
		"VACUUM (FULL, ANALYZE) app.a, bo_airflow.t",
		/* no relation named: every table or index of the database */
		"VACUUM FULL",
		"VACUUM (FULL, VERBOSE)",
		"CLUSTER",
		"CLUSTER VERBOSE",
		"REINDEX DATABASE d",
		"REINDEX (VERBOSE) DATABASE CONCURRENTLY d",
		/* a sequence's value changed by nextval or setval, named in a constant */
		"SELECT setval('bo_airflow.s', 100)",
		"SELECT pg_catalog.setval('bo_airflow.s'::regclass, 1, false)",
		"SELECT nextval('bo_airflow.s')",
		"SELECT NEXTVAL ( 'bo_airflow.s' )",
		"INSERT INTO app.t VALUES (nextval('\"bo_airflow\".\"s\"'))",
		"SELECT setval('BO_AIRFLOW.S', 1)",
		"SELECT setval(' bo_airflow . s ', 1)",
		"SELECT setval('db.bo_airflow.s', 1)",
		"SET search_path = bo_airflow; SELECT setval('s', 1)",
		"SELECT setval(pg_get_serial_sequence('bo_airflow.t', 'id'), 1)",
		"CREATE TABLE app.t (id bigint DEFAULT nextval('bo_airflow.s'))",
		"UPDATE app.t SET x = 1 WHERE y = (SELECT setval('bo_airflow.s', 5))",
		"SELECT setval(E'bo_airflow.s', 1)",
		"SELECT \"nextval\"('bo_airflow.s')",
		"SELECT setval(regclass 'bo_airflow.s', 1)",
		"ALTER TABLE ALL IN TABLESPACE t1 SET TABLESPACE t2",
		"ALTER INDEX ALL IN TABLESPACE t1 OWNED BY r SET TABLESPACE t2",
		"SELECT setval /* c */ ('bo_airflow.s', 1)",
		"SELECT setval -- c\n('bo_airflow.s', 1)",
		"SELECT setval(('bo_airflow.s'), 1)",
		"SELECT setval(CAST('bo_airflow.s' AS regclass), 1)",
		"SELECT nextval(pg_get_serial_sequence(('bo_airflow.t'), 'id'))",
		"SET search_path = bo_airflow, pg_temp; CREATE TABLE t (i int)",
		NULL,
	};
	each_fires("protected-schema", hit, NULL, 1);
	const char *quiet[] = {
		"WITH d AS (DELETE FROM app.t RETURNING *) SELECT * FROM d",
		"WITH r AS (SELECT * FROM bo_airflow.t) INSERT INTO app.x SELECT * FROM r",
		"EXPLAIN DELETE FROM bo_airflow.t",
		"EXPLAIN (ANALYZE false) DELETE FROM bo_airflow.t",
		"EXPLAIN ANALYZE SELECT * FROM bo_airflow.t",
		"PREPARE p AS SELECT * FROM bo_airflow.t",
		"COPY (SELECT * FROM bo_airflow.t) TO STDOUT",
		"DROP TRIGGER tr ON app.t",
		"DROP TRIGGER tr ON bo_airflow", /* the table public.bo_airflow */
		"COMMENT ON CONSTRAINT c ON app.t IS 'x'",
		"COMMENT ON CONSTRAINT c ON DOMAIN app.d IS 'x'",
		"DROP OPERATOR CLASS bo_airflow USING btree",
		"CREATE TABLE app.c PARTITION OF app.p FOR VALUES IN (1)",
		"CREATE TABLE app.c (i int) INHERITS (app.t)",
		"ALTER TABLE app.p ATTACH PARTITION app.c FOR VALUES IN (1)",
		"VACUUM bo_airflow.t",
		"VACUUM ANALYZE bo_airflow.t",
		"ANALYZE bo_airflow.t",
		"CLUSTER app.t USING i",
		"REINDEX TABLE app.t",
		"REINDEX SCHEMA app",
		"VACUUM",
		"VACUUM (FULL false)",
		"VACUUM ANALYZE",
		"ANALYZE",
		"REINDEX SYSTEM d",
		"SELECT setval('app.s', 1)",
		"SELECT nextval('app.s')",
		"SELECT currval('bo_airflow.s')",
		"SELECT app.setval('bo_airflow.s')",
		"SELECT 'setval(''bo_airflow.s'', 1)'",
		"SELECT setval('\"BO_AIRFLOW\".s', 1)",
		"SELECT setval('bo_airflow', 1)", /* the sequence public.bo_airflow */
		"SELECT setval('bo_airflow.', 1)",
		"SELECT setval('', 1)",
		"SELECT setval('\"', 1)",
		"SELECT setval('a.b.c.d', 1)",
		"SELECT setval(E'bo_airflow\\056s', 1)",
		"SELECT \"NEXTVAL\"('bo_airflow.s')",
		"SET search_path = pg_temp, bo_airflow; CREATE TABLE t (i int)",
		"SET search_path = pg_temp, bo_airflow; CREATE TABLE t (i int); INSERT INTO t VALUES (1)",
		"SELECT setval(16400, 1)",
		"SELECT nextval",
		"-- setval('bo_airflow.s', 1)\nSELECT 1",
		NULL,
	};
	each_fires("protected-schema", quiet, NULL, 0);
}

/* search_path as the server reads it: "$user" is the role's schema only
 * when there is one, a new name lands in the first schema that exists, and
 * an unqualified reference is looked up schema by schema, so a protected
 * schema anywhere in the path may hold it */
static void test_search_path(void)
{
	const char *hit[] = {
		"SET search_path TO \"$user\", bo_airflow; CREATE TABLE t (i int)",
		"SET search_path TO '$user', bo_airflow; CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'",
		"SET search_path = app, bo_airflow; INSERT INTO oracle_employee VALUES (1)",
		"SET search_path = app, bo_airflow; ALTER TABLE oracle_employee ADD COLUMN x int",
		"SET search_path = app, bo_airflow; CREATE TABLE x (i int); DROP TRIGGER tr ON oracle_employee",
		"SET search_path = app, bo_airflow; CREATE TABLE t (i int); INSERT INTO u VALUES (1)",
		"SET search_path = bo_airflow, app; CREATE TABLE app.t (i int); INSERT INTO t VALUES (1)",
		"SET search_path = app, bo_airflow; WITH d AS (DELETE FROM oracle_employee RETURNING *) SELECT 1",
		/* a name created earlier holds only its own name space: a function or a type t is no table t */
		"SET search_path = app, bo_airflow; CREATE FUNCTION t() RETURNS int LANGUAGE sql AS 'select 1'; "
		"DELETE FROM t",
		"SET search_path = app, bo_airflow; CREATE TYPE t AS ENUM ('a'); INSERT INTO t VALUES (1)",
		"SET search_path = app, bo_airflow; CREATE TABLE f (i int); ALTER FUNCTION f() STABLE",
		/* a new name: a schema lint does not know ahead of a protected one may not exist (a typo) */
		"SET search_path = ap, bo_airflow; CREATE TABLE t (i int)",
		NULL,
	};
	each_fires("protected-schema", hit, NULL, 1);
	const char *quiet[] = {
		"SET search_path = app, bo_airflow; CREATE TABLE t (i int)",
		"SET search_path = app, bo_airflow; CREATE TABLE t (i int); INSERT INTO t VALUES (1)",
		"SET search_path = app, bo_airflow; CREATE TABLE t (i int); ALTER TABLE t ADD COLUMN x int",
		"SET search_path = app, bo_airflow; CREATE TEMP TABLE t (i int); INSERT INTO t VALUES (1)",
		"SET search_path = app, bo_airflow; CREATE TYPE e AS ENUM ('a'); ALTER TYPE e ADD VALUE 'b'",
		"SET search_path = app, bo_airflow; INSERT INTO app.t VALUES (1)",
		"SET search_path = app, bo_airflow; SELECT * FROM oracle_employee",
		"SET search_path = app, bo_airflow; INSERT INTO app.t SELECT * FROM oracle_employee",
		"SET search_path TO \"$user\", public; CREATE TABLE t (i int)",
		"SET search_path = app, bo_airflow; CREATE VIEW v AS SELECT 1; ALTER VIEW v RENAME TO w",
		"SET search_path = app, bo_airflow; CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'; "
		"ALTER FUNCTION f() STABLE",
		/* a composite type is a relation and a type: both look-ups find it */
		"SET search_path = app, bo_airflow; CREATE TYPE pair AS (a int); DROP TYPE pair",
		"SET search_path = app, bo_airflow; CREATE TYPE pair AS (a int); COMMENT ON TYPE pair IS 'x'",
		"SET search_path = app, bo_airflow; CREATE TABLE t (i int); ALTER TYPE t OWNER TO someone",
		/* a schema created earlier in the migration is known to exist */
		"CREATE SCHEMA staging; SET search_path = staging, bo_airflow; CREATE TABLE t (i int)",
		NULL,
	};
	each_fires("protected-schema", quiet, NULL, 0);
	/* the findings say why, and what to do */
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	{
		/* a project that owns no schema: lint knows none to exist, so a
		 * schema written ahead of a protected one is taken to exist */
		struct cfg_project bare = project();
		bare.owned = NULL;
		bare.nowned = 0;
		o.p = &bare;
		CU_ASSERT_FALSE(fires_opts("protected-schema", "SET search_path = app, bo_airflow; CREATE TABLE t (i int)", &o));
		CU_ASSERT_TRUE(fires_opts("protected-schema", "SET search_path = bo_airflow, app; CREATE TABLE t (i int)", &o));
		o.p = NULL;
	}
	struct lint_result r = run("SET search_path = app, bo_airflow;\nINSERT INTO oracle_employee VALUES (1)", &o);
	const struct lint_finding *f = find(&r, "protected-schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "writes to oracle_employee, which is bo_airflow.oracle_employee"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "search_path set at line 1 is app, bo_airflow"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->hint, "schema-qualify"));
	lint_result_release(&r);
	o.p = NULL;
	r = run("SET search_path TO \"$user\", bo_airflow;\nCREATE TABLE t (i int)", &o);
	f = find(&r, "protected-schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "creates bo_airflow.t in the protected schema \"bo_airflow\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "\"$user\""));
	lint_result_release(&r);
	/* a connected target names the role: its schema counts when it is an
	 * owned one (or a protected one), else it is not assumed to exist */
	static char *owned[] = { "app" };
	struct cfg_project p = project();
	p.owned = owned;
	p.nowned = 1;
	struct lint_catalog cat;
	memset(&cat, 0, sizeof cat);
	cat.user = "app";
	o.cat = &cat;
	o.p = &p;
	CU_ASSERT_FALSE(fires_opts("protected-schema", "SET search_path TO \"$user\", bo_airflow; CREATE TABLE t (i int)", &o));
	cat.user = "deployer";
	CU_ASSERT_TRUE(fires_opts("protected-schema", "SET search_path TO \"$user\", bo_airflow; CREATE TABLE t (i int)", &o));
	/* the role's default search_path counts as a SET does */
	cat.search_path = "app, bo_airflow";
	CU_ASSERT_TRUE(fires_opts("protected-schema", "UPDATE oracle_employee SET name = 'x' WHERE id = 1", &o));
	CU_ASSERT_FALSE(fires_opts("protected-schema", "CREATE TABLE t (i int); UPDATE t SET i = 1 WHERE i = 2", &o));
}

static void test_protected_message(void)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	struct lint_result r =
		run("-- a comment\nSELECT 1;\n  SET search_path = bo_airflow;\n\n  ALTER TABLE t ADD c int;", &o);
	const struct lint_finding *f = find(&r, "protected-schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 5);
	CU_ASSERT_EQUAL(f->col, 3);
	CU_ASSERT_EQUAL(f->severity, LINT_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "search_path set at line 3"));
	CU_ASSERT_EQUAL(r.errors, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.assumed, "PostgreSQL 15"));
	struct buf b = BUF_INIT;
	lint_finding_line(f, &b, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "up.sql:5:3: error protected-schema: alters bo_airflow.t"));
	buf_release(&b);
	lint_result_release(&r);
	/* the role's default search_path, when the target says it */
	struct lint_catalog cat;
	memset(&cat, 0, sizeof cat);
	cat.search_path = "\"$user\", public";
	cat.user = "bo_airflow";
	cat.server_version = 160002;
	o.cat = &cat;
	r = run("CREATE TABLE t (i int)", &o);
	f = find(&r, "protected-schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "role's default search_path puts it there"));
	CU_ASSERT_STRING_EQUAL(r.assumed, "");
	lint_result_release(&r);
	/* cannot be allowed */
	r = run("-- padctl:allow protected-schema we own it really\nDROP TABLE bo_airflow.t", &o);
	CU_ASSERT_PTR_NOT_NULL(find(&r, "lint-allow"));
	CU_ASSERT_EQUAL(find(&r, "protected-schema")->allowed, NULL);
	lint_result_release(&r);
	struct cfg_lint_allow a = { "protected-schema", "no", 3, 1 };
	o.allow = &a;
	o.nallow = 1;
	o.meta_file = "m/meta.yml";
	struct lint_result r2;
	memset(&r2, 0, sizeof r2);
	CU_ASSERT_EQUAL(lint_sql("up.sql", "SELECT 1", 8, &o, &r2), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "m/meta.yml:3:1: protected-schema cannot be allowed"));
	err_clear();
	lint_result_release(&r2);
}

static void test_seed_entry(void)
{
	struct cfg_project p = project();
	struct lint_result r;
	memset(&r, 0, sizeof r);
	const char *sql = "INSERT INTO bo_airflow.oracle_employee VALUES (1); DELETE FROM app.t;";
	CU_ASSERT_EQUAL(lint_protected_sql("seed.sql", sql, strlen(sql), &p, NULL, &r), 0);
	CU_ASSERT_EQUAL(r.n, 1);
	CU_ASSERT_STRING_EQUAL(r.v[0].rule, "protected-schema");
	lint_result_release(&r);
}

static void test_transactions(void)
{
	CU_ASSERT_TRUE(fires("transaction-nesting", "CREATE TABLE t (i int); COMMIT;"));
	CU_ASSERT_FALSE(fires_nontx("transaction-nesting", "CREATE TABLE t (i int); COMMIT;"));
	CU_ASSERT_TRUE(fires("concurrently-in-transaction", "CREATE INDEX CONCURRENTLY i ON t (a)"));
	CU_ASSERT_TRUE(fires("concurrently-in-transaction", "DROP INDEX CONCURRENTLY i"));
	CU_ASSERT_TRUE(fires("concurrently-in-transaction", "REINDEX (CONCURRENTLY) TABLE t"));
	CU_ASSERT_TRUE(fires("concurrently-in-transaction", "REINDEX TABLE CONCURRENTLY t"));
	CU_ASSERT_TRUE(fires("concurrently-in-transaction", "ALTER TABLE p DETACH PARTITION c CONCURRENTLY"));
	CU_ASSERT_FALSE(fires_nontx("concurrently-in-transaction", "CREATE INDEX CONCURRENTLY i ON t (a)"));
	CU_ASSERT_FALSE(fires("concurrently-in-transaction", "REFRESH MATERIALIZED VIEW CONCURRENTLY m"));
	CU_ASSERT_TRUE(fires_nontx("non-transactional-not-rerunnable",
				   "CREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX CONCURRENTLY j ON t (b);"));
	CU_ASSERT_FALSE(
		fires_nontx("non-transactional-not-rerunnable",
			    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\n"
			    "CREATE INDEX CONCURRENTLY IF NOT EXISTS j ON t (b);\nDROP INDEX CONCURRENTLY IF EXISTS k;"));
	CU_ASSERT_FALSE(fires_nontx("non-transactional-not-rerunnable", "CREATE INDEX CONCURRENTLY i ON t (a);"));
	CU_ASSERT_FALSE(fires("non-transactional-not-rerunnable", "CREATE TABLE a (i int); CREATE TABLE b (i int);"));
	CU_ASSERT_TRUE(fires_nontx("non-transactional-not-rerunnable",
				   "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int; ALTER TABLE t ADD COLUMN b int; ANALYZE t;"));
	/* the last statement is not run again after a failure: only those before it are */
	CU_ASSERT_FALSE(fires_nontx("non-transactional-not-rerunnable",
				    "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int; ALTER TABLE t ADD COLUMN b int;"));
	/* unless failing it can leave part of it behind: an invalid index, and the run again fails on it
	 * (an unnamed one, or one outside the owned schemas: the migrate step drops only the invalid
	 * indexes a migration names in an owned schema before it runs it again; test_partial_index) */
	CU_ASSERT_TRUE(fires_nontx("non-transactional-not-rerunnable",
				   "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY ON app.t (a);"));
	CU_ASSERT_TRUE(fires_nontx("non-transactional-not-rerunnable",
				   "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON public.t (a);"));
	CU_ASSERT_FALSE(fires_nontx("non-transactional-not-rerunnable",
				    "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON app.t (a);"));
	CU_ASSERT_TRUE(fires_nontx("non-transactional-not-rerunnable",
				   "SET lock_timeout = '3s';\nALTER TABLE app.p DETACH PARTITION app.c CONCURRENTLY;"));
	CU_ASSERT_FALSE(fires_nontx("non-transactional-not-rerunnable",
				    "SET lock_timeout = '3s';\nALTER TYPE app.mood ADD VALUE 'x';"));
	/* a table created and renamed in the migration is still its own */
	CU_ASSERT_FALSE(fires("require-concurrent-index-creation",
			      "CREATE TABLE app.t_new (a int); ALTER TABLE app.t_new RENAME TO t_final; "
			      "CREATE INDEX i ON app.t_final (a)"));
	CU_ASSERT_FALSE(fires("ban-drop-table", "CREATE TEMP TABLE s (a int); ALTER TABLE s RENAME TO s2; DROP TABLE s2"));
	CU_ASSERT_TRUE(fires("require-concurrent-index-creation",
			     "ALTER TABLE app.old RENAME TO t_final; CREATE INDEX i ON app.t_final (a)"));
	/* REINDEX (CONCURRENTLY false) is a plain REINDEX */
	CU_ASSERT_TRUE(fires("require-concurrent-reindex", "REINDEX (CONCURRENTLY false) INDEX app.i"));
	CU_ASSERT_FALSE(fires("concurrently-in-transaction", "REINDEX (CONCURRENTLY false) INDEX app.i"));
	CU_ASSERT_FALSE(fires_nontx("require-concurrent-reindex", "REINDEX (CONCURRENTLY) INDEX app.i"));
	/* ALTER INDEX ... ATTACH PARTITION does nothing the second time */
	CU_ASSERT_FALSE(fires_nontx("non-transactional-not-rerunnable",
				    "ALTER INDEX app.p_i ATTACH PARTITION app.c_i;\nANALYZE app.p;"));
	CU_ASSERT_FALSE(
		fires_nontx("non-transactional-not-rerunnable",
			    "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int; ALTER TABLE t ADD COLUMN IF NOT EXISTS b int;"));
}

/* non-transactional-not-rerunnable lists what can run twice; any other
 * statement cannot (a kind lint does not know included) */
static void test_rerunnable(void)
{
	const char *again = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON app.t (a);\n";
	const char *no[] = {
		"CREATE POLICY p ON app.t USING (true)",
		"CREATE STATISTICS app.s ON a, b FROM app.t",
		"CREATE FOREIGN TABLE app.f (i int) SERVER s",
		"CREATE AGGREGATE app.agg (int) (SFUNC = int4pl, STYPE = int)",
		"CREATE RULE r AS ON INSERT TO app.t DO INSTEAD NOTHING",
		"INSERT INTO app.t VALUES (1)",
		"COPY app.t FROM STDIN",
		"SELECT * INTO app.copy FROM app.t",
		"CREATE TABLE app.t (i int)",
		"CREATE INDEX CONCURRENTLY i ON app.t (a)",
		"ALTER TABLE app.t ADD CONSTRAINT c CHECK (a > 0) NOT VALID",
		"ALTER TABLE app.t ATTACH PARTITION app.c FOR VALUES IN (1)",
		"ALTER TABLE app.t ALTER COLUMN a DROP IDENTITY",
		"ALTER TABLE app.t SET SCHEMA x",
		"ALTER TYPE app.e RENAME VALUE 'a' TO 'b'",
		"CREATE TYPE app.e AS ENUM ('a')",
		"DO $$ BEGIN PERFORM 1; END $$",
		NULL,
	};
	for (const char *const *s = no; *s; s++) {
		char *sql = xstrfmt("%s%s;\nSELECT 1;", again, *s);
		int f = fires_nontx("non-transactional-not-rerunnable", sql);
		if (!f)
			fprintf(stderr, "did not fire: %s\n", *s);
		CU_ASSERT_TRUE(f);
		free(sql);
	}
	const char *yes[] = {
		"CREATE STATISTICS IF NOT EXISTS app.s ON a, b FROM app.t",
		"CREATE FOREIGN TABLE IF NOT EXISTS app.f (i int) SERVER s",
		"CREATE OR REPLACE AGGREGATE app.agg (int) (SFUNC = int4pl, STYPE = int)",
		"CREATE OR REPLACE RULE r AS ON INSERT TO app.t DO INSTEAD NOTHING",
		"INSERT INTO app.t VALUES (1) ON CONFLICT DO NOTHING",
		"CREATE TABLE IF NOT EXISTS app.t (i int)",
		"CREATE OR REPLACE VIEW app.v AS SELECT 1",
		"CREATE OR REPLACE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'select 1'",
		"DROP TABLE IF EXISTS app.t",
		"DROP INDEX CONCURRENTLY IF EXISTS app.i",
		"ALTER TYPE app.e ADD VALUE IF NOT EXISTS 'b'",
		"SET lock_timeout = '5s'",
		"RESET lock_timeout",
		"COMMENT ON TABLE app.t IS 'x'",
		"GRANT SELECT ON app.t TO reader",
		"ALTER TABLE app.t ALTER COLUMN a SET DEFAULT 0",
		"ALTER TABLE app.t ALTER COLUMN a SET NOT NULL, ALTER COLUMN b TYPE bigint",
		"ALTER TABLE app.t VALIDATE CONSTRAINT c",
		"ALTER TABLE app.t DROP CONSTRAINT IF EXISTS c, ADD COLUMN IF NOT EXISTS d int",
		"UPDATE app.t SET a = 0 WHERE a IS NULL",
		"DELETE FROM app.t WHERE a < 0",
		"SELECT 1",
		"ANALYZE app.t",
		"REINDEX INDEX CONCURRENTLY app.i",
		"REFRESH MATERIALIZED VIEW CONCURRENTLY app.m",
		NULL,
	};
	for (const char *const *s = yes; *s; s++) {
		char *sql = xstrfmt("%s%s;", again, *s);
		int f = fires_nontx("non-transactional-not-rerunnable", sql);
		if (f)
			fprintf(stderr, "fired: %s\n", *s);
		CU_ASSERT_FALSE(f);
		free(sql);
	}
	/* suppressed with a reason: on the first statement that cannot run twice, or in meta.yml */
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	struct lint_result r =
		run("SET lock_timeout = '5s';\n-- padctl:allow non-transactional-not-rerunnable the policy is new, "
		    "a rerun after a failure is done by hand\nCREATE POLICY p ON app.t USING (true);\n"
		    "INSERT INTO app.t VALUES (1);",
		    &o);
	const struct lint_finding *f = find(&r, "non-transactional-not-rerunnable");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 3);
	CU_ASSERT_PTR_NOT_NULL(f->allowed);
	CU_ASSERT_EQUAL(r.warnings, 0);
	lint_result_release(&r);
	struct cfg_lint_allow a = { "non-transactional-not-rerunnable", "run by hand on failure", 1, 1 };
	memset(&o, 0, sizeof o);
	o.allow = &a;
	o.nallow = 1;
	r = run("SET lock_timeout = '5s'; CREATE POLICY p ON app.t USING (true); ANALYZE app.t;", &o);
	f = find(&r, "non-transactional-not-rerunnable");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_STRING_EQUAL(f->allowed, "run by hand on failure");
	CU_ASSERT_EQUAL(r.warnings, 0);
	lint_result_release(&r);
}

static void test_destructive(void)
{
	CU_ASSERT_TRUE(fires("ban-drop-schema", "DROP SCHEMA old CASCADE"));
	CU_ASSERT_FALSE(fires("ban-drop-schema", "DROP TABLE old"));
	CU_ASSERT_TRUE(fires("ban-drop-table", "DROP TABLE app.orders"));
	CU_ASSERT_FALSE(fires("ban-drop-table", "CREATE TABLE app.tmp (i int); DROP TABLE app.tmp"));
	CU_ASSERT_FALSE(fires("ban-drop-table", "CREATE TABLE tmp (i int); DROP TABLE public.tmp"));
	CU_ASSERT_TRUE(fires("ban-drop-column", "ALTER TABLE t DROP COLUMN c"));
	CU_ASSERT_FALSE(fires("ban-drop-column", "CREATE TABLE t (c int, d int); ALTER TABLE t DROP COLUMN c"));
	CU_ASSERT_TRUE(fires("ban-truncate", "TRUNCATE t"));
	CU_ASSERT_FALSE(fires("ban-truncate", "TRUNCATE t CASCADE"));
	CU_ASSERT_TRUE(fires("ban-truncate-cascade", "TRUNCATE t CASCADE"));
	CU_ASSERT_FALSE(fires("ban-truncate-cascade", "TRUNCATE t"));
	CU_ASSERT_TRUE(fires("ban-delete-without-where", "DELETE FROM t"));
	CU_ASSERT_FALSE(fires("ban-delete-without-where", "DELETE FROM t WHERE id = 1"));
	CU_ASSERT_FALSE(fires("ban-delete-without-where", "CREATE TABLE t (id int); DELETE FROM t"));
	CU_ASSERT_FALSE(fires("ban-delete-without-where", "CREATE TABLE app.t (id int); DELETE FROM app.t"));
	CU_ASSERT_TRUE(fires("ban-update-without-where", "UPDATE t SET a = 1"));
	CU_ASSERT_FALSE(fires("ban-update-without-where", "UPDATE t SET a = 1 WHERE a IS NULL"));
	CU_ASSERT_FALSE(fires("ban-update-without-where", "CREATE TABLE t (a int); UPDATE t SET a = 1"));
	CU_ASSERT_TRUE(fires("renaming-table", "ALTER TABLE a RENAME TO b"));
	CU_ASSERT_FALSE(fires("renaming-table", "ALTER TABLE a RENAME COLUMN x TO y"));
	CU_ASSERT_FALSE(fires("renaming-table", "CREATE TABLE a (x int); ALTER TABLE a RENAME TO b"));
	CU_ASSERT_TRUE(fires("renaming-column", "ALTER TABLE a RENAME COLUMN x TO y"));
	CU_ASSERT_FALSE(fires("renaming-column", "CREATE TABLE a (x int); ALTER TABLE a RENAME COLUMN x TO y"));
}

static void test_prod_and_declaration(void)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	struct lint_result r = run("ALTER TABLE t DROP COLUMN c", &o);
	CU_ASSERT_EQUAL(find(&r, "ban-drop-column")->severity, LINT_WARNING);
	CU_ASSERT_EQUAL(r.errors, 0);
	lint_result_release(&r);
	o.p = NULL;
	o.prod = 1;
	r = run("ALTER TABLE t DROP COLUMN c", &o);
	CU_ASSERT_EQUAL(find(&r, "ban-drop-column")->severity, LINT_ERROR);
	CU_ASSERT_EQUAL(r.errors, 1);
	lint_result_release(&r);
	o.p = NULL;
	o.destructive = "the column moved to app.people in 0041";
	r = run("ALTER TABLE t DROP COLUMN c", &o);
	CU_ASSERT_EQUAL(r.errors, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(find(&r, "ban-drop-column")->allowed, "moved to app.people"));
	lint_result_release(&r);
	/* padctl.yml switching a destructive rule off does not reach prod: only
	 * a reason does (meta.yml, or a comment on the statement) */
	static struct cfg_lint_allow off[] = { { "ban-drop-table", "off", 1, 1 } };
	struct cfg_project p = project();
	p.lint_rules = off;
	p.nlint_rules = 1;
	o.p = &p;
	o.destructive = NULL;
	r = run("DROP TABLE app.orders", &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(find(&r, "ban-drop-table"));
	CU_ASSERT_EQUAL(find(&r, "ban-drop-table")->severity, LINT_ERROR);
	CU_ASSERT_EQUAL(r.errors, 1);
	lint_result_release(&r);
	r = run("-- padctl:allow ban-drop-table replaced by app.orders2 in 0040\nDROP TABLE app.orders", &o);
	CU_ASSERT_EQUAL(r.errors, 0);
	lint_result_release(&r);
	o.destructive = "replaced by app.orders2 in 0040";
	r = run("DROP TABLE app.orders", &o);
	CU_ASSERT_EQUAL(r.errors, 0);
	lint_result_release(&r);
	o.destructive = NULL;
	o.prod = 0;
	r = run("DROP TABLE app.orders", &o);
	CU_ASSERT_PTR_NULL(find(&r, "ban-drop-table"));
	lint_result_release(&r);
}

static void test_locking(void)
{
	CU_ASSERT_TRUE(fires("require-concurrent-index-creation", "CREATE INDEX i ON t (a)"));
	CU_ASSERT_FALSE(fires_nontx("require-concurrent-index-creation", "CREATE INDEX CONCURRENTLY i ON t (a)"));
	CU_ASSERT_FALSE(fires("require-concurrent-index-creation", "CREATE TABLE t (a int); CREATE INDEX i ON t (a)"));
	CU_ASSERT_TRUE(fires("require-concurrent-index-deletion", "DROP INDEX i"));
	CU_ASSERT_FALSE(fires("require-concurrent-index-deletion", "CREATE INDEX i ON t (a); DROP INDEX i"));
	CU_ASSERT_FALSE(fires_nontx("require-concurrent-index-deletion", "DROP INDEX CONCURRENTLY i"));
	CU_ASSERT_TRUE(fires("require-concurrent-reindex", "REINDEX TABLE t"));
	CU_ASSERT_FALSE(fires_nontx("require-concurrent-reindex", "REINDEX TABLE CONCURRENTLY t"));
	CU_ASSERT_FALSE(fires("require-concurrent-reindex", "CREATE TABLE t (a int); REINDEX TABLE t"));
	CU_ASSERT_TRUE(fires("adding-foreign-key-constraint",
			     "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id)"));
	CU_ASSERT_TRUE(fires("adding-foreign-key-constraint", "ALTER TABLE a ADD COLUMN b int REFERENCES b (id)"));
	CU_ASSERT_FALSE(fires("adding-foreign-key-constraint",
			      "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id) NOT VALID"));
	CU_ASSERT_FALSE(
		fires("adding-foreign-key-constraint",
		      "CREATE TABLE a (b int); ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id)"));
	CU_ASSERT_TRUE(fires("constraint-missing-not-valid", "ALTER TABLE a ADD CONSTRAINT c CHECK (x > 0)"));
	CU_ASSERT_FALSE(
		fires("constraint-missing-not-valid", "ALTER TABLE a ADD CONSTRAINT c CHECK (x > 0) NOT VALID"));
	CU_ASSERT_TRUE(
		fires("constraint-missing-not-valid",
		      "ALTER TABLE a ADD CONSTRAINT c CHECK (x > 0) NOT VALID; ALTER TABLE a VALIDATE CONSTRAINT c"));
	CU_ASSERT_FALSE(
		fires_nontx("constraint-missing-not-valid",
			    "ALTER TABLE a ADD CONSTRAINT c CHECK (x > 0) NOT VALID; ALTER TABLE a VALIDATE CONSTRAINT c"));
	CU_ASSERT_FALSE(fires("constraint-missing-not-valid", "ALTER TABLE a VALIDATE CONSTRAINT c"));
	CU_ASSERT_TRUE(fires("adding-not-nullable-field", "ALTER TABLE a ALTER COLUMN b SET NOT NULL"));
	CU_ASSERT_FALSE(fires("adding-not-nullable-field",
			      "CREATE TABLE a (b int); ALTER TABLE a ALTER COLUMN b SET NOT NULL"));
	CU_ASSERT_TRUE(
		fires("adding-identity-field", "ALTER TABLE a ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY"));
	CU_ASSERT_FALSE(fires("adding-identity-field", "CREATE TABLE a (id bigint GENERATED ALWAYS AS IDENTITY)"));
	CU_ASSERT_FALSE(fires("adding-identity-field",
			      "CREATE TABLE a (b int); ALTER TABLE a ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY"));
	CU_ASSERT_TRUE(fires("adding-serial-field", "ALTER TABLE a ADD COLUMN id bigserial"));
	CU_ASSERT_FALSE(fires("adding-serial-field", "ALTER TABLE a ADD COLUMN id bigint"));
	CU_ASSERT_FALSE(fires("adding-serial-field", "CREATE TABLE a (b int); ALTER TABLE a ADD COLUMN id bigserial"));
	CU_ASSERT_TRUE(fires("adding-stored-generated-field",
			     "ALTER TABLE a ADD COLUMN g int GENERATED ALWAYS AS (b * 2) STORED"));
	CU_ASSERT_FALSE(fires("adding-stored-generated-field", "ALTER TABLE a ADD COLUMN g int"));
	CU_ASSERT_FALSE(fires("adding-stored-generated-field",
			      "CREATE TABLE a (b int); ALTER TABLE a ADD COLUMN g int GENERATED ALWAYS AS (b * 2) STORED"));
	CU_ASSERT_TRUE(fires("changing-column-type", "ALTER TABLE a ALTER COLUMN b TYPE bigint"));
	CU_ASSERT_FALSE(
		fires("changing-column-type", "CREATE TABLE a (b int); ALTER TABLE a ALTER COLUMN b TYPE bigint"));
	CU_ASSERT_TRUE(fires("adding-serial-primary-key-field", "ALTER TABLE a ADD PRIMARY KEY (id)"));
	CU_ASSERT_FALSE(fires("adding-serial-primary-key-field",
			      "ALTER TABLE a ADD CONSTRAINT a_pkey PRIMARY KEY USING INDEX a_id"));
	CU_ASSERT_FALSE(
		fires("adding-serial-primary-key-field", "CREATE TABLE a (id int); ALTER TABLE a ADD PRIMARY KEY (id)"));
	CU_ASSERT_TRUE(fires("disallowed-unique-constraint", "ALTER TABLE a ADD CONSTRAINT u UNIQUE (x)"));
	CU_ASSERT_FALSE(fires("disallowed-unique-constraint", "ALTER TABLE a ADD CONSTRAINT u UNIQUE USING INDEX a_x"));
	CU_ASSERT_FALSE(fires("disallowed-unique-constraint",
			      "CREATE TABLE a (x int); ALTER TABLE a ADD CONSTRAINT u UNIQUE (x)"));
	CU_ASSERT_TRUE(fires("disallowed-unique-constraint", "ALTER TABLE a ADD UNIQUE (x)"));
	CU_ASSERT_TRUE(
		fires("adding-exclusion-constraint", "ALTER TABLE a ADD CONSTRAINT e EXCLUDE USING gist (r WITH &&)"));
	CU_ASSERT_FALSE(
		fires("adding-exclusion-constraint", "CREATE TABLE a (r int4range, EXCLUDE USING gist (r WITH &&))"));
	CU_ASSERT_FALSE(fires("adding-exclusion-constraint",
			      "CREATE TABLE a (r int4range); ALTER TABLE a ADD CONSTRAINT e EXCLUDE USING gist (r WITH &&)"));
	CU_ASSERT_TRUE(fires("ban-vacuum-full", "VACUUM FULL t"));
	CU_ASSERT_FALSE(fires("ban-vacuum-full", "VACUUM ANALYZE t"));
	CU_ASSERT_TRUE(fires("ban-cluster", "CLUSTER t USING i"));
	CU_ASSERT_FALSE(fires("ban-cluster", "ANALYZE t"));
	CU_ASSERT_FALSE(fires("ban-cluster", "CREATE TABLE t (a int); CREATE INDEX i ON t (a); CLUSTER t USING i"));
	CU_ASSERT_TRUE(fires("require-concurrent-refresh", "REFRESH MATERIALIZED VIEW m"));
	CU_ASSERT_FALSE(fires("require-concurrent-refresh", "REFRESH MATERIALIZED VIEW CONCURRENTLY m"));
	CU_ASSERT_FALSE(fires("require-concurrent-refresh",
			      "CREATE MATERIALIZED VIEW m AS SELECT 1 AS x; REFRESH MATERIALIZED VIEW m"));
	CU_ASSERT_TRUE(fires("require-concurrent-detach-partition", "ALTER TABLE p DETACH PARTITION c"));
	CU_ASSERT_FALSE(
		fires_nontx("require-concurrent-detach-partition", "ALTER TABLE p DETACH PARTITION c CONCURRENTLY"));
	CU_ASSERT_TRUE(fires("statement-after-access-exclusive",
			     "ALTER TABLE a ADD COLUMN x int; UPDATE b SET y = 1 WHERE z"));
	CU_ASSERT_FALSE(fires("statement-after-access-exclusive",
			      "UPDATE b SET y = 1 WHERE z; ALTER TABLE a ADD COLUMN x int"));
	CU_ASSERT_FALSE(fires("statement-after-access-exclusive",
			      "CREATE TABLE a (i int); ALTER TABLE a ADD COLUMN x int; SELECT 1"));
	CU_ASSERT_FALSE(fires_nontx("statement-after-access-exclusive", "ALTER TABLE a ADD COLUMN x int; SELECT 1"));
	CU_ASSERT_FALSE(fires("statement-after-access-exclusive",
			      "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id) NOT VALID; SELECT 1"));
	/* what PostgreSQL's docs say takes ACCESS EXCLUSIVE (explicit locking;
	 * DROP INDEX: its table), on an existing table, and the forms that do not */
	const char *ax[] = {
		"DROP TABLE app.old",
		"DROP INDEX app.i",
		"REFRESH MATERIALIZED VIEW app.m",
		"REINDEX TABLE app.t",
		"REINDEX INDEX app.i",
		"TRUNCATE app.t",
		"CLUSTER app.t USING i",
		"LOCK TABLE app.t",
		"ALTER TABLE app.t RENAME TO u",
		"CREATE POLICY p ON app.t USING (true)",
		"ALTER POLICY p ON app.t USING (false)",
		"CREATE TABLE app.c PARTITION OF app.p FOR VALUES IN (1)",
		/* storage parameters reloptions.c does not give a lighter lock */
		"ALTER INDEX app.gin_i SET (fastupdate = off)",
		"ALTER INDEX app.gin_i SET (gin_pending_list_limit = 128)",
		"ALTER INDEX app.brin_i SET (pages_per_range = 64)",
		"ALTER INDEX app.gist_i SET (buffering = on)",
		"ALTER TABLE app.v SET (security_barrier = true)",
		"ALTER TABLE app.e RESET (user_catalog_table)",
		"ALTER TABLE app.e SET (fillfactor = 70, user_catalog_table = true)",
		NULL,
	};
	each_fires("statement-after-access-exclusive", ax, ";\nUPDATE app.b SET y = 1 WHERE z;", 1);
	const char *light[] = {
		"DROP INDEX CONCURRENTLY app.i",
		"REFRESH MATERIALIZED VIEW CONCURRENTLY app.m",
		"REINDEX TABLE CONCURRENTLY app.t",
		"CREATE TABLE app.n (i int); DROP TABLE app.n",
		"CREATE INDEX i ON app.t (a); DROP INDEX app.i",
		"CREATE MATERIALIZED VIEW app.m AS SELECT 1; REFRESH MATERIALIZED VIEW app.m",
		"CREATE TABLE app.n (i int); REINDEX TABLE app.n",
		"LOCK TABLE app.t IN SHARE MODE",
		"DROP VIEW app.v",
		"CREATE TABLE app.n (i int); CREATE POLICY p ON app.n USING (true)",
		"CREATE TABLE app.p (a int) PARTITION BY LIST (a); CREATE TABLE app.c PARTITION OF app.p FOR VALUES IN (1)",
		"CREATE TABLE app.c (i int) INHERITS (app.t)",
		/* storage parameters under SHARE UPDATE EXCLUSIVE */
		"ALTER TABLE app.e SET (fillfactor = 70, toast.autovacuum_enabled = false)",
		"ALTER TABLE app.e SET (autovacuum_vacuum_scale_factor = 0.01, parallel_workers = 4)",
		"ALTER INDEX app.i SET (fillfactor = 80)",
		"ALTER INDEX app.i SET (deduplicate_items = off)",
		"ALTER TABLE app.e RESET (vacuum_truncate)",
		NULL,
	};
	each_fires("statement-after-access-exclusive", light, ";\nUPDATE app.b SET y = 1 WHERE z;", 0);
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	struct lint_result r = run("DROP INDEX app.i;\nSELECT 1;", &o);
	const struct lint_finding *f = find(&r, "statement-after-access-exclusive");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "the table of index \"app.i\" taken at line 1"));
	lint_result_release(&r);
}

/* a fake catalog: what a connected target would answer */
static int fake_volatility(void *arg, const char *schema, const char *name)
{
	(void)arg;
	(void)schema;
	return !strcmp(name, "random") || !strcmp(name, "gen_random_uuid") ? 'v' : !strcmp(name, "now") ? 's' : 0;
}

static int fake_column_type(void *arg, const char *schema, const char *table, const char *column, char *type,
			    size_t typelen, int *typmod)
{
	(void)arg;
	(void)schema;
	(void)table;
	if (!strcmp(column, "name")) { /* varchar(20) */
		snprintf(type, typelen, "varchar");
		*typmod = 24;
	} else if (!strcmp(column, "amount")) { /* numeric(10,2) */
		snprintf(type, typelen, "numeric");
		*typmod = ((10 << 16) | 2) + 4;
	} else if (!strcmp(column, "n")) {
		snprintf(type, typelen, "int8");
		*typmod = -1;
	} else if (!strcmp(column, "code")) { /* char(8) */
		snprintf(type, typelen, "bpchar");
		*typmod = 12;
	} else if (!strcmp(column, "note")) {
		snprintf(type, typelen, "text");
		*typmod = -1;
	} else {
		return -1;
	}
	return 0;
}

static int fake_notnull(void *arg, const char *schema, const char *table, const char *column)
{
	(void)arg;
	(void)schema;
	(void)table;
	return !strcmp(column, "checked");
}

/* a fake catalog's relations: app.parted and public.parted are partitioned,
 * app.t and public.t tables (an unqualified name is found in app) */
static int fake_relation(void *arg, const char *schema, const char *name, char *nsp, size_t nsplen)
{
	(void)arg;
	if (schema && strcmp(schema, "app") != 0 && strcmp(schema, "public") != 0)
		return 0;
	if (strcmp(name, "parted") != 0 && strcmp(name, "t") != 0)
		return 0;
	snprintf(nsp, nsplen, "%s", schema ? schema : "app");
	return !strcmp(name, "parted") ? 'p' : 'r';
}

/* CREATE INDEX on a partitioned table, and a CONCURRENTLY build whose
 * invalid leftover the migrate step drops before a run again */
static void test_partial_index(void)
{
	struct lint_catalog cat;
	memset(&cat, 0, sizeof cat);
	cat.server_version = 150004;
	cat.relation = fake_relation;
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	o.cat = &cat;
	/* ON ONLY a partitioned parent: catalog rows alone, nothing to build */
	CU_ASSERT_FALSE(fires_opts("require-concurrent-index-creation", "CREATE INDEX i ON ONLY app.parted (a)", &o));
	o.p = NULL;
	/* recursing into the partitions: the hint is not CONCURRENTLY, which the server refuses there */
	struct lint_result r = run("CREATE INDEX i ON parted (a)", &o);
	const struct lint_finding *f = find(&r, "require-concurrent-index-creation");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "partitioned table"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->hint, "ON ONLY the parent"));
	lint_result_release(&r);
	o.p = NULL;
	/* ONLY on a plain table is ignored by the server: the index is built */
	r = run("CREATE INDEX i ON ONLY app.t (a)", &o);
	f = find(&r, "require-concurrent-index-creation");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->hint, "CREATE INDEX CONCURRENTLY in a migration of its own"));
	lint_result_release(&r);
	o.p = NULL;
	/* no target: not known to be partitioned */
	CU_ASSERT_TRUE(fires("require-concurrent-index-creation", "CREATE INDEX i ON ONLY app.parted (a)"));

	/* the rerun rule: a named CONCURRENTLY build on a table the target finds in an owned schema */
	o.transactional = 0;
	CU_ASSERT_FALSE(fires_opts("non-transactional-not-rerunnable",
				   "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON t (a);", &o));
	o.p = NULL;
	/* the migration's own search_path: the step looks the table up before it runs */
	CU_ASSERT_TRUE(fires_opts("non-transactional-not-rerunnable",
				  "SET search_path = app;\nCREATE INDEX CONCURRENTLY i ON t (a);", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("non-transactional-not-rerunnable",
				  "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON missing (a);", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("non-transactional-not-rerunnable",
				  "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON pg_temp.t (a);", &o));
	o.p = NULL;
	/* no target: an unqualified table's schema is not known */
	CU_ASSERT_TRUE(fires_nontx("non-transactional-not-rerunnable",
				   "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON t (a);"));
}

static void test_catalog(void)
{
	struct lint_catalog cat;
	memset(&cat, 0, sizeof cat);
	cat.server_version = 150004;
	cat.volatility = fake_volatility;
	cat.column_type = fake_column_type;
	cat.has_notnull_check = fake_notnull;
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	o.cat = &cat;
	CU_ASSERT_TRUE(
		fires_opts("adding-field-with-default", "ALTER TABLE a ADD COLUMN r float8 DEFAULT random()", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(
		fires_opts("adding-field-with-default", "ALTER TABLE a ADD COLUMN t timestamptz DEFAULT now()", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("adding-field-with-default", "ALTER TABLE a ADD COLUMN t int DEFAULT 0", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("adding-field-with-default",
				   "CREATE TABLE a (i int); ALTER TABLE a ADD COLUMN r float8 DEFAULT random()", &o));
	o.p = NULL;
	/* the safe list: varchar widened, to text; numeric precision raised at the same scale */
	CU_ASSERT_FALSE(fires_opts("changing-column-type", "ALTER TABLE a ALTER COLUMN name TYPE varchar(40)", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("changing-column-type", "ALTER TABLE a ALTER COLUMN name TYPE text", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("changing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE numeric(12,2)", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("changing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE numeric(12,4)", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(
		fires_opts("changing-column-type", "ALTER TABLE a ALTER COLUMN name TYPE int USING name::int", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN name TYPE varchar(10)", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE numeric(8,2)", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN n TYPE int", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN name TYPE varchar(40)", &o));
	o.p = NULL;
	/* char(n) pads: to or from it is a rewrite, narrowing only below the old bound */
	const char *strings[][3] = {
		/* column, new type, narrows? */
		{ "name", "char(20)", "" },   { "name", "char(40)", "" },	 { "name", "bpchar", "" },
		{ "name", "char(10)", "y" },  { "name", "char", "y" },		 { "code", "varchar(8)", "" },
		{ "code", "varchar(4)", "y" }, { "code", "char(12)", "" },	 { "code", "text", "" },
		{ "code", "char(2)", "y" },    { "note", "char(100)", "y" },	 { "note", "varchar(100)", "y" },
		{ "note", "varchar", "" },
	};
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		char *sql = xstrfmt("ALTER TABLE a ALTER COLUMN %s TYPE %s", strings[i][0], strings[i][1]);
		o.p = NULL;
		int f = fires_opts("narrowing-column-type", sql, &o);
		if (f != (*strings[i][2] != 0))
			fprintf(stderr, "narrowing %s: %s\n", f ? "fired" : "did not fire", sql);
		CU_ASSERT_EQUAL(f, *strings[i][2] != 0);
		free(sql);
	}
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("changing-column-type", "ALTER TABLE a ALTER COLUMN name TYPE char(20)", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("changing-column-type", "ALTER TABLE a ALTER COLUMN code TYPE bpchar", &o));
	o.p = NULL;
	/* numeric(p) is numeric(p,0): from numeric(10,2) it loses the cents */
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE numeric(12)", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE decimal(12)", &o));
	o.p = NULL;
	/* fewer digits before the point: 12345678.00 does not fit numeric(11,4) */
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE numeric(11,4)", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE numeric(12,4)", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("narrowing-column-type", "ALTER TABLE a ALTER COLUMN amount TYPE numeric", &o));
	o.p = NULL;
	/* a table created in the same migration holds no data yet */
	CU_ASSERT_FALSE(fires_opts("narrowing-column-type",
				   "CREATE TABLE a (amount numeric(10,2)); ALTER TABLE a ALTER COLUMN amount TYPE numeric(8,2)",
				   &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("adding-not-nullable-field", "ALTER TABLE a ALTER COLUMN checked SET NOT NULL", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("adding-not-nullable-field", "ALTER TABLE a ALTER COLUMN other SET NOT NULL", &o));
	o.p = NULL;
	/* the server's version changes the advice: a default rewrote tables before 11 */
	cat.server_version = 100000;
	CU_ASSERT_TRUE(fires_opts("adding-field-with-default", "ALTER TABLE a ADD COLUMN t int DEFAULT 0", &o));
	o.p = NULL;
	/* without a target, a function call in a default is reported as unknown */
	o.cat = NULL;
	struct lint_result r = run("ALTER TABLE a ADD COLUMN t timestamptz DEFAULT now()", &o);
	CU_ASSERT_PTR_NOT_NULL(find(&r, "adding-field-with-default"));
	CU_ASSERT_PTR_NOT_NULL(strstr(find(&r, "adding-field-with-default")->reason, "unknown"));
	lint_result_release(&r);
}

static void test_style(void)
{
	static struct cfg_lint_allow on[] = {
		{ "prefer-text-field", "warning", 1, 1 },
		{ "prefer-timestamptz", "warning", 2, 1 },
		{ "prefer-bigint-over-int", "warning", 3, 1 },
		{ "prefer-identity", "error", 4, 1 },
	};
	struct cfg_project p = project();
	p.lint_rules = on;
	p.nlint_rules = 4;
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	/* off by default */
	CU_ASSERT_FALSE(fires("prefer-text-field", "CREATE TABLE a (b varchar(10))"));
	o.p = &p;
	CU_ASSERT_TRUE(fires_opts("prefer-text-field", "CREATE TABLE a (b varchar(10))", &o));
	CU_ASSERT_FALSE(fires_opts("prefer-text-field", "CREATE TABLE a (b text, c varchar)", &o));
	CU_ASSERT_TRUE(fires_opts("prefer-timestamptz", "ALTER TABLE a ADD COLUMN t timestamp", &o));
	CU_ASSERT_FALSE(fires_opts("prefer-timestamptz", "ALTER TABLE a ADD COLUMN t timestamptz", &o));
	CU_ASSERT_TRUE(fires_opts("prefer-bigint-over-int", "CREATE TABLE a (id int PRIMARY KEY)", &o));
	CU_ASSERT_TRUE(fires_opts("prefer-bigint-over-int", "CREATE TABLE a (id integer, PRIMARY KEY (id))", &o));
	CU_ASSERT_FALSE(fires_opts("prefer-bigint-over-int", "CREATE TABLE a (id bigint PRIMARY KEY, n int)", &o));
	struct lint_result r = run("CREATE TABLE a (id serial)", &o);
	CU_ASSERT_EQUAL(find(&r, "prefer-identity")->severity, LINT_ERROR);
	lint_result_release(&r);
	CU_ASSERT_FALSE(fires_opts("prefer-identity", "CREATE TABLE a (id bigint GENERATED ALWAYS AS IDENTITY)", &o));
	char sql[256];
	snprintf(sql, sizeof sql, "CREATE TABLE a (%s int)",
		 "c234567890123456789012345678901234567890123456789012345678901234");
	CU_ASSERT_TRUE(fires("identifier-too-long", sql));
	CU_ASSERT_FALSE(fires("identifier-too-long",
			      "CREATE TABLE a (c2345678901234567890123456789012345678901234567890123456789012 int)"));
	snprintf(sql, sizeof sql, "ALTER TABLE a ADD CONSTRAINT \"%s\" CHECK (true) NOT VALID",
		 "c234567890123456789012345678901234567890123456789012345678901234");
	CU_ASSERT_TRUE(fires("identifier-too-long", sql));
	snprintf(sql, sizeof sql, "SELECT '%s', $x$ %s $x$ -- %s",
		 "c234567890123456789012345678901234567890123456789012345678901234",
		 "c234567890123456789012345678901234567890123456789012345678901234",
		 "c234567890123456789012345678901234567890123456789012345678901234");
	CU_ASSERT_FALSE(fires("identifier-too-long", sql));
	/* a rule switched off */
	static struct cfg_lint_allow off[] = { { "ban-truncate", "off", 1, 1 } };
	p.lint_rules = off;
	p.nlint_rules = 1;
	CU_ASSERT_FALSE(fires_opts("ban-truncate", "TRUNCATE t", &o));
}

static void test_suppression(void)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	struct lint_result r = run("SELECT 1;\n-- padctl:allow ban-drop-column the app stopped reading it in 2.3\n"
				   "ALTER TABLE t DROP COLUMN c;\nALTER TABLE u DROP COLUMN d;\n",
				   &o);
	CU_ASSERT_EQUAL(r.n, 3); /* two drops, and the second statement's lock held by the third */
	const struct lint_finding *f = find(&r, "ban-drop-column");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 3);
	CU_ASSERT_STRING_EQUAL(f->allowed, "the app stopped reading it in 2.3");
	CU_ASSERT_PTR_NULL(r.v[2].allowed);
	CU_ASSERT_EQUAL(r.v[2].line, 4);
	lint_result_release(&r);
	o.p = NULL;
	/* block comments too, several rules */
	r = run("/* padctl:allow ban-truncate emptied on purpose */\n-- padctl:allow ban-truncate-cascade x\nTRUNCATE t;",
		&o);
	CU_ASSERT_EQUAL(r.errors + r.warnings, 0);
	CU_ASSERT_STRING_EQUAL(find(&r, "ban-truncate")->allowed, "emptied on purpose");
	lint_result_release(&r);
	o.p = NULL;
	/* no reason, unknown rule: errors of their own */
	r = run("-- padctl:allow ban-truncate\nTRUNCATE t;\n-- padctl:allow no-such-rule because\nSELECT 1", &o);
	CU_ASSERT_EQUAL(r.errors, 2);
	CU_ASSERT_PTR_NULL(find(&r, "ban-truncate")->allowed);
	lint_result_release(&r);
	o.p = NULL;
	/* per migration, from meta.yml */
	struct cfg_lint_allow a = { "ban-truncate", "staging table, refilled by the job", 2, 3 };
	o.allow = &a;
	o.nallow = 1;
	r = run("TRUNCATE t; TRUNCATE u;", &o);
	CU_ASSERT_EQUAL(r.n, 3); /* and the second TRUNCATE runs under the first one's lock */
	CU_ASSERT_EQUAL(r.warnings, 1);
	CU_ASSERT_STRING_EQUAL(r.v[0].allowed, "staging table, refilled by the job");
	CU_ASSERT_STRING_EQUAL(r.v[1].allowed, "staging table, refilled by the job");
	CU_ASSERT_STRING_EQUAL(r.v[2].rule, "statement-after-access-exclusive");
	lint_result_release(&r);
	o.p = NULL;
	struct cfg_lint_allow bad = { "no-such-rule", "x", 2, 3 };
	o.allow = &bad;
	o.meta_file = "0001_x/meta.yml";
	memset(&r, 0, sizeof r);
	struct cfg_project p = project();
	o.p = &p;
	CU_ASSERT_EQUAL(lint_sql("up.sql", "SELECT 1", 8, &o, &r), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "0001_x/meta.yml:2:3: unknown lint rule \"no-such-rule\""));
	err_clear();
	lint_result_release(&r);
}

static void test_config_check(void)
{
	struct cfg_project p = project();
	struct cfg_lint_allow a[] = { { "protected-schema", "warning", 7, 5 } };
	p.lint_rules = a;
	p.nlint_rules = 1;
	CU_ASSERT_EQUAL(lint_config_check(&p), -1);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(err_message(), "padctl.yml:7:5: lint rule \"protected-schema\" is always an error"));
	err_clear();
	a[0].rule = "nope";
	CU_ASSERT_EQUAL(lint_config_check(&p), -1);
	err_clear();
	a[0].rule = "ban-truncate";
	CU_ASSERT_EQUAL(lint_config_check(&p), 0);
}

static void test_hostile(void)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	/* a syntax error is reported, not fatal; the statements after it are linted (test_syntax) */
	struct lint_result r = run("SELECT 1; ALTER TABLE; DROP TABLE x;", &o);
	CU_ASSERT_PTR_NOT_NULL(find(&r, "syntax"));
	CU_ASSERT_PTR_NOT_NULL(find(&r, "ban-drop-table"));
	CU_ASSERT_EQUAL(r.errors, 0);
	lint_result_release(&r);
	o.p = NULL;
	const char *odd[] = { "",
			      ";;;",
			      "-- padctl:allow",
			      "/* padctl:allow ban-truncate */ TRUNCATE t",
			      "COPY t FROM STDIN;\nDROP TABLE x\n\\.\n",
			      "DO $$ BEGIN EXECUTE 'DROP TABLE bo_airflow.t'; END $$",
			      "SET search_path = ''; CREATE TABLE t (i int)",
			      "RESET ALL; TRUNCATE t",
			      NULL };
	for (const char *const *s = odd; *s; s++) {
		r = run(*s, &o);
		o.p = NULL;
		lint_result_release(&r);
	}
	/* COPY data is not SQL: the DROP inside it is data */
	r = run("COPY t FROM STDIN;\nDROP TABLE x\n\\.\n", &o);
	CU_ASSERT_PTR_NULL(find(&r, "ban-drop-table"));
	lint_result_release(&r);
}

/* a statement lint's parser cannot read (PostgreSQL 17's SET EXPRESSION is
 * valid on a newer target) is a warning saying it was not checked, and every
 * other statement of the file is still linted, at its own place, with the
 * search_path the statements before it set */
static const char pg17[] = "ALTER TABLE app.t ALTER COLUMN c SET EXPRESSION AS (1)";

static const struct lint_finding *find_at(const struct lint_result *r, const char *rule, int line)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].rule, rule) && r->v[i].line == line)
			return &r->v[i];
	return NULL;
}

static void test_syntax(void)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	o.prod = 1;
	struct buf b = BUF_INIT;
	buf_addf(&b, "-- a newer grammar\n%s;\n  DELETE FROM bo_airflow.t;\nDROP TABLE app.x;\n", pg17);
	struct lint_result r = run(buf_str(&b), &o);
	const struct lint_finding *f = find(&r, "syntax");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 2);
	CU_ASSERT_EQUAL(f->col, 1);
	CU_ASSERT_EQUAL(f->severity, LINT_WARNING);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "PostgreSQL 15"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "not checked"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "protected schemas"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "line 2, column 38")); /* where the parser stopped: EXPRESSION */
	f = find(&r, "protected-schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 3);
	CU_ASSERT_EQUAL(f->col, 3);
	f = find(&r, "ban-drop-table");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 4);
	CU_ASSERT_EQUAL(f->severity, LINT_ERROR); /* prod refuses it */
	CU_ASSERT_PTR_NOT_NULL(find(&r, "ban-delete-without-where"));
	lint_result_release(&r);
	o.p = NULL;
	/* SET search_path before the unreadable statement still counts after it */
	r = run("SET search_path = app, bo_airflow;\nALTER TABLE t ALTER COLUMN c SET EXPRESSION AS (1);\n"
		"INSERT INTO oracle_employee VALUES (1);",
		&o);
	f = find(&r, "protected-schema");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "search_path set at line 1"));
	lint_result_release(&r);
	o.p = NULL;
	/* several unreadable statements, each its own finding; a function body
	 * of several statements (BEGIN ATOMIC) is still one statement */
	buf_reset(&b);
	buf_addf(&b,
		 "%s;\nCREATE FUNCTION app.f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n"
		 "ALTER TABLE; TRUNCATE app.t;\n%s;\nDROP TABLE app.x;",
		 pg17, pg17);
	r = run(buf_str(&b), &o);
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 1));
	CU_ASSERT_PTR_NULL(find_at(&r, "syntax", 2));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 3));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "ban-truncate", 3));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 4));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "ban-drop-table", 5));
	size_t nsyntax = 0;
	for (size_t i = 0; i < r.n; i++)
		nsyntax += !strcmp(r.v[i].rule, "syntax");
	CU_ASSERT_EQUAL(nsyntax, 3);
	lint_result_release(&r);
	o.p = NULL;
	/* a parenthesis left open, a statement without a keyword, a rule's
	 * actions (a; b): each statement stays its own */
	r = run("ALTER TABLE app.t ADD COLUMN c timestamptz DEFAULT clock_timestamp(;\nDROP TABLE app.x;\n"
		"frobnicate;\nCREATE RULE r AS ON INSERT TO app.t DO ALSO (DELETE FROM app.u; DELETE FROM app.v);\n"
		"ALTER TABLE; DELETE FROM app.w;",
		&o);
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 1));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "ban-drop-table", 2));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 3));
	CU_ASSERT_PTR_NULL(find_at(&r, "syntax", 4));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 5));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "ban-delete-without-where", 5));
	lint_result_release(&r);
	o.p = NULL;
	/* text PostgreSQL 15's scanner refuses (a later version's numbers,
	 * 0x10 and 1_000; an empty quoted name): its statement is a syntax
	 * warning, the statements after it are still read */
	r = run("ALTER TABLE app.t ALTER COLUMN c SET DEFAULT 0x10;\nDELETE FROM bo_airflow.t;\n"
		"SELECT 1_000;\nDROP TABLE app.x;\nSELECT \"\";\nTRUNCATE app.y;",
		&o);
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 1));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "protected-schema", 2));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 3));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "ban-drop-table", 4));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "syntax", 5));
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "ban-truncate", 6));
	lint_result_release(&r);
	o.p = NULL;
	/* an allow comment on the unreadable statement is its own, not the one before's */
	buf_reset(&b);
	buf_addf(&b, "-- padctl:allow syntax checked by hand: PostgreSQL 17 on every target\n%s;\n"
		     "-- padctl:allow ban-drop-table gone since 0040\nDROP TABLE app.x;\n%s;",
		 pg17, pg17);
	r = run(buf_str(&b), &o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(find_at(&r, "syntax", 2));
	CU_ASSERT_STRING_EQUAL(find_at(&r, "syntax", 2)->allowed, "checked by hand: PostgreSQL 17 on every target");
	CU_ASSERT_PTR_NOT_NULL_FATAL(find_at(&r, "syntax", 5));
	CU_ASSERT_PTR_NULL(find_at(&r, "syntax", 5)->allowed);
	lint_result_release(&r);
	o.p = NULL;
	/* a literal left open runs to the end of the file: the statements before it are linted */
	r = run("DROP TABLE app.x;\nSELECT 1;\n  SELECT 'abc;\nDROP TABLE app.y;", &o);
	CU_ASSERT_PTR_NOT_NULL(find_at(&r, "ban-drop-table", 1));
	f = find(&r, "syntax");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->line, 3);
	CU_ASSERT_EQUAL(f->col, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "not checked"));
	lint_result_release(&r);
	o.p = NULL;
	/* a file bigger than one chunk of the statement stream, the same */
	buf_reset(&b);
	while (b.len < (1u << 20) + 4096)
		buf_adds(&b, "SELECT 1;\n");
	buf_addf(&b, "%s;\nDROP TABLE app.x;\n", pg17);
	r = run(buf_str(&b), &o);
	CU_ASSERT_EQUAL(r.n, 2);
	CU_ASSERT_PTR_NOT_NULL(find(&r, "syntax"));
	CU_ASSERT_PTR_NOT_NULL(find(&r, "ban-drop-table"));
	lint_result_release(&r);
	buf_release(&b);
}

static void test_rule_table(void)
{
	/* names are unique and every rule has a description */
	for (size_t i = 0; i < lint_rule_count(); i++) {
		const struct lint_rule_info *a = lint_rule_at(i);
		CU_ASSERT_PTR_NOT_NULL(a->what);
		CU_ASSERT_PTR_EQUAL(lint_rule_find(a->name), a);
	}
	CU_ASSERT_PTR_NULL(lint_rule_at(lint_rule_count()));
	/* docs/lint.md describes every rule */
	const char *src = getenv("PADCTL_SOURCE_DIR");
	if (src) {
		char *path = xstrfmt("%s/docs/lint.md", src), *doc = NULL;
		size_t len = 0;
		CU_ASSERT_EQUAL_FATAL(fs_read_file(path, 1 << 20, &doc, &len), 0);
		for (size_t i = 0; i < lint_rule_count(); i++) {
			char *name = xstrfmt("`%s`", lint_rule_at(i)->name);
			if (!strstr(doc, name))
				fprintf(stderr, "docs/lint.md does not describe %s\n", name);
			CU_ASSERT_PTR_NOT_NULL(strstr(doc, name));
			free(name);
		}
		free(doc);
		free(path);
	}
	CU_ASSERT_EQUAL(lint_rule_find("protected-schema")->severity, LINT_ERROR);
}

/* deep expressions: linted (the tree is PostgreSQL's nodes, no nesting limit
 * of a reader in between), and the parser's own limit is a syntax finding */
static void test_deep(void)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "ALTER TABLE bo_airflow.t ADD COLUMN c int DEFAULT ");
	for (int i = 0; i < 600; i++)
		buf_adds(&b, "(1 + ");
	buf_adds(&b, "random()");
	for (int i = 0; i < 600; i++)
		buf_addch(&b, ')');
	CU_ASSERT_TRUE(fires("protected-schema", buf_str(&b)));
	buf_reset(&b);
	buf_adds(&b, "SELECT ");
	for (int i = 0; i < 100000; i++)
		buf_addch(&b, '(');
	buf_adds(&b, "1");
	for (int i = 0; i < 100000; i++)
		buf_addch(&b, ')');
	CU_ASSERT_TRUE(fires("syntax", buf_str(&b)));
	buf_release(&b);
}

/* a target whose only table is app.users (code varchar(10), email with a
 * validated CHECK (email IS NOT NULL)) and whose only volatile function is
 * app.gen_code, as the target's session (search_path "$user", public) finds
 * them: schema NULL finds nothing */
static int app_column_type(void *arg, const char *schema, const char *table, const char *column, char *type,
			   size_t typelen, int *typmod)
{
	(void)arg;
	if (!schema || strcmp(schema, "app") || strcmp(table, "users"))
		return -1;
	if (!strcmp(column, "email")) {
		snprintf(type, typelen, "text");
		*typmod = -1;
		return 0;
	}
	if (strcmp(column, "code"))
		return -1;
	snprintf(type, typelen, "varchar");
	*typmod = 14;
	return 0;
}

static int app_notnull(void *arg, const char *schema, const char *table, const char *column)
{
	(void)arg;
	return schema && !strcmp(schema, "app") && !strcmp(table, "users") && !strcmp(column, "email");
}

static int app_relation(void *arg, const char *schema, const char *name, char *nsp, size_t nsplen)
{
	(void)arg;
	if (!schema || strcmp(schema, "app") || strcmp(name, "users"))
		return 0;
	snprintf(nsp, nsplen, "app");
	return 'r';
}

static int app_volatility(void *arg, const char *schema, const char *name)
{
	(void)arg;
	return schema && !strcmp(schema, "app") && !strcmp(name, "gen_code") ? 'v' : 0;
}

/* found by a review of the audit's fixes */
static void test_review(void)
{
	/* a relation created in the migration keeps being its own under a new name */
	const char *own[] = {
		"SET search_path = app, bo_airflow; CREATE TABLE t (i int); ALTER TABLE t RENAME TO u; "
		"INSERT INTO u VALUES (1)",
		"SET search_path = pg_temp, bo_airflow; CREATE TABLE t (i int); ALTER TABLE t RENAME TO u; DROP TABLE u",
		"SET search_path = app, bo_airflow; CREATE TABLE t (i int); CREATE INDEX t_i ON t (i); "
		"ALTER INDEX t_i RENAME TO t_j; COMMENT ON INDEX t_j IS 'x'",
		/* the names PostgreSQL gives indexes it names itself */
		"SET search_path = app, bo_airflow; CREATE TABLE t (id int, e text, UNIQUE (e)); "
		"COMMENT ON INDEX t_e_key IS 'x'",
		"SET search_path = app, bo_airflow; CREATE TABLE t (id int, e text, UNIQUE (id, e)); "
		"COMMENT ON INDEX t_id_e_key IS 'x'",
		"SET search_path = app, bo_airflow; CREATE TABLE t (id int); CREATE INDEX ON t (id); "
		"COMMENT ON INDEX t_id_idx IS 'x'",
		"SET search_path = app, bo_airflow; CREATE TABLE t (id int); CREATE INDEX ON t (lower(id::text)); "
		"COMMENT ON INDEX t_expr_idx IS 'x'",
		"SET search_path = app, bo_airflow; CREATE TABLE t (id int); ALTER TABLE t ADD UNIQUE (id); "
		"COMMENT ON INDEX t_id_key IS 'x'",
		"SET search_path = app, bo_airflow; CREATE TABLE t (r int4range, EXCLUDE USING gist (r WITH &&)); "
		"COMMENT ON INDEX t_r_excl IS 'x'",
		NULL,
	};
	each_fires("protected-schema", own, NULL, 0);
	CU_ASSERT_TRUE(fires("protected-schema",
			     "SET search_path = app, bo_airflow; ALTER TABLE t RENAME TO u; INSERT INTO u VALUES (1)"));
	CU_ASSERT_TRUE(fires("protected-schema",
			     "SET search_path = app, bo_airflow; CREATE TABLE t (id int); COMMENT ON INDEX t_x_idx IS 'x'"));
	/* a non-transactional migration's own transactions */
	CU_ASSERT_FALSE(fires_nontx("protected-schema", "SET LOCAL ROLE bo_airflow; CREATE TABLE t (i int);"));
	CU_ASSERT_FALSE(fires_nontx("protected-schema",
				    "SET search_path = app; BEGIN; SET search_path = bo_airflow; ROLLBACK; "
				    "CREATE TABLE t (i int);"));
	CU_ASSERT_FALSE(fires_nontx("protected-schema", "BEGIN; SET ROLE bo_airflow; ROLLBACK; CREATE TABLE t (i int);"));
	CU_ASSERT_TRUE(fires_nontx("protected-schema",
				   "BEGIN; SET LOCAL search_path = app; SET search_path = bo_airflow; COMMIT; "
				   "CREATE TABLE t (i int);"));
	CU_ASSERT_FALSE(fires_nontx("protected-schema",
				    "BEGIN; SET search_path = bo_airflow; SET LOCAL search_path = app; COMMIT; "
				    "SET search_path = app; CREATE TABLE t (i int);"));
	CU_ASSERT_TRUE(fires_nontx("protected-schema",
				   "BEGIN; SET search_path = bo_airflow; SET LOCAL search_path = app; COMMIT; "
				   "CREATE TABLE t (i int);"));
	CU_ASSERT_TRUE(fires_nontx("protected-schema",
				   "BEGIN; COMMIT AND CHAIN; SET LOCAL search_path = bo_airflow; CREATE TABLE t (i int); "
				   "COMMIT;"));
	CU_ASSERT_TRUE(fires_nontx("protected-schema",
				   "BEGIN; SET LOCAL ROLE bo_airflow; CREATE TABLE t (i int); COMMIT;"));
}

/* found by an audit of realistic migrations: each was a false positive or
 * negative before */
static void test_audit(void)
{
	struct lint_opts o;
	/* prod: a temporary table, or one SELECT INTO made, is the migration's own */
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	o.prod = 1;
	CU_ASSERT_FALSE(fires_opts("ban-drop-table",
				   "CREATE TEMP TABLE staging (id int); INSERT INTO staging VALUES (1); DROP TABLE staging",
				   &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("ban-drop-table",
				   "SELECT id INTO TEMP TABLE dupes FROM app.users; DROP TABLE dupes", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("ban-update-without-where",
				   "SELECT id, email INTO TEMP dupes FROM app.users; UPDATE dupes SET email = lower(email)",
				   &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("ban-drop-table", "SELECT * INTO app.bak FROM app.users; DROP TABLE app.bak", &o));
	o.p = NULL;
	/* a DELETE or UPDATE that runs inside another statement */
	CU_ASSERT_TRUE(fires_opts("ban-delete-without-where",
				  "WITH moved AS (DELETE FROM app.sessions RETURNING *) "
				  "INSERT INTO app.sessions_archive SELECT * FROM moved",
				  &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("ban-update-without-where",
				  "WITH u AS (UPDATE app.users SET status = 'a' RETURNING id) SELECT count(*) FROM u", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("ban-delete-without-where", "EXPLAIN ANALYZE DELETE FROM app.sessions", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("ban-delete-without-where", "EXPLAIN DELETE FROM app.sessions", &o));
	o.p = NULL;
	/* IF NOT EXISTS may have found the table there, rows and all */
	CU_ASSERT_TRUE(fires_opts("ban-delete-without-where",
				  "CREATE TABLE IF NOT EXISTS app.flags (name text); DELETE FROM app.flags", &o));
	o.p = NULL;
	/* SET ROLE changes who "$user" is */
	CU_ASSERT_TRUE(fires("protected-schema", "SET ROLE bo_airflow; CREATE TABLE t (id int)"));
	CU_ASSERT_TRUE(fires("protected-schema", "SET SESSION AUTHORIZATION bo_airflow; INSERT INTO t VALUES (1)"));
	CU_ASSERT_FALSE(fires("protected-schema", "SET ROLE bo_airflow; RESET ROLE; CREATE TABLE t (id int)"));
	CU_ASSERT_FALSE(fires("protected-schema", "SET ROLE app; CREATE TABLE t (id int)"));
	/* SET LOCAL inside the migration's own transaction */
	CU_ASSERT_TRUE(fires_nontx("protected-schema",
				   "BEGIN; SET LOCAL search_path = bo_airflow; CREATE TABLE t (id int); COMMIT;"));
	CU_ASSERT_FALSE(fires_nontx("protected-schema",
				    "BEGIN; SET LOCAL search_path = bo_airflow; COMMIT; CREATE TABLE t (id int);"));
	CU_ASSERT_FALSE(fires_nontx("protected-schema", "SET LOCAL search_path = bo_airflow; CREATE TABLE t (id int);"));
	/* an index, a key's index or a serial's sequence created earlier is there in app */
	const char *made[] = {
		"SET search_path = app, bo_airflow; CREATE TABLE t (id int, x int); CREATE INDEX t_x ON t (x); "
		"COMMENT ON INDEX t_x IS 'x'",
		"SET search_path = app, bo_airflow; CREATE TABLE t (id int, x int); CREATE INDEX t_x ON t (x); "
		"ALTER INDEX t_x SET (fillfactor = 90)",
		"SET search_path = app, bo_airflow; CREATE TABLE inv (id bigserial PRIMARY KEY); "
		"SELECT setval('inv_id_seq', 1000); ALTER INDEX inv_pkey RENAME TO inv_pk",
		"SET search_path = app, bo_airflow; CREATE TABLE inv (id bigint GENERATED ALWAYS AS IDENTITY, "
		"code text, CONSTRAINT inv_code UNIQUE (code)); ALTER SEQUENCE inv_id_seq RESTART 1000; "
		"COMMENT ON INDEX inv_code IS 'x'",
		NULL,
	};
	each_fires("protected-schema", made, NULL, 0);
	/* an index of an existing table, unqualified, may be the protected schema's */
	CU_ASSERT_TRUE(fires("protected-schema", "SET search_path = app, bo_airflow; COMMENT ON INDEX t_x IS 'x'"));
	/* CREATE EXTENSION without SCHEMA lands in the first schema of the path */
	CU_ASSERT_TRUE(
		fires("protected-schema", "SET search_path = bo_airflow, public; CREATE EXTENSION IF NOT EXISTS pgcrypto"));
	CU_ASSERT_FALSE(fires("protected-schema", "SET search_path = app; CREATE EXTENSION IF NOT EXISTS pgcrypto"));
	/* triggers and storage parameters take lighter locks than ACCESS EXCLUSIVE */
	CU_ASSERT_FALSE(fires("statement-after-access-exclusive",
			      "ALTER TABLE app.users DISABLE TRIGGER audit; UPDATE app.users SET a = 1 WHERE a = 0; "
			      "ALTER TABLE app.users ENABLE TRIGGER audit"));
	CU_ASSERT_FALSE(fires("statement-after-access-exclusive",
			      "ALTER TABLE app.e SET (autovacuum_vacuum_scale_factor = 0.01); SELECT 1"));
	CU_ASSERT_TRUE(fires("statement-after-access-exclusive",
			     "ALTER VIEW app.v SET (security_barrier = true); SELECT 1"));
	/* the catalog look-ups follow the migration's search_path */
	struct lint_catalog cat;
	memset(&cat, 0, sizeof cat);
	cat.server_version = 150004;
	cat.search_path = "\"$user\", public";
	cat.user = "deploy";
	cat.column_type = app_column_type;
	cat.relation = app_relation;
	cat.has_notnull_check = app_notnull;
	cat.volatility = app_volatility;
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	o.prod = 1;
	o.cat = &cat;
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type",
				  "SET search_path = app; ALTER TABLE users ALTER COLUMN code TYPE varchar(5)", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("narrowing-column-type", "ALTER TABLE app.users ALTER COLUMN code TYPE varchar(5)", &o));
	o.p = NULL;
	CU_ASSERT_FALSE(fires_opts("adding-not-nullable-field",
				   "SET search_path = app; ALTER TABLE users ALTER COLUMN email SET NOT NULL", &o));
	o.p = NULL;
	CU_ASSERT_TRUE(fires_opts("adding-field-with-default",
				  "SET search_path = app; ALTER TABLE users ADD COLUMN c text DEFAULT gen_code()", &o));
	o.p = NULL;
	struct lint_result r = run("SET search_path = app; ALTER TABLE users ALTER COLUMN code TYPE varchar(5)", &o);
	const struct lint_finding *f = find(&r, "narrowing-column-type");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "from varchar(10) to varchar(5)"));
	lint_result_release(&r);
	o.p = NULL;
	/* a table the migration's search_path does not find has no CHECK lint knows of */
	r = run("SET search_path = app; ALTER TABLE nope ALTER COLUMN email SET NOT NULL", &o);
	f = find(&r, "adding-not-nullable-field");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NULL(strstr(f->reason, "no target connected"));
	lint_result_release(&r);
	o.p = NULL;
	r = run("SET search_path = app; ALTER TABLE nope ALTER COLUMN code TYPE varchar(5)", &o);
	f = find(&r, "changing-column-type");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NULL(strstr(f->reason, "without a connected target"));
	lint_result_release(&r);
	/* no target: the migration's search_path changes nothing of what lint says it does not know */
	memset(&o, 0, sizeof o);
	o.transactional = 1;
	r = run("SET search_path = app; ALTER TABLE users ALTER COLUMN email SET NOT NULL", &o);
	f = find(&r, "adding-not-nullable-field");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(f->reason, "no target connected"));
	lint_result_release(&r);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "protected schemas: every way to change one, and reads that are fine", test_protected },
		{ "protected schemas: statements inside statements, objects on tables, rewrites", test_protected_nested },
		{ "protected-schema: search_path as the server reads it", test_search_path },
		{ "protected-schema: position, search_path, cannot be allowed", test_protected_message },
		{ "lint_protected_sql for seed files", test_seed_entry },
		{ "transactions", test_transactions },
		{ "non-transactional-not-rerunnable: what can run twice", test_rerunnable },
		{ "partitioned tables' indexes and CONCURRENTLY leftovers", test_partial_index },
		{ "destructive", test_destructive },
		{ "prod tier and the destructive declaration", test_prod_and_declaration },
		{ "locking", test_locking },
		{ "what a connected target tells", test_catalog },
		{ "style rules and severities", test_style },
		{ "suppression with a reason", test_suppression },
		{ "lint.rules in padctl.yml", test_config_check },
		{ "hostile and odd input", test_hostile },
		{ "a statement lint cannot parse, and the rest of the file", test_syntax },
		{ "the rule table", test_rule_table },
		{ "deep expressions", test_deep },
		{ "cases from an audit of realistic migrations", test_audit },
		{ "cases from a review of the audit's fixes", test_review },
		{ NULL, NULL },
	};
	return unit_run("lint", tests);
}

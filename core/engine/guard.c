#include "guard.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

/* pg_temp.padctl_guard(schemas, base, content, lost), the full check:
 * - base NULL: the state (content false: "namespaces/dependents"; true: an
 *   md5 of the catalog rows) on the first line, then every object by name;
 *   it also writes the fast check (padctl_guard_watch below), which calls
 *   this function with the same arguments when it sees a difference;
 * - else: NULL when nothing changed (and then the fast check is written
 *   anew); raises "padctl guard: rows written"
 *   (DETAIL: the tables) or "padctl guard: catalog changed" (DETAIL: the
 *   objects this transaction changed, "--", every object now). lost (from
 *   the fast check): a pg_depend row of the state is gone, so an object was
 *   dropped even if the count is made up by one another session created.
 * Rows another session committed meanwhile are not this migration's, and
 * objects it created only add to the count: the check passes then (an
 * object another session drops fails the next migration's check). Outside a
 * transaction an index not yet valid (another session's CREATE INDEX
 * CONCURRENTLY under way) is left out: a statement of a migration cannot
 * build one through dynamic SQL, and lint reads the literal ones.
 * Objects are found through pg_depend (what depends on the schema, and what
 * depends automatically or internally on its relations), so every lookup
 * goes through an index (and so are the indexes of its tables, through
 * pg_index: the index of a primary key or unique constraint depends on the
 * constraint, not on the table); the owned schemas' views and foreign keys that
 * refer to a protected table are not the protected schema's objects (a
 * foreign key into a protected table marks that table's pg_class row as
 * having triggers, its internal RI triggers: a table row changed by this
 * transaction that gained such a trigger is not counted as changed while
 * the rest of the row, REL_ROW, is what it was when the fast check was
 * written: marks; outside a transaction the content digest leaves
 * relhastriggers out for the same reason, a trigger of the table's own
 * being counted through pg_depend). Rows
 * of this transaction: age(xmin) below 1 (subtransactions have later xids);
 * on the failure path pg_xact_status separates them from rows another
 * session committed meanwhile. Its plans are generic (plan_cache_mode): the
 * arrays change every call, and planning them anew each time cost more than
 * the queries themselves. */
/* DEP_SUB is what hangs off the schemas' relations and types: what depends
 * on them automatically or internally (a column's default, a constraint, a
 * trigger, a rule, a policy, an index; a domain's constraint, a composite
 * type's relation, an array type). p is the pg_depend row's prefix. */
#define DEP_SUB(p)                                                                                        \
	"(" p "refclassid = 'pg_class'::regclass AND " p "refobjid = ANY (rels) AND " p "deptype IN ('a', 'i')) " \
	"OR (" p "refclassid = 'pg_type'::regclass AND " p "refobjid = ANY (typs) AND " p "deptype IN ('a', 'i'))"
/* COMPOSITES adds to rels the relations of the schemas' composite types:
 * such a relation depends on its type, not on the schema, and its
 * attributes are read as a table's columns are */
#define COMPOSITES                                                                                        \
	"  rels := coalesce(rels, '{}') || ARRAY(SELECT d.objid FROM pg_depend d WHERE d.refclassid = "       \
	"'pg_type'::regclass AND d.refobjid = ANY (typs) AND d.classid = 'pg_class'::regclass AND d.deptype = 'i');\n"
/* FK_TRIGGERS adds to subs the triggers that enforce the schemas' own
 * constraints (a foreign key between two protected tables): they depend on
 * the constraint, not on a table, so pg_depend does not lead to them, and
 * ALTER TABLE ... DISABLE TRIGGER ALL changes only their rows. A foreign
 * key from an owned table into a protected one is the owned table's
 * constraint: its triggers stay out. */
#define FK_TRIGGERS                                                                                        \
	"  subs := subs || ARRAY(SELECT t.oid FROM pg_trigger t WHERE t.tgconstraint = ANY (subs));\n"

/* REL_ROW is a digest of what DDL can change in a pg_class row, but for
 * relhastriggers (a foreign key into the table sets it) and what VACUUM and
 * ANALYZE keep (pages, tuples, frozen ids, relhasindex) */
#define REL_ROW(c)                                                                                         \
	"md5(concat_ws('|', " c "relname, " c "relnamespace, " c "reltype, " c "relowner, " c "relam, " c       \
	"relfilenode, " c "reltablespace, " c "relacl, " c "reloptions, " c "relpersistence, " c "relkind, " c  \
	"relnatts, " c "relchecks, " c "relhasrules, " c "relhassubclass, " c "relrowsecurity, " c             \
	"relforcerowsecurity, " c "relreplident, " c "relispartition, " c "relpartbound))"

static const char guard_fn[] =
	"CREATE OR REPLACE FUNCTION pg_temp.padctl_guard(s text[], base text, content boolean, lost boolean DEFAULT false,\n"
	"  marks text[] DEFAULT '{}') RETURNS text\n"
	"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $f$\n"
	"DECLARE\n"
	"  nss oid[]; rels oid[]; procs oid[]; typs oid[]; subs oid[]; dacl oid[];\n"
	"  ndep bigint; mine bigint; st text; w text; lst text; top bigint;\n"
	"BEGIN\n"
	"  SELECT array_agg(n.oid), count(*) FILTER (WHERE age(n.xmin) <= 0) INTO nss, mine FROM pg_namespace n WHERE n.nspname = ANY (s);\n"
	"  SELECT array_agg(d.objid) FILTER (WHERE d.classid = 'pg_class'::regclass),\n"
	"         array_agg(d.objid) FILTER (WHERE d.classid = 'pg_proc'::regclass),\n"
	"         array_agg(d.objid) FILTER (WHERE d.classid = 'pg_type'::regclass),\n"
	"         array_agg(d.objid) FILTER (WHERE d.classid = 'pg_default_acl'::regclass),\n"
	"         count(*), mine + count(*) FILTER (WHERE age(d.xmin) <= 0)\n"
	"    INTO rels, procs, typs, dacl, ndep, mine\n"
	"    FROM pg_depend d WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ANY (nss) AND d.refobjsubid = 0;\n"
	COMPOSITES
	"  SELECT array_agg(d.objid), ndep + count(*), mine + count(*) FILTER (WHERE age(d.xmin) <= 0) INTO subs, ndep, mine\n"
	"    FROM pg_depend d WHERE (" DEP_SUB("d.") ")\n"
	"     AND NOT (content AND d.classid = 'pg_class'::regclass AND EXISTS (SELECT FROM pg_index i WHERE i.indexrelid = d.objid AND NOT i.indisvalid));\n"
	"  subs := coalesce(subs, '{}') || ARRAY(SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = ANY (rels) AND (i.indisvalid OR NOT content));\n"
	FK_TRIGGERS
	"  IF NOT content AND NOT current_setting('track_counts')::boolean THEN\n"
	"    RAISE EXCEPTION USING MESSAGE = 'padctl guard: writes not counted', DETAIL = 'track_counts is off';\n"
	"  END IF;\n"
	"  IF base IS NOT NULL THEN\n"
	"    SELECT string_agg(r::regclass::text, ', ' ORDER BY r::regclass::text) INTO w FROM unnest(rels) r\n"
	"     WHERE pg_stat_get_xact_tuples_inserted(r) + pg_stat_get_xact_tuples_updated(r) + pg_stat_get_xact_tuples_deleted(r) > 0;\n"
	"    IF w IS NOT NULL THEN\n"
	"      RAISE EXCEPTION USING MESSAGE = 'padctl guard: rows written', DETAIL = w;\n"
	"    END IF;\n"
	"  END IF;\n"
	"  st := coalesce(cardinality(nss), 0) || '/' || ndep;\n"
	"  IF content THEN\n"
	"    SELECT md5(concat_ws('#', st,\n"
	"      (SELECT string_agg(concat_ws('|', n.oid, n.nspname, n.nspowner, n.nspacl), ';' ORDER BY n.oid) FROM pg_namespace n WHERE n.oid = ANY (nss)),\n"
	"      (SELECT string_agg(concat_ws('|', c.oid, c.relnamespace, c.relname, c.relkind, c.relowner, c.relacl, c.reloptions, c.relfilenode,\n"
	"        c.relnatts, c.relchecks, c.relrowsecurity, c.relforcerowsecurity), ';' ORDER BY c.oid)\n"
	"         FROM pg_class c WHERE c.oid = ANY (rels || subs)),\n"
	"      (SELECT string_agg(concat_ws('|', a.attrelid, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attisdropped,\n"
	"        a.attidentity, a.attgenerated, a.attcollation, a.attacl, a.attoptions), ';' ORDER BY a.attrelid, a.attnum)\n"
	"         FROM pg_attribute a WHERE a.attrelid = ANY (rels) AND a.attnum > 0),\n"
	"      (SELECT string_agg(concat_ws('|', o.oid, o.conname, o.convalidated, o.condeferrable, o.condeferred), ';' ORDER BY o.oid)\n"
	"         FROM pg_constraint o WHERE o.oid = ANY (subs)),\n"
	"      (SELECT string_agg(concat_ws('|', t.oid, t.tgname, t.tgenabled, md5(pg_get_triggerdef(t.oid))), ';' ORDER BY t.oid)\n"
	"         FROM pg_trigger t WHERE t.oid = ANY (subs)),\n"
	"      (SELECT string_agg(concat_ws('|', d.oid, d.adrelid, d.adnum, md5(pg_get_expr(d.adbin, d.adrelid))), ';' ORDER BY d.oid)\n"
	"         FROM pg_attrdef d WHERE d.oid = ANY (subs)),\n"
	"      (SELECT string_agg(concat_ws('|', r.oid, r.ev_enabled, md5(r.ev_action::text)), ';' ORDER BY r.oid) FROM pg_rewrite r WHERE r.oid = ANY (subs)),\n"
	"      (SELECT string_agg(concat_ws('|', p.oid, p.polname, p.polroles, md5(concat(p.polqual, p.polwithcheck))), ';' ORDER BY p.oid) FROM pg_policy p WHERE p.oid = ANY (subs)),\n"
	"      (SELECT string_agg(concat_ws('|', p.oid, p.proname, p.proowner, p.proacl, p.prosecdef, p.provolatile, p.proconfig, md5(p.prosrc),\n"
	"        CASE WHEN p.prokind <> 'a' THEN md5(pg_get_functiondef(p.oid)) END), ';' ORDER BY p.oid)\n"
	"         FROM pg_proc p WHERE p.oid = ANY (procs)),\n"
	"      (SELECT string_agg(concat_ws('|', t.oid, t.typname, t.typowner, t.typacl, t.typnotnull, t.typdefault), ';' ORDER BY t.oid) FROM pg_type t WHERE t.oid = ANY (typs)),\n"
	"      (SELECT string_agg(concat_ws('|', e.oid, e.enumlabel, e.enumsortorder), ';' ORDER BY e.oid) FROM pg_enum e WHERE e.enumtypid = ANY (typs)),\n"
	"      (SELECT string_agg(concat_ws('|', q.seqrelid, q.seqincrement, q.seqmax, q.seqmin, q.seqcycle), ';' ORDER BY q.seqrelid) FROM pg_sequence q WHERE q.seqrelid = ANY (rels)),\n"
	"      (SELECT string_agg(concat_ws('|', d.oid, d.defaclacl), ';' ORDER BY d.oid) FROM pg_default_acl d WHERE d.oid = ANY (dacl)))) INTO st;\n"
	"  ELSE\n"
	"    SELECT mine + (SELECT count(*) FROM pg_class c WHERE c.oid = ANY (rels || subs) AND age(c.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = ANY (rels) AND a.attnum > 0 AND age(a.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_constraint o WHERE o.oid = ANY (subs) AND age(o.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_trigger t WHERE t.oid = ANY (subs) AND age(t.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_rewrite r WHERE r.oid = ANY (subs) AND age(r.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_policy p WHERE p.oid = ANY (subs) AND age(p.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_proc p WHERE p.oid = ANY (procs) AND age(p.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_type t WHERE t.oid = ANY (typs) AND age(t.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_enum e WHERE e.enumtypid = ANY (typs) AND age(e.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_sequence q WHERE q.seqrelid = ANY (rels) AND age(q.xmin) <= 0)\n"
	"         + (SELECT count(*) FROM pg_default_acl d WHERE d.oid = ANY (dacl) AND age(d.xmin) <= 0)\n"
	"      INTO mine;\n"
	"  END IF;\n"
	"  IF base IS NULL THEN\n"
	"    SELECT string_agg(x, E'\\n' ORDER BY x) INTO lst FROM (\n"
	"      SELECT pg_describe_object('pg_namespace'::regclass, n, 0) FROM unnest(nss) n\n"
	"      UNION ALL SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d\n"
	"       WHERE (d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ANY (nss) AND d.refobjsubid = 0)\n"
	"          OR " DEP_SUB("d.") "\n"
	"      UNION ALL SELECT pg_describe_object('pg_class'::regclass, a.attrelid, a.attnum) FROM pg_attribute a\n"
	"       WHERE a.attrelid = ANY (rels) AND a.attnum > 0 AND NOT a.attisdropped) o(x);\n"
	"    PERFORM pg_temp.padctl_guard_watch(s, false);\n"
	"    RETURN st || E'\\n' || coalesce(lst, '');\n"
	"  END IF;\n"
	"  IF st = base AND mine = 0 AND NOT lost THEN\n"
	"    PERFORM pg_temp.padctl_guard_watch(s, true);\n"
	"    RETURN NULL;\n"
	"  END IF;\n"
	"  SELECT string_agg(x, E'\\n' ORDER BY x) INTO lst FROM (\n"
	"    SELECT pg_describe_object('pg_namespace'::regclass, n, 0) FROM unnest(nss) n\n"
	"    UNION ALL SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d\n"
	"     WHERE (d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ANY (nss) AND d.refobjsubid = 0)\n"
	"        OR " DEP_SUB("d.") "\n"
	"    UNION ALL SELECT pg_describe_object('pg_class'::regclass, a.attrelid, a.attnum) FROM pg_attribute a\n"
	"     WHERE a.attrelid = ANY (rels) AND a.attnum > 0 AND NOT a.attisdropped) o(x);\n"
	"  IF NOT content THEN\n"
	"    top := pg_current_xact_id()::text::bigint;\n"
	"    SELECT string_agg('changed ' || x, E'\\n' ORDER BY x) INTO w FROM (\n"
	"      SELECT DISTINCT x FROM (\n"
	"      SELECT pg_describe_object('pg_namespace'::regclass, n.oid, 0), n.xmin FROM pg_namespace n WHERE n.oid = ANY (nss)\n"
	"      UNION ALL SELECT pg_describe_object(d.classid, d.objid, d.objsubid), d.xmin FROM pg_depend d\n"
	"       WHERE (d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ANY (nss) AND d.refobjsubid = 0)\n"
	"          OR " DEP_SUB("d.") "\n"
	"      UNION ALL SELECT pg_describe_object('pg_class'::regclass, c.oid, 0), c.xmin FROM pg_class c WHERE c.oid = ANY (rels || subs)\n"
	"       AND NOT (c.oid || ':' || " REL_ROW("c.") " = ANY (marks)\n"
	"         AND EXISTS (SELECT FROM pg_trigger t JOIN pg_constraint o ON o.oid = t.tgconstraint WHERE t.tgrelid = c.oid\n"
	"             AND o.contype = 'f' AND o.confrelid = c.oid AND NOT o.conrelid = ANY (rels) AND age(t.xmin) <= 0))\n"
	"      UNION ALL SELECT pg_describe_object('pg_class'::regclass, a.attrelid, a.attnum), a.xmin FROM pg_attribute a WHERE a.attrelid = ANY (rels) AND a.attnum > 0\n"
	"      UNION ALL SELECT pg_describe_object('pg_constraint'::regclass, o.oid, 0), o.xmin FROM pg_constraint o WHERE o.oid = ANY (subs)\n"
	"      UNION ALL SELECT pg_describe_object('pg_trigger'::regclass, t.oid, 0), t.xmin FROM pg_trigger t WHERE t.oid = ANY (subs)\n"
	"      UNION ALL SELECT pg_describe_object('pg_rewrite'::regclass, r.oid, 0), r.xmin FROM pg_rewrite r WHERE r.oid = ANY (subs)\n"
	"      UNION ALL SELECT pg_describe_object('pg_policy'::regclass, p.oid, 0), p.xmin FROM pg_policy p WHERE p.oid = ANY (subs)\n"
	"      UNION ALL SELECT pg_describe_object('pg_proc'::regclass, p.oid, 0), p.xmin FROM pg_proc p WHERE p.oid = ANY (procs)\n"
	"      UNION ALL SELECT pg_describe_object('pg_type'::regclass, t.oid, 0), t.xmin FROM pg_type t WHERE t.oid = ANY (typs)\n"
	"      UNION ALL SELECT pg_describe_object('pg_type'::regclass, e.enumtypid, 0), e.xmin FROM pg_enum e WHERE e.enumtypid = ANY (typs)\n"
	"      UNION ALL SELECT pg_describe_object('pg_class'::regclass, q.seqrelid, 0), q.xmin FROM pg_sequence q WHERE q.seqrelid = ANY (rels)\n"
	"      UNION ALL SELECT pg_describe_object('pg_default_acl'::regclass, d.oid, 0), d.xmin FROM pg_default_acl d WHERE d.oid = ANY (dacl)\n"
	"      ) v(x, xm)\n"
	"      WHERE CASE WHEN age(xm) <= 0 THEN pg_xact_status(((top >> 32 << 32) | xm::text::bigint)::text::xid8) END = 'in progress') y;\n"
	"    IF w IS NULL AND NOT lost AND split_part(st, '/', 1)::bigint >= split_part(base, '/', 1)::bigint\n"
	"       AND split_part(st, '/', 2)::bigint >= split_part(base, '/', 2)::bigint THEN\n"
	"      PERFORM pg_temp.padctl_guard_watch(s, true);\n"
	"      RETURN NULL;\n"
	"    END IF;\n"
	"  END IF;\n"
	"  RAISE EXCEPTION USING MESSAGE = 'padctl guard: catalog changed', DETAIL = coalesce(w, '') || E'\\n--\\n' || coalesce(lst, '');\n"
	"END $f$;\n";

/* pg_temp.padctl_guard_counting() fails while track_counts is off. It runs
 * where the migration's text ends, before padctl resets the session for
 * the history row (a RESET ALL would turn track_counts on again): a write
 * made with it off leaves pg_stat_xact_* at zero, which the check after it
 * cannot tell from no write. (A migration that turns it off and on again
 * around a write is not a mistake the guard can catch: track_counts is a
 * superuser's setting.) */
static const char guard_counting_fn[] =
	"CREATE OR REPLACE FUNCTION pg_temp.padctl_guard_counting() RETURNS void\n"
	"LANGUAGE plpgsql AS $n$\n"
	"BEGIN\n"
	"  IF NOT current_setting('track_counts')::boolean THEN\n"
	"    RAISE EXCEPTION USING MESSAGE = 'padctl guard: writes not counted', DETAIL = 'track_counts is off';\n"
	"  END IF;\n"
	"END $n$;\n";

/* pg_temp.padctl_guard_watch(s, quiet) (re)writes pg_temp.padctl_guard_fast
 * (base, content), the check a migration pays for: it passes only where
 * padctl_guard would, at a fraction of its cost. It remembers where each
 * catalog row padctl_guard reads lies (its ctid) and the xmin of every such
 * row and of each pg_depend row padctl_guard counts, as constants in the
 * function's text, and counts in one statement the rows still visible at
 * those places with one of those xmins (TID scans, no index), plus the
 * pg_depend (and pg_enum) rows now there (index scans). A row is never moved: an UPDATE (HOT too) or
 * DELETE, by this transaction or another, leaves the remembered version
 * invisible, and a new version or a new row carries a newer xmin, so the
 * counts equal the remembered ones only if none of those rows changed and
 * none was added: a new object in or on the schema adds a pg_depend row, a
 * new column changes its table's row (relnatts), a new enum label is counted,
 * a protected schema missing at the start is looked up by name. A rewrite of
 * a catalog (VACUUM FULL) would move rows: the relfilenodes are compared.
 * Rows written to the schema's tables are counted as in padctl_guard. Any
 * difference hands over to padctl_guard with the same arguments, which
 * decides and names the objects; when that passes (another session changed
 * the schema, or a foreign key into it marked a table), the fast check is
 * rewritten from the state then, so it stays fast. That rewrite is skipped
 * if it fails (a migration that SET ROLE to a role that cannot replace it):
 * the full check then runs each time, as before. The generated function's
 * queries have no parameters, so their plans are made once; seq and bitmap
 * scans are off in it so the planner keeps to TID and index scans whatever
 * the catalogs' size. */
static const char guard_watch_fn[] =
	"CREATE OR REPLACE FUNCTION pg_temp.padctl_guard_watch(s text[], quiet boolean) RETURNS void\n"
	"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $w$\n"
	"DECLARE\n"
	"  nss oid[]; rels oid[]; procs oid[]; typs oid[]; subs oid[]; dacl oid[]; gone text[];\n"
	"  br text[]; fns text[]; xs text[]; n bigint; deps tid[]; dfn text; mk text[];\n"
	"BEGIN\n"
	"  SELECT coalesce(array_agg(n.oid), '{}') INTO nss FROM pg_namespace n WHERE n.nspname = ANY (s);\n"
	"  SELECT coalesce(array_agg(x), '{}') INTO gone FROM unnest(s) x WHERE NOT EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = x);\n"
	"  SELECT coalesce(array_agg(d.objid) FILTER (WHERE d.classid = 'pg_class'::regclass), '{}'),\n"
	"         coalesce(array_agg(d.objid) FILTER (WHERE d.classid = 'pg_proc'::regclass), '{}'),\n"
	"         coalesce(array_agg(d.objid) FILTER (WHERE d.classid = 'pg_type'::regclass), '{}'),\n"
	"         coalesce(array_agg(d.objid) FILTER (WHERE d.classid = 'pg_default_acl'::regclass), '{}')\n"
	"    INTO rels, procs, typs, dacl\n"
	"    FROM pg_depend d WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ANY (nss) AND d.refobjsubid = 0;\n"
	COMPOSITES
	"  SELECT coalesce(array_agg(d.objid), '{}') INTO subs FROM pg_depend d WHERE " DEP_SUB("d.") ";\n"
	"  subs := subs || ARRAY(SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = ANY (rels));\n"
	FK_TRIGGERS
	"  WITH w(cat, t, x) AS (\n"
	"      SELECT 'pg_namespace'::regclass, ctid, xmin FROM pg_namespace WHERE oid = ANY (nss)\n"
	"      UNION ALL SELECT 'pg_class'::regclass, ctid, xmin FROM pg_class WHERE oid = ANY (rels || subs)\n"
	"      UNION ALL SELECT 'pg_attribute'::regclass, ctid, xmin FROM pg_attribute WHERE attrelid = ANY (rels) AND attnum > 0\n"
	"      UNION ALL SELECT 'pg_constraint'::regclass, ctid, xmin FROM pg_constraint WHERE oid = ANY (subs)\n"
	"      UNION ALL SELECT 'pg_trigger'::regclass, ctid, xmin FROM pg_trigger WHERE oid = ANY (subs)\n"
	"      UNION ALL SELECT 'pg_rewrite'::regclass, ctid, xmin FROM pg_rewrite WHERE oid = ANY (subs)\n"
	"      UNION ALL SELECT 'pg_policy'::regclass, ctid, xmin FROM pg_policy WHERE oid = ANY (subs)\n"
	"      UNION ALL SELECT 'pg_proc'::regclass, ctid, xmin FROM pg_proc WHERE oid = ANY (procs)\n"
	"      UNION ALL SELECT 'pg_type'::regclass, ctid, xmin FROM pg_type WHERE oid = ANY (typs)\n"
	"      UNION ALL SELECT 'pg_sequence'::regclass, ctid, xmin FROM pg_sequence WHERE seqrelid = ANY (rels)\n"
	"      UNION ALL SELECT 'pg_default_acl'::regclass, ctid, xmin FROM pg_default_acl WHERE oid = ANY (dacl)\n"
	"      UNION ALL SELECT 'pg_depend'::regclass, ctid, xmin FROM pg_depend\n"
	"        WHERE (refclassid = 'pg_namespace'::regclass AND refobjid = ANY (nss) AND refobjsubid = 0)\n"
	"           OR " DEP_SUB("") "\n"
	"      UNION ALL SELECT NULL, NULL, xmin FROM pg_enum WHERE enumtypid = ANY (typs)),\n"
	"    c AS (SELECT cat, array_agg(t) ts FROM w WHERE cat IS NOT NULL AND cat <> 'pg_depend'::regclass GROUP BY cat)\n"
	"  SELECT (SELECT array_agg(format('SELECT xmin FROM %s WHERE ctid = ANY (%L::tid[])', cat, ts) ORDER BY cat) FROM c),\n"
	"         (SELECT array_agg(format('pg_relation_filenode(%s) = %s', cat::oid, pg_relation_filenode(cat)) ORDER BY cat) FROM c),\n"
	"         (SELECT array_agg(DISTINCT x::text) FROM w), (SELECT count(*) FROM w),\n"
	"         (SELECT coalesce(array_agg(t), '{}') FROM w WHERE cat = 'pg_depend'::regclass),\n"
	"         format('pg_relation_filenode(%s) = %s', 'pg_depend'::regclass::oid, pg_relation_filenode('pg_depend'))\n"
	"    INTO br, fns, xs, n, deps, dfn;\n"
	"  br := coalesce(br, '{}')\n"
	"    || format('SELECT xmin FROM pg_depend WHERE refclassid = %s AND refobjid = ANY (%L::oid[]) AND refobjsubid = 0', 'pg_namespace'::regclass::oid, nss)\n"
	"    || format('SELECT xmin FROM pg_depend WHERE refclassid = %s AND refobjid = ANY (%L::oid[]) AND deptype IN (''a'', ''i'')', 'pg_class'::regclass::oid, rels)\n"
	"    || format('SELECT xmin FROM pg_depend WHERE refclassid = %s AND refobjid = ANY (%L::oid[]) AND deptype IN (''a'', ''i'')', 'pg_type'::regclass::oid, typs);\n"
	"  SELECT coalesce(array_agg(c.oid || ':' || " REL_ROW("c.") "), '{}') INTO mk FROM pg_class c WHERE c.oid = ANY (rels) AND NOT c.relhastriggers;\n"
	"  IF cardinality(typs) > 0 THEN\n"
	"    br := br || format('SELECT xmin FROM pg_enum WHERE enumtypid = ANY (%L::oid[])', typs);\n"
	"  END IF;\n"
	"  IF cardinality(gone) > 0 THEN\n"
	"    br := br || format('SELECT xmin FROM pg_namespace WHERE nspname = ANY (%L::text[])', gone);\n"
	"  END IF;\n"
	"  IF cardinality(rels) > 0 THEN\n"
	"    br := br || format('SELECT NULL FROM unnest(%L::oid[]) r WHERE pg_stat_get_xact_tuples_inserted(r) + pg_stat_get_xact_tuples_updated(r) + pg_stat_get_xact_tuples_deleted(r) > 0', rels);\n"
	"  END IF;\n"
	"  EXECUTE format('CREATE OR REPLACE FUNCTION pg_temp.padctl_guard_fast(base text, content boolean) RETURNS text\n"
	"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET enable_bitmapscan = off SET enable_tidscan = on AS $c$\n"
	"BEGIN\n"
	"  IF (content OR current_setting(''track_counts'')::boolean) AND %1$s(SELECT count(*) = %2$s AND count(*) FILTER (WHERE x = ANY (%3$L::xid[])) = %2$s FROM (\n"
	"      %4$s) v(x)) THEN\n"
	"    RETURN NULL;\n"
	"  END IF;\n"
	"  RETURN pg_temp.padctl_guard(%5$L::text[], base, content, NOT content AND %6$s\n"
	"    AND (SELECT count(*) FROM pg_depend WHERE ctid = ANY (%7$L::tid[]) AND xmin = ANY (%3$L::xid[])) < %8$s, %9$L::text[]);\n"
	"END $c$',\n"
	"                 coalesce(array_to_string(fns, ' AND ') || E'\\n    AND ', ''), n, xs, array_to_string(br, E'\\n      UNION ALL '), s,\n"
	"                 dfn, deps, cardinality(deps), mk);\n"
	"EXCEPTION WHEN OTHERS THEN\n"
	"  IF NOT quiet THEN\n"
	"    RAISE;\n"
	"  END IF;\n"
	"END $w$;\n";

void guard_init(struct guard *g, struct db *db, char *const *schemas, size_t n)
{
	memset(g, 0, sizeof *g);
	g->db = db;
	if (n == 0)
		return;
	g->names = schemas;
	g->nnames = n;
	struct buf b = BUF_INIT;
	buf_adds(&b, "ARRAY[");
	/* schema names are plain identifiers (config.c's ident_ok): letters, digits and _ need no escaping */
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s'%s'", i ? ", " : "", schemas[i]);
	buf_adds(&b, "]::text[]");
	g->schemas = buf_detach(&b);
}

void guard_release(struct guard *g)
{
	free(g->schemas);
	free(g->base);
	free(g->listing);
	free(g->content);
	free(g->check_sql);
	memset(g, 0, sizeof *g);
}

void guard_step_start(struct guard *g)
{
	free(g->base);
	g->base = NULL;
}

/* uncounted says why the guard cannot see writes: the counters it reads
 * (pg_stat_xact_user_tables) are kept only while track_counts is on */
static char *schemas_named(const struct guard *g, const char *names);

static int uncounted(const struct guard *g, const char *what, const char *label)
{
	char *s = schemas_named(g, "");
	fail("%s: writes to protected schema%s %s could not be checked on %s: track_counts is off", what,
	     strchr(s, ',') ? "s" : "", s, label);
	free(s);
	return fail_hint("the guard reads the transaction's row counters, which PostgreSQL keeps only while "
			 "track_counts is on: turn it on (and do not turn it off in a migration), or set "
			 "migrations.guard: false");
}

static int is_guard(const PGresult *res, const char **msg, const char **detail);

/* take runs the function with base NULL (creating it first when needed) and
 * keeps the state line in *state and the listing in g->listing. */
static int take(struct guard *g, struct db *db, int content, char **state)
{
	if (db_flush(db))
		return -1;
	struct buf sql = BUF_INIT;
	if (!g->created)
		buf_addf(&sql, "%s;\n%s;\n%s;\n", guard_fn, guard_watch_fn, guard_counting_fn);
	buf_addf(&sql, "SELECT pg_temp.padctl_guard(%s, NULL, %s)", g->schemas, content ? "true" : "false");
	PGresult *res = PQexec(db->conn, buf_str(&sql));
	buf_release(&sql);
	const char *gmsg, *gdetail;
	if (is_guard(res, &gmsg, &gdetail)) {
		PQclear(res);
		return uncounted(g, g->what ? g->what : "the migration", db->label);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		fail("could not read the catalog of the protected schemas on %s: %s", db->label,
		     msg ? msg : PQerrorMessage(db->conn));
		PQclear(res);
		g->created = 0;
		return fail_hint("padctl creates a temporary function (pg_temp.padctl_guard) for the check: the role "
				 "needs the TEMPORARY privilege on the database; or set migrations.guard: false");
	}
	g->created = 1;
	const char *v = PQgetvalue(res, 0, 0);
	const char *nl = strchr(v, '\n');
	free(*state);
	*state = nl ? xstrndup(v, (size_t)(nl - v)) : xstrdup(v);
	free(g->listing);
	g->listing = xstrdup(nl ? nl + 1 : "");
	PQclear(res);
	return 0;
}

const char *guard_tx_sql(struct guard *g, struct db *db)
{
	if (!g->schemas)
		return "";
	if (!g->base) {
		if (take(g, db, 0, &g->base))
			return NULL;
		free(g->check_sql);
		char *b = db_literal(db, g->base);
		if (!b)
			return NULL;
		/* deferred constraints and triggers run first, not at COMMIT after the check: a deferred
		 * trigger's write to a protected table is the transaction's too */
		g->check_sql = xstrfmt("SET CONSTRAINTS ALL IMMEDIATE;\nSELECT pg_temp.padctl_guard_fast(%s, false)", b);
		free(b);
	}
	return g->check_sql;
}

const char *guard_counting_sql(const struct guard *g)
{
	return g->schemas && g->created ? "SELECT pg_temp.padctl_guard_counting()" : "";
}

/* has_line tells whether the newline-separated list holds line */
static int has_line(const char *list, const char *line, size_t n)
{
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && memcmp(p, line, n) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* part_of tells whether the object in line belongs to a table that is also
 * in the list of gone objects (columns, constraints and defaults "... of
 * table T" or "... on table T", its row type "type T", its TOAST table) */
static int part_of(const char *line, size_t n, const char *gone, const char *b)
{
	static const char *const marks[] = { " of table ", " on table " };
	if (n > 12 && strncmp(line, "toast table ", 12) == 0)
		return 1;
	char *l = xstrndup(line, n);
	for (size_t i = 0; i < 2; i++) {
		const char *m = strstr(l, marks[i]);
		if (m) {
			char *table = xstrfmt("table %s", m + strlen(marks[i]));
			int gone_too = has_line(gone, table, strlen(table)) && !has_line(b, table, strlen(table));
			free(table);
			free(l);
			return gone_too;
		}
	}
	free(l);
	if (n > 5 && strncmp(line, "type ", 5) == 0) {
		char *table = xstrfmt("table %.*s", (int)n - 5, line + 5);
		int gone_too = has_line(gone, table, strlen(table)) && !has_line(b, table, strlen(table));
		free(table);
		return gone_too;
	}
	return 0;
}

/* missing adds to out "<verb><line>\n" for each line of a not in b, leaving
 * out the parts of a table that is gone as a whole */
static void missing(const char *a, const char *b, const char *verb, struct buf *out)
{
	for (const char *p = a; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len && !has_line(b, p, len) && !part_of(p, len, a, b))
			buf_addf(out, "%s%.*s\n", verb, (int)len, p);
		p = e ? e + 1 : NULL;
	}
}

/* schemas_named lists the protected schemas that the objects in names
 * mention ("bo_airflow"), all of them when none is mentioned */
static char *schemas_named(const struct guard *g, const char *names)
{
	struct buf all = BUF_INIT, hit = BUF_INIT;
	for (size_t i = 0; i < g->nnames; i++) {
		const char *n = g->names[i];
		size_t len = strlen(n);
		buf_addf(&all, "%s\"%s\"", all.len ? ", " : "", n);
		int found = 0;
		/* "table bo_airflow.x", "schema bo_airflow", "column c of table bo_airflow.x" */
		for (const char *p = names; p && !found && (p = strstr(p, n)); p += len)
			found = (p == names || p[-1] == ' ' || p[-1] == '"') &&
				(p[len] == '.' || p[len] == '\n' || p[len] == '\0' || p[len] == '"');
		if (found)
			buf_addf(&hit, "%s\"%s\"", hit.len ? ", " : "", n);
	}
	if (hit.len) {
		buf_release(&all);
		return buf_detach(&hit);
	}
	buf_release(&hit);
	return buf_detach(&all);
}

/* report records the guard's refusal from the server's message and detail */
static int report(struct guard *g, const char *msg, const char *detail, const char *where, int alone)
{
	const char *what = g->what ? g->what : "the migration";
	if (strcmp(msg, "padctl guard: writes not counted") == 0)
		return uncounted(g, what, g->db ? g->db->label : "the target");
	struct buf lines = BUF_INIT;
	const char *verb;
	if (strcmp(msg, "padctl guard: rows written") == 0) {
		verb = "wrote rows to";
		buf_addf(&lines, "tables written: %s\n", detail ? detail : "?");
	} else {
		verb = "changed";
		const char *sep = detail ? strstr(detail, "\n--\n") : NULL;
		const char *now = sep ? sep + 4 : "";
		/* "changed X" lines: X is new when the start did not list it */
		size_t end = detail ? (sep ? (size_t)(sep - detail) : strlen(detail)) : 0;
		for (size_t i = 0; i < end;) {
			const char *l = detail + i, *e = memchr(l, '\n', end - i);
			size_t len = e ? (size_t)(e - l) : end - i;
			if (len > 8 && strncmp(l, "changed ", 8) == 0 && !has_line(g->listing, l + 8, len - 8) &&
			    has_line(now, l + 8, len - 8))
				buf_addf(&lines, "created %.*s\n", (int)len - 8, l + 8);
			else if (len)
				buf_addf(&lines, "%.*s\n", (int)len, l);
			i += len + 1;
		}
		missing(g->listing, now, "dropped ", &lines);
		if (alone)
			missing(now, g->listing, "created ", &lines);
	}
	char *s = schemas_named(g, buf_str(&lines));
	fail("%s %s protected schema%s %s%s", what, verb, strchr(s, ',') ? "s" : "", s, where);
	free(s);
	for (const char *p = buf_str(&lines); *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len)
			fail_detail("%.*s", (int)len, p);
		p += len + (e != NULL);
	}
	if (!lines.len)
		fail_detail("the catalog rows of the schema differ from before (an object's definition, owner or "
			    "privileges)");
	buf_release(&lines);
	if (alone == 2)
		return fail_hint("protected schemas (schemas.protected) are read-only for migrations, also through "
				 "dynamic SQL and the functions and triggers a statement runs; the statements before this "
				 "one stayed applied (the migration runs outside a transaction): fix the migration and "
				 "deploy again");
	return fail_hint(alone ? "protected schemas (schemas.protected) are read-only for migrations; the statements "
				 "before this one stayed applied (the migration runs outside a transaction): undo the "
				 "change, fix the migration and deploy again"
			       : "protected schemas (schemas.protected) are read-only for migrations, also through "
				 "dynamic SQL (EXECUTE) and the functions they call: change the migration so it leaves "
				 "the schema alone");
}

/* is_guard tells whether res is the guard's own refusal */
static int is_guard(const PGresult *res, const char **msg, const char **detail)
{
	*msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	*detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	return *msg && strncmp(*msg, "padctl guard: ", 14) == 0;
}

int guard_commit_failed(struct guard *g, PGresult *res)
{
	const char *msg, *detail;
	if (!g->schemas || !is_guard(res, &msg, &detail))
		return 0;
	report(g, msg, detail, ": the transaction was rolled back and nothing of it was recorded", 0);
	return 1;
}

static int after_statement(void *arg, const char *origin, int line)
{
	struct guard *g = arg;
	struct db *db = g->db;
	char *b = db_literal(db, g->content);
	if (!b)
		return -1;
	/* in a transaction of db_exec's own the rows are checked too: not while track_counts is off */
	char *sql = xstrfmt("SELECT %spg_temp.padctl_guard_fast(%s, true)",
			    db->stmt_wrapped ? "pg_temp.padctl_guard_counting(), " : "", b);
	free(b);
	PGresult *res = PQexec(db->conn, sql);
	free(sql);
	int rc = 0;
	const char *msg, *detail;
	if (is_guard(res, &msg, &detail)) {
		char *what = xstrfmt("%s:%d: the statement", origin, line);
		const char *was = g->what;
		g->what = what;
		/* in a transaction of db_exec's own, rolled back when this fails */
		rc = report(g, msg, detail, db->stmt_wrapped ? ": it was rolled back" : "", db->stmt_wrapped ? 2 : 1);
		g->what = was;
		free(what);
	} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		fail("could not check the protected schemas after %s:%d on %s: %s", origin, line, db->label,
		     m ? m : PQerrorMessage(db->conn));
		g->created = 0;
		if (db->stmt_wrapped)
			fail_detail("the statement was rolled back: it ran in a transaction of padctl's own, for the "
				    "check to see the rows it wrote");
		rc = fail_hint("did the migration run DISCARD TEMP or DISCARD ALL? padctl's temporary function "
			       "pg_temp.padctl_guard is gone");
	}
	PQclear(res);
	return rc;
}

int guard_alone_begin(struct guard *g, struct db *db)
{
	if (!g->schemas)
		return 0;
	if (take(g, db, 1, &g->content))
		return -1;
	db->after_statement = after_statement;
	db->after_arg = g;
	return 0;
}

void guard_alone_end(struct guard *g, struct db *db)
{
	(void)g;
	db->after_statement = NULL;
	db->after_arg = NULL;
	/* the transactional state is taken anew: the listing now is the content's */
	guard_step_start(g);
}

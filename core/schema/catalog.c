#include "catalog.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"
#include "sql.h"

/* One query for the whole snapshot: a drift check on a cached scratch costs
 * the target one round trip for its catalog. $1 is the schemas, comma
 * separated (schema names are identifiers, they hold no comma).
 *
 * Privileges: aclexplode over the ACL, or the default ACL when there is none
 * (acldefault), without the owner's own entries and without grantors, so the
 * scratch's owner (whoever replayed) compares equal to the target's. A
 * column's (attacl) has no default: a column without grants of its own has
 * no privileges row ("column app.b.id"), so one is missing or extra.
 *
 * search_path is pinned to pg_catalog while the definitions are printed:
 * format_type, pg_get_viewdef, pg_get_constraintdef, pg_get_expr ... leave
 * out the schema of an object the session's search_path finds, so a
 * scratch left with a migration's SET search_path, or a target role with a
 * search_path of its own, would print the same catalog differently.
 *
 * What pg_get_*def leaves out and a hand change sets: a trigger's
 * tgenabled (ALTER TABLE ... DISABLE TRIGGER, ENABLE ALWAYS/REPLICA), an
 * index's indisvalid (left invalid by a DROP INDEX CONCURRENTLY that did
 * not finish, or a failed concurrent build), and a table's parent and
 * partition bound (ATTACH/DETACH PARTITION, INHERIT/NO INHERIT; a DETACH
 * CONCURRENTLY that did not finish leaves it "detach pending", a column
 * of PostgreSQL 14, read through to_jsonb so that one query serves 12 and
 * 13 too), the state of a constraint's own triggers (DISABLE TRIGGER ALL
 * switches off a foreign key), a table's row level security: each is
 * printed after the definition. Policies, rules other than a view's own,
 * views' options and aggregates (pg_get_functiondef refuses them) are
 * objects of their own. The
 * pin is set in the same statement (no round trip of its own) by the pin
 * CTE, which every row is joined to through ns, so it is set before any
 * row is printed; the last branch (Append runs its branches in order)
 * puts the caller's value back, for a caller inside a transaction block,
 * where a local setting would otherwise outlive the statement. Names in the
 * query itself are resolved when it is parsed, in pg_catalog first. */
/* one grantee's privilege, "PUBLIC SELECT", "reader UPDATE with grant
 * option", of aclexplode's row a; the privileges of an object are listed in
 * the order of that text (an ACL's order is that of its grants: the same
 * grants made again in another order are the same privileges) */
#define GRANT_TEXT                                                                                         \
	"(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END "       \
	"|| ' ' || a.privilege_type || CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END)"
#define GRANTS "  string_agg(" GRANT_TEXT ", ', ' ORDER BY " GRANT_TEXT ")"

static const char snapshot_sql[] =
	"WITH pin AS (SELECT current_setting('search_path') AS was, "
	"  set_config('search_path', 'pg_catalog', true) AS pinned),\n"
	"ns AS (SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_namespace n, pin "
	"  WHERE n.nspname = ANY (string_to_array($1, ',')) AND pin.pinned IS NOT NULL),\n"
	"rel AS (SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.relpersistence, c.relispartition, "
	"  c.relpartbound, c.relrowsecurity, c.relforcerowsecurity, c.reloptions, n.nspname, "
	"  quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname "
	"  FROM pg_class c JOIN ns n ON n.oid = c.relnamespace),\n"
	"fn AS (SELECT p.oid, p.prokind, p.proowner, p.proacl, n.nspname, "
	"  quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || "
	"  pg_get_function_identity_arguments(p.oid) || ')' AS qname "
	"  FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace)\n"
	"SELECT nspname, 'schema', quote_ident(nspname), '' FROM ns\n"
	"UNION ALL SELECT n.nspname, 'privileges', 'schema ' || quote_ident(n.nspname), "
	GRANTS " FROM ns n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
	"  WHERE a.grantee <> n.nspowner GROUP BY n.nspname\n"
	"UNION ALL SELECT r.nspname, CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' "
	"  WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' "
	"  ELSE 'foreign table' END, r.qname, "
	"  CASE r.relkind WHEN 'v' THEN pg_get_viewdef(r.oid, true) WHEN 'm' THEN pg_get_viewdef(r.oid, true) "
	"  WHEN 'S' THEN (SELECT format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || "
	"    s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || "
	"    CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END FROM pg_sequence s WHERE s.seqrelid = r.oid) "
	"  ELSE concat_ws(' ', CASE WHEN r.relpersistence = 'u' THEN 'unlogged' END, "
	"    CASE WHEN r.relrowsecurity THEN 'row level security' END, "
	"    CASE WHEN r.relforcerowsecurity THEN 'forced row level security' END, "
	"    CASE WHEN r.relkind = 'p' THEN 'partitioned by ' || pg_get_partkeydef(r.oid) END, "
	"    (SELECT CASE WHEN r.relispartition THEN 'partition of ' ELSE 'inherits ' END "
	"    || string_agg(quote_ident(pn.nspname) || '.' || quote_ident(pc.relname), ', ' ORDER BY i.inhseqno) "
	"    || CASE WHEN r.relispartition THEN ' ' || pg_get_expr(r.relpartbound, r.oid) ELSE '' END "
	"    || CASE WHEN bool_or(to_jsonb(i) ->> 'inhdetachpending' = 'true') THEN ' (detach pending)' ELSE '' END "
	"    FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent "
	"    JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = r.oid)) END "
	"  FROM rel r WHERE r.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')\n"
	"UNION ALL SELECT r.nspname, 'privileges', r.qname, "
	GRANTS " FROM rel r, "
	"  aclexplode(coalesce(r.relacl, acldefault(CASE WHEN r.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", "
	"  r.relowner))) a WHERE r.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND a.grantee <> r.relowner "
	"  GROUP BY r.nspname, r.qname\n"
	"UNION ALL SELECT r.nspname, 'privileges', 'column ' || r.qname || '.' || quote_ident(c.attname), "
	GRANTS " FROM rel r JOIN pg_attribute c ON c.attrelid = r.oid, aclexplode(c.attacl) a "
	"  WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.attnum > 0 AND NOT c.attisdropped "
	"  AND a.grantee <> r.relowner GROUP BY r.nspname, r.qname, c.attname\n"
	"UNION ALL SELECT r.nspname, 'column', r.qname || '.' || quote_ident(a.attname), "
	"  format_type(a.atttypid, a.atttypmod) "
	"  || CASE WHEN a.attcollation <> t.typcollation THEN ' collate ' || quote_ident(cn.nspname) || '.' "
	"     || quote_ident(co.collname) ELSE '' END "
	"  || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END "
	"  || CASE WHEN a.attgenerated = 's' THEN ' generated always as (' || pg_get_expr(d.adbin, d.adrelid) "
	"     || ') stored' ELSE coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') END "
	"  || CASE a.attidentity WHEN 'a' THEN ' generated always as identity' "
	"     WHEN 'd' THEN ' generated by default as identity' ELSE '' END "
	"  FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid JOIN pg_type t ON t.oid = a.atttypid "
	"  LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace "
	"  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
	"  WHERE r.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped\n"
	"UNION ALL SELECT r.nspname, 'index', quote_ident(r.nspname) || '.' || quote_ident(ic.relname), "
	"  pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END "
	"  FROM rel r JOIN pg_index i ON i.indrelid = r.oid "
	"  JOIN pg_class ic ON ic.oid = i.indexrelid\n"
	"UNION ALL SELECT r.nspname, 'constraint', r.qname || '.' || quote_ident(c.conname), "
	"  pg_get_constraintdef(c.oid) || coalesce((SELECT ' (triggers ' || string_agg(DISTINCT "
	"  CASE g.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica' ELSE 'enabled always' END, ', ') "
	"  || ')' FROM pg_trigger g WHERE g.tgconstraint = c.oid AND g.tgisinternal AND g.tgenabled <> 'O' "
	"  AND g.tgrelid IN (SELECT oid FROM rel)), '') FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid\n"
	"UNION ALL SELECT r.nspname, 'trigger', r.qname || '.' || quote_ident(g.tgname), "
	"  pg_get_triggerdef(g.oid) || CASE g.tgenabled WHEN 'D' THEN ' (disabled)' "
	"  WHEN 'R' THEN ' (enabled replica)' WHEN 'A' THEN ' (enabled always)' ELSE '' END "
	"  FROM rel r JOIN pg_trigger g ON g.tgrelid = r.oid WHERE NOT g.tgisinternal\n"
	"UNION ALL SELECT r.nspname, 'policy', r.qname || '.' || quote_ident(p.polname), "
	"  'for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update' "
	"  WHEN 'd' THEN 'delete' ELSE 'all' END || CASE WHEN p.polpermissive THEN '' ELSE ' restrictive' END "
	"  || ' to ' || (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x)) END, "
	"  ', ' ORDER BY CASE WHEN x = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x)) END) "
	"  FROM unnest(p.polroles) x) "
	"  || coalesce(' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', '') "
	"  || coalesce(' with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '') "
	"  FROM rel r JOIN pg_policy p ON p.polrelid = r.oid\n"
	"UNION ALL SELECT r.nspname, 'rule', r.qname || '.' || quote_ident(w.rulename), "
	"  pg_get_ruledef(w.oid, true) || CASE w.ev_enabled WHEN 'D' THEN ' (disabled)' "
	"  WHEN 'R' THEN ' (enabled replica)' WHEN 'A' THEN ' (enabled always)' ELSE '' END "
	"  FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid WHERE w.rulename <> '_RETURN'\n"
	"UNION ALL SELECT r.nspname, 'view options', r.qname, "
	"  (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(r.reloptions) o) "
	"  FROM rel r WHERE r.relkind = 'v' AND r.reloptions IS NOT NULL\n"
	"UNION ALL SELECT f.nspname, CASE f.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' "
	"  ELSE 'function' END, f.qname, CASE WHEN f.prokind <> 'a' THEN pg_get_functiondef(f.oid) ELSE "
	"  (SELECT concat_ws(' ', 'kind ' || g.aggkind::text, 'direct args ' || g.aggnumdirectargs, "
	"  'sfunc ' || g.aggtransfn::text, 'stype ' || format_type(g.aggtranstype, NULL), "
	"  'sspace ' || g.aggtransspace, 'finalfunc ' || g.aggfinalfn::text, "
	"  CASE WHEN g.aggfinalextra THEN 'finalfunc_extra' END, 'finalfunc_modify ' || g.aggfinalmodify::text, "
	"  'combinefunc ' || g.aggcombinefn::text, 'serialfunc ' || g.aggserialfn::text, "
	"  'deserialfunc ' || g.aggdeserialfn::text, 'msfunc ' || g.aggmtransfn::text, "
	"  'minvfunc ' || g.aggminvtransfn::text, 'mstype ' || format_type(nullif(g.aggmtranstype, 0), NULL), "
	"  'msspace ' || g.aggmtransspace, 'mfinalfunc ' || g.aggmfinalfn::text, "
	"  CASE WHEN g.aggmfinalextra THEN 'mfinalfunc_extra' END, 'mfinalfunc_modify ' || g.aggmfinalmodify::text, "
	"  'initcond ' || quote_literal(g.agginitval), 'minitcond ' || quote_literal(g.aggminitval), "
	"  'sortop ' || nullif(g.aggsortop, 0)::regoperator::text, 'parallel ' || p.proparallel::text, "
	"  CASE WHEN p.proisstrict THEN 'strict' END) "
	"  FROM pg_aggregate g JOIN pg_proc p ON p.oid = g.aggfnoid WHERE g.aggfnoid = f.oid) END "
	"  FROM fn f\n"
	"UNION ALL SELECT f.nspname, 'privileges', f.qname, "
	GRANTS " FROM fn f, aclexplode(coalesce(f.proacl, acldefault('f', f.proowner))) a "
	"  WHERE a.grantee <> f.proowner GROUP BY f.nspname, f.qname\n"
	"UNION ALL SELECT n.nspname, 'enum', quote_ident(n.nspname) || '.' || quote_ident(t.typname), "
	"  (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e "
	"  WHERE e.enumtypid = t.oid) FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'e'\n"
	"UNION ALL SELECT n.nspname, 'domain', quote_ident(n.nspname) || '.' || quote_ident(t.typname), "
	"  format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END "
	"  || coalesce(' default ' || t.typdefault, '') || coalesce((SELECT ' ' || string_agg("
	"  quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), ' ' ORDER BY c.conname) "
	"  FROM pg_constraint c WHERE c.contypid = t.oid), '') "
	"  FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype = 'd'\n"
	"UNION ALL SELECT NULL, NULL, NULL, NULL FROM pin WHERE set_config('search_path', pin.was, true) IS NULL";

/* add_raw appends without normalising: the cache file holds normalised definitions */
static void add_raw(struct catalog *c, const char *schema, const char *kind, const char *name, char *def)
{
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 64;
		c->v = xrealloc(c->v, c->alloc * sizeof *c->v);
	}
	struct cat_obj *o = &c->v[c->n++];
	o->schema = xstrdup(schema ? schema : "");
	o->kind = xstrdup(kind);
	o->name = xstrdup(name);
	o->def = def;
}

void catalog_add(struct catalog *c, const char *schema, const char *kind, const char *name, const char *def)
{
	add_raw(c, schema, kind, name, catalog_normalise(kind, def ? def : ""));
}

/* key_cmp orders by kind and name (what identifies an object); obj_cmp
 * also by definition, so a sort is deterministic even for a cache file that
 * names an object twice */
static int key_cmp(const void *a, const void *b)
{
	const struct cat_obj *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);
	return c ? c : strcmp(x->name, y->name);
}

static int obj_cmp(const void *a, const void *b)
{
	int c = key_cmp(a, b);
	return c ? c : strcmp(((const struct cat_obj *)a)->def, ((const struct cat_obj *)b)->def);
}

static void obj_free(struct cat_obj *o)
{
	free(o->schema);
	free(o->kind);
	free(o->name);
	free(o->def);
}

void catalog_sort(struct catalog *c)
{
	if (c->n > 1)
		qsort(c->v, c->n, sizeof *c->v, obj_cmp);
	size_t w = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (w && obj_cmp(&c->v[w - 1], &c->v[i]) == 0) {
			obj_free(&c->v[i]);
			continue;
		}
		c->v[w++] = c->v[i];
	}
	c->n = w;
}

const struct cat_obj *catalog_find(const struct catalog *c, const char *kind, const char *name)
{
	struct cat_obj key = { NULL, (char *)kind, (char *)name, NULL };
	return c->n ? bsearch(&key, c->v, c->n, sizeof *c->v, key_cmp) : NULL;
}

void catalog_release(struct catalog *c)
{
	for (size_t i = 0; i < c->n; i++)
		obj_free(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof *c);
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(s[i]))
			return 0;
	return 1;
}

/* add_collapsed appends n bytes of s with each run of white space made one space */
static void add_collapsed(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_space(s[i]))
			buf_addch(b, s[i]);
		else if (i == 0 || !is_space(s[i - 1]))
			buf_addch(b, ' ');
	}
}

static int word_is(const char *s, const struct sql_token *t, const char *word)
{
	return t->kind == SQL_TOKEN_WORD && t->end - t->start == strlen(word) &&
	       strncasecmp(s + t->start, word, t->end - t->start) == 0;
}

/* the languages whose code PostgreSQL's own scanner lexes: whitespace
 * between their tokens means nothing (in plpython it is indentation) */
static int sql_language(const char *s, const struct sql_token *t, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (word_is(s, &t[i], "language"))
			return word_is(s, &t[i + 1], "sql") || word_is(s, &t[i + 1], "plpgsql");
	return 0;
}

static int normalise_code(struct buf *out, const char *s, int view, int bodies);

/* add_body appends a dollar-quoted function body, its code normalised as
 * the function's text is; as it is when the scanner refuses the code */
static void add_body(struct buf *out, const char *s, size_t n)
{
	const char *close = n > 2 ? memchr(s + 1, '$', n - 1) : NULL;
	size_t tag = close ? (size_t)(close - s) + 1 : 0;
	if (!tag || n < 2 * tag || memcmp(s, s + n - tag, tag) != 0) {
		buf_add(out, s, n);
		return;
	}
	char *code = xstrndup(s + tag, n - 2 * tag);
	struct buf b = BUF_INIT;
	if (normalise_code(&b, code, 0, 0) == 0) {
		buf_add(out, s, tag);
		if (b.len)
			buf_addf(out, " %s ", buf_str(&b));
		buf_add(out, s, tag);
	} else {
		buf_add(out, s, n);
	}
	buf_release(&b);
	free(code);
}

/* normalise_code appends s with the white space between its tokens
 * normalised: a run between two tokens becomes one space (a newline after a
 * line comment, which it ends), none at either end; for a view, none after
 * "(" or before ")". What the scanner reads as a string constant or a quoted
 * identifier is copied as it is, white space and all; in a comment, runs
 * become one space. With bodies, a dollar-quoted string is a function's body
 * and, when the function's language is SQL or PL/pgSQL, its code is
 * normalised the same way (its own string constants kept as they are).
 * -1 when the scanner refuses s. */
static int normalise_code(struct buf *out, const char *s, int view, int bodies)
{
	struct sql_token *t;
	size_t n;
	if (sql_scan(s, &t, &n))
		return -1;
	int code = bodies && sql_language(s, t, n);
	size_t at = 0, len = strlen(s);
	for (size_t i = 0; i <= n; i++) {
		size_t next = i < n ? t[i].start : len;
		if (!all_space(s + at, next - at))
			buf_add(out, s + at, next - at); /* what the scanner gave no token: kept */
		else if (next > at && i > 0 && i < n && !(view && (out->s[out->len - 1] == '(' || s[next] == ')')))
			buf_addch(out, t[i - 1].kind == SQL_TOKEN_LINE_COMMENT ? '\n' : ' ');
		if (i == n)
			break;
		const char *tok = s + t[i].start;
		size_t tl = t[i].end - t[i].start;
		if (t[i].kind == SQL_TOKEN_LINE_COMMENT || t[i].kind == SQL_TOKEN_BLOCK_COMMENT)
			add_collapsed(out, tok, tl);
		else if (code && t[i].kind == SQL_TOKEN_STRING && tok[0] == '$')
			add_body(out, tok, tl);
		else
			buf_add(out, tok, tl);
		at = t[i].end;
	}
	free(t);
	return 0;
}

char *catalog_normalise(const char *kind, const char *def)
{
	int view = strcmp(kind, "view") == 0 || strcmp(kind, "materialized view") == 0;
	int func = strcmp(kind, "function") == 0 || strcmp(kind, "procedure") == 0;
	if (!view && !func)
		return xstrdup(def);
	struct buf b = BUF_INIT;
	if (normalise_code(&b, def, view, func)) {
		buf_release(&b);
		return xstrdup(def);
	}
	if (view)
		while (b.len && (b.s[b.len - 1] == ';' || b.s[b.len - 1] == ' '))
			b.s[--b.len] = '\0';
	/* pg_get_viewdef prints the same view differently from one server
	 * version to the next (parentheses, line breaks): a view is compared
	 * as PostgreSQL's parser prints it back, when the parser can read it
	 * (its string constants and quoted names printed as they are) */
	char *canon = view && b.len ? sql_canonical(buf_str(&b)) : NULL;
	if (canon) {
		buf_release(&b);
		return canon;
	}
	return buf_detach(&b);
}

int catalog_snapshot(struct db *db, char *const *schemas, size_t n, struct catalog *c)
{
	memset(c, 0, sizeof *c);
	struct buf list = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_addf(&list, "%s%s", i ? "," : "", schemas[i]);
	const char *params[] = { buf_str(&list) };
	PGresult *res = NULL;
	int rc = db_query(db, snapshot_sql, 1, params, &res);
	buf_release(&list);
	if (rc)
		return fail_detail("while reading the catalog of %s", db->label ? db->label : "the database");
	for (int r = 0; r < PQntuples(res); r++)
		catalog_add(c, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
			    PQgetisnull(res, r, 3) ? "" : PQgetvalue(res, r, 3));
	PQclear(res);
	catalog_sort(c);
	return 0;
}

static void diff_add(struct cat_diff *d, size_t *alloc, int change, const struct cat_obj *e, const struct cat_obj *a)
{
	if (d->n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 16;
		d->v = xrealloc(d->v, *alloc * sizeof *d->v);
	}
	const struct cat_obj *o = e ? e : a;
	d->v[d->n++] = (struct cat_change){ change, o->kind, o->name, e ? e->def : NULL, a ? a->def : NULL };
}

void catalog_diff(const struct catalog *expected, const struct catalog *actual, const struct catalog *only,
		  struct cat_diff *d)
{
	memset(d, 0, sizeof *d);
	size_t alloc = 0, i = 0, j = 0;
	while (i < expected->n || j < actual->n) {
		const struct cat_obj *e = i < expected->n ? &expected->v[i] : NULL;
		const struct cat_obj *a = j < actual->n ? &actual->v[j] : NULL;
		int c = !e ? 1 : !a ? -1 : key_cmp(e, a);
		const struct cat_obj *o = c <= 0 ? e : a;
		int in_scope = !only || catalog_find(only, o->kind, o->name);
		if (c < 0) {
			if (in_scope)
				diff_add(d, &alloc, CAT_MISSING, e, NULL);
			i++;
		} else if (c > 0) {
			if (in_scope)
				diff_add(d, &alloc, CAT_EXTRA, NULL, a);
			j++;
		} else {
			if (in_scope && strcmp(e->def, a->def) != 0)
				diff_add(d, &alloc, CAT_CHANGED, e, a);
			i++;
			j++;
		}
	}
}

void catalog_changed(const struct catalog *a, const struct catalog *b, struct catalog *out)
{
	struct cat_diff d;
	memset(out, 0, sizeof *out);
	catalog_diff(a, b, NULL, &d);
	for (size_t i = 0; i < d.n; i++)
		catalog_add(out, "", d.v[i].kind, d.v[i].name, "");
	cat_diff_release(&d);
	catalog_sort(out);
}

void cat_diff_release(struct cat_diff *d)
{
	free(d->v);
	memset(d, 0, sizeof *d);
}

const char *cat_change_name(int change)
{
	switch (change) {
	case CAT_MISSING:
		return "missing";
	case CAT_EXTRA:
		return "extra";
	case CAT_CHANGED:
		return "changed";
	}
	return "?";
}

static void add_field(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\t')
			buf_adds(out, "\\t");
		else if (*s == '\n')
			buf_adds(out, "\\n");
		else if (*s == '\\')
			buf_adds(out, "\\\\");
		else
			buf_addch(out, *s);
	}
}

void catalog_serialise(const struct catalog *c, struct buf *out)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct cat_obj *o = &c->v[i];
		add_field(out, o->schema);
		buf_addch(out, '\t');
		add_field(out, o->kind);
		buf_addch(out, '\t');
		add_field(out, o->name);
		buf_addch(out, '\t');
		add_field(out, o->def);
		buf_addch(out, '\n');
	}
}

/* unescape one field of [s, end) into out; -1 for a bad escape */
static int get_field(const char *s, const char *end, struct buf *out)
{
	buf_reset(out);
	for (; s < end; s++) {
		if (*s != '\\') {
			buf_addch(out, *s);
			continue;
		}
		if (++s == end)
			return -1;
		if (*s == 't')
			buf_addch(out, '\t');
		else if (*s == 'n')
			buf_addch(out, '\n');
		else if (*s == '\\')
			buf_addch(out, '\\');
		else
			return -1;
	}
	return 0;
}

int catalog_parse(const char *text, size_t len, const char *origin, struct catalog *c)
{
	memset(c, 0, sizeof *c);
	struct buf f[4] = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
	const char *p = text, *end = text + len;
	int line = 0, rc = 0;
	while (p < end && !rc) {
		line++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			rc = fail("%s:%d: the line does not end with a newline (the file is cut short)", origin, line);
			break;
		}
		const char *s = p;
		for (int k = 0; k < 4 && !rc; k++) {
			const char *tab = k < 3 ? memchr(s, '\t', (size_t)(nl - s)) : nl;
			if (!tab || (k == 3 && memchr(s, '\t', (size_t)(nl - s))) || memchr(s, '\0', (size_t)(tab - s)))
				rc = fail("%s:%d: expected four tab-separated fields", origin, line);
			else if (get_field(s, tab, &f[k]))
				rc = fail("%s:%d: a backslash not followed by t, n or \\", origin, line);
			s = tab ? tab + 1 : s;
		}
		if (!rc && (!f[1].len || !f[2].len))
			rc = fail("%s:%d: an object without a kind or a name", origin, line);
		if (!rc)
			add_raw(c, buf_str(&f[0]), buf_str(&f[1]), buf_str(&f[2]), xstrdup(buf_str(&f[3])));
		p = nl + 1;
	}
	for (int k = 0; k < 4; k++)
		buf_release(&f[k]);
	if (rc) {
		catalog_release(c);
		return fail_hint("remove the file: padctl rebuilds it from the scratch database");
	}
	catalog_sort(c);
	return 0;
}

/* lint reads PostgreSQL's own parse nodes (libpg_query's raw parse tree)
 * rather than the JSON pg_query_parse prints from them: printing and reading
 * back that JSON was half of plan's time on a thousand migrations. The
 * server's headers come first and stay in this file alone: port.h renames
 * snprintf and friends to libpg_query's pg_* versions, and c.h, elog.h
 * define short macros (Min, Max, _, ERROR, WARNING, ...) that nothing else
 * in padctl should see (docs/internals.md). */
#include "postgres.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#if PG_MAJORVERSION_NUM != 15
#error "lint reads libpg_query 15's parse nodes: build with PostgreSQL 15's server headers (postgresql-server-dev-15)"
#endif
/* pg_query.h names the parser's version (15.1) where pg_config.h named the headers' (15.x) */
#undef PG_VERSION
#undef PG_VERSION_NUM
#undef PG_MAJORVERSION
#include <pg_query.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <pg_query/pg_query_internal.h>
#pragma GCC diagnostic pop

#include "lint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "sql.h"
#include "sqlstream.h"

/* ---------------------------------------------------------------- the walk's state */

#define MAX_ALLOWS 16

struct allow_comment {
	const char *rule; /* the rule table's name */
	char *reason;
};

struct qname {
	char *schema; /* resolved: never NULL */
	char *name;
};

struct names {
	struct qname *v;
	size_t n, cap;
};

/* one schema of the effective search_path */
struct path_ent {
	char *name; /* "" for "$user" when the role is not known */
	int user; /* written "$user" */
};

/* what a SET changes that lint follows: the search_path and the role */
struct sess {
	struct path_ent *path;
	size_t npath;
	int path_line, path_assumed;
	char *role, *session_role;
	int role_line;
};

struct lctx {
	const char *file;
	const char *text;
	size_t len;
	const struct lint_opts *o;
	struct lint_result *r;
	/* the statement being checked */
	Node *node; /* the statement's node */
	NodeTag tag; /* its node type, T_CreateStmt */
	size_t piece_off; /* where the parsed text starts (node locations count from here) */
	size_t stmt_off; /* where the statement starts (after leading comments) */
	size_t stmt_len; /* its bytes from stmt_off */
	struct allow_comment allows[MAX_ALLOWS];
	size_t nallows;
	/* line counting, incremental */
	size_t line_off;
	int line;
	/* the effective search_path */
	struct path_ent *path;
	size_t npath;
	int path_line; /* the line of the SET that set it; 0: the role's default */
	int path_assumed; /* the role's default was not known */
	/* SET ROLE and SET SESSION AUTHORIZATION: who "$user" is (NULL: not set) */
	char *role, *session_role;
	int role_line; /* the line of the SET that set it */
	/* a non-transactional migration's own BEGIN ... COMMIT: SET LOCAL lasts
	 * until its end, and ROLLBACK undoes every SET since BEGIN; at_begin is
	 * the search_path and role then, kept what COMMIT leaves (the plain SETs) */
	int explicit_tx;
	struct sess *at_begin, *kept;
	/* created in this migration: relations and indexes; every object
	 * (unqualified references resolve to them) */
	struct names created, created_idx, defined;
	/* CHECK / FOREIGN KEY constraints added NOT VALID in this migration: table.conname */
	struct names not_valid;
	/* the first ACCESS EXCLUSIVE lock taken on an existing table in the transaction: what it
	 * locks, for the message ("\"t\"", "the table of index \"i\"") */
	char *ax_table;
	int ax_line, ax_reported;
	/* non-transactional migrations: statements, and the first that cannot run twice */
	size_t nstmts;
	int rerun_line, rerun_col, rerun_seen;
	size_t rerun_stmt; /* which statement it is (nstmts then) */
	int rerun_partial; /* it can fail leaving part of itself behind (leaves_partial) */
	struct allow_comment rerun_allows[MAX_ALLOWS];
	size_t nrerun_allows;
	int version; /* the server's major version * 10000, as PQserverVersion */
};

/* ---------------------------------------------------------------- node helpers */

/* sval is a String node's text, NULL for any other node */
static const char *sval(const Node *n)
{
	return n && IsA(n, String) ? strVal(n) : NULL;
}

/* nth is item i of a list, NULL past its end */
static Node *nth(const List *l, int i)
{
	return i >= 0 && i < list_length(l) ? list_nth(l, i) : NULL;
}

/* ---------------------------------------------------------------- names and search_path */

static void names_add(struct names *ns, const char *schema, const char *name)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 8;
		ns->v = xrealloc(ns->v, ns->cap * sizeof *ns->v);
	}
	ns->v[ns->n].schema = xstrdup(schema ? schema : "");
	ns->v[ns->n].name = xstrdup(name ? name : "");
	ns->n++;
}

static int names_has(const struct names *ns, const char *schema, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i].schema, schema ? schema : "") && !strcmp(ns->v[i].name, name ? name : ""))
			return 1;
	return 0;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->v[i].schema);
		free(ns->v[i].name);
	}
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

static void path_free(struct lctx *c)
{
	for (size_t i = 0; i < c->npath; i++)
		free(c->path[i].name);
	free(c->path);
	c->path = NULL;
	c->npath = 0;
}

/* current_role is who "$user" means: the role SET ROLE or SET SESSION
 * AUTHORIZATION took, else the connected one; NULL when not known */
static const char *current_role(const struct lctx *c)
{
	if (c->role)
		return c->role;
	if (c->session_role)
		return c->session_role;
	return c->o->cat && c->o->cat->user ? c->o->cat->user : NULL;
}

/* path_push appends a schema as SET names it (unquoted): "$user" is the
 * role when lint knows which, else a schema that does not exist */
static void path_push(struct lctx *c, const char *name)
{
	int user = !strcmp(name, "$user");
	if (!*name)
		return;
	c->path = xrealloc(c->path, (c->npath + 1) * sizeof *c->path);
	c->path[c->npath].name = xstrdup(!user ? name : current_role(c) ? current_role(c) : "");
	c->path[c->npath].user = user;
	c->npath++;
}

/* path_add appends a schema as SHOW prints it (quoted where needed) */
static void path_add(struct lctx *c, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	struct buf b = BUF_INIT;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		for (size_t i = 1; i + 1 < n; i++) {
			buf_addch(&b, s[i]);
			if (s[i] == '"' && i + 2 < n && s[i + 1] == '"')
				i++;
		}
	} else {
		/* unquoted identifiers fold to lower case, as the server folds them */
		for (size_t i = 0; i < n; i++)
			buf_addch(&b, (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]));
	}
	path_push(c, buf_str(&b));
	buf_release(&b);
}

/* path_default sets the role's default: what the target said, else the server's own default */
static void path_default(struct lctx *c)
{
	path_free(c);
	const char *sp = c->o->cat ? c->o->cat->search_path : NULL;
	c->path_assumed = !sp;
	if (!sp)
		sp = "\"$user\", public";
	const char *s = sp;
	while (*s) {
		const char *e = s;
		int q = 0;
		while (*e && (q || *e != ',')) {
			if (*e == '"')
				q = !q;
			e++;
		}
		path_add(c, s, (size_t)(e - s));
		s = *e ? e + 1 : e;
	}
	c->path_line = 0;
}

static int is_protected(const struct lctx *c, const char *schema)
{
	const struct cfg_project *p = c->o->p;
	for (size_t i = 0; p && i < p->nprotected; i++)
		if (!strcmp(p->protected_schemas[i], schema))
			return 1;
	return 0;
}

static int is_owned(const struct lctx *c, const char *schema)
{
	const struct cfg_project *p = c->o->p;
	for (size_t i = 0; p && i < p->nowned; i++)
		if (!strcmp(p->owned[i], schema))
			return 1;
	return 0;
}

/* path_exists tells whether lint takes the path's schema i to exist, as the
 * server skips one that does not. Without a catalog lint cannot look, so it
 * assumes the schemas written out exist, and "$user" only when it is a
 * schema the project knows (owned or protected): a role rarely has a
 * schema of its own, and assuming one would hide a protected schema after it. */
static int path_exists(const struct lctx *c, size_t i)
{
	const struct path_ent *e = &c->path[i];
	if (!*e->name)
		return 0;
	return !e->user || is_owned(c, e->name) || is_protected(c, e->name);
}

/* path_creates tells whether a new object can land in the path's schema i
 * (the first that does gets it); pg_catalog aside. pg_temp written in the
 * path is the session's temporary schema, made on demand: ahead of the
 * others, a new name lands there (a temporary table) */
static int path_creates(const struct lctx *c, size_t i)
{
	return path_exists(c, i) && strcmp(c->path[i].name, "pg_catalog") != 0;
}

/* resolve gives the schema an unqualified new name lands in: the first
 * schema of the effective search_path that exists */
static const char *resolve(const struct lctx *c, const char *schema)
{
	if (schema && *schema)
		return schema;
	for (size_t i = 0; i < c->npath; i++)
		if (path_creates(c, i))
			return c->path[i].name;
	return "";
}

/* a RangeVar's schema (NULL: unqualified) and name; NULL for no RangeVar */
static const char *rv_name(const RangeVar *rv, const char **schema)
{
	*schema = rv ? rv->schemaname : NULL;
	return rv ? rv->relname : NULL;
}

static int rv_temp(const RangeVar *rv)
{
	return rv && rv->relpersistence == 't' /* RELPERSISTENCE_TEMP */;
}

/* created_in tells whether ns (created, created_idx) holds (schema, name):
 * in the schema an unqualified name resolves to, or a temporary one (the
 * server searches pg_temp first for relations) */
static int created_in(const struct lctx *c, const struct names *ns, const char *schema, const char *name)
{
	return names_has(ns, resolve(c, schema), name) || (!schema && names_has(ns, "pg_temp", name));
}

/* is_new tells whether the relation was created earlier in this migration */
static int is_new(const struct lctx *c, const RangeVar *rv)
{
	const char *schema, *name = rv_name(rv, &schema);
	return name && (rv_temp(rv) || created_in(c, &c->created, schema, name));
}

/* ---------------------------------------------------------------- positions and findings */

static void advance(struct lctx *c, size_t off, int *line, int *col)
{
	if (off < c->line_off) { /* never expected: positions only grow */
		c->line_off = 0;
		c->line = 1;
	}
	for (size_t i = c->line_off; i < off; i++)
		c->line += c->text[i] == '\n';
	c->line_off = off;
	size_t bol = off;
	while (bol > 0 && c->text[bol - 1] != '\n')
		bol--;
	int k = 1;
	for (size_t i = bol; i < off; i++)
		k += ((unsigned char)c->text[i] & 0xC0) != 0x80;
	*line = c->line;
	*col = k;
}

static int rule_severity(const struct lctx *c, const struct lint_rule_info *ri)
{
	const struct cfg_project *p = c->o->p;
	int sev = ri->severity;
	for (size_t i = 0; p && i < p->nlint_rules; i++) {
		if (strcmp(p->lint_rules[i].rule, ri->name) != 0)
			continue;
		const char *v = p->lint_rules[i].value;
		sev = !strcmp(v, "error") ? LINT_ERROR : !strcmp(v, "warning") ? LINT_WARNING : LINT_OFF;
	}
	/* in prod a destructive finding blocks whatever padctl.yml says: the
	 * project-wide switch carries no reason, and only a reason (meta.yml's
	 * destructive: or lint.allow, an allow comment) lets one through */
	if (ri->group == LINT_G_PROTECTED || (ri->group == LINT_G_DESTRUCTIVE && c->o->prod))
		sev = LINT_ERROR;
	return sev;
}

static void add_finding(struct lint_result *r, struct lint_finding *f)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->v = xrealloc(r->v, r->cap * sizeof *r->v);
	}
	r->v[r->n++] = *f;
	if (f->allowed)
		return;
	if (f->severity == LINT_ERROR)
		r->errors++;
	else if (f->severity == LINT_WARNING)
		r->warnings++;
}

static void vreport_at(struct lctx *c, const struct lint_rule_info *ri, int line, int col,
		       const struct allow_comment *allows, size_t nallows, const char *hint, const char *fmt,
		       va_list ap)
{
	int sev = rule_severity(c, ri);
	if (sev == LINT_OFF)
		return;
	struct lint_finding f = {
		c->file, line, col, ri->name, ri->group, sev, NULL, hint ? xstrdup(hint) : NULL, NULL
	};
	struct buf b = BUF_INIT;
	buf_vaddf(&b, fmt, ap);
	f.reason = buf_detach(&b);
	if (ri->group != LINT_G_PROTECTED) {
		for (size_t i = 0; i < nallows && !f.allowed; i++)
			if (!strcmp(allows[i].rule, ri->name))
				f.allowed = xstrdup(allows[i].reason);
		for (size_t i = 0; i < c->o->nallow && !f.allowed; i++)
			if (!strcmp(c->o->allow[i].rule, ri->name))
				f.allowed = xstrdup(c->o->allow[i].value);
		if (!f.allowed && ri->group == LINT_G_DESTRUCTIVE && c->o->destructive)
			f.allowed = xstrfmt("declared destructive: %s", c->o->destructive);
	}
	add_finding(c->r, &f);
}

static void report(struct lctx *c, const struct lint_rule_info *ri, const char *hint, const char *fmt, ...)
	__attribute__((format(__printf__, 4, 5)));
static void report(struct lctx *c, const struct lint_rule_info *ri, const char *hint, const char *fmt, ...)
{
	int line, col;
	advance(c, c->stmt_off, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	vreport_at(c, ri, line, col, c->allows, c->nallows, hint, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- what a statement touches */

/* one object a statement changes, with the verb for messages */
struct touched {
	const char *schema; /* NULL: unqualified */
	const char *name; /* NULL: the schema itself */
	int temp;
	int fresh; /* a name the statement creates (else one it looks up) */
	char kind; /* the name space it lives in (name_kind): 'r', 't', 'f' or 'o' */
	const char *what; /* "a trigger on ": the object changed is one of the table named; NULL: the table */
};

enum shape {
	T_REL, /* a RangeVar */
	T_RELS, /* a list of RangeVars */
	T_INTO, /* an IntoClause's rel */
	T_NAMES, /* a list of String: a qualified name */
	T_OBJ, /* an object as DropStmt/CommentStmt/GrantStmt name them; objtype decides a bare String */
	T_OBJS, /* a list of those */
	T_SCHEMA, /* a string: a schema name */
	T_OPTS, /* DefElem options: "schemas" (default privileges) or "schema" (extension) */
	T_CMDS, /* ALTER TABLE's commands: the relations of cmd_rels' commands */
};

#define NO_OBJTYPE ((size_t)-1)

/* a condition on the statement for a key to count (NULL: always) */
typedef int (*key_when)(const Node *stmt);

struct target_key {
	NodeTag tag;
	size_t off; /* the field: a pointer, or a char * for T_SCHEMA */
	int shape;
	size_t objtype_off; /* T_OBJ(S), T_SCHEMA: the statement's ObjectType field, or NO_OBJTYPE */
	const char *verb;
	key_when when;
	int fresh; /* names what the statement creates: an unqualified name lands in the first schema */
};

#define TKX(node, field, shape, objtype_off, verb, when, fresh) \
	{ T_##node, offsetof(node, field), shape, objtype_off, verb, when, fresh }
#define TK(node, field, shape, verb) TKX(node, field, shape, NO_OBJTYPE, verb, NULL, 0)
#define TKN(node, field, shape, verb) TKX(node, field, shape, NO_OBJTYPE, verb, NULL, 1)
#define TKO(node, field, shape, objtype, verb) TKX(node, field, shape, offsetof(node, objtype), verb, NULL, 0)
#define TKW(node, field, shape, when, verb) TKX(node, field, shape, NO_OBJTYPE, verb, when, 0)

static int copy_from(const Node *n)
{
	return ((const CopyStmt *)n)->is_from;
}

static int partition_of(const Node *n)
{
	return ((const CreateStmt *)n)->partbound != NULL;
}

static int inherits(const Node *n)
{
	return !partition_of(n);
}

static int reindex_schema(const Node *n)
{
	return ((const ReindexStmt *)n)->kind == REINDEX_OBJECT_SCHEMA;
}

/* def_true tells whether a DefElem option is on: a bare option is, and so is
 * any value but false, off, no or 0 (the server's defGetBoolean) */
static int def_true(const DefElem *d)
{
	if (!d->arg)
		return 1;
	if (IsA(d->arg, Integer))
		return intVal(d->arg) != 0;
	const char *v = sval(d->arg);
	return !v || (strcasecmp(v, "false") && strcasecmp(v, "off") && strcasecmp(v, "no") && strcmp(v, "0"));
}

/* option_on tells whether a list of DefElem options turns name on */
static int option_on(const List *opts, const char *name)
{
	const ListCell *lc;
	foreach (lc, opts) {
		const DefElem *d = lfirst(lc);
		if (IsA(d, DefElem) && d->defname && !strcmp(d->defname, name))
			return def_true(d);
	}
	return 0;
}

/* VACUUM FULL rewrites its tables; a plain VACUUM or ANALYZE changes no object */
static int vacuum_full(const Node *n)
{
	return option_on(((const VacuumStmt *)n)->options, "full");
}

/* EXPLAIN runs its statement only with ANALYZE */
static int explain_analyze(const Node *n)
{
	return option_on(((const ExplainStmt *)n)->options, "analyze");
}

/* Where each kind of statement names what it creates, changes or writes.
 * Reads (a SELECT, the source of an INSERT ... SELECT) are not here: reading
 * a protected schema is what it is for. */
static const struct target_key target_keys[] = {
	TKN(CreateStmt, relation, T_REL, "creates"),
	TKN(CreateTableAsStmt, into, T_INTO, "creates"),
	TKN(SelectStmt, intoClause, T_INTO, "creates"),
	TKN(CreateForeignTableStmt, base.relation, T_REL, "creates"),
	TK(ImportForeignSchemaStmt, local_schema, T_SCHEMA, "imports foreign tables into"),
	TKN(ViewStmt, view, T_REL, "creates"),
	TKN(CreateSeqStmt, sequence, T_REL, "creates"),
	TK(AlterSeqStmt, sequence, T_REL, "alters"),
	TK(IndexStmt, relation, T_REL, "creates an index on"),
	TK(AlterTableStmt, relation, T_REL, "alters"),
	TK(RenameStmt, relation, T_REL, "renames"),
	TKO(RenameStmt, object, T_OBJ, renameType, "renames"),
	TKO(RenameStmt, subname, T_SCHEMA, renameType, "renames"),
	TKO(DropStmt, objects, T_OBJS, removeType, "drops"),
	TK(CreateSchemaStmt, schemaname, T_SCHEMA, "creates"),
	TK(AlterObjectSchemaStmt, relation, T_REL, "moves"),
	TKO(AlterObjectSchemaStmt, object, T_OBJ, objectType, "moves"),
	TK(AlterObjectSchemaStmt, newschema, T_SCHEMA, "moves an object into"),
	TK(AlterOwnerStmt, relation, T_REL, "changes the owner of"),
	TKO(AlterOwnerStmt, object, T_OBJ, objectType, "changes the owner of"),
	TKO(GrantStmt, objects, T_OBJS, objtype, "grants on"),
	TK(AlterDefaultPrivilegesStmt, options, T_OPTS, "changes default privileges in"),
	TKO(CommentStmt, object, T_OBJ, objtype, "comments on"),
	TK(InsertStmt, relation, T_REL, "writes to"),
	TK(UpdateStmt, relation, T_REL, "writes to"),
	TK(DeleteStmt, relation, T_REL, "writes to"),
	TK(MergeStmt, relation, T_REL, "writes to"),
	TK(TruncateStmt, relations, T_RELS, "truncates"),
	TKW(CopyStmt, relation, T_REL, copy_from, "writes to"), /* COPY TO reads */
	TKN(CreateFunctionStmt, funcname, T_NAMES, "creates"),
	TK(AlterFunctionStmt, func, T_OBJ, "alters"),
	TKN(CreateEnumStmt, typeName, T_NAMES, "creates"),
	TK(AlterEnumStmt, typeName, T_NAMES, "alters"),
	TKN(CompositeTypeStmt, typevar, T_REL, "creates"),
	TKN(CreateRangeStmt, typeName, T_NAMES, "creates"),
	TKN(CreateDomainStmt, domainname, T_NAMES, "creates"),
	TK(AlterDomainStmt, typeName, T_NAMES, "alters"),
	TKN(DefineStmt, defnames, T_NAMES, "creates"),
	TK(CreateTrigStmt, relation, T_REL, "creates a trigger on"),
	TK(RuleStmt, relation, T_REL, "creates a rule on"),
	TK(CreatePolicyStmt, table, T_REL, "creates a policy on"),
	TK(AlterPolicyStmt, table, T_REL, "alters a policy on"),
	TK(RefreshMatViewStmt, relation, T_REL, "refreshes"),
	TK(CreateExtensionStmt, options, T_OPTS, "creates an extension in"),
	TKN(CreateStatsStmt, defnames, T_NAMES, "creates statistics"),
	TK(CreateStatsStmt, relations, T_RELS, "creates statistics on"),
	/* a partition or child table changes its parent (pg_inherits, the
	 * parent's lock and row set); attaching, detaching or inheriting changes
	 * the partition or parent named */
	TKW(CreateStmt, inhRelations, T_RELS, partition_of, "creates a partition of"),
	TKW(CreateStmt, inhRelations, T_RELS, inherits, "creates a child table of"),
	TK(AlterTableStmt, cmds, T_CMDS, NULL),
	TKO(SecLabelStmt, object, T_OBJ, objtype, "labels"),
	TKO(AlterExtensionContentsStmt, object, T_OBJ, objtype, "adds to or drops from an extension"),
	TK(AlterStatsStmt, defnames, T_NAMES, "alters"),
	TKN(CreateOpClassStmt, opclassname, T_NAMES, "creates"),
	TK(CreateOpClassStmt, opfamilyname, T_NAMES, "adds an operator class to"),
	TKN(CreateOpFamilyStmt, opfamilyname, T_NAMES, "creates"),
	TK(AlterOpFamilyStmt, opfamilyname, T_NAMES, "alters"),
	TK(AlterTypeStmt, typeName, T_NAMES, "alters"),
	TK(AlterCollationStmt, collname, T_NAMES, "alters"),
	TK(AlterOperatorStmt, opername, T_OBJ, "alters"),
	TK(AlterTSDictionaryStmt, dictname, T_NAMES, "alters"),
	TK(AlterTSConfigurationStmt, cfgname, T_NAMES, "alters"),
	TKN(CreateConversionStmt, conversion_name, T_NAMES, "creates"),
	/* these rewrite a relation (new files, new relfilenode): the run-time
	 * guard refuses them on a protected schema, so lint says so first */
	TK(ClusterStmt, relation, T_REL, "rewrites"),
	TK(ReindexStmt, relation, T_REL, "rebuilds the indexes of"),
	TKW(ReindexStmt, name, T_SCHEMA, reindex_schema, "rebuilds every index in"),
	TKW(VacuumStmt, rels, T_RELS, vacuum_full, "rewrites"),
};

/* the ALTER TABLE commands that change another relation than the one altered */
static const struct {
	AlterTableType subtype;
	const char *verb;
} cmd_rels[] = {
	{ AT_AttachPartition, "attaches the partition" },
	{ AT_DetachPartition, "detaches the partition" },
	{ AT_DetachPartitionFinalize, "detaches the partition" },
	{ AT_AddInherit, "makes a table inherit from" },
	{ AT_DropInherit, "ends a table's inheritance from" },
};

/* Where a statement holds another statement that runs with it: a WITH's
 * queries (a data-modifying one runs even when the outer statement reads),
 * EXPLAIN ANALYZE's statement, PREPARE's (it runs at EXECUTE, in the same
 * migration), COPY (query) TO's. Their own targets count as the
 * statement's. */
struct inner_key {
	NodeTag tag;
	size_t off;
	key_when when;
};

#define IK(node, field, when) { T_##node, offsetof(node, field), when }

static const struct inner_key inner_keys[] = {
	IK(SelectStmt, withClause, NULL),
	IK(InsertStmt, withClause, NULL),
	IK(InsertStmt, selectStmt, NULL),
	IK(UpdateStmt, withClause, NULL),
	IK(DeleteStmt, withClause, NULL),
	IK(MergeStmt, withClause, NULL),
	IK(CreateTableAsStmt, query, NULL),
	IK(ExplainStmt, query, explain_analyze),
	IK(PrepareStmt, query, NULL),
	IK(CopyStmt, query, NULL),
};

/* names_touched reads a qualified name (a list of String) from item from
 * on; on_table: the last part names an object of a table (a column, a
 * trigger, a policy, a rule, a constraint), the table comes before it */
static int names_touched(const List *items, int from, int on_table, struct touched *t)
{
	int n = list_length(items);
	if (on_table && n)
		n--;
	if (n <= from)
		return 0;
	t->name = sval(nth(items, n - 1));
	t->schema = n - 2 >= from ? sval(nth(items, n - 2)) : NULL;
	return t->name != NULL;
}

/* How DropStmt, CommentStmt, SecLabelStmt, ... name these object types: by
 * their table and their own name last (the table is what changes), by
 * their access method first (then the qualified name), or as a domain's
 * TypeName and the constraint's name. */
static const struct {
	ObjectType type;
	const char *what; /* for messages; NULL: a column, said as its table */
} on_table_types[] = {
	{ OBJECT_COLUMN, NULL },	      { OBJECT_TRIGGER, "a trigger on " }, { OBJECT_POLICY, "a policy on " },
	{ OBJECT_RULE, "a rule on " },	      { OBJECT_TABCONSTRAINT, "a constraint on " },
	{ OBJECT_DOMCONSTRAINT, "a constraint on " },
};
static const ObjectType am_first_types[] = { OBJECT_OPCLASS, OBJECT_OPFAMILY };

/* on_table finds objtype in on_table_types: 1 and its words in *what, else 0 */
static int on_table(int objtype, const char **what)
{
	for (size_t i = 0; i < sizeof on_table_types / sizeof on_table_types[0]; i++)
		if (objtype == (int)on_table_types[i].type) {
			*what = on_table_types[i].what;
			return 1;
		}
	return 0;
}

static int am_first(int objtype)
{
	for (size_t i = 0; i < sizeof am_first_types / sizeof am_first_types[0]; i++)
		if (objtype == (int)am_first_types[i])
			return 1;
	return 0;
}

/* obj_touched reads one object of DropStmt.objects, CommentStmt.object, ...
 * (objtype: -1 when the statement names none) */
static int obj_touched(const Node *o, int objtype, int in_schema, struct touched *t)
{
	memset(t, 0, sizeof *t);
	if (!o)
		return 0;
	if (sval(o)) {
		/* a bare name: a schema for these object types, else an object that lives in no schema */
		if (in_schema || objtype == OBJECT_SCHEMA) {
			t->schema = sval(o);
			return 1;
		}
		return 0;
	}
	switch (nodeTag(o)) {
	case T_List: {
		const List *l = (const List *)o;
		const char *what = NULL;
		int on = on_table(objtype, &what);
		int rc = objtype == OBJECT_DOMCONSTRAINT ? obj_touched(nth(l, 0), -1, 0, t)
							 : names_touched(l, am_first(objtype), on, t);
		t->what = on ? what : NULL;
		return rc;
	}
	case T_ObjectWithArgs:
		return names_touched(((const ObjectWithArgs *)o)->objname, 0, 0, t);
	case T_TypeName:
		return names_touched(((const TypeName *)o)->names, 0, 0, t);
	case T_RangeVar:
		t->name = rv_name((const RangeVar *)o, &t->schema);
		t->temp = rv_temp((const RangeVar *)o);
		return t->name != NULL;
	case T_VacuumRelation:
		return obj_touched((const Node *)((const VacuumRelation *)o)->relation, objtype, in_schema, t);
	default:
		return 0;
	}
}

typedef int (*touched_fn)(struct lctx *c, const struct touched *t, const char *verb, void *arg);

/* cmds_touched calls fn for the relations cmd_rels' ALTER TABLE commands name */
static int cmds_touched(struct lctx *c, const List *cmds, touched_fn fn, void *arg)
{
	const ListCell *lc;
	foreach (lc, cmds) {
		const AlterTableCmd *cmd = lfirst(lc);
		if (!IsA(cmd, AlterTableCmd) || !cmd->def)
			continue;
		for (size_t i = 0; i < sizeof cmd_rels / sizeof cmd_rels[0]; i++) {
			if (cmd->subtype != cmd_rels[i].subtype)
				continue;
			const Node *rel = IsA(cmd->def, PartitionCmd) ? (const Node *)((const PartitionCmd *)cmd->def)->name
								      : cmd->def;
			struct touched t;
			int rc = 0;
			if (obj_touched(rel, -1, 0, &t)) {
				t.kind = 'r';
				rc = fn(c, &t, cmd_rels[i].verb, arg);
			}
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* name_kind is which of PostgreSQL's name spaces the object a key of
 * target_keys names lives in: 'r' a relation (pg_class: tables, views,
 * sequences, indexes, composite types; and the table an object on a table
 * is named with), 't' a type, 'f' a function, 'o' anything else. A name
 * created earlier in the migration hides a protected schema's only from a
 * look-up in its own name space: a function t does not hold a table t. */
static char name_kind(const struct target_key *k, const Node *node)
{
	if (k->shape == T_REL || k->shape == T_INTO || k->shape == T_RELS || k->shape == T_CMDS)
		return 'r';
	if (k->objtype_off != NO_OBJTYPE) {
		switch (*(const ObjectType *)((const char *)node + k->objtype_off)) {
		case OBJECT_TABLE:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_SEQUENCE:
		case OBJECT_INDEX:
		case OBJECT_FOREIGN_TABLE:
		case OBJECT_COLUMN:
		case OBJECT_TABCONSTRAINT:
		case OBJECT_TRIGGER:
		case OBJECT_POLICY:
		case OBJECT_RULE:
			return 'r';
		case OBJECT_TYPE:
		case OBJECT_DOMAIN:
		case OBJECT_DOMCONSTRAINT:
			return 't';
		case OBJECT_FUNCTION:
		case OBJECT_PROCEDURE:
		case OBJECT_ROUTINE:
		case OBJECT_AGGREGATE:
			return 'f';
		default:
			return 'o';
		}
	}
	switch (k->tag) {
	case T_CreateFunctionStmt:
	case T_AlterFunctionStmt:
		return 'f';
	case T_CreateEnumStmt:
	case T_AlterEnumStmt:
	case T_CreateRangeStmt:
	case T_CreateDomainStmt:
	case T_AlterDomainStmt:
	case T_AlterTypeStmt:
		return 't';
	case T_DefineStmt: {
		ObjectType kind = ((const DefineStmt *)node)->kind;
		return kind == OBJECT_TYPE ? 't' : kind == OBJECT_AGGREGATE ? 'f' : 'o';
	}
	default:
		return 'o';
	}
}

/* key_fn calls fn for an object a key of target_keys names */
static int key_fn(struct lctx *c, const struct target_key *k, const Node *node, struct touched *t, touched_fn fn,
		  void *arg)
{
	t->fresh = k->fresh;
	t->kind = name_kind(k, node);
	return fn(c, t, k->verb, arg);
}

static int has_defelem(const List *opts, const char *name);

/* touched_in calls fn for every object node changes, and those of the
 * statements it holds (inner_keys); stops at a non-zero answer */
static int touched_in(struct lctx *c, const Node *node, touched_fn fn, void *arg)
{
	const char *base = (const char *)node;
	NodeTag tag = nodeTag(node);
	for (size_t i = 0; i < sizeof inner_keys / sizeof inner_keys[0]; i++) {
		const struct inner_key *k = &inner_keys[i];
		const Node *in = k->tag == tag ? *(Node *const *)(base + k->off) : NULL;
		if (!in || (k->when && !k->when(node)))
			continue;
		int rc = 0;
		if (IsA(in, WithClause)) {
			const ListCell *lc;
			foreach (lc, ((const WithClause *)in)->ctes) {
				const CommonTableExpr *cte = lfirst(lc);
				if (!rc && IsA(cte, CommonTableExpr) && cte->ctequery)
					rc = touched_in(c, cte->ctequery, fn, arg);
			}
		} else {
			rc = touched_in(c, in, fn, arg);
		}
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < sizeof target_keys / sizeof target_keys[0]; i++) {
		const struct target_key *k = &target_keys[i];
		if (k->tag != tag || (k->when && !k->when(node)))
			continue;
		const void *field = base + k->off;
		const Node *v = k->shape == T_SCHEMA ? NULL : *(Node *const *)field;
		const char *str = k->shape == T_SCHEMA ? *(char *const *)field : NULL;
		if (!v && !str)
			continue;
		int objtype = k->objtype_off != NO_OBJTYPE ? (int)*(const ObjectType *)(base + k->objtype_off) : -1;
		int in_schema = tag == T_GrantStmt && ((const GrantStmt *)node)->targtype == ACL_TARGET_ALL_IN_SCHEMA;
		struct touched t;
		memset(&t, 0, sizeof t);
		int rc = 0;
		const ListCell *lc;
		switch (k->shape) {
		case T_REL:
		case T_INTO: {
			const RangeVar *rv = k->shape == T_INTO ? ((const IntoClause *)v)->rel : (const RangeVar *)v;
			t.name = rv_name(rv, &t.schema);
			t.temp = rv_temp(rv);
			if (t.name)
				rc = key_fn(c, k, node, &t, fn, arg);
			break;
		}
		case T_RELS:
		case T_OBJS:
			foreach (lc, (const List *)v) {
				if (rc)
					break;
				if (obj_touched(lfirst(lc), objtype, in_schema, &t))
					rc = key_fn(c, k, node, &t, fn, arg);
			}
			break;
		case T_NAMES:
			if (names_touched((const List *)v, 0, 0, &t))
				rc = key_fn(c, k, node, &t, fn, arg);
			break;
		case T_CMDS:
			rc = cmds_touched(c, (const List *)v, fn, arg);
			break;
		case T_OBJ:
			if (obj_touched(v, objtype, 0, &t))
				rc = key_fn(c, k, node, &t, fn, arg);
			break;
		case T_SCHEMA:
			if (objtype < 0 || objtype == OBJECT_SCHEMA) {
				t.schema = str;
				rc = key_fn(c, k, node, &t, fn, arg);
			}
			break;
		case T_OPTS:
			foreach (lc, (const List *)v) {
				if (rc)
					break;
				const DefElem *d = lfirst(lc);
				if (!IsA(d, DefElem) || !d->defname)
					continue;
				if (!strcmp(d->defname, "schema") && sval(d->arg)) {
					t.schema = sval(d->arg);
					rc = key_fn(c, k, node, &t, fn, arg);
				} else if (!strcmp(d->defname, "schemas") && d->arg && IsA(d->arg, List)) {
					const ListCell *m;
					foreach (m, (const List *)d->arg) {
						if (rc)
							break;
						t.schema = sval(lfirst(m));
						if (t.schema)
							rc = key_fn(c, k, node, &t, fn, arg);
					}
				}
			}
			break;
		}
		if (rc)
			return rc;
	}
	if (tag == T_CreateExtensionStmt) {
		/* without SCHEMA, a relocatable extension's objects land in the
		 * first schema of the search_path, as a new name does */
		const CreateExtensionStmt *ce = (const CreateExtensionStmt *)node;
		if (!has_defelem(ce->options, "schema") && ce->extname) {
			struct touched t;
			memset(&t, 0, sizeof t);
			t.name = ce->extname;
			t.fresh = 1;
			t.kind = 'o';
			return fn(c, &t, "creates the objects of extension", arg);
		}
	}
	return 0;
}

/* each_touched calls fn for every object the statement changes (stops at a non-zero answer) */
static int each_touched(struct lctx *c, touched_fn fn, void *arg)
{
	return touched_in(c, c->node, fn, arg);
}

/* ---------------------------------------------------------------- the rules */

struct rule;
typedef void (*rule_fn)(struct lctx *c, const struct lint_rule_info *ri);

/* path_where names the search_path an unqualified name went through (list:
 * and its schemas) */
static void path_where(const struct lctx *c, int list, struct buf *b)
{
	if (c->path_line)
		buf_addf(b, "the search_path set at line %d", c->path_line);
	else
		buf_addf(b, "the role's default search_path%s", c->path_assumed ? ", assumed to be \"$user\", public," : "");
	if (list) {
		buf_adds(b, " is ");
		for (size_t i = 0; i < c->npath; i++)
			buf_addf(b, "%s%s", i ? ", " : "", *c->path[i].name ? c->path[i].name : "\"$user\"");
	}
}

/* path_user_note says why a "$user" ahead of the path's schema at was passed over */
static void path_user_note(const struct lctx *c, size_t at, struct buf *b)
{
	for (size_t i = 0; i < at && i < c->npath; i++) {
		if (!c->path[i].user || path_exists(c, i))
			continue;
		if (*c->path[i].name)
			buf_addf(b, "; \"$user\" is the role \"%s\", not a schema the project knows (owned or protected), so "
				    "not taken to exist",
				 c->path[i].name);
		else
			buf_adds(b, "; \"$user\" is no schema: the role is not known without a connected target");
		return;
	}
}

/* path_lookup is where the server may find an unqualified name a statement
 * looks up (it takes the first schema of the path that holds it): the index
 * of the first protected schema with no schema ahead of it known to hold the
 * name (created earlier in this migration, or a temporary table), else -1.
 * *first: no other schema a name could be in comes before it. */
static long path_lookup(const struct lctx *c, char kind, const char *name, int *first)
{
	*first = 1;
	char *key = xstrfmt("%c:%s", kind, name); /* as define_one keeps it */
	long at = -1;
	if (names_has(&c->defined, "pg_temp", key)) {
		free(key);
		return -1;
	}
	for (size_t i = 0; i < c->npath && at < 0; i++) {
		if (!path_exists(c, i))
			continue;
		if (names_has(&c->defined, c->path[i].name, key))
			break;
		if (is_protected(c, c->path[i].name))
			at = (long)i;
		else
			*first &= !path_creates(c, i);
	}
	free(key);
	return at;
}

/* known_schemas tells whether lint knows any schema to exist (the project
 * owns some): without, it assumes every schema written in a path exists */
static int known_schemas(const struct lctx *c)
{
	return c->o->p && c->o->p->nowned > 0;
}

/* schema_known tells whether schema is one lint knows to exist: owned,
 * protected, or created earlier in this migration */
static int schema_known(const struct lctx *c, const char *schema)
{
	return is_owned(c, schema) || is_protected(c, schema) || names_has(&c->defined, "", schema) ||
	       !strcmp(schema, "pg_temp"); /* made on demand: it always takes the name */
}

static int protected_one(struct lctx *c, const struct touched *t, const char *verb, void *arg)
{
	const struct lint_rule_info *ri = arg;
	if (t->temp)
		return 0;
	const char *schema = t->schema, *unsure = NULL;
	size_t at = c->npath;
	int first = 1;
	if (schema) {
		/* written out */
	} else if (t->fresh) {
		for (at = 0; at < c->npath && !path_creates(c, at); at++)
			;
		schema = at < c->npath ? c->path[at].name : "";
		/* lint takes a schema written in the path to exist, but knows only
		 * the owned and protected ones: ahead of a protected schema, one it
		 * does not know (a typo, one dropped) would be skipped and the new
		 * name land in the protected one */
		for (size_t i = at + 1; *schema && known_schemas(c) && !schema_known(c, schema) && i < c->npath; i++)
			if (path_exists(c, i) && is_protected(c, c->path[i].name)) {
				unsure = schema;
				at = i;
				schema = c->path[i].name;
				first = 0;
			}
	} else {
		long i = path_lookup(c, t->kind, t->name, &first);
		if (i < 0)
			return 0;
		at = (size_t)i;
		schema = c->path[at].name;
	}
	if (!is_protected(c, schema))
		return 0;
	struct buf how = BUF_INIT;
	if (!t->schema) {
		buf_adds(&how, " (unqualified: ");
		path_where(c, !first, &how);
		buf_adds(&how, first ? " puts it there" : "");
		path_user_note(c, at, &how);
		if (at < c->npath && c->path[at].user && (c->role || c->session_role))
			buf_addf(&how, "; \"$user\" is the role \"%s\" set at line %d", c->path[at].name, c->role_line);
		buf_adds(&how, ")");
	}
	const char *what = t->what ? t->what : "";
	if (!t->name)
		report(c, ri, "protected schemas are read-only for migrations: change only the owned schemas",
		       "%s the protected schema \"%s\"", verb, schema);
	else if (unsure)
		report(c, ri,
		       "schema-qualify the name with the schema it is meant to be in: the server skips a schema of the "
		       "search_path that does not exist, which lint cannot see",
		       "%s %s%s, which lands in the protected schema \"%s\" if the schema \"%s\" ahead of it does not "
		       "exist%s",
		       verb, what, t->name, schema, unsure, buf_str(&how));
	else if (first)
		report(c, ri, "protected schemas are read-only for migrations: change only the owned schemas",
		       "%s %s%s.%s in the protected schema \"%s\"%s", verb, what, schema, t->name, schema,
		       buf_str(&how));
	else
		report(c, ri,
		       "schema-qualify the name with the schema it is meant to be in: the server takes the first schema "
		       "of the search_path that holds it, which lint cannot see",
		       "%s %s%s, which is %s.%s in the protected schema \"%s\" unless a schema ahead of it holds that "
		       "name%s",
		       verb, what, t->name, schema, t->name, schema, buf_str(&how));
	buf_release(&how);
	return 1;
}

/* ---- sequence functions: nextval and setval change a sequence, whatever
 * statement calls them (SELECT setval('ref.s', 1), a column default), and
 * name it in a string constant, which the parse tree holds as text: the
 * statement's tokens are read for a call with a constant naming the
 * sequence. (A sequence named by oid, or in dynamic SQL, is not seen.) */

/* regclass_parts reads a '...' constant (tok: its bytes, quotes included)
 * as the server reads a regclass: dot-separated identifiers, unquoted ones
 * folded to lower case, "..." kept as written. Fills parts (newly
 * allocated) and returns how many (1 to 3), 0 when it is not a plain name. */
static int regclass_parts(const char *tok, size_t len, char *parts[3])
{
	if (len >= 3 && (tok[0] == 'E' || tok[0] == 'e') && !memchr(tok, '\\', len)) {
		tok++; /* E'...' without a backslash reads as '...' */
		len--;
	}
	if (len < 2 || tok[0] != '\'' || tok[len - 1] != '\'')
		return 0; /* E'...' with escapes, U&'...', $$...$$: not read */
	struct buf lit = BUF_INIT;
	for (size_t i = 1; i + 1 < len; i++) {
		buf_addch(&lit, tok[i]);
		if (tok[i] == '\'' && i + 2 < len && tok[i + 1] == '\'')
			i++;
	}
	const char *t = buf_str(&lit);
	int n = 0;
	for (;;) {
		while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
			t++;
		struct buf part = BUF_INIT;
		if (*t == '"') {
			for (t++; *t && !(*t == '"' && t[1] != '"'); t++) {
				buf_addch(&part, *t);
				if (*t == '"')
					t++;
			}
			if (*t != '"' || !part.len)
				goto bad;
			t++;
		} else {
			for (; *t && *t != '.' && *t != ' ' && *t != '\t' && *t != '\n' && *t != '\r'; t++)
				buf_addch(&part, (char)tolower((unsigned char)*t));
			if (!part.len)
				goto bad;
		}
		if (n == 3)
			goto bad;
		parts[n++] = buf_detach(&part);
		while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
			t++;
		if (!*t)
			break;
		if (*t++ != '.')
			goto bad;
		continue;
	bad:
		buf_release(&part);
		while (n)
			free(parts[--n]);
		break;
	}
	buf_release(&lit);
	return n;
}

/* tok_is tells whether token k of sql is the unquoted word w */
static int tok_is(const char *sql, const struct sql_token *k, const char *w)
{
	size_t n = strlen(w);
	if (k->kind != SQL_TOKEN_WORD)
		return 0;
	if (k->end - k->start == n + 2 && sql[k->start] == '"') /* "nextval": as written, case and all */
		return !strncmp(sql + k->start + 1, w, n) && sql[k->start + n + 1] == '"';
	return k->end - k->start == n && !strncasecmp(sql + k->start, w, n);
}

static int tok_ch(const char *sql, const struct sql_token *k, char ch)
{
	return k->kind == SQL_TOKEN_OTHER && k->end - k->start == 1 && sql[k->start] == ch;
}

/* sequence_calls reports the calls of nextval and setval in the statement
 * whose constant names a sequence in a protected schema (a sequence of a
 * serial or identity column too: pg_get_serial_sequence('ref.t', 'id')
 * names one in the table's schema) */
static void sequence_calls(struct lctx *c, const struct lint_rule_info *ri)
{
	const char *at = c->text + c->stmt_off;
	int seen = 0;
	/* most statements name neither: a look for "val" after "set" or "next" first */
	for (size_t i = 3; i + 3 <= c->stmt_len && !seen; i++)
		seen = (at[i] | 0x20) == 'v' && !strncasecmp(at + i, "val", 3) &&
		       (!strncasecmp(at + i - 3, "set", 3) || (i >= 4 && !strncasecmp(at + i - 4, "next", 4)));
	if (!seen)
		return;
	char *sql = xstrndup(at, c->stmt_len);
	struct sql_token *k = NULL;
	size_t n = 0;
	if (sql_scan(sql, &k, &n) == 0) {
		/* comments are nothing between two tokens: left out */
		size_t w = 0;
		for (size_t i = 0; i < n; i++)
			if (k[i].kind != SQL_TOKEN_LINE_COMMENT && k[i].kind != SQL_TOKEN_BLOCK_COMMENT)
				k[w++] = k[i];
		n = w;
		for (size_t i = 0; i + 2 < n; i++) {
			int set = tok_is(sql, &k[i], "setval");
			if (!set && !tok_is(sql, &k[i], "nextval"))
				continue;
			/* pg_catalog's, unqualified or qualified with it; another schema's is another function */
			if (i >= 2 && tok_ch(sql, &k[i - 1], '.') && !tok_is(sql, &k[i - 2], "pg_catalog"))
				continue;
			if (!tok_ch(sql, &k[i + 1], '('))
				continue;
			/* the first argument: ((...)), CAST( ... AS regclass), regclass '...',
			 * pg_get_serial_sequence('table', 'column') around the constant */
			size_t arg = i + 2;
			int serial = 0;
			for (;;) {
				if (arg + 1 < n && tok_ch(sql, &k[arg], '('))
					arg++;
				else if (arg + 2 < n && tok_is(sql, &k[arg], "cast") && tok_ch(sql, &k[arg + 1], '('))
					arg += 2;
				else if (!serial && arg + 2 < n && tok_is(sql, &k[arg], "pg_get_serial_sequence") &&
					 tok_ch(sql, &k[arg + 1], '('))
					arg += 2, serial = 1;
				else if (arg + 1 < n && tok_is(sql, &k[arg], "regclass")) /* regclass 'ref.s' */
					arg++;
				else
					break;
			}
			if (arg >= n || k[arg].kind != SQL_TOKEN_STRING)
				continue;
			char *parts[3];
			int np = regclass_parts(sql + k[arg].start, k[arg].end - k[arg].start, parts);
			if (!np)
				continue;
			struct touched t = { 0 };
			t.schema = np >= 2 ? parts[np - 2] : NULL;
			t.name = parts[np - 1];
			t.kind = 'r';
			protected_one(c, &t,
				      set ? (serial ? "sets the value of the sequence of the column of"
						    : "sets the value of the sequence")
					  : (serial ? "takes a value from the sequence of the column of"
						    : "takes a value from the sequence"),
				      (void *)ri);
			while (np)
				free(parts[--np]);
		}
	}
	free(k);
	free(sql);
}

/* whole_database says what a statement that names no relation does to every
 * table of the database, the protected schemas' too (NULL: it is not one) */
static const char *whole_database(const struct lctx *c)
{
	if (c->tag == T_VacuumStmt && vacuum_full(c->node) && !((const VacuumStmt *)c->node)->rels)
		return "VACUUM FULL with no table named rewrites every table of the database";
	if (c->tag == T_ClusterStmt && !((const ClusterStmt *)c->node)->relation)
		return "CLUSTER with no table named rewrites every table of the database that was clustered before";
	if (c->tag == T_ReindexStmt && ((const ReindexStmt *)c->node)->kind == REINDEX_OBJECT_DATABASE)
		return "REINDEX DATABASE rebuilds every index of the database";
	if (c->tag == T_AlterTableMoveAllStmt)
		return ((const AlterTableMoveAllStmt *)c->node)->roles
			       ? "ALTER ... ALL IN TABLESPACE ... OWNED BY moves every table, index or materialized view "
				 "of the tablespace those roles own"
			       : "ALTER ... ALL IN TABLESPACE moves every table, index or materialized view of the "
				 "tablespace";
	return NULL;
}

static void r_protected(struct lctx *c, const struct lint_rule_info *ri)
{
	each_touched(c, protected_one, (void *)ri);
	const struct cfg_project *p = c->o->p;
	if (p && p->nprotected)
		sequence_calls(c, ri);
	const char *what = p && p->nprotected ? whole_database(c) : NULL;
	if (!what)
		return;
	struct buf names = BUF_INIT;
	for (size_t i = 0; i < p->nprotected; i++)
		buf_addf(&names, "%s\"%s\"", i ? ", " : "", p->protected_schemas[i]);
	report(c, ri, "name the owned tables or indexes the statement is meant for",
	       "%s, the protected schema%s %s included", what, p->nprotected == 1 ? "" : "s", buf_str(&names));
	buf_release(&names);
}

static void r_tx_nesting(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->o->transactional && c->tag == T_TransactionStmt)
		report(c, ri,
		       "remove it: padctl runs the migration in one transaction with its history row; or set "
		       "`transactional: false` in meta.yml",
		       "transaction control in a transactional migration");
}

/* has_defelem tells whether a list of DefElem options has one named name */
static int has_defelem(const List *opts, const char *name)
{
	const ListCell *lc;
	foreach (lc, opts) {
		const DefElem *d = lfirst(lc);
		if (IsA(d, DefElem) && d->defname && !strcmp(d->defname, name))
			return 1;
	}
	return 0;
}

static int reindex_concurrent(const ReindexStmt *node)
{
	return option_on(node->params, "concurrently"); /* REINDEX (CONCURRENTLY false) is not */
}

/* the statement as an ALTER TABLE, or NULL */
static const AlterTableStmt *alter_table(const struct lctx *c)
{
	return c->tag == T_AlterTableStmt ? (const AlterTableStmt *)c->node : NULL;
}

/* cmd_of returns the next command of an ALTER TABLE from *from on, of the
 * subtype (any: -1), or NULL */
static const AlterTableCmd *cmd_of(const AlterTableStmt *node, int subtype, int *from)
{
	int n = node ? list_length(node->cmds) : 0;
	for (int i = *from; i < n; i++) {
		const AlterTableCmd *cmd = list_nth(node->cmds, i);
		if (!IsA(cmd, AlterTableCmd))
			continue;
		if (subtype < 0 || (int)cmd->subtype == subtype) {
			*from = i + 1;
			return cmd;
		}
	}
	*from = n;
	return NULL;
}

static int detach_concurrent(const AlterTableCmd *cmd)
{
	return cmd->def && IsA(cmd->def, PartitionCmd) && ((const PartitionCmd *)cmd->def)->concurrent;
}

/* the def of an ALTER TABLE command when it is a node of that type */
static const ColumnDef *cmd_coldef(const AlterTableCmd *cmd)
{
	return cmd->def && IsA(cmd->def, ColumnDef) ? (const ColumnDef *)cmd->def : NULL;
}

static const Constraint *cmd_constraint(const AlterTableCmd *cmd)
{
	return cmd->def && IsA(cmd->def, Constraint) ? (const Constraint *)cmd->def : NULL;
}

static void r_concurrently_in_tx(struct lctx *c, const struct lint_rule_info *ri)
{
	if (!c->o->transactional)
		return;
	int hit = 0;
	if (c->tag == T_IndexStmt)
		hit = ((const IndexStmt *)c->node)->concurrent;
	else if (c->tag == T_DropStmt)
		hit = ((const DropStmt *)c->node)->concurrent;
	else if (c->tag == T_ReindexStmt)
		hit = reindex_concurrent((const ReindexStmt *)c->node);
	else if (alter_table(c)) {
		int at = 0;
		const AlterTableCmd *cmd;
		while (!hit && (cmd = cmd_of(alter_table(c), AT_DetachPartition, &at)))
			hit = detach_concurrent(cmd);
	}
	if (hit)
		report(c, ri,
		       "set `transactional: false` in the migration's meta.yml and keep the statement alone there",
		       "CONCURRENTLY cannot run inside the transaction padctl opens for this migration");
}

/* What can run a second time after a failure later in a non-transactional
 * migration (the whole file runs again): the forms that skip what is
 * already there (IF NOT EXISTS, IF EXISTS, OR REPLACE), statements that set
 * rather than add (SET, COMMENT, GRANT, ALTER ... SET ...), and writes that
 * do not fail when repeated (UPDATE, DELETE, an INSERT ... ON CONFLICT).
 * Every other statement cannot, a kind lint does not know included: a
 * statement missing here is a warning too many, where a guess would be a
 * rerun that fails in prod. */
struct rerun_key {
	NodeTag tag;
	size_t flag; /* the bool field that makes it re-runnable, or ALWAYS */
	key_when when; /* and a condition on the statement (NULL: none) */
};
#define ALWAYS ((size_t)-1)
#define RK(node, flag) { T_##node, offsetof(node, flag), NULL }
#define RK_ALWAYS(node) { T_##node, ALWAYS, NULL }
#define RK_WHEN(node, when) { T_##node, ALWAYS, when }

static int select_reads(const Node *n)
{
	return !((const SelectStmt *)n)->intoClause; /* SELECT INTO creates a table */
}

static int insert_upserts(const Node *n)
{
	return ((const InsertStmt *)n)->onConflictClause != NULL;
}

static int copy_to(const Node *n)
{
	return !copy_from(n); /* COPY FROM adds the rows again */
}

static int explain_only(const Node *n)
{
	return !explain_analyze(n);
}

/* ALTER DOMAIN: SET/DROP DEFAULT, SET/DROP NOT NULL, VALIDATE, DROP CONSTRAINT IF EXISTS */
static int domain_sets(const Node *n)
{
	const AlterDomainStmt *d = (const AlterDomainStmt *)n;
	return (d->subtype && strchr("TNOV", d->subtype)) || (d->subtype == 'X' && d->missing_ok);
}

static int alter_table_reruns(const Node *n);

static const struct rerun_key rerun_keys[] = {
	RK(CreateStmt, if_not_exists),
	RK(IndexStmt, if_not_exists),
	RK(CreateSeqStmt, if_not_exists),
	RK(CreateSchemaStmt, if_not_exists),
	RK(CreateExtensionStmt, if_not_exists),
	RK(CreateTableAsStmt, if_not_exists),
	RK(CreateStatsStmt, if_not_exists),
	RK(CreateForeignTableStmt, base.if_not_exists),
	RK(CreateForeignServerStmt, if_not_exists),
	RK(CreateUserMappingStmt, if_not_exists),
	RK(DefineStmt, if_not_exists),
	RK(DefineStmt, replace),
	RK(ViewStmt, replace),
	RK(CreateFunctionStmt, replace),
	RK(CreateTrigStmt, replace),
	RK(RuleStmt, replace),
	RK(CreatePLangStmt, replace),
	RK(CreateTransformStmt, replace),
	RK(DropStmt, missing_ok),
	RK(DropRoleStmt, missing_ok),
	RK(DropUserMappingStmt, missing_ok),
	RK(AlterEnumStmt, skipIfNewValExists),
	RK(AlterObjectSchemaStmt, missing_ok),
	RK_WHEN(AlterTableStmt, alter_table_reruns),
	RK_WHEN(AlterDomainStmt, domain_sets),
	RK_WHEN(SelectStmt, select_reads),
	RK_WHEN(InsertStmt, insert_upserts),
	RK_WHEN(CopyStmt, copy_to),
	RK_WHEN(ExplainStmt, explain_only),
	RK_ALWAYS(VariableSetStmt),
	RK_ALWAYS(VariableShowStmt),
	RK_ALWAYS(TransactionStmt),
	RK_ALWAYS(CommentStmt),
	RK_ALWAYS(SecLabelStmt),
	RK_ALWAYS(GrantStmt),
	RK_ALWAYS(GrantRoleStmt),
	RK_ALWAYS(AlterDefaultPrivilegesStmt),
	RK_ALWAYS(AlterOwnerStmt),
	RK_ALWAYS(AlterFunctionStmt),
	RK_ALWAYS(AlterSeqStmt),
	RK_ALWAYS(AlterStatsStmt),
	RK_ALWAYS(AlterPolicyStmt),
	RK_ALWAYS(AlterExtensionStmt),
	RK_ALWAYS(AlterRoleStmt),
	RK_ALWAYS(AlterRoleSetStmt),
	RK_ALWAYS(AlterDatabaseSetStmt),
	RK_ALWAYS(DropOwnedStmt),
	RK_ALWAYS(ReassignOwnedStmt),
	RK_ALWAYS(UpdateStmt),
	RK_ALWAYS(DeleteStmt),
	RK_ALWAYS(MergeStmt),
	RK_ALWAYS(TruncateStmt),
	RK_ALWAYS(VacuumStmt),
	RK_ALWAYS(ReindexStmt),
	RK_ALWAYS(ClusterStmt),
	RK_ALWAYS(RefreshMatViewStmt),
	RK_ALWAYS(LockStmt),
	RK_ALWAYS(CheckPointStmt),
	RK_ALWAYS(DiscardStmt),
	RK_ALWAYS(NotifyStmt),
};

/* The ALTER TABLE commands that can run twice: those that set something,
 * and the ones that add or drop with IF [NOT] EXISTS (missing_ok). ADD
 * CONSTRAINT, ADD IDENTITY, ATTACH/DETACH PARTITION, [NO] INHERIT, [NOT] OF
 * and the rest cannot. */
typedef int (*cmd_when)(const AlterTableCmd *cmd);

static int cmd_missing_ok(const AlterTableCmd *cmd)
{
	return cmd->missing_ok;
}

static int cmd_no_using(const AlterTableCmd *cmd)
{
	/* USING runs its expression on the values again: x * 100 twice */
	return !cmd_coldef(cmd) || !cmd_coldef(cmd)->raw_default;
}

static const struct {
	AlterTableType subtype;
	cmd_when when; /* NULL: always */
} rerun_cmds[] = {
	{ AT_AddColumn, cmd_missing_ok },
	{ AT_DropColumn, cmd_missing_ok },
	{ AT_DropConstraint, cmd_missing_ok },
	{ AT_DropIdentity, cmd_missing_ok },
	{ AT_DropExpression, cmd_missing_ok },
	{ AT_AlterColumnType, cmd_no_using },
	{ AT_ColumnDefault, NULL },
	{ AT_DropNotNull, NULL },
	{ AT_SetNotNull, NULL },
	{ AT_SetStatistics, NULL },
	{ AT_SetOptions, NULL },
	{ AT_ResetOptions, NULL },
	{ AT_SetStorage, NULL },
	{ AT_SetCompression, NULL },
	{ AT_AlterColumnGenericOptions, NULL },
	{ AT_ChangeOwner, NULL },
	{ AT_ClusterOn, NULL },
	{ AT_DropCluster, NULL },
	{ AT_SetLogged, NULL },
	{ AT_SetUnLogged, NULL },
	{ AT_SetAccessMethod, NULL },
	{ AT_SetTableSpace, NULL },
	{ AT_SetRelOptions, NULL },
	{ AT_ResetRelOptions, NULL },
	{ AT_ReplaceRelOptions, NULL },
	{ AT_EnableTrig, NULL },
	{ AT_EnableAlwaysTrig, NULL },
	{ AT_EnableReplicaTrig, NULL },
	{ AT_DisableTrig, NULL },
	{ AT_EnableTrigAll, NULL },
	{ AT_DisableTrigAll, NULL },
	{ AT_EnableTrigUser, NULL },
	{ AT_DisableTrigUser, NULL },
	{ AT_EnableRule, NULL },
	{ AT_EnableAlwaysRule, NULL },
	{ AT_EnableReplicaRule, NULL },
	{ AT_DisableRule, NULL },
	{ AT_ReplicaIdentity, NULL },
	{ AT_EnableRowSecurity, NULL },
	{ AT_DisableRowSecurity, NULL },
	{ AT_ForceRowSecurity, NULL },
	{ AT_NoForceRowSecurity, NULL },
	{ AT_GenericOptions, NULL },
	{ AT_ValidateConstraint, NULL },
	{ AT_AlterConstraint, NULL },
	{ AT_SetIdentity, NULL },
};

static int alter_table_reruns(const Node *n)
{
	const ListCell *lc;
	foreach (lc, ((const AlterTableStmt *)n)->cmds) {
		const AlterTableCmd *cmd = lfirst(lc);
		if (!IsA(cmd, AlterTableCmd))
			continue;
		/* ALTER INDEX ... ATTACH PARTITION does nothing when the index is attached already */
		if (((const AlterTableStmt *)n)->objtype == OBJECT_INDEX && cmd->subtype == AT_AttachPartition)
			continue;
		size_t i = 0;
		while (i < sizeof rerun_cmds / sizeof rerun_cmds[0] && rerun_cmds[i].subtype != cmd->subtype)
			i++;
		if (i == sizeof rerun_cmds / sizeof rerun_cmds[0] || (rerun_cmds[i].when && !rerun_cmds[i].when(cmd)))
			return 0;
	}
	return 1;
}

/* rerunnable tells whether the statement is one rerun_keys lists */
static int rerunnable(struct lctx *c)
{
	for (size_t i = 0; i < sizeof rerun_keys / sizeof rerun_keys[0]; i++) {
		const struct rerun_key *k = &rerun_keys[i];
		if (k->tag != c->tag)
			continue;
		if (k->flag != ALWAYS && !*(const bool *)((const char *)c->node + k->flag))
			continue;
		if (!k->when || k->when(c->node))
			return 1;
	}
	return 0;
}

static int path_own(const struct lctx *c);
static int rel_at(struct lctx *c, const RangeVar *rv, char *nsp, size_t len);

/* owned_index tells whether the migrate step drops an invalid index ix
 * leaves before it runs the migration again: one it names, on a table in
 * an owned schema, written out or found through the session's search_path
 * (the step looks it up before the migration's own SETs) */
static int owned_index(struct lctx *c, const IndexStmt *ix)
{
	char nsp[NAMEDATALEN];
	const char *schema;
	if (!ix->idxname || !rv_name(ix->relation, &schema) || rv_temp(ix->relation))
		return 0;
	if (schema)
		return is_owned(c, schema);
	return !path_own(c) && rel_at(c, ix->relation, nsp, sizeof nsp) && is_owned(c, nsp);
}

/* leaves_partial tells whether the statement, failing, can leave part of
 * itself behind that makes it fail when run again: CREATE INDEX
 * CONCURRENTLY (an invalid index of that name, unless the migrate step
 * drops it first: owned_index), DETACH PARTITION CONCURRENTLY (a detach
 * pending) */
static int leaves_partial(struct lctx *c)
{
	if (c->tag == T_IndexStmt) {
		const IndexStmt *ix = (const IndexStmt *)c->node;
		return ix->concurrent && !owned_index(c, ix);
	}
	int at = 0;
	const AlterTableCmd *cmd;
	while ((cmd = cmd_of(alter_table(c), AT_DetachPartition, &at)))
		if (detach_concurrent(cmd))
			return 1;
	return 0;
}

static void r_not_rerunnable(struct lctx *c, const struct lint_rule_info *ri)
{
	(void)ri;
	if (c->o->transactional || c->rerun_seen || rerunnable(c))
		return;
	advance(c, c->stmt_off, &c->rerun_line, &c->rerun_col);
	c->rerun_seen = 1;
	c->rerun_stmt = c->nstmts;
	c->rerun_partial = leaves_partial(c);
	for (size_t i = 0; i < c->nallows; i++) {
		c->rerun_allows[i].rule = c->allows[i].rule;
		c->rerun_allows[i].reason = xstrdup(c->allows[i].reason);
	}
	c->nrerun_allows = c->nallows;
}

/* the end of the file: a non-transactional migration of several statements
 * that cannot run twice */
static void rerun_finish(struct lctx *c, const struct lint_rule_info *ri)
{
	/* the statements before a failed one run again: one that cannot run
	 * twice but comes last (SET lock_timeout; ALTER TYPE ... ADD VALUE) is
	 * fine, unless failing it can leave part of itself behind (SET
	 * lock_timeout; CREATE INDEX CONCURRENTLY i ...: an invalid index i,
	 * and the run again fails on it) */
	if (!c->rerun_seen || c->nstmts < 2 || (c->rerun_stmt == c->nstmts && !c->rerun_partial))
		return;
	int sev = rule_severity(c, ri);
	if (sev == LINT_OFF)
		return;
	struct lint_finding f = { c->file,
				  c->rerun_line,
				  c->rerun_col,
				  ri->name,
				  ri->group,
				  sev,
				  xstrfmt("this non-transactional migration has %zu statements and this one cannot run "
					  "twice",
					  c->nstmts),
				  xstrdup("add IF NOT EXISTS / IF EXISTS / OR REPLACE, or split the migration, so a "
					  "run that failed half-way can be repeated"),
				  NULL };
	for (size_t i = 0; i < c->nrerun_allows && !f.allowed; i++)
		if (!strcmp(c->rerun_allows[i].rule, ri->name))
			f.allowed = xstrdup(c->rerun_allows[i].reason);
	for (size_t i = 0; i < c->o->nallow && !f.allowed; i++)
		if (!strcmp(c->o->allow[i].rule, ri->name))
			f.allowed = xstrdup(c->o->allow[i].value);
	add_finding(c->r, &f);
}

/* ---- destructive */

static const DropStmt *drop_of(const struct lctx *c, ObjectType type)
{
	return c->tag == T_DropStmt && ((const DropStmt *)c->node)->removeType == type ? (const DropStmt *)c->node
											: NULL;
}

static void r_drop_schema(struct lctx *c, const struct lint_rule_info *ri)
{
	const DropStmt *d = drop_of(c, OBJECT_SCHEMA);
	if (d)
		report(c, ri, "declare it in meta.yml (`destructive: \"why\"`) if the data is meant to go",
		       "drops schema \"%s\" and everything in it", sval(nth(d->objects, 0)) ? sval(nth(d->objects, 0)) : "?");
}

static void r_drop_table(struct lctx *c, const struct lint_rule_info *ri)
{
	const DropStmt *d = drop_of(c, OBJECT_TABLE);
	if (!d)
		return;
	const ListCell *lc;
	foreach (lc, d->objects) {
		struct touched t;
		if (!obj_touched(lfirst(lc), OBJECT_TABLE, 0, &t))
			continue;
		if (created_in(c, &c->created, t.schema, t.name))
			continue;
		report(c, ri,
		       "the running app may still read it: drop it in a later release, and declare it in meta.yml",
		       "drops table %s%s%s and its data", t.schema ? t.schema : "", t.schema ? "." : "", t.name);
		return;
	}
}

/* stmt_relation is the relation a statement names in its `relation` field, or NULL */
static const RangeVar *stmt_relation(const struct lctx *c)
{
	switch (c->tag) {
	case T_AlterTableStmt:
		return ((const AlterTableStmt *)c->node)->relation;
	case T_IndexStmt:
		return ((const IndexStmt *)c->node)->relation;
	case T_DeleteStmt:
		return ((const DeleteStmt *)c->node)->relation;
	case T_UpdateStmt:
		return ((const UpdateStmt *)c->node)->relation;
	case T_RenameStmt:
		return ((const RenameStmt *)c->node)->relation;
	case T_ReindexStmt:
		return ((const ReindexStmt *)c->node)->relation;
	case T_ClusterStmt:
		return ((const ClusterStmt *)c->node)->relation;
	case T_RefreshMatViewStmt:
		return ((const RefreshMatViewStmt *)c->node)->relation;
	case T_CreateStmt:
		return ((const CreateStmt *)c->node)->relation;
	default:
		return NULL;
	}
}

static void r_drop_column(struct lctx *c, const struct lint_rule_info *ri)
{
	if (!alter_table(c) || is_new(c, stmt_relation(c)))
		return;
	int at = 0;
	const AlterTableCmd *cmd = cmd_of(alter_table(c), AT_DropColumn, &at);
	if (cmd)
		report(c, ri,
		       "stop using the column in the app first, drop it in a later release, and declare it in meta.yml",
		       "drops column \"%s\" and its data; the running app may still use it", cmd->name);
}

static void r_truncate(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->tag == T_TruncateStmt && ((const TruncateStmt *)c->node)->behavior != DROP_CASCADE)
		report(c, ri, "declare it in meta.yml if the rows are meant to go", "TRUNCATE removes every row");
}

static void r_truncate_cascade(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->tag == T_TruncateStmt && ((const TruncateStmt *)c->node)->behavior == DROP_CASCADE)
		report(c, ri, "truncate the tables by name instead of CASCADE",
		       "TRUNCATE ... CASCADE also empties every table that references these, whichever they are");
}

/* inner_find calls fn on node and on every statement it holds that runs
 * with it (inner_keys: a WITH's data-modifying queries, EXPLAIN ANALYZE's,
 * PREPARE's, COPY (query) TO's), until fn answers non-zero */
typedef int (*inner_fn)(struct lctx *c, const Node *stmt);

static int inner_find(struct lctx *c, const Node *node, inner_fn fn)
{
	if (!node)
		return 0;
	if (fn(c, node))
		return 1;
	const char *base = (const char *)node;
	for (size_t i = 0; i < sizeof inner_keys / sizeof inner_keys[0]; i++) {
		const struct inner_key *k = &inner_keys[i];
		const Node *in = k->tag == nodeTag(node) ? *(Node *const *)(base + k->off) : NULL;
		if (!in || (k->when && !k->when(node)))
			continue;
		if (IsA(in, WithClause)) {
			const ListCell *lc;
			foreach (lc, ((const WithClause *)in)->ctes) {
				const CommonTableExpr *cte = lfirst(lc);
				if (IsA(cte, CommonTableExpr) && inner_find(c, cte->ctequery, fn))
					return 1;
			}
		} else if (inner_find(c, in, fn)) {
			return 1;
		}
	}
	return 0;
}

static int delete_all(struct lctx *c, const Node *n)
{
	return IsA(n, DeleteStmt) && !((const DeleteStmt *)n)->whereClause &&
	       !is_new(c, ((const DeleteStmt *)n)->relation);
}

static int update_all(struct lctx *c, const Node *n)
{
	return IsA(n, UpdateStmt) && !((const UpdateStmt *)n)->whereClause &&
	       !is_new(c, ((const UpdateStmt *)n)->relation);
}

static void r_delete_no_where(struct lctx *c, const struct lint_rule_info *ri)
{
	if (inner_find(c, c->node, delete_all))
		report(c, ri, "add a WHERE clause (WHERE true if every row is meant), or declare it in meta.yml",
		       "DELETE without WHERE removes every row");
}

static void r_update_no_where(struct lctx *c, const struct lint_rule_info *ri)
{
	if (inner_find(c, c->node, update_all))
		report(c, ri, "add a WHERE clause (WHERE true if every row is meant); batch large updates",
		       "UPDATE without WHERE rewrites every row, holding their locks until commit");
}

static const RenameStmt *rename_of(const struct lctx *c, ObjectType type)
{
	return c->tag == T_RenameStmt && ((const RenameStmt *)c->node)->renameType == type
		       ? (const RenameStmt *)c->node
		       : NULL;
}

static void r_rename_table(struct lctx *c, const struct lint_rule_info *ri)
{
	if (rename_of(c, OBJECT_TABLE) && !is_new(c, stmt_relation(c)))
		report(c, ri, "create the new table (or a view under the new name) and switch the app first",
		       "renames a table: the running app still uses the old name");
}

static void r_rename_column(struct lctx *c, const struct lint_rule_info *ri)
{
	const RenameStmt *rs = rename_of(c, OBJECT_COLUMN);
	if (rs && !is_new(c, stmt_relation(c)))
		report(c, ri, "add the new column, write both, switch the app, then drop the old one",
		       "renames column \"%s\": the running app still uses the old name", rs->subname);
}

/* ---- types: what a type change does */

struct typ {
	char name[64]; /* pg_type.typname: "varchar", "int4", "numeric" */
	int mods[2];
	int nmods;
};

/* typ_parse reads a TypeName node (no array types) */
static int typ_parse(const TypeName *tn, struct typ *t)
{
	memset(t, 0, sizeof *t);
	const char *last = tn ? sval(nth(tn->names, list_length(tn->names) - 1)) : NULL;
	if (!last || tn->arrayBounds)
		return -1;
	snprintf(t->name, sizeof t->name, "%s", last);
	for (int i = 0; i < list_length(tn->typmods) && i < 2; i++) {
		/* an integer constant; anything else counts as 0 */
		const A_Const *ac = list_nth(tn->typmods, i);
		int v = IsA(ac, A_Const) && !ac->isnull && IsA(&ac->val, Integer) ? intVal(&ac->val) : 0;
		t->mods[t->nmods++] = v;
	}
	/* a bare name may be the SQL spelling the grammar did not turn into pg_catalog's */
	static const char *const alias[][2] = { { "int", "int4" },
						{ "integer", "int4" },
						{ "bigint", "int8" },
						{ "smallint", "int2" },
						{ "character varying", "varchar" } };
	for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (!strcmp(t->name, alias[i][0]))
			snprintf(t->name, sizeof t->name, "%s", alias[i][1]);
	return 0;
}

/* typ_from_catalog turns pg_attribute's typmod into the modifiers a type name has */
static void typ_from_catalog(struct typ *t, const char *name, int typmod)
{
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	if (typmod < 0)
		return;
	if (!strcmp(name, "numeric")) {
		t->mods[0] = ((typmod - 4) >> 16) & 0xffff;
		t->mods[1] = (typmod - 4) & 0xffff;
		t->nmods = 2;
	} else if (!strcmp(name, "varchar") || !strcmp(name, "bpchar")) {
		t->mods[0] = typmod - 4;
		t->nmods = 1;
	} else if (!strcmp(name, "varbit") || !strcmp(name, "bit")) {
		t->mods[0] = typmod;
		t->nmods = 1;
	}
}

enum { CHANGE_SAFE, CHANGE_REWRITE, CHANGE_NARROW };

/* type_change: what changing a column from a to b does. The safe list is
 * what PostgreSQL changes without a rewrite or a scan: varchar widened,
 * unbounded or turned into text, text into unbounded varchar, numeric's
 * precision raised at the same scale or the bound removed, varbit widened,
 * cidr into inet. Narrowing: a smaller length, fewer numeric digits before
 * or after the point, a bounded type from an unbounded one, a smaller
 * integer or float. */
static int type_change(const struct typ *a, const struct typ *b)
{
	const char *x = a->name, *y = b->name;
	int xt = !strcmp(x, "text"), yt = !strcmp(y, "text");
	int xv = !strcmp(x, "varchar"), yv = !strcmp(y, "varchar");
	int xc = !strcmp(x, "bpchar"), yc = !strcmp(y, "bpchar");
	if ((xv || xt || xc) && (yv || yt || yc)) {
		/* strings: it narrows when the new bound is below the old one
		 * (text and an unbounded varchar or bpchar have none); char(n)
		 * pads, so to or from it is a rewrite that loses nothing */
		long la = xt || !a->nmods ? -1 : a->mods[0], lb = yt || !b->nmods ? -1 : b->mods[0];
		if (lb >= 0 && (la < 0 || lb < la))
			return CHANGE_NARROW;
		if ((xv || xt) && (yv || yt))
			return CHANGE_SAFE;
		/* char(n) to char(m >= n) pads more: a rewrite; to unbounded bpchar, a relabel */
		return xc && yc && (la == lb || lb < 0) ? CHANGE_SAFE : CHANGE_REWRITE;
	}
	if (!strcmp(x, "numeric") && !strcmp(y, "numeric")) {
		if (!b->nmods)
			return CHANGE_SAFE;
		if (!a->nmods)
			return CHANGE_NARROW;
		/* numeric(p) is numeric(p,0); it narrows with fewer decimals or
		 * fewer digits before the point (p - s), whatever p does */
		int ap = a->mods[0], as = a->nmods > 1 ? a->mods[1] : 0;
		int bp = b->mods[0], bs = b->nmods > 1 ? b->mods[1] : 0;
		if (bs < as || bp - bs < ap - as)
			return CHANGE_NARROW;
		return bs == as ? CHANGE_SAFE : CHANGE_REWRITE;
	}
	if (!strcmp(x, "varbit") && !strcmp(y, "varbit"))
		return !b->nmods || (a->nmods && b->mods[0] >= a->mods[0]) ? CHANGE_SAFE : CHANGE_NARROW;
	if (!strcmp(x, "cidr") && !strcmp(y, "inet"))
		return CHANGE_SAFE;
	if (!strcmp(x, y) && a->nmods == b->nmods && !memcmp(a->mods, b->mods, sizeof a->mods))
		return CHANGE_SAFE;
	static const char *const order[][3] = { { "int2", "int4", "int8" }, { "float4", "float8", "" } };
	for (size_t i = 0; i < 2; i++) {
		int px = -1, py = -1;
		for (int k = 0; k < 3; k++) {
			if (!strcmp(order[i][k], x))
				px = k;
			if (!strcmp(order[i][k], y))
				py = k;
		}
		if (px >= 0 && py >= 0)
			return py < px ? CHANGE_NARROW : CHANGE_REWRITE;
	}
	if ((!strcmp(x, "timestamptz") || !strcmp(x, "timestamp")) && !strcmp(y, "date"))
		return CHANGE_NARROW;
	return CHANGE_REWRITE;
}

/* typ_text spells a type with its modifiers: varchar(10), numeric(10,2) */
static char *typ_text(const struct typ *t)
{
	if (!t->nmods)
		return xstrdup(t->name);
	if (t->nmods == 1)
		return xstrfmt("%s(%d)", t->name, t->mods[0]);
	return xstrfmt("%s(%d,%d)", t->name, t->mods[0], t->mods[1]);
}

/* path_own tells whether the migration changed what an unqualified name
 * finds (SET search_path, SET ROLE): the target's session, which the
 * catalog look-ups go through, does not know it */
static int path_own(const struct lctx *c)
{
	return c->path_line || c->role || c->session_role;
}

/* rel_at asks the target for the kind of the relation rv names
 * (pg_class.relkind) and fills nsp with the schema that holds it: an
 * unqualified name looked up as the server would, through the session's
 * search_path, or the one the migration set (pg_temp first, then the
 * schemas that may exist); 0 when it cannot tell (no target, not there yet) */
static int rel_at(struct lctx *c, const RangeVar *rv, char *nsp, size_t len)
{
	const struct lint_catalog *cat = c->o->cat;
	const char *schema, *name = rv_name(rv, &schema);
	if (!cat || !cat->relation || !name || rv_temp(rv) || is_new(c, rv))
		return 0;
	if (schema || !path_own(c))
		return cat->relation(cat->arg, schema, name, nsp, len);
	int kind = cat->relation(cat->arg, "pg_temp", name, nsp, len);
	for (size_t i = 0; !kind && i < c->npath; i++)
		if (*c->path[i].name)
			kind = cat->relation(cat->arg, c->path[i].name, name, nsp, len);
	return kind;
}

/* lookup_schema is the schema to ask the target about for the table rv
 * names: as written, NULL for the session's search_path, or the one
 * rel_at finds through the migration's own (nsp); *lost when that finds
 * none (the target's session would look elsewhere: nothing is known) */
static const char *lookup_schema(struct lctx *c, const RangeVar *rv, char *nsp, size_t len, int *lost)
{
	const char *schema;
	rv_name(rv, &schema);
	*lost = 0;
	if (schema || !path_own(c))
		return schema;
	*lost = !rel_at(c, rv, nsp, len);
	return nsp;
}

/* old_type asks the target for the column's type; -1 when it cannot */
static int old_type(struct lctx *c, const AlterTableCmd *cmd, struct typ *t)
{
	const struct lint_catalog *cat = c->o->cat;
	const char *ignored, *table = rv_name(stmt_relation(c), &ignored);
	char name[64], nsp[NAMEDATALEN];
	int typmod, lost;
	if (!cat || !cat->column_type || !table || !cmd->name)
		return -1;
	const char *schema = lookup_schema(c, stmt_relation(c), nsp, sizeof nsp, &lost);
	if (lost || cat->column_type(cat->arg, schema, table, cmd->name, name, sizeof name, &typmod))
		return -1;
	typ_from_catalog(t, name, typmod);
	return 0;
}

static void type_cmds(struct lctx *c, const struct lint_rule_info *ri, int narrow)
{
	if (!alter_table(c) || is_new(c, stmt_relation(c)))
		return;
	int at = 0;
	const AlterTableCmd *cmd;
	while ((cmd = cmd_of(alter_table(c), AT_AlterColumnType, &at))) {
		const ColumnDef *cd = cmd_coldef(cmd);
		struct typ b, a;
		int known = typ_parse(cd ? cd->typeName : NULL, &b) == 0 && old_type(c, cmd, &a) == 0;
		int what = known ? type_change(&a, &b) : CHANGE_REWRITE;
		if (known && cd->raw_default)
			what = what == CHANGE_SAFE ? CHANGE_REWRITE : what; /* USING: an expression per row */
		if (narrow && what == CHANGE_NARROW) {
			char *from = typ_text(&a), *to = typ_text(&b);
			report(c, ri, "check that every value fits first; declare it in meta.yml",
			       "narrows column \"%s\" from %s to %s: longer values make it fail, or lose precision",
			       cmd->name, from, to);
			free(from);
			free(to);
		}
		else if (!narrow && what != CHANGE_SAFE)
			report(c, ri,
			       "add a new column, backfill it in batches and switch over; or do it in a maintenance window",
			       "changes the type of column \"%s\": the table is rewritten (or scanned) under an ACCESS "
			       "EXCLUSIVE lock%s",
			       cmd->name,
			       known	     ? ""
			       : c->o->cat ? " (its current type could not be read from the target; assumed not safe)"
					     : " (its current type is unknown without a connected target; assumed not safe)");
		if (what != CHANGE_SAFE)
			return;
	}
}

static void r_narrowing(struct lctx *c, const struct lint_rule_info *ri)
{
	type_cmds(c, ri, 1);
}

static void r_changing_type(struct lctx *c, const struct lint_rule_info *ri)
{
	type_cmds(c, ri, 0);
}

/* ---- locking */

/* A partitioned table (the target says so) takes no CONCURRENTLY: its index
 * ON ONLY the parent is catalog rows alone (invalid until an index of each
 * partition is attached), and one that recurses builds them all, blocking
 * writes to every partition. */
static void r_index_create(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->tag != T_IndexStmt)
		return;
	const IndexStmt *ix = (const IndexStmt *)c->node;
	if (ix->concurrent || is_new(c, ix->relation))
		return;
	char nsp[NAMEDATALEN];
	if (rel_at(c, ix->relation, nsp, sizeof nsp) == 'p') {
		if (ix->relation->inh)
			report(c, ri,
			       "create it ON ONLY the parent, then CREATE INDEX CONCURRENTLY on each partition (in "
			       "migrations with `transactional: false`) and ALTER INDEX ... ATTACH PARTITION each to it",
			       "CREATE INDEX on a partitioned table builds the index of every partition, blocking writes to "
			       "them all (PostgreSQL builds no partitioned index CONCURRENTLY)");
		return;
	}
	report(c, ri, "use CREATE INDEX CONCURRENTLY in a migration of its own with `transactional: false` in meta.yml",
	       "CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds");
}

static void r_index_drop(struct lctx *c, const struct lint_rule_info *ri)
{
	const DropStmt *d = drop_of(c, OBJECT_INDEX);
	if (!d || d->concurrent)
		return;
	const ListCell *lc;
	foreach (lc, d->objects) {
		struct touched t;
		if (obj_touched(lfirst(lc), OBJECT_INDEX, 0, &t) &&
		    !created_in(c, &c->created_idx, t.schema, t.name)) {
			report(c, ri, "use DROP INDEX CONCURRENTLY in a migration with `transactional: false`",
			       "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table");
			return;
		}
	}
}

static void r_reindex(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->tag == T_ReindexStmt && !reindex_concurrent((const ReindexStmt *)c->node) &&
	    !(stmt_relation(c) && is_new(c, stmt_relation(c))))
		report(c, ri,
		       c->version >= 120000
			       ? "use REINDEX CONCURRENTLY in a migration with `transactional: false`"
			       : "REINDEX CONCURRENTLY needs PostgreSQL 12; run it in a maintenance window",
		       "REINDEX without CONCURRENTLY blocks writes (and reads that use the index) while it runs");
}

typedef void (*constraint_fn)(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con,
			      const AlterTableCmd *cmd);

/* each_constraint calls fn for every constraint an ALTER TABLE on an existing table adds */
static void each_added_constraint(struct lctx *c, constraint_fn fn, const struct lint_rule_info *ri)
{
	if (!alter_table(c) || is_new(c, stmt_relation(c)))
		return;
	int at = 0;
	const AlterTableCmd *cmd;
	while ((cmd = cmd_of(alter_table(c), -1, &at))) {
		if (cmd->subtype == AT_AddConstraint || cmd->subtype == AT_AddConstraintRecurse) {
			if (cmd_constraint(cmd))
				fn(c, ri, cmd_constraint(cmd), cmd);
		} else if (cmd->subtype == AT_AddColumn && cmd_coldef(cmd)) {
			const ListCell *lc;
			foreach (lc, cmd_coldef(cmd)->constraints)
				if (IsA(lfirst(lc), Constraint))
					fn(c, ri, lfirst(lc), cmd);
		}
	}
}

static void fk_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con, const AlterTableCmd *cmd)
{
	(void)cmd;
	if (con->contype == CONSTR_FOREIGN && !con->skip_validation)
		report(c, ri, "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
		       "adding a foreign key validates every row while both tables are locked against writes");
}

static void r_fk(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, fk_one, ri);
}

static void check_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con,
		      const AlterTableCmd *cmd)
{
	(void)cmd;
	if (con->contype == CONSTR_CHECK && !con->skip_validation)
		report(c, ri, "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
		       "adding a CHECK constraint scans the whole table under an ACCESS EXCLUSIVE lock");
}

static void r_not_valid(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, check_one, ri);
	/* VALIDATE in the same transaction as the NOT VALID add gains nothing */
	if (!c->o->transactional || !alter_table(c))
		return;
	int at = 0;
	const AlterTableCmd *cmd;
	const char *schema, *table = rv_name(stmt_relation(c), &schema);
	while ((cmd = cmd_of(alter_table(c), AT_ValidateConstraint, &at))) {
		char *key = xstrfmt("%s.%s", table ? table : "", cmd->name ? cmd->name : "");
		int hit = names_has(&c->not_valid, resolve(c, schema), key);
		free(key);
		if (hit) {
			report(c, ri, "validate it in a later migration, after the NOT VALID one has committed",
			       "VALIDATE CONSTRAINT \"%s\" in the same transaction as its NOT VALID add holds the "
			       "add's ACCESS EXCLUSIVE lock during the validation",
			       cmd->name);
			return;
		}
	}
}

static void r_set_not_null(struct lctx *c, const struct lint_rule_info *ri)
{
	if (!alter_table(c) || is_new(c, stmt_relation(c)))
		return;
	int at = 0;
	const AlterTableCmd *cmd = cmd_of(alter_table(c), AT_SetNotNull, &at);
	if (!cmd)
		return;
	const struct lint_catalog *cat = c->o->cat;
	const char *ignored, *table = rv_name(stmt_relation(c), &ignored);
	int has = -1; /* no target to ask */
	if (cat && cat->has_notnull_check && table && cmd->name) {
		char nsp[NAMEDATALEN];
		int lost;
		const char *schema = lookup_schema(c, stmt_relation(c), nsp, sizeof nsp, &lost);
		has = lost ? 0 : cat->has_notnull_check(cat->arg, schema, table, cmd->name);
	}
	if (has == 1)
		return;
	report(c, ri,
	       "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL (which "
	       "uses the check)",
	       "SET NOT NULL on column \"%s\" scans the whole table under an ACCESS EXCLUSIVE lock%s",
	       cmd->name, has < 0 ? " (no target connected to look for a validated CHECK)" : "");
}

/* expr_volatility finds a function call in an expression: 'v' when one is
 * volatile; *unknown when one's volatility is not known. A column default is
 * a b_expr; the walk descends into every node kind one can hold (subqueries
 * included: the server refuses them later, lint need not). */
static int expr_volatility(struct lctx *c, const void *e, int *unknown);

static int list_volatility(struct lctx *c, const List *l, int *unknown)
{
	const ListCell *lc;
	foreach (lc, l)
		if (expr_volatility(c, lfirst(lc), unknown) == 'v')
			return 'v';
	return 0;
}

#define VOL(x)                                                    \
	do {                                                      \
		if (expr_volatility(c, (x), unknown) == 'v')      \
			return 'v';                               \
	} while (0)

static int expr_volatility(struct lctx *c, const void *e, int *unknown)
{
	const Node *n = e;
	if (!n)
		return 0;
	switch (nodeTag(n)) {
	case T_List:
		return list_volatility(c, (const List *)n, unknown);
	case T_FuncCall: {
		const FuncCall *fc = (const FuncCall *)n;
		const struct lint_catalog *cat = c->o->cat;
		struct touched t;
		int v = 0;
		if (names_touched(fc->funcname, 0, 0, &t) && cat && cat->volatility) {
			if (t.schema || !path_own(c)) {
				v = cat->volatility(cat->arg, t.schema, t.name);
			} else {
				/* the server looks in pg_catalog first unless the path names it */
				int listed = 0;
				for (size_t i = 0; i < c->npath; i++)
					listed |= !strcmp(c->path[i].name, "pg_catalog");
				if (!listed)
					v = cat->volatility(cat->arg, "pg_catalog", t.name);
				for (size_t i = 0; !v && i < c->npath; i++)
					if (*c->path[i].name && strcmp(c->path[i].name, "pg_temp") != 0)
						v = cat->volatility(cat->arg, c->path[i].name, t.name);
			}
		}
		if (v == 'v')
			return 'v';
		if (!v)
			*unknown = 1;
		VOL(fc->args);
		VOL(fc->agg_order);
		VOL(fc->agg_filter);
		VOL(fc->over);
		return 0;
	}
	case T_A_Expr:
		VOL(((const A_Expr *)n)->lexpr);
		return expr_volatility(c, ((const A_Expr *)n)->rexpr, unknown);
	case T_BoolExpr:
		return expr_volatility(c, ((const BoolExpr *)n)->args, unknown);
	case T_TypeCast:
		VOL(((const TypeCast *)n)->arg);
		return expr_volatility(c, ((const TypeCast *)n)->typeName, unknown);
	case T_TypeName:
		VOL(((const TypeName *)n)->typmods);
		return expr_volatility(c, ((const TypeName *)n)->arrayBounds, unknown);
	case T_CollateClause:
		return expr_volatility(c, ((const CollateClause *)n)->arg, unknown);
	case T_NullTest:
		return expr_volatility(c, ((const NullTest *)n)->arg, unknown);
	case T_BooleanTest:
		return expr_volatility(c, ((const BooleanTest *)n)->arg, unknown);
	case T_CaseExpr:
		VOL(((const CaseExpr *)n)->arg);
		VOL(((const CaseExpr *)n)->args);
		return expr_volatility(c, ((const CaseExpr *)n)->defresult, unknown);
	case T_CaseWhen:
		VOL(((const CaseWhen *)n)->expr);
		return expr_volatility(c, ((const CaseWhen *)n)->result, unknown);
	case T_CoalesceExpr:
		return expr_volatility(c, ((const CoalesceExpr *)n)->args, unknown);
	case T_MinMaxExpr:
		return expr_volatility(c, ((const MinMaxExpr *)n)->args, unknown);
	case T_RowExpr:
		return expr_volatility(c, ((const RowExpr *)n)->args, unknown);
	case T_A_ArrayExpr:
		return expr_volatility(c, ((const A_ArrayExpr *)n)->elements, unknown);
	case T_A_Indirection:
		VOL(((const A_Indirection *)n)->arg);
		return expr_volatility(c, ((const A_Indirection *)n)->indirection, unknown);
	case T_A_Indices:
		VOL(((const A_Indices *)n)->lidx);
		return expr_volatility(c, ((const A_Indices *)n)->uidx, unknown);
	case T_NamedArgExpr:
		return expr_volatility(c, ((const NamedArgExpr *)n)->arg, unknown);
	case T_GroupingFunc:
		return expr_volatility(c, ((const GroupingFunc *)n)->args, unknown);
	case T_XmlExpr:
		VOL(((const XmlExpr *)n)->named_args);
		return expr_volatility(c, ((const XmlExpr *)n)->args, unknown);
	case T_XmlSerialize:
		VOL(((const XmlSerialize *)n)->expr);
		return expr_volatility(c, ((const XmlSerialize *)n)->typeName, unknown);
	case T_SubLink:
		VOL(((const SubLink *)n)->testexpr);
		return expr_volatility(c, ((const SubLink *)n)->subselect, unknown);
	case T_SelectStmt: {
		const SelectStmt *q = (const SelectStmt *)n;
		VOL(q->distinctClause);
		VOL(q->targetList);
		VOL(q->fromClause);
		VOL(q->whereClause);
		VOL(q->groupClause);
		VOL(q->havingClause);
		VOL(q->windowClause);
		VOL(q->valuesLists);
		VOL(q->sortClause);
		VOL(q->limitOffset);
		VOL(q->limitCount);
		VOL(q->withClause);
		VOL(q->larg);
		return expr_volatility(c, q->rarg, unknown);
	}
	case T_ResTarget:
		VOL(((const ResTarget *)n)->indirection);
		return expr_volatility(c, ((const ResTarget *)n)->val, unknown);
	case T_MultiAssignRef:
		return expr_volatility(c, ((const MultiAssignRef *)n)->source, unknown);
	case T_SortBy:
		return expr_volatility(c, ((const SortBy *)n)->node, unknown);
	case T_WindowDef:
		VOL(((const WindowDef *)n)->partitionClause);
		VOL(((const WindowDef *)n)->orderClause);
		VOL(((const WindowDef *)n)->startOffset);
		return expr_volatility(c, ((const WindowDef *)n)->endOffset, unknown);
	case T_GroupingSet:
		return expr_volatility(c, ((const GroupingSet *)n)->content, unknown);
	case T_WithClause:
		return expr_volatility(c, ((const WithClause *)n)->ctes, unknown);
	case T_CommonTableExpr:
		return expr_volatility(c, ((const CommonTableExpr *)n)->ctequery, unknown);
	case T_JoinExpr:
		VOL(((const JoinExpr *)n)->larg);
		VOL(((const JoinExpr *)n)->rarg);
		return expr_volatility(c, ((const JoinExpr *)n)->quals, unknown);
	case T_RangeSubselect:
		return expr_volatility(c, ((const RangeSubselect *)n)->subquery, unknown);
	case T_RangeFunction:
		VOL(((const RangeFunction *)n)->functions);
		return expr_volatility(c, ((const RangeFunction *)n)->coldeflist, unknown);
	case T_RangeTableSample:
		VOL(((const RangeTableSample *)n)->relation);
		VOL(((const RangeTableSample *)n)->args);
		return expr_volatility(c, ((const RangeTableSample *)n)->repeatable, unknown);
	case T_RangeTableFunc:
		VOL(((const RangeTableFunc *)n)->docexpr);
		VOL(((const RangeTableFunc *)n)->rowexpr);
		VOL(((const RangeTableFunc *)n)->namespaces);
		return expr_volatility(c, ((const RangeTableFunc *)n)->columns, unknown);
	case T_RangeTableFuncCol:
		VOL(((const RangeTableFuncCol *)n)->typeName);
		VOL(((const RangeTableFuncCol *)n)->colexpr);
		return expr_volatility(c, ((const RangeTableFuncCol *)n)->coldefexpr, unknown);
	case T_ColumnDef:
		VOL(((const ColumnDef *)n)->typeName);
		return expr_volatility(c, ((const ColumnDef *)n)->raw_default, unknown);
	default:
		return 0; /* constants, column and parameter references, names: no calls */
	}
}

#undef VOL

static const char *cmd_colname(const AlterTableCmd *cmd)
{
	return cmd_coldef(cmd) ? cmd_coldef(cmd)->colname : NULL;
}

static void default_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con,
			const AlterTableCmd *cmd)
{
	if (cmd->subtype != AT_AddColumn || con->contype != CONSTR_DEFAULT)
		return;
	int unknown = 0;
	if (c->version && c->version < 110000)
		report(c, ri, "add the column without a default, then set the default and backfill in batches",
		       "before PostgreSQL 11 a column added with a default rewrites the table under an ACCESS "
		       "EXCLUSIVE lock");
	else if (expr_volatility(c, con->raw_expr, &unknown) == 'v')
		report(c, ri, "add the column without a default, then set the default and backfill in batches",
		       "the default of column \"%s\" calls a volatile function: the table is rewritten under an "
		       "ACCESS EXCLUSIVE lock",
		       cmd_colname(cmd));
	else if (unknown)
		report(c, ri, "connect a target (plan does) so lint can read the function's volatility from pg_proc",
		       "the default of column \"%s\" calls a function whose volatility is unknown: if it is volatile, "
		       "the table is rewritten",
		       cmd_colname(cmd));
}

static void r_volatile_default(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, default_one, ri);
}

static void identity_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con,
			 const AlterTableCmd *cmd)
{
	if (cmd->subtype == AT_AddColumn && con->contype == CONSTR_IDENTITY)
		report(c, ri, "add a plain column, fill it in batches, then make it an identity",
		       "adding an identity column rewrites the table under an ACCESS EXCLUSIVE lock");
}

static void r_identity(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, identity_one, ri);
}

static void generated_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con,
			  const AlterTableCmd *cmd)
{
	if (cmd->subtype == AT_AddColumn && con->contype == CONSTR_GENERATED)
		report(c, ri, "add a plain column with a trigger, fill it in batches",
		       "adding a stored generated column rewrites the table under an ACCESS EXCLUSIVE lock");
}

static void r_generated(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, generated_one, ri);
}

static int is_serial(const char *t)
{
	static const char *const s[] = { "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2" };
	for (size_t i = 0; t && i < sizeof s / sizeof s[0]; i++)
		if (!strcmp(t, s[i]))
			return 1;
	return 0;
}

static void r_serial(struct lctx *c, const struct lint_rule_info *ri)
{
	if (!alter_table(c) || is_new(c, stmt_relation(c)))
		return;
	int at = 0;
	const AlterTableCmd *cmd;
	while ((cmd = cmd_of(alter_table(c), AT_AddColumn, &at))) {
		struct typ t;
		const ColumnDef *cd = cmd_coldef(cmd);
		if (typ_parse(cd ? cd->typeName : NULL, &t) == 0 && is_serial(t.name)) {
			report(c, ri, "add a plain column, fill it in batches, then attach a sequence or identity",
			       "adding a %s column fills every row from a sequence: the table is rewritten", t.name);
			return;
		}
	}
}

static void pk_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con, const AlterTableCmd *cmd)
{
	(void)cmd;
	if (con->contype == CONSTR_PRIMARY && !con->indexname)
		report(c, ri, "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD PRIMARY KEY USING INDEX",
		       "ADD PRIMARY KEY builds its index under an ACCESS EXCLUSIVE lock");
}

static void r_pk(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, pk_one, ri);
}

static void unique_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con,
		       const AlterTableCmd *cmd)
{
	(void)cmd;
	if (con->contype == CONSTR_UNIQUE && !con->indexname)
		report(c, ri, "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX",
		       "ADD UNIQUE builds its index under an ACCESS EXCLUSIVE lock");
}

static void r_unique(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, unique_one, ri);
}

static void exclusion_one(struct lctx *c, const struct lint_rule_info *ri, const Constraint *con,
			  const AlterTableCmd *cmd)
{
	(void)cmd;
	if (con->contype == CONSTR_EXCLUSION)
		report(c, ri,
		       "there is no concurrent way: add it in a maintenance window, or when the table is created",
		       "adding an EXCLUDE constraint builds its index under an ACCESS EXCLUSIVE lock");
}

static void r_exclusion(struct lctx *c, const struct lint_rule_info *ri)
{
	each_added_constraint(c, exclusion_one, ri);
}

static void r_vacuum_full(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->tag == T_VacuumStmt && has_defelem(((const VacuumStmt *)c->node)->options, "full"))
		report(c, ri, "run plain VACUUM, or a tool that repacks online, outside migrations",
		       "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock");
}

static void r_cluster(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->tag == T_ClusterStmt && !is_new(c, stmt_relation(c)))
		report(c, ri, "run it in a maintenance window, outside migrations",
		       "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock");
}

static void r_refresh(struct lctx *c, const struct lint_rule_info *ri)
{
	if (c->tag == T_RefreshMatViewStmt && !((const RefreshMatViewStmt *)c->node)->concurrent &&
	    !is_new(c, stmt_relation(c)))
		report(c, ri, "give the view a unique index and use REFRESH MATERIALIZED VIEW CONCURRENTLY",
		       "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks every read of the view");
}

static void r_detach(struct lctx *c, const struct lint_rule_info *ri)
{
	int at = 0;
	const AlterTableCmd *cmd;
	while ((cmd = cmd_of(alter_table(c), AT_DetachPartition, &at)))
		if (!detach_concurrent(cmd)) {
			report(c, ri,
			       c->version >= 140000
				       ? "use DETACH PARTITION ... CONCURRENTLY with `transactional: false`"
				       : "DETACH PARTITION CONCURRENTLY needs PostgreSQL 14",
			       "DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the parent");
			return;
		}
}

/* The statements that take an ACCESS EXCLUSIVE lock on an existing table,
 * as PostgreSQL's docs list them (explicit locking: DROP TABLE, TRUNCATE,
 * REINDEX, CLUSTER, VACUUM FULL, REFRESH MATERIALIZED VIEW without
 * CONCURRENTLY, most forms of ALTER TABLE and ALTER INDEX, LOCK TABLE
 * without a mode; DROP INDEX without CONCURRENTLY locks its table), each
 * with a function that says which (a phrase for the message, the caller's)
 * or NULL. VACUUM FULL is not here: it cannot run in the transaction this
 * rule is about. */
typedef char *(*ax_fn)(struct lctx *c);

/* ax_rel names a relation the statement locks unless it is new in this migration */
static char *ax_rel(struct lctx *c, const RangeVar *rv)
{
	const char *schema, *name = rv_name(rv, &schema);
	return name && !is_new(c, rv) && !created_in(c, &c->created_idx, schema, name) ? xstrfmt("\"%s\"", name)
										      : NULL;
}

/* options_light tells whether SET (...) / RESET (...) of these storage
 * parameters takes SHARE UPDATE EXCLUSIVE: PostgreSQL's reloptions.c gives
 * that lock to the table's fillfactor, autovacuum and vacuum settings,
 * toast_tuple_target, parallel_workers, a b-tree's fillfactor and
 * deduplicate_items, the other index methods' fillfactor, and every
 * toast.* one; a view's options, user_catalog_table, GIN's fastupdate and
 * gin_pending_list_limit, BRIN's pages_per_range and autosummarize, GiST's
 * buffering, and any it does not know take ACCESS EXCLUSIVE */
static int options_light(const List *opts)
{
	static const char *const light[] = { "fillfactor",	   "toast_tuple_target",	 "parallel_workers",
					     "vacuum_index_cleanup", "vacuum_truncate",		 "deduplicate_items",
					     "log_autovacuum_min_duration", "vacuum_cleanup_index_scale_factor" };
	const ListCell *lc;
	foreach (lc, opts) {
		const DefElem *d = lfirst(lc);
		if (!IsA(d, DefElem) || !d->defname)
			return 0;
		if (d->defnamespace && !strcmp(d->defnamespace, "toast"))
			continue;
		int ok = !strncmp(d->defname, "autovacuum_", 11);
		for (size_t i = 0; !ok && i < sizeof light / sizeof light[0]; i++)
			ok = !strcmp(d->defname, light[i]);
		if (!ok)
			return 0;
	}
	return 1;
}

static char *ax_alter_table(struct lctx *c)
{
	/* SHARE UPDATE EXCLUSIVE (and, for triggers, SHARE ROW EXCLUSIVE): AlterTableGetLockLevel */
	static const AlterTableType lighter[] = { AT_ValidateConstraint, AT_SetStatistics, AT_AttachPartition,
						  AT_ClusterOn,		 AT_DropCluster,   AT_SetOptions,
						  AT_ResetOptions,	 AT_EnableTrig,	   AT_EnableAlwaysTrig,
						  AT_EnableReplicaTrig,	 AT_DisableTrig,   AT_EnableTrigAll,
						  AT_DisableTrigAll,	 AT_EnableTrigUser, AT_DisableTrigUser };
	int at = 0, ax = 0;
	const AlterTableCmd *cmd;
	while ((cmd = cmd_of(alter_table(c), -1, &at))) {
		int light = 0;
		for (size_t i = 0; i < sizeof lighter / sizeof lighter[0]; i++)
			light |= cmd->subtype == lighter[i];
		if (cmd->subtype == AT_SetRelOptions || cmd->subtype == AT_ResetRelOptions)
			light = options_light((const List *)cmd->def);
		light |= cmd_constraint(cmd) && cmd_constraint(cmd)->contype == CONSTR_FOREIGN;
		light |= cmd->subtype == AT_DetachPartition && detach_concurrent(cmd);
		ax |= !light;
	}
	return ax ? ax_rel(c, stmt_relation(c)) : NULL;
}

static char *ax_relation(struct lctx *c)
{
	return ax_rel(c, stmt_relation(c));
}

static char *ax_first_of(struct lctx *c, const List *rels)
{
	return ax_rel(c, (const RangeVar *)nth(rels, 0));
}

static char *ax_policy(struct lctx *c)
{
	return ax_rel(c, c->tag == T_CreatePolicyStmt ? ((const CreatePolicyStmt *)c->node)->table
						      : ((const AlterPolicyStmt *)c->node)->table);
}

/* CREATE TABLE ... PARTITION OF locks its parent ACCESS EXCLUSIVE */
static char *ax_partition_of(struct lctx *c)
{
	const CreateStmt *cs = (const CreateStmt *)c->node;
	return cs->partbound ? ax_first_of(c, cs->inhRelations) : NULL;
}

static char *ax_truncate(struct lctx *c)
{
	return ax_first_of(c, ((const TruncateStmt *)c->node)->relations);
}

static char *ax_lock(struct lctx *c)
{
	const LockStmt *l = (const LockStmt *)c->node;
	return l->mode == 8 /* AccessExclusiveLock */ ? ax_first_of(c, l->relations) : NULL;
}

static char *ax_refresh(struct lctx *c)
{
	return ((const RefreshMatViewStmt *)c->node)->concurrent ? NULL : ax_relation(c);
}

static char *ax_reindex(struct lctx *c)
{
	const ReindexStmt *r = (const ReindexStmt *)c->node;
	if (reindex_concurrent(r) || !r->relation)
		return NULL; /* SCHEMA, DATABASE, SYSTEM cannot run in a transaction */
	if (r->kind != REINDEX_OBJECT_INDEX)
		return ax_relation(c);
	return created_in(c, &c->created_idx, r->relation->schemaname, r->relation->relname)
		       ? NULL
		       : xstrfmt("the table of index \"%s%s%s\"", r->relation->schemaname ? r->relation->schemaname : "",
				 r->relation->schemaname ? "." : "", r->relation->relname);
}

/* DROP TABLE and DROP INDEX: the first one named that this migration did not create */
static char *ax_drop(struct lctx *c)
{
	const DropStmt *d = (const DropStmt *)c->node;
	int index = d->removeType == OBJECT_INDEX;
	if ((!index && d->removeType != OBJECT_TABLE) || d->concurrent)
		return NULL;
	const ListCell *lc;
	foreach (lc, d->objects) {
		struct touched t;
		if (!obj_touched(lfirst(lc), d->removeType, 0, &t))
			continue;
		if (created_in(c, index ? &c->created_idx : &c->created, t.schema, t.name))
			continue;
		return xstrfmt("%s\"%s%s%s\"", index ? "the table of index " : "", t.schema ? t.schema : "",
			       t.schema ? "." : "", t.name);
	}
	return NULL;
}

static const struct {
	NodeTag tag;
	ax_fn fn;
} ax_keys[] = {
	{ T_AlterTableStmt, ax_alter_table }, { T_RenameStmt, ax_relation }, { T_ClusterStmt, ax_relation },
	{ T_TruncateStmt, ax_truncate },      { T_LockStmt, ax_lock },	      { T_DropStmt, ax_drop },
	{ T_RefreshMatViewStmt, ax_refresh }, { T_ReindexStmt, ax_reindex },
	{ T_CreatePolicyStmt, ax_policy },    { T_AlterPolicyStmt, ax_policy }, { T_CreateStmt, ax_partition_of },
};

/* takes_access_exclusive names what the statement locks ACCESS EXCLUSIVE (the caller's), or NULL */
static char *takes_access_exclusive(struct lctx *c)
{
	for (size_t i = 0; i < sizeof ax_keys / sizeof ax_keys[0]; i++)
		if (ax_keys[i].tag == c->tag)
			return ax_keys[i].fn(c);
	return NULL;
}

static void r_after_ax(struct lctx *c, const struct lint_rule_info *ri)
{
	if (!c->o->transactional)
		return;
	int trivial = c->tag == T_VariableSetStmt || c->tag == T_CommentStmt;
	if (c->ax_table && !c->ax_reported && !trivial) {
		c->ax_reported = 1;
		report(c, ri, "put the statement that takes the lock last, or in a migration of its own",
		       "runs while the ACCESS EXCLUSIVE lock on %s taken at line %d is held: every query on that "
		       "table waits until the migration commits",
		       c->ax_table, c->ax_line);
	}
	if (!c->ax_table && (c->ax_table = takes_access_exclusive(c))) {
		int col;
		advance(c, c->stmt_off, &c->ax_line, &col);
	}
}

/* ---- style */

typedef void (*coldef_fn)(struct lctx *c, const struct lint_rule_info *ri, const ColumnDef *cd, int key);

/* each_coldef calls fn for every column a statement defines (CREATE TABLE, ADD COLUMN) */
static void each_coldef(struct lctx *c, const struct lint_rule_info *ri, coldef_fn fn)
{
	if (c->tag == T_CreateStmt) {
		const List *elts = ((const CreateStmt *)c->node)->tableElts;
		const ListCell *lc, *k, *m;
		/* table-level PRIMARY KEY (a, b) makes those columns keys */
		foreach (lc, elts) {
			const ColumnDef *cd = lfirst(lc);
			if (!IsA(cd, ColumnDef))
				continue;
			int key = 0;
			foreach (k, cd->constraints) {
				const Constraint *con = lfirst(k);
				key |= IsA(con, Constraint) && con->contype == CONSTR_PRIMARY;
			}
			foreach (k, elts) {
				const Constraint *con = lfirst(k);
				if (!IsA(con, Constraint) || con->contype != CONSTR_PRIMARY)
					continue;
				foreach (m, con->keys)
					key |= cd->colname && sval(lfirst(m)) && !strcmp(sval(lfirst(m)), cd->colname);
			}
			fn(c, ri, cd, key);
		}
	} else if (alter_table(c)) {
		int at = 0;
		const AlterTableCmd *cmd;
		while ((cmd = cmd_of(alter_table(c), -1, &at))) {
			const ColumnDef *cd = cmd_coldef(cmd);
			if (cd && (cmd->subtype == AT_AddColumn || cmd->subtype == AT_AlterColumnType))
				fn(c, ri, cd, 0);
		}
	}
}

static const char *colname(const ColumnDef *cd)
{
	return cd->colname ? cd->colname : "?";
}

static void text_one(struct lctx *c, const struct lint_rule_info *ri, const ColumnDef *cd, int key)
{
	struct typ t;
	(void)key;
	if (typ_parse(cd->typeName, &t) == 0 && !strcmp(t.name, "varchar") && t.nmods)
		report(c, ri, "use text (with a CHECK on length() if the limit matters)",
		       "column \"%s\" is varchar(%d): changing the limit later is a migration of its own", colname(cd),
		       t.mods[0]);
}

static void r_prefer_text(struct lctx *c, const struct lint_rule_info *ri)
{
	each_coldef(c, ri, text_one);
}

static void tstz_one(struct lctx *c, const struct lint_rule_info *ri, const ColumnDef *cd, int key)
{
	struct typ t;
	(void)key;
	if (typ_parse(cd->typeName, &t) == 0 && !strcmp(t.name, "timestamp"))
		report(c, ri, "use timestamptz", "column \"%s\" is timestamp without time zone", colname(cd));
}

static void r_prefer_tstz(struct lctx *c, const struct lint_rule_info *ri)
{
	each_coldef(c, ri, tstz_one);
}

static void bigint_one(struct lctx *c, const struct lint_rule_info *ri, const ColumnDef *cd, int key)
{
	struct typ t;
	if (key && typ_parse(cd->typeName, &t) == 0 &&
	    (!strcmp(t.name, "int4") || !strcmp(t.name, "int2") || !strcmp(t.name, "serial") ||
	     !strcmp(t.name, "serial4") || !strcmp(t.name, "smallserial") || !strcmp(t.name, "serial2")))
		report(c, ri, "use bigint for keys", "key column \"%s\" is %s: it can run out", colname(cd), t.name);
}

static void r_prefer_bigint(struct lctx *c, const struct lint_rule_info *ri)
{
	each_coldef(c, ri, bigint_one);
}

static void identity_style_one(struct lctx *c, const struct lint_rule_info *ri, const ColumnDef *cd, int key)
{
	struct typ t;
	(void)key;
	if (typ_parse(cd->typeName, &t) == 0 && is_serial(t.name))
		report(c, ri, "use bigint GENERATED ALWAYS AS IDENTITY", "column \"%s\" is %s", colname(cd), t.name);
}

static void r_prefer_identity(struct lctx *c, const struct lint_rule_info *ri)
{
	each_coldef(c, ri, identity_style_one);
}

/* long_identifier finds an identifier over 63 bytes in the statement's text:
 * the parser has already cut names to 63 bytes, so the tree cannot tell.
 * Literals (quoted, dollar-quoted) and comments are skipped. Returns its
 * length and start, or 0. */
static size_t long_identifier(const char *s, size_t n, size_t *at)
{
	size_t i = 0;
	while (i < n) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (ch == '/' && i + 1 < n && s[i + 1] == '*') {
			int depth = 0;
			do {
				if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			} while (depth > 0 && i < n);
		} else if (ch == '\'') {
			int esc = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
			for (i++; i < n; i++) {
				if (esc && s[i] == '\\') {
					i++;
				} else if (s[i] == '\'') {
					if (i + 1 < n && s[i + 1] == '\'')
						i++;
					else
						break;
				}
			}
			i++;
		} else if (ch == '"') {
			size_t start = i, len = 0;
			for (i++; i < n; i++, len++) {
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"')
						i++;
					else
						break;
				}
			}
			i++;
			if (len > 63) {
				*at = start;
				return len;
			}
		} else if (ch == '$' && (i == 0 || !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))) {
			/* $tag$ ... $tag$, or a parameter $1 */
			size_t t = i + 1;
			while (t < n && (isalnum((unsigned char)s[t]) || s[t] == '_' || (unsigned char)s[t] >= 0x80))
				t++;
			if (t < n && s[t] == '$' && !(t > i + 1 && isdigit((unsigned char)s[i + 1]))) {
				size_t taglen = t + 1 - i;
				size_t k = t + 1;
				while (k + taglen <= n && memcmp(s + k, s + i, taglen) != 0)
					k++;
				i = k + taglen <= n ? k + taglen : n;
			} else {
				i = t;
			}
		} else if (isalpha(ch) || ch == '_' || ch >= 0x80) {
			size_t start = i;
			while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$' ||
					 (unsigned char)s[i] >= 0x80))
				i++;
			if (i - start > 63) {
				*at = start;
				return i - start;
			}
		} else if (isdigit(ch)) {
			while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_'))
				i++;
		} else {
			i++;
		}
	}
	return 0;
}

static void r_long_identifier(struct lctx *c, const struct lint_rule_info *ri)
{
	/* only statements that name new things (every Create* node, and these):
	 * a long name in a reference fails anyway */
	static const NodeTag naming[] = {
		T_CreateStmt, T_CreateFunctionStmt, T_CreateDomainStmt, T_CreatedbStmt, T_CreateTableAsStmt,
		T_CreateSeqStmt, T_CreateTrigStmt, T_CreatePLangStmt, T_CreateRoleStmt, T_CreateSchemaStmt,
		T_CreateConversionStmt, T_CreateCastStmt, T_CreateOpClassStmt, T_CreateOpFamilyStmt,
		T_CreateTableSpaceStmt, T_CreateEnumStmt, T_CreateRangeStmt, T_CreateFdwStmt,
		T_CreateForeignServerStmt, T_CreateUserMappingStmt, T_CreateForeignTableStmt,
		T_CreateExtensionStmt, T_CreateEventTrigStmt, T_CreatePolicyStmt, T_CreateTransformStmt,
		T_CreateAmStmt, T_CreatePublicationStmt, T_CreateSubscriptionStmt, T_CreateStatsStmt,
		T_AlterTableStmt, T_IndexStmt, T_ViewStmt, T_RenameStmt, T_DefineStmt,
	};
	if (c->stmt_len <= 63)
		return; /* no room for a name over 63 bytes */
	size_t i = 0;
	while (i < sizeof naming / sizeof naming[0] && naming[i] != c->tag)
		i++;
	if (i == sizeof naming / sizeof naming[0])
		return;
	size_t at, n = long_identifier(c->text + c->stmt_off, c->stmt_len, &at);
	if (n)
		report(c, ri, "shorten it to 63 bytes or fewer",
		       "an identifier is %zu bytes: PostgreSQL cuts it to 63, so the object gets another name than "
		       "written",
		       n);
}

/* ---------------------------------------------------------------- the rule table */

struct rule {
	struct lint_rule_info info;
	rule_fn fn;
};

static const struct rule rules[] = {
	{ { "protected-schema", LINT_G_PROTECTED, LINT_ERROR,
	    "creates, alters, drops, grants on, comments on or writes objects in a protected schema" },
	  r_protected },
	{ { "transaction-nesting", LINT_G_TRANSACTIONS, LINT_ERROR,
	    "BEGIN, COMMIT, ROLLBACK or SAVEPOINT in a transactional migration" },
	  r_tx_nesting },
	{ { "concurrently-in-transaction", LINT_G_TRANSACTIONS, LINT_ERROR,
	    "CONCURRENTLY (index, reindex, detach) in a transactional migration" },
	  r_concurrently_in_tx },
	{ { "non-transactional-not-rerunnable", LINT_G_TRANSACTIONS, LINT_WARNING,
	    "a non-transactional migration of several statements, one of which cannot run twice" },
	  r_not_rerunnable },
	{ { "ban-drop-schema", LINT_G_DESTRUCTIVE, LINT_WARNING, "DROP SCHEMA" }, r_drop_schema },
	{ { "ban-drop-table", LINT_G_DESTRUCTIVE, LINT_WARNING, "DROP TABLE of a table not created in the migration" },
	  r_drop_table },
	{ { "ban-drop-column", LINT_G_DESTRUCTIVE, LINT_WARNING, "ALTER TABLE ... DROP COLUMN" }, r_drop_column },
	{ { "ban-truncate", LINT_G_DESTRUCTIVE, LINT_WARNING, "TRUNCATE" }, r_truncate },
	{ { "ban-truncate-cascade", LINT_G_DESTRUCTIVE, LINT_WARNING, "TRUNCATE ... CASCADE" }, r_truncate_cascade },
	{ { "ban-delete-without-where", LINT_G_DESTRUCTIVE, LINT_WARNING, "DELETE without WHERE" }, r_delete_no_where },
	{ { "ban-update-without-where", LINT_G_DESTRUCTIVE, LINT_WARNING, "UPDATE without WHERE" }, r_update_no_where },
	{ { "renaming-table", LINT_G_DESTRUCTIVE, LINT_WARNING, "ALTER TABLE ... RENAME TO" }, r_rename_table },
	{ { "renaming-column", LINT_G_DESTRUCTIVE, LINT_WARNING, "ALTER TABLE ... RENAME COLUMN" }, r_rename_column },
	{ { "narrowing-column-type", LINT_G_DESTRUCTIVE, LINT_WARNING,
	    "ALTER COLUMN TYPE to a type that holds less (needs a connected target)" },
	  r_narrowing },
	{ { "require-concurrent-index-creation", LINT_G_LOCKING, LINT_WARNING,
	    "CREATE INDEX without CONCURRENTLY on an existing table" },
	  r_index_create },
	{ { "require-concurrent-index-deletion", LINT_G_LOCKING, LINT_WARNING,
	    "DROP INDEX without CONCURRENTLY of an existing index" },
	  r_index_drop },
	{ { "require-concurrent-reindex", LINT_G_LOCKING, LINT_WARNING, "REINDEX without CONCURRENTLY" }, r_reindex },
	{ { "adding-foreign-key-constraint", LINT_G_LOCKING, LINT_WARNING,
	    "ADD FOREIGN KEY (or a REFERENCES column) without NOT VALID on an existing table" },
	  r_fk },
	{ { "constraint-missing-not-valid", LINT_G_LOCKING, LINT_WARNING,
	    "ADD CHECK without NOT VALID, or VALIDATE in the same transaction as the NOT VALID add" },
	  r_not_valid },
	{ { "adding-not-nullable-field", LINT_G_LOCKING, LINT_WARNING,
	    "SET NOT NULL without a validated CHECK (col IS NOT NULL)" },
	  r_set_not_null },
	{ { "adding-field-with-default", LINT_G_LOCKING, LINT_WARNING,
	    "ADD COLUMN with a volatile default (volatility read from pg_proc)" },
	  r_volatile_default },
	{ { "adding-identity-field", LINT_G_LOCKING, LINT_WARNING, "ADD COLUMN ... GENERATED AS IDENTITY" },
	  r_identity },
	{ { "adding-serial-field", LINT_G_LOCKING, LINT_WARNING, "ADD COLUMN of type serial, bigserial, smallserial" },
	  r_serial },
	{ { "adding-stored-generated-field", LINT_G_LOCKING, LINT_WARNING,
	    "ADD COLUMN ... GENERATED ALWAYS AS (...) STORED" },
	  r_generated },
	{ { "changing-column-type", LINT_G_LOCKING, LINT_WARNING, "ALTER COLUMN TYPE that is not binary-coercible" },
	  r_changing_type },
	{ { "adding-serial-primary-key-field", LINT_G_LOCKING, LINT_WARNING, "ADD PRIMARY KEY without USING INDEX" },
	  r_pk },
	{ { "disallowed-unique-constraint", LINT_G_LOCKING, LINT_WARNING, "ADD UNIQUE without USING INDEX" },
	  r_unique },
	{ { "adding-exclusion-constraint", LINT_G_LOCKING, LINT_WARNING, "ADD CONSTRAINT ... EXCLUDE" }, r_exclusion },
	{ { "ban-vacuum-full", LINT_G_LOCKING, LINT_WARNING, "VACUUM FULL" }, r_vacuum_full },
	{ { "ban-cluster", LINT_G_LOCKING, LINT_WARNING, "CLUSTER" }, r_cluster },
	{ { "require-concurrent-refresh", LINT_G_LOCKING, LINT_WARNING,
	    "REFRESH MATERIALIZED VIEW without CONCURRENTLY" },
	  r_refresh },
	{ { "require-concurrent-detach-partition", LINT_G_LOCKING, LINT_WARNING,
	    "DETACH PARTITION without CONCURRENTLY" },
	  r_detach },
	{ { "statement-after-access-exclusive", LINT_G_LOCKING, LINT_WARNING,
	    "a statement after an ACCESS EXCLUSIVE lock is taken in the same transaction" },
	  r_after_ax },
	{ { "prefer-text-field", LINT_G_STYLE, LINT_OFF, "varchar(n) instead of text" }, r_prefer_text },
	{ { "prefer-timestamptz", LINT_G_STYLE, LINT_OFF, "timestamp without time zone" }, r_prefer_tstz },
	{ { "prefer-bigint-over-int", LINT_G_STYLE, LINT_OFF, "int or smallint primary key columns" },
	  r_prefer_bigint },
	{ { "prefer-identity", LINT_G_STYLE, LINT_OFF, "serial columns instead of identity" }, r_prefer_identity },
	{ { "identifier-too-long", LINT_G_STYLE, LINT_WARNING,
	    "an identifier over 63 bytes in a statement that creates or changes something" },
	  r_long_identifier },
	/* findings lint itself makes (no function: raised by the walk) */
	{ { "lint-allow", LINT_G_LINT, LINT_ERROR,
	    "a `padctl:allow` comment without a reason or naming an unknown rule" },
	  NULL },
	{ { "syntax", LINT_G_LINT, LINT_WARNING,
	    "SQL the parser (PostgreSQL 15's grammar) cannot read: that statement is not checked (the rest of the file "
	    "only after a quote or comment left open, or a psql command)" },
	  NULL },
};

#define NRULES (sizeof rules / sizeof rules[0])

size_t lint_rule_count(void)
{
	return NRULES;
}

const struct lint_rule_info *lint_rule_at(size_t i)
{
	return i < NRULES ? &rules[i].info : NULL;
}

const struct lint_rule_info *lint_rule_find(const char *name)
{
	for (size_t i = 0; name && i < NRULES; i++)
		if (!strcmp(rules[i].info.name, name))
			return &rules[i].info;
	return NULL;
}

const char *lint_severity_name(int s)
{
	return s == LINT_ERROR ? "error" : s == LINT_WARNING ? "warning" : "off";
}

const char *lint_group_name(int g)
{
	static const char *const n[] = { "protected", "transactions", "destructive", "locking", "style", "lint" };
	return g >= 0 && g <= LINT_G_LINT ? n[g] : "?";
}

/* ---------------------------------------------------------------- the walk */

/* read_allows collects the `padctl:allow RULE reason` comments before the statement */
static void read_allows(struct lctx *c, size_t from, size_t to)
{
	static const char tag[] = "padctl:allow";
	const struct lint_rule_info *bad = lint_rule_find("lint-allow");
	for (size_t i = 0; i < c->nallows; i++)
		free(c->allows[i].reason);
	c->nallows = 0;
	for (size_t i = from; i + sizeof tag - 1 <= to; i++) {
		if (c->text[i] != 'p' || strncmp(c->text + i, tag, sizeof tag - 1) != 0)
			continue;
		size_t s = i + sizeof tag - 1, e = s;
		while (e < to && c->text[e] != '\n')
			e++;
		/* a block comment's end is not part of the reason */
		size_t stop = e;
		for (size_t k = s; k + 1 < e; k++)
			if (c->text[k] == '*' && c->text[k + 1] == '/') {
				stop = k;
				break;
			}
		size_t p = s;
		while (p < stop && (c->text[p] == ' ' || c->text[p] == '\t'))
			p++;
		size_t rs = p;
		while (p < stop && c->text[p] != ' ' && c->text[p] != '\t')
			p++;
		char *rule = xstrndup(c->text + rs, p - rs);
		while (p < stop && (c->text[p] == ' ' || c->text[p] == '\t'))
			p++;
		size_t q = stop;
		while (q > p && (c->text[q - 1] == ' ' || c->text[q - 1] == '\t' || c->text[q - 1] == '\r'))
			q--;
		const struct lint_rule_info *ri = lint_rule_find(rule);
		int line, col;
		advance(c, i, &line, &col);
		if (!ri || ri == bad) {
			struct lint_finding f = {
				c->file,
				line,
				col,
				bad->name,
				bad->group,
				LINT_ERROR,
				xstrfmt("`padctl:allow` names no known rule (\"%s\")", rule),
				xstrdup("write `-- padctl:allow RULE reason`; docs/lint.md lists the rules"),
				NULL
			};
			add_finding(c->r, &f);
		} else if (q == p) {
			struct lint_finding f = { c->file,
						  line,
						  col,
						  bad->name,
						  bad->group,
						  LINT_ERROR,
						  xstrfmt("`padctl:allow %s` gives no reason", rule),
						  xstrdup("write why the rule does not apply here after its name"),
						  NULL };
			add_finding(c->r, &f);
		} else if (ri->group == LINT_G_PROTECTED) {
			struct lint_finding f = { c->file,
						  line,
						  col,
						  bad->name,
						  bad->group,
						  LINT_ERROR,
						  xstrdup("protected-schema cannot be allowed"),
						  xstrdup("protected schemas are read-only for migrations"),
						  NULL };
			add_finding(c->r, &f);
		} else if (c->nallows < MAX_ALLOWS) {
			c->allows[c->nallows].rule = ri->name;
			c->allows[c->nallows].reason = xstrndup(c->text + p, q - p);
			c->nallows++;
		}
		free(rule);
		i = e;
	}
}

/* define_one keeps a name a statement creates, where it lands (a
 * temporary table: pg_temp, which the server searches first) */
static int define_one(struct lctx *c, const struct touched *t, const char *verb, void *arg)
{
	(void)verb;
	(void)arg;
	if (t->fresh && t->name) {
		/* by name space: a function t does not hold a later table t
		 * (name_kind); a relation, a table's or a composite type's, has a
		 * row type of its name too (DROP TYPE pair of CREATE TYPE pair AS) */
		const char *schema = t->temp ? "pg_temp" : resolve(c, t->schema);
		char *key = xstrfmt("%c:%s", t->kind, t->name);
		names_add(&c->defined, schema, key);
		if (t->kind == 'r') {
			key[0] = 't';
			names_add(&c->defined, schema, key);
		}
		free(key);
	} else if (!t->name && t->schema && c->tag == T_CreateSchemaStmt) {
		/* a schema this migration creates exists for the statements after it */
		names_add(&c->defined, "", t->schema);
	}
	return 0;
}

/* role_changed points the path's "$user" at the role now in effect */
static void role_changed(struct lctx *c)
{
	const char *who = current_role(c);
	for (size_t i = 0; i < c->npath; i++)
		if (c->path[i].user) {
			free(c->path[i].name);
			c->path[i].name = xstrdup(who ? who : "");
		}
}

/* track_role follows SET ROLE, SET SESSION AUTHORIZATION and their RESET */
static void track_role(struct lctx *c, const VariableSetStmt *vs)
{
	int role = !strcmp(vs->name, "role");
	char **slot = role ? &c->role : &c->session_role;
	const A_Const *a = vs->kind == VAR_SET_VALUE ? (const A_Const *)nth(vs->args, 0) : NULL;
	const char *v = a && IsA(a, A_Const) && !a->isnull && IsA(&a->val, String) ? strVal(&a->val) : NULL;
	free(*slot);
	*slot = v && !(role && !strcmp(v, "none")) ? xstrdup(v) : NULL;
	int col;
	advance(c, c->stmt_off, &c->role_line, &col);
	if (!role)
		free(c->role), c->role = NULL; /* a new session user starts with no role set */
	role_changed(c);
}

static void path_copy(struct path_ent **to, size_t *nto, const struct path_ent *from, size_t n)
{
	*to = xcalloc(n ? n : 1, sizeof **to);
	for (size_t i = 0; i < n; i++) {
		(*to)[i].name = xstrdup(from[i].name);
		(*to)[i].user = from[i].user;
	}
	*nto = n;
}

static void sess_free(struct sess *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->npath; i++)
		free(s->path[i].name);
	free(s->path);
	free(s->role);
	free(s->session_role);
	free(s);
}

/* sess_take copies the search_path and role lint follows now */
static struct sess *sess_take(const struct lctx *c)
{
	struct sess *s = xcalloc(1, sizeof *s);
	path_copy(&s->path, &s->npath, c->path, c->npath);
	s->path_line = c->path_line;
	s->path_assumed = c->path_assumed;
	s->role = c->role ? xstrdup(c->role) : NULL;
	s->session_role = c->session_role ? xstrdup(c->session_role) : NULL;
	s->role_line = c->role_line;
	return s;
}

/* sess_put makes s the search_path and role lint follows */
static void sess_put(struct lctx *c, const struct sess *s)
{
	path_free(c);
	path_copy(&c->path, &c->npath, s->path, s->npath);
	c->path_line = s->path_line;
	c->path_assumed = s->path_assumed;
	free(c->role);
	free(c->session_role);
	c->role = s->role ? xstrdup(s->role) : NULL;
	c->session_role = s->session_role ? xstrdup(s->session_role) : NULL;
	c->role_line = s->role_line;
	role_changed(c);
}

/* sess_keep records a plain SET made inside the migration's own
 * transaction in what COMMIT leaves: the search_path, or the role */
static void sess_keep(struct lctx *c, int role)
{
	struct sess *k = c->kept;
	if (!k)
		return;
	if (role) {
		free(k->role);
		free(k->session_role);
		k->role = c->role ? xstrdup(c->role) : NULL;
		k->session_role = c->session_role ? xstrdup(c->session_role) : NULL;
		k->role_line = c->role_line;
		return;
	}
	for (size_t i = 0; i < k->npath; i++)
		free(k->path[i].name);
	free(k->path);
	path_copy(&k->path, &k->npath, c->path, c->npath);
	k->path_line = c->path_line;
	k->path_assumed = c->path_assumed;
}

static void tx_end(struct lctx *c)
{
	sess_free(c->at_begin);
	sess_free(c->kept);
	c->at_begin = c->kept = NULL;
	c->explicit_tx = 0;
}

/* track_tx follows a non-transactional migration's own transactions: at
 * COMMIT the SET LOCALs end (the plain SETs stay), at ROLLBACK every SET
 * since BEGIN is undone; AND CHAIN starts the next one */
static void track_tx(struct lctx *c)
{
	const TransactionStmt *ts = (const TransactionStmt *)c->node;
	switch (ts->kind) {
	case TRANS_STMT_BEGIN:
	case TRANS_STMT_START:
		if (c->explicit_tx)
			return; /* already in one: a warning on the server, nothing changes */
		c->explicit_tx = 1;
		c->at_begin = sess_take(c);
		c->kept = sess_take(c);
		return;
	case TRANS_STMT_COMMIT:
	case TRANS_STMT_ROLLBACK:
	case TRANS_STMT_PREPARE:
		if (!c->explicit_tx)
			return;
		sess_put(c, ts->kind == TRANS_STMT_ROLLBACK ? c->at_begin : c->kept);
		tx_end(c);
		if (ts->chain && ts->kind != TRANS_STMT_PREPARE) {
			c->explicit_tx = 1;
			c->at_begin = sess_take(c);
			c->kept = sess_take(c);
		}
		return;
	default:
		return;
	}
}

/* table_schema is where an index or implicit relation of the table rv
 * lands: the table's schema (NULL when lint cannot tell) */
static const char *table_schema(const struct lctx *c, const RangeVar *rv)
{
	if (!rv || !rv->relname)
		return NULL;
	if (rv->schemaname)
		return rv->schemaname;
	char *key = xstrfmt("r:%s", rv->relname);
	const char *at = NULL;
	if (rv_temp(rv) || names_has(&c->defined, "pg_temp", key))
		at = "pg_temp";
	for (size_t i = 0; !at && i < c->npath; i++)
		if (path_exists(c, i) && names_has(&c->defined, c->path[i].name, key))
			at = c->path[i].name;
	free(key);
	return at;
}

/* define_rel keeps a relation the statement makes without naming it as
 * created (an index, a serial's sequence, a key's index), in schema */
static void define_rel(struct lctx *c, const char *schema, const char *name)
{
	if (!schema || !name)
		return;
	char *key = xstrfmt("r:%s", name);
	names_add(&c->defined, schema, key);
	free(key);
}

/* default_name is the name PostgreSQL gives an index it names itself:
 * table, the key's columns and a suffix joined by "_" (its
 * ChooseRelationName); cols is a list of column names (String) or IndexElem
 * ("expr" for an expression). NULL when it would be cut to 63 bytes, or
 * a column is not a plain one: lint does not guess. */
static char *default_name(const char *table, const List *cols, const char *suffix)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, table);
	const ListCell *lc;
	foreach (lc, cols) {
		const Node *n = lfirst(lc);
		const char *col = sval(n);
		if (!col && n && IsA(n, IndexElem))
			col = ((const IndexElem *)n)->name ? ((const IndexElem *)n)->name : "expr";
		if (!col) {
			buf_release(&b);
			return NULL;
		}
		buf_addf(&b, "_%s", col);
	}
	buf_addf(&b, "_%s", suffix);
	if (b.len > 63) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* define_implicit keeps the relations CREATE TABLE or ALTER TABLE makes
 * under names of their own: a named key's index, else the server's default
 * names (table_pkey, table_col_key, table_col_seq; without the suffix
 * numbers it adds on a clash) */
static void define_implicit(struct lctx *c, const char *schema, const char *table, const List *elts)
{
	const ListCell *lc, *k;
	foreach (lc, elts) {
		const Node *n = lfirst(lc);
		const Constraint *con = IsA(n, Constraint) ? (const Constraint *)n : NULL;
		if (con && (con->contype == CONSTR_PRIMARY || con->contype == CONSTR_UNIQUE ||
			    con->contype == CONSTR_EXCLUSION) && !con->indexname) {
			char *def = con->conname			? NULL
				    : con->contype == CONSTR_PRIMARY	? xstrfmt("%s_pkey", table)
				    : con->contype == CONSTR_UNIQUE	? default_name(table, con->keys, "key")
									: NULL;
			if (!def && !con->conname && con->contype == CONSTR_EXCLUSION) {
				/* exclusions: (IndexElem, operator) pairs */
				List *cols = NIL;
				const ListCell *e;
				foreach (e, con->exclusions)
					cols = lappend(cols, linitial((const List *)lfirst(e)));
				def = default_name(table, cols, "excl");
				list_free(cols);
			}
			define_rel(c, schema, con->conname ? con->conname : def);
			free(def);
		}
		if (!IsA(n, ColumnDef))
			continue;
		const ColumnDef *cd = (const ColumnDef *)n;
		struct typ t;
		int seq = typ_parse(cd->typeName, &t) == 0 && is_serial(t.name);
		foreach (k, cd->constraints) {
			const Constraint *cc = lfirst(k);
			if (!IsA(cc, Constraint))
				continue;
			seq |= cc->contype == CONSTR_IDENTITY;
			char *def = NULL;
			if (cc->contype == CONSTR_PRIMARY)
				def = cc->conname ? xstrdup(cc->conname) : xstrfmt("%s_pkey", table);
			else if (cc->contype == CONSTR_UNIQUE)
				def = cc->conname ? xstrdup(cc->conname) : xstrfmt("%s_%s_key", table, cd->colname);
			define_rel(c, schema, def);
			free(def);
		}
		if (seq && cd->colname) {
			char *name = xstrfmt("%s_%s_seq", table, cd->colname);
			define_rel(c, schema, name);
			free(name);
		}
	}
}

/* track_rename keeps a relation the migration made its own under its new
 * name: for the look-ups of the search_path (a table, a view, a sequence,
 * an index: ALTER ... RENAME TO) and as created (a table, an index) */
static void track_rename(struct lctx *c)
{
	const RenameStmt *rn = (const RenameStmt *)c->node;
	ObjectType k = rn->renameType;
	if (!rn->relation || !rn->relation->relname || !rn->newname ||
	    (k != OBJECT_TABLE && k != OBJECT_VIEW && k != OBJECT_MATVIEW && k != OBJECT_INDEX &&
	     k != OBJECT_SEQUENCE && k != OBJECT_FOREIGN_TABLE))
		return;
	const char *at = table_schema(c, rn->relation), *name = rn->relation->relname;
	char *old = xstrfmt("r:%s", name);
	if (at && names_has(&c->defined, at, old)) {
		define_rel(c, at, rn->newname);
		if (k != OBJECT_INDEX && k != OBJECT_SEQUENCE) {
			char *key = xstrfmt("t:%s", rn->newname);
			names_add(&c->defined, at, key);
			free(key);
		}
	}
	free(old);
	if (k == OBJECT_TABLE && is_new(c, rn->relation)) {
		const char *schema = rn->relation->schemaname;
		names_add(&c->created,
			  rv_temp(rn->relation) || (!schema && names_has(&c->created, "pg_temp", name)) ? "pg_temp"
													  : resolve(c, schema),
			  rn->newname);
	}
	if (k == OBJECT_INDEX && created_in(c, &c->created_idx, rn->relation->schemaname, name))
		names_add(&c->created_idx, at ? at : resolve(c, rn->relation->schemaname), rn->newname);
}

/* track keeps what later statements depend on: search_path, the role,
 * what this migration created, constraints added NOT VALID */
static void track(struct lctx *c)
{
	if (c->tag == T_VariableSetStmt) {
		const VariableSetStmt *vs = (const VariableSetStmt *)c->node;
		int role = vs->name && (!strcmp(vs->name, "role") || !strcmp(vs->name, "session_authorization"));
		int path = vs->name && !strcmp(vs->name, "search_path");
		/* SET LOCAL ends with the statement's own transaction in a
		 * non-transactional migration, unless the migration opened one */
		if ((role || path) && vs->is_local && !c->o->transactional && !c->explicit_tx)
			return;
		if (role) {
			track_role(c, vs);
			if (!vs->is_local)
				sess_keep(c, 1);
			return;
		}
		if (path) {
			if (vs->kind == VAR_SET_VALUE) {
				path_free(c);
				const ListCell *lc;
				foreach (lc, vs->args) {
					const A_Const *a = lfirst(lc);
					if (IsA(a, A_Const) && !a->isnull && IsA(&a->val, String))
						path_push(c, strVal(&a->val));
				}
				int col;
				advance(c, c->stmt_off, &c->path_line, &col);
			} else if (vs->kind != VAR_SET_CURRENT) {
				path_default(c);
			}
			if (!vs->is_local)
				sess_keep(c, 0);
			return;
		}
		if (vs->kind == VAR_RESET_ALL) {
			path_default(c);
			sess_keep(c, 0);
		}
		return;
	}
	if (c->tag == T_TransactionStmt && !c->o->transactional) {
		track_tx(c);
		return;
	}
	const char *schema, *name;
	each_touched(c, define_one, NULL);
	if (c->tag == T_CompositeTypeStmt && (name = rv_name(((const CompositeTypeStmt *)c->node)->typevar, &schema)))
		names_add(&c->created, resolve(c, schema), name);
	if (c->tag == T_CreateStmt || c->tag == T_CreateTableAsStmt ||
	    (c->tag == T_SelectStmt && ((const SelectStmt *)c->node)->intoClause)) {
		const RangeVar *rv = c->tag == T_CreateStmt ? stmt_relation(c)
				     : c->tag == T_SelectStmt ? ((const SelectStmt *)c->node)->intoClause->rel
				     : ((const CreateTableAsStmt *)c->node)->into ? ((const CreateTableAsStmt *)c->node)->into->rel
										     : NULL;
		/* IF NOT EXISTS may have found the table there already, rows and all */
		int maybe_old = c->tag == T_CreateStmt ? ((const CreateStmt *)c->node)->if_not_exists
				: c->tag == T_CreateTableAsStmt && ((const CreateTableAsStmt *)c->node)->if_not_exists;
		if ((name = rv_name(rv, &schema)) && !maybe_old)
			names_add(&c->created, rv_temp(rv) ? "pg_temp" : resolve(c, schema), name);
		if (name && c->tag == T_CreateStmt)
			define_implicit(c, rv_temp(rv) ? "pg_temp" : resolve(c, schema), name,
					((const CreateStmt *)c->node)->tableElts);
	} else if (c->tag == T_RenameStmt) {
		track_rename(c);
	} else if (c->tag == T_IndexStmt) {
		/* an unnamed index gets the name PostgreSQL gives it */
		const IndexStmt *ix = (const IndexStmt *)c->node;
		char *ixname = ix->idxname    ? xstrdup(ix->idxname)
			       : ix->relation ? default_name(ix->relation->relname, ix->indexParams, "idx")
					      : NULL;
		const char *at = table_schema(c, ix->relation);
		if (ixname && !ix->if_not_exists)
			names_add(&c->created_idx, at ? at : resolve(c, ix->relation->schemaname), ixname);
		define_rel(c, at, ixname);
		free(ixname);
	} else if (alter_table(c) && (name = rv_name(stmt_relation(c), &schema))) {
		int at = 0;
		const AlterTableCmd *cmd;
		List *added = NIL;
		while ((cmd = cmd_of(alter_table(c), -1, &at))) {
			const Constraint *con = cmd_constraint(cmd);
			if (cmd->subtype == AT_AddConstraint && con && con->skip_validation && con->conname) {
				char *key = xstrfmt("%s.%s", name, con->conname);
				names_add(&c->not_valid, resolve(c, schema), key);
				free(key);
			}
			if (cmd->subtype == AT_AddConstraint && con)
				added = lappend(added, (void *)con);
			else if (cmd->subtype == AT_AddColumn && cmd_coldef(cmd))
				added = lappend(added, (void *)cmd_coldef(cmd));
		}
		define_implicit(c, table_schema(c, stmt_relation(c)), name, added);
		list_free(added);
	}
}

static void check_stmt(struct lctx *c, Node *stmt)
{
	if (!stmt)
		return;
	c->tag = nodeTag(stmt);
	c->node = stmt;
	c->nstmts++;
	for (size_t i = 0; i < NRULES; i++) {
		if (!rules[i].fn)
			continue;
		if (c->o->only_protected && rules[i].info.group != LINT_G_PROTECTED)
			continue;
		/* a style rule that is off would report nothing (and tracks
		 * nothing): not walking the tree for it is a tenth of plan's lint */
		if (rules[i].info.group == LINT_G_STYLE && rule_severity(c, &rules[i].info) == LINT_OFF)
			continue;
		rules[i].fn(c, &rules[i].info);
	}
	track(c);
}

int lint_opts_check(const struct lint_opts *o)
{
	for (size_t i = 0; i < o->nallow; i++) {
		const struct cfg_lint_allow *a = &o->allow[i];
		const struct lint_rule_info *ri = lint_rule_find(a->rule);
		if (!ri || !strcmp(ri->name, "lint-allow") || !strcmp(ri->name, "syntax")) {
			fail("%s:%d:%d: unknown lint rule \"%s\" in lint.allow",
			     o->meta_file ? o->meta_file : "meta.yml", a->line, a->col, a->rule);
			fail_hint("docs/lint.md lists the rules");
			return fail_status(EXIT_USAGE);
		}
		if (ri->group == LINT_G_PROTECTED) {
			fail("%s:%d:%d: protected-schema cannot be allowed", o->meta_file ? o->meta_file : "meta.yml",
			     a->line, a->col);
			fail_hint("protected schemas are read-only for migrations; remove the entry");
			return fail_status(EXIT_USAGE);
		}
	}
	return 0;
}

/* parse_release frees what pg_query_raw_parse allocated outside its memory context */
static void parse_release(PgQueryInternalParsetreeAndError *pr)
{
	if (pr->error)
		pg_query_free_error(pr->error);
	free(pr->stderr_buffer);
}

/* lint_piece checks one statement: off, n its bytes in the text (leading
 * comments included, where the allow comments are), stmt its parse tree */
static void lint_piece(struct lctx *c, size_t off, size_t n, Node *stmt)
{
	size_t lead = sql_skip_blank(c->text + off, n);
	if (lead == n || !stmt)
		return;
	c->piece_off = off;
	c->stmt_off = off + lead;
	c->stmt_len = n - lead;
	read_allows(c, off, off + lead);
	check_stmt(c, stmt);
}

/* lint_tree checks the statements of one parse of the text's bytes base .. base + len */
static void lint_tree(struct lctx *c, size_t base, size_t len, const List *tree)
{
	const ListCell *lc;
	foreach (lc, tree) {
		const RawStmt *raw = lfirst(lc);
		size_t off = raw->stmt_location >= 0 ? (size_t)raw->stmt_location : len;
		size_t n = raw->stmt_len > 0 ? (size_t)raw->stmt_len : 0;
		if (off > len)
			off = len;
		if (!n || n > len - off)
			n = len - off;
		lint_piece(c, base + off, n, raw->stmt);
	}
}

static void report_at(struct lctx *c, const struct lint_rule_info *ri, int line, int col, const char *hint,
		      const char *fmt, ...) __attribute__((format(__printf__, 6, 7)));
static void report_at(struct lctx *c, const struct lint_rule_info *ri, int line, int col, const char *hint,
		      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport_at(c, ri, line, col, c->allows, c->nallows, hint, fmt, ap);
	va_end(ap);
}

/* syntax_one reports a statement the parser cannot read (off, n: its bytes,
 * leading comments included; parsed: the bytes from off the parser read,
 * more when pieces were joined), at its first character; the reason says
 * where the parser stopped. It is a warning: a statement of the target's
 * newer PostgreSQL is fine to run, but lint has not checked it. */
static void syntax_one(struct lctx *c, size_t off, size_t n, size_t parsed, const PgQueryError *err)
{
	size_t lead = sql_skip_blank(c->text + off, n);
	if (lead == n)
		return;
	c->nstmts++; /* a statement all the same, for non-transactional-not-rerunnable */
	read_allows(c, off, off + lead);
	c->piece_off = off;
	c->stmt_off = off + lead;
	c->stmt_len = n - lead;
	int line, col, eline = 0, ecol = 0;
	advance(c, c->stmt_off, &line, &col);
	if (err->cursorpos > 0)
		advance(c, off + sql_byte_offset(c->text + off, parsed, err->cursorpos), &eline, &ecol);
	struct buf at = BUF_INIT;
	if (eline)
		buf_addf(&at, " (line %d, column %d)", eline, ecol);
	report_at(c, lint_rule_find("syntax"), line, col,
		  "if it is SQL of the target's newer PostgreSQL, review it by hand (the run-time guard still compares "
		  "the protected schemas); otherwise fix it: the server says more when it runs it",
		  "this statement was not checked, for protected schemas neither: lint's parser (PostgreSQL %d's "
		  "grammar) cannot read it: %s%s",
		  PG_VERSION_NUM / 10000, err->message, buf_str(&at));
	buf_release(&at);
}

/* error_at_end tells whether a parse of the n bytes at t failed at their end
 * (only blanks and comments after where it stopped) */
static int error_at_end(const char *t, size_t n, const PgQueryError *err)
{
	size_t e = sql_byte_offset(t, n, err->cursorpos);
	return err->cursorpos > 0 && sql_skip_blank(t + e, n - e) == n - e;
}

/* how many of the scanner's pieces one statement may span (see lint_stream) */
#define MAX_JOIN 32

/* lint_stream checks the statements of the text one by one, from the
 * statement stream in its lenient mode: a statement the parser cannot read
 * is a syntax finding and the ones after it are still checked. When the
 * parser cannot split a chunk, the stream cuts it with libpg_query's
 * scanner at every top-level ';', which also cuts inside a function body
 * of several statements (BEGIN ATOMIC ... END): a piece that fails at its
 * very end is joined to the next ones until it parses (MAX_JOIN at most),
 * as the stream grows a chunk cut too early. */
static void lint_stream(struct lctx *c)
{
	struct sql_stream s;
	struct sql_piece q[MAX_JOIN];
	size_t nq = 0;
	int rc = 1;
	sql_stream_init(&s, c->text, c->len);
	s.lenient = 1;
	for (;;) {
		if (!nq) {
			if (rc == 1)
				rc = sql_stream_next(&s, &q[0]);
			if (rc != 1)
				break;
			nq = 1;
		}
		size_t used = 1, k = 1;
		while (!q[0].copy_data) {
			size_t n = q[k - 1].off + q[k - 1].len - q[0].off;
			char *one = xstrndup(c->text + q[0].off, n);
			MemoryContext ctx = pg_query_enter_memory_context();
			PgQueryInternalParsetreeAndError pr = pg_query_raw_parse(one);
			int join = 0;
			if (!pr.error) {
				lint_tree(c, q[0].off, n, pr.tree);
				used = k;
			} else if (error_at_end(one, n, pr.error) && k < MAX_JOIN) {
				if (k == nq && rc == 1 && (rc = sql_stream_next(&s, &q[nq])) == 1)
					nq++;
				join = k < nq && !q[k].copy_data;
			}
			if (pr.error && !join)
				syntax_one(c, q[0].off, q[0].len, n, pr.error);
			parse_release(&pr);
			pg_query_exit_memory_context(ctx);
			free(one);
			if (!join)
				break;
			k++;
		}
		memmove(q, q + used, (nq - used) * sizeof q[0]);
		nq -= used;
	}
	if (rc < 0) {
		c->stmt_off = s.err_off < c->len ? s.err_off : c->len;
		c->stmt_len = 0;
		/* the allow comments of the last statement do not reach the unreadable part */
		for (size_t i = 0; i < c->nallows; i++)
			free(c->allows[i].reason);
		c->nallows = 0;
		report(c, lint_rule_find("syntax"),
		       "check the SQL; the server will say more when it runs it",
		       "the rest of the file from here was not checked, for protected schemas neither: lint (PostgreSQL "
		       "%d's grammar) cannot read past this point: %s",
		       PG_VERSION_NUM / 10000, s.err ? s.err : "syntax error");
	}
	sql_stream_release(&s);
}

int lint_sql(const char *file, const char *sql, size_t len, const struct lint_opts *o, struct lint_result *r)
{
	if (lint_opts_check(o))
		return -1;
	struct lctx c;
	memset(&c, 0, sizeof c);
	c.file = file;
	c.text = sql;
	c.len = len;
	c.o = o;
	c.r = r;
	c.line = 1;
	c.version = o->cat && o->cat->server_version ? o->cat->server_version : PG_VERSION_NUM;
	path_default(&c);
	struct buf assumed = BUF_INIT;
	if (r->assumed)
		buf_adds(&assumed, r->assumed);
	if (!o->cat || !o->cat->server_version) {
		if (!strstr(buf_str(&assumed), "PostgreSQL"))
			buf_addf(&assumed, "%sPostgreSQL %d (no target connected)", assumed.len ? "; " : "",
				 PG_VERSION_NUM / 10000);
	}
	if (c.path_assumed && !strstr(buf_str(&assumed), "search_path"))
		buf_addf(&assumed, "%sthe role's search_path \"$user\", public", assumed.len ? "; " : "");
	free(r->assumed);
	r->assumed = buf_detach(&assumed);

	/* one parse of the whole sql when it is small and has no COPY data
	 * (the common case); otherwise statement by statement from the
	 * bounded-memory stream, which also goes on past a statement that does
	 * not parse. The tree lives in the parser's memory context, freed when
	 * it is left. */
	int whole = 0;
	if (len <= SQL_STREAM_CHUNK) {
		MemoryContext ctx = pg_query_enter_memory_context();
		PgQueryInternalParsetreeAndError pr = pg_query_raw_parse(sql);
		if (!pr.error) {
			whole = 1;
			lint_tree(&c, 0, len, pr.tree);
		}
		parse_release(&pr);
		pg_query_exit_memory_context(ctx);
	}
	if (!whole)
		lint_stream(&c);
	rerun_finish(&c, lint_rule_find("non-transactional-not-rerunnable"));
	for (size_t i = 0; i < c.nallows; i++)
		free(c.allows[i].reason);
	for (size_t i = 0; i < c.nrerun_allows; i++)
		free(c.rerun_allows[i].reason);
	free(c.ax_table);
	names_free(&c.created);
	names_free(&c.created_idx);
	names_free(&c.defined);
	names_free(&c.not_valid);
	path_free(&c);
	tx_end(&c);
	free(c.role);
	free(c.session_role);
	return 0;
}

int lint_protected_sql(const char *file, const char *sql, size_t len, const struct cfg_project *p,
		       const struct lint_catalog *cat, struct lint_result *r)
{
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.p = p;
	o.transactional = 1;
	o.only_protected = 1;
	o.cat = cat;
	return lint_sql(file, sql, len, &o, r);
}

int lint_config_check(const struct cfg_project *p)
{
	for (size_t i = 0; i < p->nlint_rules; i++) {
		const struct cfg_lint_allow *a = &p->lint_rules[i];
		const struct lint_rule_info *ri = lint_rule_find(a->rule);
		if (!ri) {
			fail("%s:%d:%d: unknown lint rule \"%s\" in lint.rules", p->file, a->line, a->col, a->rule);
			fail_hint("docs/lint.md lists the rules");
			return fail_status(EXIT_USAGE);
		}
		if ((ri->group == LINT_G_PROTECTED || !strcmp(ri->name, "lint-allow")) &&
		    strcmp(a->value, "error") != 0) {
			fail("%s:%d:%d: lint rule \"%s\" is always an error", p->file, a->line, a->col, a->rule);
			fail_hint("remove the entry");
			return fail_status(EXIT_USAGE);
		}
	}
	return 0;
}

void lint_result_release(struct lint_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].reason);
		free(r->v[i].hint);
		free(r->v[i].allowed);
	}
	free(r->v);
	free(r->assumed);
	memset(r, 0, sizeof *r);
}

void lint_finding_line(const struct lint_finding *f, struct buf *out, int with_hint)
{
	char *file = xstrprintable(f->file);
	char *reason = xstrprintable(f->reason);
	buf_addf(out, "%s:%d:%d: %s %s: %s", file, f->line, f->col,
		 f->allowed ? "allowed" : lint_severity_name(f->severity), f->rule, reason);
	if (f->allowed) {
		char *why = xstrprintable(f->allowed);
		buf_addf(out, " (allowed: %s)", why);
		free(why);
	} else if (with_hint && f->hint) {
		char *hint = xstrprintable(f->hint);
		buf_addf(out, " (hint: %s)", hint);
		free(hint);
	}
	free(file);
	free(reason);
}

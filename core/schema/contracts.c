#include "contracts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "confine.h"
#include "db.h"
#include "log.h"
#include "name.h"
#include "yamlwalk.h"

/* ---- type names */

/* What format_type() prints for the names and aliases a contract may use.
 * The longer spellings come first so "timestamp with time zone" is not read
 * as "timestamp". A (n) or (p,s) modifier follows the canonical name. */
static const struct {
	const char *alias, *canon;
} type_aliases[] = {
	{ "timestamp without time zone", "timestamp without time zone" },
	{ "timestamp with time zone", "timestamp with time zone" },
	{ "time without time zone", "time without time zone" },
	{ "time with time zone", "time with time zone" },
	{ "character varying", "character varying" },
	{ "double precision", "double precision" },
	{ "bit varying", "bit varying" },
	{ "timestamptz", "timestamp with time zone" },
	{ "timestamp", "timestamp without time zone" },
	{ "timetz", "time with time zone" },
	{ "time", "time without time zone" },
	{ "varchar", "character varying" },
	{ "character", "character" },
	{ "bpchar", "character" },
	{ "char", "character" },
	{ "varbit", "bit varying" },
	{ "int2", "smallint" },
	{ "smallint", "smallint" },
	{ "int4", "integer" },
	{ "integer", "integer" },
	{ "int", "integer" },
	{ "int8", "bigint" },
	{ "bigint", "bigint" },
	{ "float4", "real" },
	{ "real", "real" },
	{ "float8", "double precision" },
	{ "float", "double precision" },
	{ "decimal", "numeric" },
	{ "numeric", "numeric" },
	{ "bool", "boolean" },
	{ "boolean", "boolean" },
};

/* squeeze lowercases s (outside double quotes) and writes single blanks,
 * none around ( ) , [ ] */
static char *squeeze(const char *s)
{
	struct buf b = BUF_INIT;
	int quoted = 0, blank = 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			quoted = !quoted;
		if (!quoted && isspace(c)) {
			blank = 1;
			continue;
		}
		if (blank && b.len && !strchr("(),[]", c) && !strchr("(,[", b.s[b.len - 1]))
			buf_addch(&b, ' ');
		blank = 0;
		buf_addch(&b, quoted ? (char)c : (char)tolower(c));
	}
	return buf_detach(&b);
}

/* the longest type name a contract may write, before and after normalising */
#define TYPE_MAX 200

char *contract_type_normalise(const char *type)
{
	if (!type || !*type || strlen(type) > TYPE_MAX)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)type; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == ';')
			return NULL;
	char *s = squeeze(type);
	char *out = NULL;
	for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0] && !out; i++) {
		size_t n = strlen(type_aliases[i].alias);
		if (strncmp(s, type_aliases[i].alias, n) != 0 || (s[n] && s[n] != '(' && s[n] != '['))
			continue;
		const char *rest = s + n;
		/* "timestamp(3) with time zone": the modifier sits inside the name */
		const char *canon = type_aliases[i].canon;
		if (*rest == '(' && (strncmp(canon, "timestamp", 9) == 0 || strncmp(canon, "time ", 5) == 0)) {
			const char *close = strchr(rest, ')');
			if (!close)
				break;
			const char *tail = close + 1;
			const char *zone = strncmp(canon, "timestamp", 9) == 0 ? canon + 9 : canon + 4;
			if (*tail == ' ') {
				/* "timestamp(3) with time zone" written out: keep what it says */
				if (strncmp(tail, " with time zone", 15) == 0)
					zone = " with time zone", tail += 15;
				else if (strncmp(tail, " without time zone", 18) == 0)
					zone = " without time zone", tail += 18;
			}
			out = xstrfmt("%.*s%.*s%s%s",
				      (int)(strchr(canon, ' ') ? strchr(canon, ' ') - canon : (long)strlen(canon)),
				      canon, (int)(close - rest + 1), rest, zone, tail);
		} else {
			out = xstrfmt("%s%s", canon, rest);
		}
	}
	if (!out)
		out = xstrdup(s);
	free(s);
	/* "character" alone is character(1), as format_type says it */
	if (strcmp(out, "character") == 0) {
		free(out);
		out = xstrdup("character(1)");
	}
	/* the bound holds for the name as normalised too (varchar(...) grows
	 * to character varying(...)), so a normalised name normalises to itself */
	if (strlen(out) > TYPE_MAX) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- loading */

static int node_line(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 1;
}

static int node_col(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.column + 1 : 1;
}

static const char name_hint[] = "a table or column name is a plain SQL identifier as the catalog stores it: "
				"ASCII letters, digits and _, not starting with a digit, at most 63 characters";

static int name_of(struct yw_doc *d, const yaml_node_t *k, const char *what, const char **out)
{
	if (yw_scalar(d, k, what, out))
		return -1;
	if (!name_valid(NAME_IDENT, *out)) {
		yw_err(d, k, "%s \"%s\" is not a plain identifier", what, yw_show(*out));
		return fail_hint("%s", name_hint);
	}
	return 0;
}

static int set_type(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *key,
		    const yaml_node_t *val, void *obj)
{
	struct contract_column *c = obj;
	const char *s;
	(void)fl;
	(void)map;
	(void)key;
	if (!val || yw_is_null(val))
		return 0;
	if (yw_scalar(w->doc, val, "the column's type", &s))
		return -1;
	c->type = contract_type_normalise(s);
	c->type_line = node_line(val);
	c->type_col = node_col(val);
	if (!c->type) {
		yw_err(w->doc, val, "\"%s\" is not a type name", yw_show(s));
		return fail_hint(
			"write the type as in SQL: bigint, varchar(64), numeric(18,6), timestamptz, text[], ...");
	}
	return 0;
}

static int set_nullable(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *key,
			const yaml_node_t *val, void *obj)
{
	struct contract_column *c = obj;
	(void)fl;
	(void)map;
	(void)key;
	if (!val)
		return 0;
	return yw_bool(w->doc, val, "\"nullable\"", &c->nullable);
}

static const struct yw_field column_fields[] = {
	{ .key = "type", .type = YW_FN, .fn = set_type },
	{ .key = "nullable", .type = YW_FN, .fn = set_nullable },
};
static const struct yw_table column_table = YW_TABLE(column_fields, NULL);

static int set_columns(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *key,
		       const yaml_node_t *val, void *obj)
{
	struct contract_table *t = obj;
	struct yw_doc *d = w->doc;
	(void)fl;
	(void)map;
	(void)key;
	if (!val || yw_is_null(val))
		return 0;
	char *where = xstrfmt("the columns of table \"%s\"", t->name);
	int rc = yw_map_check(d, val, where, "column");
	free(where);
	if (rc)
		return -1;
	size_t n = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	t->cols = xcalloc(n ? n : 1, sizeof *t->cols);
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = val->data.mapping.pairs.start + i;
		yaml_node_t *k = yw_node(d, p->key), *v = yw_node(d, p->value);
		const char *name;
		if (name_of(d, k, "column name", &name))
			return -1;
		struct contract_column *c = &t->cols[t->ncols++];
		c->name = xstrdup(name);
		c->nullable = -1;
		c->line = c->type_line = node_line(k);
		c->col = c->type_col = node_col(k);
		if (yw_is_null(v))
			continue;
		if (v->type == YAML_SCALAR_NODE) {
			if (set_type(w, NULL, val, k, v, c))
				return -1;
			continue;
		}
		if (v->type != YAML_MAPPING_NODE) {
			yw_err(d, v, "expected a type or a mapping (type, nullable) for column \"%s\", found %s", name,
			       yw_kind(v));
			return fail_hint("write `%s: bigint` or `%s: {type: bigint, nullable: false}`", name, name);
		}
		char *cw = xstrfmt("column \"%s\"", name);
		rc = yw_walk_map(w, v, &column_table, cw, c);
		free(cw);
		if (rc)
			return -1;
	}
	return 0;
}

static const struct yw_field table_fields[] = {
	{ .key = "columns", .type = YW_FN, .fn = set_columns },
};
static const struct yw_table table_table = YW_TABLE(table_fields, NULL);

static int set_tables(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *key,
		      const yaml_node_t *val, void *obj)
{
	struct contract *c = obj;
	struct yw_doc *d = w->doc;
	(void)fl;
	(void)map;
	(void)key;
	if (!val || yw_is_null(val))
		return 0;
	if (yw_map_check(d, val, "\"tables\"", "table"))
		return -1;
	size_t n = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	c->tables = xcalloc(n ? n : 1, sizeof *c->tables);
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = val->data.mapping.pairs.start + i;
		yaml_node_t *k = yw_node(d, p->key), *v = yw_node(d, p->value);
		const char *name;
		if (name_of(d, k, "table name", &name))
			return -1;
		struct contract_table *t = &c->tables[c->ntables++];
		t->name = xstrdup(name);
		t->line = node_line(k);
		t->col = node_col(k);
		if (yw_is_null(v))
			continue;
		char *tw = xstrfmt("table \"%s\"", name);
		int rc = yw_walk_map(w, v, &table_table, tw, t);
		free(tw);
		if (rc)
			return -1;
	}
	return 0;
}

/* a glob of a name: identifier characters and * ? [ ] ! - */
static int glob_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_*?[]!-", s[i]))
			return 0;
	return 1;
}

static int set_absent(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *key,
		      const yaml_node_t *val, void *obj)
{
	struct contract *c = obj;
	struct yw_doc *d = w->doc;
	(void)fl;
	(void)map;
	(void)key;
	if (!val || yw_is_null(val))
		return 0;
	if (yw_expect(d, val, YAML_SEQUENCE_NODE, "\"absent\""))
		return fail_hint("list names that must not exist: `absent: [oracle_employee.email, v3_*]`");
	size_t n = yw_seq_len(val);
	c->absent = xcalloc(n ? n : 1, sizeof *c->absent);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yw_node(d, val->data.sequence.items.start[i]);
		const char *s;
		if (yw_expect(d, item, YAML_SCALAR_NODE, "an item of \"absent\"") ||
		    yw_scalar(d, item, "an item of \"absent\"", &s))
			return -1;
		const char *dot = strchr(s, '.');
		size_t tl = dot ? (size_t)(dot - s) : strlen(s);
		if (!glob_ok(s, tl) || (dot && (strchr(dot + 1, '.') || !glob_ok(dot + 1, strlen(dot + 1))))) {
			yw_err(d, item, "\"%s\" is not a table or table.column name (patterns may use * ? [...])",
			       yw_show(s));
			return fail_hint("write `oracle_employee` (a table), `oracle_employee.email` (a column) or "
					 "`v3_*` (every table whose name starts with v3_)");
		}
		struct contract_absent *a = &c->absent[c->nabsent++];
		a->table = xstrndup(s, tl);
		a->column = dot ? xstrdup(dot + 1) : NULL;
		a->line = node_line(item);
		a->col = node_col(item);
	}
	return 0;
}

static const struct yw_field contract_fields[] = {
	{ .key = "tables", .type = YW_FN, .fn = set_tables },
	{ .key = "absent", .type = YW_FN, .fn = set_absent },
};
static const struct yw_table contract_table = YW_TABLE(contract_fields, NULL);

void contract_release(struct contract *c)
{
	for (size_t i = 0; i < c->ntables; i++) {
		for (size_t j = 0; j < c->tables[i].ncols; j++) {
			free(c->tables[i].cols[j].name);
			free(c->tables[i].cols[j].type);
		}
		free(c->tables[i].cols);
		free(c->tables[i].name);
	}
	free(c->tables);
	for (size_t i = 0; i < c->nabsent; i++) {
		free(c->absent[i].table);
		free(c->absent[i].column);
	}
	free(c->absent);
	free(c->path);
	free(c->schema);
	memset(c, 0, sizeof *c);
}

int contract_load(const char *path, struct contract *c)
{
	memset(c, 0, sizeof *c);
	c->path = xstrdup(path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t bl = strlen(base);
	c->schema = bl > 4 && strcmp(base + bl - 4, ".yml") == 0 ? xstrndup(base, bl - 4) : xstrdup(base);
	if (!name_valid(NAME_IDENT, c->schema)) {
		fail("%s: the file name must be a schema name and .yml, not \"%s\"", path, yw_show(base));
		fail_hint("name the contract <schema>.yml, the schema a plain SQL identifier");
		contract_release(c);
		return fail_status(EXIT_USAGE);
	}
	struct yw_doc d;
	struct yw_walk w = { &d, NULL };
	int rc = yw_load(&d, path, &contract_table);
	/* what a contract says is checked and reported as the project's: read
	 * through a symlink out of the project, it gets a migration's warning */
	if (!rc)
		confine_check(path);
	if (!rc)
		rc = yw_walk_map(&w, yw_root(&d), &contract_table, "the contract", c);
	yw_release(&d);
	if (rc) {
		contract_release(c);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int contracts_list(const char *dir, char ***paths, size_t *n)
{
	*paths = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		fail("could not read the contracts directory \"%s\": %s", dir, strerror(errno));
		return fail_hint("check paths.contracts in padctl.yml");
	}
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l <= 4 || strcmp(e->d_name + l - 4, ".yml") != 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*paths = xrealloc(*paths, cap * sizeof **paths);
		}
		(*paths)[(*n)++] = xstrfmt("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*paths, *n, sizeof **paths, cmp_str);
	return 0;
}

void contracts_list_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/* ---- checking */

static void found(contract_finding_fn fn, void *ctx, const struct contract *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void found(contract_finding_fn fn, void *ctx, const struct contract *c, int line, int col, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	fn(ctx, c, line, col, buf_str(&b));
	buf_release(&b);
}

int contract_compare(const struct contract *c, int schema_exists, const struct contract_catalog_row *rows, size_t n,
		     contract_finding_fn fn, void *ctx)
{
	int nf = 0;
	if (!schema_exists && c->ntables) {
		found(fn, ctx, c, c->tables[0].line, c->tables[0].col, "schema \"%s\" does not exist", c->schema);
		return 1;
	}
	for (size_t i = 0; i < c->ntables; i++) {
		const struct contract_table *t = &c->tables[i];
		size_t first = n;
		for (size_t r = 0; r < n && first == n; r++)
			if (strcmp(rows[r].table, t->name) == 0)
				first = r;
		if (first == n) {
			found(fn, ctx, c, t->line, t->col, "table %s.%s does not exist", c->schema, t->name);
			nf++;
			continue;
		}
		for (size_t j = 0; j < t->ncols; j++) {
			const struct contract_column *col = &t->cols[j];
			const struct contract_catalog_row *hit = NULL;
			for (size_t r = first; r < n && !hit && strcmp(rows[r].table, t->name) == 0; r++)
				if (rows[r].column && strcmp(rows[r].column, col->name) == 0)
					hit = &rows[r];
			if (!hit) {
				found(fn, ctx, c, col->line, col->col, "column %s.%s.%s does not exist", c->schema,
				      t->name, col->name);
				nf++;
				continue;
			}
			char *have = hit->type ? contract_type_normalise(hit->type) : NULL;
			if (col->type && (!have || strcmp(have, col->type) != 0)) {
				found(fn, ctx, c, col->type_line, col->type_col,
				      "column %s.%s.%s is %s, the contract says %s", c->schema, t->name, col->name,
				      hit->type ? hit->type : "?", col->type);
				nf++;
			}
			free(have);
			if (col->nullable >= 0 && hit->notnull && (strcmp(hit->notnull, "t") == 0) == col->nullable) {
				found(fn, ctx, c, col->line, col->col, "column %s.%s.%s is %s, the contract says %s",
				      c->schema, t->name, col->name, col->nullable ? "NOT NULL" : "nullable",
				      col->nullable ? "nullable" : "NOT NULL");
				nf++;
			}
		}
	}
	for (size_t i = 0; i < c->nabsent; i++) {
		const struct contract_absent *a = &c->absent[i];
		const char *last = NULL;
		for (size_t r = 0; r < n; r++) {
			if (fnmatch(a->table, rows[r].table, 0) != 0)
				continue;
			if (!a->column) {
				if (last && strcmp(last, rows[r].table) == 0)
					continue; /* one finding per table, not per column */
				last = rows[r].table;
				found(fn, ctx, c, a->line, a->col,
				      "table %s.%s exists, the contract says it must not (%s)", c->schema,
				      rows[r].table, a->table);
				nf++;
			} else if (rows[r].column && fnmatch(a->column, rows[r].column, 0) == 0) {
				found(fn, ctx, c, a->line, a->col,
				      "column %s.%s.%s exists, the contract says it must not (%s.%s)", c->schema,
				      rows[r].table, rows[r].column, a->table, a->column);
				nf++;
			}
		}
	}
	return nf;
}

/* every relation of the schema and its columns, in name order */
static const char catalog_sql[] =
	"SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull "
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
	"WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1, a.attnum";

int contract_check(struct db *db, const struct contract *c, contract_finding_fn fn, void *ctx)
{
	const char *params[1] = { c->schema };
	char *exists = NULL;
	if (db_query_value(db, "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)::text", 1, params, &exists))
		return -1;
	PGresult *res = NULL;
	if (db_query(db, catalog_sql, 1, params, &res)) {
		free(exists);
		return -1;
	}
	size_t n = (size_t)PQntuples(res);
	struct contract_catalog_row *rows = xcalloc(n ? n : 1, sizeof *rows);
	for (size_t r = 0; r < n; r++) {
		rows[r].table = PQgetvalue(res, (int)r, 0);
		rows[r].column = PQgetisnull(res, (int)r, 1) ? NULL : PQgetvalue(res, (int)r, 1);
		rows[r].type = PQgetisnull(res, (int)r, 2) ? NULL : PQgetvalue(res, (int)r, 2);
		rows[r].notnull = PQgetisnull(res, (int)r, 3) ? NULL : PQgetvalue(res, (int)r, 3);
	}
	int nf = contract_compare(c, exists && strcmp(exists, "true") == 0, rows, n, fn, ctx);
	free(rows);
	PQclear(res);
	free(exists);
	return nf;
}

#include "backfill.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "name.h"
#include "yamlwalk.h"

struct bf_ctx {
	char *const *owned;
	size_t nowned;
};

int backfill_qualified_ok(const char *s)
{
	const char *dot = s ? strchr(s, '.') : NULL;
	if (!dot || strchr(dot + 1, '.'))
		return 0;
	char *schema = xstrndup(s, (size_t)(dot - s));
	int ok = name_valid(NAME_IDENT, schema) && name_valid(NAME_IDENT, dot + 1);
	free(schema);
	return ok;
}

static int ident_ok(const char *s)
{
	return name_valid(NAME_IDENT, s);
}

/* read_sql reads a SQL text and the line its first line is on: a block
 * scalar (`sql: |`) starts on the line after its indicator */
static int read_sql(struct yw_doc *f, const yaml_node_t *n, const char *what, char **out, int *line)
{
	if (yw_str(f, n, what, out))
		return -1;
	*line = (int)n->start_mark.line + 1;
	if (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE || n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
		(*line)++;
	const char *p = *out;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (!*p) {
		yw_err(f, n, "%s is blank", what);
		return fail_hint("write the SQL, or remove the entry");
	}
	return 0;
}

static int set_source_table(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			    const yaml_node_t *n, void *obj)
{
	struct cfg_backfill *b = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (yw_str(w->doc, n, "\"source.table\"", &b->source_table))
		return -1;
	if (!backfill_qualified_ok(b->source_table)) {
		yw_err(w->doc, n, "invalid source table \"%s\"", yw_show(b->source_table));
		return fail_hint("write it as schema.table, both unquoted SQL identifiers ([A-Za-z0-9_], not "
				 "starting with a digit)");
	}
	return 0;
}

static int set_source_key(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			  const yaml_node_t *n, void *obj)
{
	struct cfg_backfill *b = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (yw_str(w->doc, n, "\"source.key\"", &b->source_key))
		return -1;
	if (!ident_ok(b->source_key)) {
		yw_err(w->doc, n, "invalid source key \"%s\"", yw_show(b->source_key));
		return fail_hint("name the source table's integer key column, an unquoted SQL identifier");
	}
	return 0;
}

static const struct yw_field source_fields[] = {
	{ .key = "table",
	  .type = YW_FN,
	  .required = 1,
	  .fn = set_source_table,
	  .hint = "add `table: schema.table`",
	  .doc_type = "schema.table",
	  .help = "the table the rows come from (any schema: it is only read)" },
	{ .key = "key",
	  .type = YW_FN,
	  .required = 1,
	  .fn = set_source_key,
	  .hint = "add `key: id`",
	  .doc_type = "column",
	  .help = "its key: an integer column, unique; batches go in its order" },
};
static const struct yw_table source_table = YW_TABLE(source_fields, NULL);

static int set_targets(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		       const yaml_node_t *n, void *obj)
{
	struct bf_ctx *c = w->ctx;
	struct cfg_backfill *b = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (yw_names(w->doc, n, "\"targets\"", backfill_qualified_ok, "target table",
		     "write each as schema.table, both unquoted SQL identifiers", &b->targets, &b->ntargets))
		return -1;
	if (!b->ntargets) {
		yw_err(w->doc, n, "\"targets\" is an empty list");
		return fail_hint("list the tables the batch SQL writes");
	}
	for (size_t i = 0; i < b->ntargets; i++) {
		size_t len = (size_t)(strchr(b->targets[i], '.') - b->targets[i]);
		int owned = 0;
		for (size_t j = 0; j < c->nowned && !owned; j++)
			owned = strlen(c->owned[j]) == len && !strncmp(c->owned[j], b->targets[i], len);
		if (!owned) {
			yw_err(w->doc, n, "target table \"%s\" is not in a schema the project owns", b->targets[i]);
			fail_detail("a backfill writes only to schemas.owned of padctl.yml");
			return fail_hint("write into an owned schema, or add the schema to schemas.owned if the app "
					 "really owns it");
		}
	}
	return 0;
}

static int set_sql(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		   const yaml_node_t *n, void *obj)
{
	struct cfg_backfill *b = obj;
	(void)fl;
	(void)map;
	(void)k;
	return read_sql(w->doc, n, "\"sql\"", &b->sql, &b->sql_line);
}

static int set_check_name(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			  const yaml_node_t *n, void *obj)
{
	struct cfg_backfill_check *ck = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (yw_str(w->doc, n, "the pre-check's \"name\"", &ck->name))
		return -1;
	for (const char *p = ck->name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			yw_err(w->doc, n, "the pre-check's name \"%s\" has a control character", yw_show(ck->name));
			return fail_hint("use one line of plain text");
		}
	return 0;
}

static int set_check_sql(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			 const yaml_node_t *n, void *obj)
{
	struct cfg_backfill_check *ck = obj;
	(void)fl;
	(void)map;
	(void)k;
	return read_sql(w->doc, n, "the pre-check's \"sql\"", &ck->sql, &ck->line);
}

static const struct yw_field check_fields[] = {
	{ .key = "name",
	  .type = YW_FN,
	  .required = 1,
	  .fn = set_check_name,
	  .hint = "add `name: what it checks`",
	  .doc_type = "string",
	  .help = "what the check checks, for messages" },
	{ .key = "sql",
	  .type = YW_FN,
	  .required = 1,
	  .fn = set_check_sql,
	  .hint = "add `sql: SELECT ...`",
	  .doc_type = "SQL",
	  .help = "a query given the batch's keys as `$1` (bigint[]) returning `source_id, reason` for each key "
		  "that must not be transformed: those keys are recorded as failures" },
};
static const struct yw_table check_table = YW_TABLE(check_fields, NULL);

static int set_checks(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		      const yaml_node_t *list, void *obj)
{
	struct cfg_backfill *b = obj;
	struct yw_doc *f = w->doc;
	(void)fl;
	(void)map;
	(void)k;
	if (!list)
		return 0;
	if (yw_expect(f, list, YAML_SEQUENCE_NODE, "\"prechecks\""))
		return -1;
	size_t cnt = yw_seq_len(list);
	b->checks = xcalloc(cnt ? cnt : 1, sizeof *b->checks);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *item = yw_node(f, list->data.sequence.items.start[i]);
		struct cfg_backfill_check *ck = &b->checks[b->nchecks++];
		if (yw_walk_map(w, item, &check_table, "a pre-check", ck))
			return -1;
	}
	return 0;
}

static const struct yw_field backfill_fields[] = {
	{ .key = "description",
	  .type = YW_STRING,
	  .off = offsetof(struct cfg_backfill, description),
	  .doc_type = "string",
	  .help = "what the backfill does, for people" },
	{ .key = "source",
	  .type = YW_MAP,
	  .required = 1,
	  .sub = &source_table,
	  .hint = "add `source: {table: schema.table, key: id}`",
	  .doc_type = "mapping",
	  .help = "where the rows come from" },
	{ .key = "targets",
	  .type = YW_FN,
	  .required = 1,
	  .fn = set_targets,
	  .hint = "add `targets: [schema.table, ...]`",
	  .doc_type = "list of schema.table",
	  .help = "the tables the SQL writes, each in an owned schema; the SQL may name no other in `target_table`" },
	{ .key = "batch_size",
	  .type = YW_INT,
	  .off = offsetof(struct cfg_backfill, batch_size),
	  .lo = 1,
	  .hi = BACKFILL_BATCH_MAX,
	  .doc_type = "integer 1-100000",
	  .doc_default = "`1000`",
	  .help = "source rows per batch (one transaction each); `--batch N` overrides it" },
	{ .key = "statement_timeout",
	  .type = YW_INT,
	  .off = offsetof(struct cfg_backfill, statement_timeout),
	  .lo = 0,
	  .hi = 86400,
	  .doc_type = "seconds 0-86400",
	  .doc_default = "`60`",
	  .help = "statement_timeout of each batch's statements, so one batch never holds its locks long; 0: none" },
	{ .key = "pause_ms",
	  .type = YW_INT,
	  .off = offsetof(struct cfg_backfill, pause_ms),
	  .lo = 0,
	  .hi = 600000,
	  .doc_type = "milliseconds 0-600000",
	  .doc_default = "`0`",
	  .help = "a pause after each batch, to leave the server to the application" },
	{ .key = "prechecks",
	  .type = YW_FN,
	  .fn = set_checks,
	  .doc_type = "list of pre-checks",
	  .help = "queries run in each batch's transaction before `sql`: the keys they return are recorded as "
		  "failures with their reason and left out of the batch" },
	{ .key = "sql",
	  .type = YW_FN,
	  .required = 1,
	  .fn = set_sql,
	  .hint = "add `sql: |` with the batch SQL",
	  .doc_type = "SQL",
	  .help = "one statement given the batch's keys as `$1` (bigint[]) returning `source_id, target_table, "
		  "target_id` for every row it wrote" },
};

const struct yw_table config_backfill_keys = YW_TABLE(backfill_fields, NULL);

void config_backfill_release(struct cfg_backfill *b)
{
	free(b->name);
	free(b->file);
	free(b->description);
	free(b->source_table);
	free(b->source_key);
	for (size_t i = 0; i < b->ntargets; i++)
		free(b->targets[i]);
	free(b->targets);
	free(b->sql);
	for (size_t i = 0; i < b->nchecks; i++) {
		free(b->checks[i].name);
		free(b->checks[i].sql);
	}
	free(b->checks);
	memset(b, 0, sizeof *b);
}

int config_parse_backfill(const char *path, const char *name, char *const *owned, size_t nowned, struct cfg_backfill *b)
{
	memset(b, 0, sizeof *b);
	b->batch_size = 1000;
	b->statement_timeout = 60;
	b->name = xstrdup(name);
	b->file = xstrdup(path);
	struct bf_ctx c = { owned, nowned };
	struct yw_doc f;
	struct yw_walk w = { &f, &c };
	int rc = yw_load(&f, path, &config_backfill_keys);
	if (!rc) {
		char *where = xstrfmt("backfill \"%s\"", name);
		rc = yw_walk_map(&w, yw_root(&f), &config_backfill_keys, where, b);
		free(where);
	}
	yw_release(&f);
	if (rc) {
		config_backfill_release(b);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

int config_load_backfill(const struct cfg_project *p, const char *name, struct cfg_backfill *b)
{
	memset(b, 0, sizeof *b);
	if (!name_valid(NAME_WORD, name)) {
		fail("invalid backfill name \"%s\"", yw_show(name));
		fail_hint("a backfill is the file %s/NAME.yml; NAME is 1 to 63 of [A-Za-z0-9_-]", p->backfills_dir);
		return fail_status(EXIT_USAGE);
	}
	char *path = xstrfmt("%s/%s.yml", p->backfills_dir, name);
	struct stat sb;
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fail("unknown backfill \"%s\"", name);
		fail_detail("no file \"%s\"", path);
		fail_hint("create it (docs/backfill.md), or check paths.backfills in padctl.yml");
		free(path);
		return fail_status(EXIT_USAGE);
	}
	int rc = config_parse_backfill(path, name, p->owned, p->nowned, b);
	free(path);
	return rc;
}

#include "sql.h"

#include <ctype.h>
#include <jansson.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sqlstream.h"

size_t sql_skip_blank(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			i++;
		} else if (c == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			/* PostgreSQL's block comments nest; an unterminated one is not blank */
			size_t start = i;
			int depth = 0;
			do {
				if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			} while (depth > 0 && i < len);
			if (depth > 0)
				return start;
		} else {
			break;
		}
	}
	return i;
}

/* words that can start a statement sql_stmt_kind cares about */
static const char *const first_words[] = {
	"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare", "set", "reset",
	NULL,
};

/* first_word_in tells whether the first word of s (after blanks and
 * comments; letters, digits, _ and $, as an identifier goes on) is one of
 * words, in any case */
static int first_word_in(const char *s, size_t len, const char *const *words)
{
	size_t i = sql_skip_blank(s, len), w = i;
	while (w < len && (isalnum((unsigned char)s[w]) || s[w] == '_' || s[w] == '$'))
		w++;
	for (const char *const *k = words; *k; k++)
		if (strlen(*k) == w - i && strncasecmp(*k, s + i, w - i) == 0)
			return 1;
	return 0;
}

static int candidate(const char *s, size_t len)
{
	return first_word_in(s, len, first_words);
}

static int set_kind(json_t *vs)
{
	const char *name = json_string_value(json_object_get(vs, "name"));
	if (!name)
		return SQL_KIND_SET_OTHER; /* RESET ALL */
	if (strcmp(name, "default_transaction_read_only") == 0 || strcmp(name, "transaction_read_only") == 0 ||
	    strcmp(name, "TRANSACTION") == 0 || strcmp(name, "SESSION CHARACTERISTICS") == 0 ||
	    strcmp(name, "TRANSACTION SNAPSHOT") == 0)
		return SQL_KIND_SET_READ_ONLY;
	if (strcmp(name, "role") == 0 || strcmp(name, "session_authorization") == 0)
		return SQL_KIND_SET_ROLE;
	return SQL_KIND_SET_OTHER;
}

json_t *sql_parse_tree(const char *text, size_t len)
{
	char *s = xstrndup(text, len);
	PgQueryParseResult r = pg_query_parse(s);
	free(s);
	json_t *tree = !r.error && r.parse_tree ? json_loads(r.parse_tree, 0, NULL) : NULL;
	pg_query_free_parse_result(r);
	return tree;
}

json_t *sql_first_node(json_t *tree, const char *type)
{
	return json_object_get(json_object_get(json_array_get(json_object_get(tree, "stmts"), 0), "stmt"), type);
}

int sql_stmt_kind(const char *stmt, size_t len)
{
	if (!candidate(stmt, len))
		return SQL_KIND_OTHER;
	json_t *tree = sql_parse_tree(stmt, len), *set;
	int kind = SQL_KIND_OTHER;
	if (sql_first_node(tree, "TransactionStmt"))
		kind = SQL_KIND_TX_CONTROL;
	else if ((set = sql_first_node(tree, "VariableSetStmt")))
		kind = set_kind(set);
	json_decref(tree);
	return kind;
}

/* the first words of the statements sql_stmt_wrappable takes without
 * parsing them: queries and data changes, which run in a transaction block
 * as they run alone */
static const char *const wrap_words[] = {
	"select", "insert", "update", "delete", "merge", "with", "values", "table", "copy", "execute", "explain", NULL,
};

static int has_word(const char *text, size_t len, const char *word);

static const char *const do_word[] = { "do", NULL };

int sql_stmt_wrappable(const char *stmt, size_t len)
{
	if (first_word_in(stmt, len, wrap_words))
		return 1;
	if (!first_word_in(stmt, len, do_word))
		return 0;
	/* DO: its body, which may commit (a batched backfill does), or call a procedure that does */
	json_t *tree = sql_parse_tree(stmt, len), *arg;
	int ok = 0;
	size_t k;
	json_array_foreach (json_object_get(sql_first_node(tree, "DoStmt"), "args"), k, arg) {
		json_t *de = json_object_get(arg, "DefElem");
		const char *name = json_string_value(json_object_get(de, "defname"));
		const char *body = json_string_value(
			json_object_get(json_object_get(json_object_get(de, "arg"), "String"), "sval"));
		/* anywhere, in any case, in any word (PL/Perl's spi_commit, a committed flag):
		 * a DO block it keeps out only runs as it did before */
		if (name && body && strcmp(name, "as") == 0)
			ok = !has_word(body, strlen(body), "commit") && !has_word(body, strlen(body), "rollback") &&
			     !has_word(body, strlen(body), "call");
	}
	if (json_array_size(json_object_get(tree, "stmts")) != 1)
		ok = 0;
	json_decref(tree);
	return ok;
}

char *sql_canonical(const char *stmt)
{
	PgQueryProtobufParseResult r = pg_query_parse_protobuf(stmt);
	char *out = NULL;
	if (!r.error) {
		PgQueryDeparseResult d = pg_query_deparse_protobuf(r.parse_tree);
		if (!d.error && d.query)
			out = xstrdup(d.query);
		pg_query_free_deparse_result(d);
	}
	pg_query_free_protobuf_parse_result(r);
	return out;
}

static int token_kind(const PgQuery__ScanToken *t)
{
	switch (t->token) {
	case PG_QUERY__TOKEN__SCONST:
	case PG_QUERY__TOKEN__USCONST:
	case PG_QUERY__TOKEN__BCONST:
	case PG_QUERY__TOKEN__XCONST:
		return SQL_TOKEN_STRING;
	case PG_QUERY__TOKEN__IDENT:
	case PG_QUERY__TOKEN__UIDENT:
		return SQL_TOKEN_WORD;
	case PG_QUERY__TOKEN__SQL_COMMENT:
		return SQL_TOKEN_LINE_COMMENT;
	case PG_QUERY__TOKEN__C_COMMENT:
		return SQL_TOKEN_BLOCK_COMMENT;
	default:
		return t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD ? SQL_TOKEN_WORD : SQL_TOKEN_OTHER;
	}
}

int sql_scan(const char *text, struct sql_token **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	PgQueryScanResult r = pg_query_scan(text);
	PgQuery__ScanResult *sr =
		r.error ? NULL : pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
	int rc = sr ? 0 : -1;
	size_t len = strlen(text), at = 0;
	if (sr) {
		*out = xcalloc(sr->n_tokens ? sr->n_tokens : 1, sizeof **out);
		for (size_t i = 0; i < sr->n_tokens && !rc; i++) {
			const PgQuery__ScanToken *t = sr->tokens[i];
			/* ranges in order and inside the text, or the text is not cut at all */
			if (t->start < 0 || t->end < t->start || (size_t)t->start < at || (size_t)t->end > len) {
				rc = -1;
				break;
			}
			(*out)[i] = (struct sql_token){ (size_t)t->start, (size_t)t->end, token_kind(t) };
			at = (size_t)t->end;
		}
		*n = rc ? 0 : sr->n_tokens;
		pg_query__scan_result__free_unpacked(sr, NULL);
	}
	pg_query_free_scan_result(r);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

const char *sql_kind_name(int kind)
{
	switch (kind) {
	case SQL_KIND_TX_CONTROL:
		return "transaction control";
	case SQL_KIND_SET_READ_ONLY:
		return "a change of the transaction's read-only mode";
	case SQL_KIND_SET_ROLE:
		return "a change of role";
	case SQL_KIND_SET_OTHER:
		return "a session setting";
	default:
		return "a statement";
	}
}

/* starts_candidate tells whether some statement of text may begin with a
 * word of interest: one at the start, right after a semicolon, or after a
 * line that starts with a backslash (the "\." that ends COPY data, a
 * \restrict line: sqlstream.h), where no semicolon comes before it. Quoting
 * is ignored, so this only ever says yes too often; the parser decides. */
static int starts_candidate(const char *text, size_t len)
{
	size_t line = 0; /* where the line before position i starts */
	for (size_t i = 0; i < len; i++) {
		int at = i == 0 || text[i - 1] == ';';
		if (i > 0 && text[i - 1] == '\n') {
			at = at || text[line] == '\\';
			line = i;
		}
		if (at && candidate(text + i, len - i))
			return 1;
	}
	return 0;
}

static int line_at(const char *text, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

/* each_stmt hands fn every statement of text (NUL-terminated) in order, in
 * bounded memory (sqlstream.h: one chunk's parse trees at a time; COPY data
 * is skipped); it stops at the first non-zero answer and returns it. Text the
 * parser rejects ends the walk with 0: the server rejects it before running it. */
static int each_stmt(const char *text, size_t len, int (*fn)(void *arg, const char *text, size_t off, size_t n),
		     void *arg)
{
	struct sql_stream s;
	struct sql_piece p;
	int rc = 0;
	sql_stream_init(&s, text, len);
	while (!rc && sql_stream_next(&s, &p) == 1)
		if (!p.copy_data)
			rc = fn(arg, text, p.off, p.len);
	sql_stream_release(&s);
	return rc;
}

struct find_kind {
	int kind;
	size_t off;
};

static int find_kind_one(void *arg, const char *text, size_t off, size_t n)
{
	struct find_kind *fk = arg;
	if (sql_stmt_kind(text + off, n) != fk->kind)
		return 0;
	fk->off = off + sql_skip_blank(text + off, n);
	return 1;
}

int sql_find_kind(const char *text, size_t len, int kind, int *line)
{
	if (!starts_candidate(text, len))
		return 0;
	struct find_kind fk = { kind, 0 };
	if (!each_stmt(text, len, find_kind_one, &fk))
		return 0;
	*line = line_at(text, fk.off);
	return 1;
}

static int word_is(const char *s, size_t len, const char *word)
{
	size_t i = sql_skip_blank(s, len), w = strlen(word);
	return len - i >= w && strncasecmp(s + i, word, w) == 0 &&
	       (len - i == w || !((s[i + w] >= 'a' && s[i + w] <= 'z') || (s[i + w] >= 'A' && s[i + w] <= 'Z')));
}

/* has_word tells whether word (lower case) occurs in text in any case */
static int has_word(const char *text, size_t len, const char *word)
{
	size_t w = strlen(word);
	for (size_t i = 0; i + w <= len; i++)
		if ((text[i] | 0x20) == word[0] && strncasecmp(text + i, word, w) == 0)
			return 1;
	return 0;
}

static char *json_strdup(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v && *v ? xstrdup(v) : NULL;
}

struct created_indexes {
	struct sql_index *v;
	size_t n, cap;
	size_t line_off; /* lines are counted incrementally: line is the line of line_off */
	int line;
};

static int created_index_one(void *arg, const char *text, size_t off, size_t sl)
{
	struct created_indexes *ci = arg;
	if (!word_is(text + off, sl, "create"))
		return 0;
	char *one = xstrndup(text + off, sl);
	PgQueryParseResult r = pg_query_parse(one);
	free(one);
	json_t *tree = !r.error && r.parse_tree ? json_loads(r.parse_tree, 0, NULL) : NULL;
	json_t *node =
		json_object_get(json_object_get(json_array_get(json_object_get(tree, "stmts"), 0), "stmt"), "IndexStmt");
	json_t *rel = json_object_get(node, "relation");
	if (node && json_string_value(json_object_get(rel, "relname"))) {
		if (ci->n == ci->cap) {
			ci->cap = ci->cap ? ci->cap * 2 : 4;
			ci->v = xrealloc(ci->v, ci->cap * sizeof *ci->v);
		}
		struct sql_index *x = &ci->v[ci->n++];
		x->table_schema = json_strdup(rel, "schemaname");
		x->table = json_strdup(rel, "relname");
		x->name = json_strdup(node, "idxname");
		x->concurrent = json_is_true(json_object_get(node, "concurrent"));
		x->if_not_exists = json_is_true(json_object_get(node, "if_not_exists"));
		size_t at = off + sql_skip_blank(text + off, sl);
		ci->line += line_at(text + ci->line_off, at - ci->line_off) - 1;
		ci->line_off = at;
		x->line = ci->line;
	}
	json_decref(tree);
	pg_query_free_parse_result(r);
	return 0;
}

void sql_created_indexes(const char *text, size_t len, struct sql_index **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	/* most migrations create no index: do not split those at all */
	if (!has_word(text, len, "index"))
		return;
	struct created_indexes ci = { NULL, 0, 0, 0, 1 };
	each_stmt(text, len, created_index_one, &ci);
	*out = ci.v;
	*n = ci.n;
}

void sql_indexes_free(struct sql_index *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].table_schema);
		free(v[i].table);
		free(v[i].name);
	}
	free(v);
}

size_t utf8_invalid_at(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	while (i < len) {
		/* ASCII eight bytes at a time: a 100 MB migration is checked at load */
		while (len - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			i += 8;
		}
		if (i >= len)
			break;
		unsigned c = s[i];
		size_t need;
		unsigned min;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
			min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			min = 0x10000;
		} else {
			return i;
		}
		if (len - i <= need)
			return i;
		unsigned cp = c & (0x3Fu >> need);
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += need + 1;
	}
	return len;
}

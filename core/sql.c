#include "sql.h"

#include <jansson.h>
#include <pg_query.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "migrations.h"

/* words that can start a statement sql_stmt_kind cares about */
static const char *const first_words[] = {
	"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare", "set", "reset",
	NULL,
};

static int candidate(const char *s, size_t len)
{
	size_t i = sql_skip_blank(s, len), w = i;
	while (w < len && ((s[w] >= 'a' && s[w] <= 'z') || (s[w] >= 'A' && s[w] <= 'Z')))
		w++;
	for (const char *const *k = first_words; *k; k++)
		if (strlen(*k) == w - i && strncasecmp(*k, s + i, w - i) == 0)
			return 1;
	return 0;
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

int sql_stmt_kind(const char *stmt, size_t len)
{
	if (!candidate(stmt, len))
		return SQL_KIND_OTHER;
	char *text = xstrndup(stmt, len);
	PgQueryParseResult r = pg_query_parse(text);
	free(text);
	int kind = SQL_KIND_OTHER;
	if (!r.error && r.parse_tree) {
		json_t *tree = json_loads(r.parse_tree, 0, NULL);
		json_t *s0 = json_array_get(json_object_get(tree, "stmts"), 0);
		json_t *node = json_object_get(s0, "stmt");
		if (json_object_get(node, "TransactionStmt"))
			kind = SQL_KIND_TX_CONTROL;
		else if (json_object_get(node, "VariableSetStmt"))
			kind = set_kind(json_object_get(node, "VariableSetStmt"));
		json_decref(tree);
	}
	pg_query_free_parse_result(r);
	return kind;
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

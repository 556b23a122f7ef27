/* fuzz_sql_kind: statement classification (sql.c) over libpg_query's split,
 * as db_exec and the migration loader use it: the kind, and whether the
 * guard may run the statement in a transaction of its own. */
#include <pg_query.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql = xstrndup((const char *)data, size); /* stops at a NUL byte, as C strings do */
	PgQuerySplitResult split = pg_query_split_with_parser(sql);
	if (!split.error) {
		size_t len = strlen(sql);
		for (int i = 0; i < split.n_stmts; i++) {
			const PgQuerySplitStmt *s = split.stmts[i];
			if (s->stmt_location < 0 || s->stmt_len < 0 || (size_t)s->stmt_location + (size_t)s->stmt_len > len)
				abort(); /* the split must stay inside the text */
			int kind = sql_stmt_kind(sql + s->stmt_location, (size_t)s->stmt_len);
			if (!sql_kind_name(kind))
				abort();
			int wrap = sql_stmt_wrappable(sql + s->stmt_location, (size_t)s->stmt_len);
			if (wrap != 0 && wrap != 1)
				abort();
			/* transaction control never runs inside padctl's own transaction */
			if (wrap && kind == SQL_KIND_TX_CONTROL)
				abort();
		}
	}
	pg_query_free_split_result(split);
	/* the scanner split as well: it cuts differently around errors */
	PgQuerySplitResult scan = pg_query_split_with_scanner(sql);
	pg_query_free_split_result(scan);
	free(sql);
	return 0;
}

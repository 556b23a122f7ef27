/* sql: PostgreSQL's own parser (libpg_query) applied to the SQL padctl runs:
 * what kind of statement a piece of text is, so the host can refuse
 * transaction control inside a transaction it holds and changes of the
 * read-only settings in a dry run, and load can refuse transaction control in
 * a transactional migration. One place classifies statements; nothing else
 * guesses from keywords. */
#ifndef PADCTL_SQL_H
#define PADCTL_SQL_H

#include <stddef.h>

enum sql_kind {
	SQL_KIND_OTHER = 0,
	/* BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT,
	 * RELEASE, ROLLBACK TO, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED */
	SQL_KIND_TX_CONTROL,
	/* SET/RESET of default_transaction_read_only or transaction_read_only,
	 * SET TRANSACTION ..., SET SESSION CHARACTERISTICS AS TRANSACTION ... */
	SQL_KIND_SET_READ_ONLY,
	/* SET ROLE, RESET ROLE, SET/RESET SESSION AUTHORIZATION */
	SQL_KIND_SET_ROLE,
	/* any other SET/RESET (search_path, check_function_bodies, RESET ALL, ...) */
	SQL_KIND_SET_OTHER,
};

/* sql_stmt_kind classifies one statement: stmt holds len bytes of exactly
 * one statement as pg_query_split_with_parser cut it (leading comments and
 * white space allowed). Text the parser rejects is SQL_KIND_OTHER (the server
 * will reject it too). Cheap for the common case: the parser runs only when
 * the first word could start a statement of interest. */
int sql_stmt_kind(const char *stmt, size_t len);

/* sql_kind_name returns "transaction control", "a change of the read-only
 * settings", ... for messages. */
const char *sql_kind_name(int kind);

#endif

/* sql: PostgreSQL's own parser (libpg_query) applied to the SQL padctl runs:
 * what kind of statement a piece of text is, so the host can refuse
 * transaction control inside a transaction it holds and changes of the
 * read-only settings in a dry run, and load can refuse transaction control in
 * a transactional migration. One place classifies statements; nothing else
 * guesses from keywords. */
#ifndef PADCTL_SQL_H
#define PADCTL_SQL_H

#include <jansson.h>
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

/* sql_parse_tree parses len bytes of SQL with PostgreSQL's parser into the
 * JSON tree libpg_query prints ({"stmts": [{"stmt": {"CopyStmt": {...}}},
 * ...]}); NULL when the parser rejects it. Free it with json_decref.
 * sql_first_node is the first statement's node when it is of type
 * ("CopyStmt"), else NULL (borrowed from tree). */
json_t *sql_parse_tree(const char *text, size_t len);
json_t *sql_first_node(json_t *tree, const char *type);

/* sql_stmt_kind classifies one statement: stmt holds len bytes of exactly
 * one statement as pg_query_split_with_parser cut it (leading comments and
 * white space allowed). Text the parser rejects is SQL_KIND_OTHER (the server
 * will reject it too). Cheap for the common case: the parser runs only when
 * the first word could start a statement of interest. */
int sql_stmt_kind(const char *stmt, size_t len);

/* sql_stmt_wrappable tells whether one statement (as sql_stmt_kind takes it),
 * run outside a transaction, may run inside BEGIN ... COMMIT of padctl's
 * own instead, with the same effect: a query or a data change (SELECT,
 * INSERT, UPDATE, DELETE, MERGE, WITH, VALUES, TABLE, COPY, EXECUTE,
 * EXPLAIN) or a DO block whose body has no COMMIT, ROLLBACK or CALL. Not
 * CALL (a procedure may commit), nor anything that refuses a transaction block
 * (CREATE INDEX CONCURRENTLY, VACUUM) or needs one (LOCK, DECLARE): 0. The
 * guard runs what it can see the rows of this way (guard.h). */
int sql_stmt_wrappable(const char *stmt, size_t len);

/* sql_kind_name returns "transaction control", "a change of the read-only
 * settings", ... for messages. */
const char *sql_kind_name(int kind);

/* sql_find_kind looks for a statement of the given kind in text (a whole
 * NUL-terminated file, split with PostgreSQL's parser in bounded memory,
 * COPY data skipped) and returns 1 with *line set to the
 * 1-based line where the first one starts, or 0 when there is none. Text the
 * parser cannot split returns 0: the server rejects it whole, before running
 * any of it. Texts where no statement can start with a word of interest are
 * answered without running the parser. */
int sql_find_kind(const char *text, size_t len, int kind, int *line);

/* One CREATE INDEX statement of a migration, as the parser read it. An
 * index always lives in its table's schema; table_schema is NULL when the
 * statement leaves the table unqualified (the server's search_path decides). */
struct sql_index {
	char *table_schema;  /* NULL: unqualified */
	char *table;
	char *name;          /* NULL: the statement names no index (the server picks one) */
	int concurrent;      /* CREATE INDEX CONCURRENTLY */
	int if_not_exists;
	int line;            /* 1-based line of the statement in text */
};

/* sql_created_indexes lists the CREATE INDEX statements of text (NUL-terminated;
 * split as sql_find_kind does), in order
 * (*out is NULL and *n 0 when there are none, or when the parser cannot
 * split the text). Free with sql_indexes_free. */
void sql_created_indexes(const char *text, size_t len, struct sql_index **out, size_t *n);
void sql_indexes_free(struct sql_index *v, size_t n);

/* utf8_invalid_at returns the byte offset of the first byte of text that
 * does not start a well-formed UTF-8 sequence (overlong forms, surrogates
 * and code points past U+10FFFF included), or len when all of it is valid. */
size_t utf8_invalid_at(const char *text, size_t len);

/* sql_canonical returns stmt (one statement) as libpg_query prints it back
 * from its parse tree (newly allocated): the same statement written with
 * other white space, line breaks or redundant parentheses gives the same
 * text. NULL when the parser cannot read it. */
char *sql_canonical(const char *stmt);

/* One token of SQL text as PostgreSQL's own scanner cuts it (libpg_query's
 * pg_query_scan, which lexes without parsing, so any text of SQL's lexical
 * form is cut: a PL/pgSQL body too, whose language is lexed by the same
 * scanner): the bytes [start, end) of the text. */
enum sql_token_kind {
	SQL_TOKEN_OTHER = 0, /* an operator, a number, punctuation, a parameter */
	SQL_TOKEN_WORD, /* a keyword or an identifier, quoted or not */
	SQL_TOKEN_STRING, /* a string constant: '...', E'...', B'...', X'...', U&'...', $tag$...$tag$ */
	SQL_TOKEN_LINE_COMMENT, /* -- to the end of the line (the newline not included) */
	SQL_TOKEN_BLOCK_COMMENT, /* slash-star ... star-slash */
};

struct sql_token {
	size_t start, end;
	int kind; /* enum sql_token_kind */
};

/* sql_scan cuts text (NUL-terminated) into tokens, in order (*out newly
 * allocated, *n of them; the bytes between two tokens are white space, or
 * text the scanner gave a short range, as it does for U&'...' and U&"...",
 * which the caller keeps as it is). -1 when the scanner refuses the text (an
 * unterminated quote or comment). */
int sql_scan(const char *text, struct sql_token **out, size_t *n);

/* sql_skip_blank returns how many leading bytes of text are white space and comments. */
size_t sql_skip_blank(const char *text, size_t len);

#endif

/* sqlstream: the statements of an SQL file in bounded memory, as psql reads
 * a file.
 *
 * libpg_query's split holds the parse trees of everything it splits until it
 * returns (a 100 MB file of INSERTs takes 3 GB), so the text is cut at
 * statement boundaries into chunks of about SQL_STREAM_CHUNK bytes that are
 * split one at a time. A light scanner of PostgreSQL's lexical rules (quotes,
 * dollar quotes, comments, parentheses) finds the cuts; it never decides what
 * a statement is: every chunk goes through libpg_query, and a cut the scanner
 * got wrong (inside BEGIN ATOMIC ... END) makes the chunk fail at its end and
 * grow. COPY ... FROM STDIN ends a chunk, and the lines after it up to a line
 * "\." (or the end) are its inline data, as pg_dump writes them. psql's
 * \restrict and \unrestrict lines (pg_dump writes them around a dump) are
 * skipped; any other backslash command is an error. */
#ifndef PADCTL_SQLSTREAM_H
#define PADCTL_SQLSTREAM_H

#include <pg_query.h>
#include <stddef.h>

#include "buf.h"

#define SQL_STREAM_CHUNK ((size_t)1 << 20)

struct sql_piece {
	size_t off, len; /* bytes of the text */
	int copy_data;   /* inline data of the COPY statement before it, not SQL */
};

struct sql_stream {
	const char *text;
	size_t len;
	size_t pos; /* where the next chunk starts */
	size_t want; /* chunk size: SQL_STREAM_CHUNK (the fuzz target lowers it to reach the regrowth) */
	struct buf chunk;
	PgQuerySplitResult split;
	int have_split, next;
	size_t base;
	int copy_pending;
	struct sql_piece copy;
	/* after sql_stream_next returned -1: the message, its byte offset, and
	 * whether it is a backslash command rather than a syntax error */
	char *err;
	size_t err_off;
	int err_meta;
	int saw_copy; /* inline COPY data came before */
	/* set after sql_stream_init to read past statements that do not parse
	 * (lint): a chunk the parser cannot split is cut at every ';' token of
	 * PostgreSQL's scanner (pg_query_scan) instead, whatever the grammar, so
	 * the statement that does not parse fails on its own and the others are
	 * still handed out. A ';' inside CREATE RULE ... (a; b) or BEGIN ATOMIC
	 * ... END cuts too: the reader joins a piece that fails at its very end
	 * with the next. Only a token the scanner cannot end (a quote or comment
	 * left open) still stops the stream: -1 with err_off at the statement
	 * it starts in. */
	int lenient;
	struct sql_piece *cuts; /* lenient: the pieces of a chunk the parser could not split */
	int ncuts, cuts_cap;
};

/* sql_stream_init starts reading text (len bytes, NUL-terminated); text is
 * borrowed until sql_stream_release. */
void sql_stream_init(struct sql_stream *s, const char *text, size_t len);
/* sql_stream_next hands out the next piece: a statement (as libpg_query's
 * split cuts it: leading blanks and comments included) or the inline data of
 * the COPY before it. Returns 1, 0 at the end, -1 on a syntax error or a
 * backslash command (s->err, s->err_off). */
int sql_stream_next(struct sql_stream *s, struct sql_piece *p);
/* sql_stream_copy_data tells whether the statement sql_stream_next just
 * handed out is a COPY ... FROM STDIN with inline data, and gives that data
 * (the next piece, which sql_stream_next still hands out). */
int sql_stream_copy_data(const struct sql_stream *s, struct sql_piece *data);
/* sql_stream_release frees what the stream holds. */
void sql_stream_release(struct sql_stream *s);

/* sql_body_of finds the literal holding the body of the DO block or CREATE
 * FUNCTION/PROCEDURE statement at text + off (len bytes): returns 1 and the
 * body's first byte in *body; *fn gets the function's name (last part,
 * folded as the server folds it; newly allocated) or NULL for DO. 0: neither
 * kind of statement, or no literal body. */
int sql_body_of(const char *text, size_t off, size_t len, size_t *body, char **fn);

/* sql_byte_offset converts PostgreSQL's 1-based character position in text
 * (len bytes of UTF-8) to a byte offset. */
size_t sql_byte_offset(const char *text, size_t len, long chars);

#endif

#include "sqlstream.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sql.h"

#include <pg_query/pg_query.pb-c.h>

/* ---------------------------------------------------------------- lexing
 *
 * A light scanner of PostgreSQL's lexical rules (quotes, dollar quotes,
 * comments, parentheses): enough to cut a big text at statement boundaries
 * without parsing it, to find the COPY ... FROM STDIN data that follows a
 * statement, and to find the literal that holds a DO block's or a function's
 * body. It never decides what runs: every piece it cuts goes through
 * libpg_query, and a wrong cut only makes a piece fail to parse and grow. */

enum tok { TOK_BLANK, TOK_WORD, TOK_STRING, TOK_DOLLAR, TOK_OTHER };

static int word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
	       c >= 0x80;
}

static int word_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static size_t skip_quoted(const char *t, size_t len, size_t i, char q, int backslash)
{
	for (i++; i < len; i++) {
		if (backslash && t[i] == '\\' && i + 1 < len)
			i++;
		else if (t[i] == q && i + 1 < len && t[i + 1] == q)
			i++;
		else if (t[i] == q)
			return i + 1;
	}
	return len;
}

/* dollar_tag returns the length of the delimiter ($$ or $tag$) at t + i, 0 when there is none */
static size_t dollar_tag(const char *t, size_t len, size_t i)
{
	size_t j = i + 1;
	if (j < len && word_start((unsigned char)t[j]))
		while (j < len && word_char((unsigned char)t[j]) && t[j] != '$')
			j++;
	return j < len && t[j] == '$' ? j + 1 - i : 0;
}

/* lex returns the end of the token at t + i and its kind in *kind; *body
 * gets the offset of a string's contents */
static size_t lex(const char *t, size_t len, size_t i, int *kind, size_t *body)
{
	unsigned char c = (unsigned char)t[i];
	*kind = TOK_OTHER;
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
	    (c == '-' && i + 1 < len && t[i + 1] == '-') || (c == '/' && i + 1 < len && t[i + 1] == '*')) {
		size_t n = sql_skip_blank(t + i, len - i);
		*kind = TOK_BLANK;
		return i + (n ? n : len - i); /* an unterminated comment runs to the end */
	}
	if (c == '\'') {
		*kind = TOK_STRING;
		*body = i + 1;
		return skip_quoted(t, len, i, '\'', 0);
	}
	if (c == '"')
		return skip_quoted(t, len, i, '"', 0);
	if (c == '$') {
		size_t n = dollar_tag(t, len, i);
		if (!n)
			return i + 1;
		*kind = TOK_DOLLAR;
		*body = i + n;
		for (size_t j = i + n; j + n <= len; j++)
			if (t[j] == '$' && memcmp(t + j, t + i, n) == 0)
				return j + n;
		return len;
	}
	if (word_start(c)) {
		size_t j = i + 1;
		while (j < len && word_char((unsigned char)t[j]))
			j++;
		if (j == i + 1 && (c == 'e' || c == 'E') && j < len && t[j] == '\'') {
			*kind = TOK_OTHER; /* E'...': backslash escapes, not a body we map lines in */
			return skip_quoted(t, len, j, '\'', 1);
		}
		*kind = TOK_WORD;
		return j;
	}
	return i + 1;
}

static int word_is(const char *t, size_t a, size_t b, const char *w)
{
	return b - a == strlen(w) && strncasecmp(t + a, w, b - a) == 0;
}

size_t sql_byte_offset(const char *text, size_t len, long chars)
{
	size_t i = 0;
	for (long c = 1; c < chars && i < len; c++) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

int sql_body_of(const char *t, size_t s, size_t n, size_t *body, char **fn)
{
	size_t i = s, end = s + n, prev_word_a = 0, prev_word_b = 0;
	int kind, words = 0, depth = 0, is_do = 0, is_create = 0, is_fn = 0, name_next = 0;
	*fn = NULL;
	while (i < end) {
		size_t b = 0, j = lex(t, end, i, &kind, &b);
		if (kind == TOK_BLANK) {
			i = j;
			continue;
		}
		if (kind == TOK_WORD && depth == 0) {
			if (words == 0) {
				is_do = word_is(t, i, j, "do");
				is_create = word_is(t, i, j, "create");
				if (!is_do && !is_create)
					return 0;
			} else if (is_create && words < 4 &&
				   (word_is(t, i, j, "function") || word_is(t, i, j, "procedure"))) {
				name_next = is_fn = 1;
			} else if (is_create && !is_fn && words >= 4) {
				return 0; /* CREATE TABLE, VIEW, ...: no body */
			} else if (name_next) {
				/* schema.name or name: keep the last part, folded to lower case */
				free(*fn);
				*fn = xstrndup(t + i, j - i);
				for (char *p = *fn; *p; p++)
					if (*p >= 'A' && *p <= 'Z')
						*p = (char)(*p - 'A' + 'a');
			}
			prev_word_a = i;
			prev_word_b = j;
			words++;
		} else if (name_next && kind == TOK_OTHER && t[i] == '"' && depth == 0) {
			free(*fn);
			*fn = xstrndup(t + i + 1, j - i >= 2 ? j - i - 2 : 0);
		} else if (kind == TOK_OTHER && t[i] == '(') {
			if (depth == 0 && name_next)
				name_next = 0;
			depth++;
		} else if (kind == TOK_OTHER && t[i] == ')') {
			depth--;
		} else if ((kind == TOK_STRING || kind == TOK_DOLLAR) && depth == 0) {
			if (is_do || (is_fn && !name_next && prev_word_b && word_is(t, prev_word_a, prev_word_b, "as"))) {
				*body = b;
				return 1;
			}
		}
		i = j;
	}
	free(*fn);
	*fn = NULL;
	return 0;
}

/* ---------------------------------------------------------------- the stream */

enum cut { CUT_SIZE, CUT_END, CUT_COPY, CUT_META };

static int copy_from_stdin(const char *t, size_t n)
{
	json_t *tree = sql_parse_tree(t, n);
	json_t *c = sql_first_node(tree, "CopyStmt");
	int yes = c && json_is_true(json_object_get(c, "is_from")) && !json_object_get(c, "filename");
	json_decref(tree);
	return yes;
}

/* scan_cut finds where the chunk that starts at from ends: at the first
 * top-level ';' past want bytes, after a COPY ... FROM STDIN, before a
 * backslash command, or at the end. */
static size_t scan_cut(const char *t, size_t len, size_t from, size_t want, int *cut)
{
	size_t i = from, stmt = from;
	int depth = 0, at_start = 1, is_copy = 0, kind;
	while (i < len) {
		size_t b, j = lex(t, len, i, &kind, &b);
		if (kind == TOK_BLANK) {
			i = j;
			continue;
		}
		if (at_start && t[i] == '\\' && (i == 0 || t[i - 1] == '\n')) {
			*cut = CUT_META;
			return i;
		}
		if (at_start) {
			stmt = i;
			is_copy = kind == TOK_WORD && word_is(t, i, j, "copy");
		}
		at_start = 0;
		if (t[i] == '(' && kind == TOK_OTHER)
			depth++;
		else if (t[i] == ')' && kind == TOK_OTHER)
			depth--;
		else if (t[i] == ';' && kind == TOK_OTHER && depth <= 0) {
			depth = 0;
			at_start = 1;
			if (is_copy && copy_from_stdin(t + stmt, j - stmt)) {
				*cut = CUT_COPY;
				return j;
			}
			if (j - from >= want) {
				*cut = CUT_SIZE;
				return j;
			}
		}
		i = j;
	}
	*cut = CUT_END;
	return len;
}

static size_t next_line(const char *t, size_t len, size_t i)
{
	const char *nl = memchr(t + i, '\n', len - i);
	return nl ? (size_t)(nl - t) + 1 : len;
}

void sql_stream_init(struct sql_stream *s, const char *text, size_t len)
{
	memset(s, 0, sizeof *s);
	s->text = text;
	s->len = len;
	s->want = SQL_STREAM_CHUNK;
}

void sql_stream_release(struct sql_stream *s)
{
	if (s->have_split)
		pg_query_free_split_result(s->split);
	s->have_split = 0;
	buf_release(&s->chunk);
	free(s->cuts);
	s->cuts = NULL;
	free(s->err);
	s->err = NULL;
}

static int stream_error(struct sql_stream *s, size_t off, char *msg)
{
	s->err = msg;
	s->err_off = off;
	return -1;
}

/* add_cut keeps the piece of t from start to end (offsets in t, which
 * starts at s->pos), unless it is only blanks and comments */
static void add_cut(struct sql_stream *s, const char *t, size_t start, size_t end)
{
	if (sql_skip_blank(t + start, end - start) >= end - start)
		return;
	if (s->ncuts == s->cuts_cap) {
		s->cuts_cap = s->cuts_cap ? s->cuts_cap * 2 : 64;
		s->cuts = xrealloc(s->cuts, s->cuts_cap * sizeof *s->cuts);
	}
	s->cuts[s->ncuts].off = s->pos + start;
	s->cuts[s->ncuts].len = end - start;
	s->cuts[s->ncuts].copy_data = 0;
	s->ncuts++;
}

/* lex_cuts cuts the n bytes at t at every ';' this file's own lexer (lex)
 * finds outside quotes, dollar quotes and comments: for text PostgreSQL
 * 15's scanner refuses although it is no quote or comment left open (a
 * later version's 0x10 or 1_000), whose other statements must still be
 * read. A piece the parser then cannot read is the reader's to report. */
static void lex_cuts(struct sql_stream *s, const char *t, size_t n)
{
	size_t i = 0, start = 0;
	while (i < n) {
		int kind;
		size_t body, j = lex(t, n, i, &kind, &body);
		if (kind == TOK_OTHER && t[i] == ';') {
			add_cut(s, t, start, i);
			start = j;
		}
		i = j;
	}
	add_cut(s, t, start, n);
}

/* scan_cuts cuts the n bytes at t at every ';' token of PostgreSQL's own
 * scanner (pg_query_scan), into s->cuts (offsets from s->pos); pieces of
 * only blanks and comments are left out. The text has to scan: -1 when it
 * does not, with the scanner's message in *msg (the caller's) and its
 * position in *at. */
static int scan_cuts(struct sql_stream *s, const char *t, size_t n, char **msg, size_t *at)
{
	PgQueryScanResult r = pg_query_scan(t);
	if (r.error) {
		*msg = xstrdup(r.error->message);
		*at = r.error->cursorpos > 0 ? sql_byte_offset(t, n, r.error->cursorpos) : 0;
		pg_query_free_scan_result(r);
		return -1;
	}
	PgQuery__ScanResult *sr = pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
	size_t ntok = sr ? sr->n_tokens : 0, start = 0;
	for (size_t i = 0; i <= ntok; i++) {
		size_t end = n, next = n;
		if (i < ntok) {
			if (sr->tokens[i]->token != PG_QUERY__TOKEN__ASCII_59)
				continue;
			end = (size_t)sr->tokens[i]->start;
			next = (size_t)sr->tokens[i]->end;
		}
		if (end > n || end < start)
			break;
		add_cut(s, t, start, end);
		start = next;
	}
	if (sr)
		pg_query__scan_result__free_unpacked(sr, NULL);
	pg_query_free_scan_result(r);
	return 0;
}

/* split_scanned cuts the chunk at every ';' token (sql_stream.lenient).
 * libpg_query's pg_query_split_with_scanner is not used: it drops a
 * statement with a parenthesis left open, with everything after it, and
 * one without a keyword, without a word. Cutting at every ';' also cuts
 * inside CREATE RULE ... (a; b) and BEGIN ATOMIC ... END, whose pieces then
 * fail at their very end: the reader joins them (lint does). A token the
 * scanner cannot end (a quote or comment left open) runs to the end of the
 * text: the pieces before the statement it starts in are cut, and s->err,
 * s->err_off say where reading stops. Text the scanner refuses for another
 * reason (a later version's number syntax) is cut by lex_cuts instead. */
static void split_scanned(struct sql_stream *s)
{
	const char *t = buf_str(&s->chunk);
	size_t n = s->chunk.len, e = 0;
	char *msg = NULL;
	s->ncuts = 0;
	s->next = 0;
	if (!scan_cuts(s, t, n, &msg, &e))
		return;
	if (strncmp(msg, "unterminated", 12) != 0) {
		free(msg);
		s->ncuts = 0;
		lex_cuts(s, t, n);
		return;
	}
	s->err = msg;
	s->err_off = s->pos + e;
	char *head = xstrndup(t, e), *again = NULL;
	size_t e2;
	if (scan_cuts(s, head, e, &again, &e2)) {
		free(again);
		s->ncuts = 0;
	} else if (s->ncuts && s->cuts[s->ncuts - 1].off + s->cuts[s->ncuts - 1].len == s->pos + e) {
		/* the last piece runs into the open token: its statement is where reading stops */
		const struct sql_piece *last = &s->cuts[--s->ncuts];
		s->err_off = last->off + sql_skip_blank(s->text + last->off, last->len);
	}
	free(head);
}

/* stream_chunk splits the next chunk; -1 on a syntax error (s->err) */
static int stream_chunk(struct sql_stream *s)
{
	int cut;
	size_t end = scan_cut(s->text, s->len, s->pos, s->want, &cut);
	size_t prev_err = (size_t)-1;
	for (;;) {
		buf_reset(&s->chunk);
		buf_add(&s->chunk, s->text + s->pos, end - s->pos);
		PgQuerySplitResult r = pg_query_split_with_parser(buf_str(&s->chunk));
		if (!r.error) {
			s->split = r;
				s->have_split = 1;
			s->next = 0;
			s->base = s->pos;
			break;
		}
		size_t e = s->pos + sql_byte_offset(buf_str(&s->chunk), s->chunk.len, r.error->cursorpos);
		/* a cut inside a construct the scanner does not know (BEGIN ATOMIC ... END) fails at the
		 * end of the chunk: grow it; an error that stays put is the text's own */
		if (cut != CUT_SIZE || e == prev_err) {
			if (s->lenient) {
				pg_query_free_split_result(r);
				split_scanned(s);
				if (s->err)
					return 0; /* its statements first, then the error */
				break;
			}
			char *msg = xstrdup(r.error->message);
			pg_query_free_split_result(r);
			return stream_error(s, e, msg);
		}
		prev_err = e;
		pg_query_free_split_result(r);
		end = scan_cut(s->text, s->len, end, s->want, &cut);
	}
	s->pos = end;
	if (cut == CUT_COPY) {
		size_t data = next_line(s->text, s->len, end), i = data;
		/* psql runs what follows the COPY's ';' on its line after the data: refuse it, never drop it */
		size_t rest = end + sql_skip_blank(s->text + end, data - end);
		if (rest < data) {
			s->saw_copy = 1;
			stream_error(s, rest,
				     xstrdup("SQL after COPY ... FROM STDIN on the same line is not supported: its data "
					     "starts on the next line"));
			return 0; /* handed out after the chunk's statements */
		}
		while (i < s->len) {
			size_t nx = next_line(s->text, s->len, i);
			size_t n = nx - i;
			while (n && (s->text[i + n - 1] == '\n' || s->text[i + n - 1] == '\r'))
				n--;
			if (n == 2 && s->text[i] == '\\' && s->text[i + 1] == '.')
				break;
			i = nx;
		}
		s->copy_pending = 1;
		s->saw_copy = 1;
		s->copy.off = data;
		s->copy.len = i - data;
		s->copy.copy_data = 1;
		s->pos = i < s->len ? next_line(s->text, s->len, i) : s->len;
	} else if (cut == CUT_META) {
		size_t nx = next_line(s->text, s->len, end), w = end + 1;
		while (w < nx && word_char((unsigned char)s->text[w]))
			w++;
		if (!word_is(s->text, end + 1, w, "restrict") && !word_is(s->text, end + 1, w, "unrestrict")) {
			/* handed out after the chunk's statements */
			s->err_meta = 1;
			stream_error(s, end, xstrfmt("psql command \\%.*s is not supported", (int)(w - end - 1),
						     s->text + end + 1));
			return 0;
		}
		s->pos = nx;
	}
	return 0;
}

int sql_stream_next(struct sql_stream *s, struct sql_piece *p)
{
	for (;;) {
		if (s->next < s->ncuts) {
			*p = s->cuts[s->next++];
			return 1;
		}
		s->ncuts = 0;
		if (s->have_split && s->next < s->split.n_stmts) {
			const PgQuerySplitStmt *st = s->split.stmts[s->next++];
			p->off = s->base + (size_t)st->stmt_location;
			p->len = (size_t)st->stmt_len;
			p->copy_data = 0;
			return 1;
		}
		if (s->have_split)
			pg_query_free_split_result(s->split);
		s->have_split = 0;
		if (s->copy_pending) {
			s->copy_pending = 0;
			*p = s->copy;
			return 1;
		}
		if (s->err)
			return -1;
		if (s->pos >= s->len)
			return 0;
		if (stream_chunk(s))
			return -1;
	}
}

int sql_stream_copy_data(const struct sql_stream *s, struct sql_piece *data)
{
	if (!s->copy_pending || !s->have_split || s->next < s->split.n_stmts)
		return 0;
	*data = s->copy;
	return 1;
}

/* fuzz_sqlstream: the bounded-memory statement stream (sqlstream.c) and the
 * load-time checks that walk it (sql.c: sql_find_kind, sql_created_indexes,
 * utf8_invalid_at). The input is SQL text up to the first NUL byte.
 *
 * Invariants, checked as the stream goes: it ends (at most a piece per byte);
 * pieces come in order, never overlap and lie within the text; every
 * statement piece parses on its own (pg_query_split_with_parser) as exactly
 * one statement; COPY data comes right after the COPY that
 * sql_stream_copy_data announced; between pieces there is nothing but
 * blanks, comments, ';', the "\\." ending COPY data and psql's skipped
 * \\restrict lines (no SQL is dropped unseen); an error has a message and an
 * offset in the text. The stream runs twice, with the real chunk size and
 * with tiny chunks (a cut after nearly every ';', so a cut inside BEGIN
 * ATOMIC ... END must make the chunk grow): text read whole without an
 * error must give the same pieces both ways, and text refused whole is
 * refused in pieces too. */
#include <pg_query.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "migrations.h"
#include "sql.h"
#include "sqlstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct sql_piece *v;
	size_t n, cap;
	int rc; /* 0 at the end, -1 on an error */
};

static void check_stmt(const char *text, const struct sql_piece *p)
{
	char *one = xstrndup(text + p->off, p->len);
	PgQuerySplitResult r = pg_query_split_with_parser(one);
	if (r.error || r.n_stmts != 1)
		abort(); /* a statement the stream handed out is one statement */
	pg_query_free_split_result(r);
	free(one);
}

static size_t line_end(const char *t, size_t len, size_t i)
{
	const char *nl = memchr(t + i, '\n', len - i);
	return nl ? (size_t)(nl - t) + 1 : len;
}

/* check_gap: text[a, b) between two pieces holds no SQL; after_data: it
 * starts after COPY data, at the "\\." line */
static void check_gap(const char *t, size_t a, size_t b, int after_data)
{
	if (after_data && a < b)
		a = line_end(t, b, a); /* the "\\." line */
	while (a < b) {
		size_t n = sql_skip_blank(t + a, b - a);
		if (n) {
			a += n;
		} else if (t[a] == ';') {
			a++;
		} else if (t[a] == '\\' && (a == 0 || t[a - 1] == '\n')) {
			a = line_end(t, b, a); /* \\restrict, \\unrestrict */
		} else {
			abort(); /* text the stream skipped over is neither run nor checked */
		}
	}
}

static void stream(const char *text, size_t len, size_t want, struct run *run)
{
	struct sql_stream s;
	struct sql_piece p, announced = { 0, 0, 0 };
	size_t end = 0, steps = 0;
	int expect_data = 0, after_data = 0, got;
	memset(run, 0, sizeof *run);
	sql_stream_init(&s, text, len);
	s.want = want;
	while ((got = sql_stream_next(&s, &p)) == 1) {
		if (++steps > len + 1)
			abort(); /* more pieces than bytes: the stream does not advance */
		if (p.off < end || p.off > len || p.len > len - p.off)
			abort(); /* out of order, overlapping or outside the text */
		if (p.copy_data != expect_data)
			abort(); /* COPY data exactly where announced */
		if (p.copy_data && (p.off != announced.off || p.len != announced.len))
			abort();
		check_gap(text, end, p.off, after_data);
		if (!p.copy_data)
			check_stmt(text, &p);
		end = p.off + p.len;
		after_data = p.copy_data;
		expect_data = !p.copy_data && sql_stream_copy_data(&s, &announced);
		if (run->n == run->cap) {
			run->cap = run->cap ? 2 * run->cap : 16;
			run->v = xrealloc(run->v, run->cap * sizeof *run->v);
		}
		run->v[run->n++] = p;
	}
	if (got == 0 && (expect_data || s.err))
		abort();
	if (got == 0)
		check_gap(text, end, len, after_data);
	if (got == -1 && (!s.err || s.err_off > len))
		abort();
	if (got != 0 && got != -1)
		abort();
	run->rc = got;
	sql_stream_release(&s);
}

static void check_sql_c(const char *text, size_t len)
{
	for (int kind = SQL_KIND_TX_CONTROL; kind <= SQL_KIND_SET_OTHER; kind++) {
		int line = 0;
		if (sql_find_kind(text, len, kind, &line) && line < 1)
			abort();
	}
	struct sql_index *ix;
	size_t n;
	sql_created_indexes(text, len, &ix, &n);
	for (size_t i = 0; i < n; i++)
		if (!ix[i].table || ix[i].line < 1 || (i && ix[i].line < ix[i - 1].line))
			abort();
	sql_indexes_free(ix, n);
	size_t bad = utf8_invalid_at(text, len);
	if (bad > len || utf8_invalid_at(text, bad) != bad)
		abort(); /* the valid prefix is valid */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size); /* stops at a NUL byte, as the loader's text does */
	size_t len = strlen(text);
	struct run whole, tiny;
	stream(text, len, SQL_STREAM_CHUNK, &whole);
	stream(text, len, 1 + (size ? data[0] % 32 : 0), &tiny);
	if (whole.rc == 0) {
		if (tiny.rc != 0 || tiny.n != whole.n)
			abort(); /* the chunk size changed what the text is */
		for (size_t i = 0; i < whole.n; i++)
			if (tiny.v[i].off != whole.v[i].off || tiny.v[i].len != whole.v[i].len ||
			    tiny.v[i].copy_data != whole.v[i].copy_data)
				abort();
	} else if (tiny.rc == 0) {
		abort(); /* refused whole but read in pieces */
	}
	free(whole.v);
	free(tiny.v);
	check_sql_c(text, len);
	free(text);
	return 0;
}

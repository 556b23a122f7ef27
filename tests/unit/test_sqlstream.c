/* sqlstream: statements of a big text in chunks, COPY data, psql lines, bodies. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sqlstream.h"
#include "unit.h"

/* pieces renders what the stream hands out: "S:<stmt>" and "D:<data>", one a line */
static int pieces(const char *text, struct buf *out)
{
	struct sql_stream s;
	struct sql_piece p;
	int got;
	buf_reset(out);
	sql_stream_init(&s, text, strlen(text));
	while ((got = sql_stream_next(&s, &p)) > 0) {
		size_t skip = 0;
		while (!p.copy_data && skip < p.len && (text[p.off + skip] == '\n' || text[p.off + skip] == ' '))
			skip++;
		buf_addf(out, "%s:%.*s|", p.copy_data ? "D" : "S", (int)(p.len - skip), text + p.off + skip);
	}
	sql_stream_release(&s);
	return got;
}

static void test_copy_data_and_psql_lines(void)
{
	struct buf b = BUF_INIT;
	const char *dump = "\\restrict k3y\nSET x = 1;\nCOPY t (a) FROM stdin;\n1\t\\N\n2\t;\n\\.\nSELECT 2;\n"
			   "copy t from STDIN;\n\\.\n\\unrestrict k3y\n";
	CU_ASSERT_EQUAL(pieces(dump, &b), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "S:SET x = 1|S:COPY t (a) FROM stdin|D:1\t\\N\n2\t;\n|S:SELECT 2|"
					    "S:copy t from STDIN|D:|");
	/* COPY to a file or from a program is not followed by data */
	CU_ASSERT_EQUAL(pieces("COPY t TO STDOUT;\nCOPY t FROM '/x';\nSELECT 1;\n", &b), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "S:COPY t TO STDOUT|S:COPY t FROM '/x'|S:SELECT 1|");
	/* other psql commands are refused at their offset */
	struct sql_stream s;
	struct sql_piece p;
	const char *meta = "SELECT 1;\n\\i other.sql\n";
	sql_stream_init(&s, meta, strlen(meta));
	CU_ASSERT_EQUAL(sql_stream_next(&s, &p), 1);
	CU_ASSERT_EQUAL(sql_stream_next(&s, &p), -1);
	CU_ASSERT_EQUAL(s.err_off, strlen("SELECT 1;\n"));
	CU_ASSERT_EQUAL(s.err_meta, 1);
	CU_ASSERT_PTR_NOT_NULL(s.err ? strstr(s.err, "\\i is not supported") : NULL);
	sql_stream_release(&s);
	buf_release(&b);
}

/* psql would run SQL after COPY ... FROM STDIN; on its line once the data is
 * read: it is refused at its offset, never dropped unseen */
static void test_text_after_copy(void)
{
	struct buf b = BUF_INIT;
	struct sql_stream s;
	struct sql_piece p;
	const char *t = "COPY t FROM stdin; DELETE FROM t;\n1\n\\.\nSELECT 1;\n";
	int got, n = 0;
	sql_stream_init(&s, t, strlen(t));
	while ((got = sql_stream_next(&s, &p)) > 0)
		n++;
	CU_ASSERT_EQUAL(got, -1);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(s.err_off, strlen("COPY t FROM stdin; "));
	CU_ASSERT_PTR_NOT_NULL(s.err ? strstr(s.err, "same line") : NULL);
	sql_stream_release(&s);
	/* blanks and a comment there are fine */
	CU_ASSERT_EQUAL(pieces("COPY t FROM stdin;  -- data:\r\n1\n\\.\nSELECT 1;\n", &b), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "S:COPY t FROM stdin|D:1\n|S:SELECT 1|");
	buf_release(&b);
}

static void test_chunks(void)
{
	/* 3 MiB of statements with quoted semicolons, dollar quotes and a BEGIN ATOMIC body near every cut */
	struct buf t = BUF_INIT, out = BUF_INIT;
	int n = 0;
	while (t.len < 3 * SQL_STREAM_CHUNK) {
		buf_addf(&t, "SELECT ';', $q$;$q$, \"a;b\" FROM x; -- ;\n/* ; */\n");
		n++;
		if (n % 5000 == 0) {
			buf_adds(&t, "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC\n");
			for (int i = 0; i < 200; i++)
				buf_adds(&t, "  SELECT 1;\n");
			buf_adds(&t, "END;\n");
			n++;
		}
	}
	struct sql_stream s;
	struct sql_piece p;
	int count = 0, got;
	sql_stream_init(&s, buf_str(&t), t.len);
	while ((got = sql_stream_next(&s, &p)) > 0)
		count++;
	CU_ASSERT_EQUAL(got, 0);
	CU_ASSERT_EQUAL(count, n);
	sql_stream_release(&s);
	/* a real syntax error past the first chunk names its offset */
	size_t at = t.len;
	buf_adds(&t, "SELEC 1;\nSELECT 2;\n");
	sql_stream_init(&s, buf_str(&t), t.len);
	while ((got = sql_stream_next(&s, &p)) > 0)
		;
	CU_ASSERT_EQUAL(got, -1);
	CU_ASSERT_EQUAL(s.err_off, at);
	CU_ASSERT_EQUAL(s.err_meta, 0);
	sql_stream_release(&s);
	buf_release(&t);
	buf_release(&out);
}

static void test_body_of(void)
{
	size_t body;
	char *fn;
	const char *d = "DO LANGUAGE plpgsql $x$\nBEGIN END $x$";
	CU_ASSERT_EQUAL(sql_body_of(d, 0, strlen(d), &body, &fn), 1);
	CU_ASSERT_EQUAL(body, strlen("DO LANGUAGE plpgsql $x$"));
	CU_ASSERT_PTR_NULL(fn);
	const char *f = "CREATE OR REPLACE FUNCTION App.\"Odd\"(a text DEFAULT 'x') RETURNS int LANGUAGE 'plpgsql' AS $$"
			"BEGIN RETURN 1; END $$";
	CU_ASSERT_EQUAL(sql_body_of(f, 0, strlen(f), &body, &fn), 1);
	CU_ASSERT_STRING_EQUAL(fn ? fn : "", "Odd");
	CU_ASSERT_EQUAL(body, (size_t)(strstr(f, "$$") - f) + 2);
	free(fn);
	const char *p2 = "create procedure s.p() language sql as 'select 1'";
	CU_ASSERT_EQUAL(sql_body_of(p2, 0, strlen(p2), &body, &fn), 1);
	CU_ASSERT_STRING_EQUAL(fn ? fn : "", "p");
	free(fn);
	const char *v = "CREATE VIEW function AS SELECT 'x'";
	CU_ASSERT_EQUAL(sql_body_of(v, 0, strlen(v), &body, &fn), 0);
	const char *ins = "INSERT INTO t VALUES ('$$')";
	CU_ASSERT_EQUAL(sql_body_of(ins, 0, strlen(ins), &body, &fn), 0);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "COPY data and psql lines", test_copy_data_and_psql_lines },
		{ "big texts in chunks", test_chunks },
		{ "SQL after COPY FROM STDIN on its line is refused", test_text_after_copy },
		{ "bodies of DO blocks and functions", test_body_of },
		{ NULL, NULL },
	};
	return unit_run("sqlstream", tests);
}

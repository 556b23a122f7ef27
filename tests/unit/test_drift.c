/* drift: the file that keeps a target's quiet key and fingerprint. What it
 * holds goes into SQL (the key as a literal) and decides whether the server
 * fingerprints at all, so only the exact form is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "drift.h"
#include "unit.h"

/* the header of the current version */
#define Q "padctl drift quiet " DRIFT_VERSION " rows"

static int parse(const char *text, struct drift_quiet *q)
{
	return drift_quiet_parse(text, strlen(text), q);
}

static void test_sound(void)
{
	struct drift_quiet q;
	CU_ASSERT_EQUAL(parse(Q "\n7711047970336524796|1|0/42B23C8|16384|2762:2770:2763,2765\n42361\n"
				"8001 -123022368759322470127 8059044286191947996\n",
			      &q),
			0);
	CU_ASSERT_STRING_EQUAL(q.key, "7711047970336524796|1|0/42B23C8|16384|2762:2770:2763,2765");
	CU_ASSERT_STRING_EQUAL(q.rows, "42361");
	CU_ASSERT_STRING_EQUAL(q.value, "8001 -123022368759322470127 8059044286191947996");
	/* what the catalog's rows are compared under: the server's history
	 * and database (not the WAL position), and the snapshot's xmin */
	CU_ASSERT_STRING_EQUAL(q.ident, "7711047970336524796|1|16384");
	CU_ASSERT_EQUAL(q.xmin, 2762);
	drift_quiet_release(&q);
	CU_ASSERT_PTR_NULL(q.key);
	/* no schema yet, a standby that has replayed nothing, and an xmin
	 * with its epoch (past 2^32) */
	CU_ASSERT_EQUAL(parse(Q "\n1|2|-|5|8589934597:8589934600:\n0\nempty protected 3 4 5\n", &q), 0);
	CU_ASSERT_STRING_EQUAL(q.key, "1|2|-|5|8589934597:8589934600:");
	CU_ASSERT_STRING_EQUAL(q.rows, "0");
	CU_ASSERT_STRING_EQUAL(q.value, "empty protected 3 4 5");
	CU_ASSERT_STRING_EQUAL(q.ident, "1|2|5");
	CU_ASSERT_EQUAL(q.xmin, 8589934597ULL);
	CU_ASSERT_EQUAL(q.misses, 0);
	drift_quiet_release(&q);
	/* rows not counted: the checks fingerprinted since they changed */
	CU_ASSERT_EQUAL(parse(Q "\n1|2|0/5|5|10:10:\n-1\n8 1 2\n", &q), 0);
	CU_ASSERT_STRING_EQUAL(q.rows, "-1");
	CU_ASSERT_EQUAL(q.misses, 1);
	drift_quiet_release(&q);
	CU_ASSERT_EQUAL(parse(Q "\n1|2|0/5|5|10:10:\n-4\n8 1 2\n", &q), 0);
	CU_ASSERT_EQUAL(q.misses, 4);
	drift_quiet_release(&q);
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"",
		Q "\n",
		"padctl drift quiet 1 rows\n1|1|0/1|5|1:1:\n3\n8 1 2\n", /* another version */
		"padctl drift quiet " DRIFT_VERSION "\n1|1|0/1|5|1:1:\n8 1 2\n", /* the format before the rows */
		Q "\n1|1|0/1|5|1:1:\n3\n8 1 2", /* torn: no last newline */
		Q "\n1|1|0/1|5|1:1:\n3\n8 1 2\nmore\n", /* a line too many */
		Q "\n1|1|0/1|5|1:1:\n8 1 2\n", /* a line too few */
		Q "\n\n3\n8 1 2\n", /* no key */
		Q "\n1|1|0/1|5|1:1:\n3\n\n", /* no value */
		Q "\n1|1|0/1|5|1:1:\n\n8 1 2\n", /* no rows */
		Q "\n1|1|0/1|5|1:1:\n+3\n8 1 2\n", /* rows not a count */
		Q "\n1|1|0/1|5|1:1:\n3 4\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:\n1234567890123456789\n8 1 2\n", /* 19 digits: past int8 */
		Q "\n1' OR '1'='1\n3\n8 1 2\n", /* a quote in the key */
		Q "\n1|1|0/1|5|1:1:\n3\n8 1 2'\n", /* and in the value */
		Q "\n1|1|0/1|5|1:1:\n3'\n8 1 2\n", /* and in the rows */
		Q "\n1\\|1\n3\n8 1 2\n", /* a backslash */
		Q "\n1 1\n3\n8 1 2\n", /* a space in the key */
		Q "\n1|1\r\n3\n8 1 2\n", /* CR */
		Q "\n1|1|0/1|5|1:1:\n3\n8 1 2|\n", /* a bar in the value */
		Q "\r\n1|1\n3\n8 1 2\n",
		/* keys QUIET_KEY_SQL does not make: the parts, their number, an xmin that is no number */
		Q "\n1|1\n3\n8 1 2\n",
		Q "\n1|1|0/1|5\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:|6\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|a:1:\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|:1:\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|11\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|12345678901234567890:1:\n3\n8 1 2\n", /* 20 digits: past 64 bits */
		Q "\nx|1|0/1|5|1:1:\n3\n8 1 2\n",
		Q "\n1||0/1|5|1:1:\n3\n8 1 2\n",
		Q "\n1|1|0/1|-5|1:1:\n3\n8 1 2\n",
		Q "\n1|1|0/1x|5|1:1:\n3\n8 1 2\n", /* a WAL position that is none */
		Q "\n1|1|0/|5|1:1:\n3\n8 1 2\n",
		Q "\n1|1|/1|5|1:1:\n3\n8 1 2\n",
		Q "\n1|1|--|5|1:1:\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1\n3\n8 1 2\n", /* a snapshot that is none */
		Q "\n1|1|0/1|5|1:a:\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:,\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:2,,3\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:2:3\n3\n8 1 2\n",
		Q "\n1|1|0/1|5|01:1:\n3\n8 1 2\n", /* leading zeros: not the server's */
		Q "\n1|1|0/1|5|1:1:\n03\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:\n-\n8 1 2\n", /* rows not counted, but how often */
		Q "\n1|1|0/1|5|1:1:\n-0\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:\n--1\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:\n-01\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:\n-1000\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:\n-5\n8 1 2\n", /* padctl counts again after four */
		Q "\n1|1|0/1|5|1:1:\n-999\n8 1 2\n",
		Q "\n1|1|0/1|5|1:1:\n- 1\n8 1 2\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct drift_quiet q;
		memset(&q, 1, sizeof q);
		CU_ASSERT_EQUAL(parse(bad[i], &q), -1);
		CU_ASSERT_PTR_NULL(q.key);
		CU_ASSERT_PTR_NULL(q.rows);
		CU_ASSERT_PTR_NULL(q.value);
		CU_ASSERT_PTR_NULL(q.ident);
		if (q.key)
			printf("accepted: %s\n", bad[i]);
	}
	/* a NUL inside: the length counts, not the string */
	struct drift_quiet q;
	static const char nul[] = Q "\n1|1|0/1|5|1:1:\0\n3\n8 1 2\n";
	CU_ASSERT_EQUAL(drift_quiet_parse(nul, sizeof nul - 1, &q), -1);
}

static void test_long_key(void)
{
	/* thousands of transactions in progress: a key that long is not kept */
	static const char head[] = Q "\n1|1|0/1|5|1:1:", tail[] = "\n3\n8 1 2\n";
	size_t n = 2000, hl = sizeof head - 1, tl = sizeof tail - 1;
	char *text = malloc(hl + 2 * n + tl);
	memcpy(text, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(text + hl + 2 * i, ",7", 2);
	memcpy(text + hl + 2 * n, tail, tl);
	struct drift_quiet q;
	CU_ASSERT_EQUAL(drift_quiet_parse(text, hl + 2 * n + tl, &q), -1);
	free(text);
}

/* the catalog's rows that answer "same" must cover every row the
 * fingerprint reads: every catalog the fingerprint names (FROM or JOIN) is
 * one whose rows are counted whole (FROM pg_catalog.NAME) in the statement
 * that computes both */
static void test_rows_cover_fingerprint(void)
{
	char *owned[] = { "app" }, *protected[] = { "ref" };
	struct cfg_project p;
	memset(&p, 0, sizeof p);
	p.root = "/nonexistent/padctl-test"; /* no key kept: the statement that computes both */
	p.owned = owned;
	p.nowned = 1;
	p.protected_schemas = protected;
	p.nprotected = 1;
	char *sql = drift_fingerprint_sql(&p, "t");
	size_t named = 0;
	for (const char *at = sql; (at = strstr(at, " pg_")) != NULL; at++) {
		if (!(at >= sql + 4 && (strncmp(at - 4, "FROM", 4) == 0 || strncmp(at - 4, "JOIN", 4) == 0)))
			continue;
		size_t n = strspn(at + 1, "abcdefghijklmnopqrstuvwxyz_");
		if (at[1 + n] == '(' || at[1 + n] == '.')
			continue; /* a function (pg_control_system()), or the rows counted (pg_catalog.) */
		if (n == strlen("pg_database") && strncmp(at + 1, "pg_database", n) == 0)
			continue; /* the quiet key's database oid, not the fingerprint's */
		char *counted = xstrfmt("FROM pg_catalog.%.*s ", (int)n, at + 1);
		char *last = xstrfmt("FROM pg_catalog.%.*s)", (int)n, at + 1);
		if (!strstr(sql, counted) && !strstr(sql, last)) {
			printf("the fingerprint reads %.*s, whose rows are not counted\n", (int)n, at + 1);
			CU_FAIL("a catalog the fingerprint reads is not counted");
		}
		free(counted);
		free(last);
		named++;
	}
	/* both fingerprints were read, the owned schemas' and the protected ones': each names the 19
	 * catalogs and pg_type again (an enum's labels by their type) */
	CU_ASSERT_EQUAL(named, 2 * 20);
	free(sql);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "a sound quiet key file", test_sound },
		{ "damaged, forged or other files refused", test_refused },
		{ "a key too long to keep", test_long_key },
		{ "the counted rows cover the fingerprint's", test_rows_cover_fingerprint },
		{ NULL, NULL },
	};
	return unit_run("drift", tests);
}

/* drift: the file that keeps a target's quiet key and fingerprint. What it
 * holds goes into SQL (the key as a literal) and decides whether the server
 * fingerprints at all, so only the exact form is accepted. */
#include <stdlib.h>
#include <string.h>

#include "drift.h"
#include "unit.h"

/* the header of the current version */
#define Q "padctl drift quiet " DRIFT_VERSION

static int parse(const char *text, char **key, char **value)
{
	return drift_quiet_parse(text, strlen(text), key, value);
}

static void test_sound(void)
{
	char *k, *v;
	CU_ASSERT_EQUAL(parse(Q "\n7711047970336524796|1|0/42B23C8|16384|2762:2770:2763,2765\n"
			      "8001 -123022368759322470127 8059044286191947996\n",
			      &k, &v),
			0);
	CU_ASSERT_STRING_EQUAL(k, "7711047970336524796|1|0/42B23C8|16384|2762:2770:2763,2765");
	CU_ASSERT_STRING_EQUAL(v, "8001 -123022368759322470127 8059044286191947996");
	free(k);
	free(v);
	/* no schema yet, and a standby that has replayed nothing */
	CU_ASSERT_EQUAL(parse(Q "\n1|2|-|5|10:10:\nempty protected 3 4 5\n", &k, &v), 0);
	CU_ASSERT_STRING_EQUAL(k, "1|2|-|5|10:10:");
	CU_ASSERT_STRING_EQUAL(v, "empty protected 3 4 5");
	free(k);
	free(v);
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"",
		Q "\n",
		"padctl drift quiet 1\n1|1|0/1|5|1:1:\n8 1 2\n",  /* another version */
		Q "\n1|1|0/1|5|1:1:\n8 1 2",                      /* torn: no last newline */
		Q "\n1|1|0/1|5|1:1:\n8 1 2\nmore\n",              /* a line too many */
		Q "\n\n8 1 2\n",                                  /* no key */
		Q "\n1|1|0/1|5|1:1:\n\n",                         /* no value */
		Q "\n1' OR '1'='1\n8 1 2\n",                      /* a quote in the key */
		Q "\n1|1|0/1|5|1:1:\n8 1 2'\n",                   /* and in the value */
		Q "\n1\\|1\n8 1 2\n",                             /* a backslash */
		Q "\n1 1\n8 1 2\n",                               /* a space in the key */
		Q "\n1|1\r\n8 1 2\n",                             /* CR */
		Q "\n1|1|0/1|5|1:1:\n8 1 2|\n",                   /* a bar in the value */
		Q "\r\n1|1\n8 1 2\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *k = (char *)1, *v = (char *)1;
		CU_ASSERT_EQUAL(parse(bad[i], &k, &v), -1);
		CU_ASSERT_PTR_NULL(k);
		CU_ASSERT_PTR_NULL(v);
	}
	/* a NUL inside: the length counts, not the string */
	char *k, *v;
	static const char nul[] = Q "\n1|1\0|2\n8 1 2\n";
	CU_ASSERT_EQUAL(drift_quiet_parse(nul, sizeof nul - 1, &k, &v), -1);
}

static void test_long_key(void)
{
	/* thousands of transactions in progress: a key that long is not kept */
	static const char head[] = Q "\n", tail[] = "\n8 1 2\n";
	size_t n = 2000, hl = sizeof head - 1, tl = sizeof tail - 1;
	char *text = malloc(hl + n + tl);
	memcpy(text, head, hl);
	memset(text + hl, '7', n);
	memcpy(text + hl + n, tail, tl);
	char *k, *v;
	CU_ASSERT_EQUAL(drift_quiet_parse(text, hl + n + tl, &k, &v), -1);
	free(text);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "a sound quiet key file", test_sound },
		{ "damaged, forged or other files refused", test_refused },
		{ "a key too long to keep", test_long_key },
		{ NULL, NULL },
	};
	return unit_run("drift", tests);
}

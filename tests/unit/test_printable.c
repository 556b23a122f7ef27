/* buf_add_printable: names printed by padctl cannot forge lines or drive the terminal. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

static void expect(const char *in, const char *want)
{
	char *got = xstrprintable(in);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n  [%s] -> [%s], want [%s]\n", in ? in : "(null)", got, want);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
}

static void test_printable(void)
{
	expect("0001_create_app", "0001_create_app");
	expect("0002_x\nok 0003_forged", "0002_x\\x0aok 0003_forged");
	expect("a\rb\tc\x1b[31md\x7f", "a\\x0db\\x09c\\x1b[31md\\x7f");
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	expect("c1 \xc2\x9b csi", "c1 \\xc2\\x9b csi");        /* U+009B, a C1 control */
	expect("bad \xff \xc3 \xe2\x82", "bad \\xff \\xc3 \\xe2\\x82"); /* not UTF-8 */
	expect("over \xc0\xaf \xed\xa0\x80", "over \\xc0\\xaf \\xed\\xa0\\x80"); /* overlong, surrogate */
	expect("", "");
	expect(NULL, "");
}

static void expect_escaped(const char *in, const char *also, int flags, size_t max, const char *want, size_t want_used)
{
	struct buf b = BUF_INIT;
	size_t used = buf_add_escaped(&b, in, also, flags, max);
	if (strcmp(buf_str(&b), want) != 0)
		fprintf(stderr, "\n  [%s] -> [%s], want [%s]\n", in, buf_str(&b), want);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), want);
	CU_ASSERT_EQUAL(used, want_used);
	buf_release(&b);
}

/* buf_add_escaped: the one \xHH escape of padctl's own formats (trust file,
 * plan messages, YAML messages) */
static void test_escaped(void)
{
	/* controls always; the rest only when asked */
	expect_escaped("a\nb\x7f\xc3\xa9\"\\ c", NULL, 0, 0, "a\\x0ab\\x7f\xc3\xa9\"\\ c", 10);
	/* the trust file's token: no space, no backslash, nothing from 0x7f */
	expect_escaped("/p a\\\xc3\xa9", " \\", BUF_ESC_HIGH, 0, "/p\\x20a\\x5c\\xc3\\xa9", 7);
	/* a message quoting a name in double quotes */
	expect_escaped("x\"y\\z\t", NULL, BUF_ESC_CQUOTE, 0, "x\\\"y\\\\z\\x09", 6);
	/* max: stops before a byte once the buffer holds max bytes */
	expect_escaped("abcdef", NULL, 0, 3, "abc", 3);
	expect_escaped("a\001bc", NULL, 0, 3, "a\\x01", 2);
	expect_escaped("", NULL, BUF_ESC_HIGH, 0, "", 0);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "control characters and invalid UTF-8 are escaped", test_printable },
		{ "buf_add_escaped escapes what it is told to", test_escaped },
		{ NULL, NULL },
	};
	return unit_run("printable", tests);
}

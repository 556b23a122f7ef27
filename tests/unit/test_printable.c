/* buf_add_printable: names printed by padctl cannot forge lines or drive the terminal. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

static void expect(const char *in, const char *want)
{
	char *got = xstrprintable(in);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n  [%s] -> [%s], want [%s]\n", in, got, want);
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

int main(void)
{
	static const struct unit_test tests[] = {
		{ "control characters and invalid UTF-8 are escaped", test_printable },
		{ NULL, NULL },
	};
	return unit_run("printable", tests);
}

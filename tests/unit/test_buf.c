/* buf and the error model (log.h). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "unit.h"

static void test_buf_grows(void)
{
	struct buf b = BUF_INIT;
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		buf_addf(&b, "%d,", i);
	CU_ASSERT(b.len > 2000);
	CU_ASSERT_EQUAL(strncmp(b.s, "0,1,2,", 6), 0);
	CU_ASSERT_EQUAL(strlen(b.s), b.len);
	buf_reset(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
	buf_add(&b, "a\0b", 3);
	CU_ASSERT_EQUAL(b.len, 3);
	char *s = buf_detach(&b);
	CU_ASSERT_PTR_NULL(b.s);
	CU_ASSERT_EQUAL(memcmp(s, "a\0b", 4), 0);
	free(s);
	buf_release(&b);
}

static void test_addf_long_and_appended(void)
{
	/* buf_vaddf formats into the room it has and again when that was too small */
	char want[301];
	memset(want, 'x', 300);
	want[300] = '\0';
	char *s = xstrfmt("%s", want);
	CU_ASSERT_STRING_EQUAL(s, want);
	free(s);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%.60s", want);
	buf_addf(&b, "%s|%d", want, 42);
	CU_ASSERT_EQUAL(b.len, 60 + 300 + 3);
	CU_ASSERT_EQUAL(strlen(b.s), b.len);
	CU_ASSERT_STRING_EQUAL(b.s + 360, "|42");
	buf_addf(&b, "%s", "");
	CU_ASSERT_EQUAL(b.len, 363);
	buf_release(&b);
}

static void test_shell_quote(void)
{
	struct buf b = BUF_INIT;
	buf_shell_quote(&b, "it's; rm -rf / $(x) `y`");
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "'it'\\''s; rm -rf / $(x) `y`'");
	buf_reset(&b);
	buf_shell_quote(&b, "");
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "''");
	buf_release(&b);
}

static void test_first_error_wins(void)
{
	CU_ASSERT_FALSE(err_pending());
	CU_ASSERT_EQUAL(fail("first %d", 1), -1);
	fail_detail("detail one");
	fail_hint("hint one");
	fail_status(EXIT_USAGE);
	CU_ASSERT_EQUAL(fail("second"), -1);
	fail_detail("detail two");
	fail_hint("hint two");
	fail_status(EXIT_LOCKED);
	CU_ASSERT_STRING_EQUAL(err_message(), "first 1");
	CU_ASSERT_STRING_EQUAL(err_detail(), "detail one");
	CU_ASSERT_STRING_EQUAL(err_hint(), "hint one");
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	err_clear();
	CU_ASSERT_FALSE(err_pending());
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_OK);
	fail("x");
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_STEP);
	fail_detail("a");
	fail_detail("b");
	CU_ASSERT_STRING_EQUAL(err_detail(), "a\nb");
	err_clear();
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "addf formats long strings and appends", test_addf_long_and_appended },
		{ "buf grows and detaches", test_buf_grows },
		{ "shell quoting", test_shell_quote },
		{ "first error wins", test_first_error_wins },
		{ NULL, NULL },
	};
	return unit_run("buf", tests);
}

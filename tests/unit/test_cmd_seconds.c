/* cmd_seconds: option values in seconds; NaN, infinities and overflow are refused. */
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "unit.h"

static void expect_refused(const char *value)
{
	long ms = -7;
	CU_ASSERT_EQUAL(cmd_seconds("lock-timeout", value, &ms), -1);
	CU_ASSERT_EQUAL(ms, -7);
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), "takes seconds") : NULL);
	err_clear();
}

static void test_accepted(void)
{
	long ms = -1;
	CU_ASSERT_EQUAL(cmd_seconds("lock-timeout", "2.5", &ms), 0);
	CU_ASSERT_EQUAL(ms, 2500);
	CU_ASSERT_EQUAL(cmd_seconds("lock-timeout", "0", &ms), 0);
	CU_ASSERT_EQUAL(ms, 0);
	CU_ASSERT_EQUAL(cmd_seconds("lock-timeout", "86400", &ms), 0);
	CU_ASSERT_EQUAL(ms, 86400000);
	CU_ASSERT_FALSE(err_pending());
}

static void test_refused(void)
{
	static const char *const bad[] = { "nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e999", "-1e999",
					   "-1", "-0.001", "86400.5", "", "soon", "5s", "1e-99999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_refused(bad[i]);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "seconds in range", test_accepted },
		{ "nan, inf, overflow and negatives are refused", test_refused },
		{ NULL, NULL },
	};
	return unit_run("cmd_seconds", tests);
}

/* cmd_parse: strict option parsing, so a mistyped --dry-run never becomes a real run. */
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "unit.h"

static int dry, ooo;
static const char *target, *timeout;
static const char *pos[2];
static int npos;

static int parse(int argc, char **argv)
{
	dry = ooo = 0;
	target = timeout = NULL;
	pos[0] = pos[1] = NULL;
	npos = -1;
	const struct cmd_opt opts[] = {
		{ "dry-run", 0, &dry, NULL },
		{ "target", 1, NULL, &target },
		{ "lock-timeout", 1, NULL, &timeout },
		{ "allow-out-of-order", 0, &ooo, NULL },
		{ NULL, 0, NULL, NULL },
	};
	return cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--dry-run]");
}

#define ARGV(...) (char *[]){ __VA_ARGS__ }
#define PARSE(...) parse(sizeof ARGV(__VA_ARGS__) / sizeof(char *), ARGV(__VA_ARGS__))

static void expect_usage_error(const char *needle)
{
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	CU_ASSERT_PTR_NOT_NULL(err_message() ? strstr(err_message(), needle) : NULL);
	CU_ASSERT_PTR_NOT_NULL(err_detail() ? strstr(err_detail(), "usage: padctl deploy") : NULL);
	err_clear();
}

static void test_good(void)
{
	CU_ASSERT_EQUAL(PARSE("deploy", "qa", "--dry-run", "--target=t1", "--lock-timeout", "5"), 0);
	CU_ASSERT_EQUAL(dry, 1);
	CU_ASSERT_EQUAL(ooo, 0);
	CU_ASSERT_STRING_EQUAL(target, "t1");
	CU_ASSERT_STRING_EQUAL(timeout, "5");
	CU_ASSERT_EQUAL(npos, 1);
	CU_ASSERT_STRING_EQUAL(pos[0], "qa");
	CU_ASSERT_EQUAL(PARSE("deploy", "--", "--weird-env"), 0);
	CU_ASSERT_STRING_EQUAL(pos[0], "--weird-env");
	CU_ASSERT_FALSE(err_pending());
}

static void test_mistyped_options_are_errors(void)
{
	CU_ASSERT_EQUAL(PARSE("deploy", "qa", "--dryrun"), -1);
	CU_ASSERT_EQUAL(dry, 0);
	expect_usage_error("unknown option \"--dryrun\" for \"deploy\"");
	CU_ASSERT_EQUAL(PARSE("deploy", "qa", "--dry-run=yes"), -1);
	expect_usage_error("takes no value");
	CU_ASSERT_EQUAL(PARSE("deploy", "qa", "-n"), -1);
	expect_usage_error("unknown option \"-n\"");
	CU_ASSERT_EQUAL(PARSE("deploy", "qa", "--target"), -1);
	expect_usage_error("needs a value");
	CU_ASSERT_EQUAL(PARSE("deploy", "qa", "--dry"), -1);
	expect_usage_error("unknown option \"--dry\"");
}

static void test_positionals(void)
{
	CU_ASSERT_EQUAL(PARSE("deploy"), -1);
	expect_usage_error("needs more arguments");
	CU_ASSERT_EQUAL(PARSE("deploy", "qa", "prod"), -1);
	expect_usage_error("unexpected argument \"prod\"");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "options and positionals", test_good },
		{ "mistyped options are errors", test_mistyped_options_are_errors },
		{ "positional counts", test_positionals },
		{ NULL, NULL },
	};
	return unit_run("cmd", tests);
}

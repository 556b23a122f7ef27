/* sign: the signed message, comments, times, the allowed_signers principals
 * (plan/sign.h) and plan ids (plan/approvals.h). Signing itself runs the real
 * ssh-keygen in cli/860. */
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "log.h"
#include "sign.h"
#include "unit.h"

static void test_message(void)
{
	struct sign_fields f = { "approve", "prod", "20261122-073047-0c1276a7", "ab12", "main", "2026-11-22T07:30:47Z",
				 "fine" };
	char *m = sign_message(&f);
	CU_ASSERT_STRING_EQUAL(m, "padctl-signature 1\naction: approve\nenv: prod\nplan: 20261122-073047-0c1276a7\n"
				  "hash: sha256:ab12\nstage: main\ntime: 2026-11-22T07:30:47Z\ncomment: fine\n");
	free(m);
	f.stage = NULL;
	f.comment = NULL;
	m = sign_message(&f);
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nstage: -\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\ncomment: \n"));
	free(m);
}

static void test_comment(void)
{
	CU_ASSERT_EQUAL(sign_comment_check(NULL), 0);
	CU_ASSERT_EQUAL(sign_comment_check("looks good, ship it \xc3\xa9"), 0);
	CU_ASSERT_EQUAL(sign_comment_check("two\nlines"), -1);
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	err_clear();
	CU_ASSERT_EQUAL(sign_comment_check("tab\there"), -1);
	err_clear();
	CU_ASSERT_EQUAL(sign_comment_check("esc \x1b[31m"), -1);
	err_clear();
	CU_ASSERT_EQUAL(sign_comment_check("del \x7f"), -1);
	err_clear();
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(sign_comment_check(big), -1);
	err_clear();
}

static void test_time(void)
{
	CU_ASSERT_EQUAL(sign_time_parse("1970-01-01T00:00:00Z"), 0);
	CU_ASSERT_EQUAL(sign_time_parse("2026-11-22T07:30:47Z"), 1795332647LL);
	CU_ASSERT_EQUAL(sign_time_parse("2026-11-22T07:30:47"), -1);
	CU_ASSERT_EQUAL(sign_time_parse("2026-11-22T07:30:47Z "), -1);
	CU_ASSERT_EQUAL(sign_time_parse(""), -1);
	CU_ASSERT_EQUAL(sign_time_parse(NULL), -1);
	char now[32];
	sign_now(now);
	CU_ASSERT_TRUE(sign_time_parse(now) > 0);
}

static void test_principals(void)
{
	const char text[] = "# comment\n\n   \nalice@example.com namespaces=\"padctl\" ssh-ed25519 AAAA alice\n"
			    "\"bob@example.com,bobby@example.com\" ssh-ed25519 AAAA\n"
			    "bob@example.com ssh-ed25519 BBBB\r\n"
			    "\"unterminated ssh-ed25519 AAAA\n"
			    "  \tcarol@example.com,,*@example.org cert-authority ssh-ed25519 AAAA";
	char **v;
	size_t n;
	sign_principals(text, sizeof text - 1, &v, &n);
	CU_ASSERT_EQUAL(n, 5);
	if (n == 5) {
		CU_ASSERT_STRING_EQUAL(v[0], "alice@example.com");
		CU_ASSERT_STRING_EQUAL(v[1], "bob@example.com");
		CU_ASSERT_STRING_EQUAL(v[2], "bobby@example.com");
		CU_ASSERT_STRING_EQUAL(v[3], "carol@example.com");
		CU_ASSERT_STRING_EQUAL(v[4], "*@example.org");
	}
	CU_ASSERT_PTR_NULL(v[n]);
	sign_principals_free(v, n);
	sign_principals("", 0, &v, &n);
	CU_ASSERT_EQUAL(n, 0);
	sign_principals_free(v, n);
}

static void test_plan_id(void)
{
	CU_ASSERT_EQUAL(plan_id_check("20261122-073047-0c1276a7"), 0);
	const char *bad[] = { "",
			      "20261122-073047-0C1276A7",
			      "20261122-073047-0c1276a",
			      "../20261122-073047-0c127",
			      "20261122-073047-0c1276a7\n",
			      "2026112a-073047-0c1276a7",
			      "20261122_073047-0c1276a7",
			      "20261122-073047-0c1276a7x",
			      NULL };
	for (int i = 0; bad[i]; i++) {
		CU_ASSERT_EQUAL(plan_id_check(bad[i]), -1);
		CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
		err_clear();
	}
	CU_ASSERT_EQUAL(plan_id_check(NULL), -1);
	err_clear();
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "the signed message", test_message }, { "comments", test_comment },
		{ "signed times", test_time },		{ "allowed_signers principals", test_principals },
		{ "plan ids", test_plan_id },		{ NULL, NULL },
	};
	return unit_run("sign", tests);
}

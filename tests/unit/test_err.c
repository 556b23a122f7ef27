/* test_err: error scopes (log.h): first error wins per scope, pop passes on
 * or drops, detail/hint/status stay with their scope. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static void test_scopes_nest(void)
{
	struct err_scope target, step;
	CU_ASSERT_FALSE(err_pending());
	err_scope_push(&target);
	fail("target %s", "t1");
	err_scope_push(&step);
	/* the enclosing error neither shows nor blocks: the step records its own */
	CU_ASSERT_FALSE(err_pending());
	CU_ASSERT_PTR_NULL(err_message());
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_OK);
	fail("step one");
	CU_ASSERT_STRING_EQUAL(err_message(), "step one");
	err_scope_pop(&step, ERR_DISCARD);
	CU_ASSERT_STRING_EQUAL(err_message(), "target t1");
	err_scope_pop(&target, ERR_DISCARD);
	CU_ASSERT_FALSE(err_pending());
}

static void test_first_error_wins_per_scope(void)
{
	struct err_scope a, b;
	err_scope_push(&a);
	fail("a first");
	fail_detail("a detail");
	fail("a second");
	fail_detail("dropped with a second");
	fail_hint("dropped too");
	fail_status(EXIT_LOCKED);
	err_scope_push(&b);
	fail("b first");
	fail("b second");
	CU_ASSERT_STRING_EQUAL(err_message(), "b first");
	err_scope_pop(&b, ERR_DISCARD);
	CU_ASSERT_STRING_EQUAL(err_message(), "a first");
	CU_ASSERT_STRING_EQUAL(err_detail(), "a detail");
	CU_ASSERT_PTR_NULL(err_hint());
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_STEP);
	err_scope_pop(&a, ERR_DISCARD);
}

static void test_propagate_into_empty(void)
{
	struct err_scope outer, inner;
	err_scope_push(&outer);
	err_scope_push(&inner);
	fail("inner failed");
	fail_detail("inner detail");
	fail_hint("inner hint");
	fail_status(EXIT_USAGE);
	err_scope_pop(&inner, ERR_PROPAGATE);
	CU_ASSERT_PTR_NULL(inner.message);
	CU_ASSERT_STRING_EQUAL(err_message(), "inner failed");
	CU_ASSERT_STRING_EQUAL(err_detail(), "inner detail");
	CU_ASSERT_STRING_EQUAL(err_hint(), "inner hint");
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	/* the passed-on error is the last recorded one: the enclosing code may add to it */
	fail_detail("the rollout stopped");
	CU_ASSERT_STRING_EQUAL(err_detail(), "inner detail\nthe rollout stopped");
	/* and it now wins in the enclosing scope */
	fail("later");
	CU_ASSERT_STRING_EQUAL(err_message(), "inner failed");
	err_scope_pop(&outer, ERR_PROPAGATE);
	/* up to the command's scope, which main() prints */
	CU_ASSERT_STRING_EQUAL(err_message(), "inner failed");
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	err_clear();
}

static void test_propagate_into_failed(void)
{
	struct err_scope outer, inner;
	err_scope_push(&outer);
	fail("outer first");
	fail_status(EXIT_APPROVAL);
	err_scope_push(&inner);
	fail("inner later");
	fail_status(EXIT_LOCKED);
	err_scope_pop(&inner, ERR_PROPAGATE);
	CU_ASSERT_STRING_EQUAL(err_message(), "outer first");
	CU_ASSERT_PTR_NULL(err_detail());
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_APPROVAL);
	/* as after a fail() that lost: lines meant for the inner error are not
	 * attached to the outer one */
	fail_detail("about the inner error");
	CU_ASSERT_PTR_NULL(err_detail());
	err_scope_pop(&outer, ERR_DISCARD);
}

static void test_propagate_nothing(void)
{
	struct err_scope outer, inner;
	err_scope_push(&outer);
	fail("outer");
	err_scope_push(&inner);
	err_scope_pop(&inner, ERR_PROPAGATE);
	/* an empty inner scope changes nothing, not even whether lines attach */
	fail_detail("still attached");
	CU_ASSERT_STRING_EQUAL(err_detail(), "still attached");
	err_scope_pop(&outer, ERR_DISCARD);
	CU_ASSERT_FALSE(err_pending());
}

static void test_discard(void)
{
	struct err_scope s;
	err_scope_push(&s);
	fail("checked and reported");
	fail_status(EXIT_USAGE);
	err_scope_pop(&s, ERR_DISCARD);
	CU_ASSERT_FALSE(err_pending());
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_OK);
	CU_ASSERT_PTR_NULL(s.message);
}

static void test_lines_stay_in_their_scope(void)
{
	struct err_scope outer, inner;
	err_scope_push(&outer);
	fail("outer");
	fail_detail("outer detail");
	err_scope_push(&inner);
	/* no fail() in the inner scope: nothing to attach to there, and the
	 * enclosing error is not this scope's */
	fail_detail("stray detail");
	fail_hint("stray hint");
	fail_status(EXIT_LOCKED);
	err_hint_if_none("stray advice");
	CU_ASSERT_FALSE(err_pending());
	CU_ASSERT_PTR_NULL(err_detail());
	CU_ASSERT_PTR_NULL(err_hint());
	fail("inner");
	err_hint_if_none("inner advice");
	err_hint_if_none("second advice");
	CU_ASSERT_STRING_EQUAL(err_hint(), "inner advice");
	err_scope_pop(&inner, ERR_DISCARD);
	CU_ASSERT_STRING_EQUAL(err_detail(), "outer detail");
	CU_ASSERT_PTR_NULL(err_hint());
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_STEP);
	err_scope_pop(&outer, ERR_DISCARD);
}

static void test_clear_is_innermost(void)
{
	struct err_scope s;
	fail("command");
	err_scope_push(&s);
	fail("retry");
	err_clear();
	CU_ASSERT_FALSE(err_pending());
	fail("retry again");
	CU_ASSERT_STRING_EQUAL(err_message(), "retry again");
	err_scope_pop(&s, ERR_DISCARD);
	CU_ASSERT_STRING_EQUAL(err_message(), "command");
	err_clear();
}

/* the engine's shape: a failed step is recorded and passed on to the target;
 * a later step (a rollback) still runs, records its own error, and the
 * first failure stays the target's */
static void test_step_after_failure(void)
{
	struct err_scope target, step;
	err_scope_push(&target);
	err_scope_push(&step);
	fail("step \"migrate\" failed");
	CU_ASSERT_STRING_EQUAL(err_message(), "step \"migrate\" failed");
	err_scope_pop(&step, ERR_PROPAGATE);
	err_scope_push(&step);
	CU_ASSERT_FALSE(err_pending());
	fail("step \"rollback\" failed");
	fail_detail("down.sql:3");
	CU_ASSERT_STRING_EQUAL(err_message(), "step \"rollback\" failed");
	CU_ASSERT_STRING_EQUAL(err_detail(), "down.sql:3");
	err_scope_pop(&step, ERR_PROPAGATE);
	CU_ASSERT_STRING_EQUAL(err_message(), "step \"migrate\" failed");
	CU_ASSERT_PTR_NULL(err_detail());
	err_scope_pop(&target, ERR_PROPAGATE);
	CU_ASSERT_STRING_EQUAL(err_message(), "step \"migrate\" failed");
	err_clear();
}

/* popping a scope that is not the innermost aborts, in a child */
static void test_pop_out_of_order_aborts(void)
{
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		FILE *devnull = freopen("/dev/null", "w", stderr);
		(void)devnull;
		struct err_scope a, b;
		err_scope_push(&a);
		err_scope_push(&b);
		err_scope_pop(&a, ERR_DISCARD);
		_exit(0);
	}
	int status = 0;
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "scopes nest", test_scopes_nest },
		{ "first error wins per scope", test_first_error_wins_per_scope },
		{ "propagate into an empty scope", test_propagate_into_empty },
		{ "propagate into a failed scope", test_propagate_into_failed },
		{ "propagate an empty scope", test_propagate_nothing },
		{ "discard", test_discard },
		{ "detail, hint and status stay in their scope", test_lines_stay_in_their_scope },
		{ "err_clear clears the innermost scope", test_clear_is_innermost },
		{ "a step after a failed step", test_step_after_failure },
		{ "popping out of order aborts", test_pop_out_of_order_aborts },
		{ NULL, NULL },
	};
	return unit_run("err", tests);
}

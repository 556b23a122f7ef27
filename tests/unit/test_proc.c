/* proc: children from an argv with a given environment, their output, exit
 * codes, time limits, cancellation and another user. Cancellation runs in a
 * forked child, which is the process that calls sig_init. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "proc.h"
#include "sig.h"
#include "unit.h"

static char *dir;

static int run(char *const *argv, char *const *envp, struct buf *out, struct buf *err, struct proc_result *r)
{
	struct proc_opts o;
	proc_opts_init(&o);
	o.argv = argv;
	o.envp = envp;
	o.out = out;
	o.err = err;
	return proc_run(&o, r);
}

static void test_exit_codes(void)
{
	struct proc_result r;
	CU_ASSERT_EQUAL(run((char *const[]){ "/bin/true", NULL }, NULL, NULL, NULL, &r), 0);
	CU_ASSERT_EQUAL(r.exit_code, 0);
	CU_ASSERT_EQUAL(run((char *const[]){ "/bin/false", NULL }, NULL, NULL, NULL, &r), 0);
	CU_ASSERT_EQUAL(r.exit_code, 1);
	CU_ASSERT_EQUAL(run((char *const[]){ "/bin/sh", "-c", "exit 7", NULL }, NULL, NULL, NULL, &r), 0);
	CU_ASSERT_EQUAL(r.exit_code, 7);
	CU_ASSERT_EQUAL(r.signal, 0);
	CU_ASSERT_FALSE(r.timed_out || r.cancelled || r.stopped);
	CU_ASSERT_FALSE(err_pending());
}

static void test_not_started(void)
{
	struct proc_result r;
	CU_ASSERT_EQUAL(run((char *const[]){ "/nonexistent/tool", NULL }, NULL, NULL, NULL, &r), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "could not run \"/nonexistent/tool\": No such file"));
	err_clear();
	CU_ASSERT_EQUAL(run((char *const[]){ "true", NULL }, NULL, NULL, NULL, &r), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "absolute path"));
	err_clear();
}

static void test_capture(void)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct proc_result r;
	/* every argument arrives as it was given: nothing is split or expanded */
	CU_ASSERT_EQUAL(run((char *const[]){ "/bin/sh", "-c", "printf '%s|' \"$@\"; echo oops >&2", "sh", "a b",
					     "$HOME", "*", NULL },
			    NULL, &out, &err, &r),
			0);
	CU_ASSERT_STRING_EQUAL(out.s, "a b|$HOME|*|");
	CU_ASSERT_STRING_EQUAL(err.s, "oops\n");
	buf_release(&out);
	buf_release(&err);
}

static void test_err_tail(void)
{
	/* stderr keeps its last err_max bytes: the end of a long complaint is what says why */
	struct proc_opts o;
	struct proc_result r;
	struct buf err = BUF_INIT;
	proc_opts_init(&o);
	o.argv = (char *const[]){ "/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line $i >&2; i=$((i+1)); done",
				  NULL };
	o.err = &err;
	o.err_max = 20;
	CU_ASSERT_EQUAL(proc_run(&o, &r), 0);
	CU_ASSERT_EQUAL(err.len, 20);
	CU_ASSERT_STRING_EQUAL(err.s, "line 1998\nline 1999\n");
	buf_release(&err);
}

static void test_environment(void)
{
	struct buf out = BUF_INIT;
	struct proc_result r;
	setenv("PROC_TEST_SECRET", "must-not-leak", 1);
	CU_ASSERT_EQUAL(run((char *const[]){ "/usr/bin/env", NULL }, (char *const[]){ "A=1", "B=two", NULL }, &out,
			    NULL, &r),
			0);
	CU_ASSERT_STRING_EQUAL(out.s, "A=1\nB=two\n");
	buf_release(&out);
	CU_ASSERT_EQUAL(run((char *const[]){ "/usr/bin/env", NULL }, NULL, &out, NULL, &r), 0);
	CU_ASSERT_EQUAL(out.len, 0);
	buf_release(&out);
	unsetenv("PROC_TEST_SECRET");
}

struct collect {
	struct buf b;
	int calls;
	int stop_after;
};

static int collect(void *ctx, const void *data, size_t n)
{
	struct collect *c = ctx;
	buf_add(&c->b, data, n);
	if (c->stop_after && ++c->calls >= c->stop_after)
		return fail("enough output");
	return 0;
}

static void test_stream_and_fd(void)
{
	struct proc_opts o;
	struct proc_result r;
	struct collect c = { BUF_INIT, 0, 0 };
	proc_opts_init(&o);
	o.argv = (char *const[]){ "/bin/sh", "-c", "echo out; echo err >&2", NULL };
	o.on_out = collect;
	o.out_ctx = &c;
	o.merge_err = 1;
	CU_ASSERT_EQUAL(proc_run(&o, &r), 0);
	CU_ASSERT_STRING_EQUAL(c.b.s, "out\nerr\n");
	buf_release(&c.b);

	/* a callback that says stop: the child is killed */
	struct collect s = { BUF_INIT, 0, 1 };
	proc_opts_init(&o);
	o.argv = (char *const[]){ "/usr/bin/yes", NULL };
	o.on_out = collect;
	o.out_ctx = &s;
	CU_ASSERT_EQUAL(proc_run(&o, &r), -1);
	CU_ASSERT_TRUE(r.stopped);
	CU_ASSERT_EQUAL(r.signal, SIGKILL);
	CU_ASSERT_STRING_EQUAL(err_message(), "enough output");
	err_clear();
	buf_release(&s.b);

	/* stdout straight into a file */
	char *path = xstrfmt("%s/out", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	proc_opts_init(&o);
	o.argv = (char *const[]){ "/bin/echo", "to a file", NULL };
	o.out_fd = fd;
	CU_ASSERT_EQUAL(proc_run(&o, &r), 0);
	close(fd);
	char text[64] = "";
	fd = open(path, O_RDONLY);
	CU_ASSERT_EQUAL(read(fd, text, sizeof text - 1), 10);
	close(fd);
	CU_ASSERT_STRING_EQUAL(text, "to a file\n");
	free(path);
}

static void test_no_descriptor_leaks(void)
{
	/* a descriptor padctl holds (a password file, say) is not the child's */
	int fd = open("/dev/null", O_RDONLY);
	CU_ASSERT_FATAL(fd >= 3);
	struct buf out = BUF_INIT;
	struct proc_result r;
	char *probe = xstrfmt("[ -e /proc/self/fd/%d ] && echo leaked || echo closed", fd);
	CU_ASSERT_EQUAL(run((char *const[]){ "/bin/sh", "-c", probe, NULL }, NULL, &out, NULL, &r), 0);
	CU_ASSERT_STRING_EQUAL(out.s, "closed\n");
	close(fd);
	free(probe);
	buf_release(&out);
}

static void test_timeout(void)
{
	struct proc_opts o;
	struct proc_result r;
	proc_opts_init(&o);
	/* sleep would outlast any test run; the limit is what ends it */
	o.argv = (char *const[]){ "/bin/sleep", "600", NULL };
	o.timeout_ms = 100;
	CU_ASSERT_EQUAL(proc_run(&o, &r), -1);
	CU_ASSERT_TRUE(r.timed_out);
	CU_ASSERT_EQUAL(r.signal, SIGKILL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "did not finish within 100 ms and was killed"));
	err_clear();
}

/* In a forked child: the tool ignores SIGINT (so the forwarded signal does not
 * end it), asks for padctl's SIGINT itself, and then sleeps; proc_run must kill
 * it on its own because the run was cancelled. Exit 0 when all held. */
static void cancel_body(void)
{
	sig_init();
	/* as in the engine: the first signal sets the flag, the run stops at a safe point */
	sig_safe_points(1);
	struct proc_opts o;
	struct proc_result r;
	proc_opts_init(&o);
	o.argv = (char *const[]){ "/bin/sh", "-c", "trap '' INT; kill -INT $PPID; exec /bin/sleep 600", NULL };
	int rc = proc_run(&o, &r);
	if (rc != -1 || !r.cancelled || r.signal != SIGKILL ||
	    !strstr(err_message(), "SIGINT: \"/bin/sh\" was stopped"))
		_exit(2);
	_exit(0);
}

static void test_cancel(void)
{
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		cancel_body();
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		;
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_other_user(void)
{
	if (geteuid() != 0)
		return; /* switching users needs root; the harness runs as root */
	struct buf out = BUF_INIT;
	struct proc_opts o;
	struct proc_result r;
	struct proc_user u = { 65534, 65534, NULL, 0 };
	proc_opts_init(&o);
	o.argv = (char *const[]){ "/usr/bin/id", "-u", NULL };
	o.user = &u;
	o.out = &out;
	CU_ASSERT_EQUAL(proc_run(&o, &r), 0);
	CU_ASSERT_STRING_EQUAL(out.s, "65534\n");
	buf_release(&out);
}

int main(void)
{
	dir = unit_tmpdir();
	static const struct unit_test tests[] = {
		{ "exit codes of true, false and exit 7", test_exit_codes },
		{ "a program that cannot be run", test_not_started },
		{ "arguments arrive as given; stdout and stderr captured", test_capture },
		{ "the child has only the environment given", test_environment },
		{ "stderr keeps its last bytes", test_err_tail },
		{ "output to a callback, a stop, a descriptor", test_stream_and_fd },
		{ "no descriptor of padctl's reaches the child", test_no_descriptor_leaks },
		{ "a time limit kills the child", test_timeout },
		{ "a cancelled run kills the child", test_cancel },
		{ "the child runs as another user", test_other_user },
		{ NULL, NULL },
	};
	int rc = unit_run("proc", tests);
	unit_rmrf(dir);
	free(dir);
	return rc;
}

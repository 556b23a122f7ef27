/* sig: temporary files and child processes are cleaned up at exit and on
 * SIGINT/SIGTERM, and padctl dies of the signal that cancelled it. Each case
 * runs in a forked child, which is the process that calls sig_init. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "sig.h"
#include "unit.h"

static char *dir;

static char *make_file(const char *name)
{
	char *path = xstrfmt("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	return path;
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int run_child(void (*body)(const char *path), const char *path)
{
	fflush(NULL);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		body(path);
		_exit(99); /* bodies never return */
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		;
	return st;
}

static void first_signal_then_exit(const char *path)
{
	sig_init();
	sig_safe_points(1);
	sig_tempfile_register(path);
	kill(getpid(), SIGTERM);
	/* the first signal only cancels: the process goes on to a safe point */
	if (sig_cancelled() != SIGTERM)
		_exit(3);
	exit(0);
}

static void test_first_signal(void)
{
	char *path = make_file("first");
	int st = run_child(first_signal_then_exit, path);
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	CU_ASSERT_FALSE(exists(path));
	free(path);
}

static void no_safe_points(const char *path)
{
	sig_init();
	sig_tempfile_register(path);
	kill(getpid(), SIGTERM);
	/* nothing would look at the flag: the first signal kills */
	_exit(6);
}

static void test_no_safe_points(void)
{
	char *path = make_file("nosafe");
	int st = run_child(no_safe_points, path);
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	CU_ASSERT_FALSE(exists(path));
	free(path);
}

static void second_signal(const char *path)
{
	sig_init();
	sig_safe_points(1);
	sig_tempfile_register(path);
	kill(getpid(), SIGINT);
	kill(getpid(), SIGINT);
	_exit(4);
}

static void test_second_signal(void)
{
	char *path = make_file("second");
	int st = run_child(second_signal, path);
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
	CU_ASSERT_FALSE(exists(path));
	free(path);
}

static void plain_exit(const char *path)
{
	sig_init();
	char *other = xstrfmt("%s.other", path);
	int fd = open(other, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0)
		close(fd);
	sig_tempfile_register(other);
	sig_tempfile_register(path);
	sig_tempfile_unregister(path);
	free(other);
	exit(0);
}

static void test_exit_and_unregister(void)
{
	char *path = make_file("kept");
	int st = run_child(plain_exit, path);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_TRUE(exists(path));
	char *other = xstrfmt("%s.other", path);
	CU_ASSERT_FALSE(exists(other));
	free(other);
	free(path);
}

/* a private directory registered before the file in it (as the tools
 * service's password file is): a signal removes both, file first */
static void dir_then_file(const char *path)
{
	sig_init();
	if (mkdir(path, 0700) != 0)
		_exit(3);
	char *file = xstrfmt("%s/pgpass", path);
	int fd = open(file, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0)
		close(fd);
	sig_tempfile_register(path);
	sig_tempfile_register(file);
	free(file);
	kill(getpid(), SIGTERM);
	exit(0);
}

static void test_directory(void)
{
	char *path = xstrfmt("%s/private", dir);
	int st = run_child(dir_then_file, path);
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	CU_ASSERT_FALSE(exists(path));
	free(path);
}

static int pipefd[2];

static void with_child(const char *path)
{
	(void)path;
	sig_init();
	pid_t g = fork();
	if (g == 0) {
		for (;;)
			pause();
	}
	sig_child_register(g);
	if (write(pipefd[1], &g, sizeof g) != (ssize_t)sizeof g)
		_exit(5);
	kill(getpid(), SIGINT);
	exit(1);
}

static void test_children(void)
{
	/* the grandchild is reparented to us, so we can reap it and see how it ended */
	CU_ASSERT_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CU_ASSERT_FATAL(pipe(pipefd) == 0);
	int st = run_child(with_child, NULL);
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
	pid_t g = 0;
	CU_ASSERT_FATAL(read(pipefd[0], &g, sizeof g) == (ssize_t)sizeof g);
	int gst = 0;
	CU_ASSERT_EQUAL(waitpid(g, &gst, 0), g);
	CU_ASSERT_TRUE(WIFSIGNALED(gst));
	close(pipefd[0]);
	close(pipefd[1]);
}

int main(void)
{
	dir = unit_tmpdir();
	static const struct unit_test tests[] = {
		{ "first signal: cancel, clean up at exit, die of it", test_first_signal },
		{ "no safe points: the first signal cleans up and dies at once", test_no_safe_points },
		{ "second signal: clean up and die at once", test_second_signal },
		{ "plain exit removes registered files only", test_exit_and_unregister },
		{ "registered children are stopped", test_children },
		{ "a registered directory goes after its files", test_directory },
		{ NULL, NULL },
	};
	int rc = unit_run("sig", tests);
	unit_rmrf(dir);
	free(dir);
	return rc;
}

/* remote against a real sshd (tests/harness/sshd.sh): remote commands from
 * an argv (output streamed, exit status and signal reported), hostile
 * arguments arrive as data, a time limit and SIGINT stop the remote command
 * and leave no remote process, and private files over SFTP are 0600 and go
 * away. sshd runs on this machine, so the test looks at the "remote" files
 * and processes directly. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "proc.h"
#include "remote.h"
#include "sig.h"
#include "unit.h"

static char *dir; /* the test's temp dir */
static char *sdir; /* the sshd's */
static int have_sshd;
static struct cfg_ssh ssh;

static char *env_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > kl && !strncmp(p, key, kl) && p[kl] == '=')
			return xstrndup(p + kl + 1, n - kl - 1);
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static int harness(const char *action)
{
	char *script = xstrfmt("%s/tests/harness/sshd.sh", getenv("PADCTL_SOURCE_DIR"));
	char *argv[] = { "/bin/bash", script, (char *)action, sdir, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct proc_opts o;
	proc_opts_init(&o);
	o.argv = argv;
	o.envp = envp;
	o.timeout_ms = 60000;
	struct buf err = BUF_INIT;
	o.err = &err;
	struct proc_result r;
	int rc = proc_run(&o, &r);
	if (rc || r.exit_code)
		fprintf(stderr, "sshd.sh %s: %s\n", action, buf_str(&err));
	buf_release(&err);
	free(script);
	err_clear();
	return rc || r.exit_code ? -1 : 0;
}

static int setup(void)
{
	dir = unit_tmpdir();
	sdir = xstrfmt("%s/sshd", dir);
	if (access("/usr/sbin/sshd", X_OK) != 0 || harness("start")) {
		fprintf(stderr, "test_remote: skipped: no sshd could be started (apt-get install openssh-server)\n");
		return 0;
	}
	char *envf = xstrfmt("%s/env", sdir), *text = NULL;
	size_t len;
	if (fs_read_file(envf, 1 << 16, &text, &len))
		return -1;
	free(envf);
	ssh.host = env_value(text, "SSHD_ADDR");
	char *port = env_value(text, "SSHD_PORT");
	ssh.port = (int)strtol(port, NULL, 10);
	free(port);
	ssh.user = env_value(text, "SSHD_USER");
	ssh.identity = env_value(text, "SSHD_USER_KEY");
	ssh.known_hosts = env_value(text, "SSHD_KNOWN_HOSTS");
	ssh.tunnel = 1;
	free(text);
	have_sshd = 1;
	return 0;
}

static pid_t read_pid(const char *path);

static void teardown(void)
{
	if (have_sshd) {
		char *pidf = xstrfmt("%s/sshd.pid", sdir);
		pid_t pid = read_pid(pidf);
		if (pid > 1)
			kill(pid, SIGTERM);
		free(pidf);
	}
	free(ssh.host);
	free(ssh.user);
	free(ssh.identity);
	free(ssh.known_hosts);
	unit_rmrf(dir);
	free(dir);
	free(sdir);
}

static struct remote *open_remote(void)
{
	struct remote *r = NULL;
	enum remote_stage stage;
	if (remote_open(&ssh, "t1", 10, &r, &stage)) {
		fprintf(stderr, "remote_open: %s / %s\n", err_message(), err_detail() ? err_detail() : "");
		err_clear();
	}
	return r;
}

static int collect(void *ctx, const void *data, size_t n)
{
	buf_add(ctx, data, n);
	return 0;
}

static void test_exec_output_status(void)
{
	if (!have_sshd)
		return;
	struct remote *r = open_remote();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	struct buf out = BUF_INIT, err = BUF_INIT;
	const char *argv[] = { "sh", "-c", "printf 'a b\\n'; printf oops >&2; exit 3", NULL };
	struct remote_exec_opts o = { argv, 10000, collect, &out, collect, &err, NULL };
	struct remote_exec_result res;
	CU_ASSERT_EQUAL(remote_exec(r, &o, &res), 0);
	CU_ASSERT_EQUAL(res.exit_code, 3);
	CU_ASSERT_STRING_EQUAL(buf_str(&out), "a b\n");
	CU_ASSERT_STRING_EQUAL(buf_str(&err), "oops");
	/* died of a signal */
	const char *kill_self[] = { "sh", "-c", "kill -TERM $$", NULL };
	o.argv = kill_self;
	CU_ASSERT_EQUAL(remote_exec(r, &o, &res), 0);
	CU_ASSERT_STRING_EQUAL(res.signal, "TERM");
	CU_ASSERT_EQUAL(res.exit_code, -1);
	buf_release(&out);
	buf_release(&err);
	remote_close(r);
}

static void test_exec_hostile_args(void)
{
	if (!have_sshd)
		return;
	struct remote *r = open_remote();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	char *marker = xstrfmt("%s/pwned", dir);
	char *a1 = xstrfmt("$(touch %s)", marker), *a2 = xstrfmt("`touch %s`", marker),
	     *a3 = xstrfmt("x'; touch %s; '", marker);
	const char *argv[] = { "printf", "[%s]\\n", a1, a2, a3, "two words", "new\nline", "\"q\"", "", NULL };
	struct buf out = BUF_INIT;
	struct remote_exec_opts o = { argv, 10000, collect, &out, NULL, NULL, NULL };
	struct remote_exec_result res;
	CU_ASSERT_EQUAL(remote_exec(r, &o, &res), 0);
	CU_ASSERT_EQUAL(res.exit_code, 0);
	char *want = xstrfmt("[%s]\n[%s]\n[%s]\n[two words]\n[new\nline]\n[\"q\"]\n[]\n", a1, a2, a3);
	CU_ASSERT_STRING_EQUAL(buf_str(&out), want);
	CU_ASSERT_NOT_EQUAL(access(marker, F_OK), 0);
	free(want);
	free(a1);
	free(a2);
	free(a3);
	free(marker);
	buf_release(&out);
	remote_close(r);
}

/* wait_gone waits (bounded) until pid no longer runs */
static int wait_gone(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		if (kill(pid, 0) != 0 && errno == ESRCH)
			return 1;
		/* a zombie of sshd's still answers kill(0): look at its state */
		char *stat = xstrfmt("/proc/%d/stat", (int)pid), *text = NULL;
		size_t len;
		int zombie = !fs_read_file(stat, 4096, &text, &len) && strstr(text, ") Z ");
		err_clear();
		free(stat);
		free(text);
		if (zombie)
			return 1;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static pid_t read_pid(const char *path)
{
	char *text = NULL;
	size_t len;
	pid_t pid = 0;
	if (!fs_read_file(path, 64, &text, &len))
		pid = (pid_t)strtol(text, NULL, 10);
	err_clear();
	free(text);
	return pid;
}

static void test_exec_timeout_kills(void)
{
	if (!have_sshd)
		return;
	struct remote *r = open_remote();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	char *pidf = xstrfmt("%s/sleeper.pid", dir);
	char *script = xstrfmt("echo $$ > '%s'; exec sleep 300", pidf);
	const char *argv[] = { "sh", "-c", script, NULL };
	struct remote_exec_opts o = { argv, 1500, NULL, NULL, NULL, NULL, NULL };
	struct remote_exec_result res;
	CU_ASSERT_EQUAL(remote_exec(r, &o, &res), -1);
	CU_ASSERT_EQUAL(res.timed_out, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message() ? err_message() : "", "did not finish within"));
	err_clear();
	pid_t pid = read_pid(pidf);
	CU_ASSERT(pid > 1);
	CU_ASSERT(pid > 1 && wait_gone(pid));
	/* the session is still usable */
	const char *t[] = { "true", NULL };
	o.argv = t;
	CU_ASSERT_EQUAL(remote_exec(r, &o, &res), 0);
	CU_ASSERT_EQUAL(res.exit_code, 0);
	free(pidf);
	free(script);
	remote_close(r);
}

static void test_exec_sigint_and_pgpass(void)
{
	if (!have_sshd)
		return;
	struct remote *r = open_remote();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* a private file over SFTP: 0600 from the start, removed afterwards */
	char *path = NULL;
	CU_ASSERT_EQUAL_FATAL(remote_put_private(r, dir, "pgpass-", "*:*:*:*:secret\n", 15, &path), 0);
	struct stat stt;
	CU_ASSERT_EQUAL_FATAL(stat(path, &stt), 0);
	CU_ASSERT_EQUAL(stt.st_mode & 0777, 0600);
	unsigned long long size = 0;
	CU_ASSERT_EQUAL(remote_stat_size(r, path, &size), 0);
	CU_ASSERT_EQUAL(size, 15);

	char *pidf = xstrfmt("%s/sigint.pid", dir);
	char *script = xstrfmt("echo $$ > '%s'; exec sleep 300", pidf);
	const char *argv[] = { "sh", "-c", script, NULL };
	/* padctl's signal handling in a child of the test (a cancelled process
	 * dies of its signal at exit): it runs the command, a helper sends it
	 * SIGINT once the remote command runs, and it reports by exit status */
	pid_t runner = fork();
	if (runner == 0) {
		sig_init();
		sig_safe_points(1);
		pid_t self = getpid();
		pid_t helper = fork();
		if (helper == 0) {
			for (int i = 0; i < 400 && read_pid(pidf) <= 0; i++) {
				struct timespec ts = { 0, 25 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
			kill(self, SIGINT);
			_exit(0);
		}
		struct remote_exec_opts o = { argv, 60000, NULL, NULL, NULL, NULL, NULL };
		struct remote_exec_result res;
		int rc = remote_exec(r, &o, &res);
		waitpid(helper, NULL, 0);
		_exit(rc == -1 && res.cancelled ? 0 : 10);
	}
	int st = 0;
	waitpid(runner, &st, 0);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pid_t pid = read_pid(pidf);
	CU_ASSERT(pid > 1 && wait_gone(pid));
	/* the session was the child's copy: a fresh one for the cleanup */
	close(r->fd);
	r->fd = -1;
	remote_close(r);
	r = open_remote();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* a local file copied to a private file there (a dump a remote pg_restore reads) */
	char *local = xstrfmt("%s/input.dump", dir), *copy = NULL;
	unit_write(dir, "input.dump", "PGDMP not really\n");
	CU_ASSERT_EQUAL_FATAL(remote_upload_private(r, dir, "in-", local, &copy), 0);
	char *text = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL(fs_read_file(copy, 1024, &text, &len), 0);
	CU_ASSERT_STRING_EQUAL(text ? text : "", "PGDMP not really\n");
	CU_ASSERT_EQUAL(stat(copy, &stt), 0);
	CU_ASSERT_EQUAL(stt.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(remote_remove(r, copy), 0);
	free(text);
	free(copy);
	free(local);
	/* the cleanup a cancelled tool does: the pgpass goes */
	CU_ASSERT_EQUAL(remote_remove(r, path), 0);
	CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
	CU_ASSERT_EQUAL(remote_remove(r, path), 0); /* already gone is fine */
	free(path);
	free(pidf);
	free(script);
	remote_close(r);
}

/* kept dumps (ssh.backups_dir): the directories are made 0700, a link or a
 * file in their place and a base every user may write to are refused, the
 * file is created 0600 and never over an existing one, hashed on the host
 * (a name with a backslash included), and a changed or missing one fails
 * remote_dump_check */
static void test_kept_dump_files(void)
{
	if (!have_sshd)
		return;
	struct remote *r = open_remote();
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	char *base = xstrfmt("%s/kept \\ 'q' $(x)/deep", dir), *kdir = NULL;
	CU_ASSERT_EQUAL_FATAL(remote_dump_dir(r, base, "qa", "t1", &kdir), 0);
	char *want = xstrfmt("%s/qa/t1", base);
	CU_ASSERT_STRING_EQUAL(kdir, want);
	struct stat st;
	CU_ASSERT_EQUAL(stat(kdir, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	/* again: the directories are there, fine */
	free(kdir);
	CU_ASSERT_EQUAL(remote_dump_dir(r, base, "qa", "t1", &kdir), 0);
	char *file = xstrfmt("%s/run\\1.dump", kdir);
	CU_ASSERT_EQUAL_FATAL(remote_create_private(r, file), 0);
	CU_ASSERT_EQUAL(stat(file, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_NOT_EQUAL(remote_create_private(r, file), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "the file exists"));
	err_clear();
	int fd = open(file, O_WRONLY | O_TRUNC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(fs_write_all(fd, "abc", 3), 0);
	close(fd);
	char hex[65];
	CU_ASSERT_EQUAL(remote_sha256(r, file, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CU_ASSERT_EQUAL(remote_dump_check(r, file, "3", hex), 0);
	CU_ASSERT_NOT_EQUAL(remote_dump_check(r, file, "3", "00"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "changed since it was written"));
	err_clear();
	CU_ASSERT_EQUAL(remote_remove(r, file), 0);
	CU_ASSERT_NOT_EQUAL(remote_dump_check(r, file, "3", hex), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "is missing"));
	err_clear();
	/* a link in place of the target's directory */
	char *other = xstrfmt("%s/elsewhere", dir), *t2 = xstrfmt("%s/qa/t2", base);
	CU_ASSERT_EQUAL(mkdir(other, 0700), 0);
	CU_ASSERT_EQUAL(symlink(other, t2), 0);
	free(kdir);
	kdir = NULL;
	CU_ASSERT_NOT_EQUAL(remote_dump_dir(r, base, "qa", "t2", &kdir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "is not a directory"));
	err_clear();
	/* a base every user may write to; an env directory others may read */
	CU_ASSERT_EQUAL(chmod(base, 0777), 0);
	CU_ASSERT_NOT_EQUAL(remote_dump_dir(r, base, "qa", "t1", &kdir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "writable by every user"));
	err_clear();
	CU_ASSERT_EQUAL(chmod(base, 0700), 0);
	char *qa = xstrfmt("%s/qa", base);
	CU_ASSERT_EQUAL(chmod(qa, 0755), 0);
	CU_ASSERT_NOT_EQUAL(remote_dump_dir(r, base, "qa", "t1", &kdir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "other users could read"));
	err_clear();
	CU_ASSERT_PTR_NULL(kdir);
	free(qa);
	free(other);
	free(t2);
	free(file);
	free(want);
	free(base);
	remote_close(r);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "exec: output, exit status, signal", test_exec_output_status },
		{ "exec: hostile arguments are data", test_exec_hostile_args },
		{ "exec: a time limit kills the remote command", test_exec_timeout_kills },
		{ "exec: SIGINT kills it; private files are 0600 and removed", test_exec_sigint_and_pgpass },
		{ "kept dumps: directories, files, hashes on the host", test_kept_dump_files },
		{ NULL, NULL },
	};
	if (setup())
		return 1;
	int rc = unit_run("remote", tests);
	teardown();
	return rc;
}

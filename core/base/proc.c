/* pipe2 (close-on-exec without a window for another thread's fork) */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "sig.h"

/* How long one wait lasts at most before the time limit and the cancelled
 * flag are looked at again; a signal wakes poll() at once anyway. */
#define SLICE_MS 100
#define ERR_MAX_DEFAULT (64 * 1024)

void proc_opts_init(struct proc_opts *o)
{
	memset(o, 0, sizeof *o);
	o->out_fd = -1;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void child_close_fds(int keep)
{
#ifdef SYS_close_range
	if (keep < 0 && syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
	if (keep >= 3 && syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) == 0 &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
		return;
#endif
	for (int fd = 3; fd < 4096; fd++)
		if (fd != keep)
			close(fd);
}

/* child_exec runs in the forked child: only async-signal-safe calls. On any
 * failure errno goes to padctl through report (close-on-exec, so a
 * successful exec closes it and padctl reads nothing). */
static void child_exec(const struct proc_opts *o, int out_w, int err_w, int report)
{
	static char *const empty_env[] = { NULL };
	int e = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* a group of its own, so a kill reaches whatever the tool starts */
	setpgid(0, 0);
	int in = open("/dev/null", O_RDWR);
	if (in < 0)
		goto fail;
	int src = o->in_path ? open(o->in_path, O_RDONLY) : in;
	if (src < 0)
		goto fail;
	int out = out_w >= 0 ? out_w : in;
	int err = err_w >= 0 ? err_w : o->merge_err ? out : in;
	if (dup2(src, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
		goto fail;
	child_close_fds(report);
	if (o->user && (setgroups(o->user->ngroups, o->user->groups) || setgid(o->user->gid) || setuid(o->user->uid)))
		goto fail;
	if (chdir(o->cwd ? o->cwd : "/") != 0)
		goto fail;
	execve(o->argv[0], o->argv, o->envp ? o->envp : empty_env);
fail:
	e = errno;
	if (write(report, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

struct stream {
	int fd;
	proc_output_fn fn;
	void *ctx;
	struct buf *b;
	size_t max; /* b keeps the last max bytes; 0: all */
	int wfd; /* write it here */
};

/* deliver hands a chunk on; -1 when a callback or a write says stop. */
static int deliver(struct stream *s, const char *data, size_t n, const char *prog)
{
	if (s->wfd >= 0) {
		if (fs_write_all(s->wfd, data, n))
			return fail("could not write the output of \"%s\": %s", prog, strerror(errno));
		return 0;
	}
	if (s->fn)
		return s->fn(s->ctx, data, n) ? -1 : 0;
	if (s->b) {
		buf_add(s->b, data, n);
		if (s->max && s->b->len > s->max) {
			size_t cut = s->b->len - s->max;
			memmove(s->b->s, s->b->s + cut, s->max);
			s->b->len = s->max;
			s->b->s[s->max] = '\0';
		}
	}
	return 0;
}

static void kill_group(pid_t pid)
{
	/* the group first; the leader alone if it has not made its group yet */
	if (kill(-pid, SIGKILL) != 0)
		kill(pid, SIGKILL);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int proc_run(const struct proc_opts *o, struct proc_result *r)
{
	const char *prog = o->argv[0];
	memset(r, 0, sizeof *r);
	if (prog[0] != '/')
		return fail("could not run \"%s\": padctl runs programs by absolute path only", prog);
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int want_out = o->out_fd < 0 && (o->on_out || o->out);
	int want_err = o->on_err || o->err;
	if ((want_out && pipe2(outp, O_CLOEXEC)) || (want_err && pipe2(errp, O_CLOEXEC)) || pipe2(rep, O_CLOEXEC)) {
		int e = errno;
		close_fd(&outp[0]), close_fd(&outp[1]), close_fd(&errp[0]), close_fd(&errp[1]);
		return fail("could not create a pipe to run \"%s\": %s", prog, strerror(e));
	}
	/* a bulk writer (pg_dump into a backup) blocks on a full pipe until padctl
	 * is scheduled again: room for more keeps it writing on a busy machine.
	 * Best effort: the system's pipe-max-size may refuse it. */
	if (want_out && o->out_pipe_size > 0)
		(void)fcntl(outp[0], F_SETPIPE_SZ, (int)o->out_pipe_size);
	/* the child's ends must survive exec: dup2 onto 1 and 2 clears close-on-exec */
	int out_w = want_out ? outp[1] : o->out_fd;
	fflush(NULL);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* registered before a signal can find it unregistered */
	sigprocmask(SIG_BLOCK, &set, &old);
	pid_t pid = fork();
	if (pid == 0)
		child_exec(o, out_w, errp[1], rep[1]);
	int fork_errno = errno;
	if (pid > 0) {
		/* the child makes its group too; whichever runs first, a kill of the group finds it */
		setpgid(pid, pid);
		sig_child_register(pid);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&rep[1]);
	if (pid < 0) {
		close_fd(&outp[0]), close_fd(&errp[0]), close_fd(&rep[0]);
		return fail("could not start \"%s\": %s", prog, strerror(fork_errno));
	}
	/* the exec report: 0 bytes once exec succeeded */
	int child_errno = 0;
	ssize_t got;
	do
		got = read(rep[0], &child_errno, sizeof child_errno);
	while (got < 0 && errno == EINTR);
	close_fd(&rep[0]);

	struct stream s[2] = {
		{ outp[0], o->on_out, o->out_ctx, o->out, 0, -1 },
		{ errp[0], o->on_err, o->err_ctx, o->on_err ? NULL : o->err, o->err_max ? o->err_max : ERR_MAX_DEFAULT,
		  -1 },
	};
	long deadline = o->timeout_ms > 0 ? now_ms() + o->timeout_ms : 0;
	int status = 0, reaped = 0, killed = 0, rc = 0;
	char chunk[65536];
	while (got != (ssize_t)sizeof child_errno) {
		if (!killed && deadline && now_ms() >= deadline) {
			r->timed_out = killed = 1;
			kill_group(pid);
		}
		if (!killed && !o->ignore_cancel && sig_cancelled()) {
			r->cancelled = killed = 1;
			kill_group(pid);
		}
		if (killed) {
			/* a grandchild outside the group may hold a pipe open: stop reading */
			close_fd(&s[0].fd);
			close_fd(&s[1].fd);
		}
		if (!reaped) {
			pid_t w = waitpid(pid, &status, s[0].fd < 0 && s[1].fd < 0 && killed ? 0 : WNOHANG);
			if (w == pid)
				reaped = 1;
			else if (w < 0 && errno != EINTR)
				reaped = -1;
		}
		if (reaped && s[0].fd < 0 && s[1].fd < 0)
			break;
		struct pollfd pf[2];
		nfds_t np = 0;
		int which[2];
		for (int i = 0; i < 2; i++)
			if (s[i].fd >= 0) {
				pf[np].fd = s[i].fd;
				pf[np].events = POLLIN;
				which[np++] = i;
			}
		int wait = SLICE_MS;
		if (deadline && !killed) {
			long left = deadline - now_ms();
			wait = left < 0 ? 0 : left < wait ? (int)left : wait;
		}
		if (reaped && np == 0)
			break;
		int n = poll(np ? pf : NULL, np, wait);
		if (n < 0 && errno != EINTR) {
			rc = fail("could not wait for the output of \"%s\": %s", prog, strerror(errno));
			killed = 1;
			kill_group(pid);
			continue;
		}
		for (nfds_t k = 0; n > 0 && k < np; k++) {
			if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct stream *cur = &s[which[k]];
			ssize_t m = read(cur->fd, chunk, sizeof chunk);
			if (m < 0 && errno == EINTR)
				continue;
			if (m <= 0) {
				close_fd(&cur->fd);
				continue;
			}
			if (deliver(cur, chunk, (size_t)m, prog)) {
				r->stopped = killed = 1;
				kill_group(pid);
			}
		}
	}
	close_fd(&s[0].fd);
	close_fd(&s[1].fd);
	while (!reaped) {
		pid_t w = waitpid(pid, &status, 0);
		if (w == pid || (w < 0 && errno != EINTR))
			reaped = 1;
	}
	sig_child_unregister(pid);
	if (WIFEXITED(status)) {
		r->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		r->signal = WTERMSIG(status);
		r->exit_code = 128 + r->signal;
	}
	if (got == (ssize_t)sizeof child_errno)
		return fail("could not run \"%s\": %s", prog, strerror(child_errno));
	if (rc)
		return rc;
	if (r->timed_out)
		return fail("\"%s\" did not finish within %ld ms and was killed", prog, o->timeout_ms);
	if (r->cancelled) {
		fail("%s: \"%s\" was stopped", sig_cancelled_name(), prog);
		return fail_detail("padctl was told to stop");
	}
	if (r->stopped) {
		if (!err_pending())
			fail("the output of \"%s\" was refused; it was stopped", prog);
		return -1;
	}
	return 0;
}

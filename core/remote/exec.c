/* ppoll is a Linux (and POSIX.1-2024) interface */
#define _GNU_SOURCE
#include "remote.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sig.h"

void remote_command_line(struct buf *b, const char *const *argv)
{
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			buf_addch(b, ' ');
		buf_shell_quote(b, argv[i]);
	}
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The remote command is started as `sh -c 'echo $$; exec "$@"' padctl ARGV...`:
 * the first line of its stdout is the pid of the process that becomes the
 * command, so a time limit or a cancellation can kill it (and its process
 * group) over a second channel. libssh2 1.10 cannot send a signal request,
 * and closing the channel does not stop a command that does not write. */
static const char wrapper[] = "printf '%s\\n' \"$$\"; exec \"$@\"";

static int kill_remote(struct remote *r, long pid)
{
	char spid[32], sgrp[32];
	snprintf(spid, sizeof spid, "%ld", pid);
	snprintf(sgrp, sizeof sgrp, "-%ld", pid);
	const char *argv[] = { "kill", "-TERM", "--", sgrp, spid, NULL };
	struct buf cmd = BUF_INIT;
	remote_command_line(&cmd, argv);
	libssh2_session_set_blocking(r->s, 1);
	libssh2_session_set_timeout(r->s, 10000);
	LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(r->s);
	int rc = -1;
	if (ch && libssh2_channel_exec(ch, cmd.s) == 0) {
		char tmp[256];
		while (libssh2_channel_read(ch, tmp, sizeof tmp) > 0)
			;
		libssh2_channel_close(ch);
		libssh2_channel_wait_closed(ch);
		rc = 0;
	}
	if (ch)
		libssh2_channel_free(ch);
	libssh2_session_set_timeout(r->s, 0);
	buf_release(&cmd);
	return rc;
}

int remote_exec(struct remote *r, const struct remote_exec_opts *o, struct remote_exec_result *res)
{
	memset(res, 0, sizeof *res);
	res->exit_code = -1;
	if (!o->argv || !o->argv[0])
		return fail("no remote command to run on the %s", r->label);
	if (sig_cancelled()) {
		res->cancelled = 1;
		return fail("%s: not starting %s on the %s", sig_cancelled_name(), o->what ? o->what : o->argv[0],
			    r->label);
	}
	const char *name = o->what ? o->what : o->argv[0];
	size_t n = 0;
	while (o->argv[n])
		n++;
	const char **full = xcalloc(n + 5, sizeof *full);
	full[0] = "sh";
	full[1] = "-c";
	full[2] = wrapper;
	full[3] = "padctl";
	for (size_t i = 0; i < n; i++)
		full[4 + i] = o->argv[i];
	struct buf cmd = BUF_INIT;
	remote_command_line(&cmd, full);
	free(full);

	libssh2_session_set_blocking(r->s, 1);
	libssh2_session_set_timeout(r->s, 30000);
	LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(r->s);
	if (!ch || libssh2_channel_exec(ch, cmd.s) != 0) {
		char *why = remote_session_error(r->s);
		char *what = xstrprintable(name);
		fail("could not start %s on the %s: %s", what, r->label, why);
		free(what);
		free(why);
		if (ch)
			libssh2_channel_free(ch);
		buf_release(&cmd);
		return -1;
	}
	buf_release(&cmd);
	libssh2_session_set_timeout(r->s, 0);
	libssh2_session_set_blocking(r->s, 0);
	long deadline = o->timeout_ms > 0 ? now_ms() + o->timeout_ms : 0;
	long pid = 0;
	int have_pid = 0;
	struct buf first = BUF_INIT; /* the pid line, until it is whole */
	char data[16384];
	int rc = 0, stop = 0;
	for (;;) {
		int progress = 0;
		for (int stream = 0; stream < 2 && !stop; stream++) {
			ssize_t got =
				libssh2_channel_read_ex(ch, stream ? SSH_EXTENDED_DATA_STDERR : 0, data, sizeof data);
			if (got == LIBSSH2_ERROR_EAGAIN || got == 0)
				continue;
			if (got < 0) {
				char *why = remote_session_error(r->s);
				fail("lost the %s while %s ran: %s", r->label, name, why);
				free(why);
				rc = -1;
				stop = 1;
				break;
			}
			progress = 1;
			const char *p = data;
			size_t len = (size_t)got;
			if (!stream && !have_pid) {
				const char *nl = memchr(p, '\n', len);
				buf_add(&first, p, nl ? (size_t)(nl - p) : len);
				if (!nl)
					continue;
				have_pid = 1;
				pid = strtol(buf_str(&first), NULL, 10);
				len -= (size_t)(nl + 1 - p);
				p = nl + 1;
			}
			remote_output_fn fn = stream ? o->on_err : o->on_out;
			if (len && fn && fn(stream ? o->err_ctx : o->out_ctx, p, len) < 0) {
				rc = -1;
				stop = 1;
			}
		}
		if (stop)
			break;
		if (libssh2_channel_eof(ch))
			break;
		if (sig_cancelled()) {
			res->cancelled = 1;
			break;
		}
		if (deadline && now_ms() >= deadline) {
			res->timed_out = 1;
			break;
		}
		if (progress)
			continue;
		short ev = POLLIN;
		if (libssh2_session_block_directions(r->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			ev |= POLLOUT;
		struct pollfd pfd = { r->fd, ev, 0 };
		long wait = deadline ? deadline - now_ms() : -1;
		if (deadline && wait < 0)
			wait = 0;
		/* a command that prints nothing for long still keeps the session alive */
		int next = 0;
		if (libssh2_keepalive_send(r->s, &next) == 0 && next > 0 && (wait < 0 || wait > next * 1000L))
			wait = next * 1000L;
		/* SIGINT/SIGTERM are blocked from the flag's check until ppoll waits,
		 * so a signal either is seen here or ends the wait (EINTR): no
		 * wake-ups on a timer, no signal lost in between */
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, &old);
		int pr = 0;
		if (!sig_cancelled()) {
			struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };
			pr = ppoll(&pfd, 1, wait >= 0 ? &ts : NULL, &old);
		}
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pr < 0 && e != EINTR) {
			rc = fail("could not wait for %s on the %s: %s", name, r->label, strerror(e));
			break;
		}
	}
	buf_release(&first);
	if (res->cancelled || res->timed_out || stop) {
		if (have_pid && pid > 1)
			kill_remote(r, pid);
		libssh2_session_set_blocking(r->s, 1);
		libssh2_session_set_timeout(r->s, 10000);
		libssh2_channel_close(ch);
		libssh2_channel_free(ch);
		libssh2_session_set_timeout(r->s, 0);
		char *what = xstrprintable(name);
		if (res->timed_out)
			fail("%s on the %s did not finish within %ld s and was stopped", what, r->label,
			     o->timeout_ms / 1000);
		else if (res->cancelled)
			fail("%s: %s on the %s was stopped", sig_cancelled_name(), what, r->label);
		free(what);
		return -1;
	}
	libssh2_session_set_blocking(r->s, 1);
	libssh2_session_set_timeout(r->s, 10000);
	libssh2_channel_close(ch);
	libssh2_channel_wait_closed(ch);
	char *signame = NULL;
	size_t signame_len = 0;
	libssh2_channel_get_exit_signal(ch, &signame, &signame_len, NULL, NULL, NULL, NULL);
	if (signame) {
		snprintf(res->signal, sizeof res->signal, "%.*s", (int)signame_len, signame);
		libssh2_free(r->s, signame);
	} else {
		res->exit_code = libssh2_channel_get_exit_status(ch);
	}
	libssh2_channel_free(ch);
	libssh2_session_set_timeout(r->s, 0);
	return rc;
}

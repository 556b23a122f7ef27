#include "sig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything the handler reads is static storage written before it is
 * published through a sig_atomic_t, so the handler never sees half an entry
 * and never calls anything but async-signal-safe functions (unlink, kill,
 * write, raise, and PQcancel, which libpq documents as safe there). */
struct tempfile {
	char path[4096];
	volatile sig_atomic_t active;
};

static struct tempfile tempfiles[SIG_MAX_TEMPFILES];
static volatile pid_t children[SIG_MAX_CHILDREN];
static volatile sig_atomic_t cancelled;
static volatile sig_atomic_t progress_shown;
static volatile sig_atomic_t safe_points;
static PGcancel *volatile cancel_obj;
static pid_t owner_pid;
static int initialised;

static void cleanup_files(void)
{
	/* files first, then the (private, by now empty) directories that held them */
	for (size_t i = 0; i < SIG_MAX_TEMPFILES; i++)
		if (tempfiles[i].active && (unlink(tempfiles[i].path) == 0 || errno != EISDIR))
			tempfiles[i].active = 0;
	for (size_t i = 0; i < SIG_MAX_TEMPFILES; i++)
		if (tempfiles[i].active) {
			rmdir(tempfiles[i].path);
			tempfiles[i].active = 0;
		}
}

static void signal_children(int sig)
{
	for (size_t i = 0; i < SIG_MAX_CHILDREN; i++)
		/* a registered child leads a process group of its own (proc.c):
		 * what it started goes with it */
		if (children[i] > 0 && kill(-children[i], sig) != 0)
			kill(children[i], sig);
}

static void say(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0)
		return;
}

/* cancel_statement asks the server to cancel what the watched connection runs */
static void cancel_statement(void)
{
	PGcancel *c = cancel_obj;
	if (c) {
		char err[256];
		PQcancel(c, err, sizeof err);
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	/* a forked child (before exec) inherits the handler but owns nothing */
	if (getpid() != owner_pid) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	/* progress is only ever shown on a terminal */
	if (progress_shown)
		say("\r\033[K");
	progress_shown = 0;
	if (!cancelled && safe_points) {
		cancelled = sig;
		signal_children(sig);
		cancel_statement();
		say(sig == SIGINT ? "padctl: interrupted: stopping at a safe point (press Ctrl-C again to quit at once)\n"
				  : "padctl: terminated: stopping at a safe point\n");
		errno = saved;
		return;
	}
	/* a second signal, or nobody would look at the flag: cancel the
	 * statement in flight, clean up and die of it now */
	if (!cancelled)
		cancel_statement();
	cleanup_files();
	signal_children(cancelled ? SIGKILL : sig);
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

static void at_exit(void)
{
	if (getpid() != owner_pid)
		return;
	cleanup_files();
	signal_children(cancelled ? SIGKILL : SIGTERM);
	if (cancelled) {
		/* die of the signal, as a shell expects of an interrupted command */
		fflush(NULL);
		signal(cancelled, SIG_DFL);
		raise(cancelled);
	}
}

void sig_init(void)
{
	if (initialised)
		return;
	initialised = 1;
	owner_pid = getpid();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	atexit(at_exit);
}

void sig_safe_points(int on)
{
	safe_points = on != 0;
}

int sig_cancelled(void)
{
	return cancelled;
}

const char *sig_cancelled_name(void)
{
	return cancelled == SIGINT ? "SIGINT" : cancelled == SIGTERM ? "SIGTERM" : "a signal";
}

/* block the two signals while an entry changes, so the handler sees it whole */
static void block(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void unblock(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

void sig_tempfile_register(const char *path)
{
	size_t n = strlen(path);
	if (n >= sizeof tempfiles[0].path)
		return;
	sigset_t old;
	block(&old);
	for (size_t i = 0; i < SIG_MAX_TEMPFILES; i++)
		if (!tempfiles[i].active) {
			memcpy(tempfiles[i].path, path, n + 1);
			tempfiles[i].active = 1;
			break;
		}
	unblock(&old);
}

void sig_tempfile_unregister(const char *path)
{
	sigset_t old;
	block(&old);
	for (size_t i = 0; i < SIG_MAX_TEMPFILES; i++)
		if (tempfiles[i].active && strcmp(tempfiles[i].path, path) == 0) {
			tempfiles[i].active = 0;
			break;
		}
	unblock(&old);
}

void sig_child_register(pid_t pid)
{
	sigset_t old;
	block(&old);
	for (size_t i = 0; i < SIG_MAX_CHILDREN; i++)
		if (children[i] <= 0) {
			children[i] = pid;
			break;
		}
	unblock(&old);
}

void sig_child_unregister(pid_t pid)
{
	sigset_t old;
	block(&old);
	for (size_t i = 0; i < SIG_MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
	unblock(&old);
}

void sig_watch_conn(PGconn *conn)
{
	PGcancel *c = conn ? PQgetCancel(conn) : NULL;
	sigset_t old;
	block(&old);
	PGcancel *prev = cancel_obj;
	cancel_obj = c;
	unblock(&old);
	if (prev)
		PQfreeCancel(prev);
}

void sig_progress_shown(int shown)
{
	progress_shown = shown;
}

/* accept4 and POLLRDHUP are Linux interfaces */
#define _GNU_SOURCE
#include "remote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"

/* The forwarder is a child process: padctl has no threads (its state is not
 * thread-safe), and a child that owns the SSH session can block in poll()
 * on every socket at once, so a byte moves the moment it arrives. The parent
 * sets the session up (so every error is reported where the run is), opens a
 * first channel (so an unreachable database is reported as such, and that
 * channel serves the first connection), then forks. */

#define FWD_MAX_CONNS 64
#define FWD_BUF (32 * 1024)

struct fconn {
	int fd; /* the local client; -1 once closed */
	LIBSSH2_CHANNEL *ch; /* NULL while it is being opened */
	int closing; /* the client is gone: free the channel, then the slot */
	int client_eof, remote_eof, eof_sent, shut_wr;
	int readable; /* poll() said the client has input (or EOF): recv only then */
	size_t uplen, upoff; /* client -> channel */
	size_t downlen, downoff; /* channel -> client */
	char up[FWD_BUF];
	char down[FWD_BUF];
};

struct forwarder {
	LIBSSH2_SESSION *s;
	int sshfd, lfd;
	const char *dbhost;
	int dbport, lport;
	LIBSSH2_CHANNEL *first; /* the channel opened before the fork, for the first client */
	int ssh_readable; /* the SSH socket may hold input libssh2 has not read */
	struct fconn *c[FWD_MAX_CONNS];
	size_t n;
};

static void fwd_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fwd_say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

static int socket_error(int err)
{
	return err == LIBSSH2_ERROR_SOCKET_SEND || err == LIBSSH2_ERROR_SOCKET_RECV ||
	       err == LIBSSH2_ERROR_SOCKET_DISCONNECT || err == LIBSSH2_ERROR_SOCKET_TIMEOUT;
}

static void session_lost(struct forwarder *f)
{
	char *msg = NULL;
	int len = 0;
	libssh2_session_last_error(f->s, &msg, &len, 0);
	fwd_say("padctl: tunnel to %s:%d: the SSH session ended (%.*s)\n", f->dbhost, f->dbport, len, msg ? msg : "");
	_exit(1);
}

static void conn_close(struct fconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->closing = 1;
}

/* pump moves what it can for one connection without blocking; 1 when
 * anything moved (the caller loops until nothing does) */
static int pump(struct forwarder *f, struct fconn *c)
{
	int progress = 0;
	ssize_t n;
	if (c->closing) {
		if (c->ch) {
			int rc = libssh2_channel_free(c->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 0;
			c->ch = NULL;
		}
		return 1;
	}
	if (!c->ch) {
		c->ch = libssh2_channel_direct_tcpip_ex(f->s, f->dbhost, f->dbport, "127.0.0.1", f->lport);
		if (!c->ch) {
			int err = libssh2_session_last_errno(f->s);
			if (err == LIBSSH2_ERROR_EAGAIN)
				return 0;
			if (socket_error(err))
				session_lost(f);
			char *msg = NULL;
			int len = 0;
			libssh2_session_last_error(f->s, &msg, &len, 0);
			fwd_say("padctl: tunnel: the SSH host could not open a connection to %s:%d (%.*s)\n", f->dbhost,
				f->dbport, len, msg ? msg : "");
			conn_close(c);
			return 1;
		}
		progress = 1;
	}
	/* client -> channel */
	if (!c->client_eof && !c->uplen && c->readable) {
		n = recv(c->fd, c->up, sizeof c->up, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			c->readable = 0;
		if (n > 0) {
			c->uplen = (size_t)n;
			c->upoff = 0;
			progress = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			c->client_eof = 1;
			progress = 1;
		}
	}
	while (c->upoff < c->uplen) {
		n = libssh2_channel_write(c->ch, c->up + c->upoff, c->uplen - c->upoff);
		if (n == LIBSSH2_ERROR_EAGAIN)
			break;
		if (n < 0) {
			if (socket_error((int)n))
				session_lost(f);
			conn_close(c);
			return 1;
		}
		c->upoff += (size_t)n;
		progress = 1;
	}
	if (c->upoff == c->uplen)
		c->uplen = c->upoff = 0;
	if (c->client_eof && !c->uplen && !c->eof_sent) {
		int rc = libssh2_channel_send_eof(c->ch);
		if (rc != LIBSSH2_ERROR_EAGAIN) {
			c->eof_sent = 1;
			progress = 1;
		}
	}
	/* channel -> client */
	/* read the channel when the socket has input, or when libssh2 queued
	 * data or the end of this channel while reading for another: no recv()
	 * that can only fail */
	if (!c->downlen && !c->remote_eof &&
	    (f->ssh_readable || libssh2_poll_channel_read(c->ch, 0) || libssh2_channel_eof(c->ch))) {
		n = libssh2_channel_read(c->ch, c->down, sizeof c->down);
		if (n == LIBSSH2_ERROR_EAGAIN)
			f->ssh_readable = 0;
		if (n > 0) {
			c->downlen = (size_t)n;
			c->downoff = 0;
			progress = 1;
		} else if (n == 0 || (n < 0 && n != LIBSSH2_ERROR_EAGAIN)) {
			if (n < 0 && socket_error((int)n))
				session_lost(f);
			if (n < 0 || libssh2_channel_eof(c->ch)) {
				c->remote_eof = 1;
				progress = 1;
			}
		}
	}
	while (c->downoff < c->downlen) {
		n = send(c->fd, c->down + c->downoff, c->downlen - c->downoff, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n < 0) {
			conn_close(c);
			return 1;
		}
		c->downoff += (size_t)n;
		progress = 1;
	}
	if (c->downoff == c->downlen)
		c->downlen = c->downoff = 0;
	if (c->remote_eof && !c->downlen && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = 1;
		progress = 1;
	}
	if (c->remote_eof && c->client_eof && c->eof_sent && !c->downlen) {
		conn_close(c);
		progress = 1;
	}
	return progress;
}

static void accept_clients(struct forwarder *f)
{
	for (;;) {
		int fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (f->n == FWD_MAX_CONNS) {
			fwd_say("padctl: tunnel: more than %d connections at once; refusing one\n", FWD_MAX_CONNS);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct fconn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->readable = 1;
		c->ch = f->first;
		f->first = NULL;
		f->c[f->n++] = c;
	}
}

static void close_other_fds(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	unsigned ranges[3][2] = { { 3, (unsigned)lo - 1 },
				  { (unsigned)lo + 1, (unsigned)hi - 1 },
				  { (unsigned)hi + 1, ~0U } };
	for (int i = 0; i < 3; i++) {
		if (ranges[i][0] > ranges[i][1])
			continue;
#ifdef SYS_close_range
		if (syscall(SYS_close_range, ranges[i][0], ranges[i][1], 0U) == 0)
			continue;
#endif
		for (unsigned fd = ranges[i][0]; fd <= ranges[i][1] && fd < 4096; fd++)
			close((int)fd);
	}
}

static void forwarder_main(struct forwarder *f, pid_t parent)
{
	/* die with padctl, whatever kills it; a signal from the terminal is
	 * padctl's to handle: it may still roll back through this tunnel */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	setpgid(0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
	}
	close_other_fds(f->sshfd, f->lfd);
	fcntl(f->lfd, F_SETFL, fcntl(f->lfd, F_GETFL) | O_NONBLOCK);
	libssh2_session_set_blocking(f->s, 0);
	/* keepalives without replies: nobody reads the socket while no client is connected */
	libssh2_keepalive_config(f->s, 0, 15);
	f->ssh_readable = 1;
	struct pollfd pfd[FWD_MAX_CONNS + 2];
	for (;;) {
		int progress;
		do {
			progress = 0;
			for (size_t i = 0; i < f->n; i++)
				progress |= pump(f, f->c[i]);
			/* drop the closed connections */
			size_t k = 0;
			for (size_t i = 0; i < f->n; i++) {
				if (f->c[i]->closing && !f->c[i]->ch)
					free(f->c[i]);
				else
					f->c[k++] = f->c[i];
			}
			f->n = k;
		} while (progress);
		int next = 0;
		libssh2_keepalive_send(f->s, &next);
		/* watch the session socket for input only when a connection can take it:
		 * unread input would wake poll() over and over */
		int want_in = 0;
		size_t np = 0;
		struct fconn *owner[FWD_MAX_CONNS + 2];
		owner[np] = NULL;
		pfd[np++] = (struct pollfd){ f->lfd, POLLIN, 0 };
		for (size_t i = 0; i < f->n; i++) {
			struct fconn *c = f->c[i];
			if (c->closing || !c->ch || c->uplen || (!c->downlen && !c->remote_eof))
				want_in = 1;
			short ev = 0;
			if (c->fd >= 0 && !c->client_eof && !c->uplen)
				ev |= POLLIN;
			if (c->fd >= 0 && c->downlen)
				ev |= POLLOUT;
			if (c->fd >= 0) {
				owner[np] = c;
				pfd[np++] = (struct pollfd){ c->fd, ev, 0 };
			}
		}
		short sev = POLLRDHUP;
		if (want_in)
			sev |= POLLIN;
		if (libssh2_session_block_directions(f->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			sev |= POLLOUT;
		owner[np] = NULL;
		pfd[np++] = (struct pollfd){ f->sshfd, sev, 0 };
		int pr = poll(pfd, np, next > 0 ? next * 1000 : -1);
		if (pr < 0 && errno != EINTR)
			_exit(1);
		struct pollfd *sp = &pfd[np - 1];
		if (!want_in && (sp->revents & (POLLRDHUP | POLLHUP | POLLERR)))
			session_lost(f);
		if (sp->revents & (POLLIN | POLLHUP | POLLERR))
			f->ssh_readable = 1;
		for (size_t i = 1; i + 1 < np; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				owner[i]->readable = 1;
		if (pfd[0].revents & POLLIN)
			accept_clients(f);
	}
}

/* ---------------------------------------------------------------- the parent's side */

struct tunnel {
	char *key;
	int port;
	pid_t pid;
};

static struct tunnel tunnels[8];
static size_t ntunnels;

static char *tunnel_key(const struct cfg_ssh *ssh, const char *dbhost, int dbport)
{
	return xstrfmt("%s\n%d\n%s\n%s\n%s\n%d", ssh->host, ssh->port, ssh->user ? ssh->user : "",
		       ssh->identity ? ssh->identity : "", dbhost, dbport);
}

static int listen_local(int *lfd, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("could not create the tunnel's local socket: %s", strerror(errno));
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	socklen_t al = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		int e = errno;
		close(fd);
		return fail("could not listen on 127.0.0.1 for the tunnel: %s", strerror(e));
	}
	*lfd = fd;
	*port = ntohs(a.sin_port);
	return 0;
}

int remote_tunnel(const struct cfg_ssh *ssh, const char *target, const char *dbhost, int dbport, int timeout_s,
		  int *local_port)
{
	*local_port = 0;
	char *key = tunnel_key(ssh, dbhost, dbport);
	for (size_t i = 0; i < ntunnels; i++)
		if (!strcmp(tunnels[i].key, key) && kill(tunnels[i].pid, 0) == 0) {
			free(key);
			*local_port = tunnels[i].port;
			return 0;
		}
	if (ntunnels == sizeof tunnels / sizeof tunnels[0]) {
		free(key);
		return fail("could not open another SSH tunnel: this run has %zu open", ntunnels);
	}
	struct remote *r = NULL;
	enum remote_stage stage;
	if (remote_open(ssh, target, timeout_s, &r, &stage)) {
		free(key);
		return -1;
	}
	libssh2_session_set_timeout(r->s, (long)(timeout_s > 0 ? timeout_s : 10) * 1000);
	int lfd = -1, port = 0;
	if (listen_local(&lfd, &port)) {
		remote_close(r);
		free(key);
		return -1;
	}
	LIBSSH2_CHANNEL *ch = libssh2_channel_direct_tcpip_ex(r->s, dbhost, dbport, "127.0.0.1", port);
	if (!ch) {
		char *why = remote_session_error(r->s);
		char *h = xstrprintable(dbhost);
		fail("the %s could not reach the database at %s:%d: %s", r->label, h, dbport, why);
		fail_detail("database.host and database.port are used as the SSH host sees them (tunnel: true)");
		fail_hint("check database.host and database.port, and that the SSH server allows TCP forwarding "
			  "(AllowTcpForwarding); `ssh -L 0:HOST:PORT` tries the same");
		free(h);
		free(why);
		close(lfd);
		remote_close(r);
		free(key);
		return -1;
	}
	libssh2_session_set_timeout(r->s, 0);
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		libssh2_channel_free(ch);
		close(lfd);
		remote_close(r);
		free(key);
		return fail("could not start the SSH tunnel's forwarder: %s", strerror(e));
	}
	if (pid == 0) {
		struct forwarder f;
		memset(&f, 0, sizeof f);
		f.s = r->s;
		f.sshfd = r->fd;
		f.lfd = lfd;
		f.dbhost = dbhost;
		f.dbport = dbport;
		f.lport = port;
		f.first = ch;
		forwarder_main(&f, parent);
		_exit(0);
	}
	setpgid(pid, pid);
	sig_child_register(pid);
	/* the child owns the session now: close the socket before freeing, so
	 * nothing the parent's copy would say can reach the server */
	close(lfd);
	close(r->fd);
	r->fd = -1;
	libssh2_channel_free(ch);
	libssh2_session_free(r->s);
	r->s = NULL;
	remote_forget(r);
	tunnels[ntunnels].key = key;
	tunnels[ntunnels].port = port;
	tunnels[ntunnels].pid = pid;
	ntunnels++;
	*local_port = port;
	log_verbose("target \"%s\": tunnel 127.0.0.1:%d -> %s:%d through ssh host %s (forwarder pid %d)", target, port,
		    dbhost, dbport, ssh->host, (int)pid);
	return 0;
}

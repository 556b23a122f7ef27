#include "db.h"

#include <errno.h>
#include <pg_query.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "sql.h"
#include "sqlstream.h"

static void notice_receiver(void *arg, const PGresult *res);


/* A partition must not hang padctl nor leave the target locked. The client
 * side gives up on a silent peer after about 25 s (keepalives) or 30 s of
 * unacknowledged data (tcp_user_timeout); the same settings, sent as startup
 * options so that no RESET in the session undoes them, make the server probe
 * padctl, and a writing session's server checks every second during a long
 * statement that padctl is still there, ending it and releasing its locks.
 * Every second, not less often: a transactional migration travels whole, up
 * to its COMMIT, in one message (db_exec_later), so a padctl killed while it
 * runs has it rolled back only when the server notices before COMMIT (the
 * check costs the server a poll() a second during a statement). */
#define DB_KEEPALIVES_IDLE "10"
#define DB_KEEPALIVES_INTERVAL "5"
#define DB_KEEPALIVES_COUNT "3"
#define DB_TCP_USER_TIMEOUT_MS "30000"
#define DB_CHECK_INTERVAL_MS "1000"

static char *startup_options(const struct db_params *p, int server_side)
{
	struct buf b = BUF_INIT;
	const char *env = getenv("PGOPTIONS");
	buf_adds(&b, env ? env : "");
	if (server_side) {
		buf_adds(&b, " -c tcp_keepalives_idle=" DB_KEEPALIVES_IDLE
			     " -c tcp_keepalives_interval=" DB_KEEPALIVES_INTERVAL
			     " -c tcp_keepalives_count=" DB_KEEPALIVES_COUNT
			     " -c tcp_user_timeout=" DB_TCP_USER_TIMEOUT_MS);
		if (!p->read_only)
			buf_adds(&b, " -c client_connection_check_interval=" DB_CHECK_INTERVAL_MS);
	}
	/* the host, not the plugin, makes a dry run harmless (last, so it wins) */
	if (p->read_only)
		buf_adds(&b, " -c default_transaction_read_only=on");
	return buf_detach(&b);
}

/* connect_params connects (async: only starts connecting, PQconnectStartParams) */
static PGconn *connect_params(const struct db_params *p, int server_side, int async)
{
	const char *keys[24], *vals[24];
	int n = 0;
	char port[16], timeout[16];
	snprintf(port, sizeof port, "%d", p->port);
	snprintf(timeout, sizeof timeout, "%d", p->connect_timeout > 0 ? p->connect_timeout : 10);
	char *options = startup_options(p, server_side);
#define KV(k, v) do { const char *v_ = (v); if (v_) { keys[n] = (k); vals[n] = v_; n++; } } while (0)
	KV("host", p->host);
	KV("hostaddr", p->hostaddr);
	KV("port", p->port > 0 ? port : NULL);
	KV("dbname", p->dbname);
	KV("user", p->user);
	KV("password", p->password);
	KV("passfile", p->passfile);
	KV("sslmode", p->sslmode);
	KV("connect_timeout", timeout);
	KV("application_name", p->application_name);
	KV("client_encoding", p->client_encoding);
	KV("keepalives", "1");
	KV("keepalives_idle", DB_KEEPALIVES_IDLE);
	KV("keepalives_interval", DB_KEEPALIVES_INTERVAL);
	KV("keepalives_count", DB_KEEPALIVES_COUNT);
	KV("tcp_user_timeout", DB_TCP_USER_TIMEOUT_MS);
	KV("options", *options ? options : NULL);
#undef KV
	keys[n] = vals[n] = NULL;
	PGconn *conn = async ? PQconnectStartParams(keys, vals, 0) : PQconnectdbParams(keys, vals, 0);
	free(options);
	return conn;
}

static PGconn *connect_once(const struct db_params *p, int server_side)
{
	return connect_params(p, server_side, 0);
}

/* connect_refused reports a connection to label that did not come up, msg
 * saying why (libpq's words, trailing newlines dropped) */
static int connect_refused(const char *label, const char *msg, const char *hint)
{
	size_t len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		len--;
	fail("cannot connect to %s", label);
	fail_detail("%.*s", (int)len, msg);
	return fail_hint("%s", hint ? hint
				    : "check that the server runs and that host, port, user and the password source in "
				      "the env file are right; `padctl doctor` checks each");
}

/* connect_failed is connect_refused with the words of conn's failure */
static int connect_failed(PGconn *conn, const char *label, const char *hint)
{
	return connect_refused(label, conn ? PQerrorMessage(conn) : "out of memory", hint);
}

static struct db *db_new(PGconn *conn, const char *label, int read_only, int server_side)
{
	struct db *db = xcalloc(1, sizeof *db);
	db->conn = conn;
	db->label = xstrdup(label);
	db->read_only = read_only;
	db->server_side = server_side;
	db->failed_file = -1;
	PQsetNoticeReceiver(conn, notice_receiver, db);
	return db;
}

int db_connect(const struct db_params *p, const char *label, struct db **out)
{
	int server_side = 1;
	PGconn *conn = connect_once(p, 1);
	/* a server older than 14 lacks client_connection_check_interval (older
	 * than 12, tcp_user_timeout): connect without the server-side settings */
	if (conn && PQstatus(conn) != CONNECTION_OK &&
	    strstr(PQerrorMessage(conn), "unrecognized configuration parameter")) {
		PQfinish(conn);
		server_side = 0;
		conn = connect_once(p, 0);
	}
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		connect_failed(conn, label, p->hint);
		PQfinish(conn);
		return -1;
	}
	*out = db_new(conn, label, p->read_only, server_side);
	return 0;
}

struct db_pending {
	PGconn *conn;
	char *label, *hint;
	int read_only;
	PostgresPollingStatusType want; /* what PQconnectPoll waits for next */
	struct timespec deadline;       /* connect_timeout from the start, as libpq's own wait */
};

int db_connect_start(const struct db_params *p, const char *label, struct db_pending **out)
{
	*out = NULL;
	PGconn *conn = connect_params(p, 1, 1);
	if (!conn || PQstatus(conn) == CONNECTION_BAD) {
		PQfinish(conn);
		return -1;
	}
	struct db_pending *c = xcalloc(1, sizeof *c);
	c->conn = conn;
	c->label = xstrdup(label);
	c->hint = p->hint ? xstrdup(p->hint) : NULL;
	c->read_only = p->read_only;
	/* libpq's rule for a connection just started: wait until the socket is writable */
	c->want = PGRES_POLLING_WRITING;
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += p->connect_timeout > 0 ? p->connect_timeout : 10;
	*out = c;
	return 0;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)(deadline->tv_sec - now.tv_sec) * 1000L + (deadline->tv_nsec - now.tv_nsec) / 1000000L;
	return ms > 0 ? ms : 0;
}

int db_connect_step(struct db_pending *c, int wait, struct db **out)
{
	*out = NULL;
	for (;;) {
		if (c->want == PGRES_POLLING_OK)
			break;
		if (c->want == PGRES_POLLING_FAILED)
			return connect_failed(c->conn, c->label, c->hint);
		struct pollfd pfd = { PQsocket(c->conn), c->want == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 };
		int timeout = wait ? (int)ms_left(&c->deadline) : 0;
		int n = pfd.fd < 0 ? 1 : poll(&pfd, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && !wait)
			return 0; /* not yet: the caller does something else meanwhile */
		if (n == 0) {
			/* what libpq's own wait says (connectDBComplete) */
			const char *host = PQhost(c->conn), *port = PQport(c->conn);
			char *why = host && *host == '/'
					    ? xstrfmt("connection to server on socket \"%s/.s.PGSQL.%s\" failed: timeout expired",
						      host, port ? port : "")
					    : xstrfmt("connection to server at \"%s\", port %s failed: timeout expired",
						      host ? host : "", port ? port : "");
			connect_refused(c->label, why, c->hint);
			free(why);
			return -1;
		}
		c->want = PQconnectPoll(c->conn);
	}
	/* a server older than 14 refuses the server-side settings: the caller
	 * connects the blocking way, which retries without them */
	if (PQstatus(c->conn) != CONNECTION_OK)
		return connect_failed(c->conn, c->label, c->hint);
	*out = db_new(c->conn, c->label, c->read_only, 1);
	c->conn = NULL;
	return 1;
}

int db_connect_unsupported(const struct db_pending *c)
{
	return c && c->conn && strstr(PQerrorMessage(c->conn), "unrecognized configuration parameter") != NULL;
}

void db_connect_abandon(struct db_pending *c)
{
	if (!c)
		return;
	PQfinish(c->conn);
	free(c->label);
	free(c->hint);
	free(c);
}

/* ---------------------------------------------------------------- lines */

/* line_of returns the 1-based line of byte offset off in text. */
static int line_of(const char *text, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off && text[i]; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* a function body that a statement of the running text defined: the
 * server's "PL/pgSQL function f(...) line N" maps into the file */
struct fn_body {
	char *name; /* last component, folded as the server folds it */
	size_t body;
};

/* a statement of a queued file: its bytes in the file and where it starts in the message, in characters */
struct qstmt {
	size_t off, len;
	size_t chars;
};

/* db_queued: a file db_exec_later put into db->deferred, to be run with what follows it */
struct db_queued {
	struct db_queued *next; /* the next file of the same message */
	char *text, *origin;
	size_t len;
	size_t first;       /* results in front of its first statement's (the deferred statements') */
	struct qstmt *stmt; /* each statement is followed by a separator (QUEUE_SEP) */
	size_t n;
	size_t end_chars;   /* the message up to the end of the file's part, in characters */
};

/* db_run: what db_exec is running, so errors and notices name the file and line */
struct db_run {
	const char *text; /* the whole text */
	size_t len;
	const char *origin;
	size_t off, slen;     /* the statement running */
	size_t copy_data;     /* offset of its inline COPY data, when it has some */
	int has_copy_data;
	size_t pre_chars;     /* deferred statements in front of it, in characters */
	size_t cur_off;       /* line cursor: statements run in order, so counting lines is linear */
	int cur_line;
	struct fn_body *fns;
	size_t nfns;
	/* a file db_exec_later queued runs as part of a bigger message: a position names
	 * the statement it falls in (the server parses the whole message first) */
	const struct qstmt *stmts;
	size_t nstmts;
	size_t end_chars;
};

static int run_line(struct db_run *r, size_t off)
{
	if (off < r->cur_off) {
		r->cur_off = 0;
		r->cur_line = 1;
	}
	for (size_t i = r->cur_off; i < off && i < r->len; i++)
		if (r->text[i] == '\n')
			r->cur_line++;
	r->cur_off = off;
	return r->cur_line;
}

static void run_note_function(struct db_run *r)
{
	size_t body;
	char *fn;
	if (!sql_body_of(r->text, r->off, r->slen, &body, &fn) || !fn) {
		free(fn);
		return;
	}
	r->fns = xrealloc(r->fns, (r->nfns + 1) * sizeof *r->fns);
	r->fns[r->nfns].name = fn;
	r->fns[r->nfns].body = body;
	r->nfns++;
}

static void run_release(struct db_run *r)
{
	for (size_t i = 0; i < r->nfns; i++)
		free(r->fns[i].name);
	free(r->fns);
}

/* context_line maps the innermost frame of the server's CONTEXT that lies in
 * the text to a line of the file: a DO block's or a function's body defined
 * in the text ("PL/pgSQL function inline_code_block line 33"), or a row of
 * the statement's inline COPY data ("COPY t, line 5"). 0: no frame maps. */
static int context_line(struct db_run *r, const char *ctx)
{
	for (const char *l = ctx; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t ll = nl ? (size_t)(nl - l) : strlen(l);
		char frame[512];
		snprintf(frame, sizeof frame, "%.*s", (int)(ll < sizeof frame - 1 ? ll : sizeof frame - 1), l);
		l = nl ? nl + 1 : NULL;
		const char *at, *name = NULL;
		size_t namelen = 0;
		long n = 0;
		int is_copy = 0;
		if ((at = strstr(frame, "PL/pgSQL function ")) == frame && strstr(frame, " line ")) {
			name = frame + strlen("PL/pgSQL function ");
			const char *paren = strchr(name, '(');
			const char *sp = strstr(name, " line ");
			namelen = (size_t)((paren && paren < sp ? paren : sp) - name);
			n = strtol(sp + strlen(" line "), NULL, 10);
		} else if ((at = strstr(frame, "compilation of PL/pgSQL function \"")) == frame &&
			   (at = strstr(frame, "\" near line ")) != NULL) {
			name = frame + strlen("compilation of PL/pgSQL function \"");
			namelen = (size_t)(at - name);
			n = strtol(at + strlen("\" near line "), NULL, 10);
		} else if (strncmp(frame, "COPY ", 5) == 0 && (at = strstr(frame, ", line ")) != NULL) {
			is_copy = 1;
			n = strtol(at + strlen(", line "), NULL, 10);
		} else {
			continue;
		}
		if (n <= 0)
			continue;
		if (is_copy) {
			if (r->has_copy_data)
				return run_line(r, r->copy_data) + (int)n - 1;
			continue;
		}
		if (namelen == strlen("inline_code_block") && strncmp(name, "inline_code_block", namelen) == 0) {
			size_t body;
			char *fn;
			if (sql_body_of(r->text, r->off, r->slen, &body, &fn) && !fn)
				return line_of(r->text, body) + (int)n - 1;
			free(fn);
			continue;
		}
		/* "app.f" or "\"Odd\"": the last component, quotes removed */
		const char *dot = NULL;
		int inq = 0;
		for (size_t k = 0; k < namelen; k++) {
			if (name[k] == '"')
				inq = !inq;
			else if (name[k] == '.' && !inq)
				dot = name + k;
		}
		if (dot) {
			namelen -= (size_t)(dot + 1 - name);
			name = dot + 1;
		}
		if (namelen >= 2 && name[0] == '"' && name[namelen - 1] == '"') {
			name++;
			namelen -= 2;
		}
		for (size_t k = r->nfns; k-- > 0;)
			if (strlen(r->fns[k].name) == namelen && strncmp(r->fns[k].name, name, namelen) == 0)
				return line_of(r->text, r->fns[k].body) + (int)n - 1;
	}
	return 0;
}

/* server_line is the line of the file a server message (error or notice) of
 * the running statement belongs to: its position, else a frame of its
 * CONTEXT, else the statement's first line. 0: it belongs to the deferred
 * statements in front, not to the file. */
static int server_line(struct db_run *r, const PGresult *res)
{
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	long p = pos ? strtol(pos, NULL, 10) : 0;
	if (p > 0 && r->nstmts) {
		if ((size_t)p <= r->stmts[0].chars || (size_t)p > r->end_chars)
			return 0;
		size_t j = r->nstmts - 1;
		while (j > 0 && r->stmts[j].chars >= (size_t)p)
			j--;
		const struct qstmt *q = &r->stmts[j];
		return run_line(r, q->off + sql_byte_offset(r->text + q->off, q->len, p - (long)q->chars));
	}
	if (p > 0) {
		if ((size_t)p <= r->pre_chars)
			return 0;
		p -= (long)r->pre_chars;
		return run_line(r, r->off + sql_byte_offset(r->text + r->off, r->slen, p));
	}
	const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
	int line = ctx ? context_line(r, ctx) : 0;
	if (line > 0)
		return line;
	return run_line(r, r->off + sql_skip_blank(r->text + r->off, r->slen));
}

static void add_lines(struct buf *b, const char *label, const char *text)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_addf(b, "%s: %.*s\n", label, (int)n, p);
		p = nl ? nl + 1 : NULL;
	}
}

static void notice_receiver(void *arg, const PGresult *res)
{
	struct db *db = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (!sev)
		sev = "NOTICE";
	if (!msg)
		msg = PQresultErrorMessage(res);
	int from_file = db->run && db->run->origin;
	if (!from_file && !db->notice_from) {
		/* padctl's own statements (CREATE ... IF NOT EXISTS in the ledger) */
		log_verbose("server: %s: %s", sev, msg);
		return;
	}
	if (log_level_get() < LOG_NORMAL)
		return;
	struct buf b = BUF_INIT;
	if (isatty(STDERR_FILENO))
		buf_adds(&b, "\r\033[K"); /* a progress line may be showing */
	int line = from_file ? server_line(db->run, res) : 0;
	if (line > 0)
		buf_addf(&b, "%s:%d: %s: %s\n", db->run->origin, line, sev, msg);
	else if (!from_file)
		buf_addf(&b, "%s %s: %s\n", db->notice_from, sev, msg);
	else
		buf_addf(&b, "%s: %s\n", sev, msg);
	add_lines(&b, "DETAIL", PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	add_lines(&b, "HINT", PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	fputs(buf_str(&b), stderr);
	buf_release(&b);
}

/* ---------------------------------------------------------------- errors */

/* report_error records a failed result; r (NULL for text that is not a
 * file) names the file and line. The message is never empty: without one
 * from the server it names the SQLSTATE or the result status. */
static int report_error(struct db *db, const PGresult *res, struct db_run *r)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	if (!msg || !*msg)
		msg = PQerrorMessage(db->conn);
	size_t mlen = strlen(msg);
	while (mlen && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
		mlen--;
	char *fallback = NULL;
	if (!mlen) {
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		fallback = code ? xstrfmt("the server failed the statement with SQLSTATE %s and no message", code)
				: xstrfmt("the statement ended with %s and no message from the server", PQresStatus(st));
		msg = fallback;
		mlen = strlen(msg);
	}
	int line = r && res ? server_line(r, res) : 0;
	if (r && !res)
		line = run_line(r, r->off + sql_skip_blank(r->text + r->off, r->slen));
	if (line > 0)
		fail("%s:%d: %.*s", r->origin, line, (int)mlen, msg);
	else
		fail("%.*s", (int)mlen, msg);
	free(fallback);
	snprintf(db->sqlstate, sizeof db->sqlstate, "%s", code ? code : "");
	fail_detail("on %s%s%s", db->label, code ? ", SQLSTATE " : "", code ? code : "");
	if (detail)
		fail_detail("%s", detail);
	for (const char *p = ctx; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fail_detail("context: %.*s", (int)n, p);
		p = nl ? nl + 1 : NULL;
	}
	if (hint)
		fail_hint("%s", hint);
	if (code && strcmp(code, "25006") == 0 && db->read_only)
		fail_hint("this is a dry run: the connection is read-only and nothing may change");
	return -1;
}

/* ---------------------------------------------------------------- execution */

/* copy_in streams a COPY's inline data (none: the COPY fails with a message) */
static int copy_in(struct db *db, const char *data, size_t len, int have)
{
	if (!have)
		return PQputCopyEnd(db->conn, "COPY FROM STDIN has no inline data here (padctl runs no terminal input)") >
				       0
			       ? 0
			       : -1;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 65536 ? len - off : 65536;
		if (PQputCopyData(db->conn, data + off, (int)n) != 1)
			return -1;
		off += n;
	}
	return PQputCopyEnd(db->conn, NULL) > 0 ? 0 : -1;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

/* queued_free frees the list of queued files q */
static void queued_free(struct db_queued *q)
{
	while (q) {
		struct db_queued *next = q->next;
		free(q->text);
		free(q->origin);
		free(q->stmt);
		free(q);
		q = next;
	}
}

/* queue_owner returns the queued file of the list q that the failed result
 * k is the error of, NULL when none, and its place in *idx: the file whose
 * part holds the error's position (a syntax error the server found when it
 * parsed the whole message, before running any of it), else the file in
 * whose range of results k came */
static struct db_queued *queue_owner(struct db_queued *q, const PGresult *res, size_t k, long *idx)
{
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	long p = pos ? strtol(pos, NULL, 10) : 0;
	for (*idx = 0; q; q = q->next, (*idx)++) {
		if (p > 0 ? (size_t)p > q->stmt[0].chars && (size_t)p <= q->end_chars
			  : k >= q->first && k < q->first + 2 * q->n)
			return q;
	}
	*idx = -1;
	return NULL;
}

/* queue_run points run at the queued file q's first statement, forgetting the file it followed */
static void queue_run(struct db_run *r, const struct db_queued *q)
{
	run_release(r);
	memset(r, 0, sizeof *r);
	r->text = q->text;
	r->len = q->len;
	r->origin = q->origin;
	r->cur_line = 1;
	r->stmts = q->stmt;
	r->nstmts = q->n;
	r->end_chars = q->end_chars;
	r->off = q->stmt[0].off;
	r->slen = q->stmt[0].len;
	r->pre_chars = q->stmt[0].chars;
}

/* queue_at points the queued file's run at its statement j */
static void queue_at(struct db_run *r, const struct db_queued *q, size_t j)
{
	r->off = q->stmt[j].off;
	r->slen = q->stmt[j].len;
	r->pre_chars = q->stmt[j].chars;
}

/* send_message sends sql (one statement of r, or any text when r is NULL)
 * after what db_defer and db_exec_later queued, as one message, and collects
 * every result: COPY data is streamed (copy, the statement's inline data,
 * when not NULL) or drained. The queued file's results are followed one by
 * one, so that its notices and errors name its lines. The first failure is
 * reported; with last set, only a failure of the queued file is, and *last
 * gets the message's last result (the caller's; an error of anything else
 * is the last result, since the server runs nothing after it). */
static int send_message(struct db *db, const char *sql, size_t len, struct db_run *r, const char *copy,
			size_t copy_len, PGresult **last)
{
	size_t pre = utf8_chars(db->deferred.s, db->deferred.len); /* as the server counts positions */
	struct db_queued *q = db->queued;
	db->queued = NULL;
	db->counted_len = db->counted_n = 0;
	db->failed_file = -1;
	int sent;
	if (last)
		*last = NULL;
	if (pre == 0 && sql[len] == '\0') {
		sent = PQsendQuery(db->conn, sql);
	} else {
		buf_add(&db->deferred, sql, len);
		sent = PQsendQuery(db->conn, db->deferred.s);
		buf_reset(&db->deferred);
	}
	if (r)
		r->pre_chars = pre;
	if (!sent) {
		queued_free(q);
		return report_error(db, NULL, NULL);
	}
	/* the first file's run: notices until its first statement's result are its first statement's
	 * (those of the deferred statements in front were always shown so); a later file's run starts
	 * two results before its first statement's (its BEGIN's result and the notices after it: libpq
	 * reads notices ahead of a result it holds until the next other message) */
	struct db_run qrun, *caller = db->run;
	memset(&qrun, 0, sizeof qrun);
	struct db_queued *cur = q; /* the file whose results come now or next */
	if (cur) {
		queue_run(&qrun, cur);
		db->run = &qrun;
	}
	int rc = 0;
	size_t k = 0;
	PGresult *res;
	while ((res = PQgetResult(db->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		int failed = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY &&
			     st != PGRES_COPY_IN && st != PGRES_COPY_OUT;
		long idx = -1;
		struct db_queued *own = failed && q && !rc ? queue_owner(q, res, k, &idx) : NULL;
		if (q && db->on_result)
			db->on_result(db->on_result_arg, k, res);
		if (st == PGRES_COPY_IN) {
			if (copy_in(db, copy, copy_len, copy != NULL) && !rc)
				rc = report_error(db, NULL, r);
		} else if (st == PGRES_COPY_OUT) {
			char *row;
			while (PQgetCopyData(db->conn, &row, 0) > 0)
				PQfreemem(row);
		} else if (own) {
			if (own != cur || db->run != &qrun) {
				/* a syntax error in a later file (nothing ran), or an error before the run switched */
				queue_run(&qrun, own);
				if (!PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) && k >= own->first)
					queue_at(&qrun, own, (k - own->first) / 2);
			}
			rc = report_error(db, res, &qrun);
			db->failed_file = idx;
			if (last) {
				PQclear(*last);
				*last = NULL;
			}
		} else if (failed && !rc && !last) {
			/* an error in the deferred prefix names no line of the file */
			rc = report_error(db, res, r);
		} else if (!failed && cur && k >= cur->first && k < cur->first + 2 * cur->n &&
			   (k - cur->first) % 2 == 0) {
			/* statement j ran: what comes before the next result is statement j + 1's (the
			 * separator after each statement holds back libpq, which reads notices ahead
			 * of the result it holds, until this point) */
			size_t j = (k - cur->first) / 2;
			run_note_function(&qrun);
			if (j + 1 < cur->n) {
				queue_at(&qrun, cur, j + 1);
			} else {
				db->run = caller;
				cur = cur->next;
			}
		}
		if (!failed && cur && db->run != &qrun && k + 2 >= cur->first) {
			queue_run(&qrun, cur);
			db->run = &qrun;
		}
		if (last && !rc) {
			PQclear(*last);
			*last = res;
		} else {
			PQclear(res);
		}
		k++;
	}
	db->run = caller;
	run_release(&qrun);
	queued_free(q);
	return rc;
}

static int send_text(struct db *db, const char *sql, size_t len, struct db_run *r, const char *copy,
		     size_t copy_len)
{
	return send_message(db, sql, len, r, copy, copy_len, NULL);
}

/* guard_refuses checks a statement against db->guard */
static int guard_refuses(struct db *db, const char *sql, size_t off, size_t len, const char *origin, const char *full)
{
	int kind = sql_stmt_kind(sql + off, len);
	int refused = kind == SQL_KIND_TX_CONTROL || (kind == SQL_KIND_SET_READ_ONLY && (db->guard & DB_GUARD_READ_ONLY));
	if (!refused)
		return 0;
	off += sql_skip_blank(sql + off, len);
	const char *why = db->guard & DB_GUARD_READ_ONLY
				  ? "this is a dry run: it runs in a read-only transaction that is always rolled back"
				  : "the host holds a transaction here; it commits or rolls it back itself";
	if (origin)
		fail("%s:%d: %s is not allowed here", origin, line_of(full, off), sql_kind_name(kind));
	else
		fail("%s is not allowed here: %.*s", sql_kind_name(kind), (int)(len > 80 ? 80 : len), sql + off);
	fail_detail("on %s; %s", db->label, why);
	fail_hint("remove the statement; a migration that must run outside a transaction says "
		  "`transactional: false` in its meta.yml");
	return 1;
}

/* guard_blind tells, before guarded text is sent, whether the server would
 * read it differently from the parser the guard uses (UTF-8, strings
 * standard): with standard_conforming_strings off, 'a\' does not end a
 * string; with a client_encoding that cannot be a server encoding (SJIS, BIG5,
 * GBK, ...) a character's second byte can be a backslash, so E'...\' ends
 * early. Either way a COMMIT the guard reads as part of a literal or a comment
 * would run. The server reports both settings after each change (a SET or
 * set_config() sent before). */
static int guard_blind(struct db *db, const char *origin, const char *full, size_t off, size_t n)
{
	if (!db->guard)
		return 0;
	const char *scs = PQparameterStatus(db->conn, "standard_conforming_strings");
	const char *enc = PQparameterStatus(db->conn, "client_encoding");
	struct buf why = BUF_INIT;
	if (scs && strcmp(scs, "off") == 0)
		buf_adds(&why, "standard_conforming_strings is off");
	else if (!pg_valid_server_encoding_id(PQclientEncoding(db->conn)))
		buf_addf(&why, "client_encoding is %s", enc ? enc : "a multibyte encoding");
	if (!why.len) {
		buf_release(&why);
		return 0;
	}
	if (origin)
		fail("%s:%d: %s: padctl cannot read the statement as the server would", origin,
		     line_of(full, off + sql_skip_blank(full + off, n)), buf_str(&why));
	else
		fail("%s: padctl cannot read the statement as the server would", buf_str(&why));
	buf_release(&why);
	fail_detail("on %s; %s", db->label,
		    db->guard & DB_GUARD_READ_ONLY
			    ? "this is a dry run, where padctl refuses transaction control and read-only changes"
			    : "the host holds a transaction here and refuses transaction control in it");
	return fail_hint("leave standard_conforming_strings on (write backslashes in E'...' strings) and "
			 "client_encoding alone (padctl sends UTF-8); nothing after the setting was sent");
}

/* check_text reads the whole text once before anything is sent: every
 * statement must parse and pass db->guard. 1: a syntax error (for the
 * server to judge), -1: refused. */
static int check_text(struct db *db, const char *sql, size_t len, const char *origin)
{
	struct sql_stream s;
	struct sql_piece p;
	int rc, got;
	sql_stream_init(&s, sql, len);
	while ((got = sql_stream_next(&s, &p)) > 0)
		if (!p.copy_data && db->guard && guard_refuses(db, sql, p.off, p.len, origin, sql))
			break;
	if (got > 0)
		rc = -1;
	else if (got < 0 && (s.err_meta || s.saw_copy || len > SQL_STREAM_CHUNK)) {
		/* COPY data before the error would be SQL to the server and confuse its
		 * report, and a big text would make the server hold every parse tree of
		 * it: PostgreSQL's parser (libpg_query) has the say */
		if (origin)
			fail("%s:%d: %s", origin, line_of(sql, s.err_off), s.err);
		else
			fail("%s", s.err);
		if (s.err_meta) {
			fail_hint("padctl sends SQL to the server and runs no psql commands: remove the line");
		} else {
			fail_detail("on %s, SQLSTATE 42601 (found before anything was sent)", db->label);
			fail_hint("fix the statement; nothing of the file ran");
		}
		rc = -1;
	} else {
		rc = got < 0 ? 1 : 0;
	}
	sql_stream_release(&s);
	return rc;
}

int db_promote_write(struct db *db, const char *application_name)
{
	/* RESET ALL first: whatever the readers set goes, and the read-only default
	 * from the startup options comes back, to be turned off after it */
	struct buf b = BUF_INIT;
	char *app = db_literal(db, application_name);
	if (!app)
		return -1;
	buf_addf(&b, "RESET ALL; SET default_transaction_read_only = off; SET application_name = %s", app);
	if (db->server_side)
		buf_adds(&b, "; SET client_connection_check_interval = " DB_CHECK_INTERVAL_MS);
	free(app);
	int rc = db_exec(db, buf_str(&b), NULL);
	buf_release(&b);
	if (!rc)
		db->read_only = 0;
	return rc;
}

/* rollback_quietly ends a transaction db_exec opened, after a failure
 * whose error is already recorded */
static void rollback_quietly(struct db *db)
{
	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	PGresult *res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
}

int db_exec(struct db *db, const char *sql, const char *origin)
{
	size_t len = strlen(sql);
	if (!origin && !db->guard)
		return send_text(db, sql, len, NULL, NULL, 0);
	if (guard_blind(db, origin, sql, 0, len))
		return -1;
	int rc = check_text(db, sql, len, origin);
	if (rc < 0)
		return -1;
	struct db_run run;
	memset(&run, 0, sizeof run);
	run.text = sql;
	run.len = len;
	run.origin = origin;
	run.cur_line = 1;
	if (rc > 0 || !origin) {
		/* the server parses a whole message before running any of it, so a syntax error runs
		 * nothing and its position names the line; and a statement newer than libpg_query
		 * still runs. Text that is not a file goes as one message too. */
		run.slen = len;
		db->run = &run;
		rc = send_text(db, sql, len, origin ? &run : NULL, NULL, 0);
		db->run = NULL;
		if (rc == 0 && origin && db->after_statement)
			rc = db->after_statement(db->after_arg, origin, 1);
		return rc;
	}
	/* statement by statement, so an error or notice names the line of the statement */
	struct sql_stream s;
	struct sql_piece p, data;
	struct buf one = BUF_INIT;
	sql_stream_init(&s, sql, len);
	db->run = &run;
	while (rc == 0 && sql_stream_next(&s, &p) > 0) {
		if (p.copy_data)
			continue; /* data of a COPY that failed to start */
		if (guard_blind(db, origin, sql, p.off, p.len)) {
			rc = -1;
			break;
		}
		run.off = p.off;
		run.slen = p.len;
		run.has_copy_data = 0;
		const struct sql_piece *copy = NULL;
		if (sql_stream_copy_data(&s, &data)) {
			copy = &data;
			run.copy_data = data.off;
			run.has_copy_data = 1;
		}
		buf_reset(&one);
		buf_add(&one, sql + p.off, p.len);
		int line = line_of(sql, p.off + sql_skip_blank(sql + p.off, p.len));
		/* the guard sees the rows a statement writes only inside its transaction */
		int wrap = db->after_statement && PQtransactionStatus(db->conn) == PQTRANS_IDLE &&
			   sql_stmt_wrappable(sql + p.off, p.len);
		if (wrap && (rc = send_text(db, "BEGIN", 5, NULL, NULL, 0)) != 0)
			break;
		struct err_scope scope;
		if (wrap)
			err_scope_push(&scope);
		db->sqlstate[0] = '\0';
		const char *cdata = copy ? sql + copy->off : NULL;
		size_t clen = copy ? copy->len : 0;
		rc = send_text(db, buf_str(&one), p.len, &run, cdata, clen);
		if (wrap) {
			/* 25001: it refuses a transaction block (an extension's function can): nothing of
			 * it stayed, and it runs again as written */
			int refused = rc && strcmp(db->sqlstate, "25001") == 0;
			err_scope_pop(&scope, refused ? ERR_DISCARD : ERR_PROPAGATE);
			if (refused) {
				rollback_quietly(db);
				wrap = 0;
				log_warn("%s:%d: the statement refuses a transaction block, so it runs on its own: the "
					 "protected-schema guard checks its catalog changes, not the rows it writes",
					 origin, line);
				rc = send_text(db, buf_str(&one), p.len, &run, cdata, clen);
			}
		}
		run_note_function(&run);
		/* deferred constraints and triggers run now, before the check, not at COMMIT */
		if (rc == 0 && wrap)
			rc = send_text(db, "SET CONSTRAINTS ALL IMMEDIATE", 29, &run, NULL, 0);
		db->stmt_wrapped = wrap;
		if (rc == 0 && db->after_statement)
			rc = db->after_statement(db->after_arg, origin, line);
		db->stmt_wrapped = 0;
		if (wrap && rc == 0)
			rc = send_text(db, "COMMIT", 6, &run, NULL, 0);
		else if (wrap)
			rollback_quietly(db);
	}
	db->run = NULL;
	buf_release(&one);
	sql_stream_release(&s);
	run_release(&run);
	return rc;
}

/* QUEUE_SEP follows each statement of a queued file: the newline ends a line
 * comment the statement may end with, and the empty SELECT (one cheap result
 * with no notice) keeps the next statement's notices apart from this one's
 * result: libpq hands a notice to the receiver as soon as it reads it, even
 * while it still holds the result before it, but stops reading at any other
 * message until that result is collected. */
#define QUEUE_SEP "\n;\nSELECT;\n"

/* settings_sensitive tells whether text may change how the server reads the
 * statements after it (db_exec reads each of them with the settings of its
 * time; a message is parsed whole, with the settings before it) */
static int settings_sensitive(const char *text, size_t len)
{
	static const char *const words[] = { "standard_conforming_strings", "client_encoding", "backslash_quote" };
	for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
		size_t n = strlen(words[w]);
		for (size_t i = 0; i + n <= len; i++)
			if (strncasecmp(text + i, words[w], n) == 0)
				return 1;
	}
	/* SET NAMES sets client_encoding */
	for (size_t i = 0; i + 5 <= len; i++) {
		if (strncasecmp(text + i, "names", 5) != 0)
			continue;
		size_t k = i;
		while (k > 0 && strchr(" \t\r\n", text[k - 1]))
			k--;
		if (k < i && k >= 3 && strncasecmp(text + k - 3, "set", 3) == 0)
			return 1;
	}
	return 0;
}

/* count_statements counts the statements of text (-1: it does not parse) */
static long count_statements(const char *text, size_t len)
{
	struct sql_stream s;
	struct sql_piece p;
	long n = 0;
	int got;
	sql_stream_init(&s, text, len);
	while ((got = sql_stream_next(&s, &p)) > 0)
		n += p.copy_data ? 0 : 1;
	sql_stream_release(&s);
	return got < 0 ? -1 : n;
}

long db_deferred_count(struct db *db)
{
	if (db->counted_len > db->deferred.len)
		db->counted_len = db->counted_n = 0;
	if (db->counted_len < db->deferred.len) {
		/* what db_defer added since: a queued file's statements were counted when it was queued */
		long n = count_statements(db->deferred.s + db->counted_len, db->deferred.len - db->counted_len);
		if (n < 0)
			return -1;
		db->counted_n += (size_t)n;
		db->counted_len = db->deferred.len;
	}
	return (long)db->counted_n;
}

void db_deferred_undo(struct db *db, size_t mark)
{
	if (mark >= db->deferred.len)
		return;
	db->deferred.len = mark;
	db->deferred.s[mark] = '\0';
	if (db->counted_len > mark)
		db->counted_len = db->counted_n = 0;
}

int db_exec_later(struct db *db, const char *sql, const char *origin)
{
	int rc = db_queue(db, sql, origin);
	return rc > 0 ? db_exec(db, sql, origin) : rc;
}

int db_queue(struct db *db, const char *sql, const char *origin)
{
	size_t len = strlen(sql);
	if (!origin || db->after_statement || len > SQL_STREAM_CHUNK || settings_sensitive(sql, len))
		return 1;
	const char *scs = PQparameterStatus(db->conn, "standard_conforming_strings");
	if (db->guard && ((scs && strcmp(scs, "off") == 0) || !pg_valid_server_encoding_id(PQclientEncoding(db->conn))))
		return 1; /* guard_blind: db_exec says why the guard cannot read it */
	long first = db_deferred_count(db);
	if (first < 0)
		return 1;
	/* the checks of check_text, and the statements, in one pass */
	struct sql_stream s;
	struct sql_piece p, data;
	struct db_queued *q = xcalloc(1, sizeof *q);
	size_t cap = 0;
	int got, refused = 0, copies = 0;
	sql_stream_init(&s, sql, len);
	while ((got = sql_stream_next(&s, &p)) > 0) {
		size_t b = p.off + sql_skip_blank(sql + p.off, p.len);
		if (p.copy_data || sql_stream_copy_data(&s, &data) ||
		    (p.off + p.len - b >= 4 && strncasecmp(sql + b, "copy", 4) == 0)) {
			/* COPY: data to stream, or more than one result */
			copies = 1;
			break;
		}
		if (db->guard && guard_refuses(db, sql, p.off, p.len, origin, sql)) {
			refused = 1;
			break;
		}
		if (q->n == cap) {
			cap = cap ? 2 * cap : 8;
			q->stmt = xrealloc(q->stmt, cap * sizeof *q->stmt);
		}
		q->stmt[q->n].off = p.off;
		q->stmt[q->n].len = p.len;
		q->n++;
	}
	sql_stream_release(&s);
	if (refused || copies || got < 0 || q->n == 0) {
		/* COPY data, a syntax error (db_exec reports it as ever), or nothing to run */
		queued_free(q);
		return refused ? -1 : 1;
	}
	q->text = xstrndup(sql, len);
	q->len = len;
	q->origin = xstrdup(origin);
	q->first = (size_t)first;
	size_t chars = utf8_chars(db->deferred.s, db->deferred.len);
	for (size_t j = 0; j < q->n; j++) {
		q->stmt[j].chars = chars;
		buf_add(&db->deferred, sql + q->stmt[j].off, q->stmt[j].len);
		buf_adds(&db->deferred, QUEUE_SEP);
		chars += utf8_chars(sql + q->stmt[j].off, q->stmt[j].len) + strlen(QUEUE_SEP);
	}
	q->end_chars = chars;
	struct db_queued **tail = &db->queued;
	while (*tail)
		tail = &(*tail)->next;
	*tail = q;
	db->counted_n = (size_t)first + 2 * q->n;
	db->counted_len = db->deferred.len;
	return 0;
}

int db_queued(const struct db *db)
{
	return db->queued != NULL;
}

int db_exec_last(struct db *db, const char *sql, PGresult **last)
{
	return send_message(db, sql, strlen(sql), NULL, NULL, 0, last);
}

void db_drop_deferred(struct db *db)
{
	buf_reset(&db->deferred);
	queued_free(db->queued);
	db->queued = NULL;
	db->counted_len = db->counted_n = 0;
}

void db_defer(struct db *db, const char *sql)
{
	buf_adds(&db->deferred, sql);
	buf_adds(&db->deferred, ";\n");
}

int db_flush(struct db *db)
{
	if (!db->deferred.len)
		return 0;
	char *sql = buf_detach(&db->deferred);
	db->counted_len = db->counted_n = 0;
	int rc = send_text(db, sql, strlen(sql), NULL, NULL, 0);
	free(sql);
	return rc;
}

/* quote is db_literal (ident 0) and db_identifier (ident 1): libpq quotes,
 * padctl owns the copy and says why when libpq refuses */
static char *quote(struct db *db, const char *s, int ident)
{
	char *q = ident ? PQescapeIdentifier(db->conn, s, strlen(s)) : PQescapeLiteral(db->conn, s, strlen(s));
	if (!q) {
		const char *why = PQerrorMessage(db->conn);
		size_t n = strlen(why);
		while (n && why[n - 1] == '\n')
			n--;
		if (ident)
			fail("could not quote \"%s\" as an SQL identifier for %s", s, db->label);
		else
			fail("could not quote a value as an SQL literal for %s", db->label);
		fail_detail("%.*s", (int)n, why);
		if (!ident)
			fail_hint("the value is not valid text in the connection's encoding (UTF-8)");
		return NULL;
	}
	char *r = xstrdup(q);
	PQfreemem(q);
	return r;
}

char *db_literal(struct db *db, const char *s)
{
	return quote(db, s, 0);
}

char *db_identifier(struct db *db, const char *s)
{
	return quote(db, s, 1);
}

int db_query(struct db *db, const char *sql, int nparams, const char *const *params, PGresult **out)
{
	if (db_flush(db)) {
		*out = NULL;
		return -1;
	}
	PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		report_error(db, res, NULL);
		PQclear(res);
		*out = NULL;
		return -1;
	}
	*out = res;
	return 0;
}

int db_query_value(struct db *db, const char *sql, int nparams, const char *const *params, char **value)
{
	PGresult *res;
	*value = NULL;
	if (db_query(db, sql, nparams, params, &res))
		return -1;
	if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		*value = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	buf_release(&db->deferred);
	queued_free(db->queued);
	free(db->label);
	free(db);
}

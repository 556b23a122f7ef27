/* db: libpq and nothing else. A connection with the keepalive and read-only
 * settings padctl wants, and statements run with errors and notices mapped to
 * file:line. It knows nothing of configuration, targets, the managed cluster
 * or trust: target.h resolves where a target is and how to log in, and opens
 * it through db_connect. */
#ifndef PADCTL_DB_H
#define PADCTL_DB_H

#include <libpq-fe.h>

#include "buf.h"

struct db {
	PGconn *conn;
	char *label;       /* "target 'qa' (db.qa.internal:5432/backoffice_db)" for messages */
	int read_only;
	int server_side;      /* connected with the server-side settings (keepalives, connection checks) */
	struct buf deferred;  /* statements sent in front of the next one (one round trip less) */
	struct db_queued *queued; /* the files db_exec_later put into deferred, in order */
	size_t counted_len, counted_n; /* deferred's first counted_len bytes hold counted_n statements */
	long failed_file;     /* after a message: which of its queued files (0 the first) failed; -1: none */
	/* on_result, when set, sees each result of a message that carried a queued file, in order
	 * (k counts from 0, the deferred statements' included), before it is freed (not its to free) */
	void (*on_result)(void *arg, size_t k, PGresult *res);
	void *on_result_arg;
	unsigned guard;       /* DB_GUARD_* bits: statements db_exec refuses before sending anything */
	struct db_run *run;   /* what db_exec is running (for notices); NULL between calls */
	const char *notice_from; /* "[t1 validate]" while a plugin's SQL runs: its notices are shown like a
				  * migration's; NULL for padctl's own statements (notices only with -v) */
	/* after_statement, when set, runs after each statement of a file (db_exec with an origin)
	 * that succeeded, with the file and the statement's line; non-zero fails the call there.
	 * A statement that runs the same in a transaction block (sql_stmt_wrappable), sent when
	 * no transaction is open, runs in one of db_exec's own, which after_statement sees open
	 * (stmt_wrapped is 1 then): COMMIT follows when it returns 0, ROLLBACK otherwise. */
	int (*after_statement)(void *arg, const char *origin, int line);
	void *after_arg;
	int stmt_wrapped;
	char sqlstate[6]; /* of the last error db_exec recorded ("" none) */
};

/* the host holds a transaction: BEGIN, COMMIT, ROLLBACK, SAVEPOINT ... would break it */
#define DB_GUARD_TX_CONTROL 1u
/* a dry run: no change of the read-only settings (and no transaction control) */
#define DB_GUARD_READ_ONLY 2u

struct db_params {
	const char *host;
	const char *hostaddr;   /* NULL: resolve host; an SSH tunnel sets 127.0.0.1 and keeps host for TLS */
	int port;
	const char *dbname;
	const char *user;
	const char *password;   /* NULL: libpq's own look-up (pgpass) */
	const char *passfile;
	const char *sslmode;
	int connect_timeout;
	const char *application_name;
	int read_only;          /* default_transaction_read_only=on for the session */
	const char *client_encoding; /* NULL: libpq's default (PGCLIENTENCODING, else the server's) */
	const char *hint;       /* the HINT of a failed connection; NULL: check the env file, run doctor */
};

/* db_connect opens a connection; label names the target in errors. */
int db_connect(const struct db_params *p, const char *label, struct db **out);
/* db_connect_start begins what db_connect does without waiting for the
 * server (PQconnectStartParams): the caller reads files meanwhile and calls
 * db_connect_step now and then. Returns -1 (no error set) when libpq cannot
 * even start; the caller then uses db_connect. */
struct db_pending;
int db_connect_start(const struct db_params *p, const char *label, struct db_pending **out);
/* db_connect_step advances the connection: without wait, only as far as the
 * socket allows now (0: not yet); with wait, to the end or connect_timeout.
 * 1: connected, *db set (the pending connection is spent: abandon it).
 * -1: failed, reported as db_connect reports it; db_connect_unsupported then
 * tells whether the server refused the server-side settings (older than 14),
 * which db_connect retries without. */
int db_connect_step(struct db_pending *c, int wait, struct db **db);
int db_connect_unsupported(const struct db_pending *c);
void db_connect_abandon(struct db_pending *c);
/* db_promote_write turns a read-only session (db_params.read_only) into one
 * that may write, as if it had connected for writing with application_name:
 * every session setting is reset first. One round trip, where a second
 * connection costs a server process. */
int db_promote_write(struct db *db, const char *application_name);

/* db_exec runs one or more statements discarding rows. With an origin (a
 * file), the text is read in chunks of about 1 MiB cut at statement
 * boundaries (memory stays near the text's size), parsed whole before
 * anything is sent, then run statement by statement: an error names
 * origin:line (inside a DO block or a function defined in the text, the
 * body's line; in COPY data, the row's line), the server's NOTICEs and
 * WARNINGs are printed as origin:line unless quiet, and COPY ... FROM STDIN
 * streams the data lines after it up to "\.". Without an origin, sql is one
 * message. With db->guard set, every statement is classified first (sql.h)
 * and a refused one fails the call before any statement of sql is sent. */
int db_exec(struct db *db, const char *sql, const char *origin);
/* db_query runs one statement with text parameters; *res is the caller's (PQclear). */
int db_query(struct db *db, const char *sql, int nparams, const char *const *params, PGresult **res);
/* db_query_value runs a one-value query; *value is newly allocated (NULL for SQL NULL). */
int db_query_value(struct db *db, const char *sql, int nparams, const char *const *params, char **value);
/* db_defer queues statements (no rows, errors unlikely: BEGIN, a history
 * INSERT) to travel in front of the next statement, in the same message.
 * An error in them is reported by that next call. */
void db_defer(struct db *db, const char *sql);
/* db_flush sends what db_defer and db_exec_later queued, if anything. */
int db_flush(struct db *db);
/* db_exec_later is db_exec of a file (origin set) that may wait: when the
 * text can travel inside a bigger message it is appended to what db_defer
 * queued and runs with the next call that sends anything (db_exec,
 * db_query, db_flush, db_exec_last), which then reports its error exactly
 * as db_exec would have (origin:line, DO block and function body lines,
 * notices as origin:line). It may wait when db_exec would read it whole
 * first anyway: every statement parses, the guard lets each pass, there is
 * no COPY, it is at most SQL_STREAM_CHUNK bytes, nothing in it touches the
 * settings that change how later statements are read (the server parses a
 * message whole, before running any of it), no db->after_statement is set
 * and no other file waits. Each of its statements is followed by an empty
 * SELECT, so that libpq's early reading of notices cannot give one
 * statement's notices to the statement before. Otherwise it is db_exec.
 * Returns 0 (queued or run), -1 after fail(). Only for text that runs in a
 * transaction the caller opened: in a message without one, the server
 * would commit statements before the failing one. */
int db_exec_later(struct db *db, const char *sql, const char *origin);
/* db_queued tells whether a file db_exec_later queued waits to be sent. */
int db_queued(const struct db *db);
/* db_queue is db_exec_later that never runs anything: 0 when the file was
 * queued, 1 when it cannot wait (nothing queued, no error recorded), -1
 * when db->guard refuses a statement of it (recorded). Several files may
 * wait for the same message, each reported as db_exec_later says; after the
 * message db->failed_file says which of them failed. A message of several
 * transactions (BEGIN ... COMMIT each) stops at the first error: the ones
 * before it stay committed. */
int db_queue(struct db *db, const char *sql, const char *origin);
/* db_deferred_count is the number of results what db_defer and db_queue
 * queued will produce (one per statement, two per statement of a queued
 * file), or -1 when a deferred text does not parse. */
long db_deferred_count(struct db *db);
/* db_deferred_undo forgets what db_defer queued after the first mark bytes
 * of db->deferred (a length read before), which must not cut a queued file. */
void db_deferred_undo(struct db *db, size_t mark);
/* db_exec_last sends what is queued and then sql as one message and hands
 * back the message's last result in *last (the caller's to PQclear; an
 * error of sql or of a deferred statement is that last result, since the
 * server runs nothing after an error, and the caller's to report). A failure
 * of the queued file is reported as db_exec reports it: -1 and *last NULL. */
int db_exec_last(struct db *db, const char *sql, PGresult **last);
/* db_drop_deferred forgets what db_defer and db_exec_later queued. */
void db_drop_deferred(struct db *db);
/* db_literal returns s quoted as an SQL literal (newly allocated), or NULL
 * after fail() when libpq cannot quote it (text invalid in the client
 * encoding): never a silent SQL NULL. */
char *db_literal(struct db *db, const char *s);
/* db_identifier returns s quoted as an SQL identifier (newly allocated), or
 * NULL after fail() when libpq cannot quote it. */
char *db_identifier(struct db *db, const char *s);
/* db_close closes and frees (NULL is fine). */
void db_close(struct db *db);

#endif

#include "db.h"

#include <errno.h>
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "buf.h"
#include "local.h"
#include "migrations.h"
#include "log.h"
#include "sql.h"
#include "trust.h"

static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	size_t n = strlen(message);
	if (n && message[n - 1] == '\n')
		n--;
	log_verbose("server: %.*s", (int)n, message);
}

/* A partition must not hang padctl nor leave the target locked. The client
 * side gives up on a silent peer after about 25 s (keepalives) or 30 s of
 * unacknowledged data (tcp_user_timeout); the same settings, sent as startup
 * options so that no RESET in the session undoes them, make the server probe
 * padctl, and a writing session's server checks every 10 s during a long
 * statement that padctl is still there, ending it and releasing its locks. */
#define DB_KEEPALIVES_IDLE "10"
#define DB_KEEPALIVES_INTERVAL "5"
#define DB_KEEPALIVES_COUNT "3"
#define DB_TCP_USER_TIMEOUT_MS "30000"
#define DB_CHECK_INTERVAL_MS "10000"

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

static PGconn *connect_once(const struct db_params *p, int server_side)
{
	const char *keys[24], *vals[24];
	int n = 0;
	char port[16], timeout[16];
	snprintf(port, sizeof port, "%d", p->port);
	snprintf(timeout, sizeof timeout, "%d", p->connect_timeout > 0 ? p->connect_timeout : 10);
	char *options = startup_options(p, server_side);
#define KV(k, v) do { const char *v_ = (v); if (v_) { keys[n] = (k); vals[n] = v_; n++; } } while (0)
	KV("host", p->host);
	KV("port", p->port > 0 ? port : NULL);
	KV("dbname", p->dbname);
	KV("user", p->user);
	KV("password", p->password);
	KV("passfile", p->passfile);
	KV("sslmode", p->sslmode);
	KV("connect_timeout", timeout);
	KV("application_name", p->application_name);
	KV("keepalives", "1");
	KV("keepalives_idle", DB_KEEPALIVES_IDLE);
	KV("keepalives_interval", DB_KEEPALIVES_INTERVAL);
	KV("keepalives_count", DB_KEEPALIVES_COUNT);
	KV("tcp_user_timeout", DB_TCP_USER_TIMEOUT_MS);
	KV("options", *options ? options : NULL);
#undef KV
	keys[n] = vals[n] = NULL;
	PGconn *conn = PQconnectdbParams(keys, vals, 0);
	free(options);
	return conn;
}

int db_connect(const struct db_params *p, const char *label, struct db **out)
{
	PGconn *conn = connect_once(p, 1);
	/* a server older than 14 lacks client_connection_check_interval (older
	 * than 12, tcp_user_timeout): connect without the server-side settings */
	if (conn && PQstatus(conn) != CONNECTION_OK &&
	    strstr(PQerrorMessage(conn), "unrecognized configuration parameter")) {
		PQfinish(conn);
		conn = connect_once(p, 0);
	}
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
		size_t len = strlen(msg);
		while (len && msg[len - 1] == '\n')
			len--;
		fail("cannot connect to %s", label);
		fail_detail("%.*s", (int)len, msg);
		fail_hint("check that the server runs and that host, port, user and the password source in the env file are right; `padctl doctor` checks each");
		PQfinish(conn);
		return -1;
	}
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	struct db *db = xcalloc(1, sizeof *db);
	db->conn = conn;
	db->label = xstrdup(label);
	db->read_only = p->read_only;
	*out = db;
	return 0;
}

static int run_password_command(const char *target, const char *command, char **password)
{
	FILE *f = popen(command, "r");
	if (!f)
		return fail("cannot run the password_command of target \"%s\": %s", target, strerror(errno));
	struct buf b = BUF_INIT;
	char chunk[256];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	int status = pclose(f);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		buf_release(&b);
		fail("the password_command of target \"%s\" failed", target);
		fail_detail("it exited with status %d; its output is not shown because it may hold a secret",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return fail_hint("run the command by hand to see why");
	}
	while (b.len && (b.s[b.len - 1] == '\n' || b.s[b.len - 1] == '\r'))
		b.s[--b.len] = '\0';
	if (!b.len) {
		buf_release(&b);
		return fail("the password_command of target \"%s\" printed nothing", target);
	}
	*password = buf_detach(&b);
	return 0;
}

int db_resolve_password(const struct cfg_target *t, char **password)
{
	*password = NULL;
	if (t->db.password_env) {
		const char *v = getenv(t->db.password_env);
		if (!v || !*v) {
			fail("environment variable \"%s\" is not set", t->db.password_env);
			fail_detail("target \"%s\" takes its password from it (password_env)", t->name);
			return fail_hint("export %s=... before running padctl, or use password_command or a pgpass file",
					 t->db.password_env);
		}
		*password = xstrdup(v);
		return 0;
	}
	if (t->db.password_command) {
		/* the command comes from a committed project file: run it only once the user trusted it */
		int trusted = t->db.trust_root ? trust_check(t->db.trust_root, t->db.password_command) : 0;
		if (trusted < 0)
			return -1;
		if (!trusted) {
			char *file = trust_file();
			fail("refusing to run the password_command of target \"%s\": it is not trusted", t->name);
			fail_detail("it comes from the project's file envs/%s.yml (line %d) and could be anyone's; "
				    "padctl runs a project's command only after you trust it, and again after it changes",
				    t->db.trust_env ? t->db.trust_env : "?", t->db.password_command_line);
			fail_detail("trusted commands are recorded in %s", file);
			fail_hint("read the command in envs/%s.yml; if it is yours, run `padctl trust %s`",
				  t->db.trust_env ? t->db.trust_env : "ENV", t->db.trust_env ? t->db.trust_env : "ENV");
			free(file);
			return fail_status(EXIT_USAGE);
		}
		return run_password_command(t->name, t->db.password_command, password);
	}
	return 0;
}

static void secure_free(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = '\0';
	free(s);
}

int db_connect_target(const struct cfg_project *p, const struct cfg_target *t, const char *application_name,
		      int read_only, struct db **out)
{
	struct db_params dp;
	memset(&dp, 0, sizeof dp);
	dp.application_name = application_name;
	dp.read_only = read_only;
	dp.connect_timeout = t->db.connect_timeout;
	dp.dbname = t->db.dbname;
	int rc;
	if (t->ssh) {
		fail("target \"%s\" is reached over SSH (%s), which this version of padctl cannot do yet", t->name,
		     t->ssh->host);
		fail_detail("padctl never connects to database.host directly when the env file says to go through SSH");
		return fail_hint("run padctl on a host that reaches the database and remove the ssh section there, or "
				 "wait for SSH support");
	}
	if (t->db.managed) {
		struct local_conn lc;
		memset(&lc, 0, sizeof lc);
		if (local_ensure(p, &lc))
			return -1;
		if (local_ensure_database(&lc, t->db.dbname, t->db.fixtures, t->db.nfixtures)) {
			local_conn_release(&lc);
			return -1;
		}
		dp.host = lc.host;
		dp.port = lc.port;
		dp.user = lc.user;
		dp.password = lc.password;
		dp.sslmode = "disable";
		char *label = xstrfmt("target \"%s\" (managed local cluster, port %d, database %s)", t->name, lc.port,
				      t->db.dbname);
		rc = db_connect(&dp, label, out);
		free(label);
		local_conn_release(&lc);
		return rc;
	}
	char *password = NULL;
	if (db_resolve_password(t, &password))
		return -1;
	dp.host = t->db.host;
	dp.port = t->db.port;
	dp.user = t->db.user;
	dp.password = password;
	dp.passfile = t->db.passfile;
	dp.sslmode = t->db.sslmode;
	char *label = xstrfmt("target \"%s\" (%s:%d/%s)", t->name, t->db.host ? t->db.host : "localhost", t->db.port,
			      t->db.dbname);
	rc = db_connect(&dp, label, out);
	free(label);
	secure_free(password);
	return rc;
}

/* line_of returns the 1-based line of byte offset off in text. */
static int line_of(const char *text, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off && text[i]; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* byte_offset converts PostgreSQL's 1-based character position to a byte offset. */
static size_t byte_offset(const char *text, size_t len, long chars)
{
	size_t i = 0;
	for (long c = 1; c < chars && i < len; c++) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

static int report_error_at(struct db *db, PGresult *res, const char *sql, size_t len, size_t base,
			   const char *full, const char *origin, long position)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = PQerrorMessage(db->conn);
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t mlen = strlen(msg);
	while (mlen && msg[mlen - 1] == '\n')
		mlen--;
	if (origin) {
		size_t off = base + sql_skip_blank(full + base, len);
		if (position > 0)
			off = base + byte_offset(sql, len, position);
		fail("%s:%d: %.*s", origin, line_of(full, off), (int)mlen, msg);
	} else {
		fail("%.*s", (int)mlen, msg);
	}
	fail_detail("on %s%s%s", db->label, code ? ", SQLSTATE " : "", code ? code : "");
	if (detail)
		fail_detail("%s", detail);
	if (hint)
		fail_hint("%s", hint);
	if (code && strcmp(code, "25006") == 0 && db->read_only)
		fail_hint("this is a dry run: the connection is read-only and nothing may change");
	return -1;
}

static int report_error(struct db *db, PGresult *res, const char *sql, size_t len, size_t base, const char *full,
			const char *origin)
{
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	return report_error_at(db, res, sql, len, base, full, origin, pos ? strtol(pos, NULL, 10) : 0);
}

static int exec_one(struct db *db, const char *sql, size_t len, size_t base, const char *full, const char *origin)
{
	PGresult *res;
	size_t pre = 0; /* the deferred prefix in characters, as the server counts positions */
	for (size_t i = 0; i < db->deferred.len; i++)
		pre += ((unsigned char)db->deferred.s[i] & 0xC0) != 0x80;
	if (pre == 0 && sql[len] == '\0') {
		res = PQexec(db->conn, sql);
	} else {
		buf_add(&db->deferred, sql, len);
		res = PQexec(db->conn, db->deferred.s);
		buf_reset(&db->deferred);
	}
	/* a multi-statement message hands back the last result; an error stops it, so that one is the error */
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
		long p = pos ? strtol(pos, NULL, 10) : 0;
		if (pre && p && (size_t)p <= pre)
			rc = report_error(db, res, sql, len, base, full, NULL);
		else if (pre && p) {
			/* the position counts from the start of the message: skip the deferred prefix */
			rc = report_error_at(db, res, sql, len, base, full, origin, p - (long)pre);
		} else {
			rc = report_error(db, res, sql, len, base, full, origin);
		}
	}
	PQclear(res);
	return rc;
}

/* guard_refuses checks every statement of a split against db->guard before
 * any is sent, so a refused statement leaves nothing half done. */
static int guard_refuses(struct db *db, const char *sql, const PgQuerySplitResult *split, const char *origin)
{
	for (int i = 0; i < split->n_stmts; i++) {
		const PgQuerySplitStmt *s = split->stmts[i];
		int kind = sql_stmt_kind(sql + s->stmt_location, (size_t)s->stmt_len);
		int refused = kind == SQL_KIND_TX_CONTROL ||
			      (kind == SQL_KIND_SET_READ_ONLY && (db->guard & DB_GUARD_READ_ONLY));
		if (!refused)
			continue;
		size_t off = (size_t)s->stmt_location;
		off += sql_skip_blank(sql + off, (size_t)s->stmt_len);
		const char *why = db->guard & DB_GUARD_READ_ONLY
					  ? "this is a dry run: it runs in a read-only transaction that is always rolled back"
					  : "the host holds a transaction here; it commits or rolls it back itself";
		if (origin)
			fail("%s:%d: %s is not allowed here", origin, line_of(sql, off), sql_kind_name(kind));
		else
			fail("%s is not allowed here: %.*s", sql_kind_name(kind), (int)(s->stmt_len > 80 ? 80 : s->stmt_len),
			     sql + off);
		fail_detail("on %s; %s", db->label, why);
		fail_hint("remove the statement; a migration that must run outside a transaction says "
			  "`transactional: false` in its meta.yml");
		return 1;
	}
	return 0;
}

int db_exec(struct db *db, const char *sql, const char *origin)
{
	if (!origin && !db->guard)
		return exec_one(db, sql, strlen(sql), 0, sql, NULL);
	/* statement by statement, so an error names the line of the statement that failed */
	PgQuerySplitResult split = pg_query_split_with_parser(sql);
	int rc = 0;
	if (split.error) {
		/* the server parses a whole message before running any of it, so a syntax error runs
		 * nothing and its position names the line (libpg_query's scanner split would drop the
		 * bad statement instead) */
		rc = exec_one(db, sql, strlen(sql), 0, sql, origin);
	} else if (db->guard && guard_refuses(db, sql, &split, origin)) {
		rc = -1;
	} else if (!origin) {
		rc = exec_one(db, sql, strlen(sql), 0, sql, NULL);
	} else {
		for (int i = 0; i < split.n_stmts && rc == 0; i++) {
			const PgQuerySplitStmt *s = split.stmts[i];
			rc = exec_one(db, sql + s->stmt_location, (size_t)s->stmt_len, (size_t)s->stmt_location, sql,
				      origin);
		}
	}
	pg_query_free_split_result(split);
	return rc;
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
	int rc = exec_one(db, sql, strlen(sql), 0, sql, NULL);
	free(sql);
	return rc;
}

char *db_literal(struct db *db, const char *s)
{
	char *q = PQescapeLiteral(db->conn, s, strlen(s));
	char *r = xstrdup(q ? q : "NULL");
	PQfreemem(q);
	return r;
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
		report_error(db, res, sql, strlen(sql), 0, sql, NULL);
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
	free(db->label);
	free(db);
}

#include "inspect.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "identity.h"
#include "ledger.h"
#include "log.h"
#include "planlint.h"
#include "target.h"

/* the error of the target's scope as the text the report shows. The caller
 * opened that scope and drops it afterwards: the error belongs to this
 * target's report, and one bad target must not hide the others. */
static char *scope_error_text(void)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, err_message() ? err_message() : "unknown error");
	if (err_detail())
		buf_addf(&b, "\n%s", err_detail());
	if (err_hint())
		buf_addf(&b, "\nhint: %s", err_hint());
	return buf_detach(&b);
}

/* the facts status needs, in one statement: the server's identity and
 * version, and the backend pid holding the deploy lock (NULL when free); and
 * what plan's lint needs of the session (one round trip less for plan). The
 * lock is looked up in pg_locks alone; pg_stat_activity, costly to open in a
 * new session, describes the holder only when there is one. */
#define FACTS_SQL \
	"SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database(), " \
	"current_setting('server_version'), " \
	"(SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = " LEDGER_LOCK_K1 \
	"::oid AND l.objid = " LEDGER_LOCK_K2 "::oid AND l.objsubid = 2 " \
	"AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1), " LINT_SESSION_SQL

/* send_piped sends the facts, the history and "SELECT extra" as three
 * queries of one pipeline, with a flush request after the history: the
 * server sends the facts and the history as soon as it has them, not after
 * the extra, so the caller compares the history with the migration files
 * while the server computes the extra. */
static int send_piped(struct inspection *ins, const char *extra_sql)
{
	PGconn *c = ins->db->conn;
	ins->piped = PQenterPipelineMode(c);
	int sent = ins->piped && PQsendQueryParams(c, FACTS_SQL, 0, NULL, NULL, NULL, NULL, 0);
	if (sent && ledger_history_send(ins->db, NULL, ins->brief))
		return -1;
	char *sql = xstrfmt("SELECT %s", extra_sql);
	sent = sent && PQsendFlushRequest(c) && PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0) &&
	       PQpipelineSync(c);
	free(sql);
	if (!sent) {
		fail("could not send the first queries to %s", ins->db->label);
		return fail_detail("%s", PQerrorMessage(c));
	}
	return 0;
}

/* begin sets up ins for the inspect_start* functions */
static void begin(struct inspection *ins, const struct cfg_project *p, const struct cfg_env *env,
		  const struct cfg_target *t, const char *command, int brief)
{
	memset(ins, 0, sizeof *ins);
	ins->t = t;
	ins->p = p;
	ins->env = env;
	ins->brief = brief;
	ins->command = command;
}

/* send_first sends the first message once connected, not waited for: the
 * facts and the history (with an extra, as send_piped does). The server
 * answers while the caller reads the migration files. */
static int send_first(struct inspection *ins, const char *extra_sql)
{
	return extra_sql ? send_piped(ins, extra_sql) : ledger_history_send(ins->db, FACTS_SQL, ins->brief);
}

void inspect_start(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
		   const char *command, int brief, struct inspection *ins)
{
	begin(ins, p, env, t, command, brief);
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = target_connect(p, t, command, NULL, 1, &ins->db);
	if (rc) {
		ins->error = scope_error_text();
	} else if (send_first(ins, NULL)) {
		ins->error = scope_error_text();
	} else {
		ins->reachable = 1;
		ins->pending = 1;
	}
	err_scope_pop(&scope, ERR_DISCARD);
}

static void step(struct inspection *ins, int wait);

void inspect_start_async(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
			 const char *command, int brief, const char *extra_sql, struct inspection *ins)
{
	begin(ins, p, env, t, command, brief);
	ins->extra_sql = extra_sql ? xstrdup(extra_sql) : NULL;
	struct err_scope scope;
	err_scope_push(&scope);
	if (target_connect_start(p, t, command, 1, &ins->connecting, &ins->db))
		ins->error = scope_error_text();
	else if (!ins->connecting && send_first(ins, ins->extra_sql))
		ins->error = scope_error_text(); /* connected already (libpq could not start without waiting) */
	else if (!ins->connecting)
		ins->reachable = ins->pending = 1;
	else
		ins->reachable = 1; /* for now: inspect_pump and inspect_finish say otherwise if need be */
	err_scope_pop(&scope, ERR_DISCARD);
	/* as far as it goes without waiting: on a near server the startup
	 * packet leaves now, and the backend starts while the caller reads
	 * its files, not after the first batch of them */
	step(ins, 0);
}

/* step moves a pending connection on (wait: to the end) and sends the
 * queries once it is up; a failure is the target's, as in inspect_start */
static void step(struct inspection *ins, int wait)
{
	if (!ins->connecting)
		return;
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = db_connect_step(ins->connecting, wait, &ins->db);
	if (rc < 0 && db_connect_unsupported(ins->connecting)) {
		/* a server older than 14: the blocking way retries without the server-side settings */
		err_clear();
		rc = target_connect(ins->p, ins->t, ins->command, NULL, 1, &ins->db) ? -1 : 1;
	}
	if (rc != 0) {
		db_connect_abandon(ins->connecting);
		ins->connecting = NULL;
	}
	if (rc < 0) {
		ins->reachable = 0;
		ins->error = scope_error_text();
	} else if (rc > 0 && send_first(ins, ins->extra_sql)) {
		ins->reachable = 0;
		ins->error = scope_error_text();
	} else if (rc > 0) {
		ins->pending = 1;
	}
	err_scope_pop(&scope, ERR_DISCARD);
}

void inspect_pump(struct inspection *ins)
{
	step(ins, 0);
}

void inspect_pump_all(void *arg)
{
	const struct inspect_all *a = arg;
	for (size_t i = 0; i < a->n; i++)
		inspect_pump(&a->v[i]);
}

/* finish_piped reads what is left of send_piped's pipeline, up to the
 * Sync's answer, and leaves the connection out of pipeline mode. Once the
 * facts and the history are read, the extra is the one query left that can
 * answer with a row of one column: after an error the rest were skipped
 * (PGRES_PIPELINE_ABORTED), and the history has more columns. */
static void finish_piped(struct inspection *ins)
{
	if (!ins->piped)
		return;
	ins->piped = 0;
	PGconn *c = ins->db->conn;
	/* every query's answer ends with a NULL; two in a row: nothing more will come (a lost connection) */
	for (int nulls = 0; nulls < 2;) {
		PGresult *r = PQgetResult(c);
		if (!r) {
			nulls++;
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1 && !PQgetisnull(r, 0, 0)) {
			free(ins->extra);
			ins->extra = xstrdup(PQgetvalue(r, 0, 0));
		}
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	if (!PQexitPipelineMode(c))
		log_verbose("%s: the connection stayed in pipeline mode: %s", ins->db->label, PQerrorMessage(c));
}

static int read_facts(struct inspection *ins)
{
	PGresult *res = PQgetResult(ins->db->conn);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(ins->db->conn);
		size_t len = strlen(msg);
		while (len && msg[len - 1] == '\n')
			len--;
		fail("could not read the server's identity on %s", ins->db->label);
		fail_detail("%.*s", (int)len, *msg ? msg : "no answer");
		for (PGresult *more; (more = PQgetResult(ins->db->conn));)
			PQclear(more);
		rc = -1;
	} else {
		ins->system_id = xstrdup(PQgetvalue(res, 0, 0));
		ins->dbname = xstrdup(PQgetvalue(res, 0, 1));
		ins->server_version = xstrdup(PQgetvalue(res, 0, 2));
		ins->lock_held = !PQgetisnull(res, 0, 3);
		ins->search_path = xstrdup(PQgetvalue(res, 0, 4));
		ins->current_user = xstrdup(PQgetvalue(res, 0, 5));
		ins->server_version_num = (int)strtol(PQgetvalue(res, 0, 6), NULL, 10);
		/* in a pipeline, the NULL that ends the facts' answer (the history is a query of its own) */
		if (ins->piped)
			PQclear(PQgetResult(ins->db->conn));
	}
	PQclear(res);
	return rc;
}

void inspect_finish(struct inspection *ins, const struct migration_set *set, int keep_db)
{
	step(ins, 1);
	if (ins->pending) {
		ins->pending = 0;
		struct err_scope scope;
		err_scope_push(&scope);
		struct history h;
		memset(&h, 0, sizeof h);
		int rc = read_facts(ins) || ledger_history_recv(ins->db, &h);
		if (!rc && ins->lock_held) {
			finish_piped(ins);
			rc = ledger_lock_holder(ins->db, &ins->lock_holder);
		}
		if (rc) {
			ins->reachable = 0;
			ins->error = scope_error_text();
		} else {
			if (!ins->lock_holder)
				ins->lock_holder = xstrdup("");
			if (identity_check_known(ins->p, ins->env->name, ins->t, ins->system_id, ins->dbname, 0))
				ins->identity_error = scope_error_text();
		}
		err_scope_pop(&scope, ERR_DISCARD);
		/* outside the target's own error scope: a migration file that
		 * cannot be read is the command's error, not this target's */
		if (ins->reachable)
			ins->plan_failed = plan_target_build(&ins->plan, ins->t, ins->system_id, ins->dbname, &h, set,
							     ins->env, ins->allow_ooo) != 0;
		history_release(&h);
		/* the extra is read last: the server computed it while the plan was built */
		finish_piped(ins);
	}
	if (!keep_db) {
		db_close(ins->db);
		ins->db = NULL;
	}
}

int inspect_target(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
		   const struct migration_set *set, const char *command, int keep_db, int allow_ooo,
		   struct inspection *ins)
{
	inspect_start(p, env, t, command, 0, ins);
	ins->allow_ooo = allow_ooo;
	inspect_finish(ins, set, keep_db);
	return 0;
}

void inspect_release(struct inspection *ins)
{
	free(ins->error);
	free(ins->server_version);
	free(ins->search_path);
	free(ins->current_user);
	free(ins->system_id);
	free(ins->dbname);
	free(ins->identity_error);
	free(ins->lock_holder);
	free(ins->extra);
	free(ins->extra_sql);
	plan_target_release(&ins->plan);
	db_connect_abandon(ins->connecting);
	db_close(ins->db);
	memset(ins, 0, sizeof *ins);
}

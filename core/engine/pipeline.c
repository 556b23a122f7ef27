#include "pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pg_query.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "guard.h"
#include "ledger.h"
#include "log.h"
#include "plan.h"
#include "planlint.h"
#include "services.h"
#include "sig.h"
#include "sql.h"
#include "target.h"

/* What one target's run needs across its steps. */
struct target_run {
	const struct cfg_project *p;
	const struct cfg_env *env;
	const struct cfg_pipeline *pl;
	const struct cfg_target *t;
	const struct run_opts *o;
	const char *run_id;
	struct db *db;
	const struct plan_target *plan; /* the target's part of the run's plan */
	struct padctl_migration *todo; /* what the migrate step applies: plan->todo */
	size_t ntodo;
	struct padctl_migration *applied;/* what the migrate step applied, in order */
	size_t napplied;
	int session_dirty;               /* a plugin ran SQL since the session state was last reset */
	const char *rollback_of;         /* a rollback run: the run it undoes (config "rollback.run") */
	struct guard guard;              /* the protected-schema guard on tr->db (guard.h) */
	struct run_report_target *report; /* run_opts.report's entry for the target, or NULL */
};

/* The host side of one step on one target: what struct padctl_step is. */
struct padctl_step {
	const struct cfg_project *project;
	const struct cfg_env *env;
	const struct cfg_target *target;
	const struct cfg_step *cfg;
	const char *run_id;
	int dry_run;
	struct db *db;
	const struct padctl_migration *migs; /* migrate: to apply; others: applied by this run so far */
	size_t nmigs;
	struct target_run *tr;               /* the migrate step adds to tr->applied; NULL for other steps */
	struct target_run *run;              /* the target's run, for every step */
	char **strs;                         /* strings handed to the plugin, valid until the step ends */
	size_t nstrs, astrs;
	unsigned char *recorded;             /* per migs[i]: enum rec_state */
	char *last_origin;                   /* origin of the last sql_exec: a new one starts a migration */
	int progress_shown;
	int tty;                             /* stderr is a terminal: show progress */
	struct timespec t0;                  /* when the step started, for the elapsed time */
	int in_tx;                           /* between tx_begin and tx_commit/tx_rollback */
	char sqlstate[6];                    /* error_sqlstate's answer */
	const char *notice_from;             /* "[target plugin]" for notices of SQL without a file */
	const char *guard_sql;               /* sent in front of COMMIT (guard.h); NULL: none */
	struct svc_step svc;                 /* what the services (services.h) keep for the step */
};

/* What history_record did with each migration the step was handed. */
enum rec_state {
	REC_NONE = 0,
	REC_TX_APPLIED,   /* recorded as applied inside the open transaction: counts once committed */
	REC_TX_OTHER,     /* recorded otherwise inside the open transaction */
	REC_DONE,         /* recorded for good */
};

/* Session state a migration may leave behind (settings, role, session
 * authorization): reset before each migration and each ledger write so the
 * outcome never depends on how migrations are grouped into runs. Not DISCARD
 * ALL: that would release the run's advisory lock. RESET ALL leaves the role
 * alone, hence the two RESETs before it. */
static const char reset_session_sql[] = "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL";

/* host_exec runs the host's own statements (sent with the deferred ones),
 * which the guards meant for the plugin's SQL must not refuse. */
static int host_exec(struct db *db, const char *sql)
{
	unsigned guard = db->guard;
	db->guard = 0;
	int rc = db_exec(db, sql, NULL);
	db->guard = guard;
	return rc;
}

/* session_reset queues the reset in front of the next statement (no round
 * trip of its own) when that statement opens or is inside a transaction;
 * otherwise it runs it now: statements sent together form one implicit
 * transaction, which CREATE INDEX CONCURRENTLY refuses. */
static int session_reset(struct target_run *tr, int defer)
{
	tr->session_dirty = 0;
	/* the baseline a migration starts from includes migrations.lock_timeout: a non-transactional
	 * migration's own SET would be undone by this very reset */
	char *sql = tr->env->lock_timeout > 0
			    ? xstrfmt("%s; SET lock_timeout = %ld", reset_session_sql, tr->env->lock_timeout * 1000L)
			    : xstrdup(reset_session_sql);
	int rc = 0;
	if (defer)
		db_defer(tr->db, sql);
	else
		rc = host_exec(tr->db, sql);
	free(sql);
	return rc;
}

/* keep hands s (newly allocated) to the plugin: freed when the step ends. */
static const char *keep(struct padctl_step *st, char *s)
{
	if (st->nstrs == st->astrs) {
		st->astrs = st->astrs ? 2 * st->astrs : 8;
		st->strs = xrealloc(st->strs, st->astrs * sizeof *st->strs);
	}
	st->strs[st->nstrs++] = s;
	return s;
}

static int cancelled_fail(struct padctl_step *st)
{
	fail("%s: step \"%s\" on target \"%s\" was stopped", sig_cancelled_name(), st->cfg->plugin,
	     st->target->name);
	return fail_detail("padctl was told to stop; the statement in flight was cancelled and its transaction "
			   "rolled back");
}

static const char *h_env(struct padctl_step *st)
{
	return st->env->name;
}

static const char *h_target(struct padctl_step *st)
{
	return st->target->name;
}

static const char *h_phase(struct padctl_step *st)
{
	return st->cfg->phase;
}

static const char *h_run_id(struct padctl_step *st)
{
	return st->run_id;
}

static int h_dry_run(struct padctl_step *st)
{
	return st->dry_run;
}

static void end_progress(struct padctl_step *st)
{
	if (st->progress_shown) {
		sig_progress_shown(0);
		fputs("\r\033[K", stderr);
		st->progress_shown = 0;
	}
}

static void h_log(struct padctl_step *st, int level, const char *fmt, ...)
{
	static const int levels[] = { LOG_QUIET, LOG_QUIET, LOG_NORMAL, LOG_VERBOSE };
	if (level < 0 || level > PADCTL_LOG_DEBUG)
		level = PADCTL_LOG_INFO;
	if (levels[level] > log_level_get())
		return;
	end_progress(st);
	struct buf prefix = BUF_INIT;
	buf_addf(&prefix, "%s%s[%s %s] ", level == PADCTL_LOG_ERROR ? "error: " : "",
		 level == PADCTL_LOG_WARN ? "warning: " : "", st->target->name, st->cfg->plugin);
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(levels[level], buf_str(&prefix), fmt, ap);
	va_end(ap);
	buf_release(&prefix);
}

static void h_progress(struct padctl_step *st, uint64_t done, uint64_t total, const char *label)
{
	if (!st->tty || log_level_get() < LOG_NORMAL)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - st->t0.tv_sec) + (double)(now.tv_nsec - st->t0.tv_nsec) / 1e9;
	if (total)
		fprintf(stderr, "\r\033[K[%s %s] %llu of %llu  %s  %.1f s", st->target->name, st->cfg->plugin,
			(unsigned long long)done + (done < total), (unsigned long long)total, label ? label : "", secs);
	else
		fprintf(stderr, "\r\033[K[%s %s] %llu  %s  %.1f s", st->target->name, st->cfg->plugin,
			(unsigned long long)done, label ? label : "", secs);
	st->progress_shown = 1;
	sig_progress_shown(1);
	if (total && done >= total)
		end_progress(st);
}

static int h_fail(struct padctl_step *st, const char *hint, const char *fmt, ...)
{
	end_progress(st);
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (err_pending()) {
		/* a lower layer said what failed in this step (run_step gives each step
		 * its own error scope); the step still knows where and what to do about it */
		fail_detail("%s", buf_str(&b));
		err_hint_if_none(hint);
	} else {
		fail("step \"%s\" failed on target \"%s\": %s", st->cfg->plugin, st->target->name, buf_str(&b));
		if (hint)
			fail_hint("%s", hint);
	}
	buf_release(&b);
	return -1;
}

static const char *h_option(struct padctl_step *st, const char *name)
{
	for (size_t i = 0; i < st->cfg->nopts; i++)
		if (strcmp(st->cfg->opts[i].key, name) == 0)
			return st->cfg->opts[i].value;
	return NULL;
}

static const char *join(struct padctl_step *st, char *const *v, size_t n)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? "," : "", v[i]);
	return keep(st, buf_detach(&b));
}

static const char *h_config(struct padctl_step *st, const char *key)
{
	if (strcmp(key, "project") == 0)
		return st->project->name;
	if (strcmp(key, "project.root") == 0)
		return st->project->root;
	if (strcmp(key, "env") == 0)
		return st->env->name;
	if (strcmp(key, "env.tier") == 0)
		return st->env->tier;
	if (strcmp(key, "schemas.owned") == 0)
		return join(st, st->project->owned, st->project->nowned);
	if (strcmp(key, "schemas.protected") == 0)
		return join(st, st->project->protected_schemas, st->project->nprotected);
	if (strcmp(key, "target") == 0)
		return st->target->name;
	if (strcmp(key, "target.dbname") == 0)
		return st->target->db.dbname;
	if (strcmp(key, "rollback.run") == 0)
		return st->run->rollback_of;
	if (strcmp(key, "backups.dir") == 0)
		return st->project->backups_dir;
	if (strcmp(key, "ssh.backups_dir") == 0)
		return st->target->ssh ? st->target->ssh->backups_dir : NULL;
	if (strcmp(key, "drift") == 0)
		return st->project->drift ? "true" : "false";
	return NULL;
}

/* notice_from names the step in the notices its SQL raises (db.h) */
static const char *notice_from(struct padctl_step *st)
{
	if (!st->notice_from)
		st->notice_from = keep(st, xstrfmt("[%s %s]", st->target->name, st->cfg->plugin));
	return st->notice_from;
}

/* sql_exec is h_sql_exec; later: a file inside the plugin's transaction may
 * wait for the message that carries COMMIT (db_exec_later, the "tx" service) */
static int sql_exec(struct padctl_step *st, const char *sql, const char *origin, int later)
{
	if (origin && sig_cancelled())
		return cancelled_fail(st);
	/* outside a transaction, SQL from a new file starts a migration: its own transaction is reset at tx_begin */
	if (origin && (!st->last_origin || strcmp(st->last_origin, origin) != 0)) {
		if (!st->in_tx && session_reset(st->run, 0))
			return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
		free(st->last_origin);
		st->last_origin = xstrdup(origin);
	}
	st->run->session_dirty = 1;
	/* a migration's file outside a transaction: the guard looks after each statement */
	int alone = origin && !st->in_tx && st->tr && !st->dry_run && st->run->guard.schemas;
	if (alone) {
		st->run->guard.what = origin;
		if (guard_alone_begin(&st->run->guard, st->db))
			return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	}
	st->db->notice_from = notice_from(st);
	int rc = later && origin && st->in_tx && !st->dry_run ? db_exec_later(st->db, sql, origin)
							      : db_exec(st->db, sql, origin);
	st->db->notice_from = NULL;
	if (alone)
		guard_alone_end(&st->run->guard, st->db);
	if (rc) {
		/* what runs next from a file, even this one again (a retry after a lock timeout), starts anew */
		free(st->last_origin);
		st->last_origin = NULL;
		return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	}
	return 0;
}

static int h_sql_exec(struct padctl_step *st, const char *sql, const char *origin)
{
	return sql_exec(st, sql, origin, 0);
}

static int tx_exec_later(struct padctl_step *st, const char *sql, const char *origin)
{
	return sql_exec(st, sql, origin, 1);
}

static const struct padctl_tx_v1 tx_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_tx_v1),
	.exec_later = tx_exec_later,
};

const void *pipeline_tx_service_v1(void)
{
	return &tx_v1;
}

/* query_refused applies db_exec's guards to sql_query too: a query is one
 * more way to send COMMIT or a change of the read-only settings. */
static int query_refused(struct padctl_step *st, const char *sql)
{
	PgQuerySplitResult split = pg_query_split_with_parser(sql);
	int refused = 0;
	for (int i = 0; !split.error && i < split.n_stmts && !refused; i++) {
		int kind = sql_stmt_kind(sql + split.stmts[i]->stmt_location, (size_t)split.stmts[i]->stmt_len);
		refused = kind == SQL_KIND_TX_CONTROL ||
			  (kind == SQL_KIND_SET_READ_ONLY && (st->db->guard & DB_GUARD_READ_ONLY));
		if (refused) {
			fail("%s is not allowed here: step \"%s\" on target \"%s\" sent it with sql_query",
			     sql_kind_name(kind), st->cfg->plugin, st->target->name);
			fail_detail(st->db->guard & DB_GUARD_READ_ONLY
					    ? "this is a dry run: it runs in a read-only transaction that is always rolled back"
					    : "the host holds a transaction here; it commits or rolls it back itself");
		}
	}
	pg_query_free_split_result(split);
	return refused;
}

static int h_sql_query(struct padctl_step *st, const char *sql, int nparams, const char *const *params,
		       struct padctl_rows **rows)
{
	PGresult *res;
	*rows = NULL;
	if (st->db->guard && query_refused(st, sql))
		return -1;
	st->run->session_dirty = 1;
	st->db->notice_from = notice_from(st);
	int rc = db_query(st->db, sql, nparams, params, &res);
	st->db->notice_from = NULL;
	if (rc)
		return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	*rows = xmalloc(sizeof **rows);
	(*rows)->res = res;
	return 0;
}

static int h_rows_count(const struct padctl_rows *rows)
{
	return rows ? PQntuples(rows->res) : 0;
}

static const char *h_rows_value(const struct padctl_rows *rows, int r, int c)
{
	if (!rows || r < 0 || c < 0 || r >= PQntuples(rows->res) || c >= PQnfields(rows->res) ||
	    PQgetisnull(rows->res, r, c))
		return NULL;
	return PQgetvalue(rows->res, r, c);
}

static void h_rows_free(struct padctl_rows *rows)
{
	if (rows) {
		PQclear(rows->res);
		free(rows);
	}
}

static size_t h_migration_count(struct padctl_step *st)
{
	return st->nmigs;
}

static const struct padctl_migration *h_migration_at(struct padctl_step *st, size_t i)
{
	return i < st->nmigs ? &st->migs[i] : NULL;
}

static int h_history_record(struct padctl_step *st, const struct padctl_migration *m, const char *status,
			    const char *reason, double duration_ms)
{
	if (st->dry_run)
		return fail("history_record called in a dry run by step \"%s\"", st->cfg->plugin);
	/* only the migrations the host handed to this migrate step, each once: a pointer the plugin made up
	 * would write any row it likes and grow the applied list past its end */
	size_t i = st->nmigs;
	if (st->tr && m) {
		for (size_t k = 0; k < st->nmigs && i == st->nmigs; k++)
			if (m == &st->migs[k])
				i = k;
	}
	if (!st->tr)
		return fail("step \"%s\" on target \"%s\" recorded a migration, which only a migrate step may do",
			    st->cfg->plugin, st->target->name);
	if (i == st->nmigs)
		return fail("step \"%s\" on target \"%s\" recorded a migration the host did not hand it",
			    st->cfg->plugin, st->target->name);
	if (st->recorded[i] != REC_NONE)
		return fail("step \"%s\" recorded migration %s_%s twice on target \"%s\"", st->cfg->plugin, m->version,
			    m->name, st->target->name);
	if (!status || (strcmp(status, "applied") != 0 && strcmp(status, "skipped") != 0))
		return fail("step \"%s\" recorded migration %s with unknown status \"%s\"", st->cfg->plugin,
			    m->version, status ? status : "(null)");
	int applied = strcmp(status, "applied") == 0;
	/* the history row is written as the role padctl connected as, with no setting of the migration
	 * (after the guard saw whether the migration left its writes uncounted) */
	if (st->in_tx && st->guard_sql && *st->guard_sql)
		db_defer(st->db, guard_counting_sql(&st->run->guard));
	if (session_reset(st->run, st->in_tx))
		return -1;
	if (st->in_tx) {
		/* the migration's text waits to travel with this row (the "tx" service): its duration is the
		 * server's, from the message's arrival to this row */
		char *sql = ledger_history_sql(st->db, m->version, m->name, m->checksum, status, reason, st->run_id,
					       applied && db_queued(st->db) ? -1 : duration_ms);
		if (!sql)
			return -1;
		db_defer(st->db, sql);
		free(sql);
		st->recorded[i] = applied ? REC_TX_APPLIED : REC_TX_OTHER;
		return 0;
	}
	if (ledger_history_add(st->db, m->version, m->name, m->checksum, status, reason, st->run_id, duration_ms))
		return -1;
	st->recorded[i] = REC_DONE;
	if (applied)
		st->tr->applied[st->tr->napplied++] = *m;
	return 0;
}

static int h_read_file(struct padctl_step *st, const char *path, char **text)
{
	(void)st;
	return read_text_file(path, text, NULL);
}

static void h_free_text(char *text)
{
	free(text);
}

static int h_tx_begin(struct padctl_step *st)
{
	if (st->in_tx)
		return fail("step \"%s\" began a transaction inside another", st->cfg->plugin);
	if (sig_cancelled())
		return cancelled_fail(st);
	/* the guard's state at the start of the step is read before BEGIN is queued (once per step) */
	st->guard_sql = NULL;
	if (st->tr && !st->dry_run && st->run->guard.schemas) {
		st->guard_sql = guard_tx_sql(&st->run->guard, st->db);
		if (!st->guard_sql)
			return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	}
	/* a transaction starts a migration: nothing an earlier one set may leak into it */
	session_reset(st->run, !st->dry_run);
	st->run->session_dirty = 1;
	if (st->dry_run) {
		/* the step's read-only transaction is the host's: a savepoint inside it */
		if (host_exec(st->db, "SAVEPOINT padctl_tx"))
			return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	} else {
		db_defer(st->db, "BEGIN");
	}
	st->in_tx = 1;
	st->db->guard |= DB_GUARD_TX_CONTROL;
	free(st->last_origin);
	st->last_origin = NULL;
	return 0;
}

/* end_tx forgets the transaction; committed says whether what it recorded counts */
static void end_tx(struct padctl_step *st, int committed)
{
	st->in_tx = 0;
	if (!st->dry_run)
		st->db->guard &= ~DB_GUARD_TX_CONTROL;
	for (size_t i = 0; st->recorded && i < st->nmigs; i++) {
		if (st->recorded[i] == REC_TX_APPLIED && committed)
			st->tr->applied[st->tr->napplied++] = st->migs[i];
		if (st->recorded[i] == REC_TX_APPLIED || st->recorded[i] == REC_TX_OTHER)
			st->recorded[i] = committed ? REC_DONE : REC_NONE;
	}
}

static void h_tx_rollback(struct padctl_step *st)
{
	db_drop_deferred(st->db);
	int was = st->in_tx;
	end_tx(st, 0);
	/* in a dry run the step's read-only transaction stays open (the host rolls it back at the end) */
	if (PQtransactionStatus(st->db->conn) == PQTRANS_IDLE || (st->dry_run && !was))
		return;
	PGresult *r = PQexec(st->db->conn, st->dry_run ? "ROLLBACK TO SAVEPOINT padctl_tx; RELEASE SAVEPOINT padctl_tx"
						       : "ROLLBACK");
	PQclear(r);
}

/* commit_failed records why the server did not commit, with its own words when it gave some. */
static int commit_failed(struct padctl_step *st, PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	if (msg) {
		fail("%s", msg);
		fail_detail("on %s%s%s", st->db->label, code ? ", SQLSTATE " : "", code ? code : "");
		if (detail)
			fail_detail("%s", detail);
	} else {
		fail("could not commit the transaction of step \"%s\" on target \"%s\"", st->cfg->plugin,
		     st->target->name);
		fail_detail("the server answered \"%s\" to COMMIT: it rolled the transaction back",
			    res && *PQcmdStatus(res) ? PQcmdStatus(res) : PQerrorMessage(st->db->conn));
	}
	return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
}

/* commit_refused records why the message ending in res did not commit the
 * transaction of the migration file what: the protected-schema guard's
 * finding, or the server's own words */
static void commit_refused(struct padctl_step *st, PGresult *res, const char *what)
{
	st->run->guard.what = what;
	if (guard_commit_failed(&st->run->guard, res))
		fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	else
		commit_failed(st, res);
}

static int h_tx_commit(struct padctl_step *st)
{
	if (!st->in_tx)
		return fail("step \"%s\" committed without a transaction", st->cfg->plugin);
	if (sig_cancelled()) {
		cancelled_fail(st);
		h_tx_rollback(st);
		return -1;
	}
	if (PQtransactionStatus(st->db->conn) == PQTRANS_INERROR) {
		/* a statement failed and the plugin went on: COMMIT would answer ROLLBACK */
		h_tx_rollback(st);
		if (err_pending())
			fail_detail("step \"%s\" went on after this error and committed: the server had aborted the "
				    "transaction, so it was rolled back and nothing of it was recorded", st->cfg->plugin);
		fail("step \"%s\" committed a transaction in which a statement had failed, on target \"%s\"",
		     st->cfg->plugin, st->target->name);
		fail_detail("the server had already aborted the transaction; it was rolled back and nothing of it "
			    "was recorded");
		return fail_hint("a plugin must roll back (tx_rollback) when a call inside its transaction fails");
	}
	/* the deferred statements (BEGIN, a file the "tx" service held back, the history row) travel in
	 * front of COMMIT: one round trip */
	const char *want = st->dry_run ? "RELEASE" : "COMMIT";
	/* the protected-schema guard travels with COMMIT too, after the history row (guard.h) */
	struct buf tail = BUF_INIT;
	if (st->guard_sql && *st->guard_sql)
		buf_addf(&tail, "%s;\n", st->guard_sql);
	buf_adds(&tail, st->dry_run ? "RELEASE SAVEPOINT padctl_tx" : "COMMIT");
	PGresult *res;
	int sent = db_exec_last(st->db, buf_str(&tail), &res);
	buf_release(&tail);
	if (sent) {
		/* a statement of the held-back file failed: reported as sql_exec reports it */
		fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
		h_tx_rollback(st);
		return -1;
	}
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), want) == 0;
	if (!ok) {
		commit_refused(st, res, st->last_origin);
		PQclear(res);
		h_tx_rollback(st);
		return -1;
	}
	PQclear(res);
	end_tx(st, 1);
	return 0;
}

/* ---- the "tx" service, version 2: several transactional migrations in one message */

/* a message carries at most this many migrations, and after the first about this much SQL */
#define TX_BATCH_MAX 64
#define TX_BATCH_BYTES (1024 * 1024)

struct tx_batch {
	size_t n;                  /* migrations in the message */
	long hist[TX_BATCH_MAX];   /* the result of each one's history row (RETURNING its duration) */
	long commit[TX_BATCH_MAX]; /* the result of its COMMIT */
	double *ms;                /* the caller's durations */
	size_t committed;          /* how many COMMITs the server answered so far */
};

/* tx_batch_result follows the message's results (db->on_result): durations and COMMITs */
static void tx_batch_result(void *arg, size_t k, PGresult *res)
{
	struct tx_batch *b = arg;
	ExecStatusType s = PQresultStatus(res);
	size_t i = b->committed; /* the results up to its COMMIT's are the migration's after the last committed */
	if (i >= b->n)
		return;
	if ((long)k == b->hist[i] && s == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1)
		b->ms[i] = strtod(PQgetvalue(res, 0, 0), NULL);
	if ((long)k == b->commit[i] && s == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0)
		b->committed = i + 1;
}

/* tx_batch_build queues migrations first .. first + count - 1 as tx_begin, exec_later, history_record
 * and tx_commit would, each after the one before, while they can share a message: how many (0: the
 * first cannot) */
static size_t tx_batch_build(struct padctl_step *st, size_t first, size_t count, struct tx_batch *b)
{
	struct db *db = st->db;
	unsigned guard = db->guard;
	size_t bytes = 0;
	b->n = 0;
	b->committed = 0;
	for (size_t i = 0; i < count && i < TX_BATCH_MAX; i++) {
		const struct padctl_migration *m = &st->migs[first + i];
		size_t len = strlen(m->up_sql);
		if (m->skip_reason || !m->transactional || !m->up_path || st->recorded[first + i] != REC_NONE ||
		    (i > 0 && bytes + len > TX_BATCH_BYTES))
			break;
		/* the history row measures from the row of the migration before it in the message */
		char *row = ledger_history_sql_since(db, m->version, m->name, m->checksum, "applied", NULL,
						     st->run_id, -1, i > 0 ? st->migs[first + i - 1].version : NULL);
		if (!row) {
			err_clear(); /* tx_begin .. history_record report it when the migration goes alone */
			break;
		}
		size_t mark = db->deferred.len;
		session_reset(st->run, 1);
		db_defer(db, "BEGIN");
		if (st->env->lock_timeout <= 0)
			db_defer(db, "SET LOCAL lock_timeout = 0"); /* as the migrate plugin does: no server default */
		db->guard = guard | DB_GUARD_TX_CONTROL;
		int queued = db_queue(db, m->up_sql, m->up_path);
		db->guard = guard;
		if (queued) {
			/* the text cannot wait (or the guard refuses it): it goes alone, reported as ever */
			if (queued < 0)
				err_clear();
			db_deferred_undo(db, mark);
			free(row);
			break;
		}
		if (st->guard_sql && *st->guard_sql)
			db_defer(db, guard_counting_sql(&st->run->guard));
		session_reset(st->run, 1);
		char *ret = xstrfmt("%s RETURNING duration_ms", row); /* the log line's duration */
		db_defer(db, ret);
		free(ret);
		free(row);
		b->hist[i] = db_deferred_count(db) - 1;
		if (st->guard_sql && *st->guard_sql)
			db_defer(db, st->guard_sql);
		db_defer(db, "COMMIT");
		b->commit[i] = db_deferred_count(db) - 1;
		bytes += len;
		b->n = i + 1;
	}
	return b->n;
}

static int tx_apply(struct padctl_step *st, size_t first, size_t count, size_t *applied, double *ms)
{
	*applied = 0;
	if (st->dry_run || !st->tr || !st->recorded || st->in_tx || !ms || first >= st->nmigs || count == 0)
		return 1;
	if (sig_cancelled())
		return cancelled_fail(st);
	if (count > st->nmigs - first)
		count = st->nmigs - first;
	for (size_t i = 0; i < count; i++)
		ms[i] = 0;
	/* the guard's state at the start of the step is read before any BEGIN is queued (once per step) */
	st->guard_sql = NULL;
	if (st->run->guard.schemas) {
		st->guard_sql = guard_tx_sql(&st->run->guard, st->db);
		if (!st->guard_sql)
			return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	}
	/* what waits already goes first, so that a message resent shorter below still carries it */
	if (db_flush(st->db))
		return fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	struct tx_batch b;
	memset(&b, 0, sizeof b);
	b.ms = ms;
	PGresult *res = NULL;
	int sent;
	for (;;) {
		if (tx_batch_build(st, first, count, &b) == 0)
			return 1;
		if (b.commit[b.n - 1] < 0) {
			/* padctl's own statements did not parse for the count: never sent this way */
			db_drop_deferred(st->db);
			return 1;
		}
		st->db->on_result = tx_batch_result;
		st->db->on_result_arg = &b;
		st->db->notice_from = notice_from(st);
		sent = db_exec_last(st->db, "", &res);
		st->db->notice_from = NULL;
		st->db->on_result = NULL;
		st->db->on_result_arg = NULL;
		/* a syntax error only the server finds in a later migration's text: the server parsed
		 * the whole message first and ran none of it; send the migrations before that one */
		if (sent && b.committed == 0 && st->db->failed_file > 0 && (size_t)st->db->failed_file < b.n) {
			err_clear();
			count = (size_t)st->db->failed_file;
			continue;
		}
		break;
	}
	st->run->session_dirty = 1;
	free(st->last_origin);
	st->last_origin = NULL;
	for (size_t i = 0; i < b.committed; i++) {
		st->recorded[first + i] = REC_DONE;
		st->tr->applied[st->tr->napplied++] = st->migs[first + i];
	}
	*applied = b.committed;
	if (!sent && b.committed == b.n) {
		PQclear(res);
		return 0;
	}
	if (!sent) {
		/* the failure is the message's last result: the history row, the guard's check or COMMIT */
		commit_refused(st, res, st->migs[first + b.committed].up_path);
	} else {
		/* a statement of the migration's text failed: reported as sql_exec reports it */
		fail_detail("in step \"%s\" on target \"%s\"", st->cfg->plugin, st->target->name);
	}
	PQclear(res);
	/* what is left of the message (a queued file), and the failed migration's transaction */
	h_tx_rollback(st);
	return -1;
}

static const struct padctl_tx_v2 tx_v2 = {
	.version = 2,
	.size = sizeof(struct padctl_tx_v2),
	.exec_later = tx_exec_later,
	.apply = tx_apply,
};

const void *pipeline_tx_service_v2(void)
{
	return &tx_v2;
}

static int h_cancelled(struct padctl_step *st)
{
	(void)st;
	return sig_cancelled() != 0;
}

/* ---- host functions for migrate's index handling and lock_timeout retries */

static int h_sql_indexes(struct padctl_step *st, const char *sql, struct padctl_rows **rows)
{
	(void)st;
	*rows = NULL;
	struct sql_index *v;
	size_t n;
	sql_created_indexes(sql, strlen(sql), &v, &n);
	/* a result built on the client, so the plugin reads it like any query's rows */
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	static const char *const cols[] = { "table_schema", "table_name", "index_name", "concurrent", "if_not_exists",
					    "line" };
	PGresAttDesc attrs[6];
	memset(attrs, 0, sizeof attrs);
	for (int c = 0; c < 6; c++) {
		attrs[c].name = (char *)cols[c];
		attrs[c].format = 0;
		attrs[c].typid = 25; /* text */
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
	}
	int ok = res && PQsetResultAttrs(res, 6, attrs);
	for (size_t i = 0; ok && i < n; i++) {
		char line[16];
		snprintf(line, sizeof line, "%d", v[i].line);
		const char *vals[6] = { v[i].table_schema, v[i].table, v[i].name, v[i].concurrent ? "t" : "f",
					v[i].if_not_exists ? "t" : "f", line };
		for (int c = 0; ok && c < 6; c++)
			ok = PQsetvalue(res, (int)i, c, (char *)vals[c], vals[c] ? (int)strlen(vals[c]) : -1);
	}
	sql_indexes_free(v, n);
	if (!ok) {
		PQclear(res);
		return fail("could not list the indexes of a migration: out of memory");
	}
	*rows = xmalloc(sizeof **rows);
	(*rows)->res = res;
	return 0;
}

static const char *h_error_sqlstate(struct padctl_step *st)
{
	/* db.c names the SQLSTATE in the first detail line ("on target ..., SQLSTATE 55P03") */
	const char *d = err_pending() ? err_detail() : NULL;
	const char *p = d ? strstr(d, "SQLSTATE ") : NULL;
	if (!p || strspn(p + 9, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") < 5)
		return NULL;
	memcpy(st->sqlstate, p + 9, 5);
	st->sqlstate[5] = '\0';
	return st->sqlstate;
}

static void h_error_clear(struct padctl_step *st)
{
	(void)st;
	err_clear();
}

static long h_lock_timeout_ms(struct padctl_step *st)
{
	return st->env->lock_timeout > 0 ? st->env->lock_timeout * 1000L : 0;
}

/* ---- ABI 2: list settings and the services (services.h) */

static const char *const *h_config_list(struct padctl_step *st, const char *key, size_t *n)
{
	*n = 0;
	if (strcmp(key, "schemas.owned") == 0) {
		*n = st->project->nowned;
		return (const char *const *)st->project->owned;
	}
	if (strcmp(key, "schemas.protected") == 0) {
		*n = st->project->nprotected;
		return (const char *const *)st->project->protected_schemas;
	}
	if (strcmp(key, "seeds") == 0) {
		*n = st->env->nseeds;
		return (const char *const *)st->env->seeds;
	}
	return NULL;
}

/* svc_ledger_write is struct svc_step's ledger_write: a record the plugin
 * asks for is written like a history row, as the role padctl connected as,
 * and inside the plugin's transaction it commits or rolls back with it. */
static int svc_ledger_write(struct padctl_step *st, const char *sql)
{
	if (session_reset(st->run, st->in_tx))
		return -1;
	if (st->in_tx) {
		db_defer(st->db, sql);
		return 0;
	}
	return host_exec(st->db, sql);
}

struct svc_step *svc_step_of(struct padctl_step *st)
{
	struct svc_step *s = &st->svc;
	s->db = st->db;
	s->root = st->project->root;
	s->contracts_dir = st->project->contracts_dir;
	s->owned = st->project->owned;
	s->nowned = st->project->nowned;
	s->owned_later = st->cfg->phase && strcmp(st->cfg->phase, "preflight") == 0 && st->run->ntodo > 0;
	s->env = st->env->name;
	s->target = st->target->name;
	s->tcfg = st->target;
	s->run_id = st->run_id;
	s->plugin = st->cfg->plugin;
	s->phase = st->cfg->phase;
	s->dry_run = st->dry_run;
	s->ledger_write = svc_ledger_write;
	s->project = st->project;
	s->env_cfg = st->env;
	s->pending = 0;
	for (size_t i = 0; i < st->run->ntodo; i++)
		s->pending += st->run->todo[i].skip_reason == NULL;
	s->backups_dir = st->project->backups_dir;
	s->backups_keep = st->project->backups_keep;
	s->drift_report = st->run && st->run->report ? &st->run->report->drift : NULL;
	return s;
}

static const void *h_service(struct padctl_step *st, const char *name, uint32_t version)
{
	const void *svc = services_lookup(name, version);
	if (!svc)
		log_verbose("[%s] %s asked for service \"%s\" version %u, which this padctl does not offer",
			    st->target->name, st->cfg->plugin, name ? name : "(null)", (unsigned)version);
	return svc;
}

static const struct padctl_host host = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_host),
	.env = h_env,
	.target = h_target,
	.phase = h_phase,
	.run_id = h_run_id,
	.dry_run = h_dry_run,
	.log = h_log,
	.progress = h_progress,
	.fail = h_fail,
	.option = h_option,
	.config = h_config,
	.sql_exec = h_sql_exec,
	.sql_query = h_sql_query,
	.rows_count = h_rows_count,
	.rows_value = h_rows_value,
	.rows_free = h_rows_free,
	.migration_count = h_migration_count,
	.migration_at = h_migration_at,
	.history_record = h_history_record,
	.read_file = h_read_file,
	.free_text = h_free_text,
	.tx_begin = h_tx_begin,
	.tx_commit = h_tx_commit,
	.tx_rollback = h_tx_rollback,
	.cancelled = h_cancelled,
	.sql_indexes = h_sql_indexes,
	.error_sqlstate = h_error_sqlstate,
	.error_clear = h_error_clear,
	.lock_timeout_ms = h_lock_timeout_ms,
	.config_list = h_config_list,
	.service = h_service,
};

static int check_option_value(const struct cfg_pipeline *pl, const struct cfg_option *o, const struct padctl_option *d)
{
	int b;
	if (d->type == PADCTL_OPT_BOOL) {
		if (config_bool(o->value, &b) == 0)
			return 0;
		fail("%s:%d:%d: option \"%s\" must be true or false, not \"%s\"", pl->file, o->line, o->col, o->key,
		     o->value);
		return fail_status(EXIT_USAGE);
	}
	if (d->type == PADCTL_OPT_INT) {
		char *end;
		strtoll(o->value, &end, 10);
		if (!*o->value || *end) {
			fail("%s:%d:%d: option \"%s\" must be a whole number, not \"%s\"", pl->file, o->line, o->col,
			     o->key, o->value);
			return fail_status(EXIT_USAGE);
		}
	}
	return 0;
}

static int check_step(const struct cfg_pipeline *pl, const struct cfg_step *s, const struct padctl_plugin *d)
{
	/* `- backfill: NAME`: a backfill plugin without phases takes the backfill's name there */
	if (s->phase && !(d->kind == PADCTL_KIND_BACKFILL && !d->phases)) {
		int ok = 0;
		for (const char *const *ph = d->phases; ph && *ph && !ok; ph++)
			ok = strcmp(*ph, s->phase) == 0;
		if (!ok) {
			struct buf known = BUF_INIT;
			for (const char *const *ph = d->phases; ph && *ph; ph++)
				buf_addf(&known, "%s%s", known.len ? ", " : "", *ph);
			fail("%s:%d:%d: step \"%s\" has no phase \"%s\"", pl->file, s->line, s->col, s->plugin,
			     s->phase);
			fail_hint(known.len ? "its phases are: %s" : "%s takes no phase", known.len ? buf_str(&known)
											     : s->plugin);
			buf_release(&known);
			return fail_status(EXIT_USAGE);
		}
	}
	for (size_t i = 0; i < s->nopts; i++) {
		const struct padctl_option *decl = NULL;
		for (const struct padctl_option *o = d->options; o && o->name && !decl; o++)
			if (strcmp(o->name, s->opts[i].key) == 0)
				decl = o;
		if (!decl) {
			struct buf known = BUF_INIT;
			for (const struct padctl_option *o = d->options; o && o->name; o++)
				buf_addf(&known, "%s%s", known.len ? ", " : "", o->name);
			fail("%s:%d:%d: step \"%s\" has no option \"%s\"", pl->file, s->opts[i].line, s->opts[i].col,
			     s->plugin, s->opts[i].key);
			fail_hint("the options of \"%s\" are: %s", s->plugin, known.len ? buf_str(&known) : "none");
			buf_release(&known);
			return fail_status(EXIT_USAGE);
		}
		if (check_option_value(pl, &s->opts[i], decl))
			return -1;
	}
	for (const struct padctl_option *o = d->options; o && o->name; o++) {
		int given = 0;
		for (size_t i = 0; i < s->nopts && !given; i++)
			given = strcmp(s->opts[i].key, o->name) == 0;
		if (o->required && !given) {
			fail("%s:%d:%d: step \"%s\" needs the option \"%s\"", pl->file, s->line, s->col, s->plugin,
			     o->name);
			if (o->help)
				fail_hint("%s: %s", o->name, o->help);
			return fail_status(EXIT_USAGE);
		}
	}
	return 0;
}

int pipeline_resolve(const struct cfg_pipeline *pl, const struct cfg_env *env, const struct plugin_registry *reg,
		     struct resolved_step **steps)
{
	*steps = xcalloc(pl->nsteps ? pl->nsteps : 1, sizeof **steps);
	for (size_t i = 0; i < pl->nsteps; i++) {
		const struct cfg_step *s = &pl->steps[i];
		(*steps)[i].cfg = s;
		const struct plugin_entry *e = plugin_find(reg, s->plugin);
		(*steps)[i].plugin = e;
		if (!e) {
			if (strcmp(env->tier, "prod") == 0) {
				fail("%s:%d:%d: step \"%s\" needs a plugin named \"%s\", which is not installed",
				     pl->file, s->line, s->col, s->plugin, s->plugin);
				fail_hint("a prod-tier env never runs with a step missing; `padctl plugins` lists what "
					  "is installed");
				return fail_status(EXIT_USAGE);
			}
			log_warn("%s:%d:%d: no plugin named \"%s\" is installed: the step is skipped in env \"%s\"",
				 pl->file, s->line, s->col, s->plugin, env->name);
			continue;
		}
		if (e->desc->kind == PADCTL_KIND_ROLLBACK) {
			/* it would undo what the steps before it applied, in a run that succeeds */
			fail("%s:%d:%d: step \"%s\" is a rollback strategy, not a pipeline step", pl->file, s->line,
			     s->col, s->plugin);
			fail_hint("remove it: `on_failure: rollback` runs it after a failed step, and `padctl rollback` "
				  "on demand");
			return fail_status(EXIT_USAGE);
		}
		if (check_step(pl, s, e->desc))
			return -1;
	}
	return 0;
}

int pipeline_targets(const struct cfg_env *env, const struct cfg_pipeline *pl, const char *only,
		     const struct cfg_target ***out, size_t *n)
{
	*out = xcalloc(env->ntargets ? env->ntargets : 1, sizeof **out);
	*n = 0;
	if (pl && pl->nstages) {
		for (size_t s = 0; s < pl->nstages; s++)
			for (size_t t = 0; t < pl->stages[s].ntargets; t++) {
				const struct cfg_target *tg = config_env_target(env, pl->stages[s].targets[t]);
				if (tg && (!only || strcmp(only, tg->name) == 0))
					(*out)[(*n)++] = tg;
			}
	} else {
		for (size_t t = 0; t < env->ntargets; t++)
			if (!only || strcmp(only, env->targets[t].name) == 0)
				(*out)[(*n)++] = &env->targets[t];
	}
	if (only && *n == 0) {
		struct buf known = BUF_INIT;
		for (size_t t = 0; t < env->ntargets; t++)
			buf_addf(&known, "%s%s", t ? ", " : "", env->targets[t].name);
		fail("env \"%s\" has no target \"%s\"", env->name, only);
		fail_hint("its targets are: %s (%s)", buf_str(&known), env->file);
		buf_release(&known);
		free(*out);
		*out = NULL;
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

int pipeline_check_migrations(const struct mig_plan *plan, const char *target, int allow_out_of_order)
{
	if (plan->counts[MIG_MISMATCH]) {
		fail("target \"%s\": %zu applied migration%s changed since %s applied", target,
		     plan->counts[MIG_MISMATCH], plan->counts[MIG_MISMATCH] == 1 ? "" : "s",
		     plan->counts[MIG_MISMATCH] == 1 ? "it was" : "they were");
		for (size_t i = 0; i < plan->n; i++)
			if (plan->v[i].state == MIG_MISMATCH)
				fail_detail("%s: checksum %.12s when applied, %.12s now", plan->v[i].m->up_path,
					    plan->v[i].h->checksum, plan->v[i].m->checksum);
		fail_hint("an applied migration must not change: restore its up.sql (git checkout) and put the change "
			  "into a new migration (`padctl new NAME`)");
		return -1;
	}
	if (plan->counts[MIG_OUT_OF_ORDER] && !allow_out_of_order) {
		fail("target \"%s\": %zu pending migration%s older than the newest applied one", target,
		     plan->counts[MIG_OUT_OF_ORDER], plan->counts[MIG_OUT_OF_ORDER] == 1 ? " is" : "s are");
		for (size_t i = 0; i < plan->n; i++)
			if (plan->v[i].state == MIG_OUT_OF_ORDER)
				fail_detail("%s_%s is out of order", plan->v[i].m->version, plan->v[i].m->name);
		fail_hint("apply them with `padctl deploy ENV --allow-out-of-order` once you have checked they do not "
			  "depend on newer ones, or skip them in the env file (migrations.skip)");
		return -1;
	}
	return 0;
}

static double elapsed_ms(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1000.0 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* build_todo hands the plan's migrations to the migrate step in the SDK's shape */
static void build_todo(struct target_run *tr)
{
	const struct plan_target *pt = tr->plan;
	tr->todo = xcalloc(pt->ntodo ? pt->ntodo : 1, sizeof *tr->todo);
	tr->applied = xcalloc(pt->ntodo ? pt->ntodo : 1, sizeof *tr->applied);
	for (size_t i = 0; i < pt->ntodo; i++) {
		const struct migration *src = pt->todo[i].m;
		struct padctl_migration *m = &tr->todo[tr->ntodo++];
		m->version = src->version;
		m->name = src->name;
		m->dir = src->dir;
		m->up_path = src->up_path;
		m->up_sql = src->up_sql;
		m->checksum = src->checksum;
		m->transactional = src->transactional;
		m->skip_reason = pt->todo[i].skip_reason;
		m->down_path = src->down_path;
		m->verify_path = src->verify_path;
	}
}

/* ledger_reset makes the session clean for a ledger write, when a plugin may have changed it. */
static void ledger_reset(struct target_run *tr)
{
	if (tr->session_dirty)
		session_reset(tr, 0);
}

/* dry_begin opens the step's read-only transaction and takes its snapshot at
 * once (the SELECT), after which the server refuses `SET transaction_read_only
 * = off`; the guards refuse transaction control and read-only changes before
 * they reach the server. The transaction is always rolled back (dry_end). */
static int dry_begin(struct target_run *tr)
{
	if (host_exec(tr->db, "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL; BEGIN READ ONLY; SELECT 1"))
		return -1;
	tr->db->guard = DB_GUARD_TX_CONTROL | DB_GUARD_READ_ONLY;
	return 0;
}

static void dry_end(struct target_run *tr)
{
	tr->db->guard = 0;
	db_drop_deferred(tr->db);
	PGresult *r = PQexec(tr->db->conn, "ROLLBACK");
	PQclear(r);
}

static int run_step(struct target_run *tr, const struct resolved_step *rs, int seq)
{
	const struct padctl_plugin *d = rs->plugin->desc;
	if (sig_cancelled()) {
		fail("%s: the run on target \"%s\" stopped before step %d (%s)", sig_cancelled_name(), tr->t->name, seq,
		     rs->cfg->plugin);
		return fail_detail("padctl was told to stop; the steps before it completed");
	}
	struct padctl_step st;
	memset(&st, 0, sizeof st);
	st.project = tr->p;
	st.env = tr->env;
	st.target = tr->t;
	st.cfg = rs->cfg;
	st.run_id = tr->run_id;
	st.dry_run = tr->o->dry_run;
	st.db = tr->db;
	st.run = tr;
	st.tty = isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &st.t0);
	if (d->kind == PADCTL_KIND_MIGRATE) {
		st.migs = tr->todo;
		st.nmigs = tr->ntodo;
		st.tr = tr;
	} else {
		st.migs = tr->applied;
		st.nmigs = tr->napplied;
	}
	st.recorded = xcalloc(st.nmigs ? st.nmigs : 1, 1);
	if (d->kind == PADCTL_KIND_MIGRATE && !st.dry_run) {
		/* the guard's function lives as long as the connection; its starting state, one step */
		if (tr->guard.db != tr->db) {
			guard_release(&tr->guard);
			guard_init(&tr->guard, tr->db, tr->p->protected_schemas, tr->p->guard ? tr->p->nprotected : 0);
		}
		guard_step_start(&tr->guard);
	}
	const char *label = rs->cfg->phase ? rs->cfg->phase : "";
	log_info("[%s] step %d: %s%s%s", tr->t->name, seq, rs->cfg->plugin, *label ? " " : "", label);
	ledger_reset(tr);
	if (!st.dry_run && ledger_step_start(tr->db, tr->run_id, seq, rs->cfg->plugin, rs->cfg->phase)) {
		free(st.recorded);
		return -1;
	}
	/* each step starts with the session as padctl connected (a dry run's begins with the reset) */
	if (!st.dry_run)
		ledger_reset(tr);
	if (st.dry_run && dry_begin(tr)) {
		free(st.recorded);
		return -1;
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	void *state = NULL;
	/* the step's own error scope: the plugin's failure, what the host adds to
	 * it and the "went on after an error" check see this step only; the error
	 * is recorded for the step and then passed on as the run's error */
	struct err_scope step_err;
	err_scope_push(&step_err);
	int rc = d->open ? d->open(&host, &st, &state) : 0;
	if (rc == 0) {
		rc = d->run(&host, &st, state);
		if (d->close)
			d->close(&host, &st, state);
	}
	end_progress(&st);
	if (!rc && err_pending()) {
		/* a host call failed and the plugin went on: that is the step's failure */
		fail_detail("step \"%s\" went on after this error and returned success; the step failed",
			    rs->cfg->plugin);
		rc = -1;
	}
	if (st.in_tx || rc) {
		if (st.in_tx && !rc)
			rc = fail("step \"%s\" left a transaction open on target \"%s\"; it was rolled back",
				  rs->cfg->plugin, tr->t->name);
		h_tx_rollback(&st);
	} else if (!st.dry_run && db_flush(tr->db)) {
		rc = -1;
	}
	if (st.dry_run)
		dry_end(tr);
	tr->db->guard = 0;
	if (rc && !err_pending())
		fail("step \"%s\" failed on target \"%s\" without saying why", rs->cfg->plugin, tr->t->name);
	/* a plugin that failed inside a transaction must not leave it open for the ledger writes */
	PGTransactionStatusType ts = PQtransactionStatus(tr->db->conn);
	if (ts == PQTRANS_INERROR || ts == PQTRANS_INTRANS) {
		PGresult *r = PQexec(tr->db->conn, "ROLLBACK");
		PQclear(r);
		if (!rc)
			rc = fail("step \"%s\" left a transaction open on target \"%s\"; it was rolled back",
				  rs->cfg->plugin, tr->t->name);
	}
	services_step_end(&st.svc);
	for (size_t i = 0; i < st.nstrs; i++)
		free(st.strs[i]);
	free(st.strs);
	free(st.recorded);
	free(st.last_origin);
	if (!st.dry_run) {
		/* record even when the step failed; the step's error stays the
		 * reported one (a ledger error after it loses, first error wins) */
		char *msg = rc && err_message() ? xstrdup(err_message()) : NULL;
		ledger_reset(tr);
		ledger_step_finish(tr->db, tr->run_id, seq, rc ? "failed" : "ok", msg);
		free(msg);
	}
	err_scope_pop(&step_err, ERR_PROPAGATE);
	log_verbose("[%s] step %d: %s %s in %.0f ms", tr->t->name, seq, rs->cfg->plugin, rc ? "failed" : "done",
		    elapsed_ms(&t0));
	return rc;
}

/* ---- rollback: the strategies of the rollback plugin (down, then restore),
 * after a failed step (on_failure: rollback) and for `padctl rollback` */

static int has_phase(const struct padctl_plugin *d, const char *phase)
{
	for (const char *const *ph = d->phases; ph && *ph; ph++)
		if (strcmp(*ph, phase) == 0)
			return 1;
	return 0;
}

/* rollback_plugin is the installed plugin of kind rollback that offers the
 * down strategy ("rollback" first), or NULL */
static const struct plugin_entry *rollback_plugin(const struct plugin_registry *reg)
{
	const struct plugin_entry *e = plugin_find(reg, "rollback");
	if (e && e->desc->kind == PADCTL_KIND_ROLLBACK && has_phase(e->desc, "down"))
		return e;
	for (size_t i = 0; i < reg->nplugins; i++)
		if (reg->plugins[i].desc->kind == PADCTL_KIND_ROLLBACK && has_phase(reg->plugins[i].desc, "down"))
			return &reg->plugins[i];
	return NULL;
}

/* rollback_strategies runs down on rb's migrations and, when down stops and
 * restore is allowed, restore: steps 1 and 2 of rollback run rb */
static int rollback_strategies(struct target_run *rb, const struct plugin_entry *e, int allow_restore)
{
	char *name = xstrdup(e->desc->name);
	char down_phase[] = "down", restore_phase[] = "restore";
	struct cfg_step step = { .plugin = name, .phase = down_phase };
	struct resolved_step rs = { &step, e };
	struct err_scope down_err;
	err_scope_push(&down_err);
	int rc = run_step(rb, &rs, 1);
	int can_restore = allow_restore && has_phase(e->desc, "restore") && !sig_cancelled();
	if (!rc || !can_restore) {
		if (rc && !allow_restore)
			fail_detail("restore was not allowed, so nothing more was undone: `padctl rollback --restore` "
				    "allows it, and for a failed deploy the env's rollback.restore");
		err_scope_pop(&down_err, ERR_PROPAGATE);
		free(name);
		return rc;
	}
	char *why = xstrdup(err_message() ? err_message() : "down failed");
	err_scope_pop(&down_err, ERR_DISCARD);
	log_warn("[%s] down stopped: %s", rb->t->name, why);
	log_warn("[%s] handing over to restore: the owned schemas are restored from the backup of run %s; data "
		 "written to them after that backup is lost", rb->t->name, rb->rollback_of);
	free(why);
	step.phase = restore_phase;
	rc = run_step(rb, &rs, 2);
	free(name);
	return rc;
}

/* rollback_report says what rollback run id undid on tr's target, one line,
 * into *out (newly allocated); -1 when the ledger cannot be read */
static int rollback_report(struct target_run *tr, const char *id, const struct padctl_migration *migs, size_t n,
			   char **out)
{
	PGresult *res;
	const char *p[] = { id };
	*out = NULL;
	if (db_query(tr->db,
		     "SELECT r.version, coalesce(r.strategy, '?'), m.name FROM padctl.rollbacks r "
		     "LEFT JOIN padctl.migrations m ON m.version = r.version WHERE r.run_id = $1 "
		     "ORDER BY r.rolled_back_at, r.version DESC",
		     1, p, &res))
		return -1;
	struct buf b = BUF_INIT;
	int nrows = PQntuples(res);
	if (nrows == 0)
		buf_adds(&b, "nothing was rolled back");
	for (int i = 0; i < nrows; i++)
		buf_addf(&b, "%s%s%s%s (%s)", i ? ", " : "rolled back ", PQgetvalue(res, i, 0),
			 PQgetisnull(res, i, 2) ? "" : "_", PQgetvalue(res, i, 2), PQgetvalue(res, i, 1));
	size_t left = 0;
	for (size_t k = 0; k < n; k++) {
		int done = 0;
		for (int i = 0; i < nrows && !done; i++)
			done = strcmp(PQgetvalue(res, i, 0), migs[k].version) == 0;
		if (!done)
			buf_addf(&b, "%s%s_%s", left++ ? ", " : "; still applied: ", migs[k].version, migs[k].name);
	}
	PQclear(res);
	*out = buf_detach(&b);
	return 0;
}

/* rollback_run records rollback run id on tr's target, linked to the run it
 * undoes, and runs the strategies on migs (in the order they were applied),
 * under the lock tr holds. *summary (newly allocated) says what was rolled
 * back and how. The rollback's error is passed on (how) or forgotten. */
static int rollback_run(struct target_run *tr, const struct plugin_entry *e, const char *id, const char *undone,
			struct padctl_migration *migs, size_t n, int allow_restore, enum err_pop how, char **summary)
{
	struct target_run rb = *tr;
	rb.run_id = id;
	rb.rollback_of = undone;
	rb.applied = migs;
	rb.napplied = n;
	*summary = NULL;
	struct err_scope err;
	err_scope_push(&err);
	ledger_reset(tr);
	int rc = ledger_run_start(tr->db, id, tr->env->name, tr->t->name, "rollback", NULL, 0);
	int started = !rc;
	if (!rc)
		rc = ledger_run_rollback_of(tr->db, id, undone);
	if (!rc) {
		log_info("[%s] rollback run %s: undoing %zu migration%s of run %s", tr->t->name, id, n,
			 n == 1 ? "" : "s", undone);
		rc = rollback_strategies(&rb, e, allow_restore);
	}
	tr->session_dirty |= rb.session_dirty;
	if (started) {
		char *msg = rc && err_message() ? xstrdup(err_message()) : NULL;
		const char *status = sig_cancelled() ? "cancelled" : rc ? "failed" : "ok";
		for (int tries = 0; tries < 2; tries++) {
			if (tr->session_dirty)
				session_reset(tr, 1);
			if (ledger_run_finish(tr->db, id, status, msg) == 0 || !sig_cancelled())
				break;
			tr->session_dirty = 1;
		}
		free(msg);
		/* what the ledger says was undone, so the line cannot claim more than happened */
		struct err_scope rep;
		err_scope_push(&rep);
		if (rollback_report(tr, id, migs, n, summary) == 0)
			log_info("[%s] rollback run %s %s: %s", tr->t->name, id, rc ? "failed" : "done", *summary);
		err_scope_pop(&rep, ERR_DISCARD);
	}
	if (!*summary)
		*summary = xstrdup(rc ? "the rollback failed before it could undo anything" : "nothing was rolled back");
	err_scope_pop(&err, how);
	return rc;
}

/* on_failure: rollback undoes what this run applied on the target, as a
 * rollback run of its own linked to the failed one, under the same lock */
static void apply_failure_policy(struct target_run *tr, const struct plugin_registry *reg)
{
	if (strcmp(tr->pl->on_failure, "rollback") != 0) {
		fail_detail("on_failure is \"%s\": target \"%s\" was left as the failed step left it",
			    tr->pl->on_failure, tr->t->name);
		return;
	}
	const struct plugin_entry *e = rollback_plugin(reg);
	if (!e) {
		fail_detail("no rollback strategy is installed, so nothing was rolled back; this run applied %zu "
			    "migration%s on target \"%s\" before the failure (each migration is atomic: the failed "
			    "one left nothing behind)",
			    tr->napplied, tr->napplied == 1 ? "" : "s", tr->t->name);
		log_warn("no rollback strategy is installed: target \"%s\" keeps the %zu migration%s this run applied",
			 tr->t->name, tr->napplied, tr->napplied == 1 ? "" : "s");
		return;
	}
	if (tr->napplied == 0) {
		fail_detail("this run applied no migration on target \"%s\" before the failure: nothing to roll back",
			    tr->t->name);
		return;
	}
	if (sig_cancelled()) {
		fail_detail("not rolled back: padctl was told to stop; `padctl rollback %s --run %s` undoes the %zu "
			    "migration%s this run applied on target \"%s\"",
			    tr->env->name, tr->run_id, tr->napplied, tr->napplied == 1 ? "" : "s", tr->t->name);
		return;
	}
	char *id = ledger_new_run_id();
	char *summary = NULL;
	char *msg = NULL;
	struct err_scope err;
	err_scope_push(&err);
	int rc = rollback_run(tr, e, id, tr->run_id, tr->applied, tr->napplied, tr->env->rollback_restore,
			      ERR_PROPAGATE, &summary);
	if (rc && err_message())
		msg = xstrdup(err_message());
	err_scope_pop(&err, ERR_DISCARD);
	if (rc) {
		fail_detail("on_failure: rollback: rollback run %s on target \"%s\" failed too: %s; %s", id,
			    tr->t->name, msg ? msg : "no reason recorded", summary);
		fail_detail("`padctl history %s` shows it; `padctl rollback %s --run %s` tries again", tr->env->name,
			    tr->env->name, tr->run_id);
	} else {
		fail_detail("on_failure: rollback: rollback run %s on target \"%s\" %s: the target is as it was before "
			    "run %s",
			    id, tr->t->name, summary, tr->run_id);
	}
	free(msg);
	free(summary);
	free(id);
}

/* lint_before_run lints the migrations the target's plan applies, before
 * any step runs: warnings are printed, an error refuses the run (planlint.h) */
static int lint_before_run(struct target_run *tr, const struct plan_target *pt)
{
	struct plan_lint pl;
	int rc = plan_lint_target(tr->p, tr->env, pt, tr->db, NULL, &pl);
	for (size_t i = 0; !rc && i < pl.n; i++)
		for (size_t k = 0; k < pl.v[i].r.n; k++) {
			const struct lint_finding *f = &pl.v[i].r.v[k];
			if (f->allowed || f->severity != LINT_WARNING)
				continue;
			struct buf b = BUF_INIT;
			lint_finding_line(f, &b, 1);
			log_warn("[%s] %s", tr->t->name, buf_str(&b));
			buf_release(&b);
		}
	if (!rc)
		rc = plan_lint_refuse(&pl, tr->t->name, tr->o->command);
	plan_lint_release(&pl);
	return rc;
}

/* open_target opens the target (for writing; read-only in a dry run) and
 * builds its part of the plan under the lock, into pt */
static int open_target(struct target_run *tr, struct plan_target *pt, const struct migration_set *set)
{
	int rc = tr->o->dry_run ? target_open_read(tr->p, tr->env->name, tr->t, tr->o->command, tr->run_id, &tr->db)
				: target_open_write(tr->p, tr->env->name, tr->t, tr->o->command, tr->run_id,
						    tr->o->lock_timeout_ms, &tr->db);
	if (rc)
		return -1;
	sig_watch_conn(tr->db->conn);
	char *system_id = NULL, *dbname = NULL;
	struct history h;
	if (plan_read_target(tr->db, &system_id, &dbname, &h))
		return -1;
	rc = plan_target_build(pt, tr->t, system_id, dbname, &h, set, tr->env, tr->o->allow_out_of_order);
	free(system_id);
	free(dbname);
	history_release(&h);
	tr->plan = pt;
	if (rc || pipeline_check_migrations(&pt->mig, tr->t->name, tr->o->allow_out_of_order))
		return -1;
	return lint_before_run(tr, pt);
}

/* step_selected says whether run_opts' only_kind and only_phase select the step */
static int step_selected(const struct run_opts *o, const struct resolved_step *rs)
{
	if (!o->only_kind)
		return 1;
	if (rs->plugin->desc->kind != o->only_kind)
		return 0;
	return !o->only_phase || !rs->cfg->phase || strcmp(rs->cfg->phase, o->only_phase) == 0;
}

void run_report_release(struct run_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].target);
		free(r->v[i].error);
		json_decref(r->v[i].drift);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

/* run_target runs the steps on a target open_target opened, doing what its plan says */
static int run_target(struct target_run *tr, const struct resolved_step *steps, const struct plugin_registry *reg)
{
	sig_watch_conn(tr->db->conn);
	build_todo(tr);
	int rc = 0;
	if (!tr->o->dry_run)
		rc = ledger_run_start(tr->db, tr->run_id, tr->env->name, tr->t->name, tr->o->command, tr->pl->name,
				      tr->o->records_dry_run);
	int started = !rc && !tr->o->dry_run;
	int seq = 0;
	for (size_t i = 0; !rc && i < tr->pl->nsteps; i++) {
		if (!steps[i].plugin || !step_selected(tr->o, &steps[i]))
			continue;
		rc = run_step(tr, &steps[i], ++seq);
	}
	if (rc && sig_cancelled())
		fail_detail("%s: padctl was told to stop; the migration in flight was rolled back and the run is "
			    "recorded as cancelled; deploy again to apply the rest", sig_cancelled_name());
	if (rc && started)
		apply_failure_policy(tr, reg);
	if (started) {
		char *msg = rc && err_message() ? xstrdup(err_message()) : NULL;
		const char *status = sig_cancelled() ? "cancelled" : rc ? "failed" : "ok";
		/* the cancel request may land on this very statement: one more try records the run */
		for (int tries = 0; tries < 2; tries++) {
			if (tr->session_dirty)
				session_reset(tr, 1);
			if (ledger_run_finish(tr->db, tr->run_id, status, msg) == 0 || !sig_cancelled())
				break;
			tr->session_dirty = 1;
		}
		free(msg);
	}
	return rc;
}

int pipeline_check_gates(const struct cfg_pipeline *pl, const struct cfg_env *env, const char *command,
			 int dry_run)
{
	const char *what = NULL;
	int line = 0;
	struct buf b = BUF_INIT;
	if (pl->approvals_required) {
		buf_addf(&b, "approvals (%d required)", pl->approvals_required);
		what = buf_str(&b);
	} else {
		for (size_t i = 0; i < pl->nstages && !what; i++)
			if (pl->stages[i].approval) {
				buf_addf(&b, "an approval gate before stage \"%s\"", pl->stages[i].name);
				what = buf_str(&b);
				line = pl->stages[i].line;
			}
	}
	if (!what)
		return 0;
	if (dry_run) {
		log_warn("pipeline \"%s\" asks for %s: a %s of env \"%s\" that is not a dry run needs an approved plan",
			 pl->name, what, command, env->name);
		buf_release(&b);
		return 0;
	}
	if (line)
		fail("%s:%d: pipeline \"%s\" asks for %s, so a %s of env \"%s\" needs an approved plan", pl->file,
		     line, pl->name, what, command, env->name);
	else
		fail("%s: pipeline \"%s\" asks for %s, so a %s of env \"%s\" needs an approved plan", pl->file,
		     pl->name, what, command, env->name);
	if (strcmp(command, "deploy") != 0)
		fail_detail("`padctl %s` cannot run under approvals in this version of padctl, so it is refused in env "
			    "\"%s\"; nothing was changed",
			    command, env->name);
	else if (!pl->signers)
		fail_detail("a stage gate is approved by the signers of the pipeline's `approvals:` section, and it has "
			    "none; nothing was changed");
	else
		fail_detail("only `padctl deploy %s --plan ID` of a signed, approved plan runs it; nothing was changed",
			    env->name);
	fail_hint("%s", pl->signers ? "`padctl plan ENV --key KEY`, `padctl approve ID --key KEY`, `padctl deploy ENV "
				      "--plan ID` (docs/approve.md)"
				    : "add `approvals: {required: N, signers: FILE}` to the pipeline (docs/approve.md)");
	buf_release(&b);
	return fail_status(EXIT_APPROVAL);
}

/* check_stored compares the plan re-derived under the locks with the stored one */
static int check_stored(const struct plan *plan, const char *id, const char *stored, const char *stored_hash,
			const unsigned char *skip)
{
	char *bytes = NULL;
	size_t len = 0;
	if (plan_bytes(plan, &bytes, &len))
		return -1;
	if (skip && plan_keep_stored(stored, skip, plan->ntargets, &bytes, &len)) {
		free(bytes);
		return -1;
	}
	char hash[65], own[65];
	plan_hash(bytes, len, hash);
	plan_hash(stored, strlen(stored), own);
	int rc = 0;
	if (strcmp(own, stored_hash) != 0) {
		fail("plan \"%s\" in the ledger does not match its own hash: nothing was changed", id);
		fail_detail("recorded hash sha256:%s, the recorded body hashes to sha256:%s", stored_hash, own);
		rc = fail_hint("someone edited padctl.plans or padctl.plan_bodies; record a new plan with "
			       "`padctl plan %s`",
			       plan->env);
	} else if (strcmp(hash, stored_hash) != 0) {
		fail("plan \"%s\" no longer matches what the deploy would do: nothing was changed", id);
		fail_detail("recorded hash sha256:%s, re-derived under the lock sha256:%s", stored_hash, hash);
		char *diff = plan_diff(stored, bytes, 20);
		for (char *line = diff, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			fail_detail("%s", line);
		}
		free(diff);
		rc = fail_hint("review what changed, record a new plan with `padctl plan %s` and deploy that one",
			       plan->env);
	} else {
		log_info("plan %s: re-derived under the lock, hash sha256:%s matches", id, hash);
	}
	free(bytes);
	return rc;
}

int pipeline_run(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
		 const struct plugin_registry *reg, const struct run_opts *o)
{
	return pipeline_run_stage(p, env, pl, reg, o, NULL);
}

int pipeline_run_stage(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
		       const struct plugin_registry *reg, const struct run_opts *o, const struct stage_opts *so)
{
	const unsigned char *skip = so ? so->skip : NULL;
	struct resolved_step *steps = NULL;
	const struct cfg_target **targets = NULL;
	size_t ntargets = 0;
	struct migration_set set = { NULL, 0 };
	if (!so && pipeline_check_gates(pl, env, o->command, o->dry_run))
		return -1;
	/* the engine and its plugins check sig_cancelled() between and inside steps */
	sig_safe_points(1);
	int rc = pipeline_resolve(pl, env, reg, &steps);
	if (!rc && o->only_kind) {
		size_t selected = 0;
		for (size_t i = 0; i < pl->nsteps; i++)
			selected += steps[i].plugin && step_selected(o, &steps[i]);
		if (!selected) {
			fail("pipeline \"%s\" of env \"%s\" has no %s step%s%s to run", pl->name, env->name, o->command,
			     o->only_phase ? " of phase " : "", o->only_phase ? o->only_phase : "");
			fail_detail("%s runs the pipeline's own steps of that kind, and nothing else", o->command);
			fail_hint("add `- validate: preflight` to %s", pl->file);
			rc = fail_status(EXIT_USAGE);
		}
	}
	if (!rc)
		rc = pipeline_targets(env, pl, o->only_target, &targets, &ntargets);
	if (!rc && o->report) {
		o->report->v = xcalloc(ntargets ? ntargets : 1, sizeof *o->report->v);
		o->report->n = ntargets;
		for (size_t i = 0; i < ntargets; i++)
			o->report->v[i].target = xstrdup(targets[i]->name);
	}
	if (!rc && migrations_load(p->migrations_dir, &set))
		rc = -1;
	/* the run's plan: each target's part is built under that target's lock */
	struct plan plan;
	plan_init(&plan, p, env, pl, ntargets);
	if (!rc)
		rc = plan_digest_files(&plan, env, pl);
	char *stored = NULL, *stored_hash = NULL;
	if (!rc && o->plan_id)
		rc = plan_load(p, env, o->plan_id, &stored, &stored_hash);
	char *run_id = so ? xstrdup(so->run_id) : ledger_new_run_id();
	if (!rc)
		log_info("%s %s: run %s, pipeline \"%s\", %zu target%s%s", o->command, env->name, run_id, pl->name,
			 ntargets, ntargets == 1 ? "" : "s",
			 o->only_kind ? " (read-only: nothing will change)"
			 : o->dry_run ? " (dry run: nothing will change)"
				      : "");
	struct target_run *trs = xcalloc(ntargets ? ntargets : 1, sizeof *trs);
	for (size_t i = 0; i < ntargets; i++) {
		trs[i].p = p;
		trs[i].env = env;
		trs[i].pl = pl;
		trs[i].t = targets[i];
		trs[i].o = o;
		trs[i].run_id = run_id;
		trs[i].report = o->report ? &o->report->v[i] : NULL;
	}
	/* a stored plan runs only as a whole: every target is locked and its
	 * part re-derived before the first one changes */
	for (size_t i = 0; !rc && o->plan_id && i < ntargets; i++)
		if (!skip || !skip[i])
			rc = open_target(&trs[i], &plan.targets[i], &set);
	if (!rc && o->plan_id)
		rc = check_stored(&plan, o->plan_id, stored, stored_hash, skip);
	int failed = 0;
	for (size_t i = 0; (!rc || (o->keep_going && failed)) && i < ntargets; i++) {
		struct target_run *tr = &trs[i];
		if (skip && skip[i])
			continue;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* the target's own error scope: what ledger_run_finish records is
		 * this target's error; it is then the run's error */
		struct err_scope target_err;
		err_scope_push(&target_err);
		rc = 0;
		if (!o->plan_id)
			rc = open_target(tr, &plan.targets[i], &set);
		if (!rc)
			rc = run_target(tr, steps, reg);
		if (tr->report) {
			tr->report->ran = 1;
			tr->report->ok = !rc;
			if (rc && err_message())
				tr->report->error = xstrdup(err_message());
		}
		failed |= rc != 0;
		err_scope_pop(&target_err, ERR_PROPAGATE);
		if (!rc && o->only_kind)
			log_info("[%s] %s done in %.2f s", tr->t->name, o->command, elapsed_ms(&t0) / 1000.0);
		else if (!rc)
			log_info("[%s] %s: %zu migration%s applied in %.2f s", tr->t->name,
				 o->dry_run ? "dry run done" : "done", tr->napplied, tr->napplied == 1 ? "" : "s",
				 elapsed_ms(&t0) / 1000.0);
		/* a stage rolls back as a whole: the targets it changed before this one too */
		for (size_t j = 0; rc && so && j < i; j++)
			if (trs[j].db && trs[j].napplied)
				apply_failure_policy(&trs[j], reg);
		if (rc && i + 1 < ntargets && !o->keep_going && !so)
			fail_detail("the rollout stopped: targets after \"%s\" were not touched", tr->t->name);
		sig_watch_conn(NULL);
		/* a stage keeps its targets locked until it is done, for the rollback above */
		if (!so) {
			db_close(tr->db);
			tr->db = NULL;
		}
	}
	sig_watch_conn(NULL);
	if (failed)
		rc = -1;
	for (size_t i = 0; i < ntargets; i++) {
		db_close(trs[i].db);
		guard_release(&trs[i].guard);
		free(trs[i].todo);
		free(trs[i].applied);
	}
	free(trs);
	if (!rc)
		log_info("%s %s: run %s succeeded", o->command, env->name, run_id);
	free(run_id);
	free(stored);
	free(stored_hash);
	plan_release(&plan);
	free(steps);
	free(targets);
	migrations_release(&set);
	return rc;
}

/* ---- padctl rollback */

/* undo_choice: what `padctl rollback` undoes on one target */
struct undo_choice {
	char *undone;                  /* the run undone (the oldest, for --to) */
	struct padctl_migration *migs; /* in version order; the plugin undoes them newest first */
	size_t n;
};

static int query_one(struct db *db, const char *sql, int n, const char *const *params, char **v)
{
	*v = NULL;
	return db_query_value(db, sql, n, params, v);
}

/* choose_rows picks the history rows to undo, in version order, into rows */
static int choose_rows(struct target_run *tr, const struct rollback_opts *o, const struct history *h,
		       const struct migration_set *set, struct undo_choice *c, const struct history_row ***rows, size_t *n)
{
	struct db *db = tr->db;
	*rows = xcalloc(h->n ? h->n : 1, sizeof **rows);
	*n = 0;
	if (o->to) {
		/* --to 0 undoes everything; any other version must exist, so a typo undoes nothing */
		int known = strspn(o->to, "0") == strlen(o->to) || migrations_find(set, o->to) != NULL;
		for (size_t i = 0; i < h->n && !known; i++)
			known = version_cmp(h->v[i].version, o->to) == 0;
		if (!known) {
			fail("--to %s: target \"%s\" knows no migration of that version", o->to, tr->t->name);
			fail_hint("name a version `padctl status %s` lists; everything applied after it is undone",
				  tr->env->name);
			return fail_status(EXIT_USAGE);
		}
		for (size_t i = 0; i < h->n; i++) {
			const struct history_row *r = &h->v[i];
			if (version_cmp(r->version, o->to) <= 0)
				continue;
			if (strcmp(r->status, "baselined") == 0) {
				fail("--to %s would undo migration %s_%s on target \"%s\", which was baselined, not applied "
				     "by padctl",
				     o->to, r->version, r->name, tr->t->name);
				fail_hint("roll back to %s or later", r->version);
				return fail_status(EXIT_USAGE);
			}
			if (strcmp(r->status, "applied") == 0)
				(*rows)[(*n)++] = r;
		}
	} else {
		if (o->run_id) {
			c->undone = xstrdup(o->run_id);
		} else if (query_one(db,
				     "SELECT m.run_id FROM padctl.migrations m JOIN padctl.runs r ON r.id = m.run_id "
				     "WHERE m.status = 'applied' ORDER BY r.started_at DESC, r.id DESC LIMIT 1",
				     0, NULL, &c->undone)) {
			return -1;
		}
		if (!c->undone)
			return 0;
		char *cmd = NULL;
		const char *p[] = { c->undone };
		if (query_one(db, "SELECT command FROM padctl.runs WHERE id = $1", 1, p, &cmd))
			return -1;
		if (!cmd) {
			fail("target \"%s\" has no run \"%s\"", tr->t->name, c->undone);
			fail_hint("`padctl history %s` lists the runs", tr->env->name);
			return fail_status(EXIT_USAGE);
		}
		free(cmd);
		/* a later run that still has migrations applied was built on this one */
		char *later = NULL;
		if (query_one(db,
			      "SELECT string_agg(DISTINCT m.run_id, ', ') FROM padctl.migrations m JOIN padctl.runs r "
			      "ON r.id = m.run_id WHERE m.status = 'applied' AND m.run_id <> $1 AND (r.started_at, r.id) > "
			      "(SELECT started_at, id FROM padctl.runs WHERE id = $1)",
			      1, p, &later))
			return -1;
		if (later) {
			fail("run %s on target \"%s\" cannot be rolled back alone: later runs built on it", c->undone,
			     tr->t->name);
			fail_detail("runs with migrations still applied after it: %s", later);
			fail_hint("roll those back first, or use `padctl rollback %s --to VERSION` to undo everything "
				  "newer than VERSION",
				  tr->env->name);
			free(later);
			return fail_status(EXIT_USAGE);
		}
		for (size_t i = 0; i < h->n; i++)
			if (h->v[i].run_id && strcmp(h->v[i].run_id, c->undone) == 0 &&
			    strcmp(h->v[i].status, "applied") == 0)
				(*rows)[(*n)++] = &h->v[i];
	}
	/* version order, as they were applied */
	for (size_t i = 1; i < *n; i++)
		for (size_t k = i; k > 0 && version_cmp((*rows)[k - 1]->version, (*rows)[k]->version) > 0; k--) {
			const struct history_row *t = (*rows)[k];
			(*rows)[k] = (*rows)[k - 1];
			(*rows)[k - 1] = t;
		}
	if (o->to && *n) {
		/* the oldest run among them: restore needs the backup taken before it */
		struct buf arr = BUF_INIT;
		for (size_t i = 0; i < *n; i++)
			buf_addf(&arr, "%s\"%s\"", i ? "," : "{", (*rows)[i]->version);
		buf_adds(&arr, "}");
		const char *p[] = { buf_str(&arr) };
		int rc = query_one(db,
				   "SELECT m.run_id FROM padctl.migrations m JOIN padctl.runs r ON r.id = m.run_id "
				   "WHERE m.status = 'applied' AND m.version = ANY ($1::text[]) "
				   "ORDER BY r.started_at, r.id LIMIT 1",
				   1, p, &c->undone);
		buf_release(&arr);
		if (rc)
			return -1;
		if (!c->undone)
			c->undone = xstrdup("(unrecorded)");
	}
	return 0;
}

/* choose builds the migrations to undo on tr's target */
static int choose(struct target_run *tr, const struct rollback_opts *o, const struct history *h,
		  const struct migration_set *set, struct undo_choice *c)
{
	const struct history_row **rows = NULL;
	size_t n = 0;
	memset(c, 0, sizeof *c);
	int rc = choose_rows(tr, o, h, set, c, &rows, &n);
	c->migs = xcalloc(n ? n : 1, sizeof *c->migs);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct history_row *r = rows[i];
		const struct migration *f = migrations_find(set, r->version);
		struct padctl_migration *m = &c->migs[c->n++];
		m->version = r->version;
		m->name = r->name;
		m->checksum = r->checksum;
		m->transactional = 1;
		if (f) {
			m->dir = f->dir;
			m->up_path = f->up_path;
			m->up_sql = f->up_sql;
			m->transactional = f->transactional;
			m->down_path = f->down_path;
			m->verify_path = f->verify_path;
			if (strcmp(f->checksum, r->checksum) != 0)
				log_warn("[%s] %s_%s: up.sql changed since it was applied; its down.sql may not match "
					 "what is applied",
					 tr->t->name, r->version, r->name);
		}
	}
	free(rows);
	return rc;
}

static void undo_release(struct undo_choice *c)
{
	free(c->undone);
	free(c->migs);
	memset(c, 0, sizeof *c);
}

/* print_dry shows what a rollback would run, newest first, on stdout */
static int print_dry(struct target_run *tr, const struct undo_choice *c, int restore)
{
	printf("target %s: rollback of run %s would undo %zu migration%s, newest first:\n", tr->t->name, c->undone,
	       c->n, c->n == 1 ? "" : "s");
	for (size_t k = 0; k < c->n; k++) {
		const struct padctl_migration *m = &c->migs[c->n - 1 - k];
		char *label = xstrfmt("%s_%s", m->version, m->name);
		char *show = xstrprintable(label);
		free(label);
		char *sql = NULL;
		if (!m->down_path) {
			printf("-- %s: no down.sql: down stops here; %s\n", show,
			       restore ? "restore would bring the owned schemas back from the backup of run "
				       : "without --restore nothing further is undone");
			if (restore)
				printf("--   %s (data written after it is lost)\n", c->undone);
			free(show);
			break;
		}
		if (read_text_file(m->down_path, &sql, NULL)) {
			free(show);
			return -1;
		}
		printf("-- %s: %s%s\n", show, m->down_path,
		       m->transactional ? " (in a transaction, with its history row)"
					: " (transactional: false: statement by statement, then its history row)");
		struct buf b = BUF_INIT;
		buf_add_printable_lines(&b, sql);
		fputs(buf_str(&b), stdout);
		if (b.len && buf_str(&b)[b.len - 1] != '\n')
			putchar('\n');
		buf_release(&b);
		free(sql);
		free(show);
	}
	return 0;
}

static int rollback_target(struct target_run *tr, const struct plugin_entry *e, const struct rollback_opts *o,
			   const struct migration_set *set)
{
	struct history h;
	if (ledger_history(tr->db, &h))
		return -1;
	struct undo_choice c;
	int rc = h.exists ? choose(tr, o, &h, set, &c) : (memset(&c, 0, sizeof c), 0);
	if (!rc && c.n == 0) {
		if (o->run_id)
			log_info("[%s] run %s has no migration left applied: nothing to roll back", tr->t->name,
				 o->run_id);
		else
			log_info("[%s] nothing to roll back%s%s", tr->t->name, o->to ? " after " : "", o->to ? o->to : "");
	} else if (!rc && o->dry_run) {
		rc = print_dry(tr, &c, o->restore);
	} else if (!rc) {
		char *summary = NULL;
		rc = rollback_run(tr, e, tr->run_id, c.undone, c.migs, c.n, o->restore, ERR_PROPAGATE, &summary);
		free(summary);
	}
	undo_release(&c);
	history_release(&h);
	return rc;
}

int pipeline_rollback(const struct cfg_project *p, const struct cfg_env *env, const struct plugin_registry *reg,
		      const struct rollback_opts *o)
{
	const struct plugin_entry *e = rollback_plugin(reg);
	if (!e) {
		fail("no rollback strategy is installed, so env \"%s\" was not rolled back", env->name);
		fail_detail("rollback strategies (down, restore) are plugins of kind rollback; none offering \"down\" "
			    "was found (`padctl plugins` lists what is installed)");
		return fail_hint("nothing was changed");
	}
	if (o->run_id && o->to) {
		fail("--run and --to cannot be used together");
		fail_hint("--run ID undoes one run; --to VERSION undoes everything applied after VERSION");
		return fail_status(EXIT_USAGE);
	}
	const struct cfg_target **targets = NULL;
	size_t ntargets = 0;
	struct migration_set set = { NULL, 0 };
	sig_safe_points(1);
	int rc = pipeline_targets(env, NULL, o->only_target, &targets, &ntargets);
	if (!rc && migrations_load(p->migrations_dir, &set))
		rc = -1;
	char *run_id = ledger_new_run_id();
	struct run_opts ro = { .command = "rollback",
			       .dry_run = o->dry_run,
			       .only_target = o->only_target,
			       .lock_timeout_ms = o->lock_timeout_ms };
	if (!rc)
		log_info("rollback %s: run %s, %zu target%s%s", env->name, run_id, ntargets, ntargets == 1 ? "" : "s",
			 o->dry_run ? " (dry run: nothing will change)" : "");
	for (size_t i = 0; !rc && i < ntargets; i++) {
		struct target_run tr;
		memset(&tr, 0, sizeof tr);
		tr.p = p;
		tr.env = env;
		tr.t = targets[i];
		tr.o = &ro;
		tr.run_id = run_id;
		struct err_scope target_err;
		err_scope_push(&target_err);
		rc = o->dry_run ? target_open_read(p, env->name, tr.t, "rollback", run_id, &tr.db)
				: target_open_write(p, env->name, tr.t, "rollback", run_id, o->lock_timeout_ms, &tr.db);
		if (!rc) {
			sig_watch_conn(tr.db->conn);
			rc = rollback_target(&tr, e, o, &set);
		}
		err_scope_pop(&target_err, ERR_PROPAGATE);
		if (rc && i + 1 < ntargets)
			fail_detail("targets after \"%s\" were not rolled back", tr.t->name);
		sig_watch_conn(NULL);
		db_close(tr.db);
	}
	if (!rc)
		log_info("rollback %s: run %s %s", env->name, run_id, o->dry_run ? "dry run done" : "succeeded");
	free(run_id);
	free(targets);
	migrations_release(&set);
	return rc;
}

int pipeline_check_steps(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_pipeline *pl,
			 const struct resolved_step *steps, const struct cfg_target *t, struct db *db,
			 const struct plan_target *pt, const char *run_id)
{
	struct run_opts o;
	memset(&o, 0, sizeof o);
	o.command = "plan";
	o.dry_run = 1;
	struct target_run tr;
	memset(&tr, 0, sizeof tr);
	tr.p = p;
	tr.env = env;
	tr.pl = pl;
	tr.t = t;
	tr.o = &o;
	tr.run_id = run_id;
	tr.db = db;
	tr.plan = pt;
	build_todo(&tr);
	int rc = 0;
	for (size_t i = 0; !rc && i < pl->nsteps; i++) {
		const struct resolved_step *rs = &steps[i];
		if (!rs->plugin || !rs->plugin->desc->check)
			continue;
		const struct padctl_plugin *d = rs->plugin->desc;
		struct padctl_step st;
		memset(&st, 0, sizeof st);
		st.project = p;
		st.env = env;
		st.target = t;
		st.cfg = rs->cfg;
		st.run_id = run_id;
		st.dry_run = 1; /* check has no side effects: it runs under the dry run's guards */
		st.db = db;
		st.run = &tr;
		st.tty = isatty(STDERR_FILENO);
		clock_gettime(CLOCK_MONOTONIC, &st.t0);
		st.migs = d->kind == PADCTL_KIND_MIGRATE ? tr.todo : NULL;
		st.nmigs = d->kind == PADCTL_KIND_MIGRATE ? tr.ntodo : 0;
		st.recorded = xcalloc(st.nmigs ? st.nmigs : 1, 1);
		if (dry_begin(&tr)) {
			free(st.recorded);
			rc = -1;
			break;
		}
		struct err_scope step_err;
		err_scope_push(&step_err);
		void *state = NULL;
		rc = d->open ? d->open(&host, &st, &state) : 0;
		if (rc == 0) {
			rc = d->check(&host, &st, state);
			if (d->close)
				d->close(&host, &st, state);
		}
		end_progress(&st);
		if (!rc && err_pending())
			rc = fail_detail("the check of step \"%s\" went on after this error and returned success",
					 rs->cfg->plugin);
		if (rc && !err_pending())
			fail("the check of step \"%s\" failed on target \"%s\" without saying why", rs->cfg->plugin,
			     t->name);
		if (st.in_tx)
			h_tx_rollback(&st);
		dry_end(&tr);
		services_step_end(&st.svc);
		for (size_t k = 0; k < st.nstrs; k++)
			free(st.strs[k]);
		free(st.strs);
		free(st.recorded);
		free(st.last_origin);
		err_scope_pop(&step_err, ERR_PROPAGATE);
	}
	free(tr.todo);
	free(tr.applied);
	return rc;
}

/* pthread_attr_setaffinity_np, sched_getcpu: where lint's second thread runs */
#define _GNU_SOURCE
#include "planlint.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "migrations.h"

/* The lookups may come from two threads at once (plan_lint_target): the
 * connection and the error scopes are shared, so each lookup holds lock. */
struct cat_state {
	struct db *db;
	char *search_path;
	char *user;
	pthread_mutex_t lock;
};

/* A lookup that fails (a lost connection, a permission) leaves the answer
 * unknown, and lint says so; the error is the lookup's own and not the
 * command's, so it stays in a scope that is discarded. lookup_begin and
 * lookup_end hold the lock and that scope around one query. */
static void lookup_begin(struct cat_state *cs, struct err_scope *s)
{
	pthread_mutex_lock(&cs->lock);
	err_scope_push(s);
}

static void lookup_end(struct cat_state *cs, struct err_scope *s)
{
	err_scope_pop(s, ERR_DISCARD);
	pthread_mutex_unlock(&cs->lock);
}

static int lookup(struct cat_state *cs, const char *sql, int n, const char *const *params, PGresult **res)
{
	struct err_scope s;
	lookup_begin(cs, &s);
	int rc = db_query(cs->db, sql, n, params, res);
	lookup_end(cs, &s);
	return rc;
}

static int lookup_value(struct cat_state *cs, const char *sql, int n, const char *const *params, char **v)
{
	struct err_scope s;
	lookup_begin(cs, &s);
	int rc = db_query_value(cs->db, sql, n, params, v);
	lookup_end(cs, &s);
	return rc;
}

/* the relation's regclass from its parts, quoted as the server quotes them */
#define REL_SQL \
	"to_regclass(CASE WHEN $1::text IS NULL THEN quote_ident($2) ELSE quote_ident($1) || '.' || quote_ident($2) END)"

static int db_volatility(void *arg, const char *schema, const char *name)
{
	struct cat_state *cs = arg;
	const char *params[] = { schema, name };
	char *v = NULL;
	/* 'v' > 's' > 'i': the most volatile function of that name decides */
	if (lookup_value(cs,
			 "SELECT max(p.provolatile::text) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
			 "WHERE p.proname = $2 AND (n.nspname = $1 OR ($1::text IS NULL AND n.nspname = ANY "
			 "(current_schemas(true))))",
			 2, params, &v)) {
		return 0;
	}
	int c = v && *v ? v[0] : 0;
	free(v);
	return c;
}

static int db_column_type(void *arg, const char *schema, const char *table, const char *column, char *type,
			  size_t typelen, int *typmod)
{
	struct cat_state *cs = arg;
	const char *params[] = { schema, table, column };
	PGresult *res;
	if (lookup(cs,
		   "SELECT t.typname, a.atttypmod FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
		   "WHERE a.attrelid = " REL_SQL " AND a.attname = $3 AND NOT a.attisdropped",
		   3, params, &res)) {
		return -1;
	}
	int rc = -1;
	if (PQntuples(res) == 1) {
		snprintf(type, typelen, "%s", PQgetvalue(res, 0, 0));
		*typmod = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

static int db_notnull_check(void *arg, const char *schema, const char *table, const char *column)
{
	struct cat_state *cs = arg;
	const char *params[] = { schema, table, column };
	char *v = NULL;
	if (lookup_value(cs,
			 "SELECT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = " REL_SQL
			 " AND c.contype = 'c' AND c.convalidated AND pg_get_constraintdef(c.oid) IN "
			 "('CHECK ((' || quote_ident($3) || ' IS NOT NULL))', 'CHECK (' || quote_ident($3) || ' IS NOT NULL)'))",
			 3, params, &v)) {
		return -1;
	}
	int rc = v && v[0] == 't';
	free(v);
	return rc;
}

static int db_relation(void *arg, const char *schema, const char *name, char *nsp, size_t nsplen)
{
	struct cat_state *cs = arg;
	const char *params[] = { schema, name };
	PGresult *res;
	if (lookup(cs,
		   "SELECT c.relkind, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		   "WHERE c.oid = " REL_SQL,
		   2, params, &res)) {
		return 0;
	}
	int kind = 0;
	if (PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 1) {
		kind = (unsigned char)PQgetvalue(res, 0, 0)[0];
		snprintf(nsp, nsplen, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return kind;
}

int lint_catalog_db(struct db *db, const struct lint_session *known, struct lint_catalog *cat)
{
	memset(cat, 0, sizeof *cat);
	if (!db)
		return 0;
	PGresult *res = NULL;
	if (!known && db_query(db, "SELECT " LINT_SESSION_SQL, 0, NULL, &res))
		return -1;
	struct cat_state *cs = xcalloc(1, sizeof *cs);
	cs->db = db;
	pthread_mutex_init(&cs->lock, NULL);
	cs->search_path = xstrdup(known ? known->search_path : PQgetvalue(res, 0, 0));
	cs->user = xstrdup(known ? known->user : PQgetvalue(res, 0, 1));
	cat->server_version = known ? known->server_version : (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	cat->arg = cs;
	cat->search_path = cs->search_path;
	cat->user = cs->user;
	cat->volatility = db_volatility;
	cat->column_type = db_column_type;
	cat->has_notnull_check = db_notnull_check;
	cat->relation = db_relation;
	return 0;
}

void lint_catalog_db_release(struct lint_catalog *cat)
{
	struct cat_state *cs = cat->arg;
	if (cs) {
		pthread_mutex_destroy(&cs->lock);
		free(cs->search_path);
		free(cs->user);
		free(cs);
	}
	memset(cat, 0, sizeof *cat);
}

/* the migrations to lint, out->v[0, n) with their options: each thread
 * takes the next few until none is left */
struct lint_share {
	struct mig_lint *v;
	const struct lint_opts *o;
	size_t n;
	atomic_size_t next;
};

#define LINT_TAKE 4

static void *lint_share_run(void *arg)
{
	struct lint_share *s = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&s->next, LINT_TAKE);
		if (i >= s->n)
			return NULL;
		size_t end = s->n - i > LINT_TAKE ? i + LINT_TAKE : s->n;
		for (; i < end; i++) {
			const struct migration *m = s->v[i].m;
			lint_sql(m->up_path, m->up_sql, strlen(m->up_sql), &s->o[i], &s->v[i].r);
		}
	}
}

/* Below this much SQL one thread lints it all: starting a second costs
 * about what it saves on a few dozen small migrations. */
#define LINT_SPLIT_BYTES (32 * 1024)

/* other_cpus sets cs to the CPUs this thread may run on but is not on now;
 * 0 when there are some */
static int other_cpus(cpu_set_t *cs)
{
	int here = sched_getcpu();
	if (here < 0 || sched_getaffinity(0, sizeof *cs, cs) != 0 || !CPU_ISSET(here, cs))
		return -1;
	CPU_CLR(here, cs);
	return CPU_COUNT(cs) ? 0 : -1;
}

/* lint_all lints out->v[0, n) (options o): the parser is PostgreSQL's, by
 * the migration, and lint_sql shares nothing once lint_opts_check passed,
 * so where this thread may run on more than one CPU, a second thread takes
 * migrations too (plan and deploy lint every pending migration: 1,000 of
 * them are ~3 ms of parsing), a few at a time, whichever is free. Each
 * migration's findings go to its own slot, so the order is the migrations'.
 * The second thread starts on a CPU other than this one's: lint lasts a
 * few milliseconds, and a thread left to start beside its parent (as Linux
 * places a new one) was often still there when the work was done, making
 * the second thread worth nothing (bench/README.md, lint). It blocks every
 * signal: they reach this one, as in the rest of padctl. */
static void lint_all(struct mig_lint *v, const struct lint_opts *o, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(v[i].m->up_sql);
	struct lint_share share = { v, o, n, 0 };
	cpu_set_t others;
	pthread_t th;
	int threaded = 0;
	if (total >= LINT_SPLIT_BYTES && other_cpus(&others) == 0) {
		pthread_attr_t attr;
		int placed = pthread_attr_init(&attr) == 0;
		if (placed && pthread_attr_setaffinity_np(&attr, sizeof others, &others) != 0) {
			pthread_attr_destroy(&attr);
			placed = 0;
		}
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		threaded = pthread_create(&th, placed ? &attr : NULL, lint_share_run, &share) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (placed)
			pthread_attr_destroy(&attr);
	}
	lint_share_run(&share);
	if (threaded)
		pthread_join(th, NULL);
}

int plan_lint_target(const struct cfg_project *p, const struct cfg_env *env, const struct plan_target *pt,
		     struct db *db, const struct lint_session *known, struct plan_lint *out)
{
	memset(out, 0, sizeof *out);
	if (lint_config_check(p))
		return -1;
	struct lint_catalog cat;
	if (lint_catalog_db(db, known, &cat))
		return -1;
	out->v = pt->ntodo ? xcalloc(pt->ntodo, sizeof *out->v) : NULL;
	struct lint_opts *opts = pt->ntodo ? xcalloc(pt->ntodo, sizeof *opts) : NULL;
	int rc = 0;
	/* the options first, in order: a bad lint.allow is reported for the first migration that has one */
	for (size_t i = 0; !rc && i < pt->ntodo; i++) {
		const struct plan_mig *pm = &pt->todo[i];
		if (pm->skip_reason)
			continue;
		const struct migration *m = pm->m;
		struct lint_opts *o = &opts[out->n];
		o->p = p;
		o->prod = env && env->tier && !strcmp(env->tier, "prod");
		o->transactional = m->transactional;
		o->destructive = m->destructive;
		o->meta_file = m->meta_path;
		o->allow = m->lint_allow;
		o->nallow = m->nlint_allow;
		o->cat = db ? &cat : NULL;
		out->v[out->n++].m = m;
		rc = lint_opts_check(o);
	}
	if (!rc)
		lint_all(out->v, opts, out->n);
	for (size_t i = 0; !rc && i < out->n; i++) {
		const struct lint_result *r = &out->v[i].r;
		out->errors += r->errors;
		out->warnings += r->warnings;
		if (!out->assumed && r->assumed)
			out->assumed = xstrdup(r->assumed);
	}
	free(opts);
	out->server_version = cat.server_version;
	lint_catalog_db_release(&cat);
	if (!out->assumed)
		out->assumed = xstrdup("");
	return rc;
}

const struct mig_lint *plan_lint_find(const struct plan_lint *pl, const struct migration *m)
{
	for (size_t i = 0; i < pl->n; i++)
		if (pl->v[i].m == m)
			return &pl->v[i];
	return NULL;
}

int plan_lint_refuse(const struct plan_lint *pl, const char *target, const char *command)
{
	if (!pl->errors)
		return 0;
	const struct lint_finding *first = NULL;
	for (size_t i = 0; i < pl->n && !first; i++)
		for (size_t k = 0; k < pl->v[i].r.n && !first; k++)
			if (pl->v[i].r.v[k].severity == LINT_ERROR && !pl->v[i].r.v[k].allowed)
				first = &pl->v[i].r.v[k];
	struct buf b = BUF_INIT;
	lint_finding_line(first, &b, 0);
	fail("%s", buf_str(&b));
	buf_release(&b);
	fail_detail("lint found %zu error%s in the migrations for target \"%s\": the %s was refused before anything "
		    "ran",
		    pl->errors, pl->errors == 1 ? "" : "s", target, command);
	for (size_t i = 0; i < pl->n; i++)
		for (size_t k = 0; k < pl->v[i].r.n; k++) {
			const struct lint_finding *f = &pl->v[i].r.v[k];
			if (f == first || f->severity != LINT_ERROR || f->allowed)
				continue;
			struct buf l = BUF_INIT;
			lint_finding_line(f, &l, 0);
			fail_detail("%s", buf_str(&l));
			buf_release(&l);
		}
	if (first->group == LINT_G_DESTRUCTIVE)
		fail_hint("a prod-tier env refuses destructive migrations unless meta.yml declares them: "
			  "`destructive: \"why\"`; or: %s",
			  first->hint ? first->hint : "make the change in steps");
	else if (first->hint)
		fail_hint("%s", first->hint);
	return fail_status(EXIT_USAGE);
}

void plan_lint_release(struct plan_lint *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		lint_result_release(&pl->v[i].r);
	free(pl->v);
	free(pl->assumed);
	memset(pl, 0, sizeof *pl);
}

#include "planlint.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "migrations.h"

/* A lookup that fails (a lost connection, a permission) leaves the answer
 * unknown, and lint says so; the error is the lookup's own and not the
 * command's, so it stays in a scope that is discarded. */
static int lookup_value(struct db *db, const char *sql, int n, const char *const *params, char **v)
{
	struct err_scope s;
	err_scope_push(&s);
	int rc = db_query_value(db, sql, n, params, v);
	err_scope_pop(&s, ERR_DISCARD);
	return rc;
}

static int lookup(struct db *db, const char *sql, int n, const char *const *params, PGresult **res)
{
	struct err_scope s;
	err_scope_push(&s);
	int rc = db_query(db, sql, n, params, res);
	err_scope_pop(&s, ERR_DISCARD);
	return rc;
}

struct cat_state {
	struct db *db;
	char *search_path;
	char *user;
};

/* the relation's regclass from its parts, quoted as the server quotes them */
#define REL_SQL \
	"to_regclass(CASE WHEN $1::text IS NULL THEN quote_ident($2) ELSE quote_ident($1) || '.' || quote_ident($2) END)"

static int db_volatility(void *arg, const char *schema, const char *name)
{
	struct cat_state *cs = arg;
	const char *params[] = { schema, name };
	char *v = NULL;
	/* 'v' > 's' > 'i': the most volatile function of that name decides */
	if (lookup_value(cs->db,
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
	if (lookup(cs->db,
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
	if (lookup_value(cs->db,
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

int lint_catalog_db(struct db *db, struct lint_catalog *cat)
{
	memset(cat, 0, sizeof *cat);
	if (!db)
		return 0;
	PGresult *res;
	if (db_query(db, "SELECT current_setting('search_path'), current_user, current_setting('server_version_num')",
		     0, NULL, &res))
		return -1;
	struct cat_state *cs = xcalloc(1, sizeof *cs);
	cs->db = db;
	cs->search_path = xstrdup(PQgetvalue(res, 0, 0));
	cs->user = xstrdup(PQgetvalue(res, 0, 1));
	cat->server_version = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	cat->arg = cs;
	cat->search_path = cs->search_path;
	cat->user = cs->user;
	cat->volatility = db_volatility;
	cat->column_type = db_column_type;
	cat->has_notnull_check = db_notnull_check;
	return 0;
}

void lint_catalog_db_release(struct lint_catalog *cat)
{
	struct cat_state *cs = cat->arg;
	if (cs) {
		free(cs->search_path);
		free(cs->user);
		free(cs);
	}
	memset(cat, 0, sizeof *cat);
}

int plan_lint_target(const struct cfg_project *p, const struct cfg_env *env, const struct plan_target *pt,
		     struct db *db, struct plan_lint *out)
{
	memset(out, 0, sizeof *out);
	if (lint_config_check(p))
		return -1;
	struct lint_catalog cat;
	if (lint_catalog_db(db, &cat))
		return -1;
	out->v = pt->ntodo ? xcalloc(pt->ntodo, sizeof *out->v) : NULL;
	int rc = 0;
	for (size_t i = 0; !rc && i < pt->ntodo; i++) {
		const struct plan_mig *pm = &pt->todo[i];
		if (pm->skip_reason)
			continue;
		const struct migration *m = pm->m;
		struct lint_opts o;
		memset(&o, 0, sizeof o);
		o.p = p;
		o.prod = env && env->tier && !strcmp(env->tier, "prod");
		o.transactional = m->transactional;
		o.destructive = m->destructive;
		o.meta_file = m->meta_path;
		o.allow = m->lint_allow;
		o.nallow = m->nlint_allow;
		o.cat = db ? &cat : NULL;
		struct mig_lint *ml = &out->v[out->n++];
		ml->m = m;
		rc = lint_sql(m->up_path, m->up_sql, strlen(m->up_sql), &o, &ml->r);
		out->errors += ml->r.errors;
		out->warnings += ml->r.warnings;
		if (!out->assumed && ml->r.assumed)
			out->assumed = xstrdup(ml->r.assumed);
	}
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

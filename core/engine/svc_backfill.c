/* The "backfill" service (padctl/plugin.h documents its contract): the
 * backfill's file, loaded through config/backfill.h, and its records in the
 * target's ledger. The tables' names and every statement on them live here,
 * not in the plugin: a plugin hands over rows and keys, never SQL for the
 * ledger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <padctl/plugin.h>
#include <pg_query.h>

#include "backfill.h"
#include "buf.h"
#include "db.h"
#include "log.h"
#include "services.h"
#include "yamlwalk.h"

/* one loaded backfill: the parsed file and the SDK's view of it */
struct svc_bf_def {
	struct cfg_backfill cfg;
	struct padctl_backfill_def def;
	struct padctl_backfill_check *checks;
	char *src_lit; /* source_table as an SQL literal */
	char *src_id; /* its id in padctl.backfill_tables, known after start (not in the engine's dry run) */
	char **tab_ids; /* the id of each def->targets[i] in padctl.backfill_tables, after start */
	char *name_lit;
	char *keyset; /* the keyset query of next_keys */
	char *isolate_fn; /* CREATE FUNCTION of isolate's batch function, made at its first call */
	char *run_sql; /* run_mapped's statement; NULL: run_mapped cannot be used (the plugin uses mapped) */
	int dry_run;
	int retry;
	int started;
};

struct svc_backfill {
	struct svc_bf_def **defs;
	size_t ndefs;
	char *error_text; /* error_text's answer */
};

static struct svc_bf_def *def_of(struct svc_step *s, const struct padctl_backfill_def *def)
{
	for (size_t i = 0; s->backfill && i < s->backfill->ndefs; i++)
		if (&s->backfill->defs[i]->def == def)
			return s->backfill->defs[i];
	fail("step \"%s\" on target \"%s\" passed a backfill the backfill service did not load in this step", s->plugin,
	     s->target);
	return NULL;
}

static int refused_dry(struct svc_step *s, const char *what)
{
	if (!s->dry_run)
		return 0;
	fail("step \"%s\" on target \"%s\" asked to %s in a dry run: refused", s->plugin, s->target, what);
	return fail_detail("a dry run of the engine runs read-only and records nothing; `padctl backfill --dry-run` "
			   "runs each batch and rolls it back");
}

/* quoted_table returns "schema"."table" for a checked schema.table */
static char *quoted_table(const char *qualified)
{
	const char *dot = strchr(qualified, '.');
	return xstrfmt("\"%.*s\".\"%s\"", (int)(dot - qualified), qualified, dot + 1);
}

static int bf_load(struct padctl_step *st, const char *name, const struct padctl_backfill_def **out)
{
	struct svc_step *s = svc_step_of(st);
	*out = NULL;
	if (!name || !*name)
		return fail("step \"%s\" on target \"%s\" asked for a backfill without a name", s->plugin, s->target);
	struct svc_bf_def *d = xcalloc(1, sizeof *d);
	if (config_load_backfill(s->project, name, &d->cfg)) {
		free(d);
		return -1;
	}
	struct cfg_backfill *c = &d->cfg;
	d->checks = xcalloc(c->nchecks ? c->nchecks : 1, sizeof *d->checks);
	for (size_t i = 0; i < c->nchecks; i++) {
		d->checks[i].name = c->checks[i].name;
		d->checks[i].sql = c->checks[i].sql;
		d->checks[i].line = c->checks[i].line;
	}
	d->def = (struct padctl_backfill_def){
		.name = c->name,
		.file = c->file,
		.source_table = c->source_table,
		.source_key = c->source_key,
		.targets = (const char *const *)c->targets,
		.ntargets = c->ntargets,
		.sql = c->sql,
		.sql_line = c->sql_line,
		.checks = d->checks,
		.nchecks = c->nchecks,
		.batch_size = c->batch_size,
		.statement_timeout_ms = c->statement_timeout * 1000L,
		.pause_ms = c->pause_ms,
	};
	d->tab_ids = xcalloc(c->ntargets ? c->ntargets : 1, sizeof *d->tab_ids);
	d->src_lit = db_literal(s->db, c->source_table);
	d->name_lit = db_literal(s->db, c->name);
	if (!s->backfill)
		s->backfill = xcalloc(1, sizeof *s->backfill);
	struct svc_backfill *b = s->backfill;
	b->defs = xrealloc(b->defs, (b->ndefs + 1) * sizeof *b->defs);
	b->defs[b->ndefs++] = d;
	if (!d->src_lit || !d->name_lit)
		return -1;
	*out = &d->def;
	return 0;
}

/* todo_filter is the WHERE clause (after the key condition) of the rows
 * start counted as to do. The engine's dry run does not upgrade the ledger,
 * so it reads the mapping through padctl.migration_mapping, whose columns
 * every layout of the ledger has (a slower join, for a count only). */
static void add_todo_filter(struct buf *q, const struct svc_bf_def *d, const char *key, int dry_run)
{
	if (!d->retry && dry_run)
		buf_addf(q,
			 "NOT EXISTS (SELECT 1 FROM padctl.migration_mapping m WHERE m.source_table = %s "
			 "AND m.source_id = s.%s) AND NOT EXISTS (SELECT 1 FROM padctl.backfill_failures f "
			 "WHERE f.source_table = %s AND f.source_id = s.%s)",
			 d->src_lit, key, d->src_lit, key);
	else if (d->retry)
		buf_addf(q,
			 "EXISTS (SELECT 1 FROM padctl.backfill_failures f WHERE f.source_table = %s "
			 "AND f.source_id = s.%s)",
			 d->src_lit, key);
	else
		buf_addf(q,
			 "NOT EXISTS (SELECT 1 FROM padctl.backfill_mapping m WHERE m.source = (SELECT id FROM "
			 "padctl.backfill_tables WHERE name = %s) AND m.source_id = s.%s) AND NOT EXISTS (SELECT 1 FROM "
			 "padctl.backfill_failures f WHERE f.source_table = %s AND f.source_id = s.%s)",
			 d->src_lit, key, d->src_lit, key);
}

/* bf_write is a ledger write of the backfill's own. Inside a batch's
 * transaction the host resets the session in front of it (RESET ALL), which
 * would also drop the batch's SET LOCAL statement_timeout: it is set again,
 * so the mapping rows and the counts are held to the file's timeout too. */
static int bf_write(struct svc_step *s, struct padctl_step *st, const struct padctl_backfill_def *def,
		    const char *sql)
{
	if (def->statement_timeout_ms <= 0)
		return s->ledger_write(st, sql);
	char *t = xstrfmt("SET LOCAL statement_timeout = %ld;\n%s", def->statement_timeout_ms, sql);
	int rc = s->ledger_write(st, t);
	free(t);
	return rc;
}

static void prepare_run_mapped(struct svc_step *s, struct svc_bf_def *d);

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n = v ? strtoull(v, &end, 10) : 0;
	if (!v || !*v || *end)
		return -1;
	*out = n;
	return 0;
}

static int bf_start(struct padctl_step *st, const struct padctl_backfill_def *def, int dry_run, int retry,
		    uint64_t *total, uint64_t *todo, uint64_t *failed)
{
	struct svc_step *s = svc_step_of(st);
	struct svc_bf_def *d = def_of(s, def);
	if (!d)
		return -1;
	d->dry_run = dry_run;
	d->retry = retry;
	char *table = quoted_table(def->source_table);
	char *key = xstrfmt("\"%s\"", def->source_key);
	/* the keyset read: the next keys in the source's key order (or, for a
	 * retry, in the failures' order), each with whether it is still to do.
	 * The LIMIT is on the key range, not on the anti-join, and the mapping
	 * and failure rows are read as the same key range (one index range
	 * scan each, joined by key), not probed key by key: a read costs the
	 * rows of its range however much of the table is done, and on a fresh
	 * range (a first run) next to nothing, where n probes into the mapping
	 * took 2-3 times as long (bench/README.md, backfill). Never the whole
	 * mapping table: it grows during the run, and the planner, estimating
	 * it small, would hash all of it for every batch. */
	struct buf q = BUF_INIT;
	if (retry)
		buf_addf(&q,
			 "SELECT source_id, true FROM padctl.backfill_failures WHERE source_table = %s "
			 "AND source_id > $1::bigint ORDER BY source_id LIMIT $2",
			 d->src_lit);
	else
		buf_addf(&q,
			 "WITH s AS MATERIALIZED (SELECT %s AS k FROM %s WHERE %s > $1::bigint ORDER BY %s LIMIT $2), "
			 "r AS (SELECT max(k) AS hi FROM s) "
			 "SELECT s.k, m.source_id IS NULL AND f.source_id IS NULL FROM s "
			 "LEFT JOIN (SELECT source_id FROM padctl.backfill_mapping WHERE source = (SELECT id FROM "
			 "padctl.backfill_tables WHERE name = %s) AND source_id > $1::bigint AND source_id <= (SELECT hi "
			 "FROM r)) m ON m.source_id = s.k "
			 "LEFT JOIN (SELECT source_id FROM padctl.backfill_failures WHERE source_table = %s "
			 "AND source_id > $1::bigint AND source_id <= (SELECT hi FROM r)) f ON f.source_id = s.k "
			 "ORDER BY s.k",
			 key, table, key, key, d->src_lit, d->src_lit);
	free(d->keyset);
	d->keyset = buf_detach(&q);
	buf_addf(&q, "SELECT (SELECT count(*) FROM %s), (SELECT count(*) FROM %s s WHERE ", table, table);
	add_todo_filter(&q, d, key, s->dry_run);
	buf_addf(&q, "), (SELECT count(*) FROM padctl.backfill_failures WHERE source_table = %s)", d->src_lit);
	PGresult *res = NULL;
	int rc = db_query(s->db, buf_str(&q), 0, NULL, &res);
	buf_release(&q);
	free(table);
	free(key);
	if (rc)
		return fail_detail("counting the rows of backfill \"%s\" on target \"%s\"", def->name, s->target);
	if (parse_u64(PQgetvalue(res, 0, 0), total) || parse_u64(PQgetvalue(res, 0, 1), todo) ||
	    parse_u64(PQgetvalue(res, 0, 2), failed)) {
		PQclear(res);
		return fail("could not read the row counts of backfill \"%s\" on target \"%s\"", def->name, s->target);
	}
	PQclear(res);
	if (s->dry_run)
		return 0; /* the engine's dry run: read-only, nothing recorded */
	char *run = db_literal(s->db, s->run_id);
	char *tgt = db_literal(s->db, s->target);
	if (!run || !tgt) {
		free(run);
		free(tgt);
		return -1;
	}
	char *sql = xstrfmt("INSERT INTO padctl.backfill_runs (run_id, backfill, target, source_table, dry_run, "
			    "retry_failed, rows_total) VALUES (%s, %s, %s, %s, %s, %s, %llu) "
			    "ON CONFLICT (run_id, backfill) DO NOTHING",
			    run, d->name_lit, tgt, d->src_lit, dry_run ? "true" : "false", retry ? "true" : "false",
			    (unsigned long long)*total);
	/* the source and target tables by their ids in padctl.backfill_tables
	 * (a mapping row holds the ids, not the names) */
	struct buf names = BUF_INIT;
	buf_addf(&names, "ARRAY[%s", d->src_lit);
	for (size_t i = 0; i < def->ntargets; i++) {
		char *t = db_literal(s->db, def->targets[i]);
		if (!t) {
			buf_release(&names);
			free(sql);
			free(run);
			free(tgt);
			return -1;
		}
		buf_addf(&names, ", %s", t);
		free(t);
	}
	buf_adds(&names, "]::text[]");
	char *all = xstrfmt("%s;\nINSERT INTO padctl.backfill_tables (name) SELECT n FROM unnest(%s) AS n WHERE NOT EXISTS "
			    "(SELECT 1 FROM padctl.backfill_tables t WHERE t.name = n) ON CONFLICT (name) DO NOTHING",
			    sql, buf_str(&names));
	rc = s->ledger_write(st, all);
	free(all);
	free(sql);
	free(run);
	free(tgt);
	if (!rc) {
		char *idq = xstrfmt("SELECT n.i, t.id FROM unnest(%s) WITH ORDINALITY AS n(name, i) "
				    "JOIN padctl.backfill_tables t ON t.name = n.name",
				    buf_str(&names));
		rc = db_query(s->db, idq, 0, NULL, &res);
		free(idq);
		for (int r = 0; !rc && r < PQntuples(res); r++) {
			long i = strtol(PQgetvalue(res, r, 0), NULL, 10);
			if (i == 1) {
				free(d->src_id);
				d->src_id = xstrdup(PQgetvalue(res, r, 1));
			} else if (i >= 2 && (size_t)(i - 2) < def->ntargets) {
				free(d->tab_ids[i - 2]);
				d->tab_ids[i - 2] = xstrdup(PQgetvalue(res, r, 1));
			}
		}
		if (!rc)
			PQclear(res);
		for (size_t i = 0; !rc && i < def->ntargets; i++)
			if (!d->src_id || !d->tab_ids[i])
				rc = fail("could not find the tables of backfill \"%s\" in padctl.backfill_tables on "
					  "target \"%s\"",
					  def->name, s->target);
	}
	buf_release(&names);
	d->started = !rc;
	if (!rc)
		prepare_run_mapped(s, d);
	return rc;
}

static int bf_next_keys(struct padctl_step *st, const struct padctl_backfill_def *def, const char *after, long n,
			struct padctl_rows **rows)
{
	struct svc_step *s = svc_step_of(st);
	struct svc_bf_def *d = def_of(s, def);
	*rows = NULL;
	if (!d)
		return -1;
	if (!d->keyset)
		return fail("step \"%s\" asked for the keys of backfill \"%s\" before start", s->plugin, def->name);
	if (n < 1 || n > BACKFILL_BATCH_MAX)
		return fail("step \"%s\" asked for %ld keys of backfill \"%s\": ask for 1 to %d", s->plugin, n,
			    def->name, BACKFILL_BATCH_MAX);
	char lim[32];
	snprintf(lim, sizeof lim, "%ld", n);
	const char *params[] = { after ? after : "-9223372036854775808", lim };
	PGresult *res;
	if (db_query(s->db, d->keyset, 2, params, &res))
		return fail_detail("reading the next keys of backfill \"%s\" on target \"%s\"", def->name, s->target);
	*rows = xmalloc(sizeof **rows);
	(*rows)->res = res;
	return 0;
}

static int is_int(const char *v)
{
	if (!v)
		return 0;
	if (*v == '-')
		v++;
	size_t n = strspn(v, "0123456789");
	return n > 0 && n <= 19 && !v[n];
}

/* a row of the batch SQL's result, for grouping by source row */
struct mrow {
	long long sid;
	int row;
};

static int cmp_mrow(const void *x, const void *y)
{
	const struct mrow *a = x, *b = y;
	if (a->sid != b->sid)
		return a->sid < b->sid ? -1 : 1;
	return a->row < b->row ? -1 : a->row > b->row;
}

static int bf_mapped(struct padctl_step *st, const struct padctl_backfill_def *def, const struct padctl_rows *rows)
{
	struct svc_step *s = svc_step_of(st);
	struct svc_bf_def *d = def_of(s, def);
	if (!d || refused_dry(s, "record a backfill batch"))
		return -1;
	const PGresult *res = rows->res;
	static const char *const cols[] = { "source_id", "target_table", "target_id" };
	if (PQnfields(res) != 3 || strcmp(PQfname(res, 0), cols[0]) || strcmp(PQfname(res, 1), cols[1]) ||
	    strcmp(PQfname(res, 2), cols[2])) {
		struct buf got = BUF_INIT;
		for (int i = 0; i < PQnfields(res); i++)
			buf_addf(&got, "%s%s", i ? ", " : "", PQfname(res, i));
		fail("%s:%d: the batch SQL of backfill \"%s\" returns the columns (%s)", def->file, def->sql_line,
		     def->name, buf_str(&got));
		buf_release(&got);
		return fail_hint("end it with RETURNING (or SELECT) source_id, target_table, target_id: one row per "
				 "row written");
	}
	int n = PQntuples(res);
	if (!n)
		return 0;
	struct buf ids = BUF_INIT, tabs = BUF_INIT, tids = BUF_INIT;
	struct mrow *order = xcalloc((size_t)n, sizeof *order);
	int rc = 0;
	for (int r = 0; r < n && !rc; r++) {
		const char *sid = PQgetisnull(res, r, 0) ? NULL : PQgetvalue(res, r, 0);
		const char *tt = PQgetisnull(res, r, 1) ? NULL : PQgetvalue(res, r, 1);
		const char *tid = PQgetisnull(res, r, 2) ? NULL : PQgetvalue(res, r, 2);
		int known = 0;
		for (size_t i = 0; tt && i < def->ntargets && !known; i++)
			known = !strcmp(def->targets[i], tt);
		if (!is_int(sid) || !is_int(tid) || !known) {
			fail("%s:%d: the batch SQL of backfill \"%s\" returned the row (%s, %s, %s)", def->file,
			     def->sql_line, def->name, sid ? sid : "NULL", tt ? yw_show(tt) : "NULL",
			     tid ? tid : "NULL");
			fail_detail(!known ? "target_table must be one of the backfill's targets"
					   : "source_id and target_id must be integers");
			rc = fail_hint("fix the SQL's RETURNING (or the targets list) in %s", def->file);
			break;
		}
		order[r].sid = strtoll(sid, NULL, 10);
		order[r].row = r;
	}
	if (!rc) {
		/* grouped here, by source row, so the server only parses the arrays:
		 * the target tables as their ids in padctl.backfill_tables and the
		 * ids integers, so none needs quoting inside an array literal */
		qsort(order, (size_t)n, sizeof *order, cmp_mrow);
		for (int r = 0; r < n; r++) {
			int first = !r || order[r].sid != order[r - 1].sid;
			int last = r == n - 1 || order[r].sid != order[r + 1].sid;
			const char *tt = PQgetvalue(res, order[r].row, 1), *tid = PQgetvalue(res, order[r].row, 2);
			for (size_t t = 0; t < def->ntargets; t++)
				if (!strcmp(def->targets[t], tt)) {
					tt = d->tab_ids[t];
					break;
				}
			if (first) {
				buf_addf(&ids, "%s%lld", ids.len ? "," : "", (long long)order[r].sid);
				buf_addf(&tabs, "%s\"{", tabs.len ? "," : "");
				buf_addf(&tids, "%s\"{", tids.len ? "," : "");
			}
			buf_addf(&tabs, "%s%s%s", first ? "" : ",", tt, last ? "}\"" : "");
			buf_addf(&tids, "%s%s%s", first ? "" : ",", tid, last ? "}\"" : "");
		}
		struct buf sql = BUF_INIT;
		/* one mapping row per source row (padctl.migration_mapping is their view) */
		buf_addf(&sql,
			 "INSERT INTO padctl.backfill_mapping (source, source_id, targets, target_ids) "
			 "SELECT %s, u.s, u.t::smallint[], u.i::bigint[] FROM unnest('{%s}'::bigint[], '{%s}'::text[], "
			 "'{%s}'::text[]) AS u(s, t, i)",
			 d->src_id, buf_str(&ids), buf_str(&tabs), buf_str(&tids));
		if (d->retry)
			buf_addf(&sql,
				 "; DELETE FROM padctl.backfill_failures WHERE source_table = %s AND source_id = "
				 "ANY('{%s}'::bigint[])",
				 d->src_lit, buf_str(&ids));
		rc = bf_write(s, st, def, buf_str(&sql));
		buf_release(&sql);
	}
	free(order);
	buf_release(&ids);
	buf_release(&tabs);
	buf_release(&tids);
	return rc;
}

/* recorded_error describes the step's recorded error: the server's message
 * and its own detail lines (not padctl's "on target" and "in step" lines),
 * and its SQLSTATE into sqlstate (or "") */
static void recorded_error(struct buf *why, char sqlstate[6])
{
	buf_adds(why, err_message() ? err_message() : "failed");
	const char *det = err_detail();
	const char *p = det ? strstr(det, "SQLSTATE ") : NULL;
	if (p && strspn(p + 9, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") >= 5)
		memcpy(sqlstate, p + 9, 5);
	const char *nl = det ? strchr(det, '\n') : NULL;
	for (const char *l = nl ? nl + 1 : NULL; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		if (strncmp(l, "in step ", 8) != 0)
			buf_addf(why, " (%.*s)", (int)len, l);
		l = e ? e + 1 : NULL;
	}
}

static const char *bf_error_text(struct padctl_step *st)
{
	struct svc_step *s = svc_step_of(st);
	if (!err_pending())
		return NULL;
	if (!s->backfill)
		s->backfill = xcalloc(1, sizeof *s->backfill);
	struct buf why = BUF_INIT;
	char sqlstate[6] = "";
	recorded_error(&why, sqlstate);
	if (*sqlstate)
		buf_addf(&why, " [SQLSTATE %s]", sqlstate);
	free(s->backfill->error_text);
	s->backfill->error_text = buf_detach(&why);
	return s->backfill->error_text;
}

/* record_failure is failed() and failed_as(): code, when not NULL, is the
 * SQLSTATE that goes with reason */
static int record_failure(struct padctl_step *st, const struct padctl_backfill_def *def, const char *source_id,
			  const char *code, const char *reason)
{
	struct svc_step *s = svc_step_of(st);
	struct svc_bf_def *d = def_of(s, def);
	if (!d || refused_dry(s, "record a failed source row"))
		return -1;
	if (!is_int(source_id))
		return fail("step \"%s\" recorded a failure of backfill \"%s\" for the key \"%s\", not an integer",
			    s->plugin, def->name, source_id ? yw_show(source_id) : "NULL");
	struct buf why = BUF_INIT;
	char sqlstate[6] = "";
	if (reason) {
		buf_adds(&why, reason);
		if (code && strlen(code) == 5 && strspn(code, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
			memcpy(sqlstate, code, 6);
	} else {
		if (!err_pending())
			return fail("step \"%s\" recorded a failure of backfill \"%s\" without a reason and without "
				    "an error",
				    s->plugin, def->name);
		recorded_error(&why, sqlstate);
		err_clear();
	}
	char *run = db_literal(s->db, s->run_id);
	char *msg = db_literal(s->db, buf_str(&why));
	buf_release(&why);
	if (!run || !msg) {
		free(run);
		free(msg);
		return -1;
	}
	char *sql =
		xstrfmt("INSERT INTO padctl.backfill_failures (source_table, source_id, backfill, run_id, sqlstate, "
			"error) VALUES (%s, %s, %s, %s, %s%s%s, %s) ON CONFLICT (source_table, source_id) DO UPDATE "
			"SET backfill = excluded.backfill, run_id = excluded.run_id, sqlstate = excluded.sqlstate, "
			"error = excluded.error, attempts = padctl.backfill_failures.attempts + 1, "
			"failed_at = clock_timestamp()",
			d->src_lit, source_id, d->name_lit, run, *sqlstate ? "'" : "", *sqlstate ? sqlstate : "NULL",
			*sqlstate ? "'" : "", msg);
	int rc = bf_write(s, st, def, sql);
	free(sql);
	free(run);
	free(msg);
	return rc;
}

static int bf_failed(struct padctl_step *st, const struct padctl_backfill_def *def, const char *source_id,
		     const char *reason)
{
	return record_failure(st, def, source_id, NULL, reason);
}

static int bf_failed_as(struct padctl_step *st, const struct padctl_backfill_def *def, const char *source_id,
			const char *sqlstate, const char *reason)
{
	if (!reason)
		return fail("step \"%s\" recorded a failure of backfill \"%s\" without a reason", svc_step_of(st)->plugin,
			    def->name);
	return record_failure(st, def, source_id, sqlstate, reason);
}

/* new_rows is an empty result with text columns names[0..n), for rows made here */
static PGresult *new_rows(PGconn *conn, const char *const *names, int n)
{
	PGresult *r = PQmakeEmptyPGresult(conn, PGRES_TUPLES_OK);
	PGresAttDesc a[5];
	memset(a, 0, sizeof a);
	for (int i = 0; i < n; i++) {
		a[i].name = (char *)names[i];
		a[i].typid = 25; /* text */
		a[i].typlen = -1;
		a[i].atttypmod = -1;
	}
	if (r && !PQsetResultAttrs(r, n, a)) {
		PQclear(r);
		r = NULL;
	}
	return r;
}

static int copy_value(PGresult *to, int row, int col, const PGresult *from, int frow, int fcol)
{
	if (PQgetisnull(from, frow, fcol))
		return PQsetvalue(to, row, col, NULL, -1);
	return PQsetvalue(to, row, col, PQgetvalue(from, frow, fcol), PQgetlength(from, frow, fcol));
}

/* isolate_fn makes the statement that creates pg_temp.padctl_backfill_batch:
 * the batch SQL as a PL/pgSQL function of $1, returning the SQL's own column
 * types (the server describes it), so that the server plans the batch SQL
 * once for all the parts it isolates, not once per part (a generic plan: a
 * custom plan would be made anew for every part's keys) */
static char *isolate_fn(struct svc_step *s, const struct padctl_backfill_def *def, int *plain)
{
	const Oid int8_array = 1016;
	if (db_flush(s->db))
		return NULL;
	PGresult *r = PQprepare(s->db->conn, "", def->sql, 1, &int8_array);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fail("%s", PQresultErrorMessage(r));
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	r = PQdescribePrepared(s->db->conn, "");
	if (PQresultStatus(r) != PGRES_COMMAND_OK || PQnfields(r) != 3) {
		fail("%s:%d: the batch SQL of backfill \"%s\" returns %d columns", def->file, def->sql_line, def->name,
		     PQresultStatus(r) == PGRES_COMMAND_OK ? PQnfields(r) : -1);
		fail_hint("end it with RETURNING (or SELECT) source_id, target_table, target_id: one row per row written");
		PQclear(r);
		return NULL;
	}
	char oid[3][16], mod[3][16];
	const char *params[6];
	if (plain) {
		/* run_mapped's statement takes mapped()'s columns as they are:
		 * its names, integer ids (int2, int4, int8) and a text-like
		 * target_table (text, varchar, bpchar, name); anything else goes
		 * through mapped(), which checks it row by row */
		static const char *const names[] = { "source_id", "target_table", "target_id" };
		*plain = 1;
		for (int i = 0; i < 3; i++) {
			Oid t = PQftype(r, i);
			int ok = i == 1 ? t == 25 || t == 1043 || t == 1042 || t == 19 : t == 20 || t == 21 || t == 23;
			if (!ok || strcmp(PQfname(r, i), names[i]) != 0)
				*plain = 0;
		}
	}
	for (int i = 0; i < 3; i++) {
		snprintf(oid[i], sizeof oid[i], "%u", PQftype(r, i));
		snprintf(mod[i], sizeof mod[i], "%d", PQfmod(r, i));
		params[2 * i] = oid[i];
		params[2 * i + 1] = mod[i];
	}
	PQclear(r);
	PGresult *types;
	if (db_query(s->db,
		     "SELECT format_type($1::oid, nullif($2::int, -1)), format_type($3::oid, nullif($4::int, -1)), "
		     "format_type($5::oid, nullif($6::int, -1))",
		     6, params, &types))
		return NULL;
	/* a dollar-quote tag the SQL does not hold */
	char tag[32];
	unsigned n = 0;
	do
		snprintf(tag, sizeof tag, "$padctl_batch%u$", n++);
	while (strstr(def->sql, tag));
	/* the statement alone: no trailing semicolon or comment to break the function's body */
	size_t off = 0, len = strlen(def->sql);
	PgQuerySplitResult split = pg_query_split_with_parser(def->sql);
	if (!split.error && split.n_stmts == 1) {
		off = (size_t)split.stmts[0]->stmt_location;
		if (split.stmts[0]->stmt_len > 0)
			len = (size_t)split.stmts[0]->stmt_len;
		else
			len -= off;
	}
	pg_query_free_split_result(split);
	/* dropped first: another backfill of the session (a pipeline's earlier
	 * step) may have made it with other column types, which CREATE OR
	 * REPLACE cannot change */
	char *fn = xstrfmt("DROP FUNCTION IF EXISTS pg_temp.padctl_backfill_batch(bigint[]);\n"
			   "CREATE FUNCTION pg_temp.padctl_backfill_batch(bigint[]) RETURNS TABLE "
			   "(source_id %s, target_table %s, target_id %s) LANGUAGE plpgsql "
			   "SET plan_cache_mode = force_generic_plan AS %s\n"
			   "#variable_conflict use_column\nBEGIN\nRETURN QUERY\n%.*s\n;\nEND\n%s",
			   PQgetvalue(types, 0, 0), PQgetvalue(types, 0, 1), PQgetvalue(types, 0, 2), tag, (int)len,
			   def->sql + off, tag);
	PQclear(types);
	return fn;
}

static int bf_isolate(struct padctl_step *st, const struct padctl_backfill_def *def, const char *keys, long parts,
		      struct padctl_rows **rows, struct padctl_rows **failures)
{
	struct svc_step *s = svc_step_of(st);
	struct svc_bf_def *d = def_of(s, def);
	*rows = *failures = NULL;
	if (!d)
		return -1;
	if (parts < 1 || parts > BACKFILL_BATCH_MAX)
		return fail("step \"%s\" asked to isolate backfill \"%s\" in %ld parts: ask for 1 to %d", s->plugin,
			    def->name, parts, BACKFILL_BATCH_MAX);
	if (!d->isolate_fn && !(d->isolate_fn = isolate_fn(s, def, NULL)))
		return fail_detail("%s:%d: isolating the failing rows of a batch of backfill \"%s\" on target \"%s\"",
				   def->file, def->sql_line, def->name, s->target);
	/* made in the batch's transaction: gone again with a rolled-back one */
	if (db_exec(s->db, d->isolate_fn, NULL))
		return fail_detail("%s:%d: isolating the failing rows of a batch of backfill \"%s\" on target \"%s\"",
				   def->file, def->sql_line, def->name, s->target);
	char np[32];
	snprintf(np, sizeof np, "%ld", parts);
	const char *params[] = { "SELECT * FROM pg_temp.padctl_backfill_batch($1)", keys, np };
	PGresult *res;
	if (db_query(s->db,
		     "SELECT source_id, target_table, target_id, err_state, err_text "
		     "FROM padctl.backfill_isolate($1, $2::bigint[], $3::integer)",
		     3, params, &res))
		return fail_detail("%s:%d: isolating the failing rows of a batch of backfill \"%s\" on target \"%s\"",
				   def->file, def->sql_line, def->name, s->target);
	static const char *const mcols[] = { "source_id", "target_table", "target_id" };
	static const char *const fcols[] = { "source_id", "sqlstate", "error" };
	PGresult *m = new_rows(s->db->conn, mcols, 3), *f = new_rows(s->db->conn, fcols, 3);
	int ok = m && f;
	for (int r = 0, nm = 0, nf = 0; ok && r < PQntuples(res); r++) {
		if (PQgetisnull(res, r, 3))
			ok = copy_value(m, nm, 0, res, r, 0) && copy_value(m, nm, 1, res, r, 1) &&
			     copy_value(m, nm, 2, res, r, 2) && ++nm;
		else
			ok = copy_value(f, nf, 0, res, r, 0) && copy_value(f, nf, 1, res, r, 3) &&
			     copy_value(f, nf, 2, res, r, 4) && ++nf;
	}
	PQclear(res);
	if (!ok) {
		PQclear(m);
		PQclear(f);
		return fail("out of memory");
	}
	*rows = xmalloc(sizeof **rows);
	(*rows)->res = m;
	*failures = xmalloc(sizeof **failures);
	(*failures)->res = f;
	return 0;
}

/* prepare_run_mapped makes run_mapped's statement and the session's
 * pg_temp.padctl_backfill_batch (the batch SQL as a function, as isolate
 * uses it), made here, outside a batch's transaction, so that it stays for
 * the whole run and the server plans the batch SQL once for all batches.
 * When the SQL cannot be described, its columns are not mapped()'s plain
 * ones, or the function cannot be made, run_sql stays NULL: the plugin then
 * runs each batch with sql_query and mapped(), which report what is wrong
 * as they always did. */
static void prepare_run_mapped(struct svc_step *s, struct svc_bf_def *d)
{
	const struct padctl_backfill_def *def = &d->def;
	struct err_scope scope;
	err_scope_push(&scope);
	int plain = 0;
	char *fn = isolate_fn(s, def, &plain);
	if (!fn || !plain || db_exec(s->db, fn, NULL)) {
		free(fn);
		err_scope_pop(&scope, ERR_DISCARD);
		return;
	}
	err_scope_pop(&scope, ERR_DISCARD);
	free(d->isolate_fn);
	d->isolate_fn = fn;
	/* each target table's id by its name; a name that is not a target
	 * fails the statement with a data error (SQLSTATE 22P02), so that the
	 * plugin isolates the batch and mapped() reports the row as always */
	struct buf cases = BUF_INIT;
	for (size_t i = 0; i < def->ntargets; i++) {
		char *t = db_literal(s->db, def->targets[i]);
		if (!t) {
			buf_release(&cases);
			return;
		}
		buf_addf(&cases, " WHEN %s THEN %s::smallint", t, d->tab_ids[i]);
		free(t);
	}
	/* b: the batch's rows (materialized: read twice); m: one mapping row
	 * per source row, grouped here, each saying whether it holds no NULL;
	 * then per target table its rows written, and each key that wrote
	 * nothing ("missing"), each source_id outside the batch ("foreign")
	 * and each row with a NULL ("null"), which the service turns into
	 * mapped()'s errors (the plugin then rolls the batch back). Measured
	 * leaner than checking the rows before the insert: the contract is
	 * checked on the 5,000 grouped rows, not the 22,000 rows of a batch of
	 * the reference backfill (bench/README.md, backfill). The mapping rows
	 * go in in key order, so that its primary key grows at its right edge
	 * as the batches do (in hash order its pages split in the middle: 67%
	 * full, and 9% more of the mapping's log). */
	struct buf q = BUF_INIT;
	buf_addf(&q,
		 "WITH b AS (SELECT * FROM pg_temp.padctl_backfill_batch($1::bigint[])),\n"
		 "m AS (INSERT INTO padctl.backfill_mapping (source, source_id, targets, target_ids)\n"
		 "  SELECT %s, b.source_id, array_agg(CASE b.target_table::text%s\n"
		 "    ELSE ('not a target table of the backfill: ' || b.target_table)::smallint END),\n"
		 "    array_agg(b.target_id::bigint) FROM b GROUP BY b.source_id ORDER BY b.source_id\n"
		 "  RETURNING source_id, array_position(targets, NULL) IS NULL AND array_position(target_ids, NULL) IS NULL "
		 "AS ok)",
		 d->src_id, buf_str(&cases));
	if (d->retry)
		buf_addf(&q,
			 ",\nf AS (DELETE FROM padctl.backfill_failures x USING m WHERE x.source_table = %s "
			 "AND x.source_id = m.source_id)",
			 d->src_lit);
	buf_adds(&q, "\nSELECT 'target', b.target_table::text, count(*)::text FROM b GROUP BY b.target_table\n"
		     "UNION ALL SELECT CASE WHEN m.source_id IS NULL THEN 'missing' WHEN k.k IS NULL THEN 'foreign' "
		     "ELSE 'null' END, coalesce(k.k, m.source_id)::text, NULL\n"
		     "  FROM unnest($1::bigint[]) AS k(k) FULL JOIN m ON m.source_id = k.k\n"
		     "  WHERE m.source_id IS NULL OR k.k IS NULL OR NOT m.ok");
	buf_release(&cases);
	free(d->run_sql);
	d->run_sql = buf_detach(&q);
}

static int bf_run_mapped(struct padctl_step *st, const struct padctl_backfill_def *def, const char *keys,
			 struct padctl_rows **summary)
{
	struct svc_step *s = svc_step_of(st);
	struct svc_bf_def *d = def_of(s, def);
	*summary = NULL;
	if (!d || refused_dry(s, "record a backfill batch"))
		return -1;
	if (!d->run_sql)
		return 1;
	const char *params[] = { keys };
	PGresult *res;
	if (db_query(s->db, d->run_sql, 1, params, &res))
		return fail_detail("%s:%d: the batch SQL of backfill \"%s\" on target \"%s\"", def->file, def->sql_line,
				   def->name, s->target);
	static const char *const cols[] = { "kind", "value", "n" };
	PGresult *out = new_rows(s->db->conn, cols, 3);
	int ok = out != NULL, rc = 0;
	for (int r = 0, n = 0; ok && !rc && r < PQntuples(res); r++) {
		const char *kind = PQgetvalue(res, r, 0), *v = PQgetvalue(res, r, 1);
		if (!strcmp(kind, "foreign")) {
			rc = fail("%s:%d: the batch SQL of backfill \"%s\" returned source_id %s, which is not a key of its "
				  "batch",
				  def->file, def->sql_line, def->name, v);
			fail_hint("return only the keys of the batch ($1) as source_id");
		} else if (!strcmp(kind, "null")) {
			fail("%s:%d: the batch SQL of backfill \"%s\" returned a NULL target_table or target_id for "
			     "source_id %s",
			     def->file, def->sql_line, def->name, v);
			fail_detail("source_id and target_id must be integers");
			rc = fail_hint("fix the SQL's RETURNING (or the targets list) in %s", def->file);
		} else {
			ok = copy_value(out, n, 0, res, r, 0) && copy_value(out, n, 1, res, r, 1) &&
			     copy_value(out, n, 2, res, r, 2) && ++n;
		}
	}
	PQclear(res);
	if (rc || !ok) {
		PQclear(out);
		return rc ? rc : fail("out of memory");
	}
	*summary = xmalloc(sizeof **summary);
	(*summary)->res = out;
	return 0;
}

static int bf_counts(struct padctl_step *st, const struct padctl_backfill_def *def, uint64_t done, uint64_t failed,
		     uint64_t written, uint64_t batches, int finished)
{
	struct svc_step *s = svc_step_of(st);
	struct svc_bf_def *d = def_of(s, def);
	if (!d || refused_dry(s, "record a backfill's counts"))
		return -1;
	if (!d->started)
		return fail("step \"%s\" recorded the counts of backfill \"%s\" before start", s->plugin, def->name);
	char *run = db_literal(s->db, s->run_id);
	if (!run)
		return -1;
	char *sql =
		xstrfmt("UPDATE padctl.backfill_runs SET rows_done = %llu, rows_failed = %llu, rows_written = %llu, "
			"batches = %llu%s WHERE run_id = %s AND backfill = %s",
			(unsigned long long)done, (unsigned long long)failed, (unsigned long long)written,
			(unsigned long long)batches, finished ? ", finished_at = clock_timestamp()" : "", run,
			d->name_lit);
	int rc = bf_write(s, st, def, sql);
	free(sql);
	free(run);
	return rc;
}

const struct padctl_backfill_v1 svc_backfill_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_backfill_v1),
	.load = bf_load,
	.start = bf_start,
	.next_keys = bf_next_keys,
	.mapped = bf_mapped,
	.failed = bf_failed,
	.counts = bf_counts,
	.error_text = bf_error_text,
	.isolate = bf_isolate,
	.failed_as = bf_failed_as,
	.run_mapped = bf_run_mapped,
};

void svc_backfill_end(struct svc_step *s)
{
	if (!s->backfill)
		return;
	for (size_t i = 0; i < s->backfill->ndefs; i++) {
		struct svc_bf_def *d = s->backfill->defs[i];
		config_backfill_release(&d->cfg);
		free(d->checks);
		free(d->src_lit);
		free(d->src_id);
		for (size_t t = 0; t < d->def.ntargets; t++)
			free(d->tab_ids[t]);
		free(d->tab_ids);
		free(d->name_lit);
		free(d->keyset);
		free(d->isolate_fn);
		free(d->run_sql);
		free(d);
	}
	free(s->backfill->defs);
	free(s->backfill->error_text);
	free(s->backfill);
	s->backfill = NULL;
}

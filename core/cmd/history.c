#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfstatus.h"
#include "buf.h"
#include "cmd.h"
#include "db.h"
#include "identity.h"
#include "ledger.h"
#include "log.h"
#include "pipeline.h"
#include "target.h"

/* runs_sql takes the repairs column's expression: padctl.repairs exists from
 * ledger version 2 on, and history never upgrades a ledger (it only reads). */
#define RUNS_SQL(repairs, rollbacks) \
	"SELECT r.id, r.command, r.status, to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"round(extract(epoch FROM (r.finished_at - r.started_at)) * 1000)::bigint, r.run_by, r.pipeline, r.error, " \
	"(SELECT count(*) FROM padctl.migrations m WHERE m.run_id = r.id AND m.status = 'applied'), " \
	"(SELECT string_agg(s.step || coalesce(' ' || s.phase, '') || '=' || s.status, ', ' ORDER BY s.seq) " \
	" FROM padctl.run_steps s WHERE s.run_id = r.id), " repairs ", " rollbacks " " \
	"FROM padctl.runs r ORDER BY r.started_at DESC, r.id DESC LIMIT $1"

#define REPAIRS_SQL \
	"(SELECT json_agg(json_build_object('version', x.version, 'old_checksum', x.old_checksum, 'new_checksum', " \
	"x.new_checksum, 'reason', x.reason, 'repaired_by', x.repaired_by) ORDER BY x.version)::text " \
	"FROM padctl.repairs x WHERE x.run_id = r.id)"
/* a rollback run: the run it undid and each migration with its strategy; an
 * undone run: the rollback runs that undid its migrations */
#define ROLLBACKS_SQL \
	"r.rollback_of, (SELECT string_agg(x.version || ' (' || coalesce(x.strategy, '?') || ')', ', ' " \
	"ORDER BY x.rolled_back_at, x.version DESC) FROM padctl.rollbacks x WHERE x.run_id = r.id), " \
	"(SELECT string_agg(DISTINCT x.run_id, ', ') FROM padctl.rollbacks x WHERE x.undone_run = r.id)"
#define NO_ROLLBACKS_SQL "NULL::text, NULL::text, NULL::text"
static const char runs_sql[] = RUNS_SQL(REPAIRS_SQL, ROLLBACKS_SQL);
static const char runs_sql_v2[] = RUNS_SQL(REPAIRS_SQL, NO_ROLLBACKS_SQL);
static const char runs_sql_v1[] = RUNS_SQL("NULL::text", NO_ROLLBACKS_SQL);

/* print_repairs prints a run's accepted checksums (a JSON array from runs_sql). */
static void print_repairs(const char *text)
{
	json_t *a = json_loads(text, 0, NULL);
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x) {
		/* who and why are free text: escaped like every other ledger field */
		char *by = xstrprintable(json_string_value(json_object_get(x, "repaired_by")));
		char *why = xstrprintable(json_string_value(json_object_get(x, "reason")));
		printf("      repaired %s: checksum %.12s... -> %.12s... by %s: %s\n",
		       json_string_value(json_object_get(x, "version")),
		       json_string_value(json_object_get(x, "old_checksum")),
		       json_string_value(json_object_get(x, "new_checksum")), by, why);
		free(by);
		free(why);
	}
	json_decref(a);
}

/* print_backfills prints the counts of a run's backfills (padctl backfill, or a backfill step) */
static int print_backfills(struct db *db, const char *run_id)
{
	const char *p[] = { run_id };
	PGresult *res = NULL;
	if (db_query(db, bf_history_sql, 1, p, &res))
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		char *name = xstrprintable(PQgetvalue(res, r, 0));
		printf("      backfill %s: done %s, failed %s, target rows %s, batches %s%s%s\n", name,
		       PQgetvalue(res, r, 3), PQgetvalue(res, r, 4), PQgetvalue(res, r, 5), PQgetvalue(res, r, 6),
		       !strcmp(PQgetvalue(res, r, 1), "t") ? " (dry run: rolled back)" : "",
		       !strcmp(PQgetvalue(res, r, 2), "t") ? " (retry of recorded failures)" : "");
		free(name);
	}
	PQclear(res);
	return 0;
}

static int target_history(const struct cfg_project *p, const char *env, const struct cfg_target *t, const char *limit,
			  json_t *arr)
{
	struct db *db = NULL;
	if (target_connect(p, t, "history", NULL, 1, &db))
		return -1;
	/* another server's runs must not be shown as this target's (known_targets) */
	if (identity_check(p, env, t, db, 0)) {
		db_close(db);
		return -1;
	}
	int exists = 0;
	int rc = ledger_exists(db, &exists);
	PGresult *res = NULL;
	int have_repairs = 0, have_rollbacks = 0;
	if (!rc && exists) {
		char *v = NULL;
		rc = db_query_value(db,
				    "SELECT (to_regclass('padctl.repairs') IS NOT NULL)::text || (EXISTS (SELECT 1 FROM "
				    "pg_attribute WHERE attrelid = 'padctl.runs'::regclass AND attname = 'rollback_of' "
				    "AND NOT attisdropped))::text",
				    0, NULL, &v);
		have_repairs = v && strncmp(v, "true", 4) == 0;
		have_rollbacks = v && strlen(v) > 4 && strcmp(v + strlen(v) - 4, "true") == 0;
		free(v);
	}
	int have_backfills = 0;
	if (!rc && exists)
		rc = bf_have_tables(db, &have_backfills);
	if (!rc && exists) {
		const char *params[] = { limit };
		rc = db_query(db, have_rollbacks ? runs_sql : have_repairs ? runs_sql_v2 : runs_sql_v1, 1, params, &res);
	}
	if (!rc && !arr)
		printf("target %s:%s\n", t->name, exists && PQntuples(res) ? "" : " no runs recorded");
	for (int i = 0; !rc && res && i < PQntuples(res); i++) {
		const char *dur = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
		if (arr) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", PQgetvalue(res, i, 0), "command",
					      PQgetvalue(res, i, 1), "status", PQgetvalue(res, i, 2), "started_at",
					      PQgetvalue(res, i, 3), "run_by", PQgetvalue(res, i, 5), "migrations_applied",
					      (json_int_t)strtoll(PQgetvalue(res, i, 8), NULL, 10));
			json_object_set_new(o, "target", json_string(t->name));
			json_object_set_new(o, "duration_ms", dur ? json_integer(strtoll(dur, NULL, 10)) : json_null());
			json_object_set_new(o, "pipeline", PQgetisnull(res, i, 6) ? json_null()
										 : json_string(PQgetvalue(res, i, 6)));
			json_object_set_new(o, "error", PQgetisnull(res, i, 7) ? json_null()
									      : json_string(PQgetvalue(res, i, 7)));
			json_object_set_new(o, "steps", PQgetisnull(res, i, 9) ? json_null()
									      : json_string(PQgetvalue(res, i, 9)));
			if (!PQgetisnull(res, i, 10))
				json_object_set_new(o, "repairs", json_loads(PQgetvalue(res, i, 10), 0, NULL));
			if (!PQgetisnull(res, i, 11))
				json_object_set_new(o, "rollback_of", json_string(PQgetvalue(res, i, 11)));
			if (!PQgetisnull(res, i, 12))
				json_object_set_new(o, "rolled_back", json_string(PQgetvalue(res, i, 12)));
			if (!PQgetisnull(res, i, 13))
				json_object_set_new(o, "rolled_back_by", json_string(PQgetvalue(res, i, 13)));
			json_array_append_new(arr, o);
			continue;
		}
		/* the ledger's text is escaped (buf_add_printable): a recorded name or error cannot forge a line */
		char *f[10];
		for (int c = 0; c < 10; c++)
			f[c] = xstrprintable(PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c));
		printf("  %s  %-8s %-11s %s  %6s ms  %s  migrations applied: %s\n", f[0], f[1], f[2], f[3],
		       dur ? f[4] : "-", f[5], f[8]);
		if (!PQgetisnull(res, i, 9))
			printf("      steps: %s\n", f[9]);
		if (!PQgetisnull(res, i, 10))
			print_repairs(PQgetvalue(res, i, 10));
		if (!PQgetisnull(res, i, 11)) {
			char *of = xstrprintable(PQgetvalue(res, i, 11));
			char *what = xstrprintable(PQgetisnull(res, i, 12) ? "nothing" : PQgetvalue(res, i, 12));
			printf("      rollback of run %s: rolled back %s\n", of, what);
			free(of);
			free(what);
		}
		if (!PQgetisnull(res, i, 13)) {
			char *by = xstrprintable(PQgetvalue(res, i, 13));
			printf("      rolled back by run %s\n", by);
			free(by);
		}
		if (have_backfills && print_backfills(db, PQgetvalue(res, i, 0)))
			rc = -1;
		if (!PQgetisnull(res, i, 7))
			printf("      error: %s\n", f[7]);
		for (int c = 0; c < 10; c++)
			free(f[c]);
	}
	PQclear(res);
	db_close(db);
	return rc;
}

int cmd_history(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *target = NULL, *limit = "20";
	const struct cmd_opt opts[] = {
		{ "target", 1, NULL, &target },
		{ "limit", 1, NULL, &limit },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--target T] [--limit N]"))
		return -1;
	char *end;
	long lim = strtol(limit, &end, 10);
	if (*end || lim < 1 || lim > 100000) {
		fail("option \"--limit\" takes a number from 1 to 100000, not \"%s\"", limit);
		return fail_status(EXIT_USAGE);
	}
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	const struct cfg_target **targets = NULL;
	size_t n = 0;
	int rc = pipeline_targets(&env, NULL, target, &targets, &n);
	json_t *arr = ctx->json ? json_array() : NULL;
	for (size_t i = 0; !rc && i < n; i++)
		rc = target_history(p, env.name, targets[i], limit, arr);
	if (!rc && !arr && !target)
		rc = history_plans(p, &env, lim, NULL);
	if (!rc && arr) {
		json_t *doc = json_pack("{s:s, s:O}", "env", env.name, "runs", arr);
		if (!target)
			rc = history_plans(p, &env, lim, doc);
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
		json_decref(doc);
	}
	json_decref(arr);
	free(targets);
	cmd_env_release(&env, NULL);
	return rc;
}

/* rollback: undoes migrations the host hands over (migration_at: those a
 * failed run applied, or those `padctl rollback` chose), with one of two
 * strategies named by the step's phase:
 *
 *   down     newest first, each migration's down.sql in a transaction of its
 *            own together with marking its history row rolled_back (the
 *            ledger service's migration_rolled_back); a migration that is not
 *            transactional has its down.sql run statement by statement, as its
 *            up.sql was, and is marked afterwards. A missing or empty down.sql,
 *            or one that fails, stops the strategy: the host may then hand over
 *            to restore.
 *   restore  the owned schemas from a verified backup (see restore_run).
 *
 * The host never calls this as a pipeline step: it runs it after a failed
 * step (on_failure: rollback) and for `padctl rollback`. */
#include <padctl/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const phases[] = { "down", "restore", NULL };

/* blank tells whether sql holds nothing but white space and comments (the
 * down.sql `padctl new` writes is one comment): running it would undo nothing */
static int blank(const char *s)
{
	while (*s) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f') {
			s++;
		} else if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			const char *e = strstr(s + 2, "*/");
			if (!e)
				return 0;
			s = e + 2;
		} else {
			return 0;
		}
	}
	return 1;
}

/* down_one runs m's down.sql, sql (as read_downs read it; NULL: m has none) */
static int down_one(const struct padctl_host *h, struct padctl_step *st, const struct padctl_ledger_v1 *led,
		    const struct padctl_migration *m, const char *label, const char *sql)
{
	if (!sql)
		return h->fail(st, "write its down.sql, or let restore bring the owned schemas back from the backup",
			       "migration %s has no down.sql%s", label,
			       m->dir ? "" : " (its migration directory is gone from the project)");
	if (blank(sql))
		return h->fail(st, "write the statements that undo up.sql into down.sql",
			       "%s holds no statement (only comments or white space)", m->down_path);
	int rc;
	if (m->transactional) {
		rc = h->tx_begin(st) || h->sql_exec(st, sql, m->down_path) ||
		     led->migration_rolled_back(st, m->version) || h->tx_commit(st);
		if (rc)
			h->tx_rollback(st);
	} else {
		/* as up.sql ran: statement by statement, each committed on its own;
		 * the record follows, so a stop in between leaves the migration
		 * recorded as applied and a second rollback runs down.sql again */
		rc = h->sql_exec(st, sql, m->down_path) || led->migration_rolled_back(st, m->version);
	}
	if (rc)
		return h->fail(st,
			       m->transactional
				       ? "down.sql was rolled back with its record: fix it and roll back again"
				       : "statements before the failing one stayed applied (transactional: false): "
					 "make down.sql idempotent (IF EXISTS) and roll back again",
			       "the down.sql of migration %s failed", label);
	return 0;
}

/* read_downs reads every down.sql the step would run into sqls (by
 * migration_at's index; NULL for a migration without one) and has lint
 * read each for writes to and changes of the protected schemas (the "lint"
 * service), before any runs: a down.sql is part of its migration, and a
 * rollback stopped half-way by the runtime's refusal would leave the target
 * between two states. What runs is what lint read. */
static int read_downs(const struct padctl_host *h, struct padctl_step *st, size_t n, char **sqls)
{
	const struct padctl_lint_v1 *lint = h->service(st, "lint", PADCTL_LINT_V1);
	if (!lint)
		return h->fail(st, "upgrade padctl", "this padctl offers no lint service (version 1)");
	int rc = 0;
	for (size_t k = 0; k < n && !rc; k++) {
		const struct padctl_migration *m = h->migration_at(st, k);
		if (!m->down_path)
			continue; /* down_one says so, in its turn */
		if (h->read_file(st, m->down_path, &sqls[k]))
			return h->fail(st, NULL, "could not read the down.sql of migration %s_%s", m->version, m->name);
		rc = lint->protected_sql(st, m->down_path, sqls[k], strlen(sqls[k]));
	}
	return rc;
}

static int down_run(const struct padctl_host *h, struct padctl_step *st)
{
	size_t n = h->migration_count(st);
	if (n == 0) {
		h->log(st, PADCTL_LOG_INFO, "nothing to roll back");
		return 0;
	}
	const struct padctl_ledger_v1 *led = h->service(st, "ledger", PADCTL_LEDGER_V1);
	if (!led)
		return h->fail(st, "upgrade padctl", "this padctl offers no ledger service (version 1)");
	char **sqls = calloc(n, sizeof *sqls);
	if (!sqls)
		return h->fail(st, NULL, "out of memory reading the down.sql files");
	int rc = read_downs(h, st, n, sqls);
	for (size_t k = 0; !rc && k < n; k++) {
		/* newest first: the host hands them over in the order they were applied */
		const struct padctl_migration *m = h->migration_at(st, n - 1 - k);
		char label[200];
		snprintf(label, sizeof label, "%s_%s", m->version, m->name);
		if (h->cancelled(st)) {
			rc = h->fail(st, "run `padctl rollback` again to finish", "stopped before rolling back %s",
				     label);
			break;
		}
		h->progress(st, k, n, label);
		rc = down_one(h, st, led, m, label, sqls[n - 1 - k]);
		if (!rc)
			h->log(st, PADCTL_LOG_INFO, "[%zu/%zu] rolled back %s by its down.sql", k + 1, n, label);
	}
	for (size_t k = 0; k < n; k++)
		h->free_text(sqls[k]);
	free(sqls);
	if (!rc)
		h->progress(st, n, n, "done");
	return rc;
}

/* ---- restore */

/* quoted appends the identifier name in double quotes to buf (cap bytes) */
static int quoted(char *buf, size_t cap, const char *name)
{
	size_t n = 0;
	if (cap < 3)
		return -1;
	buf[n++] = '"';
	for (const char *p = name; *p; p++) {
		if (n + 4 >= cap)
			return -1;
		if (*p == '"')
			buf[n++] = '"';
		buf[n++] = *p;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return 0;
}

/* The owned schemas the restore replaces: each is renamed aside before
 * pg_restore runs (so objects made after the backup go too, and nothing of
 * the old state is lost should pg_restore fail), and dropped once the
 * restore committed. */
struct schema {
	const char *name;
	char id[140]; /* "name" */
	char old_id[140]; /* "name_padctl_old" */
	char old[80]; /* name_padctl_old, unquoted */
};

static int exists(const struct padctl_host *h, struct padctl_step *st, const char *name, int *yes)
{
	struct padctl_rows *r = NULL;
	const char *p[] = { name };
	if (h->sql_query(st, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", 1, p, &r))
		return -1;
	const char *v = h->rows_value(r, 0, 0);
	*yes = v && strcmp(v, "0") != 0;
	h->rows_free(r);
	return 0;
}

/* in_tx runs sql in a transaction of its own */
static int in_tx(const struct padctl_host *h, struct padctl_step *st, const char *sql)
{
	if (h->tx_begin(st) || h->sql_exec(st, sql, NULL) || h->tx_commit(st)) {
		h->tx_rollback(st);
		return -1;
	}
	return 0;
}

/* recover puts back what a restore stopped half-way (killed) left: a schema
 * set aside with the new one missing is renamed back (pg_restore never
 * committed); with the new one there, the old one is what the restore
 * replaced and goes when this restore commits. */
static int recover(const struct padctl_host *h, struct padctl_step *st, struct schema *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int old = 0, cur = 0;
		if (exists(h, st, v[i].old, &old) || exists(h, st, v[i].name, &cur))
			return -1;
		if (!old)
			continue;
		char sql[400];
		if (!cur) {
			h->log(st, PADCTL_LOG_WARN,
			       "schema %s was set aside by a restore that did not finish: renaming it "
			       "back to %s",
			       v[i].old, v[i].name);
			snprintf(sql, sizeof sql, "ALTER SCHEMA %s RENAME TO %s", v[i].old_id, v[i].id);
		} else {
			h->log(st, PADCTL_LOG_WARN, "schema %s is left from a restore that did not finish: dropping it",
			       v[i].old);
			snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", v[i].old_id);
		}
		if (in_tx(h, st, sql))
			return -1;
	}
	return 0;
}

/* dependents refuses a restore that would drop objects outside the owned
 * schemas (a view or a foreign key of a protected schema on an owned table) */
static int dependents(const struct padctl_host *h, struct padctl_step *st, const char *owned_array)
{
	static const char sql[] =
		"WITH owned AS (SELECT oid FROM pg_namespace WHERE nspname = ANY ($1::text[])) "
		"SELECT DISTINCT pg_describe_object(d.classid, d.objid, 0) FROM pg_depend d "
		"JOIN pg_class rc ON d.refclassid = 'pg_class'::regclass AND rc.oid = d.refobjid "
		"AND rc.relnamespace IN (SELECT oid FROM owned) "
		"LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid "
		"LEFT JOIN pg_class vc ON vc.oid = rw.ev_class "
		"LEFT JOIN pg_constraint co ON d.classid = 'pg_constraint'::regclass AND co.oid = d.objid "
		"LEFT JOIN pg_class cc ON cc.oid = co.conrelid "
		"LEFT JOIN pg_class tc ON d.classid = 'pg_class'::regclass AND tc.oid = d.objid "
		"LEFT JOIN pg_proc pc ON d.classid = 'pg_proc'::regclass AND pc.oid = d.objid "
		"JOIN pg_namespace dn ON dn.oid = coalesce(vc.relnamespace, cc.relnamespace, tc.relnamespace, "
		"pc.pronamespace) "
		"WHERE d.deptype = 'n' AND dn.oid NOT IN (SELECT oid FROM owned) "
		"AND dn.nspname NOT LIKE 'pg\\_%' AND dn.nspname <> 'information_schema' ORDER BY 1";
	struct padctl_rows *r = NULL;
	const char *p[] = { owned_array };
	if (h->sql_query(st, sql, 1, p, &r))
		return -1;
	int n = h->rows_count(r);
	for (int i = 0; i < n; i++)
		h->fail(st, NULL, "%s depends on an owned schema's object", h->rows_value(r, i, 0));
	h->rows_free(r);
	if (n)
		return h->fail(st, "drop or move those objects first, or undo the migrations by hand",
			       "restore refused: it would drop %d object%s outside the owned schemas", n,
			       n == 1 ? "" : "s");
	return 0;
}

/* after_backup lists the migrations still applied by the backup's run or any
 * later run, newest first: what the restore undoes. Each must be one the host
 * handed over, else the restore would undo more than asked. */
static int after_backup(const struct padctl_host *h, struct padctl_step *st, const char *run, struct padctl_rows **rows)
{
	const char *p[] = { run };
	if (h->sql_query(st,
			 "SELECT m.version, m.name FROM padctl.migrations m JOIN padctl.runs r ON r.id = m.run_id "
			 "WHERE m.status = 'applied' AND (r.started_at, r.id) >= "
			 "(SELECT started_at, id FROM padctl.runs WHERE id = $1) ORDER BY m.version DESC",
			 1, p, rows))
		return -1;
	int bad = 0;
	size_t n = h->migration_count(st);
	for (int i = 0; i < h->rows_count(*rows); i++) {
		int handed = 0;
		for (size_t k = 0; k < n && !handed; k++)
			handed = strcmp(h->migration_at(st, k)->version, h->rows_value(*rows, i, 0)) == 0;
		if (!handed)
			bad = h->fail(st, NULL, "migration %s_%s was applied after that backup and is not to be undone",
				      h->rows_value(*rows, i, 0), h->rows_value(*rows, i, 1));
	}
	if (bad) {
		h->rows_free(*rows);
		*rows = NULL;
		return h->fail(st, "roll back to a version before the backup's run, or without --restore",
			       "restore refused: the backup of run %s predates migrations that are to stay", run);
	}
	return 0;
}

static int restore_run(const struct padctl_host *h, struct padctl_step *st)
{
	const char *run = h->config(st, "rollback.run");
	const struct padctl_backups_v1 *bk = h->service(st, "backups", PADCTL_BACKUPS_V1);
	const struct padctl_tools_v1 *tools = h->service(st, "tools", PADCTL_TOOLS_V1);
	const struct padctl_ledger_v1 *led = h->service(st, "ledger", PADCTL_LEDGER_V1);
	if (!bk || !tools || !led)
		return h->fail(st, "upgrade padctl", "this padctl offers no backups, tools or ledger service");
	if (!run)
		return h->fail(st, NULL, "restore does not know which run's backup to restore");
	size_t n = 0;
	const char *const *owned = h->config_list(st, "schemas.owned", &n);
	if (!owned || n == 0)
		return h->fail(st, "list the schemas padctl owns in padctl.yml (schemas.owned)",
			       "restore needs owned schemas, and padctl.yml names none");
	struct padctl_rows *found = NULL;
	if (bk->find(st, run, &found))
		return -1;
	if (h->rows_count(found) == 0) {
		h->rows_free(found);
		return h->fail(st, "add a backup step before migrate to the pipeline, so a failed run can be restored",
			       "run %s took no backup on this target: there is nothing to restore", run);
	}
	char taken[64];
	snprintf(taken, sizeof taken, "%s", h->rows_value(found, 0, 8) ? h->rows_value(found, 0, 8) : "?");
	h->rows_free(found);
	/* the file first: a changed, missing or unverified one is refused before anything changes */
	const char *path = NULL;
	if (bk->verify(st, run, &path))
		return h->fail(st, "nothing was changed; restore another way, or undo the migrations by hand",
			       "the backup of run %s cannot be used", run);
	struct schema *v = calloc(n, sizeof *v);
	char *arr = malloc(n * 140 + 3);
	struct padctl_rows *undo = NULL;
	int rc = 0;
	if (!v || !arr) {
		free(v);
		free(arr);
		return h->fail(st, NULL, "out of memory");
	}
	size_t alen = 0;
	arr[alen++] = '{';
	for (size_t i = 0; i < n && !rc; i++) {
		v[i].name = owned[i];
		snprintf(v[i].old, sizeof v[i].old, "%.50s_padctl_old", owned[i]);
		if (quoted(v[i].id, sizeof v[i].id, owned[i]) || quoted(v[i].old_id, sizeof v[i].old_id, v[i].old))
			rc = h->fail(st, NULL, "owned schema name \"%s\" is too long", owned[i]);
		else
			alen += (size_t)snprintf(arr + alen, 140 + 3, "%s%s", i ? "," : "", v[i].id);
	}
	arr[alen++] = '}';
	arr[alen] = '\0';
	if (!rc)
		rc = recover(h, st, v, n);
	if (!rc)
		rc = dependents(h, st, arr);
	if (!rc)
		rc = after_backup(h, st, run, &undo);
	if (!rc) {
		h->log(st, PADCTL_LOG_WARN,
		       "restoring the owned schemas from the backup of run %s taken %s: data written to them after "
		       "that backup is lost",
		       run, taken);
		/* set the current schemas aside: pg_restore makes them anew */
		char sql[400];
		for (size_t i = 0; i < n && !rc; i++) {
			int there = 0;
			rc = exists(h, st, v[i].name, &there);
			snprintf(sql, sizeof sql, "ALTER SCHEMA %s RENAME TO %s", v[i].id, v[i].old_id);
			if (!rc && there)
				rc = in_tx(h, st, sql);
		}
	}
	if (!rc && path) {
		const char *const args[] = { "--single-transaction", "--exit-on-error", path, NULL };
		h->progress(st, 0, 0, "pg_restore");
		if (tools->run(st, "pg_restore", args, 0, NULL, NULL)) {
			/* pg_restore rolled back: the set-aside schemas are the target's again */
			h->log(st, PADCTL_LOG_WARN, "pg_restore failed: putting the owned schemas back as they were");
			if (recover(h, st, v, n))
				h->log(st, PADCTL_LOG_ERROR,
				       "could not rename the owned schemas back: run `padctl "
				       "rollback` again to finish");
			rc = -1;
		}
	}
	if (!rc) {
		/* the old schemas and the history in one transaction */
		rc = h->tx_begin(st);
		/* one line per object dropped with the old schemas says nothing the user needs */
		if (!rc)
			rc = h->sql_exec(st, "SET LOCAL client_min_messages = warning", NULL);
		char sql[400];
		for (size_t i = 0; i < n && !rc; i++) {
			snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", v[i].old_id);
			rc = h->sql_exec(st, sql, NULL);
		}
		for (int i = 0; undo && i < h->rows_count(undo) && !rc; i++)
			rc = led->migration_rolled_back(st, h->rows_value(undo, i, 0));
		if (!rc)
			rc = h->tx_commit(st);
		if (rc) {
			h->tx_rollback(st);
			h->fail(st, "run `padctl rollback` again to finish", "could not drop the set-aside schemas");
		}
	}
	if (!rc) {
		for (int i = 0; undo && i < h->rows_count(undo); i++)
			h->log(st, PADCTL_LOG_INFO, "rolled back %s_%s by the restore", h->rows_value(undo, i, 0),
			       h->rows_value(undo, i, 1));
		h->log(st, PADCTL_LOG_INFO, "restored the owned schemas from the backup of run %s", run);
	}
	h->rows_free(undo);
	free(arr);
	free(v);
	return rc;
}

static int rollback_run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const char *phase = h->phase(st);
	if (phase && strcmp(phase, "down") == 0)
		return down_run(h, st);
	if (phase && strcmp(phase, "restore") == 0)
		return restore_run(h, st);
	return h->fail(st,
		       "padctl runs rollback by itself after a failed step (on_failure: rollback) and for "
		       "`padctl rollback`: remove it from the pipeline",
		       "rollback needs a strategy (down or restore), not phase \"%s\"", phase ? phase : "(none)");
}

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "rollback",
	.version = "1.0.0",
	.kind = PADCTL_KIND_ROLLBACK,
	.summary = "undo migrations: down (each down.sql with its history row) or restore (from the run's backup)",
	.options = NULL,
	.phases = phases,
	.run = rollback_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

/* validate: checks a target before (preflight) and after (postflight) the
 * migrate step. Preflight: the server answers, its version is supported, the
 * user may use and create in every owned schema, and the contracts hold.
 * Postflight: verify.sql of each migration this run applied, and the
 * contracts again. Every finding is listed at once. */
#include <padctl/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SERVER_VERSION 120000

struct findings {
	char text[32768];
	size_t len;
	int n;
};

static void note(struct findings *f, const char *fmt, ...) PADCTL_PRINTF(2, 3);

static void note(struct findings *f, const char *fmt, ...)
{
	va_list ap;
	f->n++;
	if (f->len + 8 >= sizeof f->text)
		return;
	f->len += (size_t)snprintf(f->text + f->len, sizeof f->text - f->len, "%s- ", f->len ? "\n" : "");
	if (f->len >= sizeof f->text)
		f->len = sizeof f->text - 1;
	va_start(ap, fmt);
	int w = vsnprintf(f->text + f->len, sizeof f->text - f->len, fmt, ap);
	va_end(ap);
	if (w > 0)
		f->len += (size_t)w;
	if (f->len >= sizeof f->text)
		f->len = sizeof f->text - 1;
}

static void contract_note(void *ctx, const char *file, int line, int col, const char *text)
{
	note(ctx, "%s:%d:%d: %s", file, line, col, text);
}

/* contracts checks the project's contracts (docs/contracts.md) through the
 * host's "contracts" service, adding each finding to f */
static int contracts(const struct padctl_host *h, struct padctl_step *st, struct findings *f)
{
	const struct padctl_contracts_v1 *svc =
		PADCTL_HOST_HAS(h, service) ? h->service(st, "contracts", PADCTL_CONTRACTS_V1) : NULL;
	if (!svc) {
		h->log(st, PADCTL_LOG_WARN, "this padctl offers no contracts service: contracts not checked");
		return 0;
	}
	int before = f->n;
	int n = svc->check(st, contract_note, f);
	if (n < 0)
		return -1;
	if (n > 0)
		h->log(st, PADCTL_LOG_INFO, "%d contract%s checked: %d finding%s", n, n == 1 ? "" : "s", f->n - before,
		       f->n - before == 1 ? "" : "s");
	return 0;
}

static int check_schema(const struct padctl_host *h, struct padctl_step *st, const char *schema, struct findings *f)
{
	const char *params[] = { schema };
	struct padctl_rows *rows = NULL;
	if (h->sql_query(st,
			 "SELECT n.oid IS NOT NULL, "
			 "CASE WHEN n.oid IS NULL THEN NULL ELSE has_schema_privilege(n.oid, 'USAGE') END, "
			 "CASE WHEN n.oid IS NULL THEN NULL ELSE has_schema_privilege(n.oid, 'CREATE') END, "
			 "has_database_privilege(current_database(), 'CREATE'), current_user "
			 "FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = $1",
			 1, params, &rows))
		return -1;
	const char *exists = h->rows_value(rows, 0, 0), *usage = h->rows_value(rows, 0, 1);
	const char *create = h->rows_value(rows, 0, 2), *dbcreate = h->rows_value(rows, 0, 3);
	const char *user = h->rows_value(rows, 0, 4);
	if (exists && strcmp(exists, "t") == 0) {
		if (!usage || strcmp(usage, "t") != 0)
			note(f, "user \"%s\" lacks USAGE on owned schema \"%s\" (GRANT USAGE ON SCHEMA %s TO %s)", user,
			     schema, schema, user);
		if (!create || strcmp(create, "t") != 0)
			note(f, "user \"%s\" lacks CREATE on owned schema \"%s\" (GRANT CREATE ON SCHEMA %s TO %s)",
			     user, schema, schema, user);
	} else if (!dbcreate || strcmp(dbcreate, "t") != 0) {
		note(f, "owned schema \"%s\" does not exist and user \"%s\" may not create it (create it, or GRANT "
			"CREATE ON DATABASE)",
		     schema, user);
	} else {
		h->log(st, PADCTL_LOG_INFO, "owned schema \"%s\" does not exist yet; the first migration may create it",
		       schema);
	}
	h->rows_free(rows);
	return 0;
}

/* drift: the target against a replay of its history (the host's "drift"
 * service), when padctl.yml configures it; every difference is a finding */
static int check_drift(const struct padctl_host *h, struct padctl_step *st, struct findings *f)
{
	const char *on = h->config(st, "drift");
	if (!on || strcmp(on, "true") != 0)
		return 0;
	const struct padctl_drift_v1 *drift = h->service(st, "drift", PADCTL_DRIFT_V1);
	if (!drift || !PADCTL_SERVICE_HAS(drift, struct padctl_drift_v1, check))
		return h->fail(st, "use the padctl this plugin was built with",
			       "padctl.yml configures drift, but this padctl offers no \"drift\" service");
	struct padctl_rows *rows = NULL;
	if (drift->check(st, &rows))
		return -1;
	for (int r = 0; r < h->rows_count(rows); r++) {
		const char *change = h->rows_value(rows, r, 0), *kind = h->rows_value(rows, r, 1);
		const char *name = h->rows_value(rows, r, 2), *want = h->rows_value(rows, r, 3);
		const char *have = h->rows_value(rows, r, 4);
		if (strcmp(change, "missing") == 0)
			note(f, "drift: missing %s %s (the migrations create it; the target has none)", kind, name);
		else if (strcmp(change, "extra") == 0)
			note(f, "drift: extra %s %s (on the target, created by no applied migration)", kind, name);
		else
			note(f, "drift: changed %s %s (expected \"%.120s\", the target has \"%.120s\")", kind, name,
			     want ? want : "", have ? have : "");
	}
	h->rows_free(rows);
	return 0;
}

static int preflight(const struct padctl_host *h, struct padctl_step *st)
{
	struct padctl_rows *rows = NULL;
	if (h->sql_query(st, "SELECT current_setting('server_version_num')::int, current_setting('server_version'), "
			     "current_user, current_database()", 0, NULL, &rows))
		return -1;
	long num = strtol(h->rows_value(rows, 0, 0), NULL, 10);
	struct findings f;
	memset(&f, 0, sizeof f);
	h->log(st, PADCTL_LOG_INFO, "connected to PostgreSQL %s as \"%s\", database \"%s\"", h->rows_value(rows, 0, 1),
	       h->rows_value(rows, 0, 2), h->rows_value(rows, 0, 3));
	if (num < MIN_SERVER_VERSION)
		note(&f, "PostgreSQL %s is too old: padctl needs 12 or newer", h->rows_value(rows, 0, 1));
	h->rows_free(rows);

	const char *owned = h->config(st, "schemas.owned");
	char *list = strdup(owned ? owned : "");
	if (!list)
		return h->fail(st, NULL, "out of memory");
	int rc = 0;
	char *save = NULL;
	for (char *s = strtok_r(list, ",", &save); s && !rc; s = strtok_r(NULL, ",", &save))
		rc = check_schema(h, st, s, &f);
	free(list);
	if (!rc)
		rc = contracts(h, st, &f);
	if (!rc)
		rc = check_drift(h, st, &f);
	if (rc)
		return -1;
	if (f.n)
		return h->fail(st, "fix the findings above (a DBA can grant the privileges; a contract finding means "
				   "the target lacks what the application relies on, or has what must not exist) and run "
				   "again",
			       "preflight found %d problem%s:\n%s", f.n, f.n == 1 ? "" : "s", f.text);
	h->log(st, PADCTL_LOG_INFO, "preflight passed");
	return 0;
}

static int verify_one(const struct padctl_host *h, struct padctl_step *st, const struct padctl_migration *m,
		      struct findings *f)
{
	if (!m->verify_path) {
		h->log(st, PADCTL_LOG_WARN, "migration %s_%s has no verify.sql: nothing to check", m->version, m->name);
		return 0;
	}
	char *sql = NULL;
	if (h->read_file(st, m->verify_path, &sql))
		return -1;
	/* verify.sql checks, it must not change anything: it runs in a READ ONLY
	 * transaction that is always rolled back (a write, or turning read-write
	 * mode back on, fails in it); a dry run's connection is read-only already */
	struct padctl_rows *rows = NULL;
	int rc = h->tx_begin(st);
	if (!rc && !h->dry_run(st))
		rc = h->sql_exec(st, "SET TRANSACTION READ ONLY", NULL);
	if (!rc)
		rc = h->sql_query(st, sql, 0, NULL, &rows);
	h->tx_rollback(st);
	h->free_text(sql);
	if (rc)
		return h->fail(st, "the migration's effect is missing, or verify.sql is wrong (it runs read-only)",
			       "verify.sql of migration %s_%s failed (%s)", m->version, m->name, m->verify_path);
	if (h->rows_count(rows) == 0)
		note(f, "%s returned no rows (it must return one row whose first column is true)", m->verify_path);
	for (int r = 0; r < h->rows_count(rows); r++) {
		const char *v = h->rows_value(rows, r, 0);
		if (!v || strcmp(v, "f") == 0 || strcmp(v, "false") == 0) {
			note(f, "%s returned %s", m->verify_path, v ? "false" : "NULL");
			break;
		}
	}
	h->rows_free(rows);
	return 0;
}

static int postflight(const struct padctl_host *h, struct padctl_step *st)
{
	size_t n = h->migration_count(st);
	struct findings f;
	memset(&f, 0, sizeof f);
	for (size_t i = 0; i < n; i++)
		if (verify_one(h, st, h->migration_at(st, i), &f))
			return -1;
	if (contracts(h, st, &f) || check_drift(h, st, &f))
		return -1;
	if (f.n)
		return h->fail(st, "a migration's effect is missing, or it broke a contract: check the migration, its "
				   "verify.sql and the contract",
			       "postflight found %d problem%s:\n%s", f.n, f.n == 1 ? "" : "s", f.text);
	h->log(st, PADCTL_LOG_INFO, "postflight passed: %zu migration%s verified", n, n == 1 ? "" : "s");
	return 0;
}

static int validate_run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const char *phase = h->phase(st);
	if (!phase || strcmp(phase, "preflight") == 0)
		return preflight(h, st);
	return postflight(h, st);
}

static const char *const phases[] = { "preflight", "postflight", NULL };

static const struct padctl_plugin plugin = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "validate",
	.version = "1.0.0",
	.kind = PADCTL_KIND_VALIDATE,
	.summary = "preflight: connectivity, server version, privileges, contracts; postflight: verify.sql of applied "
		   "migrations, contracts",
	.options = NULL,
	.phases = phases,
	.run = validate_run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &plugin;
}

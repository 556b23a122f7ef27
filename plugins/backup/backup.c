/* backup: a verified `pg_dump --format=custom` of the owned schemas, before
 * the run changes anything, so a failed or unwanted deploy can be restored.
 *
 * Only the owned schemas are dumped (one exact --schema each), never the
 * protected ones nor padctl's ledger: a restore must put back what the
 * migrations may change and nothing else. The host picks the pg_dump of the
 * server's major version, connects it and hands it the password (the
 * "tools" service); the dump goes straight into the backup file, hashed as
 * it is written (the "backups" service), then pg_restore --list must read it
 * and name every dumped schema before it is marked verified. Only then is
 * retention applied. Any failure fails the step, and the run stops before
 * migrate.
 *
 * By default the step backs up only when the run has something to change on
 * the target (a pending migration in this run's plan); `always: true` backs
 * up every time. A dry run takes no backup and says what it would do. */
#include <padctl/plugin.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct padctl_option options[] = {
	{ "always", PADCTL_OPT_BOOL, 0, "back up even when the run changes nothing on the target (default false)" },
	{ "timeout", PADCTL_OPT_INT, 0, "seconds pg_dump may run (default 0: the host's limit, one hour)" },
	{ NULL, 0, 0, NULL },
};

static int truthy(const char *v)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	for (size_t i = 0; v && yes[i]; i++) {
		size_t k = 0;
		while (v[k] && yes[i][k] && tolower((unsigned char)v[k]) == yes[i][k])
			k++;
		if (!v[k] && !yes[i][k])
			return 1;
	}
	return 0;
}

/* The schemas to dump: the owned ones that exist, as the server names them
 * (an unquoted identifier folds to lower case). */
struct plan {
	char **names;
	size_t n;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
}

static char *lower_dup(const char *s)
{
	size_t n = strlen(s);
	char *d = malloc(n + 1);
	if (d)
		for (size_t i = 0; i <= n; i++)
			d[i] = (char)tolower((unsigned char)s[i]);
	return d;
}

static int existing_schemas(const struct padctl_host *h, struct padctl_step *st, const char *const *owned, size_t n,
			    struct plan *p)
{
	p->names = calloc(n + 1, sizeof *p->names); /* NULL-ended for commit */
	p->n = 0;
	if (!p->names)
		return h->fail(st, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char *name = lower_dup(owned[i]);
		if (!name)
			return h->fail(st, NULL, "out of memory");
		if (strcmp(name, "padctl") == 0 || strncmp(name, "pg_", 3) == 0 ||
		    strcmp(name, "information_schema") == 0) {
			free(name);
			return h->fail(st, "list only the application's schemas under schemas.owned in padctl.yml",
				       "schema \"%s\" is listed as owned, but it belongs to %s: it is never backed up "
				       "nor restored",
				       owned[i],
				       strncmp(owned[i], "padctl", 6) == 0 ? "padctl's ledger" : "PostgreSQL");
		}
		const char *params[] = { name };
		struct padctl_rows *rows;
		if (h->sql_query(st, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, params, &rows)) {
			free(name);
			return -1;
		}
		if (h->rows_count(rows) == 1)
			p->names[p->n++] = name;
		else
			free(name);
		h->rows_free(rows);
	}
	return 0;
}

/* The table of contents pg_restore --list prints, scanned line by line as
 * it comes: every dumped schema must have its "SCHEMA - name" entry. */
struct toc {
	const struct plan *p;
	unsigned char *found;
	char line[4096];
	size_t len;
	size_t lines;
};

static void toc_line(struct toc *t)
{
	t->line[t->len] = '\0';
	t->lines++;
	const char *at = strstr(t->line, " SCHEMA - ");
	for (size_t i = 0; at && i < t->p->n; i++) {
		size_t k = strlen(t->p->names[i]);
		const char *name = at + strlen(" SCHEMA - ");
		if (strncmp(name, t->p->names[i], k) == 0 && (name[k] == ' ' || name[k] == '\0'))
			t->found[i] = 1;
	}
	t->len = 0;
}

static int toc_out(void *ctx, const void *data, size_t n)
{
	struct toc *t = ctx;
	const char *d = data;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '\n')
			toc_line(t);
		else if (t->len < sizeof t->line - 1)
			t->line[t->len++] = d[i];
	}
	return 0;
}

static char *join(const struct plan *p)
{
	size_t len = 1;
	for (size_t i = 0; i < p->n; i++)
		len += strlen(p->names[i]) + 2;
	char *s = malloc(len);
	if (!s)
		return NULL;
	size_t at = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (i) {
			memcpy(s + at, ", ", 2);
			at += 2;
		}
		size_t k = strlen(p->names[i]);
		memcpy(s + at, p->names[i], k);
		at += k;
	}
	s[at] = '\0';
	return s;
}

static const char *human(unsigned long long n, char *buf, size_t size)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu bytes", n);
	else
		snprintf(buf, size, "%.1f %s", v, unit[u]);
	return buf;
}

/* dump runs pg_dump of p's schemas into the run's backup file and verifies it */
static int dump(const struct padctl_host *h, struct padctl_step *st, const struct padctl_backups_v1 *bk,
		const struct plan *p, const char *list)
{
	const struct padctl_tools_v1 *tools = h->service(st, "tools", PADCTL_TOOLS_V1);
	const struct padctl_artifacts_v1 *arts = h->service(st, "artifacts", PADCTL_ARTIFACTS_V1);
	if (!tools || !arts)
		return h->fail(st, "install a padctl whose plugin ABI offers the tools and artifacts services",
			       "this padctl has no tools or artifacts service");
	const char *t = h->option(st, "timeout");
	long secs = t ? strtol(t, NULL, 10) : 0;
	/* 0 or less: the host's limit; at most a week */
	long timeout_ms = secs > 0 ? (secs < 7L * 86400 ? secs : 7L * 86400) * 1000L : 0;
	/* --format=custom, --lock-wait-timeout=..., one --schema="name" each, NULL */
	const char **args = calloc(p->n + 4, sizeof *args);
	char **own = calloc(p->n + 1, sizeof *own);
	struct toc *toc = calloc(1, sizeof *toc);
	unsigned char *found = calloc(p->n, 1);
	int rc = 0;
	if (!args || !own || !toc || !found)
		rc = h->fail(st, NULL, "out of memory");
	size_t k = 0;
	if (!rc) {
		args[k++] = "--format=custom";
		/* a table another session holds exclusively makes the dump fail soon instead of waiting */
		long lock_ms = h->lock_timeout_ms(st);
		if (lock_ms > 0) {
			own[p->n] = malloc(64);
			if (own[p->n]) {
				snprintf(own[p->n], 64, "--lock-wait-timeout=%ld", lock_ms);
				args[k++] = own[p->n];
			}
		}
	}
	for (size_t i = 0; !rc && i < p->n; i++) {
		/* quoted: the exact schema, not a pattern */
		size_t len = strlen(p->names[i]) + 16;
		own[i] = malloc(len);
		if (!own[i]) {
			rc = h->fail(st, NULL, "out of memory");
			break;
		}
		snprintf(own[i], len, "--schema=\"%s\"", p->names[i]);
		args[k++] = own[i];
	}
	struct padctl_artifact *a = NULL;
	if (!rc)
		rc = bk->create(st, &a);
	if (!rc) {
		h->log(st, PADCTL_LOG_INFO, "backing up schema%s %s to %s", p->n == 1 ? "" : "s", list,
		       arts->path(st, a));
		rc = tools->run_to_artifact(st, "pg_dump", args, timeout_ms, a);
	}
	if (!rc)
		rc = bk->commit(st, a, (const char *const *)p->names);
	if (!rc) {
		toc->p = p;
		toc->found = found;
		const char *const restore[] = { "--list", arts->path(st, a), NULL };
		rc = tools->run(st, "pg_restore", restore, timeout_ms, toc_out, toc);
		if (!rc && toc->len)
			toc_line(toc);
	}
	for (size_t i = 0; !rc && i < p->n; i++)
		if (!found[i])
			rc = h->fail(st, "the backup file is kept, recorded as not verified; check pg_dump's output",
				     "pg_restore --list of %s names no schema \"%s\": the backup is not verified",
				     arts->path(st, a), p->names[i]);
	if (!rc)
		rc = bk->mark_verified(st, a);
	if (!rc) {
		char size[32];
		h->log(st, PADCTL_LOG_INFO, "backup verified: %s, %s, sha256 %s (pg_restore --list: %zu entries)",
		       arts->path(st, a), human((unsigned long long)arts->bytes(st, a), size, sizeof size),
		       arts->sha256(st, a), toc->lines);
	}
	if (rc && !h->cancelled(st))
		h->fail(st,
			"fix the cause and deploy again; pg_dump waits migrations.lock_timeout for a table another "
			"session locked",
			"the backup failed, so the run stopped before migrate: nothing was migrated");
	for (size_t i = 0; own && i <= p->n; i++)
		free(own[i]);
	free(own);
	free(args);
	free(toc);
	free(found);
	return rc;
}

static int run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const struct padctl_backups_v1 *bk = h->service(st, "backups", PADCTL_BACKUPS_V1);
	if (!bk)
		return h->fail(st, "install a padctl that offers the backups service (plugin ABI 2, backups v1)",
			       "this padctl has no backups service");
	size_t n = 0;
	const char *const *owned = h->config_list(st, "schemas.owned", &n);
	if (!owned || n == 0)
		return h->fail(st, "list the schemas the migrations change under schemas.owned in padctl.yml",
			       "schemas.owned is empty: there is nothing the backup could restore");
	int pending = bk->pending(st);
	size_t before = h->migration_count(st);
	if (before > 0)
		h->log(st, PADCTL_LOG_WARN,
		       "this run applied %zu migration%s before the backup step: the backup holds %s, so it cannot "
		       "take the target back to before the run (put `backup` before `migrate`)",
		       before, before == 1 ? "" : "s", before == 1 ? "it" : "them");
	int always = truthy(h->option(st, "always"));
	if (pending == 0 && !always) {
		h->log(st, PADCTL_LOG_INFO,
		       "nothing to change on target \"%s\": no backup taken (`always: true` "
		       "backs up anyway)",
		       h->target(st));
		return 0;
	}
	struct plan p = { NULL, 0 };
	int rc = existing_schemas(h, st, owned, n, &p);
	char *list = rc ? NULL : join(&p);
	if (!rc && !list)
		rc = h->fail(st, NULL, "out of memory");
	const char *why = pending ? "" : " (always: true)";
	if (rc) {
		/* failed above */
	} else if (h->dry_run(st)) {
		const char *kept = h->config(st, "ssh.backups_dir");
		if (p.n && kept)
			h->log(st, PADCTL_LOG_INFO,
			       "dry run: would back up schema%s %s with pg_dump --format=custom on the SSH host to "
			       "%s/%s/%s/%s.dump there, verify it there with pg_restore --list and apply backups.keep%s",
			       p.n == 1 ? "" : "s", list, kept, h->env(st), h->target(st), h->run_id(st), why);
		else if (p.n)
			h->log(st, PADCTL_LOG_INFO,
			       "dry run: would back up schema%s %s with pg_dump --format=custom to %s/%s/%s/%s.dump, "
			       "verify it with pg_restore --list and apply backups.keep%s",
			       p.n == 1 ? "" : "s", list, h->config(st, "backups.dir"), h->env(st), h->target(st),
			       h->run_id(st), why);
		else
			h->log(st, PADCTL_LOG_INFO,
			       "dry run: no owned schema exists yet: would record an empty backup (nothing to dump)%s",
			       why);
	} else if (p.n == 0) {
		rc = bk->commit_none(st);
		if (!rc)
			h->log(st, PADCTL_LOG_INFO,
			       "no owned schema exists yet on target \"%s\": recorded an empty backup (restoring it "
			       "drops the owned schemas)",
			       h->target(st));
	} else {
		rc = dump(h, st, bk, &p, list);
	}
	if (!rc && !h->dry_run(st))
		rc = bk->prune(st);
	free(list);
	plan_free(&p);
	return rc;
}

static const struct padctl_plugin desc = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "backup",
	.version = "1.0.0",
	.kind = PADCTL_KIND_BACKUP,
	.summary = "pg_dump -Fc of the owned schemas, verified, recorded, with retention",
	.options = options,
	.run = run,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

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

static int down_one(const struct padctl_host *h, struct padctl_step *st, const struct padctl_ledger_v1 *led,
		    const struct padctl_migration *m, const char *label)
{
	if (!m->down_path)
		return h->fail(st, "write its down.sql, or let restore bring the owned schemas back from the backup",
			       "migration %s has no down.sql%s", label,
			       m->dir ? "" : " (its migration directory is gone from the project)");
	char *sql = NULL;
	if (h->read_file(st, m->down_path, &sql))
		return h->fail(st, NULL, "could not read the down.sql of migration %s", label);
	if (blank(sql)) {
		h->free_text(sql);
		return h->fail(st, "write the statements that undo up.sql into down.sql",
			       "%s holds no statement (only comments or white space)", m->down_path);
	}
	int rc;
	if (m->transactional) {
		rc = h->tx_begin(st) || h->sql_exec(st, sql, m->down_path) || led->migration_rolled_back(st, m->version) ||
		     h->tx_commit(st);
		if (rc)
			h->tx_rollback(st);
	} else {
		/* as up.sql ran: statement by statement, each committed on its own;
		 * the record follows, so a stop in between leaves the migration
		 * recorded as applied and a second rollback runs down.sql again */
		rc = h->sql_exec(st, sql, m->down_path) || led->migration_rolled_back(st, m->version);
	}
	h->free_text(sql);
	if (rc)
		return h->fail(st,
			       m->transactional ? "down.sql was rolled back with its record: fix it and roll back again"
						: "statements before the failing one stayed applied (transactional: false): "
						  "make down.sql idempotent (IF EXISTS) and roll back again",
			       "the down.sql of migration %s failed", label);
	return 0;
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
	for (size_t k = 0; k < n; k++) {
		/* newest first: the host hands them over in the order they were applied */
		const struct padctl_migration *m = h->migration_at(st, n - 1 - k);
		char label[200];
		snprintf(label, sizeof label, "%s_%s", m->version, m->name);
		if (h->cancelled(st))
			return h->fail(st, "run `padctl rollback` again to finish", "stopped before rolling back %s",
				       label);
		h->progress(st, k, n, label);
		if (down_one(h, st, led, m, label))
			return -1;
		h->log(st, PADCTL_LOG_INFO, "[%zu/%zu] rolled back %s by its down.sql", k + 1, n, label);
	}
	h->progress(st, n, n, "done");
	return 0;
}

static int restore_run(const struct padctl_host *h, struct padctl_step *st)
{
	return h->fail(st, "undo the migrations by hand, or write their down.sql",
		       "the restore strategy needs a verified backup, and this padctl records none");
}

static int rollback_run(const struct padctl_host *h, struct padctl_step *st, void *state)
{
	(void)state;
	const char *phase = h->phase(st);
	if (phase && strcmp(phase, "down") == 0)
		return down_run(h, st);
	if (phase && strcmp(phase, "restore") == 0)
		return restore_run(h, st);
	return h->fail(st, "padctl runs rollback by itself after a failed step (on_failure: rollback) and for "
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

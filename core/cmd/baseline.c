#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "db.h"
#include "ledger.h"
#include "log.h"
#include "migrations.h"
#include "pipeline.h"
#include "target.h"

static int baseline_target(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
			   const struct migration_set *set, const char *version, long lock_ms)
{
	char *run_id = ledger_new_run_id();
	struct db *db = NULL;
	int rc = target_open_write(p, env->name, t, "baseline", run_id, lock_ms, &db);
	struct history h = { NULL, 0, 0 };
	if (!rc)
		rc = ledger_history(db, &h);
	if (!rc && h.n) {
		fail("target \"%s\" already has a migration history (%zu row%s)", t->name, h.n, h.n == 1 ? "" : "s");
		fail_hint("baseline adopts a database padctl has never deployed to; `padctl status %s` shows its history",
			  env->name);
		rc = fail_status(EXIT_USAGE);
	}
	size_t marked = 0;
	int started = 0;
	if (!rc)
		started = (rc = ledger_run_start(db, run_id, env->name, t->name, "baseline", NULL, 0)) == 0;
	if (!rc)
		rc = db_exec(db, "BEGIN", NULL);
	for (size_t i = 0; !rc && i < set->n && version_cmp(set->v[i].version, version) <= 0; i++) {
		const struct migration *m = &set->v[i];
		const struct cfg_skip *skip = config_env_skip(env, m->version);
		rc = ledger_history_add(db, m->version, m->name, m->checksum, skip ? "skipped" : "baselined",
					skip ? skip->reason : "baseline", run_id, 0);
		marked++;
	}
	if (!rc)
		rc = db_exec(db, "COMMIT", NULL);
	else if (db)
		db_exec(db, "ROLLBACK", NULL);
	if (started) {
		char *msg = rc && err_message() ? xstrdup(err_message()) : NULL;
		ledger_run_finish(db, run_id, rc ? "failed" : "ok", msg);
		free(msg);
	}
	if (!rc)
		printf("target %s: baselined %zu migration%s up to %s (run %s)\n", t->name, marked,
		       marked == 1 ? "" : "s", version, run_id);
	history_release(&h);
	db_close(db);
	free(run_id);
	return rc;
}

int cmd_baseline(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *target = NULL, *lock_timeout = "10";
	const struct cmd_opt opts[] = {
		{ "target", 1, NULL, &target },
		{ "lock-timeout", 1, NULL, &lock_timeout },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[2];
	int npos;
	long lock_ms;
	if (cmd_parse(argc, argv, opts, pos, 2, 2, &npos, "ENV VERSION [--target T]") ||
	    cmd_seconds("lock-timeout", lock_timeout, &lock_ms))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	struct migration_set set = { NULL, 0 };
	const struct cfg_target **targets = NULL;
	size_t n = 0;
	int rc = migrations_load(p->migrations_dir, &set);
	if (!rc && !migrations_find(&set, pos[1])) {
		fail("no migration has version \"%s\"", pos[1]);
		fail_hint(set.n ? "baseline to the version of an existing migration, e.g. %s (the newest)"
				: "there are no migrations in %s yet",
			  set.n ? set.v[set.n - 1].version : p->migrations_dir);
		rc = fail_status(EXIT_USAGE);
	}
	if (!rc)
		rc = pipeline_targets(&env, NULL, target, &targets, &n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = baseline_target(p, &env, targets[i], &set, pos[1], lock_ms);
	free(targets);
	migrations_release(&set);
	cmd_env_release(&env, NULL);
	return rc;
}

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

#define MAX_VERSIONS 256

/* One version to repair on one target: the ledger's row and the file. */
struct repair_item {
	const struct migration *m;
	const struct history_row *h;
};

static const struct history_row *history_find(const struct history *h, const char *version)
{
	for (size_t i = 0; i < h->n; i++)
		if (version_cmp(h->v[i].version, version) == 0)
			return &h->v[i];
	return NULL;
}

/* check_items refuses, before anything is written, a version the target has
 * not applied and one whose checksum already matches the file. */
static int check_items(const struct cfg_env *env, const struct cfg_target *t, const struct history *h,
		       struct repair_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct migration *m = items[i].m;
		const struct history_row *r = history_find(h, m->version);
		if (!r || strcmp(r->status, "skipped") == 0) {
			fail("migration %s_%s is not applied on target \"%s\"", m->version, m->name, t->name);
			fail_detail(r ? "the ledger records it as skipped (%s)" : "the ledger has no row for it%s",
				    r && r->reason ? r->reason : "");
			fail_hint("repair accepts a new checksum for an applied migration only; `padctl status %s` "
				  "shows what is applied; nothing was changed",
				  env->name);
			return fail_status(EXIT_USAGE);
		}
		if (strcmp(r->checksum, m->checksum) == 0) {
			fail("migration %s_%s on target \"%s\" already has the checksum of its file", m->version,
			     m->name, t->name);
			fail_detail("checksum %s; there is nothing to repair", m->checksum);
			fail_hint("name only versions that `padctl status %s` shows as checksum mismatch; nothing was "
				  "changed",
				  env->name);
			return fail_status(EXIT_USAGE);
		}
		items[i].h = r;
	}
	return 0;
}

static int repair_target(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
			 struct repair_item *items, size_t n, const char *reason, long lock_ms)
{
	char *run_id = ledger_new_run_id();
	struct db *db = NULL;
	struct history h = { NULL, 0, 0 };
	int rc = target_open_write(p, env->name, t, "repair", run_id, lock_ms, &db);
	if (!rc)
		rc = ledger_history(db, &h);
	if (!rc)
		rc = check_items(env, t, &h, items, n);
	int started = 0;
	if (!rc)
		started = (rc = ledger_run_start(db, run_id, env->name, t->name, "repair", NULL, 0)) == 0;
	/* every version or none */
	if (!rc)
		rc = db_exec(db, "BEGIN", NULL);
	for (size_t i = 0; !rc && i < n; i++)
		rc = ledger_repair_add(db, run_id, items[i].h->version, items[i].h->checksum, items[i].m->checksum,
				       reason);
	if (!rc)
		rc = db_exec(db, "COMMIT", NULL);
	else if (started)
		db_exec(db, "ROLLBACK", NULL);
	if (started) {
		char *msg = rc && err_message() ? xstrdup(err_message()) : NULL;
		ledger_run_finish(db, run_id, rc ? "failed" : "ok", msg);
		free(msg);
	}
	for (size_t i = 0; !rc && i < n; i++)
		printf("target %s: accepted the new checksum of %s_%s (%.12s... was %.12s...), run %s\n", t->name,
		       items[i].m->version, items[i].m->name, items[i].m->checksum, items[i].h->checksum, run_id);
	history_release(&h);
	db_close(db);
	free(run_id);
	return rc;
}

int cmd_repair(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *target = NULL, *lock_timeout = "10", *reason = NULL;
	const struct cmd_opt opts[] = {
		{ "reason", 1, NULL, &reason },
		{ "target", 1, NULL, &target },
		{ "lock-timeout", 1, NULL, &lock_timeout },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[MAX_VERSIONS + 1];
	int npos;
	long lock_ms;
	if (cmd_parse(argc, argv, opts, pos, 2, MAX_VERSIONS + 1, &npos,
		      "ENV VERSION... --reason TEXT [--target T] [--lock-timeout SECONDS]") ||
	    cmd_seconds("lock-timeout", lock_timeout, &lock_ms))
		return -1;
	size_t rlen = reason ? strspn(reason, " \t\n") : 0;
	if (!reason || !reason[rlen]) {
		fail("repair needs --reason TEXT");
		fail_detail("the reason is recorded in the ledger with who accepted the new checksum");
		fail_hint("say why the file changed, e.g. --reason \"upstream reformatted 0003, same statements\"");
		return fail_status(EXIT_USAGE);
	}
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (cmd_env(ctx, pos[0], &p, &env, &pl))
		return -1;
	int rc = 0;
	/* a repair changes what the ledger accepts: an env whose pipeline asks for approvals needs them for it too */
	if (pipeline_check_gates(&pl, &env, "repair", 0)) {
		rc = -1;
	} else if (strcmp(env.tier, "prod") == 0) {
		fail("env \"%s\" is prod-tier: a repair there needs an approval", env.name);
		fail_detail("approvals are not implemented in this version of padctl yet, so repairs on prod are "
			    "refused");
		fail_hint("repair a non-prod env first; check that the file's effect is unchanged before accepting "
			  "its new checksum anywhere");
		rc = fail_status(EXIT_APPROVAL);
	}
	struct migration_set set = { NULL, 0 };
	struct repair_item items[MAX_VERSIONS];
	size_t n = 0;
	if (!rc)
		rc = migrations_load(p->migrations_dir, &set);
	for (int i = 1; !rc && i < npos; i++) {
		const struct migration *m = migrations_find(&set, pos[i]);
		if (!m) {
			fail("no migration has version \"%s\"", pos[i]);
			fail_hint("repair accepts the checksum of a migration file in %s as it is now",
				  p->migrations_dir);
			rc = fail_status(EXIT_USAGE);
			break;
		}
		for (size_t k = 0; k < n; k++)
			if (items[k].m == m) {
				fail("version \"%s\" is named twice", pos[i]);
				rc = fail_status(EXIT_USAGE);
			}
		items[n].m = m;
		items[n].h = NULL;
		n++;
	}
	const struct cfg_target **targets = NULL;
	size_t nt = 0;
	if (!rc)
		rc = pipeline_targets(&env, NULL, target, &targets, &nt);
	for (size_t i = 0; !rc && i < nt; i++)
		rc = repair_target(p, &env, targets[i], items, n, reason, lock_ms);
	free(targets);
	migrations_release(&set);
	cmd_env_release(&env, &pl);
	return rc;
}

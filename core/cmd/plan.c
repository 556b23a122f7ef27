#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "db.h"
#include "fs.h"
#include "inspect.h"
#include "ledger.h"
#include "log.h"
#include "plan.h"
#include "planlint.h"
#include "pipeline.h"
#include "plugin.h"
#include "approvals.h"
#include "sign.h"

/* print_text shows the plan with each migration's path and SQL (not in the
 * hashed bytes: the checksums cover them). Names and paths are escaped
 * (xstrprintable): one cannot forge a line of the plan. */
/* print_lint lists a migration's findings as SQL comments under it */
static void print_lint(const struct mig_lint *ml)
{
	for (size_t i = 0; ml && i < ml->r.n; i++) {
		struct buf b = BUF_INIT;
		lint_finding_line(&ml->r.v[i], &b, 1);
		printf("-- lint: %s\n", buf_str(&b));
		buf_release(&b);
	}
}

/* lint_of is plan_lint_find for migrations taken in the plan's order: the
 * findings are in that order too, so the next one is looked at first (a
 * search from the start for each of 1,000 migrations was quadratic) */
static const struct mig_lint *lint_of(const struct plan_lint *pl, const struct migration *m, size_t *at)
{
	if (*at < pl->n && pl->v[*at].m == m)
		return &pl->v[(*at)++];
	return plan_lint_find(pl, m);
}

/* put_printable writes xstrprintable(s) to stdout; printable ASCII, what
 * nearly every name and path is, goes out as it is, without a copy */
static void put_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p >= 0x20 && *p < 0x7f)
		p++;
	if (!*p) {
		fputs(s, stdout);
		return;
	}
	char *shown = xstrprintable(s);
	fputs(shown, stdout);
	free(shown);
}

static void print_text(const struct plan *pl, const struct plan_lint *lint, const char *id, const char *hash)
{
	printf("plan %s for env %s\nhash sha256:%s\n", id, pl->env, hash);
	for (size_t i = 0; i < pl->ntargets; i++) {
		const struct plan_target *pt = &pl->targets[i];
		printf("\ntarget %s: %zu migration%s\n", pt->t->name, pt->ntodo, pt->ntodo == 1 ? "" : "s");
		if (lint[i].n)
			printf("lint: %zu error%s, %zu warning%s (PostgreSQL %d.%d)%s%s\n", lint[i].errors,
			       lint[i].errors == 1 ? "" : "s", lint[i].warnings, lint[i].warnings == 1 ? "" : "s",
			       lint[i].server_version / 10000, lint[i].server_version % 10000,
			       *lint[i].assumed ? "; assumed " : "", lint[i].assumed);
		size_t at = 0;
		for (size_t k = 0; k < pt->ntodo; k++) {
			const struct plan_mig *pm = &pt->todo[k];
			fputs(pm->skip_reason ? "-- skip " : "-- apply ", stdout);
			put_printable(pm->m->version);
			putchar('_');
			put_printable(pm->m->name);
			if (pm->skip_reason) {
				fputs(" (", stdout);
				put_printable(pm->skip_reason);
				fputs(")\n", stdout);
				continue;
			}
			fputs(pm->m->transactional ? "  [" : " (no transaction)  [", stdout);
			put_printable(pm->m->up_path);
			fputs("]\n", stdout);
			const char *sql = pm->m->up_sql;
			size_t len = strlen(sql);
			fwrite(sql, 1, len, stdout);
			if (!len || sql[len - 1] != '\n')
				putchar('\n');
			print_lint(lint_of(&lint[i], pm->m, &at));
		}
	}
}

/* json_doc is what --json prints: {"id", "hash", "plan"}, the plan being the
 * hashed document with each migration's path and SQL added for reading */
/* json_lint is a migration's findings for --json */
static json_t *json_lint(const struct mig_lint *ml)
{
	json_t *a = json_array();
	for (size_t i = 0; ml && i < ml->r.n; i++) {
		const struct lint_finding *f = &ml->r.v[i];
		json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s}", "file", f->file, "line", f->line, "column",
				      f->col, "rule", f->rule, "group", lint_group_name(f->group), "severity",
				      lint_severity_name(f->severity), "reason", f->reason);
		if (!o)
			continue;
		json_object_set_new(o, "hint", f->hint ? json_string(f->hint) : json_null());
		json_object_set_new(o, "allowed", f->allowed ? json_string(f->allowed) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *json_doc(const struct plan *pl, const struct plan_lint *lint, const char *id, const char *hash,
			const char *bytes)
{
	json_t *body = json_loads(bytes, 0, NULL);
	json_t *targets = json_object_get(body, "targets");
	int err = !body;
	for (size_t i = 0; !err && i < pl->ntargets; i++) {
		json_t *migs = json_object_get(json_array_get(targets, i), "migrations");
		size_t at = 0;
		for (size_t k = 0; !err && k < pl->targets[i].ntodo; k++) {
			const struct plan_mig *pm = &pl->targets[i].todo[k];
			json_t *m = json_array_get(migs, k);
			const char *path = pm->m->up_path, *sql = pm->skip_reason ? "" : pm->m->up_sql;
			if (json_object_set_new(m, "lint", json_lint(lint_of(&lint[i], pm->m, &at))) ||
			    json_object_set_new(m, "path", json_string(path)) ||
			    json_object_set_new(m, "sql", json_string(sql))) {
				char *name = xstrprintable(path);
				fail("cannot show %s in the plan: its path or text is not valid UTF-8", name);
				free(name);
				fail_hint("the plan was recorded; `padctl plan` without --json shows it");
				err = 1;
			}
		}
	}
	json_t *lt = json_array();
	for (size_t i = 0; i < pl->ntargets; i++)
		json_array_append_new(lt, json_pack("{s:s, s:i, s:i, s:s, s:i}", "target", pl->targets[i].t->name,
						    "errors", (int)lint[i].errors, "warnings", (int)lint[i].warnings,
						    "assumed", lint[i].assumed ? lint[i].assumed : "",
						    "server_version_num", lint[i].server_version));
	json_t *doc = err ? NULL
			  : json_pack("{s:s, s:s, s:O, s:o}", "id", id, "hash", hash, "plan", body, "lint", lt);
	if (err)
		json_decref(lt);
	json_decref(body);
	return doc;
}

/* json_refused is what --json prints when lint refused the plan: nothing
 * was recorded (no id, no hash), but a program reading the output gets the
 * findings that stopped it, per target reached and migration:
 * {"recorded": false, "lint": [as json_doc's], "targets": [{"target",
 * "migrations": [{"version", "name", "path", "lint"}]}]} */
static json_t *json_refused(const struct plan *pl, const struct plan_lint *lint)
{
	json_t *lt = json_array(), *targets = json_array();
	for (size_t i = 0; i < pl->ntargets; i++) {
		const struct plan_target *pt = &pl->targets[i];
		if (!pt->t)
			continue; /* not reached: an earlier target stopped the plan */
		json_array_append_new(lt, json_pack("{s:s, s:i, s:i, s:s, s:i}", "target", pt->t->name, "errors",
						    (int)lint[i].errors, "warnings", (int)lint[i].warnings, "assumed",
						    lint[i].assumed ? lint[i].assumed : "", "server_version_num",
						    lint[i].server_version));
		json_t *migs = json_array();
		size_t at = 0;
		for (size_t k = 0; k < pt->ntodo; k++) {
			const struct migration *m = pt->todo[k].m;
			json_t *o = json_pack("{s:s%, s:s%, s:s%}", "version", m->version, strlen(m->version), "name",
					      m->name, strlen(m->name), "path", m->up_path ? m->up_path : "",
					      m->up_path ? strlen(m->up_path) : 0);
			if (!o)
				continue;
			json_object_set_new(o, "lint", json_lint(lint_of(&lint[i], m, &at)));
			json_array_append_new(migs, o);
		}
		json_array_append_new(targets, json_pack("{s:s, s:o}", "target", pt->t->name, "migrations", migs));
	}
	return json_pack("{s:b, s:o, s:o}", "recorded", 0, "lint", lt, "targets", targets);
}

/* sign_request signs the plan's hash as its requester with key and checks
 * that the pipeline's allowed_signers lists the key: *principal, *fpr, *sig */
static int sign_request(const struct cfg_pipeline *pl, const char *key, const struct sign_fields *f, char **principal,
			char **fpr, char **sig)
{
	*principal = *fpr = *sig = NULL;
	char *msg = sign_message(f);
	int rc = sign_create(key, msg, sig);
	struct sign_check c;
	memset(&c, 0, sizeof c);
	if (!rc)
		rc = sign_verify(pl->signers, NULL, msg, *sig, &c);
	if (!rc && !c.valid) {
		fail("the key %s cannot request a plan of env \"%s\": %s", key, f->env, c.why ? c.why : "it does not verify");
		fail_detail("requesters and approvers are the keys of %s (approvals.signers of %s)", pl->signers, pl->file);
		fail_hint("add your public key there with your principal and namespaces=\"%s\", or use a key it lists",
			  SIGN_NAMESPACE);
		rc = fail_status(EXIT_APPROVAL);
	}
	if (!rc) {
		*principal = c.principal;
		*fpr = c.fingerprint;
		c.principal = c.fingerprint = NULL;
	} else {
		free(*sig);
		*sig = NULL;
	}
	sign_check_release(&c);
	free(msg);
	return rc;
}

int cmd_plan(struct cmd_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "verify") == 0))
		return cmd_plan_audit(ctx, argc - 1, argv + 1);
	const char *out = NULL, *target = NULL, *key = NULL, *run = NULL, *to = NULL;
	int allow_ooo = 0, rollback = 0;
	const struct cmd_opt opts[] = {
		{ "key", 1, NULL, &key },
		{ "rollback", 0, &rollback, NULL },
		{ "run", 1, NULL, &run },
		{ "to", 1, NULL, &to },
		{ "out", 1, NULL, &out },
		{ "target", 1, NULL, &target },
		{ "allow-out-of-order", 0, &allow_ooo, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--key KEY] [--out FILE] [--target T] [--allow-out-of-order]\n"
		      "       padctl plan ENV --rollback [--run ID | --to VERSION] --key KEY [--out FILE]\n"
		      "       padctl plan show ID [--env ENV] | padctl plan verify ID [--env ENV]"))
		return -1;
	if ((run || to) && !rollback) {
		fail("--run and --to go with --rollback");
		return fail_status(EXIT_USAGE);
	}
	if (rollback && (target || allow_ooo)) {
		fail("--rollback covers every target: --target and --allow-out-of-order do not go with it");
		return fail_status(EXIT_USAGE);
	}
	if (rollback)
		return plan_rollback(ctx, pos[0], key, run, to, out);
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (cmd_env(ctx, pos[0], &p, &env, &pl))
		return -1;
	if (key && !pl.signers) {
		cmd_env_release(&env, &pl);
		fail("--key signs a plan for approval, but pipeline \"%s\" has no `approvals:` section", pl.name);
		fail_hint("add `approvals: {required: N, signers: FILE}` to %s, or plan without --key", pl.file);
		return fail_status(EXIT_USAGE);
	}
	if (key && target) {
		cmd_env_release(&env, &pl);
		fail("--key and --target cannot go together: a signed plan covers every target of the env");
		return fail_status(EXIT_USAGE);
	}
	struct migration_set set = { NULL, 0 };
	const struct cfg_target **targets = NULL;
	size_t n = 0;
	/* the pipeline's steps are checked against the plugins' declared phases and options first */
	struct plugin_registry reg;
	struct resolved_step *steps = NULL;
	memset(&reg, 0, sizeof reg);
	int rc = plugin_registry_load(&reg);
	if (!rc)
		rc = pipeline_resolve(&pl, &env, &reg, &steps);
	if (!rc)
		rc = pipeline_targets(&env, &pl, target, &targets, &n);
	/* every target is asked for its identity and history first, as status
	 * does: the servers answer while the migration files are read. The
	 * connections come up meanwhile too (inspect_start_async): the reading
	 * moves them on every few migrations. */
	struct inspection *ins = xcalloc(n ? n : 1, sizeof *ins);
	for (size_t i = 0; !rc && i < n; i++)
		inspect_start_async(p, &env, targets[i], "plan", 0, NULL, &ins[i]);
	struct inspect_all pump = { ins, n };
	struct migrations_tick tick = { inspect_pump_all, &pump };
	/* down.sql and verify.sql that did not change since the last plan are not read again (sumcache.h) */
	if (!rc) {
		char *sums_path = xstrfmt("%s/.padctl/sums", p->root);
		rc = migrations_load_cached(p->migrations_dir, sums_path, &tick, &set);
		free(sums_path);
	}
	char *id = ledger_new_run_id();
	struct plan plan;
	plan_init(&plan, p, &env, &pl, n);
	struct plan_lint *lint = xcalloc(n ? n : 1, sizeof *lint);
	if (!rc)
		rc = plan_digest_files(&plan, &env, &pl);
	/* the ledger target's connection stays open to record the plan: a second connection costs a server process */
	const struct cfg_target *lt = plan_ledger_target(&env);
	struct db *ledger_db = NULL;
	int lint_refused = 0; /* the plan stopped at a target's lint errors: --json still shows them */
	const struct plan_target *ledger_seen = NULL; /* what ledger_db found */
	for (size_t i = 0; !rc && i < n; i++) {
		ins[i].allow_ooo = allow_ooo;
		inspect_finish(&ins[i], &set, 1);
		if (!ins[i].reachable) {
			fail("cannot plan for target \"%s\": it is not reachable", targets[i]->name);
			fail_detail("%s", ins[i].error);
			rc = -1;
		} else if (ins[i].identity_error) {
			fail("cannot plan for target \"%s\": identity mismatch", targets[i]->name);
			fail_detail("%s", ins[i].identity_error);
			rc = -1;
		} else if (ins[i].plan_failed) {
			rc = err_pending() ? -1 : fail("could not build the plan for target \"%s\"", targets[i]->name);
		} else {
			rc = pipeline_check_migrations(&ins[i].plan.mig, targets[i]->name, allow_ooo);
			/* lint reads what the target knows (pg_proc); what it needs of the
			 * session (version, search_path, user) came with the first message */
			const struct lint_session known = { ins[i].search_path, ins[i].current_user,
							    ins[i].server_version_num };
			if (!rc)
				rc = plan_lint_target(p, &env, &ins[i].plan, ins[i].db, &known, &lint[i]);
			if (!rc && (rc = plan_lint_refuse(&lint[i], targets[i]->name, "plan")) != 0)
				lint_refused = 1;
			/* each step's check(), read-only, on this target */
			if (!rc)
				rc = pipeline_check_steps(p, &env, &pl, steps, targets[i], ins[i].db, &ins[i].plan, id);
			/* the target's part moves into the plan */
			plan.targets[i] = ins[i].plan;
			memset(&ins[i].plan, 0, sizeof ins[i].plan);
			if (!rc && targets[i] == lt) {
				ledger_db = ins[i].db;
				ledger_seen = &plan.targets[i];
				ins[i].db = NULL;
			}
		}
		inspect_release(&ins[i]);
	}
	for (size_t i = 0; i < n; i++)
		inspect_release(&ins[i]);
	free(ins);
	if (rc && lint_refused && ctx->json) {
		json_t *doc = json_refused(&plan, lint);
		char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		if (s)
			puts(s);
		free(s);
		json_decref(doc);
	}
	char hash[65] = "";
	char *bytes = NULL;
	size_t len = 0;
	if (!rc)
		rc = plan_bytes(&plan, &bytes, &len);
	char *principal = NULL, *fpr = NULL, *sig = NULL;
	char now[32];
	sign_now(now);
	struct sign_fields f = { "request", env.name, id, hash, NULL, now, NULL };
	if (!rc) {
		/* the hash covers every byte of the body; the id and hash themselves stay outside it */
		plan_hash(bytes, len, hash);
		/* signed before anything is recorded: a key that may not request records nothing */
		if (key)
			rc = sign_request(&pl, key, &f, &principal, &fpr, &sig);
		if (!rc)
			rc = plan_store(p, &env, id, hash, bytes, &ledger_db, ledger_seen);
		if (!rc && key)
			rc = plan_sig_add(p, &env, &f, principal, fpr, sig, &plan);
	}
	/* --out gets exactly the hashed bytes: sha256sum of the file is the hash */
	if (!rc && out && fs_write_atomic(out, bytes, len, 0644)) {
		fail_detail("the plan %s was recorded; only writing the file failed", id);
		rc = fail_hint("check that the directory exists and is writable");
	}
	if (!rc && ctx->json) {
		json_t *doc = json_doc(&plan, lint, id, hash, bytes);
		char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		if (s)
			puts(s);
		else if (!err_pending())
			rc = fail("cannot serialise the plan (out of memory?)");
		else
			rc = -1;
		free(s);
		json_decref(doc);
	} else if (!rc) {
		print_text(&plan, lint, id, hash);
		printf("\nrecorded plan %s (hash sha256:%s)%s%s\n", id, hash, out ? ", written to " : "",
		       out ? out : "");
		if (key)
			printf("requested by %s (key %s); approve with `padctl approve %s --key KEY`\n", principal,
			       fpr ? fpr : "?", id);
		else if (pl.signers)
			log_warn("plan %s is not signed: pipeline \"%s\" needs approvals, so only a plan recorded with "
				 "`padctl plan %s --key KEY` can be approved and deployed",
				 id, pl.name, env.name);
	}
	free(principal);
	free(fpr);
	free(sig);
	db_close(ledger_db);
	free(bytes);
	free(id);
	for (size_t i = 0; i < n; i++)
		plan_lint_release(&lint[i]);
	free(lint);
	free(steps);
	plugin_registry_release(&reg);
	plan_release(&plan);
	free(targets);
	migrations_release(&set);
	cmd_env_release(&env, &pl);
	return rc;
}

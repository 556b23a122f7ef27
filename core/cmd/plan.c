#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "db.h"
#include "inspect.h"
#include "ledger.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"
#include "target.h"

static char *sha256_hex(const char *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
		/* a plan's hash is how an approval names it: never record one made of garbage */
		fprintf(stderr, "padctl: fatal: could not compute a SHA-256 digest (OpenSSL failed)\n");
		exit(EXIT_STEP);
	}
	struct buf b = BUF_INIT;
	for (unsigned i = 0; i < n; i++)
		buf_addf(&b, "%02x", md[i]);
	return buf_detach(&b);
}

/* put sets obj[key] = value and remembers in *err when a constructor failed
 * (jansson returns NULL for a string that is not valid UTF-8, and on memory
 * exhaustion): a plan must never be recorded or printed with a hole in it. */
static void put(json_t *obj, const char *key, json_t *value, int *err)
{
	if (!obj) {
		json_decref(value);
		*err = 1;
	} else if (!value || json_object_set_new(obj, key, value) != 0) {
		*err = 1;
	}
}

/* str is json_string that names what it could not encode */
static json_t *str(const char *s, int *err)
{
	json_t *v = s ? json_string(s) : json_null();
	if (!v && !*err) {
		/* quote it with the bad bytes escaped: they are what the terminal cannot show */
		struct buf b = BUF_INIT;
		for (const unsigned char *p = (const unsigned char *)s; *p && b.len < 200; p++) {
			if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
				buf_addf(&b, "\\x%02x", *p);
			else
				buf_add(&b, (const char *)p, 1);
		}
		fail("cannot put \"%s\" into the plan: it is not valid UTF-8", buf_str(&b));
		buf_release(&b);
		fail_hint("rename the file or directory, or save its text as UTF-8");
		fail_status(EXIT_USAGE);
	}
	if (!v)
		*err = 1;
	return v;
}

static void append(json_t *arr, json_t *value, int *err)
{
	if (!arr) {
		json_decref(value);
		*err = 1;
	} else if (!value || json_array_append_new(arr, value) != 0) {
		*err = 1;
	}
}

/* file_digest adds {path: sha256} of a file the plan covers; a missing file is null */
static int file_digest(json_t *obj, const char *key, const char *path)
{
	int err = 0;
	if (!path) {
		put(obj, key, json_null(), &err);
		return err ? -1 : 0;
	}
	char *text = NULL;
	size_t len = 0;
	if (read_text_file(path, &text, &len))
		return -1;
	char hex[65];
	migration_checksum(text, len, hex);
	put(obj, key, json_string(hex), &err);
	free(text);
	return err ? -1 : 0;
}

static json_t *migration_json(const struct mig_status *s, int *err)
{
	json_t *m = json_object();
	put(m, "version", str(s->m->version, err), err);
	put(m, "name", str(s->m->name, err), err);
	put(m, "action", str(s->state == MIG_TO_SKIP ? "skip" : "apply", err), err);
	put(m, "transactional", json_boolean(s->m->transactional), err);
	put(m, "up_sha256", str(s->m->checksum, err), err);
	if (!m || file_digest(m, "down_sha256", s->m->down_path) ||
	    file_digest(m, "verify_sha256", s->m->verify_path))
		*err = 1;
	if (s->skip_reason)
		put(m, "reason", str(s->skip_reason, err), err);
	put(m, "path", str(s->m->up_path, err), err);
	put(m, "sql", str(s->state == MIG_TO_SKIP ? "" : s->m->up_sql, err), err);
	return m;
}

static json_t *target_json(const struct inspection *ins, int allow_ooo, int *err)
{
	json_t *o = json_object();
	put(o, "target", str(ins->t->name, err), err);
	json_t *hist = json_array();
	for (size_t i = 0; i < ins->history.n; i++) {
		const struct history_row *r = &ins->history.v[i];
		json_t *row = json_object();
		put(row, "version", str(r->version, err), err);
		put(row, "checksum", str(r->checksum, err), err);
		put(row, "status", str(r->status, err), err);
		append(hist, row, err);
	}
	put(o, "history", hist, err);
	json_t *todo = json_array();
	for (size_t i = 0; i < ins->plan.n; i++) {
		const struct mig_status *s = &ins->plan.v[i];
		if (s->state == MIG_PENDING || s->state == MIG_TO_SKIP || (s->state == MIG_OUT_OF_ORDER && allow_ooo))
			append(todo, migration_json(s, err), err);
	}
	put(o, "migrations", todo, err);
	return o;
}

static void print_text(const json_t *body, const char *id, const char *hash)
{
	printf("plan %s for env %s\nhash sha256:%s\n", id, json_string_value(json_object_get(body, "env")), hash);
	size_t i, k;
	json_t *t, *m;
	json_array_foreach(json_object_get(body, "targets"), i, t) {
		json_t *migs = json_object_get(t, "migrations");
		printf("\ntarget %s: %zu migration%s\n", json_string_value(json_object_get(t, "target")),
		       json_array_size(migs), json_array_size(migs) == 1 ? "" : "s");
		json_array_foreach(migs, k, m) {
			const char *action = json_string_value(json_object_get(m, "action"));
			/* names and paths are escaped (buf_add_printable): one cannot forge a line of the plan */
			char *version = xstrprintable(json_string_value(json_object_get(m, "version")));
			char *name = xstrprintable(json_string_value(json_object_get(m, "name")));
			printf("-- %s %s_%s", action, version, name);
			free(version);
			free(name);
			if (strcmp(action, "skip") == 0) {
				char *reason = xstrprintable(json_string_value(json_object_get(m, "reason")));
				printf(" (%s)\n", reason);
				free(reason);
				continue;
			}
			char *path = xstrprintable(json_string_value(json_object_get(m, "path")));
			printf("%s  [%s]\n", json_is_true(json_object_get(m, "transactional")) ? "" : " (no transaction)",
			       path);
			free(path);
			const char *sql = json_string_value(json_object_get(m, "sql"));
			size_t len = strlen(sql);
			printf("%s%s", sql, len && sql[len - 1] == '\n' ? "" : "\n");
		}
	}
}

static int record_plan(const struct cfg_project *p, const struct cfg_env *env, const char *id, const char *hash,
		       const char *body)
{
	const struct cfg_target *lt = env->ledger ? config_env_target(env, env->ledger) : &env->targets[0];
	struct db *db = NULL;
	int rc = target_open_write(p, env->name, lt, "plan", id, 10000, &db);
	if (!rc) {
		rc = ledger_plan_add(db, id, env->name, hash, body);
		ledger_unlock(db);
	}
	db_close(db);
	if (rc)
		fail_detail("the plan was not recorded (plans are kept in the ledger of target \"%s\")", lt->name);
	return rc;
}

int cmd_plan(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *out = NULL, *target = NULL;
	int allow_ooo = 0;
	const struct cmd_opt opts[] = {
		{ "out", 1, NULL, &out },
		{ "target", 1, NULL, &target },
		{ "allow-out-of-order", 0, &allow_ooo, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--out FILE] [--target T] [--allow-out-of-order]"))
		return -1;
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (cmd_env(ctx, pos[0], &p, &env, &pl))
		return -1;
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
	free(steps);
	plugin_registry_release(&reg);
	if (!rc)
		rc = migrations_load(p->migrations_dir, &set);
	if (!rc)
		rc = pipeline_targets(&env, &pl, target, &targets, &n);
	char *id = ledger_new_run_id();
	json_t *body = json_object();
	int err = 0;
	put(body, "padctl_plan", json_integer(1), &err);
	put(body, "project", str(p->name, &err), &err);
	put(body, "env", str(env.name, &err), &err);
	put(body, "pipeline", str(pl.name, &err), &err);
	if (!rc && (err || file_digest(body, "env_sha256", env.file) || file_digest(body, "pipeline_sha256", pl.file)))
		rc = -1;
	json_t *tarr = json_array();
	put(body, "targets", json_incref(tarr), &err);
	for (size_t i = 0; !rc && i < n; i++) {
		struct inspection ins;
		inspect_target(p, &env, targets[i], &set, "plan", 0, &ins);
		if (!ins.reachable) {
			fail("cannot plan for target \"%s\": it is not reachable", targets[i]->name);
			fail_detail("%s", ins.error);
			rc = -1;
		} else if (ins.identity_error) {
			fail("cannot plan for target \"%s\": identity mismatch", targets[i]->name);
			fail_detail("%s", ins.identity_error);
			rc = -1;
		} else {
			rc = pipeline_check_migrations(&ins.plan, targets[i]->name, allow_ooo);
			append(tarr, target_json(&ins, allow_ooo, &err), &err);
		}
		inspect_release(&ins);
	}
	json_decref(tarr);
	if (err) {
		if (!err_pending())
			fail("cannot build the plan (out of memory?)");
		rc = -1;
	}
	char *hash = NULL, *canon = NULL;
	if (!rc) {
		/* the hash covers everything in the body; the id and hash themselves stay outside it */
		canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
		if (!canon)
			rc = fail("cannot serialise the plan (out of memory?)");
		else {
			hash = sha256_hex(canon, strlen(canon));
			rc = record_plan(p, &env, id, hash, canon);
		}
	}
	json_t *doc = NULL;
	if (!rc && !(doc = json_pack("{s:s, s:s, s:O}", "id", id, "hash", hash, "plan", body)))
		rc = fail("cannot build the plan document (out of memory?)");
	if (!rc) {
		if (out) {
			if (json_dump_file(doc, out, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
				fail("cannot write the plan to \"%s\"", out);
				rc = fail_hint("check that the directory exists and is writable");
			}
		}
		if (ctx->json) {
			char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
			if (s)
				puts(s);
			else
				rc = fail("cannot serialise the plan (out of memory?)");
			free(s);
		} else {
			print_text(body, id, hash);
			printf("\nrecorded plan %s (hash sha256:%s)%s%s\n", id, hash, out ? ", written to " : "",
			       out ? out : "");
		}
	}
	json_decref(doc);
	free(canon);
	free(hash);
	free(id);
	json_decref(body);
	free(targets);
	migrations_release(&set);
	cmd_env_release(&env, &pl);
	return rc;
}

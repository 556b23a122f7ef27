#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backups.h"
#include "buf.h"
#include "cmd.h"
#include "db.h"
#include "identity.h"
#include "ledger.h"
#include "log.h"
#include "pipeline.h"
#include "remote.h"
#include "target.h"

/* file_state says what is at a recorded path now. */
static const char *file_state(const char *path)
{
	struct stat st;
	if (!path)
		return "none";
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? "missing" : "unreadable";
	return S_ISREG(st.st_mode) ? "present" : "not a file";
}

/* The SSH host of a target whose backups are kept there, opened at the
 * first such backup listed; a failure is said once and each of those
 * backups is "unreadable". */
struct kept {
	const struct cfg_target *t;
	char *location; /* remote_location of the target's ssh section, or NULL */
	struct remote *r;
	int failed;
	char *why; /* why the host could not be reached */
};

static struct remote *kept_open(struct kept *k)
{
	if (k->r || k->failed)
		return k->r;
	struct err_scope scope;
	err_scope_push(&scope);
	enum remote_stage stage;
	if (remote_open(k->t->ssh, k->t->name, k->t->db.connect_timeout, &k->r, &stage)) {
		k->failed = 1;
		k->why = xstrdup(err_message() ? err_message() : "could not reach the SSH host");
	}
	err_scope_pop(&scope, ERR_DISCARD);
	return k->r;
}

/* remote_state says what is at a path recorded on the SSH host host */
static const char *remote_state(struct kept *k, const char *host, const char *path)
{
	if (!k->location || strcmp(k->location, host) != 0)
		return "on another host";
	struct remote *r = kept_open(k);
	if (!r)
		return "unreadable";
	struct err_scope scope;
	err_scope_push(&scope);
	struct remote_stat st;
	const char *state = remote_lstat(r, path, &st) ? "unreadable"
			    : !st.exists	       ? "missing"
			    : st.regular	       ? "present"
						       : "not a file";
	err_scope_pop(&scope, ERR_DISCARD);
	return state;
}

/* check_remote re-checks a backup kept on the SSH host there: size and
 * SHA-256 (sha256sum on the host), then pg_restore --list run there */
static int check_remote(struct kept *k, PGresult *res, int i, int major)
{
	const char *path = PQgetvalue(res, i, 1), *host = PQgetvalue(res, i, 13);
	if (!k->location || strcmp(k->location, host) != 0) {
		fail("backup file \"%s\" is kept on the ssh host %s, which target \"%s\" does not name now", path, host,
		     k->t->name);
		return fail_detail("its ssh section names %s", k->location ? k->location : "no SSH host");
	}
	struct remote *r = kept_open(k);
	if (!r)
		return fail("%s", k->why);
	if (remote_dump_check(r, path, PQgetvalue(res, i, 2), PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3)))
		return -1;
	const char *const args[] = { "--list", path, NULL };
	struct buf err = BUF_INIT;
	struct remote_tool_opts o;
	memset(&o, 0, sizeof o);
	o.ssh = k->t->ssh;
	o.target = k->t->name;
	o.connect_timeout_s = k->t->db.connect_timeout;
	o.tool = "pg_restore";
	o.major = major;
	o.args = args;
	o.timeout_ms = 10L * 60 * 1000;
	o.err = &err;
	int code = -1;
	char *version = NULL;
	int rc = remote_tool_run(&o, &code, &version);
	free(version);
	if (!rc && code != 0) {
		while (err.len && err.s[err.len - 1] == '\n')
			err.s[--err.len] = '\0';
		fail("pg_restore --list on the SSH host could not read backup file \"%s\" (exit status %d)", path,
		     code);
		if (err.len)
			fail_detail("%s", err.s);
		rc = -1;
	}
	buf_release(&err);
	return rc;
}

static const char *human_size(const char *bytes, char *buf, size_t size)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = strtod(bytes, NULL);
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

/* check_one re-checks a backup: the file's SHA-256 and size against the
 * ledger, then pg_restore --list; *why is the failure (newly allocated). */
static int check_one(struct kept *k, PGresult *res, int i, int major, char **why)
{
	*why = NULL;
	if (strcmp(PQgetvalue(res, i, 4), "t") != 0) {
		*why = xstrdup("never verified: it does not count");
		return -1;
	}
	if (PQgetisnull(res, i, 1))
		return 0;
	struct err_scope scope;
	err_scope_push(&scope);
	const char *path = PQgetvalue(res, i, 1);
	int rc;
	if (!PQgetisnull(res, i, 13)) {
		rc = check_remote(k, res, i, major);
	} else {
		rc = backups_file_check(path, PQgetvalue(res, i, 2),
					PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
		if (!rc)
			rc = backups_restore_list(major, path);
	}
	if (rc) {
		struct buf b = BUF_INIT;
		buf_adds(&b, err_message() ? err_message() : "failed");
		if (err_detail())
			buf_addf(&b, ": %s", err_detail());
		*why = buf_detach(&b);
	}
	err_scope_pop(&scope, ERR_DISCARD);
	return rc;
}

static int target_backups(const struct cfg_project *p, const char *env, const struct cfg_target *t, int verify,
			  json_t *arr, int *failed)
{
	struct db *db = NULL;
	if (target_connect(p, t, "backups", NULL, 1, &db))
		return -1;
	/* another server's records must not be shown as this target's (known_targets) */
	if (identity_check(p, env, t, db, 0)) {
		db_close(db);
		return -1;
	}
	int exists = 0, have = 0;
	int rc = ledger_exists(db, &exists);
	if (!rc && exists)
		rc = ledger_check(db);
	if (!rc && exists)
		rc = backups_have_table(db, &have);
	PGresult *res = NULL;
	if (!rc && have)
		rc = backups_list(db, t->name, NULL, &res);
	int major = PQserverVersion(db->conn) / 10000;
	struct kept k = { t, t->ssh ? remote_location(t->ssh) : NULL, NULL, 0, NULL };
	int shown = 0;
	for (int i = 0; !rc && res && i < PQntuples(res); i++)
		shown += PQgetisnull(res, i, 12) || strcmp(PQgetvalue(res, i, 12), env) == 0;
	if (!rc && !arr)
		printf("target %s:%s\n", t->name, shown ? "" : " no backups recorded");
	for (int i = 0; !rc && res && i < PQntuples(res); i++) {
		/* a database two envs share: show this env's runs only */
		if (!PQgetisnull(res, i, 12) && strcmp(PQgetvalue(res, i, 12), env) != 0)
			continue;
		const char *path = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
		int pruned = strcmp(PQgetvalue(res, i, 5), "t") == 0;
		int verified = strcmp(PQgetvalue(res, i, 4), "t") == 0;
		const char *host = PQgetisnull(res, i, 13) ? NULL : PQgetvalue(res, i, 13);
		/* a pruned backup's file is gone: the SSH host is not asked again */
		const char *state = !path || !host ? file_state(path)
				    : pruned	   ? "deleted"
						   : remote_state(&k, host, path);
		char *why = NULL;
		int checked = verify && !pruned;
		int bad = checked && check_one(&k, res, i, major, &why);
		*failed += bad;
		if (arr) {
			json_t *o = json_object();
			json_object_set_new(o, "target", json_string(t->name));
			json_object_set_new(o, "run", json_string(PQgetvalue(res, i, 0)));
			json_object_set_new(o, "started_at", json_string(PQgetvalue(res, i, 8)));
			json_object_set_new(o, "finished_at", json_string(PQgetvalue(res, i, 9)));
			json_object_set_new(o, "path", path ? json_string(path) : json_null());
			json_object_set_new(o, "host", host ? json_string(host) : json_null());
			json_object_set_new(o, "size", json_integer(strtoll(PQgetvalue(res, i, 2), NULL, 10)));
			json_object_set_new(o, "sha256",
					    PQgetisnull(res, i, 3) ? json_null() : json_string(PQgetvalue(res, i, 3)));
			json_object_set_new(o, "schemas", json_string(PQgetvalue(res, i, 6)));
			json_object_set_new(o, "pg_dump",
					    PQgetisnull(res, i, 7) ? json_null() : json_string(PQgetvalue(res, i, 7)));
			json_object_set_new(o, "verified", json_boolean(verified));
			json_object_set_new(o, "pruned", json_boolean(pruned));
			json_object_set_new(o, "pruned_at",
					    PQgetisnull(res, i, 10) ? json_null()
								    : json_string(PQgetvalue(res, i, 10)));
			json_object_set_new(o, "file", json_string(state));
			if (checked)
				json_object_set_new(o, "check", json_string(bad ? why : "ok"));
			json_array_append_new(arr, o);
		} else {
			/* the ledger's text is escaped: a recorded path cannot forge a line */
			char *f[4];
			f[0] = xstrprintable(PQgetvalue(res, i, 0));
			char *shown_path = !path  ? xstrdup("(nothing dumped: no owned schema existed)")
					   : host ? xstrfmt("%s (on the ssh host %s)", path, host)
						  : xstrdup(path);
			f[1] = xstrprintable(shown_path);
			free(shown_path);
			f[2] = xstrprintable(PQgetisnull(res, i, 3) ? "-" : PQgetvalue(res, i, 3));
			f[3] = xstrprintable(PQgetvalue(res, i, 6));
			char size[32];
			printf("  %s  %s  %9s  sha256 %.12s  %s  file %s\n", f[0], PQgetvalue(res, i, 8),
			       human_size(PQgetvalue(res, i, 2), size, sizeof size), f[2],
			       pruned	  ? "pruned"
			       : verified ? "verified"
					  : "NOT verified",
			       pruned && !strcmp(state, "missing") ? "deleted" : state);
			printf("      %s  schemas: %s\n", f[1], *f[3] ? f[3] : "-");
			if (checked) {
				char *w = xstrprintable(why);
				printf("      check: %s\n",
				       bad    ? w
				       : path ? "ok (sha256 and size match, pg_restore --list reads it)"
					      : "ok (nothing was dumped)");
				free(w);
			}
			for (int c = 0; c < 4; c++)
				free(f[c]);
		}
		free(why);
	}
	if (k.why && !arr) {
		char *w = xstrprintable(k.why);
		printf("  (the ssh host could not be reached: %s)\n", w);
		free(w);
	}
	remote_close(k.r);
	free(k.location);
	free(k.why);
	PQclear(res);
	db_close(db);
	return rc;
}

int cmd_backups(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *target = NULL;
	int verify = 0, json = 0;
	const struct cmd_opt opts[] = {
		{ "target", 1, NULL, &target },
		{ "verify", 0, &verify, NULL },
		{ "json", 0, &json, NULL },
		{ NULL, 0, NULL, NULL },
	};
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--target T] [--verify] [--json]"))
		return -1;
	ctx->json |= json;
	const struct cfg_project *p;
	struct cfg_env env;
	if (cmd_env(ctx, pos[0], &p, &env, NULL))
		return -1;
	const struct cfg_target **targets = NULL;
	size_t n = 0;
	int rc = pipeline_targets(&env, NULL, target, &targets, &n);
	json_t *arr = ctx->json ? json_array() : NULL;
	int failed = 0;
	for (size_t i = 0; !rc && i < n; i++)
		rc = target_backups(p, env.name, targets[i], verify, arr, &failed);
	if (!rc && arr) {
		json_t *doc = json_pack("{s:s, s:O}", "env", env.name, "backups", arr);
		if (verify)
			json_object_set_new(doc, "failed", json_integer(failed));
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
		json_decref(doc);
	}
	if (!rc && failed) {
		fail("%d backup%s of env \"%s\" failed verification", failed, failed == 1 ? "" : "s", env.name);
		fail_detail("each is listed above with what is wrong");
		rc = fail_hint("a changed or unreadable backup cannot be restored: take a new one (`backup: {always: "
			       "true}` in the pipeline) and find out who changed the file");
	}
	json_decref(arr);
	free(targets);
	cmd_env_release(&env, NULL);
	return rc;
}

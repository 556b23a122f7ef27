#include "plan.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "ledger.h"
#include "log.h"
#include "sql.h"
#include "target.h"

/* the identity, sent ahead of the history in the same message */
#define IDENTITY_SQL "SELECT system_identifier::text, current_database() FROM pg_control_system()"

void plan_init(struct plan *pl, const struct cfg_project *p, const struct cfg_env *env,
	       const struct cfg_pipeline *pipeline, size_t ntargets)
{
	memset(pl, 0, sizeof *pl);
	pl->project = p ? p->name : NULL;
	pl->env = env ? env->name : NULL;
	pl->pipeline = pipeline ? pipeline->name : NULL;
	pl->targets = xcalloc(ntargets ? ntargets : 1, sizeof *pl->targets);
	pl->ntargets = ntargets;
}

/* file_sha256 is the checksum of a migration file, line endings normalised */
static int file_sha256(const char *path, char out[65])
{
	out[0] = '\0';
	if (!path)
		return 0;
	char *text = NULL;
	size_t len = 0;
	if (read_text_file(path, &text, &len))
		return -1;
	migration_checksum(text, len, out);
	free(text);
	return 0;
}

int plan_digest_files(struct plan *pl, const struct cfg_env *env, const struct cfg_pipeline *pipeline)
{
	if (file_sha256(env ? env->file : NULL, pl->env_sha256))
		return -1;
	return file_sha256(pipeline ? pipeline->file : NULL, pl->pipeline_sha256);
}

int plan_read_target(struct db *db, char **system_id, char **dbname, struct history *h)
{
	*system_id = *dbname = NULL;
	memset(h, 0, sizeof *h);
	if (ledger_history_send(db, IDENTITY_SQL, 1))
		return -1;
	PGresult *res = PQgetResult(db->conn);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fail("could not read the server's identity on %s", db->label);
		fail_detail("%s", res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
		PQclear(res);
		for (PGresult *more; (more = PQgetResult(db->conn));)
			PQclear(more);
		return -1;
	}
	*system_id = xstrdup(PQgetvalue(res, 0, 0));
	*dbname = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (ledger_history_recv(db, h)) {
		free(*system_id);
		free(*dbname);
		*system_id = *dbname = NULL;
		return -1;
	}
	return 0;
}

int plan_target_build(struct plan_target *pt, const struct cfg_target *t, const char *system_id, const char *dbname,
		      struct history *h, const struct migration_set *set, const struct cfg_env *env, int allow_ooo)
{
	memset(pt, 0, sizeof *pt);
	pt->t = t;
	pt->system_id = system_id ? xstrdup(system_id) : NULL;
	pt->dbname = dbname ? xstrdup(dbname) : NULL;
	pt->history = *h;
	memset(h, 0, sizeof *h);
	mig_plan_build(set, &pt->history, env, &pt->mig);
	pt->todo = xcalloc(pt->mig.n ? pt->mig.n : 1, sizeof *pt->todo);
	for (size_t i = 0; i < pt->mig.n; i++) {
		const struct mig_status *s = &pt->mig.v[i];
		if (s->state != MIG_PENDING && s->state != MIG_TO_SKIP && !(s->state == MIG_OUT_OF_ORDER && allow_ooo))
			continue;
		struct plan_mig *m = &pt->todo[pt->ntodo++];
		m->m = s->m;
		m->skip_reason = s->state == MIG_TO_SKIP ? s->skip_reason : NULL;
		memcpy(m->down_sha256, s->m->down_sha256, sizeof m->down_sha256);
		memcpy(m->verify_sha256, s->m->verify_sha256, sizeof m->verify_sha256);
	}
	return 0;
}

void plan_target_release(struct plan_target *pt)
{
	free(pt->system_id);
	free(pt->dbname);
	free(pt->todo);
	mig_plan_release(&pt->mig);
	history_release(&pt->history);
	memset(pt, 0, sizeof *pt);
}

void plan_release(struct plan *pl)
{
	for (size_t i = 0; pl->targets && i < pl->ntargets; i++)
		plan_target_release(&pl->targets[i]);
	free(pl->targets);
	memset(pl, 0, sizeof *pl);
}

/* Writing the canonical bytes. They are what json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) makes of the plan's document (plan_canonical re-derives
 * them that way, and the unit tests check that the two agree), written
 * straight into one buffer: building a jansson tree of a thousand migrations
 * and sorting each object's keys cost plan more than reading the files.
 * Keys are therefore written in strcmp order by hand. A string that is not
 * UTF-8 (jansson would refuse it) fails the plan: it is never hashed with a
 * hole in it. */
struct jw {
	struct buf b;
	int err;
};

/* str writes s as a JSON string the way jansson's dump escapes it (", \ and
 * control characters; "/" and non-ASCII as they are), NULL as null */
static void str(struct jw *w, const char *s)
{
	if (!s) {
		buf_adds(&w->b, "null");
		return;
	}
	size_t n = strlen(s);
	if (utf8_invalid_at(s, n) != n) {
		if (!w->err) {
			/* quote it with the bad bytes escaped: they are what the terminal cannot show */
			struct buf e = BUF_INIT;
			buf_add_escaped(&e, s, "\"\\", BUF_ESC_HIGH, 200);
			fail("cannot put \"%s\" into the plan: it is not valid UTF-8", buf_str(&e));
			buf_release(&e);
			fail_hint("rename the file or directory, or save its text as UTF-8");
			fail_status(EXIT_USAGE);
		}
		w->err = 1;
		return;
	}
	buf_addch(&w->b, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		buf_add(&w->b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': buf_adds(&w->b, "\\\""); break;
		case '\\': buf_adds(&w->b, "\\\\"); break;
		case '\b': buf_adds(&w->b, "\\b"); break;
		case '\f': buf_adds(&w->b, "\\f"); break;
		case '\n': buf_adds(&w->b, "\\n"); break;
		case '\r': buf_adds(&w->b, "\\r"); break;
		case '\t': buf_adds(&w->b, "\\t"); break;
		default: buf_addf(&w->b, "\\u%04X", c); break;
		}
	}
	buf_add(&w->b, s + run, n - run);
	buf_addch(&w->b, '"');
}

/* jkey writes "name": after a comma (first 0), after the object's opening
 * brace (first -1), or as it is (first 1: the caller opened the object) */
static void jkey(struct jw *w, const char *name, int first)
{
	buf_adds(&w->b, first < 0 ? "{" : first ? "" : ",");
	buf_addch(&w->b, '"');
	buf_adds(&w->b, name);
	buf_adds(&w->b, "\":");
}

static void digest(struct jw *w, const char *hex)
{
	/* a checksum padctl computed is 64 lowercase hex digits: nothing to
	 * check or escape (a plan holds thousands); anything else goes through str */
	if (strnlen(hex, 65) == 64 && hash_is_hex(hex, 64)) {
		buf_addch(&w->b, '"');
		buf_add(&w->b, hex, 64);
		buf_addch(&w->b, '"');
		return;
	}
	str(w, *hex ? hex : NULL);
}

static void target_json(struct jw *w, const struct plan_target *pt)
{
	/* keys in strcmp order */
	jkey(w, "backfills", 1);
	buf_adds(&w->b, "[]");
	jkey(w, "backups", 0);
	buf_adds(&w->b, "[]");
	jkey(w, "dbname", 0);
	str(w, pt->dbname);
	jkey(w, "history", 0);
	buf_addch(&w->b, '[');
	for (size_t i = 0; i < pt->history.n; i++) {
		const struct history_row *r = &pt->history.v[i];
		if (i)
			buf_addch(&w->b, ',');
		jkey(w, "checksum", -1);
		str(w, r->checksum);
		jkey(w, "status", 0);
		str(w, r->status);
		jkey(w, "version", 0);
		str(w, r->version);
		buf_addch(&w->b, '}');
	}
	buf_addch(&w->b, ']');
	/* room for what later versions plan per target */
	jkey(w, "lint", 0);
	buf_adds(&w->b, "[]");
	jkey(w, "migrations", 0);
	buf_addch(&w->b, '[');
	for (size_t i = 0; i < pt->ntodo; i++) {
		const struct plan_mig *pm = &pt->todo[i];
		if (i)
			buf_addch(&w->b, ',');
		jkey(w, "action", -1);
		str(w, pm->skip_reason ? "skip" : "apply");
		jkey(w, "down_sha256", 0);
		digest(w, pm->down_sha256);
		jkey(w, "name", 0);
		str(w, pm->m->name);
		if (pm->skip_reason) {
			jkey(w, "reason", 0);
			str(w, pm->skip_reason);
		}
		jkey(w, "transactional", 0);
		buf_adds(&w->b, pm->m->transactional ? "true" : "false");
		jkey(w, "up_sha256", 0);
		if (*pm->m->checksum)
			digest(w, pm->m->checksum);
		else
			str(w, pm->m->checksum);
		jkey(w, "verify_sha256", 0);
		digest(w, pm->verify_sha256);
		jkey(w, "version", 0);
		str(w, pm->m->version);
		buf_addch(&w->b, '}');
	}
	buf_addch(&w->b, ']');
	jkey(w, "seeds", 0);
	buf_adds(&w->b, "[]");
	jkey(w, "system_id", 0);
	str(w, pt->system_id);
	jkey(w, "target", 0);
	str(w, pt->t ? pt->t->name : NULL);
}

/* dump writes the canonical bytes of a built document */
static int dump(json_t *doc, char **bytes, size_t *len)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		return fail("cannot serialise the plan (out of memory?)");
	size_t n = strlen(s);
	*bytes = xmalloc(n + 2);
	memcpy(*bytes, s, n);
	(*bytes)[n] = '\n';
	(*bytes)[n + 1] = '\0';
	*len = n + 1;
	free(s);
	return 0;
}

int plan_bytes(const struct plan *pl, char **bytes, size_t *len)
{
	*bytes = NULL;
	*len = 0;
	struct jw w = { BUF_INIT, 0 };
	jkey(&w, "env", -1);
	str(&w, pl->env);
	jkey(&w, "env_sha256", 0);
	digest(&w, pl->env_sha256);
	jkey(&w, "padctl_plan", 0);
	buf_addf(&w.b, "%d", PLAN_FORMAT);
	jkey(&w, "pipeline", 0);
	str(&w, pl->pipeline);
	jkey(&w, "pipeline_sha256", 0);
	digest(&w, pl->pipeline_sha256);
	jkey(&w, "project", 0);
	str(&w, pl->project);
	jkey(&w, "targets", 0);
	buf_addch(&w.b, '[');
	for (size_t i = 0; i < pl->ntargets; i++) {
		if (i)
			buf_addch(&w.b, ',');
		buf_addch(&w.b, '{');
		target_json(&w, &pl->targets[i]);
		buf_addch(&w.b, '}');
	}
	buf_adds(&w.b, "]}\n");
	if (w.err) {
		buf_release(&w.b);
		return err_pending() ? -1 : fail("cannot build the plan (out of memory?)");
	}
	*len = w.b.len;
	*bytes = buf_detach(&w.b);
	return 0;
}

/* has_real tells whether a document holds a number with a fraction or exponent */
static int has_real(const json_t *v)
{
	if (json_is_real(v))
		return 1;
	size_t i;
	const char *k;
	json_t *e;
	if (json_is_array(v)) {
		json_array_foreach (v, i, e)
			if (has_real(e))
				return 1;
	} else if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, e)
			if (has_real(e))
				return 1;
	}
	return 0;
}

int plan_canonical(const char *text, size_t len, char **bytes, size_t *out_len)
{
	*bytes = NULL;
	*out_len = 0;
	json_error_t e;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!doc) {
		fail("not a plan: invalid JSON at line %d, column %d", e.line, e.column);
		return fail_detail("%s", e.text);
	}
	int rc;
	if (has_real(doc))
		rc = fail("not a plan: it holds a number that is not an integer");
	else
		rc = dump(doc, bytes, out_len);
	json_decref(doc);
	return rc;
}

void plan_hash(const char *bytes, size_t len, char hex[65])
{
	struct hash_sha256 h;
	hash_sha256_init(&h);
	hash_sha256_update(&h, bytes, len);
	if (hash_sha256_final(&h, hex)) {
		/* a plan's hash is how an approval names it: never record one made of garbage */
		fprintf(stderr, "padctl: fatal: could not compute a SHA-256 digest (OpenSSL failed)\n");
		exit(EXIT_STEP);
	}
}

/* Differences, for the refusal of a plan that no longer holds. */
struct differ {
	struct buf out;
	int lines, max, more;
};

static void show(struct buf *b, const json_t *v)
{
	if (!v) {
		buf_adds(b, "(absent)");
		return;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!s) {
		buf_adds(b, "?");
		return;
	}
	size_t n = strlen(s);
	if (n > 80) {
		buf_add(b, s, 77);
		buf_adds(b, "...");
	} else {
		buf_adds(b, s);
	}
	free(s);
}

static void note(struct differ *d, const char *path, const json_t *a, const json_t *b, const char *what)
{
	if (d->lines >= d->max) {
		d->more++;
		return;
	}
	d->lines++;
	buf_addf(&d->out, "%s%s: ", d->out.len ? "\n" : "", *path ? path : "(the plan)");
	if (what) {
		buf_adds(&d->out, what);
		return;
	}
	struct buf v = BUF_INIT;
	buf_adds(&v, "was ");
	show(&v, a);
	buf_adds(&v, ", now ");
	show(&v, b);
	buf_add_printable(&d->out, buf_str(&v));
	buf_release(&v);
}

/* key is an array element's name: its "target" or "version", NULL when it has neither */
static const char *key(const json_t *e)
{
	const char *name = json_string_value(json_object_get(e, "target"));
	return name ? name : json_string_value(json_object_get(e, "version"));
}

static char *label(const char *path, size_t i, const json_t *e)
{
	const char *name = key(e);
	return name ? xstrfmt("%s[%s]", path, name) : xstrfmt("%s[%zu]", path, i);
}

/* find returns the element of arr named name, or NULL */
static const json_t *find(const json_t *arr, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e)
		if (key(e) && strcmp(key(e), name) == 0)
			return e;
	return NULL;
}

static int all_named(const json_t *arr)
{
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e)
		if (!key(e))
			return 0;
	return 1;
}

static void walk(struct differ *d, const char *path, const json_t *a, const json_t *b)
{
	if (json_equal((json_t *)a, (json_t *)b))
		return;
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		json_object_foreach ((json_t *)a, k, v) {
			char *p = *path ? xstrfmt("%s.%s", path, k) : xstrdup(k);
			walk(d, p, v, json_object_get(b, k));
			free(p);
		}
		json_object_foreach ((json_t *)b, k, v) {
			if (json_object_get(a, k))
				continue;
			char *p = *path ? xstrfmt("%s.%s", path, k) : xstrdup(k);
			walk(d, p, NULL, v);
			free(p);
		}
		return;
	}
	if (json_is_array(a) && json_is_array(b)) {
		size_t na = json_array_size(a), nb = json_array_size(b);
		int before = d->lines + d->more;
		if (all_named(a) && all_named(b)) {
			/* targets and migrations are matched by name, so one inserted row is one line */
			for (size_t i = 0; i < na; i++) {
				const json_t *e = json_array_get(a, i), *o = find(b, key(e));
				char *p = label(path, i, e);
				if (o)
					walk(d, p, e, o);
				else
					note(d, p, NULL, NULL, "in the plan, gone now");
				free(p);
			}
			for (size_t i = 0; i < nb; i++) {
				const json_t *e = json_array_get(b, i);
				if (find(a, key(e)))
					continue;
				char *p = label(path, i, e);
				note(d, p, NULL, NULL, "new since the plan");
				free(p);
			}
			if (d->lines + d->more == before)
				note(d, path, NULL, NULL, "the same entries in another order");
			return;
		}
		for (size_t i = 0; i < na && i < nb; i++) {
			char *p = label(path, i, json_array_get(a, i));
			walk(d, p, json_array_get(a, i), json_array_get(b, i));
			free(p);
		}
		for (size_t i = nb; i < na; i++) {
			char *p = label(path, i, json_array_get(a, i));
			note(d, p, NULL, NULL, "in the plan, gone now");
			free(p);
		}
		for (size_t i = na; i < nb; i++) {
			char *p = label(path, i, json_array_get(b, i));
			note(d, p, NULL, NULL, "new since the plan");
			free(p);
		}
		return;
	}
	note(d, path, a, b, NULL);
}

char *plan_diff(const char *a, const char *b, int max)
{
	json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
	struct differ d = { BUF_INIT, 0, max, 0 };
	if (!ja || !jb) {
		if (strcmp(a, b) != 0)
			buf_adds(&d.out, "the plans differ (one of them is not JSON)");
	} else {
		walk(&d, "", ja, jb);
	}
	if (d.more)
		buf_addf(&d.out, "\n... and %d more difference%s", d.more, d.more == 1 ? "" : "s");
	json_decref(ja);
	json_decref(jb);
	return buf_detach(&d.out);
}

int plan_keep_stored(const char *stored, const unsigned char *skip, size_t n, char **bytes, size_t *len)
{
	json_t *a = json_loads(stored, 0, NULL), *b = json_loads(*bytes, 0, NULL);
	json_t *ta = json_object_get(a, "targets"), *tb = json_object_get(b, "targets");
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++)
		if (skip[i] && (!json_array_get(ta, i) || json_array_set(tb, i, json_array_get(ta, i))))
			rc = -1;
	char *text = rc || !b ? NULL : json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(a);
	json_decref(b);
	if (!text)
		return fail("could not compare the recorded plan with the re-derived one (the recorded one is damaged?)");
	free(*bytes);
	*bytes = NULL;
	rc = plan_canonical(text, strlen(text), bytes, len);
	free(text);
	return rc;
}

const struct cfg_target *plan_ledger_target(const struct cfg_env *env)
{
	return env->ledger ? config_env_target(env, env->ledger) : &env->targets[0];
}

/* ---------------------------------------------------------------- the body hint
 *
 * A ledger keeps each plan body once (padctl.plan_bodies, by hash), and a
 * plan of an unchanged set makes the body the last plan made (CI plans every
 * push; a rejected request is planned again). The hint is the hash of the
 * last body this project recorded in a ledger, kept per server and database
 * (.padctl/plan-body.<hash of both>): when the new body has that hash, its
 * row goes in without the body (ledger_plan_add_current with body NULL), in
 * a statement that checks the ledger holds it; otherwise, or when it does
 * not, the body is sent. The hint decides only what is sent: a wrong one
 * costs a round trip, never a plan without its body. */
#define BODY_HINT_HEADER "padctl plan body 1\n"

int plan_body_hint_parse(const char *text, size_t len, char hash[65])
{
	size_t hl = sizeof BODY_HINT_HEADER - 1;
	hash[0] = '\0';
	if (len != hl + 65 || memcmp(text, BODY_HINT_HEADER, hl) != 0 || text[len - 1] != '\n' ||
	    !hash_is_hex(text + hl, 64))
		return -1;
	memcpy(hash, text + hl, 64);
	hash[64] = '\0';
	return 0;
}

static char *body_hint_path(const struct cfg_project *p, const struct plan_target *seen)
{
	if (!seen || !seen->system_id || !seen->dbname)
		return NULL;
	char *who = xstrfmt("%s\n%s\n", seen->system_id, seen->dbname);
	char hex[HASH_SHA256_HEX_SIZE];
	struct err_scope scope;
	err_scope_push(&scope);
	char *path = hash_sha256_hex(who, strlen(who), hex) == 0 ? xstrfmt("%s/.padctl/plan-body.%.16s", p->root, hex)
								  : NULL;
	err_scope_pop(&scope, ERR_DISCARD);
	free(who);
	return path;
}

/* body_hint_has says whether the hint at path names hash (nothing there, or
 * anything else there, is no) */
static int body_hint_has(const char *path, const char *hash)
{
	char *text = NULL, known[65];
	size_t len = 0;
	struct err_scope scope;
	err_scope_push(&scope);
	int has = path && fs_read_file(path, 256, &text, &len) == 0 &&
		  plan_body_hint_parse(text, len, known) == 0 && strcmp(known, hash) == 0;
	err_scope_pop(&scope, ERR_DISCARD);
	free(text);
	return has;
}

/* body_hint_put keeps hash as the hint at path; best effort */
static void body_hint_put(const struct cfg_project *p, const char *path, const char *hash)
{
	if (!path)
		return;
	char *dir = xstrfmt("%s/.padctl", p->root);
	char *text = xstrfmt(BODY_HINT_HEADER "%s\n", hash);
	struct err_scope scope;
	err_scope_push(&scope);
	if ((mkdir(dir, 0700) && errno != EEXIST) || fs_write_cache(path, text, strlen(text), 0600))
		log_verbose("could not keep the plan's hash in %s: %s", path,
			    err_message() ? err_message() : strerror(errno));
	err_scope_pop(&scope, ERR_DISCARD);
	free(text);
	free(dir);
}

int plan_store(const struct cfg_project *p, const struct cfg_env *env, const char *id, const char *hash,
	       const char *bytes, struct db **open, const struct plan_target *seen)
{
	const struct cfg_target *lt = plan_ledger_target(env);
	struct db *db = open ? *open : NULL;
	if (open)
		*open = NULL;
	/* rc 1: not recorded yet, the locked way follows */
	int rc = 1;
	if (db && seen && seen->history.exists) {
		rc = target_may_write_unlocked(p, env->name, lt, "plan", seen->system_id, seen->dbname);
		if (rc == 1) {
			char *hint = body_hint_path(p, seen);
			int known = body_hint_has(hint, hash);
			rc = ledger_plan_add_current(db, id, env->name, hash, known ? NULL : bytes);
			if (rc == 2) {
				log_verbose("the ledger on %s does not hold the body sha256:%s: sending it", db->label, hash);
				known = 0;
				rc = ledger_plan_add_current(db, id, env->name, hash, bytes);
			}
			if (rc == 0 && known)
				log_verbose("the ledger on %s holds the body sha256:%s already: the plan's row went in "
					    "without it",
					    db->label, hash);
			if (rc == 0 && !known)
				body_hint_put(p, hint, hash);
			free(hint);
		} else if (rc == 0) {
			rc = 1;
		}
	}
	if (rc <= 0) {
		db_close(db);
		if (rc)
			fail_detail("the plan was not recorded (plans are kept in the ledger of target \"%s\")", lt->name);
		return rc;
	}
	rc = db ? target_promote_write(p, env->name, lt, "plan", id, 10000, db)
		: target_open_write(p, env->name, lt, "plan", id, 10000, &db);
	/* the plan's row does not wait for the server's log flush (a third of plan's
	 * time on an ordinary disk): a server crash right after can lose the row, and
	 * deploy --plan then finds no plan and changes nothing. A signature recorded
	 * next (plan --key) commits durably, and the log is flushed in order. */
	if (!rc) {
		rc = db_exec(db, "SET synchronous_commit = off", NULL) || ledger_plan_add(db, id, env->name, hash, bytes)
			     ? -1
			     : 0;
		ledger_unlock(db);
	}
	if (!rc) {
		char *hint = body_hint_path(p, seen);
		body_hint_put(p, hint, hash);
		free(hint);
	}
	db_close(db);
	if (rc)
		fail_detail("the plan was not recorded (plans are kept in the ledger of target \"%s\")", lt->name);
	return rc;
}

int plan_load(const struct cfg_project *p, const struct cfg_env *env, const char *id, char **bytes, char **hash)
{
	*bytes = *hash = NULL;
	const struct cfg_target *lt = plan_ledger_target(env);
	struct db *db = NULL;
	char *stored_env = NULL;
	int rc = target_open_read(p, env->name, lt, "deploy", id, &db);
	if (!rc)
		rc = ledger_plan_get(db, id, &stored_env, hash, bytes);
	db_close(db);
	if (rc < 0)
		return fail_detail("plans are read from the ledger of target \"%s\"", lt->name);
	if (rc > 0 || strcmp(stored_env, env->name) != 0) {
		if (rc > 0)
			fail("there is no plan \"%s\" in the ledger of target \"%s\"", id, lt->name);
		else
			fail("plan \"%s\" was made for env \"%s\", not \"%s\"", id, stored_env, env->name);
		fail_hint("`padctl plan %s` records a plan and prints its id", env->name);
		free(stored_env);
		free(*bytes);
		free(*hash);
		*bytes = *hash = NULL;
		return fail_status(EXIT_USAGE);
	}
	free(stored_env);
	return 0;
}

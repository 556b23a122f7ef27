#include "drift.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "ledger.h"
#include "local.h"
#include "log.h"
#include "migrations.h"
#include "services.h"
#include "target.h"

#define SCRATCH_PREFIX "padctl_drift_"
#define KEY_CHARS 24

struct hrow {
	char *version;
	char *checksum;
	char *status;
	char *run_id; /* NULL when none */
};

struct hist {
	struct hrow *v;
	size_t n;
	int borrowed; /* the strings belong to the history hist_copy took them from */
};

static void hist_release(struct hist *h)
{
	for (size_t i = 0; i < h->n && !h->borrowed; i++) {
		free(h->v[i].version);
		free(h->v[i].checksum);
		free(h->v[i].status);
		free(h->v[i].run_id);
	}
	free(h->v);
}

static char *quiet_expr(const struct cfg_project *p, const char *target, int after_changed);
static char *quiet_resolve(const struct cfg_project *p, const char *target, const char *answer);

/* the history in the order it was applied (replaying in file order would
 * differ for a migration applied out of order). With fp, the owned schemas'
 * catalog fingerprint comes in the same round trip as the question whether
 * there is a ledger at all (*fp, a record as fingerprint_record makes). */
static int read_history(const struct cfg_project *p, const char *target, struct db *db, struct hist *h, char **fp)
{
	memset(h, 0, sizeof *h);
	PGresult *first = NULL;
	char *sql = NULL;
	if (fp) {
		char *expr = quiet_expr(p, target, 0);
		sql = xstrfmt("SELECT to_regclass('padctl.migrations') IS NOT NULL, %s", expr);
		free(expr);
	}
	int rc = db_query(db, sql ? sql : "SELECT to_regclass('padctl.migrations') IS NOT NULL", 0, NULL, &first);
	if (rc) {
		free(sql);
		return -1;
	}
	int have = strcmp(PQgetvalue(first, 0, 0), "t") == 0;
	if (fp)
		*fp = quiet_resolve(p, target, PQgetisnull(first, 0, 1) ? NULL : PQgetvalue(first, 0, 1));
	PQclear(first);
	free(sql);
	if (!have)
		return 0;
	PGresult *res = NULL;
	if (db_query(db,
		     "SELECT version, checksum, status, run_id FROM padctl.migrations "
		     "ORDER BY " LEDGER_APPLIED_ORDER,
		     0, NULL, &res))
		return -1;
	h->n = (size_t)PQntuples(res);
	h->v = xcalloc(h->n ? h->n : 1, sizeof *h->v);
	for (size_t i = 0; i < h->n; i++) {
		h->v[i].version = xstrdup(PQgetvalue(res, (int)i, 0));
		h->v[i].checksum = xstrdup(PQgetvalue(res, (int)i, 1));
		h->v[i].status = xstrdup(PQgetvalue(res, (int)i, 2));
		h->v[i].run_id = PQgetisnull(res, (int)i, 3) ? NULL : xstrdup(PQgetvalue(res, (int)i, 3));
	}
	PQclear(res);
	return 0;
}

/* in_effect says whether a history row's migration is in effect on the
 * target, so that the replay runs it: `applied` and `baselined` (whose
 * objects were there when the target was adopted). Not `skipped` (never
 * run) nor `rolled_back` (a rollback undid it: pending again, and its file
 * may change before it is deployed again). A whitelist: a status added to
 * the ledger later is left out until someone decides what it means here. */
static int in_effect(const char *status)
{
	return strcmp(status, "applied") == 0 || strcmp(status, "baselined") == 0;
}

/* hist_copy borrows the rows of a history its caller read in applied order
 * (run ids are NULL in a brief one); from must outlive h */
static void hist_copy(const struct history *from, struct hist *h)
{
	h->n = from->n;
	h->borrowed = 1;
	h->v = xcalloc(h->n ? h->n : 1, sizeof *h->v);
	for (size_t i = 0; i < h->n; i++) {
		const struct history_row *r = &from->v[i];
		h->v[i].version = r->version ? r->version : "";
		h->v[i].checksum = r->checksum ? r->checksum : "";
		h->v[i].status = r->status ? r->status : "";
		h->v[i].run_id = r->run_id;
	}
}

/* ---------------------------------------------------------------- the scratch server */

struct scratch {
	struct local_conn local;
	char *password;
	struct cfg_target t; /* the scratch server as a target, for target_password */
};

static int scratch_connect(const struct cfg_project *p, struct scratch *s, const char *dbname, struct db **out)
{
	struct db_params dp;
	memset(&dp, 0, sizeof dp);
	char *label;
	const struct cfg_database *d = p->drift_scratch;
	if (!d) {
		if (!s->local.host && local_ensure(p, &s->local))
			return fail_detail("drift replays on the managed local cluster (drift.scratch: local)");
		dp.host = s->local.host;
		dp.port = s->local.port;
		dp.user = s->local.user;
		dp.password = s->local.password;
		dp.sslmode = "disable";
		label = xstrfmt("the drift scratch database %s (managed local cluster, port %d)", dbname,
				s->local.port);
	} else {
		if (!s->t.name) {
			s->t.name = "drift.scratch";
			s->t.db = *d;
			if (target_password(&s->t, &s->password))
				return -1;
		}
		dp.host = d->host;
		dp.port = d->port;
		dp.user = d->user;
		dp.password = s->password;
		dp.passfile = d->passfile;
		dp.sslmode = d->sslmode;
		dp.connect_timeout = d->connect_timeout;
		label = xstrfmt("the drift scratch database %s (%s:%d)", dbname, d->host, d->port);
	}
	dp.dbname = dbname;
	dp.application_name = "padctl drift";
	dp.hint = "check drift.scratch in padctl.yml: padctl creates scratch databases there (the user needs CREATEDB)";
	int rc = db_connect(&dp, label, out);
	free(label);
	return rc;
}

static void scratch_release(struct scratch *s)
{
	local_conn_release(&s->local);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
}

static const char *maintenance_db(const struct cfg_project *p)
{
	return p->drift_scratch && p->drift_scratch->dbname ? p->drift_scratch->dbname : "postgres";
}

/* ---------------------------------------------------------------- the cache */

static char *cache_dir(const struct cfg_project *p)
{
	return xstrfmt("%s/.padctl/drift", p->root);
}

static int make_cache_dir(const struct cfg_project *p)
{
	char *pad = xstrfmt("%s/.padctl", p->root), *dir = cache_dir(p);
	int rc = 0;
	if ((mkdir(pad, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST))
		rc = fail("could not create the drift cache directory \"%s\": %s", dir, strerror(errno));
	free(pad);
	free(dir);
	return rc;
}

/* A replay's file starts with the major version of the scratch server that
 * made it: the catalog text is that server's printing (pg_get_viewdef,
 * pg_get_functiondef, ...), which differs from one major version to the
 * next. */
#define REPLAY_HEADER "padctl drift replay " DRIFT_VERSION " made on PostgreSQL "

/* read_cached reads a replay's file into c and the major version of the
 * server that made it into *major: 0, or 1 when there is none to use. The
 * directory is a cache: a file that is damaged (cut short, edited, of
 * another format), not a regular file or a symlink (never followed: the
 * replay's write replaces the link) is a miss, said with -v, and the check
 * replays again rather than failing until someone deletes it. */
static int read_cached(const char *path, struct catalog *c, int *major)
{
	memset(c, 0, sizeof *c);
	char *text = NULL;
	size_t len = 0;
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = fs_read_text_nofollow_at_if(AT_FDCWD, path, path, &text, &len);
	size_t hl = strlen(REPLAY_HEADER);
	char *end = NULL;
	long m = rc == 0 && len > hl && memcmp(text, REPLAY_HEADER, hl) == 0 && text[hl] >= '1' && text[hl] <= '9'
			 ? strtol(text + hl, &end, 10)
			 : 0;
	if (rc == 2)
		fail("\"%s\" is a symbolic link", path);
	else if (rc == 0 && (!end || *end != '\n' || m > 9999))
		rc = fail("\"%s\" does not start with \"%sN\"", path, REPLAY_HEADER);
	else if (rc == 0)
		rc = catalog_parse(end + 1, len - (size_t)(end + 1 - text), path, c);
	*major = rc ? 0 : (int)m;
	if (rc && rc != 1)
		log_verbose("drift: could not use the cached replay %s (%s); replaying again", path,
			    err_message() ? err_message() : "?");
	err_scope_pop(&scope, ERR_DISCARD);
	free(text);
	return rc ? 1 : 0;
}

static int write_cached(const char *path, const struct catalog *c, int major)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, REPLAY_HEADER "%d\n", major);
	catalog_serialise(c, &b);
	int rc = fs_write_atomic(path, buf_str(&b), b.len, 0600);
	buf_release(&b);
	return rc;
}

/* is_key_file says whether name is a key (64 lowercase hex digits, as
 * compute_key writes it) followed by suffix */
static int is_key_file(const char *name, const char *suffix)
{
	for (int i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return strcmp(name + 64, suffix) == 0;
}

struct cached_file {
	char *key;
	struct timespec mtime;
};

static int newest_first(const void *a, const void *b)
{
	const struct cached_file *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* remove_key_files removes the files of key: its catalog, its baseline
 * scope and the records of targets that compared clean with it */
static void remove_key_files(const char *dir, const char *key)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, key, 64) != 0 || e->d_name[64] != '.')
			continue;
		char *path = xstrfmt("%s/%s", dir, e->d_name);
		unlink(path);
		free(path);
	}
	if (d)
		closedir(d);
}

/* cleanup keeps the drift.keep most recently used replays (a check touches
 * its file) and removes the others: the file, and the scratch database on the
 * scratch server. Best effort: a failure is a warning, never the check's. */
static void cleanup(const struct cfg_project *p, struct scratch *s)
{
	char *dir = cache_dir(p);
	DIR *d = opendir(dir);
	struct cached_file *v = NULL;
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		/* a key's first digits go into DROP DATABASE: a name that is not
		 * a key (planted, or another tool's) names no database */
		if (!is_key_file(e->d_name, ".catalog"))
			continue;
		char *path = xstrfmt("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			v = xrealloc(v, (n + 1) * sizeof *v);
			v[n].key = xstrndup(e->d_name, 64);
			v[n].mtime = st.st_mtim;
			n++;
		}
		free(path);
	}
	if (d)
		closedir(d);
	if (n > (size_t)p->drift_keep)
		qsort(v, n, sizeof *v, newest_first);
	struct db *m = NULL;
	for (size_t i = (size_t)p->drift_keep; i < n; i++) {
		remove_key_files(dir, v[i].key);
		struct err_scope scope;
		err_scope_push(&scope);
		if (m || scratch_connect(p, s, maintenance_db(p), &m) == 0) {
			char *sql = xstrfmt("DROP DATABASE IF EXISTS " SCRATCH_PREFIX "%.*s", KEY_CHARS, v[i].key);
			if (db_exec(m, sql, NULL) == 0)
				log_verbose("drift: removed the stale scratch database " SCRATCH_PREFIX "%.*s",
					    KEY_CHARS, v[i].key);
			free(sql);
		}
		if (err_pending())
			log_warn("drift: could not remove the stale scratch database " SCRATCH_PREFIX "%.*s: %s",
				 KEY_CHARS, v[i].key, err_message());
		err_scope_pop(&scope, ERR_DISCARD);
	}
	db_close(m);
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
	free(dir);
}

/* ---------------------------------------------------------------- the replay */

/* pg_dump's plain output may hold psql meta-commands (\restrict in recent
 * minor releases): the scratch loads it through libpq, so they go */
static void strip_meta_commands(struct buf *b)
{
	struct buf out = BUF_INIT;
	const char *s = buf_str(b);
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
		if (s[0] != '\\')
			buf_add(&out, s, len);
		s += len;
	}
	buf_release(b);
	*b = out;
}

static int load_protected(const struct cfg_project *p, struct db *target, struct db *sdb,
			  const struct catalog *protected_cat)
{
	const char **schemas = xcalloc(p->nprotected + 1, sizeof *schemas);
	size_t n = 0;
	for (size_t i = 0; i < p->nprotected; i++)
		if (catalog_find(protected_cat, "schema", p->protected_schemas[i]))
			schemas[n++] = p->protected_schemas[i];
	int rc = 0;
	if (n) {
		struct buf dump = BUF_INIT;
		rc = services_dump_schemas(target, schemas, n, &dump);
		if (!rc) {
			strip_meta_commands(&dump);
			rc = db_exec(sdb, buf_str(&dump), "pg_dump --schema-only of the protected schemas");
			if (rc)
				fail_detail("copying the protected schemas from the target to the scratch database");
		}
		buf_release(&dump);
		log_verbose("drift: copied %zu protected schema%s from the target to the scratch database", n,
			    n == 1 ? "" : "s");
	}
	free(schemas);
	return rc;
}

static int replay_one(struct db *sdb, const struct migration *m)
{
	if (db_exec(sdb, "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL", NULL))
		return -1;
	if (!m->transactional)
		return db_exec(sdb, m->up_sql, m->up_path);
	if (db_exec(sdb, "BEGIN", NULL))
		return -1;
	if (db_exec(sdb, m->up_sql, m->up_path)) {
		PGresult *r = PQexec(sdb->conn, "ROLLBACK");
		PQclear(r);
		return -1;
	}
	return db_exec(sdb, "COMMIT", NULL);
}

/* history_files checks that every migration in effect is the file its
 * history row recorded, before anything is created on the scratch server */
static int history_files(const struct cfg_project *p, const struct hist *h, const struct migration_set *set)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < h->n; i++) {
		if (!in_effect(h->v[i].status))
			continue;
		const struct migration *m = migrations_find(set, h->v[i].version);
		if (!m) {
			fail("could not check drift: migration %s is %s on the target but has no file in %s",
			     h->v[i].version, h->v[i].status, p->migrations_dir);
			rc = fail_hint("restore the migration's directory (drift replays exactly what was applied)");
		} else if (strcmp(m->checksum, h->v[i].checksum) != 0) {
			fail("could not check drift: migration %s_%s changed since it was applied (checksum mismatch)",
			     m->version, m->name);
			fail_detail("the target recorded %.12s..., the file now hashes to %.12s...", h->v[i].checksum,
				    m->checksum);
			rc = fail_hint("restore the file as it was applied, or accept the change with `padctl repair`");
		}
	}
	return rc;
}

/* replay builds the scratch database and snapshots it: after the
 * baselined migrations (into base, when there are any) and at the end;
 * set holds the files history_files checked */
static int replay(const struct cfg_project *p, struct scratch *s, struct db *target, const struct hist *h, size_t from,
		  const struct migration_set *set, const struct catalog *protected_cat, const char *building,
		  struct catalog *base, struct catalog *expected, size_t *replayed)
{
	struct db *sdb = NULL;
	int rc = scratch_connect(p, s, building, &sdb);
	/* a copy of an earlier replay holds the protected schemas already */
	if (!rc && !from)
		rc = load_protected(p, target, sdb, protected_cat);
	int in_base = 1, have_base = 0;
	for (size_t i = from; !rc && i < h->n; i++) {
		if (!in_effect(h->v[i].status))
			continue;
		int baselined = strcmp(h->v[i].status, "baselined") == 0;
		if (in_base && !baselined && have_base) {
			rc = catalog_snapshot(sdb, p->owned, p->nowned, base);
			in_base = 0;
			if (rc)
				break;
		}
		in_base = in_base && baselined;
		have_base |= baselined;
		const struct migration *m = migrations_find(set, h->v[i].version);
		if (replay_one(sdb, m)) {
			fail_detail("replaying migration %s_%s on the scratch database %s", m->version, m->name,
				    building);
			rc = fail_hint("the migration fails on a fresh database holding only the protected schemas: "
				       "it depends on something else (a role, an extension, data); create that on the "
				       "scratch server and check again");
			break;
		}
		(*replayed)++;
	}
	if (!rc && have_base && in_base)
		rc = catalog_snapshot(sdb, p->owned, p->nowned, base);
	if (!rc)
		rc = catalog_snapshot(sdb, p->owned, p->nowned, expected);
	db_close(sdb);
	return rc;
}

/* name_replay names the database built (building) after its replay
 * (scratch), replacing one of that name. Another check of the same history
 * on this scratch server may have named its own meanwhile, or still be
 * copying it for a later replay (DROP DATABASE refuses one in use): the
 * same key is the same replay, so a database of that name that could not
 * be replaced stands (*stands), and the caller drops the one it built. */
static int name_replay(struct db *m, const char *building, const char *scratch, int *stands)
{
	struct err_scope scope;
	err_scope_push(&scope);
	char *sql = xstrfmt("DROP DATABASE IF EXISTS %s", scratch);
	int rc = db_exec(m, sql, NULL);
	free(sql);
	if (!rc) {
		sql = xstrfmt("ALTER DATABASE %s RENAME TO %s", building, scratch);
		rc = db_exec(m, sql, NULL);
		free(sql);
	}
	char *there = NULL;
	const char *params[] = { scratch };
	*stands = rc && db_query_value(m, "SELECT 't' FROM pg_database WHERE datname = $1", 1, params, &there) == 0 &&
		  there;
	free(there);
	if (*stands)
		log_verbose("drift: the scratch database %s, the same replay made by another check, is in use or was "
			    "named meanwhile: it stands, and %s goes",
			    scratch, building);
	err_scope_pop(&scope, *stands ? ERR_DISCARD : ERR_PROPAGATE);
	return *stands ? 0 : rc;
}

/* build makes the scratch database for key under a temporary name, replays
 * into it and renames it: a database with the final name is complete */
static int build(const struct cfg_project *p, struct scratch *s, struct db *target, const struct hist *h,
		 const char *prefix_key, size_t prefix_n, const struct catalog *protected_cat, struct drift_result *r,
		 struct catalog *base)
{
	/* a history the files do not hold is refused before the scratch
	 * server is contacted: nothing is created, nothing said replayed */
	struct migration_set set = { NULL, 0 };
	if (migrations_load(p->migrations_dir, &set))
		return -1;
	struct db *m = NULL;
	if (history_files(p, h, &set) || scratch_connect(p, s, maintenance_db(p), &m)) {
		migrations_release(&set);
		return -1;
	}
	r->scratch_major = PQserverVersion(m->conn) / 10000;
	char *building = xstrfmt("%s_b%ld", r->scratch, (long)getpid());
	/* one statement a message: CREATE and DROP DATABASE refuse a transaction block */
	char *sql = xstrfmt("DROP DATABASE IF EXISTS %s", building);
	int rc = db_exec(m, sql, NULL);
	free(sql);
	size_t from = 0;
	if (!rc && prefix_key) {
		/* the replay of the history before the newest run, when it is
		 * still there: copy it and replay only that run's migrations */
		char *prev = xstrfmt(SCRATCH_PREFIX "%.*s", KEY_CHARS, prefix_key);
		struct err_scope scope;
		err_scope_push(&scope);
		sql = xstrfmt("CREATE DATABASE %s TEMPLATE %s", building, prev);
		if (db_exec(m, sql, NULL) == 0) {
			from = prefix_n;
			log_info("drift: copied the scratch database %s (the replay of the %zu migrations before the "
				 "newest run)",
				 prev, prefix_n);
		} else {
			log_verbose("drift: could not copy the scratch database %s (%s); replaying from the start",
				    prev, err_message() ? err_message() : "?");
		}
		err_scope_pop(&scope, ERR_DISCARD);
		free(sql);
		free(prev);
	}
	if (!rc && !from) {
		sql = xstrfmt("CREATE DATABASE %s TEMPLATE template0", building);
		rc = db_exec(m, sql, NULL);
		free(sql);
	}
	if (rc) {
		fail_detail("creating the drift scratch database %s", building);
		fail_hint(
			"the scratch server's user needs CREATEDB (or point drift.scratch at a server where it has it)");
	}
	if (!rc) {
		log_info("drift: replaying the target's history on the scratch database %s", r->scratch);
		rc = replay(p, s, target, h, from, &set, protected_cat, building, base, &r->expected, &r->replayed);
	}
	int stands = 0;
	if (!rc)
		rc = name_replay(m, building, r->scratch, &stands);
	if (rc || stands) {
		/* keep the first error; the half-built database, or the one not
		 * needed, goes */
		struct err_scope scope;
		err_scope_push(&scope);
		sql = xstrfmt("DROP DATABASE IF EXISTS %s", building);
		db_exec(m, sql, NULL);
		free(sql);
		err_scope_pop(&scope, ERR_DISCARD);
	}
	free(building);
	db_close(m);
	migrations_release(&set);
	return rc;
}

/* ---------------------------------------------------------------- the check */

/* compute_key: the target's major version is in it because the catalogs
 * compared and recorded are that server's printing: a target upgraded to
 * another major version is replayed again (on a scratch server that should
 * run the same one: check warns when it does not). The scratch server's is
 * not: the key must be known before the scratch is contacted (a check with
 * nothing new never contacts it), so the replay's file records it
 * (REPLAY_HEADER) and check compares it with the target's. */
static int compute_key(const struct cfg_project *p, int target_major, const struct catalog *protected_cat,
		       const struct hist *h, size_t n, char key[65])
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "padctl drift " DRIFT_VERSION "\ntarget PostgreSQL %d\nowned", target_major);
	for (size_t i = 0; i < p->nowned; i++)
		buf_addf(&b, " %s", p->owned[i]);
	buf_adds(&b, "\nprotected\n");
	catalog_serialise(protected_cat, &b);
	buf_adds(&b, "history\n");
	for (size_t i = 0; i < n; i++) {
		/* "status version checksum\n", without a format to parse for
		 * each of a long history's rows */
		buf_adds(&b, h->v[i].status);
		buf_addch(&b, ' ');
		buf_adds(&b, h->v[i].version);
		buf_addch(&b, ' ');
		buf_adds(&b, h->v[i].checksum);
		buf_addch(&b, '\n');
	}
	int rc = hash_sha256_hex(buf_str(&b), b.len, key);
	buf_release(&b);
	return rc;
}

/* A fingerprint of the row versions (oid and xmin) of the catalog rows the
 * snapshot of the owned schemas reads: any change to one of those objects
 * (DDL, a GRANT, CREATE OR REPLACE) writes a new row version and so changes
 * the fingerprint. It costs the server no pg_get_*def call, so a target that
 * compared clean and has not changed since is known clean for the price of
 * one cheap query. VACUUM FULL of a catalog only moves rows (same xmin).
 * Each row's xmin is hashed twice with a 64-bit seed made of its oid and a
 * number naming its catalog (and for a column its number), and the hashes
 * are summed with the row count: order does not matter, so nothing is
 * sorted, and no row is turned into text. (Not hashint8extended of the
 * number oid << 32 | xmin: an int8 hash folds the high half into the low
 * one, so it saw only oid XOR xmin, and an index dropped and created again
 * whose new oid and xmin had the same XOR as the old ones changed nothing;
 * cli/803 caught it. A seed is mixed in whole.) It prints no name, so the
 * session's search_path changes nothing in it and it needs no pin (the
 * snapshot pins it: catalog.c); the names in it resolve in pg_catalog,
 * searched first, when the statement is parsed.
 *
 * What it reads, and why (bench/README.md, drift, has the measurements; on a
 * fresh backend the server's time is the pages and rows it touches):
 * - the schemas, and their pg_class rows (tables, indexes, sequences, views,
 *   composite types), the namespace matched against a one-element array
 *   rather than hashed for every catalog;
 * - the user columns of tables, views and materialized views, by one index
 *   scan of pg_attribute over their oids: pg_get_viewdef prints a view's
 *   own column names, pg_get_indexdef a materialized view's for an index
 *   on it, and RENAME COLUMN of a view writes its pg_attribute row and
 *   nothing else (an index's columns are named after its table's, a
 *   sequence's never change);
 * - the small catalogs keyed by relation (pg_attrdef, pg_trigger, pg_index,
 *   pg_inherits, pg_rewrite, pg_sequence) in one hash join with the
 *   relations;
 * - the attributes of composite types (ALTER TYPE ... RENAME ATTRIBUTE
 *   writes only its pg_attribute row; a view or a CHECK that reads the
 *   field prints its name);
 * - pg_policy by relation (CREATE/ALTER POLICY write only that row);
 * - pg_constraint, pg_proc, pg_type by namespace, pg_enum by its type;
 * - the owned schemas' operator classes, operators, text search
 *   configurations and dictionaries and collations: an index, a constraint
 *   or a column prints their names, and a RENAME or SET SCHEMA of one
 *   writes its own row and nothing else.
 * pg_trigger holds tgenabled, which the snapshot prints: DISABLE TRIGGER
 * writes that row alone. pg_index is read because the snapshot prints
 * indisvalid, and an index can turn invalid with no other row written: DROP
 * INDEX CONCURRENTLY marks it invalid in a first transaction of its own
 * that writes its pg_index row and nothing else, so one cancelled, failed
 * or killed after that leaves the index invalid with its pg_class row as
 * it was. (The other ways to an invalid index write pg_class anyway: a
 * failed CREATE INDEX or REINDEX CONCURRENTLY leaves a new index, a new
 * row; REINDEX gives a new relfilenode. ALTER INDEX ATTACH PARTITION, which
 * makes a partitioned index valid, writes the parent index's pg_index row.)
 * What pg_get_indexdef prints is fixed when the index is built, and what
 * else PostgreSQL writes in a pg_index row (clustered, replica identity)
 * the snapshot does not print: such a change costs one full comparison
 * that finds nothing. pg_index is about a fifth of the rows read.
 * pg_inherits is read because the snapshot prints a table's parents and
 * "detach pending", and DETACH PARTITION CONCURRENTLY's first transaction
 * writes only that row (ATTACH and DETACH also write the partition's
 * pg_class row, relpartbound). Not pg_partitioned_table: a partition key is
 * fixed when the table is created.
 * What the snapshot prints from rows it does not read: the names of
 * objects outside the owned schemas (a type, the table of a foreign key or
 * of a view, a function a default calls, a collation, a role in a grant;
 * the protected schemas' have a fingerprint of their own, in the same
 * record): renaming one is seen by the next full comparison, not here. */
static const char fingerprint_sql[] =
	"WITH ns AS (SELECT oid, xmin FROM pg_namespace WHERE nspname = ANY (string_to_array($1, ','))),\n"
	"rel AS (SELECT oid, xmin, relkind FROM pg_class WHERE relnamespace = ANY (ARRAY(SELECT oid FROM ns)))\n"
	"SELECT count(*) || ' ' || sum(hashint8extended(x, (o << 32) | s)) || ' ' || "
	"sum(hashint8extended(x, (o << 32) | (s + 1048576))) FROM (\n"
	"SELECT oid::int8 AS o, xmin::text::int8 AS x, 1::int8 AS s FROM ns\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 2 FROM rel\n"
	"UNION ALL SELECT a.attrelid::int8, a.xmin::text::int8, 64 + a.attnum FROM pg_attribute a "
	"WHERE a.attrelid = ANY (ARRAY(SELECT oid FROM rel WHERE relkind IN ('r', 'p', 'f', 'v', 'm', 'c'))) "
	"AND a.attnum > 0\n"
	"UNION ALL SELECT x.o, x.x, x.s FROM (\n"
	"SELECT adrelid AS rid, oid::int8 AS o, xmin::text::int8 AS x, 3::int8 AS s FROM pg_attrdef\n"
	"UNION ALL SELECT tgrelid, oid::int8, xmin::text::int8, 6 FROM pg_trigger\n"
	"UNION ALL SELECT indrelid, indexrelid::int8, xmin::text::int8, 4 FROM pg_index\n"
	"UNION ALL SELECT inhrelid, inhparent::int8, xmin::text::int8, 12 FROM pg_inherits\n"
	"UNION ALL SELECT ev_class, oid::int8, xmin::text::int8, 7 FROM pg_rewrite\n"
	"UNION ALL SELECT seqrelid, seqrelid::int8, xmin::text::int8, 8 FROM pg_sequence\n"
	"UNION ALL SELECT polrelid, oid::int8, xmin::text::int8, 13 FROM pg_policy) x "
	"JOIN rel r ON r.oid = x.rid\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 5 FROM pg_constraint "
	"WHERE connamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 9 FROM pg_proc "
	"WHERE pronamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 10 FROM pg_type "
	"WHERE typnamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT e.oid::int8, e.xmin::text::int8, 11 FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
	"WHERE t.typnamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 14 FROM pg_opclass "
	"WHERE opcnamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 15 FROM pg_operator "
	"WHERE oprnamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 16 FROM pg_ts_config "
	"WHERE cfgnamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 17 FROM pg_ts_dict "
	"WHERE dictnamespace = ANY (ARRAY(SELECT oid FROM ns))\n"
	"UNION ALL SELECT oid::int8, xmin::text::int8, 18 FROM pg_collation "
	"WHERE collnamespace = ANY (ARRAY(SELECT oid FROM ns))) f";

static char *owned_list(const struct cfg_project *p)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < p->nowned; i++)
		buf_addf(&b, "%s%s", i ? "," : "", p->owned[i]);
	return buf_detach(&b);
}

static char *fingerprint_record(const char *fp)
{
	return xstrfmt("padctl drift snapshot " DRIFT_VERSION " %s\n", fp ? fp : "empty");
}

/* list_expr returns the fingerprint of the schemas in list (comma
 * separated) as one scalar subquery, the list quoted in for fingerprint_sql's
 * $1: the statements that carry it have no parameters */
static void list_expr(struct buf *b, const char *list)
{
	buf_adds(b, "(SELECT * FROM (");
	/* schema names are identifiers (config.c checks them), and a quote
	 * is doubled all the same */
	const char *at = strstr(fingerprint_sql, "$1");
	buf_add(b, fingerprint_sql, (size_t)(at - fingerprint_sql));
	buf_addch(b, '\'');
	for (const char *c = list; *c; c++) {
		buf_addch(b, *c);
		if (*c == '\'')
			buf_addch(b, '\'');
	}
	buf_addch(b, '\'');
	buf_adds(b, at + 2);
	buf_adds(b, ") fp)");
}

/* fingerprint_expr returns the fingerprint as one SQL expression. With protected schemas,
 * theirs follows (" protected ..."): the cache key holds their catalog, and
 * while their fingerprint is the one recorded with the snapshot kept for
 * the target (protected_catalog), the check reuses that snapshot. */
static char *fingerprint_expr(const struct cfg_project *p)
{
	struct buf b = BUF_INIT;
	char *list = owned_list(p);
	if (!p->nprotected) {
		list_expr(&b, list);
		free(list);
		return buf_detach(&b);
	}
	buf_adds(&b, "(coalesce(");
	list_expr(&b, list);
	buf_adds(&b, ", 'empty') || ' protected ' || coalesce(");
	free(list);
	struct buf pl = BUF_INIT;
	for (size_t i = 0; i < p->nprotected; i++)
		buf_addf(&pl, "%s%s", i ? "," : "", p->protected_schemas[i]);
	list_expr(&b, buf_str(&pl));
	buf_release(&pl);
	buf_adds(&b, ", 'empty'))");
	return buf_detach(&b);
}

/* ---------------------------------------------------------------- the quiet key
 *
 * The fingerprint costs a new backend ~10 ms of catalog reading (bench/README.md,
 * drift). Two cheaper answers come first, both exact, in the statement that
 * would compute it.
 *
 * The quiet key: a server that has given out no transaction id, finished no
 * transaction and written no WAL since the fingerprint was last computed has
 * the same catalog: every change the fingerprint sees is a new row version,
 * made by a transaction with an id, and it becomes visible when that
 * transaction ends, which changes the snapshot. The key is what shows that:
 * the server's identity and timeline (a restore or a promotion is another
 * history), the WAL position (insert, or replay on a standby), the database
 * (its oid: digits, where a name could hold a space or a quote), and the
 * statement's snapshot (xmin:xmax:in-progress ids). An idle target (dev, qa,
 * a quiet night) costs one cheap statement.
 *
 * The catalog's rows: a server that is written to changes its key with every
 * write, but its catalog seldom. With the fingerprint, the same statement
 * counts the rows of every catalog the fingerprint reads a row of, whole
 * (fingerprint_catalogs: no join, no index, no namespace). The next
 * statement with the same server history and database counts them again and
 * looks for a row whose xmin is not older than the xmin of the snapshot they
 * were counted in (S). None, and the same count: every row visible now was
 * made by a transaction that had ended before S was taken (an id below a
 * snapshot's xmin is not in progress), committed (it is visible), so it was
 * visible then too, unless deleted before S, and then it would not be
 * visible now. So the rows now are a subset of the rows then, and as many:
 * the same row versions, and the same fingerprint, which is a function of
 * them. A change anywhere in the database's catalogs (a temporary table, DDL
 * in another schema) only costs the fingerprint. The xids are compared with
 * age() (32 bits), so the snapshots must be close: S no later than the
 * current snapshot's xmin, its xmax less than QUIET_XID_SPAN ids past S
 * (txid_current_snapshot's ids carry the epoch). A frozen row keeps its raw
 * xmin; one made more than 2^31 ids ago may look young: a fingerprint more,
 * never a clean answer less. Both reads cost about half the fingerprint on a
 * new backend (bench/README.md, drift).
 *
 * It is kept per target with the fingerprint and the count it came with
 * (.padctl/drift/quiet.<hash>). The statement that knows them answers
 * "quiet VALUE" (the key is the same), "same KEY ROWS VALUE" (the rows are:
 * kept with the new key, whose snapshot is as good a starting point since
 * the rows are those of S) or "changed", and then the caller asks for the
 * fingerprint (fingerprint()); the one that does not, or is asked for it,
 * answers "KEY ROWS VALUE", ROWS being "-N" while the rows are not counted
 * (quiet_expr). */
#define QUIET_KEY_SQL \
	"(SELECT system_identifier FROM pg_control_system())::text || '|' || " \
	"(SELECT timeline_id FROM pg_control_checkpoint())::text || '|' || " \
	"coalesce((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() " \
	"ELSE pg_current_wal_insert_lsn() END)::text, '-') || '|' || " \
	"(SELECT oid FROM pg_database WHERE datname = current_database())::text || '|' || " \
	"txid_current_snapshot()::text"
#define QUIET_HEADER "padctl drift quiet " DRIFT_VERSION " rows\n"
/* a longer key (thousands of transactions in progress) is not kept: that server is not quiet */
#define QUIET_KEY_MAX 1024
#define QUIET_VALUE_MAX 512
/* at most 18 digits: an int8 literal */
#define QUIET_ROWS_MAX 18
/* the checks a target whose catalog's rows changed is fingerprinted without
 * counting them, before they are counted again (quiet_expr) */
#define QUIET_RETRY 4
/* how far the snapshot may have moved for age() to compare two xids: well
 * inside 2^31, with room for the ids given out while the statement runs */
#define QUIET_XID_SPAN "1000000000"

/* every catalog the fingerprint reads a row of (test_drift checks that
 * fingerprint_sql names no other) */
static const char *const fingerprint_catalogs[] = {
	"pg_namespace", "pg_class",    "pg_attribute", "pg_attrdef",	"pg_trigger",	"pg_index", "pg_inherits",
	"pg_rewrite",	"pg_sequence", "pg_policy",    "pg_constraint", "pg_proc",	"pg_type",  "pg_enum",
	"pg_opclass",	"pg_operator", "pg_ts_config", "pg_ts_dict",	"pg_collation",
};

/* catalog_rows adds the rows of every catalog the fingerprint reads, as a
 * FROM item r with one column, xmin */
static void catalog_rows(struct buf *b)
{
	buf_adds(b, "(");
	for (size_t i = 0; i < sizeof fingerprint_catalogs / sizeof *fingerprint_catalogs; i++)
		buf_addf(b, "%sSELECT xmin FROM pg_catalog.%s", i ? " UNION ALL " : "", fingerprint_catalogs[i]);
	buf_adds(b, ") r");
}

/* the characters a key and a fingerprint's value are made of: nothing a
 * quote, a backslash or a newline could come from */
static int quiet_chars(const char *s, size_t n, size_t max, const char *extra)
{
	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c && strchr(extra, c))))
			return 0;
	}
	return 1;
}

/* digits reads n decimal digits at s (1-19 of them, no sign, no leading
 * zero: as the server prints them) into *v */
static int digits(const char *s, size_t n, uint64_t *v)
{
	if (!n || n > 19 || (n > 1 && s[0] == '0'))
		return 0;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 1;
}

/* quiet_key_parse checks that key is what QUIET_KEY_SQL makes (the system
 * identifier, the timeline, the WAL position or "-", the database's oid and
 * the snapshot, by bars) and reads the snapshot's xmin into *xmin and the
 * other parts but the WAL position into ident (by bars) */
static int quiet_key_parse(const char *key, size_t n, uint64_t *xmin, struct buf *ident)
{
	const char *f[5], *end = key + n;
	size_t len[5];
	const char *at = key;
	for (int i = 0; i < 5; i++) {
		const char *bar = i < 4 ? memchr(at, '|', (size_t)(end - at)) : end;
		if (!bar)
			return 0;
		f[i] = at;
		len[i] = (size_t)(bar - at);
		at = bar + 1;
	}
	uint64_t v;
	if (!digits(f[0], len[0], &v) || !digits(f[1], len[1], &v) || !digits(f[3], len[3], &v))
		return 0;
	/* the WAL position: "-" or two hexadecimal numbers */
	size_t h1 = strspn(f[2], "0123456789ABCDEF");
	if (!(len[2] == 1 && f[2][0] == '-') &&
	    !(h1 && h1 < len[2] && f[2][h1] == '/' && strspn(f[2] + h1 + 1, "0123456789ABCDEF") == len[2] - h1 - 1 &&
	      len[2] - h1 - 1 > 0))
		return 0;
	/* the snapshot: xmin:xmax: and the ids in progress, by commas */
	const char *colon = memchr(f[4], ':', len[4]);
	const char *colon2 = colon ? memchr(colon + 1, ':', (size_t)(end - colon - 1)) : NULL;
	if (!colon2 || !digits(f[4], (size_t)(colon - f[4]), xmin) ||
	    !digits(colon + 1, (size_t)(colon2 - colon - 1), &v))
		return 0;
	for (const char *id = colon2 + 1; id < end;) {
		const char *comma = memchr(id, ',', (size_t)(end - id));
		const char *stop = comma ? comma : end;
		if (!digits(id, (size_t)(stop - id), &v) || (comma && comma + 1 == end))
			return 0;
		id = comma ? comma + 1 : end;
	}
	buf_add(ident, f[0], len[0]);
	buf_addch(ident, '|');
	buf_add(ident, f[1], len[1]);
	buf_addch(ident, '|');
	buf_add(ident, f[3], len[3]);
	return 1;
}

int drift_quiet_parse(const char *text, size_t len, struct drift_quiet *q)
{
	memset(q, 0, sizeof *q);
	size_t hl = strlen(QUIET_HEADER);
	if (len < hl || memcmp(text, QUIET_HEADER, hl) != 0)
		return -1;
	const char *line[3], *at = text + hl, *end = text + len;
	size_t n[3];
	for (int i = 0; i < 3; i++) {
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		if (!nl)
			return -1;
		line[i] = at;
		n[i] = (size_t)(nl - at);
		at = nl + 1;
	}
	uint64_t rows, xmin, misses = 0;
	/* the rows: a count, or "-" and the checks fingerprinted without one */
	int counted = n[1] && line[1][0] != '-';
	int rows_ok =
		counted ? n[1] <= QUIET_ROWS_MAX && digits(line[1], n[1], &rows)
			: n[1] > 1 && digits(line[1] + 1, n[1] - 1, &misses) && misses > 0 && misses <= QUIET_RETRY;
	struct buf ident = BUF_INIT;
	/* quiet_key_parse checks every character of the key */
	if (at != end || n[0] > QUIET_KEY_MAX || !quiet_key_parse(line[0], n[0], &xmin, &ident) || !rows_ok ||
	    !quiet_chars(line[2], n[2], QUIET_VALUE_MAX, " -")) {
		buf_release(&ident);
		return -1;
	}
	q->key = xstrndup(line[0], n[0]);
	q->rows = xstrndup(line[1], n[1]);
	q->value = xstrndup(line[2], n[2]);
	q->ident = buf_detach(&ident);
	q->xmin = xmin;
	q->misses = (unsigned)misses;
	return 0;
}

void drift_quiet_release(struct drift_quiet *q)
{
	free(q->key);
	free(q->rows);
	free(q->value);
	free(q->ident);
	memset(q, 0, sizeof *q);
}

/* quiet_path names the file that keeps target's key and fingerprint: by the
 * target, the schemas fingerprinted and the fingerprint's version (another
 * list of schemas is another fingerprint) */
static char *quiet_path(const struct cfg_project *p, const char *target)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s\n" DRIFT_VERSION "\n", target);
	for (size_t i = 0; i < p->nowned; i++)
		buf_addf(&b, "o %s\n", p->owned[i]);
	for (size_t i = 0; i < p->nprotected; i++)
		buf_addf(&b, "p %s\n", p->protected_schemas[i]);
	char hex[HASH_SHA256_HEX_SIZE];
	char *path = NULL;
	if (hash_sha256_hex(buf_str(&b), b.len, hex) == 0) {
		char *dir = cache_dir(p);
		path = xstrfmt("%s/quiet.%.16s", dir, hex);
		free(dir);
	}
	buf_release(&b);
	return path;
}

/* quiet_read reads what quiet_path keeps; 0 when it holds what
 * drift_quiet_parse accepts */
static int quiet_read(const struct cfg_project *p, const char *target, struct drift_quiet *q)
{
	memset(q, 0, sizeof *q);
	char *path = quiet_path(p, target), *text = NULL;
	size_t len = 0;
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = path && fs_read_file(path, 4096, &text, &len) == 0 ? drift_quiet_parse(text, len, q) : -1;
	err_scope_pop(&scope, ERR_DISCARD);
	free(text);
	free(path);
	return rc;
}

/* fingerprint_answer adds "q.k || ' ROWS ' || fingerprint": the key, the
 * count of the catalog's rows (QUIET_COUNT_ROWS) or "-misses", and the
 * fingerprint, all of one snapshot */
#define QUIET_COUNT_ROWS 0
static void fingerprint_answer(struct buf *b, const struct cfg_project *p, unsigned misses)
{
	char *fp = fingerprint_expr(p);
	if (misses == QUIET_COUNT_ROWS) {
		buf_adds(b, "q.k || ' ' || (SELECT count(*) FROM ");
		catalog_rows(b);
		buf_addf(b, ") || ' ' || coalesce(%s, 'empty')", fp);
	} else {
		buf_addf(b, "q.k || ' -%u ' || coalesce(%s, 'empty')", misses, fp);
	}
	free(fp);
}

/* quiet_expr is fingerprint_expr behind the quiet key and the catalog's
 * rows. The answer is "KEY ROWS VALUE" (ROWS: the count, or "-N" when the
 * rows were not counted); or, with a key kept for target, "quiet VALUE" (the
 * same key), "same KEY ROWS VALUE" (the same rows: VALUE and ROWS are the
 * kept ones, and the server computes no fingerprint) or "changed" (the rows
 * changed; the caller asks again with after_changed). A target whose rows
 * changed is fingerprinted without counting them for QUIET_RETRY checks
 * (that one, "-1", then "-2", ...; a quiet answer does not count), then
 * counted again with the fingerprint: a database whose catalog keeps
 * changing (temporary tables, DDL in other schemas) costs about what the
 * fingerprint alone costs, not the rows counted in vain each time as well. */
static char *quiet_expr(const struct cfg_project *p, const char *target, int after_changed)
{
	struct drift_quiet q;
	struct buf b = BUF_INIT;
	buf_adds(&b, "(SELECT ");
	if (after_changed || quiet_read(p, target, &q) != 0) {
		fingerprint_answer(&b, p, after_changed ? 1 : QUIET_COUNT_ROWS);
		buf_adds(&b, " FROM (SELECT " QUIET_KEY_SQL " AS k) q)");
		return buf_detach(&b);
	}
	/* what the file holds is of quiet_chars' characters and digits: no
	 * quote to double */
	buf_addf(&b, "CASE WHEN q.k = '%s' THEN 'quiet %s' ", q.key, q.value);
	if (q.misses) {
		buf_adds(&b, "ELSE ");
		fingerprint_answer(&b, p, q.misses < QUIET_RETRY ? q.misses + 1 : QUIET_COUNT_ROWS);
	} else {
		buf_addf(&b,
			 "WHEN split_part(q.k, '|', 1) || '|' || split_part(q.k, '|', 2) || '|' || "
			 "split_part(q.k, '|', 4) = '%s' "
			 "AND txid_snapshot_xmin(txid_current_snapshot()) >= %" PRIu64 " "
			 "AND txid_snapshot_xmax(txid_current_snapshot()) - %" PRIu64 " < " QUIET_XID_SPAN " "
			 "AND (SELECT count(*) = %s AND count(*) FILTER (WHERE age(r.xmin) <= age('%" PRIu64
			 "'::xid)) = 0 FROM ",
			 q.ident, q.xmin, q.xmin, q.rows, q.xmin & 0xffffffffu);
		catalog_rows(&b);
		buf_addf(&b, ") THEN 'same ' || q.k || ' %s %s' ELSE 'changed'", q.rows, q.value);
	}
	buf_adds(&b, " END FROM (SELECT " QUIET_KEY_SQL " AS k) q)");
	drift_quiet_release(&q);
	return buf_detach(&b);
}

/* quiet_resolve turns the answer of quiet_expr into the fingerprint's record
 * (fingerprint_record), keeping a new key with its rows and fingerprint for
 * target; NULL for "changed": the caller asks for the fingerprint */
static char *quiet_resolve(const struct cfg_project *p, const char *target, const char *answer)
{
	if (!answer)
		return fingerprint_record(NULL);
	if (strncmp(answer, "quiet ", 6) == 0) {
		log_verbose("drift: target \"%s\" has written nothing since its catalog was last fingerprinted "
			    "(same snapshot and WAL position): the fingerprint is the one kept with that key",
			    target);
		return fingerprint_record(answer + 6);
	}
	if (strcmp(answer, "changed") == 0) {
		log_verbose("drift: target \"%s\" has changed a catalog row since its catalog was last "
			    "fingerprinted: fingerprinting it",
			    target);
		return NULL;
	}
	int same = strncmp(answer, "same ", 5) == 0;
	if (same) {
		answer += 5;
		log_verbose("drift: target \"%s\" has written since its catalog was last fingerprinted, but no "
			    "catalog row: the fingerprint is the one kept with its rows",
			    target);
	}
	const char *sp = strchr(answer, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
	if (!sp2)
		return fingerprint_record(answer);
	if (!same && sp[1] == '-')
		log_verbose("drift: target \"%s\" was fingerprinted without counting its catalog's rows (they changed "
			    "at a check before: counted again after %d checks without them)",
			    target, QUIET_RETRY);
	char *path = quiet_path(p, target);
	struct buf b = BUF_INIT;
	buf_adds(&b, QUIET_HEADER);
	buf_add(&b, answer, (size_t)(sp - answer));
	buf_addch(&b, '\n');
	buf_add(&b, sp + 1, (size_t)(sp2 - sp - 1));
	buf_addf(&b, "\n%s\n", sp2 + 1);
	struct drift_quiet q;
	/* best effort, and only what quiet_read accepts: without it the next check fingerprints again */
	if (path && drift_quiet_parse(buf_str(&b), b.len, &q) == 0) {
		struct err_scope scope;
		err_scope_push(&scope);
		if (make_cache_dir(p) || fs_write_cache(path, buf_str(&b), b.len, 0600))
			log_verbose("drift: could not keep the quiet key of target \"%s\": %s", target,
				    err_message() ? err_message() : "?");
		err_scope_pop(&scope, ERR_DISCARD);
		drift_quiet_release(&q);
	}
	free(path);
	buf_release(&b);
	return fingerprint_record(sp2 + 1);
}

static int fingerprint(const struct cfg_project *p, const char *target, struct db *db, char **out)
{
	char *fp = NULL, *expr = quiet_expr(p, target, 1);
	char *sql = xstrfmt("SELECT %s", expr);
	int rc = db_query_value(db, sql, 0, NULL, &fp);
	free(sql);
	free(expr);
	if (rc)
		return -1;
	*out = quiet_resolve(p, target, fp);
	free(fp);
	return 0;
}

char *drift_fingerprint_sql(const struct cfg_project *p, const char *target)
{
	return quiet_expr(p, target, 0);
}

/* who_file names a file about target db: the cache directory, a hash of
 * where db is (host:port/dbname), then what (prefix before it when given) */
static char *who_file(const struct cfg_project *p, struct db *db, const char *prefix, const char *what)
{
	char *who = xstrfmt("%s:%s/%s", PQhost(db->conn), PQport(db->conn), PQdb(db->conn));
	char hex[HASH_SHA256_HEX_SIZE];
	char *dir = cache_dir(p), *path = NULL;
	if (hash_sha256_hex(who, strlen(who), hex) == 0)
		path = prefix ? xstrfmt("%s/%s.%.16s.%s", dir, prefix, hex, what)
			      : xstrfmt("%s/%.16s.%s", dir, hex, what);
	free(who);
	free(dir);
	return path;
}

/* clean_path names the record that target db compared clean with key's replay */
static char *clean_path(const struct cfg_project *p, struct db *db, const char *key)
{
	return who_file(p, db, key, "clean");
}

/* protected_catalog reads the catalog of the protected schemas of target db
 * into c (memset here). The snapshot is kept for the target
 * (.padctl/drift/<who>.protected) with the fingerprint of those schemas it
 * was taken after (in fp, the record fingerprint_record makes); while the
 * target's fingerprint is that one, not one of the catalog rows the snapshot
 * read has changed, and the kept one is used: the full snapshot (every
 * definition, a query of its own) only after a change. A change between
 * the fingerprint and the snapshot makes the next fingerprint differ. */
static int protected_catalog(const struct cfg_project *p, struct db *db, const char *fp, struct catalog *c)
{
	memset(c, 0, sizeof *c);
	if (!p->nprotected)
		return 0;
	const char *pp = fp ? strstr(fp, " protected ") : NULL;
	char *path = pp ? who_file(p, db, NULL, "protected") : NULL;
	/* the snapshot is the target's printing: kept per major version too */
	char *want = path ? xstrfmt("padctl drift protected " DRIFT_VERSION " PostgreSQL %d%s",
				    PQserverVersion(db->conn) / 10000, pp)
			  : NULL;
	size_t wl = want ? strlen(want) : 0;
	struct err_scope scope;
	if (want) {
		char *text = NULL;
		size_t len = 0;
		err_scope_push(&scope);
		int hit = fs_read_text_nofollow_at_if(AT_FDCWD, path, path, &text, &len) == 0 && len >= wl &&
			  memcmp(text, want, wl) == 0 && catalog_parse(text + wl, len - wl, path, c) == 0;
		err_scope_pop(&scope, ERR_DISCARD);
		free(text);
		if (hit) {
			log_verbose("drift: the protected schemas' catalog is the one kept in %s (same fingerprint)",
				    path);
			free(path);
			free(want);
			return 0;
		}
		catalog_release(c);
		memset(c, 0, sizeof *c);
	}
	int rc = catalog_snapshot(db, p->protected_schemas, p->nprotected, c);
	if (!rc && want) {
		/* best effort: without it the next check reads the snapshot again */
		struct buf b = BUF_INIT;
		buf_adds(&b, want);
		catalog_serialise(c, &b);
		err_scope_push(&scope);
		if (make_cache_dir(p) || fs_write_atomic(path, buf_str(&b), b.len, 0600))
			log_verbose("drift: could not keep the protected schemas' catalog: %s",
				    err_message() ? err_message() : "?");
		err_scope_pop(&scope, ERR_DISCARD);
		buf_release(&b);
	}
	free(path);
	free(want);
	return rc;
}

/* file_exists says whether path is a regular file, not a link to one */
static int file_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* same_text says whether the file at path holds exactly text */
/* A record of having compared clean is trusted for a day. The cached
 * answer rests on the fingerprint, which reads the rows the owned schemas'
 * objects are made of but not everything the comparison prints (a type or
 * a collation in another schema that a column names: docs/drift.md); once
 * a day the check compares in full anyway, and a clean result is kept
 * again. A record dated in the future (a clock set back) is not trusted. */
#define CLEAN_MAX_AGE (24 * 60 * 60)

/* clean_fresh tells whether the clean record at path was written less than
 * CLEAN_MAX_AGE ago (a missing file is not fresh) */
static int clean_fresh(const char *path, const char *target)
{
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	time_t now = time(NULL);
	if (st.st_mtime <= now && now - st.st_mtime < CLEAN_MAX_AGE)
		return 1;
	log_verbose("drift: target \"%s\" compared clean more than a day ago (or its record is dated in the "
		    "future): comparing in full",
		    target);
	return 0;
}

static int same_text(const char *path, const char *text)
{
	char *have = NULL;
	size_t len = 0;
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = fs_read_file(path, 4096, &have, &len);
	err_scope_pop(&scope, ERR_DISCARD);
	int same = rc == 0 && len == strlen(text) && memcmp(have, text, len) == 0;
	free(have);
	return same;
}

/* prefix_of returns how many history rows come before the newest run's
 * (the rows at the end that share its run id), 0 when there is no such run
 * or nothing before it: a postflight's replay starts from its preflight's */
static size_t prefix_of(const struct hist *h)
{
	if (!h->n || !h->v[h->n - 1].run_id)
		return 0;
	size_t k = h->n;
	while (k && h->v[k - 1].run_id && strcmp(h->v[k - 1].run_id, h->v[h->n - 1].run_id) == 0)
		k--;
	return k;
}

int drift_check(const struct cfg_project *p, const char *target, struct db *db, struct drift_result *r)
{
	return drift_check_known(p, target, db, NULL, NULL, r);
}

/* scratch_moved says whether the scratch server runs another major version
 * than major, the one of the replay kept at cat_path: a replay made on
 * another major version than the target's (checked only then, so a check
 * with nothing new still costs the scratch server nothing) is replayed
 * again once the scratch server has moved, to the target's version most
 * likely. A scratch server it cannot reach keeps the replay (with the
 * warning). */
static int scratch_moved(const struct cfg_project *p, struct scratch *s, const char *cat_path, int major)
{
	struct db *m = NULL;
	struct err_scope scope;
	err_scope_push(&scope);
	int now = scratch_connect(p, s, maintenance_db(p), &m) == 0 ? PQserverVersion(m->conn) / 10000 : 0;
	if (!now)
		log_verbose("drift: could not ask the scratch server its version (%s); the replay %s stays",
			    err_message() ? err_message() : "?", cat_path);
	err_scope_pop(&scope, ERR_DISCARD);
	db_close(m);
	if (now && now != major)
		log_verbose("drift: the replay %s was made on PostgreSQL %d, the scratch server runs PostgreSQL %d now; "
			    "replaying again",
			    cat_path, major, now);
	return now && now != major;
}

/* cache_used marks the replay at cat_path used for target: it is the newest
 * now, not the next to go (drift.keep) */
static void cache_used(const char *cat_path, const char *target, struct drift_result *r)
{
	r->cached = 1;
	utimensat(AT_FDCWD, cat_path, NULL, AT_SYMLINK_NOFOLLOW);
	log_info("drift: target \"%s\" compared with the cached replay of %zu migration%s (scratch database %s)",
		 target, r->replayed, r->replayed == 1 ? "" : "s", r->scratch);
}

/* check is drift_check_known with the fingerprint as its record
 * (fingerprint_record; NULL: read it), resolved once: the full check that
 * follows a brief history uses the same one, and keeps no key twice */
static int check(const struct cfg_project *p, const char *target, struct db *db, const char *known_record,
		 const struct history *known_history, struct drift_result *r)
{
	memset(r, 0, sizeof *r);
	r->target_major = PQserverVersion(db->conn) / 10000;
	struct hist h;
	char *fp = NULL, *clean = NULL;
	if (known_history)
		hist_copy(known_history, &h);
	else if (read_history(p, target, db, &h, known_record ? NULL : &fp))
		return fail_detail("reading the history of target \"%s\"", target);
	/* the fingerprint before any snapshot: a change after it makes the
	 * next one differ */
	int rc = 0;
	if (known_record)
		fp = xstrdup(known_record);
	else if (!fp)
		rc = fingerprint(p, target, db, &fp);
	struct catalog protected_cat;
	memset(&protected_cat, 0, sizeof protected_cat);
	if (!rc)
		rc = protected_catalog(p, db, fp, &protected_cat);
	for (size_t i = 0; !rc && i < h.n; i++) {
		if (strcmp(h.v[i].status, "baselined") == 0 &&
		    (!r->baseline || version_cmp(h.v[i].version, r->baseline) > 0)) {
			free(r->baseline);
			r->baseline = xstrdup(h.v[i].version);
		}
		if (in_effect(h.v[i].status))
			r->replayed++;
	}
	if (!rc)
		rc = compute_key(p, r->target_major, &protected_cat, &h, h.n, r->key);
	if (rc) {
		free(fp);
		catalog_release(&protected_cat);
		hist_release(&h);
		return -1;
	}
	r->scratch = xstrfmt(SCRATCH_PREFIX "%.*s", KEY_CHARS, r->key);
	clean = clean_path(p, db, r->key);

	char *dir = cache_dir(p);
	char *cat_path = xstrfmt("%s/%s.catalog", dir, r->key), *only_path = xstrfmt("%s/%s.only", dir, r->key);
	free(dir);
	struct scratch s;
	char *cache_dir_tmp = NULL;
	memset(&s, 0, sizeof s);
	if (clean && file_exists(cat_path) && (!r->baseline || file_exists(only_path)) && same_text(clean, fp) &&
	    clean_fresh(clean, target)) {
		/* compared clean with this replay before, and not one of the
		 * catalog rows it read has changed since */
		r->unchanged = 1;
		cache_used(cat_path, target, r);
		log_verbose("drift: the owned schemas' catalog of target \"%s\" has not changed since it last "
			    "compared clean (%s)",
			    target, clean);
		goto done;
	}
	if (known_history) {
		/* not known clean: the full check reads the history again, with
		 * the run ids a brief one lacks (a postflight's replay starts from
		 * its preflight's) */
		free(cat_path);
		free(only_path);
		free(clean);
		catalog_release(&protected_cat);
		hist_release(&h);
		drift_result_release(r);
		rc = check(p, target, db, fp, NULL, r);
		free(fp);
		return rc;
	}
	rc = catalog_snapshot(db, p->owned, p->nowned, &r->actual);
	int hit = rc ? -1 : read_cached(cat_path, &r->expected, &r->scratch_major);
	if (hit == 0 && r->baseline) {
		int only_major = 0;
		hit = read_cached(only_path, &r->only, &only_major);
		if (!hit && only_major != r->scratch_major) {
			log_verbose("drift: %s and %s were made by different replays; replaying again", cat_path,
				    only_path);
			catalog_release(&r->only);
			hit = 1;
		}
		if (hit)
			catalog_release(&r->expected);
	}
	if (hit == 0 && r->scratch_major != r->target_major && scratch_moved(p, &s, cat_path, r->scratch_major)) {
		catalog_release(&r->expected);
		catalog_release(&r->only);
		hit = 1;
	}
	rc = hit < 0 ? -1 : 0;
	if (hit == 0) {
		cache_used(cat_path, target, r);
	} else if (hit == 1) {
		size_t total = r->replayed;
		r->replayed = 0;
		struct catalog base;
		memset(&base, 0, sizeof base);
		char prefix_key[65];
		size_t prefix_n = prefix_of(&h);
		int have_prefix = !r->baseline && prefix_n &&
				  compute_key(p, r->target_major, &protected_cat, &h, prefix_n, prefix_key) == 0;
		if (have_prefix) {
			char *prev = xstrfmt("%s/%s.catalog", cache_dir_tmp = cache_dir(p), prefix_key);
			have_prefix = file_exists(prev);
			free(prev);
			free(cache_dir_tmp);
		}
		rc = make_cache_dir(p);
		if (!rc)
			rc = build(p, &s, db, &h, have_prefix ? prefix_key : NULL, prefix_n, &protected_cat, r, &base);
		if (!rc && r->baseline)
			catalog_changed(&base, &r->expected, &r->only);
		if (!rc && r->baseline)
			rc = write_cached(only_path, &r->only, r->scratch_major);
		if (!rc)
			rc = write_cached(cat_path, &r->expected, r->scratch_major);
		catalog_release(&base);
		if (!rc) {
			log_info("drift: replayed %zu migration%s of target \"%s\" on the scratch database %s",
				 r->replayed, r->replayed == 1 ? "" : "s", target, r->scratch);
			cleanup(p, &s);
		}
		r->replayed = total;
	}
	if (!rc && r->scratch_major != r->target_major)
		log_warn("drift: the replay compared with target \"%s\" was made on PostgreSQL %d (the scratch server), "
			 "the target runs PostgreSQL %d: view and function definitions, defaults and constraints "
			 "print differently from one major version to the next, so differences may be reported that "
			 "are not there; run the scratch server (drift.scratch) on PostgreSQL %d",
			 target, r->scratch_major, r->target_major, r->target_major);
	if (!rc) {
		catalog_diff(&r->expected, &r->actual, r->baseline ? &r->only : NULL, &r->diff);
		/* the fingerprint was taken before the snapshot: a change in
		 * between makes the next check read the catalog again. Not
		 * against a replay of another major version: clean then may
		 * be luck of printing, and the next check should compare (and
		 * warn) again */
		if (!r->diff.n && clean && r->scratch_major == r->target_major &&
		    fs_write_atomic(clean, fp, strlen(fp), 0600))
			rc = -1;
	}
done:
	if (!rc && r->baseline)
		log_info("drift: target \"%s\" was baselined at %s: only the %zu object%s the migrations after "
			 "it created, changed or dropped are compared",
			 target, r->baseline, r->only.n, r->only.n == 1 ? "" : "s");
	scratch_release(&s);
	free(cat_path);
	free(only_path);
	free(clean);
	free(fp);
	catalog_release(&protected_cat);
	hist_release(&h);
	return rc;
}

int drift_check_known(const struct cfg_project *p, const char *target, struct db *db, const char *known_fp,
		      const struct history *known_history, struct drift_result *r)
{
	memset(r, 0, sizeof *r);
	if (!p->drift) {
		fail("drift is not configured for project \"%s\"", p->name);
		fail_detail("a drift check replays the target's history on a scratch database");
		fail_hint("add `drift: {scratch: local}` to %s (the managed local cluster) or name a scratch server "
			  "(see docs/drift.md)",
			  p->file);
		return fail_status(EXIT_USAGE);
	}
	char *record = known_fp ? quiet_resolve(p, target, known_fp) : NULL;
	int rc = check(p, target, db, record, known_history, r);
	free(record);
	return rc;
}

void drift_result_release(struct drift_result *r)
{
	catalog_release(&r->expected);
	catalog_release(&r->actual);
	catalog_release(&r->only);
	cat_diff_release(&r->diff);
	free(r->baseline);
	free(r->scratch);
	memset(r, 0, sizeof *r);
}

char *drift_summary(const struct drift_result *r)
{
	struct buf b = BUF_INIT;
	if (r->diff.n)
		buf_addf(&b, "%zu difference%s", r->diff.n, r->diff.n == 1 ? "" : "s");
	else
		buf_adds(&b, "no drift");
	buf_addf(&b, " (against a replay of %zu migration%s%s", r->replayed, r->replayed == 1 ? "" : "s",
		 r->cached ? ", cached" : "");
	if (r->baseline)
		buf_addf(&b, "; baselined at %s: only what came after it is compared", r->baseline);
	buf_addch(&b, ')');
	char *out = xstrprintable(buf_str(&b));
	buf_release(&b);
	return out;
}

/* a definition in a message: one line, at most ~200 bytes */
static void add_def(struct buf *b, const char *def)
{
	if (!*def) {
		buf_adds(b, "(none)");
		return;
	}
	size_t n = strlen(def);
	char *cut = n > 200 ? xstrfmt("%.200s...", def) : xstrdup(def);
	for (char *c = cut; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	buf_add_printable(b, cut);
	free(cut);
}

char *drift_finding(const struct cat_change *c)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s %s ", cat_change_name(c->change), c->kind);
	buf_add_printable(&b, c->name);
	if (c->change == CAT_MISSING) {
		buf_adds(&b, ": the migrations create it, the target has none (expected ");
		add_def(&b, c->expected);
		buf_addch(&b, ')');
	} else if (c->change == CAT_EXTRA) {
		buf_adds(&b, ": on the target, created by no applied migration (");
		add_def(&b, c->actual);
		buf_addch(&b, ')');
	} else {
		buf_adds(&b, ": expected ");
		add_def(&b, c->expected);
		buf_adds(&b, ", the target has ");
		add_def(&b, c->actual);
	}
	return buf_detach(&b);
}

static json_t *jstr(const char *s)
{
	json_t *v = s ? json_string(s) : json_null();
	if (!v) {
		char *p = xstrprintable(s);
		v = json_string(p);
		free(p);
	}
	return v ? v : json_null();
}

json_t *drift_json(const struct drift_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "drift", json_boolean(r->diff.n != 0));
	json_object_set_new(o, "replayed", json_integer((json_int_t)r->replayed));
	json_object_set_new(o, "cached", json_boolean(r->cached));
	json_object_set_new(o, "unchanged", json_boolean(r->unchanged));
	json_object_set_new(o, "baseline", jstr(r->baseline));
	json_object_set_new(o, "scratch", jstr(r->scratch));
	json_object_set_new(o, "key", json_string(r->key));
	json_t *arr = json_array();
	for (size_t i = 0; i < r->diff.n; i++) {
		const struct cat_change *c = &r->diff.v[i];
		json_t *f = json_object();
		json_object_set_new(f, "change", json_string(cat_change_name(c->change)));
		json_object_set_new(f, "kind", jstr(c->kind));
		json_object_set_new(f, "name", jstr(c->name));
		json_object_set_new(f, "expected", jstr(c->expected));
		json_object_set_new(f, "actual", jstr(c->actual));
		json_array_append_new(arr, f);
	}
	json_object_set_new(o, "findings", arr);
	return o;
}

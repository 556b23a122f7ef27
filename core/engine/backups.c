#include "backups.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <padctl/plugin.h>

#include "buf.h"
#include "ledger.h"
#include "log.h"
#include "proc.h"
#include "remote.h"
#include "services.h"
#include "sig.h"

#define BACKUP_NAME "backup"

char *backups_path(const char *base, const char *env, const char *target, const char *run_id)
{
	return xstrfmt("%s/%s/%s/%s.dump", base, env, target, run_id);
}

/* make_parents makes the missing directories of path, and path, 0700. */
static int make_parents(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *q = p + 1; !rc; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = fail("could not create directory \"%s\": %s", p, strerror(errno));
		*q = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

int backups_dir_make(const char *root, const char *base, const char *env, const char *target, char **dir)
{
	*dir = NULL;
	char *dot = xstrfmt("%s/.padctl", root);
	size_t n = strlen(dot);
	int rc = 0;
	if (strncmp(base, dot, n) == 0 && (base[n] == '/' || base[n] == '\0'))
		rc = services_project_dot(dot);
	free(dot);
	if (!rc)
		rc = make_parents(base);
	struct stat st;
	if (!rc && lstat(base, &st) != 0)
		rc = fail("could not stat \"%s\": %s", base, strerror(errno));
	if (!rc && !S_ISDIR(st.st_mode)) {
		fail("backups.dir \"%s\" is not a directory (a symbolic link or a file is in its place)", base);
		fail_detail("padctl writes backups only into a real directory, never through a link");
		return fail_hint("remove \"%s\", or point backups.dir in padctl.yml at a directory", base);
	}
	if (!rc && (st.st_mode & S_IWOTH)) {
		fail("backups.dir \"%s\" is writable by every user of this machine: no backup is written there", base);
		fail_detail("anyone could replace a backup before it is restored");
		return fail_hint("chmod o-w \"%s\", or point backups.dir in padctl.yml at a private directory", base);
	}
	char *e = xstrfmt("%s/%s", base, env);
	char *t = xstrfmt("%s/%s", e, target);
	if (!rc)
		rc = services_private_dir(e);
	if (!rc)
		rc = services_private_dir(t);
	free(e);
	if (rc)
		free(t);
	else
		*dir = t;
	return rc;
}

int backups_have_table(struct db *db, int *have)
{
	char *v = NULL;
	if (db_query_value(db, "SELECT to_regclass('padctl.backups') IS NOT NULL", 0, NULL, &v))
		return -1;
	*have = v && strcmp(v, "t") == 0;
	free(v);
	return 0;
}

#define ISO_UTC(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* the query by hand: clang-format would scatter it around the macros */
/* clang-format off */
static const char list_sql[] =
	"SELECT b.run_id, b.path, b.size::text, b.sha256, CASE WHEN b.verified THEN 't' ELSE 'f' END, "
	"CASE WHEN b.pruned_at IS NULL THEN 'f' ELSE 't' END, array_to_string(b.schemas, ','), b.tool_version, "
	ISO_UTC("b.started_at") ", " ISO_UTC("b.finished_at") ", " ISO_UTC("b.pruned_at") ", r.status, r.env, "
	/* through the row's JSON: a ledger from before the column reads NULL (padctl backups never upgrades) */
	"to_jsonb(b) ->> 'host' "
	"FROM padctl.backups b LEFT JOIN padctl.runs r ON r.id = b.run_id "
	"WHERE b.target = $1 AND ($2::text IS NULL OR b.run_id = $2) "
	"ORDER BY b.started_at DESC, b.run_id DESC";
/* clang-format on */

int backups_list(struct db *db, const char *target, const char *run_id, PGresult **res)
{
	const char *p[] = { target, run_id };
	return db_query(db, list_sql, 2, p, res);
}

int backups_file_check(const char *path, const char *size, const char *sha256)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT) {
			fail("backup file \"%s\" is missing", path);
			return fail_detail("the ledger records it with %s bytes, sha256 %s", size,
					   sha256 ? sha256 : "-");
		}
		return fail("could not stat backup file \"%s\": %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return fail("backup file \"%s\" is not a regular file (a link or something else is in its place)",
			    path);
	char hex[65];
	uint64_t got;
	if (services_file_sha256(path, hex, &got))
		return -1;
	char now[32];
	snprintf(now, sizeof now, "%llu", (unsigned long long)got);
	if (strcmp(now, size) != 0 || !sha256 || strcmp(hex, sha256) != 0) {
		fail("backup file \"%s\" changed since it was written", path);
		return fail_detail("recorded: %s bytes, sha256 %s; now: %s bytes, sha256 %s", size,
				   sha256 ? sha256 : "-", now, hex);
	}
	return 0;
}

int backups_restore_list(int major, const char *path)
{
	char *bin = NULL, *version = NULL;
	if (services_tool_path(services_pg_root(), major, "pg_restore", &bin))
		return -1;
	if (services_tool_check(bin, "pg_restore", major, &version)) {
		free(bin);
		return -1;
	}
	free(version);
	char *argv[] = { bin, (char *)"--list", (char *)path, NULL };
	char *envp[] = { (char *)"PATH=/usr/bin:/bin", (char *)"LC_ALL=C", NULL };
	struct buf err = BUF_INIT;
	struct proc_opts o;
	proc_opts_init(&o);
	o.argv = argv;
	o.envp = envp;
	o.timeout_ms = 10L * 60 * 1000;
	o.err = &err;
	struct proc_result r;
	int rc = proc_run(&o, &r);
	if (!rc && r.exit_code != 0) {
		while (err.len && err.s[err.len - 1] == '\n')
			err.s[--err.len] = '\0';
		fail("pg_restore --list could not read backup file \"%s\" (exit status %d)", path, r.exit_code);
		if (err.len)
			fail_detail("%s", err.s);
		rc = -1;
	}
	buf_release(&err);
	free(bin);
	return rc;
}

/* ---- the service */

static int backup_handle(struct svc_step *s, struct padctl_artifact *a, const char *what)
{
	if (!services_artifact_own(s, a) || !a->backup)
		return fail("step \"%s\" %s a backup the backups service did not hand it", s->plugin, what);
	return 0;
}

/* insert_row writes a backup's record as the role padctl connected as. */
static int insert_row(struct padctl_step *st, struct svc_step *s, const char *path, uint64_t size, const char *sha,
		      const char *tool_version, const char *const *schemas, double started, int verified,
		      const char *host)
{
	struct buf sql = BUF_INIT;
	const char *vals[] = { s->run_id, s->target, path, sha, tool_version, ledger_actor() };
	char *lit[6] = { NULL };
	int rc = 0;
	for (int i = 0; i < 6 && !rc; i++)
		if (vals[i] && !(lit[i] = db_literal(s->db, vals[i])))
			rc = -1;
	/* the host column exists once the ledger has step 10: only a kept backup names it */
	char *hostlit = NULL;
	if (!rc && host && !(hostlit = db_literal(s->db, host)))
		rc = -1;
	if (!rc) {
		buf_addf(&sql,
			 "INSERT INTO padctl.backups (run_id, target, path, size, sha256, tool_version, schemas, "
			 "started_at, created_by, verified, verified_at%s) VALUES (%s, %s, %s, %llu, %s, %s, ARRAY[",
			 hostlit ? ", host" : "", lit[0], lit[1], lit[2] ? lit[2] : "NULL", (unsigned long long)size,
			 lit[3] ? lit[3] : "NULL", lit[4] ? lit[4] : "NULL");
		for (size_t i = 0; schemas && schemas[i] && !rc; i++) {
			char *l = db_literal(s->db, schemas[i]);
			if (!l) {
				rc = -1;
				break;
			}
			buf_addf(&sql, "%s%s", i ? ", " : "", l);
			PQfreemem(l);
		}
		buf_addf(&sql, "]::text[], to_timestamp(%.6f), %s, %s, %s%s%s)", started, lit[5],
			 verified ? "true" : "false", verified ? "clock_timestamp()" : "NULL", hostlit ? ", " : "",
			 hostlit ? hostlit : "");
	}
	PQfreemem(hostlit);
	if (!rc)
		rc = s->ledger_write(st, sql.s);
	for (int i = 0; i < 6; i++)
		PQfreemem(lit[i]);
	buf_release(&sql);
	if (rc)
		fail_detail("recording the backup of run %s on target \"%s\"", s->run_id, s->target);
	return rc;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- backups kept on the target's SSH host (ssh.backups_dir) */

static int keeps_remote(const struct svc_step *s)
{
	return s->tcfg && s->tcfg->ssh && s->tcfg->ssh->backups_dir;
}

/* step_remote: the step's session to its SSH host (services_remote: opened
 * once, closed at the step's end; the caller does not close it) */
static int step_remote(struct svc_step *s, struct remote **r)
{
	*r = NULL;
	if (!s->tcfg || !s->tcfg->ssh)
		return fail("target \"%s\" has no ssh section", s->target);
	return services_remote(s, r);
}

/* usable_host says why a backup kept on host cannot be reached through the
 * target's configuration now (newly allocated), or NULL when it can: the
 * ssh section must name that host, and tools run there. */
static char *usable_host(const struct cfg_target *t, const char *host)
{
	if (!t || !t->ssh)
		return xstrfmt("the target has no ssh section now");
	char *now = remote_location(t->ssh);
	char *why = NULL;
	if (strcmp(now, host) != 0)
		why = xstrfmt("the target's ssh section now names %s", now);
	else if (!t->ssh->tools || strcmp(t->ssh->tools, "remote") != 0)
		why = xstrfmt("the target's ssh section has no tools: remote (pg_restore must run there)");
	free(now);
	return why;
}

static int bk_create_remote(struct svc_step *s, struct padctl_artifact **out)
{
	const struct cfg_ssh *ssh = s->tcfg->ssh;
	struct remote *r = NULL;
	if (step_remote(s, &r))
		return fail_detail("step \"%s\" on target \"%s\" keeps its backup on the SSH host (ssh.backups_dir)",
				   s->plugin, s->target);
	char *dir = NULL, *path = NULL;
	int rc = remote_dump_dir(r, ssh->backups_dir, s->env, s->target, &dir);
	if (!rc) {
		path = xstrfmt("%s/%s.dump", dir, s->run_id);
		rc = remote_create_private(r, path);
	}
	if (!rc)
		log_verbose("[%s] %s: the backup stays on the %s: %s", s->target, s->plugin, remote_label(r), path);
	free(dir);
	if (rc) {
		free(path);
		return fail_detail("step \"%s\" on target \"%s\" could not make its backup's file on the SSH host",
				   s->plugin, s->target);
	}
	struct padctl_artifact *a = xcalloc(1, sizeof *a);
	a->name = xstrdup(BACKUP_NAME);
	a->path = path;
	a->fd = -1;
	a->remote = 1;
	a->backup = 1;
	a->started = now_seconds();
	s->arts = xrealloc(s->arts, (s->narts + 1) * sizeof *s->arts);
	s->arts[s->narts++] = a;
	*out = a;
	return 0;
}

/* bk_commit_remote hashes the file pg_dump wrote on the SSH host there,
 * checks it is still the private regular file padctl created, and records
 * it with the host */
static int bk_commit_remote(struct padctl_step *st, struct svc_step *s, struct padctl_artifact *a,
			    const char *const *schemas)
{
	struct remote *r = NULL;
	if (step_remote(s, &r))
		return -1;
	struct remote_stat fst;
	char hex[65] = "";
	int rc = remote_lstat(r, a->path, &fst);
	if (!rc && (!fst.exists || !fst.regular || (fst.perm & 077)))
		rc = fail("backup file \"%s\" on the %s is %s after pg_dump wrote it", a->path, remote_label(r),
			  !fst.exists	 ? "gone"
			  : !fst.regular ? "not a regular file"
					 : "readable by other users");
	if (!rc)
		rc = remote_sha256(r, a->path, hex);
	char *host = remote_location(s->tcfg->ssh);
	if (!rc)
		rc = insert_row(st, s, a->path, fst.size, hex, a->tool_version, schemas, a->started, 0, host);
	free(host);
	if (rc)
		return -1;
	a->size = fst.size;
	memcpy(a->hex, hex, sizeof hex);
	a->committed = 1;
	log_verbose("[%s] %s: backup %s on the SSH host, %llu bytes, sha256 %s", s->target, s->plugin, a->path,
		    (unsigned long long)a->size, a->hex);
	return 0;
}

void backups_remote_discard(struct svc_step *s, struct padctl_artifact *a)
{
	struct err_scope scope;
	err_scope_push(&scope);
	struct remote *r = NULL;
	int rc = step_remote(s, &r);
	if (!rc)
		rc = remote_remove(r, a->path);
	if (rc)
		log_warn("[%s] %s: could not remove the unfinished backup \"%s\" on the SSH host: %s; remove it by "
			 "hand",
			 s->target, s->plugin, a->path, err_message() ? err_message() : "failed");
	else
		log_verbose("[%s] %s: backup %s on the SSH host removed: it was not committed", s->target, s->plugin,
			    a->path);
	err_scope_pop(&scope, ERR_DISCARD);
}

static int bk_pending(struct padctl_step *st)
{
	return svc_step_of(st)->pending;
}

static int bk_create(struct padctl_step *st, struct padctl_artifact **out)
{
	struct svc_step *s = svc_step_of(st);
	*out = NULL;
	if (services_refused(s, "create a backup"))
		return -1;
	for (size_t i = 0; i < s->narts; i++)
		if (s->arts[i]->backup)
			return fail("step \"%s\" on target \"%s\" created a second backup in run %s: one per run",
				    s->plugin, s->target, s->run_id);
	if (keeps_remote(s))
		return bk_create_remote(s, out);
	if (!s->backups_dir)
		return fail("step \"%s\" on target \"%s\": no backups.dir is configured", s->plugin, s->target);
	char *dir;
	if (backups_dir_make(s->root, s->backups_dir, s->env, s->target, &dir))
		return fail_detail("step \"%s\" on target \"%s\" could not make its backup's directory", s->plugin,
				   s->target);
	char *path = xstrfmt("%s/%s.dump", dir, s->run_id);
	free(dir);
	if (services_artifact_open(s, BACKUP_NAME, path, out))
		return -1;
	(*out)->backup = 1;
	(*out)->started = now_seconds();
	return 0;
}

static int bk_commit(struct padctl_step *st, struct padctl_artifact *a, const char *const *schemas)
{
	struct svc_step *s = svc_step_of(st);
	if (backup_handle(s, a, "committed"))
		return -1;
	if (a->committed || (a->fd < 0 && !a->remote))
		return fail("step \"%s\" committed its backup twice", s->plugin);
	if (services_refused(s, "commit a backup"))
		return -1;
	if (a->remote)
		return bk_commit_remote(st, s, a, schemas);
	struct stat fst;
	int rc = fsync(a->fd) != 0 || fstat(a->fd, &fst) != 0 ? -1 : 0;
	int e = errno;
	if (close(a->fd) != 0 && !rc) {
		rc = -1;
		e = errno;
	}
	a->fd = -1;
	if (rc)
		return fail("could not write backup file \"%s\": %s", a->path, strerror(e));
	char hex[HASH_SHA256_HEX_SIZE];
	if (hash_sha256_final(&a->sha, hex))
		return fail("could not hash backup file \"%s\" (OpenSSL failed)", a->path);
	if (insert_row(st, s, a->path, a->size, hex, a->tool_version, schemas, a->started, 0, NULL))
		return -1;
	memcpy(a->hex, hex, sizeof hex);
	a->dev = fst.st_dev;
	a->ino = fst.st_ino;
	a->mtime = fst.st_mtim;
	a->committed = 1;
	sig_tempfile_unregister(a->path);
	log_verbose("[%s] %s: backup %s, %llu bytes, sha256 %s", s->target, s->plugin, a->path,
		    (unsigned long long)a->size, a->hex);
	return 0;
}

static int bk_commit_none(struct padctl_step *st)
{
	struct svc_step *s = svc_step_of(st);
	if (services_refused(s, "record a backup"))
		return -1;
	double t = now_seconds();
	return insert_row(st, s, NULL, 0, NULL, NULL, NULL, t, 1, NULL);
}

static int bk_mark_verified(struct padctl_step *st, struct padctl_artifact *a)
{
	struct svc_step *s = svc_step_of(st);
	if (backup_handle(s, a, "verified"))
		return -1;
	if (!a->committed)
		return fail("step \"%s\" marked its backup verified before committing it", s->plugin);
	if (services_refused(s, "mark a backup verified"))
		return -1;
	if (a->remote) {
		struct remote *r = NULL;
		struct remote_stat rst;
		int bad = step_remote(s, &r) || remote_lstat(r, a->path, &rst);
		if (!bad && (!rst.exists || !rst.regular || rst.size != a->size)) {
			fail("backup file \"%s\" on the %s changed after it was committed: not marked verified",
			     a->path, remote_label(r));
			bad = 1;
		}
		if (bad)
			return -1;
	}
	struct stat now;
	if (!a->remote && lstat(a->path, &now) != 0)
		return fail("could not stat backup file \"%s\": %s", a->path, strerror(errno));
	if (a->remote) {
		/* checked above */
	} else if (!S_ISREG(now.st_mode) || now.st_dev != a->dev || now.st_ino != a->ino ||
		   (uint64_t)now.st_size != a->size || now.st_mtim.tv_sec != a->mtime.tv_sec ||
		   now.st_mtim.tv_nsec != a->mtime.tv_nsec) {
		fail("backup file \"%s\" changed after it was committed: not marked verified", a->path);
		return fail_detail("committed: %llu bytes; now: %llu bytes%s", (unsigned long long)a->size,
				   (unsigned long long)now.st_size,
				   S_ISREG(now.st_mode) && now.st_ino == a->ino ? "" : ", another file");
	}
	char *l[2] = { db_literal(s->db, s->run_id), db_literal(s->db, s->target) };
	int rc = -1;
	if (l[0] && l[1]) {
		char *sql = xstrfmt("UPDATE padctl.backups SET verified = true, verified_at = clock_timestamp() "
				    "WHERE run_id = %s AND target = %s",
				    l[0], l[1]);
		rc = s->ledger_write(st, sql);
		free(sql);
	}
	PQfreemem(l[0]);
	PQfreemem(l[1]);
	return rc;
}

/* has_backup_shape says whether path looks like a file padctl wrote for
 * run_id on env/target (…/<env>/<target>/<run id>.dump): retention deletes
 * nothing else, whatever a ledger row says, and a backup written under an
 * earlier backups.dir still qualifies. */
static int has_backup_shape(const char *path, const char *env, const char *target, const char *run_id)
{
	char *tail = xstrfmt("/%s/%s/%s.dump", env, target, run_id);
	size_t n = strlen(path), k = strlen(tail);
	int ok = path[0] == '/' && n > k && strcmp(path + n - k, tail) == 0 && !strstr(path, "/../") &&
		 !strstr(path, "/./");
	free(tail);
	return ok;
}

/* The backups retention may prune on a target: verified ones beyond the
 * newest $2, and unverified ones (they never counted), but never this run's
 * ($3) nor the one a rollback of the newest run whose migrations are still
 * applied would restore. */
static const char prune_sql[] =
	"WITH needed AS (SELECT r.id FROM padctl.runs r WHERE r.target = $1 AND EXISTS "
	"(SELECT 1 FROM padctl.migrations m WHERE m.run_id = r.id AND m.status = 'applied') "
	"ORDER BY r.started_at DESC, r.id DESC LIMIT 1), "
	"ranked AS (SELECT b.run_id, b.path, b.verified, to_jsonb(b) ->> 'host' AS host, row_number() OVER (PARTITION BY b.verified "
	"ORDER BY b.started_at DESC, b.run_id DESC) AS n FROM padctl.backups b "
	"WHERE b.target = $1 AND b.pruned_at IS NULL) "
	"SELECT run_id, path, host FROM ranked WHERE (NOT verified OR n > $2::int) AND run_id <> $3 "
	"AND run_id NOT IN (SELECT id FROM needed) ORDER BY run_id";

/* prune_remote deletes the file of a backup kept on the SSH host (host) at
 * path, over the session *r (opened here the first time). Returns 1 when
 * the record must stay (the file could not be deleted, or is on a host the
 * target no longer names), 2 when the record may be marked pruned but the
 * file was left (not one padctl wrote), 0 when the file is gone. */
static int prune_remote(struct svc_step *s, struct remote **r, int *r_failed, const char *run, const char *path,
			const char *host)
{
	/* deleting needs only SFTP on the host the record names, not tools: remote */
	char *now = s->tcfg && s->tcfg->ssh ? remote_location(s->tcfg->ssh) : NULL;
	char *why = !now		? xstrdup("the target has no ssh section now")
		    : strcmp(now, host) ? xstrfmt("the target's ssh section now names %s", now)
					: NULL;
	free(now);
	if (why) {
		log_warn("[%s] %s: the backup of run %s is kept on the ssh host %s, which padctl cannot reach now (%s): "
			 "its file \"%s\" and its record are kept",
			 s->target, s->plugin, run, host, why, path);
		free(why);
		return 1;
	}
	free(why);
	if (!*r && !*r_failed) {
		struct err_scope scope;
		err_scope_push(&scope);
		if (step_remote(s, r)) {
			*r_failed = 1;
			log_warn("[%s] %s: could not reach the SSH host to prune backups kept there: %s", s->target,
				 s->plugin, err_message() ? err_message() : "failed");
		}
		err_scope_pop(&scope, ERR_DISCARD);
	}
	if (!*r) {
		log_warn("[%s] %s: the backup of run %s on the SSH host (\"%s\") is kept, and its record too",
			 s->target, s->plugin, run, path);
		return 1;
	}
	struct err_scope scope;
	err_scope_push(&scope);
	struct remote_stat st;
	int keep = 0;
	if (remote_lstat(*r, path, &st)) {
		log_warn("[%s] %s: could not read backup file \"%s\" on the SSH host: %s; kept, and its record too",
			 s->target, s->plugin, path, err_message() ? err_message() : "failed");
		keep = 1;
	} else if (st.exists && (!st.regular || !has_backup_shape(path, s->env, s->target, run))) {
		log_warn("[%s] %s: the backup of run %s is recorded as \"%s\" on the SSH host, which is not a backup "
			 "file padctl wrote there: left in place, its record marked pruned",
			 s->target, s->plugin, run, path);
		keep = 2;
	} else if (st.exists && remote_remove(*r, path)) {
		log_warn("[%s] %s: could not delete backup file \"%s\" on the SSH host: %s; kept, and its record too",
			 s->target, s->plugin, path, err_message() ? err_message() : "failed");
		keep = 1;
	}
	err_scope_pop(&scope, ERR_DISCARD);
	return keep;
}

static int bk_prune(struct padctl_step *st)
{
	struct svc_step *s = svc_step_of(st);
	if (services_refused(s, "prune backups"))
		return -1;
	char keep[16];
	snprintf(keep, sizeof keep, "%d", s->backups_keep > 0 ? s->backups_keep : 10);
	const char *p[] = { s->target, keep, s->run_id };
	PGresult *res;
	if (db_query(s->db, prune_sql, 3, p, &res))
		return fail_detail("listing the backups to prune on target \"%s\"", s->target);
	int rc = 0;
	struct remote *r = NULL; /* opened at the first backup kept on the SSH host */
	int r_failed = 0;
	for (int i = 0; !rc && i < PQntuples(res); i++) {
		const char *run = PQgetvalue(res, i, 0);
		const char *path = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
		const char *host = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
		struct stat fst;
		int left = 0; /* the file stays (not one padctl wrote): only the record is marked */
		if (path && host) {
			int how = prune_remote(s, &r, &r_failed, run, path, host);
			if (how == 1)
				continue;
			left = how == 2;
		} else if (path && lstat(path, &fst) == 0) {
			if (!S_ISREG(fst.st_mode) || !has_backup_shape(path, s->env, s->target, run)) {
				log_warn("[%s] %s: the backup of run %s is recorded as \"%s\", which is not a backup "
					 "file padctl wrote there: left in place, its record marked pruned",
					 s->target, s->plugin, run, path);
				left = 1;
			} else if (unlink(path) != 0 && errno != ENOENT) {
				log_warn("[%s] %s: could not delete backup file \"%s\": %s; kept, and its record too",
					 s->target, s->plugin, path, strerror(errno));
				continue;
			}
		}
		char *l[2] = { db_literal(s->db, run), db_literal(s->db, s->target) };
		rc = -1;
		if (l[0] && l[1]) {
			char *sql = xstrfmt("UPDATE padctl.backups SET pruned_at = clock_timestamp() WHERE run_id = %s "
					    "AND target = %s",
					    l[0], l[1]);
			rc = s->ledger_write(st, sql);
			free(sql);
		}
		PQfreemem(l[0]);
		PQfreemem(l[1]);
		if (!rc)
			log_info("[%s] %s: pruned the backup of run %s%s%s (backups.keep is %s)", s->target, s->plugin,
				 run,
				 !path	? ""
				 : left ? ": its record; the file was left"
					: ": deleted ",
				 path && !left ? path : "", keep);
	}
	PQclear(res);
	return rc;
}

static int bk_find(struct padctl_step *st, const char *run_id, struct padctl_rows **rows)
{
	struct svc_step *s = svc_step_of(st);
	*rows = NULL;
	int have = 0;
	if (backups_have_table(s->db, &have))
		return -1;
	PGresult *res;
	if (!have) {
		/* a ledger an older padctl made records no backup: no row */
		res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	} else if (backups_list(s->db, s->target, run_id ? run_id : s->run_id, &res)) {
		return fail_detail("looking for the backup of run %s on target \"%s\"", run_id ? run_id : s->run_id,
				   s->target);
	}
	*rows = xmalloc(sizeof **rows);
	(*rows)->res = res;
	return 0;
}

/* verify_remote re-checks the backup kept on the SSH host that res's first
 * row records (its size and SHA-256 there) and hands its path out as an
 * input pg_restore reads on that host */
static int verify_remote(struct svc_step *s, PGresult *res, const char *run, const char **path)
{
	const char *file = PQgetvalue(res, 0, 1), *host = PQgetvalue(res, 0, 13);
	char *why = usable_host(s->tcfg, host);
	if (why) {
		fail("the backup of run %s on target \"%s\" is kept on the ssh host %s, which padctl cannot use now: %s",
		     run, s->target, host, why);
		free(why);
		return fail_hint("restore the ssh section that names %s with tools: remote, or restore \"%s\" there "
				 "by hand",
				 host, file);
	}
	struct remote *r = NULL;
	int rc = step_remote(s, &r);
	if (!rc)
		rc = remote_dump_check(r, file, PQgetvalue(res, 0, 2),
				       PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3));
	if (rc)
		return fail_detail("the backup of run %s on target \"%s\" is refused: it is not the file that was "
				   "verified",
				   run, s->target);
	s->inputs = xrealloc(s->inputs, (s->ninputs + 1) * sizeof *s->inputs);
	s->inputs[s->ninputs] = xstrdup(file);
	*path = s->inputs[s->ninputs++];
	s->remote_inputs = xrealloc(s->remote_inputs, (s->nremote_inputs + 1) * sizeof *s->remote_inputs);
	s->remote_inputs[s->nremote_inputs++] = xstrdup(file);
	return 0;
}

static int bk_verify(struct padctl_step *st, const char *run_id, const char **path)
{
	struct svc_step *s = svc_step_of(st);
	*path = NULL;
	const char *run = run_id ? run_id : s->run_id;
	int have = 0;
	if (backups_have_table(s->db, &have))
		return -1;
	PGresult *res = NULL;
	if (have && backups_list(s->db, s->target, run, &res))
		return fail_detail("looking for the backup of run %s on target \"%s\"", run, s->target);
	int rc = 0;
	if (!res || PQntuples(res) == 0) {
		fail("no backup of run %s is recorded on target \"%s\"", run, s->target);
		rc = fail_hint("`padctl backups ENV --target %s` lists the target's backups", s->target);
	} else if (strcmp(PQgetvalue(res, 0, 5), "t") == 0) {
		fail("the backup of run %s on target \"%s\" was pruned on %s: its file is gone", run, s->target,
		     PQgetvalue(res, 0, 10));
		rc = fail_hint("backups.keep in padctl.yml says how many backups are kept per target");
	} else if (strcmp(PQgetvalue(res, 0, 4), "t") != 0) {
		fail("the backup of run %s on target \"%s\" was never verified: it does not count", run, s->target);
		rc = fail_detail("pg_restore --list did not pass on it when it was taken");
	} else if (!PQgetisnull(res, 0, 1) && !PQgetisnull(res, 0, 13)) {
		rc = verify_remote(s, res, run, path);
	} else if (!PQgetisnull(res, 0, 1)) {
		const char *file = PQgetvalue(res, 0, 1);
		if (backups_file_check(file, PQgetvalue(res, 0, 2),
				       PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3))) {
			fail_detail("the backup of run %s on target \"%s\" is refused: it is not the file that was "
				    "verified",
				    run, s->target);
			rc = -1;
		} else {
			s->inputs = xrealloc(s->inputs, (s->ninputs + 1) * sizeof *s->inputs);
			s->inputs[s->ninputs] = xstrdup(file);
			*path = s->inputs[s->ninputs++];
		}
	}
	PQclear(res);
	return rc;
}

static const struct padctl_backups_v1 backups_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_backups_v1),
	.pending = bk_pending,
	.create = bk_create,
	.commit = bk_commit,
	.commit_none = bk_commit_none,
	.mark_verified = bk_mark_verified,
	.prune = bk_prune,
	.find = bk_find,
	.verify = bk_verify,
};

const void *backups_service_v1(void)
{
	return &backups_v1;
}

#include "migrations.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "confine.h"
#include "fs.h"
#include "hash.h"
#include "log.h"
#include "sql.h"
#include "sumcache.h"

int version_valid(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int version_cmp(const char *a, const char *b)
{
	while (*a == '0' && a[1])
		a++;
	while (*b == '0' && b[1])
		b++;
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

/* crypto_die ends padctl when OpenSSL cannot hash (no SHA-256 provider, out
 * of memory): a checksum made of garbage would be compared and recorded. */
static void crypto_die(const char *call)
{
	unsigned long e = ERR_get_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;
	fprintf(stderr, "padctl: fatal: could not compute a SHA-256 checksum: %s failed%s%s\n", call, why ? ": " : "",
		why ? why : "");
	fprintf(stderr, "HINT: check the OpenSSL installation and OPENSSL_CONF\n");
	exit(EXIT_STEP);
}

void migration_checksum(const char *text, size_t len, char out[65])
{
	/* line endings do not count: "\r\n" and a lone "\r" hash as "\n" */
	struct hash_sha256 h;
	hash_sha256_init(&h);
	size_t start = 0;
	for (const char *cr; start < len && (cr = memchr(text + start, '\r', len - start));) {
		size_t i = (size_t)(cr - text);
		hash_sha256_update(&h, text + start, i - start);
		hash_sha256_update(&h, "\n", 1);
		if (i + 1 < len && text[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	hash_sha256_update(&h, text + start, len - start);
	if (hash_sha256_final(&h, out))
		crypto_die("SHA256");
}

static int line_of_offset(const char *text, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}


int sql_is_blank(const char *s, size_t len)
{
	return sql_skip_blank(s, len) == len;
}

enum { LOAD_FULL, LOAD_BRIEF, LOAD_NAMES };

/* a, b and c concatenated, newly allocated: cheaper than xstrfmt, and status
 * builds two paths per migration */
static char *concat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = xmalloc(la + lb + lc + 1);
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

/* existing returns dir/file when entry/file exists under the migrations
 * directory rootfd (looked up relative to it, not by the whole path: plan
 * asks it for the meta.yml of every migration) */
static char *existing(int rootfd, const char *entry, const char *dir, const char *file)
{
	char *rel = concat3(entry, "/", file);
	int found = faccessat(rootfd, rel, F_OK, 0) == 0;
	free(rel);
	return found ? concat3(dir, "/", file) : NULL;
}

/* read_in reads file (its whole path: path) of the migration directory entry
 * below the migrations directory rootfd. With plain set (no symlink leads to
 * the migration's directory, and none to the migrations directory from the
 * project: confine_plain) it opens entry/file relative to rootfd with
 * O_NOFOLLOW, so a plain file costs the kernel the lookup of two names, and
 * takes a symlink by its path, through read_text_file_if and its warning
 * about links out of the project; without plain it reads every file that way.
 * Returns what read_text_file_if returns. */
static int read_in(int rootfd, int plain, const char *entry, const char *file, const char *path, char **text,
		   size_t *len)
{
	int rc = 2;
	if (plain) {
		char *rel = concat3(entry, "/", file);
		rc = fs_read_text_nofollow_at_if(rootfd, rel, path, text, len);
		free(rel);
	}
	return rc == 2 ? read_text_file_if(path, text, len) : rc;
}

/* cached_sum looks the file rel (below the migrations directory rootfd) up
 * in cache: 1, and sum set, when its stat is the one recorded; 0 when it is
 * a regular file the cache does not know as it is now (st set: read it
 * through that name with O_NOFOLLOW, and sumcache_put what was read); -1
 * when it is anything else (a link, a FIFO, an error: read it as without a
 * cache, and say what that says); -2 when it does not exist. */
static int cached_sum(int rootfd, struct sumcache *cache, const char *rel, struct stat *st, char sum[65])
{
	if (fstatat(rootfd, rel, st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? -2 : -1;
	if (!S_ISREG(st->st_mode))
		return -1;
	const char *known = sumcache_get(cache, rel, st);
	if (!known)
		return 0;
	memcpy(sum, known, 65);
	return 1;
}

/* side_file sets *path (NULL when the file is missing) and sum for down.sql
 * or verify.sql of a full load: plan records their checksums, and reading
 * them here, beside up.sql, saves plan a second walk of every path. */
static int side_file(int rootfd, int plain, struct sumcache *cache, const char *entry, const char *dir,
		     const char *file, char **path, char sum[65])
{
	char *text = NULL;
	size_t len = 0;
	*path = concat3(dir, "/", file);
	/* with a cache (plan), a plain regular file whose stat is what the cache
	 * recorded is not read; anything else (a link, a FIFO, an error) is read
	 * as without one, and says what it always said */
	struct stat st;
	char *rel = NULL;
	int cacheable = 0;
	if (cache && plain) {
		rel = concat3(entry, "/", file);
		int c = cached_sum(rootfd, cache, rel, &st, sum);
		if (c == 1 || c == -2) {
			free(rel);
			if (c == -2) {
				free(*path);
				*path = NULL;
			}
			return 0;
		}
		cacheable = c == 0;
	}
	/* only what was read through the name fstatat saw (no link in its place
	 * since) goes into the cache */
	int rc = cacheable ? fs_read_text_nofollow_at_if(rootfd, rel, *path, &text, &len) : 2;
	cacheable = cacheable && rc == 0;
	if (rc == 2)
		rc = read_in(rootfd, plain, entry, file, *path, &text, &len);
	if (rc == 0) {
		migration_checksum(text, len, sum);
		if (cacheable)
			sumcache_put(cache, rel, &st, sum);
	}
	free(rel);
	free(text);
	if (rc == 1) {
		free(*path);
		*path = NULL;
		return 0;
	}
	return rc;
}

static int load_one(const char *root, int rootfd, int plain, struct sumcache *cache, const char *entry,
		    struct migration *m, int brief)
{
	const char *us = strchr(entry, '_');
	size_t vlen = us ? (size_t)(us - entry) : strlen(entry);
	memset(m, 0, sizeof *m);
	m->version = xstrndup(entry, vlen);
	m->name = xstrdup(us ? us + 1 : "");
	m->dir = concat3(root, "/", entry);
	m->transactional = 1;
	for (const unsigned char *p = (const unsigned char *)entry; *p; p++) {
		if (*p >= 0x20 && *p != 0x7f)
			continue;
		/* the name is printed (status, plan, errors) and recorded: a newline would forge lines */
		char *shown = xstrprintable(m->dir);
		fail("migration directory \"%s\" has a control character in its name", shown);
		free(shown);
		fail_detail("migration names are printed and recorded in the ledger; a newline or an escape in one "
			    "could forge output lines");
		fail_hint("rename the directory to <version>_<name> with printable characters");
		return fail_status(EXIT_USAGE);
	}
	if (!version_valid(m->version) || !*m->name) {
		fail("migration directory \"%s\" is not named <version>_<name>", m->dir);
		fail_hint("name it like 0001_create_pad_request (digits, an underscore, a name); `padctl new NAME` does it");
		return fail_status(EXIT_USAGE);
	}
	m->up_path = concat3(m->dir, "/up.sql", "");
	if (brief == LOAD_NAMES)
		return 0;
	size_t len = 0;
	/* a brief load (status) only checksums up.sql: no lookup of links out of the project, and
	 * the file is opened relative to the migrations directory. With a cache, an up.sql whose
	 * stat is the one recorded is not read (m->up_sql stays NULL). A full load opens the
	 * migration's files relative to the migrations directory as well (see read_in). */
	int got;
	char *brief_rel = NULL;
	struct stat brief_st;
	int brief_cacheable = 0;
	if (brief == LOAD_BRIEF) {
		brief_rel = concat3(entry, "/up.sql", "");
		int c = cache ? cached_sum(rootfd, cache, brief_rel, &brief_st, m->checksum) : -1;
		if (c == 1) {
			free(brief_rel);
			return 0;
		}
		/* only what was read through the name fstatat saw goes into the cache */
		got = c == 0 ? fs_read_text_nofollow_at_if(rootfd, brief_rel, m->up_path, &m->up_sql, &len) : 2;
		brief_cacheable = got == 0;
		if (got == 2)
			got = fs_read_text_at_if(rootfd, brief_rel, m->up_path, &m->up_sql, &len);
	} else {
		got = read_in(rootfd, plain, entry, "up.sql", m->up_path, &m->up_sql, &len);
	}
	if (got == 1) {
		fail("migration \"%s\" has no up.sql", m->dir);
		fail_hint("add %s with the migration's SQL", m->up_path);
	}
	if (got) {
		free(brief_rel);
		return fail_status(EXIT_USAGE);
	}
	/* comments alone are as empty as nothing: applying them would record a change that never happened */
	if (sql_is_blank(m->up_sql, len)) {
		free(brief_rel);
		fail("\"%s\" is empty (no SQL statement)", m->up_path);
		fail_hint("write the migration's SQL into it, or remove the directory");
		return fail_status(EXIT_USAGE);
	}
	/* the server, the ledger and plan's JSON all want UTF-8; say where it breaks, not later in a crash */
	size_t bad = utf8_invalid_at(m->up_sql, len);
	if (bad < len) {
		free(brief_rel);
		fail("\"%s\" is not valid UTF-8 at byte offset %zu (line %d)", m->up_path, bad,
		     line_of_offset(m->up_sql, bad));
		fail_hint("save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)");
		return fail_status(EXIT_USAGE);
	}
	migration_checksum(m->up_sql, len, m->checksum);
	if (brief == LOAD_BRIEF) {
		/* recorded only once every check above passed: a hit stands for all of them */
		if (brief_cacheable)
			sumcache_put(cache, brief_rel, &brief_st, m->checksum);
		free(brief_rel);
		return 0;
	}
	if (side_file(rootfd, plain, cache, entry, m->dir, "down.sql", &m->down_path, m->down_sha256) ||
	    side_file(rootfd, plain, cache, entry, m->dir, "verify.sql", &m->verify_path, m->verify_sha256))
		return fail_status(EXIT_USAGE);
	m->meta_path = existing(rootfd, entry, m->dir, "meta.yml");
	struct cfg_meta meta = { m->transactional, NULL, NULL, 0 };
	int rc = m->meta_path ? config_read_meta(m->meta_path, &meta) : 0;
	m->transactional = meta.transactional;
	m->destructive = meta.destructive;
	m->lint_allow = meta.allow;
	m->nlint_allow = meta.nallow;
	int line;
	/* padctl runs a transactional migration in its own transaction together with the history row:
	 * a COMMIT inside would make the statements before it permanent without that row */
	if (!rc && m->transactional && sql_find_kind(m->up_sql, len, SQL_KIND_TX_CONTROL, &line)) {
		fail("%s:%d: transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT ...) in a transactional migration",
		     m->up_path, line);
		fail_detail("padctl runs the migration and its history row in one transaction; a statement "
			    "that ends or nests it would break that");
		fail_hint("remove the transaction statements, or, if the migration must commit in parts, put "
			  "`transactional: false` into %s/meta.yml and make it safe to run again",
			  m->dir);
		rc = fail_status(EXIT_USAGE);
	}
	return rc;
}

static void migration_free(struct migration *m)
{
	free(m->version);
	free(m->name);
	free(m->dir);
	free(m->up_path);
	free(m->up_sql);
	free(m->down_path);
	free(m->verify_path);
	free(m->meta_path);
	free(m->destructive);
	config_lint_allow_free(m->lint_allow, m->nlint_allow);
}

static int cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	return version_cmp(x->version, y->version);
}

struct entry {
	char *name;
	int real_dir; /* a directory, not a symlink to one */
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* every TICK_EVERY migrations a load with a tick calls it (plan and status move their connections on) */
#define TICK_EVERY 32

static int load_set(const char *dir, struct migration_set *set, int brief, struct sumcache *cache,
		    const struct migrations_tick *tick)
{
	set->v = NULL;
	set->n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return fail("cannot read the migrations directory \"%s\": %s", dir, strerror(errno));
	}
	struct entry *names = NULL;
	size_t nnames = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
			struct stat st;
			char *p = xstrfmt("%s/%s", dir, de->d_name);
			isdir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
			free(p);
		}
		if (!isdir)
			continue;
		if (nnames == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[nnames].real_dir = de->d_type == DT_DIR;
		names[nnames++].name = xstrdup(de->d_name);
	}
	if (nnames)
		qsort(names, nnames, sizeof *names, cmp_name);
	int rc = 0, plain = brief == LOAD_FULL && confine_plain(dir);
	set->v = xcalloc(nnames ? nnames : 1, sizeof *set->v);
	for (size_t i = 0; i < nnames; i++) {
		if (tick && i % TICK_EVERY == 0)
			tick->fn(tick->arg);
		if (!rc) {
			rc = load_one(dir, dirfd(d), plain && names[i].real_dir, cache, names[i].name, &set->v[set->n],
				      brief);
			set->n++;
		}
		free(names[i].name);
	}
	free(names);
	closedir(d);
	if (rc) {
		migrations_release(set);
		return rc;
	}
	if (set->n)
		qsort(set->v, set->n, sizeof *set->v, cmp_migration);
	for (size_t i = 1; i < set->n; i++) {
		if (version_cmp(set->v[i - 1].version, set->v[i].version) == 0) {
			fail("duplicate migration version %s", set->v[i].version);
			fail_detail("\"%s\" and \"%s\" have the same version", set->v[i - 1].dir, set->v[i].dir);
			fail_hint("renumber one of them (`padctl new NAME` picks the next free version)");
			fail_status(EXIT_USAGE);
			migrations_release(set);
			return -1;
		}
	}
	return 0;
}

int migrations_load(const char *dir, struct migration_set *set)
{
	return load_set(dir, set, LOAD_FULL, NULL, NULL);
}

/* load_with_sums is load_set with the checksum cache at sums_path (NULL:
 * none): opened before, saved after a load that succeeded */
static int load_with_sums(const char *dir, struct migration_set *set, int brief, const char *sums_path,
			  const struct migrations_tick *tick)
{
	if (!sums_path)
		return load_set(dir, set, brief, NULL, tick);
	struct sumcache sums;
	sumcache_open(&sums, sums_path, dir);
	int rc = load_set(dir, set, brief, &sums, tick);
	if (!rc)
		sumcache_save(&sums);
	sumcache_release(&sums);
	return rc;
}

int migrations_load_cached(const char *dir, const char *sums_path, const struct migrations_tick *tick,
			   struct migration_set *set)
{
	return load_with_sums(dir, set, LOAD_FULL, sums_path, tick);
}

int migrations_load_brief(const char *dir, const char *sums_path, const struct migrations_tick *tick,
			  struct migration_set *set)
{
	return load_with_sums(dir, set, LOAD_BRIEF, sums_path, tick);
}

int migrations_load_names(const char *dir, struct migration_set *set)
{
	return load_set(dir, set, LOAD_NAMES, NULL, NULL);
}

void migrations_release(struct migration_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		migration_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

const struct migration *migrations_find(const struct migration_set *set, const char *version)
{
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = version_cmp(set->v[mid].version, version);
		if (c == 0)
			return &set->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char *const state_names[] = {
	[MIG_APPLIED] = "applied", [MIG_BASELINED] = "baselined", [MIG_SKIPPED] = "skipped",
	[MIG_PENDING] = "pending", [MIG_TO_SKIP] = "to skip",     [MIG_OUT_OF_ORDER] = "out of order",
	[MIG_MISMATCH] = "checksum mismatch",
};

const char *mig_state_name(int state)
{
	return state >= 0 && state <= MIG_MISMATCH ? state_names[state] : "?";
}

static int cmp_row(const void *a, const void *b)
{
	const struct history_row *const *x = a, *const *y = b;
	return version_cmp((*x)->version, (*y)->version);
}

void mig_plan_build(const struct migration_set *set, const struct history *h, const struct cfg_env *env,
		    struct mig_plan *plan)
{
	memset(plan, 0, sizeof *plan);
	plan->v = xcalloc(set->n ? set->n : 1, sizeof *plan->v);
	plan->n = set->n;
	/* history sorted by version, so each file finds its row by binary search;
	 * a rolled-back migration counts as never applied: pending again */
	const struct history_row **rows = xcalloc(h->n ? h->n : 1, sizeof *rows);
	size_t nrows = 0;
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].status, "rolled_back") != 0)
			rows[nrows++] = &h->v[i];
	if (nrows)
		qsort(rows, nrows, sizeof *rows, cmp_row);
	const char *newest = NULL;
	for (size_t i = 0; i < nrows; i++)
		if (strcmp(rows[i]->status, "skipped") != 0)
			newest = rows[i]->version;
	for (size_t i = 0; i < set->n; i++) {
		struct mig_status *s = &plan->v[i];
		s->m = &set->v[i];
		size_t lo = 0, hi = nrows;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = version_cmp(rows[mid]->version, s->m->version);
			if (c == 0) {
				s->h = rows[mid];
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		const struct cfg_skip *skip = env ? config_env_skip(env, s->m->version) : NULL;
		if (s->h) {
			if (strcmp(s->h->status, "skipped") == 0)
				s->state = MIG_SKIPPED;
			else if (strcmp(s->h->checksum, s->m->checksum) != 0)
				s->state = MIG_MISMATCH;
			else if (strcmp(s->h->status, "baselined") == 0)
				s->state = MIG_BASELINED;
			else
				s->state = MIG_APPLIED;
		} else if (skip) {
			s->state = MIG_TO_SKIP;
			s->skip_reason = skip->reason;
		} else if (newest && version_cmp(s->m->version, newest) < 0) {
			s->state = MIG_OUT_OF_ORDER;
		} else {
			s->state = MIG_PENDING;
		}
		plan->counts[s->state]++;
	}
	plan->orphans = xcalloc(nrows ? nrows : 1, sizeof *plan->orphans);
	for (size_t i = 0; i < nrows; i++)
		if (!migrations_find(set, rows[i]->version))
			plan->orphans[plan->norphans++] = rows[i];
	free(rows);
}

void mig_plan_release(struct mig_plan *plan)
{
	free(plan->v);
	free(plan->orphans);
	memset(plan, 0, sizeof *plan);
}

void history_release(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		struct history_row *r = &h->v[i];
		free(r->version);
		free(r->name);
		free(r->checksum);
		free(r->status);
		free(r->reason);
		free(r->applied_at);
		free(r->applied_by);
		free(r->run_id);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

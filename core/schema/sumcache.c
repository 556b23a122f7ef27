#include "sumcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "log.h"
#include "sig.h"

#define MAGIC "padctl-sums 1\n"

static void entries_free(struct sum_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].rel);
	free(v);
}

/* number reads decimal digits (no sign; at most what 64 bits hold) ending at stop */
static int number(const char **p, const char *end, char stop, unsigned long long *out)
{
	const char *s = *p, *fast = end - s > 19 ? s + 19 : end;
	unsigned long long v = 0;
	/* 19 digits never overflow: no check in the loop (plan reads 14,000 numbers) */
	while (s < fast && (unsigned)(*s - '0') < 10)
		v = v * 10 + (unsigned)(*s++ - '0');
	if (s == fast && s < end && (unsigned)(*s - '0') < 10) {
		unsigned d = (unsigned)(*s++ - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		if (s < end && (unsigned)(*s - '0') < 10)
			return -1; /* a 21st digit */
	}
	if (s == *p || s >= end || *s != stop)
		return -1;
	*out = v;
	*p = s + 1;
	return 0;
}

/* signed_number is number for a field that fits a long long */
static int signed_number(const char **p, const char *end, char stop, long long *out)
{
	unsigned long long v;
	if (number(p, end, stop, &v) || v > (unsigned long long)LLONG_MAX)
		return -1;
	*out = (long long)v;
	return 0;
}

/* one record line [p, end) (no newline) into e */
static int record(char *line, const char *end, struct sum_entry *e)
{
	const char *p = line;
	if (end - p < 65 || p[64] != ' ')
		return -1;
	if (!hash_is_hex(p, 64))
		return -1;
	memcpy(e->sum, p, 64);
	e->sum[64] = '\0';
	p += 65;
	if (number(&p, end, ' ', &e->dev) || number(&p, end, ' ', &e->ino) || signed_number(&p, end, ' ', &e->size) ||
	    signed_number(&p, end, '.', &e->mtime_s) || signed_number(&p, end, ' ', &e->mtime_ns) ||
	    signed_number(&p, end, '.', &e->ctime_s) || signed_number(&p, end, ' ', &e->ctime_ns))
		return -1;
	if (e->mtime_ns > 999999999 || e->ctime_ns > 999999999 || p >= end)
		return -1;
	for (const char *q = p; q < end; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return -1;
	e->rel = line + (p - line); /* in the cache's copy of the text, NUL-terminated there by the caller */
	e->used = 0;
	return 0;
}

int sumcache_parse(const char *text, size_t len, const char *root, struct sumcache *c)
{
	memset(c, 0, sizeof *c);
	size_t ml = strlen(MAGIC), rl = strlen(root);
	/* one copy of the text, whose newlines become the names' ends: no
	 * allocation per entry */
	c->text = xmalloc(len + 1);
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	char *p = c->text, *end = c->text + len;
	/* the header: the format, then the directory the names are relative to */
	if (len < ml || memcmp(p, MAGIC, ml) != 0)
		goto bad;
	p += ml;
	if ((size_t)(end - p) < 6 + rl || memcmp(p, "root ", 5) != 0 || memcmp(p + 5, root, rl) != 0 ||
	    p[5 + rl] != '\n')
		goto bad;
	p += 6 + rl;
	size_t cap = 0;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			goto bad; /* a torn last line: the whole file is suspect */
		if (c->n == cap) {
			cap = cap ? cap * 2 : 256;
			c->v = xrealloc(c->v, cap * sizeof *c->v);
		}
		if (record(p, nl, &c->v[c->n]))
			goto bad;
		*nl = '\0';
		c->n++;
		/* sorted, each name once: lookups are a binary search */
		if (c->n > 1 && strcmp(c->v[c->n - 2].rel, c->v[c->n - 1].rel) >= 0)
			goto bad;
		p = nl + 1;
	}
	c->root = xstrdup(root);
	return 0;
bad:
	free(c->v);
	free(c->text);
	c->v = NULL;
	c->text = NULL;
	c->n = 0;
	return -1;
}

/* open_dir opens the directory of path (.padctl) without following a link
 * there: the cache is read and written only inside a real directory */
static int open_dir(const char *path, int create)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd = -1;
	if (slash) {
		*slash = '\0';
		fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create && mkdir(dir, 0700) == 0)
			fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	free(dir);
	return fd;
}

void sumcache_open(struct sumcache *c, const char *path, const char *root)
{
	char *text = NULL;
	size_t len = 0;
	int dfd = open_dir(path, 0);
	const char *base = strrchr(path, '/');
	/* any failure (no file: rc 1) only means that nothing is cached */
	if (dfd < 0 || fs_read_file_at(dfd, base + 1, path, FS_TEXT_CAP, &text, &len) != 0 ||
	    sumcache_parse(text, len, root, c) != 0) {
		err_clear();
		memset(c, 0, sizeof *c);
	}
	if (dfd >= 0)
		close(dfd);
	free(text);
	if (!c->root)
		c->root = xstrdup(root);
	c->path = xstrdup(path);
	clock_gettime(CLOCK_REALTIME, &c->now);
}

static int same(const struct sum_entry *e, const struct stat *st)
{
	return e->dev == (unsigned long long)st->st_dev && e->ino == (unsigned long long)st->st_ino &&
	       e->size == (long long)st->st_size && e->mtime_s == (long long)st->st_mtim.tv_sec &&
	       e->mtime_ns == (long long)st->st_mtim.tv_nsec && e->ctime_s == (long long)st->st_ctim.tv_sec &&
	       e->ctime_ns == (long long)st->st_ctim.tv_nsec;
}

static const char *hit(struct sumcache *c, size_t i, const struct stat *st)
{
	c->next = i + 1;
	if (!same(&c->v[i], st))
		return NULL;
	c->v[i].used = 1;
	return c->v[i].sum;
}

const char *sumcache_get(struct sumcache *c, const char *rel, const struct stat *st)
{
	/* plan asks in the cache's own order: the entry after the last one first */
	if (c->next < c->n && strcmp(c->v[c->next].rel, rel) == 0)
		return hit(c, c->next, st);
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(c->v[mid].rel, rel);
		if (cmp == 0)
			return hit(c, mid, st);
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* settled: t is at least SUMCACHE_SETTLE_S seconds before now */
static int settled(const struct timespec *t, const struct timespec *now)
{
	return t->tv_sec < now->tv_sec - SUMCACHE_SETTLE_S ||
	       (t->tv_sec == now->tv_sec - SUMCACHE_SETTLE_S && t->tv_nsec <= now->tv_nsec);
}

void sumcache_put(struct sumcache *c, const char *rel, const struct stat *st, const char sum[65])
{
	if (!settled(&st->st_ctim, &c->now) || !settled(&st->st_mtim, &c->now))
		return;
	/* times before 1970 are not written (the file has no sign): such a file is read each time */
	if (st->st_size < 0 || st->st_mtim.tv_sec < 0 || st->st_ctim.tv_sec < 0)
		return;
	for (const unsigned char *q = (const unsigned char *)rel; *q; q++)
		if (*q < 0x20 || *q == 0x7f)
			return;
	if (c->nadd == c->capadd) {
		c->capadd = c->capadd ? c->capadd * 2 : 64;
		c->add = xrealloc(c->add, c->capadd * sizeof *c->add);
	}
	struct sum_entry *e = &c->add[c->nadd++];
	e->rel = xstrdup(rel);
	e->dev = (unsigned long long)st->st_dev;
	e->ino = (unsigned long long)st->st_ino;
	e->size = (long long)st->st_size;
	e->mtime_s = (long long)st->st_mtim.tv_sec;
	e->mtime_ns = (long long)st->st_mtim.tv_nsec;
	e->ctime_s = (long long)st->st_ctim.tv_sec;
	e->ctime_ns = (long long)st->st_ctim.tv_nsec;
	memcpy(e->sum, sum, 65);
	e->used = 1;
}

static int cmp_rel(const void *a, const void *b)
{
	const struct sum_entry *const *x = a, *const *y = b;
	return strcmp((*x)->rel, (*y)->rel);
}

int sumcache_render(const struct sumcache *c, struct buf *b)
{
	size_t n = 0, used = 0;
	const struct sum_entry **all = xcalloc(c->n + c->nadd + 1, sizeof *all);
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].used)
			all[n++] = &c->v[i];
	used = n;
	/* a name added in this run replaces its old entry (which missed, so it is
	 * not used); a name added twice (a set loaded twice) is written once:
	 * either record is right for the stat it carries */
	for (size_t i = 0; i < c->nadd; i++)
		all[n++] = &c->add[i];
	if (n)
		qsort(all, n, sizeof *all, cmp_rel);
	buf_adds(b, MAGIC);
	buf_addf(b, "root %s\n", c->root ? c->root : "");
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(all[i]->rel, all[i + 1]->rel) == 0)
			continue;
		const struct sum_entry *e = all[i];
		buf_addf(b, "%s %llu %llu %lld %lld.%09lld %lld.%09lld %s\n", e->sum, e->dev, e->ino, e->size,
			 e->mtime_s, e->mtime_ns, e->ctime_s, e->ctime_ns, e->rel);
	}
	free(all);
	return c->nadd > 0 || used != c->n;
}

void sumcache_save(struct sumcache *c)
{
	const char *base = c->path ? strrchr(c->path, '/') : NULL;
	if (!base || (c->root && strpbrk(c->root, "\n\r")))
		return;
	size_t used = 0;
	for (size_t i = 0; i < c->n; i++)
		used += c->v[i].used;
	if (!c->nadd && used == c->n)
		return; /* every file as recorded: nothing to write (nor to format) */
	struct buf b = BUF_INIT;
	sumcache_render(c, &b);
	/* in .padctl/ (made if need be, never through a link); a cache needs no
	 * fsync: a torn file is refused when read */
	char *tmp = xstrfmt("%s.tmp-%ld", c->path, (long)getpid());
	const char *tmp_base = tmp + (base - c->path) + 1;
	int dfd = open_dir(c->path, 1), fd = -1, e = 0;
	if (dfd < 0)
		e = errno;
	if (!e && (fd = openat(dfd, tmp_base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		e = errno;
	if (fd >= 0) {
		sig_tempfile_register(tmp);
		if (fs_write_all(fd, buf_str(&b), b.len) != 0)
			e = errno;
		if (close(fd) != 0 && !e)
			e = errno;
		if (!e && renameat(dfd, tmp_base, dfd, base + 1) != 0)
			e = errno;
		if (e)
			unlinkat(dfd, tmp_base, 0);
		sig_tempfile_unregister(tmp);
	}
	if (dfd >= 0)
		close(dfd);
	if (e)
		log_verbose("could not update the checksum cache \"%s\": %s (plan reads every file next time)", c->path,
			    strerror(e));
	free(tmp);
	buf_release(&b);
}

void sumcache_release(struct sumcache *c)
{
	free(c->v); /* the names read are in c->text */
	free(c->text);
	entries_free(c->add, c->nadd);
	free(c->path);
	free(c->root);
	memset(c, 0, sizeof *c);
}

/* sumcache: checksums of migration files kept between runs, so that a file
 * nobody touched costs one fstatat() instead of open, fstat, read and close:
 * `padctl plan`'s of down.sql and verify.sql (.padctl/sums; plan reads every
 * up.sql, to print and lint it) and `padctl status`'s of up.sql
 * (.padctl/status-sums; status needs no more than its checksum). Two files:
 * a save keeps only the entries its run looked up.
 *
 * An entry is trusted only while everything a change to the file changes is
 * the same: device, inode, size, mtime and ctime to the nanosecond. ctime
 * cannot be set from user space (utimensat restores mtime, never ctime), so a
 * file rewritten with its old size and mtime put back still misses. A file
 * whose mtime or ctime is less than SUMCACHE_SETTLE_S seconds old when read
 * is not cached at all: on a file system whose clock ticks coarsely, a second
 * write in the same tick could leave both times as they were.
 *
 * Only plan and status use them: deploy, approve and the other commands
 * read every file and compare it with what the plan bound, so a stale entry
 * (a clock set back by hand) could make a plan that deploy refuses, or a
 * status line that is wrong, never a deploy of other SQL. A file status
 * caches passed status's checks (not empty, UTF-8, no NUL) when it was
 * read. The file is a cache: a missing, unreadable or malformed one is
 * ignored (and rewritten), and one that cannot be written is not an error.
 *
 * Format (text, one record a line; the paths have no control characters):
 *   padctl-sums 1
 *   root <the migrations directory, absolute>
 *   <sha256 hex> <dev> <ino> <size> <mtime s>.<ns> <ctime s>.<ns> <entry/file>
 * records sorted by <entry/file> (strcmp), each name once. */
#ifndef PADCTL_SUMCACHE_H
#define PADCTL_SUMCACHE_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#define SUMCACHE_SETTLE_S 2

struct buf;

struct sum_entry {
	char *rel; /* <version>_<name>/down.sql, relative to the migrations directory */
	unsigned long long dev, ino;
	long long size, mtime_s, mtime_ns, ctime_s, ctime_ns;
	char sum[65];
	int used; /* looked up and still right in this run */
};

struct sumcache {
	char *path;          /* the cache file; NULL: nothing is saved */
	char *root;          /* the migrations directory the entries are relative to */
	char *text;          /* the file's text, copied: the names of v point into it */
	struct sum_entry *v; /* the entries read, sorted by rel */
	size_t n;
	struct sum_entry *add; /* computed in this run, to be saved */
	size_t nadd, capadd;
	struct timespec now; /* when the run started reading: what counts as settled */
	size_t next;         /* the entry after the last one looked up */
};

/* sumcache_parse reads text (a cache file) for the migrations directory
 * root into c (which it initialises; c->path stays NULL). Returns 0, or -1
 * when the text is not a cache for root (c then holds no entry). Sets no
 * error: a bad cache is ignored. */
int sumcache_parse(const char *text, size_t len, const char *root, struct sumcache *c);

/* sumcache_open initialises c and reads the cache file path, if it is there
 * and for root; c->now is the current time. */
void sumcache_open(struct sumcache *c, const char *path, const char *root);

/* sumcache_get returns the checksum of rel when st (an lstat of it) is what
 * the entry recorded, else NULL. */
const char *sumcache_get(struct sumcache *c, const char *rel, const struct stat *st);

/* sumcache_put records sum as rel's checksum under st (taken before the file
 * was read) unless the file changed too recently (SUMCACHE_SETTLE_S). */
void sumcache_put(struct sumcache *c, const char *rel, const struct stat *st, const char sum[65]);

/* sumcache_render writes what sumcache_save would write: the entries looked
 * up (used) and added, sorted. Returns 1 when that differs from what was
 * read (an entry added, or one not used), else 0. */
int sumcache_render(const struct sumcache *c, struct buf *b);

/* sumcache_save writes the cache file when its content changed (creating
 * .padctl/ if need be); a failure is logged (-v) and otherwise ignored. */
void sumcache_save(struct sumcache *c);

void sumcache_release(struct sumcache *c);

#endif

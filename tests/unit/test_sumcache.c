/* sumcache: plan's cache of down.sql / verify.sql checksums (.padctl/sums):
 * a hit only when device, inode, size, mtime and ctime are all the same; a
 * file changed in the last SUMCACHE_SETTLE_S seconds is not cached; the file
 * round-trips; a torn, foreign, unsorted or hostile file is refused whole;
 * the file is rewritten only when something changed, and through a link
 * never. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "sumcache.h"
#include "unit.h"

#define SUM_A "6ef32920ad2864edffc8d5170cff2d0b4a6839c2d617bdb5a4f16c5566ae864a"
#define SUM_B "9c7ef7d02bc182323777bc2e12fbfe23a0d7573ec448ea806810b4c5aadce562"
#define HEAD "padctl-sums 1\nroot /p/migrations\n"
#define LINE_A SUM_A " 64 100 24 1000.000000005 1001.999999999 0001_a/down.sql\n"
#define LINE_B SUM_B " 64 101 53 1000.000000000 1000.000000000 0001_a/verify.sql\n"

static struct stat stat_a(void)
{
	struct stat st;
	memset(&st, 0, sizeof st);
	st.st_mode = S_IFREG | 0644;
	st.st_dev = 64;
	st.st_ino = 100;
	st.st_size = 24;
	st.st_mtim.tv_sec = 1000;
	st.st_mtim.tv_nsec = 5;
	st.st_ctim.tv_sec = 1001;
	st.st_ctim.tv_nsec = 999999999;
	return st;
}

static void test_hit_and_every_miss(void)
{
	const char *text = HEAD LINE_A LINE_B;
	struct sumcache c;
	CU_ASSERT_EQUAL_FATAL(sumcache_parse(text, strlen(text), "/p/migrations", &c), 0);
	CU_ASSERT_EQUAL(c.n, 2);
	struct stat st = stat_a();
	const char *got = sumcache_get(&c, "0001_a/down.sql", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, SUM_A);
	CU_ASSERT_PTR_NULL(sumcache_get(&c, "0001_a/up.sql", &st));
	CU_ASSERT_PTR_NULL(sumcache_get(&c, "0001_b/down.sql", &st));
	/* each field alone turns a hit into a miss */
	for (int f = 0; f < 7; f++) {
		struct stat s = stat_a();
		switch (f) {
		case 0: s.st_dev++; break;
		case 1: s.st_ino++; break;
		case 2: s.st_size++; break;
		case 3: s.st_mtim.tv_sec++; break;
		case 4: s.st_mtim.tv_nsec++; break;
		case 5: s.st_ctim.tv_sec++; break;
		default: s.st_ctim.tv_nsec--; break; /* same size and mtime, only the ctime moved */
		}
		CU_ASSERT_PTR_NULL(sumcache_get(&c, "0001_a/down.sql", &s));
	}
	sumcache_release(&c);
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"",
		"padctl-sums 2\nroot /p/migrations\n",
		"padctl-sums 1\nroot /p/migrations/\n",
		"padctl-sums 1\nroot /p/migration\n",
		"padctl-sums 1\nroot /p/migrations",
		HEAD LINE_B LINE_A,                                   /* out of order */
		HEAD LINE_A LINE_A,                                   /* twice */
		HEAD SUM_A " 64 100 24 1000.000000005 1001.999999999 0001_a/down.sql", /* torn: no newline */
		HEAD "6EF32920AD2864EDFFC8D5170CFF2D0B4A6839C2D617BDB5A4F16C5566AE864A 1 2 3 4.5 6.7 x\n",
		HEAD SUM_A " 64 100 24 1000.1000000000 1001.0 x\n",   /* nanoseconds out of range */
		HEAD SUM_A " -64 100 24 1000.0 1001.0 x\n",
		HEAD SUM_A " 64 100 24 1000 1001.0 x\n",
		HEAD SUM_A " 64 100 24 1000.0 1001.0 \n",             /* no name */
		HEAD SUM_A " 64 100 24 1000.0 1001.0 a\rb\n",
		HEAD SUM_A " 64 100 24 1000.0 1001.0 a\033[2Jb\n",
		HEAD SUM_A " 64 100 9223372036854775808 1000.0 1001.0 x\n", /* past a long long */
		HEAD SUM_A " 18446744073709551616 100 24 1000.0 1001.0 x\n", /* past 64 bits */
		HEAD SUM_A "  64 100 24 1000.0 1001.0 x\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct sumcache c;
		int rc = sumcache_parse(bad[i], strlen(bad[i]), "/p/migrations", &c);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_EQUAL(c.n, 0);
		CU_ASSERT_FALSE(err_pending());
		if (rc != -1)
			fprintf(stderr, "accepted: case %zu\n", i);
		sumcache_release(&c);
	}
	/* a NUL byte inside the text */
	char nul[] = HEAD LINE_A;
	nul[strlen(HEAD) + 70] = '\0';
	struct sumcache c;
	CU_ASSERT_EQUAL(sumcache_parse(nul, sizeof nul - 1, "/p/migrations", &c), -1);
	sumcache_release(&c);
}

static void test_put_settles_and_render(void)
{
	const char *text = HEAD LINE_A LINE_B;
	struct sumcache c;
	CU_ASSERT_EQUAL_FATAL(sumcache_parse(text, strlen(text), "/p/migrations", &c), 0);
	c.now.tv_sec = 2000;
	c.now.tv_nsec = 0;
	struct stat st = stat_a();
	CU_ASSERT_PTR_NOT_NULL(sumcache_get(&c, "0001_a/down.sql", &st));
	struct buf b = BUF_INIT;
	/* verify.sql was not looked up: rewritten without it */
	CU_ASSERT_EQUAL(sumcache_render(&c, &b), 1);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), HEAD LINE_A);
	buf_reset(&b);
	struct stat vs = stat_a();
	vs.st_ino = 101;
	vs.st_size = 53;
	vs.st_mtim.tv_nsec = 0;
	vs.st_ctim.tv_sec = 1000;
	vs.st_ctim.tv_nsec = 0;
	CU_ASSERT_PTR_NOT_NULL(sumcache_get(&c, "0001_a/verify.sql", &vs));
	CU_ASSERT_EQUAL(sumcache_render(&c, &b), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), text);
	buf_reset(&b);
	/* changed 2 s before now at the earliest: cached; later: not */
	struct stat fresh = stat_a();
	fresh.st_ctim.tv_sec = 1998;
	fresh.st_ctim.tv_nsec = 0;
	sumcache_put(&c, "0002_b/down.sql", &fresh, SUM_B);
	CU_ASSERT_EQUAL(c.nadd, 1);
	fresh.st_ctim.tv_nsec = 1;
	sumcache_put(&c, "0003_c/down.sql", &fresh, SUM_B);
	fresh.st_ctim.tv_sec = 1000;
	fresh.st_mtim.tv_sec = 1999; /* an mtime set ahead counts too */
	sumcache_put(&c, "0004_d/down.sql", &fresh, SUM_B);
	fresh.st_mtim.tv_sec = -5; /* before 1970: not written */
	sumcache_put(&c, "0005_e/down.sql", &fresh, SUM_B);
	CU_ASSERT_EQUAL(c.nadd, 1);
	CU_ASSERT_EQUAL(sumcache_render(&c, &b), 1);
	struct sumcache back;
	CU_ASSERT_EQUAL_FATAL(sumcache_parse(buf_str(&b), b.len, "/p/migrations", &back), 0);
	CU_ASSERT_EQUAL(back.n, 3);
	CU_ASSERT_STRING_EQUAL(back.v[2].rel, "0002_b/down.sql");
	CU_ASSERT_STRING_EQUAL(back.v[2].sum, SUM_B);
	buf_release(&b);
	sumcache_release(&back);
	sumcache_release(&c);
}

/* read_back is the file's text, or NULL (read_text_file: fs.h) */
static char *read_back(const char *path)
{
	char *text = NULL;
	return read_text_file(path, &text, NULL) == 0 ? text : NULL;
}

static void test_open_and_save(void)
{
	char *dir = unit_tmpdir();
	char *path = NULL, *mig = NULL;
	path = malloc(strlen(dir) + 32);
	mig = malloc(strlen(dir) + 32);
	snprintf(path, strlen(dir) + 32, "%s/.padctl/sums", dir);
	snprintf(mig, strlen(dir) + 32, "%s/migrations", dir);
	/* no file: an empty cache; nothing to save, nothing written */
	struct sumcache c;
	sumcache_open(&c, path, mig);
	CU_ASSERT_EQUAL(c.n, 0);
	CU_ASSERT_FALSE(err_pending());
	sumcache_save(&c);
	CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
	struct stat st = stat_a();
	c.now.tv_sec = 5000;
	sumcache_put(&c, "0001_a/down.sql", &st, SUM_A);
	sumcache_save(&c);
	sumcache_release(&c);
	char *text = read_back(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, SUM_A " 64 100 24 1000.000000005 1001.999999999 0001_a/down.sql\n"));
	free(text);
	struct stat fst;
	CU_ASSERT_EQUAL(stat(path, &fst), 0);
	CU_ASSERT_EQUAL(fst.st_mode & 0777, 0600);
	/* read back: a hit; the same run's save writes nothing */
	sumcache_open(&c, path, mig);
	CU_ASSERT_EQUAL(c.n, 1);
	CU_ASSERT_PTR_NOT_NULL(sumcache_get(&c, "0001_a/down.sql", &st));
	sumcache_save(&c);
	sumcache_release(&c);
	/* for another migrations directory it is not used */
	sumcache_open(&c, path, "/elsewhere/migrations");
	CU_ASSERT_EQUAL(c.n, 0);
	sumcache_release(&c);
	/* a link in its place is replaced, its target left alone */
	char *target = malloc(strlen(dir) + 32);
	snprintf(target, strlen(dir) + 32, "%s/target", dir);
	FILE *f = fopen(target, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("keep\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL(symlink(target, path), 0);
	sumcache_open(&c, path, mig);
	sumcache_put(&c, "0001_a/down.sql", &st, SUM_A);
	sumcache_save(&c);
	sumcache_release(&c);
	struct stat lst;
	CU_ASSERT_EQUAL(lstat(path, &lst), 0);
	CU_ASSERT_TRUE(S_ISREG(lst.st_mode));
	text = read_back(target);
	CU_ASSERT_STRING_EQUAL(text, "keep\n");
	free(text);
	/* .padctl itself a link (to a directory holding a good cache): neither read nor written through */
	char *pad = malloc(strlen(dir) + 32), *other = malloc(strlen(dir) + 32);
	snprintf(pad, strlen(dir) + 32, "%s/.padctl", dir);
	snprintf(other, strlen(dir) + 32, "%s/other", dir);
	CU_ASSERT_EQUAL(rename(pad, other), 0);
	CU_ASSERT_EQUAL(symlink(other, pad), 0);
	sumcache_open(&c, path, mig);
	CU_ASSERT_EQUAL(c.n, 0);
	sumcache_put(&c, "0002_b/down.sql", &st, SUM_B);
	sumcache_save(&c);
	sumcache_release(&c);
	char *in_other = malloc(strlen(dir) + 32);
	snprintf(in_other, strlen(dir) + 32, "%s/other/sums", dir);
	text = read_back(in_other);
	CU_ASSERT_PTR_NOT_NULL(text);
	CU_ASSERT_PTR_NULL(text ? strstr(text, "0002_b") : NULL);
	free(text);
	free(in_other);
	free(pad);
	free(other);
	free(target);
	free(path);
	free(mig);
	unit_rmrf(dir);
	free(dir);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "a hit needs device, inode, size, mtime and ctime the same", test_hit_and_every_miss },
		{ "a torn, foreign, unsorted or hostile file is refused whole", test_refused },
		{ "recent files are not cached; render and round trip", test_put_settles_and_render },
		{ "open, save only on a change, never through a link", test_open_and_save },
		{ NULL, NULL },
	};
	return unit_run("sumcache", tests);
}

/* fs_read_file reads whole files whatever their size: empty, small (one
 * read), larger than any first guess, and files whose size fstat does not
 * know (/proc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "unit.h"

static void check_roundtrip(const char *dir, const char *name, const char *text, size_t len)
{
	char *path = xstrfmt("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
	fclose(f);
	char *got = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL(fs_read_file(path, FS_TEXT_CAP, &got, &n), 0);
	CU_ASSERT_EQUAL(n, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(memcmp(got, text, len), 0);
	CU_ASSERT_EQUAL(got[len], '\0');
	free(got);
	free(path);
}

static void test_sizes(void)
{
	char *dir = unit_tmpdir();
	check_roundtrip(dir, "empty", "", 0);
	check_roundtrip(dir, "one", "x", 1);
	check_roundtrip(dir, "small", "CREATE TABLE t (id int);\n", 25);
	size_t big = 300000;
	char *text = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + i % 26);
	check_roundtrip(dir, "big", text, big);
	free(text);
	unit_rmrf(dir);
	free(dir);
}

static void test_unknown_size(void)
{
	/* /proc files claim size 0 and hand out their text in pieces */
	struct stat st;
	if (stat("/proc/self/maps", &st) != 0 || st.st_size != 0)
		return;
	char *got = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL(fs_read_file("/proc/self/maps", FS_TEXT_CAP, &got, &n), 0);
	CU_ASSERT(n > 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(strlen(got), n);
	CU_ASSERT_EQUAL(got[n - 1], '\n');
	free(got);
}

static void test_cap_and_missing(void)
{
	char *dir = unit_tmpdir();
	unit_write(dir, "f", "0123456789");
	char *path = xstrfmt("%s/f", dir);
	char *got = NULL;
	CU_ASSERT_EQUAL(fs_read_file(path, 5, &got, NULL), -1);
	CU_ASSERT_PTR_NULL(got);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "more than the 5 padctl reads"));
	err_clear();
	CU_ASSERT_EQUAL(fs_read_file(path, 10, &got, NULL), 0);
	CU_ASSERT_STRING_EQUAL(got, "0123456789");
	free(got);
	free(path);
	path = xstrfmt("%s/nope", dir);
	CU_ASSERT_EQUAL(fs_read_file(path, 10, &got, NULL), 1);
	CU_ASSERT_FALSE(err_pending());
	free(path);
	unit_rmrf(dir);
	free(dir);
}

/* fs_write_cache: the file replaced whole, no temporary left; a temporary
 * name left by a dead process of this number (a file, or a link someone put
 * there) is removed, never written through */
static void test_write_cache(void)
{
	char *dir = unit_tmpdir();
	char *path = xstrfmt("%s/cache", dir), *got = NULL;
	CU_ASSERT_EQUAL(fs_write_cache(path, "one\n", 4, 0600), 0);
	CU_ASSERT_EQUAL(fs_read_file(path, 100, &got, NULL), 0);
	CU_ASSERT_STRING_EQUAL(got, "one\n");
	free(got);
	char *tmp = xstrfmt("%s.tmp-%ld", path, (long)getpid());
	unit_write(dir, "victim", "keep me");
	char *victim = xstrfmt("%s/victim", dir);
	CU_ASSERT_EQUAL(symlink(victim, tmp), 0);
	CU_ASSERT_EQUAL(fs_write_cache(path, "two\n", 4, 0600), 0);
	CU_ASSERT_EQUAL(fs_read_file(path, 100, &got, NULL), 0);
	CU_ASSERT_STRING_EQUAL(got, "two\n");
	free(got);
	CU_ASSERT_EQUAL(fs_read_file(victim, 100, &got, NULL), 0);
	CU_ASSERT_STRING_EQUAL(got, "keep me");
	free(got);
	struct stat st;
	CU_ASSERT_NOT_EQUAL(lstat(tmp, &st), 0);
	struct stat ps;
	CU_ASSERT_EQUAL(stat(path, &ps), 0);
	CU_ASSERT_EQUAL(ps.st_mode & 0777, 0600);
	free(tmp);
	free(victim);
	free(path);
	unit_rmrf(dir);
	free(dir);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "files of every size", test_sizes },
		{ "files of unknown size", test_unknown_size },
		{ "the cap, and a missing file", test_cap_and_missing },
		{ "a cache file replaced without fsync", test_write_cache },
		{ NULL, NULL },
	};
	return unit_run("fs_read", tests);
}

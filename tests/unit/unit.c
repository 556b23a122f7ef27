#include "unit.h"
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int unit_run(const char *suite, const struct unit_test *tests)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);
	for (const struct unit_test *t = tests; t->name; t++)
		CU_add_test(s, t->name, t->fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

char *unit_tmpdir(void)
{
	const char *base = getenv("PADCTL_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0755);
	char *tmpl = xstrfmt("%s/padctl-test-XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		abort();
	}
	return tmpl;
}

static void mkdirs(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
	free(p);
}

void unit_write(const char *dir, const char *rel, const char *text)
{
	char *path = xstrfmt("%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
	free(path);
}

void unit_rmrf(const char *dir)
{
	struct buf cmd = BUF_INIT;
	buf_adds(&cmd, "rm -rf -- ");
	buf_shell_quote(&cmd, dir);
	if (system(buf_str(&cmd)) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
	buf_release(&cmd);
}

/* read_all reads f to its end and closes it (the text newly allocated) */
static char *read_all(FILE *f)
{
	struct buf b = BUF_INIT;
	char chunk[512];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b);
}

static char *pg_env_text;

const char *unit_pg_env(const char *key)
{
	static char value[512];
	if (!pg_env_text) {
		const char *path = getenv("PADCTL_TEST_PG_ENV");
		FILE *f = path ? fopen(path, "r") : NULL;
		if (!f)
			return NULL;
		pg_env_text = read_all(f);
	}
	size_t klen = strlen(key);
	for (const char *line = pg_env_text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
			size_t vlen = len - klen - 1;
			if (vlen >= sizeof value)
				vlen = sizeof value - 1;
			memcpy(value, line + klen + 1, vlen);
			value[vlen] = '\0';
			return value;
		}
		line = nl ? nl + 1 : line + len;
	}
	return NULL;
}

static int saved_stderr = -1;
static FILE *capture_file;

void unit_stderr_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	CU_ASSERT_PTR_NOT_NULL_FATAL(capture_file);
	saved_stderr = dup(2);
	dup2(fileno(capture_file), 2);
}

char *unit_stderr_end(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
	rewind(capture_file);
	char *text = read_all(capture_file);
	capture_file = NULL;
	return text;
}

/* confine_check warns about a file inside the project by its name whose real
 * path lies outside it, and about nothing else: whatever the order files are
 * checked in (it remembers directories it found free of symlinks), and with
 * "." or ".." in the path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "confine.h"
#include "unit.h"

static char *tmp;

/* warnings runs confine_check on path and returns what it wrote to stderr (caller frees). */
static char *warnings(const char *path)
{
	unit_stderr_start();
	confine_check(path);
	return unit_stderr_end();
}

static int warns(const char *root, const char *rel)
{
	char *path = xstrfmt("%s/%s", root, rel);
	char *w = warnings(path);
	int r = strstr(w, "symlink leading out of the project") != NULL;
	free(w);
	free(path);
	return r;
}

static void link_to(const char *target, const char *root, const char *rel)
{
	char *path = xstrfmt("%s/%s", root, rel);
	CU_ASSERT_EQUAL_FATAL(symlink(target, path), 0);
	free(path);
}

static void test_links(void)
{
	tmp = unit_tmpdir();
	char *root = xstrfmt("%s/proj", tmp), *out = xstrfmt("%s/outside", tmp);
	unit_write(root, "migrations/0001_a/up.sql", "SELECT 1;\n");
	unit_write(root, "migrations/0001_a/down.sql", "SELECT 1;\n");
	unit_write(root, "migrations/0003_c/up.sql", "SELECT 1;\n");
	unit_write(out, "0002_b/up.sql", "SELECT 1;\n");
	unit_write(out, "secret.sql", "SELECT 1;\n");
	unit_write(out, "00010_d/up.sql", "SELECT 1;\n");
	link_to("../../outside/0002_b", root, "migrations/0002_b");
	link_to("../../outside/00010_d", root, "migrations/00010_d");
	link_to("../../../outside/secret.sql", root, "migrations/0003_c/verify.sql");
	link_to("../0001_a/up.sql", root, "migrations/0003_c/down.sql");
	confine_set_root(root);

	CU_ASSERT_FALSE(warns(root, "migrations/0001_a/up.sql"));
	CU_ASSERT_FALSE(warns(root, "migrations/0001_a/down.sql"));
	/* a linked directory next to one already found plain */
	CU_ASSERT_TRUE(warns(root, "migrations/0002_b/up.sql"));
	/* once per file and run */
	CU_ASSERT_FALSE(warns(root, "migrations/0002_b/up.sql"));
	/* a name that extends the last plain directory's: 0001 is plain, 00010 is a link */
	CU_ASSERT_FALSE(warns(root, "migrations/0001_a/up.sql"));
	CU_ASSERT_TRUE(warns(root, "migrations/00010_d/up.sql"));
	CU_ASSERT_FALSE(warns(root, "migrations/0003_c/up.sql"));
	/* a linked file in a plain directory, out and in */
	CU_ASSERT_TRUE(warns(root, "migrations/0003_c/verify.sql"));
	CU_ASSERT_FALSE(warns(root, "migrations/0003_c/down.sql"));
	/* inside by its name, outside through ".." */
	CU_ASSERT_TRUE(warns(root, "migrations/../../outside/secret.sql"));
	CU_ASSERT_FALSE(warns(root, "migrations/./0001_a/../0001_a/up.sql"));
	/* missing files and paths outside the project by name are not reported */
	CU_ASSERT_FALSE(warns(root, "migrations/0009_none/up.sql"));
	CU_ASSERT_FALSE(warns(tmp, "outside/secret.sql"));

	confine_set_root(NULL);
	unit_rmrf(tmp);
	free(root);
	free(out);
	free(tmp);
}

/* a project reached through a symlink: its files are inside */
static void test_linked_root(void)
{
	tmp = unit_tmpdir();
	char *real = xstrfmt("%s/real", tmp), *root = xstrfmt("%s/proj", tmp);
	unit_write(real, "migrations/0001_a/up.sql", "SELECT 1;\n");
	CU_ASSERT_EQUAL_FATAL(symlink("real", root), 0);
	confine_set_root(root);
	CU_ASSERT_FALSE(warns(root, "migrations/0001_a/up.sql"));
	CU_ASSERT_FALSE(warns(root, "migrations/0001_a/up.sql"));
	confine_set_root(NULL);
	unit_rmrf(tmp);
	free(real);
	free(root);
	free(tmp);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "links out of the project, in any order", test_links },
		{ "a project reached through a symlink", test_linked_root },
		{ NULL, NULL },
	};
	return unit_run("confine", tests);
}

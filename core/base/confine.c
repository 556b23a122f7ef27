#include "confine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

static char *root;      /* as configured (absolute) */
static char *real_root; /* with symlinks resolved */
static char **warned;
static size_t nwarned;

void confine_set_root(const char *r)
{
	free(root);
	free(real_root);
	root = real_root = NULL;
	if (!r)
		return;
	root = xstrdup(r);
	char buf[PATH_MAX];
	real_root = xstrdup(realpath(r, buf) ? buf : r);
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

void confine_check(const char *path)
{
	if (!root || !path || !under(path, root))
		return;
	char buf[PATH_MAX];
	if (!realpath(path, buf) || under(buf, real_root))
		return;
	for (size_t i = 0; i < nwarned; i++)
		if (strcmp(warned[i], path) == 0)
			return;
	warned = xrealloc(warned, (nwarned + 1) * sizeof *warned);
	warned[nwarned++] = xstrdup(path);
	char *shown = xstrprintable(path), *target = xstrprintable(buf);
	log_warn("\"%s\" is a symlink leading out of the project, to \"%s\"; padctl reads it (its text may be shown in "
		 "plans and its checksum recorded)",
		 shown, target);
	free(shown);
	free(target);
}

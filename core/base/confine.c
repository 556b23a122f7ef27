#include "confine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static char *root;      /* as configured (absolute) */
static char *real_root; /* with symlinks resolved */
static char **warned;
static size_t nwarned;
static char *plain_dir; /* the last directory below root found with no symlink on the way from root */
static int root_fd = -1; /* root, opened to look components up from it rather than from / */

void confine_set_root(const char *r)
{
	free(root);
	free(real_root);
	free(plain_dir);
	root = real_root = plain_dir = NULL;
	if (root_fd >= 0)
		close(root_fd);
	root_fd = -1;
	if (!r)
		return;
	root = xstrdup(r);
	root_fd = open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

/* plain_below_root says whether path (under root by its name) reaches its
 * file through no symlink and no "." or ".." below root: its real path is then
 * real_root followed by the rest, inside the project. This costs one lstat
 * per component not already checked for an earlier path (the components
 * plain_dir shares with it are skipped), looked up from root's descriptor,
 * where realpath costs a readlink per component from / for every file: a
 * status reads 1,000 migration files. 0: not known, realpath decides. */
static int plain_below_root(const char *path)
{
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	size_t len = strlen(path), known = n;
	if (len >= PATH_MAX)
		return 0;
	if (plain_dir) {
		/* the longest run of whole components path shares with plain_dir */
		size_t i = 0;
		while (plain_dir[i] && plain_dir[i] == path[i])
			i++;
		if (!plain_dir[i] && (path[i] == '/' || !path[i]))
			known = i;
		else {
			while (i > 0 && path[i - 1] != '/')
				i--;
			if (i > 0 && i - 1 > known)
				known = i - 1;
		}
	}
	char buf[PATH_MAX];
	memcpy(buf, path, len + 1);
	for (size_t p = known; buf[p];) {
		size_t s = p + 1, e = s;
		while (buf[e] && buf[e] != '/')
			e++;
		if ((e - s == 1 && buf[s] == '.') || (e - s == 2 && buf[s] == '.' && buf[s + 1] == '.'))
			return 0;
		if (e > s) {
			char c = buf[e];
			buf[e] = '\0';
			struct stat sb;
			const char *rel = buf + n;
			while (*rel == '/')
				rel++;
			int rc = root_fd >= 0 ? fstatat(root_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) : lstat(buf, &sb);
			if (rc != 0 || S_ISLNK(sb.st_mode))
				return 0;
			if (S_ISDIR(sb.st_mode)) {
				free(plain_dir);
				plain_dir = xstrdup(buf);
			}
			buf[e] = c;
		}
		p = e;
	}
	return 1;
}

void confine_check(const char *path)
{
	if (!root || !path || !under(path, root) || plain_below_root(path))
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

int confine_plain(const char *dir)
{
	return !root || !dir || !under(dir, root) || plain_below_root(dir);
}

int confine_within(const char *path, const char *dir)
{
	char p[PATH_MAX], d[PATH_MAX];
	if (!realpath(path, p) || !realpath(dir, d))
		return 0;
	return under(p, d);
}

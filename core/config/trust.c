#include "trust.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "log.h"

/* The trust file is a list of lines "SHA256-HEX ROOT", ROOT with every byte
 * outside printable ASCII, a space and a backslash written as \xHH, so any
 * directory name fits on one line and compares exactly. */
#define TRUST_CAP ((size_t)1 << 20)

char *trust_file(void)
{
	const char *x = getenv("XDG_CONFIG_HOME");
	if (x && x[0] == '/')
		return xstrfmt("%s/padctl/trusted", x);
	const char *home = getenv("HOME");
	return xstrfmt("%s/.config/padctl/trusted", home && *home ? home : "/");
}

/* entry returns the line (without newline) that trusts command in root. */
static int entry(const char *root, const char *command, char **out)
{
	char hex[HASH_SHA256_HEX_SIZE];
	if (hash_sha256_hex(command, strlen(command), hex))
		return -1;
	struct buf b = BUF_INIT;
	buf_adds(&b, hex);
	buf_addch(&b, ' ');
	/* one token in a line-based file: no space, no control byte, no backslash */
	buf_add_escaped(&b, root, " \\", BUF_ESC_HIGH, 0);
	*out = buf_detach(&b);
	return 0;
}

static int load(const char *path, char **text)
{
	int rc = fs_read_file(path, TRUST_CAP, text, NULL);
	if (rc > 0) {
		*text = xstrdup("");
		return 0;
	}
	if (rc)
		fail_hint("the trust file is padctl's list of trusted commands; fix or remove it");
	return rc;
}

/* find returns the offset of line want in text, or -1. */
static long find(const char *text, const char *want)
{
	size_t wl = strlen(want);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (l == wl && memcmp(p, want, wl) == 0)
			return (long)(p - text);
		p += l + (nl ? 1 : 0);
	}
	return -1;
}

int trust_check(const char *root, const char *command)
{
	char *path = trust_file(), *text = NULL, *want = NULL;
	int rc = load(path, &text);
	if (!rc)
		rc = entry(root, command, &want);
	if (!rc)
		rc = find(text, want) >= 0;
	free(want);
	free(text);
	free(path);
	return rc;
}

/* mkdirs creates the directories leading to path (mode 0700, the user's own). */
static int mkdirs(const char *path)
{
	char *dir = xstrdup(path);
	int rc = 0;
	for (char *p = dir + 1; *p && !rc; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			rc = fail("could not create \"%s\": %s", dir, strerror(errno));
		*p = '/';
	}
	free(dir);
	return rc;
}

int trust_set(const char *root, const char *command, int trusted)
{
	char *path = trust_file(), *text = NULL, *want = NULL;
	int rc = load(path, &text);
	if (!rc)
		rc = entry(root, command, &want);
	if (rc)
		goto out;
	long at = find(text, want);
	if ((at >= 0) == (trusted != 0))
		goto out;
	struct buf b = BUF_INIT;
	if (trusted) {
		buf_adds(&b, text);
		if (b.len && b.s[b.len - 1] != '\n')
			buf_addch(&b, '\n');
		buf_addf(&b, "%s\n", want);
	} else {
		size_t wl = strlen(want);
		buf_add(&b, text, (size_t)at);
		const char *rest = text + at + wl;
		buf_adds(&b, *rest == '\n' ? rest + 1 : rest);
	}
	rc = mkdirs(path);
	if (!rc)
		rc = fs_write_atomic(path, b.len ? b.s : "", b.len, 0600);
	buf_release(&b);
out:
	free(want);
	free(text);
	free(path);
	return rc;
}

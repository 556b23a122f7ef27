/* keep.c: checking a backup kept on the SSH host (ssh.backups_dir): its
 * SHA-256 computed there (sha256sum over remote_exec), its size and kind
 * read over SFTP. */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int collect(void *ctx, const void *data, size_t n)
{
	struct buf *b = ctx;
	if (b->len < 64 * 1024)
		buf_add(b, data, n);
	return 0;
}

int remote_sha256(struct remote *r, const char *path, char hex[65])
{
	hex[0] = '\0';
	const char *argv[] = { "sha256sum", "--", path, NULL };
	struct buf out = BUF_INIT, err = BUF_INIT;
	/* reading a large dump takes time: an hour, as for the tools */
	struct remote_exec_opts o = { argv, 3600L * 1000, collect, &out, collect, &err, "sha256sum" };
	struct remote_exec_result res;
	int rc = remote_exec(r, &o, &res);
	char *p = xstrprintable(path);
	if (!rc && res.exit_code != 0) {
		char *said = xstrprintable(err.len ? buf_str(&err) : "nothing");
		rc = fail("could not hash \"%s\" on the %s: sha256sum exited with status %d", p, r->label,
			  res.exit_code);
		fail_detail("it printed: %s", said);
		if (res.exit_code == 127)
			fail_hint("install coreutils on the SSH host");
		free(said);
	}
	if (!rc) {
		/* a name with a backslash or newline makes sha256sum start the line with "\" */
		const char *s = buf_str(&out);
		s += *s == '\\';
		size_t n = strspn(s, "0123456789abcdef");
		if (n != 64 || (s[64] != ' ' && s[64] != '\0')) {
			char *said = xstrprintable(buf_str(&out));
			rc = fail("could not hash \"%s\" on the %s: sha256sum printed no hash", p, r->label);
			fail_detail("it printed: %s", said);
			free(said);
		} else {
			memcpy(hex, s, 64);
			hex[64] = '\0';
		}
	}
	free(p);
	buf_release(&out);
	buf_release(&err);
	return rc;
}

int remote_dump_check(struct remote *r, const char *path, const char *size, const char *sha256)
{
	struct remote_stat st;
	if (remote_lstat(r, path, &st))
		return -1;
	char *p = xstrprintable(path);
	int rc = 0;
	if (!st.exists) {
		rc = fail("backup file \"%s\" is missing on the %s", p, r->label);
		fail_detail("the ledger records it with %s bytes, sha256 %s", size, sha256 ? sha256 : "-");
	} else if (!st.regular) {
		rc = fail("backup file \"%s\" on the %s is not a regular file (a link or something else is in its "
			  "place)",
			  p, r->label);
	}
	char hex[65];
	if (!rc)
		rc = remote_sha256(r, path, hex);
	if (!rc) {
		char now[32];
		snprintf(now, sizeof now, "%llu", st.size);
		if (strcmp(now, size) != 0 || !sha256 || strcmp(hex, sha256) != 0) {
			rc = fail("backup file \"%s\" on the %s changed since it was written", p, r->label);
			fail_detail("recorded: %s bytes, sha256 %s; now: %s bytes, sha256 %s", size,
				    sha256 ? sha256 : "-", now, hex);
		}
	}
	free(p);
	return rc;
}

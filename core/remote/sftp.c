#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2_sftp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SFTP_TIMEOUT_MS 30000

/* sftp_open returns r's SFTP channel, started at the first use and kept:
 * each start runs an sftp-server process on the host, and a kept backup or
 * a tool's pgpass file needs several SFTP operations in a row */
static LIBSSH2_SFTP *sftp_open(struct remote *r, const char *what)
{
	libssh2_session_set_blocking(r->s, 1);
	libssh2_session_set_timeout(r->s, SFTP_TIMEOUT_MS);
	if (r->sftp)
		return r->sftp;
	LIBSSH2_SFTP *sftp = libssh2_sftp_init(r->s);
	if (!sftp) {
		char *why = remote_session_error(r->s);
		fail("could not start SFTP on the %s to %s: %s", r->label, what, why);
		free(why);
		fail_hint("padctl needs the SSH server's sftp subsystem (Subsystem sftp in sshd_config)");
		libssh2_session_set_timeout(r->s, 0);
	}
	r->sftp = sftp;
	return sftp;
}

static void sftp_done(struct remote *r, LIBSSH2_SFTP *sftp)
{
	(void)sftp;
	libssh2_session_set_timeout(r->s, 0);
}

void remote_sftp_close(struct remote *r)
{
	if (!r->sftp)
		return;
	libssh2_session_set_blocking(r->s, 1);
	libssh2_session_set_timeout(r->s, 5000);
	libssh2_sftp_shutdown(r->sftp);
	libssh2_session_set_timeout(r->s, 0);
	r->sftp = NULL;
}

static const char *sftp_why(LIBSSH2_SFTP *sftp, struct remote *r, char **own)
{
	unsigned long e = libssh2_sftp_last_error(sftp);
	switch (e) {
	case LIBSSH2_FX_NO_SUCH_FILE:
		return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED:
		return "permission denied";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS:
		return "the file exists";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
		return "no space left";
	default:
		*own = remote_session_error(r->s);
		return *own;
	}
}

/* write_all writes n bytes to the SFTP file */
static int write_all(struct remote *r, LIBSSH2_SFTP *sftp, LIBSSH2_SFTP_HANDLE *h, const char *name, const char *d,
		     size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = libssh2_sftp_write(h, d + off, n - off);
		if (w <= 0) {
			char *own = NULL;
			fail("could not write \"%s\" on the %s: %s", name, r->label, sftp_why(sftp, r, &own));
			free(own);
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

/* put_private creates the private file and fills it with data (n bytes), or
 * with what the descriptor fd holds when fd >= 0 */
static int put_private(struct remote *r, const char *dir, const char *prefix, const void *data, size_t n, int fd,
		       char **path)
{
	*path = NULL;
	LIBSSH2_SFTP *sftp = sftp_open(r, "write a private file");
	if (!sftp)
		return -1;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	char *name = NULL;
	/* a random name, created exclusively: nobody can have put a file or a link there first */
	for (int attempt = 0; attempt < 8 && !h; attempt++) {
		unsigned char rnd[6];
		FILE *ur = fopen("/dev/urandom", "rb");
		size_t got = ur ? fread(rnd, 1, sizeof rnd, ur) : 0;
		if (ur)
			fclose(ur);
		if (got != sizeof rnd) {
			sftp_done(r, sftp);
			return fail("could not read random bytes for a remote file name");
		}
		free(name);
		name = xstrfmt("%s/%s%02x%02x%02x%02x%02x%02x", dir, prefix, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
			       rnd[5]);
		h = libssh2_sftp_open(sftp, name, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
				      LIBSSH2_SFTP_S_IRUSR | LIBSSH2_SFTP_S_IWUSR);
		if (!h && libssh2_sftp_last_error(sftp) != LIBSSH2_FX_FILE_ALREADY_EXISTS)
			break;
	}
	if (!h) {
		char *own = NULL;
		char *p = xstrprintable(name);
		fail("could not create \"%s\" on the %s: %s", p, r->label, sftp_why(sftp, r, &own));
		free(own);
		free(p);
		free(name);
		sftp_done(r, sftp);
		return -1;
	}
	int rc = 0;
	if (fd < 0) {
		rc = write_all(r, sftp, h, name, data, n);
	} else {
		/* streamed: a dump is not read into memory whole */
		char chunk[65536];
		ssize_t got;
		while (!rc && (got = read(fd, chunk, sizeof chunk)) != 0) {
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				rc = fail("could not read the file copied to \"%s\": %s", name, strerror(errno));
			else
				rc = write_all(r, sftp, h, name, chunk, (size_t)got);
		}
	}
	libssh2_sftp_close(h);
	if (rc)
		libssh2_sftp_unlink(sftp, name);
	sftp_done(r, sftp);
	if (rc) {
		free(name);
		return -1;
	}
	*path = name;
	return 0;
}

int remote_put_private(struct remote *r, const char *dir, const char *prefix, const void *data, size_t n, char **path)
{
	return put_private(r, dir, prefix, data, n, -1, path);
}

int remote_upload_private(struct remote *r, const char *dir, const char *prefix, const char *local, char **path)
{
	*path = NULL;
	int fd = open(local, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail("could not read \"%s\" to copy it to the %s: %s", local, r->label, strerror(errno));
	int rc = put_private(r, dir, prefix, NULL, 0, fd, path);
	close(fd);
	return rc;
}

int remote_remove(struct remote *r, const char *path)
{
	LIBSSH2_SFTP *sftp = sftp_open(r, "remove a file");
	if (!sftp)
		return -1;
	int rc = 0;
	if (libssh2_sftp_unlink(sftp, path) != 0 && libssh2_sftp_last_error(sftp) != LIBSSH2_FX_NO_SUCH_FILE) {
		char *own = NULL;
		char *p = xstrprintable(path);
		rc = fail("could not remove \"%s\" on the %s: %s", p, r->label, sftp_why(sftp, r, &own));
		fail_hint("remove it by hand: it may hold a password");
		free(p);
		free(own);
	}
	sftp_done(r, sftp);
	return rc;
}

int remote_stat_size(struct remote *r, const char *path, unsigned long long *size)
{
	LIBSSH2_SFTP *sftp = sftp_open(r, "read a file's size");
	if (!sftp)
		return -1;
	LIBSSH2_SFTP_ATTRIBUTES a;
	memset(&a, 0, sizeof a);
	int rc = 0;
	if (libssh2_sftp_stat(sftp, path, &a) != 0 || !(a.flags & LIBSSH2_SFTP_ATTR_SIZE)) {
		char *own = NULL;
		char *p = xstrprintable(path);
		rc = fail("could not read the size of \"%s\" on the %s: %s", p, r->label, sftp_why(sftp, r, &own));
		free(p);
		free(own);
	} else {
		*size = a.filesize;
	}
	sftp_done(r, sftp);
	return rc;
}

/* ---- kept dumps (ssh.backups_dir): directories, files, their state */

static void fill_stat(const LIBSSH2_SFTP_ATTRIBUTES *a, struct remote_stat *st)
{
	st->exists = 1;
	if (a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) {
		st->regular = LIBSSH2_SFTP_S_ISREG(a->permissions);
		st->dir = LIBSSH2_SFTP_S_ISDIR(a->permissions);
		st->perm = a->permissions & 07777;
	}
	if (a->flags & LIBSSH2_SFTP_ATTR_SIZE)
		st->size = a->filesize;
}

/* sftp_lstat: 0 with st filled (st->exists 0 when there is nothing), -1 with the error recorded */
static int sftp_lstat(struct remote *r, LIBSSH2_SFTP *sftp, const char *path, struct remote_stat *st)
{
	memset(st, 0, sizeof *st);
	LIBSSH2_SFTP_ATTRIBUTES a;
	memset(&a, 0, sizeof a);
	if (libssh2_sftp_lstat(sftp, path, &a) == 0) {
		fill_stat(&a, st);
		return 0;
	}
	if (libssh2_sftp_last_error(sftp) == LIBSSH2_FX_NO_SUCH_FILE)
		return 0;
	char *own = NULL;
	char *p = xstrprintable(path);
	fail("could not stat \"%s\" on the %s: %s", p, r->label, sftp_why(sftp, r, &own));
	free(p);
	free(own);
	return -1;
}

int remote_lstat(struct remote *r, const char *path, struct remote_stat *st)
{
	memset(st, 0, sizeof *st);
	LIBSSH2_SFTP *sftp = sftp_open(r, "read a file's state");
	if (!sftp)
		return -1;
	int rc = sftp_lstat(r, sftp, path, st);
	sftp_done(r, sftp);
	return rc;
}

/* private_dir makes path 0700 when it is missing and checks what is there */
static int private_dir(struct remote *r, LIBSSH2_SFTP *sftp, const char *path, int owner_only)
{
	struct remote_stat st;
	if (sftp_lstat(r, sftp, path, &st))
		return -1;
	if (!st.exists) {
		/* a failure shows in the lstat below (another run may have made it meanwhile) */
		libssh2_sftp_mkdir(sftp, path, LIBSSH2_SFTP_S_IRWXU);
		if (sftp_lstat(r, sftp, path, &st))
			return -1;
	}
	char *p = xstrprintable(path);
	int rc = 0;
	if (!st.exists) {
		rc = fail("could not create directory \"%s\" on the %s", p, r->label);
		fail_hint("check that the SSH user may write to its parent directory");
	} else if (!st.dir) {
		rc = fail("\"%s\" on the %s is not a directory (a symbolic link or a file is in its place)", p,
			  r->label);
		fail_detail("padctl writes backups only into a real directory, never through a link");
		fail_hint("remove \"%s\" on the SSH host, or point ssh.backups_dir at a directory", p);
	} else if (owner_only && (st.perm & 077)) {
		rc = fail("directory \"%s\" on the %s has mode %04lo: other users could read the backups", p, r->label,
			  st.perm);
		fail_hint("chmod 700 \"%s\" on the SSH host", p);
	} else if (!owner_only && (st.perm & 002)) {
		rc = fail("ssh.backups_dir \"%s\" on the %s is writable by every user there: no backup is written "
			  "there",
			  p, r->label);
		fail_detail("anyone could replace a backup before it is restored");
		fail_hint("chmod o-w \"%s\" on the SSH host, or point ssh.backups_dir at a private directory", p);
	}
	free(p);
	return rc;
}

int remote_dump_dir(struct remote *r, const char *base, const char *env, const char *target, char **dir)
{
	*dir = NULL;
	if (base[0] != '/')
		return fail("ssh.backups_dir \"%s\" is not an absolute path", base);
	LIBSSH2_SFTP *sftp = sftp_open(r, "make the backups directory");
	if (!sftp)
		return -1;
	int rc = 0;
	/* the missing parents of base, 0700; what exists above base is the host's business */
	char *p = xstrdup(base);
	for (char *q = p + 1; *q && !rc; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		struct remote_stat st;
		rc = sftp_lstat(r, sftp, p, &st);
		if (!rc && !st.exists)
			libssh2_sftp_mkdir(sftp, p, LIBSSH2_SFTP_S_IRWXU);
		*q = '/';
	}
	free(p);
	char *e = xstrfmt("%s/%s", base, env);
	char *t = xstrfmt("%s/%s", e, target);
	if (!rc)
		rc = private_dir(r, sftp, base, 0);
	if (!rc)
		rc = private_dir(r, sftp, e, 1);
	if (!rc)
		rc = private_dir(r, sftp, t, 1);
	sftp_done(r, sftp);
	free(e);
	if (rc)
		free(t);
	else
		*dir = t;
	return rc;
}

int remote_create_private(struct remote *r, const char *path)
{
	LIBSSH2_SFTP *sftp = sftp_open(r, "create the backup file");
	if (!sftp)
		return -1;
	LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open(sftp, path, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
						   LIBSSH2_SFTP_S_IRUSR | LIBSSH2_SFTP_S_IWUSR);
	int rc = 0;
	if (!h) {
		/* OpenSSH's sftp-server says "failure" for an existing file: look */
		struct remote_stat st;
		int there = sftp_lstat(r, sftp, path, &st) == 0 && st.exists;
		char *own = NULL;
		char *p = xstrprintable(path);
		rc = fail("could not create backup file \"%s\" on the %s: %s", p, r->label,
			  there ? "the file exists" : sftp_why(sftp, r, &own));
		if (there)
			fail_detail("a file of that name is there already: padctl never writes over one");
		free(p);
		free(own);
	} else {
		libssh2_sftp_close(h);
	}
	sftp_done(r, sftp);
	return rc;
}

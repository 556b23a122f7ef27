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

static LIBSSH2_SFTP *sftp_open(struct remote *r, const char *what)
{
	libssh2_session_set_blocking(r->s, 1);
	libssh2_session_set_timeout(r->s, SFTP_TIMEOUT_MS);
	LIBSSH2_SFTP *sftp = libssh2_sftp_init(r->s);
	if (!sftp) {
		char *why = remote_session_error(r->s);
		fail("could not start SFTP on the %s to %s: %s", r->label, what, why);
		free(why);
		fail_hint("padctl needs the SSH server's sftp subsystem (Subsystem sftp in sshd_config)");
	}
	return sftp;
}

static void sftp_done(struct remote *r, LIBSSH2_SFTP *sftp)
{
	libssh2_sftp_shutdown(sftp);
	libssh2_session_set_timeout(r->s, 0);
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

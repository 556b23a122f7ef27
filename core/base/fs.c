#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "sig.h"

int fs_read_file(const char *path, size_t cap, char **text, size_t *len)
{
	*text = NULL;
	if (len)
		*len = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0)
		return fail("could not read \"%s\": %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return fail("could not read \"%s\": %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		fail("could not read \"%s\": not a regular file", path);
		fail_detail("padctl reads only regular files (not FIFOs, devices or directories)");
		return fail_status(EXIT_USAGE);
	}
	if ((unsigned long long)st.st_size > cap) {
		close(fd);
		fail("could not read \"%s\": it holds %lld bytes, more than the %zu padctl reads", path,
		     (long long)st.st_size, cap);
		return fail_status(EXIT_USAGE);
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	struct buf b = BUF_INIT;
	buf_add(&b, "", 0);
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			buf_release(&b);
			return fail("could not read \"%s\": %s", path, strerror(e));
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > cap) {
			/* it grew while we read it */
			close(fd);
			buf_release(&b);
			fail("could not read \"%s\": it grew past the %zu bytes padctl reads", path, cap);
			return fail_status(EXIT_USAGE);
		}
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	if (len)
		*len = b.len;
	*text = buf_detach(&b);
	return 0;
}

int fs_write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	unsigned char r[6];
	if (RAND_bytes(r, sizeof r) != 1)
		return fail("could not write \"%s\": no random bytes for a temporary name", path);
	char *tmp = xstrfmt("%s.tmp-%02x%02x%02x%02x%02x%02x", path, r[0], r[1], r[2], r[3], r[4], r[5]);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return fail("could not write \"%s\": %s", path, strerror(e));
	}
	sig_tempfile_register(tmp);
	int rc = fchmod(fd, mode);
	size_t off = 0;
	while (rc == 0 && off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = -1;
		else
			off += (size_t)n;
	}
	if (rc == 0)
		rc = fsync(fd);
	int e = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -1;
		e = errno;
	}
	if (rc)
		unlink(tmp);
	sig_tempfile_unregister(tmp);
	free(tmp);
	if (rc)
		return fail("could not write \"%s\": %s", path, strerror(e));
	return 0;
}

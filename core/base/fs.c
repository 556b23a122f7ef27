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
#include "confine.h"
#include "hash.h"
#include "log.h"
#include "sig.h"

int fs_read_file(const char *path, size_t cap, char **text, size_t *len)
{
	return fs_read_file_at(AT_FDCWD, path, path, cap, text, len);
}

static int read_file_at(int dirfd, const char *rel, const char *path, size_t cap, char **text, size_t *len, int flags)
{
	*text = NULL;
	if (len)
		*len = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway */
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 && errno == ELOOP && (flags & O_NOFOLLOW))
		return 2;
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
	/* O_NONBLOCK stays: it has no effect on a regular file. The file is read
	 * into a buffer with room for one byte more than fstat counted, so a file
	 * that did not change takes a single read(): status reads a thousand of
	 * them, and each system call counts. (A file whose size fstat does not
	 * know, as in /proc, is read to the end as usual.) */
	size_t size = (size_t)st.st_size, used = 0, alloc = size + 2;
	char *s = xmalloc(alloc);
	for (;;) {
		size_t room = alloc - 1 - used;
		ssize_t n = read(fd, s + used, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			free(s);
			return fail("could not read \"%s\": %s", path, strerror(e));
		}
		used += (size_t)n;
		if (used > cap) {
			/* it grew while we read it */
			close(fd);
			free(s);
			fail("could not read \"%s\": it grew past the %zu bytes padctl reads", path, cap);
			return fail_status(EXIT_USAGE);
		}
		if (n == 0 || ((size_t)n < room && used == size))
			break;
		if (used == alloc - 1) {
			alloc = alloc < 65536 ? 65536 : alloc * 2;
			s = xrealloc(s, alloc);
		}
	}
	s[used] = '\0';
	close(fd);
	if (len)
		*len = used;
	*text = s;
	return 0;
}

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* write_replace writes path through a temporary file, fsynced when sync is
 * set. The temporary name is random (a name nobody can have made ready);
 * a cache (no sync) names it by the process instead: the first random bytes
 * cost a process about a millisecond of OpenSSL's set-up, and a name left by
 * a dead process of the same number is removed (never written through). */
static int write_replace(const char *path, const char *data, size_t len, mode_t mode, int sync)
{
	char *tmp;
	if (sync) {
		unsigned char r[6];
		if (RAND_bytes(r, sizeof r) != 1) {
			fail("could not write \"%s\": no random bytes for a temporary name", path);
			fail_detail("OpenSSL's random generator failed");
			return fail_hint("check OPENSSL_CONF: OpenSSL needs a provider with a random generator (its "
					 "default provider)");
		}
		char suffix[2 * sizeof r + 1];
		hash_hex(r, sizeof r, suffix);
		tmp = xstrfmt("%s.tmp-%s", path, suffix);
	} else {
		tmp = xstrfmt("%s.tmp-%ld", path, (long)getpid());
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno == EEXIST && !sync && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return fail("could not write \"%s\": %s", path, strerror(e));
	}
	sig_tempfile_register(tmp);
	int rc = fchmod(fd, mode);
	if (rc == 0)
		rc = fs_write_all(fd, data, len);
	if (rc == 0 && sync)
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

int fs_write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	return write_replace(path, data, len, mode, 1);
}

int fs_write_cache(const char *path, const char *data, size_t len, mode_t mode)
{
	return write_replace(path, data, len, mode, 0);
}

int read_text_file(const char *path, char **text, size_t *len)
{
	int rc = read_text_file_if(path, text, len);
	if (rc == 1)
		return fail("cannot read \"%s\": %s", path, strerror(ENOENT));
	return rc;
}

int read_text_file_if(const char *path, char **text, size_t *len)
{
	int rc = fs_read_text_if(path, text, len);
	if (rc == 0)
		confine_check(path);
	return rc;
}

int fs_read_file_at(int dirfd, const char *rel, const char *path, size_t cap, char **text, size_t *len)
{
	return read_file_at(dirfd, rel, path, cap, text, len, 0);
}

int fs_read_text_if(const char *path, char **text, size_t *len)
{
	return fs_read_text_at_if(AT_FDCWD, path, path, text, len);
}

static int read_text_at(int dirfd, const char *rel, const char *path, char **text, size_t *len, int flags)
{
	size_t n = 0;
	int rc = read_file_at(dirfd, rel, path, FS_TEXT_CAP, text, &n, flags);
	if (rc)
		return rc;
	if (memchr(*text, '\0', n)) {
		free(*text);
		*text = NULL;
		fail("\"%s\" is not a text file (it holds a NUL byte)", path);
		return fail_status(EXIT_USAGE);
	}
	if (len)
		*len = n;
	return 0;
}

int fs_read_text_at_if(int dirfd, const char *rel, const char *path, char **text, size_t *len)
{
	return read_text_at(dirfd, rel, path, text, len, 0);
}

int fs_read_text_nofollow_at_if(int dirfd, const char *rel, const char *path, char **text, size_t *len)
{
	return read_text_at(dirfd, rel, path, text, len, O_NOFOLLOW);
}

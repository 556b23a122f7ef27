/* fs: reading and writing the files padctl owns, safely.
 *
 * Reads accept regular files only (a FIFO, a device such as /dev/zero or a
 * directory is refused, naming the path) and at most a cap of bytes, so no
 * input can hang padctl or exhaust its memory. Writes go through a temporary
 * file created with O_EXCL|O_NOFOLLOW in the destination's directory and are
 * renamed over the destination: a symlink planted at the destination is
 * replaced, never followed. */
#ifndef PADCTL_FS_H
#define PADCTL_FS_H

#include <stddef.h>
#include <sys/types.h>

/* FS_TEXT_CAP is the largest text file padctl reads (migrations included). */
#define FS_TEXT_CAP ((size_t)1 << 30)

/* fs_read_file reads the regular file at path (at most cap bytes) into a newly
 * allocated NUL-terminated string; *len (if non-NULL) gets its length. Returns
 * 1 without recording an error when the file does not exist, 0 on success,
 * -1 after fail() naming the path. NUL bytes are the caller's to judge. */
int fs_read_file(const char *path, size_t cap, char **text, size_t *len);
/* fs_read_file_at is fs_read_file of rel opened relative to the directory
 * dirfd (AT_FDCWD: the working directory); messages name path. A reader of
 * many files in one directory saves the kernel the lookup of every leading
 * component (status reads 1,000 up.sql files). */
int fs_read_file_at(int dirfd, const char *rel, const char *path, size_t cap, char **text, size_t *len);

/* read_text_file reads a whole text file (regular, at most FS_TEXT_CAP
 * bytes, no NUL byte) into a newly allocated string; *len (if non-NULL) gets
 * its length. A missing file fails naming the path; a NUL byte fails with
 * EXIT_USAGE. A file in the project by name that resolves outside it is
 * warned about (confine_check). */
int read_text_file(const char *path, char **text, size_t *len);
/* read_text_file_if is read_text_file, but a missing file returns 1 and records no error. */
int read_text_file_if(const char *path, char **text, size_t *len);
/* fs_read_text_if is read_text_file_if without the warning about links out of
 * the project: for readers that neither show nor store the text (status only
 * checksums it), so the warning stays with plan and deploy. */
int fs_read_text_if(const char *path, char **text, size_t *len);
/* fs_read_text_at_if is fs_read_text_if of rel relative to dirfd (see fs_read_file_at). */
int fs_read_text_at_if(int dirfd, const char *rel, const char *path, char **text, size_t *len);
/* fs_read_text_nofollow_at_if is fs_read_text_at_if, but returns 2 (nothing
 * read, no error recorded) when the last component of rel is a symlink: for a
 * reader that takes links the slow way, through read_text_file_if and its
 * warning about links out of the project. */
int fs_read_text_nofollow_at_if(int dirfd, const char *rel, const char *path, char **text, size_t *len);

/* fs_write_all writes all len bytes of data to fd, retrying short writes and
 * EINTR. Returns 0, or -1 with errno set (nothing recorded: the caller names
 * the file). */
int fs_write_all(int fd, const void *data, size_t len);

/* fs_write_atomic replaces path with len bytes of data, mode mode, through a
 * temporary file in the same directory that is fsynced and renamed. Returns 0,
 * or -1 after fail() naming the path (the temporary file is removed). */
int fs_write_atomic(const char *path, const char *data, size_t len, mode_t mode);
/* fs_write_cache is fs_write_atomic without the fsync, for a cache whose
 * reader refuses a torn or empty file (a crash may leave one): the file is
 * replaced whole or not at all while the system runs, and costs no wait for
 * the disk. */
int fs_write_cache(const char *path, const char *data, size_t len, mode_t mode);

#endif

#include "fuzz_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"

static char *dir;

static void cleanup(void)
{
	if (!dir)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	int st;
	if (pid > 0)
		waitpid(pid, &st, 0);
}

const char *fuzz_dir(void)
{
	if (dir)
		return dir;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char *tmpl = xstrfmt("%s/padctl-fuzz-XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		abort();
	}
	dir = tmpl;
	atexit(cleanup);
	return dir;
}

void fuzz_write(const char *rel, const uint8_t *data, size_t size)
{
	char *path = xstrfmt("%s/%s", fuzz_dir(), rel);
	for (char *p = path + strlen(fuzz_dir()) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0) {
			perror(path);
			abort();
		}
		off += (size_t)n;
	}
	close(fd);
	free(path);
}

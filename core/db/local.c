#include "local.h"
#include "buf.h"
#include "db.h"
#include "fs.h"
#include "hash.h"
#include "log.h"
#include "proc.h"
#include "sig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOCAL_HOST "127.0.0.1"
#define LOCAL_SUPERUSER "padctl"
#define SERVER_USER "postgres"
#define RELOCATE_DIR "/var/lib/padctl/clusters"
#define LOG_TAIL_LINES 20
#define MAX_GROUPS 64
/* sun_path is 108 bytes; the server adds "/.s.PGSQL.NNNNN.lock" */
#define SOCKET_PATH_MAX 107
/* the most of the server log padctl reads back for an error message */
#define LOG_READ_CAP 65536
/* the few variables initdb and the server get; everything else of padctl's
 * environment (PGPASSWORD, cloud keys, ...) stays on this side */
#define CHILD_PATH "/usr/local/bin:/usr/bin:/bin"
static const char *const child_env_keep[] = { "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", NULL };

/* Where a project's cluster lives. meta (<root>/.padctl/pg) always holds the
 * password, port and location files; base holds data/, sock/ and log, and is
 * meta itself unless the server user cannot reach the project. */
struct cluster {
	char *root;
	char *meta;
	char *base;
	char *data;
	char *sock;
	char *log;
	int relocated;
};

/* the unprivileged user the server runs as when padctl runs as root */
struct runas {
	int active;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	int ngroups;
};

static void cluster_set_base(struct cluster *cl, char *base)
{
	free(cl->base);
	free(cl->data);
	free(cl->sock);
	free(cl->log);
	cl->base = base;
	cl->data = xstrfmt("%s/data", base);
	cl->sock = xstrfmt("%s/sock", base);
	cl->log = xstrfmt("%s/log", base);
}

/* open_regular opens path for reading without following a symbolic link in
 * its last component and without blocking on a FIFO; it returns -1 (errno
 * set) unless it is a regular file with one link and, when owner is not
 * (uid_t)-1, owned by owner. The cluster's directory may belong to the
 * server user, so root must never read through a link planted there. */
static int open_regular(const char *path, uid_t owner, struct stat *st_out)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (owner != (uid_t)-1 && st.st_uid != owner)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	if (st_out)
		*st_out = st;
	return fd;
}

static char *file_first_line(const char *path)
{
	int fd = open_regular(path, (uid_t)-1, NULL);
	if (fd < 0)
		return NULL;
	char line[4096];
	size_t len = 0;
	while (len < sizeof line - 1) {
		ssize_t n = read(fd, line + len, sizeof line - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	line[len] = '\0';
	if (len == 0)
		return NULL;
	line[strcspn(line, "\r\n")] = '\0';
	return xstrdup(line);
}

/* shell_safe tells whether s can sit inside double quotes of a sh command
 * line unchanged: pg_ctl hands the data directory and the log path to
 * `sh -c "exec postgres -D \"DIR\" ... >> \"LOG\""`, where $ ` \ and "
 * would be interpreted; control characters are refused as well. */
static int shell_safe(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '"' || c == '`' || c == '$' || c == '\\')
			return 0;
	}
	return 1;
}

/* location_valid accepts only what relocate() writes: RELOCATE_DIR/<16 hex>.
 * The file sits in the project, so anything else is not ours. */
static int location_valid(const char *loc)
{
	size_t n = strlen(RELOCATE_DIR);
	return strncmp(loc, RELOCATE_DIR "/", n + 1) == 0 && strlen(loc + n + 1) == 16 && hash_is_hex(loc + n + 1, 16);
}

/* cluster_init only computes paths: it runs on the fast path of every status. */
static int cluster_init(const struct cfg_project *p, struct cluster *cl)
{
	memset(cl, 0, sizeof *cl);
	cl->root = xstrdup(p->root);
	cl->meta = xstrfmt("%s/.padctl/pg", p->root);
	char *locfile = xstrfmt("%s/location", cl->meta);
	char *loc = file_first_line(locfile);
	int rc = 0;
	if (loc && *loc && !location_valid(loc)) {
		fail("\"%s\" names \"%s\", which is not a directory padctl relocates clusters to", locfile, loc);
		fail_detail("padctl writes only %s/<16 hex digits> there", RELOCATE_DIR);
		fail_hint("remove \"%s\" (padctl then keeps the cluster in the project, or relocates it again)", locfile);
		free(loc);
		loc = NULL;
		rc = -1;
	}
	free(locfile);
	if (loc && *loc) {
		cl->relocated = 1;
		cluster_set_base(cl, loc);
	} else {
		free(loc);
		cluster_set_base(cl, xstrdup(cl->meta));
	}
	return rc;
}

static void cluster_release(struct cluster *cl)
{
	free(cl->root);
	free(cl->meta);
	free(cl->base);
	free(cl->data);
	free(cl->sock);
	free(cl->log);
	memset(cl, 0, sizeof *cl);
}

static int cluster_exists(const struct cluster *cl)
{
	char *v = xstrfmt("%s/PG_VERSION", cl->data);
	struct stat st;
	int ok = stat(v, &st) == 0;
	free(v);
	return ok;
}

/* cluster_running reads postmaster.pid (line 1 pid, line 4 port) without
 * spawning anything; a pid that no longer exists means a stale file. */
static int cluster_running(const struct cluster *cl, long *pid_out, int *port_out)
{
	char *path = xstrfmt("%s/postmaster.pid", cl->data);
	int fd = open_regular(path, (uid_t)-1, NULL);
	free(path);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	char line[1024];
	long pid = 0, port = 0;
	for (int n = 1; n <= 4 && fgets(line, sizeof line, f); n++) {
		if (n == 1)
			pid = strtol(line, NULL, 10);
		else if (n == 4)
			port = strtol(line, NULL, 10);
	}
	fclose(f);
	if (pid <= 0 || port <= 0 || port > 65535)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return 0;
	if (pid_out)
		*pid_out = pid;
	if (port_out)
		*port_out = (int)port;
	return 1;
}

static int read_password(const struct cluster *cl, char **password)
{
	char *path = xstrfmt("%s/password", cl->meta);
	errno = 0;
	*password = file_first_line(path);
	if (!*password || !**password) {
		int e = errno;
		free(*password);
		*password = NULL;
		struct stat st;
		if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
			fail("could not read the local cluster's password file \"%s\": not a regular file (a symbolic link?)",
			     path);
		else
			fail("could not read the local cluster's password file \"%s\": %s", path,
			     e ? strerror(e) : "empty file");
		fail_hint("if the cluster was created by another tool, remove \"%s\" and run \"padctl local start\" to create a fresh one",
			  cl->base);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

static void conn_fill(struct local_conn *c, const struct cluster *cl, int port, char *password)
{
	c->lockfile = xstrfmt("%s/lock", cl->meta);
	c->host = xstrdup(LOCAL_HOST);
	c->port = port;
	c->user = xstrdup(LOCAL_SUPERUSER);
	c->password = password;
}

/* --- the server binaries ---------------------------------------------- */

static int bindir_usable(const char *dir)
{
	char *a = xstrfmt("%s/initdb", dir);
	char *b = xstrfmt("%s/pg_ctl", dir);
	int ok = access(a, X_OK) == 0 && access(b, X_OK) == 0;
	free(a);
	free(b);
	return ok;
}

int local_bindir(char **dir)
{
	const char *env = getenv("PADCTL_PG_BINDIR");
	if (env && *env) {
		if (!bindir_usable(env)) {
			fail("PADCTL_PG_BINDIR \"%s\" does not hold initdb and pg_ctl", env);
			return fail_hint("point PADCTL_PG_BINDIR at a PostgreSQL bin directory (e.g. /usr/lib/postgresql/15/bin) or unset it");
		}
		if (!shell_safe(env)) {
			/* initdb and pg_ctl run the server binary next to them through sh */
			fail("PADCTL_PG_BINDIR \"%s\" holds a character the shell would interpret ($, `, \\, \" or a control character)",
			     env);
			return fail_hint("point PADCTL_PG_BINDIR at a directory whose path has none of these characters");
		}
		*dir = xstrdup(env);
		return 0;
	}
	const char *top = "/usr/lib/postgresql";
	DIR *d = opendir(top);
	long best = -1;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			char *end;
			long v = strtol(de->d_name, &end, 10);
			if (end == de->d_name || *end || v <= best)
				continue;
			char *bin = xstrfmt("%s/%s/bin", top, de->d_name);
			if (bindir_usable(bin))
				best = v;
			free(bin);
		}
		closedir(d);
	}
	if (best < 0) {
		fail("no PostgreSQL server binaries found (looked for initdb and pg_ctl in %s/*/bin)", top);
		fail_detail("the managed local cluster needs the PostgreSQL server installed on this machine");
		return fail_hint("apt-get install postgresql (or set PADCTL_PG_BINDIR to the directory holding initdb and pg_ctl)");
	}
	*dir = xstrfmt("%s/%ld/bin", top, best);
	return 0;
}

/* --- running the server user's commands ---------------------------------- */

/* runas_resolve picks the user initdb and pg_ctl run as when padctl is root:
 * the owner of an existing data directory (so a cluster made by someone else
 * is stopped by its owner), else `postgres`. */
static int runas_resolve(struct runas *ra, const char *data)
{
	static int told;
	memset(ra, 0, sizeof *ra);
	if (geteuid() != 0)
		return 0;
	struct stat st;
	struct passwd *pw = NULL;
	if (data && stat(data, &st) == 0 && st.st_uid != 0)
		pw = getpwuid(st.st_uid);
	if (!pw)
		pw = getpwnam(SERVER_USER);
	if (!pw || pw->pw_uid == 0) {
		fail("padctl runs as root and there is no unprivileged \"%s\" user to run the local cluster as",
		     SERVER_USER);
		fail_detail("PostgreSQL refuses to run as root");
		return fail_hint("apt-get install postgresql (it creates the \"%s\" user), or run padctl as an ordinary user",
				 SERVER_USER);
	}
	ra->active = 1;
	ra->uid = pw->pw_uid;
	ra->gid = pw->pw_gid;
	ra->ngroups = MAX_GROUPS;
	if (getgrouplist(pw->pw_name, pw->pw_gid, ra->groups, &ra->ngroups) < 0) {
		ra->groups[0] = pw->pw_gid;
		ra->ngroups = 1;
	}
	if (!told) {
		log_info("the local cluster runs as user \"%s\" because padctl runs as root", pw->pw_name);
		told = 1;
	}
	return 0;
}

/* child_env builds the whole environment of initdb and pg_ctl (and so of the
 * server and of every COPY ... PROGRAM it runs): a fixed PATH, the server
 * user's HOME and the locale and time zone variables, nothing else. */
static char **child_env(const struct runas *ra)
{
	size_t n = 0, cap = 4 + sizeof child_env_keep / sizeof child_env_keep[0];
	char **env = xcalloc(cap, sizeof *env);
	env[n++] = xstrdup("PATH=" CHILD_PATH);
	struct passwd *pw = getpwuid(ra && ra->active ? ra->uid : geteuid());
	if (pw && pw->pw_dir && *pw->pw_dir) {
		env[n++] = xstrfmt("HOME=%s", pw->pw_dir);
		env[n++] = xstrfmt("USER=%s", pw->pw_name);
	}
	for (size_t i = 0; child_env_keep[i]; i++) {
		const char *v = getenv(child_env_keep[i]);
		if (v)
			env[n++] = xstrfmt("%s=%s", child_env_keep[i], v);
	}
	env[n] = NULL;
	return env;
}

static void child_env_free(char **env)
{
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

/* child_become drops to the server user; only async-signal-safe calls, as we
 * are between fork and exec. */
static int child_become(const struct runas *ra)
{
	if (!ra || !ra->active)
		return 0;
	if (setgroups((size_t)ra->ngroups, ra->groups) || setgid(ra->gid) || setuid(ra->uid))
		return -1;
	return 0;
}

static void cmdline_format(struct buf *b, char *const argv[])
{
	for (int i = 0; argv[i]; i++) {
		if (i)
			buf_addch(b, ' ');
		if (argv[i][strcspn(argv[i], " \t\n'\"\\$`*?;&|<>()")])
			buf_shell_quote(b, argv[i]);
		else
			buf_adds(b, argv[i]);
	}
}

/* run_cmd runs argv (no shell) as ra's user through proc_run, with stdout
 * and stderr captured in out; *status is the exit status (128+signal when
 * killed). A command that must finish what it started (initdb cleans up
 * after a signal, pg_ctl stop) passes ignore_cancel: padctl's SIGINT is still
 * forwarded to it (sig.h), but proc_run does not kill it on its own. */
static int run_cmd(const struct runas *ra, char *const argv[], struct buf *out, int *status, int ignore_cancel)
{
	struct proc_user user;
	struct proc_opts o;
	struct proc_result r;
	proc_opts_init(&o);
	char **envp = child_env(ra);
	o.argv = argv;
	o.envp = envp;
	if (ra && ra->active) {
		user = (struct proc_user){ ra->uid, ra->gid, ra->groups, (size_t)ra->ngroups };
		o.user = &user;
	}
	o.out = out;
	o.merge_err = 1;
	o.ignore_cancel = ignore_cancel;
	int rc = proc_run(&o, &r);
	child_env_free(envp);
	*status = r.exit_code;
	return rc;
}

/* server_user_can_reach tells whether the server user can search dir (and
 * so every directory above it). */
static int server_user_can_reach(const struct runas *ra, const char *dir)
{
	if (!ra->active)
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (child_become(ra))
			_exit(2);
		_exit(access(dir, X_OK) == 0 ? 0 : 1);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* --- files ---------------------------------------------------------------- */

/* make_dir creates path if needed and gives it to owner, working on a
 * descriptor opened without following a link: the directory above may belong
 * to the server user, who must not turn a chown by root into one of any file. */
static int make_dir(const char *path, mode_t mode, const struct runas *owner)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return fail("could not create directory \"%s\": %s", path, strerror(errno));
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP || e == ENOTDIR) {
			fail("could not use \"%s\": it is not a directory (a symbolic link or a file is in its place)", path);
			return fail_hint("padctl never follows links in the cluster's directories; remove \"%s\" and run padctl again",
					 path);
		}
		return fail("could not open directory \"%s\": %s", path, strerror(e));
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = fail("could not stat directory \"%s\": %s", path, strerror(errno));
	else if (owner && owner->active && (st.st_uid != owner->uid || st.st_gid != owner->gid) &&
		 fchown(fd, owner->uid, owner->gid) != 0)
		rc = fail("could not give directory \"%s\" to user \"%s\": %s", path, SERVER_USER, strerror(errno));
	close(fd);
	return rc;
}

/* write_file replaces path atomically: a link planted in its place is
 * replaced, never followed. */
static int write_file(const char *path, const char *text, mode_t mode)
{
	return fs_write_atomic(path, text, strlen(text), mode);
}

/* real_dir refuses a symbolic link where padctl expects its own directory in
 * the project (.padctl, .padctl/pg), so no file is written through it. */
static int real_dir(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return fail("could not stat \"%s\": %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		fail("\"%s\" is not a directory (a symbolic link or a file is in its place)", path);
		return fail_hint("padctl keeps the local cluster's files there and does not follow links; remove \"%s\"",
				 path);
	}
	return 0;
}

static int ensure_meta(const struct cluster *cl)
{
	char *dot = xstrfmt("%s/.padctl", cl->root);
	int rc = make_dir(dot, 0755, NULL);
	if (!rc)
		rc = real_dir(dot);
	if (!rc) {
		/* the cluster, its password and its log never belong in git; a
		 * link in its place is replaced, not followed */
		char *gi = xstrfmt("%s/.gitignore", dot);
		struct stat st;
		if (lstat(gi, &st) != 0 || !S_ISREG(st.st_mode))
			rc = write_file(gi, "*\n", 0644);
		free(gi);
	}
	free(dot);
	if (!rc)
		rc = make_dir(cl->meta, 0755, NULL);
	if (!rc)
		rc = real_dir(cl->meta);
	return rc;
}

/* log_tail_detail adds the end of the server log (from offset on, when that
 * holds anything) to the recorded error. */
/* log_owner is who must own the server log for padctl to read it back: the
 * user the server runs as. */
static uid_t log_owner(const struct runas *ra)
{
	return ra->active ? ra->uid : geteuid();
}

/* log_read reads the server log from offset on (at most its last
 * LOG_READ_CAP bytes) through a descriptor opened without following a link,
 * and only if it is a regular file of the server user with one link: padctl
 * prints what it reads, so it must never be some other file. */
static int log_read(const struct cluster *cl, const struct runas *ra, long offset, struct buf *out)
{
	struct stat st;
	int fd = open_regular(cl->log, log_owner(ra), &st);
	if (fd < 0)
		return -1;
	off_t from = offset > 0 ? (off_t)offset : 0;
	if (st.st_size - from > LOG_READ_CAP)
		from = st.st_size - LOG_READ_CAP;
	if (from > 0 && lseek(fd, from, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	char chunk[4096];
	while (out->len < LOG_READ_CAP) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

static void log_tail_detail(const struct cluster *cl, const struct runas *ra, long offset)
{
	struct buf all = BUF_INIT;
	if (log_read(cl, ra, offset, &all)) {
		buf_release(&all);
		return;
	}
	const char *s = buf_str(&all);
	size_t len = all.len;
	while (len && s[len - 1] == '\n')
		len--;
	size_t start = len;
	int lines = 0;
	while (start > 0) {
		if (s[start - 1] == '\n' && ++lines == LOG_TAIL_LINES)
			break;
		start--;
	}
	if (len > start)
		fail_detail("server log \"%s\" ends with:\n%.*s", cl->log, (int)(len - start), s + start);
	buf_release(&all);
}

static void output_detail(const struct buf *out)
{
	size_t len = out->len;
	while (len && (out->s[len - 1] == '\n' || out->s[len - 1] == ' '))
		len--;
	if (len)
		fail_detail("%.*s", (int)len, out->s);
}

static long log_size(const struct cluster *cl, const struct runas *ra)
{
	struct stat st;
	int fd = open_regular(cl->log, log_owner(ra), &st);
	if (fd < 0)
		return 0;
	close(fd);
	return (long)st.st_size;
}

/* --- creating the cluster ------------------------------------------------- */

static int random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];
	if (nbytes > sizeof raw || RAND_bytes(raw, (int)nbytes) != 1)
		return fail("could not generate a password for the local cluster (OpenSSL RAND_bytes failed)");
	hash_hex(raw, nbytes, out);
	return 0;
}

/* relocate moves the cluster's base out of a project the server user cannot
 * reach (e.g. a checkout under /root, mode 700). */
static int relocate(struct cluster *cl, const struct runas *ra, const char *why)
{
	/* the first 8 bytes of the project path's SHA-256: 16 hex digits */
	char id[HASH_SHA256_HEX_SIZE];
	if (hash_sha256_hex(cl->root, strlen(cl->root), id))
		return fail_detail("while naming the relocated cluster of \"%s\"", cl->root);
	id[16] = '\0';
	if (make_dir("/var/lib/padctl", 0755, NULL) || make_dir(RELOCATE_DIR, 0755, NULL))
		return fail_hint("the local cluster of a project the \"%s\" user cannot reach is kept under %s",
				 SERVER_USER, RELOCATE_DIR);
	char *base = xstrfmt("%s/%s", RELOCATE_DIR, id);
	if (make_dir(base, 0700, ra)) {
		free(base);
		return -1;
	}
	cluster_set_base(cl, base);
	cl->relocated = 1;
	char *locfile = xstrfmt("%s/location", cl->meta);
	char *text = xstrfmt("%s\n", base);
	int rc = write_file(locfile, text, 0644);
	free(text);
	free(locfile);
	if (rc)
		return -1;
	log_info("%s, so the local cluster's data lives in \"%s\"", why, base);
	return 0;
}

static int cluster_create(struct cluster *cl, const struct runas *ra, const char *bindir)
{
	struct buf why = BUF_INIT;
	if (!cl->relocated && !shell_safe(cl->meta)) {
		if (!ra->active) {
			fail("could not create the local cluster in \"%s\": the project path holds a character the shell would interpret ($, `, \\, \" or a control character)",
			     cl->meta);
			fail_detail("pg_ctl starts the server through sh -c with the data directory in double quotes, so such a path would run commands");
			return fail_hint("rename the project directory (or a directory above it) so its path has none of these characters, or run padctl as root (it then keeps the cluster under %s)",
					 RELOCATE_DIR);
		}
		buf_addf(&why, "the path of \"%s\" holds a character the shell would interpret", cl->root);
	} else if (!cl->relocated && ra->active && !server_user_can_reach(ra, cl->meta)) {
		buf_addf(&why, "user \"%s\" cannot reach \"%s\" (a parent directory denies it)", SERVER_USER, cl->root);
	}
	if (cl->relocated && access(cl->base, F_OK) != 0) {
		/* the relocated directory was removed: make it again */
		if (relocate(cl, ra, "the relocated cluster directory is gone")) {
			buf_release(&why);
			return -1;
		}
	} else if (why.len) {
		int r = relocate(cl, ra, buf_str(&why));
		buf_release(&why);
		if (r)
			return -1;
		if (cluster_exists(cl)) {
			fail("found an old local cluster in \"%s\" but \"%s/password\" is missing", cl->data, cl->meta);
			return fail_hint("remove \"%s\" (this deletes that cluster's databases) and run padctl again", cl->base);
		}
	}
	if (make_dir(cl->data, 0700, ra) || make_dir(cl->sock, 0700, ra))
		return -1;
	DIR *d = opendir(cl->data);
	int nonempty = 0;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				nonempty = 1;
		closedir(d);
	}
	if (nonempty) {
		fail("the local cluster's data directory \"%s\" is not empty but holds no cluster", cl->data);
		return fail_hint("remove \"%s\" (an earlier initdb was probably interrupted) and run padctl again", cl->data);
	}

	char password[65];
	if (random_hex(password, 32))
		return -1;
	char *pwpath = xstrfmt("%s/password", cl->meta);
	char *pwtext = xstrfmt("%s\n", password);
	int rc = write_file(pwpath, pwtext, 0600);

	/* initdb reads the password as the server user, so the temporary copy
	 * sits in the base directory that user owns or can reach */
	char *tmp = xstrfmt("%s/.pwfile-XXXXXX", cl->base);
	int fd = rc ? -1 : mkstemp(tmp);
	if (fd >= 0)
		sig_tempfile_register(tmp);
	if (!rc && fd < 0)
		rc = fail("could not create a temporary password file in \"%s\": %s", cl->base, strerror(errno));
	if (fd >= 0) {
		size_t len = strlen(pwtext);
		if (write(fd, pwtext, len) != (ssize_t)len ||
		    (ra->active && fchown(fd, ra->uid, ra->gid) != 0))
			rc = fail("could not write the temporary password file \"%s\": %s", tmp, strerror(errno));
		close(fd);
	}
	free(pwtext);
	memset(password, 0, sizeof password);

	if (!rc) {
		char *initdb = xstrfmt("%s/initdb", bindir);
		char *pwopt = xstrfmt("--pwfile=%s", tmp);
		char *argv[] = { initdb, "-D", cl->data, "-U", LOCAL_SUPERUSER, "--auth=scram-sha-256", pwopt,
				 "-E", "UTF8", "--locale=C.UTF-8", NULL };
		struct buf out = BUF_INIT;
		int status = 0;
		log_info("creating the local cluster in \"%s\"", cl->data);
		/* initdb removes what it made when the forwarded signal reaches it: let it */
		rc = run_cmd(ra, argv, &out, &status, 1);
		unlink(tmp);
		if (!rc && status != 0) {
			struct buf cmd = BUF_INIT;
			cmdline_format(&cmd, argv);
			fail("could not create the local cluster in \"%s\": initdb exited with status %d", cl->data, status);
			fail_detail("command: %s", buf_str(&cmd));
			output_detail(&out);
			fail_hint("check the output above; remove \"%s\" if it is left over and try again", cl->data);
			buf_release(&cmd);
			rc = -1;
		}
		buf_release(&out);
		free(initdb);
		free(pwopt);
	}
	if (fd >= 0) {
		unlink(tmp);
		sig_tempfile_unregister(tmp);
	}
	free(tmp);
	if (rc) {
		/* initdb empties the directory it failed in; leave nothing half-made */
		unlink(pwpath);
		rmdir(cl->data);
	}
	free(pwpath);
	return rc;
}

/* --- starting it -------------------------------------------------------- */

static int port_free(int port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	int one = 1;
	/* the server sets SO_REUSEADDR too, so TIME_WAIT leftovers do not count */
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

static int pick_port(const struct cluster *cl, int avoid, int *port)
{
	char *pf = xstrfmt("%s/port", cl->meta);
	char *saved = file_first_line(pf);
	long want = saved ? strtol(saved, NULL, 10) : 0;
	free(saved);
	if (want > 1024 && want < 65536 && want != avoid && port_free((int)want)) {
		*port = (int)want;
		free(pf);
		return 0;
	}
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)clock();
	for (int i = 0; i < 200; i++) {
		int p = 20000 + (int)(rand_r(&seed) % 40000);
		if (p != avoid && port_free(p)) {
			*port = p;
			char *text = xstrfmt("%d\n", p);
			int rc = write_file(pf, text, 0644);
			free(text);
			free(pf);
			return rc;
		}
	}
	free(pf);
	fail("could not find a free loopback port for the local cluster");
	return fail_hint("free some ports on 127.0.0.1 in the range 20000-59999");
}

static int log_says_port_taken(const struct cluster *cl, const struct runas *ra, long offset)
{
	struct buf all = BUF_INIT;
	int taken = 0;
	if (log_read(cl, ra, offset, &all) == 0)
		taken = strstr(buf_str(&all), "could not bind") || strstr(buf_str(&all), "already in use");
	buf_release(&all);
	return taken;
}

/* prepare_log makes sure the server can append to its log. In a directory
 * the server user owns (a relocated cluster, or padctl not root) pg_ctl
 * creates the log itself, as that user; padctl only refuses anything but a
 * regular file in its place. In the project's .padctl/pg, which the server
 * user cannot write, root creates the log and hands it over, on a
 * descriptor opened without following a link. */
static int prepare_log(const struct cluster *cl, const struct runas *ra)
{
	struct stat st;
	if (lstat(cl->log, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_nlink != 1)) {
		fail("the server log \"%s\" is not a regular file (a symbolic link, a hard link or something else is in its place)",
		     cl->log);
		return fail_hint("padctl neither follows nor reads it; remove \"%s\" and run padctl again", cl->log);
	}
	if (!ra->active)
		return 0;
	if (lstat(cl->base, &st) != 0)
		return fail("could not stat \"%s\": %s", cl->base, strerror(errno));
	if (st.st_uid == ra->uid)
		return 0;
	int fd = open(cl->log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail("could not create the server log \"%s\": %s", cl->log, strerror(errno));
	int rc = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)
		rc = fail("the server log \"%s\" is not a regular file with one link", cl->log);
	else if (st.st_uid != ra->uid && fchown(fd, ra->uid, ra->gid) != 0)
		rc = fail("could not give the server log \"%s\" to user \"%s\": %s", cl->log, SERVER_USER,
			  strerror(errno));
	close(fd);
	return rc;
}

/* pg_ctl_paths_safe refuses what pg_ctl would hand to sh: see shell_safe. */
static int pg_ctl_paths_safe(const struct cluster *cl, const char *pg_ctl)
{
	const char *paths[] = { cl->data, cl->log, pg_ctl };
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (shell_safe(paths[i]))
			continue;
		fail("could not run pg_ctl for \"%s\": the path holds a character the shell would interpret ($, `, \\, \" or a control character)",
		     paths[i]);
		fail_detail("pg_ctl starts the server through sh -c with the path in double quotes, so such a path would run commands");
		if (i < 2 && !cl->relocated)
			return fail_hint(geteuid() == 0 ?
						 "remove \"%s\" and run padctl again: a new cluster is kept under " RELOCATE_DIR :
						 "rename the project directory (or a directory above it) so its path has none of these characters; the cluster (\"%s\") moves with it",
					 cl->base);
		return fail_hint("use a directory whose path has none of these characters");
	}
	return 0;
}

static int cluster_start(const struct cluster *cl, const struct runas *ra, const char *bindir, int *port_out)
{
	char *pg_ctl = xstrfmt("%s/pg_ctl", bindir);
	/* the server appends to the log as its own user; padctl reads it for errors */
	if (pg_ctl_paths_safe(cl, pg_ctl) || prepare_log(cl, ra) || make_dir(cl->sock, 0700, ra)) {
		free(pg_ctl);
		return -1;
	}

	int rc = -1, avoid = 0;
	for (int attempt = 1; attempt <= 3; attempt++) {
		int port = 0;
		if (pick_port(cl, avoid, &port))
			break;
		struct buf opts = BUF_INIT;
		buf_addf(&opts, "-p %d -c listen_addresses=%s -k ", port, LOCAL_HOST);
		/* a project path too deep for a unix socket just gets no socket:
		 * padctl connects over TCP anyway */
		if (strlen(cl->sock) + sizeof "/.s.PGSQL.65535.lock" > SOCKET_PATH_MAX)
			buf_adds(&opts, "''");
		else
			buf_shell_quote(&opts, cl->sock);
		char *argv[] = { pg_ctl, "-D", cl->data, "-w", "-t", "60", "-l", cl->log, "-o", opts.s, "start", NULL };
		struct buf out = BUF_INIT;
		int status = 0;
		long offset = log_size(cl, ra);
		log_info("starting the local cluster on %s:%d", LOCAL_HOST, port);
		rc = run_cmd(ra, argv, &out, &status, 0);
		if (!rc && status == 0) {
			*port_out = port;
			buf_release(&out);
			buf_release(&opts);
			break;
		}
		if (!rc && attempt < 3 && log_says_port_taken(cl, ra, offset)) {
			log_info("port %d was taken meanwhile, trying another one", port);
			avoid = port;
			buf_release(&out);
			buf_release(&opts);
			continue;
		}
		if (!rc) {
			struct buf cmd = BUF_INIT;
			cmdline_format(&cmd, argv);
			fail("could not start the local cluster in \"%s\": pg_ctl exited with status %d", cl->data, status);
			fail_detail("command: %s", buf_str(&cmd));
			output_detail(&out);
			log_tail_detail(cl, ra, offset);
			fail_hint("fix the problem the server log names, then run \"padctl local start\"");
			buf_release(&cmd);
			rc = -1;
		}
		buf_release(&out);
		buf_release(&opts);
		break;
	}
	free(pg_ctl);
	return rc;
}

/* lock_path takes the flock on path, creating it as a regular file; a link
 * in its place is refused, never followed. */
static int lock_path(const char *path, int *fd)
{
	*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	struct stat st;
	if (*fd >= 0 && (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(*fd);
		*fd = -1;
		errno = EINVAL;
	}
	if (*fd < 0) {
		int e = errno;
		if (e == ELOOP || e == EINVAL) {
			fail("could not use the lock file \"%s\": it is not a regular file (a symbolic link?)", path);
			return fail_hint("padctl does not follow links there; remove \"%s\" and run padctl again", path);
		}
		return fail("could not open \"%s\": %s", path, strerror(e));
	}
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			fail("could not lock \"%s\": %s", path, strerror(errno));
			close(*fd);
			*fd = -1;
			return -1;
		}
	}
	return 0;
}

/* lock_meta serialises padctl processes that create or start the same cluster. */
static int lock_meta(const struct cluster *cl, int *fd)
{
	char *path = xstrfmt("%s/lock", cl->meta);
	int rc = lock_path(path, fd);
	free(path);
	return rc;
}

static int ensure_slow(const struct cfg_project *p, struct local_conn *c)
{
	struct cluster cl;
	struct runas ra;
	char *bindir = NULL, *password = NULL;
	int lockfd = -1, port = 0, rc = -1;
	if (cluster_init(p, &cl) || ensure_meta(&cl) || lock_meta(&cl, &lockfd))
		goto out;
	/* another padctl may have created or started it while we waited */
	cluster_release(&cl);
	if (cluster_init(p, &cl))
		goto out;
	if (cluster_exists(&cl) && cluster_running(&cl, NULL, &port)) {
		rc = read_password(&cl, &password);
		goto out;
	}
	if (local_bindir(&bindir) || runas_resolve(&ra, cluster_exists(&cl) ? cl.data : NULL))
		goto out;
	char *pwpath = xstrfmt("%s/password", cl.meta);
	struct stat pwst;
	int have_pw = lstat(pwpath, &pwst) == 0;
	free(pwpath);
	if (!cluster_exists(&cl)) {
		if (cluster_create(&cl, &ra, bindir))
			goto out;
	} else if (!have_pw) {
		fail("the local cluster in \"%s\" has no password file \"%s/password\"", cl.data, cl.meta);
		fail_hint("remove \"%s\" (this deletes the local databases) and run padctl again to create a fresh cluster",
			  cl.base);
		goto out;
	}
	if (read_password(&cl, &password) || cluster_start(&cl, &ra, bindir, &port))
		goto out;
	rc = 0;
out:
	if (rc == 0)
		conn_fill(c, &cl, port, password);
	else
		free(password);
	if (lockfd >= 0)
		close(lockfd);
	free(bindir);
	cluster_release(&cl);
	return rc;
}

int local_ensure(const struct cfg_project *p, struct local_conn *c)
{
	memset(c, 0, sizeof *c);
	struct cluster cl;
	int port = 0, rc = 1;
	char *password = NULL;
	if (cluster_init(p, &cl)) {
		cluster_release(&cl);
		return -1;
	}
	/* the common case (it runs already) spawns nothing: status runs it every time */
	if (cluster_running(&cl, NULL, &port)) {
		rc = read_password(&cl, &password);
		if (rc == 0)
			conn_fill(c, &cl, port, password);
	}
	cluster_release(&cl);
	if (rc <= 0)
		return rc;
	return ensure_slow(p, c);
}

int local_status(const struct cfg_project *p, int *exists, int *running, int *port)
{
	struct cluster cl;
	*port = 0;
	*exists = *running = 0;
	if (cluster_init(p, &cl)) {
		cluster_release(&cl);
		return -1;
	}
	*exists = cluster_exists(&cl);
	*running = cluster_running(&cl, NULL, port);
	if (!*running)
		*port = 0;
	cluster_release(&cl);
	return 0;
}

int local_stop(const struct cfg_project *p)
{
	struct cluster cl;
	struct runas ra;
	char *bindir = NULL;
	int lockfd = -1, rc = -1;
	long pid = 0;
	if (cluster_init(p, &cl))
		goto out;
	if (!cluster_running(&cl, &pid, NULL)) {
		log_verbose("the local cluster in \"%s\" is not running", cl.data);
		rc = 0;
		goto out;
	}
	if (lock_meta(&cl, &lockfd) || local_bindir(&bindir) || runas_resolve(&ra, cl.data))
		goto out;
	char *pg_ctl = xstrfmt("%s/pg_ctl", bindir);
	if (pg_ctl_paths_safe(&cl, pg_ctl)) {
		free(pg_ctl);
		goto out;
	}
	char *argv[] = { pg_ctl, "-D", cl.data, "-m", "fast", "-w", "-t", "60", "stop", NULL };
	struct buf out = BUF_INIT;
	int status = 0;
	long offset = log_size(&cl, &ra);
	rc = run_cmd(&ra, argv, &out, &status, 1);
	if (!rc && status != 0) {
		struct buf cmd = BUF_INIT;
		cmdline_format(&cmd, argv);
		fail("could not stop the local cluster in \"%s\" (pid %ld): pg_ctl exited with status %d", cl.data, pid,
		     status);
		fail_detail("command: %s", buf_str(&cmd));
		output_detail(&out);
		log_tail_detail(&cl, &ra, offset);
		fail_hint("stop it by hand with: %s", buf_str(&cmd));
		buf_release(&cmd);
		rc = -1;
	} else if (!rc) {
		log_info("stopped the local cluster in \"%s\"", cl.data);
	}
	buf_release(&out);
	free(pg_ctl);
out:
	if (lockfd >= 0)
		close(lockfd);
	free(bindir);
	cluster_release(&cl);
	return rc;
}

void local_conn_release(struct local_conn *c)
{
	if (!c)
		return;
	free(c->host);
	free(c->user);
	free(c->lockfile);
	if (c->password) {
		memset(c->password, 0, strlen(c->password));
		free(c->password);
	}
	memset(c, 0, sizeof *c);
}

/* --- databases and fixtures ----------------------------------------------- */

/* local_connect opens a session on dbname of the cluster through db.h */
static int local_connect(const struct local_conn *c, const char *dbname, struct db **out)
{
	struct db_params dp;
	memset(&dp, 0, sizeof dp);
	dp.host = c->host;
	dp.port = c->port;
	dp.user = c->user;
	dp.password = c->password;
	dp.dbname = dbname;
	dp.sslmode = "disable";
	dp.connect_timeout = 10;
	dp.application_name = "padctl";
	dp.client_encoding = "UTF8"; /* fixtures are UTF-8 text, whatever PGCLIENTENCODING says */
	dp.hint = "run \"padctl local status\" and \"padctl local start\"; the server log is .padctl/pg/log";
	char *label = xstrfmt("database \"%s\" of the local cluster at %s:%d", dbname, c->host, c->port);
	int rc = db_connect(&dp, label, out);
	free(label);
	return rc;
}

static void drop_database(struct db *admin, const char *quoted, const char *dbname)
{
	/* an error is recorded already (the fixture's): this one is only a warning */
	char *sql = xstrfmt("DROP DATABASE IF EXISTS %s", quoted);
	PGresult *res = PQexec(admin->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("could not drop the half-created database \"%s\": %s", dbname, PQerrorMessage(admin->conn));
	else
		log_info("dropped database \"%s\" again so the next run starts clean", dbname);
	PQclear(res);
	free(sql);
}

/* create_database: 0 created, 1 another client created it meanwhile, -1 failed */
static int create_database(struct db *admin, const char *quoted, const char *dbname)
{
	char *sql = xstrfmt("CREATE DATABASE %s", quoted);
	PGresult *res = PQexec(admin->conn, sql);
	free(sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* a client other than padctl created it meanwhile (42P04, or 23505
		 * when both inserted into pg_database at once) */
		if (state && (strcmp(state, "42P04") == 0 || strcmp(state, "23505") == 0)) {
			rc = 1;
		} else {
			const char *why = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			fail("could not create database \"%s\" in the local cluster", dbname);
			fail_detail("%s", why ? why : PQerrorMessage(admin->conn));
			rc = -1;
		}
	}
	PQclear(res);
	return rc;
}

/* load_fixtures runs the fixtures in one transaction through db_exec, so
 * they get what migrations get: an error names file:line (in a DO block,
 * a function body or a COPY row too) with the server's CONTEXT, NOTICEs
 * name their line, and COPY ... FROM stdin takes its data from the file. */
static int load_fixtures(struct db *conn, const char *dbname, char *const *fixtures, char *const *texts,
			 size_t nfixtures)
{
	if (db_exec(conn, "BEGIN", NULL))
		return fail_detail("while beginning to load the fixtures of database \"%s\"", dbname);
	for (size_t i = 0; i < nfixtures; i++) {
		if (db_exec(conn, texts[i], fixtures[i])) {
			fail_detail("it is a fixture of database \"%s\"", dbname);
			return fail_hint("fix the fixture; database \"%s\" was dropped again, so the next run creates and "
					 "loads it afresh",
					 dbname);
		}
		log_verbose("loaded fixture \"%s\" into database \"%s\"", fixtures[i], dbname);
	}
	if (db_exec(conn, "COMMIT", NULL))
		return fail_detail("while committing the fixtures of database \"%s\"", dbname);
	return 0;
}

int local_ensure_database(const struct local_conn *c, const char *dbname, char *const *fixtures, size_t nfixtures)
{
	/* taken before the existence check: a database another padctl is still
	 * loading fixtures into is not there yet for us */
	int lockfd = -1;
	if (c->lockfile && lock_path(c->lockfile, &lockfd))
		return -1;
	struct db *admin = NULL, *conn = NULL;
	if (local_connect(c, "postgres", &admin)) {
		if (lockfd >= 0)
			close(lockfd);
		return -1;
	}
	int rc = -1;
	char *quoted = NULL, *found = NULL;
	char **texts = xcalloc(nfixtures ? nfixtures : 1, sizeof *texts);
	const char *params[] = { dbname };
	if (db_query_value(admin, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, &found)) {
		fail_detail("while looking up database \"%s\" in the local cluster", dbname);
		goto out;
	}
	if (found) {
		rc = 0;
		goto out;
	}
	/* read every fixture first: a missing one must not leave a database behind */
	for (size_t i = 0; i < nfixtures; i++) {
		int r = read_text_file_if(fixtures[i], &texts[i], NULL);
		if (r) {
			if (r > 0)
				fail("could not read fixture \"%s\" for database \"%s\": %s", fixtures[i], dbname,
				     strerror(ENOENT));
			else
				fail_detail("it is a fixture of database \"%s\"", dbname);
			fail_hint("fix the fixtures list of the local target or create the file");
			goto out;
		}
	}
	quoted = db_identifier(admin, dbname);
	if (!quoted)
		goto out;
	int created = create_database(admin, quoted, dbname);
	if (created) {
		rc = created > 0 ? 0 : -1;
		goto out;
	}
	log_info("created database \"%s\" in the local cluster", dbname);
	if (nfixtures == 0) {
		rc = 0;
		goto out;
	}
	if (!local_connect(c, dbname, &conn) && !load_fixtures(conn, dbname, fixtures, texts, nfixtures)) {
		log_info("loaded %zu fixture file%s into database \"%s\"", nfixtures, nfixtures == 1 ? "" : "s", dbname);
		rc = 0;
	} else {
		/* close ours first, or DROP DATABASE waits for this session */
		db_close(conn);
		conn = NULL;
		drop_database(admin, quoted, dbname);
	}
out:
	for (size_t i = 0; i < nfixtures; i++)
		free(texts[i]);
	free(texts);
	free(quoted);
	free(found);
	db_close(conn);
	db_close(admin);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

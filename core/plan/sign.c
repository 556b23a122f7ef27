#include "sign.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "proc.h"

char *sign_message(const struct sign_fields *f)
{
	return xstrfmt("padctl-signature 1\naction: %s\nenv: %s\nplan: %s\nhash: sha256:%s\nstage: %s\ntime: %s\n"
		       "comment: %s\n",
		       f->action, f->env, f->plan, f->hash, f->stage ? f->stage : "-", f->time,
		       f->comment ? f->comment : "");
}

int sign_comment_check(const char *comment)
{
	if (!comment)
		return 0;
	if (strlen(comment) > 500) {
		fail("--comment is %zu bytes long; at most 500 are allowed", strlen(comment));
		return fail_status(EXIT_USAGE);
	}
	for (const unsigned char *c = (const unsigned char *)comment; *c; c++)
		if (*c < 0x20 || *c == 0x7f) {
			char *shown = xstrprintable(comment);
			fail("--comment holds a control character (a line break, a tab, an escape...): \"%s\"", shown);
			free(shown);
			fail_hint("give the comment as one line of plain text; it is signed and shown as written");
			return fail_status(EXIT_USAGE);
		}
	return 0;
}

void sign_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

long long sign_time_parse(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int used = 0;
	if (!s || strlen(s) != 20 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &used) != 6 ||
	    used != 20)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

/* keygen_path finds ssh-keygen on $PATH (an absolute path for proc_run) */
static int keygen_path(char **out)
{
	const char *path = getenv("PATH");
	char *dirs = xstrdup(path && *path ? path : "/usr/bin:/bin");
	*out = NULL;
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !*out; d = strtok_r(NULL, ":", &save)) {
		if (*d != '/')
			continue;
		char *cand = xstrfmt("%s/ssh-keygen", d);
		if (access(cand, X_OK) == 0)
			*out = cand;
		else
			free(cand);
	}
	free(dirs);
	if (!*out) {
		fail("could not find ssh-keygen on $PATH: plan signatures and approvals use OpenSSH's `ssh-keygen -Y`");
		return fail_hint("install the OpenSSH client (Debian: `apt-get install openssh-client`)");
	}
	return 0;
}

/* A private directory for the message and signature files. */
struct workdir {
	char path[PATH_MAX];
	char *files[4];
	size_t nfiles;
};

static int work_open(struct workdir *w)
{
	memset(w, 0, sizeof *w);
	const char *tmp = getenv("TMPDIR");
	snprintf(w->path, sizeof w->path, "%s/padctl-sign-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
	if (!mkdtemp(w->path))
		return fail("could not create a temporary directory in %s for ssh-keygen: %s",
			    tmp && *tmp == '/' ? tmp : "/tmp", strerror(errno));
	return 0;
}

static char *work_file(struct workdir *w, const char *name, const char *text)
{
	char *path = xstrfmt("%s/%s", w->path, name);
	w->files[w->nfiles++] = xstrdup(path);
	if (!text)
		return path;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fs_write_all(fd, text, strlen(text)) || close(fd)) {
		fail("could not write %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

static void work_close(struct workdir *w)
{
	for (size_t i = 0; i < w->nfiles; i++) {
		unlink(w->files[i]);
		free(w->files[i]);
	}
	if (w->path[0])
		rmdir(w->path);
}

/* keygen runs ssh-keygen with args (NULL-terminated), stdin from in (or
 * /dev/null); out and err get its output. 0 when it ran (see *code). */
static int keygen(const char *const *args, const char *in, struct buf *out, struct buf *err, int *code)
{
	char *bin = NULL;
	if (keygen_path(&bin))
		return -1;
	const char *argv[16];
	size_t n = 0;
	argv[n++] = bin;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	/* only what ssh-keygen needs: the agent's socket for a public key, HOME for nothing of ours */
	char *envp[3];
	size_t ne = 0;
	const char *sock = getenv("SSH_AUTH_SOCK");
	if (sock && *sock)
		envp[ne++] = xstrfmt("SSH_AUTH_SOCK=%s", sock);
	envp[ne++] = xstrdup("PATH=/usr/bin:/bin");
	envp[ne] = NULL;
	struct proc_opts o;
	proc_opts_init(&o);
	o.argv = (char *const *)argv;
	o.envp = envp;
	o.in_path = in;
	o.out = out;
	o.err = err;
	o.timeout_ms = 60000;
	struct proc_result r;
	int rc = proc_run(&o, &r);
	for (size_t i = 0; i < ne; i++)
		free(envp[i]);
	if (rc)
		fail_detail("while running %s -Y %s", bin, argv[2]);
	free(bin);
	if (rc)
		return -1;
	*code = r.exit_code;
	return 0;
}

/* first_line is s up to its first line break, printable (newly allocated) */
static char *first_line(const char *s)
{
	while (*s == '\n' || *s == '\r' || *s == ' ')
		s++;
	size_t n = strcspn(s, "\r\n");
	char *line = xstrndup(s, n);
	char *shown = xstrprintable(line);
	free(line);
	return shown;
}

static char *absolute(const char *path)
{
	if (*path == '/')
		return xstrdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return xstrdup(path);
	return xstrfmt("%s/%s", cwd, path);
}

int sign_create(const char *key, const char *msg, char **sig)
{
	*sig = NULL;
	if (access(key, R_OK) != 0) {
		fail("could not read the key %s: %s", key, strerror(errno));
		return fail_hint("--key takes a private key file, or a public key (.pub) whose private half is in "
				 "the ssh-agent");
	}
	struct workdir w;
	if (work_open(&w))
		return -1;
	char *keyabs = absolute(key);
	char *mfile = work_file(&w, "message", msg);
	char *sfile = work_file(&w, "message.sig", NULL);
	int rc = mfile ? 0 : -1;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int code = 0;
	if (!rc) {
		const char *args[] = { "-Y", "sign", "-q", "-n", SIGN_NAMESPACE, "-f", keyabs, mfile, NULL };
		rc = keygen(args, NULL, &out, &err, &code);
	}
	if (!rc && code != 0) {
		char *why = first_line(err.len ? buf_str(&err) : "no reason given");
		fail("could not sign with the key %s: ssh-keygen -Y sign failed (exit %d): %s", key, code, why);
		free(why);
		rc = fail_hint("give a private key without a passphrase, or load it into the ssh-agent and give its "
			       "public key (.pub)");
	}
	size_t len = 0;
	if (!rc && read_text_file(sfile, sig, &len))
		rc = -1;
	buf_release(&out);
	buf_release(&err);
	free(mfile);
	free(sfile);
	free(keyabs);
	work_close(&w);
	return rc;
}

/* fingerprint_of reads "... key SHA256:xxx" from ssh-keygen's report */
static char *fingerprint_of(const char *report)
{
	const char *k = strstr(report, " key SHA256:");
	if (!k)
		return NULL;
	k += 5;
	size_t n = strcspn(k, " \r\n");
	return xstrndup(k, n);
}

/* well_formed refuses text that cannot be an armored signature before
 * ssh-keygen reads it (anything else is ssh-keygen's to judge) */
static int well_formed(const char *sig, struct sign_check *c)
{
	if (!sig || !strstr(sig, "-----BEGIN SSH SIGNATURE-----") || !strstr(sig, "-----END SSH SIGNATURE-----")) {
		c->why = xstrdup("not an armored SSH signature");
		return 0;
	}
	return 1;
}

int sign_verify(const char *allowed, const char *principal, const char *msg, const char *sig, struct sign_check *c)
{
	memset(c, 0, sizeof *c);
	if (!well_formed(sig, c))
		return 0;
	if (access(allowed, R_OK) != 0) {
		c->why = xstrfmt("could not read the allowed_signers file %s: %s", allowed, strerror(errno));
		return 0;
	}
	struct workdir w;
	if (work_open(&w))
		return -1;
	char *mfile = work_file(&w, "message", msg);
	char *sfile = work_file(&w, "message.sig", sig);
	int rc = mfile && sfile ? 0 : -1;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int code = 0;
	char *who = principal ? xstrdup(principal) : NULL;
	if (!rc && !who) {
		const char *args[] = { "-Y", "find-principals", "-f", allowed, "-s", sfile, NULL };
		rc = keygen(args, NULL, &out, &err, &code);
		if (!rc && code == 0 && out.len) {
			size_t n = strcspn(buf_str(&out), "\r\n");
			who = xstrndup(buf_str(&out), n);
		} else if (!rc) {
			c->why = xstrdup("the key is not listed in the allowed_signers file");
		}
		buf_reset(&out);
		buf_reset(&err);
	}
	if (!rc && who) {
		const char *args[] = {
			"-Y", "verify", "-f", allowed, "-I", who, "-n", SIGN_NAMESPACE, "-s", sfile, NULL
		};
		rc = keygen(args, mfile, &out, &err, &code);
		if (!rc && code == 0) {
			c->valid = 1;
			c->principal = who;
			who = NULL;
			c->fingerprint = fingerprint_of(buf_str(&out));
		} else if (!rc) {
			c->why = first_line(err.len ? buf_str(&err) : out.len ? buf_str(&out) : "it does not verify");
		}
	}
	free(who);
	buf_release(&out);
	buf_release(&err);
	free(mfile);
	free(sfile);
	work_close(&w);
	return rc;
}

int sign_check_self(const char *msg, const char *sig, struct sign_check *c)
{
	memset(c, 0, sizeof *c);
	if (!well_formed(sig, c))
		return 0;
	struct workdir w;
	if (work_open(&w))
		return -1;
	char *mfile = work_file(&w, "message", msg);
	char *sfile = work_file(&w, "message.sig", sig);
	int rc = mfile && sfile ? 0 : -1;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int code = 0;
	if (!rc) {
		const char *args[] = { "-Y", "check-novalidate", "-n", SIGN_NAMESPACE, "-s", sfile, NULL };
		rc = keygen(args, mfile, &out, &err, &code);
	}
	if (!rc && code == 0) {
		c->valid = 1;
		c->fingerprint = fingerprint_of(buf_str(&out));
	} else if (!rc) {
		c->why = first_line(err.len ? buf_str(&err) : out.len ? buf_str(&out) : "it does not verify");
	}
	buf_release(&out);
	buf_release(&err);
	free(mfile);
	free(sfile);
	work_close(&w);
	return rc;
}

void sign_check_release(struct sign_check *c)
{
	free(c->principal);
	free(c->fingerprint);
	free(c->why);
	memset(c, 0, sizeof *c);
}

void sign_principals(const char *text, size_t len, char ***out, size_t *n)
{
	size_t cap = 8;
	*out = xcalloc(cap + 1, sizeof **out);
	*n = 0;
	size_t i = 0;
	while (i < len) {
		size_t eol = i;
		while (eol < len && text[eol] != '\n')
			eol++;
		size_t s = i;
		while (s < eol && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r'))
			s++;
		i = eol + 1;
		if (s >= eol || text[s] == '#')
			continue;
		/* the principals field: up to white space, or a quoted string */
		size_t e = s;
		int quoted = text[s] == '"';
		if (quoted) {
			e = s + 1;
			while (e < eol && text[e] != '"')
				e++;
			if (e >= eol)
				continue;
			s++;
		} else {
			while (e < eol && text[e] != ' ' && text[e] != '\t' && text[e] != '\r')
				e++;
		}
		/* split at commas; keep each printable name once */
		size_t p = s;
		while (p <= e) {
			size_t q = p;
			while (q < e && text[q] != ',')
				q++;
			if (q > p && memchr(text + p, '\0', q - p) == NULL) {
				char *name = xstrndup(text + p, q - p);
				int dup = 0;
				for (size_t k = 0; k < *n && !dup; k++)
					dup = strcmp((*out)[k], name) == 0;
				if (dup) {
					free(name);
				} else {
					if (*n == cap) {
						cap *= 2;
						*out = xrealloc(*out, (cap + 1) * sizeof **out);
					}
					(*out)[(*n)++] = name;
					(*out)[*n] = NULL;
				}
			}
			p = q + 1;
		}
	}
}

void sign_principals_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

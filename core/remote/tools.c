#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Debian's layout, which padctl's local tool look-up uses too */
#define REMOTE_PG_ROOT "/usr/lib/postgresql"
#define REMOTE_ERR_MAX (64 * 1024)

static int keep_err(void *ctx, const void *data, size_t n)
{
	struct buf *b = ctx;
	if (!b)
		return 0;
	buf_add(b, data, n);
	if (b->len > REMOTE_ERR_MAX) {
		size_t cut = b->len - REMOTE_ERR_MAX;
		memmove(b->s, b->s + cut, b->len - cut + 1);
		b->len -= cut;
	}
	return 0;
}

static int collect(void *ctx, const void *data, size_t n)
{
	buf_add(ctx, data, n);
	return 0;
}

static int version_major(const char *out)
{
	const char *p = out ? strstr(out, "(PostgreSQL) ") : NULL;
	if (!p)
		return -1;
	char *end;
	long v = strtol(p + 13, &end, 10);
	return end == p + 13 || v < 6 || v > 1000 ? -1 : (int)v;
}

static int check_version(struct remote *r, const struct remote_tool_opts *o, const char *bin, char **version)
{
	*version = NULL;
	const char *argv[] = { bin, "--version", NULL };
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct remote_exec_opts eo = { argv, 60000, collect, &out, collect, &err, NULL };
	struct remote_exec_result res;
	int rc = remote_exec(r, &eo, &res);
	if (!rc && (res.exit_code != 0 || version_major(out.s) != o->major)) {
		char *said = xstrprintable(out.len ? out.s : err.len ? err.s : "nothing");
		if (res.exit_code == 127)
			fail("%s of PostgreSQL %d is not installed on the %s", o->tool, o->major, r->label);
		else
			fail("%s at \"%s\" on the %s is not the PostgreSQL %d client", o->tool, bin, r->label,
			     o->major);
		fail_detail("\"%s --version\" there exited with status %d and printed: %s", bin, res.exit_code, said);
		fail_hint("install postgresql-client-%d on the SSH host, or set ssh.tools: local", o->major);
		free(said);
		rc = -1;
	}
	if (!rc) {
		while (out.len && out.s[out.len - 1] == '\n')
			out.s[--out.len] = '\0';
		*version = buf_detach(&out);
	}
	buf_release(&out);
	buf_release(&err);
	return rc;
}

int remote_tool_check(struct remote *r, const char *tool, int major, char **version)
{
	struct remote_tool_opts o;
	memset(&o, 0, sizeof o);
	o.tool = tool;
	o.major = major;
	char *bin = xstrfmt("%s/%d/bin/%s", REMOTE_PG_ROOT, major, tool);
	int rc = check_version(r, &o, bin, version);
	free(bin);
	return rc;
}

static int is_upload(const struct remote_tool_opts *o, const char *arg)
{
	for (size_t i = 0; o->uploads && o->uploads[i]; i++)
		if (!strcmp(o->uploads[i], arg))
			return 1;
	return 0;
}

int remote_tool_run(const struct remote_tool_opts *o, int *exit_code, char **version)
{
	*exit_code = -1;
	*version = NULL;
	struct remote *r = o->session;
	enum remote_stage stage;
	if (!r && remote_open(o->ssh, o->target, o->connect_timeout_s, &r, &stage))
		return -1;
	char *bin = xstrfmt("%s/%d/bin/%s", REMOTE_PG_ROOT, o->major, o->tool);
	size_t nargs = 0, nenv = 0;
	while (o->args && o->args[nargs])
		nargs++;
	while (o->env && o->env[nenv])
		nenv++;
	/* every remote file padctl creates, removed at the end whatever happened */
	char **files = xcalloc(nargs + 2, sizeof *files);
	size_t nfiles = 0;
	const char **argv = xcalloc(nargs + nenv + 8, sizeof *argv);
	char **owned = xcalloc(nargs + 2, sizeof *owned);
	size_t nowned = 0, k = 0;
	int rc = check_version(r, o, bin, version);
	char *pgpass = NULL;
	if (!rc && o->password) {
		struct buf line = BUF_INIT;
		buf_adds(&line, "*:*:*:*:");
		buf_add_backslashed(&line, o->password, ":\\");
		buf_addch(&line, '\n');
		/* relative to the login directory, where SFTP and the command both start */
		rc = remote_put_private(r, ".", ".padctl-pgpass-", line.s, line.len, &pgpass);
		volatile char *p = line.s;
		for (size_t i = 0; i < line.len; i++)
			p[i] = 0;
		buf_release(&line);
		if (!rc)
			files[nfiles++] = xstrdup(pgpass);
	}
	if (!rc) {
		argv[k++] = "env";
		if (pgpass) {
			owned[nowned] = xstrfmt("PGPASSFILE=%s", pgpass);
			argv[k++] = owned[nowned++];
		}
		for (size_t i = 0; i < nenv; i++)
			argv[k++] = o->env[i];
		argv[k++] = bin;
		for (size_t i = 0; i < nargs && !rc; i++) {
			if (is_upload(o, o->args[i])) {
				char *path = NULL;
				rc = remote_upload_private(r, ".", ".padctl-input-", o->args[i], &path);
				if (!rc) {
					files[nfiles++] = path;
					argv[k++] = path;
				}
			} else {
				argv[k++] = o->args[i];
			}
		}
	}
	if (!rc) {
		log_verbose("[%s] running %s on %s", o->target, bin, r->label);
		struct remote_exec_opts eo = { argv, o->timeout_ms, o->on_out, o->out_ctx, keep_err, o->err, o->tool };
		struct remote_exec_result res;
		rc = remote_exec(r, &eo, &res);
		if (!rc)
			*exit_code = res.signal[0] ? 128 + 15 : res.exit_code;
		if (!rc && res.signal[0])
			keep_err(o->err, "killed by SIG", 13), keep_err(o->err, res.signal, strlen(res.signal));
	}
	/* the cleanup runs whatever happened above, in its own error scope so
	 * the tool's error stays the one reported */
	for (size_t i = 0; i < nfiles; i++) {
		struct err_scope scope;
		err_scope_push(&scope);
		int removed = remote_remove(r, files[i]);
		err_scope_pop(&scope, ERR_PROPAGATE);
		if (removed)
			rc = -1;
		free(files[i]);
	}
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	free(files);
	free(argv);
	free(pgpass);
	free(bin);
	if (!o->session)
		remote_close(r);
	if (rc) {
		free(*version);
		*version = NULL;
	}
	return rc;
}

#include "services.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <padctl/plugin.h>

#include "buf.h"
#include "confine.h"
#include "contracts.h"
#include "drift.h"
#include "fs.h"
#include "hash.h"
#include "backups.h"
#include "ledger.h"
#include "lint.h"
#include "log.h"
#include "planlint.h"
#include "proc.h"
#include "remote.h"
#include "sig.h"

#define TOOL_TIMEOUT_DEFAULT_MS (60L * 60 * 1000)
#define ARTIFACT_NAME_MAX 64

static int refused_in_dry_run(struct svc_step *s, const char *what)
{
	if (!s->dry_run)
		return 0;
	fail("step \"%s\" on target \"%s\" asked to %s in a dry run: refused", s->plugin, s->target, what);
	return fail_detail("a dry run changes nothing: no tool runs against the target, no file is made, "
			   "nothing is recorded");
}

static int refused_cancelled(struct svc_step *s, const char *what)
{
	if (!sig_cancelled())
		return 0;
	fail("%s: step \"%s\" on target \"%s\" asked to %s after padctl was told to stop", sig_cancelled_name(),
	     s->plugin, s->target, what);
	return fail_detail("padctl was told to stop; nothing more is started");
}

int services_refused(struct svc_step *s, const char *what)
{
	return refused_in_dry_run(s, what) || refused_cancelled(s, what);
}

/* ---- tools */

static const char *const tool_names[] = { "pg_dump", "pg_restore", "psql", NULL };

const char *services_pg_root(void)
{
	const char *r = getenv("PADCTL_PG_CLIENT_ROOT");
	return r && r[0] == '/' ? r : SERVICES_PG_ROOT;
}

int services_tool_version_parse(const char *out, int *major)
{
	const char *p = out ? strstr(out, "(PostgreSQL) ") : NULL;
	if (!p)
		return -1;
	p += strlen("(PostgreSQL) ");
	char *end;
	long v = strtol(p, &end, 10);
	if (end == p || v < 6 || v > 1000 ||
	    (*end != '.' && *end != '\n' && *end != ' ' && *end != '\0' && strncmp(end, "devel", 5) != 0 &&
	     strncmp(end, "beta", 4) != 0 && strncmp(end, "rc", 2) != 0))
		return -1;
	*major = (int)v;
	return 0;
}

int services_tool_check(const char *bin, const char *tool, int major, char **version)
{
	*version = NULL;
	char *argv[] = { (char *)bin, (char *)"--version", NULL };
	char *envp[] = { (char *)"PATH=/usr/bin:/bin", (char *)"LC_ALL=C", NULL };
	struct buf out = BUF_INIT, err = BUF_INIT;
	struct proc_opts o;
	proc_opts_init(&o);
	o.argv = argv;
	o.envp = envp;
	o.timeout_ms = 30000;
	o.out = &out;
	o.err = &err;
	struct proc_result r;
	int have = 0, rc = proc_run(&o, &r);
	if (!rc && r.exit_code == 0 && services_tool_version_parse(out.s, &have))
		have = 0;
	while (out.len && (out.s[out.len - 1] == '\n' || out.s[out.len - 1] == '\r'))
		out.s[--out.len] = '\0';
	if (rc) {
		fail_detail("could not run \"%s --version\" to check which PostgreSQL it belongs to", bin);
	} else if (!have) {
		char *said = xstrprintable(out.len ? out.s : err.len ? err.s : "nothing");
		fail("could not tell which PostgreSQL version %s at \"%s\" belongs to", tool, bin);
		fail_detail("\"%s --version\" exited with status %d and printed: %s", bin, r.exit_code, said);
		fail_hint("install the Debian package postgresql-client-%d", major);
		free(said);
		rc = -1;
	} else if (have != major) {
		fail("%s at \"%s\" is PostgreSQL %d, but the target's server is PostgreSQL %d", tool, bin, have, major);
		fail_detail("padctl runs only the client tools of the server's major version: a %s of another version "
			    "writes or reads archives the server's tools may not",
			    tool);
		fail_hint("install the Debian package postgresql-client-%d (it puts %s in %s/%d/bin)", major, tool,
			  services_pg_root(), major);
		rc = -1;
	} else {
		*version = xstrdup(out.s);
	}
	buf_release(&out);
	buf_release(&err);
	return rc;
}

int services_tool_path(const char *root, int major, const char *tool, char **path)
{
	*path = xstrfmt("%s/%d/bin/%s", root, major, tool);
	struct stat st;
	if (stat(*path, &st) == 0 && S_ISREG(st.st_mode) && access(*path, X_OK) == 0)
		return 0;
	free(*path);
	*path = NULL;
	struct buf found = BUF_INIT;
	DIR *d = opendir(root);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *p = xstrfmt("%s/%s/bin/%s", root, e->d_name, tool);
		if (e->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode))
			buf_addf(&found, "%s%s", found.len ? ", " : "", e->d_name);
		free(p);
	}
	if (d)
		closedir(d);
	fail("could not find %s for PostgreSQL %d: the target's server is version %d and %s", tool, major, major,
	     found.len ? "only other versions of the client tools are installed" : "no client tools are installed");
	fail_detail("%s of version %s is installed under %s; padctl runs only the version that matches the server",
		    tool, found.len ? found.s : "none", root);
	fail_hint("install the Debian package postgresql-client-%d (it puts %s in %s/%d/bin)", major, tool, root,
		  major);
	buf_release(&found);
	return -1;
}

char *services_pgpass_line(const char *password)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "*:*:*:*:");
	buf_add_backslashed(&b, password, ":\\");
	buf_addch(&b, '\n');
	return buf_detach(&b);
}

/* Options the host sets itself, or that would write a file the host does
 * not know about. getopt_long takes any unambiguous abbreviation, so an
 * option is refused when its name starts one of these. */
static const char *const refused_long[] = { "host",	   "port", "username", "dbname",   "password",
					    "no-password", "file", "output",   "log-file", NULL };

char *services_tool_args_refused(const char *tool, const char *const *args, int (*is_input)(void *ctx, const char *arg),
				 void *ctx)
{
	int known = 0;
	for (size_t i = 0; tool_names[i]; i++)
		known |= strcmp(tool, tool_names[i]) == 0;
	if (!known)
		return xstrfmt("unknown tool \"%s\": use pg_dump, pg_restore or psql", tool);
	for (size_t i = 0; args && args[i]; i++) {
		const char *a = args[i];
		if (a[0] != '-') {
			if (strcmp(tool, "pg_restore") == 0 && is_input && is_input(ctx, a))
				continue;
			return xstrfmt(
				"argument \"%s\" is not an option: give options as --name=value (the host names the "
				"database; pg_restore's input must be an artifact of this step or a backup it verified)",
				a);
		}
		if (a[1] != '-')
			return xstrfmt("short option \"%s\": give the long form (--name=value), which the host can check",
				       a);
		size_t n = strcspn(a + 2, "=");
		for (size_t k = 0; refused_long[k]; k++)
			if (n == 0 || (n <= strlen(refused_long[k]) && strncmp(a + 2, refused_long[k], n) == 0))
				return xstrfmt("option \"%s\" is the host's: the host connects the tool to the step's "
					       "target and handles its output",
					       a);
	}
	return NULL;
}

static int has_arg(const char *const *args, const char *want)
{
	for (size_t i = 0; args && args[i]; i++)
		if (strcmp(args[i], want) == 0)
			return 1;
	return 0;
}

static int is_artifact_path(void *ctx, const char *arg)
{
	struct svc_step *s = ctx;
	for (size_t i = 0; i < s->narts; i++)
		if (s->arts[i]->committed && strcmp(s->arts[i]->path, arg) == 0)
			return 1;
	for (size_t i = 0; i < s->ninputs; i++)
		if (strcmp(s->inputs[i], arg) == 0)
			return 1;
	return 0;
}

/* is_remote_path: arg names a file on the SSH host (a backup kept there):
 * the tool runs there and reads it in place */
static int is_remote_path(struct svc_step *s, const char *arg)
{
	for (size_t i = 0; i < s->narts; i++)
		if (s->arts[i]->remote && strcmp(s->arts[i]->path, arg) == 0)
			return 1;
	for (size_t i = 0; i < s->nremote_inputs; i++)
		if (strcmp(s->remote_inputs[i], arg) == 0)
			return 1;
	return 0;
}

/* The private password file: a 0700 directory of its own with one 0600 file,
 * both registered with sig so a signal or an exit removes them. */
struct pgpass {
	char *dir;
	char *file;
};

static void pgpass_remove(struct pgpass *pp)
{
	if (pp->file) {
		unlink(pp->file);
		sig_tempfile_unregister(pp->file);
	}
	if (pp->dir) {
		rmdir(pp->dir);
		sig_tempfile_unregister(pp->dir);
	}
	free(pp->file);
	free(pp->dir);
	pp->file = pp->dir = NULL;
}

static int pgpass_make(struct pgpass *pp, const char *password)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	char *templ = xstrfmt("%s/padctl-pgpass-XXXXXX", tmp);
	pp->file = NULL;
	if (!mkdtemp(templ)) {
		fail("could not create a private directory in %s for the password file: %s", tmp, strerror(errno));
		free(templ);
		pp->dir = NULL;
		return fail_hint("set TMPDIR to a writable directory");
	}
	pp->dir = templ;
	/* the directory before the file: at a signal, sig removes files before directories */
	sig_tempfile_register(pp->dir);
	pp->file = xstrfmt("%s/pgpass", pp->dir);
	sig_tempfile_register(pp->file);
	int fd = open(pp->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		fail("could not create the password file \"%s\": %s", pp->file, strerror(e));
		pgpass_remove(pp);
		return -1;
	}
	char *line = password && *password ? services_pgpass_line(password) : xstrdup("");
	size_t len = strlen(line);
	int rc = 0;
	if (fs_write_all(fd, line, len))
		rc = fail("could not write the password file \"%s\": %s", pp->file, strerror(errno));
	explicit_bzero(line, len);
	free(line);
	if (close(fd) && !rc)
		rc = fail("could not write the password file \"%s\": %s", pp->file, strerror(errno));
	if (rc)
		pgpass_remove(pp);
	return rc;
}

/* A conninfo value quoted as libpq reads it ('...' with \' and \\): not
 * shell quoting, the dbname argument is a conninfo string when it has '='. */
static char *conninfo_dbname(const char *db)
{
	if (!strchr(db, '=') && strncmp(db, "postgres", 8) != 0)
		return xstrfmt("--dbname=%s", db);
	struct buf b = BUF_INIT;
	buf_adds(&b, "--dbname=dbname='");
	buf_add_backslashed(&b, db, "'\\");
	buf_addch(&b, '\'');
	return buf_detach(&b);
}

static const char *conn_option(PGconn *conn, const char *key)
{
	static char value[256];
	PQconninfoOption *opts = PQconninfo(conn);
	value[0] = '\0';
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, key) == 0 && o->val && strlen(o->val) < sizeof value)
			memcpy(value, o->val, strlen(o->val) + 1);
	PQconninfoFree(opts);
	return value[0] ? value : NULL;
}

struct argv_buf {
	char **v;
	size_t n;
};

static void argv_add(struct argv_buf *a, char *s)
{
	a->v = xrealloc(a->v, (a->n + 2) * sizeof *a->v);
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void argv_free(struct argv_buf *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

struct tool_out {
	struct svc_step *s;
	struct padctl_step *st;
	padctl_output_fn fn;
	void *ctx;
	struct padctl_artifact *art;
};

static int art_write(struct svc_step *s, struct padctl_artifact *a, const void *data, size_t n);

static int tool_output(void *ctx, const void *data, size_t n)
{
	struct tool_out *t = ctx;
	if (t->art)
		return art_write(t->s, t->art, data, n);
	if (t->fn)
		return t->fn(t->ctx, data, n);
	return 0;
}

/* end_tool_session ends the server session of a tool padctl killed (a time
 * limit, a signal): a killed client's session lives on while its statement
 * waits (for a lock, say), because the server notices a gone client only
 * when it next talks to it, and it would queue behind that lock in the
 * tool's place. The tool's session is the one with its application_name on
 * this database as this user, other than padctl's own: the target's lock
 * keeps any other padctl from running a tool there meanwhile. Best effort,
 * on padctl's own connection (inside the plugin's transaction, if one is
 * open, a harmless SELECT), outside the db layer so that nothing the plugin
 * deferred is sent with it; a failure changes nothing. */
static void end_tool_session(struct svc_step *s, const char *tool)
{
	PGTransactionStatusType ts = s->db && s->db->conn ? PQtransactionStatus(s->db->conn) : PQTRANS_UNKNOWN;
	if (ts != PQTRANS_IDLE && ts != PQTRANS_INTRANS)
		return;
	char *app = xstrfmt("padctl-%s", tool);
	const char *p[] = { app };
	PGresult *r =
		PQexecParams(s->db->conn,
			     "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 "
			     "AND datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()",
			     1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
		log_verbose("[%s] %s: ended the server session %s left behind", s->target, s->plugin, tool);
	PQclear(r);
	free(app);
}

int services_remote(struct svc_step *s, struct remote **r)
{
	*r = NULL;
	if (!s->remote) {
		enum remote_stage stage;
		if (remote_open(s->tcfg->ssh, s->tcfg->name, s->tcfg->db.connect_timeout, &s->remote, &stage))
			return -1;
	}
	*r = s->remote;
	return 0;
}

/* tools_run_remote runs the tool on the target's SSH host (ssh.tools:
 * remote): connected to database.host:port as that host sees it, the
 * password in a private pgpass file there, output streamed back as from a
 * local tool, local artifact files the arguments name copied there first. */
static int tools_run_remote(struct svc_step *s, const char *tool, const char *const *args, long timeout_ms,
			    struct tool_out *to, struct padctl_artifact *art, int major, int connect)
{
	const struct cfg_target *t = s->tcfg;
	struct argv_buf av = { NULL, 0 }, env = { NULL, 0 }, up = { NULL, 0 };
	if (connect) {
		PGconn *c = s->db->conn;
		argv_add(&av, xstrfmt("--host=%s", t->db.host ? t->db.host : "127.0.0.1"));
		argv_add(&av, xstrfmt("--port=%d", t->db.port));
		argv_add(&av, xstrfmt("--username=%s", PQuser(c)));
		argv_add(&av, conninfo_dbname(PQdb(c)));
		argv_add(&av, xstrdup("--no-password"));
	}
	if (strcmp(tool, "psql") == 0) {
		argv_add(&av, xstrdup("--no-psqlrc"));
		argv_add(&av, xstrdup("--set=ON_ERROR_STOP=1"));
	}
	for (size_t i = 0; args && args[i]; i++) {
		argv_add(&av, xstrdup(args[i]));
		if (is_artifact_path(s, args[i]) && !is_remote_path(s, args[i]))
			argv_add(&up, xstrdup(args[i]));
	}
	/* a backup kept on the SSH host: pg_dump writes the file padctl created there */
	if (art && art->remote)
		argv_add(&av, xstrfmt("--file=%s", art->path));
	argv_add(&env, xstrdup("LC_ALL=C"));
	argv_add(&env, xstrfmt("PGAPPNAME=padctl-%s", tool));
	argv_add(&env, xstrdup("PGCONNECT_TIMEOUT=30"));
	const char *v;
	if ((v = conn_option(s->db->conn, "sslmode")))
		argv_add(&env, xstrfmt("PGSSLMODE=%s", v));
	struct buf err = BUF_INIT;
	struct remote_tool_opts o;
	memset(&o, 0, sizeof o);
	o.ssh = t->ssh;
	o.target = t->name;
	o.connect_timeout_s = t->db.connect_timeout;
	o.tool = tool;
	o.major = major;
	o.args = (const char *const *)av.v;
	o.env = (const char *const *)env.v;
	o.password = connect ? PQpass(s->db->conn) : NULL;
	if (o.password && !*o.password)
		o.password = NULL;
	o.uploads = (const char *const *)up.v;
	o.timeout_ms = timeout_ms > 0 ? timeout_ms : TOOL_TIMEOUT_DEFAULT_MS;
	o.on_out = tool_output;
	o.out_ctx = to;
	o.err = &err;
	int code = -1;
	char *version = NULL;
	int rc = services_remote(s, &o.session);
	if (!rc)
		rc = remote_tool_run(&o, &code, &version);
	if (art) {
		free(art->tool_version);
		art->tool_version = version;
	} else {
		free(version);
	}
	if (rc) {
		/* stopped (time limit, signal) or lost: its server session must not wait on */
		if (connect)
			end_tool_session(s, tool);
		fail_detail("step \"%s\" on target \"%s\" ran %s on the SSH host %s", s->plugin, s->target, tool,
			    t->ssh->host);
	} else if (code != 0) {
		while (err.len && err.s[err.len - 1] == '\n')
			err.s[--err.len] = '\0';
		fail("%s failed on the SSH host of target \"%s\" (step \"%s\") with exit status %d", tool, s->target,
		     s->plugin, code);
		if (err.len)
			fail_detail("%s", err.s);
		rc = -1;
	}
	buf_release(&err);
	argv_free(&av);
	argv_free(&env);
	argv_free(&up);
	return rc;
}

static int tools_run_impl(struct padctl_step *st, const char *tool, const char *const *args, long timeout_ms,
			  padctl_output_fn out, void *ctx, struct padctl_artifact *art)
{
	struct svc_step *s = svc_step_of(st);
	char *what = xstrfmt("run %s", tool ? tool : "(null)");
	int refused = refused_in_dry_run(s, what) || refused_cancelled(s, what);
	free(what);
	if (refused)
		return -1;
	if (!tool)
		return fail("step \"%s\" asked to run no tool: name pg_dump, pg_restore or psql", s->plugin);
	char *why = services_tool_args_refused(tool, args, is_artifact_path, s);
	if (why) {
		fail("step \"%s\" on target \"%s\": could not run %s: %s", s->plugin, s->target, tool, why);
		free(why);
		return -1;
	}
	if (art && (art->committed || (art->fd < 0 && !art->remote)))
		return fail("step \"%s\" on target \"%s\" sent the output of %s to artifact \"%s\", which is committed",
			    s->plugin, s->target, tool, art->name);
	int major = PQserverVersion(s->db->conn) / 10000;
	int connect = !(strcmp(tool, "pg_restore") == 0 && (has_arg(args, "--list")));
	int tools_remote = s->tcfg && s->tcfg->ssh && s->tcfg->ssh->tools && !strcmp(s->tcfg->ssh->tools, "remote");
	/* a file on the SSH host (a kept backup) is read there, --list included */
	int reads_remote = art && art->remote;
	for (size_t i = 0; args && args[i]; i++)
		reads_remote |= is_remote_path(s, args[i]);
	if (reads_remote && !tools_remote)
		return fail("step \"%s\" on target \"%s\": %s would use a backup kept on the SSH host, but the target "
			    "has no ssh.tools: remote",
			    s->plugin, s->target, tool);
	if ((connect && tools_remote) || reads_remote) {
		struct tool_out rto = { s, st, out, ctx, art && art->remote ? NULL : art };
		return tools_run_remote(s, tool, args, timeout_ms, &rto, art, major, connect);
	}
	char *bin, *version = NULL;
	if (services_tool_path(services_pg_root(), major, tool, &bin))
		return fail_detail("step \"%s\" on target \"%s\"", s->plugin, s->target);
	if (services_tool_check(bin, tool, major, &version)) {
		free(bin);
		return fail_detail("step \"%s\" on target \"%s\"", s->plugin, s->target);
	}
	if (art) {
		free(art->tool_version);
		art->tool_version = version;
	} else {
		free(version);
	}

	struct argv_buf av = { NULL, 0 };
	argv_add(&av, bin);
	if (connect) {
		PGconn *c = s->db->conn;
		argv_add(&av, xstrfmt("--host=%s", PQhost(c)));
		argv_add(&av, xstrfmt("--port=%s", PQport(c)));
		argv_add(&av, xstrfmt("--username=%s", PQuser(c)));
		argv_add(&av, conninfo_dbname(PQdb(c)));
		argv_add(&av, xstrdup("--no-password"));
	}
	if (strcmp(tool, "psql") == 0) {
		argv_add(&av, xstrdup("--no-psqlrc"));
		argv_add(&av, xstrdup("--set=ON_ERROR_STOP=1"));
	}
	for (size_t i = 0; args && args[i]; i++)
		argv_add(&av, xstrdup(args[i]));

	struct pgpass pp = { NULL, NULL };
	if (pgpass_make(&pp, connect ? PQpass(s->db->conn) : NULL)) {
		argv_free(&av);
		return fail_detail("step \"%s\" on target \"%s\"", s->plugin, s->target);
	}
	struct argv_buf env = { NULL, 0 };
	argv_add(&env, xstrdup("PATH=/usr/bin:/bin"));
	argv_add(&env, xstrdup("LC_ALL=C"));
	argv_add(&env, xstrfmt("PGPASSFILE=%s", pp.file));
	argv_add(&env, xstrfmt("PGAPPNAME=padctl-%s", tool));
	argv_add(&env, xstrdup("PGCONNECT_TIMEOUT=30"));
	const char *v;
	/* through an SSH tunnel: host stays the real name (TLS, pgpass), hostaddr is the tunnel */
	if ((v = conn_option(s->db->conn, "hostaddr")))
		argv_add(&env, xstrfmt("PGHOSTADDR=%s", v));
	if ((v = conn_option(s->db->conn, "sslmode")))
		argv_add(&env, xstrfmt("PGSSLMODE=%s", v));
	if ((v = conn_option(s->db->conn, "sslrootcert")))
		argv_add(&env, xstrfmt("PGSSLROOTCERT=%s", v));

	struct tool_out to = { s, st, out, ctx, art };
	struct buf err = BUF_INIT;
	struct proc_opts o;
	proc_opts_init(&o);
	o.argv = av.v;
	o.envp = env.v;
	o.timeout_ms = timeout_ms > 0 ? timeout_ms : TOOL_TIMEOUT_DEFAULT_MS;
	o.on_out = tool_output;
	o.out_ctx = &to;
	if (art)
		o.out_pipe_size = 1024 * 1024; /* a dump into a file: see proc.h */
	o.err = &err;
	log_verbose("[%s] %s: running %s (PostgreSQL %d client)", s->target, s->plugin, bin, major);
	struct proc_result r;
	int rc = proc_run(&o, &r);
	pgpass_remove(&pp);
	if (rc && connect && (r.cancelled || r.timed_out))
		end_tool_session(s, tool);
	if (rc) {
		fail_detail("step \"%s\" on target \"%s\" ran %s", s->plugin, s->target, tool);
	} else if (r.exit_code != 0) {
		while (err.len && err.s[err.len - 1] == '\n')
			err.s[--err.len] = '\0';
		fail("%s failed on target \"%s\" (step \"%s\") with exit status %d", tool, s->target, s->plugin,
		     r.exit_code);
		if (err.len)
			fail_detail("%s", err.s);
		rc = -1;
	} else if (err.len) {
		log_verbose("[%s] %s: %s said: %.*s", s->target, s->plugin, tool, (int)err.len, err.s);
	}
	buf_release(&err);
	argv_free(&av);
	argv_free(&env);
	return rc;
}

static int tools_run(struct padctl_step *st, const char *tool, const char *const *args, long timeout_ms,
		     padctl_output_fn out, void *ctx)
{
	return tools_run_impl(st, tool, args, timeout_ms, out, ctx, NULL);
}

static int tools_run_to_artifact(struct padctl_step *st, const char *tool, const char *const *args, long timeout_ms,
				 struct padctl_artifact *a)
{
	if (!a)
		return fail("step \"%s\" ran %s into no artifact: create one first", svc_step_of(st)->plugin,
			    tool ? tool : "a tool");
	return tools_run_impl(st, tool, args, timeout_ms, NULL, NULL, a);
}

static int tools_server_major(struct padctl_step *st)
{
	struct svc_step *s = svc_step_of(st);
	int v = s->db && s->db->conn ? PQserverVersion(s->db->conn) : 0;
	return v > 0 ? v / 10000 : -1;
}

static const struct padctl_tools_v1 tools_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_tools_v1),
	.run = tools_run,
	.run_to_artifact = tools_run_to_artifact,
	.server_major = tools_server_major,
};

/* services_dump_schemas is the tools service's pg_dump for the host's own
 * use (drift copies the protected schemas to its scratch database): no step,
 * so no dry-run refusal (it only reads), and the output kept in memory. */
int services_dump_schemas(struct db *db, const char *const *schemas, size_t n, struct buf *out)
{
	int major = PQserverVersion(db->conn) / 10000;
	char *bin;
	if (services_tool_path(SERVICES_PG_ROOT, major, "pg_dump", &bin))
		return fail_detail("drift copies the protected schemas from the target with pg_dump");
	struct argv_buf av = { NULL, 0 };
	argv_add(&av, bin);
	argv_add(&av, xstrfmt("--host=%s", PQhost(db->conn)));
	argv_add(&av, xstrfmt("--port=%s", PQport(db->conn)));
	argv_add(&av, xstrfmt("--username=%s", PQuser(db->conn)));
	argv_add(&av, conninfo_dbname(PQdb(db->conn)));
	argv_add(&av, xstrdup("--no-password"));
	argv_add(&av, xstrdup("--schema-only"));
	argv_add(&av, xstrdup("--no-owner"));
	argv_add(&av, xstrdup("--no-privileges"));
	argv_add(&av, xstrdup("--no-comments"));
	for (size_t i = 0; i < n; i++)
		argv_add(&av, xstrfmt("--schema=%s", schemas[i]));
	struct pgpass pp = { NULL, NULL };
	if (pgpass_make(&pp, PQpass(db->conn))) {
		argv_free(&av);
		return -1;
	}
	struct argv_buf env = { NULL, 0 };
	argv_add(&env, xstrdup("PATH=/usr/bin:/bin"));
	argv_add(&env, xstrdup("LC_ALL=C"));
	argv_add(&env, xstrfmt("PGPASSFILE=%s", pp.file));
	argv_add(&env, xstrdup("PGAPPNAME=padctl-drift"));
	argv_add(&env, xstrdup("PGCONNECT_TIMEOUT=30"));
	const char *v;
	if ((v = conn_option(db->conn, "sslmode")))
		argv_add(&env, xstrfmt("PGSSLMODE=%s", v));
	if ((v = conn_option(db->conn, "sslrootcert")))
		argv_add(&env, xstrfmt("PGSSLROOTCERT=%s", v));
	struct buf err = BUF_INIT;
	struct proc_opts o;
	proc_opts_init(&o);
	o.argv = av.v;
	o.envp = env.v;
	o.timeout_ms = TOOL_TIMEOUT_DEFAULT_MS;
	o.out = out;
	o.err = &err;
	struct proc_result r;
	int rc = proc_run(&o, &r);
	pgpass_remove(&pp);
	if (!rc && r.exit_code != 0) {
		while (err.len && err.s[err.len - 1] == '\n')
			err.s[--err.len] = '\0';
		fail("pg_dump of the protected schemas failed with exit status %d", r.exit_code);
		if (err.len)
			fail_detail("%s", err.s);
		rc = -1;
	}
	buf_release(&err);
	argv_free(&av);
	argv_free(&env);
	return rc;
}

/* ---- artifacts */

static int name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > ARTIFACT_NAME_MAX || name[0] == '.')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int services_private_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return fail("could not create directory \"%s\": %s", path, strerror(errno));
	struct stat st;
	if (lstat(path, &st) != 0)
		return fail("could not stat \"%s\": %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		fail("\"%s\" is not a directory (a symbolic link or a file is in its place)", path);
		return fail_hint("padctl keeps artifacts there and does not follow links; remove \"%s\"", path);
	}
	return 0;
}

int services_project_dot(const char *dot)
{
	int rc = services_private_dir(dot);
	if (!rc) {
		/* what padctl keeps in the project never belongs in git */
		char *gi = xstrfmt("%s/.gitignore", dot);
		struct stat st;
		if (lstat(gi, &st) != 0)
			rc = fs_write_atomic(gi, "*\n", 2, 0644);
		free(gi);
	}
	return rc;
}

static int artifact_dir(struct svc_step *s, char **dir)
{
	char *dot = xstrfmt("%s/.padctl", s->root);
	int rc = services_project_dot(dot);
	char *parts[3] = { xstrfmt("%s/artifacts", dot), NULL, NULL };
	parts[1] = xstrfmt("%s/%s", parts[0], s->env);
	parts[2] = xstrfmt("%s/%s", parts[1], s->target);
	for (int i = 0; i < 3 && !rc; i++)
		rc = services_private_dir(parts[i]);
	*dir = rc ? NULL : xstrdup(parts[2]);
	for (int i = 0; i < 3; i++)
		free(parts[i]);
	free(dot);
	return rc;
}

static int art_create(struct padctl_step *st, const char *name, struct padctl_artifact **out)
{
	struct svc_step *s = svc_step_of(st);
	*out = NULL;
	if (refused_in_dry_run(s, "create an artifact") || refused_cancelled(s, "create an artifact"))
		return -1;
	if (!name || !name_ok(name))
		return fail("step \"%s\" on target \"%s\": invalid artifact name \"%s\": use 1 to %d characters of "
			    "[A-Za-z0-9._-], not starting with a dot",
			    s->plugin, s->target, name ? name : "(null)", ARTIFACT_NAME_MAX);
	for (size_t i = 0; i < s->narts; i++)
		if (strcmp(s->arts[i]->name, name) == 0)
			return fail("step \"%s\" on target \"%s\" created artifact \"%s\" twice", s->plugin, s->target,
				    name);
	char *dir;
	if (artifact_dir(s, &dir))
		return -1;
	char *path = xstrfmt("%s/%s-%s", dir, s->run_id, name);
	free(dir);
	return services_artifact_open(s, name, path, out);
}

int services_artifact_open(struct svc_step *s, const char *name, char *path, struct padctl_artifact **out)
{
	*out = NULL;
	sig_tempfile_register(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		sig_tempfile_unregister(path);
		fail("could not create %s \"%s\": %s", strcmp(name, "backup") == 0 ? "backup file" : "artifact", path,
		     strerror(e));
		if (e == EEXIST)
			fail_detail("a file of that name is there already: padctl never writes over one");
		free(path);
		return -1;
	}
	struct padctl_artifact *a = xcalloc(1, sizeof *a);
	a->name = xstrdup(name);
	a->path = path;
	a->fd = fd;
	hash_sha256_init(&a->sha);
	s->arts = xrealloc(s->arts, (s->narts + 1) * sizeof *s->arts);
	s->arts[s->narts++] = a;
	*out = a;
	return 0;
}

int services_artifact_own(struct svc_step *s, const struct padctl_artifact *a)
{
	for (size_t i = 0; a && i < s->narts; i++)
		if (s->arts[i] == a)
			return 1;
	return 0;
}

static int art_write(struct svc_step *s, struct padctl_artifact *a, const void *data, size_t n)
{
	if (a->committed || a->fd < 0)
		return fail("step \"%s\" wrote to artifact \"%s\" after committing it", s->plugin, a->name);
	if (fs_write_all(a->fd, data, n))
		return fail("could not write artifact \"%s\": %s", a->path, strerror(errno));
	hash_sha256_update(&a->sha, data, n);
	a->size += n;
	return 0;
}

static int art_write_api(struct padctl_step *st, struct padctl_artifact *a, const void *data, size_t n)
{
	struct svc_step *s = svc_step_of(st);
	if (!services_artifact_own(s, a))
		return fail("step \"%s\" wrote to an artifact the host did not hand it", s->plugin);
	return art_write(s, a, data, n);
}

static const char *art_path(struct padctl_step *st, const struct padctl_artifact *a)
{
	return services_artifact_own(svc_step_of(st), a) ? a->path : NULL;
}

static int art_commit(struct padctl_step *st, struct padctl_artifact *a)
{
	struct svc_step *s = svc_step_of(st);
	if (!services_artifact_own(s, a))
		return fail("step \"%s\" committed an artifact the host did not hand it", s->plugin);
	if (a->committed)
		return fail("step \"%s\" committed artifact \"%s\" twice", s->plugin, a->name);
	if (a->backup)
		return fail("step \"%s\" committed its backup as an artifact: commit it with the backups service",
			    s->plugin);
	if (refused_cancelled(s, "commit an artifact"))
		return -1;
	if (fsync(a->fd) != 0 || close(a->fd) != 0) {
		a->fd = -1;
		return fail("could not write artifact \"%s\": %s", a->path, strerror(errno));
	}
	a->fd = -1;
	char hex[HASH_SHA256_HEX_SIZE];
	if (hash_sha256_final(&a->sha, hex))
		return fail("could not hash artifact \"%s\" (OpenSSL failed)", a->path);
	char size[32];
	snprintf(size, sizeof size, "%llu", (unsigned long long)a->size);
	const char *vals[] = { s->run_id, s->target, a->name, a->path, hex };
	char *lit[5] = { NULL };
	int rc = 0;
	for (int i = 0; i < 5 && !rc; i++)
		rc = (lit[i] = db_literal(s->db, vals[i])) ? 0 : -1;
	if (!rc) {
		char *sql = xstrfmt("INSERT INTO padctl.artifacts (run_id, target, name, path, size, sha256) "
				    "VALUES (%s, %s, %s, %s, %s, %s)",
				    lit[0], lit[1], lit[2], lit[3], size, lit[4]);
		rc = s->ledger_write(st, sql);
		free(sql);
	}
	for (int i = 0; i < 5; i++)
		PQfreemem(lit[i]);
	if (rc)
		return fail_detail("recording artifact \"%s\" of step \"%s\" on target \"%s\"", a->name, s->plugin,
				   s->target);
	memcpy(a->hex, hex, sizeof hex);
	a->committed = 1;
	sig_tempfile_unregister(a->path);
	log_verbose("[%s] %s: artifact %s, %llu bytes, sha256 %s", s->target, s->plugin, a->path,
		    (unsigned long long)a->size, a->hex);
	return 0;
}

int services_file_sha256(const char *path, char hex[65], uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail("could not read \"%s\": %s", path, strerror(errno));
	struct hash_sha256 c;
	hash_sha256_init(&c);
	char chunk[65536];
	*size = 0;
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return fail("could not read \"%s\": %s", path, strerror(e));
		}
		hash_sha256_update(&c, chunk, (size_t)n);
		*size += (uint64_t)n;
	}
	close(fd);
	if (hash_sha256_final(&c, hex))
		return fail("could not hash \"%s\" (OpenSSL failed)", path);
	return 0;
}

static int art_mark_verified(struct padctl_step *st, struct padctl_artifact *a)
{
	struct svc_step *s = svc_step_of(st);
	if (!services_artifact_own(s, a))
		return fail("step \"%s\" verified an artifact the host did not hand it", s->plugin);
	if (!a->committed)
		return fail("step \"%s\" marked artifact \"%s\" verified before committing it", s->plugin, a->name);
	if (a->backup)
		return fail("step \"%s\" marked its backup verified as an artifact: use the backups service",
			    s->plugin);
	char hex[65];
	uint64_t size;
	if (services_file_sha256(a->path, hex, &size))
		return -1;
	if (size != a->size || strcmp(hex, a->hex) != 0) {
		fail("artifact \"%s\" changed after it was committed: not marked verified", a->path);
		return fail_detail("committed: %llu bytes, sha256 %s; now: %llu bytes, sha256 %s",
				   (unsigned long long)a->size, a->hex, (unsigned long long)size, hex);
	}
	char *l[3] = { db_literal(s->db, s->run_id), db_literal(s->db, s->target), db_literal(s->db, a->name) };
	int rc = -1;
	if (l[0] && l[1] && l[2]) {
		char *sql = xstrfmt("UPDATE padctl.artifacts SET verified = true WHERE run_id = %s AND target = %s "
				    "AND name = %s",
				    l[0], l[1], l[2]);
		rc = s->ledger_write(st, sql);
		free(sql);
	}
	for (int i = 0; i < 3; i++)
		PQfreemem(l[i]);
	return rc;
}

static const char *art_sha256(struct padctl_step *st, const struct padctl_artifact *a)
{
	return services_artifact_own(svc_step_of(st), a) ? a->hex : "";
}

static uint64_t art_bytes(struct padctl_step *st, const struct padctl_artifact *a)
{
	return services_artifact_own(svc_step_of(st), a) && a->committed ? a->size : 0;
}

static int art_find(struct padctl_step *st, const char *run_id, struct padctl_rows **rows)
{
	struct svc_step *s = svc_step_of(st);
	*rows = NULL;
	const char *p[] = { run_id ? run_id : s->run_id, s->target };
	PGresult *res;
	if (db_query(s->db,
		     "SELECT name, path, size::text, sha256, CASE WHEN verified THEN 't' ELSE 'f' END, "
		     "created_at::text FROM padctl.artifacts WHERE run_id = $1 AND target = $2 "
		     "ORDER BY created_at, name",
		     2, p, &res))
		return fail_detail("listing the artifacts of run %s on target \"%s\"", p[0], s->target);
	*rows = xmalloc(sizeof **rows);
	(*rows)->res = res;
	return 0;
}

static const struct padctl_artifacts_v1 artifacts_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_artifacts_v1),
	.create = art_create,
	.write = art_write_api,
	.path = art_path,
	.commit = art_commit,
	.mark_verified = art_mark_verified,
	.sha256 = art_sha256,
	.bytes = art_bytes,
	.find = art_find,
};

/* ---- ledger records */

/* record inserts one row of values (NULL-ended) into table's columns. */
static int record(struct padctl_step *st, const char *what, const char *table, const char *columns,
		  const char *const *vals)
{
	struct svc_step *s = svc_step_of(st);
	if (refused_in_dry_run(s, what))
		return -1;
	struct buf sql = BUF_INIT;
	buf_addf(&sql, "INSERT INTO %s (%s) VALUES (", table, columns);
	int rc = 0;
	for (size_t i = 0; vals[i] && !rc; i++) {
		char *l = db_literal(s->db, vals[i]);
		if (!l) {
			rc = -1;
			break;
		}
		buf_addf(&sql, "%s%s", i ? ", " : "", l);
		PQfreemem(l);
	}
	buf_adds(&sql, ")");
	if (!rc)
		rc = s->ledger_write(st, sql.s);
	buf_release(&sql);
	if (rc)
		fail_detail("recording that step \"%s\" %s on target \"%s\"", s->plugin, what + 7, s->target);
	return rc;
}

static int nonempty(struct svc_step *s, const char *what, const char *v)
{
	if (v && *v)
		return 0;
	return fail("step \"%s\" on target \"%s\" recorded %s without a value", s->plugin, s->target, what);
}

static int led_rolled_back(struct padctl_step *st, const char *version)
{
	struct svc_step *s = svc_step_of(st);
	if (nonempty(s, "a rollback", version))
		return -1;
	if (refused_in_dry_run(s, "record rolled back a migration"))
		return -1;
	/* the history row becomes rolled_back (pending again) in the same
	 * statement, so a rollback record and its history row always agree;
	 * undone_run is the run that had applied it (NULL: it was not applied) */
	const char *v[] = { s->run_id, version, ledger_actor(), s->phase ? s->phase : "" };
	char *l[4] = { NULL, NULL, NULL, NULL };
	int rc = 0;
	for (size_t i = 0; i < 4 && !rc; i++)
		if (!(l[i] = db_literal(s->db, v[i])))
			rc = -1;
	if (!rc) {
		char *sql = xstrfmt("WITH m AS (UPDATE padctl.migrations SET status = 'rolled_back' WHERE version = %s "
				    "AND status = 'applied' RETURNING run_id) "
				    "INSERT INTO padctl.rollbacks (run_id, version, rolled_back_by, undone_run, strategy) "
				    "VALUES (%s, %s, %s, (SELECT run_id FROM m), nullif(%s, ''))",
				    l[1], l[0], l[1], l[2], l[3]);
		rc = s->ledger_write(st, sql);
		free(sql);
	}
	for (size_t i = 0; i < 4; i++)
		PQfreemem(l[i]);
	if (rc)
		fail_detail("recording that step \"%s\" rolled back migration %s on target \"%s\"", s->plugin, version,
			    s->target);
	return rc;
}

static int led_seed_applied(struct padctl_step *st, const char *set, const char *file, const char *checksum)
{
	struct svc_step *s = svc_step_of(st);
	if (nonempty(s, "a seed's set", set) || nonempty(s, "a seed's file", file) ||
	    nonempty(s, "a seed's checksum", checksum))
		return -1;
	if (strlen(checksum) != 64 || strspn(checksum, "0123456789abcdef") != 64)
		return fail("step \"%s\" recorded seed file \"%s\" with checksum \"%s\": give the hex SHA-256 "
			    "(64 lowercase hex digits)",
			    s->plugin, file, checksum);
	const char *v[] = { s->run_id, set, file, checksum, ledger_actor(), NULL };
	return record(st, "record applied a seed file", "padctl.seeds", "run_id, seed_set, file, checksum, applied_by",
		      v);
}

static const struct padctl_ledger_v1 ledger_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_ledger_v1),
	.migration_rolled_back = led_rolled_back,
	.seed_applied = led_seed_applied,
};

/* ---- seeds */

static char *seed_join(const char *a, const char *b)
{
	size_t n = strlen(a);
	return xstrfmt("%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

static void seed_names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* seed_base is the directory a set and its files must stay in once every
 * symlink is resolved: the project, or paths.seeds itself when padctl.yml
 * puts it outside the project (configured so, not planted) */
static const char *seed_base(const struct cfg_project *p)
{
	size_t n = strlen(p->root);
	if (strncmp(p->seeds_dir, p->root, n) == 0 && (p->seeds_dir[n] == '/' || !p->seeds_dir[n]))
		return p->root;
	return p->seeds_dir;
}

/* seed_shown is path relative to the project when it lies in it by name */
static char *seed_shown(const struct cfg_project *p, const char *path)
{
	size_t n = strlen(p->root);
	if (strncmp(path, p->root, n) == 0 && path[n] == '/')
		return xstrdup(path + n + 1);
	return xstrdup(path);
}

/* seed_dir checks that set is one of the env's seed sets and that its
 * directory exists inside seed_base; *dir gets its path */
static int seed_dir(struct svc_step *s, const char *set, char **dir)
{
	const struct cfg_env *e = s->env_cfg;
	const struct cfg_project *p = s->project;
	size_t i = 0;
	*dir = NULL;
	if (!set || !*set)
		return fail("step \"%s\" on target \"%s\" asked for a seed set without a name", s->plugin, s->target);
	while (i < e->nseeds && strcmp(e->seeds[i], set) != 0)
		i++;
	if (i == e->nseeds) {
		char *shown = xstrprintable(set);
		fail("seed set \"%s\" is not one of the seed sets of env \"%s\"", shown, e->name);
		free(shown);
		return fail_hint("list it under `seeds:` in %s", e->file);
	}
	char *path = seed_join(p->seeds_dir, set);
	struct stat sb;
	int found = stat(path, &sb) == 0, err = errno;
	if (!found || !S_ISDIR(sb.st_mode)) {
		fail("%s:%d: seed set \"%s\" of env \"%s\" has no directory \"%s\"", e->file, e->seed_lines[i], set,
		     e->name, path);
		fail_detail("%s", found ? "it is not a directory" : strerror(err));
		fail_hint("create %s/ with the set's *.sql files, or remove \"%s\" from the env's seeds", path, set);
		free(path);
		return fail_status(EXIT_USAGE);
	}
	if (!confine_within(path, seed_base(p))) {
		char real[PATH_MAX];
		fail("%s:%d: seed set \"%s\" of env \"%s\" leads out of the project: \"%s\" resolves to \"%s\"",
		     e->file, e->seed_lines[i], set, e->name, path, realpath(path, real) ? real : "?");
		fail_detail("seed files are run against the target and recorded: padctl reads them only from inside %s",
			    seed_base(p));
		fail_hint("replace the symlink with the set's directory");
		free(path);
		return fail_status(EXIT_USAGE);
	}
	*dir = path;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* seed_file checks one file of a set: a regular file inside seed_base */
static int seed_file(struct svc_step *s, const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return fail("could not read seed file \"%s\": %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return fail("seed file \"%s\" is not a regular file", path);
	if (!confine_within(path, seed_base(s->project))) {
		char real[PATH_MAX];
		fail("seed file \"%s\" leads out of the project, to \"%s\": refused", path,
		     realpath(path, real) ? real : "?");
		fail_hint("replace the symlink with the file itself");
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

static int seed_list(struct svc_step *s, const char *dir, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return fail("could not read seed set directory \"%s\": %s", dir, strerror(errno));
	struct dirent *de;
	size_t cap = 0;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		const char *nm = de->d_name;
		size_t len = strlen(nm);
		if (nm[0] == '.' || len < 5 || strcmp(nm + len - 4, ".sql") != 0 || strcmp(nm, "teardown.sql") == 0)
			continue;
		for (const char *c = nm; *c && !rc; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				char *shown = xstrprintable(nm);
				rc = fail("seed file \"%s/%s\" has a control character in its name", dir, shown);
				fail_hint("rename it");
				free(shown);
			}
		char *path = seed_join(dir, nm);
		if (!rc)
			rc = seed_file(s, path);
		free(path);
		if (rc)
			break;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = xrealloc(*names, cap * sizeof **names);
		}
		(*names)[(*n)++] = xstrdup(nm);
	}
	closedir(d);
	if (rc) {
		seed_names_free(*names, *n);
		*names = NULL;
		*n = 0;
		return -1;
	}
	if (*n)
		qsort(*names, *n, sizeof **names, name_cmp);
	return 0;
}

static int seed_hash(const char *path, char **text, char hex[HASH_SHA256_HEX_SIZE])
{
	size_t len = 0;
	if (fs_read_text_if(path, text, &len)) {
		if (!err_pending())
			fail("could not read seed file \"%s\": %s", path, strerror(ENOENT));
		return -1;
	}
	return hash_sha256_hex(*text, len, hex);
}

static int seeds_files(struct padctl_step *st, const char *set, struct padctl_rows **rows)
{
	struct svc_step *s = svc_step_of(st);
	*rows = NULL;
	char *dir = NULL, **names = NULL;
	size_t n = 0;
	if (seed_dir(s, set, &dir) || seed_list(s, dir, &names, &n)) {
		free(dir);
		return -1;
	}
	struct buf nm = BUF_INIT, shown = BUF_INIT, sums = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		char *path = seed_join(dir, names[i]), *text = NULL, hex[HASH_SHA256_HEX_SIZE];
		char *sh = seed_shown(s->project, path);
		rc = seed_hash(path, &text, hex);
		if (!rc && strchr(sh, '\n'))
			rc = fail("seed file \"%s\": its path has a line break", path);
		buf_addf(&nm, "%s%s", i ? "\n" : "", names[i]);
		buf_addf(&shown, "%s%s", i ? "\n" : "", sh);
		buf_addf(&sums, "%s%s", i ? "\n" : "", rc ? "" : hex);
		free(text);
		free(sh);
		free(path);
	}
	char *have = NULL;
	if (!rc && db_query_value(s->db, "SELECT to_regclass('padctl.seeds') IS NOT NULL", 0, NULL, &have))
		rc = -1;
	/* the last record of each file not forgotten by a teardown; read through
	 * to_jsonb so a dry run against a ledger from before forgotten_by works */
	const char *with_ledger =
		"SELECT f.name, f.shown, f.sha, (SELECT l.checksum FROM padctl.seeds l WHERE l.seed_set = $4 "
		"AND l.file = f.name AND to_jsonb(l) ->> 'forgotten_by' IS NULL ORDER BY l.applied_at DESC LIMIT 1) "
		"FROM unnest(string_to_array($1, E'\\n'), string_to_array($2, E'\\n'), string_to_array($3, E'\\n')) "
		"WITH ORDINALITY AS f(name, shown, sha, ord) ORDER BY f.ord";
	const char *without =
		"SELECT f.name, f.shown, f.sha, NULL::text FROM unnest(string_to_array($1, E'\\n'), "
		"string_to_array($2, E'\\n'), string_to_array($3, E'\\n')) WITH ORDINALITY AS f(name, shown, sha, ord) "
		"WHERE $4::text IS NOT NULL ORDER BY f.ord";
	PGresult *res = NULL;
	const char *p[] = { buf_str(&nm), buf_str(&shown), buf_str(&sums), set };
	if (!rc && db_query(s->db, have && strcmp(have, "t") == 0 ? with_ledger : without, 4, p, &res))
		rc = fail_detail("reading which files of seed set \"%s\" target \"%s\" has applied", set, s->target);
	if (!rc) {
		*rows = xmalloc(sizeof **rows);
		(*rows)->res = res;
	}
	free(have);
	buf_release(&nm);
	buf_release(&shown);
	buf_release(&sums);
	seed_names_free(names, n);
	free(dir);
	return rc;
}

static int seeds_read(struct padctl_step *st, const char *set, const char *file, const char *sha256, char **text)
{
	struct svc_step *s = svc_step_of(st);
	*text = NULL;
	char *dir = NULL, hex[HASH_SHA256_HEX_SIZE];
	if (seed_dir(s, set, &dir))
		return -1;
	int rc = 0;
	if (!file || !*file || strchr(file, '/') || file[0] == '.' || strcmp(file, "teardown.sql") == 0)
		rc = fail("step \"%s\" asked for seed file \"%s\" of set \"%s\": not a seed file name", s->plugin,
			  file ? file : "(null)", set);
	char *path = rc ? NULL : seed_join(dir, file);
	if (!rc)
		rc = seed_file(s, path) || seed_hash(path, text, hex) ? -1 : 0;
	if (!rc && (!sha256 || strcmp(sha256, hex) != 0)) {
		fail("seed file \"%s\" changed while padctl ran: its SHA-256 is %s, it was %s", path, hex,
		     sha256 ? sha256 : "(none)");
		rc = fail_hint("run again once nobody edits the seed files");
	}
	if (rc) {
		free(*text);
		*text = NULL;
	}
	free(path);
	free(dir);
	return rc;
}

static int seeds_teardown(struct padctl_step *st, const char *set, char **text, const char **origin)
{
	struct svc_step *s = svc_step_of(st);
	*text = NULL;
	*origin = NULL;
	char *dir = NULL;
	if (seed_dir(s, set, &dir))
		return -1;
	char *path = seed_join(dir, "teardown.sql");
	struct stat sb;
	int rc = 0;
	if (lstat(path, &sb) == 0) {
		rc = seed_file(s, path);
		if (!rc && read_text_file(path, text, NULL))
			rc = -1;
		if (!rc) {
			s->strs = xrealloc(s->strs, (s->nstrs + 1) * sizeof *s->strs);
			s->strs[s->nstrs++] = seed_shown(s->project, path);
			*origin = s->strs[s->nstrs - 1];
		}
	}
	free(path);
	free(dir);
	return rc;
}

static int seeds_forget(struct padctl_step *st, const char *set)
{
	struct svc_step *s = svc_step_of(st);
	if (refused_in_dry_run(s, "forget a seed set's records") || refused_cancelled(s, "forget a seed set"))
		return -1;
	char *l[2] = { db_literal(s->db, s->run_id), db_literal(s->db, set) };
	int rc = -1;
	if (l[0] && l[1]) {
		char *sql = xstrfmt("UPDATE padctl.seeds SET forgotten_by = %s, forgotten_at = clock_timestamp() "
				    "WHERE seed_set = %s AND forgotten_by IS NULL",
				    l[0], l[1]);
		rc = s->ledger_write(st, sql);
		free(sql);
	}
	PQfreemem(l[0]);
	PQfreemem(l[1]);
	if (rc)
		fail_detail("forgetting the records of seed set \"%s\" on target \"%s\"", set, s->target);
	return rc;
}

static const struct padctl_seeds_v1 seeds_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_seeds_v1),
	.files = seeds_files,
	.read = seeds_read,
	.teardown = seeds_teardown,
	.forget = seeds_forget,
};

/* ---- lint */

static int lint_protected(struct padctl_step *st, const char *file, const char *text, size_t len)
{
	struct svc_step *s = svc_step_of(st);
	if (!file || !*file || (!text && len))
		return fail("step \"%s\" asked lint to check a file without a name or text", s->plugin);
	/* lint reads a NUL-terminated text; a NUL inside would end it early, as psql would not */
	char *copy = xstrndup(text ? text : "", len);
	if (strlen(copy) != len) {
		free(copy);
		return fail("%s: contains a NUL byte: it is not SQL text", file);
	}
	struct lint_catalog cat;
	struct lint_result r;
	memset(&r, 0, sizeof r);
	int rc = lint_catalog_db(s->db, NULL, &cat);
	if (!rc)
		rc = lint_protected_sql(file, copy, len, s->project, &cat, &r);
	lint_catalog_db_release(&cat);
	free(copy);
	if (!rc && r.errors) {
		size_t shown = 0;
		for (size_t i = 0; i < r.n; i++) {
			const struct lint_finding *f = &r.v[i];
			if (f->allowed || f->severity != LINT_ERROR)
				continue;
			struct buf b = BUF_INIT;
			lint_finding_line(f, &b, 0);
			if (shown++ == 0)
				fail("%s", buf_str(&b));
			else
				fail_detail("%s", buf_str(&b));
			buf_release(&b);
		}
		fail_hint("protected schemas are read-only: seed only the owned schemas");
		rc = -1;
	}
	lint_result_release(&r);
	return rc;
}

static const struct padctl_lint_v1 lint_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_lint_v1),
	.protected_sql = lint_protected,
};

/* ---- contracts */

struct contract_sink {
	void (*finding)(void *ctx, const char *file, int line, int col, const char *text);
	void *ctx;
	const char *file; /* the contract's path relative to the root */
};

static void contract_found(void *ctx, const struct contract *c, int line, int col, const char *text)
{
	struct contract_sink *k = ctx;
	(void)c;
	k->finding(k->ctx, k->file, line, col, text);
}

static int con_check(struct padctl_step *st,
		     void (*finding)(void *ctx, const char *file, int line, int col, const char *text), void *ctx)
{
	struct svc_step *s = svc_step_of(st);
	char **paths;
	size_t n;
	if (!finding)
		return fail("step \"%s\" asked for a contracts check without a finding callback", s->plugin);
	if (contracts_list(s->contracts_dir, &paths, &n))
		return -1;
	int rc = 0;
	size_t root = strlen(s->root);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct contract c;
		if (contract_load(paths[i], &c)) {
			rc = -1;
			break;
		}
		int later = 0;
		for (size_t j = 0; s->owned_later && j < s->nowned && !later; j++)
			later = strcmp(s->owned[j], c.schema) == 0;
		if (later) {
			log_info("[%s] %s: the contract of owned schema \"%s\" is checked after the migrations (postflight)",
				 s->target, s->plugin, c.schema);
			contract_release(&c);
			continue;
		}
		struct contract_sink k = { finding, ctx, paths[i] };
		if (strncmp(paths[i], s->root, root) == 0 && paths[i][root] == '/')
			k.file = paths[i] + root + 1;
		if (contract_check(s->db, &c, contract_found, &k) < 0)
			rc = -1;
		contract_release(&c);
	}
	contracts_list_free(paths, n);
	return rc ? -1 : (int)n;
}

static const struct padctl_contracts_v1 contracts_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_contracts_v1),
	.check = con_check,
};

/* ---- drift */

static int drift_check_api(struct padctl_step *st, struct padctl_rows **rows)
{
	struct svc_step *s = svc_step_of(st);
	*rows = NULL;
	if (refused_cancelled(s, "check drift"))
		return -1;
	struct drift_result r;
	int rc = drift_check(s->project, s->target, s->db, &r);
	if (!rc) {
		PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
		static const char *const cols[] = { "change", "kind", "name", "expected", "actual" };
		PGresAttDesc att[5];
		memset(att, 0, sizeof att);
		for (int i = 0; i < 5; i++) {
			att[i].name = (char *)cols[i];
			att[i].typid = 25; /* text */
			att[i].typlen = -1;
			att[i].atttypmod = -1;
		}
		if (!res || !PQsetResultAttrs(res, 5, att))
			rc = fail("could not build the drift findings: out of memory");
		for (size_t i = 0; !rc && i < r.diff.n; i++) {
			const struct cat_change *c = &r.diff.v[i];
			const char *v[] = { cat_change_name(c->change), c->kind, c->name, c->expected, c->actual };
			for (int k = 0; k < 5 && !rc; k++)
				if (!PQsetvalue(res, (int)i, k, (char *)v[k], v[k] ? (int)strlen(v[k]) : -1))
					rc = fail("could not build the drift findings: out of memory");
		}
		if (rc) {
			PQclear(res);
		} else {
			*rows = xcalloc(1, sizeof **rows);
			(*rows)->res = res;
			char *sum = drift_summary(&r);
			log_info("[%s] %s: drift: %s", s->target, s->plugin, sum);
			free(sum);
		}
		if (s->drift_report) {
			json_decref(*s->drift_report);
			*s->drift_report = drift_json(&r);
		}
	}
	drift_result_release(&r);
	return rc;
}

static const struct padctl_drift_v1 drift_v1 = {
	.version = 1,
	.size = sizeof(struct padctl_drift_v1),
	.check = drift_check_api,
};

/* ---- lookup and the step's end */

const void *services_lookup(const char *name, uint32_t version)
{
	if (name && version == 2 && strcmp(name, "tx") == 0)
		return pipeline_tx_service_v2();
	if (!name || version != 1)
		return NULL;
	if (strcmp(name, "tools") == 0)
		return &tools_v1;
	if (strcmp(name, "artifacts") == 0)
		return &artifacts_v1;
	if (strcmp(name, "ledger") == 0)
		return &ledger_v1;
	if (strcmp(name, "seeds") == 0)
		return &seeds_v1;
	if (strcmp(name, "backups") == 0)
		return backups_service_v1();
	if (strcmp(name, "lint") == 0)
		return &lint_v1;
	if (strcmp(name, "contracts") == 0)
		return &contracts_v1;
	if (strcmp(name, "drift") == 0)
		return &drift_v1;
	if (strcmp(name, "backfill") == 0)
		return &svc_backfill_v1;
	if (strcmp(name, "tx") == 0)
		return pipeline_tx_service_v1();
	return NULL;
}

void services_step_end(struct svc_step *s)
{
	for (size_t i = 0; i < s->narts; i++) {
		struct padctl_artifact *a = s->arts[i];
		if (!a->committed && a->remote) {
			/* the path is on the SSH host: never unlink it here */
			backups_remote_discard(s, a);
		} else if (!a->committed) {
			if (a->fd >= 0)
				close(a->fd);
			unlink(a->path);
			sig_tempfile_unregister(a->path);
			log_verbose("[%s] %s: artifact %s removed: it was not committed", s->target, s->plugin,
				    a->path);
		}
		free(a->name);
		free(a->path);
		free(a->tool_version);
		free(a);
	}
	free(s->arts);
	s->arts = NULL;
	s->narts = 0;
	for (size_t i = 0; i < s->nstrs; i++)
		free(s->strs[i]);
	free(s->strs);
	s->strs = NULL;
	s->nstrs = 0;
	for (size_t i = 0; i < s->ninputs; i++)
		free(s->inputs[i]);
	free(s->inputs);
	s->inputs = NULL;
	s->ninputs = 0;
	for (size_t i = 0; i < s->nremote_inputs; i++)
		free(s->remote_inputs[i]);
	free(s->remote_inputs);
	s->remote_inputs = NULL;
	s->nremote_inputs = 0;
	remote_close(s->remote);
	s->remote = NULL;
	svc_backfill_end(s);
}

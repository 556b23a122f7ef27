#include "target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "identity.h"
#include "ledger.h"
#include "local.h"
#include "log.h"
#include "proc.h"
#include "remote.h"
#include "sig.h"
#include "trust.h"

/* ---------------------------------------------------------------- passwords */

#define PASSWORD_COMMAND_TIMEOUT_MS 30000

/* stderr of a password_command goes to padctl's stderr, as from a shell:
 * it is the command's own diagnostics; stdout (the secret) never is shown. */
static int pass_stderr(void *ctx, const void *data, size_t n)
{
	(void)ctx;
	/* a closed stderr is no reason to stop the command */
	(void)fs_write_all(STDERR_FILENO, data, n);
	return 0;
}

/* run_password_command runs the (trusted) command through /bin/sh -c: it is a
 * shell command by definition. It gets padctl's environment (it may need
 * HOME, PATH, cloud credentials) and working directory, is registered for
 * cleanup on a signal and killed after PASSWORD_COMMAND_TIMEOUT_MS. */
static int run_password_command(const char *target, const char *command, char **password)
{
	extern char **environ;
	char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
	char *cwd = getcwd(NULL, 0);
	struct buf b = BUF_INIT;
	struct proc_opts o;
	struct proc_result r;
	proc_opts_init(&o);
	o.argv = argv;
	o.envp = environ;
	o.cwd = cwd;
	o.timeout_ms = PASSWORD_COMMAND_TIMEOUT_MS;
	o.out = &b;
	o.on_err = pass_stderr;
	/* proc_run's own words name /bin/sh; the target and the limit are clearer */
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = proc_run(&o, &r);
	err_scope_pop(&scope, rc && r.timed_out ? ERR_DISCARD : ERR_PROPAGATE);
	free(cwd);
	if (rc || r.exit_code != 0) {
		buf_release(&b);
		if (rc && r.timed_out) {
			fail("the password_command of target \"%s\" did not finish within %d seconds and was stopped",
			     target, PASSWORD_COMMAND_TIMEOUT_MS / 1000);
			return fail_hint(
				"run the command by hand to see why it hangs (it gets no input: stdin is /dev/null)");
		}
		if (rc)
			return fail_detail("it is the password_command of target \"%s\"", target);
		fail("the password_command of target \"%s\" failed", target);
		fail_detail("it exited with status %d; its output is not shown because it may hold a secret",
			    r.exit_code);
		return fail_hint("run the command by hand to see why");
	}
	while (b.len && (b.s[b.len - 1] == '\n' || b.s[b.len - 1] == '\r'))
		b.s[--b.len] = '\0';
	if (!b.len) {
		buf_release(&b);
		return fail("the password_command of target \"%s\" printed nothing", target);
	}
	*password = buf_detach(&b);
	return 0;
}

int target_password(const struct cfg_target *t, char **password)
{
	*password = NULL;
	if (t->db.password_env) {
		const char *v = getenv(t->db.password_env);
		if (!v || !*v) {
			fail("environment variable \"%s\" is not set", t->db.password_env);
			fail_detail("target \"%s\" takes its password from it (password_env)", t->name);
			return fail_hint("export %s=... before running padctl, or use password_command or a pgpass file",
					 t->db.password_env);
		}
		*password = xstrdup(v);
		return 0;
	}
	if (t->db.password_command) {
		/* the command comes from a committed project file: run it only once the user trusted it */
		int trusted = t->db.trust_root ? trust_check(t->db.trust_root, t->db.password_command) : 0;
		if (trusted < 0)
			return -1;
		if (!trusted) {
			char *file = trust_file();
			fail("refusing to run the password_command of target \"%s\": it is not trusted", t->name);
			fail_detail("it comes from the project's file envs/%s.yml (line %d) and could be anyone's; "
				    "padctl runs a project's command only after you trust it, and again after it changes",
				    t->db.trust_env ? t->db.trust_env : "?", t->db.password_command_line);
			fail_detail("trusted commands are recorded in %s", file);
			fail_hint("read the command in envs/%s.yml; if it is yours, run `padctl trust %s`",
				  t->db.trust_env ? t->db.trust_env : "ENV", t->db.trust_env ? t->db.trust_env : "ENV");
			free(file);
			return fail_status(EXIT_USAGE);
		}
		return run_password_command(t->name, t->db.password_command, password);
	}
	return 0;
}

static void secure_free(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = '\0';
	free(s);
}

/* ---------------------------------------------------------------- endpoints
 *
 * An endpoint is what db_connect needs to reach a target: libpq parameters
 * and the label its errors name. Each way of reaching a target resolves into
 * one: the managed local cluster (started, and the database created with its
 * fixtures, on the way), a direct connection, and next an SSH tunnel (its
 * resolve function forwards a local port and points the parameters at it).
 * Whatever an endpoint owns is released with it; a password is wiped. */

struct endpoint {
	struct db_params params;
	char *label;
	char *password;         /* direct: from target_password */
	struct local_conn local; /* managed: owns host, user and password */
};

static void endpoint_release(struct endpoint *ep)
{
	secure_free(ep->password);
	local_conn_release(&ep->local);
	free(ep->label);
	memset(ep, 0, sizeof *ep);
}

static int resolve_managed(const struct cfg_project *p, const struct cfg_target *t, struct endpoint *ep)
{
	if (local_ensure(p, &ep->local))
		return -1;
	if (local_ensure_database(&ep->local, t->db.dbname, t->db.fixtures, t->db.nfixtures))
		return -1;
	ep->params.host = ep->local.host;
	ep->params.port = ep->local.port;
	ep->params.user = ep->local.user;
	ep->params.password = ep->local.password;
	ep->params.sslmode = "disable";
	ep->label = xstrfmt("target \"%s\" (managed local cluster, port %d, database %s)", t->name, ep->local.port,
			    t->db.dbname);
	return 0;
}

static int resolve_direct(const struct cfg_target *t, struct endpoint *ep)
{
	if (target_password(t, &ep->password))
		return -1;
	ep->params.host = t->db.host;
	ep->params.port = t->db.port;
	ep->params.user = t->db.user;
	ep->params.password = ep->password;
	ep->params.passfile = t->db.passfile;
	ep->params.sslmode = t->db.sslmode;
	ep->label = xstrfmt("target \"%s\" (%s:%d/%s)", t->name, t->db.host ? t->db.host : "localhost", t->db.port,
			    t->db.dbname);
	return 0;
}

/* resolve_ssh opens (or reuses) the target's tunnel and resolves as direct,
 * with libpq's host still the database's real name (a verify-full TLS check
 * and pgpass match it) and hostaddr/port the tunnel's local end. Without
 * tunnel: true the database is reached directly, and that only when the SSH
 * host is there to run the tools (tools: remote): an ssh section that would
 * do nothing is refused, never silently bypassed. */
static int resolve_ssh(const struct cfg_target *t, struct endpoint *ep)
{
	const struct cfg_ssh *ssh = t->ssh;
	if (!ssh->tunnel) {
		if (ssh->tools && !strcmp(ssh->tools, "remote"))
			return resolve_direct(t, ep);
		fail("target \"%s\" has an ssh section without tunnel: true or tools: remote", t->name);
		fail_detail("padctl would connect to database.host directly and never use the SSH host: refused rather "
			    "than bypass it");
		fail_hint("set ssh.tunnel: true to reach the database through the SSH host (docs/ssh.md), or remove "
			  "the ssh section");
		return fail_status(EXIT_USAGE);
	}
	const char *dbhost = t->db.host ? t->db.host : "127.0.0.1";
	int lport = 0;
	if (remote_tunnel(ssh, t->name, dbhost, t->db.port, t->db.connect_timeout, &lport))
		return -1;
	if (resolve_direct(t, ep))
		return -1;
	ep->params.hostaddr = "127.0.0.1";
	ep->params.port = lport;
	free(ep->label);
	ep->label = xstrfmt("target \"%s\" (%s:%d/%s through ssh host %s, tunnel 127.0.0.1:%d)", t->name, dbhost,
			    t->db.port, t->db.dbname, ssh->host, lport);
	return 0;
}

static int resolve(const struct cfg_project *p, const struct cfg_target *t, struct endpoint *ep)
{
	memset(ep, 0, sizeof *ep);
	ep->params.dbname = t->db.dbname;
	ep->params.connect_timeout = t->db.connect_timeout;
	if (t->ssh)
		return resolve_ssh(t, ep);
	if (t->db.managed)
		return resolve_managed(p, t, ep);
	return resolve_direct(t, ep);
}

int target_connect(const struct cfg_project *p, const struct cfg_target *t, const char *command,
		   const char *run_id, int read_only, struct db **out)
{
	struct endpoint ep;
	*out = NULL;
	int rc = resolve(p, t, &ep);
	if (!rc) {
		char *app = run_id ? ledger_app_name(command, run_id) : xstrfmt("padctl %s", command);
		ep.params.application_name = app;
		ep.params.read_only = read_only;
		rc = db_connect(&ep.params, ep.label, out);
		free(app);
	}
	endpoint_release(&ep);
	return rc;
}

int target_connect_start(const struct cfg_project *p, const struct cfg_target *t, const char *command,
			 int read_only, struct db_pending **pending, struct db **db)
{
	struct endpoint ep;
	*pending = NULL;
	*db = NULL;
	int rc = resolve(p, t, &ep);
	if (!rc) {
		char *app = xstrfmt("padctl %s", command);
		ep.params.application_name = app;
		ep.params.read_only = read_only;
		/* libpq copies the parameters: the endpoint (its password too) goes now */
		if (db_connect_start(&ep.params, ep.label, pending))
			rc = db_connect(&ep.params, ep.label, db);
		free(app);
	}
	endpoint_release(&ep);
	return rc;
}

/* ---------------------------------------------------------------- opening */

/* before_write is the last safe point before a write: a signal during the
 * reading before it stops the command here. From here the command writes: a
 * signal stops it at the next safe point (the lock wait, the engine between
 * migrations) so it can say what it did not record; reading commands die of
 * the first signal at once. */
static int before_write(const char *command, const struct cfg_target *t)
{
	if (sig_cancelled()) {
		fail("%s: %s stopped before it wrote to target \"%s\"", sig_cancelled_name(), command, t->name);
		return fail_detail("nothing was changed");
	}
	sig_safe_points(1);
	return 0;
}

/* locked takes the ledger lock on db and checks the identity after it: the
 * pin is read and written while no other padctl run can be between its own
 * check and its first write; then the ledger is brought up to date */
static int locked(const struct cfg_project *p, const char *env, const struct cfg_target *t, long lock_ms,
		  struct db *db)
{
	int rc = ledger_lock(db, t->name, lock_ms);
	if (!rc)
		rc = identity_check(p, env, t, db, 1);
	if (!rc)
		rc = ledger_ensure(db);
	if (!rc)
		rc = ledger_close_interrupted(db, t->name);
	return rc;
}

int target_open_write(const struct cfg_project *p, const char *env, const struct cfg_target *t,
		      const char *command, const char *run_id, long lock_ms, struct db **out)
{
	struct db *db = NULL;
	*out = NULL;
	if (before_write(command, t))
		return -1;
	if (target_connect(p, t, command, run_id, 0, &db))
		return -1;
	if (locked(p, env, t, lock_ms, db)) {
		db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

int target_may_write_unlocked(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			      const char *command, const char *sysid, const char *dbname)
{
	if (before_write(command, t))
		return -1;
	return identity_pinned(p, env, t, sysid, dbname);
}

int target_promote_write(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			 const char *command, const char *run_id, long lock_ms, struct db *db)
{
	if (before_write(command, t))
		return -1;
	char *app = ledger_app_name(command, run_id);
	int rc = db_promote_write(db, app);
	free(app);
	return rc ? -1 : locked(p, env, t, lock_ms, db);
}

int target_open_read(const struct cfg_project *p, const char *env, const struct cfg_target *t,
		     const char *command, const char *run_id, struct db **out)
{
	struct db *db = NULL;
	*out = NULL;
	if (target_connect(p, t, command, run_id, 1, &db))
		return -1;
	if (identity_check(p, env, t, db, 0) || ledger_check(db)) {
		db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "db.h"
#include "local.h"
#include "log.h"
#include "plugin.h"
#include "remote.h"
#include "target.h"

struct doctor {
	int problems;
};

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ok(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ok       ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

/* problem prints what is wrong and its fix, and counts it */
static void problem(struct doctor *d, const char *fix, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(struct doctor *d, const char *fix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("PROBLEM  ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (fix)
		printf("         fix: %s\n", fix);
	d->problems++;
}

/* Each check runs in an error scope of its own (err_scope_push, then
 * check_end), so one failed check neither hides nor blocks the next: the
 * failure becomes one PROBLEM line and is not passed on to the command's
 * error. check_end reports the check's error when rc says it failed and
 * closes s; an error recorded by a check that still returned 0 is passed on,
 * as before scopes, and main() prints it. */
static void check_end(struct doctor *d, struct err_scope *s, int rc, const char *what)
{
	if (rc) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "%s: %s", what, err_message() ? err_message() : "failed");
		if (err_detail())
			buf_addf(&b, "\n         %s", err_detail());
		problem(d, err_hint(), "%s", buf_str(&b));
		buf_release(&b);
	}
	err_scope_pop(s, rc ? ERR_DISCARD : ERR_PROPAGATE);
}

static void check_tools(struct doctor *d)
{
	char *bindir = NULL;
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = local_bindir(&bindir);
	check_end(d, &scope, rc, "PostgreSQL server tools");
	if (rc)
		return;
	static const char *const tools[] = { "initdb", "pg_ctl", "pg_dump", "pg_restore", "psql" };
	for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
		char *path = xstrfmt("%s/%s", bindir, tools[i]);
		if (access(path, X_OK) == 0)
			ok("%s (%s)", tools[i], path);
		else
			problem(d, "apt-get install postgresql postgresql-client", "%s not found in %s", tools[i], bindir);
		free(path);
	}
	free(bindir);
}

static void check_plugins(struct doctor *d)
{
	struct plugin_registry reg;
	memset(&reg, 0, sizeof reg);
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = plugin_registry_load(&reg);
	check_end(d, &scope, rc, "plugins");
	if (rc) {
		plugin_registry_release(&reg);
		return;
	}
	for (size_t i = 0; i < reg.nplugins; i++)
		ok("plugin %s %s (%s)", reg.plugins[i].desc->name,
		   reg.plugins[i].desc->version ? reg.plugins[i].desc->version : "(no version)", reg.plugins[i].path);
	for (size_t i = 0; i < reg.nrefused; i++)
		problem(d, "rebuild or remove the file", "plugin %s refused: %s", reg.refused[i].path,
			reg.refused[i].reason);
	if (!reg.nplugins)
		problem(d, "build padctl (cmake --build build) or set PADCTL_PLUGIN_PATH", "no plugins found");
	plugin_registry_release(&reg);
}

/* check_ssh checks, in order, what a run through an SSH host needs: the host
 * answers, its key is the one known_hosts trusts, padctl can log in, and the
 * host can open the tunnel to the database. Each failure is one PROBLEM with
 * its fix; returns 0 when all passed (the database is checked next). */
static int check_ssh(struct doctor *d, const char *what, const struct cfg_target *t)
{
	static const char *const stage_names[] = { "reachable", "host key", "authentication", "ready" };
	struct err_scope scope;
	struct remote *r = NULL;
	enum remote_stage stage = REMOTE_STAGE_CONNECT;
	err_scope_push(&scope);
	int rc = remote_open(t->ssh, t->name, t->db.connect_timeout, &r, &stage);
	for (int i = REMOTE_STAGE_CONNECT; i < (int)stage; i++) {
		if (i == REMOTE_STAGE_CONNECT)
			ok("%s: ssh host %s port %d answers", what, t->ssh->host, t->ssh->port);
		else if (i == REMOTE_STAGE_HOSTKEY)
			ok("%s: ssh host key %s is trusted by %s", what, r ? remote_hostkey_fingerprint(r) : "",
			   t->ssh->known_hosts);
		else if (i == REMOTE_STAGE_AUTH)
			ok("%s: ssh login as %s (%s)", what, r ? r->user : "?",
			   t->ssh->identity ? t->ssh->identity : "ssh agent");
	}
	char *check = xstrfmt("%s: ssh %s", what, stage_names[stage]);
	check_end(d, &scope, rc, check);
	free(check);
	remote_close(r);
	if (rc)
		return -1;
	if (!t->ssh->tunnel) {
		ok("%s: no ssh tunnel (tunnel: false): the database is reached directly", what);
		return 0;
	}
	int port = 0;
	err_scope_push(&scope);
	rc = remote_tunnel(t->ssh, t->name, t->db.host ? t->db.host : "127.0.0.1", t->db.port, t->db.connect_timeout,
			   &port);
	check = xstrfmt("%s: ssh tunnel", what);
	check_end(d, &scope, rc, check);
	free(check);
	if (!rc)
		ok("%s: ssh tunnel 127.0.0.1:%d -> %s:%d as the ssh host sees it", what, port,
		   t->db.host ? t->db.host : "127.0.0.1", t->db.port);
	return rc;
}

/* check_kept_dir checks, without changing anything, that backups can be
 * kept in ssh.backups_dir on the SSH host: a real directory not every user
 * may write to (or none yet: the first backup makes it), and sha256sum */
static void check_kept_dir(struct doctor *d, const char *what, const struct cfg_target *t, struct remote *r)
{
	struct err_scope one;
	err_scope_push(&one);
	const char *dir = t->ssh->backups_dir;
	char *shown = xstrprintable(dir);
	struct remote_stat st;
	int rc = remote_lstat(r, dir, &st);
	if (!rc && st.exists && !st.dir) {
		rc = fail("ssh.backups_dir \"%s\" on the ssh host is not a directory (a symbolic link or a file is in "
			  "its place)",
			  shown);
		fail_hint("remove it on the SSH host, or point ssh.backups_dir at a directory");
	} else if (!rc && st.exists && (st.perm & 002)) {
		rc = fail("ssh.backups_dir \"%s\" on the ssh host is writable by every user there", shown);
		fail_hint("chmod o-w \"%s\" on the SSH host, or point ssh.backups_dir at a private directory", shown);
	}
	const char *const argv[] = { "sha256sum", "--version", NULL };
	struct remote_exec_opts o = { argv, 30000, NULL, NULL, NULL, NULL, "sha256sum" };
	struct remote_exec_result res;
	if (!rc && (remote_exec(r, &o, &res) || res.exit_code != 0)) {
		rc = fail("sha256sum does not run on the ssh host: padctl hashes kept backups there with it");
		fail_hint("install coreutils on the SSH host");
	}
	char *check = xstrfmt("%s: ssh.backups_dir on the ssh host", what);
	check_end(d, &one, rc, check);
	if (!rc)
		ok("%s: backups kept on the ssh host in %s%s", what, shown,
		   st.exists ? "" : " (it does not exist yet: the first backup makes it, mode 0700)");
	free(check);
	free(shown);
}

/* check_remote_tools checks that the SSH host has the client tools of the
 * server's major version, for a target with tools: remote */
static void check_remote_tools(struct doctor *d, const char *what, const struct cfg_target *t, struct db *db)
{
	static const char *const tools[] = { "pg_dump", "pg_restore", "psql" };
	int major = PQserverVersion(db->conn) / 10000;
	struct err_scope scope;
	struct remote *r = NULL;
	enum remote_stage stage;
	err_scope_push(&scope);
	int rc = remote_open(t->ssh, t->name, t->db.connect_timeout, &r, &stage);
	for (size_t i = 0; i < sizeof tools / sizeof tools[0] && !rc; i++) {
		char *version = NULL;
		struct err_scope one;
		err_scope_push(&one);
		int trc = remote_tool_check(r, tools[i], major, &version);
		char *check = xstrfmt("%s: %s on the ssh host (tools: remote)", what, tools[i]);
		check_end(d, &one, trc, check);
		if (!trc)
			ok("%s: %s on the ssh host: %s", what, tools[i], version);
		free(check);
		free(version);
	}
	if (!rc && t->ssh->backups_dir)
		check_kept_dir(d, what, t, r);
	char *check = xstrfmt("%s: ssh host for the tools", what);
	check_end(d, &scope, rc, check);
	free(check);
	remote_close(r);
}

static void check_env(struct doctor *d, const struct cfg_project *p, const char *name, int connect)
{
	struct cfg_env env;
	struct cfg_pipeline pl;
	memset(&env, 0, sizeof env);
	memset(&pl, 0, sizeof pl);
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = config_load_env(p, name, &env);
	check_end(d, &scope, rc, "env file");
	if (rc)
		return;
	ok("env %s parses (%s)", name, env.file);
	err_scope_push(&scope);
	rc = config_load_pipeline(p, env.pipeline, &env, &pl);
	check_end(d, &scope, rc, "pipeline");
	if (!rc)
		ok("pipeline %s parses (%s)", pl.name, pl.file);
	for (size_t i = 0; connect && i < env.ntargets; i++) {
		const struct cfg_target *t = &env.targets[i];
		struct db *db = NULL;
		char *what = xstrfmt("target %s/%s", name, t->name);
		if (t->ssh && check_ssh(d, what, t)) {
			/* the problem is named; the database behind it cannot be checked */
		} else {
			/* one scope per target: an unreachable target is reported and the next one is still checked */
			char *v = NULL;
			err_scope_push(&scope);
			rc = target_connect(p, t, "doctor", NULL, 1, &db) ||
			     db_query_value(db, "SELECT current_setting('server_version')", 0, NULL, &v);
			check_end(d, &scope, rc, what);
			if (!rc)
				ok("%s answers (PostgreSQL %s)", what, v);
			if (!rc && t->ssh && t->ssh->tools && !strcmp(t->ssh->tools, "remote"))
				check_remote_tools(d, what, t, db);
			free(v);
		}
		db_close(db);
		free(what);
	}
	config_pipeline_release(&pl);
	config_env_release(&env);
}

int cmd_doctor(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, NULL, pos, 0, 1, &npos, "[ENV]"))
		return -1;
	struct doctor d = { 0 };
	check_tools(&d);
	check_plugins(&d);
	const struct cfg_project *p;
	struct err_scope scope;
	err_scope_push(&scope);
	int rc = cmd_project(ctx, &p);
	check_end(&d, &scope, rc, "project");
	if (!rc) {
		ok("project %s (%s)", p->name, p->file);
		char **names = NULL;
		size_t n = 0;
		err_scope_push(&scope);
		rc = config_list_envs(p, &names, &n);
		check_end(&d, &scope, rc, "envs");
		for (size_t i = 0; i < n; i++) {
			if (!npos || strcmp(pos[0], names[i]) == 0)
				check_env(&d, p, names[i], npos == 1);
			free(names[i]);
		}
		free(names);
		if (!npos)
			printf("(run `padctl doctor ENV` to check that the env's targets answer)\n");
	}
	if (d.problems) {
		fail("doctor found %d problem%s", d.problems, d.problems == 1 ? "" : "s");
		return fail_hint("each PROBLEM line above says how to fix it");
	}
	printf("no problems found\n");
	return 0;
}

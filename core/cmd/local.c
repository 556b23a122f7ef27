#include "buf.h"
#include "cmd.h"
#include "fs.h"
#include "local.h"
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct local_sub {
	const char *name;
	int (*fn)(struct cmd_ctx *ctx, const struct cfg_project *p);
	const char *summary;
};

/* cluster_data_dir mirrors local.c's layout rule: .padctl/pg/location names
 * the base directory when the cluster had to move out of the project. */
static char *cluster_data_dir(const struct cfg_project *p)
{
	char *locfile = xstrfmt("%s/.padctl/pg/location", p->root);
	char *text = NULL;
	/* regular files only: a FIFO planted there must not hang status. A file
	 * that cannot be read means the default place: its error is not the
	 * command's, so it is read in a scope that is dropped. */
	struct err_scope scope;
	err_scope_push(&scope);
	int r = fs_read_file(locfile, 4096, &text, NULL);
	err_scope_pop(&scope, ERR_DISCARD);
	free(locfile);
	char *res = NULL;
	if (r == 0) {
		text[strcspn(text, "\r\n")] = '\0';
		if (*text)
			res = xstrfmt("%s/data", text);
	}
	free(text);
	return res ? res : xstrfmt("%s/.padctl/pg/data", p->root);
}

static char *conn_string(int port)
{
	return xstrfmt("postgresql://padctl@127.0.0.1:%d/postgres", port);
}

static int print_json(json_t *obj)
{
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (!text)
		return fail("could not format the JSON output");
	puts(text);
	free(text);
	return 0;
}

static int report(struct cmd_ctx *ctx, const struct cfg_project *p, const char *action)
{
	int exists = 0, running = 0, port = 0;
	if (local_status(p, &exists, &running, &port))
		return -1;
	char *data = cluster_data_dir(p);
	char *pwfile = xstrfmt("%s/.padctl/pg/password", p->root);
	char *conn = running ? conn_string(port) : NULL;
	int rc = 0;
	if (ctx->json) {
		json_t *o = json_object();
		if (action)
			json_object_set_new(o, "action", json_string(action));
		json_object_set_new(o, "data_dir", json_string(data));
		json_object_set_new(o, "exists", json_boolean(exists));
		json_object_set_new(o, "running", json_boolean(running));
		json_object_set_new(o, "host", json_string("127.0.0.1"));
		json_object_set_new(o, "port", running ? json_integer(port) : json_null());
		json_object_set_new(o, "user", json_string("padctl"));
		json_object_set_new(o, "password_file", json_string(pwfile));
		json_object_set_new(o, "connection", conn ? json_string(conn) : json_null());
		rc = print_json(o);
	} else {
		printf("data dir:   %s%s\n", data, exists ? "" : " (not created yet)");
		if (running)
			printf("status:     running on 127.0.0.1:%d\n", port);
		else
			printf("status:     %s\n", exists ? "stopped" : "not created (padctl local start creates it)");
		if (conn) {
			printf("connection: %s\n", conn);
			printf("password:   in %s\n", pwfile);
		}
	}
	free(conn);
	free(pwfile);
	free(data);
	return rc;
}

static int sub_start(struct cmd_ctx *ctx, const struct cfg_project *p)
{
	struct local_conn c;
	if (local_ensure(p, &c))
		return -1;
	local_conn_release(&c);
	return report(ctx, p, "start");
}

static int sub_stop(struct cmd_ctx *ctx, const struct cfg_project *p)
{
	int exists = 0, running = 0, port = 0;
	if (local_status(p, &exists, &running, &port))
		return -1;
	if (!running && !ctx->json)
		log_info("the local cluster is not running");
	if (running && local_stop(p))
		return -1;
	return report(ctx, p, "stop");
}

static int sub_status(struct cmd_ctx *ctx, const struct cfg_project *p)
{
	return report(ctx, p, NULL);
}

static const struct local_sub subs[] = {
	{ "start", sub_start, "create the cluster if needed and start it" },
	{ "stop", sub_stop, "stop the cluster (fast shutdown)" },
	{ "status", sub_status, "data dir, port, whether it runs, connection string" },
};

#define NSUBS (sizeof subs / sizeof subs[0])

static void sub_names(struct buf *b, const char *sep)
{
	for (size_t i = 0; i < NSUBS; i++)
		buf_addf(b, "%s%s", i ? sep : "", subs[i].name);
}

int cmd_local(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_opt opts[] = { { NULL, 0, NULL, NULL } };
	struct buf usage = BUF_INIT;
	const char *pos[1];
	int npos = 0;
	sub_names(&usage, "|");
	int rc = cmd_parse(argc, argv, opts, pos, 1, 1, &npos, buf_str(&usage));
	buf_release(&usage);
	if (rc)
		return -1;
	const struct local_sub *sub = NULL;
	for (size_t i = 0; i < NSUBS; i++)
		if (strcmp(subs[i].name, pos[0]) == 0)
			sub = &subs[i];
	if (!sub) {
		struct buf names = BUF_INIT;
		sub_names(&names, ", ");
		fail("unknown subcommand \"%s\" for \"local\"", pos[0]);
		fail_detail("valid subcommands: %s", buf_str(&names));
		for (size_t i = 0; i < NSUBS; i++)
			fail_detail("  padctl local %-7s %s", subs[i].name, subs[i].summary);
		fail_hint("run \"padctl local status\" to see the cluster");
		buf_release(&names);
		return fail_status(EXIT_USAGE);
	}
	const struct cfg_project *p;
	if (cmd_project(ctx, &p))
		return -1;
	return sub->fn(ctx, p);
}

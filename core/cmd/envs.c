#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"

static char *where(const struct cfg_target *t)
{
	struct buf b = BUF_INIT;
	if (t->db.managed)
		buf_addf(&b, "managed local cluster, database %s", t->db.dbname);
	else
		buf_addf(&b, "%s:%d/%s as %s", t->db.host ? t->db.host : "localhost", t->db.port, t->db.dbname,
			 t->db.user ? t->db.user : "(default user)");
	if (t->ssh)
		buf_addf(&b, " via ssh %s%s%s", t->ssh->user ? t->ssh->user : "", t->ssh->user ? "@" : "", t->ssh->host);
	return buf_detach(&b);
}

int cmd_envs(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, NULL, pos, 0, 0, &npos, ""))
		return -1;
	const struct cfg_project *p;
	if (cmd_project(ctx, &p))
		return -1;
	char **names = NULL;
	size_t n = 0;
	if (config_list_envs(p, &names, &n))
		return -1;
	int rc = 0;
	json_t *arr = json_array();
	if (!ctx->json)
		printf("project %s (%s)\n", p->name, p->root);
	for (size_t i = 0; i < n; i++) {
		struct cfg_env env;
		memset(&env, 0, sizeof env);
		if (config_load_env(p, names[i], &env)) {
			rc = -1;
			break;
		}
		json_t *targets = json_array();
		if (!ctx->json)
			printf("%-8s tier %-7s pipeline %-10s %zu target%s\n", env.name, env.tier, env.pipeline,
			       env.ntargets, env.ntargets == 1 ? "" : "s");
		for (size_t k = 0; k < env.ntargets; k++) {
			char *w = where(&env.targets[k]);
			if (!ctx->json)
				printf("  %-14s %s\n", env.targets[k].name, w);
			json_array_append_new(targets, json_pack("{s:s, s:b, s:s}", "name", env.targets[k].name,
								 "managed", env.targets[k].db.managed, "where", w));
			free(w);
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o}", "name", env.name, "tier", env.tier,
						     "pipeline", env.pipeline, "targets", targets));
		config_env_release(&env);
	}
	if (!rc && ctx->json) {
		json_t *doc = json_pack("{s:s, s:s, s:O}", "project", p->name, "root", p->root, "envs", arr);
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
		json_decref(doc);
	}
	json_decref(arr);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* padctl validate ENV: the env pipeline's preflight validate steps alone,
 * through the engine as a dry run (read-only, nothing recorded), on every
 * target even after one failed. Whatever the validate plugin checks in
 * preflight (connectivity, privileges, contracts, lint, drift) runs here
 * without a line of its own in this file. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "pipeline.h"
#include "plugin.h"

static void print_text(const struct run_report *rep)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < rep->n; i++) {
		const struct run_report_target *t = &rep->v[i];
		buf_addf(&b, "target %s: ", t->target);
		if (!t->ran) {
			buf_adds(&b, "not checked\n");
			continue;
		}
		buf_adds(&b, t->ok ? "ok\n" : "FAILED\n");
		for (const char *line = t->error; line && *line;) {
			const char *nl = strchr(line, '\n');
			char *one = xstrndup(line, nl ? (size_t)(nl - line) : strlen(line));
			buf_adds(&b, "  ");
			buf_add_printable(&b, one);
			buf_addch(&b, '\n');
			free(one);
			line = nl ? nl + 1 : NULL;
		}
	}
	fputs(buf_str(&b), stdout);
	buf_release(&b);
}

static void print_json(const char *env, const struct run_report *rep, int ok)
{
	json_t *out = json_object(), *arr = json_array();
	json_object_set_new(out, "env", json_string(env));
	json_object_set_new(out, "ok", json_boolean(ok));
	for (size_t i = 0; i < rep->n; i++) {
		const struct run_report_target *t = &rep->v[i];
		json_t *o = json_object();
		json_object_set_new(o, "target", json_string(t->target));
		json_object_set_new(o, "checked", json_boolean(t->ran));
		json_object_set_new(o, "ok", json_boolean(t->ran && t->ok));
		/* jansson refuses text that is not UTF-8: then the printable form */
		json_t *err = t->error ? json_string(t->error) : json_null();
		if (!err) {
			char *p = xstrprintable(t->error);
			err = json_string(p);
			free(p);
		}
		json_object_set_new(o, "error", err ? err : json_null());
		json_object_set_new(o, "drift", t->drift ? json_incref(t->drift) : json_null());
		json_array_append_new(arr, o);
	}
	json_object_set_new(out, "targets", arr);
	char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(s);
	free(s);
	json_decref(out);
}

int cmd_validate(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *target = NULL;
	int json = 0;
	/* --json here too, as the issue writes it (and as backups takes it) */
	const struct cmd_opt opts[] = { { "target", 1, NULL, &target },
					{ "json", 0, &json, NULL },
					{ NULL, 0, NULL, NULL } };
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 1, 1, &npos, "ENV [--target T] [--json]"))
		return -1;
	ctx->json |= json;
	struct run_report rep = { NULL, 0 };
	struct run_opts o = { .command = "validate",
			      .dry_run = 1,
			      .only_target = target,
			      .lock_timeout_ms = 10000,
			      .only_kind = PADCTL_KIND_VALIDATE,
			      .only_phase = "preflight",
			      .keep_going = 1,
			      .report = &rep };
	const struct cfg_project *p;
	struct cfg_env env;
	struct cfg_pipeline pl;
	if (cmd_env(ctx, pos[0], &p, &env, &pl))
		return -1;
	struct plugin_registry reg;
	memset(&reg, 0, sizeof reg);
	int rc = plugin_registry_load(&reg);
	for (size_t i = 0; !rc && i < reg.nrefused; i++)
		log_warn("plugin \"%s\" was refused: %s", reg.refused[i].path, reg.refused[i].reason);
	if (!rc)
		rc = pipeline_run(p, &env, &pl, &reg, &o);
	/* a failure before any target (configuration, no validate step) is the error alone */
	if (rep.n && (rep.v[0].ran || !rc)) {
		if (ctx->json)
			print_json(env.name, &rep, !rc);
		else
			print_text(&rep);
	}
	run_report_release(&rep);
	plugin_registry_release(&reg);
	cmd_env_release(&env, &pl);
	return rc;
}

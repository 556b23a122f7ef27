/* good_one: a valid validate plugin; the loader and fake-host tests run it. */
#include <padctl/plugin.h>

#include <stdlib.h>
#include <string.h>

struct state {
	int runs;
};

static const struct padctl_option options[] = {
	{ "greeting", PADCTL_OPT_STRING, 0, "word to log before the target" },
	{ "fail", PADCTL_OPT_BOOL, 0, "fail the step on purpose" },
	{ NULL, 0, 0, NULL },
};

static const char *const phases[] = { "preflight", "postflight", NULL };

static int good_open(const struct padctl_host *host, struct padctl_step *st, void **state)
{
	struct state *s = calloc(1, sizeof *s);
	if (!s)
		return host->fail(st, NULL, "out of memory");
	*state = s;
	host->log(st, PADCTL_LOG_DEBUG, "opened");
	return 0;
}

static int good_check(const struct padctl_host *host, struct padctl_step *st, void *state)
{
	(void)state;
	host->log(st, PADCTL_LOG_INFO, "check of \"%s\"", host->target(st));
	return 0;
}

static int good_run(const struct padctl_host *host, struct padctl_step *st, void *state)
{
	struct state *s = state;
	const char *greeting = host->option(st, "greeting");
	const char *fail = host->option(st, "fail");
	const char *phase = host->phase(st);
	s->runs++;
	host->log(st, PADCTL_LOG_INFO, "%s target \"%s\" of env \"%s\" in project \"%s\" (phase %s, run %s%s)",
		  greeting ? greeting : "hello", host->target(st), host->env(st),
		  host->config(st, "project") ? host->config(st, "project") : "?",
		  phase ? phase : "none", host->run_id(st), host->dry_run(st) ? ", dry run" : "");
	host->progress(st, 1, 1, "checks");
	if (fail && strcmp(fail, "yes") == 0)
		return host->fail(st, "set fail: no", "good_one failed on purpose on \"%s\"", host->target(st));
	return 0;
}

static void good_close(const struct padctl_host *host, struct padctl_step *st, void *state)
{
	struct state *s = state;
	host->log(st, PADCTL_LOG_DEBUG, "closed after %d run(s)", s->runs);
	free(s);
}

static const struct padctl_plugin desc = {
	.abi = PADCTL_PLUGIN_ABI,
	.size = sizeof(struct padctl_plugin),
	.name = "good_one",
	.version = "1.2.3",
	.kind = PADCTL_KIND_VALIDATE,
	.summary = "a valid test plugin",
	.options = options,
	.phases = phases,
	.open = good_open,
	.check = good_check,
	.run = good_run,
	.close = good_close,
};

PADCTL_EXPORT const struct padctl_plugin *padctl_plugin_entry(void)
{
	return &desc;
}

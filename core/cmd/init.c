#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "name.h"

#define PROJECT_YML \
	"# padctl project settings (docs/config.md)\n" \
	"project: %s\n" \
	"schemas:\n" \
	"  owned: [%s]        # migrations may change only these\n" \
	"  protected: []      # read-only schemas: any change is refused\n"

struct scaffold {
	const char *path;
	const char *text;   /* NULL: a directory */
};

static const struct scaffold files[] = {
	{ "envs", NULL },
	{ "pipelines", NULL },
	{ "migrations", NULL },
	{ "seeds", NULL },
	{ "contracts", NULL },
	{ "padctl.yml", "" },
	{ "envs/local.yml",
	  "# the local env: padctl runs a private PostgreSQL under .padctl/ for it\n"
	  "tier: nonprod\n"
	  "pipeline: standard\n"
	  "targets:\n"
	  "  local:\n"
	  "    database:\n"
	  "      managed: true\n" },
	{ "pipelines/standard.yml",
	  "steps:\n"
	  "  - validate: preflight\n"
	  "  - backup\n"
	  "  - migrate\n"
	  "  - validate: postflight\n"
	  "  - seed\n"
	  "on_failure: rollback\n" },
	{ ".gitignore", ".padctl/\nknown_targets.lock\n" },
};

int cmd_init(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *name = NULL;
	const struct cmd_opt opts[] = { { "name", 1, NULL, &name }, { NULL, 0, NULL, NULL } };
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, opts, pos, 0, 0, &npos, "[--name PROJECT]"))
		return -1;
	char cwd[PATH_MAX];
	const char *dir = ctx->dir_opt;
	if (!dir) {
		if (!getcwd(cwd, sizeof cwd))
			return fail("cannot read the current directory: %s", strerror(errno));
		dir = cwd;
	}
	char *base = NULL;
	if (!name) {
		const char *slash = strrchr(dir, '/');
		base = xstrdup(slash && slash[1] ? slash + 1 : dir);
		for (char *c = base; *c; c++)
			*c = (*c == '-' || *c == '.' || *c == ' ') ? '_' : (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c);
		name = base;
	}
	if (!name_valid(NAME_PROJECT, name)) {
		fail("\"%s\" is not a usable project name", name);
		fail_hint("pass one with --name (lowercase letters, digits, underscores); it also names the owned schema");
		free(base);
		return fail_status(EXIT_USAGE);
	}
	char *cfg = xstrfmt("%s/padctl.yml", dir);
	int rc = 0;
	if (access(cfg, F_OK) == 0) {
		fail("\"%s\" exists already", cfg);
		fail_hint("this directory is a padctl project; nothing was changed");
		rc = fail_status(EXIT_USAGE);
	}
	free(cfg);
	mkdir(dir, 0755);
	for (size_t i = 0; !rc && i < sizeof files / sizeof files[0]; i++) {
		char *path = xstrfmt("%s/%s", dir, files[i].path);
		if (!files[i].text) {
			if (mkdir(path, 0755) != 0 && errno != EEXIST)
				rc = fail("cannot create \"%s\": %s", path, strerror(errno));
		} else if (access(path, F_OK) != 0) {
			struct buf b = BUF_INIT;
			if (strcmp(files[i].path, "padctl.yml") == 0)
				buf_addf(&b, PROJECT_YML, name, name);
			else
				buf_adds(&b, files[i].text);
			FILE *f = fopen(path, "w");
			if (!f || fputs(buf_str(&b), f) < 0)
				rc = fail("cannot write \"%s\": %s", path, strerror(errno));
			if (f && fclose(f) != 0 && !rc)
				rc = fail("cannot write \"%s\": %s", path, strerror(errno));
			buf_release(&b);
		}
		free(path);
	}
	if (!rc)
		printf("created padctl project \"%s\" in %s\nnext: padctl new create_first_table, then padctl deploy local\n",
		       name, dir);
	free(base);
	return rc;
}

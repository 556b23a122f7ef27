#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "name.h"
#include "migrations.h"

static int write_new(const char *path, const char *text)
{
	FILE *f = fopen(path, "wx");
	if (!f)
		return fail("cannot create \"%s\": %s", path, strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0)
		return fail("cannot write \"%s\": %s", path, strerror(errno));
	return 0;
}

/* version_next returns the decimal string one past v (digits only), as wide
 * as v unless every digit was 9 ("0009" -> "0010", "99" -> "100"). */
static char *version_next(const char *v)
{
	size_t n = strlen(v);
	char *out = xmalloc(n + 2);
	memcpy(out + 1, v, n + 1);
	out[0] = '0';
	size_t i = n + 1;
	while (i-- > 0) {
		if (out[i] != '9') {
			out[i]++;
			break;
		}
		out[i] = '0';
	}
	if (out[0] == '0')
		memmove(out, out + 1, n + 1);
	return out;
}

int cmd_new(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	int npos;
	if (cmd_parse(argc, argv, NULL, pos, 1, 1, &npos, "NAME"))
		return -1;
	if (!name_valid(NAME_MIGRATION, pos[0])) {
		fail("invalid migration name \"%s\"", pos[0]);
		fail_hint("use lowercase letters, digits and underscores, e.g. add_pad_breach_index");
		return fail_status(EXIT_USAGE);
	}
	const struct cfg_project *p;
	if (cmd_project(ctx, &p))
		return -1;
	struct migration_set set;
	if (migrations_load_names(p->migrations_dir, &set))
		return -1;
	/* next version: one past the newest, padded like the existing ones (4 digits to start);
	 * counted in decimal text, so a version of any length cannot overflow */
	char *next = xstrdup("0001");
	if (set.n) {
		free(next);
		next = version_next(set.v[set.n - 1].version);
	}
	migrations_release(&set);
	mkdir(p->migrations_dir, 0755);
	char *dir = xstrfmt("%s/%s_%s", p->migrations_dir, next, pos[0]);
	free(next);
	int rc = 0;
	if (mkdir(dir, 0755) != 0) {
		rc = fail("cannot create \"%s\": %s", dir, strerror(errno));
	} else {
		char *up = xstrfmt("%s/up.sql", dir), *down = xstrfmt("%s/down.sql", dir),
		     *verify = xstrfmt("%s/verify.sql", dir);
		rc = write_new(up, "-- up: the change. It runs in one transaction with its history row.\n"
				   "-- Put statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY)\n"
				   "-- into a migration of their own with meta.yml `transactional: false`.\n");
		if (!rc)
			rc = write_new(down, "-- down: undoes exactly what up.sql did.\n");
		if (!rc)
			rc = write_new(verify, "-- verify: one query returning true when up.sql's effect is there.\n"
					       "SELECT true AS ok;\n");
		if (!rc) {
			char *shown = xstrprintable(dir);
			printf("%s\n", shown);
			free(shown);
		}
		free(up);
		free(down);
		free(verify);
	}
	free(dir);
	return rc;
}

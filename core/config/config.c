#include "config.h"
#include "yamlwalk.h"
#include "backfill.h"
#include "fs.h"
#include "migrations.h"
#include "buf.h"
#include "log.h"
#include "name.h"

#include <ctype.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* ---------------------------------------------------------------- strings */

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* every name of the configuration is a NAME_WORD, a schema's a NAME_IDENT (name.h) */
static int name_ok(const char *s, int allow_dash)
{
	return name_valid(allow_dash ? NAME_WORD : NAME_IDENT, s);
}

/* ident_ok accepts an unquoted SQL identifier (what a schema name must be). */
static int ident_ok(const char *s)
{
	return name_valid(NAME_IDENT, s);
}

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a);
	return xstrfmt("%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

char *config_expand_home(const char *path)
{
	if (!path)
		return NULL;
	if (path[0] != '~')
		return xstrdup(path);
	const char *slash = strchr(path, '/');
	size_t ulen = slash ? (size_t)(slash - path - 1) : strlen(path + 1);
	const char *home;
	if (!ulen) {
		home = getenv("HOME");
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : "/";
		}
	} else {
		/* ~user/..., as the shell expands it */
		char *user = xstrndup(path + 1, ulen);
		struct passwd *pw = getpwnam(user);
		free(user);
		if (!pw || !pw->pw_dir || !*pw->pw_dir)
			return NULL;
		home = pw->pw_dir;
	}
	if (!slash || !slash[1])
		return xstrdup(home);
	return path_join(home, slash + 1);
}

/* path_resolve makes a configured path absolute: ~/ is the home directory,
 * ~user/ that user's, relative paths are relative to the project root.
 * NULL when ~user names no user. */
static char *path_resolve(const char *root, const char *v)
{
	if (v[0] == '~')
		return config_expand_home(v);
	if (v[0] == '/')
		return xstrdup(v);
	return path_join(root, v);
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* list_names returns the sorted base names of dir/<name><ext> that are valid names. */
static void list_names(const char *dir, const char *ext, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t cap = 0, elen = strlen(ext);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= elen || strcmp(de->d_name + len - elen, ext) != 0)
			continue;
		char *name = xstrndup(de->d_name, len - elen);
		char *full = xstrfmt("%s/%s", dir, de->d_name);
		int ok = name_ok(name, 1) && file_exists(full);
		free(full);
		if (!ok) {
			free(name);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*names = xrealloc(*names, cap * sizeof **names);
		}
		(*names)[(*n)++] = name;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_str);
}

static int get_path(struct yw_doc *f, const yaml_node_t *n, const char *what, const char *root, char **out)
{
	const char *v = NULL;
	if (yw_scalar(f, n, what, &v))
		return -1;
	char *path = path_resolve(root, v);
	if (!path) {
		yw_err(f, n, "%s: the path \"%s\" names no user of this machine", what, yw_show(v));
		return fail_hint("write ~/ for your home directory, ~USER/ for an existing user's, or an absolute "
				 "path");
	}
	free(*out);
	*out = path;
	return 0;
}

static int check_ident(const char *s)
{
	return ident_ok(s);
}

static int check_name(const char *s)
{
	return name_ok(s, 1);
}

static const char ident_hint[] =
	"a schema name is an unquoted SQL identifier: ASCII letters, digits and _, not starting with a digit, at most 63 characters";
static const char name_hint[] = "names use ASCII letters, digits, _ and -, at most 63 characters";

/* The context of one walk over a config file, for the setters below. */
struct cfg_ctx {
	const char *root;          /* the project root: relative paths start there */
	const struct cfg_project *p;
	struct cfg_env *e;         /* env files: the env being read */
	int is_local;              /* env files: env "local" (managed targets by default) */
	struct cfg_target *t;      /* env files: the target being walked */
	const yaml_node_t *ssh;    /* env files: that target's ssh: node, or NULL */
	int have_managed;          /* env files: its database says managed: */
	const struct cfg_env *env; /* pipeline files: the env whose targets stages name, or NULL */
	struct cfg_pipeline *pl;   /* pipeline files: the pipeline being read */
};

#define FIELD_AT(obj, fl, type) ((type)((char *)(obj) + (fl)->off))

/* set_path: a path relative to the project root (~ expanded). */
static int set_path(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		    const yaml_node_t *v, void *obj)
{
	const struct cfg_ctx *c = w->ctx;
	(void)map;
	(void)k;
	return v ? get_path(w->doc, v, fl->what, c->root, FIELD_AT(obj, fl, char **)) : 0;
}

static int get_env_var(struct yw_doc *f, const yaml_node_t *n, const char *what, char **out)
{
	const char *v = NULL;
	if (yw_scalar(f, n, what, &v))
		return -1;
	if (!ident_ok(v)) {
		/* the value may be a pasted secret: never repeat it */
		yw_err(f, n, "%s must name an environment variable", what);
		return fail_hint("write the variable's name (e.g. PADCTL_QA_PASSWORD), not its value");
	}
	free(*out);
	*out = xstrdup(v);
	return 0;
}

/* set_env_var: the name of an environment variable, never its value. */
static int set_env_var(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map,
		       const yaml_node_t *k, const yaml_node_t *v, void *obj)
{
	(void)map;
	(void)k;
	return v ? get_env_var(w->doc, v, fl->what, FIELD_AT(obj, fl, char **)) : 0;
}

int config_bool(const char *text, int *value)
{
	return yw_bool_text(text, value);
}

/* ---------------------------------------------------------------- root */

static int find_in(const char *dir, char **root)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return -1;
	char *file = path_join(real, "padctl.yml");
	int ok = file_exists(file);
	free(file);
	if (!ok)
		return 1;
	*root = xstrdup(real);
	return 0;
}

int config_find_root(const char *dir_opt, char **root)
{
	*root = NULL;
	const char *env = getenv("PADCTL_PROJECT");
	const char *given = dir_opt ? dir_opt : (env && *env) ? env : NULL;
	const char *source = dir_opt ? "-C" : "PADCTL_PROJECT";
	if (given) {
		int rc = find_in(given, root);
		if (!rc)
			return 0;
		if (rc < 0)
			fail("cannot use project directory \"%s\" (%s): %s", yw_show(given), source, strerror(errno));
		else
			fail("no padctl.yml in \"%s\" (%s)", yw_show(given), source);
		fail_hint("run `padctl init` there, or point %s at the directory holding padctl.yml", source);
		return fail_status(EXIT_USAGE);
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd)) {
		fail("cannot find the current directory: %s", strerror(errno));
		return fail_status(EXIT_USAGE);
	}
	char *dir = xstrdup(cwd);
	for (;;) {
		if (!find_in(dir, root)) {
			free(dir);
			return 0;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			if (dir[1] == '\0')
				break;
			dir[1] = '\0';
			continue;
		}
		*slash = '\0';
	}
	free(dir);
	fail("no padctl project found: no padctl.yml in \"%s\" or any parent directory", yw_show(cwd));
	fail_hint("run `padctl init` to create a project here, or use -C DIR (or PADCTL_PROJECT) to name one");
	return fail_status(EXIT_USAGE);
}

/* ---------------------------------------------------------------- project */

void config_project_release(struct cfg_project *p)
{
	free(p->root);
	free(p->file);
	free(p->name);
	strv_free(p->owned, p->nowned);
	strv_free(p->protected_schemas, p->nprotected);
	free(p->migrations_dir);
	free(p->seeds_dir);
	free(p->contracts_dir);
	free(p->backfills_dir);
	strv_free(p->seeds_prod, p->nseeds_prod);
	free(p->backups_dir);
	config_lint_allow_free(p->lint_rules, p->nlint_rules);
	if (p->drift_scratch) {
		free(p->drift_scratch->host);
		free(p->drift_scratch->dbname);
		free(p->drift_scratch->user);
		free(p->drift_scratch->password_env);
		free(p->drift_scratch->passfile);
		free(p->drift_scratch->sslmode);
		free(p->drift_scratch);
	}
	memset(p, 0, sizeof *p);
}

static int schemas_done(struct yw_walk *w, const yaml_node_t *map, void *obj)
{
	struct cfg_project *p = obj;
	const yaml_node_t *pr = yw_map_get(w->doc, map, "protected", NULL);
	for (size_t i = 0; i < p->nprotected; i++) {
		for (size_t j = 0; j < p->nowned; j++) {
			if (strcmp(p->protected_schemas[i], p->owned[j]))
				continue;
			yaml_node_t *item = yw_node(w->doc, pr->data.sequence.items.start[i]);
			yw_err(w->doc, item, "schema \"%s\" is both owned and protected", p->owned[j]);
			return fail_hint("list it under owned (migrations may change it) or under protected "
					 "(read-only), not both");
		}
	}
	return 0;
}

static const struct yw_field schemas_fields[] = {
	{ .key = "owned", .type = YW_NAMES, .off = offsetof(struct cfg_project, owned),
	  .off_n = offsetof(struct cfg_project, nowned), .check = check_ident, .item = "schema name",
	  .hint = ident_hint, .what = "\"schemas.owned\"", .doc_type = "list of schema names", .doc_default = "`[]`",
	  .help = "schemas the migrations may change. The `validate` preflight checks USAGE and CREATE on each." },
	{ .key = "protected", .type = YW_NAMES, .off = offsetof(struct cfg_project, protected_schemas),
	  .off_n = offsetof(struct cfg_project, nprotected), .check = check_ident, .item = "schema name",
	  .hint = ident_hint, .what = "\"schemas.protected\"", .doc_type = "list of schema names",
	  .doc_default = "`[]`", .help = "read-only schemas. A schema may not be both owned and protected." },
};
static const struct yw_table schemas_table = YW_TABLE(schemas_fields, schemas_done);

/* paths: each default is the directory of the key's name under the root (project_done) */
static const struct yw_field paths_fields[] = {
	{ .key = "migrations", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_project, migrations_dir),
	  .dflt = "migrations", .what = "\"paths.migrations\"", .doc_type = "path", .doc_default = "`migrations`",
	  .help = "the migration directories" },
	{ .key = "seeds", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_project, seeds_dir),
	  .dflt = "seeds", .what = "\"paths.seeds\"", .doc_type = "path", .doc_default = "`seeds`",
	  .help = "the seed sets: `<set>/*.sql`, applied in file-name order (see [seed](plugins/seed.md))" },
	{ .key = "contracts", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_project, contracts_dir),
	  .dflt = "contracts", .what = "\"paths.contracts\"", .doc_type = "path", .doc_default = "`contracts`",
	  .help = "contracts, `<schema>.yml` each, checked by validate preflight and postflight "
		  "([contracts.md](contracts.md))" },
	{ .key = "backfills", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_project, backfills_dir),
	  .dflt = "backfills", .what = "\"paths.backfills\"", .doc_type = "path", .doc_default = "`backfills`",
	  .help = "backfills: `NAME.yml` data migrations run by `padctl backfill` (docs/backfill.md)" },
};
static const struct yw_table paths_table = YW_TABLE(paths_fields, NULL);

static const struct yw_field project_migrations_fields[] = {
	{ .key = "lock_timeout", .type = YW_INT, .lo = 0, .hi = 86400, .off = offsetof(struct cfg_project, lock_timeout),
	  .what = "\"migrations.lock_timeout\" (seconds)", .doc_type = "integer seconds, 0-86400", .doc_default = "`5`",
	  .help = "how long a migration statement may wait for a lock; `0` waits without limit. An env file may set "
		  "its own. See [lock_timeout](#migrationslock_timeout)." },
	{ .key = "guard", .type = YW_BOOL, .off = offsetof(struct cfg_project, guard),
	  .what = "\"migrations.guard\"", .doc_type = "boolean", .doc_default = "`true`",
	  .help = "the protected-schema guard at run time: before each migration commits, padctl checks that it "
		  "changed nothing in `schemas.protected` (also through dynamic SQL) and wrote no rows there; "
		  "`false` turns the check off (lint still refuses what it can read). See "
		  "[docs/plugins/migrate.md](plugins/migrate.md#the-protected-schema-guard)." },
};
static const struct yw_table project_migrations_table = YW_TABLE(project_migrations_fields, NULL);

/* has_control tells whether s holds a control character: a path is printed
 * and recorded, and a newline in one would forge lines */
static int has_control(const char *s)
{
	for (const unsigned char *q = (const unsigned char *)s; *q; q++)
		if (*q < 0x20 || *q == 0x7f)
			return 1;
	return 0;
}

/* dot_component returns the first ".." component of the path s (with dot,
 * a "." one too) and its length in *len; NULL when there is none */
static const char *dot_component(const char *s, int dot, size_t *len)
{
	for (const char *q = s; *q;) {
		size_t n = strcspn(q, "/");
		if ((n == 2 && q[0] == '.' && q[1] == '.') || (dot && n == 1 && q[0] == '.')) {
			*len = n;
			return q;
		}
		q += n;
		q += *q == '/';
	}
	return NULL;
}

/* set_backups_dir: where backups go. The files hold the owned schemas'
 * data, so the value is refused rather than guessed at when it could mean
 * something else than it seems: a ".." component (an absolute path says
 * where without depending on the project's place), a control character, the
 * file system's root. */
static int set_backups_dir(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			   const yaml_node_t *v, void *obj)
{
	const struct cfg_ctx *c = w->ctx;
	(void)map;
	(void)k;
	if (!v)
		return 0;
	const char *s = NULL;
	if (yw_scalar(w->doc, v, fl->what, &s))
		return -1;
	size_t dn;
	if (has_control(s)) {
		yw_err(w->doc, v, "%s holds a control character", fl->what);
		return fail_hint("write a plain path, e.g. `.padctl/backups` or `/var/backups/padctl`");
	}
	if (dot_component(s, 0, &dn)) {
		yw_err(w->doc, v, "%s \"%s\" has a \"..\" component", fl->what, yw_show(s));
		return fail_hint("write the directory as an absolute path (or one below the project root) "
				 "without \"..\"");
	}
	char *dir = NULL;
	if (get_path(w->doc, v, fl->what, c->root, &dir))
		return -1;
	size_t n = strlen(dir);
	/* trailing "/" and "/." name the same directory: the checks below see it bare */
	while (n > 1 && (dir[n - 1] == '/' || (dir[n - 1] == '.' && dir[n - 2] == '/')))
		dir[--n] = '\0';
	if (strspn(dir, "/") == n || strcmp(dir, c->root) == 0) {
		yw_err(w->doc, v, "%s \"%s\" is %s", fl->what, yw_show(s),
		       strcmp(dir, c->root) == 0 ? "the project root" : "the root directory");
		free(dir);
		return fail_hint("give backups a directory of their own, e.g. `.padctl/backups`");
	}
	free(*FIELD_AT(obj, fl, char **));
	*FIELD_AT(obj, fl, char **) = dir;
	return 0;
}

static const struct yw_field backups_fields[] = {
	{ .key = "dir", .type = YW_FN, .fn = set_backups_dir, .off = offsetof(struct cfg_project, backups_dir),
	  .dflt = ".padctl/backups", .what = "\"backups.dir\"", .doc_type = "path", .doc_default = "`.padctl/backups`",
	  .help = "where the `backup` step writes its files, as `<dir>/<env>/<target>/<run id>.dump` (directories "
		  "0700, files 0600). No `..` component. See [backups.md](backups.md)." },
	{ .key = "keep", .type = YW_INT, .lo = 1, .hi = 100000, .off = offsetof(struct cfg_project, backups_keep),
	  .what = "\"backups.keep\"", .doc_type = "integer, 1-100000", .doc_default = "`10`",
	  .help = "backups kept per target; older ones are deleted and marked pruned in the ledger, except one a "
		  "rollback may still need. See [backups.md](backups.md#retention)." },
};
static const struct yw_table backups_table = YW_TABLE(backups_fields, NULL);

static int project_done(struct yw_walk *w, const yaml_node_t *map, void *obj)
{
	struct cfg_project *p = obj;
	(void)w;
	(void)map;
	for (size_t i = 0; i < paths_table.nfields; i++) {
		char **dir = FIELD_AT(p, &paths_table.fields[i], char **);
		if (!*dir)
			*dir = path_join(p->root, paths_table.fields[i].dflt);
	}
	if (!p->backups_dir)
		p->backups_dir = path_join(p->root, backups_fields[0].dflt);
	return 0;
}

static const struct yw_field project_seeds_fields[] = {
	{ .key = "allow_in_prod", .type = YW_NAMES, .check = check_name, .item = "seed set",
	  .hint = "a seed set is a directory name under paths.seeds", .off = offsetof(struct cfg_project, seeds_prod),
	  .off_n = offsetof(struct cfg_project, nseeds_prod), .what = "\"seeds.allow_in_prod\"",
	  .doc_type = "list of seed set names", .doc_default = "`[]`",
	  .help = "the seed sets a prod-tier env may list in its `seeds`; any other is a configuration error there" },
};
static const struct yw_table project_seeds_table = YW_TABLE(project_seeds_fields, NULL);

void config_lint_allow_free(struct cfg_lint_allow *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].rule);
		free(v[i].value);
	}
	free(v);
}

/* read_rule_map reads a mapping of rule names to strings (padctl.yml's
 * lint.rules, meta.yml's lint.allow); choices, when set, are the accepted
 * values. The names are checked by lint against its rule table. */
static int read_rule_map(struct yw_doc *f, const yaml_node_t *map, const char *where, const char *const *choices,
			 const char *hint, struct cfg_lint_allow **out, size_t *nout)
{
	if (yw_map_check(f, map, where, "rule"))
		return -1;
	size_t cnt = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	*out = cnt ? xcalloc(cnt, sizeof **out) : NULL;
	*nout = 0;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_pair_t *pair = &map->data.mapping.pairs.start[i];
		yaml_node_t *k = yw_node(f, pair->key), *v = yw_node(f, pair->value);
		const char *rule = (const char *)k->data.scalar.value;
		char *value = NULL;
		if (v->type != YAML_SCALAR_NODE || yw_is_null(v)) {
			yw_err(f, v, "expected %s for rule \"%s\" in %s, found %s", choices ? "a severity" : "a reason",
			       yw_show(rule), where, yw_kind(v));
			return fail_hint("%s", hint);
		}
		if (choices) {
			if (yw_enum(f, v, where, choices, &value))
				return -1;
		} else {
			char *what = xstrfmt("rule \"%s\" in %s", yw_show(rule), where);
			int rc = yw_reason(f, v, what, &value);
			free(what);
			if (rc)
				return -1;
		}
		struct cfg_lint_allow *a = &(*out)[(*nout)++];
		a->rule = xstrdup(rule);
		a->value = value;
		a->line = (int)k->start_mark.line + 1;
		a->col = (int)k->start_mark.column + 1;
	}
	return 0;
}

static const char *const lint_severities[] = { "error", "warning", "off", NULL };

static int set_lint_rules(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			  const yaml_node_t *v, void *obj)
{
	struct cfg_project *p = obj;
	(void)fl;
	(void)map;
	(void)k;
	return v ? read_rule_map(w->doc, v, "\"lint.rules\"", lint_severities,
				 "write `RULE: error`, `RULE: warning` or `RULE: off` (docs/lint.md lists the rules)",
				 &p->lint_rules, &p->nlint_rules)
		 : 0;
}

static const struct yw_field project_lint_fields[] = {
	{ .key = "rules", .type = YW_FN, .fn = set_lint_rules, .doc_type = "mapping of rule to `error`, `warning` or `off`",
	  .doc_default = "each rule's default",
	  .help = "project-wide lint severities (docs/lint.md lists the rules). `protected-schema` is always an error." },
};
static const struct yw_table project_lint_table = YW_TABLE(project_lint_fields, NULL);

/* drift: (docs/drift.md). The scratch server takes a target database's
 * connection keys, without the ones that make no sense for it (managed is
 * `scratch: local`; password_command would need a trust of its own). */
static const char *const scratch_sslmodes[] = { "disable", "allow", "prefer", "require", "verify-ca", "verify-full",
						NULL };

static int scratch_done(struct yw_walk *w, const yaml_node_t *map, void *obj)
{
	struct cfg_database *d = obj;
	const char *user = getenv("USER");
	(void)w;
	(void)map;
	if (!d->host)
		d->host = xstrdup("127.0.0.1");
	if (!d->port)
		d->port = 5432;
	if (!d->user)
		d->user = xstrdup(user && *user ? user : "postgres");
	if (!d->sslmode)
		d->sslmode = xstrdup("prefer");
	return 0;
}

static const struct yw_field scratch_fields[] = {
	{ .key = "password", .type = YW_SECRET,
	  .hint = "use password_env (an environment variable's name) or passfile (a pgpass file)" },
	{ .key = "host", .type = YW_STRING, .off = offsetof(struct cfg_database, host), .doc_type = "string",
	  .doc_default = "`127.0.0.1`", .help = "the scratch server's host name or address" },
	{ .key = "port", .type = YW_INT, .lo = 1, .hi = 65535, .off = offsetof(struct cfg_database, port),
	  .doc_type = "integer 1-65535", .doc_default = "`5432`", .help = "the scratch server's port" },
	{ .key = "dbname", .type = YW_STRING, .off = offsetof(struct cfg_database, dbname), .doc_type = "string",
	  .doc_default = "`postgres`",
	  .help = "the database padctl connects to in order to create and drop the scratch databases" },
	{ .key = "user", .type = YW_STRING, .off = offsetof(struct cfg_database, user), .doc_type = "string",
	  .doc_default = "`$USER` (or `postgres` when USER is unset)",
	  .help = "the user; it needs CREATEDB (it owns the scratch databases)" },
	{ .key = "password_env", .type = YW_FN, .fn = set_env_var, .off = offsetof(struct cfg_database, password_env),
	  .what = "\"password_env\"", .doc_type = "environment variable name",
	  .help = "take the password from this variable" },
	{ .key = "passfile", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_database, passfile),
	  .what = "\"passfile\"", .doc_type = "path", .doc_default = "libpq's default (`~/.pgpass`)",
	  .help = "a pgpass file" },
	{ .key = "sslmode", .type = YW_ENUM, .choices = scratch_sslmodes, .off = offsetof(struct cfg_database, sslmode),
	  .doc_type = "`disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`", .doc_default = "`prefer`",
	  .help = "libpq's sslmode" },
	{ .key = "connect_timeout", .type = YW_INT, .lo = 0, .hi = 3600,
	  .off = offsetof(struct cfg_database, connect_timeout), .doc_type = "integer 0-3600 (seconds)",
	  .doc_default = "`10`", .help = "libpq's connect_timeout" },
};
static const struct yw_table scratch_table = YW_TABLE(scratch_fields, scratch_done);

static int set_scratch(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		       const yaml_node_t *v, void *obj)
{
	struct cfg_project *p = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (!v)
		return 0;
	if (v->type == YAML_SCALAR_NODE && strcmp((const char *)v->data.scalar.value, "local") == 0)
		return 0;
	if (v->type != YAML_MAPPING_NODE) {
		yw_err(w->doc, v, "\"drift.scratch\" must be `local` or a mapping of connection keys, not %s",
		       yw_kind(v));
		return fail_hint("write `scratch: local` (the managed local cluster) or `scratch: {host: ..., port: ..., "
				 "user: ...}`");
	}
	p->drift_scratch = xcalloc(1, sizeof *p->drift_scratch);
	p->drift_scratch->connect_timeout = 10;
	p->drift_scratch->line = (int)v->start_mark.line + 1;
	return yw_walk_map(w, v, &scratch_table, "drift.scratch", p->drift_scratch);
}

static const struct yw_field drift_fields[] = {
	{ .key = "scratch", .type = YW_FN, .fn = set_scratch, .doc_type = "`local` or a mapping (below)",
	  .doc_default = "`local`",
	  .help = "where the history is replayed: `local` is the project's managed local cluster; a mapping names a "
		  "server with the keys of [drift.scratch](#driftscratch)" },
	{ .key = "keep", .type = YW_INT, .lo = 1, .hi = 1000, .off = offsetof(struct cfg_project, drift_keep),
	  .doc_type = "integer 1-1000", .doc_default = "`4`",
	  .help = "how many replays (scratch databases and their cached catalogs) are kept; the least recently "
		  "used go first" },
};
static const struct yw_table drift_table = YW_TABLE(drift_fields, NULL);

static int set_drift(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		     const yaml_node_t *v, void *obj)
{
	struct cfg_project *p = obj;
	(void)fl;
	(void)map;
	(void)k;
	p->drift_keep = 4;
	if (!v)
		return 0;
	p->drift = 1;
	if (yw_is_null(v))
		return 0;
	if (yw_expect(w->doc, v, YAML_MAPPING_NODE, "\"drift\""))
		return -1;
	return yw_walk_map(w, v, &drift_table, "drift", p);
}

static const struct yw_field project_fields[] = {
	{ .key = "project", .type = YW_STRING, .required = 1, .off = offsetof(struct cfg_project, name),
	  .hint = "add `project: NAME` (the application's name; the default database name)", .doc_type = "string",
	  .help = "the application's name; also the default `dbname` of every target" },
	{ .key = "schemas", .type = YW_MAP, .sub = &schemas_table },
	{ .key = "paths", .type = YW_MAP, .sub = &paths_table },
	{ .key = "migrations", .type = YW_MAP, .sub = &project_migrations_table },
	{ .key = "seeds", .type = YW_MAP, .sub = &project_seeds_table },
	{ .key = "backups", .type = YW_MAP, .sub = &backups_table },
	{ .key = "lint", .type = YW_MAP, .sub = &project_lint_table },
	{ .key = "drift", .type = YW_FN, .fn = set_drift, .doc_type = "mapping (below)",
	  .doc_default = "none: no drift check",
	  .help = "drift checks: replay the target's history on a scratch database and compare catalogs (see "
		  "[drift.md](drift.md))" },
};
static const struct yw_table project_table = YW_TABLE(project_fields, project_done);

int config_load_project(const char *root, struct cfg_project *p)
{
	memset(p, 0, sizeof *p);
	char real[PATH_MAX];
	if (!realpath(root, real)) {
		fail("cannot use project directory \"%s\": %s", yw_show(root), strerror(errno));
		return fail_status(EXIT_USAGE);
	}
	p->root = xstrdup(real);
	p->file = path_join(real, "padctl.yml");
	p->lock_timeout = 5;
	p->backups_keep = 10;
	p->guard = 1;
	struct yw_doc f;
	struct cfg_ctx c = { .root = p->root };
	struct yw_walk w = { &f, &c };
	int rc = yw_load(&f, p->file, &project_table);
	if (!rc)
		rc = yw_walk_map(&w, yw_root(&f), &project_table, "padctl.yml", p);
	yw_release(&f);
	if (rc)
		config_project_release(p);
	return rc ? fail_status(EXIT_USAGE) : 0;
}

int config_list_envs(const struct cfg_project *p, char ***names, size_t *n)
{
	char *dir = path_join(p->root, "envs");
	list_names(dir, ".yml", names, n);
	free(dir);
	return 0;
}

/* ---------------------------------------------------------------- env */

static void target_release(struct cfg_target *t)
{
	free(t->name);
	free(t->db.host);
	free(t->db.dbname);
	free(t->db.user);
	free(t->db.password_env);
	free(t->db.password_command);
	free(t->db.trust_root);
	free(t->db.trust_env);
	free(t->db.passfile);
	free(t->db.sslmode);
	strv_free(t->db.fixtures, t->db.nfixtures);
	if (t->ssh) {
		free(t->ssh->host);
		free(t->ssh->user);
		free(t->ssh->identity);
		free(t->ssh->passphrase_env);
		free(t->ssh->known_hosts);
		free(t->ssh->tools);
		free(t->ssh->backups_dir);
		free(t->ssh);
	}
}

void config_env_release(struct cfg_env *e)
{
	free(e->name);
	free(e->file);
	free(e->tier);
	free(e->pipeline);
	for (size_t i = 0; i < e->ntargets; i++)
		target_release(&e->targets[i]);
	free(e->targets);
	for (size_t i = 0; i < e->nskips; i++) {
		free(e->skips[i].version);
		free(e->skips[i].reason);
	}
	free(e->skips);
	strv_free(e->seeds, e->nseeds);
	free(e->seed_lines);
	free(e->ledger);
	memset(e, 0, sizeof *e);
}

const struct cfg_target *config_env_target(const struct cfg_env *e, const char *name)
{
	for (size_t i = 0; i < e->ntargets; i++)
		if (!strcmp(e->targets[i].name, name))
			return &e->targets[i];
	return NULL;
}

const struct cfg_skip *config_env_skip(const struct cfg_env *e, const char *version)
{
	for (size_t i = 0; i < e->nskips; i++)
		if (!version_cmp(e->skips[i].version, version))
			return &e->skips[i];
	return NULL;
}

static const char *const tiers[] = { "nonprod", "prod", NULL };
static const char *const sslmodes[] = { "disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL };
static const char *const ssh_tools[] = { "local", "remote", NULL };

static int ssh_done(struct yw_walk *w, const yaml_node_t *map, void *obj)
{
	struct cfg_ssh *s = obj;
	if (!s->known_hosts)
		s->known_hosts = config_expand_home("~/.ssh/known_hosts");
	if (s->passphrase_env && !s->identity) {
		/* refused, not ignored: the agent holds its keys unlocked, so the setting could only be a mistake */
		const yaml_node_t *v = yw_map_get(w->doc, map, "passphrase_env", NULL);
		yw_err(w->doc, v ? v : map, "\"ssh.passphrase_env\" without \"ssh.identity\"");
		fail_detail("the passphrase is for an identity file; without one padctl logs in with the ssh agent's keys");
		return fail_hint("set identity: to the private key file, or remove passphrase_env");
	}
	if (s->backups_dir && (!s->tools || strcmp(s->tools, "remote") != 0)) {
		/* refused, not ignored: pg_dump on this machine cannot write a file on the SSH host */
		const yaml_node_t *v = yw_map_get(w->doc, map, "backups_dir", NULL);
		yw_err(w->doc, v ? v : map, "\"ssh.backups_dir\" needs \"ssh.tools: remote\"");
		fail_detail("only pg_dump run on the SSH host can keep the dump there; with tools: local it runs here");
		return fail_hint("set tools: remote in the ssh section, or remove backups_dir (backups then go to "
				 "backups.dir on this machine)");
	}
	return 0;
}

/* set_remote_dir: ssh.backups_dir, a directory on the SSH host. It is
 * checked as backups.dir is, and must be absolute: "~" and a relative path
 * would depend on the remote login directory, and the ledger records where
 * the file is. Spaces, quotes and the like are data (every remote argument
 * is quoted), but control characters are refused. */
static int set_remote_dir(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			  const yaml_node_t *v, void *obj)
{
	(void)map;
	(void)k;
	if (!v)
		return 0;
	const char *s = NULL;
	if (yw_scalar(w->doc, v, fl->what, &s))
		return -1;
	const char *eg = "write an absolute directory on the SSH host, e.g. `/var/backups/padctl`";
	if (has_control(s)) {
		yw_err(w->doc, v, "%s holds a control character", fl->what);
		return fail_hint("%s", eg);
	}
	if (s[0] != '/') {
		yw_err(w->doc, v, "%s \"%s\" is not an absolute path", fl->what, yw_show(s));
		fail_detail("it names a directory on the SSH host; \"~\" and relative paths are not expanded there");
		return fail_hint("%s", eg);
	}
	size_t dn;
	const char *dot = dot_component(s, 1, &dn);
	if (dot) {
		yw_err(w->doc, v, "%s \"%s\" has a \"%.*s\" component", fl->what, yw_show(s), (int)dn, dot);
		return fail_hint("%s, without \".\" or \"..\"", eg);
	}
	char *dir = xstrdup(s);
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (strspn(dir, "/") == n) {
		yw_err(w->doc, v, "%s \"%s\" is the root directory", fl->what, yw_show(s));
		free(dir);
		return fail_hint("give backups a directory of their own, e.g. `/var/backups/padctl`");
	}
	free(*FIELD_AT(obj, fl, char **));
	*FIELD_AT(obj, fl, char **) = dir;
	return 0;
}

static const struct yw_field ssh_fields[] = {
	{ .key = "password", .type = YW_SECRET,
	  .hint = "use an ssh agent or an identity file, with passphrase_env for its passphrase" },
	{ .key = "passphrase", .type = YW_SECRET,
	  .hint = "set passphrase_env to the name of an environment variable holding the passphrase" },
	{ .key = "host", .type = YW_STRING, .required = 1, .off = offsetof(struct cfg_ssh, host), .what = "\"ssh.host\"",
	  .hint = "add `host: NAME` (the SSH host), or remove the ssh section", .doc_type = "string",
	  .help = "the SSH host" },
	{ .key = "port", .type = YW_INT, .lo = 1, .hi = 65535, .off = offsetof(struct cfg_ssh, port),
	  .what = "\"ssh.port\"", .doc_type = "integer 1-65535", .doc_default = "`22`", .help = "the SSH port" },
	{ .key = "user", .type = YW_STRING, .off = offsetof(struct cfg_ssh, user), .what = "\"ssh.user\"",
	  .doc_type = "string", .doc_default = "the local user", .help = "the SSH user" },
	{ .key = "identity", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_ssh, identity),
	  .what = "\"ssh.identity\"", .doc_type = "path", .doc_default = "none (the ssh agent)",
	  .help = "a private key file (OpenSSH format; ed25519, ecdsa or rsa)" },
	{ .key = "passphrase_env", .type = YW_FN, .fn = set_env_var, .off = offsetof(struct cfg_ssh, passphrase_env),
	  .what = "\"ssh.passphrase_env\"", .doc_type = "environment variable name", .doc_default = "none",
	  .help = "the variable holding the identity's passphrase (only with `identity`)" },
	{ .key = "known_hosts", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_ssh, known_hosts),
	  .what = "\"ssh.known_hosts\"", .doc_type = "path", .doc_default = "`~/.ssh/known_hosts`",
	  .help = "the OpenSSH known_hosts file the SSH host's key must be in; padctl never writes it" },
	{ .key = "tunnel", .type = YW_BOOL, .off = offsetof(struct cfg_ssh, tunnel), .what = "\"ssh.tunnel\"",
	  .doc_type = "bool", .doc_default = "`false`",
	  .help = "libpq connects through a local port forward over SSH to `database.host:port` as the SSH host sees it; "
		  "`false`: directly, and the SSH host only runs the tools (`tools: remote`)" },
	{ .key = "tools", .type = YW_ENUM, .choices = ssh_tools, .dflt = "local", .off = offsetof(struct cfg_ssh, tools),
	  .what = "\"ssh.tools\"", .doc_type = "`local` or `remote`", .doc_default = "`local`",
	  .help = "where pg_dump / pg_restore run: `local` (this machine, through the tunnel) or `remote` (on the SSH host, "
		  "the dump streamed back unless `backups_dir` is set)" },
	{ .key = "backups_dir", .type = YW_FN, .fn = set_remote_dir, .off = offsetof(struct cfg_ssh, backups_dir),
	  .what = "\"ssh.backups_dir\"", .doc_type = "absolute path on the SSH host", .doc_default = "none (streamed back)",
	  .help = "with `tools: remote`: backups stay on the SSH host, in `DIR/<env>/<target>/<run id>.dump` "
		  "(directories 0700, files 0600), hashed and verified there; the ledger records the host and path "
		  "([ssh.md](ssh.md#keeping-the-dump-on-the-ssh-host))" },
};
static const struct yw_table ssh_table = YW_TABLE(ssh_fields, ssh_done);

static int ssh_parse(struct yw_walk *w, const yaml_node_t *map, struct cfg_target *t)
{
	char *where = xstrfmt("the ssh of target \"%s\"", t->name);
	struct cfg_ssh *s = xcalloc(1, sizeof *s);
	t->ssh = s;
	s->port = 22;
	s->line = (int)map->start_mark.line + 1;
	int rc = yw_walk_map(w, map, &ssh_table, where, s);
	free(where);
	return rc;
}

static void db_defaults(struct cfg_ctx *c, struct cfg_database *d)
{
	const char *user = getenv("USER");
	if (!d->dbname)
		d->dbname = xstrdup(c->p->name);
	if (!d->user)
		d->user = xstrdup(user && *user ? user : "postgres");
	if (!d->sslmode)
		d->sslmode = xstrdup("prefer");
	if (!d->managed && !d->host)
		d->host = xstrdup("127.0.0.1");
	if (!d->managed && !d->port)
		d->port = 5432;
}

static int set_managed(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		       const yaml_node_t *v, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	(void)map;
	(void)k;
	if (!v)
		return 0;
	c->have_managed = 1;
	return yw_bool(w->doc, v, "\"managed\"", FIELD_AT(obj, fl, int *));
}

static int set_password_command(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map,
				const yaml_node_t *k, const yaml_node_t *v, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct cfg_database *d = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (v && yw_str(w->doc, v, "\"password_command\"", &d->password_command))
		return -1;
	if (d->password_command && !d->trust_root) {
		/* what `padctl trust` and the check before running it need (trust.h) */
		d->trust_root = xstrdup(c->p->root);
		d->trust_env = xstrdup(c->e->name);
		d->password_command_line = v ? (int)v->start_mark.line + 1 : 0;
	}
	return 0;
}

/* db_done: what depends on several keys, and fixtures (only for a managed database). */
static int db_done(struct yw_walk *w, const yaml_node_t *map, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	struct cfg_database *d = obj;
	const struct cfg_target *t = c->t;
	yaml_node_t *n = NULL, *k = NULL;
	if (!c->have_managed)
		d->managed = c->is_local && !d->host && !c->ssh;
	if (d->password_env && d->password_command) {
		yw_map_get(f, map, "password_command", &k);
		yw_err(f, k, "both password_env and password_command in the database of target \"%s\"", t->name);
		return fail_hint("keep one of them");
	}
	if (d->managed) {
		static const char *const remote_only[] = { "host", "port", "password_env", "password_command",
							   "passfile", NULL };
		for (size_t i = 0; remote_only[i]; i++) {
			if (!yw_map_get(f, map, remote_only[i], &k))
				continue;
			yw_err(f, k, "\"%s\" set for the managed database of target \"%s\"", remote_only[i], t->name);
			fail_detail("a managed database is the private cluster padctl runs under .padctl/; it has no "
				    "host, port or password to configure");
			return fail_hint(c->have_managed
						 ? "remove \"%s\", or set managed: false to use an existing server"
						 : "remove \"%s\", or set managed: false and a host to use an existing server",
					 remote_only[i]);
		}
		if (c->ssh) {
			yw_err(f, c->ssh, "ssh set for the managed database of target \"%s\"", t->name);
			return fail_hint("remove the ssh section, or set managed: false and a host");
		}
	}
	if ((n = yw_map_get(f, map, "fixtures", &k))) {
		if (!d->managed) {
			yw_err(f, k, "\"fixtures\" set for the database of target \"%s\", which is not managed", t->name);
			return fail_hint("fixtures are loaded only into the managed local cluster; remove them here");
		}
		if (yw_expect(f, n, YAML_SEQUENCE_NODE, "\"fixtures\""))
			return -1;
		size_t cnt = yw_seq_len(n);
		d->fixtures = cnt ? xcalloc(cnt, sizeof *d->fixtures) : NULL;
		for (size_t i = 0; i < cnt; i++) {
			if (get_path(f, yw_node(f, n->data.sequence.items.start[i]), "\"fixtures\"", c->root,
				     &d->fixtures[i]))
				return -1;
			d->nfixtures++;
		}
	}
	return 0;
}

static const struct yw_field db_fields[] = {
	{ .key = "password", .type = YW_SECRET,
	  .hint = "use password_env (an environment variable's name), password_command (a command printing the "
		  "password) or passfile (a pgpass file)" },
	{ .key = "managed", .type = YW_FN, .fn = set_managed, .off = offsetof(struct cfg_database, managed),
	  .doc_type = "bool", .doc_default = "`true` in env `local` when there is no `host` and no `ssh`, else `false`",
	  .help = "the database lives in the managed local cluster (see below)" },
	{ .key = "host", .type = YW_STRING, .off = offsetof(struct cfg_database, host), .doc_type = "string",
	  .doc_default = "`127.0.0.1`", .help = "server host name or address (not for managed targets)" },
	{ .key = "port", .type = YW_INT, .lo = 1, .hi = 65535, .off = offsetof(struct cfg_database, port),
	  .doc_type = "integer 1-65535", .doc_default = "`5432`", .help = "server port (not for managed targets)" },
	{ .key = "dbname", .type = YW_STRING, .off = offsetof(struct cfg_database, dbname), .doc_type = "string",
	  .doc_default = "the `project` name", .help = "database name" },
	{ .key = "user", .type = YW_STRING, .off = offsetof(struct cfg_database, user), .doc_type = "string",
	  .doc_default = "`$USER` (or `postgres` when USER is unset)",
	  .help = "database user; managed targets always connect as the cluster's superuser `padctl`" },
	{ .key = "password_env", .type = YW_FN, .fn = set_env_var, .off = offsetof(struct cfg_database, password_env),
	  .what = "\"password_env\"", .doc_type = "environment variable name",
	  .help = "take the password from this variable" },
	{ .key = "password_command", .type = YW_FN, .fn = set_password_command, .doc_type = "string",
	  .help = "run this command with `/bin/sh`; its standard output (trailing newlines removed) is the password. "
		  "Runs only after `padctl trust ENV` (see \"Trusting a password_command\")" },
	{ .key = "passfile", .type = YW_FN, .fn = set_path, .off = offsetof(struct cfg_database, passfile),
	  .what = "\"passfile\"", .doc_type = "path", .doc_default = "libpq's default (`~/.pgpass`)",
	  .help = "a pgpass file" },
	{ .key = "sslmode", .type = YW_ENUM, .choices = sslmodes, .off = offsetof(struct cfg_database, sslmode),
	  .doc_type = "`disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`", .doc_default = "`prefer`",
	  .help = "libpq's sslmode (managed targets always use `disable`; they listen on 127.0.0.1 only)" },
	{ .key = "connect_timeout", .type = YW_INT, .lo = 0, .hi = 3600,
	  .off = offsetof(struct cfg_database, connect_timeout), .doc_type = "integer 0-3600 (seconds)",
	  .doc_default = "`10`", .help = "libpq's connect_timeout" },
	{ .key = "fixtures", .type = YW_LATER, .doc_type = "list of paths",
	  .help = "managed targets only: SQL files loaded once, when padctl creates the database (a plain "
		  "`pg_dump` works; see [local.md](local.md#fixtures))" },
};
static const struct yw_table db_table = YW_TABLE(db_fields, db_done);

static int db_parse(struct yw_walk *w, const yaml_node_t *map, struct cfg_target *t)
{
	struct cfg_ctx *c = w->ctx;
	struct cfg_database *d = &t->db;
	d->line = (int)map->start_mark.line + 1;
	d->connect_timeout = 10;
	c->have_managed = 0;
	char *where = xstrfmt("the database of target \"%s\"", t->name);
	int rc = yw_walk_map(w, map, &db_table, where, d);
	free(where);
	return rc;
}

static int set_database(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map,
			const yaml_node_t *k, const yaml_node_t *v, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct cfg_target *t = obj;
	(void)fl;
	(void)k;
	c->ssh = map ? yw_map_get(w->doc, map, "ssh", NULL) : NULL;
	if (v)
		return db_parse(w, v, t);
	t->db.managed = c->is_local && !c->ssh;
	t->db.connect_timeout = 10;
	t->db.line = t->line;
	return 0;
}

static int set_ssh(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		   const yaml_node_t *v, void *obj)
{
	(void)fl;
	(void)map;
	(void)k;
	return v ? ssh_parse(w, v, obj) : 0;
}

static int target_done(struct yw_walk *w, const yaml_node_t *map, void *obj)
{
	struct cfg_target *t = obj;
	(void)map;
	db_defaults(w->ctx, &t->db);
	return 0;
}

static const struct yw_field target_fields[] = {
	{ .key = "database", .type = YW_FN, .fn = set_database, .doc_type = "mapping (below)",
	  .doc_default = "every default", .help = "the database" },
	{ .key = "ssh", .type = YW_FN, .fn = set_ssh, .doc_type = "mapping (below)",
	  .help = "reach the database through a tunnel over this SSH host ([ssh.md](ssh.md))" },
};
static const struct yw_table target_table = YW_TABLE(target_fields, target_done);

static int target_parse(struct yw_walk *w, const yaml_node_t *keynode, const yaml_node_t *map,
			struct cfg_target *t)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	const char *name = (const char *)keynode->data.scalar.value;
	t->line = (int)keynode->start_mark.line + 1;
	if (!name_ok(name, 1)) {
		yw_err(f, keynode, "invalid target name \"%s\"", yw_show(name));
		return fail_hint("%s", name_hint);
	}
	t->name = xstrdup(name);
	c->t = t;
	if (map) {
		char *where = xstrfmt("target \"%s\"", name);
		int rc = yw_walk_map(w, map, &target_table, where, t);
		free(where);
		return rc;
	}
	/* `name:` alone: a target with every default */
	if (set_database(w, NULL, NULL, NULL, NULL, t))
		return -1;
	return target_done(w, NULL, t);
}

static int set_targets(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *root,
		       const yaml_node_t *key, const yaml_node_t *n, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	struct cfg_env *e = obj;
	(void)fl;
	(void)key;
	if (!n) {
		if (!c->is_local) {
			yw_err(f, root, "missing key \"targets\" in env \"%s\"", e->name);
			return fail_hint("add `targets:` with one or more databases, e.g. "
					 "`targets: {%s: {database: {host: HOST}}}`",
					 e->name);
		}
		e->targets = xcalloc(1, sizeof *e->targets);
		e->ntargets = 1;
		struct cfg_target *t = &e->targets[0];
		t->name = xstrdup("local");
		t->db.managed = 1;
		t->db.connect_timeout = 10;
		db_defaults(c, &t->db);
		return 0;
	}
	if (yw_map_check(f, n, "\"targets\"", "target"))
		return -1;
	size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (!cnt) {
		yw_err(f, n, "no targets in env \"%s\"", e->name);
		return fail_hint("add at least one target under `targets:`");
	}
	e->targets = xcalloc(cnt, sizeof *e->targets);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_pair_t *pair = &n->data.mapping.pairs.start[i];
		yaml_node_t *v = yw_node(f, pair->value);
		e->ntargets++;
		if (target_parse(w, yw_node(f, pair->key), yw_is_null(v) ? NULL : v, &e->targets[i]))
			return -1;
	}
	return 0;
}

static int set_skips(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *key,
		     const yaml_node_t *skip, void *obj)
{
	struct yw_doc *f = w->doc;
	struct cfg_env *e = obj;
	(void)fl;
	(void)map;
	(void)key;
	if (!skip)
		return 0;
	if (yw_map_check(f, skip, "\"migrations.skip\"", "version"))
		return -1;
	size_t cnt = (size_t)(skip->data.mapping.pairs.top - skip->data.mapping.pairs.start);
	e->skips = cnt ? xcalloc(cnt, sizeof *e->skips) : NULL;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_pair_t *pair = &skip->data.mapping.pairs.start[i];
		yaml_node_t *k = yw_node(f, pair->key), *v = yw_node(f, pair->value);
		const char *ver = (const char *)k->data.scalar.value;
		size_t len = strspn(ver, "0123456789");
		if (!len || ver[len] || len > 32) {
			yw_err(f, k, "invalid migration version \"%s\" in \"migrations.skip\"", yw_show(ver));
			return fail_hint("a version is the digits that start a migration directory's name, e.g. "
					 "\"0017\" for migrations/0017_add_index");
		}
		for (size_t j = 0; j < e->nskips; j++) {
			if (!version_cmp(e->skips[j].version, ver)) {
				yw_err(f, k, "migration version \"%s\" is skipped twice (also at line %d)", ver,
				     e->skips[j].line);
				return fail_hint("keep one entry per version");
			}
		}
		const char *reason;
		if (v->type != YAML_SCALAR_NODE || yw_is_null(v)) {
			yw_err(f, v, "expected a reason (a string) for skipping version \"%s\", found %s", ver, yw_kind(v));
			return fail_hint("write why it is skipped: `\"%s\": schemas already exist in this environment`",
					 ver);
		}
		if (yw_scalar(f, v, "the skip reason", &reason))
			return -1;
		struct cfg_skip *s = &e->skips[e->nskips++];
		s->version = xstrdup(ver);
		s->reason = xstrdup(reason);
		s->line = (int)k->start_mark.line + 1;
	}
	return 0;
}

static const struct yw_field env_migrations_fields[] = {
	{ .key = "skip", .type = YW_FN, .fn = set_skips, .doc_type = "mapping of version to reason",
	  .help = "migrations intentionally not applied in this env: deploy records them as `skipped` with the reason" },
	{ .key = "lock_timeout", .type = YW_INT, .lo = 0, .hi = 86400, .off = offsetof(struct cfg_env, lock_timeout),
	  .what = "\"migrations.lock_timeout\" (seconds)", .doc_type = "integer seconds, 0-86400",
	  .doc_default = "`padctl.yml`'s (default `5`)", .help = "this env's lock wait limit for migration statements" },
};
static const struct yw_table env_migrations_table = YW_TABLE(env_migrations_fields, NULL);

static const struct yw_field env_rollback_fields[] = {
	{ .key = "restore", .type = YW_BOOL, .off = offsetof(struct cfg_env, rollback_restore),
	  .what = "\"rollback.restore\"", .doc_type = "bool", .doc_default = "`true`, or `false` when `tier: prod`",
	  .help = "whether a failed deploy's automatic rollback (`on_failure: rollback`) may restore the owned "
		  "schemas from the run's backup when down cannot undo a migration; data written after the backup "
		  "is lost" },
};
static const struct yw_table env_rollback_table = YW_TABLE(env_rollback_fields, NULL);

static int set_pipeline(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			const yaml_node_t *pl, void *obj)
{
	struct yw_doc *f = w->doc;
	struct cfg_env *e = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (!pl) {
		e->pipeline = xstrdup(strcmp(e->tier, "prod") ? "standard" : "prod");
		return 0;
	}
	if (yw_str(f, pl, "\"pipeline\"", &e->pipeline))
		return -1;
	e->pipeline_line = (int)pl->start_mark.line + 1;
	if (!name_ok(e->pipeline, 1)) {
		yw_err(f, pl, "invalid pipeline name \"%s\"", yw_show(e->pipeline));
		return fail_hint("%s; the pipeline is the file pipelines/NAME.yml", name_hint);
	}
	return 0;
}

/* set_seeds reads the env's seed sets with their lines (the seed step's
 * errors name them), and refuses in a prod-tier env (tier comes first in the
 * table) a set padctl.yml does not allow for prod. */
static int set_seeds(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		     const yaml_node_t *n, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	struct cfg_env *e = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (!n)
		return 0;
	if (yw_names(f, n, "\"seeds\"", check_name, "seed set", "a seed set is a directory name under paths.seeds",
		     &e->seeds, &e->nseeds))
		return -1;
	e->seed_lines = xcalloc(e->nseeds ? e->nseeds : 1, sizeof *e->seed_lines);
	for (size_t i = 0; i < e->nseeds; i++) {
		yaml_node_t *item = yw_node(f, n->data.sequence.items.start[i]);
		e->seed_lines[i] = (int)item->start_mark.line + 1;
		if (strcmp(e->tier, "prod") != 0)
			continue;
		int allowed = 0;
		for (size_t j = 0; j < c->p->nseeds_prod; j++)
			allowed |= strcmp(c->p->seeds_prod[j], e->seeds[i]) == 0;
		if (allowed)
			continue;
		yw_err(f, item, "seed set \"%s\" is not allowed in prod-tier env \"%s\"", e->seeds[i], e->name);
		fail_detail("padctl.yml's seeds.allow_in_prod %s", c->p->nseeds_prod ? "does not list it" : "is empty");
		return fail_hint("remove it from this env's seeds, or (if it is safe for production data) add it to "
				 "`seeds: {allow_in_prod: [...]}` in padctl.yml");
	}
	return 0;
}

/* env_done: the ledger names a target, and the pipeline exists (said at the line that names it). */
static int env_done(struct yw_walk *w, const yaml_node_t *root, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	struct cfg_env *e = obj;
	yaml_node_t *n;
	if ((n = yw_map_get(f, root, "ledger", NULL))) {
		if (yw_str(f, n, "\"ledger\"", &e->ledger))
			return -1;
		if (!config_env_target(e, e->ledger)) {
			yw_err(f, n, "ledger \"%s\" is not a target of env \"%s\"", yw_show(e->ledger), e->name);
			char **names = xcalloc(e->ntargets, sizeof *names);
			for (size_t i = 0; i < e->ntargets; i++)
				names[i] = e->targets[i].name;
			yw_hint_list("name one of the targets: ", (const char *const *)names, e->ntargets, "");
			free(names);
			return -1;
		}
	} else {
		e->ledger = xstrdup(e->targets[0].name);
	}
	if (e->rollback_restore < 0)
		e->rollback_restore = strcmp(e->tier, "prod") != 0;
	char *plfile = xstrfmt("%s/pipelines/%s.yml", c->p->root, e->pipeline);
	int exists = file_exists(plfile);
	if (!exists) {
		yaml_node_t *pl = yw_map_get(f, root, "pipeline", NULL);
		char *dir = path_join(c->p->root, "pipelines");
		char **known;
		size_t nknown;
		list_names(dir, ".yml", &known, &nknown);
		free(dir);
		if (pl)
			yw_err(f, pl, "pipeline \"%s\" does not exist", e->pipeline);
		else
			yw_err(f, NULL, "env \"%s\" uses the default pipeline \"%s\", which does not exist", e->name,
			       e->pipeline);
		fail_detail("no file \"%s\"", plfile);
		yw_hint_list("create it, or name one of the pipelines: ", (const char *const *)known, nknown,
			     "create it (see `padctl init` for a standard pipeline)");
		strv_free(known, nknown);
	}
	free(plfile);
	return exists ? 0 : -1;
}

static const struct yw_field env_fields[] = {
	{ .key = "tier", .type = YW_ENUM, .choices = tiers, .dflt = "nonprod", .off = offsetof(struct cfg_env, tier),
	  .doc_type = "`nonprod` or `prod`", .doc_default = "`nonprod`",
	  .help = "`prod` deploys only a signed plan with its approvals (`padctl plan ENV --key`, `padctl approve`, "
		  "`padctl deploy ENV --plan ID`; its pipeline needs `approvals`) and refuses to run with a pipeline "
		  "step whose plugin is not installed" },
	{ .key = "pipeline", .type = YW_FN, .fn = set_pipeline, .doc_type = "name",
	  .doc_default = "`standard`, or `prod` when `tier: prod`",
	  .help = "the file `pipelines/<name>.yml`; it must exist" },
	{ .key = "ledger", .type = YW_LATER, .doc_type = "target name", .doc_default = "the first target",
	  .help = "where env-wide records (plans, their signatures and approvals, stage records) are written" },
	{ .key = "targets", .type = YW_FN, .fn = set_targets, .doc_type = "mapping of target name to target",
	  .doc_default = "required, except in env `local`",
	  .help = "the databases deployed as this env, in this order (unless the pipeline has `stages`)" },
	{ .key = "migrations", .type = YW_MAP, .sub = &env_migrations_table },
	{ .key = "seeds", .type = YW_FN, .fn = set_seeds, .doc_type = "list of seed set names", .doc_default = "`[]`",
	  .help = "the seed sets the `seed` step applies, in this order: each is `<paths.seeds>/<set>/`. A prod-tier "
		  "env may list only the sets of `seeds.allow_in_prod` in padctl.yml" },
	{ .key = "rollback", .type = YW_MAP, .sub = &env_rollback_table },
};
static const struct yw_table env_table = YW_TABLE(env_fields, env_done);

int config_load_env(const struct cfg_project *p, const char *name, struct cfg_env *e)
{
	memset(e, 0, sizeof *e);
	if (!name_ok(name, 1)) {
		fail("invalid env name \"%s\"", yw_show(name));
		fail_hint("%s; the env is the file envs/NAME.yml", name_hint);
		return fail_status(EXIT_USAGE);
	}
	char *file = xstrfmt("%s/envs/%s.yml", p->root, name);
	if (!file_exists(file)) {
		char **names;
		size_t n;
		config_list_envs(p, &names, &n);
		fail("unknown env \"%s\"", name);
		fail_detail("no file \"%s\"", file);
		yw_hint_list("known envs: ", (const char *const *)names, n,
			  "this project has no envs yet: create envs/NAME.yml");
		strv_free(names, n);
		free(file);
		return fail_status(EXIT_USAGE);
	}
	e->name = xstrdup(name);
	e->file = file;
	e->lock_timeout = p->lock_timeout;
	e->rollback_restore = -1;
	struct yw_doc f;
	struct cfg_ctx c = { .root = p->root, .p = p, .e = e, .is_local = !strcmp(name, "local") };
	struct yw_walk w = { &f, &c };
	int rc = yw_load(&f, file, &env_table);
	if (!rc) {
		char *where = xstrfmt("env \"%s\"", e->name);
		rc = yw_walk_map(&w, yw_root(&f), &env_table, where, e);
		free(where);
	}
	yw_release(&f);
	if (rc) {
		config_env_release(e);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

/* ---------------------------------------------------------------- pipeline */

static void step_release(struct cfg_step *s)
{
	free(s->plugin);
	free(s->phase);
	for (size_t i = 0; i < s->nopts; i++) {
		free(s->opts[i].key);
		free(s->opts[i].value);
	}
	free(s->opts);
}

void config_pipeline_release(struct cfg_pipeline *pl)
{
	free(pl->name);
	free(pl->file);
	for (size_t i = 0; i < pl->nsteps; i++)
		step_release(&pl->steps[i]);
	free(pl->steps);
	free(pl->on_failure);
	for (size_t i = 0; i < pl->nstages; i++) {
		free(pl->stages[i].name);
		strv_free(pl->stages[i].targets, pl->stages[i].ntargets);
	}
	free(pl->stages);
	free(pl->signers);
	memset(pl, 0, sizeof *pl);
}

static const char *const failure_modes[] = { "rollback", "stop", NULL };

static int step_parse(struct yw_doc *f, const yaml_node_t *item, struct cfg_step *s)
{
	s->line = (int)item->start_mark.line + 1;
	s->col = (int)item->start_mark.column + 1;
	const yaml_node_t *namenode = item, *val = NULL;
	if (item->type == YAML_MAPPING_NODE) {
		size_t n = (size_t)(item->data.mapping.pairs.top - item->data.mapping.pairs.start);
		if (n != 1) {
			yw_err(f, item, "a step with options is a mapping of one key, found %zu keys", n);
			return fail_hint("write `- PLUGIN`, `- PLUGIN: PHASE` or `- PLUGIN: {OPTION: VALUE, ...}`");
		}
		namenode = yw_node(f, item->data.mapping.pairs.start[0].key);
		val = yw_node(f, item->data.mapping.pairs.start[0].value);
	} else if (item->type != YAML_SCALAR_NODE || yw_is_null(item)) {
		yw_err(f, item, "expected a step (a plugin name or a one-key mapping), found %s", yw_kind(item));
		return fail_hint("write `- PLUGIN`, `- PLUGIN: PHASE` or `- PLUGIN: {OPTION: VALUE, ...}`");
	}
	if (yw_str(f, namenode, "a step's plugin name", &s->plugin))
		return -1;
	if (!name_ok(s->plugin, 1)) {
		yw_err(f, namenode, "invalid plugin name \"%s\"", yw_show(s->plugin));
		return fail_hint("%s", name_hint);
	}
	if (!val)
		return 0;
	if (val->type == YAML_SCALAR_NODE) {
		const char *v = NULL;
		if (yw_scalar(f, val, "the step's phase", &v))
			return -1;
		s->phase = xstrdup(v);
		return 0;
	}
	char *where = xstrfmt("the options of step \"%s\"", s->plugin);
	int rc = yw_map_check(f, val, where, "option");
	free(where);
	if (rc)
		return -1;
	size_t n = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	s->opts = n ? xcalloc(n, sizeof *s->opts) : NULL;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k = yw_node(f, val->data.mapping.pairs.start[i].key);
		yaml_node_t *v = yw_node(f, val->data.mapping.pairs.start[i].value);
		const char *key = (const char *)k->data.scalar.value, *value;
		char *what = xstrfmt("option \"%s\" of step \"%s\"", yw_show(key), s->plugin);
		rc = v->type == YAML_SCALAR_NODE && !yw_is_null(v) ? yw_scalar(f, v, what, &value)
								 : yw_err(f, v, "expected a scalar for %s, found %s", what,
									yw_kind(v));
		free(what);
		if (rc)
			return -1;
		if (!strcmp(key, "phase")) {
			s->phase = xstrdup(value);
			continue;
		}
		struct cfg_option *o = &s->opts[s->nopts++];
		o->key = xstrdup(key);
		o->value = xstrdup(value);
		o->line = (int)k->start_mark.line + 1;
		o->col = (int)k->start_mark.column + 1;
	}
	return 0;
}

static int set_stage_name(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map,
			  const yaml_node_t *k, const yaml_node_t *n, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	struct cfg_stage *st = obj;
	struct cfg_pipeline *pl = c->pl;
	(void)fl;
	(void)map;
	(void)k;
	if (yw_str(f, n, "the stage's \"name\"", &st->name))
		return -1;
	if (!name_ok(st->name, 1)) {
		yw_err(f, n, "invalid stage name \"%s\"", yw_show(st->name));
		return fail_hint("%s", name_hint);
	}
	for (size_t j = 0; j + 1 < pl->nstages; j++) {
		if (!strcmp(pl->stages[j].name, st->name)) {
			yw_err(f, n, "duplicate stage \"%s\" (also at line %d)", st->name, pl->stages[j].line);
			return fail_hint("give each stage its own name");
		}
	}
	return 0;
}

static int set_stage_targets(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *item,
			     const yaml_node_t *k, const yaml_node_t *n, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	struct cfg_stage *st = obj;
	struct cfg_pipeline *pl = c->pl;
	const struct cfg_env *env = c->env;
	(void)fl;
	(void)k;
	if (!n) {
		yw_err(f, item, "missing key \"targets\" in stage \"%s\"", st->name);
		return fail_hint("list the env's targets this stage deploys: `targets: [NAME, ...]`");
	}
	char *what = xstrfmt("the targets of stage \"%s\"", st->name);
	int rc = yw_names(f, n, what, check_name, "target name", name_hint, &st->targets, &st->ntargets);
	free(what);
	if (rc)
		return -1;
	if (!st->ntargets) {
		yw_err(f, n, "stage \"%s\" has no targets", st->name);
		return fail_hint("list at least one target, or remove the stage");
	}
	for (size_t t = 0; t < st->ntargets; t++) {
		yaml_node_t *tn = yw_node(f, n->data.sequence.items.start[t]);
		for (size_t j = 0; j + 1 < pl->nstages; j++) {
			for (size_t u = 0; u < pl->stages[j].ntargets; u++) {
				if (strcmp(pl->stages[j].targets[u], st->targets[t]))
					continue;
				yw_err(f, tn, "target \"%s\" is in stage \"%s\" and in stage \"%s\"", st->targets[t],
				       pl->stages[j].name, st->name);
				return fail_hint("deploy each target in one stage only");
			}
		}
		if (env && !config_env_target(env, st->targets[t])) {
			yw_err(f, tn, "stage \"%s\" names target \"%s\", which env \"%s\" does not have", st->name,
			       st->targets[t], env->name);
			char **names = xcalloc(env->ntargets ? env->ntargets : 1, sizeof *names);
			for (size_t j = 0; j < env->ntargets; j++)
				names[j] = env->targets[j].name;
			yw_hint_list("the targets of the env are: ", (const char *const *)names, env->ntargets,
				     "the env has no targets");
			free(names);
			return -1;
		}
	}
	return 0;
}

static const struct yw_field stage_fields[] = {
	{ .key = "name", .type = YW_FN, .fn = set_stage_name, .required = 1,
	  .hint = "give every stage a name, e.g. `name: canary`", .doc_type = "name",
	  .help = "unique within the pipeline" },
	{ .key = "targets", .type = YW_FN, .fn = set_stage_targets, .doc_type = "list of target names",
	  .doc_default = "required", .help = "targets of the env, each in one stage only" },
	{ .key = "approval", .type = YW_BOOL, .off = offsetof(struct cfg_stage, approval), .doc_type = "bool",
	  .doc_default = "`false`",
	  .help = "`true`: the stage waits (exit 3, nothing of it touched) until a signer other than the requester "
		  "approves it with `padctl approve PLAN --stage NAME`; needs `approvals`" },
};
static const struct yw_table stage_table = YW_TABLE(stage_fields, NULL);

static int set_stages(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		      const yaml_node_t *list, void *obj)
{
	struct cfg_ctx *c = w->ctx;
	struct yw_doc *f = w->doc;
	struct cfg_pipeline *pl = obj;
	const struct cfg_env *env = c->env;
	(void)fl;
	(void)map;
	(void)k;
	if (!list)
		return 0;
	if (yw_expect(f, list, YAML_SEQUENCE_NODE, "\"stages\""))
		return -1;
	size_t cnt = yw_seq_len(list);
	if (!cnt) {
		yw_err(f, list, "\"stages\" is an empty list");
		return fail_hint("list at least one stage, or remove `stages:` to deploy every target in one stage");
	}
	pl->stages = xcalloc(cnt, sizeof *pl->stages);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *item = yw_node(f, list->data.sequence.items.start[i]);
		struct cfg_stage *st = &pl->stages[pl->nstages++];
		st->line = (int)item->start_mark.line + 1;
		if (yw_walk_map(w, item, &stage_table, "a stage", st))
			return -1;
	}
	if (env) {
		/* a target left out of every stage would silently never be deployed */
		for (size_t i = 0; i < env->ntargets; i++) {
			int found = 0;
			for (size_t j = 0; j < pl->nstages && !found; j++)
				for (size_t u = 0; u < pl->stages[j].ntargets && !found; u++)
					found = !strcmp(pl->stages[j].targets[u], env->targets[i].name);
			if (!found) {
				yw_err(f, list, "target \"%s\" of env \"%s\" is in no stage", env->targets[i].name,
				       env->name);
				return fail_hint("add it to one of the stages");
			}
		}
	}
	return 0;
}

static int set_steps(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
		     const yaml_node_t *n, void *obj)
{
	struct yw_doc *f = w->doc;
	struct cfg_pipeline *pl = obj;
	(void)fl;
	(void)map;
	(void)k;
	if (yw_expect(f, n, YAML_SEQUENCE_NODE, "\"steps\""))
		return -1;
	size_t cnt = yw_seq_len(n);
	if (!cnt) {
		yw_err(f, n, "\"steps\" is an empty list");
		return fail_hint("list at least one step, e.g. `- migrate`");
	}
	pl->steps = xcalloc(cnt, sizeof *pl->steps);
	for (size_t i = 0; i < cnt; i++) {
		pl->nsteps++;
		if (step_parse(f, yw_node(f, n->data.sequence.items.start[i]), &pl->steps[i]))
			return -1;
	}
	return 0;
}

static const struct yw_field approvals_fields[] = {
	{ .key = "required", .type = YW_INT, .required = 1, .lo = 1, .hi = 100,
	  .off = offsetof(struct cfg_pipeline, approvals_required), .what = "\"approvals.required\"",
	  .hint = "say how many distinct approvers a plan needs: `required: 2`", .doc_type = "integer 1-100",
	  .doc_default = "required with `approvals`",
	  .help = "how many distinct signers other than the requester must approve a plan before `padctl deploy "
		  "ENV --plan ID` runs it; a deploy without a plan is refused with exit 3" },
	{ .key = "signers", .type = YW_FN, .fn = set_path, .required = 1, .off = offsetof(struct cfg_pipeline, signers),
	  .what = "\"approvals.signers\"",
	  .hint = "name the OpenSSH allowed_signers file, relative to the project root", .doc_type = "path",
	  .doc_default = "required with `approvals`",
	  .help = "an OpenSSH allowed_signers file: who may request and approve plans (namespace `padctl`); "
		  "checked again at every deploy, so removing a key revokes its pending approvals" },
	{ .key = "valid_for", .type = YW_INT, .lo = 1, .hi = 8760,
	  .off = offsetof(struct cfg_pipeline, approvals_valid_for), .what = "\"approvals.valid_for\" (hours)",
	  .hint = "give the hours an approval counts, e.g. `valid_for: 72`", .doc_type = "integer hours, 1-8760",
	  .doc_default = "no limit", .help = "an approval older than this no longer counts (the signed time counts)" },
};
static const struct yw_table approvals_table = YW_TABLE(approvals_fields, NULL);

static const struct yw_field pipeline_fields[] = {
	{ .key = "steps", .type = YW_FN, .fn = set_steps, .required = 1,
	  .hint = "list the steps to run, e.g. `steps: [{validate: preflight}, backup, migrate]`",
	  .doc_type = "non-empty list", .help = "the steps, run in order on each target" },
	{ .key = "on_failure", .type = YW_ENUM, .choices = failure_modes, .dflt = "rollback",
	  .off = offsetof(struct cfg_pipeline, on_failure), .doc_type = "`rollback` or `stop`",
	  .doc_default = "`rollback`", .help = "what happens when a step fails (see below)" },
	{ .key = "approvals", .type = YW_MAP, .sub = &approvals_table },
	{ .key = "stages", .type = YW_FN, .fn = set_stages, .doc_type = "list of stages",
	  .doc_default = "one stage with every target", .help = "the order targets are deployed in" },
};
static const struct yw_table pipeline_table = YW_TABLE(pipeline_fields, NULL);
int config_load_pipeline(const struct cfg_project *p, const char *name, const struct cfg_env *env,
			 struct cfg_pipeline *pl)
{
	memset(pl, 0, sizeof *pl);
	if (!name_ok(name, 1)) {
		fail("invalid pipeline name \"%s\"", yw_show(name));
		fail_hint("%s; the pipeline is the file pipelines/NAME.yml", name_hint);
		return fail_status(EXIT_USAGE);
	}
	char *file = xstrfmt("%s/pipelines/%s.yml", p->root, name);
	if (!file_exists(file)) {
		char *dir = path_join(p->root, "pipelines");
		char **known;
		size_t n;
		list_names(dir, ".yml", &known, &n);
		free(dir);
		fail("unknown pipeline \"%s\"", name);
		fail_detail("no file \"%s\"", file);
		yw_hint_list("known pipelines: ", (const char *const *)known, n,
			  "this project has no pipelines yet: create pipelines/NAME.yml");
		strv_free(known, n);
		free(file);
		return fail_status(EXIT_USAGE);
	}
	pl->name = xstrdup(name);
	pl->file = file;
	struct yw_doc f;
	struct cfg_ctx c = { .root = p->root, .p = p, .env = env, .pl = pl };
	struct yw_walk w = { &f, &c };
	int rc = yw_load(&f, file, &pipeline_table);
	if (!rc) {
		char *where = xstrfmt("pipeline \"%s\"", pl->name);
		rc = yw_walk_map(&w, yw_root(&f), &pipeline_table, where, pl);
		free(where);
	}
	yw_release(&f);
	if (rc) {
		config_pipeline_release(pl);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

/* ---------------------------------------------------------------- meta.yml */

static int set_meta_allow(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *k,
			  const yaml_node_t *v, void *obj)
{
	struct cfg_meta *m = obj;
	(void)fl;
	(void)map;
	(void)k;
	return v ? read_rule_map(w->doc, v, "\"lint.allow\"", NULL,
				 "write why the rule does not apply here: `RULE: \"the reason\"`", &m->allow, &m->nallow)
		 : 0;
}

static const struct yw_field meta_lint_fields[] = {
	{ .key = "allow", .type = YW_FN, .fn = set_meta_allow, .doc_type = "mapping of rule to reason",
	  .help = "lint rules this migration is allowed to break, each with the reason (recorded in the plan); "
		  "`protected-schema` cannot be allowed" },
};
static const struct yw_table meta_lint_table = YW_TABLE(meta_lint_fields, NULL);

static const struct yw_field meta_fields[] = {
	{ .key = "transactional", .type = YW_BOOL, .off = offsetof(struct cfg_meta, transactional), .doc_type = "bool",
	  .doc_default = "`true`",
	  .help = "`false` runs `up.sql` outside a transaction, for statements such as `CREATE INDEX CONCURRENTLY`" },
	{ .key = "destructive", .type = YW_REASON, .off = offsetof(struct cfg_meta, destructive),
	  .what = "\"destructive\" (the reason)", .doc_type = "string",
	  .help = "declares that the migration drops, truncates, renames or narrows on purpose, and why; a prod-tier "
		  "deploy refuses a migration with destructive lint findings without it" },
	{ .key = "lint", .type = YW_MAP, .sub = &meta_lint_table },
};
static const struct yw_table meta_table = YW_TABLE(meta_fields, NULL);

void config_meta_release(struct cfg_meta *m)
{
	free(m->destructive);
	config_lint_allow_free(m->allow, m->nallow);
	m->destructive = NULL;
	m->allow = NULL;
	m->nallow = 0;
}

int config_read_meta(const char *path, struct cfg_meta *m)
{
	struct yw_doc f;
	struct yw_walk w = { &f, NULL };
	int rc = yw_load(&f, path, &meta_table);
	if (!rc)
		rc = yw_walk_map(&w, yw_root(&f), &meta_table, "meta.yml", m);
	yw_release(&f);
	if (rc)
		config_meta_release(m);
	return rc ? fail_status(EXIT_USAGE) : 0;
}

int config_load_meta(const char *path, int *transactional)
{
	struct cfg_meta m = { *transactional, NULL, NULL, 0 };
	int rc = config_read_meta(path, &m);
	if (!rc)
		*transactional = m.transactional;
	config_meta_release(&m);
	return rc;
}

/* ---------------------------------------------------------------- key reference */

static const struct {
	const char *name;
	const struct yw_table *table;
} key_tables[] = {
	{ "padctl.yml", &project_table }, { "drift", &drift_table }, { "drift.scratch", &scratch_table },
	{ "env", &env_table },	   { "target", &target_table }, { "database", &db_table },
	{ "ssh", &ssh_table },		  { "pipeline", &pipeline_table }, { "stage", &stage_table },
	{ "meta.yml", &meta_table },
	{ "backfill.yml", &config_backfill_keys },
};

const char *config_key_table_name(size_t i)
{
	return i < sizeof key_tables / sizeof key_tables[0] ? key_tables[i].name : NULL;
}

int config_key_table_markdown(const char *name, struct buf *out)
{
	for (size_t i = 0; i < sizeof key_tables / sizeof key_tables[0]; i++) {
		if (!strcmp(key_tables[i].name, name)) {
			yw_table_markdown(key_tables[i].table, out);
			return 0;
		}
	}
	return -1;
}

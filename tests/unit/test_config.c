#include "unit.h"
#include "buf.h"
#include "config.h"
#include "fs.h"
#include "log.h"

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char std_pipeline[] = "steps: [backup, migrate]\n";
static const char prod_pipeline[] = "steps: [migrate]\n";

/* project makes a fresh project directory with a padctl.yml and two pipelines. */
static char *project(const char *padctl_yml)
{
	char *dir = unit_tmpdir();
	unit_write(dir, "padctl.yml", padctl_yml ? padctl_yml : "project: padealing\n");
	unit_write(dir, "pipelines/standard.yml", std_pipeline);
	unit_write(dir, "pipelines/prod.yml", prod_pipeline);
	return dir;
}

static int load_project(const char *dir, struct cfg_project *p)
{
	return config_load_project(dir, p);
}

/* forbid, when set, must appear nowhere in the error (a secret). */
static const char *forbid;

/* expect_err checks the recorded error: exit status 2, the message holds pos
 * (e.g. "envs/qa.yml:3:5:") and word; then clears it. */
static void expect_err_at(const char *pos, const char *word, const char *hint_word, int line)
{
	const char *m = err_message();
	int ok = m && err_exit_status() == EXIT_USAGE && (!pos || strstr(m, pos)) && (!word || strstr(m, word)) &&
		 (!hint_word || (err_hint() && strstr(err_hint(), hint_word))) &&
		 (!forbid || (!strstr(m, forbid) && !(err_hint() && strstr(err_hint(), forbid)) &&
			      !(err_detail() && strstr(err_detail(), forbid))));
	if (!ok)
		fprintf(stderr, "\n  line %d: expected [%s] [%s] hint [%s]\n  got status %d: %s\n  hint: %s\n", line,
			pos ? pos : "", word ? word : "", hint_word ? hint_word : "", err_exit_status(),
			m ? m : "(no error)", err_hint() ? err_hint() : "(none)");
	CU_ASSERT_TRUE(ok);
	err_clear();
}
#define EXPECT_ERR(pos, word, hint) expect_err_at(pos, word, hint, __LINE__)

/* env_err writes envs/<name>.yml, expects config_load_env to fail with the
 * error at envs/<name>.yml:<pos>. */
static void env_err_at(const char *yml, const char *name, const char *pos, const char *word, const char *hint,
		       int line)
{
	char *dir = project(NULL);
	char *rel = xstrfmt("envs/%s.yml", name);
	unit_write(dir, rel, yml);
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	struct cfg_env e;
	int rc = config_load_env(&p, name, &e);
	CU_ASSERT_EQUAL(rc, -1);
	if (rc == 0)
		config_env_release(&e);
	char *where = pos ? xstrfmt("%s:%s:", rel, pos) : NULL;
	expect_err_at(where, word, hint, line);
	free(where);
	free(rel);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
}
#define ENV_ERR(yml, pos, word, hint) env_err_at(yml, "qa", pos, word, hint, __LINE__)

static int env_ok(const char *dir, const char *name, const char *yml, struct cfg_project *p, struct cfg_env *e)
{
	char *rel = xstrfmt("envs/%s.yml", name);
	unit_write(dir, rel, yml);
	free(rel);
	if (load_project(dir, p))
		return -1;
	int rc = config_load_env(p, name, e);
	if (rc) {
		fprintf(stderr, "\n  unexpected error: %s\n", err_message());
		err_clear();
	}
	return rc;
}

static void pipeline_err_at(const char *yml, const char *env_yml, const char *pos, const char *word,
			    const char *hint, int line)
{
	char *dir = project(NULL);
	unit_write(dir, "pipelines/p.yml", yml);
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	struct cfg_env e;
	int have_env = 0;
	if (env_yml) {
		unit_write(dir, "envs/prod.yml", env_yml);
		CU_ASSERT_EQUAL_FATAL(config_load_env(&p, "prod", &e), 0);
		have_env = 1;
	}
	struct cfg_pipeline pl;
	int rc = config_load_pipeline(&p, "p", have_env ? &e : NULL, &pl);
	CU_ASSERT_EQUAL(rc, -1);
	if (rc == 0)
		config_pipeline_release(&pl);
	char *where = pos ? xstrfmt("pipelines/p.yml:%s:", pos) : NULL;
	expect_err_at(where, word, hint, line);
	free(where);
	if (have_env)
		config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
}
#define PIPELINE_ERR(yml, env, pos, word, hint) pipeline_err_at(yml, env, pos, word, hint, __LINE__)

static void project_err_at(const char *yml, const char *pos, const char *word, const char *hint, int line)
{
	char *dir = project(yml);
	struct cfg_project p;
	int rc = load_project(dir, &p);
	CU_ASSERT_EQUAL(rc, -1);
	if (rc == 0)
		config_project_release(&p);
	else
		CU_ASSERT_PTR_NULL(p.root); /* released on error */
	char *where = pos ? xstrfmt("padctl.yml:%s:", pos) : NULL;
	expect_err_at(where, word, hint, line);
	free(where);
	unit_rmrf(dir);
	free(dir);
}
#define PROJECT_ERR(yml, pos, word, hint) project_err_at(yml, pos, word, hint, __LINE__)

static int ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);
	return s && a >= b && !strcmp(s + a - b, suffix);
}

/* ---------------------------------------------------------------- project */

static void test_project_full(void)
{
	char *dir = project("# comment\n"
			    "project: padealing\n"
			    "schemas:\n"
			    "  owned: [padealing, audit]\n"
			    "  protected: [bo_airflow]\n"
			    "paths:\n"
			    "  migrations: db/migrations\n"
			    "  seeds: db/seeds\n"
			    "  contracts: /abs/contracts\n"
			    "  backfills: db/backfills\n"
			    "backups:\n"
			    "  dir: /abs/backups/\n"
			    "  keep: 3\n");
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	char real[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(dir, real));
	CU_ASSERT_STRING_EQUAL(p.root, real);
	char *file = xstrfmt("%s/padctl.yml", real);
	CU_ASSERT_STRING_EQUAL(p.file, file);
	free(file);
	CU_ASSERT_STRING_EQUAL(p.name, "padealing");
	CU_ASSERT_EQUAL_FATAL(p.nowned, 2);
	CU_ASSERT_STRING_EQUAL(p.owned[0], "padealing");
	CU_ASSERT_STRING_EQUAL(p.owned[1], "audit");
	CU_ASSERT_EQUAL_FATAL(p.nprotected, 1);
	CU_ASSERT_STRING_EQUAL(p.protected_schemas[0], "bo_airflow");
	char *m = xstrfmt("%s/db/migrations", real);
	CU_ASSERT_STRING_EQUAL(p.migrations_dir, m);
	free(m);
	CU_ASSERT_TRUE(ends_with(p.seeds_dir, "/db/seeds") && p.seeds_dir[0] == '/');
	CU_ASSERT_STRING_EQUAL(p.contracts_dir, "/abs/contracts");
	CU_ASSERT_TRUE(ends_with(p.backfills_dir, "/db/backfills"));
	CU_ASSERT_STRING_EQUAL(p.backups_dir, "/abs/backups");
	CU_ASSERT_EQUAL(p.backups_keep, 3);
	config_project_release(&p);
	CU_ASSERT_PTR_NULL(p.root);
	unit_rmrf(dir);
	free(dir);
}

static void test_project_defaults(void)
{
	char *dir = project("project: app\n");
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	CU_ASSERT_STRING_EQUAL(p.name, "app");
	CU_ASSERT_EQUAL(p.nowned, 0);
	CU_ASSERT_EQUAL(p.nprotected, 0);
	CU_ASSERT_TRUE(ends_with(p.migrations_dir, "/migrations"));
	CU_ASSERT_TRUE(ends_with(p.seeds_dir, "/seeds"));
	CU_ASSERT_TRUE(ends_with(p.contracts_dir, "/contracts"));
	CU_ASSERT_TRUE(ends_with(p.backfills_dir, "/backfills"));
	CU_ASSERT_TRUE(!strncmp(p.migrations_dir, p.root, strlen(p.root)));
	CU_ASSERT_TRUE(ends_with(p.backups_dir, "/.padctl/backups"));
	CU_ASSERT_TRUE(!strncmp(p.backups_dir, p.root, strlen(p.root)));
	CU_ASSERT_EQUAL(p.backups_keep, 10);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
}

static void test_project_errors(void)
{
	PROJECT_ERR("schemas:\n  owned: [a]\n", "1:1", "missing key \"project\"", "project: NAME");
	PROJECT_ERR("project: x\nschema:\n  owned: [a]\n", "2:1", "unknown key \"schema\"",
		    "valid keys: project, schemas, paths");
	PROJECT_ERR("project: x\nschemas:\n  owned: [a, b]\n  protected: [c, b]\n", "4:18",
		    "schema \"b\" is both owned and protected", "not both");
	PROJECT_ERR("project: x\nschemas:\n  owned: [padéaling]\n", "3:11", "invalid schema name", "identifier");
	PROJECT_ERR("project: x\nschemas:\n  owned: [1abc]\n", "3:11", "invalid schema name", NULL);
	PROJECT_ERR("project: x\nschemas:\n  owned: padealing\n", "3:10", "expected a list for \"schemas.owned\"",
		    NULL);
	PROJECT_ERR("project: x\nschemas:\n  owned: [a, a]\n", "3:14", "duplicate schema name \"a\"", NULL);
	PROJECT_ERR("project: [x]\n", "1:10", "expected a string for \"project\", found a list", NULL);
	PROJECT_ERR("project:\n", "1:9", "expected a string for \"project\", found an empty value", NULL);
	PROJECT_ERR("project: x\npaths:\n  migration: m\n", "3:3", "unknown key \"migration\"",
		    "migrations, seeds, contracts, backfills");
	PROJECT_ERR("- project: x\n", "1:1", "expected a mapping at the top of the file, found a list", NULL);
	PROJECT_ERR("", "1:1", "empty file", "project");
	PROJECT_ERR("# only a comment\n\n", "1:1", "empty file", NULL);
	PROJECT_ERR("project: x\n---\nproject: y\n", "2:1", "second YAML document", NULL);
	PROJECT_ERR("project: x\nproject: y\n", "2:1", "duplicate key \"project\"", NULL);
	/* backups: never through "..", never / or the project root, keep at least 1 */
	PROJECT_ERR("project: x\nbackups:\n  dir: a/../../b\n", "3:8", "has a \"..\" component", "absolute path");
	PROJECT_ERR("project: x\nbackups:\n  dir: ..\n", "3:8", "has a \"..\" component", NULL);
	PROJECT_ERR("project: x\nbackups:\n  dir: \"a\\tb\"\n", "3:8", "holds a control character", NULL);
	PROJECT_ERR("project: x\nbackups:\n  dir: /./\n", "3:8", "is the root directory", NULL);
	PROJECT_ERR("project: x\nbackups:\n  dir: ./.\n", "3:8", "is the project root", NULL);
	PROJECT_ERR("project: x\nbackups:\n  keep: 0\n", "3:9", "\"backups.keep\" 0 is out of range", NULL);
	PROJECT_ERR("project: x\nbackups:\n  kept: 3\n", "3:3", "unknown key \"kept\"", "dir, keep");
	/* 63 characters is PostgreSQL's limit for a name */
	char *ok63 = xstrfmt("project: x\nschemas:\n  owned: [s%062d]\n", 0);
	char *dir = project(ok63);
	struct cfg_project p;
	CU_ASSERT_EQUAL(load_project(dir, &p), 0);
	if (!err_pending()) {
		CU_ASSERT_EQUAL(strlen(p.owned[0]), 63);
		config_project_release(&p);
	}
	err_clear();
	unit_rmrf(dir);
	free(dir);
	free(ok63);
	char *long64 = xstrfmt("project: x\nschemas:\n  owned: [a%063d]\n", 0);
	PROJECT_ERR(long64, "3:11", "invalid schema name", "63");
	free(long64);
}

/* ---------------------------------------------------------------- env */

static const char qa_yml[] =
	"tier: nonprod               # prod: approvals required\n"
	"pipeline: standard\n"
	"targets:\n"
	"  qa:\n"
	"    database:\n"
	"      host: db.qa.internal\n"
	"      port: 5433\n"
	"      dbname: backoffice_db\n"
	"      user: pad_app_user\n"
	"      password_env: PADCTL_QA_PASSWORD\n"
	"      sslmode: verify-full\n"
	"      connect_timeout: 3\n"
	"    ssh:\n"
	"      host: bastion.qa.internal\n"
	"      user: deploy\n"
	"      identity: ~/.ssh/id_ed25519\n"
	"      passphrase_env: KEY_PASS\n"
	"      tunnel: yes\n"
	"      tools: remote\n"
	"  qa2:\n"
	"    database:\n"
	"      host: db2.qa.internal\n"
	"      passfile: conf/pgpass\n"
	"      password_command: pass show qa\n"
	"    ssh:\n"
	"      host: bastion2\n"
	"      port: 2222\n"
	"      known_hosts: /etc/ssh/known\n"
	"ledger: qa2\n"
	"migrations:\n"
	"  skip:\n"
	"    \"0017\": schemas already exist in this environment\n"
	"    18: not needed\n"
	"seeds: [common, qa]\n";

static void test_env_full(void)
{
	char *dir = project(NULL);
	struct cfg_project p;
	struct cfg_env e;
	char *old_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	setenv("HOME", "/home/tester", 1);
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "qa", qa_yml, &p, &e), 0);
	CU_ASSERT_STRING_EQUAL(e.name, "qa");
	CU_ASSERT_TRUE(ends_with(e.file, "/envs/qa.yml") && e.file[0] == '/');
	CU_ASSERT_STRING_EQUAL(e.tier, "nonprod");
	CU_ASSERT_STRING_EQUAL(e.pipeline, "standard");
	CU_ASSERT_EQUAL(e.pipeline_line, 2);
	CU_ASSERT_STRING_EQUAL(e.ledger, "qa2");
	CU_ASSERT_EQUAL_FATAL(e.ntargets, 2);
	const struct cfg_target *t = config_env_target(&e, "qa");
	CU_ASSERT_PTR_EQUAL_FATAL(t, &e.targets[0]);
	CU_ASSERT_STRING_EQUAL(t->name, "qa");
	CU_ASSERT_EQUAL(t->line, 4);
	CU_ASSERT_EQUAL(t->db.line, 6);
	CU_ASSERT_EQUAL(t->db.managed, 0);
	CU_ASSERT_STRING_EQUAL(t->db.host, "db.qa.internal");
	CU_ASSERT_EQUAL(t->db.port, 5433);
	CU_ASSERT_STRING_EQUAL(t->db.dbname, "backoffice_db");
	CU_ASSERT_STRING_EQUAL(t->db.user, "pad_app_user");
	CU_ASSERT_STRING_EQUAL(t->db.password_env, "PADCTL_QA_PASSWORD");
	CU_ASSERT_PTR_NULL(t->db.password_command);
	CU_ASSERT_PTR_NULL(t->db.passfile);
	CU_ASSERT_STRING_EQUAL(t->db.sslmode, "verify-full");
	CU_ASSERT_EQUAL(t->db.connect_timeout, 3);
	CU_ASSERT_EQUAL(t->db.nfixtures, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->ssh);
	CU_ASSERT_STRING_EQUAL(t->ssh->host, "bastion.qa.internal");
	CU_ASSERT_EQUAL(t->ssh->port, 22);
	CU_ASSERT_STRING_EQUAL(t->ssh->user, "deploy");
	CU_ASSERT_STRING_EQUAL(t->ssh->identity, "/home/tester/.ssh/id_ed25519");
	CU_ASSERT_STRING_EQUAL(t->ssh->passphrase_env, "KEY_PASS");
	CU_ASSERT_STRING_EQUAL(t->ssh->known_hosts, "/home/tester/.ssh/known_hosts");
	CU_ASSERT_EQUAL(t->ssh->tunnel, 1);
	CU_ASSERT_STRING_EQUAL(t->ssh->tools, "remote");
	CU_ASSERT_EQUAL(t->ssh->line, 14);

	t = config_env_target(&e, "qa2");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->db.port, 5432);
	CU_ASSERT_STRING_EQUAL(t->db.dbname, "padealing"); /* the project name */
	CU_ASSERT_STRING_EQUAL(t->db.sslmode, "prefer");
	CU_ASSERT_EQUAL(t->db.connect_timeout, 10);
	CU_ASSERT_STRING_EQUAL(t->db.password_command, "pass show qa");
	char *pf = xstrfmt("%s/conf/pgpass", p.root);
	CU_ASSERT_STRING_EQUAL(t->db.passfile, pf);
	free(pf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->ssh);
	CU_ASSERT_EQUAL(t->ssh->port, 2222);
	CU_ASSERT_PTR_NULL(t->ssh->identity);
	CU_ASSERT_PTR_NULL(t->ssh->user);
	CU_ASSERT_STRING_EQUAL(t->ssh->known_hosts, "/etc/ssh/known");
	CU_ASSERT_EQUAL(t->ssh->tunnel, 0);
	CU_ASSERT_STRING_EQUAL(t->ssh->tools, "local");
	CU_ASSERT_PTR_NULL(config_env_target(&e, "nope"));

	CU_ASSERT_EQUAL_FATAL(e.nskips, 2);
	CU_ASSERT_STRING_EQUAL(e.skips[0].version, "0017");
	CU_ASSERT_STRING_EQUAL(e.skips[0].reason, "schemas already exist in this environment");
	CU_ASSERT_EQUAL(e.skips[0].line, 32);
	CU_ASSERT_STRING_EQUAL(e.skips[1].version, "18"); /* an int scalar, as written */
	CU_ASSERT_PTR_EQUAL(config_env_skip(&e, "0017"), &e.skips[0]);
	CU_ASSERT_PTR_EQUAL(config_env_skip(&e, "17"), &e.skips[0]);
	CU_ASSERT_PTR_EQUAL(config_env_skip(&e, "0018"), &e.skips[1]);
	CU_ASSERT_PTR_NULL(config_env_skip(&e, "0170"));
	CU_ASSERT_PTR_NULL(config_env_skip(&e, "1"));
	CU_ASSERT_EQUAL_FATAL(e.nseeds, 2);
	CU_ASSERT_STRING_EQUAL(e.seeds[0], "common");
	CU_ASSERT_STRING_EQUAL(e.seeds[1], "qa");
	config_env_release(&e);
	CU_ASSERT_PTR_NULL(e.targets);
	config_project_release(&p);
	if (old_home)
		setenv("HOME", old_home, 1);
	else
		unsetenv("HOME");
	free(old_home);
	unit_rmrf(dir);
	free(dir);
}

static void test_env_defaults(void)
{
	char *dir = project(NULL);
	struct cfg_project p;
	struct cfg_env e;
	char *old_user = getenv("USER") ? xstrdup(getenv("USER")) : NULL;
	setenv("USER", "alice", 1);
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "dev", "targets:\n  dev:\n    database:\n      host: h\n", &p, &e), 0);
	CU_ASSERT_STRING_EQUAL(e.tier, "nonprod");
	CU_ASSERT_STRING_EQUAL(e.pipeline, "standard");
	CU_ASSERT_EQUAL(e.pipeline_line, 0);
	CU_ASSERT_STRING_EQUAL(e.ledger, "dev");
	CU_ASSERT_EQUAL(e.nskips, 0);
	CU_ASSERT_EQUAL(e.nseeds, 0);
	CU_ASSERT_EQUAL_FATAL(e.ntargets, 1);
	const struct cfg_target *t = &e.targets[0];
	CU_ASSERT_EQUAL(t->db.managed, 0);
	CU_ASSERT_STRING_EQUAL(t->db.host, "h");
	CU_ASSERT_EQUAL(t->db.port, 5432);
	CU_ASSERT_STRING_EQUAL(t->db.dbname, "padealing");
	CU_ASSERT_STRING_EQUAL(t->db.user, "alice");
	CU_ASSERT_STRING_EQUAL(t->db.sslmode, "prefer");
	CU_ASSERT_EQUAL(t->db.connect_timeout, 10);
	CU_ASSERT_PTR_NULL(t->ssh);
	config_env_release(&e);
	config_project_release(&p);

	/* no $USER: "postgres"; a target with no settings at all is localhost */
	unsetenv("USER");
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "dev", "targets:\n  dev:\n", &p, &e), 0);
	CU_ASSERT_STRING_EQUAL(e.targets[0].db.user, "postgres");
	CU_ASSERT_STRING_EQUAL(e.targets[0].db.host, "127.0.0.1");
	CU_ASSERT_EQUAL(e.targets[0].db.managed, 0);
	config_env_release(&e);
	config_project_release(&p);
	if (old_user)
		setenv("USER", old_user, 1);
	free(old_user);

	/* tier prod defaults to the prod pipeline */
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "prod", "tier: prod\ntargets: {p1: {database: {host: h}}}\n", &p, &e), 0);
	CU_ASSERT_STRING_EQUAL(e.tier, "prod");
	CU_ASSERT_STRING_EQUAL(e.pipeline, "prod");
	/* automatic rollback may restore outside prod, not in prod unless the env says so */
	CU_ASSERT_EQUAL(e.rollback_restore, 0);
	config_env_release(&e);
	config_project_release(&p);
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "prod", "tier: prod\nrollback: {restore: true}\ntargets: {p1: {}}\n", &p, &e), 0);
	CU_ASSERT_EQUAL(e.rollback_restore, 1);
	config_env_release(&e);
	config_project_release(&p);
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "dev", "targets: {d1: {}}\n", &p, &e), 0);
	CU_ASSERT_EQUAL(e.rollback_restore, 1);
	config_env_release(&e);
	config_project_release(&p);
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "dev", "rollback:\n  restore: no\ntargets: {d1: {}}\n", &p, &e), 0);
	CU_ASSERT_EQUAL(e.rollback_restore, 0);
	config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
}

static void test_env_local(void)
{
	char *dir = project(NULL);
	struct cfg_project p;
	struct cfg_env e;
	/* no targets: one managed target named local */
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "local", "seeds: [common, local]\n", &p, &e), 0);
	CU_ASSERT_EQUAL_FATAL(e.ntargets, 1);
	CU_ASSERT_STRING_EQUAL(e.targets[0].name, "local");
	CU_ASSERT_EQUAL(e.targets[0].db.managed, 1);
	CU_ASSERT_PTR_NULL(e.targets[0].db.host);
	CU_ASSERT_STRING_EQUAL(e.targets[0].db.dbname, "padealing");
	CU_ASSERT_STRING_EQUAL(e.ledger, "local");
	config_env_release(&e);
	config_project_release(&p);

	/* no host: managed; a host: not managed; fixtures kept absolute, not checked yet */
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "local",
				     "targets:\n"
				     "  mine:\n"
				     "    database:\n"
				     "      dbname: pad\n"
				     "      fixtures: [db/fixtures/missing.sql, /abs/f.sql]\n"
				     "  theirs:\n"
				     "    database: {host: localhost, port: 5439}\n",
				     &p, &e),
			      0);
	CU_ASSERT_EQUAL_FATAL(e.ntargets, 2);
	CU_ASSERT_EQUAL(e.targets[0].db.managed, 1);
	CU_ASSERT_STRING_EQUAL(e.targets[0].db.dbname, "pad");
	CU_ASSERT_EQUAL_FATAL(e.targets[0].db.nfixtures, 2);
	char *fx = xstrfmt("%s/db/fixtures/missing.sql", p.root);
	CU_ASSERT_STRING_EQUAL(e.targets[0].db.fixtures[0], fx);
	free(fx);
	CU_ASSERT_STRING_EQUAL(e.targets[0].db.fixtures[1], "/abs/f.sql");
	CU_ASSERT_EQUAL(e.targets[1].db.managed, 0);
	CU_ASSERT_EQUAL(e.targets[1].db.port, 5439);
	config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);

	const char *local_err[][4] = {
		{ "targets:\n  local:\n    database:\n      managed: true\n      host: h\n", "5:7",
		  "\"host\" set for the managed database", "managed: false" },
		{ "targets:\n  local:\n    database:\n      port: 5432\n", "4:7", "\"port\" set for the managed database",
		  "host" },
		{ "targets:\n  local:\n    database:\n      managed: on\n      password_env: X\n", "5:7",
		  "\"password_env\" set for the managed database", NULL },
		{ "targets:\n  local:\n    database:\n      host: h\n      fixtures: [a.sql]\n", "5:7",
		  "\"fixtures\" set for the database of target \"local\", which is not managed", NULL },
		{ "targets: {}\n", "1:10", "no targets", NULL },
		{ "targets:\n  local:\n    database:\n      managed: maybe\n", "4:16", "expected a boolean for \"managed\"",
		  "true or false" },
	};
	for (size_t i = 0; i < sizeof local_err / sizeof local_err[0]; i++)
		env_err_at(local_err[i][0], "local", local_err[i][1], local_err[i][2], local_err[i][3], __LINE__);
}

static void test_env_errors(void)
{
	ENV_ERR("targets:\n  qa:\n    database:\n      hots: db\n", "4:7", "unknown key \"hots\" in the database of target \"qa\"",
		"valid keys: managed, host, port");
	ENV_ERR("tiers: prod\ntargets: {qa: {}}\n", "1:1", "unknown key \"tiers\"", "tier, pipeline");
	ENV_ERR("targets:\n  qa:\n    db: {}\n", "3:5", "unknown key \"db\" in target \"qa\"", "database, ssh");
	ENV_ERR("targets:\n  qa:\n    ssh: {host: b, tunel: true}\n", "3:20", "unknown key \"tunel\"", "tunnel");
	ENV_ERR("targets: [qa]\n", "1:10", "expected a mapping for \"targets\", found a list", NULL);
	ENV_ERR("targets:\n  qa:\n    database: db.internal\n", "3:15", "expected a mapping", NULL);
	ENV_ERR("targets: {qa: {}}\nseeds: common\n", "2:8", "expected a list for \"seeds\", found a string", NULL);
	ENV_ERR("targets: {qa: {}}\nseeds: [common, [x]]\n", "2:17", "expected a string for \"seeds\"", NULL);
	ENV_ERR("targets: {qa: {}}\nseeds: [../etc]\n", "2:9", "invalid seed set \"../etc\"", NULL);
	ENV_ERR("targets: {qa: {}}\ntier: production\n", "2:7", "invalid \"tier\" \"production\"", "nonprod, prod");
	ENV_ERR("targets: {qa: {database: {sslmode: strict}}}\n", "1:36", "invalid \"sslmode\"", "verify-full");
	ENV_ERR("targets: {qa: {ssh: {host: b, tools: both}}}\n", "1:38", "invalid \"ssh.tools\"", "local, remote");
	ENV_ERR("targets: {qa: {ssh: {host: b, tunnel: 2}}}\n", "1:39", "expected a boolean for \"ssh.tunnel\"", NULL);
	ENV_ERR("targets: {qa: {ssh: {host: b, passphrase_env: K}}}\n", "1:47",
		"\"ssh.passphrase_env\" without \"ssh.identity\"", "set identity:");
	ENV_ERR("targets: {qa: {ssh: {user: b}}}\n", "1:21", "missing key \"host\" in the ssh of target \"qa\"", NULL);
	ENV_ERR("targets: {qa: {}}\nrollback: {restore: maybe}\n", "2:21", "expected a boolean for \"rollback.restore\"",
		NULL);
	ENV_ERR("targets: {qa: {}}\nrollback: {strategy: down}\n", "2:12", "unknown key \"strategy\"", "restore");
	/* tabs and garbage: libyaml's own problem text, at its position */
	ENV_ERR("targets:\n\tqa: {}\n", "2:1", "invalid YAML", "tabs");
	ENV_ERR("targets: {qa: [}\n", "1:16", "invalid YAML", NULL);
	ENV_ERR("\x01\x02 binary\n", "1:1", "invalid YAML", NULL);
	ENV_ERR("targets:\n  qa: {database: {host: \"a\xff\"}}\n", "2:27", "invalid YAML", NULL);
	ENV_ERR("", "1:1", "empty file", "targets");
	ENV_ERR("  \n# nothing\n", "1:1", "empty file", NULL);
	ENV_ERR("just a string\n", "1:1", "expected a mapping at the top of the file", NULL);
	/* duplicates */
	ENV_ERR("targets:\n  qa: {}\n  qa2: {}\n  qa: {}\n", "4:3", "duplicate target \"qa\"", NULL);
	ENV_ERR("tier: prod\ntargets: {qa: {}}\ntier: nonprod\n", "3:1", "duplicate key \"tier\"", NULL);
	ENV_ERR("targets:\n  qa:\n    database:\n      host: a\n      port: 1\n      host: b\n", "6:7",
		"duplicate key \"host\"", NULL);
	ENV_ERR("targets: {qa: {}}\nseeds: [a, b, a]\n", "2:15", "duplicate seed set \"a\"", NULL);
	/* required keys */
	ENV_ERR("tier: nonprod\n", "1:1", "missing key \"targets\" in env \"qa\"", "targets:");
	ENV_ERR("tier: nonprod\ntargets:\n", "2:9", "expected a mapping for \"targets\", found an empty value", NULL);
	ENV_ERR("targets: {}\n", "1:10", "no targets in env \"qa\"", NULL);
	/* pipeline that does not exist: named at the env line that names it */
	ENV_ERR("tier: nonprod\npipeline: fast\ntargets: {qa: {}}\n", "2:11", "pipeline \"fast\" does not exist",
		"prod, standard");
	ENV_ERR("pipeline: ../../x\ntargets: {qa: {}}\n", "1:11", "invalid pipeline name", NULL);
	/* ports and integers */
	ENV_ERR("targets: {qa: {database: {port: 0}}}\n", "1:33", "\"port\" 0 is out of range", "1 to 65535");
	ENV_ERR("targets: {qa: {database: {port: 70000}}}\n", "1:33", "out of range", NULL);
	ENV_ERR("targets: {qa: {database: {port: 5432x}}}\n", "1:33", "expected an integer for \"port\", found \"5432x\"",
		NULL);
	ENV_ERR("targets: {qa: {database: {port: \" 5432\"}}}\n", "1:33", "expected an integer", NULL);
	ENV_ERR("targets: {qa: {database: {port: 99999999999999999999}}}\n", "1:33", "expected an integer", NULL);
	ENV_ERR("targets: {qa: {database: {port: 0x10}}}\n", "1:33", "expected an integer", NULL);
	ENV_ERR("targets: {qa: {database: {port: {a: 1}}}}\n", "1:33", "expected an integer for \"port\", found a mapping",
		NULL);
	ENV_ERR("targets: {qa: {database: {connect_timeout: -1}}}\n", "1:44", "out of range", NULL);
	ENV_ERR("targets: {qa: {ssh: {host: h, port: 65536}}}\n", "1:37", "\"ssh.port\" 65536 is out of range", NULL);
	/* ledger, names */
	ENV_ERR("ledger: qa3\ntargets: {qa: {}, qa2: {}}\n", "1:9", "ledger \"qa3\" is not a target", "qa, qa2");
	ENV_ERR("targets:\n  прод: {}\n", "2:3", "invalid target name", "ASCII");
	ENV_ERR("targets:\n  \"qa one\": {}\n", "2:3", "invalid target name \"qa one\"", NULL);
	ENV_ERR("targets:\n  [a]: {}\n", "2:3", "expected a string as a key", NULL);
	ENV_ERR("targets: {qa: {database: {password_env: PADCTL_QA_PASSWORD, password_command: cat x}}}\n", "1:61",
		"both password_env and password_command", NULL);
	ENV_ERR("targets: {qa: {database: {host: \"a\\0b\"}}}\n", "1:33", "contains a NUL character", NULL);
	ENV_ERR("targets: {qa: {database: {host: \"\"}}}\n", "1:33", "expected a non-empty string", NULL);
}

static void test_env_secrets(void)
{
	const char *secret = "hunter2-TOPSECRET";
	char *yml = xstrfmt("targets:\n  qa:\n    database:\n      host: h\n      password: %s\n", secret);
	char *dir = project(NULL);
	unit_write(dir, "envs/qa.yml", yml);
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	struct cfg_env e;
	CU_ASSERT_EQUAL(config_load_env(&p, "qa", &e), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err_message());
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "envs/qa.yml:5:7:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "plaintext"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "password"));
	CU_ASSERT_PTR_NULL(strstr(err_message(), "TOPSECRET"));
	CU_ASSERT_PTR_NULL(err_detail() ? strstr(err_detail(), "TOPSECRET") : NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err_hint());
	CU_ASSERT_PTR_NOT_NULL(strstr(err_hint(), "password_env"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_hint(), "password_command"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_hint(), "passfile"));
	CU_ASSERT_PTR_NULL(strstr(err_hint(), "TOPSECRET"));
	CU_ASSERT_EQUAL(err_exit_status(), EXIT_USAGE);
	err_clear();
	free(yml);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);

	/* a secret pasted where a variable name belongs is not echoed either */
	forbid = "s3cr3t";
	ENV_ERR("targets: {qa: {database: {password_env: \"s3cr3t p@ss\"}}}\n", "1:41",
		"\"password_env\" must name an environment variable", "not its value");
	forbid = "opensesame";
	ENV_ERR("targets: {qa: {ssh: {host: b, passphrase: opensesame}}}\n", "1:31", "plaintext secret \"passphrase\"",
		"passphrase_env");
	/* even a duplicated password key names the key, never the value */
	forbid = "abc123";
	ENV_ERR("targets: {qa: {database: {password: abc123, host: h, password: abc123}}}\n", "1:27",
		"plaintext secret \"password\"", NULL);
	forbid = NULL;
}

static void test_env_skips(void)
{
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip:\n    v17: reason\n", "4:5",
		"invalid migration version \"v17\"", "0017");
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip:\n    17a: reason\n", "4:5", "invalid migration version", NULL);
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip:\n    1.5: reason\n", "4:5", "invalid migration version", NULL);
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip:\n    -17: reason\n", "4:5", "invalid migration version", NULL);
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip:\n    17: a\n    \"0017\": b\n", "5:5",
		"migration version \"0017\" is skipped twice (also at line 4)", NULL);
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip:\n    \"17\": a\n    \"17\": b\n", "5:5",
		"duplicate version \"17\"", NULL);
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip:\n    17:\n", "4:8", "expected a reason", NULL);
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skip: [17]\n", "3:9", "expected a mapping for \"migrations.skip\"",
		NULL);
	ENV_ERR("targets: {qa: {}}\nmigrations:\n  skipped: {}\n", "3:3", "unknown key \"skipped\"", "skip");

	char *dir = project(NULL);
	struct cfg_project p;
	struct cfg_env e;
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "qa", "targets: {qa: {}}\nmigrations:\n  skip:\n    0017: plain zero-padded\n"
					     "    \"0003\": quoted\n    5: int\n",
				     &p, &e),
			      0);
	CU_ASSERT_EQUAL_FATAL(e.nskips, 3);
	CU_ASSERT_STRING_EQUAL(e.skips[0].version, "0017");
	CU_ASSERT_STRING_EQUAL(e.skips[1].version, "0003");
	CU_ASSERT_STRING_EQUAL(e.skips[2].version, "5");
	CU_ASSERT_STRING_EQUAL(config_env_skip(&e, "0005")->reason, "int");
	config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
}

static void test_env_unknown(void)
{
	char *dir = project(NULL);
	unit_write(dir, "envs/dev.yml", "targets: {dev: {}}\n");
	unit_write(dir, "envs/qa.yml", "targets: {qa: {}}\n");
	unit_write(dir, "envs/notes.txt", "x\n");
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	char **names;
	size_t n;
	CU_ASSERT_EQUAL(config_list_envs(&p, &names, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(names[0], "dev");
	CU_ASSERT_STRING_EQUAL(names[1], "qa");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	struct cfg_env e;
	CU_ASSERT_EQUAL(config_load_env(&p, "prod", &e), -1);
	EXPECT_ERR(NULL, "unknown env \"prod\"", "known envs: dev, qa");
	CU_ASSERT_EQUAL(config_load_env(&p, "../padctl", &e), -1);
	EXPECT_ERR(NULL, "invalid env name \"../padctl\"", NULL);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);

	dir = project(NULL);
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	CU_ASSERT_EQUAL(config_list_envs(&p, &names, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	free(names);
	CU_ASSERT_EQUAL(config_load_env(&p, "qa", &e), -1);
	EXPECT_ERR(NULL, "unknown env \"qa\"", "no envs yet");
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
}

/* ---------------------------------------------------------------- pipeline */

static const char prod_env[] = "tier: prod\n"
			       "targets:\n"
			       "  prod-canary: {database: {host: c}}\n"
			       "  prod-eu: {database: {host: e}}\n"
			       "  prod-us: {database: {host: u}}\n";

static void test_pipeline_full(void)
{
	char *dir = project(NULL);
	unit_write(dir, "pipelines/p.yml",
		   "approvals:\n"
		   "  required: 2\n"
		   "  signers: pipelines/approvers.allowed_signers\n"
		   "stages:\n"
		   "  - name: canary\n"
		   "    targets: [prod-canary]\n"
		   "  - name: main\n"
		   "    targets: [prod-eu, prod-us]\n"
		   "    approval: true\n"
		   "steps:\n"
		   "  - validate: preflight\n"
		   "  - backup\n"
		   "  - migrate: {allow_out_of_order: true, phase: apply, batch: 10}\n"
		   "  - {validate: postflight}\n"
		   "on_failure: stop\n");
	unit_write(dir, "envs/prod.yml", prod_env);
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	struct cfg_env e;
	CU_ASSERT_EQUAL_FATAL(config_load_env(&p, "prod", &e), 0);
	struct cfg_pipeline pl;
	CU_ASSERT_EQUAL_FATAL(config_load_pipeline(&p, "p", &e, &pl), 0);
	CU_ASSERT_STRING_EQUAL(pl.name, "p");
	CU_ASSERT_TRUE(ends_with(pl.file, "/pipelines/p.yml") && pl.file[0] == '/');
	CU_ASSERT_EQUAL_FATAL(pl.nsteps, 4);
	CU_ASSERT_STRING_EQUAL(pl.steps[0].plugin, "validate");
	CU_ASSERT_STRING_EQUAL(pl.steps[0].phase, "preflight");
	CU_ASSERT_EQUAL(pl.steps[0].line, 11);
	CU_ASSERT_EQUAL(pl.steps[0].col, 5);
	CU_ASSERT_STRING_EQUAL(pl.steps[1].plugin, "backup");
	CU_ASSERT_PTR_NULL(pl.steps[1].phase);
	CU_ASSERT_EQUAL(pl.steps[1].nopts, 0);
	CU_ASSERT_STRING_EQUAL(pl.steps[2].plugin, "migrate");
	CU_ASSERT_STRING_EQUAL(pl.steps[2].phase, "apply");
	CU_ASSERT_EQUAL_FATAL(pl.steps[2].nopts, 2);
	CU_ASSERT_STRING_EQUAL(pl.steps[2].opts[0].key, "allow_out_of_order");
	CU_ASSERT_STRING_EQUAL(pl.steps[2].opts[0].value, "true");
	CU_ASSERT_EQUAL(pl.steps[2].opts[0].line, 13);
	CU_ASSERT_EQUAL(pl.steps[2].opts[0].col, 15);
	CU_ASSERT_STRING_EQUAL(pl.steps[2].opts[1].key, "batch");
	CU_ASSERT_STRING_EQUAL(pl.steps[2].opts[1].value, "10");
	CU_ASSERT_STRING_EQUAL(pl.steps[3].plugin, "validate");
	CU_ASSERT_STRING_EQUAL(pl.steps[3].phase, "postflight");
	CU_ASSERT_STRING_EQUAL(pl.on_failure, "stop");
	CU_ASSERT_EQUAL(pl.approvals_required, 2);
	char *signers = xstrfmt("%s/pipelines/approvers.allowed_signers", p.root);
	CU_ASSERT_STRING_EQUAL(pl.signers, signers);
	free(signers);
	CU_ASSERT_EQUAL_FATAL(pl.nstages, 2);
	CU_ASSERT_STRING_EQUAL(pl.stages[0].name, "canary");
	CU_ASSERT_EQUAL(pl.stages[0].line, 5);
	CU_ASSERT_EQUAL(pl.stages[0].approval, 0);
	CU_ASSERT_EQUAL_FATAL(pl.stages[0].ntargets, 1);
	CU_ASSERT_STRING_EQUAL(pl.stages[0].targets[0], "prod-canary");
	CU_ASSERT_STRING_EQUAL(pl.stages[1].name, "main");
	CU_ASSERT_EQUAL(pl.stages[1].approval, 1);
	CU_ASSERT_EQUAL_FATAL(pl.stages[1].ntargets, 2);
	CU_ASSERT_STRING_EQUAL(pl.stages[1].targets[1], "prod-us");
	config_pipeline_release(&pl);
	CU_ASSERT_PTR_NULL(pl.steps);

	/* defaults, and no env: stage targets unchecked */
	CU_ASSERT_EQUAL_FATAL(config_load_pipeline(&p, "standard", NULL, &pl), 0);
	CU_ASSERT_EQUAL(pl.nsteps, 2);
	CU_ASSERT_STRING_EQUAL(pl.on_failure, "rollback");
	CU_ASSERT_EQUAL(pl.approvals_required, 0);
	CU_ASSERT_PTR_NULL(pl.signers);
	CU_ASSERT_EQUAL(pl.nstages, 0);
	config_pipeline_release(&pl);

	CU_ASSERT_EQUAL(config_load_pipeline(&p, "fast", &e, &pl), -1);
	EXPECT_ERR(NULL, "unknown pipeline \"fast\"", "known pipelines: p, prod, standard");
	config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
}

static void test_pipeline_errors(void)
{
	PIPELINE_ERR("on_failure: stop\n", NULL, "1:1", "missing key \"steps\"", "steps:");
	PIPELINE_ERR("steps: []\n", NULL, "1:8", "\"steps\" is an empty list", NULL);
	PIPELINE_ERR("steps: migrate\n", NULL, "1:8", "expected a list for \"steps\", found a string", NULL);
	PIPELINE_ERR("steps:\n  - migrate\n  - {validate: preflight, backup: x}\n", NULL, "3:5",
		     "one key, found 2 keys", NULL);
	PIPELINE_ERR("steps:\n  - migrate\n  - [backup]\n", NULL, "3:5", "expected a step", NULL);
	PIPELINE_ERR("steps:\n  - migrate: {a: [1]}\n", NULL, "2:18", "expected a scalar for option \"a\"", NULL);
	PIPELINE_ERR("steps:\n  - migrate: {a: 1, a: 2}\n", NULL, "2:21", "duplicate option \"a\"", NULL);
	PIPELINE_ERR("steps:\n  - mi grate\n", NULL, "2:5", "invalid plugin name", NULL);
	PIPELINE_ERR("steps: [migrate]\non_failure: retry\n", NULL, "2:13", "invalid \"on_failure\" \"retry\"",
		     "rollback, stop");
	PIPELINE_ERR("steps: [migrate]\nonfailure: stop\n", NULL, "2:1", "unknown key \"onfailure\"",
		     "valid keys: steps, on_failure, approvals, stages");
	PIPELINE_ERR("steps: [migrate]\napprovals: {required: 0, signers: s}\n", NULL, "2:23",
		     "\"approvals.required\" 0 is out of range", NULL);
	PIPELINE_ERR("steps: [migrate]\napprovals: {required: two, signers: s}\n", NULL, "2:23",
		     "expected an integer for \"approvals.required\"", NULL);
	PIPELINE_ERR("steps: [migrate]\napprovals: {required: 2}\n", NULL, "2:12", "missing key \"signers\"", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n    targets: [prod-eu]\n  - name: a\n    targets: [prod-us]\n",
		     NULL, "5:11", "duplicate stage \"a\" (also at line 3)", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n    targets: [prod-eu]\n  - name: b\n"
		     "    targets: [prod-us, prod-eu]\n",
		     NULL, "6:24", "target \"prod-eu\" is in stage \"a\" and in stage \"b\"", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n    targets: [prod-eu, prod-asia]\n", prod_env, "4:24",
		     "stage \"a\" names target \"prod-asia\", which env \"prod\" does not have",
		     "prod-canary, prod-eu, prod-us");
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n    targets: [prod-eu, prod-us]\n", prod_env, "3:3",
		     "target \"prod-canary\" of env \"prod\" is in no stage", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - targets: [x]\n", NULL, "3:5", "missing key \"name\"", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n", NULL, "3:5", "missing key \"targets\" in stage \"a\"",
		     NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n    targets: []\n", NULL, "4:14", "has no targets", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n    targets: [x]\n    aproval: true\n", NULL, "5:5",
		     "unknown key \"aproval\"", "name, targets, approval");
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: a\n    targets: [x]\n    approval: sure\n", NULL, "5:15",
		     "expected a boolean for \"approval\"", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages: {a: 1}\n", NULL, "2:9", "expected a list for \"stages\"", NULL);
	PIPELINE_ERR("steps: [migrate]\nstages:\n  - name: ünï\n    targets: [x]\n", NULL, "3:11", "invalid stage name",
		     NULL);
}

/* ---------------------------------------------------------------- hostile */

static void test_long_strings(void)
{
	char *dir = project(NULL);
	struct buf host = BUF_INIT, yml = BUF_INIT;
	for (int i = 0; i < 100000; i++)
		buf_addch(&host, 'h');
	buf_addf(&yml, "targets:\n  qa:\n    database:\n      host: %s\n", buf_str(&host));
	struct cfg_project p;
	struct cfg_env e;
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "qa", buf_str(&yml), &p, &e), 0);
	CU_ASSERT_EQUAL(strlen(e.targets[0].db.host), 100000);
	config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);

	/* a very long invalid name: refused, and the message stays short */
	buf_reset(&yml);
	/* (libyaml limits a plain key to 1024 characters) */
	buf_addf(&yml, "targets:\n  %.1000s\u00e9: {}\n", buf_str(&host));
	dir = project(NULL);
	unit_write(dir, "envs/qa.yml", buf_str(&yml));
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	CU_ASSERT_EQUAL(config_load_env(&p, "qa", &e), -1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(err_message());
	if (!strstr(err_message(), "envs/qa.yml:2:3: invalid target name") || !strstr(err_message(), "..."))
		fprintf(stderr, "\n  got: %.400s\n", err_message());
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "envs/qa.yml:2:3: invalid target name"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "..."));
	CU_ASSERT_TRUE(strlen(err_message()) < strlen(p.root) + 300);
	err_clear();
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);
	buf_release(&host);
	buf_release(&yml);

	/* control characters in a name are escaped, never sent to the terminal raw */
	ENV_ERR("targets:\n  \"a\\e[31mred\": {}\n", "2:3", "invalid target name \"a\\x1b[31mred\"", NULL);
}

static void test_aliases(void)
{
	/* anchors and aliases work: an alias is the anchored node */
	char *dir = project(NULL);
	struct cfg_project p;
	struct cfg_env e;
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "qa",
				     "targets:\n"
				     "  qa1:\n"
				     "    database: &db {host: h, port: 5433, dbname: shared}\n"
				     "  qa2:\n"
				     "    database: *db\n"
				     "seeds: &s [common]\n",
				     &p, &e),
			      0);
	CU_ASSERT_EQUAL_FATAL(e.ntargets, 2);
	CU_ASSERT_EQUAL(e.targets[1].db.port, 5433);
	CU_ASSERT_STRING_EQUAL(e.targets[1].db.dbname, "shared");
	CU_ASSERT_STRING_EQUAL(e.targets[1].name, "qa2");
	config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);

	ENV_ERR("targets: {qa: *nowhere}\n", "1:15", "invalid YAML", NULL);
	/* a node that refers to itself stops at the first wrong type */
	ENV_ERR("targets: {qa: {}}\nseeds: &s [*s]\n", "2:8", "expected a string for \"seeds\", found a list", NULL);
	ENV_ERR("targets: &t {qa: *t}\n", "1:14", "unknown key \"qa\" in target \"qa\"", NULL);

	/* billion laughs: nine levels of nine aliases each (387M leaves if expanded) */
	struct buf y = BUF_INIT;
	buf_adds(&y, "targets: {qa: {}}\nseeds:\n  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (char c = 'b'; c <= 'i'; c++) {
		buf_addf(&y, "  - &%c [", c);
		for (int i = 0; i < 9; i++)
			buf_addf(&y, "%s*%c", i ? ", " : "", c - 1);
		buf_adds(&y, "]\n");
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ENV_ERR(buf_str(&y), "3:5", "expected a string for \"seeds\", found a list", NULL);
	/* the same bomb where every level is reached through a mapping */
	buf_reset(&y);
	buf_adds(&y, "steps:\n  - migrate: &a {a: lol, b: lol, c: lol}\n");
	for (char c = 'b'; c <= 'i'; c++)
		buf_addf(&y, "  - validate: &%c {x: *%c, y: *%c, z: *%c}\n", c, c - 1, c - 1, c - 1);
	/* an error inside an aliased node points at where the node is defined (its anchor) */
	PIPELINE_ERR(buf_str(&y), NULL, "2:14", "expected a scalar for option \"x\" of step \"validate\", found a mapping",
		     NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CU_ASSERT_TRUE(secs < 5.0);
	buf_release(&y);

	/* deep nesting is refused before it is composed (the 64th level, counting the root mapping) */
	buf_reset(&y);
	buf_adds(&y, "targets: {qa: {}}\nseeds: ");
	for (int i = 0; i < 10000; i++)
		buf_addch(&y, '[');
	for (int i = 0; i < 10000; i++)
		buf_addch(&y, ']');
	buf_addch(&y, '\n');
	ENV_ERR(buf_str(&y), "2:71", "nested deeper than 64 levels", NULL);
	buf_release(&y);
}

/* ---------------------------------------------------------------- root */

static char *cwd_save(void)
{
	char buf[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(buf, sizeof buf));
	return xstrdup(buf);
}

static void test_find_root(void)
{
	char *old = cwd_save();
	char *old_env = getenv("PADCTL_PROJECT") ? xstrdup(getenv("PADCTL_PROJECT")) : NULL;
	unsetenv("PADCTL_PROJECT");
	char *dir = project(NULL);
	char real[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(dir, real));
	unit_write(dir, "db/migrations/0001_x/deep/er/.keep", "");
	char *sub = xstrfmt("%s/db/migrations/0001_x/deep/er", dir);
	char *root = NULL;

	/* from a nested subdirectory: the nearest parent holding padctl.yml */
	CU_ASSERT_EQUAL_FATAL(chdir(sub), 0);
	CU_ASSERT_EQUAL(config_find_root(NULL, &root), 0);
	CU_ASSERT_STRING_EQUAL(root, real);
	free(root);
	root = NULL;

	/* -C wins over PADCTL_PROJECT, which wins over the cwd */
	char *other = project("project: other\n");
	char other_real[PATH_MAX];
	CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(other, other_real));
	setenv("PADCTL_PROJECT", other, 1);
	CU_ASSERT_EQUAL(config_find_root(NULL, &root), 0);
	CU_ASSERT_STRING_EQUAL(root, other_real);
	free(root);
	root = NULL;
	CU_ASSERT_EQUAL(chdir(dir), 0);
	CU_ASSERT_EQUAL(config_find_root("db/../.", &root), 0); /* relative -C made absolute */
	CU_ASSERT_STRING_EQUAL(root, real);
	free(root);
	root = NULL;

	/* -C naming a directory without padctl.yml */
	CU_ASSERT_EQUAL(config_find_root(sub, &root), -1);
	CU_ASSERT_PTR_NULL(root);
	EXPECT_ERR(NULL, "no padctl.yml in", "padctl init");
	CU_ASSERT_EQUAL(config_find_root("/nonexistent/dir", &root), -1);
	EXPECT_ERR(NULL, "\"/nonexistent/dir\" (-C)", NULL);
	setenv("PADCTL_PROJECT", sub, 1);
	CU_ASSERT_EQUAL(config_find_root(NULL, &root), -1);
	EXPECT_ERR(NULL, "(PADCTL_PROJECT)", NULL);
	unsetenv("PADCTL_PROJECT");

	/* nothing up to /: a hint says what to do */
	char tmpl[] = "/tmp/padctl-noproj-XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpl));
	CU_ASSERT_EQUAL(chdir(tmpl), 0);
	CU_ASSERT_EQUAL(config_find_root(NULL, &root), -1);
	CU_ASSERT_PTR_NULL(root);
	EXPECT_ERR(NULL, "no padctl project found", "run `padctl init`");
	CU_ASSERT_EQUAL(chdir(old), 0);
	rmdir(tmpl);

	if (old_env)
		setenv("PADCTL_PROJECT", old_env, 1);
	free(old_env);
	free(old);
	free(sub);
	unit_rmrf(dir);
	unit_rmrf(other);
	free(dir);
	free(other);
}

static void test_expand_home(void)
{
	char *old = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	setenv("HOME", "/home/u", 1);
	char *s = config_expand_home("~/.ssh/id");
	CU_ASSERT_STRING_EQUAL(s, "/home/u/.ssh/id");
	free(s);
	s = config_expand_home("~");
	CU_ASSERT_STRING_EQUAL(s, "/home/u");
	free(s);
	/* ~user/ is that user's home, as the shell expands it (it used to stay relative) */
	struct passwd *pw = getpwnam("root");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pw);
	char *want = xstrfmt("%s%sx", pw->pw_dir, pw->pw_dir[strlen(pw->pw_dir) - 1] == '/' ? "" : "/");
	s = config_expand_home("~root/x");
	CU_ASSERT_STRING_EQUAL(s, want);
	free(s);
	free(want);
	s = config_expand_home("~root");
	CU_ASSERT_STRING_EQUAL(s, pw->pw_dir);
	free(s);
	CU_ASSERT_PTR_NULL(config_expand_home("~no_such_user_padctl/x"));
	s = config_expand_home("/etc/x");
	CU_ASSERT_STRING_EQUAL(s, "/etc/x");
	free(s);
	s = config_expand_home("a/~/b");
	CU_ASSERT_STRING_EQUAL(s, "a/~/b");
	free(s);
	CU_ASSERT_PTR_NULL(config_expand_home(NULL));
	if (old)
		setenv("HOME", old, 1);
	free(old);
}

/* a configured ~user/ path names the user's home; an unknown user is an error at file:line:col */
static void test_tilde_user_paths(void)
{
	struct passwd *pw = getpwnam("root");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pw);
	char *dir = project("project: p\npaths:\n  seeds: ~root/seeds\n");
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	CU_ASSERT_EQUAL(strncmp(p.seeds_dir, pw->pw_dir, strlen(pw->pw_dir)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(p.seeds_dir, "/seeds"));
	CU_ASSERT_EQUAL(p.seeds_dir[0], '/');
	config_project_release(&p);
	unit_write(dir, "padctl.yml", "project: p\npaths:\n  seeds: ~no_such_user_padctl/seeds\n");
	CU_ASSERT_EQUAL(load_project(dir, &p), -1);
	EXPECT_ERR("padctl.yml:3:10:", "names no user", "~USER/");
	unit_rmrf(dir);
	free(dir);
}

/* nesting is capped before libyaml composes the document (whose cost is
 * quadratic in the depth): 80,000 `[` fail at once, naming where */
static void test_deep_nesting(void)
{
	char *dir = project(NULL);
	struct buf b = BUF_INIT;
	buf_adds(&b, "project: p\nschemas:\n  owned: ");
	for (int i = 0; i < 80000; i++)
		buf_addch(&b, '[');
	buf_addch(&b, '\n');
	unit_write(dir, "padctl.yml", buf_str(&b));
	struct cfg_project p;
	CU_ASSERT_EQUAL(load_project(dir, &p), -1);
	/* the root mapping, `schemas`, then 63 lists: the 64th `[` is one too deep */
	EXPECT_ERR("padctl.yml:3:72:", "nested deeper than 64", NULL);
	buf_reset(&b);
	buf_adds(&b, "project: p\nschemas:\n  owned: ");
	for (int i = 0; i < 62; i++)
		buf_addch(&b, '[');
	for (int i = 0; i < 62; i++)
		buf_addch(&b, ']');
	buf_addch(&b, '\n');
	unit_write(dir, "padctl.yml", buf_str(&b));
	CU_ASSERT_EQUAL(load_project(dir, &p), -1);
	EXPECT_ERR("padctl.yml:3:11:", "expected a string", NULL); /* within the cap: the schema's own error */
	buf_release(&b);
	unit_rmrf(dir);
	free(dir);
}

/* a FIFO or a device in place of a config file is refused, never read (a FIFO used to hang) */
static void test_special_files(void)
{
	char *dir = project(NULL);
	char *path = xstrfmt("%s/padctl.yml", dir);
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
	struct cfg_project p;
	CU_ASSERT_EQUAL(load_project(dir, &p), -1);
	EXPECT_ERR("padctl.yml", "not a regular file", "regular file");
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(symlink("/dev/zero", path), 0);
	CU_ASSERT_EQUAL(load_project(dir, &p), -1);
	EXPECT_ERR("padctl.yml", "not a regular file", NULL);
	unlink(path);
	free(path);
	unit_rmrf(dir);
	free(dir);
}

/* ---------------------------------------------------------------- reference */

/* ---------------------------------------------------------------- seeds */

static void test_env_seeds(void)
{
	/* each set keeps its line, for the seed step's errors */
	char *dir = project(NULL);
	struct cfg_project p;
	struct cfg_env e;
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "qa", "targets: {qa: {}}\nseeds:\n  - common\n\n  - uat\n", &p, &e), 0);
	CU_ASSERT_EQUAL_FATAL(e.nseeds, 2);
	CU_ASSERT_EQUAL(e.seed_lines[0], 3);
	CU_ASSERT_EQUAL(e.seed_lines[1], 5);
	config_env_release(&e);
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);

	/* prod: only the sets padctl.yml allows; an empty list is fine */
	dir = project("project: padealing\nseeds:\n  allow_in_prod: [common, config]\n");
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "prod", "tier: prod\ntargets: {p1: {}}\nseeds: [config, common]\n", &p, &e), 0);
	CU_ASSERT_EQUAL(e.nseeds, 2);
	CU_ASSERT_EQUAL(p.nseeds_prod, 2);
	config_env_release(&e);
	config_project_release(&p);
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "prod", "tier: prod\ntargets: {p1: {}}\nseeds: []\n", &p, &e), 0);
	config_env_release(&e);
	config_project_release(&p);
	/* nonprod envs may list anything */
	CU_ASSERT_EQUAL_FATAL(env_ok(dir, "qa", "targets: {qa: {}}\nseeds: [uat]\n", &p, &e), 0);
	config_env_release(&e);
	config_project_release(&p);
	unit_write(dir, "envs/prod.yml", "tier: prod\ntargets: {p1: {}}\nseeds:\n  - common\n  - uat\n");
	CU_ASSERT_EQUAL_FATAL(load_project(dir, &p), 0);
	CU_ASSERT_EQUAL(config_load_env(&p, "prod", &e), -1);
	EXPECT_ERR("envs/prod.yml:5:5:", "seed set \"uat\" is not allowed in prod-tier env \"prod\"", "allow_in_prod");
	config_project_release(&p);
	unit_rmrf(dir);
	free(dir);

	/* no allow list: a prod env may list no set */
	ENV_ERR("tier: prod\ntargets: {qa: {}}\nseeds: [common]\n", "3:9",
		"seed set \"common\" is not allowed in prod-tier env \"qa\"", "allow_in_prod");
	/* tier after seeds in the file: still checked (the table reads tier first) */
	ENV_ERR("seeds: [common]\ntargets: {qa: {}}\ntier: prod\n", "1:9", "is not allowed in prod-tier", NULL);

	/* the allow list itself */
	PROJECT_ERR("project: p\nseeds:\n  allow_in_prod: [../x]\n", "3:19", "invalid seed set \"../x\"", NULL);
	PROJECT_ERR("project: p\nseeds:\n  allow_in_prod: common\n", "3:18", "expected a list", NULL);
	PROJECT_ERR("project: p\nseeds:\n  allow_in_prod: [a, a]\n", "3:22", "duplicate seed set \"a\"", NULL);
	PROJECT_ERR("project: p\nseeds:\n  prod: [a]\n", "3:3", "unknown key \"prod\"", "allow_in_prod");
}

static void test_reference_project(void)
{
	const char *src = getenv("PADCTL_SOURCE_DIR");
	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	struct cfg_project p;
	CU_ASSERT_EQUAL_FATAL(config_load_project(src, &p), 0);
	CU_ASSERT_STRING_EQUAL(p.name, "padealing");
	CU_ASSERT_EQUAL_FATAL(p.nowned, 1);
	CU_ASSERT_STRING_EQUAL(p.owned[0], "padealing");
	CU_ASSERT_EQUAL_FATAL(p.nprotected, 1);
	CU_ASSERT_STRING_EQUAL(p.protected_schemas[0], "bo_airflow");
	CU_ASSERT_TRUE(ends_with(p.migrations_dir, "/db/migrations"));
	CU_ASSERT_TRUE(ends_with(p.seeds_dir, "/db/seeds"));
	CU_ASSERT_TRUE(ends_with(p.contracts_dir, "/db/contracts"));
	CU_ASSERT_TRUE(ends_with(p.backfills_dir, "/db/backfills"));

	char **names;
	size_t n;
	CU_ASSERT_EQUAL_FATAL(config_list_envs(&p, &names, &n), 0);
	const char *want[] = { "dev", "local", "prod", "qa" };
	CU_ASSERT_EQUAL_FATAL(n, 4);
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(names[i], want[i]);
		struct cfg_env e;
		int rc = config_load_env(&p, names[i], &e);
		if (rc) {
			fprintf(stderr, "\n  %s: %s\n", names[i], err_message());
			err_clear();
		}
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		struct cfg_pipeline pl;
		rc = config_load_pipeline(&p, e.pipeline, &e, &pl);
		if (rc) {
			fprintf(stderr, "\n  %s: %s\n", e.pipeline, err_message());
			err_clear();
		}
		CU_ASSERT_EQUAL_FATAL(rc, 0);
		CU_ASSERT_TRUE(pl.nsteps >= 4);
		if (!strcmp(names[i], "local")) {
			CU_ASSERT_EQUAL(e.ntargets, 1);
			CU_ASSERT_EQUAL(e.targets[0].db.managed, 1);
			CU_ASSERT_STRING_EQUAL(e.targets[0].db.dbname, "padealing");
			CU_ASSERT_EQUAL_FATAL(e.targets[0].db.nfixtures, 2);
			CU_ASSERT_TRUE(ends_with(e.targets[0].db.fixtures[0], "/db/fixtures/bo_airflow.sql"));
			CU_ASSERT_TRUE(ends_with(e.targets[0].db.fixtures[1], "/db/fixtures/legacy_personal_account_dealing.sql"));
			CU_ASSERT_EQUAL_FATAL(e.nseeds, 2);
			CU_ASSERT_STRING_EQUAL(e.seeds[1], "uat");
			CU_ASSERT_STRING_EQUAL(pl.name, "standard");
			CU_ASSERT_EQUAL(pl.nsteps, 5);
			CU_ASSERT_STRING_EQUAL(pl.steps[0].phase, "preflight");
			CU_ASSERT_STRING_EQUAL(pl.steps[4].plugin, "seed");
		} else if (!strcmp(names[i], "dev")) {
			CU_ASSERT_PTR_NOT_NULL(config_env_skip(&e, "0003"));
			CU_ASSERT_STRING_EQUAL(e.targets[0].db.password_env, "PADCTL_DEV_PASSWORD");
		} else if (!strcmp(names[i], "qa")) {
			CU_ASSERT_PTR_NOT_NULL_FATAL(e.targets[0].ssh);
			CU_ASSERT_EQUAL(e.targets[0].ssh->tunnel, 1);
			CU_ASSERT_STRING_EQUAL(e.targets[0].ssh->tools, "remote");
			CU_ASSERT_STRING_EQUAL(e.targets[0].db.password_env, "PADCTL_QA_PASSWORD");
		} else {
			CU_ASSERT_STRING_EQUAL(e.tier, "prod");
			CU_ASSERT_EQUAL(e.ntargets, 3);
			CU_ASSERT_PTR_NOT_NULL(config_env_target(&e, "prod-eu"));
			CU_ASSERT_STRING_EQUAL(pl.name, "prod");
			CU_ASSERT_EQUAL(pl.approvals_required, 2);
			CU_ASSERT_TRUE(ends_with(pl.signers, "/pipelines/approvers.allowed_signers"));
			struct stat st;
			CU_ASSERT_EQUAL(stat(pl.signers, &st), 0);
			CU_ASSERT_EQUAL_FATAL(pl.nstages, 2);
			CU_ASSERT_STRING_EQUAL(pl.stages[0].name, "canary");
			CU_ASSERT_EQUAL(pl.stages[1].approval, 1);
		}
		config_pipeline_release(&pl);
		config_env_release(&e);
		free(names[i]);
	}
	free(names);
	config_project_release(&p);
}

/* docs/config.md's key tables are generated from the tables the loaders walk:
 * each sits between "<!-- keys NAME: ..." and "<!-- end keys -->". With
 * PADCTL_UPDATE_DOCS=1 this test rewrites them instead of failing. */
static void test_docs_key_tables(void)
{
	const char *src = getenv("PADCTL_SOURCE_DIR");
	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	char *path = xstrfmt("%s/docs/config.md", src);
	char *text = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL_FATAL(fs_read_file(path, 1 << 20, &text, &len), 0);
	struct buf out = BUF_INIT;
	const char *p = text;
	int ndiff = 0;
	for (size_t i = 0; config_key_table_name(i); i++) {
		const char *name = config_key_table_name(i);
		char *open = xstrfmt("<!-- keys %s:", name);
		const char *at = strstr(p, open);
		if (!at)
			fprintf(stderr, "\n  docs/config.md has no \"%s\" (after the previous table)\n", open);
		CU_ASSERT_PTR_NOT_NULL_FATAL(at);
		const char *body = strchr(at, '\n');
		CU_ASSERT_PTR_NOT_NULL_FATAL(body);
		body++;
		const char *end = strstr(body, "<!-- end keys -->");
		CU_ASSERT_PTR_NOT_NULL_FATAL(end);
		struct buf want = BUF_INIT;
		CU_ASSERT_EQUAL(config_key_table_markdown(name, &want), 0);
		if (strlen(buf_str(&want)) != (size_t)(end - body) || memcmp(buf_str(&want), body, (size_t)(end - body))) {
			fprintf(stderr, "\n  docs/config.md: the \"%s\" key table differs from core/config/config.c; "
					"it should be:\n%s", name, buf_str(&want));
			ndiff++;
		}
		buf_add(&out, p, (size_t)(body - p));
		buf_adds(&out, buf_str(&want));
		p = end;
		buf_release(&want);
		free(open);
	}
	buf_adds(&out, p);
	const char *update = getenv("PADCTL_UPDATE_DOCS");
	if (ndiff && update && !strcmp(update, "1")) {
		CU_ASSERT_EQUAL(fs_write_atomic(path, buf_str(&out), out.len, 0644), 0);
		fprintf(stderr, "\n  rewrote %d key table(s) in %s\n", ndiff, path);
	} else if (ndiff) {
		fprintf(stderr, "  run `PADCTL_UPDATE_DOCS=1 PADCTL_SOURCE_DIR=%s build/tests/unit_test_config` "
				"to rewrite them\n", src);
	}
	CU_ASSERT_EQUAL(ndiff, 0);
	buf_release(&out);
	free(text);
	free(path);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "project: every field", test_project_full },
		{ "project: defaults", test_project_defaults },
		{ "project: errors with file:line:col", test_project_errors },
		{ "env: every field", test_env_full },
		{ "env: defaults", test_env_defaults },
		{ "env: local and managed databases", test_env_local },
		{ "env: errors with file:line:col", test_env_errors },
		{ "env: plaintext secrets refused, not echoed", test_env_secrets },
		{ "env: skipped migrations", test_env_skips },
		{ "env: unknown env lists the known ones", test_env_unknown },
		{ "pipeline: every field", test_pipeline_full },
		{ "pipeline: errors with file:line:col", test_pipeline_errors },
		{ "hostile: very long strings", test_long_strings },
		{ "hostile: anchors, aliases, bombs", test_aliases },
		{ "root: discovery, -C, PADCTL_PROJECT", test_find_root },
		{ "config_expand_home", test_expand_home },
		{ "paths: ~user/ is that user's home", test_tilde_user_paths },
		{ "hostile: nesting depth is capped", test_deep_nesting },
		{ "hostile: FIFOs and devices are refused", test_special_files },
		{ "env: seed sets, their lines and prod's allow list", test_env_seeds },
		{ "reference project parses", test_reference_project },
		{ "docs/config.md key tables come from the tables", test_docs_key_tables },
		{ NULL, NULL },
	};
	return unit_run("config", tests);
}

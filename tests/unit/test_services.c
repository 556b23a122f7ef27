/* services: the pure pieces of the SDK services: which client binary runs,
 * the password file's line, which tool arguments a plugin may give, and the
 * versioned lookup. What runs against a server is tested by cli/580. */
#include <padctl/plugin.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "services.h"
#include "unit.h"

static void test_lookup(void)
{
	const struct padctl_tools_v1 *t = services_lookup("tools", 1);
	const struct padctl_artifacts_v1 *a = services_lookup("artifacts", 1);
	const struct padctl_ledger_v1 *l = services_lookup("ledger", 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL(t->version, 1);
	CU_ASSERT_EQUAL(t->size, sizeof *t);
	CU_ASSERT_EQUAL(a->version, 1);
	CU_ASSERT_EQUAL(a->size, sizeof *a);
	CU_ASSERT_EQUAL(l->size, sizeof *l);
	CU_ASSERT_TRUE(PADCTL_SERVICE_HAS(a, struct padctl_artifacts_v1, find));
	/* exactly the version asked for, never a near one */
	CU_ASSERT_PTR_NULL(services_lookup("tools", 2));
	CU_ASSERT_PTR_NULL(services_lookup("tools", 0));
	CU_ASSERT_PTR_NULL(services_lookup("approvals", 1));
	CU_ASSERT_PTR_NULL(services_lookup(NULL, 1));
	/* "tx" has two versions; version 2 begins as version 1 does */
	const struct padctl_tx_v1 *tx1 = services_lookup("tx", 1);
	const struct padctl_tx_v2 *tx2 = services_lookup("tx", 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tx1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tx2);
	CU_ASSERT_EQUAL(tx1->version, 1);
	CU_ASSERT_EQUAL(tx2->version, 2);
	CU_ASSERT_EQUAL(tx2->size, sizeof *tx2);
	CU_ASSERT_TRUE(PADCTL_SERVICE_HAS(tx2, struct padctl_tx_v2, apply));
	CU_ASSERT_PTR_EQUAL((void *)tx2->exec_later, (void *)tx1->exec_later);
	CU_ASSERT_PTR_NULL(services_lookup("tx", 3));
	CU_ASSERT_PTR_NULL(services_lookup("tools", 2));
}

static void test_tool_path(void)
{
	char *root = unit_tmpdir();
	unit_write(root, "15/bin/pg_dump", "#!/bin/sh\n");
	char *bin = xstrfmt("%s/15/bin/pg_dump", root);
	CU_ASSERT_EQUAL_FATAL(chmod(bin, 0755), 0);
	char *path = NULL;
	CU_ASSERT_EQUAL(services_tool_path(root, 15, "pg_dump", &path), 0);
	CU_ASSERT_STRING_EQUAL(path, bin);
	free(path);

	/* a server of another major version: both versions and the package named */
	CU_ASSERT_EQUAL(services_tool_path(root, 16, "pg_dump", &path), -1);
	CU_ASSERT_PTR_NULL(path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "could not find pg_dump for PostgreSQL 16"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_detail(), "pg_dump of version 15 is installed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_hint(), "postgresql-client-16"));
	err_clear();

	/* none at all */
	CU_ASSERT_EQUAL(services_tool_path(root, 15, "psql", &path), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "no client tools are installed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_hint(), "postgresql-client-15"));
	err_clear();

	/* not executable: not used */
	CU_ASSERT_EQUAL_FATAL(chmod(bin, 0644), 0);
	CU_ASSERT_EQUAL(services_tool_path(root, 15, "pg_dump", &path), -1);
	err_clear();
	free(bin);
	unit_rmrf(root);
	free(root);
}

static void test_pgpass_line(void)
{
	char *l = services_pgpass_line("s3cr:t\\x");
	CU_ASSERT_STRING_EQUAL(l, "*:*:*:*:s3cr\\:t\\\\x\n");
	free(l);
	l = services_pgpass_line("plain");
	CU_ASSERT_STRING_EQUAL(l, "*:*:*:*:plain\n");
	free(l);
}

static int input_ok(void *ctx, const char *arg)
{
	return strcmp(arg, (const char *)ctx) == 0;
}

static void expect_refused(const char *tool, const char *const *args, const char *why)
{
	char *r = services_tool_args_refused(tool, args, input_ok, (void *)"/art/dump");
	CU_ASSERT_PTR_NOT_NULL(r);
	if (r && !strstr(r, why))
		fprintf(stderr, "\n%s: got \"%s\", wanted \"%s\"\n", args && args[0] ? args[0] : tool, r, why);
	CU_ASSERT_PTR_NOT_NULL(r ? strstr(r, why) : NULL);
	free(r);
}

static void test_args(void)
{
	CU_ASSERT_PTR_NULL(services_tool_args_refused("pg_dump",
						      (const char *const[]){ "--format=custom", "--schema=app",
									     "--no-owner", NULL },
						      NULL, NULL));
	CU_ASSERT_PTR_NULL(services_tool_args_refused("pg_dump", NULL, NULL, NULL));
	CU_ASSERT_PTR_NULL(services_tool_args_refused("pg_restore",
						      (const char *const[]){ "--list", "/art/dump", NULL }, input_ok,
						      (void *)"/art/dump"));
	CU_ASSERT_PTR_NULL(
		services_tool_args_refused("psql", (const char *const[]){ "--command=SELECT 1", NULL }, NULL, NULL));
	expect_refused("pg_dumpall", NULL, "unknown tool");
	expect_refused("/bin/sh", NULL, "unknown tool");
	/* the host connects the tool: no host, port, user, database, password, in any spelling */
	expect_refused("pg_dump", (const char *const[]){ "--host=evil", NULL }, "is the host's");
	expect_refused("pg_dump", (const char *const[]){ "--hos=evil", NULL }, "is the host's");
	expect_refused("pg_dump", (const char *const[]){ "--port=1", NULL }, "is the host's");
	expect_refused("psql", (const char *const[]){ "--username=postgres", NULL }, "is the host's");
	expect_refused("psql", (const char *const[]){ "--dbname=host=evil", NULL }, "is the host's");
	expect_refused("psql", (const char *const[]){ "--password", NULL }, "is the host's");
	expect_refused("pg_dump", (const char *const[]){ "--file=/etc/passwd", NULL }, "is the host's");
	expect_refused("psql", (const char *const[]){ "--output=/tmp/x", NULL }, "is the host's");
	expect_refused("psql", (const char *const[]){ "--", NULL }, "is the host's");
	expect_refused("pg_dump", (const char *const[]){ "-h", "evil", NULL }, "short option");
	expect_refused("pg_dump", (const char *const[]){ "-Fc", NULL }, "short option");
	/* a bare argument would be a database (a connection string): only pg_restore's artifact */
	expect_refused("pg_dump", (const char *const[]){ "host=evil dbname=x", NULL }, "is not an option");
	expect_refused("pg_restore", (const char *const[]){ "--list", "/etc/shadow", NULL }, "is not an option");
	expect_refused("psql", (const char *const[]){ "/art/dump", NULL }, "is not an option");
}

static void test_tool_version(void)
{
	int m = 0;
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", &m), 0);
	CU_ASSERT_EQUAL(m, 15);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_restore (PostgreSQL) 9.6.24\n", &m), 0);
	CU_ASSERT_EQUAL(m, 9);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) 17devel", &m), 0);
	CU_ASSERT_EQUAL(m, 17);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) 16beta2\n", &m), 0);
	CU_ASSERT_EQUAL(m, 16);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) 16", &m), 0);
	CU_ASSERT_EQUAL(m, 16);
	/* nothing that says which PostgreSQL it is */
	CU_ASSERT_EQUAL(services_tool_version_parse(NULL, &m), -1);
	CU_ASSERT_EQUAL(services_tool_version_parse("", &m), -1);
	CU_ASSERT_EQUAL(services_tool_version_parse("I am not pg_dump", &m), -1);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) x15", &m), -1);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) 15x", &m), -1);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) 99999999999999999999", &m), -1);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) 5.1", &m), -1);
	CU_ASSERT_EQUAL(services_tool_version_parse("pg_dump (PostgreSQL) -15", &m), -1);
	/* the backups service is there too */
	const struct padctl_backups_v1 *b = services_lookup("backups", 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(b->size, sizeof *b);
	CU_ASSERT_TRUE(PADCTL_SERVICE_HAS(b, struct padctl_backups_v1, verify));
	CU_ASSERT_PTR_NULL(services_lookup("backups", 2));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "services are found by name and exact version", test_lookup },
		{ "the client binary of the server's major version", test_tool_path },
		{ "the password file's line escapes : and \\", test_pgpass_line },
		{ "tool arguments a plugin may give", test_args },
		{ "the PostgreSQL version a client tool says it is", test_tool_version },
		{ NULL, NULL },
	};
	return unit_run("services", tests);
}

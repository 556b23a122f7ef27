/* known_targets: the %-escaped field format, the first format still read,
 * and the rewrite that adds a pin. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>

#include "buf.h"
#include "fs.h"
#include "identity.h"
#include "ledger.h"
#include "log.h"
#include "unit.h"

static void test_escape_round_trip(void)
{
	static const char *const cases[][2] = {
		{ "plain_db", "plain_db" },
		{ "rv two", "rv%20two" },
		{ "100%", "100%25" },
		{ "#x", "%23x" },
		{ "a\nb\tc\x7f", "a%0Ab%09c%7F" },
		{ "", "" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *e = identity_escape(cases[i][0]);
		CU_ASSERT_STRING_EQUAL(e, cases[i][1]);
		CU_ASSERT_PTR_NULL(strpbrk(e, " \n\t#"));
		char *u = NULL;
		CU_ASSERT_EQUAL(identity_unescape(e, &u), 0);
		CU_ASSERT_STRING_EQUAL(u, cases[i][0]);
		free(e);
		free(u);
	}
}

static void test_unescape_rejects(void)
{
	static const char *const bad[] = { "%", "%2", "%zz", "a%0", "%00" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *u = NULL;
		CU_ASSERT_EQUAL(identity_unescape(bad[i], &u), -1);
		CU_ASSERT_PTR_NULL(u);
	}
	char *u = NULL;
	CU_ASSERT_EQUAL(identity_unescape("%2f%2F", &u), 0);
	CU_ASSERT_STRING_EQUAL(u, "//");
	free(u);
}

static char *slurp(const char *dir, const char *rel)
{
	char *path = xstrfmt("%s/%s", dir, rel);
	char *text = NULL;
	CU_ASSERT_EQUAL(fs_read_file(path, 1 << 20, &text, NULL), 0);
	free(path);
	return text;
}

static void test_pins_with_spaces(void)
{
	char *dir = unit_tmpdir();
	struct cfg_project p;
	memset(&p, 0, sizeof p);
	p.root = dir;
	struct cfg_target t1, t2;
	memset(&t1, 0, sizeof t1);
	memset(&t2, 0, sizeof t2);
	t1.name = "t1";
	t2.name = "t2";
	/* the first format wrote a name with a space unescaped: it still reads */
	unit_write(dir, "known_targets",
		   "# padctl known_targets: the server each target was first deployed to.\n"
		   "# Commit this file. A line is: <env>/<target> <system_identifier> <database>\n"
		   "test/t1 7001 rv two\n");
	CU_ASSERT_EQUAL(identity_check_known(&p, "test", &t1, "7001", "rv two", 1), 0);
	CU_ASSERT_EQUAL(identity_check_known(&p, "test", &t1, "7001", "rv", 1), -1);
	err_clear();
	/* adding a pin rewrites the file in format 2, the old pin re-escaped, at the same line */
	CU_ASSERT_EQUAL(identity_check_known(&p, "test", &t2, "7002", "a b%c", 1), 0);
	char *text = slurp(dir, "known_targets");
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "# format 2:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\ntest/t1 7001 rv%20two\ntest/t2 7002 a%20b%25c\n"));
	free(text);
	CU_ASSERT_EQUAL(identity_check_known(&p, "test", &t1, "7001", "rv two", 1), 0);
	CU_ASSERT_EQUAL(identity_check_known(&p, "test", &t2, "7002", "a b%c", 1), 0);
	CU_ASSERT_EQUAL(identity_check_known(&p, "test", &t2, "7002", "a b", 0), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_detail(), "known_targets:4 pins system identifier 7002, database a b%c"));
	err_clear();
	/* a garbled format-2 line is an error naming file and line, not a silent re-pin */
	unit_write(dir, "known_targets", "# format 2: x\ntest/t1 7001 rv%2\n");
	CU_ASSERT_EQUAL(identity_check_known(&p, "test", &t1, "7001", "rv two", 1), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "known_targets:2"));
	err_clear();
	unit_rmrf(dir);
	free(dir);
}

/* Processes pinning different targets of one project at the same time all
 * keep their pin: each re-reads the file under the flock and renames a new one. */
static void test_concurrent_pins(void)
{
	char *dir = unit_tmpdir();
	struct cfg_project p;
	memset(&p, 0, sizeof p);
	p.root = dir;
	enum { NPROC = 8 };
	pid_t pids[NPROC];
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		CU_ASSERT_FATAL(pids[i] >= 0);
		if (pids[i] == 0) {
			char name[16], sysid[16];
			snprintf(name, sizeof name, "t%d", i);
			snprintf(sysid, sizeof sysid, "%d", 9000 + i);
			struct cfg_target t;
			memset(&t, 0, sizeof t);
			t.name = name;
			_exit(identity_check_known(&p, "env", &t, sysid, "db x", 1) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < NPROC; i++) {
		int st = 0;
		CU_ASSERT_EQUAL(waitpid(pids[i], &st, 0), pids[i]);
		CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	char *text = slurp(dir, "known_targets");
	for (int i = 0; i < NPROC; i++) {
		char line[64];
		snprintf(line, sizeof line, "\nenv/t%d %d db%%20x\n", i, 9000 + i);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, line));
	}
	free(text);
	unit_rmrf(dir);
	free(dir);
}

static void test_ledger_steps(void)
{
	int n = ledger_schema_version();
	CU_ASSERT(n >= 2);
	int v = -1;
	CU_ASSERT_EQUAL(ledger_version_parse("1", &v), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(ledger_version_parse("99", &v), 0);
	CU_ASSERT_EQUAL(v, 99);
	CU_ASSERT_EQUAL(ledger_version_parse("", &v), -1);
	CU_ASSERT_EQUAL(ledger_version_parse("1.0", &v), -1);
	CU_ASSERT_EQUAL(ledger_version_parse("-1", &v), -1);
	CU_ASSERT_EQUAL(ledger_version_parse(" 1", &v), -1);
	/* from nothing: every step, in order, then the stamp of the newest version */
	char *all = ledger_upgrade_sql(0);
	char *schema = strstr(all, "CREATE SCHEMA IF NOT EXISTS padctl;");
	char *repairs = strstr(all, "CREATE TABLE IF NOT EXISTS padctl.repairs");
	char *stamp = strstr(all, "INSERT INTO padctl.meta VALUES ('ledger_version'");
	CU_ASSERT(schema && repairs && stamp && schema < repairs && repairs < stamp);
	char want[64];
	snprintf(want, sizeof want, "'ledger_version', '%d')", n);
	CU_ASSERT_PTR_NOT_NULL(strstr(all, want));
	/* from version 1 (the ledgers padctl wrote before steps): only the later steps */
	char *from1 = ledger_upgrade_sql(1);
	CU_ASSERT_PTR_NULL(strstr(from1, "CREATE SCHEMA"));
	CU_ASSERT_PTR_NOT_NULL(strstr(from1, "padctl.repairs"));
	CU_ASSERT_PTR_NOT_NULL(strstr(from1, want));
	CU_ASSERT_PTR_NULL(ledger_upgrade_sql(n));
	CU_ASSERT_PTR_NULL(ledger_upgrade_sql(n + 1));
	CU_ASSERT_PTR_NULL(ledger_upgrade_sql(-1));
	free(all);
	free(from1);
}

/* a known_targets checked out with CRLF line endings reads as the same pins */
static void test_crlf_file(void)
{
	static const char *const files[] = {
		"# format 2: x\r\nprod/db 7001 my%20db\r\n",
		"prod/db 7001 my db\r\n",
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		struct identity_pins ps;
		CU_ASSERT_EQUAL_FATAL(identity_parse(files[i], "known_targets", &ps), 0);
		CU_ASSERT_EQUAL_FATAL(ps.n, 1);
		CU_ASSERT_STRING_EQUAL(ps.v[0].key, "prod/db");
		CU_ASSERT_STRING_EQUAL(ps.v[0].sysid, "7001");
		CU_ASSERT_STRING_EQUAL(ps.v[0].dbname, "my db");
		identity_pins_release(&ps);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "known_targets escaping round-trips", test_escape_round_trip },
		{ "malformed escapes are refused", test_unescape_rejects },
		{ "pins with spaces, old and new format", test_pins_with_spaces },
		{ "concurrent pins are all kept", test_concurrent_pins },
		{ "a CRLF file reads as the same pins", test_crlf_file },
		{ "ledger schema steps in order", test_ledger_steps },
		{ NULL, NULL },
	};
	return unit_run("identity", tests);
}

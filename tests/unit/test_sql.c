/* sql: statement classification with PostgreSQL's parser, and fs reads. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "sql.h"
#include "unit.h"

static int kind(const char *s)
{
	return sql_stmt_kind(s, strlen(s));
}

static void test_tx_control(void)
{
	const char *tx[] = { "BEGIN", "begin transaction isolation level serializable", "START TRANSACTION READ WRITE",
			     "COMMIT", "end", "ROLLBACK", "abort", "SAVEPOINT a", "RELEASE SAVEPOINT a",
			     "ROLLBACK TO SAVEPOINT a", "PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'",
			     "-- a comment\n/* and /* nested */ one */\n  Commit", NULL };
	for (const char *const *s = tx; *s; s++)
		CU_ASSERT_EQUAL(kind(*s), SQL_KIND_TX_CONTROL);
	const char *other[] = { "SELECT 'COMMIT'", "CREATE TABLE begin_log (i int)", "PREPARE q AS SELECT 1",
				"DO $$ BEGIN PERFORM 1; END $$", "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS "
				"$$ BEGIN COMMIT; END $$", "startx", "", "-- only a comment", "BEGIN garbage garbage", NULL };
	for (const char *const *s = other; *s; s++)
		CU_ASSERT_EQUAL(kind(*s), SQL_KIND_OTHER);
}

static void test_settings(void)
{
	CU_ASSERT_EQUAL(kind("SET default_transaction_read_only = off"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("set session default_transaction_read_only to false"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET transaction_read_only = off"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET TRANSACTION READ WRITE"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("RESET default_transaction_read_only"), SQL_KIND_SET_READ_ONLY);
	CU_ASSERT_EQUAL(kind("SET ROLE app_owner"), SQL_KIND_SET_ROLE);
	CU_ASSERT_EQUAL(kind("RESET ROLE"), SQL_KIND_SET_ROLE);
	CU_ASSERT_EQUAL(kind("SET SESSION AUTHORIZATION app"), SQL_KIND_SET_ROLE);
	CU_ASSERT_EQUAL(kind("SET search_path TO app, public"), SQL_KIND_SET_OTHER);
	CU_ASSERT_EQUAL(kind("SET LOCAL lock_timeout = '1s'"), SQL_KIND_SET_OTHER);
	CU_ASSERT_EQUAL(kind("RESET ALL"), SQL_KIND_SET_OTHER);
	CU_ASSERT_EQUAL(kind("SELECT set_config('search_path', '', false)"), SQL_KIND_OTHER);
}

static void test_fs_read_refuses(void)
{
	char *text = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL(fs_read_file("/dev/zero", 1024, &text, &len), -1);
	CU_ASSERT_PTR_NULL(text);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "not a regular file"));
	err_clear();
	CU_ASSERT_EQUAL(fs_read_file("/nonexistent/padctl", 1024, &text, &len), 1);
	CU_ASSERT_FALSE(err_pending());
	char *dir = unit_tmpdir();
	unit_write(dir, "f.sql", "0123456789");
	char *path = xstrfmt("%s/f.sql", dir);
	CU_ASSERT_EQUAL(fs_read_file(path, 5, &text, &len), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_message(), "more than"));
	err_clear();
	CU_ASSERT_EQUAL(fs_read_file(path, 10, &text, &len), 0);
	CU_ASSERT_EQUAL(len, 10);
	CU_ASSERT_STRING_EQUAL(text, "0123456789");
	free(text);
	CU_ASSERT_EQUAL(fs_write_atomic(path, "new", 3, 0600), 0);
	CU_ASSERT_EQUAL(fs_read_file(path, 10, &text, &len), 0);
	CU_ASSERT_STRING_EQUAL(text, "new");
	free(text);
	free(path);
	unit_rmrf(dir);
	free(dir);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "transaction control is found by the parser", test_tx_control },
		{ "settings and roles are told apart", test_settings },
		{ "fs reads regular files only, within a cap", test_fs_read_refuses },
		{ NULL, NULL },
	};
	return unit_run("sql", tests);
}

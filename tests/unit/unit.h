/* unit: the small shared support for CUnit suites (unit and integration). */
#ifndef PADCTL_UNIT_H
#define PADCTL_UNIT_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* unit_run registers one suite of tests (ended by {NULL, NULL}) and runs it
 * with CUnit's basic interface; returns the process exit status. */
int unit_run(const char *suite, const struct unit_test *tests);

/* unit_tmpdir creates a fresh temporary directory (caller frees the path). */
char *unit_tmpdir(void);
/* unit_write writes text to dir/rel, creating parent directories. */
void unit_write(const char *dir, const char *rel, const char *text);
/* unit_rmrf removes a directory tree. */
void unit_rmrf(const char *dir);
/* unit_pg_env returns a value from the test cluster's env file
 * (PGHOST, PGPORT, PGUSER, PGDATABASE, PGBIN) or NULL when not running; borrowed until the next call. */
const char *unit_pg_env(const char *key);
/* unit_stderr_start sends stderr to a temporary file until unit_stderr_end,
 * which puts it back and returns what was written (the caller frees it). */
void unit_stderr_start(void);
char *unit_stderr_end(void);

#endif

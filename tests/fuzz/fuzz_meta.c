/* fuzz_meta: a migration's meta.yml, read through migrations_load (whatever
 * loader migrations.c uses for it). */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "fuzz_common.h"
#include "log.h"
#include "migrations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		fuzz_write("migrations/0001_fz/up.sql", (const uint8_t *)"CREATE TABLE t (i int);\n", 24);
		ready = 1;
	}
	fuzz_write("migrations/0001_fz/meta.yml", data, size);
	char *dir = xstrfmt("%s/migrations", fuzz_dir());
	struct migration_set set;
	if (migrations_load(dir, &set) == 0)
		migrations_release(&set);
	free(dir);
	err_clear();
	return 0;
}

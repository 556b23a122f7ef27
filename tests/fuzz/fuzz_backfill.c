/* fuzz_backfill: a backfills/<name>.yml, read through config_parse_backfill
 * (core/config/backfill.c). A file it accepts must hold what the loader
 * promises: a schema.table source, an identifier key, at least one target in
 * an owned schema, non-blank SQL, and numbers inside their ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "buf.h"
#include "fuzz_common.h"
#include "log.h"
#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const owned[] = { "app", "padealing" };
	fuzz_write("backfills/fz.yml", data, size);
	char *path = xstrfmt("%s/backfills/fz.yml", fuzz_dir());
	struct cfg_backfill b;
	if (config_parse_backfill(path, "fz", owned, 2, &b) == 0) {
		if (!backfill_qualified_ok(b.source_table) || !name_valid(NAME_IDENT, b.source_key) || !b.ntargets ||
		    !b.sql || !*b.sql || b.batch_size < 1 || b.batch_size > BACKFILL_BATCH_MAX ||
		    b.statement_timeout < 0 || b.pause_ms < 0 || b.sql_line < 1)
			abort();
		for (size_t i = 0; i < b.ntargets; i++)
			if (!backfill_qualified_ok(b.targets[i]) ||
			    (strncmp(b.targets[i], "app.", 4) && strncmp(b.targets[i], "padealing.", 10)))
				abort();
		for (size_t i = 0; i < b.nchecks; i++)
			if (!b.checks[i].name || !b.checks[i].sql || b.checks[i].line < 1)
				abort();
		config_backfill_release(&b);
	}
	free(path);
	err_clear();
	return 0;
}

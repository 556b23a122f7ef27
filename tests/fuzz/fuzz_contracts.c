/* fuzz_contracts: a contract file (<paths.contracts>/<schema>.yml) read by
 * contract_load, then compared with a small fixed catalog. Invariants: a
 * refused file reports an error and holds nothing; a file read holds names
 * the walker accepted and normalised types that normalise to themselves;
 * every finding carries a line inside the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "contracts.h"
#include "fuzz_common.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lines;

static void finding(void *ctx, const struct contract *c, int line, int col, const char *text)
{
	(void)ctx;
	(void)c;
	if (line < 1 || line > lines + 1 || col < 1 || !text || !*text)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write("contracts/bo_airflow.yml", data, size);
	lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r';
	char *path = xstrfmt("%s/contracts/bo_airflow.yml", fuzz_dir());
	struct contract c;
	if (contract_load(path, &c) == 0) {
		if (err_pending())
			abort();
		for (size_t i = 0; i < c.ntables; i++)
			for (size_t j = 0; j < c.tables[i].ncols; j++) {
				const char *t = c.tables[i].cols[j].type;
				char *again = t ? contract_type_normalise(t) : NULL;
				if (t && (!again || strcmp(again, t) != 0))
					abort();
				free(again);
			}
		static const struct contract_catalog_row rows[] = {
			{ "oracle_employee", "id", "bigint", "t" },
			{ "oracle_employee", "email", "character varying(255)", "f" },
			{ "v3_orders", "id", "integer", "t" },
			{ "v3_orders", NULL, NULL, NULL },
		};
		contract_compare(&c, 1, rows, sizeof rows / sizeof rows[0], finding, NULL);
		contract_compare(&c, 0, NULL, 0, finding, NULL);
		contract_release(&c);
	} else {
		if (!err_pending() || c.ntables || c.nabsent || c.path)
			abort();
	}
	free(path);
	err_clear();
	return 0;
}

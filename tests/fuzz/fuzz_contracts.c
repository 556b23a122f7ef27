/* fuzz_contracts: a contract file (<paths.contracts>/<schema>.yml) read by
 * contract_load, then compared with a small catalog. The first byte picks the
 * file's name from a table (plain, capitals, digits, underscores, and names
 * that are no schema: a leading digit, a dash, a dot, a blank, too long, no
 * .yml); the next two pick the catalog's rows from a pool sorted by table as
 * contract_check's query returns them (schema-qualified types like
 * public.citext, arrays, varchar(n), numeric(p,s), tables without columns);
 * the rest is the file. Invariants: a name that is no SQL identifier is
 * refused; a refused file reports an error and holds nothing; a file read
 * holds its name as the schema, names the walker accepted and normalised
 * types that normalise to themselves; every finding carries a line inside the
 * file and text, and contract_compare returns the number it reported. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "contracts.h"
#include "fuzz_common.h"
#include "log.h"
#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lines, reported;

static void finding(void *ctx, const struct contract *c, int line, int col, const char *text)
{
	(void)ctx;
	(void)c;
	if (line < 1 || line > lines + 1 || col < 1 || !text || !*text)
		abort();
	reported++;
}

/* file names: the schema is the name without .yml */
static const char *const names[] = {
	"bo_airflow.yml", "BO_Airflow.yml", "Padealing.yml", "s1.yml", "_x.yml", "a_b_9.yml", "x.yml",
	"ABC.yml", "t_2024_q1.yml", "9abc.yml", "a-b.yml", "a.b.yml", "a b.yml", "bo_airflow", "bo_airflow.yaml",
	".yml", "..yml", "x.yml.yml", "caf\xc3\xa9.yml",
	"a23456789012345678901234567890123456789012345678901234567890123.yml",
	"a234567890123456789012345678901234567890123456789012345678901234.yml",
};

/* the pool, sorted by table: a selection keeps each table's rows together */
static const struct contract_catalog_row pool[] = {
	{ "emp", "id", "bigint", "t" },
	{ "emp", "email", "public.citext", "f" },
	{ "emp", "tags", "character varying(64)[]", "f" },
	{ "emp", "salary", "numeric(10,2)", "t" },
	{ "emp", "nick", "character varying(255)", "f" },
	{ "emp", "code", "character(1)", "f" },
	{ "emp", "mood", "app.\"Mood\"", "f" },
	{ "oracle_employee", "id", "bigint", "t" },
	{ "oracle_employee", "email", "character varying(255)", "f" },
	{ "oracle_employee", "seen", "timestamp with time zone", "f" },
	{ "oracle_employee", "ids", "integer[]", "t" },
	{ "oracle_employee", "amount", "numeric", NULL },
	{ "t", NULL, NULL, NULL },
	{ "v3_orders", "id", "integer", "t" },
	{ "v3_orders", "bits", "bit varying(12)", "f" },
	{ "v3_orders", "names", "public.citext[]", "f" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	const char *name = names[data[0] % (sizeof names / sizeof names[0])];
	unsigned mask = (unsigned)data[1] | (unsigned)data[2] << 8;
	data += 3;
	size -= 3;
	char *rel = xstrfmt("contracts/%s", name);
	fuzz_write(rel, data, size);
	lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r';
	char *path = xstrfmt("%s/%s", fuzz_dir(), rel);
	size_t nl = strlen(name);
	char *schema = nl > 4 && strcmp(name + nl - 4, ".yml") == 0 ? xstrndup(name, nl - 4) : xstrdup(name);
	struct contract c;
	if (contract_load(path, &c) == 0) {
		if (err_pending() || !name_valid(NAME_IDENT, schema) || strcmp(c.schema, schema) != 0)
			abort();
		for (size_t i = 0; i < c.ntables; i++)
			for (size_t j = 0; j < c.tables[i].ncols; j++) {
				const char *t = c.tables[i].cols[j].type;
				char *again = t ? contract_type_normalise(t) : NULL;
				if (t && (!again || strcmp(again, t) != 0))
					abort();
				free(again);
			}
		struct contract_catalog_row rows[sizeof pool / sizeof pool[0]];
		size_t n = 0;
		for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++)
			if (mask & 1u << i)
				rows[n++] = pool[i];
		reported = 0;
		if (contract_compare(&c, 1, rows, n, finding, NULL) != reported)
			abort();
		reported = 0;
		if (contract_compare(&c, 0, NULL, 0, finding, NULL) != reported)
			abort();
		contract_release(&c);
	} else {
		if (!err_pending() || c.ntables || c.nabsent || c.path)
			abort();
	}
	free(schema);
	free(path);
	free(rel);
	err_clear();
	return 0;
}

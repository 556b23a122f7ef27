/* fuzz_catalog: the drift cache file parser (catalog.c, catalog_parse).
 * Invariants: a refused file reports an error and holds nothing; an accepted
 * one serialises to text that parses back to the same catalog, which
 * serialises to the same bytes (a fixed point), and diffs empty with it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog c, back;
	if (catalog_parse((const char *)data, size, "fuzz.catalog", &c)) {
		if (!err_pending() || c.n != 0)
			abort();
		err_clear();
		return 0;
	}
	struct buf one = BUF_INIT, two = BUF_INIT;
	catalog_serialise(&c, &one);
	if (catalog_parse(buf_str(&one), one.len, "again", &back))
		abort();
	catalog_serialise(&back, &two);
	if (one.len != two.len || memcmp(buf_str(&one), buf_str(&two), one.len) != 0)
		abort();
	struct cat_diff d;
	catalog_diff(&c, &back, NULL, &d);
	if (d.n != 0)
		abort();
	cat_diff_release(&d);
	buf_release(&one);
	buf_release(&two);
	catalog_release(&c);
	catalog_release(&back);
	return 0;
}

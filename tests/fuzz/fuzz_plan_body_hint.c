/* fuzz_plan_body_hint: the file that names the last plan body recorded in a
 * ledger (plan.c, plan_body_hint_parse; .padctl/plan-body.*). It decides only
 * whether plan sends a body, but it is read from disk, so: a refused file
 * yields an empty hash and sets no error; an accepted one yields 64
 * lowercase hex digits, and is exactly the text that hash writes back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char hash[65];
	memset(hash, 'x', sizeof hash);
	if (plan_body_hint_parse((const char *)data, size, hash)) {
		if (err_pending() || hash[0])
			abort();
		return 0;
	}
	if (strlen(hash) != 64 || strspn(hash, "0123456789abcdef") != 64)
		abort();
	char back[128];
	int n = snprintf(back, sizeof back, "padctl plan body 1\n%s\n", hash);
	if (n < 0 || (size_t)n != size || memcmp(back, data, size) != 0)
		abort(); /* only the exact form is accepted */
	return 0;
}

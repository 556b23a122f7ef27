/* fuzz_plan: the plan's canonical form (plan.c), which `deploy --plan`
 * applies to bytes read back from the ledger. Canonical bytes are a fixed
 * point: canonicalising them again gives the same bytes and the same hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *once = NULL, *twice = NULL;
	size_t n1 = 0, n2 = 0;
	if (plan_canonical(text, size, &once, &n1) == 0) {
		if (plan_canonical(once, n1, &twice, &n2) != 0 || n1 != n2 || memcmp(once, twice, n1) != 0)
			abort(); /* canonical bytes must be a fixed point */
		char h1[65], h2[65];
		plan_hash(once, n1, h1);
		plan_hash(twice, n2, h2);
		if (strcmp(h1, h2) != 0)
			abort();
	}
	err_clear();
	free(once);
	free(twice);
	free(text);
	return 0;
}

/* fuzz_drift_quiet: the file that keeps a target's quiet key and fingerprint
 * (drift.c, drift_quiet_parse; .padctl/drift/quiet.*). What it accepts goes
 * into SQL as a literal, so the invariants are: a refused file yields
 * nothing and sets no error; an accepted one yields a key and a value that
 * are not empty and hold no quote, backslash, control character or byte
 * above 0x7e, a key without spaces, and the same text written back parses
 * to the same two. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "drift.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, int spaces)
{
	if (!*s)
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\'' || *p == '\\' || (*p == ' ' && !spaces))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *k, *v;
	if (drift_quiet_parse((const char *)data, size, &k, &v)) {
		if (err_pending() || k || v)
			abort();
		return 0;
	}
	check(k, 0);
	check(v, 1);
	struct buf b = BUF_INIT;
	buf_addf(&b, "padctl drift quiet " DRIFT_VERSION "\n%s\n%s\n", k, v);
	char *k2, *v2;
	if (drift_quiet_parse(buf_str(&b), b.len, &k2, &v2) || strcmp(k, k2) || strcmp(v, v2))
		abort();
	if (b.len != size || memcmp(buf_str(&b), data, size))
		abort(); /* only the exact form is accepted */
	buf_release(&b);
	free(k);
	free(v);
	free(k2);
	free(v2);
	return 0;
}

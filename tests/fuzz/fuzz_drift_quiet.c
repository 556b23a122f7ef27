/* fuzz_drift_quiet: the file that keeps a target's quiet key and fingerprint
 * (drift.c, drift_quiet_parse; .padctl/drift/quiet.*). What it accepts goes
 * into SQL as literals, so the invariants are: a refused file yields
 * nothing and sets no error; an accepted one yields a key and a value that
 * are not empty and hold no quote, backslash, control character or byte
 * above 0x7e, a key without spaces, a count of digits, and the same text
 * written back parses to the same. */
#include <stdint.h>
#include <stdio.h>
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
	struct drift_quiet q;
	if (drift_quiet_parse((const char *)data, size, &q)) {
		if (err_pending() || q.key || q.rows || q.value || q.ident)
			abort();
		return 0;
	}
	check(q.key, 0);
	check(q.value, 1);
	check(q.ident, 0);
	/* the rows and the ident are digits (and bars): an int8 literal, and
	 * the key's parts */
	const char *rows = q.rows[0] == '-' ? q.rows + 1 : q.rows;
	if (!*rows || strspn(rows, "0123456789") != strlen(rows) || strlen(q.rows) > 18 ||
	    strspn(q.ident, "0123456789|") != strlen(q.ident) || (q.rows[0] == '-') != (q.misses > 0))
		abort();
	struct buf b = BUF_INIT;
	buf_addf(&b, "padctl drift quiet " DRIFT_VERSION " rows\n%s\n%s\n%s\n", q.key, q.rows, q.value);
	struct drift_quiet q2;
	if (drift_quiet_parse(buf_str(&b), b.len, &q2) || strcmp(q.key, q2.key) || strcmp(q.rows, q2.rows) ||
	    strcmp(q.value, q2.value) || strcmp(q.ident, q2.ident) || q.xmin != q2.xmin)
		abort();
	if (b.len != size || memcmp(buf_str(&b), data, size))
		abort(); /* only the exact form is accepted */
	/* the xmin is the snapshot's first number, as written */
	char xmin[32];
	snprintf(xmin, sizeof xmin, "|%llu:", (unsigned long long)q.xmin);
	if (!strstr(q.key, xmin))
		abort();
	buf_release(&b);
	drift_quiet_release(&q);
	drift_quiet_release(&q2);
	return 0;
}

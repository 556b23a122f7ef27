/* fuzz_sumcache: plan's checksum cache file parser (sumcache.c,
 * sumcache_parse; .padctl/sums). Invariants: a refused file holds nothing
 * and sets no error (a bad cache is ignored); an accepted one holds sorted,
 * distinct names without control characters and lowercase hex checksums,
 * renders (all entries used) to text that parses back to the same entries
 * and renders to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "sumcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const root = "/p/migrations";

static void check(const struct sumcache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct sum_entry *e = &c->v[i];
		if (strlen(e->sum) != 64 || strspn(e->sum, "0123456789abcdef") != 64 || !*e->rel)
			abort();
		for (const unsigned char *p = (const unsigned char *)e->rel; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				abort();
		if (i && strcmp(c->v[i - 1].rel, e->rel) >= 0)
			abort();
		if (e->mtime_ns > 999999999 || e->ctime_ns > 999999999 || e->size < 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sumcache c, back;
	if (sumcache_parse((const char *)data, size, root, &c)) {
		if (err_pending() || c.n != 0 || c.v)
			abort();
		return 0;
	}
	check(&c);
	for (size_t i = 0; i < c.n; i++)
		c.v[i].used = 1;
	struct buf one = BUF_INIT, two = BUF_INIT;
	if (sumcache_render(&c, &one))
		abort(); /* all used, nothing added: unchanged */
	if (sumcache_parse(buf_str(&one), one.len, root, &back) || back.n != c.n)
		abort();
	for (size_t i = 0; i < back.n; i++)
		back.v[i].used = 1;
	sumcache_render(&back, &two);
	if (one.len != two.len || memcmp(buf_str(&one), buf_str(&two), one.len) != 0)
		abort();
	buf_release(&one);
	buf_release(&two);
	sumcache_release(&c);
	sumcache_release(&back);
	return 0;
}

/* fuzz_known_hosts: the known_hosts parser and matcher (remote/knownhosts.c).
 * Invariants: a refused file says why and holds nothing; every line read
 * has a host field, a key type equal to the one its key blob names and a
 * non-empty key; the same text with CRLF endings reads the same; a key read
 * from a plain line for a host is accepted for it unless revoked; matching
 * any host against every line never crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_file f;
	if (kh_parse((const char *)data, size, "known_hosts", &f)) {
		if (f.n || f.v || !err_pending())
			abort();
		err_clear();
		return 0;
	}
	for (size_t i = 0; i < f.n; i++) {
		const struct kh_entry *e = &f.v[i];
		char *t = kh_blob_keytype(e->blob, e->bloblen);
		if (!e->hosts || !*e->hosts || !t || strcmp(t, e->keytype) || !e->bloblen || e->lineno < 1)
			abort();
		free(t);
		char *fp = kh_fingerprint(e->blob, e->bloblen);
		if (strncmp(fp, "SHA256:", 7) || strlen(fp) != 7 + 43)
			abort();
		free(fp);
		/* a plain host name on a plain line is accepted for its key, unless revoked */
		if (e->marker == KH_MARK_NONE && !strpbrk(e->hosts, "*?!,|[")) {
			int line;
			enum kh_result r = kh_check(&f, e->hosts, 22, e->keytype, e->blob, e->bloblen, &line);
			if (r != KH_OK && r != KH_REVOKED)
				abort();
		}
		kh_host_matches(e->hosts, "bastion.qa.internal", 2222);
	}
	if (!memchr(data, '\r', size)) {
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < size; i++)
			buf_add(&b, data[i] == '\n' ? "\r\n" : (const char *)data + i, data[i] == '\n' ? 2 : 1);
		struct kh_file g;
		if (kh_parse(b.s ? b.s : "", b.len, "known_hosts", &g) || g.n != f.n)
			abort();
		for (size_t i = 0; i < f.n; i++)
			if (g.v[i].bloblen != f.v[i].bloblen || memcmp(g.v[i].blob, f.v[i].blob, f.v[i].bloblen) ||
			    strcmp(g.v[i].hosts, f.v[i].hosts) || g.v[i].marker != f.v[i].marker)
				abort();
		kh_file_release(&g);
		buf_release(&b);
	}
	kh_file_release(&f);
	return 0;
}

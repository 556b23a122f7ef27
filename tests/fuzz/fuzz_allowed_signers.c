/* fuzz_allowed_signers: the principals of an allowed_signers file
 * (sign_principals, plan/sign.h). Invariants: every name is non-empty, holds
 * no NUL, white space, comma or line break, and appears once; the list is
 * NULL-terminated; the same text with CRLF line endings gives the same list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char **v;
	size_t n;
	sign_principals(text, size, &v, &n);
	if (v[n])
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!*v[i] || strpbrk(v[i], "\n,") || (strpbrk(v[i], " \t\r") && !memchr(text, '"', size)))
			abort();
		for (size_t k = 0; k < i; k++)
			if (strcmp(v[i], v[k]) == 0)
				abort();
	}
	if (!memchr(text, '\r', size) && !memchr(text, '\0', size)) {
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < size; i++)
			buf_add(&b, text[i] == '\n' ? "\r\n" : text + i, text[i] == '\n' ? 2 : 1);
		char **w;
		size_t m;
		sign_principals(b.len ? buf_str(&b) : "", b.len, &w, &m);
		/* a CR ends a line's first field just as the line break does, except inside quotes */
		if (!memchr(text, '"', size)) {
			if (m != n)
				abort();
			for (size_t i = 0; i < n; i++)
				if (strcmp(v[i], w[i]) != 0)
					abort();
		}
		sign_principals_free(w, m);
		buf_release(&b);
	}
	sign_principals_free(v, n);
	return 0;
}

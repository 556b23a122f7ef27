/* SHA256_Init and its siblings are deprecated since OpenSSL 3.0 but still
 * there; hash.h says why padctl uses them. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "hash.h"

#include "log.h"

void hash_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

int hash_is_hex(const char *s, size_t n)
{
	unsigned bad = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)s[i];
		bad |= (unsigned)(c - '0' > 9u) & (unsigned)(c - 'a' > 5u);
	}
	return !bad;
}

void hash_sha256_init(struct hash_sha256 *h)
{
	h->ok = SHA256_Init(&h->ctx) == 1;
}

void hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len)
{
	if (h->ok)
		h->ok = SHA256_Update(&h->ctx, data, len) == 1;
}

int hash_sha256_final(struct hash_sha256 *h, char out[HASH_SHA256_HEX_SIZE])
{
	unsigned char md[HASH_SHA256_LEN];
	if (h->ok)
		h->ok = SHA256_Final(md, &h->ctx) == 1;
	if (!h->ok) {
		out[0] = '\0';
		return -1;
	}
	hash_hex(md, sizeof md, out);
	return 0;
}

int hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX_SIZE])
{
	struct hash_sha256 h;
	hash_sha256_init(&h);
	hash_sha256_update(&h, data, len);
	if (hash_sha256_final(&h, out))
		return fail("could not compute a SHA-256 digest (OpenSSL failed)");
	return 0;
}

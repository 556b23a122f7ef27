/* hash: SHA-256 and bytes as hex, the one way padctl computes a digest
 * (migration checksums, trusted commands, the relocated cluster's name).
 *
 * SHA-256 goes through OpenSSL's provider-free SHA256 functions: fetching
 * the digest from a provider costs about a millisecond per process (status
 * checksums every migration), and the digest is the same either way. Every
 * OpenSSL call is checked: a digest made of garbage is never returned. */
#ifndef PADCTL_HASH_H
#define PADCTL_HASH_H

#include <openssl/sha.h>
#include <stddef.h>

/* bytes in a SHA-256 digest, and room for it as hex with its NUL */
#define HASH_SHA256_LEN 32
#define HASH_SHA256_HEX_SIZE (2 * HASH_SHA256_LEN + 1)

/* hash_hex writes the n bytes as 2n lowercase hex digits and a NUL into out,
 * which holds 2n+1 bytes. */
void hash_hex(const unsigned char *bytes, size_t n, char *out);

/* hash_is_hex tells whether the n bytes at s are all lowercase hex digits
 * (what hash_hex writes); s must hold n bytes. No branch per character:
 * digits and letters alternate at random in a digest, and a test per
 * character mispredicts half the time (plan checks thousands of digests). */
int hash_is_hex(const char *s, size_t n);

/* hash_sha256_hex writes the SHA-256 of len bytes of data as lowercase hex
 * into out. Returns 0, or -1 after fail() when OpenSSL fails. */
int hash_sha256_hex(const void *data, size_t len, char out[HASH_SHA256_HEX_SIZE]);

/* A SHA-256 computed piece by piece (for text normalised while it is hashed). */
struct hash_sha256 {
	SHA256_CTX ctx;
	int ok;
};

void hash_sha256_init(struct hash_sha256 *h);
void hash_sha256_update(struct hash_sha256 *h, const void *data, size_t len);
/* hash_sha256_final writes the digest as hex into out; -1 (and no error
 * recorded: the caller says what it was hashing) when any OpenSSL call of the
 * computation failed. */
int hash_sha256_final(struct hash_sha256 *h, char out[HASH_SHA256_HEX_SIZE]);

#endif

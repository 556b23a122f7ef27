/* hash: SHA-256 and hex, checked against published test vectors. */
#include <string.h>

#include "hash.h"
#include "log.h"
#include "migrations.h"
#include "unit.h"

static void test_hex(void)
{
	const unsigned char bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof bytes + 1];
	memset(out, 'x', sizeof out);
	hash_hex(bytes, sizeof bytes, out);
	CU_ASSERT_STRING_EQUAL(out, "00017f80abff");
	hash_hex(bytes, 0, out);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_is_hex(void)
{
	CU_ASSERT_TRUE(hash_is_hex("0123456789abcdef", 16));
	CU_ASSERT_TRUE(hash_is_hex("", 0));
	CU_ASSERT_TRUE(hash_is_hex("ab", 2));
	/* only lowercase hex: what hash_hex writes */
	static const char *const bad[] = { "A", "F", "g", "G", "/", ":", "`", "@", " ", "\n", "\xff", "-" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CU_ASSERT_FALSE(hash_is_hex(bad[i], strlen(bad[i])));
	/* the bad character anywhere, and the bytes after n not read */
	CU_ASSERT_FALSE(hash_is_hex("0123456789abcdeX", 16));
	CU_ASSERT_FALSE(hash_is_hex("X123456789abcdef", 16));
	CU_ASSERT_TRUE(hash_is_hex("0123456789abcdefXYZ", 16));
	char nul[4] = { 'a', '\0', 'b', 'c' };
	CU_ASSERT_FALSE(hash_is_hex(nul, 4));
}

static void test_sha256_vectors(void)
{
	char out[HASH_SHA256_HEX_SIZE];
	CU_ASSERT_EQUAL(hash_sha256_hex("", 0, out), 0);
	CU_ASSERT_STRING_EQUAL(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CU_ASSERT_EQUAL(hash_sha256_hex("abc", 3, out), 0);
	CU_ASSERT_STRING_EQUAL(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	CU_ASSERT_EQUAL(hash_sha256_hex(two, strlen(two), out), 0);
	CU_ASSERT_STRING_EQUAL(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* a NUL byte is data like any other */
	CU_ASSERT_EQUAL(hash_sha256_hex("a\0b", 3, out), 0);
	char other[HASH_SHA256_HEX_SIZE];
	CU_ASSERT_EQUAL(hash_sha256_hex("a", 1, other), 0);
	CU_ASSERT_STRING_NOT_EQUAL(out, other);
	CU_ASSERT_FALSE(err_pending());
}

static void test_pieces_equal_whole(void)
{
	const char *text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	size_t len = strlen(text);
	char whole[HASH_SHA256_HEX_SIZE];
	CU_ASSERT_EQUAL(hash_sha256_hex(text, len, whole), 0);
	for (size_t cut = 0; cut <= len; cut += 7) {
		struct hash_sha256 h;
		char piece[HASH_SHA256_HEX_SIZE];
		hash_sha256_init(&h);
		hash_sha256_update(&h, text, cut);
		hash_sha256_update(&h, text + cut, 0);
		hash_sha256_update(&h, text + cut, len - cut);
		CU_ASSERT_EQUAL(hash_sha256_final(&h, piece), 0);
		CU_ASSERT_STRING_EQUAL(piece, whole);
	}
}

static void test_migration_checksum(void)
{
	/* the migration checksum is the SHA-256 of the text with LF line endings */
	char a[65], b[65], c[65], want[HASH_SHA256_HEX_SIZE];
	migration_checksum("x\r\ny\rz\n", 7, a);
	migration_checksum("x\ny\nz\n", 6, b);
	CU_ASSERT_EQUAL(hash_sha256_hex("x\ny\nz\n", 6, want), 0);
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT_STRING_EQUAL(b, want);
	migration_checksum("", 0, c);
	CU_ASSERT_STRING_EQUAL(c, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "bytes as hex", test_hex },
		{ "lowercase hex recognised", test_is_hex },
		{ "SHA-256 test vectors", test_sha256_vectors },
		{ "in pieces equals at once", test_pieces_equal_whole },
		{ "migration checksums", test_migration_checksum },
		{ NULL, NULL },
	};
	return unit_run("hash", tests);
}

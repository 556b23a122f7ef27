#include "remote.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* ---------------------------------------------------------------- base64 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kh_base64_decode(const char *text, size_t n, unsigned char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	/* padding only at the end, at most two, and only where it belongs */
	size_t pad = 0;
	while (n && text[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad && (n + pad) % 4))
		return -1;
	unsigned char *o = xmalloc(n / 4 * 3 + 3);
	size_t k = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)text[i]);
		if (v < 0) {
			free(o);
			return -1;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* the bits left over must be zero: one text, one meaning */
	if (acc) {
		free(o);
		return -1;
	}
	*out = o;
	*outlen = k;
	return 0;
}

void kh_base64_add(struct buf *b, const unsigned char *data, size_t n, int pad)
{
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
		buf_addch(b, b64[v >> 18]);
		buf_addch(b, b64[(v >> 12) & 63]);
		buf_addch(b, b64[(v >> 6) & 63]);
		buf_addch(b, b64[v & 63]);
	}
	if (n - i == 1) {
		unsigned v = (unsigned)data[i] << 16;
		buf_addch(b, b64[v >> 18]);
		buf_addch(b, b64[(v >> 12) & 63]);
		if (pad)
			buf_adds(b, "==");
	} else if (n - i == 2) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
		buf_addch(b, b64[v >> 18]);
		buf_addch(b, b64[(v >> 12) & 63]);
		buf_addch(b, b64[(v >> 6) & 63]);
		if (pad)
			buf_addch(b, '=');
	}
}

/* ---------------------------------------------------------------- keys */

char *kh_blob_keytype(const unsigned char *blob, size_t bloblen)
{
	if (bloblen < 4)
		return NULL;
	size_t n = (size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 | blob[3];
	if (n == 0 || n > bloblen - 4 || n > 64)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (blob[4 + i] <= ' ' || blob[4 + i] >= 0x7f)
			return NULL;
	return xstrndup((const char *)blob + 4, n);
}

char *kh_fingerprint(const unsigned char *blob, size_t bloblen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct buf b = BUF_INIT;
	buf_adds(&b, "SHA256:");
	if (!SHA256(blob, bloblen, md)) {
		buf_adds(&b, "(unavailable)");
		return buf_detach(&b);
	}
	kh_base64_add(&b, md, sizeof md, 0);
	return buf_detach(&b);
}

/* ---------------------------------------------------------------- parsing */

void kh_file_release(struct kh_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].hosts);
		free(f->v[i].keytype);
		free(f->v[i].blob);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

/* next_field returns the next blank-separated field of [*p, end) and its
 * length, moving *p past it; NULL at the end of the line. */
static const char *next_field(const char **p, const char *end, size_t *len)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end) {
		*p = s;
		return NULL;
	}
	const char *e = s;
	while (e < end && *e != ' ' && *e != '\t')
		e++;
	*len = (size_t)(e - s);
	*p = e;
	return s;
}

static int line_error(const char *path, int lineno, const char *what)
{
	fail("could not read the known_hosts file \"%s\": line %d %s", path, lineno, what);
	fail_detail("padctl reads every line: a line it cannot read might be a revocation it would miss");
	return fail_hint("fix or remove line %d (`ssh-keygen -F HOST -f FILE` shows the lines of a host); padctl "
			 "never writes this file",
			 lineno);
}

static int parse_line(const char *s, const char *end, const char *path, int lineno, struct kh_entry *e)
{
	size_t n;
	const char *p = s;
	const char *f = next_field(&p, end, &n);
	memset(e, 0, sizeof *e);
	e->lineno = lineno;
	if (*f == '@') {
		if (n == 8 && !memcmp(f, "@revoked", 8))
			e->marker = KH_MARK_REVOKED;
		else if (n == 15 && !memcmp(f, "@cert-authority", 15))
			e->marker = KH_MARK_CERT_AUTHORITY;
		else
			return line_error(path, lineno, "has a marker other than @revoked and @cert-authority");
		f = next_field(&p, end, &n);
		if (!f)
			return line_error(path, lineno, "has a marker and nothing else");
	}
	e->hosts = xstrndup(f, n);
	const char *kt = next_field(&p, end, &n);
	if (!kt)
		return line_error(path, lineno, "has no key type");
	e->keytype = xstrndup(kt, n);
	const char *k = next_field(&p, end, &n);
	if (!k)
		return line_error(path, lineno, "has no key");
	if (kh_base64_decode(k, n, &e->blob, &e->bloblen) || !e->bloblen)
		return line_error(path, lineno, "has a key that is not base64");
	/* the blob names its own type: a line whose two disagree is not a key line */
	char *inner = kh_blob_keytype(e->blob, e->bloblen);
	int same = inner && strcmp(inner, e->keytype) == 0;
	free(inner);
	if (!same)
		return line_error(path, lineno, "has a key whose type is not the type written before it");
	/* the rest is a comment */
	return 0;
}

int kh_parse(const char *text, size_t len, const char *path, struct kh_file *f)
{
	f->v = NULL;
	f->n = 0;
	size_t cap = 0;
	const char *p = text, *end = text + len;
	int lineno = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lineno++;
		const char *s = p;
		p = nl ? nl + 1 : end;
		const char *e = le;
		if (e > s && e[-1] == '\r')
			e--;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s == e || *s == '#')
			continue;
		if (memchr(s, '\0', (size_t)(e - s))) {
			kh_file_release(f);
			return line_error(path, lineno, "holds a NUL byte");
		}
		if (f->n == cap) {
			cap = cap ? 2 * cap : 16;
			f->v = xrealloc(f->v, cap * sizeof *f->v);
		}
		struct kh_entry *en = &f->v[f->n];
		int rc = parse_line(s, e, path, lineno, en);
		f->n++;
		if (rc) {
			kh_file_release(f);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- matching */

/* glob matches a pattern of * and ? against s, case-insensitively */
static int glob(const char *pat, size_t plen, const char *s)
{
	const char *star = NULL, *retry = NULL;
	size_t i = 0, star_i = 0;
	while (*s) {
		if (i < plen && (pat[i] == '?' || tolower((unsigned char)pat[i]) == tolower((unsigned char)*s))) {
			i++;
			s++;
		} else if (i < plen && pat[i] == '*') {
			star = pat;
			star_i = ++i;
			retry = s;
		} else if (star) {
			i = star_i;
			s = ++retry;
		} else {
			return 0;
		}
	}
	while (i < plen && pat[i] == '*')
		i++;
	return i == plen;
}

static int hashed_matches(const char *field, const char *name)
{
	/* |1|base64(salt)|base64(HMAC-SHA1(salt, name)) */
	const char *salt = field + 3;
	const char *bar = strchr(salt, '|');
	if (!bar)
		return 0;
	unsigned char *key = NULL, *want = NULL;
	size_t keylen, wantlen;
	int match = 0;
	if (!kh_base64_decode(salt, (size_t)(bar - salt), &key, &keylen) &&
	    !kh_base64_decode(bar + 1, strlen(bar + 1), &want, &wantlen) && wantlen == SHA_DIGEST_LENGTH) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		if (HMAC(EVP_sha1(), key, (int)keylen, (const unsigned char *)name, strlen(name), md, &mdlen) &&
		    mdlen == SHA_DIGEST_LENGTH)
			match = memcmp(md, want, SHA_DIGEST_LENGTH) == 0;
	}
	free(key);
	free(want);
	return match;
}

int kh_host_matches(const char *hosts, const char *host, int port)
{
	struct buf name = BUF_INIT;
	if (port == 22)
		buf_adds(&name, host);
	else
		buf_addf(&name, "[%s]:%d", host, port);
	/* OpenSSH hashes and compares the lower-case name */
	for (size_t i = 0; i < name.len; i++)
		name.s[i] = (char)tolower((unsigned char)name.s[i]);
	int match = 0;
	if (!strncmp(hosts, "|1|", 3)) {
		match = hashed_matches(hosts, name.s);
	} else {
		const char *p = hosts;
		while (*p) {
			const char *c = strchr(p, ',');
			size_t n = c ? (size_t)(c - p) : strlen(p);
			int neg = n && *p == '!';
			if (n > (size_t)neg && glob(p + neg, n - (size_t)neg, name.s)) {
				if (neg) {
					match = 0;
					break;
				}
				match = 1;
			}
			p += n;
			if (*p == ',')
				p++;
		}
	}
	buf_release(&name);
	return match;
}

enum kh_result kh_check(const struct kh_file *f, const char *host, int port, const char *keytype,
			const unsigned char *blob, size_t bloblen, int *lineno)
{
	*lineno = 0;
	int changed = 0, ok = 0;
	for (size_t i = 0; i < f->n; i++) {
		const struct kh_entry *e = &f->v[i];
		int same_key = e->bloblen == bloblen && memcmp(e->blob, blob, bloblen) == 0;
		if (e->marker == KH_MARK_REVOKED) {
			/* a revoked key is refused for every host: stricter than needed, never wrong */
			if (same_key) {
				*lineno = e->lineno;
				return KH_REVOKED;
			}
			continue;
		}
		if (e->marker == KH_MARK_CERT_AUTHORITY || !kh_host_matches(e->hosts, host, port))
			continue;
		if (same_key) {
			if (!ok)
				ok = e->lineno;
		} else if (!strcmp(e->keytype, keytype) && !changed) {
			changed = e->lineno;
		}
	}
	/* a key that is on a line for the host counts, even when another line
	 * holds an older key of the same type (OpenSSH accepts it too) */
	if (ok) {
		*lineno = ok;
		return KH_OK;
	}
	if (changed) {
		*lineno = changed;
		return KH_CHANGED;
	}
	return KH_UNKNOWN;
}

void kh_host_keytypes(const struct kh_file *f, const char *host, int port, struct buf *out)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct kh_entry *e = &f->v[i];
		if (e->marker != KH_MARK_NONE || !kh_host_matches(e->hosts, host, port))
			continue;
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = f->v[j].marker == KH_MARK_NONE && !strcmp(f->v[j].keytype, e->keytype) &&
			       kh_host_matches(f->v[j].hosts, host, port);
		if (seen)
			continue;
		if (out->len)
			buf_addch(out, ',');
		buf_adds(out, e->keytype);
	}
}

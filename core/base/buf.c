#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t n)
{
	fprintf(stderr, "padctl: fatal: out of memory (wanted %zu bytes)\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xstrfmt(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b);
}

void buf_init(struct buf *b)
{
	b->s = NULL;
	b->len = b->cap = 0;
}

static void buf_grow(struct buf *b, size_t extra)
{
	size_t want = b->len + extra + 1;
	if (want <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap *= 2;
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

void buf_add(struct buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addch(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	/* format into the room there is, and a second time only when it did not
	 * fit: most strings are short, and status builds thousands of paths */
	buf_grow(b, 63);
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->s[b->len] = '\0';
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

const char *buf_str(const struct buf *b)
{
	return b->s ? b->s : "";
}

char *buf_detach(struct buf *b)
{
	char *s = b->s ? b->s : xstrdup("");
	buf_init(b);
	return s;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void buf_release(struct buf *b)
{
	free(b->s);
	buf_init(b);
}

void buf_shell_quote(struct buf *b, const char *s)
{
	buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addch(b, *s);
	}
	buf_addch(b, '\'');
}

/* utf8_len returns the length of the valid UTF-8 sequence at p (at most n
 * bytes available) that is not a C1 control, or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned int cp;
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		len = 2;
		cp = p[0] & 0x1Fu;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		len = 3;
		cp = p[0] & 0x0Fu;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4;
		cp = p[0] & 0x07u;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3Fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	if (cp >= 0x80 && cp <= 0x9F)
		return 0;
	return len;
}

static void add_xbyte(struct buf *b, unsigned char c)
{
	static const char digits[] = "0123456789abcdef";
	char x[4] = { '\\', 'x', digits[c >> 4], digits[c & 15] };
	buf_add(b, x, sizeof x);
}

size_t buf_add_escaped(struct buf *b, const char *s, const char *also, int flags, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; *p && (!max || b->len < max); p++) {
		if ((flags & BUF_ESC_CQUOTE) && (*p == '"' || *p == '\\')) {
			buf_addch(b, '\\');
			buf_addch(b, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f || ((flags & BUF_ESC_HIGH) && *p >= 0x80) ||
			   (also && strchr(also, *p))) {
			add_xbyte(b, *p);
		} else {
			buf_addch(b, (char)*p);
		}
	}
	return (size_t)(p - (const unsigned char *)s);
}

void buf_add_backslashed(struct buf *b, const char *s, const char *special)
{
	for (; *s; s++) {
		if (strchr(special, *s))
			buf_addch(b, '\\');
		buf_addch(b, *s);
	}
}

static void add_printable(struct buf *b, const char *s, int keep_newlines)
{
	if (!s)
		return;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n) {
		if ((*p >= 0x20 && *p < 0x7f) || (keep_newlines && (*p == '\n' || *p == '\t'))) {
			buf_addch(b, (char)*p);
			p++;
			n--;
			continue;
		}
		size_t l = *p >= 0x80 ? utf8_len(p, n) : 0;
		if (l) {
			buf_add(b, (const char *)p, l);
			p += l;
			n -= l;
			continue;
		}
		add_xbyte(b, *p);
		p++;
		n--;
	}
}

void buf_add_printable(struct buf *b, const char *s)
{
	add_printable(b, s, 0);
}

void buf_add_printable_lines(struct buf *b, const char *s)
{
	add_printable(b, s, 1);
}

char *xstrprintable(const char *s)
{
	struct buf b = BUF_INIT;
	buf_add_printable(&b, s ? s : "");
	return buf_detach(&b);
}

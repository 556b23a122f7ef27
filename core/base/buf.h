/* buf: the one growable string buffer every part of padctl builds text with. */
#ifndef PADCTL_BUF_H
#define PADCTL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *s;    /* NUL-terminated once anything was added; NULL before */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* buf_init prepares an empty buffer (same as BUF_INIT). */
void buf_init(struct buf *b);
/* buf_add appends n bytes of s (which may contain NUL bytes). */
void buf_add(struct buf *b, const char *s, size_t n);
/* buf_adds appends the C string s. */
void buf_adds(struct buf *b, const char *s);
/* buf_addch appends one character. */
void buf_addch(struct buf *b, char c);
/* buf_addf appends printf-style formatted text. */
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_vaddf is buf_addf with a va_list. */
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* buf_str returns the contents, "" for an empty buffer; borrowed until the next change. */
const char *buf_str(const struct buf *b);
/* buf_detach hands the string to the caller (never NULL) and leaves b empty. */
char *buf_detach(struct buf *b);
/* buf_reset empties b but keeps its memory. */
void buf_reset(struct buf *b);
/* buf_release frees b's memory and leaves it empty. */
void buf_release(struct buf *b);
/* buf_add_printable appends s for a terminal or a line-based output: control
 * characters (a newline, ESC, C1 controls) and bytes that are not valid UTF-8
 * become \xHH, so a name from the file system can never forge an output line
 * or drive the terminal. Every name padctl prints goes through it. */
void buf_add_printable(struct buf *b, const char *s);
/* buf_add_printable_lines is buf_add_printable keeping newlines and tabs, for
 * text that has several lines by design (an error with its detail lines, SQL). */
void buf_add_printable_lines(struct buf *b, const char *s);
/* flags of buf_add_escaped */
enum {
	BUF_ESC_HIGH = 1, /* bytes from 0x80 up become \xHH too */
	BUF_ESC_CQUOTE = 2, /* " and \ become \" and \\ (text shown inside double quotes) */
};
/* buf_add_escaped appends s with every control byte (below 0x20, and 0x7f)
 * and every byte found in also (NULL: none) written as \xHH, plus what flags
 * add; every escape of padctl's own formats and messages is this one. With
 * max > 0 it stops before a byte once b holds max bytes or more. Returns how
 * many bytes of s it consumed (strlen(s) when it did not stop). */
size_t buf_add_escaped(struct buf *b, const char *s, const char *also, int flags, size_t max);
/* xstrprintable returns buf_add_printable's result for s (newly allocated; "" for NULL). */
char *xstrprintable(const char *s);
/* buf_add_backslashed appends s with a backslash before every byte found in
 * special (libpq's connection strings and pgpass lines quote that way). */
void buf_add_backslashed(struct buf *b, const char *s, const char *special);
/* buf_shell_quote appends s single-quoted for a POSIX shell. */
void buf_shell_quote(struct buf *b, const char *s);

/* xmalloc and friends abort with a message when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xstrfmt returns a newly allocated formatted string. */
char *xstrfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

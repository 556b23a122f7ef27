#include "log.h"
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int level = LOG_NORMAL;
static int color;

/* the command's scope, always open, and the innermost open scope */
static struct err_scope root;
static struct err_scope *top = &root;

void log_setup(int lvl)
{
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	level = lvl;
	color = isatty(STDERR_FILENO) && !(nc && *nc) && term && *term && strcmp(term, "dumb") != 0;
}

int log_level_get(void)
{
	return level;
}

int log_color(void)
{
	return color;
}

void log_vmsg(int lvl, const char *prefix, const char *fmt, va_list ap)
{
	if (lvl > level)
		return;
	struct buf text = BUF_INIT, b = BUF_INIT;
	buf_vaddf(&text, fmt, ap);
	buf_adds(&b, prefix);
	/* names in messages come from files and servers: no escape sequence reaches the terminal */
	buf_add_printable_lines(&b, buf_str(&text));
	buf_addch(&b, '\n');
	fputs(buf_str(&b), stderr);
	buf_release(&text);
	buf_release(&b);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_NORMAL, "", fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_VERBOSE, "", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_QUIET, color ? "\033[33mwarning:\033[0m " : "warning: ", fmt, ap);
	va_end(ap);
}

static void scope_free(struct err_scope *s)
{
	free(s->message);
	free(s->detail);
	free(s->hint);
	s->message = s->detail = s->hint = NULL;
	s->status = EXIT_OK;
	s->accepting = 0;
}

void err_scope_push(struct err_scope *s)
{
	memset(s, 0, sizeof *s);
	s->outer = top;
	top = s;
}

void err_scope_pop(struct err_scope *s, enum err_pop how)
{
	if (s != top || s == &root) {
		/* a scope left open or closed twice would send errors to a dead frame */
		fputs("padctl: internal error: error scopes popped out of order\n", stderr);
		abort();
	}
	struct err_scope *outer = s->outer;
	top = outer;
	if (how == ERR_PROPAGATE && s->message) {
		if (!outer->message) {
			/* the strings move; the scope frees nothing of them */
			outer->message = s->message;
			outer->detail = s->detail;
			outer->hint = s->hint;
			outer->status = s->status;
			outer->accepting = s->accepting;
			s->message = s->detail = s->hint = NULL;
		} else {
			/* what a fail() in the enclosing scope would have met: the first error wins */
			outer->accepting = 0;
		}
	}
	scope_free(s);
	s->outer = NULL;
}

int vfail(const char *fmt, va_list ap)
{
	if (top->message) {
		top->accepting = 0;
		return -1;
	}
	struct buf b = BUF_INIT;
	buf_vaddf(&b, fmt, ap);
	top->message = buf_detach(&b);
	top->status = EXIT_STEP;
	top->accepting = 1;
	return -1;
}

int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
	return -1;
}

static int add_line(char **slot, const char *fmt, va_list ap)
{
	if (!top->accepting)
		return -1;
	struct buf b = BUF_INIT;
	if (*slot) {
		buf_adds(&b, *slot);
		buf_addch(&b, '\n');
		free(*slot);
	}
	buf_vaddf(&b, fmt, ap);
	*slot = buf_detach(&b);
	return -1;
}

int fail_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_line(&top->detail, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_hint(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_line(&top->hint, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_status(int status)
{
	if (top->accepting)
		top->status = status;
	return -1;
}

void err_hint_if_none(const char *hint)
{
	if (top->message && !top->hint && hint)
		top->hint = xstrdup(hint);
}

int err_pending(void)
{
	return top->message != NULL;
}

const char *err_message(void)
{
	return top->message;
}

const char *err_detail(void)
{
	return top->detail;
}

const char *err_hint(void)
{
	return top->hint;
}

int err_exit_status(void)
{
	return top->message ? top->status : EXIT_OK;
}

static void print_lines(const char *label, const char *raw)
{
	char *text = NULL;
	struct buf b = BUF_INIT;
	buf_add_printable_lines(&b, raw);
	text = buf_detach(&b);
	const char *p = text;
	while (*p) {
		const char *nl = p;
		while (*nl && *nl != '\n')
			nl++;
		fprintf(stderr, "%s: %.*s\n", label, (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
	free(text);
}

void err_print(void)
{
	if (!top->message)
		return;
	struct buf msg = BUF_INIT;
	buf_add_printable_lines(&msg, top->message);
	fprintf(stderr, "%serror:%s %s\n", color ? "\033[1;31m" : "", color ? "\033[0m" : "", buf_str(&msg));
	buf_release(&msg);
	if (top->detail)
		print_lines("DETAIL", top->detail);
	if (top->hint)
		print_lines("HINT", top->hint);
}

void err_clear(void)
{
	scope_free(top);
}

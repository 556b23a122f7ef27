#include "log.h"
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int level = LOG_NORMAL;
static int color;

static struct {
	char *message;
	char *detail;
	char *hint;
	int status;
	int accepting; /* the last fail() call is the recorded one */
} err;

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

int vfail(const char *fmt, va_list ap)
{
	if (err.message) {
		err.accepting = 0;
		return -1;
	}
	struct buf b = BUF_INIT;
	buf_vaddf(&b, fmt, ap);
	err.message = buf_detach(&b);
	err.status = EXIT_STEP;
	err.accepting = 1;
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
	if (!err.accepting)
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
	add_line(&err.detail, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_hint(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_line(&err.hint, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_status(int status)
{
	if (err.accepting)
		err.status = status;
	return -1;
}

void err_hint_if_none(const char *hint)
{
	if (err.message && !err.hint && hint)
		err.hint = xstrdup(hint);
}

int err_pending(void)
{
	return err.message != NULL;
}

const char *err_message(void)
{
	return err.message;
}

const char *err_detail(void)
{
	return err.detail;
}

const char *err_hint(void)
{
	return err.hint;
}

int err_exit_status(void)
{
	return err.message ? err.status : EXIT_OK;
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
	if (!err.message)
		return;
	struct buf msg = BUF_INIT;
	buf_add_printable_lines(&msg, err.message);
	fprintf(stderr, "%serror:%s %s\n", color ? "\033[1;31m" : "", color ? "\033[0m" : "", buf_str(&msg));
	buf_release(&msg);
	if (err.detail)
		print_lines("DETAIL", err.detail);
	if (err.hint)
		print_lines("HINT", err.hint);
}

void err_clear(void)
{
	free(err.message);
	free(err.detail);
	free(err.hint);
	err.message = err.detail = err.hint = NULL;
	err.status = EXIT_OK;
	err.accepting = 0;
}

/* log: messages to the user and the first-error-wins error model.
 *
 * Functions that fail return `fail(...)` (which is -1). The first error of a
 * command is kept with its detail and hint lines and its exit status; later
 * ones are dropped, and only main() prints it.
 */
#ifndef PADCTL_LOG_H
#define PADCTL_LOG_H

#include <stdarg.h>

/* exit statuses of SPEC section 3 */
enum padctl_exit {
	EXIT_OK = 0,
	EXIT_STEP = 1,     /* a step failed */
	EXIT_USAGE = 2,    /* usage or configuration error */
	EXIT_APPROVAL = 3, /* approval missing or refused */
	EXIT_LOCKED = 4,   /* another deploy holds the lock */
};

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

/* log_setup sets verbosity and decides on colour (a tty on stderr, NO_COLOR unset). */
void log_setup(int level);
/* log_level_get returns the verbosity set by log_setup. */
int log_level_get(void);
/* log_color tells whether stderr gets ANSI colour. */
int log_color(void);
/* log_info prints a plain progress line to stderr unless quiet. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_verbose prints only with -v. */
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn prints a warning to stderr, even when quiet. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_vmsg prints at a level with a prefix ("" for none). */
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* fail records the error message if none is recorded yet; returns -1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* vfail is fail with a va_list. */
int vfail(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* fail_detail adds a DETAIL line to the error the last fail() recorded; returns -1. */
int fail_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fail_hint adds a HINT line to the error the last fail() recorded; returns -1. */
int fail_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fail_status sets the exit status of the error the last fail() recorded; returns -1. */
int fail_status(int status);
/* err_hint_if_none gives the recorded error a HINT line when it has none yet
 * (a step's advice for an error a lower layer recorded first). */
void err_hint_if_none(const char *hint);
/* err_pending tells whether an error is recorded. */
int err_pending(void);
/* err_message returns the recorded message (NULL when none); borrowed. */
const char *err_message(void);
/* err_detail and err_hint return those lines or NULL; borrowed. */
const char *err_detail(void);
const char *err_hint(void);
/* err_exit_status returns the exit status for the recorded error (EXIT_STEP by default). */
int err_exit_status(void);
/* err_print prints the recorded error to stderr in PostgreSQL's style. */
void err_print(void);
/* err_clear forgets the recorded error (for retries and tests). */
void err_clear(void);

#endif

/* log: messages to the user and the scoped first-error-wins error model.
 *
 * Functions that fail return `fail(...)` (which is -1). An error is a message
 * with DETAIL and HINT lines and an exit status; it is recorded in the
 * innermost open error scope, where the first error wins: a later fail() in
 * the same scope is dropped, and so are the detail, hint and status calls that
 * follow a dropped fail(). Outside every scope errors go to the command's
 * scope, which only main() prints.
 *
 * A caller that must go on after a failure, or report it as its own (one
 * target, one step, one check of doctor), opens a scope of its own around
 * the work: errors inside it neither hide an error recorded outside it nor
 * are hidden by one. The err_* readers and err_clear act on the innermost
 * scope; when the work is done the caller reads the scope's error (to record
 * it in the ledger, or print it as a line of a report) and pops the scope,
 * passing the error on to the enclosing scope or dropping it.
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

/* An error scope. The caller owns the struct (usually on its stack) and
 * treats its fields as private. Lifetime: from err_scope_push to
 * err_scope_pop the struct must stay where it is; scopes close in the
 * reverse order they opened (popping one that is not the innermost is a
 * programming error and aborts). The strings the err_* readers return while
 * the scope is innermost belong to it: they stay valid until err_clear or
 * err_scope_pop on it, or until a detail or hint line is added to it. */
struct err_scope {
	char *message;
	char *detail;
	char *hint;
	int status;
	int accepting; /* the last fail() in this scope is the recorded one */
	struct err_scope *outer; /* the enclosing scope; NULL for the command's scope */
};

/* what err_scope_pop does with the scope's error */
enum err_pop {
	/* pass it to the enclosing scope as if it had been recorded there: it
	 * becomes that scope's error, with its detail, hint and status, when that
	 * scope has none; otherwise the enclosing error wins and this one is
	 * dropped (and later detail lines in the enclosing scope are dropped too,
	 * as after any fail() that lost). A scope without an error passes nothing. */
	ERR_PROPAGATE,
	/* forget it: the caller has reported or recorded it as its own */
	ERR_DISCARD,
};

/* err_scope_push opens s as the innermost scope, with no error recorded. */
void err_scope_push(struct err_scope *s);
/* err_scope_pop closes s, the innermost scope, doing with its error what
 * `how` says, and frees what s held. */
void err_scope_pop(struct err_scope *s, enum err_pop how);

/* fail records the error message in the innermost scope if none is recorded
 * there yet; returns -1. */
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
/* The readers below and err_clear act on the innermost scope. */
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
/* err_clear forgets the recorded error (a retry that succeeded, tests); to go
 * on after an error, open a scope instead. */
void err_clear(void);

#endif

/* sig: what happens when padctl is told to stop (SIGINT, SIGTERM) or exits,
 * in git's manner: registered temporary files are removed and registered
 * child processes are stopped at exit and on a signal, and a `cancelled` flag
 * lets the engine and plugins stop at a safe point.
 *
 * The first SIGINT or SIGTERM sets the flag, forwards the signal to the
 * registered children, and asks the server to cancel the statement in flight
 * on the watched connection (PQcancel), so a queued ALTER stops blocking the
 * application's readers at once; the engine then rolls the migration back,
 * records the run as cancelled and exits. At exit the registered files are
 * removed and, when a signal cancelled the run, the signal is raised again
 * so the caller sees padctl die of it. A second signal does the exit cleanup
 * from the handler and dies at once. Only code that looks at the flag can
 * stop at a safe point, so that behaviour is asked for (sig_safe_points);
 * elsewhere (status, plan, a command waiting for the server) the first signal
 * already does the cleanup and dies at once. */
#ifndef PADCTL_SIG_H
#define PADCTL_SIG_H

#include <libpq-fe.h>
#include <sys/types.h>

/* sig_init installs the handlers and the exit cleanup; call it once, first. */
void sig_init(void);

/* sig_safe_points(1) makes the first SIGINT/SIGTERM set the flag and return,
 * for code that checks sig_cancelled() and stops at a safe point; (0) makes
 * it clean up and die at once again (the default). */
void sig_safe_points(int on);

/* sig_cancelled returns the signal that cancelled the run (SIGINT, SIGTERM),
 * or 0. */
int sig_cancelled(void);

/* sig_cancelled_name returns "SIGINT" / "SIGTERM" / "a signal" for messages. */
const char *sig_cancelled_name(void);

/* sig_tempfile_register has path removed at exit and on a signal until
 * sig_tempfile_unregister(path) (call that once the file is renamed or
 * removed). path may name a directory: it is removed (rmdir) once the files
 * are, so a private directory and its file both go. The path is copied; at most SIG_MAX_TEMPFILES at once (more are
 * not registered, which only loses the cleanup). */
#define SIG_MAX_TEMPFILES 16
void sig_tempfile_register(const char *path);
void sig_tempfile_unregister(const char *path);

/* sig_child_register has pid (and its process group, when it leads one) sent
 * the signal padctl receives (SIGTERM at exit)
 * until sig_child_unregister(pid) (call that once the child is reaped). */
#define SIG_MAX_CHILDREN 16
void sig_child_register(pid_t pid);
void sig_child_unregister(pid_t pid);

/* sig_watch_conn prepares a cancel request for conn (NULL: none), so a
 * signal cancels the statement conn is running. Unwatch (NULL) before
 * closing conn. */
void sig_watch_conn(PGconn *conn);

/* sig_progress_shown tells the handler whether a progress line is on the
 * terminal, so it ends it before writing. */
void sig_progress_shown(int shown);

#endif

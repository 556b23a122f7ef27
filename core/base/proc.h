/* proc: run a child process from an argv, never through a shell.
 *
 * The child gets exactly the environment the caller gives (nothing of
 * padctl's is inherited), stdin from /dev/null, no descriptor of padctl's but
 * 0, 1 and 2, "/" (or the caller's directory) as its working directory, and
 * optionally another user's uid, gid and groups. Its stdout and stderr are
 * captured to buffers, streamed to a callback, or (stdout) written straight
 * to a descriptor. It runs in a process group of its own, registered with
 * sig.h, so padctl's exit or a SIGINT/SIGTERM stops it; proc_run also kills
 * the group when the time limit passes or the run is cancelled
 * (sig_cancelled), and reaps it before returning.
 */
#ifndef PADCTL_PROC_H
#define PADCTL_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* proc_user is who the child runs as: setgroups, setgid, setuid in that order. */
struct proc_user {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
};

/* proc_output_fn receives output as it comes; return -1 to stop the child
 * (proc_run then fails with what the callback recorded, if anything). */
typedef int (*proc_output_fn)(void *ctx, const void *data, size_t n);

struct proc_opts {
	char *const *argv; /* argv[0] is the program's absolute path */
	char *const *envp; /* the child's whole environment; NULL: an empty one */
	const char *cwd; /* NULL: "/" */
	const struct proc_user *user; /* NULL: as padctl */
	long timeout_ms; /* 0: no limit */
	int ignore_cancel; /* 1: let the child finish after SIGINT/SIGTERM (cleanup tools) */

	/* stdout goes, first match: to out_fd (>= 0; 0 itself is not allowed),
	 * to on_out, to out (appended), else nowhere. Set out_fd to -1 when
	 * unused: a zeroed struct means "stdout to nowhere" only with out_fd -1. */
	int out_fd;
	proc_output_fn on_out;
	void *out_ctx;
	struct buf *out;
	/* when stdout is a pipe: its capacity in bytes (0: the system's
	 * default, 64 KiB), as far as the system allows (pipe-max-size) */
	size_t out_pipe_size;
	/* stderr goes to on_err, else to err (appended, keeping at most
	 * err_max bytes, the last ones; 0: 64 KiB), else to stdout's place
	 * when merge_err, else nowhere. */
	proc_output_fn on_err;
	void *err_ctx;
	struct buf *err;
	size_t err_max;
	int merge_err;
	/* stdin from this file, read-only (NULL: /dev/null) */
	const char *in_path;
};

/* How the child ended. */
struct proc_result {
	int exit_code; /* its exit status, or 128 + signal when killed */
	int signal; /* the signal that killed it, or 0 */
	int timed_out; /* proc_run killed it at timeout_ms */
	int cancelled; /* proc_run killed it because padctl was told to stop */
	int stopped; /* proc_run killed it because an output callback returned -1 */
};

/* proc_opts_init sets the defaults: out_fd -1, everything else zero. */
void proc_opts_init(struct proc_opts *o);

/* proc_run runs the child and waits for it. It returns 0 when the child
 * ran and was reaped, whatever its exit status (read r); -1 with the error
 * recorded when it could not be started, or when it was killed for a time
 * out, a cancellation or a callback's -1 (r says which). "could not start"
 * covers a program that cannot be executed: the child exits 127 then. */
int proc_run(const struct proc_opts *o, struct proc_result *r);

#endif

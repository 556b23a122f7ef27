/* remote: reaching a target's SSH host with libssh2 (SPEC section 5).
 *
 * Four parts, in the order a run uses them:
 *
 * - known_hosts policy (knownhosts.c): padctl reads the OpenSSH known_hosts
 *   file itself (plain and hashed `|1|` host patterns, `[host]:port`,
 *   wildcards and negations, any key type, and the `@revoked` and
 *   `@cert-authority` markers libssh2 does not understand). A host key is
 *   accepted only when a line for the host carries exactly that key; an
 *   unknown or changed key is refused with its SHA256 fingerprint and how to
 *   trust it. There is no trust-on-first-use and padctl never writes the file.
 * - session (session.c): a TCP connection with a time limit and keepalives,
 *   the SSH handshake, the host key check, and authentication by the
 *   identity file the env names (its passphrase only from passphrase_env) or
 *   by the ssh agent.
 * - tunnel (tunnel.c): a local port forward on 127.0.0.1 (an ephemeral port)
 *   to database.host:port as the SSH host sees it, served by a forwarder
 *   child process (poll(), no threads) that lives as long as padctl.
 * - exec (exec.c): a remote command from an argv, every argument quoted by
 *   remote_command_line, output streamed, exit status or signal reported, a
 *   time limit and SIGINT stopping it.
 */
#ifndef PADCTL_REMOTE_H
#define PADCTL_REMOTE_H

#include <libssh2.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

/* ---------------------------------------------------------------- known_hosts */

enum kh_marker {
	KH_MARK_NONE = 0,
	KH_MARK_REVOKED, /* @revoked: the key must never be accepted */
	KH_MARK_CERT_AUTHORITY, /* @cert-authority: a CA key (host certificates; padctl accepts none) */
};

/* One key line of a known_hosts file. */
struct kh_entry {
	int lineno;
	enum kh_marker marker;
	char *hosts; /* the host pattern field as written (comma list, or |1|salt|hash) */
	char *keytype; /* the key type field ("ssh-ed25519", ...) */
	unsigned char *blob; /* the decoded public key */
	size_t bloblen;
};

struct kh_file {
	struct kh_entry *v;
	size_t n;
};

/* kh_parse reads the text of the known_hosts file path (named in errors)
 * into *f. Comments and blank lines are skipped; a line that is not a key
 * line (too few fields, bad base64, an unknown @marker) is an error naming
 * path:line, never skipped: a revocation that cannot be read must not be
 * lost. On failure *f is empty. Touches no file. */
int kh_parse(const char *text, size_t len, const char *path, struct kh_file *f);
void kh_file_release(struct kh_file *f);

/* kh_host_matches tells whether the host field of a line names host at port
 * (port 22 is written "host", any other "[host]:port"): a hashed field
 * (HMAC-SHA1 of that name), or a comma list of patterns with * and ?, where a
 * matching !pattern rules the line out. Host names compare case-insensitively. */
int kh_host_matches(const char *hosts, const char *host, int port);

enum kh_result {
	KH_OK = 0, /* a line for the host carries the key */
	KH_UNKNOWN, /* no line for the host carries a key of this type */
	KH_CHANGED, /* lines for the host carry another key of this type */
	KH_REVOKED, /* an @revoked line carries the key */
};

/* kh_check checks the key (keytype as the key blob names it) the server at
 * host:port presented. *lineno is the deciding line (0 for KH_UNKNOWN).
 * A key revoked on any line is KH_REVOKED whatever the host field says. */
enum kh_result kh_check(const struct kh_file *f, const char *host, int port, const char *keytype,
			const unsigned char *blob, size_t bloblen, int *lineno);

/* kh_host_keytypes appends to out (comma-separated) the key types of the
 * non-revoked lines that name host:port, each once, in file order. */
void kh_host_keytypes(const struct kh_file *f, const char *host, int port, struct buf *out);

/* kh_blob_keytype returns the key type a public key blob starts with (newly
 * allocated), or NULL for a malformed blob. */
char *kh_blob_keytype(const unsigned char *blob, size_t bloblen);

/* kh_fingerprint returns "SHA256:" and the unpadded base64 of the blob's
 * SHA-256, as `ssh-keygen -l` prints it (newly allocated). */
char *kh_fingerprint(const unsigned char *blob, size_t bloblen);

/* kh_base64_decode decodes text (n bytes; padding optional, no whitespace)
 * into *out (newly allocated) and *outlen; -1 for anything not base64. */
int kh_base64_decode(const char *text, size_t n, unsigned char **out, size_t *outlen);
/* kh_base64_add appends the base64 of data to b, with '=' padding when pad. */
void kh_base64_add(struct buf *b, const unsigned char *data, size_t n, int pad);

/* ---------------------------------------------------------------- session */

/* How far remote_open got: doctor reports each stage. */
enum remote_stage {
	REMOTE_STAGE_CONNECT = 0, /* TCP connection and SSH handshake */
	REMOTE_STAGE_HOSTKEY, /* host key against known_hosts */
	REMOTE_STAGE_AUTH, /* authentication */
	REMOTE_STAGE_READY,
};

/* A session. Its fields are the remote subsystem's own. */
struct remote {
	LIBSSH2_SESSION *s;
	int fd;
	char *host, *user, *known_hosts, *target;
	int port;
	char *label;
	char *fingerprint;
	struct _LIBSSH2_SFTP *sftp; /* the session's SFTP channel, opened at first use and kept (sftp.c) */
};

/* remote_open connects to the SSH host of target (ssh, its name for
 * messages) within timeout_s seconds, checks its host key and authenticates.
 * *stage says how far it got (also on success: REMOTE_STAGE_READY). On
 * failure *out is NULL and the error says what failed and how to fix it. */
int remote_open(const struct cfg_ssh *ssh, const char *target, int timeout_s, struct remote **out,
		enum remote_stage *stage);
/* remote_close disconnects and frees (NULL is fine). */
void remote_close(struct remote *r);
/* remote_label returns "ssh host \"user@host:port\"" for messages (borrowed). */
const char *remote_label(const struct remote *r);
/* remote_hostkey_fingerprint returns the host key's fingerprint (borrowed). */
const char *remote_hostkey_fingerprint(const struct remote *r);

/* remote_location returns "user@host:port" of ssh (user defaulted as
 * remote_open does; newly allocated): where the ledger says a backup kept
 * on the SSH host is. */
char *remote_location(const struct cfg_ssh *ssh);

/* remote_lib_init initialises libssh2 once per process. */
int remote_lib_init(void);
/* remote_session_error returns libssh2's last error of s, printable (newly allocated). */
char *remote_session_error(LIBSSH2_SESSION *s);
/* remote_forget frees r without touching its connection (a forked child owns it). */
void remote_forget(struct remote *r);

/* ---------------------------------------------------------------- tunnel */

/* remote_tunnel opens (or finds, when this run opened it before) the tunnel
 * of target to dbhost:dbport as the SSH host sees it, and sets *local_port
 * to its end on 127.0.0.1. The SSH host is checked to reach dbhost:dbport
 * before it returns. The forwarder is a child process registered with sig.h:
 * it ignores SIGINT (a cancelled run still rolls back through it) and ends
 * with padctl (SIGTERM at exit, or its parent's death). */
int remote_tunnel(const struct cfg_ssh *ssh, const char *target, const char *dbhost, int dbport, int timeout_s,
		  int *local_port);

/* ---------------------------------------------------------------- exec */

/* remote_command_line appends argv (NULL-terminated) to b as one command line
 * for the remote user's shell: every argument single-quoted by
 * buf_shell_quote, separated by spaces. The only way padctl builds a remote
 * command. */
void remote_command_line(struct buf *b, const char *const *argv);

typedef int (*remote_output_fn)(void *ctx, const void *data, size_t n);

struct remote_exec_opts {
	const char *const *argv; /* the remote command; argv[0] is looked up in the remote PATH */
	long timeout_ms; /* 0: no limit */
	remote_output_fn on_out; /* stdout as it comes (NULL: discarded) */
	void *out_ctx;
	remote_output_fn on_err; /* stderr as it comes (NULL: discarded) */
	void *err_ctx;
	const char *what; /* the command's name in messages (NULL: argv[0]) */
};

struct remote_exec_result {
	int exit_code; /* the exit status, or -1 when the command died of a signal or was stopped */
	char signal[32]; /* the signal's name without SIG ("TERM"), or "" */
	int timed_out;
	int cancelled; /* SIGINT/SIGTERM (sig.h) stopped it */
};

/* remote_exec runs the command on r's host and waits for it. It returns 0
 * when the command ran to its end, whatever its status (read res); -1 with
 * the error recorded when it could not be started, or when the time limit or
 * a cancellation stopped it (the remote command is sent a signal and its
 * channel closed, which ends a command that has no terminal). */
int remote_exec(struct remote *r, const struct remote_exec_opts *o, struct remote_exec_result *res);

/* ---------------------------------------------------------------- sftp */

/* remote_put_private creates a new file on r's host with mode 0600 holding
 * data (n bytes), over SFTP. With dir set, the file is dir/padctl-XXXXXX (a
 * random name; an existing file is never overwritten) and *path is set to
 * its name (newly allocated). The file is never readable by anyone else,
 * not even while it is written. */
int remote_put_private(struct remote *r, const char *dir, const char *prefix, const void *data, size_t n, char **path);

/* remote_upload_private copies the local file local (streamed, never read
 * whole into memory) to a new file of mode 0600 on r's host, named like
 * remote_put_private's. */
int remote_upload_private(struct remote *r, const char *dir, const char *prefix, const char *local, char **path);

/* remote_remove removes the file path on r's host over SFTP; a file that is
 * already gone is not an error. */
int remote_remove(struct remote *r, const char *path);

/* remote_sftp_close shuts r's SFTP channel down, if it has one (remote_close does). */
void remote_sftp_close(struct remote *r);

/* remote_stat_size sets *size to the size of path on r's host; -1 with the
 * error recorded when it cannot be read. */
int remote_stat_size(struct remote *r, const char *path, unsigned long long *size);

/* ---------------------------------------------------------------- kept dumps (keep.c) */

/* What an SFTP lstat found at a path on the SSH host. */
struct remote_stat {
	int exists;
	int regular; /* a regular file (never a link: lstat) */
	int dir; /* a directory (not a link to one) */
	unsigned long perm; /* the permission bits (07777) */
	unsigned long long size;
};

/* remote_lstat fills *st for path on r's host; a missing path is
 * st->exists == 0, not an error. */
int remote_lstat(struct remote *r, const char *path, struct remote_stat *st);

/* remote_dump_dir makes base/env/target on r's host for backups kept
 * there (ssh.backups_dir) and sets *dir to it (newly allocated). Missing
 * directories are made 0700; base must then be a real directory (not a
 * link) that not every user may write to, and env and target real
 * directories that only their owner may use: anything else is refused,
 * as backups_dir_make refuses it on this machine. */
int remote_dump_dir(struct remote *r, const char *base, const char *env, const char *target, char **dir);

/* remote_create_private creates path on r's host, empty, with mode 0600,
 * exclusively (an existing file or link there is an error, never written
 * through). */
int remote_create_private(struct remote *r, const char *path);

/* remote_sha256 runs `sha256sum -- path` on r's host and sets hex (64
 * lowercase hex digits and a NUL). Hashing there costs no transfer of the
 * file (see bench/README.md). */
int remote_sha256(struct remote *r, const char *path, char hex[65]);

/* remote_dump_check checks that path on r's host is a regular file with the
 * recorded size (decimal text) and sha256 (NULL: none recorded, which
 * fails), as backups_file_check does on this machine: a missing file says
 * so, a changed one gives both sizes and hashes. */
int remote_dump_check(struct remote *r, const char *path, const char *size, const char *sha256);

/* ---------------------------------------------------------------- tools */

/* What remote_tool_run runs: a PostgreSQL client tool on a target's SSH host. */
struct remote_tool_opts {
	const struct cfg_ssh *ssh;
	const char *target; /* its name, for messages */
	int connect_timeout_s;
	const char *tool; /* "pg_dump", "pg_restore", "psql" */
	int major; /* the server's major version: the remote tool must be of it */
	const char *const *args; /* the arguments after the program (connection options included) */
	const char *const *env; /* NAME=VALUE set for the tool (PGSSLMODE, ...), NULL-terminated; may be NULL */
	const char *password; /* goes into a private remote pgpass file; NULL: none */
	const char *const *uploads; /* the entries of args that name local files to copy to the host first */
	long timeout_ms;
	remote_output_fn on_out; /* the tool's stdout, as it comes */
	void *out_ctx;
	struct buf *err; /* its stderr (the last 64 KiB) */
	struct remote *session; /* an open session to use (kept open); NULL: one is opened and closed */
};

/* remote_tool_check runs `/usr/lib/postgresql/MAJOR/bin/TOOL --version` on
 * r's host and fails, saying what to install, unless it is the PostgreSQL
 * MAJOR client; *version (newly allocated) is what it printed. */
int remote_tool_check(struct remote *r, const char *tool, int major, char **version);

/* remote_tool_run runs /usr/lib/postgresql/MAJOR/bin/TOOL on the SSH host
 * (its --version checked first: another major version is refused), with
 * the password in a pgpass file of mode 0600 created over SFTP and the
 * local files named in uploads copied to private files there; all of them
 * are removed afterwards, also when the tool fails, times out or is
 * cancelled. *exit_code is the tool's exit status (128 + n for a signal);
 * *version (newly allocated) what --version printed. Returns -1 when the
 * tool could not be run to its end. */
int remote_tool_run(const struct remote_tool_opts *o, int *exit_code, char **version);

#endif

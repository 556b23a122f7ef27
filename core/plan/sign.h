/* sign: OpenSSH signatures (`ssh-keygen -Y`) over padctl's plan messages,
 * and the allowed_signers file that says who may sign.
 *
 * padctl never implements SSHSIG itself: it runs ssh-keygen from an argv
 * (proc.h) in a private temporary directory. Every signature uses the
 * namespace SIGN_NAMESPACE, so a key restricted to it in allowed_signers
 * (`namespaces="padctl"`) signs nothing else, and a signature made for
 * another purpose (git commits, files) never counts here.
 *
 * The signed message is text padctl builds from the record it is stored
 * with (sign_message), so the record's fields cannot be edited without the
 * signature failing:
 *   padctl-signature 1
 *   action: request | approve | withdraw
 *   env: ENV
 *   plan: ID
 *   hash: sha256:HEX
 *   stage: NAME, or "-" for the plan as a whole
 *   time: YYYY-MM-DDTHH:MM:SSZ  (when it was signed, UTC)
 *   comment: TEXT  (no control characters; "" when none)
 */
#ifndef PADCTL_SIGN_H
#define PADCTL_SIGN_H

#include <stddef.h>

#define SIGN_NAMESPACE "padctl"

/* The fields of a signed record. */
struct sign_fields {
	const char *action;
	const char *env;
	const char *plan;
	const char *hash; /* hex, without "sha256:" */
	const char *stage; /* NULL: the plan as a whole */
	const char *time;
	const char *comment; /* NULL: none */
};

/* sign_message builds the text above (newly allocated). */
char *sign_message(const struct sign_fields *f);

/* sign_comment_check refuses (EXIT_USAGE) a comment with a control
 * character (a line break included) or more than 500 bytes. */
int sign_comment_check(const char *comment);

/* sign_create signs msg with key: a private key file, or a public key file
 * whose private half is in the ssh-agent ($SSH_AUTH_SOCK). *sig is the
 * armored signature (newly allocated). */
int sign_create(const char *key, const char *msg, char **sig);

/* What checking a signature found. */
struct sign_check {
	int valid; /* the signature is good (for sign_verify: by a key allowed_signers lists for principal) */
	char *principal; /* sign_verify: the principal allowed_signers maps the key to (NULL when none) */
	char *fingerprint; /* the signing key's fingerprint, "SHA256:..." (NULL when unreadable) */
	char *why; /* why it is not valid: ssh-keygen's words (NULL when valid) */
};

/* sign_verify checks sig over msg against allowed_signers: the key must be
 * listed there, for principal when principal is non-NULL (else for any one:
 * the first that ssh-keygen names), with the padctl namespace allowed. An
 * invalid signature is not an error (c->valid 0, c->why); -1 only when
 * ssh-keygen cannot be run. */
int sign_verify(const char *allowed, const char *principal, const char *msg, const char *sig, struct sign_check *c);
/* sign_check_self checks sig over msg with the key the signature itself
 * carries, without allowed_signers (ssh-keygen -Y check-novalidate): the
 * offline check `padctl plan verify` makes. */
int sign_check_self(const char *msg, const char *sig, struct sign_check *c);
void sign_check_release(struct sign_check *c);

/* sign_principals lists the principals of an allowed_signers text: the first
 * field of each line that is neither blank nor a comment, split at commas
 * (patterns are listed as written), each once, in file order. Lines it
 * cannot read (an unterminated quote) are skipped; ssh-keygen decides what
 * verifies. *out is a NULL-terminated array (free with sign_principals_free). */
void sign_principals(const char *text, size_t len, char ***out, size_t *n);
void sign_principals_free(char **v, size_t n);

/* sign_now is the current UTC time as signed ("YYYY-MM-DDTHH:MM:SSZ"). */
void sign_now(char out[32]);
/* sign_time_parse reads that format back (seconds since the epoch); -1 when it is not that. */
long long sign_time_parse(const char *s);

#endif

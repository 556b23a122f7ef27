/* trust: which project commands the user has agreed to run.
 *
 * A password_command comes from an env file that is committed with the
 * project, so cloning a stranger's project and typing `padctl status dev`
 * would run the stranger's shell command. As git does with hooks, padctl runs
 * such a command only after the user trusted it with `padctl trust ENV`,
 * which records the project's directory and the SHA-256 of the exact command
 * in a file of the user's, outside every project:
 * $XDG_CONFIG_HOME/padctl/trusted (default ~/.config/padctl/trusted). A
 * changed command, or the same project in another directory, is untrusted
 * again. */
#ifndef PADCTL_TRUST_H
#define PADCTL_TRUST_H

/* trust_file returns the path of the user's trust file (newly allocated). */
char *trust_file(void);

/* trust_check tells whether command, configured in the project at root, is
 * trusted: 1 yes, 0 no, -1 after fail() when the trust file cannot be read. */
int trust_check(const char *root, const char *command);

/* trust_set records (trusted 1) or removes (trusted 0) command for the
 * project at root, rewriting the trust file atomically; 0 or -1 after fail(). */
int trust_set(const char *root, const char *command, int trusted);

#endif

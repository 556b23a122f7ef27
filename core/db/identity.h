/* identity: the project's known_targets file, which pins each target to the
 * server it was first deployed to (system identifier and database name), like
 * an SSH known_hosts file. Managed local targets are not pinned: each
 * developer's private cluster is different by design.
 *
 * The file is read without a lock (it is only ever replaced by a rename) and
 * a pin is added under an flock of known_targets.lock, re-reading it first.
 * Fields are %-escaped (format 2); the first format, without escapes, is
 * still read and is rewritten in format 2 when a pin is added. */
#ifndef PADCTL_IDENTITY_H
#define PADCTL_IDENTITY_H

#include "config.h"
#include "db.h"

/* identity_check reads the server's identity and compares it with the pin of
 * env/target. An unpinned target is pinned when record is set. A different
 * server is refused before anything changes, with how to re-pin it. */
int identity_check(const struct cfg_project *p, const char *env, const struct cfg_target *t, struct db *db,
		   int record);

/* identity_check_known is identity_check with the server's system identifier
 * and database name already read (status reads them with other facts). */
int identity_check_known(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			 const char *sysid, const char *dbname, int record);
/* identity_pinned tells, quietly, whether known_targets pins env/target to
 * exactly sysid and dbname (1; also for a managed target, which has no pin),
 * or not (0: no pin, another one, or a file that does not read; the checks
 * above say which). */
int identity_pinned(const struct cfg_project *p, const char *env, const struct cfg_target *t, const char *sysid,
		    const char *dbname);

/* identity_escape returns s with space, '%', '#' and control bytes written as
 * %XX (upper-case hex), the field format of known_targets (newly allocated). */
char *identity_escape(const char *s);
/* identity_unescape undoes identity_escape into *out (newly allocated); -1 for
 * a '%' not followed by two hex digits, or %00. */
int identity_unescape(const char *s, char **out);

/* One pin of known_targets: its line and its fields, unescaped. */
struct identity_pin {
	int lineno;
	char *key, *sysid, *dbname;
};

/* A known_targets file as read. */
struct identity_pins {
	struct identity_pin *v;
	size_t n;
	int format2;
	char *text; /* the file's text (NULL when there is none) */
};

/* identity_parse reads text, the contents of the known_targets file path
 * (named in messages), into *ps: both formats; -1 with the error reported for
 * a line that is not a pin (*ps is then empty). Touches no file. */
int identity_parse(const char *text, const char *path, struct identity_pins *ps);
/* identity_render returns the file of ps in format 2 with one more pin:
 * padctl's header, every other line as it was, pins of the first format
 * re-escaped (newly allocated). */
char *identity_render(const struct identity_pins *ps, const char *key, const char *sysid, const char *dbname);
void identity_pins_release(struct identity_pins *ps);

#endif

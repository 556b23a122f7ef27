/* identity: the project's known_targets file, which pins each target to the
 * server it was first deployed to (system identifier and database name), like
 * an SSH known_hosts file. Managed local targets are not pinned: each
 * developer's private cluster is different by design. */
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

#endif

/* inspect: a read-only look at one target (reachable?, identity, history
 * against the migration files, lock holder), shared by status, plan and doctor. */
#ifndef PADCTL_INSPECT_H
#define PADCTL_INSPECT_H

#include "config.h"
#include "db.h"
#include "migrations.h"

struct inspection {
	const struct cfg_target *t;
	int reachable;
	char *error;          /* why it is not reachable, or the identity problem */
	char *server_version;
	char *identity_error; /* a known_targets mismatch */
	char *lock_holder;    /* "" when free */
	struct history history;
	struct mig_plan plan;
	struct db *db;        /* kept open when keep_db was asked */
};

/* inspect_target looks at t read-only; an unreachable target is not an error
 * (ins->reachable is 0 and ins->error says why). */
int inspect_target(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
		   const struct migration_set *set, const char *command, int keep_db, struct inspection *ins);
void inspect_release(struct inspection *ins);

#endif

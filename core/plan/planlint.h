/* planlint: lint (schema/lint.h) applied to the migrations a plan runs on a
 * target, with what that target tells (server version, search_path, pg_proc,
 * the current column types). `padctl plan` lists the findings under each
 * migration; `deploy` (and `deploy --dry-run`) lints the same migrations under
 * the target's lock, after building its plan and before any step runs, and
 * refuses with exit 2 when one is an error. */
#ifndef PADCTL_PLANLINT_H
#define PADCTL_PLANLINT_H

#include <stddef.h>

#include "config.h"
#include "db.h"
#include "lint.h"
#include "plan.h"

/* The findings of one migration. */
struct mig_lint {
	const struct migration *m; /* borrowed from the migration set */
	struct lint_result r;
};

/* The findings of every migration a target's plan applies, in plan order. */
struct plan_lint {
	struct mig_lint *v;
	size_t n;
	size_t errors, warnings;
	char *assumed; /* what lint assumed (no target connected): "" when nothing */
	int server_version; /* the target's, as lint used it; 0: not connected */
};

/* What lint needs to know of a session before it starts: the server's
 * version (server_version_num), the session's search_path and user;
 * LINT_SESSION_SQL is the three as a query's select list. */
#define LINT_SESSION_SQL "current_setting('search_path'), current_user, current_setting('server_version_num')"
struct lint_session {
	const char *search_path;
	const char *user;
	int server_version;
};

/* lint_catalog_db fills cat from a connected target: from known when the
 * caller read the session's facts already (plan asks for them in its first
 * message), else in one round trip; its lookups read pg_proc, pg_attribute
 * and pg_constraint when a rule asks. db NULL: an empty catalog (lint says
 * what it assumed). Free with lint_catalog_db_release. */
int lint_catalog_db(struct db *db, const struct lint_session *known, struct lint_catalog *cat);
void lint_catalog_db_release(struct lint_catalog *cat);

/* plan_lint_target lints pt's migrations that are applied (not skipped)
 * with the env's tier and each migration's meta.yml; db may be NULL, and
 * known as for lint_catalog_db. */
int plan_lint_target(const struct cfg_project *p, const struct cfg_env *env, const struct plan_target *pt,
		     struct db *db, const struct lint_session *known, struct plan_lint *out);
/* plan_lint_find returns the findings of migration m, or NULL. */
const struct mig_lint *plan_lint_find(const struct plan_lint *pl, const struct migration *m);
/* plan_lint_refuse fails (exit 2) when pl has errors, naming each
 * FILE:LINE:COL and rule; returns 0 otherwise. */
int plan_lint_refuse(const struct plan_lint *pl, const char *target, const char *command);
void plan_lint_release(struct plan_lint *pl);

#endif

#include "target.h"

#include <stdlib.h>

#include "identity.h"
#include "ledger.h"
#include "log.h"
#include "sig.h"

static int open_conn(const struct cfg_project *p, const struct cfg_target *t, const char *command,
		     const char *run_id, int read_only, struct db **out)
{
	char *app = ledger_app_name(command, run_id);
	int rc = db_connect_target(p, t, app, read_only, out);
	free(app);
	return rc;
}

int target_open_write(const struct cfg_project *p, const char *env, const struct cfg_target *t,
		      const char *command, const char *run_id, long lock_ms, struct db **out)
{
	struct db *db = NULL;
	*out = NULL;
	/* the last safe point before a write: a signal during the reading before it stops the command here */
	if (sig_cancelled()) {
		fail("%s: %s stopped before it wrote to target \"%s\"", sig_cancelled_name(), command, t->name);
		return fail_detail("nothing was changed");
	}
	if (open_conn(p, t, command, run_id, 0, &db))
		return -1;
	/* identity after the lock: the pin is read and written while no other
	 * padctl run can be between its own check and its first write */
	int rc = ledger_lock(db, t->name, lock_ms);
	if (!rc)
		rc = identity_check(p, env, t, db, 1);
	if (!rc)
		rc = ledger_ensure(db);
	if (!rc)
		rc = ledger_close_interrupted(db, t->name);
	if (rc) {
		db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

int target_open_read(const struct cfg_project *p, const char *env, const struct cfg_target *t,
		     const char *command, const char *run_id, struct db **out)
{
	struct db *db = NULL;
	*out = NULL;
	if (open_conn(p, t, command, run_id, 1, &db))
		return -1;
	if (identity_check(p, env, t, db, 0) || ledger_check(db)) {
		db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

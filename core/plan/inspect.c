#include "inspect.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "identity.h"
#include "ledger.h"
#include "log.h"

/* take the recorded error as text and forget it, so one bad target does not hide the others */
static char *take_error(void)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, err_message() ? err_message() : "unknown error");
	if (err_detail())
		buf_addf(&b, "\n%s", err_detail());
	if (err_hint())
		buf_addf(&b, "\nhint: %s", err_hint());
	err_clear();
	return buf_detach(&b);
}

int inspect_target(const struct cfg_project *p, const struct cfg_env *env, const struct cfg_target *t,
		   const struct migration_set *set, const char *command, int keep_db, struct inspection *ins)
{
	memset(ins, 0, sizeof *ins);
	ins->t = t;
	char *app = xstrfmt("padctl %s", command);
	int rc = db_connect_target(p, t, app, 1, &ins->db);
	free(app);
	if (rc) {
		ins->error = take_error();
		return 0;
	}
	ins->reachable = 1;
	/* every fact in one round trip, the history in a second: status is run often */
	PGresult *res = NULL;
	if (db_query(ins->db,
		     "SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database(), "
		     "current_setting('server_version'), " LEDGER_LOCK_HOLDER_SQL,
		     0, NULL, &res) ||
	    ledger_history(ins->db, &ins->history)) {
		ins->reachable = 0;
		ins->error = take_error();
	} else {
		ins->server_version = xstrdup(PQgetvalue(res, 0, 2));
		ins->lock_holder = xstrdup(PQgetvalue(res, 0, 3));
		if (identity_check_known(p, env->name, t, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), 0))
			ins->identity_error = take_error();
		mig_plan_build(set, &ins->history, env, &ins->plan);
	}
	PQclear(res);
	if (!keep_db) {
		db_close(ins->db);
		ins->db = NULL;
	}
	return 0;
}

void inspect_release(struct inspection *ins)
{
	free(ins->error);
	free(ins->server_version);
	free(ins->identity_error);
	free(ins->lock_holder);
	history_release(&ins->history);
	mig_plan_release(&ins->plan);
	db_close(ins->db);
	memset(ins, 0, sizeof *ins);
}

/* local: the managed PostgreSQL cluster of a project (the embedded default).
 *
 * The cluster lives in <project>/.padctl/pg (data/, log, sock/), listens on a
 * free loopback port only, and uses scram-sha-256 with a generated password
 * kept in .padctl/pg/password (mode 0600). It is created with the installed
 * initdb on first use, started with pg_ctl when not running, and reused
 * afterwards. When padctl runs as root the server runs as the unprivileged
 * `postgres` user (PostgreSQL refuses root), and padctl says so.
 */
#ifndef PADCTL_LOCAL_H
#define PADCTL_LOCAL_H

#include "config.h"

struct local_conn {
	char *host;      /* "127.0.0.1" */
	int port;
	char *user;      /* the cluster's superuser, "padctl" */
	char *password;
	char *lockfile;  /* .padctl/pg/lock: serialises creating the cluster and its databases */
};

/* local_ensure makes sure the project's cluster exists and runs, and fills c. */
int local_ensure(const struct cfg_project *p, struct local_conn *c);
/* local_ensure_database creates dbname in the cluster if it does not exist and
 * then loads the fixture files in order, in one transaction; an existing
 * database is left as it is. The check, the creation and the fixtures run
 * under c->lockfile's lock, so concurrent padctl processes create a database
 * once and none sees it before its fixtures are loaded. */
int local_ensure_database(const struct local_conn *c, const char *dbname,
			  char *const *fixtures, size_t nfixtures);
/* local_status reports whether the cluster exists and runs, and its port (0 when stopped). */
int local_status(const struct cfg_project *p, int *exists, int *running, int *port);
/* local_stop stops the cluster if it runs (fast shutdown). */
int local_stop(const struct cfg_project *p);
/* local_bindir finds the PostgreSQL server binaries (initdb, pg_ctl, pg_dump)
 * of the newest installed major version; newly allocated. */
int local_bindir(char **dir);
void local_conn_release(struct local_conn *c);

#endif

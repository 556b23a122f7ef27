#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "migrations.h"

static const char header[] =
	"# padctl known_targets: the server each target was first deployed to.\n"
	"# Commit this file. A line is: <env>/<target> <system_identifier> <database>\n";

int identity_check(const struct cfg_project *p, const char *env, const struct cfg_target *t, struct db *db,
		   int record)
{
	if (t->db.managed)
		return 0;
	PGresult *res;
	if (db_query(db, "SELECT system_identifier::text, current_database() FROM pg_control_system()", 0, NULL,
		     &res))
		return fail_hint("padctl reads pg_control_system() to make sure it talks to the right server");
	int rc = identity_check_known(p, env, t, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), record);
	PQclear(res);
	return rc;
}

int identity_check_known(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			 const char *sysid, const char *dbname, int record)
{
	if (t->db.managed)
		return 0;

	char *path = xstrfmt("%s/known_targets", p->root);
	char *key = xstrfmt("%s/%s", env, t->name);
	char *text = NULL;
	int rc = 0, found = 0;
	if (access(path, F_OK) == 0 && read_text_file(path, &text, NULL)) {
		rc = -1;
		goto out;
	}
	int lineno = 0;
	for (char *line = text; line && *line && !found;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		char k[256], s[64], d[256];
		if (line[0] != '#' && sscanf(line, "%255s %63s %255s", k, s, d) == 3 && strcmp(k, key) == 0) {
			found = 1;
			if (strcmp(s, sysid) != 0 || strcmp(d, dbname) != 0) {
				fail("target \"%s\" of env \"%s\" is not the server it was first deployed to", t->name,
				     env);
				fail_detail("%s:%d pins system identifier %s, database %s; the server answering is %s, "
					    "database %s",
					    path, lineno, s, d, sysid, dbname);
				fail_hint("check the env file and any SSH tunnel: nothing was changed. If the server was "
					  "legitimately rebuilt, delete line %d of %s and run again to re-pin it",
					  lineno, path);
				rc = -1;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!found && record) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			rc = fail("cannot write \"%s\": %s", path, strerror(errno));
			goto out;
		}
		struct buf b = BUF_INIT;
		if (!text)
			buf_adds(&b, header);
		buf_addf(&b, "%s %s %s\n", key, sysid, dbname);
		ssize_t w = write(fd, b.s, b.len);
		close(fd);
		if (w != (ssize_t)b.len)
			rc = fail("cannot write \"%s\": %s", path, strerror(errno));
		else
			log_info("pinned %s to system identifier %s, database %s in known_targets (commit it)", key,
				 sysid, dbname);
		buf_release(&b);
	}
out:
	free(text);
	free(path);
	free(key);
	return rc;
}

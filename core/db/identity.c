#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "buf.h"
#include "confine.h"
#include "fs.h"
#include "log.h"

/* Two header lines, so the first pin is line 3 in both formats. */
static const char header[] =
	"# padctl known_targets: the server each target was first deployed to. Commit this file.\n"
	"# format 2: <env>/<target> <system_identifier> <database>; %XX escapes space, %, # and control bytes\n";
static const char format2_mark[] = "# format 2:";

#define KT_CAP ((size_t)4 << 20)

static int needs_escape(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '%' || c == '#';
}

char *identity_escape(const char *s)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (needs_escape(*p))
			buf_addf(&b, "%%%02X", *p);
		else
			buf_add(&b, (const char *)p, 1);
	}
	return buf_detach(&b);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int identity_unescape(const char *s, char **out)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "");
	for (const char *p = s; *p; p++) {
		if (*p != '%') {
			buf_add(&b, p, 1);
			continue;
		}
		int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			buf_release(&b);
			return -1;
		}
		char c = (char)(hi * 16 + lo);
		buf_add(&b, &c, 1);
		p += 2;
	}
	*out = buf_detach(&b);
	return 0;
}

void identity_pins_release(struct identity_pins *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->v[i].key);
		free(ps->v[i].sysid);
		free(ps->v[i].dbname);
	}
	free(ps->v);
	free(ps->text);
	memset(ps, 0, sizeof *ps);
}

/* next_field cuts the next blank-separated field out of *p (NULL at the end). */
static char *next_field(char **p)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	char *e = s;
	while (*e && *e != ' ' && *e != '\t')
		e++;
	if (*e)
		*e++ = '\0';
	*p = e;
	return s;
}

/* parse_line reads one pin line. Format 2 has three escaped fields; the first
 * format had no escapes, so its database name is the rest of the line (which
 * also reads the pins it wrote for names with a space correctly). */
static int parse_line(char *line, int format2, struct identity_pin *pin)
{
	char *p = line;
	char *k = next_field(&p), *s = next_field(&p);
	if (!k || !s)
		return -1;
	if (format2) {
		char *d = next_field(&p);
		if (!d || next_field(&p))
			return -1;
		if (identity_unescape(k, &pin->key))
			return -1;
		if (identity_unescape(s, &pin->sysid) || identity_unescape(d, &pin->dbname))
			return -1;
		return 0;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	size_t len = strlen(p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
		len--;
	if (!len)
		return -1;
	pin->key = xstrdup(k);
	pin->sysid = xstrdup(s);
	pin->dbname = xstrndup(p, len);
	return 0;
}

static int pins_read(const char *path, struct identity_pins *ps)
{
	memset(ps, 0, sizeof *ps);
	char *text = NULL;
	/* its pins are shown in errors and written back into the project */
	confine_check(path);
	int r = fs_read_file(path, KT_CAP, &text, NULL);
	if (r < 0)
		return -1;
	if (r > 0)
		return 0;
	r = identity_parse(text, path, ps);
	free(text);
	return r;
}

int identity_parse(const char *text, const char *path, struct identity_pins *ps)
{
	memset(ps, 0, sizeof *ps);
	ps->text = xstrdup(text);
	char *copy = xstrdup(text);
	for (char *line = copy; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, format2_mark, sizeof format2_mark - 1) == 0)
			ps->format2 = 1;
	int lineno = 0, rc = 0;
	size_t alloc = 0;
	for (char *line = copy; !rc && line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		/* a CRLF line ending (a checkout with autocrlf): no field holds a raw CR */
		size_t ll = strlen(line);
		if (ll && line[ll - 1] == '\r')
			line[ll - 1] = '\0';
		lineno++;
		const char *t = line + strspn(line, " \t\r");
		if (*t && *t != '#') {
			struct identity_pin pin = { lineno, NULL, NULL, NULL };
			if (parse_line(line, ps->format2, &pin)) {
				free(pin.key);
				free(pin.sysid);
				free(pin.dbname);
				fail("could not read %s:%d: not a pin line", path, lineno);
				fail_detail("a line is <env>/<target> <system_identifier> <database>, each field "
					    "%%-escaped");
				rc = fail_hint("fix or delete line %d of %s; the next deploy re-pins a target without "
					       "a line",
					       lineno, path);
				break;
			}
			if (ps->n == alloc) {
				alloc = alloc ? 2 * alloc : 8;
				ps->v = xrealloc(ps->v, alloc * sizeof *ps->v);
			}
			ps->v[ps->n++] = pin;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(copy);
	if (rc)
		identity_pins_release(ps);
	return rc;
}

static const struct identity_pin *pins_find(const struct identity_pins *ps, const char *key)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].key, key) == 0)
			return &ps->v[i];
	return NULL;
}

static int pin_compare(const struct identity_pin *pin, const char *path, const char *env, const char *target,
		       const char *sysid, const char *dbname)
{
	if (strcmp(pin->sysid, sysid) == 0 && strcmp(pin->dbname, dbname) == 0)
		return 0;
	fail("target \"%s\" of env \"%s\" is not the server it was first deployed to", target, env);
	fail_detail("%s:%d pins system identifier %s, database %s; the server answering is %s, database %s", path,
		    pin->lineno, pin->sysid, pin->dbname, sysid, dbname);
	return fail_hint("check the env file and any SSH tunnel: nothing was changed. If the server was "
			 "legitimately rebuilt, delete line %d of %s and run again to re-pin it",
			 pin->lineno, path);
}

/* is_old_header tells the header lines padctl itself wrote, which a rewrite replaces. */
static int is_old_header(const char *line)
{
	return strncmp(line, "# padctl known_targets:", 23) == 0 || strncmp(line, "# Commit this file.", 19) == 0 ||
	       strncmp(line, format2_mark, sizeof format2_mark - 1) == 0;
}

char *identity_render(const struct identity_pins *ps, const char *key, const char *sysid, const char *dbname)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, header);
	char *copy = ps->text ? xstrdup(ps->text) : NULL;
	size_t next = 0;
	int lineno = 0;
	for (char *line = copy; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		const char *t = line + strspn(line, " \t\r");
		if (!*t || *t == '#') {
			if (!is_old_header(line))
				buf_addf(&b, "%s\n", line);
		} else if (ps->format2) {
			buf_addf(&b, "%s\n", line);
		} else if (next < ps->n && ps->v[next].lineno == lineno) {
			const struct identity_pin *pin = &ps->v[next++];
			char *k = identity_escape(pin->key), *s = identity_escape(pin->sysid),
			     *d = identity_escape(pin->dbname);
			buf_addf(&b, "%s %s %s\n", k, s, d);
			free(k);
			free(s);
			free(d);
		}
		line = nl ? nl + 1 : NULL;
	}
	free(copy);
	char *k = identity_escape(key), *s = identity_escape(sysid), *d = identity_escape(dbname);
	buf_addf(&b, "%s %s %s\n", k, s, d);
	free(k);
	free(s);
	free(d);
	return buf_detach(&b);
}

/* pin_record adds a pin under an exclusive flock of known_targets.lock, so
 * two padctl runs of the same project never lose one another's pin; the file
 * is re-read under the lock and replaced by a rename. */
static int pin_record(const char *path, const char *env, const char *target, const char *key, const char *sysid,
		      const char *dbname)
{
	char *lockpath = xstrfmt("%s.lock", path);
	int fd = open(lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		fail("could not open \"%s\": %s", lockpath, strerror(errno));
		free(lockpath);
		return fail_hint("padctl locks known_targets through this file while it pins a target; check the "
				 "project directory's permissions (a symlink there is refused)");
	}
	int rc = 0;
	while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
		;
	if (rc) {
		rc = fail("could not lock \"%s\": %s", lockpath, strerror(errno));
		goto out;
	}
	struct identity_pins ps;
	if (pins_read(path, &ps)) {
		rc = -1;
		goto out;
	}
	const struct identity_pin *pin = pins_find(&ps, key);
	if (pin) {
		/* another run pinned it meanwhile */
		rc = pin_compare(pin, path, env, target, sysid, dbname);
	} else {
		char *text = identity_render(&ps, key, sysid, dbname);
		rc = fs_write_atomic(path, text, strlen(text), 0644);
		free(text);
		if (!rc)
			log_info("pinned %s to system identifier %s, database %s in known_targets (commit it)", key,
				 sysid, dbname);
	}
	identity_pins_release(&ps);
out:
	close(fd);
	free(lockpath);
	return rc;
}

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

int identity_pinned(const struct cfg_project *p, const char *env, const struct cfg_target *t, const char *sysid,
		    const char *dbname)
{
	if (t->db.managed)
		return 1;
	if (!sysid || !dbname)
		return 0;
	char *path = xstrfmt("%s/known_targets", p->root);
	char *key = xstrfmt("%s/%s", env, t->name);
	struct err_scope s;
	err_scope_push(&s);
	struct identity_pins ps;
	int pinned = 0;
	if (!pins_read(path, &ps)) {
		const struct identity_pin *pin = pins_find(&ps, key);
		pinned = pin && strcmp(pin->sysid, sysid) == 0 && strcmp(pin->dbname, dbname) == 0;
		identity_pins_release(&ps);
	}
	err_scope_pop(&s, ERR_DISCARD);
	free(path);
	free(key);
	return pinned;
}

int identity_check_known(const struct cfg_project *p, const char *env, const struct cfg_target *t,
			 const char *sysid, const char *dbname, int record)
{
	if (t->db.managed)
		return 0;
	char *path = xstrfmt("%s/known_targets", p->root);
	char *key = xstrfmt("%s/%s", env, t->name);
	/* the file is only ever replaced by a rename, so reading needs no lock */
	struct identity_pins ps;
	int rc = pins_read(path, &ps);
	if (!rc) {
		const struct identity_pin *pin = pins_find(&ps, key);
		if (pin)
			rc = pin_compare(pin, path, env, t->name, sysid, dbname);
		else if (record)
			rc = pin_record(path, env, t->name, key, sysid, dbname);
		identity_pins_release(&ps);
	}
	free(path);
	free(key);
	return rc;
}

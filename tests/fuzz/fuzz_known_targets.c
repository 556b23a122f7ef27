/* fuzz_known_targets: the known_targets parser (identity.c), both formats.
 * Invariants: every field read survives escape then unescape unchanged and
 * its escaped form is one field; the file padctl writes back (format 2, one
 * more pin) reads again as the same pins, in order, plus the new one; the
 * same file with CRLF line endings reads as the same pins. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "identity.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const char *field)
{
	char *e = identity_escape(field), *u = NULL;
	for (const unsigned char *p = (const unsigned char *)e; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '#')
			abort(); /* an escaped field is one blank-free field */
	if (identity_unescape(e, &u) || strcmp(u, field) != 0)
		abort();
	free(e);
	free(u);
}

static int same_pin(const struct identity_pin *a, const struct identity_pin *b)
{
	return strcmp(a->key, b->key) == 0 && strcmp(a->sysid, b->sysid) == 0 && strcmp(a->dbname, b->dbname) == 0;
}

/* crlf_same: text (no CR in it) with CRLF line endings is read as text is */
static void crlf_same(const char *text, int ok, const struct identity_pins *ps)
{
	struct buf b = BUF_INIT;
	for (const char *p = text; *p; p++)
		buf_add(&b, *p == '\n' ? "\r\n" : p, *p == '\n' ? 2 : 1);
	struct identity_pins crlf;
	int rc = identity_parse(buf_str(&b), "known_targets", &crlf);
	err_clear();
	if ((rc == 0) != ok || (ok && crlf.n != ps->n))
		abort();
	for (size_t i = 0; ok && i < ps->n; i++)
		if (!same_pin(&crlf.v[i], &ps->v[i]))
			abort();
	if (!rc)
		identity_pins_release(&crlf);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size); /* the file's bytes up to a NUL */
	struct identity_pins ps;
	if (identity_parse(text, "known_targets", &ps)) {
		if (ps.n || ps.v || ps.text || !err_pending())
			abort(); /* a refused file says why and holds nothing */
		err_clear();
		if (!strchr(text, '\r'))
			crlf_same(text, 0, &ps);
		free(text);
		return 0;
	}
	for (size_t i = 0; i < ps.n; i++) {
		const struct identity_pin *p = &ps.v[i];
		if (!p->key || !p->sysid || !p->dbname || !*p->key || !*p->sysid || !*p->dbname || p->lineno < 1 ||
		    (i && p->lineno <= ps.v[i - 1].lineno))
			abort();
		round_trip(p->key);
		round_trip(p->sysid);
		round_trip(p->dbname);
	}
	if (!strchr(text, '\r'))
		crlf_same(text, 1, &ps);
	/* what pin_record writes back must read as the same pins plus the new one */
	const struct identity_pin add = { 0, "env/t a%#", "7001", "db\tname" };
	char *out = identity_render(&ps, add.key, add.sysid, add.dbname);
	struct identity_pins again;
	if (identity_parse(out, "known_targets", &again))
		abort();
	if (!again.format2 || again.n != ps.n + 1 || !same_pin(&again.v[ps.n], &add))
		abort();
	for (size_t i = 0; i < ps.n; i++)
		if (!same_pin(&again.v[i], &ps.v[i]))
			abort();
	identity_pins_release(&again);
	identity_pins_release(&ps);
	free(out);
	free(text);
	return 0;
}

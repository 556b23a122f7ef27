#include "yamlwalk.h"
#include "buf.h"
#include "confine.h"
#include "fs.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---------------------------------------------------------------- messages */

/* a small ring of buffers lets one message quote several values */
const char *yw_show(const char *s)
{
	static char ring[4][160];
	static int next;
	char *out = ring[next];
	next = (next + 1) % 4;
	size_t max = sizeof ring[0] - 8;
	struct buf b = BUF_INIT;
	size_t used = buf_add_escaped(&b, s, NULL, BUF_ESC_CQUOTE, max - 4);
	size_t o = b.len;
	memcpy(out, b.s ? b.s : "", o);
	buf_release(&b);
	if (s[used]) {
		/* do not cut a UTF-8 sequence in half */
		while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
			o--;
		memcpy(out + o, "...", 4);
		return out;
	}
	out[o] = '\0';
	return out;
}

static int mark_fail(const char *path, int line, int col, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static int mark_fail(const char *path, int line, int col, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s:%d:%d: ", path, line, col);
	buf_vaddf(&b, fmt, ap);
	fail("%s", buf_str(&b));
	buf_release(&b);
	return fail_status(EXIT_USAGE);
}

int yw_err(struct yw_doc *f, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mark_fail(f->path, n ? (int)n->start_mark.line + 1 : 1, n ? (int)n->start_mark.column + 1 : 1, fmt, ap);
	va_end(ap);
	return -1;
}

int yw_hint_list(const char *prefix, const char *const *items, size_t n, const char *none_text)
{
	if (!n)
		return fail_hint("%s", none_text);
	struct buf b = BUF_INIT;
	buf_adds(&b, prefix);
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", items[i]);
	fail_hint("%s", buf_str(&b));
	buf_release(&b);
	return -1;
}

/* ---------------------------------------------------------------- yaml */

static void mark_of_offset(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

static int line_has_tab(const char *text, int line)
{
	const char *p = text;
	for (int l = 1; l < line && p; l++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return 0;
	const char *nl = strchr(p, '\n');
	size_t len = nl ? (size_t)(nl - p) : strlen(p);
	return memchr(p, '\t', len) != NULL;
}

static int yfail_parser(struct yw_doc *f, yaml_parser_t *ps, const char *text)
{
	int line = (int)ps->problem_mark.line + 1, col = (int)ps->problem_mark.column + 1;
	if (ps->error == YAML_READER_ERROR)
		mark_of_offset(text, ps->problem_offset, &line, &col);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s:%d:%d: ", f->path, line, col);
	fail("%sinvalid YAML: %s", buf_str(&b), ps->problem ? ps->problem : "unknown parser error");
	buf_release(&b);
	if (ps->context)
		fail_detail("%s at line %d, column %d", ps->context, (int)ps->context_mark.line + 1,
			    (int)ps->context_mark.column + 1);
	if (line_has_tab(text, line))
		fail_hint("YAML indents with spaces only; replace tabs with spaces");
	else
		fail_hint("fix the YAML syntax at that position");
	return fail_status(EXIT_USAGE);
}

void yw_release(struct yw_doc *f)
{
	if (f->loaded)
		yaml_document_delete(&f->doc);
	f->loaded = 0;
	free(f->path);
	f->path = NULL;
}

static int read_file(const char *path, char **text, size_t *len)
{
	/* regular files only, capped: a FIFO, /dev/zero or a huge file is refused, never read */
	int rc = fs_read_file(path, YW_MAX_BYTES, text, len);
	if (rc > 0)
		fail("could not read \"%s\": %s", path, strerror(ENOENT));
	if (rc) {
		fail_hint("a padctl configuration file is a small regular file; check that this is the right file");
		return fail_status(EXIT_USAGE);
	}
	/* a meta.yml, a contract or an env file linked out of the project is
	 * read with a warning, as a migration's SQL is */
	confine_check(path);
	return 0;
}

/* depth_check walks the event stream and refuses nesting deeper than
 * YW_MAX_DEPTH before the document is composed: libyaml's cost grows with
 * the square of the depth, so a file of 80,000 `[` would take minutes. The
 * walk stops at the first level too deep, so its own cost stays bounded. */
static int depth_check(struct yw_doc *f, const char *text, size_t len)
{
	yaml_parser_t ps;
	if (!yaml_parser_initialize(&ps))
		return fail("could not initialise the YAML parser (out of memory)");
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	int depth = 0, rc = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&ps, &ev)) {
			rc = yfail_parser(f, &ps, text);
			break;
		}
		yaml_event_type_t type = ev.type;
		if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
			if (++depth > YW_MAX_DEPTH) {
				struct buf b = BUF_INIT;
				buf_addf(&b, "%s:%d:%d", f->path, (int)ev.start_mark.line + 1,
					 (int)ev.start_mark.column + 1);
				fail("%s: lists and mappings nested deeper than %d levels", buf_str(&b), YW_MAX_DEPTH);
				buf_release(&b);
				fail_hint(
					"a padctl configuration file nests a few levels; check that this is the right file");
				rc = fail_status(EXIT_USAGE);
			}
		} else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (rc || type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&ps);
	return rc;
}

/* table_keys sets keys to t's valid keys in table order (a NULL t has none) and returns how many. */
static size_t table_keys(const struct yw_table *t, const char **keys)
{
	size_t n = 0;
	for (size_t i = 0; t && i < t->nfields; i++)
		if (t->fields[i].type != YW_SECRET)
			keys[n++] = t->fields[i].key;
	return n;
}

/* keys_text returns "a, b, c" for t's keys (caller frees). */
static char *keys_text(const struct yw_table *t)
{
	const char **keys = xcalloc(t && t->nfields ? t->nfields : 1, sizeof *keys);
	size_t n = table_keys(t, keys);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", keys[i]);
	free(keys);
	return buf_detach(&b);
}

static int load(struct yw_doc *f, const char *path, const char *expected_keys);

int yw_load(struct yw_doc *d, const char *path, const struct yw_table *top)
{
	char *keys = keys_text(top);
	int rc = load(d, path, keys);
	free(keys);
	return rc;
}

yaml_node_t *yw_root(struct yw_doc *d)
{
	return yaml_document_get_root_node(&d->doc);
}

/* load parses path into one document whose root is a mapping. */
static int load(struct yw_doc *f, const char *path, const char *expected_keys)
{
	memset(f, 0, sizeof *f);
	f->path = xstrdup(path);
	char *text;
	size_t len;
	if (read_file(path, &text, &len))
		return -1;
	if (depth_check(f, text, len)) {
		free(text);
		return -1;
	}
	yaml_parser_t ps;
	if (!yaml_parser_initialize(&ps)) {
		free(text);
		return fail("could not initialise the YAML parser (out of memory)");
	}
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	int rc = 0;
	if (!yaml_parser_load(&ps, &f->doc)) {
		rc = yfail_parser(f, &ps, text);
		goto out;
	}
	f->loaded = 1;
	yaml_node_t *root = yaml_document_get_root_node(&f->doc);
	if (!root) {
		fail("%s:1:1: empty file", path);
		fail_hint("expected a mapping with the keys %s", expected_keys);
		rc = fail_status(EXIT_USAGE);
		goto out;
	}
	yaml_document_t extra;
	if (!yaml_parser_load(&ps, &extra)) {
		rc = yfail_parser(f, &ps, text);
		goto out;
	}
	int more = yaml_document_get_root_node(&extra) != NULL;
	int line = (int)extra.start_mark.line + 1, col = (int)extra.start_mark.column + 1;
	yaml_document_delete(&extra);
	if (more) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "%s:%d:%d", path, line, col);
		fail("%s: a second YAML document in the file", buf_str(&b));
		buf_release(&b);
		fail_hint("a padctl configuration file holds one document; remove the extra `---` section");
		rc = fail_status(EXIT_USAGE);
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		yw_err(f, root, "expected a mapping at the top of the file, found %s",
		       root->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar");
		rc = fail_hint("expected the keys %s", expected_keys);
	}
out:
	yaml_parser_delete(&ps);
	free(text);
	return rc;
}

yaml_node_t *yw_node(struct yw_doc *f, int id)
{
	return yaml_document_get_node(&f->doc, id);
}

int yw_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *yw_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		return yw_is_null(n) ? "an empty value" : "a string";
	default:
		return "nothing";
	}
}

int yw_expect(struct yw_doc *f, const yaml_node_t *n, yaml_node_type_t t, const char *what)
{
	if (n->type == t && !(t == YAML_SCALAR_NODE && yw_is_null(n)))
		return 0;
	const char *want = t == YAML_MAPPING_NODE ? "a mapping" : t == YAML_SEQUENCE_NODE ? "a list" : "a string";
	return yw_err(f, n, "expected %s for %s, found %s", want, what, yw_kind(n));
}

int yw_scalar(struct yw_doc *f, const yaml_node_t *n, const char *what, const char **out)
{
	if (yw_expect(f, n, YAML_SCALAR_NODE, what))
		return -1;
	const char *v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length)
		return yw_err(f, n, "%s contains a NUL character", what);
	if (!*v)
		return yw_err(f, n, "expected a non-empty string for %s", what);
	*out = v;
	return 0;
}

int yw_str(struct yw_doc *f, const yaml_node_t *n, const char *what, char **out)
{
	const char *v = NULL;
	if (yw_scalar(f, n, what, &v))
		return -1;
	free(*out);
	*out = xstrdup(v);
	return 0;
}

int yw_reason(struct yw_doc *f, const yaml_node_t *n, const char *what, char **out)
{
	const char *v = NULL;
	if (yw_scalar(f, n, what, &v))
		return -1;
	if (!v[strspn(v, " \t\r\n\f\v")]) {
		yw_err(f, n, "expected a reason for %s, found only blanks", what);
		return fail_hint("write why, in words");
	}
	free(*out);
	*out = xstrdup(v);
	return 0;
}

int yw_int(struct yw_doc *f, const yaml_node_t *n, const char *what, long lo, long hi, int *out)
{
	if (n->type != YAML_SCALAR_NODE || yw_is_null(n))
		return yw_err(f, n, "expected an integer for %s, found %s", what, yw_kind(n));
	const char *v = (const char *)n->data.scalar.value;
	const char *p = v[0] == '-' ? v + 1 : v;
	int digits = *p != '\0';
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			digits = 0;
	errno = 0;
	char *end = NULL;
	long x = digits ? strtol(v, &end, 10) : 0;
	if (!digits || errno || *end)
		return yw_err(f, n, "expected an integer for %s, found \"%s\"", what, yw_show(v));
	if (x < lo || x > hi) {
		yw_err(f, n, "%s %s is out of range", what, yw_show(v));
		return fail_hint("use an integer from %ld to %ld", lo, hi);
	}
	*out = (int)x;
	return 0;
}

int yw_bool_text(const char *text, int *value)
{
	static const struct {
		const char *word;
		int value;
	} words[] = {
		{ "true", 1 }, { "yes", 1 }, { "on", 1 }, { "false", 0 }, { "no", 0 }, { "off", 0 },
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (!strcasecmp(text, words[i].word)) {
			*value = words[i].value;
			return 0;
		}
	}
	return -1;
}

int yw_bool(struct yw_doc *f, const yaml_node_t *n, const char *what, int *out)
{
	if (n->type == YAML_SCALAR_NODE && !yw_is_null(n)) {
		if (yw_bool_text((const char *)n->data.scalar.value, out) == 0)
			return 0;
		yw_err(f, n, "expected a boolean for %s, found \"%s\"", what,
		       yw_show((const char *)n->data.scalar.value));
	} else {
		yw_err(f, n, "expected a boolean for %s, found %s", what, yw_kind(n));
	}
	return fail_hint("use true or false (yes/no and on/off work too)");
}

int yw_enum(struct yw_doc *f, const yaml_node_t *n, const char *what, const char *const *choices, char **out)
{
	const char *v = NULL;
	if (yw_scalar(f, n, what, &v))
		return -1;
	size_t i;
	for (i = 0; choices[i]; i++) {
		if (!strcmp(v, choices[i])) {
			free(*out);
			*out = xstrdup(v);
			return 0;
		}
	}
	yw_err(f, n, "invalid %s \"%s\"", what, yw_show(v));
	return yw_hint_list("expected one of: ", choices, i, "");
}

/* ---------------------------------------------------------------- mappings */

struct keyref {
	const char *key;
	const yaml_node_t *node;
	size_t pos;
};

static int cmp_keyref(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* map_check validates a mapping: scalar keys, no duplicate keys (reported at
 * the later one), and when t is not NULL no key outside t. noun names the
 * keys in messages ("key", "target"); where says which mapping. */
static int map_check(struct yw_doc *f, const yaml_node_t *map, const char *where, const char *noun,
		     const struct yw_table *t)
{
	if (yw_expect(f, map, YAML_MAPPING_NODE, where))
		return -1;
	yaml_node_pair_t *start = map->data.mapping.pairs.start, *top = map->data.mapping.pairs.top;
	size_t n = (size_t)(top - start);
	if (!n)
		return 0;
	struct keyref *refs = xcalloc(n, sizeof *refs);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		yaml_node_t *k = yw_node(f, start[i].key);
		const char *s;
		if (k->type != YAML_SCALAR_NODE) {
			rc = yw_err(f, k, "expected a string as a key in %s, found %s", where, yw_kind(k));
			break;
		}
		if (yw_scalar(f, k, "a key", &s)) {
			rc = -1;
			break;
		}
		refs[i] = (struct keyref){ s, k, i };
	}
	if (!rc) {
		qsort(refs, n, sizeof *refs, cmp_keyref);
		const struct keyref *dup = NULL, *first = NULL;
		for (size_t i = 1; i < n; i++) {
			if (strcmp(refs[i].key, refs[i - 1].key))
				continue;
			if (!dup || refs[i].pos < dup->pos) {
				dup = &refs[i];
				first = &refs[i - 1];
				while (first > refs && !strcmp((first - 1)->key, dup->key))
					first--;
			}
		}
		if (dup) {
			yw_err(f, dup->node, "duplicate %s \"%s\" in %s", noun, yw_show(dup->key), where);
			fail_detail("first defined at line %d", (int)first->node->start_mark.line + 1);
			rc = fail_hint("remove or rename one of them");
		}
	}
	if (!rc && t) {
		const char **keys = xcalloc(t->nfields ? t->nfields : 1, sizeof *keys);
		size_t nkeys = table_keys(t, keys);
		for (size_t i = 0; i < n && !rc; i++) {
			yaml_node_t *k = yw_node(f, start[i].key);
			const char *s = (const char *)k->data.scalar.value;
			size_t j;
			for (j = 0; j < nkeys && strcmp(keys[j], s); j++)
				;
			if (j == nkeys) {
				yw_err(f, k, "unknown key \"%s\" in %s", yw_show(s), where);
				rc = yw_hint_list("valid keys: ", keys, nkeys, "");
			}
		}
		free(keys);
	}
	free(refs);
	return rc;
}

int yw_map_check(struct yw_doc *d, const yaml_node_t *map, const char *where, const char *noun)
{
	return map_check(d, map, where, noun, NULL);
}

yaml_node_t *yw_map_get(struct yw_doc *f, const yaml_node_t *map, const char *key, yaml_node_t **keynode)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yw_node(f, p->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key)) {
			if (keynode)
				*keynode = k;
			return yw_node(f, p->value);
		}
	}
	return NULL;
}

size_t yw_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

int yw_names(struct yw_doc *f, const yaml_node_t *n, const char *what, int (*check)(const char *),
	     const char *kind_text, const char *hint, char ***out, size_t *nout)
{
	if (yw_expect(f, n, YAML_SEQUENCE_NODE, what))
		return -1;
	size_t cnt = yw_seq_len(n);
	char **v = cnt ? xcalloc(cnt, sizeof *v) : NULL;
	size_t got = 0;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *item = yw_node(f, n->data.sequence.items.start[i]);
		const char *s;
		if (yw_scalar(f, item, what, &s))
			goto bad;
		if (!check(s)) {
			yw_err(f, item, "invalid %s \"%s\" in %s", kind_text, yw_show(s), what);
			fail_hint("%s", hint);
			goto bad;
		}
		for (size_t j = 0; j < got; j++) {
			if (!strcmp(v[j], s)) {
				yw_err(f, item, "duplicate %s \"%s\" in %s", kind_text, yw_show(s), what);
				goto bad;
			}
		}
		v[got++] = xstrdup(s);
	}
	*out = v;
	*nout = got;
	return 0;
bad:
	strv_free(v, got);
	return -1;
}

/* ---------------------------------------------------------------- tables */

static char *field_what(const struct yw_field *fl)
{
	return fl->what ? xstrdup(fl->what) : xstrfmt("\"%s\"", fl->key);
}

static int refuse_secrets(struct yw_doc *d, const yaml_node_t *map, const struct yw_table *t, const char *where)
{
	for (size_t i = 0; i < t->nfields; i++) {
		const struct yw_field *fl = &t->fields[i];
		yaml_node_t *k = NULL;
		if (fl->type != YW_SECRET || !yw_map_get(d, map, fl->key, &k))
			continue;
		yw_err(d, k, "plaintext secret \"%s\" in %s refused", fl->key, where);
		fail_detail(
			"secrets never go in the YAML, which is committed and shown in plans; the value was not read");
		return fail_hint("%s", fl->hint);
	}
	return 0;
}

static int walk_field(struct yw_walk *w, const yaml_node_t *map, const struct yw_field *fl, const char *where,
		      void *obj)
{
	struct yw_doc *d = w->doc;
	yaml_node_t *k = NULL, *v = yw_map_get(d, map, fl->key, &k);
	void *at = (char *)obj + fl->off;
	if (!v && fl->required) {
		yw_err(d, map, "missing key \"%s\" in %s", fl->key, where);
		return fl->hint ? fail_hint("%s", fl->hint) : -1;
	}
	if (fl->type == YW_FN)
		return fl->fn(w, fl, map, v ? k : NULL, v, obj);
	if (fl->type == YW_LATER || fl->type == YW_SECRET)
		return 0;
	if (!v) {
		if (fl->dflt && (fl->type == YW_STRING || fl->type == YW_ENUM) && !*(char **)at)
			*(char **)at = xstrdup(fl->dflt);
		return 0;
	}
	char *what = field_what(fl);
	int rc = -1;
	switch (fl->type) {
	case YW_STRING:
		rc = yw_str(d, v, what, at);
		break;
	case YW_REASON:
		rc = yw_reason(d, v, what, at);
		break;
	case YW_INT:
		rc = yw_int(d, v, what, fl->lo, fl->hi, at);
		break;
	case YW_BOOL:
		rc = yw_bool(d, v, what, at);
		break;
	case YW_ENUM:
		rc = yw_enum(d, v, what, fl->choices, at);
		break;
	case YW_NAMES:
		rc = yw_names(d, v, what, fl->check, fl->item, fl->hint, at, (size_t *)((char *)obj + fl->off_n));
		break;
	case YW_MAP:
		rc = yw_walk_map(w, v, fl->sub, what, obj);
		break;
	default:
		break;
	}
	free(what);
	return rc;
}

int yw_walk_map(struct yw_walk *w, const yaml_node_t *map, const struct yw_table *t, const char *where, void *obj)
{
	struct yw_doc *d = w->doc;
	if (map->type == YAML_MAPPING_NODE && refuse_secrets(d, map, t, where))
		return -1;
	if (map_check(d, map, where, "key", t))
		return -1;
	for (size_t i = 0; i < t->nfields; i++)
		if (walk_field(w, map, &t->fields[i], where, obj))
			return -1;
	return t->done ? t->done(w, map, obj) : 0;
}

static void markdown_rows(const struct yw_table *t, const char *prefix, struct buf *out)
{
	for (size_t i = 0; i < t->nfields; i++) {
		const struct yw_field *fl = &t->fields[i];
		if (fl->type == YW_SECRET)
			continue;
		if (fl->type == YW_MAP && fl->sub) {
			char *sub = xstrfmt("%s%s.", prefix, fl->key);
			markdown_rows(fl->sub, sub, out);
			free(sub);
			continue;
		}
		if (!fl->help)
			continue;
		const char *def = fl->doc_default ? fl->doc_default : fl->required ? "required" : "none";
		buf_addf(out, "| `%s%s` | %s | %s | %s |\n", prefix, fl->key, fl->doc_type ? fl->doc_type : "", def,
			 fl->help);
	}
}

void yw_table_markdown(const struct yw_table *t, struct buf *out)
{
	buf_adds(out, "| key | type | default | meaning |\n|-----|------|---------|---------|\n");
	markdown_rows(t, "", out);
}

#include "config.h"
#include "fs.h"
#include "migrations.h"
#include "buf.h"
#include "log.h"
#include "name.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* A config file is a few kilobytes; anything far larger is a mistake or hostile. */
#define CONFIG_MAX_BYTES (4 * 1024 * 1024)
/* Lists and mappings nest a few levels in any real file. */
#define CONFIG_MAX_DEPTH 64

/* One loaded YAML file. Aliases are supported as libyaml composes them: an
 * alias is a second reference to the anchored node, never a copy, so a
 * "billion laughs" document stays small, and every walk below is bounded by
 * the schema (a node of the wrong type stops it), so cycles cannot loop. */
struct yfile {
	char *path;
	yaml_document_t doc;
	int loaded;
};

/* ---------------------------------------------------------------- messages */

/* show returns s made safe for a message: control bytes escaped, long values
 * cut. A small ring of buffers lets one message quote several values. */
static const char *show(const char *s)
{
	static char ring[4][160];
	static int next;
	char *out = ring[next];
	next = (next + 1) % 4;
	size_t o = 0, max = sizeof ring[0] - 8;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (o >= max - 4) {
			/* do not cut a UTF-8 sequence in half */
			while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
				o--;
			if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
				o--;
			memcpy(out + o, "...", 4);
			return out;
		}
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
			if (*p == '"' || *p == '\\') {
				out[o++] = '\\';
				out[o++] = (char)*p;
			} else {
				snprintf(out + o, 5, "\\x%02x", *p);
				o += 4;
			}
		} else {
			out[o++] = (char)*p;
		}
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

/* yerr fails with the position of node n (1-based) in front of the message. */
static int yerr(struct yfile *f, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int yerr(struct yfile *f, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mark_fail(f->path, n ? (int)n->start_mark.line + 1 : 1, n ? (int)n->start_mark.column + 1 : 1, fmt, ap);
	va_end(ap);
	return -1;
}

/* hint_list adds a hint line "prefix a, b, c" (or none_text when n is 0). */
static int hint_list(const char *prefix, const char *const *items, size_t n, const char *none_text)
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

/* ---------------------------------------------------------------- strings */

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* every name of the configuration is a NAME_WORD, a schema's a NAME_IDENT (name.h) */
static int name_ok(const char *s, int allow_dash)
{
	return name_valid(allow_dash ? NAME_WORD : NAME_IDENT, s);
}

/* ident_ok accepts an unquoted SQL identifier (what a schema name must be). */
static int ident_ok(const char *s)
{
	return name_valid(NAME_IDENT, s);
}

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a);
	return xstrfmt("%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

char *config_expand_home(const char *path)
{
	if (!path)
		return NULL;
	if (path[0] != '~')
		return xstrdup(path);
	const char *slash = strchr(path, '/');
	size_t ulen = slash ? (size_t)(slash - path - 1) : strlen(path + 1);
	const char *home;
	if (!ulen) {
		home = getenv("HOME");
		if (!home || !*home) {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : "/";
		}
	} else {
		/* ~user/..., as the shell expands it */
		char *user = xstrndup(path + 1, ulen);
		struct passwd *pw = getpwnam(user);
		free(user);
		if (!pw || !pw->pw_dir || !*pw->pw_dir)
			return NULL;
		home = pw->pw_dir;
	}
	if (!slash || !slash[1])
		return xstrdup(home);
	return path_join(home, slash + 1);
}

/* path_resolve makes a configured path absolute: ~/ is the home directory,
 * ~user/ that user's, relative paths are relative to the project root.
 * NULL when ~user names no user. */
static char *path_resolve(const char *root, const char *v)
{
	if (v[0] == '~')
		return config_expand_home(v);
	if (v[0] == '/')
		return xstrdup(v);
	return path_join(root, v);
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* list_names returns the sorted base names of dir/<name><ext> that are valid names. */
static void list_names(const char *dir, const char *ext, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t cap = 0, elen = strlen(ext);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= elen || strcmp(de->d_name + len - elen, ext) != 0)
			continue;
		char *name = xstrndup(de->d_name, len - elen);
		char *full = xstrfmt("%s/%s", dir, de->d_name);
		int ok = name_ok(name, 1) && file_exists(full);
		free(full);
		if (!ok) {
			free(name);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*names = xrealloc(*names, cap * sizeof **names);
		}
		(*names)[(*n)++] = name;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_str);
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

static int yfail_parser(struct yfile *f, yaml_parser_t *ps, const char *text)
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

static void yfile_release(struct yfile *f)
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
	int rc = fs_read_file(path, CONFIG_MAX_BYTES, text, len);
	if (rc > 0)
		fail("could not read \"%s\": %s", path, strerror(ENOENT));
	if (rc) {
		fail_hint("a padctl configuration file is a small regular file; check that this is the right file");
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

/* depth_check walks the event stream and refuses nesting deeper than
 * CONFIG_MAX_DEPTH before the document is composed: libyaml's cost grows with
 * the square of the depth, so a file of 80,000 `[` would take minutes. The
 * walk stops at the first level too deep, so its own cost stays bounded. */
static int depth_check(struct yfile *f, const char *text, size_t len)
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
			if (++depth > CONFIG_MAX_DEPTH) {
				struct buf b = BUF_INIT;
				buf_addf(&b, "%s:%d:%d", f->path, (int)ev.start_mark.line + 1,
					 (int)ev.start_mark.column + 1);
				fail("%s: lists and mappings nested deeper than %d levels", buf_str(&b), CONFIG_MAX_DEPTH);
				buf_release(&b);
				fail_hint("a padctl configuration file nests a few levels; check that this is the right file");
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

/* yfile_load parses path into one document whose root is a mapping. */
static int yfile_load(struct yfile *f, const char *path, const char *expected_keys)
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
		yerr(f, root, "expected a mapping at the top of the file, found %s",
		     root->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar");
		rc = fail_hint("expected the keys %s", expected_keys);
	}
out:
	yaml_parser_delete(&ps);
	free(text);
	return rc;
}

static yaml_node_t *ynode(struct yfile *f, int id)
{
	return yaml_document_get_node(&f->doc, id);
}

static int is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		return is_null(n) ? "an empty value" : "a string";
	default:
		return "nothing";
	}
}

/* expect checks n's type; what names the value in the message ("\"port\""). */
static int expect(struct yfile *f, const yaml_node_t *n, yaml_node_type_t t, const char *what)
{
	if (n->type == t && !(t == YAML_SCALAR_NODE && is_null(n)))
		return 0;
	const char *want = t == YAML_MAPPING_NODE ? "a mapping" : t == YAML_SEQUENCE_NODE ? "a list" : "a string";
	return yerr(f, n, "expected %s for %s, found %s", want, what, kind(n));
}

/* scalar gives a non-empty scalar's text (borrowed from the document). */
static int scalar(struct yfile *f, const yaml_node_t *n, const char *what, const char **out)
{
	if (expect(f, n, YAML_SCALAR_NODE, what))
		return -1;
	const char *v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length)
		return yerr(f, n, "%s contains a NUL character", what);
	if (!*v)
		return yerr(f, n, "expected a non-empty string for %s", what);
	*out = v;
	return 0;
}

static int get_str(struct yfile *f, const yaml_node_t *n, const char *what, char **out)
{
	const char *v = NULL;
	if (scalar(f, n, what, &v))
		return -1;
	free(*out);
	*out = xstrdup(v);
	return 0;
}

static int get_path(struct yfile *f, const yaml_node_t *n, const char *what, const char *root, char **out)
{
	const char *v = NULL;
	if (scalar(f, n, what, &v))
		return -1;
	char *path = path_resolve(root, v);
	if (!path) {
		yerr(f, n, "%s: the path \"%s\" names no user of this machine", what, show(v));
		return fail_hint("write ~/ for your home directory, ~USER/ for an existing user's, or an absolute "
				 "path");
	}
	free(*out);
	*out = path;
	return 0;
}

static int get_int(struct yfile *f, const yaml_node_t *n, const char *what, long lo, long hi, int *out)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return yerr(f, n, "expected an integer for %s, found %s", what, kind(n));
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
		return yerr(f, n, "expected an integer for %s, found \"%s\"", what, show(v));
	if (x < lo || x > hi) {
		yerr(f, n, "%s %s is out of range", what, show(v));
		return fail_hint("use an integer from %ld to %ld", lo, hi);
	}
	*out = (int)x;
	return 0;
}

int config_bool(const char *text, int *value)
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

static int get_bool(struct yfile *f, const yaml_node_t *n, const char *what, int *out)
{
	if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
		if (config_bool((const char *)n->data.scalar.value, out) == 0)
			return 0;
		yerr(f, n, "expected a boolean for %s, found \"%s\"", what, show((const char *)n->data.scalar.value));
	} else {
		yerr(f, n, "expected a boolean for %s, found %s", what, kind(n));
	}
	return fail_hint("use true or false (yes/no and on/off work too)");
}

static int get_enum(struct yfile *f, const yaml_node_t *n, const char *what, const char *const *choices,
		    char **out)
{
	const char *v = NULL;
	if (scalar(f, n, what, &v))
		return -1;
	size_t i;
	for (i = 0; choices[i]; i++) {
		if (!strcmp(v, choices[i])) {
			free(*out);
			*out = xstrdup(v);
			return 0;
		}
	}
	yerr(f, n, "invalid %s \"%s\"", what, show(v));
	return hint_list("expected one of: ", choices, i, "");
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
 * the later one), and when keys is not NULL no key outside that list. noun
 * names the keys in messages ("key", "target"); where says which mapping. */
static int map_check(struct yfile *f, const yaml_node_t *map, const char *where, const char *noun,
		     const char *const *keys)
{
	if (expect(f, map, YAML_MAPPING_NODE, where))
		return -1;
	yaml_node_pair_t *start = map->data.mapping.pairs.start, *top = map->data.mapping.pairs.top;
	size_t n = (size_t)(top - start);
	if (!n)
		return 0;
	struct keyref *refs = xcalloc(n, sizeof *refs);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		yaml_node_t *k = ynode(f, start[i].key);
		const char *s;
		if (k->type != YAML_SCALAR_NODE) {
			rc = yerr(f, k, "expected a string as a key in %s, found %s", where, kind(k));
			break;
		}
		if (scalar(f, k, "a key", &s)) {
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
			yerr(f, dup->node, "duplicate %s \"%s\" in %s", noun, show(dup->key), where);
			fail_detail("first defined at line %d", (int)first->node->start_mark.line + 1);
			rc = fail_hint("remove or rename one of them");
		}
	}
	if (!rc && keys) {
		for (size_t i = 0; i < n && !rc; i++) {
			yaml_node_t *k = ynode(f, start[i].key);
			const char *s = (const char *)k->data.scalar.value;
			size_t j;
			for (j = 0; keys[j] && strcmp(keys[j], s); j++)
				;
			if (!keys[j]) {
				yerr(f, k, "unknown key \"%s\" in %s", show(s), where);
				rc = hint_list("valid keys: ", keys, j, "");
			}
		}
	}
	free(refs);
	return rc;
}

/* map_get returns the value of key in a checked mapping, or NULL. */
static yaml_node_t *map_get(struct yfile *f, const yaml_node_t *map, const char *key, yaml_node_t **keynode)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = ynode(f, p->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key)) {
			if (keynode)
				*keynode = k;
			return ynode(f, p->value);
		}
	}
	return NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* get_names reads a list of names; check says which names are valid
 * (kind_text names them in the error), and duplicates are refused. */
static int get_names(struct yfile *f, const yaml_node_t *n, const char *what, int (*check)(const char *),
		     const char *kind_text, const char *hint, char ***out, size_t *nout)
{
	if (expect(f, n, YAML_SEQUENCE_NODE, what))
		return -1;
	size_t cnt = seq_len(n);
	char **v = cnt ? xcalloc(cnt, sizeof *v) : NULL;
	size_t got = 0;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *item = ynode(f, n->data.sequence.items.start[i]);
		const char *s;
		if (scalar(f, item, what, &s))
			goto bad;
		if (!check(s)) {
			yerr(f, item, "invalid %s \"%s\" in %s", kind_text, show(s), what);
			fail_hint("%s", hint);
			goto bad;
		}
		for (size_t j = 0; j < got; j++) {
			if (!strcmp(v[j], s)) {
				yerr(f, item, "duplicate %s \"%s\" in %s", kind_text, show(s), what);
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

static int check_ident(const char *s)
{
	return ident_ok(s);
}

static int check_name(const char *s)
{
	return name_ok(s, 1);
}

static const char ident_hint[] =
	"a schema name is an unquoted SQL identifier: ASCII letters, digits and _, not starting with a digit, at most 63 characters";
static const char name_hint[] = "names use ASCII letters, digits, _ and -, at most 63 characters";

/* ---------------------------------------------------------------- root */

static int find_in(const char *dir, char **root)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return -1;
	char *file = path_join(real, "padctl.yml");
	int ok = file_exists(file);
	free(file);
	if (!ok)
		return 1;
	*root = xstrdup(real);
	return 0;
}

int config_find_root(const char *dir_opt, char **root)
{
	*root = NULL;
	const char *env = getenv("PADCTL_PROJECT");
	const char *given = dir_opt ? dir_opt : (env && *env) ? env : NULL;
	const char *source = dir_opt ? "-C" : "PADCTL_PROJECT";
	if (given) {
		int rc = find_in(given, root);
		if (!rc)
			return 0;
		if (rc < 0)
			fail("cannot use project directory \"%s\" (%s): %s", show(given), source, strerror(errno));
		else
			fail("no padctl.yml in \"%s\" (%s)", show(given), source);
		fail_hint("run `padctl init` there, or point %s at the directory holding padctl.yml", source);
		return fail_status(EXIT_USAGE);
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd)) {
		fail("cannot find the current directory: %s", strerror(errno));
		return fail_status(EXIT_USAGE);
	}
	char *dir = xstrdup(cwd);
	for (;;) {
		if (!find_in(dir, root)) {
			free(dir);
			return 0;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			if (dir[1] == '\0')
				break;
			dir[1] = '\0';
			continue;
		}
		*slash = '\0';
	}
	free(dir);
	fail("no padctl project found: no padctl.yml in \"%s\" or any parent directory", show(cwd));
	fail_hint("run `padctl init` to create a project here, or use -C DIR (or PADCTL_PROJECT) to name one");
	return fail_status(EXIT_USAGE);
}

/* ---------------------------------------------------------------- project */

void config_project_release(struct cfg_project *p)
{
	free(p->root);
	free(p->file);
	free(p->name);
	strv_free(p->owned, p->nowned);
	strv_free(p->protected_schemas, p->nprotected);
	free(p->migrations_dir);
	free(p->seeds_dir);
	free(p->contracts_dir);
	free(p->backfills_dir);
	memset(p, 0, sizeof *p);
}

static const char *const project_keys[] = { "project", "schemas", "paths", "migrations", NULL };
static const char *const project_migrations_keys[] = { "lock_timeout", NULL };
static const char *const schemas_keys[] = { "owned", "protected", NULL };
static const char *const paths_keys[] = { "migrations", "seeds", "contracts", "backfills", NULL };

static int project_parse(struct yfile *f, struct cfg_project *p)
{
	yaml_node_t *root = yaml_document_get_root_node(&f->doc), *n, *k = NULL;
	if (map_check(f, root, "padctl.yml", "key", project_keys))
		return -1;
	if (!(n = map_get(f, root, "project", NULL))) {
		yerr(f, root, "missing key \"project\" in padctl.yml");
		return fail_hint("add `project: NAME` (the application's name; the default database name)");
	}
	if (get_str(f, n, "\"project\"", &p->name))
		return -1;
	if ((n = map_get(f, root, "schemas", NULL))) {
		if (map_check(f, n, "\"schemas\"", "key", schemas_keys))
			return -1;
		yaml_node_t *o = map_get(f, n, "owned", NULL), *pr = map_get(f, n, "protected", NULL);
		if (o && get_names(f, o, "\"schemas.owned\"", check_ident, "schema name", ident_hint, &p->owned,
				   &p->nowned))
			return -1;
		if (pr && get_names(f, pr, "\"schemas.protected\"", check_ident, "schema name", ident_hint,
				    &p->protected_schemas, &p->nprotected))
			return -1;
		for (size_t i = 0; i < p->nprotected; i++) {
			for (size_t j = 0; j < p->nowned; j++) {
				if (strcmp(p->protected_schemas[i], p->owned[j]))
					continue;
				yaml_node_t *item = ynode(f, pr->data.sequence.items.start[i]);
				yerr(f, item, "schema \"%s\" is both owned and protected", p->owned[j]);
				return fail_hint("list it under owned (migrations may change it) or under protected "
						 "(read-only), not both");
			}
		}
	}
	p->lock_timeout = 5;
	if ((n = map_get(f, root, "migrations", NULL)) &&
	    (map_check(f, n, "\"migrations\"", "key", project_migrations_keys) ||
	     ((n = map_get(f, n, "lock_timeout", NULL)) &&
	      get_int(f, n, "\"migrations.lock_timeout\" (seconds)", 0, 86400, &p->lock_timeout))))
		return -1;
	const char *defaults[] = { "migrations", "seeds", "contracts", "backfills" };
	char **dirs[] = { &p->migrations_dir, &p->seeds_dir, &p->contracts_dir, &p->backfills_dir };
	yaml_node_t *paths = map_get(f, root, "paths", NULL);
	if (paths && map_check(f, paths, "\"paths\"", "key", paths_keys))
		return -1;
	for (size_t i = 0; i < 4; i++) {
		n = paths ? map_get(f, paths, defaults[i], &k) : NULL;
		if (n) {
			char *what = xstrfmt("\"paths.%s\"", defaults[i]);
			int rc = get_path(f, n, what, p->root, dirs[i]);
			free(what);
			if (rc)
				return -1;
		} else {
			*dirs[i] = path_join(p->root, defaults[i]);
		}
	}
	return 0;
}

int config_load_project(const char *root, struct cfg_project *p)
{
	memset(p, 0, sizeof *p);
	char real[PATH_MAX];
	if (!realpath(root, real)) {
		fail("cannot use project directory \"%s\": %s", show(root), strerror(errno));
		return fail_status(EXIT_USAGE);
	}
	p->root = xstrdup(real);
	p->file = path_join(real, "padctl.yml");
	struct yfile f;
	int rc = yfile_load(&f, p->file, "project, schemas, paths");
	if (!rc)
		rc = project_parse(&f, p);
	yfile_release(&f);
	if (rc)
		config_project_release(p);
	return rc ? fail_status(EXIT_USAGE) : 0;
}

int config_list_envs(const struct cfg_project *p, char ***names, size_t *n)
{
	char *dir = path_join(p->root, "envs");
	list_names(dir, ".yml", names, n);
	free(dir);
	return 0;
}

/* ---------------------------------------------------------------- env */

static void target_release(struct cfg_target *t)
{
	free(t->name);
	free(t->db.host);
	free(t->db.dbname);
	free(t->db.user);
	free(t->db.password_env);
	free(t->db.password_command);
	free(t->db.trust_root);
	free(t->db.trust_env);
	free(t->db.passfile);
	free(t->db.sslmode);
	strv_free(t->db.fixtures, t->db.nfixtures);
	if (t->ssh) {
		free(t->ssh->host);
		free(t->ssh->user);
		free(t->ssh->identity);
		free(t->ssh->passphrase_env);
		free(t->ssh->known_hosts);
		free(t->ssh->tools);
		free(t->ssh);
	}
}

void config_env_release(struct cfg_env *e)
{
	free(e->name);
	free(e->file);
	free(e->tier);
	free(e->pipeline);
	for (size_t i = 0; i < e->ntargets; i++)
		target_release(&e->targets[i]);
	free(e->targets);
	for (size_t i = 0; i < e->nskips; i++) {
		free(e->skips[i].version);
		free(e->skips[i].reason);
	}
	free(e->skips);
	strv_free(e->seeds, e->nseeds);
	free(e->ledger);
	memset(e, 0, sizeof *e);
}

const struct cfg_target *config_env_target(const struct cfg_env *e, const char *name)
{
	for (size_t i = 0; i < e->ntargets; i++)
		if (!strcmp(e->targets[i].name, name))
			return &e->targets[i];
	return NULL;
}

const struct cfg_skip *config_env_skip(const struct cfg_env *e, const char *version)
{
	for (size_t i = 0; i < e->nskips; i++)
		if (!version_cmp(e->skips[i].version, version))
			return &e->skips[i];
	return NULL;
}

static const char *const env_keys[] = { "tier", "pipeline", "ledger", "targets", "migrations", "seeds", NULL };
static const char *const target_keys[] = { "database", "ssh", NULL };
static const char *const db_keys[] = { "managed",     "host",	"port",		   "dbname",
				       "user",	      "password_env", "password_command", "passfile",
				       "sslmode",     "connect_timeout", "fixtures",	   NULL };
static const char *const ssh_keys[] = { "host",		 "port",       "user",	 "identity", "passphrase_env",
					"known_hosts", "tunnel", "tools", NULL };
static const char *const migrations_keys[] = { "skip", "lock_timeout", NULL };
static const char *const tiers[] = { "nonprod", "prod", NULL };
static const char *const sslmodes[] = { "disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL };
static const char *const ssh_tools[] = { "local", "remote", NULL };

struct env_ctx {
	struct yfile *f;
	const struct cfg_project *p;
	struct cfg_env *e;
	int is_local;
};

static int get_env_var(struct yfile *f, const yaml_node_t *n, const char *what, char **out)
{
	const char *v = NULL;
	if (scalar(f, n, what, &v))
		return -1;
	if (!ident_ok(v)) {
		/* the value may be a pasted secret: never repeat it */
		yerr(f, n, "%s must name an environment variable", what);
		return fail_hint("write the variable's name (e.g. PADCTL_QA_PASSWORD), not its value");
	}
	free(*out);
	*out = xstrdup(v);
	return 0;
}

static int refuse_secret(struct yfile *f, const yaml_node_t *map, const char *key, const char *where,
			 const char *hint)
{
	yaml_node_t *k = NULL;
	if (!map_get(f, map, key, &k))
		return 0;
	yerr(f, k, "plaintext secret \"%s\" in %s refused", key, where);
	fail_detail("secrets never go in the YAML, which is committed and shown in plans; the value was not read");
	return fail_hint("%s", hint);
}

static int ssh_parse(struct env_ctx *c, const yaml_node_t *map, struct cfg_target *t)
{
	struct yfile *f = c->f;
	char *where = xstrfmt("the ssh of target \"%s\"", t->name);
	struct cfg_ssh *s = xcalloc(1, sizeof *s);
	t->ssh = s;
	s->port = 22;
	s->line = (int)map->start_mark.line + 1;
	yaml_node_t *n;
	int rc = -1;
	if (map->type == YAML_MAPPING_NODE &&
	    (refuse_secret(f, map, "password", where,
			   "use an ssh agent or an identity file, with passphrase_env for its passphrase") ||
	     refuse_secret(f, map, "passphrase", where,
			   "set passphrase_env to the name of an environment variable holding the passphrase")))
		goto out;
	if (map_check(f, map, where, "key", ssh_keys))
		goto out;
	if (!(n = map_get(f, map, "host", NULL))) {
		yerr(f, map, "missing key \"host\" in %s", where);
		fail_hint("add `host: NAME` (the SSH host), or remove the ssh section");
		goto out;
	}
	if (get_str(f, n, "\"ssh.host\"", &s->host))
		goto out;
	if ((n = map_get(f, map, "port", NULL)) && get_int(f, n, "\"ssh.port\"", 1, 65535, &s->port))
		goto out;
	if ((n = map_get(f, map, "user", NULL)) && get_str(f, n, "\"ssh.user\"", &s->user))
		goto out;
	if ((n = map_get(f, map, "identity", NULL)) && get_path(f, n, "\"ssh.identity\"", c->p->root, &s->identity))
		goto out;
	if ((n = map_get(f, map, "passphrase_env", NULL)) && get_env_var(f, n, "\"ssh.passphrase_env\"", &s->passphrase_env))
		goto out;
	if ((n = map_get(f, map, "known_hosts", NULL))) {
		if (get_path(f, n, "\"ssh.known_hosts\"", c->p->root, &s->known_hosts))
			goto out;
	} else {
		s->known_hosts = config_expand_home("~/.ssh/known_hosts");
	}
	if ((n = map_get(f, map, "tunnel", NULL)) && get_bool(f, n, "\"ssh.tunnel\"", &s->tunnel))
		goto out;
	if ((n = map_get(f, map, "tools", NULL))) {
		if (get_enum(f, n, "\"ssh.tools\"", ssh_tools, &s->tools))
			goto out;
	} else {
		s->tools = xstrdup("local");
	}
	rc = 0;
out:
	free(where);
	return rc;
}

static void db_defaults(struct env_ctx *c, struct cfg_database *d)
{
	const char *user = getenv("USER");
	if (!d->dbname)
		d->dbname = xstrdup(c->p->name);
	if (!d->user)
		d->user = xstrdup(user && *user ? user : "postgres");
	if (!d->sslmode)
		d->sslmode = xstrdup("prefer");
	if (!d->managed && !d->host)
		d->host = xstrdup("127.0.0.1");
	if (!d->managed && !d->port)
		d->port = 5432;
}

static int db_parse(struct env_ctx *c, const yaml_node_t *map, struct cfg_target *t, const yaml_node_t *ssh)
{
	struct yfile *f = c->f;
	struct cfg_database *d = &t->db;
	d->line = (int)map->start_mark.line + 1;
	char *where = xstrfmt("the database of target \"%s\"", t->name);
	yaml_node_t *n = NULL, *k = NULL;
	int rc = -1, have_managed = 0;
	if (map->type == YAML_MAPPING_NODE &&
	    refuse_secret(f, map, "password", where,
			  "use password_env (an environment variable's name), password_command (a command "
			  "printing the password) or passfile (a pgpass file)"))
		goto out;
	if (map_check(f, map, where, "key", db_keys))
		goto out;
	if ((n = map_get(f, map, "managed", NULL))) {
		if (get_bool(f, n, "\"managed\"", &d->managed))
			goto out;
		have_managed = 1;
	}
	if ((n = map_get(f, map, "host", NULL)) && get_str(f, n, "\"host\"", &d->host))
		goto out;
	if (!have_managed)
		d->managed = c->is_local && !d->host && !ssh;
	if ((n = map_get(f, map, "port", NULL)) && get_int(f, n, "\"port\"", 1, 65535, &d->port))
		goto out;
	if ((n = map_get(f, map, "dbname", NULL)) && get_str(f, n, "\"dbname\"", &d->dbname))
		goto out;
	if ((n = map_get(f, map, "user", NULL)) && get_str(f, n, "\"user\"", &d->user))
		goto out;
	if ((n = map_get(f, map, "password_env", NULL)) && get_env_var(f, n, "\"password_env\"", &d->password_env))
		goto out;
	if ((n = map_get(f, map, "password_command", NULL)) &&
	    get_str(f, n, "\"password_command\"", &d->password_command))
		goto out;
	if (d->password_command && !d->trust_root) {
		/* what `padctl trust` and the check before running it need (trust.h) */
		d->trust_root = xstrdup(c->p->root);
		d->trust_env = xstrdup(c->e->name);
		d->password_command_line = n ? (int)n->start_mark.line + 1 : 0;
	}
	if ((n = map_get(f, map, "passfile", NULL)) && get_path(f, n, "\"passfile\"", c->p->root, &d->passfile))
		goto out;
	if ((n = map_get(f, map, "sslmode", NULL)) && get_enum(f, n, "\"sslmode\"", sslmodes, &d->sslmode))
		goto out;
	d->connect_timeout = 10;
	if ((n = map_get(f, map, "connect_timeout", NULL)) &&
	    get_int(f, n, "\"connect_timeout\"", 0, 3600, &d->connect_timeout))
		goto out;
	if (d->password_env && d->password_command) {
		map_get(f, map, "password_command", &k);
		yerr(f, k, "both password_env and password_command in %s", where);
		fail_hint("keep one of them");
		goto out;
	}
	if (d->managed) {
		static const char *const remote_only[] = { "host", "port", "password_env", "password_command",
							   "passfile", NULL };
		for (size_t i = 0; remote_only[i]; i++) {
			if (!map_get(f, map, remote_only[i], &k))
				continue;
			yerr(f, k, "\"%s\" set for the managed database of target \"%s\"", remote_only[i], t->name);
			fail_detail("a managed database is the private cluster padctl runs under .padctl/; it has no "
				    "host, port or password to configure");
			fail_hint(have_managed ? "remove \"%s\", or set managed: false to use an existing server"
					       : "remove \"%s\", or set managed: false and a host to use an existing server",
				  remote_only[i]);
			goto out;
		}
		if (ssh) {
			yerr(f, ssh, "ssh set for the managed database of target \"%s\"", t->name);
			fail_hint("remove the ssh section, or set managed: false and a host");
			goto out;
		}
	}
	if ((n = map_get(f, map, "fixtures", &k))) {
		if (!d->managed) {
			yerr(f, k, "\"fixtures\" set for the database of target \"%s\", which is not managed", t->name);
			fail_hint("fixtures are loaded only into the managed local cluster; remove them here");
			goto out;
		}
		if (expect(f, n, YAML_SEQUENCE_NODE, "\"fixtures\""))
			goto out;
		size_t cnt = seq_len(n);
		d->fixtures = cnt ? xcalloc(cnt, sizeof *d->fixtures) : NULL;
		for (size_t i = 0; i < cnt; i++) {
			if (get_path(f, ynode(f, n->data.sequence.items.start[i]), "\"fixtures\"", c->p->root,
				     &d->fixtures[i]))
				goto out;
			d->nfixtures++;
		}
	}
	rc = 0;
out:
	free(where);
	return rc;
}

static int target_parse(struct env_ctx *c, const yaml_node_t *keynode, const yaml_node_t *map,
			struct cfg_target *t)
{
	struct yfile *f = c->f;
	const char *name = (const char *)keynode->data.scalar.value;
	t->line = (int)keynode->start_mark.line + 1;
	if (!name_ok(name, 1)) {
		yerr(f, keynode, "invalid target name \"%s\"", show(name));
		return fail_hint("%s", name_hint);
	}
	t->name = xstrdup(name);
	yaml_node_t *db = NULL, *ssh = NULL;
	if (map) {
		char *where = xstrfmt("target \"%s\"", name);
		int rc = map_check(f, map, where, "key", target_keys);
		free(where);
		if (rc)
			return -1;
		db = map_get(f, map, "database", NULL);
		ssh = map_get(f, map, "ssh", NULL);
	}
	if (db) {
		if (db_parse(c, db, t, ssh))
			return -1;
	} else {
		t->db.managed = c->is_local && !ssh;
		t->db.connect_timeout = 10;
		t->db.line = t->line;
	}
	if (ssh && ssh_parse(c, ssh, t))
		return -1;
	db_defaults(c, &t->db);
	return 0;
}

static int targets_parse(struct env_ctx *c, const yaml_node_t *root)
{
	struct yfile *f = c->f;
	struct cfg_env *e = c->e;
	yaml_node_t *n = map_get(f, root, "targets", NULL);
	if (!n) {
		if (!c->is_local) {
			yerr(f, root, "missing key \"targets\" in env \"%s\"", e->name);
			return fail_hint("add `targets:` with one or more databases, e.g. "
					 "`targets: {%s: {database: {host: HOST}}}`",
					 e->name);
		}
		e->targets = xcalloc(1, sizeof *e->targets);
		e->ntargets = 1;
		struct cfg_target *t = &e->targets[0];
		t->name = xstrdup("local");
		t->db.managed = 1;
		t->db.connect_timeout = 10;
		db_defaults(c, &t->db);
		return 0;
	}
	if (map_check(f, n, "\"targets\"", "target", NULL))
		return -1;
	size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (!cnt) {
		yerr(f, n, "no targets in env \"%s\"", e->name);
		return fail_hint("add at least one target under `targets:`");
	}
	e->targets = xcalloc(cnt, sizeof *e->targets);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_pair_t *pair = &n->data.mapping.pairs.start[i];
		yaml_node_t *v = ynode(f, pair->value);
		e->ntargets++;
		if (is_null(v)) {
			/* `name:` alone: a target with every default */
			yaml_node_t *k = ynode(f, pair->key);
			if (target_parse(c, k, NULL, &e->targets[i]))
				return -1;
			continue;
		}
		if (target_parse(c, ynode(f, pair->key), v, &e->targets[i]))
			return -1;
	}
	return 0;
}

static int skips_parse(struct env_ctx *c, const yaml_node_t *mig)
{
	struct yfile *f = c->f;
	struct cfg_env *e = c->e;
	if (map_check(f, mig, "\"migrations\"", "key", migrations_keys))
		return -1;
	yaml_node_t *lt = map_get(f, mig, "lock_timeout", NULL);
	if (lt && get_int(f, lt, "\"migrations.lock_timeout\" (seconds)", 0, 86400, &e->lock_timeout))
		return -1;
	yaml_node_t *skip = map_get(f, mig, "skip", NULL);
	if (!skip)
		return 0;
	if (map_check(f, skip, "\"migrations.skip\"", "version", NULL))
		return -1;
	size_t cnt = (size_t)(skip->data.mapping.pairs.top - skip->data.mapping.pairs.start);
	e->skips = cnt ? xcalloc(cnt, sizeof *e->skips) : NULL;
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_pair_t *pair = &skip->data.mapping.pairs.start[i];
		yaml_node_t *k = ynode(f, pair->key), *v = ynode(f, pair->value);
		const char *ver = (const char *)k->data.scalar.value;
		size_t len = strspn(ver, "0123456789");
		if (!len || ver[len] || len > 32) {
			yerr(f, k, "invalid migration version \"%s\" in \"migrations.skip\"", show(ver));
			return fail_hint("a version is the digits that start a migration directory's name, e.g. "
					 "\"0017\" for migrations/0017_add_index");
		}
		for (size_t j = 0; j < e->nskips; j++) {
			if (!version_cmp(e->skips[j].version, ver)) {
				yerr(f, k, "migration version \"%s\" is skipped twice (also at line %d)", ver,
				     e->skips[j].line);
				return fail_hint("keep one entry per version");
			}
		}
		const char *reason;
		if (v->type != YAML_SCALAR_NODE || is_null(v)) {
			yerr(f, v, "expected a reason (a string) for skipping version \"%s\", found %s", ver, kind(v));
			return fail_hint("write why it is skipped: `\"%s\": schemas already exist in this environment`",
					 ver);
		}
		if (scalar(f, v, "the skip reason", &reason))
			return -1;
		struct cfg_skip *s = &e->skips[e->nskips++];
		s->version = xstrdup(ver);
		s->reason = xstrdup(reason);
		s->line = (int)k->start_mark.line + 1;
	}
	return 0;
}

static int env_parse(struct env_ctx *c)
{
	struct yfile *f = c->f;
	struct cfg_env *e = c->e;
	yaml_node_t *root = yaml_document_get_root_node(&f->doc), *n;
	char *where = xstrfmt("env \"%s\"", e->name);
	int rc = map_check(f, root, where, "key", env_keys);
	free(where);
	if (rc)
		return -1;
	if ((n = map_get(f, root, "tier", NULL))) {
		if (get_enum(f, n, "\"tier\"", tiers, &e->tier))
			return -1;
	} else {
		e->tier = xstrdup("nonprod");
	}
	yaml_node_t *pl = map_get(f, root, "pipeline", NULL);
	if (pl) {
		if (get_str(f, pl, "\"pipeline\"", &e->pipeline))
			return -1;
		e->pipeline_line = (int)pl->start_mark.line + 1;
		if (!name_ok(e->pipeline, 1)) {
			yerr(f, pl, "invalid pipeline name \"%s\"", show(e->pipeline));
			return fail_hint("%s; the pipeline is the file pipelines/NAME.yml", name_hint);
		}
	} else {
		e->pipeline = xstrdup(strcmp(e->tier, "prod") ? "standard" : "prod");
	}
	if (targets_parse(c, root))
		return -1;
	if ((n = map_get(f, root, "ledger", NULL))) {
		if (get_str(f, n, "\"ledger\"", &e->ledger))
			return -1;
		if (!config_env_target(e, e->ledger)) {
			yerr(f, n, "ledger \"%s\" is not a target of env \"%s\"", show(e->ledger), e->name);
			char **names = xcalloc(e->ntargets, sizeof *names);
			for (size_t i = 0; i < e->ntargets; i++)
				names[i] = e->targets[i].name;
			hint_list("name one of the targets: ", (const char *const *)names, e->ntargets, "");
			free(names);
			return -1;
		}
	} else {
		e->ledger = xstrdup(e->targets[0].name);
	}
	if ((n = map_get(f, root, "migrations", NULL)) && skips_parse(c, n))
		return -1;
	if ((n = map_get(f, root, "seeds", NULL)) &&
	    get_names(f, n, "\"seeds\"", check_name, "seed set", "a seed set is a directory name under seeds/",
		      &e->seeds, &e->nseeds))
		return -1;
	/* the pipeline must exist: say so here, at the line that names it */
	char *plfile = xstrfmt("%s/pipelines/%s.yml", c->p->root, e->pipeline);
	int exists = file_exists(plfile);
	if (!exists) {
		char *dir = path_join(c->p->root, "pipelines");
		char **known;
		size_t nknown;
		list_names(dir, ".yml", &known, &nknown);
		free(dir);
		if (pl)
			yerr(f, pl, "pipeline \"%s\" does not exist", e->pipeline);
		else
			yerr(f, NULL, "env \"%s\" uses the default pipeline \"%s\", which does not exist", e->name,
			     e->pipeline);
		fail_detail("no file \"%s\"", plfile);
		hint_list("create it, or name one of the pipelines: ", (const char *const *)known, nknown,
			  "create it (see `padctl init` for a standard pipeline)");
		strv_free(known, nknown);
	}
	free(plfile);
	return exists ? 0 : -1;
}

int config_load_env(const struct cfg_project *p, const char *name, struct cfg_env *e)
{
	memset(e, 0, sizeof *e);
	if (!name_ok(name, 1)) {
		fail("invalid env name \"%s\"", show(name));
		fail_hint("%s; the env is the file envs/NAME.yml", name_hint);
		return fail_status(EXIT_USAGE);
	}
	char *file = xstrfmt("%s/envs/%s.yml", p->root, name);
	if (!file_exists(file)) {
		char **names;
		size_t n;
		config_list_envs(p, &names, &n);
		fail("unknown env \"%s\"", name);
		fail_detail("no file \"%s\"", file);
		hint_list("known envs: ", (const char *const *)names, n,
			  "this project has no envs yet: create envs/NAME.yml");
		strv_free(names, n);
		free(file);
		return fail_status(EXIT_USAGE);
	}
	e->name = xstrdup(name);
	e->file = file;
	e->lock_timeout = p->lock_timeout;
	struct yfile f;
	struct env_ctx c = { &f, p, e, !strcmp(name, "local") };
	int rc = yfile_load(&f, file, "tier, pipeline, ledger, targets, migrations, seeds");
	if (!rc)
		rc = env_parse(&c);
	yfile_release(&f);
	if (rc) {
		config_env_release(e);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

/* ---------------------------------------------------------------- pipeline */

static void step_release(struct cfg_step *s)
{
	free(s->plugin);
	free(s->phase);
	for (size_t i = 0; i < s->nopts; i++) {
		free(s->opts[i].key);
		free(s->opts[i].value);
	}
	free(s->opts);
}

void config_pipeline_release(struct cfg_pipeline *pl)
{
	free(pl->name);
	free(pl->file);
	for (size_t i = 0; i < pl->nsteps; i++)
		step_release(&pl->steps[i]);
	free(pl->steps);
	free(pl->on_failure);
	for (size_t i = 0; i < pl->nstages; i++) {
		free(pl->stages[i].name);
		strv_free(pl->stages[i].targets, pl->stages[i].ntargets);
	}
	free(pl->stages);
	free(pl->signers);
	memset(pl, 0, sizeof *pl);
}

static const char *const pipeline_keys[] = { "steps", "on_failure", "approvals", "stages", NULL };
static const char *const approvals_keys[] = { "required", "signers", NULL };
static const char *const stage_keys[] = { "name", "targets", "approval", NULL };
static const char *const failure_modes[] = { "rollback", "stop", NULL };

static int step_parse(struct yfile *f, const yaml_node_t *item, struct cfg_step *s)
{
	s->line = (int)item->start_mark.line + 1;
	s->col = (int)item->start_mark.column + 1;
	const yaml_node_t *namenode = item, *val = NULL;
	if (item->type == YAML_MAPPING_NODE) {
		size_t n = (size_t)(item->data.mapping.pairs.top - item->data.mapping.pairs.start);
		if (n != 1) {
			yerr(f, item, "a step with options is a mapping of one key, found %zu keys", n);
			return fail_hint("write `- PLUGIN`, `- PLUGIN: PHASE` or `- PLUGIN: {OPTION: VALUE, ...}`");
		}
		namenode = ynode(f, item->data.mapping.pairs.start[0].key);
		val = ynode(f, item->data.mapping.pairs.start[0].value);
	} else if (item->type != YAML_SCALAR_NODE || is_null(item)) {
		yerr(f, item, "expected a step (a plugin name or a one-key mapping), found %s", kind(item));
		return fail_hint("write `- PLUGIN`, `- PLUGIN: PHASE` or `- PLUGIN: {OPTION: VALUE, ...}`");
	}
	if (get_str(f, namenode, "a step's plugin name", &s->plugin))
		return -1;
	if (!name_ok(s->plugin, 1)) {
		yerr(f, namenode, "invalid plugin name \"%s\"", show(s->plugin));
		return fail_hint("%s", name_hint);
	}
	if (!val)
		return 0;
	if (val->type == YAML_SCALAR_NODE) {
		const char *v = NULL;
		if (scalar(f, val, "the step's phase", &v))
			return -1;
		s->phase = xstrdup(v);
		return 0;
	}
	char *where = xstrfmt("the options of step \"%s\"", s->plugin);
	int rc = map_check(f, val, where, "option", NULL);
	free(where);
	if (rc)
		return -1;
	size_t n = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	s->opts = n ? xcalloc(n, sizeof *s->opts) : NULL;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k = ynode(f, val->data.mapping.pairs.start[i].key);
		yaml_node_t *v = ynode(f, val->data.mapping.pairs.start[i].value);
		const char *key = (const char *)k->data.scalar.value, *value;
		char *what = xstrfmt("option \"%s\" of step \"%s\"", show(key), s->plugin);
		rc = v->type == YAML_SCALAR_NODE && !is_null(v) ? scalar(f, v, what, &value)
								 : yerr(f, v, "expected a scalar for %s, found %s", what,
									kind(v));
		free(what);
		if (rc)
			return -1;
		if (!strcmp(key, "phase")) {
			s->phase = xstrdup(value);
			continue;
		}
		struct cfg_option *o = &s->opts[s->nopts++];
		o->key = xstrdup(key);
		o->value = xstrdup(value);
		o->line = (int)k->start_mark.line + 1;
		o->col = (int)k->start_mark.column + 1;
	}
	return 0;
}

static int stages_parse(struct yfile *f, const yaml_node_t *list, const struct cfg_env *env,
			struct cfg_pipeline *pl)
{
	if (expect(f, list, YAML_SEQUENCE_NODE, "\"stages\""))
		return -1;
	size_t cnt = seq_len(list);
	if (!cnt) {
		yerr(f, list, "\"stages\" is an empty list");
		return fail_hint("list at least one stage, or remove `stages:` to deploy every target in one stage");
	}
	pl->stages = xcalloc(cnt, sizeof *pl->stages);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *item = ynode(f, list->data.sequence.items.start[i]), *n = NULL, *k = NULL;
		struct cfg_stage *st = &pl->stages[pl->nstages++];
		st->line = (int)item->start_mark.line + 1;
		if (map_check(f, item, "a stage", "key", stage_keys))
			return -1;
		if (!(n = map_get(f, item, "name", NULL))) {
			yerr(f, item, "missing key \"name\" in a stage");
			return fail_hint("give every stage a name, e.g. `name: canary`");
		}
		if (get_str(f, n, "the stage's \"name\"", &st->name))
			return -1;
		if (!name_ok(st->name, 1)) {
			yerr(f, n, "invalid stage name \"%s\"", show(st->name));
			return fail_hint("%s", name_hint);
		}
		for (size_t j = 0; j + 1 < pl->nstages; j++) {
			if (!strcmp(pl->stages[j].name, st->name)) {
				yerr(f, n, "duplicate stage \"%s\" (also at line %d)", st->name, pl->stages[j].line);
				return fail_hint("give each stage its own name");
			}
		}
		if (!(n = map_get(f, item, "targets", &k))) {
			yerr(f, item, "missing key \"targets\" in stage \"%s\"", st->name);
			return fail_hint("list the env's targets this stage deploys: `targets: [NAME, ...]`");
		}
		char *what = xstrfmt("the targets of stage \"%s\"", st->name);
		int rc = get_names(f, n, what, check_name, "target name", name_hint, &st->targets, &st->ntargets);
		free(what);
		if (rc)
			return -1;
		if (!st->ntargets) {
			yerr(f, n, "stage \"%s\" has no targets", st->name);
			return fail_hint("list at least one target, or remove the stage");
		}
		for (size_t t = 0; t < st->ntargets; t++) {
			yaml_node_t *tn = ynode(f, n->data.sequence.items.start[t]);
			for (size_t j = 0; j + 1 < pl->nstages; j++) {
				for (size_t u = 0; u < pl->stages[j].ntargets; u++) {
					if (strcmp(pl->stages[j].targets[u], st->targets[t]))
						continue;
					yerr(f, tn, "target \"%s\" is in stage \"%s\" and in stage \"%s\"",
					     st->targets[t], pl->stages[j].name, st->name);
					return fail_hint("deploy each target in one stage only");
				}
			}
			if (env && !config_env_target(env, st->targets[t])) {
				yerr(f, tn, "stage \"%s\" names target \"%s\", which env \"%s\" does not have", st->name,
				     st->targets[t], env->name);
				char **names = xcalloc(env->ntargets ? env->ntargets : 1, sizeof *names);
				for (size_t j = 0; j < env->ntargets; j++)
					names[j] = env->targets[j].name;
				hint_list("the targets of the env are: ", (const char *const *)names, env->ntargets,
					  "the env has no targets");
				free(names);
				return -1;
			}
		}
		if ((n = map_get(f, item, "approval", NULL)) && get_bool(f, n, "\"approval\"", &st->approval))
			return -1;
	}
	if (env) {
		/* a target left out of every stage would silently never be deployed */
		for (size_t i = 0; i < env->ntargets; i++) {
			int found = 0;
			for (size_t j = 0; j < pl->nstages && !found; j++)
				for (size_t u = 0; u < pl->stages[j].ntargets && !found; u++)
					found = !strcmp(pl->stages[j].targets[u], env->targets[i].name);
			if (!found) {
				yerr(f, list, "target \"%s\" of env \"%s\" is in no stage", env->targets[i].name,
				     env->name);
				return fail_hint("add it to one of the stages");
			}
		}
	}
	return 0;
}

static int pipeline_parse(struct yfile *f, const struct cfg_project *p, const struct cfg_env *env,
			  struct cfg_pipeline *pl)
{
	yaml_node_t *root = yaml_document_get_root_node(&f->doc), *n;
	char *where = xstrfmt("pipeline \"%s\"", pl->name);
	int rc = map_check(f, root, where, "key", pipeline_keys);
	free(where);
	if (rc)
		return -1;
	if (!(n = map_get(f, root, "steps", NULL))) {
		yerr(f, root, "missing key \"steps\" in pipeline \"%s\"", pl->name);
		return fail_hint("list the steps to run, e.g. `steps: [{validate: preflight}, backup, migrate]`");
	}
	if (expect(f, n, YAML_SEQUENCE_NODE, "\"steps\""))
		return -1;
	size_t cnt = seq_len(n);
	if (!cnt) {
		yerr(f, n, "\"steps\" is an empty list");
		return fail_hint("list at least one step, e.g. `- migrate`");
	}
	pl->steps = xcalloc(cnt, sizeof *pl->steps);
	for (size_t i = 0; i < cnt; i++) {
		pl->nsteps++;
		if (step_parse(f, ynode(f, n->data.sequence.items.start[i]), &pl->steps[i]))
			return -1;
	}
	if ((n = map_get(f, root, "on_failure", NULL))) {
		if (get_enum(f, n, "\"on_failure\"", failure_modes, &pl->on_failure))
			return -1;
	} else {
		pl->on_failure = xstrdup("rollback");
	}
	if ((n = map_get(f, root, "approvals", NULL))) {
		yaml_node_t *v;
		if (map_check(f, n, "\"approvals\"", "key", approvals_keys))
			return -1;
		if (!(v = map_get(f, n, "required", NULL))) {
			yerr(f, n, "missing key \"required\" in \"approvals\"");
			return fail_hint("say how many distinct approvers a plan needs: `required: 2`");
		}
		if (get_int(f, v, "\"approvals.required\"", 1, 100, &pl->approvals_required))
			return -1;
		if (!(v = map_get(f, n, "signers", NULL))) {
			yerr(f, n, "missing key \"signers\" in \"approvals\"");
			return fail_hint("name the OpenSSH allowed_signers file, relative to the project root");
		}
		if (get_path(f, v, "\"approvals.signers\"", p->root, &pl->signers))
			return -1;
	}
	if ((n = map_get(f, root, "stages", NULL)) && stages_parse(f, n, env, pl))
		return -1;
	return 0;
}

int config_load_pipeline(const struct cfg_project *p, const char *name, const struct cfg_env *env,
			 struct cfg_pipeline *pl)
{
	memset(pl, 0, sizeof *pl);
	if (!name_ok(name, 1)) {
		fail("invalid pipeline name \"%s\"", show(name));
		fail_hint("%s; the pipeline is the file pipelines/NAME.yml", name_hint);
		return fail_status(EXIT_USAGE);
	}
	char *file = xstrfmt("%s/pipelines/%s.yml", p->root, name);
	if (!file_exists(file)) {
		char *dir = path_join(p->root, "pipelines");
		char **known;
		size_t n;
		list_names(dir, ".yml", &known, &n);
		free(dir);
		fail("unknown pipeline \"%s\"", name);
		fail_detail("no file \"%s\"", file);
		hint_list("known pipelines: ", (const char *const *)known, n,
			  "this project has no pipelines yet: create pipelines/NAME.yml");
		strv_free(known, n);
		free(file);
		return fail_status(EXIT_USAGE);
	}
	pl->name = xstrdup(name);
	pl->file = file;
	struct yfile f;
	int rc = yfile_load(&f, file, "steps, on_failure, approvals, stages");
	if (!rc)
		rc = pipeline_parse(&f, p, env, pl);
	yfile_release(&f);
	if (rc) {
		config_pipeline_release(pl);
		return fail_status(EXIT_USAGE);
	}
	return 0;
}

/* ---------------------------------------------------------------- meta.yml */

static const char *const meta_keys[] = { "transactional", NULL };

int config_load_meta(const char *path, int *transactional)
{
	struct yfile f;
	int rc = yfile_load(&f, path, "transactional");
	if (!rc) {
		yaml_node_t *root = yaml_document_get_root_node(&f.doc), *n;
		rc = map_check(&f, root, "meta.yml", "key", meta_keys);
		if (!rc && (n = map_get(&f, root, "transactional", NULL)))
			rc = get_bool(&f, n, "\"transactional\"", transactional);
	}
	yfile_release(&f);
	return rc ? fail_status(EXIT_USAGE) : 0;
}

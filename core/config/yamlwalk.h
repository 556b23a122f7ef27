/* yamlwalk: a YAML file loaded with padctl's safety rules and walked against
 * declarative key tables. A table lists a mapping's keys with their type,
 * whether they are required, where the value goes and the help text; the same
 * table drives the parser, the "valid keys" hint of an unknown key, and the
 * key reference in docs/config.md (yw_table_markdown).
 *
 * Loading (yw_load): a regular file of at most YW_MAX_BYTES, lists and
 * mappings nested at most YW_MAX_DEPTH levels (checked on the event stream
 * before libyaml composes the document), one document, a mapping at the top.
 * Aliases are references to the anchored node, never copies, so a "billion
 * laughs" file stays small, and every walk is bounded by its table, so alias
 * cycles cannot loop. Every mapping walked has string keys and no duplicates.
 *
 * Every error is fail()ed with "FILE:LINE:COL: " in front, a hint line where
 * there is something to do, and fail_status(EXIT_USAGE); functions return -1.
 */
#ifndef PADCTL_YAMLWALK_H
#define PADCTL_YAMLWALK_H

#include <stddef.h>
#include <yaml.h>

struct buf;

/* A configuration file is a few kilobytes; anything far larger is a mistake or hostile. */
#define YW_MAX_BYTES (4 * 1024 * 1024)
/* Lists and mappings nest a few levels in any real file. */
#define YW_MAX_DEPTH 64

/* One loaded YAML file. */
struct yw_doc {
	char *path;
	yaml_document_t doc;
	int loaded;
};

struct yw_walk;
struct yw_field;

/* A setter (YW_FN) is called for its key whether or not the mapping has it:
 * val and key are NULL when it does not (so the setter applies a default or
 * says the key is missing). map is the mapping being walked, obj its struct. */
typedef int (*yw_setter)(struct yw_walk *w, const struct yw_field *fl, const yaml_node_t *map, const yaml_node_t *key,
			 const yaml_node_t *val, void *obj);

enum yw_type {
	YW_STRING, /* char * at off: a non-empty string; dflt (if any) when absent */
	YW_REASON, /* char * at off: a reason, a string with more than blanks in it */
	YW_INT, /* int at off: an integer from lo to hi */
	YW_BOOL, /* int at off: true/false, yes/no, on/off */
	YW_ENUM, /* char * at off: one of choices (NULL-terminated); dflt when absent */
	YW_NAMES, /* char ** at off, size_t at off_n: a list of distinct strings that check accepts */
	YW_MAP, /* a mapping walked with sub, into the same struct */
	YW_FN, /* fn does it all (always called, see yw_setter) */
	YW_LATER, /* a valid key that the table's done hook reads */
	YW_SECRET, /* never valid: refused before anything else, without reading the value */
};

struct yw_field {
	const char *key;
	enum yw_type type;
	int required; /* absent: "missing key" error with hint */
	size_t off, off_n; /* offsetof() in the walked struct */
	long lo, hi; /* YW_INT range */
	const char *const *choices; /* YW_ENUM */
	int (*check)(const char *); /* YW_NAMES: which items are valid */
	const char *item; /* YW_NAMES: what an item is, in messages ("schema name") */
	const struct yw_table *sub; /* YW_MAP */
	yw_setter fn; /* YW_FN */
	const char *dflt; /* YW_STRING, YW_ENUM: the value when absent; a YW_FN may use it */
	const char *what; /* the value in messages; NULL: the key in quotes */
	const char *hint; /* missing: what to add; YW_NAMES: what a valid item is; YW_SECRET: what to use */
	/* docs/config.md: */
	const char *doc_type; /* "integer 1-65535", "bool", ... */
	const char *doc_default; /* NULL: "required" when required, else "none" */
	const char *help; /* what the key means; NULL leaves the row out of the docs */
};

struct yw_table {
	const struct yw_field *fields;
	size_t nfields;
	/* done runs after every field, for defaults and checks across keys */
	int (*done)(struct yw_walk *w, const yaml_node_t *map, void *obj);
};

#define YW_TABLE(fields, done) \
	{ \
		fields, sizeof fields / sizeof fields[0], done \
	}

/* A walk: the document and the caller's context (for setters and done hooks). */
struct yw_walk {
	struct yw_doc *doc;
	void *ctx;
};

/* yw_load reads path into d: the rules above. top names the keys the hint of
 * an empty file or a non-mapping top lists. yw_release frees d (also after a
 * failed yw_load). */
int yw_load(struct yw_doc *d, const char *path, const struct yw_table *top);
void yw_release(struct yw_doc *d);
/* yw_root returns the document's top mapping; yw_node the node of an id. */
yaml_node_t *yw_root(struct yw_doc *d);
yaml_node_t *yw_node(struct yw_doc *d, int id);

/* yw_walk_map walks map against t into obj: secrets refused, then string keys,
 * no duplicates and no key outside t (the hint lists t's keys in table order),
 * then each field in table order, then t->done. where names the mapping in
 * messages ("padctl.yml", "target \"qa\""). */
int yw_walk_map(struct yw_walk *w, const yaml_node_t *map, const struct yw_table *t, const char *where, void *obj);

/* yw_table_markdown appends t's documented keys as a markdown table (key,
 * type, default, meaning), keys of a YW_MAP field as "parent.key". */
void yw_table_markdown(const struct yw_table *t, struct buf *out);

/* ---- pieces for setters and for lists and mappings that have no fixed keys */

/* yw_err fails with n's position (1:1 when n is NULL); returns -1. */
int yw_err(struct yw_doc *d, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* yw_show returns s made safe for a message (control bytes escaped, long
 * values cut), in one of four rotating static buffers. */
const char *yw_show(const char *s);
/* yw_hint_list adds the hint "prefix a, b, c", or none_text when n is 0; returns -1. */
int yw_hint_list(const char *prefix, const char *const *items, size_t n, const char *none_text);
/* yw_is_null: an empty plain scalar, ~ or null. yw_kind names n's type for messages. */
int yw_is_null(const yaml_node_t *n);
const char *yw_kind(const yaml_node_t *n);
size_t yw_seq_len(const yaml_node_t *n);
/* yw_expect checks n's type (a null is no scalar); what names the value. */
int yw_expect(struct yw_doc *d, const yaml_node_t *n, yaml_node_type_t t, const char *what);
/* yw_scalar sets *out to a non-empty scalar's text, borrowed from the document. */
int yw_scalar(struct yw_doc *d, const yaml_node_t *n, const char *what, const char **out);
/* yw_str, yw_int, yw_bool, yw_enum, yw_names read one value; a string
 * replaces (and frees) *out, lists are newly allocated. */
int yw_str(struct yw_doc *d, const yaml_node_t *n, const char *what, char **out);
/* yw_reason is yw_str for a reason: one of only blanks (spaces, tabs,
 * newlines) is refused as an empty one is, since it explains nothing. */
int yw_reason(struct yw_doc *d, const yaml_node_t *n, const char *what, char **out);
int yw_int(struct yw_doc *d, const yaml_node_t *n, const char *what, long lo, long hi, int *out);
int yw_bool(struct yw_doc *d, const yaml_node_t *n, const char *what, int *out);
int yw_enum(struct yw_doc *d, const yaml_node_t *n, const char *what, const char *const *choices, char **out);
int yw_names(struct yw_doc *d, const yaml_node_t *n, const char *what, int (*check)(const char *), const char *item,
	     const char *hint, char ***out, size_t *nout);
/* yw_bool_text reads true/false, yes/no, on/off (any case); -1 for anything else. */
int yw_bool_text(const char *text, int *value);
/* yw_map_check checks a mapping with no fixed keys: string keys, no
 * duplicates (reported at the later one); noun names a key ("target"). */
int yw_map_check(struct yw_doc *d, const yaml_node_t *map, const char *where, const char *noun);
/* yw_map_get returns key's value in a checked mapping (and its key node), or NULL. */
yaml_node_t *yw_map_get(struct yw_doc *d, const yaml_node_t *map, const char *key, yaml_node_t **keynode);

#endif

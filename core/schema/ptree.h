/* ptree: the JSON parse tree libpg_query's pg_query_parse returns, read into
 * one arena in a single pass. jansson builds a hash table per object and
 * allocates every node on its own; lint reads the tree of every pending
 * migration, and for a thousand migrations that was most of its time. The
 * JSON is libpg_query's own output (valid, UTF-8, no duplicate keys), so
 * this reader only needs to be safe on anything, not to report why input is
 * malformed: it returns NULL.
 *
 * A lookup of a missing key, an index past the end, or any accessor given
 * NULL returns NULL / 0 / false, so paths chain without checks (as with
 * jansson). Objects keep their keys in order and are searched linearly:
 * parse-tree nodes have a handful of keys. */
#ifndef PADCTL_PTREE_H
#define PADCTL_PTREE_H

#include <stddef.h>

enum pt_type { PT_NULL, PT_TRUE, PT_FALSE, PT_NUMBER, PT_STRING, PT_ARRAY, PT_OBJECT };

struct pt {
	int type;
	unsigned n; /* members of an array or object */
	const char *s; /* a string's text (NUL-terminated, escapes decoded) */
	long num; /* a number's value (integers: the tree has no others that lint reads) */
	struct pt *items; /* an array's items, an object's values */
	const char **keys; /* an object's keys */
};

struct pt_arena;

/* pt_parse reads text (NUL-terminated; modified in place: strings are
 * decoded into it, so it must outlive the tree) into *arena; NULL when it is
 * not JSON. Free with pt_free, also after NULL. */
struct pt *pt_parse(char *text, struct pt_arena **arena);
void pt_free(struct pt_arena *arena);

/* pt_get returns the value of key in object o; pt_at item i of array a */
struct pt *pt_get(const struct pt *o, const char *key);
struct pt *pt_at(const struct pt *a, size_t i);
size_t pt_len(const struct pt *a); /* an array's items (0 for anything else) */
const char *pt_str(const struct pt *v); /* a string's text, else NULL */
long pt_int(const struct pt *v); /* a number, else 0 */
int pt_true(const struct pt *v);
int pt_is_array(const struct pt *v);
int pt_is_object(const struct pt *v);

#endif

/* catalog: a snapshot of the objects of some schemas, and the difference
 * between two snapshots (drift).
 *
 * A snapshot is a sorted list of objects, each a (kind, name, definition)
 * triple of text: "column" "app.account.note" "text not null default ''",
 * "index" "app.account_note_idx" "CREATE INDEX ...". Names are schema
 * qualified with quote_ident's quoting; definitions are what the server's
 * own pg_get_*def functions and format_type print, with what differs between
 * two equal databases left out (owners, OIDs, the owner's own privileges,
 * sequence positions) and view and function text normalised (white space
 * between tokens, not inside string constants; views also the parentheses
 * of pg_get_viewdef, which differ between server versions). What a
 * snapshot covers: schemas (privileges), tables (kind, persistence,
 * partition key, parents and partition bound), columns (type, collation,
 * nullability, default, identity, generated), indexes (and whether valid),
 * constraints (primary and foreign keys, unique, check, exclusion),
 * sequences, views and materialized views, functions and procedures,
 * triggers (and whether enabled), enum types (values in order), domains,
 * and privileges on schemas, relations, columns and functions.
 *
 * catalog_diff is pure: it compares two sorted snapshots.
 */
#ifndef PADCTL_CATALOG_H
#define PADCTL_CATALOG_H

#include <stddef.h>

#include "buf.h"

struct db;

struct cat_obj {
	char *schema; /* the schema it lives in (unquoted), for filtering */
	char *kind; /* "table", "column", "index", "constraint", ... */
	char *name; /* schema-qualified, quoted as quote_ident does */
	char *def; /* normalised definition ("" when the kind has none) */
};

struct catalog {
	struct cat_obj *v;
	size_t n, alloc;
};

enum cat_change_kind {
	CAT_MISSING = 1, /* expected (replayed) but not on the target */
	CAT_EXTRA = 2, /* on the target but not expected */
	CAT_CHANGED = 3, /* both, with different definitions */
};

/* One difference; the pointers borrow from the two catalogs diffed. */
struct cat_change {
	int change; /* enum cat_change_kind */
	const char *kind;
	const char *name;
	const char *expected; /* NULL for CAT_EXTRA */
	const char *actual; /* NULL for CAT_MISSING */
};

struct cat_diff {
	struct cat_change *v;
	size_t n;
};

/* catalog_snapshot reads the objects of the schemas (n names) on db into c
 * (initialised here); one query, with search_path pinned to pg_catalog
 * for it (every name printed with its schema) and the session's left as
 * it was. */
int catalog_snapshot(struct db *db, char *const *schemas, size_t n, struct catalog *c);

/* catalog_add appends an object (copied), normalising its definition
 * (catalog_normalise); call catalog_sort before using the catalog. */
void catalog_add(struct catalog *c, const char *schema, const char *kind, const char *name, const char *def);
/* catalog_sort sorts by kind, then name, and drops objects listed twice with the same definition. */
void catalog_sort(struct catalog *c);
/* catalog_find returns the object of that kind and name, or NULL (c sorted). */
const struct cat_obj *catalog_find(const struct catalog *c, const char *kind, const char *name);
/* catalog_release frees c and leaves it empty. */
void catalog_release(struct catalog *c);

/* catalog_normalise returns def as compared (newly allocated). White space
 * is normalised only between the tokens PostgreSQL's scanner cuts the text
 * into (sql_scan): a run becomes one space; inside a string constant or a
 * quoted name it is data and is kept ('a  b' is not 'a b'). For views and
 * materialized views, no space after "(" or before ")", a trailing ";" goes,
 * and then, when libpg_query can read it, the text is what it prints back
 * from the parse tree (sql_canonical). For functions and procedures, the
 * header so, and a dollar-quoted body of LANGUAGE sql or plpgsql (both lexed
 * by that scanner) the same way inside: its layout is not drift, its string
 * constants and quoted names are; a body in another language (plpython,
 * where white space is code) is kept as it is. Text the scanner refuses is
 * kept as it is. Other kinds are copied unchanged. */
char *catalog_normalise(const char *kind, const char *def);

/* catalog_diff compares expected with actual (both sorted) into d: missing,
 * extra and changed objects, sorted by kind and name. only (NULL: every
 * object) limits the comparison to the objects only holds, by kind and name
 * (a baselined target compares what came after its baseline). */
void catalog_diff(const struct catalog *expected, const struct catalog *actual, const struct catalog *only,
		  struct cat_diff *d);
/* catalog_changed lists, as a catalog of kind and name (definitions empty),
 * the objects that differ between a and b (sorted): what some migrations
 * created, changed or dropped. */
void catalog_changed(const struct catalog *a, const struct catalog *b, struct catalog *out);
void cat_diff_release(struct cat_diff *d);

/* cat_change_name returns "missing", "extra" or "changed". */
const char *cat_change_name(int change);

/* catalog_serialise appends c as text, one object a line: schema, kind,
 * name and definition separated by tabs, with tab, newline and backslash
 * escaped as \t \n \\. catalog_parse reads that back (initialising c); a
 * malformed text fails naming origin and its line. Definitions are read as
 * they are (they were normalised when the catalog was made). */
void catalog_serialise(const struct catalog *c, struct buf *out);
int catalog_parse(const char *text, size_t len, const char *origin, struct catalog *c);

#endif

/* backfill: a data migration's file, backfills/<name>.yml, loaded with the
 * YAML walker into a validated struct (docs/backfill.md has the format).
 * Every error names file:line:col and is a config error (exit status 2).
 * A backfill names its source table and integer key, the tables it writes
 * (each in a schema the project owns), the SQL that transforms one batch of
 * source keys, optional pre-checks, the batch size, a statement timeout per
 * batch and an optional pause between batches. All strings are owned by the
 * struct. */
#ifndef PADCTL_BACKFILL_H
#define PADCTL_BACKFILL_H

#include <stddef.h>

#include "config.h"

/* a pre-check: a query given the batch's keys as $1 (bigint[]) that returns
 * (source_id, reason) for every key the batch must not transform */
struct cfg_backfill_check {
	char *name;
	char *sql;
	int line; /* of the check's `sql:` value */
};

struct cfg_backfill {
	char *name; /* the file's base name */
	char *file; /* absolute path */
	char *description; /* NULL when none */
	char *source_table; /* schema.table */
	char *source_key; /* an integer column */
	char **targets; /* schema.table, each in schemas.owned */
	size_t ntargets;
	char *sql; /* $1 bigint[] -> source_id, target_table, target_id */
	int sql_line;
	struct cfg_backfill_check *checks;
	size_t nchecks;
	int batch_size; /* default 1000 */
	int statement_timeout; /* seconds per batch statement; 0: none; default 60 */
	int pause_ms; /* between batches; default 0 */
};

#define BACKFILL_BATCH_MAX 100000

/* config_load_backfill reads p's backfills_dir/<name>.yml; an unknown name
 * lists the known ones. Release with config_backfill_release. */
int config_load_backfill(const struct cfg_project *p, const char *name, struct cfg_backfill *b);
/* config_parse_backfill reads the file at path as backfill `name`, checking
 * targets against the owned schemas owned[0..nowned) (the fuzz target's way in). */
int config_parse_backfill(const char *path, const char *name, char *const *owned, size_t nowned,
			  struct cfg_backfill *b);
void config_backfill_release(struct cfg_backfill *b);
/* config_backfill_keys is the key table the loader walks (docs/config.md shows it). */
struct yw_table;
extern const struct yw_table config_backfill_keys;
/* backfill_qualified_ok accepts schema.table of two unquoted SQL identifiers. */
int backfill_qualified_ok(const char *s);

#endif

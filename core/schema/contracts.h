/* contracts: what the application relies on in a schema, above all in one it
 * does not own, read from `<paths.contracts>/<schema>.yml` and checked
 * against a target's catalog (docs/contracts.md):
 *
 *   tables:
 *     oracle_employee:
 *       columns:
 *         id: bigint                                  # type only
 *         user_name: {type: varchar(64), nullable: false}
 *         manager_id:                                 # exists, any type
 *   absent: [oracle_employee.email, v3_*]             # must not exist
 *
 * The file's name is the schema. Type names are compared normalised
 * (int4 = integer, varchar(64) = character varying(64), timestamptz =
 * timestamp with time zone, ...) against the server's format_type(). Every
 * problem of the file is an error at its file:line:col (the shared YAML
 * walker, yamlwalk.h); every finding of a check carries the line too. */
#ifndef PADCTL_CONTRACTS_H
#define PADCTL_CONTRACTS_H

#include <stddef.h>

struct db;

struct contract_column {
	char *name;
	char *type; /* normalised (contract_type_normalise); NULL: any type */
	int nullable; /* -1: not said; 0: NOT NULL; 1: nullable */
	int line, col; /* of the column's key */
	int type_line, type_col; /* of the type (or the key when there is none) */
};

struct contract_table {
	char *name;
	struct contract_column *cols;
	size_t ncols;
	int line, col;
};

struct contract_absent {
	char *table; /* a name or a glob (fnmatch: * ? [...]) */
	char *column; /* NULL: the table itself must not exist */
	int line, col;
};

struct contract {
	char *path; /* as given to contract_load */
	char *schema; /* the file's name without .yml */
	struct contract_table *tables;
	size_t ntables;
	struct contract_absent *absent;
	size_t nabsent;
};

/* contract_load reads one contract file (the schema is its base name without
 * .yml, an SQL identifier); on error c holds nothing. contract_release frees. */
int contract_load(const char *path, struct contract *c);
void contract_release(struct contract *c);

/* contracts_list finds the *.yml files of dir, sorted (newly allocated paths,
 * free with contracts_list_free); a missing dir is no file. */
int contracts_list(const char *dir, char ***paths, size_t *n);
void contracts_list_free(char **paths, size_t n);

/* contract_type_normalise returns type written as PostgreSQL's format_type()
 * writes it (newly allocated): lowercase, aliases resolved (int4 -> integer,
 * varchar(n) -> character varying(n), timestamptz -> timestamp with time
 * zone, decimal -> numeric, bool -> boolean, float8 -> double precision,
 * ...), blanks normalised, [] kept; NULL when it is not a type name (or
 * longer than 200 bytes, written or normalised). */
char *contract_type_normalise(const char *type);

/* contract_finding_fn receives one finding: the contract's line and column
 * and the text (no file name). */
typedef void (*contract_finding_fn)(void *ctx, const struct contract *c, int line, int col, const char *text);

/* contract_check compares c with the target's catalog on db (two read-only
 * queries) and reports every finding through fn; returns the number of
 * findings, or -1 after fail() when the queries failed. */
int contract_check(struct db *db, const struct contract *c, contract_finding_fn fn, void *ctx);

/* contract_compare is contract_check's comparison, with the catalog given:
 * rows of (table, column or NULL, format_type or NULL, "t"/"f" NOT NULL or
 * NULL), n rows, schema_exists telling whether the schema is there. */
struct contract_catalog_row {
	const char *table, *column, *type, *notnull;
};
int contract_compare(const struct contract *c, int schema_exists, const struct contract_catalog_row *rows, size_t n,
		     contract_finding_fn fn, void *ctx);

#endif

/* lint: the statements of a migration read with PostgreSQL's own parser
 * (libpg_query's raw parse tree: PostgreSQL 15's nodes) and checked against a
 * table of rules. Every statement is parsed once; a finding carries the
 * file:line:column of its statement, the rule's name, its severity, a
 * one-line reason and a hint. Rule names follow Squawk's where one exists.
 *
 * Rules come in groups: protected-schema (always an error, cannot be allowed
 * or lowered), transactions, destructive, locking and style (style is off by
 * default). docs/lint.md describes every rule.
 *
 * Suppression always carries a reason:
 *   - per statement, a comment among the comments right before it:
 *       -- padctl:allow RULE the reason, in words
 *     (several comments allow several rules; a comment without a reason or
 *     naming an unknown rule is itself an error finding, rule "lint-allow");
 *   - per migration, in meta.yml: `lint: {allow: {RULE: "reason"}}`;
 *   - project-wide severities in padctl.yml: `lint: {rules: {RULE: error|warning|off}}`.
 * An allowed finding is still listed, with its reason, and never blocks.
 *
 * Destructive findings are warnings unless the env is prod-tier, where they
 * are errors unless the migration's meta.yml declares `destructive: "reason"`
 * (or allows the rule with a reason): padctl.yml's lint.rules cannot switch
 * them off there.
 *
 * What lint cannot know from the text alone (a function's volatility, a
 * column's current type, the server's version, the role's search_path) it
 * asks a struct lint_catalog for when a target is connected; without one it
 * says what it assumed (struct lint_result.assumed).
 */
#ifndef PADCTL_LINT_H
#define PADCTL_LINT_H

#include <stddef.h>

#include "config.h"

enum lint_severity { LINT_OFF = 0, LINT_WARNING = 1, LINT_ERROR = 2 };

enum lint_group {
	LINT_G_PROTECTED,
	LINT_G_TRANSACTIONS,
	LINT_G_DESTRUCTIVE,
	LINT_G_LOCKING,
	LINT_G_STYLE,
	LINT_G_LINT
};

/* One rule, as the rule table lists it. */
struct lint_rule_info {
	const char *name;
	int group; /* enum lint_group */
	int severity; /* the default, enum lint_severity */
	const char *what; /* one line: what the rule reports (docs and `--json`) */
};

/* lint_rule_count and lint_rule_at walk the rule table; lint_rule_find
 * returns the rule of that name, or NULL. */
size_t lint_rule_count(void);
const struct lint_rule_info *lint_rule_at(size_t i);
const struct lint_rule_info *lint_rule_find(const char *name);
/* lint_severity_name: "error", "warning", "off"; lint_group_name: "protected", "transactions", ... */
const char *lint_severity_name(int severity);
const char *lint_group_name(int group);

struct lint_finding {
	const char *file; /* borrowed from the caller of lint_sql */
	int line, col; /* 1-based, of the statement (or of the allow comment) */
	const char *rule; /* static: the rule table's name */
	int group;
	int severity; /* after padctl.yml, the tier and the declarations */
	char *reason;
	char *hint;
	char *allowed; /* non-NULL: allowed, with this reason (never blocks) */
};

struct lint_result {
	struct lint_finding *v;
	size_t n, cap;
	size_t errors, warnings; /* not counting allowed ones */
	char *assumed; /* what lint assumed for lack of a connected target ("" when nothing), owned */
};

/* What only a connected target knows. Each function may be NULL. */
struct lint_catalog {
	void *arg;
	int server_version; /* PQserverVersion(); 0: unknown */
	const char *search_path; /* the role's effective search_path as SHOW prints it; NULL: unknown */
	const char *user; /* the role ("$user" in search_path); NULL: unknown */
	/* volatility: 'i', 's' or 'v' of the function (schema NULL: by search_path), 0 unknown */
	int (*volatility)(void *arg, const char *schema, const char *name);
	/* column_type: the column's type name (pg_type.typname, e.g. "varchar") and
	 * typmod (pg_attribute.atttypmod); returns 0, or -1 when unknown */
	int (*column_type)(void *arg, const char *schema, const char *table, const char *column, char *type,
			   size_t typelen, int *typmod);
	/* has_notnull_check: 1 when the table has a validated CHECK (col IS NOT NULL), 0 not, -1 unknown */
	int (*has_notnull_check)(void *arg, const char *schema, const char *table, const char *column);
	/* relation: the relation's kind (pg_class.relkind: 'r', 'p', ...), and in
	 * nsp (nsplen bytes) the schema that holds it (schema NULL: found through
	 * the session's search_path); 0 when it is not there or unknown */
	int (*relation)(void *arg, const char *schema, const char *name, char *nsp, size_t nsplen);
};

/* How to lint: the project's protected schemas and severities, the env's
 * tier, the migration's declarations. */
struct lint_opts {
	const struct cfg_project *p; /* protected schemas, lint.rules; may be NULL (no protected schemas) */
	int prod; /* prod-tier env: undeclared destructive findings are errors */
	int transactional; /* the migration runs in one transaction */
	const char *destructive; /* meta.yml `destructive:` reason, or NULL */
	const char *meta_file; /* the meta.yml, for errors in allow */
	const struct cfg_lint_allow *allow; /* meta.yml `lint.allow`, nallow entries */
	size_t nallow;
	int only_protected; /* run the protected-schema rule alone (seed files) */
	const struct lint_catalog *cat; /* NULL: not connected */
};

/* lint_sql checks text (len bytes, NUL-terminated: a migration's up.sql,
 * named file in findings) and appends its findings to r (zero it first; free
 * with lint_result_release). Each statement the parser rejects gives a
 * warning (rule "syntax") and the other statements are still checked.
 * Returns 0; -1 only when opts are invalid (an
 * unknown rule in meta.yml's lint.allow, an allow of protected-schema), with
 * the error fail()ed naming the meta.yml line. */
int lint_sql(const char *file, const char *text, size_t len, const struct lint_opts *o, struct lint_result *r);
/* lint_opts_check is the check of o that lint_sql makes first: 0, or -1
 * after fail() as there. Once it passed, lint_sql of the same o returns 0
 * and touches no shared state but o->cat's lookups: several threads may
 * lint at once when the catalog's lookups serialise themselves. */
int lint_opts_check(const struct lint_opts *o);

/* lint_protected_sql is lint_sql with the protected-schema rule alone, for
 * SQL that is not a migration (seed files): every statement runs in one
 * transaction, nothing is allowed. A seed plugin reaches it through the
 * host once that is wired; the host calls it with the project's config. */
int lint_protected_sql(const char *file, const char *text, size_t len, const struct cfg_project *p,
		       const struct lint_catalog *cat, struct lint_result *r);

/* lint_config_check checks padctl.yml's lint.rules against the rule table
 * (names known, protected-schema not lowered); fails naming padctl.yml:line:col. */
int lint_config_check(const struct cfg_project *p);

/* lint_result_release frees r's findings and leaves it empty. */
void lint_result_release(struct lint_result *r);

/* lint_finding_line appends "FILE:LINE:COL: SEVERITY RULE: REASON" (escaped,
 * one line) to out; with_hint adds " (hint: ...)". */
struct buf;
void lint_finding_line(const struct lint_finding *f, struct buf *out, int with_hint);

#endif

/* migrations: the migration files of a project and their state on a target.
 *
 * A migration is a directory migrations/<version>_<name>/ with up.sql
 * (required, non-empty), down.sql, verify.sql and an optional meta.yml
 * (`transactional: false`). Versions are digit strings compared by numeric
 * value, so "0017" and "17" are the same version (a duplicate).
 */
#ifndef PADCTL_MIGRATIONS_H
#define PADCTL_MIGRATIONS_H

#include <stddef.h>

#include "config.h"
#include "fs.h" /* read_text_file, which its callers took from here before */

struct migration {
	char *version;
	char *name;
	char *dir;
	char *up_path;
	char *up_sql;
	char *down_path;    /* NULL when missing */
	char *verify_path;  /* NULL when missing */
	char checksum[65];  /* hex SHA-256 of up.sql, line endings normalised */
	char down_sha256[65];   /* the same of down.sql; "" when missing or not loaded (a brief load) */
	char verify_sha256[65]; /* the same of verify.sql */
	int transactional;
	char *meta_path;    /* NULL when there is no meta.yml */
	char *destructive;  /* meta.yml `destructive:` (the reason), or NULL */
	struct cfg_lint_allow *lint_allow; /* meta.yml `lint.allow` */
	size_t nlint_allow;
};

struct migration_set {
	struct migration *v;
	size_t n;
};

/* One row of a target's padctl.migrations history. */
struct history_row {
	char *version;
	char *name;
	char *checksum;
	char *status;       /* applied, skipped, baselined, rolled_back (pending again) */
	char *reason;
	char *applied_at;
	char *applied_by;
	char *run_id;
	double duration_ms;
};

struct history {
	struct history_row *v;
	size_t n;
	int exists;         /* the target has a padctl ledger at all */
};

enum mig_state {
	MIG_APPLIED,        /* in history as applied (checksum matches) */
	MIG_BASELINED,      /* in history as baselined */
	MIG_SKIPPED,        /* in history as skipped */
	MIG_PENDING,        /* to apply */
	MIG_TO_SKIP,        /* the env skips it; deploy records it as skipped */
	MIG_OUT_OF_ORDER,   /* pending but older than the newest applied one */
	MIG_MISMATCH,       /* applied, but up.sql changed since */
};

struct mig_status {
	const struct migration *m;
	const struct history_row *h;   /* NULL when not in history */
	const char *skip_reason;       /* from the env, for MIG_TO_SKIP */
	int state;
};

/* A migration set compared with one target's history. */
struct mig_plan {
	struct mig_status *v;
	size_t n;
	const struct history_row **orphans;  /* in history, no file (applied elsewhere, or deleted) */
	size_t norphans;
	size_t counts[MIG_MISMATCH + 1];
};

/* migrations_load reads every migration directory under dir (a missing dir is
 * an empty set). On error the set is left empty. */
int migrations_load(const char *dir, struct migration_set *set);
struct sumcache;
/* migrations_tick: fn(arg) is called every few migrations while they load */
struct migrations_tick {
	void (*fn)(void *arg);
	void *arg;
};
/* migrations_load_cached is migrations_load taking the checksums of down.sql
 * and verify.sql from the checksum cache at sums_path (sumcache.h; NULL:
 * none) for the files whose stat it recorded, and saving it with those it
 * computes; with tick (may be NULL), calling it every few migrations. Plan
 * uses it. */
int migrations_load_cached(const char *dir, const char *sums_path, const struct migrations_tick *tick,
			   struct migration_set *set);
/* migrations_load_brief reads only what status needs (versions, names, up.sql
 * and its checksum): down_path and verify_path stay NULL, meta.yml is not read.
 * With the checksum cache at sums_path (may be NULL), an up.sql whose stat is
 * the one recorded is not read: its checksum is the recorded one and its
 * up_sql stays NULL (status needs only the checksum); those it reads are
 * added and the cache saved. tick (may be NULL) is
 * called every few migrations, as migrations_load_cached does (status moves
 * its connections on). */
int migrations_load_brief(const char *dir, const char *sums_path, const struct migrations_tick *tick,
			  struct migration_set *set);
/* migrations_load_names reads only the directory names (versions and names):
 * enough to pick the next version. */
int migrations_load_names(const char *dir, struct migration_set *set);
/* sql_is_blank tells whether text holds nothing but white space and comments. */
int sql_is_blank(const char *text, size_t len);
void migrations_release(struct migration_set *set);
/* migrations_find returns the migration of that version (numeric compare) or NULL. */
const struct migration *migrations_find(const struct migration_set *set, const char *version);
/* migration_checksum writes the hex SHA-256 of text with CRLF and CR turned into LF. */
void migration_checksum(const char *text, size_t len, char out[65]);
/* version_cmp compares two digit strings by numeric value. */
int version_cmp(const char *a, const char *b);
/* version_valid tells whether s is a non-empty string of digits. */
int version_valid(const char *s);

/* mig_plan_build compares set with history and the env's skip list. */
void mig_plan_build(const struct migration_set *set, const struct history *h, const struct cfg_env *env,
		    struct mig_plan *plan);
void mig_plan_release(struct mig_plan *plan);
/* mig_state_name returns "applied", "pending", ... for a state. */
const char *mig_state_name(int state);

void history_release(struct history *h);

#endif

/* fuzz_lint: lint (core/schema/lint.c) over any SQL text: the parse tree
 * walk, the rule table, the allow comments, search_path tracking and the
 * identifier scanner. The first byte picks the options (transactional, prod,
 * only protected-schema, a style rule switched on, a fake connected target
 * whose answers depend on the names asked about); the rest is the SQL. It
 * checks that every finding names a rule of the table, lies inside the text
 * (line, column) and carries a reason, and that the counts agree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "lint.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned name_hash(const char *s)
{
	unsigned h = 5381;
	while (s && *s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static int fake_volatility(void *arg, const char *schema, const char *name)
{
	(void)arg;
	static const int v[] = { 'v', 's', 'i', 0 };
	return v[(name_hash(schema) + name_hash(name)) % 4];
}

static int fake_column_type(void *arg, const char *schema, const char *table, const char *column, char *type,
			    size_t typelen, int *typmod)
{
	(void)arg;
	static const char *const names[] = { "varchar", "numeric", "int4", "text", "varbit", "bpchar" };
	static const int mods[] = { 24, (10 << 16) + 6, -1, -1, 12, 9 };
	unsigned k = (name_hash(schema) + name_hash(table) + name_hash(column)) % 7;
	if (k == 6)
		return -1;
	snprintf(type, typelen, "%s", names[k]);
	*typmod = mods[k];
	return 0;
}

static int fake_notnull(void *arg, const char *schema, const char *table, const char *column)
{
	(void)arg;
	return (int)((name_hash(schema) + name_hash(table) + name_hash(column)) % 3) - 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static char *prot[] = { "ref", "bo_airflow" };
	static struct cfg_lint_allow rules[] = { { "prefer-text-field", "warning", 1, 1 },
						 { "prefer-identity", "error", 2, 1 } };
	static struct cfg_lint_allow allow[] = { { "ban-truncate", "fuzzing", 1, 1 } };
	struct cfg_project p;
	memset(&p, 0, sizeof p);
	p.file = "padctl.yml";
	p.protected_schemas = prot;
	p.nprotected = 2;
	static char *owned[] = { "app" };
	p.owned = owned;
	p.nowned = data[0] & 4 ? 0 : 1;
	p.lint_rules = rules;
	p.nlint_rules = data[0] & 8 ? 2 : 0;
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.p = &p;
	o.transactional = data[0] & 1;
	o.prod = (data[0] >> 1) & 1;
	o.only_protected = (data[0] >> 2) & 1;
	o.allow = allow;
	o.nallow = data[0] & 16 ? 1 : 0;
	o.destructive = data[0] & 32 ? "fuzz" : NULL;
	struct lint_catalog cat;
	memset(&cat, 0, sizeof cat);
	cat.server_version = data[0] & 128 ? 100000 : 150000;
	cat.search_path = "app, \"$user\", public";
	cat.user = "ref";
	cat.volatility = fake_volatility;
	cat.column_type = fake_column_type;
	cat.has_notnull_check = fake_notnull;
	o.cat = data[0] & 64 ? &cat : NULL;
	char *sql = xstrndup((const char *)data + 1, size - 1); /* stops at a NUL byte */
	size_t len = strlen(sql);
	int lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += sql[i] == '\n';
	struct lint_result r;
	memset(&r, 0, sizeof r);
	if (lint_sql("up.sql", sql, len, &o, &r))
		abort(); /* the options are valid */
	size_t errors = 0, warnings = 0;
	for (size_t i = 0; i < r.n; i++) {
		const struct lint_finding *f = &r.v[i];
		if (!lint_rule_find(f->rule) || !f->reason || f->line < 1 || f->line > lines || f->col < 1 ||
		    (size_t)f->col > len + 1)
			abort();
		if (o.only_protected && strcmp(f->rule, "protected-schema") != 0 &&
		    strcmp(f->rule, "lint-allow") != 0 && strcmp(f->rule, "syntax") != 0)
			abort();
		if (!strcmp(f->rule, "protected-schema") && (f->allowed || f->severity != LINT_ERROR))
			abort();
		struct buf b = BUF_INIT;
		lint_finding_line(f, &b, 1);
		if (strchr(buf_str(&b), '\n'))
			abort(); /* one line, whatever the SQL held */
		buf_release(&b);
		if (!f->allowed && f->severity == LINT_ERROR)
			errors++;
		else if (!f->allowed && f->severity == LINT_WARNING)
			warnings++;
	}
	if (errors != r.errors || warnings != r.warnings)
		abort();
	lint_result_release(&r);
	err_clear();
	free(sql);
	return 0;
}

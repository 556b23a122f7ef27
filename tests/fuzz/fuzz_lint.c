/* fuzz_lint: lint (core/schema/lint.c) over any SQL text: the parse tree
 * walk, the rule table, the allow comments, search_path tracking and the
 * identifier scanner, and the configuration it is given. The first byte picks
 * the options (transactional, prod, only protected-schema, meta.yml's
 * destructive:, a fake connected target whose answers depend on the names
 * asked about); the second how many padctl.yml lint.rules entries (its low
 * two bits) and meta.yml lint.allow entries (the next two) follow, two bytes
 * a rule (a rule of the table or an unknown name, then error, warning or
 * off) and one an allow; the rest is the SQL. It checks that
 * lint_config_check and lint_opts_check refuse exactly the entries the docs
 * say they do (unknown rules; protected-schema or lint-allow other than
 * error; an allow of protected-schema, lint-allow or syntax) and that
 * lint_sql refuses what lint_opts_check refuses; that every finding names a
 * rule of the table, lies inside the text (line, column), carries a reason
 * and has the severity lint.rules and prod give its rule, is allowed when
 * meta.yml allows its rule or declares a destructive one destructive, and is
 * never of a rule switched off; and that the counts agree. */
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

/* rule_name is the rule of the table at k, or an unknown name past its end */
static const char *rule_name(unsigned k)
{
	size_t n = lint_rule_count();
	return k % (n + 1) < n ? lint_rule_at(k % (n + 1))->name : "no-such-rule";
}

/* expected_severity is what lint.rules (the last entry of the rule wins) and
 * prod make of ri's default */
static int expected_severity(const struct cfg_project *p, int prod, const struct lint_rule_info *ri)
{
	int sev = ri->severity;
	for (size_t i = 0; i < p->nlint_rules; i++)
		if (!strcmp(p->lint_rules[i].rule, ri->name))
			sev = !strcmp(p->lint_rules[i].value, "error")	    ? LINT_ERROR
			      : !strcmp(p->lint_rules[i].value, "warning") ? LINT_WARNING
									    : LINT_OFF;
	if (ri->group == LINT_G_PROTECTED || (ri->group == LINT_G_DESTRUCTIVE && prod))
		sev = LINT_ERROR;
	return sev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const char *const sevs[] = { "error", "warning", "off", "error" };
	size_t nrules = data[1] & 3, nallow = (data[1] >> 2) & 3, head = 2 + 2 * nrules + nallow;
	if (size < head)
		return 0;
	static char *prot[] = { "ref", "bo_airflow" };
	struct cfg_lint_allow rules[3], allow[3];
	int config_ok = 1, opts_ok = 1;
	for (size_t i = 0; i < nrules; i++) {
		rules[i] = (struct cfg_lint_allow){ (char *)rule_name(data[2 + 2 * i]),
						    (char *)sevs[data[3 + 2 * i] & 3], 1, (int)i + 1 };
		const struct lint_rule_info *ri = lint_rule_find(rules[i].rule);
		if (!ri || ((ri->group == LINT_G_PROTECTED || !strcmp(ri->name, "lint-allow")) &&
			    strcmp(rules[i].value, "error") != 0))
			config_ok = 0;
	}
	for (size_t i = 0; i < nallow; i++) {
		allow[i] = (struct cfg_lint_allow){ (char *)rule_name(data[2 + 2 * nrules + i]), "fuzzing", 2,
						    (int)i + 1 };
		const struct lint_rule_info *ri = lint_rule_find(allow[i].rule);
		if (!ri || ri->group == LINT_G_PROTECTED || !strcmp(ri->name, "lint-allow") ||
		    !strcmp(ri->name, "syntax"))
			opts_ok = 0;
	}
	struct cfg_project p;
	memset(&p, 0, sizeof p);
	p.file = "padctl.yml";
	p.protected_schemas = prot;
	p.nprotected = 2;
	static char *owned[] = { "app" };
	p.owned = owned;
	p.nowned = data[0] & 4 ? 0 : 1;
	p.lint_rules = rules;
	p.nlint_rules = nrules;
	if ((lint_config_check(&p) == 0) != config_ok || (config_ok == !!err_pending()))
		abort();
	if (!config_ok) {
		/* the config loader stops here: nothing is linted */
		err_clear();
		return 0;
	}
	struct lint_opts o;
	memset(&o, 0, sizeof o);
	o.p = &p;
	o.transactional = data[0] & 1;
	o.prod = (data[0] >> 1) & 1;
	o.only_protected = (data[0] >> 2) & 1;
	o.meta_file = "meta.yml";
	o.allow = allow;
	o.nallow = nallow;
	o.destructive = data[0] & 32 ? "fuzz" : NULL;
	if ((lint_opts_check(&o) == 0) != opts_ok || (opts_ok == !!err_pending()))
		abort();
	err_clear();
	struct lint_catalog cat;
	memset(&cat, 0, sizeof cat);
	cat.server_version = data[0] & 128 ? 100000 : 150000;
	cat.search_path = "app, \"$user\", public";
	cat.user = "ref";
	cat.volatility = fake_volatility;
	cat.column_type = fake_column_type;
	cat.has_notnull_check = fake_notnull;
	o.cat = data[0] & 64 ? &cat : NULL;
	char *sql = xstrndup((const char *)data + head, size - head); /* stops at a NUL byte */
	size_t len = strlen(sql);
	int lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += sql[i] == '\n';
	struct lint_result r;
	memset(&r, 0, sizeof r);
	if ((lint_sql("up.sql", sql, len, &o, &r) == 0) != opts_ok)
		abort(); /* lint_sql refuses what lint_opts_check refuses, and only that */
	if (!opts_ok) {
		if (r.n || !err_pending())
			abort();
		err_clear();
		free(sql);
		return 0;
	}
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
		const struct lint_rule_info *ri = lint_rule_find(f->rule);
		if (f->severity != expected_severity(&p, o.prod, ri))
			abort(); /* lint.rules and prod decide it; off is never reported */
		for (size_t k = 0; k < nallow; k++)
			if (!strcmp(allow[k].rule, f->rule) && !f->allowed)
				abort();
		if (ri->group == LINT_G_DESTRUCTIVE && o.destructive && !f->allowed)
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

/* Unit tests of the plugin loader (core/engine/plugin.c) with the deliberately broken
 * plugins of tests/plugins/, and of a good plugin run through the fake host. */
#include "unit.h"
#include "fakehost.h"
#include "buf.h"
#include "log.h"
#include "plugin.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *test_plugin(const char *name)
{
	const char *dir = getenv("PADCTL_TEST_PLUGIN_DIR");
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	return xstrfmt("%s/%s/%s.so", dir, name, name);
}

/* expect_refused loads one test plugin into a fresh registry and checks it was
 * refused with a reason containing each of the words (NULL-ended). */
static void expect_refused(const char *name, const char *const *words)
{
	struct plugin_registry r = { 0 };
	char *path = test_plugin(name);
	plugin_load_file(&r, path);
	CU_ASSERT_EQUAL(r.nplugins, 0);
	CU_ASSERT_EQUAL_FATAL(r.nrefused, 1);
	CU_ASSERT_STRING_EQUAL(r.refused[0].path, path);
	for (const char *const *w = words; *w; w++) {
		if (!strstr(r.refused[0].reason, *w)) {
			fprintf(stderr, "\n%s: reason \"%s\" lacks \"%s\"\n", name, r.refused[0].reason, *w);
			CU_FAIL("refusal reason lacks an expected word");
		}
	}
	plugin_registry_release(&r);
	CU_ASSERT_EQUAL(r.nrefused, 0);
	CU_ASSERT_PTR_NULL(r.refused);
	free(path);
}

static void test_good_one(void)
{
	struct plugin_registry r = { 0 };
	char *path = test_plugin("good_one");
	plugin_load_file(&r, path);
	CU_ASSERT_EQUAL(r.nrefused, 0);
	CU_ASSERT_EQUAL_FATAL(r.nplugins, 1);
	CU_ASSERT_STRING_EQUAL(r.plugins[0].path, path);
	CU_ASSERT_PTR_NOT_NULL(r.plugins[0].handle);
	const struct plugin_entry *e = plugin_find(&r, "good_one");
	CU_ASSERT_PTR_EQUAL_FATAL(e, &r.plugins[0]);
	CU_ASSERT_STRING_EQUAL(e->desc->version, "1.2.3");
	CU_ASSERT_EQUAL(e->desc->kind, PADCTL_KIND_VALIDATE);
	CU_ASSERT_STRING_EQUAL(plugin_kind_name(e->desc->kind), "validate");
	CU_ASSERT_PTR_NULL(plugin_find(&r, "good_two"));
	CU_ASSERT_FALSE(err_pending());
	plugin_registry_release(&r);
	CU_ASSERT_EQUAL(r.nplugins, 0);
	free(path);
}

static void test_duplicate(void)
{
	struct plugin_registry r = { 0 };
	char *first = test_plugin("good_one");
	char *second = test_plugin("good_dup");
	plugin_load_file(&r, first);
	plugin_load_file(&r, second);
	CU_ASSERT_EQUAL_FATAL(r.nplugins, 1);
	CU_ASSERT_STRING_EQUAL(r.plugins[0].path, first);
	CU_ASSERT_STRING_EQUAL(r.plugins[0].desc->version, "1.2.3");
	CU_ASSERT_EQUAL_FATAL(r.nrefused, 1);
	CU_ASSERT_STRING_EQUAL(r.refused[0].path, second);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "duplicate plugin name \"good_one\""));
	/* names the file that already provided it */
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, first));
	plugin_registry_release(&r);
	free(first);
	free(second);
}

static void test_bad_abi(void)
{
	expect_refused("bad_abi", (const char *const[]){ "built for plugin ABI 999", "this padctl speaks ABI 2",
							 "rebuild", "padctl/plugin.h", NULL });
}

static void test_abi1_refused(void)
{
	/* ABI 2 grew the host table: a plugin built against ABI 1 is rebuilt, not loaded */
	expect_refused("abi1", (const char *const[]){ "built for plugin ABI 1, this padctl speaks ABI 2",
						      "rebuild it against this padctl's padctl/plugin.h", NULL });
}

static void test_host_has(void)
{
	struct padctl_host h;
	struct fakehost fh;
	memset(&fh, 0, sizeof fh);
	fakehost_init(&fh);
	h = fh.host;
	CU_ASSERT_TRUE(PADCTL_HOST_HAS(&h, service));
	CU_ASSERT_TRUE(PADCTL_HOST_HAS(&h, config_list));
	/* a host table of ABI 1's size: the members appended since are absent */
	h.size = (uint32_t)(offsetof(struct padctl_host, lock_timeout_ms) + sizeof h.lock_timeout_ms);
	CU_ASSERT_TRUE(PADCTL_HOST_HAS(&h, lock_timeout_ms));
	CU_ASSERT_FALSE(PADCTL_HOST_HAS(&h, config_list));
	CU_ASSERT_FALSE(PADCTL_HOST_HAS(&h, service));
	/* present in size but not set */
	h.size = sizeof h;
	h.service = NULL;
	CU_ASSERT_FALSE(PADCTL_HOST_HAS(&h, service));
	fakehost_release(&fh);
}

static void test_fakehost_config_list(void)
{
	struct fakehost fh;
	memset(&fh, 0, sizeof fh);
	fakehost_init(&fh);
	fh.config = (const char *const[]){ "schemas.owned", "app,app2", "schemas.protected", "", NULL };
	size_t n = 9;
	const char *const *v = fh.host.config_list(fakehost_step(&fh), "schemas.owned", &n);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(v[0], "app");
	CU_ASSERT_STRING_EQUAL(v[1], "app2");
	CU_ASSERT_PTR_NULL(v[2]);
	CU_ASSERT_PTR_NOT_NULL(fh.host.config_list(fakehost_step(&fh), "schemas.protected", &n));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(fh.host.config_list(fakehost_step(&fh), "no.such", &n));
	CU_ASSERT_PTR_NULL(fh.host.service(fakehost_step(&fh), "tools", 1));
	CU_ASSERT_EQUAL(fh.nservice, 1);
	fakehost_release(&fh);
}

static void test_check_order_abi_first(void)
{
	/* abi 7 and run == NULL: the ABI is what is reported, nothing about run */
	expect_refused("bad_abi_no_run", (const char *const[]){ "plugin ABI 7", "speaks ABI 2", NULL });
	struct plugin_registry r = { 0 };
	char *path = test_plugin("bad_abi_no_run");
	plugin_load_file(&r, path);
	CU_ASSERT_EQUAL_FATAL(r.nrefused, 1);
	CU_ASSERT_PTR_NULL(strstr(r.refused[0].reason, "run"));
	plugin_registry_release(&r);
	free(path);
}

static void test_no_symbol(void)
{
	expect_refused("no_symbol", (const char *const[]){ "does not export", "padctl_plugin_entry",
							   "PADCTL_EXPORT", NULL });
}

static void test_null_entry(void)
{
	expect_refused("null_entry", (const char *const[]){ "padctl_plugin_entry() returned NULL", NULL });
}

static void test_no_run(void)
{
	expect_refused("no_run", (const char *const[]){ "\"no_run\"", "no run function", NULL });
}

static void test_bad_kind(void)
{
	expect_refused("bad_kind", (const char *const[]){ "unknown kind 99", "backup", "backfill", NULL });
}

static void test_small_size(void)
{
	char want[64];
	snprintf(want, sizeof want, "the %zu bytes",
		 offsetof(struct padctl_plugin, close) + sizeof(void *));
	expect_refused("small_size", (const char *const[]){ "descriptor size 8", want, "sizeof(struct padctl_plugin)",
							    NULL });
}

static void test_bad_name(void)
{
	expect_refused("bad_name", (const char *const[]){ "invalid plugin name \"Bad Name!\"", "[a-z0-9_-]", NULL });
}

static void test_nonexistent_file(void)
{
	struct plugin_registry r = { 0 };
	char *dir = unit_tmpdir();
	char *path = xstrfmt("%s/missing.so", dir);
	plugin_load_file(&r, path);
	CU_ASSERT_EQUAL(r.nplugins, 0);
	CU_ASSERT_EQUAL_FATAL(r.nrefused, 1);
	CU_ASSERT_STRING_EQUAL(r.refused[0].path, path);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "cannot be loaded"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "No such file"));
	plugin_registry_release(&r);
	unit_rmrf(dir);
	free(path);
	free(dir);
}

static void test_not_elf(void)
{
	struct plugin_registry r = { 0 };
	char *dir = unit_tmpdir();
	unit_write(dir, "garbage.so", "this is not an ELF file, just some text long enough to have a header\n");
	char *path = xstrfmt("%s/garbage.so", dir);
	plugin_load_file(&r, path);
	CU_ASSERT_EQUAL(r.nplugins, 0);
	CU_ASSERT_EQUAL_FATAL(r.nrefused, 1);
	CU_ASSERT_STRING_EQUAL(r.refused[0].path, path);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "cannot be loaded"));
	/* dlerror's text names the file and the problem */
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "garbage.so"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "ELF"));
	plugin_registry_release(&r);
	unit_rmrf(dir);
	free(path);
	free(dir);
}

static void link_plugin(const char *dir, const char *as, const char *name)
{
	char *target = test_plugin(name);
	char *link = xstrfmt("%s/%s", dir, as);
	CU_ASSERT_EQUAL_FATAL(symlink(target, link), 0);
	free(target);
	free(link);
}

static void test_load_dirs_sorted(void)
{
	/* Readdir order is arbitrary; the file name order decides which of two
	 * plugins named good_one wins: a.so (good_dup) before b.so (good_one). */
	char *dir = unit_tmpdir();
	link_plugin(dir, "b.so", "good_one");
	link_plugin(dir, "a.so", "good_dup");
	link_plugin(dir, "c.so", "bad_kind");
	link_plugin(dir, "c.so.bak", "bad_abi");
	link_plugin(dir, ".hidden.so", "bad_abi");
	unit_write(dir, "README", "not a plugin\n");
	unit_write(dir, "sub.so/x", "a folder named like a plugin\n");
	char *missing = xstrfmt("%s/does-not-exist", dir);
	const char *dirs[] = { missing, dir, dir };

	struct plugin_registry r = { 0 };
	CU_ASSERT_EQUAL(plugin_registry_load_dirs(&r, dirs, 3), 0);
	CU_ASSERT_EQUAL_FATAL(r.nplugins, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.plugins[0].path, "/a.so"));
	CU_ASSERT_STRING_EQUAL(r.plugins[0].desc->version, "9.9.9");
	/* b.so and c.so refused once each: the repeated folder is read once,
	 * the missing one is skipped without a refusal */
	CU_ASSERT_EQUAL_FATAL(r.nrefused, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].path, "/b.so"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "duplicate"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[0].reason, "/a.so"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[1].path, "/c.so"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.refused[1].reason, "unknown kind"));
	plugin_registry_release(&r);
	unit_rmrf(dir);
	free(missing);
	free(dir);
}

static int dir_has_so(const char *dir)
{
	DIR *d = opendir(dir);
	int found = 0;
	struct dirent *de;
	if (!d)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		found = n > 3 && strcmp(de->d_name + n - 3, ".so") == 0;
	}
	closedir(d);
	return found;
}

static void test_real_plugins(void)
{
	const char *dir = getenv("PADCTL_PLUGIN_BUILD_DIR");
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	struct plugin_registry r = { 0 };
	const char *dirs[] = { dir };
	plugin_registry_load_dirs(&r, dirs, 1);
	for (size_t i = 0; i < r.nrefused; i++)
		fprintf(stderr, "\nrefused %s: %s\n", r.refused[i].path, r.refused[i].reason);
	CU_ASSERT_EQUAL(r.nrefused, 0);
	if (dir_has_so(dir))
		CU_ASSERT(r.nplugins > 0);
	for (size_t i = 0; i < r.nplugins; i++) {
		CU_ASSERT_PTR_NOT_NULL(plugin_kind_name(r.plugins[i].desc->kind));
		CU_ASSERT_PTR_NOT_NULL(r.plugins[i].desc->version);
		CU_ASSERT_PTR_NOT_NULL(r.plugins[i].desc->summary);
	}
	plugin_registry_release(&r);
}

static void test_search_path(void)
{
	char **dirs;
	size_t n;
	setenv("PADCTL_PLUGIN_PATH", "a::b:", 1);
	plugin_search_path(&dirs, &n);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	/* first the build tree's or the install's folder, then the variable's */
	CU_ASSERT_EQUAL(dirs[0][0], '/');
	CU_ASSERT_STRING_EQUAL(dirs[1], "a");
	CU_ASSERT_STRING_EQUAL(dirs[2], "b");
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);

	unsetenv("PADCTL_PLUGIN_PATH");
	plugin_search_path(&dirs, &n);
	CU_ASSERT_EQUAL(n, 1);
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

static void test_registry_load_env(void)
{
	/* plugin_registry_load reads $PADCTL_PLUGIN_PATH after the built-in folder */
	char *dir = unit_tmpdir();
	link_plugin(dir, "zz_good.so", "good_one");
	setenv("PADCTL_PLUGIN_PATH", dir, 1);
	struct plugin_registry r = { 0 };
	CU_ASSERT_EQUAL(plugin_registry_load(&r), 0);
	const struct plugin_entry *e = plugin_find(&r, "good_one");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->path, "/zz_good.so"));
	plugin_registry_release(&r);
	unsetenv("PADCTL_PLUGIN_PATH");
	unit_rmrf(dir);
	free(dir);
}

static void test_kind_names(void)
{
	static const struct {
		int kind;
		const char *name;
	} want[] = {
		{ PADCTL_KIND_BACKUP, "backup" },     { PADCTL_KIND_MIGRATE, "migrate" },
		{ PADCTL_KIND_VALIDATE, "validate" }, { PADCTL_KIND_SEED, "seed" },
		{ PADCTL_KIND_ROLLBACK, "rollback" }, { PADCTL_KIND_BACKFILL, "backfill" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		CU_ASSERT_STRING_EQUAL(plugin_kind_name(want[i].kind), want[i].name);
	CU_ASSERT_PTR_NULL(plugin_kind_name(0));
	CU_ASSERT_PTR_NULL(plugin_kind_name(7));
	CU_ASSERT_PTR_NULL(plugin_kind_name(-1));
	CU_ASSERT_EQUAL(plugin_host_abi(), PADCTL_PLUGIN_ABI);
}

static void test_fakehost_run(void)
{
	struct plugin_registry r = { 0 };
	char *path = test_plugin("good_one");
	plugin_load_file(&r, path);
	const struct plugin_entry *e = plugin_find(&r, "good_one");
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	const struct padctl_plugin *p = e->desc;

	static const char *const options[] = { "greeting", "hi", NULL };
	static const char *const config[] = { "project", "padealing", "env.tier", "nonprod", NULL };
	struct fakehost fh = { .env = "dev", .target = "dev-eu", .phase = "preflight", .run_id = "r42",
			       .options = options, .config = config };
	fakehost_init(&fh);
	struct padctl_step *st = fakehost_step(&fh);
	void *state = NULL;

	CU_ASSERT_EQUAL_FATAL(p->open(&fh.host, st, &state), 0);
	CU_ASSERT_PTR_NOT_NULL(state);
	CU_ASSERT_EQUAL(p->check(&fh.host, st, state), 0);
	CU_ASSERT_EQUAL(p->run(&fh.host, st, state), 0);
	p->close(&fh.host, st, state);

	CU_ASSERT_STRING_EQUAL(buf_str(&fh.log),
			       "debug: opened\n"
			       "info: check of \"dev-eu\"\n"
			       "info: hi target \"dev-eu\" of env \"dev\" in project \"padealing\" (phase preflight, run r42)\n"
			       "debug: closed after 1 run(s)\n");
	CU_ASSERT_PTR_NULL(fh.error);
	CU_ASSERT_EQUAL(fh.nprogress, 1);
	CU_ASSERT_EQUAL(fh.progress_done, 1);
	fakehost_release(&fh);

	/* a failing run records the first error and its hint in the host */
	static const char *const failing[] = { "fail", "yes", NULL };
	struct fakehost fh2 = { .options = failing, .dry_run = 1 };
	fakehost_init(&fh2);
	st = fakehost_step(&fh2);
	state = NULL;
	CU_ASSERT_EQUAL_FATAL(p->open(&fh2.host, st, &state), 0);
	CU_ASSERT_EQUAL(p->run(&fh2.host, st, state), -1);
	p->close(&fh2.host, st, state);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&fh2.log), "hello target \"qa\" of env \"qa\" in project \"?\" "
							 "(phase none, run run-1, dry run)"));
	CU_ASSERT_STRING_EQUAL(fh2.error, "good_one failed on purpose on \"qa\"");
	CU_ASSERT_STRING_EQUAL(fh2.hint, "set fail: no");
	fakehost_release(&fh2);

	plugin_registry_release(&r);
	free(path);
}

static void test_fakehost_services(void)
{
	static const struct padctl_migration migs[] = {
		{ .version = "0001", .name = "one", .transactional = 1 },
		{ .version = "0002", .name = "two", .skip_reason = "redundant here" },
	};
	static const char *const files[] = { "/p/migrations/0001_one/verify.sql", "SELECT true", NULL };
	struct fakehost fh = { .migrations = migs, .nmigrations = 2, .files = files };
	fakehost_init(&fh);
	const struct padctl_host *h = &fh.host;
	struct padctl_step *st = fakehost_step(&fh);
	struct padctl_rows *rows = (struct padctl_rows *)1;

	CU_ASSERT_EQUAL(h->abi, PADCTL_PLUGIN_ABI);
	CU_ASSERT_EQUAL(h->size, sizeof(struct padctl_host));
	CU_ASSERT_EQUAL(h->migration_count(st), 2);
	CU_ASSERT_STRING_EQUAL(h->migration_at(st, 1)->name, "two");
	CU_ASSERT_PTR_NULL(h->migration_at(st, 2));
	CU_ASSERT_EQUAL(h->history_record(st, h->migration_at(st, 0), "applied", NULL, 12.0), 0);
	CU_ASSERT_EQUAL(h->history_record(st, h->migration_at(st, 1), "skipped", "redundant here", 0), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&fh.history), "0001 applied - 12\n0002 skipped redundant here 0\n");
	char *text = NULL;
	CU_ASSERT_EQUAL(h->read_file(st, "/p/migrations/0001_one/verify.sql", &text), 0);
	CU_ASSERT_STRING_EQUAL(text, "SELECT true");
	h->free_text(text);
	CU_ASSERT_PTR_NULL(fh.error);
	CU_ASSERT_EQUAL(h->sql_query(st, "SELECT 1", 0, NULL, &rows), -1);
	CU_ASSERT_PTR_NULL(rows);
	CU_ASSERT_EQUAL(h->rows_count(rows), 0);
	h->rows_free(rows);
	CU_ASSERT_EQUAL(h->sql_exec(st, "SELECT 1", NULL), -1);
	CU_ASSERT_EQUAL(h->read_file(st, "/p/missing.sql", &text), -1);
	CU_ASSERT_PTR_NULL(text);
	CU_ASSERT_STRING_EQUAL(fh.error, "no database in the fake host");
	CU_ASSERT_EQUAL(fh.nfail, 3);
	CU_ASSERT_EQUAL(fh.nsql, 2);
	fakehost_release(&fh);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "good plugin is loaded", test_good_one },
		{ "duplicate name: the first one wins", test_duplicate },
		{ "wrong abi", test_bad_abi },
		{ "abi is checked before run", test_check_order_abi_first },
		{ "an ABI 1 plugin is refused", test_abi1_refused },
		{ "PADCTL_HOST_HAS goes by the table's size", test_host_has },
		{ "fake host config_list and service", test_fakehost_config_list },
		{ "missing entry symbol", test_no_symbol },
		{ "entry returns NULL", test_null_entry },
		{ "run is NULL", test_no_run },
		{ "unknown kind", test_bad_kind },
		{ "descriptor too small", test_small_size },
		{ "invalid name", test_bad_name },
		{ "nonexistent file", test_nonexistent_file },
		{ "file is not an ELF object", test_not_elf },
		{ "folders load sorted, once, missing ones skipped", test_load_dirs_sorted },
		{ "the build's plugins are all accepted", test_real_plugins },
		{ "search path", test_search_path },
		{ "registry load reads PADCTL_PLUGIN_PATH", test_registry_load_env },
		{ "kind names", test_kind_names },
		{ "good_one runs through the fake host", test_fakehost_run },
		{ "fake host services", test_fakehost_services },
		{ NULL, NULL },
	};
	return unit_run("plugin", tests);
}

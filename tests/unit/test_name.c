/* name: the rules of each kind of name (base/name.h). */
#include <string.h>

#include "name.h"
#include "unit.h"

static char *repeat(char c, size_t n)
{
	static char s[256];
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_word(void)
{
	CU_ASSERT_TRUE(name_valid(NAME_WORD, "qa"));
	CU_ASSERT_TRUE(name_valid(NAME_WORD, "Prod-EU_2"));
	CU_ASSERT_TRUE(name_valid(NAME_WORD, "2fast"));
	CU_ASSERT_TRUE(name_valid(NAME_WORD, "-"));
	CU_ASSERT_TRUE(name_valid(NAME_WORD, repeat('a', 63)));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, repeat('a', 64)));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, ""));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, NULL));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, "a b"));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, "a/b"));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, "a.b"));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, "a\nb"));
	CU_ASSERT_FALSE(name_valid(NAME_WORD, "\xc3\xa9t\xc3\xa9"));
	CU_ASSERT_EQUAL(name_max(NAME_WORD), 63);
}

static void test_ident(void)
{
	CU_ASSERT_TRUE(name_valid(NAME_IDENT, "app"));
	CU_ASSERT_TRUE(name_valid(NAME_IDENT, "_x9"));
	CU_ASSERT_TRUE(name_valid(NAME_IDENT, "App"));
	CU_ASSERT_FALSE(name_valid(NAME_IDENT, "9app"));
	CU_ASSERT_FALSE(name_valid(NAME_IDENT, "app-x"));
	CU_ASSERT_FALSE(name_valid(NAME_IDENT, "\"app\""));
	CU_ASSERT_TRUE(name_valid(NAME_IDENT, repeat('s', 63)));
	CU_ASSERT_FALSE(name_valid(NAME_IDENT, repeat('s', 64)));
}

static void test_plugin(void)
{
	CU_ASSERT_TRUE(name_valid(NAME_PLUGIN, "migrate"));
	CU_ASSERT_TRUE(name_valid(NAME_PLUGIN, "my-plugin_2"));
	CU_ASSERT_TRUE(name_valid(NAME_PLUGIN, repeat('p', 64)));
	CU_ASSERT_FALSE(name_valid(NAME_PLUGIN, repeat('p', 65)));
	CU_ASSERT_FALSE(name_valid(NAME_PLUGIN, "Bad Name!"));
	CU_ASSERT_FALSE(name_valid(NAME_PLUGIN, "Migrate"));
	CU_ASSERT_FALSE(name_valid(NAME_PLUGIN, ""));
	CU_ASSERT_EQUAL(name_max(NAME_PLUGIN), 64);
}

static void test_project_and_migration(void)
{
	CU_ASSERT_TRUE(name_valid(NAME_PROJECT, "pad_dealing"));
	CU_ASSERT_FALSE(name_valid(NAME_PROJECT, "1pad"));
	CU_ASSERT_FALSE(name_valid(NAME_PROJECT, "Pad"));
	CU_ASSERT_FALSE(name_valid(NAME_PROJECT, "pad-dealing"));
	CU_ASSERT_FALSE(name_valid(NAME_PROJECT, repeat('p', 64)));
	CU_ASSERT_TRUE(name_valid(NAME_MIGRATION, "add_pad_breach_index"));
	CU_ASSERT_TRUE(name_valid(NAME_MIGRATION, "2nd_try"));
	CU_ASSERT_TRUE(name_valid(NAME_MIGRATION, repeat('m', 100)));
	CU_ASSERT_FALSE(name_valid(NAME_MIGRATION, repeat('m', 101)));
	CU_ASSERT_FALSE(name_valid(NAME_MIGRATION, "Add_index"));
	CU_ASSERT_FALSE(name_valid(NAME_MIGRATION, "add-index"));
	CU_ASSERT_FALSE(name_valid(NAME_MIGRATION, ""));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "config words", test_word },
		{ "SQL identifiers", test_ident },
		{ "plugin names", test_plugin },
		{ "project and migration names", test_project_and_migration },
		{ NULL, NULL },
	};
	return unit_run("name", tests);
}

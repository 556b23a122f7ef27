#include "name.h"

#include <string.h>

enum {
	UPPER = 1,     /* A-Z as well as a-z */
	DASH = 2,      /* '-' */
	NO_DIGIT1 = 4, /* the first character is not a digit */
};

static const struct {
	size_t max;
	unsigned rules;
} kinds[] = {
	[NAME_WORD] = { 63, UPPER | DASH },
	[NAME_IDENT] = { 63, UPPER | NO_DIGIT1 },
	[NAME_PLUGIN] = { 64, DASH },
	[NAME_PROJECT] = { 63, NO_DIGIT1 },
	[NAME_MIGRATION] = { 100, 0 },
};

size_t name_max(enum name_kind kind)
{
	return kinds[kind].max;
}

int name_valid(enum name_kind kind, const char *s)
{
	unsigned rules = kinds[kind].rules;
	if (!s || !*s || strlen(s) > kinds[kind].max)
		return 0;
	if ((rules & NO_DIGIT1) && *s >= '0' && *s <= '9')
		return 0;
	for (; *s; s++) {
		char c = *s;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
			continue;
		if ((rules & UPPER) && c >= 'A' && c <= 'Z')
			continue;
		if ((rules & DASH) && c == '-')
			continue;
		return 0;
	}
	return 1;
}

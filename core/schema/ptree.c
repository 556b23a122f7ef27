#include "ptree.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BLOCK ((size_t)64 * 1024)
#define MAX_DEPTH 1000

struct pt_arena {
	struct pt_arena *next;
	size_t used, cap;
	max_align_t data[];
};

/* arena_reserve puts a new block of cap bytes in front of *a */
static void arena_reserve(struct pt_arena **a, size_t cap)
{
	struct pt_arena *b = xmalloc(sizeof *b + cap);
	b->next = *a;
	b->used = 0;
	b->cap = cap;
	*a = b;
}

static void *arena_alloc(struct pt_arena **a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!*a || (*a)->cap - (*a)->used < n)
		arena_reserve(a, n > BLOCK ? n : BLOCK);
	void *p = (char *)(*a)->data + (*a)->used;
	(*a)->used += n;
	return p;
}

void pt_free(struct pt_arena *a)
{
	while (a) {
		struct pt_arena *next = a->next;
		free(a);
		a = next;
	}
}

/* The parser: children of the open arrays and objects wait on a scratch
 * stack and move into the arena when their container closes. */
struct parser {
	char *p;
	struct pt_arena **arena;
	struct pt *stack;
	const char **kstack;
	size_t top, cap;
	int depth;
};

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r')
		ps->p++;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static void put_utf8(char **out, unsigned cp)
{
	char *o = *out;
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xC0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xE0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (char)(0xF0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	}
	*out = o;
}

/* read_string decodes the string at ps->p (at its opening quote) in place */
static const char *read_string(struct parser *ps)
{
	char *in = ps->p + 1, *out = in, *start = in;
	for (;;) {
		char c = *in;
		if (c == '\0')
			return NULL;
		if (c == '"')
			break;
		if (c != '\\') {
			*out++ = *in++;
			continue;
		}
		in++;
		switch (*in) {
		case '"':
		case '\\':
		case '/':
			*out++ = *in++;
			break;
		case 'b':
			*out++ = '\b';
			in++;
			break;
		case 'f':
			*out++ = '\f';
			in++;
			break;
		case 'n':
			*out++ = '\n';
			in++;
			break;
		case 'r':
			*out++ = '\r';
			in++;
			break;
		case 't':
			*out++ = '\t';
			in++;
			break;
		case 'u': {
			unsigned cp = 0;
			for (int k = 1; k <= 4; k++) {
				int h = hexval(in[k]);
				if (h < 0)
					return NULL;
				cp = cp * 16 + (unsigned)h;
			}
			in += 5;
			if (cp >= 0xD800 && cp <= 0xDBFF && in[0] == '\\' && in[1] == 'u') {
				unsigned lo = 0;
				int ok = 1;
				for (int k = 2; k <= 5; k++) {
					int h = hexval(in[k]);
					ok &= h >= 0;
					lo = lo * 16 + (unsigned)(h < 0 ? 0 : h);
				}
				if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					in += 6;
				}
			}
			/* \u0000 would cut the string: the tree never has it; keep it visible */
			put_utf8(&out, cp ? cp : '?');
			break;
		}
		default:
			return NULL;
		}
	}
	/* out <= in: the closing quote's place (or before it) takes the NUL */
	*out = '\0';
	ps->p = in + 1;
	return start;
}

static void push(struct parser *ps, const struct pt *v, const char *key)
{
	if (ps->top == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 256;
		ps->stack = xrealloc(ps->stack, ps->cap * sizeof *ps->stack);
		ps->kstack = xrealloc(ps->kstack, ps->cap * sizeof *ps->kstack);
	}
	ps->stack[ps->top] = *v;
	ps->kstack[ps->top] = key;
	ps->top++;
}

static int parse_value(struct parser *ps, struct pt *v);

static int parse_container(struct parser *ps, struct pt *v, int object)
{
	if (++ps->depth > MAX_DEPTH)
		return -1;
	ps->p++;
	size_t base = ps->top;
	skip_ws(ps);
	char close = object ? '}' : ']';
	if (*ps->p != close) {
		for (;;) {
			const char *key = NULL;
			skip_ws(ps);
			if (object) {
				if (*ps->p != '"' || !(key = read_string(ps)))
					return -1;
				skip_ws(ps);
				if (*ps->p != ':')
					return -1;
				ps->p++;
			}
			struct pt item;
			if (parse_value(ps, &item))
				return -1;
			push(ps, &item, key);
			skip_ws(ps);
			if (*ps->p == ',') {
				ps->p++;
				continue;
			}
			if (*ps->p == close)
				break;
			return -1;
		}
	}
	ps->p++;
	size_t n = ps->top - base;
	memset(v, 0, sizeof *v);
	v->type = object ? PT_OBJECT : PT_ARRAY;
	v->n = (unsigned)n;
	if (n) {
		v->items = arena_alloc(ps->arena, n * sizeof *v->items);
		memcpy(v->items, ps->stack + base, n * sizeof *v->items);
		if (object) {
			v->keys = arena_alloc(ps->arena, n * sizeof *v->keys);
			memcpy(v->keys, ps->kstack + base, n * sizeof *v->keys);
		}
	}
	ps->top = base;
	ps->depth--;
	return 0;
}

static int parse_value(struct parser *ps, struct pt *v)
{
	skip_ws(ps);
	memset(v, 0, sizeof *v);
	char c = *ps->p;
	if (c == '{' || c == '[')
		return parse_container(ps, v, c == '{');
	if (c == '"') {
		v->type = PT_STRING;
		v->s = read_string(ps);
		return v->s ? 0 : -1;
	}
	if (!strncmp(ps->p, "true", 4)) {
		v->type = PT_TRUE;
		ps->p += 4;
		return 0;
	}
	if (!strncmp(ps->p, "false", 5)) {
		v->type = PT_FALSE;
		ps->p += 5;
		return 0;
	}
	if (!strncmp(ps->p, "null", 4)) {
		v->type = PT_NULL;
		ps->p += 4;
		return 0;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		char *end;
		v->type = PT_NUMBER;
		v->num = strtol(ps->p, &end, 10);
		/* a fraction or exponent: the integer part is kept, the rest skipped */
		while (*end == '.' || *end == 'e' || *end == 'E' || *end == '+' || *end == '-' ||
		       (*end >= '0' && *end <= '9'))
			end++;
		if (end == ps->p)
			return -1;
		ps->p = end;
		return 0;
	}
	return -1;
}

struct pt *pt_parse(char *text, struct pt_arena **arena)
{
	*arena = NULL;
	if (!text)
		return NULL;
	/* the first block is sized from the text (a parse-tree node takes about
	 * four to five times its JSON): a small migration's tree then takes one
	 * small allocation, which malloc hands out again for the next one */
	size_t want = strlen(text) * 6 + 512;
	arena_reserve(arena, want < BLOCK ? want : BLOCK);
	struct parser ps = { text, arena, NULL, NULL, 0, 0, 0 };
	struct pt v;
	int rc = parse_value(&ps, &v);
	if (!rc) {
		skip_ws(&ps);
		rc = *ps.p ? -1 : 0;
	}
	free(ps.stack);
	free(ps.kstack);
	if (rc)
		return NULL;
	struct pt *root = arena_alloc(arena, sizeof *root);
	*root = v;
	return root;
}

struct pt *pt_get(const struct pt *o, const char *key)
{
	if (!o || o->type != PT_OBJECT)
		return NULL;
	for (unsigned i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->items[i];
	return NULL;
}

struct pt *pt_at(const struct pt *a, size_t i)
{
	return a && a->type == PT_ARRAY && i < a->n ? &a->items[i] : NULL;
}

size_t pt_len(const struct pt *a)
{
	return a && a->type == PT_ARRAY ? a->n : 0;
}

const char *pt_str(const struct pt *v)
{
	return v && v->type == PT_STRING ? v->s : NULL;
}

long pt_int(const struct pt *v)
{
	return v && v->type == PT_NUMBER ? v->num : 0;
}

int pt_true(const struct pt *v)
{
	return v && v->type == PT_TRUE;
}

int pt_is_array(const struct pt *v)
{
	return v && v->type == PT_ARRAY;
}

int pt_is_object(const struct pt *v)
{
	return v && v->type == PT_OBJECT;
}

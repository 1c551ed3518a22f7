/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Minimal recursive-descent JSON parser (RFC 8259) used by tandemctl to turn
 * the daemon's status answer into human-readable text. */
#include "ctl/json_read.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JR_MAX_DEPTH 64

struct jr_parser {
	const char *p;
	char *err;
	size_t errlen;
	bool failed;
};

static bool jr_fail(struct jr_parser *ps, const char *what)
{
	if (!ps->failed && ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "invalid JSON: %s", what);
	ps->failed = true;
	return false;
}

static void jr_ws(struct jr_parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static void jr_clear(struct jr_value *v)
{
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		jr_clear(&v->items[i]);
	}
	free(v->keys);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

void jr_free(struct jr_value *v)
{
	if (!v)
		return;
	jr_clear(v);
	free(v);
}

static int jr_hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t jr_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ps->p on the opening quote; result malloc'd. */
static char *jr_string(struct jr_parser *ps)
{
	const char *s = ps->p + 1, *e = s;
	/* the raw text up to the closing quote bounds the result (escapes never
	 * grow); not strlen(s), the whole rest of the document for every string */
	while (*e && *e != '"')
		e += (e[0] == '\\' && e[1]) ? 2 : 1;
	char *out = malloc((size_t)(e - s) + 1), *o = out;
	if (!out) {
		jr_fail(ps, "out of memory");
		return NULL;
	}
	for (;;) {
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			break;
		if (c == '\0' || c < 0x20) {
			free(out);
			jr_fail(ps, c ? "control character in string" : "unterminated string");
			return NULL;
		}
		if (c != '\\') {
			*o++ = (char)c;
			s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			int cp = jr_hex4(s + 1);
			if (cp < 0)
				goto bad;
			s += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				int lo = s[1] == '\\' && s[2] == 'u' ? jr_hex4(s + 3) : -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad;
			}
			if (cp == 0)
				goto bad;      /* would truncate the C string */
			o += jr_utf8(o, (unsigned)cp);
			break;
		}
		default:
			goto bad;
		}
		s++;
	}
	*o = '\0';
	ps->p = s + 1;
	return out;
bad:
	free(out);
	jr_fail(ps, "bad escape in string");
	return NULL;
}

static bool jr_value_parse(struct jr_parser *ps, struct jr_value *v, int depth);

/* Appends an entry; the arrays grow by doubling (one more at a time copied
 * them whole at every entry: a status of 5000 sessions took seconds). */
static bool jr_push(struct jr_parser *ps, struct jr_value *v, char *key)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4;
		struct jr_value *ni = realloc(v->items, cap * sizeof(*ni));
		if (!ni)
			goto oom;
		v->items = ni;
		if (v->type == JR_OBJECT) {
			char **nk = realloc(v->keys, cap * sizeof(*nk));
			if (!nk)
				goto oom;
			v->keys = nk;
		}
		v->cap = cap;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	if (v->type == JR_OBJECT)
		v->keys[v->n] = key;
	v->n++;
	return true;
oom:
	free(key);
	return jr_fail(ps, "out of memory");
}

static bool jr_container(struct jr_parser *ps, struct jr_value *v, int depth, bool obj)
{
	char close = obj ? '}' : ']';
	v->type = obj ? JR_OBJECT : JR_ARRAY;
	ps->p++;
	jr_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;
		jr_ws(ps);
		if (obj) {
			if (*ps->p != '"')
				return jr_fail(ps, "expected a member name");
			if (!(key = jr_string(ps)))
				return false;
			jr_ws(ps);
			if (*ps->p != ':') {
				free(key);
				return jr_fail(ps, "expected ':'");
			}
			ps->p++;
		}
		if (!jr_push(ps, v, key))
			return false;
		if (!jr_value_parse(ps, &v->items[v->n - 1], depth + 1))
			return false;
		jr_ws(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return true;
		}
		return jr_fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static bool jr_number(struct jr_parser *ps, struct jr_value *v)
{
	const char *s = ps->p;
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return jr_fail(ps, "unexpected character");
	bool integer = true;
	if (*s == '.') {
		integer = false;
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return jr_fail(ps, "bad number");
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		integer = false;
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return jr_fail(ps, "bad number");
		while (*s >= '0' && *s <= '9')
			s++;
	}
	v->type = JR_NUMBER;
	v->num = strtod(ps->p, NULL);
	if (integer) {
		char *end;
		long long x = strtoll(ps->p, &end, 10);
		v->i = x;
		if (ps->p[0] != '-') {           /* keep large unsigned counters exact */
			unsigned long long u = strtoull(ps->p, &end, 10);
			v->i = u > INT64_MAX ? INT64_MAX : (int64_t)u;
		}
	} else {
		v->i = v->num > -9.2e18 && v->num < 9.2e18 ? (int64_t)v->num : 0;
	}
	ps->p = s;
	return true;
}

static bool jr_value_parse(struct jr_parser *ps, struct jr_value *v, int depth)
{
	if (depth > JR_MAX_DEPTH)
		return jr_fail(ps, "nested too deeply");
	jr_ws(ps);
	switch (*ps->p) {
	case '{':
		return jr_container(ps, v, depth, true);
	case '[':
		return jr_container(ps, v, depth, false);
	case '"':
		v->type = JR_STRING;
		return (v->str = jr_string(ps)) != NULL;
	case 't':
		if (strncmp(ps->p, "true", 4) != 0)
			break;
		v->type = JR_BOOL;
		v->b = true;
		ps->p += 4;
		return true;
	case 'f':
		if (strncmp(ps->p, "false", 5) != 0)
			break;
		v->type = JR_BOOL;
		ps->p += 5;
		return true;
	case 'n':
		if (strncmp(ps->p, "null", 4) != 0)
			break;
		v->type = JR_NULL;
		ps->p += 4;
		return true;
	case '\0':
		return jr_fail(ps, "unexpected end");
	default:
		return jr_number(ps, v);
	}
	return jr_fail(ps, "unexpected character");
}

struct jr_value *jr_parse(const char *text, char *err, size_t errlen)
{
	struct jr_parser ps = { .p = text, .err = err, .errlen = errlen };
	struct jr_value *v = calloc(1, sizeof(*v));
	if (!text || !v) {
		free(v);
		jr_fail(&ps, text ? "out of memory" : "no text");
		return NULL;
	}
	if (jr_value_parse(&ps, v, 0)) {
		jr_ws(&ps);
		if (*ps.p == '\0')
			return v;
		jr_fail(&ps, "trailing characters");
	}
	jr_free(v);
	return NULL;
}

const struct jr_value *jr_get(const struct jr_value *v, const char *key)
{
	if (!v || v->type != JR_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

const char *jr_str(const struct jr_value *obj, const char *key, const char *dflt)
{
	const struct jr_value *v = jr_get(obj, key);
	return v && v->type == JR_STRING ? v->str : dflt;
}

int64_t jr_int(const struct jr_value *obj, const char *key, int64_t dflt)
{
	const struct jr_value *v = jr_get(obj, key);
	return v && v->type == JR_NUMBER ? v->i : dflt;
}

bool jr_bool(const struct jr_value *obj, const char *key, bool dflt)
{
	const struct jr_value *v = jr_get(obj, key);
	return v && v->type == JR_BOOL ? v->b : dflt;
}

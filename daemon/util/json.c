/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Streaming JSON writer behind the control protocol and `tandemctl --json`. */
#include "util/json.h"
#include "util/utf8.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH ((int)(sizeof(((struct json_writer *)0)->need_comma) / sizeof(bool)))

void json_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_free(struct json_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static bool json_reserve(struct json_writer *w, size_t extra)
{
	if (w->oom)
		return false;
	if (w->len + extra + 1 <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + extra + 1) {
		if (cap > SIZE_MAX / 2) {
			w->oom = true;
			return false;
		}
		cap *= 2;
	}
	char *nb = realloc(w->buf, cap);
	if (!nb) {
		w->oom = true;
		return false;
	}
	w->buf = nb;
	w->cap = cap;
	return true;
}

static void json_put(struct json_writer *w, const char *s, size_t n)
{
	if (!json_reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void json_putc(struct json_writer *w, char c)
{
	json_put(w, &c, 1);
}

static void json_put_string(struct json_writer *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	json_putc(w, '"');
	if (!s)
		s = "";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': json_put(w, "\\\"", 2); break;
		case '\\': json_put(w, "\\\\", 2); break;
		case '\b': json_put(w, "\\b", 2); break;
		case '\f': json_put(w, "\\f", 2); break;
		case '\n': json_put(w, "\\n", 2); break;
		case '\r': json_put(w, "\\r", 2); break;
		case '\t': json_put(w, "\\t", 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				char u[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 0xf] };
				json_put(w, u, 6);
			} else {
				/* well-formed UTF-8 passes through; any other byte
				 * becomes U+FFFD, so the output stays valid JSON
				 * whatever an initiator sent (util/utf8.h) */
				size_t n = utf8_seq_len(p);
				if (!n) {
					json_put(w, "\\ufffd", 6);
				} else {
					json_put(w, (const char *)p, n);
					p += n - 1;
				}
			}
		}
	}
	json_putc(w, '"');
}

/* Comma and "key": before a value at the current depth. */
static void json_prefix(struct json_writer *w, const char *key)
{
	int d = w->depth < JSON_MAX_DEPTH ? w->depth : JSON_MAX_DEPTH - 1;
	if (d >= 0 && w->need_comma[d])
		json_putc(w, ',');
	if (d >= 0)
		w->need_comma[d] = true;
	if (key && w->depth > 0) {
		json_put_string(w, key);
		json_putc(w, ':');
	}
}

static void json_open(struct json_writer *w, const char *key, char c)
{
	json_prefix(w, key);
	json_putc(w, c);
	if (w->depth < JSON_MAX_DEPTH - 1) {
		w->depth++;
		w->need_comma[w->depth] = false;
	} else {
		w->oom = true;     /* too deep: refuse to produce broken output */
	}
}

static void json_close(struct json_writer *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	json_putc(w, c);
}

void json_obj_begin(struct json_writer *w, const char *key) { json_open(w, key, '{'); }
void json_obj_end(struct json_writer *w) { json_close(w, '}'); }
void json_arr_begin(struct json_writer *w, const char *key) { json_open(w, key, '['); }
void json_arr_end(struct json_writer *w) { json_close(w, ']'); }

void json_str(struct json_writer *w, const char *key, const char *val)
{
	json_prefix(w, key);
	if (val)
		json_put_string(w, val);
	else
		json_put(w, "null", 4);
}

void json_int(struct json_writer *w, const char *key, int64_t val)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%" PRId64, val);
	json_prefix(w, key);
	json_put(w, b, (size_t)n);
}

void json_uint(struct json_writer *w, const char *key, uint64_t val)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%" PRIu64, val);
	json_prefix(w, key);
	json_put(w, b, (size_t)n);
}

void json_bool(struct json_writer *w, const char *key, bool val)
{
	json_prefix(w, key);
	if (val)
		json_put(w, "true", 4);
	else
		json_put(w, "false", 5);
}

void json_null(struct json_writer *w, const char *key)
{
	json_prefix(w, key);
	json_put(w, "null", 4);
}

const char *json_result(struct json_writer *w)
{
	if (w->oom)
		return NULL;
	if (!w->buf && !json_reserve(w, 0))
		return NULL;
	if (w->len == 0)
		w->buf[0] = '\0';
	return w->buf;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A tiny streaming JSON writer for `tandemctl status --json` and the control
 * protocol. Strings are escaped; commas are placed automatically. */
#ifndef TANDEM_UTIL_JSON_H
#define TANDEM_UTIL_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct json_writer {
	char *buf;
	size_t len, cap;
	int depth;
	bool need_comma[32];
	bool oom;
};

void json_init(struct json_writer *w);
void json_free(struct json_writer *w);
/* Containers; key may be NULL inside arrays / at top level. */
void json_obj_begin(struct json_writer *w, const char *key);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w, const char *key);
void json_arr_end(struct json_writer *w);
void json_str(struct json_writer *w, const char *key, const char *val);
void json_int(struct json_writer *w, const char *key, int64_t val);
void json_uint(struct json_writer *w, const char *key, uint64_t val);
void json_bool(struct json_writer *w, const char *key, bool val);
void json_null(struct json_writer *w, const char *key);
/* NUL-terminated result (owned by w), or NULL if allocation failed. */
const char *json_result(struct json_writer *w);
#endif

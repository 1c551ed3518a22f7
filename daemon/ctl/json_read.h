/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small JSON reader so tandemctl can render the daemon's status for humans. */
#ifndef TANDEM_CTL_JSON_READ_H
#define TANDEM_CTL_JSON_READ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jr_type { JR_NULL, JR_BOOL, JR_NUMBER, JR_STRING, JR_ARRAY, JR_OBJECT };

struct jr_value {
	enum jr_type type;
	bool b;
	double num;
	int64_t i;                          /* num as an integer when it is one */
	char *str;                          /* JR_STRING, UTF-8, NUL-terminated */
	size_t n;                           /* JR_ARRAY / JR_OBJECT entries */
	size_t cap;                         /* entries items (and keys) have room for */
	char **keys;                        /* JR_OBJECT */
	struct jr_value *items;
};

/* Parse a complete JSON text. NULL on error with a message in err. */
struct jr_value *jr_parse(const char *text, char *err, size_t errlen);
void jr_free(struct jr_value *v);
/* Object member lookup; NULL when v is not an object or has no such key. */
const struct jr_value *jr_get(const struct jr_value *v, const char *key);
/* Convenience accessors with a fallback for missing/mistyped members. */
const char *jr_str(const struct jr_value *obj, const char *key, const char *dflt);
int64_t jr_int(const struct jr_value *obj, const char *key, int64_t dflt);
bool jr_bool(const struct jr_value *obj, const char *key, bool dflt);
#endif

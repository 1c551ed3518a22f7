/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: tandemctl's JSON reader (ctl/json_read.c). The input is
 * the JSON text (as received from the control socket); on success the tree
 * is walked with the accessors tandemctl uses. */
#include "fuzz_common.h"
#include "ctl/json_read.h"

static void walk(const struct jr_value *v, int depth)
{
	if (depth > 10000)
		FUZZ_DIE("tree deeper than the input");
	switch (v->type) {
	case JR_STRING:
		if (!v->str)
			FUZZ_DIE("string without text");
		break;
	case JR_OBJECT:
		for (size_t i = 0; i < v->n; i++) {
			if (!v->keys[i])
				FUZZ_DIE("object key missing");
			if (!jr_get(v, v->keys[i]))
				FUZZ_DIE("jr_get cannot find key %zu", i);
			(void)jr_str(v, v->keys[i], "");
			(void)jr_int(v, v->keys[i], 0);
			(void)jr_bool(v, v->keys[i], false);
			walk(&v->items[i], depth + 1);
		}
		break;
	case JR_ARRAY:
		for (size_t i = 0; i < v->n; i++)
			walk(&v->items[i], depth + 1);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *text;
	struct jr_value *v;

	if (size > 65536)
		return -1;
	text = malloc(size + 1);
	if (!text)
		FUZZ_DIE("oom");
	memcpy(text, data, size);
	text[size] = '\0';
	v = jr_parse(text, err, sizeof(err));
	if (v) {
		walk(v, 0);
		(void)jr_get(v, "targets");
		jr_free(v);
	}
	free(text);
	return 0;
}

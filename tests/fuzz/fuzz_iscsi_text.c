/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: login/text key=value handling, pure functions only:
 * iscsi_text_parse, iscsi_param_negotiate over the security and operational
 * stages plus iscsi_param_finish, CHAP binary decoding and a whole CHAP
 * exchange (iscsi_chap_start / iscsi_chap_verify) with the CHAP_* values the
 * input carries.
 *   byte 0   bit 0 leading connection, bit 1 CHAP allowed, bit 2 CHAP required,
 *            bit 3 security-key callback installed, bit 4 small response limit
 *   then up to three segments, each u16 length + bytes: security stage,
 *   operational stage, full-feature Text request. */
#include "fuzz_common.h"
#include "iscsi/param.h"

struct chapvals {
	char a[256], n[256], r[1024], i[64], c[1024];
	bool has_a, has_n, has_r, has_i, has_c;
	int keys;
};

static void keep(char *dst, size_t cap, bool *has, const char *v)
{
	snprintf(dst, cap, "%s", v);
	*has = true;
}

static int sec_key(const char *key, const char *value, void *arg)
{
	struct chapvals *cv = arg;
	uint8_t bin[1024];

	cv->keys++;
	(void)iscsi_chap_decode_binary(value, bin, sizeof(bin));
	(void)iscsi_chap_decode_binary(value, bin, 16);
	if (strcmp(key, "CHAP_A") == 0)
		keep(cv->a, sizeof(cv->a), &cv->has_a, value);
	else if (strcmp(key, "CHAP_N") == 0)
		keep(cv->n, sizeof(cv->n), &cv->has_n, value);
	else if (strcmp(key, "CHAP_R") == 0)
		keep(cv->r, sizeof(cv->r), &cv->has_r, value);
	else if (strcmp(key, "CHAP_I") == 0)
		keep(cv->i, sizeof(cv->i), &cv->has_i, value);
	else if (strcmp(key, "CHAP_C") == 0)
		keep(cv->c, sizeof(cv->c), &cv->has_c, value);
	else
		return cv->keys > 40 ? 1 : 0;
	return 0;
}

static int count_key(const char *key, const char *value, void *arg)
{
	size_t *n = arg;
	uint32_t u;

	if (strlen(key) > 63)
		FUZZ_DIE("iscsi_text_parse passed a key longer than 63 bytes");
	(void)iscsi_param_parse_u32(value, &u);
	(*n)++;
	return 0;
}

static void check_text(const struct iscsi_text *t)
{
	/* a response is a sequence of NUL-terminated key=value pairs */
	if (t->len && (!t->data || t->data[t->len - 1] != '\0'))
		FUZZ_DIE("response text not NUL-terminated");
	for (size_t pos = 0; pos < t->len; pos += strlen(t->data + pos) + 1)
		if (!strchr(t->data + pos, '='))
			FUZZ_DIE("response pair without '=': %s", t->data + pos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct iscsi_param_limits lim = { .max_recv_dsl = 262144, .max_burst = 1048576, .first_burst = 262144,
					  .max_connections = 4, .max_outstanding_r2t = 8 };
	struct iscsi_negotiation n;
	struct chapvals cv = { 0 };
	struct iscsi_text out = { 0 };
	char *seg[3] = { 0 };
	size_t segl[3] = { 0 };
	uint8_t f;

	if (size > 65536)
		return -1;
	f = fin_u8(&in);
	for (int i = 0; i < 3; i++) {
		size_t l = fin_u16(&in);
		seg[i] = malloc(l ? l : 1);
		if (!seg[i])
			FUZZ_DIE("oom");
		/* exact-size copies so ASan sees any read past the segment */
		segl[i] = fin_bytes(&in, seg[i], l);
	}
	if (f & 0x10)
		out.limit = 512;
	for (int i = 0; i < 3; i++) {
		size_t cnt = 0;
		(void)iscsi_text_parse(seg[i], segl[i], count_key, &cnt);
	}

	iscsi_negotiation_init(&n, &lim, f & 1);
	n.chap_allowed = f & 2;
	n.chap_required = f & 4;
	if (f & 8) {
		n.security_key = sec_key;
		n.security_arg = &cv;
	}
	if (iscsi_param_negotiate(&n, ISCSI_STAGE_SECURITY, seg[0], segl[0], &out) == ISCSI_PARAM_OK) {
		check_text(&out);
		if (cv.has_a) {
			struct iscsi_chap chap = { 0 };
			struct iscsi_text co = { 0 };
			if (iscsi_chap_start(&chap, cv.a, &co) == 0) {
				check_text(&co);
				(void)iscsi_chap_verify(&chap, cv.has_n ? cv.n : NULL, cv.has_r ? cv.r : NULL,
							cv.has_i ? cv.i : NULL, cv.has_c ? cv.c : NULL, "fuzzuser",
							"fuzzsecret1234", (f & 0x20) ? "tgtuser" : NULL,
							(f & 0x20) ? "tgtsecret12345" : NULL, &co);
				check_text(&co);
			}
			iscsi_text_free(&co);
		}
		if (iscsi_param_negotiate(&n, ISCSI_STAGE_OPERATIONAL, seg[1], segl[1], &out) == ISCSI_PARAM_OK) {
			check_text(&out);
			if (iscsi_param_finish(&n, (f & 0x40) ? "alias" : NULL, 1, &out) == ISCSI_PARAM_OK) {
				check_text(&out);
				/* what a login would run with */
				if (n.p.max_recv_dsl > lim.max_recv_dsl || n.p.max_burst_length > lim.max_burst ||
				    n.p.first_burst_length > n.p.max_burst_length)
					FUZZ_DIE("negotiated past the limits: MRDSL %u MBL %u FBL %u", n.p.max_recv_dsl,
						 n.p.max_burst_length, n.p.first_burst_length);
			}
			(void)iscsi_param_negotiate(&n, ISCSI_STAGE_FULL_FEATURE, seg[2], segl[2], &out);
			check_text(&out);
		}
	}
	iscsi_text_free(&out);
	for (int i = 0; i < 3; i++)
		free(seg[i]);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for target-side CHAP (iscsi/chap.c): algorithm choice, encodings, mutual CHAP, reflection. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "iscsi/param.h"

/* value of key in a "k=v\0k=v\0" buffer, NULL if absent */
static const char *tval(const struct iscsi_text *t, const char *key)
{
	size_t kl = strlen(key);
	for (size_t pos = 0; pos < t->len; pos += strlen(t->data + pos) + 1)
		if (strncmp(t->data + pos, key, kl) == 0 && t->data[pos + kl] == '=')
			return t->data + pos + kl + 1;
	return NULL;
}

static void hex(char *dst, const uint8_t *b, size_t n)
{
	dst += sprintf(dst, "0x");
	for (size_t i = 0; i < n; i++)
		dst += sprintf(dst, "%02X", b[i]);
}

/* Compute the initiator's response like an initiator would, from what the target sent. */
static void respond(const struct iscsi_text *t, const EVP_MD *md, const char *secret, char *out)
{
	uint8_t chal[64], dig[EVP_MAX_MD_SIZE];
	unsigned int dl;
	uint8_t id = (uint8_t)atoi(tval(t, "CHAP_I"));
	int cl = iscsi_chap_decode_binary(tval(t, "CHAP_C"), chal, sizeof(chal));
	ck_assert_int_ge(cl, 16);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, md, NULL);
	EVP_DigestUpdate(ctx, &id, 1);
	EVP_DigestUpdate(ctx, secret, strlen(secret));
	EVP_DigestUpdate(ctx, chal, (size_t)cl);
	EVP_DigestFinal_ex(ctx, dig, &dl);
	EVP_MD_CTX_free(ctx);
	hex(out, dig, dl);
}

START_TEST(test_alg_choice)
{
	struct { const char *list; int alg; } cases[] = {
		{ "5", 5 }, { "7,5", 7 }, { "5,7", 5 }, { "1,6,5", 6 }, { "0x5", 5 },
		{ "abc,,7", 7 }, { "99,abc", -1 }, { "", -1 }, { NULL, -1 }, { "+5", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iscsi_chap c;
		struct iscsi_text t = { 0 };
		int rc = iscsi_chap_start(&c, cases[i].list, &t);
		if (cases[i].alg < 0) {
			ck_assert_int_eq(rc, -1);
			ck_assert_str_eq(tval(&t, "CHAP_A"), "Reject");
			ck_assert_ptr_null(tval(&t, "CHAP_C"));
		} else {
			char a[16];
			ck_assert_int_eq(rc, 0);
			ck_assert_int_eq(c.alg, cases[i].alg);
			snprintf(a, sizeof(a), "%d", cases[i].alg);
			ck_assert_str_eq(tval(&t, "CHAP_A"), a);
			ck_assert_ptr_nonnull(tval(&t, "CHAP_I"));
			ck_assert_ptr_nonnull(tval(&t, "CHAP_C"));
			ck_assert_uint_ge(c.challenge_len, 16);
		}
		iscsi_text_free(&t);
	}
}
END_TEST

START_TEST(test_challenges_random)
{
	struct iscsi_chap a, b;
	struct iscsi_text t = { 0 };
	ck_assert_int_eq(iscsi_chap_start(&a, "5", &t), 0);
	ck_assert_int_eq(iscsi_chap_start(&b, "5", &t), 0);
	ck_assert_uint_eq(a.challenge_len, 16);
	ck_assert(memcmp(a.challenge, b.challenge, 16) != 0);
	ck_assert_uint_eq(strlen(tval(&t, "CHAP_C")), 2 + 32);
	iscsi_text_free(&t);
}
END_TEST

START_TEST(test_md5_hex_and_base64)
{
	const char *forms[] = { "hex", "b64" };
	for (int f = 0; f < 2; f++) {
		struct iscsi_chap c;
		struct iscsi_text t = { 0 }, out = { 0 };
		char r[200];
		uint8_t raw[64];
		ck_assert_int_eq(iscsi_chap_start(&c, "5", &t), 0);
		respond(&t, EVP_md5(), "secretsecret", r);
		if (f == 1) {
			int n = iscsi_chap_decode_binary(r, raw, sizeof(raw));
			ck_assert_int_eq(n, 16);
			strcpy(r, "0b");
			EVP_EncodeBlock((unsigned char *)r + 2, raw, n);
		}
		ck_assert_msg(iscsi_chap_verify(&c, "alice", r, NULL, NULL, "alice", "secretsecret",
						NULL, NULL, &out) == 0, "%s", forms[f]);
		ck_assert_str_eq(c.user, "alice");
		ck_assert(!c.mutual);
		ck_assert_uint_eq(out.len, 0);
		iscsi_text_free(&t);
		iscsi_text_free(&out);
	}
}
END_TEST

START_TEST(test_fixed_vectors)
{
	/* computed independently (Python hashlib): MD5(0x07 || "secretsecret" || 00..0f) */
	struct iscsi_chap c;
	struct iscsi_text t = { 0 };
	ck_assert_int_eq(iscsi_chap_start(&c, "5", &t), 0);
	c.id = 7;
	for (int i = 0; i < 16; i++)
		c.challenge[i] = (uint8_t)i;
	ck_assert_int_eq(iscsi_chap_verify(&c, "u", "0x6ecf51cbe0f7ac32d9cd952f3fd639c0", NULL, NULL,
					   "u", "secretsecret", NULL, NULL, &t), 0);
	ck_assert_int_eq(iscsi_chap_start(&c, "5", &t), 0);
	c.id = 7;
	for (int i = 0; i < 16; i++)
		c.challenge[i] = (uint8_t)i;
	ck_assert_int_eq(iscsi_chap_verify(&c, "u", "0bbs9Ry+D3rDLZzZUvP9Y5wA==", NULL, NULL,
					   "u", "secretsecret", NULL, NULL, &t), 0);
	/* SHA-256 (7) with a 32-byte challenge 00..1f */
	ck_assert_int_eq(iscsi_chap_start(&c, "7", &t), 0);
	ck_assert_uint_eq(c.challenge_len, 32);
	c.id = 7;
	for (int i = 0; i < 32; i++)
		c.challenge[i] = (uint8_t)i;
	ck_assert_int_eq(iscsi_chap_verify(&c, "u",
		"0x583DE276D3BC72D94A976F01426D7D8D5B2CC7728E3A95AB8A60D25934C910C9", NULL, NULL,
		"u", "secretsecret", NULL, NULL, &t), 0);
	iscsi_text_free(&t);
}
END_TEST

START_TEST(test_failures)
{
	struct iscsi_chap c;
	struct iscsi_text t = { 0 }, out = { 0 };
	char r[200], bad[200];

	/* wrong secret */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "wrongsecret1", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, NULL, NULL, "alice", "secretsecret", NULL, NULL, &out), -1);
	/* a challenge is answered once only */
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, NULL, NULL, "alice", "secretsecret", NULL, NULL, &out), -2);
	iscsi_text_free(&t);

	/* wrong user name */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "bob", r, NULL, NULL, "alice", "secretsecret", NULL, NULL, &out), -1);
	iscsi_text_free(&t);

	/* no secret configured */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, NULL, NULL, NULL, NULL, NULL, NULL, &out), -1);
	iscsi_text_free(&t);

	/* truncated response: right prefix, wrong length */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	strcpy(bad, r);
	bad[strlen(bad) - 2] = '\0';
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", bad, NULL, NULL, "alice", "secretsecret", NULL, NULL, &out), -1);
	iscsi_text_free(&t);

	/* malformed encodings */
	const char *malformed[] = { "", "0x", "0xabg", "0xzz", "0b", "0bA", "0bA===", "0bAA=A",
				    "6ecf51cbe0f7ac32d9cd952f3fd639c0", "0y00" };
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		iscsi_chap_start(&c, "5", &t);
		ck_assert_int_eq(iscsi_chap_verify(&c, "alice", malformed[i], NULL, NULL, "alice",
						   "secretsecret", NULL, NULL, &out), -2);
		iscsi_text_free(&t);
	}
	/* missing CHAP_N / CHAP_R; verify before start */
	iscsi_chap_start(&c, "5", &t);
	ck_assert_int_eq(iscsi_chap_verify(&c, NULL, "0x00", NULL, NULL, "a", "s", NULL, NULL, &out), -2);
	iscsi_chap_start(&c, "5", &t);
	ck_assert_int_eq(iscsi_chap_verify(&c, "a", NULL, NULL, NULL, "a", "s", NULL, NULL, &out), -2);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(iscsi_chap_verify(&c, "a", "0x00", NULL, NULL, "a", "s", NULL, NULL, &out), -2);
	ck_assert_uint_eq(out.len, 0);
	iscsi_text_free(&t);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_mutual)
{
	struct iscsi_chap c;
	struct iscsi_text t = { 0 }, out = { 0 };
	char r[200], ic[200];
	uint8_t chal[20];

	for (int i = 0; i < 20; i++)
		chal[i] = (uint8_t)(100 + i);
	hex(ic, chal, sizeof(chal));
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, "9", ic, "alice", "secretsecret",
					   "tgtuser", "mutualsecret1", &out), 0);
	ck_assert(c.mutual);
	ck_assert_str_eq(tval(&out, "CHAP_N"), "tgtuser");
	/* Python hashlib: MD5(0x09 || "mutualsecret1" || 100..119) */
	ck_assert_str_eq(tval(&out, "CHAP_R"), "0xa25aed4374f54fa14164823477def7aa");
	iscsi_text_free(&t);
	iscsi_text_free(&out);

	/* hex CHAP_I accepted too */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, "0x09", ic, "alice", "secretsecret",
					   "tgtuser", "mutualsecret1", &out), 0);
	ck_assert_str_eq(tval(&out, "CHAP_R"), "0xa25aed4374f54fa14164823477def7aa");
	iscsi_text_free(&t);
	iscsi_text_free(&out);

	/* mutual requested but no mutual secret configured */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, "9", ic, "alice", "secretsecret",
					   NULL, NULL, &out), -1);
	ck_assert_uint_eq(out.len, 0);
	iscsi_text_free(&t);

	/* same secret both ways (RFC 7143 12.1.3) */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, "9", ic, "alice", "secretsecret",
					   "tgtuser", "secretsecret", &out), -1);
	iscsi_text_free(&t);

	/* reflection: the initiator sends our own challenge back */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "secretsecret", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, tval(&t, "CHAP_I"), tval(&t, "CHAP_C"),
					   "alice", "secretsecret", "tgtuser", "mutualsecret1", &out), -1);
	ck_assert_uint_eq(out.len, 0);
	iscsi_text_free(&t);

	/* half of the mutual pair, bad identifier, bad challenge */
	const char *bad_i[][2] = { { "9", NULL }, { NULL, "0x0102" }, { "256", "0x0102" },
				   { "-1", "0x0102" }, { "9", "0x01g" } };
	for (size_t i = 0; i < sizeof(bad_i) / sizeof(bad_i[0]); i++) {
		iscsi_chap_start(&c, "5", &t);
		respond(&t, EVP_md5(), "secretsecret", r);
		ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, bad_i[i][0], bad_i[i][1], "alice",
						   "secretsecret", "tgtuser", "mutualsecret1", &out), -2);
		iscsi_text_free(&t);
	}
	/* initiator fails: no mutual answer leaks */
	iscsi_chap_start(&c, "5", &t);
	respond(&t, EVP_md5(), "badsecret123", r);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, "9", ic, "alice", "secretsecret",
					   "tgtuser", "mutualsecret1", &out), -1);
	ck_assert_uint_eq(out.len, 0);
	iscsi_text_free(&t);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_sha_algs)
{
	struct { const char *a; const EVP_MD *(*md)(void); size_t len; } algs[] = {
		{ "6", EVP_sha1, 20 }, { "7", EVP_sha256, 32 },
	};
	for (size_t i = 0; i < 2; i++) {
		struct iscsi_chap c;
		struct iscsi_text t = { 0 }, out = { 0 };
		char r[200], ic[80];
		uint8_t chal[16] = { 1, 2, 3 };
		hex(ic, chal, sizeof(chal));
		ck_assert_int_eq(iscsi_chap_start(&c, algs[i].a, &t), 0);
		ck_assert_uint_eq(c.challenge_len, algs[i].len);
		respond(&t, algs[i].md(), "secretsecret", r);
		ck_assert_int_eq(iscsi_chap_verify(&c, "alice", r, "1", ic, "alice", "secretsecret",
						   "tgt", "othersecret1", &out), 0);
		ck_assert_uint_eq(strlen(tval(&out, "CHAP_R")), 2 + 2 * algs[i].len);
		iscsi_text_free(&t);
		iscsi_text_free(&out);
	}
}
END_TEST

START_TEST(test_decode_binary)
{
	uint8_t b[8];
	ck_assert_int_eq(iscsi_chap_decode_binary("0xA0ff", b, sizeof(b)), 2);
	ck_assert_uint_eq(b[0], 0xa0);
	ck_assert_uint_eq(b[1], 0xff);
	ck_assert_int_eq(iscsi_chap_decode_binary("0XA0", b, sizeof(b)), 1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0bAQID", b, sizeof(b)), 3);
	ck_assert_uint_eq(b[2], 3);
	ck_assert_int_eq(iscsi_chap_decode_binary("0BAQI=", b, sizeof(b)), 2);
	ck_assert_int_eq(iscsi_chap_decode_binary("0bAQ==", b, sizeof(b)), 1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0x0102030405060708", b, sizeof(b)), 8);
	ck_assert_int_eq(iscsi_chap_decode_binary("0x010203040506070809", b, sizeof(b)), -1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0bAQIDBAUGBwgJ", b, sizeof(b)), -1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0bAQ=\n", b, sizeof(b)), -1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0x01 ", b, sizeof(b)), -1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0bAQ==AQID", b, sizeof(b)), -1);
	ck_assert_int_eq(iscsi_chap_decode_binary(NULL, b, sizeof(b)), -1);
	/* RFC 7143 6.1: n hex digits are (n + 1) / 2 bytes, leading nibble 0 */
	ck_assert_int_eq(iscsi_chap_decode_binary("0x1", b, sizeof(b)), 1);
	ck_assert_uint_eq(b[0], 0x01);
	ck_assert_int_eq(iscsi_chap_decode_binary("0xabc", b, sizeof(b)), 2);
	ck_assert_uint_eq(b[0], 0x0a);
	ck_assert_uint_eq(b[1], 0xbc);
	ck_assert_int_eq(iscsi_chap_decode_binary("0x123456789abcdef", b, sizeof(b)), 8);
	ck_assert_uint_eq(b[0], 0x01);
	ck_assert_uint_eq(b[7], 0xef);
	ck_assert_int_eq(iscsi_chap_decode_binary("0x123456789abcdef01", b, sizeof(b)), -1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0xg", b, sizeof(b)), -1);
	ck_assert_int_eq(iscsi_chap_decode_binary("0x1g2", b, sizeof(b)), -1);
}
END_TEST

/* RFC 7143 12.1.3: binary values up to 1024 bytes */
START_TEST(test_decode_binary_max)
{
	static char v[2 + 2 * ISCSI_CHAP_BINARY_MAX + 2];
	static uint8_t b[ISCSI_CHAP_BINARY_MAX];

	memset(v, 'f', sizeof(v) - 1);
	v[0] = '0';
	v[1] = 'x';
	v[2 + 2 * ISCSI_CHAP_BINARY_MAX] = '\0';
	ck_assert_int_eq(iscsi_chap_decode_binary(v, b, sizeof(b)), ISCSI_CHAP_BINARY_MAX);
	ck_assert_uint_lt(strlen(v), ISCSI_CHAP_VALUE_MAX);
	v[2 + 2 * ISCSI_CHAP_BINARY_MAX - 1] = '\0';
	ck_assert_int_eq(iscsi_chap_decode_binary(v, b, sizeof(b)), ISCSI_CHAP_BINARY_MAX);
	v[2 + 2 * ISCSI_CHAP_BINARY_MAX - 1] = 'f';
	v[2 + 2 * ISCSI_CHAP_BINARY_MAX] = 'f';
	ck_assert_int_eq(iscsi_chap_decode_binary(v, b, sizeof(b)), -1);
}
END_TEST

/* A response whose digest starts with a 0 nibble, sent with that nibble
 * dropped (odd digit count), authenticates; a well-formed response of the
 * wrong length is an authentication failure (-1), not a malformed key. */
START_TEST(test_odd_hex_response)
{
	struct iscsi_chap c;
	struct iscsi_text t = { 0 }, out = { 0 };
	char r[200], odd[200], longr[2 + 2 * 100 + 1];
	bool tried = false;

	for (int i = 0; i < 1000 && !tried; i++) {
		ck_assert_int_eq(iscsi_chap_start(&c, "5", &t), 0);
		respond(&t, EVP_md5(), "secretsecret", r);
		if (r[2] == '0') {
			snprintf(odd, sizeof(odd), "0x%s", r + 3);
			ck_assert_uint_eq(strlen(odd) % 2, 1);
			ck_assert_int_eq(iscsi_chap_verify(&c, "alice", odd, NULL, NULL, "alice", "secretsecret",
							   NULL, NULL, &out), 0);
			tried = true;
		}
		iscsi_text_free(&t);
	}
	ck_assert(tried);
	memset(longr, 'a', sizeof(longr) - 1);
	longr[0] = '0';
	longr[1] = 'x';
	longr[sizeof(longr) - 1] = '\0';
	ck_assert_int_eq(iscsi_chap_start(&c, "5", &t), 0);
	ck_assert_int_eq(iscsi_chap_verify(&c, "alice", longr, NULL, NULL, "alice", "secretsecret",
					   NULL, NULL, &out), -1);
	iscsi_text_free(&t);
	iscsi_text_free(&out);
}
END_TEST

static Suite *chap_suite(void)
{
	Suite *s = suite_create("chap");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_alg_choice);
	tcase_add_test(tc, test_challenges_random);
	tcase_add_test(tc, test_md5_hex_and_base64);
	tcase_add_test(tc, test_fixed_vectors);
	tcase_add_test(tc, test_failures);
	tcase_add_test(tc, test_mutual);
	tcase_add_test(tc, test_sha_algs);
	tcase_add_test(tc, test_decode_binary);
	tcase_add_test(tc, test_decode_binary_max);
	tcase_add_test(tc, test_odd_hex_response);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(chap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

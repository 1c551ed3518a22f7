/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Target side of CHAP authentication (RFC 1994, RFC 7143 12.1.3) with libcrypto digests. */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "iscsi/param.h"

enum { CHAP_ST_INIT = 0, CHAP_ST_CHALLENGED, CHAP_ST_DONE };


static const EVP_MD *chap_md(int alg)
{
	switch (alg) {
	case ISCSI_CHAP_MD5: return EVP_md5();       /* RFC 7143 12.1.3: mandatory */
	case ISCSI_CHAP_SHA1: return EVP_sha1();
	case ISCSI_CHAP_SHA256: return EVP_sha256();
	default: return NULL;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 7143 6.1 binary-value: hex-constant "0x..." or base64-constant "0b...". */
int iscsi_chap_decode_binary(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0, len;

	if (!s || s[0] != '0' || !s[1])
		return -1;
	if (s[1] == 'x' || s[1] == 'X') {
		s += 2;
		len = strlen(s);
		if (len == 0 || (len + 1) / 2 > cap)
			return -1;
		size_t i = 0;
		if (len % 2) {
			/* RFC 7143 6.1: an odd digit count starts with an implied 0 */
			int lo = hexval(s[0]);

			if (lo < 0)
				return -1;
			out[n++] = (uint8_t)lo;
			i = 1;
		}
		for (; i < len; i += 2) {
			int hi = hexval(s[i]), lo = hexval(s[i + 1]);

			if (hi < 0 || lo < 0)
				return -1;
			out[n++] = (uint8_t)(hi << 4 | lo);
		}
		return (int)n;
	}
	if (s[1] == 'b' || s[1] == 'B') {
		s += 2;
		len = strlen(s);
		if (len == 0 || len % 4 != 0)
			return -1;
		for (size_t i = 0; i < len; i += 4) {
			int v[4], pad = 0;
			uint32_t w = 0;

			for (int k = 0; k < 4; k++) {
				if (s[i + k] == '=' && i + 4 == len && k >= 2) {
					pad++;
					v[k] = 0;
					continue;
				}
				if (pad)        /* data after '=' */
					return -1;
				v[k] = b64val(s[i + k]);
				if (v[k] < 0)
					return -1;
			}
			w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
			if (n + (size_t)(3 - pad) > cap)
				return -1;
			out[n++] = (uint8_t)(w >> 16);
			if (pad < 2)
				out[n++] = (uint8_t)(w >> 8);
			if (pad < 1)
				out[n++] = (uint8_t)w;
		}
		return n ? (int)n : -1;
	}
	return -1;
}

static int add_hex(struct iscsi_text *out, const char *key, const uint8_t *b, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char buf[2 + 2 * EVP_MAX_MD_SIZE + 1];

	if (len > EVP_MAX_MD_SIZE)
		return -1;
	buf[0] = '0';
	buf[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		buf[2 + 2 * i] = digits[b[i] >> 4];
		buf[3 + 2 * i] = digits[b[i] & 15];
	}
	buf[2 + 2 * len] = '\0';
	return iscsi_text_add(out, key, buf);
}

/* RFC 1994 4.1: Response = H(Identifier || secret || Challenge). */
static int chap_digest(int alg, uint8_t id, const char *secret, const uint8_t *chal, size_t chal_len,
		       uint8_t *md, unsigned int *md_len)
{
	const EVP_MD *type = chap_md(alg);
	EVP_MD_CTX *ctx;
	int ok;

	if (!type)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex(ctx, type, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, &id, 1) == 1 &&
	     EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	     EVP_DigestUpdate(ctx, chal, chal_len) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, md_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int iscsi_chap_start(struct iscsi_chap *c, const char *chap_a_list, struct iscsi_text *out)
{
	const char *p = chap_a_list ? chap_a_list : "";
	int alg = 0;

	memset(c, 0, sizeof(*c));
	/* RFC 7143 12.1.3: CHAP_A is a list; take the first the initiator lists that we support. */
	while (*p && !alg) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[16];
		uint32_t v;

		if (len > 0 && len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			if (iscsi_param_parse_u32(item, &v) == 0 && chap_md((int)v))
				alg = (int)v;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!alg) {
		iscsi_text_add(out, "CHAP_A", "Reject");
		return -1;
	}
	c->alg = alg;
	/* challenge as long as the digest: 16 (MD5), 20 (SHA-1), 32 (SHA-256) bytes */
	c->challenge_len = (size_t)EVP_MD_size(chap_md(alg));
	if (c->challenge_len < 16 || c->challenge_len > sizeof(c->challenge))
		return -1;
	if (RAND_bytes(&c->id, 1) != 1 || RAND_bytes(c->challenge, (int)c->challenge_len) != 1)
		return -1;
	if (iscsi_text_addf(out, "CHAP_A", "%d", alg) != 0 ||
	    iscsi_text_addf(out, "CHAP_I", "%u", (unsigned)c->id) != 0 ||
	    add_hex(out, "CHAP_C", c->challenge, c->challenge_len) != 0)
		return -1;
	c->state = CHAP_ST_CHALLENGED;
	return 0;
}

int iscsi_chap_verify(struct iscsi_chap *c, const char *chap_n, const char *chap_r,
		      const char *chap_i, const char *chap_c,
		      const char *user, const char *secret,
		      const char *mutual_user, const char *mutual_secret, struct iscsi_text *out)
{
	/* any well-formed response is decoded: one of the wrong length is an
	 * authentication failure, not a malformed key */
	uint8_t resp[ISCSI_CHAP_BINARY_MAX], expect[EVP_MAX_MD_SIZE];
	uint8_t ichal[ISCSI_CHAP_BINARY_MAX];
	unsigned int md_len = 0;
	int resp_len, ichal_len = 0, rc = -1;
	uint32_t iid = 0;
	bool mutual;

	if (c->state != CHAP_ST_CHALLENGED)
		return -2;
	c->state = CHAP_ST_DONE;             /* one challenge, one answer */
	if (!chap_n || !chap_r || strlen(chap_n) >= sizeof(c->user))
		return -2;
	memcpy(c->user, chap_n, strlen(chap_n) + 1);
	resp_len = iscsi_chap_decode_binary(chap_r, resp, sizeof(resp));
	if (resp_len < 0)
		return -2;
	mutual = chap_i || chap_c;
	if (mutual) {
		/* both CHAP_I and CHAP_C, CHAP_I a number 0..255 */
		if (!chap_i || !chap_c || iscsi_param_parse_u32(chap_i, &iid) != 0 || iid > 255)
			return -2;
		ichal_len = iscsi_chap_decode_binary(chap_c, ichal, sizeof(ichal));
		if (ichal_len < 0)
			return -2;
	}

	if (!user || !secret || strcmp(chap_n, user) != 0)
		goto out;
	if (chap_digest(c->alg, c->id, secret, c->challenge, c->challenge_len, expect, &md_len) != 0)
		goto out;
	if ((unsigned int)resp_len != md_len || CRYPTO_memcmp(resp, expect, md_len) != 0)
		goto out;

	if (mutual) {
		size_t sl;

		if (!mutual_secret || !*mutual_secret || !mutual_user)
			goto out;      /* we were asked to authenticate but have no secret */
		/* Reflection: the initiator replays our own challenge to get us to compute the answer. */
		if ((size_t)ichal_len == c->challenge_len &&
		    CRYPTO_memcmp(ichal, c->challenge, c->challenge_len) == 0)
			goto out;
		/* RFC 7143 12.1.3: the same secret must not authenticate both directions. */
		sl = strlen(secret);
		if (sl == strlen(mutual_secret) && CRYPTO_memcmp(secret, mutual_secret, sl) == 0)
			goto out;
		if (chap_digest(c->alg, (uint8_t)iid, mutual_secret, ichal, (size_t)ichal_len, expect,
				&md_len) != 0)
			goto out;
		if (iscsi_text_add(out, "CHAP_N", mutual_user) != 0 ||
		    add_hex(out, "CHAP_R", expect, md_len) != 0)
			goto out;
		c->mutual = true;
	}
	rc = 0;
out:
	OPENSSL_cleanse(expect, sizeof(expect));
	OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
	return rc;
}

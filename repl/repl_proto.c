/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Codec of the replication protocol: the receiver's message table with size
 * bounds, header and body validation, payload CRC32C, version negotiation and
 * the HMAC-SHA256 handshake proof. Pure functions, so the unit tests exercise
 * exactly what the daemon runs. */
#include <ctype.h>
#include <string.h>
#include <sys/uio.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "iscsi/param.h"
#include "repl/repl_int.h"
#include "repl/repl_proto.h"
#include "util/be.h"

#define HS REPL_PH_HANDSHAKE
#define RUN REPL_PH_RUNNING

/* Sizes first, handler second: repl_hdr_check/repl_body_check run before any
 * handler sees a message. */
const struct repl_msg_desc repl_msg_table[REPL_MSG_MAX] = {
	[REPL_MSG_HELLO] = { .name = "HELLO", .min_len = REPL_HELLO_SIZE, .max_len = REPL_HELLO_SIZE, .phases = HS },
	[REPL_MSG_AUTH] = { .name = "AUTH", .min_len = REPL_AUTH_SIZE, .max_len = REPL_AUTH_SIZE, .phases = HS },
	[REPL_MSG_ERROR] = { .name = "ERROR", .min_len = REPL_ERROR_MIN, .max_len = REPL_ERROR_MAX, .phases = HS | RUN },
	[REPL_MSG_PING] = { .name = "PING", .min_len = REPL_PING_SIZE, .max_len = REPL_PING_SIZE, .phases = RUN },
	[REPL_MSG_PING_ACK] = { .name = "PING_ACK", .min_len = REPL_PING_SIZE, .max_len = REPL_PING_SIZE, .phases = RUN },
	[REPL_MSG_ROLE] = { .name = "ROLE", .min_len = REPL_ROLE_SIZE, .max_len = REPL_ROLE_SIZE, .phases = RUN,
			    .handler = repl_h_role },
	[REPL_MSG_VOL_STATE] = { .name = "VOL_STATE", .min_len = REPL_VS_SIZE, .max_len = REPL_VS_SIZE, .phases = RUN,
				 .handler = repl_h_vol_state },
	[REPL_MSG_VOL_DETACH] = { .name = "VOL_DETACH", .min_len = REPL_DETACH_SIZE, .max_len = REPL_DETACH_SIZE,
				  .phases = RUN, .handler = repl_h_vol_detach },
	[REPL_MSG_DATA] = { .name = "DATA", .min_len = REPL_DATA_SIZE, .max_len = REPL_MAX_BODY,
			    .fixed_len = REPL_DATA_SIZE, .phases = RUN, .handler = repl_h_data },
	[REPL_MSG_DATA_ACK] = { .name = "DATA_ACK", .min_len = REPL_ACK_SIZE, .max_len = REPL_ACK_SIZE, .phases = RUN,
				.handler = repl_h_data_ack },
	[REPL_MSG_BITMAP] = { .name = "BITMAP", .min_len = REPL_BM_RUNS,
			      .max_len = REPL_BM_RUNS + REPL_BM_RUN_SIZE * REPL_BM_MAX_RUNS, .phases = RUN,
			      .handler = repl_h_bitmap },
	[REPL_MSG_BITMAP_DONE] = { .name = "BITMAP_DONE", .min_len = REPL_BMD_SIZE, .max_len = REPL_BMD_SIZE,
				   .phases = RUN, .handler = repl_h_bitmap_done },
	[REPL_MSG_SYNC_START] = { .name = "SYNC_START", .min_len = REPL_SS_SIZE, .max_len = REPL_SS_SIZE,
				  .phases = RUN, .handler = repl_h_sync_start },
	[REPL_MSG_RS_DATA] = { .name = "RS_DATA", .min_len = REPL_RS_SIZE, .max_len = REPL_RS_SIZE + REPL_RS_MAX_BYTES,
			       .fixed_len = REPL_RS_SIZE, .phases = RUN, .handler = repl_h_rs_data },
	[REPL_MSG_RS_ACK] = { .name = "RS_ACK", .min_len = REPL_RSA_SIZE, .max_len = REPL_RSA_SIZE, .phases = RUN,
			      .handler = repl_h_rs_ack },
	[REPL_MSG_RS_DONE] = { .name = "RS_DONE", .min_len = REPL_RSD_SIZE, .max_len = REPL_RSD_SIZE, .phases = RUN,
			       .handler = repl_h_rs_done },
	[REPL_MSG_OV_REQ] = { .name = "OV_REQ", .min_len = REPL_OV_CRCS + 4,
			      .max_len = REPL_OV_CRCS + 4 * REPL_OV_MAX_CHUNKS, .phases = RUN,
			      .handler = repl_h_ov_req },
	[REPL_MSG_OV_REPLY] = { .name = "OV_REPLY", .min_len = REPL_OVR_SIZE, .max_len = REPL_OVR_SIZE, .phases = RUN,
				.handler = repl_h_ov_reply },
	[REPL_MSG_OV_DONE] = { .name = "OV_DONE", .min_len = REPL_OVD_SIZE, .max_len = REPL_OVD_SIZE, .phases = RUN,
			       .handler = repl_h_ov_done },
};

const char *repl_msg_name(unsigned type)
{
	if (type < REPL_MSG_MAX && repl_msg_table[type].name)
		return repl_msg_table[type].name;
	return "UNKNOWN";
}

const char *repl_hdr_err_name(enum repl_hdr_err e)
{
	switch (e) {
	case REPL_HDR_OK: return "ok";
	case REPL_HDR_BAD_MAGIC: return "bad magic (not a tandem replication peer, or garbage)";
	case REPL_HDR_UNKNOWN_TYPE: return "unknown message type";
	case REPL_HDR_BAD_LENGTH: return "message length out of bounds for its type";
	case REPL_HDR_BAD_PHASE: return "message not allowed at this point of the connection";
	case REPL_HDR_BAD_SEQ: return "sequence number out of order";
	}
	return "?";
}

void repl_hdr_put(uint8_t *p, uint16_t type, uint32_t len, uint32_t vol, uint64_t seq)
{
	put_be32(p + REPL_HDR_MAGIC, REPL_MAGIC);
	put_be16(p + REPL_HDR_TYPE, type);
	put_be16(p + REPL_HDR_FLAGS, 0);
	put_be32(p + REPL_HDR_LEN, len);
	put_be32(p + REPL_HDR_VOL, vol);
	put_be64(p + REPL_HDR_SEQ, seq);
}

enum repl_hdr_err repl_hdr_check(const uint8_t *p, unsigned phase, uint64_t expect_seq, struct repl_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (get_be32(p + REPL_HDR_MAGIC) != REPL_MAGIC)
		return REPL_HDR_BAD_MAGIC;
	m->type = get_be16(p + REPL_HDR_TYPE);
	m->len = get_be32(p + REPL_HDR_LEN);
	m->vol = get_be32(p + REPL_HDR_VOL);
	m->seq = get_be64(p + REPL_HDR_SEQ);
	if (m->type >= REPL_MSG_MAX || !repl_msg_table[m->type].name)
		return REPL_HDR_UNKNOWN_TYPE;
	const struct repl_msg_desc *d = &repl_msg_table[m->type];
	if (m->len < d->min_len || m->len > d->max_len)
		return REPL_HDR_BAD_LENGTH;
	if (!(d->phases & phase))
		return REPL_HDR_BAD_PHASE;
	if (expect_seq && m->seq != expect_seq)
		return REPL_HDR_BAD_SEQ;
	return REPL_HDR_OK;
}

static int whyf(char *why, size_t whylen, const char *msg)
{
	snprintf(why, whylen, "%s", msg);
	return -1;
}

int repl_body_check(const struct repl_msg *m, char *why, size_t whylen)
{
	const uint8_t *b = m->body;

	switch (m->type) {
	case REPL_MSG_DATA: {
		uint32_t len = get_be32(b + REPL_DATA_LENGTH);
		uint8_t op = b[REPL_DATA_OP];
		uint64_t off = get_be64(b + REPL_DATA_OFFSET);
		bool payload = op == REPL_OP_WRITE || op == REPL_OP_STATE;

		if (op < REPL_OP_WRITE || op > REPL_OP_STATE)
			return whyf(why, whylen, "DATA with an unknown operation");
		if (op != REPL_OP_STATE && off + len < off)        /* STATE: OFFSET is a sequence number */
			return whyf(why, whylen, "DATA range wraps");
		if (op == REPL_OP_STATE && len > REPL_STATE_MAX)
			return whyf(why, whylen, "DATA state record too large");
		if (payload ? m->payload_len != len || len == 0 : m->payload_len != 0)
			return whyf(why, whylen, "DATA length does not match its payload");
		if (payload &&
		    repl_crc_iov(&(struct iovec){ .iov_base = (void *)m->payload, .iov_len = len }, 1, len) !=
			    get_be32(b + REPL_DATA_CRC))
			return whyf(why, whylen, "DATA payload CRC32C mismatch");
		return 0;
	}
	case REPL_MSG_RS_DATA: {
		uint32_t len = get_be32(b + REPL_RS_LENGTH);

		if (len == 0 || m->payload_len != len)
			return whyf(why, whylen, "RS_DATA length does not match its payload");
		if (repl_crc_iov(&(struct iovec){ .iov_base = (void *)m->payload, .iov_len = len }, 1, len) !=
		    get_be32(b + REPL_RS_CRC))
			return whyf(why, whylen, "RS_DATA payload CRC32C mismatch");
		return 0;
	}
	case REPL_MSG_BITMAP: {
		uint32_t n = get_be32(b + REPL_BM_NRUNS);

		if (n > REPL_BM_MAX_RUNS || m->len != REPL_BM_RUNS + (uint64_t)n * REPL_BM_RUN_SIZE)
			return whyf(why, whylen, "BITMAP run count does not match its length");
		return 0;
	}
	case REPL_MSG_OV_REQ: {
		uint32_t n = get_be32(b + REPL_OV_NCHUNKS);

		if (n == 0 || n > REPL_OV_MAX_CHUNKS || m->len != REPL_OV_CRCS + 4 * n)
			return whyf(why, whylen, "OV_REQ chunk count does not match its length");
		if (get_be32(b + REPL_OV_LENGTH) == 0)
			return whyf(why, whylen, "OV_REQ of zero length");
		return 0;
	}
	case REPL_MSG_VOL_STATE:
		if (!memchr(b + REPL_VS_VOLID, '\0', REPL_VOLID_LEN) || b[REPL_VS_VOLID] == '\0')
			return whyf(why, whylen, "VOL_STATE volume id not terminated");
		if (b[REPL_VS_DISK] > REPL_DISK_DUNKNOWN || b[REPL_VS_ROLE] > REPL_ROLE_PRIMARY)
			return whyf(why, whylen, "VOL_STATE with an unknown disk state or role");
		return 0;
	case REPL_MSG_ROLE:
		if (b[REPL_ROLE_ROLE] > REPL_ROLE_PRIMARY)
			return whyf(why, whylen, "ROLE with an unknown role");
		return 0;
	default:
		return 0;
	}
}

uint32_t repl_crc_iov(const struct iovec *iov, int iovcnt, size_t len)
{
	uint32_t crc = ISCSI_CRC32C_INIT;

	for (int i = 0; i < iovcnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		crc = iscsi_crc32c_update(crc, iov[i].iov_base, n);
		len -= n;
	}
	return iscsi_crc32c_final(crc);
}

int repl_negotiate_version(unsigned my_min, unsigned my_max, unsigned peer_min, unsigned peer_max)
{
	unsigned lo = my_min > peer_min ? my_min : peer_min;
	unsigned hi = my_max < peer_max ? my_max : peer_max;

	if (my_min > my_max || peer_min > peer_max || lo > hi || hi == 0)
		return -1;
	return (int)hi;
}

/* label || version || chal_connector || chal_acceptor || speaker's name || listener's name */
void repl_auth_mac(const char *secret, bool from_connector, uint16_t version,
		   const uint8_t chal_connector[REPL_CHALLENGE_LEN], const uint8_t chal_acceptor[REPL_CHALLENGE_LEN],
		   const char *name_connector, const char *name_acceptor, uint8_t out[REPL_MAC_LEN])
{
	uint8_t msg[16 + 2 + 2 * REPL_CHALLENGE_LEN + 2 * REPL_NAME_LEN];
	size_t n = 0;
	unsigned int maclen = REPL_MAC_LEN;
	const char *label = from_connector ? "tandem-repl-C-v1" : "tandem-repl-A-v1";

	memset(msg, 0, sizeof(msg));
	memcpy(msg, label, 16);
	n = 16;
	put_be16(msg + n, version);
	n += 2;
	memcpy(msg + n, chal_connector, REPL_CHALLENGE_LEN);
	n += REPL_CHALLENGE_LEN;
	memcpy(msg + n, chal_acceptor, REPL_CHALLENGE_LEN);
	n += REPL_CHALLENGE_LEN;
	strncpy((char *)msg + n, from_connector ? name_connector : name_acceptor, REPL_NAME_LEN - 1);
	n += REPL_NAME_LEN;
	strncpy((char *)msg + n, from_connector ? name_acceptor : name_connector, REPL_NAME_LEN - 1);
	n += REPL_NAME_LEN;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, n, out, &maclen))
		memset(out, 0, REPL_MAC_LEN);
	OPENSSL_cleanse(msg, sizeof(msg));
}

bool repl_auth_verify(const char *secret, bool from_connector, uint16_t version,
		      const uint8_t chal_connector[REPL_CHALLENGE_LEN], const uint8_t chal_acceptor[REPL_CHALLENGE_LEN],
		      const char *name_connector, const char *name_acceptor, const uint8_t mac[REPL_MAC_LEN])
{
	uint8_t want[REPL_MAC_LEN];
	bool ok;

	if (memcmp(chal_connector, chal_acceptor, REPL_CHALLENGE_LEN) == 0)
		return false;           /* a reflected challenge proves nothing */
	repl_auth_mac(secret, from_connector, version, chal_connector, chal_acceptor, name_connector,
		      name_acceptor, want);
	ok = CRYPTO_memcmp(want, mac, REPL_MAC_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

int repl_random(uint8_t *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void repl_hello_put(uint8_t *body, const struct repl_hello *h)
{
	memset(body, 0, REPL_HELLO_SIZE);
	put_be16(body + REPL_HELLO_MIN_VER, h->min_ver);
	put_be16(body + REPL_HELLO_MAX_VER, h->max_ver);
	put_be32(body + REPL_HELLO_FEATURES, 0);
	memcpy(body + REPL_HELLO_CHALLENGE, h->challenge, REPL_CHALLENGE_LEN);
	put_fixed_str(body + REPL_HELLO_NAME, REPL_NAME_LEN, h->name);
}

void repl_gen_put(uint8_t *p, const struct repl_md_gen *g)
{
	put_be64(p, g->current);
	put_be64(p + 8, g->bitmap);
	put_be64(p + 16, g->history[0]);
	put_be64(p + 24, g->history[1]);
}

void repl_gen_get(const uint8_t *p, struct repl_md_gen *g)
{
	g->current = get_be64(p);
	g->bitmap = get_be64(p + 8);
	g->history[0] = get_be64(p + 16);
	g->history[1] = get_be64(p + 24);
}

int repl_hello_get(const uint8_t *body, struct repl_hello *h)
{
	const uint8_t *name = body + REPL_HELLO_NAME;
	const uint8_t *nul = memchr(name, '\0', REPL_NAME_LEN);

	memset(h, 0, sizeof(*h));
	h->min_ver = get_be16(body + REPL_HELLO_MIN_VER);
	h->max_ver = get_be16(body + REPL_HELLO_MAX_VER);
	memcpy(h->challenge, body + REPL_HELLO_CHALLENGE, REPL_CHALLENGE_LEN);
	if (!nul || nul == name)
		return -1;
	for (const uint8_t *p = name; p < nul; p++)
		if (!isprint(*p))
			return -1;
	memcpy(h->name, name, (size_t)(nul - name));
	return 0;
}

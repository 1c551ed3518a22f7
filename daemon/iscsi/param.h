/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Login and text key negotiation (RFC 7143 6 and 13). Keys live in one table
 * with their type, default and range; values are parsed once into typed fields.
 * This module is pure: no sockets, no sessions. login.c drives it. */
#ifndef TANDEM_ISCSI_PARAM_H
#define TANDEM_ISCSI_PARAM_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define ISCSI_TEXT_DEFAULT_LIMIT (64u * 1024u)
/* Growable buffer of "key=value\0" pairs for a response data segment. */
struct iscsi_text {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;               /* refuse to grow past this (bytes); 0 = ISCSI_TEXT_DEFAULT_LIMIT */
};
int iscsi_text_add(struct iscsi_text *t, const char *key, const char *value);
int iscsi_text_addf(struct iscsi_text *t, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Raw bytes (a piece of a request that continues in the next PDU). */
int iscsi_text_append(struct iscsi_text *t, const void *data, size_t len);
void iscsi_text_free(struct iscsi_text *t);

/* Split a data segment into pairs: calls fn for each "key=value" (value may be
 * empty). A pair without '=' or with a key longer than 63 bytes or a value longer
 * than 8192 bytes (RFC 7143 6.1) makes it return -1 (protocol error). A data
 * segment not ending in NUL is accepted only if complete (last pair terminated by
 * the segment end). Returns 0 or the callback's first non-zero return value. */
int iscsi_text_parse(const char *data, size_t len,
		     int (*fn)(const char *key, const char *value, void *arg), void *arg);

enum iscsi_session_type { ISCSI_SESSION_NONE = 0, ISCSI_SESSION_DISCOVERY, ISCSI_SESSION_NORMAL };

/* Operational parameters in force for a session/connection (typed). */
struct iscsi_params {
	/* session-wide */
	uint32_t max_connections;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_burst_length;
	uint32_t first_burst_length;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_outstanding_r2t;
	bool data_pdu_in_order;
	bool data_sequence_in_order;
	uint32_t error_recovery_level;
	/* connection */
	bool header_digest;         /* CRC32C negotiated */
	bool data_digest;
	uint32_t max_recv_dsl;      /* what the target declared it receives (data-out/cmd) */
	uint32_t max_xmit_dsl;      /* what the initiator declared: limit for our data-in PDUs */
};

/* Limits from the configuration that bound what we accept/offer. */
struct iscsi_param_limits {
	uint32_t max_recv_dsl;      /* target's MaxRecvDataSegmentLength, default 1 MiB */
	uint32_t max_burst;         /* ceiling for MaxBurstLength */
	uint32_t first_burst;       /* ceiling for FirstBurstLength */
	uint32_t max_connections;
	uint32_t max_outstanding_r2t;  /* ceiling, default 32 */
};

/* Negotiation state for one login (all its PDUs) or one Text exchange. */
struct iscsi_negotiation {
	struct iscsi_param_limits lim;
	struct iscsi_params p;      /* starts with RFC 7143 defaults */
	enum iscsi_session_type session_type;
	bool leading;               /* leading connection: session-wide keys allowed */
	uint64_t seen;              /* bit per table key: offered once already (refuse a repeat) */
	uint64_t declared;          /* our declarative keys already sent */
	char initiator_name[224];
	char initiator_alias[256];
	char target_name[224];
	/* Security stage (AuthMethod / CHAP): recorded for login.c */
	char auth_method_offer[128];  /* raw value of AuthMethod offered, "" if none */
	/* keys other than operational ones (CHAP_*) are passed to this callback
	 * during the security stage; NULL = NotUnderstood. */
	int (*security_key)(const char *key, const char *value, void *arg);
	void *security_arg;
	/* ADDITIVE (param.c owner): AuthMethod policy set by login.c before the
	 * security stage, and the outcome of AuthMethod negotiation. */
	bool chap_required;         /* only CHAP acceptable (None refused) */
	bool chap_allowed;          /* CHAP acceptable (implied by chap_required) */
	int auth_method;            /* ISCSI_AUTH_*: what we answered; NONE until AuthMethod seen */
};

/* ADDITIVE: values of iscsi_negotiation.auth_method */
enum { ISCSI_AUTH_NONE = 0, ISCSI_AUTH_CHAP = 1, ISCSI_AUTH_REJECTED = -1 };

/* Error results of iscsi_param_negotiate (login status detail to use) */
enum {
	ISCSI_PARAM_OK = 0,
	ISCSI_PARAM_ERR_INITIATOR = -1,  /* malformed / forbidden: Login reject 0x0200 Initiator error */
	ISCSI_PARAM_ERR_MISSING = -2,    /* required key missing: 0x0207 */
	ISCSI_PARAM_ERR_RESOURCES = -3,  /* response too large: 0x0302 out of resources */
};

enum iscsi_login_stage { ISCSI_STAGE_SECURITY = 0, ISCSI_STAGE_OPERATIONAL = 1, ISCSI_STAGE_FULL_FEATURE = 3 };

/* Set defaults (RFC 7143 13.x) and limits. */
void iscsi_negotiation_init(struct iscsi_negotiation *n, const struct iscsi_param_limits *lim, bool leading);
/* Handle every pair of one login/text request data segment in the given stage.
 * Negotiated values go into n->p; answers (including NotUnderstood, Irrelevant,
 * Reject) are appended to out. InitiatorName, SessionType, TargetName,
 * InitiatorAlias are recorded in n. Returns ISCSI_PARAM_OK or an error above. */
int iscsi_param_negotiate(struct iscsi_negotiation *n, int stage, const char *in, size_t inlen,
			  struct iscsi_text *out);
/* At the transition out of the operational stage: add the declarations the
 * target owes even if not asked (our MaxRecvDataSegmentLength, TargetAlias...).
 * Session-type rules (discovery sessions ignore session keys) apply. */
int iscsi_param_finish(struct iscsi_negotiation *n, const char *target_alias, uint16_t tpgt,
		       struct iscsi_text *out);
/* ADDITIVE: declare TargetAlias (if non-empty) and TargetPortalGroupTag once
 * (normal sessions only; RFC 7143 13.9: in the first login response). Safe to
 * call on every response; iscsi_param_finish calls it too. 0 or ERR_RESOURCES. */
int iscsi_param_declare_target(struct iscsi_negotiation *n, const char *target_alias, uint16_t tpgt,
			       struct iscsi_text *out);
/* ADDITIVE: RFC 7143 6.1 numerical value: decimal-constant or hex-constant
 * ("0x"/"0X"), no sign, no blanks, no trailing garbage, fits in 32 bits. 0 / -1. */
int iscsi_param_parse_u32(const char *s, uint32_t *out);
/* ADDITIVE, for unit tests: walk the key table (NULL past the end). */
size_t iscsi_param_table_size(void);
const char *iscsi_param_table_name(size_t i, uint32_t *def, uint32_t *min, uint32_t *max, int *type);

/* CHAP (RFC 1994, RFC 7143 12.1.3): target side. Pure functions over secrets. */
/* RFC 7143 12.1.3: CHAP_C and CHAP_R are binary values of at most 1024
 * bytes; as text the longest is a hex constant ("0x" + 2048 digits) */
#define ISCSI_CHAP_BINARY_MAX 1024
#define ISCSI_CHAP_VALUE_MAX (2 + 2 * ISCSI_CHAP_BINARY_MAX + 1)
enum iscsi_chap_alg { ISCSI_CHAP_MD5 = 5, ISCSI_CHAP_SHA1 = 6, ISCSI_CHAP_SHA256 = 7 };
struct iscsi_chap {
	int state;                  /* private */
	int alg;
	uint8_t id;
	uint8_t challenge[32];
	size_t challenge_len;
	bool mutual;                /* initiator asked us to authenticate (CHAP_I/CHAP_C) */
	char user[256];             /* CHAP_N received */
};
/* Choose an algorithm from the initiator's CHAP_A list; fill CHAP_A, CHAP_I,
 * CHAP_C into out. Returns 0 or -1 (no acceptable algorithm -> Reject). */
int iscsi_chap_start(struct iscsi_chap *c, const char *chap_a_list, struct iscsi_text *out);
/* Verify the initiator's CHAP_N/CHAP_R against (user, secret). If the initiator
 * sent CHAP_I/CHAP_C (mutual), answer with CHAP_N=mutual_user / CHAP_R computed
 * from mutual_secret; refuse mutual when no mutual secret is configured or the
 * challenge equals ours (reflection). Returns 0 ok, -1 auth failure, -2 malformed. */
int iscsi_chap_verify(struct iscsi_chap *c, const char *chap_n, const char *chap_r,
		      const char *chap_i, const char *chap_c,
		      const char *user, const char *secret,
		      const char *mutual_user, const char *mutual_secret, struct iscsi_text *out);
/* ADDITIVE: decode an RFC 7143 6.1 binary value: "0x"/"0X" + hex digits (an odd
 * count has an implied leading 0 nibble: n digits are (n + 1) / 2 bytes), or
 * "0b"/"0B" + padded base64. Returns decoded length, -1 if malformed, empty or
 * longer than cap. */
int iscsi_chap_decode_binary(const char *s, uint8_t *out, size_t cap);

/* CRC32C for header/data digests (RFC 7143 11.1): hardware-accelerated. */
uint32_t iscsi_crc32c(const void *buf, size_t len);
/* Continue a digest over several pieces: crc = iscsi_crc32c_update(ISCSI_CRC32C_INIT, ...)
 * then iscsi_crc32c_final(crc). */
#define ISCSI_CRC32C_INIT 0xffffffffu
uint32_t iscsi_crc32c_update(uint32_t crc, const void *buf, size_t len);
uint32_t iscsi_crc32c_final(uint32_t crc);
/* ADDITIVE: the digest field is little-endian on the wire (RFC 3720 B.4 byte
 * listings), unlike other header fields: store/load it with these. */
void iscsi_crc32c_put_le(uint8_t *p, uint32_t crc);
uint32_t iscsi_crc32c_get_le(const uint8_t *p);
#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The replication wire protocol (docs/REPLICATION.md): message types, fixed
 * byte offsets, the handshake MAC and version negotiation, so that both ends
 * and the unit tests agree on one definition and nothing is cast into a buffer. */
#ifndef TANDEM_REPL_PROTO_H
#define TANDEM_REPL_PROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPL_MAGIC 0x544e4452u                  /* "TNDR" */
#define REPL_PROTO_MIN 1                        /* versions this build speaks */
#define REPL_PROTO_MAX 3                        /* 2: DATA op STATE; 3: its record may carry mode parameters */

/* ---- header: every message starts with these 24 bytes ---- */
enum {
	REPL_HDR_MAGIC = 0,                     /* u32 REPL_MAGIC */
	REPL_HDR_TYPE = 4,                      /* u16 enum repl_msg_type */
	REPL_HDR_FLAGS = 6,                     /* u16, 0 (reserved) */
	REPL_HDR_LEN = 8,                       /* u32 body length (bytes after the header) */
	REPL_HDR_VOL = 12,                      /* u32 sender's volume index, REPL_VOL_NONE for link messages */
	REPL_HDR_SEQ = 16,                      /* u64 per-direction sequence number, first message = 1 */
	REPL_HDR_SIZE = 24,
};
#define REPL_VOL_NONE 0xffffffffu
#define REPL_MAX_BODY ((16u << 20) + 64)        /* largest body: a 16 MiB write + its fixed part */

enum repl_msg_type {
	REPL_MSG_HELLO = 1,
	REPL_MSG_AUTH = 2,
	REPL_MSG_ERROR = 3,
	REPL_MSG_PING = 4,
	REPL_MSG_PING_ACK = 5,
	REPL_MSG_ROLE = 6,
	REPL_MSG_VOL_STATE = 10,
	REPL_MSG_VOL_DETACH = 11,
	REPL_MSG_DATA = 20,
	REPL_MSG_DATA_ACK = 21,
	REPL_MSG_BITMAP = 30,
	REPL_MSG_BITMAP_DONE = 31,
	REPL_MSG_SYNC_START = 32,
	REPL_MSG_RS_DATA = 33,
	REPL_MSG_RS_ACK = 34,
	REPL_MSG_RS_DONE = 35,
	REPL_MSG_OV_REQ = 40,
	REPL_MSG_OV_REPLY = 41,
	REPL_MSG_OV_DONE = 42,
	REPL_MSG_MAX = 43,                      /* table size */
};

/* ---- bodies: offsets from the start of the body ---- */
#define REPL_CHALLENGE_LEN 32
#define REPL_MAC_LEN 32                         /* HMAC-SHA256 */
#define REPL_NAME_LEN 64                        /* node names, NUL padded */
#define REPL_VOLID_LEN 72                       /* volume ids (LUN serial, <= 64 chars), NUL padded */

enum {                                          /* HELLO: both ends, first message */
	REPL_HELLO_MIN_VER = 0,                 /* u16 */
	REPL_HELLO_MAX_VER = 2,                 /* u16 */
	REPL_HELLO_FEATURES = 4,                /* u32, 0 */
	REPL_HELLO_CHALLENGE = 8,               /* 32 random bytes */
	REPL_HELLO_NAME = 40,                   /* node name */
	REPL_HELLO_SIZE = 104,
};
enum {                                          /* AUTH: MAC over both challenges */
	REPL_AUTH_VERSION = 0,                  /* u16 negotiated version */
	REPL_AUTH_RESERVED = 2,                 /* u16 0 */
	REPL_AUTH_MAC = 4,
	REPL_AUTH_SIZE = 36,
};
enum {                                          /* ERROR: why the sender closes */
	REPL_ERROR_CODE = 0,                    /* u32 enum repl_err_code */
	REPL_ERROR_TEXT = 4,                    /* text, not NUL terminated */
	REPL_ERROR_MIN = 4,
	REPL_ERROR_MAX = 4 + 200,
};
enum repl_err_code {
	REPL_ERR_PROTOCOL = 1, REPL_ERR_VERSION = 2, REPL_ERR_AUTH = 3, REPL_ERR_NAME = 4, REPL_ERR_CRC = 5,
	REPL_ERR_SHUTDOWN = 6,
};
enum { REPL_PING_STAMP = 0, REPL_PING_SIZE = 8 };        /* PING / PING_ACK: u64 sender's ms clock, echoed */
enum { REPL_ROLE_ROLE = 0, REPL_ROLE_SIZE = 8 };          /* ROLE: u8 enum repl_role, 7 reserved */
enum {                                          /* VOL_STATE: one volume's metadata view */
	REPL_VS_VOLID = 0,                      /* volume id (the LUN's serial), NUL padded */
	REPL_VS_SIZE_BYTES = 72,                /* u64 device size */
	REPL_VS_CHUNK = 80,                     /* u32 bitmap chunk bytes */
	REPL_VS_MDFLAGS = 84,                   /* u32 REPL_MD_F_* */
	REPL_VS_GEN_CURRENT = 88,               /* u64 x 4: current, bitmap, history[0], history[1] */
	REPL_VS_GEN_BITMAP = 96,
	REPL_VS_GEN_HIST0 = 104,
	REPL_VS_GEN_HIST1 = 112,
	REPL_VS_DISK = 120,                     /* u8 enum repl_disk_state */
	REPL_VS_ROLE = 121,                     /* u8 enum repl_role */
	REPL_VS_ATTACH = 122,                   /* u8 1: wants to replicate */
	REPL_VS_OPTS = 123,                     /* u8 REPL_VS_O_* */
	REPL_VS_SIZE = 128,
};
enum { REPL_VS_O_DISCARD_MY_DATA = 1u << 0 };
/* In REPL_VS_MDFLAGS next to the metadata flags, announced only (never
 * stored): this node's bitmap is not empty. Both sides then agree which one
 * makes the degraded-mode bump on a "none" decision (repl_vol_decide). */
#define REPL_VS_MDF_DIRTY (1u << 31)
enum { REPL_DETACH_SIZE = 8 };                           /* VOL_DETACH: u8 flags, 7 reserved bytes */
enum { REPL_DETACH_FLAGS = 0 };
/* The volume index is the receiver's own: the answer to its VOL_STATE for a
 * volume the sender has not open (without it, the sender's index). */
enum { REPL_DETACH_F_YOURS = 1u << 0 };
enum {                                          /* DATA: a mirrored request */
	REPL_DATA_OFFSET = 0,                   /* u64 bytes */
	REPL_DATA_LENGTH = 8,                   /* u32 bytes the request covers */
	REPL_DATA_OP = 12,                      /* u8 enum repl_data_op */
	REPL_DATA_IOFLAGS = 13,                 /* u8 REPL_IOF_* */
	REPL_DATA_RESERVED = 14,                /* u16 0 */
	REPL_DATA_CRC = 16,                     /* u32 CRC32C of the payload (0 without) */
	REPL_DATA_TAG = 20,                     /* u32 sender's request slot, echoed in the ack */
	REPL_DATA_SIZE = 24,                    /* followed by LENGTH payload bytes for WRITE */
};
/* STATE (version 2): the LUN's state record (persistent reservations), opaque
 * to repl/: OFFSET is its sequence number, LENGTH and payload the record. */
enum repl_data_op { REPL_OP_WRITE = 1, REPL_OP_FLUSH = 2, REPL_OP_UNMAP = 3, REPL_OP_WRITE_ZEROES = 4,
		    REPL_OP_STATE = 5 };
#define REPL_STATE_MAX (1u << 20)               /* largest state record */
/* ZERO: the unmapped range must read as zeroes; FORCE (STATE): the Primary's
 * whole record as the link came up, installed whatever its sequence number */
enum { REPL_IOF_FUA = 1u << 0, REPL_IOF_ZERO = 1u << 1, REPL_IOF_FORCE = 1u << 2 };
enum {                                          /* DATA_ACK: after the peer's own write completed */
	REPL_ACK_SEQ = 0,                       /* u64 seq of the DATA */
	REPL_ACK_TAG = 8,                       /* u32 tag of the DATA */
	REPL_ACK_STATUS = 12,                   /* u32 0 or errno */
	REPL_ACK_SIZE = 16,
};
enum {                                          /* BITMAP: runs of dirty chunks */
	REPL_BM_NRUNS = 0,                      /* u32 */
	REPL_BM_RESERVED = 4,
	REPL_BM_RUNS = 8,                       /* nruns x { u64 first bit, u64 bit count } */
	REPL_BM_RUN_SIZE = 16,
	REPL_BM_MAX_RUNS = 4096,
};
enum { REPL_BMD_TOTAL = 0, REPL_BMD_SIZE = 8 };           /* BITMAP_DONE: u64 bits the sender has set */
enum { REPL_SS_FULL = 0, REPL_SS_SIZE = 8 };              /* SYNC_START: u8 full, 7 reserved */
enum {                                          /* RS_DATA: resync data, source -> target */
	REPL_RS_OFFSET = 0,                     /* u64 */
	REPL_RS_LENGTH = 8,                     /* u32 */
	REPL_RS_CRC = 12,                       /* u32 CRC32C of the payload */
	REPL_RS_SIZE = 16,
};
enum { REPL_RSA_OFFSET = 0, REPL_RSA_LENGTH = 8, REPL_RSA_STATUS = 12, REPL_RSA_SIZE = 16 };   /* RS_ACK */
/* generation ids on the wire: current, bitmap, history[0], history[1], u64 each */
enum { REPL_GEN_SIZE = 32 };
enum { REPL_RSD_GEN = 0, REPL_RSD_SIZE = 32 };           /* RS_DONE: source's generation ids (4 x u64) */
enum {                                          /* OV_REQ: verify, CRC32C per chunk of the range */
	REPL_OV_OFFSET = 0,                     /* u64 */
	REPL_OV_LENGTH = 8,                     /* u32 */
	REPL_OV_NCHUNKS = 12,                   /* u32, 1..32 */
	REPL_OV_FLAGS = 16,                     /* u32 REPL_OVF_* */
	REPL_OV_CRCS = 20,                      /* nchunks x u32 */
	REPL_OV_MAX_CHUNKS = 32,
};
enum { REPL_OVF_RESYNC = 1u << 0 };
enum { REPL_OVR_OFFSET = 0, REPL_OVR_LENGTH = 8, REPL_OVR_MISMATCH = 12, REPL_OVR_SIZE = 16 };  /* OV_REPLY: u32 mask */
enum { REPL_OVD_MISMATCHES = 0, REPL_OVD_FLAGS = 8, REPL_OVD_SIZE = 16 };  /* OV_DONE: u64 count, u32 REPL_OVF_* */

_Static_assert(REPL_HELLO_NAME + REPL_NAME_LEN == REPL_HELLO_SIZE, "HELLO layout");
_Static_assert(REPL_AUTH_MAC + REPL_MAC_LEN == REPL_AUTH_SIZE, "AUTH layout");
_Static_assert(REPL_VS_VOLID + REPL_VOLID_LEN == REPL_VS_SIZE_BYTES && REPL_VS_OPTS + 1 <= REPL_VS_SIZE,
	       "VOL_STATE layout");
_Static_assert(REPL_DATA_TAG + 4 == REPL_DATA_SIZE, "DATA layout");
_Static_assert(REPL_VS_GEN_CURRENT + REPL_GEN_SIZE == REPL_VS_DISK && REPL_VS_GEN_HIST1 == REPL_VS_GEN_CURRENT + 24 &&
	       REPL_RSD_GEN + REPL_GEN_SIZE == REPL_RSD_SIZE, "generation ids: 4 x u64 in a row");
_Static_assert(REPL_OV_CRCS + 4 * REPL_OV_MAX_CHUNKS < 256, "OV_REQ fits a small message");

/* Which part of a connection's life a message belongs to. */
enum repl_phase { REPL_PH_HANDSHAKE = 1u << 0, REPL_PH_RUNNING = 1u << 1 };

/* A decoded header; body points into the receive buffer. */
struct repl_msg {
	uint16_t type;
	uint32_t len;
	uint32_t vol;
	uint64_t seq;
	const uint8_t *body;            /* fixed part (and small payloads) */
	const uint8_t *payload;         /* bulk payload of DATA / RS_DATA, or NULL */
	uint32_t payload_len;
};

struct repl_conn;
typedef int (*repl_msg_handler)(struct repl_conn *c, const struct repl_msg *m);

/* The receiver's table (DRBD style): sizes are checked before the handler runs. */
struct repl_msg_desc {
	const char *name;
	uint32_t min_len, max_len;      /* body length bounds */
	uint32_t fixed_len;             /* bytes before a bulk payload (DATA, RS_DATA), else 0 */
	unsigned phases;                /* enum repl_phase mask */
	repl_msg_handler handler;
};
extern const struct repl_msg_desc repl_msg_table[REPL_MSG_MAX];

/* Header checks, in this order. */
enum repl_hdr_err {
	REPL_HDR_OK = 0,
	REPL_HDR_BAD_MAGIC,
	REPL_HDR_UNKNOWN_TYPE,
	REPL_HDR_BAD_LENGTH,            /* outside the type's bounds */
	REPL_HDR_BAD_PHASE,             /* e.g. DATA before authentication */
	REPL_HDR_BAD_SEQ,               /* not the next sequence number */
};
const char *repl_hdr_err_name(enum repl_hdr_err e);
const char *repl_msg_name(unsigned type);
void repl_hdr_put(uint8_t *p, uint16_t type, uint32_t len, uint32_t vol, uint64_t seq);
/* Decode and validate a 24-byte header against the table, the phase and the
 * expected sequence number (0 = do not check). */
enum repl_hdr_err repl_hdr_check(const uint8_t *p, unsigned phase, uint64_t expect_seq, struct repl_msg *m);
/* Checks that need the body: exact lengths of variable messages (BITMAP, OV_REQ,
 * DATA), payload CRCs. 0, or -1 with a reason in why. */
int repl_body_check(const struct repl_msg *m, char *why, size_t whylen);

/* Payload CRC32C over an iovec (DATA, RS_DATA). */
struct iovec;
uint32_t repl_crc_iov(const struct iovec *iov, int iovcnt, size_t len);

/* Version negotiation: the highest version both ranges contain, or -1. */
int repl_negotiate_version(unsigned my_min, unsigned my_max, unsigned peer_min, unsigned peer_max);

/* Handshake MAC: HMAC-SHA256(secret, label || version || challenges || names),
 * label and order depending on which side speaks, so a MAC cannot be reflected
 * back and a recorded one does not verify against a fresh challenge. */
void repl_auth_mac(const char *secret, bool from_connector, uint16_t version,
		   const uint8_t chal_connector[REPL_CHALLENGE_LEN], const uint8_t chal_acceptor[REPL_CHALLENGE_LEN],
		   const char *name_connector, const char *name_acceptor, uint8_t out[REPL_MAC_LEN]);
bool repl_auth_verify(const char *secret, bool from_connector, uint16_t version,
		      const uint8_t chal_connector[REPL_CHALLENGE_LEN], const uint8_t chal_acceptor[REPL_CHALLENGE_LEN],
		      const char *name_connector, const char *name_acceptor, const uint8_t mac[REPL_MAC_LEN]);
int repl_random(uint8_t *buf, size_t len);

/* HELLO body: encode / decode (NUL-padded name, at most REPL_NAME_LEN - 1 chars). */
struct repl_hello {
	uint16_t min_ver, max_ver;
	uint8_t challenge[REPL_CHALLENGE_LEN];
	char name[REPL_NAME_LEN];
};
void repl_hello_put(uint8_t *body, const struct repl_hello *h);
int repl_hello_get(const uint8_t *body, struct repl_hello *h);      /* -1: name not terminated/printable */

/* Generation ids as VOL_STATE and RS_DONE carry them (REPL_GEN_SIZE bytes). */
struct repl_md_gen;
void repl_gen_put(uint8_t *p, const struct repl_md_gen *g);
void repl_gen_get(const uint8_t *p, struct repl_md_gen *g);
#endif

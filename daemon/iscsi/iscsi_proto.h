/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iSCSI wire format (RFC 7143 11): opcodes, flag bits and the fixed byte
 * offsets of every Basic Header Segment field, accessed with util/be.h only. */
#ifndef TANDEM_ISCSI_PROTO_H
#define TANDEM_ISCSI_PROTO_H
#include <stdint.h>
#include <stdbool.h>
#include "util/be.h"

/* RFC 7143 11.2.1: the BHS is always 48 bytes. */
#define ISCSI_BHS_LEN 48
#define ISCSI_DIGEST_LEN 4
#define ISCSI_AHS_MAX (255 * 4)     /* TotalAHSLength is one byte of 4-byte words */
#define ISCSI_RSVD_TAG 0xffffffffu  /* reserved ITT/TTT value (RFC 7143 11.2.1.8) */

/* RFC 7143 11.2.1.2 opcodes */
enum iscsi_opcode {
	/* initiator -> target */
	ISCSI_OP_NOP_OUT = 0x00,
	ISCSI_OP_SCSI_CMD = 0x01,
	ISCSI_OP_TMF_REQ = 0x02,
	ISCSI_OP_LOGIN_REQ = 0x03,
	ISCSI_OP_TEXT_REQ = 0x04,
	ISCSI_OP_DATA_OUT = 0x05,
	ISCSI_OP_LOGOUT_REQ = 0x06,
	ISCSI_OP_SNACK_REQ = 0x10,
	/* target -> initiator */
	ISCSI_OP_NOP_IN = 0x20,
	ISCSI_OP_SCSI_RSP = 0x21,
	ISCSI_OP_TMF_RSP = 0x22,
	ISCSI_OP_LOGIN_RSP = 0x23,
	ISCSI_OP_TEXT_RSP = 0x24,
	ISCSI_OP_DATA_IN = 0x25,
	ISCSI_OP_LOGOUT_RSP = 0x26,
	ISCSI_OP_R2T = 0x31,
	ISCSI_OP_ASYNC_MSG = 0x32,
	ISCSI_OP_REJECT = 0x3f,
	ISCSI_OP_MAX = 0x40,
};

/* Byte 0: opcode in bits 0-5, Immediate bit (RFC 7143 11.2.1.1). */
#define ISCSI_OPCODE_MASK 0x3f
#define ISCSI_OP_IMMEDIATE 0x40

/* Common BHS offsets (RFC 7143 11.2) */
enum {
	ISCSI_BHS_OPCODE = 0,
	ISCSI_BHS_FLAGS = 1,
	ISCSI_BHS_TOTAHS = 4,
	ISCSI_BHS_DSL = 5,          /* 24-bit DataSegmentLength */
	ISCSI_BHS_LUN = 8,
	ISCSI_BHS_ITT = 16,
	ISCSI_BHS_TTT = 20,         /* also EDTL, RTT, CID (login/logout) */
	ISCSI_BHS_CMDSN = 24,       /* StatSN in target PDUs */
	ISCSI_BHS_EXPSTATSN = 28,   /* ExpCmdSN in target PDUs */
	ISCSI_BHS_MAXCMDSN = 32,
	ISCSI_BHS_DATASN = 36,      /* DataSN / R2TSN / ExpDataSN */
	ISCSI_BHS_BUFOFF = 40,      /* Buffer Offset */
	ISCSI_BHS_RESID = 44,       /* Residual count / Desired Data Transfer Length */
};
/* Names for target-side reuse of the same offsets */
#define ISCSI_BHS_STATSN ISCSI_BHS_CMDSN
#define ISCSI_BHS_EXPCMDSN ISCSI_BHS_EXPSTATSN
#define ISCSI_BHS_EDTL ISCSI_BHS_TTT
#define ISCSI_BHS_CDB 32
#define ISCSI_CDB_LEN 16

/* Generic F (final) bit in byte 1 */
#define ISCSI_FLAG_FINAL 0x80

/* SCSI Command (RFC 7143 11.3) */
#define ISCSI_CMD_READ 0x40
#define ISCSI_CMD_WRITE 0x20
#define ISCSI_CMD_ATTR_MASK 0x07

/* SCSI Response (RFC 7143 11.4) */
#define ISCSI_RSP_BIDI_OVERFLOW 0x10
#define ISCSI_RSP_BIDI_UNDERFLOW 0x08
#define ISCSI_RSP_OVERFLOW 0x04
#define ISCSI_RSP_UNDERFLOW 0x02
enum { ISCSI_RSP_BYTE = 2, ISCSI_RSP_STATUS = 3 };
enum { ISCSI_RESPONSE_COMPLETED = 0x00, ISCSI_RESPONSE_TARGET_FAILURE = 0x01 };

/* Data-In (RFC 7143 11.7) */
#define ISCSI_DATAIN_ACK 0x40
#define ISCSI_DATAIN_OVERFLOW 0x04
#define ISCSI_DATAIN_UNDERFLOW 0x02
#define ISCSI_DATAIN_STATUS 0x01

/* Task management (RFC 7143 11.5, 11.6) */
#define ISCSI_TMF_FUNC_MASK 0x7f
enum iscsi_tmf_func {
	ISCSI_TMF_ABORT_TASK = 1,
	ISCSI_TMF_ABORT_TASK_SET = 2,
	ISCSI_TMF_CLEAR_ACA = 3,
	ISCSI_TMF_CLEAR_TASK_SET = 4,
	ISCSI_TMF_LUN_RESET = 5,
	ISCSI_TMF_TARGET_WARM_RESET = 6,
	ISCSI_TMF_TARGET_COLD_RESET = 7,
	ISCSI_TMF_TASK_REASSIGN = 8,
};
enum {
	ISCSI_TMF_RSP_COMPLETE = 0,
	ISCSI_TMF_RSP_NO_TASK = 1,
	ISCSI_TMF_RSP_NO_LUN = 2,
	ISCSI_TMF_RSP_TASK_ALLEGIANT = 3,
	ISCSI_TMF_RSP_NO_REASSIGN = 4,
	ISCSI_TMF_RSP_NOT_SUPPORTED = 5,
	ISCSI_TMF_RSP_AUTH_FAILED = 6,
	ISCSI_TMF_RSP_REJECTED = 255,
};
enum { ISCSI_TMF_RTT = 20, ISCSI_TMF_REFCMDSN = 32 };

/* Login (RFC 7143 11.12, 11.13) */
#define ISCSI_LOGIN_TRANSIT 0x80
#define ISCSI_LOGIN_CONTINUE 0x40
#define ISCSI_LOGIN_CSG_MASK 0x0c
#define ISCSI_LOGIN_CSG_SHIFT 2
#define ISCSI_LOGIN_NSG_MASK 0x03
enum {
	ISCSI_LOGIN_VMAX = 2,
	ISCSI_LOGIN_VMIN = 3,       /* VersionActive in the response */
	ISCSI_LOGIN_ISID = 8,       /* 6 bytes */
	ISCSI_LOGIN_TSIH = 14,
	ISCSI_LOGIN_CID = 20,
	ISCSI_LOGIN_STATUS_CLASS = 36,
	ISCSI_LOGIN_STATUS_DETAIL = 37,
};
#define ISCSI_ISID_LEN 6
/* Login status class/detail (RFC 7143 11.13.5), as class << 8 | detail */
enum {
	ISCSI_LOGIN_OK = 0x0000,
	ISCSI_LOGIN_TARGET_MOVED_TEMP = 0x0101,
	ISCSI_LOGIN_INITIATOR_ERROR = 0x0200,
	ISCSI_LOGIN_AUTH_FAILED = 0x0201,
	ISCSI_LOGIN_AUTHZ_FAILED = 0x0202,
	ISCSI_LOGIN_NOT_FOUND = 0x0203,
	ISCSI_LOGIN_TARGET_REMOVED = 0x0204,
	ISCSI_LOGIN_UNSUPPORTED_VERSION = 0x0205,
	ISCSI_LOGIN_TOO_MANY_CONNS = 0x0206,
	ISCSI_LOGIN_MISSING_PARAM = 0x0207,
	ISCSI_LOGIN_NO_SESSION_SPANNING = 0x0208,
	ISCSI_LOGIN_NO_SESSION_TYPE = 0x0209,
	ISCSI_LOGIN_NO_SESSION = 0x020a,
	ISCSI_LOGIN_INVALID_REQUEST = 0x020b,
	ISCSI_LOGIN_TARGET_ERROR = 0x0300,
	ISCSI_LOGIN_SERVICE_UNAVAILABLE = 0x0301,
	ISCSI_LOGIN_OUT_OF_RESOURCES = 0x0302,
};

/* Text (RFC 7143 11.10, 11.11) */
#define ISCSI_TEXT_CONTINUE 0x40

/* Logout (RFC 7143 11.14, 11.15) */
#define ISCSI_LOGOUT_REASON_MASK 0x7f
enum { ISCSI_LOGOUT_CLOSE_SESSION = 0, ISCSI_LOGOUT_CLOSE_CONN = 1, ISCSI_LOGOUT_REMOVE_CONN = 2 };
enum {
	ISCSI_LOGOUT_RSP_OK = 0,
	ISCSI_LOGOUT_RSP_NO_CID = 1,
	ISCSI_LOGOUT_RSP_NO_RECOVERY = 2,
	ISCSI_LOGOUT_RSP_FAILED = 3,
};
enum { ISCSI_LOGOUT_CID = 20, ISCSI_LOGOUT_TIME2WAIT = 40, ISCSI_LOGOUT_TIME2RETAIN = 42 };

/* Async message (RFC 7143 11.9) */
enum {
	ISCSI_ASYNC_SCSI_EVENT = 0,
	ISCSI_ASYNC_LOGOUT_REQUEST = 1,
	ISCSI_ASYNC_DROP_CONN = 2,
	ISCSI_ASYNC_DROP_ALL = 3,
	ISCSI_ASYNC_NEGOTIATE = 4,
};
enum { ISCSI_ASYNC_EVENT = 36, ISCSI_ASYNC_VCODE = 37, ISCSI_ASYNC_PARAM1 = 38, ISCSI_ASYNC_PARAM2 = 40,
       ISCSI_ASYNC_PARAM3 = 42 };

/* Reject reasons (RFC 7143 11.17.1) */
enum iscsi_reject_reason {
	ISCSI_REJECT_DATA_DIGEST = 0x02,
	ISCSI_REJECT_SNACK = 0x03,
	ISCSI_REJECT_PROTOCOL_ERROR = 0x04,
	ISCSI_REJECT_CMD_NOT_SUPPORTED = 0x05,
	ISCSI_REJECT_IMM_CMD = 0x06,
	ISCSI_REJECT_TASK_IN_PROGRESS = 0x07,
	ISCSI_REJECT_INVALID_DATA_ACK = 0x08,
	ISCSI_REJECT_INVALID_PDU_FIELD = 0x09,
	ISCSI_REJECT_OUT_OF_RESOURCES = 0x0a,
	ISCSI_REJECT_NEGOTIATION_RESET = 0x0b,
	ISCSI_REJECT_WAITING_LOGOUT = 0x0c,
};
enum { ISCSI_REJECT_REASON = 2 };

_Static_assert(ISCSI_BHS_RESID + 4 == ISCSI_BHS_LEN, "BHS is 48 bytes");
_Static_assert(ISCSI_BHS_CDB + ISCSI_CDB_LEN == ISCSI_BHS_LEN, "CDB ends the BHS");
_Static_assert(ISCSI_LOGIN_TSIH + 2 == ISCSI_BHS_ITT, "ISID+TSIH fill the LUN field");
_Static_assert(ISCSI_LOGOUT_TIME2RETAIN + 2 == ISCSI_BHS_RESID, "Time2Retain precedes reserved word");

static inline uint8_t iscsi_bhs_opcode(const uint8_t *bhs) { return bhs[ISCSI_BHS_OPCODE] & ISCSI_OPCODE_MASK; }
static inline bool iscsi_bhs_immediate(const uint8_t *bhs) { return (bhs[ISCSI_BHS_OPCODE] & ISCSI_OP_IMMEDIATE) != 0; }
static inline uint32_t iscsi_bhs_ahs_len(const uint8_t *bhs) { return (uint32_t)bhs[ISCSI_BHS_TOTAHS] * 4; }
static inline uint32_t iscsi_bhs_dsl(const uint8_t *bhs) { return get_be24(bhs + ISCSI_BHS_DSL); }
static inline void iscsi_bhs_set_dsl(uint8_t *bhs, uint32_t dsl) { put_be24(bhs + ISCSI_BHS_DSL, dsl); }
static inline uint32_t iscsi_pad4(uint32_t len) { return (4 - (len & 3)) & 3; }

/* Serial number arithmetic (RFC 1982, RFC 7143 3.2.2.1) */
static inline bool iscsi_sn_lt(uint32_t a, uint32_t b) { return a != b && (int32_t)(a - b) < 0; }
static inline bool iscsi_sn_gt(uint32_t a, uint32_t b) { return a != b && (int32_t)(a - b) > 0; }

/* Result of iscsi_pdu_check_bhs(): what to do with a received header. */
enum iscsi_bhs_verdict {
	ISCSI_BHS_OK = 0,
	ISCSI_BHS_REJECT,           /* answer with a Reject PDU (reason in *reason), then skip the data */
	ISCSI_BHS_DROP,             /* protocol error the RFC answers by closing the connection */
};
/* Validate a received BHS (pure: no connection state but what is passed).
 * full_feature says whether the connection left the login phase; max_recv_dsl is
 * the MaxRecvDataSegmentLength we declared (8192 during login, RFC 7143 13.12).
 * RFC 7143 7.x/11: unknown opcodes -> Reject 0x05 (command not supported),
 * oversize data segments -> protocol error (drop), a non-login PDU during login
 * -> drop (RFC 7143 6.3), a login PDU in full feature phase -> Reject 0x04. */
enum iscsi_bhs_verdict iscsi_pdu_check_bhs(const uint8_t *bhs, bool full_feature, uint32_t max_recv_dsl,
					   uint8_t *reason, const char **why);
const char *iscsi_opcode_name(uint8_t op);
#endif

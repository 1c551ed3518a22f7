/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reservations of one LUN as a single serialisable record (SPC-4 5.13
 * persistent reservations, SPC-2 RESERVE/RELEASE), the one function that
 * changes it, and its on-disk / on-wire form, so that APTPL files and the
 * future replication link carry exactly the same bytes. */
#ifndef TANDEM_SCSI_PR_H
#define TANDEM_SCSI_PR_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scsi_lun;
struct scsi_itn;
struct scsi_task;

#define SCSI_PR_MAX_REGS 256        /* registrations per LUN (then INSUFFICIENT REGISTRATION RESOURCES) */
#define SCSI_PR_NAME_MAX 256        /* initiator port name with its NUL */

/* SPC-4 6.16.2 table 171: PERSISTENT RESERVE OUT service actions */
enum scsi_pr_sa {
	SCSI_PR_REGISTER = 0,
	SCSI_PR_RESERVE = 1,
	SCSI_PR_RELEASE = 2,
	SCSI_PR_CLEAR = 3,
	SCSI_PR_PREEMPT = 4,
	SCSI_PR_PREEMPT_AND_ABORT = 5,
	SCSI_PR_REGISTER_AND_IGNORE = 6,
	SCSI_PR_REGISTER_AND_MOVE = 7,
};

/* SPC-4 6.15.3.2 table 163: persistent reservation types (0 = none held) */
enum scsi_pr_type {
	SCSI_PR_TYPE_NONE = 0,
	SCSI_PR_WR_EX = 1,
	SCSI_PR_EX_AC = 3,
	SCSI_PR_WR_EX_RO = 5,
	SCSI_PR_EX_AC_RO = 6,
	SCSI_PR_WR_EX_AR = 7,
	SCSI_PR_EX_AC_AR = 8,
};

/* Who a registration belongs to: an I_T nexus identity, never a nexus
 * pointer, so registrations survive I_T nexus loss (SPC-4 5.13.7). */
struct scsi_pr_id {
	/* "iqn...,i,0x<isid>" (one initiator port) or a bare iSCSI name
	 * (TransportID format 00b: every port of that initiator) */
	char initiator[SCSI_PR_NAME_MAX];
	uint16_t rel_port_id;           /* relative target port identifier */
	bool all_tg_pt;                 /* registered through every target port */
};

struct scsi_pr_reg {
	struct scsi_pr_id id;
	uint64_t key;
	bool holder;                    /* holds a non all-registrants reservation */
};

/* The record. type == 0: no persistent reservation. For the all-registrants
 * types every registrant holds it and no holder flag is set. */
struct scsi_pr_state {
	uint32_t generation;            /* PRGENERATION (SPC-4 6.15.2) */
	bool aptpl;                     /* activate persist through power loss */
	uint8_t type;
	uint8_t scope;                  /* 0 = LU_SCOPE, the only one */
	uint32_t nregs;
	uint32_t cap;
	struct scsi_pr_reg *regs;
};

/* One PERSISTENT RESERVE OUT as decoded from CDB and parameter list. */
struct scsi_pr_change {
	uint8_t sa;                     /* enum scsi_pr_sa */
	uint8_t scope, type;            /* CDB byte 2 */
	uint64_t key;                   /* RESERVATION KEY */
	uint64_t sa_key;                /* SERVICE ACTION RESERVATION KEY */
	bool aptpl, all_tg_pt, spec_i_pt;
	bool unreg;                     /* REGISTER AND MOVE: UNREG */
	struct scsi_pr_id from;         /* the I_T nexus the command came through */
	/* SPEC_I_PT TransportIDs, or the REGISTER AND MOVE destination (ntids 1,
	 * rel_port_id from the parameter list) */
	struct scsi_pr_id *tids;
	uint32_t ntids;
	/* the PR OUT command (NULL when none): PREEMPT AND ABORT hands it to the
	 * transport's abort callbacks, which may hold its completion back */
	struct scsi_task *by;
};

enum scsi_pr_rc {
	SCSI_PR_OK = 0,
	SCSI_PR_CONFLICT,               /* RESERVATION CONFLICT status */
	SCSI_PR_BAD_CDB,                /* INVALID FIELD IN CDB at field/bit */
	SCSI_PR_BAD_PARAM,              /* INVALID FIELD IN PARAMETER LIST at field/bit */
	SCSI_PR_BAD_RELEASE,            /* INVALID RELEASE OF PERSISTENT RESERVATION */
	SCSI_PR_NO_RESOURCES,           /* INSUFFICIENT REGISTRATION RESOURCES */
	SCSI_PR_STORE_FAILED,           /* APTPL state could not be saved */
};

/* A consequence for the nexuses matching id. The issuing nexus never gets
 * the unit attention, only the abort (PREEMPT AND ABORT of its own key). */
struct scsi_pr_effect {
	struct scsi_pr_id id;
	uint8_t ua;                     /* enum scsi_ua, or 0xff for none */
	bool abort;                     /* PREEMPT AND ABORT: abort its tasks on this LUN */
};

struct scsi_pr_result {
	enum scsi_pr_rc rc;
	uint16_t field;
	int8_t bit;
	uint32_t neff, effcap;
	struct scsi_pr_effect *eff;
	/* on a LUN whose device carries state (a replicated LUN): the new record
	 * as serialised under the lock and its sequence number, for the PR OUT
	 * to send to the peer before it completes (malloc'd, freed with r) */
	uint8_t *rec;
	size_t reclen;
	uint64_t seq;
};

/* Per-LUN runtime: the record behind a mutex, plus the SPC-2 reservation
 * (an I_T nexus, lost with it, never persisted). */
struct scsi_pr {
	pthread_mutex_t lock;
	struct scsi_pr_state st;
	struct scsi_itn *r2_holder;
	/* replicated LUNs (the device carries state, bdev.h): the record's
	 * sequence number, +1 per change here, the peer's on install */
	bool replicated;
	uint64_t seq;
};

/* lu->resv_active bits: the I/O path's one atomic load */
#define SCSI_RESV_PR 1u                 /* a persistent reservation is held */
#define SCSI_RESV_SPC2 2u               /* a RESERVE(6)/(10) reservation is held */

/* --- pr.c: the state machine (pure: no LUN, no locks) --- */
void scsi_pr_state_init(struct scsi_pr_state *s);
void scsi_pr_state_free(struct scsi_pr_state *s);
int scsi_pr_state_copy(struct scsi_pr_state *dst, const struct scsi_pr_state *src);
/* Apply c to s. On any error s is left untouched and r->rc says why. */
enum scsi_pr_rc scsi_pr_state_apply(struct scsi_pr_state *s, const struct scsi_pr_change *c,
				    struct scsi_pr_result *r);
void scsi_pr_result_free(struct scsi_pr_result *r);
/* Index of the registration of nexus id, or -1. */
int scsi_pr_find(const struct scsi_pr_state *s, const struct scsi_pr_id *id);
bool scsi_pr_id_match(const struct scsi_pr_id *reg, const char *initiator, uint16_t rel_port_id);

/* --- pr.c: the LUN side --- */
int scsi_pr_lun_init(struct scsi_lun *lu);      /* attach: allocate, restore APTPL state */
void scsi_pr_lun_fini(struct scsi_lun *lu);
/* THE mutator: apply c under the LUN's lock, save the record first when
 * APTPL is (or was) on, then deliver unit attentions / aborts. On a
 * replicated LUN r->rec is the new record to send to the peer. */
enum scsi_pr_rc scsi_pr_apply(struct scsi_lun *lu, const struct scsi_pr_change *c, struct scsi_pr_result *r);
/* Replace the whole record (replication peer, tests). 0 or -1 (bad record;
 * an APTPL file that cannot be saved is logged, the record installed).
 * scsi_pr_install_seq: only a record newer than the
 * LUN's (seq) unless force; an older one is ignored (0). */
int scsi_pr_install(struct scsi_lun *lu, const uint8_t *rec, size_t len);
int scsi_pr_install_seq(struct scsi_lun *lu, const uint8_t *rec, size_t len, uint64_t seq, bool force);
/* A replicated LUN's mode parameters changed (mode.c): the caller holds
 * pr->lock; the next sequence number and the new record (malloc'd; length,
 * 0 when out of memory), to be written with BDEV_IO_STATE. */
size_t scsi_pr_record_next_locked(struct scsi_lun *lu, uint8_t **rec, uint64_t *seq);
/* A replicated Primary's LUN state changed outside a command that waits for
 * it (SANITIZE starting or ending, a reset): the new record goes to the peer without
 * waiting, behind what this reactor submitted before. Call on a reactor. */
int scsi_pr_record_send(struct scsi_lun *lu, const char *why);     /* -1: out of memory */
/* Serialise the LUN's current record; returns length (0 on error), *out malloc'd. */
size_t scsi_pr_snapshot(struct scsi_lun *lu, uint8_t **out);
/* Would itn's read (write) of lu conflict with lu's reservations? For the
 * LUNs an EXTENDED COPY names besides the one it was addressed to. */
bool scsi_resv_conflict_access(struct scsi_lun *lu, struct scsi_itn *itn, bool write);
/* Slow half of the reservation check; the caller saw resv_active != 0. */
bool scsi_resv_conflict_slow(struct scsi_task *t, uint16_t op_flags);

/* --- pr_store.c: record format and APTPL files --- */
/* What a replicated LUN's record carries besides its reservations, so that
 * both nodes present one logical unit: the mode parameters (the caching
 * page's WCE, the control page's SWP, current and saved) and the SANITIZE
 * state (SCSI_SANITIZE_*; san_ause: the running operation's AUSE). */
struct scsi_mode_rec {
	bool wce, wce_saved, swp, swp_saved;
	uint8_t sanitize;
	bool san_ause;
};
/* Bytes needed / written; buf may be NULL to size. m NULL: reservations only
 * (the APTPL file's form, and what a peer of protocol version 2 reads). */
size_t scsi_pr_serialize(const struct scsi_pr_state *s, uint8_t *buf, size_t len);
size_t scsi_pr_serialize_ext(const struct scsi_pr_state *s, const struct scsi_mode_rec *m, uint8_t *buf,
			     size_t len);
/* 0, or -1 when the record is malformed or its checksum is wrong. The _ext
 * form also returns the mode section: *has_mode false when the record has none. */
int scsi_pr_deserialize(struct scsi_pr_state *s, const uint8_t *buf, size_t len);
int scsi_pr_deserialize_ext(struct scsi_pr_state *s, struct scsi_mode_rec *m, bool *has_mode, const uint8_t *buf,
			    size_t len);
uint32_t scsi_pr_crc32c(const uint8_t *p, size_t n);
/* <state_dir>/pr/<serial>.pr */
void scsi_pr_path(const char *serial, char *out, size_t len);
/* <state_dir>/<sub>/<serial>.<ext>, named as scsi_pr_path names it */
void scsi_state_path(const char *sub, const char *ext, const char *serial, char *out, size_t len);
void scsi_pr_path_v1(const char *serial, char *out, size_t len);
/* Write atomically (temp + fsync + rename + fsync dir). 0 or -errno. */
int scsi_pr_store_save(const char *path, const uint8_t *rec, size_t len);
int scsi_pr_store_remove(const char *path);
/* Read a whole file into *out (malloc'd). Length, 0 if absent, -errno on error. */
long scsi_pr_store_load(const char *path, uint8_t **out);

/* --- reserve.c: SPC-2 reservations --- */
void scsi_reserve_release_itn(struct scsi_lun *lu, struct scsi_itn *itn); /* NULL itn: any holder */
#endif

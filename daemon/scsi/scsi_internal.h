/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private definitions of the SCSI device server shared by its files: the
 * target, LUN and I_T nexus structures, the opcode table row type and the
 * helpers handlers use to move data and report sense. */
#ifndef TANDEM_SCSI_INTERNAL_H
#define TANDEM_SCSI_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include "scsi/scsi.h"
#include "scsi/scsi_sense.h"
#include "scsi/range_lock.h"

#define SCSI_LUN_MAX 16384          /* flat space addressing limit (SAM-5 4.6.10) */
#define SCSI_UA_ALL_LUNS UINT32_MAX
#define SCSI_FIXED_SENSE_LEN 18     /* fixed format with additional length 10 */
#define SCSI_MAX_XFER_BYTES (8u << 20) /* Block Limits MAXIMUM TRANSFER LENGTH, in bytes */

/* Unit attention conditions, lowest number = highest reporting priority
 * (SAM-5 5.14: reset conditions first). */
enum scsi_ua {
	SCSI_UA_POWER_ON = 0,           /* 29h/00h POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
	SCSI_UA_LUN_RESET,              /* 29h/03h BUS DEVICE RESET FUNCTION OCCURRED */
	SCSI_UA_COMMANDS_CLEARED,       /* 2Fh/00h COMMANDS CLEARED BY ANOTHER INITIATOR */
	SCSI_UA_MODE_CHANGED,           /* 2Ah/01h MODE PARAMETERS CHANGED */
	SCSI_UA_CAPACITY_CHANGED,       /* 2Ah/09h CAPACITY DATA HAS CHANGED */
	SCSI_UA_LUNS_CHANGED,           /* 3Fh/0Eh REPORTED LUNS DATA HAS CHANGED */
	SCSI_UA_ALUA_CHANGED,           /* 2Ah/06h ASYMMETRIC ACCESS STATE CHANGED (SPC-4 5.15.2.5) */
	SCSI_UA_RESERVATIONS_PREEMPTED, /* 2Ah/03h RESERVATIONS PREEMPTED (SPC-4 5.13.11.2.6) */
	SCSI_UA_RESERVATIONS_RELEASED,  /* 2Ah/04h RESERVATIONS RELEASED (SPC-4 5.13.11.2.2) */
	SCSI_UA_REGISTRATIONS_PREEMPTED, /* 2Ah/05h REGISTRATIONS PREEMPTED (SPC-4 5.13.11.2.4) */
	SCSI_UA_MAX
};

struct scsi_ua_entry {
	uint32_t lun;
	uint32_t bits;                  /* 1 << enum scsi_ua */
};

struct scsi_itn {
	struct scsi_target *tgt;
	struct scsi_itn *next;          /* tgt->itns, under tgt->lock */
	char initiator[256];
	struct scsi_port port;
	/* Unit attentions: the I/O path only reads ua_count (relaxed); the rest is
	 * touched under ua_lock when a condition exists or is being established. */
	atomic_uint ua_count;
	pthread_mutex_t ua_lock;
	struct scsi_ua_entry *ua;
	uint32_t nua, ua_cap;
	/* PREEMPT AND ABORT reaches the transport here (scsi_itn_set_abort_cb, pr.c) */
	void (*abort_cb)(void *arg, uint64_t lun, struct scsi_task *by);
	void *abort_arg;
	void *xcopy;                    /* EXTENDED COPY results of this nexus (xcopy.c) */
};

struct scsi_lun {
	struct scsi_target *tgt;
	uint32_t id;
	struct bdev *bdev;
	_Atomic uint64_t nblocks;       /* capacity in logical blocks; a reload may change it (scsi_target_resize_lun) */
	uint32_t block_size;
	uint8_t block_shift;
	uint8_t phys_exp;               /* logical blocks per physical block exponent */
	_Atomic enum tconf_cache cache; /* a reload may change it (scsi_target_set_lun_cache) */
	bool readonly;                  /* config or backend */
	bool rotational;
	int rotation_rate;
	char backend_name[16];
	char path[TCONF_PATH_MAX];
	/* identity (SPC-4 7.8) */
	char serial[65];
	uint8_t naa[16];
	uint8_t naa_len;
	char vendor[9];
	char product[17];
	char revision[5];
	/* mode parameters (SPC-4 7.5): current and saved; written under lock
	 * (and, on a replicated LUN, under pr->lock first: they travel in its
	 * record, pr.c) */
	pthread_mutex_t lock;
	atomic_bool wce, wce_saved;     /* caching page WCE (SBC-3 6.4.5) */
	atomic_bool swp, swp_saved;     /* control page SWP (SPC-4 7.5.8) */
	atomic_bool mode_unsettled;     /* a MODE SELECT's flush / record has not succeeded (mode.c) */
	atomic_bool prevent;            /* PREVENT ALLOW MEDIUM REMOVAL state */
	/* statistics, relaxed */
	atomic_uint_fast64_t reads, writes, read_bytes, write_bytes, errors;
	/* tasks between lookup and completion; removal waits for zero */
	atomic_uint inflight;
	struct scsi_lun *retired_next;
	bool close_flushed;             /* detached: the flush before its close was started */
	/* reservations (pr.c, reserve.c): SCSI_RESV_* bits, the I/O path's only load */
	atomic_uint resv_active;
	struct scsi_pr *pr;
	struct scsi_range_lock rlock;   /* overlapping writes / COMPARE AND WRITE (range_lock.c) */
	/* SANITIZE (sanitize.c): SCSI_SANITIZE_* state, the I/O path's only load;
	 * progress of a running operation, 0..65535 */
	atomic_uint sanitize_state;
	atomic_bool sanitize_ause;      /* the running (or last) operation's AUSE */
	atomic_uint sanitize_peer;      /* the new Primary's state (+1) that came while ours ran; 0 none */
	atomic_bool sanitize_ending;    /* our end record travels: a peer state is kept in sanitize_peer too */
	atomic_uint sanitize_progress;
};

struct scsi_target {
	char name[TCONF_NAME_MAX];
	pthread_mutex_t lock;           /* LUN attach/detach, nexus list (rare paths) */
	struct scsi_itn *itns;
	struct scsi_lun *retired;       /* detached LUN structs, freed with the target */
	atomic_size_t nluns;
	_Atomic(struct scsi_lun *) luns[SCSI_LUN_MAX]; /* lock-free lookup */
};

/* --- opcode table --- */
enum {
	SCSI_DONE = 0,                  /* handler finished: status set, complete now */
	SCSI_ASYNC = 1,                 /* handler will call scsi_task_done() later */
};

enum {
	SCSI_OPF_UA_PASS = 1 << 0,      /* runs during a UA without reporting it (SAM-5 5.14) */
	SCSI_OPF_NO_LUN = 1 << 1,       /* valid on a LUN that does not exist */
	SCSI_OPF_MEDIA = 1 << 2,        /* accesses the medium (refused in ALUA standby) */
	SCSI_OPF_WRITE = 1 << 3,        /* modifies the medium: write protection applies */
	SCSI_OPF_DATA_IN = 1 << 4,
	SCSI_OPF_DATA_OUT = 1 << 5,
	SCSI_OPF_PR_CONFLICT = 1 << 6,  /* conflicts with a persistent reservation (SPC-4 5.12) */
};

struct scsi_op {
	const char *name;
	int (*fn)(struct scsi_task *t);
	uint8_t cdb_len;
	uint16_t flags;
};

extern const struct scsi_op scsi_op_table[256];

/* --- dispatch.c (also REPORT SUPPORTED OPERATION CODES) --- */
void scsi_task_done(struct scsi_task *t);
/* Copy len bytes of parameter data produced for an allocation-length command:
 * xfer_len = alloc, data_len = min(len, alloc, edtl, buf_len). */
int scsi_task_data_in(struct scsi_task *t, const void *src, uint32_t len, uint32_t alloc);
/* Data-out parameter list of `want` bytes: returns how many bytes are there. */
uint32_t scsi_task_data_out(struct scsi_task *t, uint32_t want);

/* --- sense.c: sense data --- */
/* CHECK CONDITION ILLEGAL REQUEST INVALID FIELD IN CDB with a field pointer to
 * byte/bit (bit < 0: whole byte). Returns SCSI_DONE. */
int scsi_task_invalid_cdb(struct scsi_task *t, uint16_t byte, int bit);
/* Same for INVALID FIELD IN PARAMETER LIST. */
int scsi_task_invalid_param(struct scsi_task *t, uint16_t byte, int bit);
/* Set a CHECK CONDITION and return SCSI_DONE (shorthand for handlers). */
int scsi_task_check(struct scsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq);
/* Set the INFORMATION field (fixed format bytes 3..6, VALID bit). */
void scsi_task_set_info(struct scsi_task *t, uint32_t info);
/* Build fixed-format sense into out (SCSI_FIXED_SENSE_LEN bytes). */
void scsi_sense_build_fixed(uint8_t *out, uint8_t sk, uint8_t asc, uint8_t ascq);
/* Convert fixed-format sense to descriptor format (SPC-4 4.5.2); returns length. */
uint8_t scsi_sense_fixed_to_desc(const uint8_t *fixed, uint8_t *out);

/* --- sense.c: unit attentions --- */
void scsi_ua_itn_init(struct scsi_itn *itn);
void scsi_ua_itn_fini(struct scsi_itn *itn);
/* Establish ua for (itn, lun); lun may be SCSI_UA_ALL_LUNS (every attached LUN). */
void scsi_ua_establish(struct scsi_itn *itn, uint32_t lun, enum scsi_ua ua);
/* Establish on every nexus of tgt except `except` (may be NULL). Takes tgt->lock. */
void scsi_ua_establish_others(struct scsi_target *tgt, struct scsi_itn *except, uint32_t lun, enum scsi_ua ua);
/* Same, caller holds tgt->lock. */
void scsi_ua_establish_others_locked(struct scsi_target *tgt, struct scsi_itn *except, uint32_t lun, enum scsi_ua ua);
/* Take (report and clear) the highest-priority pending UA of (itn, lun). */
bool scsi_ua_take(struct scsi_itn *itn, uint32_t lun, uint8_t *asc, uint8_t *ascq);
/* Clear one kind of UA for (itn, lun); lun may be SCSI_UA_ALL_LUNS. */
void scsi_ua_clear(struct scsi_itn *itn, uint32_t lun, enum scsi_ua ua);
static inline bool scsi_ua_any(struct scsi_itn *itn)
{
	return itn && atomic_load_explicit(&itn->ua_count, memory_order_acquire) != 0;
}
bool scsi_ua_pending(struct scsi_itn *itn, uint32_t lun);

/* --- target.c --- */
/* Pin a LUN against detach the way dispatch pins the addressed one: the
 * detacher swaps the slot to NULL and then waits for inflight to drain.
 * False when lu has left the table. */
bool scsi_lun_pin(struct scsi_target *tgt, struct scsi_lun *lu);
void scsi_lun_unpin(struct scsi_lun *lu);

/* --- handlers, by file --- */
int scsi_spc_inquiry(struct scsi_task *t);
int scsi_spc_report_luns(struct scsi_task *t);
int scsi_spc_test_unit_ready(struct scsi_task *t);
int scsi_spc_request_sense(struct scsi_task *t);
int scsi_spc_start_stop_unit(struct scsi_task *t);
int scsi_spc_prevent_allow(struct scsi_task *t);
int scsi_spc_report_opcodes(struct scsi_task *t);
int scsi_spc_maint_in(struct scsi_task *t);
int scsi_mode_sense(struct scsi_task *t);
int scsi_mode_select(struct scsi_task *t);
/* mode_store.c: saved mode parameters across restarts. lun_init restores
 * the file (before the reservations attach, whose replicated record may
 * carry newer values); save: 0 or -errno; forget: the cache policy changed. */
void scsi_mode_lun_init(struct scsi_lun *lu);
int scsi_mode_store_save(struct scsi_lun *lu, bool wce_saved, bool swp_saved);
void scsi_mode_store_forget(struct scsi_lun *lu);
int scsi_sbc_read_capacity10(struct scsi_task *t);
int scsi_sbc_service_action_in16(struct scsi_task *t);
int scsi_sbc_rw(struct scsi_task *t);
int scsi_sbc_verify(struct scsi_task *t);
int scsi_sbc_sync_cache(struct scsi_task *t);
int scsi_sbc_prefetch(struct scsi_task *t);
/* VAAI / logical block provisioning (compare_write.c, write_same.c, unmap.c, lbp.c) */
int scsi_sbc_compare_and_write(struct scsi_task *t);
int scsi_sbc_write_same(struct scsi_task *t);
int scsi_sbc_unmap(struct scsi_task *t);
int scsi_sbc_get_lba_status(struct scsi_task *t);
/* ORWRITE(16) (orwrite.c) and SANITIZE (sanitize.c) */
int scsi_sbc_orwrite(struct scsi_task *t);
int scsi_sbc_sanitize(struct scsi_task *t);
/* While a sanitize operation runs or has failed on t's LUN: set the status
 * every command but the few SBC-3 4.11 allows gets, and return true. */
bool scsi_sanitize_refuse_slow(struct scsi_task *t);
/* REQUEST SENSE: fixed-format sense describing the LUN's sanitize state
 * (in progress with progress indication, or failed); false when idle. */
bool scsi_sanitize_sense(struct scsi_lun *lu, uint8_t *fixed);
/* SBC-3 limits advertised in VPD B0h and enforced by the handlers above. */
uint32_t scsi_lbp_max_caw_blocks(const struct scsi_lun *lu);
uint64_t scsi_lbp_max_ws_blocks(const struct scsi_lun *lu);
uint32_t scsi_lbp_max_unmap_blocks(const struct scsi_lun *lu);
uint32_t scsi_lbp_max_unmap_descs(const struct scsi_lun *lu);
bool scsi_lbp_can_unmap(const struct scsi_lun *lu);
/* Fill the provisioning fields of VPD B0h (d = page), build VPD B2h (returns
 * its length), READ CAPACITY(16) byte 14 (LBPME/LBPRZ). */
void scsi_lbp_block_limits(const struct scsi_lun *lu, uint8_t *d);
uint32_t scsi_lbp_vpd_b2(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d);
uint8_t scsi_lbp_rc16_byte14(const struct scsi_lun *lu);
/* Backend error to status/sense, as for READ/WRITE (sbc.c). */
void scsi_sbc_io_error(struct scsi_task *t, bool write, int err);
/* BDEV_IO_F_FUA when a write must be durable at completion under the LUN's
 * cache policy (WCE=0, or the CDB's FUA bit with write-back). */
unsigned scsi_lun_write_flags(const struct scsi_lun *lu, bool cdb_fua);
/* A completed write (WRITE, WRITE ZEROES or UNMAP request) went without FUA
 * and the LUN's cache is off now: it needs a flush before it is acknowledged
 * (sbc.c). */
bool scsi_write_needs_flush(const struct bdev_io *io, const struct scsi_lun *lu);
/* UNMAP parameter list parser (SBC-3 5.28.2), pure: 0 with *ndesc block
 * descriptors at p + 8, or -1 PARAMETER LIST LENGTH ERROR, -2 INVALID FIELD IN
 * PARAMETER LIST at byte *field, -3 LBA OUT OF RANGE. */
int scsi_unmap_parse(const uint8_t *p, uint32_t len, uint64_t nblocks, uint32_t max_desc, uint32_t max_lbas,
		     uint32_t *ndesc, uint16_t *field);
/* Third-party copy (xcopy.c): EXTENDED COPY (LID1), RECEIVE COPY RESULTS,
 * VPD 8Fh, and the per-nexus results freed with the nexus. */
int scsi_xcopy_extended_copy(struct scsi_task *t);
int scsi_xcopy_receive_results(struct scsi_task *t);
uint32_t scsi_xcopy_vpd_tpc(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d);
void scsi_xcopy_itn_fini(struct scsi_itn *itn);

/* Reservations (pr.c, pr_cmd.c, reserve.c, scsi_pr.h; docs/RESERVATIONS.md) */
struct scsi_pr;
int scsi_pr_in(struct scsi_task *t);
int scsi_pr_out(struct scsi_task *t);
int scsi_spc_reserve(struct scsi_task *t);
int scsi_spc_release(struct scsi_task *t);
int scsi_pr_lun_init(struct scsi_lun *lu);
void scsi_pr_lun_fini(struct scsi_lun *lu);
void scsi_reserve_release_itn(struct scsi_lun *lu, struct scsi_itn *itn);
void scsi_reserve_itn_gone(struct scsi_itn *itn);
bool scsi_resv_conflict_slow(struct scsi_task *t, uint16_t op_flags);
/* SPC-4 5.13.1: RESERVATION CONFLICT? One atomic load when no reservation. */
static inline bool scsi_resv_conflict(struct scsi_task *t, uint16_t op_flags)
{
	return atomic_load_explicit(&t->lu->resv_active, memory_order_acquire) != 0 &&
	       scsi_resv_conflict_slow(t, op_flags);
}

/* SBC-3 4.11 sanitize states (lu->sanitize_state) */
enum { SCSI_SANITIZE_IDLE = 0, SCSI_SANITIZE_RUNNING = 1, SCSI_SANITIZE_FAILED = 2,
       SCSI_SANITIZE_FAILED_AUSE = 3 /* failed, unrestricted completion mode */ };
/* The failure mode an operation that did not complete leaves: restricted
 * unless it asked for AUSE */
static inline unsigned scsi_sanitize_failed_state(bool ause)
{
	return ause ? SCSI_SANITIZE_FAILED_AUSE : SCSI_SANITIZE_FAILED;
}
static inline bool scsi_sanitize_refuse(struct scsi_task *t)
{
	return atomic_load_explicit(&t->lu->sanitize_state, memory_order_acquire) != SCSI_SANITIZE_IDLE &&
	       scsi_sanitize_refuse_slow(t);
}

static inline bool scsi_lun_write_protected(const struct scsi_lun *lu)
{
	return lu->readonly || atomic_load_explicit(&lu->swp, memory_order_relaxed);
}
#endif

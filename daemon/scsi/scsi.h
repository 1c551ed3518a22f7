/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SCSI device server (SPC-4/SBC-3) as seen by a transport. It knows CDBs,
 * LUNs, I_T nexuses, unit attentions and sense data, and nothing of iSCSI.
 *
 * Life of a command: the transport fills a struct scsi_task (I_T nexus, LUN,
 * CDB, direction, expected length, data buffer; for writes the buffer already
 * holds all the data), calls scsi_task_exec(), and gets t->complete(t) called
 * exactly once on the same thread, possibly before scsi_task_exec() returns.
 * Then status/sense/data_len are valid. */
#ifndef TANDEM_SCSI_H
#define TANDEM_SCSI_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "bdev/bdev.h"
#include "config/config.h"

#define SCSI_SENSE_MAX 96
#define SCSI_CDB_MAX 32

enum scsi_dir { SCSI_DIR_NONE = 0, SCSI_DIR_READ = 1 /* data-in */, SCSI_DIR_WRITE = 2 /* data-out */ };

/* SAM status codes */
enum {
	SCSI_STATUS_GOOD = 0x00,
	SCSI_STATUS_CHECK_CONDITION = 0x02,
	SCSI_STATUS_CONDITION_MET = 0x04,
	SCSI_STATUS_BUSY = 0x08,
	SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
	SCSI_STATUS_TASK_SET_FULL = 0x28,
	SCSI_STATUS_ACA_ACTIVE = 0x30,
	SCSI_STATUS_TASK_ABORTED = 0x40,
};

/* Sense keys */
enum {
	SK_NO_SENSE = 0x0, SK_RECOVERED_ERROR = 0x1, SK_NOT_READY = 0x2, SK_MEDIUM_ERROR = 0x3,
	SK_HARDWARE_ERROR = 0x4, SK_ILLEGAL_REQUEST = 0x5, SK_UNIT_ATTENTION = 0x6,
	SK_DATA_PROTECT = 0x7, SK_BLANK_CHECK = 0x8, SK_COPY_ABORTED = 0xa,
	SK_ABORTED_COMMAND = 0xb, SK_VOLUME_OVERFLOW = 0xd, SK_MISCOMPARE = 0xe,
};

enum scsi_task_attr { SCSI_ATTR_SIMPLE = 0, SCSI_ATTR_ORDERED = 1, SCSI_ATTR_HEAD_OF_QUEUE = 2, SCSI_ATTR_ACA = 3 };

struct scsi_target;
struct scsi_lun;
struct scsi_itn;

/* A target port as the SCSI layer sees it (one per iSCSI portal group). */
struct scsi_port {
	uint16_t rel_port_id;       /* relative target port identifier, 1..65535 */
	uint16_t tpg_id;            /* target port group (ALUA), 0 = none */
	char name[256];             /* SCSI name string "iqn...,t,0x0001" */
};

struct scsi_task {
	/* --- filled by the transport --- */
	struct scsi_itn *itn;
	uint64_t lun;               /* decoded LUN number (see scsi_lun_decode) */
	uint8_t cdb[SCSI_CDB_MAX];
	uint8_t cdb_len;
	uint8_t attr;               /* enum scsi_task_attr */
	enum scsi_dir dir;
	uint32_t edtl;              /* expected data transfer length from the transport */
	uint8_t *buf;               /* data buffer, buf_len >= edtl, 4096-aligned */
	uint32_t buf_len;
	void (*complete)(struct scsi_task *t);
	void *transport_ctx;
	bool aborted;               /* set by the transport (task management) */

	/* --- results, valid in complete() --- */
	uint8_t status;
	uint8_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];
	uint32_t data_len;          /* bytes of data-in produced / data-out consumed */
	uint32_t xfer_len;          /* bytes the CDB asked for (for residual overflow) */

	/* --- private to the SCSI layer --- */
	struct scsi_lun *lu;
	struct bdev_io bio;
	struct iovec iov;
	uint32_t state;
	uint64_t lba;
	uint32_t nblocks;
	void *priv;
	/* read-modify-write commands (scsi/rmw.c): the command's merge step */
	uint8_t *(*rmw_merge)(struct scsi_task *t, uint8_t *medium, size_t bytes);
	struct scsi_task *next;
	/* LBA range lock entry (scsi/range_lock.c): a write holds [lba, end)
	 * of its LUN while in flight; overlapping ones queue here in order. */
	struct scsi_range_hold {
		uint64_t lba, end;
		struct scsi_range_hold *prev, *next, *gnext;
		int (*fn)(struct scsi_task *t);
		struct reactor *owner;
		uint8_t state;
	} range;
};

/* --- target and LUNs --- */
struct scsi_target *scsi_target_create(const char *name);
void scsi_target_destroy(struct scsi_target *tgt);
/* Create a LUN from its config (opens the backend) and attach it. On error
 * returns -1 with a message naming the LUN in err. */
int scsi_target_add_lun(struct scsi_target *tgt, const struct tconf_lun *conf, char *err, size_t errlen);
/* Open the backend a LUN's config names (a reload opens every new device
 * before it changes anything); then scsi_target_add_lun_bdev, or bdev_close. */
struct bdev *scsi_lun_open_bdev(const struct tconf_lun *conf, char *err, size_t errlen);
/* Attach a LUN around an already opened backend (reload, tests). Takes
 * ownership of b on success. */
int scsi_target_add_lun_bdev(struct scsi_target *tgt, const struct tconf_lun *conf, struct bdev *b,
			     char *err, size_t errlen);
/* Detach and close a LUN (reload). Reports REPORTED LUNS DATA HAS CHANGED.
 * Waits at most SCSI_LUN_DRAIN_MS for the commands in flight; if some are
 * still running then (a replicated write frozen until the cluster answers,
 * which needs the calling thread), the device closes later, from
 * scsi_target_reap(). Returns 0 (closed), 1 (close deferred), -1 (no LUN). */
#define SCSI_LUN_DRAIN_MS 2000
int scsi_target_remove_lun(struct scsi_target *tgt, uint32_t lun);
/* Close the devices of removed LUNs whose last command ended (main thread,
 * periodically). Returns how many still wait. */
unsigned scsi_target_reap(struct scsi_target *tgt);
/* A reload changed only the LUN's cache mode: apply it to the LUN in service
 * (WCE follows, every nexus gets MODE PARAMETERS CHANGED) instead of taking
 * the LUN away, which initiators would see as LOGICAL UNIT NOT SUPPORTED
 * (ESXi: permanent device loss). Returns 0, or -1 when there is no such LUN. */
int scsi_target_set_lun_cache(struct scsi_target *tgt, uint32_t lun, enum tconf_cache cache);
/* Whether the LUN in service answers INQUIRY with other vendor, product,
 * revision or rotation rate than conf gives (then `what` names them, "vendor,
 * product"). Those stay as the LUN opened with. Control thread. */
bool scsi_target_lun_inquiry_differs(struct scsi_target *tgt, const struct tconf_lun *conf, char *what,
				     size_t len);
/* A reload changed the LUN's configured size (or, with size 0, its device
 * may have grown: a file extended, a logical volume grown): the LUN takes it
 * in service, without going away, and every nexus gets CAPACITY DATA HAS
 * CHANGED. A regular file smaller than `size` grows (sparse) when `create`;
 * a shrink never cuts the device, only the capacity reported. Devices that
 * cannot change size while open (a replicated LUN's) refuse a new size and
 * ignore size 0. Returns 1 (changed), 0 (already that size), or -1 with err,
 * the LUN keeping its capacity. Control thread. */
int scsi_target_resize_lun(struct scsi_target *tgt, uint32_t lun, uint64_t size, bool create, char *err,
			   size_t errlen);
/* A reload removed the LUN and added it back (another device path, say) with
 * another cache policy than `before`. A replicated LUN got the mode
 * parameters of the record replication held for it at its attach, made
 * under the old policy; on the Primary they give way to the new policy's, as
 * a local mode file saved under another policy does, and the peer gets them.
 * Returns 0, or -1 when there is no such LUN. */
int scsi_target_lun_cache_came_back(struct scsi_target *tgt, uint32_t lun, enum tconf_cache before);
struct scsi_lun *scsi_target_find_lun(struct scsi_target *tgt, uint64_t lun);
const char *scsi_target_name(const struct scsi_target *tgt);
size_t scsi_target_lun_count(const struct scsi_target *tgt);

/* --- I_T nexus: one per iSCSI session --- */
/* initiator_port: the SCSI initiator port name, "iqn...,i,0x<isid>". */
struct scsi_itn *scsi_itn_create(struct scsi_target *tgt, const char *initiator_port,
				 const struct scsi_port *port);
void scsi_itn_destroy(struct scsi_itn *itn);

/* --- commands --- */
void scsi_task_exec(struct scsi_task *t);
/* Task management helpers: effects on the device server side (unit attentions,
 * reservations). The transport aborts its own tasks. */
void scsi_lun_reset(struct scsi_target *tgt, uint64_t lun, struct scsi_itn *from);
void scsi_target_reset(struct scsi_target *tgt, struct scsi_itn *from);
/* Tasks aborted by another I_T nexus (CLEAR TASK SET etc.): queue the
 * COMMANDS CLEARED BY ANOTHER INITIATOR unit attention as SAM-5 says. lun is
 * the aborted task's own LUN (t->lun), not the one the task management
 * function named: an EXTENDED COPY aborted because it touches that LUN. */
void scsi_itn_tasks_cleared(struct scsi_itn *itn, uint64_t lun);
/* Whether task t reads or writes LUN lun: the LUN it is addressed to, or
 * one an EXTENDED COPY in progress names. A transport aborting a LUN's tasks
 * (LUN RESET, CLEAR TASK SET, PREEMPT AND ABORT) aborts those too, on the
 * task's own thread. */
bool scsi_task_touches_lun(const struct scsi_task *t, uint64_t lun);
/* PREEMPT AND ABORT (SPC-4 5.13.11.2.4.4): the SCSI layer calls fn(arg, lun,
 * by) for each preempted nexus so the transport aborts that nexus' tasks on
 * lun. by is the PR OUT task (may be NULL): like ABORT TASK SET (SAM-5), the
 * command is complete only once those tasks have ended, so the transport
 * holds by's completion back until then. The issuing nexus is among them
 * when the PR OUT preempts its own key (SPC-4 5.13.11.2.5): the transport
 * aborts its tasks on lun except by itself. Called on the preempting command's
 * thread, before by completes, with the target's nexus list locked: fn must
 * not create or destroy nexuses. */
void scsi_itn_set_abort_cb(struct scsi_itn *itn, void (*fn)(void *arg, uint64_t lun, struct scsi_task *by),
			   void *arg);
/* Where persistent state lives (global `state_dir`, default /var/lib/tandem):
 * APTPL reservations in <dir>/pr/<serial>.pr. Set before LUNs attach. */
void scsi_set_state_dir(const char *dir);

/* Set status GOOD / CHECK CONDITION with fixed-format sense. */
void scsi_task_set_status(struct scsi_task *t, uint8_t status, uint8_t sk, uint8_t asc, uint8_t ascq);

/* --- LUN addressing (SAM-5 4.6): 8-byte LUN field <-> number --- */
uint64_t scsi_lun_decode(const uint8_t lun[8]);
void scsi_lun_encode(uint64_t lun, uint8_t out[8]);

/* --- status reporting (tandemctl status) --- */
struct scsi_lun_info {
	uint32_t lun;
	const char *backend;
	const char *path;
	uint64_t size;
	uint32_t block_size;
	const char *cache;
	bool wce;
	const char *serial;
	uint64_t reads, writes, read_bytes, write_bytes, errors;
};
/* Calls fn for each LUN of tgt. Thread-safe. */
void scsi_target_foreach_lun(struct scsi_target *tgt, void (*fn)(const struct scsi_lun_info *, void *), void *arg);

/* --- ALUA (SPC-4 5.15, scsi/alua.c, docs/ALUA.md) --- */
/* Asymmetric access states, valued as in RTPG/STPG (SPC-4 table 163). */
enum scsi_alua_state {
	SCSI_ALUA_ACTIVE_OPTIMIZED = 0x0,
	SCSI_ALUA_ACTIVE_NONOPTIMIZED = 0x1,
	SCSI_ALUA_STANDBY = 0x2,
	SCSI_ALUA_UNAVAILABLE = 0x3,
	SCSI_ALUA_TRANSITIONING = 0xf,
};
struct json_writer;
/* Install the target port groups of a (new) config: groups, their local ports
 * (portal groups) and peer ports. A group that existed keeps its current state;
 * a new one starts in its configured state. Main thread; 0 or -1 + err. */
int scsi_alua_configure(const struct tconf *c, char *err, size_t errlen);
/* Explicit ALUA (SET TARGET PORT GROUPS) enabled by the configuration
 * (global alua_explicit; docs/ALUA.md). */
bool scsi_alua_explicit(void);
/* Set one group's state on every target (the one owner of ALUA state; any
 * thread). Every I_T nexus gets ASYMMETRIC ACCESS STATE CHANGED on every LUN.
 * 0, or -1 when the group is unknown or st invalid. */
int scsi_alua_set_state(uint16_t tpg_id, enum scsi_alua_state st);
int scsi_alua_get_state(uint16_t tpg_id, enum scsi_alua_state *st);
/* "active-optimized", "active-nonoptimized", "standby", "unavailable", "transitioning". */
const char *scsi_alua_state_name(enum scsi_alua_state st);
int scsi_alua_state_from_name(const char *name, enum scsi_alua_state *st);
/* Group by configured name or decimal id; 0 or -1. */
int scsi_alua_find_group(const char *name_or_id, uint16_t *tpg_id);
/* Append "alua_groups": [{"name","id","state","ports":[rel ids],...}] to an open object. */
void scsi_alua_status(struct json_writer *w);
#endif

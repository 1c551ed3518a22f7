/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Asymmetric logical unit access (SPC-4 5.15) inside the device server: the
 * per-group access state that the I/O path reads with one atomic load, and the
 * handlers and hooks that the rest of the SCSI layer calls. The public API for
 * the cluster layer and tandemctl is in scsi.h. */
#ifndef TANDEM_SCSI_ALUA_H
#define TANDEM_SCSI_ALUA_H
#include <stdatomic.h>
#include "scsi/scsi_internal.h"

/* Current asymmetric access state of every target port group, indexed by the
 * group id (enum scsi_alua_state values). Zero-initialised = Active/Optimized,
 * which is also what a port without a group (tpg_id 0) sees. Written only by
 * scsi_alua_set_state() under the ALUA lock; read lock-free. */
extern _Atomic uint8_t scsi_alua_states[65536];

/* Slow path of the access check: the group is not active. Sets NOT READY with
 * the state's ASC/ASCQ and returns true when the command is refused. */
bool scsi_alua_refuse(struct scsi_task *t, uint8_t state);

/* SPC-4 5.15.2.4: may this command run on the nexus' target port in its group's
 * current state? One relaxed atomic load on the path of every command. */
static inline bool scsi_alua_check(struct scsi_task *t)
{
	uint8_t st = atomic_load_explicit(&scsi_alua_states[t->itn->port.tpg_id], memory_order_relaxed);
	if (__builtin_expect(st <= SCSI_ALUA_ACTIVE_NONOPTIMIZED, 1))
		return false;
	return scsi_alua_refuse(t, st);
}

/* Handlers (dispatch table rows). */
int scsi_alua_maint_out(struct scsi_task *t);                 /* MAINTENANCE OUT (A4h) */
int scsi_alua_report_tpgs(struct scsi_task *t);               /* RTPG, MAINTENANCE IN SA 0Ah */
int scsi_alua_report_tmfs(struct scsi_task *t);               /* MAINTENANCE IN SA 0Dh */
int scsi_sbc_read_defect_data(struct scsi_task *t);           /* 37h / B7h */

/* Targets register so that a state change reaches every I_T nexus. */
void scsi_alua_target_register(struct scsi_target *tgt);
void scsi_alua_target_unregister(struct scsi_target *tgt);
#endif

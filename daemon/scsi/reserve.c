/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SPC-2 RESERVE(6)/(10) and RELEASE(6)/(10): the older whole-LUN
 * reservation held by one I_T nexus, lost with that nexus and on resets,
 * and how it coexists with persistent reservations (SPC-4 5.13.3). */
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"

static void publish(struct scsi_lun *lu)
{
	struct scsi_pr *pr = lu->pr;
	unsigned v = (pr->st.type ? SCSI_RESV_PR : 0) | (pr->r2_holder ? SCSI_RESV_SPC2 : 0);
	atomic_store_explicit(&lu->resv_active, v, memory_order_release);
}

/* SPC-4 5.13.3: RESERVE/RELEASE from the persistent reservation holder, or
 * from a registrant of a registrants-only / all-registrants reservation,
 * complete with GOOD and change nothing. Returns 1 for that, -1 when the
 * command conflicts (any other nexus while registrations exist: SPC-2
 * 5.5.1), 0 when SPC-2 rules apply. Called with pr->lock held. */
static int pr_exception(const struct scsi_pr_state *s, const struct scsi_task *t)
{
	if (!s->nregs)
		return 0;
	if (s->type) {
		for (uint32_t i = 0; i < s->nregs; i++) {
			const struct scsi_pr_reg *g = &s->regs[i];
			if (!scsi_pr_id_match(&g->id, t->itn->initiator, t->itn->port.rel_port_id))
				continue;
			if (g->holder || s->type >= SCSI_PR_WR_EX_RO)
				return 1;
		}
	}
	return -1;
}

static int conflict(struct scsi_task *t)
{
	scsi_task_set_status(t, SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, 0);
	return SCSI_DONE;
}

/* RESERVE/RELEASE(6) (op6) and (10) (op10): third-party and extent
 * reservations are not supported (SPC-2 7.19, 7.21), and a command without
 * an I_T nexus cannot hold one. True when the command was answered here
 * (*rc is then the handler's return value). */
static bool reserve_cdb_refused(struct scsi_task *t, uint8_t op6, uint8_t op10, int *rc)
{
	if (t->cdb[0] == op6 && (t->cdb[1] & 0x11))
		*rc = scsi_task_invalid_cdb(t, 1, (t->cdb[1] & 0x10) ? 4 : 0);
	else if (t->cdb[0] == op10 && (t->cdb[1] & 0x12))
		*rc = scsi_task_invalid_cdb(t, 1, (t->cdb[1] & 0x10) ? 4 : 1);
	else if (!t->itn)
		*rc = conflict(t);
	else
		return false;
	return true;
}

int scsi_spc_reserve(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct scsi_pr *pr = lu->pr;
	int rc;

	if (reserve_cdb_refused(t, 0x16, 0x56, &rc))
		return rc;
	pthread_mutex_lock(&pr->lock);
	rc = pr_exception(&pr->st, t);
	if (rc == 0) {
		if (pr->r2_holder && pr->r2_holder != t->itn) {
			rc = -1;
		} else {
			pr->r2_holder = t->itn;
			publish(lu);
		}
	}
	pthread_mutex_unlock(&pr->lock);
	if (rc < 0)
		return conflict(t);
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

int scsi_spc_release(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct scsi_pr *pr = lu->pr;
	int rc;

	if (reserve_cdb_refused(t, 0x17, 0x57, &rc))
		return rc;
	pthread_mutex_lock(&pr->lock);
	rc = pr_exception(&pr->st, t);
	/* SPC-2 7.19: releasing what another nexus holds (or nothing) is GOOD */
	if (rc == 0 && pr->r2_holder == t->itn) {
		pr->r2_holder = NULL;
		publish(lu);
	}
	pthread_mutex_unlock(&pr->lock);
	if (rc < 0)
		return conflict(t);
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

void scsi_reserve_release_itn(struct scsi_lun *lu, struct scsi_itn *itn)
{
	struct scsi_pr *pr = lu ? lu->pr : NULL;

	if (!pr || !(atomic_load_explicit(&lu->resv_active, memory_order_acquire) & SCSI_RESV_SPC2))
		return;
	pthread_mutex_lock(&pr->lock);
	if (pr->r2_holder && (!itn || pr->r2_holder == itn)) {
		pr->r2_holder = NULL;
		publish(lu);
	}
	pthread_mutex_unlock(&pr->lock);
}

/* I_T nexus loss releases its RESERVE on every LUN (SPC-2 5.5.1);
 * persistent registrations stay (SPC-4 5.13.7). */
void scsi_reserve_itn_gone(struct scsi_itn *itn)
{
	struct scsi_target *tgt = itn->tgt;
	for (uint32_t i = 0; i < SCSI_LUN_MAX; i++) {
		struct scsi_lun *lu = atomic_load_explicit(&tgt->luns[i], memory_order_acquire);
		if (lu)
			scsi_reserve_release_itn(lu, itn);
	}
}

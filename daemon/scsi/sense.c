/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How conditions reach the initiator: fixed-format sense data (SPC-4 4.5.3)
 * with the sense-key-specific field pointer (SPC-4 4.5.2.4.2), the descriptor
 * format used by REQUEST SENSE with DESC=1, and unit attention conditions
 * (SAM-5 5.14, SPC-4 5.11) kept per I_T nexus per LUN. Unit attentions are
 * established by resets, mode and LUN inventory changes, and reported once each
 * by the next command that is not INQUIRY / REPORT LUNS / REQUEST SENSE. The
 * I/O path only reads the nexus-wide counter; the table behind it is touched
 * under a mutex only while some condition exists. */
#include <stdlib.h>
#include <string.h>
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"

void scsi_sense_build_fixed(uint8_t *out, uint8_t sk, uint8_t asc, uint8_t ascq)
{
	memset(out, 0, SCSI_FIXED_SENSE_LEN);
	out[0] = 0x70;                  /* current error, fixed format */
	out[2] = sk & 0x0f;
	out[7] = SCSI_FIXED_SENSE_LEN - 8; /* additional sense length = 10 */
	out[12] = asc;
	out[13] = ascq;
}

void scsi_task_set_status(struct scsi_task *t, uint8_t status, uint8_t sk, uint8_t asc, uint8_t ascq)
{
	t->status = status;
	if (status == SCSI_STATUS_CHECK_CONDITION) {
		scsi_sense_build_fixed(t->sense, sk, asc, ascq);
		t->sense_len = SCSI_FIXED_SENSE_LEN;
	} else {
		t->sense_len = 0;
	}
}

int scsi_task_check(struct scsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq)
{
	scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, sk, asc, ascq);
	return SCSI_DONE;
}

/* SPC-4 4.5.2.4.2 field pointer: SKSV=1, C/D, BPV and bit pointer, then the
 * byte number of the offending field in bytes 16..17. */
static void set_field_pointer(struct scsi_task *t, bool cdb, uint16_t byte, int bit)
{
	uint8_t b = 0x80;
	if (cdb)
		b |= 0x40;
	if (bit >= 0 && bit < 8)
		b |= 0x08 | (uint8_t)bit;
	t->sense[15] = b;
	put_be16(&t->sense[16], byte);
}

int scsi_task_invalid_cdb(struct scsi_task *t, uint16_t byte, int bit)
{
	scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	set_field_pointer(t, true, byte, bit);
	return SCSI_DONE;
}

int scsi_task_invalid_param(struct scsi_task *t, uint16_t byte, int bit)
{
	scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_ILLEGAL_REQUEST,
			     ASC_INVALID_FIELD_IN_PARAM_LIST);
	set_field_pointer(t, false, byte, bit);
	return SCSI_DONE;
}

void scsi_task_set_info(struct scsi_task *t, uint32_t info)
{
	if (t->sense_len < SCSI_FIXED_SENSE_LEN || (t->sense[0] & 0x7f) != 0x70)
		return;
	t->sense[0] |= 0x80;            /* VALID: INFORMATION field is defined */
	put_be32(&t->sense[3], info);
}

/* SPC-4 4.5.2: descriptor format header (8 bytes) with the information and
 * sense-key-specific descriptors carried over when the fixed data has them. */
uint8_t scsi_sense_fixed_to_desc(const uint8_t *fixed, uint8_t *out)
{
	uint8_t n = 8;

	memset(out, 0, 8);
	out[0] = (fixed[0] & 0x7f) == 0x71 ? 0x73 : 0x72;
	out[1] = fixed[2] & 0x0f;
	out[2] = fixed[12];
	out[3] = fixed[13];
	if (fixed[0] & 0x80) {
		/* information descriptor (type 00h), 12 bytes */
		memset(&out[n], 0, 12);
		out[n] = 0x00;
		out[n + 1] = 0x0a;
		out[n + 2] = 0x80;
		put_be32(&out[n + 8], get_be32(&fixed[3]));
		n += 12;
	}
	if (fixed[15] & 0x80) {
		/* sense key specific descriptor (type 02h), 8 bytes */
		memset(&out[n], 0, 8);
		out[n] = 0x02;
		out[n + 1] = 0x06;
		out[n + 4] = fixed[15];
		out[n + 5] = fixed[16];
		out[n + 6] = fixed[17];
		n += 8;
	}
	out[7] = (uint8_t)(n - 8);
	return n;
}

/* ---------------------------------------------------------------- unit attentions */

static const uint8_t ua_codes[SCSI_UA_MAX][2] = {
	[SCSI_UA_POWER_ON] = { ASC_POWER_ON_RESET },
	[SCSI_UA_LUN_RESET] = { ASC_BUS_DEVICE_RESET },
	[SCSI_UA_COMMANDS_CLEARED] = { ASC_COMMANDS_CLEARED_BY_ANOTHER },
	[SCSI_UA_MODE_CHANGED] = { ASC_MODE_PARAMETERS_CHANGED },
	[SCSI_UA_CAPACITY_CHANGED] = { ASC_CAPACITY_DATA_CHANGED },
	[SCSI_UA_LUNS_CHANGED] = { ASC_REPORTED_LUNS_DATA_CHANGED },
	[SCSI_UA_ALUA_CHANGED] = { ASC_ASYMMETRIC_ACCESS_STATE_CHANGED },
	[SCSI_UA_RESERVATIONS_PREEMPTED] = { 0x2a, 0x03 },
	[SCSI_UA_RESERVATIONS_RELEASED] = { 0x2a, 0x04 },
	[SCSI_UA_REGISTRATIONS_PREEMPTED] = { 0x2a, 0x05 },
};

void scsi_ua_itn_init(struct scsi_itn *itn)
{
	atomic_init(&itn->ua_count, 0);
	pthread_mutex_init(&itn->ua_lock, NULL);
	itn->ua = NULL;
	itn->nua = itn->ua_cap = 0;
}

void scsi_ua_itn_fini(struct scsi_itn *itn)
{
	pthread_mutex_destroy(&itn->ua_lock);
	free(itn->ua);
	itn->ua = NULL;
	itn->nua = itn->ua_cap = 0;
}

static struct scsi_ua_entry *ua_find(struct scsi_itn *itn, uint32_t lun, bool create)
{
	for (uint32_t i = 0; i < itn->nua; i++)
		if (itn->ua[i].lun == lun)
			return &itn->ua[i];
	if (!create)
		return NULL;
	if (itn->nua == itn->ua_cap) {
		uint32_t cap = itn->ua_cap ? itn->ua_cap * 2 : 8;
		struct scsi_ua_entry *n = realloc(itn->ua, cap * sizeof(*n));
		if (!n) {
			qb_log(LOG_ERR, "scsi: out of memory queueing a unit attention");
			return NULL;
		}
		itn->ua = n;
		itn->ua_cap = cap;
	}
	struct scsi_ua_entry *e = &itn->ua[itn->nua++];
	e->lun = lun;
	e->bits = 0;
	return e;
}

/* Recount entries with pending bits; called with ua_lock held. */
static void ua_recount(struct scsi_itn *itn)
{
	unsigned n = 0;
	uint32_t w = 0;
	for (uint32_t i = 0; i < itn->nua; i++) {
		if (itn->ua[i].bits) {
			itn->ua[w++] = itn->ua[i];
			n++;
		}
	}
	itn->nua = w;
	atomic_store_explicit(&itn->ua_count, n, memory_order_release);
}

static void ua_set_locked(struct scsi_itn *itn, uint32_t lun, enum scsi_ua ua)
{
	struct scsi_ua_entry *e = ua_find(itn, lun, true);
	if (!e)
		return;
	/* A reset condition supersedes the ones it implies (SAM-5 5.14). */
	if (ua == SCSI_UA_POWER_ON)
		e->bits &= ~(1u << SCSI_UA_LUN_RESET);
	if (ua == SCSI_UA_LUN_RESET && (e->bits & (1u << SCSI_UA_POWER_ON)))
		return;
	e->bits |= 1u << ua;
}

void scsi_ua_establish(struct scsi_itn *itn, uint32_t lun, enum scsi_ua ua)
{
	if (!itn || ua >= SCSI_UA_MAX)
		return;
	pthread_mutex_lock(&itn->ua_lock);
	if (lun == SCSI_UA_ALL_LUNS) {
		struct scsi_target *tgt = itn->tgt;
		for (uint32_t i = 0; i < SCSI_LUN_MAX; i++)
			if (atomic_load_explicit(&tgt->luns[i], memory_order_acquire))
				ua_set_locked(itn, i, ua);
	} else {
		ua_set_locked(itn, lun, ua);
	}
	ua_recount(itn);
	pthread_mutex_unlock(&itn->ua_lock);
}

void scsi_ua_establish_others_locked(struct scsi_target *tgt, struct scsi_itn *except, uint32_t lun,
				     enum scsi_ua ua)
{
	for (struct scsi_itn *i = tgt->itns; i; i = i->next)
		if (i != except)
			scsi_ua_establish(i, lun, ua);
}

void scsi_ua_establish_others(struct scsi_target *tgt, struct scsi_itn *except, uint32_t lun, enum scsi_ua ua)
{
	pthread_mutex_lock(&tgt->lock);
	scsi_ua_establish_others_locked(tgt, except, lun, ua);
	pthread_mutex_unlock(&tgt->lock);
}

bool scsi_ua_take(struct scsi_itn *itn, uint32_t lun, uint8_t *asc, uint8_t *ascq)
{
	bool found = false;

	if (!scsi_ua_any(itn))
		return false;
	pthread_mutex_lock(&itn->ua_lock);
	struct scsi_ua_entry *e = ua_find(itn, lun, false);
	if (e && e->bits) {
		int ua = __builtin_ctz(e->bits);
		e->bits &= ~(1u << ua);
		*asc = ua_codes[ua][0];
		*ascq = ua_codes[ua][1];
		found = true;
		/* SPC-4 7.8.7 LUICLR=1: reporting REPORTED LUNS DATA HAS CHANGED
		 * on one LUN clears it on every LUN of this nexus. */
		if (ua == SCSI_UA_LUNS_CHANGED)
			for (uint32_t i = 0; i < itn->nua; i++)
				itn->ua[i].bits &= ~(1u << SCSI_UA_LUNS_CHANGED);
		ua_recount(itn);
	}
	pthread_mutex_unlock(&itn->ua_lock);
	return found;
}

bool scsi_ua_pending(struct scsi_itn *itn, uint32_t lun)
{
	bool found = false;

	if (!scsi_ua_any(itn))
		return false;
	pthread_mutex_lock(&itn->ua_lock);
	struct scsi_ua_entry *e = ua_find(itn, lun, false);
	found = e && e->bits;
	pthread_mutex_unlock(&itn->ua_lock);
	return found;
}

void scsi_ua_clear(struct scsi_itn *itn, uint32_t lun, enum scsi_ua ua)
{
	if (!scsi_ua_any(itn))
		return;
	pthread_mutex_lock(&itn->ua_lock);
	for (uint32_t i = 0; i < itn->nua; i++)
		if (lun == SCSI_UA_ALL_LUNS || itn->ua[i].lun == lun)
			itn->ua[i].bits &= ~(1u << ua);
	ua_recount(itn);
	pthread_mutex_unlock(&itn->ua_lock);
}

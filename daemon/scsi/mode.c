/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mode parameters (SPC-4 7.5): MODE SENSE(6/10) builds the caching and
 * control pages in their current / changeable / default / saved forms, and
 * MODE SELECT(6/10) validates a parameter list field by field against the
 * changeable mask before applying WCE and SWP to the LUN. */
#include <stdlib.h>
#include <string.h>
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"
#include "scsi/scsi_sense.h"
#include "scsi/task_bio.h"

enum { PC_CURRENT = 0, PC_CHANGEABLE = 1, PC_DEFAULT = 2, PC_SAVED = 3 };

#define MODE_PAGE_MAX 64

/* SBC-3 6.4.7 Read-Write Error Recovery mode page (01h), 12 bytes: the
 * backend does its own recovery, nothing here is changeable. */
static uint32_t page_rw_recovery(const struct scsi_lun *lu, int pc, uint8_t *p)
{
	memset(p, 0, 12);
	p[0] = 0x01;
	p[1] = 0x0a;
	if (pc == PC_CHANGEABLE)
		return 12;
	p[2] = 0x80;                    /* AWRE: automatic write reallocation */
	return 12;
}

/* SBC-3 6.4.5 Caching mode page (08h), 20 bytes. PS=1: savable. */
static uint32_t page_caching(const struct scsi_lun *lu, int pc, uint8_t *p)
{
	bool wce;

	memset(p, 0, 20);
	p[0] = 0x80 | 0x08;
	p[1] = 0x12;
	switch (pc) {
	case PC_CHANGEABLE:
		/* nv-cache always reports write-through: WCE is fixed there. */
		wce = lu->cache != TCONF_CACHE_NV;
		break;
	case PC_DEFAULT:
		wce = lu->cache == TCONF_CACHE_WRITE_BACK;
		break;
	case PC_SAVED:
		wce = atomic_load_explicit(&lu->wce_saved, memory_order_relaxed);
		break;
	default:
		wce = atomic_load_explicit(&lu->wce, memory_order_relaxed);
		break;
	}
	if (wce)
		p[2] |= 0x04;
	return 20;
}

/* SPC-4 7.5.8 Control mode page (0Ah), 12 bytes. */
static uint32_t page_control(const struct scsi_lun *lu, int pc, uint8_t *p)
{
	bool swp;

	memset(p, 0, 12);
	p[0] = 0x80 | 0x0a;
	p[1] = 0x0a;
	if (pc == PC_CHANGEABLE) {
		p[4] = 0x08;            /* only SWP may be changed */
		return 12;
	}
	p[3] = 0x10;                    /* QUEUE ALGORITHM MODIFIER 1: unrestricted reordering */
	if (pc == PC_SAVED)
		swp = atomic_load_explicit(&lu->swp_saved, memory_order_relaxed);
	else if (pc == PC_DEFAULT)
		swp = false;
	else
		swp = atomic_load_explicit(&lu->swp, memory_order_relaxed);
	if (swp)
		p[4] |= 0x08;
	put_be16(&p[8], 0xffff);        /* BUSY TIMEOUT PERIOD: unlimited */
	return 12;
}

/* SPC-4 7.5.12 Informational Exceptions Control mode page (1Ch), 12 bytes:
 * no failure prediction, so reporting is disabled (DEXCPT=1, MRIE=0). */
static uint32_t page_info_exceptions(const struct scsi_lun *lu, int pc, uint8_t *p)
{
	memset(p, 0, 12);
	p[0] = 0x1c;
	p[1] = 0x0a;
	if (pc == PC_CHANGEABLE)
		return 12;
	p[2] = 0x08;                    /* DEXCPT */
	return 12;
}

typedef uint32_t (*page_fn)(const struct scsi_lun *lu, int pc, uint8_t *p);
static const page_fn mode_pages[0x40] = {
	[0x01] = page_rw_recovery,
	[0x08] = page_caching,
	[0x0a] = page_control,
	[0x1c] = page_info_exceptions,
};

/* SPC-4 6.11 / 6.12 MODE SENSE(6) and MODE SENSE(10). */
int scsi_mode_sense(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	bool is10 = t->cdb[0] == 0x5a;
	bool dbd = t->cdb[1] & 0x08;
	bool llbaa = is10 && (t->cdb[1] & 0x10);
	int pc = t->cdb[2] >> 6;
	uint8_t page = t->cdb[2] & 0x3f;
	uint8_t subpage = t->cdb[3];
	uint32_t alloc = is10 ? get_be16(&t->cdb[7]) : t->cdb[4];
	uint8_t d[512];
	uint32_t hdr = is10 ? 8 : 4, off, bdlen = 0;

	if (t->cdb[1] & (is10 ? 0xe7 : 0xf7))
		return scsi_task_invalid_cdb(t, 1, -1);
	if (is10 && (t->cdb[4] || t->cdb[5] || t->cdb[6]))
		return scsi_task_invalid_cdb(t, t->cdb[4] ? 4 : t->cdb[5] ? 5 : 6, -1);
	if (subpage != 0 && subpage != 0xff)
		return scsi_task_invalid_cdb(t, 3, -1);
	if (page != 0x3f && !mode_pages[page])
		return scsi_task_invalid_cdb(t, 2, 5);

	memset(d, 0, sizeof(d));
	if (!dbd)
		bdlen = llbaa ? 16 : 8;
	off = hdr;
	uint64_t nblocks = atomic_load_explicit(&lu->nblocks, memory_order_acquire);
	if (bdlen == 8) {
		put_be32(&d[off], nblocks > 0xffffffffULL ? 0xffffffffu : (uint32_t)nblocks);
		put_be32(&d[off + 4], lu->block_size); /* density 0, 24-bit length */
	} else if (bdlen == 16) {
		put_be64(&d[off], nblocks);
		put_be32(&d[off + 12], lu->block_size);
	}
	off += bdlen;
	if (page == 0x3f) {
		for (int i = 0; i < 0x40; i++)
			if (mode_pages[i])
				off += mode_pages[i](lu, pc, &d[off]);
	} else {
		off += mode_pages[page](lu, pc, &d[off]);
	}

	/* Device-specific parameter (SBC-3 6.4.1): WP, DPOFUA. */
	uint8_t dsp = 0x10;
	if (scsi_lun_write_protected(lu))
		dsp |= 0x80;
	if (is10) {
		put_be16(&d[0], (uint16_t)(off - 2));
		d[3] = dsp;
		d[4] = bdlen == 16 ? 0x01 : 0x00;
		put_be16(&d[6], (uint16_t)bdlen);
	} else {
		d[0] = (uint8_t)(off - 1);
		d[2] = dsp;
		d[3] = (uint8_t)bdlen;
	}
	return scsi_task_data_in(t, d, off, alloc);
}

static int param_len_error(struct scsi_task *t)
{
	return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
}

/* The steps after a MODE SELECT changed something, each once the previous
 * one succeeded: the flush when the write cache is (or may still have to be)
 * turned off, then a replicated LUN's record to the peer. The flush comes
 * first: writes acknowledged while WCE was 1 may still be volatile, here and
 * in the peer's cache, and an initiator that sees WCE=0 (on either node after
 * a failover) never flushes them. Until both steps succeeded the LUN counts
 * as unsettled, and the next MODE SELECT does them again even if it changes
 * nothing (the initiator's retry after an error). The other nexuses' MODE
 * PARAMETERS CHANGED comes last, once the peer holds the record: before, it
 * came first, and a Primary lost in between left them with a change that the
 * promoted peer had never seen, and no attention when the old values came
 * back. t->state: MODE_STEP_* */
enum { MODE_STEP_FLUSH = 1u, MODE_STEP_RECORD = 2u, MODE_STEP_UA = 4u };

static int mode_next_step(struct scsi_task *t);

/* SPC-4 7.5.2: other nexuses learn of a change through MODE PARAMETERS
 * CHANGED; also when a step failed, as the values changed on this node */
static void mode_changed_ua(struct scsi_task *t)
{
	if (!(t->state & MODE_STEP_UA))
		return;
	t->state &= ~MODE_STEP_UA;
	scsi_ua_establish_others(t->lu->tgt, t->itn, t->lu->id, SCSI_UA_MODE_CHANGED);
}

static void mode_step_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;

	if (io->status) {
		/* a write error, or NOT READY / ALUA transition when this node was
		 * demoted meanwhile (the initiator retries on the new Primary); a
		 * concurrent MODE SELECT may have settled the LUN since: owed again */
		atomic_store(&t->lu->mode_unsettled, true);
		mode_changed_ua(t);
		scsi_sbc_io_error(t, true, io->status);
		free(t->priv);
		t->priv = NULL;
		scsi_task_done(t);
		return;
	}
	t->state &= (t->state & MODE_STEP_FLUSH) ? ~MODE_STEP_FLUSH : ~MODE_STEP_RECORD;
	if (mode_next_step(t) == SCSI_DONE)
		scsi_task_done(t);
}

static int mode_next_step(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;

	if (t->state & MODE_STEP_FLUSH)
		return scsi_task_bio_submit(t, BDEV_IO_FLUSH, 0, 0, NULL, 0, mode_step_done);
	if (t->state & MODE_STEP_RECORD)
		/* the record's sequence number rides in bio.offset: t->lba */
		return scsi_task_bio_submit(t, BDEV_IO_STATE, 0, t->lba, t->priv, t->nblocks, mode_step_done);
	free(t->priv);
	t->priv = NULL;
	atomic_store(&lu->mode_unsettled, false);
	mode_changed_ua(t);
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

/* SPC-4 6.9 / 6.10 MODE SELECT(6) and MODE SELECT(10). Every page in the list
 * is checked before anything is applied: non-changeable bits must equal the
 * current value (SPC-4 7.5.2), page lengths must be exact. */
int scsi_mode_select(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	bool is10 = t->cdb[0] == 0x55;
	bool pf = t->cdb[1] & 0x10;
	bool sp = t->cdb[1] & 0x01;
	uint32_t pl = is10 ? get_be16(&t->cdb[7]) : t->cdb[4];
	uint32_t hdr = is10 ? 8 : 4, bdlen, off;
	bool wce = atomic_load(&lu->wce), swp = atomic_load(&lu->swp);
	uint8_t cur[MODE_PAGE_MAX], chg[MODE_PAGE_MAX];
	const uint8_t *p;

	if (t->cdb[1] & 0xee)
		return scsi_task_invalid_cdb(t, 1, -1);
	if (is10 && (t->cdb[2] || t->cdb[3] || t->cdb[4] || t->cdb[5] || t->cdb[6]))
		return scsi_task_invalid_cdb(t, 2, -1);
	if (!is10 && (t->cdb[2] || t->cdb[3]))
		return scsi_task_invalid_cdb(t, t->cdb[2] ? 2 : 3, -1);
	if (pl == 0) {
		scsi_task_data_out(t, 0);
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	if (scsi_task_data_out(t, pl) < pl)
		return param_len_error(t);
	if (pl < hdr)
		return param_len_error(t);
	p = t->buf;

	/* mode parameter header: MODE DATA LENGTH (bytes 0, or 0-1) is reserved
	 * in MODE SELECT and ignored; MEDIUM TYPE (byte 1, or 2) is 00h for SBC */
	uint16_t medium = is10 ? 2 : 1;
	if (p[medium])
		return scsi_task_invalid_param(t, medium, -1);
	if (is10) {
		bdlen = get_be16(&p[6]);
		if (p[4] & 0xfe || p[5])
			return scsi_task_invalid_param(t, 4, -1);
		if (bdlen != 0 && bdlen != ((p[4] & 0x01) ? 16u : 8u))
			return scsi_task_invalid_param(t, 6, -1);
	} else {
		bdlen = p[3];
		if (bdlen != 0 && bdlen != 8)
			return scsi_task_invalid_param(t, 3, -1);
	}
	if (hdr + bdlen > pl)
		return param_len_error(t);
	/* block descriptor: may restate, not change, the geometry */
	uint64_t nblocks = atomic_load_explicit(&lu->nblocks, memory_order_acquire);
	if (bdlen == 8) {
		uint32_t nb = get_be32(&p[hdr]);
		uint32_t cap = nblocks > 0xffffffffULL ? 0xffffffffu : (uint32_t)nblocks;
		if (nb && nb != cap)
			return scsi_task_invalid_param(t, (uint16_t)hdr, -1);
		if (p[hdr + 4])
			return scsi_task_invalid_param(t, (uint16_t)(hdr + 4), -1);
		if (get_be24(&p[hdr + 5]) != lu->block_size)
			return scsi_task_invalid_param(t, (uint16_t)(hdr + 5), -1);
	} else if (bdlen == 16) {
		uint64_t nb = get_be64(&p[hdr]);
		if (nb && nb != nblocks)
			return scsi_task_invalid_param(t, (uint16_t)hdr, -1);
		if (get_be32(&p[hdr + 8]))
			return scsi_task_invalid_param(t, (uint16_t)(hdr + 8), -1);
		if (get_be32(&p[hdr + 12]) != lu->block_size)
			return scsi_task_invalid_param(t, (uint16_t)(hdr + 12), -1);
	}
	off = hdr + bdlen;
	if (off < pl && !pf)            /* only the page format is implemented */
		return scsi_task_invalid_cdb(t, 1, 4);

	while (off < pl) {
		if (pl - off < 2)
			return param_len_error(t);
		uint8_t code = p[off] & 0x3f;
		if (p[off] & 0x80)      /* PS is reserved in MODE SELECT */
			return scsi_task_invalid_param(t, (uint16_t)off, 7);
		if (p[off] & 0x40)      /* SPF: no subpages implemented */
			return scsi_task_invalid_param(t, (uint16_t)off, 6);
		if (!mode_pages[code])
			return scsi_task_invalid_param(t, (uint16_t)off, 5);
		uint32_t len = mode_pages[code](lu, PC_CURRENT, cur);
		mode_pages[code](lu, PC_CHANGEABLE, chg);
		if (p[off + 1] != len - 2)
			return scsi_task_invalid_param(t, (uint16_t)(off + 1), -1);
		if (pl - off < len)
			return param_len_error(t);
		/* Validate against the current values, with the bits this
		 * command already changed taken into account. */
		if (code == 0x08)
			cur[2] = (uint8_t)((cur[2] & ~0x04) | (wce ? 0x04 : 0));
		if (code == 0x0a)
			cur[4] = (uint8_t)((cur[4] & ~0x08) | (swp ? 0x08 : 0));
		for (uint32_t i = 2; i < len; i++) {
			uint8_t diff = (uint8_t)((p[off + i] ^ cur[i]) & ~chg[i]);
			if (diff)
				return scsi_task_invalid_param(t, (uint16_t)(off + i), 31 - __builtin_clz(diff));
		}
		if (code == 0x08)
			wce = p[off + 2] & 0x04;
		if (code == 0x0a)
			swp = p[off + 4] & 0x08;
		off += len;
	}

	/* A replicated LUN: its mode parameters travel with the reservations'
	 * record (pr.c), under the record's lock so that records leave in
	 * order; the Secondary's (standby) port takes no change that would
	 * exist on this node only, as for PERSISTENT RESERVE OUT. */
	bool replicated = lu->pr->replicated;
	if (replicated && !bdev_state_writable(lu->bdev))
		return scsi_task_check(t, SK_NOT_READY, 0x04, 0x0b);
	pthread_mutex_lock(&lu->pr->lock);
	pthread_mutex_lock(&lu->lock);
	bool changed = atomic_load(&lu->wce) != wce || atomic_load(&lu->swp) != swp;
	bool cache_off = atomic_load(&lu->wce) && !wce;
	bool save = sp && (atomic_load(&lu->wce_saved) != wce || atomic_load(&lu->swp_saved) != swp);
	bool unsettled = atomic_load(&lu->mode_unsettled);
	/* SPC-4 7.5.2: saved values survive a power loss; GOOD only once the
	 * file holds them */
	if (save && scsi_mode_store_save(lu, wce, swp) < 0) {
		pthread_mutex_unlock(&lu->lock);
		pthread_mutex_unlock(&lu->pr->lock);
		return scsi_task_check(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
	atomic_store(&lu->wce, wce);
	atomic_store(&lu->swp, swp);
	if (sp) {
		atomic_store(&lu->wce_saved, wce);
		atomic_store(&lu->swp_saved, swp);
	}
	bool steps = changed || save || unsettled;
	if (steps)
		atomic_store(&lu->mode_unsettled, true);
	pthread_mutex_unlock(&lu->lock);
	uint8_t *rec = NULL;
	uint64_t seq = 0;
	size_t reclen = 0;
	if (replicated && steps && !(reclen = scsi_pr_record_next_locked(lu, &rec, &seq)))
		qb_log(LOG_ERR, "scsi: %s LUN %u: out of memory for the record of the mode parameters", lu->tgt->name,
		       lu->id);
	pthread_mutex_unlock(&lu->pr->lock);
	t->state = 0;
	if (changed) {
		qb_log(LOG_INFO, "scsi: %s LUN %u: mode parameters changed (WCE=%d SWP=%d%s)",
		       lu->tgt->name, lu->id, wce, swp, sp ? ", saved" : "");
		t->state |= MODE_STEP_UA;       /* after the steps: mode_changed_ua */
	}
	if (replicated && steps && !reclen) {   /* unsettled: the retry builds it again */
		mode_changed_ua(t);
		return scsi_task_check(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
	if ((cache_off || (unsettled && !wce)) && lu->cache != TCONF_CACHE_NV)
		t->state |= MODE_STEP_FLUSH;
	if (reclen) {                   /* answered once the peer holds it (or counts as Outdated) */
		t->state |= MODE_STEP_RECORD;
		t->priv = rec;
		t->lba = seq;
		t->nblocks = (uint32_t)reclen;
	}
	return mode_next_step(t);
}

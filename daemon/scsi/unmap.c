/* SPDX-License-Identifier: GPL-2.0-or-later */
/* UNMAP (SBC-3 5.28): the parameter list is parsed and every block
 * descriptor validated before anything is deallocated (a bad descriptor
 * leaves the medium untouched), then the descriptors are executed one after
 * the other, each under the LBA range lock, as backend UNMAP requests
 * (punch hole on files, BLKDISCARD on devices). */
#include <string.h>
#include "util/be.h"
#include "scsi/scsi_internal.h"
#include "scsi/task_bio.h"

#define UNMAP_HDR 8
#define UNMAP_DESC 16

int scsi_unmap_parse(const uint8_t *p, uint32_t len, uint64_t nblocks, uint32_t max_desc, uint32_t max_lbas,
		     uint32_t *ndesc, uint16_t *field)
{
	uint32_t bd_len, n;
	uint64_t total = 0;     /* at most 4095 descriptors of 32-bit counts: no overflow */

	*ndesc = 0;
	*field = 0;
	/* SBC-3 5.28.1: a parameter list shorter than its 8-byte header */
	if (len < UNMAP_HDR)
		return -1;
	/* SBC-3 5.28.2: UNMAP BLOCK DESCRIPTOR DATA LENGTH; descriptors that
	 * did not arrive (list truncated by PARAMETER LIST LENGTH) and an
	 * incomplete last descriptor (length not a multiple of 16) are ignored. */
	bd_len = get_be16(&p[2]);
	if (bd_len > len - UNMAP_HDR)
		bd_len = len - UNMAP_HDR;
	n = bd_len / UNMAP_DESC;
	/* more than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (VPD B0h) */
	if (n > max_desc) {
		*field = 2;
		return -2;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *d = p + UNMAP_HDR + UNMAP_DESC * i;
		uint64_t lba = get_be64(&d[0]);
		uint32_t num = get_be32(&d[8]);

		/* SBC-3 6.5.3: MAXIMUM UNMAP LBA COUNT limits the command, the sum
		 * over its descriptors; the pointer names the count that passed it */
		total += num;
		if (total > max_lbas) {
			*field = (uint16_t)(UNMAP_HDR + UNMAP_DESC * i + 8);
			return -2;
		}
		/* SBC-3 5.28.2: LBA + NUMBER beyond the capacity */
		if (lba > nblocks || num > nblocks - lba) {
			*field = (uint16_t)(UNMAP_HDR + UNMAP_DESC * i);
			return -3;
		}
	}
	*ndesc = n;
	return 0;
}

/* t->state = index of the descriptor in progress, t->nblocks = their count. */
static int unmap_next(struct scsi_task *t);

static void unmap_desc_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	int rc;

	scsi_range_unlock(t);
	if (io->status) {
		scsi_sbc_io_error(t, true, io->status);
		scsi_task_done(t);
		return;
	}
	if (io->type == BDEV_IO_FLUSH) {
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		scsi_task_done(t);
		return;
	}
	t->state++;
	rc = unmap_next(t);
	if (rc == SCSI_DONE)
		scsi_task_done(t);
}

static int unmap_locked(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;

	return scsi_task_bio_submit(t, BDEV_IO_UNMAP, 0, t->range.lba << lu->block_shift, NULL,
				    (t->range.end - t->range.lba) << lu->block_shift, unmap_desc_done);
}

static int unmap_next(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;

	for (; t->state < t->nblocks; t->state++) {
		const uint8_t *d = t->buf + UNMAP_HDR + UNMAP_DESC * t->state;
		uint64_t lba = get_be64(&d[0]);
		uint32_t num = get_be32(&d[8]);

		if (num == 0)
			continue;       /* SBC-3: zero blocks is not an error */
		atomic_fetch_add_explicit(&lu->writes, 1, memory_order_relaxed);
		return scsi_range_lock(t, lba, num, unmap_locked);
	}
	/* write-through: deallocation must survive a power loss like a write */
	if (t->state == t->nblocks && scsi_lun_write_flags(lu, false)) {
		t->state++;
		return scsi_task_bio_submit(t, BDEV_IO_FLUSH, 0, 0, NULL, 0, unmap_desc_done);
	}
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

int scsi_sbc_unmap(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	const uint8_t *cdb = t->cdb;
	uint32_t plen = get_be16(&cdb[7]);
	uint32_t ndesc;
	uint16_t field;
	int rc;

	/* UNMAP is there only where LBPU=1 (libiscsi Unmap.VPD). */
	if (!scsi_lbp_can_unmap(lu))
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPCODE);
	/* byte 1: ANCHOR (bit 0; ANC_SUP=0), others reserved */
	if (cdb[1])
		return scsi_task_invalid_cdb(t, 1, (cdb[1] & 0x01) ? 0 : -1);
	if (cdb[2] || cdb[3] || cdb[4] || cdb[5])
		return scsi_task_invalid_cdb(t, cdb[2] ? 2 : cdb[3] ? 3 : cdb[4] ? 4 : 5, -1);
	if (cdb[6] & 0xe0)
		return scsi_task_invalid_cdb(t, 6, 7);
	if (scsi_lun_write_protected(lu))
		return scsi_task_check(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	/* SBC-3 5.28.1: PARAMETER LIST LENGTH 0 transfers nothing: GOOD. */
	if (plen == 0) {
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	uint32_t got = scsi_task_data_out(t, plen);
	if (got < plen && got < UNMAP_HDR)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	rc = scsi_unmap_parse(t->buf, got, lu->nblocks, scsi_lbp_max_unmap_descs(lu), scsi_lbp_max_unmap_blocks(lu),
			      &ndesc, &field);
	switch (rc) {
	case 0:
		break;
	case -1:
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	case -2:
		return scsi_task_invalid_param(t, field, -1);
	default:
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	}
	t->state = 0;
	t->nblocks = ndesc;
	return unmap_next(t);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* COMPARE AND WRITE (SBC-3 5.2), the ESXi "ATS" primitive VMFS locks with:
 * under the LUN's LBA range lock, read the blocks, compare them with the
 * first half of the data-out buffer and, only when every byte matches, write
 * the second half, so no other write or COMPARE AND WRITE to an overlapping
 * range can slip in between the compare and the write. */
#include <string.h>
#include "util/be.h"
#include "util/bufpool.h"
#include "scsi/scsi_internal.h"
#include "scsi/task_bio.h"

static void caw_write_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;

	if (io->status) {
		scsi_sbc_io_error(t, true, io->status);
	} else {
		atomic_fetch_add_explicit(&lu->writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->write_bytes, io->len, memory_order_relaxed);
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	}
	scsi_range_done(t);
}

static void caw_read_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;
	uint8_t *medium = t->priv;
	size_t bytes = (size_t)t->nblocks << lu->block_shift;
	int status = io->status;

	if (status == 0) {
		atomic_fetch_add_explicit(&lu->reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->read_bytes, io->len, memory_order_relaxed);
	}
	if (status == 0 && memcmp(medium, t->buf, bytes) != 0) {
		size_t i = 0;
		while (medium[i] == t->buf[i])
			i++;
		/* SBC-3 5.2: MISCOMPARE DURING VERIFY OPERATION, INFORMATION =
		 * offset of the first differing byte in the data-out buffer. */
		scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);
		scsi_task_set_info(t, (uint32_t)i);
	} else if (status) {
		scsi_sbc_io_error(t, false, status);
	}
	buf_free(medium, bytes);
	t->priv = NULL;
	if (status || t->status != SCSI_STATUS_GOOD) {
		scsi_range_done(t);
		return;
	}
	scsi_task_bio_submit(t, BDEV_IO_WRITE, t->state, t->lba << lu->block_shift, t->buf + bytes, bytes,
			     caw_write_done);
}

/* Runs with [lba, lba+n) held. */
static int caw_locked(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	size_t bytes = (size_t)t->nblocks << lu->block_shift;
	uint8_t *medium = buf_alloc(bytes);

	if (!medium) {
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return SCSI_DONE;
	}
	t->priv = medium;
	t->status = SCSI_STATUS_GOOD;
	return scsi_task_bio_submit(t, BDEV_IO_READ, 0, t->lba << lu->block_shift, medium, bytes, caw_read_done);
}

int scsi_sbc_compare_and_write(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	const uint8_t *cdb = t->cdb;
	uint64_t lba = get_be64(&cdb[2]);
	uint32_t n = cdb[13];

	/* SBC-3 5.2 table 15: WRPROTECT (no protection information: must be
	 * 0), DPO, FUA, FUA_NV (bit 1, accepted); bits 2 and 0 reserved. */
	if (cdb[1] & 0xe0)
		return scsi_task_invalid_cdb(t, 1, 7);
	if (cdb[1] & 0x05)
		return scsi_task_invalid_cdb(t, 1, (cdb[1] & 0x04) ? 2 : 0);
	for (int i = 10; i <= 12; i++)
		if (cdb[i])
			return scsi_task_invalid_cdb(t, (uint16_t)i, -1);
	if (cdb[14] & 0xe0)
		return scsi_task_invalid_cdb(t, 14, 7);
	if (scsi_lun_write_protected(lu))
		return scsi_task_check(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (!scsi_lba_range_ok(lu, lba, n))
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* NUMBER OF LOGICAL BLOCKS beyond MAXIMUM COMPARE AND WRITE LENGTH (VPD B0h) */
	if (n > scsi_lbp_max_caw_blocks(lu))
		return scsi_task_invalid_cdb(t, 13, -1);
	if (n == 0) {
		/* SBC-3 5.2: zero blocks is not an error; nothing is compared.
		 * Data-out sent anyway means the CDB is not what the initiator
		 * meant (libiscsi sends 256 blocks as 0). */
		t->xfer_len = 0;
		if (t->edtl)
			return scsi_task_invalid_cdb(t, 13, -1);
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	/* The data-out buffer is the verify instance then the write instance:
	 * exactly 2 * n blocks (libiscsi CompareAndWrite.InvalidDataOutSize). */
	uint32_t need = (2 * n) << lu->block_shift;
	if (t->edtl != need || scsi_task_data_out(t, need) < need) {
		t->data_len = 0;
		return scsi_task_invalid_cdb(t, 13, -1);
	}
	t->lba = lba;
	t->nblocks = n;
	t->state = scsi_lun_write_flags(lu, cdb[1] & 0x08);
	return scsi_range_lock(t, lba, n, caw_locked);
}

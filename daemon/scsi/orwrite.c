/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ORWRITE(16) (SBC-3 5.11): read the addressed blocks, OR the data-out
 * buffer into them and write the result back. Like COMPARE AND WRITE it runs
 * under the LUN's LBA range lock, so no other write, COMPARE AND WRITE or
 * ORWRITE to an overlapping range can land between the read and the write.
 *
 * Only the simple form is implemented: ORWRITE(16) has no BMOP field (the
 * bitmap operation is OR) and no generation fields; those belong to
 * ORWRITE(32), which is not supported. ORPROTECT must be zero (no protection
 * information). */
#include <string.h>
#include "util/be.h"
#include "util/bufpool.h"
#include "scsi/scsi_internal.h"
#include "scsi/task_bio.h"

static void orw_write_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;
	size_t bytes = (size_t)t->nblocks << lu->block_shift;

	if (io->status) {
		scsi_sbc_io_error(t, true, io->status);
	} else {
		atomic_fetch_add_explicit(&lu->writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->write_bytes, io->len, memory_order_relaxed);
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	}
	buf_free(t->priv, bytes);
	t->priv = NULL;
	scsi_range_done(t);
}

static void orw_read_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;
	uint8_t *medium = t->priv;
	size_t bytes = (size_t)t->nblocks << lu->block_shift;

	if (io->status) {
		scsi_sbc_io_error(t, false, io->status);
		buf_free(medium, bytes);
		t->priv = NULL;
		scsi_range_done(t);
		return;
	}
	atomic_fetch_add_explicit(&lu->reads, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lu->read_bytes, io->len, memory_order_relaxed);
	/* BMOP 000b: new data = medium OR data-out (word at a time; both
	 * buffers are 4096-aligned and block multiples). */
	uint64_t *m = (uint64_t *)(void *)medium;
	const uint64_t *d = (const uint64_t *)(const void *)t->buf;
	for (size_t i = 0; i < bytes / sizeof(uint64_t); i++)
		m[i] |= d[i];
	scsi_task_bio_submit(t, BDEV_IO_WRITE, t->state, t->lba << lu->block_shift, medium, bytes, orw_write_done);
}

/* Runs with [lba, lba+n) held. */
static int orw_locked(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	size_t bytes = (size_t)t->nblocks << lu->block_shift;
	uint8_t *medium = buf_alloc(bytes);

	if (!medium) {
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return SCSI_DONE;
	}
	t->priv = medium;
	return scsi_task_bio_submit(t, BDEV_IO_READ, 0, t->lba << lu->block_shift, medium, bytes, orw_read_done);
}

int scsi_sbc_orwrite(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	const uint8_t *cdb = t->cdb;
	uint64_t lba = get_be64(&cdb[2]);
	uint32_t n = get_be32(&cdb[10]);

	/* SBC-3 5.11 table 42, byte 1: ORPROTECT (7-5; no protection
	 * information: must be 0), DPO (4), FUA (3), reserved (2), FUA_NV (1,
	 * accepted), reserved (0). Byte 14: reserved (7-5), GROUP NUMBER. */
	if (cdb[1] & 0xe0)
		return scsi_task_invalid_cdb(t, 1, 7);
	if (cdb[1] & 0x05)
		return scsi_task_invalid_cdb(t, 1, (cdb[1] & 0x04) ? 2 : 0);
	if (cdb[14] & 0xe0)
		return scsi_task_invalid_cdb(t, 14, 7);
	if (scsi_lun_write_protected(lu))
		return scsi_task_check(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (!scsi_lba_range_ok(lu, lba, n))
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* beyond MAXIMUM TRANSFER LENGTH (VPD B0h), as for WRITE */
	if (n > (SCSI_MAX_XFER_BYTES >> lu->block_shift))
		return scsi_task_invalid_cdb(t, 10, -1);
	uint64_t want = (uint64_t)n << lu->block_shift;
	uint32_t got = n ? scsi_task_data_out(t, (uint32_t)want) : 0;
	t->xfer_len = (uint32_t)want;
	/* SBC-3: TRANSFER LENGTH 0 is not an error. A shorter data-out than the
	 * CDB asks for is applied to the whole blocks received, as for WRITE. */
	uint32_t blocks = got >> lu->block_shift;
	if (blocks == 0) {
		t->data_len = 0;
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	t->data_len = blocks << lu->block_shift;
	t->lba = lba;
	t->nblocks = blocks;
	t->state = scsi_lun_write_flags(lu, cdb[1] & 0x08);
	return scsi_range_lock(t, lba, blocks, orw_locked);
}

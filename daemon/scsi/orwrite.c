/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ORWRITE(16) (SBC-3 5.11): read the addressed blocks, OR the data-out
 * buffer into them and write the result back. Like COMPARE AND WRITE it runs
 * under the LUN's LBA range lock, so no other write, COMPARE AND WRITE or
 * ORWRITE to an overlapping range can land between the read and the write;
 * the read, lock and write are rmw.c's, this file the CDB checks and the OR.
 *
 * Only the simple form is implemented: ORWRITE(16) has no BMOP field (the
 * bitmap operation is OR) and no generation fields; those belong to
 * ORWRITE(32), which is not supported. ORPROTECT must be zero (no protection
 * information). */
#include "util/be.h"
#include "scsi/scsi_internal.h"
#include "scsi/task_bio.h"
#include "scsi/rmw.h"

/* The merge step, BMOP 000b: new data = medium OR data-out (word at a time;
 * both buffers are 4096-aligned and block multiples), written from medium. */
static uint8_t *orw_or(struct scsi_task *t, uint8_t *medium, size_t bytes)
{
	uint64_t *m = (uint64_t *)(void *)medium;
	const uint64_t *d = (const uint64_t *)(const void *)t->buf;
	for (size_t i = 0; i < bytes / sizeof(uint64_t); i++)
		m[i] |= d[i];
	return medium;
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
	return scsi_rmw(t, lba, blocks, scsi_lun_write_flags(lu, cdb[1] & 0x08), orw_or);
}

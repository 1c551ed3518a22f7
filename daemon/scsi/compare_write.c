/* SPDX-License-Identifier: GPL-2.0-or-later */
/* COMPARE AND WRITE (SBC-3 5.2), the ESXi "ATS" primitive VMFS locks with:
 * under the LUN's LBA range lock, read the blocks, compare them with the
 * first half of the data-out buffer and, only when every byte matches, write
 * the second half, so no other write or COMPARE AND WRITE to an overlapping
 * range can slip in between the compare and the write. The read, lock and
 * write are rmw.c's; this file holds the CDB checks and the compare. */
#include <string.h>
#include "util/be.h"
#include "scsi/scsi_internal.h"
#include "scsi/task_bio.h"
#include "scsi/rmw.h"

/* The merge step: every byte of the medium must match the verify instance
 * (first half of data-out); then the write instance (second half) is written. */
static uint8_t *caw_compare(struct scsi_task *t, uint8_t *medium, size_t bytes)
{
	if (memcmp(medium, t->buf, bytes) != 0) {
		size_t i = 0;
		while (medium[i] == t->buf[i])
			i++;
		/* SBC-3 5.2: MISCOMPARE DURING VERIFY OPERATION, INFORMATION =
		 * offset of the first differing byte in the data-out buffer. */
		scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY);
		scsi_task_set_info(t, (uint32_t)i);
		return NULL;
	}
	return t->buf + bytes;
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
	return scsi_rmw(t, lba, n, scsi_lun_write_flags(lu, cdb[1] & 0x08), caw_compare);
}

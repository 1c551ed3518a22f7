/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sense data: the fixed format (SPC-4 4.5.3) every CHECK CONDITION carries,
 * the sense-key-specific field pointer (SPC-4 4.5.2.4.2) and the descriptor
 * format used by REQUEST SENSE with DESC=1. */
#include <string.h>
#include "util/be.h"
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

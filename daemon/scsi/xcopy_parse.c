/* SPDX-License-Identifier: GPL-2.0-or-later */
/* EXTENDED COPY (LID1) parameter list parsing, kept apart from the copy engine
 * so that every malformed list is rejected with its exact sense before any LUN
 * is looked up or any I/O is issued (SPC-4 6.4.3 header, 6.4.5 CSCD
 * descriptors, 6.4.6 segment descriptors). */
#include <stddef.h>
#include <string.h>
#include "util/be.h"
#include "scsi/xcopy.h"

/* Sense-key-specific field pointer (SPC-4 4.5.2.4.2), C/D=0: parameter list. */
static void set_sks(struct scsi_task *t, uint8_t flags, uint32_t byte, int bit)
{
	uint8_t b = 0x80 | flags;

	if (bit >= 0 && bit < 8)
		b |= 0x08 | (uint8_t)bit;
	t->sense[15] = b;
	put_be16(&t->sense[16], byte > 0xffff ? 0xffff : (uint16_t)byte);
}

int scsi_xcopy_param_check(struct scsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq, uint32_t byte, int bit)
{
	scsi_task_check(t, sk, asc, ascq);
	set_sks(t, 0, byte, bit);
	return SCSI_DONE;
}

/* SPC-4 4.5.2.4.5 segment pointer: SD=1 makes FIELD POINTER relative to the
 * segment descriptor whose number is in COMMAND-SPECIFIC INFORMATION bytes
 * 2..3 (sense bytes 10..11). */
int scsi_xcopy_aborted(struct scsi_task *t, uint8_t asc, uint8_t ascq, int seg, uint32_t byte, int bit)
{
	scsi_task_check(t, SK_COPY_ABORTED, asc, ascq);
	if (seg >= 0)
		put_be16(&t->sense[10], (uint16_t)seg);
	set_sks(t, seg >= 0 ? 0x20 : 0, byte, bit);
	return SCSI_DONE;
}

static int param_len_error(struct scsi_task *t)
{
	return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
}

/* CSCD descriptor length by type code (SPC-4 6.4.5.1 table 112): the IPv6
 * and IP copy service descriptors are 64 bytes, every other one 32. */
static uint32_t cscd_len(uint8_t type)
{
	return (type == 0xea || type == 0xeb) ? 64 : 32;
}

/* SPC-4 6.4.5.9 identification descriptor CSCD descriptor (E4h). */
static int parse_e4(struct scsi_task *t, const uint8_t *d, uint32_t off, struct xcopy_cscd *c)
{
	/* LU ID TYPE (byte 1 bits 7:6) is ignored: SPC-4 6.4.5.9 names the LU
	 * by the designator alone (libiscsi ValidTgtDescr expects GOOD with
	 * a reserved value from an SPC-4 device server).
	 * NUL=1 names no device: a block -> block segment cannot reach it. */
	if (d[1] & 0x20)
		return scsi_xcopy_aborted(t, ASC_XCOPY_TARGET_NOT_REACHABLE, -1, off + 1, 5);
	/* Only direct access block devices (peripheral device type 00h). */
	if (d[1] & 0x1f)
		return scsi_xcopy_aborted(t, ASC_XCOPY_INCORRECT_TARGET_TYPE, -1, off + 1, 4);
	c->off = off;
	c->code_set = d[4] & 0x0f;
	c->assoc = (d[5] >> 4) & 0x03;
	c->desig_type = d[5] & 0x0f;
	c->desig_len = d[7];
	/* 20 designator bytes fit between bytes 8 and 27 */
	if (c->desig_len == 0 || c->desig_len > 20)
		return scsi_task_invalid_param(t, (uint16_t)(off + 7), -1);
	memcpy(c->desig, &d[8], c->desig_len);
	/* Block device type specific parameters (SPC-4 6.4.5.2.4): PAD, DISK BLOCK LENGTH */
	c->disk_block_len = get_be24(&d[29]);
	return -1;
}

/* SPC-4 6.4.6.5 block device to block device segment descriptor (02h). */
static int parse_b2b(struct scsi_task *t, const uint8_t *d, uint32_t off, unsigned idx, struct xcopy_seg *s)
{
	if (get_be16(&d[2]) != XCOPY_B2B_LEN - 4)
		return scsi_task_invalid_param(t, (uint16_t)(off + 2), -1);
	if (d[1] & 0xfc)
		return scsi_task_invalid_param(t, (uint16_t)(off + 1), 7);
	s->off = off;
	s->dc = d[1] & 0x02;
	s->src = get_be16(&d[4]);
	s->dst = get_be16(&d[6]);
	s->nblocks = get_be16(&d[10]);
	s->src_lba = get_be64(&d[12]);
	s->dst_lba = get_be64(&d[20]);
	(void)idx;
	return -1;
}

int scsi_xcopy_parse(struct scsi_task *t, const uint8_t *p, uint32_t len, struct xcopy_list *l, bool *hdr_ok)
{
	uint32_t tdll, sdll, idl, off, end, n;
	int rc;

	*hdr_ok = false;
	memset(l, 0, offsetof(struct xcopy_list, cscd));
	if (len < XCOPY_HDR_LEN)
		return param_len_error(t);

	/* Header (SPC-4 6.4.3 table 108) */
	l->list_id = p[0];
	l->usage = (p[1] >> 3) & 0x03;
	if (p[1] & 0xc0)
		return scsi_task_invalid_param(t, 1, 7);
	if (l->usage == 1)
		return scsi_task_invalid_param(t, 1, 4);
	if (l->usage == XCOPY_LID_NONE && l->list_id != 0)
		return scsi_task_invalid_param(t, 0, -1);
	*hdr_ok = true;
	tdll = get_be16(&p[2]);
	sdll = get_be32(&p[8]);
	idl = get_be32(&p[12]);
	/* MAXIMUM DESCRIPTOR LIST LENGTH covers both descriptor lists (SPC-4 6.22.4). */
	if ((uint64_t)tdll + sdll > XCOPY_MAX_DESC_LIST)
		return param_len_error(t);
	if (idl > XCOPY_MAX_INLINE)
		return scsi_xcopy_param_check(t, SK_ILLEGAL_REQUEST, ASC_XCOPY_INLINE_DATA_EXCEEDED, 12, -1);
	/* The lists must fit in what the CDB says was sent. */
	if ((uint64_t)XCOPY_HDR_LEN + tdll + sdll + idl > len)
		return param_len_error(t);

	/* CSCD descriptors: count first so that TOO MANY wins over content. */
	for (off = 0, n = 0; off < tdll; off += cscd_len(p[XCOPY_HDR_LEN + off]))
		n++;
	if (off != tdll)
		return scsi_task_invalid_param(t, 2, -1);
	if (n > XCOPY_MAX_CSCD)
		return scsi_xcopy_param_check(t, SK_ILLEGAL_REQUEST, ASC_XCOPY_TOO_MANY_CSCD, 2, -1);
	for (off = XCOPY_HDR_LEN, end = XCOPY_HDR_LEN + tdll; off < end; off += cscd_len(p[off])) {
		if (p[off] != 0xe4)
			return scsi_xcopy_param_check(t, SK_ILLEGAL_REQUEST, ASC_XCOPY_UNSUPPORTED_CSCD, off, -1);
		if ((rc = parse_e4(t, &p[off], off, &l->cscd[l->ncscd])) >= 0)
			return rc;
		l->ncscd++;
	}

	/* Segment descriptors: DESCRIPTOR LENGTH (bytes 2..3) excludes the first 4. */
	uint32_t sbase = XCOPY_HDR_LEN + tdll;
	for (off = 0, n = 0; off < sdll; n++) {
		if (sdll - off < 4)
			return scsi_task_invalid_param(t, 8, -1);
		uint32_t dlen = 4u + get_be16(&p[sbase + off + 2]);
		if (dlen > sdll - off)
			return scsi_task_invalid_param(t, (uint16_t)(sbase + off + 2), -1);
		off += dlen;
	}
	if (n > XCOPY_MAX_SEGS)
		return scsi_xcopy_param_check(t, SK_ILLEGAL_REQUEST, ASC_XCOPY_TOO_MANY_SEGS, 8, -1);
	for (off = sbase, end = sbase + sdll; off < end; off += 4u + get_be16(&p[off + 2])) {
		if (p[off] != 0x02)
			return scsi_xcopy_param_check(t, SK_ILLEGAL_REQUEST, ASC_XCOPY_UNSUPPORTED_SEG, off, -1);
		struct xcopy_seg *s = &l->seg[l->nseg];
		if ((rc = parse_b2b(t, &p[off], off, l->nseg, s)) >= 0)
			return rc;
		/* A CSCD descriptor ID past the list names nothing we can reach
		 * (SPC-4 6.4.6.1; libiscsi ValidSegDescr expects COPY ABORTED). */
		if (s->src >= l->ncscd)
			return scsi_xcopy_aborted(t, ASC_XCOPY_TARGET_NOT_REACHABLE, (int)l->nseg, 4, -1);
		if (s->dst >= l->ncscd)
			return scsi_xcopy_aborted(t, ASC_XCOPY_TARGET_NOT_REACHABLE, (int)l->nseg, 6, -1);
		l->nseg++;
	}
	return -1;
}

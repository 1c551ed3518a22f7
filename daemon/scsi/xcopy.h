/* SPDX-License-Identifier: GPL-2.0-or-later */
/* EXTENDED COPY (LID1) internals shared by the parameter list parser
 * (xcopy_parse.c) and the copy engine (xcopy.c): the limits we advertise and
 * enforce, and the parsed form of a parameter list (SPC-4 6.4, 7.3). */
#ifndef TANDEM_SCSI_XCOPY_H
#define TANDEM_SCSI_XCOPY_H
#include <stdint.h>
#include <stdbool.h>
#include "scsi/scsi_internal.h"

/* Limits, reported by RECEIVE COPY RESULTS (OPERATING PARAMETERS) and VPD 8Fh. */
#define XCOPY_MAX_CSCD          8u                      /* CSCD descriptors per list */
#define XCOPY_MAX_SEGS          64u                     /* segment descriptors per list */
#define XCOPY_CSCD_LEN          32u                     /* E4h identification descriptor */
#define XCOPY_B2B_LEN           28u                     /* 02h block -> block segment */
#define XCOPY_MAX_DESC_LIST     (XCOPY_MAX_CSCD * XCOPY_CSCD_LEN + XCOPY_MAX_SEGS * XCOPY_B2B_LEN)
#define XCOPY_MAX_SEG_BYTES     (32u << 20)             /* one segment (ESXi: 4..16 MiB) */
#define XCOPY_MAX_INLINE        0u                      /* no inline data */
#define XCOPY_MAX_CONCURRENT    16u                     /* per I_T nexus, also results kept */
#define XCOPY_HDR_LEN           16u

/* Additional sense codes specific to third-party copy (SPC-4 Annex D). */
#define ASC_XCOPY_OPERATION_IN_PROGRESS    0x00, 0x16
#define ASC_XCOPY_TARGET_NOT_REACHABLE     0x0d, 0x02  /* COPY TARGET DEVICE NOT REACHABLE */
#define ASC_XCOPY_INCORRECT_TARGET_TYPE    0x0d, 0x03  /* INCORRECT COPY TARGET DEVICE TYPE */
#define ASC_XCOPY_TOO_MANY_CSCD            0x26, 0x06  /* TOO MANY TARGET DESCRIPTORS */
#define ASC_XCOPY_UNSUPPORTED_CSCD         0x26, 0x07  /* UNSUPPORTED TARGET DESCRIPTOR TYPE CODE */
#define ASC_XCOPY_TOO_MANY_SEGS            0x26, 0x08  /* TOO MANY SEGMENT DESCRIPTORS */
#define ASC_XCOPY_UNSUPPORTED_SEG          0x26, 0x09  /* UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE */
#define ASC_XCOPY_INLINE_DATA_EXCEEDED     0x26, 0x0b  /* INLINE DATA LENGTH EXCEEDED */

/* LIST ID USAGE (SPC-4 6.4.3 table 109) */
enum { XCOPY_LID_HOLD = 0, XCOPY_LID_NO_HOLD = 2, XCOPY_LID_NONE = 3 };

/* One E4h CSCD descriptor: where it is in the list and the designator it names. */
struct xcopy_cscd {
	uint32_t off;                   /* byte offset in the parameter list */
	uint8_t code_set, assoc, desig_type, desig_len;
	uint8_t desig[20];
	uint32_t disk_block_len;        /* 0 = not given */
};

/* One 02h segment descriptor. */
struct xcopy_seg {
	uint32_t off;                   /* byte offset in the parameter list */
	uint16_t src, dst;              /* CSCD descriptor indexes */
	bool dc;                        /* NUMBER OF BLOCKS in destination blocks */
	uint16_t nblocks;
	uint64_t src_lba, dst_lba;
};

struct xcopy_list {
	uint8_t list_id;
	uint8_t usage;                  /* LIST ID USAGE */
	unsigned ncscd, nseg;
	struct xcopy_cscd cscd[XCOPY_MAX_CSCD];
	struct xcopy_seg seg[XCOPY_MAX_SEGS];
};

/* Parse and check the parameter list p[0..len) (len = PARAMETER LIST LENGTH,
 * >= 16) without looking at LUNs. Returns -1 when the list is well formed,
 * else SCSI_DONE with sense set on t. hdr_ok tells whether the header (list
 * identifier, usage) was valid, i.e. whether the result is to be recorded. */
int scsi_xcopy_parse(struct scsi_task *t, const uint8_t *p, uint32_t len, struct xcopy_list *l, bool *hdr_ok);

/* xcopy.c: whether the EXTENDED COPY in progress t reads or writes LUN lun
 * (scsi_task_touches_lun). */
bool scsi_xcopy_touches_lun(const struct scsi_task *t, uint64_t lun);

/* Sense helpers used by both files. */
/* CHECK CONDITION sk/asc/ascq with a field pointer into the parameter list. */
int scsi_xcopy_param_check(struct scsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq, uint32_t byte, int bit);
/* COPY ABORTED with asc/ascq; seg >= 0 names the segment (COMMAND-SPECIFIC
 * INFORMATION bytes 2..3) and makes the field pointer relative to it (SD=1). */
int scsi_xcopy_aborted(struct scsi_task *t, uint8_t asc, uint8_t ascq, int seg, uint32_t byte, int bit);
#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logical block provisioning (SBC-3 4.7) as the initiator sees it: the limits
 * advertised in the Block Limits VPD page and enforced by COMPARE AND WRITE,
 * WRITE SAME and UNMAP, the Logical Block Provisioning VPD page, the
 * LBPME/LBPRZ bits of READ CAPACITY(16), and GET LBA STATUS answered from the
 * backend's allocation map. One file so that what is advertised and what is
 * enforced come from the same functions. */
#include <string.h>
#include "util/be.h"
#include "scsi/scsi_internal.h"

/* COMPARE AND WRITE: the NUMBER OF LOGICAL BLOCKS field is one byte; ESXi
 * sends 1. Both halves of the data-out must fit the transfer limit. */
#define CAW_MAX_BLOCKS 255u
/* Blocks one WRITE SAME may cover (written in bounded chunks): 65535 as
 * LIO, so that initiators split big zeroing jobs into commands that finish
 * in bounded time (and libiscsi's 65536-block WRITE SAME probe, which first
 * WRITEs the range in one command beyond MAXIMUM TRANSFER LENGTH, takes the
 * "limit reported" branch). */
#define WS_MAX_BLOCKS 0xffffu
/* Bytes one UNMAP descriptor may cover. */
#define UNMAP_MAX_BYTES (1ULL << 30)
/* UNMAP: per descriptor and per command. libiscsi holds "sane" explicit
 * limits to at most 1M each; the 16-bit parameter list length allows 4095
 * descriptors. */
#define UNMAP_MAX_LBAS (1u << 20)
#define UNMAP_MAX_DESCS 1024u

uint32_t scsi_lbp_max_caw_blocks(const struct scsi_lun *lu)
{
	uint32_t by_xfer = (SCSI_MAX_XFER_BYTES / 2) >> lu->block_shift;
	return by_xfer < CAW_MAX_BLOCKS ? by_xfer : CAW_MAX_BLOCKS;
}

uint64_t scsi_lbp_max_ws_blocks(const struct scsi_lun *lu)
{
	(void)lu;
	return WS_MAX_BLOCKS;
}

bool scsi_lbp_can_unmap(const struct scsi_lun *lu)
{
	return lu->bdev && lu->bdev->can_unmap;
}

uint32_t scsi_lbp_max_unmap_blocks(const struct scsi_lun *lu)
{
	uint64_t n = UNMAP_MAX_BYTES >> lu->block_shift;
	if (!scsi_lbp_can_unmap(lu))
		return 0;
	return n < UNMAP_MAX_LBAS ? (uint32_t)n : UNMAP_MAX_LBAS;
}

uint32_t scsi_lbp_max_unmap_descs(const struct scsi_lun *lu)
{
	return scsi_lbp_can_unmap(lu) ? UNMAP_MAX_DESCS : 0;
}

static bool lbprz(const struct scsi_lun *lu)
{
	return scsi_lbp_can_unmap(lu) && lu->bdev->unmap_zeroes;
}

/* VPD B0h Block Limits (SBC-3 6.5.3), the fields beyond the transfer lengths
 * that spc.c fills. */
void scsi_lbp_block_limits(const struct scsi_lun *lu, uint8_t *d)
{
	d[4] = 0x01;                                    /* WSNZ: 0 blocks is invalid */
	d[5] = (uint8_t)scsi_lbp_max_caw_blocks(lu);    /* MAXIMUM COMPARE AND WRITE LENGTH */
	put_be32(&d[20], scsi_lbp_max_unmap_blocks(lu)); /* MAXIMUM UNMAP LBA COUNT */
	put_be32(&d[24], scsi_lbp_max_unmap_descs(lu));  /* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
	if (scsi_lbp_can_unmap(lu)) {
		/* OPTIMAL UNMAP GRANULARITY = one physical block, aligned at LBA 0 */
		put_be32(&d[28], 1u << lu->phys_exp);
		put_be32(&d[32], 0x80000000u);          /* UGAVALID, alignment 0 */
	}
	put_be64(&d[36], scsi_lbp_max_ws_blocks(lu));   /* MAXIMUM WRITE SAME LENGTH */
}

/* VPD B2h Logical Block Provisioning (SBC-3 6.5.4). */
uint32_t scsi_lbp_vpd_b2(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	(void)t;
	d[4] = 0;                       /* THRESHOLD EXPONENT: no thresholds */
	if (scsi_lbp_can_unmap(lu)) {
		d[5] = 0x80 | 0x40 | 0x20;      /* LBPU, LBPWS, LBPWS10 */
		if (lbprz(lu))
			d[5] |= 0x04;           /* LBPRZ */
		d[6] = 0x02;                    /* PROVISIONING TYPE: thin */
	}
	/* ANC_SUP=0 (no anchored state), DP=0 (no provisioning group descriptor) */
	return 8;
}

/* READ CAPACITY(16) byte 14 (SBC-3 5.16.2): LBPME, LBPRZ. */
uint8_t scsi_lbp_rc16_byte14(const struct scsi_lun *lu)
{
	if (!scsi_lbp_can_unmap(lu))
		return 0;
	return (uint8_t)(0x80 | (lbprz(lu) ? 0x40 : 0));
}

/* ---------------------------------------------------------------- GET LBA STATUS */

#define LBAS_MAX_DESC 64u

/* SBC-3 5.7 GET LBA STATUS: descriptors of consecutive runs of mapped /
 * deallocated blocks, the first starting at STARTING LOGICAL BLOCK ADDRESS. */
int scsi_sbc_get_lba_status(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint64_t lba = get_be64(&t->cdb[2]);
	uint32_t alloc = get_be32(&t->cdb[10]);
	uint8_t d[8 + 16 * LBAS_MAX_DESC];
	uint32_t n = 0, want;
	uint64_t nblocks = atomic_load_explicit(&lu->nblocks, memory_order_acquire);

	if (lba >= nblocks)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	memset(d, 0, sizeof(d));
	/* SBC-3: as many descriptors as the allocation length holds (at least
	 * one is built: a short allocation length truncates it). */
	want = alloc > 8 ? (alloc - 8 + 15) / 16 : 1;
	if (want > LBAS_MAX_DESC)
		want = LBAS_MAX_DESC;
	for (unsigned iter = 0; n < want && lba < nblocks && iter < 4 * LBAS_MAX_DESC; iter++) {
		uint64_t left = nblocks - lba, run_bytes, run;
		bool mapped;

		if (bdev_get_lba_status(lu->bdev, lba << lu->block_shift, left << lu->block_shift, &mapped,
					&run_bytes) < 0) {
			mapped = true;
			run_bytes = left << lu->block_shift;
		}
		run = run_bytes >> lu->block_shift;
		if (run == 0 || run > left)
			run = left;
		if (run > 0xffffffffu)
			run = 0xffffffffu;
		/* merge with the previous descriptor of the same state */
		if (n && (d[8 + 16 * (n - 1) + 12] == (mapped ? 0 : 1)) &&
		    (uint64_t)get_be32(&d[8 + 16 * (n - 1) + 8]) + run <= 0xffffffffu) {
			uint8_t *p = &d[8 + 16 * (n - 1)];
			put_be32(&p[8], (uint32_t)(get_be32(&p[8]) + run));
		} else {
			uint8_t *p = &d[8 + 16 * n];
			put_be64(&p[0], lba);
			put_be32(&p[8], (uint32_t)run);
			p[12] = mapped ? 0x0 : 0x1;     /* PROVISIONING STATUS: mapped / deallocated */
			n++;
		}
		lba += run;
	}
	put_be32(&d[0], 4 + 16 * n);            /* PARAMETER DATA LENGTH */
	return scsi_task_data_in(t, d, 8 + 16 * n, alloc);
}

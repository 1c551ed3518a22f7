/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of third-party copy (xcopy.c, xcopy_parse.c): every malformed
 * EXTENDED COPY parameter list gets its exact sense bytes, copies between and
 * within LUNs move the right data with the destination's cache policy, and
 * RECEIVE COPY RESULTS / VPD 8Fh report what the parser enforces. */
#include <pthread.h>
#include "scsi_test_harness.h"
#include "scsi/xcopy.h"

#define NBLOCKS 32768u                  /* 16 MiB of 512-byte blocks */

static struct mem_priv *SRC, *DST, *RO, *WB;

/* LUN 0 source (write-through), 1 destination (write-through),
 * 2 read-only, 3 write-back */
static void setup(void)
{
	harness_start();
	SRC = mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, false);
	DST = mem_attach(TGT, 1, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, false);
	RO = mem_attach(TGT, 2, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, true);
	WB = mem_attach(TGT, 3, NBLOCKS, 512, TCONF_CACHE_WRITE_BACK, false);
	harness_nexus();
	for (int l = 0; l < 4; l++)
		clear_ua(ITN, l);
	for (uint32_t i = 0; i < NBLOCKS * 512u; i += 4)
		put_be32(&SRC->data[i], i / 512u * 0x10001u + i % 512u);
}

static void teardown(void)
{
	harness_stop();
}

/* ---------------------------------------------------------------- list builders */

struct plist {
	uint8_t b[4096];
	uint32_t tdll, sdll, len;
};

static void pl_init(struct plist *p, uint8_t list_id, uint8_t usage)
{
	memset(p, 0, sizeof(*p));
	p->b[0] = list_id;
	p->b[1] = (uint8_t)(usage << 3);
	p->len = XCOPY_HDR_LEN;
}

/* E4h descriptor naming LUN lun by its NAA designator, as ESXi sends it. */
static void pl_cscd(struct plist *p, uint32_t lun)
{
	struct scsi_lun *lu = scsi_target_find_lun(TGT, lun);
	uint8_t *d = &p->b[p->len];

	ck_assert_ptr_nonnull(lu);
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01;                    /* binary */
	d[5] = 0x03;                    /* LU association, NAA */
	d[7] = lu->naa_len;
	memcpy(&d[8], lu->naa, lu->naa_len);
	put_be24(&d[29], lu->block_size);
	p->len += 32;
	p->tdll += 32;
}

static void pl_seg(struct plist *p, uint16_t src, uint16_t dst, uint16_t nblocks, uint64_t src_lba, uint64_t dst_lba)
{
	uint8_t *d = &p->b[p->len];

	memset(d, 0, 28);
	d[0] = 0x02;
	put_be16(&d[2], 0x18);
	put_be16(&d[4], src);
	put_be16(&d[6], dst);
	put_be16(&d[10], nblocks);
	put_be64(&d[12], src_lba);
	put_be64(&d[20], dst_lba);
	p->len += 28;
	p->sdll += 28;
}

/* A list of one segment copying LUN src to LUN dst (CSCD 0 and 1). */
static void pl_copy(struct plist *p, uint8_t list_id, uint8_t usage, uint32_t src, uint32_t dst, uint16_t nblocks,
		    uint64_t src_lba, uint64_t dst_lba)
{
	pl_init(p, list_id, usage);
	pl_cscd(p, src);
	pl_cscd(p, dst);
	pl_seg(p, 0, 1, nblocks, src_lba, dst_lba);
}

static void pl_finish(struct plist *p)
{
	put_be16(&p->b[2], (uint16_t)p->tdll);
	put_be32(&p->b[8], p->sdll);
}

static struct tt *xcopy_run_as(struct scsi_itn *itn, uint64_t lun, const uint8_t *list, uint32_t pll, uint32_t sent)
{
	uint8_t c[16] = { 0x83 };
	struct tt *x;

	put_be32(&c[10], pll);
	x = tt_new(itn, lun, c, 16, sent ? SCSI_DIR_WRITE : SCSI_DIR_NONE, sent);
	memcpy(x->t.buf, list, sent);
	tt_run(x);
	return x;
}

static struct tt *xcopy_run(uint64_t lun, const uint8_t *list, uint32_t pll, uint32_t sent)
{
	return xcopy_run_as(ITN, lun, list, pll, sent);
}

static struct tt *xcopy_pl(uint64_t lun, struct plist *p)
{
	pl_finish(p);
	return xcopy_run(lun, p->b, p->len, p->len);
}

static struct tt *rcr(uint8_t sa, uint8_t list_id, uint32_t alloc)
{
	uint8_t c[16] = { 0x84 };

	c[1] = sa;
	c[2] = list_id;
	put_be32(&c[10], alloc);
	return run_cdb(ITN, 0, c, 16, SCSI_DIR_READ, alloc);
}

/* Sense with a parameter-list field pointer (SKSV, C/D=0). */
#define CHECK_FIELD(x, sks, byte) do { \
	ck_assert_int_eq((x)->t.sense[15], (sks)); \
	ck_assert_int_eq(get_be16(&(x)->t.sense[16]), (byte)); \
} while (0)

/* COPY ABORTED carrying the copy target's sense at the source (8) or destination (9) offset. */
static void check_target_sense(struct tt *x, int which, uint16_t seg, uint16_t field, uint8_t sk, uint8_t asc,
			       uint8_t ascq)
{
	ck_assert_int_eq(x->t.status, SCSI_STATUS_CHECK_CONDITION);
	ck_assert_int_eq(x->t.sense_len, 36);
	ck_assert_int_eq(x->t.sense[0], 0x70);
	ck_assert_int_eq(x->t.sense[2], SK_COPY_ABORTED);
	ck_assert_int_eq(x->t.sense[7], 28);
	ck_assert_int_eq(x->t.sense[12], 0);
	ck_assert_int_eq(x->t.sense[13], 0);
	ck_assert_int_eq(x->t.sense[which], 18);
	ck_assert_int_eq(x->t.sense[which == 8 ? 9 : 8], 0);
	ck_assert_int_eq(get_be16(&x->t.sense[10]), seg);
	CHECK_FIELD(x, 0xa0, field);    /* SKSV, SD=1 */
	ck_assert_int_eq(x->t.sense[18], 0x70);
	ck_assert_int_eq(x->t.sense[18 + 2], sk);
	ck_assert_int_eq(x->t.sense[18 + 12], asc);
	ck_assert_int_eq(x->t.sense[18 + 13], ascq);
}

/* ---------------------------------------------------------------- copies */

START_TEST(copy_between_luns)
{
	struct plist p;
	struct tt *x;

	/* ESXi-like: two CSCDs (source, destination), one 4 MiB segment,
	 * issued to the destination LUN */
	pl_copy(&p, 7, XCOPY_LID_HOLD, 0, 1, 8192, 100, 2000);
	x = xcopy_pl(1, &p);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(memcmp(&DST->data[2000 * 512], &SRC->data[100 * 512], 8192 * 512) == 0);
	ck_assert_int_eq(DST->data[1999 * 512 + 511], 0);
	ck_assert_int_eq(DST->data[(2000 + 8192) * 512], 0);
	/* write-through destination: every backend write had FUA (1 MiB chunks) */
	ck_assert_int_eq(DST->write_count, 4);
	ck_assert_int_eq(DST->fua_count, 4);
	ck_assert_int_eq(SRC->write_count, 0);

	/* COPY STATUS: completed, 1 segment, 4 MiB */
	x = rcr(0x00, 7, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 12);
	ck_assert_int_eq(get_be32(x->t.buf), 8);
	ck_assert_int_eq(x->t.buf[4], 0x01);
	ck_assert_int_eq(get_be16(&x->t.buf[5]), 1);
	ck_assert_int_eq(x->t.buf[7], 0x00);
	ck_assert_int_eq(get_be32(&x->t.buf[8]), 4u << 20);
	tt_free(x);
	/* FAILED SEGMENT DETAILS of a good copy: nothing */
	x = rcr(0x04, 7, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4);
	ck_assert_int_eq(get_be32(x->t.buf), 0);
	tt_free(x);
	/* unknown list identifier */
	x = rcr(0x00, 8, 64);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	CHECK_FIELD(x, 0xc0, 2);
	tt_free(x);
	/* another nexus has its own results */
	uint8_t c[16] = { 0x84 };
	put_be32(&c[10], 64);
	c[2] = 7;
	clear_ua(ITN2, 0);
	x = run_cdb(ITN2, 0, c, 16, SCSI_DIR_READ, 64);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
}
END_TEST

START_TEST(copy_write_back_and_several_segments)
{
	struct plist p;
	struct tt *x;

	/* several segments in one list, a write-back destination (no FUA),
	 * addressed to a third LUN (the source): the copy manager is any LUN */
	pl_init(&p, 1, XCOPY_LID_NO_HOLD);
	pl_cscd(&p, 3);
	pl_cscd(&p, 0);
	pl_seg(&p, 1, 1, 1, 5, 5);      /* source onto itself: no change */
	pl_seg(&p, 1, 1, 3000, 0, 10000);       /* LUN 0 -> LUN 0 */
	pl_seg(&p, 1, 1, 0, 0, 0);      /* zero blocks: nothing */
	p.b[p.len - 28 + 1] = 0x02;     /* ... with DC=1 */
	pl_seg(&p, 1, 1, 2048, 10000, 20000);   /* reads what segment 2 wrote */
	pl_seg(&p, 1, 0, 100, 0, 0);    /* LUN 0 -> LUN 3 */
	x = xcopy_pl(0, &p);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(memcmp(&SRC->data[10000 * 512], &SRC->data[0], 3000 * 512) == 0);
	ck_assert(memcmp(&SRC->data[20000 * 512], &SRC->data[0], 2048 * 512) == 0);
	ck_assert(memcmp(&WB->data[0], &SRC->data[0], 100 * 512) == 0);
	ck_assert_int_eq(WB->write_count, 1);
	ck_assert_int_eq(WB->fua_count, 0);
	x = rcr(0x00, 1, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(get_be16(&x->t.buf[5]), 5);
	ck_assert_int_eq(get_be32(&x->t.buf[8]), (1 + 3000 + 2048 + 100) * 512);
	tt_free(x);
}
END_TEST

/* SPC-4 does not define the result of overlapping source and destination
 * ranges; tandem copies as if the source were read completely first. */
START_TEST(copy_overlapping_within_lun)
{
	struct plist p;
	struct tt *x;
	uint8_t *orig = malloc(NBLOCKS * 512u);

	ck_assert_ptr_nonnull(orig);
	memcpy(orig, SRC->data, NBLOCKS * 512u);
	/* destination above the source, overlapping, several chunks */
	pl_init(&p, 2, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_seg(&p, 0, 0, 9000, 1000, 1700);
	x = xcopy_pl(0, &p);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(memcmp(&SRC->data[1700 * 512], &orig[1000 * 512], 9000 * 512) == 0);
	ck_assert(memcmp(&SRC->data[0], &orig[0], 1700 * 512) == 0);

	/* destination below the source */
	memcpy(orig, SRC->data, NBLOCKS * 512u);
	pl_init(&p, 3, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_seg(&p, 0, 0, 9000, 20000, 19000);
	x = xcopy_pl(0, &p);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(memcmp(&SRC->data[19000 * 512], &orig[20000 * 512], 9000 * 512) == 0);
	ck_assert(memcmp(&SRC->data[28000 * 512], &orig[28000 * 512], (NBLOCKS - 28000) * 512) == 0);
	free(orig);
}
END_TEST

/* ---------------------------------------------------------------- malformed lists */

START_TEST(param_lengths)
{
	struct plist p;
	struct tt *x;

	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_seg(&p, 0, 0, 16, 0, 100);
	pl_finish(&p);
	/* PARAMETER LIST LENGTH 0: nothing, GOOD */
	x = xcopy_run(0, p.b, 0, 0);
	CHECK_GOOD(x);
	tt_free(x);
	/* shorter than the header */
	x = xcopy_run(0, p.b, 15, 15);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* truncating the CSCD descriptor / the segment descriptor */
	x = xcopy_run(0, p.b, 16 + 31, 16 + 31);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	x = xcopy_run(0, p.b, p.len - 1, p.len - 1);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* less data-out than the CDB announces */
	x = xcopy_run(0, p.b, p.len, p.len - 4);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* inline data: none supported */
	put_be32(&p.b[12], 4);
	x = xcopy_run(0, p.b, p.len + 4, p.len + 4);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x0b);
	CHECK_FIELD(x, 0x80, 12);
	tt_free(x);
	put_be32(&p.b[12], 0);
	/* CSCD list length not a whole number of descriptors */
	put_be16(&p.b[2], 40);
	x = xcopy_run(0, p.b, p.len + 8, p.len + 8);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	CHECK_FIELD(x, 0x80, 2);
	tt_free(x);
	put_be16(&p.b[2], 32);
	/* segment DESCRIPTOR LENGTH other than 0018h */
	put_be16(&p.b[48 + 2], 0x14);
	put_be32(&p.b[8], 24);
	x = xcopy_run(0, p.b, p.len, p.len);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	CHECK_FIELD(x, 0x80, 50);
	tt_free(x);
	/* LIST ID USAGE 01b is reserved; 11b needs LIST IDENTIFIER 0 */
	put_be16(&p.b[48 + 2], 0x18);
	put_be32(&p.b[8], 28);
	p.b[1] = 1 << 3;
	x = xcopy_run(0, p.b, p.len, p.len);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	CHECK_FIELD(x, 0x8c, 1);
	tt_free(x);
	p.b[1] = 3 << 3;
	x = xcopy_run(0, p.b, p.len, p.len);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	CHECK_FIELD(x, 0x80, 0);
	tt_free(x);
	p.b[0] = 0;
	x = xcopy_run(0, p.b, p.len, p.len);
	CHECK_GOOD(x);
	tt_free(x);
	/* service action other than LID1 */
	uint8_t c[16] = { 0x83, 0x01 };
	put_be32(&c[10], p.len);
	x = run_cdb(ITN, 0, c, 16, SCSI_DIR_WRITE, p.len);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	CHECK_FIELD(x, 0xcc, 1);
	tt_free(x);
}
END_TEST

START_TEST(descriptor_types)
{
	struct plist p;
	struct tt *x;

	/* FC N_Port_Name CSCD (E0h) */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	p.b[16] = 0xe0;
	pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x07);
	CHECK_FIELD(x, 0x80, 16);
	tt_free(x);
	/* stream -> stream segment (03h) */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_seg(&p, 0, 0, 16, 0, 100);
	p.b[48] = 0x03;
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x09);
	CHECK_FIELD(x, 0x80, 48);
	tt_free(x);
	/* LU ID TYPE is ignored for E4h (SPC-4: the designator names the LU) */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	p.b[17] = 0xc0;
	pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_GOOD(x);
	tt_free(x);
	/* NUL: no device to copy from */
	p.b[17] = 0x20;
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x02);
	CHECK_FIELD(x, 0x8d, 17);
	tt_free(x);
	/* peripheral device type other than a disk */
	p.b[17] = 0x01;
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x03);
	tt_free(x);
	/* designator length beyond the 20 bytes of the descriptor */
	p.b[17] = 0x00;
	p.b[16 + 7] = 21;
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	CHECK_FIELD(x, 0x80, 23);
	tt_free(x);
}
END_TEST

START_TEST(designators_and_indexes)
{
	struct plist p;
	struct tt *x;

	/* an NAA no LUN of this target has */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	p.b[16 + 8 + 15] ^= 0xff;
	pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x02);
	CHECK_FIELD(x, 0x80, 24);
	tt_free(x);
	/* right bytes, wrong designator type (EUI-64) */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	p.b[16 + 5] = 0x02;
	pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x02);
	tt_free(x);
	/* DISK BLOCK LENGTH that is not the LUN's */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	put_be24(&p.b[16 + 29], 4096);
	pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x03);
	CHECK_FIELD(x, 0x80, 16 + 29);
	tt_free(x);
	/* destination index past the CSCD list, in the second segment */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_seg(&p, 0, 0, 16, 0, 100);
	pl_seg(&p, 0, 1, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x02);
	ck_assert_int_eq(get_be16(&x->t.sense[10]), 1);
	CHECK_FIELD(x, 0xa0, 6);
	tt_free(x);
	ck_assert_int_eq(SRC->write_count, 0);  /* nothing was copied */
}
END_TEST

START_TEST(ranges_and_protection)
{
	struct plist p;
	struct tt *x;

	/* source range past the end */
	pl_init(&p, 4, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_cscd(&p, 1);
	pl_seg(&p, 0, 1, 16, NBLOCKS - 15, 0);
	x = xcopy_pl(1, &p);
	check_target_sense(x, 8, 0, 12, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	/* destination range past the end, second segment; LBA near 2^64 */
	pl_init(&p, 4, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_cscd(&p, 1);
	pl_seg(&p, 0, 1, 16, 0, 0);
	pl_seg(&p, 0, 1, 16, 0, UINT64_MAX - 3);
	x = xcopy_pl(1, &p);
	check_target_sense(x, 9, 1, 20, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	ck_assert_int_eq(DST->write_count, 0);  /* checked before any data moved */
	/* COPY STATUS of a failed copy, FAILED SEGMENT DETAILS carry the sense */
	x = rcr(0x00, 4, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[4], 0x02);
	tt_free(x);
	x = rcr(0x04, 4, 200);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 60 + 36);
	ck_assert_int_eq(get_be32(x->t.buf), 60 + 36 - 4);
	ck_assert_int_eq(x->t.buf[56], SCSI_STATUS_CHECK_CONDITION);
	ck_assert_int_eq(get_be16(&x->t.buf[58]), 36);
	ck_assert_int_eq(x->t.buf[60 + 2], SK_COPY_ABORTED);
	tt_free(x);
	/* read-only destination */
	pl_init(&p, 5, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_cscd(&p, 2);
	pl_seg(&p, 0, 1, 16, 0, 0);
	x = xcopy_pl(0, &p);
	check_target_sense(x, 9, 0, 6, SK_DATA_PROTECT, 0x27, 0x00);
	tt_free(x);
	/* a read-only LUN may be the source */
	pl_init(&p, 5, XCOPY_LID_HOLD);
	pl_cscd(&p, 2);
	pl_cscd(&p, 0);
	pl_seg(&p, 0, 1, 16, 0, 0);
	x = xcopy_pl(2, &p);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

START_TEST(too_many_descriptors)
{
	struct plist p;
	struct tt *x;

	pl_init(&p, 1, XCOPY_LID_HOLD);
	for (unsigned i = 0; i < XCOPY_MAX_CSCD + 1; i++)
		pl_cscd(&p, 0);
	pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x06);
	tt_free(x);
	pl_init(&p, 1, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	for (unsigned i = 0; i < XCOPY_MAX_SEGS + 1; i++)
		pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x08);
	tt_free(x);
	/* both: over MAXIMUM DESCRIPTOR LIST LENGTH */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	for (unsigned i = 0; i < XCOPY_MAX_CSCD + 1; i++)
		pl_cscd(&p, 0);
	for (unsigned i = 0; i < XCOPY_MAX_SEGS + 1; i++)
		pl_seg(&p, 0, 0, 16, 0, 100);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* exactly at the limits: fine */
	pl_init(&p, 1, XCOPY_LID_HOLD);
	for (unsigned i = 0; i < XCOPY_MAX_CSCD; i++)
		pl_cscd(&p, i & 1);
	for (unsigned i = 0; i < XCOPY_MAX_SEGS; i++)
		pl_seg(&p, 0, 7, 16, i * 16, 100 + i * 16);
	x = xcopy_pl(0, &p);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(memcmp(&DST->data[100 * 512], &SRC->data[0], XCOPY_MAX_SEGS * 16 * 512) == 0);
}
END_TEST

START_TEST(backend_error)
{
	struct plist p;
	struct tt *x;

	pl_init(&p, 9, XCOPY_LID_HOLD);
	pl_cscd(&p, 0);
	pl_cscd(&p, 1);
	pl_seg(&p, 0, 1, 4096, 0, 0);
	SRC->fail_status = -EIO;
	x = xcopy_pl(1, &p);
	SRC->fail_status = 0;
	check_target_sense(x, 8, 0, 12, SK_MEDIUM_ERROR, 0x11, 0x00);
	tt_free(x);
	DST->fail_status = -ENOSPC;
	x = xcopy_pl(1, &p);
	DST->fail_status = 0;
	check_target_sense(x, 9, 0, 20, SK_DATA_PROTECT, 0x27, 0x07);
	tt_free(x);
	ck_assert_int_gt(atomic_load(&scsi_target_find_lun(TGT, 1)->errors), 0);
	/* a replicated LUN's node demoted mid-copy (-ESTALE): NOT READY, ALUA
	 * transition, for the command itself, so that multipathing retries it
	 * (review, session 12: it was COPY ABORTED with a medium error) */
	DST->fail_status = -ESTALE;
	x = xcopy_pl(1, &p);
	DST->fail_status = 0;
	CHECK_SENSE(x, SK_NOT_READY, 0x04, 0x0a);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- removal mid-copy */

static void *remove_lun1(void *arg)
{
	(void)arg;
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 1), 0);
	return NULL;
}

/* A copy of nseg segments of nblocks each, LUN 0 -> LUN 1, addressed to LUN 0
 * and started on the reactor: in progress when this returns. */
static struct tt *copy_started(struct plist *p, unsigned nseg, uint16_t nblocks)
{
	uint8_t c[16] = { 0x83 };

	pl_init(p, 1, XCOPY_LID_HOLD);
	pl_cscd(p, 0);
	pl_cscd(p, 1);
	for (unsigned i = 0; i < nseg; i++)
		pl_seg(p, 0, 1, nblocks, i * (uint64_t)nblocks, i * (uint64_t)nblocks);
	pl_finish(p);
	put_be32(&c[10], p->len);
	struct tt *x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, p->len);
	memcpy(x->t.buf, p->b, p->len);
	reactor_post(R, tt_exec_fn, &x->t);
	for (int i = 0; i < 4; i++)
		reactor_poll_once(R, 1);
	ck_assert_int_eq(x->completions, 0);
	return x;
}

START_TEST(lun_removed_during_copy)
{
	struct plist p;
	pthread_t th;
	struct tt *x = copy_started(&p, 16, 2048);

	ck_assert_int_eq(pthread_create(&th, NULL, remove_lun1, NULL), 0);
	for (int i = 0; i < 5000 && x->completions == 0; i++)
		reactor_poll_once(R, 10);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(x->completions, 1);
	if (x->t.status != SCSI_STATUS_GOOD)
		CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x02);
	tt_free(x);
	/* the same list now names a LUN that is gone */
	clear_ua(ITN, 0);
	x = xcopy_pl(0, &p);
	CHECK_SENSE(x, SK_COPY_ABORTED, 0x0d, 0x02);
	CHECK_FIELD(x, 0x80, 48 + 8);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- cache off mid-copy */

static struct held_dev HP;

/* The held write, completed (the test checks there is exactly one). */
static unsigned release_held(void)
{
	ck_assert_int_eq(HP.nheld, 1);
	struct bdev_io *io = HP.held[0];
	unsigned flags = io->flags;
	HP.nheld = 0;
	bdev_complete_later(io, 0);
	for (int i = 0; i < 10; i++)
		reactor_poll_once(R, 1);
	return flags;
}

/* As WRITE (test_scsi_io cache_off_with_writes_in_flight): a chunk written
 * without FUA under write-back that is still in the device when MODE SELECT
 * turns the cache off gets a flush of its own before the copy goes on; the
 * chunks submitted afterwards are FUA. Before, the copy completed GOOD with
 * that chunk covered by nothing, and the initiator, seeing WCE=0, never
 * flushes again. */
START_TEST(cache_off_with_chunk_in_flight)
{
	uint8_t c[16] = { 0x83 };
	uint8_t ms[6] = { 0x15, 0x10, 0, 0, 24, 0 };
	uint8_t pl[24] = { 0, 0, 0, 0, 0x08, 0x12, 0x00 };     /* caching page, WCE=0 */
	struct plist p;

	memset(&HP, 0, sizeof(HP));
	harness_attach(TGT, &(struct harness_lun){ .lun = 4, .nblocks = NBLOCKS, .bs = 512,
						   .cache = TCONF_CACHE_WRITE_BACK, .ops = &held_ops, .priv = &HP,
						   .name = "hold" }, &HP.data);
	clear_ua(ITN, 0);
	clear_ua(ITN, 4);
	/* two segments of one 1 MiB chunk each, LUN 0 -> LUN 4, one after the other */
	pl_init(&p, 0, XCOPY_LID_NONE);
	pl_cscd(&p, 0);
	pl_cscd(&p, 4);
	pl_seg(&p, 0, 1, 2048, 0, 0);
	pl_seg(&p, 0, 1, 2048, 2048, 2048);
	pl_finish(&p);
	put_be32(&c[10], p.len);
	struct tt *x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, p.len);
	memcpy(x->t.buf, p.b, p.len);
	reactor_post(R, tt_exec_fn, &x->t);
	for (int i = 0; i < 10 && HP.nheld == 0; i++)
		reactor_poll_once(R, 1);
	ck_assert_int_eq(HP.nheld, 1);
	ck_assert(!(HP.held[0]->flags & BDEV_IO_F_FUA));        /* write-back: no FUA */

	struct tt *m = tt_new(ITN, 4, ms, 6, SCSI_DIR_WRITE, 24);
	memcpy(m->t.buf, pl, 24);
	tt_run(m);
	CHECK_GOOD(m);
	tt_free(m);
	unsigned fl = HP.flushes;

	release_held();                 /* the first chunk lands after the change */
	ck_assert_msg(HP.flushes == fl + 1, "a copy chunk sent without FUA under the cache that is off now was "
		      "counted without a flush (%u -> %u)", fl, HP.flushes);
	ck_assert_int_eq(x->completions, 0);
	unsigned flags = release_held();        /* the second segment's chunk */
	ck_assert_msg(flags & BDEV_IO_F_FUA, "a copy chunk sent after MODE SELECT WCE=0 went without FUA");
	for (int i = 0; i < 100 && x->completions == 0; i++)
		reactor_poll_once(R, 1);
	ck_assert_int_eq(x->completions, 1);
	CHECK_GOOD(x);
	ck_assert_int_eq(HP.flushes, fl + 1);
	ck_assert(memcmp(HP.data, SRC->data, 4096 * 512) == 0);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- reporting */

START_TEST(operating_parameters)
{
	struct tt *x = rcr(0x03, 0, 1024);

	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 46);
	ck_assert_int_eq(get_be32(x->t.buf), 42);
	ck_assert_int_eq(x->t.buf[4], 0x01);
	ck_assert_int_eq(get_be16(&x->t.buf[8]), XCOPY_MAX_CSCD);
	ck_assert_int_eq(get_be16(&x->t.buf[10]), XCOPY_MAX_SEGS);
	ck_assert_int_eq(get_be32(&x->t.buf[12]), XCOPY_MAX_DESC_LIST);
	ck_assert_int_eq(get_be32(&x->t.buf[16]), XCOPY_MAX_SEG_BYTES);
	ck_assert_int_eq(get_be32(&x->t.buf[20]), 0);
	ck_assert_int_eq(x->t.buf[43], 2);
	ck_assert_int_eq(x->t.buf[44], 0x02);
	ck_assert_int_eq(x->t.buf[45], 0xe4);
	tt_free(x);
	x = rcr(0x05, 0, 1024);         /* LID4 service actions */
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
}
END_TEST

START_TEST(vpd_third_party_copy)
{
	uint8_t c[6] = { 0x12, 0x01, 0x00, 0x04, 0x00, 0 };
	struct tt *x = run_cdb(ITN, 0, c, 6, SCSI_DIR_READ, 1024);
	bool found = false;

	CHECK_GOOD(x);
	for (uint32_t i = 4; i < x->t.data_len; i++)
		found |= x->t.buf[i] == 0x8f;
	ck_assert(found);
	tt_free(x);
	c[2] = 0x8f;
	x = run_cdb(ITN, 0, c, 6, SCSI_DIR_READ, 1024);
	CHECK_GOOD(x);
	const uint8_t *d = x->t.buf;
	uint32_t len = 4u + get_be16(&d[2]);
	ck_assert_int_eq(d[1], 0x8f);
	ck_assert_int_eq(x->t.data_len, len);
	unsigned seen = 0;
	for (uint32_t off = 4; off < len;) {
		uint16_t type = get_be16(&d[off]), dl = get_be16(&d[off + 2]);
		ck_assert_int_eq((4 + dl) % 4, 0);
		switch (type) {
		case 0x0001:
			ck_assert_int_eq(dl, 12);
			ck_assert_int_eq(d[off + 4], 8);
			ck_assert_int_eq(d[off + 5], 0x83);
			ck_assert_int_eq(d[off + 8], 0x84);
			seen |= 1;
			break;
		case 0x0008:
			ck_assert_int_eq(dl, 0x1c);
			ck_assert_int_eq(get_be16(&d[off + 8]), XCOPY_MAX_CSCD);
			ck_assert_int_eq(get_be16(&d[off + 10]), XCOPY_MAX_SEGS);
			ck_assert_int_eq(get_be32(&d[off + 12]), XCOPY_MAX_DESC_LIST);
			seen |= 2;
			break;
		case 0x0009:
			ck_assert_int_eq(dl, 4);
			ck_assert_int_eq(d[off + 4], 2);
			seen |= 4;
			break;
		case 0x000a:
			ck_assert_int_eq(dl, 4);
			seen |= 8;
			break;
		case 0x8001:
			ck_assert_int_eq(dl, 0x20);
			ck_assert_int_eq(get_be32(&d[off + 12]), XCOPY_MAX_SEG_BYTES);
			seen |= 16;
			break;
		default:
			ck_abort_msg("unexpected descriptor %04x", type);
		}
		off += 4u + dl;
	}
	ck_assert_int_eq(seen, 31);
	tt_free(x);
	/* standard INQUIRY: 3PC */
	c[1] = 0;
	c[2] = 0;
	x = run_cdb(ITN, 0, c, 6, SCSI_DIR_READ, 96);
	CHECK_GOOD(x);
	ck_assert(x->t.buf[5] & 0x08);
	tt_free(x);
}
END_TEST

/* PR OUT (REGISTER, then RESERVE) by itn on lun; GOOD expected. */
static void pr_reserve(struct scsi_itn *itn, uint64_t lun, uint64_t key, uint8_t type)
{
	uint8_t c[10] = { 0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0 };
	uint8_t pl[24] = { 0 };
	struct tt *x;

	put_be64(&pl[8], key);                  /* REGISTER: service action key */
	x = tt_new(itn, lun, c, 10, SCSI_DIR_WRITE, 24);
	memcpy(x->t.buf, pl, 24);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	memset(pl, 0, sizeof(pl));
	put_be64(&pl[0], key);                  /* RESERVE: reservation key, type */
	c[1] = 0x01;
	c[2] = type;
	x = tt_new(itn, lun, c, 10, SCSI_DIR_WRITE, 24);
	memcpy(x->t.buf, pl, 24);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
}

/* An EXTENDED COPY addressed to an unreserved LUN wrote into a LUN another
 * nexus held Write Exclusive (review, session 9): the reservations of every
 * LUN the descriptors name apply, as to a READ or WRITE of this nexus. */
START_TEST(reservations_of_every_lun)
{
	struct plist p;
	struct tt *x;

	clear_ua(ITN2, 1);
	pr_reserve(ITN2, 1, 0xabc, 1);          /* ITN2 holds LUN 1 (DST) Write Exclusive */
	/* ITN copies SRC -> DST, addressed to SRC: conflict, DST untouched */
	pl_copy(&p, 0, XCOPY_LID_NONE, 0, 1, 64, 100, 3000);
	x = xcopy_pl(0, &p);
	ck_assert_msg(x->t.status == SCSI_STATUS_RESERVATION_CONFLICT, "status 0x%02x sense %x/%02x/%02x", x->t.status, x->t.sense[2] & 0xf, x->t.sense[12], x->t.sense[13]);
	tt_free(x);
	ck_assert_int_eq(DST->data[3000 * 512], 0);
	ck_assert_int_eq(DST->write_count, 0);
	/* reading out of the Write Exclusive LUN is allowed: DST -> WB */
	pl_copy(&p, 0, XCOPY_LID_NONE, 1, 3, 64, 0, 0);
	x = xcopy_pl(3, &p);
	CHECK_GOOD(x);
	tt_free(x);
	/* the holder itself copies into it */
	pl_copy(&p, 0, XCOPY_LID_NONE, 0, 1, 64, 100, 3000);
	pl_finish(&p);
	clear_ua(ITN2, 0);
	x = xcopy_run_as(ITN2, 0, p.b, p.len, p.len);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(memcmp(&DST->data[3000 * 512], &SRC->data[100 * 512], 64 * 512) == 0);
}
END_TEST

/* PR OUT by itn on lun with keys rk / sark (24-byte list); the status. */
static uint8_t pr_out(struct scsi_itn *itn, uint64_t lun, uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark)
{
	uint8_t c[10] = { 0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0 };
	struct tt *x = tt_new(itn, lun, c, 10, SCSI_DIR_WRITE, 24);
	uint8_t st;

	memset(x->t.buf, 0, 24);
	put_be64(&x->t.buf[0], rk);
	put_be64(&x->t.buf[8], sark);
	tt_run(x);
	st = x->t.status;
	tt_free(x);
	return st;
}

/* Review, session 12: an EXTENDED COPY addressed to LUN 0 that writes LUN 1
 * went on writing LUN 1 after another nexus preempted this one's
 * registration there (fence_scsi's PREEMPT AND ABORT): LUN 1's reservation
 * was checked once, before the copy, and the transport's abort looked at the
 * addressed LUN only. Now every chunk asks LUN 1 again, and the copy counts
 * as a task of LUN 1 for aborts (scsi_task_touches_lun). */
START_TEST(preempted_mid_copy)
{
	struct plist p;

	clear_ua(ITN2, 1);
	ck_assert_int_eq(pr_out(ITN, 1, 0, 0, 0, 0xa), SCSI_STATUS_GOOD);            /* ITN registers */
	ck_assert_int_eq(pr_out(ITN2, 1, 0, 0, 0, 0xb), SCSI_STATUS_GOOD);           /* ITN2 registers */
	ck_assert_int_eq(pr_out(ITN2, 1, 1, 5, 0xb, 0), SCSI_STATUS_GOOD);           /* WE, registrants only */
	struct tt *x = copy_started(&p, 8, 4096);       /* 16 MiB in 1 MiB chunks */

	ck_assert_msg(scsi_task_touches_lun(&x->t, 1), "the copy into LUN 1 is not a task of LUN 1 for aborts");
	ck_assert(scsi_task_touches_lun(&x->t, 0));
	ck_assert(!scsi_task_touches_lun(&x->t, 2));
	/* ITN2 preempts ITN's registration on LUN 1 (the transport's abort
	 * is not wired in this harness: the copy must stop by itself) */
	ck_assert_int_eq(pr_out(ITN2, 1, 5, 5, 0xb, 0xa), SCSI_STATUS_GOOD);
	unsigned at_preempt = DST->write_count;
	for (int i = 0; i < 5000 && x->completions == 0; i++)
		reactor_poll_once(R, 10);
	ck_assert_int_eq(x->completions, 1);
	ck_assert_msg(DST->write_count <= at_preempt + 4, "the copy wrote LUN 1 %u times after the preemption",
		      DST->write_count - at_preempt);
	ck_assert_msg(x->t.status == SCSI_STATUS_RESERVATION_CONFLICT, "status 0x%02x", x->t.status);
	tt_free(x);
}
END_TEST

/* Review, session 12: an EXTENDED COPY addressed to LUN 0 read a LUN in
 * sanitize failure mode (SBC-3 4.11.4: no medium access until it is left). */
START_TEST(other_lun_in_sanitize_failure)
{
	struct plist p;
	struct tt *x;

	atomic_store(&scsi_target_find_lun(TGT, 1)->sanitize_state, 2);   /* SCSI_SANITIZE_FAILED */
	pl_copy(&p, 0, XCOPY_LID_NONE, 1, 0, 64, 0, 0);
	x = xcopy_pl(0, &p);
	ck_assert_msg(x->t.status == SCSI_STATUS_CHECK_CONDITION, "status 0x%02x", x->t.status);
	check_target_sense(x, 8, 0, 4, SK_MEDIUM_ERROR, 0x31, 0x03);    /* the source's sense */
	tt_free(x);
	ck_assert_int_eq(SRC->write_count, 0);
	atomic_store(&scsi_target_find_lun(TGT, 1)->sanitize_state, 0);
}
END_TEST

static Suite *xcopy_suite(void)
{
	Suite *s = suite_create("scsi_xcopy");
	TCase *tc;

	tc = tcase_create("copy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, copy_between_luns);
	tcase_add_test(tc, copy_write_back_and_several_segments);
	tcase_add_test(tc, copy_overlapping_within_lun);
	tcase_add_test(tc, backend_error);
	tcase_add_test(tc, lun_removed_during_copy);
	tcase_add_test(tc, reservations_of_every_lun);
	tcase_add_test(tc, preempted_mid_copy);
	tcase_add_test(tc, other_lun_in_sanitize_failure);
	tcase_add_test(tc, cache_off_with_chunk_in_flight);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, param_lengths);
	tcase_add_test(tc, descriptor_types);
	tcase_add_test(tc, designators_and_indexes);
	tcase_add_test(tc, ranges_and_protection);
	tcase_add_test(tc, too_many_descriptors);
	suite_add_tcase(s, tc);

	tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, operating_parameters);
	tcase_add_test(tc, vpd_third_party_copy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(xcopy_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the SCSI block command path: READ CAPACITY, overflow-safe
 * range checks, transfer length rules, residuals, cache policy (FUA / flush,
 * also of writes and WRITE SAME in flight while the cache goes off), VERIFY
 * compare, backend error mapping, and data round trips through an
 * in-memory backend and the real fileio backend. */
#include <sched.h>
#include <sys/stat.h>
#include "scsi_test_harness.h"

#define NBLOCKS 1024u

static struct mem_priv *WB, *WT, *NV, *RO;

/* LUN 0 write-back, 1 write-through, 2 nv-cache, 3 read-only */
static void setup(void)
{
	harness_start();
	WB = mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_BACK, false);
	WT = mem_attach(TGT, 1, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, false);
	NV = mem_attach(TGT, 2, NBLOCKS, 4096, TCONF_CACHE_NV, false);
	RO = mem_attach(TGT, 3, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, true);
	harness_nexus();
	for (int l = 0; l < 4; l++)
		clear_ua(ITN, l);
}

static void teardown(void)
{
	harness_stop();
}

static void cdb10(uint8_t *c, uint8_t op, uint8_t flags, uint32_t lba, uint16_t len)
{
	memset(c, 0, 10);
	c[0] = op;
	c[1] = flags;
	put_be32(&c[2], lba);
	put_be16(&c[7], len);
}

static void cdb16(uint8_t *c, uint8_t op, uint8_t flags, uint64_t lba, uint32_t len)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = flags;
	put_be64(&c[2], lba);
	put_be32(&c[10], len);
}

static struct tt *write_blocks(uint64_t lun, const uint8_t *cdb, uint8_t cdb_len, uint32_t edtl, uint8_t fill)
{
	struct tt *x = tt_new(ITN, lun, cdb, cdb_len, SCSI_DIR_WRITE, edtl);
	memset(x->t.buf, fill, edtl);
	tt_run(x);
	return x;
}

/* ---------------------------------------------------------------- capacity */

START_TEST(read_capacity)
{
	uint8_t c[16];
	struct tt *x;

	memset(c, 0, 10);
	c[0] = 0x25;
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 8);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 8);
	ck_assert_int_eq(get_be32(x->t.buf), NBLOCKS - 1);
	ck_assert_int_eq(get_be32(x->t.buf + 4), 512);
	tt_free(x);
	/* LBA without PMI is invalid */
	c[5] = 1;
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 8);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	c[8] = 1;
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 8);
	CHECK_GOOD(x);
	tt_free(x);

	/* READ CAPACITY(16) */
	memset(c, 0, 16);
	c[0] = 0x9e;
	c[1] = 0x10;
	c[13] = 32;
	x = run_cdb(ITN, 2, c, 16, SCSI_DIR_READ, 32);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 32);
	ck_assert_int_eq(get_be64(x->t.buf), NBLOCKS - 1);
	ck_assert_int_eq(get_be32(x->t.buf + 8), 4096);
	ck_assert_int_eq(x->t.buf[12], 0);
	ck_assert_int_eq(x->t.buf[13], 0);      /* 4096 physical == logical */
	ck_assert_int_eq(x->t.buf[14], 0);
	tt_free(x);
	x = run_cdb(ITN, 0, c, 16, SCSI_DIR_READ, 32);
	ck_assert_int_eq(x->t.buf[13], 3);      /* 8 x 512 per 4096 */
	tt_free(x);
	/* every allocation length is good, data truncated */
	for (int a = 0; a < 33; a += 4) {
		c[13] = (uint8_t)a;
		x = run_cdb(ITN, 0, c, 16, SCSI_DIR_READ, (uint32_t)a);
		CHECK_GOOD(x);
		ck_assert_int_eq(x->t.data_len, a < 32 ? a : 32);
		ck_assert_int_eq(x->t.xfer_len, a);
		tt_free(x);
	}
}
END_TEST

START_TEST(read_capacity_huge)
{
	struct tconf_lun conf;
	char err[256];

	memset(&conf, 0, sizeof(conf));
	conf.lun = 9;
	conf.backend = TCONF_BACKEND_NULL;
	conf.block_size = 512;
	conf.size = 3ULL << 40;        /* 3 TiB: more blocks than 32 bits */
	harness_identity(&conf);
	ck_assert_int_eq(scsi_target_add_lun(TGT, &conf, err, sizeof(err)), 0);
	clear_ua(ITN, 9);
	uint8_t c[16] = { 0x25 };
	struct tt *x = run_cdb(ITN, 9, c, 10, SCSI_DIR_READ, 8);
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(x->t.buf), 0xffffffffu);
	tt_free(x);
	uint8_t r[16] = { 0x9e, 0x10 };
	r[13] = 32;
	x = run_cdb(ITN, 9, r, 16, SCSI_DIR_READ, 32);
	ck_assert_uint_eq(get_be64(x->t.buf), (3ULL << 31) - 1);
	tt_free(x);

	/* transfer length beyond the block limits: INVALID FIELD IN CDB */
	cdb16(c, 0x88, 0, 0, SCSI_MAX_XFER_BYTES / 512 + 1);
	x = run_cdb(ITN, 9, c, 16, SCSI_DIR_READ, 4096);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[17], 10);
	tt_free(x);
	/* null reads give zeroes through the real bdev layer */
	cdb16(c, 0x88, 0, (3ULL << 31) - 1, 1);
	x = run_cdb(ITN, 9, c, 16, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 512);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- range checks */

START_TEST(lba_ranges)
{
	uint8_t c[16];
	struct tt *x;

	struct { uint8_t op; uint64_t lba; uint32_t len; bool ok; } cases[] = {
		{ 0x28, NBLOCKS - 1, 1, true },
		{ 0x28, NBLOCKS, 1, false },
		{ 0x28, NBLOCKS - 1, 2, false },
		{ 0x28, NBLOCKS, 0, true },     /* 0 blocks at the end: fine */
		{ 0x28, NBLOCKS + 1, 0, false },
		{ 0x28, 0x80000000u, 0, false },
		{ 0x28, 0xffffffffu, 1, false },
		{ 0x88, UINT64_MAX, 1, false },
		{ 0x88, UINT64_MAX, 0, false },
		{ 0x88, 1, 0xffffffffu, false }, /* lba + len would not wrap, still out */
		{ 0x88, UINT64_MAX - 1, 2, false }, /* wraps to 0 */
		{ 0x8a, 1ULL << 63, 1, false },
		{ 0x2a, NBLOCKS, 1, false },
		{ 0xa8, NBLOCKS - 2, 3, false },
		{ 0xaa, NBLOCKS - 2, 2, true },
		{ 0x2f, NBLOCKS, 1, false },
		{ 0x8f, UINT64_MAX, 1, false },
		{ 0x35, NBLOCKS + 1, 0, false },
		{ 0x91, NBLOCKS - 1, 2, false },
		{ 0x91, 0, 0, true },
		{ 0x34, NBLOCKS, 1, false },
		{ 0x90, 0, 1, true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t op = cases[i].op;
		bool is16 = op >= 0x80 && op < 0xa0;
		bool is12 = op >= 0xa0;
		if (is16) {
			cdb16(c, op, 0, cases[i].lba, cases[i].len);
		} else if (is12) {
			memset(c, 0, 12);
			c[0] = op;
			put_be32(&c[2], (uint32_t)cases[i].lba);
			put_be32(&c[6], cases[i].len);
		} else {
			cdb10(c, op, 0, (uint32_t)cases[i].lba, (uint16_t)cases[i].len);
		}
		bool wr = op == 0x2a || op == 0x8a || op == 0xaa;
		x = run_cdb(ITN, 0, c, 16, wr ? SCSI_DIR_WRITE : SCSI_DIR_READ, cases[i].len * 512);
		if (cases[i].ok) {
			ck_assert_msg(x->t.status == SCSI_STATUS_GOOD, "case %zu: status %x", i, x->t.status);
		} else {
			ck_assert_msg(x->t.status == SCSI_STATUS_CHECK_CONDITION && x->t.sense[2] == 5 &&
				      x->t.sense[12] == 0x21 && x->t.sense[13] == 0,
				      "case %zu: %x %x/%x/%x", i, x->t.status, x->t.sense[2], x->t.sense[12],
				      x->t.sense[13]);
			ck_assert_int_eq(x->t.data_len, 0);
		}
		tt_free(x);
	}
}
END_TEST

START_TEST(protect_fields_and_readonly)
{
	uint8_t c[16];
	struct tt *x;

	for (uint8_t prot = 1; prot < 8; prot++) {
		cdb10(c, 0x28, (uint8_t)(prot << 5), 0, 1);
		x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 512);
		CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
		ck_assert_int_eq(x->t.sense[15], 0xc8 | 7);
		ck_assert_int_eq(x->t.sense[17], 1);
		tt_free(x);
		cdb16(c, 0x8a, (uint8_t)(prot << 5), 0, 1);
		x = write_blocks(0, c, 16, 512, 1);
		CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
		tt_free(x);
		cdb10(c, 0x2f, (uint8_t)(prot << 5), 0, 1);
		x = run_cdb(ITN, 0, c, 10, SCSI_DIR_NONE, 0);
		CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
		tt_free(x);
	}
	ck_assert_int_eq(WB->write_count, 0);

	/* read-only LUN */
	cdb10(c, 0x2a, 0, 0, 1);
	x = write_blocks(3, c, 10, 512, 1);
	CHECK_SENSE(x, SK_DATA_PROTECT, 0x27, 0x00);
	tt_free(x);
	cdb10(c, 0x2e, 0, 0, 1);
	x = write_blocks(3, c, 10, 512, 1);
	CHECK_SENSE(x, SK_DATA_PROTECT, 0x27, 0x00);
	tt_free(x);
	cdb10(c, 0x28, 0, 0, 1);
	x = run_cdb(ITN, 3, c, 10, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(RO->write_count, 0);
	/* WP in MODE SENSE */
	uint8_t ms[6] = { 0x1a, 0x08, 0x3f, 0, 255, 0 };
	x = run_cdb(ITN, 3, ms, 6, SCSI_DIR_READ, 255);
	ck_assert_int_eq(x->t.buf[2], 0x90);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- data path */

START_TEST(read_write_roundtrip)
{
	uint8_t c[16];
	struct tt *x;

	/* WRITE(10) 4 blocks at 10 */
	cdb10(c, 0x2a, 0, 10, 4);
	x = tt_new(ITN, 0, c, 10, SCSI_DIR_WRITE, 2048);
	for (int i = 0; i < 2048; i++)
		x->t.buf[i] = (uint8_t)(i * 7 + 3);
	tt_run(x);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 2048);
	ck_assert_int_eq(x->t.xfer_len, 2048);
	tt_free(x);
	for (int i = 0; i < 2048; i++)
		ck_assert_int_eq(WB->data[10 * 512 + i], (uint8_t)(i * 7 + 3));
	ck_assert_int_eq(WB->data[10 * 512 - 1], 0);
	ck_assert_int_eq(WB->data[14 * 512], 0);

	/* READ(16), READ(12), READ(6) return it */
	cdb16(c, 0x88, 0, 10, 4);
	x = run_cdb(ITN, 0, c, 16, SCSI_DIR_READ, 2048);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 2048);
	ck_assert(memcmp(x->t.buf, &WB->data[10 * 512], 2048) == 0);
	tt_free(x);
	memset(c, 0, 16);
	c[0] = 0xa8;
	put_be32(&c[2], 11);
	put_be32(&c[6], 2);
	x = run_cdb(ITN, 0, c, 12, SCSI_DIR_READ, 1024);
	CHECK_GOOD(x);
	ck_assert(memcmp(x->t.buf, &WB->data[11 * 512], 1024) == 0);
	tt_free(x);
	uint8_t r6[6] = { 0x08, 0, 0, 12, 1, 0 };
	x = run_cdb(ITN, 0, r6, 6, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	ck_assert(memcmp(x->t.buf, &WB->data[12 * 512], 512) == 0);
	tt_free(x);

	/* WRITE(6) with TRANSFER LENGTH 0 = 256 blocks */
	uint8_t w6[6] = { 0x0a, 0, 0, 100, 0, 0 };
	x = write_blocks(0, w6, 6, 256 * 512, 0x5a);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.xfer_len, 256 * 512);
	ck_assert_int_eq(x->t.data_len, 256 * 512);
	tt_free(x);
	ck_assert_int_eq(WB->data[100 * 512], 0x5a);
	ck_assert_int_eq(WB->data[356 * 512 - 1], 0x5a);
	ck_assert_int_eq(WB->data[356 * 512], 0);
	uint8_t r60[6] = { 0x08, 0, 0, 100, 0, 0 };
	x = run_cdb(ITN, 0, r60, 6, SCSI_DIR_READ, 256 * 512);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 256 * 512);
	ck_assert_int_eq(x->t.buf[256 * 512 - 1], 0x5a);
	tt_free(x);
	/* READ(6) at 21-bit LBA beyond the end */
	uint8_t r6b[6] = { 0x08, 0x1f, 0xff, 0xff, 1, 0 };
	x = run_cdb(ITN, 0, r6b, 6, SCSI_DIR_READ, 512);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);

	/* zero-length READ/WRITE(10): GOOD, nothing moved */
	unsigned before = WB->write_count;
	cdb10(c, 0x2a, 0, 0, 0);
	x = write_blocks(0, c, 10, 0, 0);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 0);
	ck_assert_int_eq(x->t.xfer_len, 0);
	tt_free(x);
	ck_assert_int_eq(WB->write_count, before);

	/* statistics */
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 0);
	ck_assert_int_eq(atomic_load(&lu->writes), 2);
	ck_assert_int_eq(atomic_load(&lu->write_bytes), 2048 + 256 * 512);
	ck_assert_int_eq(atomic_load(&lu->reads), 4);
}
END_TEST

START_TEST(residuals)
{
	uint8_t c[16];
	struct tt *x;

	memset(WB->data, 'a', 4 * 512);
	/* EDTL 0 for a one-block write: nothing written, GOOD, overflow */
	cdb10(c, 0x2a, 0, 0, 1);
	x = write_blocks(0, c, 10, 0, 'b');
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.xfer_len, 512);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);
	ck_assert_int_eq(WB->data[0], 'a');
	/* EDTL 200: partial block, nothing written */
	x = write_blocks(0, c, 10, 200, 'b');
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);
	ck_assert_int_eq(WB->data[0], 'a');
	/* EDTL > TL: only TL written */
	x = write_blocks(0, c, 10, 1024, 'b');
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.xfer_len, 512);
	ck_assert_int_eq(x->t.data_len, 512);
	tt_free(x);
	ck_assert_int_eq(WB->data[511], 'b');
	ck_assert_int_eq(WB->data[512], 'a');
	/* EDTL < TL: only EDTL written */
	cdb10(c, 0x2a, 0, 2, 2);
	x = write_blocks(0, c, 10, 512, 'c');
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.xfer_len, 1024);
	ck_assert_int_eq(x->t.data_len, 512);
	tt_free(x);
	ck_assert_int_eq(WB->data[2 * 512], 'c');
	ck_assert_int_eq(WB->data[3 * 512], 'a');
	/* no data-out at all for a write CDB */
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);

	/* READ with EDTL 200 returns 200 bytes */
	cdb10(c, 0x28, 0, 0, 1);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 200);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.xfer_len, 512);
	ck_assert_int_eq(x->t.data_len, 200);
	ck_assert_int_eq(x->t.buf[199], 'b');
	tt_free(x);
	/* same with a buffer of exactly EDTL bytes (bounce path) */
	x = tt_new(ITN, 0, c, 10, SCSI_DIR_READ, 200);
	x->t.buf_len = 200;
	tt_run(x);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 200);
	ck_assert_int_eq(x->t.buf[0], 'b');
	ck_assert_int_eq(x->t.buf[199], 'b');
	ck_assert_int_eq(x->t.buf[200], 0xee);
	tt_free(x);
	/* READ EDTL 10000 for one block: 512 */
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 10000);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 512);
	tt_free(x);
	/* READ EDTL 0 */
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 0);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 0);
	ck_assert_int_eq(x->t.xfer_len, 512);
	tt_free(x);
	/* READ two blocks into a one-block EDTL */
	cdb10(c, 0x28, 0, 2, 2);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 512);
	ck_assert_int_eq(x->t.buf[0], 'c');
	ck_assert_int_eq(x->t.buf[512], 0xee);  /* buffer beyond EDTL untouched */
	tt_free(x);
}
END_TEST

START_TEST(cache_policy)
{
	uint8_t c[16];
	struct tt *x;

	/* write-back: no FUA unless the CDB asks; SYNC CACHE flushes */
	cdb10(c, 0x2a, 0, 0, 1);
	tt_free(write_blocks(0, c, 10, 512, 1));
	ck_assert_int_eq(WB->fua_count, 0);
	cdb10(c, 0x2a, 0x08, 0, 1);
	tt_free(write_blocks(0, c, 10, 512, 1));
	ck_assert_int_eq(WB->fua_count, 1);
	cdb10(c, 0x2a, 0x10, 0, 1);    /* DPO alone */
	tt_free(write_blocks(0, c, 10, 512, 1));
	ck_assert_int_eq(WB->fua_count, 1);
	cdb10(c, 0x2e, 0x02, 0, 1);    /* WRITE AND VERIFY: durable */
	x = write_blocks(0, c, 10, 512, 1);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(WB->fua_count, 2);
	cdb10(c, 0x35, 0, 0, 0);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(WB->flush_count, 1);
	cdb16(c, 0x91, 0x02, 0, 0);
	x = run_cdb(ITN, 0, c, 16, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(WB->flush_count, 2);

	/* write-through: every write FUA */
	cdb10(c, 0x2a, 0, 0, 1);
	tt_free(write_blocks(1, c, 10, 512, 1));
	tt_free(write_blocks(1, c, 10, 512, 1));
	ck_assert_int_eq(WT->fua_count, 2);

	/* MODE SELECT WCE=1 on the write-through LUN stops forcing FUA */
	uint8_t pl[24] = { 0, 0, 0, 0, 0x08, 0x12, 0x04 };
	uint8_t ms[6] = { 0x15, 0x10, 0, 0, 24, 0 };
	x = tt_new(ITN, 1, ms, 6, SCSI_DIR_WRITE, 24);
	memcpy(x->t.buf, pl, 24);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	tt_free(write_blocks(1, c, 10, 512, 1));
	ck_assert_int_eq(WT->fua_count, 2);
	ck_assert_int_eq(WT->write_count, 3);
	/* ... and WCE=0 again flushes what was written meanwhile before it
	 * answers: an initiator that sees WCE=0 sends no SYNCHRONIZE CACHE */
	unsigned flushes = WT->flush_count;
	pl[6] = 0x00;
	x = tt_new(ITN, 1, ms, 6, SCSI_DIR_WRITE, 24);
	memcpy(x->t.buf, pl, 24);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_msg(WT->flush_count == flushes + 1, "WCE 1 -> 0 without a flush (%u flushes before, %u after)",
		      flushes, WT->flush_count);
	tt_free(write_blocks(1, c, 10, 512, 1));
	ck_assert_int_eq(WT->fua_count, 3);

	/* nv-cache: never FUA, SYNC CACHE completes without a flush */
	cdb10(c, 0x2a, 0x08, 0, 1);
	tt_free(write_blocks(2, c, 10, 4096, 1));
	ck_assert_int_eq(NV->fua_count, 0);
	ck_assert_int_eq(NV->write_count, 1);
	cdb10(c, 0x35, 0, 0, 0);
	x = run_cdb(ITN, 2, c, 10, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(NV->flush_count, 0);
	/* reserved bits in SYNCHRONIZE CACHE */
	cdb10(c, 0x35, 0x01, 0, 0);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
}
END_TEST

static struct held_dev HP;

static void poll_n(int n)
{
	for (int i = 0; i < n; i++)
		reactor_poll_once(R, 1);
}

/* MODE SELECT(6) of the caching page: WCE of LUN lun on or off. */
static void set_wce(uint64_t lun, bool wce)
{
	uint8_t ms[6] = { 0x15, 0x10, 0, 0, 24, 0 };
	uint8_t pl[24] = { 0, 0, 0, 0, 0x08, 0x12, wce ? 0x04 : 0x00 };
	struct tt *m = tt_new(ITN, lun, ms, 6, SCSI_DIR_WRITE, 24);

	memcpy(m->t.buf, pl, 24);
	tt_run(m);
	CHECK_GOOD(m);
	tt_free(m);
}

/* Review, session 12: the FUA of a write was decided when it arrived. Under
 * write-back, write A in the device and write B waiting for A's range; MODE
 * SELECT WCE=0 flushes and answers; then B went out without FUA and A was
 * acknowledged with nothing covering it, while the initiator, seeing WCE=0,
 * never flushes again. Now B is FUA and A gets a flush of its own. */
START_TEST(cache_off_with_writes_in_flight)
{
	uint8_t w[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	struct bdev_io *io;
	unsigned bflags, fl;

	memset(&HP, 0, sizeof(HP));
	harness_attach(TGT, &(struct harness_lun){ .lun = 4, .nblocks = 64, .bs = 512, .cache = TCONF_CACHE_WRITE_BACK,
						   .ops = &held_ops, .priv = &HP, .name = "hold" }, &HP.data);
	clear_ua(ITN, 4);
	struct tt *a = tt_new(ITN, 4, w, 10, SCSI_DIR_WRITE, 512);
	struct tt *b = tt_new(ITN, 4, w, 10, SCSI_DIR_WRITE, 512);
	reactor_post(R, tt_exec_fn, &a->t);
	poll_n(5);
	reactor_post(R, tt_exec_fn, &b->t);
	poll_n(5);
	ck_assert_int_eq(HP.nheld, 1);                  /* A in the device, B waits for the range */
	ck_assert(!(HP.held[0]->flags & BDEV_IO_F_FUA));
	set_wce(4, false);
	fl = HP.flushes;
	io = HP.held[0];
	HP.nheld = 0;
	bdev_complete_later(io, 0);                     /* A completes: its own flush, then B goes */
	poll_n(10);
	ck_assert_msg(HP.flushes == fl + 1, "write A, sent without FUA under the cache that is off now, was "
		      "acknowledged without a flush (%u -> %u)", fl, HP.flushes);
	ck_assert_int_eq(HP.nheld, 1);
	io = HP.held[0];
	HP.nheld = 0;
	bflags = io->flags;
	bdev_complete_later(io, 0);
	poll_n(10);
	CHECK_GOOD(a);
	CHECK_GOOD(b);
	ck_assert_msg(bflags & BDEV_IO_F_FUA, "write B, sent after MODE SELECT WCE=0, went without FUA");
	tt_free(a);
	tt_free(b);
}
END_TEST

/* One WRITE SAME(10) of n blocks at LBA 8 (CDB byte 1 = byte1, data-out one
 * block of fill) on write-back LUN 4 of HP, turned write-through by MODE
 * SELECT while the requests it sent first (of type `type`, without FUA) are
 * in the device. Returns the number of requests it sent after that, checked
 * to carry FUA; the command must be answered GOOD after one flush. */
static int ws_across_cache_off(const char *what, uint8_t byte1, uint16_t n, uint8_t fill, enum bdev_io_type type)
{
	uint8_t ws[10] = { 0x41, byte1, 0, 0, 0, 8, 0, (uint8_t)(n >> 8), (uint8_t)n, 0 };
	struct bdev_io *io[16];
	unsigned fl;
	int late = 0;

	set_wce(4, true);
	struct tt *x = tt_new(ITN, 4, ws, 10, SCSI_DIR_WRITE, 512);
	memset(x->t.buf, fill, 512);
	reactor_post(R, tt_exec_fn, &x->t);
	poll_n(5);
	ck_assert_msg(HP.nheld > 0, "%s: nothing reached the device", what);
	for (int i = 0; i < HP.nheld; i++)
		ck_assert(HP.held[i]->type == type && !(HP.held[i]->flags & BDEV_IO_F_FUA));
	set_wce(4, false);
	fl = HP.flushes;
	for (bool first = true; HP.nheld; first = false) {
		int k = HP.nheld;

		for (int i = 0; !first && i < k; i++) {
			ck_assert_msg(HP.held[i]->flags & BDEV_IO_F_FUA, "%s: a request sent after MODE SELECT "
				      "WCE=0 went without FUA", what);
			late++;
		}
		memcpy(io, HP.held, (size_t)k * sizeof(io[0]));
		HP.nheld = 0;
		for (int i = 0; i < k; i++)
			bdev_complete_later(io[i], 0);
		poll_n(10);
	}
	ck_assert_int_eq(x->completions, 1);
	CHECK_GOOD(x);
	ck_assert_msg(HP.flushes == fl + 1, "%s: WRITE SAME, sent without FUA under the cache that is off now, was "
		      "acknowledged without a flush (%u -> %u)", what, fl, HP.flushes);
	tt_free(x);
	return late;
}

/* Review, session 15: WRITE SAME took the cache mode once, when its range was
 * granted: its pattern chunks all went without FUA, and zeroing or
 * deallocation was flushed only on a LUN write-through from the start. A
 * WRITE SAME in the device while MODE SELECT turned WCE off was answered GOOD
 * with its data possibly still in a volatile cache. Now every chunk takes
 * the mode when it is sent, and a request that went without FUA is flushed
 * before GOOD when the cache is off by then, as for WRITE. */
START_TEST(write_same_across_cache_off)
{
	memset(&HP, 0, sizeof(HP));
	harness_attach(TGT, &(struct harness_lun){ .lun = 4, .nblocks = 12288, .bs = 512,
						   .cache = TCONF_CACHE_WRITE_BACK, .can_unmap = true,
						   .ops = &held_ops, .priv = &HP, .name = "hold" }, &HP.data);
	clear_ua(ITN, 4);
	/* a pattern over 5 MiB: four 1 MiB chunks in the device, the fifth sent
	 * after the cache went off */
	ck_assert_int_eq(ws_across_cache_off("pattern", 0, 10240, 0x5a, BDEV_IO_WRITE), 1);
	ck_assert_int_eq(HP.data[8 * 512 + 10239 * 512], 0x5a);
	/* all-zero block, UNMAP=0: one write-zeroes request */
	ck_assert_int_eq(ws_across_cache_off("write zeroes", 0, 4, 0, BDEV_IO_WRITE_ZEROES), 0);
	/* all-zero block, UNMAP=1, LBPRZ=1: one deallocation */
	ck_assert_int_eq(ws_across_cache_off("unmap", 0x08, 4, 0, BDEV_IO_UNMAP), 0);
}
END_TEST

START_TEST(verify)
{
	uint8_t c[16];
	struct tt *x;

	for (int i = 0; i < 4 * 512; i++)
		WB->data[i] = (uint8_t)i;
	/* BYTCHK=0: range check only */
	cdb10(c, 0x2f, 0, 0, 4);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	/* BYTCHK=1 matching */
	cdb10(c, 0x2f, 0x02, 0, 4);
	x = tt_new(ITN, 0, c, 10, SCSI_DIR_WRITE, 2048);
	memcpy(x->t.buf, WB->data, 2048);
	tt_run(x);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 2048);
	tt_free(x);
	/* BYTCHK=1 mismatch at byte 1000: MISCOMPARE, INFORMATION = 1000 */
	x = tt_new(ITN, 0, c, 10, SCSI_DIR_WRITE, 2048);
	memcpy(x->t.buf, WB->data, 2048);
	x->t.buf[1000] ^= 0xff;
	tt_run(x);
	CHECK_SENSE(x, SK_MISCOMPARE, 0x1d, 0x00);
	ck_assert_int_eq(x->t.sense[0], 0xf0);
	ck_assert_int_eq(get_be32(&x->t.sense[3]), 1000);
	tt_free(x);
	/* VERIFY(16) BYTCHK=3: one block compared with all */
	memset(WB->data + 8 * 512, 0x77, 3 * 512);
	cdb16(c, 0x8f, 0x06, 8, 3);
	x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 512);
	memset(x->t.buf, 0x77, 512);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	WB->data[10 * 512 + 5] = 0;
	x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 512);
	memset(x->t.buf, 0x77, 512);
	tt_run(x);
	CHECK_SENSE(x, SK_MISCOMPARE, 0x1d, 0x00);
	ck_assert_int_eq(get_be32(&x->t.sense[3]), 2 * 512 + 5);
	tt_free(x);
	/* BYTCHK=2 reserved */
	cdb10(c, 0x2f, 0x04, 0, 1);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_WRITE, 512);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* short data-out */
	cdb10(c, 0x2f, 0x02, 0, 2);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_WRITE, 512);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* VERIFY(12) beyond the end */
	memset(c, 0, 12);
	c[0] = 0xaf;
	c[1] = 0x02;
	put_be32(&c[2], NBLOCKS);
	put_be32(&c[6], 1);
	x = run_cdb(ITN, 0, c, 12, SCSI_DIR_WRITE, 512);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
}
END_TEST

START_TEST(backend_errors)
{
	uint8_t c[16];
	struct tt *x;
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 0);

	WB->fail_status = -EIO;
	cdb10(c, 0x28, 0, 0, 1);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 512);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x11, 0x00);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);
	cdb10(c, 0x2a, 0, 0, 1);
	x = write_blocks(0, c, 10, 512, 1);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x0c, 0x00);
	tt_free(x);
	WB->fail_status = -ENOSPC;
	x = write_blocks(0, c, 10, 512, 1);
	CHECK_SENSE(x, SK_DATA_PROTECT, 0x27, 0x07);
	tt_free(x);
	WB->fail_status = -ENOMEM;
	x = write_blocks(0, c, 10, 512, 1);
	ck_assert_int_eq(x->t.status, SCSI_STATUS_BUSY);
	ck_assert_int_eq(x->t.sense_len, 0);
	tt_free(x);
	WB->fail_status = -EIO;
	cdb10(c, 0x35, 0, 0, 0);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x0c, 0x00);
	tt_free(x);
	cdb10(c, 0x2f, 0x02, 0, 1);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_WRITE, 512);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x11, 0x00);
	tt_free(x);
	ck_assert_int_eq(atomic_load(&lu->errors), 6);
	WB->fail_status = 0;
	cdb10(c, 0x28, 0, 0, 1);
	x = run_cdb(ITN, 0, c, 10, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

/* A LUN of 1 MiB on a file created at PATH (backend, block size, cache mode). */
static void file_lun_conf(struct tconf_lun *conf, uint32_t lun, enum tconf_backend backend, const char *path,
			  uint32_t block_size, enum tconf_cache cache)
{
	memset(conf, 0, sizeof(*conf));
	conf->lun = lun;
	conf->backend = backend;
	snprintf(conf->path, sizeof(conf->path), "%s", path);
	conf->size = 1 << 20;
	conf->create = true;
	conf->block_size = block_size;
	conf->cache = cache;
	harness_identity(conf);
}

/* nv-cache drops every flush: refused where a completed write can still sit
 * in the host (a blockio file: its file system allocates blocks in a journal
 * of its own; blockio that fell back to the page cache), at open and when a
 * reload changes a LUN's cache to it (the LUN keeps its mode). Found by
 * review: only fileio was refused, by backend name. The null backend keeps
 * nothing and may use it. */
START_TEST(nv_cache_needs_a_device)
{
	char dir[] = "/tmp/tandem-scsi-nv-XXXXXX", err[256] = "";
	struct tconf_lun conf;
	struct bdev *b;
	struct scsi_lun *lu;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(err, sizeof(err), "%s/lun.img", dir);
	file_lun_conf(&conf, 9, TCONF_BACKEND_BLOCKIO, err, 4096, TCONF_CACHE_NV);
	b = scsi_lun_open_bdev(&conf, err, sizeof(err));
	ck_assert_msg(b == NULL, "nv-cache accepted on a blockio file");
	ck_assert_msg(strstr(err, "'cache: nv-cache' refused") && strstr(err, "it is a file"), "reason: %s", err);
	/* write-back opens; a change to nv-cache keeps write-back */
	conf.cache = TCONF_CACHE_WRITE_BACK;
	ck_assert_msg(scsi_target_add_lun(TGT, &conf, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(scsi_target_set_lun_cache(TGT, 9, TCONF_CACHE_NV), 0);
	lu = scsi_target_find_lun(TGT, 9);
	ck_assert_ptr_nonnull(lu);
	ck_assert_int_eq(atomic_load(&lu->cache), TCONF_CACHE_WRITE_BACK);
	ck_assert(atomic_load(&lu->wce));
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 9), 0);
	/* the null backend keeps nothing: nv-cache is fine there */
	memset(&conf, 0, sizeof(conf));
	conf.lun = 10;
	conf.backend = TCONF_BACKEND_NULL;
	conf.size = 1 << 20;
	conf.block_size = 512;
	conf.cache = TCONF_CACHE_NV;
	harness_identity(&conf);
	b = scsi_lun_open_bdev(&conf, err, sizeof(err));
	ck_assert_msg(b != NULL, "nv-cache refused on the null backend: %s", err);
	bdev_close(b);
	snprintf(err, sizeof(err), "%s/lun.img", dir);
	unlink(err);
	rmdir(dir);
}
END_TEST

START_TEST(fileio_roundtrip)
{
	char path[] = "/tmp/tandem-scsi-test-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);

	struct tconf_lun conf;
	char err[256] = "";
	file_lun_conf(&conf, 7, TCONF_BACKEND_FILEIO, path, 512, TCONF_CACHE_WRITE_BACK);
	int rc = scsi_target_add_lun(TGT, &conf, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	clear_ua(ITN, 7);

	uint8_t c[16];
	cdb16(c, 0x8a, 0x08, 2040, 8);
	struct tt *x = tt_new(ITN, 7, c, 16, SCSI_DIR_WRITE, 4096);
	for (int i = 0; i < 4096; i++)
		x->t.buf[i] = (uint8_t)(i ^ 0x5c);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	cdb10(c, 0x35, 0, 0, 0);
	x = run_cdb(ITN, 7, c, 10, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	cdb16(c, 0x88, 0, 2040, 8);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(x->t.buf[i], (uint8_t)(i ^ 0x5c));
	tt_free(x);
	cdb16(c, 0x88, 0, 2041, 8);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 4096);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 7), 0);
	unlink(path);
}
END_TEST

/* A reload's size change in service (scsi_target_resize_lun): the capacity
 * moves without the LUN going away, every nexus gets CAPACITY DATA HAS
 * CHANGED (2Ah/09h) once, the grown range takes I/O, a shrink answers LBA OUT
 * OF RANGE past the new end and leaves the file as it was, and a size that
 * cannot be had leaves capacity and nexuses alone. */
static uint64_t rc16_blocks(struct scsi_itn *itn, uint64_t lun)
{
	uint8_t c[16] = { 0x9e, 0x10 };
	c[13] = 32;
	struct tt *x = run_cdb(itn, lun, c, 16, SCSI_DIR_READ, 32);
	CHECK_GOOD(x);
	uint64_t n = get_be64(x->t.buf) + 1;
	tt_free(x);
	return n;
}

static void expect_capacity_ua(struct scsi_itn *itn, uint64_t lun)
{
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(itn, lun, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2a, 0x09);
	tt_free(x);
	x = run_cdb(itn, lun, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
}

static void expect_no_ua(struct scsi_itn *itn, uint64_t lun)
{
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(itn, lun, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
}

static int hold_granted(struct scsi_task *t)
{
	(void)t;
	return SCSI_ASYNC;                      /* keeps the range until scsi_range_unlock */
}

START_TEST(resize_in_service)
{
	char dir[] = "/tmp/tandem-scsi-resize-XXXXXX", path[128], err[512] = "";
	struct tconf_lun conf;
	struct stat st;
	uint8_t c[16];
	struct tt *x;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lun.img", dir);
	file_lun_conf(&conf, 7, TCONF_BACKEND_BLOCKIO, path, 512, TCONF_CACHE_WRITE_THROUGH);
	ck_assert_msg(scsi_target_add_lun(TGT, &conf, err, sizeof(err)) == 0, "%s", err);
	clear_ua(ITN, 7);
	clear_ua(ITN2, 7);
	clear_ua(ITN, 0);                       /* REPORTED LUNS DATA HAS CHANGED */
	ck_assert_uint_eq(rc16_blocks(ITN, 7), 2048);
	x = write_blocks(7, (cdb16(c, 0x8a, 0, 2047, 1), c), 16, 512, 0x71);
	CHECK_GOOD(x);
	tt_free(x);
	cdb16(c, 0x88, 0, 2048, 1);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 512);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);

	/* grow, the file with it (create) */
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 2 << 20, true, err, sizeof(err)), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 2 << 20);
	expect_capacity_ua(ITN, 7);
	expect_capacity_ua(ITN2, 7);
	expect_no_ua(ITN, 0);                   /* other LUNs: nothing */
	ck_assert_uint_eq(rc16_blocks(ITN, 7), 4096);
	x = write_blocks(7, (cdb16(c, 0x8a, 0, 4095, 1), c), 16, 512, 0x72);
	CHECK_GOOD(x);
	tt_free(x);
	cdb16(c, 0x88, 0, 2047, 1);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[0], 0x71);
	ck_assert_int_eq(x->t.buf[511], 0x71);
	tt_free(x);
	cdb16(c, 0x88, 0, 4095, 1);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[0], 0x72);
	tt_free(x);

	/* the same size again, or size 0 on a file of that size: no change */
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 2 << 20, false, err, sizeof(err)), 0);
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 0, false, err, sizeof(err)), 0);
	expect_no_ua(ITN, 7);

	/* more than the file holds without create: refused, all as it was */
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 3 << 20, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "LUN 7: keeps 2097152 bytes") && strstr(err, "less than the requested"), "%s", err);
	ck_assert_uint_eq(rc16_blocks(ITN, 7), 4096);
	expect_no_ua(ITN2, 7);

	/* a SANITIZE running: refused (it sanitizes the capacity it started with) */
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 7);
	atomic_store(&lu->sanitize_state, SCSI_SANITIZE_RUNNING);
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 4 << 20, true, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "a SANITIZE runs"), "%s", err);
	atomic_store(&lu->sanitize_state, SCSI_SANITIZE_IDLE);

	/* the file grew underneath (size 0 follows it) */
	ck_assert_int_eq(truncate(path, 3 << 20), 0);
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 0, false, err, sizeof(err)), 1);
	expect_capacity_ua(ITN, 7);
	ck_assert_uint_eq(rc16_blocks(ITN, 7), 6144);

	/* shrink: past the new end is out of range, the file keeps its data */
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 1 << 20, false, err, sizeof(err)), 1);
	expect_capacity_ua(ITN, 7);
	expect_capacity_ua(ITN2, 7);
	ck_assert_uint_eq(rc16_blocks(ITN2, 7), 2048);
	cdb16(c, 0x88, 0, 2047, 2);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 1024);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 3 << 20);
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 2 << 20, false, err, sizeof(err)), 1);
	expect_capacity_ua(ITN, 7);
	cdb16(c, 0x88, 0, 4095, 1);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 512);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[0], 0x72);    /* what the shrink did not cut */
	tt_free(x);

	/* a write admitted before a shrink (here: waiting for a range lock)
	 * completes as it would have, GOOD; it used to meet the device's bound,
	 * lowered by the shrink, and end as a MEDIUM ERROR (review) */
	struct tt *holder = tt_new(ITN, 7, c, 16, SCSI_DIR_NONE, 0), *w;
	holder->t.lu = lu;
	ck_assert_int_eq(scsi_range_lock(&holder->t, 4000, 1, hold_granted), SCSI_ASYNC);
	cdb16(c, 0x8a, 0, 4000, 1);
	w = tt_new(ITN, 7, c, 16, SCSI_DIR_WRITE, 512);
	memset(w->t.buf, 0x73, 512);
	reactor_post(R, tt_exec_fn, &w->t);
	for (int i = 0; i < 20; i++)
		reactor_poll_once(R, 5);
	ck_assert_int_eq(w->completions, 0);    /* waits for the range */
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 1 << 20, false, err, sizeof(err)), 1);
	scsi_range_unlock(&holder->t);
	for (int i = 0; i < 500 && w->completions == 0; i++)
		reactor_poll_once(R, 10);
	ck_assert_int_eq(w->completions, 1);
	CHECK_GOOD(w);
	tt_free(w);
	tt_free(holder);
	expect_capacity_ua(ITN, 7);
	expect_capacity_ua(ITN2, 7);

	/* SANITIZE erases the whole backing file, also what lies past a shrunk
	 * capacity: grown back, those blocks read zeroes (before, the data a
	 * SANITIZE had answered GOOD for came back with the grow: review) */
	uint8_t san[10] = { 0x48, 0x02 };       /* BLOCK ERASE */
	x = run_cdb(ITN, 7, san, 10, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 7, 2 << 20, false, err, sizeof(err)), 1);
	expect_capacity_ua(ITN, 7);
	for (uint64_t lba = 4000; lba < 4096; lba += 95) {
		cdb16(c, 0x88, 0, lba, 1);
		x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 512);
		CHECK_GOOD(x);
		for (int i = 0; i < 512; i++)
			ck_assert_msg(x->t.buf[i] == 0, "LBA %llu byte %d is %02x after SANITIZE and a grow",
				      (unsigned long long)lba, i, x->t.buf[i]);
		tt_free(x);
	}

	/* a device that cannot change size while open (the harness's memory
	 * one, like a replicated LUN's): a size is refused, size 0 is a no-op */
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 0, 2 * NBLOCKS * 512, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "LUN 0: keeps 524288 bytes") && strstr(err, "cannot change size"), "%s", err);
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 0, 0, false, err, sizeof(err)), 0);
	expect_no_ua(ITN, 0);
	ck_assert_int_eq(scsi_target_resize_lun(TGT, 42, 0, false, err, sizeof(err)), -1);

	ck_assert_int_eq(scsi_target_remove_lun(TGT, 7), 0);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---------------------------------------------------------------- concurrency */

#define CC_TASKS 8
#define CC_ROUNDS 20000

struct cc_worker {
	struct reactor *r;
	struct tt *tasks[CC_TASKS];
	atomic_int done, good, gone;
	int rounds[CC_TASKS];
};

static struct cc_worker *cc_of(struct scsi_task *t)
{
	return t->transport_ctx;
}

static void cc_exec(void *arg)
{
	scsi_task_exec(arg);
}

static void cc_complete(struct scsi_task *t)
{
	struct cc_worker *w = cc_of(t);
	int idx = (int)(t->cdb[5]);     /* task index parked in the LBA */

	if (t->status == SCSI_STATUS_GOOD)
		atomic_fetch_add(&w->good, 1);
	else if (t->sense[12] == 0x25)
		atomic_fetch_add(&w->gone, 1);
	if (++w->rounds[idx] < CC_ROUNDS) {
		t->cdb[0] = (w->rounds[idx] & 1) ? 0x28 : 0x2a;
		t->dir = t->cdb[0] == 0x28 ? SCSI_DIR_READ : SCSI_DIR_WRITE;
		reactor_post(w->r, cc_exec, t);
	} else {
		atomic_fetch_add(&w->done, 1);
	}
}

/* Two reactor threads hammer one LUN; then the LUN is detached while I/O is
 * in flight: every task completes exactly once, removal waits for them. */
START_TEST(concurrent_io_and_detach)
{
	struct cc_worker w[2];
	uint8_t c[10];

	memset(w, 0, sizeof(w));
	for (int i = 0; i < 2; i++) {
		w[i].r = reactor_create(i ? "cc1" : "cc0");
		ck_assert_ptr_nonnull(w[i].r);
		ck_assert_int_eq(reactor_start(w[i].r), 0);
		for (int k = 0; k < CC_TASKS; k++) {
			cdb10(c, 0x2a, 0, (uint32_t)(i * 64 + k), 1);
			c[5] = (uint8_t)k;
			c[4] = (uint8_t)i;
			struct tt *x = tt_new(ITN, 0, c, 10, SCSI_DIR_WRITE, 512);
			x->t.complete = cc_complete;
			x->t.transport_ctx = &w[i];
			w[i].tasks[k] = x;
		}
	}
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < CC_TASKS; k++)
			reactor_post(w[i].r, cc_exec, &w[i].tasks[k]->t);
	/* detach midway */
	while (atomic_load(&w[0].good) + atomic_load(&w[1].good) < CC_TASKS * CC_ROUNDS / 2)
		sched_yield();
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 0), 0);
	for (int i = 0; i < 20000; i++) {
		if (atomic_load(&w[0].done) == CC_TASKS && atomic_load(&w[1].done) == CC_TASKS)
			break;
		usleep(500);
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(atomic_load(&w[i].done), CC_TASKS);
		ck_assert_int_eq(atomic_load(&w[i].good) + atomic_load(&w[i].gone), CC_TASKS * CC_ROUNDS);
		reactor_stop(w[i].r);
		reactor_destroy(w[i].r);
		for (int k = 0; k < CC_TASKS; k++)
			tt_free(w[i].tasks[k]);
	}
	ck_assert_int_gt(atomic_load(&w[0].gone) + atomic_load(&w[1].gone), 0);
}
END_TEST

static Suite *io_suite(void)
{
	Suite *s = suite_create("scsi_io");
	TCase *tc;

	tc = tcase_create("capacity");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_capacity);
	tcase_add_test(tc, read_capacity_huge);
	tcase_add_test(tc, resize_in_service);
	suite_add_tcase(s, tc);

	tc = tcase_create("ranges");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lba_ranges);
	tcase_add_test(tc, protect_fields_and_readonly);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_write_roundtrip);
	tcase_add_test(tc, residuals);
	tcase_add_test(tc, cache_policy);
	tcase_add_test(tc, cache_off_with_writes_in_flight);
	tcase_add_test(tc, write_same_across_cache_off);
	tcase_add_test(tc, verify);
	tcase_add_test(tc, backend_errors);
	tcase_add_test(tc, fileio_roundtrip);
	tcase_add_test(tc, nv_cache_needs_a_device);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, concurrent_io_and_detach);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(io_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

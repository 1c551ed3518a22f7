/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the VAAI / thin provisioning commands: COMPARE AND WRITE
 * (match, miscompare offset, bounds, atomicity against overlapping writes with
 * backend completions held back), WRITE SAME patterns and bounds, the UNMAP
 * parser and command, GET LBA STATUS on a sparse file, and the VPD B0h/B2h
 * and READ CAPACITY(16) bits that advertise them. */
#include "scsi_test_harness.h"

#define NB 8192u                    /* blocks of the test LUNs */

/* ---------------------------------------------------------------- slow memory backend */

/* Memory backend that can hold completions back (to build overlapping I/O
 * deterministically), applies writes only when an I/O completes, implements
 * UNMAP / WRITE_ZEROES and logs what it was asked to do. */
#define LOG_MAX 256
struct slow_priv {
	uint8_t *data;                  /* first member: harness_medium_close */
	bool hold;
	struct bdev_io *held[64];
	int nheld;
	struct { enum bdev_io_type type; uint64_t off, len; unsigned flags; } log[LOG_MAX];
	int nlog;
};

static void slow_apply(struct bdev *b, struct bdev_io *io)
{
	struct slow_priv *m = b->priv;

	switch (io->type) {
	case BDEV_IO_READ:
		memcpy(io->iov[0].iov_base, m->data + io->offset, io->len);
		break;
	case BDEV_IO_WRITE:
		memcpy(m->data + io->offset, io->iov[0].iov_base, io->len);
		break;
	case BDEV_IO_UNMAP:
	case BDEV_IO_WRITE_ZEROES:
		memset(m->data + io->offset, 0, io->len);
		break;
	default:
		break;
	}
	bdev_complete_later(io, 0);
}

static void slow_submit(struct bdev *b, struct bdev_io *io)
{
	struct slow_priv *m = b->priv;

	if (m->nlog < LOG_MAX) {
		m->log[m->nlog].type = io->type;
		m->log[m->nlog].off = io->offset;
		m->log[m->nlog].len = io->len;
		m->log[m->nlog].flags = io->flags;
		m->nlog++;
	}
	if (m->hold) {
		ck_assert_int_lt(m->nheld, 64);
		m->held[m->nheld++] = io;
		return;
	}
	slow_apply(b, io);
}

/* Complete held I/O number i (in submission order among the held ones). */
static void slow_release(struct bdev *b, int i)
{
	struct slow_priv *m = b->priv;
	struct bdev_io *io;

	ck_assert_int_lt(i, m->nheld);
	io = m->held[i];
	memmove(&m->held[i], &m->held[i + 1], sizeof(m->held[0]) * (size_t)(m->nheld - i - 1));
	m->nheld--;
	slow_apply(b, io);
}

static const struct bdev_ops slow_ops = { .name = "slow", .close = harness_medium_close, .submit = slow_submit };

static struct bdev *SB, *SB2;
static struct slow_priv *SM, *SM2;

static struct slow_priv *slow_attach(uint32_t lun, uint32_t bs, bool can_unmap, enum tconf_cache cache,
				     struct bdev **out)
{
	struct slow_priv *m = calloc(1, sizeof(*m));

	ck_assert_ptr_nonnull(m);
	*out = harness_attach(TGT, &(struct harness_lun){ .lun = lun, .nblocks = NB, .bs = bs, .cache = cache,
							  .can_unmap = can_unmap, .ops = &slow_ops, .priv = m,
							  .name = "slow" },
			      &m->data);
	return m;
}

/* LUN 0: 512-byte blocks, thin (unmap), write-back. LUN 1: 4096, no unmap,
 * write-through. */
static void setup(void)
{
	harness_start();
	SM = slow_attach(0, 512, true, TCONF_CACHE_WRITE_BACK, &SB);
	SM2 = slow_attach(1, 4096, false, TCONF_CACHE_WRITE_THROUGH, &SB2);
	harness_nexus();
	clear_ua(ITN, 0);
	clear_ua(ITN, 1);
	clear_ua(ITN2, 0);
	clear_ua(ITN2, 1);
}

static void teardown(void)
{
	harness_stop();
}

/* ---------------------------------------------------------------- helpers */

static void pump(int n)
{
	for (int i = 0; i < n; i++)
		reactor_poll_once(R, 0);
}

/* Start a task without waiting for it. */
static void tt_start(struct tt *x)
{
	reactor_post(R, tt_exec_fn, &x->t);
	pump(5);
}

static void caw_cdb(uint8_t *c, uint8_t flags, uint64_t lba, uint8_t n)
{
	memset(c, 0, 16);
	c[0] = 0x89;
	c[1] = flags;
	put_be64(&c[2], lba);
	c[13] = n;
}

static void rw16(uint8_t *c, uint8_t op, uint64_t lba, uint32_t n)
{
	memset(c, 0, 16);
	c[0] = op;
	put_be64(&c[2], lba);
	put_be32(&c[10], n);
}

static void ws_cdb(uint8_t *c, bool ws16, uint8_t flags, uint64_t lba, uint32_t n)
{
	memset(c, 0, 16);
	c[0] = ws16 ? 0x93 : 0x41;
	c[1] = flags;
	if (ws16) {
		put_be64(&c[2], lba);
		put_be32(&c[10], n);
	} else {
		put_be32(&c[2], (uint32_t)lba);
		put_be16(&c[7], (uint16_t)n);
	}
}

static struct tt *caw(uint64_t lun, uint64_t lba, uint8_t n, uint32_t bs, uint8_t cmp, uint8_t wr)
{
	uint8_t c[16];
	struct tt *x;

	caw_cdb(c, 0, lba, n);
	x = tt_new(ITN, lun, c, 16, SCSI_DIR_WRITE, 2u * n * bs);
	memset(x->t.buf, cmp, (size_t)n * bs);
	memset(x->t.buf + (size_t)n * bs, wr, (size_t)n * bs);
	return x;
}

static void fill(struct slow_priv *m, uint32_t bs, uint64_t lba, uint32_t n, uint8_t v)
{
	memset(m->data + lba * bs, v, (size_t)n * bs);
}

static bool all(const struct slow_priv *m, uint32_t bs, uint64_t lba, uint32_t n, uint8_t v)
{
	for (size_t i = 0; i < (size_t)n * bs; i++)
		if (m->data[lba * bs + i] != v)
			return false;
	return true;
}

/* ---------------------------------------------------------------- VPD / capacity */

static struct tt *inquiry_vpd(uint64_t lun, uint8_t page)
{
	uint8_t c[6] = { 0x12, 0x01, page, 0x01, 0x00, 0x00 };
	return run_cdb(ITN, lun, c, 6, SCSI_DIR_READ, 256);
}

START_TEST(vpd_pages)
{
	struct tt *x;
	bool has_b2 = false;

	x = inquiry_vpd(0, 0x00);
	CHECK_GOOD(x);
	for (uint32_t i = 4; i < 4u + x->t.buf[3]; i++)
		has_b2 |= x->t.buf[i] == 0xb2;
	ck_assert(has_b2);
	tt_free(x);

	/* B0h on the thin 512-byte LUN */
	x = inquiry_vpd(0, 0xb0);
	CHECK_GOOD(x);
	const uint8_t *d = x->t.buf;
	ck_assert_int_eq(x->t.data_len, 64);
	ck_assert_int_eq(d[3], 0x3c);
	ck_assert_int_eq(d[4] & 0x01, 1);                       /* WSNZ */
	ck_assert_int_eq(d[5], 255);                            /* MAXIMUM COMPARE AND WRITE LENGTH */
	ck_assert_uint_eq(get_be32(&d[20]), 1u << 20);          /* MAXIMUM UNMAP LBA COUNT */
	ck_assert_uint_eq(get_be32(&d[24]), 1024);              /* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
	ck_assert_uint_eq(get_be32(&d[28]), 8);                 /* OPTIMAL UNMAP GRANULARITY (4K / 512) */
	ck_assert_uint_eq(get_be32(&d[32]), 0x80000000u);       /* UGAVALID */
	ck_assert_uint_eq(get_be64(&d[36]), 0xffff);            /* MAXIMUM WRITE SAME LENGTH */
	tt_free(x);

	/* B2h thin: LBPU, LBPWS, LBPWS10, LBPRZ, provisioning type 2 */
	x = inquiry_vpd(0, 0xb2);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 8);
	ck_assert_int_eq(x->t.buf[1], 0xb2);
	ck_assert_int_eq(get_be16(&x->t.buf[2]), 4);
	ck_assert_int_eq(x->t.buf[5], 0xe4);
	ck_assert_int_eq(x->t.buf[6] & 0x07, 2);
	tt_free(x);

	/* LUN 1 cannot unmap: no provisioning bits, unmap limits 0 */
	x = inquiry_vpd(1, 0xb2);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[5], 0);
	ck_assert_int_eq(x->t.buf[6], 0);
	tt_free(x);
	x = inquiry_vpd(1, 0xb0);
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(&x->t.buf[20]), 0);
	ck_assert_uint_eq(get_be32(&x->t.buf[24]), 0);
	ck_assert_int_eq(x->t.buf[5], 255);
	tt_free(x);

	/* READ CAPACITY(16) LBPME / LBPRZ */
	uint8_t c[16] = { 0x9e, 0x10 };
	put_be32(&c[10], 32);
	x = run_cdb(ITN, 0, c, 16, SCSI_DIR_READ, 32);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[14] & 0xc0, 0xc0);
	tt_free(x);
	x = run_cdb(ITN, 1, c, 16, SCSI_DIR_READ, 32);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[14] & 0xc0, 0);
	tt_free(x);
}
END_TEST

START_TEST(report_opcodes_lists_vaai)
{
	const uint8_t ops[] = { 0x41, 0x42, 0x89, 0x93 };
	for (size_t i = 0; i < sizeof(ops); i++) {
		uint8_t c[12] = { 0xa3, 0x0c, 0x01, ops[i] };
		put_be32(&c[6], 64);
		struct tt *x = run_cdb(ITN, 0, c, 12, SCSI_DIR_READ, 64);
		CHECK_GOOD(x);
		ck_assert_int_eq(x->t.buf[1] & 0x07, 3);        /* supported */
		tt_free(x);
	}
	/* GET LBA STATUS as a service action of 9Eh */
	uint8_t c[12] = { 0xa3, 0x0c, 0x02, 0x9e, 0x00, 0x12 };
	put_be32(&c[6], 64);
	struct tt *x = run_cdb(ITN, 0, c, 12, SCSI_DIR_READ, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[1] & 0x07, 3);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- COMPARE AND WRITE */

START_TEST(caw_match_and_miscompare)
{
	struct tt *x;

	fill(SM, 512, 5, 1, 'A');
	x = caw(0, 5, 1, 512, 'A', 'B');
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(all(SM, 512, 5, 1, 'B'));

	/* one byte differs at 300: MISCOMPARE, INFORMATION = 300, unchanged */
	x = caw(0, 5, 1, 512, 'B', 'C');
	x->t.buf[300] = 'X';
	tt_run(x);
	CHECK_SENSE(x, SK_MISCOMPARE, 0x1d, 0x00);
	ck_assert_int_eq(x->t.sense[0] & 0x80, 0x80);           /* VALID */
	ck_assert_uint_eq(get_be32(&x->t.sense[3]), 300);
	tt_free(x);
	ck_assert(all(SM, 512, 5, 1, 'B'));

	/* several blocks: the offset counts from the start of the buffer */
	fill(SM, 512, 100, 4, 'Q');
	SM->data[102 * 512 + 27] = 'R';
	x = caw(0, 100, 4, 512, 'Q', 'Z');
	tt_run(x);
	CHECK_SENSE(x, SK_MISCOMPARE, 0x1d, 0x00);
	ck_assert_uint_eq(get_be32(&x->t.sense[3]), 2 * 512 + 27);
	tt_free(x);
	ck_assert_int_eq(SM->data[100 * 512], 'Q');

	/* 255 blocks (the advertised maximum) at the end of the LUN */
	fill(SM, 512, NB - 255, 255, 'M');
	x = caw(0, NB - 255, 255, 512, 'M', 'N');
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(all(SM, 512, NB - 255, 255, 'N'));
}
END_TEST

START_TEST(caw_bounds)
{
	uint8_t c[16];
	struct tt *x;

	/* 0 blocks: GOOD, nothing touched */
	SM->nlog = 0;
	caw_cdb(c, 0, 0, 0);
	x = run_cdb(ITN, 0, c, 16, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM->nlog, 0);

	/* beyond the end, and LBA near 2^64 */
	x = caw(0, NB - 1, 2, 512, 0, 1);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	x = caw(0, UINT64_MAX, 1, 512, 0, 1);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);

	/* data-out of the wrong size: 4 blocks for NUMBER OF LOGICAL BLOCKS 1 and 3 */
	for (uint8_t n = 1; n <= 3; n += 2) {
		caw_cdb(c, 0, 0, n);
		x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 4 * 512);
		tt_run(x);
		CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
		ck_assert_int_eq(get_be16(&x->t.sense[16]), 13);
		tt_free(x);
	}

	/* WRPROTECT and reserved bits */
	caw_cdb(c, 0x20, 0, 1);
	x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 1024);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	caw_cdb(c, 0, 0, 1);
	c[11] = 1;
	x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 1024);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);

	/* FUA is honoured with write-back; write-through forces it */
	SM->nlog = 0;
	caw_cdb(c, 0x08, 7, 1);
	x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 1024);
	memset(x->t.buf, 0, 1024);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM->nlog, 2);
	ck_assert_int_eq(SM->log[0].type, BDEV_IO_READ);
	ck_assert_int_eq(SM->log[1].type, BDEV_IO_WRITE);
	ck_assert_int_eq(SM->log[1].flags & BDEV_IO_F_FUA, BDEV_IO_F_FUA);
	SM->nlog = 0;
	caw_cdb(c, 0x00, 7, 1);
	x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 1024);
	memset(x->t.buf, 0, 1024);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM->log[1].flags & BDEV_IO_F_FUA, 0);
	SM2->nlog = 0;
	x = caw(1, 3, 1, 4096, 0, 9);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM2->log[1].flags & BDEV_IO_F_FUA, BDEV_IO_F_FUA);
}
END_TEST

/* A write in flight to [10, 12), then COMPARE AND WRITE of block 11, then a
 * write to block 11, then a write elsewhere: the ATS waits for the first write
 * (and compares against its data), the second write waits for the ATS, the
 * unrelated write goes straight through. */
START_TEST(caw_atomic_against_writes)
{
	uint8_t c[16];
	struct tt *w1, *ats, *w2, *w3, *rd;
	uint32_t held, waiting;

	SM->hold = true;
	SM->nlog = 0;
	rw16(c, 0x8a, 10, 2);
	w1 = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 1024);
	memset(w1->t.buf, 'W', 1024);
	tt_start(w1);
	ck_assert_int_eq(SM->nheld, 1);

	ats = caw(0, 11, 1, 512, 'W', 'T');
	tt_start(ats);
	ck_assert_int_eq(SM->nheld, 1);                 /* no read yet: queued */
	ck_assert_int_eq(ats->completions, 0);

	rw16(c, 0x8a, 11, 1);
	w2 = tt_new(ITN2, 0, c, 16, SCSI_DIR_WRITE, 512);
	memset(w2->t.buf, '2', 512);
	tt_start(w2);
	ck_assert_int_eq(SM->nheld, 1);                 /* behind the ATS (FIFO) */

	rw16(c, 0x8a, 500, 1);
	w3 = tt_new(ITN2, 0, c, 16, SCSI_DIR_WRITE, 512);
	memset(w3->t.buf, '3', 512);
	tt_start(w3);
	ck_assert_int_eq(SM->nheld, 2);                 /* unrelated range: not blocked */
	scsi_range_lock_counts(&scsi_target_find_lun(TGT, 0)->rlock, &held, &waiting);
	ck_assert_uint_eq(held, 2);
	ck_assert_uint_eq(waiting, 2);

	/* reads are not ordered by the lock */
	SM->hold = false;
	rw16(c, 0x88, 11, 1);
	rd = run_cdb(ITN, 0, c, 16, SCSI_DIR_READ, 512);
	CHECK_GOOD(rd);
	tt_free(rd);
	SM->hold = true;

	slow_release(SB, 1);                            /* w3 */
	pump(10);
	ck_assert_int_eq(w3->completions, 1);
	ck_assert_int_eq(ats->completions, 0);

	slow_release(SB, 0);                            /* w1: ATS read starts */
	pump(10);
	ck_assert_int_eq(w1->completions, 1);
	ck_assert_int_eq(SM->nheld, 1);
	ck_assert_int_eq(SM->held[0]->type, BDEV_IO_READ);
	slow_release(SB, 0);                            /* ATS read; write follows */
	pump(10);
	ck_assert_int_eq(SM->nheld, 1);
	ck_assert_int_eq(SM->held[0]->type, BDEV_IO_WRITE);
	ck_assert_int_eq(w2->completions, 0);
	slow_release(SB, 0);                            /* ATS write; w2 may go */
	pump(10);
	ck_assert_int_eq(ats->completions, 1);
	CHECK_GOOD(ats);
	ck_assert_int_eq(SM->nheld, 1);
	slow_release(SB, 0);
	pump(10);
	ck_assert_int_eq(w2->completions, 1);
	CHECK_GOOD(w2);
	ck_assert(all(SM, 512, 10, 1, 'W'));
	ck_assert(all(SM, 512, 11, 1, '2'));
	ck_assert(all(SM, 512, 500, 1, '3'));
	scsi_range_lock_counts(&scsi_target_find_lun(TGT, 0)->rlock, &held, &waiting);
	ck_assert_uint_eq(held, 0);
	ck_assert_uint_eq(waiting, 0);
	SM->hold = false;
	tt_free(w1);
	tt_free(ats);
	tt_free(w2);
	tt_free(w3);
}
END_TEST

/* Two ATS on the same block: the second sees the first one's result. */
START_TEST(caw_vs_caw)
{
	struct tt *a, *b;

	fill(SM, 512, 42, 1, 0);
	SM->hold = true;
	a = caw(0, 42, 1, 512, 0, 1);
	b = caw(0, 42, 1, 512, 0, 1);
	tt_start(a);
	tt_start(b);
	ck_assert_int_eq(SM->nheld, 1);
	while (SM->nheld) {
		slow_release(SB, 0);
		pump(10);
	}
	ck_assert_int_eq(a->completions, 1);
	ck_assert_int_eq(b->completions, 1);
	CHECK_GOOD(a);
	CHECK_SENSE(b, SK_MISCOMPARE, 0x1d, 0x00);
	ck_assert(all(SM, 512, 42, 1, 1));
	SM->hold = false;
	tt_free(a);
	tt_free(b);
}
END_TEST

/* ---------------------------------------------------------------- WRITE SAME */

START_TEST(write_same_patterns)
{
	uint8_t c[16];
	struct tt *x;

	/* nonzero pattern over 3000 blocks (more than one 1 MiB chunk) */
	ws_cdb(c, false, 0, 100, 3000);
	x = tt_new(ITN, 0, c, 10, SCSI_DIR_WRITE, 512);
	for (int i = 0; i < 512; i++)
		x->t.buf[i] = (uint8_t)(i * 7 + 1);
	SM->nlog = 0;
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	uint8_t want[512];
	for (int i = 0; i < 512; i++)
		want[i] = (uint8_t)(i * 7 + 1);
	for (uint32_t b = 100; b < 3100; b++)
		ck_assert_msg(memcmp(SM->data + b * 512, want, 512) == 0, "block %u", b);
	ck_assert_int_eq(SM->data[99 * 512], 0);
	ck_assert_int_eq(SM->data[3100 * 512], 0);
	ck_assert_int_eq(SM->nlog, 2);                  /* 1 MiB + the rest */
	ck_assert_uint_eq(SM->log[0].len, 1u << 20);

	/* zero block + UNMAP: one deallocation */
	SM->nlog = 0;
	ws_cdb(c, true, 0x08, 200, 1000);
	x = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 512);
	memset(x->t.buf, 0, 512);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM->nlog, 1);
	ck_assert_int_eq(SM->log[0].type, BDEV_IO_UNMAP);
	ck_assert(all(SM, 512, 200, 1000, 0));
	ck_assert_int_ne(SM->data[199 * 512], 0);

	/* zero block without UNMAP: write zeroes (stays mapped) */
	SM->nlog = 0;
	ws_cdb(c, false, 0, 1500, 10);
	x = tt_new(ITN, 0, c, 10, SCSI_DIR_WRITE, 512);
	memset(x->t.buf, 0, 512);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM->log[0].type, BDEV_IO_WRITE_ZEROES);
	ck_assert(all(SM, 512, 1500, 10, 0));

	/* NDOB: zeroes without data-out */
	fill(SM, 512, 4000, 4, 0x77);
	SM->nlog = 0;
	ws_cdb(c, true, 0x01, 4000, 4);
	x = run_cdb(ITN, 0, c, 16, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(all(SM, 512, 4000, 4, 0));

	/* write-through LUN: zeroing is followed by a flush */
	SM2->nlog = 0;
	ws_cdb(c, true, 0x00, 0, 8);
	x = tt_new(ITN, 1, c, 16, SCSI_DIR_WRITE, 4096);
	memset(x->t.buf, 0, 4096);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM2->nlog, 2);
	ck_assert_int_eq(SM2->log[1].type, BDEV_IO_FLUSH);
}
END_TEST

START_TEST(write_same_bounds)
{
	uint8_t c[16];
	struct tt *x;

	struct { bool ws16; uint8_t flags; uint64_t lba; uint32_t n; uint32_t edtl; uint8_t sk, asc; } cases[] = {
		{ false, 0x00, 0, 0, 512, SK_ILLEGAL_REQUEST, 0x24 },           /* WSNZ */
		{ true, 0x00, 0, 0, 512, SK_ILLEGAL_REQUEST, 0x24 },
		{ false, 0x00, NB + 1, 0, 512, SK_ILLEGAL_REQUEST, 0x21 },      /* 0 blocks past the end */
		{ false, 0x00, 0xffffffffu, 0, 512, SK_ILLEGAL_REQUEST, 0x21 },
		{ true, 0x00, UINT64_MAX, 1, 512, SK_ILLEGAL_REQUEST, 0x21 },
		{ false, 0x00, NB - 1, 2, 512, SK_ILLEGAL_REQUEST, 0x21 },
		{ true, 0x00, 0, 0x10000, 512, SK_ILLEGAL_REQUEST, 0x24 },     /* > MAX WS LEN */
		{ false, 0x10, 0, 1, 512, SK_ILLEGAL_REQUEST, 0x24 },           /* ANCHOR */
		{ false, 0x18, 0, 1, 512, SK_ILLEGAL_REQUEST, 0x24 },           /* ANCHOR + UNMAP */
		{ false, 0x20, 0, 1, 512, SK_ILLEGAL_REQUEST, 0x24 },           /* WRPROTECT */
		{ false, 0x02, 0, 1, 512, SK_ILLEGAL_REQUEST, 0x24 },           /* LBDATA */
		{ false, 0x01, 0, 1, 512, SK_ILLEGAL_REQUEST, 0x24 },           /* NDOB in (10) */
		{ true, 0x08, 0, 1, 256, SK_ILLEGAL_REQUEST, 0x24 },            /* short data-out */
		{ true, 0x08, 0, 1, 1024, SK_ILLEGAL_REQUEST, 0x24 },           /* long data-out */
		{ true, 0x01, 0, 1, 512, SK_ILLEGAL_REQUEST, 0x24 },            /* NDOB with data */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ws_cdb(c, cases[i].ws16, cases[i].flags, cases[i].lba, cases[i].n);
		x = tt_new(ITN, 0, c, cases[i].ws16 ? 16 : 10, SCSI_DIR_WRITE, cases[i].edtl);
		memset(x->t.buf, 0, 4096);
		tt_run(x);
		ck_assert_msg(x->t.status == SCSI_STATUS_CHECK_CONDITION && x->t.sense[2] == cases[i].sk &&
			      x->t.sense[12] == cases[i].asc, "case %zu: status %02x sense %x/%02x", i, x->t.status,
			      x->t.sense[2], x->t.sense[12]);
		tt_free(x);
	}
	/* UNMAP bit where the LUN cannot unmap */
	ws_cdb(c, false, 0x08, 0, 1);
	x = tt_new(ITN, 1, c, 10, SCSI_DIR_WRITE, 4096);
	memset(x->t.buf, 0, 4096);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* 256 blocks with WRITE SAME(10): 2-byte lengths work */
	ws_cdb(c, false, 0, NB - 256, 256);
	x = tt_new(ITN, 0, c, 10, SCSI_DIR_WRITE, 512);
	memset(x->t.buf, 0xab, 512);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(all(SM, 512, NB - 256, 256, 0xab));
}
END_TEST

/* ---------------------------------------------------------------- UNMAP */

static void desc(uint8_t *p, int i, uint64_t lba, uint32_t n)
{
	put_be64(&p[8 + 16 * i], lba);
	put_be32(&p[8 + 16 * i + 8], n);
	memset(&p[8 + 16 * i + 12], 0, 4);
}

START_TEST(unmap_parser)
{
	uint8_t p[8 + 16 * 8];
	uint32_t n;
	uint16_t f;

	memset(p, 0, sizeof(p));
	/* shorter than the header */
	ck_assert_int_eq(scsi_unmap_parse(p, 0, NB, 4, 100, &n, &f), -1);
	ck_assert_int_eq(scsi_unmap_parse(p, 7, NB, 4, 100, &n, &f), -1);
	/* header only */
	ck_assert_int_eq(scsi_unmap_parse(p, 8, NB, 4, 100, &n, &f), 0);
	ck_assert_uint_eq(n, 0);
	/* two descriptors */
	put_be16(&p[0], 6 + 32);
	put_be16(&p[2], 32);
	desc(p, 0, 0, 8);
	desc(p, 1, NB - 8, 8);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), 0);
	ck_assert_uint_eq(n, 2);
	/* truncated by the parameter list length: only what arrived */
	ck_assert_int_eq(scsi_unmap_parse(p, 30, NB, 4, 100, &n, &f), 0);
	ck_assert_uint_eq(n, 1);
	/* descriptor data length not a multiple of 16 */
	put_be16(&p[2], 20);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), 0);
	ck_assert_uint_eq(n, 1);
	/* block descriptor data length larger than the list */
	put_be16(&p[2], 0xfff0);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), 0);
	ck_assert_uint_eq(n, 2);
	/* too many descriptors */
	put_be16(&p[2], 16 * 5);
	for (int i = 0; i < 5; i++)
		desc(p, i, (uint64_t)i, 1);
	ck_assert_int_eq(scsi_unmap_parse(p, 8 + 16 * 5, NB, 4, 100, &n, &f), -2);
	ck_assert_uint_eq(f, 2);
	/* too many blocks in descriptor 1 */
	put_be16(&p[2], 32);
	desc(p, 1, 0, 101);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), -2);
	ck_assert_uint_eq(f, 8 + 16 + 8);
	/* MAXIMUM UNMAP LBA COUNT is per command: two descriptors at the limit
	 * are over it, at the second one's count (review, session 15) */
	desc(p, 0, 0, 100);
	desc(p, 1, 200, 100);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), -2);
	ck_assert_uint_eq(f, 8 + 16 + 8);
	desc(p, 0, 0, 60);
	desc(p, 1, 200, 40);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), 0);
	ck_assert_uint_eq(n, 2);
	desc(p, 0, 0, 1);
	/* beyond the end, and wrapping LBAs */
	desc(p, 1, NB - 1, 2);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), -3);
	desc(p, 1, UINT64_MAX, 2);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), -3);
	desc(p, 1, NB + 1, 0);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), -3);
	/* zero blocks at the end of the LUN is fine */
	desc(p, 1, NB, 0);
	ck_assert_int_eq(scsi_unmap_parse(p, 40, NB, 4, 100, &n, &f), 0);
	/* every byte pattern of a short list: never a crash */
	for (uint32_t len = 0; len < sizeof(p); len++) {
		for (int v = 0; v < 256; v += 17) {
			memset(p, v, sizeof(p));
			(void)scsi_unmap_parse(p, len, NB, 4, 100, &n, &f);
			ck_assert_uint_le(8 + 16 * n, len < 8 ? 8 : len);
		}
	}
}
END_TEST

static struct tt *unmap_cmd(uint64_t lun, uint8_t flags, const uint8_t *param, uint16_t plen, uint32_t edtl)
{
	uint8_t c[10] = { 0x42, flags };
	struct tt *x;

	put_be16(&c[7], plen);
	x = tt_new(ITN, lun, c, 10, edtl ? SCSI_DIR_WRITE : SCSI_DIR_NONE, edtl);
	if (param)
		memcpy(x->t.buf, param, edtl);
	tt_run(x);
	return x;
}

START_TEST(unmap_command)
{
	uint8_t p[8 + 16 * 4];
	struct tt *x;

	fill(SM, 512, 0, 64, 0x55);
	memset(p, 0, sizeof(p));
	put_be16(&p[0], 6 + 48);
	put_be16(&p[2], 48);
	desc(p, 0, 0, 8);
	desc(p, 1, 16, 0);
	desc(p, 2, 32, 4);
	SM->nlog = 0;
	x = unmap_cmd(0, 0, p, 56, 56);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(SM->nlog, 2);
	ck_assert(all(SM, 512, 0, 8, 0));
	ck_assert(all(SM, 512, 8, 24, 0x55));
	ck_assert(all(SM, 512, 32, 4, 0));
	ck_assert(all(SM, 512, 36, 28, 0x55));

	/* PARAMETER LIST LENGTH 0: nothing */
	x = unmap_cmd(0, 0, NULL, 0, 0);
	CHECK_GOOD(x);
	tt_free(x);
	/* 1..7 bytes: PARAMETER LIST LENGTH ERROR */
	x = unmap_cmd(0, 0, p, 4, 4);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* ANCHOR */
	x = unmap_cmd(0, 0x01, p, 56, 56);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* a bad descriptor leaves everything mapped */
	fill(SM, 512, 0, 64, 0x66);
	desc(p, 2, NB - 2, 4);
	x = unmap_cmd(0, 0, p, 56, 56);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	ck_assert(all(SM, 512, 0, 64, 0x66));
	desc(p, 2, 0, (1u << 20) + 1);
	x = unmap_cmd(0, 0, p, 56, 56);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[15] & 0xc0, 0x80);  /* SKSV, C/D = parameter list */
	ck_assert_int_eq(get_be16(&x->t.sense[16]), 8 + 32 + 8);
	tt_free(x);
	/* the LUN without unmap: the command is not there (LBPU=0) */
	x = unmap_cmd(1, 0, NULL, 0, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x20, 0x00);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- GET LBA STATUS */

static struct tt *get_lba_status(uint64_t lun, uint64_t lba, uint32_t alloc)
{
	uint8_t c[16] = { 0x9e, 0x12 };
	put_be64(&c[2], lba);
	put_be32(&c[10], alloc);
	return run_cdb(ITN, lun, c, 16, SCSI_DIR_READ, alloc);
}

START_TEST(lba_status_sparse_file)
{
	char path[] = "/tmp/tandem-vaai-test-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);

	struct tconf_lun conf;
	char err[256] = "";
	memset(&conf, 0, sizeof(conf));
	conf.lun = 7;
	conf.backend = TCONF_BACKEND_FILEIO;
	snprintf(conf.path, sizeof(conf.path), "%s", path);
	conf.size = 4 << 20;            /* 8192 blocks of 512 */
	conf.create = true;
	conf.block_size = 512;
	conf.cache = TCONF_CACHE_WRITE_BACK;
	harness_identity(&conf);
	ck_assert_msg(scsi_target_add_lun(TGT, &conf, err, sizeof(err)) == 0, "%s", err);
	clear_ua(ITN, 7);
	if (!scsi_target_find_lun(TGT, 7)->bdev->can_unmap) {
		/* /tmp without punch hole: nothing to test here */
		ck_assert_int_eq(scsi_target_remove_lun(TGT, 7), 0);
		unlink(path);
		return;
	}

	uint8_t c[16];
	struct tt *x;
	/* map blocks 0..15 and 4096..4103 */
	rw16(c, 0x8a, 0, 16);
	x = tt_new(ITN, 7, c, 16, SCSI_DIR_WRITE, 16 * 512);
	memset(x->t.buf, 0x11, 16 * 512);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	rw16(c, 0x8a, 4096, 8);
	x = tt_new(ITN, 7, c, 16, SCSI_DIR_WRITE, 8 * 512);
	memset(x->t.buf, 0x22, 8 * 512);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);

	x = get_lba_status(7, 0, 8 + 16 * 8);
	CHECK_GOOD(x);
	const uint8_t *d = x->t.buf;
	ck_assert_uint_eq(get_be32(&d[0]), 4 + 16 * 4);
	ck_assert_uint_eq(get_be64(&d[8]), 0);
	ck_assert_uint_eq(get_be32(&d[16]), 16);
	ck_assert_int_eq(d[20] & 0x0f, 0);              /* mapped */
	ck_assert_uint_eq(get_be64(&d[24]), 16);
	ck_assert_uint_eq(get_be32(&d[32]), 4096 - 16);
	ck_assert_int_eq(d[36] & 0x0f, 1);              /* deallocated */
	ck_assert_uint_eq(get_be64(&d[40]), 4096);
	ck_assert_uint_eq(get_be32(&d[48]), 8);
	ck_assert_int_eq(d[52] & 0x0f, 0);
	ck_assert_uint_eq(get_be64(&d[56]), 4104);
	ck_assert_uint_eq(get_be32(&d[64]), NB - 4104);
	ck_assert_int_eq(d[68] & 0x0f, 1);
	tt_free(x);

	/* starting inside a hole; allocation length for one descriptor */
	x = get_lba_status(7, 100, 24);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 24);
	ck_assert_uint_eq(get_be64(&x->t.buf[8]), 100);
	ck_assert_uint_eq(get_be32(&x->t.buf[16]), 4096 - 100);
	ck_assert_int_eq(x->t.buf[20], 1);
	tt_free(x);

	/* UNMAP one physical block (8 LBAs): that part becomes deallocated */
	uint8_t p[24] = { 0 };
	put_be16(&p[0], 22);
	put_be16(&p[2], 16);
	desc(p, 0, 8, 8);
	x = unmap_cmd(7, 0, p, 24, 24);
	CHECK_GOOD(x);
	tt_free(x);
	x = get_lba_status(7, 0, 8 + 16 * 2);
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(&x->t.buf[16]), 8);
	ck_assert_int_eq(x->t.buf[20], 0);
	ck_assert_uint_eq(get_be64(&x->t.buf[24]), 8);
	ck_assert_uint_eq(get_be32(&x->t.buf[32]), 4096 - 8);
	ck_assert_int_eq(x->t.buf[36], 1);
	tt_free(x);
	/* read back zeroes (LBPRZ) */
	rw16(c, 0x88, 8, 8);
	x = run_cdb(ITN, 7, c, 16, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(x->t.buf[i], 0);
	tt_free(x);

	/* beyond the end */
	x = get_lba_status(7, NB, 24);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	x = get_lba_status(7, UINT64_MAX, 24);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	/* last block */
	x = get_lba_status(7, NB - 1, 24);
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(&x->t.buf[16]), 1);
	tt_free(x);

	ck_assert_int_eq(scsi_target_remove_lun(TGT, 7), 0);
	unlink(path);
}
END_TEST

/* Memory backend: everything mapped. */
START_TEST(lba_status_no_map)
{
	struct tt *x = get_lba_status(0, 10, 24);
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(&x->t.buf[0]), 20);
	ck_assert_uint_eq(get_be64(&x->t.buf[8]), 10);
	ck_assert_uint_eq(get_be32(&x->t.buf[16]), NB - 10);
	ck_assert_int_eq(x->t.buf[20], 0);
	tt_free(x);
	x = get_lba_status(0, 10, 0);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);
}
END_TEST

static Suite *vaai_suite(void)
{
	Suite *s = suite_create("scsi_vaai");
	TCase *tc;

	tc = tcase_create("vpd");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, vpd_pages);
	tcase_add_test(tc, report_opcodes_lists_vaai);
	suite_add_tcase(s, tc);

	tc = tcase_create("compare_and_write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, caw_match_and_miscompare);
	tcase_add_test(tc, caw_bounds);
	tcase_add_test(tc, caw_atomic_against_writes);
	tcase_add_test(tc, caw_vs_caw);
	suite_add_tcase(s, tc);

	tc = tcase_create("write_same");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_same_patterns);
	tcase_add_test(tc, write_same_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("unmap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unmap_parser);
	tcase_add_test(tc, unmap_command);
	suite_add_tcase(s, tc);

	tc = tcase_create("lba_status");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lba_status_sparse_file);
	tcase_add_test(tc, lba_status_no_map);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vaai_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of ORWRITE(16) (SBC-3 5.11, orwrite.c): the OR of data-out into
 * the medium, CDB checks (ORPROTECT, reserved bits, ranges, zero length),
 * write protection, FUA under write-back, atomicity against an overlapping
 * WRITE with backend completions held back, and REPORT SUPPORTED OPERATION
 * CODES. */
#include "scsi_test_harness.h"

#define NB 4096u

/* Memory backend that can hold completions back and applies a write only
 * when it completes (so an interleaving would be visible). */
struct hold_priv {
	uint8_t *data;                  /* first member: harness_medium_close */
	bool hold;
	struct bdev_io *held[64];
	int nheld;
	unsigned writes, fua, reads;
};

static void hold_apply(struct bdev *b, struct bdev_io *io)
{
	struct hold_priv *m = b->priv;

	if (io->type == BDEV_IO_READ) {
		memcpy(io->iov[0].iov_base, m->data + io->offset, io->len);
		m->reads++;
	} else if (io->type == BDEV_IO_WRITE) {
		memcpy(m->data + io->offset, io->iov[0].iov_base, io->len);
		m->writes++;
		if (io->flags & BDEV_IO_F_FUA)
			m->fua++;
	}
	bdev_complete_later(io, 0);
}

static void hold_submit(struct bdev *b, struct bdev_io *io)
{
	struct hold_priv *m = b->priv;

	if (m->hold) {
		ck_assert_int_lt(m->nheld, 64);
		m->held[m->nheld++] = io;
		return;
	}
	hold_apply(b, io);
}

static void hold_release_first(struct bdev *b)
{
	struct hold_priv *m = b->priv;
	struct bdev_io *io;

	ck_assert_int_gt(m->nheld, 0);
	io = m->held[0];
	memmove(&m->held[0], &m->held[1], sizeof(m->held[0]) * (size_t)(m->nheld - 1));
	m->nheld--;
	hold_apply(b, io);
}

static const struct bdev_ops hold_ops = { .name = "hold", .close = harness_medium_close, .submit = hold_submit };

static struct bdev *HB;
static struct hold_priv *HM;

static struct hold_priv *hold_attach(uint32_t lun, uint32_t bs, enum tconf_cache cache, bool readonly,
				     struct bdev **out)
{
	struct hold_priv *m = calloc(1, sizeof(*m));
	struct bdev *b;

	ck_assert_ptr_nonnull(m);
	b = harness_attach(TGT, &(struct harness_lun){ .lun = lun, .nblocks = NB, .bs = bs, .cache = cache,
						       .readonly = readonly, .ops = &hold_ops, .priv = m,
						       .name = "hold" },
			   &m->data);
	if (out)
		*out = b;
	return m;
}

/* LUN 0: 512-byte blocks, write-back. LUN 1: 4096, write-through. LUN 2: read-only. */
static struct hold_priv *HM1;
static void setup(void)
{
	harness_start();
	HM = hold_attach(0, 512, TCONF_CACHE_WRITE_BACK, false, &HB);
	HM1 = hold_attach(1, 4096, TCONF_CACHE_WRITE_THROUGH, false, NULL);
	hold_attach(2, 512, TCONF_CACHE_WRITE_BACK, true, NULL);
	harness_nexus();
	for (uint64_t l = 0; l < 3; l++)
		clear_ua(ITN, l);
}

static void teardown(void)
{
	harness_stop();
}

static void pump(int n)
{
	for (int i = 0; i < n; i++)
		reactor_poll_once(R, 0);
}

static void orw_cdb(uint8_t *c, uint8_t flags, uint64_t lba, uint32_t n)
{
	memset(c, 0, 16);
	c[0] = 0x8b;
	c[1] = flags;
	put_be64(&c[2], lba);
	put_be32(&c[10], n);
}

static struct tt *orw_new(uint64_t lun, uint8_t flags, uint64_t lba, uint32_t n, uint32_t bs, uint8_t fill)
{
	uint8_t c[16];
	struct tt *x;

	orw_cdb(c, flags, lba, n);
	x = tt_new(ITN, lun, c, 16, n ? SCSI_DIR_WRITE : SCSI_DIR_NONE, n * bs);
	memset(x->t.buf, fill, (size_t)n * bs);
	return x;
}

static void orw(uint64_t lun, uint8_t flags, uint64_t lba, uint32_t n, uint32_t bs, uint8_t fill)
{
	struct tt *x = orw_new(lun, flags, lba, n, bs, fill);
	tt_run(x);
	CHECK_GOOD(x);
	ck_assert_uint_eq(x->t.data_len, n * bs);
	tt_free(x);
}

static bool all(const struct hold_priv *m, uint32_t bs, uint64_t lba, uint32_t n, uint8_t v)
{
	for (size_t i = 0; i < (size_t)n * bs; i++)
		if (m->data[lba * bs + i] != v)
			return false;
	return true;
}

START_TEST(orwrite_ors_data)
{
	memset(HM->data + 10 * 512, 0x00, 4 * 512);
	orw(0, 0, 10, 4, 512, 0xa5);
	ck_assert(all(HM, 512, 10, 4, 0xa5));
	orw(0, 0, 10, 4, 512, 0x5a);
	ck_assert(all(HM, 512, 10, 4, 0xff));
	/* neighbours untouched */
	ck_assert(all(HM, 512, 9, 1, 0x00));
	ck_assert(all(HM, 512, 14, 1, 0x00));

	/* mixed bits, 4096-byte LUN, at the very end */
	memset(HM1->data + (NB - 2) * 4096ull, 0x0f, 2 * 4096);
	orw(1, 0, NB - 2, 2, 4096, 0x30);
	ck_assert(all(HM1, 4096, NB - 2, 2, 0x3f));
	/* write-through LUN: the write is durable (FUA) */
	ck_assert_uint_ge(HM1->fua, 1);
}
END_TEST

START_TEST(orwrite_cdb_checks)
{
	struct tt *x;

	/* ORPROTECT 1..7 without protection information */
	for (uint8_t p = 1; p < 8; p++) {
		x = orw_new(0, (uint8_t)(p << 5), 0, 1, 512, 0);
		tt_run(x);
		CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
		tt_free(x);
	}
	/* reserved bits 2 and 0 of byte 1, reserved bits of byte 14 */
	x = orw_new(0, 0x04, 0, 1, 512, 0);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	x = orw_new(0, 0x01, 0, 1, 512, 0);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	x = orw_new(0, 0, 0, 1, 512, 0);
	x->t.cdb[14] = 0x80;
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* DPO, FUA, FUA_NV are accepted */
	orw(0, 0x10 | 0x08 | 0x02, 0, 1, 512, 0);
}
END_TEST

START_TEST(orwrite_ranges)
{
	struct tt *x;
	const uint64_t bad[] = { NB, NB + 1, 0x8000000000000000ull, UINT64_MAX };

	/* beyond the end, one block */
	x = orw_new(0, 0, NB - 1, 2, 512, 0);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = orw_new(0, 0, bad[i], 1, 512, 0);
		tt_run(x);
		CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
		tt_free(x);
	}
	/* zero blocks: GOOD at 0 and at the capacity, LBA OUT OF RANGE past it */
	x = orw_new(0, 0, 0, 0, 512, 0);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	x = orw_new(0, 0, NB, 0, 512, 0);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	x = orw_new(0, 0, NB + 1, 0, 512, 0);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x21, 0x00);
	tt_free(x);
	/* read-only LUN */
	x = orw_new(2, 0, 0, 1, 512, 0);
	tt_run(x);
	CHECK_SENSE(x, SK_DATA_PROTECT, 0x27, 0x00);
	tt_free(x);
}
END_TEST

START_TEST(orwrite_fua_write_back)
{
	unsigned fua0 = HM->fua, w0 = HM->writes;

	orw(0, 0, 20, 1, 512, 1);
	ck_assert_uint_eq(HM->writes, w0 + 1);
	ck_assert_uint_eq(HM->fua, fua0);               /* WCE=1: no FUA */
	orw(0, 0x08, 20, 1, 512, 2);
	ck_assert_uint_eq(HM->fua, fua0 + 1);           /* FUA bit */
	ck_assert(all(HM, 512, 20, 1, 3));
}
END_TEST

/* A WRITE overlapping an ORWRITE whose read is held must not land between
 * its read and its write: the WRITE's data is what remains. */
START_TEST(orwrite_atomic_against_write)
{
	uint8_t c[16];
	struct tt *o, *w;

	memset(HM->data + 100 * 512, 0x01, 2 * 512);
	HM->hold = true;
	o = orw_new(0, 0, 100, 2, 512, 0x10);
	reactor_post(R, tt_exec_fn, &o->t);
	pump(5);
	ck_assert_int_eq(HM->nheld, 1);                 /* ORWRITE's read */
	memset(c, 0, 16);
	c[0] = 0x8a;
	put_be64(&c[2], 101);
	put_be32(&c[10], 1);
	w = tt_new(ITN, 0, c, 16, SCSI_DIR_WRITE, 512);
	memset(w->t.buf, 0x80, 512);
	reactor_post(R, tt_exec_fn, &w->t);
	pump(5);
	ck_assert_int_eq(HM->nheld, 1);                 /* the WRITE waits for the range */
	hold_release_first(HB);                          /* read completes: OR, write submitted */
	pump(5);
	ck_assert_int_eq(HM->nheld, 1);
	ck_assert_int_eq(o->completions, 0);
	hold_release_first(HB);                          /* ORWRITE's write */
	for (int i = 0; i < 20 && o->completions == 0; i++)
		reactor_poll_once(R, 1);
	ck_assert_int_eq(o->completions, 1);
	CHECK_GOOD(o);
	pump(5);
	ck_assert_int_eq(HM->nheld, 1);                 /* now the WRITE */
	hold_release_first(HB);
	for (int i = 0; i < 20 && w->completions == 0; i++)
		reactor_poll_once(R, 1);
	ck_assert_int_eq(w->completions, 1);
	CHECK_GOOD(w);
	HM->hold = false;
	ck_assert(all(HM, 512, 100, 1, 0x11));
	ck_assert(all(HM, 512, 101, 1, 0x80));
	tt_free(o);
	tt_free(w);
}
END_TEST

START_TEST(orwrite_report_opcodes)
{
	uint8_t c[12] = { 0xa3, 0x0c, 0x01, 0x8b };
	put_be32(&c[6], 64);
	struct tt *x = run_cdb(ITN, 0, c, 12, SCSI_DIR_READ, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[1] & 0x07, 3);        /* supported */
	ck_assert_int_eq(get_be16(&x->t.buf[2]), 16);   /* CDB size */
	ck_assert_int_eq(x->t.buf[4], 0x8b);
	ck_assert_int_eq(x->t.buf[5] & 0x18, 0x18);     /* DPO/FUA usable (libiscsi OrWrite.DpoFua) */
	tt_free(x);
}
END_TEST

static Suite *orwrite_suite(void)
{
	Suite *s = suite_create("scsi_orwrite");
	TCase *tc = tcase_create("orwrite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, orwrite_ors_data);
	tcase_add_test(tc, orwrite_cdb_checks);
	tcase_add_test(tc, orwrite_ranges);
	tcase_add_test(tc, orwrite_fua_write_back);
	tcase_add_test(tc, orwrite_atomic_against_write);
	tcase_add_test(tc, orwrite_report_opcodes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(orwrite_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

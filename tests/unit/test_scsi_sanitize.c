/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of SANITIZE (SBC-3 5.20, sanitize.c): CDB and parameter list
 * checks, the OVERWRITE pattern / count / invert over the whole LUN with a
 * flush after each pass, BLOCK ERASE as UNMAP or WRITE_ZEROES, IMMED, the
 * NOT READY / SANITIZE IN PROGRESS state with progress (commands and REQUEST
 * SENSE) while backend completions are held back, an aborted IMMED=0 command
 * leaving while the operation goes on, the failure mode with AUSE, write
 * protection, and what REPORT SUPPORTED OPERATION CODES / VPD B1h say. */
#include "scsi_test_harness.h"
#include "scsi/scsi_pr.h"

#define NB 2048u                    /* 1 MiB at 512 bytes: several chunks */

struct hold_priv {
	uint8_t *data;                  /* first member: harness_medium_close */
	bool hold;
	int fail_status;                /* nonzero: every write/unmap completes with it */
	struct bdev_io *held[64];
	int nheld;
	struct bdev_io *records[8];     /* rep_ops: the LUN's records, held for the test */
	int nrecords;
	unsigned writes, flushes, unmaps, zeroes;
};

static void hold_apply(struct bdev *b, struct bdev_io *io)
{
	struct hold_priv *m = b->priv;
	int st = 0;

	if (m->fail_status && io->type != BDEV_IO_READ && io->type != BDEV_IO_FLUSH) {
		st = m->fail_status;
	} else {
		switch (io->type) {
		case BDEV_IO_READ:
			memcpy(io->iov[0].iov_base, m->data + io->offset, io->len);
			break;
		case BDEV_IO_WRITE:
			memcpy(m->data + io->offset, io->iov[0].iov_base, io->len);
			m->writes++;
			break;
		case BDEV_IO_UNMAP:
			memset(m->data + io->offset, 0, io->len);
			m->unmaps++;
			break;
		case BDEV_IO_WRITE_ZEROES:
			memset(m->data + io->offset, 0, io->len);
			m->zeroes++;
			break;
		case BDEV_IO_FLUSH:
			m->flushes++;
			break;
		case BDEV_IO_STATE:     /* a plain device carries no state */
			st = b->ops->state_attach ? 0 : -EOPNOTSUPP;
			break;
		}
	}
	bdev_complete_later(io, st);
}

static void hold_submit(struct bdev *b, struct bdev_io *io)
{
	struct hold_priv *m = b->priv;

	if (io->type == BDEV_IO_STATE && b->ops->state_attach) {
		ck_assert_int_lt(m->nrecords, 8);
		m->records[m->nrecords++] = io;
		return;
	}
	if (m->hold) {
		ck_assert_int_lt(m->nheld, 64);
		m->held[m->nheld++] = io;
		return;
	}
	hold_apply(b, io);
}

static void pump(int n)
{
	for (int i = 0; i < n; i++)
		reactor_poll_once(R, 0);
}

static void release_one(struct bdev *b)
{
	struct hold_priv *m = b->priv;
	struct bdev_io *io;

	ck_assert_int_gt(m->nheld, 0);
	io = m->held[0];
	memmove(&m->held[0], &m->held[1], sizeof(m->held[0]) * (size_t)(m->nheld - 1));
	m->nheld--;
	hold_apply(b, io);
	pump(5);
}

/* Stop holding and let everything (including what it triggers) finish. */
static void release_all(struct bdev *b)
{
	struct hold_priv *m = b->priv;

	m->hold = false;
	while (m->nheld)
		release_one(b);
	for (int i = 0; i < 200; i++)
		reactor_poll_once(R, 1);
}

static const struct bdev_ops hold_ops = { .name = "hold", .close = harness_medium_close, .submit = hold_submit };

/* A replicated LUN's device as the SCSI layer sees it: it carries the LUN's
 * record (pr.c), takes new ones while this node is Primary (rep_writable),
 * and holds each record submitted until the test answers for the peer
 * (record_answer). */
static bool rep_writable;

static int rep_state_attach(struct bdev *b, const struct bdev_state_handler *h, void *arg)
{
	(void)b, (void)h, (void)arg;
	return 0;
}

static bool rep_state_writable(struct bdev *b)
{
	(void)b;
	return rep_writable;
}

static const struct bdev_ops rep_ops = { .name = "rep", .close = harness_medium_close, .submit = hold_submit,
					 .state_attach = rep_state_attach, .state_writable = rep_state_writable };

static struct bdev *B0, *B1, *B3;
static struct hold_priv *M0, *M1, *M3;

static struct hold_priv *dev_attach(uint32_t lun, uint32_t bs, bool can_unmap, bool readonly,
				    const struct bdev_ops *ops, struct bdev **out)
{
	struct hold_priv *m = calloc(1, sizeof(*m));
	struct bdev *b;

	ck_assert_ptr_nonnull(m);
	b = harness_attach(TGT, &(struct harness_lun){ .lun = lun, .nblocks = NB, .bs = bs,
						       .cache = TCONF_CACHE_WRITE_BACK, .readonly = readonly,
						       .can_unmap = can_unmap, .ops = ops, .priv = m,
						       .name = ops->name },
			   &m->data);
	if (out)
		*out = b;
	return m;
}

static struct hold_priv *hold_attach(uint32_t lun, uint32_t bs, bool can_unmap, bool readonly, struct bdev **out)
{
	return dev_attach(lun, bs, can_unmap, readonly, &hold_ops, out);
}

/* LUN 0: 512-byte blocks, thin. LUN 1: 4096, no unmap. LUN 2: read-only.
 * LUN 3: replicated (rep_ops), this node Primary. */
static void setup(void)
{
	harness_start();
	M0 = hold_attach(0, 512, true, false, &B0);
	M1 = hold_attach(1, 4096, false, false, &B1);
	hold_attach(2, 512, true, true, NULL);
	rep_writable = true;
	M3 = dev_attach(3, 512, true, false, &rep_ops, &B3);
	harness_nexus();
	for (uint64_t l = 0; l < 4; l++) {
		clear_ua(ITN, l);
		clear_ua(ITN2, l);
	}
}

static void teardown(void)
{
	harness_stop();
}

/* ---------------------------------------------------------------- helpers */

static struct tt *san_new(uint64_t lun, uint8_t byte1, uint16_t plen)
{
	uint8_t c[10] = { 0x48, byte1 };
	put_be16(&c[7], plen);
	return tt_new(ITN, lun, c, 10, plen ? SCSI_DIR_WRITE : SCSI_DIR_NONE, plen);
}

/* OVERWRITE parameter list: byte 0, pattern of ilen bytes of v (i-th byte v+i when ramp). */
static struct tt *ow_new(uint64_t lun, uint8_t byte1, uint8_t b0, uint16_t ilen, uint8_t v, bool ramp)
{
	struct tt *x = san_new(lun, byte1 | 0x01, (uint16_t)(ilen + 4));
	x->t.buf[0] = b0;
	x->t.buf[1] = 0;
	put_be16(&x->t.buf[2], ilen);
	for (uint16_t i = 0; i < ilen; i++)
		x->t.buf[4 + i] = ramp ? (uint8_t)(v + i) : v;
	return x;
}

static void expect_invalid(struct tt *x, uint8_t asc)
{
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, asc, 0x00);
	tt_free(x);
}

static struct tt *simple(uint64_t lun, uint8_t op)
{
	uint8_t c[16] = { op };
	uint8_t len = op >= 0x80 ? 16 : op >= 0x20 ? 10 : 6;
	enum scsi_dir dir = SCSI_DIR_NONE;
	uint32_t edtl = 0;

	if (op == 0x88) {               /* READ(16) of one block */
		put_be32(&c[10], 1);
		dir = SCSI_DIR_READ;
		edtl = 512;
	} else if (op == 0x12) {
		c[4] = 96;
		dir = SCSI_DIR_READ;
		edtl = 96;
	} else if (op == 0x03) {
		c[4] = 18;
		dir = SCSI_DIR_READ;
		edtl = 18;
	} else if (op == 0x1b) {
		c[4] = 0x01;
	}
	return run_cdb(ITN, lun, c, len, dir, edtl);
}

static void check_in_progress(struct tt *x)
{
	CHECK_SENSE(x, SK_NOT_READY, 0x04, 0x1b);
	ck_assert_int_eq(x->t.sense[15] & 0x80, 0x80);  /* SKSV: progress indication */
}

static bool all(const struct hold_priv *m, size_t off, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (m->data[off + i] != v)
			return false;
	return true;
}

/* ---------------------------------------------------------------- CDB checks */

START_TEST(sanitize_cdb_checks)
{
	/* service actions other than 01h, 02h, 1Fh; CRYPTOGRAPHIC ERASE (03h) too */
	for (uint8_t sa = 0; sa <= 0x1f; sa++) {
		if (sa == 1 || sa == 2 || sa == 0x1f)
			continue;
		expect_invalid(san_new(0, sa, 0), 0x24);
	}
	/* reserved bit 6 of byte 1, reserved bytes 2..6 */
	expect_invalid(san_new(0, 0x40 | 0x02, 0), 0x24);
	for (int i = 2; i <= 6; i++) {
		struct tt *x = san_new(0, 0x02, 0);
		x->t.cdb[i] = (uint8_t)i;
		expect_invalid(x, 0x24);
	}
	/* BLOCK ERASE / EXIT FAILURE MODE: PARAMETER LIST LENGTH must be 0 */
	expect_invalid(san_new(0, 0x02, 8), 0x24);
	expect_invalid(san_new(0, 0x1f, 8), 0x24);
	/* OVERWRITE: > 4 and < block length + 5 */
	for (uint16_t len = 0; len < 5; len++)
		expect_invalid(san_new(0, 0x01, len), 0x24);
	expect_invalid(san_new(0, 0x01, 512 + 5), 0x24);
	/* nothing was written */
	ck_assert_uint_eq(M0->writes + M0->unmaps + M0->zeroes, 0);
}
END_TEST

START_TEST(sanitize_param_checks)
{
	expect_invalid(ow_new(0, 0, 0x00, 512, 0xaa, false), 0x26);    /* OVERWRITE COUNT 0 */
	struct tt *z = ow_new(0, 0, 0x01, 4, 0xaa, false);
	put_be16(&z->t.buf[2], 0);                                    /* pattern length 0 */
	expect_invalid(z, 0x26);
	expect_invalid(ow_new(0, 0, 0x21, 4, 0xaa, false), 0x26);      /* TEST field */
	struct tt *x = ow_new(0, 0, 0x01, 4, 0xaa, false);
	x->t.buf[1] = 1;                                              /* reserved byte */
	expect_invalid(x, 0x26);
	/* pattern length beyond the block, or beyond the list */
	x = ow_new(0, 0, 0x01, 508, 0xaa, false);
	put_be16(&x->t.buf[2], 512 + 4);
	expect_invalid(x, 0x26);
	x = ow_new(0, 0, 0x01, 8, 0xaa, false);
	put_be16(&x->t.buf[2], 9);
	expect_invalid(x, 0x26);
	/* parameter data shorter than PARAMETER LIST LENGTH */
	x = ow_new(0, 0, 0x01, 8, 0xaa, false);
	x->t.edtl = 6;
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	ck_assert_uint_eq(M0->writes, 0);
}
END_TEST

START_TEST(sanitize_write_protected)
{
	struct tt *x = ow_new(2, 0, 0x01, 512, 0xaa, false);
	tt_run(x);
	CHECK_SENSE(x, SK_DATA_PROTECT, 0x27, 0x00);
	tt_free(x);
	x = san_new(2, 0x02, 0);
	tt_run(x);
	CHECK_SENSE(x, SK_DATA_PROTECT, 0x27, 0x00);
	tt_free(x);
	/* EXIT FAILURE MODE does not write: fine */
	x = san_new(2, 0x1f, 0);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- OVERWRITE */

START_TEST(sanitize_overwrite_pattern)
{
	struct tt *x;

	memset(M0->data, 'a', (size_t)NB * 512);
	/* full block of 0xaa, IMMED=0: done when GOOD */
	x = ow_new(0, 0, 0x01, 512, 0xaa, false);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(all(M0, 0, (size_t)NB * 512, 0xaa));
	ck_assert_uint_ge(M0->flushes, 1);              /* on stable storage */

	/* a 3-byte pattern restarts at every block: 0,1,2,0,1,2,...,(512 % 3 = 2) */
	x = ow_new(0, 0, 0x01, 3, 0x10, true);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	for (size_t blk = 0; blk < NB; blk += NB - 1)
		for (size_t i = 0; i < 512; i++)
			ck_assert_uint_eq(M0->data[blk * 512 + i], 0x10 + i % 3);

	/* INVERT with an even count: inverted first, the pattern last; one
	 * flush per pass */
	unsigned w0 = M0->writes, f0 = M0->flushes;
	x = ow_new(0, 0, 0x80 | 0x02, 4, 0x0f, false);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(all(M0, 0, (size_t)NB * 512, 0x0f));
	ck_assert_uint_eq(M0->flushes - f0, 2);
	ck_assert_uint_eq(M0->writes - w0, 2);          /* 1 MiB LUN = one chunk per pass */
	/* 4096-byte blocks, count 3 */
	x = ow_new(1, 0, 0x03, 4096, 0x77, false);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert(all(M1, 0, (size_t)NB * 4096, 0x77));
	ck_assert_uint_eq(M1->writes, 3 * 8);           /* 8 MiB in 1 MiB chunks, 3 passes */
}
END_TEST

/* With INVERT and an even count, the first pass writes the inverted pattern:
 * check it while the second pass is held. */
START_TEST(sanitize_overwrite_invert_passes)
{
	struct tt *x;

	M0->hold = true;
	x = ow_new(0, 0x80 /* IMMED */, 0x80 | 0x02, 4, 0x0f, false);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(M0->nheld, 1);                 /* 1 MiB: one write */
	release_one(B0);                                /* pass 1 data */
	ck_assert(all(M0, 0, (size_t)NB * 512, 0xf0));
	release_one(B0);                                /* pass 1 flush */
	ck_assert_int_eq(M0->nheld, 1);
	release_all(B0);
	ck_assert(all(M0, 0, (size_t)NB * 512, 0x0f));
}
END_TEST

/* ---------------------------------------------------------------- in progress */

START_TEST(sanitize_in_progress_state)
{
	struct tt *x;

	M1->hold = true;
	x = ow_new(1, 0x80, 0x01, 4, 0x55, false);     /* IMMED=1 */
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(M1->nheld, 4);                 /* SAN_INFLIGHT chunks */
	release_one(B1);
	release_one(B1);

	/* media and other commands: NOT READY, SANITIZE IN PROGRESS + progress */
	const uint8_t refused[] = { 0x00 /* TUR */, 0x88 /* READ16 */, 0x1b /* START STOP */, 0x35 /* SYNC CACHE */ };
	for (size_t i = 0; i < sizeof(refused); i++) {
		x = simple(1, refused[i]);
		check_in_progress(x);
		tt_free(x);
	}
	/* the other nexus too, and a second SANITIZE */
	uint8_t tur[6] = { 0 };
	x = run_cdb(ITN2, 1, tur, 6, SCSI_DIR_NONE, 0);
	check_in_progress(x);
	tt_free(x);
	x = san_new(1, 0x02, 0);
	tt_run(x);
	check_in_progress(x);
	tt_free(x);
	/* other LUNs are not affected */
	x = simple(0, 0x00);
	CHECK_GOOD(x);
	tt_free(x);
	/* INQUIRY and REQUEST SENSE work; REQUEST SENSE reports the progress */
	x = simple(1, 0x12);
	CHECK_GOOD(x);
	tt_free(x);
	x = simple(1, 0x03);
	CHECK_GOOD(x);
	ck_assert_uint_eq(x->t.data_len, 18);
	ck_assert_int_eq(x->t.buf[2] & 0x0f, SK_NOT_READY);
	ck_assert_int_eq(x->t.buf[12], 0x04);
	ck_assert_int_eq(x->t.buf[13], 0x1b);
	ck_assert_int_eq(x->t.buf[15] & 0x80, 0x80);
	uint16_t prog = get_be16(&x->t.buf[16]);
	ck_assert_uint_eq(prog, 2 * 65536u / 8);        /* 2 of 8 chunks done */
	tt_free(x);

	release_all(B1);
	ck_assert(all(M1, 0, (size_t)NB * 4096, 0x55));
	x = simple(1, 0x00);
	CHECK_GOOD(x);
	tt_free(x);
	x = simple(1, 0x03);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[2] & 0x0f, SK_NO_SENSE);
	tt_free(x);
}
END_TEST

/* IMMED=0: the command stays outstanding; aborted, it leaves at the next
 * chunk and the operation carries on. */
START_TEST(sanitize_abort_continues)
{
	struct tt *x, *y;

	M1->hold = true;
	x = ow_new(1, 0, 0x01, 4, 0x66, false);
	reactor_post(R, tt_exec_fn, &x->t);
	pump(5);
	ck_assert_int_eq(x->completions, 0);
	ck_assert_int_eq(M1->nheld, 4);
	release_one(B1);
	ck_assert_int_eq(x->completions, 0);
	x->t.aborted = true;                            /* ABORT TASK / LUN RESET */
	release_one(B1);
	ck_assert_int_eq(x->completions, 1);
	y = simple(1, 0x00);
	check_in_progress(y);
	tt_free(y);
	/* a LUN reset does not stop it either */
	scsi_lun_reset(TGT, 1, ITN);
	clear_ua(ITN, 1);
	y = simple(1, 0x00);
	check_in_progress(y);
	tt_free(y);
	release_all(B1);
	ck_assert(all(M1, 0, (size_t)NB * 4096, 0x66));
	clear_ua(ITN, 1);
	y = simple(1, 0x00);
	CHECK_GOOD(y);
	tt_free(y);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- BLOCK ERASE */

START_TEST(sanitize_block_erase)
{
	struct tt *x;

	memset(M0->data, 'a', (size_t)NB * 512);
	memset(M1->data, 'a', (size_t)NB * 4096);
	x = san_new(0, 0x02, 0);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_uint_ge(M0->unmaps, 1);               /* thin, LBPRZ: deallocated */
	ck_assert_uint_eq(M0->zeroes, 0);
	ck_assert(all(M0, 0, (size_t)NB * 512, 0));
	x = san_new(1, 0x02, 0);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_uint_eq(M1->unmaps, 0);               /* no unmap: zeroed */
	ck_assert_uint_ge(M1->zeroes, 1);
	ck_assert(all(M1, 0, (size_t)NB * 4096, 0));
	/* reads work afterwards (WABEREQ=01b) */
	x = simple(0, 0x88);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- failure mode */

START_TEST(sanitize_failure_restricted)
{
	struct tt *x;

	M0->fail_status = -EIO;
	x = ow_new(0, 0, 0x01, 4, 0x11, false);        /* AUSE=0 */
	tt_run(x);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x31, 0x03);
	tt_free(x);
	M0->fail_status = 0;
	/* medium access: SANITIZE COMMAND FAILED; REQUEST SENSE says so */
	x = simple(0, 0x88);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x31, 0x03);
	tt_free(x);
	x = simple(0, 0x03);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[2] & 0x0f, SK_MEDIUM_ERROR);
	ck_assert_int_eq(x->t.buf[12], 0x31);
	ck_assert_int_eq(x->t.buf[13], 0x03);
	tt_free(x);
	/* restricted: no EXIT FAILURE MODE, no new operation with AUSE=1 */
	expect_invalid(san_new(0, 0x1f, 0), 0x24);
	expect_invalid(san_new(0, 0x20 | 0x02, 0), 0x24);
	x = simple(0, 0x88);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x31, 0x03);
	tt_free(x);
	/* a successful sanitize leaves the failure mode */
	x = san_new(0, 0x02, 0);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	x = simple(0, 0x88);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

/* A replicated LUN's node demoted under a SANITIZE (its writes complete
 * -ESTALE, BDEV_E_NOT_ACTIVE): the command answers NOT READY / ALUA
 * transition (the initiator retries on the new Primary), and the medium,
 * erased part way on both copies, is in sanitize failure mode, as the
 * promoted peer holds it from the LUN's record (pr.c); session 12 made it
 * idle, which served the half-erased medium as data after a failback. The
 * initiator's new SANITIZE ends the failure mode. */
START_TEST(sanitize_interrupted_by_demotion)
{
	struct tt *x;

	M0->fail_status = -ESTALE;
	x = ow_new(0, 0, 0x01, 4, 0x11, false);        /* AUSE=0 */
	tt_run(x);
	CHECK_SENSE(x, SK_NOT_READY, 0x04, 0x0a);
	tt_free(x);
	M0->fail_status = 0;                            /* Primary again */
	x = simple(0, 0x88);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x31, 0x03);
	tt_free(x);
	x = ow_new(0, 0, 0x01, 4, 0x11, false);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	x = simple(0, 0x88);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

/* Answer the oldest record the replicated LUN sent (the peer's
 * acknowledgement, or the error the replication layer gives). */
static void record_answer(struct hold_priv *m, int status)
{
	ck_assert_int_gt(m->nrecords, 0);
	struct bdev_io *io = m->records[0];
	memmove(&m->records[0], &m->records[1], sizeof(m->records[0]) * (size_t)(m->nrecords - 1));
	m->nrecords--;
	bdev_complete_later(io, status);
	pump(5);
}

/* An IMMED=0 OVERWRITE of LUN 3 with byte v that ran to its end: the start
 * record answered, the end record held, the command not answered yet. */
static struct tt *end_record_waits(uint8_t v)
{
	struct tt *x = ow_new(3, 0, 0x01, 4, v, false);

	reactor_post(R, tt_exec_fn, &x->t);
	for (int i = 0; i < 2000 && M3->nrecords < 2; i++)
		reactor_poll_once(R, 1);
	ck_assert_int_eq(M3->nrecords, 2);              /* the start record, then the end record */
	ck_assert(all(M3, 0, (size_t)NB * 512, v));
	ck_assert_int_eq(x->completions, 0);            /* no answer before the peer holds the end */
	record_answer(M3, 0);                           /* the start record */
	ck_assert_int_eq(x->completions, 0);
	return x;
}

/* A replicated LUN: the IMMED=0 command's GOOD waits until the peer holds
 * the end record (before, GOOD went at once: a Primary that died right after
 * it left the promoted peer holding the operation as running, i.e. in
 * failure mode on a fully sanitized medium). Demoted before the peer held
 * it: NOT READY / ALUA transition, and the initiator issues it again on the
 * new Primary, which took the operation as interrupted. */
START_TEST(sanitize_good_after_peer_holds_end)
{
	struct tt *x;

	x = end_record_waits(0x5a);
	record_answer(M3, 0);
	ck_assert_int_eq(x->completions, 1);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_uint_eq(atomic_load(&scsi_target_find_lun(TGT, 3)->sanitize_state), SCSI_SANITIZE_IDLE);

	/* demoted while the end record travelled: NOT READY / ALUA transition,
	 * and this node holds the operation as interrupted, as the new Primary */
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 3);
	x = end_record_waits(0x6b);
	record_answer(M3, -ESTALE);                     /* BDEV_E_NOT_ACTIVE */
	ck_assert_int_eq(x->completions, 1);
	CHECK_SENSE(x, SK_NOT_READY, 0x04, 0x0a);
	ck_assert_uint_eq(atomic_load(&lu->sanitize_state), SCSI_SANITIZE_FAILED);
	tt_free(x);

	/* the same, but the new Primary's record (idle: it sanitized again)
	 * arrived while the end record travelled: that state holds here */
	x = end_record_waits(0x6c);
	struct scsi_pr_state st;
	struct scsi_mode_rec m = { .sanitize = SCSI_SANITIZE_IDLE };
	scsi_pr_state_init(&st);
	size_t len = scsi_pr_serialize_ext(&st, &m, NULL, 0);
	uint8_t *rec = malloc(len);
	ck_assert_ptr_nonnull(rec);
	scsi_pr_serialize_ext(&st, &m, rec, len);
	ck_assert_int_eq(scsi_pr_install_seq(lu, rec, len, 1000, true), 0);
	free(rec);
	scsi_pr_state_free(&st);
	record_answer(M3, -ESTALE);
	CHECK_SENSE(x, SK_NOT_READY, 0x04, 0x0a);
	ck_assert_uint_eq(atomic_load(&lu->sanitize_state), SCSI_SANITIZE_IDLE);
	tt_free(x);
	clear_ua(ITN, 3);                               /* MODE PARAMETERS CHANGED of the install */

	/* the record failed otherwise (the peer's disk, the metadata): not
	 * GOOD, the initiator's retry settles both copies */
	x = end_record_waits(0x6d);
	record_answer(M3, -EIO);
	ck_assert_int_eq(x->completions, 1);
	ck_assert_int_eq(x->t.status, SCSI_STATUS_CHECK_CONDITION);
	tt_free(x);

	/* IMMED=1, demoted after the last chunk landed, before the end: no
	 * command waits, nothing is sent, this node holds the failure mode */
	M3->hold = true;
	x = ow_new(3, 0x80, 0x01, 4, 0x7c, false);
	tt_run(x);
	CHECK_GOOD(x);                                  /* IMMED: validated */
	tt_free(x);
	ck_assert_int_eq(M3->nrecords, 1);              /* the start record */
	record_answer(M3, 0);
	while (M3->nheld != 1 || M3->held[0]->type != BDEV_IO_FLUSH) {
		ck_assert_int_gt(M3->nheld, 0);
		release_one(B3);
	}
	rep_writable = false;                           /* demoted: the flush is the last I/O */
	release_all(B3);
	ck_assert_int_eq(M3->nrecords, 0);
	ck_assert_uint_eq(atomic_load(&lu->sanitize_state), SCSI_SANITIZE_FAILED);
}
END_TEST

START_TEST(sanitize_failure_ause_exit)
{
	struct tt *x;

	M0->fail_status = -EIO;
	x = san_new(0, 0x20 | 0x02, 0);                 /* BLOCK ERASE, AUSE=1 */
	tt_run(x);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x31, 0x03);
	tt_free(x);
	M0->fail_status = 0;
	x = simple(0, 0x88);
	CHECK_SENSE(x, SK_MEDIUM_ERROR, 0x31, 0x03);
	tt_free(x);
	x = san_new(0, 0x1f, 0);                        /* EXIT FAILURE MODE */
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	x = simple(0, 0x88);
	CHECK_GOOD(x);
	tt_free(x);
	/* without a failure it is a no-op */
	x = san_new(0, 0x1f, 0);
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- discovery */

START_TEST(sanitize_report_opcodes_and_vpd)
{
	const struct { uint8_t sa; uint8_t sup; } want[] = { { 1, 3 }, { 2, 3 }, { 3, 1 }, { 0x1f, 3 }, { 0, 1 } };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint8_t c[12] = { 0xa3, 0x0c, 0x02, 0x48 };
		put_be16(&c[4], want[i].sa);
		put_be32(&c[6], 64);
		struct tt *x = run_cdb(ITN, 0, c, 12, SCSI_DIR_READ, 64);
		CHECK_GOOD(x);
		ck_assert_int_eq(x->t.buf[1] & 0x07, want[i].sup);
		tt_free(x);
	}
	/* VPD B1h: WABEREQ 01b, WACEREQ 00b */
	uint8_t c[6] = { 0x12, 0x01, 0xb1, 0x00, 64 };
	struct tt *x = run_cdb(ITN, 0, c, 6, SCSI_DIR_READ, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[7] & 0xf0, 0x40);
	tt_free(x);
}
END_TEST

static Suite *sanitize_suite(void)
{
	Suite *s = suite_create("scsi_sanitize");
	TCase *tc = tcase_create("sanitize");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sanitize_cdb_checks);
	tcase_add_test(tc, sanitize_param_checks);
	tcase_add_test(tc, sanitize_write_protected);
	tcase_add_test(tc, sanitize_overwrite_pattern);
	tcase_add_test(tc, sanitize_overwrite_invert_passes);
	tcase_add_test(tc, sanitize_in_progress_state);
	tcase_add_test(tc, sanitize_abort_continues);
	tcase_add_test(tc, sanitize_block_erase);
	tcase_add_test(tc, sanitize_failure_restricted);
	tcase_add_test(tc, sanitize_failure_ause_exit);
	tcase_add_test(tc, sanitize_interrupted_by_demotion);
	tcase_add_test(tc, sanitize_good_after_peer_holds_end);
	tcase_add_test(tc, sanitize_report_opcodes_and_vpd);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sanitize_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

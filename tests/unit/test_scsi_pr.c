/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reservations: the persistent reservation state machine, the conflict table
 * per type and nexus, the record format and APTPL restore, malformed
 * parameter lists, unit attentions / aborts, and SPC-2 RESERVE/RELEASE. */
#include <dirent.h>
#include <sys/stat.h>
#include "scsi_test_harness.h"
#include "scsi/scsi_pr.h"

#define NBLOCKS 64
#define INIT3 "iqn.1994-05.com.example:init3,i,0x023d00000003"

static struct scsi_itn *ITN3;
/* the APTPL and mode files go to the harness's state directory */
static void setup(void)
{
	harness_start();
	mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, false);
	harness_nexus();
	ITN3 = scsi_itn_create(TGT, INIT3, &PORT);
	clear_ua(ITN, 0);
	clear_ua(ITN2, 0);
	clear_ua(ITN3, 0);
}

static void teardown(void)
{
	scsi_itn_destroy(ITN3);
	ITN3 = NULL;
	harness_stop();
}

/* ---------------------------------------------------------------- CDB helpers */

static struct tt *prout_raw(struct scsi_itn *itn, uint8_t sa, uint8_t type, const uint8_t *param, uint32_t len,
			    uint32_t edtl)
{
	uint8_t cdb[10] = { 0x5f, sa, type, 0, 0, 0, 0, 0, 0, 0 };
	put_be32(&cdb[5], len);
	struct tt *x = tt_new(itn, 0, cdb, 10, SCSI_DIR_WRITE, edtl);
	if (param && edtl)
		memcpy(x->t.buf, param, edtl);
	tt_run(x);
	return x;
}

static struct tt *prout(struct scsi_itn *itn, uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark, uint8_t fl)
{
	uint8_t p[24] = { 0 };
	put_be64(&p[0], rk);
	put_be64(&p[8], sark);
	p[20] = fl;
	return prout_raw(itn, sa, type, p, 24, 24);
}

static uint8_t prout_st(struct scsi_itn *itn, uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark, uint8_t fl)
{
	struct tt *x = prout(itn, sa, type, rk, sark, fl);
	uint8_t st = x->t.status;
	tt_free(x);
	return st;
}

static struct tt *prin(struct scsi_itn *itn, uint8_t sa, uint16_t alloc)
{
	uint8_t cdb[10] = { 0x5e, sa, 0, 0, 0, 0, 0, 0, 0, 0 };
	put_be16(&cdb[7], alloc);
	return run_cdb(itn, 0, cdb, 10, SCSI_DIR_READ, alloc);
}

static uint8_t rw_st(struct scsi_itn *itn, bool write)
{
	uint8_t cdb[10] = { write ? 0x2a : 0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
	struct tt *x = run_cdb(itn, 0, cdb, 10, write ? SCSI_DIR_WRITE : SCSI_DIR_READ, 512);
	uint8_t st = x->t.status;
	if (st == SCSI_STATUS_CHECK_CONDITION && x->t.sense[2] == SK_UNIT_ATTENTION) {
		tt_free(x);
		return rw_st(itn, write);       /* a PR unit attention first: retry */
	}
	tt_free(x);
	return st;
}

static uint8_t cdb6_st(struct scsi_itn *itn, uint8_t op)
{
	uint8_t cdb[6] = { op, 0, 0, 0, 0, 0 };
	struct tt *x = run_cdb(itn, 0, cdb, 6, SCSI_DIR_NONE, 0);
	uint8_t st = x->t.status;
	tt_free(x);
	return st;
}

#define GOOD SCSI_STATUS_GOOD
#define CONFL SCSI_STATUS_RESERVATION_CONFLICT
#define CHECK SCSI_STATUS_CHECK_CONDITION

/* ---------------------------------------------------------------- state machine */

static struct scsi_pr_id nexus(int n)
{
	struct scsi_pr_id id;
	memset(&id, 0, sizeof(id));
	snprintf(id.initiator, sizeof(id.initiator), "iqn.1994-05.com.example:init%d,i,0x023d0000000%d", n, n);
	id.rel_port_id = 1;
	return id;
}

static enum scsi_pr_rc sm(struct scsi_pr_state *s, int who, uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark)
{
	struct scsi_pr_change c;
	struct scsi_pr_result r;
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.sa = sa;
	c.type = type;
	c.key = rk;
	c.sa_key = sark;
	c.from = nexus(who);
	enum scsi_pr_rc rc = scsi_pr_state_apply(s, &c, &r);
	scsi_pr_result_free(&r);
	return rc;
}

struct sm_case {
	int who;
	uint8_t sa, type;
	uint64_t rk, sark;
	enum scsi_pr_rc rc;
	uint32_t nregs;                 /* expected afterwards */
	uint8_t resv;                   /* expected reservation type */
	uint32_t gen;
};

START_TEST(state_machine_table)
{
	enum { REG = SCSI_PR_REGISTER, RES = SCSI_PR_RESERVE, REL = SCSI_PR_RELEASE, CLR = SCSI_PR_CLEAR,
	       PRE = SCSI_PR_PREEMPT, IGN = SCSI_PR_REGISTER_AND_IGNORE };
	static const struct sm_case cases[] = {
		{ 1, REG, 0, 5, 0xa, SCSI_PR_CONFLICT, 0, 0, 0 },      /* unregistered with a key */
		{ 1, REG, 0, 0, 0, SCSI_PR_OK, 0, 0, 0 },              /* no-op */
		{ 1, RES, 1, 0xa, 0, SCSI_PR_CONFLICT, 0, 0, 0 },      /* not registered */
		{ 1, REG, 0, 0, 0xa, SCSI_PR_OK, 1, 0, 1 },
		{ 1, REG, 0, 0xb, 0xc, SCSI_PR_CONFLICT, 1, 0, 1 },    /* wrong key */
		{ 1, IGN, 0, 0xb, 0xa1, SCSI_PR_OK, 1, 0, 2 },         /* ignores the key */
		{ 1, REG, 0, 0xa1, 0xa, SCSI_PR_OK, 1, 0, 3 },
		{ 2, REG, 0, 0, 0xb, SCSI_PR_OK, 2, 0, 4 },
		{ 1, RES, 2, 0xa, 0, SCSI_PR_BAD_CDB, 2, 0, 4 },       /* type 2 is obsolete */
		{ 1, RES, 1, 0xb, 0, SCSI_PR_CONFLICT, 2, 0, 4 },      /* someone else's key */
		{ 1, RES, 1, 0xa, 0, SCSI_PR_OK, 2, 1, 4 },            /* RESERVE leaves PRGENERATION */
		{ 1, RES, 1, 0xa, 0, SCSI_PR_OK, 2, 1, 4 },            /* same again: GOOD */
		{ 1, RES, 3, 0xa, 0, SCSI_PR_CONFLICT, 2, 1, 4 },      /* other type */
		{ 2, RES, 1, 0xb, 0, SCSI_PR_CONFLICT, 2, 1, 4 },      /* not the holder */
		{ 2, REL, 1, 0xb, 0, SCSI_PR_OK, 2, 1, 4 },            /* non-holder release: no-op */
		{ 1, REL, 3, 0xa, 0, SCSI_PR_BAD_RELEASE, 2, 1, 4 },
		{ 1, REL, 1, 0xa, 0, SCSI_PR_OK, 2, 0, 4 },
		{ 1, PRE, 1, 0xa, 0, SCSI_PR_BAD_PARAM, 2, 0, 4 },     /* no resv, SARK 0 */
		{ 1, PRE, 1, 0xa, 0x99, SCSI_PR_CONFLICT, 2, 0, 4 },   /* nobody has 0x99 */
		{ 1, RES, 3, 0xa, 0, SCSI_PR_OK, 2, 3, 4 },
		{ 2, PRE, 6, 0xb, 0, SCSI_PR_BAD_PARAM, 2, 3, 4 },     /* resv held, not AR: SARK 0 */
		{ 2, PRE, 6, 0xb, 0x99, SCSI_PR_CONFLICT, 2, 3, 4 },   /* not the holder's, nobody's */
		{ 3, REG, 0, 0, 0xc, SCSI_PR_OK, 3, 3, 5 },
		{ 2, PRE, 6, 0xb, 0xc, SCSI_PR_OK, 2, 3, 6 },          /* not the holder's: 0xc goes, resv stays */
		{ 2, PRE, 6, 0xb, 0xa, SCSI_PR_OK, 1, 6, 7 },          /* preempt the holder */
		{ 1, REG, 0, 0, 0xa, SCSI_PR_OK, 2, 6, 8 },
		{ 2, REG, 0, 0xb, 0, SCSI_PR_OK, 1, 0, 9 },            /* holder unregisters: released */
		{ 1, RES, 7, 0xa, 0, SCSI_PR_OK, 1, 7, 9 },            /* all registrants */
		{ 2, REG, 0, 0, 0xb, SCSI_PR_OK, 2, 7, 10 },
		{ 1, REG, 0, 0xa, 0, SCSI_PR_OK, 1, 7, 11 },           /* AR: stays while a registrant is left */
		{ 2, RES, 7, 0xb, 0, SCSI_PR_OK, 1, 7, 11 },           /* every registrant holds it */
		{ 1, REG, 0, 0, 0xa, SCSI_PR_OK, 2, 7, 12 },
		{ 2, PRE, 1, 0xb, 0, SCSI_PR_OK, 1, 1, 13 },           /* SARK 0 preempts AR */
		{ 1, CLR, 0, 0xa, 0, SCSI_PR_CONFLICT, 1, 1, 13 },     /* preempted: not registered */
		{ 2, CLR, 0, 0xb, 0, SCSI_PR_OK, 0, 0, 14 },
		{ 1, REG, 0, 0, 0xa, SCSI_PR_OK, 1, 0, 15 },
		{ 1, PRE, 1, 0xa, 0xa, SCSI_PR_OK, 1, 0, 16 },         /* own key, nobody else's: GOOD */
		{ 1, RES, 3, 0xa, 0, SCSI_PR_OK, 1, 3, 16 },
		{ 2, REG, 0, 0, 0xb, SCSI_PR_OK, 2, 3, 17 },
		{ 2, PRE, 6, 0xb, 0xb, SCSI_PR_OK, 2, 3, 18 },         /* own key, resv elsewhere: kept */
		{ 2, PRE, 6, 0xb, 0x99, SCSI_PR_CONFLICT, 2, 3, 18 },  /* still: nobody has 0x99 */
		{ 1, 9, 0, 0, 0, SCSI_PR_BAD_CDB, 2, 3, 18 },          /* unknown service action */
	};
	struct scsi_pr_state s;
	scsi_pr_state_init(&s);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct sm_case *k = &cases[i];
		enum scsi_pr_rc rc = sm(&s, k->who, k->sa, k->type, k->rk, k->sark);
		ck_assert_msg(rc == k->rc, "case %zu: rc %d want %d", i, rc, k->rc);
		ck_assert_msg(s.nregs == k->nregs, "case %zu: nregs %u want %u", i, s.nregs, k->nregs);
		ck_assert_msg(s.type == k->resv, "case %zu: type %u want %u", i, s.type, k->resv);
		ck_assert_msg(s.generation == k->gen, "case %zu: gen %u want %u", i, s.generation, k->gen);
	}
	scsi_pr_state_free(&s);
}
END_TEST

START_TEST(register_and_move)
{
	struct scsi_pr_state s;
	struct scsi_pr_change c;
	struct scsi_pr_result r;
	struct scsi_pr_id dest = nexus(2);

	scsi_pr_state_init(&s);
	ck_assert_int_eq(sm(&s, 1, SCSI_PR_REGISTER, 0, 0, 0xa), SCSI_PR_OK);
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.sa = SCSI_PR_REGISTER_AND_MOVE;
	c.key = 0xa;
	c.sa_key = 0xd;
	c.from = nexus(1);
	c.tids = &dest;
	c.ntids = 1;
	c.unreg = true;
	ck_assert_int_eq(scsi_pr_state_apply(&s, &c, &r), SCSI_PR_CONFLICT);   /* no reservation */
	ck_assert_int_eq(sm(&s, 1, SCSI_PR_RESERVE, 3, 0xa, 0), SCSI_PR_OK);
	c.tids = &c.from;                                                       /* to itself */
	ck_assert_int_eq(scsi_pr_state_apply(&s, &c, &r), SCSI_PR_BAD_PARAM);
	c.tids = &dest;
	ck_assert_int_eq(scsi_pr_state_apply(&s, &c, &r), SCSI_PR_OK);
	ck_assert_uint_eq(s.nregs, 1);
	ck_assert_uint_eq(s.regs[0].key, 0xd);
	ck_assert(s.regs[0].holder);
	ck_assert_uint_eq(s.type, 3);
	ck_assert_str_eq(s.regs[0].id.initiator, dest.initiator);
	scsi_pr_result_free(&r);
	scsi_pr_state_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- conflicts per type */

struct access {
	uint8_t type;
	bool reg_read, reg_write, unreg_read, unreg_write;
};

START_TEST(conflicts_per_type)
{
	/* SPC-4 5.13.1 table 63 / SBC-3 4.17, as iscsi-test-cu ProutReserve.Access* */
	static const struct access cases[] = {
		{ SCSI_PR_EX_AC, 0, 0, 0, 0 },     { SCSI_PR_WR_EX, 1, 0, 1, 0 },
		{ SCSI_PR_EX_AC_RO, 1, 1, 0, 0 },  { SCSI_PR_WR_EX_RO, 1, 1, 1, 0 },
		{ SCSI_PR_EX_AC_AR, 1, 1, 0, 0 },  { SCSI_PR_WR_EX_AR, 1, 1, 1, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct access *a = &cases[i];
		ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER_AND_IGNORE, 0, 0, 0x11, 0), GOOD);
		ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER_AND_IGNORE, 0, 0, 0x22, 0), GOOD);
		ck_assert_int_eq(prout_st(ITN, SCSI_PR_RESERVE, a->type, 0x11, 0, 0), GOOD);
		ck_assert_int_eq(rw_st(ITN, false), GOOD);
		ck_assert_int_eq(rw_st(ITN, true), GOOD);
		ck_assert_int_eq(rw_st(ITN2, false), a->reg_read ? GOOD : CONFL);
		ck_assert_int_eq(rw_st(ITN2, true), a->reg_write ? GOOD : CONFL);
		ck_assert_int_eq(rw_st(ITN3, false), a->unreg_read ? GOOD : CONFL);
		ck_assert_int_eq(rw_st(ITN3, true), a->unreg_write ? GOOD : CONFL);
		/* never conflicting: TEST UNIT READY, INQUIRY, READ CAPACITY, PR IN */
		ck_assert_int_eq(cdb6_st(ITN3, 0x00), GOOD);
		struct tt *x = prin(ITN3, 0, 64);
		CHECK_GOOD(x);
		tt_free(x);
		/* MODE SENSE: allowed through write exclusive only */
		uint8_t ms[6] = { 0x1a, 0, 0x3f, 0, 255, 0 };
		x = run_cdb(ITN3, 0, ms, 6, SCSI_DIR_READ, 255);
		ck_assert_int_eq(x->t.status, a->unreg_read ? GOOD : CONFL);
		tt_free(x);
		/* EXTENDED COPY may write: it conflicts wherever writes do */
		uint8_t xc[16] = { 0x83 };
		x = run_cdb(ITN3, 0, xc, 16, SCSI_DIR_WRITE, 0);
		ck_assert_msg((x->t.status == CONFL) == !a->unreg_write, "type %u: EXTENDED COPY of a non-registrant: "
			      "status 0x%02x", a->type, x->t.status);
		tt_free(x);
		x = run_cdb(ITN2, 0, xc, 16, SCSI_DIR_WRITE, 0);
		ck_assert_msg((x->t.status == CONFL) == !a->reg_write, "type %u: EXTENDED COPY of a registrant: "
			      "status 0x%02x", a->type, x->t.status);
		tt_free(x);
		ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0x22, 0, 0), GOOD);
		ck_assert_int_eq(prout_st(ITN, SCSI_PR_RELEASE, a->type, 0x11, 0, 0), GOOD);
		ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0x11, 0, 0), GOOD);
		ck_assert_uint_eq(atomic_load(&scsi_target_find_lun(TGT, 0)->resv_active), 0);
		clear_ua(ITN2, 0);
		clear_ua(ITN3, 0);
	}
}
END_TEST

/* ---------------------------------------------------------------- PR IN */

START_TEST(prin_reports)
{
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0x1122334455667788ULL, 0x04), GOOD);
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0, 0x99, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_RESERVE, SCSI_PR_WR_EX_RO, 0x1122334455667788ULL, 0, 0), GOOD);

	struct tt *x = prin(ITN2, 0, 4096);             /* READ KEYS */
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(&x->t.buf[0]), 2);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 16);
	ck_assert_uint_eq(get_be64(&x->t.buf[8]), 0x1122334455667788ULL);
	ck_assert_uint_eq(get_be64(&x->t.buf[16]), 0x99);
	tt_free(x);
	x = prin(ITN2, 0, 12);                          /* truncated */
	CHECK_GOOD(x);
	ck_assert_uint_eq(x->t.data_len, 12);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 16);
	tt_free(x);

	x = prin(ITN2, 1, 4096);                        /* READ RESERVATION */
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 16);
	ck_assert_uint_eq(get_be64(&x->t.buf[8]), 0x1122334455667788ULL);
	ck_assert_uint_eq(x->t.buf[21], SCSI_PR_WR_EX_RO);
	tt_free(x);

	x = prin(ITN2, 2, 4096);                        /* REPORT CAPABILITIES */
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be16(&x->t.buf[0]), 8);
	ck_assert_uint_eq(x->t.buf[2], 0x1d);
	ck_assert_uint_eq(x->t.buf[3] & 0x80, 0x80);
	ck_assert_uint_eq(x->t.buf[4], 0xea);
	ck_assert_uint_eq(x->t.buf[5], 0x01);
	tt_free(x);

	x = prin(ITN2, 3, 4096);                        /* READ FULL STATUS */
	CHECK_GOOD(x);
	uint8_t *d = x->t.buf;
	ck_assert_uint_eq(get_be32(&d[0]), 2);
	uint32_t total = get_be32(&d[4]), off = 8;
	int holders = 0, n = 0;
	while (off < 8 + total) {
		uint8_t *e = &d[off];
		uint32_t tl = get_be32(&e[20]);
		ck_assert_uint_eq(tl % 4, 0);
		ck_assert_uint_ge(tl, 24);
		ck_assert_uint_eq(e[24], 0x45);        /* format 01b, iSCSI */
		const char *name = (const char *)&e[28];
		if (e[12] & 1) {
			holders++;
			ck_assert_uint_eq(e[13], SCSI_PR_WR_EX_RO);
			ck_assert_uint_eq(e[12] & 2, 2);   /* registered with ALL_TG_PT */
			ck_assert_str_eq(name, "iqn.1994-05.com.example:init1,i,0x023d00000001");
		} else {
			ck_assert_uint_eq(get_be16(&e[18]), 1);
			ck_assert_str_eq(name, "iqn.1994-05.com.example:init2,i,0x023d00000002");
		}
		off += 24 + tl;
		n++;
	}
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(holders, 1);
	tt_free(x);

	for (uint8_t sa = 4; sa < 0x20; sa++) {
		x = prin(ITN, sa, 64);
		CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
		tt_free(x);
	}
}
END_TEST

/* ---------------------------------------------------------------- bad parameter lists */

static void put_tid(uint8_t *p, uint8_t fmt, const char *name, uint16_t alen)
{
	p[0] = (uint8_t)(fmt << 6 | 5);
	p[1] = 0;
	put_be16(&p[2], alen);
	memset(&p[4], 0, alen);
	size_t n = strlen(name);
	memcpy(&p[4], name, n < alen ? n : alen);   /* longer: no NUL inside */
}

START_TEST(bad_parameter_lists)
{
	uint8_t p[512];
	struct tt *x;

	memset(p, 0, sizeof(p));
	put_be64(&p[8], 0x5);
	x = prout_raw(ITN, 0, 0, p, 20, 20);                    /* shorter than 24 */
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	x = prout_raw(ITN, 0, 0, p, 28, 28);                    /* 28 without SPEC_I_PT */
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	x = prout_raw(ITN, 0, 0, p, 24, 10);                    /* transport delivered less */
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	x = prout_raw(ITN, 0, 0, p, 0xffffffffu, 24);            /* absurd length */
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	x = prout_raw(ITN, 8, 0, p, 24, 24);                    /* service action 8 */
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	p[20] = 0x08;                                           /* SPEC_I_PT with RESERVE */
	x = prout_raw(ITN, SCSI_PR_RESERVE, 1, p, 24, 24);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	x = prout_raw(ITN, SCSI_PR_REGISTER_AND_IGNORE, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);

	/* SPEC_I_PT TransportIDs */
	put_be32(&p[24], 100);                                  /* longer than the list */
	x = prout_raw(ITN, 0, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	put_be32(&p[24], 24);
	put_tid(&p[28], 1, "iqn.1994-05.com.example:init2,i,0x023d00000002", 20);
	p[28] = 0x41;                                           /* FCP protocol */
	x = prout_raw(ITN, 0, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_uint_eq(get_be16(&x->t.sense[16]), 28);
	tt_free(x);
	put_tid(&p[28], 1, "iqn.1994-05.com.example:init2,i,0x023d0000", 20); /* no NUL */
	x = prout_raw(ITN, 0, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	put_tid(&p[28], 1, "iqn.x,i,0xZZ", 20);                 /* bad ISID */
	x = prout_raw(ITN, 0, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	put_tid(&p[28], 1, "iqn.x", 20);                        /* format 1 without ISID */
	x = prout_raw(ITN, 0, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	put_tid(&p[28], 1, "iqn.x,i,0x1", 22);                  /* length not a multiple of 4 */
	x = prout_raw(ITN, 0, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	put_tid(&p[28], 2, "iqn.x", 20);                        /* format 10b */
	x = prout_raw(ITN, 0, 0, p, 52, 52);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	/* nothing registered by any of that */
	x = prin(ITN, 0, 64);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 0);
	tt_free(x);

	/* a good one: ISID in upper case, two TransportIDs, registered together */
	memset(&p[24], 0, sizeof(p) - 24);
	put_be32(&p[24], 52 + 36);
	put_tid(&p[28], 1, "IQN.1994-05.com.example:init2,i,0x23D00000002", 48);
	put_tid(&p[28 + 52], 0, "iqn.1994-05.com.example:init3", 32);
	x = prout_raw(ITN, 0, 0, p, 28 + 88, 28 + 88);
	CHECK_GOOD(x);
	tt_free(x);
	x = prin(ITN, 0, 64);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 24);
	tt_free(x);
	/* init2 and init3 are registered with the same key */
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0x5, 0x6, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN3, SCSI_PR_RESERVE, 1, 0x5, 0, 0), GOOD);
	/* SPEC_I_PT from a registered nexus */
	x = prout_raw(ITN, 0, 0, p, 28 + 88, 28 + 88);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	/* REGISTER AND MOVE: truncated TransportID, zero port */
	uint8_t m[64];
	memset(m, 0, sizeof(m));
	put_be64(&m[0], 0x5);
	put_be64(&m[8], 0x7);
	put_be16(&m[18], 1);
	put_be32(&m[20], 40);
	x = prout_raw(ITN3, SCSI_PR_REGISTER_AND_MOVE, 1, m, 48, 48);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	put_be32(&m[20], 24);
	put_tid(&m[24], 1, "iqn.1994-05.com.example:init1,i,0x023d00000001", 20);
	x = prout_raw(ITN3, SCSI_PR_REGISTER_AND_MOVE, 1, m, 48, 48);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
}
END_TEST

/* Random parameter lists never crash and always give a defined status. */
START_TEST(fuzz_prout)
{
	uint8_t p[600];
	unsigned seed = 12345;
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0x1, 0), GOOD);
	for (int i = 0; i < 1500; i++) {
		for (size_t j = 0; j < sizeof(p); j++)
			p[j] = (uint8_t)rand_r(&seed);
		uint32_t len = (uint32_t)rand_r(&seed) % sizeof(p);
		if (i % 3 == 0) {
			put_be64(&p[0], 1);
			p[20] = (uint8_t)(p[20] & 0x0d);
			put_be32(&p[24], (uint32_t)rand_r(&seed) % 600);
			p[28] = (uint8_t)((p[28] & 0xc0) | 5);
		}
		uint8_t sa = (uint8_t)(rand_r(&seed) % 9), type = (uint8_t)(rand_r(&seed) % 10);
		struct tt *x = prout_raw(i % 2 ? ITN2 : ITN, sa, type, p, len, len);
		ck_assert(x->t.status == GOOD || x->t.status == CHECK || x->t.status == CONFL);
		tt_free(x);
	}
}
END_TEST

/* ---------------------------------------------------------------- unit attentions and aborts */

static int ABORTS;
static uint64_t ABORT_LUN;
static void abort_cb(void *arg, uint64_t lun, struct scsi_task *by)
{
	ck_assert_ptr_eq(arg, ITN2);
	/* the PR OUT itself, so that the transport can hold its completion */
	ck_assert_ptr_nonnull(by);
	ck_assert_int_eq(by->cdb[0], 0x5f);
	ABORTS++;
	ABORT_LUN = lun;
}

static void expect_ua(struct scsi_itn *itn, uint8_t ascq)
{
	struct tt *x = run_cdb(itn, 0, (uint8_t[6]){ 0 }, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2a, ascq);
	tt_free(x);
}

START_TEST(unit_attentions_and_abort)
{
	scsi_itn_set_abort_cb(ITN2, abort_cb, ITN2);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0, 0xb, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_RESERVE, SCSI_PR_EX_AC_RO, 0xb, 0, 0), GOOD);
	/* RELEASE of a registrants-only reservation: RESERVATIONS RELEASED to the others */
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_RELEASE, SCSI_PR_EX_AC_RO, 0xb, 0, 0), GOOD);
	expect_ua(ITN, 0x04);
	clear_ua(ITN2, 0);
	/* PREEMPT AND ABORT the holder: REGISTRATIONS PREEMPTED and its tasks aborted */
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_RESERVE, SCSI_PR_EX_AC, 0xb, 0, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_PREEMPT_AND_ABORT, SCSI_PR_WR_EX, 0xa, 0xb, 0), GOOD);
	ck_assert_int_eq(ABORTS, 1);
	ck_assert_uint_eq(ABORT_LUN, 0);
	expect_ua(ITN2, 0x05);
	ck_assert_int_eq(cdb6_st(ITN, 0x00), GOOD);         /* the preempting nexus has none */
	/* CLEAR: RESERVATIONS PREEMPTED to the other registrants */
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0, 0xb, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_CLEAR, 0, 0xa, 0, 0), GOOD);
	expect_ua(ITN2, 0x03);
	ck_assert_int_eq(ABORTS, 1);
}
END_TEST

/* SPC-4 5.13.11.2.5: a PREEMPT AND ABORT of the issuer's own key aborts the
 * issuer's tasks too (but for the PR OUT, which the transport spares: `by`),
 * with no unit attention for it. The issuing nexus was skipped altogether:
 * only the other holder of the key had its tasks aborted. */
static int OWN_ABORTS[4];
static struct scsi_task *OWN_BY;
static void own_abort_cb(void *arg, uint64_t lun, struct scsi_task *by)
{
	int n = arg == ITN ? 1 : arg == ITN2 ? 2 : 3;
	ck_assert_uint_eq(lun, 0);
	ck_assert_ptr_nonnull(by);
	ck_assert_int_eq(by->cdb[0], 0x5f);
	OWN_ABORTS[n]++;
	OWN_BY = by;
}

START_TEST(preempt_and_abort_own_key)
{
	memset(OWN_ABORTS, 0, sizeof(OWN_ABORTS));
	scsi_itn_set_abort_cb(ITN, own_abort_cb, ITN);
	scsi_itn_set_abort_cb(ITN2, own_abort_cb, ITN2);
	scsi_itn_set_abort_cb(ITN3, own_abort_cb, ITN3);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN3, SCSI_PR_REGISTER, 0, 0, 0xa, 0), GOOD);    /* the same key */
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0, 0xb, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_RESERVE, SCSI_PR_WR_EX, 0xa, 0, 0), GOOD);
	/* ITN preempts its own key: its reservation becomes Exclusive Access */
	struct tt *x = prout(ITN, SCSI_PR_PREEMPT_AND_ABORT, SCSI_PR_EX_AC, 0xa, 0xa, 0);
	CHECK_GOOD(x);
	ck_assert_msg(OWN_ABORTS[1] == 1, "the issuing nexus' tasks were not aborted (%d calls)", OWN_ABORTS[1]);
	ck_assert_ptr_eq(OWN_BY, &x->t);        /* the transport spares the PR OUT itself */
	ck_assert_int_eq(OWN_ABORTS[3], 1);     /* the other registration of that key */
	ck_assert_int_eq(OWN_ABORTS[2], 0);     /* another key: untouched */
	tt_free(x);
	ck_assert_int_eq(cdb6_st(ITN, 0x00), GOOD);        /* no unit attention for the issuer */
	ck_assert_int_eq(rw_st(ITN, true), GOOD);          /* still registered, the holder */
	expect_ua(ITN3, 0x05);                             /* REGISTRATIONS PREEMPTED */
	ck_assert_int_eq(rw_st(ITN2, false), CONFL);       /* Exclusive Access now */
	/* a PREEMPT AND ABORT of another key aborts nothing of the issuer */
	memset(OWN_ABORTS, 0, sizeof(OWN_ABORTS));
	clear_ua(ITN2, 0);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_PREEMPT_AND_ABORT, SCSI_PR_EX_AC, 0xa, 0xb, 0), GOOD);
	ck_assert_int_eq(OWN_ABORTS[1], 0);
	ck_assert_int_eq(OWN_ABORTS[2], 1);
	ck_assert_int_eq(cdb6_st(ITN, 0x00), GOOD);
}
END_TEST

/* Registrations belong to the initiator port, not the nexus object. */
START_TEST(registration_survives_nexus_loss)
{
	ck_assert_int_eq(prout_st(ITN3, SCSI_PR_REGISTER, 0, 0, 0x33, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN3, SCSI_PR_RESERVE, SCSI_PR_EX_AC, 0x33, 0, 0), GOOD);
	scsi_itn_destroy(ITN3);
	ITN3 = scsi_itn_create(TGT, INIT3, &PORT);
	clear_ua(ITN3, 0);
	ck_assert_int_eq(rw_st(ITN3, true), GOOD);          /* still the holder */
	ck_assert_int_eq(rw_st(ITN, false), CONFL);
	ck_assert_int_eq(prout_st(ITN3, SCSI_PR_REGISTER, 0, 0x33, 0, 0), GOOD);
	ck_assert_int_eq(rw_st(ITN, false), GOOD);
}
END_TEST

/* ---------------------------------------------------------------- record and APTPL */

START_TEST(record_roundtrip_and_corruption)
{
	struct scsi_pr_state s, t;
	scsi_pr_state_init(&s);
	scsi_pr_state_init(&t);
	ck_assert_int_eq(sm(&s, 1, SCSI_PR_REGISTER, 0, 0, 0x1111), SCSI_PR_OK);
	ck_assert_int_eq(sm(&s, 2, SCSI_PR_REGISTER, 0, 0, 0x2222), SCSI_PR_OK);
	ck_assert_int_eq(sm(&s, 2, SCSI_PR_RESERVE, SCSI_PR_WR_EX_RO, 0x2222, 0), SCSI_PR_OK);
	s.aptpl = true;
	s.regs[0].id.all_tg_pt = true;

	size_t len = scsi_pr_serialize(&s, NULL, 0);
	uint8_t *b = malloc(len);
	ck_assert_uint_eq(scsi_pr_serialize(&s, b, len), len);
	ck_assert_uint_eq(scsi_pr_serialize(&s, b, len - 1), 0);
	ck_assert_int_eq(scsi_pr_deserialize(&t, b, len), 0);
	ck_assert_uint_eq(t.generation, s.generation);
	ck_assert_uint_eq(t.type, SCSI_PR_WR_EX_RO);
	ck_assert(t.aptpl);
	ck_assert_uint_eq(t.nregs, 2);
	for (uint32_t i = 0; i < 2; i++) {
		ck_assert_uint_eq(t.regs[i].key, s.regs[i].key);
		ck_assert_str_eq(t.regs[i].id.initiator, s.regs[i].id.initiator);
		ck_assert_int_eq(t.regs[i].id.all_tg_pt, s.regs[i].id.all_tg_pt);
		ck_assert_int_eq(t.regs[i].holder, s.regs[i].holder);
		ck_assert_uint_eq(t.regs[i].id.rel_port_id, s.regs[i].id.rel_port_id);
	}
	/* identical bytes when serialised again */
	uint8_t *b2 = malloc(len);
	scsi_pr_serialize(&t, b2, len);
	ck_assert_int_eq(memcmp(b, b2, len), 0);

	/* every single flipped bit, every truncation is rejected; t unchanged */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1 << bit);
			ck_assert_int_eq(scsi_pr_deserialize(&t, b, len), -1);
			b[i] ^= (uint8_t)(1 << bit);
		}
		ck_assert_int_eq(scsi_pr_deserialize(&t, b, i), -1);
	}
	ck_assert_uint_eq(t.nregs, 2);
	/* a well-formed checksum over an inconsistent record: two holders */
	scsi_pr_serialize(&s, b, len);
	b[20 + 10] |= 2;
	put_be32(&b[len - 4], scsi_pr_crc32c(b, len - 4));
	ck_assert_int_eq(scsi_pr_deserialize(&t, b, len), -1);
	ck_assert_int_eq(scsi_pr_deserialize(&t, NULL, 0), -1);
	free(b);
	free(b2);
	scsi_pr_state_free(&s);
	scsi_pr_state_free(&t);
}
END_TEST

static void reattach_lun0(void)
{
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 0), 0);
	mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, false);
	clear_ua(ITN, 0);
	clear_ua(ITN2, 0);
	clear_ua(ITN3, 0);
}

START_TEST(aptpl_restore)
{
	char path[512];
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 0);
	struct stat st;

	scsi_pr_path(lu->serial, path, sizeof(path));
	/* without APTPL nothing is written and nothing survives */
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0), GOOD);
	ck_assert_int_ne(stat(path, &st), 0);
	reattach_lun0();
	struct tt *x = prin(ITN, 0, 64);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 0);
	tt_free(x);

	/* with APTPL the file exists before the command completes */
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0x01), GOOD);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0, 0xb, 0x01), GOOD);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_RESERVE, SCSI_PR_EX_AC, 0xa, 0, 0), GOOD);
	reattach_lun0();
	x = prin(ITN, 1, 64);
	CHECK_GOOD(x);
	ck_assert_uint_eq(get_be32(&x->t.buf[0]), 2);
	ck_assert_uint_eq(get_be64(&x->t.buf[8]), 0xa);
	ck_assert_uint_eq(x->t.buf[21], SCSI_PR_EX_AC);
	tt_free(x);
	x = prin(ITN, 2, 64);
	ck_assert_uint_eq(x->t.buf[3] & 1, 1);      /* PTPL_A */
	tt_free(x);
	ck_assert_int_eq(rw_st(ITN2, false), CONFL);
	ck_assert_int_eq(rw_st(ITN, true), GOOD);

	/* a corrupted file is refused: the LUN comes up without reservations */
	FILE *f = fopen(path, "r+");
	ck_assert_ptr_nonnull(f);
	fseek(f, 9, SEEK_SET);
	fputc(0x77, f);
	fclose(f);
	reattach_lun0();
	x = prin(ITN, 0, 64);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 0);
	tt_free(x);
	ck_assert_int_eq(rw_st(ITN2, false), GOOD);

	/* APTPL off removes the file */
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0x01), GOOD);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0xa, 0xc, 0), GOOD);
	ck_assert_int_ne(stat(path, &st), 0);
	/* and no temp file is left behind */
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_ne(stat(tmp, &st), 0);
}
END_TEST

/* One APTPL file per serial: 'disk:1' and 'disk_1' used to share one (unsafe
 * characters became '_'), so each LUN's save overwrote the other's and a
 * restart restored the wrong reservation. A plain serial keeps its name; a
 * file under the old name is read and moved. */
START_TEST(aptpl_file_per_serial)
{
	char a[512], b[512], c[512], old[512], now[512];
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 0);
	struct stat st;

	scsi_pr_path("disk:1", a, sizeof(a));
	scsi_pr_path("disk_1", b, sizeof(b));
	ck_assert_msg(strcmp(a, b) != 0, "'disk:1' and 'disk_1' share %s", a);
	scsi_pr_path("disk-1.x", c, sizeof(c));
	ck_assert_msg(strstr(c, "/pr/disk-1.x.pr") != NULL, "a plain serial changed its file name: %s", c);
	/* a record saved under the old name is restored, and moved */
	char keep[sizeof(lu->serial)];
	memcpy(keep, lu->serial, sizeof(keep));
	snprintf(lu->serial, sizeof(lu->serial), "disk_1:a");
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xd, 0x01), GOOD);
	scsi_pr_path(lu->serial, now, sizeof(now));
	scsi_pr_path_v1(lu->serial, old, sizeof(old));
	ck_assert_str_ne(old, now);
	ck_assert_int_eq(rename(now, old), 0);
	scsi_pr_lun_fini(lu);
	ck_assert_int_eq(scsi_pr_lun_init(lu), 0);
	struct tt *x = prin(ITN, 0, 64);
	ck_assert_uint_eq(get_be32(&x->t.buf[4]), 8);      /* the one key restored */
	tt_free(x);
	ck_assert_int_eq(stat(now, &st), 0);
	ck_assert_int_ne(stat(old, &st), 0);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0xd, 0, 0), GOOD);   /* unregister, APTPL off */
	ck_assert_int_ne(stat(now, &st), 0);
	memcpy(lu->serial, keep, sizeof(keep));
}
END_TEST

START_TEST(install_snapshot)
{
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 0);
	uint8_t *rec;
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0), GOOD);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_RESERVE, SCSI_PR_WR_EX, 0xa, 0, 0), GOOD);
	size_t len = scsi_pr_snapshot(lu, &rec);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_CLEAR, 0, 0xa, 0, 0), GOOD);
	ck_assert_int_eq(rw_st(ITN2, true), GOOD);
	ck_assert_int_eq(scsi_pr_install(lu, rec, len), 0);
	ck_assert_int_eq(rw_st(ITN2, true), CONFL);
	rec[0] ^= 1;
	ck_assert_int_eq(scsi_pr_install(lu, rec, len), -1);
	rec[0] ^= 1;
	/* the peer's records in sequence: an older one (it lost a race to the
	 * link) changes nothing, a push (force) replaces whatever is held */
	uint8_t *empty;
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_CLEAR, 0, 0xa, 0, 0), GOOD);
	size_t elen = scsi_pr_snapshot(lu, &empty);
	ck_assert_int_eq(scsi_pr_install_seq(lu, rec, len, 10, false), 0);
	ck_assert_int_eq(rw_st(ITN2, true), CONFL);
	ck_assert_int_eq(scsi_pr_install_seq(lu, empty, elen, 9, false), 0);
	ck_assert_int_eq(rw_st(ITN2, true), CONFL);         /* 9 < 10: ignored */
	ck_assert_int_eq(scsi_pr_install_seq(lu, empty, elen, 10, false), 0);
	ck_assert_int_eq(rw_st(ITN2, true), CONFL);         /* not newer either */
	ck_assert_int_eq(scsi_pr_install_seq(lu, empty, elen, 2, true), 0);
	ck_assert_int_eq(rw_st(ITN2, true), GOOD);          /* the push wins */
	free(empty);
	free(rec);
}
END_TEST

/* ---------------------------------------------------------------- mode parameters */

/* The caching page's WCE: current (pc 0) or saved (pc 3). */
static int wce_of(int pc)
{
	struct tt *x = mode_sense6(ITN, 1, (uint8_t)pc, 0x08, 255);
	CHECK_GOOD(x);
	int wce = (x->t.buf[4 + 2] & 0x04) != 0;
	tt_free(x);
	return wce;
}

static uint8_t select_wce(bool wce, bool save)
{
	uint8_t pl[4 + 20] = { 0 };
	pl[4] = 0x08;
	pl[5] = 0x12;
	pl[6] = wce ? 0x04 : 0;
	struct tt *x = mode_select6(ITN, save ? 0x11 : 0x10, pl, sizeof(pl), sizeof(pl));
	uint8_t st = x->t.status;
	tt_free(x);
	return st;
}

/* SPC-4 7.5.2: MODE SENSE reports the caching page savable (PS=1), so values
 * saved with SP=1 must survive a power loss. They were kept in memory only:
 * a restart brought back the policy's WCE. Now a file under state_dir holds
 * them before GOOD; values changed without SP do not survive; a file saved
 * under another cache policy, or a corrupt one, gives way to the policy. */
START_TEST(mode_saved_survives_restart)
{
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 0);
	char path[512];
	struct stat st;

	scsi_state_path("mode", "mode", lu->serial, path, sizeof(path));
	ck_assert_int_eq(wce_of(0), 0);                 /* write-through: WCE=0 */
	ck_assert_int_eq(select_wce(true, false), GOOD);
	ck_assert_int_ne(stat(path, &st), 0);           /* current only: nothing saved */
	reattach_lun0();
	ck_assert_int_eq(wce_of(0), 0);

	ck_assert_int_eq(select_wce(true, true), GOOD);
	ck_assert_int_eq(stat(path, &st), 0);           /* on disk before GOOD */
	ck_assert_int_eq(wce_of(3), 1);
	reattach_lun0();
	ck_assert_int_eq(wce_of(0), 1);                 /* power on: current = saved */
	ck_assert_int_eq(wce_of(3), 1);
	ck_assert_int_eq(select_wce(false, false), GOOD);
	reattach_lun0();
	ck_assert_int_eq(wce_of(0), 1);                 /* the unsaved change is gone */

	/* a corrupt file: the policy's value */
	FILE *f = fopen(path, "r+");
	ck_assert_ptr_nonnull(f);
	fseek(f, 7, SEEK_SET);
	fputc(0x03, f);                                 /* SWP too, but the CRC no longer matches */
	fclose(f);
	reattach_lun0();
	ck_assert_int_eq(wce_of(0), 0);
	ck_assert_int_eq(wce_of(3), 0);

	/* saved under write-through, started as write-back: the policy wins
	 * and the file goes */
	ck_assert_int_eq(select_wce(true, true), GOOD);
	ck_assert_int_eq(select_wce(false, true), GOOD);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 0), 0);
	mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_BACK, false);
	clear_ua(ITN, 0);
	ck_assert_int_eq(wce_of(0), 1);
	ck_assert_int_ne(stat(path, &st), 0);
	/* a reload that changes the policy drops values saved under the old one */
	ck_assert_int_eq(select_wce(false, true), GOOD);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(scsi_target_set_lun_cache(TGT, 0, TCONF_CACHE_WRITE_THROUGH), 0);
	ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

/* A MODE SELECT that turns the write cache off answers only after the flush;
 * when that flush fails, the initiator's retry (which changes nothing any
 * more: WCE is already 0) must flush again instead of answering GOOD with
 * the writes acknowledged under WCE=1 still volatile. */
START_TEST(mode_select_retry_after_failed_flush)
{
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 0), 0);
	struct mem_priv *m = mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_BACK, false);
	clear_ua(ITN, 0);
	ck_assert_int_eq(wce_of(0), 1);
	m->fail_status = -EIO;                          /* every I/O fails, the flush too */
	ck_assert_int_eq(select_wce(false, false), CHECK);
	m->fail_status = 0;                             /* the device is back */
	ck_assert_int_eq(wce_of(0), 0);
	unsigned before = m->flush_count;
	ck_assert_int_eq(select_wce(false, false), GOOD);
	ck_assert_uint_eq(m->flush_count, before + 1);
	ck_assert_int_eq(select_wce(false, false), GOOD);     /* settled: nothing owed */
	ck_assert_uint_eq(m->flush_count, before + 1);
}
END_TEST

/* A replicated LUN's record carries its mode parameters (repl protocol 3):
 * the peer's LUN takes current and saved values, saves the saved ones, and
 * its nexuses get MODE PARAMETERS CHANGED; a record without them (a peer of
 * protocol 2, an APTPL file) leaves them alone. */
START_TEST(record_carries_mode)
{
	struct scsi_lun *lu = scsi_target_find_lun(TGT, 0);
	struct scsi_pr_state s, t;
	struct scsi_mode_rec m = { .wce = true, .wce_saved = true, .swp = false, .swp_saved = false }, got;
	bool has;
	char path[512];
	struct stat st;

	scsi_pr_state_init(&s);
	scsi_pr_state_init(&t);
	ck_assert_int_eq(sm(&s, 1, SCSI_PR_REGISTER, 0, 0, 0x1111), SCSI_PR_OK);
	size_t len = scsi_pr_serialize_ext(&s, &m, NULL, 0);
	ck_assert_uint_eq(len, scsi_pr_serialize(&s, NULL, 0) + 4);
	uint8_t *b = malloc(len);
	ck_assert_uint_eq(scsi_pr_serialize_ext(&s, &m, b, len), len);
	ck_assert_int_eq(scsi_pr_deserialize_ext(&t, &got, &has, b, len), 0);
	ck_assert(has && got.wce && got.wce_saved && !got.swp && !got.swp_saved);
	ck_assert_uint_eq(t.nregs, 1);
	for (size_t i = 0; i < len; i++)                /* every flipped bit is refused */
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1 << bit);
			ck_assert_int_eq(scsi_pr_deserialize_ext(&t, &got, &has, b, len), -1);
			b[i] ^= (uint8_t)(1 << bit);
		}
	b[len - 8] |= 0x10;                             /* a reserved bit with a good CRC */
	put_be32(&b[len - 4], scsi_pr_crc32c(b, len - 4));
	ck_assert_int_eq(scsi_pr_deserialize_ext(&t, &got, &has, b, len), -1);
	b[len - 8] &= 0x0f;
	b[len - 7] |= 0x08;                             /* the SANITIZE byte's reserved bits */
	put_be32(&b[len - 4], scsi_pr_crc32c(b, len - 4));
	ck_assert_int_eq(scsi_pr_deserialize_ext(&t, &got, &has, b, len), -1);
	b[len - 7] &= 0x07;
	put_be32(&b[len - 4], scsi_pr_crc32c(b, len - 4));

	/* installed on this (write-through, WCE=0) LUN as a peer's record */
	scsi_state_path("mode", "mode", lu->serial, path, sizeof(path));
	ck_assert_int_eq(scsi_pr_install_seq(lu, b, len, 5, false), 0);
	clear_ua(ITN, 0);                               /* every nexus of this node heard of it */
	ck_assert_int_eq(wce_of(0), 1);
	ck_assert_int_eq(wce_of(3), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(ITN2, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2a, 0x01);
	tt_free(x);
	/* SANITIZE state: a running operation on the Primary is an interrupted
	 * one here (failure mode, restricted unless AUSE), idle clears it */
	struct scsi_mode_rec sm_run = m;
	sm_run.sanitize = SCSI_SANITIZE_RUNNING;
	sm_run.san_ause = false;
	size_t slen = scsi_pr_serialize_ext(&s, &sm_run, NULL, 0);
	uint8_t *sb = malloc(slen);
	scsi_pr_serialize_ext(&s, &sm_run, sb, slen);
	ck_assert_int_eq(scsi_pr_deserialize_ext(&t, &got, &has, sb, slen), 0);
	ck_assert(has && got.sanitize == SCSI_SANITIZE_RUNNING && !got.san_ause);
	ck_assert_int_eq(scsi_pr_install_seq(lu, sb, slen, 7, false), 0);
	ck_assert_uint_eq(atomic_load(&lu->sanitize_state), SCSI_SANITIZE_FAILED);
	sm_run.san_ause = true;
	scsi_pr_serialize_ext(&s, &sm_run, sb, slen);
	ck_assert_int_eq(scsi_pr_install_seq(lu, sb, slen, 8, false), 0);
	ck_assert_uint_eq(atomic_load(&lu->sanitize_state), SCSI_SANITIZE_FAILED_AUSE);
	sm_run.sanitize = SCSI_SANITIZE_IDLE;
	scsi_pr_serialize_ext(&s, &sm_run, sb, slen);
	ck_assert_int_eq(scsi_pr_install_seq(lu, sb, slen, 9, false), 0);
	ck_assert_uint_eq(atomic_load(&lu->sanitize_state), SCSI_SANITIZE_IDLE);
	free(sb);
	/* without the section: reservations change, mode parameters stay */
	size_t plen = scsi_pr_serialize(&s, NULL, 0);
	uint8_t *pb = malloc(plen);
	scsi_pr_serialize(&s, pb, plen);
	ck_assert_int_eq(scsi_pr_install_seq(lu, pb, plen, 10, false), 0);
	ck_assert_int_eq(wce_of(0), 1);
	reattach_lun0();                                /* and the saved value is this node's now */
	ck_assert_int_eq(wce_of(0), 1);
	free(b);
	free(pb);
	scsi_pr_state_free(&s);
	scsi_pr_state_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- SPC-2 RESERVE/RELEASE */

START_TEST(reserve6_release6)
{
	ck_assert_int_eq(cdb6_st(ITN, 0x16), GOOD);
	ck_assert_int_eq(cdb6_st(ITN, 0x16), GOOD);             /* again: GOOD */
	ck_assert_int_eq(cdb6_st(ITN2, 0x16), CONFL);
	ck_assert_int_eq(cdb6_st(ITN2, 0x17), GOOD);            /* release by another: no-op */
	ck_assert_int_eq(rw_st(ITN2, false), CONFL);
	ck_assert_int_eq(cdb6_st(ITN2, 0x00), CONFL);           /* TUR too (SPC-2) */
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	struct tt *x = run_cdb(ITN2, 0, inq, 6, SCSI_DIR_READ, 36);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(rw_st(ITN, true), GOOD);
	/* persistent reservation commands conflict while RESERVE is held */
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0), CONFL);
	ck_assert_int_eq(prout_st(ITN2, SCSI_PR_REGISTER, 0, 0, 0xa, 0), CONFL);
	/* RESERVE(10)/RELEASE(10) are the same reservation */
	uint8_t r10[10] = { 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	x = run_cdb(ITN, 0, r10, 10, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(rw_st(ITN2, false), GOOD);
	r10[0] = 0x56;
	r10[1] = 0x02;                                          /* LONGID: third party */
	x = run_cdb(ITN2, 0, r10, 10, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);

	/* nexus loss and LUN reset release it */
	ck_assert_int_eq(cdb6_st(ITN3, 0x16), GOOD);
	ck_assert_int_eq(rw_st(ITN, false), CONFL);
	scsi_itn_destroy(ITN3);
	ITN3 = scsi_itn_create(TGT, INIT3, &PORT);
	clear_ua(ITN3, 0);
	ck_assert_int_eq(rw_st(ITN, false), GOOD);
	ck_assert_int_eq(cdb6_st(ITN2, 0x16), GOOD);
	scsi_lun_reset(TGT, 0, ITN);
	clear_ua(ITN, 0);
	clear_ua(ITN2, 0);
	ck_assert_int_eq(rw_st(ITN, false), GOOD);
	ck_assert_int_eq(cdb6_st(ITN, 0x16), GOOD);
	scsi_target_reset(TGT, ITN);
	clear_ua(ITN, 0);
	clear_ua(ITN2, 0);
	ck_assert_int_eq(cdb6_st(ITN2, 0x16), GOOD);
	ck_assert_int_eq(cdb6_st(ITN2, 0x17), GOOD);

	/* with registrations, RESERVE conflicts (SPC-2 5.5.1) except for the
	 * persistent reservation holder (SPC-4 5.13.3) */
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_REGISTER, 0, 0, 0xa, 0), GOOD);
	ck_assert_int_eq(cdb6_st(ITN2, 0x16), CONFL);
	ck_assert_int_eq(cdb6_st(ITN, 0x16), CONFL);
	ck_assert_int_eq(prout_st(ITN, SCSI_PR_RESERVE, SCSI_PR_WR_EX, 0xa, 0, 0), GOOD);
	ck_assert_int_eq(cdb6_st(ITN, 0x16), GOOD);
	ck_assert_int_eq(cdb6_st(ITN, 0x17), GOOD);
	ck_assert_int_eq(rw_st(ITN2, true), CONFL);             /* the PR is still there */
}
END_TEST

/* ---------------------------------------------------------------- the cache policy of a replicated LUN */

/* A replicated LUN's device as the SCSI layer sees it: its attach installs
 * the record replication holds for the volume (REP_HELD, as repl_lus_attach
 * does), it takes records while this node is Primary (REP_PRIMARY), and it
 * logs flushes ('F') and records ('0'/'1': the record's current WCE) in order.
 * With REP_HOLD, a record waits in REP_PENDING until the test answers it for
 * the peer (rep_answer). */
static uint8_t *REP_HELD;
static size_t REP_HELD_LEN;
static bool REP_PRIMARY;
static char REP_LOG[32];
static bool REP_HOLD;
static struct bdev_io *REP_PENDING;

static void rep_log(char c)
{
	size_t n = strlen(REP_LOG);
	ck_assert_uint_lt(n + 1, sizeof(REP_LOG));
	REP_LOG[n] = c;
	REP_LOG[n + 1] = 0;
}

static void rep_submit(struct bdev *b, struct bdev_io *io)
{
	if (io->type == BDEV_IO_FLUSH) {
		rep_log('F');
	} else if (io->type == BDEV_IO_STATE) {
		struct scsi_pr_state st;
		struct scsi_mode_rec m;
		bool has_mode;
		scsi_pr_state_init(&st);
		ck_assert_int_eq(scsi_pr_deserialize_ext(&st, &m, &has_mode, io->iov[0].iov_base, io->len), 0);
		ck_assert(has_mode);
		rep_log(m.wce ? '1' : '0');
		scsi_pr_state_free(&st);
		if (REP_HOLD) {
			ck_assert_ptr_null(REP_PENDING);
			REP_PENDING = io;
			return;
		}
	}
	mem_submit(b, io);
}

static void rep_answer(int status)
{
	struct bdev_io *io = REP_PENDING;
	ck_assert_ptr_nonnull(io);
	REP_PENDING = NULL;
	bdev_complete_later(io, status);
	for (int i = 0; i < 50; i++)
		reactor_poll_once(R, 1);
}

static int rep_state_attach(struct bdev *b, const struct bdev_state_handler *h, void *arg)
{
	(void)b;
	if (h && REP_HELD)
		ck_assert_int_eq(h->install(arg, REP_HELD, REP_HELD_LEN, 1, true), 0);
	return 0;
}

static bool rep_state_writable(struct bdev *b)
{
	(void)b;
	return REP_PRIMARY;
}

static const struct bdev_ops rep_ops = { .name = "rep", .close = harness_medium_close, .submit = rep_submit,
					 .state_attach = rep_state_attach, .state_writable = rep_state_writable };

static void rep_attach(uint32_t lun, enum tconf_cache cache)
{
	struct mem_priv *m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	harness_attach(TGT, &(struct harness_lun){ .lun = lun, .nblocks = NBLOCKS, .bs = 512, .cache = cache,
						   .ops = &rep_ops, .priv = m, .name = "rep" }, &m->data);
	clear_ua(ITN, lun);
}

/* current (pc 0) or saved (pc 3) WCE of LUN lun */
static int wce_of_lun(uint64_t lun, int pc)
{
	uint8_t cdb[6] = { 0x1a, 0x08, (uint8_t)(pc << 6 | 0x08), 0, 255, 0 };
	struct tt *x = run_cdb(ITN, lun, cdb, 6, SCSI_DIR_READ, 255);
	CHECK_GOOD(x);
	int wce = (x->t.buf[4 + 2] & 0x04) != 0;
	tt_free(x);
	return wce;
}

/* the nexus learns of the change: MODE PARAMETERS CHANGED, once */
static void expect_mode_changed_ua(uint64_t lun)
{
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(ITN, lun, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2a, 0x01);
	tt_free(x);
	clear_ua(ITN, lun);
}

static void pump_all(void)
{
	for (int i = 0; i < 50; i++)
		reactor_poll_once(R, 1);
}

/* The reload's calls, made on the reactor: the harness has no reactor pool
 * for the flush to go to, as tandemd's control thread has. */
struct policy_call {
	uint32_t lun;
	enum tconf_cache cache;
	bool came_back;
	int rc;
};

static void policy_call_fn(void *arg)
{
	struct policy_call *c = arg;
	c->rc = c->came_back ? scsi_target_lun_cache_came_back(TGT, c->lun, c->cache)
			     : scsi_target_set_lun_cache(TGT, c->lun, c->cache);
}

static int policy_call(bool came_back, uint32_t lun, enum tconf_cache cache)
{
	struct policy_call c = { .lun = lun, .cache = cache, .came_back = came_back, .rc = 99 };
	reactor_post(R, policy_call_fn, &c);
	pump_all();
	ck_assert_int_ne(c.rc, 99);
	return c.rc;
}

/* A reload that changes a replicated LUN's cache policy: in place, the
 * Primary's WCE follows the policy and the peer gets it (flush first when WCE
 * goes off). Removed and added back (another path, say), the LUN's attach got
 * the mode parameters of the record replication held, made under the old
 * policy: before, a LUN configured write-through went on acknowledging writes
 * from a volatile cache (WCE=1) on both nodes. A Secondary's values stay the
 * Primary's. */
START_TEST(replicated_policy_change)
{
	const uint32_t L = 4;
	REP_PRIMARY = true;
	REP_HELD = NULL;
	REP_LOG[0] = 0;
	rep_attach(L, TCONF_CACHE_WRITE_BACK);
	ck_assert_int_eq(wce_of_lun(L, 0), 1);
	pump_all();
	REP_LOG[0] = 0;

	/* in place: flush, then the record with WCE=0 */
	ck_assert_int_eq(policy_call(false, L, TCONF_CACHE_WRITE_THROUGH), 0);
	pump_all();
	ck_assert_str_eq(REP_LOG, "F0");
	expect_mode_changed_ua(L);
	ck_assert_int_eq(wce_of_lun(L, 0), 0);
	REP_LOG[0] = 0;
	ck_assert_int_eq(policy_call(false, L, TCONF_CACHE_WRITE_BACK), 0);
	pump_all();
	ck_assert_str_eq(REP_LOG, "1");                 /* WCE on: nothing to flush */
	expect_mode_changed_ua(L);
	ck_assert_int_eq(wce_of_lun(L, 0), 1);

	/* removed and added back write-through, replication holding a record
	 * made under write-back (WCE=1, saved 1) */
	struct scsi_pr_state st;
	struct scsi_mode_rec m = { .wce = true, .wce_saved = true };
	scsi_pr_state_init(&st);
	REP_HELD_LEN = scsi_pr_serialize_ext(&st, &m, NULL, 0);
	REP_HELD = malloc(REP_HELD_LEN);
	ck_assert_ptr_nonnull(REP_HELD);
	ck_assert_uint_eq(scsi_pr_serialize_ext(&st, &m, REP_HELD, REP_HELD_LEN), REP_HELD_LEN);
	ck_assert_int_eq(scsi_target_remove_lun(TGT, L), 0);
	rep_attach(L, TCONF_CACHE_WRITE_THROUGH);
	pump_all();
	ck_assert_int_eq(wce_of_lun(L, 0), 1);          /* the held record's, as the attach installs it */
	REP_LOG[0] = 0;
	ck_assert_int_eq(policy_call(true, L, TCONF_CACHE_WRITE_BACK), 0);
	pump_all();
	ck_assert_str_eq(REP_LOG, "F0");
	expect_mode_changed_ua(L);
	ck_assert_int_eq(wce_of_lun(L, 0), 0);
	ck_assert_int_eq(wce_of_lun(L, 3), 0);
	REP_LOG[0] = 0;
	ck_assert_int_eq(policy_call(true, L, TCONF_CACHE_WRITE_BACK), 0);
	pump_all();
	ck_assert_str_eq(REP_LOG, "");                  /* already the policy's: nothing */

	/* the same on a Secondary: the Primary's WCE=1 stays, nothing is sent */
	REP_PRIMARY = false;
	ck_assert_int_eq(scsi_target_remove_lun(TGT, L), 0);
	rep_attach(L, TCONF_CACHE_WRITE_THROUGH);
	pump_all();
	REP_LOG[0] = 0;
	ck_assert_int_eq(policy_call(true, L, TCONF_CACHE_WRITE_BACK), 0);
	pump_all();
	ck_assert_str_eq(REP_LOG, "");
	ck_assert_int_eq(wce_of_lun(L, 0), 1);
	ck_assert_int_eq(policy_call(true, L + 1, TCONF_CACHE_WRITE_BACK), -1);
	free(REP_HELD);
	REP_HELD = NULL;
}
END_TEST

/* A MODE SELECT on the Primary of a replicated LUN: the other nexuses' MODE
 * PARAMETERS CHANGED comes once the peer holds the record, with the GOOD
 * (before, at once: a Primary lost before the peer held the record left them
 * with a change the promoted peer had never seen, and no attention when the
 * old values came back). A record that failed: the values changed here, so
 * they hear of it all the same. */
START_TEST(mode_changed_ua_after_peer_holds)
{
	const uint32_t L = 4;
	uint8_t tur[6] = { 0 };
	uint8_t pl[4 + 20] = { 0 };
	struct tt *x, *y;

	REP_PRIMARY = true;
	REP_HELD = NULL;
	rep_attach(L, TCONF_CACHE_WRITE_BACK);
	clear_ua(ITN2, L);
	pump_all();
	REP_LOG[0] = 0;
	REP_HOLD = true;
	pl[4] = 0x08;                                   /* caching page, WCE=0 */
	pl[5] = 0x12;
	x = tt_new(ITN, L, (const uint8_t[6]){ 0x15, 0x10, 0, 0, sizeof(pl), 0 }, 6, SCSI_DIR_WRITE, sizeof(pl));
	memcpy(x->t.buf, pl, sizeof(pl));
	reactor_post(R, tt_exec_fn, &x->t);
	pump_all();
	ck_assert_str_eq(REP_LOG, "F0");                /* flushed, the record sent */
	ck_assert_int_eq(x->completions, 0);            /* no answer before the peer holds it */
	y = run_cdb(ITN2, L, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(y);                                  /* nor an attention */
	tt_free(y);
	rep_answer(0);
	ck_assert_int_eq(x->completions, 1);
	CHECK_GOOD(x);
	tt_free(x);
	y = run_cdb(ITN2, L, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(y, SK_UNIT_ATTENTION, 0x2a, 0x01);
	tt_free(y);
	clear_ua(ITN2, L);
	y = run_cdb(ITN, L, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(y);                                  /* not the nexus that made the change */
	tt_free(y);

	/* the record fails (demoted meanwhile): an error, and the attention */
	pl[6] = 0x04;                                   /* WCE=1 */
	x = tt_new(ITN, L, (const uint8_t[6]){ 0x15, 0x10, 0, 0, sizeof(pl), 0 }, 6, SCSI_DIR_WRITE, sizeof(pl));
	memcpy(x->t.buf, pl, sizeof(pl));
	reactor_post(R, tt_exec_fn, &x->t);
	pump_all();
	ck_assert_int_eq(x->completions, 0);
	y = run_cdb(ITN2, L, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(y);
	tt_free(y);
	rep_answer(-ESTALE);
	ck_assert_int_eq(x->completions, 1);
	ck_assert_int_eq(x->t.status, SCSI_STATUS_CHECK_CONDITION);
	tt_free(x);
	y = run_cdb(ITN2, L, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(y, SK_UNIT_ATTENTION, 0x2a, 0x01);
	tt_free(y);
	REP_HOLD = false;
}
END_TEST

static Suite *pr_suite(void)
{
	Suite *s = suite_create("scsi_pr");
	TCase *tc = tcase_create("state");
	tcase_add_test(tc, state_machine_table);
	tcase_add_test(tc, register_and_move);
	tcase_add_test(tc, record_roundtrip_and_corruption);
	suite_add_tcase(s, tc);

	tc = tcase_create("commands");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conflicts_per_type);
	tcase_add_test(tc, aptpl_file_per_serial);
	tcase_add_test(tc, prin_reports);
	tcase_add_test(tc, bad_parameter_lists);
	tcase_add_test(tc, fuzz_prout);
	tcase_add_test(tc, unit_attentions_and_abort);
	tcase_add_test(tc, preempt_and_abort_own_key);
	tcase_add_test(tc, registration_survives_nexus_loss);
	tcase_add_test(tc, aptpl_restore);
	tcase_add_test(tc, install_snapshot);
	tcase_add_test(tc, mode_saved_survives_restart);
	tcase_add_test(tc, record_carries_mode);
	tcase_add_test(tc, mode_select_retry_after_failed_flush);
	tcase_add_test(tc, mode_changed_ua_after_peer_holds);
	tcase_add_test(tc, reserve6_release6);
	tcase_add_test(tc, replicated_policy_change);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pr_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

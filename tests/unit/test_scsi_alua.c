/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of ALUA (SPC-4 5.15) and the identity/misc commands that go with
 * it, so an HA pair's behaviour towards ESXi and dm-multipath is pinned down
 * byte by byte: config of target port groups, TPGS, VPD 83h designators,
 * REPORT/SET TARGET PORT GROUPS, per-state allow lists with exact sense, the
 * ASYMMETRIC ACCESS STATE CHANGED unit attention on every nexus, REPORT
 * SUPPORTED TMFs / OPCODES, READ DEFECT DATA and WRITE ATOMIC(16). */
#include "scsi_test_harness.h"
#include "scsi/alua.h"
#include "util/json.h"

#define NBLOCKS 2048u

/* Two nodes' worth of topology as node A sees it: its portal groups pg1 (rel 1,
 * group a) and pg2 (rel 2, group b), and the peer's port 5 in group b. */
static const char CONF[] =
	"alua_group a {\n"
	"  id: 1\n"
	"  state: active-optimized\n"
	"}\n"
	"alua_group b {\n"
	"  id: 2\n"
	"  state: standby\n"
	"  peer_port: 5\n"
	"}\n"
	"portal_group pg1 {\n"
	"  tag: 1\n"
	"  listen: 127.0.0.1:3303\n"
	"  alua_group: a\n"
	"}\n"
	"portal_group pg2 {\n"
	"  tag: 2\n"
	"  listen: 127.0.0.1:3304\n"
	"  alua_group: b\n"
	"}\n"
	"target " TGT_NAME " {\n"
	"  lun 0 {\n"
	"    backend: null\n"
	"    size: 1M\n"
	"  }\n"
	"}\n";

static struct tconf *CF;
static struct scsi_itn *NA, *NA2, *NB;  /* two nexuses on port 1 (group a), one on port 2 (group b) */
static struct scsi_port PA = { .rel_port_id = 1, .tpg_id = 1, .name = TGT_NAME ",t,0x0001" };
static struct scsi_port PB = { .rel_port_id = 2, .tpg_id = 2, .name = TGT_NAME ",t,0x0002" };

static void setup(void)
{
	char err[256];
	CF = tconf_load_string("alua.conf", CONF, err, sizeof(err));
	ck_assert_msg(CF != NULL, "%s", err);
	ck_assert_int_eq(scsi_alua_configure(CF, err, sizeof(err)), 0);
	harness_start();
	mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, false);
	mem_attach(TGT, 1, NBLOCKS, 512, TCONF_CACHE_WRITE_THROUGH, false);
	harness_nexus();        /* ITN/ITN2 on a port without a group (tpg 0): always active */
	NA = scsi_itn_create(TGT, "iqn.1994-05.com.example:a,i,0x1", &PA);
	NA2 = scsi_itn_create(TGT, "iqn.1994-05.com.example:a2,i,0x2", &PA);
	NB = scsi_itn_create(TGT, "iqn.1994-05.com.example:b,i,0x3", &PB);
	for (int l = 0; l < 2; l++) {
		clear_ua(NA, l);
		clear_ua(NA2, l);
	}
	/* NB's port is in standby: TUR is refused, so clear with INQUIRY-proof REQUEST SENSE */
	for (int l = 0; l < 2; l++)
		for (int i = 0; i < 4; i++) {
			uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
			tt_free(run_cdb(NB, l, rs, 6, SCSI_DIR_READ, 18));
		}
	ck_assert(!scsi_ua_any(NA) && !scsi_ua_any(NA2) && !scsi_ua_any(NB));
}

static void teardown(void)
{
	scsi_itn_destroy(NA);
	scsi_itn_destroy(NA2);
	scsi_itn_destroy(NB);
	harness_stop();
	tconf_free(CF);
}

static struct tt *rtpg(struct scsi_itn *itn, uint8_t fmt, uint32_t alloc)
{
	uint8_t c[12] = { 0xa3, (uint8_t)(fmt << 5 | 0x0a) };
	put_be32(&c[6], alloc);
	return run_cdb(itn, 0, c, 12, SCSI_DIR_READ, alloc);
}

static struct tt *stpg(struct scsi_itn *itn, const uint8_t *list, uint32_t len)
{
	uint8_t c[12] = { 0xa4, 0x0a };
	put_be32(&c[6], len);
	struct tt *x = tt_new(itn, 0, c, 12, SCSI_DIR_WRITE, len);
	memcpy(x->t.buf, list, len);
	tt_run(x);
	return x;
}

static enum scsi_alua_state state_of(uint16_t id)
{
	enum scsi_alua_state st;
	ck_assert_int_eq(scsi_alua_get_state(id, &st), 0);
	return st;
}

/* The next command on (itn, lun) reports exactly this UA, and then none. */
static void expect_ua(struct scsi_itn *itn, uint64_t lun, uint8_t asc, uint8_t ascq)
{
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	/* INQUIRY never reports a UA (SAM-5 5.14); REQUEST SENSE returns it. */
	struct tt *x = run_cdb(itn, lun, inq, 6, SCSI_DIR_READ, 36);
	CHECK_GOOD(x);
	tt_free(x);
	x = run_cdb(itn, lun, rs, 6, SCSI_DIR_READ, 18);
	CHECK_GOOD(x);
	ck_assert_msg(x->t.buf[2] == SK_UNIT_ATTENTION && x->t.buf[12] == asc && x->t.buf[13] == ascq,
		      "lun %u: sense %x/%02x/%02x, want 6/%02x/%02x", (unsigned)lun, x->t.buf[2], x->t.buf[12],
		      x->t.buf[13], asc, ascq);
	tt_free(x);
	x = run_cdb(itn, lun, rs, 6, SCSI_DIR_READ, 18);
	ck_assert_int_eq(x->t.buf[2], SK_NO_SENSE);
	tt_free(x);
}

static void expect_no_ua(struct scsi_itn *itn, uint64_t lun)
{
	uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	struct tt *x = run_cdb(itn, lun, rs, 6, SCSI_DIR_READ, 18);
	ck_assert_msg(x->t.buf[2] == SK_NO_SENSE, "lun %u: unexpected sense %x/%02x/%02x", (unsigned)lun,
		      x->t.buf[2], x->t.buf[12], x->t.buf[13]);
	tt_free(x);
}

/* ---------------------------------------------------------------- config */

START_TEST(config_groups_and_ports)
{
	ck_assert_int_eq(CF->nalua_groups, 2);
	ck_assert_str_eq(CF->alua_groups[1].name, "b");
	ck_assert_int_eq(CF->alua_groups[1].id, 2);
	ck_assert_int_eq(CF->alua_groups[1].state, TCONF_ALUA_STANDBY);
	ck_assert_int_eq(CF->alua_groups[1].npeer_ports, 1);
	ck_assert_int_eq(CF->alua_groups[1].peer_ports[0], 5);
	ck_assert_int_eq(CF->portal_groups[0].alua_group_id, 1);
	ck_assert_int_eq(CF->portal_groups[1].alua_group_id, 2);
	ck_assert_int_eq(CF->portal_groups[0].rel_port_id, 1);   /* default: the tag */
	ck_assert_int_eq(CF->portal_groups[1].rel_port_id, 2);
	ck_assert_int_eq(state_of(1), SCSI_ALUA_ACTIVE_OPTIMIZED);
	ck_assert_int_eq(state_of(2), SCSI_ALUA_STANDBY);

	char err[256];
	/* no alua_group: one implicit group 1, rel_port_id overrides the tag */
	struct tconf *c = tconf_load_string("x", "portal_group p { tag: 7\n listen: 127.0.0.1:3999\n rel_port_id: 33 }\n"
					   "target iqn.2026-11.org.tandem:x { lun 0 { backend: null\n size: 1M } }\n",
					   err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->nalua_groups, 0);
	ck_assert_int_eq(c->portal_groups[0].alua_group_id, 1);
	ck_assert_int_eq(c->portal_groups[0].rel_port_id, 33);
	tconf_free(c);
	/* the embedded default too */
	c = tconf_default();
	ck_assert_int_eq(c->portal_groups[0].alua_group_id, 1);
	ck_assert_int_eq(c->portal_groups[0].rel_port_id, 1);
	tconf_free(c);
}
END_TEST

static void conf_error(const char *text, const char *want)
{
	char err[256] = "";
	struct tconf *c = tconf_load_string("bad.conf", text, err, sizeof(err));
	ck_assert_msg(c == NULL, "accepted: %s", text);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s', want '%s'", err, want);
}

#define PG(n, tag, port, extra) "portal_group " n " {\n tag: " #tag "\n listen: 127.0.0.1:" #port "\n" extra "}\n"
#define TG "target iqn.2026-11.org.tandem:x {\n lun 0 {\n backend: null\n size: 1M\n }\n}\n"

START_TEST(config_errors)
{
	conf_error("alua_group a {\n state: standby\n}\n" PG("p", 1, 3901, " alua_group: a\n") TG,
		   "bad.conf:1: missing required key 'id' in section 'alua_group'");
	conf_error("alua_group a {\n id: 1\n state: sleepy\n}\n" TG, "bad.conf:3: invalid value 'sleepy' for 'state'");
	conf_error("alua_group a {\n id: 1\n}\nalua_group b {\n id: 1\n}\n" TG, "bad.conf:5: duplicate alua_group id 1");
	conf_error("alua_group a {\n id: 1\n}\nalua_group a {\n id: 2\n}\n" TG, "bad.conf:4: duplicate alua_group 'a'");
	conf_error("alua_group a {\n id: 70000\n}\n" TG, "bad.conf:2: value 70000 for 'id' is out of range");
	conf_error("alua_group a {\n id: 1\n}\n" PG("p", 1, 3901, " alua_group: zz\n") TG,
		   "bad.conf:7: portal_group 'p' refers to unknown alua_group 'zz'");
	conf_error("alua_group a {\n id: 1\n}\n" PG("p", 1, 3901, "") TG,
		   "bad.conf:4: portal_group 'p' needs 'alua_group: NAME'");
	conf_error(PG("p", 1, 3901, "") PG("q", 2, 3902, " rel_port_id: 1\n") TG,
		   "bad.conf:5: duplicate relative target port id 1 (also portal_group 'p' at line 1)");
	conf_error("alua_group a {\n id: 1\n peer_port: 1\n}\n" PG("p", 1, 3901, " alua_group: a\n") TG,
		   "bad.conf:1: peer_port 1 of alua_group 'a' is this node's portal_group 'p'");
	conf_error("alua_group a {\n id: 1\n bogus: 1\n}\n" TG, "bad.conf:3: unknown key 'bogus' in section 'alua_group'");
	conf_error(PG("p", 1, 3901, " rel_port_id: 0\n") TG, "bad.conf:4: value 0 for 'rel_port_id' is out of range");
}
END_TEST

/* ---------------------------------------------------------------- INQUIRY */

START_TEST(inquiry_tpgs)
{
	uint8_t c[6] = { 0x12, 0, 0, 0, 96, 0 };
	struct tt *x = run_cdb(NA, 0, c, 6, SCSI_DIR_READ, 96);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[5] & 0x30, 0x30);     /* implicit and explicit ALUA */
	tt_free(x);
	/* also on a standby port, and for a LUN that does not exist */
	x = run_cdb(NB, 9, c, 6, SCSI_DIR_READ, 96);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[0], 0x7f);
	tt_free(x);
}
END_TEST

/* VPD 83h on port 2: relative target port 2 (type 4) and group 2 (type 5). */
START_TEST(vpd83_port_designators)
{
	uint8_t c[6] = { 0x12, 0x01, 0x83, 0x04, 0x00, 0 };
	struct tt *x = run_cdb(NB, 0, c, 6, SCSI_DIR_READ, 1024);
	CHECK_GOOD(x);
	const uint8_t *d = x->t.buf, *end = d + 4 + get_be16(&d[2]);
	bool rel = false, tpg = false, naa = false, t10 = false;
	for (const uint8_t *p = d + 4; p < end; p += 4 + p[3]) {
		uint8_t assoc = (p[1] >> 4) & 3, type = p[1] & 0x0f;
		if (assoc == 1 && type == 4) {
			ck_assert_int_eq(p[0], 0x51);
			ck_assert_int_eq(p[1], 0x94);
			ck_assert_int_eq(get_be16(&p[6]), 2);
			rel = true;
		}
		if (assoc == 1 && type == 5) {
			ck_assert_int_eq(p[0], 0x51);
			ck_assert_int_eq(p[1], 0x95);
			ck_assert_int_eq(p[3], 4);
			ck_assert_int_eq(get_be16(&p[6]), 2);
			tpg = true;
		}
		if (assoc == 0 && type == 3)
			naa = true;
		if (assoc == 0 && type == 1) {
			char serial[65];
			scsi_lun_default_identity(TGT_NAME, 0, serial, NULL, NULL);
			ck_assert_int_eq(p[3], 8 + strlen(serial));
			ck_assert(memcmp(&p[12], serial, strlen(serial)) == 0);
			t10 = true;
		}
	}
	ck_assert(rel && tpg && naa && t10);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- RTPG */

static const uint8_t RTPG_DESCS[] = {
	0x00, 0x8f, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,   /* group 1: A/O, no status, 1 port */
	0x00, 0x00, 0x00, 0x01,
	0x02, 0x8f, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,   /* group 2: standby, 2 ports */
	0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x05,
};

START_TEST(rtpg_two_groups)
{
	struct tt *x = rtpg(NA, 0, 4096);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4 + sizeof(RTPG_DESCS));
	ck_assert_int_eq(get_be32(x->t.buf), sizeof(RTPG_DESCS));
	ck_assert(memcmp(&x->t.buf[4], RTPG_DESCS, sizeof(RTPG_DESCS)) == 0);
	tt_free(x);

	/* extended header: format type 1, implicit transition time */
	x = rtpg(NA, 1, 4096);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 8 + sizeof(RTPG_DESCS));
	ck_assert_int_eq(get_be32(x->t.buf), sizeof(RTPG_DESCS));
	ck_assert_int_eq(x->t.buf[4], 0x10);
	ck_assert_int_eq(x->t.buf[5], 30);
	ck_assert(memcmp(&x->t.buf[8], RTPG_DESCS, sizeof(RTPG_DESCS)) == 0);
	tt_free(x);

	/* short allocation length: truncated, the length still counts everything */
	x = rtpg(NA, 0, 10);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 10);
	ck_assert_int_eq(get_be32(x->t.buf), sizeof(RTPG_DESCS));
	tt_free(x);

	/* served on the standby port too, with the same answer */
	x = rtpg(NB, 0, 4096);
	CHECK_GOOD(x);
	ck_assert(memcmp(&x->t.buf[4], RTPG_DESCS, sizeof(RTPG_DESCS)) == 0);
	tt_free(x);

	/* after an implicit change: new state and status code 02h */
	ck_assert_int_eq(scsi_alua_set_state(2, SCSI_ALUA_ACTIVE_NONOPTIMIZED), 0);
	x = rtpg(NA2, 0, 4096);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2a, 0x06);      /* RTPG is not exempt from the UA */
	tt_free(x);
	x = rtpg(NA2, 0, 4096);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[4 + 12], 0x01);
	ck_assert_int_eq(x->t.buf[4 + 12 + 5], 0x02);
	tt_free(x);

	/* reserved format 2 */
	x = rtpg(NA2, 2, 4096);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- STPG */

START_TEST(stpg_valid)
{
	/* swap: group 2 active/optimized, group 1 standby */
	const uint8_t list[] = { 0, 0, 0, 0, 0x00, 0, 0x00, 0x02, 0x02, 0, 0x00, 0x01 };
	struct tt *x = stpg(NA, list, sizeof(list));
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(state_of(1), SCSI_ALUA_STANDBY);
	ck_assert_int_eq(state_of(2), SCSI_ALUA_ACTIVE_OPTIMIZED);
	/* SPC-4 5.15.2.5: every nexus but the one the STPG came on */
	expect_no_ua(NA, 0);
	expect_ua(NA2, 0, 0x2a, 0x06);
	expect_ua(NB, 0, 0x2a, 0x06);
	expect_ua(NB, 1, 0x2a, 0x06);
	/* status code 01h: altered by SET TARGET PORT GROUPS */
	x = rtpg(NB, 0, 4096);
	ck_assert_int_eq(x->t.buf[4], 0x02);
	ck_assert_int_eq(x->t.buf[4 + 5], 0x01);
	ck_assert_int_eq(x->t.buf[4 + 12], 0x00);
	ck_assert_int_eq(x->t.buf[4 + 12 + 5], 0x01);
	tt_free(x);
	/* STPG is allowed from a standby port (group 1 is standby now) */
	const uint8_t back[] = { 0, 0, 0, 0, 0x00, 0, 0x00, 0x01 };
	x = stpg(NA, back, sizeof(back));
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(state_of(1), SCSI_ALUA_ACTIVE_OPTIMIZED);
	/* empty parameter list: nothing changes */
	x = stpg(NA, back, 0);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

START_TEST(stpg_invalid)
{
	struct tt *x;
	/* not a header plus whole descriptors */
	const uint8_t l6[] = { 0, 0, 0, 0, 0, 0 };
	x = stpg(NA, l6, sizeof(l6));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* Transitioning cannot be requested: field pointer to byte 4 */
	const uint8_t ltr[] = { 0, 0, 0, 0, 0x0f, 0, 0x00, 0x02 };
	x = stpg(NA, ltr, sizeof(ltr));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[15] & 0xc0, 0x80);  /* SKSV, C/D=0 (parameter list) */
	ck_assert_int_eq(get_be16(&x->t.sense[16]), 4);
	tt_free(x);
	/* unknown group (second descriptor): nothing of the list is applied */
	const uint8_t lunk[] = { 0, 0, 0, 0, 0x00, 0, 0x00, 0x02, 0x00, 0, 0x00, 0x09 };
	x = stpg(NA, lunk, sizeof(lunk));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(get_be16(&x->t.sense[16]), 10);
	tt_free(x);
	ck_assert_int_eq(state_of(2), SCSI_ALUA_STANDBY);
	/* reserved bits in the state byte */
	const uint8_t lres[] = { 0, 0, 0, 0, 0x40, 0, 0x00, 0x02 };
	x = stpg(NA, lres, sizeof(lres));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	/* unknown MAINTENANCE OUT service action */
	uint8_t c[12] = { 0xa4, 0x06 };
	x = run_cdb(NA, 0, c, 12, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	expect_no_ua(NA2, 0);
	expect_no_ua(NB, 0);
}
END_TEST

/* ---------------------------------------------------------------- allow lists */

struct op_case {
	const char *name;
	uint8_t cdb[16];
	uint8_t len;
	enum scsi_dir dir;
	uint32_t edtl;
	uint8_t allowed;            /* bit 0 standby, 1 unavailable, 2 transitioning */
};

#define S 1
#define U 2
#define T 4
static const struct op_case OPS[] = {
	{ "TEST UNIT READY", { 0x00 }, 6, SCSI_DIR_NONE, 0, 0 },
	{ "READ(10)", { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, SCSI_DIR_READ, 512, 0 },
	{ "WRITE(10)", { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, SCSI_DIR_WRITE, 512, 0 },
	{ "READ(16)", { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }, 16, SCSI_DIR_READ, 512, 0 },
	{ "SYNCHRONIZE CACHE(10)", { 0x35 }, 10, SCSI_DIR_NONE, 0, 0 },
	{ "VERIFY(10)", { 0x2f }, 10, SCSI_DIR_NONE, 0, 0 },
	{ "START STOP UNIT", { 0x1b, 0, 0, 0, 1, 0 }, 6, SCSI_DIR_NONE, 0, 0 },
	{ "INQUIRY", { 0x12, 0, 0, 0, 36, 0 }, 6, SCSI_DIR_READ, 36, S | U | T },
	{ "REPORT LUNS", { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 }, 12, SCSI_DIR_READ, 256, S | U | T },
	{ "REQUEST SENSE", { 0x03, 0, 0, 0, 18, 0 }, 6, SCSI_DIR_READ, 18, S | U | T },
	{ "MODE SENSE(6)", { 0x1a, 0, 0x3f, 0, 255, 0 }, 6, SCSI_DIR_READ, 255, S },
	{ "MODE SENSE(10)", { 0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0 }, 10, SCSI_DIR_READ, 256, S },
	{ "READ CAPACITY(10)", { 0x25 }, 10, SCSI_DIR_READ, 8, S },
	{ "READ CAPACITY(16)", { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 }, 16, SCSI_DIR_READ, 32, S },
	{ "REPORT TARGET PORT GROUPS", { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 }, 12, SCSI_DIR_READ, 256, S | U | T },
	{ "REPORT SUPPORTED OPCODES", { 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 }, 12, SCSI_DIR_READ, 4096, S },
	{ "REPORT SUPPORTED TMFS", { 0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0 }, 12, SCSI_DIR_READ, 4, S },
	{ "SET TARGET PORT GROUPS (empty)", { 0xa4, 0x0a }, 12, SCSI_DIR_NONE, 0, S | U },
};

static void check_state(enum scsi_alua_state st, uint8_t bit, uint8_t ascq)
{
	ck_assert_int_eq(scsi_alua_set_state(1, st), 0);
	clear_ua(NA, 0);
	for (size_t i = 0; i < ARRAY_SIZE(OPS); i++) {
		const struct op_case *o = &OPS[i];
		struct tt *x = run_cdb(NA, 0, o->cdb, o->len, o->dir, o->edtl);
		if (o->allowed & bit) {
			ck_assert_msg(x->t.status == SCSI_STATUS_GOOD, "%s in %s: status %02x sense %x/%02x/%02x", o->name,
				      scsi_alua_state_name(st), x->t.status, x->t.sense[2], x->t.sense[12], x->t.sense[13]);
		} else {
			ck_assert_msg(x->t.status == SCSI_STATUS_CHECK_CONDITION && x->t.sense[2] == SK_NOT_READY &&
					      x->t.sense[12] == 0x04 && x->t.sense[13] == ascq,
				      "%s in %s: status %02x sense %x/%02x/%02x, want 2/04/%02x", o->name,
				      scsi_alua_state_name(st), x->t.status, x->t.sense[2], x->t.sense[12],
				      x->t.sense[13], ascq);
			ck_assert_int_eq(x->t.data_len, 0);
		}
		tt_free(x);
	}
	/* a LUN that does not exist is still LOGICAL UNIT NOT SUPPORTED, an
	 * existing one never is (ESXi: PDL) */
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(NA, 7, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x25, 0x00);
	tt_free(x);
	/* the other group's port is unaffected */
	ck_assert_int_eq(scsi_alua_set_state(2, SCSI_ALUA_ACTIVE_NONOPTIMIZED), 0);
	clear_ua(NB, 0);
	x = run_cdb(NB, 0, OPS[1].cdb, OPS[1].len, OPS[1].dir, OPS[1].edtl);
	CHECK_GOOD(x);
	tt_free(x);
}

START_TEST(allow_standby)
{
	check_state(SCSI_ALUA_STANDBY, S, 0x0b);
}
END_TEST

START_TEST(allow_unavailable)
{
	check_state(SCSI_ALUA_UNAVAILABLE, U, 0x0c);
}
END_TEST

START_TEST(allow_transitioning)
{
	check_state(SCSI_ALUA_TRANSITIONING, T, 0x0a);
}
END_TEST

START_TEST(active_states_serve_io)
{
	ck_assert_int_eq(scsi_alua_set_state(1, SCSI_ALUA_ACTIVE_NONOPTIMIZED), 0);
	clear_ua(NA, 0);
	for (size_t i = 0; i < ARRAY_SIZE(OPS); i++) {
		struct tt *x = run_cdb(NA, 0, OPS[i].cdb, OPS[i].len, OPS[i].dir, OPS[i].edtl);
		ck_assert_msg(x->t.status == SCSI_STATUS_GOOD, "%s: %x/%02x/%02x", OPS[i].name, x->t.sense[2],
			      x->t.sense[12], x->t.sense[13]);
		tt_free(x);
	}
}
END_TEST

/* ---------------------------------------------------------------- unit attention */

START_TEST(ua_every_nexus)
{
	ck_assert_int_eq(scsi_alua_set_state(2, SCSI_ALUA_ACTIVE_OPTIMIZED), 0);
	/* every nexus of every LUN, including those on the changed group's port */
	for (int l = 0; l < 2; l++) {
		expect_ua(NA, l, 0x2a, 0x06);
		expect_ua(NA2, l, 0x2a, 0x06);
		expect_ua(NB, l, 0x2a, 0x06);
	}
	/* setting the same state again is no change */
	ck_assert_int_eq(scsi_alua_set_state(2, SCSI_ALUA_ACTIVE_OPTIMIZED), 0);
	expect_no_ua(NA, 0);
	expect_no_ua(NB, 1);
	/* the UA is reported before the state's NOT READY */
	ck_assert_int_eq(scsi_alua_set_state(1, SCSI_ALUA_STANDBY), 0);
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(NA, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2a, 0x06);
	tt_free(x);
	x = run_cdb(NA, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_NOT_READY, 0x04, 0x0b);
	tt_free(x);
	/* a nexus created after the change has only its POWER ON */
	struct scsi_itn *n = scsi_itn_create(TGT, "iqn.1994-05.com.example:new,i,0x9", &PB);
	expect_ua(n, 0, 0x29, 0x00);
	expect_no_ua(n, 0);
	scsi_itn_destroy(n);
}
END_TEST

START_TEST(api_names_and_errors)
{
	enum scsi_alua_state st;
	uint16_t id;
	ck_assert_int_eq(scsi_alua_set_state(9, SCSI_ALUA_STANDBY), -1);
	ck_assert_int_eq(scsi_alua_set_state(1, (enum scsi_alua_state)4), -1);
	ck_assert_int_eq(scsi_alua_get_state(9, &st), -1);
	ck_assert_int_eq(scsi_alua_find_group("b", &id), 0);
	ck_assert_int_eq(id, 2);
	ck_assert_int_eq(scsi_alua_find_group("1", &id), 0);
	ck_assert_int_eq(id, 1);
	ck_assert_int_eq(scsi_alua_find_group("3", &id), -1);
	ck_assert_int_eq(scsi_alua_find_group("zz", &id), -1);
	ck_assert_int_eq(scsi_alua_find_group("1x", &id), -1);
	const char *names[] = { "active-optimized", "active-nonoptimized", "standby", "unavailable", "transitioning" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		ck_assert_int_eq(scsi_alua_state_from_name(names[i], &st), 0);
		ck_assert_str_eq(scsi_alua_state_name(st), names[i]);
	}
	ck_assert_int_eq(scsi_alua_state_from_name("offline", &st), -1);

	struct json_writer w;
	json_init(&w);
	json_obj_begin(&w, NULL);
	scsi_alua_status(&w);
	json_obj_end(&w);
	const char *j = json_result(&w);
	ck_assert_ptr_nonnull(j);
	ck_assert_msg(strstr(j, "\"alua_groups\":[{\"name\":\"a\",\"id\":1,\"state\":\"active-optimized\","
				"\"ports\":[1],\"portal_groups\":[\"pg1\"]}") != NULL, "%s", j);
	ck_assert_msg(strstr(j, "\"name\":\"b\",\"id\":2,\"state\":\"standby\",\"ports\":[2,5]") != NULL, "%s", j);
	json_free(&w);

	/* reconfiguring keeps the runtime state of groups that stay */
	char err[256];
	ck_assert_int_eq(scsi_alua_set_state(2, SCSI_ALUA_ACTIVE_OPTIMIZED), 0);
	ck_assert_int_eq(scsi_alua_configure(CF, err, sizeof(err)), 0);
	ck_assert_int_eq(state_of(2), SCSI_ALUA_ACTIVE_OPTIMIZED);
}
END_TEST

/* ---------------------------------------------------------------- misc commands */

START_TEST(report_tmfs)
{
	uint8_t c[12] = { 0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 };
	struct tt *x = run_cdb(NA, 0, c, 12, SCSI_DIR_READ, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4);
	ck_assert_int_eq(x->t.buf[0], 0xda);            /* ATS ATSS CTSS LURS TRS */
	ck_assert_int_eq(x->t.buf[1], 0x00);
	ck_assert_int_eq(x->t.buf[3], 0x00);
	tt_free(x);
	c[2] = 0x80;                                    /* REPD */
	x = run_cdb(NA, 0, c, 12, SCSI_DIR_READ, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 16);
	ck_assert_int_eq(x->t.buf[0], 0xda);
	ck_assert_int_eq(x->t.buf[3], 0x0c);
	tt_free(x);
	c[2] = 0x01;
	x = run_cdb(NA, 0, c, 12, SCSI_DIR_READ, 64);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
}
END_TEST

/* RSOC: one-command form for RTPG / STPG / RSTMF, with a timeouts descriptor. */
START_TEST(rsoc_lists_alua)
{
	const struct { uint8_t op, sa; } want[] = { { 0xa3, 0x0a }, { 0xa3, 0x0d }, { 0xa4, 0x0a } };
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		uint8_t c[12] = { 0xa3, 0x0c, 0x82, want[i].op, 0, want[i].sa, 0, 0, 1, 0, 0, 0 };
		struct tt *x = run_cdb(NA, 0, c, 12, SCSI_DIR_READ, 256);
		CHECK_GOOD(x);
		ck_assert_int_eq(x->t.buf[1], 0x83);    /* CTDP, SUPPORT=011b */
		ck_assert_int_eq(get_be16(&x->t.buf[2]), 12);
		ck_assert_int_eq(x->t.buf[4], want[i].op);
		ck_assert_int_eq(x->t.buf[5] & 0x1f, want[i].sa);
		ck_assert_int_eq(get_be16(&x->t.buf[16]), 0x0a);   /* timeouts descriptor length */
		ck_assert_int_eq(x->t.data_len, 4 + 12 + 12);
		tt_free(x);
	}
	/* all commands with RCTD: every descriptor 20 bytes, the three are there */
	uint8_t c[12] = { 0xa3, 0x0c, 0x80, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
	struct tt *x = run_cdb(NA, 0, c, 12, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	uint32_t len = get_be32(x->t.buf);
	int found = 0;
	for (uint32_t off = 4; off < 4 + len; off += 20) {
		const uint8_t *p = &x->t.buf[off];
		ck_assert_int_eq(p[5] & 0x02, 0x02);
		ck_assert_int_eq(get_be16(&p[8]), 0x0a);
		if ((p[0] == 0xa3 && (get_be16(&p[2]) == 0x0a || get_be16(&p[2]) == 0x0d)) ||
		    (p[0] == 0xa4 && get_be16(&p[2]) == 0x0a))
			found++;
	}
	ck_assert_int_eq(found, 3);
	tt_free(x);
}
END_TEST

/* A reload that removes group b (pg2 moves to group a): sessions that logged
 * in through pg2 still read slot 2 until they log in again (the iSCSI layer
 * revokes them), so the slot keeps Standby; it used to turn Active/Optimized,
 * and a Standby node's paths served media access. A group 2 created again
 * starts in its configured state. */
START_TEST(removed_group_keeps_state)
{
	char err[256], text[sizeof(CONF) + 64];
	snprintf(text, sizeof(text), "%s", CONF);
	char *b = strstr(text, "alua_group b {");
	char *b_end = b ? strstr(b, "}\n") : NULL;
	ck_assert(b && b_end);
	memmove(b, b_end + 2, strlen(b_end + 2) + 1);             /* drop group b */
	char *ref = strstr(text, "  alua_group: b\n");
	ck_assert(ref != NULL);
	ref[14] = 'a';                                          /* pg2 joins group a */
	struct tconf *c1 = tconf_load_string("alua.conf", text, err, sizeof(err));
	ck_assert_msg(c1 != NULL, "%s", err);
	ck_assert_int_eq(scsi_alua_configure(c1, err, sizeof(err)), 0);
	uint16_t id;
	ck_assert_int_lt(scsi_alua_find_group("b", &id), 0);
	ck_assert_int_lt(scsi_alua_get_state(2, &(enum scsi_alua_state){ 0 }), 0);       /* no group 2 */
	ck_assert_int_eq(atomic_load(&scsi_alua_states[2]), SCSI_ALUA_STANDBY);      /* its slot */
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(NB, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_NOT_READY, 0x04, 0x0b);
	tt_free(x);
	ck_assert_int_eq(scsi_alua_set_state(1, SCSI_ALUA_ACTIVE_NONOPTIMIZED), 0);   /* not group 2's */
	ck_assert_int_eq(atomic_load(&scsi_alua_states[2]), SCSI_ALUA_STANDBY);
	/* group b back, with another configured state */
	const char *st = strstr(strstr(CONF, "alua_group b {"), "state: standby");
	ck_assert(st != NULL);
	snprintf(text, sizeof(text), "%.*sstate: unavailable%s", (int)(st - CONF), CONF, st + strlen("state: standby"));
	struct tconf *c2 = tconf_load_string("alua.conf", text, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "%s", err);
	ck_assert_int_eq(scsi_alua_configure(c2, err, sizeof(err)), 0);
	ck_assert_int_eq(state_of(2), SCSI_ALUA_UNAVAILABLE);
	ck_assert_int_eq(scsi_alua_configure(CF, err, sizeof(err)), 0);
	tconf_free(c1);
	tconf_free(c2);
}
END_TEST

/* alua_explicit: no (the default of a replicated pair): INQUIRY says implicit
 * only, STPG is an unsupported command and changes nothing, RSOC does not list
 * it; a reload back to explicit restores all three. */
START_TEST(implicit_only)
{
	char err[256], text[sizeof(CONF) + 64];
	snprintf(text, sizeof(text), "global {\n alua_explicit: no\n}\n%s", CONF);
	struct tconf *imp = tconf_load_string("alua.conf", text, err, sizeof(err));
	ck_assert_msg(imp != NULL, "%s", err);
	ck_assert_int_eq(scsi_alua_configure(imp, err, sizeof(err)), 0);
	ck_assert(!scsi_alua_explicit());

	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	struct tt *x = run_cdb(NA, 0, inq, 6, SCSI_DIR_READ, 96);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[5] & 0x30, 0x10);     /* TPGS 01b */
	tt_free(x);

	const uint8_t list[] = { 0, 0, 0, 0, SCSI_ALUA_STANDBY, 0, 0, 1, SCSI_ALUA_ACTIVE_OPTIMIZED, 0, 0, 2 };
	x = stpg(NB, list, sizeof(list));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x20, 0x00);
	tt_free(x);
	ck_assert_int_eq(state_of(1), SCSI_ALUA_ACTIVE_OPTIMIZED);
	ck_assert_int_eq(state_of(2), SCSI_ALUA_STANDBY);

	uint8_t one[12] = { 0xa3, 0x0c, 0x02, 0xa4, 0, 0x0a, 0, 0, 1, 0, 0, 0 };
	x = run_cdb(NA, 0, one, 12, SCSI_DIR_READ, 256);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[1] & 0x07, 0x01);     /* SUPPORT 001b: not supported */
	tt_free(x);
	uint8_t all[12] = { 0xa3, 0x0c, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
	x = run_cdb(NA, 0, all, 12, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	int rtpg = 0;
	for (uint32_t off = 4; off < 4 + get_be32(x->t.buf); off += 8) {
		ck_assert_msg(x->t.buf[off] != 0xa4, "MAINTENANCE OUT listed at %u", off);
		rtpg += x->t.buf[off] == 0xa3 && get_be16(&x->t.buf[off + 2]) == 0x0a;
	}
	ck_assert_int_eq(rtpg, 1);                      /* RTPG stays */
	tt_free(x);

	ck_assert_int_eq(scsi_alua_configure(CF, err, sizeof(err)), 0);
	ck_assert(scsi_alua_explicit());
	x = run_cdb(NA, 0, inq, 6, SCSI_DIR_READ, 96);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[5] & 0x30, 0x30);
	tt_free(x);
	x = stpg(NB, list, sizeof(list));
	CHECK_GOOD(x);
	tt_free(x);
	ck_assert_int_eq(state_of(1), SCSI_ALUA_STANDBY);
	ck_assert_int_eq(state_of(2), SCSI_ALUA_ACTIVE_OPTIMIZED);
	tconf_free(imp);
}
END_TEST

START_TEST(read_defect_data)
{
	uint8_t c10[10] = { 0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 64, 0 };   /* P+G lists, format 101b */
	struct tt *x = run_cdb(NA, 0, c10, 10, SCSI_DIR_READ, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4);
	ck_assert_int_eq(x->t.buf[1], 0x1d);
	ck_assert_int_eq(get_be16(&x->t.buf[2]), 0);
	tt_free(x);
	uint8_t c12[12] = { 0xb7, 0x08 | 0x04, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 };
	x = run_cdb(NA, 0, c12, 12, SCSI_DIR_READ, 64);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 8);
	ck_assert_int_eq(x->t.buf[1], 0x0c);
	ck_assert_int_eq(get_be32(&x->t.buf[4]), 0);
	tt_free(x);
	c10[1] = 0x01;
	x = run_cdb(NA, 0, c10, 10, SCSI_DIR_READ, 64);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
}
END_TEST

/* WRITE ATOMIC(16) is not offered: the backend cannot promise atomicity. */
START_TEST(write_atomic_unsupported)
{
	uint8_t c[16] = { 0x9c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 };
	struct tt *x = run_cdb(NA, 0, c, 16, SCSI_DIR_WRITE, 512);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x20, 0x00);
	tt_free(x);
}
END_TEST

/* The SCSI layer takes identity from the config only. */
START_TEST(lun_without_identity_refused)
{
	struct tconf_lun conf;
	char err[256] = "";
	memset(&conf, 0, sizeof(conf));
	conf.lun = 5;
	conf.backend = TCONF_BACKEND_NULL;
	conf.block_size = 512;
	conf.size = 1 << 20;
	ck_assert_int_eq(scsi_target_add_lun(TGT, &conf, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "LUN 5: no device identity") != NULL, "%s", err);
	/* a config always has one, identical for the same target name on any host */
	char e2[256];
	struct tconf *a = tconf_load_string("a", CONF, e2, sizeof(e2));
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->targets[0].luns[0].serial, CF->targets[0].luns[0].serial);
	ck_assert(memcmp(a->targets[0].luns[0].naa, CF->targets[0].luns[0].naa, 16) == 0);
	ck_assert_int_eq(scsi_target_add_lun(TGT, &a->targets[0].luns[0], err, sizeof(err)), -1); /* LUN 0 taken */
	tconf_free(a);
}
END_TEST

static Suite *alua_suite(void)
{
	Suite *s = suite_create("scsi_alua");
	TCase *tc = tcase_create("alua");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_groups_and_ports);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, inquiry_tpgs);
	tcase_add_test(tc, vpd83_port_designators);
	tcase_add_test(tc, rtpg_two_groups);
	tcase_add_test(tc, stpg_valid);
	tcase_add_test(tc, stpg_invalid);
	tcase_add_test(tc, allow_standby);
	tcase_add_test(tc, allow_unavailable);
	tcase_add_test(tc, allow_transitioning);
	tcase_add_test(tc, active_states_serve_io);
	tcase_add_test(tc, ua_every_nexus);
	tcase_add_test(tc, api_names_and_errors);
	tcase_add_test(tc, report_tmfs);
	tcase_add_test(tc, rsoc_lists_alua);
	tcase_add_test(tc, implicit_only);
	tcase_add_test(tc, removed_group_keeps_state);
	tcase_add_test(tc, read_defect_data);
	tcase_add_test(tc, write_atomic_unsupported);
	tcase_add_test(tc, lun_without_identity_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(alua_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

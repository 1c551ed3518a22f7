/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the SCSI device server's non-I/O commands: sense building,
 * LUN addressing, INQUIRY and VPD pages byte by byte, REPORT LUNS, MODE
 * SENSE/SELECT, unit attentions and the common CDB checks. */
#include "scsi_test_harness.h"

#define NBLOCKS 2048u

static struct mem_priv *MEM;

static void setup(void)
{
	harness_start();
	MEM = mem_attach(TGT, 0, NBLOCKS, 512, TCONF_CACHE_WRITE_BACK, false);
	harness_nexus();
	clear_ua(ITN, 0);
	clear_ua(ITN2, 0);
}

static void teardown(void)
{
	harness_stop();
}

/* ---------------------------------------------------------------- sense */

START_TEST(sense_fixed_format)
{
	struct scsi_task t;
	memset(&t, 0xaa, sizeof(t));
	scsi_task_set_status(&t, SCSI_STATUS_CHECK_CONDITION, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(t.status, 0x02);
	ck_assert_int_eq(t.sense_len, 18);
	ck_assert_int_eq(t.sense[0], 0x70);
	ck_assert_int_eq(t.sense[1], 0);
	ck_assert_int_eq(t.sense[2], 0x05);
	for (int i = 3; i < 7; i++)
		ck_assert_int_eq(t.sense[i], 0);
	ck_assert_int_eq(t.sense[7], 10);
	ck_assert_int_eq(t.sense[12], 0x24);
	ck_assert_int_eq(t.sense[13], 0x00);
	for (int i = 14; i < 18; i++)
		ck_assert_int_eq(t.sense[i], 0);

	scsi_task_set_status(&t, SCSI_STATUS_GOOD, 0, 0, 0);
	ck_assert_int_eq(t.status, 0);
	ck_assert_int_eq(t.sense_len, 0);
}
END_TEST

START_TEST(sense_field_pointer_and_info)
{
	struct scsi_task t;
	uint8_t d[64];

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(scsi_task_invalid_cdb(&t, 2, 5), SCSI_DONE);
	ck_assert_int_eq(t.sense[15], 0x80 | 0x40 | 0x08 | 5);
	ck_assert_int_eq(t.sense[16], 0);
	ck_assert_int_eq(t.sense[17], 2);
	scsi_task_invalid_param(&t, 0x1234, -1);
	ck_assert_int_eq(t.sense[12], 0x26);
	ck_assert_int_eq(t.sense[15], 0x80);
	ck_assert_int_eq(t.sense[16], 0x12);
	ck_assert_int_eq(t.sense[17], 0x34);

	scsi_task_set_status(&t, SCSI_STATUS_CHECK_CONDITION, SK_MISCOMPARE, 0x1d, 0x00);
	scsi_task_set_info(&t, 0x01020304);
	ck_assert_int_eq(t.sense[0], 0xf0);
	ck_assert_int_eq(t.sense[3], 1);
	ck_assert_int_eq(t.sense[6], 4);

	/* descriptor form carries the information descriptor */
	uint8_t n = scsi_sense_fixed_to_desc(t.sense, d);
	ck_assert_int_eq(n, 20);
	ck_assert_int_eq(d[0], 0x72);
	ck_assert_int_eq(d[1], 0x0e);
	ck_assert_int_eq(d[2], 0x1d);
	ck_assert_int_eq(d[7], 12);
	ck_assert_int_eq(d[8], 0x00);
	ck_assert_int_eq(d[9], 0x0a);
	ck_assert_int_eq(d[10], 0x80);
	ck_assert_int_eq(get_be32(&d[16]), 0x01020304);
}
END_TEST

/* ---------------------------------------------------------------- LUN field */

START_TEST(lun_encode_decode)
{
	uint8_t b[8];

	scsi_lun_encode(0, b);
	ck_assert_int_eq(get_be64(b), 0);
	scsi_lun_encode(5, b);
	ck_assert_int_eq(b[0], 0x00);
	ck_assert_int_eq(b[1], 0x05);
	ck_assert_int_eq(scsi_lun_decode(b), 5);
	scsi_lun_encode(300, b);
	ck_assert_int_eq(b[0], 0x41);
	ck_assert_int_eq(b[1], 0x2c);
	ck_assert_int_eq(scsi_lun_decode(b), 300);
	scsi_lun_encode(16383, b);
	ck_assert_int_eq(b[0], 0x7f);
	ck_assert_int_eq(b[1], 0xff);
	ck_assert_int_eq(scsi_lun_decode(b), 16383);
	/* flat-space encoding of a small LUN decodes to the same number */
	uint8_t flat[8] = { 0x40, 0x07 };
	ck_assert_int_eq(scsi_lun_decode(flat), 7);
	/* unsupported forms never map onto an attached LUN */
	/* peripheral form with a "bus" byte, as Linux and libiscsi send 300 */
	uint8_t bus[8] = { 0x01, 0x2c };
	ck_assert_int_eq(scsi_lun_decode(bus), 300);
	uint8_t tail[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	ck_assert(scsi_lun_decode(tail) >= SCSI_LUN_MAX);
	uint8_t ext[8] = { 0xc0, 1 };
	ck_assert(scsi_lun_decode(ext) >= SCSI_LUN_MAX);
}
END_TEST

/* ---------------------------------------------------------------- INQUIRY */

START_TEST(inquiry_standard)
{
	uint8_t cdb[6] = { 0x12, 0, 0, 0x01, 0x04, 0 };  /* alloc 260 */
	struct tt *x = run_cdb(ITN, 0, cdb, 6, SCSI_DIR_READ, 260);
	const uint8_t *d = x->t.buf;

	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 96);
	ck_assert_int_eq(x->t.xfer_len, 260);
	ck_assert_int_eq(d[0], 0x00);
	ck_assert_int_eq(d[1], 0x00);
	ck_assert_int_eq(d[2], 0x06);
	ck_assert_int_eq(d[3], 0x12);
	ck_assert_int_eq(d[4], 91);
	ck_assert_int_eq(d[7], 0x02);
	ck_assert(memcmp(&d[8], "TANDEM  ", 8) == 0);
	ck_assert(memcmp(&d[16], "tandem-disk     ", 16) == 0);
	ck_assert(memcmp(&d[32], "0001", 4) == 0);
	ck_assert_int_eq(get_be16(&d[58]), 0x00a0);
	ck_assert_int_eq(get_be16(&d[60]), 0x0460);
	ck_assert_int_eq(get_be16(&d[62]), 0x04c0);
	ck_assert_int_eq(get_be16(&d[64]), 0x0960);
	tt_free(x);

	/* allocation length truncates, EDTL truncates further */
	cdb[3] = 0;
	cdb[4] = 36;
	x = run_cdb(ITN, 0, cdb, 6, SCSI_DIR_READ, 36);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 36);
	ck_assert_int_eq(x->t.xfer_len, 36);
	tt_free(x);
	cdb[4] = 255;
	x = run_cdb(ITN, 0, cdb, 6, SCSI_DIR_READ, 10);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 10);
	ck_assert_int_eq(x->t.xfer_len, 255);
	tt_free(x);
	cdb[4] = 0;
	x = run_cdb(ITN, 0, cdb, 6, SCSI_DIR_READ, 0);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);
}
END_TEST

START_TEST(inquiry_invalid)
{
	/* page code with EVPD=0 */
	uint8_t cdb[6] = { 0x12, 0, 0x80, 0, 255, 0 };
	struct tt *x = run_cdb(ITN, 0, cdb, 6, SCSI_DIR_READ, 255);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[15], 0xc0);
	ck_assert_int_eq(x->t.sense[17], 2);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);
	/* CMDDT */
	uint8_t c2[6] = { 0x12, 0x02, 0, 0, 255, 0 };
	x = run_cdb(ITN, 0, c2, 6, SCSI_DIR_READ, 255);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* unsupported VPD page */
	uint8_t c3[6] = { 0x12, 0x01, 0x42, 0, 255, 0 };
	x = run_cdb(ITN, 0, c3, 6, SCSI_DIR_READ, 255);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* NACA bit in the control byte */
	uint8_t c4[6] = { 0x12, 0, 0, 0, 36, 0x04 };
	x = run_cdb(ITN, 0, c4, 6, SCSI_DIR_READ, 36);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[17], 5);
	tt_free(x);
}
END_TEST

START_TEST(inquiry_missing_lun)
{
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 96, 0 };
	struct tt *x = run_cdb(ITN, 9, cdb, 6, SCSI_DIR_READ, 96);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[0], 0x7f);
	tt_free(x);
	/* anything else on a missing LUN: LOGICAL UNIT NOT SUPPORTED */
	uint8_t tur[6] = { 0 };
	x = run_cdb(ITN, 9, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x25, 0x00);
	tt_free(x);
	x = run_cdb(ITN, 1u << 20, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x25, 0x00);
	tt_free(x);
	/* REQUEST SENSE returns it as parameter data */
	uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	x = run_cdb(ITN, 9, rs, 6, SCSI_DIR_READ, 18);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 18);
	ck_assert_int_eq(x->t.buf[2], 0x05);
	ck_assert_int_eq(x->t.buf[12], 0x25);
	tt_free(x);
}
END_TEST

static struct tt *vpd(uint8_t page)
{
	uint8_t cdb[6] = { 0x12, 0x01, page, 0x04, 0x00, 0 };
	struct tt *x = run_cdb(ITN, 0, cdb, 6, SCSI_DIR_READ, 1024);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[0], 0x00);
	ck_assert_int_eq(x->t.buf[1], page);
	ck_assert_int_eq(get_be16(&x->t.buf[2]) + 4, x->t.data_len);
	return x;
}

START_TEST(vpd_supported_and_serial)
{
	struct tt *x = vpd(0x00);
	const uint8_t want[] = { 0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2 };
	ck_assert_int_eq(x->t.data_len, 4 + sizeof(want));
	ck_assert(memcmp(&x->t.buf[4], want, sizeof(want)) == 0);
	tt_free(x);

	/* serial: derived deterministically from target name + LUN */
	char serial[65];
	uint8_t naa[16], naa_len;
	scsi_lun_default_identity(TGT_NAME, 0, serial, naa, &naa_len);
	x = vpd(0x80);
	ck_assert_int_eq(x->t.data_len, 4 + strlen(serial));
	ck_assert(memcmp(&x->t.buf[4], serial, strlen(serial)) == 0);
	tt_free(x);
	char s2[65];
	scsi_lun_default_identity(TGT_NAME, 1, s2, NULL, NULL);
	ck_assert_str_ne(serial, s2);
	char s3[65];
	scsi_lun_default_identity(TGT_NAME, 0, s3, NULL, NULL);
	ck_assert_str_eq(serial, s3);
}
END_TEST

START_TEST(vpd_device_id)
{
	char serial[65];
	uint8_t naa[16], naa_len;
	scsi_lun_default_identity(TGT_NAME, 0, serial, naa, &naa_len);

	struct tt *x = vpd(0x83);
	const uint8_t *d = x->t.buf + 4;
	/* NAA, LU association, binary */
	ck_assert_int_eq(d[0], 0x01);
	ck_assert_int_eq(d[1], 0x03);
	ck_assert_int_eq(d[3], 16);
	ck_assert(memcmp(&d[4], naa, 16) == 0);
	ck_assert_int_eq(d[4] >> 4, 6);
	d += 4 + 16;
	/* T10 vendor id */
	ck_assert_int_eq(d[0], 0x02);
	ck_assert_int_eq(d[1], 0x01);
	ck_assert_int_eq(d[3], 8 + strlen(serial));
	ck_assert(memcmp(&d[4], "TANDEM  ", 8) == 0);
	ck_assert(memcmp(&d[12], serial, strlen(serial)) == 0);
	d += 4 + d[3];
	/* relative target port */
	ck_assert_int_eq(d[0], 0x51);
	ck_assert_int_eq(d[1], 0x94);
	ck_assert_int_eq(d[3], 4);
	ck_assert_int_eq(get_be16(&d[6]), 1);
	d += 8;
	/* no target port group designator: tpg_id is 0. SCSI name of the port. */
	ck_assert_int_eq(d[0], 0x53);
	ck_assert_int_eq(d[1], 0x98);
	ck_assert_int_eq(d[3] % 4, 0);
	ck_assert_str_eq((const char *)&d[4], PORT.name);
	d += 4 + d[3];
	/* SCSI name of the target device */
	ck_assert_int_eq(d[0], 0x53);
	ck_assert_int_eq(d[1], 0xa8);
	ck_assert_str_eq((const char *)&d[4], TGT_NAME);
	d += 4 + d[3];
	ck_assert_int_eq(d - x->t.buf, x->t.data_len);
	tt_free(x);
}
END_TEST

START_TEST(vpd_device_id_tpg_and_config_naa)
{
	struct scsi_port p2 = PORT;
	struct tconf_lun conf;
	char err[256];
	struct bdev *b = calloc(1, sizeof(*b));
	struct mem_priv *m = calloc(1, sizeof(*m));

	p2.tpg_id = 7;
	p2.rel_port_id = 3;
	struct scsi_itn *itn = scsi_itn_create(TGT, "iqn.x,i,0x1", &p2);
	m->data = calloc(1, 4096);
	b->ops = &mem_ops;
	b->priv = m;
	b->fd = -1;
	b->size = 4096;
	b->block_size = 4096;
	memset(&conf, 0, sizeof(conf));
	conf.lun = 3;
	conf.block_size = 4096;
	strcpy(conf.serial, "SER-42");
	strcpy(conf.vendor, "ACME");
	conf.naa_len = 8;
	for (int i = 0; i < 8; i++)
		conf.naa[i] = (uint8_t)(0x50 + i);
	ck_assert_int_eq(scsi_target_add_lun_bdev(TGT, &conf, b, err, sizeof(err)), 0);
	ck_assert_int_eq(scsi_target_add_lun_bdev(TGT, &conf, b, err, sizeof(err)), -1);
	ck_assert(strstr(err, "LUN 3") != NULL);
	clear_ua(itn, 3);

	uint8_t cdb[6] = { 0x12, 0x01, 0x83, 0x01, 0x00, 0 };
	struct tt *x = run_cdb(itn, 3, cdb, 6, SCSI_DIR_READ, 256);
	CHECK_GOOD(x);
	const uint8_t *d = x->t.buf + 4;
	ck_assert_int_eq(d[3], 8);
	ck_assert_int_eq(d[4], 0x50);
	ck_assert_int_eq(d[11], 0x57);
	d += 12;
	ck_assert(memcmp(&d[4], "ACME    SER-42", 14) == 0);
	d += 4 + d[3];
	ck_assert_int_eq(get_be16(&d[6]), 3);
	d += 8;
	ck_assert_int_eq(d[1], 0x95);
	ck_assert_int_eq(get_be16(&d[6]), 7);
	tt_free(x);
	scsi_itn_destroy(itn);
}
END_TEST

START_TEST(vpd_extended_and_limits)
{
	struct tt *x = vpd(0x86);
	ck_assert_int_eq(x->t.data_len, 64);
	ck_assert_int_eq(x->t.buf[5], 0x01);
	ck_assert_int_eq(x->t.buf[6], 0x01);  /* V_SUP: write-back LUN */
	ck_assert_int_eq(x->t.buf[7], 0x01);
	tt_free(x);
	x = vpd(0xb0);
	ck_assert_int_eq(x->t.data_len, 64);
	ck_assert_int_eq(get_be16(&x->t.buf[6]), 8);   /* 4096 / 512 */
	ck_assert_int_eq(get_be32(&x->t.buf[8]), SCSI_MAX_XFER_BYTES / 512);
	tt_free(x);
	x = vpd(0xb1);
	ck_assert_int_eq(get_be16(&x->t.buf[4]), 1);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- REPORT LUNS */

START_TEST(report_luns)
{
	mem_attach(TGT, 300, 8, 512, TCONF_CACHE_WRITE_THROUGH, false);
	uint8_t cdb[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };  /* alloc 256 */
	struct tt *x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 256);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 24);
	ck_assert_int_eq(x->t.xfer_len, 256);
	ck_assert_int_eq(get_be32(x->t.buf), 16);
	ck_assert_int_eq(get_be32(x->t.buf + 4), 0);
	ck_assert_int_eq(get_be64(x->t.buf + 8), 0);
	ck_assert_int_eq(x->t.buf[16], 0x41);
	ck_assert_int_eq(x->t.buf[17], 0x2c);
	tt_free(x);

	/* short allocation: header tells the full length */
	put_be32(&cdb[6], 16);
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 16);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 16);
	ck_assert_int_eq(get_be32(x->t.buf), 16);
	tt_free(x);

	/* works on a LUN that does not exist */
	put_be32(&cdb[6], 256);
	x = run_cdb(ITN, 77, cdb, 12, SCSI_DIR_READ, 256);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 24);
	tt_free(x);

	/* select report 1: well known LUNs only, none */
	cdb[2] = 1;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 256);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 8);
	ck_assert_int_eq(get_be32(x->t.buf), 0);
	tt_free(x);
	cdb[2] = 2;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 256);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 24);
	tt_free(x);
	cdb[2] = 3;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 256);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[17], 2);
	tt_free(x);

	/* allocation length below 16 (SPC-4: "should be at least 16", no
	 * longer refused as in SPC-2): truncated, the header only with 8,
	 * nothing with 0 (review, session 15) */
	cdb[2] = 0;
	put_be32(&cdb[6], 8);
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 8);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 8);
	ck_assert_int_eq(get_be32(x->t.buf), 16);
	ck_assert_int_eq(get_be32(x->t.buf + 4), 0);
	ck_assert_int_eq(x->t.buf[8], 0xee);            /* nothing past the allocation length */
	tt_free(x);
	put_be32(&cdb[6], 0);
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 0);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 0);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- misc commands */

START_TEST(unsupported_opcode)
{
	uint8_t cdb[16] = { 0xd5 };
	struct tt *x = run_cdb(ITN, 0, cdb, 16, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x20, 0x00);
	tt_free(x);
	/* unsupported service action */
	uint8_t sa[16] = { 0x9e, 0x11 };
	x = run_cdb(ITN, 0, sa, 16, SCSI_DIR_READ, 32);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[17], 1);
	tt_free(x);
}
END_TEST

START_TEST(tur_request_sense_startstop)
{
	uint8_t tur[6] = { 0 };
	struct tt *x = run_cdb(ITN, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);

	uint8_t rs[6] = { 0x03, 0, 0, 0, 252, 0 };
	x = run_cdb(ITN, 0, rs, 6, SCSI_DIR_READ, 252);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 18);
	ck_assert_int_eq(x->t.buf[0], 0x70);
	ck_assert_int_eq(x->t.buf[2], 0x00);
	ck_assert_int_eq(x->t.buf[7], 10);
	ck_assert_int_eq(x->t.buf[12], 0);
	tt_free(x);
	rs[1] = 1;      /* DESC */
	x = run_cdb(ITN, 0, rs, 6, SCSI_DIR_READ, 252);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 8);
	ck_assert_int_eq(x->t.buf[0], 0x72);
	tt_free(x);

	/* START STOP: stop/start fine, eject of a fixed disk is not */
	uint8_t ssu[6] = { 0x1b, 0x01, 0, 0, 0x01, 0 };
	x = run_cdb(ITN, 0, ssu, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	ssu[4] = 0x02;
	x = run_cdb(ITN, 0, ssu, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[15], 0xc8 | 1);
	ck_assert_int_eq(x->t.sense[17], 4);
	tt_free(x);
	ssu[4] = 0x12;  /* power condition 1: LOEJ ignored */
	x = run_cdb(ITN, 0, ssu, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);

	uint8_t pa[6] = { 0x1e, 0, 0, 0, 1, 0 };
	x = run_cdb(ITN, 0, pa, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	pa[4] = 2;
	x = run_cdb(ITN, 0, pa, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
}
END_TEST

START_TEST(report_supported_opcodes)
{
	uint8_t cdb[12] = { 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0 };
	struct tt *x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	uint32_t len = get_be32(x->t.buf);
	ck_assert_int_eq(len % 8, 0);
	ck_assert_int_eq(x->t.data_len, len + 4);
	bool saw_read10 = false, saw_rc16 = false;
	for (uint32_t off = 4; off < len + 4; off += 8) {
		const uint8_t *p = x->t.buf + off;
		if (p[0] == 0x28) {
			saw_read10 = true;
			ck_assert_int_eq(get_be16(&p[6]), 10);
			ck_assert_int_eq(p[5], 0);
		}
		if (p[0] == 0x9e) {
			saw_rc16 |= get_be16(&p[2]) == 0x10 && p[5] == 1;
			ck_assert_int_eq(get_be16(&p[6]), 16);
		}
	}
	ck_assert(saw_read10 && saw_rc16);
	tt_free(x);

	/* one command: READ(10) */
	cdb[2] = 1;
	cdb[3] = 0x28;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[1], 0x03);
	ck_assert_int_eq(get_be16(&x->t.buf[2]), 10);
	ck_assert_int_eq(x->t.buf[4], 0x28);
	tt_free(x);
	/* option 1 on an opcode with service actions is invalid */
	cdb[3] = 0x9e;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 4096);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	cdb[2] = 2;
	cdb[5] = 0x10;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[4], 0x9e);
	ck_assert_int_eq(x->t.buf[5], 0x10);
	tt_free(x);
	/* option 2 on an opcode without */
	cdb[3] = 0x28;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 4096);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* unsupported opcode reported as such */
	cdb[2] = 1;
	cdb[3] = 0xd5;
	x = run_cdb(ITN, 0, cdb, 12, SCSI_DIR_READ, 4096);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[1], 0x01);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- MODE SENSE / SELECT */

START_TEST(mode_sense_pages)
{
	struct tt *x = mode_sense6(ITN, 0, 0, 0x08, 255);
	const uint8_t *d = x->t.buf;
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4 + 8 + 20);
	ck_assert_int_eq(d[0], 4 + 8 + 20 - 1);
	ck_assert_int_eq(d[1], 0);
	ck_assert_int_eq(d[2], 0x10);           /* DPOFUA, not WP */
	ck_assert_int_eq(d[3], 8);
	ck_assert_int_eq(get_be32(&d[4]), NBLOCKS);
	ck_assert_int_eq(get_be32(&d[8]), 512);
	ck_assert_int_eq(d[12], 0x88);
	ck_assert_int_eq(d[13], 0x12);
	ck_assert_int_eq(d[14], 0x04);          /* write-back: WCE=1 */
	tt_free(x);

	/* changeable: only WCE */
	x = mode_sense6(ITN, 1, 1, 0x08, 255);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4 + 20);
	ck_assert_int_eq(x->t.buf[3], 0);
	ck_assert_int_eq(x->t.buf[6], 0x04);
	for (int i = 7; i < 24; i++)
		ck_assert_int_eq(x->t.buf[i], 0);
	tt_free(x);

	/* control page */
	x = mode_sense6(ITN, 1, 0, 0x0a, 255);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4 + 12);
	ck_assert_int_eq(x->t.buf[4], 0x8a);
	ck_assert_int_eq(x->t.buf[5], 0x0a);
	ck_assert_int_eq(x->t.buf[6], 0x00);    /* D_SENSE=0 */
	ck_assert_int_eq(x->t.buf[7], 0x10);
	ck_assert_int_eq(x->t.buf[8], 0x00);    /* SWP=0 */
	tt_free(x);

	/* all pages, ascending */
	x = mode_sense6(ITN, 1, 0, 0x3f, 255);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4 + 12 + 20 + 12 + 12);
	ck_assert_int_eq(x->t.buf[4], 0x01);
	ck_assert_int_eq(x->t.buf[5], 0x0a);
	ck_assert_int_eq(x->t.buf[16], 0x88);
	ck_assert_int_eq(x->t.buf[36], 0x8a);
	ck_assert_int_eq(x->t.buf[48], 0x1c);
	ck_assert_int_eq(x->t.buf[50], 0x08);   /* DEXCPT */
	tt_free(x);
	/* subpage FFh of all pages: same data */
	uint8_t all[6] = { 0x1a, 0x08, 0x3f, 0xff, 255, 0 };
	x = run_cdb(ITN, 0, all, 6, SCSI_DIR_READ, 255);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 60);
	tt_free(x);

	/* allocation length truncates, header still tells the whole length */
	x = mode_sense6(ITN, 1, 0, 0x3f, 4);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, 4);
	ck_assert_int_eq(x->t.xfer_len, 4);
	ck_assert_int_eq(x->t.buf[0], 59);
	tt_free(x);

	/* MODE SENSE(10) with LLBAA: long block descriptor */
	uint8_t c10[10] = { 0x5a, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0 };
	x = run_cdb(ITN, 0, c10, 10, SCSI_DIR_READ, 255);
	CHECK_GOOD(x);
	d = x->t.buf;
	ck_assert_int_eq(x->t.data_len, 8 + 16 + 20);
	ck_assert_int_eq(get_be16(d), 8 + 16 + 20 - 2);
	ck_assert_int_eq(d[4], 0x01);
	ck_assert_int_eq(get_be16(&d[6]), 16);
	ck_assert_int_eq(get_be64(&d[8]), NBLOCKS);
	ck_assert_int_eq(get_be32(&d[20]), 512);
	ck_assert_int_eq(d[24], 0x88);
	tt_free(x);

	/* unknown page, bad subpage */
	x = mode_sense6(ITN, 0, 0, 0x19, 255);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[17], 2);
	tt_free(x);
	uint8_t sp[6] = { 0x1a, 0, 0x08, 0x01, 255, 0 };
	x = run_cdb(ITN, 0, sp, 6, SCSI_DIR_READ, 255);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	ck_assert_int_eq(x->t.sense[17], 3);
	tt_free(x);
}
END_TEST

START_TEST(mode_select_roundtrip)
{
	/* turn WCE off (current only) */
	uint8_t pl[4 + 20] = { 0 };
	pl[4] = 0x08;
	pl[5] = 0x12;
	struct tt *x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, sizeof(pl));
	tt_free(x);
	x = mode_sense6(ITN, 1, 0, 0x08, 255);
	ck_assert_int_eq(x->t.buf[6], 0x00);
	tt_free(x);
	x = mode_sense6(ITN, 1, 3, 0x08, 255);  /* saved still WCE=1 */
	ck_assert_int_eq(x->t.buf[6], 0x04);
	tt_free(x);
	x = mode_sense6(ITN, 1, 2, 0x08, 255);  /* default WCE=1 */
	ck_assert_int_eq(x->t.buf[6], 0x04);
	tt_free(x);

	/* the other nexus hears about it, this one does not */
	uint8_t tur[6] = { 0 };
	x = run_cdb(ITN2, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2a, 0x01);
	tt_free(x);
	x = run_cdb(ITN2, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	x = run_cdb(ITN, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);

	/* SP=1 saves; a LUN reset restores the saved value */
	pl[6] = 0x04;
	x = mode_select6(ITN, 0x11, pl, sizeof(pl), sizeof(pl));
	CHECK_GOOD(x);
	tt_free(x);
	pl[6] = 0x00;
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_GOOD(x);
	tt_free(x);
	scsi_lun_reset(TGT, 0, ITN);
	clear_ua(ITN, 0);
	x = mode_sense6(ITN, 1, 0, 0x08, 255);
	ck_assert_int_eq(x->t.buf[6], 0x04);
	tt_free(x);

	/* control page SWP with a block descriptor restating the geometry */
	uint8_t c[4 + 8 + 12] = { 0, 0, 0, 8 };
	put_be32(&c[4], NBLOCKS);
	put_be32(&c[8], 512);
	c[12] = 0x0a;
	c[13] = 0x0a;
	c[15] = 0x10;
	c[16] = 0x08;
	put_be16(&c[20], 0xffff);
	x = mode_select6(ITN, 0x10, c, sizeof(c), sizeof(c));
	CHECK_GOOD(x);
	tt_free(x);
	x = mode_sense6(ITN, 1, 0, 0x0a, 255);
	ck_assert_int_eq(x->t.buf[8], 0x08);
	ck_assert_int_eq(x->t.buf[2] & 0x80, 0x80);     /* WP in the header */
	tt_free(x);
	uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	x = run_cdb(ITN, 0, w10, 10, SCSI_DIR_WRITE, 512);
	CHECK_SENSE(x, SK_DATA_PROTECT, 0x27, 0x00);
	tt_free(x);
	c[16] = 0;
	x = mode_select6(ITN, 0x10, c, sizeof(c), sizeof(c));
	CHECK_GOOD(x);
	tt_free(x);
	x = run_cdb(ITN, 0, w10, 10, SCSI_DIR_WRITE, 512);
	CHECK_GOOD(x);
	tt_free(x);

	/* parameter list length 0 is a no-op */
	x = mode_select6(ITN, 0x10, pl, 0, 0);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

START_TEST(mode_select_bad_lists)
{
	uint8_t pl[4 + 20] = { 0 };
	struct tt *x;

	pl[4] = 0x08;
	pl[5] = 0x12;
	/* non-changeable bit (RCD) */
	pl[6] = 0x01;
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[15], 0x88);
	ck_assert_int_eq(x->t.sense[17], 6);
	tt_free(x);
	pl[6] = 0x04;
	pl[20] = 0x01;
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[17], 20);
	tt_free(x);
	pl[20] = 0;
	/* wrong page length */
	pl[5] = 0x11;
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[17], 5);
	tt_free(x);
	pl[5] = 0x12;
	/* unknown page */
	pl[4] = 0x19;
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	/* PS set */
	pl[4] = 0x88;
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
	pl[4] = 0x08;
	/* truncated page */
	x = mode_select6(ITN, 0x10, pl, 10, 10);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* fewer bytes delivered than the CDB says */
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), 8);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* header shorter than 4 bytes */
	x = mode_select6(ITN, 0x10, pl, 3, 3);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	tt_free(x);
	/* medium type */
	pl[1] = 1;
	x = mode_select6(ITN, 0x10, pl, sizeof(pl), sizeof(pl));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[17], 1);
	tt_free(x);
	pl[1] = 0;
	/* PF=0 with pages */
	x = mode_select6(ITN, 0x00, pl, sizeof(pl), sizeof(pl));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x24, 0x00);
	tt_free(x);
	/* block descriptor with another block size */
	uint8_t bd[12] = { 0, 0, 0, 8 };
	put_be32(&bd[8], 4096);
	x = mode_select6(ITN, 0x10, bd, sizeof(bd), sizeof(bd));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[17], 9);
	tt_free(x);
	/* block descriptor length 5 */
	bd[3] = 5;
	x = mode_select6(ITN, 0x10, bd, sizeof(bd), sizeof(bd));
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);

	/* nothing was applied */
	x = mode_sense6(ITN, 1, 0, 0x08, 255);
	ck_assert_int_eq(x->t.buf[6], 0x04);
	tt_free(x);
	uint8_t tur[6] = { 0 };
	x = run_cdb(ITN2, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
}
END_TEST

/* Review, session 15: MODE SELECT(10) took byte 1 of its header for MEDIUM
 * TYPE, as in MODE SELECT(6); in the 8-byte header byte 1 is the low byte of
 * MODE DATA LENGTH (reserved, so an echoed MODE SENSE(10) was refused) and
 * MEDIUM TYPE is byte 2. */
START_TEST(mode_select10_header)
{
	uint8_t ms10[10] = { 0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0 };        /* DBD, caching page */
	uint8_t sel10[10] = { 0x55, 0x10, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t pl[8 + 20];
	struct tt *x = run_cdb(ITN, 0, ms10, 10, SCSI_DIR_READ, 255);

	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.data_len, sizeof(pl));
	memcpy(pl, x->t.buf, sizeof(pl));
	tt_free(x);
	ck_assert_int_eq(get_be16(pl), sizeof(pl) - 2);
	/* MODE SENSE(10)'s data sent back (PS cleared, SPC-4 7.5.7) with WCE=0:
	 * accepted and applied */
	pl[8] &= 0x7f;
	pl[8 + 2] &= ~0x04;
	sel10[8] = sizeof(pl);
	x = tt_new(ITN, 0, sel10, 10, SCSI_DIR_WRITE, sizeof(pl));
	memcpy(x->t.buf, pl, sizeof(pl));
	tt_run(x);
	CHECK_GOOD(x);
	tt_free(x);
	x = mode_sense6(ITN, 1, 0, 0x08, 255);
	ck_assert_int_eq(x->t.buf[6], 0x00);
	tt_free(x);
	/* MEDIUM TYPE (byte 2) other than 00h */
	pl[2] = 0x01;
	x = tt_new(ITN, 0, sel10, 10, SCSI_DIR_WRITE, sizeof(pl));
	memcpy(x->t.buf, pl, sizeof(pl));
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	ck_assert_int_eq(x->t.sense[15], 0x80);         /* SKSV, C/D = parameter list */
	ck_assert_int_eq(get_be16(&x->t.sense[16]), 2);
	tt_free(x);
}
END_TEST

START_TEST(mode_nv_cache_fixed_wce)
{
	mem_attach(TGT, 4, 16, 512, TCONF_CACHE_NV, false);
	clear_ua(ITN, 4);
	uint8_t cdb[6] = { 0x1a, 0x08, 0x48, 0, 255, 0 };       /* changeable */
	struct tt *x = run_cdb(ITN, 4, cdb, 6, SCSI_DIR_READ, 255);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[6], 0);
	tt_free(x);
	cdb[2] = 0x08;
	x = run_cdb(ITN, 4, cdb, 6, SCSI_DIR_READ, 255);
	ck_assert_int_eq(x->t.buf[6], 0);
	tt_free(x);
	uint8_t pl[24] = { 0, 0, 0, 0, 0x08, 0x12, 0x04 };
	uint8_t ms[6] = { 0x15, 0x10, 0, 0, 24, 0 };
	x = tt_new(ITN, 4, ms, 6, SCSI_DIR_WRITE, 24);
	memcpy(x->t.buf, pl, 24);
	tt_run(x);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x26, 0x00);
	tt_free(x);
}
END_TEST

/* ---------------------------------------------------------------- unit attentions */

START_TEST(ua_lifecycle)
{
	struct scsi_itn *n = scsi_itn_create(TGT, "iqn.y,i,0x9", &PORT);
	uint8_t tur[6] = { 0 };
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	struct tt *x;

	/* INQUIRY passes and leaves the UA in place */
	x = run_cdb(n, 0, inq, 6, SCSI_DIR_READ, 36);
	CHECK_GOOD(x);
	tt_free(x);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x29, 0x00);
	tt_free(x);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);

	/* LUN reset: every nexus gets 29h/03h, REQUEST SENSE reports and clears */
	scsi_lun_reset(TGT, 0, n);
	uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	x = run_cdb(n, 0, rs, 6, SCSI_DIR_READ, 18);
	CHECK_GOOD(x);
	ck_assert_int_eq(x->t.buf[2], SK_UNIT_ATTENTION);
	ck_assert_int_eq(x->t.buf[12], 0x29);
	ck_assert_int_eq(x->t.buf[13], 0x03);
	tt_free(x);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	x = run_cdb(ITN, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x29, 0x03);
	tt_free(x);

	/* commands cleared by another initiator */
	scsi_itn_tasks_cleared(n, 0);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2f, 0x00);
	tt_free(x);

	/* LUN inventory change: 3Fh/0Eh, REPORT LUNS clears it */
	mem_attach(TGT, 2, 8, 512, TCONF_CACHE_WRITE_THROUGH, false);
	uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	x = run_cdb(n, 0, rl, 12, SCSI_DIR_READ, 256);
	CHECK_GOOD(x);
	ck_assert_int_eq(get_be32(x->t.buf), 16);
	tt_free(x);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);
	/* ITN has it until reported once */
	x = run_cdb(ITN2, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x29, 0x03);
	tt_free(x);
	x = run_cdb(ITN2, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x3f, 0x0e);
	tt_free(x);
	x = run_cdb(ITN2, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);

	/* removal too; a removed LUN is gone */
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 2), 0);
	ck_assert_int_eq(scsi_target_remove_lun(TGT, 2), -1);
	ck_assert_ptr_null(scsi_target_find_lun(TGT, 2));
	x = run_cdb(n, 2, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_ILLEGAL_REQUEST, 0x25, 0x00);
	tt_free(x);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x3f, 0x0e);
	tt_free(x);

	/* target reset: POWER ON supersedes a LUN reset */
	scsi_lun_reset(TGT, 0, NULL);
	scsi_target_reset(TGT, NULL);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x29, 0x00);
	tt_free(x);
	x = run_cdb(n, 0, tur, 6, SCSI_DIR_NONE, 0);
	CHECK_GOOD(x);
	tt_free(x);

	/* unsupported opcode still reports the UA first */
	scsi_itn_tasks_cleared(n, 0);
	uint8_t bad[16] = { 0xd5 };
	x = run_cdb(n, 0, bad, 16, SCSI_DIR_NONE, 0);
	CHECK_SENSE(x, SK_UNIT_ATTENTION, 0x2f, 0x00);
	tt_free(x);
	scsi_itn_destroy(n);
}
END_TEST

static void count_lun(const struct scsi_lun_info *i, void *arg)
{
	int *n = arg;
	(*n)++;
	ck_assert_int_eq(i->lun, 0);
	ck_assert_str_eq(i->cache, "write-back");
	ck_assert(i->wce);
	ck_assert_int_eq(i->size, NBLOCKS * 512ull);
	ck_assert_int_eq(i->block_size, 512);
}

START_TEST(target_basics)
{
	ck_assert_str_eq(scsi_target_name(TGT), TGT_NAME);
	ck_assert_int_eq(scsi_target_lun_count(TGT), 1);
	ck_assert_ptr_nonnull(scsi_target_find_lun(TGT, 0));
	ck_assert_ptr_null(scsi_target_find_lun(TGT, 1));
	ck_assert_ptr_null(scsi_target_find_lun(TGT, UINT64_MAX));
	int n = 0;
	scsi_target_foreach_lun(TGT, count_lun, &n);
	ck_assert_int_eq(n, 1);

	/* add_lun with a backend that cannot open reports the LUN */
	struct tconf_lun conf;
	char err[256] = "";
	memset(&conf, 0, sizeof(conf));
	conf.lun = 6;
	conf.backend = TCONF_BACKEND_FILEIO;
	strcpy(conf.path, "/nonexistent/dir/x.img");
	conf.block_size = 512;
	ck_assert_int_eq(scsi_target_add_lun(TGT, &conf, err, sizeof(err)), -1);
	ck_assert(strstr(err, "LUN 6") != NULL);
	conf.lun = 20000;
	ck_assert_int_eq(scsi_target_add_lun(TGT, &conf, err, sizeof(err)), -1);
	/* null backend through the real bdev_open */
	conf.lun = 6;
	conf.backend = TCONF_BACKEND_NULL;
	conf.path[0] = 0;
	conf.size = 1 << 20;
	harness_identity(&conf);
	ck_assert_int_eq(scsi_target_add_lun(TGT, &conf, err, sizeof(err)), 0);
	ck_assert_int_eq(scsi_target_lun_count(TGT), 2);
}
END_TEST

static Suite *scsi_suite(void)
{
	Suite *s = suite_create("scsi_cdb");
	TCase *tc;

	tc = tcase_create("sense");
	tcase_add_test(tc, sense_fixed_format);
	tcase_add_test(tc, sense_field_pointer_and_info);
	tcase_add_test(tc, lun_encode_decode);
	suite_add_tcase(s, tc);

	tc = tcase_create("inquiry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inquiry_standard);
	tcase_add_test(tc, inquiry_invalid);
	tcase_add_test(tc, inquiry_missing_lun);
	tcase_add_test(tc, vpd_supported_and_serial);
	tcase_add_test(tc, vpd_device_id);
	tcase_add_test(tc, vpd_device_id_tpg_and_config_naa);
	tcase_add_test(tc, vpd_extended_and_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("spc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, report_luns);
	tcase_add_test(tc, unsupported_opcode);
	tcase_add_test(tc, tur_request_sense_startstop);
	tcase_add_test(tc, report_supported_opcodes);
	tcase_add_test(tc, target_basics);
	suite_add_tcase(s, tc);

	tc = tcase_create("mode");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, mode_sense_pages);
	tcase_add_test(tc, mode_select_roundtrip);
	tcase_add_test(tc, mode_select_bad_lists);
	tcase_add_test(tc, mode_select10_header);
	tcase_add_test(tc, mode_nv_cache_fixed_wce);
	suite_add_tcase(s, tc);

	tc = tcase_create("unit_attention");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ua_lifecycle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scsi_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

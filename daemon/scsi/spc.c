/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Primary commands every logical unit answers (SPC-4 clause 6): INQUIRY with
 * its vital product data pages, REPORT LUNS, TEST UNIT READY, REQUEST SENSE,
 * and the two medium commands a fixed disk accepts (START STOP UNIT, PREVENT
 * ALLOW MEDIUM REMOVAL). */
#include <string.h>
#include <stdio.h>
#include "util/be.h"
#include "scsi/scsi_internal.h"
#include "scsi/alua.h"

#define INQ_STD_LEN 96

/* Version descriptors (SPC-4 7.8.2 table 141): SAM-5, SPC-4, SBC-3, iSCSI. */
static const uint16_t version_descriptors[] = { 0x00a0, 0x0460, 0x04c0, 0x0960 };

/* ASCII field, space padded, never NUL terminated (SPC-4 4.4.1). */
static void put_ascii(uint8_t *dst, size_t len, const char *s)
{
	size_t n = strlen(s);
	memset(dst, ' ', len);
	memcpy(dst, s, n < len ? n : len);
}

static int inquiry_standard(struct scsi_task *t, struct scsi_lun *lu, uint32_t alloc)
{
	uint8_t d[INQ_STD_LEN];

	memset(d, 0, sizeof(d));
	/* SPC-4 6.6.2: peripheral qualifier 011b / type 1Fh when no LUN. */
	d[0] = lu ? 0x00 : 0x7f;
	d[1] = 0x00;                    /* RMB=0: fixed medium */
	d[2] = 0x06;                    /* VERSION: SPC-4 */
	d[3] = 0x12;                    /* HISUP=1, RESPONSE DATA FORMAT=2 */
	d[4] = INQ_STD_LEN - 5;
	/* TPGS (SPC-4 5.15, alua.c): 11b implicit and explicit ALUA, 01b implicit
	 * only where a replicated pair's roles own the states (alua_explicit) */
	d[5] = scsi_alua_explicit() ? 0x30 : 0x10;
	d[5] |= 0x08;                   /* 3PC: EXTENDED COPY copy manager (xcopy.c) */
	d[6] = 0x00;
	d[7] = 0x02;                    /* CMDQUE */
	put_ascii(&d[8], 8, lu ? lu->vendor : "TANDEM");
	put_ascii(&d[16], 16, lu ? lu->product : "tandem-disk");
	put_ascii(&d[32], 4, lu ? lu->revision : "0001");
	for (size_t i = 0; i < ARRAY_SIZE(version_descriptors); i++)
		put_be16(&d[58 + 2 * i], version_descriptors[i]);
	return scsi_task_data_in(t, d, sizeof(d), alloc);
}

/* VPD 00h Supported VPD pages (SPC-4 7.8.15), ascending. */
static const uint8_t vpd_supported[] = { 0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2 };

static uint32_t vpd_supported_pages(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	memcpy(&d[4], vpd_supported, sizeof(vpd_supported));
	return 4 + sizeof(vpd_supported);
}

/* VPD 80h Unit Serial Number (SPC-4 7.8.16). */
static uint32_t vpd_serial(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	size_t n = strlen(lu->serial);
	memcpy(&d[4], lu->serial, n);
	return 4 + (uint32_t)n;
}

/* One designation descriptor header (SPC-4 7.8.6.1). */
static uint8_t *desig(uint8_t *p, uint8_t proto_codeset, uint8_t piv_assoc_type, uint8_t len)
{
	p[0] = proto_codeset;
	p[1] = piv_assoc_type;
	p[2] = 0;
	p[3] = len;
	return p + 4;
}

/* SCSI name string designator: UTF-8, NUL terminated, padded to a multiple
 * of 4 (SPC-4 7.8.6.11). */
static uint8_t *desig_name(uint8_t *p, uint8_t assoc, const char *name)
{
	size_t n = strnlen(name, TCONF_NAME_MAX) + 1;   /* names are at most 223 bytes */
	size_t padded = (n + 3) & ~(size_t)3;
	if (padded > 252)
		padded = 252, n = 251;
	uint8_t *q = desig(p, 0x53, (uint8_t)(0x80 | assoc | 0x08), (uint8_t)padded);
	memset(q, 0, padded);
	memcpy(q, name, n - 1);
	return q + padded;
}

/* VPD 83h Device Identification (SPC-4 7.8.6). Protocol identifier 5 = iSCSI. */
static uint32_t vpd_devid(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	uint8_t *p = &d[4];
	const struct scsi_port *port = t->itn ? &t->itn->port : NULL;

	/* NAA, logical unit association, binary */
	p = desig(p, 0x01, 0x03, lu->naa_len);
	memcpy(p, lu->naa, lu->naa_len);
	p += lu->naa_len;

	/* T10 vendor identification: vendor (8) + unit serial number */
	size_t sn = strlen(lu->serial);
	uint8_t *q = desig(p, 0x02, 0x01, (uint8_t)(8 + sn));
	put_ascii(q, 8, lu->vendor);
	memcpy(q + 8, lu->serial, sn);
	p = q + 8 + sn;

	if (port) {
		/* relative target port identifier, target port association */
		q = desig(p, 0x51, 0x80 | 0x10 | 0x04, 4);
		put_be16(q, 0);
		put_be16(q + 2, port->rel_port_id);
		p = q + 4;
		if (port->tpg_id) {
			/* target port group */
			q = desig(p, 0x51, 0x80 | 0x10 | 0x05, 4);
			put_be16(q, 0);
			put_be16(q + 2, port->tpg_id);
			p = q + 4;
		}
		if (port->name[0])
			p = desig_name(p, 0x10, port->name);
	}
	/* SCSI name string of the target device */
	p = desig_name(p, 0x20, lu->tgt->name);
	return (uint32_t)(p - d);
}

/* VPD 86h Extended INQUIRY Data (SPC-4 7.8.7). */
static uint32_t vpd_extended(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	d[5] = 0x01;                    /* SIMPSUP */
	if (lu->cache == TCONF_CACHE_WRITE_BACK)
		d[6] |= 0x01;           /* V_SUP: volatile cache */
	if (lu->cache == TCONF_CACHE_NV)
		d[6] |= 0x02;           /* NV_SUP */
	d[7] = 0x01;                    /* LUICLR (see ua.c) */
	return 64;
}

/* VPD B0h Block Limits (SBC-3 6.5.3). */
static uint32_t vpd_block_limits(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	put_be16(&d[6], (uint16_t)(1u << lu->phys_exp));          /* optimal granularity */
	put_be32(&d[8], SCSI_MAX_XFER_BYTES >> lu->block_shift);  /* maximum transfer */
	put_be32(&d[12], (1u << 20) >> lu->block_shift);          /* optimal transfer */
	scsi_lbp_block_limits(lu, d);   /* WSNZ, compare-and-write, unmap, write same (lbp.c) */
	return 64;
}

/* VPD B1h Block Device Characteristics (SBC-3 6.5.2). */
static uint32_t vpd_block_chars(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	uint16_t rate = 0;
	if (lu->rotation_rate > 0)
		rate = (uint16_t)lu->rotation_rate;
	else if (!lu->rotational)
		rate = 1;               /* non-rotating medium */
	put_be16(&d[4], rate);
	d[7] = 0x40;                    /* WABEREQ 01b: reads succeed after a BLOCK ERASE (sanitize.c) */
	return 64;
}

typedef uint32_t (*vpd_fn)(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d);
static const vpd_fn vpd_table[256] = {
	[0x00] = vpd_supported_pages,
	[0x80] = vpd_serial,
	[0x83] = vpd_devid,
	[0x86] = vpd_extended,
	[0xb0] = vpd_block_limits,
	[0xb1] = vpd_block_chars,
	[0xb2] = scsi_lbp_vpd_b2,
	[0x8f] = scsi_xcopy_vpd_tpc,    /* Third-party Copy (xcopy.c) */
};

/* SPC-4 6.6 INQUIRY */
int scsi_spc_inquiry(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint8_t evpd = t->cdb[1] & 0x01;
	uint8_t page = t->cdb[2];
	uint32_t alloc = get_be16(&t->cdb[3]);
	uint8_t d[1024];

	if (t->cdb[1] & 0xfe)           /* CMDDT (obsolete) and reserved bits */
		return scsi_task_invalid_cdb(t, 1, (t->cdb[1] & 0x02) ? 1 : -1);
	if (!evpd) {
		if (page)
			return scsi_task_invalid_cdb(t, 2, -1);
		return inquiry_standard(t, lu, alloc);
	}
	if (!lu)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	if (!vpd_table[page])
		return scsi_task_invalid_cdb(t, 2, -1);
	memset(d, 0, sizeof(d));
	uint32_t len = vpd_table[page](t, lu, d);
	d[0] = 0x00;                    /* qualifier 0, direct access block device */
	d[1] = page;
	put_be16(&d[2], (uint16_t)(len - 4));
	return scsi_task_data_in(t, d, len, alloc);
}

/* SPC-4 6.33 REPORT LUNS. Entries are written straight into the data buffer
 * so the LUN count does not bound a stack buffer. An ALLOCATION LENGTH below
 * 16 ("should be at least 16"; SPC-2 refused it) truncates the data like any
 * other (SPC-4 4.2.5.6), down to nothing for 0. */
int scsi_spc_report_luns(struct scsi_task *t)
{
	struct scsi_target *tgt = t->itn ? t->itn->tgt : NULL;
	uint8_t select = t->cdb[2];
	uint32_t alloc = get_be32(&t->cdb[6]);
	uint32_t room, n = 0;

	if (t->cdb[1])
		return scsi_task_invalid_cdb(t, 1, -1);
	if (select > 2)
		return scsi_task_invalid_cdb(t, 2, -1);
	room = alloc;
	if (room > t->edtl)
		room = t->edtl;
	if (room > t->buf_len)
		room = t->buf_len;
	if (!t->buf || t->dir != SCSI_DIR_READ)
		room = 0;

	/* select 1 = well known LUNs only: we have none. */
	if (tgt && select != 1) {
		for (uint32_t i = 0; i < SCSI_LUN_MAX; i++) {
			if (!scsi_target_find_lun(tgt, i))
				continue;
			uint8_t e[8];
			uint32_t off = 8 + n * 8;
			scsi_lun_encode(i, e);
			for (uint32_t b = 0; b < 8; b++)
				if (off + b < room)
					t->buf[off + b] = e[b];
			n++;
		}
	}
	uint8_t hdr[8] = { 0 };
	put_be32(hdr, n * 8);
	for (uint32_t b = 0; b < 8 && b < room; b++)
		t->buf[b] = hdr[b];
	t->xfer_len = alloc;
	t->data_len = 8 + n * 8 < room ? 8 + n * 8 : room;
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	/* SPC-4 6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for the nexus. */
	scsi_ua_clear(t->itn, SCSI_UA_ALL_LUNS, SCSI_UA_LUNS_CHANGED);
	return SCSI_DONE;
}

/* SPC-4 6.47 TEST UNIT READY: the medium is always there. */
int scsi_spc_test_unit_ready(struct scsi_task *t)
{
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

/* SPC-4 6.39 REQUEST SENSE: returns (and clears) a pending unit attention,
 * LOGICAL UNIT NOT SUPPORTED for a missing LUN, else NO SENSE. */
int scsi_spc_request_sense(struct scsi_task *t)
{
	uint8_t desc = t->cdb[1] & 0x01;
	uint32_t alloc = t->cdb[4];
	uint8_t fixed[SCSI_FIXED_SENSE_LEN], out[64];
	uint8_t asc, ascq;
	uint32_t len;

	if (t->cdb[1] & 0xfe)
		return scsi_task_invalid_cdb(t, 1, -1);
	if (!t->lu)
		scsi_sense_build_fixed(fixed, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	else if (scsi_ua_take(t->itn, (uint32_t)t->lun, &asc, &ascq))
		scsi_sense_build_fixed(fixed, SK_UNIT_ATTENTION, asc, ascq);
	else if (scsi_sanitize_sense(t->lu, fixed))
		;                       /* sanitize in progress / failed (sanitize.c) */
	else
		scsi_sense_build_fixed(fixed, SK_NO_SENSE, ASC_NO_ADDITIONAL_SENSE);
	if (desc) {
		len = scsi_sense_fixed_to_desc(fixed, out);
	} else {
		memcpy(out, fixed, sizeof(fixed));
		len = sizeof(fixed);
	}
	return scsi_task_data_in(t, out, len, alloc);
}

/* SBC-3 5.25 START STOP UNIT. The medium of a disk cannot be ejected or
 * loaded (RMB=0), so LOEJ=1 is an invalid field; power conditions and
 * START/STOP are accepted and have no effect. */
int scsi_spc_start_stop_unit(struct scsi_task *t)
{
	uint8_t pc = t->cdb[4] >> 4;

	if (t->cdb[1] & 0xfe)
		return scsi_task_invalid_cdb(t, 1, -1);
	if (t->cdb[2])
		return scsi_task_invalid_cdb(t, 2, -1);
	if (t->cdb[3] & 0xf0)
		return scsi_task_invalid_cdb(t, 3, -1);
	if (t->cdb[4] & 0x08)
		return scsi_task_invalid_cdb(t, 4, 3);
	if (pc == 0 && (t->cdb[4] & 0x02))
		return scsi_task_invalid_cdb(t, 4, 1);
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

/* SBC-3 5.12 PREVENT ALLOW MEDIUM REMOVAL: PREVENT 0 and 1 are recorded,
 * 2 and 3 (obsolete changer values) are invalid for a disk. */
int scsi_spc_prevent_allow(struct scsi_task *t)
{
	if (t->cdb[1] || t->cdb[2] || t->cdb[3])
		return scsi_task_invalid_cdb(t, t->cdb[1] ? 1 : t->cdb[2] ? 2 : 3, -1);
	if (t->cdb[4] & 0xfe)
		return scsi_task_invalid_cdb(t, 4, (t->cdb[4] & 0x02) ? 1 : -1);
	atomic_store_explicit(&t->lu->prevent, t->cdb[4] & 0x01, memory_order_relaxed);
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

/* SPC-4 6.26 MAINTENANCE IN: service actions by number. */
int scsi_spc_maint_in(struct scsi_task *t)
{
	switch (t->cdb[1] & 0x1f) {
	case 0x0c:
		return scsi_spc_report_opcodes(t);
	case 0x0a:
		return scsi_alua_report_tpgs(t);       /* alua.c */
	case 0x0d:
		return scsi_alua_report_tmfs(t);       /* alua.c */
	default:
		return scsi_task_invalid_cdb(t, 1, 4);
	}
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* REPORT SUPPORTED OPERATION CODES (SPC-4 6.35), generated from the opcode
 * table so that what is reported and what is dispatched never disagree. */
#include <string.h>
#include "util/be.h"
#include "scsi/scsi_internal.h"

/* Opcodes whose commands are selected by a service action, and the service
 * actions implemented for each (SERVACTV=1 in the descriptors). */
struct sa_list {
	uint8_t opcode;
	uint8_t n;
	uint8_t sa[4];
	uint8_t cdb_len[4];
};

static const struct sa_list sa_lists[] = {
	{ .opcode = 0x9e, .n = 1, .sa = { 0x10 }, .cdb_len = { 16 } },  /* READ CAPACITY(16) */
	{ .opcode = 0xa3, .n = 1, .sa = { 0x0c }, .cdb_len = { 12 } },  /* REPORT SUPPORTED OPCODES */
};

static const struct sa_list *sa_list_of(uint8_t opcode)
{
	for (size_t i = 0; i < ARRAY_SIZE(sa_lists); i++)
		if (sa_lists[i].opcode == opcode)
			return &sa_lists[i];
	return NULL;
}

/* Command timeouts descriptor (SPC-4 6.35.4): no timeouts advertised. */
static uint32_t put_timeouts(uint8_t *p)
{
	memset(p, 0, 12);
	put_be16(p, 0x0a);
	return 12;
}

/* CDB usage data: opcode, service action, every other bit but the CONTROL
 * byte's NACA/LINK shown as usable (SPC-4 6.35.3). */
static uint32_t put_usage(uint8_t *p, uint8_t opcode, int sa, uint8_t len)
{
	p[0] = opcode;
	memset(&p[1], 0xff, len - 2u);
	if (sa >= 0)
		p[1] = (uint8_t)sa;
	p[len - 1] = 0x00;
	return len;
}

int scsi_spc_report_opcodes(struct scsi_task *t)
{
	bool rctd = t->cdb[2] & 0x80;
	uint8_t opts = t->cdb[2] & 0x07;
	uint8_t req_op = t->cdb[3];
	uint16_t req_sa = get_be16(&t->cdb[4]);
	uint32_t alloc = get_be32(&t->cdb[6]);
	uint8_t d[4096];
	uint32_t len = 0;

	if (t->cdb[1] & 0xe0)
		return scsi_task_invalid_cdb(t, 1, -1);
	if (t->cdb[2] & 0x78)
		return scsi_task_invalid_cdb(t, 2, -1);
	memset(d, 0, sizeof(d));

	if (opts == 0) {
		/* all commands: 4-byte header, 8-byte descriptors (+12 with RCTD) */
		len = 4;
		for (int op = 0; op < 256; op++) {
			const struct scsi_op *o = &scsi_op_table[op];
			if (!o->fn)
				continue;
			const struct sa_list *sl = sa_list_of((uint8_t)op);
			int n = sl ? sl->n : 1;
			for (int i = 0; i < n; i++) {
				uint8_t *p = &d[len];
				p[0] = (uint8_t)op;
				if (sl)
					put_be16(&p[2], sl->sa[i]);
				p[5] = (uint8_t)((rctd ? 0x02 : 0) | (sl ? 0x01 : 0));
				put_be16(&p[6], sl ? sl->cdb_len[i] : o->cdb_len);
				len += 8;
				if (rctd)
					len += put_timeouts(&d[len]);
			}
		}
		put_be32(d, len - 4);
		return scsi_task_data_in(t, d, len, alloc);
	}

	if (opts > 3)
		return scsi_task_invalid_cdb(t, 2, 2);
	const struct scsi_op *o = &scsi_op_table[req_op];
	const struct sa_list *sl = sa_list_of(req_op);
	int sa = -1;
	uint8_t cdb_len = o->cdb_len;
	bool supported = o->fn != NULL;

	/* 001b: opcode without service actions; 010b: opcode + service action;
	 * 011b: either (SPC-4 table 254). */
	if (opts == 1 && sl)
		return scsi_task_invalid_cdb(t, 2, 2);
	if (opts == 2 && !sl && o->fn)
		return scsi_task_invalid_cdb(t, 2, 2);
	if (sl && opts != 1) {
		supported = false;
		for (int i = 0; i < sl->n; i++) {
			if (sl->sa[i] == req_sa) {
				supported = true;
				sa = sl->sa[i];
				cdb_len = sl->cdb_len[i];
			}
		}
	}
	d[1] = (uint8_t)((rctd ? 0x80 : 0) | (supported ? 0x03 : 0x01));
	len = 4;
	if (supported) {
		put_be16(&d[2], cdb_len);
		len += put_usage(&d[4], req_op, sa, cdb_len);
		if (rctd)
			len += put_timeouts(&d[len]);
	}
	return scsi_task_data_in(t, d, len, alloc);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PERSISTENT RESERVE IN (SPC-4 6.15) and PERSISTENT RESERVE OUT (SPC-4 6.16)
 * as CDBs: decoding and validating the parameter list (TransportIDs
 * included) into a struct scsi_pr_change, and encoding the PR IN reports
 * from the LUN's reservation record. The rules live in pr.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"
#include "scsi/task_bio.h"

#define ASC_PARAM_LIST_LENGTH_ERROR 0x1a, 0x00
#define ASC_INVALID_RELEASE_OF_PR 0x26, 0x04
#define ASC_INSUFFICIENT_REG_RESOURCES 0x55, 0x04
#define PR_OUT_PARAM_MAX (1u << 20)
#define ISCSI_PROTOCOL_ID 0x5

/* ---------------------------------------------------------------- TransportIDs */

/* SPC-4 7.6.4.6 iSCSI TransportID at p (avail bytes). Format 00b: iSCSI name;
 * format 01b: "name,i,0x<ISID>", ISID normalised to 12 lowercase hex digits as
 * the login builds initiator port names. Returns its length, or 0 with *bad
 * set to the offending byte (relative to p). */
static uint32_t parse_tid(const uint8_t *p, uint32_t avail, struct scsi_pr_id *id, uint16_t *bad)
{
	*bad = 0;
	if (avail < 4)
		return 0;
	uint8_t fmt = p[0] >> 6;
	if ((p[0] & 0x0f) != ISCSI_PROTOCOL_ID || (p[0] & 0x30) || fmt > 1)
		return 0;
	uint16_t alen = get_be16(&p[2]);
	*bad = 2;
	if (alen < 20 || (alen & 3) || 4u + alen > avail)
		return 0;
	*bad = 4;
	const char *name = (const char *)&p[4];
	size_t nlen = strnlen(name, alen);
	if (nlen == 0 || nlen == alen || nlen >= SCSI_PR_NAME_MAX)
		return 0;
	memset(id, 0, sizeof(*id));
	const char *comma = memchr(name, ',', nlen);
	if (fmt == 0) {
		if (comma)
			return 0;
		memcpy(id->initiator, name, nlen);
	} else {
		if (!comma || comma == name || nlen - (size_t)(comma - name) < 6 ||
		    strncasecmp(comma, ",i,0x", 5) != 0)
			return 0;
		const char *hex = comma + 5;
		size_t hl = nlen - (size_t)(hex - name);
		unsigned long long isid = 0;
		if (hl == 0 || hl > 12)
			return 0;
		for (size_t i = 0; i < hl; i++) {
			char c = hex[i];
			int v = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
			if (v < 0)
				return 0;
			isid = isid << 4 | (unsigned)v;
		}
		int n = snprintf(id->initiator, sizeof(id->initiator), "%.*s,i,0x%012llx", (int)(comma - name), name,
				 isid);
		if (n < 0 || (size_t)n >= sizeof(id->initiator))
			return 0;
	}
	return 4u + alen;
}

/* Encode the TransportID of a registration; returns its length (multiple of
 * 4, at least 24). */
static uint32_t put_tid(uint8_t *p, const struct scsi_pr_id *id)
{
	size_t n = strlen(id->initiator) + 1;
	uint32_t alen = (uint32_t)((n + 3) & ~(size_t)3);
	bool port = strstr(id->initiator, ",i,0x") || strstr(id->initiator, ",I,0X");

	if (alen < 20)
		alen = 20;
	memset(p, 0, 4 + alen);
	p[0] = (uint8_t)((port ? 0x40 : 0x00) | ISCSI_PROTOCOL_ID);
	put_be16(&p[2], (uint16_t)alen);
	memcpy(&p[4], id->initiator, n);
	return 4 + alen;
}

static uint32_t tid_len(const struct scsi_pr_id *id)
{
	uint32_t alen = (uint32_t)((strlen(id->initiator) + 1 + 3) & ~(size_t)3);
	return 4 + (alen < 20 ? 20 : alen);
}

/* ---------------------------------------------------------------- PERSISTENT RESERVE OUT */

static int finish(struct scsi_task *t, const struct scsi_pr_result *r)
{
	switch (r->rc) {
	case SCSI_PR_OK:
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	case SCSI_PR_CONFLICT:
		scsi_task_set_status(t, SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, 0);
		return SCSI_DONE;
	case SCSI_PR_BAD_CDB:
		return scsi_task_invalid_cdb(t, r->field, r->bit);
	case SCSI_PR_BAD_PARAM:
		return scsi_task_invalid_param(t, r->field, r->bit);
	case SCSI_PR_BAD_RELEASE:
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INVALID_RELEASE_OF_PR);
	case SCSI_PR_NO_RESOURCES:
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REG_RESOURCES);
	case SCSI_PR_STORE_FAILED:
	default:
		return scsi_task_check(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
}

static int param_len_error(struct scsi_task *t)
{
	return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
}

/* A replicated LUN: the peer holds the new record (or counts as Outdated)
 * before the PR OUT completes, like a mirrored write. */
static void pr_out_replicated(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;

	free(t->priv);
	t->priv = NULL;
	if (io->status)
		scsi_sbc_io_error(t, true, io->status);
	else
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	scsi_task_done(t);
}

int scsi_pr_out(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;
	uint8_t sa = cdb[1] & 0x1f;
	uint32_t len = get_be32(&cdb[5]);
	struct scsi_pr_change c;
	struct scsi_pr_result r;
	struct scsi_pr_id *tids = NULL;
	uint16_t badoff;
	int rc;

	if (sa > SCSI_PR_REGISTER_AND_MOVE)
		return scsi_task_invalid_cdb(t, 1, 4);
	/* SPC-4 6.16.3: at least the 24-byte basic parameter list */
	if (len < 24 || len > PR_OUT_PARAM_MAX || scsi_task_data_out(t, len) < len)
		return param_len_error(t);
	if (!t->itn)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* A replicated LUN's record is the Primary's: a Secondary's (standby)
	 * port answers PR IN from the copy it holds but takes no change that
	 * would exist on this node only (LOGICAL UNIT NOT ACCESSIBLE, TARGET
	 * PORT IN STANDBY STATE; the initiator uses its active path). */
	if (t->lu->pr->replicated && !bdev_state_writable(t->lu->bdev))
		return scsi_task_check(t, SK_NOT_READY, 0x04, 0x0b);

	const uint8_t *p = t->buf;
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.sa = sa;
	c.scope = cdb[2] >> 4;
	c.type = cdb[2] & 0x0f;
	c.key = get_be64(&p[0]);
	c.sa_key = get_be64(&p[8]);
	snprintf(c.from.initiator, sizeof(c.from.initiator), "%s", t->itn->initiator);
	c.by = t;
	c.from.rel_port_id = t->itn->port.rel_port_id;

	if (sa == SCSI_PR_REGISTER_AND_MOVE) {
		/* SPC-4 6.16.4 table 176 */
		c.unreg = p[17] & 0x02;
		c.aptpl = p[17] & 0x01;
		uint16_t rel = get_be16(&p[18]);
		uint32_t tlen = get_be32(&p[20]);
		if ((uint64_t)24 + tlen > len)
			return param_len_error(t);
		if (rel == 0)
			return scsi_task_invalid_param(t, 18, -1);
		tids = calloc(1, sizeof(*tids));
		if (!tids)
			return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REG_RESOURCES);
		uint32_t used = parse_tid(&p[24], tlen, &tids[0], &badoff);
		if (!used || used != tlen) {
			free(tids);
			return scsi_task_invalid_param(t, (uint16_t)(24 + badoff), -1);
		}
		tids[0].rel_port_id = rel;
		c.tids = tids;
		c.ntids = 1;
	} else {
		c.spec_i_pt = p[20] & 0x08;
		c.all_tg_pt = p[20] & 0x04;
		c.aptpl = p[20] & 0x01;
		if (c.spec_i_pt) {
			/* SPC-4 6.16.3: valid only with REGISTER */
			if (sa != SCSI_PR_REGISTER)
				return scsi_task_invalid_param(t, 20, 3);
			if (len < 28)
				return param_len_error(t);
			uint32_t tlen = get_be32(&p[24]);
			if ((uint64_t)28 + tlen > len)
				return param_len_error(t);
			uint32_t off = 28, end = 28 + tlen, n = 0, cap = 0;
			while (off < end) {
				if (n == cap) {
					cap = cap ? cap * 2 : 4;
					if (cap > SCSI_PR_MAX_REGS + 1) {
						free(tids);
						return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REG_RESOURCES);
					}
					struct scsi_pr_id *nt = realloc(tids, cap * sizeof(*nt));
					if (!nt) {
						free(tids);
						return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REG_RESOURCES);
					}
					tids = nt;
				}
				uint32_t used = parse_tid(&p[off], end - off, &tids[n], &badoff);
				if (!used) {
					free(tids);
					return scsi_task_invalid_param(t, (uint16_t)(off + badoff > 0xffff ? 0xffff : off + badoff), -1);
				}
				off += used;
				n++;
			}
			if (n == 0) {
				free(tids);
				return scsi_task_invalid_param(t, 24, -1);
			}
			c.tids = tids;
			c.ntids = n;
		} else if (len != 24) {
			return param_len_error(t);
		}
		/* APTPL counts only for the registering service actions */
		if (sa != SCSI_PR_REGISTER && sa != SCSI_PR_REGISTER_AND_IGNORE)
			c.aptpl = false;
	}
	scsi_pr_apply(t->lu, &c, &r);
	free(tids);
	if (r.rc == SCSI_PR_OK && t->lu->pr->replicated) {
		if (!r.rec) {
			scsi_pr_result_free(&r);
			return scsi_task_check(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		}
		t->priv = r.rec;
		r.rec = NULL;
		uint64_t seq = r.seq;
		size_t reclen = r.reclen;
		scsi_pr_result_free(&r);
		return scsi_task_bio_submit(t, BDEV_IO_STATE, 0, seq, t->priv, reclen, pr_out_replicated);
	}
	rc = finish(t, &r);
	scsi_pr_result_free(&r);
	return rc;
}

/* ---------------------------------------------------------------- PERSISTENT RESERVE IN */

static bool is_ar(uint8_t t) { return t == SCSI_PR_WR_EX_AR || t == SCSI_PR_EX_AC_AR; }

int scsi_pr_in(struct scsi_task *t)
{
	uint8_t sa = t->cdb[1] & 0x1f;
	uint16_t alloc = get_be16(&t->cdb[7]);
	struct scsi_pr *pr = t->lu->pr;
	const struct scsi_pr_state *s = &pr->st;
	uint8_t *d = NULL;
	uint32_t len = 0;

	if (sa > 3)
		return scsi_task_invalid_cdb(t, 1, 4);
	pthread_mutex_lock(&pr->lock);
	switch (sa) {
	case 0:         /* READ KEYS, SPC-4 6.15.2 */
		d = calloc(1, 8 + 8 * (size_t)s->nregs);
		if (!d)
			break;
		put_be32(&d[0], s->generation);
		put_be32(&d[4], 8 * s->nregs);
		for (uint32_t i = 0; i < s->nregs; i++)
			put_be64(&d[8 + 8 * i], s->regs[i].key);
		len = 8 + 8 * s->nregs;
		break;
	case 1:         /* READ RESERVATION, SPC-4 6.15.3 */
		d = calloc(1, 24);
		if (!d)
			break;
		put_be32(&d[0], s->generation);
		len = 8;
		if (s->type) {
			uint64_t key = 0;
			/* all-registrants types report key 0 (SPC-4 6.15.3.1) */
			for (uint32_t i = 0; i < s->nregs && !is_ar(s->type); i++)
				if (s->regs[i].holder)
					key = s->regs[i].key;
			put_be32(&d[4], 16);
			put_be64(&d[8], key);
			d[21] = (uint8_t)(s->scope << 4 | s->type);
			len = 24;
		}
		break;
	case 2:         /* REPORT CAPABILITIES, SPC-4 6.15.4 */
		d = calloc(1, 8);
		if (!d)
			break;
		put_be16(&d[0], 8);
		d[2] = 0x10 | 0x08 | 0x04 | 0x01;       /* CRH SIP_C ATP_C PTPL_C */
		d[3] = 0x80 | (0x3 << 4) | (s->aptpl ? 0x01 : 0); /* TMV, ALLOW COMMANDS 011b, PTPL_A */
		d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; /* WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX */
		d[5] = 0x01;                            /* EX_AC_AR */
		len = 8;
		break;
	case 3: {       /* READ FULL STATUS, SPC-4 6.15.5 */
		size_t cap = 8;
		for (uint32_t i = 0; i < s->nregs; i++)
			cap += 24 + tid_len(&s->regs[i].id);
		d = calloc(1, cap);
		if (!d)
			break;
		put_be32(&d[0], s->generation);
		len = 8;
		for (uint32_t i = 0; i < s->nregs; i++) {
			const struct scsi_pr_reg *g = &s->regs[i];
			uint8_t *e = &d[len];
			bool holder = s->type && (is_ar(s->type) || g->holder);
			put_be64(&e[0], g->key);
			e[12] = (uint8_t)((g->id.all_tg_pt ? 0x02 : 0) | (holder ? 0x01 : 0));
			if (holder)
				e[13] = (uint8_t)(s->scope << 4 | s->type);
			put_be16(&e[18], g->id.all_tg_pt ? 0 : g->id.rel_port_id);
			uint32_t tl = put_tid(&e[24], &g->id);
			put_be32(&e[20], tl);
			len += 24 + tl;
		}
		put_be32(&d[4], len - 8);
		break;
	}
	}
	pthread_mutex_unlock(&pr->lock);
	if (!d)
		return scsi_task_check(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	int rc = scsi_task_data_in(t, d, len, alloc);
	free(d);
	return rc;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* EXTENDED COPY throughput from an initiator's point of view: copies TOTAL
 * MiB from LUN a to LUN b of one target with XCOPY commands of CMD MiB
 * (ESXi default: 4 MiB, one segment) kept DEPTH deep, and prints the rate, so
 * that the offloaded copy can be compared with dd on the backing files.
 * Build: gcc -O2 -o xcopy_bench tests/bench/xcopy_bench.c -liscsi
 * Usage: xcopy_bench iscsi://HOST:PORT/IQN SRC_LUN DST_LUN TOTAL_MIB CMD_MIB DEPTH */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <poll.h>
#include <time.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define SEG_BLOCKS_MAX 32768u           /* 16 MiB of 512-byte blocks per segment */

struct bench {
	struct iscsi_context *iscsi;
	int lun;
	uint8_t naa[2][16];
	int naa_len[2];
	uint32_t bs;
	uint64_t next, end;             /* in blocks */
	uint32_t cmd_blocks;
	int inflight, errors;
};

static void get_naa(struct bench *b, int lun, int idx)
{
	struct scsi_task *t = iscsi_inquiry_sync(b->iscsi, lun, 1, 0x83, 255);
	struct scsi_inquiry_device_identification *di;

	if (!t || t->status != SCSI_STATUS_GOOD || !(di = scsi_datain_unmarshall(t))) {
		fprintf(stderr, "INQUIRY VPD 83h of LUN %d failed\n", lun);
		exit(1);
	}
	for (struct scsi_inquiry_device_designator *d = di->designators; d; d = d->next) {
		if (d->designator_type == SCSI_DESIGNATOR_TYPE_NAA && d->association == 0 &&
		    d->designator_length <= 16) {
			memcpy(b->naa[idx], d->designator, d->designator_length);
			b->naa_len[idx] = d->designator_length;
		}
	}
	if (!b->naa_len[idx]) {
		fprintf(stderr, "LUN %d has no NAA designator\n", lun);
		exit(1);
	}
	scsi_free_scsi_task(t);
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

static void cscd(uint8_t *d, const uint8_t *naa, int len, uint32_t bs)
{
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01;
	d[5] = 0x03;
	d[7] = (uint8_t)len;
	memcpy(&d[8], naa, len);
	d[29] = (uint8_t)(bs >> 16);
	d[30] = (uint8_t)(bs >> 8);
	d[31] = (uint8_t)bs;
}

static void issue(struct bench *b);

static void done(struct iscsi_context *iscsi, int status, void *data, void *priv)
{
	struct bench *b = priv;
	struct scsi_task *t = data;

	(void)iscsi;
	if (status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "EXTENDED COPY failed: status %d sense %x/%04x\n", status, t->sense.key,
			t->sense.ascq);
		b->errors++;
	}
	free(t->ptr);
	scsi_free_scsi_task(t);
	b->inflight--;
	issue(b);
}

static void issue(struct bench *b)
{
	if (b->next >= b->end || b->errors)
		return;
	uint64_t n = b->end - b->next;
	if (n > b->cmd_blocks)
		n = b->cmd_blocks;
	unsigned nseg = (unsigned)((n + SEG_BLOCKS_MAX - 1) / SEG_BLOCKS_MAX);
	uint32_t len = 16 + 64 + nseg * 28;
	uint8_t *p = calloc(1, len);
	struct iscsi_data data = { .size = len, .data = p };

	p[1] = 3 << 3;                  /* LIST ID USAGE 11b, LIST IDENTIFIER 0: no status kept */
	put16(&p[2], 64);
	put32(&p[8], nseg * 28);
	cscd(&p[16], b->naa[0], b->naa_len[0], b->bs);
	cscd(&p[48], b->naa[1], b->naa_len[1], b->bs);
	for (unsigned i = 0; i < nseg; i++) {
		uint8_t *s = &p[80 + i * 28];
		uint32_t k = n > SEG_BLOCKS_MAX ? SEG_BLOCKS_MAX : (uint32_t)n;
		s[0] = 0x02;
		put16(&s[2], 0x18);
		put16(&s[4], 0);
		put16(&s[6], 1);
		put16(&s[10], k);
		put64(&s[12], b->next);
		put64(&s[20], b->next);
		b->next += k;
		n -= k;
	}
	struct scsi_task *t = iscsi_extended_copy_task(b->iscsi, b->lun, &data, done, b);
	if (!t) {
		fprintf(stderr, "cannot queue EXTENDED COPY: %s\n", iscsi_get_error(b->iscsi));
		exit(1);
	}
	t->ptr = p;
	b->inflight++;
}

int main(int argc, char **argv)
{
	struct bench b;
	struct timespec t0, t1;

	if (argc != 7) {
		fprintf(stderr, "usage: %s iscsi://HOST:PORT/IQN SRC_LUN DST_LUN TOTAL_MIB CMD_MIB DEPTH\n", argv[0]);
		return 2;
	}
	memset(&b, 0, sizeof(b));
	b.iscsi = iscsi_create_context("iqn.2007-10.com.github:sahlberg:libiscsi:xcopy-bench");
	char url[512];
	snprintf(url, sizeof(url), "%s/%s", argv[1], argv[2]);
	struct iscsi_url *u = iscsi_parse_full_url(b.iscsi, url);
	if (!u) {
		fprintf(stderr, "bad URL: %s\n", iscsi_get_error(b.iscsi));
		return 2;
	}
	iscsi_set_targetname(b.iscsi, u->target);
	iscsi_set_session_type(b.iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(b.iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (iscsi_full_connect_sync(b.iscsi, u->portal, u->lun) != 0) {
		fprintf(stderr, "login failed: %s\n", iscsi_get_error(b.iscsi));
		return 1;
	}
	b.lun = u->lun;
	int dst = atoi(argv[3]);
	get_naa(&b, b.lun, 0);
	get_naa(&b, dst, 1);
	struct scsi_task *rc = iscsi_readcapacity10_sync(b.iscsi, b.lun, 0, 0);
	struct scsi_readcapacity10 *cap = rc ? scsi_datain_unmarshall(rc) : NULL;
	b.bs = cap ? cap->block_size : 512;
	b.end = (uint64_t)atoi(argv[4]) * (1u << 20) / b.bs;
	b.cmd_blocks = (uint32_t)((uint64_t)atoi(argv[5]) * (1u << 20) / b.bs);
	int depth = atoi(argv[6]);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < depth; i++)
		issue(&b);
	while (b.inflight) {
		struct pollfd pfd = { .fd = iscsi_get_fd(b.iscsi), .events = iscsi_which_events(b.iscsi) };
		if (poll(&pfd, 1, 1000) < 0 || iscsi_service(b.iscsi, pfd.revents) < 0) {
			fprintf(stderr, "iscsi_service: %s\n", iscsi_get_error(b.iscsi));
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double mib = (double)b.next * b.bs / (1 << 20);
	printf("copied %.0f MiB LUN %d -> LUN %d, %s MiB per command, depth %d: %.3f s, %.1f MiB/s%s\n", mib, b.lun,
	       dst, argv[5], depth, s, mib / s, b.errors ? " (ERRORS)" : "");
	iscsi_logout_sync(b.iscsi);
	iscsi_destroy_context(b.iscsi);
	return b.errors ? 1 : 0;
}

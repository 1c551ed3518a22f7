/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VAAI figures from an initiator's point of view: the latency of COMPARE AND
 * WRITE on an idle LUN (ESXi's ATS heartbeat: one block, compare the old value,
 * write the new one), and the time to UNMAP 1 GiB (descriptors of at most the
 * LUN's MAXIMUM UNMAP LBA COUNT, sent one command after the other).
 * Build: gcc -O2 -o vaai_bench tests/bench/vaai_bench.c -liscsi
 * Usage: vaai_bench iscsi://HOST:PORT/IQN/LUN ATS_COUNT UNMAP_MIB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int ok(struct scsi_task *t, const char *what)
{
	if (t && t->status == SCSI_STATUS_GOOD)
		return 1;
	fprintf(stderr, "%s failed: %s\n", what, t ? "CHECK CONDITION or error" : "no task");
	return 0;
}

int main(int argc, char **argv)
{
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	struct scsi_task *t;
	struct scsi_readcapacity16 *rc16;
	uint32_t bs;
	int count, unmap_mib, lun;

	if (argc != 4 || (count = atoi(argv[2])) < 1 || (unmap_mib = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: %s iscsi://HOST:PORT/IQN/LUN ATS_COUNT UNMAP_MIB\n", argv[0]);
		return 2;
	}
	iscsi = iscsi_create_context("iqn.2026-11.org.tandem:vaai-bench");
	url = iscsi ? iscsi_parse_full_url(iscsi, argv[1]) : NULL;
	if (!url) {
		fprintf(stderr, "bad URL %s\n", argv[1]);
		return 2;
	}
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_targetname(iscsi, url->target);
	lun = url->lun;
	if (iscsi_full_connect_sync(iscsi, url->portal, lun) != 0) {
		fprintf(stderr, "login failed: %s\n", iscsi_get_error(iscsi));
		return 1;
	}
	t = iscsi_readcapacity16_sync(iscsi, lun);
	if (!ok(t, "READ CAPACITY(16)") || !(rc16 = scsi_datain_unmarshall(t)))
		return 1;
	bs = rc16->block_length;
	scsi_free_scsi_task(t);

	/* ATS: old value = the block as it is, new value = a counter; each command
	 * compares the previous command's new value. */
	{
		unsigned char *buf = calloc(2, bs);
		double *lat = calloc((size_t)count, sizeof(double)), sum = 0;

		t = iscsi_read16_sync(iscsi, lun, 0, bs, bs, 0, 0, 0, 0, 0);
		if (!ok(t, "READ(16)"))
			return 1;
		memcpy(buf, t->datain.data, bs);
		scsi_free_scsi_task(t);
		for (int i = 0; i < count; i++) {
			memset(buf + bs, 0, bs);
			memcpy(buf + bs, &i, sizeof(i));
			double t0 = now_us();
			t = iscsi_compareandwrite_sync(iscsi, lun, 0, buf, 2 * bs, bs, 0, 0, 0, 0, 0);
			lat[i] = now_us() - t0;
			if (!ok(t, "COMPARE AND WRITE"))
				return 1;
			scsi_free_scsi_task(t);
			memcpy(buf, buf + bs, bs);
			sum += lat[i];
		}
		qsort(lat, (size_t)count, sizeof(double), cmp_double);
		printf("ATS: %d commands, one block of %u bytes, idle LUN: mean %.0f us, median %.0f us, p99 %.0f us\n",
		       count, bs, sum / count, lat[count / 2], lat[(int)(count * 0.99)]);
		free(buf);
		free(lat);
	}

	/* UNMAP: write the range first (so there is something to deallocate),
	 * then time the UNMAP commands alone. */
	{
		uint64_t blocks = (uint64_t)unmap_mib * 1024 * 1024 / bs, per_cmd = 1u << 20;   /* our MAXIMUM UNMAP LBA COUNT (VPD B0h) */
		unsigned char *zero = calloc(1, 1 << 20);
		double t0, t1;
		int cmds = 0;

		memset(zero, 0xa5, 1 << 20);
		for (uint64_t lba = 0; lba < blocks; lba += (1 << 20) / bs) {
			t = iscsi_write16_sync(iscsi, lun, lba, zero, 1 << 20, bs, 0, 0, 0, 0, 0);
			if (!ok(t, "WRITE(16)"))
				return 1;
			scsi_free_scsi_task(t);
		}
		t0 = now_us();
		for (uint64_t lba = 0; lba < blocks; lba += per_cmd) {
			struct unmap_list list = { .lba = lba, .num = (uint32_t)(blocks - lba < per_cmd ? blocks - lba : per_cmd) };
			t = iscsi_unmap_sync(iscsi, lun, 0, 0, &list, 1);
			if (!ok(t, "UNMAP"))
				return 1;
			scsi_free_scsi_task(t);
			cmds++;
		}
		t1 = now_us();
		printf("UNMAP: %d MiB in %d command(s): %.1f ms\n", unmap_mib, cmds, (t1 - t0) / 1000);
		free(zero);
	}
	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	iscsi_destroy_url(url);
	return 0;
}

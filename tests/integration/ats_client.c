/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One iSCSI session (libiscsi) that hammers COMPARE AND WRITE or WRITE on a
 * shared pair of blocks, so that test_ats_concurrency.sh can check from the
 * final content that every successful ATS was atomic.
 *
 * Layout (512-byte blocks, LBA base B):
 *   B     counter block: kind 'C', value = counter, id = last ATS winner
 *   B+1   tag block written by ATS (kind 'A', value = counter) and by
 *         writers (kind 'W', value = seq)
 *   B+2   writer block: writers write B+1..B+2 in one WRITE(16)
 * Every block is self-describing: 24-byte header {kind, value, id} and a
 * filler derived from it, so a torn or mixed block is detected.
 *
 * usage: ats_client URL init|ats|write|check ID ITERATIONS
 *   ats:   ITERATIONS successful increments by ATS (read, compare, write
 *          counter+1); prints "ats ID ok N miscompare M" and each won
 *          counter value as "won V".
 *   write: ITERATIONS WRITE(16) of B+1..B+2; prints "write ID ok N".
 *   check: prints "counter V" and "tag KIND VALUE" after validating blocks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define BS 512
#define BASE 100

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void stamp(uint8_t *b, char kind, uint64_t value, uint64_t id)
{
	memset(b, 0, BS);
	put64(b, (uint64_t)(uint8_t)kind);
	put64(b + 8, value);
	put64(b + 16, id);
	for (int i = 24; i < BS; i++)
		b[i] = (uint8_t)(value * 31 + id * 7 + (uint64_t)i);
}

/* A block as written by stamp() (or never written: all zero). */
static int valid(const uint8_t *b)
{
	uint64_t kind = get64(b), value = get64(b + 8), id = get64(b + 16);
	int zero = 1;
	for (int i = 0; i < BS; i++)
		zero &= b[i] == 0;
	if (zero)
		return 1;
	if (kind != 'C' && kind != 'A' && kind != 'W')
		return 0;
	for (int i = 24; i < BS; i++)
		if (b[i] != (uint8_t)(value * 31 + id * 7 + (uint64_t)i))
			return 0;
	return 1;
}

static struct iscsi_context *connect_url(const char *url, int id, int *lun)
{
	char name[128];
	snprintf(name, sizeof(name), "iqn.2007-10.com.github:sahlberg:libiscsi:ats-%d", id);
	struct iscsi_context *iscsi = iscsi_create_context(name);
	struct iscsi_url *u;

	if (!iscsi)
		return NULL;
	u = iscsi_parse_full_url(iscsi, url);
	if (!u) {
		fprintf(stderr, "bad url %s: %s\n", url, iscsi_get_error(iscsi));
		return NULL;
	}
	iscsi_set_targetname(iscsi, u->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	if (iscsi_full_connect_sync(iscsi, u->portal, u->lun) != 0) {
		fprintf(stderr, "login failed: %s\n", iscsi_get_error(iscsi));
		iscsi_destroy_url(u);
		return NULL;
	}
	*lun = u->lun;
	iscsi_destroy_url(u);
	return iscsi;
}

static int read_blocks(struct iscsi_context *iscsi, int lun, uint64_t lba, int n, uint8_t *out)
{
	struct scsi_task *t = iscsi_read16_sync(iscsi, lun, lba, (uint32_t)(n * BS), BS, 0, 0, 0, 0, 0);
	int rc = -1;

	if (t && t->status == SCSI_STATUS_GOOD && t->datain.size == n * BS) {
		memcpy(out, t->datain.data, (size_t)(n * BS));
		rc = 0;
	} else {
		fprintf(stderr, "READ16 failed: %s\n", iscsi_get_error(iscsi));
	}
	if (t)
		scsi_free_scsi_task(t);
	return rc;
}

static int write_blocks(struct iscsi_context *iscsi, int lun, uint64_t lba, int n, uint8_t *data)
{
	struct scsi_task *t = iscsi_write16_sync(iscsi, lun, lba, data, (uint32_t)(n * BS), BS, 0, 0, 0, 0, 0);
	int rc = t && t->status == SCSI_STATUS_GOOD ? 0 : -1;

	if (rc)
		fprintf(stderr, "WRITE16 failed: %s\n", iscsi_get_error(iscsi));
	if (t)
		scsi_free_scsi_task(t);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s URL init|ats|write|check ID ITERATIONS\n", argv[0]);
		return 2;
	}
	const char *mode = argv[2];
	int id = atoi(argv[3]);
	long iters = atol(argv[4]);
	int lun;
	struct iscsi_context *iscsi = connect_url(argv[1], id, &lun);
	uint8_t cur[3 * BS], buf[4 * BS];

	if (!iscsi)
		return 1;
	if (strcmp(mode, "init") == 0) {
		stamp(buf, 'C', 0, 0);
		stamp(buf + BS, 'A', 0, 0);
		stamp(buf + 2 * BS, 'W', 0, 0);
		return write_blocks(iscsi, lun, BASE, 3, buf) ? 1 : 0;
	}
	if (strcmp(mode, "check") == 0) {
		if (read_blocks(iscsi, lun, BASE, 3, cur))
			return 1;
		for (int b = 0; b < 3; b++)
			if (!valid(cur + b * BS)) {
				printf("torn block %d\n", BASE + b);
				return 1;
			}
		printf("counter %llu\n", (unsigned long long)get64(cur + 8));
		printf("tag %c %llu\n", (char)get64(cur + BS), (unsigned long long)get64(cur + BS + 8));
		printf("writer %c %llu %llu\n", (char)get64(cur + 2 * BS), (unsigned long long)get64(cur + 2 * BS + 8),
		       (unsigned long long)get64(cur + 2 * BS + 16));
		return 0;
	}
	if (strcmp(mode, "write") == 0) {
		long ok = 0;
		for (long i = 1; i <= iters; i++) {
			stamp(buf, 'W', (uint64_t)i, (uint64_t)id);
			stamp(buf + BS, 'W', (uint64_t)i, (uint64_t)id);
			if (write_blocks(iscsi, lun, BASE + 1, 2, buf))
				return 1;
			ok++;
		}
		printf("write %d ok %ld\n", id, ok);
		return 0;
	}
	if (strcmp(mode, "ats") != 0)
		return 2;
	long ok = 0, mis = 0;
	while (ok < iters) {
		if (read_blocks(iscsi, lun, BASE, 2, cur))
			return 1;
		if (!valid(cur) || !valid(cur + BS)) {
			printf("torn block read\n");
			return 1;
		}
		uint64_t c = get64(cur + 8);
		/* verify instance: what was read; write instance: counter + 1 */
		memcpy(buf, cur, 2 * BS);
		stamp(buf + 2 * BS, 'C', c + 1, (uint64_t)id);
		stamp(buf + 3 * BS, 'A', c + 1, (uint64_t)id);
		struct scsi_task *t = iscsi_compareandwrite_sync(iscsi, lun, BASE, buf, 4 * BS, BS, 0, 0, 0, 0, 0);
		if (!t) {
			fprintf(stderr, "COMPARE AND WRITE: %s\n", iscsi_get_error(iscsi));
			return 1;
		}
		if (t->status == SCSI_STATUS_GOOD) {
			ok++;
			printf("won %llu\n", (unsigned long long)c);
		} else if (t->status == SCSI_STATUS_CHECK_CONDITION && t->sense.key == SCSI_SENSE_MISCOMPARE &&
			   t->sense.ascq == 0x1d00) {
			mis++;
		} else {
			fprintf(stderr, "COMPARE AND WRITE: status %d sense %d/%04x\n", t->status, t->sense.key,
				t->sense.ascq);
			scsi_free_scsi_task(t);
			return 1;
		}
		scsi_free_scsi_task(t);
	}
	printf("ats %d ok %ld miscompare %ld\n", id, ok, mis);
	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	return 0;
}

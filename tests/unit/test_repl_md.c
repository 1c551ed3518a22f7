/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the replication metadata (repl/md.c, repl/md_decide.c):
 * on-disk durability, torn writes, bitmap, activity log and crash replay, and
 * the generation-id decision table row by row. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "iscsi/param.h"
#include "repl/md.h"
#include "repl/md_format.h"
#include "util/be.h"
#include <sys/syscall.h>

/* fdatasync of this test process: set fail_next_sync and the next call
 * writes the data (the real call) and then reports EIO, like a device that
 * fails the flush after the write reached it. */
static int fail_next_sync;
int fdatasync(int fd)
{
	long r = syscall(SYS_fdatasync, fd);

	if (fail_next_sync) {
		fail_next_sync = 0;
		errno = EIO;
		return -1;
	}
	return (int)r;
}

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)
#define EXT ((uint64_t)REPL_MD_AL_EXTENT)

static char dir[256];
static char path[512];
static char err[512];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/var/tmp/tandem-test-md-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/sub/dir/lun0.md", dir);
	err[0] = '\0';
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

static struct repl_md *mk(uint64_t dev, uint32_t chunk, enum repl_disk_state disk)
{
	struct repl_md *md;

	ck_assert_msg(repl_md_create(path, dev, chunk, disk, true, err, sizeof(err)) == 0, "create: %s", err);
	md = repl_md_open(path, dev, err, sizeof(err));
	ck_assert_msg(md != NULL, "open: %s", err);
	return md;
}

static struct repl_md *reopen(uint64_t dev)
{
	struct repl_md *md = repl_md_open(path, dev, err, sizeof(err));
	ck_assert_msg(md != NULL, "reopen: %s", err);
	return md;
}

static void file_rw(uint64_t off, void *buf, size_t len, bool write)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	if (write)
		ck_assert_int_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	else
		ck_assert_int_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint64_t slot_seq(int slot)
{
	uint8_t b[8];
	file_rw((slot ? MD_SLOT_B_OFF : MD_SLOT_A_OFF) + MD_SB_SEQ, b, 8, false);
	return get_be64(b);
}

static void corrupt(uint64_t off)
{
	uint8_t b;
	file_rw(off, &b, 1, false);
	b ^= 0x5a;
	file_rw(off, &b, 1, true);
}

/* Recompute a superblock slot's CRC after editing it (to reach the checks behind the CRC). */
static void slot_fix_crc(int slot)
{
	uint8_t b[MD_BLOCK];
	uint64_t off = slot ? MD_SLOT_B_OFF : MD_SLOT_A_OFF;

	file_rw(off, b, sizeof(b), false);
	memset(b + MD_SB_CRC, 0, 4);
	put_be32(b + MD_SB_CRC, iscsi_crc32c(b, sizeof(b)));
	file_rw(off, b, sizeof(b), true);
}

/* ---- superblock, create, open ---- */

START_TEST(test_roundtrip)
{
	struct repl_md *md = mk(1 * GiB, 0, REPL_DISK_INCONSISTENT);
	struct repl_md_gen g = repl_md_get_gen(md);

	ck_assert_uint_eq(g.current, 0);
	ck_assert_uint_eq(g.bitmap, 0);
	ck_assert_int_eq(repl_md_get_disk(md), REPL_DISK_INCONSISTENT);
	ck_assert_uint_eq(repl_md_get_flags(md), 0);
	ck_assert_uint_eq(repl_md_chunk_bytes(md), REPL_MD_DEFAULT_CHUNK);
	ck_assert_uint_eq(repl_md_bm_bits(md), 1 * GiB / REPL_MD_DEFAULT_CHUNK);
	ck_assert_uint_eq(repl_md_bm_count(md), 0);
	ck_assert_uint_eq(repl_md_al_active(md), 0);
	ck_assert_int_eq(repl_md_close(md), 0);
	md = reopen(1 * GiB);
	ck_assert_int_eq(repl_md_get_disk(md), REPL_DISK_INCONSISTENT);
	ck_assert_int_eq(repl_md_close(md), 0);

	/* --new-device: UpToDate with the well-known id */
	md = mk(1 * GiB, 4096, REPL_DISK_UPTODATE);
	ck_assert_uint_eq(repl_md_get_gen(md).current, REPL_MD_GEN_NEW_DEVICE);
	ck_assert_int_eq(repl_md_get_disk(md), REPL_DISK_UPTODATE);
	ck_assert_uint_eq(repl_md_bm_bits(md), 1 * GiB / 4096);
	ck_assert_int_eq(repl_md_close(md), 0);
}
END_TEST

START_TEST(test_create_refuses)
{
	struct stat st;
	struct repl_md *md;

	ck_assert_int_eq(repl_md_create(path, 1 * GiB, 0, REPL_DISK_INCONSISTENT, false, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);     /* parent directories created */
	ck_assert_int_eq(repl_md_create(path, 2 * GiB, 0, REPL_DISK_INCONSISTENT, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "force"), "%s", err);
	ck_assert_int_eq(repl_md_create(path, 2 * GiB, 0, REPL_DISK_INCONSISTENT, true, err, sizeof(err)), 0);
	md = reopen(2 * GiB);
	/* in use: even force refuses */
	ck_assert_int_eq(repl_md_create(path, 2 * GiB, 0, REPL_DISK_INCONSISTENT, true, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "in use"), "%s", err);
	ck_assert_ptr_null(repl_md_open(path, 2 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "in use"), "%s", err);
	repl_md_close(md);
	/* bad parameters */
	ck_assert_int_eq(repl_md_create(path, 1 * GiB, 1000, REPL_DISK_INCONSISTENT, true, err, sizeof(err)), -1);
	ck_assert_int_eq(repl_md_create(path, 1 * GiB, 0, REPL_DISK_DISKLESS, true, err, sizeof(err)), -1);
	ck_assert_int_eq(repl_md_create(path, 0, 0, REPL_DISK_INCONSISTENT, true, err, sizeof(err)), -1);
	/* one valid slot is enough to count as metadata */
	file_rw(0, "garbage", 7, true);
	ck_assert_int_eq(repl_md_create(path, 1 * GiB, 0, REPL_DISK_INCONSISTENT, false, err, sizeof(err)), -1);
	/* a file without metadata may be overwritten */
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(repl_md_create(path, 1 * GiB, 0, REPL_DISK_INCONSISTENT, false, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_set_durable)
{
	struct repl_md *md = mk(1 * GiB, 0, REPL_DISK_INCONSISTENT);
	struct repl_md_gen g = { .current = 0x1111, .bitmap = 0x2222, .history = { 0x3333, 0x4444 } }, r;

	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_UPTODATE, REPL_MD_F_CONNECTED | REPL_MD_F_PEER_OUTDATED), 0);
	ck_assert_int_eq(repl_md_close(md), 0);
	md = reopen(1 * GiB);
	r = repl_md_get_gen(md);
	ck_assert_mem_eq(&r, &g, sizeof(g));
	ck_assert_int_eq(repl_md_get_disk(md), REPL_DISK_UPTODATE);
	ck_assert_uint_eq(repl_md_get_flags(md), REPL_MD_F_CONNECTED | REPL_MD_F_PEER_OUTDATED);
	/* durable without close too */
	g.current = 0x5555;
	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_OUTDATED, 0), 0);
	repl_md_free_unclean(md);
	md = reopen(1 * GiB);
	ck_assert_uint_eq(repl_md_get_gen(md).current, 0x5555);
	ck_assert_int_eq(repl_md_get_disk(md), REPL_DISK_OUTDATED);
	ck_assert_uint_eq(repl_md_get_flags(md), 0);     /* not Primary: no crashed flag */
	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_DUNKNOWN, 0), -1);
	repl_md_close(md);
}
END_TEST

START_TEST(test_crashed_primary_flag)
{
	struct repl_md *md = mk(1 * GiB, 0, REPL_DISK_UPTODATE);
	struct repl_md_gen g = repl_md_get_gen(md);

	/* clean shutdown while Primary: not a crash; node comes back Secondary */
	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_UPTODATE, REPL_MD_F_PRIMARY), 0);
	repl_md_close(md);
	md = reopen(1 * GiB);
	ck_assert_uint_eq(repl_md_get_flags(md), 0);
	/* crash while Primary */
	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_UPTODATE, REPL_MD_F_PRIMARY | REPL_MD_F_CONNECTED), 0);
	repl_md_free_unclean(md);
	md = reopen(1 * GiB);
	ck_assert_uint_eq(repl_md_get_flags(md), REPL_MD_F_CRASHED_PRIMARY | REPL_MD_F_CONNECTED);
	/* persists until the engine clears it */
	repl_md_close(md);
	md = reopen(1 * GiB);
	ck_assert_uint_eq(repl_md_get_flags(md), REPL_MD_F_CRASHED_PRIMARY | REPL_MD_F_CONNECTED);
	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_UPTODATE, REPL_MD_F_CONNECTED), 0);
	repl_md_close(md);
	md = reopen(1 * GiB);
	ck_assert_uint_eq(repl_md_get_flags(md), REPL_MD_F_CONNECTED);
	repl_md_close(md);
}
END_TEST

START_TEST(test_torn_superblock)
{
	struct repl_md *md = mk(1 * GiB, 0, REPL_DISK_UPTODATE);
	struct repl_md_gen g1 = { .current = 0xa1 }, g2 = { .current = 0xa2 };
	int newer;

	ck_assert_int_eq(repl_md_set(md, &g1, REPL_DISK_UPTODATE, 0), 0);
	ck_assert_int_eq(repl_md_set(md, &g2, REPL_DISK_OUTDATED, 0), 0);
	repl_md_free_unclean(md);
	/* slots hold g1 and g2; tear the newer one */
	ck_assert_uint_eq(slot_seq(0) > slot_seq(1) ? slot_seq(0) - slot_seq(1) : slot_seq(1) - slot_seq(0), 1);
	newer = slot_seq(1) > slot_seq(0);
	corrupt((newer ? MD_SLOT_B_OFF : MD_SLOT_A_OFF) + MD_SB_GEN_CURRENT + 3);
	md = reopen(1 * GiB);
	ck_assert_uint_eq(repl_md_get_gen(md).current, 0xa1);
	ck_assert_int_eq(repl_md_get_disk(md), REPL_DISK_UPTODATE);
	/* the next write goes to the torn slot and wins again */
	ck_assert_int_eq(repl_md_set(md, &g2, REPL_DISK_UPTODATE, 0), 0);
	repl_md_close(md);
	md = reopen(1 * GiB);
	ck_assert_uint_eq(repl_md_get_gen(md).current, 0xa2);
	repl_md_close(md);
	/* a torn tail of the block (beyond the used fields) is caught too */
	corrupt(MD_SLOT_A_OFF + 4000);
	corrupt(MD_SLOT_B_OFF + 4000);
	ck_assert_ptr_null(repl_md_open(path, 1 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "checksum mismatch"), "%s", err);
}
END_TEST

START_TEST(test_open_errors)
{
	struct repl_md *md = mk(1 * GiB, 0, REPL_DISK_UPTODATE);
	uint8_t b[4];

	repl_md_close(md);
	ck_assert_ptr_null(repl_md_open(path, 2 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "1073741824") && strstr(err, "2147483648"), "%s", err);
	/* version */
	file_rw(MD_SLOT_A_OFF + MD_SB_VERSION, b, 4, false);
	put_be32(b, 2);
	file_rw(MD_SLOT_A_OFF + MD_SB_VERSION, b, 4, true);
	file_rw(MD_SLOT_B_OFF + MD_SB_VERSION, b, 4, true);
	ck_assert_ptr_null(repl_md_open(path, 1 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "version"), "%s", err);
	/* magic */
	file_rw(MD_SLOT_A_OFF, "XXXX", 4, true);
	file_rw(MD_SLOT_B_OFF, "XXXX", 4, true);
	ck_assert_ptr_null(repl_md_open(path, 1 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "bad magic"), "%s", err);
	/* missing file */
	unlink(path);
	ck_assert_ptr_null(repl_md_open(path, 1 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "cannot open"), "%s", err);
	/* truncated: superblocks fine, bitmap missing */
	md = mk(1 * GiB, 0, REPL_DISK_UPTODATE);
	repl_md_close(md);
	ck_assert_int_eq(truncate(path, MD_BM_OFF + 100), 0);
	ck_assert_ptr_null(repl_md_open(path, 1 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "truncated"), "%s", err);
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_ptr_null(repl_md_open(path, 1 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "too short"), "%s", err);
	/* geometry that passes the CRC but makes no sense */
	md = mk(1 * GiB, 0, REPL_DISK_UPTODATE);
	repl_md_close(md);
	for (int s = 0; s < 2; s++) {
		uint8_t c[4];
		put_be32(c, 12345);
		file_rw((s ? MD_SLOT_B_OFF : MD_SLOT_A_OFF) + MD_SB_CHUNK, c, 4, true);
		slot_fix_crc(s);
	}
	ck_assert_ptr_null(repl_md_open(path, 1 * GiB, err, sizeof(err)));
	ck_assert_msg(strstr(err, "geometry"), "%s", err);
}
END_TEST

/* Random garbage, random damage, and damage behind a valid CRC: never a crash. */
START_TEST(test_malformed_files)
{
	uint64_t dev = 64 * MiB;
	unsigned seed = 12345;
	static uint8_t buf[MD_BM_OFF + 2 * MD_BLOCK];

	for (int i = 0; i < 40; i++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
		int fd;
		struct repl_md *md;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rand_r(&seed);
		if (i % 2)
			memcpy(buf, MD_MAGIC, len < 8 ? len : 8);
		repl_md_create(path, dev, 0, REPL_DISK_UPTODATE, true, err, sizeof(err));
		fd = open(path, O_RDWR | O_TRUNC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
		close(fd);
		md = repl_md_open(path, dev, err, sizeof(err));
		ck_assert_ptr_null(md);
		ck_assert(err[0] != '\0');
	}
	for (int i = 0; i < 150; i++) {
		struct repl_md *md = mk(dev, 0, REPL_DISK_UPTODATE);
		int fd;
		ck_assert_int_eq(repl_md_al_activate(md, (uint64_t)(i % 16) * EXT, 4096), 0);
		repl_md_bm_set(md, (uint64_t)i * 4096, 4096);
		repl_md_bm_flush(md);
		repl_md_free_unclean(md);
		fd = open(path, O_RDWR);
		for (int k = 0; k < 1 + i % 8; k++) {
			uint64_t off;
			uint8_t v = (uint8_t)rand_r(&seed);
			int where = rand_r(&seed) % 3;
			if (where == 0)
				off = (uint64_t)(rand_r(&seed) % MD_SB_END) + (rand_r(&seed) % 2 ? MD_SLOT_B_OFF : 0);
			else if (where == 1)
				off = MD_AL_OFF + (uint64_t)(rand_r(&seed) % (MD_AL_BLOCKS * MD_BLOCK));
			else
				off = MD_BM_OFF + (uint64_t)(rand_r(&seed) % MD_BLOCK);
			ck_assert_int_eq(pwrite(fd, &v, 1, (off_t)off), 1);
		}
		close(fd);
		if (i % 3 == 0) {       /* damage behind a valid CRC */
			slot_fix_crc(0);
			slot_fix_crc(1);
		}
		md = repl_md_open(path, dev, err, sizeof(err));
		if (md) {
			/* whatever was loaded must be usable */
			repl_md_bm_set(md, 0, dev);
			ck_assert_uint_eq(repl_md_bm_count(md), repl_md_bm_bits(md));
			ck_assert_uint_eq(repl_md_bm_next(md, 0), 0);
			repl_md_al_to_bitmap(md);
			repl_md_close(md);
		}
	}
}
END_TEST

/* ---- bitmap ---- */

START_TEST(test_bm_edges)
{
	uint64_t chunk = 4096, dev = 10 * chunk + 1000;     /* 11 bits, the last chunk partial */
	struct repl_md *md = mk(dev, (uint32_t)chunk, REPL_DISK_UPTODATE);

	ck_assert_uint_eq(repl_md_bm_bits(md), 11);
	ck_assert_uint_eq(repl_md_bm_next(md, 0), UINT64_MAX);
	repl_md_bm_set(md, 0, 1);
	repl_md_bm_set(md, dev - 1, 1);
	repl_md_bm_set(md, 0, 0);                            /* empty: no-op */
	repl_md_bm_set(md, dev, 4096);                       /* past the end: no-op */
	ck_assert_uint_eq(repl_md_bm_count(md), 2);
	ck_assert(repl_md_bm_test(md, 0, 1));
	ck_assert(repl_md_bm_test(md, 10 * chunk, 1));
	ck_assert(!repl_md_bm_test(md, chunk, chunk));
	ck_assert(repl_md_bm_test(md, chunk - 1, 2));        /* chunks 0 and 1: 0 is set */
	ck_assert(!repl_md_bm_test(md, chunk, 9 * chunk));
	ck_assert(!repl_md_bm_test(md, dev, 100));
	ck_assert_uint_eq(repl_md_bm_next(md, 0), 0);
	ck_assert_uint_eq(repl_md_bm_next(md, 1), 10);
	ck_assert_uint_eq(repl_md_bm_next(md, 10), 10);
	ck_assert_uint_eq(repl_md_bm_next(md, 11), UINT64_MAX);
	ck_assert_uint_eq(repl_md_bm_next(md, UINT64_MAX - 1), UINT64_MAX);
	/* clear only clears chunks fully inside the range */
	repl_md_bm_clear(md, 1, chunk);
	ck_assert(repl_md_bm_test(md, 0, 1));
	repl_md_bm_clear(md, 0, chunk - 1);
	ck_assert(repl_md_bm_test(md, 0, 1));
	repl_md_bm_clear(md, 0, chunk);
	ck_assert(!repl_md_bm_test(md, 0, 1));
	/* the partial last chunk: a range to the device end covers it */
	repl_md_bm_clear(md, 10 * chunk, 999);
	ck_assert(repl_md_bm_test(md, dev - 1, 1));
	repl_md_bm_clear(md, 10 * chunk, 1000);
	ck_assert(!repl_md_bm_test(md, dev - 1, 1));
	ck_assert_uint_eq(repl_md_bm_count(md), 0);
	/* a range overflowing uint64 is clipped */
	repl_md_bm_set(md, 5 * chunk, UINT64_MAX);
	ck_assert_uint_eq(repl_md_bm_count(md), 6);
	repl_md_bm_clear(md, 0, UINT64_MAX);
	ck_assert_uint_eq(repl_md_bm_count(md), 0);
	repl_md_bm_set_all(md);
	ck_assert_uint_eq(repl_md_bm_count(md), 11);
	ck_assert_uint_eq(repl_md_bm_next(md, 10), 10);
	ck_assert_uint_eq(repl_md_bm_next(md, 11), UINT64_MAX);
	repl_md_close(md);
}
END_TEST

START_TEST(test_bm_words)
{
	uint64_t chunk = 4096, dev = 300 * chunk;
	struct repl_md *md = mk(dev, (uint32_t)chunk, REPL_DISK_UPTODATE);

	repl_md_bm_set(md, 60 * chunk, 71 * chunk);          /* bits 60..130, across 3 words */
	ck_assert_uint_eq(repl_md_bm_count(md), 71);
	repl_md_bm_set(md, 63 * chunk, 2 * chunk);           /* already set: count unchanged */
	ck_assert_uint_eq(repl_md_bm_count(md), 71);
	ck_assert_uint_eq(repl_md_bm_next(md, 0), 60);
	ck_assert_uint_eq(repl_md_bm_next(md, 64), 64);
	ck_assert_uint_eq(repl_md_bm_next(md, 130), 130);
	ck_assert_uint_eq(repl_md_bm_next(md, 131), UINT64_MAX);
	repl_md_bm_clear(md, 64 * chunk, 64 * chunk);        /* bits 64..127: one whole word */
	ck_assert_uint_eq(repl_md_bm_count(md), 7);
	ck_assert_uint_eq(repl_md_bm_next(md, 64), 128);
	ck_assert(!repl_md_bm_test(md, 64 * chunk, 64 * chunk));
	ck_assert(repl_md_bm_test(md, 64 * chunk, 64 * chunk + 1));
	repl_md_bm_set(md, 299 * chunk, chunk);
	ck_assert_uint_eq(repl_md_bm_next(md, 131), 299);
	repl_md_close(md);
}
END_TEST

START_TEST(test_bm_flush_reopen)
{
	uint64_t chunk = 4096, dev = 100000 * chunk;        /* 100000 bits: 4 bitmap pages */
	struct repl_md *md = mk(dev, (uint32_t)chunk, REPL_DISK_UPTODATE);
	uint64_t bits[] = { 0, 63, 64, 32767, 32768, 65535, 70000, 99999 };
	uint8_t pat[MD_BLOCK], chk[MD_BLOCK];

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		repl_md_bm_set(md, bits[i] * chunk, 1);
	ck_assert_int_eq(repl_md_bm_flush(md), 0);
	repl_md_free_unclean(md);                            /* crash after the flush */
	md = reopen(dev);
	ck_assert_uint_eq(repl_md_bm_count(md), 8);
	for (size_t i = 0, b = 0; i < 8; i++, b++) {
		b = repl_md_bm_next(md, b);
		ck_assert_uint_eq(b, bits[i]);
	}
	/* on-disk encoding: bit n = byte n/8, bit n%8 */
	file_rw(MD_BM_OFF, chk, 16, false);
	ck_assert_uint_eq(chk[0], 0x01);
	ck_assert_uint_eq(chk[7], 0x80);
	ck_assert_uint_eq(chk[8], 0x01);
	/* only changed pages are written: scribble page 3 on disk, dirty page 0 */
	memset(pat, 0xa5, sizeof(pat));
	file_rw(MD_BM_OFF + 3 * MD_BLOCK, pat, sizeof(pat), true);
	repl_md_bm_set(md, 5 * chunk, 1);
	ck_assert_int_eq(repl_md_bm_flush(md), 0);
	file_rw(MD_BM_OFF + 3 * MD_BLOCK, chk, sizeof(chk), false);
	ck_assert_mem_eq(chk, pat, sizeof(pat));
	repl_md_bm_set(md, 99998 * chunk, 1);                /* now page 3 is rewritten */
	ck_assert_int_eq(repl_md_bm_flush(md), 0);
	file_rw(MD_BM_OFF + 3 * MD_BLOCK, chk, sizeof(chk), false);
	ck_assert(memcmp(chk, pat, sizeof(pat)) != 0);
	/* unflushed bits are lost in a crash (the AL covers writes) */
	repl_md_bm_set(md, 1000 * chunk, 1);
	repl_md_free_unclean(md);
	md = reopen(dev);
	ck_assert_uint_eq(repl_md_bm_count(md), 10);
	ck_assert(!repl_md_bm_test(md, 1000 * chunk, 1));
	/* clear + close persists */
	repl_md_bm_clear(md, 0, dev);
	repl_md_close(md);
	md = reopen(dev);
	ck_assert_uint_eq(repl_md_bm_count(md), 0);
	repl_md_close(md);
}
END_TEST

struct bm_thread_arg {
	struct repl_md *md;
	int parity;
	uint64_t bits;
};

static void *bm_thread(void *p)
{
	struct bm_thread_arg *a = p;
	for (int round = 0; round < 3; round++)
		for (uint64_t b = (uint64_t)a->parity; b < a->bits; b += 2) {
			repl_md_bm_set(a->md, b * 4096, 4096);
			if (round == 1)
				repl_md_bm_clear(a->md, b * 4096, 4096);
		}
	return NULL;
}

START_TEST(test_bm_threads)
{
	uint64_t bits = 200000;
	struct repl_md *md = mk(bits * 4096, 4096, REPL_DISK_UPTODATE);
	struct bm_thread_arg a[2] = { { md, 0, bits }, { md, 1, bits } };
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, bm_thread, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(repl_md_bm_count(md), bits);
	ck_assert_uint_eq(repl_md_bm_next(md, 0), 0);
	for (uint64_t b = 0; b < bits; b++)
		ck_assert(repl_md_bm_test(md, b * 4096, 1));
	ck_assert_int_eq(repl_md_close(md), 0);
	md = reopen(bits * 4096);
	ck_assert_uint_eq(repl_md_bm_count(md), bits);
	repl_md_close(md);
}
END_TEST

/* ---- activity log ---- */

START_TEST(test_al_basic)
{
	struct repl_md *md = mk(1 * GiB, 0, REPL_DISK_UPTODATE);

	ck_assert(!repl_md_al_hot(md, 0, 4096));
	ck_assert(repl_md_al_hot(md, 0, 0));                 /* empty range */
	ck_assert_int_eq(repl_md_al_activate(md, 0, 4096), 0);
	ck_assert_uint_eq(repl_md_al_active(md), 1);
	ck_assert(repl_md_al_hot(md, 4096, 8192));
	repl_md_al_done(md, 4096, 8192);
	repl_md_al_done(md, 0, 4096);
	/* a write across an extent boundary needs both */
	ck_assert(!repl_md_al_hot(md, EXT - 512, 1024));
	ck_assert_int_eq(repl_md_al_activate(md, EXT - 512, 1024), 0);
	ck_assert_uint_eq(repl_md_al_active(md), 2);
	ck_assert(repl_md_al_hot(md, EXT, 4096));
	repl_md_al_done(md, EXT, 4096);
	repl_md_al_done(md, EXT - 512, 1024);
	/* activating what is active only takes references */
	ck_assert_int_eq(repl_md_al_activate(md, 0, 2 * EXT), 0);
	ck_assert_uint_eq(repl_md_al_active(md), 2);
	repl_md_al_done(md, 0, 2 * EXT);
	/* the last, partial extent of a device */
	repl_md_close(md);
	md = mk(10 * EXT + 4096, 0, REPL_DISK_UPTODATE);
	ck_assert_int_eq(repl_md_al_activate(md, 10 * EXT, 1 * GiB), 0);
	ck_assert(repl_md_al_hot(md, 10 * EXT + 4095, 1));
	repl_md_al_done(md, 10 * EXT + 4095, 1);
	repl_md_al_done(md, 10 * EXT, 1 * GiB);
	repl_md_close(md);
}
END_TEST

/* The activity log full of idle extents 0..REPL_MD_AL_EXTENTS-1 (0 the least recently used). */
static void al_fill(struct repl_md *md)
{
	for (uint64_t e = 0; e < REPL_MD_AL_EXTENTS; e++) {
		ck_assert_int_eq(repl_md_al_activate(md, e * EXT, 4096), 0);
		repl_md_al_done(md, e * EXT, 4096);
	}
	ck_assert_uint_eq(repl_md_al_active(md), REPL_MD_AL_EXTENTS);
}

START_TEST(test_al_lru)
{
	uint64_t dev = 8 * GiB;                            /* 2048 extents */
	struct repl_md *md = mk(dev, 4096, REPL_DISK_UPTODATE);

	al_fill(md);
	/* touch extent 0: extent 1 becomes the least recently used */
	ck_assert(repl_md_al_hot(md, 0, 4096));
	repl_md_al_done(md, 0, 4096);
	/* a write while disconnected in extent 1, not flushed yet */
	repl_md_bm_set(md, 1 * EXT + 8192, 4096);
	ck_assert_int_eq(repl_md_al_activate(md, 1500 * EXT, 4096), 0);
	repl_md_al_done(md, 1500 * EXT, 4096);
	ck_assert_uint_eq(repl_md_al_active(md), REPL_MD_AL_EXTENTS);
	ck_assert(!repl_md_al_hot(md, 1 * EXT, 4096));
	ck_assert(repl_md_al_hot(md, 0, 4096));
	repl_md_al_done(md, 0, 4096);
	ck_assert(repl_md_al_hot(md, 2 * EXT, 4096));
	repl_md_al_done(md, 2 * EXT, 4096);
	/* eviction flushed extent 1's bitmap page: it survives a crash */
	repl_md_free_unclean(md);
	md = reopen(dev);
	ck_assert(repl_md_bm_test(md, 1 * EXT + 8192, 4096));
	ck_assert(!repl_md_bm_test(md, 1 * EXT, 8192));
	ck_assert(repl_md_bm_test(md, 1500 * EXT, 1));      /* replayed */
	ck_assert(repl_md_bm_test(md, 0, 1));
	/* full of extents in use: EAGAIN until one is released */
	ck_assert_uint_eq(repl_md_al_active(md), REPL_MD_AL_EXTENTS);
	ck_assert_int_eq(repl_md_al_activate(md, 0, (uint64_t)REPL_MD_AL_EXTENTS * EXT), 0);
	errno = 0;
	ck_assert_int_eq(repl_md_al_activate(md, 2000 * EXT, 4096), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert(!repl_md_al_hot(md, 2000 * EXT, 4096));
	repl_md_al_done(md, 0, (uint64_t)REPL_MD_AL_EXTENTS * EXT);
	ck_assert_int_eq(repl_md_al_activate(md, 2000 * EXT, 4096), 0);
	repl_md_al_done(md, 2000 * EXT, 4096);
	/* too large for the log */
	errno = 0;
	ck_assert_int_eq(repl_md_al_activate(md, 0, (uint64_t)(REPL_MD_AL_EXTENTS + 1) * EXT), -1);
	ck_assert_int_eq(errno, E2BIG);
	repl_md_close(md);
}
END_TEST

/* A pinned extent (a write the peer holds only in its volatile cache,
 * repl_vcache.c) is not evicted: a crash replays it. The log full of pinned
 * extents answers EAGAIN until one is unpinned. */
START_TEST(test_al_pin)
{
	uint64_t dev = 8 * GiB;                            /* 2048 extents */
	struct repl_md *md = mk(dev, 4096, REPL_DISK_UPTODATE);
	struct repl_md_gen g = repl_md_get_gen(md);

	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_UPTODATE, REPL_MD_F_PRIMARY), 0);
	al_fill(md);
	/* extent 0 is the least recently used; pinned, extent 1 goes instead */
	ck_assert(!repl_md_al_pin(md, 1600 * EXT));        /* not in the log: nothing to pin */
	ck_assert(repl_md_al_pin(md, 0 * EXT + 4096));
	ck_assert(repl_md_al_contains(md, 0));
	ck_assert_int_eq(repl_md_al_activate(md, 1500 * EXT, 4096), 0);
	repl_md_al_done(md, 1500 * EXT, 4096);
	ck_assert_msg(repl_md_al_contains(md, 0), "a pinned extent was evicted");
	ck_assert(!repl_md_al_contains(md, 1 * EXT));
	/* every extent pinned: no room until one is unpinned */
	for (uint32_t e = 2; e < REPL_MD_AL_EXTENTS; e++)
		ck_assert(repl_md_al_pin(md, (uint64_t)e * EXT));
	ck_assert(repl_md_al_pin(md, 1500 * EXT));
	errno = 0;
	ck_assert_int_eq(repl_md_al_activate(md, 1700 * EXT, 4096), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* a crash now: every pinned extent is replayed into the bitmap */
	repl_md_free_unclean(md);
	md = reopen(dev);
	ck_assert(repl_md_get_flags(md) & REPL_MD_F_CRASHED_PRIMARY);
	ck_assert(repl_md_bm_test(md, 0, 1));
	ck_assert(repl_md_bm_test(md, 1500 * EXT, 1));
	ck_assert(repl_md_bm_test(md, (uint64_t)(REPL_MD_AL_EXTENTS - 1) * EXT, 1));
	ck_assert(!repl_md_bm_test(md, 1 * EXT, EXT));
	ck_assert(!repl_md_bm_test(md, 1700 * EXT, EXT));
	/* the same, and unpinning one makes room for the next */
	for (uint32_t e = 0; e < REPL_MD_AL_EXTENTS; e++)
		ck_assert(repl_md_al_pin(md, (uint64_t)(e == 1 ? 1500 : e) * EXT));
	errno = 0;
	ck_assert_int_eq(repl_md_al_activate(md, 1700 * EXT, 4096), -1);
	ck_assert_int_eq(errno, EAGAIN);
	repl_md_al_unpin(md, 7 * EXT + 100);
	ck_assert_int_eq(repl_md_al_activate(md, 1700 * EXT, 4096), 0);
	repl_md_al_done(md, 1700 * EXT, 4096);
	ck_assert(!repl_md_al_contains(md, 7 * EXT));
	for (uint32_t e = 0; e < REPL_MD_AL_EXTENTS; e++)
		if (e != 7)
			repl_md_al_unpin(md, (uint64_t)(e == 1 ? 1500 : e) * EXT);
	repl_md_bm_clear(md, 0, dev);
	ck_assert_int_eq(repl_md_close(md), 0);
}
END_TEST

/* The activity log's capacity comes from the superblock: a file created with
 * a smaller one (tests) keeps it; an impossible one is refused at open. */
START_TEST(test_al_capacity)
{
	uint64_t dev = 1 * GiB;
	struct repl_md *md;
	char err[256] = "";
	uint8_t b[MD_BLOCK];

	repl_md_create_al_capacity = 3;
	md = mk(dev, 0, REPL_DISK_UPTODATE);
	repl_md_create_al_capacity = REPL_MD_AL_EXTENTS;
	for (uint64_t e = 0; e < 5; e++) {
		ck_assert_int_eq(repl_md_al_activate(md, e * EXT, 4096), 0);
		repl_md_al_done(md, e * EXT, 4096);
	}
	ck_assert_uint_eq(repl_md_al_active(md), 3);
	errno = 0;
	ck_assert_int_eq(repl_md_al_activate(md, 0, 4 * EXT), -1);
	ck_assert_int_eq(errno, E2BIG);
	ck_assert_int_eq(repl_md_close(md), 0);
	md = reopen(dev);
	ck_assert_uint_eq(repl_md_al_active(md), 3);
	ck_assert_int_eq(repl_md_close(md), 0);
	/* an al_capacity of 0 in both superblock slots: refused */
	for (int slot = 0; slot < 2; slot++) {
		uint64_t off = slot ? MD_SLOT_B_OFF : MD_SLOT_A_OFF;

		file_rw(off, b, sizeof(b), false);
		put_be32(b + MD_SB_AL_CAPACITY, 0);
		file_rw(off, b, sizeof(b), true);
		slot_fix_crc(slot);
	}
	md = repl_md_open(path, dev, err, sizeof(err));
	ck_assert_msg(md == NULL, "metadata with an activity log of 0 extents opened");
	ck_assert_msg(strstr(err, "inconsistent"), "error: %s", err);
	/* ... and one larger than the active set's memory */
	for (int slot = 0; slot < 2; slot++) {
		uint64_t off = slot ? MD_SLOT_B_OFF : MD_SLOT_A_OFF;

		file_rw(off, b, sizeof(b), false);
		put_be32(b + MD_SB_AL_CAPACITY, REPL_MD_AL_EXTENTS + 1);
		file_rw(off, b, sizeof(b), true);
		slot_fix_crc(slot);
	}
	err[0] = '\0';
	md = repl_md_open(path, dev, err, sizeof(err));
	ck_assert_msg(md == NULL, "metadata with an activity log of %u extents opened", REPL_MD_AL_EXTENTS + 1);
	ck_assert_msg(strstr(err, "inconsistent"), "error: %s", err);
	/* a value the create hook cannot take falls back to the default */
	repl_md_create_al_capacity = 0;
	md = mk(dev, 0, REPL_DISK_UPTODATE);
	repl_md_create_al_capacity = REPL_MD_AL_EXTENTS;
	file_rw(MD_SLOT_A_OFF, b, sizeof(b), false);
	ck_assert_uint_eq(get_be32(b + MD_SB_AL_CAPACITY), REPL_MD_AL_EXTENTS);
	repl_md_close(md);
}
END_TEST

START_TEST(test_al_crash_replay)
{
	uint64_t dev = 1 * GiB;
	struct repl_md *md = mk(dev, 0, REPL_DISK_UPTODATE);
	struct repl_md_gen g = repl_md_get_gen(md);

	ck_assert_int_eq(repl_md_set(md, &g, REPL_DISK_UPTODATE, REPL_MD_F_PRIMARY), 0);
	ck_assert_int_eq(repl_md_al_activate(md, 3 * EXT + 4096, 4096), 0);      /* in flight */
	ck_assert_int_eq(repl_md_al_activate(md, 7 * EXT, 2 * EXT), 0);         /* done */
	repl_md_al_done(md, 7 * EXT, 2 * EXT);
	ck_assert(repl_md_al_hot(md, 8 * EXT + 100, 100));                      /* fast path, in flight */
	repl_md_free_unclean(md);
	md = reopen(dev);
	ck_assert(repl_md_get_flags(md) & REPL_MD_F_CRASHED_PRIMARY);
	for (uint64_t e = 0; e < dev / EXT; e++) {
		bool hot = e == 3 || e == 7 || e == 8;
		ck_assert_msg(repl_md_bm_test(md, e * EXT, EXT) == hot, "extent %llu", (unsigned long long)e);
		ck_assert_msg(repl_md_bm_test(md, e * EXT, 1) == hot, "extent %llu", (unsigned long long)e);
	}
	ck_assert_uint_eq(repl_md_bm_count(md), 3 * EXT / REPL_MD_DEFAULT_CHUNK);
	/* the replayed extents stay in the log; al_to_bitmap marks them again */
	ck_assert_uint_eq(repl_md_al_active(md), 3);
	repl_md_bm_clear(md, 0, dev);
	repl_md_al_to_bitmap(md);
	ck_assert_uint_eq(repl_md_bm_count(md), 3 * EXT / REPL_MD_DEFAULT_CHUNK);
	repl_md_bm_clear(md, 0, dev);
	ck_assert_int_eq(repl_md_close(md), 0);
	/* a clean close replays nothing */
	md = reopen(dev);
	ck_assert_uint_eq(repl_md_bm_count(md), 0);
	ck_assert(!(repl_md_get_flags(md) & REPL_MD_F_PRIMARY));
	repl_md_close(md);
}
END_TEST

/* An activity-log transaction whose fdatasync fails may still be on disk
 * (the write went out first): the extents it evicted are then not in the
 * durable log any more, so they must not stay "active" in memory (found by
 * review: they did, a write there took the fast path without a transaction,
 * and its out-of-sync mark was lost in a crash). */
START_TEST(test_al_txn_sync_failure)
{
	uint64_t dev = 8 * GiB;                            /* 2048 extents */
	struct repl_md *md = mk(dev, 4096, REPL_DISK_UPTODATE);

	al_fill(md);
	/* extent 1500 evicts extent 0 (least recently used); the transaction
	 * is written, its fdatasync reports EIO */
	fail_next_sync = 1;
	ck_assert_int_eq(repl_md_al_activate(md, 1500 * EXT, 4096), -1);
	ck_assert_int_eq(fail_next_sync, 0);
	ck_assert_msg(!repl_md_al_hot(md, 0, 4096), "extent 0, evicted by a transaction that may be on disk, "
		      "is still active in memory");
	ck_assert_uint_eq(repl_md_al_active(md), REPL_MD_AL_EXTENTS - 1);
	/* a write there (the replication layer's order): a new transaction first */
	ck_assert_int_eq(repl_md_al_activate(md, 0, 4096), 0);
	repl_md_bm_set(md, 8192, 4096);                   /* it missed the peer */
	repl_md_free_unclean(md);                          /* crash */
	md = reopen(dev);
	ck_assert_msg(repl_md_bm_test(md, 8192, 4096), "the write's out-of-sync mark is lost after the crash");
	repl_md_close(md);
}
END_TEST

/* A torn AL transaction leaves the previous one; the write it was for never started. */
START_TEST(test_al_torn_txn)
{
	uint64_t dev = 1 * GiB;
	struct repl_md *md = mk(dev, 0, REPL_DISK_UPTODATE);
	uint8_t b[MD_BLOCK];
	int latest = -1;
	uint64_t latest_seq = 0;

	ck_assert_int_eq(repl_md_al_activate(md, 1 * EXT, 4096), 0);
	ck_assert_int_eq(repl_md_al_activate(md, 5 * EXT, 4096), 0);
	repl_md_free_unclean(md);
	for (int i = 0; i < (int)MD_AL_BLOCKS; i++) {
		file_rw(MD_AL_OFF + (uint64_t)i * MD_BLOCK, b, sizeof(b), false);
		if (!memcmp(b, MD_AL_MAGIC, 8) && get_be64(b + MD_AL_SEQ) > latest_seq) {
			latest_seq = get_be64(b + MD_AL_SEQ);
			latest = i;
		}
	}
	ck_assert_int_ge(latest, 0);
	corrupt(MD_AL_OFF + (uint64_t)latest * MD_BLOCK + MD_AL_EXTENTS_OFF);
	md = reopen(dev);
	ck_assert(repl_md_bm_test(md, 1 * EXT, 1));
	ck_assert(!repl_md_bm_test(md, 5 * EXT, 1));
	ck_assert_uint_eq(repl_md_al_active(md), 1);
	/* new transactions continue after the torn one */
	ck_assert_int_eq(repl_md_al_activate(md, 9 * EXT, 4096), 0);
	repl_md_free_unclean(md);
	md = reopen(dev);
	ck_assert(repl_md_bm_test(md, 9 * EXT, 1));
	repl_md_close(md);
}
END_TEST

struct al_thread_arg {
	struct repl_md *md;
	unsigned seed;
	int fails;
};

static void *al_thread(void *p)
{
	struct al_thread_arg *a = p;
	for (int i = 0; i < 3000; i++) {
		uint64_t off = (uint64_t)(rand_r(&a->seed) % 1100) * EXT + (uint64_t)(rand_r(&a->seed) % 1024) * 4096;
		uint64_t len = 4096 * (1 + (uint64_t)(rand_r(&a->seed) % 4));
		if (!repl_md_al_hot(a->md, off, len) && repl_md_al_activate(a->md, off, len) < 0) {
			a->fails++;
			continue;
		}
		repl_md_al_done(a->md, off, len);
	}
	return NULL;
}

/* Fast paths, activations and evictions from several threads: references balance. */
START_TEST(test_al_threads)
{
	uint64_t dev = 16 * GiB;
	struct repl_md *md = mk(dev, 0, REPL_DISK_UPTODATE);
	struct al_thread_arg a[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		a[i] = (struct al_thread_arg){ md, (unsigned)i * 7919u + 1, 0 };
		pthread_create(&t[i], NULL, al_thread, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].fails, 0);
	}
	ck_assert_uint_le(repl_md_al_active(md), REPL_MD_AL_EXTENTS);
	/* every reference was dropped: the whole log can be replaced */
	for (uint64_t e = 0; e < 1024; e++) {
		ck_assert_int_eq(repl_md_al_activate(md, (1101 + e) * EXT, 1), 0);
		repl_md_al_done(md, (1101 + e) * EXT, 1);
	}
	for (uint64_t e = 0; e <= 1100; e++)
		ck_assert(!repl_md_al_hot(md, e * EXT, 1));
	repl_md_close(md);
}
END_TEST

/* ---- generation ids and the decision table ---- */

START_TEST(test_gen_ids)
{
	uint64_t a = repl_md_new_gen_id(), b = repl_md_new_gen_id();
	struct repl_md_gen g = { .current = 0x10 };

	ck_assert_uint_ne(a, 0);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_ne(a, REPL_MD_GEN_NEW_DEVICE);
	repl_md_gen_new_current(&g);                         /* bitmap starts at the old current */
	ck_assert_uint_eq(g.bitmap, 0x10);
	a = g.current;
	repl_md_gen_new_current(&g);                         /* bitmap kept, old current to history */
	ck_assert_uint_eq(g.bitmap, 0x10);
	ck_assert_uint_eq(g.history[0], a);
	repl_md_gen_bitmap_done(&g);
	ck_assert_uint_eq(g.bitmap, 0);
	ck_assert_uint_eq(g.history[0], 0x10);
	ck_assert_uint_eq(g.history[1], a);
	repl_md_gen_bitmap_done(&g);                         /* no bitmap: no change */
	ck_assert_uint_eq(g.history[0], 0x10);
}
END_TEST

#define I REPL_DISK_INCONSISTENT
#define O REPL_DISK_OUTDATED
#define U REPL_DISK_UPTODATE
#define P REPL_ROLE_PRIMARY
#define S REPL_ROLE_SECONDARY
#define CP REPL_MD_F_CRASHED_PRIMARY
#define V(c, bm, h0, h1, d, f, r) { { c, bm, { h0, h1 } }, d, f, r }

static const struct decide_row {
	const char *what;
	struct repl_md_view mine, peer;
	uint32_t opts;
	enum repl_sync_decision expect;
	int rule;
} rows[] = {
	{ "peer diskless", V(0xA, 0, 0, 0, U, 0, P), V(0, 0, 0, 0, REPL_DISK_DISKLESS, 0, S), 0, REPL_SYNC_NONE, 1 },
	{ "fresh pair", V(0, 0, 0, 0, I, 0, S), V(0, 0, 0, 0, I, 0, S), 0, REPL_SYNC_NONE, 10 },
	{ "I am fresh", V(0, 0, 0, 0, I, 0, S), V(0xA, 0, 0, 0, U, 0, P), 0, REPL_SYNC_TARGET_FULL, 20 },
	{ "peer is fresh", V(0xA, 0, 0, 0, U, 0, P), V(0, 0, 0, 0, I, 0, S), 0, REPL_SYNC_SOURCE_FULL, 30 },
	{ "peer fresh, I created --new-device", V(REPL_MD_GEN_NEW_DEVICE, 0, 0, 0, U, 0, S), V(0, 0, 0, 0, I, 0, S), 0,
	  REPL_SYNC_SOURCE_FULL, 30 },
	{ "both --new-device", V(REPL_MD_GEN_NEW_DEVICE, 0, 0, 0, U, 0, S), V(REPL_MD_GEN_NEW_DEVICE, 0, 0, 0, U, 0, S), 0,
	  REPL_SYNC_NONE, 45 },
	{ "in sync", V(0xA, 0, 0x9, 0x8, U, 0, P), V(0xA, 0, 0x9, 0x8, U, 0, S), 0, REPL_SYNC_NONE, 45 },
	/* outdated by fencing before the Primary bumped its generation: an empty
	 * bitmap resync brings it back to UpToDate */
	{ "same data, peer Outdated", V(0xA, 0, 0, 0, U, 0, S), V(0xA, 0, 0, 0, O, 0, S), 0,
	  REPL_SYNC_SOURCE_BITMAP, 125 },
	{ "same data, I am Outdated", V(0xA, 0, 0, 0, O, 0, S), V(0xA, 0, 0, 0, U, 0, P), 0,
	  REPL_SYNC_TARGET_BITMAP, 125 },
	{ "same data, both Outdated", V(0xA, 0, 0, 0, O, 0, S), V(0xA, 0, 0, 0, O, 0, S), 0, REPL_SYNC_NONE, 45 },
	{ "same current, I still keep a bitmap", V(0xA, 0x9, 0, 0, U, 0, S), V(0xA, 0, 0, 0, U, 0, S), 0,
	  REPL_SYNC_SOURCE_BITMAP, 34 },
	{ "same current, peer still keeps a bitmap", V(0xA, 0, 0, 0, U, 0, S), V(0xA, 0x9, 0, 0, U, 0, S), 0,
	  REPL_SYNC_TARGET_BITMAP, 35 },
	{ "I crashed as Primary, peer current Primary", V(0xA, 0, 0, 0, U, CP, S), V(0xA, 0, 0, 0, U, 0, P), 0,
	  REPL_SYNC_TARGET_BITMAP, 41 },
	{ "peer crashed as Primary, I am Primary", V(0xA, 0, 0, 0, U, 0, P), V(0xA, 0, 0, 0, U, CP, S), 0,
	  REPL_SYNC_SOURCE_BITMAP, 41 },
	{ "I crashed as Primary", V(0xA, 0, 0, 0, U, CP, S), V(0xA, 0, 0, 0, U, 0, S), 0, REPL_SYNC_SOURCE_BITMAP, 42 },
	{ "peer crashed as Primary", V(0xA, 0, 0, 0, U, 0, S), V(0xA, 0, 0, 0, U, CP, S), 0, REPL_SYNC_TARGET_BITMAP, 43 },
	{ "both crashed as Primary", V(0xA, 0, 0, 0, U, CP, S), V(0xA, 0, 0, 0, U, CP, S), 0, REPL_SYNC_SPLIT_BRAIN, 44 },
	{ "peer wrote while I was away", V(0xA, 0, 0x9, 0, O, 0, S), V(0xB, 0xA, 0x9, 0, U, 0, P), 0,
	  REPL_SYNC_TARGET_BITMAP, 50 },
	{ "peer moved on, its bitmap is gone", V(0xA, 0, 0, 0, O, 0, S), V(0xC, 0, 0xA, 0, U, 0, P), 0,
	  REPL_SYNC_TARGET_FULL, 60 },
	{ "peer moved on twice", V(0xA, 0, 0, 0, O, 0, S), V(0xC, 0, 0xB, 0xA, U, 0, P), 0, REPL_SYNC_TARGET_FULL, 60 },
	{ "I wrote while the peer was away", V(0xB, 0xA, 0x9, 0, U, 0, P), V(0xA, 0, 0x9, 0, O, 0, S), 0,
	  REPL_SYNC_SOURCE_BITMAP, 70 },
	{ "I moved on, my bitmap is gone", V(0xC, 0, 0xA, 0, U, 0, P), V(0xA, 0, 0, 0, O, 0, S), 0,
	  REPL_SYNC_SOURCE_FULL, 80 },
	{ "both wrote since A", V(0xB, 0xA, 0x9, 0, U, 0, P), V(0xC, 0xA, 0x9, 0, U, 0, P), 0, REPL_SYNC_SPLIT_BRAIN, 90 },
	{ "both wrote since A, peer moved on", V(0xB, 0xA, 0, 0, U, 0, P), V(0xD, 0, 0xA, 0, U, 0, P), 0,
	  REPL_SYNC_SPLIT_BRAIN, 100 },
	{ "common history only", V(0xB, 0, 0x9, 0, U, 0, S), V(0xC, 0, 0x7, 0x9, U, 0, S), 0, REPL_SYNC_SPLIT_BRAIN, 101 },
	{ "unrelated", V(0xB, 0x1, 0x2, 0x3, U, 0, S), V(0xC, 0x4, 0x5, 0x6, U, 0, S), 0, REPL_SYNC_UNRELATED, 110 },
	{ "unrelated even if I am Inconsistent", V(0xB, 0, 0, 0, I, 0, S), V(0xC, 0, 0, 0, U, 0, S), 0,
	  REPL_SYNC_UNRELATED, 110 },
	{ "same current, I am Inconsistent (interrupted resync)", V(0xA, 0, 0, 0, I, 0, S), V(0xA, 0, 0, 0, U, 0, P), 0,
	  REPL_SYNC_TARGET_BITMAP, 120 },
	{ "same current, peer Inconsistent", V(0xA, 0, 0, 0, O, 0, S), V(0xA, 0, 0, 0, I, 0, S), 0,
	  REPL_SYNC_SOURCE_BITMAP, 120 },
	{ "split brain but I am Inconsistent", V(0xB, 0xA, 0, 0, I, 0, S), V(0xC, 0xA, 0, 0, U, 0, S), 0,
	  REPL_SYNC_TARGET_FULL, 120 },
	{ "ids say source, but I am Inconsistent", V(0xC, 0, 0xA, 0, I, 0, S), V(0xA, 0, 0, 0, O, 0, S), 0,
	  REPL_SYNC_TARGET_FULL, 120 },
	{ "ids say bitmap source, but I am Inconsistent", V(0xB, 0xA, 0, 0, I, 0, S), V(0xA, 0, 0, 0, U, 0, S), 0,
	  REPL_SYNC_TARGET_BITMAP, 120 },
	{ "agrees with the disk states: no override", V(0xA, 0, 0, 0, I, 0, S), V(0xB, 0xA, 0, 0, U, 0, P), 0,
	  REPL_SYNC_TARGET_BITMAP, 50 },
	{ "both Inconsistent, fresh peer", V(0xA, 0, 0, 0, I, 0, S), V(0, 0, 0, 0, I, 0, S), 0, REPL_SYNC_NONE, 130 },
	{ "both Inconsistent", V(0xB, 0xA, 0, 0, I, 0, S), V(0xA, 0, 0, 0, I, 0, S), 0, REPL_SYNC_NONE, 130 },
	{ "split brain, discard mine", V(0xB, 0xA, 0, 0, U, 0, S), V(0xC, 0xA, 0, 0, U, 0, S), REPL_MD_DECIDE_DISCARD_MINE,
	  REPL_SYNC_TARGET_BITMAP, 140 },
	{ "split brain, peer discards", V(0xB, 0xA, 0, 0, U, 0, S), V(0xC, 0xA, 0, 0, U, 0, S), REPL_MD_DECIDE_DISCARD_PEER,
	  REPL_SYNC_SOURCE_BITMAP, 140 },
	{ "split brain by history, discard mine", V(0xB, 0, 0x9, 0, U, 0, S), V(0xC, 0, 0x9, 0, U, 0, S),
	  REPL_MD_DECIDE_DISCARD_MINE, REPL_SYNC_TARGET_FULL, 140 },
	{ "split brain, both discard", V(0xB, 0xA, 0, 0, U, 0, S), V(0xC, 0xA, 0, 0, U, 0, S),
	  REPL_MD_DECIDE_DISCARD_MINE | REPL_MD_DECIDE_DISCARD_PEER, REPL_SYNC_SPLIT_BRAIN, 90 },
	{ "discard without split brain changes nothing", V(0xA, 0, 0, 0, U, 0, S), V(0xA, 0, 0, 0, U, 0, S),
	  REPL_MD_DECIDE_DISCARD_MINE, REPL_SYNC_NONE, 45 },
};

static enum repl_sync_decision mirror(enum repl_sync_decision d)
{
	switch (d) {
	case REPL_SYNC_SOURCE_BITMAP: return REPL_SYNC_TARGET_BITMAP;
	case REPL_SYNC_TARGET_BITMAP: return REPL_SYNC_SOURCE_BITMAP;
	case REPL_SYNC_SOURCE_FULL: return REPL_SYNC_TARGET_FULL;
	case REPL_SYNC_TARGET_FULL: return REPL_SYNC_SOURCE_FULL;
	default: return d;
	}
}

START_TEST(test_decide_table)
{
	const struct decide_row *r = &rows[_i];
	uint32_t swapped = (r->opts & REPL_MD_DECIDE_DISCARD_MINE ? REPL_MD_DECIDE_DISCARD_PEER : 0) |
			   (r->opts & REPL_MD_DECIDE_DISCARD_PEER ? REPL_MD_DECIDE_DISCARD_MINE : 0);
	int rule = -1, rule2 = -1;
	enum repl_sync_decision d = repl_md_decide_ex(&r->mine, &r->peer, r->opts, &rule);
	enum repl_sync_decision d2 = repl_md_decide_ex(&r->peer, &r->mine, swapped, &rule2);

	ck_assert_msg(d == r->expect && rule == r->rule, "%s: got %s (rule %d), expected %s (rule %d)", r->what,
		      repl_sync_decision_name(d), rule, repl_sync_decision_name(r->expect), r->rule);
	/* both nodes reach the same conclusion */
	ck_assert_msg(d2 == mirror(d), "%s: the peer decides %s", r->what, repl_sync_decision_name(d2));
	if (!r->opts)
		ck_assert_int_eq(repl_md_decide(&r->mine, &r->peer), d);
}
END_TEST

/* The recommended lifecycle (docs/REPLICATION_MD.md) gives the expected decisions. */
/* Marks under equal ids: exactly one side bumps, never both (a split brain),
 * never neither when marks exist and a side can bump. */
START_TEST(test_missed_bump_one_side)
{
	static const enum repl_role roles[] = { REPL_ROLE_SECONDARY, REPL_ROLE_PRIMARY };
	for (int ra = 0; ra < 2; ra++)
		for (int rb = 0; rb < 2; rb++)
			for (int da = 0; da < 2; da++)
				for (int db = 0; db < 2; db++) {
					struct repl_md_view a = { .disk = REPL_DISK_UPTODATE, .role = roles[ra] };
					struct repl_md_view b = { .disk = REPL_DISK_UPTODATE, .role = roles[rb] };
					bool ba = repl_md_missed_bump(&a, da, &b, db, "alpha", "beta");
					bool bb = repl_md_missed_bump(&b, db, &a, da, "beta", "alpha");
					if (ra && rb)
						continue;       /* two Primaries never get here (StandAlone) */
					ck_assert_msg(!(ba && bb), "both bump (roles %d %d, marks %d %d)", ra, rb, da, db);
					/* marks on any side: someone bumps; a Primary is
					 * that side, also for a marked Secondary's chunks
					 * (a local write error on the old Primary) */
					if (da || db)
						ck_assert_msg(ba || bb, "nobody bumps (roles %d %d, marks %d %d)", ra, rb, da, db);
					if (ra && (da || db))
						ck_assert_msg(ba, "the Primary does not bump (marks %d %d)", da, db);
					if (!da && !ra)
						ck_assert(!ba);
					if (!da && !db)
						ck_assert(!ba && !bb);
				}
	/* marks on both Secondaries: the name that sorts first */
	struct repl_md_view s = { .disk = REPL_DISK_UPTODATE, .role = REPL_ROLE_SECONDARY };
	ck_assert(repl_md_missed_bump(&s, true, &s, true, "alpha", "beta"));
	ck_assert(!repl_md_missed_bump(&s, true, &s, true, "beta", "alpha"));
	/* not UpToDate on either side: no bump (the table resyncs anyway) */
	struct repl_md_view o = { .disk = REPL_DISK_OUTDATED, .role = REPL_ROLE_SECONDARY };
	ck_assert(!repl_md_missed_bump(&s, true, &o, false, "alpha", "beta"));
	ck_assert(!repl_md_missed_bump(&o, true, &s, false, "alpha", "beta"));
}
END_TEST

START_TEST(test_decide_lifecycle)
{
	struct repl_md_view a = { .gen = { .current = REPL_MD_GEN_NEW_DEVICE }, .disk = U, .role = P };
	struct repl_md_view b = { .gen = { .current = REPL_MD_GEN_NEW_DEVICE }, .disk = U, .role = S };

	ck_assert_int_eq(repl_md_decide_ex(&a, &b, 0, NULL), REPL_SYNC_NONE);
	/* B lost: A (Primary) starts a new generation, B is Outdated */
	repl_md_gen_new_current(&a.gen);
	b.disk = O;
	ck_assert_int_eq(repl_md_decide_ex(&a, &b, 0, NULL), REPL_SYNC_SOURCE_BITMAP);
	ck_assert_int_eq(repl_md_decide_ex(&b, &a, 0, NULL), REPL_SYNC_TARGET_BITMAP);
	/* resync starts: B Inconsistent, interrupted -> still A's bitmap */
	b.disk = I;
	ck_assert_int_eq(repl_md_decide_ex(&b, &a, 0, NULL), REPL_SYNC_TARGET_BITMAP);
	/* resync done: A drops the bitmap id, B takes A's ids */
	repl_md_gen_bitmap_done(&a.gen);
	b.gen = a.gen;
	b.disk = U;
	ck_assert_int_eq(repl_md_decide_ex(&a, &b, 0, NULL), REPL_SYNC_NONE);
	/* A crashes as Primary, B takes over (promotion without peer: new generation) */
	a.flags = CP;
	a.role = S;
	b.role = P;
	repl_md_gen_new_current(&b.gen);
	ck_assert_int_eq(repl_md_decide_ex(&a, &b, 0, NULL), REPL_SYNC_TARGET_BITMAP);
	/* both promoted while apart: split brain */
	struct repl_md_view c = a;
	c.flags = 0;
	c.role = P;
	repl_md_gen_new_current(&c.gen);
	ck_assert_int_eq(repl_md_decide_ex(&c, &b, 0, NULL), REPL_SYNC_SPLIT_BRAIN);
	ck_assert_int_eq(repl_md_decide_ex(&c, &b, REPL_MD_DECIDE_DISCARD_MINE, NULL), REPL_SYNC_TARGET_BITMAP);
	ck_assert_str_eq(repl_sync_decision_name(REPL_SYNC_UNRELATED), "unrelated");
}
END_TEST

static Suite *md_suite(void)
{
	Suite *s = suite_create("repl_md");
	TCase *tc = tcase_create("md");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_create_refuses);
	tcase_add_test(tc, test_set_durable);
	tcase_add_test(tc, test_crashed_primary_flag);
	tcase_add_test(tc, test_torn_superblock);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_malformed_files);
	tcase_add_test(tc, test_bm_edges);
	tcase_add_test(tc, test_bm_words);
	tcase_add_test(tc, test_bm_flush_reopen);
	tcase_add_test(tc, test_bm_threads);
	tcase_add_test(tc, test_al_basic);
	tcase_add_test(tc, test_al_lru);
	tcase_add_test(tc, test_al_crash_replay);
	tcase_add_test(tc, test_al_pin);
	tcase_add_test(tc, test_al_capacity);
	tcase_add_test(tc, test_al_torn_txn);
	tcase_add_test(tc, test_al_txn_sync_failure);
	tcase_add_test(tc, test_al_threads);
	tcase_add_test(tc, test_gen_ids);
	tcase_add_loop_test(tc, test_decide_table, 0, (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, test_decide_lifecycle);
	tcase_add_test(tc, test_missed_bump_one_side);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(md_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

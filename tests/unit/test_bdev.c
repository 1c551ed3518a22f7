/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the backing stores (blockio, fileio, null) and the worker pool:
 * data round trips, FUA, flush, unmap, write-zeroes, batching and bad input. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "reactor.h"
#include "bdev/bdev.h"
#include "bdev/bdev_internal.h"
#include "util/be.h"
#include "util/bufpool.h"
#include "util/workq.h"

#define MiB (1024ull * 1024ull)
#define DEV_SIZE (8 * MiB)
#define NCONC 256

static struct reactor *R;
static char dir[256], path[512], shm_path[128];
static int outstanding;
static int sync_completions;      /* completions seen inside bdev_submit */
static bool in_submit;

struct tio {
	struct bdev_io io;
	struct iovec iov[2];
	bool done;
	pthread_t thread;
};

static void tio_cb(struct bdev_io *io)
{
	struct tio *t = container_of(io, struct tio, io);

	if (in_submit)
		sync_completions++;
	t->done = true;
	t->thread = pthread_self();
	outstanding--;
}

struct batch {
	struct bdev *b;
	struct tio *t;
	int n;
};

static void batch_submit_fn(void *arg)
{
	struct batch *bt = arg;
	int i;

	ck_assert_ptr_eq(reactor_self(), R);
	for (i = 0; i < bt->n; i++) {
		in_submit = true;
		bdev_submit(bt->b, &bt->t[i].io);
		in_submit = false;
	}
}

/* Submit n prepared I/Os from the reactor and run it until all complete. */
static void run_batch(struct bdev *b, struct tio *t, int n)
{
	struct batch bt = { b, t, n };
	uint64_t deadline = reactor_now_ms() + 20000;
	int i;

	for (i = 0; i < n; i++) {
		t[i].done = false;
		t[i].io.cb = tio_cb;
		t[i].io.status = 12345;
	}
	outstanding += n;
	reactor_post(R, batch_submit_fn, &bt);
	while (outstanding > 0 && reactor_now_ms() < deadline)
		reactor_poll_once(R, 50);
	ck_assert_int_eq(outstanding, 0);
	ck_assert_int_eq(sync_completions, 0);
	for (i = 0; i < n; i++) {
		ck_assert(t[i].done);
		ck_assert(pthread_equal(t[i].thread, pthread_self()));
	}
}

static void tio_prep(struct tio *t, enum bdev_io_type type, unsigned flags, uint64_t off,
		     void *buf, uint64_t len)
{
	memset(t, 0, sizeof(*t));
	t->io.type = type;
	t->io.flags = flags;
	t->io.offset = off;
	t->io.len = len;
	if (buf) {
		t->iov[0].iov_base = buf;
		t->iov[0].iov_len = len;
		t->io.iov = t->iov;
		t->io.iovcnt = 1;
	}
}

static int do_io(struct bdev *b, enum bdev_io_type type, unsigned flags, uint64_t off,
		 void *buf, uint64_t len)
{
	struct tio t;

	tio_prep(&t, type, flags, off, buf, len);
	run_batch(b, &t, 1);
	return t.io.status;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 9));
}

static bool is_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static struct bdev *open_dev(const char *backend, const char *p, uint64_t size, bool create,
			     bool ro, uint32_t bs)
{
	struct bdev_params prm = {
		.backend = backend, .path = p, .size = size, .create = create,
		.readonly = ro, .block_size = bs,
	};
	char err[256];
	struct bdev *b = bdev_open(&prm, err, sizeof(err));

	ck_assert_msg(b != NULL, "open %s %s: %s", backend, p ? p : "-", err);
	return b;
}

static void loop_detach(void);

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/var/tmp/tandem-test-bdev-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/sub/dir/lun0.img", dir);
	R = reactor_create("test");
	ck_assert_ptr_nonnull(R);
	outstanding = 0;
	sync_completions = 0;
}

static void teardown(void)
{
	char cmd[600];

	loop_detach();
	if (shm_path[0])
		unlink(shm_path);
	shm_path[0] = '\0';
	bdev_reactor_fini(R);
	workq_stop();
	reactor_destroy(R);
	R = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

/* Check the file's bytes with plain pread, independent of the backends. */
static void check_file(uint64_t off, const uint8_t *expect, size_t len)
{
	uint8_t *tmp = malloc(len);
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, tmp, len, (off_t)off), (ssize_t)len);
	ck_assert_mem_eq(tmp, expect, len);
	close(fd);
	free(tmp);
}

/* ------------------------------------------------------------ blockio */

START_TEST(test_blockio_roundtrip)
{
	struct bdev *b = open_dev("blockio", path, DEV_SIZE, true, false, 512);
	struct bdev *f;
	size_t len = 64 * 1024;
	uint8_t *w = buf_alloc(len), *r = buf_alloc(len);
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, DEV_SIZE);
	ck_assert_uint_eq(b->size, DEV_SIZE);
	ck_assert_uint_eq(b->block_size, 512);
	ck_assert(!b->is_blockdev);
	ck_assert_msg(fcntl(b->fd, F_GETFL) & O_DIRECT, "blockio on ext4 should use O_DIRECT");
	ck_assert(b->can_unmap);
	ck_assert(b->unmap_zeroes);

	/* plain write, odd 512-byte aligned offset */
	fill(w, len, 1);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 512 * 7, w, len), 0);
	memset(r, 0xee, len);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 512 * 7, r, len), 0);
	ck_assert_mem_eq(r, w, len);
	check_file(512 * 7, w, len);

	/* FUA write */
	fill(w, len, 2);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 1 * MiB, w, len), 0);
	memset(r, 0, len);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 1 * MiB, r, len), 0);
	ck_assert_mem_eq(r, w, len);
	check_file(1 * MiB, w, len);

	/* last block of the device */
	fill(w, 512, 3);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, DEV_SIZE - 512, w, 512), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);

	/* the same data through the page cache */
	f = open_dev("fileio", path, 0, false, true, 512);
	ck_assert_uint_eq(f->size, DEV_SIZE);
	memset(r, 0, len);
	ck_assert_int_eq(do_io(f, BDEV_IO_READ, 0, DEV_SIZE - 512, r, 512), 0);
	ck_assert_mem_eq(r, w, 512);
	fill(w, len, 2);
	ck_assert_int_eq(do_io(f, BDEV_IO_READ, 0, 1 * MiB, r, len), 0);
	ck_assert_mem_eq(r, w, len);
	bdev_close(f);

	buf_free(w, len);
	buf_free(r, len);
	bdev_close(b);
}
END_TEST

START_TEST(test_blockio_multi_iov)
{
	struct bdev *b = open_dev("blockio", path, DEV_SIZE, true, false, 4096);
	uint8_t *a = buf_alloc(8192), *c = buf_alloc(4096), *r = buf_alloc(12288);
	struct tio t;

	fill(a, 8192, 5);
	fill(c, 4096, 6);
	tio_prep(&t, BDEV_IO_WRITE, 0, 40960, NULL, 12288);
	t.iov[0] = (struct iovec){ a, 8192 };
	t.iov[1] = (struct iovec){ c, 4096 };
	t.io.iov = t.iov;
	t.io.iovcnt = 2;
	run_batch(b, &t, 1);
	ck_assert_int_eq(t.io.status, 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 40960, r, 12288), 0);
	ck_assert_mem_eq(r, a, 8192);
	ck_assert_mem_eq(r + 8192, c, 4096);
	/* 512-byte offsets are invalid on a 4096-byte LUN */
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 512, r, 4096), -EINVAL);
	buf_free(a, 8192);
	buf_free(c, 4096);
	buf_free(r, 12288);
	bdev_close(b);
}
END_TEST

static void unmap_and_zeroes(const char *backend)
{
	struct bdev *b = open_dev(backend, path, DEV_SIZE, true, false, 512);
	size_t len = 2 * MiB;
	uint8_t *w = buf_alloc(len), *r = buf_alloc(len);
	struct stat st1, st2;

	fill(w, len, 9);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 2 * MiB, w, len), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(stat(path, &st1), 0);
	ck_assert_int_ge(st1.st_blocks, (blkcnt_t)(len / 512));

	/* unmap the middle MiB: reads back zero, blocks are deallocated */
	ck_assert_int_eq(do_io(b, BDEV_IO_UNMAP, 0, 2 * MiB + 512 * 1024, NULL, MiB), 0);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert_int_le(st2.st_blocks, st1.st_blocks - (blkcnt_t)(MiB / 512) + 64);
	ck_assert_int_eq(st2.st_size, DEV_SIZE);
	memset(r, 0xaa, len);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 2 * MiB, r, len), 0);
	ck_assert_mem_eq(r, w, 512 * 1024);
	ck_assert(is_zero(r + 512 * 1024, MiB));
	ck_assert_mem_eq(r + 1536 * 1024, w + 1536 * 1024, 512 * 1024);

	/* write-zeroes a few unaligned-to-4K blocks */
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 2 * MiB, w, len), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE_ZEROES, 0, 2 * MiB + 1536, NULL, 3 * 512), 0);
	memset(r, 0xaa, len);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 2 * MiB, r, len), 0);
	ck_assert_mem_eq(r, w, 1536);
	ck_assert(is_zero(r + 1536, 1536));
	ck_assert_mem_eq(r + 3072, w + 3072, len - 3072);

	/* whole-device write-zeroes and unmap of the last block */
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE_ZEROES, 0, 0, NULL, DEV_SIZE), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 2 * MiB, r, len), 0);
	ck_assert(is_zero(r, len));
	ck_assert_int_eq(do_io(b, BDEV_IO_UNMAP, 0, DEV_SIZE - 512, NULL, 512), 0);
	/* ranges past the end are refused */
	ck_assert_int_eq(do_io(b, BDEV_IO_UNMAP, 0, DEV_SIZE, NULL, 512), -ERANGE);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE_ZEROES, 0, DEV_SIZE - 512, NULL, 1024), -ERANGE);

	buf_free(w, len);
	buf_free(r, len);
	bdev_close(b);
}

START_TEST(test_blockio_unmap_zeroes)
{
	unmap_and_zeroes("blockio");
}
END_TEST

START_TEST(test_blockio_bad_io)
{
	struct bdev *b = open_dev("blockio", path, DEV_SIZE, true, false, 512);
	uint8_t *w = buf_alloc(4096);
	struct tio t;

	memset(w, 1, 4096);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, DEV_SIZE, w, 512), -ERANGE);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, DEV_SIZE - 512, w, 1024), -ERANGE);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, UINT64_MAX - 511, w, 512), -ERANGE);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 100, w, 512), -EINVAL);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 0, w, 100), -EINVAL);
	/* iov shorter than len */
	tio_prep(&t, BDEV_IO_WRITE, 0, 0, w, 4096);
	t.iov[0].iov_len = 512;
	run_batch(b, &t, 1);
	ck_assert_int_eq(t.io.status, -EINVAL);
	/* missing iov */
	tio_prep(&t, BDEV_IO_READ, 0, 0, NULL, 4096);
	t.io.iovcnt = 1;
	run_batch(b, &t, 1);
	ck_assert_int_eq(t.io.status, -EINVAL);
	/* unknown type */
	tio_prep(&t, (enum bdev_io_type)77, 0, 0, NULL, 0);
	run_batch(b, &t, 1);
	ck_assert_int_eq(t.io.status, -EINVAL);
	/* NULL bdev */
	tio_prep(&t, BDEV_IO_READ, 0, 0, w, 512);
	run_batch(NULL, &t, 1);
	ck_assert_int_eq(t.io.status, -ENODEV);
	/* zero-length read completes fine */
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 0, NULL, 0), 0);
	/* the device still works */
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 0, w, 4096), 0);
	buf_free(w, 4096);
	bdev_close(b);
}
END_TEST

static void many_in_flight(const char *backend)
{
	struct bdev *b = open_dev(backend, path, DEV_SIZE, true, false, 512);
	struct tio *t = calloc(NCONC, sizeof(*t));
	uint8_t *bufs[NCONC];
	uint8_t expect[4096];
	int i, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < NCONC; i++) {
			bufs[i] = buf_alloc(4096);
			fill(bufs[i], 4096, (unsigned)(i + round * 1000));
			tio_prep(&t[i], BDEV_IO_WRITE, (i % 3 == 0) ? BDEV_IO_F_FUA : 0,
				 (uint64_t)i * 8192 + 512, bufs[i], 4096);
		}
		run_batch(b, t, NCONC);
		for (i = 0; i < NCONC; i++)
			ck_assert_int_eq(t[i].io.status, 0);
		for (i = 0; i < NCONC; i++) {
			memset(bufs[i], 0, 4096);
			tio_prep(&t[i], BDEV_IO_READ, 0, (uint64_t)i * 8192 + 512, bufs[i], 4096);
		}
		run_batch(b, t, NCONC);
		for (i = 0; i < NCONC; i++) {
			ck_assert_int_eq(t[i].io.status, 0);
			fill(expect, 4096, (unsigned)(i + round * 1000));
			ck_assert_mem_eq(bufs[i], expect, 4096);
			buf_free(bufs[i], 4096);
		}
	}
	free(t);
	bdev_close(b);
}

START_TEST(test_blockio_many)
{
	many_in_flight("blockio");
}
END_TEST

/* A completion callback that submits the next I/O (the SCSI layer does this). */
struct chain {
	struct tio t;
	struct bdev *b;
	uint8_t *buf;
	int left;
};

static void chain_cb(struct bdev_io *io)
{
	struct chain *c = container_of(io, struct chain, t.io);

	ck_assert_int_eq(io->status, 0);
	if (--c->left == 0) {
		outstanding--;
		return;
	}
	tio_prep(&c->t, c->left % 2 ? BDEV_IO_READ : BDEV_IO_WRITE, 0,
		 (uint64_t)(c->left % 16) * 4096, c->buf, 4096);
	c->t.io.cb = chain_cb;
	bdev_submit(c->b, &c->t.io);
}

static void chain_start(void *arg)
{
	struct chain *c = arg;

	tio_prep(&c->t, BDEV_IO_WRITE, 0, 0, c->buf, 4096);
	c->t.io.cb = chain_cb;
	bdev_submit(c->b, &c->t.io);
}

static void chained(const char *backend)
{
	struct chain c = { .left = 200 };
	uint64_t deadline = reactor_now_ms() + 20000;

	c.b = open_dev(backend, path, DEV_SIZE, true, false, 512);
	c.buf = buf_alloc(4096);
	memset(c.buf, 0x5a, 4096);
	outstanding = 1;
	reactor_post(R, chain_start, &c);
	while (outstanding > 0 && reactor_now_ms() < deadline)
		reactor_poll_once(R, 50);
	ck_assert_int_eq(outstanding, 0);
	ck_assert_int_eq(c.left, 0);
	buf_free(c.buf, 4096);
	bdev_close(c.b);
}

START_TEST(test_blockio_chained)
{
	chained("blockio");
}
END_TEST

START_TEST(test_blockio_readonly)
{
	struct bdev *b = open_dev("blockio", path, DEV_SIZE, true, false, 512);
	uint8_t *w = buf_alloc(4096);
	int rc;

	fill(w, 4096, 4);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 0, w, 4096), 0);
	bdev_close(b);

	b = open_dev("blockio", path, 0, false, true, 512);
	ck_assert(b->readonly);
	ck_assert(!b->can_unmap);
	rc = do_io(b, BDEV_IO_WRITE, 0, 0, w, 4096);
	ck_assert_msg(rc == -EROFS || rc == -EBADF, "write on readonly gave %d", rc);
	rc = do_io(b, BDEV_IO_UNMAP, 0, 0, NULL, 4096);
	ck_assert_msg(rc == -EROFS || rc == -EBADF, "unmap on readonly gave %d", rc);
	rc = do_io(b, BDEV_IO_WRITE_ZEROES, 0, 0, NULL, 4096);
	ck_assert_msg(rc == -EROFS || rc == -EBADF, "write-zeroes on readonly gave %d", rc);
	memset(w, 0, 4096);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 0, w, 4096), 0);
	{
		uint8_t expect[4096];

		fill(expect, 4096, 4);
		ck_assert_mem_eq(w, expect, 4096);
	}
	ck_assert_int_eq(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	buf_free(w, 4096);
	bdev_close(b);
}
END_TEST

/* Where tmpfs refuses O_DIRECT, blockio must fall back to buffered I/O. */
START_TEST(test_blockio_tmpfs_fallback)
{
	struct statfs sfs;
	char *p = shm_path;
	struct bdev *b;
	uint8_t *w = buf_alloc(4096), *r = buf_alloc(4096);

	if (statfs("/dev/shm", &sfs) != 0 || sfs.f_type != 0x01021994 /* TMPFS_MAGIC */) {
		buf_free(w, 4096);
		buf_free(r, 4096);
		return;
	}
	snprintf(shm_path, sizeof(shm_path), "/dev/shm/tandem-test-bdev-%d.img", (int)getpid());
	unlink(p);
	b = open_dev("blockio", p, MiB, true, false, 512);
	/* Linux >= 6.6 tmpfs accepts O_DIRECT; older ones take the fallback. */
	fill(w, 4096, 8);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 4096, w, 4096), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 4096, r, 4096), 0);
	ck_assert_mem_eq(r, w, 4096);
	ck_assert_int_eq(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	bdev_close(b);
	unlink(p);
	buf_free(w, 4096);
	buf_free(r, 4096);
}
END_TEST

/* The kernel refusing RWF_DSYNC (simulated with an unknown RWF bit): the FUA
 * writes fail in io_submit, the batch is partly submitted, the refused ones are
 * requeued as plain writes plus fdatasync. */
START_TEST(test_blockio_fua_fallback)
{
	struct bdev *b = open_dev("blockio", path, DEV_SIZE, true, false, 512);
	struct tio t[8];
	uint8_t *bufs[8], expect[4096];
	int i;

	bdev_blockio_test_set_fua_flags(RWF_DSYNC | 0x40000000);
	for (i = 0; i < 8; i++) {
		bufs[i] = buf_alloc(4096);
		fill(bufs[i], 4096, (unsigned)(100 + i));
		tio_prep(&t[i], BDEV_IO_WRITE, (i == 3 || i == 6) ? BDEV_IO_F_FUA : 0,
			 (uint64_t)i * 4096, bufs[i], 4096);
	}
	run_batch(b, t, 8);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(t[i].io.status, 0);
	/* latched: further FUA writes go straight to write + fdatasync */
	fill(bufs[0], 4096, 200);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 0, bufs[0], 4096), 0);
	bdev_blockio_test_set_fua_flags(RWF_DSYNC);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 32768, bufs[0], 4096), 0);
	for (i = 0; i < 8; i++) {
		fill(expect, 4096, i ? (unsigned)(100 + i) : 200);
		check_file((uint64_t)i * 4096, expect, 4096);
		buf_free(bufs[i], 4096);
	}
	bdev_close(b);
}
END_TEST

/* A real block device: a loop device over a file (skipped without losetup). */
static char loopdev[64];

static bool loop_attach(const char *file, unsigned sector)
{
	char cmd[700];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "losetup -f --show %s%s '%s' 2>/dev/null",
		 sector ? "--sector-size " : "", sector == 4096 ? "4096" : "", file);
	loopdev[0] = '\0';
	f = popen(cmd, "r");
	if (!f)
		return false;
	if (!fgets(loopdev, sizeof(loopdev), f))
		loopdev[0] = '\0';
	pclose(f);
	loopdev[strcspn(loopdev, "\n")] = '\0';
	return strncmp(loopdev, "/dev/loop", 9) == 0;
}

static void loop_detach(void)
{
	char cmd[128];

	if (!loopdev[0])
		return;
	snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot detach %s\n", loopdev);
	loopdev[0] = '\0';
}

START_TEST(test_blockio_blockdev)
{
	struct bdev *b, *f;
	struct bdev_params prm = { .backend = "blockio", .block_size = 512 };
	size_t len = MiB;
	uint8_t *w = buf_alloc(len), *r = buf_alloc(len);
	char err[256], sys[128];
	struct stat st;
	FILE *fp;
	int rot = -1;

	/* backing file created through bdev, then used as a loop device */
	b = open_dev("fileio", path, 16 * MiB, true, false, 512);
	bdev_close(b);
	if (!loop_attach(path, 0)) {
		/* root with the loop driver (CI, the README's test command): a
		 * loop device that cannot be had is a failure, not a skip */
		ck_assert_msg(geteuid() != 0 || access("/dev/loop-control", F_OK) != 0,
			      "root and /dev/loop-control, but losetup -f failed: no block device to test");
		fprintf(stderr, "test_blockio_blockdev: no loop device (not root, or no loop driver), skipped\n");
		goto out;
	}
	b = open_dev("blockio", loopdev, 0, false, false, 512);
	ck_assert(b->is_blockdev);
	ck_assert_uint_eq(b->size, 16 * MiB);
	ck_assert_uint_ge(b->phys_block_size, 512);
	ck_assert_msg(fcntl(b->fd, F_GETFL) & O_DIRECT, "block device should use O_DIRECT");
	ck_assert_int_eq(stat(loopdev, &st), 0);
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/queue/rotational",
		 major(st.st_rdev), minor(st.st_rdev));
	fp = fopen(sys, "r");
	if (fp) {
		ck_assert_int_eq(fscanf(fp, "%d", &rot), 1);
		fclose(fp);
		ck_assert_int_eq(b->rotational, rot == 1);
	}
	ck_assert(!b->unmap_zeroes);

	fill(w, len, 21);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 3 * MiB, w, len), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 3 * MiB, r, len), 0);
	ck_assert_mem_eq(r, w, len);
	ck_assert_int_eq(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE_ZEROES, 0, 3 * MiB + 4096, NULL, 8192), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 3 * MiB, r, len), 0);
	ck_assert_mem_eq(r, w, 4096);
	ck_assert(is_zero(r + 4096, 8192));
	ck_assert_mem_eq(r + 12288, w + 12288, len - 12288);
	if (b->can_unmap)
		ck_assert_int_eq(do_io(b, BDEV_IO_UNMAP, 0, 0, NULL, MiB), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 16 * MiB, r, 512), -ERANGE);

	/* online size change of a block device (a logical volume grown under
	 * the LUN): the file grows, the loop device learns it (losetup -c),
	 * size 0 follows it; a device cannot grow beyond itself, create or not */
	uint64_t got = 0;
	ck_assert_int_eq(truncate(path, (off_t)(24 * MiB)), 0);
	snprintf(sys, sizeof(sys), "losetup -c %s", loopdev);
	ck_assert_int_eq(system(sys), 0);
	ck_assert_int_eq(bdev_resize_prepare(b, 0, false, &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got, 24 * MiB);
	ck_assert_uint_eq(b->size, 16 * MiB);           /* published by the caller */
	bdev_set_size(b, got);
	fill(w, 4096, 22);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 24 * MiB - 4096, w, 4096), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 24 * MiB - 4096, r, 4096), 0);
	ck_assert_mem_eq(r, w, 4096);
	fill(w, len, 21);                               /* what 3 MiB holds, for the checks below */
	ck_assert_int_eq(bdev_resize_prepare(b, 32 * MiB, true, &got, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "less than the requested 33554432") && !strstr(err, "create"), "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 24 * MiB);
	bdev_close(b);

	/* requested size must fit the device */
	prm.path = loopdev;
	prm.size = 32 * MiB;
	ck_assert_ptr_null(bdev_open(&prm, err, sizeof(err)));
	ck_assert_msg(strstr(err, "less than the requested"), "%s", err);
	/* readonly */
	f = open_dev("blockio", loopdev, 8 * MiB, false, true, 4096);
	ck_assert_uint_eq(f->size, 8 * MiB);
	ck_assert_int_eq(do_io(f, BDEV_IO_READ, 0, 3 * MiB, r, 4096), 0);
	ck_assert_mem_eq(r, w, 4096);
	ck_assert_int_eq(do_io(f, BDEV_IO_WRITE, 0, 0, r, 4096), -EROFS);
	bdev_close(f);
	loop_detach();

	/* a 4096-byte-sector device refuses a 512-byte LUN */
	if (loop_attach(path, 4096)) {
		prm.size = 0;
		ck_assert_ptr_null(bdev_open(&prm, err, sizeof(err)));
		ck_assert_msg(strstr(err, "smaller than the logical block size"), "%s", err);
		prm.block_size = 4096;
		b = bdev_open(&prm, err, sizeof(err));
		ck_assert_msg(b != NULL, "%s", err);
		ck_assert_uint_eq(b->block_size, 4096);
		ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 3 * MiB, r, 4096), 0);
		bdev_close(b);
		loop_detach();
	}
out:
	buf_free(w, len);
	buf_free(r, len);
}
END_TEST

/* Online size change of a file LUN (bdev_resize_prepare / bdev_set_size):
 * the bound moves only when published, a file grows only with create, size 0
 * follows the file, a shrink never cuts the file, bad sizes are refused. */
static void resize_file(const char *backend)
{
	struct bdev *b = open_dev(backend, path, DEV_SIZE, true, false, 512);
	uint8_t *w = buf_alloc(4096), *r = buf_alloc(4096);
	uint64_t got = 0;
	char err[256];
	struct stat st;

	/* larger than the file, without create: refused, nothing changes */
	ck_assert_int_eq(bdev_resize_prepare(b, 2 * DEV_SIZE, false, &got, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "less than the requested 16777216 (with create: yes the file grows)"), "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, DEV_SIZE);
	ck_assert_uint_eq(b->size, DEV_SIZE);

	/* with create the file grows (sparse); the device's bound moves when
	 * the caller publishes it */
	ck_assert_int_eq(bdev_resize_prepare(b, 2 * DEV_SIZE, true, &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got, 2 * DEV_SIZE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 2 * DEV_SIZE);
	ck_assert_uint_eq(b->size, DEV_SIZE);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, DEV_SIZE, r, 4096), -ERANGE);
	bdev_set_size(b, got);
	fill(w, 4096, 31);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 2 * DEV_SIZE - 4096, w, 4096), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 2 * DEV_SIZE - 4096, r, 4096), 0);
	ck_assert_mem_eq(r, w, 4096);
	check_file(2 * DEV_SIZE - 4096, w, 4096);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 2 * DEV_SIZE, r, 512), -ERANGE);

	/* size 0: what the file holds now, e.g. after `truncate -s` */
	ck_assert_int_eq(truncate(path, (off_t)(3 * DEV_SIZE)), 0);
	ck_assert_int_eq(bdev_resize_prepare(b, 0, false, &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got, 3 * DEV_SIZE);

	/* a shrink lowers the bound only: the file and its data stay */
	ck_assert_int_eq(bdev_resize_prepare(b, DEV_SIZE / 2, false, &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got, DEV_SIZE / 2);
	bdev_set_size(b, got);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, DEV_SIZE / 2, r, 512), -ERANGE);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 3 * DEV_SIZE);
	check_file(2 * DEV_SIZE - 4096, w, 4096);

	/* geometry: a size, or a file, that is not a whole number of blocks */
	ck_assert_int_eq(bdev_resize_prepare(b, DEV_SIZE + 100, true, &got, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "not a multiple of the block size 512"), "%s", err);
	ck_assert_int_eq(truncate(path, (off_t)(3 * DEV_SIZE + 100)), 0);
	ck_assert_int_eq(bdev_resize_prepare(b, 0, false, &got, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "not a multiple of the block size 512"), "%s", err);
	ck_assert_uint_eq(b->size, DEV_SIZE / 2);

	/* the path names another file now (an image renamed over it): the open
	 * one is not what a reload means, nothing changes */
	char other[600];
	snprintf(other, sizeof(other), "%s.new", path);
	int ofd = open(other, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(ofd, 0);
	close(ofd);
	ck_assert_int_eq(rename(other, path), 0);
	ck_assert_int_eq(bdev_resize_prepare(b, 4 * DEV_SIZE, true, &got, err, sizeof(err)), -ESTALE);
	ck_assert_msg(strstr(err, "no longer names the file this LUN has open"), "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	bdev_close(b);

	/* read-only: never grows the file */
	ck_assert_int_eq(truncate(path, (off_t)DEV_SIZE), 0);
	b = open_dev(backend, path, 0, false, true, 512);
	ck_assert_int_eq(bdev_resize_prepare(b, 2 * DEV_SIZE, true, &got, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "less than the requested"), "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, DEV_SIZE);
	bdev_close(b);
	buf_free(w, 4096);
	buf_free(r, 4096);
}

START_TEST(test_blockio_resize)
{
	resize_file("blockio");
}
END_TEST

START_TEST(test_fileio_resize)
{
	resize_file("fileio");
}
END_TEST

/* ------------------------------------------------------------ fileio */

START_TEST(test_fileio_roundtrip)
{
	struct bdev *b = open_dev("fileio", path, DEV_SIZE, true, false, 4096);
	size_t len = 128 * 1024;
	uint8_t *w = buf_alloc(len), *r = buf_alloc(len);

	fill(w, len, 11);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 4096, w, len), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 4096, r, len), 0);
	ck_assert_mem_eq(r, w, len);
	fill(w, len, 12);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 4 * MiB, w, len), 0);
	check_file(4 * MiB, w, len);
	ck_assert_int_eq(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, DEV_SIZE, r, 4096), -ERANGE);
	buf_free(w, len);
	buf_free(r, len);
	bdev_close(b);
}
END_TEST

START_TEST(test_fileio_unmap_zeroes)
{
	unmap_and_zeroes("fileio");
}
END_TEST

START_TEST(test_fileio_many)
{
	many_in_flight("fileio");
}
END_TEST

START_TEST(test_fileio_chained)
{
	chained("fileio");
}
END_TEST

/* A tiny work queue overflows: I/Os wait on the reactor and are retried. */
START_TEST(test_fileio_queue_full)
{
	ck_assert_int_eq(workq_start(1, 4), 0);
	many_in_flight("fileio");
	many_in_flight("blockio");  /* FUA etc. unaffected; aio does not use it */
}
END_TEST

/* Misuse: submitting from a thread that is not a reactor answers at once. */
START_TEST(test_submit_outside_reactor)
{
	struct bdev *b = open_dev("null", NULL, MiB, false, false, 512);
	uint8_t *r = buf_alloc(512);
	struct tio t;

	tio_prep(&t, BDEV_IO_READ, 0, 0, r, 512);
	t.io.cb = tio_cb;
	outstanding = 1;
	bdev_submit(b, &t.io);
	ck_assert_int_eq(outstanding, 0);
	ck_assert_int_eq(t.io.status, -EINVAL);
	/* no callback: dropped with a log message, no crash */
	tio_prep(&t, BDEV_IO_READ, 0, 0, r, 512);
	bdev_submit(b, &t.io);
	bdev_submit(b, NULL);
	buf_free(r, 512);
	bdev_close(b);
}
END_TEST

/* ------------------------------------------------------------ null */

START_TEST(test_null)
{
	struct bdev *b = open_dev("null", NULL, 1024 * MiB, false, false, 512);
	struct tio *t = calloc(NCONC, sizeof(*t));
	uint8_t *r = buf_alloc(8192);
	int i;

	ck_assert_uint_eq(b->size, 1024 * MiB);
	memset(r, 0xaa, 8192);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 0, r, 8192), 0);
	ck_assert(is_zero(r, 8192));
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, BDEV_IO_F_FUA, 512, r, 8192), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_UNMAP, 0, 0, NULL, MiB), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE_ZEROES, 0, 0, NULL, MiB), 0);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 1024 * MiB, r, 512), -ERANGE);
	/* size changes: any whole number of blocks, never "what it holds" */
	uint64_t got = 0;
	char err[256];
	ck_assert_int_eq(bdev_resize_prepare(b, 2048 * MiB, false, &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got, 2048 * MiB);
	bdev_set_size(b, got);
	ck_assert_int_eq(do_io(b, BDEV_IO_READ, 0, 2048 * MiB - 512, r, 512), 0);
	ck_assert_int_eq(bdev_resize_prepare(b, 0, false, &got, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "needs a size"), "%s", err);
	ck_assert_int_eq(bdev_resize_prepare(b, 1000, false, &got, err, sizeof(err)), -EINVAL);
	for (i = 0; i < NCONC; i++)
		tio_prep(&t[i], BDEV_IO_WRITE, 0, (uint64_t)i * 512, r, 512);
	run_batch(b, t, NCONC);
	for (i = 0; i < NCONC; i++)
		ck_assert_int_eq(t[i].io.status, 0);
	buf_free(r, 8192);
	free(t);
	bdev_close(b);

	b = open_dev("null", NULL, MiB, false, true, 512);
	ck_assert_int_eq(do_io(b, BDEV_IO_WRITE, 0, 0, r = buf_alloc(512), 512), -EROFS);
	buf_free(r, 512);
	bdev_close(b);
}
END_TEST

START_TEST(test_null_chained)
{
	struct chain c = { .left = 1000 };
	uint64_t deadline = reactor_now_ms() + 20000;

	c.b = open_dev("null", NULL, MiB, false, false, 512);
	c.buf = buf_alloc(4096);
	outstanding = 1;
	reactor_post(R, chain_start, &c);
	while (outstanding > 0 && reactor_now_ms() < deadline)
		reactor_poll_once(R, 1000);
	ck_assert_int_eq(c.left, 0);
	buf_free(c.buf, 4096);
	bdev_close(c.b);
}
END_TEST

/* ------------------------------------------------------------ open */

static void expect_open_fail(const struct bdev_params *p, const char *needle)
{
	char err[256] = "";
	struct bdev *b = bdev_open(p, err, sizeof(err));

	ck_assert_msg(b == NULL, "open should have failed");
	ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(test_open_errors)
{
	struct bdev_params p = { .backend = "blockio", .path = path, .block_size = 512 };
	char err[256];
	int fd;

	/* missing file, no create */
	expect_open_fail(&p, "No such file");
	/* create without size */
	p.create = true;
	expect_open_fail(&p, "no size");
	/* create with a size that is not a multiple of the block size */
	p.size = 1000;
	expect_open_fail(&p, "multiple");
	ck_assert_int_ne(access(path, F_OK), 0);
	p.create = false;
	p.size = 0;

	/* existing file of 1000 bytes */
	ck_assert_int_eq(system("true"), 0);
	{
		struct bdev *b;

		p.create = true;
		p.size = 4096;
		b = bdev_open(&p, err, sizeof(err));
		ck_assert_msg(b != NULL, "%s", err);
		bdev_close(b);
		p.create = false;
		p.size = 0;
	}
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1000), 0);
	close(fd);
	expect_open_fail(&p, "multiple");
	p.backend = "fileio";
	expect_open_fail(&p, "multiple");
	/* too small for one block */
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, 256), 0);
	close(fd);
	expect_open_fail(&p, "smaller than one block");
	/* requested size larger than the file */
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	close(fd);
	p.size = 16384;
	expect_open_fail(&p, "less than the requested");
	/* requested size smaller than the file: LUN uses the start */
	p.size = 4096;
	{
		struct bdev *b = bdev_open(&p, err, sizeof(err));

		ck_assert_msg(b != NULL, "%s", err);
		ck_assert_uint_eq(b->size, 4096);
		bdev_close(b);
	}
	p.size = 0;
	/* bad block sizes */
	p.block_size = 1000;
	expect_open_fail(&p, "block size");
	p.block_size = 131072;
	expect_open_fail(&p, "block size");
	p.block_size = 512;
	/* unknown backend, no backend, no path, a directory */
	p.backend = "rbd";
	expect_open_fail(&p, "unknown backend");
	p.backend = NULL;
	expect_open_fail(&p, "no backend");
	p.backend = "blockio";
	p.path = "";
	expect_open_fail(&p, "needs a path");
	p.path = NULL;
	expect_open_fail(&p, "needs a path");
	p.path = dir;
	expect_open_fail(&p, "");
	p.path = "/dev/null";
	expect_open_fail(&p, "");
	/* never create files under /dev */
	p.path = "/dev/tandem-no-such-disk";
	p.create = true;
	p.size = MiB;
	expect_open_fail(&p, "not creating");
	ck_assert_int_ne(access(p.path, F_OK), 0);
	p.create = false;
	/* null needs a size */
	p.backend = "null";
	p.size = 0;
	expect_open_fail(&p, "needs a size");
	p.size = 1000;
	expect_open_fail(&p, "multiple");
	/* NULL params / tiny err buffer do not crash */
	ck_assert_ptr_null(bdev_open(NULL, err, sizeof(err)));
	ck_assert_ptr_null(bdev_open(NULL, NULL, 0));
	bdev_close(NULL);
}
END_TEST

/* ------------------------------------------------------------ workq */

static int wq_count;
static volatile int wq_gate, wq_started;
static pthread_t wq_done_thread;

static void wq_block(void *arg)
{
	__atomic_store_n(&wq_started, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&wq_gate, __ATOMIC_SEQ_CST))
		usleep(1000);
	__atomic_add_fetch(&wq_count, 1, __ATOMIC_SEQ_CST);
}

static void wq_work(void *arg)
{
	__atomic_add_fetch(&wq_count, 1, __ATOMIC_SEQ_CST);
}

static void wq_done(void *arg)
{
	wq_done_thread = pthread_self();
	(*(int *)arg)++;
}

START_TEST(test_workq)
{
	int done = 0, i;

	ck_assert_int_eq(workq_submit(NULL, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(workq_start(1, 2), 0);
	ck_assert_int_eq(workq_start(1, 2), -EALREADY);
	wq_count = 0;
	wq_gate = 0;
	wq_started = 0;
	ck_assert_int_eq(workq_submit(NULL, wq_block, NULL, NULL), 0);
	while (!__atomic_load_n(&wq_started, __ATOMIC_SEQ_CST))
		usleep(1000);
	ck_assert_int_eq(workq_submit(NULL, wq_work, NULL, NULL), 0);
	ck_assert_int_eq(workq_submit(NULL, wq_work, NULL, NULL), 0);
	ck_assert_int_eq(workq_submit(NULL, wq_work, NULL, NULL), -EAGAIN);
	ck_assert_uint_eq(workq_pending(), 3);
	__atomic_store_n(&wq_gate, 1, __ATOMIC_SEQ_CST);
	workq_stop();
	ck_assert_int_eq(wq_count, 3);
	ck_assert_uint_eq(workq_pending(), 0);

	/* restarts lazily; done runs on the owner reactor */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(workq_submit(R, wq_work, wq_done, &done), 0);
	for (i = 0; i < 200 && done < 10; i++)
		reactor_poll_once(R, 50);
	ck_assert_int_eq(done, 10);
	ck_assert_int_eq(wq_count, 13);
	ck_assert(pthread_equal(wq_done_thread, pthread_self()));
	workq_stop();
	workq_stop();
}
END_TEST

static Suite *bdev_suite(void)
{
	Suite *s = suite_create("bdev");
	TCase *tc;

	tc = tcase_create("blockio");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_blockio_roundtrip);
	tcase_add_test(tc, test_blockio_multi_iov);
	tcase_add_test(tc, test_blockio_unmap_zeroes);
	tcase_add_test(tc, test_blockio_bad_io);
	tcase_add_test(tc, test_blockio_many);
	tcase_add_test(tc, test_blockio_chained);
	tcase_add_test(tc, test_blockio_readonly);
	tcase_add_test(tc, test_blockio_tmpfs_fallback);
	tcase_add_test(tc, test_blockio_fua_fallback);
	tcase_add_test(tc, test_blockio_blockdev);
	tcase_add_test(tc, test_blockio_resize);
	suite_add_tcase(s, tc);

	tc = tcase_create("fileio");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fileio_roundtrip);
	tcase_add_test(tc, test_fileio_unmap_zeroes);
	tcase_add_test(tc, test_fileio_many);
	tcase_add_test(tc, test_fileio_chained);
	tcase_add_test(tc, test_fileio_queue_full);
	tcase_add_test(tc, test_fileio_resize);
	suite_add_tcase(s, tc);

	tc = tcase_create("null");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_null);
	tcase_add_test(tc, test_null_chained);
	tcase_add_test(tc, test_submit_outside_reactor);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("workq");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_workq);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bdev_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

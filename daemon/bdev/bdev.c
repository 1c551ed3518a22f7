/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend-independent part of the backing stores: the table of backends, the
 * common open of files and block devices, request validation, and per-reactor
 * completion/work-queue plumbing shared by blockio, fileio and null. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "reactor.h"
#include "bdev/bdev.h"
#include "bdev/bdev_internal.h"
#include "util/be.h"
#include "util/log.h"
#include "util/workq.h"

#define BDEV_ZERO_BUF_SIZE (1024 * 1024)
#define BDEV_DEFER_RETRY_MS 1

static const struct bdev_ops *const bdev_backends[] = {
	&bdev_blockio_ops,
	&bdev_fileio_ops,
	&bdev_null_ops,
};

/* ---------------------------------------------------------------- open */

int bdev_check_geometry(uint32_t block_size, uint64_t size, char *err, size_t errlen)
{
	if (block_size < 512 || block_size > 65536 || (block_size & (block_size - 1))) {
		snprintf(err, errlen, "block size %u is invalid (power of two from 512 to 65536)",
			 block_size);
		return -EINVAL;
	}
	if (size < block_size) {
		snprintf(err, errlen, "size %llu is smaller than one block of %u bytes",
			 (unsigned long long)size, block_size);
		return -EINVAL;
	}
	if (size % block_size) {
		snprintf(err, errlen, "size %llu is not a multiple of the block size %u",
			 (unsigned long long)size, block_size);
		return -EINVAL;
	}
	return 0;
}

/* mkdir -p of the directory that contains path. */
static int bdev_mkdir_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct bdev *)0)->path)];
	char *slash, *p;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(e));
			return -e;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int bdev_create_file(const struct bdev_params *p, char *err, size_t errlen)
{
	int fd, rc;

	if (strncmp(p->path, "/dev/", 5) == 0 && strncmp(p->path, "/dev/shm/", 9) != 0) {
		snprintf(err, errlen, "%s does not exist (not creating files under /dev)", p->path);
		return -ENOENT;
	}
	if (p->size == 0) {
		snprintf(err, errlen, "%s does not exist and no size was given to create it", p->path);
		return -EINVAL;
	}
	rc = bdev_check_geometry(p->block_size, p->size, err, errlen);
	if (rc)
		return rc;
	rc = bdev_mkdir_parent(p->path, err, errlen);
	if (rc)
		return rc;
	fd = open(p->path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", p->path, strerror(-rc));
		return rc;
	}
	if (ftruncate(fd, (off_t)p->size) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot size %s to %llu bytes: %s", p->path,
			 (unsigned long long)p->size, strerror(-rc));
		close(fd);
		unlink(p->path);
		return rc;
	}
	close(fd);
	qb_log(LOG_NOTICE, "created sparse backing file %s of %llu bytes", p->path,
	       (unsigned long long)p->size);
	return 0;
}

/* Read a small integer from sysfs; -1 when absent. */
static long long bdev_sysfs_read(const char *fmt, unsigned maj, unsigned min)
{
	char path[128], buf[64];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), fmt, maj, min);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtoll(buf, NULL, 10);
	fclose(f);
	return v;
}

/* Queue attribute of a disk or of the disk that holds a partition. */
static long long bdev_queue_attr(dev_t rdev, const char *attr)
{
	char fmt[128];
	long long v;

	snprintf(fmt, sizeof(fmt), "/sys/dev/block/%%u:%%u/queue/%s", attr);
	v = bdev_sysfs_read(fmt, major(rdev), minor(rdev));
	if (v >= 0)
		return v;
	snprintf(fmt, sizeof(fmt), "/sys/dev/block/%%u:%%u/../queue/%s", attr);
	return bdev_sysfs_read(fmt, major(rdev), minor(rdev));
}

/* Bytes a block device holds (at the open and when a reload asks again). */
static int bdev_blockdev_bytes(struct bdev *b, uint64_t *bytes, char *err, size_t errlen)
{
	if (ioctl(b->fd, BLKGETSIZE64, bytes) < 0) {
		int e = errno;

		snprintf(err, errlen, "BLKGETSIZE64 on %s failed: %s", b->path, strerror(e));
		return -e;
	}
	return 0;
}

static int bdev_probe_blockdev(struct bdev *b, const struct stat *st, char *err, size_t errlen)
{
	uint64_t bytes = 0;
	int lbs = 0, pbs = 0, rc;

	if ((rc = bdev_blockdev_bytes(b, &bytes, err, errlen)) < 0)
		return rc;
	if (ioctl(b->fd, BLKSSZGET, &lbs) < 0 || lbs <= 0)
		lbs = 512;
	if (ioctl(b->fd, BLKPBSZGET, &pbs) < 0 || pbs <= 0)
		pbs = lbs;
	if (b->block_size < (uint32_t)lbs) {
		snprintf(err, errlen, "block size %u is smaller than the logical block size %d of %s",
			 b->block_size, lbs, b->path);
		return -EINVAL;
	}
	b->is_blockdev = true;
	b->size = bytes;
	b->phys_block_size = (uint32_t)pbs > b->block_size ? (uint32_t)pbs : b->block_size;
	b->rotational = bdev_queue_attr(st->st_rdev, "rotational") > 0;
	b->can_unmap = !b->readonly && bdev_queue_attr(st->st_rdev, "discard_max_bytes") > 0;
	/* Discard is only a hint on most devices: do not promise zeroes. */
	b->unmap_zeroes = false;
	return 0;
}

static void bdev_probe_file(struct bdev *b, const struct stat *st)
{
	b->is_blockdev = false;
	b->size = (uint64_t)st->st_size;
	b->phys_block_size = b->block_size > 4096 ? b->block_size : 4096;
	b->rotational = false;
	/* Punching a hole past EOF changes nothing but tells whether the
	 * file system supports it. */
	b->can_unmap = !b->readonly &&
		fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st->st_size,
			  b->block_size) == 0;
	b->unmap_zeroes = b->can_unmap;
}

int bdev_open_common(struct bdev *b, const struct bdev_params *p, bool want_direct,
		     bool *direct, char *err, size_t errlen)
{
	struct stat st;
	int flags, rc;
	uint64_t avail;

	if (!p->path || !p->path[0]) {
		snprintf(err, errlen, "backend %s needs a path", b->ops->name);
		return -EINVAL;
	}
	if (strlen(p->path) >= sizeof(b->path)) {
		snprintf(err, errlen, "path is too long");
		return -ENAMETOOLONG;
	}
	snprintf(b->path, sizeof(b->path), "%s", p->path);
	b->block_size = p->block_size;
	b->readonly = p->readonly;
	if (bdev_check_geometry(p->block_size, p->block_size, err, errlen))
		return -EINVAL;

	if (stat(p->path, &st) < 0) {
		rc = -errno;
		if (rc != -ENOENT || !p->create) {
			snprintf(err, errlen, "cannot open %s: %s", p->path, strerror(-rc));
			return rc;
		}
		rc = bdev_create_file(p, err, errlen);
		if (rc)
			return rc;
		b->created = true;
	}

	flags = (p->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	*direct = false;
	b->fd = -1;
	if (want_direct) {
		b->fd = open(p->path, flags | O_DIRECT);
		if (b->fd >= 0) {
			*direct = true;
		} else if (errno == EINVAL) {
			qb_log(LOG_WARNING, "%s does not support O_DIRECT; using buffered I/O",
			       p->path);
		} else {
			rc = -errno;
			snprintf(err, errlen, "cannot open %s: %s", p->path, strerror(-rc));
			return rc;
		}
	}
	if (b->fd < 0) {
		b->fd = open(p->path, flags);
		if (b->fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot open %s: %s", p->path, strerror(-rc));
			return rc;
		}
	}
	if (fstat(b->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", p->path, strerror(-rc));
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		rc = bdev_probe_blockdev(b, &st, err, errlen);
		if (rc)
			goto err_close;
	} else if (S_ISREG(st.st_mode)) {
		bdev_probe_file(b, &st);
	} else {
		snprintf(err, errlen, "%s is neither a regular file nor a block device", p->path);
		rc = -EINVAL;
		goto err_close;
	}

	avail = b->size;
	if (p->size) {
		if (p->size > avail) {
			snprintf(err, errlen, "%s holds %llu bytes, less than the requested %llu",
				 p->path, (unsigned long long)avail, (unsigned long long)p->size);
			rc = -EINVAL;
			goto err_close;
		}
		b->size = p->size;
	}
	rc = bdev_check_geometry(b->block_size, b->size, err, errlen);
	if (rc)
		goto err_close;
	return 0;

err_close:
	close(b->fd);
	b->fd = -1;
	return rc;
}

int bdev_fd_resize(struct bdev *b, uint64_t size, bool create, uint64_t *bytes, char *err, size_t errlen)
{
	struct stat st;
	uint64_t avail;
	int rc;

	if (fstat(b->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", b->path, strerror(-rc));
		return rc;
	}
	/* the path must still name what is open: an image replaced under the
	 * same name (renamed over it) is another device, which a reload that
	 * reopens the LUN would take, not this one grown */
	struct stat now;
	if (stat(b->path, &now) < 0 || (S_ISBLK(st.st_mode) ? now.st_rdev != st.st_rdev :
					 now.st_dev != st.st_dev || now.st_ino != st.st_ino)) {
		snprintf(err, errlen, "%s no longer names the %s this LUN has open (replaced or removed): not "
			 "resized", b->path, S_ISBLK(st.st_mode) ? "device" : "file");
		return -ESTALE;
	}
	if (S_ISBLK(st.st_mode)) {
		if ((rc = bdev_blockdev_bytes(b, &avail, err, errlen)) < 0)
			return rc;
	} else {
		avail = (uint64_t)st.st_size;
	}
	uint64_t want = size ? size : avail;
	rc = bdev_check_geometry(b->block_size, want, err, errlen);
	if (rc)
		return rc;
	if (want > avail) {
		if (!create || !S_ISREG(st.st_mode) || b->readonly) {
			snprintf(err, errlen, "%s holds %llu bytes, less than the requested %llu%s", b->path,
				 (unsigned long long)avail, (unsigned long long)want,
				 S_ISREG(st.st_mode) && !b->readonly ? " (with create: yes the file grows)" : "");
			return -EINVAL;
		}
		if (ftruncate(b->fd, (off_t)want) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot grow %s to %llu bytes: %s", b->path, (unsigned long long)want,
				 strerror(-rc));
			return rc;
		}
		qb_log(LOG_NOTICE, "bdev: grew %s from %llu to %llu bytes (sparse)", b->path,
		       (unsigned long long)avail, (unsigned long long)want);
	}
	*bytes = want;
	return 0;
}

int bdev_resize_prepare(struct bdev *b, uint64_t size, bool create, uint64_t *bytes, char *err, size_t errlen)
{
	if (!b->ops->resize) {
		snprintf(err, errlen, "a %s device cannot change size while it is open", b->ops->name);
		return -ENOTSUP;
	}
	return b->ops->resize(b, size, create, bytes, err, errlen);
}

uint64_t bdev_extent(struct bdev *b)
{
	uint64_t ext = atomic_load(&b->size), file;
	struct stat st;

	/* a plain file backend only: a stacked device (repl's wrapper holds a
	 * copy of the lower descriptor) is bounded by what it stacks on */
	if (b->ops->resize != bdev_fd_resize || b->fd < 0 || b->is_blockdev || fstat(b->fd, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return ext;
	file = (uint64_t)st.st_size / b->block_size * b->block_size;
	return file > ext ? file : ext;
}

void bdev_set_size(struct bdev *b, uint64_t bytes)
{
	atomic_store_explicit(&b->size, bytes, memory_order_release);
}

/* Stacking hook for replicated LUNs (repl/ installs it at start-up). */
static bdev_wrap_fn bdev_wrapper;

struct bdev *bdev_open(const struct bdev_params *p, char *err, size_t errlen)
{
	const struct bdev_ops *ops = NULL;
	struct bdev_params params;
	struct bdev *b;
	char dummy[1];
	size_t i;

	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!p || !p->backend) {
		snprintf(err, errlen, "no backend given");
		return NULL;
	}
	for (i = 0; i < ARRAY_SIZE(bdev_backends); i++)
		if (strcmp(bdev_backends[i]->name, p->backend) == 0)
			ops = bdev_backends[i];
	if (!ops) {
		snprintf(err, errlen, "unknown backend '%s' (blockio, fileio or null)", p->backend);
		return NULL;
	}
	params = *p;
	if (params.block_size == 0)
		params.block_size = 512;

	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&b->sync_lock, NULL);
	b->ops = ops;
	b->fd = -1;
	if (ops->open(b, &params, err, errlen) < 0) {
		if (!err[0])
			snprintf(err, errlen, "cannot open backend %s", ops->name);
		qb_log(LOG_ERR, "bdev %s: %s", ops->name, err);
		free(b);
		return NULL;
	}
	qb_log(LOG_INFO, "bdev %s %s: %llu bytes, block %u/%u%s%s%s", ops->name, b->path,
	       (unsigned long long)b->size, b->block_size, b->phys_block_size,
	       b->readonly ? ", readonly" : "", b->can_unmap ? ", unmap" : "",
	       b->rotational ? ", rotational" : "");
	if (params.replicated) {
		struct bdev *w;

		if (!bdev_wrapper) {
			snprintf(err, errlen, "%s is replicated but replication is not configured", b->path);
			bdev_close(b);
			return NULL;
		}
		w = bdev_wrapper(b, &params, err, errlen);
		if (!w) {
			bdev_close(b);
			return NULL;
		}
		return w;
	}
	return b;
}

void bdev_set_wrapper(bdev_wrap_fn fn)
{
	bdev_wrapper = fn;
}

bool bdev_carries_state(const struct bdev *b)
{
	return b && b->ops && b->ops->state_attach;
}

int bdev_state_attach(struct bdev *b, const struct bdev_state_handler *h, void *arg)
{
	return bdev_carries_state(b) ? b->ops->state_attach(b, h, arg) : -1;
}

bool bdev_state_writable(struct bdev *b)
{
	return bdev_carries_state(b) && b->ops->state_writable && b->ops->state_writable(b);
}

void bdev_close(struct bdev *b)
{
	if (!b)
		return;
	if (b->ops && b->ops->close)
		b->ops->close(b);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

/* ----------------------------------------------------- blocking I/O */

static pthread_once_t bdev_zero_once = PTHREAD_ONCE_INIT;
static void *bdev_zero_buf;

static void bdev_zero_init(void)
{
	if (posix_memalign(&bdev_zero_buf, 4096, BDEV_ZERO_BUF_SIZE) == 0)
		memset(bdev_zero_buf, 0, BDEV_ZERO_BUF_SIZE);
	else
		bdev_zero_buf = NULL;
}

static int bdev_xfer_status(ssize_t n, uint64_t len)
{
	if (n < 0)
		return -errno;
	return (uint64_t)n == len ? 0 : -EIO;
}

static int bdev_write_zero_loop(struct bdev *b, uint64_t off, uint64_t len)
{
	pthread_once(&bdev_zero_once, bdev_zero_init);
	if (!bdev_zero_buf)
		return -ENOMEM;
	while (len) {
		size_t chunk = len < BDEV_ZERO_BUF_SIZE ? (size_t)len : BDEV_ZERO_BUF_SIZE;
		ssize_t n = pwrite(b->fd, bdev_zero_buf, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int bdev_sync_write_zeroes(struct bdev *b, uint64_t off, uint64_t len)
{
	int rc;

	if (b->is_blockdev) {
		uint64_t range[2] = { off, len };

		rc = ioctl(b->fd, BLKZEROOUT, range) < 0 ? -errno : 0;
	} else {
		rc = fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			       (off_t)len) < 0 ? -errno : 0;
	}
	if (rc == -EOPNOTSUPP || rc == -ENOTTY || rc == -ENOSYS)
		rc = bdev_write_zero_loop(b, off, len);
	return rc;
}

static int bdev_sync_unmap(struct bdev *b, uint64_t off, uint64_t len)
{
	if (b->is_blockdev) {
		uint64_t range[2] = { off, len };

		return ioctl(b->fd, BLKDISCARD, range) < 0 ? -errno : 0;
	}
	return fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			 (off_t)len) < 0 ? -errno : 0;
}

static int bdev_no_pwritev2_dsync;

/* A failed flush is sticky. Linux reports a writeback error once per open
 * file: the next fdatasync after an EIO returns 0 although the pages it lost
 * are gone (the "fsyncgate" lesson). A later SYNCHRONIZE CACHE answered GOOD
 * would then acknowledge writes that never reached the disk, so every flush
 * of this device fails from the first failure on, until it is reopened (a
 * restart, or a reload that removes and adds the LUN). */
static int sync_failed(struct bdev *b, int err, const char *what)
{
	if (err != -EIO && err != -ENOSPC && err != -EDQUOT)
		return err;
	if (!__atomic_exchange_n(&b->sync_error, err, __ATOMIC_SEQ_CST))
		qb_log(LOG_CRIT, "bdev %s: %s failed (%s): writes acknowledged before may be lost; every later "
		       "flush of this LUN fails until it is reopened (restart, or remove and add it)", b->path, what,
		       strerror(-err));
	return err;
}

/* Flushes of one device run one at a time: Linux reports a writeback error
 * to one fdatasync of the file only, so a second one running at the same
 * time could return 0 before the first had made the error sticky (review,
 * session 12). A FUA write through the page cache (RWF_DSYNC) can still take
 * the error in that way; it is not serialised (every write of a
 * write-through fileio LUN is one). */
static int bdev_fdatasync(struct bdev *b)
{
	int e;

	pthread_mutex_lock(&b->sync_lock);
	e = __atomic_load_n(&b->sync_error, __ATOMIC_SEQ_CST);
	if (!e && fdatasync(b->fd) < 0)
		e = sync_failed(b, -errno, "flush");
	pthread_mutex_unlock(&b->sync_lock);
	return e;
}

/* After a short vectored write (n of len bytes done): the rest, element by
 * element, so that the call that cannot go on says why. A file system that
 * fills up writes what fits and reports ENOSPC only to the next call, which
 * must reach the initiator as SPACE ALLOCATION FAILED, not MEDIUM ERROR. */
static int write_rest(int fd, const struct iovec *iov, int cnt, off_t off, size_t done, size_t len)
{
	size_t pos = 0;

	for (int i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len;
		if (pos + l <= done) {
			pos += l;
			continue;
		}
		const char *p = (const char *)iov[i].iov_base + (done - pos);
		size_t left = l - (done - pos);
		while (left) {
			ssize_t n = pwrite(fd, p, left, off + (off_t)done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO;
			p += n;
			left -= (size_t)n;
			done += (size_t)n;
		}
		pos += l;
	}
	return done == len ? 0 : -EIO;
}

static int bdev_sync_write(struct bdev *b, struct bdev_io *io)
{
	ssize_t n;
	int rc;

	/* Through the page cache RWF_DSYNC runs the file's sync, which reports
	 * (once) an earlier write's lost writeback as this write's EIO: sticky
	 * like a failed flush. Its ENOSPC is either this write's own (no space
	 * for the data: nothing lost, SPACE ALLOCATION FAILED) or the sync's (a
	 * thin or network file system that ran out at writeback, where an
	 * earlier acknowledged write may have been dropped, and the next flush
	 * would return 0). The same write again without RWF_DSYNC tells them
	 * apart: it fails again only in the first case. (A FUA write taking the
	 * flush's lock instead would serialise every write of a write-through
	 * fileio LUN.) */
	if ((io->flags & BDEV_IO_F_FUA) && !__atomic_load_n(&bdev_no_pwritev2_dsync, __ATOMIC_RELAXED)) {
		n = pwritev2(b->fd, io->iov, io->iovcnt, (off_t)io->offset, RWF_DSYNC);
		if (n < 0 && b->page_cache && errno == EIO)
			return sync_failed(b, -EIO, "a FUA write (RWF_DSYNC, it may report an earlier write's loss)");
		if (n < 0 && b->page_cache && (errno == ENOSPC || errno == EDQUOT)) {
			int err = -errno;
			n = pwritev(b->fd, io->iov, io->iovcnt, (off_t)io->offset);
			if (n < 0 || (uint64_t)n < io->len)
				return n < 0 ? -errno : err;    /* its own: no space for it */
			return sync_failed(b, err, "a FUA write's sync (RWF_DSYNC, it may report an earlier write's loss)");
		}
		if (n >= 0 && (uint64_t)n < io->len) {
			/* the rest without RWF_DSYNC, then one flush for the whole write */
			rc = write_rest(b->fd, io->iov, io->iovcnt, (off_t)io->offset, (size_t)n, io->len);
			return rc ? rc : bdev_fdatasync(b);
		}
		if (n >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS))
			return bdev_xfer_status(n, io->len);
		__atomic_store_n(&bdev_no_pwritev2_dsync, 1, __ATOMIC_RELAXED);
		qb_log(LOG_WARNING, "pwritev2(RWF_DSYNC) unsupported; FUA writes use fdatasync");
	}
	n = pwritev(b->fd, io->iov, io->iovcnt, (off_t)io->offset);
	if (n >= 0 && (uint64_t)n < io->len)
		rc = write_rest(b->fd, io->iov, io->iovcnt, (off_t)io->offset, (size_t)n, io->len);
	else
		rc = bdev_xfer_status(n, io->len);
	if (rc == 0 && (io->flags & BDEV_IO_F_FUA))
		rc = bdev_fdatasync(b);
	return rc;
}

int bdev_sync_io(struct bdev *b, struct bdev_io *io)
{
	if (io->iocb.data == BDEV_STAGE_FLUSH)
		return bdev_fdatasync(b);
	switch (io->type) {
	case BDEV_IO_READ:
		return bdev_xfer_status(preadv(b->fd, io->iov, io->iovcnt, (off_t)io->offset),
					io->len);
	case BDEV_IO_WRITE:
		return bdev_sync_write(b, io);
	case BDEV_IO_FLUSH:
		return bdev_fdatasync(b);
	case BDEV_IO_UNMAP:
		return bdev_sync_unmap(b, io->offset, io->len);
	case BDEV_IO_WRITE_ZEROES:
		return bdev_sync_write_zeroes(b, io->offset, io->len);
	case BDEV_IO_STATE:             /* never reaches a backend (bdev_check_io) */
		break;
	}
	return -EINVAL;
}

/* ----------------------------------------------------- per-reactor state */

static void bdev_work(void *arg)
{
	struct bdev_io *io = arg;

	io->status = bdev_sync_io(io->bdev, io);
}

static void bdev_work_done(void *arg)
{
	struct bdev_io *io = arg;

	io->cb(io);
}

static void bdev_defer_push(struct bdev_reactor *st, struct bdev_io *io)
{
	io->next = NULL;
	if (st->defer_tail)
		st->defer_tail->next = io;
	else
		st->defer_head = io;
	st->defer_tail = io;
}

/* Move deferred I/Os to the work queue while it has room. */
static void bdev_defer_retry(struct bdev_reactor *st)
{
	struct bdev_io *io;
	int rc;

	while ((io = st->defer_head)) {
		rc = workq_submit(io->owner, bdev_work, bdev_work_done, io);
		if (rc == -EAGAIN)
			return;
		st->defer_head = io->next;
		if (!st->defer_head)
			st->defer_tail = NULL;
		io->next = NULL;
		if (rc)
			bdev_complete_later(io, rc);
	}
}

static int bdev_defer_timer(struct reactor *r, void *arg)
{
	struct bdev_reactor *st = arg;

	bdev_defer_retry(st);
	if (st->defer_head)
		return BDEV_DEFER_RETRY_MS;
	st->defer_timer = NULL;
	return -1;
}

void bdev_workq_submit(struct bdev_io *io, void *stage)
{
	struct bdev_reactor *st = reactor_slot_get(io->owner, REACTOR_SLOT_BDEV);
	int rc;

	io->iocb.data = stage;
	io->next = NULL;
	if (st->defer_head) {
		bdev_defer_push(st, io);    /* keep submission order */
		return;
	}
	rc = workq_submit(io->owner, bdev_work, bdev_work_done, io);
	if (rc == 0)
		return;
	if (rc != -EAGAIN) {
		qb_log(LOG_ERR, "bdev %s: cannot queue work: %s", io->bdev->path, strerror(-rc));
		bdev_complete_later(io, rc);
		return;
	}
	bdev_defer_push(st, io);
	if (!st->defer_timer)
		st->defer_timer = reactor_timer_add(st->r, BDEV_DEFER_RETRY_MS, bdev_defer_timer, st);
}

/* Runs queued completions from the reactor's mailbox, i.e. in the event phase
 * of the loop: whatever the callbacks produce (socket writes, new I/O) is then
 * flushed by the idle hooks before the reactor sleeps. */
static void bdev_drain(void *arg)
{
	struct bdev_reactor *st = reactor_slot_get(arg, REACTOR_SLOT_BDEV);
	struct bdev_io *io, *list;

	if (!st)
		return;
	st->drain_posted = false;
	list = st->done_head;
	st->done_head = st->done_tail = NULL;
	while ((io = list)) {
		list = io->next;
		io->next = NULL;
		io->cb(io);
	}
}

void bdev_complete_later(struct bdev_io *io, int status)
{
	struct bdev_reactor *st = reactor_slot_get(io->owner, REACTOR_SLOT_BDEV);

	io->status = status;
	io->next = NULL;
	if (st->done_tail)
		st->done_tail->next = io;
	else
		st->done_head = io;
	st->done_tail = io;
	if (!st->drain_posted) {
		st->drain_posted = true;
		reactor_post(st->r, bdev_drain, st->r);
	}
}

/* Once per reactor iteration before it sleeps: retry deferred work, flush the
 * batch of aio submissions queued during this iteration. */
static void bdev_idle(void *arg)
{
	struct bdev_reactor *st = reactor_slot_get(arg, REACTOR_SLOT_BDEV);

	if (!st)
		return;
	if (st->defer_head)
		bdev_defer_retry(st);
	if (st->aio)
		bdev_blockio_idle(st);
}

/* Right after epoll_wait: completions already in the aio ring (no system call). */
static void bdev_wake(void *arg)
{
	struct bdev_reactor *st = reactor_slot_get(arg, REACTOR_SLOT_BDEV);

	if (st && st->aio)
		bdev_blockio_reap_ring(st);
}

/* Exit hook: release what bdev_reactor_fini left (the state itself). */
static void bdev_reactor_exit(void *arg)
{
	struct reactor *r = arg;

	bdev_reactor_fini(r);
	free(reactor_slot_get(r, REACTOR_SLOT_BDEV));
	reactor_slot_set(r, REACTOR_SLOT_BDEV, NULL);
}

struct bdev_reactor *bdev_reactor_get(struct reactor *r)
{
	struct bdev_reactor *st = reactor_slot_get(r, REACTOR_SLOT_BDEV);

	if (st)
		return st;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->r = r;
	if (!st->hooked) {
		/* Hooks stay registered for the reactor's life; the state may be
		 * re-created after bdev_reactor_fini (tests). */
		if (reactor_add_idle_hook(r, bdev_idle, r) < 0 ||
		    reactor_add_wake_hook(r, bdev_wake, r) < 0 ||
		    reactor_add_exit_hook(r, bdev_reactor_exit, r) < 0) {
			free(st);
			return NULL;
		}
		st->hooked = true;
	}
	reactor_slot_set(r, REACTOR_SLOT_BDEV, st);
	return st;
}

void bdev_reactor_fini(struct reactor *r)
{
	struct bdev_reactor *st = reactor_slot_get(r, REACTOR_SLOT_BDEV);
	struct bdev_io *io;
	int round;

	if (!st)
		return;
	/* Hand back what has not reached the kernel; callbacks may queue more. */
	for (round = 0; round < 16 && (st->done_head || st->defer_head); round++) {
		while ((io = st->defer_head)) {
			st->defer_head = io->next;
			if (!st->defer_head)
				st->defer_tail = NULL;
			bdev_complete_later(io, -ECANCELED);
		}
		bdev_drain(r);
	}
	if (st->aio)
		bdev_blockio_reactor_fini(st);
	if (st->defer_timer)
		reactor_timer_cancel(r, st->defer_timer);
	st->defer_timer = NULL;
	/* The (now empty) state stays in the slot with its hooks; the exit hook
	 * frees it, and blockio re-creates its aio context if used again. */
}

/* ----------------------------------------------------------- submit */

static int bdev_check_io(struct bdev *b, struct bdev_io *io)
{
	uint64_t total = 0;
	int i;

	if (!b || !b->ops)
		return -ENODEV;
	switch (io->type) {
	case BDEV_IO_FLUSH:
		return 0;
	case BDEV_IO_READ:
	case BDEV_IO_WRITE:
		if (io->iovcnt < 0 || io->iovcnt > IOV_MAX || (io->iovcnt && !io->iov))
			return -EINVAL;
		for (i = 0; i < io->iovcnt; i++)
			total += io->iov[i].iov_len;
		if (total != io->len)
			return -EINVAL;
		break;
	case BDEV_IO_UNMAP:
		if (!b->readonly && !b->can_unmap)
			return -EOPNOTSUPP;
		break;
	case BDEV_IO_WRITE_ZEROES:
		break;
	case BDEV_IO_STATE:
		if (!bdev_carries_state(b))
			return -EOPNOTSUPP;
		if (io->iovcnt != 1 || !io->iov || io->iov[0].iov_len != io->len || io->len == 0)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
	if (io->type != BDEV_IO_READ && b->readonly)
		return -EROFS;
	if (io->offset % b->block_size || io->len % b->block_size)
		return -EINVAL;
	uint64_t size = atomic_load_explicit(&b->size, memory_order_acquire);
	if (io->offset > size || io->len > size - io->offset)
		return -ERANGE;
	return 0;
}

void bdev_submit(struct bdev *b, struct bdev_io *io)
{
	struct bdev_reactor *st;
	int rc;

	if (!io)
		return;
	if (!io->cb) {
		qb_log(LOG_ERR, "bdev_submit: I/O without completion callback dropped");
		return;
	}
	io->bdev = b;
	io->next = NULL;
	io->status = 0;
	io->iocb.data = BDEV_STAGE_IO;
	io->owner = reactor_self();
	st = io->owner ? bdev_reactor_get(io->owner) : NULL;
	if (!st) {
		/* No reactor to complete on: the only way to answer is now. */
		qb_log(LOG_ERR, "bdev_submit: %s", io->owner ? "out of memory" :
		       "called outside a reactor thread");
		io->status = io->owner ? -ENOMEM : -EINVAL;
		io->cb(io);
		return;
	}
	rc = bdev_check_io(b, io);
	if (rc) {
		qb_log(LOG_DEBUG, "bdev %s: rejected I/O type %d offset %llu len %llu: %s",
		       b ? b->path : "(null)", (int)io->type, (unsigned long long)io->offset,
		       (unsigned long long)io->len, strerror(-rc));
		bdev_complete_later(io, rc);
		return;
	}
	if (io->len == 0 && io->type != BDEV_IO_FLUSH) {
		bdev_complete_later(io, 0);
		return;
	}
	b->ops->submit(b, io);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backing stores: block ranges in, completions out. The SCSI layer (and later
 * repl/) hands a struct bdev_io to bdev_submit(); the backend completes it by
 * calling io->cb on the same reactor thread, never from inside bdev_submit().
 * Backends know nothing of SCSI: cache policy (when to set FUA, whether a flush
 * is a no-op) belongs to the LUN. */
#ifndef TANDEM_BDEV_H
#define TANDEM_BDEV_H
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/uio.h>
#include <libaio.h>

enum bdev_io_type {
	BDEV_IO_READ = 0,
	BDEV_IO_WRITE,
	BDEV_IO_FLUSH,          /* make every completed write durable (fdatasync) */
	BDEV_IO_UNMAP,          /* deallocate [offset, offset+len): punch hole / BLKDISCARD */
	BDEV_IO_WRITE_ZEROES,   /* make the range read back as zeroes */
	/* carry the user's state record (iov: the record, len: its length,
	 * offset: its sequence number) to the device's other copy; only on a
	 * device that carries state (bdev_carries_state), see below */
	BDEV_IO_STATE,
};

#define BDEV_IO_F_FUA 0x1

/* Status of an I/O refused because this node does not serve the device right
 * now (replication Secondary, role change in progress): retryable, not a
 * media error. The SCSI layer answers NOT READY, ASYMMETRIC ACCESS STATE
 * TRANSITION, which initiators retry on this or another path. */
#define BDEV_E_NOT_ACTIVE ESTALE       /* write: durable before completion (RWF_DSYNC) */

struct bdev;

struct bdev_io {
	enum bdev_io_type type;
	unsigned flags;
	uint64_t offset;            /* bytes, multiple of the logical block size */
	uint64_t len;               /* bytes */
	struct iovec *iov;          /* data for READ/WRITE; buffers 4096-aligned */
	int iovcnt;
	int status;                 /* on completion: 0 or -errno (short transfer = -EIO) */
	void (*cb)(struct bdev_io *io);
	void *cb_arg;
	/* private to the backend */
	struct bdev *bdev;
	struct bdev_io *next;
	struct reactor *owner;
	struct iocb iocb;
};

/* Fill io for one request on [offset, offset+len) with one buffer (NULL for
 * requests that carry no data: flush, unmap, write zeroes); iov is the
 * caller's storage for that buffer's iovec, which must live as long as io.
 * Everything else in io starts zeroed. */
static inline void bdev_io_prep(struct bdev_io *io, struct iovec *iov, enum bdev_io_type type, unsigned flags,
				uint64_t offset, void *buf, uint64_t len, void (*cb)(struct bdev_io *), void *cb_arg)
{
	*io = (struct bdev_io){ .type = type, .flags = flags, .offset = offset, .len = len, .cb = cb, .cb_arg = cb_arg };
	if (buf) {
		iov->iov_base = buf;
		iov->iov_len = len;
		io->iov = iov;
		io->iovcnt = 1;
	}
}

struct bdev_params {
	const char *backend;        /* "blockio", "fileio", "null" */
	const char *path;           /* device or file; ignored by null */
	uint64_t size;              /* bytes; 0 = existing size; for null the device size */
	bool create;                /* create a sparse file of `size` if path is missing */
	bool readonly;
	uint32_t block_size;        /* logical block size the LUN exposes (512/4096) */
	/* Stacking: a replicated LUN's backend is wrapped by the function installed
	 * with bdev_set_wrapper (repl/). volume_id names the LUN identically on
	 * both nodes (its unit serial). */
	bool replicated;
	const char *volume_id;
};

/* Installed by repl_init: wraps the opened lower device of a replicated LUN.
 * On failure it returns NULL with err set and leaves `lower` to the caller. */
typedef struct bdev *(*bdev_wrap_fn)(struct bdev *lower, const struct bdev_params *p, char *err, size_t errlen);
void bdev_set_wrapper(bdev_wrap_fn fn);

struct bdev {
	const struct bdev_ops *ops;
	char path[4096];
	int fd;
	_Atomic uint64_t size;      /* bytes, multiple of block_size; bdev_set_size changes it */
	uint32_t block_size;
	uint32_t phys_block_size;   /* from the device (BLKPBSZGET) or 4096 */
	bool readonly;
	bool is_blockdev;
	bool rotational;            /* from /sys/block/X/queue/rotational; files: false */
	bool can_unmap;             /* punch hole / BLKDISCARD works */
	bool unmap_zeroes;          /* unmapped ranges read back as zeroes (LBPRZ) */
	bool page_cache;            /* I/O goes through the host page cache (fileio, or blockio
	                             * without O_DIRECT): a read may see half of a concurrent write */
	bool created;               /* this open created the (sparse, zeroed) backing file */
	int sync_error;             /* first failed flush (-errno), sticky until the device is
	                             * reopened: see bdev_fdatasync (atomic access) */
	pthread_mutex_t sync_lock;  /* one fdatasync at a time (bdev_fdatasync); zeroed = ready */
	void *priv;
};

/* A device whose data has another copy elsewhere (repl/'s wrapper) also
 * carries a small opaque record of its user, the SCSI layer's persistent
 * reservations: the user writes it with BDEV_IO_STATE (completion = the other
 * copy holds it), and the device hands records that arrive from the other
 * copy to these callbacks. Sequence numbers order the records of one LUN:
 * `install` keeps only a newer one unless `force` (the other copy pushes its
 * whole record when the link comes up). Callbacks run on a device thread and
 * must not call back into the device. */
struct bdev_state_handler {
	int (*install)(void *arg, const uint8_t *rec, size_t len, uint64_t seq, bool force);  /* 0 or -1 */
	/* the user's current record, malloc'd, and its sequence number; length or
	 * 0. level: what the other copy reads (BDEV_STATE_LEVEL_*) */
	size_t (*snapshot)(void *arg, uint8_t **rec, uint64_t *seq, unsigned level);
};
/* Record levels: reservations only (a peer of replication protocol 2), and
 * with the LUN's mode parameters (protocol 3; what BDEV_IO_STATE carries). */
enum { BDEV_STATE_LEVEL_PR = 1, BDEV_STATE_LEVEL_MODE = 2 };

struct bdev_ops {
	const char *name;
	int (*open)(struct bdev *b, const struct bdev_params *p, char *err, size_t errlen);
	void (*close)(struct bdev *b);
	void (*submit)(struct bdev *b, struct bdev_io *io);
	/* devices that carry state (NULL for plain backends): */
	int (*state_attach)(struct bdev *b, const struct bdev_state_handler *h, void *arg);
	bool (*state_writable)(struct bdev *b);
	/* online size change (NULL: the device cannot change size while open,
	 * e.g. repl/'s wrapper, whose metadata describes one size) */
	int (*resize)(struct bdev *b, uint64_t size, bool create, uint64_t *bytes, char *err, size_t errlen);
};

/* Open a backend by name; NULL with a message in err on failure. */
struct bdev *bdev_open(const struct bdev_params *p, char *err, size_t errlen);
void bdev_close(struct bdev *b);
/* Submit from a reactor thread; io->cb runs later on that thread. */
void bdev_submit(struct bdev *b, struct bdev_io *io);
/* Online size change, in two steps so that the caller orders the device's
 * bound against its own (grow: the device first; shrink: the caller first).
 * bdev_resize_prepare finds the size the open device can take now: `size`
 * bytes, or with size 0 what the file or block device holds (a file or
 * logical volume grown since the open). A regular file smaller than `size`
 * grows (sparse) when `create`; nothing ever shrinks a file or discards data.
 * Any thread; b->size does not change. 0 with *bytes set, or -errno with a
 * message in err (-ENOTSUP: this kind of device cannot change size online).
 * bdev_set_size then publishes the new bound (a multiple of the block size):
 * a bound on the requests the device takes, never more than it holds. */
int bdev_resize_prepare(struct bdev *b, uint64_t size, bool create, uint64_t *bytes, char *err, size_t errlen);
void bdev_set_size(struct bdev *b, uint64_t bytes);
/* Bytes (whole blocks) the device may hold data in: its bound (which a
 * shrink of the LUN leaves where it was), or a plain backing file's whole
 * size when that is more (a LUN configured below its file). Any thread. */
uint64_t bdev_extent(struct bdev *b);
/* Carried state (see struct bdev_state_handler). bdev_state_attach (h NULL:
 * detach; it returns only when no callback runs any more) delivers the newest
 * record the device holds at once; 0 or -1. bdev_state_writable: a
 * BDEV_IO_STATE submitted now would reach the other copy (false on a
 * replication Secondary: the record is the Primary's to change). */
bool bdev_carries_state(const struct bdev *b);
int bdev_state_attach(struct bdev *b, const struct bdev_state_handler *h, void *arg);
bool bdev_state_writable(struct bdev *b);
/* Provisioning state of [offset, offset+len) (bytes, block multiples): sets
 * *mapped for the run that starts at offset and *run to its length (a block
 * multiple, 0 < *run <= len); a block only partly allocated counts as mapped.
 * Sparse files answer with lseek(SEEK_DATA/SEEK_HOLE); other backends report
 * everything mapped. Synchronous and cheap (lseek only): any thread.
 * Returns 0 or -errno (then everything counts as mapped). (lba_status.c) */
int bdev_get_lba_status(struct bdev *b, uint64_t offset, uint64_t len, bool *mapped, uint64_t *run);
/* Release the calling reactor's bdev state (aio context, eventfd). Call on that
 * reactor's thread (or before it runs/after it stopped) with no I/O in flight,
 * before reactor_destroy(). Harmless when the reactor never did bdev I/O. */
struct reactor;
void bdev_reactor_fini(struct reactor *r);

/* Implemented by each backend file. */
extern const struct bdev_ops bdev_blockio_ops;
extern const struct bdev_ops bdev_fileio_ops;
extern const struct bdev_ops bdev_null_ops;
#endif

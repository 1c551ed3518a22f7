/* SPDX-License-Identifier: GPL-2.0-or-later */
/* WRITE SAME (10) and (16) (SBC-3 5.42, 5.43): one block of data-out (or none
 * with NDOB: zeroes) replicated over a range, under the LUN's LBA range lock.
 * An all-zero block becomes one deallocation (UNMAP bit, LBPRZ=1) or one
 * write-zeroes request; any other pattern is written from a bounded buffer
 * (at most WS_CHUNK bytes, WS_INFLIGHT requests in flight), so the memory a
 * command uses does not grow with its length. Each chunk takes its FUA from
 * the cache mode when it is issued, and a request that went without FUA and
 * completed with the cache off (MODE SELECT WCE=0 while it was in the device,
 * or zeroing on a write-through LUN) is flushed before GOOD, as WRITE does. */
#include <string.h>
#include "util/be.h"
#include "util/bufpool.h"
#include "scsi/scsi_internal.h"
#include "scsi/task_bio.h"

#define WS_CHUNK (1u << 20)
#define WS_INFLIGHT 4

struct ws_ctx;
struct ws_io {
	struct bdev_io io;
	struct iovec iov;
	struct ws_ctx *ctx;
};

struct ws_ctx {
	struct scsi_task *t;
	uint8_t *pat;                   /* pattern buffer, pat_len bytes, or NULL */
	size_t pat_len;
	uint64_t next, end;             /* byte offsets still to issue */
	enum bdev_io_type type;         /* WRITE, WRITE_ZEROES or UNMAP */
	bool flush;                     /* a completed request needs a flush */
	unsigned inflight;
	int err;
	struct ws_io io[WS_INFLIGHT];
};

_Static_assert(sizeof(struct ws_ctx) <= 4096, "ws_ctx fits the smallest buffer class");

static void ws_io_done(struct bdev_io *io);

static bool ws_issue(struct ws_ctx *c, struct ws_io *s)
{
	struct scsi_task *t = c->t;
	bool w = c->type == BDEV_IO_WRITE;   /* only writes carry the pattern and FUA */
	unsigned flags = w ? scsi_lun_write_flags(t->lu, false) : 0;
	uint64_t len;

	if (c->next >= c->end || c->err)
		return false;
	len = c->end - c->next;
	if (w && len > c->pat_len)
		len = c->pat_len;
	bdev_io_prep(&s->io, &s->iov, c->type, flags, c->next, w ? c->pat : NULL, len, ws_io_done, s);
	s->ctx = c;
	c->next += len;
	c->inflight++;
	bdev_submit(t->lu->bdev, &s->io);
	return true;
}

static void ws_finish(struct ws_ctx *c)
{
	struct scsi_task *t = c->t;

	if (!c->err && c->flush) {
		/* the cache is off and something went without FUA (sbc.c) */
		c->flush = false;
		c->type = BDEV_IO_FLUSH;
		bdev_io_prep(&c->io[0].io, &c->io[0].iov, BDEV_IO_FLUSH, 0, 0, NULL, 0, ws_io_done, &c->io[0]);
		c->io[0].ctx = c;
		c->inflight = 1;
		bdev_submit(t->lu->bdev, &c->io[0].io);
		return;
	}
	if (c->err)
		scsi_sbc_io_error(t, true, c->err);
	else
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	if (c->pat)
		buf_free(c->pat, c->pat_len);
	buf_free(c, sizeof(*c));
	t->priv = NULL;
	scsi_range_done(t);
}

static void ws_io_done(struct bdev_io *io)
{
	struct ws_io *s = io->cb_arg;
	struct ws_ctx *c = s->ctx;
	struct scsi_lun *lu = c->t->lu;

	c->inflight--;
	if (io->status) {
		if (!c->err)
			c->err = io->status;
	} else {
		if (io->type == BDEV_IO_WRITE)
			atomic_fetch_add_explicit(&lu->write_bytes, io->len, memory_order_relaxed);
		if (scsi_write_needs_flush(io, lu))
			c->flush = true;
	}
	if (io->type != BDEV_IO_FLUSH && ws_issue(c, s))
		return;
	if (c->inflight == 0)
		ws_finish(c);
}

/* Runs with the range held; t->state holds the WRITE SAME flags below. */
#define WS_F_UNMAP 0x1
#define WS_F_ZERO 0x2

static int ws_locked(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct ws_ctx *c = buf_alloc(sizeof(*c));
	uint64_t total = (uint64_t)t->nblocks << lu->block_shift;

	if (!c)
		goto busy;
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->next = t->lba << lu->block_shift;
	c->end = c->next + total;
	if (t->state & WS_F_ZERO) {
		/* SBC-3 4.7.3.4: with UNMAP=1 and LBPRZ=1 deallocating gives the
		 * same read data; otherwise the blocks stay mapped. */
		bool dealloc = (t->state & WS_F_UNMAP) && scsi_lbp_can_unmap(lu) && lu->bdev->unmap_zeroes;
		c->type = dealloc ? BDEV_IO_UNMAP : BDEV_IO_WRITE_ZEROES;
	} else {
		c->type = BDEV_IO_WRITE;
		c->pat_len = total < WS_CHUNK ? (size_t)total : WS_CHUNK;
		c->pat = buf_alloc(c->pat_len);
		if (!c->pat) {
			buf_free(c, sizeof(*c));
			goto busy;
		}
		/* replicate the block by doubling copies */
		size_t have = lu->block_size;
		memcpy(c->pat, t->buf, have);
		while (have < c->pat_len) {
			size_t n = have < c->pat_len - have ? have : c->pat_len - have;
			memcpy(c->pat + have, c->pat, n);
			have += n;
		}
	}
	t->priv = c;
	atomic_fetch_add_explicit(&lu->writes, 1, memory_order_relaxed);
	for (int i = 0; i < WS_INFLIGHT; i++)
		if (!ws_issue(c, &c->io[i]))
			break;
	return SCSI_ASYNC;
busy:
	scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
	return SCSI_DONE;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int scsi_sbc_write_same(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	const uint8_t *cdb = t->cdb;
	bool ws16 = cdb[0] == 0x93;
	uint64_t lba = ws16 ? get_be64(&cdb[2]) : get_be32(&cdb[2]);
	uint32_t n = ws16 ? get_be32(&cdb[10]) : get_be16(&cdb[7]);
	uint16_t nbyte = ws16 ? 10 : 7;
	uint8_t f = cdb[1];
	bool ndob = ws16 && (f & 0x01);

	/* Byte 1: WRPROTECT (7-5; no protection information), ANCHOR (4;
	 * ANC_SUP=0), UNMAP (3), PBDATA/LBDATA (2-1, not supported), NDOB (0,
	 * WRITE SAME(16) only; reserved in (10)). */
	if (f & 0xe0)
		return scsi_task_invalid_cdb(t, 1, 7);
	if (f & 0x10)
		return scsi_task_invalid_cdb(t, 1, 4);
	if (f & 0x06)
		return scsi_task_invalid_cdb(t, 1, (f & 0x04) ? 2 : 1);
	if (!ws16 && (f & 0x01))
		return scsi_task_invalid_cdb(t, 1, 0);
	if (cdb[ws16 ? 14 : 6] & 0xe0)
		return scsi_task_invalid_cdb(t, ws16 ? 14 : 6, 7);
	if (scsi_lun_write_protected(lu))
		return scsi_task_check(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	/* SBC-3 5.42: beyond MAXIMUM WRITE SAME LENGTH (VPD B0h) */
	if (n > scsi_lbp_max_ws_blocks(lu))
		return scsi_task_invalid_cdb(t, nbyte, -1);
	if (!scsi_lba_range_ok(lu, lba, n))
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* WSNZ=1 (VPD B0h): NUMBER OF LOGICAL BLOCKS 0 ("to the end") is
	 * refused; an LBA past the end is reported first (libiscsi 0blocks). */
	if (n == 0)
		return scsi_task_invalid_cdb(t, nbyte, -1);
	/* UNMAP=1 only where LBPWS/LBPWS10 say it is supported (VPD B2h). */
	if ((f & 0x08) && !scsi_lbp_can_unmap(lu))
		return scsi_task_invalid_cdb(t, 1, 3);
	if (ndob) {
		if (t->edtl) {
			t->xfer_len = 0;
			return scsi_task_invalid_cdb(t, 1, 0);
		}
	} else if (t->edtl != lu->block_size || scsi_task_data_out(t, lu->block_size) < lu->block_size) {
		/* exactly one logical block of data-out */
		t->data_len = 0;
		return scsi_task_invalid_cdb(t, nbyte, -1);
	}
	t->lba = lba;
	t->nblocks = n;
	t->state = ((f & 0x08) ? WS_F_UNMAP : 0) | ((ndob || all_zero(t->buf, lu->block_size)) ? WS_F_ZERO : 0);
	return scsi_range_lock(t, lba, n, ws_locked);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Block commands (SBC-3): READ CAPACITY, READ/WRITE/WRITE AND VERIFY in all
 * CDB sizes, VERIFY with byte compare, SYNCHRONIZE CACHE and PRE-FETCH. This
 * is the I/O path: decode, range check without overflow, apply the LUN's
 * cache policy and hand the task's embedded bdev_io to the backend. */
#include <string.h>
#include <errno.h>
#include "util/be.h"
#include "util/bufpool.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/task_bio.h"

/* Decoded LBA / transfer length of a READ/WRITE/VERIFY style CDB. */
struct rw_cdb {
	uint64_t lba;
	uint32_t len;                   /* blocks */
	uint8_t flags;                  /* CDB byte 1 (0 for 6-byte CDBs) */
	uint8_t len_byte;               /* where TRANSFER LENGTH starts (field pointer) */
};

static int decode_rw(struct scsi_task *t, struct rw_cdb *c)
{
	const uint8_t *cdb = t->cdb;

	*c = (struct rw_cdb){ 0 };
	switch (cdb[0]) {
	case 0x08: case 0x0a:
		/* SBC-3 5.14 / 5.38: 21-bit LBA, TRANSFER LENGTH 0 means 256 blocks */
		if (cdb[1] & 0xe0)
			return scsi_task_invalid_cdb(t, 1, 7);
		c->lba = get_be24(&cdb[1]) & 0x1fffff;
		c->len = cdb[4] ? cdb[4] : 256;
		c->flags = 0;
		c->len_byte = 4;
		return -1;
	case 0x28: case 0x2a: case 0x2e: case 0x2f: case 0x34: case 0x35:
		c->lba = get_be32(&cdb[2]);
		c->len = get_be16(&cdb[7]);
		c->flags = cdb[1];
		c->len_byte = 7;
		return -1;
	case 0xa8: case 0xaa: case 0xae: case 0xaf:
		c->lba = get_be32(&cdb[2]);
		c->len = get_be32(&cdb[6]);
		c->flags = cdb[1];
		c->len_byte = 6;
		return -1;
	case 0x88: case 0x8a: case 0x8e: case 0x8f: case 0x90: case 0x91:
		c->lba = get_be64(&cdb[2]);
		c->len = get_be32(&cdb[10]);
		c->flags = cdb[1];
		c->len_byte = 10;
		return -1;
	default:
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPCODE);
	}
}

static int lba_out_of_range(struct scsi_task *t)
{
	return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

static bool is_write_op(uint8_t op)
{
	return op == 0x0a || op == 0x2a || op == 0xaa || op == 0x8a || op == 0x2e || op == 0xae || op == 0x8e;
}

static bool is_write_verify(uint8_t op)
{
	return op == 0x2e || op == 0xae || op == 0x8e;
}

/* Map a backend error to status and sense (SBC-3 4.17, SPC-4 Annex D). */
static void io_error(struct scsi_task *t, bool write, int err)
{
	atomic_fetch_add_explicit(&t->lu->errors, 1, memory_order_relaxed);
	t->data_len = 0;
	switch (err) {
	case -ENOMEM:
	case -EAGAIN:
	case -EBUSY:
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return;
	case -ENOSPC:
	case -EDQUOT:
		if (write) {
			/* SBC-3 4.7.3.6: thin provisioning space exhausted */
			scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_DATA_PROTECT,
					     ASC_SPACE_ALLOC_FAILED_WP);
			return;
		}
		break;
	case -BDEV_E_NOT_ACTIVE:
		/* demoted under the command (replication role change) */
		scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_NOT_READY, ASC_ALUA_TRANSITIONING);
		return;
	case -EROFS:
	case -EPERM:
	case -EACCES:
		if (write) {
			scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
			return;
		}
		break;
	default:
		break;
	}
	if (write)
		scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_MEDIUM_ERROR, ASC_WRITE_ERROR);
	else
		scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
}

void scsi_sbc_io_error(struct scsi_task *t, bool write, int err)
{
	io_error(t, write, err);
}

unsigned scsi_lun_write_flags(const struct scsi_lun *lu, bool cdb_fua)
{
	if (lu->cache == TCONF_CACHE_NV)
		return 0;
	return (!atomic_load_explicit(&lu->wce, memory_order_relaxed) || cdb_fua) ? BDEV_IO_F_FUA : 0;
}

/* A write that went to the device without FUA while its LUN's write cache was
 * on, and the cache is off now (MODE SELECT WCE=0, a reload's cache change, a
 * reset): the flush that came with the change may have run before this write
 * completed, and the initiator, seeing WCE=0, never sends another. It gets a
 * flush of its own before it is acknowledged (review, session 12). Zeroing
 * and deallocation never carry FUA: on a write-through LUN they always need
 * the flush. */
bool scsi_write_needs_flush(const struct bdev_io *io, const struct scsi_lun *lu)
{
	bool write = io->type == BDEV_IO_WRITE || io->type == BDEV_IO_WRITE_ZEROES || io->type == BDEV_IO_UNMAP;

	return write && io->status == 0 && !(io->flags & BDEV_IO_F_FUA) &&
	       (scsi_lun_write_flags(lu, false) & BDEV_IO_F_FUA);
}

static void rw_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;
	bool write = io->type == BDEV_IO_WRITE || io->type == BDEV_IO_FLUSH;

	if (scsi_write_needs_flush(io, lu)) {
		scsi_task_bio_submit(t, BDEV_IO_FLUSH, 0, 0, NULL, 0, rw_done);
		return;
	}
	if (io->status) {
		qb_log(LOG_DEBUG, "scsi: %s LUN %u: %s at %llu+%llu failed: %d", lu->tgt->name, lu->id,
		       write ? "write" : "read", (unsigned long long)io->offset, (unsigned long long)io->len,
		       io->status);
		io_error(t, write, io->status);
	} else if (write) {
		atomic_fetch_add_explicit(&lu->writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->write_bytes, t->data_len, memory_order_relaxed);
		t->status = SCSI_STATUS_GOOD;
	} else {
		atomic_fetch_add_explicit(&lu->reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->read_bytes, io->len, memory_order_relaxed);
		t->status = SCSI_STATUS_GOOD;
	}
	scsi_range_unlock(t);           /* writes hold their LBA range (range_lock.c) */
	scsi_task_done(t);
}

static void read_bounce_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	void *bounce = t->priv;

	if (io->status == 0)
		memcpy(t->buf, bounce, t->data_len);
	buf_free(bounce, io->len);
	t->priv = NULL;
	rw_done(io);
}

/* Common CDB checks of READ/WRITE/WRITE AND VERIFY/VERIFY. Returns -1 when
 * the command may proceed, else SCSI_DONE with sense set. */
static int check_rw(struct scsi_task *t, const struct rw_cdb *c, bool write, bool data)
{
	struct scsi_lun *lu = t->lu;

	/* RDPROTECT / WRPROTECT / VRPROTECT: no protection information, so any
	 * nonzero value is invalid (SBC-3 5.15 table 47). */
	if (c->flags & 0xe0)
		return scsi_task_invalid_cdb(t, 1, 7);
	if (write && scsi_lun_write_protected(lu))
		return scsi_task_check(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (!scsi_lba_range_ok(lu, c->lba, c->len))
		return lba_out_of_range(t);
	if (data && c->len > (SCSI_MAX_XFER_BYTES >> lu->block_shift))
		return scsi_task_invalid_cdb(t, c->len_byte, -1);
	return -1;
}

/* The write once its LBA range is held (COMPARE AND WRITE atomicity). Its FUA
 * follows the cache mode of now, not of its arrival: MODE SELECT may have
 * turned the cache off while it waited. t->state: the CDB asks for FUA. */
static int write_locked(struct scsi_task *t)
{
	return scsi_task_bio_submit(t, BDEV_IO_WRITE, scsi_lun_write_flags(t->lu, t->state != 0),
				    t->lba << t->lu->block_shift, t->buf, t->data_len, rw_done);
}

/* A read of t->nblocks at t->lba into t->buf (or a bounce buffer when the
 * last block does not fit: EDTL not a block multiple, rare). */
static int read_submit(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint64_t rbytes = (uint64_t)t->nblocks << lu->block_shift;

	if (rbytes > t->buf_len) {
		void *bounce = buf_alloc(rbytes);
		if (!bounce) {
			t->data_len = 0;
			scsi_range_unlock(t);
			scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
			return SCSI_DONE;
		}
		t->priv = bounce;
		return scsi_task_bio_submit(t, BDEV_IO_READ, 0, t->lba << lu->block_shift, bounce, rbytes, read_bounce_done);
	}
	return scsi_task_bio_submit(t, BDEV_IO_READ, 0, t->lba << lu->block_shift, t->buf, rbytes, rw_done);
}

/* READ / WRITE / WRITE AND VERIFY (6/10/12/16). */
int scsi_sbc_rw(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct rw_cdb c;
	bool write = is_write_op(t->cdb[0]);
	int rc;

	if ((rc = decode_rw(t, &c)) >= 0)
		return rc;
	if ((rc = check_rw(t, &c, write, true)) >= 0)
		return rc;

	uint64_t total = (uint64_t)c.len << lu->block_shift;
	uint32_t avail = 0;
	t->xfer_len = (uint32_t)total;
	t->lba = c.lba;
	if (t->buf && t->dir == (write ? SCSI_DIR_WRITE : SCSI_DIR_READ))
		avail = t->edtl;
	/* SBC-3 4.x: TRANSFER LENGTH 0 transfers nothing and is not an error. */
	uint64_t want = total < avail ? total : avail;
	if (want == 0) {
		t->data_len = 0;
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}

	if (write) {
		/* A shorter data-out than the CDB asks for writes only the whole
		 * blocks received (libiscsi write10_residuals accepts this). */
		uint64_t bytes = want > t->buf_len ? t->buf_len : want;
		uint32_t blocks = (uint32_t)(bytes >> lu->block_shift);
		if (blocks == 0) {
			t->data_len = 0;
			scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
			return SCSI_DONE;
		}
		/* write-through (WCE=0): every write is durable at completion;
		 * FUA in the CDB or WRITE AND VERIFY force it with WCE=1
		 * (scsi_lun_write_flags, when the range is held) */
		t->nblocks = blocks;
		t->data_len = blocks << lu->block_shift;
		t->state = (c.flags & 0x08) || is_write_verify(t->cdb[0]);
		return scsi_range_lock(t, c.lba, blocks, write_locked);
	}

	/* READ: a short EDTL gets the first EDTL bytes (libiscsi
	 * read10_residuals: EDTL 200 of a 512-byte block returns 200 bytes). */
	if (want > t->buf_len)
		want = t->buf_len;
	uint32_t blocks = (uint32_t)((want + lu->block_size - 1) >> lu->block_shift);
	t->nblocks = blocks;
	t->data_len = (uint32_t)want;
	/* Through the page cache a read can copy a block while a write is
	 * half-way into it: a torn sector, which no disk returns (and VMFS reads
	 * its ATS lock records with plain READs). There reads hold the range like
	 * writes; O_DIRECT devices keep sector atomicity themselves. */
	if (lu->bdev->page_cache)
		return scsi_range_lock(t, c.lba, blocks, read_submit);
	return read_submit(t);
}

/* --- VERIFY (SBC-3 5.29..5.31) --- */

static void verify_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;
	uint8_t *medium = t->priv;
	uint32_t bs = lu->block_size;
	size_t bytes = (size_t)t->nblocks << lu->block_shift;

	if (io->status) {
		io_error(t, false, io->status);
	} else {
		atomic_fetch_add_explicit(&lu->reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->read_bytes, io->len, memory_order_relaxed);
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		for (size_t off = 0; off < bytes; off += bs) {
			/* BYTCHK 01b compares block by block; 11b compares every
			 * block with the single block sent. */
			const uint8_t *want = t->state == 3 ? t->buf : t->buf + off;
			if (memcmp(medium + off, want, bs) == 0)
				continue;
			size_t i = 0;
			while (medium[off + i] == want[i])
				i++;
			/* SBC-3 5.29: INFORMATION = offset of the first miscompare */
			scsi_task_set_status(t, SCSI_STATUS_CHECK_CONDITION, SK_MISCOMPARE,
					     ASC_MISCOMPARE_DURING_VERIFY);
			scsi_task_set_info(t, (uint32_t)(off + i));
			break;
		}
	}
	buf_free(medium, bytes);
	t->priv = NULL;
	scsi_task_done(t);
}

int scsi_sbc_verify(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct rw_cdb c;
	int rc;

	if ((rc = decode_rw(t, &c)) >= 0)
		return rc;
	uint8_t bytchk = (c.flags >> 1) & 0x03;
	if (bytchk == 2)
		return scsi_task_invalid_cdb(t, 1, 2);
	if ((rc = check_rw(t, &c, false, bytchk != 0)) >= 0)
		return rc;
	t->lba = c.lba;
	if (c.len == 0 || bytchk == 0) {
		/* Medium verification only: nothing can be wrong with a range
		 * that passed the checks. */
		t->xfer_len = 0;
		t->data_len = 0;
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	uint32_t need = bytchk == 3 ? lu->block_size : c.len << lu->block_shift;
	if (scsi_task_data_out(t, need) < need)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	t->state = bytchk;
	return scsi_task_read_medium(t, c.lba, c.len, verify_done);
}

/* --- SYNCHRONIZE CACHE (SBC-3 5.22/5.23), PRE-FETCH (5.10/5.11) --- */

static void flush_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;

	if (io->status)
		io_error(t, true, io->status);
	else
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	scsi_task_done(t);
}

int scsi_sbc_sync_cache(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct rw_cdb c;
	int rc;

	if ((rc = decode_rw(t, &c)) >= 0)
		return rc;
	if (c.flags & 0xf9)             /* only IMMED (bit 1) and SYNC_NV (bit 2) */
		return scsi_task_invalid_cdb(t, 1, -1);
	/* NUMBER OF LOGICAL BLOCKS 0 = through the last LBA */
	if (!scsi_lba_range_ok(lu, c.lba, c.len))
		return lba_out_of_range(t);
	if (lu->cache == TCONF_CACHE_NV) {
		/* nv-cache: acknowledged writes are already non-volatile. */
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	return scsi_task_bio_submit(t, BDEV_IO_FLUSH, 0, 0, NULL, 0, flush_done);
}

int scsi_sbc_prefetch(struct scsi_task *t)
{
	struct rw_cdb c;
	int rc;

	if ((rc = decode_rw(t, &c)) >= 0)
		return rc;
	if (c.flags & 0xfd)             /* only IMMED */
		return scsi_task_invalid_cdb(t, 1, -1);
	if (!scsi_lba_range_ok(t->lu, c.lba, c.len))
		return lba_out_of_range(t);
	/* No cache to load: SBC-3 5.10 allows GOOD when nothing is prefetched. */
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

/* --- READ CAPACITY (SBC-3 5.16 / 5.17) --- */

int scsi_sbc_read_capacity10(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint8_t d[8];
	uint64_t nblocks = atomic_load_explicit(&lu->nblocks, memory_order_acquire);
	uint64_t last = nblocks ? nblocks - 1 : 0;

	if (t->cdb[1] & 0xfe)
		return scsi_task_invalid_cdb(t, 1, -1);
	if (t->cdb[8] & 0xfe)
		return scsi_task_invalid_cdb(t, 8, -1);
	/* PMI=0 requires LOGICAL BLOCK ADDRESS 0 */
	if (!(t->cdb[8] & 0x01) && get_be32(&t->cdb[2]))
		return scsi_task_invalid_cdb(t, 2, -1);
	put_be32(&d[0], last > 0xffffffffULL ? 0xffffffffu : (uint32_t)last);
	put_be32(&d[4], lu->block_size);
	return scsi_task_data_in(t, d, sizeof(d), sizeof(d));
}

static int read_capacity16(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint8_t d[32];
	uint32_t alloc = get_be32(&t->cdb[10]);
	uint64_t nblocks = atomic_load_explicit(&lu->nblocks, memory_order_acquire);

	if (t->cdb[14] & 0xfe)
		return scsi_task_invalid_cdb(t, 14, -1);
	if (!(t->cdb[14] & 0x01) && get_be64(&t->cdb[2]))
		return scsi_task_invalid_cdb(t, 2, -1);
	memset(d, 0, sizeof(d));
	put_be64(&d[0], nblocks ? nblocks - 1 : 0);
	put_be32(&d[8], lu->block_size);
	d[12] = 0x00;                   /* P_TYPE 0, PROT_EN 0 */
	d[13] = lu->phys_exp & 0x0f;    /* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT */
	d[14] = scsi_lbp_rc16_byte14(lu); /* LBPME / LBPRZ (lbp.c) */
	return scsi_task_data_in(t, d, sizeof(d), alloc);
}

/* SERVICE ACTION IN(16): service actions by number (SBC-3 table 12). */
int scsi_sbc_service_action_in16(struct scsi_task *t)
{
	switch (t->cdb[1] & 0x1f) {
	case 0x10:
		return read_capacity16(t);
	case 0x12:
		return scsi_sbc_get_lba_status(t);
	default:
		return scsi_task_invalid_cdb(t, 1, 4);
	}
}

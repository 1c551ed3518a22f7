/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared scaffolding of the SCSI unit tests: a reactor pumped in the test
 * thread, targets with null / fileio / in-memory LUNs, and helpers that run
 * one CDB to completion and check its status and sense. */
#ifndef TANDEM_SCSI_TEST_HARNESS_H
#define TANDEM_SCSI_TEST_HARNESS_H
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "reactor.h"
#include "util/be.h"
#include "util/bufpool.h"
#include "bdev/bdev_internal.h"
#include "scsi/scsi_internal.h"
#include "config/config_int.h"

static struct reactor *R;
static struct scsi_target *TGT;
static struct scsi_itn *ITN, *ITN2;
static struct scsi_port PORT = { .rel_port_id = 1, .tpg_id = 0, .name = "iqn.2026-11.org.tandem:t1,t,0x0001" };

#define TGT_NAME "iqn.2026-11.org.tandem:t1"
#define BUF_SIZE (1u << 20)

/* ---------------------------------------------------------------- identity */

/* LUN identity as the config derives it when the file omits it (the only
 * source: the SCSI layer refuses a LUN without one). */
__attribute__((unused)) static void scsi_lun_default_identity(const char *tgt_name, uint32_t lun, char serial[65],
							       uint8_t naa[16], uint8_t *naa_len)
{
	if (serial)
		cfg_default_serial(tgt_name, "", lun, serial);
	if (naa && naa_len)
		cfg_default_naa(tgt_name, lun, naa, naa_len);
}

/* Give a hand-built tconf_lun of TGT_NAME the config's default identity. */
__attribute__((unused)) static void harness_identity(struct tconf_lun *conf)
{
	if (!conf->serial[0])
		scsi_lun_default_identity(TGT_NAME, conf->lun, conf->serial, NULL, NULL);
	if (!conf->naa_len)
		scsi_lun_default_identity(TGT_NAME, conf->lun, NULL, conf->naa, &conf->naa_len);
}

/* ---------------------------------------------------------------- memory backend */

/* In-memory backend with error injection, completing through the bdev layer's
 * deferred completion so callbacks never run inside bdev_submit(). */
struct mem_priv {
	uint8_t *data;
	int fail_status;            /* nonzero: next I/O completes with it */
	unsigned flush_count, fua_count, write_count;
};

static void mem_submit(struct bdev *b, struct bdev_io *io)
{
	struct mem_priv *m = b->priv;
	int st = 0;

	if (m->fail_status) {
		st = m->fail_status;
	} else if (io->type == BDEV_IO_READ) {
		memcpy(io->iov[0].iov_base, m->data + io->offset, io->len);
	} else if (io->type == BDEV_IO_WRITE) {
		memcpy(m->data + io->offset, io->iov[0].iov_base, io->len);
		__atomic_fetch_add(&m->write_count, 1, __ATOMIC_RELAXED);   /* from several reactors */
		if (io->flags & BDEV_IO_F_FUA)
			__atomic_fetch_add(&m->fua_count, 1, __ATOMIC_RELAXED);
	} else if (io->type == BDEV_IO_FLUSH) {
		__atomic_fetch_add(&m->flush_count, 1, __ATOMIC_RELAXED);
	}
	bdev_complete_later(io, st);
}

/* .close of every test backend: its private struct starts with the medium
 * pointer (uint8_t *data, as struct mem_priv does), and C lets a pointer to a
 * struct be read as a pointer to its first member. */
static void harness_medium_close(struct bdev *b)
{
	uint8_t **data = b->priv;
	free(*data);
	free(b->priv);
	b->priv = NULL;         /* bdev_close() frees b */
}

static const struct bdev_ops mem_ops = { .name = "mem", .close = harness_medium_close, .submit = mem_submit };

/* What the test backends differ in when they become a LUN: the harness's
 * mem_ops or a test's own (holding completions back, logging, ...). */
struct harness_lun {
	uint32_t lun;
	uint64_t nblocks;
	uint32_t bs;
	enum tconf_cache cache;
	bool readonly;
	bool can_unmap;                 /* also unmap_zeroes */
	const struct bdev_ops *ops;
	void *priv;                     /* b->priv; ops->close frees it and *data */
	const char *name;               /* b->path */
};

/* Add an in-memory bdev of l->nblocks * l->bs bytes as LUN l->lun of tgt,
 * 512e-like (4 KiB physical blocks). *data gets the zeroed medium, which
 * the backend's close frees. Returns the bdev. */
static struct bdev *harness_attach(struct scsi_target *tgt, const struct harness_lun *l, uint8_t **data)
{
	struct bdev *b = calloc(1, sizeof(*b));
	struct tconf_lun conf;
	char err[256];

	ck_assert_ptr_nonnull(b);
	*data = calloc(1, l->nblocks * l->bs);
	ck_assert_ptr_nonnull(*data);
	b->ops = l->ops;
	b->priv = l->priv;
	b->fd = -1;
	b->size = l->nblocks * l->bs;
	b->block_size = l->bs;
	b->phys_block_size = 4096;
	b->is_blockdev = true;     /* behaves like a 512e disk: 4 KiB physical blocks */
	b->can_unmap = l->can_unmap;
	b->unmap_zeroes = l->can_unmap;
	snprintf(b->path, sizeof(b->path), "%s", l->name);
	memset(&conf, 0, sizeof(conf));
	conf.lun = l->lun;
	conf.backend = TCONF_BACKEND_NULL;
	conf.block_size = l->bs;
	conf.cache = l->cache;
	conf.readonly = l->readonly;
	harness_identity(&conf);
	ck_assert_int_eq(scsi_target_add_lun_bdev(tgt, &conf, b, err, sizeof(err)), 0);
	return b;
}

__attribute__((unused)) static struct mem_priv *mem_attach(struct scsi_target *tgt, uint32_t lun, uint64_t nblocks,
							   uint32_t bs, enum tconf_cache cache, bool readonly)
{
	struct mem_priv *m = calloc(1, sizeof(*m));

	ck_assert_ptr_nonnull(m);
	harness_attach(tgt, &(struct harness_lun){ .lun = lun, .nblocks = nblocks, .bs = bs, .cache = cache,
						   .readonly = readonly, .ops = &mem_ops, .priv = m, .name = "mem" },
		       &m->data);
	return m;
}

/* A device that keeps every write, write-zeroes and unmap (data stored at
 * once, completion held until the test completes it; up to 16), serves reads
 * from its data and counts flushes: for writes still in the device when
 * something changes. */
struct held_dev {
	uint8_t *data;
	struct bdev_io *held[16];
	int nheld;
	unsigned flushes;
};

__attribute__((unused)) static void held_submit(struct bdev *b, struct bdev_io *io)
{
	struct held_dev *h = b->priv;
	bool write = io->type == BDEV_IO_WRITE || io->type == BDEV_IO_WRITE_ZEROES || io->type == BDEV_IO_UNMAP;

	if (io->type == BDEV_IO_READ)
		memcpy(io->iov[0].iov_base, h->data + io->offset, io->len);
	if (write && h->nheld < 16) {
		if (io->type == BDEV_IO_WRITE)
			memcpy(h->data + io->offset, io->iov[0].iov_base, io->len);
		else
			memset(h->data + io->offset, 0, io->len);
		h->held[h->nheld++] = io;
		return;
	}
	if (io->type == BDEV_IO_FLUSH)
		h->flushes++;
	bdev_complete_later(io, 0);
}

__attribute__((unused)) static void held_close(struct bdev *b)
{
	free(((struct held_dev *)b->priv)->data);
	b->priv = NULL;
}

__attribute__((unused)) static const struct bdev_ops held_ops = { .name = "hold", .close = held_close,
								    .submit = held_submit };

/* ---------------------------------------------------------------- tasks */

struct tt {
	struct scsi_task t;
	int completions;
};

static void tt_complete(struct scsi_task *t)
{
	struct tt *x = container_of(t, struct tt, t);
	x->completions++;
}

static void tt_exec_fn(void *arg)
{
	scsi_task_exec(arg);
}

static struct tt *tt_new(struct scsi_itn *itn, uint64_t lun, const uint8_t *cdb, uint8_t cdb_len,
			 enum scsi_dir dir, uint32_t edtl)
{
	struct tt *x = calloc(1, sizeof(*x));
	ck_assert_ptr_nonnull(x);
	x->t.itn = itn;
	x->t.lun = lun;
	memcpy(x->t.cdb, cdb, cdb_len);
	x->t.cdb_len = cdb_len < 16 ? 16 : cdb_len;
	x->t.dir = dir;
	x->t.edtl = edtl;
	x->t.buf_len = BUF_SIZE;
	x->t.buf = buf_alloc(BUF_SIZE);
	ck_assert_ptr_nonnull(x->t.buf);
	memset(x->t.buf, 0xee, BUF_SIZE);
	x->t.complete = tt_complete;
	return x;
}

static void tt_free(struct tt *x)
{
	buf_free(x->t.buf, BUF_SIZE);
	free(x);
}

/* Run the task on the reactor thread (bdev_submit needs one) until done. */
static void tt_run(struct tt *x)
{
	reactor_post(R, tt_exec_fn, &x->t);
	for (int i = 0; i < 5000 && x->completions == 0; i++)
		reactor_poll_once(R, 10);
	ck_assert_int_eq(x->completions, 1);
	/* nothing may complete twice */
	reactor_poll_once(R, 0);
	ck_assert_int_eq(x->completions, 1);
}

static struct tt *run_cdb(struct scsi_itn *itn, uint64_t lun, const uint8_t *cdb, uint8_t len, enum scsi_dir dir,
			  uint32_t edtl)
{
	struct tt *x = tt_new(itn, lun, cdb, len, dir, edtl);
	tt_run(x);
	return x;
}

#define CHECK_GOOD(x) do { \
	ck_assert_msg((x)->t.status == SCSI_STATUS_GOOD, "status %02x sense %x/%02x/%02x", (x)->t.status, \
		      (x)->t.sense[2], (x)->t.sense[12], (x)->t.sense[13]); \
	ck_assert_int_eq((x)->t.sense_len, 0); \
} while (0)

#define CHECK_SENSE(x, sk, asc, ascq) do { \
	ck_assert_int_eq((x)->t.status, SCSI_STATUS_CHECK_CONDITION); \
	ck_assert_int_eq((x)->t.sense_len, 18); \
	ck_assert_int_eq((x)->t.sense[0] & 0x7f, 0x70); \
	ck_assert_int_eq((x)->t.sense[7], 10); \
	ck_assert_msg((x)->t.sense[2] == (sk) && (x)->t.sense[12] == (asc) && (x)->t.sense[13] == (ascq), \
		      "sense %x/%02x/%02x, want %x/%02x/%02x", (x)->t.sense[2], (x)->t.sense[12], \
		      (x)->t.sense[13], (sk), (asc), (ascq)); \
} while (0)

/* MODE SENSE(6) of LUN 0: pc 0 current, 1 changeable, 2 default, 3 saved */
__attribute__((unused)) static struct tt *mode_sense6(struct scsi_itn *itn, uint8_t dbd, uint8_t pc, uint8_t page,
						       uint8_t alloc)
{
	uint8_t cdb[6] = { 0x1a, dbd ? 0x08 : 0, (uint8_t)(pc << 6 | page), 0, alloc, 0 };
	return run_cdb(itn, 0, cdb, 6, SCSI_DIR_READ, alloc);
}

/* MODE SELECT(6) of LUN 0; flags: CDB byte 1 (0x10 PF, 0x01 SP) */
__attribute__((unused)) static struct tt *mode_select6(struct scsi_itn *itn, uint8_t flags, const uint8_t *pl,
							uint8_t len, uint32_t edtl)
{
	uint8_t cdb[6] = { 0x15, flags, 0, 0, len, 0 };
	struct tt *x = tt_new(itn, 0, cdb, 6, SCSI_DIR_WRITE, edtl);
	memcpy(x->t.buf, pl, len);
	tt_run(x);
	return x;
}

/* Clear the POWER ON unit attention of a fresh nexus. */
static void clear_ua(struct scsi_itn *itn, uint64_t lun)
{
	uint8_t tur[6] = { 0 };
	for (int i = 0; i < 10; i++) {
		struct tt *x = run_cdb(itn, lun, tur, 6, SCSI_DIR_NONE, 0);
		bool ua = x->t.status == SCSI_STATUS_CHECK_CONDITION && x->t.sense[2] == SK_UNIT_ATTENTION;
		tt_free(x);
		if (!ua)
			return;
	}
}

/* Every SCSI unit test keeps the files a LUN saves (APTPL reservations, saved
 * mode parameters: <state_dir>/pr, <state_dir>/mode) in a directory of its
 * own: the default, /var/lib/tandem, would carry them from one test binary to
 * the next (a LUN of the same serial started with another test's saved WCE)
 * and into the machine's real state. */
static char HARNESS_STATE_DIR[64];

static void harness_start(void)
{
	snprintf(HARNESS_STATE_DIR, sizeof(HARNESS_STATE_DIR), "/tmp/tandem-scsi-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(HARNESS_STATE_DIR));
	scsi_set_state_dir(HARNESS_STATE_DIR);
	R = reactor_create("scsi-test");
	ck_assert_ptr_nonnull(R);
	TGT = scsi_target_create(TGT_NAME);
	ck_assert_ptr_nonnull(TGT);
}

static void harness_nexus(void)
{
	ITN = scsi_itn_create(TGT, "iqn.1994-05.com.example:init1,i,0x023d00000001", &PORT);
	ITN2 = scsi_itn_create(TGT, "iqn.1994-05.com.example:init2,i,0x023d00000002", &PORT);
	ck_assert_ptr_nonnull(ITN);
	ck_assert_ptr_nonnull(ITN2);
}

static void harness_stop(void)
{
	if (ITN)
		scsi_itn_destroy(ITN);
	if (ITN2)
		scsi_itn_destroy(ITN2);
	ITN = ITN2 = NULL;
	/* let deferred completions / closes drain */
	for (int i = 0; i < 5; i++)
		reactor_poll_once(R, 1);
	scsi_target_destroy(TGT);
	TGT = NULL;
	reactor_destroy(R);
	R = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", HARNESS_STATE_DIR);
	ck_assert_int_eq(system(cmd), 0);
}
#endif

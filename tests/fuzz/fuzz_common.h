/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared scaffolding of the libFuzzer targets (no Check, no sockets unless the
 * target makes a socketpair): an input reader, a reactor pumped in the fuzzing
 * thread and an in-memory backend with injectable errors. */
#ifndef TANDEM_FUZZ_COMMON_H
#define TANDEM_FUZZ_COMMON_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reactor.h"
#include "util/be.h"
#include "util/bufpool.h"
#include "bdev/bdev_internal.h"
#include "scsi/scsi_internal.h"
#include "config/config_int.h"

#define FUZZ_DIE(...) do { fprintf(stderr, "fuzz harness: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* ---------------------------------------------------------------- input reader */
struct fin {
	const uint8_t *p;
	size_t n;
};
__attribute__((unused)) static uint8_t fin_u8(struct fin *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}
__attribute__((unused)) static uint16_t fin_u16(struct fin *f)
{
	return (uint16_t)(fin_u8(f) << 8 | fin_u8(f));
}
__attribute__((unused)) static uint32_t fin_u32(struct fin *f)
{
	return (uint32_t)fin_u16(f) << 16 | fin_u16(f);
}
/* Copy up to want bytes; returns how many were available. */
__attribute__((unused)) static size_t fin_bytes(struct fin *f, void *dst, size_t want)
{
	if (want > f->n)
		want = f->n;
	if (!want)
		return 0;
	memcpy(dst, f->p, want);
	f->p += want;
	f->n -= want;
	return want;
}

/* ---------------------------------------------------------------- memory backend */
/* Completes through the bdev layer's deferred completion (never inside
 * submit). fail_after: the Nth I/O from now (1 = next) and every later one
 * complete with fail_status; 0 = no failures. */
struct fmem {
	uint8_t *data;
	uint64_t size;
	unsigned fail_after;
	int fail_status;
	unsigned ios;
};

static void fmem_submit(struct bdev *b, struct bdev_io *io)
{
	struct fmem *m = b->priv;
	int st = 0;

	m->ios++;
	if (io->offset > m->size || io->len > m->size - io->offset)
		FUZZ_DIE("I/O beyond the device: type %d offset %llu len %llu size %llu", io->type,
			 (unsigned long long)io->offset, (unsigned long long)io->len, (unsigned long long)m->size);
	if (m->fail_after && m->ios >= m->fail_after) {
		st = m->fail_status;
	} else if (io->type == BDEV_IO_READ || io->type == BDEV_IO_WRITE) {
		uint64_t off = io->offset, left = io->len;
		for (int i = 0; i < io->iovcnt && left; i++) {
			size_t n = io->iov[i].iov_len < left ? io->iov[i].iov_len : left;
			if (io->type == BDEV_IO_READ)
				memcpy(io->iov[i].iov_base, m->data + off, n);
			else
				memcpy(m->data + off, io->iov[i].iov_base, n);
			off += n;
			left -= n;
		}
		if (left)
			FUZZ_DIE("iovec shorter than the I/O length");
	} else if (io->type == BDEV_IO_UNMAP || io->type == BDEV_IO_WRITE_ZEROES) {
		memset(m->data + io->offset, 0, io->len);
	}
	bdev_complete_later(io, st);
}

static void fmem_close(struct bdev *b)
{
	struct fmem *m = b->priv;
	free(m->data);
	free(m);
	b->priv = NULL;
}

static const struct bdev_ops fmem_ops = { .name = "fuzzmem", .close = fmem_close, .submit = fmem_submit };

__attribute__((unused)) static struct fmem *fmem_attach(struct scsi_target *tgt, const char *tgt_name, uint32_t lun,
							uint64_t nblocks, uint32_t bs, enum tconf_cache cache,
							bool readonly)
{
	struct bdev *b = calloc(1, sizeof(*b));
	struct fmem *m = calloc(1, sizeof(*m));
	struct tconf_lun conf;
	char err[256];

	if (!b || !m)
		FUZZ_DIE("out of memory");
	m->size = nblocks * bs;
	m->data = calloc(1, m->size);
	if (!m->data)
		FUZZ_DIE("out of memory");
	b->ops = &fmem_ops;
	b->priv = m;
	b->fd = -1;
	b->size = m->size;
	b->block_size = bs;
	b->phys_block_size = 4096;
	b->is_blockdev = true;
	b->can_unmap = true;
	b->unmap_zeroes = true;
	b->readonly = readonly;
	snprintf(b->path, sizeof(b->path), "fuzzmem%u", lun);
	memset(&conf, 0, sizeof(conf));
	conf.lun = lun;
	conf.backend = TCONF_BACKEND_NULL;
	conf.block_size = bs;
	conf.cache = cache;
	conf.readonly = readonly;
	cfg_default_serial(tgt_name, "", lun, conf.serial);
	cfg_default_naa(tgt_name, lun, conf.naa, &conf.naa_len);
	if (scsi_target_add_lun_bdev(tgt, &conf, b, err, sizeof(err)) < 0)
		FUZZ_DIE("add lun: %s", err);
	return m;
}

/* Silence qb_log unless FUZZ_LOG is set (logging dominates the cost otherwise). */
#include <qb/qblog.h>
__attribute__((unused)) static void fuzz_quiet_logs(void)
{
	if (getenv("FUZZ_LOG")) {
		qb_log_init("fuzz", LOG_DAEMON, LOG_DEBUG);
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
		return;
	}
	qb_log_init("fuzz", LOG_DAEMON, LOG_EMERG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
}
#endif

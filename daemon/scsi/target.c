/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SCSI targets as the device server sees them: LUN attach/detach with a
 * lock-free lookup table, I_T nexuses, LUN field encoding (SAM-5 4.6), task
 * management side effects and the status walk for tandemctl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include "reactor.h"
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/alua.h"
#include "scsi/scsi_pr.h"

/* ---------------------------------------------------------------- LUN field */

/* SAM-5 4.6.6 peripheral device addressing and 4.6.10 flat space addressing
 * (LUN < 16384). Peripheral addressing with a nonzero bus identifier is read
 * as the 14-bit number too: Linux int_to_scsilun() and libiscsi put LUN 300
 * as 01h 2Ch, so both forms of 300 reach LUN 300. Anything else decodes to a
 * value that is never attached (LOGICAL UNIT NOT SUPPORTED). */
#define LUN_UNSUPPORTED(l) (get_be64(l) | 1ULL << 63)

uint64_t scsi_lun_decode(const uint8_t lun[8])
{
	for (int i = 2; i < 8; i++)
		if (lun[i])
			return LUN_UNSUPPORTED(lun);
	switch (lun[0] >> 6) {
	case 0:                         /* peripheral device */
	case 1:                         /* flat space */
		return (uint64_t)(lun[0] & 0x3f) << 8 | lun[1];
	default:
		return LUN_UNSUPPORTED(lun);
	}
}

void scsi_lun_encode(uint64_t lun, uint8_t out[8])
{
	memset(out, 0, 8);
	if (lun < 256) {
		out[1] = (uint8_t)lun;
	} else if (lun < SCSI_LUN_MAX) {
		out[0] = 0x40 | (uint8_t)(lun >> 8);
		out[1] = (uint8_t)lun;
	} else {
		put_be64(out, lun);
	}
}

/* ---------------------------------------------------------------- targets */

struct scsi_target *scsi_target_create(const char *name)
{
	struct scsi_target *tgt = calloc(1, sizeof(*tgt));
	if (!tgt)
		return NULL;
	snprintf(tgt->name, sizeof(tgt->name), "%s", name ? name : "");
	pthread_mutex_init(&tgt->lock, NULL);
	scsi_alua_target_register(tgt);         /* ALUA unit attentions reach its nexuses */
	for (size_t i = 0; i < SCSI_LUN_MAX; i++)
		atomic_init(&tgt->luns[i], NULL);
	atomic_init(&tgt->nluns, 0);
	return tgt;
}

/* Writes acknowledged from a volatile write cache are flushed when nobody
 * will ask for it any more: the cache turned off (WCE 1 -> 0 by a reset or a
 * reload's cache change; initiators seeing WCE=0 send no SYNCHRONIZE CACHE)
 * or the LUN closing. The flush is an ordinary BDEV_IO_FLUSH (through a
 * replicating device it reaches both copies, and a failure stays sticky on
 * the device that failed), run on a reactor other than the caller's with the
 * LUN pinned (lu->inflight): nobody blocks on a hung device, and a removal
 * closes the device only after it. */
struct lun_flush {
	struct bdev_io io;
	struct scsi_lun *lu;
	const char *why;
	/* a replicated LUN's record goes to the peer once the flush is done (a
	 * reset changed its mode parameters): a peer that learns WCE=0 then
	 * holds no write it cached while WCE was 1 */
	bool record;
};

bool scsi_lun_pin(struct scsi_target *tgt, struct scsi_lun *lu)
{
	atomic_fetch_add(&lu->inflight, 1);
	if (atomic_load(&tgt->luns[lu->id]) != lu) {
		atomic_fetch_sub(&lu->inflight, 1);
		return false;
	}
	return true;
}

void scsi_lun_unpin(struct scsi_lun *lu)
{
	atomic_fetch_sub_explicit(&lu->inflight, 1, memory_order_release);
}

static void lun_flush_done(struct bdev_io *io)
{
	struct lun_flush *f = io->cb_arg;

	if (io->status == -BDEV_E_NOT_ACTIVE)
		qb_log(LOG_DEBUG, "scsi: LUN %u: no flush (%s): the device is not active here", f->lu->id, f->why);
	else if (io->status)
		qb_log(LOG_ERR, "scsi: LUN %u: flushing the write cache (%s) failed: %s", f->lu->id, f->why,
		       strerror(-io->status));
	else
		qb_log(LOG_DEBUG, "scsi: LUN %u: write cache flushed (%s)", f->lu->id, f->why);
	if (f->record && !io->status)
		(void)scsi_pr_record_send(f->lu, f->why);       /* on this reactor, the LUN pinned */
	else if (f->record)             /* a failed flush: the peer keeps its values */
		qb_log(LOG_ERR, "scsi: LUN %u: the mode parameters after %s stay on this node", f->lu->id, f->why);
	if (io->status && io->status != -BDEV_E_NOT_ACTIVE)
		atomic_store(&f->lu->mode_unsettled, true);     /* the next MODE SELECT flushes again */
	scsi_lun_unpin(f->lu);
	free(f);
}

static void lun_flush_submit(void *arg)
{
	struct lun_flush *f = arg;

	bdev_submit(f->lu->bdev, &f->io);
}

/* Start the flush; attached: the caller found lu in the table without a pin
 * (a reset), which it may have left since; record: then send the LUN's
 * record (scsi_pr_record_send). True when a flush was started. */
static bool lun_flush_cache(struct scsi_lun *lu, const char *why, bool attached, bool record)
{
	struct reactor *self = reactor_self(), *r = NULL;
	struct lun_flush *f;

	for (int i = 0; i < reactor_pool_size() && !r; i++)
		if (reactor_pool_get(i) != self)
			r = reactor_pool_get(i);
	if (!r)
		r = self;               /* one reactor: nobody waits on this path but a target's end */
	if (!r || !lu->bdev || !(f = calloc(1, sizeof(*f))))
		return false;
	if (!attached) {
		atomic_fetch_add(&lu->inflight, 1);     /* the caller holds it (detached, device open) */
	} else if (!scsi_lun_pin(lu->tgt, lu)) {
		free(f);                                /* removed meanwhile: its close flushes */
		return false;
	}
	f->io.type = BDEV_IO_FLUSH;
	f->io.cb = lun_flush_done;
	f->io.cb_arg = f;
	f->lu = lu;
	f->why = why;
	f->record = record;
	reactor_post(r, lun_flush_submit, f);
	return true;
}

/* A detached LUN's device closes once nothing runs on it, its write cache
 * flushed first. wait: block up to SCSI_LUN_DRAIN_MS for the commands and as
 * long again for the flush (removal, a target's end); else only start what is
 * due (the reaper). True once closed. */
static bool lun_close_device(struct scsi_lun *lu, bool wait)
{
	while (lu->bdev) {
		for (unsigned waited = 0; wait && atomic_load(&lu->inflight) && waited < SCSI_LUN_DRAIN_MS; waited++)
			usleep(1000);
		if (atomic_load(&lu->inflight))
			return false;
		if (!lu->close_flushed) {
			lu->close_flushed = true;
			if (atomic_load(&lu->cache) != TCONF_CACHE_NV && !lu->readonly &&
			    lun_flush_cache(lu, "the LUN is closing", false, false)) {
				if (!wait)
					return false;
				continue;
			}
		}
		bdev_close(lu->bdev);
		lu->bdev = NULL;
	}
	return true;
}

static void lun_free(struct scsi_lun *lu)
{
	pthread_mutex_destroy(&lu->lock);
	scsi_range_lock_fini(&lu->rlock);
	scsi_pr_lun_fini(lu);                   /* reservations (pr.c) */
	free(lu);
}

void scsi_target_destroy(struct scsi_target *tgt)
{
	if (!tgt)
		return;
	scsi_alua_target_unregister(tgt);
	for (uint32_t i = 0; i < SCSI_LUN_MAX; i++)
		if (atomic_load(&tgt->luns[i]))
			scsi_target_remove_lun(tgt, i);
	bool kept = false;
	while (tgt->retired) {
		struct scsi_lun *lu = tgt->retired;
		tgt->retired = lu->retired_next;
		/* no session is left to send commands, but one may still run (a
		 * SANITIZE outlives its session), possibly on this very thread: its
		 * LUN and the target stay allocated rather than freed under it */
		if (!lun_close_device(lu, true) || atomic_load(&lu->inflight)) {
			qb_log(LOG_ERR, "scsi: %s LUN %u: a command still runs as the target goes: its memory is kept",
			       tgt->name, lu->id);
			kept = true;
			continue;
		}
		lun_free(lu);
	}
	if (tgt->itns)
		qb_log(LOG_WARNING, "scsi: target %s destroyed with I_T nexuses still attached", tgt->name);
	if (kept)
		return;
	pthread_mutex_destroy(&tgt->lock);
	free(tgt);
}

const char *scsi_target_name(const struct scsi_target *tgt)
{
	return tgt->name;
}

size_t scsi_target_lun_count(const struct scsi_target *tgt)
{
	return atomic_load_explicit(&tgt->nluns, memory_order_relaxed);
}

struct scsi_lun *scsi_target_find_lun(struct scsi_target *tgt, uint64_t lun)
{
	if (!tgt || lun >= SCSI_LUN_MAX)
		return NULL;
	return atomic_load_explicit(&tgt->luns[lun], memory_order_acquire);
}

static void copy_default(char *dst, size_t len, const char *src, const char *def)
{
	snprintf(dst, len, "%s", src && src[0] ? src : def);
}

int scsi_target_add_lun_bdev(struct scsi_target *tgt, const struct tconf_lun *conf, struct bdev *b,
			     char *err, size_t errlen)
{
	if (conf->lun >= SCSI_LUN_MAX) {
		snprintf(err, errlen, "LUN %u: number out of range (0..%u)", conf->lun, SCSI_LUN_MAX - 1);
		return -1;
	}
	if (!b->block_size || (b->block_size & (b->block_size - 1)) || b->block_size < 512) {
		snprintf(err, errlen, "LUN %u: bad block size %u", conf->lun, b->block_size);
		return -1;
	}
	if (!conf->serial[0] || (conf->naa_len != 8 && conf->naa_len != 16)) {
		snprintf(err, errlen, "LUN %u: no device identity (serial and naa come from the configuration)",
			 conf->lun);
		return -1;
	}
	struct scsi_lun *lu = calloc(1, sizeof(*lu));
	if (!lu) {
		snprintf(err, errlen, "LUN %u: out of memory", conf->lun);
		return -1;
	}
	lu->tgt = tgt;
	lu->id = conf->lun;
	lu->bdev = b;
	lu->block_size = b->block_size;
	lu->block_shift = (uint8_t)__builtin_ctz(b->block_size);
	atomic_init(&lu->nblocks, b->size >> lu->block_shift);
	/* Only a block device has a physical block worth reporting (SBC-3
	 * 6.6.3): a file's filesystem block is not one, and initiators align
	 * to the exponent we give. */
	if (b->is_blockdev && b->phys_block_size > b->block_size)
		lu->phys_exp = (uint8_t)(__builtin_ctz(b->phys_block_size) - lu->block_shift);
	lu->cache = conf->cache;
	lu->readonly = conf->readonly || b->readonly;
	lu->rotational = b->rotational;
	lu->rotation_rate = conf->rotation_rate;
	snprintf(lu->backend_name, sizeof(lu->backend_name), "%s", tconf_backend_name(conf->backend));
	snprintf(lu->path, sizeof(lu->path), "%s", conf->path);

	/* Identity comes from the config only (config/defaults.c derives what the
	 * file omits), so both nodes of a pair present the same device
	 * (docs/IDENTITY.md). */
	snprintf(lu->serial, sizeof(lu->serial), "%s", conf->serial);
	memcpy(lu->naa, conf->naa, conf->naa_len);
	lu->naa_len = conf->naa_len;
	copy_default(lu->vendor, sizeof(lu->vendor), conf->vendor, "TANDEM");
	copy_default(lu->product, sizeof(lu->product), conf->product, "tandem-disk");
	copy_default(lu->revision, sizeof(lu->revision), conf->revision, "0001");

	pthread_mutex_init(&lu->lock, NULL);
	scsi_range_lock_init(&lu->rlock);
	/* SBC-3 6.4.5: WCE reflects the cache policy; nv-cache is reported as
	 * write-through because acknowledged writes are already safe. */
	bool wce = conf->cache == TCONF_CACHE_WRITE_BACK;
	atomic_init(&lu->wce, wce);
	atomic_init(&lu->wce_saved, wce);
	atomic_init(&lu->swp, false);
	atomic_init(&lu->swp_saved, false);
	atomic_init(&lu->mode_unsettled, false);
	atomic_init(&lu->prevent, false);
	atomic_init(&lu->inflight, 0);
	scsi_mode_lun_init(lu);                 /* saved mode parameters (mode_store.c) */
	if (scsi_pr_lun_init(lu) < 0) {         /* reservations, APTPL restore (pr.c) */
		snprintf(err, errlen, "LUN %u: out of memory", conf->lun);
		lun_free(lu);
		return -1;
	}

	pthread_mutex_lock(&tgt->lock);
	if (atomic_load(&tgt->luns[conf->lun])) {
		pthread_mutex_unlock(&tgt->lock);
		snprintf(err, errlen, "LUN %u: already attached to %s", conf->lun, tgt->name);
		lun_free(lu);
		return -1;
	}
	/* SPC-4 6.33: other nexuses learn of the new inventory through a UA on the
	 * LUNs they can already address. */
	scsi_ua_establish_others_locked(tgt, NULL, SCSI_UA_ALL_LUNS, SCSI_UA_LUNS_CHANGED);
	atomic_store_explicit(&tgt->luns[conf->lun], lu, memory_order_release);
	atomic_fetch_add(&tgt->nluns, 1);
	pthread_mutex_unlock(&tgt->lock);
	qb_log(LOG_INFO, "scsi: %s LUN %u attached (%s %s, %llu x %u, cache %s%s)", tgt->name, conf->lun,
	       lu->backend_name, lu->path, (unsigned long long)lu->nblocks, lu->block_size,
	       tconf_cache_name(conf->cache), lu->readonly ? ", read-only" : "");
	return 0;
}

/* nv-cache drops every flush, which is right only where the device's own
 * cache is all that stands between a completed write and the medium: a block
 * device written with O_DIRECT (the null backend keeps nothing anyway).
 * Through the host's page cache (fileio, refused by the config; blockio that
 * fell back to buffered I/O) or on a file, whose file system records block
 * allocation in a journal of its own, acknowledged writes would be lost with
 * the host (review, session 15). NULL when nv-cache is safe on B, opened by
 * BACKEND (its configured name, as lu->backend_name holds it). */
static const char *nv_cache_refusal(const struct bdev *b, const char *backend)
{
	if (strcmp(backend, tconf_backend_name(TCONF_BACKEND_NULL)) == 0)
		return NULL;
	if (b->page_cache)
		return "its I/O goes through the host's page cache (O_DIRECT is not usable on it)";
	if (!b->is_blockdev)
		return "it is a file, and its file system's block allocation is not in the device's cache";
	return NULL;
}

struct bdev *scsi_lun_open_bdev(const struct tconf_lun *conf, char *err, size_t errlen)
{
	char berr[256] = "";
	struct bdev_params p = {
		.backend = tconf_backend_name(conf->backend),
		.path = conf->path,
		.size = conf->size,
		.create = conf->create,
		.readonly = conf->readonly,
		.block_size = conf->block_size ? conf->block_size : 512,
		.replicated = conf->replicated,         /* repl/ wraps the backend */
		.volume_id = conf->serial,
	};
	struct bdev *b = bdev_open(&p, berr, sizeof(berr));
	const char *why;

	if (!b) {
		snprintf(err, errlen, "LUN %u: %s", conf->lun, berr[0] ? berr : "cannot open backend");
		return NULL;
	}
	if (conf->cache == TCONF_CACHE_NV && (why = nv_cache_refusal(b, tconf_backend_name(conf->backend)))) {
		snprintf(err, errlen, "LUN %u: 'cache: nv-cache' refused on %s: %s; it would acknowledge writes the "
			 "host can still lose (use write-back)", conf->lun, conf->path, why);
		bdev_close(b);
		return NULL;
	}
	return b;
}

int scsi_target_add_lun(struct scsi_target *tgt, const struct tconf_lun *conf, char *err, size_t errlen)
{
	if (conf->lun >= SCSI_LUN_MAX) {
		snprintf(err, errlen, "LUN %u: number out of range (0..%u)", conf->lun, SCSI_LUN_MAX - 1);
		return -1;
	}
	if (scsi_target_find_lun(tgt, conf->lun)) {
		snprintf(err, errlen, "LUN %u: already attached to %s", conf->lun, tgt->name);
		return -1;
	}
	struct bdev *b = scsi_lun_open_bdev(conf, err, errlen);
	if (!b)
		return -1;
	if (scsi_target_add_lun_bdev(tgt, conf, b, err, errlen) < 0) {
		bdev_close(b);
		return -1;
	}
	return 0;
}

/* WCE went to the cache policy's value (SBC-3 6.4.5 as at start-up) on this
 * node: what follows. Writes acknowledged while WCE was 1 are flushed when it
 * goes off; a replicated LUN on the Primary then sends its record, so the
 * peer, which serves the same logical unit after a failover, holds the new
 * values too (a MODE SELECT's order: flush first, record after); every nexus
 * learns through MODE PARAMETERS CHANGED. */
static void lun_policy_applied(struct scsi_target *tgt, struct scsi_lun *lu, bool was_wce, bool wce,
			       enum tconf_cache old, bool record, const char *why)
{
	if (was_wce && !wce && old != TCONF_CACHE_NV)
		lun_flush_cache(lu, why, false, record);
	else if (record)
		(void)scsi_pr_record_send(lu, why);
	scsi_ua_establish_others(tgt, NULL, lu->id, SCSI_UA_MODE_CHANGED);
}

/* WCE, current and saved, to wce (a policy's value), and the values saved
 * under another policy forgotten. lu->lock held, as MODE SELECT saves: a save
 * racing this is either removed with its values or made after and kept. */
static void lun_wce_reset_locked(struct scsi_lun *lu, bool wce)
{
	atomic_store(&lu->wce, wce);
	atomic_store(&lu->wce_saved, wce);
	scsi_mode_store_forget(lu);
}

/* A replicated LUN's mode parameters belong to the Primary's record: only
 * there does a policy change send them. */
static bool lun_record_owner(struct scsi_lun *lu)
{
	return lu->pr && lu->pr->replicated && lu->bdev && bdev_state_writable(lu->bdev);
}

int scsi_target_set_lun_cache(struct scsi_target *tgt, uint32_t lun, enum tconf_cache cache)
{
	struct scsi_lun *lu = scsi_target_find_lun(tgt, lun);
	enum tconf_cache old;
	bool wce = cache == TCONF_CACHE_WRITE_BACK;

	if (!lu)
		return -1;
	const char *why = cache == TCONF_CACHE_NV && lu->bdev ?
			  nv_cache_refusal(lu->bdev, lu->backend_name) : NULL;
	if (why) {
		/* the LUN stays in service with the mode it has */
		qb_log(LOG_ERR, "scsi: %s LUN %u: 'cache: nv-cache' refused on %s: %s; it keeps cache %s", tgt->name,
		       lun, lu->path, why, tconf_cache_name(atomic_load(&lu->cache)));
		return 0;
	}
	bool record = lun_record_owner(lu);
	if (record)
		pthread_mutex_lock(&lu->pr->lock);      /* as a reset: no record snapshot between the two */
	pthread_mutex_lock(&lu->lock);
	old = atomic_load(&lu->cache);
	bool was_wce = atomic_load(&lu->wce);
	if (old != cache) {
		atomic_store(&lu->cache, cache);
		/* SBC-3 6.4.5 as at start-up: WCE, current and saved, reflects the policy */
		lun_wce_reset_locked(lu, wce);
	}
	pthread_mutex_unlock(&lu->lock);
	if (record)
		pthread_mutex_unlock(&lu->pr->lock);
	if (old == cache)   /* nothing changed: a WCE set by MODE SELECT stays */
		return 0;
	qb_log(LOG_NOTICE, "scsi: %s LUN %u: cache %s -> %s (WCE=%d)", tgt->name, lun, tconf_cache_name(old),
	       tconf_cache_name(cache), wce);
	lun_policy_applied(tgt, lu, was_wce, wce, old, record, "the cache mode changed");
	return 0;
}

int scsi_target_lun_cache_came_back(struct scsi_target *tgt, uint32_t lun, enum tconf_cache before)
{
	struct scsi_lun *lu = scsi_target_find_lun(tgt, lun);

	if (!lu)
		return -1;
	enum tconf_cache cache = atomic_load(&lu->cache);
	bool wce = cache == TCONF_CACHE_WRITE_BACK;
	/* a Secondary's values are the Primary's, whatever either policy says */
	if (before == cache || !lun_record_owner(lu))
		return 0;
	pthread_mutex_lock(&lu->pr->lock);
	pthread_mutex_lock(&lu->lock);
	bool was_wce = atomic_load(&lu->wce);
	bool changed = was_wce != wce || atomic_load(&lu->wce_saved) != wce;
	if (changed)
		lun_wce_reset_locked(lu, wce);
	pthread_mutex_unlock(&lu->lock);
	pthread_mutex_unlock(&lu->pr->lock);
	if (!changed)
		return 0;
	qb_log(LOG_NOTICE, "scsi: %s LUN %u: back with cache %s (was %s): the mode parameters it held from the "
	       "replication record give way to the policy's (WCE=%d)", tgt->name, lun, tconf_cache_name(cache),
	       tconf_cache_name(before), wce);
	/* WCE going off flushes first, as everywhere (the previous device's
	 * close flushed already: little or nothing is left to write) */
	lun_policy_applied(tgt, lu, was_wce, wce, before, true, "the LUN came back with another cache mode");
	return 0;
}

bool scsi_target_lun_inquiry_differs(struct scsi_target *tgt, const struct tconf_lun *conf, char *what,
				     size_t len)
{
	struct scsi_lun *lu = scsi_target_find_lun(tgt, conf->lun);
	char v[9], p[17], r[5];

	what[0] = '\0';
	if (!lu)
		return false;
	copy_default(v, sizeof(v), conf->vendor, "TANDEM");
	copy_default(p, sizeof(p), conf->product, "tandem-disk");
	copy_default(r, sizeof(r), conf->revision, "0001");
	snprintf(what, len, "%s%s%s%s", strcmp(v, lu->vendor) ? "vendor, " : "", strcmp(p, lu->product) ? "product, " : "",
		 strcmp(r, lu->revision) ? "revision, " : "", conf->rotation_rate != lu->rotation_rate ?
		 "rotation_rate, " : "");
	size_t n = strlen(what);
	if (n < 2)
		return false;
	what[n - 2] = '\0';    /* the last ", " */
	return true;
}

int scsi_target_resize_lun(struct scsi_target *tgt, uint32_t lun, uint64_t size, bool create, char *err,
			   size_t errlen)
{
	struct scsi_lun *lu = scsi_target_find_lun(tgt, lun);
	char e[400];
	uint64_t bytes;

	if (!lu) {
		snprintf(err, errlen, "LUN %u: not attached", lun);
		return -1;
	}
	uint64_t cur = atomic_load_explicit(&lu->nblocks, memory_order_acquire) << lu->block_shift;
	if (size == cur)
		return 0;
	if (!lu->bdev->ops->resize && size == 0)
		return 0;       /* "what the device holds": a stacked device holds what it opened with */
	/* outside the LUN's lock, which reactor threads take: growing a file
	 * may take a while on some file systems */
	if (bdev_resize_prepare(lu->bdev, size, create, &bytes, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "LUN %u: keeps %llu bytes, cannot take %s: %s", lun, (unsigned long long)cur,
			 size ? "the configured size" : "its device's size", e);
		return -1;
	}
	if (bytes == cur)
		return 0;
	pthread_mutex_lock(&lu->lock);
	if (atomic_load_explicit(&lu->sanitize_state, memory_order_acquire) == SCSI_SANITIZE_RUNNING) {
		pthread_mutex_unlock(&lu->lock);
		snprintf(err, errlen, "LUN %u: keeps %llu bytes: a SANITIZE runs on it (the next reload tries again)",
			 lun, (unsigned long long)cur);
		return -1;
	}
	/* The device's bound rises before the LUN's capacity, so a command that
	 * passed the LUN's check never meets a smaller device. A shrink leaves
	 * the device's bound alone: nothing is cut from the device, and commands
	 * admitted before the shrink (waiting for a range lock, say) complete as
	 * they would have; only new ones see the smaller capacity. */
	if (bytes > atomic_load(&lu->bdev->size))
		bdev_set_size(lu->bdev, bytes);
	atomic_store_explicit(&lu->nblocks, bytes >> lu->block_shift, memory_order_release);
	pthread_mutex_unlock(&lu->lock);
	/* SBC-3 4.x, SPC-4 6.x: every I_T nexus learns it at its next command;
	 * an initiator then reads the capacity again (ESXi: a rescan shows the
	 * new size, "Increase Datastore" can use it) */
	scsi_ua_establish_others(tgt, NULL, lun, SCSI_UA_CAPACITY_CHANGED);
	qb_log(LOG_NOTICE, "scsi: %s LUN %u: capacity %llu -> %llu blocks of %u%s", tgt->name, lun,
	       (unsigned long long)(cur >> lu->block_shift), (unsigned long long)(bytes >> lu->block_shift),
	       lu->block_size, bytes < cur ? " (shrunk: the data past the new end stays on the device)" : "");
	return 1;
}

int scsi_target_remove_lun(struct scsi_target *tgt, uint32_t lun)
{
	if (lun >= SCSI_LUN_MAX)
		return -1;
	pthread_mutex_lock(&tgt->lock);
	struct scsi_lun *lu = atomic_exchange(&tgt->luns[lun], NULL);
	if (!lu) {
		pthread_mutex_unlock(&tgt->lock);
		return -1;
	}
	atomic_fetch_sub(&tgt->nluns, 1);
	scsi_ua_establish_others_locked(tgt, NULL, SCSI_UA_ALL_LUNS, SCSI_UA_LUNS_CHANGED);
	/* The struct stays allocated until the target goes: a task that loaded the
	 * pointer before the exchange may still touch its counter. */
	lu->retired_next = tgt->retired;
	tgt->retired = lu;
	pthread_mutex_unlock(&tgt->lock);

	/* Wait for tasks that got in before the exchange (they complete on reactor
	 * threads; this runs on the control thread), but not for ever: a
	 * replicated write frozen by fencing ends only when this thread answers
	 * the cluster, and a hung device must not take the daemon's control
	 * socket with it. */
	if (!lun_close_device(lu, true)) {
		qb_log(LOG_WARNING, "scsi: %s LUN %u detached with %u command(s) still in flight: its device "
		       "closes when they end", tgt->name, lun, atomic_load(&lu->inflight));
		return 1;
	}
	qb_log(LOG_INFO, "scsi: %s LUN %u detached", tgt->name, lun);
	return 0;
}

unsigned scsi_target_reap(struct scsi_target *tgt)
{
	unsigned left = 0;

	/* the list only grows at its head (remove_lun, this thread) */
	for (struct scsi_lun *lu = tgt->retired; lu; lu = lu->retired_next) {
		if (!lu->bdev)
			continue;
		if (!lun_close_device(lu, false)) {
			left++;
			continue;
		}
		qb_log(LOG_NOTICE, "scsi: %s LUN %u: the last command ended, device closed", tgt->name, lu->id);
	}
	return left;
}

/* ---------------------------------------------------------------- nexuses */

struct scsi_itn *scsi_itn_create(struct scsi_target *tgt, const char *initiator_port, const struct scsi_port *port)
{
	struct scsi_itn *itn = calloc(1, sizeof(*itn));
	if (!itn)
		return NULL;
	itn->tgt = tgt;
	snprintf(itn->initiator, sizeof(itn->initiator), "%s", initiator_port ? initiator_port : "");
	if (port)
		itn->port = *port;
	scsi_ua_itn_init(itn);
	pthread_mutex_lock(&tgt->lock);
	/* SAM-5 6.3.1: a new I_T nexus sees POWER ON, RESET on every LUN. */
	scsi_ua_establish(itn, SCSI_UA_ALL_LUNS, SCSI_UA_POWER_ON);
	itn->next = tgt->itns;
	tgt->itns = itn;
	pthread_mutex_unlock(&tgt->lock);
	return itn;
}

void scsi_itn_destroy(struct scsi_itn *itn)
{
	if (!itn)
		return;
	struct scsi_target *tgt = itn->tgt;
	pthread_mutex_lock(&tgt->lock);
	for (struct scsi_itn **pp = &tgt->itns; *pp; pp = &(*pp)->next) {
		if (*pp == itn) {
			*pp = itn->next;
			break;
		}
	}
	pthread_mutex_unlock(&tgt->lock);
	scsi_ua_itn_fini(itn);
	scsi_xcopy_itn_fini(itn);               /* EXTENDED COPY results (xcopy.c) */
	scsi_reserve_itn_gone(itn);             /* its RESERVE(6)/(10) go (reserve.c) */
	free(itn);
}

/* ---------------------------------------------------------------- task management */

/* What every reset does to a LUN: mode pages back to their saved values
 * (SPC-4 7.5.2; a write cache that goes off is flushed), the SPC-2
 * reservation released (SPC-2 5.5.1). */
static void lun_reset_state(struct scsi_lun *lu, const char *why)
{
	/* A replicated LUN's mode parameters are the Primary's (they travel in
	 * its record, pr.c): a reset through a Secondary's standby port leaves
	 * them, else the promotion's push would carry its values to both
	 * nodes; the Primary sends its new record, after the flush. */
	if (!scsi_lun_pin(lu->tgt, lu))         /* removed meanwhile: nothing to reset */
		return;
	bool repl = lu->pr && lu->pr->replicated, mode = !repl || bdev_state_writable(lu->bdev);
	if (repl)
		pthread_mutex_lock(&lu->pr->lock);
	pthread_mutex_lock(&lu->lock);
	bool cache_off = mode && atomic_load(&lu->wce) && !atomic_load(&lu->wce_saved);
	bool changed = mode && (atomic_load(&lu->wce) != atomic_load(&lu->wce_saved) ||
				atomic_load(&lu->swp) != atomic_load(&lu->swp_saved));
	if (mode) {
		atomic_store(&lu->wce, atomic_load(&lu->wce_saved));
		atomic_store(&lu->swp, atomic_load(&lu->swp_saved));
	}
	atomic_store(&lu->prevent, false);
	pthread_mutex_unlock(&lu->lock);
	if (repl)
		pthread_mutex_unlock(&lu->pr->lock);
	if (cache_off && atomic_load(&lu->cache) != TCONF_CACHE_NV)
		lun_flush_cache(lu, why, true, repl && changed);
	else if (repl && changed)
		(void)scsi_pr_record_send(lu, why);
	scsi_reserve_release_itn(lu, NULL);
	scsi_lun_unpin(lu);
}

/* SAM-5 7.7 LOGICAL UNIT RESET: every nexus gets BUS DEVICE RESET FUNCTION
 * OCCURRED on that LUN; mode pages go back to their saved values (SPC-4 7.5.2). */
void scsi_lun_reset(struct scsi_target *tgt, uint64_t lun, struct scsi_itn *from)
{
	struct scsi_lun *lu = scsi_target_find_lun(tgt, lun);
	if (!lu)
		return;
	lun_reset_state(lu, "a LUN reset restored WCE=0");
	pthread_mutex_lock(&tgt->lock);
	for (struct scsi_itn *i = tgt->itns; i; i = i->next)
		scsi_ua_establish(i, (uint32_t)lun, SCSI_UA_LUN_RESET);
	pthread_mutex_unlock(&tgt->lock);
	(void)from;
}

/* SAM-5 7.11 TARGET RESET: a hard reset of every LUN -> POWER ON, RESET. */
void scsi_target_reset(struct scsi_target *tgt, struct scsi_itn *from)
{
	for (uint32_t i = 0; i < SCSI_LUN_MAX; i++) {
		struct scsi_lun *lu = scsi_target_find_lun(tgt, i);
		if (lu)
			lun_reset_state(lu, "a target reset restored WCE=0");
	}
	pthread_mutex_lock(&tgt->lock);
	for (struct scsi_itn *i = tgt->itns; i; i = i->next)
		scsi_ua_establish(i, SCSI_UA_ALL_LUNS, SCSI_UA_POWER_ON);
	pthread_mutex_unlock(&tgt->lock);
	(void)from;
}

/* SAM-5 5.6: tasks of itn were aborted by another initiator's CLEAR TASK SET. */
void scsi_itn_tasks_cleared(struct scsi_itn *itn, uint64_t lun)
{
	if (itn && lun < SCSI_LUN_MAX)
		scsi_ua_establish(itn, (uint32_t)lun, SCSI_UA_COMMANDS_CLEARED);
}

/* ---------------------------------------------------------------- status */

void scsi_target_foreach_lun(struct scsi_target *tgt, void (*fn)(const struct scsi_lun_info *, void *), void *arg)
{
	/* Holding tgt->lock keeps LUNs from being detached (and closed) under fn. */
	pthread_mutex_lock(&tgt->lock);
	for (uint32_t i = 0; i < SCSI_LUN_MAX; i++) {
		struct scsi_lun *lu = atomic_load_explicit(&tgt->luns[i], memory_order_acquire);
		if (!lu)
			continue;
		struct scsi_lun_info info = {
			.lun = lu->id,
			.backend = lu->backend_name,
			.path = lu->path,
			.size = lu->nblocks << lu->block_shift,
			.block_size = lu->block_size,
			.cache = tconf_cache_name(lu->cache),
			.wce = atomic_load_explicit(&lu->wce, memory_order_relaxed),
			.serial = lu->serial,
			.reads = atomic_load_explicit(&lu->reads, memory_order_relaxed),
			.writes = atomic_load_explicit(&lu->writes, memory_order_relaxed),
			.read_bytes = atomic_load_explicit(&lu->read_bytes, memory_order_relaxed),
			.write_bytes = atomic_load_explicit(&lu->write_bytes, memory_order_relaxed),
			.errors = atomic_load_explicit(&lu->errors, memory_order_relaxed),
		};
		fn(&info, arg);
	}
	pthread_mutex_unlock(&tgt->lock);
}

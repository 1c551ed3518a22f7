/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replication metadata file of one LUN (repl/md.h): double-slot superblock,
 * activity-log ring and dirty bitmap, so that crashes and reconnects resync
 * only what may differ. Layout: repl/md_format.h, docs/REPLICATION_MD.md. */
#include "repl/md.h"
#include "repl/md_format.h"
#include "iscsi/param.h"
#include "util/be.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXT_ACTIVE 0x80000000u           /* ext_state: in the durable active set */
#define EXT_REFS 0x7fffffffu             /* ext_state: references held by writes */
#define WORDS_PER_PAGE (MD_BLOCK / 8u)
#define FLUSH_RUN_PAGES 64u              /* pages per pwrite when flushing */

struct md_sb {                           /* decoded superblock */
	uint64_t seq;
	uint32_t chunk;
	uint64_t dev_bytes;
	uint64_t md_id;
	struct repl_md_gen gen;
	uint32_t disk;
	uint32_t flags;
	uint32_t clean;
	uint32_t al_extent, al_capacity, al_blocks;
	uint64_t al_off;
	uint64_t al_seq;
	uint32_t al_pos;
	uint64_t bm_off, bm_bits, bm_bytes;
};

struct repl_md {
	int fd;
	char *path;
	uint64_t dev_bytes;
	uint32_t chunk;
	uint64_t md_id;
	uint64_t al_off;
	uint32_t al_blocks;
	uint64_t bm_off, bm_bits, bm_bytes;

	/* superblock state, under sb_lock */
	pthread_mutex_t sb_lock;
	struct md_sb sb;
	int cur_slot;                    /* slot holding sb (0 = A, 1 = B) */

	/* bitmap */
	_Atomic uint64_t *bm;            /* bm_bytes / 8 words */
	uint64_t bm_words;               /* words holding bits: ceil(bm_bits / 64) */
	uint64_t bm_pages;
	_Atomic uint64_t *pg_dirty;      /* one bit per bitmap page */
	_Atomic uint64_t bm_count;
	pthread_mutex_t bm_lock;         /* serialises flushes */
	uint8_t *bm_buf;                 /* FLUSH_RUN_PAGES pages */

	/* activity log */
	pthread_mutex_t al_lock;         /* activate, transaction writes */
	uint32_t n_ext;                  /* extents of the device */
	_Atomic uint32_t *ext_state;     /* EXT_ACTIVE | refs */
	_Atomic uint32_t *ext_used;      /* al_tick at last use (LRU) */
	_Atomic uint32_t al_tick;
	uint32_t *active;                /* the active set, REPL_MD_AL_EXTENTS slots */
	uint32_t al_cap;                 /* active extents at most (the superblock's al_capacity) */
	_Atomic uint32_t n_active;
	uint64_t al_seq;                 /* last transaction written */
	uint32_t al_pos;                 /* next ring block */
	_Atomic uint64_t al_seq_hint;
	_Atomic uint32_t al_pos_hint;
	uint8_t *al_buf;                 /* MD_AL_MAX_PARTS blocks */
};

uint32_t repl_md_create_al_capacity = REPL_MD_AL_EXTENTS;

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- I/O helpers ---- */

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ENODATA;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int sync_fd(int fd)
{
	int r;

	do
		r = fdatasync(fd);
	while (r < 0 && errno == EINTR);
	return r;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* CRC32C of a block whose 4-byte CRC field at crc_off counts as zero. */
static uint32_t block_crc(const uint8_t *b, size_t crc_off)
{
	static const uint8_t zero[4];
	uint32_t c = ISCSI_CRC32C_INIT;

	c = iscsi_crc32c_update(c, b, crc_off);
	c = iscsi_crc32c_update(c, zero, 4);
	c = iscsi_crc32c_update(c, b + crc_off + 4, MD_BLOCK - crc_off - 4);
	return iscsi_crc32c_final(c);
}

/* ---- superblock ---- */

static void sb_encode(const struct md_sb *s, uint8_t *b)
{
	memset(b, 0, MD_BLOCK);
	memcpy(b + MD_SB_MAGIC, MD_MAGIC, 8);
	put_be32(b + MD_SB_VERSION, MD_VERSION);
	put_be32(b + MD_SB_SLOT_BYTES, MD_BLOCK);
	put_be64(b + MD_SB_SEQ, s->seq);
	put_be32(b + MD_SB_CHUNK, s->chunk);
	put_be64(b + MD_SB_DEV_BYTES, s->dev_bytes);
	put_be64(b + MD_SB_MD_ID, s->md_id);
	put_be64(b + MD_SB_GEN_CURRENT, s->gen.current);
	put_be64(b + MD_SB_GEN_BITMAP, s->gen.bitmap);
	put_be64(b + MD_SB_GEN_HISTORY0, s->gen.history[0]);
	put_be64(b + MD_SB_GEN_HISTORY1, s->gen.history[1]);
	put_be32(b + MD_SB_DISK, s->disk);
	put_be32(b + MD_SB_FLAGS, s->flags);
	put_be32(b + MD_SB_CLEAN, s->clean);
	put_be32(b + MD_SB_AL_EXTENT, s->al_extent);
	put_be32(b + MD_SB_AL_CAPACITY, s->al_capacity);
	put_be32(b + MD_SB_AL_BLOCKS, s->al_blocks);
	put_be64(b + MD_SB_AL_OFF, s->al_off);
	put_be64(b + MD_SB_AL_SEQ, s->al_seq);
	put_be32(b + MD_SB_AL_POS, s->al_pos);
	put_be64(b + MD_SB_BM_OFF, s->bm_off);
	put_be64(b + MD_SB_BM_BITS, s->bm_bits);
	put_be64(b + MD_SB_BM_BYTES, s->bm_bytes);
	put_be32(b + MD_SB_CRC, block_crc(b, MD_SB_CRC));
}

enum sb_status { SB_OK = 0, SB_SHORT, SB_MAGIC, SB_VERSION, SB_CRC };

static enum sb_status sb_decode(const uint8_t *b, struct md_sb *s)
{
	if (memcmp(b + MD_SB_MAGIC, MD_MAGIC, 8) != 0)
		return SB_MAGIC;
	if (get_be32(b + MD_SB_VERSION) != MD_VERSION || get_be32(b + MD_SB_SLOT_BYTES) != MD_BLOCK)
		return SB_VERSION;
	if (get_be32(b + MD_SB_CRC) != block_crc(b, MD_SB_CRC))
		return SB_CRC;
	s->seq = get_be64(b + MD_SB_SEQ);
	s->chunk = get_be32(b + MD_SB_CHUNK);
	s->dev_bytes = get_be64(b + MD_SB_DEV_BYTES);
	s->md_id = get_be64(b + MD_SB_MD_ID);
	s->gen.current = get_be64(b + MD_SB_GEN_CURRENT);
	s->gen.bitmap = get_be64(b + MD_SB_GEN_BITMAP);
	s->gen.history[0] = get_be64(b + MD_SB_GEN_HISTORY0);
	s->gen.history[1] = get_be64(b + MD_SB_GEN_HISTORY1);
	s->disk = get_be32(b + MD_SB_DISK);
	s->flags = get_be32(b + MD_SB_FLAGS);
	s->clean = get_be32(b + MD_SB_CLEAN);
	s->al_extent = get_be32(b + MD_SB_AL_EXTENT);
	s->al_capacity = get_be32(b + MD_SB_AL_CAPACITY);
	s->al_blocks = get_be32(b + MD_SB_AL_BLOCKS);
	s->al_off = get_be64(b + MD_SB_AL_OFF);
	s->al_seq = get_be64(b + MD_SB_AL_SEQ);
	s->al_pos = get_be32(b + MD_SB_AL_POS);
	s->bm_off = get_be64(b + MD_SB_BM_OFF);
	s->bm_bits = get_be64(b + MD_SB_BM_BITS);
	s->bm_bytes = get_be64(b + MD_SB_BM_BYTES);
	return SB_OK;
}

static const char *sb_status_str(enum sb_status st)
{
	switch (st) {
	case SB_OK: return "valid";
	case SB_SHORT: return "missing (file too short)";
	case SB_MAGIC: return "bad magic (not tandem metadata)";
	case SB_VERSION: return "unsupported format version";
	case SB_CRC: return "checksum mismatch";
	}
	return "?";
}

/* Read both slots; the valid one with the higher sequence wins. Returns the
 * slot index, or -1 with the reason of each slot in st[]. */
static int sb_read_best(int fd, struct md_sb *out, enum sb_status st[2])
{
	uint8_t *b = aligned_alloc(MD_BLOCK, MD_BLOCK);
	struct md_sb s[2];
	int best = -1;

	if (!b) {
		st[0] = st[1] = SB_SHORT;
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (pread_full(fd, b, MD_BLOCK, i ? MD_SLOT_B_OFF : MD_SLOT_A_OFF) < 0)
			st[i] = SB_SHORT;
		else
			st[i] = sb_decode(b, &s[i]);
		if (st[i] == SB_OK && (best < 0 || s[i].seq > s[best].seq))
			best = i;
	}
	free(b);
	if (best >= 0)
		*out = s[best];
	return best;
}

/* Write s (seq already set) into slot `slot` and fdatasync. */
static int sb_write_slot(int fd, const struct md_sb *s, int slot)
{
	uint8_t *b = aligned_alloc(MD_BLOCK, MD_BLOCK);
	int r;

	if (!b)
		return -1;
	sb_encode(s, b);
	r = pwrite_full(fd, b, MD_BLOCK, slot ? MD_SLOT_B_OFF : MD_SLOT_A_OFF);
	if (r == 0)
		r = sync_fd(fd);
	free(b);
	return r;
}

/* Durable update of the superblock: next sequence into the other slot. Caller holds sb_lock. */
static int sb_commit(struct repl_md *md, struct md_sb *next)
{
	int slot = md->cur_slot ^ 1;

	next->seq = md->sb.seq + 1;
	next->al_seq = atomic_load(&md->al_seq_hint);
	next->al_pos = atomic_load(&md->al_pos_hint);
	if (sb_write_slot(md->fd, next, slot) < 0) {
		qb_log(LOG_ERR, "md %s: superblock write failed: %s", md->path, strerror(errno));
		return -1;
	}
	md->sb = *next;
	md->cur_slot = slot;
	return 0;
}

/* ---- geometry ---- */

static uint64_t bm_bits_for(uint64_t dev_bytes, uint32_t chunk)
{
	return dev_bytes / chunk + (dev_bytes % chunk != 0);
}

static uint64_t bm_bytes_for(uint64_t bits)
{
	uint64_t bytes = bits / 8 + (bits % 8 != 0);

	bytes = (bytes + MD_BLOCK - 1) / MD_BLOCK * MD_BLOCK;
	return bytes ? bytes : MD_BLOCK;
}

static bool chunk_ok(uint32_t chunk)
{
	return chunk >= 4096 && chunk <= REPL_MD_AL_EXTENT && (chunk & (chunk - 1)) == 0;
}

/* ---- generation ids ---- */

uint64_t repl_md_new_gen_id(void)
{
	uint64_t v = 0;

	while (v == 0 || v == REPL_MD_GEN_NEW_DEVICE) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			v ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
		}
	}
	return v;
}

void repl_md_gen_new_current(struct repl_md_gen *g)
{
	if (g->bitmap == 0) {
		g->bitmap = g->current;
	} else if (g->current != g->bitmap) {
		g->history[1] = g->history[0];
		g->history[0] = g->current;
	}
	g->current = repl_md_new_gen_id();
}

void repl_md_gen_bitmap_done(struct repl_md_gen *g)
{
	if (g->bitmap == 0)
		return;
	g->history[1] = g->history[0];
	g->history[0] = g->bitmap;
	g->bitmap = 0;
}

/* ---- create ---- */

static int mkdir_parents(const char *path)
{
	char *p = strdup(path);
	int r = 0;

	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			r = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return r;
}

static void fsync_parent(const char *path)
{
	char *p = strdup(path);
	char *slash;
	int fd;

	if (!p)
		return;
	slash = strrchr(p, '/');
	if (slash == p)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(p, ".");
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(p);
}

int repl_md_create(const char *path, uint64_t dev_bytes, uint32_t chunk_bytes, enum repl_disk_state disk,
		   bool force, char *err, size_t errlen)
{
	struct md_sb s;
	char *tmp = NULL;
	int fd = -1, old;

	if (!path || !*path) {
		seterr(err, errlen, "metadata path is empty");
		return -1;
	}
	if (chunk_bytes == 0)
		chunk_bytes = REPL_MD_DEFAULT_CHUNK;
	if (!chunk_ok(chunk_bytes)) {
		seterr(err, errlen, "%s: chunk size %" PRIu32 " must be a power of two between 4096 and %u",
		       path, chunk_bytes, REPL_MD_AL_EXTENT);
		return -1;
	}
	if (dev_bytes == 0 || dev_bytes / REPL_MD_AL_EXTENT >= UINT32_MAX) {
		seterr(err, errlen, "%s: unsupported device size %" PRIu64 " bytes", path, dev_bytes);
		return -1;
	}
	if (disk != REPL_DISK_INCONSISTENT && disk != REPL_DISK_UPTODATE && disk != REPL_DISK_OUTDATED) {
		seterr(err, errlen, "%s: a new disk is Inconsistent, or UpToDate with --new-device", path);
		return -1;
	}
	if (mkdir_parents(path) < 0) {
		seterr(err, errlen, "%s: cannot create parent directory: %s", path, strerror(errno));
		return -1;
	}
	old = open(path, O_RDWR | O_CLOEXEC);
	if (old >= 0) {
		struct md_sb cur;
		enum sb_status st[2];
		bool valid = sb_read_best(old, &cur, st) >= 0;

		if (flock(old, LOCK_EX | LOCK_NB) < 0) {
			seterr(err, errlen, "%s: metadata is in use by a running process", path);
			close(old);
			return -1;
		}
		close(old);
		if (valid && !force) {
			seterr(err, errlen, "%s: valid metadata exists (device %" PRIu64 " bytes); use force to overwrite",
			       path, cur.dev_bytes);
			return -1;
		}
		qb_log(LOG_WARNING, "md %s: overwriting %s", path, valid ? "existing metadata (forced)" : "a file without valid metadata");
	}

	memset(&s, 0, sizeof(s));
	s.seq = 1;
	s.chunk = chunk_bytes;
	s.dev_bytes = dev_bytes;
	s.md_id = repl_md_new_gen_id();
	if (disk != REPL_DISK_INCONSISTENT)
		s.gen.current = REPL_MD_GEN_NEW_DEVICE;
	s.disk = disk;
	s.clean = 1;
	s.al_extent = REPL_MD_AL_EXTENT;
	s.al_capacity = repl_md_create_al_capacity >= 1 && repl_md_create_al_capacity <= REPL_MD_AL_EXTENTS ?
			repl_md_create_al_capacity : REPL_MD_AL_EXTENTS;
	s.al_blocks = MD_AL_BLOCKS;
	s.al_off = MD_AL_OFF;
	s.bm_off = MD_BM_OFF;
	s.bm_bits = bm_bits_for(dev_bytes, chunk_bytes);
	s.bm_bytes = bm_bytes_for(s.bm_bits);

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		seterr(err, errlen, "%s: out of memory", path);
		return -1;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		seterr(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	/* Zero AL ring and bitmap by extending the file (sparse), then slot A. */
	if (ftruncate(fd, (off_t)(s.bm_off + s.bm_bytes)) < 0 || sb_write_slot(fd, &s, 0) < 0 ||
	    rename(tmp, path) < 0) {
		seterr(err, errlen, "%s: cannot write metadata: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	close(fd);
	free(tmp);
	fsync_parent(path);
	qb_log(LOG_NOTICE, "md %s: created for %" PRIu64 " bytes, chunk %" PRIu32 ", %" PRIu64 " bitmap bits, disk %s",
	       path, dev_bytes, chunk_bytes, s.bm_bits, disk == REPL_DISK_INCONSISTENT ? "Inconsistent" :
	       disk == REPL_DISK_UPTODATE ? "UpToDate" : "Outdated");
	return 0;
}

/* ---- bitmap ---- */

static void page_mark_dirty(struct repl_md *md, uint64_t word)
{
	uint64_t pg = word / WORDS_PER_PAGE;

	atomic_fetch_or(&md->pg_dirty[pg / 64], 1ull << (pg % 64));
}

/* The bits of [b0, b1) that lie in b0's 64-bit word: *w is that word, *n how
 * many bits the mask covers. */
static uint64_t word_mask(uint64_t b0, uint64_t b1, uint64_t *w, uint64_t *n)
{
	uint64_t lo = b0 % 64;

	*w = b0 / 64;
	*n = b1 - b0 < 64 - lo ? b1 - b0 : 64 - lo;
	return (*n == 64 ? ~0ull : ((1ull << *n) - 1)) << lo;
}

static void bits_set(struct repl_md *md, uint64_t b0, uint64_t b1)
{
	uint64_t added = 0;

	while (b0 < b1) {
		uint64_t w, n, mask = word_mask(b0, b1, &w, &n);
		uint64_t old = atomic_load_explicit(&md->bm[w], memory_order_relaxed);

		if ((old & mask) != mask) {
			old = atomic_fetch_or(&md->bm[w], mask);
			if (mask & ~old) {
				added += (uint64_t)__builtin_popcountll(mask & ~old);
				page_mark_dirty(md, w);
			}
		}
		b0 += n;
	}
	if (added)
		atomic_fetch_add(&md->bm_count, added);
}

static void bits_clear(struct repl_md *md, uint64_t b0, uint64_t b1)
{
	uint64_t removed = 0;

	while (b0 < b1) {
		uint64_t w, n, mask = word_mask(b0, b1, &w, &n);
		uint64_t old = atomic_load_explicit(&md->bm[w], memory_order_relaxed);

		if (old & mask) {
			old = atomic_fetch_and(&md->bm[w], ~mask);
			if (old & mask) {
				removed += (uint64_t)__builtin_popcountll(old & mask);
				page_mark_dirty(md, w);
			}
		}
		b0 += n;
	}
	if (removed)
		atomic_fetch_sub(&md->bm_count, removed);
}

/* Chunks touched by [off, off+len) clipped to the device: [*b0, *b1). */
static bool range_touch(const struct repl_md *md, uint64_t off, uint64_t len, uint64_t *b0, uint64_t *b1)
{
	uint64_t end;

	if (len == 0 || off >= md->dev_bytes)
		return false;
	end = len > md->dev_bytes - off ? md->dev_bytes : off + len;
	*b0 = off / md->chunk;
	*b1 = (end - 1) / md->chunk + 1;
	return true;
}

uint32_t repl_md_chunk_bytes(const struct repl_md *md) { return md->chunk; }
uint64_t repl_md_bm_bits(const struct repl_md *md) { return md->bm_bits; }

void repl_md_bm_set(struct repl_md *md, uint64_t off, uint64_t len)
{
	uint64_t b0, b1;

	if (range_touch(md, off, len, &b0, &b1))
		bits_set(md, b0, b1);
}

void repl_md_bm_set_all(struct repl_md *md)
{
	bits_set(md, 0, md->bm_bits);
}

void repl_md_bm_clear(struct repl_md *md, uint64_t off, uint64_t len)
{
	uint64_t end, b0, b1;

	if (len == 0 || off >= md->dev_bytes)
		return;
	end = len > md->dev_bytes - off ? md->dev_bytes : off + len;
	b0 = off / md->chunk + (off % md->chunk != 0);
	/* the device's last, partial chunk is fully covered when the range reaches the end */
	b1 = end == md->dev_bytes ? md->bm_bits : end / md->chunk;
	if (b0 < b1)
		bits_clear(md, b0, b1);
}

bool repl_md_bm_test(const struct repl_md *md, uint64_t off, uint64_t len)
{
	uint64_t b0, b1;

	if (!range_touch(md, off, len, &b0, &b1))
		return false;
	while (b0 < b1) {
		uint64_t w, n, mask = word_mask(b0, b1, &w, &n);

		if (atomic_load_explicit(&md->bm[w], memory_order_relaxed) & mask)
			return true;
		b0 += n;
	}
	return false;
}

uint64_t repl_md_bm_count(const struct repl_md *md)
{
	return atomic_load(&md->bm_count);
}

uint64_t repl_md_bm_next(const struct repl_md *md, uint64_t bit)
{
	uint64_t w, v;

	if (bit >= md->bm_bits)
		return UINT64_MAX;
	w = bit / 64;
	v = atomic_load_explicit(&md->bm[w], memory_order_relaxed) & (~0ull << (bit % 64));
	while (v == 0) {
		if (++w >= md->bm_words)
			return UINT64_MAX;
		v = atomic_load_explicit(&md->bm[w], memory_order_relaxed);
	}
	bit = w * 64 + (uint64_t)__builtin_ctzll(v);
	return bit < md->bm_bits ? bit : UINT64_MAX;
}

/* Write the dirty pages in [p0, p1) (no sync). Caller holds bm_lock.
 * Returns pages written, -1 on error (pages stay dirty). */
static int64_t bm_write_pages(struct repl_md *md, uint64_t p0, uint64_t p1)
{
	int64_t written = 0;
	uint64_t p = p0;

	while (p < p1) {
		uint64_t run = 0;

		/* collect a run of consecutive dirty pages, clearing their dirty bit
		 * BEFORE reading the words: a concurrent set re-marks the page */
		while (p + run < p1 && run < FLUSH_RUN_PAGES) {
			uint64_t q = p + run, m = 1ull << (q % 64);
			if (!(atomic_fetch_and(&md->pg_dirty[q / 64], ~m) & m))
				break;
			for (uint64_t i = 0; i < WORDS_PER_PAGE; i++)
				put_le64(md->bm_buf + run * MD_BLOCK + i * 8,
					 atomic_load(&md->bm[q * WORDS_PER_PAGE + i]));
			run++;
		}
		if (run == 0) {
			p++;
			continue;
		}
		if (pwrite_full(md->fd, md->bm_buf, run * MD_BLOCK, md->bm_off + p * MD_BLOCK) < 0) {
			int e = errno;
			for (uint64_t i = 0; i < run; i++)
				atomic_fetch_or(&md->pg_dirty[(p + i) / 64], 1ull << ((p + i) % 64));
			qb_log(LOG_ERR, "md %s: bitmap write failed: %s", md->path, strerror(e));
			errno = e;
			return -1;
		}
		written += (int64_t)run;
		p += run;
	}
	return written;
}

static void bm_redirty(struct repl_md *md, uint64_t p0, uint64_t p1)
{
	for (uint64_t p = p0; p < p1; p++)
		atomic_fetch_or(&md->pg_dirty[p / 64], 1ull << (p % 64));
}

/* Flush pages [p0, p1) durably. */
static int bm_flush_range(struct repl_md *md, uint64_t p0, uint64_t p1)
{
	int64_t n;
	int r = 0;

	pthread_mutex_lock(&md->bm_lock);
	n = bm_write_pages(md, p0, p1);
	if (n < 0) {
		r = -1;
	} else if (n > 0 && sync_fd(md->fd) < 0) {
		qb_log(LOG_ERR, "md %s: bitmap fdatasync failed: %s", md->path, strerror(errno));
		/* which pages made it is unknown: write them all again next time */
		bm_redirty(md, p0, p1);
		r = -1;
	}
	pthread_mutex_unlock(&md->bm_lock);
	return r;
}

int repl_md_bm_flush(struct repl_md *md)
{
	return bm_flush_range(md, 0, md->bm_pages);
}

/* ---- activity log ---- */

static void ext_range(const struct repl_md *md, uint64_t off, uint64_t len, uint32_t *e0, uint32_t *e1)
{
	uint64_t end = len > md->dev_bytes - off ? md->dev_bytes : off + len;

	*e0 = (uint32_t)(off / REPL_MD_AL_EXTENT);
	*e1 = (uint32_t)((end - 1) / REPL_MD_AL_EXTENT + 1);
}

static void ext_touch(struct repl_md *md, uint32_t e)
{
	uint32_t t = atomic_load_explicit(&md->al_tick, memory_order_relaxed);

	if (atomic_load_explicit(&md->ext_used[e], memory_order_relaxed) != t)
		atomic_store_explicit(&md->ext_used[e], t, memory_order_relaxed);
}

/* Take a reference if the extent is active. */
static bool ext_get(struct repl_md *md, uint32_t e)
{
	uint32_t s = atomic_load(&md->ext_state[e]);

	do {
		if (!(s & EXT_ACTIVE))
			return false;
		if ((s & EXT_REFS) == EXT_REFS)
			return false;
	} while (!atomic_compare_exchange_weak(&md->ext_state[e], &s, s + 1));
	return true;
}

static void ext_put(struct repl_md *md, uint32_t e)
{
	uint32_t s = atomic_fetch_sub(&md->ext_state[e], 1);

	if ((s & EXT_REFS) == 0) {
		atomic_fetch_add(&md->ext_state[e], 1);
		qb_log(LOG_ERR, "md %s: activity log extent %" PRIu32 " released more often than taken", md->path, e);
	}
}

bool repl_md_al_hot(struct repl_md *md, uint64_t off, uint64_t len)
{
	uint32_t e0, e1;

	if (len == 0 || off >= md->dev_bytes)
		return true;
	ext_range(md, off, len, &e0, &e1);
	for (uint32_t e = e0; e < e1; e++) {
		if (!ext_get(md, e)) {
			while (e-- > e0)
				ext_put(md, e);
			return false;
		}
		ext_touch(md, e);
	}
	return true;
}

void repl_md_al_done(struct repl_md *md, uint64_t off, uint64_t len)
{
	uint32_t e0, e1;

	if (len == 0 || off >= md->dev_bytes)
		return;
	ext_range(md, off, len, &e0, &e1);
	for (uint32_t e = e0; e < e1; e++)
		ext_put(md, e);
}

bool repl_md_al_pin(struct repl_md *md, uint64_t off)
{
	if (off >= md->dev_bytes)
		return false;
	return ext_get(md, (uint32_t)(off / REPL_MD_AL_EXTENT));
}

void repl_md_al_unpin(struct repl_md *md, uint64_t off)
{
	if (off < md->dev_bytes)
		ext_put(md, (uint32_t)(off / REPL_MD_AL_EXTENT));
}

bool repl_md_al_contains(const struct repl_md *md, uint64_t off)
{
	return off < md->dev_bytes &&
	       (atomic_load(&md->ext_state[off / REPL_MD_AL_EXTENT]) & EXT_ACTIVE);
}

uint32_t repl_md_al_active(const struct repl_md *md)
{
	return atomic_load(&md->n_active);
}

/* Write the active set as transaction al_seq + 1 and fdatasync. Caller holds al_lock. */
static int al_write_txn(struct repl_md *md, const uint32_t *set, uint32_t n)
{
	uint32_t parts = n == 0 ? 1 : (n + MD_AL_PER_BLOCK - 1) / MD_AL_PER_BLOCK;
	uint64_t seq = md->al_seq + 1;
	uint32_t pos = md->al_pos;

	if (pos + parts > md->al_blocks)
		pos = 0;
	memset(md->al_buf, 0, (size_t)parts * MD_BLOCK);
	for (uint32_t p = 0, i = 0; p < parts; p++) {
		uint8_t *b = md->al_buf + (size_t)p * MD_BLOCK;
		uint32_t k = n - i < MD_AL_PER_BLOCK ? n - i : MD_AL_PER_BLOCK;

		memcpy(b + MD_AL_MAGIC_OFF, MD_AL_MAGIC, 8);
		put_be64(b + MD_AL_MD_ID, md->md_id);
		put_be64(b + MD_AL_SEQ, seq);
		put_be16(b + MD_AL_PART, (uint16_t)p);
		put_be16(b + MD_AL_PARTS, (uint16_t)parts);
		put_be32(b + MD_AL_TOTAL, n);
		put_be32(b + MD_AL_COUNT, k);
		for (uint32_t j = 0; j < k; j++)
			put_be32(b + MD_AL_EXTENTS_OFF + 4 * j, set[i + j]);
		put_be32(b + MD_AL_CRC, block_crc(b, MD_AL_CRC));
		i += k;
	}
	if (pwrite_full(md->fd, md->al_buf, (size_t)parts * MD_BLOCK, md->al_off + (uint64_t)pos * MD_BLOCK) < 0 ||
	    sync_fd(md->fd) < 0) {
		qb_log(LOG_ERR, "md %s: activity log write failed: %s", md->path, strerror(errno));
		/* the ring block may be torn: never reuse this sequence number */
		md->al_seq = seq;
		md->al_pos = pos + parts;
		return -1;
	}
	md->al_seq = seq;
	md->al_pos = pos + parts;
	atomic_store(&md->al_seq_hint, md->al_seq);
	atomic_store(&md->al_pos_hint, md->al_pos);
	return 0;
}

/* Index in md->active of the least recently used idle extent not yet claimed;
 * claims it (ACTIVE -> 0) so no fast path can take a reference. -1 if none. */
static int al_claim_victim(struct repl_md *md, const uint8_t *claimed)
{
	uint32_t n = atomic_load(&md->n_active);

	for (;;) {
		int best = -1;
		uint32_t best_age = 0, tick = atomic_load(&md->al_tick);

		for (uint32_t i = 0; i < n; i++) {
			uint32_t e = md->active[i];
			uint32_t age;

			if (claimed[i] || atomic_load(&md->ext_state[e]) != EXT_ACTIVE)
				continue;
			age = tick - atomic_load_explicit(&md->ext_used[e], memory_order_relaxed);
			if (best < 0 || age > best_age) {
				best = (int)i;
				best_age = age;
			}
		}
		if (best < 0)
			return -1;
		uint32_t expect = EXT_ACTIVE;
		if (atomic_compare_exchange_strong(&md->ext_state[md->active[best]], &expect, 0))
			return best;
		/* a fast path took a reference meanwhile: look again */
	}
}

int repl_md_al_activate(struct repl_md *md, uint64_t off, uint64_t len)
{
	uint32_t e0, e1, need = 0, n, evict_n = 0;
	uint32_t *newset = NULL, *evicted = NULL;
	uint8_t *claimed = NULL;
	int r = -1, err = 0;

	if (len == 0 || off >= md->dev_bytes)
		return 0;
	ext_range(md, off, len, &e0, &e1);
	if (e1 - e0 > md->al_cap) {
		errno = E2BIG;
		return -1;
	}
	pthread_mutex_lock(&md->al_lock);
	atomic_fetch_add(&md->al_tick, 1);
	n = atomic_load(&md->n_active);
	/* references on extents already active: they cannot be evicted now */
	for (uint32_t e = e0; e < e1; e++) {
		if (ext_get(md, e))
			ext_touch(md, e);
		else
			need++;
	}
	if (need == 0) {
		pthread_mutex_unlock(&md->al_lock);
		return 0;
	}
	newset = malloc(sizeof(*newset) * REPL_MD_AL_EXTENTS);
	evicted = malloc(sizeof(*evicted) * REPL_MD_AL_EXTENTS);
	claimed = calloc(REPL_MD_AL_EXTENTS, 1);
	if (!newset || !evicted || !claimed) {
		err = ENOMEM;
		goto undo;
	}
	while (n - evict_n + need > md->al_cap) {
		int v = al_claim_victim(md, claimed);
		if (v < 0) {
			/* log full of extents in use or pinned: retry after
			 * al_done or al_unpin (the caller waits for one) */
			err = EAGAIN;
			goto undo;
		}
		claimed[v] = 1;
		evicted[evict_n++] = md->active[v];
	}
	/* the bitmap must hold what was written in an extent before the AL forgets it */
	if (evict_n) {
		uint64_t cpe = REPL_MD_AL_EXTENT / md->chunk;  /* chunks per extent */
		for (uint32_t i = 0; i < evict_n; i++) {
			uint64_t b0 = evicted[i] * cpe, b1 = b0 + cpe;
			uint64_t p0 = b0 / MD_BM_BITS_PER_PAGE, p1 = (b1 - 1) / MD_BM_BITS_PER_PAGE + 1;
			if (p1 > md->bm_pages)
				p1 = md->bm_pages;
			if (bm_flush_range(md, p0, p1) < 0) {
				err = errno;
				goto undo;
			}
		}
	}
	{
		uint32_t m = 0;
		for (uint32_t i = 0; i < n; i++)
			if (!claimed[i])
				newset[m++] = md->active[i];
		for (uint32_t e = e0; e < e1; e++)
			if (!(atomic_load(&md->ext_state[e]) & EXT_ACTIVE))
				newset[m++] = e;
		if (al_write_txn(md, newset, m) < 0) {
			err = errno;
			/* the new transaction may be on disk (its fdatasync
			 * failed after the write): the evicted extents are not
			 * "still in the durable log" then. Forget them here too
			 * (the set without them heads newset; their bitmap pages
			 * are written, above): the active set stays a subset of
			 * whichever transaction survived, and undo restores none. */
			memcpy(md->active, newset, sizeof(*newset) * (n - evict_n));
			atomic_store(&md->n_active, n - evict_n);
			memset(claimed, 0, n);
			goto undo;
		}
		/* durable: publish. New extents become active with our reference. */
		uint32_t tick = atomic_load(&md->al_tick);
		for (uint32_t i = n - evict_n; i < m; i++) {
			atomic_store_explicit(&md->ext_used[newset[i]], tick, memory_order_relaxed);
			atomic_store(&md->ext_state[newset[i]], EXT_ACTIVE | 1u);
		}
		memcpy(md->active, newset, sizeof(*newset) * m);
		atomic_store(&md->n_active, m);
	}
	r = 0;
	goto out;
undo:
	for (uint32_t i = 0; i < REPL_MD_AL_EXTENTS && i < n; i++)
		if (claimed && claimed[i])
			atomic_store(&md->ext_state[md->active[i]], EXT_ACTIVE);   /* still in the durable log */
	for (uint32_t e = e0; e < e1; e++)
		if (atomic_load(&md->ext_state[e]) & EXT_ACTIVE)
			ext_put(md, e);
out:
	pthread_mutex_unlock(&md->al_lock);
	free(newset);
	free(evicted);
	free(claimed);
	if (r < 0)
		errno = err;
	return r;
}

void repl_md_al_to_bitmap(struct repl_md *md)
{
	pthread_mutex_lock(&md->al_lock);
	for (uint32_t i = 0; i < atomic_load(&md->n_active); i++)
		repl_md_bm_set(md, (uint64_t)md->active[i] * REPL_MD_AL_EXTENT, REPL_MD_AL_EXTENT);
	pthread_mutex_unlock(&md->al_lock);
}

/* Find the latest complete transaction in the ring, make its extents the
 * (idle) active set and set al_seq/al_pos; with replay, also mark each of its
 * extents dirty in the bitmap. Returns the number of extents found. */
static uint32_t al_load(struct repl_md *md, bool replay)
{
	uint8_t *ring = aligned_alloc(MD_BLOCK, (size_t)md->al_blocks * MD_BLOCK);
	bool *ok = calloc(md->al_blocks, sizeof(bool));
	uint64_t best_seq = 0, max_seq = 0;
	int best = -1;
	uint32_t n = 0, found = 0;

	if (!ring || !ok)
		goto out;
	if (pread_full(md->fd, ring, (size_t)md->al_blocks * MD_BLOCK, md->al_off) < 0) {
		qb_log(LOG_WARNING, "md %s: cannot read activity log: %s", md->path, strerror(errno));
		goto out;
	}
	for (uint32_t i = 0; i < md->al_blocks; i++) {
		const uint8_t *b = ring + (size_t)i * MD_BLOCK;
		uint32_t parts = get_be16(b + MD_AL_PARTS), part = get_be16(b + MD_AL_PART);
		uint32_t total = get_be32(b + MD_AL_TOTAL), k = get_be32(b + MD_AL_COUNT);

		ok[i] = memcmp(b + MD_AL_MAGIC_OFF, MD_AL_MAGIC, 8) == 0 && get_be64(b + MD_AL_MD_ID) == md->md_id &&
			get_be32(b + MD_AL_CRC) == block_crc(b, MD_AL_CRC) && parts >= 1 && part < parts &&
			parts <= MD_AL_MAX_PARTS && k <= MD_AL_PER_BLOCK && total <= parts * MD_AL_PER_BLOCK;
		if (ok[i] && get_be64(b + MD_AL_SEQ) > max_seq)
			max_seq = get_be64(b + MD_AL_SEQ);
	}
	/* complete: part 0 and its followers valid, same seq and total, counts add up */
	for (uint32_t i = 0; i < md->al_blocks; i++) {
		const uint8_t *b = ring + (size_t)i * MD_BLOCK;
		uint64_t seq;
		uint32_t parts, total, sum = 0;
		bool complete = true;

		if (!ok[i] || get_be16(b + MD_AL_PART) != 0)
			continue;
		seq = get_be64(b + MD_AL_SEQ);
		parts = get_be16(b + MD_AL_PARTS);
		total = get_be32(b + MD_AL_TOTAL);
		if (i + parts > md->al_blocks)
			continue;
		for (uint32_t p = 0; p < parts; p++) {
			const uint8_t *q = ring + (size_t)(i + p) * MD_BLOCK;
			if (!ok[i + p] || get_be64(q + MD_AL_SEQ) != seq || get_be16(q + MD_AL_PART) != p ||
			    get_be32(q + MD_AL_TOTAL) != total) {
				complete = false;
				break;
			}
			sum += get_be32(q + MD_AL_COUNT);
		}
		if (complete && sum == total && (best < 0 || seq > best_seq)) {
			best = (int)i;
			best_seq = seq;
		}
	}
	md->al_seq = max_seq;
	md->al_pos = 0;
	if (best >= 0) {
		const uint8_t *b = ring + (size_t)best * MD_BLOCK;
		uint32_t parts = get_be16(b + MD_AL_PARTS);

		md->al_pos = (uint32_t)best + parts;
		for (uint32_t p = 0; p < parts; p++) {
			const uint8_t *q = b + (size_t)p * MD_BLOCK;
			uint32_t k = get_be32(q + MD_AL_COUNT);

			for (uint32_t j = 0; j < k; j++) {
				uint32_t e = get_be32(q + MD_AL_EXTENTS_OFF + 4 * j);

				if (e >= md->n_ext)
					continue;
				found++;
				if (replay)
					repl_md_bm_set(md, (uint64_t)e * REPL_MD_AL_EXTENT, REPL_MD_AL_EXTENT);
				if (n < md->al_cap && !(atomic_load(&md->ext_state[e]) & EXT_ACTIVE)) {
					md->active[n++] = e;
					atomic_store(&md->ext_state[e], EXT_ACTIVE);
				}
			}
		}
	}
	if (md->al_pos >= md->al_blocks)
		md->al_pos = 0;
out:
	free(ring);
	free(ok);
	atomic_store(&md->n_active, n);
	return found;
}

/* ---- open / close ---- */

static void md_free(struct repl_md *md)
{
	if (!md)
		return;
	if (md->fd >= 0)
		close(md->fd);
	free(md->path);
	free(md->bm);
	free(md->pg_dirty);
	free(md->bm_buf);
	free(md->ext_state);
	free(md->ext_used);
	free(md->active);
	free(md->al_buf);
	pthread_mutex_destroy(&md->sb_lock);
	pthread_mutex_destroy(&md->bm_lock);
	pthread_mutex_destroy(&md->al_lock);
	free(md);
}

int repl_md_dev_bytes(const char *path, uint64_t *dev_bytes)
{
	struct md_sb s;
	enum sb_status st[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	int slot = sb_read_best(fd, &s, st);
	close(fd);
	if (slot < 0)
		return -1;
	*dev_bytes = s.dev_bytes;
	return 0;
}

struct repl_md *repl_md_open(const char *path, uint64_t dev_bytes, char *err, size_t errlen)
{
	struct repl_md *md = NULL;
	struct md_sb s;
	enum sb_status st[2];
	struct stat stbuf;
	uint8_t *page;
	int fd, slot;
	bool crashed;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, errlen, "%s: cannot open metadata: %s", path, strerror(errno));
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		seterr(err, errlen, "%s: metadata is in use by another process", path);
		close(fd);
		return NULL;
	}
	slot = sb_read_best(fd, &s, st);
	if (slot < 0) {
		seterr(err, errlen, "%s: no valid superblock (slot A: %s, slot B: %s)", path,
		       sb_status_str(st[0]), sb_status_str(st[1]));
		close(fd);
		return NULL;
	}
	if (s.dev_bytes != dev_bytes) {
		seterr(err, errlen, "%s: metadata was created for a device of %" PRIu64 " bytes, the device has %" PRIu64
		       " bytes (recreate the metadata after a resize)", path, s.dev_bytes, dev_bytes);
		close(fd);
		return NULL;
	}
	if (fstat(fd, &stbuf) < 0 || !chunk_ok(s.chunk) || s.bm_bits != bm_bits_for(s.dev_bytes, s.chunk) ||
	    s.bm_bytes != bm_bytes_for(s.bm_bits) || s.al_extent != REPL_MD_AL_EXTENT || s.al_blocks < 2 * MD_AL_MAX_PARTS + 1 ||
	    s.al_blocks > 4096 || s.al_off < 2 * MD_BLOCK || s.al_off % MD_BLOCK || s.bm_off % MD_BLOCK ||
	    s.bm_off < s.al_off + (uint64_t)s.al_blocks * MD_BLOCK || s.disk > REPL_DISK_UPTODATE ||
	    s.dev_bytes / REPL_MD_AL_EXTENT >= UINT32_MAX || s.al_capacity < 1 || s.al_capacity > REPL_MD_AL_EXTENTS) {
		seterr(err, errlen, "%s: superblock geometry is inconsistent (chunk %" PRIu32 ", %" PRIu64 " bits)",
		       path, s.chunk, s.bm_bits);
		close(fd);
		return NULL;
	}
	if ((uint64_t)stbuf.st_size < s.bm_off + s.bm_bytes) {
		seterr(err, errlen, "%s: file is truncated (%" PRIu64 " bytes, needs %" PRIu64 ")", path,
		       (uint64_t)stbuf.st_size, s.bm_off + s.bm_bytes);
		close(fd);
		return NULL;
	}

	md = calloc(1, sizeof(*md));
	if (!md) {
		close(fd);
		seterr(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	pthread_mutex_init(&md->sb_lock, NULL);
	pthread_mutex_init(&md->bm_lock, NULL);
	pthread_mutex_init(&md->al_lock, NULL);
	md->fd = fd;
	md->path = strdup(path);
	md->dev_bytes = dev_bytes;
	md->chunk = s.chunk;
	md->md_id = s.md_id;
	md->al_off = s.al_off;
	md->al_blocks = s.al_blocks;
	md->bm_off = s.bm_off;
	md->bm_bits = s.bm_bits;
	md->bm_bytes = s.bm_bytes;
	md->bm_words = (s.bm_bits + 63) / 64;
	md->bm_pages = s.bm_bytes / MD_BLOCK;
	md->sb = s;
	md->cur_slot = slot;
	md->n_ext = (uint32_t)((dev_bytes + REPL_MD_AL_EXTENT - 1) / REPL_MD_AL_EXTENT);
	md->al_cap = s.al_capacity;
	md->bm = aligned_alloc(64, s.bm_bytes);
	md->pg_dirty = calloc((md->bm_pages + 63) / 64, sizeof(uint64_t));
	md->bm_buf = aligned_alloc(MD_BLOCK, (size_t)FLUSH_RUN_PAGES * MD_BLOCK);
	md->ext_state = calloc(md->n_ext, sizeof(uint32_t));
	md->ext_used = calloc(md->n_ext, sizeof(uint32_t));
	md->active = calloc(REPL_MD_AL_EXTENTS, sizeof(uint32_t));
	md->al_buf = aligned_alloc(MD_BLOCK, (size_t)MD_AL_MAX_PARTS * MD_BLOCK);
	if (!md->path || !md->bm || !md->pg_dirty || !md->bm_buf || !md->ext_state || !md->ext_used || !md->active ||
	    !md->al_buf) {
		seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}

	/* bitmap */
	page = md->bm_buf;
	for (uint64_t p = 0; p < md->bm_pages; p++) {
		if (pread_full(fd, page, MD_BLOCK, md->bm_off + p * MD_BLOCK) < 0) {
			seterr(err, errlen, "%s: cannot read bitmap: %s", path, strerror(errno));
			goto fail;
		}
		for (uint64_t i = 0; i < WORDS_PER_PAGE; i++)
			atomic_init(&md->bm[p * WORDS_PER_PAGE + i], get_le64(page + i * 8));
	}
	/* bits past the device end must be zero (the file may have been damaged) */
	for (uint64_t w = md->bm_words; w < md->bm_bytes / 8; w++)
		atomic_store(&md->bm[w], 0);
	if (md->bm_bits % 64)
		atomic_fetch_and(&md->bm[md->bm_words - 1], (1ull << (md->bm_bits % 64)) - 1);
	{
		uint64_t count = 0;
		for (uint64_t w = 0; w < md->bm_words; w++)
			count += (uint64_t)__builtin_popcountll(atomic_load(&md->bm[w]));
		atomic_store(&md->bm_count, count);
	}

	/* activity log */
	crashed = !s.clean;
	{
		uint64_t before = repl_md_bm_count(md);
		uint32_t n = al_load(md, crashed);

		atomic_store(&md->al_seq_hint, md->al_seq);
		atomic_store(&md->al_pos_hint, md->al_pos);
		if (crashed) {
			qb_log(LOG_WARNING, "md %s: unclean shutdown%s: %" PRIu32 " activity-log extents replayed, "
			       "%" PRIu64 " bits newly dirty", path, (s.flags & REPL_MD_F_PRIMARY) ? " while Primary" : "",
			       n, repl_md_bm_count(md) - before);
			if (repl_md_bm_flush(md) < 0) {
				seterr(err, errlen, "%s: cannot write bitmap: %s", path, strerror(errno));
				goto fail;
			}
		}
	}

	/* mark unclean while open; the node starts Secondary */
	{
		struct md_sb next = md->sb;
		if (crashed && (next.flags & REPL_MD_F_PRIMARY))
			next.flags |= REPL_MD_F_CRASHED_PRIMARY;
		next.flags &= ~(uint32_t)REPL_MD_F_PRIMARY;
		next.clean = 0;
		if (sb_commit(md, &next) < 0) {
			seterr(err, errlen, "%s: cannot write superblock: %s", path, strerror(errno));
			goto fail;
		}
	}
	qb_log(LOG_INFO, "md %s: open, gen %016" PRIx64 ":%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64
	       " disk %u flags 0x%x, %" PRIu64 " of %" PRIu64 " bits dirty", path, md->sb.gen.current,
	       md->sb.gen.bitmap, md->sb.gen.history[0], md->sb.gen.history[1], md->sb.disk, md->sb.flags,
	       repl_md_bm_count(md), md->bm_bits);
	return md;
fail:
	md_free(md);
	return NULL;
}

int repl_md_close(struct repl_md *md)
{
	int r = 0;

	if (!md)
		return 0;
	for (uint32_t i = 0; i < atomic_load(&md->n_active); i++)
		if (atomic_load(&md->ext_state[md->active[i]]) & EXT_REFS)
			qb_log(LOG_WARNING, "md %s: closing with writes in flight on extent %" PRIu32, md->path,
			       md->active[i]);
	if (repl_md_bm_flush(md) < 0) {
		r = -1;
	} else {
		pthread_mutex_lock(&md->sb_lock);
		struct md_sb next = md->sb;
		next.clean = 1;
		if (sb_commit(md, &next) < 0)
			r = -1;
		pthread_mutex_unlock(&md->sb_lock);
	}
	if (r < 0)
		qb_log(LOG_ERR, "md %s: closed without marking clean: the next open replays the activity log", md->path);
	md_free(md);
	return r;
}

void repl_md_free_unclean(struct repl_md *md)
{
	md_free(md);
}

/* ---- state ---- */

/* The lock protects a const object's mutable state: readers take it too. */
static pthread_mutex_t *sb_lock(const struct repl_md *md)
{
	return (pthread_mutex_t *)&md->sb_lock;
}

struct repl_md_gen repl_md_get_gen(const struct repl_md *md)
{
	struct repl_md_gen g;

	pthread_mutex_lock(sb_lock(md));
	g = md->sb.gen;
	pthread_mutex_unlock(sb_lock(md));
	return g;
}

enum repl_disk_state repl_md_get_disk(const struct repl_md *md)
{
	enum repl_disk_state d;

	pthread_mutex_lock(sb_lock(md));
	d = (enum repl_disk_state)md->sb.disk;
	pthread_mutex_unlock(sb_lock(md));
	return d;
}

uint32_t repl_md_get_flags(const struct repl_md *md)
{
	uint32_t f;

	pthread_mutex_lock(sb_lock(md));
	f = md->sb.flags;
	pthread_mutex_unlock(sb_lock(md));
	return f;
}

int repl_md_set(struct repl_md *md, const struct repl_md_gen *gen, enum repl_disk_state disk, uint32_t flags)
{
	struct md_sb next;
	int r;

	if (disk > REPL_DISK_UPTODATE) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&md->sb_lock);
	next = md->sb;
	next.gen = *gen;
	next.disk = disk;
	next.flags = flags;
	r = sb_commit(md, &next);
	pthread_mutex_unlock(&md->sb_lock);
	return r;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The peer's volatile write cache (docs/REPLICATION.md "Volatile caches").
 *
 * A mirrored write without FUA (cache: write-back) is acknowledged by the peer
 * once it completed there, i.e. possibly only in its disk's volatile cache. If
 * the peer then loses power, those writes are gone from its disk while its
 * metadata still says UpToDate, and the Primary, which forgot them at the
 * acknowledgement, would never resync them (DRBD keeps such writes in its
 * transfer log until the peer's barrier acknowledgement; this is the same
 * idea, in regions). So the Primary records the regions the peer acknowledged
 * without FUA (vc[0]); a FLUSH sent to the peer covers everything acknowledged
 * before it was sent (moved to vc[1], cleared when no flush is in flight any
 * more); a lost link marks what is left out of sync and counts the peer as
 * possibly behind (the outdate bump, through the fence gate like a write that
 * missed the peer). To keep that set small when the initiator never flushes
 * (ESXi passes no guest flushes down), the Primary sends the peer a FLUSH of
 * its own every REPL_VC_FLUSH_MS while something is recorded.
 *
 * The same regions keep their activity-log extents in the log (pinned) until
 * the flush covers them: a crash of this node replays the log, so the resync
 * after it includes them even when the peer lost its cache at the same
 * moment (a power loss of both nodes) and no link loss was ever noticed to
 * mark them. Without the pins the log could evict such an extent first (it
 * holds 1024 extents, fewer than random writes touch in a second), and the
 * two copies of a region would differ with no record of it. When the log is
 * full of pinned extents, a write that needs a new one waits and the Primary
 * flushes the peer at once (repl_mirror.c, al_wait). DRBD keeps such writes'
 * activity-log references until the peer's barrier acknowledgement.
 *
 * Everything here runs on the repl reactor. */
#include <stdlib.h>
#include <string.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/log.h"

#define REPL_VC_MAX_BITS (1u << 20)     /* at most 128 KiB per set: coarser regions on huge LUNs */

unsigned repl_vc_flush_ms = REPL_VC_FLUSH_MS;

static bool pin_test(const struct repl_vol *v, int k, uint64_t e)
{
	return v->pin_bits[k][e / 64] & (1ull << (e % 64));
}

static void pin_bit(struct repl_vol *v, int k, uint64_t e, bool on)
{
	if (on)
		v->pin_bits[k][e / 64] |= 1ull << (e % 64);
	else
		v->pin_bits[k][e / 64] &= ~(1ull << (e % 64));
}

/* Pin extent e for set k, once. Its extent is active: the acknowledged write
 * still holds its own reference. */
static void pin_add(struct repl_vol *v, int k, uint64_t e)
{
	if (e / 64 >= v->pin_words || pin_test(v, k, e) || v->pin_n[k] >= REPL_MD_AL_EXTENTS)
		return;
	if (!repl_md_al_pin(v->md, e * REPL_MD_AL_EXTENT))
		return;
	pin_bit(v, k, e, true);
	v->pin_list[k][v->pin_n[k]++] = (uint32_t)e;
}

/* Unpin every extent of set k (the flush covering them completed, or what
 * they hold is marked in the bitmap). */
static void pins_release(struct repl_vol *v, int k)
{
	for (uint32_t i = 0; i < v->pin_n[k]; i++) {
		uint32_t e = v->pin_list[k][i];

		pin_bit(v, k, e, false);
		repl_md_al_unpin(v->md, (uint64_t)e * REPL_MD_AL_EXTENT);
	}
	v->pin_n[k] = 0;
}

uint32_t repl_vc_pinned(const struct repl_vol *v)
{
	return v->pin_n[0] + v->pin_n[1];
}

static void pins_free(struct repl_vol *v)
{
	for (int k = 0; k < 2; k++) {
		free(v->pin_bits[k]);
		free(v->pin_list[k]);
		v->pin_bits[k] = NULL;
		v->pin_list[k] = NULL;
		v->pin_n[k] = 0;
	}
	v->pin_words = 0;
}

/* Fresh pin sets for a volume that attaches: its metadata is newly open and
 * holds no pin (a detach released them with the link, repl_vc_lost). */
static int pins_init(struct repl_vol *v)
{
	size_t words = (size_t)((v->size + REPL_MD_AL_EXTENT - 1) / REPL_MD_AL_EXTENT + 63) / 64;

	pins_free(v);
	for (int k = 0; k < 2; k++) {
		v->pin_bits[k] = calloc(words ? words : 1, sizeof(uint64_t));
		v->pin_list[k] = calloc(REPL_MD_AL_EXTENTS, sizeof(uint32_t));
		if (!v->pin_bits[k] || !v->pin_list[k]) {
			pins_free(v);
			return -1;
		}
	}
	v->pin_words = words;
	return 0;
}

int repl_vc_init(struct repl_vol *v)
{
	uint32_t shift = 16;

	while (shift < 40 && (v->size >> shift) >= REPL_VC_MAX_BITS)
		shift++;
	while ((1ull << shift) < v->chunk)          /* never finer than the bitmap's chunk */
		shift++;
	uint64_t nbits = (v->size + (1ull << shift) - 1) >> shift;
	size_t words = (size_t)((nbits + 63) / 64);

	if (!v->vc[0] || v->vc_words != words) {
		free(v->vc[0]);
		free(v->vc[1]);
		v->vc[0] = calloc(words ? words : 1, sizeof(uint64_t));
		v->vc[1] = calloc(words ? words : 1, sizeof(uint64_t));
		if (!v->vc[0] || !v->vc[1]) {
			free(v->vc[0]);
			free(v->vc[1]);
			v->vc[0] = v->vc[1] = NULL;
			v->vc_words = 0;
			return -1;
		}
		v->vc_words = words;
	} else {
		memset(v->vc[0], 0, words * sizeof(uint64_t));
		memset(v->vc[1], 0, words * sizeof(uint64_t));
	}
	v->vc_shift = shift;
	v->vc_any[0] = v->vc_any[1] = false;
	v->vc_flushes = 0;
	v->vc_last_flush_ms = reactor_now_ms();     /* the first one a period after the open */
	if (pins_init(v) < 0) {
		repl_vc_free(v);
		return -1;
	}
	return 0;
}

void repl_vc_free(struct repl_vol *v)
{
	free(v->vc[0]);
	free(v->vc[1]);
	v->vc[0] = v->vc[1] = NULL;
	v->vc_words = 0;
	pins_free(v);
}

/* The peer acknowledged this request (WRITE, UNMAP, WRITE_ZEROES or FLUSH). */
void repl_vc_acked(struct repl_vol *v, const struct repl_req *rq)
{
	if (!v->vc[0])
		return;
	if (rq->op == REPL_OP_FLUSH) {
		/* every flush sent so far is done: what they covered is durable */
		if (v->vc_flushes && --v->vc_flushes == 0) {
			if (v->vc_any[1]) {
				memset(v->vc[1], 0, v->vc_words * sizeof(uint64_t));
				v->vc_any[1] = false;
			}
			pins_release(v, 1);
		}
		return;
	}
	if ((rq->ioflags & REPL_IOF_FUA) || !rq->len)
		return;
	uint64_t first = rq->off >> v->vc_shift, last = (rq->off + rq->len - 1) >> v->vc_shift;
	for (uint64_t b = first; b <= last && b / 64 < v->vc_words; b++)
		v->vc[0][b / 64] |= 1ull << (b % 64);
	v->vc_any[0] = true;
	for (uint64_t e = rq->off / REPL_MD_AL_EXTENT; e <= (rq->off + rq->len - 1) / REPL_MD_AL_EXTENT; e++)
		pin_add(v, 0, e);
}

/* A FLUSH leaves for the peer: it covers what the peer acknowledged so far. */
void repl_vc_flush_sent(struct repl_vol *v)
{
	if (!v->vc[0])
		return;
	if (v->vc_any[0]) {
		for (size_t i = 0; i < v->vc_words; i++) {
			v->vc[1][i] |= v->vc[0][i];
			v->vc[0][i] = 0;
		}
		v->vc_any[0] = false;
		v->vc_any[1] = true;
	}
	/* set 0's pins pass to set 1 (an extent pinned there already keeps one) */
	for (uint32_t i = 0; i < v->pin_n[0]; i++) {
		uint32_t e = v->pin_list[0][i];

		pin_bit(v, 0, e, false);
		if (pin_test(v, 1, e)) {
			repl_md_al_unpin(v->md, (uint64_t)e * REPL_MD_AL_EXTENT);
		} else {
			pin_bit(v, 1, e, true);
			v->pin_list[1][v->pin_n[1]++] = e;
		}
	}
	v->pin_n[0] = 0;
	v->vc_flushes++;
	v->vc_last_flush_ms = reactor_now_ms();
}

/* The link to the peer is gone: what it may have held only in its cache is
 * out of sync now. Returns whether anything was marked. */
bool repl_vc_lost(struct repl_vol *v)
{
	uint64_t marked = 0;

	if (!v->vc[0])
		return false;
	if (v->vc_any[0] || v->vc_any[1]) {
		uint64_t unit = 1ull << v->vc_shift;

		for (size_t i = 0; i < v->vc_words; i++) {
			uint64_t w = v->vc[0][i] | v->vc[1][i];

			while (w) {
				uint64_t b = (uint64_t)i * 64 + (uint64_t)__builtin_ctzll(w);
				uint64_t off = b * unit, len = off + unit > v->size ? v->size - off : unit;

				w &= w - 1;
				if (off < v->size) {
					repl_md_bm_set(v->md, off, len);
					marked++;
				}
			}
		}
		memset(v->vc[0], 0, v->vc_words * sizeof(uint64_t));
		memset(v->vc[1], 0, v->vc_words * sizeof(uint64_t));
		v->vc_any[0] = v->vc_any[1] = false;
	}
	v->vc_flushes = 0;
	/* the bitmap holds them now: an eviction writes the extent's bitmap
	 * pages before the log forgets it (repl_md_al_activate) */
	pins_release(v, 0);
	pins_release(v, 1);
	if (marked)
		qb_log(LOG_NOTICE, "repl: %s: link lost with %llu region(s) of %llu KiB the peer acknowledged "
		       "without FUA since its last flush: marked out of sync (its volatile cache may have lost them)",
		       v->name, (unsigned long long)marked, (unsigned long long)(1ull << v->vc_shift) / 1024);
	return marked != 0;
}

/* Due for a FLUSH of our own? (something recorded, none in flight, not too soon) */
bool repl_vc_flush_due(const struct repl_vol *v, uint64_t now)
{
	return v->vc[0] && v->vc_any[0] && v->vc_flushes == 0 && !v->vc_io_busy &&
	       now - v->vc_last_flush_ms >= repl_vc_flush_ms;
}

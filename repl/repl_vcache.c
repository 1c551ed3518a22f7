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
 * Everything here runs on the repl reactor. */
#include <stdlib.h>
#include <string.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/log.h"

#define REPL_VC_MAX_BITS (1u << 20)     /* at most 128 KiB per set: coarser regions on huge LUNs */

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
	return 0;
}

void repl_vc_free(struct repl_vol *v)
{
	free(v->vc[0]);
	free(v->vc[1]);
	v->vc[0] = v->vc[1] = NULL;
	v->vc_words = 0;
}

/* The peer acknowledged this request (WRITE, UNMAP, WRITE_ZEROES or FLUSH). */
void repl_vc_acked(struct repl_vol *v, const struct repl_req *rq)
{
	if (!v->vc[0])
		return;
	if (rq->op == REPL_OP_FLUSH) {
		/* every flush sent so far is done: what they covered is durable */
		if (v->vc_flushes && --v->vc_flushes == 0 && v->vc_any[1]) {
			memset(v->vc[1], 0, v->vc_words * sizeof(uint64_t));
			v->vc_any[1] = false;
		}
		return;
	}
	if ((rq->ioflags & REPL_IOF_FUA) || !rq->len)
		return;
	uint64_t first = rq->off >> v->vc_shift, last = (rq->off + rq->len - 1) >> v->vc_shift;
	for (uint64_t b = first; b <= last && b / 64 < v->vc_words; b++)
		v->vc[0][b / 64] |= 1ull << (b % 64);
	v->vc_any[0] = true;
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
	       now - v->vc_last_flush_ms >= REPL_VC_FLUSH_MS;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The connect-time decision from both sides' generation ids and disk states
 * (DRBD's drbd_uuid_compare, adapted): who resyncs whom, by bitmap or in full,
 * or split brain / unrelated data. Rule numbers match docs/REPLICATION_MD.md. */
#include "repl/md.h"
#include "util/log.h"
#include <string.h>

static bool consistent(enum repl_disk_state d)
{
	return d == REPL_DISK_OUTDATED || d == REPL_DISK_UPTODATE;
}

static bool has_disk(enum repl_disk_state d)
{
	return d == REPL_DISK_INCONSISTENT || consistent(d);
}

static bool in_history(uint64_t id, const struct repl_md_gen *g)
{
	return id != 0 && (g->history[0] == id || g->history[1] == id);
}

static bool is_full(enum repl_sync_decision d)
{
	return d == REPL_SYNC_SOURCE_FULL || d == REPL_SYNC_TARGET_FULL;
}

/* The generation-id table proper (rules 10..110). */
static enum repl_sync_decision gen_compare(const struct repl_md_view *m, const struct repl_md_view *p, int *rule)
{
	const struct repl_md_gen *mg = &m->gen, *pg = &p->gen;

	*rule = 10;
	if (mg->current == 0 && pg->current == 0)
		return REPL_SYNC_NONE;
	*rule = 20;
	if (mg->current == 0)
		return REPL_SYNC_TARGET_FULL;
	*rule = 30;
	if (pg->current == 0)
		return REPL_SYNC_SOURCE_FULL;

	if (mg->current == pg->current) {
		bool mc = m->flags & REPL_MD_F_CRASHED_PRIMARY, pc = p->flags & REPL_MD_F_CRASHED_PRIMARY;
		bool mp = m->role == REPL_ROLE_PRIMARY, pp = p->role == REPL_ROLE_PRIMARY;

		/* one side still records a bitmap the other finished with: an
		 * interrupted resync or a missed "resync finished" */
		*rule = 34;
		if (mg->bitmap != 0 && pg->bitmap == 0)
			return REPL_SYNC_SOURCE_BITMAP;
		*rule = 35;
		if (mg->bitmap == 0 && pg->bitmap != 0)
			return REPL_SYNC_TARGET_BITMAP;
		/* crashed Primary: its activity-log extents (already in its bitmap)
		 * may differ. The current Primary, if any, is the source. */
		if (mc || pc) {
			*rule = 41;
			if (mp && !pp)
				return REPL_SYNC_SOURCE_BITMAP;
			if (pp && !mp)
				return REPL_SYNC_TARGET_BITMAP;
			*rule = 42;
			if (mc && !pc)
				return REPL_SYNC_SOURCE_BITMAP;
			*rule = 43;
			if (pc && !mc)
				return REPL_SYNC_TARGET_BITMAP;
			*rule = 44;
			return REPL_SYNC_SPLIT_BRAIN;
		}
		*rule = 45;
		return REPL_SYNC_NONE;
	}
	*rule = 50;
	if (pg->bitmap == mg->current)
		return REPL_SYNC_TARGET_BITMAP;
	*rule = 60;
	if (in_history(mg->current, pg))
		return REPL_SYNC_TARGET_FULL;
	*rule = 70;
	if (mg->bitmap == pg->current)
		return REPL_SYNC_SOURCE_BITMAP;
	*rule = 80;
	if (in_history(pg->current, mg))
		return REPL_SYNC_SOURCE_FULL;
	*rule = 90;
	if (mg->bitmap != 0 && mg->bitmap == pg->bitmap)
		return REPL_SYNC_SPLIT_BRAIN;
	*rule = 100;
	if (in_history(mg->bitmap, pg) || in_history(pg->bitmap, mg))
		return REPL_SYNC_SPLIT_BRAIN;
	*rule = 101;
	if (in_history(mg->history[0], pg) || in_history(mg->history[1], pg))
		return REPL_SYNC_SPLIT_BRAIN;
	*rule = 110;
	return REPL_SYNC_UNRELATED;
}

enum repl_sync_decision repl_md_decide_ex(const struct repl_md_view *mine, const struct repl_md_view *peer,
					  uint32_t opts, int *rule_out)
{
	enum repl_sync_decision d;
	int rule;
	bool mi, pi;

	if (!has_disk(mine->disk) || !has_disk(peer->disk)) {
		rule = 1;
		d = REPL_SYNC_NONE;
		goto out;
	}
	d = gen_compare(mine, peer, &rule);
	if (d == REPL_SYNC_UNRELATED)
		goto out;

	mi = mine->disk == REPL_DISK_INCONSISTENT;
	pi = peer->disk == REPL_DISK_INCONSISTENT;
	if (mi != pi) {
		/* exactly one side holds consistent data: it is the source */
		bool full = is_full(d) || d == REPL_SYNC_SPLIT_BRAIN;
		enum repl_sync_decision nd = pi ? (full ? REPL_SYNC_SOURCE_FULL : REPL_SYNC_SOURCE_BITMAP)
						: (full ? REPL_SYNC_TARGET_FULL : REPL_SYNC_TARGET_BITMAP);
		if (nd != d) {
			rule = 120;
			d = nd;
		}
	} else if (mi && pi && d != REPL_SYNC_NONE) {
		/* nobody holds consistent data: nothing can be a source */
		rule = 130;
		d = REPL_SYNC_NONE;
	} else if (d == REPL_SYNC_NONE && (mine->disk == REPL_DISK_OUTDATED) != (peer->disk == REPL_DISK_OUTDATED)) {
		/* same data, but one side was outdated (fencing) before the Primary
		 * changed generation: an empty bitmap resync makes it UpToDate again
		 * instead of leaving it Outdated for good */
		rule = 125;
		d = peer->disk == REPL_DISK_OUTDATED ? REPL_SYNC_SOURCE_BITMAP : REPL_SYNC_TARGET_BITMAP;
	}

	if (d == REPL_SYNC_SPLIT_BRAIN) {
		bool dm = opts & REPL_MD_DECIDE_DISCARD_MINE, dp = opts & REPL_MD_DECIDE_DISCARD_PEER;
		/* both bitmaps started at the common generation: their union is
		 * everything either side changed (rule 90); otherwise full */
		bool bitmap_ok = rule == 90;

		if (dm != dp) {
			rule = 140;
			if (dm)
				d = bitmap_ok ? REPL_SYNC_TARGET_BITMAP : REPL_SYNC_TARGET_FULL;
			else
				d = bitmap_ok ? REPL_SYNC_SOURCE_BITMAP : REPL_SYNC_SOURCE_FULL;
		}
	}
out:
	if (rule_out)
		*rule_out = rule;
	return d;
}

enum repl_sync_decision repl_md_decide(const struct repl_md_view *mine, const struct repl_md_view *peer)
{
	int rule;
	enum repl_sync_decision d = repl_md_decide_ex(mine, peer, 0, &rule);

	qb_log(LOG_INFO, "md: generation ids mine %016llx:%016llx:%016llx:%016llx peer %016llx:%016llx:%016llx:%016llx"
	       " -> %s (rule %d)", (unsigned long long)mine->gen.current, (unsigned long long)mine->gen.bitmap,
	       (unsigned long long)mine->gen.history[0], (unsigned long long)mine->gen.history[1],
	       (unsigned long long)peer->gen.current, (unsigned long long)peer->gen.bitmap,
	       (unsigned long long)peer->gen.history[0], (unsigned long long)peer->gen.history[1],
	       repl_sync_decision_name(d), rule);
	return d;
}

const char *repl_sync_decision_name(enum repl_sync_decision d)
{
	switch (d) {
	case REPL_SYNC_NONE: return "none";
	case REPL_SYNC_SOURCE_BITMAP: return "source-bitmap";
	case REPL_SYNC_TARGET_BITMAP: return "target-bitmap";
	case REPL_SYNC_SOURCE_FULL: return "source-full";
	case REPL_SYNC_TARGET_FULL: return "target-full";
	case REPL_SYNC_SPLIT_BRAIN: return "split-brain";
	case REPL_SYNC_UNRELATED: return "unrelated";
	}
	return "?";
}

bool repl_md_missed_bump(const struct repl_md_view *mine, bool mine_dirty, const struct repl_md_view *peer,
			 bool peer_dirty, const char *me, const char *peer_name)
{
	if (mine->disk != REPL_DISK_UPTODATE || peer->disk != REPL_DISK_UPTODATE)
		return false;
	if (mine->role == REPL_ROLE_PRIMARY)
		return mine_dirty || peer_dirty;
	if (!mine_dirty)
		return false;
	if (peer->role == REPL_ROLE_PRIMARY)
		return false;
	if (!peer_dirty)
		return true;
	return strcmp(me, peer_name) < 0;
}

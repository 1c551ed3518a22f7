/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replication metadata of one LUN: generation ids, disk state, a dirty bitmap
 * and an activity log, kept in a small file (default <state_dir>/md/<serial>.md)
 * so that a reconnect resyncs only what changed and a primary crash resyncs only
 * the extents that were hot. Pure storage logic: no sockets, no peers.
 *
 * Durability: functions documented as "durable" write and fdatasync before they
 * return (blocking: call them from the work queue or the main thread, never
 * from a reactor's I/O path). Superblock updates alternate between two slots
 * with a sequence number and CRC32C, so a torn write leaves the previous state. */
#ifndef TANDEM_REPL_MD_H
#define TANDEM_REPL_MD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "repl/repl.h"

#define REPL_MD_DEFAULT_CHUNK (64u * 1024)      /* bytes of device per bitmap bit */
#define REPL_MD_AL_EXTENT (4u << 20)            /* bytes per activity-log extent */
#define REPL_MD_AL_EXTENTS 1024                 /* active extents at most (4 GiB hot) */

/* Generation ids (DRBD's UUID set): current data generation, the generation
 * when the bitmap started recording (0 = bitmap not in use), two older ones. */
struct repl_md_gen {
	uint64_t current;
	uint64_t bitmap;
	uint64_t history[2];
};

/* Flags kept in the superblock */
enum {
	REPL_MD_F_PRIMARY = 1u << 0,        /* node was Primary; if set at open, it crashed as Primary */
	REPL_MD_F_CONNECTED = 1u << 1,      /* was connected to the peer when last written */
	REPL_MD_F_PEER_OUTDATED = 1u << 2,  /* we know the peer's copy is Outdated */
	REPL_MD_F_CRASHED_PRIMARY = 1u << 3,/* computed at open: unclean shutdown while Primary */
	REPL_MD_F_SPLIT_BRAIN = 1u << 4,    /* detected, needs operator resolution */
	REPL_MD_F_SYNC_TARGET = 1u << 5,    /* became SyncTarget and has not finished: a current id of 0
	                                     * then means "half synced", never "fresh" (repl engine) */
};

struct repl_md;

/* Create metadata for a device of dev_bytes. disk is Inconsistent for a fresh
 * pair (a full sync follows), or UpToDate with --new-device when both sides are
 * known identical (e.g. zeroed). Refuses to overwrite an existing valid file
 * unless force. Durable. */
int repl_md_create(const char *path, uint64_t dev_bytes, uint32_t chunk_bytes, enum repl_disk_state disk,
		   bool force, char *err, size_t errlen);
/* Open; on an unclean shutdown replays the activity log into the bitmap (every
 * extent that may hold writes the peer lacks) and sets REPL_MD_F_CRASHED_PRIMARY
 * if the node was Primary. dev_bytes must match what was created. */
struct repl_md *repl_md_open(const char *path, uint64_t dev_bytes, char *err, size_t errlen);
/* The device size the metadata at path was created for (its best valid
 * superblock), without opening it for use: 0, or -1 when there is none. */
int repl_md_dev_bytes(const char *path, uint64_t *dev_bytes);
/* Flush the bitmap, mark clean, close. Durable. */
int repl_md_close(struct repl_md *md);

/* State. Readers are thread-safe; repl_md_set is durable and serialised. */
struct repl_md_gen repl_md_get_gen(const struct repl_md *md);
enum repl_disk_state repl_md_get_disk(const struct repl_md *md);
uint32_t repl_md_get_flags(const struct repl_md *md);
int repl_md_set(struct repl_md *md, const struct repl_md_gen *gen, enum repl_disk_state disk, uint32_t flags);
/* A new random, non-zero generation id. */
uint64_t repl_md_new_gen_id(void);

/* Dirty bitmap: one bit per chunk of the device. set/clear/test are lock-free
 * (atomics) and callable from any reactor; repl_md_bm_flush persists dirty
 * pages (durable). clear only clears chunks fully inside [off, off+len). */
uint32_t repl_md_chunk_bytes(const struct repl_md *md);
uint64_t repl_md_bm_bits(const struct repl_md *md);
void repl_md_bm_set(struct repl_md *md, uint64_t off, uint64_t len);
void repl_md_bm_set_all(struct repl_md *md);
void repl_md_bm_clear(struct repl_md *md, uint64_t off, uint64_t len);
bool repl_md_bm_test(const struct repl_md *md, uint64_t off, uint64_t len);
uint64_t repl_md_bm_count(const struct repl_md *md);
/* Next set bit at or after `bit`, or UINT64_MAX. */
uint64_t repl_md_bm_next(const struct repl_md *md, uint64_t bit);
int repl_md_bm_flush(struct repl_md *md);

/* Activity log: before a write to [off, off+len) while Primary, the extents it
 * touches must be recorded as active on disk. repl_md_al_hot() is the cheap,
 * thread-safe fast path (true: all extents already active, take a reference).
 * Otherwise call repl_md_al_activate() (durable, blocking: from the work
 * queue), which also takes the reference. repl_md_al_done() drops it after
 * the write completed locally and at the peer. Least recently used idle
 * extents are evicted when the log is full. */
bool repl_md_al_hot(struct repl_md *md, uint64_t off, uint64_t len);
int repl_md_al_activate(struct repl_md *md, uint64_t off, uint64_t len);
void repl_md_al_done(struct repl_md *md, uint64_t off, uint64_t len);
/* Pin the extent holding byte `off` in the log: a reference like a write's,
 * so it is not evicted (false if it is not active). For writes the peer
 * acknowledged from its volatile cache: their extents stay in the log until a
 * flush on the peer covers them (repl_vcache.c), so that a crash of this
 * node replays them. unpin drops the reference. */
bool repl_md_al_pin(struct repl_md *md, uint64_t off);
void repl_md_al_unpin(struct repl_md *md, uint64_t off);
/* Whether the extent holding byte `off` is in the active set (tests, status). */
bool repl_md_al_contains(const struct repl_md *md, uint64_t off);
/* The activity log's capacity that repl_md_create writes into the superblock
 * (1..REPL_MD_AL_EXTENTS): REPL_MD_AL_EXTENTS; tests lower it to fill the log
 * with a few extents. */
extern uint32_t repl_md_create_al_capacity;
/* Mark every extent of the activity log dirty in the bitmap (used when the
 * node crashed as Primary: those extents may differ from the peer). */
void repl_md_al_to_bitmap(struct repl_md *md);

/* The generation-id decision on connect (DRBD's table; see docs/REPLICATION.md). */
enum repl_sync_decision {
	REPL_SYNC_NONE = 0,             /* same data: no resync */
	REPL_SYNC_SOURCE_BITMAP,        /* we are source: send the regions in either bitmap */
	REPL_SYNC_TARGET_BITMAP,        /* we are target: receive the regions in either bitmap */
	REPL_SYNC_SOURCE_FULL,
	REPL_SYNC_TARGET_FULL,
	REPL_SYNC_SPLIT_BRAIN,          /* both changed since the last common generation */
	REPL_SYNC_UNRELATED,            /* nothing in common: refuse */
};
struct repl_md_view {                   /* one side's state as exchanged on connect */
	struct repl_md_gen gen;
	enum repl_disk_state disk;
	uint32_t flags;
	enum repl_role role;
};
enum repl_sync_decision repl_md_decide(const struct repl_md_view *mine, const struct repl_md_view *peer);
const char *repl_sync_decision_name(enum repl_sync_decision d);
/* ADDITIVE (md.c owner): */
/* current id that repl_md_create gives an UpToDate/Outdated (--new-device) disk,
 * so that two nodes created that way independently compare equal (no sync).
 * repl_md_new_gen_id never returns it. An Inconsistent create has current 0. */
#define REPL_MD_GEN_NEW_DEVICE UINT64_C(0x4e45572d44455631)   /* "NEW-DEV1" */
/* Generation-id transitions (pure, on a copy; persist with repl_md_set):
 * new_current: the data changes without the peer (promotion while the peer is
 *   not connected, or first write after losing it): the bitmap id keeps the
 *   generation the bitmap started at (current moves to it if it was 0, else to
 *   history), current becomes a new id.
 * bitmap_done: the bitmap no longer matters (resync finished as source, or
 *   connected and in sync): bitmap id moves to history, bitmap id = 0. */
void repl_md_gen_new_current(struct repl_md_gen *g);
void repl_md_gen_bitmap_done(struct repl_md_gen *g);
/* Release without flushing or marking clean, exactly as if the process had
 * died here (tests; fatal error paths). */
void repl_md_free_unclean(struct repl_md *md);
/* Extents currently in the activity log (status, tests). */
uint32_t repl_md_al_active(const struct repl_md *md);
/* repl_md_decide with options and the number of the rule that decided (for the
 * log; see the table in docs/REPLICATION_MD.md). DISCARD_MINE: the operator
 * chose to discard this node's changes (split brain -> we become target);
 * DISCARD_PEER: the peer announced it discards its changes. */
enum { REPL_MD_DECIDE_DISCARD_MINE = 1u << 0, REPL_MD_DECIDE_DISCARD_PEER = 1u << 1 };
enum repl_sync_decision repl_md_decide_ex(const struct repl_md_view *mine, const struct repl_md_view *peer,
					  uint32_t opts, int *rule);

/* After a "none" decision: whether THIS node makes the degraded-mode bump
 * because chunks are marked (mine_dirty here, peer_dirty announced by the peer)
 * under equal ids. Both sides compute it from the same two views and exactly
 * one answers true: a Primary when either side has marks (it cannot be a
 * target, and the marked Secondary's chunks reach its resync with the
 * target's bitmap), never the node facing a Primary; else the one with
 * marks, and with marks on both, the node whose name sorts first. Both disks
 * must be UpToDate. */
bool repl_md_missed_bump(const struct repl_md_view *mine, bool mine_dirty, const struct repl_md_view *peer,
			 bool peer_dirty, const char *me, const char *peer_name);
#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Synchronous replication between the two tandemd nodes (DRBD protocol C):
 * the daemon-facing entry points. repl/ knows block ranges and one peer; it
 * never sees SCSI or iSCSI. A replicated LUN's backend is wrapped by a
 * replicating bdev (installed through bdev_set_wrapper) so every write reaches
 * the local disk and the peer, and completes only when both are durable. */
#ifndef TANDEM_REPL_H
#define TANDEM_REPL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"
#include "util/json.h"

enum repl_role { REPL_ROLE_SECONDARY = 0, REPL_ROLE_PRIMARY = 1 };

/* Disk states (DRBD names; "DUnknown" only for the peer when not connected). */
enum repl_disk_state {
	REPL_DISK_DISKLESS = 0,
	REPL_DISK_INCONSISTENT,
	REPL_DISK_OUTDATED,
	REPL_DISK_UPTODATE,
	REPL_DISK_DUNKNOWN,
};

enum repl_conn_state {
	REPL_CONN_STANDALONE = 0,       /* not trying (split brain, disconnected by hand, no peer configured) */
	REPL_CONN_CONNECTING,
	REPL_CONN_CONNECTED,
	REPL_CONN_SYNC_SOURCE,
	REPL_CONN_SYNC_TARGET,
};

const char *repl_role_name(enum repl_role r);          /* "primary" / "secondary" */
const char *repl_disk_name(enum repl_disk_state d);     /* "UpToDate", ... */
const char *repl_conn_name(enum repl_conn_state c);     /* "Connected", ... */

/* Start replication from conf (its replication section): open metadata of every
 * replicated LUN, install the bdev wrapper, start listening/connecting to the
 * peer on the reactor pool. Must run before iscsi_init (which opens the LUNs).
 * A config without a replication section makes this a no-op. The node starts
 * as Secondary. */
int repl_init(const struct tconf *conf, char *err, size_t errlen);
void repl_shutdown(void);
bool repl_enabled(void);
/* Reload (main thread, after the new configuration conf replaced old): the
 * replication section's rates and timers apply at once, a new secret and
 * tcp_congestion from the next connection; node, peer_name, listen and peer
 * only at the next start (logged). */
void repl_reload(const struct tconf *old, const struct tconf *conf);
/* Reload, before the LUNs are opened (main thread): a replication volume for
 * every replicated LUN of conf the engine does not know yet, so that the LUN
 * can open (repl_wrap decides whether it may join). Returns 0 or -1. */
int repl_add_volumes(const struct tconf *conf, char *err, size_t errlen);

/* Role changes (tandemctl primary|secondary, the cluster manager, the OCF
 * agent). Promotion is refused with a reason in err when any replicated LUN is
 * not UpToDate, or the peer is Primary; `force` allows promoting an Outdated /
 * disconnected node by the operator's explicit choice (never an Inconsistent
 * one). Demotion waits for in-flight writes. Returns 0 or -1. Thread-safe;
 * call from the main thread. */
int repl_set_role(enum repl_role role, bool force, char *err, size_t errlen);
/* The longest repl_set_role(PRIMARY) waits for the former Primary's last
 * writes before it decides (a planned failover's handover waits longer). */
uint64_t repl_promote_wait_max_ms(void);
enum repl_role repl_get_role(void);
/* Called (on the main thread) after every role change, e.g. to switch ALUA. */
void repl_on_role_change(void (*fn)(enum repl_role role, void *arg), void *arg);

/* Operator actions. lun_name is "<target>/<lun>" or NULL for all. */
int repl_connect(const char *lun_name, char *err, size_t errlen);
int repl_disconnect(const char *lun_name, char *err, size_t errlen);
/* Split-brain resolution: discard this node's changes; it becomes SyncTarget. */
int repl_discard_my_data(const char *lun_name, char *err, size_t errlen);
/* Online verify: compare checksums of every region with the peer. */
int repl_verify(const char *lun_name, char *err, size_t errlen);

/* Appends "replication": {"node","peer","role","peer_role","luns":[{"name",
 * "role","disk","peer_disk","connection","sync_percent","out_of_sync_kib",
 * "resync_bytes_sent","split_brain",...}]} to an open JSON object. */
void repl_status(struct json_writer *w);

/* The typed view of one replicated LUN that the cluster manager decides on
 * (the same values repl_status() prints). */
struct repl_lun_state {
	enum repl_disk_state disk, peer_disk;
	enum repl_conn_state conn;
	bool split_brain;
	bool known_current;             /* the data is known to be the newest (struct repl_vol) */
	bool have_gen;                  /* metadata open: current_gen is valid */
	uint64_t current_gen;           /* the data generation */
};
/* Calls fn once per replicated LUN, in repl_status() order, on one consistent
 * snapshot (none without replication). fn runs under replication's status
 * lock: it must not call into repl/. Any thread. */
void repl_lun_states(void (*fn)(const struct repl_lun_state *s, void *arg), void *arg);

/* ADDITIVE (repl owner): */
/* Verify; with resync, differing regions are marked out of sync and resynced. */
int repl_verify_ex(const char *lun_name, bool resync, char *err, size_t errlen);
/* Test aids (docs/REPLICATION.md): "corrupt-next-crc". */
int repl_debug(const char *what, char *err, size_t errlen);
/* Fencing (docs/REPLICATION.md "Fencing", repl/repl_fence.c). With a handler
 * installed, a Primary that lost the peer does not acknowledge writes that the
 * peer lacks: they freeze and the handler is called (on the main thread) until
 * repl_fence_done() answers. Without one (no cluster manager) degraded mode
 * starts at once, as the operator's setup decides.
 * repl_set_fence_handler: main thread; returns an fd (eventfd) to poll for
 * POLLIN, then call repl_fence_dispatch(), which calls fn when a request is
 * pending; -1 without replication. fn NULL removes the handler (and fails
 * frozen writes). */
int repl_set_fence_handler(void (*fn)(void *arg), void *arg);
void repl_fence_dispatch(void);
bool repl_fence_pending(void);
/* The answer (main thread): true = the peer is Outdated (it said so, durably)
 * or dead: the Primary records PEER_OUTDATED (new generation) and releases the
 * writes; false = give up this request: frozen writes fail with NOT READY /
 * transition (retryable, never acknowledged). A demotion does that too. */
void repl_fence_done(bool peer_outdated_or_dead);
/* The cluster's quorum (any thread; true until a cluster manager says
 * otherwise). A node without quorum may be left behind by a peer that proves
 * it gone through a quorum device and writes alone: every LUN not connected
 * to the peer then stops being known current ("known_current" in status)
 * until its generation ids are compared with the peer's again, and a LUN that
 * loses the link while quorum is lost does too. */
void repl_set_quorate(bool quorate);
/* The peer's side: mark every replicated LUN that is UpToDate Outdated,
 * durably (drops the replication link first so no resync can finish after the
 * mark). Refused on a Primary. Main thread; 0 or -1 with err. */
int repl_outdate_self(char *err, size_t errlen);
/* tandemctl side (repl/repl_cli.c): the replication commands, and the
 * "replication" part of `tandemctl status`. */
#include <stdio.h>
bool repl_cli_handles(const char *cmd);
int repl_cli_main(int argc, char **argv);
struct jr_value;
void repl_print_status(FILE *out, const struct jr_value *root);
#endif

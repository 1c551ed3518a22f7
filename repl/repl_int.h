/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internal shape of the replication engine, shared by its files: one engine
 * whose state is owned by a single reactor thread ("repl"), one peer link,
 * volumes (replicated LUNs) and preallocated request slots. Anything not
 * marked otherwise is touched only on that reactor's thread. */
#ifndef TANDEM_REPL_INT_H
#define TANDEM_REPL_INT_H
#define REPL_ROLE_CB_MAX 4
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bdev/bdev.h"
#include "config/config.h"
#include "repl/md.h"
#include "repl/repl.h"
#include "repl/repl_proto.h"

#define REPL_MAX_VOLS 1024
#define REPL_REQ_SLOTS 512              /* preallocated request slots per volume */
#define REPL_PUSH_SLOT (REPL_REQ_SLOTS - 1) /* kept for the state record's push: never waits for a slot */
#define REPL_VC_SLOT (REPL_REQ_SLOTS - 2)   /* kept for the FLUSH of the peer's cache (repl_vcache.c) */
#define REPL_APP_SLOTS (REPL_REQ_SLOTS - 2) /* the rest: application requests, resync and verify */
#define REPL_RS_INFLIGHT 8              /* resync / verify ranges in flight */
/* A resync source whose disk fails this many reads in one resync stops
 * replicating the volume (StandAlone) instead of reading it again for ever;
 * its target stays Inconsistent. */
#define REPL_RS_READ_ERR_MAX 3
#define REPL_RS_MAX_BYTES (1u << 20)    /* bytes per resync request */
#define REPL_TICK_MS 50
#define REPL_STAGE_SIZE (256u << 10)    /* socket read staging buffer */
#define REPL_SMALL_MAX 256              /* small transmit items come from a free list */
#define REPL_DONEQ_MAX 64               /* I/O reactors whose completions one loop turn batches */

/* ---- intrusive doubly linked list ---- */
struct repl_link {
	struct repl_link *prev, *next;
};
static inline void rl_init(struct repl_link *l) { l->prev = l->next = l; }
static inline bool rl_empty(const struct repl_link *l) { return l->next == l; }
static inline bool rl_linked(const struct repl_link *e) { return e->next != NULL && e->next != e; }
static inline void rl_add_tail(struct repl_link *head, struct repl_link *e)
{
	e->prev = head->prev;
	e->next = head;
	head->prev->next = e;
	head->prev = e;
}
static inline void rl_add_after(struct repl_link *pos, struct repl_link *e)
{
	e->prev = pos;
	e->next = pos->next;
	pos->next->prev = e;
	pos->next = e;
}
static inline void rl_del(struct repl_link *e)
{
	if (!e->next)
		return;
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = NULL;
}
#define rl_entry(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define rl_first(head, type, member) (rl_empty(head) ? NULL : rl_entry((head)->next, type, member))

/* ---- transmit items ---- */
struct repl_req;
struct repl_txitem {
	struct repl_link link;
	uint8_t hdr[REPL_HDR_SIZE + 32];    /* header + fixed body part of DATA / RS_DATA */
	size_t hdrlen;
	const struct iovec *iov;            /* bulk payload (request buffers), not copied */
	int iovcnt;
	size_t paylen;
	uint8_t *data;                      /* small/large message bytes (header included) */
	size_t datalen;
	size_t total, sent;
	struct repl_req *req;               /* owner when embedded in a request */
	bool large;                         /* data was malloc'd for this item */
	uint8_t small[REPL_SMALL_MAX];
};

/* ---- requests ---- */
enum repl_req_kind {
	RQ_APP = 1,         /* application I/O on the Primary */
	RQ_PEER,            /* mirrored request applied on the peer */
	RQ_RS_READ,         /* resync source: read, send, wait for RS_ACK */
	RQ_RS_WRITE,        /* resync target: write received data */
	RQ_OV_READ,         /* verify: local read, send digests, wait for OV_REPLY */
	RQ_OV_PEER,         /* verify on the peer: read and compare */
};
/* PEND_TX: the DATA is still in the transmit queue, which reads the upper
 * buffer: the request may not complete (and its slot may not be reused) before
 * the socket is done with it, even when the peer's part was settled early. */
enum { PEND_LOCAL = 1u << 0, PEND_PEER = 1u << 1, PEND_TX = 1u << 2 };

struct repl_vol;
struct repl_req {
	struct repl_vol *v;
	enum repl_req_kind kind;
	uint32_t tag;                       /* slot index; UINT32_MAX when heap-allocated */
	struct repl_req *free_next;
	struct repl_link link;              /* v->active (app, rs/ov reads) or v->papply (peer side) */
	struct repl_link qlink;             /* v->held, v->inflight, v->od_wait, v->rs_wait */
	struct repl_txitem tx;
	struct bdev_io *upper;              /* RQ_APP */
	struct bdev_io lower;
	struct iovec iov;                   /* single buffer for peer / resync / verify */
	void *buf;
	size_t bufcap;
	uint64_t off, len;
	int op;                             /* enum repl_data_op */
	unsigned ioflags;
	uint64_t seq;                       /* DATA: our seq; RQ_PEER: the seq to acknowledge */
	uint32_t peer_tag;                  /* RQ_PEER: tag to echo */
	uint64_t epoch;                     /* connection epoch the request was sent/received on */
	uint32_t sync_gen;                  /* RS_WRITE: v->sync_gen when its RS_DATA came */
	uint64_t sent_ms;
	unsigned pending;
	int status;
	bool al_ref, submitted, ovf_resync;
	bool al_waited;                     /* waited for room in the activity log (counted once) */
	uint8_t al_tries;                   /* activity-log attempts that found it full with nothing to free */
	bool tx_orphan;                     /* aborted while its RS_DATA was queued: freed on tx release */
	bool redirtied;                     /* RS_READ: a local write error marked the range again after the read */
	/* RQ_APP STATE sent on a protocol-2 link: the record in the form that
	 * peer reads (BDEV_STATE_LEVEL_PR), malloc'd, freed with the request */
	uint8_t *st_rec;
	struct iovec st_iov;
	uint32_t nchunks;
	uint32_t crcs[REPL_OV_MAX_CHUNKS];
};

/* ---- per volume (replicated LUN) ---- */
enum repl_vstate {
	VS_STANDALONE = 0,  /* not replicating by decision (operator, split brain, mismatch) */
	VS_WAIT,            /* no link, or the peer has not announced this volume */
	VS_NEGOTIATE,       /* our VOL_STATE sent, waiting for the peer's */
	VS_SYNC_SOURCE,
	VS_SYNC_TARGET,
	VS_CONNECTED,
};
enum { OD_NONE = 0, OD_RUNNING, OD_DONE };      /* "peer is Outdated" generation bump */
/* The volume has negotiated with the peer: Connected, SyncSource or SyncTarget. */
static inline bool repl_vs_negotiated(enum repl_vstate vs)
{
	return vs == VS_CONNECTED || vs == VS_SYNC_SOURCE || vs == VS_SYNC_TARGET;
}

struct repl_vol_status {                        /* published copy, under eng.stat_lock */
	enum repl_disk_state disk, peer_disk;
	enum repl_conn_state conn;
	double sync_percent;
	uint64_t out_of_sync_bytes;
	uint64_t resync_bytes_sent, resync_bytes_received;
	int64_t eta_s;
	bool split_brain, attached;
	bool known_current;
	bool verify_running;
	double verify_percent;
	uint64_t verify_mismatch_chunks, verify_runs;
	uint64_t peer_failures;
	uint32_t al_extents, al_pinned;     /* activity log: extents in it, of them pinned for the peer's cache */
	uint64_t al_waits;
	char last_decision[48];
};

struct repl_vol {
	int index;
	char name[TCONF_NAME_MAX + 16];     /* "<target>/<lun>" */
	char volume_id[REPL_VOLID_LEN];     /* the LUN's serial, same on both nodes */
	char md_path[TCONF_PATH_MAX];
	/* set on the main thread at attach, read-only afterwards */
	_Atomic bool attached;
	struct bdev *wrapper, *lower;
	struct repl_md *md;
	uint64_t size;
	uint32_t chunk;
	pthread_mutex_t md_lock;            /* read-modify-write of gen/disk/flags (any thread) */
	_Atomic unsigned wq_pending;        /* work-queue jobs that will post back to the reactor */

	/* reactor-owned */
	enum repl_vstate vs;
	bool want_connect;
	bool split_brain;
	/* This node's data is known to be the newest: its generation ids were
	 * compared with the peer's (Connected or SyncSource; SyncTarget once the
	 * resync ended) since it attached and since it last lost the peer
	 * without quorum, or its metadata records the peer Outdated. Not known
	 * after a start or a quorum loss: the peer may have written alone in the
	 * meantime (the built-in manager does not promote such a node alone). */
	bool known_current;
	bool discard_my_data;
	bool detaching;
	/* closed while replication work was still pending (a stuck disk): md and
	 * lower stay open for that work, closed when the LUN opens again once it
	 * ended (repl_vol_detach, repl_wrap); main thread only */
	bool close_deferred;
	enum repl_disk_state peer_disk;
	enum repl_role peer_role;
	struct repl_md_view peer_view;
	bool have_peer_view, sent_state, reply_pending;
	uint64_t neg_start_ms;
	uint32_t peer_opts;
	enum repl_role sent_role;           /* the role our last VOL_STATE announced (repl_vol_decide) */
	/* the range the next resync/verify read waits for: application writes
	 * overlapping it wait too (range_reading), so a hot range cannot starve
	 * the resync (repl_sync.c rd_claim) */
	bool rd_claim, rd_claim_posted;
	uint64_t rd_claim_off, rd_claim_len;
	uint64_t peer_view_size;
	uint32_t peer_chunk;
	/* serialised metadata jobs */
	bool job_busy;
	struct repl_link jobs;
	uint32_t peer_index;
	bool peer_unmap_zeroes;
	int od_state;
	struct repl_link od_wait;
	struct repl_req *slots, *free_slots;
	struct bdev_io *slot_wait_head, *slot_wait_tail;   /* app I/O waiting for a slot */
	struct repl_link active;            /* app requests and resync/verify reads in progress */
	struct repl_link held;              /* app requests waiting for a resync/verify read */
	struct repl_link inflight;          /* DATA sent, waiting for DATA_ACK */
	struct repl_link papply;            /* peer side, in arrival order */
	unsigned papply_waiting;            /* of those, held back behind an overlapping one */
	struct repl_link rs_wait;           /* RS_DATA / OV_REQ sent, waiting for the answer */
	uint32_t sync_gen;                  /* bumped by every resync start and abort */
	/* the peer's volatile cache (repl_vcache.c): regions it acknowledged
	 * without FUA since its last flush [0], covered by flushes in flight [1] */
	uint64_t *vc[2];
	size_t vc_words;
	uint32_t vc_shift;                  /* one bit per 1 << vc_shift bytes */
	bool vc_any[2];
	unsigned vc_flushes;                /* FLUSHes to the peer in flight */
	uint64_t vc_last_flush_ms;
	struct bdev_io vc_io;               /* our own periodic FLUSH to the peer */
	bool vc_io_busy;
	/* the activity-log extents of those regions, pinned in the log until
	 * the flush covers them (a bit per extent and the list of them, per set) */
	uint64_t *pin_bits[2];
	uint32_t *pin_list[2];
	uint32_t pin_n[2];
	size_t pin_words;
	struct repl_link al_wait;           /* app requests waiting for room in the activity log */
	uint64_t al_waits;                  /* requests that waited so (status) */
	bool al_full_logged;
	/* the LUN's state record (repl_lustate.c: the SCSI layer's persistent
	 * reservations, opaque here): the newest this node holds, sent as
	 * Primary or received as Secondary, and its user's callbacks; under
	 * st_lock (the callbacks run under it) */
	pthread_mutex_t st_lock;
	const struct bdev_state_handler *st_h;
	void *st_arg;
	uint8_t *st_rec;
	size_t st_len;
	uint64_t st_seq;
	/* reactor-owned: the push of the whole record when the link comes up */
	struct bdev_io st_io;
	struct iovec st_iov;
	bool st_io_busy, st_push_again;
	unsigned n_app;
	/* resync */
	bool rs_full, rs_ready, rs_bm_sent, rs_peer_bm_done, rs_finishing;
	bool rs_done_flushing;              /* SyncTarget: RS_DONE's flush in flight (gates negotiation) */
	uint64_t rs_cursor, rs_total_bits, rs_start_ms;
	unsigned rs_inflight;
	unsigned rs_read_errors;            /* local read errors of this resync (REPL_RS_READ_ERR_MAX) */
	bool keep_held;                     /* repl_vol_renegotiate: held writes wait for the next decision */
	uint64_t rs_bytes_sent, rs_bytes_received;  /* since start (status resync_bytes_*) */
	uint64_t rs_sent_start;             /* rs_bytes_sent when this resync started */
	/* verify */
	bool ov_running, ov_resync;
	uint64_t ov_cursor, ov_mismatch, ov_start_ms;
	uint64_t ov_read_errors;            /* chunks this node could not read (counted as differing) */
	uint64_t ov_unmarked;               /* ... of which not marked for resync (no resync for them) */
	unsigned ov_inflight;
	uint64_t ov_runs;
	uint64_t peer_failures;
	/* DATA sent on this epoch up to this seq belongs to an earlier replication
	 * period of the volume: its late DATA_ACKs are expected and ignored */
	uint64_t stale_ack_epoch, stale_ack_seq;
	char last_decision[48];
	struct repl_vol_status st;          /* under eng.stat_lock */
};

/* ---- the peer link ---- */
enum repl_cstate { CS_CONNECTING = 0, CS_HANDSHAKE, CS_UP };
enum { RX_HDR = 0, RX_BODY, RX_PAYLOAD };

struct repl_conn {
	int fd;
	bool outbound;                      /* we connected (we are the "connector") */
	enum repl_cstate st;
	uint64_t epoch;
	uint64_t created_ms, last_rx_ms, ping_sent_ms;
	uint64_t tx_hold_until_ms;          /* test fault role-stall: nothing is sent before this */
	uint16_t version;
	struct repl_hello me, peer;
	bool got_hello, sent_auth, peer_authed;
	uint64_t tx_seq, rx_seq;
	char addr[80];
	/* receive */
	uint8_t *stage;
	size_t stage_len, stage_off;
	int rx_state;
	uint8_t hdr[REPL_HDR_SIZE];
	size_t hdr_have;
	struct repl_msg cur;
	uint8_t *body;                      /* REPL_SMALL body buffer (fixed parts, control messages) */
	size_t body_cap, body_need, body_have;
	uint8_t *payload;                   /* bufpool buffer for DATA / RS_DATA payloads */
	size_t payload_cap, payload_need, payload_have;
	bool rx_large;                      /* the last payload was big: read only up to the next one */
	/* transmit */
	struct repl_link txq;
	size_t txq_items;
	bool epollout;
	struct repl_link link;              /* eng.pending (inbound handshakes) */
	struct repl_vol *peer_vols[REPL_MAX_VOLS];
	bool closing;
};

struct repl_engine {
	bool enabled;
	char node[REPL_NAME_LEN], peer_name[REPL_NAME_LEN];
	char secret[256];
	char listen_addr[64], peer_addr[64];
	uint16_t listen_port, peer_port;
	/* tunables: a reload stores them (repl_reload), any thread reads them */
	_Atomic uint64_t resync_rate, resync_min_rate;
	_Atomic unsigned ping_interval_ms, ping_timeout_ms, timeout_ms, connect_retry_ms;
	/* secret and tcp_congestion: written on the repl reactor by a reload, read
	 * there by the next handshake / connection */
	char tcp_congestion[16];            /* configured; "system" = leave the kernel's default */
	char tcp_congestion_used[16];       /* what the last link got (under stat_lock), "" before */
	char state_dir[TCONF_PATH_MAX];

	struct reactor *r;
	_Atomic int role;                   /* enum repl_role; any thread reads */
	_Atomic int peer_role_pub;          /* published peer role, -1 unknown */
	_Atomic bool conn_up_pub;
	_Atomic bool quorate;               /* the cluster's quorum (repl_set_quorate); true without a cluster */
	/* appended on the main thread (start-up, reload: repl_add_volumes), never
	 * removed while running: vols[i] is set before nvols covers it */
	struct repl_vol *vols[REPL_MAX_VOLS];
	_Atomic int nvols;

	/* reactor-owned */
	int listen_fd;
	struct repl_conn *conn;             /* outbound attempt or the established link */
	struct repl_link pending;           /* inbound connections in handshake */
	uint64_t epoch;
	uint64_t next_connect_ms;
	enum repl_role peer_role;
	bool peer_role_known;
	bool corrupt_next_crc;
	bool stopping;
	/* barriers: PINGs queued in order whose PING_ACK proves the peer handled
	 * every earlier message (repl_conn_barrier) */
	uint64_t barrier_sent, barrier_acked;
	struct repl_txitem *tx_free;        /* small transmit items */
	/* application completions of this loop turn, one list per I/O reactor:
	 * handed back with one reactor_post each (repl_mirror_idle) */
	struct repl_doneq {
		struct reactor *owner;
		struct bdev_io *head, *tail;
	} doneq[REPL_DONEQ_MAX];
	int ndoneq;
	uint64_t rs_budget, rs_last_ms;
	uint64_t app_bytes_tick;
	uint64_t last_publish_ms;

	pthread_mutex_t stat_lock;
	/* demotion waits for application writes to drain (main thread sleeps,
	 * the repl reactor bumps drain_gen when one finishes and someone waits) */
	pthread_mutex_t drain_lock;
	pthread_cond_t drain_cond;          /* CLOCK_MONOTONIC */
	uint64_t drain_gen;
	_Atomic int drain_waiters;
	unsigned test_faults;               /* REPL_TF_*, from TANDEM_TEST_FAULTS; 0 in production */
	struct {
		void (*fn)(enum repl_role role, void *arg);
		void *arg;
	} role_cb[REPL_ROLE_CB_MAX];        /* main.c (ALUA without cluster), cluster/ */
	int nrole_cb;
};
extern struct repl_engine repl_eng;
/* Rates and timers from a replication section (repl_init, repl_reload). */
void repl_set_tunables(const struct tconf_replication *rc);

/* Test-only fault hooks (env TANDEM_TEST_FAULTS, comma separated names; never
 * set by default): promote-delay sleeps 300 ms between the promotion check
 * and its commit so that tests can race a negotiation against it;
 * role-stall holds the link's transmit queue for REPL_TF_STALL_MS after a
 * ROLE message is queued (a slow or congested link), so that tests can show
 * that a demotion returns only once the peer knows it; od-delay sleeps 300 ms
 * before the "peer is Outdated" generation bump edits the metadata, so that
 * tests can race a negotiation against it. */
enum { REPL_TF_PROMOTE_DELAY = 1u << 0, REPL_TF_ROLE_STALL = 1u << 1, REPL_TF_OD_DELAY = 1u << 2 };
#define REPL_TF_STALL_MS 300   /* below the default ping_timeout_ms (500) */
/* A demotion that cannot drain the application writes within timeout_ms plus
 * this grace fails and the node stays Primary. */
#define REPL_DEMOTE_GRACE_MS 4000

/* repl_conn.c: the link */
int repl_conn_start(char *err, size_t errlen);        /* on the reactor */
void repl_conn_stop(void);
void repl_conn_tick(uint64_t now);
void repl_conn_fail(struct repl_conn *c, const char *why);
bool repl_conn_up(void);
struct repl_txitem *repl_tx_small(struct repl_conn *c, uint16_t type, uint32_t vol, size_t body_len, uint8_t **body);
void repl_tx_queue(struct repl_conn *c, struct repl_txitem *it);
/* Queue a request's DATA/RS_DATA (header + fixed part already in it->hdr after
 * this call fills the header). */
void repl_tx_req(struct repl_conn *c, struct repl_req *rq, uint16_t type, uint32_t vol, size_t fixed_len);
uint8_t *repl_conn_take_payload(struct repl_conn *c, size_t *cap);
/* Send a small message on the established link (no-op when down). */
uint8_t *repl_send(uint16_t type, struct repl_vol *v, size_t body_len);
/* A PING queued behind everything queued so far (keepalive PINGs go ahead of
 * the queue): once repl_eng.barrier_acked reaches the returned token, the peer
 * has handled every message queued before it. 0 when the link is not up. */
uint64_t repl_conn_barrier(void);
/* Test fault role-stall: send nothing for ms milliseconds. */
void repl_conn_hold_tx(unsigned ms);

/* repl_mirror.c: the wrapper and the write path */
struct bdev *repl_wrap(struct bdev *lower, const struct bdev_params *p, char *err, size_t errlen);
struct repl_req *repl_req_get(struct repl_vol *v);
struct repl_req *repl_req_get_any(struct repl_vol *v);   /* slot, else heap */
void repl_req_put(struct repl_req *rq);
void repl_vol_link_down(struct repl_vol *v);          /* the peer stopped replicating this volume */
void repl_vol_stop_replicating(struct repl_vol *v);  /* this node stops: VOL_DETACH, StandAlone */
/* repl_sync.c: a range marked again while resync data read before may be in
 * flight: its RS_ACK must not clear the new mark */
void repl_sync_redirty(struct repl_vol *v, uint64_t off, uint64_t len);
void repl_vol_maybe_behind(struct repl_vol *v);      /* not connected without quorum: known_current off */
void repl_vol_release_held(struct repl_vol *v);
/* repl_sync.c: an application write ended; a resync/verify read that waits
 * for the range may start (posted, runs on the repl reactor) */
void repl_sync_claim_kick(struct repl_vol *v);
/* the claim is dropped (resync/verify over): held writes go on */
void repl_sync_claim_clear(struct repl_vol *v);
bool repl_vol_app_overlap(struct repl_vol *v, uint64_t off, uint64_t len);
bool repl_vol_replicating(const struct repl_vol *v);
/* repl_lustate.c: the LUN's state record (bdev.h BDEV_IO_STATE) */
int repl_lus_attach(struct bdev *b, const struct bdev_state_handler *h, void *arg);
bool repl_lus_writable(struct bdev *b);
/* Keep rec as the newest record (newer seq, or force); with deliver, hand it
 * to the user too. 0, or -1 when the user could not install it. Any thread. */
int repl_lus_store(struct repl_vol *v, const uint8_t *rec, size_t len, uint64_t seq, bool force, bool deliver);
/* The user's current record (else the stored one): malloc'd copy, length or 0. */
size_t repl_lus_snapshot(struct repl_vol *v, uint8_t **rec, uint64_t *seq, unsigned level);
/* The record level a link of protocol version `version` carries (bdev.h) */
unsigned repl_lus_level(unsigned version);
void repl_lus_free(struct repl_vol *v);
/* repl_mirror.c: Primary, volume replicating: send the whole record (force). */
void repl_lus_push(struct repl_vol *v);
/* repl_vcache.c: the peer's volatile write cache */
#define REPL_VC_FLUSH_MS 1000
extern unsigned repl_vc_flush_ms;       /* REPL_VC_FLUSH_MS; tests lengthen it */
int repl_vc_init(struct repl_vol *v);
void repl_vc_free(struct repl_vol *v);
void repl_vc_acked(struct repl_vol *v, const struct repl_req *rq);
void repl_vc_flush_sent(struct repl_vol *v);
bool repl_vc_lost(struct repl_vol *v);
bool repl_vc_flush_due(const struct repl_vol *v, uint64_t now);
/* Activity-log extents pinned for the regions recorded (both sets). */
uint32_t repl_vc_pinned(const struct repl_vol *v);
int repl_h_data(struct repl_conn *c, const struct repl_msg *m);
int repl_h_data_ack(struct repl_conn *c, const struct repl_msg *m);
void repl_peer_submit(struct repl_vol *v, struct repl_req *rq);
void repl_mirror_tick(uint64_t now);
/* Idle and exit hook of the repl reactor: posts the batched completions. */
void repl_mirror_idle(void *arg);
void repl_vol_attached(struct repl_vol *v);
/* Run fn(arg) on the repl reactor and wait for it (from another thread; runs
 * it inline before the engine started). */
void repl_call(void (*fn)(void *), void *arg);
/* How long a LUN's close waits for its replication work (ms; tests shorten it). */
extern int repl_detach_wait_ms;
/* A close that left work pending: true when that work has ended, and then
 * the volume's metadata and device are closed (main thread). */
bool repl_vol_finish_close(struct repl_vol *v);
void repl_vol_detach(struct repl_vol *v);
/* The transmit queue let go of a request's embedded item (sent or dropped). */
void repl_tx_released(struct repl_req *rq);
/* Wake a demotion waiting for writes to drain (repl reactor). */
void repl_drain_kick(void);
/* Fencing (repl_fence.c; hooks in repl_mirror.c / repl_state.c): may a volume
 * whose peer is gone start its "peer is Outdated" bump now? false = its
 * writes stay frozen in od_wait and the fence handler was asked (reactor). */
bool repl_fence_gate(struct repl_vol *v);
void repl_outdate_peer_start(struct repl_vol *v);          /* reactor: the bump, if not done yet */
/* reactor: OD_DONE holds only while the metadata says PEER_OUTDATED; a job
 * that cleared the flag (in sync, resync done either way) ends it */
void repl_od_check(struct repl_vol *v);
/* reactor: after a generation bump under a live link, negotiate again;
 * peer_outdated: the peer counts as Outdated meanwhile (no fencing when the
 * link is lost), only when it holds no data the bump could leave behind */
void repl_vol_renegotiate(struct repl_vol *v, bool peer_outdated);
void repl_vol_fail_frozen(struct repl_vol *v, int status); /* reactor: complete od_wait with an error */
void repl_fence_abort(void);                               /* main thread, on demotion */

/* repl_sync.c: negotiation, resync, verify */
void repl_vol_send_state(struct repl_vol *v);
void repl_sync_tick(uint64_t now);
int64_t repl_rs_budget_next(int64_t budget, uint64_t rate, uint64_t dt);
void repl_begin_sync(struct repl_vol *v, bool source, bool full);
int repl_h_vol_state(struct repl_conn *c, const struct repl_msg *m);
int repl_h_vol_detach(struct repl_conn *c, const struct repl_msg *m);
int repl_h_bitmap(struct repl_conn *c, const struct repl_msg *m);
int repl_h_bitmap_done(struct repl_conn *c, const struct repl_msg *m);
int repl_h_sync_start(struct repl_conn *c, const struct repl_msg *m);
int repl_h_rs_data(struct repl_conn *c, const struct repl_msg *m);
int repl_h_rs_ack(struct repl_conn *c, const struct repl_msg *m);
int repl_h_rs_done(struct repl_conn *c, const struct repl_msg *m);
int repl_h_ov_req(struct repl_conn *c, const struct repl_msg *m);
int repl_h_ov_reply(struct repl_conn *c, const struct repl_msg *m);
int repl_h_ov_done(struct repl_conn *c, const struct repl_msg *m);
void repl_sync_abort(struct repl_vol *v);
void repl_sync_peer_req_done(struct repl_req *rq);
void repl_verify_start(struct repl_vol *v, bool resync);
void repl_sync_pump(struct repl_vol *v);
void repl_vol_decide(struct repl_vol *v);
/* Serialised per volume: metadata jobs run one after the other, in order. */
int repl_vol_job(struct repl_vol *v, void (*work)(void *), void (*done)(void *), void *arg);

/* repl_state.c: roles, status, operator actions */
int repl_h_role(struct repl_conn *c, const struct repl_msg *m);
void repl_link_changed(bool up);                      /* link up / down (reactor) */
void repl_publish(struct repl_vol *v);
void repl_publish_all(void);
/* Durable read-modify-write of a volume's generation ids / disk / flags. */
typedef void (*repl_md_edit_fn)(struct repl_md_gen *gen, enum repl_disk_state *disk, uint32_t *flags, void *arg);
int repl_md_edit(struct repl_vol *v, repl_md_edit_fn fn, void *arg);
/* Run work(arg) on the work queue, then done(arg) on the repl reactor. */
int repl_workq(struct repl_vol *v, void (*work)(void *), void (*done)(void *), void *arg);
enum repl_conn_state repl_vol_conn_state(const struct repl_vol *v);
struct repl_vol *repl_vol_find_id(const char *volume_id);
#endif

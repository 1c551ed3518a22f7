/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private structures of the iSCSI layer shared by its phase files (rx, tx,
 * login, command, data-out, data-in, TMF, text, nop, logout, session, portal). */
#ifndef TANDEM_ISCSI_INT_H
#define TANDEM_ISCSI_INT_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include "reactor.h"
#include "config/config.h"
#include "scsi/scsi.h"
#include "iscsi/param.h"
#include "iscsi/iscsi.h"
#include "iscsi/iscsi_proto.h"
#include "util/log.h"

#define ISCSI_MAX_EDTL (16u * 1024 * 1024)   /* larger commands get CHECK CONDITION */
#define ISCSI_MAX_R2T 8                       /* outstanding R2Ts per task we track */
#define ISCSI_TASK_HASH 256
#define ISCSI_LOGIN_DSL 8192                  /* RFC 7143 13.12: during login */
#define ISCSI_LOGIN_TEXT_MAX (64 * 1024)
#define ISCSI_RX_BUDGET 32                    /* PDUs per read wakeup */
#define ISCSI_RX_BYTE_BUDGET (512u * 1024)    /* data-segment bytes per read wakeup (see rx.c) */
#define ISCSI_RXBUF_SIZE (256u * 1024)        /* per-connection receive buffer (bulk reads) */
#define ISCSI_RX_DIRECT_MIN (64u * 1024)      /* data segments this large: read in place, little copy */
#define ISCSI_RX_SPILL 4096                   /* bytes read past a large segment into the buffer */
#define ISCSI_TX_IOV 64

/* ---- a registered target ---- */
struct iscsi_tgt {
	char name[TCONF_NAME_MAX];
	struct scsi_target *st;
	const struct tconf_target *conf;    /* replaced on reload under g_iscsi.lock; NULL once removed
					     * (the reload frees the configuration it replaced) */
	/* LUNs kept in service with their previous configuration because a
	 * reload's change of them could not be put in service (reload only) */
	uint32_t stale[TCONF_MAX_LUNS];
	uint32_t nstale;
	int refs;                           /* sessions + registry; under g_iscsi.lock */
	bool removed;
	struct iscsi_tgt *next;
};

/* ---- global state (iscsi.c) ---- */
struct iscsi_global {
	pthread_mutex_t lock;               /* registry only: never taken per I/O */
	const struct tconf *conf;
	struct iscsi_tgt *tgts;
	struct iscsi_session *sessions;
	int nsessions;                      /* registered, discovery ones included */
	int ndiscovery;                     /* of which discovery sessions */
	uint16_t next_tsih;
	bool shutting_down;
	/* snapshot of global knobs */
	struct tconf_global gc;
	struct iscsi_portal *portals;
};
extern struct iscsi_global g_iscsi;

/* ---- transmit PDU ---- */
struct iscsi_task;
struct iscsi_conn;
struct iscsi_txpdu {
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t hdigest[4];
	uint8_t ddigest[4];
	bool hd, dd;                        /* digests fixed at queue time */
	uint8_t *data;                      /* data segment (not copied) */
	uint32_t dlen;
	uint8_t *own;                       /* buffer owned by this PDU (buf_alloc), freed when sent */
	size_t own_len;
	struct iscsi_task *task;            /* holds a reference until sent */
	void (*sent)(struct iscsi_conn *c, struct iscsi_txpdu *p);  /* optional hook */
	uint32_t acct;                      /* bytes counted in conn->tx_mem while queued */
	struct iscsi_txpdu *next;
};

/* ---- one SCSI command ---- */
struct iscsi_r2t {
	uint32_t ttt;
	uint32_t offset, len, got;
	uint32_t r2tsn;
	uint32_t datasn;                    /* next DataSN expected in this sequence */
	bool active;
};
enum iscsi_task_state {
	ISCSI_TASK_FREE = 0,
	ISCSI_TASK_PENDING,                 /* waiting for its CmdSN turn */
	ISCSI_TASK_DATA,                    /* collecting data-out */
	ISCSI_TASK_EXEC,                    /* in the SCSI layer */
	ISCSI_TASK_DONE,                    /* response queued, waiting for tx to drain */
};
struct iscsi_task {
	struct scsi_task scsi;
	struct iscsi_conn *conn;
	enum iscsi_task_state state;
	uint32_t itt, cmdsn;
	uint32_t edtl;
	uint8_t lun_raw[8];
	bool immediate, in_order, exec_started;
	bool dead;                          /* connection gone / aborted: complete into nothing */
	bool busy;                          /* over the connection's memory bound: TASK SET FULL */
	/* answered CHECK CONDITION with this sense where it would execute
	 * (iscsi_task_exec), the iSCSI layer's decision: a Data-Out of it was
	 * lost to a data digest error (RFC 7143 7.8), so its data has a hole;
	 * or its Data-Out sequence broke while it waited for its CmdSN turn
	 * (data_refused: it takes no more data, answered at that turn) */
	bool failed, data_refused;
	uint8_t fail_sk, fail_asc, fail_ascq;
	int refs;                           /* task itself + queued tx PDUs */
	/* data-out */
	uint32_t want;                      /* bytes of data-out expected = edtl (write) */
	uint32_t got;                       /* bytes received so far */
	uint32_t unsol_left;                /* unsolicited bytes still allowed */
	uint32_t next_r2t_off;              /* first byte not yet requested */
	uint32_t r2tsn, data_sn_expect;
	int r2t_out;
	struct iscsi_r2t r2t[ISCSI_MAX_R2T];
	/* data-in */
	uint32_t datasn;
	/* TMFs waiting for this task to leave the backend: of this session, or
	 * of other sessions (LUN/target reset, CLEAR TASK SET) counted on this
	 * reactor; a task already aborted by one TMF can be waited for by the
	 * next (ABORT TASK, then a LUN RESET from another path) */
	struct iscsi_tmf_wait *tmf_waits;
	/* a PREEMPT AND ABORT: its response waits for the preempted nexuses'
	 * aborted tasks (tmf.c, iscsi_session_abort_cb) */
	struct iscsi_tmf *pr_wait;
	bool pr_backend_done;               /* ... and it left the backend: only its response waits */
	struct iscsi_task *hnext;           /* ITT hash */
	struct iscsi_task *snext;           /* session pending list / free list */
	struct iscsi_task *cnext, *cprev;   /* connection's active list */
};

/* ---- pending TMF (response waits for aborted tasks) ---- */
struct iscsi_tmf {
	uint8_t req[ISCSI_BHS_LEN];
	uint8_t response;
	int waiting;                        /* own tasks + other sessions not done; its reactor only */
	bool cold_reset;
	struct iscsi_conn *conn;            /* NULL once that connection closed */
	struct iscsi_tmf *conn_next;        /* the connection's TMFs waiting for tasks */
	/* not a TMF but a PREEMPT AND ABORT (PR OUT) whose response waits: it
	 * completes this task instead of sending a TMF response */
	struct iscsi_task *task;
};

enum iscsi_conn_state {
	ISCSI_CONN_LOGIN = 0,
	ISCSI_CONN_FULL,
	ISCSI_CONN_LOGOUT,                  /* logout response queued; close when sent */
	ISCSI_CONN_CLOSING,                 /* socket closed; waiting for tasks */
};

enum iscsi_rx_state {
	ISCSI_RX_HDR = 0,
	ISCSI_RX_AHS,
	ISCSI_RX_HDR_DIGEST,
	ISCSI_RX_DATA,
	ISCSI_RX_DATA_DIGEST,
};

struct iscsi_login_ctx;

struct iscsi_conn {
	int fd;
	struct reactor *r;
	struct iscsi_session *sess;
	enum iscsi_conn_state state;
	uint16_t cid;
	uint16_t tpgt;
	char peer[80];
	char local[80];
	uint64_t id;

	/* receive state machine */
	enum iscsi_rx_state rx_state;
	uint8_t rx_hdr[ISCSI_BHS_LEN + ISCSI_AHS_MAX];
	uint32_t rx_off;                    /* bytes of the current piece already read */
	uint32_t rx_ahs, rx_dsl, rx_pad;
	uint8_t rx_digest[4];
	uint8_t rx_padbuf[4];
	uint8_t *rx_data;                   /* where the data segment goes */
	uint8_t *rx_own;                    /* separately allocated segment, freed after dispatch */
	size_t rx_own_len;
	bool rx_discard;                    /* data goes to the bit bucket (rejected PDU) */
	struct iscsi_task *rx_task;         /* data-out/immediate data target (holds a reference) */
	struct iscsi_tmf *tmfs;             /* TMFs issued here, waiting for aborted tasks */
	uint32_t rx_reject_reason;          /* reject after the data arrived */
	uint8_t *rxb;                       /* receive buffer, ISCSI_RXBUF_SIZE (rx.c), freed at close */
	uint32_t rxb_head, rxb_tail;        /* bytes received but not parsed yet: rxb[head..tail) */
	bool rx_big;                        /* the last data segment was large: read little past headers */
	bool rx_drained;                    /* a short read in this wakeup: wait for the next EPOLLIN */
	bool rx_listed;                     /* on the reactor's rx_pending list (parsing to resume) */
	uint32_t rx_stamp;                  /* pass of the idle hook that listed it */
	struct iscsi_conn *rx_next, *rx_prev;

	/* transmit */
	struct iscsi_txpdu *txq, **txq_tail;
	uint32_t tx_done;                   /* bytes of the head PDU already written */
	bool tx_epollout;
	bool tx_dirty;
	struct iscsi_conn *dirty_next;
	struct iscsi_txpdu *tx_free;

	/* negotiated */
	struct iscsi_params p;
	uint32_t stat_sn;
	uint32_t exp_stat_sn;               /* the initiator's latest acknowledgement of StatSN */

	/* login */
	struct iscsi_login_ctx *login;
	struct reactor_timer *login_timer;

	/* nop */
	struct reactor_timer *nop_timer;
	uint64_t last_rx_ms;
	uint64_t nop_sent_ms;
	uint32_t nop_ttt;
	bool nop_outstanding;
	int nop_interval, nop_timeout;

	/* text continuation */
	struct iscsi_text text_pending;
	size_t text_sent;
	uint32_t text_ttt;
	struct iscsi_text text_in;      /* a Text request sent in pieces (C bit) */
	bool text_in_open;              /* ... and more of it is due */
	bool text_open;                 /* we answered an F=0 request: its follow-up is due */
	uint32_t text_itt;              /* the ITT of the exchange in progress */

	/* tasks */
	struct iscsi_task *task_free;
	struct iscsi_task *hash[ISCSI_TASK_HASH];
	struct iscsi_task *active;          /* all live tasks of this connection */
	int ntasks;
	uint32_t next_ttt;

	/* lifetime */
	bool closing;
	bool migrating;                     /* moving to its session's reactor */
	struct reactor *migrate_to;         /* posted by conn_event once rx is done */
	reactor_fn migrate_fn;
	void *migrate_arg;
	bool freed_pending;
	struct iscsi_conn *snext;           /* session's connection list */
	struct iscsi_conn *rnext, *rprev;   /* reactor list */

	/* resource limits (docs/HARDENING.md), copied from the config at creation */
	uint64_t task_mem;                  /* bytes of command buffers held by live tasks */
	uint64_t tx_mem;                    /* bytes held by queued transmit PDUs */
	uint64_t lim_conn_memory, lim_tx_backlog;
	int lim_tasks;                      /* live tasks before new commands are rejected */
	bool rx_paused;                     /* EPOLLIN off until the transmit backlog drains */
	/* batching under load (reactor_batch_hint): the reactor pauses
	 * coalesce_us (0 = never) after a turn in which this connection sent a
	 * command with at least coalesce_depth outstanding (iscsi_outstanding) */
	unsigned coalesce_us;
	uint32_t coalesce_depth;
	bool counted_pending;               /* counted in the pre-login connection total */

	/* counters (read racily by status) */
	uint64_t st_cmds, st_read_bytes, st_write_bytes, st_errors, st_pdus_in, st_pdus_out;
};

#define ISCSI_TAKEN_MAX 256             /* session: CmdSNs taken ahead of a gap, at most */

struct iscsi_session {
	uint16_t tsih;
	uint8_t isid[ISCSI_ISID_LEN];
	char initiator[TCONF_NAME_MAX];
	char initiator_alias[256];
	char target_name[TCONF_NAME_MAX];
	char port_name[TCONF_NAME_MAX + 32];
	enum iscsi_session_type type;
	/* RFC 7143 4.4.1/4.4.3: a session lives in one portal group, and its
	 * identity (for reinstatement) includes that group's tag */
	uint16_t tpgt;
	struct iscsi_tgt *tgt;
	struct scsi_itn *itn;
	struct scsi_port port;
	struct reactor *r;
	struct iscsi_params p;
	uint32_t exp_cmdsn, max_cmdsn;
	uint32_t window;
	struct iscsi_task *pending;         /* out-of-order commands sorted by CmdSN */
	/* CmdSNs ahead of a gap already taken without a task: non-SCSI requests
	 * answered at once, and commands an ABORT TASK named before they came
	 * (RFC 7143 11.5.1); ExpCmdSN passes them when the gap fills */
	uint32_t taken[ISCSI_TAKEN_MAX];
	unsigned ntaken;
	struct iscsi_conn *conns;           /* under g_iscsi.lock for changes */
	int nconns;
	bool dying;                         /* killed: no login finds it; registered until freed */
	bool replaced;                      /* reinstated by a new login, its kill posted: no login
					     * finds it; alive for task management until the kill ran */
	bool in_registry;
	const char *kill_why;               /* reason of a kill posted from another reactor */
	/* Reinstatement (RFC 7143 6.3.5), under g_iscsi.lock: the session this
	 * one replaced and whose end its login answer waits for, and the one
	 * that replaced this one. A write of the old session still in the
	 * backend must not land after a write of the new one (session.c). */
	struct iscsi_session *predecessor, *successor;
	uint64_t created_ms;
	uint64_t uid;                       /* unique for the process' life (stale-message check) */
	struct iscsi_session *next;         /* g_iscsi.sessions */
};

/* per-reactor state */
struct iscsi_reactor {
	struct reactor *r;
	struct iscsi_conn *conns;
	struct iscsi_conn *dirty;
	/* connections with complete PDUs left in their receive buffer (budget,
	 * throttle): parsed from the idle hook, the socket may hold nothing more */
	struct iscsi_conn *rx_head, *rx_tail;
	uint32_t rx_pass;
	/* reload revocations waiting for their drop timer (iscsi.c): freed at
	 * the reactor's exit if the timer never ran */
	struct iscsi_revoke *revokes;
};
void iscsi_revokes_free(struct iscsi_reactor *ir);

/* Commands an initiator has outstanding on a connection as far as the target
 * can tell: its tasks here, plus responses sent (StatSN up to stat_sn - 1)
 * that it has not acknowledged yet (ExpStatSN). More unacknowledged responses
 * than the session's CmdSN window allows commands (an initiator that lags
 * with ExpStatSN, or one from the future) count as none. */
uint32_t iscsi_outstanding(uint32_t stat_sn, uint32_t exp_stat_sn, uint32_t ntasks, uint32_t window);

/* ---- opcode dispatch (rx.c) ---- */
typedef int (*iscsi_pdu_fn)(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
struct iscsi_op {
	const char *name;
	/* called when the header (and digest) is complete; sets where the data goes.
	 * Returns 0, or -1 when the connection must be dropped. May set c->rx_discard. */
	int (*hdr)(struct iscsi_conn *c);
	/* called with the whole PDU */
	iscsi_pdu_fn handler;
	/* called instead of handler when the data digest is wrong (the PDU is
	 * rejected already, its data is garbage): ends what hdr started, such
	 * as the task reference in c->rx_task. NULL: hdr holds nothing. */
	iscsi_pdu_fn digest_error;
	bool login_ok;                      /* allowed before full feature phase */
};
extern const struct iscsi_op iscsi_ops[ISCSI_OP_MAX];

/* rx.c */
void iscsi_conn_readable(struct iscsi_conn *c);
/* Idle hook part: resume parsing on connections left with buffered PDUs
 * (before the flush), and keep the reactor awake while any can go on (after). */
void iscsi_rx_run_pending(struct iscsi_reactor *ir);
void iscsi_rx_wake_pending(struct iscsi_reactor *ir);
/* Parse what is buffered soon (a connection rehomed on a new reactor). */
void iscsi_rx_kick(struct iscsi_conn *c);
/* Connection closing: off the pending list, receive buffer freed. */
void iscsi_rx_release(struct iscsi_conn *c);
/* tx.c */
struct iscsi_txpdu *iscsi_pdu_get(struct iscsi_conn *c);
void iscsi_pdu_put(struct iscsi_conn *c, struct iscsi_txpdu *p);
void iscsi_pdu_queue(struct iscsi_conn *c, struct iscsi_txpdu *p);
/* give p a data segment of its own holding a copy of data (0, or -1 without
 * memory: p unchanged, the caller decides) */
int iscsi_pdu_copy_data(struct iscsi_txpdu *p, const void *data, uint32_t len);
int iscsi_conn_flush(struct iscsi_conn *c);
void iscsi_conn_writable(struct iscsi_conn *c);
void iscsi_tx_free_all(struct iscsi_conn *c);
void iscsi_reactor_idle(void *arg);
/* fill StatSN (and advance it when advance), ExpCmdSN, MaxCmdSN */
void iscsi_pdu_set_sn(struct iscsi_conn *c, uint8_t *bhs, bool advance);
/* build and queue a reject for the given header */
void iscsi_send_reject(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason);

/* conn.c */
struct iscsi_conn *iscsi_conn_create(int fd, uint16_t tpgt, const char *peer, const char *local);
void iscsi_conn_attach(void *arg);        /* reactor_post target */
void iscsi_conn_close(struct iscsi_conn *c, const char *why);
/* Tell the connection observer (iscsi_set_conn_observer) about an accepted
 * (local/peer set) or closed (NULL) connection. */
void iscsi_conn_observe(uint64_t id, const struct sockaddr *local, const struct sockaddr *peer);
void iscsi_conn_maybe_free(struct iscsi_conn *c);
struct iscsi_reactor *iscsi_reactor_get(struct reactor *r);
void iscsi_conn_start_nop(struct iscsi_conn *c);
/* Resource limits (docs/HARDENING.md): connections alive / not yet logged in,
 * the login-complete hook that ends "pending", and the epoll mask from
 * tx_epollout + rx_paused. */
void iscsi_conn_counts(int *total, int *pending);
void iscsi_conn_logged_in(struct iscsi_conn *c);
void iscsi_conn_update_events(struct iscsi_conn *c);
/* Transmit backlog check at a PDU boundary: stop reading when over the bound. */
bool iscsi_conn_rx_throttle(struct iscsi_conn *c);
/* Move a connection between reactors (connection add to a session living on
 * another reactor): detach on the old thread, rehome on the new one. */
void iscsi_conn_detach(struct iscsi_conn *c);
int iscsi_conn_rehome(struct iscsi_conn *c);

/* task management within a connection (cmd.c) */
struct iscsi_task *iscsi_task_get(struct iscsi_conn *c);
void iscsi_task_put(struct iscsi_task *t);
struct iscsi_task *iscsi_task_find(struct iscsi_conn *c, uint32_t itt);
void iscsi_task_unhash(struct iscsi_task *t);
void iscsi_task_free_all(struct iscsi_conn *c);
int iscsi_op_scsi_cmd_hdr(struct iscsi_conn *c);
int iscsi_op_scsi_cmd(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
int iscsi_op_scsi_cmd_digest_error(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
void iscsi_task_deliver(struct iscsi_task *t);   /* CmdSN order reached */
void iscsi_task_exec(struct iscsi_task *t);
void iscsi_task_abort(struct iscsi_task *t);
void iscsi_task_fail(struct iscsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq);
/* Answer CHECK CONDITION instead of executing, when it would (the first reason stays). */
void iscsi_task_fail_later(struct iscsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq);

/* dataout.c */
int iscsi_op_data_out_hdr(struct iscsi_conn *c);
int iscsi_op_data_out(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
int iscsi_op_data_out_digest_error(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
void iscsi_task_send_r2ts(struct iscsi_task *t);
/* datain.c */
void iscsi_task_complete(struct scsi_task *st);
void iscsi_send_scsi_rsp(struct iscsi_task *t);

/* session.c */
struct iscsi_session *iscsi_session_create(void);
void iscsi_session_cmdsn_received(struct iscsi_conn *c, struct iscsi_task *t);
bool iscsi_session_cmdsn_check(struct iscsi_conn *c, const uint8_t *bhs);
bool iscsi_session_cmdsn_take(struct iscsi_session *s, uint32_t sn);
void iscsi_session_cmd_done(struct iscsi_task *t);
void iscsi_session_conn_gone(struct iscsi_conn *c);
void iscsi_session_kill(struct iscsi_session *s, const char *why);
void iscsi_session_post_kill_locked(struct iscsi_session *s, const char *why);
void iscsi_session_release(struct iscsi_session *s);
uint32_t iscsi_session_exp_cmdsn(const struct iscsi_conn *c);
uint32_t iscsi_session_max_cmdsn(const struct iscsi_conn *c);
void iscsi_session_request_logout(struct iscsi_session *s, uint16_t time2wait);

/* login.c */
int iscsi_op_login(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
void iscsi_login_free(struct iscsi_conn *c);
void iscsi_login_resume(struct iscsi_conn *c);
/* text.c */
int iscsi_op_text(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
int iscsi_sendtargets(struct iscsi_conn *c, const char *value, struct iscsi_text *out);
/* nop.c */
int iscsi_op_nop_out(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
int iscsi_nop_timer(struct reactor *r, void *arg);
/* logout.c */
int iscsi_op_logout(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
void iscsi_send_async_logout(struct iscsi_conn *c, uint16_t time2wait);
/* tmf.c */
int iscsi_op_tmf(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen);
uint8_t iscsi_tmf_abort_unknown(uint32_t ref, uint32_t tmf_cmdsn, uint32_t exp_cmdsn, uint32_t max_cmdsn);
void iscsi_tmf_task_gone(struct iscsi_task *t);
void iscsi_tmf_conn_gone(struct iscsi_conn *c);
/* scsi_itn abort callback (PREEMPT AND ABORT), arg = the session, by = the
 * PR OUT, whose response then waits for the aborted tasks. */
void iscsi_session_abort_cb(void *arg, uint64_t lun, struct scsi_task *by);
/* A task with pr_wait finished in the SCSI layer: its response goes once the
 * aborts it waits for are done (then iscsi_task_complete runs again). */
void iscsi_tmf_pr_done(struct iscsi_task *t);
/* portal.c */
struct iscsi_portal {
	int fd;
	uint16_t tag;
	char addr[64];
	uint16_t port;
	char pg_name[64];
	struct reactor *r;
	bool closed;
	struct iscsi_portal *next;
};
int iscsi_portals_open(const struct tconf *conf, char *err, size_t errlen);
void iscsi_portals_close(void);
/* Open the portals conf adds, close those it drops (reload). Returns how many
 * could not be opened; the first one's reason in first_err. */
int iscsi_portals_sync(const struct tconf *conf, char *first_err, size_t errlen);
void iscsi_fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len, bool with_port);

/* iscsi.c helpers (take g_iscsi.lock inside) */
struct iscsi_tgt *iscsi_tgt_get(const char *name);   /* +1 ref, NULL if absent */
/* Under g_iscsi.lock: why t's configuration no longer admits a session of
 * initiator through portal group tpgt (removed, ACL, portal group), or that
 * session's port left ALUA group alua_group (0: not checked), or NULL. */
const char *iscsi_session_denied_locked(const struct iscsi_tgt *t, const char *initiator, uint16_t tpgt,
					uint16_t alua_group);
void iscsi_tgt_put(struct iscsi_tgt *t);
void iscsi_param_limits_from_conf(struct iscsi_param_limits *lim);
#endif

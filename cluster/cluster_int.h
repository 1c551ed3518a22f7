/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cluster/ internals: the pure role decision (decide.c), the CPG message
 * format (msg.c), packet builders for gratuitous ARP and tickle ACKs (packet.c),
 * netlink address messages (netlink.c) and the connection table (conns.c).
 * Everything here except the senders is pure and unit-tested. */
#ifndef TANDEM_CLUSTER_INT_H
#define TANDEM_CLUSTER_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- wire values (stable: they travel in CPG messages) ---------------- */
enum cl_role { CL_ROLE_UNKNOWN = 0, CL_ROLE_SECONDARY = 1, CL_ROLE_PRIMARY = 2 };
enum cl_disk {
	CL_DISK_DUNKNOWN = 0, CL_DISK_DISKLESS = 1, CL_DISK_INCONSISTENT = 2, CL_DISK_OUTDATED = 3,
	CL_DISK_UPTODATE = 4,
};
const char *cl_role_name(enum cl_role r);
const char *cl_disk_name(enum cl_disk d);
/* "UpToDate" etc. (repl's names); CL_DISK_DUNKNOWN when unknown. */
enum cl_disk cl_disk_from_name(const char *s);

/* ---- role decision (decide.c) ----------------------------------------- */
enum cl_manager { CL_MGR_BUILTIN = 0, CL_MGR_PACEMAKER = 1, CL_MGR_NONE = 2 };   /* = tconf_cluster_manager */
enum cl_fencing { CL_FENCING_QDEVICE = 0, CL_FENCING_COMMAND = 1, CL_FENCING_NONE = 2 }; /* = tconf_cluster_fencing */
enum cl_fence { CL_FENCE_IDLE = 0, CL_FENCE_RUNNING, CL_FENCE_OK, CL_FENCE_FAILED };

struct cl_view {
	enum cl_manager manager;
	enum cl_fencing fencing;
	bool corosync_up;       /* CPG and votequorum connected */
	bool quorate;
	bool qdevice_proof;     /* quorate through a qdevice vote, two_node off, alone in the quorum membership */
	enum cl_role my_role;
	enum cl_disk my_disk;   /* worst of all replicated LUNs (UpToDate without replication) */
	bool my_data_current;   /* every replicated LUN's data known to be the newest: compared
				 * with the peer's since start and since the last quorum loss,
				 * or the peer recorded Outdated (repl's known_current) */
	bool my_standby;
	bool split_brain;
	bool failover_busy;     /* a planned failover runs (on either node) */
	bool peer_member;       /* the peer's tandemd is in the CPG group */
	bool peer_known;        /* ...and announced its state since it joined */
	enum cl_role peer_role;
	enum cl_disk peer_disk;
	bool peer_standby;
	bool peer_lost;         /* not a member: it vanished (or was never seen) while it could be primary */
	enum cl_fence fence;    /* fence command state for the current loss */
	bool lower_id;          /* my corosync node id is lower than the peer's (tie break) */
	bool peer_node_up;      /* the peer's node is in the corosync (quorum) membership:
				 * an absent peer tandemd there has stopped, it is not serving */
	bool startup;           /* tandemd just started and has not seen the peer yet */
	bool fence_delay;       /* the peer's node vanished less than fence_delay_ms ago: a
				 * non-Primary waits before fencing (the Primary fences first) */
};

enum cl_action { CL_ACT_NONE = 0, CL_ACT_PROMOTE, CL_ACT_DEMOTE, CL_ACT_FENCE, CL_ACT_WAIT };
struct cl_decision {
	enum cl_action action;
	const char *reason;     /* static string, for status and logs */
};
struct cl_decision cl_decide(const struct cl_view *v);
const char *cl_action_name(enum cl_action a);

/* The Primary lost the peer and replication froze its writes (repl's fence
 * handler): what proves the peer cannot be promoted without them? */
struct cl_fence_view {
	enum cl_fencing fencing;
	bool quorate;
	bool qdevice_proof;     /* as in cl_view */
	bool peer_member;       /* the peer's tandemd is in the CPG group: it can be asked */
	bool peer_node_up;      /* the peer's node is in the corosync membership */
	bool peer_outdated;     /* it answered this request, or announced as it left: its disks
				 * are Outdated (durably) */
	bool peer_left_clean;   /* it announced a clean exit, not primary, and this manager
				 * promotes it again only after it compared its data with ours
				 * (built-in: "known current") */
	bool peer_refused;      /* it answered: it cannot (it is primary, or its metadata failed) */
	bool peer_primary;      /* its last STATE says Primary (a refusal may end with the tie-break) */
	bool asked;             /* an OUTDATE_REQUEST for this request was sent */
	bool ask_expired;       /* ...CL_OUTDATE_TIMEOUT_MS ago, without an Outdated answer */
	enum cl_fence fence;    /* fence command state for the current loss */
	bool pacemaker;         /* the command is pacemaker's outdate-peer command, not a fence */
};
enum cl_fence_action {
	CL_FA_WAIT = 0,
	CL_FA_ASK,              /* send OUTDATE_REQUEST */
	CL_FA_FENCE,            /* run the fence command */
	CL_FA_OUTDATED,         /* answer repl: the peer is Outdated */
	CL_FA_DEAD,             /* answer repl: the peer is dead (or fencing none) */
};
struct cl_fence_decision {
	enum cl_fence_action action;
	const char *reason;
};
#define CL_OUTDATE_TIMEOUT_MS 5000
struct cl_fence_decision cl_decide_fence(const struct cl_fence_view *v);
const char *cl_fence_action_name(enum cl_fence_action a);

/* ---- CPG messages (msg.c) ----------------------------------------------- */
#define CL_MSG_MAGIC 0x544e4443u        /* "TNDC" */
#define CL_MSG_VERSION 1
#define CL_MSG_HDR 16
#define CL_NAME_MAX 64                  /* including NUL */
#define CL_MAX_PORTALS 8
#define CL_MAX_CONNS 4096
#define CL_MSG_MAX (CL_MSG_HDR + 4 + CL_NAME_MAX + 4 + CL_MAX_CONNS * 12)

enum cl_msg_type {
	CL_MSG_STATE = 1,               /* periodic and on every change */
	CL_MSG_CONNS = 2,               /* snapshot of client connections on the floating IP */
	CL_MSG_TRANSITION = 3,          /* floating ALUA group Transitioning (on=1) / back (on=0) */
	CL_MSG_HANDOVER = 4,            /* old primary released everything: target, take over */
	CL_MSG_FAILOVER_REQUEST = 5,    /* operator asked on a non-primary: primary, hand over to target */
	CL_MSG_HANDOVER_FAILED = 6,     /* target could not promote (reason in text) */
	CL_MSG_OUTDATE_REQUEST = 7,     /* Primary lost the replication link: target, outdate your disks (epoch = request id) */
	CL_MSG_OUTDATE_ANSWER = 8,      /* to target (the requester): on=1 my disks are Outdated, durably; on=0 refused (text) */
};

/* flags of STATE */
enum {
	CL_SF_STANDBY = 1u << 0, CL_SF_SPLIT_BRAIN = 1u << 1, CL_SF_IN_SYNC = 1u << 2, CL_SF_HOLDS_IP = 1u << 3,
	CL_SF_LEAVING = 1u << 4, CL_SF_FAILOVER = 1u << 5,
};

struct cl_portal {
	char addr[46];
	uint16_t port;
	uint16_t rel_port_id;
};

struct cl_conn {                        /* IPv4, network byte order */
	uint32_t client_ip, server_ip;
	uint16_t client_port, server_port;
};

struct cl_msg {
	enum cl_msg_type type;
	uint32_t seq;
	char name[CL_NAME_MAX];         /* sender's node name */
	/* STATE */
	enum cl_role role;
	enum cl_disk disk, peer_disk;
	uint8_t flags;
	uint64_t gen;
	uint8_t nportals;
	struct cl_portal portals[CL_MAX_PORTALS];
	/* CONNS (conns is malloc'd by decode; cl_msg_clear frees it) */
	uint32_t nconns;
	struct cl_conn *conns;
	/* TRANSITION / HANDOVER / FAILOVER_REQUEST / HANDOVER_FAILED / OUTDATE_REQUEST / OUTDATE_ANSWER */
	char target[CL_NAME_MAX];
	uint8_t on;
	uint32_t epoch;
	char text[128];
};

/* Encode into buf (at least CL_MSG_MAX for CONNS, 1 KiB otherwise): the length,
 * or -1 when it does not fit or a field is out of range. */
int cl_msg_encode(const struct cl_msg *m, uint8_t *buf, size_t len);
/* Decode and validate; 0, or -1 with a reason in why. */
int cl_msg_decode(const uint8_t *buf, size_t len, struct cl_msg *m, char *why, size_t whylen);
void cl_msg_clear(struct cl_msg *m);
const char *cl_msg_type_name(int type);

/* ---- packets (packet.c) ---------------------------------------------------- */
uint16_t cl_inet_csum(const void *data, size_t len, uint32_t start);
/* IPv4 + TCP tickle ACK (seq 0, ack 0, ACK; rst adds RST), 40 bytes; addresses
 * and ports in network byte order. Returns the length or 0 if len is short. */
size_t cl_build_tickle(uint8_t *buf, size_t len, uint32_t src_ip, uint16_t src_port, uint32_t dst_ip,
		       uint16_t dst_port, bool rst);
/* Ethernet + ARP gratuitous frame for ip (network order) from mac: request
 * (target MAC 0) or reply (target MAC broadcast). 42 bytes, or 0. */
size_t cl_build_garp(uint8_t *buf, size_t len, const uint8_t mac[6], uint32_t ip, bool reply);
/* Senders (need CAP_NET_RAW). 0 or -errno. */
int cl_send_garp(const char *ifname, uint32_t ip);
int cl_send_tickle(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port);
/* Whether a connection the peer announced (CONNS) may get tickle ACKs from us:
 * its server side is our floating address (fip; and port fport unless 0) and its client a unicast
 * address other than ours; anything else is dropped, so a confused or hostile
 * peer cannot make this node send forged TCP segments to arbitrary hosts. */
bool cl_conn_tickle_ok(const struct cl_conn *c, uint32_t fip, uint16_t fport);

/* ---- netlink (netlink.c) --------------------------------------------------- */
/* Build RTM_NEWADDR (add) or RTM_DELADDR for ip/prefix on ifindex into buf
 * (at least 256 bytes). Returns the message length or 0. */
size_t cl_nl_build_addr(void *buf, size_t len, bool add, unsigned ifindex, uint32_t ip, uint8_t prefix,
			uint32_t seq);
/* Add / remove the address; adding an existing one or removing a missing one
 * is success. 0, or -1 with err. */
int cl_nl_addr(bool add, const char *ifname, uint32_t ip, uint8_t prefix, char *err, size_t errlen);
/* Is ip configured on any interface? */
bool cl_have_addr(uint32_t ip);

/* ---- connection table (conns.c) ------------------------------------------- */
/* Fed by the iSCSI connection observer on reactor threads; read on the main
 * thread. Only connections whose local address is the watched address count. */
int cl_conns_init(uint32_t watch_ip);       /* returns an eventfd that becomes readable on change */
void cl_conns_fini(void);
/* Copy up to max entries; returns how many there are (may exceed max). */
size_t cl_conns_snapshot(struct cl_conn *out, size_t max);
/* Clear the eventfd; true when something changed since the last call. */
bool cl_conns_consume(void);
#endif

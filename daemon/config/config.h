/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandem.conf in memory: what the parser produces and every layer reads.
 * The parser (config/parse.c) turns the braced text into this tree, validates
 * it completely, and reports the first error as "file:line: message".
 * Nothing here is changed after load; a reload builds a new struct tconf. */
#ifndef TANDEM_CONFIG_H
#define TANDEM_CONFIG_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define TCONF_NAME_MAX 224        /* iSCSI names are at most 223 bytes (RFC 7143 6.1) */
#define TCONF_PATH_MAX 4096
#define TCONF_MAX_LUNS 256
#define TCONF_DEFAULT_PATH "/etc/tandem/tandem.conf"

enum tconf_backend { TCONF_BACKEND_BLOCKIO, TCONF_BACKEND_FILEIO, TCONF_BACKEND_NULL };
enum tconf_cache { TCONF_CACHE_WRITE_THROUGH, TCONF_CACHE_WRITE_BACK, TCONF_CACHE_NV };

struct tconf_lun {
	uint32_t lun;                       /* LUN number, 0..16383 */
	int line;                           /* where it was defined (for messages) */
	enum tconf_backend backend;
	char path[TCONF_PATH_MAX];          /* backing device or file ("" for null) */
	uint64_t size;                      /* bytes; 0 = size of the existing device/file */
	bool create;                        /* create a sparse file of `size` if missing */
	uint32_t block_size;                /* 512 or 4096; default 512 */
	enum tconf_cache cache;             /* default write-through */
	bool readonly;
	/* Device identity: identical on both nodes of a pair, never derived from the host. */
	char serial[65];                    /* VPD 0x80 unit serial number */
	bool serial_derived;                /* not in the file: from the target's alias or name */
	uint8_t naa[16];                    /* NAA designator bytes (VPD 0x83) */
	uint8_t naa_len;                    /* 8 (NAA 5) or 16 (NAA 6) */
	char vendor[9];                     /* T10 vendor id, default "TANDEM" */
	char product[17];                   /* default "tandem-disk" */
	char revision[5];                   /* default "0001" */
	int rotation_rate;                  /* VPD 0xB1: 0 = from device, 1 = non-rotating */
	/* Replication (docs/REPLICATION.md): mirrored to the peer named in `replication`. */
	bool replicated;
	char meta[TCONF_PATH_MAX];          /* metadata file; default <state_dir>/md/<serial>.md */
};

struct tconf_listen {
	char addr[64];                      /* numeric IPv4/IPv6 address */
	uint16_t port;                      /* default 3260 */
	int line;
};

/* A portal group: the addresses one iSCSI target portal group tag answers on. */
struct tconf_portal_group {
	char name[64];
	uint16_t tag;                       /* Target Portal Group Tag, 1..65535 */
	struct tconf_listen *listen;
	size_t nlisten;
	int line;
	/* ALUA (docs/ALUA.md): this portal group is one SCSI target port. */
	uint16_t rel_port_id;               /* relative target port id; 0 in the struct = tag */
	char alua_group[64];                /* `alua_group:` name, "" = the implicit group */
	uint16_t alua_group_id;             /* resolved group id (1 = implicit group) */
	int alua_line;                      /* line of `alua_group:` */
};

/* ALUA target port group (SPC-4 5.15): `alua_group NAME { id: N  state: S }`. */
enum tconf_alua_state {
	TCONF_ALUA_ACTIVE_OPTIMIZED, TCONF_ALUA_ACTIVE_NONOPTIMIZED, TCONF_ALUA_STANDBY,
	TCONF_ALUA_UNAVAILABLE, TCONF_ALUA_TRANSITIONING,
};

struct tconf_alua_group {
	char name[64];
	uint16_t id;                        /* target port group id, 1..65535 */
	enum tconf_alua_state state;        /* initial state, default active-optimized */
	uint16_t *peer_ports;               /* relative port ids of the peer node's ports */
	size_t npeer_ports;
	int line;
};

struct tconf_chap {
	char user[256];
	char secret[256];                   /* 12..255 bytes */
	char mutual_user[256];              /* "" = one-way CHAP */
	char mutual_secret[256];
};

struct tconf_target {
	char name[TCONF_NAME_MAX];          /* IQN/EUI/NAA name */
	char alias[256];
	int line;
	char **portal_groups;               /* names of portal groups it is reachable through; none = all */
	size_t nportal_groups;
	struct tconf_lun *luns;
	size_t nluns;
	/* Initiator ACL: patterns with '*' and '?' wildcards (fnmatch). An initiator is
	 * admitted when it matches no deny pattern and (allow is empty or it matches an
	 * allow pattern). */
	char **allow;
	size_t nallow;
	char **deny;
	size_t ndeny;
	bool chap_enabled;
	struct tconf_chap chap;
};

struct tconf_global {
	int log_level;                      /* syslog level, default LOG_INFO */
	int threads;                        /* reactor threads, default min(4, nproc) */
	char ctl_socket[108];               /* libqb IPC service name, default "tandem" */
	char state_dir[TCONF_PATH_MAX];     /* persistent state (APTPL reservations), default /var/lib/tandem */
	int nop_interval;                   /* s, target NOP-In on idle connections, default 5; 0 = off */
	int nop_timeout;                    /* s, drop the connection when no answer, default 10 */
	int login_timeout;                  /* s, default 15 */
	int max_sessions;                   /* default 64 */
	int max_connections_per_session;    /* default 4 */
	int max_cmds_per_session;           /* CmdSN window (MaxCmdSN - ExpCmdSN + 1), default 128 */
	uint32_t max_recv_data_segment;     /* what the target declares, default 1 MiB */
	uint32_t max_burst;                 /* upper bound for MaxBurstLength, default 1 MiB */
	uint32_t first_burst;               /* upper bound for FirstBurstLength, default 256 KiB */
	int sndbuf, rcvbuf;                 /* socket buffers in bytes, default 4 MiB */
	/* Batching under load (docs/ARCHITECTURE.md, "Coalescing"): a reactor
	 * pauses coalesce_us before its next wait while a connection has at
	 * least coalesce_depth commands outstanding and sent more. */
	int coalesce_us;                    /* default 30; 0 = off */
	int coalesce_depth;                 /* default 16 */
	bool discovery_chap;                /* require CHAP on discovery sessions */
	struct tconf_chap discovery_chap_cred;
	/* Resource limits against hostile or broken clients (docs/HARDENING.md). */
	int max_connections;                /* iSCSI connections in total, any state, default 256 */
	int max_pending_logins;             /* connections not yet in full feature phase, default 64 */
	uint32_t max_conn_memory;           /* command buffers per connection, bytes, default 64 MiB */
	uint32_t max_tx_backlog;            /* queued responses per connection before it stops reading, default 4 MiB */
	uint32_t max_text_response;         /* one Text/SendTargets response, bytes, default 1 MiB */
	/* May initiators change ALUA states (SET TARGET PORT GROUPS)? docs/ALUA.md */
	int alua_explicit;                  /* enum tconf_alua_explicit, default auto */
	int alua_explicit_line;             /* where it was set, 0 = default */
};

/* global `alua_explicit:`. auto = explicit ALUA only on a node without a
 * replication or cluster section: where a pair's roles decide the states, an
 * initiator's STPG must not change one node's state behind them. */
enum tconf_alua_explicit { TCONF_ALUA_EXPLICIT_AUTO = 0, TCONF_ALUA_EXPLICIT_YES, TCONF_ALUA_EXPLICIT_NO };

/* `cluster { }` (docs/CLUSTER.md): the built-in HA manager of cluster/. */
enum tconf_cluster_manager { TCONF_CLUSTER_BUILTIN, TCONF_CLUSTER_PACEMAKER, TCONF_CLUSTER_NONE };
enum tconf_cluster_fencing { TCONF_FENCING_QDEVICE, TCONF_FENCING_COMMAND, TCONF_FENCING_NONE };

struct tconf_cluster {
	bool enabled;                       /* a cluster section exists */
	int line;
	enum tconf_cluster_manager manager; /* default builtin */
	char node[64];                      /* this node (corosync nodelist name) */
	char peer[64];                      /* optional */
	char cpg_group[64];                 /* default "tandem" */
	char floating_ip[64];               /* "A.B.C.D/P" as written; "" = none */
	char floating_addr[16];             /* "A.B.C.D" */
	uint8_t floating_prefix;
	char interface[16];
	char alua_group[64];                /* ALUA group of the floating portal; "" = implicit group */
	enum tconf_cluster_fencing fencing; /* default qdevice */
	char fence_command[1024];
	char outdate_peer_command[1024];    /* manager pacemaker: marks a lost peer outdated (CIB) */
	int fence_timeout_ms, promote_delay_ms, arp_count, arp_interval_ms;
	int tickle_count, tickle_interval_ms, reconnect_ms, announce_ms;
	int fence_delay_ms;                 /* a non-Primary delays fencing a vanished node (default 500) */
};

/* `replication { }`: the peer link of this node (docs/REPLICATION.md). */
struct tconf_replication {
	bool enabled;                       /* the section exists */
	int line;
	char node[64];                      /* this node's name */
	char peer_name[64];
	struct tconf_listen listen;         /* replication address of this node, default port 7790 */
	struct tconf_listen peer;           /* the peer's replication address */
	char secret[256];                   /* shared secret for the HMAC handshake, at least 16 chars */
	uint64_t resync_rate;               /* bytes/s, default 100M */
	uint64_t resync_min_rate;           /* bytes/s resync keeps under application I/O, default 250K */
	int ping_interval_ms;               /* default 1000 */
	int ping_timeout_ms;                /* default 500 */
	int timeout_ms;                     /* default 6000 */
	int connect_retry_ms;               /* default 1000 */
	char tcp_congestion[16];            /* link's TCP congestion control, default "cubic";
					     * "system" keeps the kernel's default */
};

struct tconf {
	char path[TCONF_PATH_MAX];          /* file it came from, "(embedded default)" if none */
	struct tconf_global global;
	struct tconf_portal_group *portal_groups;
	size_t nportal_groups;
	struct tconf_target *targets;
	size_t ntargets;
	struct tconf_alua_group *alua_groups;   /* none = one implicit group id 1 */
	size_t nalua_groups;
	struct tconf_cluster cluster;          /* cluster.enabled = false without a section */
	struct tconf_replication repl;         /* repl.enabled = false without a section */
};

/* Parse and validate a file. Returns NULL and writes "file:line: what" to err on
 * any error; nothing is half-loaded. */
struct tconf *tconf_load_file(const char *path, char *err, size_t errlen);
/* Same from a buffer; `name` is used in messages as the file name. */
struct tconf *tconf_load_string(const char *name, const char *text, char *err, size_t errlen);
/* The embedded default: one 1 GiB sparse file-backed LUN (blockio,
 * /var/lib/tandem/lun0.img, created if missing) on 127.0.0.1:3260, target
 * iqn.2026-11.org.tandem:default. */
struct tconf *tconf_default(void);
void tconf_free(struct tconf *c);

/* Helpers shared with the rest of the daemon. */
const struct tconf_portal_group *tconf_find_portal_group(const struct tconf *c, const char *name);
const struct tconf_target *tconf_find_target(const struct tconf *c, const char *name);
/* ACL check as described on struct tconf_target. */
bool tconf_initiator_allowed(const struct tconf_target *t, const char *initiator);
/* Does target t answer on portal group pg? */
bool tconf_target_in_portal_group(const struct tconf_target *t, const struct tconf_portal_group *pg);
const char *tconf_backend_name(enum tconf_backend b);
const char *tconf_cache_name(enum tconf_cache c);
const struct tconf_alua_group *tconf_find_alua_group(const struct tconf *c, const char *name);
/* The resolved alua_explicit: true when initiators may send SET TARGET PORT GROUPS. */
bool tconf_alua_explicit(const struct tconf *c);
const char *tconf_alua_state_name(enum tconf_alua_state s);
#endif

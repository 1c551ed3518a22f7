/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The iSCSI layer's entry points for main.c and the control server: build the
 * targets and portals from a config, apply a reload, report status. All of
 * PDUs, logins, sessions and connections stay behind this header. */
#ifndef TANDEM_ISCSI_H
#define TANDEM_ISCSI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"
#include "util/json.h"

/* Create SCSI targets and LUNs (opening backends) and start listening on every
 * portal. Connections are spread over the reactor pool, which must be running.
 * On error nothing is left half-started; err says what failed. */
int iscsi_init(const struct tconf *conf, char *err, size_t errlen);
/* Apply a new, already validated config: new/removed targets and LUNs, ACLs,
 * CHAP, portals, limits. Existing sessions to kept targets stay up. New
 * devices are opened before anything changes. -1: a new target cannot be
 * created (err says why); the running configuration is untouched. 0: applied.
 * 1: applied, but some of it is not in service (a LUN whose device cannot
 * open, a portal address that cannot be bound; the next reload tries them
 * again): err says the first. From 0 or 1 on, conf must stay valid until the
 * next reload or shutdown. */
int iscsi_reload(const struct tconf *conf, char *err, size_t errlen);
/* Main thread, periodically: close the devices of LUNs a reload removed while
 * commands were still running on them (scsi_target_remove_lun). */
void iscsi_reap(void);
/* Close portals, log out/close sessions, close backends. */
void iscsi_shutdown(void);
/* Append {"targets":[...], "portals":[...], "sessions":[...], "counters":{...}}
 * members to an open JSON object. Thread-safe. */
void iscsi_status(struct json_writer *w);

/* Connection observer (cluster/: tickle ACKs after an address move, see
 * docs/PORTALS.md). fn is called on a reactor thread for every accepted TCP
 * connection (open = true, with its local and remote endpoints) and once when
 * it closes (open = false, same id, endpoints NULL). It must be quick and
 * thread-safe. One observer; NULL removes it. */
struct sockaddr;
typedef void (*iscsi_conn_observer_fn)(uint64_t id, bool open, const struct sockaddr *local,
				       const struct sockaddr *peer, void *arg);
void iscsi_set_conn_observer(iscsi_conn_observer_fn fn, void *arg);
#endif

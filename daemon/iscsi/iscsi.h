/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The iSCSI layer's entry points for main.c and the control server: build the
 * targets and portals from a config, apply a reload, report status. All of
 * PDUs, logins, sessions and connections stay behind this header. */
#ifndef TANDEM_ISCSI_H
#define TANDEM_ISCSI_H
#include <stddef.h>
#include "config/config.h"
#include "util/json.h"

/* Create SCSI targets and LUNs (opening backends) and start listening on every
 * portal. Connections are spread over the reactor pool, which must be running.
 * On error nothing is left half-started; err says what failed. */
int iscsi_init(const struct tconf *conf, char *err, size_t errlen);
/* Apply a new, already validated config: new/removed targets and LUNs, ACLs,
 * CHAP, portals, limits. Existing sessions to kept targets stay up. The new conf
 * must stay valid until the next reload or shutdown. */
int iscsi_reload(const struct tconf *conf, char *err, size_t errlen);
/* Close portals, log out/close sessions, close backends. */
void iscsi_shutdown(void);
/* Append {"targets":[...], "portals":[...], "sessions":[...], "counters":{...}}
 * members to an open JSON object. Thread-safe. */
void iscsi_status(struct json_writer *w);
#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a reload (SIGHUP, `tandemctl reload`) changes in a running replication
 * engine. An operator tunes the resync rate during business hours and rotates
 * the shared secret without restarting either node, as with `drbdadm adjust`:
 * rates and timers apply at once, the secret and tcp_congestion from the next
 * connection (the running link was authenticated with the old secret and keeps
 * it), and who and where the nodes are (node, peer_name, listen, peer) only at
 * the next start, which the log says. Replicated LUNs new to the file get
 * their volume from repl_add_volumes (repl_state.c) before the LUNs open, and
 * repl_wrap decides whether they may join; one taken out of the file detaches
 * (wrap_close). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/log.h"

/* Secret and congestion control for the repl reactor to take over. */
struct reload_strings {
	char secret[sizeof(repl_eng.secret)];
	char tcp_congestion[sizeof(repl_eng.tcp_congestion)];
};

static void take_strings(void *arg)
{
	struct reload_strings *n = arg;

	memcpy(repl_eng.secret, n->secret, sizeof(repl_eng.secret));
	memcpy(repl_eng.tcp_congestion, n->tcp_congestion, sizeof(repl_eng.tcp_congestion));
	explicit_bzero(n, sizeof(*n));
	free(n);
}

void repl_reload(const struct tconf *old, const struct tconf *conf)
{
	const struct tconf_replication *rc = &conf->repl, *prev = &old->repl;
	char changed[512] = "", restart[256] = "";
	struct reload_strings *n;
	bool secret_changed, cc_changed;

	if (!repl_eng.enabled) {
		if (rc->enabled)
			qb_log(LOG_WARNING, "repl: reload: a replication section was added: it takes effect at the "
			       "next start of tandemd");
		return;
	}
	if (!rc->enabled) {
		/* the config check already refused replicated LUNs without the section */
		qb_log(LOG_WARNING, "repl: reload: the replication section was removed: replication keeps "
		       "running until the next start of tandemd");
		return;
	}
	if (strcmp(rc->node, repl_eng.node) != 0)
		strcat(restart, " node");
	if (strcmp(rc->peer_name, repl_eng.peer_name) != 0)
		strcat(restart, " peer_name");
	if (strcmp(rc->listen.addr, repl_eng.listen_addr) != 0 || rc->listen.port != repl_eng.listen_port)
		strcat(restart, " listen");
	if (strcmp(rc->peer.addr, repl_eng.peer_addr) != 0 || rc->peer.port != repl_eng.peer_port)
		strcat(restart, " peer");
	if (restart[0])
		qb_log(LOG_WARNING, "repl: reload: changed%s: takes effect at the next start of tandemd", restart);

	const struct {
		const char *key, *unit;
		unsigned long long from, to;
	} tun[] = {
		{ "resync_rate", " B/s", repl_eng.resync_rate, rc->resync_rate },
		{ "resync_min_rate", " B/s", repl_eng.resync_min_rate, rc->resync_min_rate },
		{ "ping_interval_ms", "", repl_eng.ping_interval_ms, (unsigned long long)rc->ping_interval_ms },
		{ "ping_timeout_ms", "", repl_eng.ping_timeout_ms, (unsigned long long)rc->ping_timeout_ms },
		{ "timeout_ms", "", repl_eng.timeout_ms, (unsigned long long)rc->timeout_ms },
		{ "connect_retry_ms", "", repl_eng.connect_retry_ms, (unsigned long long)rc->connect_retry_ms },
	};
	for (size_t i = 0; i < sizeof(tun) / sizeof(tun[0]); i++) {
		size_t used = strlen(changed);

		if (tun[i].from != tun[i].to && used < sizeof(changed))
			snprintf(changed + used, sizeof(changed) - used, "%s%s %llu -> %llu%s", used ? ", " : "",
				 tun[i].key, tun[i].from, tun[i].to, tun[i].unit);
	}
	repl_set_tunables(rc);
	if (changed[0])
		qb_log(LOG_NOTICE, "repl: reload: %s", changed);

	/* The engine's copies belong to the reactor (take_strings may be running
	 * now for an earlier reload): compare with the configuration the daemon
	 * accepted last, which is what the reactor has or is about to have. */
	secret_changed = !prev->enabled || strcmp(rc->secret, prev->secret) != 0;
	cc_changed = !prev->enabled || strcmp(rc->tcp_congestion, prev->tcp_congestion) != 0;
	if (!secret_changed && !cc_changed)
		return;
	n = calloc(1, sizeof(*n));
	if (!n) {
		qb_log(LOG_ERR, "repl: reload: out of memory: the secret and tcp_congestion stay as they were");
		return;
	}
	snprintf(n->secret, sizeof(n->secret), "%s", rc->secret);
	snprintf(n->tcp_congestion, sizeof(n->tcp_congestion), "%s", rc->tcp_congestion);
	reactor_post(repl_eng.r, take_strings, n);
	qb_log(LOG_NOTICE, "repl: reload:%s%s: used from the next connection (the running link keeps its own)",
	       secret_changed ? " secret changed" : "",
	       cc_changed ? (secret_changed ? ", tcp_congestion changed" : " tcp_congestion changed") : "");
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text requests in full feature phase (RFC 7143 11.10, 11.11): SendTargets
 * discovery (Appendix C), other keys through the negotiation module, requests
 * sent in pieces (C bit) gathered, and long responses split over several Text
 * Responses with the C bit and a TTT. */
#include "iscsi/iscsi_int.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_wildcard(const char *addr)
{
	return strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0 || addr[0] == 0;
}

static void add_target(struct iscsi_conn *c, const struct tconf_target *t, struct iscsi_text *out)
{
	const struct tconf *conf = g_iscsi.conf;

	iscsi_text_add(out, "TargetName", t->name);
	for (size_t i = 0; i < conf->nportal_groups; i++) {
		const struct tconf_portal_group *pg = &conf->portal_groups[i];
		if (!tconf_target_in_portal_group(t, pg))
			continue;
		for (size_t j = 0; j < pg->nlisten; j++) {
			const char *a = pg->listen[j].addr;
			if (is_wildcard(a))
				a = c->local;
			/* RFC 7143 13.8: IPv6 literals in brackets */
			if (strchr(a, ':'))
				iscsi_text_addf(out, "TargetAddress", "[%s]:%u,%u", a, pg->listen[j].port, pg->tag);
			else
				iscsi_text_addf(out, "TargetAddress", "%s:%u,%u", a, pg->listen[j].port, pg->tag);
		}
	}
}

/* SendTargets=All|<name>|"" (RFC 7143 Appendix C). */
int iscsi_sendtargets(struct iscsi_conn *c, const char *value, struct iscsi_text *out)
{
	struct iscsi_session *s = c->sess;
	const struct tconf *conf;

	pthread_mutex_lock(&g_iscsi.lock);
	conf = g_iscsi.conf;
	for (size_t i = 0; conf && i < conf->ntargets; i++) {
		const struct tconf_target *t = &conf->targets[i];
		bool want;
		if (s->type == ISCSI_SESSION_NORMAL)
			/* in a normal session: only the target of the session */
			want = strcmp(t->name, s->target_name) == 0 &&
			       (!value[0] || strcasecmp(value, "All") == 0 || strcmp(value, t->name) == 0);
		else
			want = strcasecmp(value, "All") == 0 || strcmp(value, t->name) == 0;
		if (want && tconf_initiator_allowed(t, s->initiator))
			add_target(c, t, out);
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	return 0;
}

static uint32_t new_text_ttt(struct iscsi_conn *c)
{
	c->text_ttt = c->next_ttt++;
	if (c->text_ttt == ISCSI_RSVD_TAG)
		c->text_ttt = c->next_ttt++;
	return c->text_ttt;
}

/* flags: ISCSI_FLAG_FINAL, ISCSI_TEXT_CONTINUE or 0 (RFC 7143 11.11.1-2:
 * F=0 asks for the next request; C says our text goes on, never with F) */
static struct iscsi_txpdu *text_rsp(struct iscsi_conn *c, const uint8_t *req, uint8_t flags, uint32_t ttt)
{
	struct iscsi_txpdu *p = iscsi_pdu_get(c);

	if (!p) {
		iscsi_conn_close(c, "out of memory for a text response");
		return NULL;
	}
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_TEXT_RSP;
	p->bhs[ISCSI_BHS_FLAGS] = flags;
	memcpy(p->bhs + ISCSI_BHS_LUN, req + ISCSI_BHS_LUN, 8);
	put_be32(p->bhs + ISCSI_BHS_ITT, get_be32(req + ISCSI_BHS_ITT));
	put_be32(p->bhs + ISCSI_BHS_TTT, ttt);
	iscsi_pdu_set_sn(c, p->bhs, true);
	return p;
}

/* The next piece of our answer. Only a request with F=1 gets the final
 * piece with F=1 (RFC 7143 11.11.1: F=1 to an F=0 request is a protocol
 * error); after an F=0 request the exchange stays open, with a TTT, for the
 * initiator's next request. */
static void send_text_chunk(struct iscsi_conn *c, const uint8_t *req)
{
	uint32_t max = c->p.max_xmit_dsl ? c->p.max_xmit_dsl : 8192;
	size_t left = c->text_pending.len - c->text_sent;
	uint32_t chunk = left > max ? max : (uint32_t)left;
	bool more = left > max, final = !more && (req[ISCSI_BHS_FLAGS] & ISCSI_FLAG_FINAL);
	struct iscsi_txpdu *p = text_rsp(c, req, more ? ISCSI_TEXT_CONTINUE : final ? ISCSI_FLAG_FINAL : 0,
					 final ? ISCSI_RSVD_TAG : new_text_ttt(c));

	if (!p)
		return;
	if (chunk && iscsi_pdu_copy_data(p, c->text_pending.data + c->text_sent, chunk) < 0) {
		iscsi_pdu_put(c, p);
		iscsi_conn_close(c, "out of memory for a text response");
		return;
	}
	c->text_sent += chunk;
	iscsi_pdu_queue(c, p);
	if (!more) {
		iscsi_text_free(&c->text_pending);
		c->text_sent = 0;
		c->text_open = !final;
		if (final)
			c->text_ttt = ISCSI_RSVD_TAG;
	}
}

/* The initiator's request goes on in its next PDU (C=1): an empty answer
 * with F=0 and a TTT for it to send that PDU with (RFC 7143 6.2, 11.11.4). */
static void ask_for_more(struct iscsi_conn *c, const uint8_t *req)
{
	struct iscsi_txpdu *p = text_rsp(c, req, 0, new_text_ttt(c));

	if (p)
		iscsi_pdu_queue(c, p);
}

static void text_reset(struct iscsi_conn *c)
{
	iscsi_text_free(&c->text_pending);
	c->text_sent = 0;
	iscsi_text_free(&c->text_in);
	c->text_in_open = false;
	c->text_open = false;
	c->text_ttt = ISCSI_RSVD_TAG;
}

struct text_scan {
	bool sendtargets;
	char st_value[TCONF_NAME_MAX];
	struct iscsi_text rest;
	int err;
};

static int text_key(const char *key, const char *value, void *arg)
{
	struct text_scan *ts = arg;

	if (strcmp(key, "SendTargets") == 0) {
		ts->sendtargets = true;
		snprintf(ts->st_value, sizeof(ts->st_value), "%s", value);
		return 0;
	}
	if (iscsi_text_add(&ts->rest, key, value) < 0)
		ts->err = -1;
	return 0;
}

int iscsi_op_text(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	uint32_t ttt = get_be32(bhs + ISCSI_BHS_TTT), itt = get_be32(bhs + ISCSI_BHS_ITT);
	uint8_t flags = bhs[ISCSI_BHS_FLAGS];
	bool cont = flags & ISCSI_TEXT_CONTINUE;
	struct text_scan ts = { 0 };
	struct iscsi_text out = { 0 };

	if (!iscsi_session_cmdsn_check(c, bhs))
		return 0;
	if (cont && (flags & ISCSI_FLAG_FINAL)) {
		/* RFC 7143 11.10.2: a request that goes on cannot be final */
		iscsi_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	}
	if (ttt != ISCSI_RSVD_TAG) {
		/* RFC 7143 11.10.4: the answer to our F=0 response of this exchange */
		if ((!c->text_pending.len && !c->text_in_open && !c->text_open) || ttt != c->text_ttt ||
		    itt != c->text_itt) {
			iscsi_send_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
			return 0;
		}
		if (c->text_pending.len) {
			/* asking for the rest of our long response: no text of its own */
			if (dlen || cont) {
				text_reset(c);
				iscsi_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
				return 0;
			}
			send_text_chunk(c, bhs);
			return 0;
		}
		/* the next request of an open exchange, or the next piece of one */
		c->text_open = false;
	} else {
		/* a new exchange ends any unfinished one (RFC 7143 11.10.4) */
		text_reset(c);
		c->text_itt = itt;
	}
	if (cont || c->text_in_open) {
		if (iscsi_text_append(&c->text_in, data, dlen) < 0) {
			qb_log(LOG_NOTICE, "iscsi: %s: Text request over %u bytes refused", c->peer,
			       ISCSI_TEXT_DEFAULT_LIMIT);
			text_reset(c);
			iscsi_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
			return 0;
		}
		if (cont) {
			c->text_in_open = true;
			ask_for_more(c, bhs);
			return 0;
		}
		data = (uint8_t *)c->text_in.data;
		dlen = (uint32_t)c->text_in.len;
	}
	if (dlen && iscsi_text_parse((const char *)data, dlen, text_key, &ts) < 0) {
		iscsi_text_free(&ts.rest);
		text_reset(c);
		iscsi_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return 0;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	out.limit = g_iscsi.gc.max_text_response ? g_iscsi.gc.max_text_response : 1024 * 1024;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (ts.sendtargets)
		iscsi_sendtargets(c, ts.st_value, &out);
	if (ts.rest.len) {
		struct iscsi_negotiation n;
		struct iscsi_param_limits lim;
		iscsi_param_limits_from_conf(&lim);
		iscsi_negotiation_init(&n, &lim, false);
		n.p = c->p;
		if (c->sess) {
			n.session_type = c->sess->type;
			n.p.max_connections = c->sess->p.max_connections;
		}
		if (iscsi_param_negotiate(&n, ISCSI_STAGE_FULL_FEATURE, ts.rest.data, ts.rest.len, &out) == ISCSI_PARAM_OK)
			c->p.max_xmit_dsl = n.p.max_xmit_dsl ? n.p.max_xmit_dsl : c->p.max_xmit_dsl;
	}
	iscsi_text_free(&ts.rest);
	iscsi_text_free(&c->text_in);
	c->text_in_open = false;
	c->text_pending = out;
	c->text_sent = 0;
	send_text_chunk(c, bhs);
	return 0;
}

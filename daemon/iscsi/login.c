/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Login phase (RFC 7143 6, 11.12, 11.13): stage transitions with the T and C
 * bits, identity checks (initiator name, target, ACL, portal group), CHAP,
 * TSIH allocation, session creation, reinstatement and connection add. */
#include "util/utf8.h"
#include "iscsi/iscsi_int.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/stat.h"

/* RFC 7143 6.1: a Login Response carries at most 8192 bytes of text (the
 * initiator's MaxRecvDataSegmentLength is not in force before full feature
 * phase); a longer answer is split with the C bit. */
#define ISCSI_LOGIN_RSP_MAX 8192

struct iscsi_login_ctx {
	struct iscsi_negotiation neg;
	bool first_done;
	bool failed;
	int stage;                      /* the CSG we expect next */
	uint8_t isid[ISCSI_ISID_LEN];
	uint16_t tsih;
	uint16_t cid;
	uint32_t itt;
	uint32_t cmdsn;
	/* accumulated text across C-bit PDUs */
	char *text;
	size_t text_len, text_cap;
	/* our answer when it is longer than one Login Response may carry: the
	 * rest goes out piece by piece, each asked for by an empty request */
	struct iscsi_text rsp;
	size_t rsp_sent;
	bool rsp_transit;
	int rsp_nsg;
	/* the final answer of a leading login that reinstated a session, held
	 * until the old session's last task has left the backend */
	bool held;
	uint8_t held_req[ISCSI_BHS_LEN];
	int held_csg;                   /* the answer goes to full feature phase (stage) */
	char *held_text;
	size_t held_len;
	uint64_t held_ms;
	int held_old_tsih;
	/* identity */
	struct iscsi_tgt *tgt;
	struct iscsi_session *join;     /* existing session (connection add) */
	char alias[256];
	/* authentication */
	bool auth_required, auth_done, chap_chosen, chap_started;
	struct tconf_chap cred;
	struct iscsi_chap chap;
	char method[128];
	char chap_a[256], chap_n[256], chap_r[ISCSI_CHAP_VALUE_MAX], chap_i[64], chap_c[ISCSI_CHAP_VALUE_MAX];
	bool have_a, have_n, have_r, have_i, have_c, have_method;
	const char *too_long;           /* why a security key was refused for its length */
	uint32_t window;
	bool migrated;
	char initiator[TCONF_NAME_MAX];
	int session_type;
};

void iscsi_login_free(struct iscsi_conn *c)
{
	struct iscsi_login_ctx *l = c->login;

	if (!l)
		return;
	if (l->tgt)
		iscsi_tgt_put(l->tgt);
	if (l->join)
		iscsi_session_release(l->join);   /* the reference taken at lookup */
	free(l->text);
	free(l->held_text);
	iscsi_text_free(&l->rsp);
	memset(l->cred.secret, 0, sizeof(l->cred.secret));
	memset(l->cred.mutual_secret, 0, sizeof(l->cred.mutual_secret));
	free(l);
	c->login = NULL;
}

static int security_key(const char *key, const char *value, void *arg)
{
	struct iscsi_login_ctx *l = arg;
	struct { const char *k; char *dst; size_t len; bool *have; const char *too_long; } keys[] = {
		{ "CHAP_A", l->chap_a, sizeof(l->chap_a), &l->have_a, "CHAP_A list too long" },
		{ "CHAP_N", l->chap_n, sizeof(l->chap_n), &l->have_n, "CHAP_N too long" },
		{ "CHAP_R", l->chap_r, sizeof(l->chap_r), &l->have_r, "CHAP_R over 1024 bytes (RFC 7143 12.1.3)" },
		{ "CHAP_I", l->chap_i, sizeof(l->chap_i), &l->have_i, "CHAP_I too long" },
		{ "CHAP_C", l->chap_c, sizeof(l->chap_c), &l->have_c, "CHAP_C over 1024 bytes (RFC 7143 12.1.3)" },
		{ "AuthMethod", l->method, sizeof(l->method), &l->have_method, "AuthMethod list too long" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(key, keys[i].k) == 0) {
			if (strlen(value) >= keys[i].len) {
				l->too_long = keys[i].too_long;
				return -1;
			}
			snprintf(keys[i].dst, keys[i].len, "%s", value);
			*keys[i].have = true;
			return 0;
		}
	}
	return 1;   /* not ours */
}

/* Queue a Login Response. status = class << 8 | detail; cont sets the C bit
 * (more text follows, RFC 7143 11.13.2: never with T). */
static void login_respond(struct iscsi_conn *c, const uint8_t *req, int status, bool transit, bool cont, int csg,
			  int nsg, uint16_t tsih, const char *text, size_t len)
{
	struct iscsi_login_ctx *l = c->login;
	struct iscsi_txpdu *p = iscsi_pdu_get(c);

	if (!p) {
		iscsi_conn_close(c, "out of memory for a login response");
		return;
	}
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_LOGIN_RSP;
	if (status == ISCSI_LOGIN_OK)
		p->bhs[ISCSI_BHS_FLAGS] = (uint8_t)((transit ? ISCSI_LOGIN_TRANSIT : 0) |
						    (cont ? ISCSI_LOGIN_CONTINUE : 0) |
						    (csg << ISCSI_LOGIN_CSG_SHIFT) | (transit ? nsg : 0));
	else
		p->bhs[ISCSI_BHS_FLAGS] = (uint8_t)(csg << ISCSI_LOGIN_CSG_SHIFT);
	p->bhs[ISCSI_LOGIN_VMAX] = 0;   /* RFC 7143 11.13.3: version 0 */
	p->bhs[ISCSI_LOGIN_VMIN] = 0;
	memcpy(p->bhs + ISCSI_LOGIN_ISID, req + ISCSI_LOGIN_ISID, ISCSI_ISID_LEN);
	put_be16(p->bhs + ISCSI_LOGIN_TSIH, tsih);
	put_be32(p->bhs + ISCSI_BHS_ITT, get_be32(req + ISCSI_BHS_ITT));
	put_be32(p->bhs + ISCSI_BHS_STATSN, c->stat_sn++);
	if (c->sess) {
		put_be32(p->bhs + ISCSI_BHS_EXPCMDSN, c->sess->exp_cmdsn);
		put_be32(p->bhs + ISCSI_BHS_MAXCMDSN, c->sess->max_cmdsn);
	} else {
		uint32_t sn = l ? l->cmdsn : get_be32(req + ISCSI_BHS_CMDSN);
		put_be32(p->bhs + ISCSI_BHS_EXPCMDSN, sn);
		put_be32(p->bhs + ISCSI_BHS_MAXCMDSN, sn + (l && l->window ? l->window - 1 : 0));
	}
	p->bhs[ISCSI_LOGIN_STATUS_CLASS] = (uint8_t)(status >> 8);
	p->bhs[ISCSI_LOGIN_STATUS_DETAIL] = (uint8_t)status;
	if (len && iscsi_pdu_copy_data(p, text, (uint32_t)len) < 0) {
		/* an answer without its keys would be a different answer */
		iscsi_pdu_put(c, p);
		iscsi_conn_close(c, "out of memory for a login response");
		return;
	}
	iscsi_pdu_queue(c, p);
}

static void close_after_send(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	iscsi_conn_close(c, "login failed");
}

/* Reject the login with a status (RFC 7143 11.13.5) and close after sending. */
static int login_fail(struct iscsi_conn *c, const uint8_t *req, int status, const char *why)
{
	struct iscsi_login_ctx *l = c->login;
	int csg = (req[ISCSI_BHS_FLAGS] & ISCSI_LOGIN_CSG_MASK) >> ISCSI_LOGIN_CSG_SHIFT;

	qb_log(LOG_NOTICE, "iscsi: %s: login of %s rejected (0x%04x): %s", c->peer,
	       l && l->initiator[0] ? l->initiator : "?", (unsigned)status, why);
	if (l)
		l->failed = true;
	login_respond(c, req, status, false, false, csg, 0, 0, NULL, 0);
	if (c->txq && !c->closing) {
		struct iscsi_txpdu *last = c->txq;
		while (last->next)
			last = last->next;
		last->sent = close_after_send;
	} else {
		iscsi_conn_close(c, "login failed");
	}
	return 0;
}

static int append_text(struct iscsi_login_ctx *l, const uint8_t *data, uint32_t dlen)
{
	if (!dlen)
		return 0;
	if (l->text_len + dlen > ISCSI_LOGIN_TEXT_MAX)
		return -1;
	if (l->text_len + dlen > l->text_cap) {
		size_t cap = l->text_cap ? l->text_cap * 2 : 8192;
		while (cap < l->text_len + dlen)
			cap *= 2;
		char *n = realloc(l->text, cap);
		if (!n)
			return -1;
		l->text = n;
		l->text_cap = cap;
	}
	memcpy(l->text + l->text_len, data, dlen);
	l->text_len += dlen;
	return 0;
}

static const struct tconf_portal_group *pg_by_tag(uint16_t tag)
{
	for (size_t i = 0; g_iscsi.conf && i < g_iscsi.conf->nportal_groups; i++)
		if (g_iscsi.conf->portal_groups[i].tag == tag)
			return &g_iscsi.conf->portal_groups[i];
	return NULL;
}

struct prescan {
	char initiator[TCONF_NAME_MAX];
	char target[TCONF_NAME_MAX];
	int type;
};

static int prescan_key(const char *key, const char *value, void *arg)
{
	struct prescan *ps = arg;

	if (strcmp(key, "InitiatorName") == 0)
		snprintf(ps->initiator, sizeof(ps->initiator), "%s", value);
	else if (strcmp(key, "TargetName") == 0)
		snprintf(ps->target, sizeof(ps->target), "%s", value);
	else if (strcmp(key, "SessionType") == 0)
		ps->type = strcmp(value, "Discovery") == 0 ? ISCSI_SESSION_DISCOVERY : ISCSI_SESSION_NORMAL;
	return 0;
}

/* RFC 7143 6.3.5: the live normal session a leading login with this identity
 * (InitiatorName, ISID, TargetName, TPGT, 4.4.3) reinstates, or NULL. */
static struct iscsi_session *reinstated_locked(const char *initiator, const uint8_t *isid, const char *target,
					       uint16_t tpgt)
{
	for (struct iscsi_session *o = g_iscsi.sessions; o; o = o->next)
		if (!o->dying && !o->replaced && o->type == ISCSI_SESSION_NORMAL && o->tpgt == tpgt &&
		    memcmp(o->isid, isid, ISCSI_ISID_LEN) == 0 && strcmp(o->initiator, initiator) == 0 &&
		    strcmp(o->target_name, target) == 0)
			return o;
	return NULL;
}

/* max_sessions bounds normal and discovery sessions separately: idle
 * discovery sessions of one peer must not lock every initiator out, and a
 * login that replaces a session adds none, so it is never refused. */
static bool sessions_full_locked(int type, const char *initiator, const uint8_t *isid, const char *target,
				 uint16_t tpgt)
{
	int max = g_iscsi.gc.max_sessions;

	if (max <= 0)
		return false;
	if (type == ISCSI_SESSION_DISCOVERY)
		return g_iscsi.ndiscovery >= max;
	if (reinstated_locked(initiator, isid, target, tpgt))
		return false;
	return g_iscsi.nsessions - g_iscsi.ndiscovery >= max;
}

/* Can connection c (CID cid) join session s? ISCSI_LOGIN_OK or the status
 * to fail with. Asked at the first PDU and again at the switch to full
 * feature phase: in between the session may have been logged out,
 * reinstated or had the initiator's access revoked by a reload, and other
 * joins may have taken the last MaxConnections slot. */
static int join_refusal_locked(const struct iscsi_session *s, const struct iscsi_conn *c, uint16_t cid,
			       const char **why)
{
	unsigned live = 0;

	if (s->dying || s->replaced || !s->in_registry) {
		*why = "session ended or reinstated";
		return ISCSI_LOGIN_NO_SESSION;
	}
	if (s->tpgt != c->tpgt) {
		/* RFC 7143 4.4.1: a session's connections share its portal group */
		*why = "connection add through another portal group";
		return ISCSI_LOGIN_NO_SESSION_SPANNING;
	}
	if (s->r != c->r) {
		*why = "connection arrived on another reactor than its session";
		return ISCSI_LOGIN_TOO_MANY_CONNS;
	}
	if (s->type == ISCSI_SESSION_NORMAL &&
	    (*why = iscsi_session_denied_locked(s->tgt, s->initiator, c->tpgt, s->port.tpg_id)) != NULL)
		return ISCSI_LOGIN_AUTHZ_FAILED;
	for (const struct iscsi_conn *o = s->conns; o; o = o->snext) {
		if (o->cid == cid) {
			/* RFC 7143 6.3.4: same CID = connection reinstatement */
			*why = "CID already in use (connection reinstatement is ERL 2)";
			return ISCSI_LOGIN_TOO_MANY_CONNS;
		}
		live++;
	}
	if (live >= (s->p.max_connections ? s->p.max_connections : 1)) {
		*why = "MaxConnections reached";
		return ISCSI_LOGIN_TOO_MANY_CONNS;
	}
	return ISCSI_LOGIN_OK;
}

/* First complete text of the login: who is it, what does it want. The keys are
 * looked at before negotiation so that the AuthMethod answer knows whether
 * the target requires CHAP. */
static int login_identify(struct iscsi_conn *c, const uint8_t *req)
{
	struct iscsi_login_ctx *l = c->login;
	struct prescan ps = { .type = ISCSI_SESSION_NONE };
	struct prescan *n = &ps;

	if (iscsi_text_parse(l->text ? l->text : "", l->text_len, prescan_key, &ps) < 0)
		return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "malformed login text"), -1;
	snprintf(l->initiator, sizeof(l->initiator), "%s", ps.initiator);
	if (!ps.initiator[0])
		return login_fail(c, req, ISCSI_LOGIN_MISSING_PARAM, "no InitiatorName"), -1;
	if (!utf8_printable(ps.initiator) || !utf8_printable(ps.target)) {
		l->initiator[0] = '\0';        /* never logged or shown */
		return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "InitiatorName or TargetName with control "
				  "characters or malformed UTF-8"), -1;
	}
	if (ps.type == ISCSI_SESSION_NONE)
		ps.type = ISCSI_SESSION_NORMAL;   /* RFC 7143 13.21: default Normal */
	l->session_type = ps.type;
	if (ps.type == ISCSI_SESSION_NORMAL) {
		const struct tconf_portal_group *pg;
		bool allowed, reachable;

		if (!n->target[0])
			return login_fail(c, req, ISCSI_LOGIN_MISSING_PARAM, "no TargetName"), -1;
		l->tgt = iscsi_tgt_get(n->target);
		if (!l->tgt)
			return login_fail(c, req, ISCSI_LOGIN_NOT_FOUND, "target not found"), -1;
		pthread_mutex_lock(&g_iscsi.lock);
		pg = pg_by_tag(c->tpgt);
		reachable = !l->tgt->removed && (!pg || tconf_target_in_portal_group(l->tgt->conf, pg));
		allowed = reachable && tconf_initiator_allowed(l->tgt->conf, n->initiator);
		if (reachable) {        /* a removed target has no configuration any more */
			l->auth_required = l->tgt->conf->chap_enabled;
			l->cred = l->tgt->conf->chap;
			snprintf(l->alias, sizeof(l->alias), "%s", l->tgt->conf->alias);
		}
		pthread_mutex_unlock(&g_iscsi.lock);
		if (!reachable)
			return login_fail(c, req, ISCSI_LOGIN_NOT_FOUND, "target not on this portal group"), -1;
		if (!allowed)
			return login_fail(c, req, ISCSI_LOGIN_AUTHZ_FAILED, "initiator not in the target's ACL"), -1;
	} else {
		pthread_mutex_lock(&g_iscsi.lock);
		l->auth_required = g_iscsi.gc.discovery_chap;
		l->cred = g_iscsi.gc.discovery_chap_cred;
		pthread_mutex_unlock(&g_iscsi.lock);
	}
	if (l->tsih) {
		/* RFC 7143 6.3.4(?): connection add to an existing session */
		struct iscsi_session *s;
		int status = ISCSI_LOGIN_OK;
		const char *why = NULL;

		pthread_mutex_lock(&g_iscsi.lock);
		for (s = g_iscsi.sessions; s; s = s->next)
			if (s->tsih == l->tsih)
				break;
		if (!s || s->dying || s->replaced || strcmp(s->initiator, n->initiator) != 0 ||
		    memcmp(s->isid, l->isid, ISCSI_ISID_LEN) != 0 || (int)s->type != n->type ||
		    (s->type == ISCSI_SESSION_NORMAL && strcmp(s->target_name, n->target) != 0)) {
			status = ISCSI_LOGIN_NO_SESSION;
			why = "no such session (TSIH)";
		} else {
			status = join_refusal_locked(s, c, l->cid, &why);
		}
		if (status == ISCSI_LOGIN_OK) {
			l->join = s;
			s->nconns++;
		}
		pthread_mutex_unlock(&g_iscsi.lock);
		if (status != ISCSI_LOGIN_OK)
			return login_fail(c, req, status, why), -1;
		l->neg.leading = false;
	} else {
		bool full;
		pthread_mutex_lock(&g_iscsi.lock);
		full = sessions_full_locked(ps.type, ps.initiator, l->isid, ps.target, c->tpgt);
		pthread_mutex_unlock(&g_iscsi.lock);
		if (full)
			return login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "max_sessions reached"), -1;
	}
	l->neg.chap_required = l->auth_required;
	l->neg.chap_allowed = l->auth_required;
	return 0;
}

/* Security stage (RFC 7143 6.2, 12.1): AuthMethod was answered by the
 * negotiation module under our chap_required policy; run the CHAP exchange. */
static int login_security(struct iscsi_conn *c, const uint8_t *req, struct iscsi_text *out)
{
	struct iscsi_login_ctx *l = c->login;

	if (l->neg.auth_method == ISCSI_AUTH_CHAP)
		l->chap_chosen = true;
	else if (l->neg.auth_method == ISCSI_AUTH_REJECTED && l->auth_required)
		return login_fail(c, req, ISCSI_LOGIN_AUTH_FAILED, "CHAP required but not offered"), -1;
	if (!l->chap_chosen)
		return 0;
	if (l->have_a && !l->chap_started) {
		l->have_a = false;
		if (iscsi_chap_start(&l->chap, l->chap_a, out) < 0)
			return login_fail(c, req, ISCSI_LOGIN_AUTH_FAILED, "no acceptable CHAP algorithm"), -1;
		l->chap_started = true;
	}
	if (l->have_n || l->have_r) {
		int rc;
		if (!l->chap_started || !l->have_n || !l->have_r)
			return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "CHAP_N/CHAP_R out of sequence"), -1;
		rc = iscsi_chap_verify(&l->chap, l->chap_n, l->chap_r, l->have_i ? l->chap_i : NULL,
				       l->have_c ? l->chap_c : NULL, l->cred.user, l->cred.secret,
				       l->cred.mutual_user[0] ? l->cred.mutual_user : NULL,
				       l->cred.mutual_secret[0] ? l->cred.mutual_secret : NULL, out);
		l->have_n = l->have_r = l->have_i = l->have_c = false;
		if (rc == -2)
			return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "malformed CHAP response"), -1;
		if (rc < 0)
			return login_fail(c, req, ISCSI_LOGIN_AUTH_FAILED, "CHAP authentication failed"), -1;
		l->auth_done = true;
		qb_log(LOG_INFO, "iscsi: %s: CHAP authentication of %s succeeded", c->peer, l->chap_n);
	}
	return 0;
}

static uint16_t alloc_tsih(void)
{
	for (int tries = 0; tries < 65536; tries++) {
		uint16_t t = ++g_iscsi.next_tsih;
		bool used = false;
		if (!t)
			continue;
		for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next)
			if (s->tsih == t)
				used = true;
		if (!used)
			return t;
	}
	return 0;
}

/* Leading login done: create and register the session (RFC 7143 6.3.5:
 * reinstating an older session with the same ISID). Returns the reinstated
 * session's TSIH (its end is to be waited for), -1 when there is none, or
 * ISCSI_MAKE_FAILED / ISCSI_MAKE_DENIED. */
enum { ISCSI_MAKE_FAILED = -2, ISCSI_MAKE_DENIED = -3 };
static int login_make_session(struct iscsi_conn *c)
{
	struct iscsi_login_ctx *l = c->login;
	struct iscsi_negotiation *n = &l->neg;
	struct iscsi_session *s = iscsi_session_create(), *o;
	int old_tsih = -1;              /* a reinstated session's (it may be gone once unlocked) */

	if (!s)
		return ISCSI_MAKE_FAILED;
	s->type = n->session_type;
	s->tpgt = c->tpgt;
	memcpy(s->isid, l->isid, ISCSI_ISID_LEN);
	snprintf(s->initiator, sizeof(s->initiator), "%s", n->initiator_name);
	snprintf(s->initiator_alias, sizeof(s->initiator_alias), "%s", n->initiator_alias);
	s->r = c->r;
	s->p = n->p;
	s->window = l->window;
	STAT_SET(s->exp_cmdsn, l->cmdsn);
	STAT_SET(s->max_cmdsn, l->cmdsn + l->window - 1);
	if (s->type == ISCSI_SESSION_NORMAL) {
		char isid[13];
		snprintf(s->target_name, sizeof(s->target_name), "%s", l->tgt->name);
		for (int i = 0; i < ISCSI_ISID_LEN; i++)
			snprintf(isid + 2 * i, 3, "%02x", l->isid[i]);
		/* SAM-5/RFC 7143 10.1: iSCSI initiator port name */
		snprintf(s->port_name, sizeof(s->port_name), "%s,i,0x%s", s->initiator, isid);
		/* the portal group is the SCSI target port (ALUA: its group id) */
		s->port.rel_port_id = c->tpgt;
		s->port.tpg_id = 0;
		pthread_mutex_lock(&g_iscsi.lock);
		const struct tconf_portal_group *pg = pg_by_tag(c->tpgt);
		if (pg) {
			if (pg->rel_port_id)
				s->port.rel_port_id = pg->rel_port_id;
			s->port.tpg_id = pg->alua_group_id;
		}
		pthread_mutex_unlock(&g_iscsi.lock);
		snprintf(s->port.name, sizeof(s->port.name), "%s,t,0x%04x", l->tgt->name, c->tpgt);
		s->itn = scsi_itn_create(l->tgt->st, s->port_name, &s->port);
		if (!s->itn) {
			free(s);
			return ISCSI_MAKE_FAILED;
		}
		scsi_itn_set_abort_cb(s->itn, iscsi_session_abort_cb, s);
		s->tgt = l->tgt;
		l->tgt = NULL;          /* the session keeps the reference */
	}
	pthread_mutex_lock(&g_iscsi.lock);
	/* a reload between the identity checks and here may have taken the
	 * access away: its revocation scan cannot see this session yet */
	const char *denied = s->type == ISCSI_SESSION_NORMAL ?
			     iscsi_session_denied_locked(s->tgt, s->initiator, c->tpgt, s->port.tpg_id) : NULL;
	if (denied) {
		pthread_mutex_unlock(&g_iscsi.lock);
		qb_log(LOG_NOTICE, "iscsi: %s: login of %s refused: %s (configuration reloaded during the login)",
		       c->peer, s->initiator, denied);
		scsi_itn_destroy(s->itn);
		iscsi_tgt_put(s->tgt);
		free(s);
		return ISCSI_MAKE_DENIED;
	}
	if (s->type == ISCSI_SESSION_NORMAL) {
		/* the old session stays registered (replaced, then dying: no
		 * login finds it) until its last task left the backend and it is
		 * freed: task management and PREEMPT AND ABORT of other nexuses
		 * look for its tasks there and wait for them. Not dying before
		 * its kill runs on its reactor: a sweep that ran first would skip
		 * its queued commands, which that reactor could still deliver.
		 * The new session waits for that end before its login completes
		 * (session.c, succession): like LIO's and SCST's, so that a write
		 * of the old session that is still in the device cannot land over
		 * a newer write of the new one (its retry, say). */
		o = reinstated_locked(s->initiator, s->isid, s->target_name, s->tpgt);
		if (o) {
			old_tsih = o->tsih;
			o->replaced = true;
			o->successor = s;
			s->predecessor = o;
			iscsi_session_post_kill_locked(o, "session reinstated");
		}
	}
	s->tsih = alloc_tsih();
	s->conns = c;
	c->snext = NULL;
	s->nconns = 1;
	s->next = g_iscsi.sessions;
	g_iscsi.sessions = s;
	s->in_registry = true;
	g_iscsi.nsessions++;
	if (s->type == ISCSI_SESSION_DISCOVERY)
		g_iscsi.ndiscovery++;
	pthread_mutex_unlock(&g_iscsi.lock);
	c->sess = s;
	if (old_tsih >= 0)
		qb_log(LOG_NOTICE, "iscsi: %s: reinstating session TSIH %d of %s (RFC 7143 6.3.5)", c->peer, old_tsih,
		       s->initiator);
	qb_log(s->type == ISCSI_SESSION_NORMAL ? LOG_INFO : LOG_DEBUG,
	       "iscsi: %s: %s session TSIH %u for %s%s%s", c->peer,
	       s->type == ISCSI_SESSION_NORMAL ? "normal" : "discovery", s->tsih, s->initiator,
	       s->type == ISCSI_SESSION_NORMAL ? " to " : "", s->target_name);
	return old_tsih;
}

static void login_complete(struct iscsi_conn *c)
{
	struct iscsi_login_ctx *l = c->login;

	c->state = ISCSI_CONN_FULL;
	iscsi_conn_logged_in(c);
	c->cid = l->cid;
	/* connection-level values; session-wide ones come from the leading login */
	c->p = l->neg.p;
	if (c->sess && l->join)
		c->p.max_burst_length = c->sess->p.max_burst_length;
	if (c->login_timer) {
		reactor_timer_cancel(c->r, c->login_timer);
		c->login_timer = NULL;
	}
	qb_log(LOG_DEBUG, "iscsi: %s: full feature phase: HeaderDigest=%s DataDigest=%s MaxRecvDSL=%u MaxXmitDSL=%u "
	       "InitialR2T=%d ImmediateData=%d FirstBurst=%u MaxBurst=%u MaxOutstandingR2T=%u", c->peer,
	       c->p.header_digest ? "CRC32C" : "None", c->p.data_digest ? "CRC32C" : "None", c->p.max_recv_dsl,
	       c->p.max_xmit_dsl, c->sess->p.initial_r2t, c->sess->p.immediate_data, c->sess->p.first_burst_length,
	       c->sess->p.max_burst_length, c->sess->p.max_outstanding_r2t);
	iscsi_login_free(c);
	iscsi_conn_start_nop(c);
}

struct migration {
	struct iscsi_conn *c;
	uint8_t bhs[ISCSI_BHS_LEN];
	uint32_t dlen;
	uint8_t data[];
};

static void migrate_arrive(void *arg)
{
	struct migration *m = arg;
	struct iscsi_conn *c = m->c;

	if (iscsi_conn_rehome(c) < 0) {
		c->migrating = false;
		iscsi_conn_close(c, "cannot move to the session's reactor");
	} else {
		qb_log(LOG_DEBUG, "iscsi: %s: moved to reactor %s to join its session", c->peer, reactor_name(c->r));
		iscsi_op_login(c, m->bhs, m->data, m->dlen);
	}
	free(m);
}

/* All connections of a session share its reactor (no lock on the CmdSN
 * window): hand this one over and replay its first login PDU there. */
static int login_migrate(struct iscsi_conn *c, const uint8_t *req, const uint8_t *data, uint32_t dlen,
			 struct reactor *to)
{
	struct migration *m = malloc(sizeof(*m) + dlen);

	if (!m || c->tx_dirty || c->txq) {
		free(m);
		return login_fail(c, req, ISCSI_LOGIN_TARGET_ERROR, "cannot move the connection");
	}
	m->c = c;
	memcpy(m->bhs, req, ISCSI_BHS_LEN);
	m->dlen = dlen;
	if (dlen)
		memcpy(m->data, data, dlen);
	iscsi_conn_detach(c);
	c->migrate_to = to;
	c->migrate_fn = migrate_arrive;
	c->migrate_arg = m;
	return 0;
}

/* Keep the final answer of a reinstating login until the session it replaced
 * has ended (iscsi_login_resume). The login timer still runs: an old session
 * whose task never leaves the device ends this login, and the initiator's
 * next try waits in its turn. */
static int login_hold(struct iscsi_conn *c, const uint8_t *req, int csg, int nsg, const char *text, size_t len,
		      int old_tsih)
{
	struct iscsi_login_ctx *l = c->login;

	if (len && !(l->held_text = malloc(len)))
		return login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "out of memory holding the login answer");
	if (len)
		memcpy(l->held_text, text, len);
	l->held_len = len;
	memcpy(l->held_req, req, ISCSI_BHS_LEN);
	l->held_csg = csg;
	l->held_ms = reactor_now_ms();
	l->held_old_tsih = old_tsih;
	l->held = true;
	l->stage = nsg;
	return 0;
}

/* The session this login reinstated has ended: send the held answer and go to
 * full feature phase (session.c calls this on the connection's reactor). */
void iscsi_login_resume(struct iscsi_conn *c)
{
	struct iscsi_login_ctx *l = c->login;
	uint64_t waited;

	if (c->closing || c->state != ISCSI_CONN_LOGIN || !l || !l->held)
		return;
	l->held = false;
	waited = reactor_now_ms() - l->held_ms;
	qb_log(waited >= 1000 ? LOG_NOTICE : LOG_DEBUG,
	       "iscsi: %s: reinstated session TSIH %d has ended (its last task left the backend after %llu ms): "
	       "login of %s completes", c->peer, l->held_old_tsih, (unsigned long long)waited, l->initiator);
	login_respond(c, l->held_req, ISCSI_LOGIN_OK, true, false, l->held_csg, l->stage, c->sess->tsih,
		      l->held_text, l->held_len);
	if (!c->closing)
		login_complete(c);
}

/* The last (or only) Login Response of an exchange: the stage change, and for
 * the move to full feature phase the new session or the connection add. */
static int login_conclude(struct iscsi_conn *c, const uint8_t *req, bool transit, int csg, int nsg,
			  const char *text, size_t len)
{
	struct iscsi_login_ctx *l = c->login;
	uint16_t rsp_tsih = 0;
	int rc;

	if (transit && nsg == ISCSI_STAGE_FULL_FEATURE) {
		if (l->join) {
			struct iscsi_session *s = l->join;
			const char *why = NULL;
			int status;
			pthread_mutex_lock(&g_iscsi.lock);
			status = join_refusal_locked(s, c, l->cid, &why);
			if (status == ISCSI_LOGIN_OK) {
				c->snext = s->conns;
				s->conns = c;
			}
			pthread_mutex_unlock(&g_iscsi.lock);
			if (status != ISCSI_LOGIN_OK)
				return login_fail(c, req, status, why);
			c->sess = s;
			l->join = NULL;         /* the reference now belongs to the connection */
			rsp_tsih = s->tsih;
		} else if ((rc = login_make_session(c)) == ISCSI_MAKE_DENIED) {
			return login_fail(c, req, ISCSI_LOGIN_AUTHZ_FAILED, "access removed by a reload");
		} else if (rc == ISCSI_MAKE_FAILED) {
			return login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "cannot create the session");
		} else if (rc >= 0) {
			/* a reinstatement: answered once the old session has ended
			 * (its wake-up is posted to this reactor, so it comes after
			 * this returns even when the old one is gone already) */
			return login_hold(c, req, csg, nsg, text, len, rc);
		} else {
			rsp_tsih = c->sess->tsih;
		}
	} else {
		rsp_tsih = l->tsih;
	}
	if (transit)
		l->stage = nsg;
	login_respond(c, req, ISCSI_LOGIN_OK, transit, false, csg, nsg, rsp_tsih, text, len);
	if (transit && nsg == ISCSI_STAGE_FULL_FEATURE && !c->closing)
		login_complete(c);
	return 0;
}

/* The next piece of a long answer: C=1 while more than one piece is left,
 * the last one concludes the exchange. */
static int login_send_rest(struct iscsi_conn *c, const uint8_t *req)
{
	struct iscsi_login_ctx *l = c->login;
	size_t left = l->rsp.len - l->rsp_sent;
	int rc;

	if (left > ISCSI_LOGIN_RSP_MAX) {
		login_respond(c, req, ISCSI_LOGIN_OK, false, true, l->stage, 0, l->tsih,
			      l->rsp.data + l->rsp_sent, ISCSI_LOGIN_RSP_MAX);
		l->rsp_sent += ISCSI_LOGIN_RSP_MAX;
		return 0;
	}
	/* RFC 7143 11.13.3: no T=1 answer to a T=0 request; the negotiated
	 * keys stay, and a later T=1 request moves on */
	rc = login_conclude(c, req, l->rsp_transit && (req[ISCSI_BHS_FLAGS] & ISCSI_LOGIN_TRANSIT), l->stage,
			    l->rsp_nsg, l->rsp.data + l->rsp_sent, left);
	if (c->login)
		iscsi_text_free(&c->login->rsp);
	return rc;
}

int iscsi_op_login(struct iscsi_conn *c, const uint8_t *req, uint8_t *data, uint32_t dlen)
{
	struct iscsi_login_ctx *l = c->login;
	uint8_t flags = req[ISCSI_BHS_FLAGS];
	bool transit = flags & ISCSI_LOGIN_TRANSIT, cont = flags & ISCSI_LOGIN_CONTINUE;
	int csg = (flags & ISCSI_LOGIN_CSG_MASK) >> ISCSI_LOGIN_CSG_SHIFT, nsg = flags & ISCSI_LOGIN_NSG_MASK;
	struct iscsi_text out = { 0 };
	int rc;

	if (c->state != ISCSI_CONN_LOGIN)
		return 0;
	if (l && l->held) {
		/* RFC 7143 6.1: the initiator waits for the answer to its request */
		iscsi_conn_close(c, "login PDU while the answer to the last one was due");
		return -1;
	}
	if (!l) {
		struct iscsi_param_limits lim;
		l = calloc(1, sizeof(*l));
		if (!l) {
			iscsi_conn_close(c, "out of memory for login");
			return -1;
		}
		c->login = l;
		memcpy(l->isid, req + ISCSI_LOGIN_ISID, ISCSI_ISID_LEN);
		l->tsih = get_be16(req + ISCSI_LOGIN_TSIH);
		l->cid = get_be16(req + ISCSI_LOGIN_CID);
		l->itt = get_be32(req + ISCSI_BHS_ITT);
		l->stage = csg;
		/* RFC 7143 11.12.8: the first login's ExpStatSN may start StatSN */
		c->stat_sn = get_be32(req + ISCSI_BHS_EXPSTATSN);
		c->exp_stat_sn = c->stat_sn;
		iscsi_param_limits_from_conf(&lim);
		iscsi_negotiation_init(&l->neg, &lim, l->tsih == 0);
		l->neg.security_key = security_key;
		l->neg.security_arg = l;
		pthread_mutex_lock(&g_iscsi.lock);
		l->window = g_iscsi.gc.max_cmds_per_session > 0 ? (uint32_t)g_iscsi.gc.max_cmds_per_session : 128;
		pthread_mutex_unlock(&g_iscsi.lock);
		/* RFC 7143 11.12.4: we speak version 0 only */
		if (req[ISCSI_LOGIN_VMIN] > 0)
			return login_fail(c, req, ISCSI_LOGIN_UNSUPPORTED_VERSION, "unsupported version");
	}
	if (l->failed)
		return 0;
	if (l->tsih && !l->migrated) {
		struct reactor *to = NULL;
		l->migrated = true;
		pthread_mutex_lock(&g_iscsi.lock);
		for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next)
			if (s->tsih == l->tsih && !s->dying && !s->replaced)
				to = s->r;
		pthread_mutex_unlock(&g_iscsi.lock);
		if (to && to != c->r)
			return login_migrate(c, req, data, dlen, to);
	}
	l->cmdsn = get_be32(req + ISCSI_BHS_CMDSN);
	if (memcmp(l->isid, req + ISCSI_LOGIN_ISID, ISCSI_ISID_LEN) != 0 ||
	    l->tsih != get_be16(req + ISCSI_LOGIN_TSIH))
		return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "ISID/TSIH changed during login");
	/* RFC 7143 11.12.2: T and C together, reserved stages, backward moves */
	if (transit && cont)
		return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "T and C bits both set");
	if (csg == 2 || csg == 3 || (transit && (nsg == 2 || nsg <= csg)))
		return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "invalid CSG/NSG");
	if (csg < l->stage)
		return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "login stage went backwards");
	if (l->rsp.len) {
		/* RFC 7143 6.1: the initiator asks for the rest of our answer with an
		 * empty request, in the same stage */
		if (dlen || cont || csg != l->stage)
			return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR,
					  "text sent while the target's answer was incomplete");
		return login_send_rest(c, req);
	}
	l->stage = csg;
	if (append_text(l, data, dlen) < 0)
		return login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "login text too long");
	if (cont) {
		/* RFC 7143 11.12.3: more text follows; answer with an empty response */
		login_respond(c, req, ISCSI_LOGIN_OK, false, false, csg, 0, 0, NULL, 0);
		return 0;
	}
	if (!l->first_done) {
		l->first_done = true;
		if (login_identify(c, req) < 0)
			return 0;
	}
	rc = iscsi_param_negotiate(&l->neg, csg, l->text ? l->text : "", l->text_len, &out);
	l->text_len = 0;
	if (rc != ISCSI_PARAM_OK) {
		iscsi_text_free(&out);
		if (rc == ISCSI_PARAM_ERR_MISSING)
			return login_fail(c, req, ISCSI_LOGIN_MISSING_PARAM, "missing parameter");
		if (rc == ISCSI_PARAM_ERR_RESOURCES)
			return login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "response too large");
		if (l->too_long)
			return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, l->too_long);
		return login_fail(c, req, ISCSI_LOGIN_INITIATOR_ERROR, "malformed or forbidden key");
	}
	if (l->neg.session_type == ISCSI_SESSION_NONE)
		l->neg.session_type = ISCSI_SESSION_NORMAL;
	if (csg == ISCSI_STAGE_SECURITY) {
		if (login_security(c, req, &out) < 0) {
			iscsi_text_free(&out);
			return 0;
		}
	} else if (l->auth_required && !l->auth_done) {
		iscsi_text_free(&out);
		return login_fail(c, req, ISCSI_LOGIN_AUTH_FAILED, "authentication required (security stage skipped)");
	}
	if (transit && csg == ISCSI_STAGE_SECURITY && l->auth_required && !l->auth_done) {
		if (!l->chap_chosen) {
			iscsi_text_free(&out);
			return login_fail(c, req, ISCSI_LOGIN_AUTH_FAILED, "left the security stage unauthenticated");
		}
		transit = false;        /* CHAP still running: stay */
	}
	/* What we declare goes first: RFC 7143 13.9 wants TargetPortalGroupTag in
	 * the response to the first request with C=0, which is the first piece
	 * when the answer is split. */
	struct iscsi_text decl = { 0 };
	if (transit && nsg == ISCSI_STAGE_FULL_FEATURE &&
	    iscsi_param_finish(&l->neg, l->alias[0] ? l->alias : NULL, c->tpgt, &decl) != ISCSI_PARAM_OK) {
		iscsi_text_free(&decl);
		iscsi_text_free(&out);
		return login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "cannot finish negotiation");
	}
	if (iscsi_param_declare_target(&l->neg, l->alias[0] ? l->alias : NULL, c->tpgt, &decl) != ISCSI_PARAM_OK ||
	    iscsi_text_append(&decl, out.data, out.len) != 0) {
		iscsi_text_free(&decl);
		iscsi_text_free(&out);
		return login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES, "response too large");
	}
	iscsi_text_free(&out);
	out = decl;
	if (out.len > ISCSI_LOGIN_RSP_MAX) {
		/* RFC 7143 6.1: split with the C bit; the stage change (and the
		 * session) waits for the last piece */
		l->rsp = out;
		l->rsp_sent = 0;
		l->rsp_transit = transit;
		l->rsp_nsg = nsg;
		return login_send_rest(c, req);
	}
	rc = login_conclude(c, req, transit, csg, nsg, out.data, out.len);
	iscsi_text_free(&out);
	return rc;
}

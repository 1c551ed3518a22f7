/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPG message format: a 16-byte header ("TNDC", version, type, flags, total
 * length, sequence), the sender's name, then the type's fields. Big-endian,
 * byte-wise (util/be.h). Decoding checks every length before reading and
 * rejects anything malformed: CPG carries only our own messages, but a bad
 * peer build must not crash us. */
#include "cluster/cluster_int.h"
#include "util/be.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cl_msg_type_name(int type)
{
	switch (type) {
	case CL_MSG_STATE: return "STATE";
	case CL_MSG_CONNS: return "CONNS";
	case CL_MSG_TRANSITION: return "TRANSITION";
	case CL_MSG_HANDOVER: return "HANDOVER";
	case CL_MSG_FAILOVER_REQUEST: return "FAILOVER_REQUEST";
	case CL_MSG_HANDOVER_FAILED: return "HANDOVER_FAILED";
	case CL_MSG_OUTDATE_REQUEST: return "OUTDATE_REQUEST";
	case CL_MSG_OUTDATE_ANSWER: return "OUTDATE_ANSWER";
	}
	return "?";
}

void cl_msg_clear(struct cl_msg *m)
{
	free(m->conns);
	memset(m, 0, sizeof(*m));
}

/* ---- writer ---- */
struct wbuf {
	uint8_t *p;
	size_t len, pos;
	bool bad;
};

static uint8_t *wspace(struct wbuf *w, size_t n)
{
	if (w->bad || w->len - w->pos < n) {
		w->bad = true;
		return NULL;
	}
	uint8_t *r = w->p + w->pos;
	w->pos += n;
	return r;
}

static void w8(struct wbuf *w, uint8_t v)
{
	uint8_t *p = wspace(w, 1);
	if (p)
		*p = v;
}

static void w16(struct wbuf *w, uint16_t v)
{
	uint8_t *p = wspace(w, 2);
	if (p)
		put_be16(p, v);
}

static void w32(struct wbuf *w, uint32_t v)
{
	uint8_t *p = wspace(w, 4);
	if (p)
		put_be32(p, v);
}

static void w64(struct wbuf *w, uint64_t v)
{
	uint8_t *p = wspace(w, 8);
	if (p)
		put_be64(p, v);
}

/* string: u8 length + bytes, no NUL */
static void wstr(struct wbuf *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n >= max) {
		w->bad = true;
		return;
	}
	w8(w, (uint8_t)n);
	uint8_t *p = wspace(w, n);
	if (p)
		memcpy(p, s, n);
}

/* CONNS entries are raw network-order bytes */
static void wraw(struct wbuf *w, const void *v, size_t n)
{
	uint8_t *p = wspace(w, n);
	if (p)
		memcpy(p, v, n);
}

int cl_msg_encode(const struct cl_msg *m, uint8_t *buf, size_t len)
{
	struct wbuf w = { .p = buf, .len = len };

	w32(&w, CL_MSG_MAGIC);
	w8(&w, CL_MSG_VERSION);
	w8(&w, (uint8_t)m->type);
	w16(&w, 0);
	w32(&w, 0);             /* length, below */
	w32(&w, m->seq);
	wstr(&w, m->name, CL_NAME_MAX);
	switch (m->type) {
	case CL_MSG_STATE:
		if (m->nportals > CL_MAX_PORTALS)
			return -1;
		w8(&w, (uint8_t)m->role);
		w8(&w, (uint8_t)m->disk);
		w8(&w, (uint8_t)m->peer_disk);
		w8(&w, m->flags);
		w64(&w, m->gen);
		w8(&w, m->nportals);
		for (unsigned i = 0; i < m->nportals; i++) {
			w16(&w, m->portals[i].rel_port_id);
			w16(&w, m->portals[i].port);
			wstr(&w, m->portals[i].addr, sizeof(m->portals[i].addr));
		}
		break;
	case CL_MSG_CONNS:
		if (m->nconns > CL_MAX_CONNS || (m->nconns && !m->conns))
			return -1;
		w32(&w, m->nconns);
		for (uint32_t i = 0; i < m->nconns; i++) {
			wraw(&w, &m->conns[i].client_ip, 4);
			wraw(&w, &m->conns[i].client_port, 2);
			wraw(&w, &m->conns[i].server_ip, 4);
			wraw(&w, &m->conns[i].server_port, 2);
		}
		break;
	case CL_MSG_TRANSITION:
	case CL_MSG_HANDOVER:
	case CL_MSG_FAILOVER_REQUEST:
	case CL_MSG_HANDOVER_FAILED:
	case CL_MSG_OUTDATE_REQUEST:
	case CL_MSG_OUTDATE_ANSWER:
		wstr(&w, m->target, CL_NAME_MAX);
		w8(&w, m->on);
		w32(&w, m->epoch);
		wstr(&w, m->text, sizeof(m->text));
		break;
	default:
		return -1;
	}
	if (w.bad || w.pos > UINT32_MAX)
		return -1;
	put_be32(buf + 8, (uint32_t)w.pos);
	return (int)w.pos;
}

/* ---- reader ---- */
struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	const char *bad;
};

static const uint8_t *rspace(struct rbuf *r, size_t n)
{
	if (r->bad)
		return NULL;
	if (r->len - r->pos < n) {
		r->bad = "truncated";
		return NULL;
	}
	const uint8_t *q = r->p + r->pos;
	r->pos += n;
	return q;
}

static uint8_t r8(struct rbuf *r)
{
	const uint8_t *q = rspace(r, 1);
	return q ? *q : 0;
}

static uint16_t r16(struct rbuf *r)
{
	const uint8_t *q = rspace(r, 2);
	return q ? get_be16(q) : 0;
}

static uint32_t r32(struct rbuf *r)
{
	const uint8_t *q = rspace(r, 4);
	return q ? get_be32(q) : 0;
}

static uint64_t r64(struct rbuf *r)
{
	const uint8_t *q = rspace(r, 8);
	return q ? get_be64(q) : 0;
}

static void rstr(struct rbuf *r, char *out, size_t max)
{
	size_t n = r8(r);
	const uint8_t *q;
	out[0] = '\0';
	if (r->bad)
		return;
	if (n >= max) {
		r->bad = "string too long";
		return;
	}
	q = rspace(r, n);
	if (!q)
		return;
	if (memchr(q, '\0', n)) {
		r->bad = "NUL inside a string";
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (q[i] < 0x20 || q[i] > 0x7e) {
			r->bad = "non-printable string";
			return;
		}
	memcpy(out, q, n);
	out[n] = '\0';
}

static void rraw(struct rbuf *r, void *out, size_t n)
{
	const uint8_t *q = rspace(r, n);
	if (q)
		memcpy(out, q, n);
}

int cl_msg_decode(const uint8_t *buf, size_t len, struct cl_msg *m, char *why, size_t whylen)
{
	struct rbuf r = { .p = buf, .len = len };
	uint32_t total;

	memset(m, 0, sizeof(*m));
	if (!buf || len < CL_MSG_HDR) {
		snprintf(why, whylen, "short message (%zu bytes)", len);
		return -1;
	}
	if (r32(&r) != CL_MSG_MAGIC) {
		snprintf(why, whylen, "bad magic");
		return -1;
	}
	if (r8(&r) != CL_MSG_VERSION) {
		snprintf(why, whylen, "unsupported version %u", buf[4]);
		return -1;
	}
	m->type = (enum cl_msg_type)r8(&r);
	r16(&r);
	total = r32(&r);
	m->seq = r32(&r);
	if (total != len) {
		snprintf(why, whylen, "length field %u, message %zu bytes", total, len);
		return -1;
	}
	rstr(&r, m->name, sizeof(m->name));
	if (!r.bad && !m->name[0])
		r.bad = "empty node name";
	switch (m->type) {
	case CL_MSG_STATE:
		m->role = (enum cl_role)r8(&r);
		m->disk = (enum cl_disk)r8(&r);
		m->peer_disk = (enum cl_disk)r8(&r);
		m->flags = r8(&r);
		m->gen = r64(&r);
		m->nportals = r8(&r);
		if (!r.bad && (m->role > CL_ROLE_PRIMARY || m->disk > CL_DISK_UPTODATE || m->peer_disk > CL_DISK_UPTODATE))
			r.bad = "role or disk state out of range";
		if (!r.bad && m->nportals > CL_MAX_PORTALS)
			r.bad = "too many portals";
		for (unsigned i = 0; !r.bad && i < m->nportals; i++) {
			m->portals[i].rel_port_id = r16(&r);
			m->portals[i].port = r16(&r);
			rstr(&r, m->portals[i].addr, sizeof(m->portals[i].addr));
		}
		break;
	case CL_MSG_CONNS: {
		uint32_t n = r32(&r);
		if (r.bad)
			break;
		if (n > CL_MAX_CONNS) {
			r.bad = "too many connections";
			break;
		}
		if ((size_t)n * 12 != len - r.pos) {
			r.bad = "connection count does not match the length";
			break;
		}
		if (n) {
			m->conns = calloc(n, sizeof(*m->conns));
			if (!m->conns) {
				r.bad = "out of memory";
				break;
			}
		}
		m->nconns = n;
		for (uint32_t i = 0; i < n; i++) {
			rraw(&r, &m->conns[i].client_ip, 4);
			rraw(&r, &m->conns[i].client_port, 2);
			rraw(&r, &m->conns[i].server_ip, 4);
			rraw(&r, &m->conns[i].server_port, 2);
		}
		break;
	}
	case CL_MSG_TRANSITION:
	case CL_MSG_HANDOVER:
	case CL_MSG_FAILOVER_REQUEST:
	case CL_MSG_HANDOVER_FAILED:
	case CL_MSG_OUTDATE_REQUEST:
	case CL_MSG_OUTDATE_ANSWER:
		rstr(&r, m->target, sizeof(m->target));
		m->on = r8(&r);
		m->epoch = r32(&r);
		rstr(&r, m->text, sizeof(m->text));
		break;
	default:
		snprintf(why, whylen, "unknown message type %d", (int)m->type);
		return -1;
	}
	if (!r.bad && r.pos != len)
		r.bad = "trailing bytes";
	if (r.bad) {
		snprintf(why, whylen, "%s message: %s", cl_msg_type_name(m->type), r.bad);
		cl_msg_clear(m);
		return -1;
	}
	return 0;
}

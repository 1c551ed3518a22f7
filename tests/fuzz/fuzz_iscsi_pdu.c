/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the iSCSI receive path of a real connection. The input is
 * written into one end of a socketpair whose other end is an iscsi_conn on a
 * reactor pumped here, so the whole stack runs: the PDU state machine (BHS,
 * AHS, digests, data segment), login and key negotiation, text/SendTargets,
 * NOP, TMF, logout, SCSI commands with immediate/unsolicited/R2T data into the
 * SCSI layer and null-backend LUNs. Responses are read and discarded.
 *
 *   byte 0  bit 0  prepend a canned login to full feature phase (normal session)
 *           bit 1  ... negotiating HeaderDigest=CRC32C,  bit 2  DataDigest=CRC32C
 *           bit 3  framed: the rest is a PDU sequence; the harness inserts pad
 *                  and (negotiated) digests; DataSegmentLength capped to input
 *           bits 4-6  write chunk size (all, 1, 3, 47, 48, 49, 512, 4096)
 *           bit 7  discovery session instead of a normal one (canned login)
 * At the end the peer closes; every connection and session must be freed. */
#include "fuzz_common.h"
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include "iscsi/iscsi_int.h"

#define TNAME "iqn.2026-11.org.tandem:fuzz"
#define TNAME2 "iqn.2026-11.org.tandem:chap"

static struct reactor *R;
static struct tconf *CF;
static const char CONF[] =
	"global {\n  nop_interval: 0\n  max_sessions: 4\n}\n"
	"portal_group pg1 {\n  tag: 1\n  listen: 127.0.0.1:3320\n}\n"
	"target " TNAME " {\n  alias: fuzz\n"
	"  lun 0 {\n    backend: null\n    size: 1M\n  }\n"
	"  lun 1 {\n    backend: null\n    size: 4M\n    block_size: 4096\n    cache: write-back\n  }\n}\n"
	"target " TNAME2 " {\n"
	"  chap {\n    user: fuzzuser\n    secret: fuzzsecret1234\n"
	"    mutual_user: tgtuser\n    mutual_secret: tgtsecret12345\n  }\n"
	"  lun 0 {\n    backend: null\n    size: 1M\n  }\n}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	struct iscsi_tgt *list = NULL;

	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	CF = tconf_load_string("fuzz.conf", CONF, err, sizeof(err));
	if (!CF)
		FUZZ_DIE("config: %s", err);
	for (size_t i = 0; i < CF->ntargets; i++) {
		struct iscsi_tgt *t = calloc(1, sizeof(*t));
		if (!t || !(t->st = scsi_target_create(CF->targets[i].name)))
			FUZZ_DIE("target");
		for (size_t l = 0; l < CF->targets[i].nluns; l++)
			if (scsi_target_add_lun(t->st, &CF->targets[i].luns[l], err, sizeof(err)) < 0)
				FUZZ_DIE("lun: %s", err);
		snprintf(t->name, sizeof(t->name), "%s", CF->targets[i].name);
		t->conf = &CF->targets[i];
		t->refs = 1;
		t->next = list;
		list = t;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	g_iscsi.conf = CF;
	g_iscsi.gc = CF->global;
	g_iscsi.tgts = list;
	pthread_mutex_unlock(&g_iscsi.lock);
	R = reactor_create("fuzz");
	if (!R)
		FUZZ_DIE("reactor");
	return 0;
}

/* ---------------------------------------------------------------- output stream */
struct obuf {
	uint8_t *b;
	size_t len, cap;
};

static void ob_put(struct obuf *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 256;
		o->b = realloc(o->b, o->cap);
		if (!o->b)
			FUZZ_DIE("oom");
	}
	if (n)
		memcpy(o->b + o->len, p, n);
	o->len += n;
}

static void ob_digest(struct obuf *o, const uint8_t *p, size_t n)
{
	uint8_t d[4];
	iscsi_crc32c_put_le(d, iscsi_crc32c(p, n));
	ob_put(o, d, 4);
}

/* One PDU with pad and digests as negotiated. */
static void ob_pdu(struct obuf *o, const uint8_t *hdr, size_t hlen, const uint8_t *data, uint32_t dlen, bool hd,
		   bool dd)
{
	static const uint8_t zero[4];
	uint32_t pad = iscsi_pad4(dlen);

	ob_put(o, hdr, hlen);
	if (hd)
		ob_digest(o, hdr, hlen);
	if (dlen) {
		uint32_t crc;
		ob_put(o, data, dlen);
		ob_put(o, zero, pad);
		if (dd) {
			uint8_t d[4];
			crc = iscsi_crc32c_update(ISCSI_CRC32C_INIT, data, dlen);
			crc = iscsi_crc32c_final(iscsi_crc32c_update(crc, zero, pad));
			iscsi_crc32c_put_le(d, crc);
			ob_put(o, d, 4);
		}
	}
}

static void canned_login(struct obuf *o, bool hd, bool dd, bool discovery)
{
	uint8_t bhs[ISCSI_BHS_LEN] = { 0 };
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text),
		     "InitiatorName=iqn.1994-05.com.example:fuzz%cSessionType=%s%c%s%s%c"
		     "HeaderDigest=%s%cDataDigest=%s%c"
		     "ImmediateData=Yes%cInitialR2T=No%cMaxRecvDataSegmentLength=8192%c"
		     "FirstBurstLength=65536%cMaxBurstLength=262144%cMaxOutstandingR2T=4%c",
		     0, discovery ? "Discovery" : "Normal", 0, discovery ? "" : "TargetName=",
		     discovery ? "" : TNAME, discovery ? 1 : 0, hd ? "CRC32C" : "None", 0, dd ? "CRC32C" : "None", 0,
		     0, 0, 0, 0, 0, 0);
	if (discovery) {
		/* drop the empty pair marker */
		char *p = memchr(text, 1, (size_t)n);
		if (p) {
			memmove(p, p + 1, (size_t)n - (size_t)(p + 1 - text));
			n--;
		}
	}
	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	/* CSG 1 (operational) -> NSG 3 (full feature), T bit */
	bhs[1] = ISCSI_LOGIN_TRANSIT | (1 << ISCSI_LOGIN_CSG_SHIFT) | 3;
	iscsi_bhs_set_dsl(bhs, (uint32_t)n);
	bhs[ISCSI_LOGIN_ISID] = 0x80;
	bhs[ISCSI_LOGIN_ISID + 5] = 0x01;
	put_be32(bhs + ISCSI_BHS_ITT, 0x1000);
	ob_pdu(o, bhs, ISCSI_BHS_LEN, (const uint8_t *)text, (uint32_t)n, false, false);
}

/* The rest of the input as PDUs: pad and digests filled in by us. */
static void framed(struct obuf *o, struct fin *in, bool hd, bool dd)
{
	while (in->n >= ISCSI_BHS_LEN) {
		uint8_t hdr[ISCSI_BHS_LEN + ISCSI_AHS_MAX];
		size_t ahs, got;
		uint32_t dsl;

		fin_bytes(in, hdr, ISCSI_BHS_LEN);
		ahs = iscsi_bhs_ahs_len(hdr);
		got = fin_bytes(in, hdr + ISCSI_BHS_LEN, ahs);
		if (got < ahs) {
			hdr[ISCSI_BHS_TOTAHS] = (uint8_t)(got / 4);
			ahs = got / 4 * 4;
		}
		dsl = iscsi_bhs_dsl(hdr);
		if (dsl > in->n) {
			dsl = (uint32_t)in->n;
			iscsi_bhs_set_dsl(hdr, dsl);
		}
		ob_pdu(o, hdr, ISCSI_BHS_LEN + ahs, in->p, dsl, hd, dd);
		in->p += dsl;
		in->n -= dsl;
	}
	ob_put(o, in->p, in->n);
}

static void drain(int fd)
{
	uint8_t sink[65536];
	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

static bool all_gone(void)
{
	struct iscsi_reactor *ir = reactor_slot_get(R, REACTOR_SLOT_ISCSI);
	bool none;

	pthread_mutex_lock(&g_iscsi.lock);
	none = g_iscsi.sessions == NULL && g_iscsi.nsessions == 0;
	pthread_mutex_unlock(&g_iscsi.lock);
	return none && (!ir || !ir->conns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[8] = { 0, 1, 3, 47, 48, 49, 512, 4096 };
	struct fin in = { data, size };
	struct obuf o = { 0 };
	struct iscsi_conn *c;
	int sv[2], sz = 1 << 20;
	uint8_t mode;
	size_t chunk, off = 0;

	if (size < 1 || size > 65536)
		return -1;
	mode = fin_u8(&in);
	g_iscsi.next_tsih = 0;          /* same TSIHs for the same input */
	if (mode & 1)
		canned_login(&o, mode & 2, mode & 4, mode & 0x80);
	if ((mode & 8) || (mode & 6))
		framed(&o, &in, (mode & 1) && (mode & 2), (mode & 1) && (mode & 4));
	else
		ob_put(&o, in.p, in.n);
	chunk = chunks[(mode >> 4) & 7];
	if (!chunk)
		chunk = o.len;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		FUZZ_DIE("socketpair: %s", strerror(errno));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	c = iscsi_conn_create(sv[0], 1, "fuzz-peer", "127.0.0.1");
	if (!c)
		FUZZ_DIE("conn");
	reactor_post(R, iscsi_conn_attach, c);
	reactor_poll_once(R, 0);

	for (int stall = 0; off < o.len && stall < 100;) {
		size_t n = o.len - off < chunk ? o.len - off : chunk;
		ssize_t w = send(sv[1], o.b + off, n, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			stall = 0;
		} else if (w < 0 && errno != EAGAIN) {
			break;         /* target closed the connection */
		} else {
			stall++;       /* target not reading (e.g. waiting on the backend) */
		}
		for (int i = 0; i < 3; i++)
			reactor_poll_once(R, 0);
		drain(sv[1]);
	}
	for (int i = 0; i < 10; i++) {
		reactor_poll_once(R, 0);
		drain(sv[1]);
	}
	close(sv[1]);
	for (int i = 0; i < 3000 && !all_gone(); i++)
		reactor_poll_once(R, i < 50 ? 0 : 1);
	if (!all_gone())
		FUZZ_DIE("connection or session not freed after the peer closed");
	free(o.b);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: replication message decoding (repl/repl_proto.h), the pure
 * checks the receiver runs before any handler: repl_hdr_check (magic, type,
 * length bounds, phase, sequence), repl_body_check (exact lengths, payload
 * CRCs) and the HELLO body decoder, with body and payload split the way
 * repl_conn.c splits them.
 *   byte 0   bit 0 handshake phase (else running), bit 1 check sequence numbers
 *   then a stream of messages: 24-byte header + body (length from the header,
 *   cut to what the input has). */
#include "fuzz_common.h"
#include "repl/repl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	unsigned phase;
	uint8_t f;
	uint64_t seq = 1;

	if (size > 1 << 20)
		return -1;
	f = fin_u8(&in);
	phase = (f & 1) ? REPL_PH_HANDSHAKE : REPL_PH_RUNNING;
	while (in.n >= REPL_HDR_SIZE) {
		uint8_t hdr[REPL_HDR_SIZE];
		struct repl_msg m;
		char why[160];
		uint8_t *body, *payload = NULL;
		uint32_t body_len, payload_len;
		const struct repl_msg_desc *d;

		fin_bytes(&in, hdr, sizeof(hdr));
		memset(&m, 0, sizeof(m));
		if (repl_hdr_check(hdr, phase, (f & 2) ? seq : 0, &m) != REPL_HDR_OK)
			continue;
		(void)repl_msg_name(m.type);
		if (m.type >= REPL_MSG_MAX)
			FUZZ_DIE("repl_hdr_check accepted type %u", m.type);
		seq++;
		d = &repl_msg_table[m.type];
		if (m.len < d->min_len || m.len > d->max_len)
			FUZZ_DIE("repl_hdr_check accepted length %u for %s", m.len, repl_msg_name(m.type));
		if (m.len > in.n)
			break;                  /* the receiver would wait for the rest */
		body_len = d->fixed_len ? d->fixed_len : m.len;
		if (body_len > m.len)
			FUZZ_DIE("fixed part longer than the message");
		payload_len = m.len - body_len;
		/* exact-size copies so ASan sees any read past them */
		body = malloc(body_len ? body_len : 1);
		if (!body)
			FUZZ_DIE("oom");
		fin_bytes(&in, body, body_len);
		if (payload_len) {
			payload = malloc(payload_len);
			if (!payload)
				FUZZ_DIE("oom");
			fin_bytes(&in, payload, payload_len);
		}
		m.body = body;
		m.payload = payload;
		m.payload_len = payload_len;
		if (repl_body_check(&m, why, sizeof(why)) == 0 && m.type == REPL_MSG_HELLO) {
			struct repl_hello h;
			if (repl_hello_get(m.body, &h) == 0 && strnlen(h.name, sizeof(h.name)) == sizeof(h.name))
				FUZZ_DIE("HELLO name not terminated");
		}
		free(body);
		free(payload);
	}
	return 0;
}

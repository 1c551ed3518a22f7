/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the cluster manager's CPG messages (cluster/msg.c), which
 * arrive from the peer node: cl_msg_decode must reject garbage with a reason and
 * never crash; whatever it accepts must encode again and decode to the same
 * message (the round trip the peer relies on).
 *   input: one message as it would arrive from corosync (whole buffer). */
#include "fuzz_common.h"
#include "cluster/cluster_int.h"

static uint8_t out[CL_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_msg m, again;
	char why[160];
	int len;

	if (size > CL_MSG_MAX * 2)
		return -1;
	memset(&m, 0, sizeof(m));
	if (cl_msg_decode(data, size, &m, why, sizeof(why)) < 0) {
		if (!why[0])
			FUZZ_DIE("cl_msg_decode refused a message without a reason");
		cl_msg_clear(&m);
		return 0;
	}
	(void)cl_msg_type_name(m.type);
	len = cl_msg_encode(&m, out, sizeof(out));
	if (len < 0)
		FUZZ_DIE("decoded message of type %d does not encode again", m.type);
	memset(&again, 0, sizeof(again));
	if (cl_msg_decode(out, (size_t)len, &again, why, sizeof(why)) < 0)
		FUZZ_DIE("re-encoded message of type %d does not decode: %s", m.type, why);
	if (again.type != m.type || again.seq != m.seq || strcmp(again.name, m.name) != 0 ||
	    again.nconns != m.nconns || again.nportals != m.nportals || again.gen != m.gen ||
	    again.on != m.on || again.epoch != m.epoch || strcmp(again.target, m.target) != 0)
		FUZZ_DIE("round trip changed a message of type %d", m.type);
	if (m.nconns && memcmp(again.conns, m.conns, m.nconns * sizeof(*m.conns)) != 0)
		FUZZ_DIE("round trip changed the connections of a CONNS message");
	cl_msg_clear(&m);
	cl_msg_clear(&again);
	return 0;
}

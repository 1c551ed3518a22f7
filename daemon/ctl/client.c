/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl's side of the control channel: one libqb IPC request/response. */
#include "ctl/ctl.h"
#include "ctl/json_read.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <qb/qbipcc.h>

int ctl_request(const char *service, const char *cmd, char **json_out, char *err, size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (json_out)
		*json_out = NULL;
	if (!service || !*service)
		service = CTL_DEFAULT_SERVICE;
	if (!cmd || strlen(cmd) > CTL_MAX_CMD) {
		snprintf(err, errlen, "command too long");
		return CTL_EPROTO;
	}
	qb_ipcc_connection_t *conn = qb_ipcc_connect(service, CTL_MAX_MSG);
	if (!conn) {
		snprintf(err, errlen, "cannot connect to tandemd (service '%s'): is it running?", service);
		return CTL_ECONNECT;
	}
	struct qb_ipc_request_header hdr = { .id = CTL_MSG_COMMAND };
	size_t clen = strlen(cmd) + 1;
	hdr.size = (int32_t)(sizeof(hdr) + clen);
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)cmd, .iov_len = clen },
	};
	char *buf = malloc(CTL_MAX_MSG);
	if (!buf) {
		qb_ipcc_disconnect(conn);
		snprintf(err, errlen, "out of memory");
		return CTL_EPROTO;
	}
	ssize_t r = qb_ipcc_sendv_recv(conn, iov, 2, buf, CTL_MAX_MSG, CTL_TIMEOUT_MS);
	qb_ipcc_disconnect(conn);
	int rc = CTL_EPROTO;
	const struct qb_ipc_response_header *res = (const void *)buf;
	if (r < 0) {
		snprintf(err, errlen, "no answer from tandemd (service '%s'): %s", service, strerror((int)-r));
	} else if ((size_t)r < sizeof(*res) + 1 || res->id != CTL_MSG_COMMAND || res->size != r) {
		snprintf(err, errlen, "malformed answer from tandemd");
	} else if (res->error != 0) {
		snprintf(err, errlen, "tandemd: %s", strerror(-res->error));
	} else if (buf[r - 1] != '\0') {
		snprintf(err, errlen, "malformed answer from tandemd (not terminated)");
	} else {
		rc = 0;
		if (json_out && !(*json_out = strdup(buf + sizeof(*res)))) {
			snprintf(err, errlen, "out of memory");
			rc = CTL_EPROTO;
		}
	}
	free(buf);
	return rc;
}

int ctl_cli_call(const char *service, const char *request, char **answer, struct jr_value **v, bool *ok)
{
	char err[512];
	int rc = ctl_request(service, request, answer, err, sizeof(err));

	*v = NULL;
	*ok = false;
	if (rc != 0) {
		fprintf(stderr, "tandemctl: %s\n", err);
		return rc == CTL_ECONNECT ? CTL_EXIT_NOCONN : CTL_EXIT_FAILED;
	}
	*v = jr_parse(*answer, err, sizeof(err));
	if (!*v)
		fprintf(stderr, "tandemctl: malformed answer from tandemd: %s\n", err);
	*ok = *v && (*v)->type == JR_OBJECT && jr_bool(*v, "ok", false);
	return CTL_EXIT_OK;
}

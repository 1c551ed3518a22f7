/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Socket buffer sizes that really take effect. SO_SNDBUF/SO_RCVBUF are capped
 * by net.core.wmem_max/rmem_max (212992 bytes on a stock Debian 12), and an
 * explicit SO_RCVBUF also turns receive autotuning off, so "4 MiB" would
 * silently become 416 KiB on a default system: too little for 10GbE bursts of
 * 1 MiB writes. tandemd runs as root: the *FORCE variants (CAP_NET_ADMIN)
 * bypass the cap; without the capability the plain options are the fallback. */
#ifndef TANDEM_UTIL_SOCKBUF_H
#define TANDEM_UTIL_SOCKBUF_H
#include <sys/socket.h>

static inline void sockbuf_set(int fd, int sndbuf, int rcvbuf)
{
	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
}
#endif

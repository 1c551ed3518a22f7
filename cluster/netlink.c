/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The floating IP: RTM_NEWADDR / RTM_DELADDR over rtnetlink with libmnl, with
 * the kernel's acknowledgement read back (so errors are reported, not lost). */
#include "cluster/cluster_int.h"
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

size_t cl_nl_build_addr(void *buf, size_t len, bool add, unsigned ifindex, uint32_t ip, uint8_t prefix,
			uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;

	if (len < 256 || prefix > 32)
		return 0;
	memset(buf, 0, 256);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nlh->nlmsg_seq = seq;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_flags = IFA_F_PERMANENT;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, ip);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, ip);
	if (add && prefix < 31) {
		uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
		mnl_attr_put_u32(nlh, IFA_BROADCAST, ip | ~mask);
	}
	return nlh->nlmsg_len;
}

int cl_nl_addr(bool add, const char *ifname, uint32_t ip, uint8_t prefix, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned ifindex = if_nametoindex(ifname);
	struct mnl_socket *nl;
	uint32_t seq = (uint32_t)time(NULL), portid;
	char a[INET_ADDRSTRLEN];
	int ret;

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	if (!ifindex) {
		snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	size_t n = cl_nl_build_addr(buf, sizeof(buf), add, ifindex, ip, prefix, seq);
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		return -1;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "netlink bind: %s", strerror(errno));
		mnl_socket_close(nl);
		return -1;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, buf, n) < 0) {
		snprintf(err, errlen, "netlink send: %s", strerror(errno));
		mnl_socket_close(nl);
		return -1;
	}
	ret = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (ret > 0)
		ret = mnl_cb_run(buf, (size_t)ret, seq, portid, NULL, NULL);
	mnl_socket_close(nl);
	if (ret < 0) {
		if ((add && errno == EEXIST) || (!add && errno == EADDRNOTAVAIL))
			return 0;
		snprintf(err, errlen, "%s %s/%u %s %s: %s", add ? "adding" : "removing", a, prefix, add ? "to" : "from",
			 ifname, strerror(errno));
		return -1;
	}
	return 0;
}

bool cl_have_addr(uint32_t ip)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs) < 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr == ip)
			found = true;
	freeifaddrs(ifs);
	return found;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Packets for an address takeover: gratuitous ARP (AF_PACKET, like IPaddr2's
 * send_arp: an ARP request and an ARP reply for the address) and tickle ACKs
 * (Samba CTDB: a TCP ACK with sequence 0 from the moved address to a client,
 * whose answer meets a kernel without that connection and is reset). */
#include "cluster/cluster_int.h"
#include "util/be.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* RFC 1071 one's complement sum; start carries a pseudo-header sum. */
uint16_t cl_inet_csum(const void *data, size_t len, uint32_t start)
{
	const uint8_t *p = data;
	uint64_t sum = start;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t cl_build_tickle(uint8_t *buf, size_t len, uint32_t src_ip, uint16_t src_port, uint32_t dst_ip,
		       uint16_t dst_port, bool rst)
{
	uint8_t *ip = buf, *tcp = buf + 20;
	uint32_t pseudo;
	const uint8_t *s = (const uint8_t *)&src_ip, *d = (const uint8_t *)&dst_ip;

	if (len < 40)
		return 0;
	memset(buf, 0, 40);
	/* IPv4 header */
	ip[0] = 0x45;
	put_be16(ip + 2, 40);
	put_be16(ip + 6, 0x4000);       /* DF */
	ip[8] = 255;                    /* TTL */
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &src_ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	put_be16(ip + 10, cl_inet_csum(ip, 20, 0));
	/* TCP header: seq 0, ack 0 */
	memcpy(tcp + 0, &src_port, 2);
	memcpy(tcp + 2, &dst_port, 2);
	tcp[12] = 5 << 4;
	tcp[13] = 0x10 | (rst ? 0x04 : 0);      /* ACK (+RST) */
	put_be16(tcp + 14, 1234);               /* window, as CTDB */
	pseudo = (uint32_t)(s[0] << 8 | s[1]) + (uint32_t)(s[2] << 8 | s[3]) + (uint32_t)(d[0] << 8 | d[1]) +
		 (uint32_t)(d[2] << 8 | d[3]) + IPPROTO_TCP + 20;
	put_be16(tcp + 16, cl_inet_csum(tcp, 20, pseudo));
	return 40;
}

size_t cl_build_garp(uint8_t *buf, size_t len, const uint8_t mac[6], uint32_t ip, bool reply)
{
	uint8_t *arp = buf + 14;

	if (len < 42)
		return 0;
	memset(buf, 0xff, 6);                   /* broadcast */
	memcpy(buf + 6, mac, 6);
	put_be16(buf + 12, ETH_P_ARP);
	put_be16(arp + 0, 1);                   /* Ethernet */
	put_be16(arp + 2, ETH_P_IP);
	arp[4] = 6;
	arp[5] = 4;
	put_be16(arp + 6, reply ? 2 : 1);
	memcpy(arp + 8, mac, 6);                /* sender MAC */
	memcpy(arp + 14, &ip, 4);               /* sender IP */
	if (reply)
		memset(arp + 18, 0xff, 6);
	else
		memset(arp + 18, 0, 6);
	memcpy(arp + 24, &ip, 4);               /* target IP = sender IP */
	return 42;
}

int cl_send_garp(const char *ifname, uint32_t ip)
{
	struct ifreq ifr;
	struct sockaddr_ll sll;
	uint8_t frame[64];
	int fd, rc = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	uint8_t mac[6];
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ARP);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	for (int reply = 0; reply < 2; reply++) {
		size_t n = cl_build_garp(frame, sizeof(frame), mac, ip, reply);
		if (sendto(fd, frame, n, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

int cl_send_tickle(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port)
{
	uint8_t pkt[40];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = dst_ip };
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);     /* IP_HDRINCL implied */
	if (fd < 0)
		return -errno;
	size_t n = cl_build_tickle(pkt, sizeof(pkt), src_ip, src_port, dst_ip, dst_port, false);
	if (sendto(fd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

bool cl_conn_tickle_ok(const struct cl_conn *c, uint32_t fip, uint16_t fport)
{
	uint32_t cli = ntohl(c->client_ip);
	if (!fip || c->server_ip != fip || !c->server_port || (fport && c->server_port != fport))
		return false;
	if (!c->client_port || c->client_ip == fip)
		return false;
	if (cli == 0 || (cli >> 24) == 0 || (cli >> 24) == 127 ||     /* this host, loopback */
	    (cli >> 28) == 0xe || (cli >> 28) == 0xf)                  /* multicast, reserved, broadcast */
		return false;
	return true;
}

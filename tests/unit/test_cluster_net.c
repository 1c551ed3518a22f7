/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the takeover packets and netlink messages of cluster/:
 * tickle ACK (IPv4 + TCP checksums), gratuitous ARP frames, RTM_NEWADDR /
 * RTM_DELADDR built with libmnl. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include "cluster/cluster_int.h"
#include "util/be.h"

START_TEST(test_csum_rfc1071)
{
	/* RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
	const uint8_t d[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	ck_assert_uint_eq(cl_inet_csum(d, sizeof(d), 0), (uint16_t)~0xddf2);
	const uint8_t odd[] = { 0x01 };
	ck_assert_uint_eq(cl_inet_csum(odd, 1, 0), (uint16_t)~0x0100);
}
END_TEST

static uint32_t ip4(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

START_TEST(test_tickle)
{
	uint8_t p[64];
	uint32_t src = ip4("192.0.2.100"), dst = ip4("192.0.2.50");
	ck_assert_uint_eq(cl_build_tickle(p, 39, src, htons(3260), dst, htons(40001), false), 0);
	ck_assert_uint_eq(cl_build_tickle(p, sizeof(p), src, htons(3260), dst, htons(40001), false), 40);
	/* IPv4 header */
	ck_assert_uint_eq(p[0], 0x45);
	ck_assert_uint_eq(get_be16(p + 2), 40);
	ck_assert_uint_eq(p[9], 6);
	ck_assert_mem_eq(p + 12, &src, 4);
	ck_assert_mem_eq(p + 16, &dst, 4);
	ck_assert_uint_eq(cl_inet_csum(p, 20, 0), 0);           /* a valid header sums to 0 */
	/* TCP: ports, seq 0, ack 0, ACK only, data offset 5 */
	ck_assert_uint_eq(get_be16(p + 20), 3260);
	ck_assert_uint_eq(get_be16(p + 22), 40001);
	ck_assert_uint_eq(get_be32(p + 24), 0);
	ck_assert_uint_eq(get_be32(p + 28), 0);
	ck_assert_uint_eq(p[32], 0x50);
	ck_assert_uint_eq(p[33], 0x10);
	/* TCP checksum over pseudo header + segment sums to 0 */
	uint8_t ph[12 + 20];
	memcpy(ph, p + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	put_be16(ph + 10, 20);
	memcpy(ph + 12, p + 20, 20);
	ck_assert_uint_eq(cl_inet_csum(ph, sizeof(ph), 0), 0);
	/* known value for these addresses (computed independently: python) */
	ck_assert_uint_eq(get_be16(p + 36), 0x7d6e);
	/* RST variant */
	cl_build_tickle(p, sizeof(p), src, htons(3260), dst, htons(40001), true);
	ck_assert_uint_eq(p[33], 0x14);
	memcpy(ph + 12, p + 20, 20);
	ck_assert_uint_eq(cl_inet_csum(ph, sizeof(ph), 0), 0);
}
END_TEST

/* CONNS entries from the peer: only connections on our floating portal get tickles */
START_TEST(test_conn_tickle_ok)
{
	uint32_t fip = ip4("192.0.2.100");
	uint16_t fport = htons(3260);
	struct cl_conn ok = { .client_ip = ip4("192.0.2.50"), .server_ip = fip, .client_port = htons(40001), .server_port = fport };
	ck_assert(cl_conn_tickle_ok(&ok, fip, fport));
	struct cl_conn c = ok;
	c.server_ip = ip4("192.0.2.101");               /* not the floating address */
	ck_assert(!cl_conn_tickle_ok(&c, fip, fport));
	c = ok;
	c.server_port = htons(3261);                    /* another port */
	ck_assert(!cl_conn_tickle_ok(&c, fip, fport));
	ck_assert(!cl_conn_tickle_ok(&ok, 0, fport));   /* no floating address here */
	c = ok;
	c.server_port = htons(3261);                    /* port 0: any port (wildcard portals) */
	ck_assert(cl_conn_tickle_ok(&c, fip, 0));
	c.server_port = 0;
	ck_assert(!cl_conn_tickle_ok(&c, fip, 0));
	const char *bad_clients[] = { "0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.255.255.250",
				      "240.0.0.1", "255.255.255.255", "192.0.2.100" };
	for (size_t i = 0; i < sizeof(bad_clients) / sizeof(bad_clients[0]); i++) {
		c = ok;
		c.client_ip = ip4(bad_clients[i]);
		ck_assert_msg(!cl_conn_tickle_ok(&c, fip, fport), "client %s accepted", bad_clients[i]);
	}
	c = ok;
	c.client_port = 0;
	ck_assert(!cl_conn_tickle_ok(&c, fip, fport));
	c = ok;
	c.client_ip = ip4("198.51.100.7");              /* a routed client elsewhere is fine */
	ck_assert(cl_conn_tickle_ok(&c, fip, fport));
}
END_TEST

START_TEST(test_garp)
{
	const uint8_t mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };
	uint32_t ip = ip4("192.0.2.100");
	uint8_t f[64];
	ck_assert_uint_eq(cl_build_garp(f, 41, mac, ip, false), 0);
	ck_assert_uint_eq(cl_build_garp(f, sizeof(f), mac, ip, false), 42);
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(f[i], 0xff);
	ck_assert_mem_eq(f + 6, mac, 6);
	ck_assert_uint_eq(get_be16(f + 12), 0x0806);
	ck_assert_uint_eq(get_be16(f + 14), 1);
	ck_assert_uint_eq(get_be16(f + 16), 0x0800);
	ck_assert_uint_eq(f[18], 6);
	ck_assert_uint_eq(f[19], 4);
	ck_assert_uint_eq(get_be16(f + 20), 1);                 /* request */
	ck_assert_mem_eq(f + 22, mac, 6);
	ck_assert_mem_eq(f + 28, &ip, 4);
	const uint8_t zero[6] = { 0 }, bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	ck_assert_mem_eq(f + 32, zero, 6);
	ck_assert_mem_eq(f + 38, &ip, 4);
	cl_build_garp(f, sizeof(f), mac, ip, true);
	ck_assert_uint_eq(get_be16(f + 20), 2);                 /* reply */
	ck_assert_mem_eq(f + 32, bcast, 6);
}
END_TEST

struct attrs {
	const struct nlattr *a[IFA_MAX + 1];
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *t = data;
	int type = mnl_attr_get_type(a);
	if (mnl_attr_type_valid(a, IFA_MAX) < 0)
		return MNL_CB_OK;
	t->a[type] = a;
	return MNL_CB_OK;
}

START_TEST(test_netlink_add_del)
{
	uint8_t b[512];
	uint32_t ip = ip4("192.0.2.100");
	ck_assert_uint_eq(cl_nl_build_addr(b, 100, true, 3, ip, 24, 1), 0);
	ck_assert_uint_eq(cl_nl_build_addr(b, sizeof(b), true, 3, ip, 33, 1), 0);

	size_t n = cl_nl_build_addr(b, sizeof(b), true, 3, ip, 24, 77);
	ck_assert_uint_gt(n, sizeof(struct nlmsghdr) + sizeof(struct ifaddrmsg));
	const struct nlmsghdr *h = (const struct nlmsghdr *)(const void *)b;
	ck_assert(mnl_nlmsg_ok(h, (int)n));
	ck_assert_uint_eq(h->nlmsg_len, n);
	ck_assert_uint_eq(h->nlmsg_type, RTM_NEWADDR);
	ck_assert_uint_eq(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	ck_assert_uint_eq(h->nlmsg_seq, 77);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	ck_assert_uint_eq(ifa->ifa_family, AF_INET);
	ck_assert_uint_eq(ifa->ifa_prefixlen, 24);
	ck_assert_uint_eq(ifa->ifa_index, 3);
	ck_assert_uint_eq(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
	struct attrs t = { { 0 } };
	ck_assert_int_ge(mnl_attr_parse(h, sizeof(*ifa), attr_cb, &t), 0);
	ck_assert_ptr_nonnull(t.a[IFA_LOCAL]);
	ck_assert_ptr_nonnull(t.a[IFA_ADDRESS]);
	ck_assert_ptr_nonnull(t.a[IFA_BROADCAST]);
	ck_assert_uint_eq(mnl_attr_get_u32(t.a[IFA_LOCAL]), ip);
	ck_assert_uint_eq(mnl_attr_get_u32(t.a[IFA_BROADCAST]), ip4("192.0.2.255"));

	n = cl_nl_build_addr(b, sizeof(b), false, 3, ip, 24, 78);
	h = (const struct nlmsghdr *)(const void *)b;
	ck_assert_uint_eq(h->nlmsg_type, RTM_DELADDR);
	ck_assert_uint_eq(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	memset(&t, 0, sizeof(t));
	ck_assert_int_ge(mnl_attr_parse(h, sizeof(*ifa), attr_cb, &t), 0);
	ck_assert_ptr_nonnull(t.a[IFA_LOCAL]);
	ck_assert_ptr_null(t.a[IFA_BROADCAST]);

	/* /32: no broadcast */
	n = cl_nl_build_addr(b, sizeof(b), true, 3, ip, 32, 79);
	memset(&t, 0, sizeof(t));
	h = (const struct nlmsghdr *)(const void *)b;
	ck_assert_int_ge(mnl_attr_parse(h, sizeof(*ifa), attr_cb, &t), 0);
	ck_assert_ptr_null(t.a[IFA_BROADCAST]);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("cluster_net");
	TCase *tc = tcase_create("net");
	tcase_add_test(tc, test_csum_rfc1071);
	tcase_add_test(tc, test_tickle);
	tcase_add_test(tc, test_conn_tickle_ok);
	tcase_add_test(tc, test_garp);
	tcase_add_test(tc, test_netlink_add_del);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(net_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

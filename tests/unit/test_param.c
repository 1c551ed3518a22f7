/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for login/text key negotiation (iscsi/param.c): table, parsing, RFC 7143 rules, real initiators' key sets. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iscsi/param.h"

/* ------------------------------------------------------------------ helpers */

/* Build a data segment from "k=v" strings (NULL-terminated list). */
static size_t build(char *buf, size_t cap, va_list ap)
{
	size_t len = 0;
	const char *s;
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t l = strlen(s) + 1;
		ck_assert_uint_le(len + l, cap);
		memcpy(buf + len, s, l);
		len += l;
	}
	return len;
}

static int nego(struct iscsi_negotiation *n, int stage, struct iscsi_text *out, ...)
{
	static char buf[32768];
	va_list ap;
	va_start(ap, out);
	size_t len = build(buf, sizeof(buf), ap);
	va_end(ap);
	return iscsi_param_negotiate(n, stage, buf, len, out);
}

static const char *tval(const struct iscsi_text *t, const char *key)
{
	size_t kl = strlen(key);
	for (size_t pos = 0; pos < t->len; pos += strlen(t->data + pos) + 1)
		if (strncmp(t->data + pos, key, kl) == 0 && t->data[pos + kl] == '=')
			return t->data + pos + kl + 1;
	return NULL;
}

static int tcount(const struct iscsi_text *t)
{
	int n = 0;
	for (size_t pos = 0; pos < t->len; pos += strlen(t->data + pos) + 1)
		n++;
	return n;
}

#define ANS(t, k, v) do { \
	const char *_v = tval((t), (k)); \
	ck_assert_msg(_v != NULL, "no answer for %s", (k)); \
	ck_assert_msg(strcmp(_v, (v)) == 0, "%s=%s, expected %s", (k), _v, (v)); \
} while (0)

static void init_default(struct iscsi_negotiation *n)
{
	iscsi_negotiation_init(n, NULL, true);
}

/* ------------------------------------------------------------------ table */

START_TEST(test_table_walk)
{
	size_t cnt = iscsi_param_table_size();
	ck_assert_uint_gt(cnt, 20);
	ck_assert_uint_le(cnt, 64);
	for (size_t i = 0; i < cnt; i++) {
		uint32_t def, min, max;
		int type;
		const char *name = iscsi_param_table_name(i, &def, &min, &max, &type);
		ck_assert_ptr_nonnull(name);
		ck_assert_uint_le(strlen(name), 63);
		ck_assert_uint_le(min, max);
		ck_assert_msg(def >= min && def <= max, "%s default out of range", name);
		for (size_t j = 0; j < i; j++) {
			uint32_t a, b, c;
			int d;
			ck_assert_msg(strcmp(name, iscsi_param_table_name(j, &a, &b, &c, &d)) != 0,
				      "duplicate %s", name);
		}
		/* every key gets some answer or is consumed; none crashes; each accepted once */
		struct iscsi_negotiation n;
		struct iscsi_text out = { 0 };
		char kv[128];
		init_default(&n);
		snprintf(kv, sizeof(kv), "%s=%u", name, def);
		int rc = nego(&n, ISCSI_STAGE_OPERATIONAL, &out, kv, NULL);
		ck_assert(rc == ISCSI_PARAM_OK || rc == ISCSI_PARAM_ERR_INITIATOR);
		if (rc == ISCSI_PARAM_OK) {
			/* offering it again in the same login is refused (RFC 7143 6.1) unless a
			 * name re-declared with the same value */
			rc = nego(&n, ISCSI_STAGE_OPERATIONAL, &out, kv, NULL);
			if (strcmp(name, "InitiatorName") && strcmp(name, "TargetName") &&
			    strcmp(name, "InitiatorAlias") && strcmp(name, "SessionType"))
				ck_assert_msg(rc == ISCSI_PARAM_ERR_INITIATOR, "%s repeat accepted", name);
		}
		iscsi_text_free(&out);
	}
	uint32_t a, b, c;
	int d;
	ck_assert_ptr_null(iscsi_param_table_name(cnt, &a, &b, &c, &d));
}
END_TEST

START_TEST(test_defaults)
{
	struct iscsi_negotiation n;
	init_default(&n);
	ck_assert_uint_eq(n.p.max_connections, 1);
	ck_assert(n.p.initial_r2t);
	ck_assert(n.p.immediate_data);
	ck_assert_uint_eq(n.p.max_burst_length, 262144);
	ck_assert_uint_eq(n.p.first_burst_length, 65536);
	ck_assert_uint_eq(n.p.default_time2wait, 2);
	ck_assert_uint_eq(n.p.default_time2retain, 20);
	ck_assert_uint_eq(n.p.max_outstanding_r2t, 1);
	ck_assert(n.p.data_pdu_in_order);
	ck_assert(n.p.data_sequence_in_order);
	ck_assert_uint_eq(n.p.error_recovery_level, 0);
	ck_assert(!n.p.header_digest);
	ck_assert(!n.p.data_digest);
	ck_assert_uint_eq(n.p.max_xmit_dsl, 8192);
	ck_assert_uint_eq(n.p.max_recv_dsl, 1048576);
	ck_assert_uint_eq(n.lim.max_outstanding_r2t, 32);
	ck_assert_int_eq(n.auth_method, ISCSI_AUTH_NONE);
	ck_assert_int_eq(n.session_type, ISCSI_SESSION_NONE);
	ck_assert(n.leading);

	struct iscsi_param_limits lim = { .max_recv_dsl = 100, .max_burst = 99999999, .first_burst = 4096,
					  .max_connections = 4, .max_outstanding_r2t = 8 };
	iscsi_negotiation_init(&n, &lim, false);
	ck_assert_uint_eq(n.lim.max_recv_dsl, 512);
	ck_assert_uint_eq(n.lim.max_burst, 16777215);
	ck_assert_uint_eq(n.p.max_recv_dsl, 512);
	ck_assert(!n.leading);
}
END_TEST

START_TEST(test_parse_u32)
{
	uint32_t v;
	ck_assert_int_eq(iscsi_param_parse_u32("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(iscsi_param_parse_u32("4294967295", &v), 0);
	ck_assert_uint_eq(v, 4294967295u);
	ck_assert_int_eq(iscsi_param_parse_u32("0x200", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(iscsi_param_parse_u32("0XfF", &v), 0);
	ck_assert_uint_eq(v, 255);
	ck_assert_int_eq(iscsi_param_parse_u32("010", &v), 0);   /* decimal, not octal */
	ck_assert_uint_eq(v, 10);
	const char *bad[] = { "", "4294967296", "99999999999999999999999", "-1", "+1", " 1", "1 ",
			      "1x", "0x", "0x0x1", "0x-1", "1e3", "0b11", "abc" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(iscsi_param_parse_u32(bad[i], &v) == -1, "accepted '%s'", bad[i]);
	ck_assert_int_eq(iscsi_param_parse_u32(NULL, &v), -1);
}
END_TEST

/* ------------------------------------------------------------------ text */

static int collect(const char *k, const char *v, void *arg)
{
	struct iscsi_text *t = arg;
	return iscsi_text_add(t, k, v);
}

static int stop_at_b(const char *k, const char *v, void *arg)
{
	(void)v; (void)arg;
	return strcmp(k, "b") == 0 ? 42 : 0;
}

START_TEST(test_text_parse)
{
	struct iscsi_text t = { 0 };
	static const char seg[] = "a=1\0b=\0c=x=y";
	ck_assert_int_eq(iscsi_text_parse(seg, sizeof(seg) - 1, collect, &t), 0);  /* no final NUL */
	ck_assert_int_eq(tcount(&t), 3);
	ANS(&t, "a", "1");
	ANS(&t, "b", "");
	ANS(&t, "c", "x=y");
	iscsi_text_free(&t);
	ck_assert_int_eq(iscsi_text_parse(seg, sizeof(seg), collect, &t), 0);     /* with NUL */
	ck_assert_int_eq(tcount(&t), 3);
	iscsi_text_free(&t);
	static const char pad[] = "a=1\0\0\0";
	ck_assert_int_eq(iscsi_text_parse(pad, sizeof(pad) - 1, collect, &t), 0);
	ck_assert_int_eq(tcount(&t), 1);
	iscsi_text_free(&t);
	ck_assert_int_eq(iscsi_text_parse("", 0, collect, &t), 0);
	ck_assert_int_eq(iscsi_text_parse("a=1\0\0b=2", 8, collect, &t), -1);  /* hole */
	ck_assert_int_eq(iscsi_text_parse("abc", 3, collect, &t), -1);         /* no '=' */
	ck_assert_int_eq(iscsi_text_parse("=1", 2, collect, &t), -1);          /* empty key */
	ck_assert_int_eq(iscsi_text_parse("a b=1", 5, collect, &t), -1);       /* bad key char */
	ck_assert_int_eq(iscsi_text_parse(seg, sizeof(seg), stop_at_b, NULL), 42);
	iscsi_text_free(&t);

	/* key length limit 63, value limit 8192 */
	char *big = malloc(20000);
	memset(big, 'K', 63);
	strcpy(big + 63, "=v");
	ck_assert_int_eq(iscsi_text_parse(big, strlen(big), collect, &t), 0);
	memset(big, 'K', 64);
	strcpy(big + 64, "=v");
	ck_assert_int_eq(iscsi_text_parse(big, strlen(big), collect, &t), -1);
	strcpy(big, "k=");
	memset(big + 2, 'v', 8192);
	big[2 + 8192] = '\0';
	ck_assert_int_eq(iscsi_text_parse(big, strlen(big) + 1, collect, &t), 0);
	iscsi_text_free(&t);
	big[2 + 8192] = 'v';
	big[2 + 8193] = '\0';
	ck_assert_int_eq(iscsi_text_parse(big, strlen(big) + 1, collect, &t), -1);
	free(big);
	iscsi_text_free(&t);
}
END_TEST

START_TEST(test_text_buffer)
{
	struct iscsi_text t = { .limit = 16 };
	ck_assert_int_eq(iscsi_text_add(&t, "Key", "Value"), 0);
	ck_assert_int_eq(iscsi_text_add(&t, "K", "VVVVVV"), -1);
	ck_assert_uint_eq(t.len, 10);
	ck_assert_int_eq(iscsi_text_addf(&t, "N", "%d", 42), 0);       /* 5 -> 15 */
	ck_assert_uint_eq(t.len, 15);
	ck_assert_mem_eq(t.data, "Key=Value\0N=42\0", 15);
	iscsi_text_free(&t);
	ck_assert_ptr_null(t.data);
	ck_assert_uint_eq(t.len, 0);

	/* default limit 64 KiB */
	struct iscsi_text u = { 0 };
	char v[1000];
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	int ok = 0;
	while (iscsi_text_add(&u, "k", v) == 0)
		ok++;
	ck_assert_int_eq(ok, 65536 / 1002);
	iscsi_text_free(&u);

	/* raw pieces (a Text request sent with the C bit): up to the limit */
	struct iscsi_text w = { .limit = 8 };
	ck_assert_int_eq(iscsi_text_append(&w, "SendT", 5), 0);
	ck_assert_int_eq(iscsi_text_append(&w, "", 0), 0);
	ck_assert_int_eq(iscsi_text_append(&w, "arg", 3), 0);
	ck_assert_int_eq(iscsi_text_append(&w, "e", 1), -1);
	ck_assert_uint_eq(w.len, 8);
	ck_assert_mem_eq(w.data, "SendTarg", 8);
	iscsi_text_free(&w);
}
END_TEST

/* ------------------------------------------------------------------ real initiators */

START_TEST(test_esxi_set)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	init_default(&n);
	/* security stage: names and AuthMethod=None */
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out,
			      "InitiatorName=iqn.1998-01.com.vmware:esx01-4a1b2c3d",
			      "InitiatorAlias=esx01", "SessionType=Normal",
			      "TargetName=iqn.2024-01.org.tandem:disk1", "AuthMethod=None", NULL),
			 ISCSI_PARAM_OK);
	ck_assert_int_eq(tcount(&out), 1);
	ANS(&out, "AuthMethod", "None");
	ck_assert_int_eq(n.auth_method, ISCSI_AUTH_NONE);
	ck_assert_str_eq(n.auth_method_offer, "None");
	ck_assert_str_eq(n.initiator_name, "iqn.1998-01.com.vmware:esx01-4a1b2c3d");
	ck_assert_str_eq(n.initiator_alias, "esx01");
	ck_assert_str_eq(n.target_name, "iqn.2024-01.org.tandem:disk1");
	ck_assert_int_eq(n.session_type, ISCSI_SESSION_NORMAL);
	iscsi_text_free(&out);

	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out,
			      "HeaderDigest=None", "DataDigest=None",
			      "InitialR2T=No", "ImmediateData=Yes",
			      "MaxRecvDataSegmentLength=1048576", "MaxBurstLength=1048576",
			      "FirstBurstLength=65536", "MaxOutstandingR2T=32",
			      "DataPDUInOrder=No", "DataSequenceInOrder=No", "ErrorRecoveryLevel=0",
			      "DefaultTime2Wait=0", "DefaultTime2Retain=0",
			      "OFMarker=No", "IFMarker=No", NULL), ISCSI_PARAM_OK);
	ANS(&out, "HeaderDigest", "None");
	ANS(&out, "DataDigest", "None");
	ANS(&out, "InitialR2T", "No");
	ANS(&out, "ImmediateData", "Yes");
	ANS(&out, "MaxRecvDataSegmentLength", "1048576");
	ANS(&out, "MaxBurstLength", "1048576");
	ANS(&out, "FirstBurstLength", "65536");
	ANS(&out, "MaxOutstandingR2T", "32");
	ANS(&out, "DataPDUInOrder", "No");
	ANS(&out, "DataSequenceInOrder", "No");
	ANS(&out, "ErrorRecoveryLevel", "0");
	ANS(&out, "DefaultTime2Wait", "0");
	ANS(&out, "DefaultTime2Retain", "0");
	ANS(&out, "OFMarker", "No");
	ANS(&out, "IFMarker", "No");
	ck_assert_int_eq(tcount(&out), 15);
	ck_assert(!n.p.header_digest);
	ck_assert(!n.p.data_digest);
	ck_assert(!n.p.initial_r2t);
	ck_assert(n.p.immediate_data);
	ck_assert_uint_eq(n.p.max_xmit_dsl, 1048576);
	ck_assert_uint_eq(n.p.max_recv_dsl, 1048576);
	ck_assert_uint_eq(n.p.max_burst_length, 1048576);
	ck_assert_uint_eq(n.p.first_burst_length, 65536);
	ck_assert_uint_eq(n.p.max_outstanding_r2t, 32);
	ck_assert(!n.p.data_pdu_in_order);
	ck_assert(!n.p.data_sequence_in_order);
	ck_assert_uint_eq(n.p.error_recovery_level, 0);
	ck_assert_uint_eq(n.p.default_time2wait, 0);
	ck_assert_uint_eq(n.p.default_time2retain, 0);
	ck_assert_uint_eq(n.p.max_connections, 1);
	iscsi_text_free(&out);

	/* transition: MaxRecvDataSegmentLength already declared, alias + TPGT owed */
	ck_assert_int_eq(iscsi_param_finish(&n, "disk one", 1, &out), ISCSI_PARAM_OK);
	ck_assert_int_eq(tcount(&out), 2);
	ANS(&out, "TargetAlias", "disk one");
	ANS(&out, "TargetPortalGroupTag", "1");
	ck_assert_int_eq(iscsi_param_finish(&n, "disk one", 1, &out), ISCSI_PARAM_OK);
	ck_assert_int_eq(tcount(&out), 2);   /* nothing declared twice */
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_open_iscsi_set)
{
	/* open-iscsi defaults (iscsid.conf), no CHAP, all in one login PDU pair */
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out,
			      "InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef", "InitiatorAlias=host",
			      "TargetName=iqn.2024-01.org.tandem:disk1", "SessionType=Normal",
			      "AuthMethod=None", NULL), ISCSI_PARAM_OK);
	ANS(&out, "AuthMethod", "None");
	iscsi_text_free(&out);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out,
			      "HeaderDigest=None", "DataDigest=None", "DefaultTime2Wait=2",
			      "DefaultTime2Retain=0", "IFMarker=No", "OFMarker=No", "ErrorRecoveryLevel=0",
			      "InitialR2T=No", "ImmediateData=Yes", "MaxBurstLength=16776192",
			      "FirstBurstLength=262144", "MaxOutstandingR2T=1", "MaxConnections=1",
			      "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes",
			      "MaxRecvDataSegmentLength=262144", NULL), ISCSI_PARAM_OK);
	ANS(&out, "DefaultTime2Wait", "2");
	ANS(&out, "DefaultTime2Retain", "0");
	ANS(&out, "MaxBurstLength", "1048576");
	ANS(&out, "FirstBurstLength", "262144");
	ANS(&out, "MaxOutstandingR2T", "1");
	ANS(&out, "MaxConnections", "1");
	ANS(&out, "MaxRecvDataSegmentLength", "1048576");
	ANS(&out, "InitialR2T", "No");
	ck_assert_int_eq(tcount(&out), 16);
	ck_assert_uint_eq(n.p.max_xmit_dsl, 262144);
	ck_assert_uint_eq(n.p.max_burst_length, 1048576);
	ck_assert_uint_eq(n.p.first_burst_length, 262144);
	ck_assert_uint_eq(n.p.default_time2wait, 2);
	iscsi_text_free(&out);
	ck_assert_int_eq(iscsi_param_finish(&n, NULL, 7, &out), ISCSI_PARAM_OK);
	ck_assert_int_eq(tcount(&out), 1);
	ANS(&out, "TargetPortalGroupTag", "7");
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_open_iscsi_discovery)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out,
			      "InitiatorName=iqn.2004-10.com.ubuntu:01:abcdef",
			      "HeaderDigest=CRC32C,None", "DataDigest=None", "DefaultTime2Wait=2",
			      "DefaultTime2Retain=0", "IFMarker=No", "OFMarker=No", "ErrorRecoveryLevel=0",
			      "MaxBurstLength=16776192", "MaxConnections=1", "InitialR2T=No",
			      "MaxRecvDataSegmentLength=32768", "SessionType=Discovery", NULL),
			 ISCSI_PARAM_OK);
	ck_assert_int_eq(n.session_type, ISCSI_SESSION_DISCOVERY);
	/* SessionType came last, yet session keys already count as irrelevant */
	ANS(&out, "MaxBurstLength", "Irrelevant");
	ANS(&out, "MaxConnections", "Irrelevant");
	ANS(&out, "InitialR2T", "Irrelevant");
	ANS(&out, "HeaderDigest", "CRC32C");
	ANS(&out, "DataDigest", "None");
	ANS(&out, "ErrorRecoveryLevel", "0");
	ANS(&out, "MaxRecvDataSegmentLength", "1048576");
	ck_assert(n.p.header_digest);
	ck_assert_uint_eq(n.p.max_xmit_dsl, 32768);
	ck_assert_uint_eq(n.p.max_burst_length, 262144);   /* untouched default */
	iscsi_text_free(&out);
	/* discovery: no TargetAlias / TPGT, MRDSL already declared */
	ck_assert_int_eq(iscsi_param_finish(&n, "alias", 1, &out), ISCSI_PARAM_OK);
	ck_assert_uint_eq(out.len, 0);
	iscsi_text_free(&out);
}
END_TEST

struct sec_log {
	int calls;
	char last[256];
	int ret;
};

static int sec_cb(const char *key, const char *value, void *arg)
{
	struct sec_log *l = arg;
	l->calls++;
	snprintf(l->last, sizeof(l->last), "%s=%s", key, value);
	return l->ret;
}

START_TEST(test_libiscsi_chap_flow)
{
	/* lib/login.c: first secneg PDU has names + AuthMethod=CHAP,None; then CHAP_A=5;
	 * then CHAP_N/CHAP_R (+CHAP_I/CHAP_C); opneg re-sends the names. */
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	struct sec_log log = { 0 };
	init_default(&n);
	n.chap_allowed = true;
	n.security_key = sec_cb;
	n.security_arg = &log;
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out,
			      "InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test",
			      "InitiatorAlias=alias", "TargetName=iqn.2024-01.org.tandem:disk1",
			      "SessionType=Normal", "AuthMethod=CHAP,None", NULL), ISCSI_PARAM_OK);
	ck_assert_int_eq(tcount(&out), 1);
	ANS(&out, "AuthMethod", "CHAP");
	ck_assert_int_eq(n.auth_method, ISCSI_AUTH_CHAP);
	ck_assert_str_eq(n.auth_method_offer, "CHAP,None");
	iscsi_text_free(&out);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, "CHAP_A=5", NULL), ISCSI_PARAM_OK);
	ck_assert_int_eq(log.calls, 1);
	ck_assert_str_eq(log.last, "CHAP_A=5");
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, "CHAP_N=user",
			      "CHAP_R=0x0123456789ABCDEF0123456789ABCDEF", "CHAP_I=1", "CHAP_C=0xAA", NULL),
			 ISCSI_PARAM_OK);
	ck_assert_int_eq(log.calls, 5);
	ck_assert_str_eq(log.last, "CHAP_C=0xAA");
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out,
			      "InitiatorName=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test",
			      "InitiatorAlias=alias", "TargetName=iqn.2024-01.org.tandem:disk1",
			      "SessionType=Normal", "HeaderDigest=None,CRC32C", "DataDigest=None",
			      "InitialR2T=Yes", "ImmediateData=Yes", "MaxBurstLength=262144",
			      "FirstBurstLength=262144", "DefaultTime2Wait=2", "DefaultTime2Retain=0",
			      "MaxOutstandingR2T=1", "ErrorRecoveryLevel=0", "IFMarker=No", "OFMarker=No",
			      "MaxConnections=1", "MaxRecvDataSegmentLength=262144", "DataPDUInOrder=Yes",
			      "DataSequenceInOrder=Yes", NULL), ISCSI_PARAM_OK);
	ANS(&out, "HeaderDigest", "None");
	ANS(&out, "InitialR2T", "Yes");
	ANS(&out, "FirstBurstLength", "262144");
	ANS(&out, "DefaultTime2Wait", "2");
	ck_assert_int_eq(tcount(&out), 16);
	ck_assert(n.p.initial_r2t);
	ck_assert_uint_eq(n.p.max_burst_length, 262144);
	ck_assert_uint_eq(n.p.first_burst_length, 262144);
	iscsi_text_free(&out);
	/* a different name the second time is an initiator error */
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "InitiatorName=iqn.x:other", NULL),
			 ISCSI_PARAM_ERR_INITIATOR);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "SessionType=Discovery", NULL),
			 ISCSI_PARAM_ERR_INITIATOR);
	iscsi_text_free(&out);
}
END_TEST

/* ------------------------------------------------------------------ rules */

START_TEST(test_digest_lists)
{
	struct { const char *v, *ans; bool on; } cases[] = {
		{ "CRC32C,None", "CRC32C", true }, { "None,CRC32C", "None", false },
		{ "MD5,CRC32C", "CRC32C", true }, { "CRC32C", "CRC32C", true }, { "None", "None", false },
		{ "MD5", "Reject", false }, { "CRC32C,,None", "Reject", false }, { "", "Reject", false },
		{ "crc32c", "Reject", false }, { "CRC32C,", "Reject", false }, { ",None", "Reject", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iscsi_negotiation n;
		struct iscsi_text out = { 0 };
		char kv[64], kv2[64];
		init_default(&n);
		snprintf(kv, sizeof(kv), "HeaderDigest=%s", cases[i].v);
		snprintf(kv2, sizeof(kv2), "DataDigest=%s", cases[i].v);
		ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, kv, kv2, NULL), ISCSI_PARAM_OK);
		ANS(&out, "HeaderDigest", cases[i].ans);
		ANS(&out, "DataDigest", cases[i].ans);
		ck_assert_int_eq(n.p.header_digest, cases[i].on);
		ck_assert_int_eq(n.p.data_digest, cases[i].on);
		iscsi_text_free(&out);
	}
}
END_TEST

START_TEST(test_auth_method)
{
	struct { bool req, allowed; const char *v, *ans; int m; } cases[] = {
		{ false, false, "None", "None", ISCSI_AUTH_NONE },
		{ false, false, "CHAP,None", "None", ISCSI_AUTH_NONE },
		{ false, false, "CHAP", "Reject", ISCSI_AUTH_REJECTED },
		{ false, true, "CHAP,None", "CHAP", ISCSI_AUTH_CHAP },
		{ false, true, "None,CHAP", "None", ISCSI_AUTH_NONE },
		{ true, false, "None,CHAP", "CHAP", ISCSI_AUTH_CHAP },
		{ true, true, "None", "Reject", ISCSI_AUTH_REJECTED },
		{ true, true, "SRP,KRB5,SPKM1,SPKM2", "Reject", ISCSI_AUTH_REJECTED },
		{ false, true, "KRB5,CHAP", "CHAP", ISCSI_AUTH_CHAP },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iscsi_negotiation n;
		struct iscsi_text out = { 0 };
		char kv[64];
		init_default(&n);
		n.chap_required = cases[i].req;
		n.chap_allowed = cases[i].allowed;
		snprintf(kv, sizeof(kv), "AuthMethod=%s", cases[i].v);
		ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, kv, NULL), ISCSI_PARAM_OK);
		ANS(&out, "AuthMethod", cases[i].ans);
		ck_assert_int_eq(n.auth_method, cases[i].m);
		ck_assert_str_eq(n.auth_method_offer, cases[i].v);
		iscsi_text_free(&out);
	}
	/* AuthMethod / CHAP_* outside the security stage */
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "AuthMethod=None", NULL),
			 ISCSI_PARAM_ERR_INITIATOR);
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "CHAP_A=5", NULL), ISCSI_PARAM_ERR_INITIATOR);
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_FULL_FEATURE, &out, "CHAP_A=5", NULL), ISCSI_PARAM_ERR_INITIATOR);
	/* no callback: NotUnderstood; callback error propagates */
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, "CHAP_A=5", NULL), ISCSI_PARAM_OK);
	ANS(&out, "CHAP_A", "NotUnderstood");
	struct sec_log log = { .ret = ISCSI_PARAM_ERR_INITIATOR };
	n.security_key = sec_cb;
	n.security_arg = &log;
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, "CHAP_N=x", NULL), ISCSI_PARAM_ERR_INITIATOR);
	/* operational keys are allowed in the security stage */
	init_default(&n);
	iscsi_text_free(&out);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, "AuthMethod=None", "HeaderDigest=None",
			      "MaxBurstLength=4096", NULL), ISCSI_PARAM_OK);
	ANS(&out, "MaxBurstLength", "4096");
	/* raw AuthMethod offer is recorded truncated when very long */
	init_default(&n);
	char longv[400] = "AuthMethod=";
	for (int i = 0; i < 60; i++)
		strcat(longv, "KRB5,");
	strcat(longv, "None");
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, longv, NULL), ISCSI_PARAM_OK);
	ck_assert_uint_eq(strlen(n.auth_method_offer), sizeof(n.auth_method_offer) - 1);
	ck_assert_int_eq(n.auth_method, ISCSI_AUTH_NONE);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_unknown_keys)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "X-com.example.Foo=1",
			      "X#org.iana.Bar=2", "FooBar=Yes", "iSCSIProtocolLevel=1", NULL), ISCSI_PARAM_OK);
	ANS(&out, "X-com.example.Foo", "NotUnderstood");
	ANS(&out, "X#org.iana.Bar", "NotUnderstood");
	ANS(&out, "FooBar", "NotUnderstood");
	ck_assert_int_eq(tcount(&out), 4);
	iscsi_text_free(&out);
	/* key syntax errors are protocol errors */
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "NoEquals", NULL), ISCSI_PARAM_ERR_INITIATOR);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "Bad Key=1", NULL), ISCSI_PARAM_ERR_INITIATOR);
	ck_assert_int_eq(iscsi_param_negotiate(&n, 2, "", 0, &out), ISCSI_PARAM_ERR_INITIATOR);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_repeats)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "MaxBurstLength=4096",
			      "MaxBurstLength=4096", NULL), ISCSI_PARAM_ERR_INITIATOR);
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, "HeaderDigest=None", NULL), ISCSI_PARAM_OK);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "HeaderDigest=None", NULL),
			 ISCSI_PARAM_ERR_INITIATOR);
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_SECURITY, &out, "AuthMethod=None", "AuthMethod=None", NULL),
			 ISCSI_PARAM_ERR_INITIATOR);
	/* reserved answer constants are not offers: ignored, no answer, not counted */
	init_default(&n);
	iscsi_text_free(&out);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "HeaderDigest=Reject",
			      "MaxBurstLength=Irrelevant", "DataDigest=NotUnderstood", NULL), ISCSI_PARAM_OK);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "HeaderDigest=CRC32C", NULL), ISCSI_PARAM_OK);
	ANS(&out, "HeaderDigest", "CRC32C");
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_numeric_rules)
{
	struct { const char *kv, *key, *ans; } cases[] = {
		{ "MaxBurstLength=511", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength=16777216", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength=16777215", "MaxBurstLength", "1048576" },
		{ "MaxBurstLength=512", "MaxBurstLength", "512" },
		{ "MaxBurstLength=0x200", "MaxBurstLength", "512" },
		{ "MaxBurstLength=-1", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength=+512", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength= 512", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength=512x", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength=", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength=99999999999999999999", "MaxBurstLength", "Reject" },
		{ "MaxBurstLength=4294967808", "MaxBurstLength", "Reject" },   /* 2^32+512: no wrap */
		{ "ErrorRecoveryLevel=2", "ErrorRecoveryLevel", "0" },
		{ "ErrorRecoveryLevel=3", "ErrorRecoveryLevel", "Reject" },
		{ "MaxConnections=0", "MaxConnections", "Reject" },
		{ "MaxConnections=8", "MaxConnections", "1" },
		{ "MaxOutstandingR2T=65536", "MaxOutstandingR2T", "Reject" },
		{ "MaxOutstandingR2T=65535", "MaxOutstandingR2T", "32" },
		{ "DefaultTime2Wait=3601", "DefaultTime2Wait", "Reject" },
		{ "DefaultTime2Wait=3600", "DefaultTime2Wait", "3600" },
		{ "DefaultTime2Retain=3600", "DefaultTime2Retain", "20" },
		{ "FirstBurstLength=511", "FirstBurstLength", "Reject" },
		{ "FirstBurstLength=1048576", "FirstBurstLength", "262144" },
		{ "InitialR2T=yes", "InitialR2T", "Reject" },
		{ "InitialR2T=Yes", "InitialR2T", "Yes" },
		{ "InitialR2T=No", "InitialR2T", "No" },
		{ "ImmediateData=No", "ImmediateData", "No" },
		{ "ImmediateData=Y", "ImmediateData", "Reject" },
		{ "DataPDUInOrder=", "DataPDUInOrder", "Reject" },
		{ "IFMarker=Yes", "IFMarker", "No" },
		{ "OFMarker=maybe", "OFMarker", "Reject" },
		{ "OFMarkInt=2048", "OFMarkInt", "Reject" },
		{ "IFMarkInt=1-2048", "IFMarkInt", "Reject" },
		{ "TaskReporting=FastAbort,RFC3720", "TaskReporting", "RFC3720" },
		{ "TaskReporting=ResponseFence", "TaskReporting", "Reject" },
		{ "SendTargets=All", "SendTargets", "Reject" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iscsi_negotiation n;
		struct iscsi_text out = { 0 };
		init_default(&n);
		ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, cases[i].kv, NULL), ISCSI_PARAM_OK);
		ANS(&out, cases[i].key, cases[i].ans);
		ck_assert_int_eq(tcount(&out), 1);
		iscsi_text_free(&out);
	}
}
END_TEST

START_TEST(test_first_burst)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	/* RFC 7143 13.14: FirstBurstLength <= MaxBurstLength, whatever the order */
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "FirstBurstLength=65536",
			      "MaxBurstLength=8192", NULL), ISCSI_PARAM_OK);
	ANS(&out, "MaxBurstLength", "8192");
	ANS(&out, "FirstBurstLength", "8192");
	ck_assert_uint_eq(n.p.first_burst_length, 8192);
	iscsi_text_free(&out);
	/* MaxBurstLength below the default FirstBurstLength, FBL not offered: clamp */
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "MaxBurstLength=4096", NULL), ISCSI_PARAM_OK);
	ck_assert_uint_eq(n.p.first_burst_length, 4096);
	iscsi_text_free(&out);
	/* InitialR2T=Yes + ImmediateData=No: FirstBurstLength irrelevant */
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "InitialR2T=Yes", "ImmediateData=No",
			      "FirstBurstLength=65536", NULL), ISCSI_PARAM_OK);
	ANS(&out, "FirstBurstLength", "Irrelevant");
	iscsi_text_free(&out);
	/* limits bound our side */
	struct iscsi_param_limits lim = { .max_burst = 65536, .first_burst = 16384, .max_connections = 4,
					  .max_outstanding_r2t = 4, .max_recv_dsl = 65536 };
	iscsi_negotiation_init(&n, &lim, true);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "MaxBurstLength=262144",
			      "FirstBurstLength=262144", "MaxConnections=8", "MaxOutstandingR2T=16",
			      "MaxRecvDataSegmentLength=8192", NULL), ISCSI_PARAM_OK);
	ANS(&out, "MaxBurstLength", "65536");
	ANS(&out, "FirstBurstLength", "16384");
	ANS(&out, "MaxConnections", "4");
	ANS(&out, "MaxOutstandingR2T", "4");
	ANS(&out, "MaxRecvDataSegmentLength", "65536");
	ck_assert_uint_eq(n.p.max_recv_dsl, 65536);
	ck_assert_uint_eq(n.p.max_xmit_dsl, 8192);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_declaratives)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	const char *target_only[] = { "TargetPortalGroupTag=1", "TargetAlias=x", "TargetAddress=1.2.3.4:3260,1" };
	for (size_t i = 0; i < 3; i++) {
		init_default(&n);
		ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, target_only[i], NULL),
				 ISCSI_PARAM_ERR_INITIATOR);
	}
	const char *bad[] = { "MaxRecvDataSegmentLength=511", "MaxRecvDataSegmentLength=16777216",
			      "MaxRecvDataSegmentLength=abc", "SessionType=Bogus", "SessionType=normal",
			      "InitiatorName=", "TargetName=" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		init_default(&n);
		ck_assert_msg(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, bad[i], NULL) == ISCSI_PARAM_ERR_INITIATOR,
			      "%s accepted", bad[i]);
	}
	/* names: 223 bytes fit, 224 do not */
	char name[300] = "InitiatorName=";
	memset(name + 14, 'a', 223);
	name[14 + 223] = '\0';
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, name, NULL), ISCSI_PARAM_OK);
	ck_assert_uint_eq(strlen(n.initiator_name), 223);
	name[14 + 223] = 'a';
	name[14 + 224] = '\0';
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, name, NULL), ISCSI_PARAM_ERR_INITIATOR);
	/* names with control characters (terminal escapes in `tandemctl status`) or
	 * malformed UTF-8 (unparseable JSON) are refused; such an alias is dropped */
	const char *dirty[] = { "InitiatorName=iqn.a\x1b[2J", "InitiatorName=iqn.a\x7f", "InitiatorName=iqn.\xc3",
				"InitiatorName=iqn.\xc0\xaf", "InitiatorName=iqn.\xed\xa0\x80", "TargetName=iqn.\xff",
				"InitiatorName=iqn.\xc2\x9b" };
	for (size_t i = 0; i < sizeof(dirty) / sizeof(dirty[0]); i++) {
		init_default(&n);
		ck_assert_msg(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, dirty[i], NULL) == ISCSI_PARAM_ERR_INITIATOR,
			      "dirty name %zu accepted", i);
	}
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "InitiatorName=iqn.2026-11.\xc3\xa9t\xc3\xa9:h\xc3\xb4te",
			      NULL), ISCSI_PARAM_OK);              /* UTF-8 names are fine */
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "InitiatorAlias=evil\x1b]0;x\x07", NULL), ISCSI_PARAM_OK);
	ck_assert_str_eq(n.initiator_alias, "");
	/* empty alias is fine, no answer to declarations */
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "InitiatorAlias=", "SessionType=Normal",
			      "InitiatorName=iqn.a", "TargetName=iqn.b", NULL), ISCSI_PARAM_OK);
	ck_assert_uint_eq(out.len, 0);
	/* MaxRecvDataSegmentLength re-declared: value taken, ours not repeated? -> repeat is an error */
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "MaxRecvDataSegmentLength=8192", NULL),
			 ISCSI_PARAM_OK);
	ANS(&out, "MaxRecvDataSegmentLength", "1048576");
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "MaxRecvDataSegmentLength=8192", NULL),
			 ISCSI_PARAM_ERR_INITIATOR);
	iscsi_text_free(&out);
	/* finish without any MRDSL from the initiator declares ours */
	init_default(&n);
	ck_assert_int_eq(iscsi_param_finish(&n, "", 3, &out), ISCSI_PARAM_OK);
	ANS(&out, "MaxRecvDataSegmentLength", "1048576");
	ANS(&out, "TargetPortalGroupTag", "3");
	ck_assert_ptr_null(tval(&out, "TargetAlias"));
	ck_assert_int_eq(tcount(&out), 2);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_non_leading)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	iscsi_negotiation_init(&n, NULL, false);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "SessionType=Normal", "InitiatorName=iqn.a",
			      "MaxBurstLength=4096", "InitialR2T=No", "ErrorRecoveryLevel=0",
			      "HeaderDigest=CRC32C", "DataDigest=CRC32C,None",
			      "MaxRecvDataSegmentLength=65536", "IFMarker=No", NULL), ISCSI_PARAM_OK);
	ANS(&out, "MaxBurstLength", "Irrelevant");
	ANS(&out, "InitialR2T", "Irrelevant");
	ANS(&out, "ErrorRecoveryLevel", "Irrelevant");
	ANS(&out, "HeaderDigest", "CRC32C");
	ANS(&out, "DataDigest", "CRC32C");
	ANS(&out, "IFMarker", "No");
	ck_assert(n.p.header_digest && n.p.data_digest);
	ck_assert_uint_eq(n.p.max_xmit_dsl, 65536);
	ck_assert_uint_eq(n.p.max_burst_length, 262144);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_full_feature_text)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { 0 };
	init_default(&n);
	n.session_type = ISCSI_SESSION_DISCOVERY;
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_FULL_FEATURE, &out, "SendTargets=All",
			      "MaxRecvDataSegmentLength=16384", "MaxBurstLength=4096", "HeaderDigest=CRC32C",
			      "X-foo=1", NULL), ISCSI_PARAM_OK);
	ck_assert_ptr_null(tval(&out, "SendTargets"));      /* the caller answers it */
	ANS(&out, "MaxRecvDataSegmentLength", "1048576");
	ANS(&out, "MaxBurstLength", "Reject");               /* Use: LO/IO, not renegotiable */
	ANS(&out, "HeaderDigest", "Reject");
	ANS(&out, "X-foo", "NotUnderstood");
	ck_assert_int_eq(tcount(&out), 4);
	ck_assert_uint_eq(n.p.max_xmit_dsl, 16384);
	ck_assert_uint_eq(n.p.max_burst_length, 262144);
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_FULL_FEATURE, &out, "AuthMethod=None", NULL),
			 ISCSI_PARAM_ERR_INITIATOR);
	iscsi_text_free(&out);
}
END_TEST

START_TEST(test_response_too_large)
{
	struct iscsi_negotiation n;
	struct iscsi_text out = { .limit = 40 };
	init_default(&n);
	ck_assert_int_eq(nego(&n, ISCSI_STAGE_OPERATIONAL, &out, "X-a=1", "X-b=1", "X-c=1", "X-d=1", NULL),
			 ISCSI_PARAM_ERR_RESOURCES);
	iscsi_text_free(&out);
	out.limit = 20;
	init_default(&n);
	ck_assert_int_eq(iscsi_param_finish(&n, "alias", 1, &out), ISCSI_PARAM_ERR_RESOURCES);
	iscsi_text_free(&out);
}
END_TEST

static Suite *param_suite(void)
{
	Suite *s = suite_create("param");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_table_walk);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_parse_u32);
	tcase_add_test(tc, test_text_parse);
	tcase_add_test(tc, test_text_buffer);
	tcase_add_test(tc, test_esxi_set);
	tcase_add_test(tc, test_open_iscsi_set);
	tcase_add_test(tc, test_open_iscsi_discovery);
	tcase_add_test(tc, test_libiscsi_chap_flow);
	tcase_add_test(tc, test_digest_lists);
	tcase_add_test(tc, test_auth_method);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_repeats);
	tcase_add_test(tc, test_numeric_rules);
	tcase_add_test(tc, test_first_burst);
	tcase_add_test(tc, test_declaratives);
	tcase_add_test(tc, test_non_leading);
	tcase_add_test(tc, test_full_feature_text);
	tcase_add_test(tc, test_response_too_large);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(param_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

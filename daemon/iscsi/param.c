/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Login/Text key negotiation (RFC 7143 6 and 13): one key table, values parsed once into typed fields. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/utf8.h"
#include "iscsi/param.h"

#define KEY_MAX_LEN 63        /* RFC 7143 6.1: key-name up to 63 bytes */
#define VALUE_MAX_LEN 8192    /* RFC 7143 6.1: largest (binary) value representation */
#define DSL_MAX 16777215u     /* 2^24 - 1 */

/* ---------------------------------------------------------------- text buffer */

static int text_reserve(struct iscsi_text *t, size_t need)
{
	size_t limit = t->limit ? t->limit : ISCSI_TEXT_DEFAULT_LIMIT;
	size_t cap;
	char *p;

	if (need > limit - t->len || t->len > limit)
		return -1;
	if (t->len + need <= t->cap)
		return 0;
	cap = t->cap ? t->cap : 512;
	while (cap < t->len + need)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	p = realloc(t->data, cap);
	if (!p)
		return -1;
	t->data = p;
	t->cap = cap;
	return 0;
}

int iscsi_text_add(struct iscsi_text *t, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);

	if (text_reserve(t, kl + vl + 2) != 0)
		return -1;
	memcpy(t->data + t->len, key, kl);
	t->data[t->len + kl] = '=';
	memcpy(t->data + t->len + kl + 1, value, vl);
	t->data[t->len + kl + 1 + vl] = '\0';
	t->len += kl + vl + 2;
	return 0;
}

int iscsi_text_append(struct iscsi_text *t, const void *data, size_t len)
{
	if (!len)
		return 0;
	if (text_reserve(t, len) != 0)
		return -1;
	memcpy(t->data + t->len, data, len);
	t->len += len;
	return 0;
}

int iscsi_text_addf(struct iscsi_text *t, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = iscsi_text_add(t, key, v);
	free(v);
	return rc;
}

void iscsi_text_free(struct iscsi_text *t)
{
	free(t->data);
	t->data = NULL;
	t->len = 0;
	t->cap = 0;
}

/* RFC 7143 6.1: key-name = letters, digits, '.', '-', '+', '@', '_' ('#' for X# keys). */
static bool key_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '+' || c == '@' || c == '_' || c == '#';
}

int iscsi_text_parse(const char *data, size_t len,
		     int (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	char key[KEY_MAX_LEN + 1];
	char *value;
	size_t pos = 0;
	int rc = 0;

	value = malloc(VALUE_MAX_LEN + 1);
	if (!value)
		return ISCSI_PARAM_ERR_RESOURCES;
	while (pos < len) {
		const char *p = data + pos;
		const char *nul = memchr(p, '\0', len - pos);
		size_t plen = nul ? (size_t)(nul - p) : len - pos;
		const char *eq;
		size_t klen, vlen;

		if (plen == 0) {
			/* An empty pair is only tolerated as trailing NUL padding. */
			for (size_t i = pos; i < len; i++) {
				if (data[i] != '\0') {
					rc = -1;
					goto out;
				}
			}
			break;
		}
		eq = memchr(p, '=', plen);
		if (!eq) {
			rc = -1;
			goto out;
		}
		klen = (size_t)(eq - p);
		vlen = plen - klen - 1;
		if (klen == 0 || klen > KEY_MAX_LEN || vlen > VALUE_MAX_LEN) {
			rc = -1;
			goto out;
		}
		for (size_t i = 0; i < klen; i++) {
			if (!key_char_ok(p[i])) {
				rc = -1;
				goto out;
			}
		}
		memcpy(key, p, klen);
		key[klen] = '\0';
		memcpy(value, eq + 1, vlen);
		value[vlen] = '\0';
		rc = fn(key, value, arg);
		if (rc != 0)
			goto out;
		pos += plen + (nul ? 1 : 0);
	}
out:
	free(value);
	return rc;
}

/* RFC 7143 6.1: numerical values are decimal-constant or hex-constant ("0x"). */
int iscsi_param_parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	const char *d = s;
	char *end;
	int base = 10;

	if (!s || !*s)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		d = s + 2;
	}
	if (!*d)
		return -1;
	/* strtoull would accept blanks, a sign and a nested "0x": allow digits only. */
	for (const char *c = d; *c; c++) {
		bool ok = base == 16 ? ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
				       (*c >= 'A' && *c <= 'F'))
				     : (*c >= '0' && *c <= '9');
		if (!ok)
			return -1;
	}
	errno = 0;
	v = strtoull(d, &end, base);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* ---------------------------------------------------------------- key table */

enum param_type {
	PARAM_NUMERIC_MIN,    /* RFC 7143 6.2.2: result = min(offer, ours) */
	PARAM_NUMERIC_MAX,    /* RFC 7143 6.2.2: result = max(offer, ours) */
	PARAM_BOOL_AND,       /* RFC 7143 6.2.2: result = offer AND ours */
	PARAM_BOOL_OR,        /* RFC 7143 6.2.2: result = offer OR ours */
	PARAM_LIST,           /* RFC 7143 6.2.1: first value of the offer that we accept */
	PARAM_DECLARATIVE,    /* RFC 7143 6.1/6.2: declared, no negotiation */
};

enum param_scope { SESSION, CONNECTION, SECURITY };

enum param_special {
	SP_NONE = 0,
	SP_DIGEST,            /* HeaderDigest / DataDigest */
	SP_AUTH,              /* AuthMethod */
	SP_TASKREP,           /* TaskReporting */
	SP_SENDTARGETS,
	SP_NAME,              /* InitiatorName/TargetName/InitiatorAlias: recorded in n */
	SP_TARGET_ONLY,       /* Senders: Target: the initiator may not send it */
	SP_SESSION_TYPE,
	SP_MRDSL,             /* MaxRecvDataSegmentLength: declarative per direction */
	SP_MARKINT,           /* obsolete OFMarkInt/IFMarkInt */
};

/* Which limit caps our value (0 = use .pref). */
enum param_lim { LIM_NONE = 0, LIM_MAX_CONN, LIM_BURST, LIM_FIRST_BURST, LIM_R2T };

#define NO_FIELD ((ptrdiff_t)-1)

struct param_def {
	const char *name;
	enum param_type type;
	uint32_t def, min, max;
	uint32_t pref;                /* our own value when no limit applies */
	enum param_scope scope;
	ptrdiff_t offset;             /* in struct iscsi_params (or in iscsi_negotiation for SP_NAME) */
	size_t size;                  /* SP_NAME: buffer size */
	enum param_special special;
	enum param_lim lim;
	bool leading_only;            /* Use: LO */
	bool ffp;                     /* may appear in full feature phase (Use: ALL / FFPO) */
	bool disc_irrelevant;         /* "Irrelevant when: SessionType=Discovery" */
};

#define P_OFF(f) offsetof(struct iscsi_params, f)
#define N_OFF(f) offsetof(struct iscsi_negotiation, f)

static const struct param_def param_table[] = {
	/* RFC 7143 13.1 */
	{ .name = "HeaderDigest", .type = PARAM_LIST, .scope = CONNECTION,
	  .offset = P_OFF(header_digest), .special = SP_DIGEST },
	{ .name = "DataDigest", .type = PARAM_LIST, .scope = CONNECTION,
	  .offset = P_OFF(data_digest), .special = SP_DIGEST },
	/* 13.2 */
	{ .name = "MaxConnections", .type = PARAM_NUMERIC_MIN, .def = 1, .min = 1, .max = 65535, .pref = 1,
	  .scope = SESSION, .offset = P_OFF(max_connections), .lim = LIM_MAX_CONN,
	  .leading_only = true, .disc_irrelevant = true },
	/* 13.3: Use: FFPO, answered by the caller (discovery Text) */
	{ .name = "SendTargets", .type = PARAM_DECLARATIVE, .scope = SESSION, .offset = NO_FIELD,
	  .special = SP_SENDTARGETS, .ffp = true },
	/* 13.4, 13.5, 13.7: Senders: Initiator, Use: IO */
	{ .name = "TargetName", .type = PARAM_DECLARATIVE, .scope = SESSION,
	  .offset = N_OFF(target_name), .size = sizeof(((struct iscsi_negotiation *)0)->target_name),
	  .special = SP_NAME },
	{ .name = "InitiatorName", .type = PARAM_DECLARATIVE, .scope = SESSION,
	  .offset = N_OFF(initiator_name), .size = sizeof(((struct iscsi_negotiation *)0)->initiator_name),
	  .special = SP_NAME },
	/* 13.6, 13.8, 13.9: Senders: Target */
	{ .name = "TargetAlias", .type = PARAM_DECLARATIVE, .scope = SESSION, .offset = NO_FIELD,
	  .special = SP_TARGET_ONLY },
	{ .name = "InitiatorAlias", .type = PARAM_DECLARATIVE, .scope = SESSION,
	  .offset = N_OFF(initiator_alias), .size = sizeof(((struct iscsi_negotiation *)0)->initiator_alias),
	  .special = SP_NAME },
	{ .name = "TargetAddress", .type = PARAM_DECLARATIVE, .scope = SESSION, .offset = NO_FIELD,
	  .special = SP_TARGET_ONLY },
	{ .name = "TargetPortalGroupTag", .type = PARAM_DECLARATIVE, .min = 0, .max = 65535,
	  .scope = SESSION, .offset = NO_FIELD, .special = SP_TARGET_ONLY },
	/* 13.10: InitialR2T OR; we take unsolicited data, so ours = No */
	{ .name = "InitialR2T", .type = PARAM_BOOL_OR, .def = 1, .min = 0, .max = 1, .pref = 0,
	  .scope = SESSION, .offset = P_OFF(initial_r2t), .leading_only = true, .disc_irrelevant = true },
	/* 13.11 */
	{ .name = "ImmediateData", .type = PARAM_BOOL_AND, .def = 1, .min = 0, .max = 1, .pref = 1,
	  .scope = SESSION, .offset = P_OFF(immediate_data), .leading_only = true, .disc_irrelevant = true },
	/* 13.12: declarative per direction, Use: ALL */
	{ .name = "MaxRecvDataSegmentLength", .type = PARAM_DECLARATIVE, .def = 8192, .min = 512,
	  .max = DSL_MAX, .scope = CONNECTION, .offset = P_OFF(max_xmit_dsl), .special = SP_MRDSL,
	  .ffp = true },
	/* 13.13 */
	{ .name = "MaxBurstLength", .type = PARAM_NUMERIC_MIN, .def = 262144, .min = 512, .max = DSL_MAX,
	  .pref = 262144, .scope = SESSION, .offset = P_OFF(max_burst_length), .lim = LIM_BURST,
	  .leading_only = true, .disc_irrelevant = true },
	/* 13.14: must not exceed MaxBurstLength, answered after the whole request */
	{ .name = "FirstBurstLength", .type = PARAM_NUMERIC_MIN, .def = 65536, .min = 512, .max = DSL_MAX,
	  .pref = 65536, .scope = SESSION, .offset = P_OFF(first_burst_length), .lim = LIM_FIRST_BURST,
	  .leading_only = true, .disc_irrelevant = true },
	/* 13.15: MAX; ours 0 so the initiator's value wins */
	{ .name = "DefaultTime2Wait", .type = PARAM_NUMERIC_MAX, .def = 2, .min = 0, .max = 3600, .pref = 0,
	  .scope = SESSION, .offset = P_OFF(default_time2wait), .leading_only = true },
	/* 13.16 */
	{ .name = "DefaultTime2Retain", .type = PARAM_NUMERIC_MIN, .def = 20, .min = 0, .max = 3600,
	  .pref = 20, .scope = SESSION, .offset = P_OFF(default_time2retain), .leading_only = true },
	/* 13.17 */
	{ .name = "MaxOutstandingR2T", .type = PARAM_NUMERIC_MIN, .def = 1, .min = 1, .max = 65535,
	  .pref = 32, .scope = SESSION, .offset = P_OFF(max_outstanding_r2t), .lim = LIM_R2T,
	  .leading_only = true, .disc_irrelevant = true },
	/* 13.18, 13.19: OR with ours = No: dataout.c places every Data-Out at its
	 * Buffer Offset and counts per R2T, so any order works (ESXi asks No). */
	{ .name = "DataPDUInOrder", .type = PARAM_BOOL_OR, .def = 1, .min = 0, .max = 1, .pref = 0,
	  .scope = SESSION, .offset = P_OFF(data_pdu_in_order), .leading_only = true, .disc_irrelevant = true },
	{ .name = "DataSequenceInOrder", .type = PARAM_BOOL_OR, .def = 1, .min = 0, .max = 1, .pref = 0,
	  .scope = SESSION, .offset = P_OFF(data_sequence_in_order), .leading_only = true,
	  .disc_irrelevant = true },
	/* 13.20: we implement level 0 only */
	{ .name = "ErrorRecoveryLevel", .type = PARAM_NUMERIC_MIN, .def = 0, .min = 0, .max = 2, .pref = 0,
	  .scope = SESSION, .offset = P_OFF(error_recovery_level), .leading_only = true },
	/* 13.21: Use: LO, IO; tolerated on every connection (Linux sends it) */
	{ .name = "SessionType", .type = PARAM_DECLARATIVE, .scope = SESSION, .offset = NO_FIELD,
	  .special = SP_SESSION_TYPE },
	/* 12.1: security stage only */
	{ .name = "AuthMethod", .type = PARAM_LIST, .scope = SECURITY, .offset = NO_FIELD,
	  .special = SP_AUTH },
	/* 13.26: obsolete markers: answer No for IFMarker/OFMarker, Reject for *MarkInt */
	{ .name = "IFMarker", .type = PARAM_BOOL_AND, .def = 0, .min = 0, .max = 1, .pref = 0,
	  .scope = CONNECTION, .offset = NO_FIELD },
	{ .name = "OFMarker", .type = PARAM_BOOL_AND, .def = 0, .min = 0, .max = 1, .pref = 0,
	  .scope = CONNECTION, .offset = NO_FIELD },
	{ .name = "OFMarkInt", .type = PARAM_DECLARATIVE, .scope = CONNECTION, .offset = NO_FIELD,
	  .special = SP_MARKINT },
	{ .name = "IFMarkInt", .type = PARAM_DECLARATIVE, .scope = CONNECTION, .offset = NO_FIELD,
	  .special = SP_MARKINT },
	/* 13.23: we implement the RFC3720 task semantics only */
	{ .name = "TaskReporting", .type = PARAM_LIST, .scope = SESSION, .offset = NO_FIELD,
	  .special = SP_TASKREP, .leading_only = true, .disc_irrelevant = true },
};

#define PARAM_COUNT (sizeof(param_table) / sizeof(param_table[0]))
_Static_assert(sizeof(param_table) / sizeof(param_table[0]) <= 64, "seen/declared are 64-bit masks");

static int param_index(const char *name)
{
	for (size_t i = 0; i < PARAM_COUNT; i++)
		if (strcmp(param_table[i].name, name) == 0)
			return (int)i;
	return -1;
}

static uint32_t *u32_field(struct iscsi_params *p, const struct param_def *d)
{
	return (uint32_t *)(void *)((char *)p + d->offset);
}

static bool *bool_field(struct iscsi_params *p, const struct param_def *d)
{
	return (bool *)(void *)((char *)p + d->offset);
}

/* Our own value for a numerical/boolean key, bounded by the key's range. */
static uint32_t param_ours(const struct iscsi_negotiation *n, const struct param_def *d)
{
	uint32_t v = d->pref;

	switch (d->lim) {
	case LIM_MAX_CONN: v = n->lim.max_connections; break;
	case LIM_BURST: v = n->lim.max_burst; break;
	case LIM_FIRST_BURST: v = n->lim.first_burst; break;
	case LIM_R2T: v = n->lim.max_outstanding_r2t; break;
	case LIM_NONE: break;
	}
	if (v < d->min)
		v = d->min;
	if (v > d->max)
		v = d->max;
	return v;
}

static uint32_t clamp_u32(uint32_t v, uint32_t dflt, uint32_t lo, uint32_t hi)
{
	if (v == 0)
		v = dflt;
	return v < lo ? lo : v > hi ? hi : v;
}

void iscsi_negotiation_init(struct iscsi_negotiation *n, const struct iscsi_param_limits *lim, bool leading)
{
	memset(n, 0, sizeof(*n));
	if (lim)
		n->lim = *lim;
	/* 0 in a limit means "use our default". */
	n->lim.max_recv_dsl = clamp_u32(n->lim.max_recv_dsl, 1048576, 512, DSL_MAX);
	n->lim.max_burst = clamp_u32(n->lim.max_burst, 1048576, 512, DSL_MAX);
	n->lim.first_burst = clamp_u32(n->lim.first_burst, 262144, 512, DSL_MAX);
	n->lim.max_connections = clamp_u32(n->lim.max_connections, 1, 1, 65535);
	n->lim.max_outstanding_r2t = clamp_u32(n->lim.max_outstanding_r2t, 32, 1, 65535);
	n->leading = leading;
	n->auth_method = ISCSI_AUTH_NONE;

	/* RFC 7143 13.x defaults */
	for (size_t i = 0; i < PARAM_COUNT; i++) {
		const struct param_def *d = &param_table[i];

		if (d->offset == NO_FIELD || d->special == SP_NAME)
			continue;
		if (d->type == PARAM_BOOL_AND || d->type == PARAM_BOOL_OR || d->special == SP_DIGEST)
			*bool_field(&n->p, d) = d->def != 0;   /* digests: None */
		else
			*u32_field(&n->p, d) = d->def;
	}
	n->p.max_recv_dsl = n->lim.max_recv_dsl;     /* what we declare */
}

/* ---------------------------------------------------------------- negotiation */

struct neg_ctx {
	struct iscsi_negotiation *n;
	int stage;
	struct iscsi_text *out;
	enum iscsi_session_type st;   /* effective session type for this request */
	bool fbl_pending;
	uint32_t fbl_offer;
};

static int answer(struct neg_ctx *c, const char *key, const char *value)
{
	return iscsi_text_add(c->out, key, value) == 0 ? ISCSI_PARAM_OK : ISCSI_PARAM_ERR_RESOURCES;
}

static int answer_u32(struct neg_ctx *c, const char *key, uint32_t v)
{
	return iscsi_text_addf(c->out, key, "%u", v) == 0 ? ISCSI_PARAM_OK : ISCSI_PARAM_ERR_RESOURCES;
}

static int parse_bool(const char *v, bool *b)
{
	/* RFC 7143 6.1: boolean-value is exactly "Yes" or "No" (case-sensitive) */
	if (strcmp(v, "Yes") == 0)
		*b = true;
	else if (strcmp(v, "No") == 0)
		*b = false;
	else
		return -1;
	return 0;
}

static bool is_reserved_answer(const char *v)
{
	/* RFC 7143 6.2: constants only meaningful as answers to our offers */
	return strcmp(v, "Reject") == 0 || strcmp(v, "Irrelevant") == 0 || strcmp(v, "NotUnderstood") == 0;
}

/* Walk a list-value "a,b,c" (RFC 7143 6.1, 6.2.1); accept(item) returns an index
 * >= 0 when acceptable. Returns the first accepted index, -1 none, -2 malformed. */
static int list_pick(const char *v, int (*accept)(const char *item, size_t len, void *arg), void *arg)
{
	const char *p = v;
	size_t l = strlen(v);

	/* RFC 7143 6.1: list-of-values = value *("," value): no empty element */
	if (l == 0 || v[0] == ',' || v[l - 1] == ',' || strstr(v, ",,"))
		return -2;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int r;

		if (len == 0)
			return -2;
		r = accept(p, len, arg);
		if (r >= 0)
			return r;
		if (!comma)
			return -1;
		p = comma + 1;
	}
}

static bool item_is(const char *item, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(item, word, len) == 0;
}

static int accept_digest(const char *item, size_t len, void *arg)
{
	(void)arg;
	if (item_is(item, len, "CRC32C"))
		return 1;
	if (item_is(item, len, "None"))
		return 0;
	return -1;     /* unknown values are ignored (RFC 7143 6.2.1) */
}

static int accept_auth(const char *item, size_t len, void *arg)
{
	const struct iscsi_negotiation *n = arg;

	if (item_is(item, len, "CHAP") && (n->chap_allowed || n->chap_required))
		return ISCSI_AUTH_CHAP;
	if (item_is(item, len, "None") && !n->chap_required)
		return ISCSI_AUTH_NONE;
	return -1;     /* SRP, KRB5, SPKM1, SPKM2: not supported */
}

static int accept_taskrep(const char *item, size_t len, void *arg)
{
	(void)arg;
	return item_is(item, len, "RFC3720") ? 0 : -1;
}

static int handle_name(struct neg_ctx *c, const struct param_def *d, const char *v, bool repeat)
{
	char *dst = (char *)c->n + d->offset;

	if (repeat)  /* libiscsi re-sends its names in the operational stage: same value is fine */
		return strcmp(dst, v) == 0 ? ISCSI_PARAM_OK : ISCSI_PARAM_ERR_INITIATOR;
	if (strlen(v) >= d->size)
		return ISCSI_PARAM_ERR_INITIATOR;   /* iSCSI names are at most 223 bytes (RFC 7143 4.2.7.1) */
	if (*v == '\0' && d->offset != (ptrdiff_t)N_OFF(initiator_alias))
		return ISCSI_PARAM_ERR_INITIATOR;
	/* names and aliases reach logs, `tandemctl status` and its JSON: no
	 * control characters (terminal escapes), only well-formed UTF-8 */
	if (!utf8_printable(v)) {
		if (d->offset != (ptrdiff_t)N_OFF(initiator_alias))
			return ISCSI_PARAM_ERR_INITIATOR;
		*dst = '\0';           /* an alias is only informative: dropped */
		return ISCSI_PARAM_OK;
	}
	memcpy(dst, v, strlen(v) + 1);
	return ISCSI_PARAM_OK;     /* declarations need no answer */
}

static int parse_session_type(const char *v)
{
	if (strcmp(v, "Discovery") == 0)
		return ISCSI_SESSION_DISCOVERY;
	if (strcmp(v, "Normal") == 0)
		return ISCSI_SESSION_NORMAL;
	return -1;
}

static int handle_key(const char *key, const char *v, void *arg)
{
	struct neg_ctx *c = arg;
	struct iscsi_negotiation *n = c->n;
	int idx = param_index(key);
	const struct param_def *d;
	bool repeat;
	uint32_t num, ours;
	bool b;
	int r;

	if (idx < 0) {
		if (strncmp(key, "CHAP_", 5) == 0) {
			/* RFC 7143 12.1.3: CHAP keys belong to the security stage */
			if (c->stage != ISCSI_STAGE_SECURITY)
				return ISCSI_PARAM_ERR_INITIATOR;
			if (n->security_key)
				return n->security_key(key, v, n->security_arg);
		}
		/* RFC 7143 6.2: unknown keys, X- and X# extensions -> NotUnderstood */
		return answer(c, key, "NotUnderstood");
	}
	d = &param_table[idx];

	/* An answer to an offer: we make none, so there is nothing to answer back. */
	if (is_reserved_answer(v))
		return ISCSI_PARAM_OK;

	/* RFC 7143 6.1: a key must not be negotiated/declared twice in a login. */
	repeat = (n->seen >> idx) & 1;
	if (repeat && d->special != SP_NAME && d->special != SP_SESSION_TYPE)
		return ISCSI_PARAM_ERR_INITIATOR;
	n->seen |= UINT64_C(1) << idx;

	/* Stage rules (RFC 7143 6.3, 13: "Use:" of each key) */
	if (d->scope == SECURITY && c->stage != ISCSI_STAGE_SECURITY)
		return ISCSI_PARAM_ERR_INITIATOR;
	if (d->special == SP_TARGET_ONLY)
		return ISCSI_PARAM_ERR_INITIATOR;
	if (d->special == SP_SENDTARGETS)
		return c->stage == ISCSI_STAGE_FULL_FEATURE ? ISCSI_PARAM_OK /* caller answers */
							    : answer(c, key, "Reject");
	if (c->stage == ISCSI_STAGE_FULL_FEATURE && !d->ffp)
		return answer(c, key, "Reject");    /* Use: IO / LO keys cannot be renegotiated */

	switch (d->special) {
	case SP_NAME:
		return handle_name(c, d, v, repeat);
	case SP_SESSION_TYPE:
		r = parse_session_type(v);
		if (r < 0)
			return ISCSI_PARAM_ERR_INITIATOR;
		if (n->session_type != ISCSI_SESSION_NONE && n->session_type != (enum iscsi_session_type)r)
			return ISCSI_PARAM_ERR_INITIATOR;
		n->session_type = (enum iscsi_session_type)r;
		return ISCSI_PARAM_OK;
	case SP_MARKINT:
		return answer(c, key, "Reject");    /* RFC 7143 13.26 */
	default:
		break;
	}

	/* RFC 7143 6.2: keys that do not apply answer Irrelevant. */
	if ((d->leading_only && !n->leading) || (d->disc_irrelevant && c->st == ISCSI_SESSION_DISCOVERY))
		return answer(c, key, "Irrelevant");

	switch (d->special) {
	case SP_DIGEST:
		r = list_pick(v, accept_digest, NULL);
		if (r < 0)
			return answer(c, key, "Reject");
		*bool_field(&n->p, d) = r == 1;
		return answer(c, key, r == 1 ? "CRC32C" : "None");
	case SP_AUTH:
		snprintf(n->auth_method_offer, sizeof(n->auth_method_offer), "%s", v);
		r = list_pick(v, accept_auth, n);
		if (r < 0) {
			n->auth_method = ISCSI_AUTH_REJECTED;
			return answer(c, key, "Reject");
		}
		n->auth_method = r;
		return answer(c, key, r == ISCSI_AUTH_CHAP ? "CHAP" : "None");
	case SP_TASKREP:
		r = list_pick(v, accept_taskrep, NULL);
		return answer(c, key, r < 0 ? "Reject" : "RFC3720");
	case SP_MRDSL:
		/* RFC 7143 13.12: the initiator declares what it receives; a value
		 * out of 512..2^24-1 cannot be answered meaningfully: initiator error. */
		if (iscsi_param_parse_u32(v, &num) != 0 || num < d->min || num > d->max)
			return ISCSI_PARAM_ERR_INITIATOR;
		n->p.max_xmit_dsl = num;
		if (n->declared & (UINT64_C(1) << idx))
			return ISCSI_PARAM_OK;
		n->declared |= UINT64_C(1) << idx;
		return answer_u32(c, key, n->p.max_recv_dsl);
	default:
		break;
	}

	switch (d->type) {
	case PARAM_NUMERIC_MIN:
	case PARAM_NUMERIC_MAX:
		/* RFC 7143 6.2: an out-of-range or malformed value is answered Reject */
		if (iscsi_param_parse_u32(v, &num) != 0 || num < d->min || num > d->max)
			return answer(c, key, "Reject");
		if (d->lim == LIM_FIRST_BURST) {
			/* answered once MaxBurstLength of this request is known (13.14) */
			c->fbl_pending = true;
			c->fbl_offer = num;
			return ISCSI_PARAM_OK;
		}
		ours = param_ours(n, d);
		if (d->type == PARAM_NUMERIC_MIN)
			num = num < ours ? num : ours;
		else
			num = num > ours ? num : ours;
		if (d->offset != NO_FIELD)
			*u32_field(&n->p, d) = num;
		return answer_u32(c, key, num);
	case PARAM_BOOL_AND:
	case PARAM_BOOL_OR:
		if (parse_bool(v, &b) != 0)
			return answer(c, key, "Reject");
		if (d->type == PARAM_BOOL_AND)
			b = b && d->pref;
		else
			b = b || d->pref;
		if (d->offset != NO_FIELD)
			*bool_field(&n->p, d) = b;
		return answer(c, key, b ? "Yes" : "No");
	default:
		return answer(c, key, "NotUnderstood");
	}
}

static int prescan_key(const char *key, const char *v, void *arg)
{
	struct neg_ctx *c = arg;
	int r;

	if (strcmp(key, "SessionType") == 0 && (r = parse_session_type(v)) > 0)
		c->st = (enum iscsi_session_type)r;
	return 0;
}

static void clamp_first_burst(struct iscsi_params *p)
{
	if (p->first_burst_length > p->max_burst_length)
		p->first_burst_length = p->max_burst_length;
}

int iscsi_param_negotiate(struct iscsi_negotiation *n, int stage, const char *in, size_t inlen,
			  struct iscsi_text *out)
{
	struct neg_ctx c = { .n = n, .stage = stage, .out = out, .st = n->session_type };
	int rc;

	if (stage != ISCSI_STAGE_SECURITY && stage != ISCSI_STAGE_OPERATIONAL &&
	    stage != ISCSI_STAGE_FULL_FEATURE)
		return ISCSI_PARAM_ERR_INITIATOR;
	/* Session type decides relevance (RFC 7143 13.21), wherever it sits in the request. */
	if (c.st == ISCSI_SESSION_NONE) {
		rc = iscsi_text_parse(in, inlen, prescan_key, &c);
		if (rc != 0)
			return rc == ISCSI_PARAM_ERR_RESOURCES ? rc : ISCSI_PARAM_ERR_INITIATOR;
	}
	rc = iscsi_text_parse(in, inlen, handle_key, &c);
	if (rc == -1 || rc > 0)
		return ISCSI_PARAM_ERR_INITIATOR;
	if (rc != 0)
		return rc;
	if (c.fbl_pending) {
		const struct param_def *d = &param_table[param_index("FirstBurstLength")];
		uint32_t v = c.fbl_offer, ours = param_ours(n, d);

		if (!n->p.immediate_data && n->p.initial_r2t) {
			/* RFC 7143 13.14: no unsolicited data at all */
			if (answer(&c, d->name, "Irrelevant") != 0)
				return ISCSI_PARAM_ERR_RESOURCES;
			clamp_first_burst(&n->p);
			return ISCSI_PARAM_OK;
		}
		if (v > ours)
			v = ours;
		if (v > n->p.max_burst_length)   /* RFC 7143 13.14: FirstBurstLength <= MaxBurstLength */
			v = n->p.max_burst_length;
		n->p.first_burst_length = v;
		if (answer_u32(&c, d->name, v) != 0)
			return ISCSI_PARAM_ERR_RESOURCES;
	}
	clamp_first_burst(&n->p);
	return ISCSI_PARAM_OK;
}

int iscsi_param_declare_target(struct iscsi_negotiation *n, const char *target_alias, uint16_t tpgt,
			       struct iscsi_text *out)
{
	uint64_t alias_bit = UINT64_C(1) << param_index("TargetAlias");
	uint64_t tpgt_bit = UINT64_C(1) << param_index("TargetPortalGroupTag");

	/* Discovery sessions have no target to describe (RFC 7143 13.6, 13.9). */
	if (n->session_type == ISCSI_SESSION_DISCOVERY)
		return ISCSI_PARAM_OK;
	if (target_alias && *target_alias && !(n->declared & alias_bit)) {
		if (iscsi_text_add(out, "TargetAlias", target_alias) != 0)
			return ISCSI_PARAM_ERR_RESOURCES;
		n->declared |= alias_bit;
	}
	if (!(n->declared & tpgt_bit)) {
		if (iscsi_text_addf(out, "TargetPortalGroupTag", "%u", (unsigned)tpgt) != 0)
			return ISCSI_PARAM_ERR_RESOURCES;
		n->declared |= tpgt_bit;
	}
	return ISCSI_PARAM_OK;
}

int iscsi_param_finish(struct iscsi_negotiation *n, const char *target_alias, uint16_t tpgt,
		       struct iscsi_text *out)
{
	uint64_t mrdsl_bit = UINT64_C(1) << param_index("MaxRecvDataSegmentLength");
	int rc;

	/* RFC 7143 13.12: we always declare what we receive, asked or not. */
	if (!(n->declared & mrdsl_bit)) {
		if (iscsi_text_addf(out, "MaxRecvDataSegmentLength", "%u", n->p.max_recv_dsl) != 0)
			return ISCSI_PARAM_ERR_RESOURCES;
		n->declared |= mrdsl_bit;
	}
	rc = iscsi_param_declare_target(n, target_alias, tpgt, out);
	if (rc != 0)
		return rc;
	clamp_first_burst(&n->p);
	return ISCSI_PARAM_OK;
}

size_t iscsi_param_table_size(void)
{
	return PARAM_COUNT;
}

const char *iscsi_param_table_name(size_t i, uint32_t *def, uint32_t *min, uint32_t *max, int *type)
{
	if (i >= PARAM_COUNT)
		return NULL;
	*def = param_table[i].def;
	*min = param_table[i].min;
	*max = param_table[i].max;
	*type = (int)param_table[i].type;
	return param_table[i].name;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tandem.conf schema: maps the generic section/key tree onto struct tconf
 * and validates every value, reporting the first problem as "file:line: what". */
#include "config/config_int.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sctx {
	struct cfg_err *err;
	struct tconf *c;
	int global_line;                    /* first `global` section, 0 = none */
	int dchap_line;                     /* first `discovery_chap` section */
	struct tconf_target *target;        /* target being filled (for lun/chap) */
	int chap_line;                      /* `chap` inside the current target */
};

enum key_kind { K_INT, K_SIZE_INT, K_SIZE_U32, K_SIZE_U64, K_BOOL, K_STR, K_ENUM, K_CUSTOM };

struct key_desc;
typedef int (*key_fn)(struct sctx *s, const struct cfg_node *n, void *obj);
typedef int (*str_check_fn)(struct sctx *s, const struct cfg_node *n);

struct key_desc {
	const char *name;
	enum key_kind kind;
	size_t off;
	int64_t min, max;                   /* K_INT / K_SIZE_* range */
	size_t minlen, bufsize;             /* K_STR: length bounds (bufsize includes NUL) */
	str_check_fn check;                 /* K_STR extra syntax check */
	const char *const *names;           /* K_ENUM: value names, index = enum value */
	key_fn fn;                          /* K_CUSTOM */
	bool multi;                         /* may appear more than once */
	bool required;
};

struct section_desc;
typedef int (*section_fn)(struct sctx *s, const struct cfg_node *n, void *parent);

struct sub_desc {
	const char *name;
	section_fn fn;
};

struct section_desc {
	const char *name;
	const struct key_desc *keys;
	size_t nkeys;
	const struct sub_desc *subs;
	size_t nsubs;
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CFG_MAX_KEYS 32

_Static_assert(sizeof(enum tconf_backend) == sizeof(int), "enum size");
_Static_assert(sizeof(enum tconf_cache) == sizeof(int), "enum size");

/* ---- value parsers ---------------------------------------------------- */

static int parse_int(struct sctx *s, const struct cfg_node *n, int64_t min, int64_t max, int64_t *out)
{
	const char *v = n->value;
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)v[0]) && !(v[0] == '-' && isdigit((unsigned char)v[1])))
		goto bad;
	long long x = strtoll(v, &end, 10);
	if (*end != '\0')
		goto bad;
	if (errno == ERANGE || x < min || x > max)
		return cfg_error(s->err, n->line, "value %s for '%s' is out of range (%" PRId64 "..%" PRId64 ")",
				 v, n->name, min, max);
	*out = x;
	return 0;
bad:
	return cfg_error(s->err, n->line, "invalid value '%s' for '%s': expected an integer", v, n->name);
}

/* Sizes: a decimal number with an optional binary suffix K, M, G, T
 * (also written KB/KiB ...). */
static int parse_size(struct sctx *s, const struct cfg_node *n, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *v = n->value;
	char *end;
	if (!isdigit((unsigned char)v[0]))
		goto bad;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno == ERANGE)
		goto range;
	unsigned shift = 0;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default: goto bad;
		}
		end++;
		if (strcmp(end, "") != 0 && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0 &&
		    strcmp(end, "b") != 0 && strcmp(end, "ib") != 0)
			goto bad;
	}
	if (shift && x > (UINT64_MAX >> shift))
		goto range;
	x <<= shift;
	if (x < min || x > max)
		goto range;
	*out = x;
	return 0;
range:
	return cfg_error(s->err, n->line, "size %s for '%s' is out of range (%" PRIu64 "..%" PRIu64 " bytes)",
			 v, n->name, min, max);
bad:
	return cfg_error(s->err, n->line,
			 "invalid size '%s' for '%s': expected a number with optional suffix K, M, G or T", v,
			 n->name);
}

static int parse_bool(struct sctx *s, const struct cfg_node *n, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(n->value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(n->value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return cfg_error(s->err, n->line, "invalid value '%s' for '%s': expected yes or no", n->value, n->name);
}

static int check_printable_ascii(struct sctx *s, const struct cfg_node *n)
{
	for (const unsigned char *p = (const unsigned char *)n->value; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return cfg_error(s->err, n->line, "'%s' must be printable ASCII", n->name);
	return 0;
}

static int check_service_name(struct sctx *s, const struct cfg_node *n)
{
	for (const char *p = n->value; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return cfg_error(s->err, n->line,
					 "invalid character '%c' in '%s' (letters, digits, '-', '_', '.')", *p,
					 n->name);
	return 0;
}

/* A kernel congestion-control name (TCP_CA_NAME_MAX 16): lower case letters,
 * digits, '_'. Whether the kernel has it is only known when the link is up. */
static int check_cc_name(struct sctx *s, const struct cfg_node *n)
{
	for (const char *p = n->value; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
			return cfg_error(s->err, n->line,
					 "invalid character '%c' in '%s' (a congestion control name such as cubic, "
					 "reno, bbr, dctcp, or system)", *p, n->name);
	return 0;
}

static int check_abs_path(struct sctx *s, const struct cfg_node *n)
{
	if (n->value[0] != '/')
		return cfg_error(s->err, n->line, "'%s' must be an absolute path: '%s'", n->name, n->value);
	return 0;
}

static int check_no_space(struct sctx *s, const struct cfg_node *n)
{
	for (const char *p = n->value; *p; p++)
		if (isspace((unsigned char)*p))
			return cfg_error(s->err, n->line, "'%s' must not contain spaces", n->name);
	return 0;
}

static bool is_hex(char c)
{
	return isxdigit((unsigned char)c) != 0;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

/* iSCSI name syntax (RFC 7143 section 4.2.7 / RFC 3720 3.2.6): NULL if good,
 * else a reason. */
static const char *iscsi_name_problem(const char *name)
{
	size_t len = strlen(name);
	if (len == 0)
		return "empty name";
	if (len > TCONF_NAME_MAX - 1)
		return "longer than 223 bytes";
	if (strncasecmp(name, "eui.", 4) == 0 || strncasecmp(name, "naa.", 4) == 0) {
		if (strncmp(name, "eui.", 4) != 0 && strncmp(name, "naa.", 4) != 0)
			return "type prefix must be lowercase";
		size_t h = len - 4;
		for (size_t i = 4; i < len; i++)
			if (!is_hex(name[i]))
				return "expected hexadecimal digits after the type prefix";
		if (name[0] == 'e' && h != 16)
			return "an eui. name has exactly 16 hex digits";
		if (name[0] == 'n' && h != 16 && h != 32)
			return "a naa. name has 16 or 32 hex digits";
		return NULL;
	}
	if (strncasecmp(name, "iqn.", 4) != 0)
		return "must start with iqn., eui. or naa.";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (isupper(*p))
			return "must be lowercase";
		if (!(islower(*p) || isdigit(*p) || *p == '-' || *p == '.' || *p == ':' || *p >= 0x80))
			return "invalid character (allowed: a-z 0-9 - . :)";
	}
	const char *p = name + 4;
	for (int i = 0; i < 7; i++)
		if (i == 4 ? p[i] != '-' : !isdigit((unsigned char)p[i]))
			return "expected iqn.yyyy-mm.reverse.domain";
	int month = (p[5] - '0') * 10 + (p[6] - '0');
	if (month < 1 || month > 12)
		return "invalid month in iqn.yyyy-mm";
	p += 7;
	if (*p != '.')
		return "expected iqn.yyyy-mm.reverse.domain";
	p++;
	/* naming authority: dot separated labels up to ':' or end */
	size_t label = 0;
	for (; *p && *p != ':'; p++) {
		if (*p == '.') {
			if (label == 0)
				return "empty label in naming authority";
			label = 0;
		} else {
			label++;
		}
	}
	if (label == 0)
		return "missing or malformed naming authority (reverse domain name)";
	if (*p == ':' && p[1] == '\0')
		return "empty string after ':'";
	return NULL;
}

/* ---- generic section walker ------------------------------------------- */

static int apply_key(struct sctx *s, const struct key_desc *k, const struct cfg_node *n, void *obj)
{
	char *field = (char *)obj + k->off;
	int64_t i64 = 0;
	uint64_t u64 = 0;
	bool b = false;
	switch (k->kind) {
	case K_INT:
		if (parse_int(s, n, k->min, k->max, &i64) < 0)
			return -1;
		*(int *)(void *)field = (int)i64;
		return 0;
	case K_SIZE_INT:
	case K_SIZE_U32:
	case K_SIZE_U64:
		if (parse_size(s, n, (uint64_t)k->min, (uint64_t)k->max, &u64) < 0)
			return -1;
		if (k->kind == K_SIZE_INT)
			*(int *)(void *)field = (int)u64;
		else if (k->kind == K_SIZE_U32)
			*(uint32_t *)(void *)field = (uint32_t)u64;
		else
			*(uint64_t *)(void *)field = u64;
		return 0;
	case K_BOOL:
		if (parse_bool(s, n, &b) < 0)
			return -1;
		*(bool *)(void *)field = b;
		return 0;
	case K_STR: {
		size_t len = strlen(n->value);
		if (len + 1 > k->bufsize)
			return cfg_error(s->err, n->line, "'%s' is too long (%zu characters, at most %zu)", n->name,
					 len, k->bufsize - 1);
		if (len < k->minlen)
			return cfg_error(s->err, n->line, "'%s' is too short (%zu characters, at least %zu)",
					 n->name, len, k->minlen);
		if (k->check && k->check(s, n) < 0)
			return -1;
		memcpy(field, n->value, len + 1);
		return 0;
	}
	case K_ENUM: {
		size_t cnt = 0;
		for (int v = 0; k->names[v]; v++, cnt++)
			if (strcmp(k->names[v], n->value) == 0) {
				*(int *)(void *)field = v;
				return 0;
			}
		char list[256] = "";
		for (size_t v = 0; v < cnt; v++) {
			strncat(list, v ? ", " : "", sizeof(list) - strlen(list) - 1);
			strncat(list, k->names[v], sizeof(list) - strlen(list) - 1);
		}
		return cfg_error(s->err, n->line, "invalid value '%s' for '%s' (expected one of: %s)", n->value,
				 n->name, list);
	}
	case K_CUSTOM:
		return k->fn(s, n, obj);
	}
	return -1;
}

static const char *section_label(const struct section_desc *d)
{
	return d->name;
}

static int apply_section(struct sctx *s, const struct cfg_node *sec, const struct section_desc *d, void *obj)
{
	int seen[CFG_MAX_KEYS] = { 0 };
	for (const struct cfg_node *n = sec->child; n; n = n->next) {
		if (n->section) {
			const struct sub_desc *sub = NULL;
			for (size_t i = 0; i < d->nsubs; i++)
				if (strcmp(d->subs[i].name, n->name) == 0)
					sub = &d->subs[i];
			if (!sub) {
				for (size_t i = 0; i < d->nkeys; i++)
					if (strcmp(d->keys[i].name, n->name) == 0)
						return cfg_error(s->err, n->line, "'%s' is a key, not a section (write '%s: value')",
								 n->name, n->name);
				if (d->name)
					return cfg_error(s->err, n->line, "unknown section '%s' in section '%s'", n->name,
							 section_label(d));
				return cfg_error(s->err, n->line, "unknown section '%s'", n->name);
			}
			if (sub->fn(s, n, obj) < 0)
				return -1;
			continue;
		}
		size_t ki;
		for (ki = 0; ki < d->nkeys; ki++)
			if (strcmp(d->keys[ki].name, n->name) == 0)
				break;
		if (ki == d->nkeys) {
			for (size_t i = 0; i < d->nsubs; i++)
				if (strcmp(d->subs[i].name, n->name) == 0)
					return cfg_error(s->err, n->line, "'%s' is a section, not a key (write '%s { ... }')",
							 n->name, n->name);
			if (d->name)
				return cfg_error(s->err, n->line, "unknown key '%s' in section '%s'", n->name,
						 section_label(d));
			return cfg_error(s->err, n->line, "unknown key '%s' outside of any section", n->name);
		}
		const struct key_desc *k = &d->keys[ki];
		if (seen[ki] && !k->multi)
			return cfg_error(s->err, n->line, "duplicate key '%s' in section '%s' (first at line %d)", n->name,
					 section_label(d), seen[ki]);
		if (!seen[ki])
			seen[ki] = n->line;
		if (apply_key(s, k, n, obj) < 0)
			return -1;
	}
	for (size_t ki = 0; ki < d->nkeys; ki++)
		if (d->keys[ki].required && !seen[ki])
			return cfg_error(s->err, sec->line, "missing required key '%s' in section '%s'",
					 d->keys[ki].name, section_label(d));
	return 0;
}

static int no_arg(struct sctx *s, const struct cfg_node *n)
{
	if (n->arg)
		return cfg_error(s->err, n->line, "section '%s' takes no argument (found '%s')", n->name, n->arg);
	return 0;
}

static int push_str(struct sctx *s, int line, char ***v, size_t *n, const char *str)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return cfg_error(s->err, line, "out of memory");
	*v = nv;
	if (!(nv[*n] = strdup(str)))
		return cfg_error(s->err, line, "out of memory");
	(*n)++;
	return 0;
}

/* ---- chap ---------------------------------------------------------------- */

static const struct key_desc chap_keys[] = {
	{ .name = "user", .kind = K_STR, .off = offsetof(struct tconf_chap, user), .minlen = 1,
	  .bufsize = sizeof(((struct tconf_chap *)0)->user), .required = true },
	{ .name = "secret", .kind = K_STR, .off = offsetof(struct tconf_chap, secret), .minlen = 12,
	  .bufsize = sizeof(((struct tconf_chap *)0)->secret), .required = true },
	{ .name = "mutual_user", .kind = K_STR, .off = offsetof(struct tconf_chap, mutual_user), .minlen = 1,
	  .bufsize = sizeof(((struct tconf_chap *)0)->mutual_user) },
	{ .name = "mutual_secret", .kind = K_STR, .off = offsetof(struct tconf_chap, mutual_secret), .minlen = 12,
	  .bufsize = sizeof(((struct tconf_chap *)0)->mutual_secret) },
};

static int apply_chap(struct sctx *s, const struct cfg_node *n, const char *label, struct tconf_chap *ch)
{
	const struct section_desc d = { .name = label, .keys = chap_keys, .nkeys = ARRAY_SIZE(chap_keys) };
	if (no_arg(s, n) < 0 || apply_section(s, n, &d, ch) < 0)
		return -1;
	if (!ch->mutual_user[0] != !ch->mutual_secret[0])
		return cfg_error(s->err, n->line, "section '%s': mutual_user and mutual_secret must be given together",
				 label);
	if (ch->mutual_secret[0] && strcmp(ch->mutual_secret, ch->secret) == 0)
		return cfg_error(s->err, n->line, "section '%s': mutual_secret must differ from secret", label);
	return 0;
}

static int sec_discovery_chap(struct sctx *s, const struct cfg_node *n, void *obj)
{
	if (s->dchap_line)
		return cfg_error(s->err, n->line, "duplicate section 'discovery_chap' (first at line %d)",
				 s->dchap_line);
	s->dchap_line = n->line;
	s->c->global.discovery_chap = true;
	return apply_chap(s, n, "discovery_chap", &s->c->global.discovery_chap_cred);
}

static int sec_target_chap(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_target *t = obj;
	if (s->chap_line)
		return cfg_error(s->err, n->line, "duplicate section 'chap' (first at line %d)", s->chap_line);
	s->chap_line = n->line;
	t->chap_enabled = true;
	return apply_chap(s, n, "chap", &t->chap);
}

/* ---- global ---------------------------------------------------------- */

static int key_log_level(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_global *g = obj;
	int l = tlog_level_from_name(n->value);
	if (l < 0)
		return cfg_error(s->err, n->line,
				 "invalid log_level '%s' (expected error, warning, notice, info, debug or trace)",
				 n->value);
	g->log_level = l;
	return 0;
}

#define G_INT(nm, field, lo, hi) \
	{ .name = nm, .kind = K_INT, .off = offsetof(struct tconf_global, field), .min = lo, .max = hi }
#define G_SIZE(nm, kd, field, lo, hi) \
	{ .name = nm, .kind = kd, .off = offsetof(struct tconf_global, field), .min = lo, .max = hi }

static const char *const alua_explicit_names[] = {
	[TCONF_ALUA_EXPLICIT_AUTO] = "auto", [TCONF_ALUA_EXPLICIT_YES] = "yes", [TCONF_ALUA_EXPLICIT_NO] = "no", NULL,
};

/* An enum key that also records its line: "yes" is checked against the
 * cluster section once the file is read (alua_conf.c, cfg_alua_resolve). */
static int key_alua_explicit(struct sctx *s, const struct cfg_node *n, void *obj)
{
	static const struct key_desc k = { .name = "alua_explicit", .kind = K_ENUM,
					   .off = offsetof(struct tconf_global, alua_explicit),
					   .names = alua_explicit_names };
	struct tconf_global *g = obj;

	if (apply_key(s, &k, n, obj) < 0)
		return -1;
	g->alua_explicit_line = n->line;
	return 0;
}

static const struct key_desc global_keys[] = {
	{ .name = "log_level", .kind = K_CUSTOM, .fn = key_log_level },
	{ .name = "alua_explicit", .kind = K_CUSTOM, .fn = key_alua_explicit },
	G_INT("threads", threads, 1, 64),
	{ .name = "ctl_socket", .kind = K_STR, .off = offsetof(struct tconf_global, ctl_socket), .minlen = 1,
	  .bufsize = sizeof(((struct tconf_global *)0)->ctl_socket), .check = check_service_name },
	{ .name = "state_dir", .kind = K_STR, .off = offsetof(struct tconf_global, state_dir), .minlen = 1,
	  .bufsize = sizeof(((struct tconf_global *)0)->state_dir), .check = check_abs_path },
	G_INT("nop_interval", nop_interval, 0, 3600),
	G_INT("nop_timeout", nop_timeout, 1, 3600),
	G_INT("login_timeout", login_timeout, 1, 3600),
	G_INT("max_sessions", max_sessions, 1, 4096),
	G_INT("max_connections_per_session", max_connections_per_session, 1, 64),
	G_INT("max_cmds_per_session", max_cmds_per_session, 1, 16384),
	/* RFC 7143: data segment and burst lengths are 512..2^24-1 */
	G_SIZE("max_recv_data_segment", K_SIZE_U32, max_recv_data_segment, 512, 16777215),
	G_SIZE("max_burst", K_SIZE_U32, max_burst, 512, 16777215),
	G_SIZE("first_burst", K_SIZE_U32, first_burst, 512, 16777215),
	G_SIZE("sndbuf", K_SIZE_INT, sndbuf, 0, 1 << 30),
	G_SIZE("rcvbuf", K_SIZE_INT, rcvbuf, 0, 1 << 30),
	G_INT("coalesce_us", coalesce_us, 0, 1000),
	G_INT("coalesce_depth", coalesce_depth, 1, 16384),
	/* resource limits (docs/HARDENING.md) */
	G_INT("max_connections", max_connections, 1, 65536),
	G_INT("max_pending_logins", max_pending_logins, 1, 65536),
	G_SIZE("max_conn_memory", K_SIZE_U32, max_conn_memory, 1u << 20, 4095u << 20),
	G_SIZE("max_tx_backlog", K_SIZE_U32, max_tx_backlog, 256u << 10, 1u << 30),
	G_SIZE("max_text_response", K_SIZE_U32, max_text_response, 8192, 16u << 20),
};

static const struct sub_desc global_subs[] = {
	{ .name = "discovery_chap", .fn = sec_discovery_chap },
};

static const struct section_desc global_desc = {
	.name = "global", .keys = global_keys, .nkeys = ARRAY_SIZE(global_keys),
	.subs = global_subs, .nsubs = ARRAY_SIZE(global_subs),
};

static int sec_global(struct sctx *s, const struct cfg_node *n, void *obj)
{
	if (s->global_line)
		return cfg_error(s->err, n->line, "duplicate section 'global' (first at line %d)", s->global_line);
	s->global_line = n->line;
	if (no_arg(s, n) < 0 || apply_section(s, n, &global_desc, &s->c->global) < 0)
		return -1;
	struct tconf_global *g = &s->c->global;
	if (g->first_burst > g->max_burst)
		return cfg_error(s->err, n->line, "first_burst (%u) must not exceed max_burst (%u)", g->first_burst,
				 g->max_burst);
	if (g->nop_interval > 0 && g->nop_timeout < 1)
		return cfg_error(s->err, n->line, "nop_timeout must be at least 1 when nop_interval is set");
	return 0;
}

/* ---- portal_group --------------------------------------------------------- */

/* "1.2.3.4[:port]", "[v6][:port]" or a bare IPv6 address. */
static int key_listen(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_portal_group *pg = obj;
	char host[64];
	const char *v = n->value, *port = NULL;
	int af;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (!close)
			return cfg_error(s->err, n->line, "listen address '%s': missing ']'", v);
		if ((size_t)(close - v - 1) >= sizeof(host))
			return cfg_error(s->err, n->line, "listen address '%s' is too long", v);
		memcpy(host, v + 1, (size_t)(close - v - 1));
		host[close - v - 1] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return cfg_error(s->err, n->line, "listen address '%s': expected ':port' after ']'", v);
		af = AF_INET6;
	} else {
		const char *colon = strchr(v, ':');
		if (colon && strchr(colon + 1, ':')) {
			/* several colons and no brackets: a bare IPv6 address */
			if (strlen(v) >= sizeof(host))
				return cfg_error(s->err, n->line, "listen address '%s' is too long", v);
			strcpy(host, v);
			af = AF_INET6;
		} else {
			size_t hl = colon ? (size_t)(colon - v) : strlen(v);
			if (hl >= sizeof(host))
				return cfg_error(s->err, n->line, "listen address '%s' is too long", v);
			memcpy(host, v, hl);
			host[hl] = '\0';
			if (colon)
				port = colon + 1;
			af = AF_INET;
		}
	}
	unsigned char bin[16];
	if (inet_pton(af, host, bin) != 1)
		return cfg_error(s->err, n->line,
				 "invalid listen address '%s' (expected numeric 1.2.3.4:3260 or [::1]:3260)", v);
	long p = 3260;
	if (port) {
		char *end;
		if (!isdigit((unsigned char)port[0]))
			return cfg_error(s->err, n->line, "invalid port in listen address '%s'", v);
		errno = 0;
		p = strtol(port, &end, 10);
		if (*end || errno || p < 1 || p > 65535)
			return cfg_error(s->err, n->line, "invalid port in listen address '%s' (1..65535)", v);
	}
	struct tconf_listen l = { .port = (uint16_t)p, .line = n->line };
	inet_ntop(af, bin, l.addr, sizeof(l.addr));
	/* the same address twice anywhere would fail to bind */
	for (size_t g = 0; g <= s->c->nportal_groups; g++) {
		const struct tconf_portal_group *o = g < s->c->nportal_groups ? &s->c->portal_groups[g] : pg;
		for (size_t i = 0; i < o->nlisten; i++)
			if (o->listen[i].port == l.port && strcmp(o->listen[i].addr, l.addr) == 0)
				return cfg_error(s->err, n->line, "duplicate listen address %s (first at line %d)", v,
						 o->listen[i].line);
	}
	struct tconf_listen *nl = realloc(pg->listen, (pg->nlisten + 1) * sizeof(*nl));
	if (!nl)
		return cfg_error(s->err, n->line, "out of memory");
	pg->listen = nl;
	nl[pg->nlisten++] = l;
	return 0;
}

static int key_tag(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_portal_group *pg = obj;
	int64_t v = 0;
	if (parse_int(s, n, 1, 65535, &v) < 0)
		return -1;
	pg->tag = (uint16_t)v;
	return 0;
}

static int key_pg_alua(struct sctx *s, const struct cfg_node *n, void *obj)
{
	return cfg_alua_pg_key(s->err, obj, n);     /* alua_conf.c */
}

static const struct key_desc pg_keys[] = {
	{ .name = "tag", .kind = K_CUSTOM, .fn = key_tag, .required = true },
	{ .name = "listen", .kind = K_CUSTOM, .fn = key_listen, .multi = true, .required = true },
	{ .name = "rel_port_id", .kind = K_CUSTOM, .fn = key_pg_alua },
	{ .name = "alua_group", .kind = K_CUSTOM, .fn = key_pg_alua },
};

static const struct section_desc pg_desc = {
	.name = "portal_group", .keys = pg_keys, .nkeys = ARRAY_SIZE(pg_keys),
};

static int check_simple_name(struct sctx *s, int line, const char *what, const char *name, size_t max)
{
	if (!name || !name[0])
		return cfg_error(s->err, line, "section '%s' needs a name (%s NAME { ... })", what, what);
	if (strlen(name) > max)
		return cfg_error(s->err, line, "%s name '%s' is too long (at most %zu characters)", what, name, max);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return cfg_error(s->err, line, "invalid character '%c' in %s name '%s'", *p, what, name);
	return 0;
}

static int sec_portal_group(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf *c = s->c;
	if (check_simple_name(s, n->line, "portal_group", n->arg, 63) < 0)
		return -1;
	for (size_t i = 0; i < c->nportal_groups; i++)
		if (strcmp(c->portal_groups[i].name, n->arg) == 0)
			return cfg_error(s->err, n->line, "duplicate portal_group '%s' (first at line %d)", n->arg,
					 c->portal_groups[i].line);
	struct tconf_portal_group pg = { .line = n->line };
	strcpy(pg.name, n->arg);
	if (apply_section(s, n, &pg_desc, &pg) < 0)
		goto fail;
	for (size_t i = 0; i < c->nportal_groups; i++)
		if (c->portal_groups[i].tag == pg.tag) {
			cfg_error(s->err, n->line,
				  "duplicate portal group tag %u (also used by portal_group '%s' at line %d)",
				  pg.tag, c->portal_groups[i].name, c->portal_groups[i].line);
			goto fail;
		}
	struct tconf_portal_group *np = realloc(c->portal_groups, (c->nportal_groups + 1) * sizeof(*np));
	if (!np) {
		cfg_error(s->err, n->line, "out of memory");
		goto fail;
	}
	c->portal_groups = np;
	np[c->nportal_groups++] = pg;
	return 0;
fail:
	free(pg.listen);
	return -1;
}

/* ---- lun ------------------------------------------------------------------ */

static const char *const backend_names[] = {
	[TCONF_BACKEND_BLOCKIO] = "blockio", [TCONF_BACKEND_FILEIO] = "fileio", [TCONF_BACKEND_NULL] = "null", NULL,
};
static const char *const cache_names[] = {
	[TCONF_CACHE_WRITE_THROUGH] = "write-through", [TCONF_CACHE_WRITE_BACK] = "write-back",
	[TCONF_CACHE_NV] = "nv-cache", NULL,
};

static int key_block_size(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_lun *l = obj;
	if (strcmp(n->value, "512") == 0)
		l->block_size = 512;
	else if (strcmp(n->value, "4096") == 0 || strcasecmp(n->value, "4K") == 0)
		l->block_size = 4096;
	else
		return cfg_error(s->err, n->line, "invalid block_size '%s' (expected 512 or 4096)", n->value);
	return 0;
}

/* NAA designator as hex: 16 digits (NAA 5) or 32 digits (NAA 6); "0x" or
 * "naa." prefix allowed. */
static int key_naa(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_lun *l = obj;
	const char *v = n->value;
	if (strncasecmp(v, "0x", 2) == 0 || strncasecmp(v, "naa.", 4) == 0)
		v += v[1] == 'x' || v[1] == 'X' ? 2 : 4;
	size_t len = strlen(v);
	for (size_t i = 0; i < len; i++)
		if (!is_hex(v[i]))
			return cfg_error(s->err, n->line, "invalid naa '%s': not a hexadecimal string", n->value);
	if (len == 16 && v[0] != '5')
		return cfg_error(s->err, n->line, "invalid naa '%s': a 16 digit naa must start with 5 (NAA 5)",
				 n->value);
	if (len == 32 && v[0] != '6')
		return cfg_error(s->err, n->line, "invalid naa '%s': a 32 digit naa must start with 6 (NAA 6)",
				 n->value);
	if (len != 16 && len != 32)
		return cfg_error(s->err, n->line, "invalid naa '%s': expected 16 (NAA 5) or 32 (NAA 6) hex digits",
				 n->value);
	for (size_t i = 0; i < len / 2; i++)
		l->naa[i] = (uint8_t)(hexval(v[2 * i]) << 4 | hexval(v[2 * i + 1]));
	l->naa_len = (uint8_t)(len / 2);
	return 0;
}

static int key_rotation_rate(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_lun *l = obj;
	int64_t v = 0;
	if (parse_int(s, n, 0, 65534, &v) < 0)
		return -1;
	if (v > 1 && v < 1025)
		return cfg_error(s->err, n->line,
				 "invalid rotation_rate %s (0 = not reported, 1 = non-rotating, 1025..65534 rpm)",
				 n->value);
	l->rotation_rate = (int)v;
	return 0;
}

#define L_STR(nm, field, lo, chk) \
	{ .name = nm, .kind = K_STR, .off = offsetof(struct tconf_lun, field), .minlen = lo, \
	  .bufsize = sizeof(((struct tconf_lun *)0)->field), .check = chk }

static const struct key_desc lun_keys[] = {
	{ .name = "backend", .kind = K_ENUM, .off = offsetof(struct tconf_lun, backend), .names = backend_names },
	L_STR("path", path, 1, check_abs_path),
	{ .name = "size", .kind = K_SIZE_U64, .off = offsetof(struct tconf_lun, size), .min = 0,
	  .max = INT64_MAX },
	{ .name = "create", .kind = K_BOOL, .off = offsetof(struct tconf_lun, create) },
	{ .name = "block_size", .kind = K_CUSTOM, .fn = key_block_size },
	{ .name = "cache", .kind = K_ENUM, .off = offsetof(struct tconf_lun, cache), .names = cache_names },
	{ .name = "readonly", .kind = K_BOOL, .off = offsetof(struct tconf_lun, readonly) },
	L_STR("serial", serial, 1, check_printable_ascii),
	{ .name = "naa", .kind = K_CUSTOM, .fn = key_naa },
	L_STR("vendor", vendor, 1, check_printable_ascii),
	L_STR("product", product, 1, check_printable_ascii),
	L_STR("revision", revision, 1, check_printable_ascii),
	{ .name = "rotation_rate", .kind = K_CUSTOM, .fn = key_rotation_rate },
	{ .name = "replicated", .kind = K_BOOL, .off = offsetof(struct tconf_lun, replicated) },
	L_STR("meta", meta, 1, check_abs_path),
};

static const struct section_desc lun_desc = {
	.name = "lun", .keys = lun_keys, .nkeys = ARRAY_SIZE(lun_keys),
};

static int lun_finish(struct sctx *s, const struct cfg_node *n, const struct tconf_lun *l)
{
	if (l->backend == TCONF_BACKEND_NULL) {
		if (l->path[0])
			return cfg_error(s->err, n->line, "lun %u: 'path' is not used by the null backend", l->lun);
		if (l->size == 0)
			return cfg_error(s->err, n->line, "lun %u: the null backend needs 'size'", l->lun);
		if (l->create)
			return cfg_error(s->err, n->line, "lun %u: 'create' is not used by the null backend", l->lun);
	} else if (!l->path[0]) {
		return cfg_error(s->err, n->line, "missing required key 'path' in section 'lun' (lun %u)", l->lun);
	}
	if (l->create && l->size == 0)
		return cfg_error(s->err, n->line, "lun %u: 'create: yes' needs 'size'", l->lun);
	/* nv-cache declares the backing store's own cache non-volatile and drops
	 * every flush; fileio's writes wait in the host's page cache, which no
	 * battery protects: acknowledged writes would be lost with the host */
	if (l->cache == TCONF_CACHE_NV && l->backend == TCONF_BACKEND_FILEIO)
		return cfg_error(s->err, n->line, "lun %u: 'cache: nv-cache' needs a backend that writes past the host's "
				 "page cache (blockio); fileio would lose acknowledged writes with the host: use "
				 "write-back", l->lun);
	if (l->size % l->block_size)
		return cfg_error(s->err, n->line, "lun %u: size %" PRIu64 " is not a multiple of block_size %u",
				 l->lun, l->size, l->block_size);
	return 0;
}

static int sec_lun(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_target *t = obj;
	const char *a = n->arg;
	if (!a)
		return cfg_error(s->err, n->line, "section 'lun' needs a LUN number (lun 0 { ... })");
	char *end;
	errno = 0;
	unsigned long v = isdigit((unsigned char)a[0]) ? strtoul(a, &end, 10) : 0;
	if (!isdigit((unsigned char)a[0]) || *end || errno || v > 16383)
		return cfg_error(s->err, n->line, "invalid lun number '%s' (0..16383)", a);
	for (size_t i = 0; i < t->nluns; i++)
		if (t->luns[i].lun == v)
			return cfg_error(s->err, n->line, "duplicate lun %lu in target '%s' (first at line %d)", v,
					 t->name, t->luns[i].line);
	if (t->nluns >= TCONF_MAX_LUNS)
		return cfg_error(s->err, n->line, "too many luns in target '%s' (at most %d)", t->name,
				 TCONF_MAX_LUNS);
	struct tconf_lun *nl = realloc(t->luns, (t->nluns + 1) * sizeof(*nl));
	if (!nl)
		return cfg_error(s->err, n->line, "out of memory");
	t->luns = nl;
	struct tconf_lun *l = &nl[t->nluns++];
	cfg_lun_defaults(l);
	l->lun = (uint32_t)v;
	l->line = n->line;
	if (apply_section(s, n, &lun_desc, l) < 0)
		return -1;
	return lun_finish(s, n, l);
}

/* ---- target --------------------------------------------------------------- */

static int key_target_pg(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_target *t = obj;
	if (!tconf_find_portal_group(s->c, n->value))
		return cfg_error(s->err, n->line, "target '%s' refers to unknown portal_group '%s'", t->name,
				 n->value);
	for (size_t i = 0; i < t->nportal_groups; i++)
		if (strcmp(t->portal_groups[i], n->value) == 0)
			return cfg_error(s->err, n->line, "duplicate portal_group '%s' in target '%s'", n->value,
					 t->name);
	return push_str(s, n->line, &t->portal_groups, &t->nportal_groups, n->value);
}

static int check_pattern(struct sctx *s, const struct cfg_node *n)
{
	if (strlen(n->value) >= TCONF_NAME_MAX)
		return cfg_error(s->err, n->line, "'%s' pattern is too long (at most %d characters)", n->name,
				 TCONF_NAME_MAX - 1);
	if (n->value[0] == '\0')
		return cfg_error(s->err, n->line, "empty '%s' pattern", n->name);
	return check_no_space(s, n);
}

static int key_allow(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_target *t = obj;
	if (check_pattern(s, n) < 0)
		return -1;
	return push_str(s, n->line, &t->allow, &t->nallow, n->value);
}

static int key_deny(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_target *t = obj;
	if (check_pattern(s, n) < 0)
		return -1;
	return push_str(s, n->line, &t->deny, &t->ndeny, n->value);
}

static const struct key_desc target_keys[] = {
	{ .name = "alias", .kind = K_STR, .off = offsetof(struct tconf_target, alias), .minlen = 0,
	  .bufsize = sizeof(((struct tconf_target *)0)->alias) },
	{ .name = "portal_group", .kind = K_CUSTOM, .fn = key_target_pg, .multi = true },
	{ .name = "allow", .kind = K_CUSTOM, .fn = key_allow, .multi = true },
	{ .name = "deny", .kind = K_CUSTOM, .fn = key_deny, .multi = true },
};

static const struct sub_desc target_subs[] = {
	{ .name = "chap", .fn = sec_target_chap },
	{ .name = "lun", .fn = sec_lun },
};

static const struct section_desc target_desc = {
	.name = "target", .keys = target_keys, .nkeys = ARRAY_SIZE(target_keys),
	.subs = target_subs, .nsubs = ARRAY_SIZE(target_subs),
};

static int sec_target(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf *c = s->c;
	if (!n->arg)
		return cfg_error(s->err, n->line, "section 'target' needs a name (target iqn.yyyy-mm.domain:id { ... })");
	const char *why = iscsi_name_problem(n->arg);
	if (why)
		return cfg_error(s->err, n->line, "invalid target name '%s': %s", n->arg, why);
	for (size_t i = 0; i < c->ntargets; i++)
		if (strcasecmp(c->targets[i].name, n->arg) == 0)
			return cfg_error(s->err, n->line, "duplicate target '%s' (first at line %d)", n->arg,
					 c->targets[i].line);
	struct tconf_target *nt = realloc(c->targets, (c->ntargets + 1) * sizeof(*nt));
	if (!nt)
		return cfg_error(s->err, n->line, "out of memory");
	c->targets = nt;
	struct tconf_target *t = &nt[c->ntargets++];
	memset(t, 0, sizeof(*t));
	strcpy(t->name, n->arg);
	t->line = n->line;
	s->chap_line = 0;
	if (apply_section(s, n, &target_desc, t) < 0)
		return -1;
	if (t->nluns == 0)
		return cfg_error(s->err, n->line, "target '%s' has no lun section", t->name);
	for (size_t i = 0; i < t->nluns; i++) {
		struct tconf_lun *l = &t->luns[i];
		if (!l->serial[0]) {
			cfg_default_serial(t->name, t->alias, l->lun, l->serial);
			l->serial_derived = true;
		}
		if (!l->naa_len)
			cfg_default_naa(t->name, l->lun, l->naa, &l->naa_len);
	}
	return 0;
}

/* Device identities must be unique across the whole configuration. */
static int check_identities(struct sctx *s)
{
	struct tconf *c = s->c;
	for (size_t ti = 0; ti < c->ntargets; ti++)
		for (size_t li = 0; li < c->targets[ti].nluns; li++) {
			const struct tconf_lun *a = &c->targets[ti].luns[li];
			for (size_t tj = 0; tj <= ti; tj++)
				for (size_t lj = 0; lj < (tj == ti ? li : c->targets[tj].nluns); lj++) {
					const struct tconf_lun *b = &c->targets[tj].luns[lj];
					const char *o = c->targets[tj].name;
					if (strcmp(a->serial, b->serial) == 0)
						return cfg_error(s->err, a->line,
								 "duplicate serial '%s' (also lun %u of target '%s' at line %d)%s",
								 a->serial, b->lun, o, b->line,
								 a->serial_derived || b->serial_derived ?
								 ": a LUN without 'serial:' takes 'tandem-ALIAS-LUN' from its "
								 "target's alias; give one of them an explicit serial "
								 "(the same on both nodes)" : "");
					if (a->naa_len == b->naa_len && memcmp(a->naa, b->naa, a->naa_len) == 0)
						return cfg_error(s->err, a->line,
								 "duplicate naa (also lun %u of target '%s' at line %d)",
								 b->lun, o, b->line);
				}
		}
	return 0;
}

/* ---- cluster (docs/CLUSTER.md) -------------------------------------------- */

static const char *const cluster_manager_names[] = {
	[TCONF_CLUSTER_BUILTIN] = "builtin", [TCONF_CLUSTER_PACEMAKER] = "pacemaker", [TCONF_CLUSTER_NONE] = "none", NULL,
};
static const char *const cluster_fencing_names[] = {
	[TCONF_FENCING_QDEVICE] = "qdevice", [TCONF_FENCING_COMMAND] = "command", [TCONF_FENCING_NONE] = "none", NULL,
};

/* "A.B.C.D/P" (IPv4 only: gratuitous ARP and tickle ACKs are IPv4). */
static int key_floating_ip(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_cluster *cl = obj;
	const char *slash = strchr(n->value, '/');
	char host[16];
	struct in_addr a;
	char *end;
	if (!slash || (size_t)(slash - n->value) >= sizeof(host))
		return cfg_error(s->err, n->line, "invalid floating_ip '%s' (expected A.B.C.D/PREFIX, e.g. 192.0.2.100/24)",
				 n->value);
	memcpy(host, n->value, (size_t)(slash - n->value));
	host[slash - n->value] = '\0';
	errno = 0;
	long p = isdigit((unsigned char)slash[1]) ? strtol(slash + 1, &end, 10) : -1;
	if (inet_pton(AF_INET, host, &a) != 1 || p < 1 || p > 32 || *end || errno)
		return cfg_error(s->err, n->line, "invalid floating_ip '%s' (expected A.B.C.D/PREFIX, e.g. 192.0.2.100/24)",
				 n->value);
	if (strlen(n->value) >= sizeof(cl->floating_ip))
		return cfg_error(s->err, n->line, "floating_ip '%s' is too long", n->value);
	strcpy(cl->floating_ip, n->value);
	inet_ntop(AF_INET, &a, cl->floating_addr, sizeof(cl->floating_addr));
	cl->floating_prefix = (uint8_t)p;
	return 0;
}

static int check_cluster_name(struct sctx *s, const struct cfg_node *n)
{
	for (const char *p = n->value; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return cfg_error(s->err, n->line, "invalid character '%c' in '%s' (letters, digits, '-', '_', '.')",
					 *p, n->name);
	return 0;
}

#define CL_STR(nm, field, lo, chk) \
	{ .name = nm, .kind = K_STR, .off = offsetof(struct tconf_cluster, field), .minlen = lo, \
	  .bufsize = sizeof(((struct tconf_cluster *)0)->field), .check = chk }
#define CL_INT(nm, field, lo, hi) \
	{ .name = nm, .kind = K_INT, .off = offsetof(struct tconf_cluster, field), .min = lo, .max = hi }

static const struct key_desc cluster_keys[] = {
	{ .name = "manager", .kind = K_ENUM, .off = offsetof(struct tconf_cluster, manager),
	  .names = cluster_manager_names },
	CL_STR("node", node, 1, check_cluster_name),
	CL_STR("peer", peer, 1, check_cluster_name),
	CL_STR("cpg_group", cpg_group, 1, check_cluster_name),
	{ .name = "floating_ip", .kind = K_CUSTOM, .fn = key_floating_ip },
	CL_STR("interface", interface, 1, check_no_space),
	CL_STR("alua_group", alua_group, 1, check_cluster_name),
	{ .name = "fencing", .kind = K_ENUM, .off = offsetof(struct tconf_cluster, fencing),
	  .names = cluster_fencing_names },
	CL_STR("fence_command", fence_command, 1, NULL),
	CL_STR("outdate_peer_command", outdate_peer_command, 1, NULL),
	CL_INT("fence_timeout_ms", fence_timeout_ms, 100, 3600000),
	CL_INT("promote_delay_ms", promote_delay_ms, 0, 3600000),
	CL_INT("fence_delay_ms", fence_delay_ms, 0, 600000),
	CL_INT("arp_count", arp_count, 0, 100),
	CL_INT("arp_interval_ms", arp_interval_ms, 10, 10000),
	CL_INT("tickle_count", tickle_count, 0, 100),
	CL_INT("tickle_interval_ms", tickle_interval_ms, 10, 10000),
	CL_INT("reconnect_ms", reconnect_ms, 100, 600000),
	CL_INT("announce_ms", announce_ms, 100, 600000),
};

static const struct section_desc cluster_desc = {
	.name = "cluster", .keys = cluster_keys, .nkeys = ARRAY_SIZE(cluster_keys),
};

static int sec_cluster(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_cluster *cl = &s->c->cluster;
	if (cl->enabled)
		return cfg_error(s->err, n->line, "duplicate section 'cluster' (first at line %d)", cl->line);
	*cl = (struct tconf_cluster){
		.enabled = true, .line = n->line, .manager = TCONF_CLUSTER_BUILTIN, .cpg_group = "tandem",
		.fencing = TCONF_FENCING_QDEVICE, .fence_timeout_ms = 60000, .arp_count = 5, .arp_interval_ms = 200,
		.tickle_count = 4, .tickle_interval_ms = 250, .reconnect_ms = 1000, .announce_ms = 1000,
		.fence_delay_ms = 500,
	};
	if (no_arg(s, n) < 0 || apply_section(s, n, &cluster_desc, cl) < 0)
		return -1;
	if (!cl->node[0])
		return cfg_error(s->err, n->line, "missing required key 'node' in section 'cluster'");
	if (cl->peer[0] && strcmp(cl->peer, cl->node) == 0)
		return cfg_error(s->err, n->line, "section 'cluster': peer must differ from node ('%s')", cl->node);
	if (cl->manager == TCONF_CLUSTER_BUILTIN && !cl->floating_ip[0])
		return cfg_error(s->err, n->line, "section 'cluster': manager builtin needs 'floating_ip'");
	if (cl->floating_ip[0] && !cl->interface[0])
		return cfg_error(s->err, n->line, "section 'cluster': floating_ip needs 'interface'");
	if (cl->fencing == TCONF_FENCING_COMMAND && !cl->fence_command[0])
		return cfg_error(s->err, n->line, "section 'cluster': fencing command needs 'fence_command'");
	if (cl->fencing != TCONF_FENCING_COMMAND && cl->fence_command[0])
		return cfg_error(s->err, n->line, "section 'cluster': fence_command is only used with 'fencing: command'");
	if (cl->manager != TCONF_CLUSTER_PACEMAKER && cl->outdate_peer_command[0])
		return cfg_error(s->err, n->line, "section 'cluster': outdate_peer_command is only used with 'manager: "
				 "pacemaker' (the built-in manager asks the peer itself and fences with fence_command)");
	return 0;
}

/* After the ALUA groups are known: the cluster's group must be one of them. */
static int check_cluster_alua(struct sctx *s)
{
	const struct tconf_cluster *cl = &s->c->cluster;
	if (!cl->enabled || !cl->alua_group[0])
		return 0;
	if (!tconf_find_alua_group(s->c, cl->alua_group))
		return cfg_error(s->err, cl->line, "section 'cluster': unknown alua_group '%s'", cl->alua_group);
	return 0;
}

/* ---- replication (docs/REPLICATION.md) ----------------------------------- */

/* "1.2.3.4[:port]" or "[v6][:port]", default port 7790. */
static int key_repl_addr(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_replication *r = obj;
	struct tconf_listen *out = strcmp(n->name, "listen") == 0 ? &r->listen : &r->peer;
	const char *v = n->value, *port = NULL, *close;
	char host[64];
	unsigned char bin[16];
	int af = AF_INET;
	size_t hl;
	if (v[0] == '[') {
		close = strchr(v, ']');
		if (!close || (close[1] && close[1] != ':'))
			goto bad;
		hl = (size_t)(close - v - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, v + 1, hl);
		host[hl] = '\0';
		port = close[1] ? close + 2 : NULL;
		af = AF_INET6;
	} else {
		const char *colon = strchr(v, ':');
		if (colon && strchr(colon + 1, ':'))
			goto bad;           /* IPv6 needs brackets here */
		hl = colon ? (size_t)(colon - v) : strlen(v);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, v, hl);
		host[hl] = '\0';
		port = colon ? colon + 1 : NULL;
	}
	if (inet_pton(af, host, bin) != 1)
		goto bad;
	long p = 7790;
	if (port) {
		char *end;
		errno = 0;
		p = isdigit((unsigned char)port[0]) ? strtol(port, &end, 10) : -1;
		if (p < 1 || p > 65535 || *end || errno)
			return cfg_error(s->err, n->line, "invalid port in replication address '%s' (1..65535)", v);
	}
	inet_ntop(af, bin, out->addr, sizeof(out->addr));
	out->port = (uint16_t)p;
	out->line = n->line;
	return 0;
bad:
	return cfg_error(s->err, n->line,
			 "invalid replication address '%s' for '%s' (expected numeric 198.51.100.1:7790 or [2001:db8::1]:7790)",
			 v, n->name);
}

#define R_INT(nm, field, lo, hi) \
	{ .name = nm, .kind = K_INT, .off = offsetof(struct tconf_replication, field), .min = lo, .max = hi }

static const struct key_desc repl_keys[] = {
	{ .name = "node", .kind = K_STR, .off = offsetof(struct tconf_replication, node), .minlen = 1,
	  .bufsize = sizeof(((struct tconf_replication *)0)->node), .check = check_service_name, .required = true },
	{ .name = "peer_name", .kind = K_STR, .off = offsetof(struct tconf_replication, peer_name), .minlen = 1,
	  .bufsize = sizeof(((struct tconf_replication *)0)->peer_name), .check = check_service_name,
	  .required = true },
	{ .name = "listen", .kind = K_CUSTOM, .fn = key_repl_addr, .required = true },
	{ .name = "peer", .kind = K_CUSTOM, .fn = key_repl_addr, .required = true },
	{ .name = "secret", .kind = K_STR, .off = offsetof(struct tconf_replication, secret), .minlen = 16,
	  .bufsize = sizeof(((struct tconf_replication *)0)->secret), .required = true },
	{ .name = "resync_rate", .kind = K_SIZE_U64, .off = offsetof(struct tconf_replication, resync_rate),
	  .min = 64 << 10, .max = 1ll << 40 },
	{ .name = "resync_min_rate", .kind = K_SIZE_U64, .off = offsetof(struct tconf_replication, resync_min_rate),
	  .min = 0, .max = 1ll << 40 },
	R_INT("ping_interval_ms", ping_interval_ms, 50, 600000),
	R_INT("ping_timeout_ms", ping_timeout_ms, 50, 600000),
	R_INT("timeout_ms", timeout_ms, 100, 600000),
	R_INT("connect_retry_ms", connect_retry_ms, 50, 600000),
	{ .name = "tcp_congestion", .kind = K_STR, .off = offsetof(struct tconf_replication, tcp_congestion),
	  .minlen = 1, .bufsize = sizeof(((struct tconf_replication *)0)->tcp_congestion), .check = check_cc_name },
};

static const struct section_desc repl_desc = {
	.name = "replication", .keys = repl_keys, .nkeys = ARRAY_SIZE(repl_keys),
};

static int sec_replication(struct sctx *s, const struct cfg_node *n, void *obj)
{
	struct tconf_replication *r = &s->c->repl;
	if (r->enabled)
		return cfg_error(s->err, n->line, "duplicate section 'replication' (first at line %d)", r->line);
	*r = (struct tconf_replication){
		.enabled = true, .line = n->line, .resync_rate = 100ull << 20, .resync_min_rate = 250ull << 10,
		.ping_interval_ms = 1000, .ping_timeout_ms = 500, .timeout_ms = 6000, .connect_retry_ms = 1000,
		.tcp_congestion = "cubic",
	};
	if (no_arg(s, n) < 0 || apply_section(s, n, &repl_desc, r) < 0)
		return -1;
	if (strcmp(r->node, r->peer_name) == 0)
		return cfg_error(s->err, n->line, "section 'replication': peer_name must differ from node ('%s')", r->node);
	if (strcmp(r->listen.addr, r->peer.addr) == 0 && r->listen.port == r->peer.port)
		return cfg_error(s->err, r->peer.line, "section 'replication': peer %s:%u is this node's own listen address",
				 r->peer.addr, r->peer.port);
	if (r->ping_timeout_ms >= r->timeout_ms)
		return cfg_error(s->err, n->line, "section 'replication': ping_timeout_ms (%d) must be below timeout_ms (%d)",
				 r->ping_timeout_ms, r->timeout_ms);
	if (r->resync_min_rate > r->resync_rate)
		return cfg_error(s->err, n->line, "section 'replication': resync_min_rate exceeds resync_rate");
	return 0;
}

/* After the targets: replicated LUNs need the section; metadata paths default and differ. */
static int check_replication(struct sctx *s)
{
	struct tconf *c = s->c;
	for (size_t ti = 0; ti < c->ntargets; ti++)
		for (size_t li = 0; li < c->targets[ti].nluns; li++) {
			struct tconf_lun *l = &c->targets[ti].luns[li];
			if (!l->replicated) {
				if (l->meta[0])
					return cfg_error(s->err, l->line, "lun %u: 'meta' is only used with 'replicated: yes'",
							 l->lun);
				continue;
			}
			if (!c->repl.enabled)
				return cfg_error(s->err, l->line,
						 "lun %u of target '%s' is replicated but there is no replication section",
						 l->lun, c->targets[ti].name);
			if (!l->meta[0]) {
				char serial[65];
				snprintf(serial, sizeof(serial), "%s", l->serial);
				for (char *p = serial; *p; p++)
					if (*p == '/' || *p == ' ')
						*p = '_';
				if ((size_t)snprintf(l->meta, sizeof(l->meta), "%s/md/%s.md", c->global.state_dir, serial) >=
				    sizeof(l->meta))
					return cfg_error(s->err, l->line, "lun %u: metadata path too long", l->lun);
			}
			for (size_t tj = 0; tj <= ti; tj++)
				for (size_t lj = 0; lj < (tj == ti ? li : c->targets[tj].nluns); lj++) {
					const struct tconf_lun *o = &c->targets[tj].luns[lj];
					if (o->replicated && strcmp(o->meta, l->meta) == 0)
						return cfg_error(s->err, l->line, "lun %u: metadata %s is also used by lun %u at line %d",
								 l->lun, l->meta, o->lun, o->line);
				}
		}
	return 0;
}

/* ---- top level ------------------------------------------------------------- */

static int sec_skip(struct sctx *s, const struct cfg_node *n, void *obj)
{
	return 0;
}

static int sec_portal_group_top(struct sctx *s, const struct cfg_node *n, void *obj)
{
	return sec_portal_group(s, n, obj);
}

static int sec_discovery_chap_top(struct sctx *s, const struct cfg_node *n, void *obj)
{
	return sec_discovery_chap(s, n, obj);
}

static int sec_alua_group_top(struct sctx *s, const struct cfg_node *n, void *obj)
{
	return cfg_alua_section(s->err, s->c, n);   /* alua_conf.c */
}

static const struct sub_desc top_subs[] = {
	{ .name = "alua_group", .fn = sec_alua_group_top },
	{ .name = "cluster", .fn = sec_cluster },
	{ .name = "global", .fn = sec_global },
	{ .name = "discovery_chap", .fn = sec_discovery_chap_top },
	{ .name = "portal_group", .fn = sec_portal_group_top },
	{ .name = "replication", .fn = sec_replication },
	{ .name = "target", .fn = sec_skip },        /* second pass, once portal groups are known */
};

static const struct section_desc top_desc = {
	.name = NULL, .subs = top_subs, .nsubs = ARRAY_SIZE(top_subs),
};

struct tconf *cfg_schema_apply(const struct cfg_node *root, const char *name, struct cfg_err *err)
{
	struct tconf *c = calloc(1, sizeof(*c));
	if (!c) {
		cfg_error(err, 0, "out of memory");
		return NULL;
	}
	struct sctx s = { .err = err, .c = c };
	snprintf(c->path, sizeof(c->path), "%s", name);
	cfg_global_defaults(&c->global);
	if (apply_section(&s, root, &top_desc, c) < 0)
		goto fail;
	if (c->nportal_groups == 0 && cfg_add_default_portal_group(c) < 0) {
		cfg_error(err, 0, "out of memory");
		goto fail;
	}
	if (cfg_alua_resolve(err, c) < 0)
		goto fail;
	if (check_cluster_alua(&s) < 0)
		goto fail;
	for (const struct cfg_node *n = root->child; n; n = n->next)
		if (n->section && strcmp(n->name, "target") == 0 && sec_target(&s, n, c) < 0)
			goto fail;
	if (check_identities(&s) < 0)
		goto fail;
	if (check_replication(&s) < 0)
		goto fail;
	return c;
fail:
	tconf_free(c);
	return NULL;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The built-in defaults: the global settings every config starts from, the
 * per-LUN defaults, deterministic LUN identities and the embedded default config. */
#include "config/config_int.h"
#include "util/log.h"
#include "util/fnv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OUI-like constant placed in generated NAA 6 designators. Both nodes of a pair
 * derive the same value from the target name, so identities match. */
#define CFG_NAA_OUI 0x7a4d3eu

void cfg_global_defaults(struct tconf_global *g)
{
	long nproc = sysconf(_SC_NPROCESSORS_ONLN);
	memset(g, 0, sizeof(*g));
	*g = (struct tconf_global){
		.log_level = LOG_INFO,
		.threads = nproc < 1 ? 1 : nproc > 4 ? 4 : (int)nproc,
		.ctl_socket = "tandem",
		.state_dir = "/var/lib/tandem",
		.nop_interval = 5,
		.nop_timeout = 10,
		.login_timeout = 15,
		.max_sessions = 64,
		.max_connections_per_session = 4,
		.max_cmds_per_session = 128,
		.max_recv_data_segment = 1u << 20,
		.max_burst = 1u << 20,
		.first_burst = 256u << 10,
		.sndbuf = 4 << 20,
		.rcvbuf = 4 << 20,
		.coalesce_us = 30,
		.coalesce_depth = 16,
		.discovery_chap = false,
		.max_connections = 256,
		.max_pending_logins = 64,
		.max_conn_memory = 64u << 20,
		.max_tx_backlog = 4u << 20,
		.max_text_response = 1u << 20,
	};
}

void cfg_lun_defaults(struct tconf_lun *l)
{
	memset(l, 0, sizeof(*l));
	l->backend = TCONF_BACKEND_BLOCKIO;
	l->block_size = 512;
	l->cache = TCONF_CACHE_WRITE_THROUGH;
	strcpy(l->vendor, "TANDEM");
	strcpy(l->product, "tandem-disk");
	strcpy(l->revision, "0001");
}

static uint64_t cfg_hash(const char *target, uint32_t lun, uint64_t seed)
{
	unsigned char lb[4] = { (unsigned char)(lun >> 24), (unsigned char)(lun >> 16),
				(unsigned char)(lun >> 8), (unsigned char)lun };
	uint64_t h = fnv1a64(FNV1A64_INIT ^ seed, target, strlen(target));
	h = fnv1a64(h, lb, sizeof(lb));
	/* final avalanche (splitmix64) so neighbouring LUNs differ in many bits */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

void cfg_default_serial(const char *target, const char *alias, uint32_t lun, char out[65])
{
	bool simple = alias[0] != '\0' && strlen(alias) <= 40;
	for (const char *p = alias; simple && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			simple = false;
	if (simple)
		snprintf(out, 65, "tandem-%s-%u", alias, lun);
	else
		snprintf(out, 65, "tandem-%016llx-%u", (unsigned long long)cfg_hash(target, 0, 0), lun);
}

void cfg_default_naa(const char *target, uint32_t lun, uint8_t naa[16], uint8_t *naa_len)
{
	uint64_t a = cfg_hash(target, lun, 1), b = cfg_hash(target, lun, 2);
	/* NAA 6: 4-bit NAA, 24-bit OUI, 36-bit vendor id, 64-bit extension */
	naa[0] = (uint8_t)(0x60 | ((CFG_NAA_OUI >> 20) & 0x0f));
	naa[1] = (uint8_t)(CFG_NAA_OUI >> 12);
	naa[2] = (uint8_t)(CFG_NAA_OUI >> 4);
	naa[3] = (uint8_t)(((CFG_NAA_OUI & 0x0f) << 4) | ((a >> 32) & 0x0f));
	for (int i = 0; i < 4; i++)
		naa[4 + i] = (uint8_t)(a >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		naa[8 + i] = (uint8_t)(b >> (56 - 8 * i));
	*naa_len = 16;
}

int cfg_add_default_portal_group(struct tconf *c)
{
	struct tconf_portal_group *pg = calloc(1, sizeof(*pg));
	struct tconf_listen *l = calloc(1, sizeof(*l));
	if (!pg || !l) {
		free(pg);
		free(l);
		return -1;
	}
	strcpy(pg->name, "default");
	pg->tag = 1;
	pg->rel_port_id = 1;            /* ALUA: target port 1 of the implicit group 1 */
	pg->alua_group_id = 1;
	strcpy(l->addr, "127.0.0.1");
	l->port = 3260;
	pg->listen = l;
	pg->nlisten = 1;
	c->portal_groups = pg;
	c->nportal_groups = 1;
	return 0;
}

struct tconf *tconf_default(void)
{
	struct tconf *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	strcpy(c->path, "(embedded default)");
	cfg_global_defaults(&c->global);
	if (cfg_add_default_portal_group(c) < 0)
		goto fail;
	c->targets = calloc(1, sizeof(*c->targets));
	if (!c->targets)
		goto fail;
	c->ntargets = 1;
	struct tconf_target *t = &c->targets[0];
	strcpy(t->name, "iqn.2026-11.org.tandem:default");
	strcpy(t->alias, "default");
	t->luns = calloc(1, sizeof(*t->luns));
	if (!t->luns)
		goto fail;
	t->nluns = 1;
	struct tconf_lun *l = &t->luns[0];
	cfg_lun_defaults(l);
	l->lun = 0;
	l->backend = TCONF_BACKEND_BLOCKIO;
	strcpy(l->path, "/var/lib/tandem/lun0.img");
	l->size = 1ull << 30;
	l->create = true;
	cfg_default_serial(t->name, t->alias, 0, l->serial);
	cfg_default_naa(t->name, 0, l->naa, &l->naa_len);
	return c;
fail:
	tconf_free(c);
	return NULL;
}

static void cfg_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tconf_free(struct tconf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nportal_groups; i++)
		free(c->portal_groups[i].listen);
	free(c->portal_groups);
	explicit_bzero(&c->global.discovery_chap_cred, sizeof(c->global.discovery_chap_cred));
	explicit_bzero(c->repl.secret, sizeof(c->repl.secret));
	for (size_t i = 0; i < c->ntargets; i++) {
		struct tconf_target *t = &c->targets[i];
		explicit_bzero(&t->chap, sizeof(t->chap));   /* no secrets left in freed memory */
		cfg_free_strv(t->portal_groups, t->nportal_groups);
		cfg_free_strv(t->allow, t->nallow);
		cfg_free_strv(t->deny, t->ndeny);
		free(t->luns);
	}
	free(c->targets);
	cfg_alua_free(c);
	free(c);
}

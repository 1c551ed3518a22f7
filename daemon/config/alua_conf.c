/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ALUA part of tandem.conf (docs/ALUA.md), kept apart from schema.c so the
 * HA topology is read and checked in one place: `alua_group` sections, the
 * `alua_group:` and `rel_port_id:` keys of a portal group, and the cross checks
 * once the whole file is known. */
#include "config/config_int.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const alua_state_names[] = {
	[TCONF_ALUA_ACTIVE_OPTIMIZED] = "active-optimized",
	[TCONF_ALUA_ACTIVE_NONOPTIMIZED] = "active-nonoptimized",
	[TCONF_ALUA_STANDBY] = "standby",
	[TCONF_ALUA_UNAVAILABLE] = "unavailable",
	[TCONF_ALUA_TRANSITIONING] = "transitioning",
};

const char *tconf_alua_state_name(enum tconf_alua_state s)
{
	return (unsigned)s < sizeof(alua_state_names) / sizeof(alua_state_names[0]) ? alua_state_names[s] : "?";
}

static int parse_u16(struct cfg_err *e, const struct cfg_node *n, long min, uint16_t *out)
{
	const char *v = n->value;
	char *end;
	errno = 0;
	long x = isdigit((unsigned char)v[0]) ? strtol(v, &end, 10) : -1;
	if (x < 0 || *end || errno)
		return cfg_error(e, n->line, "invalid value '%s' for '%s': expected an integer", v, n->name);
	if (x < min || x > 65535)
		return cfg_error(e, n->line, "value %s for '%s' is out of range (%ld..65535)", v, n->name, min);
	*out = (uint16_t)x;
	return 0;
}

static int check_name(struct cfg_err *e, int line, const char *name)
{
	if (!name || !name[0])
		return cfg_error(e, line, "section 'alua_group' needs a name (alua_group NAME { ... })");
	if (strlen(name) > 63)
		return cfg_error(e, line, "alua_group name '%s' is too long (at most 63 characters)", name);
	if (isdigit((unsigned char)name[0]))
		return cfg_error(e, line, "alua_group name '%s' must not start with a digit (tandemctl takes ids too)",
				 name);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return cfg_error(e, line, "invalid character '%c' in alua_group name '%s'", *p, name);
	return 0;
}

/* alua_group NAME { id: N  state: S  peer_port: P ... } */
int cfg_alua_section(struct cfg_err *e, struct tconf *c, const struct cfg_node *sec)
{
	struct tconf_alua_group g = { .line = sec->line, .state = TCONF_ALUA_ACTIVE_OPTIMIZED };
	int id_line = 0, state_line = 0;

	if (check_name(e, sec->line, sec->arg) < 0)
		return -1;
	for (size_t i = 0; i < c->nalua_groups; i++)
		if (strcmp(c->alua_groups[i].name, sec->arg) == 0)
			return cfg_error(e, sec->line, "duplicate alua_group '%s' (first at line %d)", sec->arg,
					 c->alua_groups[i].line);
	snprintf(g.name, sizeof(g.name), "%s", sec->arg);
	for (const struct cfg_node *n = sec->child; n; n = n->next) {
		if (n->section) {
			cfg_error(e, n->line, "unknown section '%s' in section 'alua_group'", n->name);
			goto fail;
		}
		if (strcmp(n->name, "id") == 0) {
			if (id_line) {
				cfg_error(e, n->line, "duplicate key 'id' in section 'alua_group' (first at line %d)", id_line);
				goto fail;
			}
			id_line = n->line;
			if (parse_u16(e, n, 1, &g.id) < 0)
				goto fail;
		} else if (strcmp(n->name, "state") == 0) {
			if (state_line) {
				cfg_error(e, n->line, "duplicate key 'state' in section 'alua_group' (first at line %d)",
					  state_line);
				goto fail;
			}
			state_line = n->line;
			size_t k, cnt = sizeof(alua_state_names) / sizeof(alua_state_names[0]);
			for (k = 0; k < cnt; k++)
				if (strcmp(n->value, alua_state_names[k]) == 0)
					break;
			if (k == cnt) {
				cfg_error(e, n->line,
					  "invalid value '%s' for 'state' (expected one of: active-optimized, "
					  "active-nonoptimized, standby, unavailable, transitioning)", n->value);
				goto fail;
			}
			g.state = (enum tconf_alua_state)k;
		} else if (strcmp(n->name, "peer_port") == 0) {
			uint16_t p;
			if (parse_u16(e, n, 1, &p) < 0)
				goto fail;
			for (size_t i = 0; i < g.npeer_ports; i++)
				if (g.peer_ports[i] == p) {
					cfg_error(e, n->line, "duplicate peer_port %u in alua_group '%s'", p, g.name);
					goto fail;
				}
			uint16_t *np = realloc(g.peer_ports, (g.npeer_ports + 1) * sizeof(*np));
			if (!np) {
				cfg_error(e, n->line, "out of memory");
				goto fail;
			}
			g.peer_ports = np;
			np[g.npeer_ports++] = p;
		} else {
			cfg_error(e, n->line, "unknown key '%s' in section 'alua_group'", n->name);
			goto fail;
		}
	}
	if (!id_line) {
		cfg_error(e, sec->line, "missing required key 'id' in section 'alua_group'");
		goto fail;
	}
	for (size_t i = 0; i < c->nalua_groups; i++)
		if (c->alua_groups[i].id == g.id) {
			cfg_error(e, id_line, "duplicate alua_group id %u (also alua_group '%s' at line %d)", g.id,
				  c->alua_groups[i].name, c->alua_groups[i].line);
			goto fail;
		}
	struct tconf_alua_group *ng = realloc(c->alua_groups, (c->nalua_groups + 1) * sizeof(*ng));
	if (!ng) {
		cfg_error(e, sec->line, "out of memory");
		goto fail;
	}
	c->alua_groups = ng;
	ng[c->nalua_groups++] = g;
	return 0;
fail:
	free(g.peer_ports);
	return -1;
}

/* `alua_group: NAME` and `rel_port_id: N` inside a portal_group. */
int cfg_alua_pg_key(struct cfg_err *e, struct tconf_portal_group *pg, const struct cfg_node *n)
{
	if (strcmp(n->name, "rel_port_id") == 0)
		return parse_u16(e, n, 1, &pg->rel_port_id);
	if (check_name(e, n->line, n->value) < 0)
		return -1;
	snprintf(pg->alua_group, sizeof(pg->alua_group), "%s", n->value);
	pg->alua_line = n->line;
	return 0;
}

/* global `alua_explicit` resolved: auto means explicit only on a node without
 * a replication or cluster section */
bool tconf_alua_explicit(const struct tconf *c)
{
	switch (c->global.alua_explicit) {
	case TCONF_ALUA_EXPLICIT_YES:
		return true;
	case TCONF_ALUA_EXPLICIT_NO:
		return false;
	default:
		return !c->repl.enabled && !c->cluster.enabled;
	}
}

/* Once everything is read: every portal group gets its group id and relative
 * port id, and the relative port ids (local and peer) are unique (SPC-4 5.15.1:
 * one relative target port identifier per target port of the device); and
 * `alua_explicit: yes` is refused where a cluster manager owns the states. */
int cfg_alua_resolve(struct cfg_err *e, struct tconf *c)
{
	/* a cluster manager owns the states: an STPG would change this node's
	 * state behind it (and never the peer's) */
	if (c->global.alua_explicit == TCONF_ALUA_EXPLICIT_YES && c->cluster.enabled &&
	    c->cluster.manager != TCONF_CLUSTER_NONE)
		return cfg_error(e, c->global.alua_explicit_line,
				 "alua_explicit: yes conflicts with the cluster manager (section 'cluster' at line %d "
				 "owns the ALUA states; initiators would change one node's state behind it)",
				 c->cluster.line);
	for (size_t i = 0; i < c->nportal_groups; i++) {
		struct tconf_portal_group *pg = &c->portal_groups[i];
		if (!pg->rel_port_id)
			pg->rel_port_id = pg->tag;
		if (!pg->alua_group[0]) {
			if (c->nalua_groups)
				return cfg_error(e, pg->line,
						 "portal_group '%s' needs 'alua_group: NAME' once alua_group sections exist",
						 pg->name);
			pg->alua_group_id = 1;
			continue;
		}
		const struct tconf_alua_group *g = tconf_find_alua_group(c, pg->alua_group);
		if (!g)
			return cfg_error(e, pg->alua_line, "portal_group '%s' refers to unknown alua_group '%s'", pg->name,
					 pg->alua_group);
		pg->alua_group_id = g->id;
	}
	for (size_t i = 0; i < c->nportal_groups; i++)
		for (size_t j = 0; j < i; j++)
			if (c->portal_groups[i].rel_port_id == c->portal_groups[j].rel_port_id)
				return cfg_error(e, c->portal_groups[i].line,
						 "duplicate relative target port id %u (also portal_group '%s' at line %d)",
						 c->portal_groups[i].rel_port_id, c->portal_groups[j].name,
						 c->portal_groups[j].line);
	for (size_t gi = 0; gi < c->nalua_groups; gi++) {
		const struct tconf_alua_group *g = &c->alua_groups[gi];
		for (size_t k = 0; k < g->npeer_ports; k++) {
			for (size_t i = 0; i < c->nportal_groups; i++)
				if (c->portal_groups[i].rel_port_id == g->peer_ports[k])
					return cfg_error(e, g->line,
							 "peer_port %u of alua_group '%s' is this node's portal_group '%s' "
							 "(the peer's relative port ids must differ from ours)",
							 g->peer_ports[k], g->name, c->portal_groups[i].name);
			for (size_t gj = 0; gj <= gi; gj++)
				for (size_t m = 0; m < (gj == gi ? k : c->alua_groups[gj].npeer_ports); m++)
					if (c->alua_groups[gj].peer_ports[m] == g->peer_ports[k])
						return cfg_error(e, g->line, "duplicate peer_port %u (also in alua_group '%s')",
								 g->peer_ports[k], c->alua_groups[gj].name);
		}
	}
	return 0;
}

const struct tconf_alua_group *tconf_find_alua_group(const struct tconf *c, const char *name)
{
	for (size_t i = 0; i < c->nalua_groups; i++)
		if (strcmp(c->alua_groups[i].name, name) == 0)
			return &c->alua_groups[i];
	return NULL;
}

void cfg_alua_free(struct tconf *c)
{
	for (size_t i = 0; i < c->nalua_groups; i++)
		free(c->alua_groups[i].peer_ports);
	free(c->alua_groups);
	c->alua_groups = NULL;
	c->nalua_groups = 0;
}

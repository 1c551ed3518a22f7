/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Asymmetric logical unit access (SPC-4 5.15) so that an HA pair's ports can
 * say which node serves I/O: target port groups and their states, the per-state
 * command allow-lists, REPORT/SET TARGET PORT GROUPS, the ASYMMETRIC ACCESS
 * STATE CHANGED unit attention, and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS.
 *
 * One owner: every state change goes through alua_set_locked() under g.lock,
 * which also walks the registered targets to queue unit attentions (lock order
 * g.lock -> tgt->lock -> itn->ua_lock). The I/O path reads only the atomic
 * scsi_alua_states[] slot of its nexus' group (scsi_alua_check in alua.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/be.h"
#include "util/json.h"
#include "util/log.h"
#include "scsi/alua.h"

_Atomic uint8_t scsi_alua_states[65536];

/* RTPG STATUS CODE (SPC-4 6.37 table 166) */
enum { ALUA_STATUS_NONE = 0, ALUA_STATUS_STPG = 1, ALUA_STATUS_IMPLICIT = 2 };
/* Supported states byte of an RTPG descriptor: T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP. */
#define ALUA_SUP_BITS 0x8f
/* IMPLICIT TRANSITION TIME (s) reported in the extended header: the longest a
 * group stays Transitioning during a cluster failover. */
#define ALUA_IMPLICIT_TRANSITION_SECS 30

struct alua_port {
	uint16_t rel_id;
	uint16_t tag;                   /* portal group tag; 0 = a port of the peer node */
	char pg[64];                    /* portal group name ("" for peer ports) */
};

struct alua_group {
	char name[64];
	uint16_t id;
	uint8_t status;                 /* RTPG status code of the last change */
	struct alua_port *ports;
	size_t nports;
};

/* Which local portal groups a target is reachable through (none listed = all). */
struct alua_tgt_pgs {
	char name[TCONF_NAME_MAX];
	char **pgs;
	size_t npgs;
};

struct alua_reg {
	struct scsi_target *tgt;
	struct alua_reg *next;
};

static struct {
	pthread_mutex_t lock;
	struct alua_group *groups;
	size_t ngroups;
	struct alua_tgt_pgs *tgts;
	size_t ntgts;
	struct alua_reg *reg;           /* every live scsi_target */
	_Atomic bool explicit_ok;       /* STPG accepted (INQUIRY TPGS 11b) or not (01b) */
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .explicit_ok = true };

bool scsi_alua_explicit(void)
{
	return atomic_load_explicit(&g.explicit_ok, memory_order_relaxed);
}

/* ---------------------------------------------------------------- names */

static const struct {
	enum scsi_alua_state st;
	const char *name;
} state_names[] = {
	{ SCSI_ALUA_ACTIVE_OPTIMIZED, "active-optimized" },
	{ SCSI_ALUA_ACTIVE_NONOPTIMIZED, "active-nonoptimized" },
	{ SCSI_ALUA_STANDBY, "standby" },
	{ SCSI_ALUA_UNAVAILABLE, "unavailable" },
	{ SCSI_ALUA_TRANSITIONING, "transitioning" },
};

const char *scsi_alua_state_name(enum scsi_alua_state st)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (state_names[i].st == st)
			return state_names[i].name;
	return "unknown";
}

int scsi_alua_state_from_name(const char *name, enum scsi_alua_state *st)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(state_names); i++)
		if (strcmp(state_names[i].name, name) == 0) {
			*st = state_names[i].st;
			return 0;
		}
	return -1;
}

static bool state_valid(unsigned st)
{
	return st <= SCSI_ALUA_UNAVAILABLE || st == SCSI_ALUA_TRANSITIONING;
}

static enum scsi_alua_state from_conf(enum tconf_alua_state s)
{
	switch (s) {
	case TCONF_ALUA_ACTIVE_NONOPTIMIZED: return SCSI_ALUA_ACTIVE_NONOPTIMIZED;
	case TCONF_ALUA_STANDBY: return SCSI_ALUA_STANDBY;
	case TCONF_ALUA_UNAVAILABLE: return SCSI_ALUA_UNAVAILABLE;
	case TCONF_ALUA_TRANSITIONING: return SCSI_ALUA_TRANSITIONING;
	default: return SCSI_ALUA_ACTIVE_OPTIMIZED;
	}
}

/* ---------------------------------------------------------------- topology */

static struct alua_group *group_find(uint16_t id)
{
	for (size_t i = 0; i < g.ngroups; i++)
		if (g.groups[i].id == id)
			return &g.groups[i];
	return NULL;
}

static void topology_free(struct alua_group *groups, size_t ngroups, struct alua_tgt_pgs *tgts, size_t ntgts)
{
	for (size_t i = 0; i < ngroups; i++)
		free(groups[i].ports);
	free(groups);
	for (size_t i = 0; i < ntgts; i++) {
		for (size_t k = 0; k < tgts[i].npgs; k++)
			free(tgts[i].pgs[k]);
		free(tgts[i].pgs);
	}
	free(tgts);
}

static int add_port(struct alua_group *grp, uint16_t rel, uint16_t tag, const char *pg)
{
	struct alua_port *np = realloc(grp->ports, (grp->nports + 1) * sizeof(*np));
	if (!np)
		return -1;
	grp->ports = np;
	np[grp->nports] = (struct alua_port){ .rel_id = rel, .tag = tag };
	snprintf(np[grp->nports].pg, sizeof(np->pg), "%s", pg ? pg : "");
	grp->nports++;
	return 0;
}

/* Establish ASYMMETRIC ACCESS STATE CHANGED on every LUN of every nexus but
 * `except` (SPC-4 5.15.2.5: all I_T nexuses, explicit changes skip the one the
 * STPG came on). Called with g.lock held. */
static void ua_all_locked(struct scsi_itn *except)
{
	for (struct alua_reg *r = g.reg; r; r = r->next)
		scsi_ua_establish_others(r->tgt, except, SCSI_UA_ALL_LUNS, SCSI_UA_ALUA_CHANGED);
}

/* The one place a state is written. g.lock held. Returns true if it changed. */
static bool alua_set_locked(struct alua_group *grp, enum scsi_alua_state st, uint8_t status,
			    struct scsi_itn *except)
{
	uint8_t old = atomic_load_explicit(&scsi_alua_states[grp->id], memory_order_relaxed);
	if (old == st)
		return false;
	atomic_store_explicit(&scsi_alua_states[grp->id], (uint8_t)st, memory_order_release);
	grp->status = status;
	ua_all_locked(except);
	qb_log(LOG_NOTICE, "alua: group %s (id %u) %s -> %s%s", grp->name, grp->id,
	       scsi_alua_state_name((enum scsi_alua_state)old), scsi_alua_state_name(st),
	       status == ALUA_STATUS_STPG ? " (SET TARGET PORT GROUPS)" : "");
	return true;
}

int scsi_alua_configure(const struct tconf *c, char *err, size_t errlen)
{
	size_t ngroups = c->nalua_groups ? c->nalua_groups : 1;
	struct alua_group *groups = calloc(ngroups, sizeof(*groups));
	struct alua_tgt_pgs *tgts = calloc(c->ntargets ? c->ntargets : 1, sizeof(*tgts));
	enum scsi_alua_state *want = calloc(ngroups, sizeof(*want));

	if (!groups || !tgts || !want)
		goto oom;
	if (!c->nalua_groups) {
		/* docs/ALUA.md: no alua_group = one implicit Active/Optimized group 1 */
		snprintf(groups[0].name, sizeof(groups[0].name), "default");
		groups[0].id = 1;
		want[0] = SCSI_ALUA_ACTIVE_OPTIMIZED;
	}
	for (size_t i = 0; i < c->nalua_groups; i++) {
		const struct tconf_alua_group *cg = &c->alua_groups[i];
		snprintf(groups[i].name, sizeof(groups[i].name), "%s", cg->name);
		groups[i].id = cg->id;
		want[i] = from_conf(cg->state);
	}
	for (size_t i = 0; i < c->nportal_groups; i++) {
		const struct tconf_portal_group *pg = &c->portal_groups[i];
		uint16_t gid = pg->alua_group_id ? pg->alua_group_id : 1;
		for (size_t k = 0; k < ngroups; k++)
			if (groups[k].id == gid && add_port(&groups[k], pg->rel_port_id ? pg->rel_port_id : pg->tag,
							    pg->tag, pg->name) < 0)
				goto oom;
	}
	for (size_t i = 0; i < c->nalua_groups; i++)
		for (size_t k = 0; k < c->alua_groups[i].npeer_ports; k++)
			if (add_port(&groups[i], c->alua_groups[i].peer_ports[k], 0, NULL) < 0)
				goto oom;
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct tconf_target *t = &c->targets[i];
		snprintf(tgts[i].name, sizeof(tgts[i].name), "%s", t->name);
		if (t->nportal_groups && !(tgts[i].pgs = calloc(t->nportal_groups, sizeof(char *))))
			goto oom;
		for (size_t k = 0; k < t->nportal_groups; k++) {
			if (!(tgts[i].pgs[k] = strdup(t->portal_groups[k])))
				goto oom;
			tgts[i].npgs++;
		}
	}

	pthread_mutex_lock(&g.lock);
	struct alua_group *old = g.groups;
	size_t nold = g.ngroups;
	/* The slot of a group that is gone keeps its last state: sessions that
	 * logged in through its ports still read it until the reload's
	 * revocation has them log in again (iscsi_session_denied_locked). It
	 * used to fall back to Active/Optimized, which turned a Standby node's
	 * existing paths active. A group created later with the same id sets
	 * the slot (below). */
	struct alua_tgt_pgs *oldt = g.tgts;
	size_t noldt = g.ntgts;
	g.groups = groups;
	g.ngroups = ngroups;
	g.tgts = tgts;
	g.ntgts = c->ntargets;
	atomic_store(&g.explicit_ok, tconf_alua_explicit(c));
	/* A group that existed keeps its runtime state (the cluster layer owns it);
	 * a new one starts in its configured state. */
	for (size_t k = 0; k < ngroups; k++) {
		bool existed = false;
		for (size_t i = 0; i < nold; i++)
			if (old[i].id == groups[k].id) {
				existed = true;
				groups[k].status = old[i].status;
			}
		if (!existed)
			alua_set_locked(&groups[k], want[k], ALUA_STATUS_NONE, NULL);
	}
	pthread_mutex_unlock(&g.lock);
	topology_free(old, nold, oldt, noldt);
	free(want);
	return 0;
oom:
	snprintf(err, errlen, "alua: out of memory");
	topology_free(groups, groups ? ngroups : 0, tgts, tgts ? c->ntargets : 0);
	free(want);
	return -1;
}

void scsi_alua_target_register(struct scsi_target *tgt)
{
	struct alua_reg *r = calloc(1, sizeof(*r));
	if (!r) {
		qb_log(LOG_ERR, "alua: out of memory registering %s (no ALUA unit attentions)", tgt->name);
		return;
	}
	r->tgt = tgt;
	pthread_mutex_lock(&g.lock);
	r->next = g.reg;
	g.reg = r;
	pthread_mutex_unlock(&g.lock);
}

void scsi_alua_target_unregister(struct scsi_target *tgt)
{
	pthread_mutex_lock(&g.lock);
	for (struct alua_reg **pp = &g.reg; *pp; pp = &(*pp)->next)
		if ((*pp)->tgt == tgt) {
			struct alua_reg *r = *pp;
			*pp = r->next;
			free(r);
			break;
		}
	pthread_mutex_unlock(&g.lock);
}

/* ---------------------------------------------------------------- API */

int scsi_alua_set_state(uint16_t tpg_id, enum scsi_alua_state st)
{
	int rc = -1;
	if (!state_valid(st))
		return -1;
	pthread_mutex_lock(&g.lock);
	struct alua_group *grp = group_find(tpg_id);
	if (grp) {
		alua_set_locked(grp, st, ALUA_STATUS_IMPLICIT, NULL);
		rc = 0;
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int scsi_alua_get_state(uint16_t tpg_id, enum scsi_alua_state *st)
{
	pthread_mutex_lock(&g.lock);
	bool found = group_find(tpg_id) != NULL;
	pthread_mutex_unlock(&g.lock);
	if (found)
		*st = (enum scsi_alua_state)atomic_load(&scsi_alua_states[tpg_id]);
	return found ? 0 : -1;
}

int scsi_alua_find_group(const char *s, uint16_t *tpg_id)
{
	int rc = -1;
	char *end;
	unsigned long id = 0;
	bool numeric = s && s[0] >= '0' && s[0] <= '9';

	if (!s)
		return -1;
	if (numeric) {
		id = strtoul(s, &end, 10);
		if (*end || id == 0 || id > 65535)
			return -1;
	}
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < g.ngroups; i++)
		if (numeric ? g.groups[i].id == id : strcmp(g.groups[i].name, s) == 0) {
			*tpg_id = g.groups[i].id;
			rc = 0;
		}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

void scsi_alua_status(struct json_writer *w)
{
	json_bool(w, "alua_explicit", scsi_alua_explicit());
	pthread_mutex_lock(&g.lock);
	json_arr_begin(w, "alua_groups");
	for (size_t i = 0; i < g.ngroups; i++) {
		const struct alua_group *grp = &g.groups[i];
		json_obj_begin(w, NULL);
		json_str(w, "name", grp->name);
		json_int(w, "id", grp->id);
		json_str(w, "state", scsi_alua_state_name((enum scsi_alua_state)atomic_load(&scsi_alua_states[grp->id])));
		json_arr_begin(w, "ports");
		for (size_t k = 0; k < grp->nports; k++)
			json_int(w, NULL, grp->ports[k].rel_id);
		json_arr_end(w);
		json_arr_begin(w, "portal_groups");
		for (size_t k = 0; k < grp->nports; k++)
			if (grp->ports[k].tag)
				json_str(w, NULL, grp->ports[k].pg);
		json_arr_end(w);
		json_obj_end(w);
	}
	json_arr_end(w);
	pthread_mutex_unlock(&g.lock);
}

/* ---------------------------------------------------------------- access check */

/* Commands a target port in a non-active state still serves (SPC-4 5.15.2.4.4
 * standby, 5.15.2.4.5 unavailable, 5.15.2.5 transitioning; the same lists as
 * Linux target_core_alua.c core_alua_state_standby/unavailable/transition).
 * Everything else: NOT READY, LOGICAL UNIT NOT ACCESSIBLE + the state's ASCQ,
 * never LOGICAL UNIT NOT SUPPORTED (an ESXi host would declare the device
 * permanently lost). TEST UNIT READY is refused on purpose: path checkers use
 * it to see that a path is in standby. */
enum { A_STANDBY = 1, A_UNAVAIL = 2, A_TRANS = 4, A_ALL = 7 };

static uint8_t allowed_states(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case 0x12:                      /* INQUIRY */
	case 0xa0:                      /* REPORT LUNS */
	case 0x03:                      /* REQUEST SENSE */
	case 0x3b:                      /* WRITE BUFFER (echo modes) */
	case 0x3c:                      /* READ BUFFER (echo modes) */
		return A_ALL;
	case 0x15: case 0x55:           /* MODE SELECT(6/10) */
	case 0x1a: case 0x5a:           /* MODE SENSE(6/10) */
	case 0x4c: case 0x4d:           /* LOG SELECT / LOG SENSE */
	case 0x1c: case 0x1d:           /* RECEIVE DIAGNOSTIC RESULTS / SEND DIAGNOSTIC */
	case 0x5e: case 0x5f:           /* PERSISTENT RESERVE IN / OUT */
	case 0x25:                      /* READ CAPACITY(10) (LIO) */
		return A_STANDBY;
	case 0x9e:                      /* SERVICE ACTION IN(16): READ CAPACITY(16) */
		return (cdb[1] & 0x1f) == 0x10 ? A_STANDBY : 0;
	case 0xa3:                      /* MAINTENANCE IN */
		switch (cdb[1] & 0x1f) {
		case 0x0a: return A_ALL;                /* REPORT TARGET PORT GROUPS */
		case 0x0c: case 0x0d: return A_STANDBY; /* REPORT SUPPORTED OPCODES / TMFs */
		default: return 0;
		}
	case 0xa4:                      /* MAINTENANCE OUT: SET TARGET PORT GROUPS */
		return (cdb[1] & 0x1f) == 0x0a ? A_STANDBY | A_UNAVAIL : 0;
	default:
		return 0;
	}
}

bool scsi_alua_refuse(struct scsi_task *t, uint8_t state)
{
	uint8_t bit, ascq;
	switch (state) {
	case SCSI_ALUA_STANDBY: bit = A_STANDBY; ascq = 0x0b; break;
	case SCSI_ALUA_UNAVAILABLE: bit = A_UNAVAIL; ascq = 0x0c; break;
	case SCSI_ALUA_TRANSITIONING: bit = A_TRANS; ascq = 0x0a; break;
	default: return false;
	}
	if (allowed_states(t->cdb) & bit)
		return false;
	scsi_task_check(t, SK_NOT_READY, 0x04, ascq);
	return true;
}

/* ---------------------------------------------------------------- RTPG */

/* Is the local port behind portal group `pg` a port of target `tgt_name`? */
static bool tgt_has_pg_locked(const char *tgt_name, const char *pg)
{
	for (size_t i = 0; i < g.ntgts; i++) {
		if (strcmp(g.tgts[i].name, tgt_name) != 0)
			continue;
		if (!g.tgts[i].npgs)
			return true;
		for (size_t k = 0; k < g.tgts[i].npgs; k++)
			if (strcmp(g.tgts[i].pgs[k], pg) == 0)
				return true;
		return false;
	}
	return true;                    /* not from a config (tests): every port */
}

/* SPC-4 6.37 REPORT TARGET PORT GROUPS: one descriptor per group that has a
 * port of this target (local ports it is exported on, plus the peer node's).
 * RETURN DATA LENGTH counts the descriptors (as Linux LIO and sg_rtpg) and is
 * computed in full whatever the allocation length. */
int scsi_alua_report_tpgs(struct scsi_task *t)
{
	uint8_t fmt = t->cdb[1] >> 5;
	uint32_t alloc = get_be32(&t->cdb[6]);
	const char *tgt_name = t->itn->tgt->name;
	uint32_t hdr = fmt == 1 ? 8 : 4, len = hdr, cap = 4096;
	uint8_t *d;

	if (fmt > 1)
		return scsi_task_invalid_cdb(t, 1, 7);
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < g.ngroups; i++)
		cap += 8 + 4 * (uint32_t)g.groups[i].nports;
	d = calloc(1, cap);
	if (!d) {
		pthread_mutex_unlock(&g.lock);
		return scsi_task_check(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	}
	if (!g.ngroups) {
		/* never configured (unit tests without a config): the nexus' own group */
		uint16_t id = t->itn->port.tpg_id ? t->itn->port.tpg_id : 1;
		d[len] = atomic_load(&scsi_alua_states[id]) & 0x0f;
		d[len + 1] = ALUA_SUP_BITS;
		put_be16(&d[len + 2], id);
		d[len + 7] = 1;
		put_be16(&d[len + 10], t->itn->port.rel_port_id);
		len += 12;
	}
	for (size_t i = 0; i < g.ngroups; i++) {
		const struct alua_group *grp = &g.groups[i];
		uint8_t *p = &d[len];
		uint32_t n = 0;
		for (size_t k = 0; k < grp->nports; k++) {
			const struct alua_port *pt = &grp->ports[k];
			if (pt->tag && !tgt_has_pg_locked(tgt_name, pt->pg))
				continue;
			put_be16(&p[8 + 4 * n + 2], pt->rel_id);
			n++;
		}
		if (!n || n > 255)
			continue;
		p[0] = atomic_load(&scsi_alua_states[grp->id]) & 0x0f;  /* PREF=0 */
		p[1] = ALUA_SUP_BITS;
		put_be16(&p[2], grp->id);
		p[5] = grp->status;
		p[7] = (uint8_t)n;
		len += 8 + 4 * n;
	}
	pthread_mutex_unlock(&g.lock);
	put_be32(d, len - hdr);
	if (fmt == 1) {
		d[4] = 0x10;                                    /* FORMAT TYPE 001b */
		d[5] = ALUA_IMPLICIT_TRANSITION_SECS;
	}
	int rc = scsi_task_data_in(t, d, len, alloc);
	free(d);
	return rc;
}

/* ---------------------------------------------------------------- STPG */

/* SPC-4 6.46 SET TARGET PORT GROUPS: a 4-byte reserved header and 4-byte
 * descriptors {state, reserved, group}. The whole list is checked before any
 * group changes. Primary states 0..3 may be requested; Transitioning and the
 * secondary Offline are not (SPC-4 5.15.2.6, like LIO). */
static int set_tpgs(struct scsi_task *t)
{
	uint32_t plen = get_be32(&t->cdb[6]);
	enum { MAXD = 64 };
	struct { struct alua_group *grp; uint8_t st; } req[MAXD];
	uint32_t nreq = 0;

	if (t->cdb[1] & 0xe0)
		return scsi_task_invalid_cdb(t, 1, -1);
	if (t->cdb[2] || t->cdb[3] || t->cdb[4] || t->cdb[5] || t->cdb[10])
		return scsi_task_invalid_cdb(t, t->cdb[2] ? 2 : t->cdb[3] ? 3 : t->cdb[4] ? 4 : t->cdb[5] ? 5 : 10, -1);
	if (plen == 0) {
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	if (plen < 4 || (plen - 4) % 4 || (plen - 4) / 4 > MAXD)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	if (scsi_task_data_out(t, plen) < plen)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	const uint8_t *p = t->buf;

	pthread_mutex_lock(&g.lock);
	for (uint32_t off = 4; off < plen; off += 4) {
		uint8_t st = p[off] & 0x0f;
		uint16_t id = get_be16(&p[off + 2]);
		struct alua_group *grp = group_find(id);
		if (p[off] & 0xf0) {
			pthread_mutex_unlock(&g.lock);
			return scsi_task_invalid_param(t, (uint16_t)off, 7);
		}
		if (st > SCSI_ALUA_UNAVAILABLE) {
			pthread_mutex_unlock(&g.lock);
			return scsi_task_invalid_param(t, (uint16_t)off, 3);
		}
		if (!grp) {
			pthread_mutex_unlock(&g.lock);
			return scsi_task_invalid_param(t, (uint16_t)(off + 2), -1);
		}
		req[nreq].grp = grp;
		req[nreq].st = st;
		nreq++;
	}
	for (uint32_t i = 0; i < nreq; i++) {
		/* SPC-4 5.15.2.5: the nexus that asked gets no unit attention. */
		if (!alua_set_locked(req[i].grp, (enum scsi_alua_state)req[i].st, ALUA_STATUS_STPG, t->itn))
			req[i].grp->status = ALUA_STATUS_STPG;
	}
	pthread_mutex_unlock(&g.lock);
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

/* SPC-4 6.27 MAINTENANCE OUT: only SET TARGET PORT GROUPS is implemented, and
 * only with explicit ALUA: dispatch.c's op_enabled[0xa4] is scsi_alua_explicit,
 * so without it the dispatcher answers INVALID COMMAND OPERATION CODE as for
 * any opcode it lacks (INQUIRY says TPGS 01b; LIO answers the same). */
int scsi_alua_maint_out(struct scsi_task *t)
{
	if ((t->cdb[1] & 0x1f) == 0x0a)
		return set_tpgs(t);
	return scsi_task_invalid_cdb(t, 1, 4);
}

/* ---------------------------------------------------------------- RSTMF */

/* SPC-4 6.40 REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: what the iSCSI layer
 * implements (iscsi/tmf.c): ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL
 * UNIT RESET, TARGET RESET (warm and cold); no CLEAR ACA, QUERY TASK* or
 * I_T NEXUS RESET. REPD=1 adds the extended parameter data with no timeouts. */
int scsi_alua_report_tmfs(struct scsi_task *t)
{
	bool repd = t->cdb[2] & 0x80;
	uint32_t alloc = get_be32(&t->cdb[6]);
	uint8_t d[16] = { 0 };

	if (t->cdb[2] & 0x7f)
		return scsi_task_invalid_cdb(t, 2, -1);
	d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;   /* ATS ATSS CTSS LURS TRS */
	d[1] = 0x00;                                /* QUAS QTSS ITNRS = 0 */
	if (repd) {
		d[3] = 0x0c;                            /* ADDITIONAL DATA LENGTH */
		return scsi_task_data_in(t, d, 16, alloc);
	}
	return scsi_task_data_in(t, d, 4, alloc);
}

/* ---------------------------------------------------------------- READ DEFECT DATA */

/* SBC-3 5.8 / 5.9 READ DEFECT DATA (10) / (12): a virtual disk has no defect
 * lists. The header echoes the requested lists as valid and empty in the
 * requested format (SBC-3: a zero DEFECT LIST LENGTH with PLISTV/GLISTV set
 * means an empty list), so hosts probing it see a healthy disk. */
int scsi_sbc_read_defect_data(struct scsi_task *t)
{
	bool ten = t->cdb[0] == 0x37;
	uint8_t flags = ten ? t->cdb[2] : t->cdb[1];
	uint32_t alloc = ten ? get_be16(&t->cdb[7]) : get_be32(&t->cdb[6]);
	uint8_t d[8] = { 0 };

	if (ten && (t->cdb[1] || (t->cdb[2] & 0xe0)))
		return scsi_task_invalid_cdb(t, t->cdb[1] ? 1 : 2, -1);
	if (!ten && (t->cdb[1] & 0xe0))
		return scsi_task_invalid_cdb(t, 1, -1);
	d[1] = flags & 0x1f;            /* PLISTV, GLISTV, DEFECT LIST FORMAT as requested */
	return scsi_task_data_in(t, d, ten ? 4 : 8, alloc);
}

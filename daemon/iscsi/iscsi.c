/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Entry points of the iSCSI layer (iscsi.h): build SCSI targets and portals
 * from the configuration, apply reloads, shut down, and report status. */
#include "iscsi/iscsi.h"
#include "iscsi/iscsi_int.h"
#include "util/stat.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct iscsi_global g_iscsi = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct iscsi_tgt *iscsi_tgt_get(const char *name)
{
	struct iscsi_tgt *t;

	pthread_mutex_lock(&g_iscsi.lock);
	for (t = g_iscsi.tgts; t; t = t->next)
		if (!t->removed && strcasecmp(t->name, name) == 0)      /* RFC 3722 */
			break;
	if (t)
		t->refs++;
	pthread_mutex_unlock(&g_iscsi.lock);
	return t;
}

void iscsi_tgt_put(struct iscsi_tgt *t)
{
	bool last;

	pthread_mutex_lock(&g_iscsi.lock);
	last = --t->refs == 0;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (last) {
		qb_log(LOG_INFO, "iscsi: target %s destroyed", t->name);
		scsi_target_destroy(t->st);
		free(t);
	}
}

void iscsi_param_limits_from_conf(struct iscsi_param_limits *lim)
{
	pthread_mutex_lock(&g_iscsi.lock);
	lim->max_recv_dsl = g_iscsi.gc.max_recv_data_segment ? g_iscsi.gc.max_recv_data_segment : 1048576;
	lim->max_burst = g_iscsi.gc.max_burst ? g_iscsi.gc.max_burst : 1048576;
	lim->first_burst = g_iscsi.gc.first_burst ? g_iscsi.gc.first_burst : 262144;
	lim->max_connections = g_iscsi.gc.max_connections_per_session > 0 ?
			       (uint32_t)g_iscsi.gc.max_connections_per_session : 1;
	lim->max_outstanding_r2t = ISCSI_MAX_R2T;
	pthread_mutex_unlock(&g_iscsi.lock);
	/* the receive state machine reads at most this much per PDU into the task */
	if (lim->max_recv_dsl > 16u * 1024 * 1024 - 1)
		lim->max_recv_dsl = 16u * 1024 * 1024 - 1;
}

/* Destroy a list of targets that never became visible (failed start or reload). */
static void tgt_list_destroy(struct iscsi_tgt *list)
{
	while (list) {
		struct iscsi_tgt *n = list->next;
		scsi_target_destroy(list->st);
		free(list);
		list = n;
	}
}

/* Create a target with all its LUNs; NULL + err on failure. */
static struct iscsi_tgt *tgt_create(const struct tconf_target *tc, char *err, size_t errlen)
{
	struct iscsi_tgt *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->st = scsi_target_create(tc->name);
	if (!t->st) {
		snprintf(err, errlen, "target %s: cannot create", tc->name);
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < tc->nluns; i++) {
		if (scsi_target_add_lun(t->st, &tc->luns[i], err, errlen) < 0) {
			scsi_target_destroy(t->st);
			free(t);
			return NULL;
		}
	}
	snprintf(t->name, sizeof(t->name), "%s", tc->name);
	t->conf = tc;
	t->refs = 1;    /* the registry */
	return t;
}

int iscsi_init(const struct tconf *conf, char *err, size_t errlen)
{
	struct iscsi_tgt *list = NULL;

	for (size_t i = 0; i < conf->ntargets; i++) {
		struct iscsi_tgt *t = tgt_create(&conf->targets[i], err, errlen);
		if (!t) {
			tgt_list_destroy(list);
			return -1;
		}
		t->next = list;
		list = t;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	g_iscsi.conf = conf;
	g_iscsi.gc = conf->global;
	g_iscsi.tgts = list;
	g_iscsi.shutting_down = false;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (iscsi_portals_open(conf, err, errlen) < 0) {
		pthread_mutex_lock(&g_iscsi.lock);
		list = g_iscsi.tgts;
		g_iscsi.tgts = NULL;
		g_iscsi.conf = NULL;
		pthread_mutex_unlock(&g_iscsi.lock);
		tgt_list_destroy(list);
		return -1;
	}
	qb_log(LOG_INFO, "iscsi: %zu target(s) ready", conf->ntargets);
	return 0;
}

/* The same device: a reload applies the rest in place (cache mode, size) or
 * reports it as pending (inquiry strings: lun_fit_inquiry). A new NAA id or
 * serial is another device for the initiators, and `replicated:` another
 * stack: those take a new LUN (they used to be left out of the comparison,
 * so a reload that changed them was silently not applied). */
static bool lun_same_device(const struct tconf_lun *a, const struct tconf_lun *b)
{
	return a->lun == b->lun && a->backend == b->backend && strcmp(a->path, b->path) == 0 &&
	       a->block_size == b->block_size && a->readonly == b->readonly && strcmp(a->serial, b->serial) == 0 &&
	       a->naa_len == b->naa_len && memcmp(a->naa, b->naa, a->naa_len) == 0 &&
	       a->replicated == b->replicated;
}

/* LUN a as target configuration t lists it, perhaps with another cache mode
 * or size; NULL when t drops it or changes more (LUN numbers are unique in a
 * target). */
static const struct tconf_lun *lun_in(const struct tconf_lun *a, const struct tconf_target *t)
{
	for (size_t i = 0; i < t->nluns; i++)
		if (lun_same_device(a, &t->luns[i]))
			return &t->luns[i];
	return NULL;
}

struct logout_req {
	struct iscsi_session *s;
};

static void logout_posted(void *arg)
{
	struct iscsi_session *s = arg;
	iscsi_session_request_logout(s, 2);
	iscsi_session_release(s);
}

/* Ask every session of target t (or all sessions when t is NULL) to log out. */
static void request_logouts(struct iscsi_tgt *t)
{
	pthread_mutex_lock(&g_iscsi.lock);
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next) {
		if (t && s->tgt != t)
			continue;
		if (!s->conns)
			continue;
		s->nconns++;
		reactor_post(s->r, logout_posted, s);
	}
	pthread_mutex_unlock(&g_iscsi.lock);
}

/* A session that lost its right to its target at a reload (the target
 * removed, its initiator no longer in the target's ACL, the target no longer
 * on the session's portal group) is asked to log out within
 * REVOKE_TIME2WAIT_S (RFC 7143 11.9.1: Async Message, Parameter3) and
 * dropped if it is still there REVOKE_DROP_MS later: an initiator that
 * ignores the request must not keep access the configuration took away. */
#define REVOKE_TIME2WAIT_S 2
#define REVOKE_DROP_MS 5000
struct iscsi_revoke {
	struct iscsi_session *s;
	uint64_t uid;
	const char *why;
	struct iscsi_reactor *ir;       /* whose list holds it while its drop timer runs */
	struct iscsi_revoke *next;
};

static void revoke_unlink(struct iscsi_revoke *rv)
{
	for (struct iscsi_revoke **pp = &rv->ir->revokes; *pp; pp = &(*pp)->next)
		if (*pp == rv) {
			*pp = rv->next;
			break;
		}
}

/* At the reactor's exit (shutdown): revocations whose drop timer never ran. */
void iscsi_revokes_free(struct iscsi_reactor *ir)
{
	while (ir->revokes) {
		struct iscsi_revoke *rv = ir->revokes;
		ir->revokes = rv->next;
		free(rv);
	}
}

const char *iscsi_session_denied_locked(const struct iscsi_tgt *t, const char *initiator, uint16_t tpgt,
					uint16_t alua_group)
{
	if (t->removed)
		return "target removed";
	if (!tconf_initiator_allowed(t->conf, initiator))
		return "initiator no longer in the target's ACL";
	bool pg_found = false;
	for (size_t i = 0; g_iscsi.conf && i < g_iscsi.conf->nportal_groups; i++) {
		const struct tconf_portal_group *pg = &g_iscsi.conf->portal_groups[i];
		if (pg->tag != tpgt)
			continue;
		pg_found = true;
		if (!tconf_target_in_portal_group(t->conf, pg))
			return "target no longer on the session's portal group";   /* as the login decides */
		/* the port's ALUA group is learnt at login (REPORT TARGET PORT GROUPS,
		 * VPD 0x83): a session of a port moved to another group would keep
		 * reporting the old group's state, so it logs in again */
		if (alua_group && pg->alua_group_id && pg->alua_group_id != alua_group)
			return "the session's portal group moved to another ALUA group";
	}
	if (g_iscsi.conf && !pg_found)
		return "the session's portal group was removed";
	return NULL;
}

static bool session_alive(const struct iscsi_revoke *rv)
{
	bool alive = false;

	pthread_mutex_lock(&g_iscsi.lock);
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next)
		if (s == rv->s && s->uid == rv->uid) {
			alive = !s->dying && !s->replaced;
			break;
		}
	pthread_mutex_unlock(&g_iscsi.lock);
	return alive;
}

static int revoke_drop(struct reactor *r, void *arg)
{
	struct iscsi_revoke *rv = arg;
	bool still_denied = false;

	if (session_alive(rv)) {
		/* a later reload may have admitted it again */
		pthread_mutex_lock(&g_iscsi.lock);
		still_denied = rv->s->tgt && rv->s->conns &&
			       iscsi_session_denied_locked(rv->s->tgt, rv->s->initiator, rv->s->conns->tpgt,
								   rv->s->port.tpg_id);
		pthread_mutex_unlock(&g_iscsi.lock);
	}
	if (still_denied) {
		qb_log(LOG_NOTICE, "iscsi: session TSIH %u of %s did not log out (%s): dropping it", rv->s->tsih,
		       rv->s->initiator, rv->why);
		iscsi_session_kill(rv->s, rv->why);
	}
	revoke_unlink(rv);
	free(rv);
	return -1;
}

/* On the session's reactor (sessions are freed there only). */
static void revoke_run(void *arg)
{
	struct iscsi_revoke *rv = arg;

	if (!session_alive(rv)) {
		free(rv);
		return;
	}
	iscsi_session_request_logout(rv->s, REVOKE_TIME2WAIT_S);
	rv->ir = iscsi_reactor_get(rv->s->r);
	if (!rv->ir || !reactor_timer_add(rv->s->r, REVOKE_DROP_MS, revoke_drop, rv)) {
		iscsi_session_kill(rv->s, rv->why);
		free(rv);
		return;
	}
	rv->next = rv->ir->revokes;
	rv->ir->revokes = rv;
}

/* Revoke the sessions of t (its configuration already replaced, or t
 * removed) that it no longer admits. A login that completes later checks the
 * same under the same lock (login_make_session). */
static void revoke_sessions(struct iscsi_tgt *t)
{
	pthread_mutex_lock(&g_iscsi.lock);
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next) {
		if (s->tgt != t || s->type != ISCSI_SESSION_NORMAL || s->dying || s->replaced || !s->conns)
			continue;
		const char *why = iscsi_session_denied_locked(t, s->initiator, s->conns->tpgt, s->port.tpg_id);
		if (!why)
			continue;
		struct iscsi_revoke *rv = malloc(sizeof(*rv));
		if (!rv)
			continue;
		*rv = (struct iscsi_revoke){ .s = s, .uid = s->uid, .why = why };
		qb_log(LOG_NOTICE, "iscsi: reload: session TSIH %u of %s to %s: %s; asking it to log out", s->tsih,
		       s->initiator, t->name, why);
		reactor_post(s->r, revoke_run, rv);
	}
	pthread_mutex_unlock(&g_iscsi.lock);
}

/* A reload's changes to one kept target's LUNs: planned under g_iscsi.lock,
 * carried out without it (closing a LUN waits for its commands, opening one
 * takes I/O; sessions log in and out meanwhile). */
struct lun_plan {
	struct iscsi_tgt *t;                /* referenced */
	const struct tconf_target *old, *tc;
	struct bdev *opened[TCONF_MAX_LUNS]; /* devices of tc's LUNs to add (by index), opened up front */
	bool failed[TCONF_MAX_LUNS];        /* ... or could not be opened (reported once) */
	bool removed[TCONF_MAX_LUNS];       /* old's LUNs (by index) this reload took out to change */
};

static bool lun_attached(struct iscsi_tgt *t, uint32_t lun)
{
	return scsi_target_find_lun(t->st, lun) != NULL;
}

static bool lun_stale(const struct iscsi_tgt *t, uint32_t lun)
{
	for (uint32_t i = 0; i < t->nstale; i++)
		if (t->stale[i] == lun)
			return true;
	return false;
}

static void lun_set_stale(struct iscsi_tgt *t, uint32_t lun, bool stale)
{
	for (uint32_t i = 0; i < t->nstale; i++)
		if (t->stale[i] == lun) {
			if (!stale)
				t->stale[i] = t->stale[--t->nstale];
			return;
		}
	if (stale && t->nstale < TCONF_MAX_LUNS)
		t->stale[t->nstale++] = lun;
}

/* A LUN of the new configuration that is not in service as it is configured:
 * new, changed (the old one goes), one an earlier reload failed to add, or
 * one still serving its previous configuration (stale). */
static bool lun_to_add(const struct lun_plan *p, const struct tconf_lun *nl)
{
	return !lun_in(nl, p->old) || !lun_attached(p->t, nl->lun) || lun_stale(p->t, nl->lun);
}

/* Index in p->tc of the LUN numbered lun, or -1. */
static int lun_index(const struct tconf_target *tc, uint32_t lun)
{
	for (size_t j = 0; j < tc->nluns && j < TCONF_MAX_LUNS; j++)
		if (tc->luns[j].lun == lun)
			return (int)j;
	return -1;
}

/* A replicated LUN whose old version is still attached: one that holds its
 * replication volume (it can only open after that one closed), or the same
 * device not replicated yet (`replicated: yes` added by this reload: its
 * volume must not attach and start replicating while the old LUN still
 * writes to the device behind its back). */
static bool lun_reopens_volume(const struct lun_plan *p, const struct tconf_lun *nl)
{
	if (!nl->replicated)
		return false;
	for (size_t i = 0; i < p->old->nluns; i++)
		if (strcmp(p->old->luns[i].serial, nl->serial) == 0 && lun_attached(p->t, p->old->luns[i].lun))
			return true;
	return false;
}

/* Whether a replicated LUN's backing path opens, without opening the LUN: its
 * volume may still be held by the LUN's previous version, so that a path typo
 * keeps that version in service instead of removing the LUN and failing to
 * add it back. A missing file is a mistake whatever `create` says: its data
 * is what the metadata describes (repl_wrap refuses a created, empty one). */
static bool lun_path_usable(const struct tconf_lun *nl, char *e, size_t elen)
{
	int fd;

	if (nl->backend == TCONF_BACKEND_NULL || !nl->path[0])
		return true;
	fd = open(nl->path, (nl->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	snprintf(e, elen, "LUN %u: cannot open %.400s: %s", nl->lun, nl->path, strerror(errno));
	return false;
}

/* A changed LUN whose new version cannot be added after the old one was taken
 * out (a replicated LUN: its volume can only open once the old version closed,
 * so its new device could not be tried up front, e.g. a new size its metadata
 * does not describe): its previous version goes back into service instead of
 * a LUN that disappears (ESXi: permanent device loss). Stale, so that the next
 * reload tries the configured version again. */
static bool lun_restore_previous(struct lun_plan *p, uint32_t lun)
{
	char e[512];

	for (size_t i = 0; i < p->old->nluns && i < TCONF_MAX_LUNS; i++) {
		const struct tconf_lun *ol = &p->old->luns[i];

		if (ol->lun != lun || !p->removed[i])
			continue;
		if (scsi_target_add_lun(p->t->st, ol, e, sizeof(e)) < 0) {
			qb_log(LOG_ERR, "iscsi: reload: target %s: LUN %u: its previous version does not open "
			       "again either: %s", p->t->name, lun, e);
			return false;
		}
		lun_set_stale(p->t, lun, true);
		qb_log(LOG_WARNING, "iscsi: reload: target %s: LUN %u keeps its previous device in service: the "
		       "changed one cannot be opened", p->t->name, lun);
		return true;
	}
	return false;
}

static void plans_free(struct lun_plan *plans, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < TCONF_MAX_LUNS; i++)
			if (plans[k].opened[i])
				bdev_close(plans[k].opened[i]);
		if (plans[k].t)
			iscsi_tgt_put(plans[k].t);
	}
	free(plans);
}

/* The first thing a reload could not put in service, for the operator. */
static void note_error(char *err, size_t errlen, int *nerr, const char *where, const char *what)
{
	if ((*nerr)++ == 0)
		snprintf(err, errlen, "%s: %s", where, what);
}

/* Vendor, product, revision and rotation rate are not changed under a LUN
 * in service (INQUIRY data changes would need every host to read them again;
 * taking the LUN away for them would be a device loss for ESXi): a reload
 * that changes them says they wait for the LUN's next open, every time until
 * then. */
static void lun_fit_inquiry(struct iscsi_tgt *t, const struct tconf_lun *nl, char *err, size_t errlen, int *nerr)
{
	char e[512], what[128];

	if (!scsi_target_lun_inquiry_differs(t->st, nl, what, sizeof(what)))
		return;
	snprintf(e, sizeof(e), "LUN %u: a new %s applies when the LUN opens again (restart, or a reload without it "
		 "and one with it); INQUIRY answers the running values until then", nl->lun, what);
	qb_log(LOG_WARNING, "iscsi: reload: target %s: %s", t->name, e);
	note_error(err, errlen, nerr, t->name, e);
}

/* A LUN that stays in service takes its configured size, or with size 0
 * what its device holds now (a file or logical volume grown underneath):
 * compared with the capacity it serves, not with the previous configuration,
 * so that a size an earlier reload could not apply is tried again. */
static void lun_fit_size(struct iscsi_tgt *t, const struct tconf_lun *nl, char *err, size_t errlen, int *nerr)
{
	char e[512];

	if (scsi_target_resize_lun(t->st, nl->lun, nl->size, nl->create, e, sizeof(e)) < 0) {
		qb_log(LOG_ERR, "iscsi: reload: target %s: %s", t->name, e);
		note_error(err, errlen, nerr, t->name, e);
	}
}

int iscsi_reload(const struct tconf *conf, char *err, size_t errlen)
{
	struct iscsi_tgt *added = NULL, *t, **pp;
	struct lun_plan *plans;
	size_t nplans = 0;
	int nerr = 0;
	char e[512];

	/* 1. Open what is new before anything changes: new targets (a target
	 * whose LUN cannot open refuses the reload: the running configuration
	 * stays as it is) and the devices of new and changed LUNs of kept
	 * targets (one that cannot open is left out and reported, like at a
	 * later reload that finds its file: docs/HARDENING.md). */
	plans = calloc(conf->ntargets ? conf->ntargets : 1, sizeof(*plans));
	if (!plans) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < conf->ntargets; i++) {
		const struct tconf_target *tc = &conf->targets[i];
		struct iscsi_tgt *kept = NULL;
		pthread_mutex_lock(&g_iscsi.lock);
		for (t = g_iscsi.tgts; t; t = t->next)
			if (!t->removed && strcasecmp(t->name, tc->name) == 0) {   /* RFC 3722 */
				kept = t;
				t->refs++;
				plans[nplans++] = (struct lun_plan){ .t = t, .old = t->conf, .tc = tc };
			}
		pthread_mutex_unlock(&g_iscsi.lock);
		if (kept) {
			struct lun_plan *p = &plans[nplans - 1];
			for (size_t j = 0; j < tc->nluns; j++) {
				const struct tconf_lun *nl = &tc->luns[j];
				if (j >= TCONF_MAX_LUNS || !lun_to_add(p, nl))
					continue;
				if (lun_reopens_volume(p, nl)) {
					/* its volume opens after the old LUN closed (phase
					 * 3); a path that cannot open at all is known now */
					if (lun_path_usable(nl, e, sizeof(e)))
						continue;
				} else {
					p->opened[j] = scsi_lun_open_bdev(nl, e, sizeof(e));
					/* a replicated one whose volume may be open
					 * elsewhere until phase 3, unless its path is bad */
					if (!p->opened[j] && nl->replicated && lun_path_usable(nl, e, sizeof(e)))
						continue;
				}
				if (!p->opened[j]) {
					p->failed[j] = true;
					if (lun_attached(kept, nl->lun)) {
						size_t l = strlen(e);
						snprintf(e + l, sizeof(e) - l, " (LUN %u keeps its previous device)", nl->lun);
					}
					qb_log(LOG_ERR, "iscsi: reload: target %s: %s", tc->name, e);
					note_error(err, errlen, &nerr, tc->name, e);
				}
			}
			continue;
		}
		t = tgt_create(tc, err, errlen);
		if (!t)
			goto refuse;
		qb_log(LOG_INFO, "iscsi: reload: new target %s", tc->name);
		t->next = added;
		added = t;
	}

	/* 2. The registry: removed targets leave it, new ones join, kept ones
	 * take their new configuration (ACL, CHAP, alias). */
	pthread_mutex_lock(&g_iscsi.lock);
	struct iscsi_tgt *removed = NULL;
	pp = &g_iscsi.tgts;
	while ((t = *pp)) {
		const struct tconf_target *tc = tconf_find_target(conf, t->name);
		if (!tc) {
			*pp = t->next;
			t->removed = true;
			/* its configuration is freed once this reload is done
			 * (main.c); sessions may hold t for a while longer */
			t->conf = NULL;
			t->next = removed;
			removed = t;
			continue;
		}
		t->conf = tc;
		pp = &t->next;
	}
	*pp = added;
	g_iscsi.conf = conf;
	g_iscsi.gc = conf->global;
	pthread_mutex_unlock(&g_iscsi.lock);

	/* 3. LUN changes of kept targets, without the registry lock. */
	for (size_t k = 0; k < nplans; k++) {
		struct lun_plan *p = &plans[k];
		for (size_t i = 0; i < p->old->nluns; i++) {
			const struct tconf_lun *ol = &p->old->luns[i];
			const struct tconf_lun *nl = lun_in(ol, p->tc);

			int j = lun_index(p->tc, ol->lun);
			bool stale = lun_stale(p->t, ol->lun);

			if (!lun_attached(p->t, ol->lun))
				continue;
			/* unchanged, or only its cache mode or size: stays in service */
			if (nl && (!stale || j < 0 || !p->opened[j]) &&
			    (nl->cache == ol->cache || scsi_target_set_lun_cache(p->t->st, nl->lun, nl->cache) == 0)) {
				if (!stale) {   /* a stale LUN's device is an earlier version's */
					lun_fit_size(p->t, nl, err, errlen, &nerr);
					lun_fit_inquiry(p->t, nl, err, errlen, &nerr);
				}
				continue;
			}
			/* changed, but the new device cannot open: taking the LUN away
			 * would be a permanent device loss for the initiators (ESXi
			 * stops the VMs on it) for what may be a typo; the previous
			 * device stays in service until a reload that can open the new
			 * one (the error is reported above) */
			if (j >= 0 && p->failed[j]) {
				qb_log(LOG_WARNING, "iscsi: reload: target %s: LUN %u keeps its previous device in "
				       "service: the changed one cannot be opened", p->t->name, ol->lun);
				lun_set_stale(p->t, ol->lun, true);
				continue;
			}
			qb_log(LOG_INFO, "iscsi: reload: target %s: removing LUN %u", p->t->name, ol->lun);
			scsi_target_remove_lun(p->t->st, ol->lun);
			lun_set_stale(p->t, ol->lun, false);
			/* restorable from old only when old describes the device
			 * that ran (a stale LUN ran an earlier version) */
			if (i < TCONF_MAX_LUNS && !stale)
				p->removed[i] = true;
		}
		for (size_t j = 0; j < p->tc->nluns; j++) {
			const struct tconf_lun *nl = &p->tc->luns[j];
			int rc;

			if (lun_attached(p->t, nl->lun) || (j < TCONF_MAX_LUNS && p->failed[j]))
				continue;
			qb_log(LOG_INFO, "iscsi: reload: target %s: adding LUN %u", p->t->name, nl->lun);
			if (j < TCONF_MAX_LUNS && p->opened[j]) {
				rc = scsi_target_add_lun_bdev(p->t->st, nl, p->opened[j], e, sizeof(e));
				if (rc < 0)
					bdev_close(p->opened[j]);
				p->opened[j] = NULL;
			} else {
				rc = scsi_target_add_lun(p->t->st, nl, e, sizeof(e));
			}
			int oi = lun_index(p->old, nl->lun);
			if (rc >= 0 && oi >= 0 && p->old->luns[oi].cache != nl->cache)
				scsi_target_lun_cache_came_back(p->t->st, nl->lun, p->old->luns[oi].cache);
			if (rc < 0) {
				qb_log(LOG_ERR, "iscsi: reload: target %s: %s", p->t->name, e);
				if (lun_restore_previous(p, nl->lun)) {
					size_t l = strlen(e);
					snprintf(e + l, sizeof(e) - l, " (LUN %u keeps its previous device)", nl->lun);
				}
				note_error(err, errlen, &nerr, p->t->name, e);
			}
		}
	}
	/* access the new configuration takes away */
	for (size_t k = 0; k < nplans; k++)
		revoke_sessions(plans[k].t);
	plans_free(plans, nplans);
	while (removed) {
		t = removed;
		removed = t->next;
		qb_log(LOG_INFO, "iscsi: reload: target %s removed; asking its sessions to log out", t->name);
		revoke_sessions(t);
		iscsi_tgt_put(t);  /* the registry reference; sessions hold theirs */
	}
	if (iscsi_portals_sync(conf, e, sizeof(e)) > 0)
		note_error(err, errlen, &nerr, "portal", e);
	return nerr ? 1 : 0;

refuse:
	tgt_list_destroy(added);
	plans_free(plans, nplans);
	return -1;
}

/* Main thread, periodically: close the devices of LUNs a reload removed
 * while commands were still running on them. */
void iscsi_reap(void)
{
	struct iscsi_tgt **list = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&g_iscsi.lock);
	for (struct iscsi_tgt *t = g_iscsi.tgts; t; t = t->next)
		cap++;
	if (cap)
		list = malloc(cap * sizeof(*list));
	for (struct iscsi_tgt *t = g_iscsi.tgts; t && list && n < cap; t = t->next) {
		t->refs++;
		list[n++] = t;
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	for (size_t i = 0; i < n; i++) {
		scsi_target_reap(list[i]->st);
		iscsi_tgt_put(list[i]);
	}
	free(list);
}

static void kill_all_posted(void *arg)
{
	struct iscsi_session *s = arg;
	iscsi_session_kill(s, "shutdown");
	iscsi_session_release(s);
}

void iscsi_shutdown(void)
{
	struct iscsi_tgt *list;
	int waited = 0, n;

	pthread_mutex_lock(&g_iscsi.lock);
	g_iscsi.shutting_down = true;
	pthread_mutex_unlock(&g_iscsi.lock);
	iscsi_portals_close();
	/* RFC 7143 11.9.1: ask initiators to log out, give them a moment */
	request_logouts(NULL);
	for (;;) {
		pthread_mutex_lock(&g_iscsi.lock);
		n = g_iscsi.nsessions;
		pthread_mutex_unlock(&g_iscsi.lock);
		if (!n || waited >= 2000)
			break;
		usleep(50000);
		waited += 50;
	}
	pthread_mutex_lock(&g_iscsi.lock);
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next) {
		s->nconns++;
		reactor_post(s->r, kill_all_posted, s);
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	for (waited = 0; waited < 5000; waited += 20) {
		pthread_mutex_lock(&g_iscsi.lock);
		n = g_iscsi.nsessions;
		pthread_mutex_unlock(&g_iscsi.lock);
		if (!n)
			break;
		usleep(20000);
	}
	pthread_mutex_lock(&g_iscsi.lock);
	list = g_iscsi.tgts;
	g_iscsi.tgts = NULL;
	pthread_mutex_unlock(&g_iscsi.lock);
	while (list) {
		struct iscsi_tgt *t = list;
		list = t->next;
		t->removed = true;
		iscsi_tgt_put(t);
	}
	pthread_mutex_lock(&g_iscsi.lock);
	g_iscsi.conf = NULL;
	pthread_mutex_unlock(&g_iscsi.lock);
}

static void lun_json(const struct scsi_lun_info *li, void *arg)
{
	struct json_writer *w = arg;

	json_obj_begin(w, NULL);
	json_uint(w, "lun", li->lun);
	json_str(w, "backend", li->backend);
	json_str(w, "path", li->path);
	json_uint(w, "size", li->size);
	json_uint(w, "block_size", li->block_size);
	json_str(w, "cache", li->cache);
	json_bool(w, "wce", li->wce);
	json_str(w, "serial", li->serial);
	json_uint(w, "reads", li->reads);
	json_uint(w, "writes", li->writes);
	json_uint(w, "read_bytes", li->read_bytes);
	json_uint(w, "write_bytes", li->write_bytes);
	json_uint(w, "errors", li->errors);
	json_obj_end(w);
}

void iscsi_status(struct json_writer *w)
{
	uint64_t tot_cmds = 0, tot_rd = 0, tot_wr = 0, tot_err = 0, nconns = 0;
	char isid[13];

	pthread_mutex_lock(&g_iscsi.lock);
	json_arr_begin(w, "targets");
	for (struct iscsi_tgt *t = g_iscsi.tgts; t; t = t->next) {
		json_obj_begin(w, NULL);
		json_str(w, "name", t->name);
		json_str(w, "alias", t->conf ? t->conf->alias : "");
		json_bool(w, "chap", t->conf && t->conf->chap_enabled);
		json_arr_begin(w, "luns");
		scsi_target_foreach_lun(t->st, lun_json, w);
		json_arr_end(w);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_arr_begin(w, "portals");
	for (struct iscsi_portal *pt = g_iscsi.portals; pt; pt = pt->next) {
		json_obj_begin(w, NULL);
		json_str(w, "portal_group", pt->pg_name);
		json_uint(w, "tag", pt->tag);
		json_str(w, "address", pt->addr);
		json_uint(w, "port", pt->port);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_arr_begin(w, "sessions");
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next) {
		for (int i = 0; i < ISCSI_ISID_LEN; i++)
			snprintf(isid + 2 * i, 3, "%02x", s->isid[i]);
		json_obj_begin(w, NULL);
		json_str(w, "initiator", s->initiator);
		json_str(w, "initiator_alias", s->initiator_alias);
		json_str(w, "isid", isid);
		json_uint(w, "tsih", s->tsih);
		json_str(w, "type", s->type == ISCSI_SESSION_NORMAL ? "normal" : "discovery");
		json_str(w, "target", s->target_name);
		json_uint(w, "exp_cmdsn", STAT_GET(s->exp_cmdsn));
		json_uint(w, "max_cmdsn", STAT_GET(s->max_cmdsn));
		json_arr_begin(w, "connections");
		for (struct iscsi_conn *c = s->conns; c; c = c->snext) {
			json_obj_begin(w, NULL);
			json_uint(w, "cid", c->cid);
			json_str(w, "peer", c->peer);
			json_str(w, "local", c->local);
			json_str(w, "reactor", c->r ? reactor_name(c->r) : "");
			json_bool(w, "header_digest", c->p.header_digest);
			json_bool(w, "data_digest", c->p.data_digest);
			json_uint(w, "max_recv_dsl", c->p.max_recv_dsl);
			json_uint(w, "max_xmit_dsl", c->p.max_xmit_dsl);
			/* each counter read once: the totals add what the lines show */
			uint64_t cmds = STAT_GET(c->st_cmds), rd = STAT_GET(c->st_read_bytes);
			uint64_t wr = STAT_GET(c->st_write_bytes), errs = STAT_GET(c->st_errors);
			json_uint(w, "cmds", cmds);
			json_uint(w, "read_bytes", rd);
			json_uint(w, "write_bytes", wr);
			json_uint(w, "errors", errs);
			json_uint(w, "pdus_in", STAT_GET(c->st_pdus_in));
			json_uint(w, "pdus_out", STAT_GET(c->st_pdus_out));
			json_obj_end(w);
			tot_cmds += cmds;
			tot_rd += rd;
			tot_wr += wr;
			tot_err += errs;
			nconns++;
		}
		json_arr_end(w);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_obj_begin(w, "counters");
	json_uint(w, "sessions", (uint64_t)g_iscsi.nsessions);
	json_uint(w, "connections", nconns);
	json_uint(w, "cmds", tot_cmds);
	json_uint(w, "read_bytes", tot_rd);
	json_uint(w, "write_bytes", tot_wr);
	json_uint(w, "errors", tot_err);
	/* batching under load: pauses the I/O reactors took (reactor_batch_hint) */
	uint64_t pauses = 0;
	for (int i = 0; i < reactor_pool_size(); i++)
		pauses += reactor_batch_pauses(reactor_pool_get(i));
	json_uint(w, "batch_pauses", pauses);
	json_obj_end(w);
	pthread_mutex_unlock(&g_iscsi.lock);
}

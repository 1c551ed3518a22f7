/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Persistent reservations (SPC-4 5.13): the state machine that turns one
 * PERSISTENT RESERVE OUT into a new reservation record, the per-LUN glue
 * that applies it under a lock, saves APTPL state before completion and
 * delivers unit attentions and aborts, and the reservation check the
 * dispatcher runs when a LUN has any reservation at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"

#define NO_UA 0xff

/* ---------------------------------------------------------------- identities */

/* ",i,0x" separating iSCSI name and ISID in an initiator port name
 * (SPC-4 7.6.4.6), case-insensitive; NULL for a bare name. */
static const char *port_sep(const char *s)
{
	for (; *s; s++)
		if (s[0] == ',' && (s[1] | 0x20) == 'i' && s[2] == ',' && s[3] == '0' && (s[4] | 0x20) == 'x')
			return s;
	return NULL;
}

bool scsi_pr_id_match(const struct scsi_pr_id *reg, const char *initiator, uint16_t rel_port_id)
{
	if (!reg->all_tg_pt && reg->rel_port_id != rel_port_id)
		return false;
	if (port_sep(reg->initiator))
		return strcasecmp(reg->initiator, initiator) == 0;
	/* TransportID format 00b: every initiator port of that iSCSI name */
	const char *sep = port_sep(initiator);
	size_t n = sep ? (size_t)(sep - initiator) : strlen(initiator);
	return strlen(reg->initiator) == n && strncasecmp(reg->initiator, initiator, n) == 0;
}

static bool id_equal(const struct scsi_pr_id *a, const struct scsi_pr_id *b)
{
	return strcasecmp(a->initiator, b->initiator) == 0 && a->all_tg_pt == b->all_tg_pt &&
	       (a->all_tg_pt || a->rel_port_id == b->rel_port_id);
}

int scsi_pr_find(const struct scsi_pr_state *s, const struct scsi_pr_id *id)
{
	for (uint32_t i = 0; i < s->nregs; i++)
		if (scsi_pr_id_match(&s->regs[i].id, id->initiator, id->rel_port_id))
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- record */

static bool type_valid(uint8_t t)
{
	return t == SCSI_PR_WR_EX || t == SCSI_PR_EX_AC || t == SCSI_PR_WR_EX_RO || t == SCSI_PR_EX_AC_RO ||
	       t == SCSI_PR_WR_EX_AR || t == SCSI_PR_EX_AC_AR;
}

static bool type_ar(uint8_t t) { return t == SCSI_PR_WR_EX_AR || t == SCSI_PR_EX_AC_AR; }
static bool type_ro(uint8_t t) { return t == SCSI_PR_WR_EX_RO || t == SCSI_PR_EX_AC_RO; }
static bool type_we(uint8_t t) { return t == SCSI_PR_WR_EX || t == SCSI_PR_WR_EX_RO || t == SCSI_PR_WR_EX_AR; }

void scsi_pr_state_init(struct scsi_pr_state *s)
{
	memset(s, 0, sizeof(*s));
}

void scsi_pr_state_free(struct scsi_pr_state *s)
{
	free(s->regs);
	memset(s, 0, sizeof(*s));
}

int scsi_pr_state_copy(struct scsi_pr_state *dst, const struct scsi_pr_state *src)
{
	*dst = *src;
	dst->regs = NULL;
	dst->cap = 0;
	if (src->nregs) {
		dst->regs = malloc(src->nregs * sizeof(*dst->regs));
		if (!dst->regs) {
			dst->nregs = 0;
			return -1;
		}
		memcpy(dst->regs, src->regs, src->nregs * sizeof(*dst->regs));
		dst->cap = src->nregs;
	}
	return 0;
}

void scsi_pr_result_free(struct scsi_pr_result *r)
{
	free(r->eff);
	r->eff = NULL;
	r->neff = r->effcap = 0;
	free(r->rec);
	r->rec = NULL;
	r->reclen = 0;
}

static int eff_add(struct scsi_pr_result *r, const struct scsi_pr_id *id, uint8_t ua, bool abort)
{
	if (r->neff == r->effcap) {
		uint32_t cap = r->effcap ? r->effcap * 2 : 8;
		struct scsi_pr_effect *n = realloc(r->eff, cap * sizeof(*n));
		if (!n)
			return -1;
		r->eff = n;
		r->effcap = cap;
	}
	r->eff[r->neff].id = *id;
	r->eff[r->neff].ua = ua;
	r->eff[r->neff].abort = abort;
	r->neff++;
	return 0;
}

static enum scsi_pr_rc reg_add(struct scsi_pr_state *s, const struct scsi_pr_id *id, uint64_t key)
{
	if (s->nregs >= SCSI_PR_MAX_REGS)
		return SCSI_PR_NO_RESOURCES;
	if (s->nregs == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 4;
		struct scsi_pr_reg *n = realloc(s->regs, cap * sizeof(*n));
		if (!n)
			return SCSI_PR_NO_RESOURCES;
		s->regs = n;
		s->cap = cap;
	}
	struct scsi_pr_reg *r = &s->regs[s->nregs++];
	memset(r, 0, sizeof(*r));
	r->id = *id;
	r->key = key;
	return SCSI_PR_OK;
}

static void reg_del(struct scsi_pr_state *s, uint32_t i)
{
	memmove(&s->regs[i], &s->regs[i + 1], (s->nregs - i - 1) * sizeof(*s->regs));
	s->nregs--;
}

static void release_resv(struct scsi_pr_state *s)
{
	s->type = SCSI_PR_TYPE_NONE;
	s->scope = 0;
	for (uint32_t i = 0; i < s->nregs; i++)
		s->regs[i].holder = false;
}

/* UA for every registrant but the issuer `me` (index, may be -1). */
static int ua_others(struct scsi_pr_state *s, int me, uint8_t ua, struct scsi_pr_result *r)
{
	for (uint32_t i = 0; i < s->nregs; i++)
		if ((int)i != me && eff_add(r, &s->regs[i].id, ua, false) < 0)
			return -1;
	return 0;
}

/* SPC-4 5.13.11.3: removing the holder's registration releases a non
 * all-registrants reservation (UA RESERVATIONS RELEASED to the other
 * registrants for the registrants-only types); an all-registrants one goes
 * with its last registrant. */
static enum scsi_pr_rc unregister(struct scsi_pr_state *s, int me, struct scsi_pr_result *r)
{
	if (s->type) {
		if (type_ar(s->type)) {
			if (s->nregs == 1)
				release_resv(s);
		} else if (s->regs[me].holder) {
			uint8_t old = s->type;
			release_resv(s);
			if (type_ro(old) && ua_others(s, me, SCSI_UA_RESERVATIONS_RELEASED, r) < 0)
				return SCSI_PR_NO_RESOURCES;
		}
	}
	reg_del(s, (uint32_t)me);
	return SCSI_PR_OK;
}

/* Remove every registration with `key` except the issuer's, noting
 * REGISTRATIONS PREEMPTED (and the abort) for each. *me is kept pointing at
 * the issuer. Returns how many went, or -1. */
static int remove_key(struct scsi_pr_state *s, uint64_t key, bool all, int *me, bool abort, struct scsi_pr_result *r)
{
	int n = 0;
	for (uint32_t i = 0; i < s->nregs;) {
		if ((int)i == *me || (!all && s->regs[i].key != key)) {
			i++;
			continue;
		}
		if (eff_add(r, &s->regs[i].id, SCSI_UA_REGISTRATIONS_PREEMPTED, abort) < 0)
			return -1;
		reg_del(s, i);
		if ((int)i < *me)
			(*me)--;
		n++;
	}
	return n;
}

static enum scsi_pr_rc bad(struct scsi_pr_result *r, enum scsi_pr_rc rc, uint16_t field, int bit)
{
	r->field = field;
	r->bit = (int8_t)bit;
	return rc;
}

/* SPC-4 5.13.7 (registering), table 50 */
static enum scsi_pr_rc do_register(struct scsi_pr_state *s, const struct scsi_pr_change *c, int me,
				   struct scsi_pr_result *r)
{
	bool ignore = c->sa == SCSI_PR_REGISTER_AND_IGNORE;
	enum scsi_pr_rc rc;

	if (c->spec_i_pt && (ignore || me >= 0))
		return bad(r, SCSI_PR_BAD_PARAM, 20, 3);
	if (me < 0) {
		if (!ignore && c->key != 0)
			return SCSI_PR_CONFLICT;
		if (c->sa_key == 0)
			return SCSI_PR_OK;      /* nothing registered, nothing to do */
		struct scsi_pr_id self = c->from;
		self.all_tg_pt = c->all_tg_pt;
		if ((rc = reg_add(s, &self, c->sa_key)) != SCSI_PR_OK)
			return rc;
		/* SPC-4 6.16.3: SPEC_I_PT registers every TransportID too, through
		 * this target port (or all of them with ALL_TG_PT); all or nothing */
		for (uint32_t i = 0; i < c->ntids; i++) {
			struct scsi_pr_id tid = c->tids[i];
			tid.rel_port_id = c->from.rel_port_id;
			tid.all_tg_pt = c->all_tg_pt;
			for (uint32_t j = 0; j < s->nregs; j++)
				if (id_equal(&s->regs[j].id, &tid))
					return bad(r, SCSI_PR_BAD_PARAM, 24, -1);
			if ((rc = reg_add(s, &tid, c->sa_key)) != SCSI_PR_OK)
				return rc;
		}
	} else {
		if (!ignore && c->key != s->regs[me].key)
			return SCSI_PR_CONFLICT;
		if (c->sa_key == 0) {
			if ((rc = unregister(s, me, r)) != SCSI_PR_OK)
				return rc;
		} else {
			s->regs[me].key = c->sa_key;
		}
	}
	s->aptpl = c->aptpl;
	s->generation++;
	return SCSI_PR_OK;
}

/* A PREEMPT that leaves the reservation alone: the registrations of the
 * SERVICE ACTION RESERVATION KEY go (a key of 0 is invalid here, and one that
 * no registration holds is a conflict). The issuer's own key is a registered
 * key (SPC-4 5.13.11.2.4: "does not match any registered reservation key"):
 * with no other holder of it nothing goes, and the command is GOOD. */
static enum scsi_pr_rc preempt_registrations(struct scsi_pr_state *s, const struct scsi_pr_change *c, int *me,
					     bool abort, struct scsi_pr_result *r)
{
	bool own = s->regs[*me].key == c->sa_key;
	int n;

	if (c->sa_key == 0)
		return bad(r, SCSI_PR_BAD_PARAM, 8, -1);
	if ((n = remove_key(s, c->sa_key, false, me, abort, r)) < 0)
		return SCSI_PR_NO_RESOURCES;
	if (n == 0 && !own)
		return SCSI_PR_CONFLICT;
	s->generation++;
	return SCSI_PR_OK;
}

/* SPC-4 5.13.11.2.4: PREEMPT and PREEMPT AND ABORT */
static enum scsi_pr_rc do_preempt(struct scsi_pr_state *s, const struct scsi_pr_change *c, int me,
				  struct scsi_pr_result *r)
{
	bool abort = c->sa == SCSI_PR_PREEMPT_AND_ABORT;

	/* no reservation, or an all-registrants one kept: only registrations go */
	if (!s->type || (type_ar(s->type) && c->sa_key != 0))
		return preempt_registrations(s, c, &me, abort, r);
	if (c->scope != 0)
		return bad(r, SCSI_PR_BAD_CDB, 2, 7);
	if (!type_valid(c->type))
		return bad(r, SCSI_PR_BAD_CDB, 2, 3);

	uint8_t old_type = s->type;
	if (type_ar(s->type)) {
		/* SARK 0 preempts an all-registrants reservation: every other
		 * registration goes and the issuer holds the new one */
		if (remove_key(s, 0, true, &me, abort, r) < 0)
			return SCSI_PR_NO_RESOURCES;
	} else {
		uint32_t h = 0;
		while (h < s->nregs && !s->regs[h].holder)
			h++;
		/* SARK is not the holder's key: remove registrations only */
		if (h == s->nregs || s->regs[h].key != c->sa_key)
			return preempt_registrations(s, c, &me, abort, r);
		if (remove_key(s, c->sa_key, false, &me, abort, r) < 0)
			return SCSI_PR_NO_RESOURCES;
	}
	release_resv(s);
	s->type = c->type;
	s->scope = c->scope;
	if (!type_ar(c->type))
		s->regs[me].holder = true;
	/* type changed: the registrants still there learn the old one is gone */
	if (old_type != c->type && ua_others(s, me, SCSI_UA_RESERVATIONS_RELEASED, r) < 0)
		return SCSI_PR_NO_RESOURCES;
	s->generation++;
	return SCSI_PR_OK;
}

/* SPC-4 5.13.8: REGISTER AND MOVE */
static enum scsi_pr_rc do_move(struct scsi_pr_state *s, const struct scsi_pr_change *c, int me,
			       struct scsi_pr_result *r)
{
	enum scsi_pr_rc rc;

	if (!s->type || type_ar(s->type) || !s->regs[me].holder)
		return SCSI_PR_CONFLICT;
	if (s->regs[me].id.all_tg_pt)
		return bad(r, SCSI_PR_BAD_CDB, 1, 4);
	if (c->ntids != 1)
		return bad(r, SCSI_PR_BAD_PARAM, 24, -1);
	if (c->sa_key == 0)
		return bad(r, SCSI_PR_BAD_PARAM, 8, -1);
	struct scsi_pr_id dest = c->tids[0];
	dest.all_tg_pt = false;
	if (scsi_pr_id_match(&dest, c->from.initiator, c->from.rel_port_id))
		return bad(r, SCSI_PR_BAD_PARAM, 24, -1);
	int d = -1;
	for (uint32_t i = 0; i < s->nregs; i++)
		if (id_equal(&s->regs[i].id, &dest))
			d = (int)i;
	if (d < 0) {
		if ((rc = reg_add(s, &dest, c->sa_key)) != SCSI_PR_OK)
			return rc;
		d = (int)s->nregs - 1;
	} else {
		s->regs[d].key = c->sa_key;
	}
	s->regs[me].holder = false;
	s->regs[d].holder = true;
	if (c->unreg)
		reg_del(s, (uint32_t)me);
	s->aptpl = c->aptpl;
	s->generation++;
	return SCSI_PR_OK;
}

static enum scsi_pr_rc do_apply(struct scsi_pr_state *s, const struct scsi_pr_change *c, struct scsi_pr_result *r)
{
	int me = scsi_pr_find(s, &c->from);

	if (c->sa == SCSI_PR_REGISTER || c->sa == SCSI_PR_REGISTER_AND_IGNORE)
		return do_register(s, c, me, r);
	if (c->sa > SCSI_PR_REGISTER_AND_MOVE)
		return bad(r, SCSI_PR_BAD_CDB, 1, 4);
	/* every other service action needs the issuer registered with that key */
	if (me < 0 || s->regs[me].key != c->key)
		return SCSI_PR_CONFLICT;

	switch (c->sa) {
	case SCSI_PR_RESERVE: {         /* SPC-4 5.13.9 */
		if (c->scope != 0)
			return bad(r, SCSI_PR_BAD_CDB, 2, 7);
		if (!type_valid(c->type))
			return bad(r, SCSI_PR_BAD_CDB, 2, 3);
		if (!s->type) {
			s->type = c->type;
			s->scope = c->scope;
			if (!type_ar(c->type))
				s->regs[me].holder = true;
			return SCSI_PR_OK;
		}
		bool holder = type_ar(s->type) || s->regs[me].holder;
		return holder && s->type == c->type ? SCSI_PR_OK : SCSI_PR_CONFLICT;
	}
	case SCSI_PR_RELEASE: {         /* SPC-4 5.13.11.2.2 */
		if (!s->type || !(type_ar(s->type) || s->regs[me].holder))
			return SCSI_PR_OK;
		if (c->scope != s->scope || c->type != s->type)
			return SCSI_PR_BAD_RELEASE;
		uint8_t old = s->type;
		release_resv(s);
		if ((type_ro(old) || type_ar(old)) && ua_others(s, me, SCSI_UA_RESERVATIONS_RELEASED, r) < 0)
			return SCSI_PR_NO_RESOURCES;
		return SCSI_PR_OK;
	}
	case SCSI_PR_CLEAR:             /* SPC-4 5.13.11.2.6 */
		if (ua_others(s, me, SCSI_UA_RESERVATIONS_PREEMPTED, r) < 0)
			return SCSI_PR_NO_RESOURCES;
		release_resv(s);
		s->nregs = 0;
		s->generation++;
		return SCSI_PR_OK;
	case SCSI_PR_PREEMPT:
		return do_preempt(s, c, me, r);
	case SCSI_PR_PREEMPT_AND_ABORT: {
		/* SPC-4 5.13.11.2.5: the commands of every nexus whose registration
		 * is preempted are aborted, but for the PR OUT itself; when the
		 * SERVICE ACTION RESERVATION KEY is the issuer's own, that includes
		 * the issuer's (its registration stays, so no unit attention) */
		struct scsi_pr_id self = s->regs[me].id;
		bool own = c->sa_key == s->regs[me].key;
		enum scsi_pr_rc rc = do_preempt(s, c, me, r);
		if (rc == SCSI_PR_OK && own && eff_add(r, &self, NO_UA, true) < 0)
			return SCSI_PR_NO_RESOURCES;
		return rc;
	}
	case SCSI_PR_REGISTER_AND_MOVE:
		return do_move(s, c, me, r);
	default:
		return bad(r, SCSI_PR_BAD_CDB, 1, 4);
	}
}

enum scsi_pr_rc scsi_pr_state_apply(struct scsi_pr_state *s, const struct scsi_pr_change *c,
				    struct scsi_pr_result *r)
{
	struct scsi_pr_state n;

	r->neff = 0;
	r->field = 0;
	r->bit = -1;
	if (scsi_pr_state_copy(&n, s) < 0)
		return r->rc = SCSI_PR_NO_RESOURCES;
	enum scsi_pr_rc rc = do_apply(&n, c, r);
	if (rc == SCSI_PR_OK) {
		scsi_pr_state_free(s);
		*s = n;
	} else {
		scsi_pr_state_free(&n);
		r->neff = 0;
	}
	return r->rc = rc;
}

/* ---------------------------------------------------------------- the LUN side */

static void resv_publish(struct scsi_lun *lu)
{
	struct scsi_pr *pr = lu->pr;
	unsigned v = (pr->st.type ? SCSI_RESV_PR : 0) | (pr->r2_holder ? SCSI_RESV_SPC2 : 0);
	atomic_store_explicit(&lu->resv_active, v, memory_order_release);
}

/* Serialise the record into a new buffer; pr->lock held. with_mode: with
 * the LUN's mode parameters (what a replicated LUN's peer installs). */
static size_t snapshot_locked(struct scsi_lun *lu, uint8_t **out, bool with_mode)
{
	struct scsi_pr *pr = lu->pr;
	struct scsi_mode_rec m = {
		.wce = atomic_load(&lu->wce), .wce_saved = atomic_load(&lu->wce_saved),
		.swp = atomic_load(&lu->swp), .swp_saved = atomic_load(&lu->swp_saved),
		.sanitize = (uint8_t)atomic_load(&lu->sanitize_state), .san_ause = atomic_load(&lu->sanitize_ause),
	};
	size_t len = scsi_pr_serialize_ext(&pr->st, with_mode ? &m : NULL, NULL, 0);

	*out = malloc(len);
	if (!*out)
		return 0;
	scsi_pr_serialize_ext(&pr->st, with_mode ? &m : NULL, *out, len);
	return len;
}

size_t scsi_pr_record_next_locked(struct scsi_lun *lu, uint8_t **rec, uint64_t *seq)
{
	*seq = ++lu->pr->seq;
	return snapshot_locked(lu, rec, true);
}

/* The Primary's mode parameters, from its record: current and saved as
 * there (a Secondary serves no media access, but it is the same logical
 * unit once promoted). Saved values changed here are saved here too; the
 * nexuses of this node learn through MODE PARAMETERS CHANGED. pr->lock held. */
static void install_mode_locked(struct scsi_lun *lu, const struct scsi_mode_rec *m, bool *saved_changed,
				bool *current_changed)
{
	bool nv = atomic_load(&lu->cache) == TCONF_CACHE_NV;     /* WCE is fixed at 0 there */
	bool wce = m->wce && !nv, wce_saved = m->wce_saved && !nv;

	pthread_mutex_lock(&lu->lock);
	*saved_changed = atomic_load(&lu->wce_saved) != wce_saved || atomic_load(&lu->swp_saved) != m->swp_saved;
	*current_changed = atomic_load(&lu->wce) != wce || atomic_load(&lu->swp) != m->swp;
	atomic_store(&lu->wce, wce);
	atomic_store(&lu->wce_saved, wce_saved);
	atomic_store(&lu->swp, m->swp);
	atomic_store(&lu->swp_saved, m->swp_saved);
	pthread_mutex_unlock(&lu->lock);
	/* SANITIZE runs on the Primary only: here a running operation is an
	 * interrupted one if this node is promoted. SBC-3 lets a device resume
	 * an interrupted sanitize after power on or fail it; no context
	 * continues it here, so it is failure mode (restricted unless it asked
	 * for AUSE), never idle with the medium half erased. An operation of
	 * this node's own (it was Primary a moment ago) ends by itself: the
	 * peer's state waits for that end (sanitize.c san_end), or for the end
	 * record's answer when that record is still travelling. */
	unsigned st = m->sanitize;
	if (st == SCSI_SANITIZE_RUNNING)
		st = scsi_sanitize_failed_state(m->san_ause);
	unsigned cur = atomic_load(&lu->sanitize_state);
	if (cur == SCSI_SANITIZE_RUNNING || atomic_load(&lu->sanitize_ending))
		atomic_store(&lu->sanitize_peer, st + 1);
	if (cur != SCSI_SANITIZE_RUNNING && cur != st) {
		atomic_store(&lu->sanitize_progress, 0);
		atomic_store_explicit(&lu->sanitize_state, st, memory_order_release);
		qb_log(LOG_NOTICE, "scsi: LUN %u: sanitize state from the peer: %s", lu->id,
		       st == SCSI_SANITIZE_IDLE ? "idle" : "failure mode (an operation did not complete)");
	}
}

struct record_send {
	struct bdev_io io;
	struct iovec iov;
	struct scsi_lun *lu;
	uint8_t *rec;
	const char *why;
};

static void record_sent(struct bdev_io *io)
{
	struct record_send *rs = io->cb_arg;

	if (io->status && io->status != -BDEV_E_NOT_ACTIVE) {
		qb_log(LOG_ERR, "scsi: LUN %u: the record after %s did not reach the peer: %s", rs->lu->id, rs->why,
		       strerror(-io->status));
		/* its mode parameters with it: the next MODE SELECT sends them */
		atomic_store(&rs->lu->mode_unsettled, true);
	}
	scsi_lun_unpin(rs->lu);
	free(rs->rec);
	free(rs);
}

int scsi_pr_record_send(struct scsi_lun *lu, const char *why)
{
	struct record_send *rs;
	uint64_t seq;

	if (!lu->pr || !lu->pr->replicated || !lu->bdev || !bdev_state_writable(lu->bdev))
		return 0;
	if (!(rs = calloc(1, sizeof(*rs))))
		goto oom;
	pthread_mutex_lock(&lu->pr->lock);
	size_t len = scsi_pr_record_next_locked(lu, &rs->rec, &seq);
	pthread_mutex_unlock(&lu->pr->lock);
	if (!len) {
		free(rs);
		goto oom;
	}
	if (!lu->tgt || !scsi_lun_pin(lu->tgt, lu)) {   /* removed: its peer gets the next push */
		free(rs->rec);
		free(rs);
		return 0;
	}
	rs->lu = lu;
	rs->why = why;
	bdev_io_prep(&rs->io, &rs->iov, BDEV_IO_STATE, 0, seq, rs->rec, len, record_sent, rs);
	bdev_submit(lu->bdev, &rs->io);
	return 0;
oom:
	qb_log(LOG_ERR, "scsi: LUN %u: out of memory: the record after %s stays on this node", lu->id, why);
	return -1;
}

/* ---------------------------------------------------------------- the peer's copy */

/* The replicating device's callbacks (bdev.h struct bdev_state_handler): the
 * record travels as the APTPL file's bytes. */
static int state_install(void *arg, const uint8_t *rec, size_t len, uint64_t seq, bool force)
{
	return scsi_pr_install_seq(arg, rec, len, seq, force);
}

static size_t state_snapshot(void *arg, uint8_t **rec, uint64_t *seq, unsigned level)
{
	struct scsi_lun *lu = arg;

	pthread_mutex_lock(&lu->pr->lock);
	size_t len = snapshot_locked(lu, rec, level >= BDEV_STATE_LEVEL_MODE);
	*seq = lu->pr->seq;
	pthread_mutex_unlock(&lu->pr->lock);
	return len;
}

static const struct bdev_state_handler pr_state_handler = {
	.install = state_install,
	.snapshot = state_snapshot,
};

int scsi_pr_lun_init(struct scsi_lun *lu)
{
	char path[TCONF_PATH_MAX + 128];
	uint8_t *rec = NULL;

	atomic_init(&lu->resv_active, 0);
	lu->pr = calloc(1, sizeof(*lu->pr));
	if (!lu->pr)
		return -1;
	pthread_mutex_init(&lu->pr->lock, NULL);
	scsi_pr_state_init(&lu->pr->st);

	/* SPC-4 5.13.5: restore what APTPL asked to keep */
	scsi_pr_path(lu->serial, path, sizeof(path));
	long n = scsi_pr_store_load(path, &rec);
	if (n == 0) {
		/* written under the old naming (scsi_pr_path_v1): moved to the new
		 * name, so that a later APTPL=0 removes the only copy */
		char old[TCONF_PATH_MAX + 128];
		scsi_pr_path_v1(lu->serial, old, sizeof(old));
		if (strcmp(old, path) != 0 && (n = scsi_pr_store_load(old, &rec)) > 0) {
			if (scsi_pr_store_save(path, rec, (size_t)n) == 0)
				(void)scsi_pr_store_remove(old);
			else
				snprintf(path, sizeof(path), "%s", old);
		}
	}
	if (n < 0) {
		qb_log(LOG_WARNING, "scsi: LUN %u: cannot read reservation state %s: %s", lu->id, path, strerror((int)-n));
	} else if (n > 0) {
		struct scsi_pr_state st;
		scsi_pr_state_init(&st);
		if (scsi_pr_deserialize(&st, rec, (size_t)n) < 0) {
			qb_log(LOG_ERR, "scsi: LUN %u: %s is corrupt (bad record or checksum), reservations not restored",
			       lu->id, path);
		} else if (st.aptpl) {
			lu->pr->st = st;
			scsi_pr_state_init(&st);
			qb_log(LOG_NOTICE, "scsi: LUN %u: restored %u registration(s)%s from %s", lu->id,
			       lu->pr->st.nregs, lu->pr->st.type ? " and a reservation" : "", path);
		}
		scsi_pr_state_free(&st);
	}
	free(rec);
	resv_publish(lu);
	/* a replicated LUN: the record follows the data to the peer (the device
	 * delivers the newest record it already holds at once) */
	if (bdev_carries_state(lu->bdev)) {
		lu->pr->replicated = true;
		if (bdev_state_attach(lu->bdev, &pr_state_handler, lu) < 0)
			qb_log(LOG_ERR, "scsi: LUN %u: reservations will not follow the data to the peer", lu->id);
	}
	return 0;
}

void scsi_pr_lun_fini(struct scsi_lun *lu)
{
	if (!lu->pr)
		return;
	if (lu->pr->replicated && lu->bdev)
		bdev_state_attach(lu->bdev, NULL, NULL);
	scsi_pr_state_free(&lu->pr->st);
	pthread_mutex_destroy(&lu->pr->lock);
	free(lu->pr);
	lu->pr = NULL;
}

/* Save before the command completes (SPC-4 5.13.5); drop the file when APTPL
 * was turned off. Called with pr->lock held. */
static int persist(struct scsi_lun *lu, const struct scsi_pr_state *old, const struct scsi_pr_state *n)
{
	char path[TCONF_PATH_MAX + 128];
	int rc;

	if (!old->aptpl && !n->aptpl)
		return 0;
	scsi_pr_path(lu->serial, path, sizeof(path));
	if (!n->aptpl) {
		rc = scsi_pr_store_remove(path);
	} else {
		size_t len = scsi_pr_serialize(n, NULL, 0);
		uint8_t *rec = malloc(len);
		if (!rec)
			return -1;
		scsi_pr_serialize(n, rec, len);
		rc = scsi_pr_store_save(path, rec, len);
		free(rec);
	}
	if (rc < 0)
		qb_log(LOG_ERR, "scsi: LUN %u: cannot save reservation state %s: %s", lu->id, path, strerror(-rc));
	return rc;
}

/* Unit attentions and aborts reach the live nexuses that match each
 * effect's identity. The issuing nexus never gets a unit attention; it gets
 * the abort of a PREEMPT AND ABORT of its own key, which the transport runs
 * on its tasks but the PR OUT (c->by). */
static void deliver(struct scsi_lun *lu, const struct scsi_pr_change *c, const struct scsi_pr_result *r)
{
	struct scsi_target *tgt = lu->tgt;

	if (!r->neff || !tgt)
		return;
	pthread_mutex_lock(&tgt->lock);
	for (struct scsi_itn *i = tgt->itns; i; i = i->next) {
		bool issuer = strcasecmp(i->initiator, c->from.initiator) == 0 &&
			      i->port.rel_port_id == c->from.rel_port_id;
		bool abort = false;
		for (uint32_t e = 0; e < r->neff; e++) {
			if (!scsi_pr_id_match(&r->eff[e].id, i->initiator, i->port.rel_port_id))
				continue;
			if (r->eff[e].ua != NO_UA && !issuer)
				scsi_ua_establish(i, lu->id, (enum scsi_ua)r->eff[e].ua);
			abort |= r->eff[e].abort;
		}
		if (abort && i->abort_cb)
			i->abort_cb(i->abort_arg, lu->id, c->by);
	}
	pthread_mutex_unlock(&tgt->lock);
}

enum scsi_pr_rc scsi_pr_apply(struct scsi_lun *lu, const struct scsi_pr_change *c, struct scsi_pr_result *r)
{
	struct scsi_pr *pr = lu->pr;
	struct scsi_pr_state n;

	r->neff = 0;
	pthread_mutex_lock(&pr->lock);
	if (pr->r2_holder) {
		/* SPC-2 5.5.1: no persistent reservation business under RESERVE */
		pthread_mutex_unlock(&pr->lock);
		return r->rc = SCSI_PR_CONFLICT;
	}
	if (scsi_pr_state_copy(&n, &pr->st) < 0) {
		pthread_mutex_unlock(&pr->lock);
		return r->rc = SCSI_PR_NO_RESOURCES;
	}
	if (scsi_pr_state_apply(&n, c, r) != SCSI_PR_OK || persist(lu, &pr->st, &n) < 0) {
		if (r->rc == SCSI_PR_OK)
			r->rc = SCSI_PR_STORE_FAILED;
		r->neff = 0;
		scsi_pr_state_free(&n);
		pthread_mutex_unlock(&pr->lock);
		return r->rc;
	}
	scsi_pr_state_free(&pr->st);
	pr->st = n;
	if (pr->replicated) {
		r->seq = ++pr->seq;
		r->reclen = snapshot_locked(lu, &r->rec, true);
	}
	resv_publish(lu);
	deliver(lu, c, r);
	pthread_mutex_unlock(&pr->lock);
	return SCSI_PR_OK;
}

int scsi_pr_install_seq(struct scsi_lun *lu, const uint8_t *rec, size_t len, uint64_t seq, bool force)
{
	struct scsi_pr_state st;
	struct scsi_mode_rec m;
	bool has_mode, saved_changed = false, current_changed = false;

	scsi_pr_state_init(&st);
	if (scsi_pr_deserialize_ext(&st, &m, &has_mode, rec, len) < 0) {
		qb_log(LOG_ERR, "scsi: LUN %u: the peer's reservation record is malformed: not installed", lu->id);
		return -1;
	}
	pthread_mutex_lock(&lu->pr->lock);
	if (!force && seq <= lu->pr->seq) {
		/* a record older than one already installed (two PR OUTs raced
		 * to the link): the newer one holds everything */
		pthread_mutex_unlock(&lu->pr->lock);
		scsi_pr_state_free(&st);
		return 0;
	}
	/* the record is the Primary's: held here even when this node's APTPL
	 * file cannot be written (persist logged why); refusing it would only
	 * leave this node with an older one */
	(void)persist(lu, &lu->pr->st, &st);
	scsi_pr_state_free(&lu->pr->st);
	lu->pr->st = st;
	lu->pr->seq = seq;
	resv_publish(lu);
	if (has_mode) {        /* a peer of protocol version 2 sends none: ours stay */
		install_mode_locked(lu, &m, &saved_changed, &current_changed);
		/* held even when the file cannot be written, as the reservations */
		if (saved_changed)
			(void)scsi_mode_store_save(lu, m.wce_saved, m.swp_saved);
	}
	pthread_mutex_unlock(&lu->pr->lock);
	if (current_changed) {
		qb_log(LOG_INFO, "scsi: LUN %u: mode parameters from the peer (WCE=%d SWP=%d)", lu->id,
		       atomic_load(&lu->wce), atomic_load(&lu->swp));
		if (lu->tgt)
			scsi_ua_establish_others(lu->tgt, NULL, lu->id, SCSI_UA_MODE_CHANGED);
	}
	qb_log(LOG_DEBUG, "scsi: LUN %u: reservation record %llu from the peer: %u registration(s)%s", lu->id,
	       (unsigned long long)seq, st.nregs, st.type ? ", reserved" : "");
	return 0;
}

int scsi_pr_install(struct scsi_lun *lu, const uint8_t *rec, size_t len)
{
	return scsi_pr_install_seq(lu, rec, len, 0, true);
}

size_t scsi_pr_snapshot(struct scsi_lun *lu, uint8_t **out)
{
	pthread_mutex_lock(&lu->pr->lock);
	size_t len = snapshot_locked(lu, out, lu->pr->replicated);
	pthread_mutex_unlock(&lu->pr->lock);
	return len;
}

void scsi_itn_set_abort_cb(struct scsi_itn *itn, void (*fn)(void *arg, uint64_t lun, struct scsi_task *by),
			   void *arg)
{
	struct scsi_target *tgt = itn->tgt;
	/* deliver() reads these under tgt->lock */
	pthread_mutex_lock(&tgt->lock);
	itn->abort_cb = fn;
	itn->abort_arg = arg;
	pthread_mutex_unlock(&tgt->lock);
}

/* ---------------------------------------------------------------- conflicts */

/* SPC-2 5.5.1 (and SPC-4 5.13.3 for PR commands): what a nexus other than
 * the RESERVE holder may still do. RESERVE/RELEASE decide for themselves. */
static bool spc2_allowed(uint8_t op)
{
	switch (op) {
	case 0x03:      /* REQUEST SENSE */
	case 0x12:      /* INQUIRY */
	case 0x16:      /* RESERVE(6) */
	case 0x17:      /* RELEASE(6) */
	case 0x4d:      /* LOG SENSE */
	case 0x56:      /* RESERVE(10) */
	case 0x57:      /* RELEASE(10) */
	case 0xa0:      /* REPORT LUNS */
		return true;
	default:
		return false;
	}
}

/* SPC-4 5.13.1 table 63 and SBC-3 4.17 table 13, "Write Exclusive" columns:
 * commands that change the medium or device state conflict, reads and
 * reports go through (ALLOW COMMANDS 011b). */
static bool we_conflicts(uint8_t op, uint16_t flags)
{
	if (flags & SCSI_OPF_WRITE)
		return true;
	if ((flags & SCSI_OPF_DATA_OUT) && !(flags & SCSI_OPF_MEDIA))
		return true;            /* MODE SELECT, LOG SELECT, WRITE BUFFER ... */
	switch (op) {
	case 0x04:      /* FORMAT UNIT */
	case 0x1b:      /* START STOP UNIT */
	case 0x1d:      /* SEND DIAGNOSTIC */
	case 0x1e:      /* PREVENT ALLOW MEDIUM REMOVAL */
	case 0x35:      /* SYNCHRONIZE CACHE(10) */
	case 0x91:      /* SYNCHRONIZE CACHE(16) */
	case 0x83:      /* EXTENDED COPY: may write this LUN (as LIO treats it) */
		return true;
	default:
		return false;
	}
}

/* SBC-3 table 13 rows allowed through every reservation type. */
static bool always_allowed(const uint8_t *cdb)
{
	if (cdb[0] == 0x1b)     /* START STOP UNIT, START=1, POWER CONDITION 0 */
		return (cdb[4] & 0x01) && !(cdb[4] & 0xf0);
	if (cdb[0] == 0x1e)     /* PREVENT ALLOW MEDIUM REMOVAL, PREVENT=0 */
		return (cdb[4] & 0x03) == 0;
	return false;
}

static bool pr_conflict(const struct scsi_pr_state *s, const struct scsi_task *t, uint16_t flags)
{
	if (!(flags & SCSI_OPF_PR_CONFLICT) || !s->type)
		return false;
	int me = -1;
	if (t->itn)
		for (uint32_t i = 0; i < s->nregs && me < 0; i++)
			if (scsi_pr_id_match(&s->regs[i].id, t->itn->initiator, t->itn->port.rel_port_id))
				me = (int)i;
	if (me >= 0 && (type_ar(s->type) || s->regs[me].holder))
		return false;           /* the reservation holder */
	if (always_allowed(t->cdb))
		return false;
	if (me >= 0 && (type_ro(s->type) || type_ar(s->type)))
		return false;           /* registrants share RO/AR reservations */
	if (type_we(s->type))
		return we_conflicts(t->cdb[0], flags);
	return true;                    /* exclusive access */
}

bool scsi_resv_conflict_access(struct scsi_lun *lu, struct scsi_itn *itn, bool write)
{
	/* judged as the READ(10) / WRITE(10) this access amounts to */
	struct scsi_task probe = { .lu = lu, .itn = itn };
	probe.cdb[0] = write ? 0x2a : 0x28;
	uint16_t flags = SCSI_OPF_MEDIA | SCSI_OPF_PR_CONFLICT | (write ? SCSI_OPF_WRITE | SCSI_OPF_DATA_OUT
									: SCSI_OPF_DATA_IN);
	return scsi_resv_conflict(&probe, flags);
}

bool scsi_resv_conflict_slow(struct scsi_task *t, uint16_t op_flags)
{
	struct scsi_pr *pr = t->lu->pr;
	bool conflict;

	if (!pr)
		return false;
	pthread_mutex_lock(&pr->lock);
	if (pr->r2_holder) {
		if (pr->r2_holder != t->itn)
			conflict = !spc2_allowed(t->cdb[0]);
		else
			conflict = t->cdb[0] == 0x5f;   /* PR OUT under RESERVE */
	} else {
		conflict = pr_conflict(&pr->st, t, op_flags);
	}
	pthread_mutex_unlock(&pr->lock);
	return conflict;
}

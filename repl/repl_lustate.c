/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The LUN's state record that travels with its data: the SCSI layer's
 * persistent reservations, opaque bytes here (bdev.h BDEV_IO_STATE). A PR OUT
 * on the Primary completes only when the peer holds the new record (or counts
 * as Outdated, like a mirrored write); the peer hands the records it receives
 * to its LUN; the Primary pushes its whole record whenever a volume starts
 * replicating and when it is promoted. This file keeps the newest record per
 * volume (so that a LUN opened again by a reload gets it back) and the user's
 * callbacks; the sending side is in repl_mirror.c. */
#include <stdlib.h>
#include <string.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/log.h"

static void push_r(void *arg)
{
	repl_lus_push(arg);
}

int repl_lus_attach(struct bdev *b, const struct bdev_state_handler *h, void *arg)
{
	struct repl_vol *v = b->priv;
	int rc = 0;

	pthread_mutex_lock(&v->st_lock);
	v->st_h = h;
	v->st_arg = arg;
	/* a record this process already holds (received from the Primary
	 * before the LUN opened, or kept across a reload) is at least as new as
	 * the APTPL file the LUN started from: installed whatever the numbers */
	if (h && v->st_rec && h->install(arg, v->st_rec, v->st_len, v->st_seq, true) < 0)
		rc = -1;
	pthread_mutex_unlock(&v->st_lock);
	/* a Primary whose volume already replicates pushed nothing while no LUN
	 * held the record: now */
	if (h && repl_eng.r)
		reactor_post(repl_eng.r, push_r, v);
	return rc;
}

bool repl_lus_writable(struct bdev *b)
{
	struct repl_vol *v = b->priv;

	return repl_get_role() == REPL_ROLE_PRIMARY && atomic_load(&v->attached);
}

int repl_lus_store(struct repl_vol *v, const uint8_t *rec, size_t len, uint64_t seq, bool force, bool deliver)
{
	int rc = 0;

	pthread_mutex_lock(&v->st_lock);
	if (force || !v->st_rec || seq > v->st_seq) {
		uint8_t *copy = malloc(len);
		if (copy) {
			memcpy(copy, rec, len);
			free(v->st_rec);
			v->st_rec = copy;
			v->st_len = len;
			v->st_seq = seq;
		}
		if (deliver && v->st_h && v->st_h->install(v->st_arg, rec, len, seq, force) < 0)
			rc = -1;
		else if (deliver && !copy && !v->st_h)
			rc = -1;        /* nobody holds it */
	}
	pthread_mutex_unlock(&v->st_lock);
	return rc;
}

unsigned repl_lus_level(unsigned version)
{
	return version >= 3 ? BDEV_STATE_LEVEL_MODE : BDEV_STATE_LEVEL_PR;
}

/* With no LUN open the record held is sent as it came, except to a
 * protocol-2 peer: it may carry mode parameters, which that peer refuses
 * (an EIO acknowledgement, which drops the link); the LUN's attach pushes. */
size_t repl_lus_snapshot(struct repl_vol *v, uint8_t **rec, uint64_t *seq, unsigned level)
{
	size_t len = 0;

	*rec = NULL;
	pthread_mutex_lock(&v->st_lock);
	if (v->st_h) {
		len = v->st_h->snapshot(v->st_arg, rec, seq, level);
	} else if (level >= BDEV_STATE_LEVEL_MODE && v->st_rec && (*rec = malloc(v->st_len))) {
		memcpy(*rec, v->st_rec, v->st_len);
		len = v->st_len;
		*seq = v->st_seq;
	}
	pthread_mutex_unlock(&v->st_lock);
	return len;
}

void repl_lus_free(struct repl_vol *v)
{
	free(v->st_rec);
	v->st_rec = NULL;
	v->st_len = 0;
}

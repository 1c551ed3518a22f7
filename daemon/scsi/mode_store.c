/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Saved mode parameters (SPC-4 7.5.2: MODE SELECT with SP=1 keeps them
 * through a power loss; MODE SENSE reports the caching and control pages as
 * savable). One small file per LUN serial, written atomically like the APTPL
 * reservation files, under <state_dir>/mode/<serial>.mode:
 *
 *   0  "TNMP"   magic          4  u16 version (1)
 *   6  u8 the LUN's cache policy (enum tconf_cache) when it was saved
 *   7  u8 bits: 0 saved WCE, 1 saved SWP (others 0)
 *   8  u32 CRC-32C of bytes 0-7
 *
 * The config's cache policy is the operator's word: a file saved under
 * another policy is dropped at start-up (a reload that changes the policy
 * removes it at once), so the policy's WCE holds again until an initiator
 * saves a new value. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"

#define MODE_MAGIC "TNMP"
#define MODE_VERSION 1
#define MODE_REC_LEN 12

static void mode_path(const struct scsi_lun *lu, char *out, size_t len)
{
	scsi_state_path("mode", "mode", lu->serial, out, len);
}

void scsi_mode_lun_init(struct scsi_lun *lu)
{
	char path[TCONF_PATH_MAX + 128];
	uint8_t *b = NULL;

	mode_path(lu, path, sizeof(path));
	long n = scsi_pr_store_load(path, &b);
	if (n == 0)
		return;
	if (n < 0) {
		qb_log(LOG_WARNING, "scsi: LUN %u: cannot read saved mode parameters %s: %s", lu->id, path,
		       strerror((int)-n));
		return;
	}
	if (n != MODE_REC_LEN || memcmp(b, MODE_MAGIC, 4) != 0 || get_be16(&b[4]) != MODE_VERSION ||
	    (b[7] & ~3u) || get_be32(&b[8]) != scsi_pr_crc32c(b, 8)) {
		qb_log(LOG_ERR, "scsi: LUN %u: %s is corrupt (bad record or checksum): saved mode parameters not "
		       "restored", lu->id, path);
	} else if (b[6] != (uint8_t)atomic_load(&lu->cache)) {
		qb_log(LOG_NOTICE, "scsi: LUN %u: the cache policy changed since the mode parameters were saved: "
		       "the policy's write cache setting applies (%s removed)", lu->id, path);
		scsi_mode_store_forget(lu);
	} else {
		bool wce = (b[7] & 1) && atomic_load(&lu->cache) != TCONF_CACHE_NV, swp = b[7] & 2;
		/* power on: the current values are the saved ones */
		atomic_store(&lu->wce_saved, wce);
		atomic_store(&lu->wce, wce);
		atomic_store(&lu->swp_saved, swp);
		atomic_store(&lu->swp, swp);
		qb_log(LOG_INFO, "scsi: LUN %u: saved mode parameters restored (WCE=%d SWP=%d)", lu->id, wce, swp);
	}
	free(b);
}

int scsi_mode_store_save(struct scsi_lun *lu, bool wce_saved, bool swp_saved)
{
	char path[TCONF_PATH_MAX + 128];
	uint8_t b[MODE_REC_LEN];

	memcpy(b, MODE_MAGIC, 4);
	put_be16(&b[4], MODE_VERSION);
	b[6] = (uint8_t)atomic_load(&lu->cache);
	b[7] = (uint8_t)((wce_saved ? 1 : 0) | (swp_saved ? 2 : 0));
	put_be32(&b[8], scsi_pr_crc32c(b, 8));
	mode_path(lu, path, sizeof(path));
	int rc = scsi_pr_store_save(path, b, sizeof(b));
	if (rc < 0)
		qb_log(LOG_ERR, "scsi: LUN %u: cannot save mode parameters %s: %s", lu->id, path, strerror(-rc));
	return rc;
}

void scsi_mode_store_forget(struct scsi_lun *lu)
{
	char path[TCONF_PATH_MAX + 128];

	mode_path(lu, path, sizeof(path));
	int rc = scsi_pr_store_remove(path);
	if (rc < 0)
		qb_log(LOG_WARNING, "scsi: LUN %u: cannot remove %s: %s", lu->id, path, strerror(-rc));
}

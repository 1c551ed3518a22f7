/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The reservation record's byte form, shared by APTPL files (SPC-4 5.13.5,
 * persist through power loss) and, later, the replication link; and the
 * crash-safe file store under <state_dir>/pr/.
 *
 * Record (all integers big-endian):
 *   0  "TNPR"            magic
 *   4  u16 version (1)   6  u16 flags: bit 0 APTPL
 *   8  u32 PRGENERATION
 *  12  u8 type (0 none)  13 u8 scope   14 u16 reserved (0)
 *  16  u32 number of registrations, then for each:
 *      u64 key, u16 relative target port id, u8 flags (bit 0 ALL_TG_PT,
 *      bit 1 reservation holder), u8 name length n (1..255), n name bytes
 *   .. (flags bit 1 only: the mode section, 4 bytes) u8 bits: 0 WCE,
 *      1 saved WCE, 2 SWP, 3 saved SWP; u8 SANITIZE: bits 0-1 the state
 *      (SCSI_SANITIZE_*), bit 2 the running operation's AUSE; u8[2]
 *      reserved (0). A replicated LUN's record carries it; APTPL files
 *      never do.
 *   .. u32 CRC-32C of every byte before it */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/be.h"
#include "util/fnv.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"

#define REC_MAGIC "TNPR"
#define REC_VERSION 1
#define REC_HDR 20
#define REC_F_APTPL 1u
#define REC_F_MODE 2u
#define REC_MODE_LEN 4
#define REC_MAX (REC_HDR + SCSI_PR_MAX_REGS * (12 + 255) + REC_MODE_LEN + 4)

static char state_dir[TCONF_PATH_MAX] = "/var/lib/tandem";

void scsi_set_state_dir(const char *dir)
{
	if (dir && dir[0])
		snprintf(state_dir, sizeof(state_dir), "%s", dir);
}

/* CRC-32C (Castagnoli, reflected 0x82F63B78), bitwise: records are small. */
uint32_t scsi_pr_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

size_t scsi_pr_serialize(const struct scsi_pr_state *s, uint8_t *buf, size_t len)
{
	return scsi_pr_serialize_ext(s, NULL, buf, len);
}

size_t scsi_pr_serialize_ext(const struct scsi_pr_state *s, const struct scsi_mode_rec *m, uint8_t *buf,
			     size_t len)
{
	size_t need = REC_HDR + 4 + (m ? REC_MODE_LEN : 0);

	for (uint32_t i = 0; i < s->nregs; i++)
		need += 12 + strnlen(s->regs[i].id.initiator, 255);
	if (!buf)
		return need;
	if (len < need)
		return 0;
	memcpy(buf, REC_MAGIC, 4);
	put_be16(&buf[4], REC_VERSION);
	put_be16(&buf[6], (uint16_t)((s->aptpl ? REC_F_APTPL : 0) | (m ? REC_F_MODE : 0)));
	put_be32(&buf[8], s->generation);
	buf[12] = s->type;
	buf[13] = s->scope;
	put_be16(&buf[14], 0);
	put_be32(&buf[16], s->nregs);
	size_t o = REC_HDR;
	for (uint32_t i = 0; i < s->nregs; i++) {
		const struct scsi_pr_reg *r = &s->regs[i];
		size_t n = strnlen(r->id.initiator, 255);
		put_be64(&buf[o], r->key);
		put_be16(&buf[o + 8], r->id.rel_port_id);
		buf[o + 10] = (uint8_t)((r->id.all_tg_pt ? 1 : 0) | (r->holder ? 2 : 0));
		buf[o + 11] = (uint8_t)n;
		memcpy(&buf[o + 12], r->id.initiator, n);
		o += 12 + n;
	}
	if (m) {
		buf[o] = (uint8_t)((m->wce ? 1 : 0) | (m->wce_saved ? 2 : 0) | (m->swp ? 4 : 0) | (m->swp_saved ? 8 : 0));
		memset(&buf[o + 1], 0, REC_MODE_LEN - 1);
		buf[o + 1] = (uint8_t)((m->sanitize & 3) | (m->san_ause ? 4 : 0));
		o += REC_MODE_LEN;
	}
	put_be32(&buf[o], scsi_pr_crc32c(buf, o));
	return need;
}

static bool type_valid(uint8_t t)
{
	return t == SCSI_PR_WR_EX || t == SCSI_PR_EX_AC || t == SCSI_PR_WR_EX_RO || t == SCSI_PR_EX_AC_RO ||
	       t == SCSI_PR_WR_EX_AR || t == SCSI_PR_EX_AC_AR;
}

int scsi_pr_deserialize(struct scsi_pr_state *s, const uint8_t *buf, size_t len)
{
	struct scsi_mode_rec m;
	bool has_mode;

	return scsi_pr_deserialize_ext(s, &m, &has_mode, buf, len);
}

int scsi_pr_deserialize_ext(struct scsi_pr_state *s, struct scsi_mode_rec *m, bool *has_mode, const uint8_t *buf,
			    size_t len)
{
	struct scsi_pr_state n;
	uint32_t holders = 0;

	if (!buf || len < REC_HDR + 4 || len > REC_MAX || memcmp(buf, REC_MAGIC, 4) != 0)
		return -1;
	if (get_be32(&buf[len - 4]) != scsi_pr_crc32c(buf, len - 4))
		return -1;
	uint16_t flags = get_be16(&buf[6]);
	if (get_be16(&buf[4]) != REC_VERSION || (flags & ~(REC_F_APTPL | REC_F_MODE)) || buf[13] != 0 ||
	    get_be16(&buf[14]))
		return -1;
	if (buf[12] && !type_valid(buf[12]))
		return -1;
	uint32_t nregs = get_be32(&buf[16]);
	if (nregs > SCSI_PR_MAX_REGS)
		return -1;
	scsi_pr_state_init(&n);
	n.aptpl = flags & REC_F_APTPL;
	n.generation = get_be32(&buf[8]);
	n.type = buf[12];
	n.scope = buf[13];
	if (nregs) {
		n.regs = calloc(nregs, sizeof(*n.regs));
		if (!n.regs)
			return -1;
		n.cap = nregs;
	}
	size_t o = REC_HDR, end = len - 4;
	if (flags & REC_F_MODE) {       /* the mode section sits before the CRC */
		const uint8_t *ms = &buf[end - REC_MODE_LEN];
		if (end < REC_HDR + REC_MODE_LEN || (ms[0] & ~0x0fu) || (ms[1] & ~0x07u) || ms[2] || ms[3])
			goto bad;
		end -= REC_MODE_LEN;
	}
	for (uint32_t i = 0; i < nregs; i++) {
		if (o + 12 > end)
			goto bad;
		struct scsi_pr_reg *r = &n.regs[i];
		uint8_t fl = buf[o + 10], nl = buf[o + 11];
		if ((fl & ~3u) || nl == 0 || o + 12 + nl > end || memchr(&buf[o + 12], 0, nl))
			goto bad;
		r->key = get_be64(&buf[o]);
		r->id.rel_port_id = get_be16(&buf[o + 8]);
		r->id.all_tg_pt = fl & 1;
		r->holder = fl & 2;
		memcpy(r->id.initiator, &buf[o + 12], nl);
		r->id.initiator[nl] = 0;
		holders += r->holder;
		n.nregs++;
		o += 12 + nl;
	}
	if (o != end)
		goto bad;
	/* a non all-registrants reservation has exactly one holder, else none */
	bool ar = n.type == SCSI_PR_WR_EX_AR || n.type == SCSI_PR_EX_AC_AR;
	if ((n.type && !ar) ? holders != 1 : holders != 0)
		goto bad;
	if (n.type && n.nregs == 0)
		goto bad;
	scsi_pr_state_free(s);
	*s = n;
	*has_mode = flags & REC_F_MODE;
	memset(m, 0, sizeof(*m));
	if (*has_mode) {
		uint8_t b = buf[end];
		m->wce = b & 1;
		m->wce_saved = b & 2;
		m->swp = b & 4;
		m->swp_saved = b & 8;
		m->sanitize = buf[end + 1] & 3;
		m->san_ause = buf[end + 1] & 4;
	}
	return 0;
bad:
	scsi_pr_state_free(&n);
	return -1;
}

/* ---------------------------------------------------------------- files */

static bool name_char(char c, size_t i, bool underscore)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       (underscore && c == '_') || (c == '.' && i > 0);
}

/* Before session 9: unsafe characters became '_' and the name was cut at 79
 * characters, so 'disk:1' and 'disk_1' shared one file. Still read at attach. */
void scsi_pr_path_v1(const char *serial, char *out, size_t len)
{
	char safe[80];
	size_t i = 0;

	for (; serial[i] && i < sizeof(safe) - 1; i++)
		safe[i] = name_char(serial[i], i, true) ? serial[i] : '_';
	safe[i] = 0;
	snprintf(out, len, "%s/pr/%s.pr", state_dir, i ? safe : "_");
}

/* One file per serial (the serial comes from the config): the serial itself
 * when it is a plain name (letters, digits, '-', '.'; under 80 characters),
 * else a readable prefix and a hash of the whole serial, so two serials never
 * share a file. */
void scsi_pr_path(const char *serial, char *out, size_t len)
{
	scsi_state_path("pr", "pr", serial, out, len);
}

void scsi_state_path(const char *sub, const char *ext, const char *serial, char *out, size_t len)
{
	size_t n = strlen(serial), i;
	bool plain = n > 0 && n < 80;
	uint64_t h = fnv1a64(FNV1A64_INIT, serial, n);
	char safe[64];

	for (i = 0; i < n && plain; i++)
		plain = name_char(serial[i], i, false);
	if (plain) {
		snprintf(out, len, "%s/%s/%s.%s", state_dir, sub, serial, ext);
		return;
	}
	for (i = 0; i < n && i < sizeof(safe) - 1; i++)
		safe[i] = name_char(serial[i], i, false) ? serial[i] : '_';
	safe[i] = 0;
	snprintf(out, len, "%s/%s/%s~%016llx.%s", state_dir, sub, safe, (unsigned long long)h, ext);
}

static int fsync_dir_of(const char *path);

static int mkdir_p(const char *dir)
{
	char tmp[TCONF_PATH_MAX + 8];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0) {
		if (errno != EEXIST)
			return -errno;
		return 0;
	}
	/* a new directory: its entry durable too, or the first APTPL record
	 * (acknowledged GOOD) could vanish with it at a power loss */
	return fsync_dir_of(tmp);
}

static int fsync_dir_of(const char *path)
{
	char dir[TCONF_PATH_MAX + 8];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int scsi_pr_store_save(const char *path, const uint8_t *rec, size_t len)
{
	char dir[TCONF_PATH_MAX + 8], tmp[TCONF_PATH_MAX + 16];
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		if (dir[0] && (rc = mkdir_p(dir)) < 0)
			return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, rec + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto fail;
	}
	return fsync_dir_of(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int scsi_pr_store_remove(const char *path)
{
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync_dir_of(path);
}

long scsi_pr_store_load(const char *path, uint8_t **out)
{
	struct stat st;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (st.st_size <= 0 || st.st_size > REC_MAX) {
		close(fd);
		return -EINVAL;
	}
	uint8_t *b = malloc((size_t)st.st_size);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	size_t off = 0;
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, b + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? -errno : -EIO;
			free(b);
			close(fd);
			return e;
		}
		off += (size_t)r;
	}
	close(fd);
	*out = b;
	return (long)off;
}

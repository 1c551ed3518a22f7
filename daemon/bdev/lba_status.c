/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which byte ranges of a backing store are allocated, for thin provisioning
 * status (the SCSI layer's GET LBA STATUS): holes of a sparse file found with
 * lseek(SEEK_DATA/SEEK_HOLE), kept here so that the SCSI layer sees only
 * block ranges. */
#include <errno.h>
#include <unistd.h>

#include "bdev/bdev.h"

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int bdev_get_lba_status(struct bdev *b, uint64_t offset, uint64_t len, bool *mapped, uint64_t *run)
{
	uint64_t bs, end, data, hole;
	off_t r;

	*mapped = true;
	*run = len;
	if (!b || len == 0)
		return 0;
	if (b->fd < 0 || b->is_blockdev)
		return 0;               /* null backend, raw devices: no map to read */
	bs = b->block_size;
	end = offset + len;

	r = lseek(b->fd, (off_t)offset, SEEK_DATA);
	if (r < 0) {
		if (errno != ENXIO)
			return -errno;  /* e.g. file system without SEEK_DATA: all mapped */
		data = end;             /* only a hole up to EOF (and beyond) */
	} else {
		data = (uint64_t)r;
	}
	if (data >= offset + bs || (data > offset && data >= end)) {
		/* [offset, data rounded down) is a hole */
		uint64_t hole_end = data / bs * bs;
		if (hole_end > end)
			hole_end = end;
		*mapped = false;
		*run = hole_end - offset;
		return 0;
	}
	/* The block at offset holds data (possibly only part of it): mapped up
	 * to the next hole that starts a whole block. */
	r = lseek(b->fd, (off_t)(data > offset ? data : offset), SEEK_HOLE);
	if (r < 0)
		return -errno;
	hole = round_up((uint64_t)r, bs);
	if (hole > end)
		hole = end;
	if (hole <= offset)
		hole = offset + bs;
	*run = hole - offset;
	return 0;
}

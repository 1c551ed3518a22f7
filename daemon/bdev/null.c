/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The null backend: no storage at all, reads return zeroes and writes are
 * dropped, so benchmarks measure the iSCSI/SCSI path alone. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bdev/bdev.h"
#include "bdev/bdev_internal.h"

static int null_open(struct bdev *b, const struct bdev_params *p, char *err, size_t errlen)
{
	int rc;

	if (p->size == 0) {
		snprintf(err, errlen, "the null backend needs a size");
		return -EINVAL;
	}
	rc = bdev_check_geometry(p->block_size, p->size, err, errlen);
	if (rc)
		return rc;
	snprintf(b->path, sizeof(b->path), "null");
	b->fd = -1;
	b->size = p->size;
	b->block_size = p->block_size;
	b->phys_block_size = p->block_size > 4096 ? p->block_size : 4096;
	b->readonly = p->readonly;
	b->is_blockdev = false;
	b->rotational = false;
	b->can_unmap = true;
	b->unmap_zeroes = true;
	return 0;
}

static void null_close(struct bdev *b)
{
}

static void null_submit(struct bdev *b, struct bdev_io *io)
{
	int i;

	if (io->type == BDEV_IO_READ)
		for (i = 0; i < io->iovcnt; i++)
			memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
	bdev_complete_later(io, 0);
}

/* No storage: any size the geometry allows, but never "what it holds". */
static int null_resize(struct bdev *b, uint64_t size, bool create, uint64_t *bytes, char *err, size_t errlen)
{
	(void)create;
	if (size == 0) {
		snprintf(err, errlen, "the null backend needs a size");
		return -EINVAL;
	}
	int rc = bdev_check_geometry(b->block_size, size, err, errlen);
	if (rc)
		return rc;
	*bytes = size;
	return 0;
}

const struct bdev_ops bdev_null_ops = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.submit = null_submit,
	.resize = null_resize,
};

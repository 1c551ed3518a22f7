/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fileio backend: buffered I/O through the page cache, every request run
 * by the worker pool (preadv/pwritev, FUA as pwritev2(RWF_DSYNC), FLUSH as
 * fdatasync) so the reactor never blocks. */
#include "bdev/bdev.h"
#include "bdev/bdev_internal.h"

static int fileio_open(struct bdev *b, const struct bdev_params *p, char *err, size_t errlen)
{
	bool direct;
	int rc = bdev_open_common(b, p, false, &direct, err, errlen);

	b->page_cache = true;
	return rc;
}

static void fileio_close(struct bdev *b)
{
}

static void fileio_submit(struct bdev *b, struct bdev_io *io)
{
	bdev_workq_submit(io, BDEV_STAGE_IO);
}

const struct bdev_ops bdev_fileio_ops = {
	.name = "fileio",
	.open = fileio_open,
	.close = fileio_close,
	.submit = fileio_submit,
	.resize = bdev_fd_resize,
};

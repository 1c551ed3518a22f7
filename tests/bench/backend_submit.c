/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the submission interface costs a backend, apart from the iSCSI path:
 * CPU time per 4K O_DIRECT write at random offsets of a 1 GiB file, submitted
 * in batches (as blockio submits one batch per loop turn) through libaio (what
 * blockio uses), io_uring (registered file and buffer; plain, or with
 * SINGLE_ISSUER|DEFER_TASKRUN), or one synchronous pwritev2 per write as the
 * floor. Written to decide whether blockio should move to io_uring
 * (docs/BENCHMARKS.md, "Backend submission").
 * Build: gcc -O2 -o backend_submit tests/bench/backend_submit.c -laio -luring
 * Usage: backend_submit FILE aio|uring|uring-defer|sync BATCH COUNT
 * FILE must exist and hold at least 1 GiB (fallocate -l 1G FILE). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libaio.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#define BS 4096
#define MAX_BATCH 64
#define SPAN_BLOCKS ((1L << 30) / BS)

static double cpu_us(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

static long next_off(unsigned *seed)
{
	return (long)(rand_r(seed) % SPAN_BLOCKS) * BS;
}

static int run_aio(int fd, char *buf, int batch, long n)
{
	io_context_t ctx = 0;
	struct iocb cb[MAX_BATCH], *cbs[MAX_BATCH];
	struct io_event ev[MAX_BATCH];
	unsigned seed = 1;

	if (io_setup(256, &ctx) < 0) {
		perror("io_setup");
		return -1;
	}
	for (long i = 0; i < n; i += batch) {
		int got = 0;

		for (int j = 0; j < batch; j++) {
			io_prep_pwrite(&cb[j], fd, buf + j * BS, BS, next_off(&seed));
			cbs[j] = &cb[j];
		}
		if (io_submit(ctx, batch, cbs) != batch) {
			fprintf(stderr, "io_submit failed\n");
			return -1;
		}
		while (got < batch) {
			int r = io_getevents(ctx, 1, MAX_BATCH, ev, NULL);

			for (int k = 0; k < r; k++)
				if (ev[k].res != BS) {
					fprintf(stderr, "aio write: res %ld\n", (long)ev[k].res);
					return -1;
				}
			if (r > 0)
				got += r;
		}
	}
	io_destroy(ctx);
	return 0;
}

static int run_uring(int fd, char *buf, int batch, long n, unsigned flags)
{
	struct io_uring ring;
	struct io_uring_params p;
	struct iovec iov = { buf, (size_t)BS * batch };
	unsigned seed = 1;
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if ((r = io_uring_queue_init_params(256, &ring, &p)) < 0 ||
	    (r = io_uring_register_files(&ring, &fd, 1)) < 0 ||
	    (r = io_uring_register_buffers(&ring, &iov, 1)) < 0) {
		fprintf(stderr, "io_uring setup: %s\n", strerror(-r));
		return -1;
	}
	for (long i = 0; i < n; i += batch) {
		int got = 0;

		for (int j = 0; j < batch; j++) {
			struct io_uring_sqe *s = io_uring_get_sqe(&ring);

			io_uring_prep_write_fixed(s, 0, buf + j * BS, BS, next_off(&seed), 0);
			s->flags |= IOSQE_FIXED_FILE;
		}
		io_uring_submit(&ring);
		while (got < batch) {
			struct io_uring_cqe *c;
			unsigned head, k = 0;

			if (io_uring_wait_cqe(&ring, &c) < 0) {
				fprintf(stderr, "io_uring_wait_cqe failed\n");
				return -1;
			}
			io_uring_for_each_cqe(&ring, head, c) {
				if (c->res != BS) {
					fprintf(stderr, "uring write: res %d\n", c->res);
					return -1;
				}
				k++;
			}
			io_uring_cq_advance(&ring, k);
			got += (int)k;
		}
	}
	io_uring_queue_exit(&ring);
	return 0;
}

static int run_sync(int fd, char *buf, long n)
{
	unsigned seed = 1;

	for (long i = 0; i < n; i++) {
		struct iovec v = { buf, BS };

		if (pwritev2(fd, &v, 1, next_off(&seed), 0) != BS) {
			perror("pwritev2");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode;
	int fd, batch, rc;
	long n;
	char *buf;
	double c0;

	if (argc != 5 || (batch = atoi(argv[3])) < 1 || batch > MAX_BATCH || (n = atol(argv[4])) < batch) {
		fprintf(stderr, "usage: %s FILE aio|uring|uring-defer|sync BATCH(1-%d) COUNT\n", argv[0], MAX_BATCH);
		return 2;
	}
	mode = argv[2];
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	if (posix_memalign((void **)&buf, BS, (size_t)BS * batch))
		return 1;
	memset(buf, 0x5a, (size_t)BS * batch);
	c0 = cpu_us();
	if (!strcmp(mode, "aio"))
		rc = run_aio(fd, buf, batch, n);
	else if (!strcmp(mode, "uring"))
		rc = run_uring(fd, buf, batch, n, 0);
	else if (!strcmp(mode, "uring-defer"))
		rc = run_uring(fd, buf, batch, n, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
	else if (!strcmp(mode, "sync"))
		rc = run_sync(fd, buf, n);
	else {
		fprintf(stderr, "unknown mode '%s'\n", mode);
		return 2;
	}
	if (rc)
		return 1;
	printf("%s batch %d: %.2f us CPU per 4K write (%ld writes)\n", mode, batch, (cpu_us() - c0) / (double)n, n);
	free(buf);
	close(fd);
	return 0;
}

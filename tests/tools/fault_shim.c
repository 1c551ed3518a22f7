/* tests/tools/fault_shim.c: an LD_PRELOAD shim that makes a backing file's
 * I/O fail on demand, for tests of backend failures (built by the test that
 * needs it, `build_fault_shim` in tests/integration/lib.sh; never part of
 * tandemd). It wraps the calls of the fileio backend (preadv, pwritev,
 * pwritev2, fdatasync, fsync); blockio's libaio submissions do not pass
 * through it, so tests that inject faults configure fileio LUNs.
 * Users: tests/integration/test_backend_faults.sh, tests/repl/test_faults.sh
 * (scenario disk-error). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
/* FAULT_PATH: files whose I/O fails (':'-separated); FAULT_CTL: file naming
 * what fails now: words "read", "write", "flush" (EIO), "hang" (writes block
 * while it says so), "ownnospc" (writes fail with ENOSPC, nothing written),
 * "syncnospc" (a RWF_DSYNC write lands in the page cache, then its sync
 * reports ENOSPC, as a thin or network file system out of space at writeback
 * does), anything else = nothing. */
static int path_listed(const char *list, const char *target)
{
	size_t tl = strlen(target);
	for (const char *p = list; *p; ) {
		const char *e = strchr(p, ':');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == tl && strncmp(p, target, l) == 0)
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}
static int want(int fd, const char *what)
{
	const char *path = getenv("FAULT_PATH"), *ctl = getenv("FAULT_CTL");
	char link[64], target[4096], buf[256];
	ssize_t n;
	FILE *f;
	if (!path || !ctl)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = 0;
	if (!path_listed(path, target))
		return 0;
	if (!(f = fopen(ctl, "re")))
		return 0;
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, what) != NULL;
}
#define REAL(name) static __typeof__(name) *real; if (!real) real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)
ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{ REAL(preadv); if (want(fd, "read")) { errno = EIO; return -1; } return real(fd, iov, cnt, off); }
ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{ REAL(preadv64); if (want(fd, "read")) { errno = EIO; return -1; } return real(fd, iov, cnt, off); }
static void hang(int fd) { while (want(fd, "hang")) usleep(20000); }
static int write_fault(int fd)
{
	hang(fd);
	if (want(fd, "write")) { errno = EIO; return 1; }
	if (want(fd, "ownnospc")) { errno = ENOSPC; return 1; }
	return 0;
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{ REAL(pwritev); if (write_fault(fd)) return -1; return real(fd, iov, cnt, off); }
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{ REAL(pwritev64); if (write_fault(fd)) return -1; return real(fd, iov, cnt, off); }
/* "syncnospc": the data lands (without RWF_DSYNC), then the sync "fails" */
static ssize_t write_v2(ssize_t (*real)(int, const struct iovec *, int, off_t, int), int fd,
			const struct iovec *iov, int cnt, off_t off, int fl)
{
	if (write_fault(fd))
		return -1;
	if ((fl & RWF_DSYNC) && want(fd, "syncnospc")) {
		if (real(fd, iov, cnt, off, fl & ~RWF_DSYNC) < 0)
			return -1;
		errno = ENOSPC;
		return -1;
	}
	return real(fd, iov, cnt, off, fl);
}
ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{ REAL(pwritev2); return write_v2(real, fd, iov, cnt, off, fl); }
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{ REAL(pwritev64v2); return write_v2(real, fd, iov, cnt, off, fl); }
/* FAULT_SYNC_PATH: a file whose fdatasync calls are counted, a line each in FAULT_SYNCLOG */
static void synclog(int fd)
{
	const char *path = getenv("FAULT_SYNC_PATH"), *logf = getenv("FAULT_SYNCLOG");
	char link[64], target[4096];
	ssize_t n;
	FILE *f;
	if (!path || !logf)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = 0;
	if (strcmp(target, path) == 0 && (f = fopen(logf, "ae"))) {
		fputs("fdatasync\n", f);
		fclose(f);
	}
}
int fdatasync(int fd)
{ REAL(fdatasync); synclog(fd); if (want(fd, "flush")) { errno = EIO; return -1; } return real(fd); }
int fsync(int fd)
{ REAL(fsync); if (want(fd, "flush")) { errno = EIO; return -1; } return real(fd); }

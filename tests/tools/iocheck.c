/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iocheck: a libiscsi client that writes self-describing 4 KiB blocks and
 * later proves that every acknowledged write survived (replication and
 * failover tests).
 *
 *   iocheck write  --url URL[,URL2...] --blocks N [--offset-blocks O] [--qd 32]
 *                  [--seconds S] [--max-writes N] [--rate W] [--fua] --log FILE
 *   iocheck verify --url URL[,...] --log FILE
 *
 * Block layout (4096 bytes): magic "IOCHK4K\0", block number, LBA, sequence,
 * generation (run start, µs), CRC32C of the whole block with the CRC field
 * zero, then a filler derived from the sequence. Sequences grow across runs
 * that share a log (a run continues after the log's largest sequence).
 *
 * write: QD writes in flight at random blocks of the region (never two at the
 * same block). Each write acknowledged with GOOD is appended to the log as
 * "LBA SEQ" (fdatasync'd every 0.5 s and at exit). It behaves like a real
 * initiator (open-iscsi / dm-multipath) rather than a benchmark:
 *   - silence: after --nop-interval s (5) without any PDU from the target while
 *     commands are outstanding it sends a NOP-Out; after --nop-timeout s (10)
 *     of silence it drops the connection;
 *   - a dropped connection (reset, error, timeout) is re-established on the
 *     SAME portal, retried every second; only after --replacement-timeout s
 *     (15) without success does it move to the next URL (then cycles);
 *   - commands that had no status are retried on the new connection with the
 *     same data and sequence; UNIT ATTENTION, BUSY, TASK SET FULL and NOT
 *     READY (e.g. ALUA transitioning) are retried; ALUA standby/unavailable
 *     switches to the next URL at once (what multipath's ALUA handler does);
 *   - any other failed status is an I/O error (counted, not logged as acked);
 *     outstanding commands become errors after --give-up s (120) without an ack.
 * --rate W starts at most W new writes per second on average (default: as
 * many as the queue depth allows), for tests that want I/O throughout
 * without it taking the CPU the rest of the test needs.
 * It prints "acked=N errors=E longest_pause_ms=P ..." and exits 0 when E == 0.
 *
 * verify: reads every block named in the log and checks that it is a valid,
 * untorn block of that LBA with a sequence >= the largest acknowledged one
 * (a later write of the same LBA may have landed). Exit 1 on any lost or torn
 * write, 2 on usage or connection errors. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define BLK 4096
#define MAGIC "IOCHK4K"
#define MAX_URLS 8
#define OFF_BLOCK 8
#define OFF_LBA 16
#define OFF_SEQ 24
#define OFF_GEN 32
#define OFF_CRC 40
#define HDR 44

enum slot_state { S_FREE, S_INFLIGHT, S_PENDING };
struct slot {
	enum slot_state st;
	uint64_t block, seq;
	double not_before;              /* PENDING: resubmit after this time */
	struct scsi_task *task;
	unsigned char *buf;
};

static struct {
	char *urls[MAX_URLS];
	int nurls, cur;
	uint64_t blocks, offset_blocks, max_writes;
	int qd, fua;
	double seconds, nop_interval, nop_timeout, repl_timeout, give_up, rate;
	const char *logpath;
} opt = { .qd = 32, .seconds = 10, .nop_interval = 5, .nop_timeout = 10,
	  .repl_timeout = 15, .give_up = 120 };

static struct iscsi_context *ctx;
static int lun, lbs = 512;             /* LUN, logical block size */
static int up, lost, tearing_down, switch_url, nop_outstanding;
static char lost_why[256];
static double t0, last_rx, last_ack, longest_pause;
static uint64_t next_seq, first_seq, gen, acked, errors, retries, reconnects, failovers, submitted;
static unsigned char *busy;            /* per block: a write is in flight */
static struct slot *slots;
static FILE *logf;
static volatile sig_atomic_t stop_req;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* libiscsi's last error without its trailing newline */
static const char *ierr(struct iscsi_context *c)
{
	static char b[256];
	size_t n;
	snprintf(b, sizeof(b), "%s", iscsi_get_error(c));
	n = strlen(b);
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == ' '))
		b[--n] = 0;
	return b;
}

static void msg(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "iocheck: [%8.3f] ", now() - t0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ block format */
static uint32_t crc_table[256];
static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}
static uint32_t crc32c(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	while (n--)
		c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
	return ~c;
}
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint32_t block_crc(const unsigned char *b)
{
	unsigned char tmp[BLK];
	memcpy(tmp, b, BLK);
	memset(tmp + OFF_CRC, 0, 4);
	return crc32c(tmp, BLK);
}

static void stamp(unsigned char *b, uint64_t block, uint64_t lba, uint64_t seq)
{
	uint64_t x = seq * 0x9E3779B97F4A7C15ull + block + 1;
	memset(b, 0, HDR);
	memcpy(b, MAGIC, 8);
	put64(b + OFF_BLOCK, block);
	put64(b + OFF_LBA, lba);
	put64(b + OFF_SEQ, seq);
	put64(b + OFF_GEN, gen);
	for (size_t i = HDR; i < BLK; i += 4) {       /* xorshift filler */
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		uint32_t w = (uint32_t)x;
		memcpy(b + i, &w, 4);
	}
	uint32_t c = block_crc(b);
	memcpy(b + OFF_CRC, &c, 4);
}

/* ------------------------------------------------------------ connection */
static uint64_t lba_of(uint64_t block) { return (opt.offset_blocks + block) * (BLK / (uint64_t)lbs); }

static void mark_lost(const char *fmt, ...)
{
	va_list ap;
	if (lost)
		return;
	lost = 1;
	va_start(ap, fmt);
	vsnprintf(lost_why, sizeof(lost_why), fmt, ap);
	va_end(ap);
}

static void connect_cb(struct iscsi_context *c, int status, void *data, void *priv)
{
	int *done = priv;
	(void)data;
	if (done && *done == 0) {
		*done = status == SCSI_STATUS_GOOD ? 1 : -1;
		return;
	}
	if (status != SCSI_STATUS_GOOD && up)     /* second call: connection torn down */
		mark_lost("connection closed: %s", ierr(c));
}

static int connect_done;
/* Connect and log in to opt.urls[opt.cur] within `limit` seconds. */
static struct iscsi_context *open_url(const char *url, double limit, int *lun_out)
{
	struct iscsi_context *c = iscsi_create_context("iqn.2007-10.com.github:sahlberg:libiscsi:iocheck");
	struct iscsi_url *u;
	if (!c)
		return NULL;
	u = iscsi_parse_full_url(c, url);
	if (!u) {
		msg("bad URL %s: %s", url, ierr(c));
		iscsi_destroy_context(c);
		return NULL;
	}
	iscsi_set_session_type(c, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(c, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_noautoreconnect(c, 1);
	*lun_out = u->lun;
	connect_done = 0;
	double end = now() + limit;
	if (iscsi_full_connect_async(c, u->portal, u->lun, connect_cb, &connect_done) != 0) {
		msg("connect %s: %s", url, ierr(c));
		goto fail;
	}
	while (connect_done == 0 && now() < end) {
		struct pollfd p = { .fd = iscsi_get_fd(c), .events = (short)iscsi_which_events(c) };
		if (p.events == 0) {
			usleep(100000);
			continue;
		}
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			break;
		if (iscsi_service(c, p.revents) < 0)
			break;
	}
	if (connect_done != 1) {
		msg("connect %s failed: %s", url, connect_done ? ierr(c) : "timeout");
		goto fail;
	}
	iscsi_destroy_url(u);
	return c;
fail:
	iscsi_destroy_url(u);
	iscsi_destroy_context(c);
	return NULL;
}

static int read_block_size(struct iscsi_context *c, uint64_t *nblocks)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(c, lun);
	struct scsi_readcapacity16 *rc;
	if (!t || t->status != SCSI_STATUS_GOOD || !(rc = scsi_datain_unmarshall(t))) {
		msg("READ CAPACITY(16) failed: %s", ierr(c));
		if (t)
			scsi_free_scsi_task(t);
		return -1;
	}
	lbs = (int)rc->block_length;
	*nblocks = rc->returned_lba + 1;
	scsi_free_scsi_task(t);
	return lbs > 0 && lbs <= BLK && BLK % lbs == 0 ? 0 : -1;
}

static void requeue(struct slot *s, double delay)
{
	s->st = S_PENDING;
	s->not_before = now() + delay;
	retries++;
}

/* Drop the connection; every command without status goes back to PENDING. */
static void teardown(void)
{
	if (!ctx)
		return;
	tearing_down = 1;
	iscsi_destroy_context(ctx);
	ctx = NULL;
	tearing_down = 0;
	for (int i = 0; i < opt.qd; i++) {
		struct slot *s = &slots[i];
		if (s->st == S_INFLIGHT) {    /* libiscsi did not call back: free it here */
			if (s->task)
				scsi_free_scsi_task(s->task);
			s->task = NULL;
			requeue(s, 0);
		}
	}
	up = 0;
	nop_outstanding = 0;
}

/* ------------------------------------------------------------ write path */
static void flush_log(void)
{
	if (logf) {
		fflush(logf);
		fdatasync(fileno(logf));
	}
}

static void write_cb(struct iscsi_context *c, int status, void *data, void *priv)
{
	struct slot *s = priv;
	struct scsi_task *t = s->task;
	double tn = now();
	(void)data;
	s->task = NULL;
	if (tearing_down || status == SCSI_STATUS_CANCELLED) {
		requeue(s, 0);
		goto out;
	}
	last_rx = tn;
	if (status == SCSI_STATUS_GOOD) {
		if (tn - last_ack > longest_pause)
			longest_pause = tn - last_ack;
		last_ack = tn;
		acked++;
		fprintf(logf, "%" PRIu64 " %" PRIu64 "\n", lba_of(s->block), s->seq);
		busy[s->block] = 0;
		s->st = S_FREE;
	} else if (status == SCSI_STATUS_CHECK_CONDITION && t) {
		int key = t->sense.key, ascq = t->sense.ascq;
		if (key == SCSI_SENSE_UNIT_ATTENTION) {
			requeue(s, 0);
		} else if (key == SCSI_SENSE_NOT_READY && (ascq == 0x040B || ascq == 0x040C)) {
			if (!switch_url)
				msg("ALUA standby/unavailable (sense 2/%04x): switching path", ascq);
			switch_url = 1;
			requeue(s, 0);
		} else if (key == SCSI_SENSE_NOT_READY) {
			requeue(s, 0.1);
		} else {
			msg("write lba %" PRIu64 " failed: sense %x/%04x", lba_of(s->block), key, ascq);
			errors++;
			busy[s->block] = 0;
			s->st = S_FREE;
		}
	} else if (status == SCSI_STATUS_BUSY || status == SCSI_STATUS_TASK_SET_FULL) {
		requeue(s, 0.05);
	} else if (status == SCSI_STATUS_ERROR || status == SCSI_STATUS_TIMEOUT) {
		requeue(s, 0);
		mark_lost("command failed: %s", ierr(c));
	} else {
		msg("write lba %" PRIu64 " failed: status 0x%x", lba_of(s->block), status);
		errors++;
		busy[s->block] = 0;
		s->st = S_FREE;
	}
out:
	if (t)
		scsi_free_scsi_task(t);
}

static void nop_cb(struct iscsi_context *c, int status, void *data, void *priv)
{
	(void)c; (void)data; (void)priv;
	if (!tearing_down && status == SCSI_STATUS_GOOD)
		last_rx = now();
	nop_outstanding = 0;
}

static void submit(struct slot *s)
{
	uint64_t lba = lba_of(s->block);
	stamp(s->buf, s->block, lba, s->seq);
	s->st = S_INFLIGHT;
	s->task = iscsi_write16_task(ctx, lun, lba, s->buf, BLK, lbs, 0, 0, opt.fua, 0, 0, write_cb, s);
	if (!s->task) {
		requeue(s, 0);
		mark_lost("cannot queue WRITE(16): %s", ierr(ctx));
	}
	submitted++;
}

static int outstanding(void)
{
	int n = 0;
	for (int i = 0; i < opt.qd; i++)
		n += slots[i].st != S_FREE;
	return n;
}

static uint64_t rnd64(void)
{
	static uint64_t x = 0;
	if (!x)
		x = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid() ^ 1;
	x ^= x << 13; x ^= x >> 7; x ^= x << 17;
	return x;
}

static int pick_block(uint64_t *out)
{
	for (int tries = 0; tries < 64; tries++) {
		uint64_t b = rnd64() % opt.blocks;
		if (!busy[b]) {
			*out = b;
			return 0;
		}
	}
	return -1;
}

static uint64_t log_max_seq(const char *path)
{
	FILE *f = fopen(path, "r");
	uint64_t lba, seq, max = 0;
	if (!f)
		return 0;
	while (fscanf(f, "%" SCNu64 " %" SCNu64, &lba, &seq) == 2)
		if (seq > max)
			max = seq;
	fclose(f);
	return max;
}

static void on_signal(int sig) { (void)sig; stop_req = 1; }

static int do_write(void)
{
	double fail_since = 0, down_since = 0, next_try = 0, last_flush, end;
	uint64_t cap = 0;
	slots = calloc((size_t)opt.qd, sizeof(*slots));
	busy = calloc(opt.blocks, 1);
	if (!slots || !busy)
		return 2;
	for (int i = 0; i < opt.qd; i++)
		if (posix_memalign((void **)&slots[i].buf, 4096, BLK))
			return 2;
	next_seq = first_seq = log_max_seq(opt.logpath) + 1;
	logf = fopen(opt.logpath, "a");
	if (!logf) {
		msg("cannot open log %s: %s", opt.logpath, strerror(errno));
		return 2;
	}
	ctx = open_url(opt.urls[opt.cur], 10, &lun);
	if (!ctx || read_block_size(ctx, &cap) < 0)
		return 2;
	if ((opt.offset_blocks + opt.blocks) * (BLK / (uint64_t)lbs) > cap) {
		msg("region of %" PRIu64 " blocks at %" PRIu64 " exceeds the LUN (%" PRIu64 " LBAs of %d)",
		    opt.blocks, opt.offset_blocks, cap, lbs);
		return 2;
	}
	up = 1;
	msg("writing to %s, %" PRIu64 " blocks of 4 KiB, QD %d, %.0f s, first seq %" PRIu64,
	    opt.urls[opt.cur], opt.blocks, opt.qd, opt.seconds, next_seq);
	t0 = last_rx = last_ack = last_flush = now();
	end = t0 + opt.seconds;
	for (;;) {
		double tn = now();
		int more = !stop_req && tn < end && (!opt.max_writes || submitted < opt.max_writes);
		if (!more && outstanding() == 0)
			break;
		if (tn - last_flush > 0.5) {
			flush_log();
			last_flush = tn;
		}
		if (outstanding() > 0 && tn - last_ack > opt.give_up) {
			msg("no acknowledgement for %.0f s: giving up on %d outstanding writes", opt.give_up, outstanding());
			errors += (uint64_t)outstanding();
			break;
		}
		if (!up) {                      /* reconnect: same portal until the replacement timeout */
			if (tn < next_try) {
				usleep(50000);
				continue;
			}
			if (switch_url || tn - fail_since >= opt.repl_timeout) {
				if (opt.nurls > 1) {
					opt.cur = (opt.cur + 1) % opt.nurls;
					failovers++;
					msg("moving to %s", opt.urls[opt.cur]);
				}
				switch_url = 0;
				fail_since = tn;
			}
			ctx = open_url(opt.urls[opt.cur], 5, &lun);
			if (!ctx) {
				next_try = now() + 1;
				continue;
			}
			reconnects++;
			up = 1;
			lost = 0;
			last_rx = now();
			msg("reconnected to %s, %.1f s after the failure", opt.urls[opt.cur], last_rx - down_since);
			continue;
		}
		for (int i = 0; i < opt.qd && !lost; i++) {
			struct slot *s = &slots[i];
			if (s->st == S_PENDING && tn >= s->not_before) {
				submit(s);
			} else if (s->st == S_FREE && more && (!opt.max_writes || submitted < opt.max_writes) &&
				   (!opt.rate || (double)next_seq - first_seq < opt.rate * (tn - t0))) {
				if (pick_block(&s->block) < 0)
					break;
				busy[s->block] = 1;
				s->seq = next_seq++;
				submit(s);
			}
		}
		struct pollfd p = { .fd = iscsi_get_fd(ctx), .events = (short)iscsi_which_events(ctx) };
		if (!lost && poll(&p, 1, 20) >= 0 && iscsi_service(ctx, p.revents) < 0)
			mark_lost("%s", ierr(ctx));
		tn = now();
		if (!lost && outstanding() > 0 && tn - last_rx > opt.nop_interval && !nop_outstanding) {
			nop_outstanding = iscsi_nop_out_async(ctx, nop_cb, NULL, 0, NULL) == 0;
		}
		if (!lost && (outstanding() > 0 || nop_outstanding) && tn - last_rx > opt.nop_timeout)
			mark_lost("no response for %.0f s (NOP-Out timeout)", opt.nop_timeout);
		if (lost || switch_url) {
			msg("connection to %s lost: %s; %d commands to retry", opt.urls[opt.cur],
			    lost ? lost_why : "path in standby", outstanding());
			teardown();
			lost = 0;
			down_since = now();
			if (!switch_url)
				fail_since = down_since;
			next_try = switch_url ? now() + 0.2 : 0;  /* standby on every path: do not spin */
		}
	}
	teardown();
	flush_log();
	fclose(logf);
	if (acked == 0)
		longest_pause = now() - t0;
	printf("acked=%" PRIu64 " errors=%" PRIu64 " longest_pause_ms=%.0f retries=%" PRIu64
	       " reconnects=%" PRIu64 " failovers=%" PRIu64 " seconds=%.1f\n",
	       acked, errors, longest_pause * 1000, retries, reconnects, failovers, now() - t0);
	return errors ? 1 : 0;
}

/* ------------------------------------------------------------ verify */
struct ent { uint64_t lba, seq; };
static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	if (x->lba != y->lba)
		return x->lba < y->lba ? -1 : 1;
	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;  /* largest seq first */
}

static struct ent *vent;
static size_t v_uniq, v_bad, v_torn, v_lost, v_newer, v_ioerr, v_done;

/* Check one block read back against the largest acknowledged sequence. */
static void check_block(const struct ent *e, const unsigned char *b)
{
	uint32_t crc;
	const char *why = NULL;
	memcpy(&crc, b + OFF_CRC, 4);
	if (memcmp(b, MAGIC, 8) != 0) {
		why = "no iocheck block (old or zero data)";
		v_lost++;
	} else if (crc != block_crc(b) || get64(b + OFF_LBA) != e->lba) {
		why = crc != block_crc(b) ? "torn block (CRC mismatch)" : "block of another LBA";
		v_torn++;
	} else if (get64(b + OFF_SEQ) < e->seq) {
		why = "older write than acknowledged";
		v_lost++;
	} else if (get64(b + OFF_SEQ) > e->seq) {
		v_newer++;
	}
	if (why && v_bad++ < 20)
		msg("LBA %" PRIu64 ": %s: acked seq %" PRIu64 ", found seq %" PRIu64, e->lba, why, e->seq,
		    memcmp(b, MAGIC, 8) ? 0 : get64(b + OFF_SEQ));
}

static void read_cb(struct iscsi_context *c, int status, void *data, void *priv)
{
	struct scsi_task *t = data;
	const struct ent *e = priv;
	if (status == SCSI_STATUS_GOOD && t && t->datain.size >= BLK) {
		check_block(e, t->datain.data);
	} else {
		msg("READ(16) lba %" PRIu64 " failed: status 0x%x %s", e->lba, status, ierr(c));
		v_ioerr++;
	}
	v_done++;
	if (t)
		scsi_free_scsi_task(t);
}

static int do_verify(void)
{
	FILE *f = fopen(opt.logpath, "r");
	size_t n = 0, cap = 0, sent = 0;
	uint64_t lba, seq, nblocks;
	if (!f) {
		msg("cannot open log %s: %s", opt.logpath, strerror(errno));
		return 2;
	}
	while (fscanf(f, "%" SCNu64 " %" SCNu64, &lba, &seq) == 2) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			vent = realloc(vent, cap * sizeof(*vent));
			if (!vent)
				return 2;
		}
		vent[n++] = (struct ent){ lba, seq };
	}
	fclose(f);
	if (n == 0) {
		/* a run that acknowledged nothing proves nothing: every caller
		 * verifies a run that was meant to write */
		msg("no acknowledged write in %s: nothing to verify", opt.logpath);
		return 1;
	}
	qsort(vent, n, sizeof(*vent), ent_cmp);
	for (size_t i = 0; i < n; i++)          /* keep the largest acked seq of each LBA */
		if (i == 0 || vent[i].lba != vent[v_uniq - 1].lba)
			vent[v_uniq++] = vent[i];
	ctx = open_url(opt.urls[0], 15, &lun);
	if (!ctx || read_block_size(ctx, &nblocks) < 0)
		return 2;
	while (v_done < v_uniq) {
		while (sent < v_uniq && sent - v_done < (size_t)opt.qd) {
			if (!iscsi_read16_task(ctx, lun, vent[sent].lba, BLK, lbs, 0, 0, 0, 0, 0, read_cb, &vent[sent]))
				break;
			sent++;
		}
		struct pollfd p = { .fd = iscsi_get_fd(ctx), .events = (short)iscsi_which_events(ctx) };
		if (poll(&p, 1, 1000) < 0 || iscsi_service(ctx, p.revents) < 0 || v_ioerr) {
			msg("read-back failed: %s", ierr(ctx));
			return 2;
		}
	}
	iscsi_destroy_context(ctx);
	printf("verified=%zu lost=%zu torn=%zu newer=%zu log_entries=%zu\n", v_uniq, v_lost, v_torn, v_newer, n);
	free(vent);
	return v_lost || v_torn ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: iocheck write --url URL[,URL...] --blocks N --log FILE [--offset-blocks O] [--qd 32]\n"
		"                     [--seconds S] [--max-writes N] [--rate W] [--fua] [--nop-interval 5]\n"
		"                     [--nop-timeout 10] [--replacement-timeout 15] [--give-up 120]\n"
		"       iocheck verify --url URL --log FILE\n");
	exit(2);
}

/* A number option, whole and in range, or a clear error naming it (exit 2). */
static double num_opt(const char *name, const char *v, double lo, double hi)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !(d >= lo && d <= hi)) {
		fprintf(stderr, "iocheck: --%s %s: not a number in [%g, %g]\n", name, v, lo, hi);
		exit(2);
	}
	return d;
}

static uint64_t count_opt(const char *name, const char *v, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno || end == v || *end || *v == '-' || n < lo || n > hi) {
		fprintf(stderr, "iocheck: --%s %s: not a whole number in [%llu, %llu]\n", name, v, (unsigned long long)lo,
			(unsigned long long)hi);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, 0, 'u' }, { "blocks", 1, 0, 'b' }, { "offset-blocks", 1, 0, 'o' },
		{ "qd", 1, 0, 'q' }, { "seconds", 1, 0, 's' }, { "log", 1, 0, 'l' },
		{ "max-writes", 1, 0, 'm' }, { "fua", 0, 0, 'F' }, { "nop-interval", 1, 0, 'N' },
		{ "nop-timeout", 1, 0, 'T' }, { "replacement-timeout", 1, 0, 'R' },
		{ "give-up", 1, 0, 'G' }, { "rate", 1, 0, 'W' }, { 0, 0, 0, 0 } };
	char *urls = NULL;
	int c;
	if (argc < 2)
		usage();
	const char *mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'u': urls = optarg; break;
		case 'b': opt.blocks = count_opt("blocks", optarg, 1, UINT64_MAX); break;
		case 'o': opt.offset_blocks = count_opt("offset-blocks", optarg, 0, UINT64_MAX); break;
		case 'q': opt.qd = (int)count_opt("qd", optarg, 1, 1024); break;
		case 's': opt.seconds = num_opt("seconds", optarg, 0, 1e7); break;
		case 'l': opt.logpath = optarg; break;
		case 'm': opt.max_writes = count_opt("max-writes", optarg, 1, UINT64_MAX); break;
		case 'F': opt.fua = 1; break;
		case 'N': opt.nop_interval = num_opt("nop-interval", optarg, 0, 3600); break;
		case 'T': opt.nop_timeout = num_opt("nop-timeout", optarg, 0, 3600); break;
		case 'R': opt.repl_timeout = num_opt("replacement-timeout", optarg, 0, 3600); break;
		case 'G': opt.give_up = num_opt("give-up", optarg, 0, 1e7); break;
		case 'W': opt.rate = num_opt("rate", optarg, 0, 1e9); break;
		default: usage();
		}
	}
	if (!urls || !opt.logpath || opt.qd < 1 || opt.qd > 1024)
		usage();
	for (char *sv = NULL, *u = strtok_r(urls, ",", &sv); u && opt.nurls < MAX_URLS; u = strtok_r(NULL, ",", &sv))
		opt.urls[opt.nurls++] = u;
	crc_init();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	t0 = now();
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	gen = (uint64_t)rt.tv_sec * 1000000 + (uint64_t)rt.tv_nsec / 1000;
	if (!strcmp(mode, "write")) {
		if (opt.blocks == 0)
			usage();
		return do_write();
	}
	if (!strcmp(mode, "verify"))
		return do_verify();
	usage();
	return 2;
}

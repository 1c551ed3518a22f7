/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: CDB decoding and execution by the real SCSI device server
 * against in-memory LUNs (fuzz_common.h), with a data-out buffer from the input.
 * One input is a short sequence of commands on a fresh target (so reservations,
 * mode pages and unit attentions interact within an input but not across):
 *
 *   byte 0          backend failure mode: bits 0-1 errno (0 EIO, 1 ENOSPC, 2 EROFS,
 *                   3 EAGAIN), bits 2-7 fail from the Nth backend I/O on (0 = never)
 *   per command     c0: bits 0-1 nexus (2 ports, ALUA groups 1 and 2),
 *                       bits 2-3 LUN (0: 512 B wt, 1: 4 KiB wb, 2: read-only, 3: LUN 9, absent)
 *                       bits 4-5 direction (none, read, write, write), bit 6 32-byte CDB
 *                   u24 EDTL (capped at 256 KiB), CDB (16 or 32 bytes),
 *                   u16 n + n bytes of data-out (the rest of the buffer is zero)
 * Every command must complete exactly once; its sense must be well formed. */
#include "fuzz_common.h"
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include "scsi/alua.h"

#define TNAME "iqn.2026-11.org.tandem:fuzz"
#define NBLK 512u                       /* 256 KiB at 512 B, 2 MiB at 4 KiB */
#define EDTL_MAX (256u * 1024)
#define MAX_CMDS 8

static struct reactor *R;
static struct tconf *CF;
static char STATE[64];
static struct scsi_port PORTS[2] = {
	{ .rel_port_id = 1, .tpg_id = 1, .name = TNAME ",t,0x0001" },
	{ .rel_port_id = 2, .tpg_id = 2, .name = TNAME ",t,0x0002" },
};
static const char CONF[] =
	"alua_group a {\n  id: 1\n  state: active-optimized\n}\n"
	"alua_group b {\n  id: 2\n  state: active-nonoptimized\n  peer_port: 5\n}\n"
	"portal_group pg1 {\n  tag: 1\n  listen: 127.0.0.1:3320\n  alua_group: a\n}\n"
	"portal_group pg2 {\n  tag: 2\n  listen: 127.0.0.1:3321\n  alua_group: b\n}\n"
	"target " TNAME " {\n  lun 0 {\n    backend: null\n    size: 1M\n  }\n}\n";

struct ftask {
	struct scsi_task t;
	int completions;
};

static void ftask_complete(struct scsi_task *t)
{
	((struct ftask *)t)->completions++;
}

static void exec_fn(void *arg)
{
	scsi_task_exec(arg);
}

static void remove_state(void);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	snprintf(STATE, sizeof(STATE), "/tmp/tandem-fuzz-cdb.%d", (int)getpid());
	mkdir(STATE, 0700);
	scsi_set_state_dir(STATE);
	atexit(remove_state);
	CF = tconf_load_string("fuzz.conf", CONF, err, sizeof(err));
	if (!CF)
		FUZZ_DIE("config: %s", err);
	if (scsi_alua_configure(CF, err, sizeof(err)) < 0)
		FUZZ_DIE("alua: %s", err);
	R = reactor_create("fuzz");
	if (!R)
		FUZZ_DIE("reactor");
	return 0;
}

/* APTPL reservations persist in files: start every input from none. */
static void clear_state(void)
{
	char path[128];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/pr", STATE);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char f[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		unlink(f);
	}
	closedir(d);
}

static void remove_state(void)
{
	char path[128];

	clear_state();
	snprintf(path, sizeof(path), "%s/pr", STATE);
	rmdir(path);
	rmdir(STATE);
}

static void check_sense(const struct scsi_task *t)
{
	if (t->status == SCSI_STATUS_CHECK_CONDITION) {
		if (t->sense_len < 8 || t->sense_len > SCSI_SENSE_MAX)
			FUZZ_DIE("CHECK CONDITION with sense_len %u", t->sense_len);
		if ((t->sense[0] & 0x7f) != 0x70 && (t->sense[0] & 0x7f) != 0x72)
			FUZZ_DIE("bad sense response code 0x%02x", t->sense[0]);
	}
	if (t->dir == SCSI_DIR_READ && t->status == SCSI_STATUS_GOOD && t->data_len > t->edtl)
		FUZZ_DIE("data-in %u beyond EDTL %u", t->data_len, t->edtl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	static const int errs[4] = { -EIO, -ENOSPC, -EROFS, -EAGAIN };
	struct scsi_target *tgt;
	struct scsi_itn *itn[4];
	struct fmem *mem[3];
	uint8_t fm;

	if (size < 1 || size > 65536)
		return -1;
	clear_state();
	scsi_alua_set_state(1, SCSI_ALUA_ACTIVE_OPTIMIZED);
	scsi_alua_set_state(2, SCSI_ALUA_ACTIVE_NONOPTIMIZED);
	tgt = scsi_target_create(TNAME);
	if (!tgt)
		FUZZ_DIE("target");
	mem[0] = fmem_attach(tgt, TNAME, 0, NBLK, 512, TCONF_CACHE_WRITE_THROUGH, false);
	mem[1] = fmem_attach(tgt, TNAME, 1, NBLK, 4096, TCONF_CACHE_WRITE_BACK, false);
	mem[2] = fmem_attach(tgt, TNAME, 2, NBLK, 512, TCONF_CACHE_NV, true);
	itn[0] = scsi_itn_create(tgt, "iqn.1994-05.com.example:a,i,0x023d00000001", &PORTS[0]);
	itn[1] = scsi_itn_create(tgt, "iqn.1994-05.com.example:b,i,0x023d00000002", &PORTS[0]);
	itn[2] = scsi_itn_create(tgt, "iqn.1994-05.com.example:a,i,0x023d00000003", &PORTS[1]);
	itn[3] = scsi_itn_create(tgt, "iqn.1994-05.com.example:c,i,0x023d00000004", &PORTS[1]);
	for (int i = 0; i < 4; i++)
		if (!itn[i])
			FUZZ_DIE("itn");
	fm = fin_u8(&in);
	for (int i = 0; i < 3; i++) {
		mem[i]->fail_after = fm >> 2;
		mem[i]->fail_status = errs[fm & 3];
	}

	for (int n = 0; n < MAX_CMDS && in.n >= 4; n++) {
		static const uint64_t luns[4] = { 0, 1, 2, 9 };
		uint8_t c0 = fin_u8(&in);
		struct ftask *x = calloc(1, sizeof(*x));
		uint32_t edtl, dlen;

		if (!x)
			FUZZ_DIE("oom");
		x->t.itn = itn[c0 & 3];
		x->t.lun = luns[(c0 >> 2) & 3];
		x->t.dir = (enum scsi_dir)((c0 >> 4) & 3);
		if (x->t.dir == 3)
			x->t.dir = SCSI_DIR_WRITE;
		edtl = (uint32_t)fin_u8(&in) << 16;
		edtl |= fin_u16(&in);
		if (edtl > EDTL_MAX)
			edtl %= EDTL_MAX + 1;
		x->t.cdb_len = (c0 & 0x40) ? 32 : 16;
		fin_bytes(&in, x->t.cdb, x->t.cdb_len);
		x->t.edtl = x->t.dir == SCSI_DIR_NONE ? 0 : edtl;
		x->t.buf_len = x->t.edtl;
		if (x->t.edtl) {
			x->t.buf = buf_alloc(x->t.edtl);
			if (!x->t.buf)
				FUZZ_DIE("oom");
			memset(x->t.buf, 0, x->t.edtl);
		}
		dlen = fin_u16(&in);
		if (x->t.dir == SCSI_DIR_WRITE) {
			if (dlen > x->t.edtl)
				dlen = x->t.edtl;
			fin_bytes(&in, x->t.buf, dlen);
		}
		x->t.complete = ftask_complete;
		reactor_post(R, exec_fn, &x->t);
		for (int i = 0; i < 2000 && x->completions == 0; i++)
			reactor_poll_once(R, i < 100 ? 0 : 1);
		if (x->completions != 1)
			FUZZ_DIE("command %02x did not complete (%d)", x->t.cdb[0], x->completions);
		reactor_poll_once(R, 0);
		if (x->completions != 1)
			FUZZ_DIE("command %02x completed %d times", x->t.cdb[0], x->completions);
		check_sense(&x->t);
		buf_free(x->t.buf, x->t.buf_len);
		free(x);
	}
	for (int i = 0; i < 4; i++)
		scsi_itn_destroy(itn[i]);
	for (int i = 0; i < 5; i++)
		reactor_poll_once(R, 0);
	scsi_target_destroy(tgt);
	for (int i = 0; i < 3; i++)
		reactor_poll_once(R, 0);
	return 0;
}

#!/usr/bin/env bash
# Backend failures end to end (docs/HARDENING.md): every failed backend I/O
# gives the right CHECK CONDITION, never a hang and never GOOD for data that
# did not land.
#   - ENOSPC: a fileio LUN of 16 MiB on a 2 MiB tmpfs (private mount, removed
#     on exit): writes past the space get DATA PROTECT / SPACE ALLOCATION
#     FAILED WRITE PROTECT (27/07, SBC-3 4.7.3.6); every write answered GOOD
#     reads back intact. The writes are 384 KiB: the failing one fits in part
#     (a short write) and still gets 27/07, not MEDIUM ERROR.
#   - EIO on read / write / flush: an LD_PRELOAD shim built here fails preadv,
#     pwritev(2) and fdatasync on the LUN's file while a control file says so
#     (no daemon code involved, no cost in normal builds): READ gets MEDIUM
#     ERROR / UNRECOVERED READ ERROR (3/11/00), WRITE and SYNCHRONIZE CACHE and
#     FUA writes get MEDIUM ERROR / WRITE ERROR (3/0c/00); after the fault is
#     cleared reads and writes work again, but SYNCHRONIZE CACHE keeps failing
#     (a failed flush is sticky until the LUN is reopened).
#   - a LUN RESET of session 2 while session 1's write hangs in the device:
#     answered only once that write left the device (before, at once); the
#     same after session 1 aborted that write itself (ABORT TASK) first;
#   - a login that reinstates a session (its ISID, TSIH 0) whose write hangs
#     in the device: answered only once that write left the device, so it
#     cannot land over the new session's writes (before: answered at once);
#     meanwhile a third session's LUN RESET waits for that write too, and a
#     retry of the login reinstates the waiting one and waits in its turn;
#   - PREEMPT AND ABORT of the issuer's own key while its write hangs in the
#     device: that write is aborted too and the PR OUT answers once it left
#     the device, no unit attention for the issuer (before: the write was
#     left running and answered, the PR OUT answered at once);
#   - another session's CLEAR TASK SET or LUN RESET of LUN 0 aborts an
#     EXTENDED COPY addressed to LUN 2 whose write into LUN 0 hangs: COMMANDS
#     CLEARED BY ANOTHER INITIATOR goes to LUN 2, the copy's own LUN (before:
#     to LUN 0 for CLEAR TASK SET, nowhere for LUN RESET);
#   - a device that hangs (the shim blocks pwritev while the control file says
#     "hang") under a write in flight, and a reload that removes that LUN: the
#     reload answers within a few seconds (the LUN leaves at once, its device
#     closes once the write ended) and the control socket keeps answering;
#     before, the reload waited for the write for ever, holding the registry
#     lock that logins and session ends need.
#   - ENOSPC from a FUA write through the page cache (shim words
#     "ownnospc", "syncnospc"): the write's own ENOSPC is SPACE ALLOCATION
#     FAILED and later flushes work; an ENOSPC of its sync (a thin or network
#     file system out of space at writeback may have dropped an earlier
#     acknowledged write) makes every later flush fail like an EIO (before:
#     the next SYNCHRONIZE CACHE answered GOOD).
#   - write-back caches are flushed when no initiator will ask any more: a
#     reload turning LUN 2's cache write-back -> write-through, and the reload
#     that removes it, each fdatasync its file (the shim counts them in
#     FAULT_SYNCLOG); before, neither did.
# Usage: bash tests/integration/test_backend_faults.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool python3 cc qemu-io
require_tandemd

TANDEM_PORT_BASE=${TANDEM_PORT_BASE:-3324}
IQN=iqn.2026-11.org.tandem:faults
PORT=$(free_port)
CONF=$T_TMP/tandem.conf
CTL_FILE=$T_TMP/fault.ctl
EIO_IMG=$T_TMP/eio.img
echo none >"$CTL_FILE"

# ---------------------------------------------------------------- the shim
build_fault_shim "$T_TMP/fault_shim.so" || { fail "build the fault shim"; finish; exit 1; }

# ---------------------------------------------------------------- ENOSPC: small tmpfs
TMPFS=$T_TMP/tmpfs
mkdir -p "$TMPFS"
HAVE_TMPFS=0
if mount -t tmpfs -o size=2M,mode=0700 tandem-faults "$TMPFS" 2>/dev/null; then
	HAVE_TMPFS=1
	_faults_umount() { umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS" 2>/dev/null || true; }
	trap '_faults_umount; _t_cleanup' EXIT
else
	log "cannot mount tmpfs here (no CAP_SYS_ADMIN?): ENOSPC part skipped"
fi
NOSPC_LUN=""
if [ "$HAVE_TMPFS" = 1 ]; then
	NOSPC_LUN="    lun 1 {
        backend: fileio
        path: $TMPFS/full.img
        create: yes
        size: 16M
        cache: write-through
        serial: faults-lun1
        naa: 6001405000000000000000000000d002
    }"
fi
cat >"$CONF" <<CONF
global {
    log_level: notice
    threads: 2
    ctl_socket: tandem-hard-faults-$$
}
portal_group pg1 {
    tag: 1
    listen: 127.0.0.1:$PORT
}
target $IQN {
    portal_group: pg1
    lun 0 {
        backend: fileio
        path: $EIO_IMG
        create: yes
        size: 16M
        cache: write-back
        serial: faults-lun0
        naa: 6001405000000000000000000000d001
    }
$NOSPC_LUN
    lun 3 {
        backend: fileio
        path: $T_TMP/syncnospc.img
        create: yes
        size: 16M
        cache: write-back
        serial: faults-lun3
        naa: 6001405000000000000000000000d004
    }
    lun 2 {
        backend: fileio
        path: $T_TMP/wb.img
        create: yes
        size: 16M
        cache: write-back
        serial: faults-lun2
        naa: 6001405000000000000000000000d003
    }
}
CONF
# ASan wants to be first in the library list; the shim only wraps libc calls.
SYNCLOG=$T_TMP/sync.log
: >"$SYNCLOG"
FAULT_PATH=$EIO_IMG:$T_TMP/syncnospc.img FAULT_CTL=$CTL_FILE FAULT_SYNC_PATH=$T_TMP/wb.img FAULT_SYNCLOG=$SYNCLOG LD_PRELOAD=$T_TMP/fault_shim.so \
	ASAN_OPTIONS=${ASAN_OPTIONS}:verify_asan_link_order=0 \
	start_tandemd "$CONF" "$PORT" || { fail "tandemd starts"; finish; exit 1; }
PID=$TANDEMD_PID

rc=0
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" "$CTL_FILE" "$HAVE_TMPFS" >"$T_TMP/faults.out" 2>&1 <<'PY' || rc=$?
import os, sys, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
from test_bad_input import Conn, Closed, OP_SCSI_RSP, OP_DATA_IN, OP_R2T, OP_DATA_OUT
port, iqn, ctl, have_tmpfs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == '1'
P = F = 0
def ok(w):
    global P; P += 1; print('PASS: ' + w, flush=True)
def bad(w):
    global F; F += 1; print('FAIL: ' + w, flush=True)

c = Conn(port, timeout=20)
err = c.login(iqn)
if err:
    print('FAIL: login: ' + err); print('0 passed, 1 failed'); sys.exit(1)

def cmd(cdb, lun=0, read=0, data=b''):
    """One command; returns (status, sense key, asc, ascq, data-in). Data-out via R2T."""
    bhs = bytearray(c.scsi_bhs(cdb, read_len=read, lun=lun))
    if data:
        bhs[1] |= 0x20
        bhs[20:24] = len(data).to_bytes(4, 'big')
    c.send_pdu(bytes(bhs))
    itt = bhs[16:20]
    din = b''
    while True:
        op, h, d = c.recv_skip_nop()
        if op == OP_R2T:
            ttt, off, ln = h[20:24], int.from_bytes(h[40:44], 'big'), int.from_bytes(h[44:48], 'big')
            pos, sn = off, 0
            while pos < off + ln:
                n = min(65536, off + ln - pos)
                o = bytearray(48)
                o[0] = OP_DATA_OUT; o[1] = 0x80 if pos + n >= off + ln else 0
                o[5:8] = n.to_bytes(3, 'big'); o[8:10] = lun.to_bytes(2, 'big'); o[16:20] = itt; o[20:24] = ttt
                o[28:32] = c.expstatsn.to_bytes(4, 'big'); o[36:40] = sn.to_bytes(4, 'big'); o[40:44] = pos.to_bytes(4, 'big')
                c.send_pdu(bytes(o), data[pos:pos + n]); pos += n; sn += 1
            continue
        if op == OP_DATA_IN:
            din += d
            if h[1] & 1:
                return h[3], 0, 0, 0, din
            continue
        if op == OP_SCSI_RSP:
            sk = asc = ascq = 0
            if h[3] == 2 and len(d) >= 2 + 14:
                s = d[2:]
                sk, asc, ascq = s[2] & 0xf, s[12], s[13]
            return h[3], sk, asc, ascq, din

def set_fault(what):
    with open(ctl, 'w') as f:
        f.write(what)

def tur(lun):
    for _ in range(4):
        st = cmd(bytes(6), lun=lun)
        if st[0] == 0:
            return
tur(0)
rd = lambda lba, n, lun=0: cmd(bytes([0x28, 0]) + lba.to_bytes(4, 'big') + bytes([0]) + n.to_bytes(2, 'big') + bytes([0]), lun=lun, read=n * 512)
wr = lambda lba, buf, lun=0, fua=False: cmd(bytes([0x2a, 0x08 if fua else 0]) + lba.to_bytes(4, 'big') + bytes([0]) + (len(buf) // 512).to_bytes(2, 'big') + bytes([0]), lun=lun, data=buf)
sync = lambda lun=0: cmd(bytes([0x35]) + bytes(9), lun=lun)

def expect(what, got, want):
    if tuple(got[:4]) == want:
        ok('%s: status %02x sense %x/%02x/%02x' % ((what,) + tuple(got[:4])))
    else:
        bad('%s: got status %02x sense %x/%02x/%02x, want %02x %x/%02x/%02x' % ((what,) + tuple(got[:4]) + want))

MEDIUM_READ, MEDIUM_WRITE, GOOD = (2, 3, 0x11, 0), (2, 3, 0x0c, 0), (0, 0, 0, 0)
pat = os.urandom(8192)
t0 = time.time()
expect('write before faults', wr(8, pat), GOOD)
set_fault('read')
expect('READ with EIO', rd(8, 16), MEDIUM_READ)
set_fault('write')
expect('WRITE with EIO', wr(100, os.urandom(4096)), MEDIUM_WRITE)
expect('FUA WRITE with EIO', wr(200, os.urandom(4096), fua=True), MEDIUM_WRITE)
set_fault('flush')
expect('SYNCHRONIZE CACHE with EIO on fdatasync', sync(), MEDIUM_WRITE)
# (a FUA write is one pwritev2(RWF_DSYNC): its failure is the "write" case above)
set_fault('none')
st = rd(8, 16)
if st[0] == 0 and st[4] == pat:
    ok('after the fault clears: data written before reads back intact')
else:
    bad('after the fault: status %02x, data %s' % (st[0], 'ok' if st[4] == pat else 'differs'))
# a failed flush is sticky (bdev_fdatasync): Linux reports a writeback error
# once, so the next fdatasync returns 0 for pages that were lost; GOOD here
# would acknowledge writes that never reached the disk
expect('SYNCHRONIZE CACHE after the fault clears: still MEDIUM ERROR (a lost writeback is not forgotten)',
       sync(), MEDIUM_WRITE)
pat2 = os.urandom(4096)
expect('WRITE after the fault clears', wr(300, pat2), GOOD)
st = rd(300, 8)
if st[0] == 0 and st[4] == pat2:
    ok('after the fault clears: new writes read back')
else:
    bad('after the fault: new write status %02x, data %s' % (st[0], 'ok' if st[4] == pat2 else 'differs'))

if have_tmpfs:
    tur(1)
    acked, nospc = [], None
    # 384 KiB writes onto 2 MiB of tmpfs: the 6th fits only in part (a short
    # write; the file system reports ENOSPC only to the call after it)
    for i in range(32):
        buf = os.urandom(393216)
        lba = i * 768
        st = wr(lba, buf, lun=1)
        if st[0] == 0:
            acked.append((lba, buf))
        else:
            nospc = st
            break
    if nospc is None:
        bad('ENOSPC: 8 MiB written onto a 2 MiB tmpfs without an error')
    else:
        expect('WRITE on a full tmpfs', nospc, (2, 7, 0x27, 0x07))
        # more writes keep failing the same way, no hang
        expect('second WRITE on a full tmpfs', wr(32 * 512, os.urandom(65536), lun=1), (2, 7, 0x27, 0x07))
    good = all(rd(lba, 768, lun=1)[4] == buf for lba, buf in acked)
    if acked and good:
        ok('ENOSPC: all %d writes acked GOOD read back intact' % len(acked))
    else:
        bad('ENOSPC: %d acked writes, read back %s' % (len(acked), 'ok' if good else 'WRONG'))
    expect('SYNCHRONIZE CACHE on the full LUN', sync(lun=1), GOOD)
# ENOSPC from a FUA write through the page cache (RWF_DSYNC): either the
# write's own (no space for it: nothing lost, later flushes fine) or its sync's
# (a thin or network file system out of space at writeback, which may have
# dropped an earlier acknowledged write: like EIO, every later flush fails).
# Before, the second case answered the later SYNCHRONIZE CACHE with GOOD.
NOSPC_SENSE = (2, 7, 0x27, 0x07)
tur(3)
expect('LUN 3: a write-back write', wr(0, os.urandom(4096), lun=3), GOOD)
set_fault('ownnospc')
expect('LUN 3: a FUA write without space for itself: SPACE ALLOCATION FAILED', wr(8, os.urandom(4096), lun=3, fua=True),
       NOSPC_SENSE)
set_fault('none')
expect('LUN 3: SYNCHRONIZE CACHE after a write\'s own ENOSPC: GOOD (nothing was lost)', sync(lun=3), GOOD)
set_fault('syncnospc')
expect('LUN 3: a FUA write whose sync reports ENOSPC: SPACE ALLOCATION FAILED', wr(16, os.urandom(4096), lun=3, fua=True),
       NOSPC_SENSE)
set_fault('none')
expect('LUN 3: SYNCHRONIZE CACHE after a sync\'s ENOSPC: still fails (an earlier write may be lost)', sync(lun=3),
       NOSPC_SENSE)
print('RESULT fault_cases_secs=%.1f' % (time.time() - t0))
c.close()
print('%d passed, %d failed' % (P, F))
sys.exit(1 if F else 0)
PY
sed -e 's/^/    /' "$T_TMP/faults.out"
if [ "$rc" -eq 0 ]; then
	pass "backend faults: $(grep -E '^[0-9]+ passed' "$T_TMP/faults.out" | tail -n 1)"
else
	fail "backend faults (exit $rc): $(grep -E '^FAIL|Error|error' "$T_TMP/faults.out" | tr '\n' ' ' | cut -c1-300)"
fi
if daemon_alive "$PID"; then pass "tandemd alive after backend faults"; else fail "tandemd died"; fi

# ---------------------------------------------------------------- write-back flushes
ctl() { timeout 40 "$TANDEMCTL" -s "tandem-hard-faults-$$" "$@"; }
nsync() { wc -l <"$SYNCLOG"; }
check "a write to LUN 2 (write-back)" timeout 60 qemu-io -f raw -c "write -P 0x7d 0 64k" "iscsi://127.0.0.1:$PORT/$IQN/2"
n0=$(nsync)
sed -i '/path: .*wb.img/,/serial: faults-lun2/s/cache: write-back/cache: write-through/' "$CONF"
grep -A4 'wb.img' "$CONF" | grep -q 'cache: write-through' || fail "LUN 2's cache not changed in the config"
check "reload: LUN 2 write-back -> write-through" ctl reload
for _ in $(seq 1 25); do [ "$(nsync)" -gt "$n0" ] && break; sleep 0.2; done   # the flush runs on a reactor
n1=$(nsync)
[ "$n1" -gt "$n0" ] && pass "the cache change flushed LUN 2 ($n0 -> $n1 fdatasync)" \
	|| fail "the cache change did not flush LUN 2 (fdatasync count $n0 -> $n1): writes acknowledged from the cache stay volatile"

# ---------------------------------------------------------------- LUN RESET waits for other sessions' tasks
# SAM-5: a LUN RESET is complete once every task of the LUN is aborted. A write
# of another session that is in the device when the reset comes is aborted (no
# response) but still running: the reset's answer must wait until it left the
# device, or the initiator that reset may reuse those blocks under it.
# hung_write PATTERN OFFSET OUT WHAT: the device hangs, a qemu-io write to LUN 0
# goes into it; sets HUNG_PID
hung_write() {
	echo hang >"$CTL_FILE"
	timeout 120 qemu-io -f raw -c "write -P $1 $2 4k" "iscsi://127.0.0.1:$PORT/$IQN/0" >"$3" 2>&1 &
	HUNG_PID=$!
	track_pid "$HUNG_PID"
	sleep 2
	kill -0 "$HUNG_PID" 2>/dev/null && pass "$4 hangs in LUN 0's device" || fail "the write did not hang: $(cat "$3")"
}
hung_write 0x3d 128k "$T_TMP/hung2.out" "a write of session 1"
HUNG2=$HUNG_PID
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" >"$T_TMP/reset.out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn = int(sys.argv[1]), sys.argv[2]
tbi.INITIATOR = 'iqn.2026-11.org.tandem.test:resetter'
c = tbi.Conn(port)
err = c.login(iqn)
if err:
    print('login failed', err, flush=True)
    sys.exit(1)
c.tmf(0x05)                                     # LUN RESET, LUN 0
r = c.tmf_response(3)
if r is not None:
    print('early', r, flush=True)
    sys.exit(0)
print('pending', flush=True)
r = c.tmf_response(30)
print('answered', r, flush=True)
PY
RESET_PID=$!
track_pid "$RESET_PID"
for _ in $(seq 1 100); do grep -qE "pending|early|failed" "$T_TMP/reset.out" && break; sleep 0.1; done
check "LUN RESET from session 2 is not answered while session 1's write is in the device" grep -q pending "$T_TMP/reset.out"
echo none >"$CTL_FILE"
wait "$RESET_PID" 2>/dev/null || true
untrack_pid "$RESET_PID"
check "LUN RESET answered Function complete once the write left the device" grep -q "answered 0" "$T_TMP/reset.out"
kill -0 "$HUNG2" 2>/dev/null && kill -TERM "$HUNG2" 2>/dev/null     # aborted: it never gets a response
wait "$HUNG2" 2>/dev/null || true
untrack_pid "$HUNG2"
check "tandemd serves LUN 0 after the reset" timeout 30 qemu-io -f raw -c "read -P 0x3d 128k 4k" "iscsi://127.0.0.1:$PORT/$IQN/0"

# ---------------------------------------------------------------- ABORT TASK, then another session's LUN RESET
# The usual escalation of an initiator whose write hangs: ABORT TASK, then a
# LUN RESET (from another path). The write is aborted already but still in
# the device: the reset waits for it too (before: answered at once, the task
# being "dead" already).
echo hang >"$CTL_FILE"
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" >"$T_TMP/reset2.out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn = int(sys.argv[1]), sys.argv[2]
def session(name):
    return tbi.named_session(port, iqn, name)
c1, c2 = session('iqn.2026-11.org.tandem.test:writer'), session('iqn.2026-11.org.tandem.test:resetter2')
cdb = bytes([0x2a, 0, 0, 0, 0x01, 0, 0, 0, 8, 0])    # WRITE(10) LBA 256, 8 blocks: 4 KiB
w = bytearray(c1.scsi_bhs(cdb, dlen=4096))
w[1] = 0x80 | 0x20 | 0x01
w[20:24] = (4096).to_bytes(4, 'big')
ref = int.from_bytes(w[24:28], 'big')
c1.send_pdu(bytes(w), bytes([0x5e]) * 4096)    # immediate data: into the hung device
time.sleep(1)
c1.tmf(0x01, int.from_bytes(w[16:20], 'big'), ref)      # ABORT TASK
print('abort', c1.tmf_response(1), flush=True)          # waits for the device: None
c2.tmf(0x05)                                            # LUN RESET from the other session
r = c2.tmf_response(3)
print('reset early' if r is not None else 'reset pending', flush=True)
open(os.environ.get('GO', '/dev/null'), 'a').close()
r = c2.tmf_response(30)
print('reset answered', r, flush=True)
print('abort answered', c1.tmf_response(10), flush=True)
PY
RESET2_PID=$!
track_pid "$RESET2_PID"
for _ in $(seq 1 150); do grep -qE "reset (early|pending)|failed" "$T_TMP/reset2.out" && break; sleep 0.1; done
check "ABORT TASK of the hung write: not answered while it is in the device" grep -q "abort None" "$T_TMP/reset2.out"
check "then LUN RESET from session 2: not answered while the aborted write is in the device" grep -q "reset pending" "$T_TMP/reset2.out"
echo none >"$CTL_FILE"
wait "$RESET2_PID" 2>/dev/null || true
untrack_pid "$RESET2_PID"
check "LUN RESET (after ABORT TASK) answered Function complete once the write left the device" grep -q "reset answered 0" "$T_TMP/reset2.out"
check "ABORT TASK answered Function complete too" grep -q "abort answered 0" "$T_TMP/reset2.out"

# ---------------------------------------------------------------- session reinstatement waits for the old session's write
# RFC 7143 6.3.5: a login with the ISID of a live session (TSIH 0) reinstates
# it; the old session's tasks end without a response, but a write of it that is
# in the device is still running. The new login is answered only once that
# write has left the device (LIO and SCST wait the same way): answered at
# once, the initiator's retry and its next writes to those blocks could be
# overwritten by the old write landing late (before: answered at once). While
# the login waits, the old session stays findable: a third session's LUN
# RESET waits for its write like for any other nexus' task.
echo hang >"$CTL_FILE"
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" >"$T_TMP/reinst.out" 2>&1 <<'PY' &
import os, sys, threading, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn = int(sys.argv[1]), sys.argv[2]
def read_lba(c, lba):
    """READ(10) of 8 blocks (4 KiB) at lba: (status, data)"""
    bhs = c.scsi_bhs(bytes([0x28, 0]) + lba.to_bytes(4, 'big') + bytes([0, 0, 8, 0]), read_len=4096)
    c.send_pdu(bhs)
    buf = bytearray(4096)
    end = time.time() + 10
    while True:
        op, rsp, data = c.recv_skip_nop(deadline=end)
        if rsp[16:20] != bhs[16:20]:
            continue
        if op == tbi.OP_DATA_IN:
            off = int.from_bytes(rsp[40:44], 'big')
            buf[off:off + len(data)] = data
            if rsp[1] & 0x01:
                return rsp[3], bytes(buf)
        elif op == tbi.OP_SCSI_RSP:
            return rsp[3], bytes(buf)
third = tbi.named_session(port, iqn, 'iqn.2026-11.org.tandem.test:resetter3')
old = tbi.named_session(port, iqn, 'iqn.2026-11.org.tandem.test:reinstater')
w = old.scsi_out(bytes([0x2a, 0, 0, 0, 0x04, 0, 0, 0, 8, 0]), bytes([0x4e]) * 4096)   # LBA 1024: hangs
time.sleep(1)
def login_bg(c, res):
    try:
        res['err'] = c.login(iqn)
    except Exception as e:                          # the connection closed under it
        res['err'] = 'closed: %r' % e
    return res
def reinstating_login():
    c = tbi.Conn(port, timeout=30)
    c.isid = old.isid                               # same initiator port: reinstatement
    res = {}
    th = threading.Thread(target=login_bg, args=(c, res))
    th.start()
    return c, th, res
first, th1, res1 = reinstating_login()
th1.join(3)
print('login pending' if th1.is_alive() else 'login answered early: %r' % res1, flush=True)
print('old closed' if old.wait_closed(5) else 'old still open', flush=True)
third.tmf(0x05)                                     # LUN RESET, LUN 0, from a third session
r = third.tmf_response(3)
print('reset early %s' % r if r is not None else 'reset pending', flush=True)
# the initiator gives up on that login and tries again: the retry reinstates
# the waiting session and waits in its turn for the old one
new, th, res = reinstating_login()
th1.join(5)
print('first try closed' if not th1.is_alive() and res1.get('err') else 'first try %r' % res1, flush=True)
th.join(2)
print('retry pending' if th.is_alive() else 'retry answered early: %r' % res, flush=True)
th.join(30)
print('reinstated' if not th.is_alive() and not res.get('err') else 'login failed %r' % res, flush=True)
r = third.tmf_response(30) if r is None else r
print('reset answered', r, flush=True)
new.test_unit_ready()                               # its unit attention
st, data = read_lba(new, 1024)
print('old write landed before the login' if st == 0 and data == bytes([0x4e]) * 4096
      else 'read %s %r' % (st, data[:8]), flush=True)
st = new.scsi_status(new.scsi_out(bytes([0x2a, 0, 0, 0, 0x04, 0, 0, 0, 8, 0]), bytes([0x5f]) * 4096), 10)
st2, data = read_lba(new, 1024)
print('new write %s reads %s' % (st, 'back' if st2 == 0 and data == bytes([0x5f]) * 4096 else repr(data[:8])),
      flush=True)
PY
REINST_PID=$!
track_pid "$REINST_PID"
for _ in $(seq 1 200); do grep -qE "reset (early|pending)|failed|Error" "$T_TMP/reinst.out" && break; sleep 0.1; done
check "a login with the old session's ISID is not answered while its write is in the device" \
	grep -q "login pending" "$T_TMP/reinst.out"
check "the reinstated session's connection is closed at once" grep -q "old closed" "$T_TMP/reinst.out"
check "LUN RESET from a third session: not answered while the old session's write is in the device" \
	grep -q "reset pending" "$T_TMP/reinst.out"
for _ in $(seq 1 100); do grep -qE "retry (pending|answered)|failed|Error" "$T_TMP/reinst.out" && break; sleep 0.1; done
check "a retried login reinstates the waiting one (its connection closed)" grep -q "first try closed" "$T_TMP/reinst.out"
check "... and waits for the old session's write in its turn" grep -q "retry pending" "$T_TMP/reinst.out"
echo none >"$CTL_FILE"
wait "$REINST_PID" 2>/dev/null || true
untrack_pid "$REINST_PID"
check "the reinstating login completes once the write left the device" grep -q "^reinstated" "$T_TMP/reinst.out"
check "LUN RESET answered Function complete once the write left the device" \
	grep -q "reset answered 0" "$T_TMP/reinst.out"
check "the new session reads the old session's write: it landed before the login was answered" \
	grep -q "old write landed before the login" "$T_TMP/reinst.out"
check "the new session's write to the same blocks stays" grep -q "new write 0 reads back" "$T_TMP/reinst.out"
check "tandemd logged the wait for the reinstated session" \
	grep -q "reinstated session TSIH [0-9]* has ended (its last task left the backend after [0-9]* ms)" "$TANDEMD_LOG"
[ -s "$T_TMP/reinst.out" ] && sed -e 's/^/    | /' "$T_TMP/reinst.out" | head -10

# ---------------------------------------------------------------- PREEMPT AND ABORT waits like a reset
# SPC-4 5.13.11.2.4.4: the preempted nexus' tasks are aborted as by ABORT TASK
# SET, which SAM-5 completes once they have ended. fence_scsi fences a node
# with preempt-abort and then trusts that node's writes to be over: the PR OUT
# must not be answered while the preempted initiator's write is in the device
# (before: answered at once).
echo hang >"$CTL_FILE"
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" >"$T_TMP/preempt.out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn = int(sys.argv[1]), sys.argv[2]
def session(name):
    return tbi.named_session(port, iqn, name)
prout = tbi.prout
x, y = session('iqn.2026-11.org.tandem.test:fenced'), session('iqn.2026-11.org.tandem.test:fencer')
print('x registers', x.scsi_status(prout(x, 0, 0, 0xa1), 10), flush=True)
print('y registers', y.scsi_status(prout(y, 0, 0, 0xb2), 10), flush=True)
print('x reserves', x.scsi_status(prout(x, 1, 0xa1, 0, 1), 10), flush=True)     # Write Exclusive
cdb = bytes([0x2a, 0, 0, 0, 0x02, 0, 0, 0, 8, 0])    # WRITE(10) LBA 512: into the hung device
w = x.scsi_out(cdb, bytes([0x6e]) * 4096)
time.sleep(1)
p = prout(y, 5, 0xb2, 0xa1, 1)                       # PREEMPT AND ABORT x's key, Write Exclusive
st = y.scsi_status(p, 3)
print('preempt early %s' % st if st is not None else 'preempt pending', flush=True)
st = y.scsi_status(p, 30) if st is None else st
print('preempt answered', st, flush=True)
print('y clears', y.scsi_status(prout(y, 3, 0xb2, 0), 10), flush=True)      # CLEAR: later tests write freely
PY
PRE_PID=$!
track_pid "$PRE_PID"
for _ in $(seq 1 150); do grep -qE "preempt (early|pending)|failed" "$T_TMP/preempt.out" && break; sleep 0.1; done
check "x and y registered, x reserved" grep -qzE "x registers 0.*y registers 0.*x reserves 0" "$T_TMP/preempt.out"
check "PREEMPT AND ABORT from y: not answered while x's write is in the device" grep -q "preempt pending" "$T_TMP/preempt.out"
echo none >"$CTL_FILE"
wait "$PRE_PID" 2>/dev/null || true
untrack_pid "$PRE_PID"
check "PREEMPT AND ABORT answered GOOD once x's write left the device" grep -q "preempt answered 0" "$T_TMP/preempt.out"
check "the reservations are cleared again" grep -q "y clears 0" "$T_TMP/preempt.out"
[ -s "$T_TMP/preempt.out" ] && sed -e 's/^/    | /' "$T_TMP/preempt.out" | head -8

# ---------------------------------------------------------------- PREEMPT AND ABORT of the issuer's own key
# SPC-4 5.13.11.2.5: preempting its own reservation key (to change the type of
# its reservation) aborts the issuer's other tasks on the LUN too, all but the
# PR OUT itself, and the PR OUT again answers only once they left the device;
# the issuer gets no unit attention. Before: its write was left running and
# answered GOOD, and the PR OUT was answered at once.
echo hang >"$CTL_FILE"
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" >"$T_TMP/selfpreempt.out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn = int(sys.argv[1]), sys.argv[2]
prout = tbi.prout
x = tbi.named_session(port, iqn, 'iqn.2026-11.org.tandem.test:self-preempter')
print('x registers', x.scsi_status(prout(x, 0, 0, 0xc3), 10), flush=True)
print('x reserves', x.scsi_status(prout(x, 1, 0xc3, 0, 1), 10), flush=True)     # Write Exclusive
cdb = bytes([0x2a, 0, 0, 0, 0x03, 0, 0, 0, 8, 0])    # WRITE(10) LBA 768: into the hung device
w = x.scsi_out(cdb, bytes([0x7e]) * 4096)
time.sleep(1)
p = prout(x, 5, 0xc3, 0xc3, 3)                       # PREEMPT AND ABORT its own key, Exclusive Access
st = x.scsi_status(p, 3)
print('self-preempt early %s' % st if st is not None else 'self-preempt pending', flush=True)
st = x.scsi_status(p, 30) if st is None else st
print('self-preempt answered', st, flush=True)
print('write answered' if x.answered(w, 2) else 'write aborted', flush=True)
tur = x.scsi_bhs(bytes(6))
x.send_pdu(tur)
print('x TUR', x.scsi_status(tur, 10), flush=True)                          # 0: no unit attention
print('x clears', x.scsi_status(prout(x, 3, 0xc3, 0), 10), flush=True)
PY
SELF_PID=$!
track_pid "$SELF_PID"
for _ in $(seq 1 150); do grep -qE "self-preempt (early|pending)|failed" "$T_TMP/selfpreempt.out" && break; sleep 0.1; done
check "x registered and reserved" grep -qzE "x registers 0.*x reserves 0" "$T_TMP/selfpreempt.out"
check "PREEMPT AND ABORT of x's own key: not answered while x's own write is in the device" \
	grep -q "self-preempt pending" "$T_TMP/selfpreempt.out"
echo none >"$CTL_FILE"
wait "$SELF_PID" 2>/dev/null || true
untrack_pid "$SELF_PID"
check "PREEMPT AND ABORT of its own key answered GOOD once the write left the device (it did not wait for itself)" \
	grep -q "self-preempt answered 0" "$T_TMP/selfpreempt.out"
check "x's write was aborted (no response)" grep -q "write aborted" "$T_TMP/selfpreempt.out"
check "no unit attention for the issuing nexus" grep -q "x TUR 0" "$T_TMP/selfpreempt.out"
check "x's reservations are cleared again" grep -q "x clears 0" "$T_TMP/selfpreempt.out"
[ -s "$T_TMP/selfpreempt.out" ] && sed -e 's/^/    | /' "$T_TMP/selfpreempt.out" | head -8

# ---------------------------------------------------------------- two PREEMPT AND ABORTs of the issuer's own key
# Review, session 13: two such PR OUTs of one nexus in flight together (each
# preempts the key, so each one's sweep aborts the other, which is still in the
# task set) waited for each other for ever: a PR OUT that had left the backend
# and only waited to answer was waited for like a task in the device. Now
# neither waits for the other (both are aborted, SAM-5: no response), and an
# ABORT TASK SET afterwards finds nothing left to wait for.
echo hang >"$CTL_FILE"
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" >"$T_TMP/selfpreempt2.out" 2>&1 <<'PY' &
import os, sys, time, socket
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn = int(sys.argv[1]), sys.argv[2]
prout = tbi.prout
def responses(c, cmds, secs):
    # the statuses of the commands (BHS list) answered within secs, by index
    got, end = {}, time.time() + secs
    try:
        while len(got) < len(cmds):
            op, rsp, _ = c.recv_skip_nop(deadline=end)
            for k, b in enumerate(cmds):
                if op == tbi.OP_SCSI_RSP and rsp[16:20] == b[16:20]:
                    got[k] = rsp[3]
    except socket.timeout:
        pass
    return got
x = tbi.named_session(port, iqn, 'iqn.2026-11.org.tandem.test:double-preempter')
print('x registers', x.scsi_status(prout(x, 0, 0, 0xc5), 10), flush=True)
print('x reserves', x.scsi_status(prout(x, 1, 0xc5, 0, 1), 10), flush=True)
w = x.scsi_out(bytes([0x2a, 0, 0, 0, 0x03, 0, 0, 0, 8, 0]), bytes([0x6e]) * 4096)
time.sleep(1)
p1 = prout(x, 5, 0xc5, 0xc5, 3)
p2 = prout(x, 5, 0xc5, 0xc5, 1)
print('pending %d' % len(responses(x, [p1, p2], 3)), flush=True)
got = responses(x, [p1, p2, w], 5)
print('answered %s' % ' '.join('%s=%d' % (['p1', 'p2', 'w'][k], v) for k, v in sorted(got.items())), flush=True)
x.tmf(0x02)                                           # ABORT TASK SET, LUN 0
print('abort task set', x.tmf_response(15), flush=True)
tur = x.scsi_bhs(bytes(6))
x.send_pdu(tur)
print('x TUR', x.scsi_status(tur, 10), flush=True)
print('x clears', x.scsi_status(prout(x, 3, 0xc5, 0), 10), flush=True)
PY
SELF2_PID=$!
track_pid "$SELF2_PID"
for _ in $(seq 1 150); do grep -qE "pending|Error" "$T_TMP/selfpreempt2.out" && break; sleep 0.1; done
check "two PREEMPT AND ABORTs of x's own key: none answered while x's write is in the device" \
	grep -q "pending 0" "$T_TMP/selfpreempt2.out"
echo none >"$CTL_FILE"
wait "$SELF2_PID" 2>/dev/null || true
untrack_pid "$SELF2_PID"
check "x's ABORT TASK SET answered Function complete: no task left waiting for another" \
	grep -q "abort task set 0" "$T_TMP/selfpreempt2.out"
check "x's write was aborted, and x's session still works" grep -qzE "x TUR 0.*x clears 0" "$T_TMP/selfpreempt2.out"
[ -s "$T_TMP/selfpreempt2.out" ] && sed -e 's/^/    | /' "$T_TMP/selfpreempt2.out" | head -8

# ---------------------------------------------------------------- task management and a copy addressed to another LUN
# An EXTENDED COPY addressed to LUN 2 that writes LUN 0 is a task of LUN 0 for
# task management (scsi_task_touches_lun): another session's CLEAR TASK SET or
# LUN RESET of LUN 0 aborts it. SAM-5 5.6: the aborted task's nexus learns it
# on the task's own logical unit, LUN 2, where the initiator waits for the copy
# (COMMANDS CLEARED BY ANOTHER INITIATOR; before: for CLEAR TASK SET it was
# queued for LUN 0, which had no task of that nexus, and a LUN RESET left LUN 2
# silent). LUN 0 itself: nothing after CLEAR TASK SET, BUS DEVICE RESET
# FUNCTION OCCURRED after the LUN RESET (the reset's own unit attention).
# copy_abort TMF_FUNCTION OUT
copy_abort() {
	local func=$1 out=$2 pid
	echo hang >"$CTL_FILE"
	T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" "$func" >"$out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn, func = int(sys.argv[1]), sys.argv[2], int(sys.argv[3], 0)
a = tbi.named_session(port, iqn, 'iqn.2026-11.org.tandem.test:copier')
b = tbi.named_session(port, iqn, 'iqn.2026-11.org.tandem.test:clearer')
def status(c, cdb, lun):
    """(status, sense key, asc, ascq) of a command without data."""
    bhs = c.scsi_bhs(cdb, lun=lun)
    c.send_pdu(bhs)
    end = time.time() + 10
    while True:
        op, h, d = c.recv_skip_nop(deadline=end)
        if op == tbi.OP_SCSI_RSP and h[16:20] == bhs[16:20]:
            if h[3] == 2 and len(d) >= 16:
                return h[3], d[4] & 0xf, d[14], d[15]
            return h[3], 0, 0, 0
def cscd(naa):
    n = bytes.fromhex(naa)
    return bytes([0xe4, 0, 0, 0, 0x01, 0x03, 0, len(n)]) + n + bytes(20 - len(n)) + bytes([0]) + (512).to_bytes(3, 'big')
for lun in (2, 0):                                  # unit attentions left from earlier steps
    for _ in range(4):
        if status(a, bytes(6), lun)[0] == 0:
            break
seg = bytes([0x02, 0, 0, 0x18, 0, 0, 0, 1, 0, 0]) + (8).to_bytes(2, 'big') + (0).to_bytes(8, 'big') + (1024).to_bytes(8, 'big')
descs = cscd('6001405000000000000000000000d003') + cscd('6001405000000000000000000000d001')   # LUN 2, LUN 0
plist = bytes([0, 0x18]) + len(descs).to_bytes(2, 'big') + bytes(4) + len(seg).to_bytes(4, 'big') + bytes(4) + descs + seg
cdb = bytes([0x83]) + bytes(9) + len(plist).to_bytes(4, 'big') + bytes(2)
x = bytearray(a.scsi_bhs(cdb, lun=2, dlen=len(plist)))     # EXTENDED COPY to LUN 2: LUN 2 -> LUN 0
x[1] = 0x80 | 0x20 | 0x01
x[20:24] = len(plist).to_bytes(4, 'big')
a.send_pdu(bytes(x), plist)                                 # its write into LUN 0 hangs
time.sleep(1)
b.tmf(func)                                                 # CLEAR TASK SET or LUN RESET, LUN 0
r = b.tmf_response(3)
print('tmf early' if r is not None else 'tmf pending', flush=True)
r = b.tmf_response(30)
print('tmf answered', r, flush=True)
print('copy answered' if a.answered(x, 2) else 'copy aborted', flush=True)
print('LUN 2: %02x %x/%02x/%02x' % status(a, bytes(6), 2), flush=True)
print('LUN 0: %02x %x/%02x/%02x' % status(a, bytes(6), 0), flush=True)
PY
	pid=$!
	track_pid "$pid"
	for _ in $(seq 1 150); do grep -qE "tmf (early|pending)|failed|Error" "$out" && break; sleep 0.1; done
	check "$3 of LUN 0: not answered while the copy's write into LUN 0 is in the device" \
		grep -q "tmf pending" "$out"
	echo none >"$CTL_FILE"
	for _ in $(seq 1 150); do grep -q "^LUN 0" "$out" && break; sleep 0.2; done
	wait "$pid" 2>/dev/null || true
	untrack_pid "$pid"
	check "$3 answered Function complete once the write left the device" grep -q "tmf answered 0" "$out"
	check "$3: the EXTENDED COPY (addressed to LUN 2) was aborted" grep -q "copy aborted" "$out"
	check "$3: COMMANDS CLEARED BY ANOTHER INITIATOR on LUN 2, the copy's own LUN" grep -q "LUN 2: 02 6/2f/00" "$out"
	[ -s "$out" ] && sed -e 's/^/    | /' "$out" | head -8
}
copy_abort 0x04 "$T_TMP/cts.out" "CLEAR TASK SET"
check "CLEAR TASK SET: no unit attention on LUN 0, where the copier had no task" grep -q "LUN 0: 00" "$T_TMP/cts.out"
copy_abort 0x05 "$T_TMP/copyreset.out" "LUN RESET"
check "LUN RESET: BUS DEVICE RESET FUNCTION OCCURRED on LUN 0" grep -q "LUN 0: 02 6/29/03" "$T_TMP/copyreset.out"

# ---------------------------------------------------------------- a hung device and a reload
hung_write 0x3c 64k "$T_TMP/hung.out" "a write to LUN 0"
HUNG=$HUNG_PID
# the same configuration without LUN 0 and LUN 2
python3 - "$CONF" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
for n in (0, 2):
    s = re.sub(r'\n    lun %d \{.*?\n    \}' % n, '', s, count=1, flags=re.S)
open(p, 'w').write(s)
PY
grep -qE 'lun (0|2) ' "$CONF" && fail "LUN 0 or 2 still in the edited config" || true
t0=$(date +%s%N)
if ctl reload >"$T_TMP/reload.out" 2>&1; then rrc=0; else rrc=$?; fi
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rrc" = 0 ] && [ "$ms" -lt 15000 ]; then
	pass "reload removing the LUN with a hung write answers ($ms ms)"
else
	fail "reload with a hung write: exit $rrc after $ms ms: $(cat "$T_TMP/reload.out")"
fi
check "the control socket answers meanwhile (status)" ctl status
n2=$(nsync)
[ "$n2" -gt "$n1" ] && pass "removing LUN 2 flushed it ($n1 -> $n2 fdatasync)" || fail "LUN 2 closed without a flush ($n1 -> $n2)"
check "the log says the device closes later" grep -q "LUN 0 detached with 1 command(s) still in flight" "${T_DAEMON_LOG[$PID]}"
kill -0 "$HUNG" 2>/dev/null && pass "the write is still hung" || fail "the write ended before its device was released"
echo none >"$CTL_FILE"
closed=0
for _ in $(seq 1 50); do
	grep -q "LUN 0: the last command ended, device closed" "${T_DAEMON_LOG[$PID]}" && { closed=1; break; }
	sleep 0.2
done
[ "$closed" = 1 ] && pass "the device closed once the write ended" || fail "the device was not closed after the write ended"
wait "$HUNG" 2>/dev/null || true
if daemon_alive "$PID"; then pass "tandemd alive after the hung-device reload"; else fail "tandemd died"; fi
stop_tandemd "$PID"
finish

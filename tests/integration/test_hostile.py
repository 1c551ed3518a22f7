#!/usr/bin/env python3
"""Hostile clients against a running tandemd, while a well-behaved one works.

Attacks, all at once (threads): hundreds of connections that stall mid-login
(half a BHS) or never send anything (half-open), slowloris logins one byte a
second, logged-in sessions that stall mid-PDU, NOP-Out floods with 1 MiB
pings from clients that never read the answers, 1 MiB data segments that
were never negotiated (login and full feature phase), and connect/close churn.

Checks: the daemon stays alive; an established well-behaved session keeps
doing 4 KiB reads (latency idle vs under attack is measured and reported,
only a generous sanity bound is asserted); VmRSS stays bounded; after the
attack iscsi-inq works and new logins succeed.

Usage: test_hostile.py --port P --iqn IQN --pid PID [--conns N] [--secs S]
Prints PASS/FAIL lines, "RESULT name=value" lines, and "N passed, M failed".
"""
import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_bad_input import Conn, Closed, OP_SCSI_RSP, OP_DATA_IN  # noqa: E402

PASSED = 0
FAILED = 0
STOP = threading.Event()
STATS = {}
LOCK = threading.Lock()


def ok(what):
    global PASSED
    PASSED += 1
    print('PASS: ' + what, flush=True)


def bad(what):
    global FAILED
    FAILED += 1
    print('FAIL: ' + what, flush=True)


def stat_add(k, n=1):
    with LOCK:
        STATS[k] = STATS.get(k, 0) + n


def rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return -1
    return -1


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split()[2] != 'Z'
    except OSError:
        return False


def raw(port, timeout=5.0):
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def login_hdr(dsl):
    b = bytearray(48)
    b[0] = 0x43
    b[1] = 0x87     # T, CSG 1 -> NSG 3
    b[5:8] = dsl.to_bytes(3, 'big')
    b[8:14] = b'\x80' + os.urandom(5)
    b[16:20] = (1).to_bytes(4, 'big')
    return bytes(b)


# ---------------------------------------------------------------- the good client
def read4k(c, lba):
    cdb = bytes([0x28, 0]) + lba.to_bytes(4, 'big') + bytes([0, 0, 8, 0])
    t0 = time.perf_counter()
    c.send_pdu(c.scsi_bhs(cdb, read_len=4096))
    got = 0
    while True:
        op, bhs, data = c.recv_skip_nop()
        if op == OP_DATA_IN:
            got += len(data)
            if bhs[1] & 0x01:       # S bit: status in the Data-In
                status = bhs[3]
                break
        elif op == OP_SCSI_RSP:
            status = bhs[3]
            break
    return time.perf_counter() - t0, status, got


def read_loop(c, secs, nblocks):
    lat = []
    errors = 0
    end = time.time() + secs
    while time.time() < end:
        dt, status, got = read4k(c, random.randrange(0, nblocks - 8) & ~7)
        if status != 0 or got != 4096:
            errors += 1
        lat.append(dt)
    return lat, errors


def summarize(name, lat):
    lat = sorted(lat)
    med = statistics.median(lat) * 1e6
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6
    print('RESULT %s_reads=%d %s_median_us=%.0f %s_p99_us=%.0f %s_iops=%.0f' %
          (name, len(lat), name, med, name, p99, name, len(lat) / max(sum(lat), 1e-9)), flush=True)
    return med, p99


# ---------------------------------------------------------------- attackers
def stall_mid_login(port, n):
    """n connections that send half a login BHS and stall (or nothing: half-open)."""
    socks = []
    for i in range(n):
        if STOP.is_set():
            break
        try:
            s = raw(port)
            if i % 2:
                s.sendall(login_hdr(100)[:20])
            socks.append(s)
            stat_add('stall_login_opened')
        except OSError:
            stat_add('stall_login_refused')
    while not STOP.wait(0.5):
        pass
    # how many the target closed on its own (limit refusals, login timeout)
    for s in socks:
        try:
            s.setblocking(False)
            if s.recv(1) == b'':
                stat_add('stall_login_closed_by_target')
        except BlockingIOError:
            pass
        except OSError:
            stat_add('stall_login_closed_by_target')
        s.close()


def slowloris(port, n):
    """n logins sent one byte per second."""
    socks = []
    for _ in range(n):
        try:
            socks.append([raw(port), login_hdr(0), 0])
        except OSError:
            stat_add('slowloris_refused')
    while not STOP.wait(1.0):
        for e in socks:
            if e[0] is None:
                continue
            try:
                e[0].sendall(e[1][e[2]:e[2] + 1])
                e[2] = (e[2] + 1) % 48
            except OSError:
                stat_add('slowloris_closed_by_target')
                e[0].close()
                e[0] = None
    for e in socks:
        if e[0]:
            e[0].close()


def logged_in(port, iqn):
    c = Conn(port)
    err = c.login(iqn)
    if err:
        c.close()
        raise Closed(err)
    return c


def stall_mid_pdu(port, iqn, n):
    """Logged-in sessions that send half a BHS and stop: the NOP-In timeout must end them."""
    conns = []
    for _ in range(n):
        try:
            c = logged_in(port, iqn)
            c.send_raw(c.scsi_bhs(bytes(6))[:30])
            conns.append(c)
            stat_add('stall_pdu_sessions')
        except (OSError, Closed):
            stat_add('stall_pdu_refused')
    while not STOP.wait(0.5):
        pass
    for c in conns:
        if c.wait_closed(0.01):
            stat_add('stall_pdu_closed_by_target')
        c.close()


def nop_flood(port, iqn, ping):
    """NOP-Out pings with `ping` bytes as fast as possible, never reading an answer."""
    try:
        c = logged_in(port, iqn)
    except (OSError, Closed):
        stat_add('nop_flood_refused')
        return
    c.s.settimeout(0.5)
    data = os.urandom(ping)
    while not STOP.is_set():
        try:
            c.nop_out(data=data)
            stat_add('nop_flood_bytes', ping + 48)
        except socket.timeout:
            stat_add('nop_flood_blocked')      # target stopped reading us: fine
        except OSError:
            stat_add('nop_flood_closed_by_target')
            break
    c.close()


def big_segments(port, iqn):
    """1 MiB data segments never negotiated: in login (limit 8192) and FFP (MRDSL)."""
    while not STOP.is_set():
        try:
            s = raw(port)
            s.sendall(login_hdr(1 << 20))
            try:
                s.sendall(os.urandom(1 << 20))
            except OSError:
                pass
            s.settimeout(5)
            try:
                closed = s.recv(65536) == b''
            except OSError:
                closed = True
            stat_add('bigseg_login_dropped' if closed else 'bigseg_login_answered')
            s.close()
            c = logged_in(port, iqn)
            bhs = bytearray(c.scsi_bhs(bytes([0x2a, 0, 0, 0, 0, 0, 0, 0x08, 0, 0]), dlen=(1 << 24) - 4))
            bhs[1] |= 0x20
            c.send_raw(bytes(bhs))
            try:
                c.send_raw(os.urandom(1 << 20))
            except OSError:
                pass
            stat_add('bigseg_ffp_dropped' if c.wait_closed(5) else 'bigseg_ffp_kept')
            c.close()
        except (OSError, Closed):
            stat_add('bigseg_refused')
            STOP.wait(0.2)


def churn(port):
    while not STOP.is_set():
        try:
            s = raw(port, 2)
            s.close()
            stat_add('churn')
        except OSError:
            stat_add('churn_refused')
            STOP.wait(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--iqn', required=True)
    ap.add_argument('--pid', type=int, required=True)
    ap.add_argument('--conns', type=int, default=300)
    ap.add_argument('--secs', type=float, default=12.0)
    ap.add_argument('--nblocks', type=int, default=131072)
    ap.add_argument('--rss-bound-mb', type=int, default=1024)
    a = ap.parse_args()
    url = 'iscsi://127.0.0.1:%d/%s/0' % (a.port, a.iqn)

    good = logged_in(a.port, a.iqn)
    good.test_unit_ready()
    rss0 = rss_kb(a.pid)
    lat_idle, err_idle = read_loop(good, 3.0, a.nblocks)
    med0, p990 = summarize('idle', lat_idle)
    print('RESULT rss_idle_kb=%d' % rss0, flush=True)

    # logged-in attackers first: once the stalled logins fill the pre-login
    # slots (max_pending_logins), new logins wait for the login timeout
    first = [threading.Thread(target=nop_flood, args=(a.port, a.iqn, 1 << 20)) for _ in range(4)] + [
        threading.Thread(target=stall_mid_pdu, args=(a.port, a.iqn, 16)),
        threading.Thread(target=big_segments, args=(a.port, a.iqn))]
    then = [
        threading.Thread(target=stall_mid_login, args=(a.port, a.conns)),
        threading.Thread(target=slowloris, args=(a.port, 20)),
        threading.Thread(target=churn, args=(a.port,))]
    threads = first + then
    for t in first:
        t.daemon = True
        t.start()
    time.sleep(1.5)
    for t in then:
        t.daemon = True
        t.start()
    time.sleep(2.0)         # let the attack build up
    peak = [rss_kb(a.pid)]

    def sample():
        while not STOP.is_set():
            peak.append(rss_kb(a.pid))
            STOP.wait(0.25)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        lat_att, err_att = read_loop(good, a.secs, a.nblocks)
    except (OSError, Closed) as e:
        bad('well-behaved session survives the attack (%s)' % e)
        lat_att, err_att = [], 1
    inq_during = subprocess.run(['iscsi-inq', url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=60).returncode
    STOP.set()
    for t in threads:
        t.join(15)
    peak_kb = max(peak)
    print('RESULT rss_peak_kb=%d rss_growth_kb=%d' % (peak_kb, peak_kb - rss0), flush=True)
    print('RESULT ' + ' '.join('%s=%d' % kv for kv in sorted(STATS.items())), flush=True)
    print('RESULT iscsi_inq_during_attack=%s' % ('ok' if inq_during == 0 else 'failed(%d)' % inq_during), flush=True)

    if alive(a.pid):
        ok('tandemd alive after the attack')
    else:
        bad('tandemd died')
        return 1
    if lat_att:
        med1, p991 = summarize('attack', lat_att)
        print('RESULT latency_ratio_median=%.2f latency_ratio_p99=%.2f' % (med1 / med0, p991 / p990), flush=True)
        # generous sanity bound only: timing belongs in docs/HARDENING.md, not in assertions
        if med1 < 1e6 and err_att == 0:     # median under 1 s
            ok('well-behaved 4K reads kept working under attack (%d reads, median %.0f us)' %
               (len(lat_att), med1))
        else:
            bad('4K reads under attack: %d errors, median %.0f us' % (err_att, med1))
    if err_idle == 0:
        ok('idle 4K reads all GOOD')
    else:
        bad('%d idle read errors' % err_idle)
    if peak_kb - rss0 < a.rss_bound_mb * 1024:
        ok('VmRSS bounded: +%d KiB peak over idle (bound %d MiB)' % (peak_kb - rss0, a.rss_bound_mb))
    else:
        bad('VmRSS grew by %d KiB (bound %d MiB)' % (peak_kb - rss0, a.rss_bound_mb))
    # the attacks happened, and the target ended what it must end on its own
    # (the attack lasts longer than login_timeout and nop_interval + nop_timeout)
    if STATS.get('nop_flood_bytes', 0) > 0:
        ok('NOP-Out floods got in and sent %d bytes' % STATS['nop_flood_bytes'])
    else:
        bad('no NOP-Out flood got in (refused %d): the attack did not happen' % STATS.get('nop_flood_refused', 0))
    n, closed = STATS.get('stall_pdu_sessions', 0), STATS.get('stall_pdu_closed_by_target', 0)
    if n > 0 and closed == n:
        ok('sessions stalled mid-PDU: all %d ended by the target (NOP-In timeout)' % n)
    else:
        bad('sessions stalled mid-PDU: %d of %d ended by the target' % (closed, n))
    n, closed = STATS.get('stall_login_opened', 0), STATS.get('stall_login_closed_by_target', 0)
    if n > 0 and closed == n:
        ok('connections stalled before or in the login: all %d closed by the target' % n)
    else:
        bad('connections stalled in the login: %d of %d closed by the target' % (closed, n))
    if STATS.get('bigseg_login_dropped', 0) and not STATS.get('bigseg_login_answered', 0):
        ok('un-negotiated 1 MiB login data segments drop the connection')
    else:
        bad('1 MiB login segments: %r' % {k: v for k, v in STATS.items() if k.startswith('bigseg')})
    if STATS.get('bigseg_ffp_dropped', 0) and not STATS.get('bigseg_ffp_kept', 0):
        ok('data segments over MaxRecvDataSegmentLength drop the connection')
    else:
        bad('oversize FFP segments: %r' % {k: v for k, v in STATS.items() if k.startswith('bigseg')})
    # the attack is over: everything must work again
    good.close()
    deadline = time.time() + 30
    while True:
        rc = subprocess.run(['iscsi-inq', url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            timeout=60).returncode
        if rc == 0 or time.time() > deadline:
            break
        time.sleep(1)
    if rc == 0:
        ok('iscsi-inq works after the attack')
    else:
        bad('iscsi-inq fails after the attack (%d)' % rc)
    try:
        c = logged_in(a.port, a.iqn)
        c.test_unit_ready()
        lat, errs = read_loop(c, 1.0, a.nblocks)
        c.close()
        if errs == 0 and lat:
            ok('new session logs in and reads after the attack')
        else:
            bad('new session read errors: %d' % errs)
    except (OSError, Closed) as e:
        bad('new session after the attack: %s' % e)
    print('RESULT rss_after_kb=%d' % rss_kb(a.pid), flush=True)
    print('%d passed, %d failed' % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())

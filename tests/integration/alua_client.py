#!/usr/bin/env python3
"""ALUA state changes seen by iSCSI sessions (driven by test_alua.sh).

Two portal groups of one tandemd, each in its own ALUA group: pg-a (port 3303,
group node-a id 1) and pg-b (port 3304, group node-b id 2, plus the peer's port
17). Sessions A and B log in through each; two more sessions keep reading in
background threads while `tandemctl alua node-a STATE` moves group 1 through
transitioning -> standby -> active-optimized. Checked on every step:
  - each session's next command gets UNIT ATTENTION 2Ah/06h (ASYMMETRIC ACCESS
    STATE CHANGED), including the sessions on the changed group's port;
  - A's media commands get NOT READY 04h/0Ah (transitioning) / 04h/0Bh (standby),
    INQUIRY / REPORT LUNS / RTPG still work, TEST UNIT READY is refused;
  - REPORT TARGET PORT GROUPS shows the new state on both ports;
  - B (the other group) serves reads and writes all along;
  - the background readers only ever see GOOD, the UA, or the state's NOT READY.

Usage: alua_client.py --ctl TANDEMCTL --service NAME --iqn IQN [--port-a 3303 --port-b 3304]
Prints PASS/FAIL lines and "N passed, M failed"; exit status 1 on any failure.
"""
import argparse
import os
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_bad_input import Conn, OP_SCSI_RSP, OP_DATA_IN, OP_R2T, OP_DATA_OUT  # noqa: E402

PORT_A, PORT_B = 3303, 3304
ASCQ = {'transitioning': 0x0a, 'standby': 0x0b, 'unavailable': 0x0c}
CODE = {'active-optimized': 0, 'active-nonoptimized': 1, 'standby': 2, 'unavailable': 3, 'transitioning': 0xf}


class Result:
    def __init__(self, status, sense, data):
        self.status, self.sense, self.data = status, sense, data

    @property
    def key(self):
        if self.status != 2 or len(self.sense) < 14:
            return None
        if self.sense[0] & 0x7f in (0x72, 0x73):
            return (self.sense[1] & 0x0f, self.sense[2], self.sense[3])
        return (self.sense[2] & 0x0f, self.sense[12], self.sense[13])

    def __repr__(self):
        return 'status %02x sense %s' % (self.status, '%x/%02x/%02x' % self.key if self.key else '-')


def command(c, cdb, read_len=0, write=b'', lun=0):
    """One SCSI command; returns Result. Writes go as immediate data (<= 64 KiB)."""
    cdb = bytes(cdb) + bytes(16 - len(cdb))
    bhs = bytearray(c.scsi_bhs(cdb, read_len=read_len, lun=lun, dlen=len(write)))
    if write:
        bhs[1] |= 0x20                                  # W
        bhs[20:24] = len(write).to_bytes(4, 'big')
    c.send_pdu(bytes(bhs), write)
    data = b''
    while True:
        op, rbhs, rdata = c.recv_skip_nop()
        if op == OP_DATA_IN:
            data += rdata
            if rbhs[1] & 0x01:                          # S: status in the Data-In
                return Result(rbhs[3], b'', data)
            continue
        if op == OP_SCSI_RSP:
            sense = b''
            if len(rdata) >= 2:
                n = struct.unpack('>H', rdata[:2])[0]
                sense = rdata[2:2 + n]
            return Result(rbhs[3], sense, data)
        raise RuntimeError('unexpected opcode 0x%02x' % op)


def read10(c, lba=0, n=1):
    return command(c, [0x28, 0, *lba.to_bytes(4, 'big'), 0, 0, n, 0], read_len=512 * n)


def write10(c, lba, buf):
    n = len(buf) // 512
    return command(c, [0x2a, 0, *lba.to_bytes(4, 'big'), 0, 0, n, 0], write=buf)


def tur(c):
    return command(c, [0x00, 0, 0, 0, 0, 0])


def inquiry(c):
    return command(c, [0x12, 0, 0, 0, 96, 0], read_len=96)


def report_luns(c):
    return command(c, [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], read_len=256)


def rtpg(c, ext=False):
    return command(c, [0xa3, 0x0a | (0x20 if ext else 0), 0, 0, 0, 0, 0, 0, 4, 0, 0, 0], read_len=1024)


def parse_rtpg(data):
    """{group id: (state, [rel port ids])}"""
    groups, off = {}, 4
    end = 4 + struct.unpack('>I', data[:4])[0]
    while off + 8 <= end:
        state, gid, n = data[off] & 0x0f, struct.unpack('>H', data[off + 2:off + 4])[0], data[off + 7]
        ports = [struct.unpack('>H', data[off + 8 + 4 * i + 2:off + 8 + 4 * i + 4])[0] for i in range(n)]
        groups[gid] = (state, ports)
        off += 8 + 4 * n
    return groups


class Runner:
    def __init__(self):
        self.passed = self.failed = 0

    def expect(self, cond, what):
        if cond:
            self.passed += 1
            print('PASS: ' + what)
        else:
            self.failed += 1
            print('FAIL: ' + what)
        sys.stdout.flush()


def session(port, iqn, host='127.0.0.1'):
    c = Conn(port, host=host)
    err = c.login(iqn)
    if err:
        raise RuntimeError('login on %d: %s' % (port, err))
    for _ in range(4):                                  # POWER ON, RESET
        if tur(c).key is None:
            break
    return c


class Reader(threading.Thread):
    """Reads in a loop; records every distinct outcome."""

    def __init__(self, port, iqn):
        super().__init__(daemon=True)
        self.c = session(port, iqn)
        self.stop = threading.Event()
        self.outcomes = {}
        self.error = None

    def run(self):
        try:
            lba = 0
            while not self.stop.is_set():
                r = read10(self.c, lba % 1024, 8)
                k = 'GOOD' if r.status == 0 else ('%x/%02x/%02x' % r.key if r.key else 'status %02x' % r.status)
                self.outcomes[k] = self.outcomes.get(k, 0) + 1
                lba += 8
        except Exception as e:                          # noqa: BLE001
            self.error = repr(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ctl', required=True)
    ap.add_argument('--service', required=True)
    ap.add_argument('--iqn', required=True)
    ap.add_argument('--port-a', type=int, default=3303)
    ap.add_argument('--port-b', type=int, default=3304)
    a = ap.parse_args()
    global PORT_A, PORT_B
    PORT_A, PORT_B = a.port_a, a.port_b
    R = Runner()

    def ctl(*args):
        return subprocess.run([a.ctl, '-s', a.service] + list(args), capture_output=True, text=True)

    A, B = session(PORT_A, a.iqn), session(PORT_B, a.iqn)
    bg_a, bg_b = Reader(PORT_A, a.iqn), Reader(PORT_B, a.iqn)
    bg_a.start()
    bg_b.start()

    r = rtpg(A)
    g = parse_rtpg(r.data) if r.status == 0 else {}
    R.expect(g.get(1) == (0, [1]) and g.get(2) == (1, [2, 17]),
             'RTPG at start: node-a A/O port 1, node-b A/NO ports 2,17 (%r)' % g)
    r = rtpg(B, ext=True)
    R.expect(r.status == 0 and r.data[4] == 0x10 and parse_rtpg(r.data[:4] + r.data[8:]) == g,
             'RTPG extended header on the other port agrees')
    inq = inquiry(A)
    R.expect(inq.status == 0 and inq.data[5] & 0x30 == 0x30, 'INQUIRY TPGS = implicit + explicit')
    buf = os.urandom(4096)
    R.expect(write10(B, 2048, buf).status == 0 and read10(B, 2048, 8).data == buf, 'I/O through node-b at start')

    for state in ('transitioning', 'standby', 'active-optimized'):
        p = ctl('alua', 'node-a', state)
        R.expect(p.returncode == 0, 'tandemctl alua node-a %s (exit %d: %s%s)' % (state, p.returncode,
                                                                                p.stdout.strip(), p.stderr.strip()))
        time.sleep(0.2)
        # every session of every port reports the change once
        for name, c in (('A', A), ('B', B)):
            r = inquiry(c)                             # INQUIRY does not report UAs
            R.expect(r.status == 0, '%s: INQUIRY good after the change to %s' % (name, state))
            r = read10(c) if name == 'B' or state == 'active-optimized' else tur(c)
            R.expect(r.key == (6, 0x2a, 0x06), '%s: unit attention 2A/06 after -> %s (%r)' % (name, state, r))
        r = rtpg(B)
        g = parse_rtpg(r.data) if r.status == 0 else {}
        R.expect(r.status == 0 and g.get(1, (None,))[0] == CODE[state] and g.get(2, (None,))[0] == 1,
                 'RTPG via node-b shows node-a %s (%r)' % (state, g))
        r = rtpg(A)
        R.expect(r.status == 0 and parse_rtpg(r.data).get(1, (None,))[0] == CODE[state],
                 'RTPG via node-a itself works in %s' % state)
        R.expect(report_luns(A).status == 0, 'REPORT LUNS via node-a in %s' % state)
        if state in ASCQ:
            want = (2, 0x04, ASCQ[state])
            r = read10(A)
            R.expect(r.key == want, 'A: READ(10) in %s -> NOT READY 04/%02x (%r)' % (state, ASCQ[state], r))
            r = write10(A, 100, bytes(512))
            R.expect(r.key == want, 'A: WRITE(10) in %s -> NOT READY 04/%02x (%r)' % (state, ASCQ[state], r))
            r = tur(A)
            R.expect(r.key == want, 'A: TEST UNIT READY in %s -> NOT READY (%r)' % (state, r))
            rc = command(A, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], read_len=32)
            if state == 'standby':
                R.expect(rc.status == 0, 'A: READ CAPACITY(16) allowed in standby (%r)' % rc)
            else:
                R.expect(rc.key == want, 'A: READ CAPACITY(16) refused in transitioning (%r)' % rc)
        else:
            R.expect(read10(A).status == 0 and tur(A).status == 0, 'A: I/O again in %s' % state)
            R.expect(write10(A, 2048, buf).status == 0 and read10(A, 2048, 8).data == buf,
                     'A: write/read back in %s' % state)
        R.expect(read10(B, 2048, 8).data == buf and write10(B, 4096, buf).status == 0,
                 'B: I/O unaffected while node-a is %s' % state)
        time.sleep(0.3)

    bg_a.stop.set()
    bg_b.stop.set()
    bg_a.join(10)
    bg_b.join(10)
    allowed_a = {'GOOD', '6/2a/06', '2/04/0a', '2/04/0b'}
    R.expect(bg_a.error is None and set(bg_a.outcomes) <= allowed_a and bg_a.outcomes.get('GOOD'),
             'background reader on node-a saw only GOOD/UA/NOT READY: %r %s' % (bg_a.outcomes, bg_a.error or ''))
    R.expect(bg_a.outcomes.get('6/2a/06') == 3, 'background reader on node-a saw 3 unit attentions (%r)'
             % bg_a.outcomes.get('6/2a/06'))
    R.expect(bg_b.error is None and set(bg_b.outcomes) <= {'GOOD', '6/2a/06'} and bg_b.outcomes.get('6/2a/06') == 3,
             'background reader on node-b: only GOOD + 3 unit attentions: %r %s' % (bg_b.outcomes, bg_b.error or ''))
    for c in (A, B, bg_a.c, bg_b.c):
        c.close()
    print('%d passed, %d failed' % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Malformed and hostile iSCSI input against a running target.

A raw-socket iSCSI client: it logs in correctly (security -> operational ->
full feature phase, optional CHAP, optional CRC32C digests) and then sends
broken PDUs, or breaks the login itself. After every case it checks that the
target process is alive and that a well-behaved client (libiscsi's iscsi-inq)
still gets an answer.

Usage: test_bad_input.py --port P --iqn IQN --chap-iqn IQN2 --chap-user U
                         --chap-secret S --pid PID
Prints PASS/FAIL lines and "N passed, M failed"; exit status 1 on any failure.
"""
import argparse
import base64
import hashlib
import os
import socket
import struct
import subprocess
import sys
import time

INITIATOR = 'iqn.2007-10.com.github:sahlberg:libiscsi:bad-input'

OP_NOP_OUT, OP_SCSI_CMD, OP_TMF, OP_LOGIN, OP_TEXT, OP_DATA_OUT, OP_LOGOUT = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP, OP_LOGIN_RSP, OP_TEXT_RSP, OP_DATA_IN, OP_LOGOUT_RSP, OP_R2T, OP_REJECT = \
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31, 0x3f

# ---------------------------------------------------------------- CRC32C
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def digest_bytes(data):
    # On the wire the CRC32C digest is the little-endian encoding of the usual
    # (reflected) CRC32C value, as Linux and libiscsi send it.
    return struct.pack('<I', crc32c(data))


def pad4(n):
    return (4 - n % 4) % 4


def kv(pairs):
    return b''.join(('%s=%s' % p).encode() + b'\0' for p in pairs)


def parse_kv(data):
    out = {}
    for item in data.split(b'\0'):
        if not item:
            continue
        k, _, v = item.decode(errors='replace').partition('=')
        out[k] = v
    return out


class Closed(Exception):
    pass


class Conn:
    def __init__(self, port, timeout=10.0, host='127.0.0.1'):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.hdigest = False
        self.ddigest = False
        self.cmdsn = 1
        self.expstatsn = 0
        self.itt = 0x100
        self.tsih = 0
        self.cid = 0
        self.isid = b'\x80' + os.urandom(5)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send_raw(self, b):
        self.s.sendall(b)

    def send_pdu(self, bhs, data=b'', ahs=b'', bad_ddigest=False):
        """Send one PDU; bad_ddigest: its data digest is wrong (one bit flipped)."""
        assert len(bhs) == 48
        out = bhs + ahs
        if self.hdigest:
            out += digest_bytes(bhs + ahs)
        if data:
            padded = data + b'\0' * pad4(len(data))
            out += padded
            if self.ddigest:
                out += struct.pack('<I', crc32c(padded) ^ (1 if bad_ddigest else 0))
        self.s.sendall(out)

    def recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            try:
                chunk = self.s.recv(n - len(buf))
            except ConnectionResetError:
                raise Closed('reset')
            if not chunk:
                raise Closed('eof')
            buf += chunk
        return buf

    def recv_pdu(self):
        bhs = self.recv_exact(48)
        ahslen = bhs[4] * 4
        dlen = int.from_bytes(bhs[5:8], 'big')
        ahs = self.recv_exact(ahslen) if ahslen else b''
        if self.hdigest:
            self.recv_exact(4)
        data = b''
        if dlen:
            data = self.recv_exact(dlen + pad4(dlen))[:dlen]
            if self.ddigest:
                self.recv_exact(4)
        op = bhs[0] & 0x3f
        if op in (OP_SCSI_RSP, OP_NOP_IN, OP_TMF_RSP, OP_LOGIN_RSP, OP_TEXT_RSP, OP_LOGOUT_RSP, OP_DATA_IN, OP_R2T,
                  OP_REJECT):
            statsn = int.from_bytes(bhs[24:28], 'big')
            if op != OP_DATA_IN or bhs[1] & 0x01:
                self.expstatsn = (statsn + 1) & 0xffffffff
        return op, bhs, data

    def recv_skip_nop(self, deadline=None):
        """Next PDU that is not an unsolicited NOP-In (answered if it wants).
        With a deadline (time.time() value), socket.timeout once it passed:
        the target's pings would otherwise keep the wait alive forever."""
        while True:
            if deadline is not None and time.time() >= deadline:
                raise socket.timeout('deadline passed')
            op, bhs, data = self.recv_pdu()
            if op == OP_NOP_IN and bhs[16:20] == b'\xff\xff\xff\xff':
                ttt = bhs[20:24]
                if ttt != b'\xff\xff\xff\xff':
                    self.nop_out(itt=0xffffffff, ttt=ttt, immediate=True)
                continue
            return op, bhs, data

    def wait_for(self, match, secs):
        """The first PDU match(op, bhs) accepts within secs, other PDUs skipped:
        (op, bhs, data, reasons of the Rejects skipped); op None if none came."""
        end = time.time() + secs
        rejects = []
        try:
            while True:
                op, rsp, data = self.recv_skip_nop(deadline=end)
                if match(op, rsp):
                    return op, rsp, data, rejects
                if op == OP_REJECT:
                    rejects.append(rsp[2])
        except socket.timeout:
            return None, None, b'', rejects

    def response(self, bhs, secs):
        """The SCSI Response to command bhs within secs: (status byte, sense data,
        reasons of the Rejects before it); status None if it did not come."""
        op, rsp, data, rejects = self.wait_for(lambda op, b: op == OP_SCSI_RSP and b[16:20] == bhs[16:20], secs)
        if op is None:
            return None, b'', rejects
        sense = data[2:2 + int.from_bytes(data[:2], 'big')] if len(data) >= 2 else b''
        return rsp[3], sense, rejects

    def answered(self, bhs, secs):
        """True when the SCSI Response to command bhs arrives within secs (other PDUs are skipped)."""
        return self.response(bhs, secs)[0] is not None

    def scsi_status(self, bhs, secs):
        """Status byte of the SCSI Response to command bhs within secs, or None (other PDUs are skipped)."""
        return self.response(bhs, secs)[0]

    def scsi_out(self, cdb, data):
        """Send a write-direction command with all its data as immediate data; returns the BHS."""
        bhs = bytearray(self.scsi_bhs(cdb, dlen=len(data)))
        bhs[1] = 0x80 | 0x20 | 0x01                        # F, W, SIMPLE
        bhs[20:24] = len(data).to_bytes(4, 'big')          # Expected Data Transfer Length
        self.send_pdu(bytes(bhs), data)
        return bytes(bhs)

    def write_bhs(self, nbytes, final=True, immediate=False, dlen=0):
        """WRITE(10) of nbytes at LBA 0x1000. final=False: unsolicited Data-Out
        follows (InitialR2T=No); dlen: bytes of immediate data sent with it."""
        blocks = nbytes // 512
        cdb = bytes([0x2a, 0, 0, 0, 0x10, 0, 0, blocks >> 8, blocks & 0xff, 0])
        bhs = bytearray(self.scsi_bhs(cdb, immediate=immediate, dlen=dlen))
        bhs[1] = (0x80 if final else 0) | 0x20 | 0x01      # F, W, SIMPLE
        bhs[20:24] = nbytes.to_bytes(4, 'big')             # Expected Data Transfer Length
        return bytes(bhs)

    def data_out(self, cmd, ttt, datasn, offset, data, final=False, bad_ddigest=False):
        """Send a SCSI Data-Out for command cmd (ttt 0xffffffff: unsolicited)."""
        d = bytearray(48)
        d[0] = OP_DATA_OUT
        d[1] = 0x80 if final else 0
        d[5:8] = len(data).to_bytes(3, 'big')
        d[8:16] = cmd[8:16]                                # LUN
        d[16:20] = cmd[16:20]                              # ITT
        d[20:24] = ttt.to_bytes(4, 'big')
        d[28:32] = self.expstatsn.to_bytes(4, 'big')
        d[36:40] = datasn.to_bytes(4, 'big')
        d[40:44] = offset.to_bytes(4, 'big')
        self.send_pdu(bytes(d), data, bad_ddigest=bad_ddigest)

    def next_itt(self):
        self.itt += 1
        return self.itt

    # -------------------------------------------------------- PDU builders
    def login_bhs(self, csg, nsg, transit, data_len, vmax=0, vmin=0, cmdsn=None, cont=False):
        flags = (0x80 if transit else 0) | (0x40 if cont else 0) | (csg << 2) | (nsg if transit else 0)
        bhs = bytearray(48)
        bhs[0] = 0x40 | OP_LOGIN
        bhs[1] = flags
        bhs[2] = vmax
        bhs[3] = vmin
        bhs[5:8] = data_len.to_bytes(3, 'big')
        bhs[8:14] = self.isid
        bhs[14:16] = self.tsih.to_bytes(2, 'big')
        bhs[16:20] = self.next_itt().to_bytes(4, 'big')
        bhs[20:22] = self.cid.to_bytes(2, 'big')
        bhs[24:28] = (self.cmdsn if cmdsn is None else cmdsn).to_bytes(4, 'big')
        bhs[28:32] = self.expstatsn.to_bytes(4, 'big')
        return bytes(bhs)

    def login_step(self, csg, nsg, transit, data, **kw):
        self.send_pdu(self.login_bhs(csg, nsg, transit, len(data), **kw), data)
        op, bhs, rdata = self.recv_skip_nop()
        if op != OP_LOGIN_RSP:
            raise ProtoError('expected Login Response, got opcode 0x%02x' % op)
        status = (bhs[36], bhs[37])
        return bhs, status, parse_kv(rdata)

    def login(self, target, chap=None, digests=False, params=None):
        """Full login; returns None on success or an error string (with the status).
        params: operational keys offered instead of the defaults below."""
        keys = [('InitiatorName', INITIATOR), ('SessionType', 'Normal'), ('TargetName', target)]
        if chap:
            bhs, st, resp = self.login_step(0, 1, False, kv(keys + [('AuthMethod', 'CHAP,None')]))
            if st != (0, 0):
                return 'status 0x%02x%02x' % st
            if resp.get('AuthMethod') != 'CHAP':
                return 'target chose AuthMethod=%r' % resp.get('AuthMethod')
            bhs, st, resp = self.login_step(0, 1, False, kv([('CHAP_A', '5')]))
            if st != (0, 0):
                return 'status 0x%02x%02x' % st
            ident = int(resp['CHAP_I'])
            chal = bytes.fromhex(resp['CHAP_C'][2:])
            user, secret = chap
            r = hashlib.md5(bytes([ident]) + secret.encode() + chal).hexdigest()
            bhs, st, resp = self.login_step(0, 1, True, kv([('CHAP_N', user), ('CHAP_R', '0x' + r)]))
        else:
            bhs, st, resp = self.login_step(0, 1, True, kv(keys + [('AuthMethod', 'None')]))
        if st != (0, 0):
            return 'status 0x%02x%02x' % st
        for _ in range(4):   # target may want another round in the security stage
            if bhs[1] & 0x80:
                break
            bhs, st, resp = self.login_step(0, 1, True, b'')
            if st != (0, 0):
                return 'status 0x%02x%02x' % st
        dig = 'CRC32C' if digests else 'None'
        op_keys = [('HeaderDigest', dig), ('DataDigest', dig), ('MaxRecvDataSegmentLength', '65536'),
                   ('ErrorRecoveryLevel', '0'), ('InitialR2T', 'Yes'), ('ImmediateData', 'Yes'),
                   ('MaxBurstLength', '262144'), ('FirstBurstLength', '65536'),
                   ('MaxConnections', '1'), ('DataPDUInOrder', 'Yes'), ('DataSequenceInOrder', 'Yes'),
                   ('DefaultTime2Wait', '2'), ('DefaultTime2Retain', '0'), ('MaxOutstandingR2T', '1')]
        op_keys = [(k, (params or {}).get(k, v)) for k, v in op_keys]
        data = kv(op_keys)
        agreed = {}
        for _ in range(4):
            bhs, st, resp = self.login_step(1, 3, True, data)
            if st != (0, 0):
                return 'status 0x%02x%02x' % st
            agreed.update(resp)
            if bhs[1] & 0x80 and (bhs[1] & 0x03) == 3:
                break
            data = b''
        else:
            return 'target never moved to full feature phase'
        self.tsih = int.from_bytes(bhs[14:16], 'big')
        self.cmdsn = int.from_bytes(bhs[28:32], 'big')   # ExpCmdSN
        if digests:
            if agreed.get('HeaderDigest') != 'CRC32C' or agreed.get('DataDigest') != 'CRC32C':
                return 'digests not agreed: %r' % agreed
            self.hdigest = self.ddigest = True
        return None

    def text_bhs(self, data_len, final=True, cont=False, itt=None, ttt=0xffffffff):
        """A non-immediate Text Request (consumes a CmdSN)."""
        bhs = bytearray(48)
        bhs[0] = OP_TEXT
        bhs[1] = (0x80 if final else 0) | (0x40 if cont else 0)
        bhs[5:8] = data_len.to_bytes(3, 'big')
        bhs[16:20] = (self.next_itt() if itt is None else itt).to_bytes(4, 'big')
        bhs[20:24] = ttt.to_bytes(4, 'big')
        bhs[24:28] = self.cmdsn.to_bytes(4, 'big')
        bhs[28:32] = self.expstatsn.to_bytes(4, 'big')
        self.cmdsn = (self.cmdsn + 1) & 0xffffffff
        return bytes(bhs)

    def scsi_bhs(self, cdb, read_len=0, lun=0, immediate=False, op=OP_SCSI_CMD, dlen=0, ahs_words=0):
        bhs = bytearray(48)
        bhs[0] = op | (0x40 if immediate else 0)
        bhs[1] = 0x80 | (0x40 if read_len else 0) | 0x01
        bhs[4] = ahs_words
        bhs[5:8] = dlen.to_bytes(3, 'big')
        bhs[8:10] = lun.to_bytes(2, 'big')
        bhs[16:20] = self.next_itt().to_bytes(4, 'big')
        bhs[20:24] = read_len.to_bytes(4, 'big')
        bhs[24:28] = self.cmdsn.to_bytes(4, 'big')
        bhs[28:32] = self.expstatsn.to_bytes(4, 'big')
        bhs[32:32 + len(cdb)] = cdb
        if not immediate:
            self.cmdsn = (self.cmdsn + 1) & 0xffffffff
        return bytes(bhs)

    def tmf(self, func, rtt=0xffffffff, refcmdsn=0):
        """Send an immediate Task Management request (func: 1 ABORT TASK, 5 LUN RESET, ...) for LUN 0."""
        t = bytearray(48)
        t[0] = OP_TMF | 0x40
        t[1] = 0x80 | func
        t[16:20] = self.next_itt().to_bytes(4, 'big')
        t[20:24] = rtt.to_bytes(4, 'big')                  # Referenced Task Tag
        t[24:28] = self.cmdsn.to_bytes(4, 'big')
        t[28:32] = self.expstatsn.to_bytes(4, 'big')
        t[32:36] = refcmdsn.to_bytes(4, 'big')
        self.send_pdu(bytes(t))

    def tmf_response(self, secs):
        """The response byte of the next Task Management Response within secs, or None."""
        end = time.time() + secs
        try:
            while True:
                op, rsp, _ = self.recv_skip_nop(deadline=end)
                if op == OP_TMF_RSP:
                    return rsp[2]
        except socket.timeout:
            return None

    def nop_out(self, data=b'', itt=None, ttt=b'\xff\xff\xff\xff', immediate=True):
        bhs = bytearray(48)
        bhs[0] = OP_NOP_OUT | (0x40 if immediate else 0)
        bhs[1] = 0x80
        bhs[5:8] = len(data).to_bytes(3, 'big')
        bhs[16:20] = (self.next_itt() if itt is None else itt).to_bytes(4, 'big')
        bhs[20:24] = ttt
        bhs[24:28] = self.cmdsn.to_bytes(4, 'big')
        bhs[28:32] = self.expstatsn.to_bytes(4, 'big')
        if not immediate:
            self.cmdsn = (self.cmdsn + 1) & 0xffffffff
        self.send_pdu(bytes(bhs), data)
        return bytes(bhs)

    def test_unit_ready(self):
        """Send TUR until GOOD (a unit attention may come first). Returns status byte."""
        for _ in range(3):
            self.send_pdu(self.scsi_bhs(bytes(6)))
            op, bhs, data = self.recv_skip_nop()
            if op != OP_SCSI_RSP:
                raise ProtoError('TUR: expected SCSI Response, got 0x%02x' % op)
            if bhs[3] == 0:
                return 0
        return bhs[3]

    def wait_closed(self, secs=10.0):
        """True if the target closes the connection within secs (PDUs are read and dropped)."""
        self.s.settimeout(secs)
        end = time.time() + secs
        try:
            while time.time() < end:
                if not self.s.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False


class ProtoError(Exception):
    pass


class Runner:
    def __init__(self, a):
        self.a = a
        self.passed = 0
        self.failed = 0
        self.failures = []

    def ok(self, what):
        self.passed += 1
        print('[bad_input] PASS: %s' % what, flush=True)

    def bad(self, what):
        self.failed += 1
        self.failures.append(what)
        print('[bad_input] FAIL: %s' % what, flush=True)

    def expect(self, cond, what):
        (self.ok if cond else self.bad)(what)

    def healthy(self, after, attempts=1):
        alive = True
        try:
            os.kill(self.a.pid, 0)
            with open('/proc/%d/stat' % self.a.pid) as f:
                alive = f.read().split(')')[-1].split()[0] != 'Z'
        except OSError:
            alive = False
        if not alive:
            self.bad('target process %d alive after: %s' % (self.a.pid, after))
            return False
        # attempts > 1: the client retries its login like a real initiator
        # (a floods' last connections may still hold pre-login slots)
        for attempt in range(1, attempts + 1):
            try:
                r = subprocess.run(['iscsi-inq', 'iscsi://127.0.0.1:%d/%s/0' % (self.a.port, self.a.iqn)],
                                   capture_output=True, timeout=30)
                rc = r.returncode
            except subprocess.TimeoutExpired:
                rc = 'timeout'
            if rc == 0 or attempt == attempts:
                break
            time.sleep(2)
        self.expect(rc == 0, 'iscsi-inq works after: %s (exit %s, attempt %d of %d)' % (after, rc, attempt, attempts))
        return rc == 0

    def case(self, name, fn, attempts=1):
        if self.a.only and self.a.only not in name:
            return
        print('[bad_input] --- %s' % name, flush=True)
        try:
            fn()
        except (Closed, ProtoError, OSError, KeyError, ValueError) as e:
            self.bad('%s: unexpected %s: %s' % (name, type(e).__name__, e))
        self.healthy(name, attempts)

    def logged_in(self, digests=False, params=None):
        c = Conn(self.a.port)
        err = c.login(self.a.iqn, digests=digests, params=params)
        if err:
            c.close()
            raise ProtoError('login failed: %s' % err)
        return c


def named_session(port, iqn, name):
    """A logged-in session of initiator `name`, its unit attention taken (exit 1 if the login fails)."""
    global INITIATOR
    INITIATOR = name
    c = Conn(port)
    err = c.login(iqn)
    if err:
        print('login failed', err, flush=True)
        sys.exit(1)
    c.test_unit_ready()
    return c


def prout(c, sa, key, sakey, ptype=0):
    """Send PERSISTENT RESERVE OUT (service action sa, type ptype) with the basic
    24-byte parameter list; returns the BHS (see Conn.scsi_status)."""
    cdb = bytes([0x5f, sa, ptype, 0, 0, 0, 0, 0, 24, 0])
    return c.scsi_out(cdb, key.to_bytes(8, 'big') + sakey.to_bytes(8, 'big') + bytes(8))


def hold_session(a):
    """Log in and keep the session (answering NOP-In pings) until killed or HOLD s pass.
    Exit 0 if the session was still up at the end, 1 if the target closed it."""
    global INITIATOR
    INITIATOR = a.initiator
    c = Conn(a.port)
    err = c.login(a.iqn)
    if err:
        print('login failed: %s' % err, flush=True)
        return 1
    print('ready', flush=True)
    end = time.time() + a.hold
    c.s.settimeout(1.0)
    while time.time() < end:
        try:
            c.recv_skip_nop()
        except socket.timeout:
            continue
        except Closed:
            print('target closed the session', flush=True)
            return 1
    return 0


def expect_r2t(R, c, what, ok=lambda r2t: True):
    """The next R2T on c, checked (R.expect: WHAT); None, with c closed, when none came."""
    op, r2t, _, _ = c.wait_for(lambda op, b: op == OP_R2T, 10)
    R.expect(op == OP_R2T and ok(r2t), what)
    if op != OP_R2T:
        c.close()
        return None
    return r2t


def st_hex(st):
    return '0x%02x%02x' % st


def join_start(port, lead, cid, target):
    """Start adding a connection (CID cid) to lead's session through port:
    the first security-stage PDU only. Returns (conn, status of that answer)."""
    j = Conn(port)
    j.isid, j.tsih, j.cid, j.cmdsn = lead.isid, lead.tsih, cid, lead.cmdsn
    _, st, _ = j.login_step(0, 1, False, kv([('InitiatorName', INITIATOR), ('SessionType', 'Normal'),
                                             ('TargetName', target), ('AuthMethod', 'None')]))
    return j, st


def join_finish(j):
    """The rest of a join_start login: status of the first answer that is not
    0x0000, or (0, 0) once in full feature phase."""
    bhs, st, _ = j.login_step(0, 1, True, b'')
    if st != (0, 0):
        return st
    bhs, st, _ = j.login_step(1, 3, True, kv([('HeaderDigest', 'None'), ('DataDigest', 'None'),
                                              ('MaxRecvDataSegmentLength', '65536')]))
    if st == (0, 0) and not (bhs[1] & 0x80 and bhs[1] & 3 == 3):
        raise ProtoError('join: no transit to full feature phase')
    return st


def logout_session(c):
    """Logout (close the session) on c; True when answered with success."""
    bhs = bytearray(48)
    bhs[0] = 0x40 | OP_LOGOUT
    bhs[1] = 0x80
    bhs[16:20] = c.next_itt().to_bytes(4, 'big')
    bhs[24:28] = c.cmdsn.to_bytes(4, 'big')
    bhs[28:32] = c.expstatsn.to_bytes(4, 'big')
    c.send_pdu(bytes(bhs))
    op, bhs, _ = c.recv_skip_nop()
    return op == OP_LOGOUT_RSP and bhs[2] == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--port2', type=int, default=0, help='a second portal group (another tag) of --iqn')
    ap.add_argument('--iqn', required=True)
    ap.add_argument('--chap-iqn', default='')
    ap.add_argument('--chap-user', default='')
    ap.add_argument('--chap-secret', default='')
    ap.add_argument('--chap-mutual-user', default='')
    ap.add_argument('--chap-mutual-secret', default='')
    ap.add_argument('--pid', type=int, default=0)
    ap.add_argument('--connects', type=int, default=1000)
    ap.add_argument('--hold', type=float, default=0,
                    help='only log in (as --initiator) to --iqn, print "ready", keep the session for HOLD s')
    ap.add_argument('--initiator', default=INITIATOR)
    ap.add_argument('--tandemctl', default='', help='tandemctl binary: with --ctl and --conf, cases that reload')
    ap.add_argument('--ctl', default='', help="the daemon's ctl_socket")
    ap.add_argument('--conf', default='', help="the daemon's configuration file")
    ap.add_argument('--only', default='', help='run only the cases whose name contains this')
    a = ap.parse_args()
    if a.hold:
        return hold_session(a)
    R = Runner(a)

    def good_login():
        c = R.logged_in()
        R.expect(c.tsih != 0, 'login: target assigned a TSIH (%d)' % c.tsih)
        R.expect(c.test_unit_ready() == 0, 'TEST UNIT READY returns GOOD after a correct login')
        c.nop_out()
        op, bhs, _ = c.recv_skip_nop()
        R.expect(op == OP_NOP_IN, 'NOP-Out answered with NOP-In (got 0x%02x)' % op)
        R.expect(logout_session(c), 'Logout answered with success')
        c.close()
    R.case('correct login, TUR, NOP, logout', good_login)

    def chap_good():
        c = Conn(a.port)
        err = c.login(a.chap_iqn, chap=(a.chap_user, a.chap_secret))
        R.expect(err is None, 'CHAP login with the right secret (%s)' % err)
        if err is None:
            R.expect(c.test_unit_ready() == 0, 'TUR after CHAP login')
        c.close()
    R.case('CHAP login, right secret', chap_good)

    def truncated_bhs_prelogin():
        c = Conn(a.port)
        c.send_raw(c.login_bhs(0, 1, True, 0)[:20])
        c.close()
    R.case('truncated BHS before login, then close', truncated_bhs_prelogin)

    def truncated_bhs_ffp():
        c = R.logged_in()
        c.send_raw(c.scsi_bhs(bytes(6))[:30])
        c.close()
    R.case('truncated BHS in full feature phase, then close', truncated_bhs_ffp)

    def bad_ahs():
        c = R.logged_in()
        # TotalAHSLength = 255 words (1020 bytes) of garbage AHS on a TUR
        bhs = c.scsi_bhs(bytes(6), ahs_words=255)
        c.send_pdu(bhs, ahs=os.urandom(1020))
        try:
            c.s.settimeout(10)
            op, _, _ = c.recv_skip_nop()
            reaction = 'opcode 0x%02x' % op
        except Closed:
            reaction = 'connection closed'
        except socket.timeout:
            reaction = 'no answer in 10 s'
        print('[bad_input]   reaction to garbage AHS: %s' % reaction)
        c.close()
    R.case('bad TotalAHSLength (255 words of garbage)', bad_ahs)

    def short_ahs_then_close():
        c = R.logged_in()
        c.send_raw(c.scsi_bhs(bytes(6), ahs_words=200) + b'\x00' * 100)
        c.close()
    R.case('TotalAHSLength larger than what is sent, then close', short_ahs_then_close)

    def huge_dsl():
        c = R.logged_in()
        bhs = bytearray(48)
        bhs[0] = 0x40 | OP_NOP_OUT
        bhs[1] = 0x80
        bhs[5:8] = b'\xff\xff\xff'   # 16 MiB - 1: the largest the field holds
        bhs[16:20] = c.next_itt().to_bytes(4, 'big')
        bhs[20:24] = b'\xff\xff\xff\xff'
        bhs[24:28] = c.cmdsn.to_bytes(4, 'big')
        bhs[28:32] = c.expstatsn.to_bytes(4, 'big')
        c.send_raw(bytes(bhs))
        reaction = None
        c.s.settimeout(5)
        chunk = b'\xab' * 65536
        try:
            for _ in range(256):          # up to 16 MiB
                c.s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            reaction = 'closed'
        except socket.timeout:
            pass                           # target stopped reading: it must close now
        if reaction is None:
            try:
                op, _, _ = c.recv_skip_nop()
                reaction = 'opcode 0x%02x' % op
            except Closed:
                reaction = 'closed'
            except socket.timeout:
                reaction = 'no answer'
        R.expect(reaction in ('closed', 'opcode 0x3f'),
                 'DataSegmentLength 16 MiB > MaxRecvDataSegmentLength: reject or drop (got %s)' % reaction)
        c.close()
    R.case('DataSegmentLength 16 MiB without negotiation', huge_dsl)

    def unknown_opcode():
        c = R.logged_in()
        bhs = bytearray(48)
        bhs[0] = 0x40 | 0x0c            # not an initiator opcode
        bhs[1] = 0x80
        bhs[16:20] = c.next_itt().to_bytes(4, 'big')
        bhs[24:28] = c.cmdsn.to_bytes(4, 'big')
        bhs[28:32] = c.expstatsn.to_bytes(4, 'big')
        c.send_pdu(bytes(bhs))
        op, rb, rdata = c.recv_skip_nop()
        R.expect(op == OP_REJECT, 'unknown opcode 0x0c answered with Reject (got 0x%02x)' % op)
        if op == OP_REJECT:
            R.expect(rb[2] in (0x04, 0x05), 'Reject reason is protocol error/command not supported (0x%02x)' % rb[2])
            R.expect(rdata[:48] == bytes(bhs), 'Reject carries the offending BHS')
        c.nop_out()
        op, _, _ = c.recv_skip_nop()
        R.expect(op == OP_NOP_IN, 'connection still usable after the Reject (NOP-In, got 0x%02x)' % op)
        c.close()
    R.case('unknown opcode in full feature phase', unknown_opcode)

    def scsi_before_login():
        c = Conn(a.port)
        c.send_pdu(c.scsi_bhs(bytes(6)))
        R.expect(c.wait_closed(10), 'SCSI command before login: connection dropped')
        c.close()
    R.case('SCSI command before login', scsi_before_login)

    def login_rejected(name, keys_data, vmax=0, vmin=0, target_ok_classes=(2,), not_understood=None):
        c = Conn(a.port)
        try:
            bhs, st, resp = c.login_step(0, 1, True, keys_data, vmax=vmax, vmin=vmin)
            got = 'status 0x%02x%02x' % st
            okay = st[0] in target_ok_classes
            if not okay and not_understood and resp.get(not_understood) == 'NotUnderstood':
                got += ', key answered NotUnderstood'
                okay = True
        except Closed:
            got, okay = 'connection closed', True
        R.expect(okay, '%s: login refused (%s)' % (name, got))
        c.close()
        return got

    base = [('InitiatorName', INITIATOR), ('SessionType', 'Normal'), ('TargetName', a.iqn), ('AuthMethod', 'None')]
    R.case('login with a key without "="',
           lambda: login_rejected('garbage key', kv(base) + b'thisisgarbagewithoutequals\0'))
    R.case('login with a key name of 300 bytes',
           lambda: login_rejected('key too long', kv(base) + b'X' * 300 + b'=1\0', not_understood='X' * 300))
    R.case('login with a value of 10000 bytes',
           lambda: login_rejected('value too long', kv(base[:3] + [('AuthMethod', 'N' * 10000)])))
    R.case('login without InitiatorName',
           lambda: login_rejected('no InitiatorName', kv(base[1:])))

    def version_mismatch():
        c = Conn(a.port)
        bhs, st, _ = c.login_step(0, 1, True, kv(base), vmax=0x05, vmin=0x05)
        R.expect(st[0] == 2, 'version 5 only: status class 2 (got 0x%02x%02x)' % st)
        R.expect(st == (2, 5), 'version mismatch: status 0x0205 unsupported version (got 0x%02x%02x)' % st)
        c.close()
    R.case('login with version mismatch', version_mismatch)

    def unknown_target():
        c = Conn(a.port)
        keys = [('InitiatorName', INITIATOR), ('SessionType', 'Normal'),
                ('TargetName', 'iqn.2026-11.org.tandem:does-not-exist'), ('AuthMethod', 'None')]
        bhs, st, _ = c.login_step(0, 1, True, kv(keys))
        R.expect(st == (2, 3), 'unknown target: status 0x0203 (got 0x%02x%02x)' % st)
        c.close()
    R.case('login to unknown target', unknown_target)

    def wrong_chap():
        c = Conn(a.port)
        err = c.login(a.chap_iqn, chap=(a.chap_user, a.chap_secret + 'x'))
        R.expect(err == 'status 0x0201', 'wrong CHAP secret: status 0x0201 (got %s)' % err)
        c.close()
    R.case('login with wrong CHAP secret', wrong_chap)

    def chap_target_without_chap():
        c = Conn(a.port)
        err = c.login(a.chap_iqn)
        R.expect(err is not None and err.startswith('status 0x02'),
                 'CHAP target, AuthMethod=None: refused with class 2 (got %s)' % err)
        c.close()
    R.case('login to CHAP target with AuthMethod=None', chap_target_without_chap)

    def chap_exchange(c, extra=(), drop_zero_nibble=False):
        """CHAP login on c up to the CHAP_R step; extra: keys sent with it
        (CHAP_I/CHAP_C). None when drop_zero_nibble and the response does not
        start with a 0 digit, else (status, answer keys, Closed or None)."""
        keys = [('InitiatorName', INITIATOR), ('SessionType', 'Normal'), ('TargetName', a.chap_iqn)]
        c.login_step(0, 1, False, kv(keys + [('AuthMethod', 'CHAP')]))
        _, _, resp = c.login_step(0, 1, False, kv([('CHAP_A', '5')]))
        ident, chal = int(resp['CHAP_I']), bytes.fromhex(resp['CHAP_C'][2:])
        r = hashlib.md5(bytes([ident]) + a.chap_secret.encode() + chal).hexdigest()
        if drop_zero_nibble:
            if r[0] != '0':
                return None
            r = r[1:]
        data = kv([('CHAP_N', a.chap_user), ('CHAP_R', '0x' + r)] + list(extra))
        chunks = [data[i:i + 8192] for i in range(0, len(data), 8192)] or [b'']
        for i, ch in enumerate(chunks):
            last = i == len(chunks) - 1
            b = bytearray(c.login_bhs(0, 1, last, len(ch)))
            if not last:
                b[1] |= 0x40                 # C: more text follows
            c.send_pdu(bytes(b), ch)
            op, rb, rd = c.recv_skip_nop()
            if op != OP_LOGIN_RSP:
                raise ProtoError('expected Login Response, got opcode 0x%02x' % op)
            if (rb[36], rb[37]) != (0, 0):
                break
        return (rb[36], rb[37]), parse_kv(rd)

    def chap_binary_values():
        # RFC 7143 6.1: a hex constant with an odd digit count has an implied
        # leading 0 (before: refused 0x0200); 12.1.3: CHAP_C/CHAP_R up to 1024
        # bytes (before: values over 1023 characters refused 0x0200)
        for _ in range(400):
            c = Conn(a.port)
            got = chap_exchange(c, drop_zero_nibble=True)
            c.close()
            if got:
                R.expect(got[0] == (0, 0), 'CHAP_R with its leading 0 digit dropped (31 digits): accepted (%s)'
                         % st_hex(got[0]))
                break
        else:
            R.bad('no CHAP response starting with a 0 digit in 400 logins')
        if not a.chap_mutual_secret:
            return
        chal = os.urandom(1024)
        want = '0x' + hashlib.md5(bytes([7]) + a.chap_mutual_secret.encode() + chal).hexdigest()
        for name, enc in (('hex', '0x' + chal.hex()), ('base64', '0b' + base64.b64encode(chal).decode())):
            c = Conn(a.port)
            st, resp = chap_exchange(c, [('CHAP_I', '7'), ('CHAP_C', enc)])
            R.expect(st == (0, 0) and resp.get('CHAP_R', '').lower() == want,
                     'mutual CHAP, 1024-byte CHAP_C as %s (%d characters): accepted, target answers (%s, %s)'
                     % (name, len(enc), st_hex(st), resp.get('CHAP_R')))
            c.close()
        c = Conn(a.port)
        st, _ = chap_exchange(c, [('CHAP_I', '7'), ('CHAP_C', '0x' + os.urandom(1025).hex())])
        R.expect(st == (2, 0), 'a 1025-byte CHAP_C: initiator error 0x0200 (got %s)' % st_hex(st))
        c.close()
    R.case('CHAP binary values: odd hex digit count, 1024-byte challenge', chap_binary_values)

    def digests_good_and_bad():
        c = R.logged_in(digests=True)
        payload = os.urandom(1000)
        c.nop_out(data=payload)
        op, bhs, data = c.recv_skip_nop()
        R.expect(op == OP_NOP_IN and data == payload, 'CRC32C digests: NOP-Out ping data echoed')
        # A PDU without data segment carries no data digest (RFC 7143 11.1)
        c.s.settimeout(10)
        try:
            st = c.test_unit_ready()
            R.expect(st == 0, 'CRC32C digests: TUR (no data segment) answered GOOD (status %d)' % st)
        except socket.timeout:
            R.bad('CRC32C digests: no answer in 10 s to a TUR without data segment '
                  '(target waits for a data digest on a PDU with DataSegmentLength 0?)')
        except Closed as e:
            R.bad('CRC32C digests: connection %s on a TUR without data segment' % e)
        c.close()
        # now a PDU with a corrupted header digest, on a fresh digest session
        c = R.logged_in(digests=True)
        bhs = c.scsi_bhs(bytes(6))
        c.s.sendall(bhs + struct.pack('<I', crc32c(bhs) ^ 0x1))
        try:
            c.s.settimeout(10)
            op, _, _ = c.recv_skip_nop()
            reaction = 'opcode 0x%02x' % op
        except Closed:
            reaction = 'closed'
        except socket.timeout:
            reaction = 'no answer'
        R.expect(reaction in ('closed', 'opcode 0x3f'), 'bad header digest: drop or Reject (got %s)' % reaction)
        c.close()
    R.case('header/data digests, then a bad header digest', digests_good_and_bad)

    def abort_answered_task():
        # RFC 7143 11.6.1 c: ABORT TASK naming a command whose status was already
        # sent (RefCmdSN below ExpCmdSN) answers "Task does not exist"; the
        # initiator then knows the command completed (libiscsi's
        # iSCSITMF.AbortTaskSimpleAsync fails on "Function complete" here).
        c = R.logged_in()
        c.test_unit_ready()
        tur = c.scsi_bhs(bytes(6))
        c.send_pdu(tur)
        op, rsp, _ = c.recv_skip_nop()
        R.expect(op == OP_SCSI_RSP and rsp[3] == 0, 'TUR answered GOOD (op 0x%02x status 0x%02x)' % (op, rsp[3]))
        c.tmf(0x01, int.from_bytes(tur[16:20], 'big'), int.from_bytes(tur[24:28], 'big'))   # ABORT TASK
        op, rsp, _ = c.recv_skip_nop()
        R.expect(op == OP_TMF_RSP and rsp[2] == 1,
                 'ABORT TASK of an answered command: Task does not exist (op 0x%02x response %d)' % (op, rsp[2]))
        c.close()
    R.case('ABORT TASK of a command already answered', abort_answered_task)

    def abort_during_data_out():
        # A write's Data-Out segment arrives in pieces while another initiator's
        # LUN RESET aborts the write: the rest of the segment must not land in
        # a freed buffer (a use-after-free the sanitizer build turns into an
        # abort; the PREEMPT AND ABORT of fence_scsi takes the same path).
        c1 = R.logged_in()
        c2 = R.logged_in()
        size = 65536
        cdb = bytes([0x2a, 0, 0, 0, 0x10, 0, 0, (size // 512) >> 8, (size // 512) & 0xff, 0])
        # the region starts as zeroes (64 KiB of immediate data)
        z = bytearray(c2.scsi_bhs(cdb, dlen=size))
        z[1] = 0x80 | 0x20 | 0x01
        z[20:24] = size.to_bytes(4, 'big')
        for _ in range(3):                              # the new nexus' unit attention first
            c2.send_pdu(bytes(z), bytes(size))
            op, rsp, _ = c2.recv_skip_nop()
            if not (op == OP_SCSI_RSP and rsp[3] == 0x02):
                break
            z[16:20] = c2.next_itt().to_bytes(4, 'big')
            z[24:28] = c2.cmdsn.to_bytes(4, 'big')
            c2.cmdsn = (c2.cmdsn + 1) & 0xffffffff
        R.expect(op == OP_SCSI_RSP and rsp[3] == 0, 'zeroes written (op 0x%02x status 0x%02x)' % (op, rsp[3]))
        w = bytearray(c1.scsi_bhs(cdb))
        w[1] = 0x80 | 0x20 | 0x01                      # final, WRITE, simple
        w[20:24] = size.to_bytes(4, 'big')             # EDTL
        c1.send_pdu(bytes(w))                          # no immediate data: InitialR2T=Yes
        op, r2t, _ = c1.recv_skip_nop()
        R.expect(op == OP_R2T, 'R2T for the write (op 0x%02x)' % op)
        if op != OP_R2T:
            c1.close(); c2.close()
            return
        d = bytearray(48)
        d[0] = OP_DATA_OUT
        d[1] = 0x80
        d[5:8] = size.to_bytes(3, 'big')
        d[16:20] = w[16:20]                            # ITT
        d[20:24] = r2t[20:24]                          # TTT
        d[28:32] = c1.expstatsn.to_bytes(4, 'big')
        payload = bytes([0x5a]) * size
        c1.send_raw(bytes(d) + payload[:1000])         # header and the first 1000 bytes
        time.sleep(0.3)
        c2.tmf(0x05)                                   # LUN RESET
        op, rsp, _ = c2.recv_skip_nop()
        R.expect(op == OP_TMF_RSP and rsp[2] == 0, 'LUN RESET from the other session: Function complete '
                 '(op 0x%02x response %d)' % (op, rsp[2] if op == OP_TMF_RSP else -1))
        time.sleep(0.2)
        c1.send_raw(payload[1000:])                    # the rest of the aborted write's segment
        time.sleep(0.5)
        # aborted before it executed: it must never reach the disk
        rd = bytearray(c2.scsi_bhs(bytes([0x28]) + cdb[1:], read_len=size))
        c2.send_pdu(bytes(rd))
        got = b''
        while True:
            op, bhs, data = c2.recv_skip_nop()
            if op == OP_DATA_IN:
                got += data
                if bhs[1] & 0x01:
                    break
            elif op == OP_SCSI_RSP:
                if bhs[3] == 0x02:                     # a unit attention first (the reset): again
                    c2.send_pdu(bytes(bytearray(c2.scsi_bhs(bytes([0x28]) + cdb[1:], read_len=size))))
                    continue
                break
            else:
                break
        R.expect(len(got) == size and got == bytes(size),
                 'the aborted write never reached the disk (%d bytes read, %d of them 0x5a)'
                 % (len(got), got.count(0x5a)))
        c1.close()
        c2.close()
    R.case('a write aborted by another session\'s LUN RESET while its Data-Out arrives', abort_during_data_out)

    def cmdsn_gap_filled(kind):
        # Command N is late (it travels on another connection, or was dropped
        # and gets replaced); request N+1 is a non-immediate NOP-Out answered
        # at once (kind 'nop'), or command N never comes and an ABORT TASK
        # naming RefCmdSN N fills its gap (kind 'abort', RFC 7143 11.5.1).
        # ExpCmdSN must move past both: the next command is answered (the
        # session used to stop there for good).
        c = R.logged_in()
        c.test_unit_ready()
        n = c.cmdsn
        late = bytearray(c.scsi_bhs(bytes(6)))         # TUR with CmdSN n, held back
        if kind == 'nop':
            c.nop_out(immediate=False)                 # CmdSN n+1, ahead of the gap
            op, _, _ = c.recv_pdu()
            R.expect(op == OP_NOP_IN, 'NOP-Out ahead of a CmdSN gap answered (op 0x%02x)' % op)
            c.send_pdu(bytes(late))                    # the gap fills
            op, rsp, _ = c.recv_skip_nop()
            R.expect(op == OP_SCSI_RSP, 'the late command answered (op 0x%02x)' % op)
        else:
            # ABORT TASK of a task the target never saw (its CmdSN n; ours n+1)
            c.tmf(0x01, int.from_bytes(late[16:20], 'big'), n)
            op, rsp, _ = c.recv_skip_nop()
            R.expect(op == OP_TMF_RSP and rsp[2] == 0, 'ABORT TASK of a command never received: Function '
                     'complete (op 0x%02x response %d)' % (op, rsp[2] if op == OP_TMF_RSP else -1))
        nxt = c.scsi_bhs(bytes(6))                     # the next command
        c.send_pdu(nxt)
        R.expect(c.answered(nxt, 15), 'the command after the gap answered within 15 s (ExpCmdSN moved past the gap)')
        c.close()
    def closed_window():
        # Writes that wait for their Data-Out (InitialR2T=Yes) hold every slot
        # of the CmdSN window: MaxCmdSN = ExpCmdSN - 1. A command sent anyway
        # with CmdSN = ExpCmdSN is outside the window and dropped (RFC 7143
        # 3.2.2.1); it was executed, so an initiator ignoring MaxCmdSN could
        # queue commands without bound. Once a write completes the window
        # opens and the same command is answered.
        c = R.logged_in()
        c.test_unit_ready()
        cdb = bytes([0x2a, 0, 0, 0, 0x20, 0, 0, 0, 1, 0])
        writes, maxsn = [], None
        for _ in range(1024):
            w = bytearray(c.scsi_bhs(cdb))
            w[1] = 0x80 | 0x20 | 0x01
            w[20:24] = (512).to_bytes(4, 'big')
            c.send_pdu(bytes(w))
            op, r2t, _ = c.recv_skip_nop()
            if op != OP_R2T:
                R.bad('closed window: R2T expected, got op 0x%02x' % op)
                c.close()
                return
            writes.append((w, r2t))
            maxsn = int.from_bytes(r2t[32:36], 'big')
            if ((c.cmdsn - maxsn) & 0xffffffff) == 1:
                break
        R.expect(((c.cmdsn - maxsn) & 0xffffffff) == 1,
                 'the window closed after %d writes waiting for data (MaxCmdSN %d, next CmdSN %d)'
                 % (len(writes), maxsn, c.cmdsn))
        extra = c.scsi_bhs(bytes(6))                   # TUR, CmdSN = ExpCmdSN = MaxCmdSN + 1
        c.send_pdu(extra)
        got = None
        try:
            op, rsp, _ = c.recv_skip_nop(deadline=time.time() + 2)
            got = op
        except socket.timeout:
            pass
        R.expect(got is None, 'a command beyond a closed window is dropped (got op %s)' % got)
        w, r2t = writes[0]                             # one write completes
        d = bytearray(48)
        d[0] = OP_DATA_OUT
        d[1] = 0x80
        d[5:8] = (512).to_bytes(3, 'big')
        d[16:20] = w[16:20]
        d[20:24] = r2t[20:24]
        d[28:32] = c.expstatsn.to_bytes(4, 'big')
        c.send_pdu(bytes(d), bytes(512))
        op, rsp, _ = c.recv_skip_nop()
        R.expect(op == OP_SCSI_RSP and rsp[3] == 0 and int.from_bytes(rsp[32:36], 'big') == maxsn + 1,
                 'the write completes and opens one slot (op 0x%02x, MaxCmdSN %d)'
                 % (op, int.from_bytes(rsp[32:36], 'big')))
        c.send_pdu(extra)                              # the initiator retries in the window
        R.expect(c.answered(extra, 5), 'the same command answered once the window opened')
        c.close()
    R.case('a command sent into a closed CmdSN window', closed_window)
    R.case('a non-immediate NOP-Out ahead of a CmdSN gap, then the gap fills', lambda: cmdsn_gap_filled('nop'))
    R.case('ABORT TASK fills the CmdSN gap of a command never received', lambda: cmdsn_gap_filled('abort'))

    def cold_reset():
        # RFC 7143 11.5.1: after the TARGET COLD RESET response the target
        # drops every connection of every initiator of the target, not only
        # the issuer's (before: only the issuing session was dropped). A
        # session to another target stays.
        c1, c2 = R.logged_in(), R.logged_in()
        other = Conn(a.port)
        err = other.login(a.chap_iqn, chap=(a.chap_user, a.chap_secret))
        R.expect(err is None, 'a session to the other target (%s)' % err)
        c1.tmf(0x07)
        r = c1.tmf_response(10)
        R.expect(r == 0, 'TARGET COLD RESET answered Function complete (%s)' % r)
        R.expect(c1.wait_closed(5), 'the issuing connection is dropped after the response')
        R.expect(c2.wait_closed(5), 'the connection of another session of the target is dropped')
        if err is None:
            R.expect(other.test_unit_ready() == 0, 'the session to the other target still works')
        for c in (c1, c2, other):
            c.close()
    R.case('TARGET COLD RESET drops every session of the target', cold_reset)
    RSVD = 0xffffffff
    # sense of a write the target fails (fixed format: key, ASC, ASCQ)
    def sense_of(sense):
        return (sense[2] & 0x0f, sense[12], sense[13]) if len(sense) >= 14 else None

    def bad_digest_data_out(pdu_in_order):
        # RFC 7143 7.8: a Data-Out with a data digest error is discarded and
        # rejected (reason 0x02); at ERL 0 the command then ends with CHECK
        # CONDITION, ABORTED COMMAND, PROTOCOL SERVICE CRC ERROR (47/05) once
        # the rest of its data arrived. The lost PDU still counts toward its
        # sequence: the next in-order PDU and the F bit are taken as usual.
        # It used to wait for the lost bytes for ever.
        c = R.logged_in(digests=True, params={'ImmediateData': 'No', 'FirstBurstLength': '8192',
                                              'InitialR2T': 'Yes' if pdu_in_order else 'No',
                                              'DataPDUInOrder': 'Yes' if pdu_in_order else 'No'})
        c.test_unit_ready()
        if pdu_in_order:
            # solicited: the R2T's first PDU is lost, the second (F) follows
            w = c.write_bhs(8192)
            c.send_pdu(w)
            r2t = expect_r2t(R, c, 'R2T for the write')
            if r2t is None:
                return
            ttt = int.from_bytes(r2t[20:24], 'big')
            c.data_out(w, ttt, 0, 0, os.urandom(4096), bad_ddigest=True)
            c.data_out(w, ttt, 1, 4096, os.urandom(4096), final=True)
        else:
            # unsolicited out of order, the lost PDU last (F), then the R2T's
            w = c.write_bhs(16384, final=False)
            c.send_pdu(w)
            c.data_out(w, RSVD, 0, 4096, os.urandom(4096))
            c.data_out(w, RSVD, 1, 0, os.urandom(4096), final=True, bad_ddigest=True)
            r2t = expect_r2t(R, c, 'R2T for the rest of the write (offset 8192, 8192 bytes)',
                             lambda r2t: r2t[40:48] == bytes.fromhex('0000200000002000'))
            if r2t is None:
                return
            c.data_out(w, int.from_bytes(r2t[20:24], 'big'), 0, 8192, os.urandom(8192), final=True)
        st, sense, rejects = c.response(w, 10)
        R.expect(st == 0x02 and sense_of(sense) == (0x0b, 0x47, 0x05) and rejects == [0x02],
                 'data digest error (DataPDUInOrder=%s): Reject 0x02, then CHECK CONDITION ABORTED COMMAND '
                 '47/05 (status %s, sense %s, Rejects %s)'
                 % ('Yes' if pdu_in_order else 'No', st, sense_of(sense), rejects))
        R.expect(c.test_unit_ready() == 0, 'the session goes on: TUR answered GOOD')
        c.close()
    R.case('a Data-Out with a bad data digest (DataPDUInOrder=Yes)', lambda: bad_digest_data_out(True))
    R.case('a Data-Out with a bad data digest (DataPDUInOrder=No)', lambda: bad_digest_data_out(False))

    def bad_datasn_ahead_of_gap():
        # A write waiting for its CmdSN turn gets an unsolicited Data-Out with
        # a wrong DataSN: Reject 0x04, and when the gap fills the write is
        # answered CHECK CONDITION (ABORTED COMMAND, DATA PHASE ERROR 4b/00,
        # as a write already in order is). It used to be freed unanswered.
        c = R.logged_in(params={'InitialR2T': 'No', 'ImmediateData': 'No'})
        c.test_unit_ready()
        late = c.scsi_bhs(bytes(6))                    # TUR with CmdSN n, held back
        w = c.write_bhs(8192, final=False)             # CmdSN n+1
        c.send_pdu(w)
        c.data_out(w, RSVD, 7, 0, os.urandom(8192), final=True)   # DataSN 0 expected
        op, rej, _, _ = c.wait_for(lambda op, b: op == OP_REJECT, 10)
        R.expect(op == OP_REJECT and rej[2] == 0x04, 'wrong DataSN: Reject 0x04 (op %s reason %s)'
                 % (op, rej[2] if op else None))
        c.send_pdu(late)                               # the gap fills
        R.expect(c.scsi_status(late, 10) == 0, 'the command filling the gap answered GOOD')
        st, sense, _ = c.response(w, 10)
        R.expect(st == 0x02 and sense_of(sense) == (0x0b, 0x4b, 0x00),
                 'the write with the broken sequence answered CHECK CONDITION ABORTED COMMAND 4b/00 at its '
                 'CmdSN turn (status %s, sense %s)' % (st, sense_of(sense)))
        R.expect(c.test_unit_ready() == 0, 'the session goes on: TUR answered GOOD')
        c.close()
    R.case('a wrong DataSN on a write waiting for its CmdSN turn', bad_datasn_ahead_of_gap)

    def unsolicited_after_r2t_sequence():
        # DataPDUInOrder=Yes, DataSequenceInOrder=No: the initiator may answer
        # the R2T before it finishes the unsolicited burst. The unsolicited
        # PDUs are in order within their own sequence (offset 4096 follows
        # 0..4095); it was compared with all the bytes received, R2T data
        # included, and rejected (0x04): the write hung.
        c = R.logged_in(params={'InitialR2T': 'No', 'ImmediateData': 'No', 'FirstBurstLength': '8192',
                                'DataSequenceInOrder': 'No'})
        c.test_unit_ready()
        w = c.write_bhs(16384, final=False)
        c.send_pdu(w)
        r2t = expect_r2t(R, c, 'R2T for the write past the first burst')
        if r2t is None:
            return
        c.data_out(w, RSVD, 0, 0, os.urandom(4096))
        c.data_out(w, int.from_bytes(r2t[20:24], 'big'), 0, 8192, os.urandom(8192), final=True)
        c.data_out(w, RSVD, 1, 4096, os.urandom(4096), final=True)
        st, _, rejects = c.response(w, 10)
        R.expect(st == 0 and not rejects, 'the rest of the unsolicited burst after the R2T sequence taken: GOOD '
                 '(status %s, Rejects %s)' % (st, rejects))
        c.close()
    R.case('unsolicited Data-Out after an R2T sequence (DataSequenceInOrder=No)', unsolicited_after_r2t_sequence)

    def immediate_write_aborted():
        # An immediate WRITE aborted by another session's LUN RESET while its
        # immediate data arrives is freed at delivery; it never took a CmdSN
        # slot, so it must not open one (MaxCmdSN - ExpCmdSN stays).
        c1 = R.logged_in()
        c2 = R.logged_in()
        c1.test_unit_ready()
        c2.test_unit_ready()

        def window():
            c1.nop_out()
            op, nop, _, _ = c1.wait_for(lambda op, b: op == OP_NOP_IN, 10)
            return (int.from_bytes(nop[32:36], 'big') - int.from_bytes(nop[28:32], 'big')) & 0xffffffff \
                if op else None
        before = window()
        size = 65536
        payload = bytes([0x5a]) * size
        w = c1.write_bhs(size, immediate=True, dlen=size)
        c1.send_raw(w + payload[:1000])                # header and the first 1000 bytes
        time.sleep(0.3)
        c2.tmf(0x05)                                   # LUN RESET
        R.expect(c2.tmf_response(10) == 0, 'LUN RESET from the other session: Function complete')
        time.sleep(0.2)
        c1.send_raw(payload[1000:])
        time.sleep(0.3)
        after = window()
        R.expect(before is not None and after == before,
                 'MaxCmdSN - ExpCmdSN unchanged by the aborted immediate write (%s before, %s after)'
                 % (before, after))
        c1.close()
        c2.close()
    R.case('an immediate write aborted while its immediate data arrives', immediate_write_aborted)

    def rapid_connects():
        fails = 0
        for _ in range(a.connects):
            try:
                s = socket.create_connection(('127.0.0.1', a.port), timeout=5)
                s.close()
            except OSError:
                fails += 1
        R.expect(fails == 0, '%d rapid connect/close: %d failed to connect' % (a.connects, fails))
        # and some half-logins left hanging then dropped
        conns = []
        for _ in range(50):
            c = Conn(a.port)
            c.send_raw(c.login_bhs(0, 1, True, 100))   # promises 100 bytes, sends none
            conns.append(c)
        for c in conns:
            c.close()
    R.case('%d rapid connects/disconnects + 50 half logins' % a.connects, rapid_connects, attempts=3)

    def same_isid_other_portal_group():
        # RFC 7143 4.4.3, 6.3.5: a session is (InitiatorName, ISID, TargetName,
        # TPGT); the same ISID through another portal group is another session,
        # not a reinstatement (before: the first session was killed)
        c1 = R.logged_in()
        c2 = Conn(a.port2)
        c2.isid = c1.isid
        err = c2.login(a.iqn)
        R.expect(err is None, 'same ISID through portal group 2: login succeeds (%s)' % err)
        R.expect(not c1.wait_closed(2), 'the session through portal group 1 is not reinstated (still open)')
        R.expect(c1.test_unit_ready() == 0, 'the portal group 1 session still serves commands')
        if err is None:
            R.expect(c2.test_unit_ready() == 0, 'the portal group 2 session serves commands')
            R.expect(c2.tsih != c1.tsih, 'two sessions, two TSIHs (%d, %d)' % (c1.tsih, c2.tsih))
        c3 = Conn(a.port)
        c3.isid = c1.isid
        err = c3.login(a.iqn)
        R.expect(err is None, 'same ISID through portal group 1 again: login succeeds (%s)' % err)
        R.expect(c1.wait_closed(5), 'it reinstates the portal group 1 session')
        if err is None:
            R.expect(c2.test_unit_ready() == 0, 'the portal group 2 session is untouched')
        for c in (c1, c2, c3):
            c.close()

    def join_other_portal_group():
        # RFC 7143 4.4.1: all connections of a session use one portal group;
        # 11.13.5: 0x0208 "session spanning not supported" (before: accepted)
        c = R.logged_in(params={'MaxConnections': '2'})
        j, st = join_start(a.port2, c, 1, a.iqn)
        R.expect(st == (2, 8), 'connection add through portal group 2: status 0x0208 (got %s)' % st_hex(st))
        R.expect(c.test_unit_ready() == 0, 'the session still serves commands on its connection')
        j.close()
        c.close()

    def lead_and_join():
        """A session with MaxConnections=2 and a connection add (CID 1) stopped
        after its first PDU, accepted there."""
        c = R.logged_in(params={'MaxConnections': '2'})
        j, st = join_start(a.port, c, 1, a.iqn)
        R.expect(st == (0, 0), 'connection add: first PDU accepted (%s)' % st_hex(st))
        return c, j

    def join_finish_refused(j, want, what):
        try:
            st = join_finish(j)
            got = st_hex(st)
        except Closed:
            st, got = None, 'connection closed'
        R.expect(st == want, '%s: connection add refused with %s (got %s)' % (what, st_hex(want), got))
        if st == (0, 0):
            tur = j.scsi_bhs(bytes(6), immediate=True)   # immediate: whatever the session's CmdSN is
            j.send_pdu(tur)
            R.bad('%s: the joined connection serves commands (TUR status %s)' % (what, j.scsi_status(tur, 3)))
        R.expect(j.wait_closed(5), '%s: the refused connection is closed' % what)
        j.close()

    # RFC 7143 6.3.x: a connection add is checked at its first PDU; the session
    # must still be there, and the initiator allowed, when it enters full
    # feature phase (before: it was linked into a logged-out, reinstated or
    # revoked session and served I/O)
    def join_after_logout():
        c, j = lead_and_join()
        R.expect(logout_session(c), 'Logout (close the session) answered with success')
        R.expect(c.wait_closed(5), 'the session\'s connection is closed')
        join_finish_refused(j, (2, 10), 'after the session logged out')
        c.close()

    def join_after_reinstatement():
        c, j = lead_and_join()
        n = Conn(a.port)
        n.isid = c.isid
        err = n.login(a.iqn)
        R.expect(err is None, 'a login with the same ISID reinstates the session (%s)' % err)
        R.expect(c.wait_closed(5), 'the reinstated session\'s connection is closed')
        join_finish_refused(j, (2, 10), 'after the session was reinstated')
        if err is None:
            R.expect(n.test_unit_ready() == 0, 'the new session serves commands')
        n.close()
        c.close()

    def reload(conf_text):
        with open(a.conf, 'w') as f:
            f.write(conf_text)
        r = subprocess.run([a.tandemctl, '-s', a.ctl, 'reload'], capture_output=True, text=True, timeout=30)
        R.expect(r.returncode == 0, 'tandemctl reload (exit %d %s)' % (r.returncode, r.stderr.strip()))

    def join_after_acl_revoked():
        global INITIATOR
        saved, INITIATOR = INITIATOR, INITIATOR + '-revoked'
        with open(a.conf) as f:
            orig = f.read()
        try:
            c, j = lead_and_join()
            head = 'target %s {\n' % a.iqn
            reload(orig.replace(head, head + '    deny: %s\n' % INITIATOR, 1))
            join_finish_refused(j, (2, 2), 'after a reload took the initiator out of the ACL')
            c.close()
        finally:
            INITIATOR = saved
            reload(orig)

    def concurrent_joins():
        # RFC 7143 13.2 MaxConnections: joins still logging in count too
        # (before: two joins of a MaxConnections=2 session both got in)
        c, j1 = lead_and_join()
        j2, st = join_start(a.port, c, 2, a.iqn)
        R.expect(st == (0, 0), 'a second connection add: first PDU accepted (%s)' % st_hex(st))
        st = join_finish(j1)
        R.expect(st == (0, 0), 'the first connection add reaches full feature phase (%s)' % st_hex(st))
        join_finish_refused(j2, (2, 6), 'a third connection with MaxConnections=2')
        R.expect(c.test_unit_ready() == 0, 'the leading connection serves commands')
        if st == (0, 0):
            j1.cmdsn = c.cmdsn
            R.expect(j1.test_unit_ready() == 0, 'the added connection serves commands')
        j1.close()
        c.close()

    def discovery_login(name):
        """A discovery session of initiator name, kept open; (conn, status)."""
        d = Conn(a.port)
        _, st, _ = d.login_step(0, 3, True, kv([('InitiatorName', name), ('SessionType', 'Discovery'),
                                                ('AuthMethod', 'None')]))
        return d, st

    def max_sessions_bounds():
        # max_sessions: 2 bounds normal sessions and, separately, discovery
        # ones; a reinstating login adds none (before: one normal + one
        # discovery session refused the reinstatement, and idle discovery
        # sessions refused every normal login, 0x0302)
        with open(a.conf) as f:
            orig = f.read()
        conns = []
        try:
            reload(orig.replace('global {\n', 'global {\n    max_sessions: 2\n', 1))
            time.sleep(0.5)     # sessions of earlier cases and of the health check end
            c = R.logged_in()
            conns.append(c)
            other = 'iqn.1990-01.org.example:discovery-only'
            for i in range(2):
                d, st = discovery_login(other)
                conns.append(d)
                R.expect(st == (0, 0), 'discovery session %d of 2 (%s)' % (i + 1, st_hex(st)))
            d, st = discovery_login(other)
            conns.append(d)
            R.expect(st == (3, 2), 'a third discovery session: 0x0302 (got %s)' % st_hex(st))
            n = Conn(a.port)
            conns.append(n)
            n.isid = c.isid
            err = n.login(a.iqn)
            R.expect(err is None, 'the normal session is reinstated with two discovery sessions open (%s)' % err)
            R.expect(c.wait_closed(5), 'the reinstated session is closed')
            c2 = Conn(a.port)
            conns.append(c2)
            err = c2.login(a.iqn)
            R.expect(err is None, 'a second normal session with two discovery sessions open (%s)' % err)
            c3 = Conn(a.port)
            conns.append(c3)
            err = c3.login(a.iqn)
            R.expect(err == 'status 0x0302', 'a third normal session: 0x0302 (got %s)' % err)
            c4 = Conn(a.port)
            conns.append(c4)
            c4.isid = c2.isid
            err = c4.login(a.iqn)
            R.expect(err is None, 'at the limit, a login reinstating the second session (%s)' % err)
            R.expect(c2.wait_closed(5), 'the second session is reinstated')
            R.expect(n.test_unit_ready() == 0, 'the reinstating session serves commands')
        finally:
            for x in conns:
                x.close()
            time.sleep(0.5)
            reload(orig)

    R.case('connection add finishing after its session logged out', join_after_logout)
    R.case('connection add finishing after its session was reinstated', join_after_reinstatement)
    if a.tandemctl and a.ctl and a.conf:
        R.case('connection add finishing after a reload revoked the initiator', join_after_acl_revoked)
    R.case('two concurrent connection adds to a MaxConnections=2 session', concurrent_joins)
    if a.tandemctl and a.ctl and a.conf:
        R.case('max_sessions: normal and discovery sessions, reinstatement', max_sessions_bounds)

    if a.port2:
        R.case('same ISID through two portal groups: two sessions', same_isid_other_portal_group)
        R.case('connection add through another portal group refused', join_other_portal_group)


    def long_login_answer():
        # RFC 7143 6.1: our request in pieces of 8192 bytes (C bit), then an
        # answer of about 15 KB, which must come in pieces of at most 8192
        # bytes with the C bit (and T only on the last), each asked for with
        # an empty Login Request; the session starts with the last piece
        # (before: one 15 KB Login Response, over the initiator's limit).
        c = Conn(a.port)
        bhs, st, _ = c.login_step(0, 1, True, kv(base))
        R.expect(st == (0, 0) and bhs[1] & 0x80, 'security stage passed (0x%02x%02x)' % st)
        unknown = ['X-org.tandem.test.k%04d' % i for i in range(400)]
        data = kv([('HeaderDigest', 'None'), ('DataDigest', 'None'), ('MaxRecvDataSegmentLength', '65536')] +
                  [(k, 'v') for k in unknown])
        parts = [data[i:i + 8192] for i in range(0, len(data), 8192)]
        for part in parts[:-1]:
            c.send_pdu(c.login_bhs(1, 3, False, len(part), cont=True), part)
            op, rbhs, rdata = c.recv_skip_nop()
            R.expect(op == OP_LOGIN_RSP and rbhs[36:38] == b'\0\0' and not rdata and not rbhs[1] & 0xc0,
                     'a request piece with C=1: empty answer without T/C (op 0x%02x flags 0x%02x dlen %d)'
                     % (op, rbhs[1], len(rdata)))
        c.send_pdu(c.login_bhs(1, 3, True, len(parts[-1])), parts[-1])
        text, pieces = b'', []
        for _ in range(10):
            op, rbhs, rdata = c.recv_skip_nop()
            if op != OP_LOGIN_RSP or rbhs[36:38] != b'\0\0':
                R.bad('answer piece %d: op 0x%02x status %s' % (len(pieces), op, rbhs[36:38].hex()))
                c.close()
                return
            pieces.append((rbhs[1], len(rdata)))
            text += rdata
            if not rbhs[1] & 0x40:
                break
            c.send_pdu(c.login_bhs(1, 3, True, 0))
        R.expect(len(pieces) >= 2 and all(n <= 8192 for _, n in pieces),
                 'the answer came in %d pieces of at most 8192 bytes (%s)' % (len(pieces), pieces))
        R.expect(all(f & 0xc0 == 0x40 for f, _ in pieces[:-1]) and pieces[-1][0] & 0xc3 == 0x83,
                 'C on every piece but the last, T (to full feature phase) only on the last (%s)'
                 % ['0x%02x' % f for f, _ in pieces])
        got = parse_kv(text)
        R.expect(all(got.get(k) == 'NotUnderstood' for k in unknown) and got.get('HeaderDigest') == 'None',
                 'the joined answer has every key (%d of %d unknown keys NotUnderstood)'
                 % (sum(got.get(k) == 'NotUnderstood' for k in unknown), len(unknown)))
        c.tsih = int.from_bytes(rbhs[14:16], 'big')
        c.cmdsn = int.from_bytes(rbhs[28:32], 'big')
        R.expect(c.tsih != 0 and c.test_unit_ready() == 0, 'the session works after the last piece (TSIH %d)'
                 % c.tsih)
        c.close()
    R.case('a login answer over 8192 bytes comes in pieces (C bit)', long_login_answer)

    def long_login_answer_interrupted():
        # text of its own while our answer is incomplete: refused (0x0200)
        c = Conn(a.port)
        bhs, st, _ = c.login_step(0, 1, True, kv(base))
        data = kv([('X-org.tandem.test.k%04d' % i, 'v') for i in range(300)])
        c.send_pdu(c.login_bhs(1, 3, True, len(data)), data)
        op, rbhs, _ = c.recv_skip_nop()
        R.expect(op == OP_LOGIN_RSP and rbhs[1] & 0x40, 'first piece with C (flags 0x%02x)' % rbhs[1])
        more = kv([('MaxRecvDataSegmentLength', '65536')])
        try:
            _, st, _ = c.login_step(1, 3, True, more)
            got = 'status 0x%02x%02x' % st
        except Closed:
            st, got = None, 'closed without a status'
        R.expect(st == (2, 0), 'new text while the answer is incomplete: initiator error 0x0200 (%s)' % got)
        R.expect(c.wait_closed(), 'and the connection is closed')
    R.case('new login text while the target\'s answer is incomplete', long_login_answer_interrupted)

    def text_in_pieces():
        # RFC 7143 11.10.2: a Text Request in two pieces (C=1 then F=1), the
        # key split across them; each C=1 piece is answered by an empty Text
        # Response with F=0 and a TTT that the next piece carries
        # (before: Reject 0x05 for any C=1 request)
        c = R.logged_in()
        itt = c.next_itt()
        c.send_pdu(c.text_bhs(7, final=False, cont=True, itt=itt), b'SendTar')
        op, rbhs, rdata = c.recv_skip_nop()
        ttt = int.from_bytes(rbhs[20:24], 'big')
        R.expect(op == OP_TEXT_RSP and rbhs[1] & 0xc0 == 0 and not rdata and ttt != 0xffffffff,
                 'C=1 piece: empty Text Response, F=0, a TTT (op 0x%02x flags 0x%02x dlen %d ttt %08x)'
                 % (op, rbhs[1], len(rdata), ttt))
        c.send_pdu(c.text_bhs(9, itt=itt, ttt=ttt), b'gets=All\0')
        op, rbhs, rdata = c.recv_skip_nop()
        got = parse_kv(rdata) if op == OP_TEXT_RSP else {}
        R.expect(op == OP_TEXT_RSP and rbhs[1] & 0x80 and got.get('TargetName') == a.iqn,
                 'the joined request answered: SendTargets with TargetName (op 0x%02x, %r)' % (op, got))
        # a piece carrying a TTT that is not ours
        itt = c.next_itt()
        c.send_pdu(c.text_bhs(7, final=False, cont=True, itt=itt), b'SendTar')
        op, rbhs, _ = c.recv_skip_nop()
        ttt = int.from_bytes(rbhs[20:24], 'big')
        c.send_pdu(c.text_bhs(9, itt=itt, ttt=ttt ^ 0x5a5a), b'gets=All\0')
        op, rbhs, _ = c.recv_skip_nop()
        R.expect(op == OP_REJECT and rbhs[2] == 0x09, 'a piece with a wrong TTT: Reject 0x09 (op 0x%02x reason 0x%02x)'
                 % (op, rbhs[2]))
        # C and F together
        c.send_pdu(c.text_bhs(9, final=True, cont=True), b'gets=All\0')
        op, rbhs, _ = c.recv_skip_nop()
        R.expect(op == OP_REJECT and rbhs[2] == 0x04, 'C and F both set: Reject 0x04 (op 0x%02x reason 0x%02x)'
                 % (op, rbhs[2]))
        # a request over 64 KiB in pieces: refused, the session goes on
        itt, ttt, piece = c.next_itt(), 0xffffffff, b'X-org.tandem.test.pad=' + b'p' * 8000
        for _ in range(9):
            c.send_pdu(c.text_bhs(len(piece), final=False, cont=True, itt=itt, ttt=ttt), piece)
            op, rbhs, _ = c.recv_skip_nop()
            if op != OP_TEXT_RSP:
                break
            ttt = int.from_bytes(rbhs[20:24], 'big')
        R.expect(op == OP_REJECT and rbhs[2] == 0x04, 'a request over 64 KiB: Reject 0x04 (op 0x%02x)' % op)
        R.expect(c.test_unit_ready() == 0, 'the session still works')
        c.close()
    R.case('a Text request in pieces (C bit)', text_in_pieces)


    def split_security_answer():
        # the first request (names + 400 unknown keys, itself in pieces) gets
        # an answer over 8192 bytes: TargetPortalGroupTag comes in the first
        # piece (RFC 7143 13.9: the response to the first request with C=0);
        # an empty continuation with T=0 gets a last piece with T=0 (11.13.3),
        # and a later T=1 request moves on
        c = Conn(a.port)
        unknown = ['X-org.tandem.test.s%04d' % i for i in range(400)]
        data = kv(base + [(k, 'v') for k in unknown])
        parts = [data[i:i + 8192] for i in range(0, len(data), 8192)]
        for part in parts[:-1]:
            c.send_pdu(c.login_bhs(0, 1, False, len(part), cont=True), part)
            c.recv_skip_nop()
        c.send_pdu(c.login_bhs(0, 1, True, len(parts[-1])), parts[-1])
        op, rbhs, first = c.recv_skip_nop()
        R.expect(op == OP_LOGIN_RSP and rbhs[1] & 0xc0 == 0x40 and 'TargetPortalGroupTag' in parse_kv(first),
                 'first piece: C=1, T=0, TargetPortalGroupTag in it (flags 0x%02x, %d bytes)' % (rbhs[1], len(first)))
        text = first
        for _ in range(10):
            c.send_pdu(c.login_bhs(0, 1, False, 0))     # empty, T=0
            op, rbhs, rdata = c.recv_skip_nop()
            text += rdata
            if op != OP_LOGIN_RSP or not rbhs[1] & 0x40:
                break
        R.expect(op == OP_LOGIN_RSP and rbhs[36:38] == b'\0\0' and rbhs[1] & 0xc0 == 0,
                 'last piece after a T=0 continuation: T=0 (flags 0x%02x)' % rbhs[1])
        got = parse_kv(text)
        R.expect(all(got.get(k) == 'NotUnderstood' for k in unknown) and got.get('AuthMethod') == 'None',
                 'the joined answer has every key')
        bhs, st, _ = c.login_step(0, 1, True, b'')
        R.expect(st == (0, 0) and bhs[1] & 0x80 and bhs[1] & 0x03 == 1,
                 'a later T=1 request moves to the operational stage (flags 0x%02x)' % bhs[1])
        ops = kv([('HeaderDigest', 'None'), ('DataDigest', 'None')])
        bhs, st, _ = c.login_step(1, 3, True, ops)
        c.tsih = int.from_bytes(bhs[14:16], 'big')
        c.cmdsn = int.from_bytes(bhs[28:32], 'big')
        R.expect(st == (0, 0) and bhs[1] & 0x83 == 0x83 and c.test_unit_ready() == 0,
                 'then full feature phase and a working session')
        c.close()
    R.case('a split first answer: TPGT first, T=0 continuation', split_security_answer)

    def text_request_not_final():
        # RFC 7143 11.11.1: an F=0 Text Request gets F=0 and a TTT (F=1 would
        # be a protocol error); the initiator's F=1 follow-up with that TTT
        # ends the exchange with F=1 (before: F=1 at once)
        c = R.logged_in()
        itt = c.next_itt()
        body = b'SendTargets=All\0'
        c.send_pdu(c.text_bhs(len(body), final=False, itt=itt), body)
        op, rbhs, rdata = c.recv_skip_nop()
        ttt = int.from_bytes(rbhs[20:24], 'big')
        R.expect(op == OP_TEXT_RSP and rbhs[1] & 0xc0 == 0 and ttt != 0xffffffff and
                 parse_kv(rdata).get('TargetName') == a.iqn,
                 'F=0 request: answer with F=0, a TTT and the keys (flags 0x%02x ttt %08x)' % (rbhs[1], ttt))
        c.send_pdu(c.text_bhs(0, itt=itt, ttt=ttt))
        op, rbhs, rdata = c.recv_skip_nop()
        R.expect(op == OP_TEXT_RSP and rbhs[1] & 0x80 and rbhs[20:24] == b'\xff\xff\xff\xff' and not rdata,
                 'the F=1 follow-up: empty answer with F=1 (op 0x%02x flags 0x%02x)' % (op, rbhs[1]))
        R.expect(c.test_unit_ready() == 0, 'the session still works')
        c.close()
    R.case('a Text request with F=0', text_request_not_final)

    R.case('correct login still works at the end', good_login)

    print('[bad_input] ---- summary ----')
    for f in R.failures:
        print('[bad_input]   failed: %s' % f)
    print('%d passed, %d failed' % (R.passed, R.failed))
    if R.passed == 0:
        # an --only that matched no case checked nothing
        print('[bad_input] no check ran (--only %r matched no case)' % a.only)
        return 1
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())

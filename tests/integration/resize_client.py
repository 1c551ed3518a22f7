#!/usr/bin/env python3
"""LUN size changes in service, as two iSCSI sessions see them (driven by
test_resize.sh, which starts tandemd on the configuration this script writes).

A reload that changes a LUN's `size`, or finds the file of a `size: 0` LUN
grown, changes the capacity without taking the LUN away (ESXi: "Increase
Datastore" after a rescan; before, a size change removed the LUN and added it
back, which initiators see as LOGICAL UNIT NOT SUPPORTED for a moment). Every
I_T nexus gets UNIT ATTENTION 2Ah/09h CAPACITY DATA HAS CHANGED once, on that
LUN only (SPC-4 / SBC-3). LUNs (target IQN, one portal):
  0  blockio, file created (create: yes), 64M -> 96M -> 80M (shrink)
  1  null backend, 64M -> 128M
  2  blockio, size 0 on a file made by the script (32M), grown with truncate
     to 48M; then a size the file does not hold (create: no): refused
  3  fileio 16M, never changed: never a unit attention
Checked on every step, for both sessions: the unit attention exactly where
the capacity changed, READ CAPACITY(10) and (16), data written before a
change still there, the grown range readable and writable, LBA OUT OF RANGE
past a shrunken end while the file keeps its size and data, REPORT LUNS
unchanged, and the reload's answer (a refused size is a warning naming the
LUN, the size it keeps and why).

Usage: resize_client.py --ctl TANDEMCTL --service NAME --conf FILE --dir DIR --port N --iqn IQN
Prints PASS/FAIL lines and "N passed, M failed"; exit status 1 on any failure.
"""
import argparse
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_bad_input import Conn  # noqa: E402
from alua_client import Runner, command as alua_command  # noqa: E402

MiB = 1 << 20


def command(c, lun, cdb, read_len=0, write=b''):
    return alua_command(c, cdb, read_len=read_len, write=write, lun=lun)


def tur(c, lun):
    return command(c, lun, [0x00, 0, 0, 0, 0, 0])


def rc10(c, lun):
    r = command(c, lun, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], read_len=8)
    return struct.unpack('>I', r.data[:4])[0] + 1 if r.status == 0 and len(r.data) == 8 else r


def rc16(c, lun):
    r = command(c, lun, [0x9e, 0x10] + [0] * 11 + [32, 0, 0], read_len=32)
    return struct.unpack('>Q', r.data[:8])[0] + 1 if r.status == 0 and len(r.data) >= 8 else r


def read16(c, lun, lba, n=1):
    return command(c, lun, [0x88, 0, *lba.to_bytes(8, 'big'), *n.to_bytes(4, 'big'), 0, 0], read_len=512 * n)


def write16(c, lun, lba, buf):
    n = len(buf) // 512
    return command(c, lun, [0x8a, 0, *lba.to_bytes(8, 'big'), *n.to_bytes(4, 'big'), 0, 0], write=buf)


def report_luns(c):
    r = command(c, 0, [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], read_len=256)
    n = struct.unpack('>I', r.data[:4])[0] // 8
    return sorted(struct.unpack('>H', r.data[8 + 8 * i:10 + 8 * i])[0] for i in range(n))


def write_conf(a, sizes):
    """sizes: {lun: size string} for LUNs 0-2; LUN 2 also takes 'create'."""
    luns = [
        (0, 'blockio', os.path.join(a.dir, 'lun0.img'), sizes[0], 'yes', 'write-through'),
        (1, 'null', None, sizes[1], None, 'write-back'),
        (2, 'blockio', os.path.join(a.dir, 'lun2.img'), sizes[2], 'no', 'write-through'),
        (3, 'fileio', os.path.join(a.dir, 'lun3.img'), '16M', 'yes', 'write-back'),
    ]
    with open(a.conf, 'w') as f:
        f.write('global {\n    ctl_socket: %s\n    threads: 2\n}\n' % a.service)
        f.write('portal_group pg1 {\n    tag: 1\n    listen: 127.0.0.1:%d\n}\n' % a.port)
        f.write('target %s {\n    portal_group: pg1\n' % a.iqn)
        for n, backend, path, size, create, cache in luns:
            f.write('    lun %d {\n        backend: %s\n' % (n, backend))
            if path:
                f.write('        path: %s\n        create: %s\n' % (path, create))
            f.write('        size: %s\n        cache: %s\n' % (size, cache))
            f.write('        serial: resize-lun%d\n        naa: 60014050000000000000000000%06x\n' % (n, 0xa100 + n))
            f.write('    }\n')
        f.write('}\n')


def reload(a):
    p = subprocess.run([a.ctl, '-s', a.service, 'reload'], capture_output=True, text=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def session(a):
    c = Conn(a.port)
    err = c.login(a.iqn)
    if err:
        raise RuntimeError('login: %s' % err)
    for lun in range(4):                                # POWER ON and the like
        for _ in range(4):
            if tur(c, lun).key is None:
                break
    return c


def ua_once(R, c, lun, what):
    """The first command gets CAPACITY DATA HAS CHANGED, the next one GOOD."""
    r1, r2 = tur(c, lun), tur(c, lun)
    R.expect(r1.key == (6, 0x2a, 0x09) and r2.status == 0,
             '%s: LUN %d: UNIT ATTENTION 2Ah/09h once (%r, then %r)' % (what, lun, r1, r2))


def no_ua(R, c, lun, what):
    r = tur(c, lun)
    R.expect(r.status == 0, '%s: LUN %d: no unit attention (%r)' % (what, lun, r))


def main():
    ap = argparse.ArgumentParser()
    for k in ('ctl', 'service', 'conf', 'dir', 'iqn'):
        ap.add_argument('--' + k, required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--write-conf', action='store_true', help='only write the first configuration')
    ap.add_argument('--naa-of', type=int, metavar='LUN', help='only print the NAA designator of LUN (VPD 83h)')
    a = ap.parse_args()
    if a.write_conf:
        write_conf(a, {0: '64M', 1: '64M', 2: '0'})
        return 0
    if a.naa_of is not None:
        c = session(a)
        r = command(c, a.naa_of, [0x12, 0x01, 0x83, 0x01, 0x00, 0], read_len=256)
        page, off = r.data, 4
        while off + 4 <= min(len(page), 4 + struct.unpack('>H', page[2:4])[0]):
            n = page[off + 3]
            if page[off + 1] & 0x0f == 3:               # designator type NAA
                print(page[off + 4:off + 4 + n].hex())
            off += 4 + n
        c.close()
        return 0

    R = Runner()
    A, B = session(a), session(a)
    blk = lambda size: size // 512                      # noqa: E731
    for lun, size in ((0, 64 * MiB), (1, 64 * MiB), (2, 32 * MiB), (3, 16 * MiB)):
        R.expect(rc16(A, lun) == blk(size), 'start: LUN %d holds %d MiB' % (lun, size // MiB))
    old_end = bytes([0x5a]) * 512
    R.expect(write16(A, 0, blk(64 * MiB) - 1, old_end).status == 0, 'A writes the last block of LUN 0')
    r = read16(A, 0, blk(64 * MiB))
    R.expect(r.key == (5, 0x21, 0x00), 'past the end of LUN 0: LBA OUT OF RANGE (%r)' % r)

    # 1. grow LUN 0 (the file with it) and LUN 1 by a configured size
    write_conf(a, {0: '96M', 1: '128M', 2: '0'})
    rc, out = reload(a)
    R.expect(rc == 0 and 'configuration reloaded' in out and 'not all' not in out,
             'grow: reload applied without a warning (%d: %s)' % (rc, out))
    for c, who in ((A, 'A'), (B, 'B')):
        ua_once(R, c, 0, 'grow, session ' + who)
        ua_once(R, c, 1, 'grow, session ' + who)
        no_ua(R, c, 2, 'grow, session ' + who)
        no_ua(R, c, 3, 'grow, session ' + who)
    R.expect(rc16(B, 0) == blk(96 * MiB) and rc10(B, 0) == blk(96 * MiB),
             'grow: READ CAPACITY(16) and (10) give 96 MiB on LUN 0')
    R.expect(rc16(A, 1) == blk(128 * MiB), 'grow: LUN 1 (null) holds 128 MiB')
    R.expect(os.path.getsize(os.path.join(a.dir, 'lun0.img')) == 96 * MiB, 'grow: lun0.img grew to 96 MiB')
    new_end = bytes([0xa5]) * 512
    R.expect(write16(B, 0, blk(96 * MiB) - 1, new_end).status == 0, 'grow: B writes the new last block')
    R.expect(read16(A, 0, blk(96 * MiB) - 1).data == new_end, 'grow: A reads it back')
    R.expect(read16(A, 0, blk(64 * MiB) - 1).data == old_end, 'grow: the old last block kept its data')
    R.expect(read16(A, 0, blk(80 * MiB), 8).data == bytes(4096), 'grow: the grown range reads zeroes')
    R.expect(report_luns(A) == [0, 1, 2, 3], 'grow: REPORT LUNS unchanged')
    rc, out = reload(a)
    R.expect(rc == 0 and 'configuration reloaded' in out and 'not all' not in out,
             'the same configuration again: applied (%d: %s)' % (rc, out))
    no_ua(R, A, 0, 'the same configuration again')

    # 2. the file of a size-0 LUN grew underneath (an LV grown, a file extended)
    os.truncate(os.path.join(a.dir, 'lun2.img'), 48 * MiB)
    rc, out = reload(a)
    R.expect(rc == 0 and 'not all' not in out, 'file grown: reload applied (%d: %s)' % (rc, out))
    for c, who in ((A, 'A'), (B, 'B')):
        ua_once(R, c, 2, 'file grown, session ' + who)
        no_ua(R, c, 0, 'file grown, session ' + who)
    R.expect(rc16(A, 2) == blk(48 * MiB), 'file grown: LUN 2 holds 48 MiB')
    R.expect(write16(A, 2, blk(48 * MiB) - 1, new_end).status == 0, 'file grown: the new last block takes a write')

    # 3. a size the file does not hold, create: no: refused, nothing changes
    write_conf(a, {0: '96M', 1: '128M', 2: '64M'})
    rc, out = reload(a)
    R.expect(rc == 0 and 'not all of the configuration is in service' in out and
             'LUN 2: keeps 50331648 bytes' in out and 'less than the requested 67108864' in out,
             'too large: the reload warns, naming the LUN, what it keeps and why (%d: %s)' % (rc, out))
    no_ua(R, A, 2, 'too large')
    R.expect(rc16(B, 2) == blk(48 * MiB), 'too large: LUN 2 still holds 48 MiB')
    R.expect(os.path.getsize(os.path.join(a.dir, 'lun2.img')) == 48 * MiB, 'too large: lun2.img untouched')
    write_conf(a, {0: '96M', 1: '128M', 2: '0'})
    rc, out = reload(a)
    R.expect(rc == 0 and 'not all' not in out, 'size 0 again: reload applied (%d: %s)' % (rc, out))
    no_ua(R, B, 2, 'size 0 again (the capacity it serves already)')

    # 4. shrink LUN 0: out of range past the new end, the file keeps its data
    write_conf(a, {0: '80M', 1: '128M', 2: '0'})
    rc, out = reload(a)
    R.expect(rc == 0 and 'not all' not in out, 'shrink: reload applied (%d: %s)' % (rc, out))
    ua_once(R, A, 0, 'shrink, session A')
    ua_once(R, B, 0, 'shrink, session B')
    R.expect(rc16(A, 0) == blk(80 * MiB), 'shrink: LUN 0 holds 80 MiB')
    r = read16(A, 0, blk(80 * MiB) - 1, 2)
    R.expect(r.key == (5, 0x21, 0x00), 'shrink: a read across the new end: LBA OUT OF RANGE (%r)' % r)
    r = write16(B, 0, blk(80 * MiB), bytes(512))
    R.expect(r.key == (5, 0x21, 0x00), 'shrink: a write past the new end: LBA OUT OF RANGE (%r)' % r)
    R.expect(os.path.getsize(os.path.join(a.dir, 'lun0.img')) == 96 * MiB, 'shrink: lun0.img keeps 96 MiB')
    with open(os.path.join(a.dir, 'lun0.img'), 'rb') as f:
        f.seek(96 * MiB - 512)
        R.expect(f.read(512) == new_end, 'shrink: the data past the new end is still in the file')
    R.expect(read16(B, 0, blk(64 * MiB) - 1).data == old_end, 'shrink: data inside the new end intact')
    no_ua(R, A, 1, 'shrink')

    for c in (A, B):
        c.close()
    print('%d passed, %d failed' % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Persistent reservations as an initiator port sees them (tests/repl/test_faults.sh
scenario pr-failover): one login as INITIATOR with a fixed ISID (an initiator
keeps its ISID across reconnects, so a registration of that port follows it),
then the steps given, one result line each:

  register KEY        PERSISTENT RESERVE OUT REGISTER, SERVICE ACTION KEY=KEY,
                      ALL_TG_PT=1 (the port ids of the two nodes differ)
  reserve KEY TYPE    RESERVE (type 1 Write Exclusive, 3 Exclusive Access ...)
  preempt KEY VICTIM TYPE
  keys                PERSISTENT RESERVE IN READ KEYS: "keys=0xa1,0xb2" (sorted)
  resv                READ RESERVATION: "resv=0xa1/1" or "resv=none"
  write LBA           WRITE(10) of one block
  tur                 TEST UNIT READY
  wce 0|1             MODE SELECT(6) of the caching page, WCE as given (current only)
  wce-save 0|1        the same with SP=1 (saved too)
  mode                MODE SENSE(6) of the caching page, current and saved WCE:
                      "wce=CURRENT/SAVED"
  sanitize [immed]    SANITIZE OVERWRITE, one pass of a 4-byte pattern, AUSE=0
                      (IMMED=1 with "immed": GOOD once the CDB is checked)
  tur-wait            TEST UNIT READY until it no longer says NOT READY,
                      SANITIZE IN PROGRESS (2/04/1b; up to 120 s), then its result
  read LBA            READ(10) of one block

A command's line is GOOD, CONFLICT (RESERVATION CONFLICT), or the sense
"KEY/ASC/ASCQ" in hex; keys/resv print their report when GOOD.

Usage: pr_client.py --host H [--port 3260] --iqn TARGET --initiator NAME --isid HEX STEP...
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'integration'))
import test_bad_input  # noqa: E402
from alua_client import command  # noqa: E402


def outcome(r):
    if r.status == 0:
        return 'GOOD'
    if r.status == 0x18:
        return 'CONFLICT'
    return '%x/%02x/%02x' % r.key if r.key else 'status 0x%02x' % r.status


def pr_out(c, sa, typ, key, sa_key, all_tg_pt=False):
    plist = bytearray(24)
    plist[0:8] = key.to_bytes(8, 'big')
    plist[8:16] = sa_key.to_bytes(8, 'big')
    plist[20] = 0x04 if all_tg_pt else 0
    cdb = [0x5f, sa, typ & 0x0f, 0, 0, 0, 0, 0, len(plist), 0]
    return command(c, cdb, write=bytes(plist))


def pr_in(c, sa):
    return command(c, [0x5e, sa, 0, 0, 0, 0, 0, 0x10, 0x00, 0], read_len=4096)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', required=True)
    ap.add_argument('--port', type=int, default=3260)
    ap.add_argument('--iqn', required=True)
    ap.add_argument('--initiator', required=True)
    ap.add_argument('--isid', required=True, help='6 bytes in hex')
    ap.add_argument('steps', nargs='+')
    a = ap.parse_args()
    test_bad_input.INITIATOR = a.initiator
    c = test_bad_input.Conn(a.port, host=a.host)
    c.isid = bytes.fromhex(a.isid)
    err = c.login(a.iqn)
    if err:
        print('login failed: %s' % err)
        return 1
    for _ in range(4):                          # POWER ON / RESET / ALUA unit attentions
        r = command(c, [0x12, 0, 0, 0, 96, 0], read_len=96)
        r = command(c, [0x00, 0, 0, 0, 0, 0])
        if not r.key or r.key[0] != 6:
            break
    steps, i = a.steps, 0
    while i < len(steps):
        s = steps[i]
        if s == 'register':
            r = pr_out(c, 0, 0, 0, int(steps[i + 1], 0), all_tg_pt=True)
            i += 2
            print(outcome(r))
        elif s == 'reserve':
            r = pr_out(c, 1, int(steps[i + 2], 0), int(steps[i + 1], 0), 0)
            i += 3
            print(outcome(r))
        elif s == 'preempt':
            r = pr_out(c, 4, int(steps[i + 3], 0), int(steps[i + 1], 0), int(steps[i + 2], 0))
            i += 4
            print(outcome(r))
        elif s == 'keys':
            r = pr_in(c, 0)
            i += 1
            if r.status:
                print(outcome(r))
            else:
                n = int.from_bytes(r.data[4:8], 'big') // 8
                keys = sorted(int.from_bytes(r.data[8 + 8 * k:16 + 8 * k], 'big') for k in range(n))
                print('keys=' + ','.join('0x%x' % k for k in keys))
        elif s == 'resv':
            r = pr_in(c, 1)
            i += 1
            if r.status:
                print(outcome(r))
            elif int.from_bytes(r.data[4:8], 'big') == 0:
                print('resv=none')
            else:
                print('resv=0x%x/%d' % (int.from_bytes(r.data[8:16], 'big'), r.data[21] & 0x0f))
        elif s == 'write':
            lba = int(steps[i + 1], 0)
            i += 2
            print(outcome(command(c, [0x2a, 0, *lba.to_bytes(4, 'big'), 0, 0, 1, 0], write=b'\xa5' * 512)))
        elif s in ('wce', 'wce-save'):
            plist = bytearray(4 + 20)
            plist[4:6] = b'\x08\x12'
            plist[6] = 0x04 if int(steps[i + 1]) else 0
            sp = 1 if s == 'wce-save' else 0
            i += 2
            print(outcome(command(c, [0x15, 0x10 | sp, 0, 0, len(plist), 0], write=bytes(plist))))
        elif s == 'mode':
            i += 1
            got = []
            for pc in (0, 3):
                r = command(c, [0x1a, 0x08, (pc << 6) | 0x08, 0, 255, 0], read_len=255)
                if r.status:
                    got.append(outcome(r))
                else:
                    got.append('1' if r.data[4 + 2] & 0x04 else '0')
            print('wce=' + '/'.join(got))
        elif s == 'sanitize':
            immed = i + 1 < len(steps) and steps[i + 1] == 'immed'
            i += 2 if immed else 1
            plist = bytes([0x01, 0, 0, 4]) + b'\x5a\xa5\x0f\xf0'
            cdb = [0x48, 0x01 | (0x80 if immed else 0), 0, 0, 0, 0, 0, 0, len(plist), 0]
            print(outcome(command(c, cdb, write=plist)))
        elif s == 'tur-wait':
            i += 1
            deadline = time.time() + 120
            while True:
                r = command(c, [0x00, 0, 0, 0, 0, 0])
                if outcome(r) != '2/04/1b' or time.time() > deadline:
                    break
                time.sleep(0.2)
            print(outcome(r))
        elif s == 'read':
            lba = int(steps[i + 1], 0)
            i += 2
            print(outcome(command(c, [0x28, 0, *lba.to_bytes(4, 'big'), 0, 0, 1, 0], read_len=512)))
        elif s == 'tur':
            i += 1
            print(outcome(command(c, [0x00, 0, 0, 0, 0, 0])))
        else:
            print('unknown step %r' % s)
            return 2
        sys.stdout.flush()
    c.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())

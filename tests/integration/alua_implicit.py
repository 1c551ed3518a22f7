#!/usr/bin/env python3
"""Implicit-only ALUA as an initiator sees it (tests/repl/test_mirror.sh).

On a node whose ALUA states belong to the replication roles (alua_explicit
auto with a replication section, or no), an initiator must not be able to move
a target port group with SET TARGET PORT GROUPS: the states would then differ
from the role, on this node only. Checked over iSCSI against HOST:PORT:
  - standard INQUIRY reports TPGS 01b (implicit only);
  - STPG (standby for every group RTPG lists) ends in CHECK CONDITION,
    ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20h/00h);
  - REPORT TARGET PORT GROUPS shows the same states before and after.

Usage: alua_implicit.py --host H --port P --iqn IQN
Prints PASS/FAIL lines and "N passed, M failed"; exit status 1 on any failure.
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alua_client import Runner, command, inquiry, parse_rtpg, rtpg, session  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', required=True)
    ap.add_argument('--port', type=int, default=3260)
    ap.add_argument('--iqn', required=True)
    a = ap.parse_args()
    R = Runner()
    c = session(a.port, a.iqn, host=a.host)
    inq = inquiry(c)
    R.expect(inq.status == 0 and (inq.data[5] >> 4) & 3 == 1,
             'INQUIRY TPGS = 01b, implicit ALUA only (byte 5 = 0x%02x)' % (inq.data[5] if inq.data[5:] else 0))
    before = rtpg(c)
    groups = parse_rtpg(before.data) if before.status == 0 else {}
    R.expect(before.status == 0 and groups, 'REPORT TARGET PORT GROUPS answers (%s)' % groups)
    desc = b''.join(struct.pack('>BBH', 2, 0, gid) for gid in sorted(groups))   # standby, every group
    plist = bytes(4) + desc
    r = command(c, [0xa4, 0x0a, 0, 0, 0, 0, *len(plist).to_bytes(4, 'big'), 0, 0], write=plist)
    R.expect(r.key == (5, 0x20, 0x00),
             'SET TARGET PORT GROUPS refused: ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE (got %r)' % (r.key,))
    after = rtpg(c)
    R.expect(after.status == 0 and parse_rtpg(after.data) == groups,
             'the group states did not change (%s)' % (parse_rtpg(after.data) if after.status == 0 else after))
    c.close()
    print('%d passed, %d failed' % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())

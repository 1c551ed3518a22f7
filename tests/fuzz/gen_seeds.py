#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the synthetic seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

  python3 tests/fuzz/gen_seeds.py [CORPUS_DIR]

Seeds are named seed-<what>; files under corpus/ named crash-*/regress-* are
regression inputs and are never touched. Captured real traffic (capture.py)
is named cap-*. Formats are described at the top of each fuzz_*.c.
"""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "corpus")
TNAME = "iqn.2026-11.org.tandem:fuzz"
MASK = (1 << 64) - 1


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------- identity (config/defaults.c)
def fnv1a64(h, data):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & MASK
    return h


def cfg_hash(target, lun, seed):
    h = fnv1a64(0xcbf29ce484222325 ^ seed, target.encode())
    h = fnv1a64(h, struct.pack(">I", lun))
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & MASK
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & MASK
    h ^= h >> 31
    return h


def naa(target, lun):
    oui = 0x7a4d3e
    a, b = cfg_hash(target, lun, 1), cfg_hash(target, lun, 2)
    out = bytes([0x60 | ((oui >> 20) & 0xf), (oui >> 12) & 0xff, (oui >> 4) & 0xff,
                 ((oui & 0xf) << 4) | ((a >> 32) & 0xf)])
    out += struct.pack(">I", a & 0xffffffff) + struct.pack(">Q", b)
    return out


# ------------------------------------------------------------- CDBs (fuzz_scsi_cdb.c)
NONE, READ, WRITE = 0, 1, 2


def cmd(cdb, dirn=NONE, edtl=0, data=b"", itn=0, lun=0):
    c0 = (itn & 3) | ((lun & 3) << 2) | (dirn << 4) | (0x40 if len(cdb) > 16 else 0)
    cdb = cdb + bytes((32 if len(cdb) > 16 else 16) - len(cdb))
    return bytes([c0]) + struct.pack(">I", edtl)[1:] + cdb + struct.pack(">H", len(data)) + data


def cdb_seq(*cmds, fail=0):
    return bytes([fail]) + b"".join(cmds)


def be16(v):
    return struct.pack(">H", v)


def be32(v):
    return struct.pack(">I", v)


def be64(v):
    return struct.pack(">Q", v)


def cscd(lun):
    d = naa(TNAME, lun)
    return bytes([0xe4, 0, 0, 0, 0x01, 0x03, 0, len(d)]) + d + bytes(20 - len(d)) + bytes([0, 0, 0, 0, 0, 0, 2, 0])


def xcopy_list(src, dst, nblk, slba, dlba, list_id=1):
    descs = cscd(src) + cscd(dst)
    seg = bytes([0x02, 0, 0, 0x18, 0, 0, 0, 1]) + be16(0) + be16(nblk) + be64(slba) + be64(dlba)
    hdr = bytes([list_id, 0x18, 0, 0]) + be16(len(descs)) + bytes(2) + be32(len(seg)) + be32(0)
    return hdr + descs + seg


def pr_out_params(key=0, sakey=0, aptpl=False, spec_i_pt=False, all_tg=False, extra=b""):
    flags = (1 if aptpl else 0) | (4 if all_tg else 0) | (8 if spec_i_pt else 0)
    return be64(key) + be64(sakey) + bytes(4) + bytes([flags, 0]) + bytes(2) + extra


def pr_out(sa, typ, params):
    return bytes([0x5f, sa, typ, 0, 0]) + be32(len(params)) + bytes([0])


def gen_cdb():
    T = "scsi_cdb"
    rd10 = lambda lba, n: bytes([0x28, 0]) + be32(lba) + bytes([0]) + be16(n) + bytes([0])
    wr10 = lambda lba, n, fua=0: bytes([0x2a, fua << 3]) + be32(lba) + bytes([0]) + be16(n) + bytes([0])
    seeds = {
        "tur-inq": cdb_seq(cmd(bytes([0]), NONE), cmd(bytes([0x12, 0, 0, 0, 96, 0]), READ, 96)),
        "vpd": cdb_seq(*[cmd(bytes([0x12, 1, p, 0, 255, 0]), READ, 255) for p in (0, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2, 0x8f)]),
        "capacity": cdb_seq(cmd(bytes([0x25]) + bytes(9), READ, 8),
                            cmd(bytes([0x9e, 0x10]) + bytes(8) + be32(32) + bytes(2), READ, 32),
                            cmd(bytes([0xa0, 0, 0, 0, 0, 0]) + be32(256) + bytes(2), READ, 256)),
        "rw10": cdb_seq(cmd(wr10(0, 8), WRITE, 4096, bytes(range(256)) * 16), cmd(rd10(0, 8), READ, 4096),
                        cmd(wr10(100, 1, 1), WRITE, 512, b"\xaa" * 512)),
        "rw-other": cdb_seq(cmd(bytes([0x0a, 0, 0, 1, 1, 0]), WRITE, 512, b"x" * 512),
                            cmd(bytes([0x08, 0, 0, 1, 1, 0]), READ, 512),
                            cmd(bytes([0x8a, 0]) + be64(3) + be32(2) + bytes(2), WRITE, 1024, b"y" * 1024),
                            cmd(bytes([0x88, 0]) + be64(3) + be32(2) + bytes(2), READ, 1024),
                            cmd(bytes([0xa8, 0]) + be32(3) + be32(1) + bytes(2), READ, 512),
                            cmd(bytes([0xaa, 0]) + be32(3) + be32(1) + bytes(2), WRITE, 512, b"z" * 512),
                            cmd(bytes([0x2e, 0]) + be32(7) + bytes([0]) + be16(1) + bytes([0]), WRITE, 512, b"v" * 512),
                            cmd(bytes([0x2f, 0]) + be32(7) + bytes([0]) + be16(1) + bytes([0]), NONE)),
        "rw-4k": cdb_seq(cmd(wr10(1, 2), WRITE, 8192, b"q" * 8192, lun=1), cmd(rd10(0, 4), READ, 16384, lun=1),
                         cmd(bytes([0x35]) + bytes(9), NONE, lun=1), cmd(bytes([0x91]) + bytes(15), NONE, lun=1)),
        "readonly": cdb_seq(cmd(wr10(0, 1), WRITE, 512, b"r" * 512, lun=2), cmd(rd10(0, 1), READ, 512, lun=3)),
        "mode": cdb_seq(cmd(bytes([0x1a, 0, 0x3f, 0, 255, 0]), READ, 255),
                        cmd(bytes([0x5a, 0, 0x08, 0, 0, 0, 0]) + be16(255) + bytes([0]), READ, 255),
                        cmd(bytes([0x15, 0x10, 0, 0, 24, 0]), WRITE, 24,
                            bytes([23, 0, 0, 0]) + bytes([0x08, 18, 0x04]) + bytes(17)),
                        cmd(bytes([0x55, 0x10, 0, 0, 0, 0, 0]) + be16(20) + bytes([0]), WRITE, 20,
                            bytes(8) + bytes([0x0a, 10, 0x02]) + bytes(9)),
                        cmd(bytes([0x1a, 0, 0x08, 0, 255, 0]), READ, 255)),
        "sense": cdb_seq(cmd(bytes([0x03, 0, 0, 0, 18, 0]), READ, 18),
                         cmd(bytes([0x1b, 0, 0, 0, 1, 0]), NONE), cmd(bytes([0x1e, 0, 0, 0, 1, 0]), NONE),
                         cmd(bytes([0x99, 0]), NONE)),
        "unmap": cdb_seq(cmd(bytes([0x42, 0, 0, 0, 0, 0, 0]) + be16(40) + bytes([0]), WRITE, 40,
                             be16(38) + be16(32) + bytes(4) + be64(0) + be32(8) + bytes(4) + be64(64) + be32(16) + bytes(4)),
                         cmd(bytes([0x9e, 0x12]) + be64(0) + be32(64) + bytes(2), READ, 64)),
        "write-same": cdb_seq(cmd(bytes([0x41, 0]) + be32(10) + bytes([0]) + be16(20) + bytes([0]), WRITE, 512, b"w" * 512),
                              cmd(bytes([0x93, 0x08]) + be64(30) + be32(40) + bytes(2), WRITE, 512, bytes(512)),
                              cmd(bytes([0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0, 0x0d, 0x08, 0]) + be64(50) + bytes(8) + be32(8),
                                  WRITE, 512, b"3" * 512)),
        "ats": cdb_seq(cmd(bytes([0x89, 0]) + be64(5) + bytes(3) + bytes([1, 0, 0]), WRITE, 1024, bytes(512) + b"n" * 512),
                       cmd(bytes([0x89, 0]) + be64(5) + bytes(3) + bytes([1, 0, 0]), WRITE, 1024, b"n" * 512 + b"m" * 512),
                       cmd(bytes([0x89, 0]) + be64(1) + bytes(3) + bytes([1, 0, 0]), WRITE, 8192, bytes(8192), lun=1)),
        "pr": cdb_seq(cmd(pr_out(0, 0, pr_out_params(0, 0x1111)), WRITE, 24, pr_out_params(0, 0x1111)),
                      cmd(pr_out(1, 5, pr_out_params(0x1111)), WRITE, 24, pr_out_params(0x1111)),
                      cmd(pr_out(0, 0, pr_out_params(0, 0x2222)), WRITE, 24, pr_out_params(0, 0x2222), itn=1),
                      cmd(bytes([0x5e, 0]) + bytes(5) + be16(255) + bytes([0]), READ, 255),
                      cmd(bytes([0x5e, 1]) + bytes(5) + be16(255) + bytes([0]), READ, 255),
                      cmd(bytes([0x5e, 2]) + bytes(5) + be16(255) + bytes([0]), READ, 255),
                      cmd(bytes([0x5e, 3]) + bytes(5) + be16(255) + bytes([0]), READ, 255),
                      cmd(pr_out(5, 5, pr_out_params(0x2222, 0x1111)), WRITE, 24, pr_out_params(0x2222, 0x1111), itn=1),
                      cmd(pr_out(3, 0, pr_out_params(0x2222)), WRITE, 24, pr_out_params(0x2222), itn=1)),
        "pr-aptpl-move": cdb_seq(cmd(pr_out(6, 0, pr_out_params(0, 0x33, aptpl=True, all_tg=True)), WRITE, 24,
                                     pr_out_params(0, 0x33, aptpl=True, all_tg=True)),
                                 cmd(pr_out(1, 1, pr_out_params(0x33)), WRITE, 24, pr_out_params(0x33)),
                                 cmd(bytes([0x5f, 7, 1, 0, 0]) + be32(24 + 4 + 48) + bytes([0]), WRITE, 76,
                                     be64(0x33) + be64(0x44) + bytes([0, 0]) + be16(2) + be32(48) +
                                     b"iqn.1994-05.com.example:b,i,0x023d00000002\0\0\0\0\0\0"[:48]),
                                 cmd(pr_out(2, 1, pr_out_params(0x33)), WRITE, 24, pr_out_params(0x33))),
        "pr-spec-i-pt": cdb_seq(cmd(pr_out(0, 0, b""), WRITE, 24 + 4 + 52,
                                    pr_out_params(0, 0x55, spec_i_pt=True) + be32(52) +
                                    bytes([0x45, 0, 0, 48]) + b"iqn.1994-05.com.example:c,i,0x023d00000004".ljust(48, b"\0"))),
        "reserve6": cdb_seq(cmd(bytes([0x16, 0, 0, 0, 0, 0]), NONE), cmd(bytes([0x00]), NONE, itn=1),
                            cmd(bytes([0x17, 0, 0, 0, 0, 0]), NONE)),
        "xcopy": cdb_seq(cmd(wr10(0, 16), WRITE, 8192, b"s" * 8192),
                         cmd(bytes([0x83, 0x00]) + bytes(8) + be32(len(xcopy_list(0, 2, 16, 0, 100))) + bytes(2), WRITE,
                             len(xcopy_list(0, 2, 16, 0, 100)), xcopy_list(0, 2, 16, 0, 100)),
                         cmd(bytes([0x83, 0x00]) + bytes(8) + be32(len(xcopy_list(0, 0, 16, 0, 100))) + bytes(2), WRITE,
                             len(xcopy_list(0, 0, 16, 0, 100)), xcopy_list(0, 0, 16, 0, 100)),
                         cmd(bytes([0x84, 0x00, 1]) + bytes(7) + be32(255) + bytes(2), READ, 255),
                         cmd(bytes([0x84, 0x03, 0]) + bytes(7) + be32(255) + bytes(2), READ, 255)),
        "xcopy-4k": cdb_seq(cmd(bytes([0x83, 0x00]) + bytes(8) + be32(len(xcopy_list(0, 1, 8, 0, 2))) + bytes(2), WRITE,
                                len(xcopy_list(0, 1, 8, 0, 2)), xcopy_list(0, 1, 8, 0, 2))),
        "alua": cdb_seq(cmd(bytes([0xa3, 0x0a, 0, 0, 0, 0]) + be32(255) + bytes(2), READ, 255),
                        cmd(bytes([0xa4, 0x0a, 0, 0, 0, 0]) + be32(12) + bytes(2), WRITE, 12,
                            bytes(4) + bytes([0x02, 0]) + be16(2) + bytes(4)),
                        cmd(bytes([0xa3, 0x0a, 0, 0, 0, 0]) + be32(255) + bytes(2), READ, 255, itn=2),
                        cmd(rd10(0, 1), READ, 512, itn=2),
                        cmd(bytes([0xa3, 0x0c, 0, 0, 0, 0]) + be32(4096) + bytes(2), READ, 4096),
                        cmd(bytes([0xa3, 0x0c, 1, 0x28, 0, 0]) + be32(64) + bytes(2), READ, 64),
                        cmd(bytes([0xa3, 0x0d, 0, 0, 0, 0]) + be32(16) + bytes(2), READ, 16)),
        "fail-eio": cdb_seq(cmd(wr10(0, 1), WRITE, 512, b"e" * 512), cmd(rd10(0, 1), READ, 512),
                            cmd(bytes([0x35]) + bytes(9), NONE), fail=(1 << 2) | 0),
        "fail-enospc": cdb_seq(cmd(wr10(0, 1), WRITE, 512, b"e" * 512), cmd(wr10(9, 1, 1), WRITE, 512, b"f" * 512),
                               fail=(2 << 2) | 1),
    }
    for k, v in seeds.items():
        write(T, k, v)


# ------------------------------------------------------------- PDUs (fuzz_iscsi_pdu.c)
def pad(b):
    return b + bytes(-len(b) % 4)


def bhs(op, flags=0x80, dsl=0, lun=0, itt=0, f20=0, f24=0, f28=0, tail=b"", imm=False, ahs=0):
    h = bytes([op | (0x40 if imm else 0), flags, 0, 0, ahs]) + struct.pack(">I", dsl)[1:] + be64(lun)
    h += be32(itt) + be32(f20) + be32(f24) + be32(f28)
    h += tail + bytes(48 - len(h) - len(tail)) if len(h) + len(tail) <= 48 else b""
    return h[:48]


def text(*pairs):
    return b"".join(p.encode() + b"\0" for p in pairs)


def login_pdu(keys, csg, nsg, transit=True, isid=b"\x80\0\0\0\0\x01", tsih=0, itt=1, cmdsn=0, cont=False):
    flags = (0x80 if transit else 0) | (0x40 if cont else 0) | (csg << 2) | nsg
    data = text(*keys)
    h = bytes([0x43, flags, 0, 0, 0]) + struct.pack(">I", len(data))[1:] + isid + be16(tsih)
    h += be32(itt) + be16(0) + bytes(2) + be32(cmdsn) + be32(0)
    return h + bytes(48 - len(h)) + pad(data)


def scsi_cmd(cdb, itt, cmdsn, edtl, read=False, write=False, data=b"", lun=0, final=True, imm=False):
    flags = (0x80 if final else 0) | (0x40 if read else 0) | (0x20 if write else 0) | 1
    h = bytes([0x01 | (0x40 if imm else 0), flags, 0, 0, 0]) + struct.pack(">I", len(data))[1:] + be64(lun << 48)
    h += be32(itt) + be32(edtl) + be32(cmdsn) + be32(0) + cdb + bytes(16 - len(cdb))
    return h + pad(data)


def data_out(itt, ttt, off, data, datasn=0, final=True, lun=0):
    h = bytes([0x05, 0x80 if final else 0, 0, 0, 0]) + struct.pack(">I", len(data))[1:] + be64(lun << 48)
    h += be32(itt) + be32(ttt) + bytes(4) + be32(0) + bytes(4) + be32(datasn) + be32(off) + bytes(4)
    return h + pad(data)


def nop_out(itt, cmdsn, data=b"", ttt=0xffffffff, imm=True):
    h = bytes([0x00 | (0x40 if imm else 0), 0x80, 0, 0, 0]) + struct.pack(">I", len(data))[1:] + bytes(8)
    h += be32(itt) + be32(ttt) + be32(cmdsn) + be32(0)
    return h + bytes(48 - len(h)) + pad(data)


def tmf(func, itt, cmdsn, rtt=0xffffffff, lun=0, refcmdsn=0):
    h = bytes([0x42, 0x80 | func, 0, 0, 0, 0, 0, 0]) + be64(lun << 48) + be32(itt) + be32(rtt)
    h += be32(cmdsn) + be32(0) + be32(refcmdsn)
    return h + bytes(48 - len(h))


def text_req(keys, itt, cmdsn, ttt=0xffffffff, final=True):
    data = text(*keys)
    h = bytes([0x44, 0x80 if final else 0x40, 0, 0, 0]) + struct.pack(">I", len(data))[1:] + bytes(8)
    h += be32(itt) + be32(ttt) + be32(cmdsn) + be32(0)
    return h + bytes(48 - len(h)) + pad(data)


def logout(itt, cmdsn, reason=0):
    h = bytes([0x46, 0x80 | reason, 0, 0, 0, 0, 0, 0]) + bytes(8) + be32(itt) + be16(0) + bytes(2)
    h += be32(cmdsn) + be32(0)
    return h + bytes(48 - len(h))


LOGIN_OP = ["InitiatorName=iqn.1994-05.com.example:seed", "SessionType=Normal", "TargetName=" + TNAME,
            "HeaderDigest=None", "DataDigest=None", "ImmediateData=Yes", "InitialR2T=No",
            "MaxRecvDataSegmentLength=8192", "FirstBurstLength=65536", "MaxBurstLength=262144",
            "MaxOutstandingR2T=4", "ErrorRecoveryLevel=0", "MaxConnections=1", "DefaultTime2Wait=2",
            "DefaultTime2Retain=0", "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes"]


def gen_pdu():
    T = "iscsi_pdu"
    rd10 = lambda lba, n: bytes([0x28, 0]) + be32(lba) + bytes([0]) + be16(n) + bytes([0])
    wr10 = lambda lba, n: bytes([0x2a, 0]) + be32(lba) + bytes([0]) + be16(n) + bytes([0])
    # mode 0x01 = canned login (no digests), raw stream after it
    ffp = {
        "nop-inq": nop_out(1, 0, b"ping") + scsi_cmd(bytes([0x12, 0, 0, 0, 96, 0]), 2, 0, 96, read=True),
        "read": scsi_cmd(rd10(0, 8), 3, 0, 4096, read=True) + scsi_cmd(rd10(0, 1), 4, 1, 512, read=True, lun=1),
        "write-imm": scsi_cmd(wr10(0, 2), 5, 0, 1024, write=True, data=b"i" * 1024),
        "write-unsol-r2t": scsi_cmd(wr10(0, 64), 6, 0, 32768, write=True, data=b"a" * 4096, final=False)
        + data_out(6, 0xffffffff, 4096, b"b" * 4096, 0, True)
        + data_out(6, 1, 65536 // 2 - 24576, b"c" * 8192, 0, False) + data_out(6, 1, 16384, b"d" * 8192, 1, True),
        "tmf": scsi_cmd(wr10(0, 64), 7, 0, 32768, write=True) + tmf(1, 8, 1, rtt=7) + tmf(5, 9, 1)
        + tmf(2, 10, 1) + tmf(6, 11, 1),
        "text": text_req(["SendTargets=All"], 12, 0) + text_req(["SendTargets=" + TNAME], 13, 0)
        + text_req(["MaxRecvDataSegmentLength=4096", "X-foo=bar"], 14, 0),
        "logout": scsi_cmd(bytes([0]), 15, 0, 0) + logout(16, 1),
        "reject": bhs(0x10, itt=17) + bhs(0x1f, dsl=3, itt=18) + b"abc\0" + nop_out(19, 0, ttt=5, imm=False),
        "ahs": scsi_cmd(rd10(0, 1), 20, 0, 512, read=True)[:4] + b"\x02" + scsi_cmd(rd10(0, 1), 20, 0, 512, read=True)[5:48]
        + be16(5) + bytes([1, 0]) + bytes(4),
        "cmdsn-window": b"".join(scsi_cmd(rd10(i, 1), 100 + i, i * 7, 512, read=True) for i in range(6)),
    }
    for k, v in ffp.items():
        write(T, "ffp-" + k, bytes([0x01]) + v)
    write(T, "ffp-chunked-1", bytes([0x11]) + ffp["nop-inq"])
    write(T, "ffp-chunked-49", bytes([0x51]) + ffp["write-unsol-r2t"])
    # framed with digests: the harness adds pad + CRCs (headers without pad/data)
    write(T, "ffp-hd-dd", bytes([0x0f]) + nop_out(1, 0)[:48] + scsi_cmd(wr10(0, 1), 2, 0, 512, write=True)[:48]
          + b"h" * 512)
    write(T, "discovery", bytes([0x81]) + text_req(["SendTargets=All"], 2, 0) + logout(3, 1))
    # raw logins from scratch (mode 0x00)
    write(T, "login-two-stage", bytes([0x00])
          + login_pdu(["InitiatorName=iqn.1994-05.com.example:seed", "SessionType=Normal", "TargetName=" + TNAME,
                       "AuthMethod=None"], 0, 1)
          + login_pdu(LOGIN_OP[3:], 1, 3, itt=1) + nop_out(2, 0))
    write(T, "login-chap", bytes([0x00])
          + login_pdu(["InitiatorName=iqn.1994-05.com.example:seed", "SessionType=Normal",
                       "TargetName=iqn.2026-11.org.tandem:chap", "AuthMethod=CHAP,None"], 0, 0, transit=False)
          + login_pdu(["CHAP_A=5,7"], 0, 0, transit=False)
          + login_pdu(["CHAP_N=fuzzuser", "CHAP_R=0x" + "00" * 16, "CHAP_I=7", "CHAP_C=0x" + "ab" * 16], 0, 1))
    write(T, "login-discovery", bytes([0x00])
          + login_pdu(["InitiatorName=iqn.1994-05.com.example:seed", "SessionType=Discovery", "AuthMethod=None"], 0, 3)
          + text_req(["SendTargets=All"], 2, 0))
    write(T, "login-continue", bytes([0x00])
          + login_pdu(["InitiatorName=iqn.1994-05.com.example:seed", "SessionType=Normal"], 1, 3, transit=False, cont=True)
          + login_pdu(["TargetName=" + TNAME], 1, 3))
    write(T, "login-bad", bytes([0x00]) + login_pdu(["InitiatorName=x", "Foo"], 1, 3) + bhs(0x01))
    write(T, "login-tsih", bytes([0x00]) + login_pdu(LOGIN_OP[:3], 1, 3, tsih=1, itt=9))


# ------------------------------------------------------------- text keys (fuzz_iscsi_text.c)
def tseg(*pairs):
    b = text(*pairs)
    return be16(len(b)) + b


def gen_text():
    T = "iscsi_text"
    sec = ["InitiatorName=iqn.1994-05.com.example:seed", "SessionType=Normal", "TargetName=" + TNAME,
           "AuthMethod=CHAP,None"]
    seeds = {
        "open-iscsi": bytes([0x0b]) + tseg(*sec, "CHAP_A=5", "CHAP_N=fuzzuser", "CHAP_R=0x" + "11" * 16)
        + tseg(*LOGIN_OP[3:], "IFMarker=No", "OFMarker=No") + tseg("SendTargets=All"),
        "mutual": bytes([0x2f]) + tseg(*sec, "CHAP_A=7,5", "CHAP_N=fuzzuser", "CHAP_R=0b" + "QUJD" * 8,
                                       "CHAP_I=1", "CHAP_C=0x" + "22" * 32) + tseg() + tseg(),
        "esxi": bytes([0x01]) + tseg("InitiatorName=iqn.1998-01.com.vmware:esx-1", "SessionType=Normal",
                                     "TargetName=" + TNAME, "AuthMethod=None", "InitiatorAlias=esx-1")
        + tseg("HeaderDigest=None,CRC32C", "DataDigest=None,CRC32C", "ErrorRecoveryLevel=0", "InitialR2T=Yes",
               "ImmediateData=Yes", "MaxBurstLength=0x40000", "FirstBurstLength=262144", "MaxConnections=1",
               "MaxOutstandingR2T=1", "MaxRecvDataSegmentLength=131072", "DefaultTime2Wait=0",
               "DefaultTime2Retain=0", "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes") + tseg(),
        "discovery": bytes([0x11]) + tseg("InitiatorName=iqn.x:y", "SessionType=Discovery", "AuthMethod=None")
        + tseg("MaxRecvDataSegmentLength=1024", "HeaderDigest=None") + tseg("SendTargets=All"),
        "odd": bytes([0x41]) + tseg("InitiatorName=iqn.x:y", "X-com.example.foo=bar", "TargetAlias=x", "=v", "k=")
        + tseg("MaxBurstLength=4294967295", "FirstBurstLength=0", "MaxConnections=65536", "Reject", "NotUnderstood=x",
               "HeaderDigest=CRC32C,CRC32C,None,Foo") + tseg("TaskReporting=RFC3720"),
    }
    for k, v in seeds.items():
        write(T, k, v)


# ------------------------------------------------------------- config and JSON
def gen_config():
    T = "config"
    src = os.path.join(ROOT, "..", "..", "conf", "tandem.conf.example")
    if os.path.exists(src):
        with open(src, "rb") as f:
            write(T, "example", f.read())
    write(T, "minimal", b"target iqn.2026-11.org.tandem:t {\n  lun 0 {\n    backend: null\n    size: 1M\n  }\n}\n")
    write(T, "alua", b"alua_group a {\n  id: 1\n  state: active-optimized\n}\n"
          b"alua_group b {\n  id: 2\n  state: standby\n  peer_port: 5\n}\n"
          b"portal_group pg1 {\n  tag: 1\n  listen: 127.0.0.1:3320\n  alua_group: a\n}\n"
          b"portal_group pg2 { tag: 2\n listen: [::1]:3321\n alua_group: b }\n"
          b"target iqn.2026-11.org.tandem:t {\n  portal_group: pg1\n  allow: iqn.*\n  deny: iqn.bad*\n"
          b"  chap {\n    user: u\n    secret: \"twelve chars!\"\n  }\n"
          b"  lun 3 { backend: fileio\n path: /tmp/x.img\n size: 1G\n create: yes\n cache: write-back\n"
          b"  serial: abc\n  naa: 0x6001405abcdef0123456789abcdef012\n vendor: V\n product: P\n revision: 1\n"
          b"  rotation_rate: 1\n block_size: 4096 }\n}\n")
    write(T, "global", b"global {\n log_level: debug\n threads: 3\n nop_interval: 0\n login_timeout: 5\n"
          b" max_sessions: 2\n max_connections_per_session: 1\n max_cmds_per_session: 8\n"
          b" max_recv_data_segment: 64K\n max_burst: 128K\n first_burst: 64K\n sndbuf: 0\n"
          b" ctl_socket: \"x y\\n\"\n state_dir: /tmp\n}\ndiscovery_chap {\n user: d\n secret: abcdefghijklm\n}\n")


def gen_json():
    T = "ctl_json"
    write(T, "status", b'{"version":"0.1","pid":12,"uptime_s":3.5,"targets":[{"name":"iqn.x:y","luns":'
          b'[{"lun":0,"backend":"null","size":1048576,"wce":true,"serial":"s\\u00e9\\n"}]}],'
          b'"portals":[{"addr":"127.0.0.1","port":3260,"tag":1}],"sessions":[],"counters":{"reads":-1,'
          b'"big":1e300,"neg":-0.5e-3,"n":null,"f":false}}')
    write(T, "nested", b'[[[[{"a":[1,2,{"b":"\\ud83d\\ude00"}]}]]]]')
    write(T, "error", b'{"error":"no such target","code":3}')


def gen_repl():
    T = "repl_proto"
    def hdr(typ, ln, vol=0xffffffff, seq=1):
        return be32(0x544e4452) + be16(typ) + be16(0) + be32(ln) + be32(vol) + be64(seq)
    hello = be16(1) + be16(1) + be32(0) + os.urandom(32) + b"node-a".ljust(64, b"\0")
    write(T, "hello", bytes([0x03]) + hdr(1, len(hello)) + hello)
    write(T, "running", bytes([0x02]) + hdr(20, 64, vol=0, seq=1) + bytes(64) + hdr(21, 16, vol=0, seq=2) + bytes(16))


if __name__ == "__main__":
    gen_repl()
    gen_cdb()
    gen_pdu()
    gen_text()
    gen_config()
    gen_json()
    print("seeds written under", OUT)

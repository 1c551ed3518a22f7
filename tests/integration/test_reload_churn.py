#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Helper of test_reload_churn.sh: the configuration variants it cycles
through, and what `tandemctl --json status` must show for each.

  test_reload_churn.py conf  OUT FLAGS...    write the config of a variant
                                             (prints the broken line if any)
  test_reload_churn.py check STATUS FLAGS... [--tsih N] [--listed "NAMES"]
                                             status JSON matches the variant
                                             (and iocheck's session is TSIH N,
                                             SendTargets gave churn-probe NAMES);
                                             prints what does not, exit 1
  test_reload_churn.py hold PORT IQN INITIATOR [obey]
                                             a raw session (test_bad_input's
                                             Conn) that waits for the target's
                                             request to log out (Async Message,
                                             event 1): with "obey" it logs out,
                                             without it it ignores the request
                                             until the target drops it
  test_reload_churn.py serve                 the same commands, one per line on
                                             stdin (shell words), each answered
                                             by one line: "ok [LINE]" or
                                             "bad: what; what" (python starts
                                             in ~0.15 s here: once, not twice
                                             per round)

A variant is the base config plus flags (none = the base):
  lunA2    target A gets LUN 2 (fileio, write-back)
  rmB1     target B loses LUN 1
  tgtC     a third target C (null LUN 0, blockio LUN 1) on pg1
  aclA     target A's ACL: only iocheck's name and another, churn-probe denied
  aclB     target B admits only another initiator
  nochapB  target B without CHAP
  chapB2   target B's CHAP secret changed
  cacheA0  target A LUN 0 (the LUN iocheck writes) write-back -> write-through
  cacheX   target A LUN 1 write-through -> write-back, B LUN 0 the other way
  pg3      portal group pg3 (tag 3, port P3) added, target A on it too
  pg2b     portal group pg2 gets a second listen address (port P4)
  rmpg2    portal group pg2 removed (target B moves to pg1)
  aliasA   target A gets an alias
  debug / notice   log_level debug / notice instead of info
  broken   a value the parser refuses, on the line printed to stdout

Paths, ports and names come from the environment (CH_TMP, CH_P1..CH_P4,
CH_CTL, CH_IQN) so that the bash side and this one agree.
"""
import json
import os
import sys

FLAGS = {"lunA2", "rmB1", "tgtC", "aclA", "aclB", "nochapB", "chapB2", "cacheA0", "cacheX",
         "pg3", "pg2b", "rmpg2", "aliasA", "debug", "notice", "broken"}

LIBISCSI = "iqn.2007-10.com.github:sahlberg:libiscsi"
IOCHECK_NAME = LIBISCSI + ":iocheck"
PROBE_NAME = LIBISCSI + ":churn-probe"       # iscsi-inq -i ... in the test
SECRET1 = "churnsecret0001"
SECRET2 = "churnsecret0002"


def env():
    e = os.environ
    iqn = e["CH_IQN"]
    return {
        "tmp": e["CH_TMP"], "ctl": e["CH_CTL"],
        "p": {i: int(e["CH_P%d" % i]) for i in (1, 2, 3, 4)},
        "A": iqn + "-a", "B": iqn + "-b", "C": iqn + "-c",
    }


def lun(n, backend, path, size, cache, serial, naa):
    s = "    lun %d {\n        backend: %s\n" % (n, backend)
    if backend != "null":
        s += "        path: %s\n        create: yes\n" % path
    s += "        size: %s\n        cache: %s\n        serial: %s\n        naa: %s\n    }\n" % (
        size, cache, serial, naa)
    return s


def expected(f):
    """{target letter: {"luns": {n: cache}, "chap": bool}}, portals {(tag, port)}, log level."""
    e = env()
    p = e["p"]
    t = {
        "A": {"luns": {0: "write-through" if "cacheA0" in f else "write-back",
                       1: "write-back" if "cacheX" in f else "write-through"}, "chap": False},
        "B": {"luns": {0: "write-through" if "cacheX" in f else "write-back"},
              "chap": "nochapB" not in f},
    }
    if "lunA2" in f:
        t["A"]["luns"][2] = "write-back"
    if "rmB1" not in f:
        t["B"]["luns"][1] = "write-through"
    if "tgtC" in f:
        t["C"] = {"luns": {0: "write-through", 1: "write-through"}, "chap": False}
    portals = {(1, p[1])}
    if "rmpg2" not in f:
        portals.add((2, p[2]))
        if "pg2b" in f:
            portals.add((2, p[4]))
    if "pg3" in f:
        portals.add((3, p[3]))
    level = 7 if "debug" in f else 5 if "notice" in f else 6
    return t, portals, level


def conf(out, f):
    e = env()
    p, tmp = e["p"], e["tmp"]
    t, _, _ = expected(f)
    L = []
    L.append("# test_reload_churn variant: %s\n" % (" ".join(sorted(f)) or "base"))
    L.append("global {\n    log_level: %s\n    threads: 2\n    ctl_socket: %s\n    state_dir: %s/state\n}\n"
             % ("debug" if "debug" in f else "notice" if "notice" in f else "info", e["ctl"], tmp))
    L.append("portal_group pg1 {\n    tag: 1\n    listen: 127.0.0.1:%d\n}\n" % p[1])
    if "rmpg2" not in f:
        L.append("portal_group pg2 {\n    tag: 2\n    listen: 127.0.0.1:%d\n" % p[2])
        if "pg2b" in f:
            L.append("    listen: 127.0.0.1:%d\n" % p[4])
        L.append("}\n")
    if "pg3" in f:
        L.append("portal_group pg3 {\n    tag: 3\n    listen: 127.0.0.1:%d\n}\n" % p[3])

    # target A: the LUN iocheck writes (LUN 0) is in every variant
    L.append("target %s {\n" % e["A"])
    if "aliasA" in f:
        L.append("    alias: churn-a-renamed\n")
    L.append("    portal_group: pg1\n")
    if "rmpg2" not in f:
        L.append("    portal_group: pg2\n")
    if "pg3" in f:
        L.append("    portal_group: pg3\n")
    if "aclA" in f:
        L.append("    allow: %s\n    allow: iqn.2026-11.org.tandem.test:other*\n    deny: %s\n"
                 % (IOCHECK_NAME, PROBE_NAME))
    else:
        L.append("    allow: %s:*\n" % LIBISCSI)
    a = t["A"]["luns"]
    L.append(lun(0, "blockio", tmp + "/a0.img", "64M", a[0], "churn-a0", "6001405000000000000000000000ca00"))
    L.append(lun(1, "fileio", tmp + "/a1.img", "16M", a[1], "churn-a1", "6001405000000000000000000000ca01"))
    if 2 in a:
        L.append(lun(2, "fileio", tmp + "/a2.img", "16M", a[2], "churn-a2", "6001405000000000000000000000ca02"))
    L.append("}\n")

    # target B: CHAP, on pg2 (pg1 when pg2 is gone)
    L.append("target %s {\n" % e["B"])
    L.append("    portal_group: %s\n" % ("pg1" if "rmpg2" in f else "pg2"))
    if "aclB" in f:
        L.append("    allow: iqn.2026-11.org.tandem.test:someone-else\n")
    if t["B"]["chap"]:
        L.append("    chap {\n        user: churn\n        secret: \"%s\"\n    }\n"
                 % (SECRET2 if "chapB2" in f else SECRET1))
    b = t["B"]["luns"]
    L.append(lun(0, "fileio", tmp + "/b0.img", "16M", b[0], "churn-b0", "6001405000000000000000000000cb00"))
    if 1 in b:
        L.append(lun(1, "blockio", tmp + "/b1.img", "16M", b[1], "churn-b1", "6001405000000000000000000000cb01"))
    L.append("}\n")

    if "C" in t:
        L.append("target %s {\n    portal_group: pg1\n" % e["C"])
        L.append(lun(0, "null", "", "16M", "write-through", "churn-c0", "6001405000000000000000000000cc00"))
        L.append(lun(1, "blockio", tmp + "/c1.img", "16M", "write-through", "churn-c1",
                     "6001405000000000000000000000cc01"))
        L.append("}\n")

    text = "".join(L)
    bad_line = 0
    if "broken" in f:
        lines = text.split("\n")
        for i, l in enumerate(lines):
            if l.strip().startswith("size: 16M"):
                lines[i] = l.replace("16M", "sixteen-megs")
                bad_line = i + 1
                break
        text = "\n".join(lines)
    tmp_out = out + ".new"
    with open(tmp_out, "w") as fh:
        fh.write(text)
    os.rename(tmp_out, out)      # a SIGHUP never reads a half-written file
    if bad_line:
        print(bad_line)


def sendtargets(f):
    """Target names SendTargets gives churn-probe (aclA denies it target A)."""
    e = env()
    want, _, _ = expected(f)
    return " ".join(sorted(e[k] for k in want if not (k == "B" and "aclB" in f) and not (k == "A" and "aclA" in f)))


def check(path, f, tsih, listed):
    e = env()
    want, portals, level = expected(f)
    with open(path) as fh:
        st = json.load(fh)
    errs = []
    got = {x["name"]: x for x in st["targets"]}
    names = {e[k]: k for k in want}
    if set(got) != set(names):
        errs.append("targets %s, want %s" % (sorted(got), sorted(names)))
    for name, k in names.items():
        if name not in got:
            continue
        g = got[name]
        luns = {l["lun"]: l["cache"] for l in g["luns"]}
        if luns != want[k]["luns"]:
            errs.append("%s LUNs %s, want %s" % (k, luns, want[k]["luns"]))
        if bool(g["chap"]) != want[k]["chap"]:
            errs.append("%s chap %s, want %s" % (k, g["chap"], want[k]["chap"]))
        alias = "churn-a-renamed" if k == "A" and "aliasA" in f else ""
        if g["alias"] != alias:
            errs.append("%s alias '%s', want '%s'" % (k, g["alias"], alias))
        for l in g["luns"]:
            if l["errors"]:
                errs.append("%s LUN %d: %d errors" % (k, l["lun"], l["errors"]))
    gp = {(x["tag"], x["port"]) for x in st["portals"]}
    if gp != portals:
        errs.append("portals %s, want %s" % (sorted(gp), sorted(portals)))
    if st["daemon"].get("log_level") != level:
        errs.append("log_level %s, want %s" % (st["daemon"].get("log_level"), level))
    if tsih is not None:
        ios = [s for s in st["sessions"] if s["initiator"] == IOCHECK_NAME]
        if [s["tsih"] for s in ios] != [tsih]:
            errs.append("iocheck sessions %s, want one with TSIH %d" % ([s["tsih"] for s in ios], tsih))
        elif len(ios[0]["connections"]) != 1:
            errs.append("iocheck session has %d connections" % len(ios[0]["connections"]))
    if listed is not None and " ".join(sorted(listed.split())) != sendtargets(f):
        errs.append("SendTargets lists '%s', want '%s'" % (" ".join(sorted(listed.split())), sendtargets(f)))
    for x in errs:
        print(x)
    return 1 if errs else 0


def run(cmd, args):
    opts = {}
    for o in ("--tsih", "--listed"):
        if o in args:
            i = args.index(o)
            opts[o] = args[i + 1]
            del args[i:i + 2]
    tsih = int(opts["--tsih"]) if "--tsih" in opts else None
    if cmd == "conf":
        out, f = args[0], set(args[1:])
    else:
        f = set(args[1:])
    bad = f - FLAGS
    if bad:
        sys.exit("unknown flags %s" % sorted(bad))
    if cmd == "conf":
        conf(out, f)
        return 0
    if cmd == "check":
        return check(args[0], f, tsih, opts.get("--listed"))
    sys.exit("unknown command " + cmd)


def hold(port, iqn, initiator, obey):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import test_bad_input as tbi
    tbi.INITIATOR = initiator
    c = tbi.Conn(port)
    err = c.login(iqn)
    if err:
        print("login failed: %s" % err, flush=True)
        return 1
    print("ready", flush=True)
    c.s.settimeout(None)
    asked = False
    while True:
        try:
            op, bhs, _ = c.recv_skip_nop()
        except tbi.Closed:
            print("target closed the session" + ("" if asked else " without asking it to log out"), flush=True)
            return 0 if asked else 1
        if op != 0x32:                  # Async Message
            continue
        c.expstatsn = (int.from_bytes(bhs[24:28], "big") + 1) & 0xffffffff
        if bhs[36] != 1:                # AsyncEvent 1: the target asks for a logout
            continue
        asked = True
        print("asked to log out", flush=True)
        if obey:
            ok = tbi.logout_session(c)
            print("logged out as asked" if ok else "logout refused", flush=True)
            c.close()
            return 0 if ok else 1


def serve():
    import contextlib
    import io
    import shlex
    for line in sys.stdin:
        words = shlex.split(line)
        if not words:
            continue
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                rc = run(words[0], words[1:])
        except (SystemExit, Exception) as e:      # an answer, whatever happened
            rc = 1
            out.write("%s: %s\n" % (type(e).__name__, e))
        text = "; ".join(x for x in out.getvalue().split("\n") if x)
        print(("ok" if rc == 0 else "bad:") + (" " + text if text else ""), flush=True)
    return 0


def main():
    if sys.argv[1] == "serve":
        return serve()
    if sys.argv[1] == "hold":
        return hold(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:] == ["obey"])
    return run(sys.argv[1], sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())

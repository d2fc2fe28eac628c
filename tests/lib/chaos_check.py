#!/usr/bin/python3
"""chaos_check.py - the checks of a round of tests/lib/chaos.sh.

Usage: chaos_check.py --round rR --name NAME --dir D --evidence DIR
D holds what the round's writers were told and the three reads of the log:
  lib.ack    TIME<TAB>GLSN<TAB>ENTRY   (vl_chaoswr, libvarlog)
  ctl-S.ack  TIME<TAB>GLSN             (varlogctl append -v, segment S:
                                        line i acknowledges rR-ctl-S-i)
  fs.ack     TIME<TAB>ENTRY            (close() through the mount returned 0)
  fs.fail    ENTRY                     (close() failed)
  sub.json   a JSON object a line       (varlogctl subscribe --json)
  lib.out    GLSN<TAB>ENTRY            (vl_chaoswr read, \n escaped)
  fs.all     the bytes                 (cat of the mount)
An entry written through the mount holds its line's newline (record=line);
the others do not.
Checks: the log is dense from GLSN 1; the three reads are identical; every
acknowledged entry of the round is in the log exactly once, at the GLSN it
was acknowledged with (where the writer was told one) and with its bytes;
no entry of the log (any round) is there twice; each writer's acknowledged
entries are in the log in the order it wrote them. Prints one table row
(scenario, acknowledged, present, duplicated, lost, unacknowledged-present,
longest pause, per writer) and, when an invariant broke, what broke (the
entries, their GLSNs), with the full lists in the evidence directory.
Exit 0 when every invariant held, 1 otherwise.
"""
import argparse
import glob
import json
import os
import re
import sys


def read_json(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            o = json.loads(line)
            out.append((int(o["glsn"]), o["data"]))
    return out


def unescape(s):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


def read_pairs(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            g, _, e = line.rstrip("\n").partition("\t")
            out.append((int(g), unescape(e)))
    return out


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [l.rstrip("\n") for l in f]


def acks(d, rnd):
    """[(writer, entry, glsn or None, time)] in each writer's order."""
    out = []
    for l in lines(os.path.join(d, "lib.ack")):
        p = l.split("\t")
        if len(p) == 3:
            out.append(("lib", p[2], int(p[1]), float(p[0])))
    segs = []
    for path in glob.glob(os.path.join(d, "ctl-*.ack")):
        segs.append((int(re.search(r"ctl-(\d+)\.ack$", path).group(1)), path))
    for s, path in sorted(segs):
        i = 0
        for l in lines(path):
            p = l.split("\t")
            if len(p) != 2 or not re.fullmatch(r"\d+", p[1]):
                continue
            i += 1
            out.append(("ctl", "%s-ctl-%d-%d" % (rnd, s, i), int(p[1]), float(p[0])))
    for l in lines(os.path.join(d, "fs.ack")):
        p = l.split("\t")
        if len(p) == 2:
            out.append(("fs", p[1] + "\n", None, float(p[0])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--round", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--evidence", required=True)
    a = ap.parse_args()
    d, rnd = a.dir, a.round
    broke = []
    evidence = {}

    log = read_json(os.path.join(d, "sub.json"))
    for i, (g, _) in enumerate(log):
        if g != i + 1:
            broke.append("the log is not dense: GLSN %d at line %d" % (g, i + 1))
            break
    libread = read_pairs(os.path.join(d, "lib.out"))
    if libread != log:
        n = next((i for i, (x, y) in enumerate(zip(libread, log)) if x != y), min(len(libread), len(log)))
        broke.append("libvarlog read %d entries, varlogctl subscribe %d; first difference at line %d"
                     % (len(libread), len(log), n + 1))
    with open(os.path.join(d, "fs.all"), encoding="utf-8", errors="replace") as f:
        fsread = f.read()
    want = "".join(e for _, e in log)
    if fsread != want:
        n = next((i for i, (x, y) in enumerate(zip(fsread, want)) if x != y), min(len(fsread), len(want)))
        broke.append("the mount read %d bytes, varlogctl subscribe %d; first difference at byte %d (%r vs %r)"
                     % (len(fsread), len(want), n, fsread[n:n + 40], want[n:n + 40]))

    where = {}
    for g, e in log:
        where.setdefault(e, []).append(g)
    dups = {e: gs for e, gs in where.items() if len(gs) > 1}
    rdups = {e: gs for e, gs in dups.items() if e.startswith(rnd + "-")}
    if dups:
        broke.append("%d entries in the log twice (%d of this round): %s" % (
            len(dups), len(rdups), "; ".join("%r at GLSNs %s" % (e, ",".join(map(str, gs)))
                                             for e, gs in sorted(dups.items())[:5])))
        evidence["duplicated"] = ["%r\t%s" % (e, ",".join(map(str, gs))) for e, gs in sorted(dups.items())]

    acked = acks(d, rnd)
    bylog = dict((g, e) for g, e in log)
    present, lost = 0, []
    for w, e, g, _ in acked:
        if g is not None:
            ok = bylog.get(g) == e
        else:
            ok = e in where
        if ok:
            present += 1
        else:
            lost.append("%s %r acknowledged at GLSN %s; in the log at %s (GLSN %s holds %r)" % (
                w, e, g, ",".join(map(str, where.get(e, []))) or "none", g, bylog.get(g)))
    if lost:
        broke.append("%d acknowledged entries lost: %s" % (len(lost), "; ".join(lost[:3])))
        evidence["lost"] = lost

    order = []
    for w in ("lib", "ctl", "fs"):
        prev, pe = 0, None
        for ww, e, _, _ in acked:
            if ww != w or e not in where:
                continue
            g = where[e][0]
            if g <= prev:
                order.append("%s: %r at GLSN %d after %r at GLSN %d" % (w, e, g, pe, prev))
                break
            prev, pe = g, e
    if order:
        broke.append("writer order broken: " + "; ".join(order))

    ackset = set(e for _, e, _, _ in acked)
    unacked = [e for g, e in log if e.startswith(rnd + "-") and e not in ackset]
    failed = set(l + "\n" for l in lines(os.path.join(d, "fs.fail")))
    failpres = [e for e in unacked if e in failed]
    if unacked:
        evidence["unacknowledged-present"] = [repr(e) for e in unacked]

    pauses = {}
    for w in ("lib", "ctl", "fs"):
        ts = sorted(t for ww, _, _, t in acked if ww == w)
        pauses[w] = max((b - a for a, b in zip(ts, ts[1:])), default=0.0)
    per = "/".join("%.1f" % pauses[w] for w in ("lib", "ctl", "fs"))
    print("%-26s %8d %8d %5d %5d %8d %8.2f  %s%s" % (
        a.name[:26], len(acked), present, len(rdups), len(lost), len(unacked), max(pauses.values()), per,
        "  (%d failed closes, %d of them in the log)" % (len(failed), len(failpres)) if failed else ""))
    sys.stdout.flush()
    if broke:
        os.makedirs(a.evidence, exist_ok=True)
        for k, v in evidence.items():
            with open(os.path.join(a.evidence, k + ".txt"), "w") as f:
                f.write("\n".join(v) + "\n")
        for b in broke:
            print("    BROKEN (%s): %s" % (a.name, b))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

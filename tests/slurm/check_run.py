#!/usr/bin/env python3
"""Check a tuning run's records against the commit gate (engine/RUNS.md), whatever backend
evaluated it: attempts numbered 1..N; best_before is the running best; "committed" only
when fitness >= best_before (the gate confirms only what could win), "slower" only below
it, "confirm" and "unconfirmed" are the gate's; each commit is a lineage
version whose parent is the best before it. Usage: check_run.py RUN_DIR EXPECTED_ATTEMPTS"""
import json
import sys


def main():
    run, want = sys.argv[1], int(sys.argv[2])
    att = [json.loads(l) for l in open(run + "/attempts.jsonl") if l.strip()]
    lin = [json.loads(l) for l in open(run + "/lineage.jsonl") if l.strip()]
    errs = []
    if len(att) != want:
        errs.append("%d attempts, expected %d" % (len(att), want))
    best, commits = 0.0, []
    for i, a in enumerate(att):
        if a["n"] != i + 1:
            errs.append("attempt %d numbered %s" % (i + 1, a["n"]))
        if abs(a["best_before"] - best) > 1e-12 * max(1.0, best):
            errs.append("attempt %d: best_before %r, running best %r" % (a["n"], a["best_before"], best))
        st, f = a["status"], a["fitness"]
        if st == "committed":
            if f < best:
                errs.append("attempt %d committed %r below the best %r" % (a["n"], f, best))
            best = f
            commits.append(a)
        elif st == "slower" and f > best:  # gate.h: only what beats the best is confirmed
            errs.append("attempt %d called slower at %r >= best %r" % (a["n"], f, best))
        elif st == "error":
            errs.append("attempt %d lost: %s" % (a["n"], a.get("feedback")))
    if len(commits) != len(lin):
        errs.append("%d committed attempts, %d versions" % (len(commits), len(lin)))
    for k, (v, a) in enumerate(zip(lin, commits)):
        if v["id"] != k or v["variant"] != a["variant"] or v["attempt"] != a["n"]:
            errs.append("version %d does not match attempt %d" % (k, a["n"]))
        if k and v["parent"] != k - 1:
            errs.append("version %d has parent %s, expected %d" % (k, v["parent"], k - 1))
    for e in errs:
        print("check_run: " + e)
    print("check_run: %s: %d attempts, %d versions, best %.6g%s"
          % (run, len(att), len(lin), best, "" if not errs else ", %d problem(s)" % len(errs)))
    return 1 if errs else 0


sys.exit(main())

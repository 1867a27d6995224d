#!/usr/bin/env python3
"""A scripted agent for the `command` operator (bench/arch/attempt_time.sh, OP=command).

It reads avo's request on stdin and proposes the next point of the knob space, in a fixed
order kept in the counter file argv[1], so that every avo under test sees the same
candidates in the same order."""
import itertools, json, sys

req = json.load(sys.stdin)
knobs = req.get("knobs", {})
names = sorted(knobs)
points = list(itertools.product(*[knobs[n]["values"] for n in names]))
try:
    i = int(open(sys.argv[1]).read())
except (OSError, ValueError):
    i = 0
open(sys.argv[1], "w").write(str(i + 1))
p = points[(i + 1) % len(points)]  # point 0 is most often the original's values
print(json.dumps({"knobs": dict(zip(names, p)), "note": f"point {(i + 1) % len(points)}"}))

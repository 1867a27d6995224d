#!/usr/bin/env python3
"""A hostile `command` operator: proposes one attack (HOSTILE_CASE, a JSON file) as a region
edit of the CPU example kernel. The attack's text goes before (prefix) and after (suffix)
the region's current text, so the rest of the kernel still works."""
import json, os, sys

req = json.load(sys.stdin)
case = json.load(open(os.environ["HOSTILE_CASE"]))
name = case["region"]
text = req["regions"][name]
if "replace" in case:
    old, new = case["replace"]
    assert old in text, (old, text)
    text = text.replace(old, new)
text = case.get("prefix", "") + text + case.get("suffix", "")
print(json.dumps({"regions": {name: text}, "note": "hostile: " + case["name"]}))

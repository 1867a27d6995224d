import json, os, sys
req = json.load(sys.stdin)
state = sys.argv[1]
n = int(open(state).read()) if os.path.exists(state) else 0
open(state, "w").write(str(n + 1))
name = "rescale_pack" if "rescale_pack" in req["regions"] else sorted(req["regions"])[0]
text = req["regions"][name]
if not text.endswith("\n"):
    text += "\n"
print(json.dumps({"regions": {name: text + "// a/a proposal %d: the same code\n" % n}, "note": "A/A"}))

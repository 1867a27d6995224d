#!/usr/bin/env python3
"""An external agent for the command operator tests: reads avo's request on stdin and
answers according to its mode (argv[1])."""
import json
import os
import sys
import time

mode = sys.argv[1]
req = json.load(sys.stdin)
if mode == "good":
    # leave something in the scratch directory; avo removes it
    with open("scratch.txt", "w") as f:
        f.write("work\n")
    secrets = [k for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MY_SERVICE_TOKEN") if k in os.environ]
    info = {
        "cwd": os.getcwd(),
        "secrets": secrets,
        "regions": sorted(req["regions"]),
        "body": req["regions"]["body"],
        "block": req["knobs"]["BLOCK"],
        "unroll": req["knobs"]["UNROLL"],
        "hint": req["hint"],
        "feedback": req["feedback"],
        "lineage": [v["id"] for v in req["lineage"]],
        "base": req["base"],
        "knowledge_dir": req["knowledge_dir"],
        "protocol": req["protocol"],
        "source": req["source"],
    }
    print("thinking about tiles...")  # chatter before the answer is allowed
    print(json.dumps({"regions": {"body": "  acc += GOOD;"}, "knobs": {"BLOCK": "128", "UNROLL": 4},
                      "note": json.dumps(info)}))
elif mode == "garbage":
    print("I would rather not answer in JSON.")
elif mode == "crash":
    sys.stderr.write("agent crashed: CUDA_OOPS\n")
    sys.exit(3)
elif mode == "sleep":
    time.sleep(30)
elif mode == "badregion":
    print(json.dumps({"regions": {"harness_main": "evil();\n"}}))
elif mode == "badknob":
    print(json.dumps({"knobs": {"BLOCK": "100"}}))
elif mode == "syntax":
    print(json.dumps({"regions": {"body": "  SYNTAX\n"}, "note": "oops"}))
elif mode == "nothing":
    print(json.dumps({"note": "no ideas"}))

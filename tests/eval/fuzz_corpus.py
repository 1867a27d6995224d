"""Writes the seed corpus of the channel fuzzer (fuzz_channel.c) into DIR: a complete
candidate session, one whose checked output breaks its CALL digest, a reference's. The
candidate's stream follows the plan fuzz_channel.c sets (checked timed calls 3 and 7, the
rng at 42, no hold span): its warm calls are the ones proto_avoh.c's hold gives.
Usage: fuzz_corpus.py DIR"""
import os, struct, sys

M = (1 << 64) - 1
REPS, WARMUP, CHECKED, COUNT = 20, 3, (3, 7), 8


def splitmix(state):
    state = (state + 0x9e3779b97f4a7c15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return state, z ^ (z >> 31)


def digest(b):
    s = 0
    for i in range(0, len(b), 8):
        w = int.from_bytes(b[i:i + 8].ljust(8, b"\0"), "little")
        x = w ^ (((i // 8) * 0x9e3779b97f4a7c15 + 0x632be59bd9b4e019) & M)
        x ^= x >> 30
        x = (x * 0xbf58476d1ce4e5b9) & M
        x ^= x >> 27
        x = (x * 0x94d049bb133111eb) & M
        s = (s + (x ^ (x >> 31))) & M
    return s


def rec(t, a=0, b=0, x=0.0, n=0, payload=b""):
    return struct.pack("<IIIIdQ", 0x484F5641, t, a, b, x, n) + payload


def stream(first, msgs):
    return bytes([first]) + b"".join(struct.pack("<H", len(m)) + m for m in msgs)


OUT = struct.pack("<8f", *[0.5] * COUNT)
HELLO = rec(1, 1, 2, 1e6, COUNT)


def candidate(dg):
    msgs = [HELLO, rec(2, 0, 0), rec(5, 0, 0, 0, len(OUT), OUT)]
    rng, _ = splitmix(42)        # the checked call's READY draws one
    rng, extra = splitmix(rng)   # the hold after it draws its extra calls
    warm, kept = WARMUP + extra % 3, []
    for i in range(warm + REPS):
        msgs += [rec(2, 1, i), rec(3, i), rec(4, i, 0, 0.5, dg)]
        if i - warm in CHECKED:
            kept.append(rec(5, i + 1, 0, 0, len(OUT), OUT))
    return stream(0, msgs + kept + [rec(6)])


def reference():
    msgs = [HELLO]
    for k in range(1 + len(CHECKED)):
        msgs += [rec(2, 0, k), rec(3, k), rec(5, k, 0, 0, len(OUT), OUT)]
    return stream(1, msgs + [rec(6)])


d = sys.argv[1]
for name, data in (("candidate_ok.bin", candidate(digest(OUT))), ("candidate_bad_digest.bin", candidate(12345)),
                   ("reference_ok.bin", reference())):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

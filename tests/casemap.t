#!/usr/bin/env python3
"""case_upper() against Python's str.upper(), through unit-casemap --filter.

Every code point, one per line and all as one string; the corpus files in
tests/data/; and random bytes, for which the oracle is str.upper() with
undecodable bytes carried through by surrogateescape (exactly what
case_upper() promises to do with them).
"""

import os
import random
import re
import subprocess
import sys
import unicodedata

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.environ.get("SOCKLAB_BIN", os.path.join(TOP, "bin"))
FILTER = os.path.join(BIN, "unit-casemap")
DATA = os.path.join(TOP, "tests", "data")

count = 0
failed = 0


def ok(cond, name, *diag):
    global count, failed
    count += 1
    if not cond:
        failed += 1
    print(f"{'' if cond else 'not '}ok {count} - {name}")
    for d in diag if not cond else ():
        for line in str(d).splitlines():
            print(f"# {line}")
    sys.stdout.flush()
    return cond


def skip(name, why):
    global count
    count += 1
    print(f"ok {count} - {name} # SKIP {why}")


def upper_c(data):
    """case_upper() of data, by the C code."""
    p = subprocess.run([FILTER, "--filter"], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"unit-casemap --filter exit {p.returncode}: "
                           f"{p.stderr.decode(errors='replace')}")
    return p.stdout


def upper_py(data):
    """The oracle: str.upper(), bytes that are not UTF-8 left alone."""
    s = data.decode("utf-8", "surrogateescape")
    return s.upper().encode("utf-8", "surrogateescape")


def first_difference(a, b):
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
             min(len(a), len(b)))
    return (f"first difference at byte {n} of {len(a)} / {len(b)}:\n"
            f"   got {a[max(0, n - 16):n + 16]!r}\n"
            f"wanted {b[max(0, n - 16):n + 16]!r}")


def table_version():
    with open(os.path.join(TOP, "lib", "casetab.c"), encoding="utf-8") as f:
        m = re.search(r"unidata_version (\S+)", f.read(4096))
    return m.group(1) if m else None


def every_code_point(same_unicode):
    cps = [c for c in range(0x110000)
           if not 0xD800 <= c <= 0xDFFF and c != 0x0A]
    text = "".join(chr(c) + "\n" for c in cps)
    got = upper_c(text.encode("utf-8")).split(b"\n")
    ok(len(got) == len(cps) + 1 and got[-1] == b"",
       f"{len(cps)} code points, one per line, give as many lines",
       f"got {len(got) - 1} lines")
    if not same_unicode:
        skip("every code point as str.upper()", "Unicode versions differ")
        skip("all code points as one string", "Unicode versions differ")
        return
    bad = [(c, g) for c, g in zip(cps, got)
           if g != chr(c).upper().encode("utf-8")]
    ok(not bad, f"every code point upper-cases as str.upper() "
       f"({len(bad)} mismatches)",
       *[f"U+{c:04X}: got {g!r}, wanted "
         f"{chr(c).upper().encode('utf-8')!r}" for c, g in bad[:10]])
    want = text.upper().encode("utf-8")
    got = b"\n".join(got)
    ok(got == want, "all code points as one string, as str.upper() of it",
       first_difference(got, want))


def corpus(name, same_unicode):
    with open(os.path.join(DATA, name + ".txt"), "rb") as f:
        data = f.read()
    with open(os.path.join(DATA, name + ".expected"), "rb") as f:
        expected = f.read()
    lines = data.split(b"\n")
    ok(data.endswith(b"\n") and all(l not in (b".", b".\r") for l in lines),
       f"{name}.txt: every line ends in LF, none is \".\"")
    got = upper_c(data)
    ok(got == expected, f"{name}.txt upper-cases to {name}.expected",
       first_difference(got, expected))
    if same_unicode:
        ok(expected == upper_py(data),
           f"{name}.expected is still what Python says",
           first_difference(expected, upper_py(data)))
    else:
        skip(f"{name}.expected is still what Python says",
             "Unicode versions differ")


def overlong(c, n):
    """c encoded in n bytes, more than it needs: never to be decoded."""
    lead = {2: 0xC0, 3: 0xE0, 4: 0xF0}[n]
    tail = [0x80 | (c >> 6 * k & 0x3F) for k in reversed(range(n - 1))]
    return bytes([lead | c >> 6 * (n - 1)] + tail)


def random_bytes(rnd, n):
    """Bytes that are often UTF-8, often almost, sometimes anything."""
    pieces = ["a", "z", "Q", " ", "\n", "è", "ß", "ΐ", "ﬁ", "ŉ", "σ", "ς",
              "я", "𐐨", "և", "ǅ", "😀"]
    out = bytearray()
    while len(out) < n:
        r = rnd.random()
        if r < 0.4:
            out += rnd.choice(pieces).encode("utf-8")
        elif r < 0.6:
            c = rnd.randrange(0x110000)
            if not 0xD800 <= c <= 0xDFFF:
                out += chr(c).encode("utf-8")
        elif r < 0.8:
            # a valid character cut short or with a bad continuation
            b = rnd.choice(pieces[5:]).encode("utf-8")
            k = rnd.randrange(1, len(b))
            out += b[:k] + bytes([rnd.randrange(256)])
        elif r < 0.85:
            # overlong letters and encoded surrogates
            c = ord(rnd.choice("azèßσяΐ"))
            out += overlong(c, rnd.randrange(2 if c < 0x80 else 3, 5))
            out += bytes([0xED, rnd.randrange(0xA0, 0xC0),
                          rnd.randrange(0x80, 0xC0)])
        else:
            out.append(rnd.randrange(256))
    return bytes(out)


def random_inputs(same_unicode):
    if not same_unicode:
        skip("random bytes as str.upper() with surrogateescape",
             "Unicode versions differ")
        return
    seed = int(os.environ.get("CASEMAP_SEED", "20240601"))
    rnd = random.Random(seed)
    bad = []
    for i in range(20):
        data = random_bytes(rnd, 50000)
        got, want = upper_c(data), upper_py(data)
        if got != want:
            bad.append(f"input {i}: " + first_difference(got, want))
    ok(not bad, f"20 x 50 KB of random, partly broken UTF-8 (seed {seed}) "
       f"as str.upper() with surrogateescape", *bad[:3])


def main():
    if not os.access(FILTER, os.X_OK):
        print("1..1")
        ok(False, f"{FILTER} exists", "run make first")
        return 1
    version = table_version()
    same = version == unicodedata.unidata_version
    print(f"# lib/casetab.c Unicode {version}, "
          f"this Python {unicodedata.unidata_version}")
    ok(version is not None, "lib/casetab.c names its Unicode version")
    every_code_point(same)
    corpus("upper-corpus", same)
    corpus("upper-binary", same)
    random_inputs(same)
    print(f"1..{count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Generate lib/casetab.c, the upper-case table behind lib/casemap.c.

    python3 scripts/gen-casetab.py > lib/casetab.c      (make casetab)

The table is Python's own str.upper(), taken one code point at a time:
for every code point c with chr(c).upper() != chr(c) it records the
UTF-8 bytes of the result (one to three code points: U+00DF -> "SS").
str.upper() applies no context when upper-casing (no locale, and final
sigma only matters for lower()), so mapping code points one by one gives
the same result as upper-casing a whole string; this script checks that
too before it writes anything.

Layout: a two-stage table.  casetab_stage1[cp >> 8] names a block of 256
entries in casetab_stage2; an entry is 0 (no mapping) or an index into
casetab_map, which holds the pre-encoded bytes.  Identical blocks are
shared, so every block without a mapping is the single block 0.

Stdlib only.  Fails (exit 1) if some code point would grow by more than
CASE_MAX_EXPANSION (lib/casemap.h) in bytes, or need more than
CASETAB_MAXSEQ (lib/casetab.h) bytes.
"""

import os
import re
import sys
import unicodedata

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MAXCP = 0x110000
BLOCK = 256


def header_define(path, name):
    """The integer value of '#define name value' in a header of ours."""
    with open(os.path.join(TOP, path), encoding="utf-8") as f:
        m = re.search(r"^#define\s+" + name + r"\s+(\d+)\s*$", f.read(), re.M)
    if m is None:
        sys.exit(f"gen-casetab: no #define {name} in {path}")
    return int(m.group(1))


def is_surrogate(c):
    return 0xD800 <= c <= 0xDFFF


def mappings():
    """{code point: upper-case string} for every code point that changes."""
    m = {}
    for c in range(MAXCP):
        if is_surrogate(c):
            continue
        u = chr(c).upper()
        if u != chr(c):
            m[c] = u
    return m


def check_whole_string(m):
    """Per-code-point mapping must equal str.upper() of a whole string."""
    s = "".join(chr(c) for c in range(MAXCP) if not is_surrogate(c))
    mine = "".join(m.get(ord(ch), ch) for ch in s)
    if s.upper() != mine:
        sys.exit("gen-casetab: str.upper() is context-sensitive here; "
                 "a per-code-point table cannot reproduce it")


def cstring(b):
    return '"' + "".join(f"\\x{x:02x}" for x in b) + '"'


def main():
    maxexp = header_define("lib/casemap.h", "CASE_MAX_EXPANSION")
    maxseq = header_define("lib/casetab.h", "CASETAB_MAXSEQ")

    m = mappings()
    check_whole_string(m)

    # The map: distinct results in order of first use; index 0 is "none".
    seqs = [b""]
    index = {}
    entry = {}
    worst = (0.0, 0)
    for c in sorted(m):
        out = m[c].encode("utf-8")
        ratio = len(out) / len(chr(c).encode("utf-8"))
        if ratio > worst[0]:
            worst = (ratio, c)
        if len(out) > maxseq:
            sys.exit(f"gen-casetab: U+{c:04X} needs {len(out)} bytes, "
                     f"CASETAB_MAXSEQ is {maxseq}")
        if out not in index:
            index[out] = len(seqs)
            seqs.append(out)
        entry[c] = index[out]
    if worst[0] > maxexp:
        sys.exit(f"gen-casetab: U+{worst[1]:04X} grows {worst[0]:.2f} times, "
                 f"CASE_MAX_EXPANSION is {maxexp}")
    if len(seqs) > 0xFFFF:
        sys.exit("gen-casetab: too many distinct mappings for uint16_t")

    # Stage 2 blocks, shared when identical; block 0 is all zeros.
    blocks = [(0,) * BLOCK]
    blockno = {blocks[0]: 0}
    stage1 = []
    for hi in range(MAXCP // BLOCK):
        blk = tuple(entry.get(hi * BLOCK + lo, 0) for lo in range(BLOCK))
        if blk not in blockno:
            blockno[blk] = len(blocks)
            blocks.append(blk)
        stage1.append(blockno[blk])
    if len(blocks) > 0xFF:
        sys.exit("gen-casetab: too many blocks for uint8_t")

    w = sys.stdout.write
    w("/*\n")
    w(" * casetab.c - upper-case table for casemap.c.  GENERATED: do not edit,\n")
    w(" * run python3 scripts/gen-casetab.py > lib/casetab.c (make casetab).\n")
    w(" *\n")
    w(f" * Python {sys.version.split()[0]}, "
      f"unicodedata.unidata_version {unicodedata.unidata_version}\n")
    w(f" * {len(m)} code points change, {len(seqs) - 1} distinct results, "
      f"{len(blocks)} blocks of {BLOCK}.\n")
    w(f" * Maximum byte expansion: {worst[0]:.2f} (U+{worst[1]:04X} "
      f"{len(chr(worst[1]).encode())} -> "
      f"{len(m[worst[1]].encode())} bytes), "
      f"CASE_MAX_EXPANSION {maxexp}.\n")
    w(" */\n")
    w("#include <stdint.h>\n\n")
    w('#include "casetab.h"\n\n')
    w(f"_Static_assert(CASETAB_MAXSEQ == {maxseq}, "
      '"lib/casetab.c is stale: make casetab");\n\n')

    w(f"const uint8_t casetab_stage1[{len(stage1)}] = {{\n")
    for i in range(0, len(stage1), 16):
        row = ", ".join(f"{x}" for x in stage1[i:i + 16])
        w(f"\t{row},\t/* U+{i * BLOCK:04X} */\n")
    w("};\n\n")

    w(f"const uint16_t casetab_stage2[{len(blocks)}][{BLOCK}] = {{\n")
    for n, blk in enumerate(blocks):
        users = [i for i, b in enumerate(stage1) if b == n]
        where = f"U+{users[0] * BLOCK:04X}" if n else "no mapping"
        w(f"\t{{\t/* {n}: {where} */\n")
        for i in range(0, BLOCK, 16):
            w("\t" + ",".join(f"{x:5}" for x in blk[i:i + 16]) + ",\n")
        w("\t},\n")
    w("};\n\n")

    w(f"const struct casetab_map casetab_map[{len(seqs)}] = {{\n")
    w("\t{ 0, \"\" },\n")
    for n, s in enumerate(seqs[1:], 1):
        cps = " ".join(f"U+{ord(ch):04X}" for ch in s.decode("utf-8"))
        w(f"\t{{ {len(s)}, {cstring(s)} }},\t/* {n}: {cps} */\n")
    w("};\n")


if __name__ == "__main__":
    main()

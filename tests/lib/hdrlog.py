"""hdrlog.py - read HdrHistogram's compressed V2 encoding ("HISTF...") and
its interval logs (.hlog), for the tests: an independent reader of what
bench/loadgen_hlog.c writes, so a test can add histograms exactly.

decode(b64) -> dict(counts=[...], lowest=, highest=, digits=)
read_log(path) -> dict(start=, base=, lines=[(tag, start, length, max, b64)])
"""

import base64
import struct
import zlib

V2_COOKIE = 0x1c849313
V2_ZCOOKIE = 0x1c849314


def _zigzag(buf, i):
    """HdrHistogram's ZigZagEncoding.getLong: 7 bits a byte, the 9th 8."""
    v = 0
    for k in range(8):
        b = buf[i]
        i += 1
        v |= (b & 0x7f) << (7 * k)
        if not b & 0x80:
            break
    else:
        v |= buf[i] << 56
        i += 1
    return (v >> 1) ^ -(v & 1), i


def decode(b64):
    raw = base64.b64decode(b64)
    cookie, zlen = struct.unpack(">II", raw[:8])
    if cookie != V2_ZCOOKIE:
        raise ValueError("not a compressed V2 histogram: %#x" % cookie)
    data = zlib.decompress(raw[8:8 + zlen])
    (cookie, plen, offset, digits, lowest, highest,
     ratio) = struct.unpack(">IIiiqqd", data[:40])
    if cookie != V2_COOKIE or offset != 0:
        raise ValueError("unexpected V2 header")
    counts, i, end = [], 40, 40 + plen
    while i < end:
        v, i = _zigzag(data, i)
        if v < 0:
            counts.extend([0] * -v)
        else:
            counts.append(v)
    return dict(counts=counts, lowest=lowest, highest=highest, digits=digits)


def add(a, b):
    """The element-wise sum of two count lists."""
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0)
            for i in range(n)]


def read_log(path):
    out = dict(start=None, base=None, lines=[])
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#[StartTime: "):
                out["start"] = float(line.split()[1])
            elif line.startswith("#[BaseTime: "):
                out["base"] = float(line.split()[1])
            elif line.startswith("Tag="):
                tag, rest = line[4:].split(",", 1)
                s, ln, mx, h = rest.split(",")
                out["lines"].append((tag, float(s), float(ln), float(mx), h))
    return out

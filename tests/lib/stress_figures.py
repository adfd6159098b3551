#!/usr/bin/env python3
"""stress_figures.py - the figures of a fault-suite run as Markdown
tables, one row per model, for docs/reliability.md.

    for t in tests/stress/*.t; do $t; done > /tmp/stress.tap
    python3 tests/lib/stress_figures.py /tmp/stress.tap [KEY ...]

The .t files print each measured number as a TAP comment
"# MODEL: figure KEY VALUE" (stress_lib.Rec.figure).  With KEYs, only
those columns, in that order; otherwise every key, in the order seen.
"""

import re
import sys

FIG = re.compile(r"^# (\S+): figure (\S+) (.*)$")


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    rows, keys = {}, []
    with open(argv[1]) as f:
        for line in f:
            m = FIG.match(line.rstrip("\n"))
            if not m:
                continue
            model, key, value = m.groups()
            rows.setdefault(model, {})[key] = value
            if key not in keys:
                keys.append(key)
    keys = argv[2:] or keys
    print("| model | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for model, vals in rows.items():
        print("| %s | %s |" % (model, " | ".join(vals.get(k, "")
                                                 for k in keys)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""What hostile input costs the protocol readers: AGI result lines and AMI framing.

Run from the repository root::

    .venv/bin/python benchmarks/bench_parsing.py [--json]

For AGI, one answer line of 1, 2, 4 and 8 KB built to make a backtracking parser work hard
(``200 result=1 (`` then `` a=)`` repeated, then `` !``: no closing bracket is followed by
fields only, so every one is tried) is parsed by ``parse_result_line`` and, for comparison in
the same process, by the regular expression the codec used before. For AMI, one message of
1 MiB arriving in 4 KB chunks is fed to ``MessageReader`` (refused at its 1 MiB cap) and to the
framing panoramisk does (join the unfinished rest with the chunk, split it again). Each figure
is the best of 5 runs. A last AGI line of 2,000 ``key=value`` fields is the longest walk the
new parser makes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable

from ivr.core.protocols.agi import parse_result_line
from ivr.core.protocols.ami import MessageReader
from ivr.errors import ProtocolError

FORMER_RESULT = re.compile(r"^200 result=(\S*)(?: \((.*)\))?((?: [A-Za-z_]+=\S*)*)\s*$")
CHUNK = 4096


def best(work: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def crafted(size: int) -> str:
    return "200 result=1 (" + " a=)" * ((size - 16) // 4) + " !"


def panoramisk_framing(total: int) -> None:
    rest = ""
    chunk = "X: " + "y" * (CHUNK - 5) + "\r\n"
    for _ in range(total // CHUNK):
        data = rest + chunk
        parts = data.split("\r\n\r\n")
        rest = parts.pop(-1)


def reader_framing(total: int) -> None:
    reader = MessageReader()
    chunk = b"X: " + b"y" * (CHUNK - 5) + b"\r\n"
    try:
        for _ in range(total // CHUNK + 1):
            reader.receive_data(chunk)
    except ProtocolError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for size in (1024, 2048, 4096, 8192):
        line = crafted(size)
        rows.append({"input": f"AGI answer, {size // 1024} KB",
                     "now_ms": round(best(lambda line=line: parse_result_line(line)) * 1000, 3),
                     "before_ms": round(best(lambda line=line: FORMER_RESULT.match(line))
                                        * 1000, 3)})
    fields = "200 result=1" + " a=b" * 2000  # the new parser's longest walk: every token a field
    rows.append({"input": "AGI answer, 8 KB of key=value fields",
                 "now_ms": round(best(lambda: parse_result_line(fields)) * 1000, 3),
                 "before_ms": round(best(lambda: FORMER_RESULT.match(fields)) * 1000, 3)})
    total = 1 << 20
    rows.append({"input": "AMI message, 1 MiB in 4 KB chunks",
                 "now_ms": round(best(lambda: reader_framing(total)) * 1000, 3),
                 "before_ms": round(best(lambda: panoramisk_framing(total)) * 1000, 3)})
    if args.json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return 0
    print(f"{'input':<36} {'now (ms)':>10} {'before (ms)':>12}")
    for row in rows:
        print(f"{row['input']:<36} {row['now_ms']:>10} {row['before_ms']:>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

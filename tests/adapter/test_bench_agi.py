"""`ivr bench agi` end to end at a tiny size: the real FastAGI server in its own process, a
fake Asterisk on loopback, every figure printed. Keeps the benchmark from rotting."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LEVEL_FIGURES = [
    "calls_per_second", "commands_per_call", "commands_per_second", "round_trip_p50_ms",
    "round_trip_p99_ms", "call_p50_ms", "call_p99_ms", "app_cpu_ms_per_call", "app_cpu_share",
    "app_peak_rss_mb", "asterisk_cpu_share", "app_loop_thread_cpu_ms_per_call",
]
CALL_COLUMNS = ["sessions", "calls", "failed", "calls/s", "cmds/call", "cmds/s", "rt p50 ms",
                "rt p99 ms", "call p50 ms", "call p99 ms"]
PROCESS_COLUMNS = ["sessions", "app CPU ms/call", "on loop thread", "app CPU", "app peak RSS MB",
                   "app loop lag ms", "app GC pause ms", "fake Asterisk CPU"]
NUMBER = r"[0-9]+(?:\.[0-9]+)?%?"


def bench(*options: str) -> str:
    """Run `ivr bench agi -- <options>` as a user would; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "bench", "agi", "--", *options],
        cwd=ROOT, capture_output=True, text=True, timeout=100, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_json_reports_every_figure_for_every_level() -> None:
    """Every call goes through the shipped flow to a queue and is saved; each level has all
    its figures, and the protocol's cost shows against the engine alone."""
    result: dict[str, Any] = json.loads(
        bench("--json", "--seconds", "0.3", "--levels", "1,3")
    )
    agi = result["fastagi"]
    assert [level["sessions"] for level in agi["levels"]] == [1, 3]
    for level in agi["levels"]:
        assert level["calls"] > 0
        assert level["failed_calls"] == 0
        for figure in LEVEL_FIGURES:
            assert level[figure] > 0, figure
        assert level["app_max_loop_lag_ms"] >= 0
        assert level["app_max_gc_pause_ms"] >= 0
        assert level["round_trip_p50_ms"] <= level["round_trip_p99_ms"]
        assert level["call_p50_ms"] <= level["call_p99_ms"]
        # ANSWER, greeting, language menu and key, language, main menu and key, the queue
        # stages and IVR_QUEUE: at least ten round trips per call.
        assert level["commands_per_call"] >= 10
    # The application saved a routed call record for every call the fake Asterisk made.
    assert agi["records_saved"] == agi["records_routed"] == agi["calls_made"]
    assert result["engine"]["calls"] > 0
    assert result["in_memory_handler"]["failed_calls"] == 0
    assert result["in_memory_handler"]["commands_per_call"] == agi["levels"][0][
        "commands_per_call"]
    ratios = result["ratios"]
    assert ratios["fastagi_1_over_engine_cpu"] > 1
    assert ratios["in_memory_handler_over_engine_cpu"] > 1
    assert ratios["fastagi_3_over_in_memory_cpu"] > 0


def test_table_prints_every_figure() -> None:
    """The table has every column and one full row of numbers per level, and the
    side-by-side tiers."""
    text = bench("--seconds", "0.2", "--levels", "2")
    lines = text.splitlines()
    for columns in (CALL_COLUMNS, PROCESS_COLUMNS):
        header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["sessions"]
                      and all(c in line for c in columns))
        row = lines[header + 1].split()
        assert row[0] == "2"
        assert len(row) == len(columns)
        assert all(re.fullmatch(NUMBER, cell) for cell in row), row
    assert re.search(r"records saved by the application: (\d+) of \1 calls, \1 routed", text)
    for tier in ("flow engine alone", "CallHandler + SQLite, in-memory AGI channel",
                 "CallHandler + SQLite over FastAGI, 2 session(s)"):
        line = next(line for line in lines if line.startswith(tier))
        assert re.search(rf"{NUMBER}\s+{NUMBER}\s+{NUMBER}x$", line), line
    assert "FastAGI over the in-memory channel" in text

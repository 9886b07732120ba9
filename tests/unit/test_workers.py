"""FastAGI worker processes (``[agi] workers``): the settings each worker runs with, the
supervisor that starts them, starts again one that dies and stops them all, and the check
that refuses several workers on SQLite."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from ivr import settings
from ivr.errors import ConfigError
from ivr.workers import (
    WORKER_ENV,
    Workers,
    adopt_spill_files,
    for_worker,
    node_name,
    spill_file,
    watch_parent,
    worker_index,
)

from .test_settings import CONFIG, broken_copy


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


async def until(condition: object, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_each_worker_has_its_own_web_and_speech_ports_and_name() -> None:
    cfg = settings.load(CONFIG)
    one, two = for_worker(cfg, 0), for_worker(cfg, 1)
    assert (one.web_port, two.web_port) == (cfg.web_port, cfg.web_port + 1)
    assert two.speech.audiosocket_port == cfg.speech.audiosocket_port + 1
    assert one.agi.port == two.agi.port == cfg.agi.port  # the one shared FastAGI port
    assert node_name("h", cfg, None) == f"h:{cfg.agi.port}"
    assert node_name("h", cfg, 1) == f"h:{cfg.agi.port}/w1"
    assert len({spill_file(None), spill_file(0), spill_file(1)}) == 3


def test_the_worker_number_comes_from_the_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKER_ENV, raising=False)
    assert worker_index(2) is None
    monkeypatch.setenv(WORKER_ENV, "1")
    assert worker_index(2) == 1
    for wrong in ("2", "-1", "one"):
        monkeypatch.setenv(WORKER_ENV, wrong)
        with pytest.raises(ConfigError, match="a worker number from 0 to 1"):
            worker_index(2)


def test_several_workers_on_sqlite_are_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    config = broken_copy(tmp_path, {"ivr.toml": ("workers = 1", "workers = 2")})
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    [problem] = info.value.problems
    assert problem.key == "agi.workers"
    assert "PostgreSQL" in problem.reason
    monkeypatch.setenv("IVR_DATABASE_URL", "postgresql://ivr@127.0.0.1/ivr")
    assert settings.load(config).agi.workers == 2


@pytest.mark.parametrize("count", ["0", "65"])
def test_a_worker_count_out_of_range_is_refused(tmp_path: Path, count: str) -> None:
    config = broken_copy(tmp_path, {"ivr.toml": ("workers = 1", f"workers = {count}")})
    with pytest.raises(ConfigError, match=r"agi\.workers: from 1 to 64"):
        settings.load(config)


async def test_a_worker_that_dies_is_started_again_and_all_stop_together() -> None:
    """Worker 0 dies at once, again and again; worker 1 runs until told to stop."""
    commands = {0: python("import sys; sys.exit(3)"), 1: python("import time; time.sleep(60)")}
    workers = Workers(2, lambda i: commands[i], restart_delay=0.01, restart_delay_max=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(workers.run(stop))
    await until(lambda: workers.starts(0) >= 3 and 1 in workers.pids)
    assert workers.starts(1) == 1
    second = workers.pids[1]
    stop.set()
    await asyncio.wait_for(running, 10)
    assert workers.pids == {}
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)


async def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    stubborn = python("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                      "print('ready', flush=True); time.sleep(60)")
    workers = Workers(1, lambda _i: stubborn, stop_grace=0.5)
    stop = asyncio.Event()
    running = asyncio.create_task(workers.run(stop))
    await until(lambda: 0 in workers.pids)
    await asyncio.sleep(0.3)  # the child has set its handler
    stop.set()
    await asyncio.wait_for(running, 10)
    assert workers.pids == {}


async def test_a_worker_whose_supervisor_is_gone_stops() -> None:
    stop = asyncio.Event()
    await asyncio.wait_for(watch_parent(stop, parent=os.getppid() + 1, poll=0.01), 5)
    assert stop.is_set()
    still = asyncio.Event()
    watching = asyncio.create_task(watch_parent(still, parent=os.getppid(), poll=0.01))
    await asyncio.sleep(0.1)
    assert not still.is_set()
    watching.cancel()


@pytest.mark.parametrize(("before", "count", "own"), [
    (["pending-writes.jsonl", "pending-writes.w0.jsonl", "pending-writes.w2.jsonl"], 2,
     "pending-writes.w0.jsonl"),
    (["pending-writes.w0.jsonl", "pending-writes.w1.jsonl"], 1, "pending-writes.jsonl"),
])
def test_a_change_of_workers_hands_every_spill_file_to_a_process_that_replays_it(
    tmp_path: Path, before: list[str], count: int, own: str,
) -> None:
    """From one process to two workers (and a third worker gone), or back to one: the writes
    no process would replay are appended to the first one's file, a torn line kept apart."""
    for n, name in enumerate(before):
        (tmp_path / name).write_text(f'{{"w": {n}}}\n{{"torn', encoding="utf-8")
    kept = {spill_file(None if count == 1 else k) for k in range(count)}
    adopt_spill_files(tmp_path, count)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(kept & (set(before) | {own}))
    lines = (tmp_path / own).read_text(encoding="utf-8").splitlines()
    assert sorted(line for line in lines if line.startswith('{"w"')) == [
        f'{{"w": {n}}}' for n in range(len(before))]
    assert lines.count('{"torn') == len(before)  # each torn line on its own

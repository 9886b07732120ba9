"""Two FastAGI worker processes of one `ivr serve` (``[agi] workers = 2``) on the real
PostgreSQL, in front of the real Asterisk: Asterisk's calls are spread over both workers; one
worker is killed under load and every caller still reaches an operator, the supervisor starts
it again, every call keeps one record, and SIGTERM stops the workers and the supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr import settings
from ivr.core.records import CallRecord
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import HangUp, OperatorPhone, Phones, Press, Step, Wait

from .conftest import answered_by, talkative, wait_until_free
from .test_two_nodes import open_port, records

pytestmark = pytest.mark.asterisk


@dataclasses.dataclass
class Served:
    proc: subprocess.Popen[bytes]
    log: Path
    web_ports: tuple[int, int]

    def starts(self) -> list[dict[str, int]]:
        """The supervisor's ``worker_started`` lines: worker number, pid, starts."""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in events if e.get("event") == "worker_started"]

    def pid(self, worker: int) -> int:
        return [e["pid"] for e in self.starts() if e["worker"] == worker][-1]



@pytest_asyncio.fixture
async def served(
    cfg: Settings, sandbox: Sandbox, database: str, tmp_path: Path,
) -> AsyncIterator[Served]:
    """`ivr serve` with two workers, as an admin would run it, on a database of its own."""
    config = tmp_path / "config"
    shutil.copytree(Path(settings.PROJECT_DIR) / "config", config)
    toml = config / "ivr.toml"
    text = toml.read_text(encoding="utf-8")
    assert "workers = 1 " in text
    toml.write_text(text.replace("workers = 1 ", "workers = 2 ", 1), encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(cfg.secrets_file, state / "secrets.json")
    env = {**os.environ, "IVR_DATABASE_URL": database, "IVR_STATE_DIR": str(state),
           "IVR_CONFIG_DIR": str(config)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - a plain child we signal, not a pipe
            [sys.executable, "-m", "ivr", "serve"], env=env, stdout=out, stderr=out)
    ports = (cfg.web_port, cfg.web_port + 1)
    served = Served(proc, log, ports)
    for _ in range(600):
        if open_port(cfg.agi.port) and all(open_port(p) for p in ports):
            break
        await asyncio.sleep(0.1)
    assert all(open_port(p) for p in ports), log.read_text(errors="replace")[-3000:]
    await asyncio.sleep(1.0)  # both workers' AMI logins, resync, leadership
    yield served
    if proc.poll() is None:
        proc.kill()  # the test stops it itself; this is for a test that failed before
        await asyncio.to_thread(proc.wait)
    for start in served.starts():
        with contextlib.suppress(ProcessLookupError):
            os.kill(start["pid"], signal.SIGKILL)


def inquiry(then: float) -> list[Step]:
    return [Wait(1.0), Press("1"), Wait(1.5), Press("2"), Wait(then), HangUp()]


# Asks for an operator (0) and hangs up 4 s later, while talking: reached in a worker's menu,
# or in the general queue at once when the caller's worker dies (operators talk 6 s).
OPERATOR: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("0"), Wait(4.0), HangUp()]


async def every_record(database: str, callers: list[str],
                       seconds: float = 30.0) -> dict[str, list[CallRecord]]:
    """The callers' records once each has exactly one, ended (or what there is at the end)."""
    for _ in range(int(seconds / 0.5)):
        stored = await records(database, callers)
        if all(len(stored[c]) == 1 and stored[c][0].ended_at is not None for c in callers):
            break
        await asyncio.sleep(0.5)
    return stored


@pytest.mark.timeout(300)
async def test_two_workers_share_the_calls_and_one_killed_loses_no_caller(
    served: Served, database: str, phones: Phones, operators: dict[str, OperatorPhone],
    ami: AmiClient,
) -> None:
    async with talkative(phones, operators) as answering:
        await _spread_and_killed(served, database, phones, answering, ami)


async def all_free(ami: AmiClient, operators: dict[str, OperatorPhone]) -> None:
    """Every operator out of their calls and wrap-up: the next callers are answered at once
    (and hang up while talking, before the operator does)."""
    for name in operators:
        await wait_until_free(ami, f"PJSIP/{name}", timeout=20.0)


async def _spread_and_killed(
    served: Served, database: str, phones: Phones, operators: dict[str, OperatorPhone],
    ami: AmiClient,
) -> None:
    host = f"{socket.gethostname()}:{settings.load().agi.port}"
    # Twelve callers at once: the kernel spreads their FastAGI sessions over both workers.
    spread = [f"1386663{n:04d}" for n in range(12)]
    results = await asyncio.gather(*(phones.call(inquiry(1.0), caller=c) for c in spread))
    assert all(r.ok for r in results), [r.output[-300:] for r in results if not r.ok]
    stored = await every_record(database, spread)
    assert all(len(stored[c]) == 1 for c in spread), stored
    nodes = {stored[c][0].variables.get("node") for c in spread}
    assert nodes == {f"{host}/w0", f"{host}/w1"}, nodes

    # Worker 1 is killed while calls arrive, one a second: each caller reaches an operator,
    # the ones on worker 1 by the dialplan's general queue. It dies 1.8 s after the second
    # caller came in: both first callers are past their language key (1 s) and in the menu or
    # beyond, so none presses 1 in the general queue, where 1 asks for a callback.
    killed = served.pid(1)
    await all_free(ami, operators)
    during = [f"1386664{n:04d}" for n in range(4)]
    calls = []
    for n, caller in enumerate(during):
        calls.append(asyncio.create_task(phones.call(OPERATOR, caller=caller)))
        if n == 1:
            await asyncio.sleep(1.8)
            os.kill(killed, signal.SIGKILL)
        await asyncio.sleep(1.0)
    results = await asyncio.gather(*calls)
    assert all(r.ok for r in results), [(r.caller, r.output[-300:]) for r in results if not r.ok]
    for caller in during:
        assert answered_by(operators, caller), caller

    # The supervisor started worker 1 again; it serves calls (and its web) as before.
    for _ in range(300):
        if served.pid(1) != killed and open_port(served.web_ports[1]):
            break
        await asyncio.sleep(0.1)
    assert served.pid(1) != killed, served.starts()
    assert served.proc.poll() is None
    # One after the other, each with every operator free: both answered at once.
    after = [f"1386665{n:04d}" for n in range(2)]
    for caller in after:
        await all_free(ami, operators)
        result = await phones.call(OPERATOR, caller=caller)
        assert result.ok, result.output[-300:]
        assert answered_by(operators, caller), caller
    # One record per call, the killed worker's included (the leader completes them).
    stored = await every_record(database, during + after)
    assert all(len(stored[c]) == 1 for c in during + after), stored
    assert all(stored[c][0].ended_at is not None for c in during + after), stored

    # SIGTERM stops both workers, then the supervisor, which exits 0.
    workers = [served.pid(0), served.pid(1)]
    served.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(served.proc.wait, 90) == 0
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

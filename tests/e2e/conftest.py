"""The real test bed: Asterisk 22 in its chroot, SIPp citizens and operators, real RTP.

The sandbox is brought up once per session (built on first use, reused afterwards) and taken
down again at the end if this session started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from ivr import logs, settings
from ivr.app import Hotline
from ivr.core.records import CallRecord
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.operators.desk import OperatorDesk
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import OperatorPhone, Phones
from ivr.testbed.testcall import operator_phones
from ivr.tools.prompts import build
from tests.pgtools import pg_database

pytestmark = pytest.mark.asterisk
WRAP_UP_SECONDS = 3  # queues.conf wrapuptime


@pytest.fixture(scope="session")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = settings.load()
    db = tmp_path_factory.mktemp("db") / "calls.sqlite3"
    return dataclasses.replace(base, database_url=f"sqlite:///{db}")


@pytest.fixture(scope="session")
def sandbox(cfg: Settings) -> Iterator[Sandbox]:
    logs.configure("WARNING")
    build(cfg.prompts_dir, cfg.languages)
    box = Sandbox(cfg)
    was_running = box.running()
    box.up()
    yield box
    if not was_running:
        box.down()


@pytest.fixture
def phones(sandbox: Sandbox, cfg: Settings) -> Phones:
    return Phones(sandbox.root, cfg.sip.host, cfg.sip.port)


@pytest_asyncio.fixture
async def operators(
    phones: Phones, cfg: Settings, ami: AmiClient
) -> AsyncIterator[dict[str, OperatorPhone]]:
    """Every configured operator's phone, answering after 0.3 s and talking 1 s; every
    operator logged in with their skills and not paused."""
    started = operator_phones(cfg, phones, talk=1.0)
    await asyncio.gather(*(p.start() for p in started))
    desk = OperatorDesk(cfg, ami)
    for op_id in cfg.operators:
        await desk.login(op_id)
        await desk.unpause(op_id)
    yield {p.operator: p for p in started}
    await asyncio.gather(*(p.stop() for p in started))


@pytest_asyncio.fixture
async def hotline(cfg: Settings, sandbox: Sandbox) -> AsyncIterator[Hotline]:
    # Bulletin audio goes to the test bed's Asterisk; its recordings are read from there.
    app = Hotline(dataclasses.replace(
        cfg, asterisk_sounds=sandbox.sounds_dir(),
        recordings=dataclasses.replace(cfg.recordings, directory=sandbox.recordings_dir)))
    await app.start()
    await app.ami.wait_connected(10)
    yield app
    await app.stop()


@pytest.fixture
def database() -> Iterator[str]:
    """A PostgreSQL database of the test's own (dropped afterwards)."""
    with pg_database() as url:
        yield url


@contextlib.asynccontextmanager
async def talkative(
    phones: Phones, operators: dict[str, OperatorPhone], talk: float = 6.0,
) -> AsyncIterator[dict[str, OperatorPhone]]:
    """The operators' phones talking ``talk`` s instead of 1 s, for the block: whichever way
    a caller reaches one (a node's menu, or the general queue at once when their node dies),
    the caller has pressed their keys before anyone hangs up on them."""
    longer = {name: OperatorPhone(phones, name, phone.port, talk=talk)
              for name, phone in operators.items()}
    for name, phone in longer.items():
        await operators[name].stop()
        await phone.start()
    try:
        yield longer
    finally:
        for name, phone in longer.items():
            await phone.stop()
            await operators[name].start()


def answered_by(operators: dict[str, OperatorPhone], caller: str) -> list[str]:
    """Which operators' phones answered a call from ``caller``."""
    return sorted(name for name, phone in operators.items() if caller in phone.calls())


@pytest_asyncio.fixture
async def ami(cfg: Settings, sandbox: Sandbox) -> AsyncIterator[AmiClient]:
    """An AMI link of the test's own, for watching Asterisk when the application is down."""
    client = AmiClient(cfg.ami)
    await client.start(wait=10)
    yield client
    await client.close()


async def wait_until_free(ami: AmiClient, interface: str, timeout: float = 10.0) -> None:
    """Wait until the operator at ``interface`` is out of any call and out of wrap-up time.

    Tests follow each other faster than an operator's wrap-up (queues.conf wrapuptime), and a
    test expects the best operator to be free, as it would be on a quiet hotline.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        messages = await ami.action("QueueStatus", as_list=True)
        members = [m for m in messages if m.get("Event") == "QueueMember"
                   and m.get("StateInterface") == interface]
        now = time.time()
        if members and all(
            m.get("InCall") == "0" and now - int(m.get("LastCall", "0")) > WRAP_UP_SECONDS
            for m in members
        ):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{interface} still busy after {timeout} s")


async def finished_record(
    hotline: Hotline, caller: str, *, survey: bool = False, timeout: float = 5.0,
    earlier: tuple[str, ...] = (),
) -> CallRecord:
    """The caller's one call record (besides the ``earlier`` call ids), once the IVR (and,
    with ``survey``, the survey after the operator) has finished with it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        records = [r for r in await hotline.store.calls.by_caller(caller)
                   if r.call_id not in earlier]
        done = len(records) == 1 and records[0].ended_at is not None
        if done and (not survey or any(p.startswith("survey:") for p in records[0].path)):
            return records[0]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no finished call record for {caller}: {records}")
        await asyncio.sleep(0.1)

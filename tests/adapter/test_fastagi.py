"""FastAGI server against a fake Asterisk on loopback: real sockets, no Asterisk."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from ivr.core.protocols.agi import AgiResult
from ivr.core.settings import AgiSettings
from ivr.edges.fastagi import AgiChannel, FastAgiServer

HANDSHAKE = (
    "agi_network: yes\nagi_request: agi://127.0.0.1/ivr\nagi_channel: PJSIP/citizens-1\n"
    "agi_uniqueid: 1.1\nagi_callerid: 13800138000\nagi_calleridname: {name}\n"
    "agi_language: zh\nagi_context: citizens\nagi_extension: 12345\n\n"
)


class Recorder:
    """A call handler that answers, sets a variable from caller data and reads a digit."""

    def __init__(self) -> None:
        self.seen: list[AgiChannel] = []
        self.results: list[AgiResult] = []
        self.done = asyncio.Event()

    async def __call__(self, channel: AgiChannel) -> None:
        self.seen.append(channel)
        self.results.append(await channel.answer())
        self.results.append(await channel.set_variable("IVR_CALLER", channel.env.caller_name))
        self.results.append(await channel.wait_for_digit(5000))
        self.done.set()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[FastAgiServer, Recorder]]:
    recorder = Recorder()
    srv = FastAgiServer(
        AgiSettings(port=0, handshake_timeout=1.0, handshake_max_bytes=4096, command_timeout=3),
        recorder,
    )
    await srv.start()
    yield srv, recorder
    await srv.stop()


async def fake_asterisk(
    port: int, name: str = "Li Wei", replies: tuple[bytes, ...] = ()
) -> list[bytes]:
    """Open a session like Asterisk does; answer each command line; return what we received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HANDSHAKE.format(name=name).encode())
    received = []
    for reply in replies:
        line = await asyncio.wait_for(reader.readline(), 3)
        received.append(line)
        writer.write(reply)
    writer.close()
    await writer.wait_closed()
    return received


async def test_normal_session(server: tuple[FastAgiServer, Recorder]) -> None:
    """Handshake, three commands, three normalised results."""
    srv, rec = server
    lines = await fake_asterisk(
        srv.port, replies=(b"200 result=0\n", b"200 result=1\n", b"200 result=49\n")
    )
    await asyncio.wait_for(rec.done.wait(), 3)
    assert lines == [
        b'ANSWER\n', b'SET VARIABLE "IVR_CALLER" "Li Wei"\n',
        b'WAIT FOR DIGIT "5000"\n',
    ]
    assert rec.seen[0].env.caller_number == "13800138000"
    assert [r.ok for r in rec.results] == [True, True, True]
    assert rec.results[2].digit == "1"  # WAIT FOR DIGIT answers with the key's ASCII code


async def test_caller_name_with_quotes_and_newlines(
    server: tuple[FastAgiServer, Recorder],
) -> None:
    """A hostile caller name is escaped: one command line, quotes escaped."""
    srv, _ = server
    # A newline cannot be in a handshake value, but quotes, backslashes and semicolons can.
    lines = await fake_asterisk(
        srv.port, name='Li "X" \\ ;EXEC System', replies=(b"200 result=0\n",) * 3
    )
    assert lines[1] == b'SET VARIABLE "IVR_CALLER" "Li \\"X\\" \\\\ ;EXEC System"\n'
    assert all(line.count(b"\n") == 1 for line in lines)


async def test_hangup_is_a_result_not_an_exception(server: tuple[FastAgiServer, Recorder]) -> None:
    """Asterisk's HANGUP line and a closed socket reach the handler as hung_up results."""
    srv, rec = server
    await fake_asterisk(srv.port, replies=(b"200 result=0\n", b"HANGUP\n511 Dead channel\n"))
    await asyncio.wait_for(rec.done.wait(), 3)
    assert rec.results[0].ok
    assert rec.results[1].hung_up
    assert rec.results[2].hung_up  # never sent: the channel is known to be gone
    assert rec.seen[0].hung_up


@pytest.mark.parametrize(
    "payload",
    [
        b"agi_network: yes\nagi_channel: PJSIP/x",   # half a header, then close
        b"",                                          # connect and close
        b"GET / HTTP/1.0\r\n\r\n",                    # a port probe
    ],
)
async def test_bad_peer_is_dropped_and_the_next_call_is_served(
    server: tuple[FastAgiServer, Recorder], payload: bytes
) -> None:
    """A truncated or bogus handshake costs only its own connection: no spin, no delay."""
    srv, rec = server
    cpu_before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.5)
    assert srv.active_sessions == 0
    started = time.monotonic()
    await fake_asterisk(srv.port, replies=(b"200 result=0\n",) * 3)
    await asyncio.wait_for(rec.done.wait(), 3)
    assert time.monotonic() - started < 0.5
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu_before
    assert cpu < 0.4, f"server burnt {cpu:.2f} s CPU on a bad peer"


async def test_silent_peer_is_dropped_at_the_deadline(
    server: tuple[FastAgiServer, Recorder],
) -> None:
    """A peer that connects and never sends is closed after the handshake deadline."""
    srv, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 3) == b""  # the server closed on us
    assert 0.9 < time.monotonic() - started < 2.0
    writer.close()


async def test_oversized_handshake_is_dropped(server: tuple[FastAgiServer, Recorder]) -> None:
    """Megabytes of header are refused once past the cap, without reading them all."""
    srv, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    try:
        writer.write(b"agi_junk: " + b"x" * 200_000)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 3)
    except ConnectionError:
        data = b""
    writer.close()
    assert data == b""  # closed without a word: nothing was run for this peer
    assert srv.active_sessions == 0


async def test_peer_not_allowed_is_refused() -> None:
    """Only configured peers may open FastAGI sessions."""
    rec = Recorder()
    srv = FastAgiServer(AgiSettings(port=0, allowed_peers=("10.9.9.9",)), rec)
    await srv.start()
    try:
        await fake_asterisk(srv.port)
        await asyncio.sleep(0.2)
        assert rec.seen == []
    finally:
        await srv.stop()


async def test_a_failing_handler_does_not_stop_the_server() -> None:
    """One call's bug is logged; the next call is still served."""
    calls: list[str] = []

    async def handler(channel: AgiChannel) -> None:
        calls.append(channel.env.caller_name)
        if len(calls) == 1:
            raise RuntimeError("bug in one call")
        await channel.answer()

    srv = FastAgiServer(AgiSettings(port=0), handler)
    await srv.start()
    try:
        await fake_asterisk(srv.port, name="first")
        got = await fake_asterisk(srv.port, name="second", replies=(b"200 result=0\n",))
        assert got == [b"ANSWER\n"]
        assert calls == ["first", "second"]
    finally:
        await srv.stop()

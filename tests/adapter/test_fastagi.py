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

SECRET = "s3cret-for-tests"
HANDSHAKE = (
    "agi_network: yes\nagi_request: agi://127.0.0.1/ivr?secret={secret}\n"
    "agi_channel: PJSIP/citizens-1\nagi_uniqueid: {unique_id}\nagi_callerid: 13800138000\n"
    "agi_calleridname: {name}\n"
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
        AgiSettings(port=0, handshake_timeout=1.0, handshake_max_bytes=4096, command_timeout=3,
                    secret=SECRET),
        recorder,
    )
    await srv.start()
    yield srv, recorder
    await srv.stop()


def handshake(name: str = "Li Wei", secret: str = SECRET, unique_id: str = "1.1") -> bytes:
    return HANDSHAKE.format(name=name, secret=secret, unique_id=unique_id).encode()


async def fake_asterisk(
    port: int, name: str = "Li Wei", replies: tuple[bytes, ...] = ()
) -> list[bytes]:
    """Open a session like Asterisk does; answer each command line; return what we received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(handshake(name))
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
    srv = FastAgiServer(AgiSettings(port=0, allowed_peers=("10.9.9.9",), secret=SECRET), rec)
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

    srv = FastAgiServer(AgiSettings(port=0, secret=SECRET), handler)
    await srv.start()
    try:
        await fake_asterisk(srv.port, name="first")
        got = await fake_asterisk(srv.port, name="second", replies=(b"200 result=0\n",))
        assert got == [b"ANSWER\n"]
        assert calls == ["first", "second"]
    finally:
        await srv.stop()


async def refused(port: int, block: bytes) -> bytes:
    """Send ``block`` as a handshake; what the server sent back before closing (b'' if none)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(block)
    try:
        data = await asyncio.wait_for(reader.read(), 3)
    except ConnectionError:
        data = b""
    writer.close()
    return data


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(handshake(secret=""), id="empty_secret"),
        pytest.param(handshake(secret="guessed-secret"), id="wrong_secret"),
        pytest.param(handshake().replace(b"?secret=", b"?other="), id="other_parameter"),
        pytest.param(handshake().replace(b"?secret=" + SECRET.encode(), b""), id="no_query"),
        pytest.param(handshake(secret=SECRET[:-1]), id="prefix_of_the_secret"),
    ],
)
async def test_peer_without_the_secret_is_refused(
    server: tuple[FastAgiServer, Recorder], block: bytes
) -> None:
    """A local process posing as Asterisk without the set-up secret gets no session at all."""
    srv, rec = server
    assert await refused(srv.port, block) == b""
    await asyncio.sleep(0.1)
    assert rec.seen == []
    assert srv.active_sessions == 0


async def test_repeated_handshake_key_is_refused(server: tuple[FastAgiServer, Recorder]) -> None:
    """A block naming a second unique id (or any key twice) is a forgery, not a call."""
    srv, rec = server
    block = handshake().replace(b"agi_language:", b"agi_uniqueid: 9.9\nagi_language:")
    assert await refused(srv.port, block) == b""
    await asyncio.sleep(0.1)
    assert rec.seen == []


async def test_a_live_calls_unique_id_cannot_be_claimed() -> None:
    """While a call's session runs, a second session with its unique id is refused; once it
    ends, the call's next session (the survey) is served."""
    release = asyncio.Event()
    seen: list[str] = []

    async def handler(channel: AgiChannel) -> None:
        seen.append(channel.env.caller_name)
        await channel.answer()
        if len(seen) == 1:
            await release.wait()

    srv = FastAgiServer(AgiSettings(port=0, secret=SECRET), handler)
    await srv.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(handshake("caller"))
        assert await asyncio.wait_for(reader.readline(), 3) == b"ANSWER\n"
        writer.write(b"200 result=0\n")
        assert await refused(srv.port, handshake("impostor")) == b""
        assert seen == ["caller"]
        release.set()
        assert await asyncio.wait_for(reader.read(), 3) == b""  # the first session ended
        writer.close()
        got = await fake_asterisk(srv.port, name="survey", replies=(b"200 result=0\n",))
        assert got == [b"ANSWER\n"]
        assert seen == ["caller", "survey"]
    finally:
        await srv.stop()


async def test_a_long_crafted_answer_does_not_hold_the_loop() -> None:
    """An 8 KB answer built to make a backtracking parser take half a second is read in
    linear time (the loop guard fails the test otherwise) and refused as garbage."""
    rec = Recorder()
    srv = FastAgiServer(AgiSettings(port=0, secret=SECRET), rec)  # the shipped line limits
    await srv.start()
    try:
        crafted = b"200 result=1 (" + b" a=)" * 2000 + b" !\n"
        await fake_asterisk(srv.port, replies=(crafted,))
        await asyncio.wait_for(rec.done.wait(), 3)
        assert rec.results[0].hung_up  # a protocol error ends the session like a lost link
    finally:
        await srv.stop()


async def test_half_open_connections_cannot_keep_a_call_out() -> None:
    """Three hundred connections that never send a handshake: only the newest
    `max_handshakes` are kept (the older ones closed at once, long before the 5 s handshake
    deadline), and a real call arriving among them is served without delay."""
    rec = Recorder()
    srv = FastAgiServer(AgiSettings(port=0, secret=SECRET, max_handshakes=50), rec)
    await srv.start()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        idle += [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(300)]
        await asyncio.sleep(0.2)
        assert srv.pending_handshakes <= 50
        started = time.monotonic()
        await fake_asterisk(srv.port, replies=(b"200 result=0\n",) * 3)
        await asyncio.wait_for(rec.done.wait(), 3)
        assert time.monotonic() - started < 1.0
        closed = 0
        for reader, _ in idle[:200]:  # the oldest: dropped by the server, not by its deadline
            try:
                closed += await asyncio.wait_for(reader.read(), 1.0) == b""
            except ConnectionError:
                closed += 1
        assert closed == 200
    finally:
        for _, writer in idle:
            writer.close()
        await srv.stop()


class VariableSetter:
    """A call handler that sets the routing decision's variables in one go."""

    def __init__(self, variables: list[tuple[str, str]]) -> None:
        self.variables = variables
        self.results: list[AgiResult] = []
        self.done = asyncio.Event()

    async def __call__(self, channel: AgiChannel) -> None:
        self.results.append(await channel.set_variables(self.variables))
        self.done.set()


async def _set_variables(
    variables: list[tuple[str, str]], replies: tuple[bytes, ...]
) -> tuple[list[bytes], list[AgiResult]]:
    setter = VariableSetter(variables)
    srv = FastAgiServer(
        AgiSettings(port=0, handshake_timeout=1.0, handshake_max_bytes=4096, command_timeout=3,
                    secret=SECRET),
        setter,
    )
    await srv.start()
    try:
        lines = await fake_asterisk(srv.port, replies=replies)
        await asyncio.wait_for(setter.done.wait(), 3)
    finally:
        await srv.stop()
    return lines, setter.results


async def test_routing_variables_go_in_one_round_trip() -> None:
    """The stages and IVR_QUEUE reach Asterisk as one MSet, IVR_QUEUE last."""
    lines, results = await _set_variables(
        [("IVR_STAGE_1", "lang-zh:20:5:1"), ("IVR_STAGES", "1"), ("IVR_QUEUE", "lang-zh")],
        (b"200 result=0\n",))
    assert lines == [b'EXEC "MSet" "IVR_STAGE_1=lang-zh:20:5:1,IVR_STAGES=1,IVR_QUEUE=lang-zh"\n']
    assert results[0].ok


async def test_caller_values_and_a_missing_mset_fall_back_to_set_variable() -> None:
    """A value MSet would misread (a comma from a caller) is set with SET VARIABLE, and so is
    everything when Asterisk has no MSet (EXEC answers -2)."""
    lines, results = await _set_variables(
        [("IVR_SAID", "a,b=c"), ("IVR_QUEUE", "inquiry")],
        (b"200 result=1\n", b"200 result=1\n"))
    assert lines == [b'SET VARIABLE "IVR_SAID" "a,b=c"\n', b'SET VARIABLE "IVR_QUEUE" "inquiry"\n']
    assert results[0].ok
    lines, results = await _set_variables(
        [("IVR_STAGES", "1"), ("IVR_QUEUE", "inquiry")],
        (b"200 result=-2\n", b"200 result=1\n", b"200 result=1\n"))
    assert lines[0].startswith(b'EXEC "MSet"')
    assert lines[1:] == [
        b'SET VARIABLE "IVR_STAGES" "1"\n', b'SET VARIABLE "IVR_QUEUE" "inquiry"\n']
    assert results[0].ok

"""AMI client against a fake Asterisk manager on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio

from ivr.core.protocols.ami import AmiEvent
from ivr.core.settings import AmiSettings
from ivr.edges.ami import AmiClient
from ivr.errors import AmiError, AmiTimeout


@dataclass
class FakeManager:
    """Speaks enough AMI: banner, Login, Ping, QueueStatus, a never-answered action."""

    secret: str = "right"
    answer_pings: bool = True
    booted: bool = True  # a booting Asterisk sends FullyBooted later, not at login
    received: list[list[str]] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def actions(self, name: str) -> list[list[str]]:
        return [a for a in self.received if f"Action: {name}" in a]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                lines = block.decode().strip().split("\r\n")
                self.received.append(lines)
                fields = dict(line.split(": ", 1) for line in lines if ": " in line)
                action, action_id = fields.get("Action", ""), fields.get("ActionID", "")
                reply = self.reply(action, action_id, fields)
                if reply:
                    writer.write(reply.encode())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    def reply(self, action: str, action_id: str, fields: dict[str, str]) -> str:
        ok = f"Response: Success\r\nActionID: {action_id}\r\n"
        if action == "Login":
            if fields.get("Secret") != self.secret:
                return (
                    f"Response: Error\r\nActionID: {action_id}\r\n"
                    "Message: Authentication failed\r\n\r\n"
                )
            booted = ("Event: FullyBooted\r\nPrivilege: system,all\r\n"
                      "Status: Fully Booted\r\n\r\n") if self.booted else ""
            return ok + "Message: Authentication accepted\r\n\r\n" + booted
        if action == "Ping":
            return ok + "Ping: Pong\r\n\r\n" if self.answer_pings else ""
        if action == "Slow":
            return ""
        if action == "QueueStatus":
            return (
                f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\n"
                "Message: Queue status will follow\r\n\r\n"
                f"Event: QueueMember\r\nActionID: {action_id}\r\nQueue: report\r\n"
                "StateInterface: PJSIP/op1001\r\nPenalty: 0\r\nMembership: dynamic\r\n\r\n"
                f"Event: QueueStatusComplete\r\nActionID: {action_id}\r\n"
                "EventList: Complete\r\n\r\n"
            )
        return ok + "\r\n"

    def send_event(self, text: str) -> None:
        for writer in self.writers:
            if not writer.is_closing():
                writer.write(text.encode())

    def drop_connections(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeManager]:
    manager = FakeManager()
    manager.server = await asyncio.start_server(manager.handle, "127.0.0.1", 0)
    yield manager
    manager.drop_connections()
    manager.server.close()
    await manager.server.wait_closed()


def client_for(fake: FakeManager, secret: str = "right", **kw: float) -> AmiClient:
    options = {"action_timeout": 1.0, "ping_interval": 0.3, "ping_timeout": 0.3,
               "reconnect_min": 0.1, "reconnect_max": 0.2, **kw}
    return AmiClient(AmiSettings(port=fake.port, secret=secret, **options))


async def test_login_and_multi_message_action(fake: FakeManager) -> None:
    """Logs in with its secret; a list action returns every message of the list."""
    client = client_for(fake)
    await client.start(wait=2)
    try:
        messages = await client.action("QueueStatus", as_list=True)
        members = [m for m in messages if m.get("Event") == "QueueMember"]
        assert members[0]["StateInterface"] == "PJSIP/op1001"
    finally:
        await client.close()


async def test_connected_only_once_asterisk_is_fully_booted(fake: FakeManager) -> None:
    """A restarting Asterisk takes logins before app_queue is loaded: the link is not
    connected (no resync, no actions) until Asterisk says it is fully booted."""
    fake.booted = False
    client = client_for(fake, boot_timeout=5.0)
    ready: list[bool] = []

    async def resync() -> None:
        ready.append(True)

    client.on_ready(resync)
    await client.start()
    try:
        for _ in range(50):
            if fake.actions("Login"):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert not client.connected
        assert not ready
        fake.send_event("Event: FullyBooted\r\nPrivilege: system,all\r\n"
                        "Status: Fully Booted\r\n\r\n")
        await client.wait_connected(2)
        assert ready == [True]
    finally:
        await client.close()


async def test_no_fully_booted_event_connects_after_the_bound(fake: FakeManager) -> None:
    """An AMI user without the system read class never gets FullyBooted: the link still
    comes up, after ``boot_timeout``."""
    fake.booted = False
    client = client_for(fake, boot_timeout=0.5)
    await client.start(wait=3)
    try:
        assert (await client.action("Ping"))[0]["Response"] == "Success"
    finally:
        await client.close()


async def test_wrong_secret_is_a_clear_error(fake: FakeManager) -> None:
    """A refused login is an AmiError naming the address, not a hang."""
    client = client_for(fake, secret="wrong")
    with pytest.raises(AmiError, match="could not log in"):
        await client.start(wait=1)


async def test_action_timeout(fake: FakeManager) -> None:
    """An action Asterisk never answers times out with AmiTimeout."""
    client = client_for(fake)
    await client.start(wait=2)
    try:
        with pytest.raises(AmiTimeout, match="Slow"):
            await client.action("Slow", timeout=0.3)
    finally:
        await client.close()


async def test_values_cannot_inject_headers(fake: FakeManager) -> None:
    """A CR/LF in a value stays inside its header on the wire."""
    client = client_for(fake)
    await client.start(wait=2)
    try:
        await client.action("QueueAdd", {"Queue": "report", "MemberName": "Li\r\nAction: Logoff"})
    finally:
        await client.close()
    [sent] = fake.actions("QueueAdd")
    assert "MemberName: Li  Action: Logoff" in sent
    assert fake.actions("Logoff") == []


async def test_events_reach_handlers(fake: FakeManager) -> None:
    """Events are delivered as AmiEvent; a handler that raises does not stop the others."""
    client = client_for(fake)
    got: list[AmiEvent] = []

    def broken(_: AmiEvent) -> None:
        raise RuntimeError("bad handler")

    client.on_event(broken)
    client.on_event(got.append)
    await client.start(wait=2)
    try:
        fake.send_event("Event: QueueCallerJoin\r\nQueue: report\r\nCallerIDNum: 138\r\n\r\n")
        for _ in range(50):
            joins = [e for e in got if e.name == "QueueCallerJoin"]
            if joins:
                break
            await asyncio.sleep(0.02)
        assert joins[0].get("Queue") == "report"
    finally:
        await client.close()


async def test_silent_link_is_dropped_reconnected_and_resynced(fake: FakeManager) -> None:
    """Unanswered pings drop the link; the client reconnects and runs its resync hook again."""
    client = client_for(fake)
    resyncs: list[int] = []

    async def resync() -> None:
        resyncs.append(len(resyncs))

    client.on_ready(resync)
    await client.start(wait=2)
    try:
        fake.answer_pings = False
        await asyncio.sleep(1.0)
        fake.answer_pings = True
        await client.wait_connected(3)
        for _ in range(100):
            if len(resyncs) >= 2:
                break
            await asyncio.sleep(0.05)
        assert client.reconnects >= 1
        assert len(resyncs) >= 2
        assert len(fake.actions("Login")) >= 2
    finally:
        await client.close()


async def test_pending_action_fails_on_link_loss_and_is_never_resent(fake: FakeManager) -> None:
    """An action in flight when the link drops fails; it is not replayed after reconnect."""
    client = client_for(fake, ping_interval=5.0)
    await client.start(wait=2)
    try:
        pending = asyncio.create_task(client.action("Slow", timeout=3))
        await asyncio.sleep(0.2)
        fake.drop_connections()
        with pytest.raises(AmiError):
            await pending
        await client.wait_connected(3)
        await asyncio.sleep(0.3)
        assert len(fake.actions("Slow")) == 1
    finally:
        await client.close()


async def test_action_while_disconnected_fails_fast(fake: FakeManager) -> None:
    """With no link, an action fails at once instead of queueing for later."""
    client = client_for(fake)
    with pytest.raises(AmiError, match="not connected"):
        await client.action("Ping")


async def test_a_message_that_never_ends_drops_the_link(fake: FakeManager) -> None:
    """A peer streaming one endless message (2 MiB, in small chunks) is cut off and the link
    re-opened: memory stays bounded, and the next login works as after any loss."""
    client = client_for(fake, ping_interval=30)
    await client.start(wait=2)
    try:
        writer = fake.writers[-1]
        chunk = b"Event: Flood\r\n" + b"Junk: " + b"x" * 4000 + b"\r\n"
        for _ in range(512):
            if writer.is_closing():
                break
            writer.write(chunk)
            await writer.drain()
        logins = len(fake.actions("Login"))
        for _ in range(50):
            if len(fake.actions("Login")) > logins and client.connected:
                break
            await asyncio.sleep(0.1)
        assert client.reconnects >= 1
        assert client.connected
        assert await client.action("QueueStatus", as_list=True)
    finally:
        await client.close()


async def test_events_split_across_chunks_are_read_whole(fake: FakeManager) -> None:
    """Messages cut anywhere (even inside the empty line that ends them) arrive whole."""
    seen: list[AmiEvent] = []
    client = client_for(fake)
    client.on_event(seen.append)
    await client.start(wait=2)
    try:
        text = b"".join(
            f"Event: QueueCallerJoin\r\nQueue: inquiry\r\nPosition: {n}\r\n\r\n".encode()
            for n in range(1, 4)
        )
        writer = fake.writers[-1]
        for i in range(0, len(text), 3):
            writer.write(text[i:i + 3])
            await writer.drain()
            await asyncio.sleep(0)
        for _ in range(50):
            if len([e for e in seen if e.name == "QueueCallerJoin"]) == 3:
                break
            await asyncio.sleep(0.05)
        joined = [e for e in seen if e.name == "QueueCallerJoin"]
        assert [e.get("Position") for e in joined] == ["1", "2", "3"]
    finally:
        await client.close()


async def test_the_loops_cpu_on_ami_events_is_counted(fake: FakeManager) -> None:
    """The event loop's CPU spent on what the link receives (each event's handlers included)
    is counted in ``event_cpu_seconds``; time the link sits idle is not."""
    client = client_for(fake)
    handled: list[str] = []

    def costly(event: AmiEvent) -> None:
        until = time.thread_time() + 0.02
        while time.thread_time() < until:
            pass
        handled.append(event.name)

    client.on_event(costly)
    await client.start(wait=2)
    try:
        handled.clear()
        idle_from = client.event_cpu_seconds
        await asyncio.sleep(0.5)  # pings and pongs only
        assert client.event_cpu_seconds - idle_from < 0.02
        before, loop_before = client.event_cpu_seconds, time.thread_time()
        for n in range(5):
            fake.send_event(f"Event: QueueCallerJoin\r\nQueue: report\r\nPosition: {n}\r\n\r\n")
        for _ in range(100):
            if len(handled) == 5:
                break
            await asyncio.sleep(0.02)
        counted = client.event_cpu_seconds - before
        assert handled == ["QueueCallerJoin"] * 5
        assert counted >= 5 * 0.02
        assert counted <= time.thread_time() - loop_before  # the loop's own CPU, no more
    finally:
        await client.close()

"""FastAGI server: the edge where Asterisk hands us each call.

We read the handshake ourselves (panoramisk 1.4's server spins at 100% CPU on a truncated
one): a size cap, a deadline and an end-of-file check, so a bad peer costs only its own
connection. A session is refused unless its AGI URL carries the installation's secret
(generated at set-up, rendered into the dialplan), and while a call's session runs no other
session may claim its unique id: a local process cannot pose as Asterisk and overwrite a call.
Each accepted session runs the call handler with ``call_id``, ``channel`` and ``caller`` bound
in the log context.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Sequence

import structlog

from ivr.core.protocols.agi import (
    AgiEnvironment,
    AgiResult,
    HandshakeReader,
    ResponseReader,
    check_variable_name,
    encode_command,
    mset_argument,
)
from ivr.core.settings import AgiSettings
from ivr.errors import HandshakeError, ProtocolError

log = structlog.get_logger("ivr.fastagi")
_NO_SUCH_APPLICATION = -2  # EXEC's result for an application Asterisk does not have


class AgiChannel:
    """One call's AGI session. ``command`` never raises for a hang-up: it returns a result
    with ``hung_up=True`` and the session stays hung up from then on."""

    def __init__(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        command_timeout: float,
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout
        self._responses = ResponseReader()
        self._hung_up = False
        # Why the session was given up while the caller may still be there (a command left
        # unanswered past the timeout), or None: the call's record must not say "hung up".
        self.failure: str | None = None
        self._lock = asyncio.Lock()

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    async def command(self, verb: str, *args: str | int) -> AgiResult:
        line = encode_command(verb, *args)
        async with self._lock:
            if self._hung_up:
                return AgiResult.connection_lost()
            try:
                self._writer.write(line)
                await self._writer.drain()
                result = await asyncio.wait_for(self._read_result(), self._timeout)
            except TimeoutError:
                # Asterisk may still answer later: the session cannot be used any more, but
                # the caller has not hung up (the dialplan sends them to the general queue).
                self.failure = f"no answer to {verb} within {self._timeout:g} s"
                log.warning("agi_command_timed_out", command=verb, timeout=self._timeout)
                result = AgiResult(code=0, result=-1, hung_up=True, message=self.failure)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                log.info("agi_connection_lost", command=verb, reason=type(exc).__name__)
                result = AgiResult.connection_lost()
            except (ProtocolError, ValueError) as exc:
                log.warning("agi_protocol_error", command=verb, error=str(exc))
                result = AgiResult.connection_lost()
            if result.hung_up:
                self._hung_up = True
            log.debug("agi_command", command=verb, code=result.code, result=result.result)
            return result

    async def _read_result(self) -> AgiResult:
        while True:
            line = await self._reader.readline()
            if not line:
                return AgiResult.connection_lost()
            outcome = self._responses.receive_line(line)
            if isinstance(outcome, AgiResult):
                return outcome

    # Thin helpers for the commands the IVR uses; arguments are always quoted by the codec.

    async def answer(self) -> AgiResult:
        return await self.command("ANSWER")

    async def set_variable(self, name: str, value: str) -> AgiResult:
        return await self.command("SET VARIABLE", check_variable_name(name), value)

    async def set_variables(self, variables: Sequence[tuple[str, str]]) -> AgiResult:
        """Set ``variables`` in order, in one round trip when their values allow it
        (``EXEC MSet``, see ``mset_argument``), else one ``SET VARIABLE`` each; the result of
        the one command, or of the first that failed, or of the last."""
        argument = mset_argument(variables)
        if argument is not None:
            result = await self.command("EXEC", "MSet", argument)
            if result.result != _NO_SUCH_APPLICATION or result.hung_up:
                return result
            log.warning("agi_mset_unavailable")  # an Asterisk without MSet: one at a time
        result = AgiResult(code=200, result=1)
        for name, value in variables:
            result = await self.set_variable(name, value)
            if not result.ok:
                return result
        return result

    async def get_variable(self, name: str) -> str | None:
        result = await self.command("GET VARIABLE", check_variable_name(name))
        return result.data if result.ok and result.result == 1 else None

    async def stream_file(self, sound: str, escape_digits: str = "") -> AgiResult:
        return await self.command("STREAM FILE", sound, escape_digits)

    async def wait_for_digit(self, timeout_ms: int) -> AgiResult:
        return await self.command("WAIT FOR DIGIT", timeout_ms)


CallHandler = Callable[[AgiChannel], Awaitable[None]]


async def read_handshake(
    reader: asyncio.StreamReader, max_bytes: int, timeout: float
) -> AgiEnvironment:
    """Read the ``agi_*`` block with a cap, a deadline and an EOF check."""
    parser = HandshakeReader(max_bytes)

    async def _read() -> AgiEnvironment:
        while True:
            event = parser.next_event()
            if isinstance(event, AgiEnvironment):
                return event
            parser.receive_data(await reader.read(4096))

    try:
        return await asyncio.wait_for(_read(), timeout)
    except TimeoutError as exc:
        raise HandshakeError(f"no complete handshake within {timeout:g} s") from exc


class FastAgiServer:
    """Listens for Asterisk's FastAGI connections and runs ``handler`` for each call."""

    def __init__(self, settings: AgiSettings, handler: CallHandler) -> None:
        self._settings = settings
        self._handler = handler
        self._server: asyncio.Server | None = None
        if not settings.secret:
            raise ValueError("FastAGI needs its secret (generated at set-up, secrets.json)")
        self._sessions: set[asyncio.Task[None]] = set()
        self._live_calls: set[str] = set()
        # Connections still sending their handshake, oldest first (dicts keep order).
        self._handshaking: dict[asyncio.StreamWriter, None] = {}
        self._allowed = [ipaddress.ip_network(p, strict=False) for p in settings.allowed_peers]

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FastAGI server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    async def start(self) -> None:
        # Worker processes ([agi] workers) share the port; the kernel spreads the connections.
        self._server = await asyncio.start_server(
            self._on_connection, self._settings.host, self._settings.port,
            limit=self._settings.handshake_max_bytes, reuse_port=self._settings.workers > 1,
        )
        log.info("fastagi_listening", host=self._settings.host, port=self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    @property
    def pending_handshakes(self) -> int:
        return len(self._handshaking)

    def _make_room_for_a_handshake(self) -> None:
        """At most ``max_handshakes`` connections may be sending their handshake: past that the
        oldest is dropped. Asterisk sends its block at once, so the oldest is the one idling
        (half-open, or trickling bytes): a flood of them holds a bounded number of file
        descriptors and never keeps a real call from its handshake."""
        while len(self._handshaking) >= self._settings.max_handshakes:
            oldest = next(iter(self._handshaking))
            del self._handshaking[oldest]
            log.warning("agi_handshake_dropped", reason="too many connections without a "
                        f"handshake (max_handshakes = {self._settings.max_handshakes})")
            oldest.transport.abort()

    def _peer_allowed(self, peer: object) -> bool:
        try:
            address = ipaddress.ip_address(peer[0] if isinstance(peer, tuple) else "")
        except ValueError:
            return False
        return any(address in net for net in self._allowed)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:  # always, inside a connection callback
            self._sessions.add(task)
        peer = writer.get_extra_info("peername")
        live: str | None = None
        try:
            if not self._peer_allowed(peer):
                log.warning("agi_peer_refused", peer=str(peer))
                return
            self._make_room_for_a_handshake()
            self._handshaking[writer] = None
            try:
                env = await read_handshake(
                    reader, self._settings.handshake_max_bytes, self._settings.handshake_timeout
                )
            except (HandshakeError, ConnectionError) as exc:
                log.warning("agi_handshake_rejected", peer=str(peer), reason=str(exc))
                return
            finally:
                self._handshaking.pop(writer, None)
            if not hmac.compare_digest(env.secret.encode(), self._settings.secret.encode()):
                log.warning("agi_peer_unauthenticated", peer=str(peer),
                            reason="wrong secret" if env.secret else "no secret")
                return
            call_key = env.unique_id or env.channel
            if call_key in self._live_calls:
                log.warning("agi_unique_id_in_use", peer=str(peer), call_id=call_key)
                return
            live = call_key
            self._live_calls.add(live)
            channel = AgiChannel(env, reader, writer, self._settings.command_timeout)
            with structlog.contextvars.bound_contextvars(
                call_id=env.unique_id, channel=env.channel, caller=env.caller_number
            ):
                try:
                    await self._handler(channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # One call's bug must not take the server down; the dialplan's fallback
                    # sends this caller to the general queue when we close the socket.
                    log.exception("call_handler_failed")
        finally:
            # Released before the socket closes: Asterisk starts the call's next session
            # (survey, callback) only once this one has ended.
            if live is not None:
                self._live_calls.discard(live)
            if task is not None:
                self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

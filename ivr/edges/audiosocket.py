"""AudioSocket server: the edge where Asterisk streams a caller's audio to us, and we play back.

Theory of operation
-------------------
A call handler that wants to hear the caller reserves a stream id, then runs the dialplan
application over AGI and claims the connection Asterisk opens for it::

    call_id = streams.reserve()
    exec_task = asyncio.create_task(agi.command("EXEC", "AudioSocket", f"{call_id},{address}"))
    stream = await streams.claim(call_id, timeout=3.0)     # StreamNotConnected if it never came
    ...                                                      # frames(), play(), stop_playing()
    await stream.close()                                     # EXEC returns 200 result=0
    await exec_task

The server reads the UUID frame within ``uuid_timeout`` and hands the connection to the
reservation with that UUID. A connection with no UUID in time, an unknown or already used UUID,
or a frame the codec refuses is closed, and only that connection: each runs in its own task
with its own ``FrameReader``. Per-stream deadlines: ``claim_timeout`` (nobody claimed it),
``idle_timeout`` (Asterisk sent nothing) and ``max_stream_seconds`` (whole stream).

Asterisk drops the socket when neither side sends anything for about 2 s, so a stream always
sends: the next 20 ms frame of the prompt being played, or a frame of silence. One pacing task
for the whole server ticks every 20 ms and writes one frame to every open stream (one timer for
all calls instead of one per call); when the loop was late it catches up a few frames, then
resynchronises rather than bursting. ``play`` waits until its last frame went out;
``stop_playing`` (barge-in) drops what is left at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import wave
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from ivr.core.protocols.audiosocket import (
    CLOSED,
    FRAME_MS,
    NEED_DATA,
    SAMPLE_BYTES,
    SAMPLE_RATE,
    SILENCE_AUDIO_FRAME,
    Audio,
    FrameReader,
    KeyPressed,
    PeerError,
    StreamHungUp,
    StreamStarted,
    encode_audio,
    encode_hangup,
    split_frames,
)
from ivr.errors import AudioError, ProtocolError, StreamNotConnected

log = structlog.get_logger("ivr.audiosocket")

TICK = FRAME_MS / 1000
MAX_CATCH_UP_FRAMES = 3
READ_CHUNK = 4096

CallerInput = Audio | KeyPressed


def read_prompt_pcm(path: Path) -> bytes:
    """The samples of a prompt WAV, ready for ``AudioStream.play``; blocking (file I/O).

    The file must already be 8 kHz mono 16-bit (what ``ivr prompts`` builds under
    ``prompts/audio/<lang>/``); anything else is an ``AudioError``, never resampled here.
    Call it through ``asyncio.to_thread`` (or cache the result at start-up).
    """
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            if shape != (SAMPLE_RATE, 1, SAMPLE_BYTES):
                raise AudioError(f"{path}: {shape[0]} Hz, {shape[1]} channel(s), "
                                 f"{8 * shape[2]}-bit; AudioSocket plays 8 kHz mono 16-bit")
            return wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"cannot read prompt {path}: {exc}") from exc


class AudioStream:
    """One call's AudioSocket connection, as the call handler sees it.

    ``frames()`` yields the caller's audio and keys in order until the stream ends (the caller
    hung up, Asterisk closed it, a deadline passed, or it broke); it never raises for those:
    ``end_reason`` says which. Audio that nobody reads is kept up to ``max_buffered_frames``,
    oldest dropped first. ``play`` sends PCM (16-bit 8 kHz mono) in real time; ``close`` ends
    the stream politely (a hangup frame, so the AGI ``EXEC AudioSocket`` returns and the call
    goes on). Everything here runs on the event loop and never blocks.
    """

    def __init__(
        self,
        call_id: uuid.UUID,
        writer: asyncio.StreamWriter,
        max_buffered_frames: int,
        max_write_backlog: int,
    ) -> None:
        self.call_id = call_id
        self._writer = writer
        self._inbox: deque[CallerInput] = deque()
        self._max_buffered = max_buffered_frames
        self._max_backlog = max_write_backlog
        self._arrived = asyncio.Event()
        self._outgoing: deque[bytes] = deque()
        self._playing: asyncio.Future[bool] | None = None
        self._play_lock = asyncio.Lock()
        self.end_reason: str | None = None
        self.claimed = False
        self.dropped_frames = 0
        self.frames_sent = 0

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    @property
    def playing(self) -> bool:
        return self._playing is not None and not self._playing.done()

    async def frames(self) -> AsyncIterator[CallerInput]:
        """The caller's audio and keys, oldest first, until the stream ends (one reader)."""
        while True:
            while self._inbox:
                yield self._inbox.popleft()
            if self.ended:
                return
            self._arrived.clear()
            await self._arrived.wait()

    def discard_buffered(self) -> int:
        """Forget caller input received so far (e.g. before a new turn); returns how many."""
        count = len(self._inbox)
        self._inbox.clear()
        return count

    async def play(self, pcm: bytes) -> bool:
        """Play PCM to the caller, paced at 20 ms a frame. True if it played to the end.

        False when ``stop_playing`` cut it short or the stream ended. Cancelling the awaiting
        task stops the sound at once too. Several ``play`` calls play one after the other.
        """
        frames = [encode_audio(f) for f in split_frames(pcm)]
        async with self._play_lock:
            if self.ended:
                return False
            if not frames:
                return True
            done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._outgoing.extend(frames)
            self._playing = done
            try:
                return await done
            except asyncio.CancelledError:
                self._outgoing.clear()  # silence now, not after the prompt
                raise
            finally:
                self._playing = None

    def stop_playing(self) -> None:
        """Barge-in: drop the rest of the prompt now; the pending ``play`` returns False."""
        self._outgoing.clear()
        if self._playing is not None and not self._playing.done():
            self._playing.set_result(False)

    async def close(self, reason: str = "closed by the application") -> None:
        """Say hangup to Asterisk and close the connection; idempotent."""
        if self._end(reason):
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                self._writer.write(encode_hangup())
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    # ------------------------------------------------------------ used by the server

    def _received(self, item: CallerInput) -> None:
        if len(self._inbox) >= self._max_buffered:
            self._inbox.popleft()
            self.dropped_frames += 1
        self._inbox.append(item)
        self._arrived.set()

    def _end(self, reason: str) -> bool:
        """Mark the stream ended; True the first time only."""
        if self.end_reason is not None:
            return False
        self.end_reason = reason
        self.stop_playing()
        self._arrived.set()
        return True

    def _send_next(self) -> None:
        """One tick of the pacer: the next prompt frame, or silence to keep Asterisk with us."""
        if self.ended or self._writer.is_closing():
            return
        if self._outgoing:
            frame = self._outgoing.popleft()
        else:
            frame = SILENCE_AUDIO_FRAME
            if self._playing is not None and not self._playing.done():
                self._playing.set_result(True)
        transport = self._writer.transport
        if transport.get_write_buffer_size() > self._max_backlog:
            self._end("Asterisk stopped reading our audio")
            self._writer.close()
            return
        self._writer.write(frame)
        self.frames_sent += 1


class StreamRegistry:
    """Streams by call UUID: the AGI side reserves and claims, the server side delivers.

    Only reserved UUIDs are accepted, so a port probe or a stray connection cannot park a
    stream here; each reservation takes one connection.
    """

    def __init__(self) -> None:
        self._waiting: dict[uuid.UUID, asyncio.Future[AudioStream]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def reserve(self) -> uuid.UUID:
        """A fresh UUID to pass to ``EXEC AudioSocket``; claim it (or ``release`` it) after."""
        call_id = uuid.uuid4()
        self._waiting[call_id] = asyncio.get_running_loop().create_future()
        return call_id

    def release(self, call_id: uuid.UUID) -> None:
        """Give up a reservation (the AGI command failed); a late connection is refused."""
        future = self._waiting.pop(call_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def claim(self, call_id: uuid.UUID, timeout: float) -> AudioStream:
        """Wait up to ``timeout`` seconds for the stream of a reserved UUID.

        Raises ``StreamNotConnected`` when it does not arrive (the reservation is released).
        """
        future = self._waiting.get(call_id)
        if future is None:
            raise StreamNotConnected(f"no reservation for AudioSocket stream {call_id}")
        try:
            stream = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError as exc:
            raise StreamNotConnected(
                f"Asterisk opened no AudioSocket stream for {call_id} within {timeout:g} s"
            ) from exc
        finally:
            self.release(call_id)
        stream.claimed = True
        return stream

    def _deliver(self, stream: AudioStream) -> bool:
        future = self._waiting.get(stream.call_id)
        if future is None or future.done():
            return False
        future.set_result(stream)
        return True


class _Pacer:
    """One task that sends a frame to every open stream every 20 ms; see the module docs."""

    def __init__(self) -> None:
        self.streams: set[AudioStream] = set()
        self._task: asyncio.Task[None] | None = None
        self.late_ticks = 0

    def add(self, stream: AudioStream) -> None:
        self.streams.add(stream)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="audiosocket-pacer")

    def discard(self, stream: AudioStream) -> None:
        self.streams.discard(stream)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while self.streams:
            due = int((loop.time() - next_tick) / TICK) + 1
            if due > MAX_CATCH_UP_FRAMES:
                self.late_ticks += 1
                next_tick = loop.time()  # resynchronise rather than burst
                due = MAX_CATCH_UP_FRAMES
            for _ in range(due):
                for stream in list(self.streams):
                    stream._send_next()
                next_tick += TICK
            await asyncio.sleep(max(0.0, next_tick - loop.time()))


class AudioSocketServer:
    """Accepts Asterisk's AudioSocket connections and delivers them to ``registry``.

    Settings are plain arguments (seconds, frames, bytes); see the module docstring.
    """

    def __init__(
        self,
        registry: StreamRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 9092,
        uuid_timeout: float = 2.0,
        claim_timeout: float = 5.0,
        idle_timeout: float = 10.0,
        max_stream_seconds: float = 900.0,
        max_buffered_seconds: float = 30.0,
        max_write_backlog: int = 32000,
        max_pending: int = 64,
    ) -> None:
        self.registry = registry
        self._max_pending = max_pending
        # Connections that have not sent their stream's UUID yet, oldest first.
        self._pending: dict[asyncio.StreamWriter, None] = {}
        self._host = host
        self._port = port
        self._uuid_timeout = uuid_timeout
        self._claim_timeout = claim_timeout
        self._idle_timeout = idle_timeout
        self._max_seconds = max_stream_seconds
        self._max_buffered = max(1, int(max_buffered_seconds * 1000 / FRAME_MS))
        self._max_backlog = max_write_backlog
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._pacer = _Pacer()
        self.rejected = 0

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("AudioSocket server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> str:
        """``host:port`` as the dialplan application wants it."""
        return f"{self._host}:{self.port}"

    @property
    def pending_connections(self) -> int:
        """Connections that have not sent their stream's UUID yet."""
        return len(self._pending)

    @property
    def open_streams(self) -> int:
        return len(self._pacer.streams)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self._host, self._port)
        log.info("audiosocket_listening", host=self._host, port=self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await self._pacer.stop()
        await self._server.wait_closed()
        self._server = None

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:  # always, inside a connection callback
            self._connections.add(task)
        frames = FrameReader()
        stream: AudioStream | None = None
        try:
            while len(self._pending) >= self._max_pending:
                # Asterisk sends the UUID at once: the oldest silent connection is dropped, so
                # a flood of them holds a bounded number of files and never keeps a call out.
                oldest = next(iter(self._pending))
                del self._pending[oldest]
                self.rejected += 1
                log.warning("audiosocket_pending_dropped", max_pending=self._max_pending)
                oldest.transport.abort()
            self._pending[writer] = None
            try:
                call_id = await self._read_call_id(reader, frames)
            finally:
                self._pending.pop(writer, None)
            if call_id is None:
                self.rejected += 1
                return
            stream = AudioStream(call_id, writer, self._max_buffered, self._max_backlog)
            if not self.registry._deliver(stream):
                self.rejected += 1
                log.warning("audiosocket_unexpected_stream", stream=str(call_id))
                return
            with structlog.contextvars.bound_contextvars(stream=str(call_id)):
                log.debug("audiosocket_stream_opened")
                self._pacer.add(stream)
                loop = asyncio.get_running_loop()
                unclaimed = loop.call_later(self._claim_timeout, self._drop_unclaimed, stream)
                try:
                    reason = await self._pump(reader, frames, stream)
                finally:
                    unclaimed.cancel()
                    self._pacer.discard(stream)
                if stream._end(reason):
                    log.info("audiosocket_stream_ended", reason=reason)
        finally:
            if stream is not None:
                stream._end("server stopped")
                self._pacer.discard(stream)
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _read_call_id(
        self, reader: asyncio.StreamReader, frames: FrameReader
    ) -> uuid.UUID | None:
        async def first_frame() -> object:
            while True:
                frame = frames.next_frame()
                if frame is not NEED_DATA:
                    return frame
                frames.receive_data(await reader.read(READ_CHUNK))

        try:
            frame = await asyncio.wait_for(first_frame(), self._uuid_timeout)
        except TimeoutError:
            log.warning("audiosocket_no_uuid", timeout=self._uuid_timeout)
            return None
        except (ProtocolError, ConnectionError) as exc:
            log.warning("audiosocket_bad_start", error=str(exc))
            return None
        if not isinstance(frame, StreamStarted):
            log.warning("audiosocket_bad_start", first=repr(frame))
            return None
        return frame.call_id

    def _drop_unclaimed(self, stream: AudioStream) -> None:
        if not stream.claimed and stream._end(f"not claimed within {self._claim_timeout:g} s"):
            log.warning("audiosocket_unclaimed", stream=str(stream.call_id))
            self.registry.release(stream.call_id)
            stream._writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, frames: FrameReader, stream: AudioStream
    ) -> str:
        """Move caller frames into the stream until it ends; returns why it ended."""
        deadline = time.monotonic() + self._max_seconds
        while not stream.ended:
            try:
                frame = frames.next_frame()
            except ProtocolError as exc:
                log.warning("audiosocket_protocol_error", error=str(exc))
                return f"protocol error: {exc}"
            if isinstance(frame, Audio | KeyPressed):
                stream._received(frame)
                continue
            if isinstance(frame, StreamHungUp) or frame is CLOSED:
                return "Asterisk ended the stream"
            if isinstance(frame, PeerError):
                return f"Asterisk reported error {frame.code}"
            if isinstance(frame, StreamStarted):
                log.warning("audiosocket_protocol_error", error="second UUID frame")
                return "protocol error: second UUID frame"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"stream longer than {self._max_seconds:g} s"
            try:
                data = await asyncio.wait_for(
                    reader.read(READ_CHUNK), min(self._idle_timeout, remaining)
                )
            except TimeoutError:
                if time.monotonic() >= deadline:
                    return f"stream longer than {self._max_seconds:g} s"
                return f"nothing from Asterisk for {self._idle_timeout:g} s"
            except ConnectionError as exc:
                return f"connection lost: {exc}"
            try:
                frames.receive_data(data)
            except ProtocolError as exc:  # only if already broken; kept for completeness
                return f"protocol error: {exc}"
        return stream.end_reason or "ended"

"""Simulated phones on the test bed: SIPp citizens who dial 12345 and operators who answer.

SIPp runs inside the sandbox chroot (it shares the host's loopback), so scenario files, DTMF
captures and speech files live under the chroot. Every value we put into a scenario is XML-
and SIP-safe: caller numbers are digits, display names are quoted with control characters
removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import shutil
import socket
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

from ivr.errors import SippError
from ivr.testbed.sipp.dtmf import DTMF_EVENTS, dtmf_pcap

_CALLER = re.compile(r"^[0-9+]{1,32}$")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_media_port() -> int:
    """An even UDP port whose successor (RTCP) is free too."""
    for _ in range(50):
        port = free_port()
        if port % 2 == 0 and port < 65000:
            return port
    raise SippError("no free even UDP port for RTP")


# SIPp gets SIGTERM when the process that started it dies, so a killed `ivr` never leaves
# phones answering on their ports. util-linux's setpriv sets that before exec: no Python runs
# in the child (no preexec_fn), so the spawn is a vfork that never holds the event loop.
_DIE_WITH_PARENT = ("setpriv", "--pdeathsig", "TERM", "--")


def _template(name: str) -> str:
    return resources.files("ivr.testbed.sipp").joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float


@dataclass(frozen=True, slots=True)
class Press:
    """RFC 2833 DTMF, one capture per key."""

    keys: str
    gap: float = 0.3


@dataclass(frozen=True, slots=True)
class Say:
    """Play an 8 kHz mu-law WAV (inside the chroot) as the caller's voice."""

    wav: str
    seconds: float


@dataclass(frozen=True, slots=True)
class HangUp:
    """The citizen hangs up now."""


@dataclass(frozen=True, slots=True)
class AwaitHangUp:
    """Stay on the line until the far end hangs up (at most ``timeout`` seconds: then the
    call fails, or with ``give_up`` the citizen hangs up, as a caller tired of waiting)."""

    timeout: float = 60.0
    give_up: bool = False


Step = Wait | Press | Say | HangUp | AwaitHangUp

_BYE = """  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: @@FROM@@ <sip:@@CALLER@@@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
"""

_AWAIT_BYE = """  <recv request="BYE" timeout="@@MS@@"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
"""


def _render_steps(steps: list[Step], dtmf_dir: Path | None, inside: str) -> str:
    """The scenario lines of ``steps``; key presses become pcaps in ``dtmf_dir``."""
    body: list[str] = []
    presses = 0
    ssrc = random.getrandbits(32)
    for index, step in enumerate(steps):
        if isinstance(step, Wait):
            body.append(f'  <pause milliseconds="{int(step.seconds * 1000)}"/>\n')
        elif isinstance(step, Press):
            for key in step.keys:
                if key not in DTMF_EVENTS:
                    raise SippError(f"not a DTMF key: {key!r}")
                if dtmf_dir is None:
                    raise SippError("key presses need a directory for their RTP captures")
                name_ = f"dtmf-{presses}.pcap"
                (dtmf_dir / name_).write_bytes(dtmf_pcap(key, press_index=presses, ssrc=ssrc))
                pcap = f"{inside}/{name_}"
                presses += 1
                body.append(
                    f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                    f'  <pause milliseconds="{int(step.gap * 1000)}"/>\n'
                )
        elif isinstance(step, Say):
            body.append(
                f'  <nop><action><exec rtp_stream="{escape(step.wav)},1,0"/></action></nop>\n'
                f'  <pause milliseconds="{int(step.seconds * 1000)}"/>\n'
            )
        elif isinstance(step, HangUp):
            body.append(_BYE)
        elif step.give_up:
            # SIPp's labels are numbers; one pair per step keeps them unique.
            gave_up, done = 9000 + 2 * index, 9001 + 2 * index
            body.append(
                _AWAIT_BYE.replace("@@MS@@", f'{int(step.timeout * 1000)}" ontimeout="{gave_up}')
                + f'  <nop next="{done}"/>\n  <label id="{gave_up}"/>\n'
                + _BYE + f'  <label id="{done}"/>\n')
        else:
            body.append(_AWAIT_BYE.replace("@@MS@@", str(int(step.timeout * 1000))))
    return "".join(body)


def render_citizen(
    caller: str, name: str, steps: list[Step], dtmf_dir: Path | None = None,
    inside: str = "/",
) -> str:
    """The citizen's scenario. Key presses are written as pcaps into ``dtmf_dir`` (the host
    path of the directory SIPp sees as ``inside``)."""
    if not _CALLER.match(caller):
        raise SippError(f"a test caller number is digits only: {caller!r}")
    display = name.translate(dict.fromkeys(range(32), " ")).replace("\\", "").replace('"', "'")
    body = [_render_steps(steps, dtmf_dir, inside)]
    if not steps or not isinstance(steps[-1], HangUp | AwaitHangUp):
        body.append(_BYE)
    text = _template("citizen.xml").replace("@@STEPS@@", "".join(body))
    # CDATA keeps the display name literal; a ']]>' cannot occur since ']' is not allowed.
    return text.replace("@@FROM@@", f'"{escape(display).replace("]", "")}"').replace(
        "@@CALLER@@", caller
    )


@dataclass(slots=True)
class CallResult:
    caller: str
    returncode: int
    output: str = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Phones:
    """Runs SIPp inside the sandbox root against Asterisk at ``sip_host:sip_port``."""

    def __init__(self, root: Path, sip_host: str = "127.0.0.1", sip_port: int = 5060) -> None:
        self.root = root
        self.sip = f"{sip_host}:{sip_port}"
        self.workdir = root / "tmp" / "ivr-sipp"

    def _inside(self, path: Path) -> str:
        return "/" + str(path.relative_to(self.root))

    def _command(self, scenario: Path, *extra: str) -> list[str]:
        if shutil.which("chroot") is None or not (self.root / "usr/bin/sipp").exists():
            raise SippError(f"SIPp is not installed in the sandbox {self.root}: `ivr sandbox up`")
        return [*_DIE_WITH_PARENT, "chroot", str(self.root), "sipp", "-sf",
                self._inside(scenario), *extra]

    async def call(
        self, steps: list[Step], *, caller: str, name: str = "", service: str = "12345",
        timeout: float = 120.0,
    ) -> CallResult:
        """Place one call and wait until it ends."""
        work = self.workdir / f"citizen-{uuid.uuid4().hex[:12]}"
        work.mkdir(parents=True)
        scenario = work / "citizen.xml"
        scenario.write_text(
            render_citizen(caller, name, steps, work, self._inside(work)), encoding="utf-8"
        )
        cmd = self._command(
            scenario, self.sip, "-s", service, "-m", "1", "-l", "1",
            "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1",
            "-mp", str(free_media_port()), "-timeout", f"{int(timeout)}s", "-timeout_error",
            "-nostdin", "-trace_err", "-error_file", self._inside(work / "errors.log"),
        )
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout + 10)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise SippError(f"SIPp citizen {caller} did not finish in {timeout:g} s") from exc
        except asyncio.CancelledError:
            proc.kill()  # the call is abandoned: its phone must not stay on the line
            await proc.wait()
            raise
        errors = work / "errors.log"
        detail = errors.read_text(errors="replace") if errors.exists() else ""
        shutil.rmtree(work, ignore_errors=True)
        text = out.decode(errors="replace") + detail
        return CallResult(caller, proc.returncode or 0, text)


async def _answering_phone(
    phones: Phones, scenario: Path, port: int, log: Path, *extra: str, what: str
) -> asyncio.subprocess.Process:
    """A SIPp UAS running ``scenario`` at loopback ``port``, its calls logged to ``log``."""
    cmd = phones._command(
        scenario, "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1",
        "-mp", str(free_media_port()), "-nostdin", "-trace_logs", *extra,
        "-log_file", phones._inside(log),
    )
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.3)
    if proc.returncode is not None:
        raise SippError(f"{what} on port {port} did not start")
    return proc


class OperatorPhone:
    """A SIPp UAS answering as one operator at its own loopback port."""

    def __init__(
        self, phones: Phones, operator: str, port: int, *, ring: float = 0.3, talk: float = 2.0
    ) -> None:
        self.phones = phones
        self.operator = operator
        self.port = port
        self.ring = ring
        self.talk = talk
        self.work = phones.workdir / f"operator-{operator}"
        self.log = self.work / "calls.log"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        scenario = self.work / "operator.xml"
        scenario.write_text(
            _template("operator.xml").replace("@@OPERATOR@@", self.operator)
            .replace("@@RING_MS@@", str(int(self.ring * 1000)))
            .replace("@@TALK_MS@@", str(int(self.talk * 1000))),
            encoding="utf-8",
        )
        self._proc = await _answering_phone(
            self.phones, scenario, self.port, self.log, "-aa",
            what=f"operator phone {self.operator}")

    def calls(self, event: str = "ANSWERED") -> list[str]:
        """Caller numbers of the calls that reached (REACHED) or were answered (ANSWERED)."""
        return self._field(event, "caller")

    def called(self, event: str = "ANSWERED") -> list[str]:
        """The numbers those calls were for (a gateway phone answers for many numbers)."""
        return self._field(event, "called")

    def _field(self, event: str, name: str) -> list[str]:
        if not self.log.exists():
            return []
        pattern = re.compile(rf"{event} .*?\b{name}=(\S*)")
        return pattern.findall(self.log.read_text(errors="replace"))

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 5)
            if self._proc.returncode is None:
                self._proc.kill()
                await self._proc.wait()
        self._proc = None


class AnsweringCitizen:
    """A citizen's phone behind the callback gateway (a SIPp UAS at ``port``): it answers the
    first call the hotline places, then takes ``steps`` (keys, pauses, waiting for the
    hotline to hang up). ``caller`` and ``called`` say who called whom."""

    def __init__(self, phones: Phones, port: int, steps: list[Step], *,
                 ring: float = 0.5) -> None:
        if steps and isinstance(steps[-1], HangUp):
            raise SippError("an answering citizen waits for the far end (AwaitHangUp)")
        self.phones = phones
        self.port = port
        self.steps = steps
        self.ring = ring
        self.work = phones.workdir / f"answering-{uuid.uuid4().hex[:12]}"
        self.log = self.work / "calls.log"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.work.mkdir(parents=True)
        scenario = self.work / "answering.xml"
        steps: list[Step] = self.steps or [AwaitHangUp()]
        scenario.write_text(
            _template("answering.xml").replace("@@RING_MS@@", str(int(self.ring * 1000)))
            .replace("@@STEPS@@", _render_steps(steps, self.work,
                                                self.phones._inside(self.work))),
            encoding="utf-8",
        )
        self._proc = await _answering_phone(
            self.phones, scenario, self.port, self.log, "-m", "1", what="answering citizen")

    async def finished(self, timeout: float) -> bool:
        """Wait until the one call is over; True if SIPp ended it without error."""
        if self._proc is None:
            return False
        try:
            code = await asyncio.wait_for(self._proc.wait(), timeout)
        except TimeoutError:
            return False
        return code == 0

    def _field(self, event: str, name: str) -> list[str]:
        if not self.log.exists():
            return []
        return re.findall(rf"{event} .*?\b{name}=(\S*)", self.log.read_text(errors="replace"))

    def calls(self) -> list[str]:
        """Who the answered calls came from (the caller ID shown)."""
        return self._field("ANSWERED", "caller")

    def called(self) -> list[str]:
        return self._field("ANSWERED", "called")

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 5)
            if self._proc.returncode is None:
                self._proc.kill()
                await self._proc.wait()
        self._proc = None

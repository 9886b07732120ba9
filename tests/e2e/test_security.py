"""Security by default on the running test bed: every listener on loopback, an AMI user that
cannot run CLI commands or touch the configuration, secrets generated and private."""

from __future__ import annotations

import asyncio
import resource
import socket
import stat
from pathlib import Path

import aiohttp
import pytest

from ivr.app import Hotline
from ivr.errors import AmiError
from ivr.testbed.sandbox import Sandbox

pytestmark = pytest.mark.asterisk


def listening(port: int, kind: str = "tcp") -> set[str]:
    """Local addresses with a socket bound to ``port`` (TCP in LISTEN, or UDP)."""
    out = set()
    for table in (kind, f"{kind}6"):
        path = Path("/proc/net") / table
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.rsplit(":", 1)
            if int(port_hex, 16) != port or (kind == "tcp" and state != "0A"):
                continue
            raw = bytes.fromhex(address)
            if len(raw) == 4:
                out.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:
                words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                out.add(socket.inet_ntop(socket.AF_INET6, b"".join(words)))
    return out


async def test_every_listener_is_on_loopback(hotline: Hotline) -> None:
    s = hotline.settings
    for port in (s.agi.port, s.speech.audiosocket_port, s.web_port, s.ami.port):
        assert listening(port) == {"127.0.0.1"}, port
    assert listening(s.sip.port, "udp") == {"127.0.0.1"}


async def test_the_ami_user_cannot_run_commands_or_read_config(hotline: Hotline) -> None:
    for action, fields in (("Command", {"Command": "core show version"}),
                           ("GetConfig", {"Filename": "manager.conf"}),
                           ("UpdateConfig", {"SrcFilename": "manager.conf",
                                             "DstFilename": "manager.conf"})):
        with pytest.raises(AmiError, match=r"(?i)permission denied"):
            await hotline.ami.action(action, fields)
    # What it needs still works.
    assert await hotline.ami.action("QueueStatus", as_list=True)


async def test_secrets_are_generated_and_private(hotline: Hotline) -> None:
    secrets_file = hotline.settings.secrets_file
    mode = stat.S_IMODE(secrets_file.stat().st_mode)
    assert mode == 0o600
    assert len(hotline.settings.ami.secret) >= 24
    assert hotline.settings.ami.secret not in (
        hotline.settings.project_dir / "config" / "ivr.toml").read_text()


async def test_a_fastagi_peer_without_the_secret_is_refused(hotline: Hotline) -> None:
    """A local process posing as Asterisk (a copy of a real call's handshake, without the set-up
    secret, or with a wrong one) gets no command and leaves no call record."""
    agi = hotline.settings.agi
    assert len(agi.secret) >= 24
    for query in ("", "?secret=guessed"):
        reader, writer = await asyncio.open_connection(agi.host, agi.port)
        writer.write(
            f"agi_network: yes\nagi_request: agi://{agi.host}:{agi.port}/ivr{query}\n"
            "agi_channel: PJSIP/citizens-00000fake\nagi_uniqueid: 1999999999.1\n"
            "agi_callerid: 13800000000\nagi_language: zh\nagi_context: citizens\n"
            "agi_extension: 12345\n\n".encode()
        )
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    assert await hotline.store.calls.get("1999999999.1") is None


async def test_the_files_holding_secrets_are_asterisks_alone(
    hotline: Hotline, sandbox: Sandbox
) -> None:
    """manager.conf (AMI secret) and extensions.conf (FastAGI secret) in the running test bed
    are 0600, owned by Asterisk's user; the database is 0600."""
    etc = sandbox.root / "etc/asterisk"
    for name in ("manager.conf", "extensions.conf"):
        assert stat.S_IMODE((etc / name).stat().st_mode) == 0o600, name
        assert (etc / name).stat().st_uid != 0, name
    db = hotline.store.path
    assert db is not None
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


async def test_healthz_shows_the_raised_open_files_limit(hotline: Hotline) -> None:
    """At start the soft open-files limit is raised to the hard one; /healthz shows it, the
    files open now, and the FastAGI connections still sending their handshake."""
    base = f"http://127.0.0.1:{hotline.settings.web_port}"
    async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as response:
        health = await response.json()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    expected = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    assert health["open_files_limit"] == expected
    assert 0 < health["open_files"] < health["open_files_limit"]
    assert health["agi_pending_handshakes"] == 0

"""`ivr call`, the newcomer's way to try the hotline, never waits forever."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.edges.ami import AmiClient
from ivr.operators.desk import OperatorDesk

pytestmark = pytest.mark.asterisk


async def test_a_call_nobody_can_answer_ends_within_its_bound(
    cfg: Settings, hotline: Hotline, ami: AmiClient
) -> None:
    """With every operator logged out, `ivr call --digits 12 --timeout 5` hangs up after 5 s
    in the queue, says what happened and what to check, and exits 1."""
    desk = OperatorDesk(cfg, ami)
    for op_id in cfg.operators:
        await desk.logout(op_id)
    started = time.monotonic()
    ivr = str(Path(sys.executable).parent / "ivr")
    proc = await asyncio.create_subprocess_exec(
        ivr, "call", "--digits", "12", "--timeout", "5", "--caller", "13900007001",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    spent = time.monotonic() - started
    text = out.decode()
    assert proc.returncode == 1, text
    assert "joined queue 'inquiry'; no operator answered within 5 s" in text
    assert "ivr operators list" in text
    # Menu (two keys, 1.5 s apart), 5 s in the queue, the hang-up: well under a minute.
    assert spent < 40, f"took {spent:.0f} s"
    # The caller really left the queue: nobody is waiting in it any more.
    status = await ami.action("QueueStatus", {"Queue": "inquiry"}, as_list=True)
    assert not [m for m in status if m.get("Event") == "QueueEntry"]

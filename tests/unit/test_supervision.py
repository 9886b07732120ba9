"""Live supervision's pure parts: which channel may reach ChanSpy, the dialplan's modes, the
operator's calls today in the live figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.core.figures import LiveFigures
from ivr.core.protocols.ami import AmiEvent
from ivr.core.supervision import SpyMode, own_channel, spy_target

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplans" / "extensions.conf"


def test_only_the_operators_own_channel_or_its_prefix_reaches_chanspy() -> None:
    assert spy_target("op1002", "PJSIP/op1002-0000002a") == "PJSIP/op1002-0000002a"
    # Another operator's channel, text after the id, an option smuggled in: the prefix.
    for channel in ("PJSIP/op1003-0000002a", "PJSIP/op1002-0000002a,qB",
                    "PJSIP/op1002-0000002a)", "PJSIP/op1002-", "", None):
        assert spy_target("op1002", channel) == "PJSIP/op1002-"
    assert own_channel("op1002", "PJSIP/op1002-0000002a,B") is None
    assert own_channel("op1002", "PJSIP/op1002-0000002a") == "PJSIP/op1002-0000002a"
    with pytest.raises(ValueError, match="not a PJSIP endpoint"):
        spy_target("op1002,qB", None)


def test_the_dialplan_has_one_chanspy_extension_per_mode() -> None:
    text = DIALPLAN.read_text(encoding="utf-8")
    context = text.split("[supervise]", 1)[1].split("\n[", 1)[0]
    options = {"listen": "qES)", "whisper": "qESw)", "barge": "qESB)"}
    for mode in SpyMode:
        assert f"exten => {mode.value},1," in context
        assert f"ChanSpy(${{IVR_SPY_CHANNEL}},{options[mode.value]}" in context


def test_an_operators_calls_today_span_every_queue() -> None:
    figures = LiveFigures(wrap_up_seconds=3.0)
    now = 1_796_300_000.0
    for n, (queue, talk) in enumerate((("inquiry", 60.0), ("hotline", 120.0))):
        fields = {"Queue": queue, "Uniqueid": f"u{n}", "Interface": "PJSIP/op1002",
                  "HoldTime": "1", "TalkTime": str(talk)}
        figures.apply(AmiEvent("AgentConnect", fields), now - talk)
        figures.apply(AmiEvent("AgentComplete", fields), now)
    today = figures.operator_today("PJSIP/op1002", now)
    assert today.completed == 2
    assert today.average_handle_time == pytest.approx(93.0)
    assert figures.operator_today("PJSIP/op1001", now).completed == 0
    assert figures.operator_today("PJSIP/op1002", now + 86_400).completed == 0  # a new day

"""The Asterisk configuration rendered from config/ and dialplans/."""

from __future__ import annotations

import dataclasses
import re

from ivr import settings
from ivr.core.figures import LiveFigures, Target
from ivr.core.protocols.ami import SUBSCRIBED_EVENTS
from ivr.tools.asterisk_files import asterisk_files

CFG = settings.load()


def test_manager_is_loopback_and_least_privilege() -> None:
    """AMI listens on loopback, with the generated secret, no command/config rights; system
    only as a read class (events such as FullyBooted), never written."""
    text = asterisk_files(CFG, "s3cret")["manager.conf"]
    assert "bindaddr = 127.0.0.1" in text
    assert "secret = s3cret" in text
    def classes(kind: str) -> set[str]:
        return {item.strip() for line in text.splitlines() if line.startswith(kind)
                for item in line.split("=", 1)[1].split(",")}

    assert classes("read")
    assert classes("write")
    assert not (classes("read") | classes("write")) & {"command", "config", "all"}
    assert "system" not in classes("write")


def test_the_ami_user_reads_only_what_the_application_uses() -> None:
    """Queue and channel events, reporting, the dialplan's UserEvents and system (FullyBooted
    after a restart): not the dialplan class (every Newexten and VarSet of every call,
    callers' data included)."""
    text = asterisk_files(CFG, "s3cret")["manager.conf"]
    read = next(line for line in text.splitlines() if line.startswith("read"))
    assert {c.strip() for c in read.split("=", 1)[1].split(",")} == {
        "system", "call", "agent", "reporting", "user"}


def test_asterisk_sends_the_application_only_the_events_it_handles() -> None:
    """manager.conf includes, by name, exactly the events some part of the application reads
    (the live figures' handlers among them); a call's VarSet, Newexten, DTMF, RTCP and bridge
    events are not among them, so Asterisk drops them before they are sent."""
    text = asterisk_files(CFG, "s3cret")["manager.conf"]
    included = re.findall(r"^eventfilter\(action\(include\),name\((\w+)\)\) =$", text, re.M)
    assert included == list(SUBSCRIBED_EVENTS)
    assert not [line for line in text.splitlines()
                if line.startswith("eventfilter") and "action(include),name(" not in line]
    figures = LiveFigures({"inquiry": Target(80, 20)})
    assert set(figures._handlers) <= set(included)
    assert {"FullyBooted", "UserEvent", "OriginateResponse", "AgentConnect",
            "QueueCallerAbandon", "QueueMemberPause"} <= set(included)
    assert not {"VarSet", "Newexten", "Newstate", "DTMFBegin", "DTMFEnd", "RTCPSent",
                "BridgeEnter", "Hangup", "AGIExecStart"} & set(included)


INJECTED = "Noise\n[evil]\nmember => PJSIP/intruder\u2028strategy = ringall\r;--"


def test_edited_names_cannot_add_a_line_to_asterisk_files() -> None:
    """A skill name, department or operator name holding newlines (had it got past the
    checks) stays inside its one comment line of queues.conf and pjsip.conf."""
    skill = CFG.skills["environment"]
    skills = dict(CFG.skills)
    skills["environment"] = dataclasses.replace(
        skill, names={**skill.names, "en": INJECTED}, department=INJECTED)
    operators = dict(CFG.operators)
    operators["op1001"] = dataclasses.replace(CFG.operators["op1001"], name=INJECTED)
    hostile = dataclasses.replace(CFG, skills=skills, operators=operators)
    for name in ("queues.conf", "pjsip.conf"):
        text = asterisk_files(hostile, "x")[name]
        clean = asterisk_files(CFG, "x")[name]
        lines = [line.strip() for line in text.splitlines()]
        assert "[evil]" not in lines
        assert not [line for line in lines if line.startswith(("member", "strategy = ringall"))]
        assert "\u2028" not in text
        assert "\r" not in text
        assert len(text.splitlines()) == len(clean.splitlines()), name


def test_every_operator_is_an_endpoint_with_its_contact() -> None:
    """Each operator of operators.yaml becomes a PJSIP endpoint at its own contact."""
    text = asterisk_files(CFG, "x")["pjsip.conf"]
    for op in CFG.operators.values():
        assert f"[{op.endpoint}]\ntype = endpoint" in text
        assert f"contact = {op.contact}" in text
    assert "bind = 127.0.0.1:5060" in text
    assert "media_address = 127.0.0.1" in text


def test_one_queue_per_skill_with_persistent_dynamic_members() -> None:
    """Every skill has a queue; members are added at login and survive an Asterisk restart."""
    text = asterisk_files(CFG, "x")["queues.conf"]
    for skill in CFG.skills:
        assert f"\n[{skill}]\n" in text
    assert "persistentmembers = yes" in text
    assert "member =>" not in text
    assert "autopause = all" in text
    assert "defaultrule = widening" in text
    rules = asterisk_files(CFG, "x")["queuerules.conf"]
    assert "[widening]" in rules
    assert "penaltychange => 30,+2" in rules


def _sections(text: str) -> dict[str, str]:
    parts = text.split("\n[")
    return {part.split("]", 1)[0]: part for part in parts[1:]}


def test_only_skill_queues_widen_by_rule_the_general_pool_is_never_gated() -> None:
    """A skill's queue widens by level over time; the general queue (key 0 and the app-down
    fallback), lang-* and op-* offer a call to every member at once."""
    queues = _sections(asterisk_files(CFG, "x")["queues.conf"])
    general = CFG.menu.general_queue
    for skill in CFG.skills:
        widens = "defaultrule = widening" in queues[skill]
        assert widens == (skill != general), skill
    for name in ("lang-zh", "lang-en", "op-op1001"):
        assert "defaultrule" not in queues[name], name


def test_dialplan_falls_back_to_the_general_queue() -> None:
    """12345 runs the AGI and, without a decision, queues in the general queue, where every
    operator may be offered the call at once (the general pool's member penalty)."""
    text = asterisk_files(CFG, "x")["extensions.conf"]
    assert "exten => 12345,1," in text
    assert f"AGI(agi://127.0.0.1:4573/ivr?secret={CFG.agi.secret})" in text
    assert ("Set(QUEUE_MAX_PENALTY=6)\n"
            f" same => n,Queue({CFG.menu.general_queue},t,,,,,record-call)" in text)
    assert "{{" not in text


def test_every_agi_url_carries_the_secret() -> None:
    """Each AGI() of the dialplan (menu, survey, callback, the failover node's) carries the
    FastAGI secret generated at set-up: the server refuses a session without it."""
    failover = dataclasses.replace(CFG, agi=dataclasses.replace(CFG.agi, failover="10.0.0.2:4573"))
    text = asterisk_files(failover, "x")["extensions.conf"]
    urls = re.findall(r"AGI\((agi://[^,)]*)", text)
    assert len(urls) >= 6
    assert len(CFG.agi.secret) >= 16
    assert all(url.endswith(f"/ivr?secret={CFG.agi.secret}") for url in urls), urls
    assert f"agi://10.0.0.2:4573/ivr?secret={CFG.agi.secret}" in urls


def test_place_updates_are_rendered_into_every_queue_when_the_policy_asks() -> None:
    """With [routing] position_every, app_queue tells each waiting caller their place that
    often, in the catalog's words, without its own hold-time guess; without it, never."""
    quiet = _sections(asterisk_files(CFG, "x")["queues.conf"])
    assert all("announce-frequency = 0\n" in q and "announce-position" not in q
               for q in quiet.values() if q != quiet.get("general"))
    cfg = dataclasses.replace(CFG, routing=dataclasses.replace(CFG.routing, position_every=45))
    queues = _sections(asterisk_files(cfg, "x")["queues.conf"])
    for name in (*CFG.skills, "lang-zh", "op-op1001"):
        q = queues[name]
        for line in ("announce-frequency = 45", "min-announce-frequency = 45",
                     "announce-position = yes", "announce-holdtime = no",
                     "queue-youarenext = ivr/queue-next", "queue-thereare = ivr/queue-place",
                     "queue-callswaiting = ivr/queue-place-end",
                     "queue-thankyou = ivr/queue-thanks"):
            assert f"\n{line}\n" in q, (name, line)


def test_answered_calls_are_recorded_by_the_queue_gosub_unless_off() -> None:
    """Every Queue() of a citizen runs the record-call gosub on the operator's channel when
    they answer: MixMonitor into the configured directory, named by the inherited call id;
    with recording off, no Queue() names it."""
    text = asterisk_files(CFG, "x")["extensions.conf"]
    queues = [line for line in text.splitlines() if "Queue(" in line and "CALLBACK" not in line]
    assert queues
    assert all(line.endswith(",record-call)") for line in queues), queues
    assert "Set(__IVR_CALL_ID=${UNIQUEID})" in text
    assert ("exten => s,1,MixMonitor(/var/spool/asterisk/recordings/${IVR_CALL_ID}.wav)"
            in text)
    off = dataclasses.replace(CFG, recordings=dataclasses.replace(CFG.recordings,
                                                                  enabled=False))
    text = asterisk_files(off, "x")["extensions.conf"]
    assert not [line for line in text.splitlines() if "Queue(" in line and "record-call" in line]

"""Queue membership: what resync changes so Asterisk's members match the operators' skills."""

from __future__ import annotations

from ivr import settings
from ivr.core.operators import Membership, memberships, plan

CFG = settings.load()


def test_members_follow_skills_and_levels() -> None:
    """Each operator joins each skill queue with penalty 5 - level, plus the later stages'
    queues: each language they speak, the general pool (last), and their own queue."""
    members = memberships(CFG, CFG.operators["op1001"])
    penalties = {queue: m.penalty for (queue, _), m in members.items()}
    assert penalties == {
        "report": 0, "suggestion": 2, "lang-zh": 0, "lang-en": 0, "hotline": 6, "op-op1001": 0,
    }


def test_login_with_some_skills_and_a_general_skill_at_its_level() -> None:
    """An operator logging in with one of their skills joins only that skill's queue; one
    who has the general queue's skill is there at their level, not at the pool's penalty."""
    some = memberships(CFG, CFG.operators["op1001"], ["suggestion"])
    assert {q for q, _ in some} == {"suggestion", "lang-zh", "lang-en", "hotline", "op-op1001"}
    general = memberships(CFG, CFG.operators["op1004"])  # hotline level 4
    assert general[("hotline", "PJSIP/op1004")].penalty == 1
    assert ("lang-en", "PJSIP/op1004") not in general  # speaks only zh


def test_resync_fixes_logged_in_operators_and_never_logs_anyone_in() -> None:
    """Missing skill queues of logged-in operators are added, penalties fixed, stale
    memberships removed; operators who are logged out stay logged out."""
    want = {
        ("report", "PJSIP/a"): Membership("report", "PJSIP/a", 0, "A"),
        ("inquiry", "PJSIP/a"): Membership("inquiry", "PJSIP/a", 2, "A"),
        ("report", "PJSIP/b"): Membership("report", "PJSIP/b", 1, "B"),
        ("report", "PJSIP/c"): Membership("report", "PJSIP/c", 1, "C"),
    }
    have = {
        ("report", "PJSIP/a"): 0,     # right
        ("report", "PJSIP/b"): 3,     # wrong penalty
        ("hotline", "PJSIP/b"): 0,    # no longer a skill of B
    }
    todo = plan(want, have, {"PJSIP/a", "PJSIP/b"})
    assert [(m.queue, m.interface) for m in todo.add] == [("inquiry", "PJSIP/a")]
    assert [(m.interface, m.penalty) for m in todo.repenalise] == [("PJSIP/b", 1)]
    assert todo.remove == (("hotline", "PJSIP/b"),)


def test_plan_is_empty_when_in_sync() -> None:
    """A second resync after a successful one changes nothing (no duplicates)."""
    want = {}
    for op in CFG.operators.values():
        want |= memberships(CFG, op)
    have = {key: m.penalty for key, m in want.items()}
    todo = plan(want, have, {m.interface for m in want.values()})
    assert (todo.add, todo.repenalise, todo.remove) == ((), (), ())

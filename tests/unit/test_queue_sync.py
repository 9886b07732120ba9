"""Queue membership: what to change so Asterisk's members match the operators' skills."""

from __future__ import annotations

from ivr import settings
from ivr.queues import Membership, desired_memberships, plan

CFG = settings.load()


def test_members_follow_skills_and_levels() -> None:
    """Each operator joins each skill queue with penalty 5 - level; the general queue is static."""
    desired = desired_memberships(CFG)
    assert desired[("report", "PJSIP/op1001")].penalty == 0
    assert desired[("suggestion", "PJSIP/op1001")].penalty == 2
    assert not any(queue == CFG.menu.general_queue for queue, _ in desired)


def test_plan_adds_repenalises_and_removes_only_what_differs() -> None:
    """Missing members are added, wrong penalties fixed, stale dynamic members removed."""
    want = {
        ("report", "PJSIP/a"): Membership("report", "PJSIP/a", 0, "A"),
        ("report", "PJSIP/b"): Membership("report", "PJSIP/b", 1, "B"),
        ("inquiry", "PJSIP/a"): Membership("inquiry", "PJSIP/a", 2, "A"),
    }
    have = {
        ("report", "PJSIP/b"): (3, True),       # wrong penalty
        ("inquiry", "PJSIP/a"): (2, True),      # right
        ("inquiry", "PJSIP/z"): (0, True),      # stale
        ("hotline", "PJSIP/z"): (0, False),     # static, not ours
        ("other", "PJSIP/q"): (0, True),        # queue we do not manage
    }
    todo = plan(want, have, {"report", "inquiry"})
    assert [m.interface for m in todo.add] == ["PJSIP/a"]
    assert [(m.queue, m.interface, m.penalty) for m in todo.repenalise] == [
        ("report", "PJSIP/b", 1)
    ]
    assert todo.remove == (("inquiry", "PJSIP/z"),)


def test_plan_is_empty_when_in_sync() -> None:
    """A second sync after a successful one changes nothing (no duplicates)."""
    want = desired_memberships(CFG)
    have = {key: (m.penalty, True) for key, m in want.items()}
    todo = plan(want, have, set(CFG.skills))
    assert (todo.add, todo.repenalise, todo.remove) == ((), (), ())

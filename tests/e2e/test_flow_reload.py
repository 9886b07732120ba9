"""An admin edits the live flow during the morning rush: no call is dropped or changed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.app import Hotline
from ivr.core.settings import Settings
from ivr.testbed.sandbox import Sandbox
from ivr.testbed.sipp import AwaitHangUp, OperatorPhone, Phones, Press, Step, Wait

from .conftest import answered_by, finished_record, wait_until_free

pytestmark = pytest.mark.asterisk

INQUIRY = 'skill: inquiry\n    priority: 5'
INQUIRY_TO_SUGGESTION = 'skill: suggestion\n    priority: 5'


@pytest_asyncio.fixture
async def editable(
    cfg: Settings, sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[Hotline]:
    """The hotline serving a copy of the shipped flow that the test edits."""
    flow = tmp_path / "12345.yaml"
    flow.write_text(cfg.flow_path.read_text(encoding="utf-8"), encoding="utf-8")
    app = Hotline(dataclasses.replace(cfg, flow_path=flow, flow_reload_interval=0.2))
    await app.start()
    await app.ami.wait_connected(10)
    yield app
    await app.stop()


def inquiry_call() -> list[Step]:
    """Mandarin, then 2 (inquiry) a few seconds into the main menu."""
    return [Wait(1.0), Press("1"), Wait(4.0), Press("2"), Wait(4.5), Press("3"), AwaitHangUp(40)]


async def published(app: Hotline, version_id: int) -> None:
    for _ in range(50):
        if app.flows.current().version_id != version_id:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the edit was not published")


async def test_edit_applies_to_the_next_call_not_to_the_one_in_the_menu(
    editable: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """A call in the menu finishes on the version it started with; the next call uses the
    edit; an invalid edit is rejected and calls keep flowing on the last good version."""
    app = editable
    path = app.settings.flow_path
    first = app.flows.current()
    await wait_until_free(app.ami, "PJSIP/op1002")

    in_menu = asyncio.create_task(phones.call(inquiry_call(), caller="13811110001"))
    await asyncio.sleep(3.0)  # the caller is listening to the main menu
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(INQUIRY, INQUIRY_TO_SUGGESTION), encoding="utf-8")
    await published(app, first.version_id)
    assert (await in_menu).ok
    assert answered_by(operators, "13811110001") == ["op1002"]  # inquiry: the old version
    old = await finished_record(app, "13811110001", survey=True)
    assert (old.queue, old.flow_version) == ("inquiry", first.version_id)

    second = app.flows.current()
    await wait_until_free(app.ami, "PJSIP/op1003")
    assert (await phones.call(inquiry_call(), caller="13811110002")).ok
    assert answered_by(operators, "13811110002") == ["op1003"]  # suggestion: the edit
    new = await finished_record(app, "13811110002", survey=True)
    assert (new.queue, new.flow_version) == ("suggestion", second.version_id)

    path.write_text("nodes: [this is not a flow\n", encoding="utf-8")
    await asyncio.sleep(0.6)
    assert app.flows.current() is second
    await wait_until_free(app.ami, "PJSIP/op1003")
    assert (await phones.call(inquiry_call(), caller="13811110003")).ok
    assert answered_by(operators, "13811110003") == ["op1003"]
    versions = await app.store.flow_versions.of("12345")
    assert [v.id for v in versions][-2:] == [first.version_id, second.version_id]


async def test_transfer_node_dials_the_department_while_its_desk_is_open(
    editable: Hotline, phones: Phones, operators: dict[str, OperatorPhone],
) -> None:
    """An admin turns key 0 into a transfer to a department's 24/7 desk; the next caller who
    presses 0 is put through to the department's line, not to a hotline operator."""
    app = editable
    path = app.settings.flow_path
    first = app.flows.current()
    text = path.read_text(encoding="utf-8").replace(
        '"0": route_operator\n    keywords:',
        '"0": utilities_desk\n    keywords:', 1,
    ) + (
        "  utilities_desk:\n    kind: transfer\n    number: \"65001234\"\n"
        "    schedule: utilities_emergency\n    closed: route_operator\n"
    )
    path.write_text(text, encoding="utf-8")
    await published(app, first.version_id)
    department = OperatorPhone(phones, "departments", 5099, talk=1.0)
    await department.start()
    try:
        steps: list[Step] = [Wait(1.0), Press("1"), Wait(1.5), Press("0"), AwaitHangUp(30)]
        assert (await phones.call(steps, caller="13811110009")).ok
        assert department.calls() == ["13811110009"]
    finally:
        await department.stop()
    assert answered_by(operators, "13811110009") == []
    record = await finished_record(app, "13811110009")
    assert record.outcome == "transferred"
    assert record.path[-1] == "utilities_desk"

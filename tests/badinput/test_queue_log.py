"""queue_log as Asterisk (or a torn write, or anything) leaves it: never fatal, never a record
out of garbage."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.call_facts import CallFacts, parse_queue_log_line, reconcile_call
from ivr.edges.files import read_new_lines

GOOD = "1796298160|1796298152.42|hotline|NONE|ENTERQUEUE||13800990003|1"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_queue_event_or_nothing(line: str) -> None:
    entry = parse_queue_log_line(line)
    if entry is None:
        return
    assert entry.call_id not in {"", "NONE", "REALTIME"}
    assert entry.event.isupper()
    facts = CallFacts(entry.call_id)
    facts.add(entry)  # whatever its fields say, folding never raises
    reconcile_call(facts, None, {}, "zh")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(GOOD) - 1), st.binary(max_size=40))
def test_torn_and_corrupted_lines(cut: int, junk: bytes) -> None:
    torn = GOOD[:cut]
    entry = parse_queue_log_line(torn + junk.decode("utf-8", "replace"))
    if entry is not None:
        assert entry.call_id == "1796298152.42" or entry.call_id in torn


def test_a_file_of_bytes_is_read_in_bounded_steps(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(b"\xff\xfe\x00garbage\n" + b"x" * 5000 + b"\n" + GOOD.encode() + b"\n"
                     + b"half a line")
    offset, inode, seen = 0, 0, []
    for _ in range(10):
        lines, offset, inode = read_new_lines(path, offset, inode, 1024)
        seen += [text for _, text in lines]
        for at, text in lines:  # each line's offset is where its bytes start
            assert path.read_bytes()[at:at + len(text)] == text.encode() or "\ufffd" in text
    assert GOOD in seen
    assert offset == path.stat().st_size - len(b"half a line")  # left for the next read
    assert [line for line in seen if parse_queue_log_line(line)] == [GOOD]

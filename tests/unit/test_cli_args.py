"""The command line accepts what the README and BENCHMARKS.md show."""

from __future__ import annotations

import pytest

from ivr.cli import parse_args


@pytest.mark.parametrize("argv", [
    ["bench", "load", "--json", "--", "--rates", "2,10,30", "--seconds", "15"],
    ["bench", "--json", "load", "--", "--rates", "2,10,30", "--seconds", "15"],
])
def test_bench_options_in_either_order(argv: list[str]) -> None:
    """`--json` before or after the benchmark's name; the script's options after `--`."""
    args = parse_args(argv)
    assert (args.what, args.json) == ("load", True)
    assert args.extra == ["--rates", "2,10,30", "--seconds", "15"]


def test_bench_without_script_options() -> None:
    """No `--`: the script gets no options of its own."""
    args = parse_args(["bench", "agi"])
    assert (args.what, args.json, args.extra) == ("agi", False, [])


def test_options_after_double_dash_are_only_for_bench(capsys: pytest.CaptureFixture[str]) -> None:
    """Another command given `--` options is refused with a reason."""
    with pytest.raises(SystemExit) as refused:
        parse_args(["call", "--digits", "12", "--", "--rates", "2"])
    assert refused.value.code == 2
    assert "only for `ivr bench`" in capsys.readouterr().err


def test_call_waits_a_bounded_time_for_an_operator() -> None:
    """`ivr call` waits 60 s for an operator unless told otherwise."""
    assert parse_args(["call", "--digits", "12"]).timeout == 60.0
    assert parse_args(["call", "--timeout", "5"]).timeout == 5.0

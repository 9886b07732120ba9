"""/metrics as Prometheus reads it: the live figures, the histograms observed on the live
path, and the shipped dashboard and alert rules, whose every metric /metrics really exposes
(Asterisk's own, ``asterisk_*``, are checked against the test bed in tests/e2e/test_routing)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ivr import settings as settings_module
from ivr.app import Hotline
from ivr.core.figures import LiveFigures, Target
from ivr.core.protocols.ami import AmiEvent
from ivr.edges.clock import Clock
from ivr.edges.metrics import Metrics
from ivr.operators.live_figures import LiveFiguresFeed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from testbed_runs import AMI_CPU_METRIC, sample

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "config" / "monitoring"
T0 = 1_767_225_600.0
# Series Prometheus itself makes (not exposed by any target).
SYNTHETIC = frozenset({"up"})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def ev(name: str, **fields: object) -> AmiEvent:
    return AmiEvent(name, {k: str(v) for k, v in fields.items()})


class FixedClock(Clock):
    def __init__(self) -> None:
        self.at = T0

    def time(self) -> float:
        return self.at


def test_waits_and_talk_times_land_in_the_histograms_per_skill() -> None:
    """Answered and abandoned waits, talk times; a queue that is no configured skill is
    'other' (bounded labels), and every skill's series exists before its first call."""
    metrics = Metrics(["inquiry", "housing"])
    figures = LiveFigures({"inquiry": Target(80, 20), "housing": Target(80, 20)})
    clock = FixedClock()
    feed = LiveFiguresFeed(figures, None, clock, metrics)  # type: ignore[arg-type]
    member = {"Queue": "inquiry", "Interface": "PJSIP/op1", "MemberName": "op1"}
    for at, event in (
        (0, ev("QueueCallerJoin", Queue="inquiry", Uniqueid="c1", Position=1)),
        (12, ev("AgentConnect", HoldTime=12, Uniqueid="c1", **member)),
        (100, ev("AgentComplete", HoldTime=12, TalkTime=88, Uniqueid="c1", **member)),
        (101, ev("QueueCallerJoin", Queue="inquiry", Uniqueid="c2", Position=1)),
        (141, ev("QueueCallerAbandon", Queue="inquiry", Uniqueid="c2", HoldTime=40, Position=1,
                 OriginalPosition=1)),
        (150, ev("QueueCallerJoin", Queue="op-op1", Uniqueid="c3", Position=1)),
        (153, ev("AgentConnect", Queue="op-op1", Interface="PJSIP/op1", MemberName="op1",
                 HoldTime=3, Uniqueid="c3")),
    ):
        clock.at = T0 + at
        feed.on_event(event)
    got = samples(metrics.exposition().decode())
    answered = (("outcome", "answered"), ("skill", "inquiry"))
    assert got[("ivr_queue_wait_seconds_count", answered)] == 1
    assert got[("ivr_queue_wait_seconds_sum", answered)] == 12
    assert got[("ivr_queue_wait_seconds_bucket", (("le", "10.0"), *answered))] == 0
    assert got[("ivr_queue_wait_seconds_bucket", (("le", "15.0"), *answered))] == 1
    abandoned = (("outcome", "abandoned"), ("skill", "inquiry"))
    assert got[("ivr_queue_wait_seconds_sum", abandoned)] == 40
    assert got[("ivr_talk_seconds_sum", (("skill", "inquiry"),))] == 88
    count = "ivr_queue_wait_seconds_count"
    assert got[(count, (("outcome", "answered"), ("skill", "other")))] == 1
    assert got[(count, (("outcome", "answered"), ("skill", "housing")))] == 0
    assert not any(dict(labels).get("skill") == "op-op1" for _, labels in got)


def test_calls_leaving_the_ivr_are_counted_by_a_bounded_outcome() -> None:
    metrics = Metrics(["inquiry"])
    metrics.call_left_ivr("routed", 8.5)
    metrics.call_left_ivr("ivr_hung_up:closed", 3.0)
    metrics.call_left_ivr("weird-outcome-from-somewhere", 1.0)
    metrics.route_decision(0.0004)
    got = samples(metrics.exposition().decode())
    assert got[("ivr_calls_total", (("outcome", "routed"),))] == 1
    assert got[("ivr_calls_total", (("outcome", "ivr_hung_up"),))] == 1
    assert got[("ivr_calls_total", (("outcome", "other"),))] == 1
    assert got[("ivr_ivr_seconds_count", ())] == 3
    assert got[("ivr_route_decision_seconds_bucket", (("le", "0.0005"),))] == 1


@pytest.fixture
def exposed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The /metrics text of the real application, put together by its composition root
    (nothing started: the figures are those of a hotline with no call yet)."""
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    (tmp_path / "state").mkdir()
    settings = settings_module.load(REPO / "config", project_dir=REPO)
    hotline = Hotline(settings)
    return hotline.health.metrics().decode()


def test_live_figures_are_exposed_per_configured_skill(exposed: str) -> None:
    got = samples(exposed)
    assert got[("ivr_skill_waiting_calls", (("skill", "inquiry"),))] == 0
    assert got[("ivr_ami_connected", ())] == 0
    assert got[("ivr_pending_writes", ())] == 0
    assert got[("ivr_state_disk_size_bytes", ())] > 0
    assert got[("ivr_skill_service_level_target_percent", (("skill", "inquiry"),))] > 0


def test_the_loops_ami_cpu_is_exposed_as_the_load_benchmark_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AMI client's CPU counter is on /metrics under the name, and in the form, that
    ``ivr bench load`` reads to split the application's CPU."""
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    (tmp_path / "state").mkdir()
    hotline = Hotline(settings_module.load(REPO / "config", project_dir=REPO))
    assert sample(hotline.health.metrics().decode(), AMI_CPU_METRIC) == 0.0
    hotline.ami.event_cpu_seconds += 1.25
    assert sample(hotline.health.metrics().decode(), AMI_CPU_METRIC) == 1.25


def metric_names(expr: str) -> set[str]:
    """Every metric an expression selects, from PromQL's own parse."""
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector | promql_parser.MatrixSelector):
            selector = (node if isinstance(node, promql_parser.VectorSelector)
                        else node.vector_selector)
            names.add(selector.name)
            return
        for attr in ("expr", "lhs", "rhs", "param"):
            child = getattr(node, attr, None)
            if child is not None:
                walk(child)
        for child in getattr(node, "args", None) or ():
            walk(child)

    walk(promql_parser.parse(expr))
    return names


def shipped_expressions() -> list[tuple[str, str]]:
    exprs: list[tuple[str, str]] = []
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["annotations"]["summary"], rule["alert"]
            exprs.append((f"alert {rule['alert']}", rule["expr"]))
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            # Grafana's variables, as Grafana substitutes them before sending the query.
            expr = target["expr"].replace("$skill", ".*")
            exprs.append((f"panel {panel['title']}", expr))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            inner = variable["query"]["query"].removeprefix("label_values(").split(",")[0]
            exprs.append((f"variable {variable['name']}", inner))
    return exprs


def test_every_dashboard_and_alert_expression_uses_metrics_the_application_exposes(
    exposed: str,
) -> None:
    names = {family.name for family in text_string_to_metric_families(exposed)}
    names |= {s.name for family in text_string_to_metric_families(exposed)
              for s in family.samples}
    exprs = shipped_expressions()
    assert len(exprs) > 25
    missing = [  # metric_names raises on an expression PromQL cannot parse
        f"{where}: {name}" for where, expr in exprs for name in metric_names(expr)
        if name not in names and name not in SYNTHETIC and not name.startswith("asterisk_")]
    assert not missing, missing


def test_a_misspelt_metric_in_an_expression_is_caught(exposed: str) -> None:
    """The check above can fail: a name /metrics does not have is reported."""
    assert metric_names("rate(ivr_queue_wait_secnds_bucket[5m]) > 1") == {
        "ivr_queue_wait_secnds_bucket"}
    with pytest.raises(ValueError, match=r"unclosed|unexpected|expected"):
        promql_parser.parse("sum by (skill (ivr_skill_waiting_calls)")
    assert "ivr_queue_wait_secnds_bucket" not in exposed


def asterisk_names() -> set[str]:
    return {name for _, expr in shipped_expressions() for name in metric_names(expr)
            if name.startswith("asterisk_")}


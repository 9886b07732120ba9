"""The metrics edge: ``prometheus_client``, wrapped (the one module that imports it).

``Metrics`` owns one registry (never the library's global one, so two applications in one
process, as in tests, do not collide) with:

* histograms observed where things happen, with the label values known up front (configured
  skills only, so cardinality is bounded): ``ivr_queue_wait_seconds{skill,outcome}`` (answered or
  abandoned, from app_queue's events), ``ivr_talk_seconds{skill}``, ``ivr_ivr_seconds`` (time in
  the IVR per call) and ``ivr_route_decision_seconds`` (the routing plan's latency);
* ``ivr_calls_total{outcome}``: calls that left the IVR, by the kind of outcome;
* sources: callables returning the core's ``Family`` values, turned into metric families at
  each scrape (the live figures, the application's own gauges and counters).

``exposition()`` renders the text format Prometheus scrapes. A library error (a bad name, a
label value count that does not match) is raised as ``MetricsError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from ivr.core.figures import Family
from ivr.errors import MetricsError

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"  # the label value of a queue that is no configured skill
# Seconds: callers give up within minutes; a route decision takes micro- to milliseconds.
WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, float("inf"))
TALK_BUCKETS = (15, 30, 60, 120, 180, 300, 450, 600, 900, 1800, float("inf"))
IVR_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, float("inf"))
DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    float("inf"))
# How a call left the IVR (``CallRecord.outcome``; ``ivr_hung_up:<reason>`` counts as
# ``ivr_hung_up``): a fixed set, so the label is bounded.
OUTCOME_KINDS = frozenset({
    "routed", "transferred", "callback_requested", "caller_hung_up", "ivr_hung_up",
    "ivr_failed",
})


class _Sources(Collector):
    def __init__(self) -> None:
        self.sources: list[Callable[[], Iterable[Family]]] = []

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            for family in source():
                yield _family(family)


def _family(family: Family) -> Metric:
    metric: GaugeMetricFamily | CounterMetricFamily
    if family.kind == "counter":
        metric = CounterMetricFamily(family.name, family.help, labels=family.labels)
    else:
        metric = GaugeMetricFamily(family.name, family.help, labels=family.labels)
    for labels, value in family.samples:
        metric.add_metric(list(labels), value)
    return metric


class Metrics:
    def __init__(self, skills: Sequence[str] = ()) -> None:
        self._registry = CollectorRegistry()
        self._sources = _Sources()
        self._skills = frozenset(skills)
        try:
            self._registry.register(self._sources)
            self._wait = Histogram(
                "ivr_queue_wait_seconds", "How long callers waited in a skill's queue, by "
                "whether an operator answered or they gave up.", ["skill", "outcome"],
                buckets=WAIT_BUCKETS, registry=self._registry)
            self._talk = Histogram(
                "ivr_talk_seconds", "How long operators talked with callers, per skill.",
                ["skill"], buckets=TALK_BUCKETS, registry=self._registry)
            self._ivr = Histogram(
                "ivr_ivr_seconds", "How long callers spent in the IVR before leaving it.",
                buckets=IVR_BUCKETS, registry=self._registry)
            self._decision = Histogram(
                "ivr_route_decision_seconds", "How long the routing decision took per call.",
                buckets=DECISION_BUCKETS, registry=self._registry)
            self._calls = Counter(
                "ivr_calls", "Calls that left the IVR, by the kind of outcome.", ["outcome"],
                registry=self._registry)
            # Every series exists from the start (at 0): dashboards and alerts see them
            # before the first call, and rate() has a starting point.
            for skill in (*sorted(self._skills), OTHER):
                for outcome in ("answered", "abandoned"):
                    self._wait.labels(skill, outcome)
                self._talk.labels(skill)
            for kind in (*sorted(OUTCOME_KINDS), OTHER):
                self._calls.labels(kind)
        except ValueError as exc:
            raise MetricsError(f"metrics: {exc}") from exc

    def add_source(self, source: Callable[[], Iterable[Family]]) -> None:
        """Families read at each scrape (they must be cheap: a scrape runs on the loop)."""
        self._sources.sources.append(source)

    def skill(self, queue: str) -> str:
        """The label value for ``queue``: its skill if configured, else ``other``."""
        return queue if queue in self._skills else OTHER

    def queue_wait(self, skill: str, answered: bool, seconds: float) -> None:
        self._wait.labels(self.skill(skill), "answered" if answered else "abandoned").observe(
            max(0.0, seconds))

    def talk(self, skill: str, seconds: float) -> None:
        self._talk.labels(self.skill(skill)).observe(max(0.0, seconds))

    def call_left_ivr(self, outcome: str, ivr_seconds: float) -> None:
        kind = outcome.partition(":")[0]
        self._calls.labels(kind if kind in OUTCOME_KINDS else OTHER).inc()
        self._ivr.observe(max(0.0, ivr_seconds))

    def route_decision(self, seconds: float) -> None:
        self._decision.observe(max(0.0, seconds))

    def exposition(self) -> bytes:
        """The text Prometheus scrapes (format 0.0.4)."""
        try:
            return generate_latest(self._registry)
        except ValueError as exc:
            raise MetricsError(f"metrics: {exc}") from exc

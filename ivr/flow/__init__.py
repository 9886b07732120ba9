"""The IVR flow engine: flow files, the prompt catalog, validation and simulation. Pure code.

Public surface (everything else in ``ivr.flow.*`` is private to the package):

- read: ``load_flow(text, source) -> CallFlow``, ``load_catalog(path) -> PromptCatalog``
- run one call: ``FlowRun(flow, facts, entry=None)``, ``.start()``, ``.handle(event)``,
  ``.outcome``, ``.path``; the commands, events, facts and outcomes below
- check: ``validate(flow, catalog, skills, schedules)``, ``check_paths(paths, catalog_path,
  skills, schedules)`` -> ``list[FlowProblem]``
- try: ``simulate(flow, facts, digits, say, case_lookup) -> SimulationReport``,
  ``format_report(report) -> str``
- read numbers back: ``say_number(n, language)``, ``say_digits(text)``, ``announce_wait``
"""

from ivr.flow.catalog import (
    CASE_STATUSES,
    PromptCatalog,
    announce_wait,
    load_catalog,
    parse_catalog,
    say_digits,
    say_number,
)
from ivr.flow.engine import (
    SAFETY_SKILL,
    ActiveBulletin,
    CallerHungUp,
    CallerLeft,
    CallFacts,
    CaseLookedUp,
    CollectDigits,
    Command,
    DigitsCollected,
    Event,
    FlowHungUp,
    FlowRun,
    Hangup,
    ListenForSpeech,
    LookupCase,
    Outcome,
    PlayPrompt,
    PromptPlayed,
    RecordSurvey,
    Routed,
    RouteToQueue,
    SetLanguage,
    SetVariable,
    SpeechHeard,
    Transferred,
    TransferTo,
    case_number_valid,
    luhn_check_digit,
)
from ivr.flow.loader import load_flow, parse_flow
from ivr.flow.model import CallFlow, FlowError, FlowProblem, FlowStateError
from ivr.flow.simulate import SimulationReport, SimulationStep, format_report, simulate
from ivr.flow.validate import check_paths, validate

__all__ = [
    "CASE_STATUSES",
    "SAFETY_SKILL",
    "ActiveBulletin",
    "CallFacts",
    "CallFlow",
    "CallerHungUp",
    "CallerLeft",
    "CaseLookedUp",
    "CollectDigits",
    "Command",
    "DigitsCollected",
    "Event",
    "FlowError",
    "FlowHungUp",
    "FlowProblem",
    "FlowRun",
    "FlowStateError",
    "Hangup",
    "ListenForSpeech",
    "LookupCase",
    "Outcome",
    "PlayPrompt",
    "PromptCatalog",
    "PromptPlayed",
    "RecordSurvey",
    "RouteToQueue",
    "Routed",
    "SetLanguage",
    "SetVariable",
    "SimulationReport",
    "SimulationStep",
    "SpeechHeard",
    "TransferTo",
    "Transferred",
    "announce_wait",
    "case_number_valid",
    "check_paths",
    "format_report",
    "load_catalog",
    "load_flow",
    "luhn_check_digit",
    "parse_catalog",
    "parse_flow",
    "say_digits",
    "say_number",
    "simulate",
    "validate",
]

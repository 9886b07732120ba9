"""The IVR flow engine: flows, the prompt catalog, validation and simulation. Pure code.

Public surface (the submodules hold the details; import from here):

- read: ``load_flow(text, source) -> CallFlow``, ``parse_flow(text, source)``,
  ``parse_catalog(text, source) -> PromptCatalog`` (reading the files is the flow library's:
  ``ivr.flows.files``)
- run one call: ``FlowRun(flow, facts, entry=None)``, ``.start()``, ``.handle(event)``,
  ``.outcome``, ``.path``; the commands, events, facts and outcomes below
- check: ``validate(flow, catalog, skills, schedules)`` -> ``list[FlowProblem]``
- try: ``simulate(flow, facts, digits, say, case_lookup) -> SimulationReport``,
  ``format_report(report) -> str``
- read numbers back: ``say_number(n, language)``, ``say_digits(text)``, ``say_count`` (两),
  ``announce_wait``
"""

from ivr.core.flow.catalog import (
    PromptCatalog,
    announce_wait,
    parse_catalog,
    say_count,
    say_digits,
    say_number,
)
from ivr.core.flow.engine import (
    FINAL_COMMANDS,
    SAFETY_SKILL,
    WAITING_COMMANDS,
    ActiveBulletin,
    ArrivalFacts,
    CallerHungUp,
    CallerLeft,
    CaseLookedUp,
    CaseReopened,
    CollectDigits,
    Command,
    DigitsCollected,
    Event,
    FlowHungUp,
    FlowRun,
    HangUpCall,
    ListenForSpeech,
    LookupCase,
    Outcome,
    PlayPrompt,
    PromptPlayed,
    RecordSurvey,
    ReopenCase,
    Routed,
    RouteToQueue,
    SetLanguage,
    SetVariable,
    SpeechHeard,
    Transferred,
    TransferTo,
)
from ivr.core.flow.loader import load_flow, parse_flow
from ivr.core.flow.model import CallFlow
from ivr.core.flow.simulate import (
    SimulationReport,
    SimulationStep,
    describe_command,
    describe_event,
    describe_outcome,
    format_report,
    simulate,
)
from ivr.core.flow.validate import validate

__all__ = [
    "FINAL_COMMANDS",
    "SAFETY_SKILL",
    "WAITING_COMMANDS",
    "ActiveBulletin",
    "ArrivalFacts",
    "CallFlow",
    "CallerHungUp",
    "CallerLeft",
    "CaseLookedUp",
    "CaseReopened",
    "CollectDigits",
    "Command",
    "DigitsCollected",
    "Event",
    "FlowHungUp",
    "FlowRun",
    "HangUpCall",
    "ListenForSpeech",
    "LookupCase",
    "Outcome",
    "PlayPrompt",
    "PromptCatalog",
    "PromptPlayed",
    "RecordSurvey",
    "ReopenCase",
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
    "describe_command",
    "describe_event",
    "describe_outcome",
    "format_report",
    "load_flow",
    "parse_catalog",
    "parse_flow",
    "say_count",
    "say_digits",
    "say_number",
    "simulate",
    "validate",
]

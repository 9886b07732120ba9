"""Walking a call through a flow without Asterisk: the same engine, scripted caller input.

``simulate`` answers each waiting command the way a caller scripted by ``digits`` and ``say``
would, so an admin (``ivr flow simulate``) and the tests see exactly what a real call with the
same input does.

How ``digits`` is fed: if it contains ``,`` or spaces it is a list of answers, one per prompt
that waits for keys (``"1,1,4101234567#"``; an empty answer means the caller pressed nothing);
otherwise each menu takes one key and each digit collection takes up to its ``max_digits``
(stopping after its terminator). The language menu is a menu like any other: ``"21"`` is
English, then 1 at the main menu. When no key is left, the caller stays silent (time-out).

``say`` is spoken once, at the first speech turn (or at a keyword menu with no key left to
press). A free speech turn with neither speech nor keys left hears nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ivr.core.flow.engine import (
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
from ivr.core.flow.model import CallFlow

# (transcript, language) -> (skill or None, confidence): the intent matcher, when wired in.
Classifier = Callable[[str, str], tuple[str | None, float]]
MAX_STEPS = 200


@dataclass(frozen=True, slots=True)
class SimulationStep:
    """One batch: the event that caused it (None for the first), its commands, where it waits."""

    node: str
    event: Event | None
    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """A simulated call: every step, the outcome (None if it never ended) and the final state."""

    flow: str
    version: str
    facts: ArrivalFacts
    steps: tuple[SimulationStep, ...]
    outcome: Outcome | None
    path: tuple[str, ...]
    variables: Mapping[str, str]
    language: str
    unused_digits: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


class _Caller:
    """The scripted caller: keys and one utterance, consumed as prompts ask for them."""

    def __init__(self, digits: str, say: str | None) -> None:
        self.grouped = any(sep in digits for sep in ", ")
        self.answers = digits.replace(" ", ",").split(",") if self.grouped else []
        self.keys = "" if self.grouped else digits
        self.say = say

    def has_keys(self) -> bool:
        return bool(self.answers) if self.grouped else bool(self.keys)

    def press(self, max_digits: int, terminator: str | None) -> DigitsCollected:
        if self.grouped:
            if not self.answers:
                return DigitsCollected("", timed_out=True)
            return DigitsCollected(self.answers.pop(0), timed_out=False)
        taken = ""
        while self.keys and len(taken) < max_digits:
            key, self.keys = self.keys[0], self.keys[1:]
            taken += key
            if key == terminator:
                break
        if not taken:
            return DigitsCollected("", timed_out=True)
        ended = len(taken) >= max_digits or (terminator is not None and taken[-1] == terminator)
        return DigitsCollected(taken, timed_out=not ended)

    def speak(self) -> str | None:
        said, self.say = self.say, None
        return said

    def left(self) -> str:
        return ",".join(self.answers) if self.grouped else self.keys


def simulate(
    flow: CallFlow,
    facts: ArrivalFacts,
    digits: str,
    say: str | None = None,
    case_lookup: Mapping[str, str] | None = None,
    *,
    entry: str | None = None,
    hangup_at: str | None = None,
    classify: Classifier | None = None,
) -> SimulationReport:
    """Run one scripted call through ``FlowRun`` and report each step and the outcome.

    ``case_lookup`` maps known case numbers to their status (others are not found).
    ``hangup_at`` makes the caller hang up when the call first waits at that node.
    ``classify`` gives the skill and confidence for ``say`` in a free speech turn; without it
    the words are heard (confidence 1.0) but match no skill.
    """
    cases = case_lookup or {}
    caller = _Caller(digits, say)
    run = FlowRun(flow, facts, entry)
    first = tuple(run.start())
    steps = [SimulationStep(run.node, None, first)]
    notes: list[str] = []
    while run.outcome is None:
        if len(steps) >= MAX_STEPS:
            notes.append(f"stopped after {MAX_STEPS} steps without an outcome")
            break
        waiting = steps[-1].commands[-1]
        event: Event
        if hangup_at is not None and run.node == hangup_at:
            event = CallerHungUp()
        elif isinstance(waiting, PlayPrompt):
            event = PromptPlayed()
        elif isinstance(waiting, CollectDigits):
            event = caller.press(waiting.max_digits, waiting.terminator)
        elif isinstance(waiting, LookupCase):
            status = cases.get(waiting.number)
            event = CaseLookedUp(waiting.number, status is not None, status)
        elif isinstance(waiting, ReopenCase):
            event = CaseReopened(waiting.number, cases.get(waiting.number) == "resolved")
        elif isinstance(waiting, ListenForSpeech):
            event = _listen(waiting, caller, run.language, classify)
        else:  # pragma: no cover - a batch always ends waiting or final
            notes.append(f"unexpected last command {waiting!r}")
            break
        batch = tuple(run.handle(event))
        steps.append(SimulationStep(run.node, event, batch))
    return SimulationReport(
        flow.name, flow.version, facts, tuple(steps), run.outcome, run.path,
        dict(run.variables), run.language, caller.left(), tuple(notes),
    )


def _listen(
    waiting: ListenForSpeech, caller: _Caller, language: str, classify: Classifier | None
) -> Event:
    if waiting.mode == "grammar" and caller.has_keys():
        return caller.press(1, None)
    said = caller.speak()
    if said is not None:
        if waiting.mode == "grammar":
            return SpeechHeard(said)
        skill, confidence = classify(said, language) if classify else (None, 1.0)
        return SpeechHeard(said, skill, confidence)
    if caller.has_keys():
        return caller.press(1, None)
    if waiting.mode == "grammar":
        return DigitsCollected("", timed_out=True)
    return SpeechHeard("", None, 0.0)


def describe_command(command: Command) -> str:
    """One short line for a command, as an admin reads it."""
    match command:
        case PlayPrompt():
            cut = " (a key skips)" if command.interruptible else ""
            return f"play {' '.join(command.prompts)}{cut}"
        case CollectDigits():
            size = (
                f"{command.min_digits}" if command.min_digits == command.max_digits
                else f"{command.min_digits}-{command.max_digits}"
            )
            end = f", ends with {command.terminator}" if command.terminator else ""
            return (
                f"ask {' '.join(command.prompts)}; wait {command.timeout:g}s for {size} key(s)"
                f"{end}"
            )
        case ListenForSpeech():
            words = f" [{' | '.join(command.keywords)}]" if command.keywords else ""
            return (
                f"ask {' '.join(command.prompts)}; listen ({command.mode}){words} "
                f"for {command.timeout:g}s"
            )
        case SetVariable():
            return f"set {command.name} = {command.value}"
        case SetLanguage():
            return f"language -> {command.code}"
        case LookupCase():
            return f"look up case {command.number}"
        case ReopenCase():
            return f"reopen case {command.number}"
        case RecordSurvey():
            return f"record satisfaction {command.score}/5"
        case RouteToQueue():
            return f"QUEUE {command.skill} priority {command.priority}"
        case TransferTo():
            return f"TRANSFER to {command.number}"
        case HangUpCall():
            return f"HANG UP ({command.reason})"


def describe_event(event: Event) -> str:
    """One short line for what the (simulated) caller or system did."""
    match event:
        case PromptPlayed():
            return f"skipped with {event.interrupted_by}" if event.interrupted_by else "played"
        case DigitsCollected():
            if not event.digits:
                return "pressed nothing (time-out)"
            return f"pressed {event.digits}" + (" (time-out)" if event.timed_out else "")
        case SpeechHeard():
            if not event.transcript:
                return "said nothing"
            skill = f" -> {event.skill}" if event.skill else ""
            return f'said "{event.transcript}"{skill} ({event.confidence:.2f})'
        case CaseLookedUp():
            found = f"found, {event.status}" if event.found else "not found"
            return f"case {event.number}: {found}"
        case CaseReopened():
            return f"case {event.number}: {'reopened' if event.done else 'not reopened'}"
        case CallerHungUp():
            return "caller hung up"


def describe_outcome(outcome: Outcome | None) -> str:
    """The final decision in one line."""
    match outcome:
        case Routed():
            why = "" if outcome.reason == "flow" else f" [{outcome.reason}]"
            return f"queue {outcome.skill}, priority {outcome.priority} (at {outcome.node}){why}"
        case Transferred():
            return f"transfer to {outcome.number} (at {outcome.node})"
        case FlowHungUp():
            return f"hang up: {outcome.reason} (at {outcome.node})"
        case CallerLeft():
            return f"caller hung up at {outcome.node or '(before start)'}"
        case None:
            return "no decision (the call never left the flow)"


def format_report(report: SimulationReport) -> str:
    """The report as ``ivr flow simulate`` prints it: steps, then the decision."""
    facts = report.facts
    lines = [
        f"flow {report.flow} version {report.version}: caller {facts.caller}, "
        f"language {facts.language}, at {facts.now.isoformat(timespec='minutes')}",
    ]
    for number, step in enumerate(report.steps, 1):
        if step.event is not None:
            lines.append(f"     <- {describe_event(step.event)}")
        if not step.commands:
            continue
        lines.append(f"{number:3d}. {step.node}")
        lines += [f"       {describe_command(c)}" for c in step.commands]
    lines.append(f"decision: {describe_outcome(report.outcome)}")
    lines.append(f"path: {' > '.join(report.path)}")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(report.variables.items()))
    lines.append(f"variables: {shown or '(none)'}")
    lines.append(f"language: {report.language}")
    if report.unused_digits:
        lines.append(f"unused keys: {report.unused_digits}")
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)

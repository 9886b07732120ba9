"""The flow engine: one call's walk through a ``CallFlow``, events in, commands out.

Theory of operation
-------------------
A ``FlowRun`` is a pure state machine for one call, in the style of h11. It never touches a
socket, a clock or a file: the driver (the FastAGI session) passes the call's facts in once
(``ArrivalFacts``, including ``now``), calls ``start()``, carries out the commands it gets back, and
reports what happened with ``handle(event)``.

Every batch of commands returned ends with exactly one *waiting* command (``PlayPrompt``,
``CollectDigits``, ``ListenForSpeech``, ``LookupCase``: the driver must answer it with an event)
or exactly one *final* command (``RouteToQueue``, ``TransferTo``, ``HangUpCall``: the IVR is
over and ``outcome`` is set). Non-waiting commands (``SetVariable``, ``SetLanguage``,
``RecordSurvey``) come before it and need no answer.

    command it waits on      events it accepts
    ---------------------    -------------------------------------------------
    PlayPrompt               PromptPlayed (interrupted_by = the key that cut it short)
    CollectDigits            DigitsCollected
    ListenForSpeech grammar  SpeechHeard (keyword spoken) or DigitsCollected (key pressed)
    ListenForSpeech free     SpeechHeard (empty transcript = nothing heard) or DigitsCollected

Speech is graded in bands (``ivr.core.triage``; ``SpeechHeard.band``). A menu takes a spoken
keyword only in the ``accept`` band; otherwise it asks again, by keys only. A speech node
routes silently in ``accept``; in ``confirm`` it asks "you said <skill>, right?" (prompt
``ivr/confirm-<skill>``, answered by a yes/no word or key 1/2) and routes only on yes; a no,
silence or anything else, and the ``reject`` band, go to its ``fallback`` (the key menu). The
variables ``speech_band`` and ``speech_confirmed`` (yes, no, no_answer) say what happened.
An event without a band (a simulation) is graded by the node's ``min_confidence``.
    LookupCase               CaseLookedUp
    ReopenCase               CaseReopened
    (any)                    CallerHungUp: the run ends, ``outcome`` names the node
    (none: run finished)     CallerHungUp only, ignored (it raced the final command)

Anything else is a ``FlowStateError`` (the driver's bug, not the caller's). Instant nodes
(``set``, ``branch``, an inactive ``bulletin``, ``transfer`` whose schedule is closed) are walked
through inside one batch. Caller input is bounded here: a DTMF flood in a menu uses its first
key, a collected digit string is cut at the terminator and at ``max_digits``; the rest is ignored.

If the flow is broken at run time (a hole the validator would have reported, or a walk of
``MAX_INSTANT_STEPS`` nodes without waiting for the caller), the call is never dropped: it is
routed to ``SAFETY_SKILL`` and the outcome says why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ivr.core.cases import READBACK_STATUSES, case_number_valid
from ivr.core.flow.catalog import say_digits
from ivr.core.flow.model import (
    Branch,
    BulletinNode,
    CallFlow,
    CaseReopen,
    CaseStatusNode,
    Collect,
    Condition,
    HangUpNode,
    Menu,
    Node,
    Play,
    Prompts,
    Route,
    SetVariables,
    Speech,
    Survey,
    Transfer,
    confirm_prompt,
)
from ivr.core.triage import BANDS, Band, answer, answer_key, confirm_words
from ivr.errors import FlowStateError

SAFETY_SKILL = "hotline"  # the general queue of config/ivr.toml [menu] general_queue
SAFETY_PRIORITY = 5
MAX_INSTANT_STEPS = 100
CONFIRM_TIMEOUT = 5.0  # seconds to answer "you said <skill>, right?" (yes 1, no 2)
_DTMF = re.compile(r"^[0-9*#A-D]*$")
SURVEY_MIN, SURVEY_MAX = 1, 5


# ---------------------------------------------------------------- commands (engine -> driver)


@dataclass(frozen=True, slots=True)
class PlayPrompt:
    """Play these sound files in order; answer with PromptPlayed."""

    prompts: Prompts
    interruptible: bool

    def __post_init__(self) -> None:
        if not self.prompts:
            raise ValueError("PlayPrompt needs at least one prompt")


@dataclass(frozen=True, slots=True)
class CollectDigits:
    """Play prompts (a key stops them) then collect digits; answer with DigitsCollected."""

    prompts: Prompts
    min_digits: int
    max_digits: int
    timeout: float
    terminator: str | None

    def __post_init__(self) -> None:
        if not 1 <= self.min_digits <= self.max_digits:
            raise ValueError(f"bad digit bounds {self.min_digits}..{self.max_digits}")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")


@dataclass(frozen=True, slots=True)
class ListenForSpeech:
    """Play prompts and recognise speech; grammar mode restricts to ``keywords``.

    Answer with SpeechHeard, or with DigitsCollected when the caller pressed a key instead.
    """

    prompts: Prompts
    mode: Literal["grammar", "free"]
    keywords: tuple[str, ...]
    timeout: float
    purpose: Literal["menu", "problem", "confirm"] = "menu"

    def __post_init__(self) -> None:
        if self.mode not in ("grammar", "free"):
            raise ValueError(f"bad speech mode {self.mode!r}")
        if self.mode == "grammar" and not self.keywords:
            raise ValueError("grammar recognition needs keywords")


@dataclass(frozen=True, slots=True)
class SetVariable:
    """Remember a call variable (stored with the call record; shown to the operator)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """From now on, play sounds from this language's directory."""

    code: str


@dataclass(frozen=True, slots=True)
class LookupCase:
    """Look the case up; answer with CaseLookedUp."""

    number: str


@dataclass(frozen=True, slots=True)
class ReopenCase:
    """Reopen the caller's own resolved case; answer with CaseReopened."""

    number: str


@dataclass(frozen=True, slots=True)
class RecordSurvey:
    """Store this 1-5 satisfaction score with the call and its case."""

    score: int

    def __post_init__(self) -> None:
        if not SURVEY_MIN <= self.score <= SURVEY_MAX:
            raise ValueError(f"survey score must be 1-5, not {self.score}")


@dataclass(frozen=True, slots=True)
class RouteToQueue:
    """Final: queue the call for ``skill`` at ``priority`` (0 lowest .. 10 highest)."""

    skill: str
    priority: int

    def __post_init__(self) -> None:
        if not 0 <= self.priority <= 10:
            raise ValueError(f"priority must be 0-10, not {self.priority}")


@dataclass(frozen=True, slots=True)
class TransferTo:
    """Final: transfer the call to an external number."""

    number: str


@dataclass(frozen=True, slots=True)
class HangUpCall:
    """Final: hang up the call."""

    reason: str


Command = (
    PlayPrompt
    | CollectDigits
    | ListenForSpeech
    | SetVariable
    | SetLanguage
    | LookupCase
    | ReopenCase
    | RecordSurvey
    | RouteToQueue
    | TransferTo
    | HangUpCall
)
WAITING_COMMANDS = (PlayPrompt, CollectDigits, ListenForSpeech, LookupCase, ReopenCase)
FINAL_COMMANDS = (RouteToQueue, TransferTo, HangUpCall)


# ---------------------------------------------------------------- events (driver -> engine)


@dataclass(frozen=True, slots=True)
class PromptPlayed:
    """The prompts finished, or the caller cut them short with ``interrupted_by`` (one key)."""

    interrupted_by: str | None = None

    def __post_init__(self) -> None:
        if self.interrupted_by is not None and (
            len(self.interrupted_by) != 1 or not _DTMF.match(self.interrupted_by)
        ):
            raise ValueError(f"interrupted_by must be one DTMF key, not {self.interrupted_by!r}")


@dataclass(frozen=True, slots=True)
class DigitsCollected:
    """Keys the caller pressed (DTMF characters only); ``timed_out`` if they stopped early."""

    digits: str
    timed_out: bool = False

    def __post_init__(self) -> None:
        if not _DTMF.match(self.digits):
            raise ValueError(f"not DTMF: {self.digits!r}")


@dataclass(frozen=True, slots=True)
class SpeechHeard:
    """What the recogniser heard; ``skill`` is the intent matched (free mode), if any, and
    ``band`` how sure the recogniser's side is (``ivr.core.triage``; None: grade by the node's
    ``min_confidence``)."""

    transcript: str
    skill: str | None = None
    confidence: float = 1.0
    band: Band | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, not {self.confidence}")
        if self.band is not None and self.band not in BANDS:
            raise ValueError(f"bad band {self.band!r}")


@dataclass(frozen=True, slots=True)
class CaseLookedUp:
    """Result of LookupCase: found or not, and its status (a word of
    ``ivr.core.cases.READBACK_STATUSES``)."""

    number: str
    found: bool
    status: str | None = None


@dataclass(frozen=True, slots=True)
class CaseReopened:
    """Result of ReopenCase: whether the case was reopened (only the caller's own resolved
    case is)."""

    number: str
    done: bool


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller hung up; accepted while waiting on anything."""


Event = (PromptPlayed | DigitsCollected | SpeechHeard | CaseLookedUp | CaseReopened
         | CallerHungUp)


# ---------------------------------------------------------------- facts and outcomes


@dataclass(frozen=True, slots=True)
class ActiveBulletin:
    """An emergency bulletin posted by a supervisor: its text per language.

    Its audio is the sound ``bulletins/<id>`` in each language it has text for (synthesised when
    it is posted); callers whose language has no text do not hear it.
    """

    id: str
    text: Mapping[str, str]

    @property
    def sound(self) -> str:
        return f"bulletins/{self.id}"


@dataclass(frozen=True, slots=True)
class ArrivalFacts:
    """Everything the flow may ask about the call, fixed when the call arrives.

    ``now`` is the call's local time (never read from a clock here). ``open_schedules`` and
    ``holidays_today`` are computed by the driver from ``config/`` schedules and calendars.
    ``speech_available`` False (no recogniser for this call) turns every menu into DTMF only
    and sends speech turns straight to their ``fallback``.
    """

    caller: str
    language: str
    now: datetime
    caller_known: bool = False
    open_cases: int = 0
    bulletin: ActiveBulletin | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    open_schedules: frozenset[str] = frozenset()
    holidays_today: frozenset[str] = frozenset()
    speech_available: bool = True


@dataclass(frozen=True, slots=True)
class Routed:
    """The call was queued for a skill; ``reason`` is "flow" or why the safety net caught it."""

    node: str
    skill: str
    priority: int
    reason: str = "flow"


@dataclass(frozen=True, slots=True)
class Transferred:
    """The call was transferred to an external number."""

    node: str
    number: str


@dataclass(frozen=True, slots=True)
class FlowHungUp:
    """The flow hung up (end of survey, closed service...)."""

    node: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallerLeft:
    """The caller hung up while at ``node`` ("" if before the flow started)."""

    node: str


Outcome = Routed | Transferred | FlowHungUp | CallerLeft


class _Wait:
    """Returned by a node step: the batch is complete (a waiting or final command was added)."""


_WAIT = _Wait()
_Step = str | None | _Wait  # next node id, a hole (None), or stop here


# ---------------------------------------------------------------- the run


class FlowRun:
    """One call's walk through a flow. Not thread-safe; one per call.

    ``entry`` names a re-entry point from ``flow.entries`` (``"survey"`` after an operator
    hung up); by default the run begins at ``flow.start``.
    """

    def __init__(self, flow: CallFlow, facts: ArrivalFacts, entry: str | None = None) -> None:
        if entry is not None and entry not in flow.entries:
            raise ValueError(f"flow {flow.name!r} has no entry {entry!r}")
        self.flow = flow
        self.facts = facts
        self.language = facts.language
        self.variables: dict[str, str] = dict(facts.variables)
        self.outcome: Outcome | None = None
        self._first = flow.entries[entry] if entry is not None else flow.start
        self._path: list[str] = []
        self._node: str = ""
        self._phase = ""
        self._confirming: str | None = None
        self._started = False
        self._failures: dict[str, int] = {}
        self._typeahead: str | None = None

    @property
    def path(self) -> tuple[str, ...]:
        """Node ids in the order the call entered them (a re-prompt is not a new visit)."""
        return tuple(self._path)

    @property
    def node(self) -> str:
        """The node the call is at now (where it waits, or where it ended)."""
        return self._node

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    def start(self) -> list[Command]:
        """The first batch of commands; call once."""
        if self._started:
            raise FlowStateError("start() called twice")
        self._started = True
        out: list[Command] = []
        self._walk(self._first, out)
        return out

    def handle(self, event: Event) -> list[Command]:
        """Feed what happened; get the next batch (empty once the caller has hung up)."""
        if not self._started:
            raise FlowStateError("handle() before start()")
        if self.outcome is not None:
            if isinstance(event, CallerHungUp):
                # A hang-up racing the final command is normal; the outcome stands.
                return []
            raise FlowStateError(f"the call already ended: {self.outcome}")
        if isinstance(event, CallerHungUp):
            self.outcome = CallerLeft(self._node)
            return []
        node = self.flow.nodes[self._node]
        out: list[Command] = []
        step = self._answer(node, event, out)
        if not isinstance(step, _Wait):
            self._walk(step, out)
        return out

    # -- walking

    def _walk(self, target: str | None, out: list[Command]) -> None:
        for _ in range(MAX_INSTANT_STEPS):
            if target is None or target not in self.flow.nodes:
                self._safety(f"no node {target!r} to go to from {self._node!r}", out)
                return
            node = self.flow.nodes[target]
            self._path.append(target)
            self._node = target
            self._phase = ""
            step = self._enter(node, out)
            if isinstance(step, _Wait):
                return
            target = step
        self._safety(f"{MAX_INSTANT_STEPS} nodes without waiting for the caller", out)

    def _safety(self, why: str, out: list[Command]) -> None:
        out.append(RouteToQueue(SAFETY_SKILL, SAFETY_PRIORITY))
        self.outcome = Routed(self._node, SAFETY_SKILL, SAFETY_PRIORITY, f"safety: {why}")

    def _set(self, name: str, value: str, out: list[Command]) -> None:
        self.variables[name] = value
        out.append(SetVariable(name, value))

    def _enter(self, node: Node, out: list[Command]) -> _Step:
        match node:
            case Play():
                self._typeahead = None
                out.append(PlayPrompt(node.prompts, node.interruptible))
                return _WAIT
            case Menu():
                if self._typeahead is not None:
                    key, self._typeahead = self._typeahead, None
                    return self._menu_choice(node, key, out)
                return self._ask_menu(node, (), out)
            case Collect():
                self._typeahead = None
                return self._ask_collect(node, (), out)
            case Speech():
                self._typeahead = None
                if not self.facts.speech_available:
                    return node.fallback
                out.append(ListenForSpeech(node.prompts, "free", (), node.timeout, "problem"))
                return _WAIT
            case Branch():
                return self._branch(node)
            case SetVariables():
                for name, value in node.variables.items():
                    self._set(name, value, out)
                if node.language is not None:
                    self.language = node.language
                    out.append(SetLanguage(node.language))
                return node.next
            case Route():
                out.append(RouteToQueue(node.skill, node.priority))
                self.outcome = Routed(node.id, node.skill, node.priority)
                return _WAIT
            case Transfer():
                if node.schedule is not None and node.schedule not in self.facts.open_schedules:
                    return node.closed
                out.append(TransferTo(node.number))
                self.outcome = Transferred(node.id, node.number)
                return _WAIT
            case CaseStatusNode():
                number = self.variables.get(node.variable, "")
                if not number:
                    return node.not_found
                self._phase = "lookup"
                out.append(LookupCase(number))
                return _WAIT
            case CaseReopen():
                number = self.variables.get(node.variable, "")
                if not number:
                    return node.refused
                out.append(ReopenCase(number))
                return _WAIT
            case Survey():
                self._typeahead = None
                return self._ask_survey(node, (), out)
            case BulletinNode():
                bulletin = self.facts.bulletin
                if bulletin is None or not bulletin.text.get(self.language):
                    return node.next
                self._typeahead = None
                out.append(PlayPrompt(("ivr/bulletin-intro", bulletin.sound), node.interruptible))
                return _WAIT
            case HangUpNode():
                out.append(HangUpCall(node.reason))
                self.outcome = FlowHungUp(node.id, node.reason)
                return _WAIT

    # -- answering the waiting command

    def _answer(self, node: Node, event: Event, out: list[Command]) -> _Step:
        match node, event:
            case (Play() | BulletinNode()), PromptPlayed():
                if event.interrupted_by is not None:
                    self._typeahead = event.interrupted_by
                return node.next
            case Menu(), DigitsCollected():
                # A flood of keys answers with its first; the rest is ignored.
                return self._menu_choice(node, event.digits[:1] or None, out)
            case Menu(), SpeechHeard():
                if event.band is not None and event.transcript.strip():
                    self._set("speech_band", event.band, out)
                    if event.band != "accept":
                        # Not sure enough to act on: the same question, by keys only.
                        return self._ask_menu(node, (), out, keys_only=True)
                return self._menu_choice(node, self._spoken_key(node, event.transcript), out)
            case Speech(), SpeechHeard() if self._phase == "confirm":
                return self._confirmed(node, answer(event.transcript, self.language,
                                                    event.band), out)
            case Speech(), DigitsCollected() if self._phase == "confirm":
                return self._confirmed(node, answer_key(event.digits), out)
            case Collect(), DigitsCollected():
                return self._collected(node, event.digits, out)
            case Speech(), SpeechHeard():
                return self._heard(node, event, out)
            case Speech(), DigitsCollected():
                # The caller pressed a key instead of speaking: fall back to the DTMF path,
                # and let that key answer the fallback menu.
                self._typeahead = event.digits[:1] or None
                return node.fallback
            case CaseStatusNode(), CaseLookedUp() if self._phase == "lookup":
                return self._looked_up(node, event, out)
            case CaseStatusNode(), PromptPlayed() if self._phase == "readback":
                if event.interrupted_by is not None:
                    self._typeahead = event.interrupted_by
                return node.found
            case CaseReopen(), CaseReopened():
                self._set("case_reopened", "yes" if event.done else "no", out)
                return node.next if event.done else node.refused
            case Survey(), DigitsCollected() if self._phase == "":
                return self._rated(node, event.digits, out)
            case Survey(), PromptPlayed() if self._phase == "thanks":
                return node.next
        raise FlowStateError(
            f"node {node.id!r} ({type(node).__name__}) is not waiting for {event!r}"
        )

    def _ask_menu(
        self, node: Menu, prefix: Prompts, out: list[Command], keys_only: bool = False
    ) -> _Wait:
        speech = self.facts.speech_available and not keys_only
        words = node.keywords.get(self.language, {}) if speech else {}
        keywords = tuple(w for key in sorted(words) for w in words[key])
        prompts = prefix + node.prompts
        if keywords:
            out.append(ListenForSpeech(prompts, "grammar", keywords, node.timeout))
        else:
            out.append(CollectDigits(prompts, 1, 1, node.timeout, None))
        return _WAIT

    def _spoken_key(self, node: Menu, transcript: str) -> str | None:
        """The option whose keyword appears first in the transcript; "?" if none; None if silent."""
        said = transcript.strip().casefold()
        if not said:
            return None
        best: tuple[int, str] | None = None
        for key, words in node.keywords.get(self.language, {}).items():
            for word in words:
                at = said.find(word.casefold())
                if at >= 0 and (best is None or at < best[0]):
                    best = (at, key)
        return best[1] if best is not None else "?"

    def _failed(self, node: Menu | Collect | Survey) -> bool:
        """Count a failed attempt at a node; True once more than ``retries`` retries failed.

        Counts survive leaving and re-entering the node (a ``no_input`` target that loops back
        through an apology still exhausts), and are cleared by a good answer.
        """
        count = self._failures.get(node.id, 0) + 1
        self._failures[node.id] = count
        return count > node.retries

    def _menu_choice(self, node: Menu, key: str | None, out: list[Command]) -> _Step:
        if key is not None and key in node.options:
            self._failures.pop(node.id, None)
            return node.options[key]
        no_input = key is None
        if self._failed(node):
            return node.on_exhausted
        target = node.no_input if no_input else node.invalid
        if target is not None:
            return target
        prefix = node.no_input_prompts if no_input else node.invalid_prompts
        return self._ask_menu(node, prefix, out)

    def _ask_collect(self, node: Collect, prefix: Prompts, out: list[Command]) -> _Wait:
        out.append(
            CollectDigits(
                prefix + node.prompts, node.min_digits, node.max_digits, node.timeout,
                node.terminator,
            )
        )
        return _WAIT

    def _collected(self, node: Collect, raw: str, out: list[Command]) -> _Step:
        if node.terminator is not None and node.terminator in raw:
            raw = raw[: raw.index(node.terminator)]
        digits = "".join(ch for ch in raw if ch.isdigit())[: node.max_digits]
        no_input = not digits
        valid = not no_input and len(digits) >= node.min_digits
        if valid and node.validation == "case_number":
            valid = case_number_valid(digits)
        if valid:
            self._failures.pop(node.id, None)
            self._set(node.variable, digits, out)
            return node.next
        if self._failed(node):
            return node.on_exhausted
        target = node.no_input if no_input else node.invalid
        if target is not None:
            return target
        prefix = node.no_input_prompts if no_input else node.invalid_prompts
        return self._ask_collect(node, prefix, out)

    def _heard(self, node: Speech, event: SpeechHeard, out: list[Command]) -> _Step:
        transcript = event.transcript.strip()
        band = event.band
        if band is None:
            band = "accept" if event.confidence >= node.min_confidence else "reject"
        if not transcript:
            return node.fallback
        self._set("speech_band", band, out)
        if band == "reject":
            return node.fallback
        self._set(node.variable, transcript, out)
        if event.skill is not None:
            self._set("speech_skill", event.skill, out)
            if event.skill in node.routes:
                if band == "accept":
                    return node.routes[event.skill]
                return self._ask_confirmation(node, event.skill, out)
        if band != "accept":
            return node.fallback
        return node.next if node.next is not None else node.fallback

    def _ask_confirmation(self, node: Speech, skill: str, out: list[Command]) -> _Wait:
        self._phase = "confirm"
        self._confirming = skill
        prompts = (confirm_prompt(skill),)
        words = confirm_words(self.language) if self.facts.speech_available else ()
        if words:
            out.append(ListenForSpeech(prompts, "grammar", words, CONFIRM_TIMEOUT, "confirm"))
        else:
            out.append(CollectDigits(prompts, 1, 1, CONFIRM_TIMEOUT, None))
        return _WAIT

    def _confirmed(self, node: Speech, said: str, out: list[Command]) -> _Step:
        skill = self._confirming
        self._confirming = None
        self._set("speech_confirmed", {"yes": "yes", "no": "no"}.get(said, "no_answer"), out)
        if said == "yes" and skill is not None and skill in node.routes:
            return node.routes[skill]
        return node.fallback

    def _looked_up(self, node: CaseStatusNode, event: CaseLookedUp, out: list[Command]) -> _Step:
        if not event.found:
            self._set("case_status", "not_found", out)
            return node.not_found
        status = event.status if event.status in READBACK_STATUSES else "unknown"
        self._set("case_status", status, out)
        self._phase = "readback"
        out.append(
            PlayPrompt(
                ("ivr/case-number-is", *say_digits(event.number), "ivr/case-status-is",
                 f"ivr/case-status-{status}"),
                True,
            )
        )
        return _WAIT

    def _ask_survey(self, node: Survey, prefix: Prompts, out: list[Command]) -> _Wait:
        out.append(CollectDigits(prefix + node.prompts, 1, 1, node.timeout, None))
        return _WAIT

    def _rated(self, node: Survey, digits: str, out: list[Command]) -> _Step:
        key = digits[:1]
        if key.isdigit() and SURVEY_MIN <= int(key) <= SURVEY_MAX:
            self._set("survey_score", key, out)
            out.append(RecordSurvey(int(key)))
            self._phase = "thanks"
            out.append(PlayPrompt(node.thanks_prompts, True))
            return _WAIT
        no_input = not key
        if self._failed(node):
            # The operator is gone; a caller who will not rate is simply let go.
            return node.next
        prefix = ("ivr/no-input",) if no_input else ("ivr/invalid-option",)
        return self._ask_survey(node, prefix, out)

    def _branch(self, node: Branch) -> str | None:
        for condition in node.conditions:
            if self._holds(condition):
                return condition.goto
        return node.otherwise

    def _holds(self, c: Condition) -> bool:
        facts = self.facts
        minute = facts.now.hour * 60 + facts.now.minute
        checks = (
            c.time is None or c.time.contains(minute),
            c.weekdays is None or facts.now.weekday() in c.weekdays,
            c.holiday is None or c.holiday in facts.holidays_today,
            c.schedule_open is None or c.schedule_open in facts.open_schedules,
            c.caller_known is None or c.caller_known == facts.caller_known,
            c.caller_has_open_cases is None
            or c.caller_has_open_cases == (facts.open_cases > 0),
            c.language is None or c.language == self.language,
            c.variable is None or self.variables.get(c.variable[0]) == c.variable[1],
        )
        return all(checks)

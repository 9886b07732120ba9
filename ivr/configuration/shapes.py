"""The shapes of the configuration files: every table and key each file may have, its type
and default, as models (``ivr.edges.schema.Shape``).

They are the one list of the keys: the loader (``ivr.settings``) refuses any other key with
the nearest declared name ("did you mean"), and ``ivr config schema DIR`` writes them as JSON
Schema files (``config/schema/*.json``) for editors. What a shape cannot say (a skill named
by an operator exists, a window ends after it starts) the loader checks, every problem at
once. Defaults are the ``ivr.core`` values' own.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from ivr.core.deadlines import DeadlinePolicy
from ivr.core.intents import DEFAULT_BANDS, DEFAULT_THRESHOLD
from ivr.core.quality import MAX_ITEMS, MAX_POINTS, Checklist
from ivr.core.routing import RoutingPolicy
from ivr.core.settings import (
    MAX_WORKERS,
    AgiSettings,
    AmiSettings,
    CallbackSettings,
    MenuSettings,
    RecordingSettings,
    SandboxSettings,
    SipSettings,
    SpeechSettings,
    VisitSettings,
)
from ivr.core.surges import SurgeRule
from ivr.edges import schema
from ivr.edges.schema import Field, Shape

_AGI, _AMI, _SIP = AgiSettings(), AmiSettings(), SipSettings()
_CALLBACKS, _VISITS, _MENU = CallbackSettings(), VisitSettings(), MenuSettings()
_SPEECH, _SANDBOX, _SURGES = SpeechSettings(), SandboxSettings(), SurgeRule()
_ROUTING, _DEADLINES = RoutingPolicy(), DeadlinePolicy()
_RECORDINGS = RecordingSettings()


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# ivr.toml ---------------------------------------------------------------------------------

class Service(Shape):
    timezone: str = Field(default="Asia/Shanghai",
                          description="The hotline's local time zone (IANA)")


class Web(Shape):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_connections: int = Field(default=1000, description="Open web connections at most")
    idle_timeout: float = Field(default=120.0, description="Seconds a connection may stay silent")
    secure_cookies: Literal["auto", "always", "never"] = Field(default=
        "auto", description="The session cookie's Secure flag")


class Flows(Shape):
    main: str = Field(default="dialplans/12345.yaml", description="The flow new calls run")
    reload_interval: float = Field(default=1.0, description="Seconds between looks for an edit")


class Agi(Shape):
    host: str = _AGI.host
    port: int = Field(default=_AGI.port, ge=1, le=65535)
    allowed_peers: list[str] = Field(default=list(_AGI.allowed_peers),
                                     description="Addresses or networks allowed to connect")
    handshake_timeout: float = _AGI.handshake_timeout
    handshake_max_bytes: int = _AGI.handshake_max_bytes
    max_handshakes: int = _AGI.max_handshakes
    command_timeout: float = Field(default=_AGI.command_timeout, ge=10)
    failover: str = Field(default=_AGI.failover,
                          description="host:port of another node ('' = none)")
    database_deadline: float = Field(default=_AGI.database_deadline, gt=0,
                                     description="Seconds a call waits for the database at "
                                                 "most, then goes on with a safe default")
    workers: int = Field(default=_AGI.workers, ge=1, le=MAX_WORKERS,
                         description="FastAGI worker processes sharing the port (more than 1 "
                                     "needs PostgreSQL)")


class Ami(Shape):
    host: str = _AMI.host
    port: int = Field(default=_AMI.port, ge=1, le=65535)
    username: str = _AMI.username
    action_timeout: float = _AMI.action_timeout
    ping_interval: float = _AMI.ping_interval
    ping_timeout: float = _AMI.ping_timeout
    reconnect_min: float = _AMI.reconnect_min
    reconnect_max: float = _AMI.reconnect_max
    boot_timeout: float = _AMI.boot_timeout


class Sip(Shape):
    host: str = _SIP.host
    port: int = Field(default=_SIP.port, ge=1, le=65535)
    service_number: str = _SIP.service_number
    transfer_contact: str = Field(default=_SIP.transfer_contact, description="sip:host:port")
    callback_contact: str = Field(default=_SIP.callback_contact, description="sip:host:port")


class Callbacks(Shape):
    offer_every: int = _CALLBACKS.offer_every
    max_attempts: int = _CALLBACKS.max_attempts
    retry_after: float = _CALLBACKS.retry_after
    max_per_number: int = _CALLBACKS.max_per_number
    max_per_queue: int = _CALLBACKS.max_per_queue


class Surges(Shape):
    window_minutes: int = Field(default=_SURGES.window_minutes, ge=5, le=1440)
    weeks: int = Field(default=_SURGES.weeks, ge=1, le=52)
    factor: float = Field(default=_SURGES.factor, gt=1, le=100)
    min_count: int = Field(default=_SURGES.min_count, ge=1, le=100_000)
    floor: float = Field(default=_SURGES.floor, gt=0, le=1000)
    check_interval: float = Field(default=_SURGES.check_interval, ge=5, le=3600)


class Visits(Shape):
    window_start: str = Field(default=_hhmm(_VISITS.window_start), description="HH:MM, local time")
    window_end: str = Field(default=_hhmm(_VISITS.window_end), description="HH:MM, local time")
    max_attempts: int = _VISITS.max_attempts
    retry_after: float = _VISITS.retry_after
    ring_seconds: int = _VISITS.ring_seconds
    check_interval: float = _VISITS.check_interval
    lease: float = _VISITS.lease


class Privacy(Shape):
    keep_days: int = Field(default=0, ge=0, le=36_500,
                           description="Days call records keep what identifies the caller "
                                       "(0: for ever)")


class Recordings(Shape):
    enabled: bool = _RECORDINGS.enabled
    format: Literal["wav", "gsm", "wav49"] = "wav"
    directory: str = Field(default="", description="On this host; '' = the test bed's")
    asterisk_directory: str = Field(default=_RECORDINGS.asterisk_directory,
                                    description="The same directory as Asterisk sees it")
    keep_days: int = Field(default=_RECORDINGS.keep_days, ge=0,
                           description="Days a recording is kept (0: for ever)")
    disk_full_percent: float = Field(default=_RECORDINGS.disk_full_percent, gt=0, le=100)


class Database(Shape):
    url: str = "sqlite:///ivr.sqlite3"


class Languages(Shape):
    default: str = "zh"
    enabled: list[str] = Field(default=["zh", "en"])


class Menu(Shape):
    general_queue: str = _MENU.general_queue


class Speech(Shape):
    audiosocket_host: str = _SPEECH.audiosocket_host
    audiosocket_port: int = Field(default=_SPEECH.audiosocket_port, ge=1, le=65535)
    workers: int = Field(default=_SPEECH.workers, ge=0,
                         description="Decoding threads; 0: one a core")
    capacity: int = Field(default=_SPEECH.capacity, ge=0, description="Pool units; 0: automatic")
    no_speech_timeout: float = _SPEECH.no_speech_timeout
    end_silence: float = _SPEECH.end_silence
    max_duration: float = _SPEECH.max_duration
    gating: bool = _SPEECH.gating
    pre_roll: float = Field(default=_SPEECH.pre_roll, ge=0, le=5)
    hangover: float = Field(default=_SPEECH.hangover, ge=0, le=5)
    vad_aggressiveness: int = Field(default=_SPEECH.vad_aggressiveness, ge=0, le=3)
    intents: str = str(_SPEECH.intents)
    grammar_only: list[str] = Field(default=[], description="Languages recognised by grammar only")
    models: dict[str, str] = Field(default={}, description="Language = model directory or package")


class Paths(Shape):
    state_dir: str = Field(default="", description="'' = $XDG_STATE_HOME/ivr")
    prompts: str = "prompts"
    asterisk_sounds: str = ""
    queue_log: str = ""


class Sandbox(Shape):
    cache_dir: str = str(_SANDBOX.cache_dir)
    mirror: str = _SANDBOX.mirror
    suite: str = _SANDBOX.suite


class IvrToml(Shape):
    """``config/ivr.toml``: one application node's services (the routing policy every node
    shares is in routing.toml)."""

    service: Service = Service()
    web: Web = Web()
    flows: Flows = Flows()
    agi: Agi = Agi()
    ami: Ami = Ami()
    sip: Sip = Sip()
    callbacks: Callbacks = Callbacks()
    surges: Surges = Surges()
    visits: Visits = Visits()
    privacy: Privacy = Privacy()
    recordings: Recordings = Recordings()
    database: Database = Database()
    languages: Languages = Languages()
    menu: Menu = Menu()
    speech: Speech = Speech()
    paths: Paths = Paths()
    sandbox: Sandbox = Sandbox()


# routing.toml -----------------------------------------------------------------------------

class Widening(Shape):
    after: int = Field(description="Seconds of waiting")
    min_level: int = Field(default=1, ge=1, le=5)
    language: bool = Field(default=False, description="Any operator speaking the caller's language")
    general_pool: bool = False


class Routing(Shape):
    emergency_priority: int = Field(default=_ROUTING.emergency_priority, ge=1, le=10)
    elderly_bonus: int = _ROUTING.elderly_bonus
    repeat_caller_bonus: int = _ROUTING.repeat_caller_bonus
    previous_operator_seconds: int = _ROUTING.previous_operator_seconds
    position_every: int = _ROUTING.position_every
    widening: list[Widening] = Field(default=
        [Widening(after=int(s.after_seconds), min_level=s.min_level,
                  language=s.any_skill_with_language, general_pool=s.general_pool)
         for s in _ROUTING.widening])


class RoutingToml(Shape):
    """``config/routing.toml``: the routing policy every node shares."""

    routing: Routing = Routing()


# skills.yaml, operators.yaml, departments.yaml ---------------------------------------------

class ServiceLevelShape(Shape):
    percent: int = Field(default=80, ge=1, le=100)
    seconds: int = Field(default=20, ge=1, le=3600)


class SkillShape(Shape):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    names: dict[str, str] = Field(description="Language = name (every enabled language)")
    department: str
    service_level: ServiceLevelShape = ServiceLevelShape()


class SkillsYaml(Shape):
    """``config/skills.yaml``: the skills, one Asterisk queue each."""

    skills: list[SkillShape] = Field(min_length=1)


class OperatorShape(Shape):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
    name: str
    endpoint: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
                                 description="The PJSIP endpoint (default: the id)")
    contact: str = Field(description="sip:user@host:port")
    languages: list[str] | None = Field(default=None, description="Default: every enabled language")
    skills: dict[str, int] = Field(description="Skill = level 1-5 (5 rings first)")


class OperatorsYaml(Shape):
    """``config/operators.yaml``: the operators and their skill levels."""

    operators: list[OperatorShape]


class DepartmentShape(Shape):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    kind: Literal["department", "street"] = "department"
    names: dict[str, str]
    categories: list[str] = Field(min_length=1)
    contacts: dict[str, str] = Field(default={})
    keywords: list[str] = Field(default=[])
    places: list[str] = Field(default=[], description="A street or town's places")


class DepartmentsYaml(Shape):
    """``config/departments.yaml``: who cases are dispatched to."""

    departments: list[DepartmentShape]


# schedules.yaml, deadlines.yaml ------------------------------------------------------------

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ScheduleShape(Shape):
    description: str = ""
    hours: dict[Day, list[str]] = Field(description="Day = windows HH:MM-HH:MM")
    closed_on: list[str] = Field(default=[], description="Calendars of days it is closed")


class SchedulesYaml(Shape):
    """``config/schedules.yaml``: calendars of days and opening hours."""

    calendars: dict[str, list[date]] = Field(default={})
    schedules: dict[str, ScheduleShape] = Field(default={})


class DeadlineShape(Shape):
    respond_hours: float = Field(gt=0, le=24 * 30)
    resolve_working_days: int = Field(default=0, ge=0, le=365)
    resolve_hours: float = Field(default=0, ge=0, le=24 * 365)


Urgency = Literal["urgent", "normal"]


class DeadlinesYaml(Shape):
    """``config/deadlines.yaml``: how long departments have to respond and resolve."""

    defaults: dict[Urgency, DeadlineShape] = Field(default={})
    categories: dict[str, dict[Urgency, DeadlineShape]] = Field(default={})
    holidays: str | None = Field(default=None, description="A calendar of schedules.yaml")
    make_up_working_days: list[date] = Field(default=[])
    nearly_due_share: float = Field(default=_DEADLINES.nearly_due_share, ge=0, lt=1)
    escalate_after_hours: float = Field(default=_DEADLINES.escalate_after_hours, ge=0)


# quality.yaml -----------------------------------------------------------------------------

class ChecklistItemShape(Shape):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    names: dict[str, str] = Field(description="Language = name (every enabled language)")
    points: int = Field(default=1, ge=1, le=MAX_POINTS,
                        description="What the item is worth; a reviewer marks it 0 to this")


class QualityYaml(Shape):
    """``config/quality.yaml``: the checklist supervisors score calls against."""

    pass_percent: float = Field(default=Checklist().pass_percent, ge=0, le=100,
                                description="A review passes at this score (%) or more")
    items: list[ChecklistItemShape] = Field(min_length=1, max_length=MAX_ITEMS)


# intents.yaml -----------------------------------------------------------------------------

class IntentBands(Shape):
    accept: float | None = Field(default=DEFAULT_BANDS.accept, ge=0, le=1,
                                 description="Route silently from this score (null: never)")
    confirm: float = Field(default=DEFAULT_BANDS.confirm, ge=0, le=1,
                           description="Ask the caller to confirm from this score")
    coverage: float = Field(default=DEFAULT_BANDS.coverage, ge=0, le=1,
                            description="Share of the utterance the keywords must cover")


class IntentShape(Shape):
    skill: str = Field(description="A skill of skills.yaml")
    category: str = Field(description="Shown to the operator, stored with the case")
    urgency: Literal["normal", "elderly", "emergency"] = "normal"
    weight: float = Field(default=1.0, gt=0, le=10)
    phrases: list[str]


class LanguageIntents(Shape):
    matching: Literal["characters", "words"] = "characters"
    intents: list[IntentShape]
    urgency: dict[Literal["elderly", "emergency"], list[str]] = Field(
        default={}, description="Phrases that raise the call's urgency")
    filler: list[str] = Field(default=[], description="Words heard that mean nothing")
    bands: IntentBands | None = None


class IntentsYaml(Shape):
    """``config/intents.yaml``: what a caller's words are about, per language."""

    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0, le=1)
    bands: IntentBands = IntentBands()
    languages: dict[str, LanguageIntents]


FILES: dict[str, type[Shape]] = {
    "ivr.toml": IvrToml, "routing.toml": RoutingToml, "skills.yaml": SkillsYaml,
    "operators.yaml": OperatorsYaml, "departments.yaml": DepartmentsYaml,
    "schedules.yaml": SchedulesYaml, "deadlines.yaml": DeadlinesYaml,
    "intents.yaml": IntentsYaml, "quality.yaml": QualityYaml,
}
"""Each configuration file the loader reads, by name, and its shape."""


def schema_name(file: str) -> str:
    """``ivr.toml`` -> ``ivr.toml.schema.json``."""
    return f"{file}.schema.json"


def schemas() -> dict[str, dict[str, Any]]:
    """Every file's JSON Schema by the name it is written under (``config/schema/``)."""
    return {schema_name(file): schema.json_schema(
        shape, title=file, description=(shape.__doc__ or "").strip().replace("``", "`"))
        for file, shape in FILES.items()}


def write_schemas(directory: Path) -> list[Path]:
    """Write every file's JSON Schema into ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schemas().items():
        path = directory / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written

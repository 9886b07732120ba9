"""The hotline's configuration as values: what ``ivr.settings.load`` validated, once.

Frozen dataclasses, no I/O: the loader reads and checks ``config/``; everything else is handed
these values (and a fresh ``Settings`` after an edit of ``config/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ivr.core.deadlines import DeadlinePolicy
from ivr.core.quality import Checklist
from ivr.core.routing import MAX_LEVEL, MIN_LEVEL, RoutingPolicy
from ivr.core.schedules import Schedules
from ivr.core.surges import SurgeRule


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    percent: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Skill:
    id: str
    names: Mapping[str, str]
    department: str
    service_level: ServiceLevel


DEPARTMENT_KINDS = ("department", "street")
"""A case goes to a department of the city or to one of its streets and towns (街道乡镇)."""


@dataclass(frozen=True, slots=True)
class Department:
    """Who a case is dispatched to (``config/departments.yaml``); its accounts work its queue."""

    id: str
    kind: str
    names: Mapping[str, str]
    categories: tuple[str, ...]
    contacts: Mapping[str, str] = field(default_factory=dict)
    # Words a caller says about its kind of problem, and (a street/town) the places in its
    # area: the suggested department (``ivr.core.suggest``) weighs them.
    keywords: tuple[str, ...] = ()
    places: tuple[str, ...] = ()

    def name(self, language: str = "zh") -> str:
        """Its name in ``language`` (Chinese first, then any name it has, then its id)."""
        return (self.names.get(language) or self.names.get("zh")
                or next(iter(self.names.values()), self.id))


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    endpoint: str
    contact: str
    languages: tuple[str, ...]
    skills: Mapping[str, int]

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.endpoint}"

    def penalty(self, skill: str) -> int:
        """Queue penalty for a skill: level 5 rings first (penalty 0), level 1 last (penalty 4)."""
        return MAX_LEVEL - self.skills.get(skill, MIN_LEVEL)


MAX_WORKERS = 64  # [agi] workers: FastAGI worker processes sharing the port


@dataclass(frozen=True, slots=True)
class AgiSettings:
    host: str = "127.0.0.1"
    port: int = 4573
    allowed_peers: tuple[str, ...] = ("127.0.0.1",)
    handshake_timeout: float = 5.0
    handshake_max_bytes: int = 16384
    # Connections that may be sending their handshake at once; past it the oldest is dropped.
    max_handshakes: int = 64
    command_timeout: float = 60.0
    # Longest wait for one database read or write on a call's path (case lookups, the caller's
    # history, records); past it the call goes on with the safe default (nothing known).
    database_deadline: float = 0.5
    # host:port of another application node's FastAGI, tried by the dialplan when this
    # node cannot be reached at all ("" = none).
    failover: str = ""
    # FastAGI worker processes sharing the port (SO_REUSEPORT), each a full application node
    # on the shared PostgreSQL; 1 = this process serves FastAGI itself (ivr.workers).
    workers: int = 1
    # Generated at set-up (secrets.json): the dialplan's AGI URL carries it, and a session
    # without it is refused.
    secret: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "ivr"
    secret: str = field(default="", repr=False)
    action_timeout: float = 5.0
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    reconnect_min: float = 0.5
    reconnect_max: float = 10.0
    boot_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class SipSettings:
    host: str = "127.0.0.1"
    port: int = 5060
    service_number: str = "12345"
    transfer_contact: str = "sip:127.0.0.1:5099"
    callback_contact: str = "sip:127.0.0.1:5098"


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    offer_every: int = 30
    max_attempts: int = 3
    retry_after: float = 60.0
    # Waiting callbacks at most per citizen number and per queue: repeated calls cannot fill
    # a skill queue with stand-ins.
    max_per_number: int = 1
    max_per_queue: int = 20


@dataclass(frozen=True, slots=True)
class VisitSettings:
    """The return visit (回访): when and how often a citizen is called back about a resolved
    case. Calls go out through the callback gateway with the hotline's number as caller ID."""

    window_start: int = 8 * 60  # minutes after local midnight
    window_end: int = 21 * 60
    max_attempts: int = 3
    retry_after: float = 1800.0
    ring_seconds: int = 45
    check_interval: float = 10.0
    lease: float = 600.0  # a claimed visit with no result after this long is tried again


@dataclass(frozen=True, slots=True)
class MenuSettings:
    general_queue: str = "hotline"


@dataclass(frozen=True, slots=True)
class SpeechSettings:
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    workers: int = 0
    capacity: int = 0
    no_speech_timeout: float = 5.0
    end_silence: float = 0.8
    max_duration: float = 15.0
    gating: bool = True
    pre_roll: float = 0.6
    hangover: float = 0.3
    vad_aggressiveness: int = 1
    intents: Path = Path("config/intents.yaml")
    grammar_only: tuple[str, ...] = ()
    models: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    cache_dir: Path = Path("/var/cache/ivr-sandbox")
    mirror: str = ""  # "" = the Debian mirror of the host's own apt sources
    suite: str = "sid"


RECORDING_FORMATS: frozenset[str] = frozenset({"wav", "gsm", "wav49"})
"""The formats MixMonitor writes that a browser (wav) or a supervisor's tools (gsm, wav49)
play; the file's extension is the format's name."""


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    """``[recordings]``: the operator leg of every answered call, from answer to hang-up,
    recorded by Asterisk (MixMonitor started when the queue member answers)."""

    enabled: bool = True
    format: str = "wav"
    # Where the files are on this host (the application reads, serves and purges them);
    # None: the test bed's (``ivr serve`` fills it in).
    directory: Path | None = None
    # The same directory as Asterisk sees it (written into the dialplan).
    asterisk_directory: str = "/var/spool/asterisk/recordings"
    keep_days: int = 0            # 0: kept for ever
    disk_full_percent: float = 90.0  # /healthz says so past this share of the disk used


@dataclass(frozen=True, slots=True)
class Settings:
    project_dir: Path
    web_host: str
    web_port: int
    timezone: str
    flow_path: Path
    flow_reload_interval: float
    schedules: Schedules
    state_dir: Path
    prompts_dir: Path
    # Where Asterisk reads sounds (bulletins are written there); None: the test bed's.
    asterisk_sounds: Path | None
    database_url: str
    default_language: str
    languages: tuple[str, ...]
    agi: AgiSettings
    ami: AmiSettings
    sip: SipSettings
    menu: MenuSettings
    callbacks: CallbackSettings
    speech: SpeechSettings
    sandbox: SandboxSettings
    skills: Mapping[str, Skill]
    operators: Mapping[str, Operator]
    # ``[routing]`` of routing.toml: priorities and the widening schedule (one policy for the
    # application's plans and for queuerules.conf).
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    departments: Mapping[str, Department] = field(default_factory=dict)
    deadlines: DeadlinePolicy = field(default_factory=DeadlinePolicy)
    visits: VisitSettings = field(default_factory=VisitSettings)
    surges: SurgeRule = field(default_factory=SurgeRule)
    # The session cookie's Secure flag: "auto" (when the request came over TLS, directly or
    # through a proxy saying X-Forwarded-Proto: https), "always" or "never".
    web_secure_cookies: str = "auto"
    # The web listener's bounds (ivr.web.listener): open connections, and how long one may
    # stay silent before it is closed.
    web_max_connections: int = 1000
    web_idle_timeout: float = 120.0
    # app_queue's queue_log, read to give every call its final record (ivr.calls.reconcile);
    # None: not read (``ivr serve`` fills in the test bed's when ``[paths] queue_log`` is "").
    asterisk_queue_log: Path | None = None
    # ``[privacy] keep_days``: call records older than this many days lose what identifies the
    # caller and what they said (ivr.calls.retention); 0: kept for ever.
    privacy_keep_days: int = 0
    # ``[recordings]``: every answered call's operator leg (ivr.calls.recordings).
    recordings: RecordingSettings = field(default_factory=RecordingSettings)
    # ``quality.yaml``: the checklist supervisors score calls against (ivr.core.quality).
    quality: Checklist = field(default_factory=Checklist)

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.json"

    def department_for(self, category: str) -> Department | None:
        """The department proposed for a case of ``category``: the first that lists it."""
        return next((d for d in self.departments.values() if category in d.categories), None)

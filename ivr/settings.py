"""Loading the settings: ``config/`` read and validated once, into ``ivr.core.settings`` values.

Every problem in every file is collected and reported together (file, key, reason) in one
``ConfigError``; nothing is half-loaded. Secrets never live in ``config/``: they come from the
environment (``IVR_AMI_SECRET``, ``IVR_AGI_SECRET``) or from the secrets file generated at
set-up in the state directory.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
import os
import re
import secrets
import sys
import tomllib
import unicodedata
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ivr.configuration import shapes
from ivr.core.deadlines import URGENCIES, Deadline, DeadlinePolicy, WorkingCalendar
from ivr.core.quality import MAX_ITEMS, MAX_POINTS, Checklist, ChecklistItem
from ivr.core.routing import MAX_LEVEL, MIN_LEVEL, RoutingPolicy, WideningStep
from ivr.core.schedules import Schedules
from ivr.core.schedules import parse as parse_schedules
from ivr.core.settings import (
    DEPARTMENT_KINDS,
    MAX_WORKERS,
    RECORDING_FORMATS,
    AgiSettings,
    AmiSettings,
    CallbackSettings,
    Department,
    MenuSettings,
    Operator,
    RecordingSettings,
    SandboxSettings,
    ServiceLevel,
    Settings,
    SipSettings,
    Skill,
    SpeechSettings,
    VisitSettings,
)
from ivr.core.surges import SurgeRule
from ivr.edges import schema
from ivr.edges.schema import Shape
from ivr.errors import ConfigError, ConfigProblem

HOME_PARTS = ("config", "dialplans", "prompts")  # what a hotline's home directory holds


def find_project_dir() -> Path:
    """The hotline's home: where ``config/``, ``dialplans/`` and ``prompts/`` are.

    ``$IVR_HOME`` (written by ``ivr init DIR``), else the source checkout this package runs
    from, else the defaults installed with the package (``<prefix>/share/ivr``, read-only
    use: ``ivr init`` copies them somewhere editable).
    """
    if os.environ.get("IVR_HOME"):
        return Path(os.environ["IVR_HOME"]).resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "config" / "ivr.toml").is_file():
        return checkout
    return Path(sys.prefix) / "share" / "ivr"


PROJECT_DIR = find_project_dir()
SKILL_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
OPERATOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
DEPARTMENT_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
SECURE_COOKIES = ("auto", "always", "never")
AGI_SECRET = re.compile(r"[A-Za-z0-9_-]{16,128}")
SIP_CONTACT = re.compile(r"^sip:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+(:\d{1,5})?$")
# Each skill is an app_queue queue named after it; these section names mean something else.
RESERVED_QUEUE_NAMES = frozenset({"general", "globals"})


class _Collector:
    """Reads typed values out of parsed files, remembering every problem instead of raising."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []
        self.anchor_keys: dict[str, tuple[str, ...]] = {}  # per YAML file (_UniqueKeyLoader)

    def add(self, file: str, key: str, reason: str) -> None:
        self.problems.append(ConfigProblem(file, key, reason))

    def unknown(self, file: str, shape: type[Shape], raw: Any,
                explained: tuple[str, ...] = ()) -> None:
        """A problem for every key or table of ``raw`` its shape (``ivr.configuration.shapes``)
        does not declare, with the nearest declared name: ``ping_intervall`` is an error, not
        a silent default. ``explained``: keys the loader reports in its own words."""
        self.problems += schema.problems(shape, raw, file, unknown_only=True,
                                         explained=explained)

    def section(self, file: str, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.add(file, key, "must be a table")
            return {}
        return value

    def get(  # noqa: PLR0917 - read as a sentence: file, table, key, type, default, where
        self, file: str, data: Mapping[str, Any], key: str, kind: type, default: Any, where: str
    ) -> Any:
        if key not in data:
            return default
        value = data[key]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = abs(value) < 2**1023  # a 400-digit integer has no float (OverflowError)
            value = float(value) if ok else value
        if not ok:
            self.add(file, f"{where}.{key}", f"must be {kind.__name__}, got {_shown(value)}")
            return default
        if kind is float and not math.isfinite(value):
            # TOML allows nan and inf; a timeout of nan seconds would never fire.
            self.add(file, f"{where}.{key}", f"must be a finite number, got {value!r}")
            return default
        return value

    def positive(self, file: str, key: str, value: float) -> None:
        if value <= 0:
            self.add(file, key, f"must be greater than 0, got {value!r}")

    def port(self, file: str, key: str, value: int) -> None:
        if not 1 <= value <= 65535:
            self.add(file, key, f"must be a TCP/UDP port (1-65535), got {value!r}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """``safe_load`` keeps the last of two equal keys (a second ``skills:`` hides the first);
    this loader refuses the file instead, naming the key and its line. It also notes the
    top-level keys that hold an anchor (``defaults: &sl {...}``, merged with ``<<: *sl``):
    they are the file's own shorthand, not unknown settings."""

    anchor_keys: frozenset[str] = frozenset()

    def compose_document(self) -> yaml.Node | None:
        self.get_event()  # type: ignore[no-untyped-call]  # the document start
        node = self.compose_node(None, None)  # type: ignore[arg-type]
        self.get_event()  # type: ignore[no-untyped-call]  # its end
        anchored = {id(n) for n in self.anchors.values()}
        self.anchors = {}
        if isinstance(node, yaml.MappingNode):
            self.anchor_keys = frozenset(
                str(key.value) for key, value in node.value
                if isinstance(key, yaml.ScalarNode) and id(value) in anchored)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *defaults" merges; explicit keys may override merged ones
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _shown(value: Any) -> str:
    """A wrong value as it is quoted in a problem: its repr, cut to one readable line."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def _read_toml(path: Path, c: _Collector) -> Mapping[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        c.add(str(path), "-", "file not found")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        c.add(str(path), "-", f"not valid TOML: {exc}")
    except RecursionError:  # the parser recurses per nested array or table
        c.add(str(path), "-", "not valid TOML: nested too deeply")
    except ValueError as exc:  # an integer of more than 4300 digits
        c.add(str(path), "-", f"not valid TOML: {exc}")
    return {}


def _read_yaml(path: Path, c: _Collector) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        loader = _UniqueKeyLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
            c.anchor_keys[str(path)] = tuple(loader.anchor_keys)
    except FileNotFoundError:
        c.add(str(path), "-", "file not found")
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        c.add(str(path), "-", f"not valid YAML: {exc}")
    except RecursionError:  # PyYAML recurses per nested list or mapping
        c.add(str(path), "-", "not valid YAML: nested too deeply")
    except ValueError as exc:  # a 5000-digit integer, 2026-02-31: PyYAML lets these through
        c.add(str(path), "-", f"not valid YAML: {exc}")
    return None


def _read_yaml_optional(path: Path, c: _Collector) -> Any:
    """A YAML file that may be absent (None then)."""
    return _read_yaml(path, c) if path.exists() else None


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ivr"


def _services(path: Path, raw: Mapping[str, Any], c: _Collector) -> dict[str, Any]:
    f = str(path)
    a = c.section(f, raw, "agi")
    agi = AgiSettings(
        host=c.get(f, a, "host", str, "127.0.0.1", "agi"),
        port=c.get(f, a, "port", int, 4573, "agi"),
        allowed_peers=tuple(c.get(f, a, "allowed_peers", list, ["127.0.0.1"], "agi")),
        handshake_timeout=c.get(f, a, "handshake_timeout", float, 5.0, "agi"),
        handshake_max_bytes=c.get(f, a, "handshake_max_bytes", int, 16384, "agi"),
        max_handshakes=c.get(f, a, "max_handshakes", int, 64, "agi"),
        command_timeout=c.get(f, a, "command_timeout", float, 60.0, "agi"),
        database_deadline=c.get(f, a, "database_deadline", float, 0.5, "agi"),
        failover=c.get(f, a, "failover", str, "", "agi"),
        workers=c.get(f, a, "workers", int, 1, "agi"),
    )
    c.port(f, "agi.port", agi.port)
    if "secret" in a:
        c.add(f, "agi.secret", "secrets do not belong in config files; use IVR_AGI_SECRET")
    if agi.failover and not re.fullmatch(r"[A-Za-z0-9.-]+:[0-9]{1,5}", agi.failover):
        c.add(f, "agi.failover", f"not host:port: {agi.failover!r}")
    c.positive(f, "agi.handshake_timeout", agi.handshake_timeout)
    c.positive(f, "agi.handshake_max_bytes", agi.handshake_max_bytes)
    c.positive(f, "agi.max_handshakes", agi.max_handshakes)
    c.positive(f, "agi.database_deadline", agi.database_deadline)
    if not 1 <= agi.workers <= MAX_WORKERS:
        c.add(f, "agi.workers", f"from 1 to {MAX_WORKERS} worker processes, got {agi.workers}")
    if agi.command_timeout < 10:
        c.add(f, "agi.command_timeout",
              f"at least 10 s (prompts and bulletins play within it), got {agi.command_timeout}")
    for peer in agi.allowed_peers:
        try:
            ipaddress.ip_network(str(peer), strict=False)
        except ValueError:
            c.add(f, "agi.allowed_peers", f"not an IP address or network: {peer!r}")

    m = c.section(f, raw, "ami")
    ami = AmiSettings(
        host=c.get(f, m, "host", str, "127.0.0.1", "ami"),
        port=c.get(f, m, "port", int, 5038, "ami"),
        username=c.get(f, m, "username", str, "ivr", "ami"),
        action_timeout=c.get(f, m, "action_timeout", float, 5.0, "ami"),
        ping_interval=c.get(f, m, "ping_interval", float, 5.0, "ami"),
        ping_timeout=c.get(f, m, "ping_timeout", float, 3.0, "ami"),
        reconnect_min=c.get(f, m, "reconnect_min", float, 0.5, "ami"),
        reconnect_max=c.get(f, m, "reconnect_max", float, 10.0, "ami"),
        boot_timeout=c.get(f, m, "boot_timeout", float, 30.0, "ami"),
    )
    if "secret" in m:
        c.add(f, "ami.secret", "secrets do not belong in config files; use IVR_AMI_SECRET")
    c.port(f, "ami.port", ami.port)
    for key in ("action_timeout", "ping_interval", "ping_timeout", "reconnect_min",
                "boot_timeout"):
        c.positive(f, f"ami.{key}", getattr(ami, key))
    if ami.reconnect_max < ami.reconnect_min:
        c.add(f, "ami.reconnect_max", "must not be smaller than ami.reconnect_min")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", ami.username):
        c.add(f, "ami.username", "letters, digits, _ and - only (1-32)")

    s = c.section(f, raw, "sip")
    sip = SipSettings(
        host=c.get(f, s, "host", str, "127.0.0.1", "sip"),
        port=c.get(f, s, "port", int, 5060, "sip"),
        service_number=c.get(f, s, "service_number", str, "12345", "sip"),
        transfer_contact=c.get(f, s, "transfer_contact", str, "sip:127.0.0.1:5099", "sip"),
        callback_contact=c.get(f, s, "callback_contact", str, "sip:127.0.0.1:5098", "sip"),
    )
    for key in ("transfer_contact", "callback_contact"):
        if not re.fullmatch(r"sip:[A-Za-z0-9_.-]+(:\d{1,5})?", getattr(sip, key)):
            c.add(f, f"sip.{key}", "must look like sip:host:port")
    cb = c.section(f, raw, "callbacks")
    callbacks = CallbackSettings(
        offer_every=c.get(f, cb, "offer_every", int, 30, "callbacks"),
        max_attempts=c.get(f, cb, "max_attempts", int, 3, "callbacks"),
        retry_after=c.get(f, cb, "retry_after", float, 60.0, "callbacks"),
        max_per_number=c.get(f, cb, "max_per_number", int, 1, "callbacks"),
        max_per_queue=c.get(f, cb, "max_per_queue", int, 20, "callbacks"),
    )
    for key in ("offer_every", "max_attempts", "retry_after", "max_per_number", "max_per_queue"):
        c.positive(f, f"callbacks.{key}", getattr(callbacks, key))
    visits = _visits(f, c.section(f, raw, "visits"), c)
    surge_rule = _surges(f, c.section(f, raw, "surges"), c)
    keep_days = c.get(f, c.section(f, raw, "privacy"), "keep_days", int, 0, "privacy")
    if not 0 <= keep_days <= 36_500:
        c.add(f, "privacy.keep_days", f"must be 0 (kept for ever) to 36500, got {keep_days!r}")
    recordings = _recordings(f, c.section(f, raw, "recordings"), c)
    c.port(f, "sip.port", sip.port)
    if not sip.service_number.isdigit():
        c.add(f, "sip.service_number", "must be digits")

    u = c.section(f, raw, "menu")
    menu = MenuSettings(
        general_queue=c.get(f, u, "general_queue", str, "hotline", "menu"),
    )

    sp = c.section(f, raw, "speech")
    models = c.get(f, sp, "models", dict, {}, "speech")
    for lang, value in models.items():
        if not LANGUAGE.match(str(lang)) or not isinstance(value, str) or not value:
            c.add(f, f"speech.models.{lang}", "language = model directory or package name")
    speech = SpeechSettings(
        audiosocket_host=c.get(f, sp, "audiosocket_host", str, "127.0.0.1", "speech"),
        audiosocket_port=c.get(f, sp, "audiosocket_port", int, 9092, "speech"),
        workers=c.get(f, sp, "workers", int, 0, "speech"),
        capacity=c.get(f, sp, "capacity", int, 0, "speech"),
        no_speech_timeout=c.get(f, sp, "no_speech_timeout", float, 5.0, "speech"),
        end_silence=c.get(f, sp, "end_silence", float, 0.8, "speech"),
        max_duration=c.get(f, sp, "max_duration", float, 15.0, "speech"),
        gating=c.get(f, sp, "gating", bool, True, "speech"),
        pre_roll=c.get(f, sp, "pre_roll", float, 0.6, "speech"),
        hangover=c.get(f, sp, "hangover", float, 0.3, "speech"),
        vad_aggressiveness=c.get(f, sp, "vad_aggressiveness", int, 1, "speech"),
        intents=Path(c.get(f, sp, "intents", str, "config/intents.yaml", "speech")),
        grammar_only=tuple(
            code for code in c.get(f, sp, "grammar_only", list, [], "speech")
            if isinstance(code, str) and LANGUAGE.match(code)
        ),
        models={str(k): str(v) for k, v in models.items()},
    )
    c.port(f, "speech.audiosocket_port", speech.audiosocket_port)
    for key in ("no_speech_timeout", "end_silence", "max_duration"):
        c.positive(f, f"speech.{key}", getattr(speech, key))
    for code in c.get(f, sp, "grammar_only", list, [], "speech"):
        if not isinstance(code, str) or not LANGUAGE.match(code):
            c.add(f, "speech.grammar_only", f"not a language code: {_shown(code)}")
    if speech.workers < 0 or speech.capacity < 0:
        c.add(f, "speech.workers", "workers and capacity are 0 (automatic) or more")
    for key in ("pre_roll", "hangover"):
        if not 0 <= getattr(speech, key) <= 5:
            c.add(f, f"speech.{key}", "seconds between 0 and 5")
    if speech.vad_aggressiveness not in (0, 1, 2, 3):
        c.add(f, "speech.vad_aggressiveness", "0, 1, 2 or 3 (higher filters more noise)")

    b = c.section(f, raw, "sandbox")
    sandbox = SandboxSettings(
        cache_dir=Path(c.get(f, b, "cache_dir", str, "/var/cache/ivr-sandbox", "sandbox")),
        mirror=c.get(f, b, "mirror", str, "", "sandbox"),
        suite=c.get(f, b, "suite", str, "sid", "sandbox"),
    )

    lang = c.section(f, raw, "languages")
    default_language = c.get(f, lang, "default", str, "zh", "languages")
    enabled = c.get(f, lang, "enabled", list, ["zh", "en"], "languages")
    for code in enabled:
        if not isinstance(code, str) or not LANGUAGE.match(code):
            c.add(f, "languages.enabled", f"not a language code: {_shown(code)}")
    # Only real codes go on: skills and operators look names up by language.
    languages = tuple(code for code in enabled if isinstance(code, str) and LANGUAGE.match(code))
    if default_language not in languages:
        c.add(f, "languages.default", f"{default_language!r} is not in languages.enabled")

    sv = c.section(f, raw, "service")
    timezone = c.get(f, sv, "timezone", str, "Asia/Shanghai", "service")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        c.add(f, "service.timezone", f"unknown time zone {timezone!r}")
    wb = c.section(f, raw, "web")
    web_host = c.get(f, wb, "host", str, "127.0.0.1", "web")
    web_port = c.get(f, wb, "port", int, 8080, "web")
    c.port(f, "web.port", web_port)
    web_max_connections = c.get(f, wb, "max_connections", int, 1000, "web")
    web_idle_timeout = c.get(f, wb, "idle_timeout", float, 120.0, "web")
    c.positive(f, "web.max_connections", web_max_connections)
    c.positive(f, "web.idle_timeout", web_idle_timeout)
    secure_cookies = c.get(f, wb, "secure_cookies", str, "auto", "web")
    if secure_cookies not in SECURE_COOKIES:
        c.add(f, "web.secure_cookies",
              f"one of {', '.join(SECURE_COOKIES)} (got {secure_cookies!r})")
    fl = c.section(f, raw, "flows")
    flow_main = c.get(f, fl, "main", str, "dialplans/12345.yaml", "flows")
    reload_interval = c.get(f, fl, "reload_interval", float, 1.0, "flows")
    c.positive(f, "flows.reload_interval", reload_interval)

    if "routing" in raw:
        c.add(f, "routing", "moved to routing.toml beside ivr.toml (the policy every node "
              "shares)")
    p = c.section(f, raw, "paths")
    d = c.section(f, raw, "database")
    return {
        "agi": agi,
        "ami": ami,
        "sip": sip,
        "menu": menu,
        "callbacks": callbacks,
        "visits": visits,
        "surges": surge_rule,
        "keep_days": keep_days,
        "recordings": recordings,
        "speech": speech,
        "sandbox": sandbox,
        "default_language": default_language,
        "languages": languages,
        "state_dir": c.get(f, p, "state_dir", str, "", "paths"),
        "prompts": c.get(f, p, "prompts", str, "prompts", "paths"),
        "asterisk_sounds": c.get(f, p, "asterisk_sounds", str, "", "paths"),
        "queue_log": c.get(f, p, "queue_log", str, "", "paths"),
        "database_url": c.get(f, d, "url", str, "sqlite:///ivr.sqlite3", "database"),
        "timezone": timezone,
        "web_host": web_host,
        "web_port": web_port,
        "web_secure_cookies": secure_cookies,
        "web_max_connections": web_max_connections,
        "web_idle_timeout": web_idle_timeout,
        "flow_main": flow_main,
        "reload_interval": reload_interval,
    }


def _routing(f: str, r: Mapping[str, Any], c: _Collector) -> RoutingPolicy:
    """``[routing]``: the one routing policy, every problem reported with its key."""
    default = RoutingPolicy()  # an unknown key in [routing] is reported with the others
    values: dict[str, Any] = {
        key: c.get(f, r, key, int, getattr(default, key), "routing")
        for key in ("emergency_priority", "elderly_bonus", "repeat_caller_bonus",
                    "previous_operator_seconds", "position_every")
    }
    before = len(c.problems)
    raw_steps = c.get(f, r, "widening", list, None, "routing")
    steps: list[WideningStep] = []
    for i, item in enumerate(raw_steps or []):
        where = f"routing.widening[{i}]"
        if not isinstance(item, Mapping):
            c.add(f, where, "must be a table {after = seconds, min_level = 1-5, ...}")
            continue
        after = c.get(f, item, "after", int, None, where)
        level = c.get(f, item, "min_level", int, MIN_LEVEL, where)
        language = c.get(f, item, "language", bool, False, where)
        pool = c.get(f, item, "general_pool", bool, False, where)
        if after is None:
            c.add(f, f"{where}.after", "required: whole seconds of waiting")
            continue
        try:
            steps.append(WideningStep(after, min_level=level, any_skill_with_language=language,
                                      general_pool=pool))
        except ValueError as exc:
            c.add(f, where, str(exc))
    if raw_steps is not None:
        values["widening"] = tuple(steps)
    if len(c.problems) > before:
        return default  # the problems are reported; a policy from half its steps is not
    try:
        return RoutingPolicy(**values)
    except ValueError as exc:
        c.add(f, "routing", str(exc))
        return default


_WINDOW_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _surges(f: str, v: Mapping[str, Any], c: _Collector) -> SurgeRule:
    """``[surges]``: when cases of one category in one place rise above their usual rate."""
    rule = SurgeRule(
        window_minutes=c.get(f, v, "window_minutes", int, 60, "surges"),
        weeks=c.get(f, v, "weeks", int, 4, "surges"),
        factor=c.get(f, v, "factor", float, 3.0, "surges"),
        min_count=c.get(f, v, "min_count", int, 5, "surges"),
        floor=c.get(f, v, "floor", float, 1.0, "surges"),
        check_interval=c.get(f, v, "check_interval", float, 60.0, "surges"),
    )
    for key, least, most in (("window_minutes", 5, 24 * 60), ("weeks", 1, 52),
                             ("min_count", 1, 100_000), ("check_interval", 5, 3600)):
        value = getattr(rule, key)
        if not least <= value <= most:
            c.add(f, f"surges.{key}", f"must be {least}-{most}, got {value!r}")
    if not 1.0 < rule.factor <= 100:
        c.add(f, "surges.factor", f"must be above 1 and at most 100, got {rule.factor!r}")
    if not 0 < rule.floor <= 1000:
        c.add(f, "surges.floor", f"must be above 0 and at most 1000, got {rule.floor!r}")
    return rule


_ASTERISK_PATH = re.compile(r"/[A-Za-z0-9_./-]*")


def _recordings(f: str, r: Mapping[str, Any], c: _Collector) -> RecordingSettings:
    """``[recordings]``: the directory goes into the dialplan, so only a plain absolute path."""
    directory = c.get(f, r, "directory", str, "", "recordings")
    rec = RecordingSettings(
        enabled=c.get(f, r, "enabled", bool, True, "recordings"),
        format=c.get(f, r, "format", str, "wav", "recordings"),
        directory=Path(directory) if directory else None,
        asterisk_directory=c.get(f, r, "asterisk_directory", str,
                                 "/var/spool/asterisk/recordings", "recordings").rstrip("/"),
        keep_days=c.get(f, r, "keep_days", int, 0, "recordings"),
        disk_full_percent=c.get(f, r, "disk_full_percent", float, 90.0, "recordings"),
    )
    if rec.format not in RECORDING_FORMATS:
        c.add(f, "recordings.format", f"must be one of {', '.join(sorted(RECORDING_FORMATS))}")
    if not _ASTERISK_PATH.fullmatch(rec.asterisk_directory) or ".." in rec.asterisk_directory:
        c.add(f, "recordings.asterisk_directory",
              "must be an absolute path of letters, digits, _ . - and /")
    if not 0 <= rec.keep_days <= 36_500:
        c.add(f, "recordings.keep_days",
              f"must be 0 (kept for ever) to 36500, got {rec.keep_days!r}")
    if not 0 < rec.disk_full_percent <= 100:
        c.add(f, "recordings.disk_full_percent", "must be above 0 and at most 100")
    return rec


def _visits(f: str, v: Mapping[str, Any], c: _Collector) -> VisitSettings:
    """``[visits]``: the return visits' calling window, attempts and retry delay."""
    minutes = []
    for key, default in (("window_start", "08:00"), ("window_end", "21:00")):
        text = c.get(f, v, key, str, default, "visits")
        if not _WINDOW_TIME.match(text):
            c.add(f, f"visits.{key}", f"must be HH:MM (got {_shown(text)})")
            text = default
        hours, mins = text.split(":")
        minutes.append(int(hours) * 60 + int(mins))
    if minutes[1] <= minutes[0]:
        c.add(f, "visits.window_end", "must be after window_start")
    visits = VisitSettings(
        window_start=minutes[0], window_end=minutes[1],
        max_attempts=c.get(f, v, "max_attempts", int, 3, "visits"),
        retry_after=c.get(f, v, "retry_after", float, 1800.0, "visits"),
        ring_seconds=c.get(f, v, "ring_seconds", int, 45, "visits"),
        check_interval=c.get(f, v, "check_interval", float, 10.0, "visits"),
        lease=c.get(f, v, "lease", float, 600.0, "visits"),
    )
    for key in ("max_attempts", "retry_after", "ring_seconds", "check_interval", "lease"):
        c.positive(f, f"visits.{key}", getattr(visits, key))
    return visits


MAX_LABEL = 80
"""Longest skill name, department or operator name (they go into Asterisk's config comments,
the wallboard and the console)."""


def _label_problem(value: object) -> str | None:
    """Why ``value`` cannot be a name (None if it can): required, one line, at most
    ``MAX_LABEL`` characters, no control characters or line separators."""
    if not isinstance(value, str) or not value.strip():
        return "required"
    if len(value) > MAX_LABEL:
        return f"at most {MAX_LABEL} characters (got {len(value)})"
    if any(unicodedata.category(ch) in {"Cc", "Zl", "Zp"} for ch in value):
        return "one line, without control characters"
    return None


def _names(names: Any, languages: tuple[str, ...], c: _Collector, f: str,
           where: str) -> Mapping[str, Any]:
    """A ``names`` mapping (language -> name) checked: a name for every enabled language, each
    a valid label. Returns it ({} when it is not a mapping)."""
    if not isinstance(names, Mapping):
        c.add(f, f"{where}.names", "must map language to name")
        return {}
    for code in languages:
        if not isinstance(names.get(code), str) or not names.get(code):
            c.add(f, f"{where}.names.{code}", "missing name for an enabled language")
    for code, name in names.items():
        problem = _label_problem(name)
        if problem and isinstance(name, str) and name:
            c.add(f, f"{where}.names.{code}", problem)
    return names


def _skills(path: Path, raw: Any, languages: tuple[str, ...], c: _Collector) -> dict[str, Skill]:
    f = str(path)
    items = raw.get("skills") if isinstance(raw, Mapping) else None
    if not isinstance(items, list) or not items:
        if raw is not None:
            c.add(f, "skills", "must be a non-empty list")
        return {}
    skills: dict[str, Skill] = {}
    for i, item in enumerate(items):
        where = f"skills[{i}]"
        if not isinstance(item, Mapping):
            c.add(f, where, "must be a mapping")
            continue
        sid = item.get("id")
        if not isinstance(sid, str) or not SKILL_ID.match(sid):
            c.add(f, f"{where}.id", f"lower-case letters, digits and _ (got {sid!r})")
            continue
        where = f"skills[{sid}]"
        if sid in RESERVED_QUEUE_NAMES:
            c.add(f, f"{where}.id", f"{sid!r} is reserved by Asterisk's queues.conf")
        if sid in skills:
            c.add(f, f"{where}.id", "duplicate skill id")
        names = _names(item.get("names"), languages, c, f, where)
        department = item.get("department")
        problem = _label_problem(department)
        if problem or not isinstance(department, str):
            c.add(f, f"{where}.department", problem or "required")
            department = ""
        sl = item.get("service_level", {"percent": 80, "seconds": 20})
        percent = sl.get("percent") if isinstance(sl, Mapping) else None
        seconds = sl.get("seconds") if isinstance(sl, Mapping) else None
        if not isinstance(percent, int) or not 1 <= percent <= 100:
            c.add(f, f"{where}.service_level.percent", f"must be 1-100, got {percent!r}")
            percent = 80
        if not isinstance(seconds, int) or not 1 <= seconds <= 3600:
            c.add(f, f"{where}.service_level.seconds", f"must be 1-3600, got {seconds!r}")
            seconds = 20
        skills[sid] = Skill(sid, dict(names), department, ServiceLevel(percent, seconds))
    return skills


def _one_line(value: Any, most: int = 200) -> bool:
    return (isinstance(value, str) and bool(value.strip()) and len(value) <= most
            and not any(ch in value for ch in "\r\n\0"))


MAX_WORDS = 200  # keywords or places of one department


def _word_list(f: str, where: str, raw: Any, c: _Collector) -> tuple[str, ...]:
    """A list of words or names (one line each, 40 characters at most, no duplicates)."""
    if not isinstance(raw, list):
        c.add(f, where, "must be a list of words")
        return ()
    if len(raw) > MAX_WORDS:
        c.add(f, where, f"{len(raw)} entries; {MAX_WORDS} at most")
    words: list[str] = []
    for word in raw[:MAX_WORDS]:
        if not _one_line(word, 40):
            c.add(f, where, f"{_shown(word)} is not a word of one line (40 characters at most)")
        elif word.strip() in words:
            c.add(f, where, f"{_shown(word)} is listed twice")
        else:
            words.append(word.strip())
    return tuple(words)


def _departments(
    path: Path, raw: Any, skills: Mapping[str, Skill], languages: tuple[str, ...], c: _Collector
) -> dict[str, Department]:
    """``departments.yaml``: who cases are dispatched to (a missing file: none)."""
    f = str(path)
    if raw is None:
        return {}
    items = raw.get("departments") if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        c.add(f, "departments", "must be a list")
        return {}
    departments: dict[str, Department] = {}
    for i, item in enumerate(items):
        where = f"departments[{i}]"
        if not isinstance(item, Mapping):
            c.add(f, where, "must be a mapping")
            continue
        did = item.get("id")
        if not isinstance(did, str) or not DEPARTMENT_ID.match(did):
            c.add(f, f"{where}.id", f"lower-case letters, digits, _ and - (got {_shown(did)})")
            continue
        where = f"departments[{did}]"
        if did in departments:
            c.add(f, f"{where}.id", "duplicate department id")
        kind = item.get("kind", "department")
        if kind not in DEPARTMENT_KINDS:
            c.add(f, f"{where}.kind", f"one of {', '.join(DEPARTMENT_KINDS)} (got {_shown(kind)})")
            kind = "department"
        names = item.get("names")
        if not isinstance(names, Mapping):
            c.add(f, f"{where}.names", "must map language to name")
            names = {}
        for code in languages:
            if not _one_line(names.get(code)):
                c.add(f, f"{where}.names.{code}", "missing name for an enabled language")
        categories = item.get("categories")
        if not isinstance(categories, list) or not categories:
            c.add(f, f"{where}.categories", "must list at least one case category")
            categories = []
        for category in categories:
            if skills and category not in skills:
                c.add(f, f"{where}.categories", f"{_shown(category)} is not a skill of skills.yaml")
        contacts = item.get("contacts", {})
        if not isinstance(contacts, Mapping):
            c.add(f, f"{where}.contacts", "must map a kind of contact to one line")
            contacts = {}
        for key, value in contacts.items():
            if not _one_line(str(key), 40) or not _one_line(value):
                c.add(f, f"{where}.contacts.{key}", "must be one line of text (200 at most)")
        words = {key: _word_list(f, f"{where}.{key}", item.get(key, []), c)
                 for key in ("keywords", "places")}
        if words["places"] and kind != "street":
            c.add(f, f"{where}.places", "only a street or town has places")
        departments[did] = Department(
            did, str(kind), {str(k): str(v) for k, v in names.items()},
            tuple(str(x) for x in categories),
            {str(k): str(v) for k, v in contacts.items()},
            keywords=words["keywords"], places=words["places"],
        )
    return departments


def _deadline(f: str, where: str, raw: Any, c: _Collector) -> Deadline | None:
    if not isinstance(raw, Mapping):
        c.add(f, where, "must be a mapping with respond_hours and resolve_working_days "
                        "(or resolve_hours)")
        return None
    respond = raw.get("respond_hours")
    days = raw.get("resolve_working_days", 0)
    hours = raw.get("resolve_hours", 0)
    ok = True
    for key, value, most in (("respond_hours", respond, 24 * 30),
                             ("resolve_hours", hours, 24 * 365),
                             ("resolve_working_days", days, 365)):
        if (not isinstance(value, int | float) or isinstance(value, bool)
                or not 0 <= value <= most or (key == "respond_hours" and value == 0)):
            c.add(f, f"{where}.{key}", f"must be a number from 0 to {most} (got {_shown(value)})")
            ok = False
    if ok and not days and not hours:
        c.add(f, where, "needs resolve_working_days or resolve_hours")
        ok = False
    if ok and not isinstance(days, int):
        c.add(f, f"{where}.resolve_working_days", "must be a whole number of days")
        ok = False
    return Deadline(float(respond), int(days), float(hours)) if ok else None  # type: ignore[arg-type]


def _deadlines(
    path: Path, raw: Any, skills: Mapping[str, Skill], schedules: Schedules, c: _Collector
) -> DeadlinePolicy:
    """``deadlines.yaml``: how long departments have (a missing file: the defaults)."""
    f = str(path)
    if raw is None:
        return DeadlinePolicy()
    if not isinstance(raw, Mapping):
        c.add(f, "-", "must be a mapping (defaults, categories, holidays, ...)")
        return DeadlinePolicy()
    defaults: dict[str, Deadline] = dict(DeadlinePolicy().defaults)
    given = raw.get("defaults", {})
    if not isinstance(given, Mapping):
        c.add(f, "defaults", "must map urgency to a deadline")
        given = {}
    for urgency, item in given.items():
        if urgency not in URGENCIES:
            c.add(f, f"defaults.{urgency}", f"urgency must be one of {', '.join(URGENCIES)}")
            continue
        rule = _deadline(f, f"defaults.{urgency}", item, c)
        if rule is not None:
            defaults[urgency] = rule
    categories: dict[str, dict[str, Deadline]] = {}
    per_category = raw.get("categories", {}) or {}
    if not isinstance(per_category, Mapping):
        c.add(f, "categories", "must map a category to deadlines per urgency")
        per_category = {}
    for category, rules in per_category.items():
        if skills and category not in skills:
            c.add(f, f"categories.{category}", "not a skill of skills.yaml")
        if not isinstance(rules, Mapping):
            c.add(f, f"categories.{category}", "must map urgency to a deadline")
            continue
        for urgency, item in rules.items():
            if urgency not in URGENCIES:
                c.add(f, f"categories.{category}.{urgency}",
                      f"urgency must be one of {', '.join(URGENCIES)}")
                continue
            rule = _deadline(f, f"categories.{category}.{urgency}", item, c)
            if rule is not None:
                categories.setdefault(str(category), {})[urgency] = rule
    holidays: frozenset[date] = frozenset()
    calendar_name = raw.get("holidays")
    if calendar_name is not None:
        if calendar_name not in schedules.calendars:
            c.add(f, "holidays", f"{_shown(calendar_name)} is not a calendar of schedules.yaml")
        else:
            holidays = schedules.calendars[calendar_name]
    make_up = raw.get("make_up_working_days", []) or []
    if not isinstance(make_up, list) or not all(isinstance(d, date) for d in make_up):
        c.add(f, "make_up_working_days", "must be a list of dates (YYYY-MM-DD)")
        make_up = []
    for day in make_up:
        if day.weekday() < 5:
            c.add(f, "make_up_working_days", f"{day} is a weekday (a make-up day is a "
                                             "Saturday or Sunday worked)")
        if day in holidays:
            c.add(f, "make_up_working_days", f"{day} is also a holiday")
    share = raw.get("nearly_due_share", 0.2)
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share < 1:
        c.add(f, "nearly_due_share", f"must be from 0 to below 1 (got {_shown(share)})")
        share = 0.2
    escalate = raw.get("escalate_after_hours", 0)
    if not isinstance(escalate, int | float) or isinstance(escalate, bool) or escalate < 0:
        c.add(f, "escalate_after_hours", f"must be 0 or more hours (got {_shown(escalate)})")
        escalate = 0
    return DeadlinePolicy(defaults, categories, WorkingCalendar(holidays, frozenset(make_up)),
                          float(share), float(escalate))


def _quality(path: Path, raw: Any, languages: tuple[str, ...], c: _Collector) -> Checklist:
    """``quality.yaml``: the review checklist (a missing file: none, reviews refused)."""
    f = str(path)
    if raw is None:
        return Checklist()
    if not isinstance(raw, Mapping):
        c.add(f, "-", "must be a mapping (pass_percent, items)")
        return Checklist()
    mark = raw.get("pass_percent", Checklist().pass_percent)
    if not isinstance(mark, int | float) or isinstance(mark, bool) or not 0 <= mark <= 100:
        c.add(f, "pass_percent", f"must be a number from 0 to 100 (got {_shown(mark)})")
        mark = Checklist().pass_percent
    entries = raw.get("items")
    if not isinstance(entries, list) or not entries:
        c.add(f, "items", "must be a non-empty list of checklist items")
        return Checklist()
    if len(entries) > MAX_ITEMS:
        c.add(f, "items", f"{len(entries)} items; {MAX_ITEMS} at most")
    items: list[ChecklistItem] = []
    for i, entry in enumerate(entries[:MAX_ITEMS]):
        where = f"items[{i}]"
        if not isinstance(entry, Mapping):
            c.add(f, where, "must be a mapping (id, names, points)")
            continue
        item_id = entry.get("id")
        if not isinstance(item_id, str) or not SKILL_ID.match(item_id):
            c.add(f, f"{where}.id", f"lower-case letters, digits and _ (got {_shown(item_id)})")
            continue
        where = f"items[{item_id}]"
        if any(item.id == item_id for item in items):
            c.add(f, f"{where}.id", "duplicate item id")
        names = _names(entry.get("names"), languages, c, f, where)
        points = entry.get("points", 1)
        if not isinstance(points, int) or isinstance(points, bool) \
                or not 1 <= points <= MAX_POINTS:
            c.add(f, f"{where}.points", f"must be a whole number from 1 to {MAX_POINTS} "
                                        f"(got {_shown(points)})")
            points = 1
        items.append(ChecklistItem(item_id, {str(k): str(v) for k, v in names.items()},
                                   points))
    return Checklist(tuple(items), float(mark))


def _operators(
    path: Path, raw: Any, skills: Mapping[str, Skill], languages: tuple[str, ...], c: _Collector
) -> dict[str, Operator]:
    f = str(path)
    items = raw.get("operators") if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        if raw is not None:
            c.add(f, "operators", "must be a list")
        return {}
    operators: dict[str, Operator] = {}
    contacts: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"operators[{i}]"
        if not isinstance(item, Mapping):
            c.add(f, where, "must be a mapping")
            continue
        oid = item.get("id")
        if not isinstance(oid, str) or not OPERATOR_ID.match(oid):
            c.add(f, f"{where}.id", f"letters, digits, _ and - (got {oid!r})")
            continue
        where = f"operators[{oid}]"
        if oid in operators:
            c.add(f, f"{where}.id", "duplicate operator id")
        name = item.get("name")
        problem = _label_problem(name)
        if problem or not isinstance(name, str):
            c.add(f, f"{where}.name", problem or "required")
            name = oid
        endpoint = item.get("endpoint", oid)
        if not isinstance(endpoint, str) or not OPERATOR_ID.match(endpoint):
            c.add(f, f"{where}.endpoint", f"letters, digits, _ and - (got {endpoint!r})")
            endpoint = oid
        contact = item.get("contact")
        if not isinstance(contact, str) or not SIP_CONTACT.match(contact):
            c.add(f, f"{where}.contact", f"must look like sip:user@host:port (got {contact!r})")
            contact = ""
        elif contact in contacts:
            c.add(f, f"{where}.contact", f"same contact as operator {contacts[contact]}")
        else:
            contacts[contact] = oid
        langs = item.get("languages", list(languages))
        if not isinstance(langs, list) or not langs:
            c.add(f, f"{where}.languages", "must be a non-empty list")
            langs = []
        for code in langs:
            if code not in languages:
                c.add(f, f"{where}.languages", f"{code!r} is not an enabled language")
        levels = item.get("skills")
        if not isinstance(levels, Mapping) or not levels:
            c.add(f, f"{where}.skills", "must map at least one skill to a level 1-5")
            levels = {}
        for sid, level in levels.items():
            if skills and sid not in skills:
                c.add(f, f"{where}.skills.{sid}", "unknown skill (not in skills.yaml)")
            if not isinstance(level, int) or isinstance(level, bool) or not (
                MIN_LEVEL <= level <= MAX_LEVEL
            ):
                c.add(f, f"{where}.skills.{sid}", f"level must be 1-5, got {level!r}")
        operators[oid] = Operator(
            oid, name, endpoint, contact, tuple(langs),
            {k: v for k, v in levels.items() if isinstance(v, int)},
        )
    return operators


def _resolve_intents(speech: SpeechSettings, project_dir: Path) -> SpeechSettings:
    if speech.intents.is_absolute():
        return speech
    return dataclasses.replace(speech, intents=project_dir / speech.intents)


SECRET_ENV: Mapping[str, str] = {"ami_secret": "IVR_AMI_SECRET", "agi_secret": "IVR_AGI_SECRET"}
"""Each generated secret, by its key in ``secrets.json``, and the variable that overrides it."""


def _stored_secrets(state_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((state_dir / "secrets.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and v}


def ensure_secrets(state_dir: Path) -> dict[str, str]:
    """Every secret, the missing ones generated now into ``secrets.json`` (mode 0600 from its
    creation, outside the repository; an older file gains the new keys, keeping its own)."""
    stored = _stored_secrets(state_dir)
    missing = [key for key in SECRET_ENV if not stored.get(key)]
    if missing:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        stored.update({key: secrets.token_urlsafe(24) for key in missing})
        path = state_dir / "secrets.json"
        partial = path.with_name(f".secrets.json.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)  # a leftover partial file may have had any mode
            json.dump(stored, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    return {key: os.environ.get(env) or stored[key] for key, env in SECRET_ENV.items()}


def load(config_dir: Path | None = None, *, project_dir: Path = PROJECT_DIR) -> Settings:
    """Load ivr.toml, routing.toml, skills.yaml, operators.yaml, departments.yaml,
    schedules.yaml, deadlines.yaml and quality.yaml; one ConfigError lists every problem."""
    config_dir = config_dir or Path(os.environ.get("IVR_CONFIG_DIR", project_dir / "config"))
    c = _Collector()
    services_path = config_dir / "ivr.toml"
    raw_services = _read_toml(services_path, c)
    svc = _services(services_path, raw_services, c)
    routing_path = config_dir / "routing.toml"
    raw_routing = _read_toml(routing_path, c)
    routing = _routing(str(routing_path), c.section(str(routing_path), raw_routing, "routing"),
                       c)
    c.unknown(str(services_path), shapes.IvrToml, raw_services,
              explained=("routing", "agi.secret", "ami.secret"))
    c.unknown(str(routing_path), shapes.RoutingToml, raw_routing)
    skills_path = config_dir / "skills.yaml"
    operators_path = config_dir / "operators.yaml"
    departments_path = config_dir / "departments.yaml"
    schedules_path = config_dir / "schedules.yaml"
    deadlines_path = config_dir / "deadlines.yaml"
    quality_path = config_dir / "quality.yaml"
    raw_skills = _read_yaml(skills_path, c)
    raw_operators = _read_yaml(operators_path, c)
    raw_departments = _read_yaml_optional(departments_path, c)
    raw_schedules = _read_yaml(schedules_path, c)
    raw_deadlines = _read_yaml_optional(deadlines_path, c)
    raw_quality = _read_yaml_optional(quality_path, c)
    for path, raw in ((skills_path, raw_skills), (operators_path, raw_operators),
                      (departments_path, raw_departments), (schedules_path, raw_schedules),
                      (deadlines_path, raw_deadlines), (quality_path, raw_quality)):
        if raw is not None:
            c.unknown(str(path), shapes.FILES[path.name], raw,
                      explained=c.anchor_keys.get(str(path), ()))
    skills = _skills(skills_path, raw_skills, svc["languages"], c)
    operators = _operators(operators_path, raw_operators, skills, svc["languages"], c)
    departments = _departments(departments_path, raw_departments, skills, svc["languages"], c)
    try:
        schedules, schedule_problems = parse_schedules(raw_schedules, str(schedules_path))
    except (AttributeError, TypeError, ValueError) as exc:
        # ivr.core.schedules expects mappings and lists where the file may have anything else.
        schedules, schedule_problems = Schedules(), [ConfigProblem(
            str(schedules_path), "-", f"calendars, schedules, hours and closed_on must be "
            f"mappings or lists as documented ({type(exc).__name__}: {exc})",
        )]
    c.problems += schedule_problems
    deadlines = _deadlines(deadlines_path, raw_deadlines, skills, schedules, c)
    quality = _quality(quality_path, raw_quality, svc["languages"], c)
    general = svc["menu"].general_queue
    if skills and general not in skills:
        c.add(str(services_path), "menu.general_queue", f"{general!r} is not a skill")
    database_url = os.environ.get("IVR_DATABASE_URL") or svc["database_url"]
    if svc["agi"].workers > 1 and not database_url.startswith("postgresql"):
        c.add(str(services_path), "agi.workers",
              f"{svc['agi'].workers} worker processes share their state through PostgreSQL "
              "([database] url or IVR_DATABASE_URL); SQLite serves one process: set "
              "workers = 1 or point the database at PostgreSQL")
    if c.problems:
        raise ConfigError(c.problems)

    state_dir = Path(os.environ.get("IVR_STATE_DIR") or svc["state_dir"] or default_state_dir())
    prompts_dir = Path(svc["prompts"])
    if not prompts_dir.is_absolute():
        prompts_dir = project_dir / prompts_dir
    ami: AmiSettings = svc["ami"]
    # Generated here, before anything is configured with it: whichever command a new user
    # runs first (`make run`, `ivr serve`, `ivr sandbox up`...), Asterisk's manager.conf and
    # the application's AMI login are made from the same secret.
    try:
        generated = ensure_secrets(state_dir)
    except OSError as exc:
        raise ConfigError([ConfigProblem(
            str(services_path), "paths.state_dir",
            f"cannot create the state directory or its secrets file in {state_dir}: {exc}",
        )]) from exc
    if not AGI_SECRET.fullmatch(generated["agi_secret"]):
        # It is written into the dialplan's AGI URL: only characters that need no escaping.
        raise ConfigError([ConfigProblem(
            "IVR_AGI_SECRET", "-", "must be at least 16 characters from A-Z a-z 0-9 _ -",
        )])
    ami = dataclasses.replace(ami, secret=generated["ami_secret"])
    agi = dataclasses.replace(svc["agi"], secret=generated["agi_secret"])
    flow_path = Path(svc["flow_main"])
    if not flow_path.is_absolute():
        flow_path = project_dir / flow_path
    return Settings(
        project_dir=project_dir,
        web_host=svc["web_host"],
        web_port=svc["web_port"],
        web_secure_cookies=svc["web_secure_cookies"],
        web_max_connections=svc["web_max_connections"],
        web_idle_timeout=svc["web_idle_timeout"],
        timezone=svc["timezone"],
        flow_path=flow_path,
        flow_reload_interval=svc["reload_interval"],
        schedules=schedules,
        state_dir=state_dir,
        prompts_dir=prompts_dir,
        asterisk_sounds=Path(svc["asterisk_sounds"]) if svc["asterisk_sounds"] else None,
        asterisk_queue_log=Path(svc["queue_log"]) if svc["queue_log"] else None,
        database_url=database_url,
        default_language=svc["default_language"],
        languages=svc["languages"],
        agi=agi,
        ami=ami,
        sip=svc["sip"],
        menu=svc["menu"],
        callbacks=svc["callbacks"],
        visits=svc["visits"],
        surges=svc["surges"],
        privacy_keep_days=svc["keep_days"],
        recordings=svc["recordings"],
        speech=_resolve_intents(svc["speech"], project_dir),
        sandbox=svc["sandbox"],
        skills=skills,
        operators=operators,
        routing=routing,
        departments=departments,
        deadlines=deadlines,
        quality=quality,
    )

"""Settings: a tmp copy of ``config/`` with broken values -> one ConfigError naming every problem.

Whatever is written in the files (wrong types, garbage, values no parser can hold, hostile
text), ``settings.load`` either loads or raises ``ConfigError``; no other exception escapes,
and all problems of all files come back together.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ivr import settings
from ivr.core.settings import ServiceLevel
from ivr.errors import ConfigError
from tests.badinput.corpus import CALLER_TEXT

CONFIG = Path(__file__).resolve().parents[2] / "config"

# (file, text to find, replacement, what the problem must say: "key: reason" fragment)
BROKEN = [
    pytest.param("ivr.toml", "ping_interval = 5.0", "ping_intervall = 5.0",
                 "ami.ping_intervall: unknown key; did you mean 'ping_interval'?",
                 id="misspelt_key"),
    pytest.param("ivr.toml", "[service]", "[speach]\nworkers = 2\n\n[service]",
                 "speach: unknown table; did you mean 'speech'?", id="misspelt_table"),
    pytest.param("ivr.toml", "[agi]", "[agi]\nsecret_sauce = 1",
                 "agi.secret_sauce: unknown key", id="key_that_does_not_exist"),
    pytest.param("ivr.toml", "handshake_timeout = 5.0", "handshake_timeout = nan",
                 "agi.handshake_timeout: must be a finite number", id="nan_timeout"),
    pytest.param("ivr.toml", "command_timeout = 60.0", "command_timeout = inf",
                 "agi.command_timeout: must be a finite number", id="infinite_timeout"),
    pytest.param("ivr.toml", "action_timeout = 5.0", "action_timeout = -inf",
                 "ami.action_timeout: must be a finite number", id="minus_infinite"),
    pytest.param("ivr.toml", "reconnect_max = 10.0", "reconnect_max = 1" + "0" * 400,
                 "ami.reconnect_max: must be float", id="float_beyond_double"),
    pytest.param("ivr.toml", "port = 4573", "port = " + "9" * 5000,
                 "not valid TOML", id="integer_of_5000_digits"),
    pytest.param("ivr.toml", "port = 4573", "port = 4573.5", "agi.port: must be int",
                 id="fractional_port"),
    pytest.param("ivr.toml", "port = 4573", "port = true", "agi.port: must be int",
                 id="boolean_port"),
    pytest.param("ivr.toml", "port = 4573", 'port = "4573"', "agi.port: must be int",
                 id="string_port"),
    pytest.param("ivr.toml", "port = 4573", "port = -1", "agi.port: must be a TCP/UDP port",
                 id="negative_port"),
    pytest.param("ivr.toml", 'enabled = ["zh", "en"]', 'enabled = [{ a = 1 }, ["x"], "zh", "en"]',
                 "languages.enabled: not a language code", id="languages_not_strings"),
    pytest.param("ivr.toml", 'grammar_only = ["ko"]', 'grammar_only = [1, "../ko"]',
                 "speech.grammar_only: not a language code", id="grammar_only_garbage"),
    pytest.param("ivr.toml", 'allowed_peers = ["127.0.0.1"]', 'allowed_peers = ["127.0.0.1;rm"]',
                 "agi.allowed_peers: not an IP address", id="peer_injection"),
    pytest.param("ivr.toml", 'timezone = "Asia/Shanghai"', 'timezone = "../../etc/passwd"',
                 "service.timezone: unknown time zone", id="timezone_path"),
    pytest.param("ivr.toml", 'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai\\u0000"',
                 "service.timezone: unknown time zone", id="timezone_nul"),
    pytest.param("ivr.toml", 'username = "ivr"', 'username = "ivr\\r\\nAction: Logoff"',
                 "ami.username: letters, digits", id="ami_username_crlf"),
    pytest.param("ivr.toml", 'service_number = "12345"', 'service_number = "12345;1"',
                 "sip.service_number: must be digits", id="service_number_semicolon"),
    pytest.param("ivr.toml", "[service]", "x = " + "[" * 3000 + "]" * 3000 + "\n[service]",
                 "not valid TOML: nested too deeply", id="toml_nested_too_deep"),
    pytest.param("ivr.toml", "[agi]", "[agi]\x00", "not valid TOML", id="toml_nul_byte"),
    pytest.param("skills.yaml", "skills:", "x: " + "[" * 3000 + "]" * 3000 + "\nskills:",
                 "not valid YAML: nested too deeply", id="yaml_nested_too_deep"),
    pytest.param("skills.yaml", "percent: 80", "percent: " + "9" * 5000,
                 "not valid YAML", id="yaml_integer_of_5000_digits"),
    pytest.param("skills.yaml", "skills:", "skills:\n\t- id: x", "not valid YAML",
                 id="yaml_tab"),
    pytest.param("skills.yaml", "skills:", "x: !!python/object/apply:os.system [id]\nskills:",
                 "not valid YAML", id="yaml_python_tag"),
    pytest.param("skills.yaml", "percent: 80", "percent: '80'",
                 "service_level.percent: must be 1-100", id="percent_as_text"),
    pytest.param("skills.yaml", "id: inquiry", "id: 'inquiry; DROP TABLE'",
                 "skills[2].id: lower-case letters", id="skill_id_sql"),
    pytest.param("operators.yaml", "name: Wang Fang", 'name: "Wang\\u0000Fang"',
                 "operators[op1001].name: one line, without control characters",
                 id="operator_name_nul"),
    pytest.param("operators.yaml", "skills: {report: 5, suggestion: 3}",
                 "skills: {report: 5.5, suggestion: true}", "level must be 1-5",
                 id="levels_wrong_types"),
    pytest.param("operators.yaml", "languages: [zh, en]", "languages: [{a: 1}]",
                 "is not an enabled language", id="operator_language_mapping"),
    pytest.param("schedules.yaml", "- 2026-01-01", "- 2026-02-31", "not valid YAML",
                 id="impossible_date"),
    pytest.param("skills.yaml", "skills:", "skills: []\nskills:", "key 'skills' given twice",
                 id="duplicate_top_level_key"),
    pytest.param("operators.yaml", "skills: {report: 5, suggestion: 3}",
                 "skills: {report: 5, report: 1}", "key 'report' given twice",
                 id="duplicate_skill_level"),
    pytest.param("schedules.yaml", "calendars:", "calendars: [1, 2]\nold_calendars:",
                 "calendars, schedules, hours and closed_on must be", id="calendars_list"),
    pytest.param("schedules.yaml", "closed_on: [cn_public_holidays]", "closed_on: 5",
                 "calendars, schedules, hours and closed_on must be", id="closed_on_number"),
]


def broken_copy(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Path:
    """A copy of the shipped config/ with ``old`` replaced by ``new`` in the named files."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    for name, old, new in edits:
        path = target / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def problems_of(config: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(("file", "old", "new", "says"), BROKEN)
def test_each_broken_value_is_a_config_error(
    tmp_path: Path, file: str, old: str, new: str, says: str
) -> None:
    """A broken value is one named problem in a ConfigError, never another exception."""
    problems = problems_of(broken_copy(tmp_path, [(file, old, new)]))
    assert any(file in p and says in p for p in problems), problems
    assert all(len(p) < 1000 for p in problems)  # a 5000-digit value is not echoed whole


def test_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    """All the breakages together: one ConfigError that names each of them."""
    edits, expected = [], []
    seen: set[tuple[str, str]] = set()
    for param in BROKEN:
        file, old, new, says = param.values
        assert isinstance(file, str)
        assert isinstance(old, str)
        assert isinstance(new, str)
        assert isinstance(says, str)
        if (file, old) in seen or "not valid" in says or "given twice" in says:
            continue  # one edit per spot; a file that does not parse hides its other problems
        if file == "schedules.yaml":
            continue  # its structure errors stop that file's own checks
        seen.add((file, old))
        edits.append((file, old, new))
        expected.append((file, says))
    problems = problems_of(broken_copy(tmp_path, edits))
    for file, says in expected:
        assert any(file in p and says in p for p in problems), (file, says, problems)


@pytest.mark.parametrize("value", CALLER_TEXT)
def test_hostile_text_in_string_settings(tmp_path: Path, value: str) -> None:
    """Hostile text where settings expect a name, a zone or a number: loaded or ConfigError."""
    quoted = json.dumps(value)  # a TOML basic string and a YAML double-quoted scalar alike
    config = broken_copy(tmp_path, [
        ("ivr.toml", 'timezone = "Asia/Shanghai"', f"timezone = {quoted}"),
        ("ivr.toml", 'service_number = "12345"', f"service_number = {quoted}"),
        ("ivr.toml", 'general_queue = "hotline"', f"general_queue = {quoted}"),
        ("operators.yaml", "name: Wang Fang", f"name: {quoted}"),
        ("skills.yaml", "department: Complaints Office", f"department: {quoted}"),
    ])
    problems = problems_of(config)
    assert problems
    assert all("\n" not in p.split(": ", 2)[1] for p in problems if p.count(": ") >= 2)


def test_yaml_merge_keys_still_load(tmp_path: Path) -> None:
    """Refusing duplicate keys does not refuse a merge (``<<``) that an explicit key overrides."""
    config = broken_copy(tmp_path, [(
        "skills.yaml", "skills:",
        "defaults: &sl {percent: 80, seconds: 20}\nskills:",
    ), (
        "skills.yaml", "service_level: {percent: 80, seconds: 20}",
        "service_level: {<<: *sl, seconds: 25}",
    )])
    loaded = settings.load(config)
    assert loaded.skills["hotline"].service_level == ServiceLevel(80, 25)


def test_binary_junk_in_every_file(tmp_path: Path) -> None:
    """Four files of binary junk: four problems, one per file, in one error."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    for name in ("ivr.toml", "skills.yaml", "operators.yaml", "schedules.yaml"):
        (target / name).write_bytes(b"\xff\xfe\x00\x01junk\x80" * 100)
    problems = problems_of(target)
    for name in ("ivr.toml", "skills.yaml", "operators.yaml", "schedules.yaml"):
        assert any(name in p and "not valid" in p for p in problems), (name, problems)

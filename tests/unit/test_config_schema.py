"""The configuration files' shapes: an unknown key in any file is refused with its path and
the nearest name; the JSON Schemas shipped for editors are the shapes' own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ivr import settings
from ivr.configuration import shapes
from ivr.edges import schema
from ivr.errors import ConfigError
from ivr.speech.intents_file import load_intents

CONFIG = Path(__file__).resolve().parents[2] / "config"


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    text = (target / name).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    (target / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


@pytest.mark.parametrize(("file", "old", "new", "problem"), [
    ("ivr.toml", "ping_interval = 5.0", "ping_intervall = 5.0",
     "ami.ping_intervall: unknown key; did you mean 'ping_interval'?"),
    ("ivr.toml", "[speech]", "[speach]",
     "speach: unknown table; did you mean 'speech'?"),
    ("routing.toml", "elderly_bonus = 1 ", "elderly_bonu = 1 ",
     "routing.elderly_bonu: unknown key; did you mean 'elderly_bonus'?"),
    ("skills.yaml", "service_level: {percent: 80, seconds: 20}",
     "servce_level: {percent: 80, seconds: 20}",
     "skills[hotline].servce_level: unknown table; did you mean 'service_level'?"),
    ("operators.yaml", "    endpoint: op1001", "    endpont: op1001",
     "operators[op1001].endpont: unknown key; did you mean 'endpoint'?"),
    ("departments.yaml", "    kind: department", "    knd: department",
     "departments[ecology].knd: unknown key; did you mean 'kind'?"),
    ("schedules.yaml", "    description: Housing bureau duty desk",
     "    descripton: Housing bureau duty desk",
     "schedules.housing_bureau.descripton: unknown key; did you mean 'description'?"),
    ("deadlines.yaml", "urgent: {respond_hours: 2, resolve_hours: 24}",
     "urgent: {respond_hour: 2, respond_hours: 2, resolve_hours: 24}",
     "defaults.urgent.respond_hour: unknown key; did you mean 'respond_hours'?"),
    ("quality.yaml", "    points: 10\n  - id: listening", "    pionts: 10\n  - id: listening",
     "items[greeting].pionts: unknown key; did you mean 'points'?"),
])
def test_an_unknown_key_in_each_file_is_refused_with_a_hint(
    tmp_path: Path, file: str, old: str, new: str, problem: str
) -> None:
    """A typo is an error naming the file, the key's path and the name meant, never a
    setting silently left at its default."""
    with pytest.raises(ConfigError) as info:
        settings.load(broken_copy(tmp_path, file, old, new))
    found = [f"{p.key}: {p.reason}" for p in info.value.problems if p.file.endswith(file)]
    assert problem in found, info.value


def test_every_unknown_key_is_reported_at_once(tmp_path: Path) -> None:
    config = broken_copy(tmp_path, "ivr.toml", "ping_interval = 5.0", "ping_intervall = 5.0")
    text = (config / "operators.yaml").read_text(encoding="utf-8")
    (config / "operators.yaml").write_text(text.replace("    endpoint: op1001", "    ep: x"))
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    assert sorted(p.key for p in info.value.problems) == [
        "ami.ping_intervall", "operators[op1001].ep"]


def _parsed(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    return tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)


@pytest.mark.parametrize("file", sorted(shapes.FILES))
def test_every_shipped_file_has_its_shape(file: str) -> None:
    """Each shipped file validates against its whole shape (types, ranges, patterns), the
    one its JSON Schema is written from (jsonschema is not a dependency: the models check)."""
    assert schema.check(shapes.FILES[file], _parsed(CONFIG / file), file) == []


def test_the_shipped_schemas_are_the_shapes_own(tmp_path: Path) -> None:
    """config/schema/*.json is what `ivr config schema` writes now: an edit of a shape
    without regenerating them fails here."""
    done = subprocess.run([sys.executable, "-m", "ivr", "config", "schema", str(tmp_path)],
                          capture_output=True, text=True, check=True)
    assert "wrote" in done.stdout
    written = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    shipped = {p.name: p.read_text(encoding="utf-8")
               for p in (CONFIG / "schema").glob("*.json")}
    assert written == shipped
    assert set(written) == {f"{f}.schema.json" for f in shapes.FILES}


def test_a_schema_refuses_what_the_loader_refuses() -> None:
    """The JSON Schema says what an editor should flag: no unknown keys, typed values."""
    document = json.loads((CONFIG / "schema" / "ivr.toml.schema.json").read_text())
    assert document["additionalProperties"] is False
    ami = document["$defs"]["Ami"]
    assert ami["additionalProperties"] is False
    assert ami["properties"]["ping_interval"] == {
        "default": 5.0, "title": "Ping Interval", "type": "number"}
    bad = {"ami": {"port": "5038", "ping_intervall": 5}}
    assert [f"{p.key}: {p.reason}" for p in schema.check(shapes.IvrToml, bad, "ivr.toml")] == [
        "ami.port: must be int, got '5038'",
        "ami.ping_intervall: unknown key; did you mean 'ping_interval'?"]


def test_an_unknown_key_in_the_intents_file_is_refused_with_a_hint(tmp_path: Path) -> None:
    """intents.yaml too: a misspelt ``urgency`` would otherwise silently drop an emergency
    cue; reported with what the catalog itself finds wrong, every problem at once."""
    text = (CONFIG / "intents.yaml").read_text(encoding="utf-8")
    old = "{skill: utilities, category: gas_leak, urgency: emergency,"
    assert old in text
    broken = tmp_path / "intents.yaml"
    broken.write_text(text.replace(old, old.replace("urgency", "urgncy"), 1)
                      .replace("    matching: words", "    matching: wrds", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_intents(broken)
    found = {f"{p.key}: {p.reason}" for p in info.value.problems}
    assert "languages.zh.intents[0].urgncy: unknown key; did you mean 'urgency'?" in found
    assert "languages.en.matching: must be 'characters' or 'words'" in found

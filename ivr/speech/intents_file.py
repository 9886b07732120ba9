"""Reading ``config/intents.yaml`` into the core's ``IntentCatalog``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from ivr.configuration.shapes import IntentsYaml
from ivr.core.intents import IntentCatalog
from ivr.edges import schema
from ivr.errors import ConfigError, ConfigProblem


def load_intents(path: Path, known_skills: Iterable[str] | None = None) -> IntentCatalog:
    """Read and validate ``config/intents.yaml`` (blocking: call at start-up or in a thread)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([ConfigProblem(str(path), "(file)", str(exc))]) from exc
    # Keys the file may not have (a typo: "did you mean"), with what the catalog finds wrong.
    unknown = schema.problems(IntentsYaml, data, str(path), unknown_only=True)
    try:
        catalog = IntentCatalog.from_mapping(data, str(path), known_skills)
    except ConfigError as exc:
        said = {p.key for p in exc.problems}
        raise ConfigError([*exc.problems, *(p for p in unknown if p.key not in said)]) from exc
    if unknown:
        raise ConfigError(unknown)
    return catalog

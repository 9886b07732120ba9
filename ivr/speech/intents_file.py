"""Reading ``config/intents.yaml`` into the core's ``IntentCatalog``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from ivr.core.intents import IntentCatalog
from ivr.errors import ConfigError, ConfigProblem


def load_intents(path: Path, known_skills: Iterable[str] | None = None) -> IntentCatalog:
    """Read and validate ``config/intents.yaml`` (blocking: call at start-up or in a thread)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([ConfigProblem(str(path), "(file)", str(exc))]) from exc
    return IntentCatalog.from_mapping(data, str(path), known_skills)

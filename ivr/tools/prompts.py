"""``ivr prompts build``: synthesise the prompt catalog into the audio Asterisk plays.

Each prompt of ``prompts/catalog.yaml`` becomes ``prompts/audio/<lang>/<name>.wav`` (8 kHz
mono): espeak-ng speaks the text, pydub converts it. A manifest keeps the hash of what each
file was built from, so only missing or changed prompts are synthesised again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ivr.core.flow import ASTERISK_DIGITS_LANGUAGES, asterisk_digits
from ivr.edges.audio import VOICES, speak
from ivr.flows.files import load_catalog


@dataclass(frozen=True, slots=True)
class BuildReport:
    built: tuple[str, ...]
    unchanged: int


def _digest(text: str, language: str) -> str:
    return hashlib.sha256(f"{VOICES.get(language)}\0{text}".encode()).hexdigest()[:16]


def build(prompts_dir: Path, languages: Iterable[str], workers: int = 2) -> BuildReport:
    catalog = load_catalog(prompts_dir / "catalog.yaml")
    audio_dir = prompts_dir / "audio"
    manifest_path = audio_dir / "manifest.json"
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        manifest = {}
    jobs: list[tuple[str, str, str, Path]] = []
    unchanged = 0
    for name in sorted(catalog.prompts):
        for lang in languages:
            if not catalog.has(name, lang):
                continue
            text = catalog.text(name, lang)
            target = audio_dir / lang / f"{name}.wav"
            key = f"{lang}/{name}"
            if manifest.get(key) == _digest(text, lang) and target.exists():
                unchanged += 1
                continue
            jobs.append((key, text, lang, target))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda job: speak(job[1], job[2], job[3]), jobs))
    for key, text, lang, _ in jobs:
        manifest[key] = _digest(text, lang)
    audio_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    for lang in set(languages) & ASTERISK_DIGITS_LANGUAGES:
        asterisk_digit_files(audio_dir / lang)
    return BuildReport(tuple(job[0] for job in jobs), unchanged)


def asterisk_digit_files(lang_dir: Path) -> None:
    """Asterisk's ``digits/`` files for a language it ships none for (app_queue reads a
    waiting caller's place with them): copies of the catalog's number words."""
    for name, prompt in asterisk_digits().items():
        source, target = lang_dir / f"{prompt}.wav", lang_dir / f"{name}.wav"
        if not source.exists():
            continue
        if target.exists() and target.read_bytes() == source.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

